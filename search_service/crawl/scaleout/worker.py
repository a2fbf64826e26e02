"""A crawl worker of a scaled-out crawl (`news-search crawl --redis URL`).

Many workers, on one machine or many, share one frontier in Redis (frontier.py: scrapy-redis's
scheduler and queue, leases, seen URLs), one politeness budget per host (limiter.py), and hand
normalised articles to one indexer through a Redis stream (handoff.py, indexer.py). The spider
is the single-machine `NewsSpider`; only how it claims URLs and when it stops differ.
"""

from __future__ import annotations

import logging
import threading
import time
import warnings
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import redis
from scrapy import signals
from scrapy.crawler import CrawlerProcess
from scrapy.exceptions import DontCloseSpider, ScrapyDeprecationWarning
from twisted.python.failure import Failure

from search_service.archive.state import Fetched, save_source_stats
from search_service.crawl import scrapy_compat
from search_service.crawl.engine import CrawlOptions, CrawlSummary, crawl_settings
from search_service.crawl.metrics import FRONTIER, LEASED
from search_service.crawl.scaleout.frontier import (
    DEFAULT_LEASE,
    DUPEFILTER_KEY,
    QUEUE_KEY,
    Frontier,
    WorkerIdBusy,
    connect,
    inflight_key,
)
from search_service.crawl.sources import Source
from search_service.crawl.spider import FetchedPage, NewsSpider

log = logging.getLogger(__name__)

_OWN = "search_service.crawl"
#: How often a worker beats, reaps dead workers and looks for work when idle (seconds).
TICK = 0.5


@dataclass(frozen=True)
class WorkerOptions:
    """What a crawl worker needs beyond a crawl's options."""

    redis_url: str
    worker_id: str
    idle_exit: float | None = None
    lease_seconds: float = DEFAULT_LEASE
    crawl: CrawlOptions = field(default_factory=lambda: CrawlOptions(Path("index"),
                                                                     Path("archive")))


def worker_settings(options: WorkerOptions) -> dict[str, Any]:
    """The Scrapy settings of a worker: the crawl's, with the frontier in Redis, the shared
    per-host limiter instead of per-process delays, and the hand-off pipeline."""
    settings = crawl_settings(options.crawl)
    host_delay = float(settings.get("DOWNLOAD_DELAY") or 0.0)
    host_concurrency = int(settings.get("CONCURRENT_REQUESTS_PER_DOMAIN") or 1)
    settings.update({
        "REDIS_URL": options.redis_url,
        "NEWS_WORKER_ID": options.worker_id,
        "NEWS_LEASE_SECONDS": options.lease_seconds,
        "NEWS_HOST_DELAY": settings.get("NEWS_HOST_DELAY", host_delay),
        "NEWS_HOST_CONCURRENCY": settings.get("NEWS_HOST_CONCURRENCY", host_concurrency),
        "SCHEDULER": "scrapy_redis.scheduler.Scheduler",
        "SCHEDULER_QUEUE_CLASS": f"{_OWN}.scaleout.frontier.LeasedQueue",
        "SCHEDULER_QUEUE_KEY": QUEUE_KEY,
        "SCHEDULER_DUPEFILTER_KEY": DUPEFILTER_KEY,
        "DUPEFILTER_CLASS": "scrapy_redis.dupefilter.RFPDupeFilter",
        "SCHEDULER_PERSIST": True,
        # the shared limiter paces each host; no per-process delay or AutoThrottle on top
        "DOWNLOAD_DELAY": 0,
        "AUTOTHROTTLE_ENABLED": False,
        "HTTPCACHE_ENABLED": False,
        "REDIS_PARAMS": {"redis_cls": f"{_OWN}.scaleout.frontier.RideThroughRedis"},
        "NEWS_WARC_PREFIX": f"news-search-{options.worker_id}",
        "ITEM_PIPELINES": {f"{_OWN}.pipelines.ArchivePipeline": 100,
                           f"{_OWN}.scaleout.handoff.HandoffPipeline": 200},
        "DOWNLOADER_MIDDLEWARES": {f"{_OWN}.middlewares.RetryAfterMiddleware": 560,
                                   f"{_OWN}.scaleout.limiter.SharedHostLimiter": 950},
        "SPIDER_MIDDLEWARES": {f"{_OWN}.scaleout.worker.LeaseMiddleware": 1000},
        "EXTENSIONS": {"scrapy.extensions.throttle.AutoThrottle": None,
                       f"{_OWN}.download.PageCut": 0,
                       f"{_OWN}.engine.CrawlProgress": 500,
                       f"{_OWN}.pipelines.CrawlHistory": 500,
                       f"{_OWN}.metrics.ResponseMetrics": 500},
    })
    return settings


