"""Politeness in total: one per-host delay and concurrency limit shared by every crawl worker.

A downloader middleware asks Redis, in one atomic Lua script on Redis's own clock, for leave to
send a request to a host: granted when fewer than NEWS_HOST_CONCURRENCY requests to that host
are on the wire (from any worker) and at least the host's delay has passed since the last
request any worker sent it; otherwise the script says how long to wait, and the request waits
and asks again. The delay is NEWS_HOST_DELAY, raised to the host's robots.txt Crawl-delay, and a
429/503 Retry-After pushes the host's next allowed time forward for every worker. A granted
slot is given back when the response (or a failure) comes; slots of a killed worker expire
after DOWNLOAD_TIMEOUT plus a margin.
"""

from __future__ import annotations

import asyncio
import itertools
import logging

import redis
from scrapy import signals
from scrapy.http import Request, Response
from scrapy.utils.httpobj import urlparse_cached

from search_service.crawl.metrics import HOST_DELAY, HOST_WAIT
from search_service.crawl.middlewares import asked_wait
from search_service.crawl.scaleout.frontier import PREFIX, connect

log = logging.getLogger(__name__)

# KEYS: next-allowed time (ms), slots zset, crawl-delay (ms); ARGV: delay ms, concurrency,
# token, slot lifetime ms. Returns 0 when granted, else milliseconds to wait.
_ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
if redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[2]) then
  local first = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
  return math.max(5, math.min(50, tonumber(first[2]) - now))
end
local nxt = tonumber(redis.call('GET', KEYS[1]) or '0')
if nxt > now then return nxt - now end
local delay = math.max(tonumber(ARGV[1]), tonumber(redis.call('GET', KEYS[3]) or '0'))
if delay > 0 then redis.call('SET', KEYS[1], now + delay, 'PX', delay + 60000) end
redis.call('ZADD', KEYS[2], now + tonumber(ARGV[4]), ARGV[3])
return 0
"""
# Push a host's next allowed time to at least now + ARGV[1] ms (a Retry-After).
_PAUSE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local until_ = now + tonumber(ARGV[1])
local nxt = tonumber(redis.call('GET', KEYS[1]) or '0')
if until_ > nxt then redis.call('SET', KEYS[1], until_, 'PX', tonumber(ARGV[1]) + 60000) end
return 1
"""

_TOKEN = "news_host_slot"


def host_keys(host: str) -> list[str]:
    """The limiter's keys of `host`: next allowed time, slots on the wire, Crawl-delay."""
    return [f"{PREFIX}:host:{host}:next", f"{PREFIX}:host:{host}:slots",
            f"{PREFIX}:host:{host}:crawl-delay"]


class SharedHostLimiter:
    """Downloader middleware: per-host delay and concurrency across all workers (see module)."""

    def __init__(self, crawler, server: redis.Redis):
        settings = crawler.settings
        self.server = server
        self.delay_ms = int(settings.getfloat("NEWS_HOST_DELAY") * 1000)
        self.concurrency = max(1, settings.getint("NEWS_HOST_CONCURRENCY"))
        self.slot_ms = int((settings.getfloat("DOWNLOAD_TIMEOUT") + 10) * 1000)
        self.max_crawl_delay = settings.getfloat("AUTOTHROTTLE_MAX_DELAY") or 60.0
        self.user_agent = settings.get("ROBOTSTXT_USER_AGENT") or "*"
        self.prefix = settings.get("NEWS_WORKER_ID", "")
        self.tokens = itertools.count()
        self._acquire = server.register_script(_ACQUIRE)
        self._pause = server.register_script(_PAUSE)
        crawler.signals.connect(self.robots_parsed, signal=signals.robots_parsed)

    @classmethod
    def from_crawler(cls, crawler) -> SharedHostLimiter:
        """Build from the crawler's settings (REDIS_URL, NEWS_HOST_DELAY, …)."""
        return cls(crawler, connect(crawler.settings["REDIS_URL"]))

    async def process_request(self, request: Request) -> None:
        """Wait until the host may be sent this request, then take a slot."""
        host = urlparse_cached(request).hostname or ""
        keys = host_keys(host)
        token = f"{self.prefix}:{next(self.tokens)}"
        waited = 0.0
        while True:
            wait = int(self._acquire(keys=keys, args=[self.delay_ms, self.concurrency, token,
                                                      self.slot_ms]))
            if wait <= 0:
                break
            waited += wait / 1000
            await asyncio.sleep(wait / 1000)
        if waited:
            HOST_WAIT.labels(host).inc(waited)
        request.meta[_TOKEN] = token

    def process_response(self, request: Request, response: Response) -> Response:
        """Give the slot back; a Retry-After pauses the host for every worker."""
        self._release(request)
        wait = asked_wait(response)
        if wait is not None:
            host = urlparse_cached(request).hostname or ""
            self._pause(keys=host_keys(host)[:1], args=[int(wait * 1000)])
        return response

    def process_exception(self, request: Request, exception: Exception) -> None:
        """Give the slot back after a failed download."""
        self._release(request)

    def _release(self, request: Request) -> None:
        token = request.meta.pop(_TOKEN, None)
        if token is not None:
            self.server.zrem(host_keys(urlparse_cached(request).hostname or "")[1], token)

    def robots_parsed(self, robotparser, request: Request) -> None:
        """Share a site's robots.txt Crawl-delay with every worker (a floor for the delay)."""
        delay = robotparser.crawl_delay(self.user_agent)
        if delay:
            host = urlparse_cached(request).hostname or ""
            ms = int(min(float(delay), self.max_crawl_delay) * 1000)
            self.server.set(host_keys(host)[2], ms, ex=86400)
            HOST_DELAY.labels(host).set(max(ms, self.delay_ms) / 1000)
