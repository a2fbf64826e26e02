"""The one indexer of a scaled-out crawl (`news-search index-worker`): the only process that
writes the Whoosh index.

It reads normalised articles from the Redis stream in a consumer group, writes them through
the single writer (`ArticleWriter`: updates by canonical URL, so an article delivered twice is
an update, never a copy), commits, and only then acknowledges (and deletes) the entries. Killed
at any moment, it loses nothing: on start it first takes back every entry delivered but not
acknowledged (XAUTOCLAIM), then reads new ones.
"""

from __future__ import annotations

import json
import logging
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import redis

from search_service import memory
from search_service.article import Article
from search_service.crawl.metrics import (
    INDEXER_ARTICLES,
    INDEXER_COMMIT_SECONDS,
    INDEXER_COMMITS,
    INDEXER_RECLAIMED,
    STREAM_LAG,
)
from search_service.crawl.scaleout.frontier import DEFAULT_LEASE, PREFIX, WORKERS_KEY, alive_key
from search_service.crawl.scaleout.handoff import GROUP, STREAM_KEY
from search_service.index.schema import open_index
from search_service.index.writer import ArticleWriter

log = logging.getLogger(__name__)

CONSUMER = "indexer"
LOCK_KEY = f"{PREFIX}:indexer"


class IndexerBusy(Exception):
    """Another index-worker holds the indexer lock."""


@dataclass
class IndexerSummary:
    """What an index-worker did: entries read, articles committed, commits, re-delivered."""

    read: int = 0
    committed: int = 0
    commits: int = 0
    reclaimed: int = 0
    seconds: float = 0.0


def ensure_group(server: redis.Redis) -> None:
    """Create the stream and the indexer's consumer group if they do not exist yet."""
    try:
        server.xgroup_create(STREAM_KEY, GROUP, id="0", mkstream=True)
    except redis.ResponseError as exc:
        if "BUSYGROUP" not in str(exc):
            raise


