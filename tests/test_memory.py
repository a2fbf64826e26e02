"""The allocator settings (search_service/memory.py) in real processes: the arena limit holds
in glibc, reaches every serve worker and the index-worker, and malloc_trim runs after the
index-worker's commits and a serve worker's searcher refresh, at most once per interval."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
import urllib.request

import redis

from search_service import config, memory
from search_service.article import Article
from search_service.index.schema import open_index
from search_service.index.writer import write_articles
from tests.support.metrics import parse, scrape, value
from tests.support.paths import ROOT
from tests.support.redis_server import redis_server
from tests.support.servers import free_port, get_json, serving, wait_for

#: Counts the malloc arenas of a process that ran 8 threads allocating at once (glibc's
#: malloc_info lists one <heap> per arena), after configure() with the arena limit of argv[1].
ARENAS_SCRIPT = textwrap.dedent("""
    import ctypes, sys, tempfile, threading
    from search_service import config, memory
    memory.configure(arenas=int(sys.argv[1]), trim_every=0)
    barrier = threading.Barrier(8)
    held = []
    def work():
        barrier.wait()
        held.append([bytearray(100_000) for _ in range(20)])  # malloc, below mmap's threshold
        barrier.wait()
    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads: t.start()
    for t in threads: t.join()
    libc = ctypes.CDLL(None)
    libc.fopen.restype = ctypes.c_void_p
    libc.fopen.argtypes = (ctypes.c_char_p, ctypes.c_char_p)
    libc.malloc_info.argtypes = (ctypes.c_int, ctypes.c_void_p)
    libc.fclose.argtypes = (ctypes.c_void_p,)
    with tempfile.NamedTemporaryFile(suffix=".xml") as out:
        stream = libc.fopen(out.name.encode(), b"w")
        libc.malloc_info(0, stream)
        libc.fclose(stream)
        print(open(out.name).read().count("<heap nr="))
""")


def arenas_used(limit: int) -> int:
    """The malloc arenas of a fresh process with the arena limit `limit` (0: glibc's)."""
    out = subprocess.run([sys.executable, "-c", ARENAS_SCRIPT, str(limit)], cwd=ROOT,
                         env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True,
                         text=True, timeout=60, check=True)
    return int(out.stdout)


def test_the_arena_limit_holds_where_glibc_would_give_each_thread_its_own():
    assert memory.glibc() is not None  # the test machine runs glibc
    assert arenas_used(0) > 2  # glibc's default: more arenas for the 8 threads
    assert arenas_used(2) == 2
    assert arenas_used(1) == 1


def test_a_trim_due_runs_in_a_thread_of_its_own():
    try:
        memory.configure(arenas=0, trim_every=3600)
        thread = memory.release_soon()
        assert thread is not None and thread is not threading.current_thread()
        thread.join(10)
        assert memory.current().trims == 1
        assert memory.release_soon() is None  # not due again within the hour
        memory.configure(arenas=0, trim_every=0)
        assert memory.release_soon() is None
    finally:
        memory.configure(arenas=0, trim_every=0)


def test_trims_are_rate_limited_and_off_at_zero():
    try:
        memory.configure(arenas=0, trim_every=3600)
        assert memory.released() is True  # the first one
        assert memory.released() is False  # within the hour
        assert memory.released(force=True) is True
        assert memory.current().trims == 2
        memory.configure(arenas=0, trim_every=0)
        assert memory.released(force=True) is False
        assert memory.current().trims == 0
    finally:
        memory.configure(arenas=0, trim_every=0)


def test_a_bad_setting_is_refused_with_a_clear_message(index_dir, monkeypatch):
    for bad in ("two", "-1"):
        done = subprocess.run(
            [sys.executable, "-m", "search_service.cli", "serve", "--index", str(index_dir),
             "--port", "0"], cwd=ROOT, capture_output=True, text=True, timeout=60,
            env={**os.environ, "PYTHONPATH": str(ROOT), memory.ARENAS_ENV: bad})
        assert done.returncode != 0
        assert f"$NEWS_SEARCH_MALLOC_ARENAS must be a number >= 0, not {bad!r}" in done.stderr
        assert "Traceback" not in done.stderr
    monkeypatch.setenv(memory.TRIM_ENV, "soon")
    try:
        config.env_malloc_trim_seconds()
    except ValueError as exc:
        assert str(exc) == "$NEWS_SEARCH_MALLOC_TRIM_SECONDS must be a number >= 0, not 'soon'"
    else:
        raise AssertionError("a bad trim interval was taken")


def test_serve_workers_take_the_setting_and_trim_after_a_refresh(index_dir):
    env = {**os.environ, "PYTHONPATH": str(ROOT), memory.ARENAS_ENV: "3",
           memory.TRIM_ENV: "0.5"}
    proc, base, log = serving(["serve", "--index", str(index_dir), "--workers", "2",
                               "--threads", "2"], env)
    try:
        first = scrape(base)
        arenas = {labels: v for (name, labels), v in first.items()
                  if name == "news_search_malloc_arena_max"}
        assert sorted(arenas.values()) == [3.0, 3.0]  # one per worker, labelled by pid
        for _ in range(10):
            get_json(base + "api/search?q=nato")
        assert value(scrape(base), "news_search_malloc_trims_total") == 0  # no refresh yet
        write_articles(open_index(index_dir), [Article(
            url="http://news.test/ferry", canonical_url="http://news.test/ferry",
            title="Harbour ferry", body="A harbour ferry story. " * 20)])

        def trimmed() -> bool:
            get_json(base + "api/search?q=ferry")  # a refreshed searcher gives memory back
            return value(scrape(base), "news_search_malloc_trims_total") >= 1

        wait_for(trimmed, timeout=30, what="a trim after the refresh")
        assert value(scrape(base), "news_search_malloc_trim_seconds_total") > 0
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=40) == 0
    assert "Traceback" not in log()


