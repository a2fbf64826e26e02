"""The fixed cost of a request in `serve`'s app: thread CPU per request through the WSGI
callable `serve` runs (the app wrapped in its access log), without a server or a socket.

Usage: python -m benchmarks.request_cost --index DIR [--requests 2000] [--rounds 3] [--profile]

Three requests, each answered again and again: `/api/search?q=oil+prices` (a results-cache
hit: everything but the search), the same with `page=2` (prev and next links), and
`/api/health`. The peer is the floor: a bare WSGI function sending the same search body and
headers, so the gap is what Flask, werkzeug and the app's hooks (searcher check, ETag,
security headers, metrics, JSON, access log) cost a request. The access log writes to
/dev/null. `--profile` prints a cProfile of the cache hit, timed by thread CPU.

Run it on one checkout after another (or main's and a branch's alternately) to compare them:
thread CPU is what the load on a shared machine skews least.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import logging
import os
import pstats
import statistics
import time
from pathlib import Path

from werkzeug.test import EnvironBuilder

URLS = {"search (cache hit)": "/api/search?q=oil+prices",
        "search page 2 (cache hit)": "/api/search?q=oil+prices&page=2",
        "health": "/api/health"}


def environ_of(url: str) -> dict:
    """The WSGI environ of a GET of `url` from 127.0.0.1."""
    return EnvironBuilder(url, environ_base={"REMOTE_ADDR": "127.0.0.1"}).get_environ()


def call(app, environ: dict) -> tuple[str, list, bytes]:
    """One request through `app`: status, headers, body."""
    answer: list = []

    def start_response(status, headers, exc_info=None):
        answer.extend((status, headers))

    environ = dict(environ, **{"wsgi.input": io.BytesIO(b"")})
    body = b"".join(app(environ, start_response))
    return answer[0], answer[1], body


def cpu_per_request(app, environ: dict, count: int) -> float:
    """Microseconds of this thread's CPU per request, over `count` requests."""
    started = time.thread_time()
    for _ in range(count):
        call(app, environ)
    return (time.thread_time() - started) / count * 1e6


def main() -> None:
    """Time each request against the floor; print a table (median of rounds)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--index", type=Path, required=True)
    parser.add_argument("--requests", type=int, default=2000, help="per round and request")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()

    from search_service.serving import make_app
    from search_service.web.logging import log

    app = make_app(args.index)
    sink = logging.StreamHandler(open(os.devnull, "w"))  # noqa: SIM115 (for the process)
    sink.setFormatter(log.handlers[0].formatter)
    log.handlers[:] = [sink]
    environs = {name: environ_of(url) for name, url in URLS.items()}
    for name, environ in environs.items():
        for _ in range(20):  # opens the searcher, fills the results cache
            status, _, body = call(app, environ)
        if not status.startswith("200"):
            raise SystemExit(f"{URLS[name]} answered {status}: {body[:200]!r}")
    status, headers, body = call(app, environs["search (cache hit)"])

    def floor(environ, start_response):
        start_response(status, headers)
        return [body]

    results: dict[str, list[float]] = {name: [] for name in [*URLS, "floor (bare WSGI)"]}
    for _ in range(args.rounds):
        for name, environ in environs.items():
            results[name].append(cpu_per_request(app, environ, args.requests))
        results["floor (bare WSGI)"].append(
            cpu_per_request(floor, environs["search (cache hit)"], args.requests))
    load = os.getloadavg()
    print(f"thread CPU per request through serve's WSGI app ({args.index}), median of "
          f"{args.rounds} rounds of {args.requests:,}; load average {load[0]:.2f} "
          f"{load[1]:.2f} {load[2]:.2f}")
    width = max(map(len, results))
    for name, values in results.items():
        print(f"  {name:<{width}}  {statistics.median(values):7.0f} µs  "
              f"(rounds: {', '.join(f'{v:.0f}' for v in values)})")
    if args.profile:
        profiler = cProfile.Profile(time.thread_time_ns, 1e-9)
        profiler.enable()
        for _ in range(args.requests):
            call(app, environs["search (cache hit)"])
        profiler.disable()
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(30)
        print(out.getvalue())


if __name__ == "__main__":
    main()
