"""HTTP benchmark of /api/search against Datasette + SQLite FTS5, same articles, one run.

Usage: python -m benchmarks.http_api [--corpus distinct|reuters] [--articles 100000]
       [--workers 2] [--seconds 20] [--c1-requests 300]
       python -m benchmarks.http_api --index DIR --servers ours --workers 1 --streams distinct

Builds (or reuses) an index of `--articles` articles (Reuters stories, or distinct articles
remixed from them, see corpus.py), cached under `--cache` (default `.benchmarks/`,
git-ignored), and an SQLite database of the same articles with an FTS5 index (sqlite-utils,
porter stemming); `--index DIR` serves an index built before instead (a
`benchmarks/bulk_build.py` run's; `--articles` then names only the peer's database). Starts
`news-search serve` from this checkout, loads it, stops it, then
does the same with `datasette serve -i` running a ranked FTS5 query with `snippet()` (its
documented way to get ranked, highlighted results) per request.

Two query streams, each at concurrency 1 (`--c1-requests` requests) and 8 (`--seconds`):
`distinct` walks seeded distinct queries in order, so no results cache helps (the cursor runs
on from c=1 to c=8); `zipf` draws the same queries with Zipf-distributed popularity, so the
popular few repeat as in a real query log. Prints p50/p95/p99/mean latency, requests per second
and errors side by side, the ratios ours/Datasette, and the serving processes' memory (PSS
counts shared index pages once).

`--profile N` then times N of the same queries in process (the search call alone, no HTTP,
no results cache), profiles them with cProfile and prints where the time goes.

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
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

from benchmarks._common import percentiles
from search_service.article import Article
from tests.support.corpus import distinct, stories, to_article

ROOT = Path(__file__).resolve().parent.parent

TARGETS = ("targets (issue 14), ours / Datasette: c=8 throughput >= 1.0x (2x at 100k), "
           "c=1 p50 <= 1.3x, p95 <= 2x, no errors")


# -- the index ---------------------------------------------------------------------------------

def corpus_articles(corpus: str, count: int) -> Iterator[Article]:
    """The benchmark's articles: `count` Reuters stories (replicated with fresh ids past
    19,043) or `count` distinct remixed articles (tests/support/corpus.py)."""
    raw = stories()
    if corpus == "distinct":
        return distinct(count, raw=raw)
    copies = math.ceil(count / len(raw))
    return itertools.islice((to_article(story, copy) for copy in range(copies) for story in raw),
                            count)


#: How a benchmark index is written: `bulk` as `ingest` writes a collection (commits by size,
#: merged once at the end: one segment up to ~130,000 articles); `steady` as a crawl's
#: index-worker does (a commit every 5,000 articles, tiered merges: up to MAX_SEGMENTS
#: segments, the steady state of a crawled index).
WRITERS = ("bulk", "steady")


def build_index(path: Path, count: int, procs: int, corpus: str = "reuters",
                writer: str = "bulk") -> None:
    """Index `count` articles of `corpus` into `path` with the `writer` of WRITERS, with
    progress on stderr; `complete.json` marks a finished build."""
    from search_service.index.schema import open_index
    from search_service.index.writer import ArticleWriter

    replicas = corpus_articles(corpus, count)
    ix = open_index(path, create=True)
    started = time.perf_counter()
    if writer not in WRITERS:
        raise ValueError(f"writer must be one of {WRITERS}, not {writer!r}")
    options = ({"batch": None, "interval": None, "bulk": True} if writer == "bulk"
               else {"batch": 5000, "interval": 3600})
    with ArticleWriter(ix, procs=procs, **options) as articles:
        for done, article in enumerate(itertools.islice(replicas, count), 1):
            articles.add(article)
            if done % 5000 == 0:
                rate = done / (time.perf_counter() - started)
                print(f"  indexed {done:,}/{count:,} ({rate:,.0f} articles/s)",
                      file=sys.stderr, flush=True)
    seconds = time.perf_counter() - started
    with ix.searcher() as searcher:
        docs = searcher.doc_count()
    (path / "complete.json").write_text(json.dumps({"articles": docs, "build_s": seconds,
                                                    "writer": writer}))
    print(f"  built {docs:,} articles in {seconds:.0f} s", file=sys.stderr, flush=True)


def segment_count(path: Path) -> int:
    """How many segments the index at `path` has."""
    from whoosh import index as whoosh_index

    with whoosh_index.open_dir(str(path)).reader() as reader:
        return sum(1 for _ in reader.leaf_readers())


def cached_index(cache: Path, count: int, procs: int, corpus: str = "reuters",
                 writer: str = "bulk") -> Path:
    """Return an index of `count` articles under `cache` written by `writer` (WRITERS),
    building it if it is not there."""
    from search_service.index.schema import SCHEMA_VERSION

    path = cache / f"http-{corpus}-{count}-v{SCHEMA_VERSION}"
    if writer != "steady":
        path = path.with_name(f"{path.name}-{writer}")
    if (path / "complete.json").exists():
        print(f"reusing {path}", file=sys.stderr, flush=True)
        from search_service.index import postings_file
        from search_service.index.schema import open_index

        started = time.process_time()
        if postings_file.refresh(open_index(path)):  # built before the index had them
            print(f"  wrote its postings files in {time.process_time() - started:.0f} CPU s",
                  file=sys.stderr, flush=True)
        return path
    if path.exists():
        import shutil
        shutil.rmtree(path)  # an unfinished build
    print(f"building {path} ({count:,} articles) …", file=sys.stderr, flush=True)
    build_index(path, count, procs, corpus, writer)
    return path


def index_docs(index: Path) -> int:
    """How many articles the index at `index` holds."""
    from search_service.index.schema import open_index

    return open_index(index).doc_count()


# -- queries -----------------------------------------------------------------------------------

def make_queries(raw: list[dict], count: int, seed: int, since: str) -> list[dict]:
    """Seeded distinct searches from title words: single words, two- and three-word ANDs and
    phrases; a quarter with a date filter (from `since`), a sixth sorted newest first, the
    rest `best`."""
    from whoosh.analysis import STOP_WORDS

    rng = random.Random(seed)
    titles = [[w.lower() for w in re.findall(r"[A-Za-z]{4,}", s["title"])
               if w.lower() not in STOP_WORDS] for s in raw]
    titles = [t for t in titles if len(t) >= 3]
    searches, seen = [], set()
    for i in itertools.count():
        if len(searches) == count or i > count * 20:
            break
        words = rng.choice(titles)
        kind = ("term", "and2", "and3", "phrase")[i % 4]
        if kind == "term":
            terms, phrase = [rng.choice(words)], False
        elif kind == "phrase":
            start = rng.randrange(len(words) - 1)
            terms, phrase = words[start:start + 2], True
        else:
            terms, phrase = rng.sample(words, 2 if kind == "and2" else 3), False
        search = {"terms": tuple(terms), "phrase": phrase,
                  "from": since if i % 4 == 1 else None,
                  "sort": "newest" if i % 6 == 5 else "best"}
        key = tuple(search.items())
        if key not in seen:
            seen.add(key)
            searches.append(search)
    return searches


def ours_url(search: dict) -> str:
    """The /api/search URL of one search."""
    text = " ".join(search["terms"])
    params = {"q": f'"{text}"' if search["phrase"] else text}
    if search["from"]:
        params["from"] = search["from"]
    if search["sort"] != "best":
        params["sort"] = search["sort"]
    return "/api/search?" + urlencode(params)


#: Datasette's ranked FTS5 query: top 10 with a highlighted body snippet (its documented way).
FTS_SQL = ("select a.id, a.url, a.title, a.published, "
           "snippet(articles_fts, 1, '<mark>', '</mark>', '…', 30) as snippet "
           "from articles_fts join articles a on a.rowid = articles_fts.rowid "
           "where articles_fts match :q{since} order by {order} limit 10")


def datasette_url(search: dict) -> str:
    """The Datasette JSON URL running the same search as SQL over FTS5."""
    if search["phrase"]:
        match = '"' + " ".join(search["terms"]) + '"'
    else:
        match = " ".join(f'"{t}"' for t in search["terms"])
    sql = FTS_SQL.format(since=" and a.published >= :since" if search["from"] else "",
                         order="a.published desc" if search["sort"] == "newest"
                         else "bm25(articles_fts, 2.0, 1.0)")
    params = {"sql": sql, "q": match, "_shape": "array"}
    if search["from"]:
        params["since"] = search["from"]
    return "/bench.json?" + urlencode(params)


def zipf_stream(items: list, length: int, seed: int, exponent: float = 1.0) -> list:
    """`length` draws from `items`, the k-th item with probability proportional to
    1 / k^exponent (a popular few repeat, as real query logs do)."""
    rng = random.Random(seed)
    weights = [1 / (k + 1) ** exponent for k in range(len(items))]
    return rng.choices(items, weights=weights, k=length)


# -- the peer: Datasette over SQLite FTS5 --------------------------------------------------------

def cached_fts5(cache: Path, count: int, corpus: str) -> Path:
    """An SQLite database of the same articles with an FTS5 index (porter stemming), built
    with sqlite-utils; cached like the index."""
    import sqlite_utils

    path = cache / f"fts5-{corpus}-{count}" / "bench.db"  # Datasette serves it as /bench
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    part = path.with_suffix(".part")
    part.unlink(missing_ok=True)
    started = time.perf_counter()
    db = sqlite_utils.Database(part)
    rows = ({"id": a.id, "url": a.url, "title": a.title, "body": a.body,
             "published": a.published.isoformat() if a.published else None,
             "source": a.source} for a in corpus_articles(corpus, count))
    db["articles"].insert_all(rows, pk="id", batch_size=5000)
    db["articles"].enable_fts(["title", "body"], fts_version="FTS5", tokenize="porter")
    db.conn.execute("VACUUM")
    db.conn.close()
    part.rename(path)
    print(f"  built {path.name} in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    return path


def start_datasette(db: Path) -> tuple[subprocess.Popen, int]:
    """Serve `db` with Datasette (immutable, as a read-only benchmark database should be)."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    cmd = [sys.executable, "-m", "datasette", "serve", "-i", str(db), "--host", "127.0.0.1",
           "--port", str(port), "--setting", "sql_time_limit_ms", "20000",
           "--setting", "max_returned_rows", "100"]
    server = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/-/versions.json")
            if conn.getresponse().status == 200:
                return server, port
        except OSError:
            time.sleep(0.2)
    server.kill()
    raise SystemExit("Datasette did not start")


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
          f"p50 {times[len(times) // 2]:.1f} ms, p99 {times[int(0.99 * (len(times) - 1))]:.1f} ms, "
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


