"""The crawl's item pipeline: archive each fetched article first, then normalise and index it.

Each stage is a small class with one job that builds itself from the crawler's settings.
Indexing goes through `search_service.ingest`, the same path as `news-search ingest`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from scrapy import signals
from scrapy.utils.defer import deferred_from_coro
from twisted.internet import task

from search_service.archive.files import Page
from search_service.archive.state import Archived, CrawlState
from search_service.archive.warc import WarcArchive
from search_service.crawl.spider import FetchedPage, count, parse_w3c_date
from search_service.crawl.workers import commit_in_worker, index_in_worker, indexer_pool
from search_service.index import related
from search_service.index.schema import open_index

log = logging.getLogger(__name__)

#: Sent by IndexPipeline after each index commit, with the items it made searchable.
articles_committed = object()


class ArchivePipeline:
    """Write every fetched article response to the rotating WARC archive, and note in the
    crawl state where it is until its index commit is done."""

    def __init__(self, crawler, directory: Path, rotate_bytes: int, prefix: str = ""):
        self.crawler = crawler
        self.archive = WarcArchive(directory, rotate_bytes=rotate_bytes,
                                   prefix=prefix or "news-search")
        self.state = CrawlState(directory)

    @classmethod
    def from_crawler(cls, crawler) -> ArchivePipeline:
        """Build from the crawler's settings (NEWS_WARC_PREFIX: the WARC file names' start)."""
        settings = crawler.settings
        return cls(crawler, Path(settings["NEWS_ARCHIVE_DIR"]),
                   settings.getint("NEWS_ARCHIVE_ROTATE_BYTES"),
                   settings.get("NEWS_WARC_PREFIX", ""))

    def process_item(self, item: FetchedPage) -> FetchedPage:
        """Write the response to the WARC archive."""
        reason = "OK" if item.status == 200 else ""
        path, offset = self.archive.write_response(
            item.url, item.status, reason, item.headers, item.body, item.fetched_at,
            truncated=item.cut, date_hint=item.date_hint)
        etag, last_modified = validators(item.headers)
        self.state.archived(Archived(item.url, item.source, item.fetched_at.timestamp(), etag,
                                     last_modified, str(path), offset))
        self.crawler.stats.inc_value("news/archived")
        return item

    def close_spider(self) -> None:
        """Close the current WARC file."""
        self.archive.close()
        self.state.close()


class IndexPipeline:
    """Hand each archived page to the indexer process (normalise, then the single writer,
    through the ingest path) and commit every few seconds."""

    def __init__(self, crawler, index_dir: Path, batch: int, commit_seconds: float):
        self.crawler = crawler
        self.index_dir = index_dir
        self.batch = batch
        self.commit_seconds = commit_seconds
        self.pool: ProcessPoolExecutor | None = None
        self.last_commit = time.monotonic()
        self.uncommitted: list[FetchedPage] = []
        self.ticker: task.LoopingCall | None = None
        self.refresher: related.Refresher | None = None
        self.history = CrawlState(Path(crawler.settings["NEWS_ARCHIVE_DIR"]))

    @classmethod
    def from_crawler(cls, crawler) -> IndexPipeline:
        """Build from the crawler's settings."""
        settings = crawler.settings
        return cls(crawler, Path(settings["NEWS_INDEX_DIR"]), settings.getint("NEWS_BATCH"),
                   settings.getfloat("NEWS_COMMIT_SECONDS"))

    def open_spider(self) -> None:
        """Start the indexer process and the commit timer (and, with NEWS_RELATED_EVERY, the
        related-articles sidecar's refresher: `crawl --watch`)."""
        self.pool = indexer_pool(self.index_dir)
        every = self.crawler.settings.getfloat("NEWS_RELATED_EVERY")
        if every > 0:
            self.refresher = related.Refresher(open_index(self.index_dir, create=True), every)
        self.ticker = task.LoopingCall(lambda: deferred_from_coro(self.commit_if_due()))
        self.ticker.start(self.commit_seconds, now=False)

    async def process_item(self, item: FetchedPage) -> FetchedPage:
        """Normalise and index the page in the indexer process; count the outcome."""
        page = Page(url=item.url, html=item.body, fetched_at=item.fetched_at, origin=item.url,
                    date_hint=parse_w3c_date(item.date_hint) if item.date_hint else None)
        source = getattr(self.crawler.spider, "sources", {}).get(item.source)
        outcome, reason, dated = await self.call(index_in_worker, page,
                                                 source.collections if source else ())
        item.outcome = outcome
        if outcome != "indexed":
            self.history.settled(item.url)  # nothing to index from the archive after a kill
        stats = self.crawler.stats
        if outcome == "failed":
            count(stats, item.source, "errors", reason)
        elif outcome == "rejected":
            count(stats, item.source, "rejected", reason)
        else:
            self.uncommitted.append(item)
            count(stats, item.source, "indexed")
            if dated:
                count(stats, item.source, "dated")
        if len(self.uncommitted) >= self.batch:
            await self.commit()
        return item

    async def call(self, function, *args):
        """Run `function(*args)` in the indexer process and wait for its result."""
        assert self.pool is not None
        return await asyncio.wrap_future(self.pool.submit(function, *args))

    async def commit_if_due(self) -> None:
        """Commit articles waiting longer than NEWS_COMMIT_SECONDS (a quiet crawl, --watch)."""
        if self.uncommitted and time.monotonic() - self.last_commit >= self.commit_seconds:
            await self.commit()

    async def commit(self) -> None:
        """Commit what the indexer holds, so a running `serve` sees it; then tell the crawl
        history which articles are now searchable."""
        items, self.uncommitted = self.uncommitted, []
        self.last_commit = time.monotonic()
        await self.call(commit_in_worker)
        if self.refresher is not None:
            self.refresher.poke()
        if items:
            self.crawler.signals.send_catch_log(articles_committed, items=items)

    async def close_spider(self) -> None:
        """Stop the timer, commit the rest, shut the indexer down."""
        if self.ticker is not None and self.ticker.running:
            self.ticker.stop()
        if self.pool is not None:
            try:
                await self.commit()
            finally:
                self.pool.shutdown()
                self.history.close()
                if self.refresher is not None:
                    self.refresher.close()


class CrawlHistory:
    """Remember each article once its index commit is done, with its validators, so that no
    crawl fetches it again before its source's re-crawl interval (an extension, fed by
    IndexPipeline's `articles_committed` signal)."""

    def __init__(self, directory: Path):
        self.state = CrawlState(directory)

    @classmethod
    def from_crawler(cls, crawler) -> CrawlHistory:
        """Build from the crawler's settings."""
        history = cls(Path(crawler.settings["NEWS_ARCHIVE_DIR"]))
        crawler.signals.connect(history.committed, signal=articles_committed)
        crawler.signals.connect(history.state.close, signal=signals.spider_closed)
        return history

    def committed(self, items: list[FetchedPage]) -> None:
        """Record the articles of one index commit."""
        for item in items:
            self.state.record(item.url, item.source, *validators(item.headers))
            self.state.settled(item.url)


def validators(headers: list[tuple[str, str]]) -> tuple[str, str]:
    """Return a response's ETag and Last-Modified ('' when absent)."""
    found = {k.lower(): v for k, v in headers}
    return found.get("etag", ""), found.get("last-modified", "")
