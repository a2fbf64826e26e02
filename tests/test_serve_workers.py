"""`serve --workers N` over real HTTP: N worker processes share the port, a killed worker is
replaced while the others keep answering, every worker sees new commits, SIGTERM stops all."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

from search_service.article import Article
from search_service.index.schema import open_index
from search_service.index.writer import write_articles
from tests.support.servers import alive, get_json, start, wait_until, workers_of


def test_workers_share_the_port_survive_a_kill_and_see_commits(index_dir):
    proc, base = start(["serve", "--index", str(index_dir), "--workers", "2",
                        "--threads", "2"])
    try:
        first = wait_until(lambda: len(workers_of(proc.pid)) == 2 and workers_of(proc.pid))
        for _ in range(6):
            assert get_json(base + "api/search?q=nato")["total"] == 1

        victim = min(first)
        os.kill(victim, signal.SIGKILL)
        # The survivor answers meanwhile (the port stays open in the parent and the other).
        assert get_json(base + "api/health")["articles"] == 27
        second = wait_until(lambda: len(workers_of(proc.pid)) == 2
                          and victim not in workers_of(proc.pid) and workers_of(proc.pid))
        assert len(second & first) == 1

        write_articles(open_index(index_dir), [Article(
            url="https://late.example/z", canonical_url="https://late.example/z",
            title="Zeppelin returns", body="An airship flew over the lake. " * 10)])

        def every_answer_has_it() -> bool:
            return all(get_json(base + "api/search?q=zeppelin")["total"] == 1
                       for _ in range(12))
        wait_until(every_answer_has_it, 30)
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=20)
    assert code == 0
    assert not any(alive(pid) for pid in first | second)
    log = proc.stderr.read()
    assert f"worker {victim} exited (killed by SIGKILL)" in log
    assert "Traceback" not in log


def test_workers_report_a_bad_setting_before_starting(index_dir, monkeypatch):
    monkeypatch.setenv("NEWS_SEARCH_CORS_ORIGINS", "not an origin")
    done = subprocess.run([sys.executable, "-m", "search_service.cli", "serve", "--index",
                           str(index_dir), "--workers", "2", "--port", "0"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert "error:" in done.stderr and "Traceback" not in done.stderr
