"""The shared crawl frontier in Redis: what every crawl worker of a scaled-out crawl agrees on.

scrapy-redis holds the queue of requests (its Scheduler, with `LeasedQueue` below as the queue
class). Added here, because scrapy-redis pops a request and forgets it:

- **Leases.** A worker pops a request and, in the same atomic step (a Lua script), records it
  in its own in-flight hash (`inflight:<worker>`). The lease is released once the page is done:
  its links are back in the frontier and its article (if any) is in the hand-off stream, or the
  request failed for good. A retried or redirected request pushed back to the frontier releases
  the lease it came from in the same step.
- **Heartbeats.** Each worker refreshes `alive:<worker>` (expiring after the lease time). Any
  worker that finds a registered worker without that key moves the dead worker's in-flight
  requests back to the queue (atomically: one worker wins), so the pages a SIGKILLed worker had
  taken are fetched again by someone else.
- **Seen URLs.** `seen` maps each page URL to when it was queued; a page is queued again only
  after its source's re-crawl interval (the shared duplicate filter and crawl history).
  Seeds, feeds and sitemaps are claimed once per re-crawl interval (`polled:<url>` with an
  expiry), so seeds given to every worker enter the frontier once.
- **Copies.** `copies` maps each page URL handed to the indexer to that copy's validators
  (ETag, Last-Modified) and fetch time, whichever worker fetched it, so that the worker that
  reads a sitemap or feed decides on a page as if it had fetched the page itself (each
  worker's own crawl history knows only its own fetches: a page another worker fetched was
  asked for in full, at each poll, until the polling worker happened to fetch it itself).
- **Idle.** The frontier is empty when the queue is empty and no worker holds a lease.
"""

from __future__ import annotations

import json
import logging
import os
import pickle
import socket
import time
from typing import Any

import redis
from redis.backoff import ExponentialBackoff
from redis.exceptions import BusyLoadingError
from redis.retry import Retry
from scrapy_redis.queue import FifoQueue

from search_service.archive.state import Fetched
from search_service.crawl.metrics import REDIS_OUTAGES

log = logging.getLogger(__name__)

#: Every key of a scaled-out crawl starts with this (pick the Redis database to separate crawls).
PREFIX = "news-search"
QUEUE_KEY = f"{PREFIX}:frontier"
DUPEFILTER_KEY = f"{PREFIX}:dupefilter"
WORKERS_KEY = f"{PREFIX}:workers"
SEEN_KEY = f"{PREFIX}:seen"
COPIES_KEY = f"{PREFIX}:copies"
#: Seconds a worker's claims outlive its last heartbeat.
DEFAULT_LEASE = 15.0

# Pop one request and lease it to the worker: KEYS queue, inflight hash, lease counter.
_POP = """
local data = redis.call('RPOP', KEYS[1])
if not data then return nil end
local lease = redis.call('INCR', KEYS[3])
redis.call('HSET', KEYS[2], lease, data)
return {lease, data}
"""
# Push a request back (a retry, a redirect) and release the lease it came from.
_PUSH_RELEASE = """
redis.call('LPUSH', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[2])
return 1
"""
# Move a dead worker's leased requests back to the queue; forget the worker.
_REQUEUE = """
local items = redis.call('HVALS', KEYS[2])
for _, data in ipairs(items) do redis.call('RPUSH', KEYS[1], data) end
redis.call('DEL', KEYS[2], KEYS[3])
redis.call('SREM', KEYS[4], ARGV[1])
return #items
"""
# Claim a page URL unless it was queued within the re-crawl interval, within the source's page
# cap for the interval: KEYS seen, page counter; ARGV url, now, interval, cap, interval (ms).
# 1: claimed; 0: queued recently; -1: the cap is reached.
_CLAIM_PAGE = """
local previous = redis.call('HGET', KEYS[1], ARGV[1])
if previous and tonumber(ARGV[2]) - tonumber(previous) < tonumber(ARGV[3]) then return 0 end
if tonumber(redis.call('GET', KEYS[2]) or '0') >= tonumber(ARGV[4]) then return -1 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
if redis.call('INCR', KEYS[2]) == 1 then redis.call('PEXPIRE', KEYS[2], ARGV[5]) end
return 1
"""




#: Longest wait between two attempts to reach Redis while it is down (seconds).
RECONNECT_CAP = 2.0


