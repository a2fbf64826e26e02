"""A real redis-server for tests and benchmarks: started on a free loopback port with its
append-only file in a given directory, stopped afterwards."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import redis

from tests.support.servers import free_port, wait_for

#: The redis-server program (Debian's, unless another is first on the PATH).
REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"


def start_redis(directory: Path, port: int, fsync: str = "always") -> subprocess.Popen:
    """Start redis-server on 127.0.0.1:`port` with its append-only file in `directory` (fsync
    `always` or `everysec`); return once it answers."""
    directory.mkdir(parents=True, exist_ok=True)
    server = subprocess.Popen([REDIS_SERVER, "--port", str(port), "--bind", "127.0.0.1",
                               "--dir", str(directory), "--appendonly", "yes",
                               "--appendfsync", fsync, "--save", ""],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"redis://127.0.0.1:{port}/0"
    try:
        # A guard against a hang, not a time limit. It is this server that must answer: on a
        # port taken meanwhile (by another test's server) ours exits and the other answers.
        wait_for(lambda: server.poll() is not None or answers_as(url, server.pid),
                 timeout=60, what="redis")
    except AssertionError:
        server.kill()
        raise
    if server.poll() is not None:
        raise PortTaken(f"redis-server could not listen on 127.0.0.1:{port}")
    return server


class PortTaken(OSError):
    """redis-server exited at its start: its port was taken."""


@contextmanager
def redis_server(directory: Path, fsync: str = "always") -> Iterator[str]:
    """Run a fresh redis-server on a free loopback port (see `start_redis`; another port if
    that one is taken before the server listens); yield its URL."""
    for attempt in range(5):
        port = free_port()
        try:
            server = start_redis(directory, port, fsync)
            break
        except PortTaken:
            if attempt == 4:
                raise
    try:
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        server.terminate()
        server.wait(10)


def answers_as(url: str, pid: int) -> bool:
    """Whether the Redis server at `url` answers, and is process `pid`."""
    try:
        return redis.Redis.from_url(url).info("server")["process_id"] == pid
    except redis.ConnectionError:
        return False

