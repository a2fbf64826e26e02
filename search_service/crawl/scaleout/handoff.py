"""A crawl worker's item pipeline in a scaled-out crawl: archive to the worker's own WARC
files, normalise, and hand the article to the one indexer through a Redis stream.

The stream (`articles`) is durable and acknowledged: the indexer reads it in a consumer group
and acknowledges an entry only after the article is committed to the index (indexer.py).
Each stage tells the worker's `LeaseBook` when an item is done, so the page's frontier lease is
released only once its article is in the stream.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import redis

from search_service.archive.files import Page
from search_service.archive.warc import WarcArchive
from search_service.crawl.scaleout.frontier import PREFIX
from search_service.crawl.spider import FetchedPage, count, parse_w3c_date
from search_service.ingest import Collections, extract_page, rejection_reason

log = logging.getLogger(__name__)

#: The stream of normalised articles, and the indexer's consumer group on it.
STREAM_KEY = f"{PREFIX}:articles"
GROUP = "indexer"


def article_entry(article_json: dict, worker: str) -> dict[str, str]:
    """The stream entry of one article (its JSON, and which worker sent it)."""
    return {"article": json.dumps(article_json, ensure_ascii=False), "worker": worker}


class WorkerArchivePipeline:
    """Write every fetched article response to this worker's rotating WARC files (named
    `news-search-<worker id>-…`)."""

    def __init__(self, crawler, directory: Path, rotate_bytes: int, worker: str):
        self.crawler = crawler
        self.archive = WarcArchive(directory, rotate_bytes=rotate_bytes,
                                   prefix=f"news-search-{worker}")

    @classmethod
    def from_crawler(cls, crawler) -> WorkerArchivePipeline:
        """Build from the crawler's settings."""
        settings = crawler.settings
        return cls(crawler, Path(settings["NEWS_ARCHIVE_DIR"]),
                   settings.getint("NEWS_ARCHIVE_ROTATE_BYTES"), settings["NEWS_WORKER_ID"])

    def process_item(self, item: FetchedPage) -> FetchedPage:
        """Write the response to the WARC archive."""
        reason = "OK" if item.status == 200 else ""
        self.archive.write_response(item.url, item.status, reason, item.headers, item.body,
                                    item.fetched_at, truncated=item.cut,
                                    date_hint=item.date_hint)
        self.crawler.stats.inc_value("news/archived")
        return item

    def close_spider(self) -> None:
        """Close the current WARC file."""
        self.archive.close()


class HandoffPipeline:
    """Normalise each archived page here, in the worker, and add its article to the stream;
    count rejections and failures; then release the page's lease."""

    def __init__(self, crawler, server: redis.Redis, worker: str):
        self.crawler = crawler
        self.server = server
        self.worker = worker

    @classmethod
    def from_crawler(cls, crawler) -> HandoffPipeline:
        """Build from the crawler's settings (REDIS_URL, NEWS_WORKER_ID)."""
        settings = crawler.settings
        return cls(crawler, redis.Redis.from_url(settings["REDIS_URL"]),
                   settings["NEWS_WORKER_ID"])

    def process_item(self, item: FetchedPage) -> FetchedPage:
        """Normalise the page and hand its article on (or count why not)."""
        try:
            self.hand_off(item)
        finally:
            self.crawler.spider.leases.item_done(item)
        return item

    def hand_off(self, item: FetchedPage) -> None:
        """Normalise `item` and add its article to the stream."""
        page = Page(url=item.url, html=item.body, fetched_at=item.fetched_at, origin=item.url,
                    date_hint=parse_w3c_date(item.date_hint) if item.date_hint else None)
        extracted = extract_page(page)
        stats = self.crawler.stats
        if not isinstance(extracted, tuple):
            item.outcome = "failed"
            count(stats, item.source, "errors", "normaliser failed")
            return
        extraction = extracted[1]
        if extraction.rejected:
            item.outcome = "rejected"
            count(stats, item.source, "rejected", rejection_reason(extraction.rejected))
            return
        source = getattr(self.crawler.spider, "sources", {}).get(item.source)
        article = Collections(always=source.collections).apply(extraction.article) \
            if source else extraction.article
        self.server.xadd(STREAM_KEY, article_entry(article.to_json(), self.worker))
        item.outcome = "indexed"
        count(stats, item.source, "handed")
        if extraction.article.published is not None:
            count(stats, item.source, "dated")
