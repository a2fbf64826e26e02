"""Politeness that Scrapy leaves out: `Retry-After` on 429/503 and robots.txt `Crawl-delay`."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime

from scrapy import signals
from scrapy.downloadermiddlewares.retry import get_retry_request
from scrapy.exceptions import IgnoreRequest
from scrapy.extensions.throttle import AutoThrottle
from scrapy.http import Request, Response
from scrapy.utils.httpobj import urlparse_cached

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
    """On 429 or 503 with Retry-After, wait as asked, then retry (give up if it asks too long).

    Sits just before Scrapy's RetryMiddleware, which retries the others at once.
    """

    def __init__(self, crawler):
        self.crawler = crawler
        self.max_wait = crawler.settings.getfloat("NEWS_RETRY_AFTER_MAX")

    @classmethod
    def from_crawler(cls, crawler) -> RetryAfterMiddleware:
        """Build from the crawler (NEWS_RETRY_AFTER_MAX)."""
        return cls(crawler)

    async def process_response(self, request: Request, response: Response) -> Request | Response:
        """Wait out a 429/503 Retry-After, then retry the request."""
        if response.status not in (429, 503) or request.meta.get("dont_retry"):
            return response
        header = response.headers.get(b"Retry-After")
        wait = retry_after_seconds(header.decode("latin-1") if header else None)
        if wait is None:
            return response
        if wait > self.max_wait:
            raise IgnoreRequest(f"HTTP {response.status} asks to retry after {wait:g}s "
                                f"(more than {self.max_wait:g}s)")
        self.crawler.stats.inc_value("news/retry_after")
        log.info("%s: HTTP %s, retrying after %gs as asked", request.url, response.status, wait)
        await asyncio.sleep(wait)
        retry = get_retry_request(request, spider=self.crawler.spider,
                                  reason=f"{response.status} Retry-After")
        return retry if retry is not None else response


class PoliteThrottle(AutoThrottle):
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

    def _adjust_delay(self, slot, latency: float, response: Response) -> None:
        super()._adjust_delay(slot, latency, response)
        floor = self.floors.get(urlparse_cached(response).hostname or "")
        if floor:
            slot.delay = max(slot.delay, floor)
