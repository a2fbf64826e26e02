"""The soak's own parts (benchmarks/soak.py): event times, the growth line, the cache sizes,
article count and allocator counters it reads from a real app's /metrics, the paced query
load against a real HTTP server, the revising site of `--fixed` over real HTTP and its end
check on a real index; and the allocator A/B's writer and queries (benchmarks/malloc_ab.py)
on a real index."""

from __future__ import annotations

import argparse
import json
import os
import threading
import time
import urllib.request
from email.utils import parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.error import HTTPError

import pytest

from benchmarks.malloc_ab import Writer, queries
from benchmarks.soak import (
    Load,
    build_pages,
    cache_sizes,
    check_revisions,
    event_at,
    growth,
    page_revision,
    revise_page,
    revised_at,
    revision_of,
    scalars,
    site_server,
    trims_line,
)
from search_service import memory
from search_service.index.schema import open_index
from search_service.index.writer import write_articles
from search_service.normalise import normalise
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


def test_revisions_go_round_robin_and_are_dated_in_turn():
    # 3 stories, 7 revisions: stories 0, 1, 2, 0, 1, 2, 0
    assert [revision_of(n, 7, 3) for n in range(3)] == [3, 2, 2]
    assert [revision_of(n, 0, 3) for n in range(3)] == [0, 0, 0]
    assert revised_at(0, 3, 3, 0.5, 100.0) == 100.0 + 7 * 0.5  # the 7th revision
    assert revised_at(2, 2, 3, 0.5, 100.0) == 100.0 + 6 * 0.5
    assert revised_at(1, 0, 3, 0.5, 100.0) == 100.0
    # each revision changes a sentence too, not only its number
    page = build_pages(1)[0][1]
    assert revise_page(page, 0) == page
    texts = [revise_page(page, r).replace(f"revision {r}.".encode(), b"") for r in (1, 2, 3)]
    assert len(set(texts)) == 3 and page not in texts


def fetch(url: str, etag: str = "") -> tuple[int, dict, str]:
    """GET `url` (conditional on `etag`): (status, headers, body)."""
    request = urllib.request.Request(url, headers={"If-None-Match": etag} if etag else {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, dict(response.headers), response.read().decode()
    except HTTPError as error:
        return error.code, dict(error.headers), ""


def lastmods(sitemap: str) -> dict[str, str]:
    """{path: lastmod} of a sitemap's entries."""
    entries = sitemap.split("<url><loc>")[1:]
    return {entry.split("</loc>")[0].split("/", 3)[3]: entry.split("<lastmod>")[1][:20]
            for entry in entries}


def test_the_fixed_site_revises_its_stories_in_turn_until_stopped():
    paths = [path for path, _ in build_pages(2)]
    server = site_server(2, 0, 1.0, fixed=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        first_map = lastmods(fetch(base + "/sitemap.xml")[2])  # starts the site's clock
        assert sorted(first_map) == sorted(p.lstrip("/") for p in paths)  # all out, listed
        status, before, old_body = fetch(base + paths[0])
        assert status == 200
        # wait for story 0's next revision (it may have had one already: the clock runs)
        while revision_of(0, int(fetch(base + "/__revisions")[2]), 2) <= page_revision(
                old_body):
            time.sleep(0.1)
        fetch(base + "/__stop")
        total = int(fetch(base + "/__revisions")[2])
        status, after, new_body = fetch(base + paths[0])
        latest_map = lastmods(fetch(base + "/sitemap.xml")[2])
        time.sleep(1.2)  # stopped: a second later nothing has moved
        assert int(fetch(base + "/__revisions")[2]) == total
        assert fetch(base + paths[0])[2] == new_body
        # the crawler's conditional request: the old ETag gets the new page, the new a 304
        status_old, _, body_old = fetch(base + paths[0], etag=before["ETag"])
        status_new = fetch(base + paths[0], etag=after["ETag"])[0]
    finally:
        server.shutdown()
        server.server_close()
    assert page_revision(new_body) == revision_of(0, total, 2) > page_revision(old_body)
    assert f"Updated: revision {page_revision(new_body)}. " in new_body
    assert after["ETag"] != before["ETag"]
    assert parsedate_to_datetime(after["Last-Modified"]) > parsedate_to_datetime(
        before["Last-Modified"])
    key = paths[0].lstrip("/")
    assert latest_map[key] > first_map[key]  # the sitemap's lastmod moved with it
    assert (status_old, body_old, status_new) == (200, new_body, 304)


def test_the_end_check_finds_stale_lost_and_duplicated_stories(tmp_path):
    pages = build_pages(4)
    paths = [path for path, _ in pages]

    def article(n: int, revision: int):
        return normalise(revise_page(pages[n][1], revision),
                         "http://127.0.0.1:8000" + paths[n]).article

    ix = open_index(tmp_path / "ix", create=True)
    # story 0 at its latest, 2; story 1 indexed at 0, then replaced by its latest, 1;
    # story 2 left at 0 while its latest is 1; story 3 never indexed
    write_articles(ix, [article(0, 2), article(1, 0), article(2, 0)])
    write_articles(ix, [article(1, 1)])
    with ix.searcher() as searcher:
        docs = list(searcher.all_stored_fields())
    latest = {paths[0]: 2, paths[1]: 1, paths[2]: 1, paths[3]: 0}
    assert len(docs) == 3  # the update replaced story 1's copy
    assert check_revisions(docs, latest, set(paths)) == ({paths[3]}, 0, {paths[2]})
    # a second copy of story 0 (an older revision: stale too), and a page the site never had
    older = {**next(d for d in docs if d["canonical_url"].endswith(paths[0])),
             "body": article(0, 1).body}
    stray = {**docs[0], "canonical_url": "http://127.0.0.1:8000/not/the/sites"}
    assert check_revisions(docs + [older, stray], latest, set(paths)) == (
        {paths[3]}, 2, {paths[0], paths[2]})