class Budget:
    """A number of requests to send, shared by the client threads."""

    def __init__(self, count: int):
        self.left = count
        self.lock = threading.Lock()

    def take(self) -> bool:
        with self.lock:
            self.left -= 1
            return self.left >= 0


def worker(port: int, cursor: Cursor, until: float, latencies: list[float],
           errors: list[str], budget: Budget | None = None) -> None:
    """Send requests over one keep-alive connection until `until` (or the budget is spent);
    record each latency."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    while time.perf_counter() < until and (budget is None or budget.take()):
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
        if status != 200 or body[:1] not in (b"{", b"["):
            errors.append(f"HTTP {status} for {url}")
        else:
            latencies.append(elapsed)
    conn.close()


def run_load(port: int, cursor: Cursor, concurrency: int, seconds: float,
             requests: int = 0) -> dict:
    """Run `concurrency` workers for `seconds` (or, given `requests`, until that many are
    sent); return latency percentiles and throughput."""
    latencies: list[float] = []
    errors: list[str] = []
    started = time.perf_counter()
    until = started + (3600.0 if requests else seconds)
    budget = Budget(requests) if requests else None
    threads = [threading.Thread(target=worker,
                                args=(port, cursor, until, latencies, errors, budget))
               for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    ordered = sorted(latencies)

    return {"concurrency": concurrency, "requests": len(latencies) + len(errors),
            **(percentiles(ordered) if ordered else {"p50": 0.0, "p95": 0.0, "p99": 0.0}),
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
    """One line per server, query stream and concurrency."""
    header = ("server", "stream", "c", "requests", "p50 ms", "p95 ms", "p99 ms", "mean ms",
              "requests/s", "server CPU ms/request", "errors")
    cells = [(r["server"], r["stream"], str(r["concurrency"]), f"{r['requests']:,}",
              f"{r['p50']:.2f}", f"{r['p95']:.2f}", f"{r['p99']:.2f}", f"{r['mean']:.2f}",
              f"{r['rps']:,.0f}", f"{r['cpu']:.2f}", str(len(r["errors"]))) for r in rows]
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(header)]
    for row in (header, *cells):
        print("  ".join(cell.rjust(w) for cell, w in zip(row, widths, strict=True)))


def ratios(rows: list[dict]) -> None:
    """Ours against Datasette per stream: c=1 p50 and p95, c=8 throughput."""
    by = {(r["server"], r["stream"], r["concurrency"]): r for r in rows}
    for stream in ("distinct", "zipf"):
        for c in sorted({r["concurrency"] for r in rows}):
            ours, peer = by.get(("ours", stream, c)), by.get(("datasette", stream, c))
            if not ours or not peer or not peer["p50"]:
                continue
            print(f"{stream} c={c}: ours/datasette p50 {ours['p50'] / peer['p50']:.2f}x, "
                  f"p95 {ours['p95'] / peer['p95']:.2f}x, "
                  f"throughput {ours['rps'] / peer['rps']:.2f}x, "
                  f"server CPU per request {ours['cpu'] / max(peer['cpu'], 1e-9):.2f}x")


def server_cpu(pid: int) -> float:
    """CPU seconds (user + system) used so far by the server `pid` and its worker processes.
    Per request, it is the figure load on the machine skews least: a busy machine stretches
    latency, much less the work each request takes."""
    ticks = os.sysconf("SC_CLK_TCK")
    pids = [pid, *(int(c) for c in
                   Path(f"/proc/{pid}/task/{pid}/children").read_text().split())]
    total = 0.0
    for p in pids:
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        total += (int(fields[11]) + int(fields[12])) / ticks  # utime, stime
    return total


def load_server(name: str, port: int, streams: dict[str, list[str]], concurrency: list[int],
                seconds: float, c1_requests: int, pid: int) -> list[dict]:
    """Run every stream against one server: c=1 for `c1_requests` requests (or `seconds`),
    then each other concurrency for `seconds`; the distinct stream's cursor runs on, so no
    query repeats. Each row also holds the server's CPU milliseconds per request."""
    rows = []
    for stream, urls in streams.items():
        cursor = Cursor(urls)
        for c in concurrency:
            print(f"{name}: {stream} queries, concurrency {c} …", file=sys.stderr, flush=True)
            before = server_cpu(pid)
            row = run_load(port, cursor, c, seconds, c1_requests if c == 1 else 0)
            row["cpu"] = (server_cpu(pid) - before) * 1000 / max(row["requests"], 1)
            rows.append({"server": name, "stream": stream, **row})
    return rows


