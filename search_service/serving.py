"""Running the web app in production: the waitress WSGI server, in this process or in several
worker processes that share one listening socket, with graceful stops and rolling restarts.

One waitress process runs Python on one core at a time (its threads share the GIL), so on a
machine with several cores `serve --workers N` starts N worker processes. The parent binds the
socket, starts each worker as a fresh interpreter (`python -m search_service.serving`) that
inherits the socket, and supervises them: a worker that dies is started again.

Signals (docs/operations.md):
- **SIGTERM / Ctrl-C**: every process stops accepting connections, lets the requests in
  flight finish (at most `grace` seconds, then closes what is left) and exits.
- **SIGHUP** (with workers): a rolling restart. One worker at a time, a new worker is started
  and, once it is listening, the old one is stopped gracefully; the others keep serving. The
  workers themselves ignore SIGHUP (a hangup sent to the whole process group is the
  supervisor's to act on). Without workers there is nothing to replace without a gap: the
  process says so on stderr and goes on serving (it sees new commits without a signal).
- **The supervisor dying by any signal**, SIGKILL included: each worker is told by the kernel
  (`PR_SET_PDEATHSIG` on Linux, and a watch of its parent elsewhere) and stops gracefully, so
  no worker is left holding the port.
Each worker opens the index itself and sees new commits on its own. With workers, metrics go
through prometheus_client's multi-process directory, which the supervisor creates.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import logging
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from search_service import memory
from search_service.waitress_compat import channel_map

log = logging.getLogger(__name__)

#: The X-Forwarded-* headers taken from a trusted proxy (others are dropped).
PROXY_HEADERS = "x-forwarded-for x-forwarded-host x-forwarded-proto x-forwarded-port"

#: A worker that dies sooner than this after starting counts as failing to start.
QUICK_DEATH_SECONDS = 5.0

#: Workers failing to start this many times in a row stop the server.
MAX_QUICK_DEATHS = 3

#: Seconds requests in flight may take to finish after SIGTERM (`serve --grace`).
DEFAULT_GRACE = 30.0

#: Seconds a connection without a request must have been quiet before a stopping server
#: closes it (a connection just accepted has not sent its request yet).
IDLE_CLOSE = 1.0

#: Seconds a new worker may take to listen during a rolling restart before it is given up
#: (`serve --ready-timeout`).
READY_TIMEOUT = 60.0

#: prometheus_client's environment variable naming its multi-process directory.
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

_PR_SET_PDEATHSIG = 1


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


class GracefulServer:
    """A waitress server over a bound socket that stops gracefully: `stop()` closes the
    listening socket, closes each connection once it has no request left, and ends `run()`
    when every request has been answered or `grace` seconds have passed."""

    def __init__(self, app, sock: socket.socket, threads: int, grace: float = DEFAULT_GRACE,
                 trusted_proxy: str | None = None):
        from waitress import create_server

        proxy = ({"trusted_proxy": trusted_proxy, "trusted_proxy_headers": PROXY_HEADERS}
                 if trusted_proxy else {})
        self.server = create_server(app, sockets=[sock], threads=threads,
                                    clear_untrusted_proxy_headers=True, **proxy)
        self.grace = grace
        self.stopping = threading.Event()
        self.left: int = 0

    def run(self) -> None:
        """Serve until stopped; return once the requests in flight are done (or cut)."""
        self.server.run()
        self.server.task_dispatcher.shutdown(timeout=1)

    def stop(self, *_: object) -> None:
        """Begin a graceful stop (safe in a signal handler; later calls do nothing)."""
        if self.stopping.is_set():
            return
        self.stopping.set()
        # the trigger takes a lock the interrupted loop may hold: pull it from a thread
        threading.Thread(target=self._drain, name="graceful-stop", daemon=True).start()

    def _close_listener(self) -> None:
        """Take the connections already waiting, then stop accepting (in the server loop):
        the other processes keep the socket open."""
        for _ in range(10000):
            before = len(channel_map(self.server))
            self.server.handle_accept()
            if len(channel_map(self.server)) == before:
                break
        self.server.accepting = False
        self.server.del_channel()
        self.server.socket.close()

    def _drain(self) -> None:
        """Close idle connections as their requests finish; end the loop when none is busy
        or the grace period is over."""
        deadline = time.monotonic() + self.grace
        self.server.trigger.pull_trigger(self._close_listener)
        while time.monotonic() < deadline:
            self.server.trigger.pull_trigger(self._close_idle)
            time.sleep(0.05)
            if not self._busy():
                break
        else:
            print(f"grace period of {self.grace:g}s over: closing {self.left} connections "
                  "still busy", file=sys.stderr, flush=True)
        self.server.trigger.pull_trigger(self._close_all)

    def _channels(self) -> list:
        from waitress.channel import HTTPChannel

        return [c for c in list(channel_map(self.server).values()) if isinstance(c, HTTPChannel)]

    def _busy(self) -> bool:
        dispatcher = self.server.task_dispatcher
        self.left = len(self._channels())
        return bool(self.left or dispatcher.queue or dispatcher.active_count)

    def _close_idle(self) -> None:
        """Close (in the server loop) each connection with no request in any stage that has
        been quiet for IDLE_CLOSE seconds (a connection just accepted has not been read yet)."""
        quiet_since = time.time() - IDLE_CLOSE
        for channel in self._channels():
            if not (channel.requests or channel.request is not None
                    or channel.total_outbufs_len) and channel.last_activity < quiet_since:
                channel.handle_close()

    def _close_all(self) -> None:
        from waitress import wasyncore

        wasyncore.close_all(channel_map(self.server))


#: What a single-process `serve` writes to stderr on SIGHUP (and then goes on serving).
SIGHUP_SINGLE = (b"SIGHUP: serve without --workers has no worker to replace; going on serving "
                 b"(new commits are seen without a signal; restart the process to load new code "
                 b"or settings, or run serve --workers N for rolling restarts)\n")


def _hangup_single(signum: int, frame) -> None:
    """SIGHUP to a single-process serve: say why nothing restarts (a raw write: safe in a
    signal handler) and go on."""
    try:
        os.write(2, SIGHUP_SINGLE)
    except OSError:
        pass


def run_waitress(app, sock: socket.socket, threads: int, trusted_proxy: str | None = None,
                 grace: float = DEFAULT_GRACE, ready=None, on_hangup=_hangup_single) -> None:
    """Serve `app` on the bound `sock` with `threads` threads until SIGTERM or Ctrl-C, then
    let the requests in flight finish (at most `grace` seconds). X-Forwarded-* headers count
    only from `trusted_proxy`, and are dropped otherwise. `ready()` is called once listening.
    SIGHUP calls `on_hangup` (by default: a note on stderr; the server goes on)."""
    server = GracefulServer(app, sock, threads, grace, trusted_proxy)
    handlers = {signal.SIGTERM: server.stop, signal.SIGINT: server.stop,
                signal.SIGHUP: on_hangup}
    previous = {sig: signal.signal(sig, handler) for sig, handler in handlers.items()}
    try:
        if ready is not None:
            ready()
        server.run()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def serve(index_dir: Path, host: str, port: int, threads: int,
          settings: dict[str, Any] | None = None, trusted_proxy: str | None = None,
          workers: int = 1, grace: float = DEFAULT_GRACE,
          ready_timeout: float = READY_TIMEOUT) -> None:
    """Serve the app over `index_dir` on `host`:`port` with `workers` processes of `threads`
    threads each, until Ctrl-C or SIGTERM (SIGHUP: a rolling restart of the workers).
    Raises ServeError for what the user must fix."""
    try:
        memory.configure()  # this process's (a worker applies it again in its own)
    except ValueError as exc:
        raise ServeError(str(exc)) from None
    metrics_dir = None
    if workers > 1 and not os.environ.get(MULTIPROC_ENV):
        metrics_dir = tempfile.mkdtemp(prefix="news-search-metrics-")
        os.environ[MULTIPROC_ENV] = metrics_dir  # read by every worker and by this check
    try:
        app = make_app(index_dir, settings)  # also checks the settings before any worker
        sock = bind(host, port)
        shown_host = f"[{host}]" if ":" in host else host
        shape = f"{workers} worker processes x {threads} threads" if workers > 1 else (
            f"{threads} threads")

        def announce() -> None:  # once the signals are handled
            print(f"Serving {index_dir} on http://{shown_host}:{sock.getsockname()[1]}/ "
                  f"({shape}; Ctrl-C to stop)", flush=True)

        if workers == 1:
            run_waitress(app, sock, threads, trusted_proxy, grace, ready=announce)
            return
        Supervisor(sock, worker_command(index_dir, threads, settings, trusted_proxy, grace),
                   workers, grace, ready_timeout).run(ready=announce)
    finally:
        if metrics_dir:
            shutil.rmtree(metrics_dir, ignore_errors=True)


def worker_command(index_dir: Path, threads: int, settings: dict[str, Any] | None,
                   trusted_proxy: str | None, grace: float = DEFAULT_GRACE) -> list[str]:
    """The command line of one worker process (socket, pipe and parent are added per start)."""
    command = [sys.executable, "-m", "search_service.serving", "--index", str(index_dir),
               "--threads", str(threads), "--settings", json.dumps(settings or {}),
               "--grace", str(grace)]
    if trusted_proxy:
        command += ["--trusted-proxy", trusted_proxy]
    return command


class Supervisor:
    """Keeps `count` worker processes serving on `sock`: starts them, starts a dead one again,
    replaces them one by one on SIGHUP, stops them all gracefully on Ctrl-C or SIGTERM, and
    gives up when workers keep dying at start."""

    def __init__(self, sock: socket.socket, command: list[str], count: int,
                 grace: float = DEFAULT_GRACE, ready_timeout: float = READY_TIMEOUT):
        self.sock = sock
        self.command = command + ["--fd", str(sock.fileno()), "--parent", str(os.getpid())]
        self.count = count
        self.grace = grace
        self.ready_timeout = ready_timeout
        self.workers: dict[int, tuple[subprocess.Popen, float]] = {}
        self.stopping = False
        self.reload = False
        self.quick_deaths = 0

    def start_worker(self) -> subprocess.Popen:
        """Start one worker process that inherits the listening socket; it writes to a pipe
        once it listens (read by `wait_ready`)."""
        read_end, write_end = os.pipe()
        try:
            process = subprocess.Popen(self.command + ["--ready-fd", str(write_end)],
                                       pass_fds=(self.sock.fileno(), write_end))
        finally:
            os.close(write_end)
        process.ready_fd = read_end  # type: ignore[attr-defined]
        self.workers[process.pid] = (process, time.monotonic())
        return process

    def wait_ready(self, process: subprocess.Popen, timeout: float | None = None) -> bool:
        """Wait until `process` listens (True), exits or `timeout` passes (False; default:
        the supervisor's ready timeout)."""
        fd = process.ready_fd  # type: ignore[attr-defined]
        deadline = time.monotonic() + (self.ready_timeout if timeout is None else timeout)
        try:
            while time.monotonic() < deadline and not self.stopping:
                readable, _, _ = select.select([fd], [], [], 0.2)
                if readable:
                    return os.read(fd, 16) == b"ready\n"
                if process.poll() is not None:
                    return False
            return False
        finally:
            self._close_ready(process)

    @staticmethod
    def _close_ready(process: subprocess.Popen) -> None:
        fd = getattr(process, "ready_fd", None)
        if fd is not None:
            os.close(fd)
            process.ready_fd = None  # type: ignore[attr-defined]

    def stop(self, signum: int = signal.SIGTERM, frame=None) -> None:
        """Ask every worker to stop gracefully (the run loop then waits for them)."""
        self.stopping = True
        for process, _ in self.workers.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)

    def hangup(self, signum: int = signal.SIGHUP, frame=None) -> None:
        """Ask for a rolling restart (done by the run loop)."""
        self.reload = True

    def run(self, ready=None) -> None:
        """Start the workers and watch them until told to stop (`ready()` once started)."""
        handlers = {signal.SIGTERM: self.stop, signal.SIGINT: self.stop,
                    signal.SIGHUP: self.hangup}
        previous = {sig: signal.signal(sig, handler) for sig, handler in handlers.items()}
        try:
            started = [self.start_worker() for _ in range(self.count)]
            for process in started:
                self.wait_ready(process)
            if ready is not None:
                ready()
            while not self.stopping:
                if self.reload:
                    self.reload = False
                    self.roll()
                self.reap()
                time.sleep(0.2)
        finally:
            self.stop()
            for pid, (process, _) in list(self.workers.items()):
                self._close_ready(process)
                try:
                    process.wait(timeout=self.grace + 5)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
                _forget_metrics(pid)
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            self.sock.close()

    def roll(self) -> None:
        """Replace the workers one by one: start a new one, wait until it listens, then stop
        an old one gracefully and wait for it to exit; give up if a new one cannot start."""
        old = list(self.workers)
        print(f"rolling restart of {len(old)} workers", file=sys.stderr, flush=True)
        for pid in old:
            if self.stopping:
                return
            new = self.start_worker()
            if not self.wait_ready(new):
                why = (_exit_reason(new.poll()) if new.poll() is not None else
                       f"not listening within {self.ready_timeout:g} s (serve --ready-timeout)")
                print(f"rolling restart stopped: new worker {new.pid} did not start ({why});"
                      " the old workers go on", file=sys.stderr, flush=True)
                self.discard(new)  # one still starting would make a worker too many
                return
            entry = self.workers.get(pid)
            if entry is None:  # it died meanwhile (and was replaced by reap)
                continue
            self.discard(entry[0])
        print("rolling restart done", file=sys.stderr, flush=True)

    def discard(self, process: subprocess.Popen) -> None:
        """Stop a worker that is not counted on (SIGTERM, SIGKILL after the grace period) and
        forget it."""
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=self.grace + 5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.workers.pop(process.pid, None)
        _forget_metrics(process.pid)

    def reap(self) -> None:
        """Start a new worker for each one that exited; raise if they keep dying at start."""
        for pid, (process, started) in list(self.workers.items()):
            code = process.poll()
            if code is None or self.stopping:
                continue
            del self.workers[pid]
            _forget_metrics(pid)
            lived = time.monotonic() - started
            print(f"worker {pid} exited ({_exit_reason(code)}) after {lived:.0f} s; "
                  "starting another", file=sys.stderr, flush=True)
            self.quick_deaths = self.quick_deaths + 1 if lived < QUICK_DEATH_SECONDS else 0
            if self.quick_deaths >= MAX_QUICK_DEATHS:
                raise ServeError(f"workers keep exiting at start ({_exit_reason(code)}); "
                                 "see the messages above")
            self._close_ready(self.start_worker())


