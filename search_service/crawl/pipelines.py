"""The crawl's item pipeline: archive each fetched article first, then normalise and index it.

Each stage is a small class with one job that builds itself from the crawler's settings.
Indexing goes through `search_service.ingest`, the same path as `news-search ingest`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

from scrapy import signals
from twisted.internet import task

from search_service.crawl.archive import WarcArchive
from search_service.crawl.files import Page
from search_service.crawl.spider import FetchedPage, count
from search_service.crawl.state import CrawlState
from search_service.crawl.workers import normalise_pool
from search_service.index import ArticleWriter, open_index
from search_service.ingest import (
    IngestSummary,
    extract_page,
    index_extracted,
    rejection_reason,
)

log = logging.getLogger(__name__)

#: Sent by IndexPipeline after each index commit, with the items it made searchable.
articles_committed = object()


class ArchivePipeline:
    """Write every fetched article response to the rotating WARC archive."""

    def __init__(self, crawler, directory: Path, rotate_bytes: int):
        self.crawler = crawler
        self.archive = WarcArchive(directory, rotate_bytes=rotate_bytes)

    @classmethod
    def from_crawler(cls, crawler) -> ArchivePipeline:
        settings = crawler.settings
        return cls(crawler, Path(settings["NEWS_ARCHIVE_DIR"]),
                   settings.getint("NEWS_ARCHIVE_ROTATE_BYTES"))

    def process_item(self, item: FetchedPage) -> FetchedPage:
        reason = "OK" if item.status == 200 else ""
        self.archive.write_response(item.url, item.status, reason, item.headers, item.body,
                                    item.fetched_at)
        self.crawler.stats.inc_value("news/archived")
        return item

    def close_spider(self) -> None:
        self.archive.close()


class IndexPipeline:
    """Normalise each archived page (in worker processes, if NEWS_NORMALISE_WORKERS) and index
    its article through the ingest path, committing every few seconds."""

    def __init__(self, crawler, index_dir: Path, batch: int, commit_seconds: float,
                 workers: int):
        self.crawler = crawler
        self.workers = workers
        self.pool: ProcessPoolExecutor | None = None
        self.index_dir = index_dir
        self.batch = batch
        self.commit_seconds = commit_seconds
        self.writer: ArticleWriter | None = None
        self.summary = IngestSummary()
        self.last_commit = time.monotonic()
        self.uncommitted: list[FetchedPage] = []
        self.ticker: task.LoopingCall | None = None

    @classmethod
    def from_crawler(cls, crawler) -> IndexPipeline:
        settings = crawler.settings
        return cls(crawler, Path(settings["NEWS_INDEX_DIR"]), settings.getint("NEWS_BATCH"),
                   settings.getfloat("NEWS_COMMIT_SECONDS"),
                   settings.getint("NEWS_NORMALISE_WORKERS"))

    def open_spider(self) -> None:
        self.writer = ArticleWriter(open_index(self.index_dir, create=True), batch=self.batch)
        self.ticker = task.LoopingCall(self.commit_if_due)
        self.ticker.start(self.commit_seconds, now=False)
        if self.workers:
            self.pool = normalise_pool(self.workers)

    async def process_item(self, item: FetchedPage) -> FetchedPage:
        assert self.writer is not None
        page = Page(url=item.url, html=item.body, fetched_at=item.fetched_at, origin=item.url)
        extracted = await self.extract(page)
        extraction = index_extracted(self.writer, extracted, self.summary)
        stats = self.crawler.stats
        if extraction is None:
            item.outcome = "failed"
            count(stats, item.source, "errors", "normaliser failed")
        elif extraction.rejected:
            item.outcome = "rejected"
            count(stats, item.source, "rejected", rejection_reason(extraction.rejected))
        else:
            item.outcome = "indexed"
            self.uncommitted.append(item)
            count(stats, item.source, "indexed")
            if extraction.article.published:
                count(stats, item.source, "dated")
        if (len(self.uncommitted) >= self.batch
                or time.monotonic() - self.last_commit >= self.commit_seconds):
            self.commit()
        return item

    async def extract(self, page: Page):
        """Normalise `page` in a worker process (or here, if there is none or it broke)."""
        if self.pool is not None:  # normalise on another core while the crawl goes on
            try:
                return await asyncio.wrap_future(self.pool.submit(extract_page, page))
            except BrokenProcessPool:
                log.warning("the normaliser worker died; normalising in the crawl process")
                self.pool = None
        return extract_page(page)

    def commit_if_due(self) -> None:
        """Commit articles waiting longer than NEWS_COMMIT_SECONDS (a quiet crawl, --watch)."""
        if self.uncommitted and time.monotonic() - self.last_commit >= self.commit_seconds:
            self.commit()

    def commit(self) -> None:
        """Commit what is queued, so a running `serve` sees it."""
        assert self.writer is not None
        self.writer.flush()
        self.last_commit = time.monotonic()
        if self.uncommitted:
            self.crawler.signals.send_catch_log(articles_committed, items=self.uncommitted)
            self.uncommitted = []

    def close_spider(self) -> None:
        if self.ticker is not None and self.ticker.running:
            self.ticker.stop()
        if self.pool is not None:
            self.pool.shutdown()
        if self.writer is not None:
            self.commit()


class CrawlHistory:
    """Remember each article once its index commit is done, with its validators, so that no
    crawl fetches it again before its source's re-crawl interval (an extension, fed by
    IndexPipeline's `articles_committed` signal)."""

    def __init__(self, directory: Path):
        self.state = CrawlState(directory)

    @classmethod
    def from_crawler(cls, crawler) -> CrawlHistory:
        history = cls(Path(crawler.settings["NEWS_ARCHIVE_DIR"]))
        crawler.signals.connect(history.committed, signal=articles_committed)
        crawler.signals.connect(history.state.close, signal=signals.spider_closed)
        return history

    def committed(self, items: list[FetchedPage]) -> None:
        for item in items:
            headers = {k.lower(): v for k, v in item.headers}
            self.state.record(item.url, item.source, headers.get("etag", ""),
                              headers.get("last-modified", ""))