class RideThrough(Retry):
    """Retry a Redis command for as long as Redis cannot be reached (a restart, an outage),
    waiting 0.05 s, then twice as long each time up to RECONNECT_CAP; log the outage once and
    its end. Only connection errors are retried; a command's own error is raised at once."""

    def __init__(self):
        super().__init__(ExponentialBackoff(cap=RECONNECT_CAP, base=0.05), retries=-1,
                         supported_errors=(redis.ConnectionError, redis.TimeoutError,
                                           BusyLoadingError, ConnectionError, TimeoutError))

    def call_with_retry(self, do, fail, *args, **kwargs):
        """Run `do` until it gets through (see the class doc)."""
        failed: list[float] = []

        def note(error: Exception, *rest) -> None:
            if not failed:
                log.warning("Redis unreachable (%s): retrying until it is back", error)
                REDIS_OUTAGES.inc()
            failed.append(time.monotonic())
            fail(error, *rest)

        result = super().call_with_retry(do, note, *args, **kwargs)
        if failed:
            log.warning("Redis is back after %.1f s", time.monotonic() - failed[0])
        return result


def connect(url: str, **kwargs: Any) -> redis.Redis:
    """A Redis client for `url` that rides out Redis outages (see RideThrough)."""
    return RideThroughRedis.from_url(url, **kwargs)


class RideThroughRedis(redis.Redis):
    """redis.Redis whose `from_url` clients ride out outages (scrapy-redis's `redis_cls`)."""

    @classmethod
    def from_url(cls, url: str, **kwargs: Any) -> redis.Redis:
        """A client for `url` that retries commands while Redis is unreachable."""
        kwargs.setdefault("retry", RideThrough())
        kwargs["retry_on_error"] = [redis.ConnectionError, redis.TimeoutError,
                                    BusyLoadingError]
        kwargs.setdefault("socket_connect_timeout", 5)
        return super().from_url(url, **kwargs)


class WorkerIdBusy(Exception):
    """A live worker already uses this worker id."""


def default_worker_id() -> str:
    """A worker id unique on the machine and across machines: host name and process id."""
    return f"{socket.gethostname()}-{os.getpid()}"


def inflight_key(worker: str) -> str:
    """The hash of requests leased to `worker` (lease id → encoded request)."""
    return f"{PREFIX}:inflight:{worker}"


def alive_key(worker: str) -> str:
    """The heartbeat key of `worker` (expires when it stops refreshing it)."""
    return f"{PREFIX}:alive:{worker}"


def _lease_seq_key(worker: str) -> str:
    return f"{PREFIX}:lease-seq:{worker}"


