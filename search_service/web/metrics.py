"""GET /metrics: the web app's Prometheus metrics (prometheus_client's text format).

Counted per request: requests by route and status, latency by route, results-cache hits and
misses, searcher opens (a new commit makes each thread open a fresh searcher). Read at each
scrape from the index: its generation and article count; and, from the worker that answers the
scrape, the bytes and entries its bounded caches hold (`news_search_worker_cache_*`, labelled
with the worker's pid: a soak tells caches filling to their bounds from a leak by them). Under
`serve --workers N` every worker writes its counts to prometheus_client's multi-process
directory (created by the supervisor, `PROMETHEUS_MULTIPROC_DIR`) and a scrape of any worker
sums them all.
docs/operations.md lists every metric.
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any

from flask import Flask, Response, current_app, g, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily

from search_service import search
from search_service.web.data import CACHE_KEY, SEARCHERS_KEY, get_searcher

REQUESTS = Counter("news_search_http_requests", "HTTP requests answered, by route and status",
                   ["route", "status"])
LATENCY = Histogram("news_search_http_request_duration_seconds",
                    "Seconds from a request's arrival in the app to its response, by route",
                    ["route"], buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5,
                                        10))
CACHE = Counter("news_search_results_cache", "Search results-cache lookups, by result (hit, "
                "miss)", ["result"])
SEARCHER_OPENS = Counter("news_search_searcher_opens",
                         "Searchers opened (one per thread at start and after each commit)")

_seen = threading.local()

#: The labelled children of REQUESTS and LATENCY by (route, status) and route: `labels()`
#: checks and joins its arguments under a lock on every call, and the routes and statuses
#: are few (the app's rules, "unmatched", the statuses it answers).
_requests_by: dict[tuple[str, int], Any] = {}
_latency_by: dict[str, Any] = {}
_cache_by: dict[bool, Any] = {}


def _requests_child(route: str, status: int):
    child = _requests_by.get((route, status))
    if child is None:
        child = _requests_by[route, status] = REQUESTS.labels(route, str(status))
    return child


def _latency_child(route: str):
    child = _latency_by.get(route)
    if child is None:
        child = _latency_by[route] = LATENCY.labels(route)
    return child


class CountingResultsCache(search.ResultsCache):
    """The app's results cache, counting its hits and misses."""

    def looked_up(self, hit: bool) -> None:
        """Count a hit or a miss."""
        child = _cache_by.get(hit)
        if child is None:
            child = _cache_by[hit] = CACHE.labels("hit" if hit else "miss")
        child.inc()


class IndexCollector:
    """The index's generation and article count, read at each scrape."""

    def collect(self):
        """Yield the two gauges (nothing while there is no index)."""
        searcher = get_searcher()
        if searcher is None:
            return
        generation = GaugeMetricFamily("news_search_index_generation",
                                       "Generation of the index's latest commit")
        generation.add_metric([], searcher.reader().generation())
        articles = GaugeMetricFamily("news_search_index_articles", "Articles in the index")
        articles.add_metric([], searcher.doc_count())
        yield generation
        yield articles


class CacheCollector:
    """The bytes and entries of the answering worker's caches (decoded postings, scored terms,
    results), labelled with its pid; read at each scrape."""

    def __init__(self, results=None):
        self.results = results  # the app's results cache, if it has one

    def sizes(self) -> dict[str, tuple[float, float, float]]:
        """{cache: (bytes held, bytes bound, entries)} of this process (bytes 0 where the cache
        counts entries only)."""
        from search_service.search import executor, postings

        found: dict[str, tuple[float, float, float]] = {}
        cache = postings.shared_cache()
        found["postings"] = (cache.held, cache.limit, len(cache.entries))
        found["scored"] = executor.scored_sizes()
        if self.results is not None:
            found["results"] = (0, 0, len(self.results.entries))
        return found

    def collect(self):
        """Yield the gauges of bytes held, bytes bound and entries, by cache and pid."""
        pid = str(os.getpid())
        held = GaugeMetricFamily("news_search_worker_cache_bytes",
                                 "Bytes held by a worker's cache, by cache and pid",
                                 labels=["cache", "pid"])
        bound = GaugeMetricFamily("news_search_worker_cache_limit_bytes",
                                  "Byte bound of a worker's cache, by cache and pid",
                                  labels=["cache", "pid"])
        entries = GaugeMetricFamily("news_search_worker_cache_entries",
                                    "Entries held by a worker's cache, by cache and pid",
                                    labels=["cache", "pid"])
        for name, (size, limit, count) in self.sizes().items():
            if limit:
                held.add_metric([name, pid], size)
                bound.add_metric([name, pid], limit)
            entries.add_metric([name, pid], count)
        yield held
        yield bound
        yield entries


def register(app: Flask) -> None:
    """Count every request of `app` and serve GET /metrics."""
    app.extensions[CACHE_KEY] = CountingResultsCache()
    app.before_request(_started)
    app.after_request(_answered)
    app.add_url_rule("/metrics", "metrics", metrics_view)


def _started() -> None:
    g.metrics_started = time.perf_counter()


def _answered(response: Response) -> Response:
    """Record the request's route, status and latency, and a searcher opened for it."""
    rule = request.url_rule
    route = rule.rule if rule is not None else "unmatched"
    _requests_child(route, response.status_code).inc()
    started = g.get("metrics_started")
    if started is not None:
        _latency_child(route).observe(time.perf_counter() - started)
    searchers = current_app.extensions.get(SEARCHERS_KEY)
    current = getattr(getattr(searchers, "local", None), "searcher", None)
    if current is not None and current is not getattr(_seen, "searcher", None):
        _seen.searcher = current
        SEARCHER_OPENS.inc()
    return response


def metrics_view() -> Response:
    """All metrics in the Prometheus text format (every worker's, under --workers)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        text = generate_latest(registry)
    else:
        text = generate_latest(REGISTRY)
    index = CollectorRegistry()
    index.register(IndexCollector())
    index.register(CacheCollector(current_app.extensions.get(CACHE_KEY)))
    return Response(text + generate_latest(index), content_type=CONTENT_TYPE_LATEST)
