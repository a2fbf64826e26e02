"""Politeness that Scrapy leaves out: `Retry-After` on 429/503 and robots.txt `Crawl-delay`."""

from __future__ import annotations

import logging
import time
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime

from scrapy import signals
from scrapy.downloadermiddlewares.retry import get_retry_request
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Request, Response
from scrapy.utils.httpobj import urlparse_cached

from search_service.crawl import scrapy_compat
from search_service.crawl.scrapy_compat import ThrottleWithHook

log = logging.getLogger(__name__)


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """Parse a Retry-After header (seconds or an HTTP date) into seconds; None if absent/bad."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - (now or datetime.now(timezone.utc))).total_seconds())


class RetryAfterMiddleware:
    """On 429 or 503 with Retry-After, pause the whole host as asked, then retry the request
    (give up on it if it asks for more than NEWS_RETRY_AFTER_MAX; the host still waits that
    long).

    The pause holds the host's download slot: it is set from the `response_downloaded`
    signal, before the slot sends its next request, so no request to that host leaves until
    the time is up (requests already on the wire cannot be called back). Sits just before
    Scrapy's RetryMiddleware, which retries the other failures at once.
    """

    def __init__(self, crawler):
        self.crawler = crawler
        self.max_wait = crawler.settings.getfloat("NEWS_RETRY_AFTER_MAX")
        self.paused_until: dict[str, float] = {}
        crawler.signals.connect(self.downloaded, signal=signals.response_downloaded)

    @classmethod
    def from_crawler(cls, crawler) -> RetryAfterMiddleware:
        """Build from the crawler (NEWS_RETRY_AFTER_MAX)."""
        return cls(crawler)

    def downloaded(self, response: Response, request: Request, **kwargs) -> None:
        """Pause the response's host if it answered 429/503 with a Retry-After."""
        wait = asked_wait(response)
        if wait is not None:
            self.pause(request, min(wait, self.max_wait))

    def pause(self, request: Request, seconds: float) -> None:
        """Hold the download slot of `request` for `seconds` (a later pause wins)."""
        downloader = self.crawler.engine.downloader
        key = request.meta.get(downloader.DOWNLOAD_SLOT) or urlparse_cached(request).hostname
        slot = downloader.slots.get(key or "")
        until = time.monotonic() + seconds
        if slot is None or until <= self.paused_until.get(key, 0.0):
            return
        self.paused_until[key] = until
        scrapy_compat.hold_slot(downloader, slot, seconds)
        self.crawler.stats.inc_value("news/host_paused")
        log.info("%s: pausing requests to %s for %gs as asked", request.url, key, seconds)

    async def process_response(self, request: Request, response: Response) -> Request | Response:
        """Retry a 429/503 with Retry-After (its host is paused meanwhile)."""
        wait = asked_wait(response)
        if wait is None or request.meta.get("dont_retry"):
            return response
        if wait > self.max_wait:
            raise IgnoreRequest(f"HTTP {response.status} asks to retry after {wait:g}s "
                                f"(more than {self.max_wait:g}s)")
        self.crawler.stats.inc_value("news/retry_after")
        retry = get_retry_request(request, spider=self.crawler.spider,
                                  reason=f"{response.status} Retry-After")
        return retry if retry is not None else response


def asked_wait(response: Response) -> float | None:
    """Seconds a 429/503 response asks us to wait (Retry-After), or None."""
    if response.status not in (429, 503):
        return None
    header = response.headers.get(b"Retry-After")
    return retry_after_seconds(header.decode("latin-1") if header else None)


class PoliteThrottle(ThrottleWithHook):
    """AutoThrottle that never lets a site's delay go below its robots.txt Crawl-delay."""

    def __init__(self, crawler):
        super().__init__(crawler)
        self.floors: dict[str, float] = {}
        self.user_agent = crawler.settings.get("ROBOTSTXT_USER_AGENT") or "*"
        crawler.signals.connect(self._robots_parsed, signal=signals.robots_parsed)

    def _robots_parsed(self, robotparser, request: Request) -> None:
        """Remember a site's Crawl-delay and apply it to its download slot now."""
        delay = robotparser.crawl_delay(self.user_agent)
        if not delay:
            return
        delay = min(float(delay), self.maxdelay)
        host = urlparse_cached(request).hostname or ""
        self.floors[host] = delay
        slot = self.crawler.engine.downloader.slots.get(host)
        if slot is not None:
            slot.delay = max(slot.delay, delay)
            slot.jitter = 0.0  # random jitter would dip below the floor
        log.info("%s asks for Crawl-delay %gs", host, delay)

    def adjusted(self, slot, response: Response) -> None:
        """Raise the delay AutoThrottle just set back to the site's Crawl-delay."""
        floor = self.floors.get(urlparse_cached(response).hostname or "")
        if floor:
            slot.delay = max(slot.delay, floor)