class Frontier:
    """One worker's handle on the shared frontier: registration, heartbeat, leases, reaping
    dead workers, seen-URL claims and the shared idle test."""

    def __init__(self, server: redis.Redis, worker: str, lease_seconds: float = DEFAULT_LEASE):
        self.server = server
        self.worker = worker
        self.lease_ms = max(1, int(lease_seconds * 1000))
        self._pop = server.register_script(_POP)
        self._push_release = server.register_script(_PUSH_RELEASE)
        self._requeue = server.register_script(_REQUEUE)
        self._claim_page = server.register_script(_CLAIM_PAGE)
        self.empty_since: float | None = None

    # --- membership ------------------------------------------------------------------------

    def register(self) -> int:
        """Join the crawl (WorkerIdBusy if a live worker has this id); put back anything a
        dead worker of the same id left leased; return how many requests that was."""
        if not self.server.set(alive_key(self.worker), "1", nx=True, px=self.lease_ms):
            raise WorkerIdBusy(f"worker id {self.worker!r} is in use by a live worker (or one "
                               f"killed less than {self.lease_ms / 1000:g}s ago)")
        requeued = self.requeue(self.worker)
        self.server.sadd(WORKERS_KEY, self.worker)
        return requeued

    def beat(self) -> None:
        """Refresh this worker's heartbeat (and its membership, should a stall have had it
        taken for dead)."""
        with self.server.pipeline() as pipe:
            pipe.set(alive_key(self.worker), "1", px=self.lease_ms)
            pipe.sadd(WORKERS_KEY, self.worker)
            pipe.execute()

    def reap(self) -> int:
        """Requeue the leased requests of every registered worker whose heartbeat expired;
        return how many requests went back to the queue."""
        moved = 0
        for raw in self.server.smembers(WORKERS_KEY):
            worker = raw.decode()
            if worker != self.worker and not self.server.exists(alive_key(worker)):
                count = self.requeue(worker)
                if count:
                    log.warning("worker %s is gone: %d requests it had taken are back in the "
                                "frontier", worker, count)
                moved += count
        return moved

    def requeue(self, worker: str) -> int:
        """Move `worker`'s leased requests back to the queue and forget the worker."""
        return int(self._requeue(keys=[QUEUE_KEY, inflight_key(worker), _lease_seq_key(worker),
                                       WORKERS_KEY], args=[worker]))

    def leave(self) -> int:
        """Leave the crawl: requests still leased go back to the queue (an interrupted worker);
        return how many."""
        moved = self.requeue(self.worker)
        self.server.delete(alive_key(self.worker))
        return moved

    # --- leases ----------------------------------------------------------------------------

    def pop(self) -> tuple[str, bytes] | None:
        """Pop a request and lease it to this worker; (lease id, encoded request) or None."""
        found = self._pop(keys=[QUEUE_KEY, inflight_key(self.worker),
                                _lease_seq_key(self.worker)])
        if not found:
            return None
        lease, data = found
        return str(int(lease)), data

    def push(self, data: bytes, lease: str | None) -> None:
        """Push an encoded request; release `lease` (the request it came from) at once."""
        if lease:
            self._push_release(keys=[QUEUE_KEY, inflight_key(self.worker)], args=[data, lease])
        else:
            self.server.lpush(QUEUE_KEY, data)

    def release(self, lease: str) -> None:
        """The leased request is done: forget it."""
        self.server.hdel(inflight_key(self.worker), lease)

    def leased(self, worker: str | None = None) -> list[dict[str, Any]]:
        """The requests leased to `worker` (this one by default), decoded (for inspection)."""
        values = self.server.hvals(inflight_key(worker or self.worker))
        return [pickle.loads(value) for value in values]

    # --- seen URLs -------------------------------------------------------------------------

    def claim_page(self, url: str, interval: float, source: str = "",
                   cap: int | None = None) -> int:
        """Claim `url` for the frontier unless it was queued within `interval` seconds and
        while `source` has had fewer than `cap` pages claimed, by all workers together, since
        its first claim of the interval: 1 claimed, 0 queued recently, -1 the cap is reached."""
        limit = cap if cap is not None else 2**62
        return int(self._claim_page(keys=[SEEN_KEY, f"{PREFIX}:pages:{source}"],
                                    args=[url, time.time(), interval, limit,
                                          max(1, int(interval * 1000))]))

    def claim_poll(self, url: str, interval: float) -> bool:
        """Claim a seed, feed or sitemap fetch once per `interval` seconds across workers."""
        return bool(self.server.set(f"{PREFIX}:polled:{url}", "1", nx=True,
                                    px=max(1, int(interval * 1000))))

    # --- copies ----------------------------------------------------------------------------

    def copy_of(self, url: str) -> Fetched | None:
        """The last copy of the page `url` any worker handed on (None: none did)."""
        raw = self.server.hget(COPIES_KEY, url)
        if raw is None:
            return None
        found = json.loads(raw)
        return Fetched(url, found["source"], found["fetched_at"], found["etag"],
                       found["last_modified"])

    # --- idle ------------------------------------------------------------------------------

    def is_empty(self) -> bool:
        """Tell whether the frontier is empty: nothing queued, nothing leased by anyone."""
        if self.server.llen(QUEUE_KEY):
            return False
        workers = [raw.decode() for raw in self.server.smembers(WORKERS_KEY)]
        return not any(self.server.hlen(inflight_key(w)) for w in workers + [self.worker])

    def idle_seconds(self) -> float:
        """How long the frontier has been empty, as seen by this worker's checks (0 if not)."""
        if not self.is_empty():
            self.empty_since = None
            return 0.0
        now = time.monotonic()
        if self.empty_since is None:
            self.empty_since = now
        return now - self.empty_since


class LeasedQueue(FifoQueue):
    """scrapy-redis's FIFO queue whose pops are leased to the worker (see `Frontier`)."""

    def push(self, request) -> None:
        """Push a request; a retry or redirect of a leased request releases that lease."""
        self.spider.frontier.push(self._encode_request(request), request.meta.get("lease"))

    def pop(self, timeout: float = 0):
        """Pop and lease a request (the lease id goes in its meta), or None."""
        found = self.spider.frontier.pop()
        if found is None:
            return None
        lease, data = found
        request = self._decode_request(data)
        request.meta["lease"] = lease
        return request
