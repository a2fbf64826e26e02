"""Articles a killed crawl archived but did not commit to the index: when the next crawl
starts, they are indexed from the archive instead of being fetched again."""

from __future__ import annotations

import logging
import sys
from collections import Counter
from pathlib import Path

from search_service.archive.files import PageError, read_record
from search_service.archive.state import CrawlState
from search_service.index.schema import open_index
from search_service.index.writer import ArticleWriter
from search_service.ingest import IngestSummary, index_page

log = logging.getLogger(__name__)


def index_pending(index_dir: Path, archive_dir: Path) -> dict[str, Counter]:
    """Index the articles the crawl state lists as archived but not committed, through the
    ingest path, commit, and remember them as fetched; return counters per source
    (`indexed`, `dated`, `recovered`). A record that cannot be read is left to be fetched
    again."""
    state = CrawlState(archive_dir)
    try:
        pending = state.pending()
        if not pending:
            return {}
        counts: dict[str, Counter] = {}
        indexed = []
        summary = IngestSummary()
        with ArticleWriter(open_index(Path(index_dir), create=True), batch=sys.maxsize,
                           interval=float("inf")) as writer:
            for item in pending:
                page = read_record(Path(item.warc), item.offset)
                if isinstance(page, PageError):
                    log.warning("%s: %s; it will be fetched again", page.origin, page.message)
                    state.settled(item.url)
                    continue
                extraction = index_page(writer, page, summary)
                if extraction is None or extraction.rejected:
                    state.settled(item.url)
                    continue
                indexed.append(item)
                source = counts.setdefault(item.source, Counter())
                source.update(["indexed", "recovered"])
                if extraction.article.published is not None:
                    source["dated"] += 1
        for item in indexed:  # committed (the writer's exit): remembered like any article
            state.record(item.url, item.source, item.etag, item.last_modified, item.fetched_at)
            state.settled(item.url)
        log.info("indexed %d articles from the archive (left by a killed crawl)", len(indexed))
        return counts
    finally:
        state.close()
