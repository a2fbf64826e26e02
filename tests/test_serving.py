"""Stopping and restarting `news-search serve` as an operator does, over real HTTP: SIGTERM
lets slow requests in flight finish (within `--grace`), SIGHUP replaces the workers one by one
with no request failed under load, and a supervisor killed by SIGKILL leaves no worker behind."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from urllib.parse import urlsplit

import pytest

from tests.support.servers import alive, get_json, serving, wait_until, workers_of


class SlowClient(threading.Thread):
    """Sends `GET /api/search?q=nato` with a body of `chunks` x 100 bytes, one chunk every
    `pause` seconds (a slow upload: the request is in flight all along), then reads the
    answer; `started` is set after the first chunk; `status`, `data` and `error` tell how it
    ended."""

    def __init__(self, base: str, chunks: int, pause: float):
        super().__init__(daemon=True)
        self.address = (urlsplit(base).hostname, urlsplit(base).port)
        self.chunks = chunks
        self.pause = pause
        self.started = threading.Event()
        self.status = 0
        self.data: dict | None = None
        self.error: Exception | None = None

    def run(self) -> None:
        try:
            with socket.create_connection(self.address, timeout=60) as sock:
                sock.sendall(b"GET /api/search?q=nato HTTP/1.1\r\nHost: localhost\r\n"
                             b"Connection: close\r\n"
                             + f"Content-Length: {self.chunks * 100}\r\n\r\n".encode())
                for _ in range(self.chunks):
                    sock.sendall(b"x" * 100)
                    self.started.set()
                    time.sleep(self.pause)
                response = http.client.HTTPResponse(sock)
                response.begin()
                self.status = response.status
                self.data = json.loads(response.read())
        except Exception as exc:  # the test asserts on it
            self.error = exc
        finally:
            self.started.set()


def refused(base: str) -> bool:
    """Whether a new connection to the server is refused."""
    try:
        urllib.request.urlopen(base + "api/health", timeout=2)
    except (urllib.error.URLError, ConnectionError):
        return True
    return False


@pytest.mark.parametrize("workers", [1, 2])
def test_sigterm_lets_requests_in_flight_finish(index_dir, workers):
    proc, base, log = serving(["serve", "--index", str(index_dir), "--workers", str(workers),
                        "--threads", "4"])
    try:
        clients = [SlowClient(base, chunks=20, pause=0.1) for _ in range(3)]
        for client in clients:
            client.start()
        for client in clients:
            assert client.started.wait(30)
        sent = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        for client in clients:
            client.join(60)
        code = proc.wait(timeout=40)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert code == 0
    for client in clients:
        assert client.error is None
        assert client.status == 200 and client.data["total"] == 1
    # each upload went on for about 2 s after the signal: the stop waited for them
    assert time.monotonic() - sent > 1.5
    assert refused(base)
    assert "Traceback" not in log()


def test_the_grace_period_bounds_the_stop(index_dir):
    proc, base, log = serving(["serve", "--index", str(index_dir), "--grace", "1",
                                "--threads", "2"])
    try:
        client = SlowClient(base, chunks=100, pause=0.3)  # would take 30 s
        client.start()
        assert client.started.wait(30)
        sent = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=20)
        stopped = time.monotonic() - sent
        client.join(40)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert code == 0
    assert 0.9 < stopped < 8
    assert client.error is not None and client.status == 0  # cut at the end of the grace
    assert "grace period of 1s over: closing 1 connections still busy" in log()


def test_sighup_replaces_every_worker_with_no_request_failed(index_dir):
    proc, base, log = serving(["serve", "--index", str(index_dir), "--workers", "2",
                        "--threads", "2"])
    done = threading.Event()
    failures: list[str] = []
    answered = [0]

    def load() -> None:
        while not done.is_set():
            try:
                assert get_json(base + "api/search?q=nato")["total"] == 1
                answered[0] += 1
            except Exception as exc:  # counted: the test asserts there are none
                failures.append(f"{time.monotonic():.1f} {exc!r}")

    try:
        first = wait_until(lambda: len(workers_of(proc.pid)) == 2 and workers_of(proc.pid))
        clients = [threading.Thread(target=load, daemon=True) for _ in range(4)]
        for client in clients:
            client.start()
        time.sleep(1)
        before = answered[0]
        proc.send_signal(signal.SIGHUP)
        second = wait_until(lambda: (workers := workers_of(proc.pid)) and len(workers) == 2
                          and not workers & first and workers, 90)
        time.sleep(1)
        done.set()
        for client in clients:
            client.join(20)
        assert failures == []
        assert answered[0] > before + 20  # the load went on through the restart
        assert not any(alive(pid) for pid in first)
        assert all(alive(pid) for pid in second)
    finally:
        done.set()
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=40)
    assert code == 0
    text = log()
    assert "rolling restart of 2 workers" in text and "rolling restart done" in text
    assert "exited" not in text  # no worker died: each was stopped by the restart


def test_a_killed_supervisor_leaves_no_worker(index_dir):
    proc, base, log = serving(["serve", "--index", str(index_dir), "--workers", "2",
                        "--threads", "2"])
    children: set[int] = set()
    try:
        children = wait_until(lambda: len(workers_of(proc.pid)) == 2 and workers_of(proc.pid))
        assert get_json(base + "api/health")["articles"] == 27
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        wait_until(lambda: not any(alive(pid) for pid in children), 15)
    finally:
        for pid in children:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
    assert refused(base)  # nobody holds the port any more


def cli(*argv: str) -> subprocess.CompletedProcess:
    """Run `news-search ARGV` as an operator does (its own process)."""
    return subprocess.run([sys.executable, "-m", "search_service.cli", *argv],
                          capture_output=True, text=True, timeout=120)


#: The two articles of the fixtures that mention NATO (near-copies: one story in results).
NATO_COPIES = ("https://dispatch.example/world/nato-ukraine-military-involvement",
               "https://balticwire.example/2023/07/nato-ukraine")


def test_a_running_serve_sees_deletes_and_merges_without_a_restart(index_dir):
    # one thread: every request goes through the same searcher, refreshed after each commit
    proc, base, log = serving(["serve", "--index", str(index_dir), "--threads", "1"])
    try:
        assert get_json(base + "api/health")["articles"] == 27
        assert get_json(base + "api/search?q=nato")["total"] == 1  # one story, two copies

        done = cli("delete", "--index", str(index_dir), *NATO_COPIES)
        assert done.returncode == 0, done.stderr
        assert get_json(base + "api/health")["articles"] == 25
        assert get_json(base + "api/search?q=nato")["total"] == 0

        # a merge of every segment: the merged-away segments must not stay counted
        done = cli("optimize", "--index", str(index_dir))
        assert done.returncode == 0, done.stderr
        assert get_json(base + "api/health")["articles"] == 25
        assert get_json(base + "api/search?q=nato")["total"] == 0
        assert proc.poll() is None  # the same process all along
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    assert "Traceback" not in log()


def test_sighup_to_a_single_process_serve_is_reported_and_serving_goes_on(index_dir):
    proc, base, log = serving(["serve", "--index", str(index_dir), "--threads", "2"])
    try:
        client = SlowClient(base, chunks=10, pause=0.1)  # in flight across the signal
        client.start()
        assert client.started.wait(30)
        proc.send_signal(signal.SIGHUP)
        wait_until(lambda: "SIGHUP: serve without --workers" in log(), 15)
        client.join(30)
        assert client.error is None and client.status == 200
        assert client.data["total"] == 1
        assert proc.poll() is None
        assert get_json(base + "api/search?q=nato")["total"] == 1
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=30)
    assert code == 0  # and SIGTERM still stops it gracefully


def test_sighup_to_the_process_group_restarts_workers_without_killing_them(index_dir):
    # a terminal hangup reaches the supervisor and its workers alike: the workers ignore it
    proc, base, log = serving(["serve", "--index", str(index_dir), "--workers", "2",
                               "--threads", "2"])
    try:
        first = wait_until(lambda: len(workers_of(proc.pid)) == 2 and workers_of(proc.pid))
        for pid in first:
            os.kill(pid, signal.SIGHUP)
        time.sleep(1)
        assert all(alive(pid) for pid in first)
        assert get_json(base + "api/search?q=nato")["total"] == 1
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=40)
    assert code == 0
    assert "exited" not in log()


def test_a_new_worker_slower_than_the_ready_timeout_stops_the_restart(index_dir):
    # a worker takes a good part of a second to import and open the index: 0.05 s is too
    # short, so the rolling restart stops at the first new worker and the old ones go on
    proc, base, log = serving(["serve", "--index", str(index_dir), "--workers", "2",
                               "--threads", "2", "--ready-timeout", "0.05"])
    try:
        first = wait_until(lambda: len(workers_of(proc.pid)) == 2 and workers_of(proc.pid))
        proc.send_signal(signal.SIGHUP)
        wait_until(lambda: "rolling restart stopped" in log(), 30)
        assert wait_until(lambda: workers_of(proc.pid) == first, 30)  # the new one discarded
        assert get_json(base + "api/search?q=nato")["total"] == 1
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=40)
    assert code == 0
    assert "not listening within 0.05 s (serve --ready-timeout)" in log()
    assert "rolling restart done" not in log()


@pytest.mark.parametrize("value", ["0", "-1", "soon"])
def test_a_bad_ready_timeout_is_refused(index_dir, value):
    done = subprocess.run([sys.executable, "-m", "search_service.cli", "serve", "--index",
                           str(index_dir), "--workers", "2", "--ready-timeout", value],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "--ready-timeout" in done.stderr and value in done.stderr
