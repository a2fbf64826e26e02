"""Files on disk → normalise → index: the one path by which pages enter the index."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from whoosh.index import Index

from search_service.crawl.files import Page, PageError, check_paths, expand, read_pages
from search_service.index import ArticleWriter
from search_service.normalise import Extraction, normalise

log = logging.getLogger(__name__)


@dataclass
class IngestSummary:
    """What an ingest did: pages seen, indexed (of which near-duplicates of others),
    rejected (by reason) and failed (by origin)."""

    pages: int = 0
    indexed: int = 0
    rejected: Counter = field(default_factory=Counter)
    failed: list[tuple[str, str]] = field(default_factory=list)
    duplicates: int = 0


def extract_pages(
    pages: Iterable[Page | PageError],
) -> Iterator[tuple[Page, Extraction] | PageError]:
    """Normalise each page; a page that breaks the normaliser becomes a PageError."""
    for page in pages:
        if isinstance(page, PageError):
            yield page
            continue
        try:
            yield page, normalise(page.html, page.url, page.fetched_at)
        except Exception as exc:  # one bad page never stops the run
            log.warning("normaliser failed on %s: %s", page.origin, exc)
            yield PageError(page.origin, f"normaliser failed: {exc!r}")


def ingest(
    ix: Index,
    paths: Iterable[str | Path],
    batch: int = 1000,
    on_page: Callable[[], None] | None = None,
    interval: float = 30.0,
    procs: int = 1,
) -> IngestSummary:
    """Index every article found in `paths` (files, directories, WARCs); return a summary.

    Commits every `batch` articles or `interval` seconds; `procs` > 1 indexes each batch
    with that many processes (bulk mode, for large ingests).
    """
    files = expand(check_paths(paths))
    summary = IngestSummary()
    with ArticleWriter(ix, batch=batch, interval=interval, procs=procs) as writer:
        for item in extract_pages(read_pages(files)):
            summary.pages += 1
            if isinstance(item, PageError):
                summary.failed.append((item.origin, item.message))
            else:
                _, extraction = item
                if extraction.rejected:
                    summary.rejected[extraction.rejected.split(" (")[0]] += 1
                else:
                    writer.add(extraction.article)
                    summary.indexed += 1
            if on_page:
                on_page()
    summary.duplicates = writer.duplicates
    return summary
