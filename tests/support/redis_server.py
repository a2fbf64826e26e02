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
    try:
        wait_for(lambda: pings(f"redis://127.0.0.1:{port}/0"), timeout=10, what="redis")
    except AssertionError:
        server.kill()
        raise
    return server


@contextmanager
def redis_server(directory: Path, fsync: str = "always") -> Iterator[str]:
    """Run a fresh redis-server on a free loopback port (see `start_redis`); yield its URL."""
    port = free_port()
    server = start_redis(directory, port, fsync)
    try:
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        server.terminate()
        server.wait(10)


def pings(url: str) -> bool:
    """Whether the Redis server at `url` answers a PING."""
    try:
        return bool(redis.Redis.from_url(url).ping())
    except redis.ConnectionError:
        return False
