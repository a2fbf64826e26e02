"""Loopback servers for tests and benchmarks: free ports, polling, and `news-search serve`
started as a real subprocess on a free port."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(condition: Callable[[], object], timeout: float = 60, what: str = "") -> None:
    """Poll `condition` until it holds (a guard against hangs, not a timing assertion)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.02)


def start(argv: list[str], env: dict[str, str] | None = None) -> tuple[subprocess.Popen, str]:
    """Start a serving command (`serve`, `demo`) on a free port; return the process and its
    base URL."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "search_service.cli", *argv, "--port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        match = re.search(r"on (http://127\.0\.0\.1:\d+/)", line)
        if match:
            return proc, match.group(1)
        if proc.poll() is not None:
            raise AssertionError(f"server exited: {proc.stderr.read()}")
    proc.kill()
    raise AssertionError("server did not start in time")


def get_json(url: str) -> dict:
    """GET a URL over real HTTP and decode its JSON."""
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read())
