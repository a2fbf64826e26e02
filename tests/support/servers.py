"""Loopback servers for tests and benchmarks: free ports, polling, and `news-search serve`
started as a real subprocess on a free port."""

from __future__ import annotations

import json
import queue
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path


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


def start(argv: list[str], env: dict[str, str] | None = None,
          timeout: float = 120) -> tuple[subprocess.Popen, str]:
    """Start a serving command (`serve`, `demo`) on a free port; return the process and its
    base URL once it says where it serves. `timeout` (seconds) guards against a hang, and
    holds even while the command prints nothing: its standard output is read by a thread
    (`demo` prints nothing for the minute or more it takes to index the sample)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "search_service.cli", *argv, "--port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=_forward, args=(proc.stdout, lines), daemon=True).start()
    deadline = time.monotonic() + timeout
    while (left := deadline - time.monotonic()) > 0:
        try:
            line = lines.get(timeout=min(left, 0.5))
        except queue.Empty:
            if proc.poll() is not None:
                raise AssertionError(f"server exited: {proc.stderr.read()}") from None
            continue
        match = re.search(r"on (http://127\.0\.0\.1:\d+/)", line)
        if match:
            return proc, match.group(1)
    proc.kill()
    raise AssertionError(f"server did not start within {timeout:g} s")


def _forward(stream, into: queue.Queue) -> None:
    """Put each line of `stream` into `into` until the stream ends."""
    for line in stream:
        into.put(line)


def get_json(url: str) -> dict:
    """GET a URL over real HTTP and decode its JSON."""
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read())


def serving(argv: list[str], env: dict[str, str] | None = None):
    """Start a serving command (see `start`) whose stderr is read as it comes (a full pipe
    would block the server under load); return the process, its base URL and a function
    giving the stderr text so far."""
    proc, base = start(argv, env)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(proc.stderr), daemon=True)
    reader.start()

    def log() -> str:
        if proc.poll() is not None:
            reader.join(10)
        return "".join(lines)

    return proc, base, log


def workers_of(pid: int) -> set[int]:
    """The child processes of `pid` (Linux /proc)."""
    text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    return {int(child) for child in text.split()}


def wait_until(condition, seconds: float = 60.0):
    """Poll `condition` until it returns a true value (returned) or `seconds` pass."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"not true within {seconds:g} s: {condition.__name__}")


def alive(pid: int) -> bool:
    """Whether process `pid` still exists (zombies count as gone)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except FileNotFoundError:
        return False
