"""HTTP benchmark of /api/search: the real `news-search serve` (waitress) under load.

Usage: python -m benchmarks.http_api [--articles 100000] [--seconds 20] [--workers 1,2]

Builds (or reuses) an index of the Reuters corpus replicated with fresh ids to `--articles`
articles, cached under `--cache` (default `.benchmarks/`, git-ignored), starts
`python -m search_service.cli serve --port 0` from this checkout on 127.0.0.1 as a
subprocess, and sends seeded queries to `/api/search` at concurrency 1, 8 and 32 for
`--seconds` each (for each `--workers` count, as `serve --workers`), from a pool of
threads that each keep one HTTP/1.1 keep-alive connection. Prints p50/p99 latency,
requests per second and errors per concurrency.

`--profile N` then times N of the same queries in process (the search call alone, no HTTP,
no results cache), profiles them with cProfile and prints where the time goes.

The query set (`--queries`, default 2000) is walked in order and is larger than the
server's results cache (256 entries), so no request is answered from that cache.

(Named http_api.py, not http.py: a script directory on sys.path holding `http.py` would
shadow the standard library's `http` package for every benchmark run as a script.)
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import json
import math
import os
import random
import re
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlencode

from benchmarks._common import percentile
from benchmarks.corpus import stories, to_article

ROOT = Path(__file__).resolve().parent.parent

TARGETS = "targets: p50 <= 10 ms at concurrency 1, >= 300 requests/s at concurrency 8, 0 errors"


# -- the index ---------------------------------------------------------------------------------

def build_index(path: Path, count: int, procs: int) -> None:
    """Index `count` articles (the corpus replicated with fresh ids) into `path`, with
    progress on stderr; `complete.json` marks a finished build."""
    from search_service.index.schema import open_index
    from search_service.index.writer import ArticleWriter

    raw = stories()
    copies = math.ceil(count / len(raw))
    replicas = (to_article(story, copy) for copy in range(copies) for story in raw)
    ix = open_index(path, create=True)
    started = time.perf_counter()
    with ArticleWriter(ix, batch=5000, interval=3600, procs=procs) as writer:
        for done, article in enumerate(itertools.islice(replicas, count), 1):
            writer.add(article)
            if done % 5000 == 0:
                rate = done / (time.perf_counter() - started)
                print(f"  indexed {done:,}/{count:,} ({rate:,.0f} articles/s)",
                      file=sys.stderr, flush=True)
    seconds = time.perf_counter() - started
    with ix.searcher() as searcher:
        docs = searcher.doc_count()
    (path / "complete.json").write_text(json.dumps({"articles": docs, "build_s": seconds}))
    print(f"  built {docs:,} articles in {seconds:.0f} s", file=sys.stderr, flush=True)


def cached_index(cache: Path, count: int, procs: int) -> Path:
    """Return an index of `count` articles under `cache`, building it if it is not there."""
    from search_service.index.schema import SCHEMA_VERSION

    path = cache / f"http-reuters-{count}-v{SCHEMA_VERSION}"
    if (path / "complete.json").exists():
        print(f"reusing {path}", file=sys.stderr, flush=True)
        return path
    if path.exists():
        import shutil
        shutil.rmtree(path)  # an unfinished build
    print(f"building {path} ({count:,} articles) …", file=sys.stderr, flush=True)
    build_index(path, count, procs)
    return path


# -- queries -----------------------------------------------------------------------------------

def make_queries(raw: list[dict], count: int, seed: int) -> list[str]:
    """Seeded /api/search URLs from title words: single words, two- and three-word ANDs and
    phrases; a quarter with a date filter, a sixth sorted newest first, the rest `best`."""
    from whoosh.analysis import STOP_WORDS

    rng = random.Random(seed)
    titles = [[w.lower() for w in re.findall(r"[A-Za-z]{4,}", s["title"])
               if w.lower() not in STOP_WORDS] for s in raw]
    titles = [t for t in titles if len(t) >= 3]
    urls = []
    for i in range(count):
        words = rng.choice(titles)
        kind = ("term", "and2", "and3", "phrase")[i % 4]
        if kind == "term":
            q = rng.choice(words)
        elif kind == "phrase":
            start = rng.randrange(len(words) - 1)
            q = '"' + " ".join(words[start:start + 2]) + '"'
        else:
            q = " ".join(rng.sample(words, 2 if kind == "and2" else 3))
        params = {"q": q}
        if i % 4 == 1:
            params["from"] = "1987-06-01"
        if i % 6 == 5:
            params["sort"] = "newest"
        urls.append("/api/search?" + urlencode(params))
    return urls


# -- the server --------------------------------------------------------------------------------

def start_server(index: Path, threads: int, workers: int = 1) -> tuple[subprocess.Popen, int]:
    """Start `serve` from this checkout on a free port; return the process and the port."""
    cmd = [sys.executable, "-m", "search_service.cli", "serve", "--index", str(index),
           "--port", "0", "--threads", str(threads), "--workers", str(workers)]
    server = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, text=True)
    line = server.stdout.readline()
    match = re.search(r":(\d+)/", line)
    if not match:
        server.kill()
        raise SystemExit(f"the server did not start: {line!r}")
    return server, int(match.group(1))


# -- in process ----------------------------------------------------------------------------------

def profile_search(index: Path, urls: list[str], count: int) -> None:
    """Time `count` queries through `search.search` in this process, then profile them."""
    import cProfile
    import io
    import pstats

    from search_service import search
    from search_service.index.schema import open_index
    from search_service.web import create_app
    from search_service.web.data import search_params

    app = create_app({"INDEX_DIR": str(index)})
    params = []
    for url in urls[:count]:
        with app.test_request_context(url):
            params.append(search_params())
    with open_index(index).searcher() as searcher:
        for p in params[:10]:
            search.search(searcher, p)  # warm-up: term tables, OS cache
        times = []
        for p in params:
            started = time.perf_counter()
            search.search(searcher, p)
            times.append((time.perf_counter() - started) * 1000)
        profiler = cProfile.Profile()
        profiler.enable()
        for p in params:
            search.search(searcher, p)
        profiler.disable()
    times.sort()
    print(f"\nin process, search.search alone over {count} of the queries: "
          f"p50 {percentile(times, 50):.1f} ms, p99 {percentile(times, 99):.1f} ms, "
          f"mean {statistics.fmean(times):.1f} ms")
    for order, lines in (("cumulative", 30), ("tottime", 20)):
        out = io.StringIO()
        stats = pstats.Stats(profiler, stream=out)
        stats.strip_dirs().sort_stats(order).print_stats(lines)
        print(out.getvalue().split("\n", 4)[-1].rstrip())


# -- load --------------------------------------------------------------------------------------

class Cursor:
    """Hands out the query URLs in order, cycling, to any number of threads."""

    def __init__(self, urls: list[str]):
        self.urls = urls
        self.position = 0
        self.lock = threading.Lock()

    def next(self) -> str:
        with self.lock:
            url = self.urls[self.position % len(self.urls)]
            self.position += 1
            return url


def worker(port: int, cursor: Cursor, until: float, latencies: list[float],
           errors: list[str]) -> None:
    """Send requests over one keep-alive connection until `until`; record each latency."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    while time.perf_counter() < until:
        url = cursor.next()
        started = time.perf_counter()
        try:
            conn.request("GET", url)
            response = conn.getresponse()
            body = response.read()
            status = response.status
        except (OSError, http.client.HTTPException) as exc:
            errors.append(f"{type(exc).__name__}: {exc}")
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            continue
        elapsed = (time.perf_counter() - started) * 1000
        if status != 200 or not body.startswith(b"{"):
            errors.append(f"HTTP {status} for {url}")
        else:
            latencies.append(elapsed)
    conn.close()


