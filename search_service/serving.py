"""Running the web app in production: the waitress WSGI server, in this process or in several
worker processes that share one listening socket.

One waitress process runs Python on one core at a time (its threads share the GIL), so on a
machine with several cores `serve --workers N` starts N worker processes. The parent binds the
socket, starts each worker as a fresh interpreter (`python -m search_service.serving`) that
inherits the socket, and supervises them: a worker that dies is started again, Ctrl-C or
SIGTERM stops them all. Each worker opens the index itself and sees new commits on its own.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

#: The X-Forwarded-* headers taken from a trusted proxy (others are dropped).
PROXY_HEADERS = "x-forwarded-for x-forwarded-host x-forwarded-proto x-forwarded-port"

#: A worker that dies sooner than this after starting counts as failing to start.
QUICK_DEATH_SECONDS = 5.0

#: Workers failing to start this many times in a row stop the server.
MAX_QUICK_DEATHS = 3


class ServeError(Exception):
    """The server could not start or keep its workers running (a message for the user)."""


def bind(host: str, port: int) -> socket.socket:
    """Bind and listen on `host`:`port` (0: a free port), IPv4 or IPv6."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                   flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise ServeError(f"cannot resolve host {host!r}: {exc.strerror}") from None
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError as exc:
        sock.close()
        raise ServeError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    sock.listen(1024)
    return sock


def make_app(index_dir: Path, settings: dict[str, Any] | None = None):
    """The app over `index_dir` with `settings`, wrapped to log one line per request."""
    from search_service.web import create_app
    from search_service.web.logging import AccessLog, enable_access_log

    try:
        app = create_app({"INDEX_DIR": str(index_dir), **(settings or {})})
    except ValueError as exc:  # a malformed setting in the environment
        raise ServeError(str(exc)) from None
    enable_access_log()
    return AccessLog(app)


def run_waitress(app, sock: socket.socket, threads: int,
                 trusted_proxy: str | None = None) -> None:
    """Serve `app` on the bound `sock` with `threads` threads until interrupted.
    X-Forwarded-* headers count only from `trusted_proxy`, and are dropped otherwise."""
    from waitress import create_server

    proxy = ({"trusted_proxy": trusted_proxy, "trusted_proxy_headers": PROXY_HEADERS}
             if trusted_proxy else {})
    server = create_server(app, sockets=[sock], threads=threads,
                           clear_untrusted_proxy_headers=True, **proxy)
    server.run()


def serve(index_dir: Path, host: str, port: int, threads: int,
          settings: dict[str, Any] | None = None, trusted_proxy: str | None = None,
          workers: int = 1) -> None:
    """Serve the app over `index_dir` on `host`:`port` with `workers` processes of `threads`
    threads each, until Ctrl-C or SIGTERM. Raises ServeError for what the user must fix."""
    app = make_app(index_dir, settings)  # also checks the settings before any worker starts
    sock = bind(host, port)
    shown_host = f"[{host}]" if ":" in host else host
    shape = f"{workers} worker processes x {threads} threads" if workers > 1 else (
        f"{threads} threads")
    print(f"Serving {index_dir} on http://{shown_host}:{sock.getsockname()[1]}/ "
          f"({shape}; Ctrl-C to stop)", flush=True)
    if workers == 1:
        run_waitress(app, sock, threads, trusted_proxy)
        return
    Supervisor(sock, worker_command(index_dir, threads, settings, trusted_proxy),
               workers).run()


def worker_command(index_dir: Path, threads: int, settings: dict[str, Any] | None,
                   trusted_proxy: str | None) -> list[str]:
    """The command line of one worker process (the socket's descriptor is added per start)."""
    command = [sys.executable, "-m", "search_service.serving", "--index", str(index_dir),
               "--threads", str(threads), "--settings", json.dumps(settings or {})]
    if trusted_proxy:
        command += ["--trusted-proxy", trusted_proxy]
    return command


class Supervisor:
    """Keeps `count` worker processes serving on `sock`: starts them, starts a dead one again,
    stops them all on Ctrl-C or SIGTERM, and gives up when workers keep dying at start."""

    def __init__(self, sock: socket.socket, command: list[str], count: int):
        self.sock = sock
        self.command = command + ["--fd", str(sock.fileno())]
        self.count = count
        self.workers: dict[int, tuple[subprocess.Popen, float]] = {}
        self.stopping = False
        self.quick_deaths = 0

    def start_worker(self) -> None:
        """Start one worker process that inherits the listening socket."""
        process = subprocess.Popen(self.command, pass_fds=(self.sock.fileno(),))
        self.workers[process.pid] = (process, time.monotonic())

    def stop(self, signum: int = signal.SIGTERM, frame=None) -> None:
        """Ask every worker to stop (the run loop then waits for them)."""
        self.stopping = True
        for process, _ in self.workers.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)

    def run(self) -> None:
        """Start the workers and watch them until told to stop."""
        previous = signal.signal(signal.SIGTERM, self.stop)
        try:
            for _ in range(self.count):
                self.start_worker()
            while not self.stopping:
                self.reap()
                time.sleep(0.2)
        except KeyboardInterrupt:
            self.stop()
        finally:
            self.stop()
            for process, _ in self.workers.values():
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
            signal.signal(signal.SIGTERM, previous)
            self.sock.close()

    def reap(self) -> None:
        """Start a new worker for each one that exited; raise if they keep dying at start."""
        for pid, (process, started) in list(self.workers.items()):
            code = process.poll()
            if code is None or self.stopping:
                continue
            del self.workers[pid]
            lived = time.monotonic() - started
            print(f"worker {pid} exited ({_exit_reason(code)}) after {lived:.0f} s; "
                  "starting another", file=sys.stderr, flush=True)
            self.quick_deaths = self.quick_deaths + 1 if lived < QUICK_DEATH_SECONDS else 0
            if self.quick_deaths >= MAX_QUICK_DEATHS:
                raise ServeError(f"workers keep exiting at start ({_exit_reason(code)}); "
                                 "see the messages above")
            self.start_worker()


def _exit_reason(code: int) -> str:
    """'exit code 1' or 'killed by SIGKILL'."""
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


def worker_main(argv: list[str] | None = None) -> int:
    """One worker process: serve on the inherited socket until SIGTERM or Ctrl-C."""
    parser = argparse.ArgumentParser(description="a `news-search serve --workers` worker")
    parser.add_argument("--fd", type=int, required=True)
    parser.add_argument("--index", type=Path, required=True)
    parser.add_argument("--threads", type=int, required=True)
    parser.add_argument("--settings", default="{}")
    parser.add_argument("--trusted-proxy")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    settings = json.loads(args.settings)
    if "CORS_ORIGINS" in settings:
        settings["CORS_ORIGINS"] = tuple(settings["CORS_ORIGINS"])
    sock = socket.socket(fileno=args.fd)
    try:
        run_waitress(make_app(args.index, settings), sock, args.threads, args.trusted_proxy)
    except KeyboardInterrupt:
        return 0
    except ServeError as exc:
        print(f"news-search serve worker: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(worker_main())
