"""Running a crawl: politeness defaults as Scrapy settings, the process, progress, a summary."""

from __future__ import annotations

import fcntl
import hashlib
import logging
import shutil
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from scrapy import signals
from scrapy.crawler import CrawlerProcess
from scrapy.exceptions import NotConfigured
from tqdm import tqdm

from search_service import __version__
from search_service.archive.state import save_source_stats
from search_service.config import DEFAULT_CONTACT
from search_service.crawl.recovery import index_pending
from search_service.crawl.sources import Source
from search_service.crawl.spider import NewsSpider

log = logging.getLogger(__name__)

ROBOTS_AGENT = "news-search"

#: Politeness and limits: defaults a site owner would accept.
POLITE_DEFAULTS: dict[str, Any] = {
    "ROBOTSTXT_OBEY": True,
    "ROBOTSTXT_USER_AGENT": ROBOTS_AGENT,
    "CONCURRENT_REQUESTS": 16,
    "CONCURRENT_REQUESTS_PER_DOMAIN": 2,
    "DOWNLOAD_DELAY": 1.0,
    "AUTOTHROTTLE_ENABLED": True,
    "AUTOTHROTTLE_START_DELAY": 2.0,
    "AUTOTHROTTLE_MAX_DELAY": 60.0,
    "AUTOTHROTTLE_TARGET_CONCURRENCY": 1.0,
    "DOWNLOAD_TIMEOUT": 30,
    "NEWS_CONNECT_TIMEOUT": 10,
    "DOWNLOAD_MAXSIZE": 5 * 1024 * 1024,
    "DOWNLOAD_WARNSIZE": 2 * 1024 * 1024,
    "REDIRECT_MAX_TIMES": 5,
    "RETRY_TIMES": 2,
    "NEWS_RETRY_AFTER_MAX": 120.0,
    "COOKIES_ENABLED": False,
    "TELNETCONSOLE_ENABLED": False,
    "REMOTE_CONTROL_ENABLED": False,
    "LOG_LEVEL": "WARNING",
    "LOG_INSTALL_ROOT_HANDLER": False,
    "DEPTH_PRIORITY": 1,
    "SCHEDULER_DISK_QUEUE": "scrapy.squeues.PickleFifoDiskQueue",
    "SCHEDULER_MEMORY_QUEUE": "scrapy.squeues.FifoMemoryQueue",
}

_OWN = "search_service.crawl"
#: Marks a job directory left by a clean stop (resumable), unlike one left by a kill.
INTERRUPTED = "interrupted"
LOCK_FILE = "crawl.lock"


class CrawlBusy(Exception):
    """Another crawl is running on the same archive."""


@dataclass(frozen=True)
class CrawlOptions:
    """Where a crawl writes and how it behaves (anything else: Scrapy settings in `overrides`)."""

    index_dir: Path
    archive_dir: Path
    contact: str = DEFAULT_CONTACT
    user_agent: str = ""
    batch: int = 200
    commit_seconds: float = 2.0
    rotate_bytes: int = 100 * 1024 * 1024
    progress: bool = True
    watch: bool = False
    overrides: dict[str, Any] = field(default_factory=dict)


@dataclass
class CrawlSummary:
    """What a crawl did, from its stats: fetched, indexed, rejected, refused and errors (and
    articles cut at the size limit: archived and indexed from their first bytes)."""

    fetched: int = 0
    archived: int = 0
    indexed: int = 0
    unchanged: int = 0
    fresh: int = 0
    cut: int = 0
    recovered: int = 0
    cached: int = 0
    rejected: Counter = field(default_factory=Counter)
    refused: Counter = field(default_factory=Counter)
    errors: Counter = field(default_factory=Counter)
    sources: dict[str, Counter] = field(default_factory=dict)
    finish_reason: str = ""
    seconds: float = 0.0

    @classmethod
    def from_stats(cls, stats: dict[str, Any], seconds: float) -> CrawlSummary:
        """Read a summary out of a finished crawler's stats."""
        summary = cls(fetched=stats.get("downloader/response_count", 0),
                      archived=stats.get("news/archived", 0),
                      indexed=stats.get("news/indexed", 0),
                      unchanged=stats.get("news/unchanged", 0),
                      fresh=stats.get("news/fresh", 0), cut=stats.get("news/cut", 0),
                      cached=stats.get("httpcache/hit", 0),
                      finish_reason=str(stats.get("finish_reason", "")), seconds=seconds)
        for key, value in stats.items():
            parts = key.split("/", 2)
            if parts[0] == "news" and len(parts) == 3 and parts[1] in (
                    "rejected", "refused", "errors"):
                getattr(summary, parts[1])[parts[2]] += value
        summary.sources = {name: Counter(counts)
                           for name, counts in stats.get("news/sources", {}).items()}
        return summary