def run_load(port: int, cursor: Cursor, concurrency: int, seconds: float) -> dict:
    """Run `concurrency` workers for `seconds`; return latency percentiles and throughput."""
    latencies: list[float] = []
    errors: list[str] = []
    started = time.perf_counter()
    until = started + seconds
    threads = [threading.Thread(target=worker, args=(port, cursor, until, latencies, errors))
               for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    ordered = sorted(latencies)
    return {"concurrency": concurrency, "requests": len(latencies) + len(errors),
            "p50": percentile(ordered, 50), "p99": percentile(ordered, 99),
            "mean": statistics.fmean(ordered) if ordered else 0.0,
            "rps": (len(latencies) + len(errors)) / elapsed, "errors": errors}


def serving_rss(pid: int) -> list[tuple[int, int, int]]:
    """(peak RSS, PSS now, private RSS now) in MB of the server `pid` and of each worker.

    Peak RSS (VmHWM) counts every memory-mapped index page once per mapping, and each
    thread's searcher maps the index anew, so it can exceed the index's size several times
    over although those pages are one shared copy in the page cache. PSS counts each page
    once, shared among its mappings; private RSS (RssAnon) is what the process holds alone."""
    def sizes(p: int) -> tuple[int, int, int]:
        status = dict(line.split(":", 1) for line in
                      Path(f"/proc/{p}/status").read_text().splitlines() if ":" in line)
        rollup = dict(line.split(":", 1) for line in
                      Path(f"/proc/{p}/smaps_rollup").read_text().splitlines()[1:])
        return (int(status["VmHWM"].split()[0]) // 1024, int(rollup["Pss"].split()[0]) // 1024,
                int(status["RssAnon"].split()[0]) // 1024)
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return [sizes(pid), *(sizes(int(c)) for c in children)]


def print_table(rows: list[dict]) -> None:
    """One line per worker count and concurrency."""
    header = ("workers", "concurrency", "requests", "p50 ms", "p99 ms", "mean ms",
              "requests/s", "errors")
    cells = [(str(r["workers"]), str(r["concurrency"]), f"{r['requests']:,}",
              f"{r['p50']:.1f}", f"{r['p99']:.1f}", f"{r['mean']:.1f}", f"{r['rps']:,.0f}",
              str(len(r["errors"]))) for r in rows]
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(header)]
    for row in (header, *cells):
        print("  ".join(cell.rjust(w) for cell, w in zip(row, widths, strict=True)))


def main() -> None:
    """Parse options, build or reuse the index, serve it, load it, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=100_000,
                        help="articles in the index (default: %(default)s)")
    parser.add_argument("--seconds", type=float, default=20.0,
                        help="load time per concurrency (default: %(default)s)")
    parser.add_argument("--concurrency", default="1,8,32",
                        help="comma-separated client concurrencies (default: %(default)s)")
    parser.add_argument("--cache", type=Path, default=ROOT / ".benchmarks",
                        help="where built indexes are kept (default: .benchmarks/)")
    parser.add_argument("--threads", type=int, default=8,
                        help="server threads, as `serve --threads` (default: %(default)s)")
    parser.add_argument("--workers", default="1",
                        help="comma-separated server processes to compare, as "
                             "`serve --workers` (default: %(default)s)")
    parser.add_argument("--procs", type=int, default=min(2, os.cpu_count() or 1),
                        help="indexing processes for a build (default: %(default)s)")
    parser.add_argument("--queries", type=int, default=2000,
                        help="distinct queries, walked in order (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=1987)
    parser.add_argument("--profile", type=int, default=0, metavar="N",
                        help="then time and profile N queries in process (default: none)")
    args = parser.parse_args()

    index = cached_index(args.cache, args.articles, args.procs)
    urls = make_queries(stories(), args.queries, args.seed)
    rows = []
    for workers in (int(w) for w in args.workers.split(",")):
        server, port = start_server(index, args.threads, workers)
        try:
            cursor = Cursor(urls)
            run_load(port, Cursor(urls[::-1]), 8, 2.0 * workers)  # warm-up: every searcher
            for concurrency in (int(c) for c in args.concurrency.split(",")):
                print(f"{workers} worker(s), concurrency {concurrency} for {args.seconds:g} s …",
                      file=sys.stderr, flush=True)
                rows.append({"workers": workers,
                             **run_load(port, cursor, concurrency, args.seconds)})
            rows[-1]["rss"] = serving_rss(server.pid)
        finally:
            server.terminate()
            server.wait(timeout=20)
    load = os.getloadavg()
    print(f"/api/search over HTTP: {args.articles:,} articles, server threads {args.threads} "
          f"per worker, {args.queries} distinct queries, {args.seconds:g} s per concurrency, "
          f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    print_table(rows)
    for row in rows:
        if "rss" in row:
            shown = [" + ".join(str(sizes[i]) for sizes in row["rss"]) for i in range(3)]
            print(f"server with {row['workers']} worker(s) (parent first), MB: "
                  f"peak RSS {shown[0]}; PSS {shown[1]} = {sum(s[1] for s in row['rss'])}; "
                  f"private {shown[2]} = {sum(s[2] for s in row['rss'])}")
    print(TARGETS)
    for row in rows:
        for message in sorted(set(row["errors"]))[:5]:
            print(f"  error at concurrency {row['concurrency']}: {message}")
    if args.profile:
        profile_search(index, urls, args.profile)


if __name__ == "__main__":
    main()
