"""The crawl's and the index-worker's Prometheus metrics (prometheus_client), and the
`--metrics-port` HTTP endpoint that exposes them.

Every name starts with `news_search_`; docs/operations.md lists them with their meaning.
Labels are bounded: outcomes and reasons come from a fixed vocabulary (HTTP statuses,
exception class names), hosts from the sources file.
"""

from __future__ import annotations

import logging

from prometheus_client import Counter, Gauge, Histogram, start_http_server

log = logging.getLogger(__name__)

EVENTS = Counter("news_search_crawl_pages", "Crawl events by kind (indexed, handed, rejected, "
                 "refused, errors, unchanged, fresh, …) and reason", ["kind", "reason"])
RESPONSES = Counter("news_search_crawl_responses", "HTTP responses received, by status",
                    ["status"])
RESPONSE_BYTES = Counter("news_search_crawl_response_bytes",
                         "Bytes of HTTP response bodies received")
FRONTIER = Gauge("news_search_crawl_frontier_requests",
                 "Requests queued in the shared frontier (scaled-out crawl)")
LEASED = Gauge("news_search_crawl_leased_requests",
               "Requests this worker has taken from the frontier and not finished")
HOST_WAIT = Counter("news_search_crawl_host_wait_seconds",
                    "Seconds spent waiting for a host's politeness slot, by host", ["host"])
HOST_DELAY = Gauge("news_search_crawl_host_delay_seconds",
                   "The delay between two requests to a host (robots.txt Crawl-delay or the "
                   "configured delay)", ["host"])
REDIS_OUTAGES = Counter("news_search_redis_outages",
                        "Times a Redis command found Redis unreachable and waited for it")
INDEXER_ARTICLES = Counter("news_search_indexer_articles",
                           "Articles committed to the index by the index-worker")
INDEXER_COMMITS = Counter("news_search_indexer_commits", "Index commits by the index-worker")
INDEXER_RECLAIMED = Counter("news_search_indexer_reclaimed",
                            "Stream entries taken back from a stopped index-worker")
INDEXER_COMMIT_SECONDS = Histogram("news_search_indexer_commit_seconds",
                                   "Seconds per index commit (write, fsync, acknowledge)",
                                   buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))
STREAM_LAG = Gauge("news_search_indexer_stream_entries",
                   "Entries in the hand-off stream not yet committed (the indexer's lag)")
RELATED_AGE = Gauge("news_search_related_sidecar_lag_articles",
                    "Articles in the index that the related-articles sidecar does not know")


def serve_metrics(port: int, addr: str = "127.0.0.1") -> None:
    """Expose this process's metrics on http://ADDR:PORT/metrics (a daemon thread)."""
    start_http_server(port, addr=addr)
    log.info("metrics on http://%s:%d/metrics", addr, port)


class ResponseMetrics:
    """A Scrapy extension counting responses by status and their body bytes."""

    @classmethod
    def from_crawler(cls, crawler) -> ResponseMetrics:
        """Connect to the crawler's response signal."""
        from scrapy import signals

        extension = cls()
        crawler.signals.connect(extension.received, signal=signals.response_received)
        return extension

    def received(self, response, request, spider=None) -> None:
        """Count one response."""
        RESPONSES.labels(str(response.status)).inc()
        RESPONSE_BYTES.inc(len(response.body))