def user_agent(options: CrawlOptions) -> str:
    """Return the User-Agent: the service, its version and the contact URL."""
    return options.user_agent or f"{ROBOTS_AGENT}/{__version__} (+{options.contact})"


def crawl_settings(options: CrawlOptions) -> dict[str, Any]:
    """Build the Scrapy settings of a crawl: politeness defaults, our stages, overrides."""
    settings = dict(POLITE_DEFAULTS)
    settings.update({
        "USER_AGENT": user_agent(options),
        "NEWS_INDEX_DIR": str(options.index_dir),
        "NEWS_ARCHIVE_DIR": str(options.archive_dir),
        "NEWS_ARCHIVE_ROTATE_BYTES": options.rotate_bytes,
        "NEWS_BATCH": options.batch,
        "NEWS_COMMIT_SECONDS": options.commit_seconds,
        "NEWS_PROGRESS": options.progress,
        # with --watch the related-articles sidecar is rebuilt while crawling (index/related.py)
        "NEWS_RELATED_EVERY": 60.0 if options.watch else 0.0,
        "HTTPCACHE_ENABLED": True,
        "HTTPCACHE_POLICY": f"{_OWN}.hubcache.HubCachePolicy",
        "HTTPCACHE_DIR": str(Path(options.archive_dir).resolve() / "http-cache"),
        "HTTPCACHE_EXPIRATION_SECS": 0,
        "HTTPCACHE_GZIP": True,
        "ITEM_PIPELINES": {f"{_OWN}.pipelines.ArchivePipeline": 100,
                           f"{_OWN}.pipelines.IndexPipeline": 200},
        "DOWNLOADER_MIDDLEWARES": {f"{_OWN}.middlewares.RetryAfterMiddleware": 560},
        "DOWNLOAD_HANDLERS": {"http": f"{_OWN}.download.NewsDownloadHandler",
                              "https": f"{_OWN}.download.NewsDownloadHandler"},
        "EXTENSIONS": {"scrapy.extensions.throttle.AutoThrottle": None,
                       f"{_OWN}.download.PageCut": 0,
                       f"{_OWN}.middlewares.PoliteThrottle": 0,
                       f"{_OWN}.engine.CrawlProgress": 500,
                       f"{_OWN}.pipelines.CrawlHistory": 500},
    })
    settings.update(options.overrides)
    return settings


def job_dir(archive_dir: Path, sources: list[Source]) -> Path:
    """Return the resumable job directory of this set of sources (kept only if interrupted)."""
    key = hashlib.sha1(repr(sorted((s.name, s.seeds()) for s in sources)).encode()).hexdigest()
    return Path(archive_dir) / "jobs" / key[:12]


def run_crawl(sources: list[Source], options: CrawlOptions) -> CrawlSummary:
    """Crawl `sources` to the end (once per process: Twisted's reactor cannot restart)."""
    with archive_lock(options.archive_dir):
        return _run(sources, options)