def run_worker(sources: list[Source], options: WorkerOptions) -> CrawlSummary:
    """Run one crawl worker until the shared frontier has been empty for `idle_exit` seconds
    (or, without it, until stopped); return what this worker did. WorkerIdBusy if a live
    worker has the same id."""
    frontier = Frontier(connect(options.redis_url), options.worker_id,
                        options.lease_seconds)
    requeued = frontier.register()
    if requeued:
        log.warning("%d requests left by this worker id are back in the frontier", requeued)
    heart = Heartbeat(options.redis_url, options.worker_id, options.lease_seconds)
    heart.start()
    # scrapy-redis 0.9 still passes `spider` to the stats collector
    warnings.filterwarnings("ignore", category=ScrapyDeprecationWarning, module="scrapy_redis")
    try:
        process = CrawlerProcess(worker_settings(options))
        crawler = process.create_crawler(SharedNewsSpider)
        started = time.monotonic()
        process.crawl(crawler, sources=sources, frontier=frontier,
                      watch=options.idle_exit is None, idle_exit=options.idle_exit)
        process.start()
    finally:
        heart.stop()
        moved = frontier.leave()
        if moved:
            log.warning("%d unfinished requests put back in the frontier", moved)
    stats = crawler.stats.get_stats()
    summary = CrawlSummary.from_stats(stats, time.monotonic() - started)
    summary.indexed = stats.get("news/handed", 0)
    for counts in summary.sources.values():  # for `stats`: handed to the index-worker
        counts["indexed"] = counts.pop("handed", 0)
    save_source_stats(options.crawl.archive_dir, [s.name for s in sources], summary.sources,
                      datetime.now(timezone.utc), summary.finish_reason)
    return summary


class Heartbeat(threading.Thread):
    """Beats for the worker and requeues what dead workers had taken, in a thread of its own
    (with its own Redis connection), so a busy crawl thread (a big sitemap, a slow page to
    normalise) is never taken for a dead worker; only a dead or frozen process stops it.

    After a Redis outage longer than a beat, it waits one lease time before reaping: every
    heartbeat expired meanwhile, and the other workers need a beat to show they are alive."""

    def __init__(self, redis_url: str, worker: str, lease_seconds: float):
        super().__init__(name="frontier-heartbeat", daemon=True)
        self.frontier = Frontier(connect(redis_url), worker, lease_seconds)
        self.lease_seconds = lease_seconds
        self.period = min(TICK, lease_seconds / 4)
        self.stopped = threading.Event()

    def run(self) -> None:
        """Beat and reap every `period` seconds until stopped."""
        reap_after = 0.0
        while not self.stopped.wait(self.period):
            try:
                began = time.monotonic()
                self.frontier.beat()  # waits while Redis is down (RideThrough)
                if time.monotonic() - began > self.lease_seconds / 2:
                    reap_after = time.monotonic() + self.lease_seconds
                if time.monotonic() >= reap_after:
                    self.frontier.reap()
                FRONTIER.set(self.frontier.server.llen(QUEUE_KEY))
                LEASED.set(self.frontier.server.hlen(inflight_key(self.frontier.worker)))
            except redis.RedisError as exc:  # a command's own error: try at the next beat
                log.warning("Redis: %s", exc)

    def stop(self) -> None:
        """Stop beating (the caller then leaves the crawl)."""
        self.stopped.set()
        self.join()


class LeaseBook:
    """This worker's leased pages that are not done yet: a page is done when its callback's
    output is processed (its links are in the frontier) and each article it yielded has left
    the pipeline (is in the stream, or was rejected); then its lease is released."""

    def __init__(self, frontier: Frontier):
        self.frontier = frontier
        self.items: dict[str, set[int]] = {}
        self.parsed: set[str] = set()

    def item_started(self, lease: str, item: FetchedPage) -> None:
        """An article of the leased page entered the pipeline."""
        item.lease = lease
        self.items.setdefault(lease, set()).add(id(item))

    def item_done(self, item: FetchedPage) -> None:
        """An article left the pipeline (handed off, rejected or failed)."""
        lease = item.lease
        if lease and id(item) in self.items.get(lease, ()):
            self.items[lease].discard(id(item))
            self._settle(lease)

    def page_done(self, lease: str | None) -> None:
        """The leased page's callback (or errback) has finished."""
        if lease:
            self.parsed.add(lease)
            self._settle(lease)

    def _settle(self, lease: str) -> None:
        if lease in self.parsed and not self.items.get(lease):
            self.parsed.discard(lease)
            self.items.pop(lease, None)
            self.frontier.release(lease)


