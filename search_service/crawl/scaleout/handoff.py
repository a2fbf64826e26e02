"""A crawl worker's hand-off stage in a scaled-out crawl: normalise each archived page and hand
its article to the one indexer through a Redis stream.

Archiving is the single-machine `ArchivePipeline` (with the worker's WARC file prefix). The
stream (`articles`) is durable and acknowledged: the indexer reads it in a consumer group and
acknowledges an entry only after the article is committed to the index (indexer.py). Once an
article is in the stream, the crawl history records it (for conditional requests) through the
same `articles_committed` signal the single-machine index pipeline sends after a commit, and
the frontier's shared `copies` record it for every worker (frontier.py). Each
item tells the worker's `LeaseBook` when it is done, so the page's frontier lease is released
only once its article is in the stream.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import redis

from search_service.archive.files import Page
from search_service.archive.state import CrawlState
from search_service.crawl.pipelines import articles_committed, validators
from search_service.crawl.scaleout.frontier import COPIES_KEY, PREFIX, connect
from search_service.crawl.spider import FetchedPage, count, parse_w3c_date
from search_service.ingest import Collections, extract_page, rejection_reason

log = logging.getLogger(__name__)

#: The stream of normalised articles, and the indexer's consumer group on it.
STREAM_KEY = f"{PREFIX}:articles"
GROUP = "indexer"


def article_entry(article_json: dict, worker: str) -> dict[str, str]:
    """The stream entry of one article (its JSON, and which worker sent it)."""
    return {"article": json.dumps(article_json, ensure_ascii=False), "worker": worker}


def copy_entry(item: FetchedPage) -> str:
    """The shared record of the copy of a page handed on: its validators and fetch time."""
    etag, last_modified = validators(item.headers)
    return json.dumps({"source": item.source, "fetched_at": item.fetched_at.timestamp(),
                       "etag": etag, "last_modified": last_modified})


class HandoffPipeline:
    """Normalise each archived page here, in the worker, and add its article to the stream;
    count rejections and failures; then release the page's lease."""

    def __init__(self, crawler, server: redis.Redis, worker: str, archive_dir: Path):
        self.crawler = crawler
        self.server = server
        self.worker = worker
        self.history = CrawlState(archive_dir)

    @classmethod
    def from_crawler(cls, crawler) -> HandoffPipeline:
        """Build from the crawler's settings (REDIS_URL, NEWS_WORKER_ID, NEWS_ARCHIVE_DIR)."""
        settings = crawler.settings
        return cls(crawler, connect(settings["REDIS_URL"]), settings["NEWS_WORKER_ID"],
                   Path(settings["NEWS_ARCHIVE_DIR"]))

    def process_item(self, item: FetchedPage) -> FetchedPage:
        """Normalise the page and hand its article on (or count why not)."""
        try:
            self.hand_off(item)
        finally:
            self.crawler.spider.leases.item_done(item)
        if item.outcome == "indexed":
            self.crawler.signals.send_catch_log(articles_committed, items=[item])
        else:
            self.history.settled(item.url)  # nothing to hand over again after a kill
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
        self.server.hset(COPIES_KEY, item.url, copy_entry(item))
        item.outcome = "indexed"
        count(stats, item.source, "handed")
        if extraction.article.published is not None:
            count(stats, item.source, "dated")

    def close_spider(self) -> None:
        """Close the crawl history."""
        self.history.close()