@contextmanager
def archive_lock(archive_dir: Path) -> Iterator[None]:
    """Hold the archive's crawl lock (one crawl per archive); CrawlBusy if another holds it."""
    archive_dir = Path(archive_dir)
    archive_dir.mkdir(parents=True, exist_ok=True)
    with (archive_dir / LOCK_FILE).open("a") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise CrawlBusy(f"another crawl is using the archive {archive_dir}") from None
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _run(sources: list[Source], options: CrawlOptions) -> CrawlSummary:
    """Run the crawl in this process (the archive lock is held)."""
    settings = crawl_settings(options)
    jobs = Path(settings.get("JOBDIR") or job_dir(options.archive_dir, sources))
    settings["JOBDIR"] = str(jobs)
    if jobs.exists() and not (jobs / INTERRUPTED).exists():
        # Left by a crawl that was killed, not stopped: Scrapy's queue files are only written
        # whole on a clean stop, so start again from the seeds (the crawl state still skips
        # every article already archived and indexed).
        log.warning("discarding the job state of a killed crawl: %s", jobs)
        shutil.rmtree(jobs)
    (jobs / INTERRUPTED).unlink(missing_ok=True)
    recovered = index_pending(options.index_dir, options.archive_dir)
    process = CrawlerProcess(settings)
    crawler = process.create_crawler(NewsSpider)
    started = time.monotonic()
    process.crawl(crawler, sources=sources, watch=options.watch)
    process.start()
    stats = crawler.stats.get_stats()
    summary = CrawlSummary.from_stats(stats, time.monotonic() - started)
    for name, counts in recovered.items():
        summary.sources.setdefault(name, Counter()).update(counts)
        summary.recovered += counts["recovered"]
        summary.indexed += counts["recovered"]
    save_source_stats(options.archive_dir, [s.name for s in sources], summary.sources,
                      datetime.now(timezone.utc), summary.finish_reason)
    if summary.finish_reason == "finished":
        shutil.rmtree(jobs, ignore_errors=True)
    else:  # stopped cleanly (Ctrl-C, a cap): the next crawl of these sources resumes the job
        jobs.mkdir(parents=True, exist_ok=True)
        (jobs / INTERRUPTED).write_text(summary.finish_reason)
    return summary


class CrawlProgress:
    """A live progress line on stderr: fetched/s, queued, indexed, rejected, refused, errors."""

    def __init__(self, crawler):
        self.crawler = crawler
        self.bar: tqdm | None = None
        self.shown = 0.0

    @classmethod
    def from_crawler(cls, crawler) -> CrawlProgress:
        """Build from settings (not at all without NEWS_PROGRESS)."""
        if not crawler.settings.getbool("NEWS_PROGRESS"):
            raise NotConfigured
        progress = cls(crawler)
        crawler.signals.connect(progress.opened, signal=signals.spider_opened)
        crawler.signals.connect(progress.fetched, signal=signals.response_received)
        crawler.signals.connect(progress.closed, signal=signals.spider_closed)
        return progress

    def opened(self) -> None:
        """Start the progress bar."""
        self.bar = tqdm(desc="Crawling", unit=" pages", file=sys.stderr, mininterval=0.5)

    def fetched(self) -> None:
        """Count one response; refresh the counters twice a second."""
        assert self.bar is not None
        self.bar.update()
        now = time.monotonic()
        if now - self.shown >= 0.5:
            self.shown = now
            self.bar.set_postfix(self.counts(), refresh=False)

    def counts(self) -> dict[str, int]:
        """The counters shown beside the bar."""
        stats = self.crawler.stats.get_stats()
        sums = dict.fromkeys(("rejected", "refused", "errors"), 0)
        for key, value in stats.items():
            for kind in ("rejected", "refused", "errors"):
                if key.startswith(f"news/{kind}/"):
                    sums[kind] += value
        queued = stats.get("scheduler/enqueued", 0) - stats.get("scheduler/dequeued", 0)
        return {"queued": queued, "indexed": stats.get("news/indexed", 0), **sums}

    def closed(self) -> None:
        """Show the final counters and close the bar."""
        if self.bar is not None:
            self.bar.set_postfix(self.counts(), refresh=False)
            self.bar.close()