class LeaseMiddleware:
    """Spider middleware: tie each article to its page's lease, and mark the page done once
    its callback's output has all gone (requests into the frontier, items to the pipeline)."""

    def __init__(self, crawler):
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler) -> LeaseMiddleware:
        """Build the middleware."""
        return cls(crawler)

    def book(self) -> LeaseBook:
        """The spider's lease book."""
        return self.crawler.spider.leases

    def process_spider_output(self, response, result, spider=None):
        """Sync callbacks' output."""
        lease = response.meta.get("lease")
        book = self.book()
        try:
            for out in result:
                if isinstance(out, FetchedPage) and lease:
                    book.item_started(lease, out)
                yield out
        finally:
            book.page_done(lease)

    async def process_spider_output_async(self, response, result, spider=None):
        """Async callbacks' output."""
        lease = response.meta.get("lease")
        book = self.book()
        try:
            async for out in result:
                if isinstance(out, FetchedPage) and lease:
                    book.item_started(lease, out)
                yield out
        finally:
            book.page_done(lease)


class SharedNewsSpider(NewsSpider):
    """NewsSpider whose requests are claimed in the shared frontier: pages once per re-crawl
    interval, seeds, feeds and sitemaps once per re-crawl interval across all workers; it stops
    after the shared frontier has been empty `idle_exit` seconds (never without it)."""

    def __init__(self, sources: list[Source], frontier: Frontier, watch: bool = False,
                 idle_exit: float | None = None, **kwargs: Any):
        super().__init__(sources, watch=watch, **kwargs)
        self.frontier = frontier
        self.leases = LeaseBook(frontier)
        self.idle_exit = idle_exit

    @classmethod
    def from_crawler(cls, crawler, *args: Any, **kwargs: Any) -> SharedNewsSpider:
        """Build the spider; it decides when the worker may stop."""
        spider = super().from_crawler(crawler, *args, **kwargs)
        if not spider.watch:  # NewsSpider connects it only when watching
            crawler.signals.connect(spider.idle, signal=signals.spider_idle)
        crawler.signals.connect(spider.opened, signal=signals.spider_opened)
        return spider

    def opened(self) -> None:
        """Look for work in Redis every TICK seconds (Scrapy's own poll is every 5 s)."""
        scrapy_compat.set_slot_heartbeat(self.crawler.engine, TICK)  # read when it starts

    def idle(self) -> None:
        """Keep the worker alive while the shared frontier has work or has not been empty for
        `idle_exit` seconds; without `idle_exit`, poll sources again as `--watch` does."""
        if self.idle_exit is None:
            super().idle()
        if self.frontier.idle_seconds() < self.idle_exit:
            raise DontCloseSpider

    #: Claims are made in the shared frontier (Scrapy's own duplicate filter is off).
    claims_shared = True

    def known_copy(self, url: str) -> Fetched | None:
        """The latest copy of `url` fetched by this worker or, as the frontier's shared
        `copies` say, by any other: its validators make the request conditional, and a
        sitemap lastmod no newer than it spares the request."""
        own, shared = self.history.get(url), self.frontier.copy_of(url)
        if own is None or (shared is not None and shared.fetched_at > own.fetched_at):
            return shared
        return own

    def is_new(self, source: Source, url: str, poll: bool, seed: bool) -> bool:
        """Every URL may be claimed: the shared frontier decides (`claim`)."""
        return True

    def claim(self, source: Source, url: str, poll: bool, seed: bool) -> bool:
        """Claim `url` in the shared frontier: a seed, feed or sitemap once per re-crawl
        interval, a page once per re-crawl interval within the source's `max_pages` for the
        whole crawl (counting a refusal)."""
        if seed or poll:
            return self.frontier.claim_poll(url, source.recrawl_interval)
        claimed = self.frontier.claim_page(url, source.recrawl_interval, source.name,
                                           source.max_pages)
        if claimed < 0:
            self.count(source, "refused", "page cap reached")
        return claimed > 0

    def failed(self, failure: Failure) -> None:
        """Count the failure; the page is done."""
        try:
            super().failed(failure)
        finally:
            self.leases.page_done(failure.request.meta.get("lease"))


__all__ = ["SharedNewsSpider", "WorkerIdBusy", "WorkerOptions", "run_worker", "worker_settings"]
