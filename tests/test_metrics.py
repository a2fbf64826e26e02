"""GET /metrics, read with prometheus_client's own text parser: counts move as requests
arrive, in one process and summed over the workers of `serve --workers 2`."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request

import pytest
import redis
from prometheus_client.parser import text_string_to_metric_families

from search_service.article import Article
from search_service.index.schema import open_index
from search_service.index.writer import write_articles
from search_service.web import create_app
from tests.support.metrics import parse, scrape, value
from tests.support.paths import ROOT
from tests.support.redis_server import redis_server
from tests.support.servers import free_port, get_json, serving, wait_for


def test_metrics_move_with_requests_in_one_process(index_dir):
    client = create_app({"INDEX_DIR": str(index_dir), "TESTING": True}).test_client()
    before = parse(client.get("/metrics").get_data(as_text=True))
    for _ in range(3):
        assert client.get("/api/search?q=nato").status_code == 200
    assert client.get("/api/search?q=nato&page=0").status_code == 400
    assert client.get("/no/such/page").status_code == 404
    after = parse(client.get("/metrics").get_data(as_text=True))

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert moved("news_search_http_requests_total", route="/api/search", status="200") == 3
    assert moved("news_search_http_requests_total", route="/api/search", status="400") == 1
    assert moved("news_search_http_requests_total", route="unmatched", status="404") == 1
    assert moved("news_search_http_request_duration_seconds_count", route="/api/search") == 4
    assert moved("news_search_results_cache_total", result="miss") == 1
    assert moved("news_search_results_cache_total", result="hit") == 2
    assert value(after, "news_search_index_articles") == 27

    write_articles(open_index(index_dir), [Article(
        url="https://late.example/z", canonical_url="https://late.example/z",
        title="Zeppelin returns", body="An airship flew over the lake. " * 10)])
    opened = value(after, "news_search_searcher_opens_total")
    assert client.get("/api/search?q=zeppelin").get_json()["total"] == 1
    later = parse(client.get("/metrics").get_data(as_text=True))
    assert value(later, "news_search_index_articles") == 28
    assert value(later, "news_search_index_generation") > value(after,
                                                                "news_search_index_generation")
    assert value(later, "news_search_searcher_opens_total") == opened + 1  # the new commit


def test_metrics_sum_every_worker_of_serve(index_dir):
    proc, base, log = serving(["serve", "--index", str(index_dir), "--workers", "2",
                               "--threads", "2"])
    try:
        before = scrape(base)
        for _ in range(20):
            assert get_json(base + "api/search?q=nato")["total"] == 1
        try:
            urllib.request.urlopen(base + "api/search?q=nato&page=0", timeout=10)
        except urllib.error.HTTPError as exc:
            assert exc.code == 400
        after = scrape(base)
        # the 20 searches went to both workers; any worker's scrape counts all of them
        assert (value(after, "news_search_http_requests_total", route="/api/search",
                      status="200")
                - value(before, "news_search_http_requests_total", route="/api/search",
                        status="200")) == 20
        assert value(after, "news_search_http_requests_total", route="/api/search",
                     status="400") == 1
        assert value(after, "news_search_http_request_duration_seconds_bucket",
                     route="/api/search", le="+Inf") == 21 + value(
            before, "news_search_http_request_duration_seconds_bucket", route="/api/search",
            le="+Inf")
        hits = value(after, "news_search_results_cache_total", result="hit")
        misses = value(after, "news_search_results_cache_total", result="miss")
        assert hits + misses == 20 and 1 <= misses <= 2  # once per worker at most
        assert value(after, "news_search_index_articles") == 27
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=40) == 0
    assert "Traceback" not in log()


def test_metrics_show_the_answering_workers_cache_sizes(index_dir, monkeypatch):
    client = create_app({"INDEX_DIR": str(index_dir), "TESTING": True}).test_client()
    from search_service.index import postings_file
    from search_service.search import executor

    # lists read from the segments' postings files are not cached: decode them here
    monkeypatch.setenv(postings_file.ENV, "0")
    executor.forget()  # the caches of earlier tests in this process
    pid = str(os.getpid())
    before = parse(client.get("/metrics").get_data(as_text=True))
    assert value(before, "news_search_worker_cache_bytes", cache="postings", pid=pid) == 0
    assert value(before, "news_search_worker_cache_entries", cache="results", pid=pid) == 0
    bound = value(before, "news_search_worker_cache_limit_bytes", cache="postings", pid=pid)
    assert bound > 0
    assert value(before, "news_search_worker_cache_limit_bytes", cache="scored",
                 pid=pid) == int(bound * executor.SCORED_SHARE)
    for word in ("nato", "oil", "bank"):
        assert client.get(f"/api/search?q={word}").status_code == 200
    after = parse(client.get("/metrics").get_data(as_text=True))
    assert value(after, "news_search_worker_cache_bytes", cache="postings", pid=pid) > 0
    assert value(after, "news_search_worker_cache_entries", cache="postings", pid=pid) >= 3
    assert value(after, "news_search_worker_cache_bytes", cache="scored", pid=pid) > 0
    assert value(after, "news_search_worker_cache_entries", cache="results", pid=pid) == 3
    executor.forget()
    emptied = parse(client.get("/metrics").get_data(as_text=True))
    assert value(emptied, "news_search_worker_cache_bytes", cache="postings", pid=pid) == 0


@pytest.mark.needs("redis-server")
def test_the_index_worker_reports_the_related_sidecars_lag(tmp_path):
    from search_service.crawl.scaleout.handoff import STREAM_KEY, article_entry
    from search_service.crawl.scaleout.indexer import ensure_group
    from search_service.index import related

    def hand(client: redis.Redis, numbers: range) -> None:
        for n in numbers:
            words = ["harbour ferry pier", "budget council vote", "storm flood rain"][n % 3]
            client.xadd(STREAM_KEY, article_entry(Article(
                url=f"http://news.test/{n}", canonical_url=f"http://news.test/{n}",
                title=f"Story {n}", body=f"{words} report{n} " * 20).to_json(), "w1"))

    def lag() -> float:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as answer:
            return value(parse(answer.read().decode()),
                         "news_search_related_sidecar_lag_articles")

    def known() -> int:
        side = related.load(tmp_path / "ix")
        return len(side) if side is not None else 0

    port = free_port()
    with redis_server(tmp_path / "redis") as url:
        client = redis.Redis.from_url(url)
        ensure_group(client)
        hand(client, range(20))
        index = subprocess.Popen(
            [sys.executable, "-m", "search_service.cli", "index-worker", "--redis", url,
             "--index", str(tmp_path / "ix"), "--interval", "0.2", "--related-every", "20",
             "--metrics-port", str(port)],
            cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True)
        try:
            wait_for(lambda: known() == 20, timeout=90, what="the first sidecar")
            wait_for(lambda: lag() == 0, timeout=60, what="no lag after the first sidecar")
            # the next refresh waits for --related-every after the first: the lag shows
            hand(client, range(20, 30))
            wait_for(lambda: lag() == 10, timeout=60, what="a lag of the 10 new articles")
            wait_for(lambda: lag() == 0, timeout=60, what="the lag gone after the refresh")
            assert known() == 30
        finally:
            index.send_signal(signal.SIGTERM)
            out, err = index.communicate(timeout=90)
        assert index.returncode == 0, err


def exported_samples(index_dir) -> tuple[set[str], set[str]]:
    """(every metric family, every sample name) the processes export: serve's from a real
    scrape of the app, the crawl workers' and the index-worker's from their registry."""
    from prometheus_client import REGISTRY

    import search_service.crawl.metrics  # noqa: F401  (registers the crawl and indexer metrics)

    suffixes = {"counter": ("_total", "_created"), "histogram": ("_bucket", "_sum", "_count",
                                                                   "_created"),
                "gauge": ("",)}
    families: set[str] = set()
    samples: set[str] = set()
    for family in REGISTRY.collect():
        if family.name.startswith("news_search_"):
            families.add(family.name)
            samples.update(family.name + s for s in suffixes[family.type])
    client = create_app({"INDEX_DIR": str(index_dir), "TESTING": True}).test_client()
    assert client.get("/api/search?q=nato").status_code == 200
    for family in text_string_to_metric_families(client.get("/metrics").get_data(as_text=True)):
        # (the parser makes a family of a counter's `_created` samples: not a metric of its own)
        if family.name.startswith("news_search_") and not family.name.endswith("_created"):
            families.add(family.name)
            samples.update(s.name for s in family.samples)
    return families, samples


def test_the_dashboard_and_the_docs_name_only_metrics_exported_and_all_of_them(index_dir):
    import json
    import re

    families, samples = exported_samples(index_dir)
    dashboard = json.loads((ROOT / "docs" / "grafana-dashboard.json").read_text())
    used = {name for panel in dashboard["panels"] for target in panel["targets"]
            for name in re.findall(r"news_search_\w+", target["expr"])}
    assert used - samples == set()  # every query names a metric that exists
    charted = {f for f in families if any(n == f or n.startswith(f + "_") for n in used)}
    assert families - charted == set()  # every metric has a panel
    documented = set(re.findall(r"`(news_search_\w+?)(?:_total)?`",
                                (ROOT / "docs" / "operations.md").read_text()))
    assert families - documented == set()  # every metric is in the docs' tables