class IndexWorker:
    """Stream → index: commit every `batch` articles or `interval` seconds, ack after commit."""

    def __init__(self, server: redis.Redis, index_dir: Path, batch: int = 500,
                 interval: float = 2.0, lease_seconds: float = DEFAULT_LEASE):
        self.server = server
        self.index_dir = Path(index_dir)
        self.batch = batch
        self.interval = interval
        self.lease_ms = max(1, int(lease_seconds * 1000))
        self.summary = IndexerSummary()
        self.writer = ArticleWriter(open_index(self.index_dir, create=True), batch=sys.maxsize,
                                    interval=float("inf"))
        self.unacked: list[bytes] = []
        #: Entries delivered this long ago and not acknowledged were lost on the way.
        self.lost_after = max(60.0, 10 * interval)
        self.last_commit = time.monotonic()
        self.stopping = False

    def lock(self, wait: float) -> None:
        """Take the indexer lock (one index-worker per crawl), waiting up to `wait` seconds
        for the lock of a killed one to expire; IndexerBusy otherwise."""
        deadline = time.monotonic() + wait
        while not self.server.set(LOCK_KEY, "1", nx=True, px=self.lease_ms):
            if time.monotonic() >= deadline:
                raise IndexerBusy("another index-worker is running on this Redis")
            time.sleep(0.2)

    def run(self, idle_exit: float | None = None,
            on_commit: Callable[[IndexerSummary], None] | None = None) -> IndexerSummary:
        """Index until stopped (SIGTERM/Ctrl-C), or until the stream has been empty and no
        crawl worker alive for `idle_exit` seconds; commit and acknowledge what was read
        before returning."""
        started = time.monotonic()
        ensure_group(self.server)
        self.lock(wait=self.lease_ms / 1000 + 1)
        previous = signal.signal(signal.SIGTERM, self._stop)
        try:
            self._reclaim()
            quiet_since = time.monotonic()
            checked = time.monotonic()
            while not self.stopping:
                if time.monotonic() - checked >= self.lost_after:
                    checked = time.monotonic()
                    self._reclaim(self.lost_after)
                self.server.set(LOCK_KEY, "1", px=self.lease_ms)
                block = int(max(0.05, min(0.5, self.interval)) * 1000)
                found = self.server.xreadgroup(GROUP, CONSUMER, {STREAM_KEY: ">"},
                                               count=self.batch, block=block)
                entries = found[0][1] if found else []
                self._add(entries)
                if self._due():
                    self.commit(on_commit)
                if entries or self.unacked or (idle_exit is not None
                                               and live_workers(self.server)):
                    quiet_since = time.monotonic()
                elif idle_exit is not None and time.monotonic() - quiet_since >= idle_exit:
                    break
            self.commit(on_commit)
        finally:
            signal.signal(signal.SIGTERM, previous)
            self.server.delete(LOCK_KEY)
        self.summary.seconds = time.monotonic() - started
        return self.summary

    def _stop(self, *_: object) -> None:
        self.stopping = True

    def _reclaim(self, idle: float = 0.0) -> None:
        """Take back the entries delivered to a killed indexer but never acknowledged (with
        `idle`: those delivered more than `idle` seconds ago, whose delivery a Redis outage
        cut off before this process read them)."""
        cursor = "0-0"
        held = set(self.unacked)
        found = 0
        while True:
            cursor, entries, *_ = self.server.xautoclaim(STREAM_KEY, GROUP, CONSUMER,
                                                         min_idle_time=int(idle * 1000),
                                                         start_id=cursor, count=self.batch)
            entries = [entry for entry in entries
                       if entry and entry[1] and entry[0] not in held]
            found += len(entries)
            self.summary.reclaimed += len(entries)
            INDEXER_RECLAIMED.inc(len(entries))
            self._add(entries)
            if len(self.unacked) >= self.batch:
                self.commit()
            if cursor in (b"0-0", "0-0"):
                break
        if found:
            log.warning("took back %d articles delivered but never committed", found)

    def _add(self, entries: list) -> None:
        """Queue the articles of `entries` in the writer (not committed yet)."""
        for entry_id, fields in entries:
            self.unacked.append(entry_id)
            self.summary.read += 1
            try:
                article = Article.from_json(json.loads(fields[b"article"]))
            except (KeyError, TypeError, ValueError) as exc:  # a malformed entry: drop it
                log.warning("stream entry %s is not an article: %s", entry_id, exc)
                continue
            self.writer.add(article)

    def _due(self) -> bool:
        return bool(self.unacked) and (len(self.unacked) >= self.batch
                                       or time.monotonic() - self.last_commit >= self.interval)

    def commit(self, on_commit: Callable[[IndexerSummary], None] | None = None) -> None:
        """Commit the queued articles, then acknowledge and delete their stream entries."""
        self.last_commit = time.monotonic()
        if not self.unacked:
            return
        began = time.monotonic()
        pending = len(self.writer.pending)
        self.writer.flush()
        memory.released()  # a commit (and its merges) frees much: give it back, rate-limited
        # Acknowledged only after the commit; re-sent after a Redis outage if the reply was
        # lost (XACK and XDEL of entries already gone do nothing).
        with self.server.pipeline() as pipe:
            pipe.xack(STREAM_KEY, GROUP, *self.unacked)
            pipe.xdel(STREAM_KEY, *self.unacked)
            pipe.execute()
        self.unacked = []
        self.summary.committed += pending
        self.summary.commits += 1
        INDEXER_ARTICLES.inc(pending)
        INDEXER_COMMITS.inc()
        INDEXER_COMMIT_SECONDS.observe(time.monotonic() - began)
        STREAM_LAG.set(self.server.xlen(STREAM_KEY))
        if on_commit is not None:
            on_commit(self.summary)


def live_workers(server: redis.Redis) -> list[str]:
    """The crawl workers registered in the frontier whose heartbeat is fresh."""
    return [raw.decode() for raw in server.smembers(WORKERS_KEY)
            if server.exists(alive_key(raw.decode()))]
