"""Pages (files, WARC, crawl) → normalise → index: the one path by which pages enter the index."""

from __future__ import annotations

import logging
import shutil
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from search_service.archive.files import (
    InputError,
    Page,
    PageError,
    check_paths,
    expand,
    read_pages,
)
from search_service.archive.warc import archive_files
from search_service.article import Article
from search_service.index import related
from search_service.index.schema import reset_index, swap_in
from search_service.index.writer import BULK_MB, ArticleWriter, optimize
from search_service.normalise import Extraction, normalise
from search_service.urls import host_of

if TYPE_CHECKING:  # an index opened by search_service.index.schema.open_index
    from whoosh.index import Index

log = logging.getLogger(__name__)


@dataclass
class IngestSummary:
    """What an ingest did: pages seen, indexed (of which near-duplicates of others),
    rejected (by reason), failed (by origin) and torn WARC tails skipped (by origin)."""

    pages: int = 0
    indexed: int = 0
    rejected: Counter = field(default_factory=Counter)
    failed: list[tuple[str, str]] = field(default_factory=list)
    duplicates: int = 0
    torn: list[tuple[str, str]] = field(default_factory=list)


@dataclass(frozen=True)
class Collections:
    """Which collections an ingested article joins: `always` (`ingest --collection`), and
    those of the source whose domain holds the article's host (`collections` in a sources
    file)."""

    always: tuple[str, ...] = ()
    by_domain: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def of(self, article: Article) -> tuple[str, ...]:
        """The collections `article` joins (those it has included), in order, once each."""
        names = list(article.collections) + list(self.always)
        host = host_of(article.canonical_url or article.url)
        for domain, found in self.by_domain.items():
            if host == domain or host.endswith("." + domain):
                names.extend(found)
        return tuple(dict.fromkeys(names))

    def apply(self, article: Article) -> Article:
        """Return `article` in its collections."""
        names = self.of(article)
        return article if names == article.collections else replace(article, collections=names)


def extract_pages(
    pages: Iterable[Page | PageError],
) -> Iterator[tuple[Page, Extraction] | PageError]:
    """Normalise each page; a page that breaks the normaliser becomes a PageError."""
    for page in pages:
        yield page if isinstance(page, PageError) else extract_page(page)


def extract_page(page: Page) -> tuple[Page, Extraction] | PageError:
    """Normalise one page (a PageError if it breaks the normaliser); safe in a worker process."""
    try:
        return page, normalise(page.html, page.url, page.fetched_at, date_hint=page.date_hint)
    except Exception as exc:  # one bad page never stops the run
        log.warning("normaliser failed on %s: %s", page.origin, exc)
        return PageError(page.origin, f"normaliser failed: {exc!r}")


def record(writer: ArticleWriter, item: tuple[Page, Extraction] | PageError,
           summary: IngestSummary, collections: Collections | None = None) -> None:
    """Count one extracted page in `summary` and hand its article (if any, put in its
    `collections`) to `writer`."""
    if isinstance(item, PageError) and item.torn:  # a write cut short: not a page
        summary.torn.append((item.origin, item.message))
        return
    summary.pages += 1
    if isinstance(item, PageError):
        summary.failed.append((item.origin, item.message))
        return
    _, extraction = item
    if extraction.rejected:
        summary.rejected[rejection_reason(extraction.rejected)] += 1
    else:
        writer.add(collections.apply(extraction.article) if collections else extraction.article)
        summary.indexed += 1


def rejection_reason(rejected: str) -> str:
    """Return the reason of a rejection without its details ('too little text (65 …)')."""
    return rejected.split(" (")[0]


def index_page(writer: ArticleWriter, page: Page, summary: IngestSummary,
               collections: Collections | None = None) -> Extraction | None:
    """Normalise one page, count it and index its article; return the extraction (None if it
    broke the normaliser)."""
    return index_extracted(writer, extract_page(page), summary, collections)


def index_extracted(writer: ArticleWriter, item: tuple[Page, Extraction] | PageError,
                    summary: IngestSummary,
                    collections: Collections | None = None) -> Extraction | None:
    """Count one page already normalised (by `extract_page`) and index its article; return
    the extraction (None if the normaliser failed)."""
    record(writer, item, summary, collections)
    return None if isinstance(item, PageError) else item[1]


def ingest(
    ix: Index,
    paths: Iterable[str | Path],
    batch: int | None = None,
    on_page: Callable[[], None] | None = None,
    interval: float | None = None,
    procs: int = 1,
    collections: Collections | None = None,
    batch_mb: float = BULK_MB,
    merge: bool = True,
) -> IngestSummary:
    """Index every article found in `paths` (files, directories, WARCs); return a summary.

    A bulk run: commits every `batch_mb` MB of article text (or every `batch` articles or
    `interval` seconds, when given) and merges down to the segment bound once, at the end
    (`merge` False: not at all); `procs` > 1 indexes each batch with that many processes;
    every article joins its `collections`.
    """
    files = expand(check_paths(paths))
    summary = IngestSummary()
    with ArticleWriter(ix, batch=batch, interval=interval, procs=procs, bulk=True,
                       batch_mb=batch_mb, merge=merge) as writer:
        for item in extract_pages(read_pages(files)):
            record(writer, item, summary, collections)
            if on_page:
                on_page()
    summary.duplicates = writer.duplicates
    return summary


def reindex(
    index_dir: Path,
    archive_dir: Path,
    batch: int | None = None,
    on_page: Callable[[], None] | None = None,
    on_stage: Callable[[str], None] | None = None,
    collections: Collections | None = None,
    batch_mb: float = BULK_MB,
) -> IngestSummary:
    """Rebuild the index at `index_dir` from the WARC archive alone (articles joining
    `collections`); return a summary.

    The new index is built beside the old one, which keeps serving until the new one
    replaces it; a failed rebuild leaves the old index as it was. Before the swap the new
    index is merged into one segment (searches over one segment cost about two thirds of
    those over the eight that batched commits leave) and its related-articles file is
    built; `on_stage` hears a line about each of these slow steps.
    """
    files = archive_files(archive_dir)
    if not files:
        raise InputError(f"{archive_dir}: no WARC files in the archive")
    index_dir = Path(index_dir)
    building = index_dir.with_name(index_dir.name + ".reindexing")
    if building.exists():
        shutil.rmtree(building)
    built = reset_index(building)
    summary = ingest(built, files, batch=batch, on_page=on_page, collections=collections,
                     batch_mb=batch_mb, merge=False)  # merged into one below
    if on_stage:
        on_stage("merging the new index into one segment")
    optimize(built, timeout=None)
    if on_stage:
        on_stage("building the related-articles file")
    related.refresh(building, built)  # so the new index serves related articles at once
    swap_in(building, index_dir)
    return summary