def index_worker_trims(tmp_path, trim_seconds: str) -> tuple[float, float, float]:
    """(commits, trims, arena limit) of an index-worker that indexed 3 batches of articles
    1 s apart with $NEWS_SEARCH_MALLOC_TRIM_SECONDS=`trim_seconds`."""
    from search_service.crawl.scaleout.handoff import STREAM_KEY, article_entry
    from search_service.crawl.scaleout.indexer import ensure_group

    port = free_port()

    def metrics() -> dict:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as answer:
            return parse(answer.read().decode())

    with redis_server(tmp_path / "redis") as url:
        client = redis.Redis.from_url(url)
        ensure_group(client)
        index = subprocess.Popen(
            [sys.executable, "-m", "search_service.cli", "index-worker", "--redis", url,
             "--index", str(tmp_path / "ix"), "--interval", "0.2", "--related-every", "0",
             "--metrics-port", str(port)],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env={**os.environ, "PYTHONPATH": str(ROOT), memory.TRIM_ENV: trim_seconds,
                 memory.ARENAS_ENV: "2"})
        try:
            for batch in range(3):
                with client.pipeline(transaction=True) as pipe:  # one batch, one commit
                    for n in range(batch * 5, batch * 5 + 5):
                        pipe.xadd(STREAM_KEY, article_entry(Article(
                            url=f"http://news.test/{n}", canonical_url=f"http://news.test/{n}",
                            title=f"Story {n}", body=f"harbour ferry report{n} " * 20
                        ).to_json(), "w1"))
                    pipe.execute()

                def committed(done: int = batch + 1) -> bool:
                    try:
                        return value(metrics(), "news_search_indexer_commits_total") >= done
                    except OSError:  # not listening yet
                        return False

                wait_for(committed, timeout=60, what=f"commit {batch + 1}")
                time.sleep(1.1)  # past the 0.5-s trim interval before the next batch
            found = metrics()
        finally:
            index.send_signal(signal.SIGTERM)
            out, err = index.communicate(timeout=90)
        assert index.returncode == 0, err
    return (value(found, "news_search_indexer_commits_total"),
            value(found, "news_search_malloc_trims_total"),
            value(found, "news_search_malloc_arena_max"))


def test_the_index_worker_trims_after_its_commits_at_most_once_per_interval(tmp_path):
    commits, trims, arenas = index_worker_trims(tmp_path / "often", "0.5")
    assert commits == 3 and trims == 3 and arenas == 2  # each commit 1 s after the last
    commits, trims, _ = index_worker_trims(tmp_path / "hourly", "3600")
    assert commits == 3 and trims == 1  # the first commit only
    commits, trims, _ = index_worker_trims(tmp_path / "never", "0")
    assert commits == 3 and trims == 0