def main() -> None:
    """Parse options, build or reuse the index and the peer's database, serve both, load
    them in turn, print the table side by side."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", choices=("reuters", "distinct"), default="distinct",
                        help="Reuters stories (replicated past 19,043) or distinct articles "
                             "(default: %(default)s)")
    parser.add_argument("--articles", type=int, default=100_000,
                        help="articles in the index (default: %(default)s)")
    parser.add_argument("--seconds", type=float, default=20.0,
                        help="load time per concurrency above 1 (default: %(default)s)")
    parser.add_argument("--c1-requests", type=int, default=300,
                        help="requests at concurrency 1 (default: %(default)s)")
    parser.add_argument("--concurrency", default="1,8",
                        help="comma-separated client concurrencies (default: %(default)s)")
    parser.add_argument("--cache", type=Path, default=ROOT / ".benchmarks",
                        help="where built indexes are kept (default: .benchmarks/)")
    parser.add_argument("--threads", type=int, default=8,
                        help="server threads, as `serve --threads` (default: %(default)s)")
    parser.add_argument("--workers", type=int, default=2,
                        help="server processes, as `serve --workers` (default: %(default)s)")
    parser.add_argument("--index", type=Path, default=None,
                        help="serve this index, built before (e.g. by benchmarks.bulk_build), "
                             "instead of building or reusing one under --cache")
    parser.add_argument("--procs", type=int, default=min(2, os.cpu_count() or 1),
                        help="indexing processes for a build (default: %(default)s)")
    parser.add_argument("--writer", choices=WRITERS, default="bulk",
                        help="how the index is written: `bulk` as `ingest` (one segment up to "
                             "~130,000 articles) or `steady` as a crawl's index-worker (a "
                             "commit every 5,000, up to 8 segments) (default: %(default)s)")
    parser.add_argument("--queries", type=int, default=12000,
                        help="distinct queries, walked in order (default: %(default)s)")
    parser.add_argument("--streams", default="distinct,zipf",
                        help="query streams to run (default: %(default)s)")
    parser.add_argument("--servers", default="ours,datasette",
                        help="servers to load (default: %(default)s)")
    parser.add_argument("--warm", type=int, default=1500,
                        help="warm-up requests per server, other queries (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=1987)
    parser.add_argument("--profile", type=int, default=0, metavar="N",
                        help="then time and profile N queries in process (default: none)")
    args = parser.parse_args()

    if args.index:
        from search_service.index.schema import index_exists
        if not index_exists(args.index):
            parser.error(f"--index {args.index}: no index there")
    index = args.index or cached_index(args.cache, args.articles, args.procs, args.corpus,
                                       args.writer)
    docs = index_docs(index)
    since = "1987-06-01" if args.corpus == "reuters" else "2022-01-01"
    searches = make_queries(stories(), args.queries, args.seed, since)
    zipf = zipf_stream(searches, len(searches), args.seed + 1)
    concurrency = [int(c) for c in args.concurrency.split(",")]
    wanted = args.streams.split(",")
    rows = []
    for name in args.servers.split(","):
        render = ours_url if name == "ours" else datasette_url
        streams = {"distinct": [render(s) for s in searches],
                   "zipf": [render(s) for s in zipf]}
        streams = {k: v for k, v in streams.items() if k in wanted}
        if name == "ours":
            server, port = start_server(index, args.threads, args.workers)
        else:
            server, port = start_datasette(cached_fts5(args.cache, args.articles, args.corpus))
        try:
            # Warm-up, as a server that has been running a while: every searcher, the OS
            # cache and per-process caches (decoded postings, analysed words), with queries
            # no stream sends (so the results cache never answers a measured one).
            warm = [render(s) for s in make_queries(stories(), args.warm, args.seed + 7, since)]
            run_load(port, Cursor(warm), 8, 0, args.warm)
            rows += load_server(name, port, streams, concurrency, args.seconds,
                                args.c1_requests, server.pid)
            if name == "ours":
                rows[-1]["rss"] = serving_rss(server.pid)
        finally:
            server.terminate()
            server.wait(timeout=20)
    load = os.getloadavg()
    built = "" if args.index else f"a {args.writer} index of "
    print(f"/api/search over HTTP vs Datasette + FTS5: {docs:,} {args.corpus} articles "
          f"({index}), ours `serve --workers {args.workers} --threads {args.threads}` over "
          f"{built}{segment_count(index)} segment(s), {len(searches):,} distinct queries, "
          f"c=1 {args.c1_requests} requests, others "
          f"{args.seconds:g} s; load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    print_table(rows)
    ratios(rows)
    for row in rows:
        if "rss" in row:
            shown = [" + ".join(str(sizes[i]) for sizes in row["rss"]) for i in range(3)]
            print(f"ours with {args.workers} worker(s) (parent first), MB: "
                  f"peak RSS {shown[0]}; PSS {shown[1]} = {sum(s[1] for s in row['rss'])}; "
                  f"private {shown[2]} = {sum(s[2] for s in row['rss'])}")
    print(TARGETS)
    for row in rows:
        for message in sorted(set(row["errors"]))[:5]:
            print(f"  {row['server']} error at concurrency {row['concurrency']}: {message}")
    if args.profile:
        profile_search(index, [ours_url(s) for s in searches], args.profile)


if __name__ == "__main__":
    main()
