"""The soak's own parts (benchmarks/soak.py): event times, the growth line, the cache sizes,
article count and allocator counters it reads from a real app's /metrics, and the paced query
load against a real HTTP server; and the allocator A/B's writer and queries
(benchmarks/malloc_ab.py) on a real index."""

from __future__ import annotations

import argparse
import json
import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from benchmarks.malloc_ab import Writer, queries
from benchmarks.soak import Load, cache_sizes, event_at, growth, scalars, trims_line
from search_service import memory
from search_service.index.schema import open_index
from search_service.web import create_app


def test_event_times_are_minutes_or_none():
    assert event_at("5") == 5.0 and event_at("0.5") == 0.5
    assert event_at("none") is None and event_at("0") is None and event_at("OFF") is None
    with pytest.raises(argparse.ArgumentTypeError):
        event_at("-3")
    with pytest.raises(ValueError):
        event_at("soon")


def test_growth_is_the_slope_after_the_warmup_in_percent_per_hour():
    # 100 MB rising 50 MB in the first 10 minutes (a warm-up), then 1 MB an hour
    samples = [(t, 100 + 50 * min(t, 600) / 600 + max(0, t - 600) / 3600)
               for t in range(0, 7200, 15)]
    pct, mean, used = growth(samples, 600)
    assert used == len([t for t, _ in samples if t >= 600])
    assert pct == pytest.approx(100 / mean, rel=1e-6)  # 1 MB/h of about 151 MB
    assert growth(samples, 0)[0] > 5 * pct  # the warm-up's ramp, counted, is far steeper


def test_cache_sizes_come_from_the_answering_worker(index_dir):
    client = create_app({"INDEX_DIR": str(index_dir), "TESTING": True}).test_client()
    assert client.get("/api/search?q=nato").status_code == 200
    sizes = cache_sizes(client.get("/metrics").get_data(as_text=True))
    assert list(sizes) == [str(os.getpid())]
    mine = sizes[str(os.getpid())]
    assert mine["postings MB"] > 0 and mine["scored MB"] > 0
    assert mine["results entries"] >= 1


def test_the_article_count_and_the_allocator_counters_come_from_metrics(index_dir):
    client = create_app({"INDEX_DIR": str(index_dir), "TESTING": True}).test_client()
    try:
        memory.configure(arenas=0, trim_every=3600)
        before = scalars(client.get("/metrics").get_data(as_text=True))
        assert memory.released(force=True)
        after = scalars(client.get("/metrics").get_data(as_text=True))
    finally:
        memory.configure(arenas=0, trim_every=0)
    assert after["news_search_index_articles"] == 27
    assert after["news_search_malloc_trims_total"] == before["news_search_malloc_trims_total"] + 1
    assert after["news_search_malloc_trim_seconds_total"] > before[
        "news_search_malloc_trim_seconds_total"]
    assert trims_line("serve", {"news_search_malloc_trims_total": 4,
                                "news_search_malloc_trim_seconds_total": 0.01,
                                "news_search_malloc_trim_released_bytes_total": 3 * 2**20}) == (
        "serve: 4 malloc_trim calls, 2.5 ms each on average, 3 MB given back in all")


def test_the_ab_writer_adds_new_articles_or_updates_the_same_ones(index_dir):
    start = open_index(index_dir).doc_count()
    growing = Writer(index_dir, 1.0, 5, start)
    growing.commit()
    growing.commit()
    assert growing.count == start + 10 == open_index(index_dir).doc_count()
    cycling = Writer(index_dir, 1.0, 5, growing.count, cycle=5)
    cycling.commit()
    assert cycling.count == start + 15
    cycling.commit()
    cycling.commit()  # the same 5 again: updates
    assert cycling.count == start + 15 == open_index(index_dir).doc_count()
    assert cycling.commits == 3


def test_the_ab_queries_are_seeded_url_encoded_and_mostly_distinct():
    stream = queries(2000)
    assert stream == queries(2000) and len(stream) == 2000
    assert all(" " not in q for q in stream) and any("+" in q for q in stream)
    assert any(q.startswith("%22") for q in stream)  # phrases, quoted
    assert len(set(stream)) > 1500


def test_a_paced_load_keeps_its_rate():
    hits: list[float] = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            hits.append(time.monotonic())
            body = json.dumps({"total": 0}).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        load = Load(f"http://127.0.0.1:{server.server_address[1]}/", ["a", "b"], clients=3,
                    rate=10)
        load.start()
        time.sleep(2.0)
        load.stop()
    finally:
        server.shutdown()
        server.server_close()
    # without pacing three clients on loopback send hundreds in 2 s; paced, at most 10/s
    assert 5 <= len(load.samples) <= 24
    assert all(ok for _, _, ok in load.samples)