def _forget_metrics(pid: int) -> None:
    """Drop a dead worker's live gauges from the multi-process metrics (counters stay)."""
    if os.environ.get(MULTIPROC_ENV):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid)


def _exit_reason(code: int) -> str:
    """'exit code 1' or 'killed by SIGKILL'."""
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


def die_with_parent(parent: int, stop) -> None:
    """Call `stop()` when process `parent` is gone, however it died: the kernel sends SIGTERM
    (Linux `PR_SET_PDEATHSIG`), and a thread watches the parent id as a fallback."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: the thread below is enough
        pass

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        log.warning("the supervisor (pid %d) is gone: stopping", parent)
        stop()

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def worker_main(argv: list[str] | None = None) -> int:
    """One worker process: serve on the inherited socket until SIGTERM or Ctrl-C (then let
    the requests in flight finish), or until its supervisor is gone."""
    parser = argparse.ArgumentParser(description="a `news-search serve --workers` worker")
    parser.add_argument("--fd", type=int, required=True)
    parser.add_argument("--index", type=Path, required=True)
    parser.add_argument("--threads", type=int, required=True)
    parser.add_argument("--settings", default="{}")
    parser.add_argument("--trusted-proxy")
    parser.add_argument("--grace", type=float, default=DEFAULT_GRACE)
    parser.add_argument("--parent", type=int)
    parser.add_argument("--ready-fd", type=int)
    args = parser.parse_args(argv)
    try:
        memory.configure()  # before any thread starts (the supervisor checked the settings)
    except ValueError as exc:
        print(f"news-search serve worker: error: {exc}", file=sys.stderr)
        return 2
    # Until the server runs, SIGTERM (the supervisor stopping, or dead) just ends the process.
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    signal.signal(signal.SIGHUP, signal.SIG_IGN)  # the supervisor's to act on
    if args.parent:
        die_with_parent(args.parent, lambda: os.kill(os.getpid(), signal.SIGTERM))
        if os.getppid() != args.parent:  # died before the kernel was told
            return 0
    settings = json.loads(args.settings)
    if "CORS_ORIGINS" in settings:
        settings["CORS_ORIGINS"] = tuple(settings["CORS_ORIGINS"])
    sock = socket.socket(fileno=args.fd)

    def ready() -> None:
        if args.ready_fd is not None:
            try:
                os.write(args.ready_fd, b"ready\n")
            except BrokenPipeError:  # nobody waits for this worker to listen
                pass
            os.close(args.ready_fd)

    try:
        run_waitress(make_app(args.index, settings), sock, args.threads, args.trusted_proxy,
                     args.grace, ready, on_hangup=signal.SIG_IGN)
    except KeyboardInterrupt:
        return 0
    except ServeError as exc:
        print(f"news-search serve worker: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(worker_main())
