"""Search engine benchmark in process: ours (the executor; and our Whoosh path) vs plain
Whoosh vs the SQLite FTS5 library with snippet().

Usage: python -m benchmarks.search [--scale 1] [--queries 300] [--related 1000] [--procs 1]
       python -m benchmarks.search --corpus distinct --articles 100000 --cache .benchmarks
       python -m benchmarks.search --index DIR --engines ours,fts5 --stream distinct \
           --related 0 --corpus distinct --articles N --cache DIR

Each engine runs in its own process (so peak RSS is its own) over the same articles (the
corpus replicated `--scale` times with fresh ids, or with `--corpus distinct`, `--articles`
distinct articles; with `--cache`, indexes are built once and reused, so build figures are
only those of a fresh run) and the same seeded queries: single terms,
two- and three-term ANDs and phrases from title words, a quarter of them with a date filter,
a third sorted by date (`--stream distinct`: the HTTP benchmark's distinct queries instead, none
repeated and none shared with the warm-up). `--index DIR` searches an index built before (a
`benchmarks/bulk_build.py` run's) with ours and ours-whoosh instead of building one. Reports
build rate and index size, top-10-with-snippets latency p50/p95/p99 and mean (and the ratios of
the thread CPU each query took, which load on the machine distorts less), related-article
latency and precision@5 (a related story counts when it shares a topic label with the source
story; labels are used for scoring only), and peak RSS.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import resource
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from benchmarks._common import percentiles
from search_service.index.writer import BULK_MB
from tests.support.corpus import articles, distinct, stories

ENGINES = ("ours", "ours-whoosh", "whoosh", "fts5")
#: Engines run only when named: ours built as the crawl's writer builds.
EXTRA_ENGINES = ("ours-steady",)

#: Queries run before the measured ones (a running server's caches are warm).
warm: list[dict] = []


def make_queries(raw: list[dict], count: int, seed: int, since: str = "1987-06-01") -> list[dict]:
    """Seeded queries from title words, with date filters and sort orders mixed in."""
    rng = random.Random(seed)
    titles = [[w.lower() for w in re.findall(r"[A-Za-z]{4,}", s["title"])] for s in raw]
    titles = [t for t in titles if len(t) >= 3]
    queries = []
    for i in range(count):
        words = rng.choice(titles)
        kind = ("term", "and2", "and3", "phrase")[i % 4]
        if kind == "term":
            terms, phrase = [rng.choice(words)], False
        elif kind == "phrase":
            start = rng.randrange(len(words) - 1)
            terms, phrase = words[start:start + 2], True
        else:
            terms, phrase = rng.sample(words, 2 if kind == "and2" else 3), False
        queries.append({"terms": terms, "phrase": phrase,
                        "since": since if i % 4 == 1 else None,
                        "by_date": i % 3 == 2})
    return queries


def distinct_queries(raw: list[dict], count: int, warm_count: int, seed: int,
                     since: str) -> tuple[list[dict], list[dict]]:
    """The HTTP benchmark's distinct query stream (no query twice) and `warm_count` other
    distinct queries for the warm-up, none of them measured, in this module's form."""
    from benchmarks.http_api import make_queries as http_queries

    def ours(search: dict) -> dict:
        return {"terms": list(search["terms"]), "phrase": search["phrase"],
                "since": search["from"], "by_date": search["sort"] == "newest"}

    measured = http_queries(raw, count, seed, since)
    keys = {tuple(s.items()) for s in measured}
    others = [s for s in http_queries(raw, warm_count + count, seed + 7, since)
              if tuple(s.items()) not in keys]
    return [ours(s) for s in measured], [ours(s) for s in others[:warm_count]]


def time_queries(out: dict, one: Callable[[dict], object], queries: list[dict]) -> None:
    """Run `one` over `queries`, noting each call's wall milliseconds in out["search_ms"]
    and its thread CPU milliseconds in out["search_cpu_ms"] (CPU time is what a loaded
    machine distorts least: the engine's own work, not the wait for a core)."""
    out["search_ms"], out["search_cpu_ms"] = [], []
    for q in queries:
        cpu = time.thread_time()
        out["search_ms"].append(timed(lambda q=q: one(q)))
        out["search_cpu_ms"].append((time.thread_time() - cpu) * 1000)


def timed(fn: Callable[[], object]) -> float:
    """Milliseconds one call of `fn` takes."""
    started = time.perf_counter()
    fn()
    return (time.perf_counter() - started) * 1000


def dir_size(path: Path) -> int:
    """Bytes under `path`."""
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def precision_at_5(raw_topics: dict[str, set[str]], source: str, urls: list[str]) -> float:
    """Share of the first five related stories that share a topic with the source."""
    mine = raw_topics[source]
    return sum(1 for url in urls[:5] if raw_topics.get(story_url(url), set()) & mine) / 5


def story_url(url: str) -> str:
    """The original story's URL of an article URL (a replica's `-rN` suffix dropped)."""
    return re.sub(r"-r\d+$", "", url)


# -- engines -----------------------------------------------------------------------------------

def source(args: argparse.Namespace, raw: list[dict]):
    """A function giving the benchmark's articles afresh on each call."""
    if args.corpus == "distinct":
        return lambda: distinct(args.articles, raw=raw)
    return lambda: articles(raw, args.scale)


def cpu_seconds() -> float:
    """CPU seconds this process and its finished children have used (a build's cost that
    other processes on the machine stretch least)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def run_ours(args, raw, queries, related_ids, tmp: Path, executor: bool = True,
             steady: bool = False) -> dict:
    """Our engine: the project's index writer, search and related functions; `executor`
    off runs our Whoosh path instead of the vectorised executor; `steady` builds with the
    crawl's writer (commits of 5,000, merges after each) instead of a bulk run."""
    from search_service.index import whoosh_compat
    from search_service.index.schema import open_index
    from search_service.index.writer import ArticleWriter
    from search_service.search.articles import related
    from search_service.search.engine import search
    from search_service.search.params import QueryError, SearchParams, dates_param

    out: dict = {}
    if args.index:  # built before: search it as it is
        path = args.index
        ix = open_index(path)
        out.update(build_s=None, size=dir_size(path), docs=ix.doc_count())
    elif args.cache:
        from benchmarks.http_api import cached_index
        path = cached_index(args.cache, args.articles, args.procs, args.corpus)
        ix = open_index(path)
        out.update(build_s=None, size=dir_size(path))
    else:
        path = tmp / "ours"
        ix = open_index(path, create=True)
        started, cpu = time.perf_counter(), cpu_seconds()
        # As `ingest` builds: a bulk run, commits by size, merged to the bound at the end;
        # `steady`: as the crawl's writer does, a commit every 5,000 and merges after each.
        options = (dict(batch=5000, interval=None) if steady else
                   dict(batch=None, interval=None, bulk=True, batch_mb=args.batch_mb))
        with ArticleWriter(ix, procs=args.procs, **options) as writer:
            for article in source(args, raw)():
                writer.add(article)
        out.update(build_s=time.perf_counter() - started, build_cpu_s=cpu_seconds() - cpu,
                   size=dir_size(path), commits=writer.commits,
                   segments=whoosh_compat.segment_count(ix))
    if args.related:
        from search_service.index import related as sidecar
        built = sidecar.refresh(path, ix)  # None: the cached index's sidecar is current
        if built is not None:
            out["sidecar"] = {"seconds": built.seconds, "mb": built.size / 2**20}
    with ix.searcher() as searcher:
        def one(q):
            text = " ".join(q["terms"])
            params = SearchParams(q=f'"{text}"' if q["phrase"] else text,
                                  sort="newest" if q["by_date"] else "best",
                                  date_from=dates_param("from", q["since"] or ""))
            return search(searcher, params, use_executor=executor)
        for q in warm:
            try:
                one(q)
            except QueryError:  # a stop word alone: nothing to warm
                pass  # warm-up: term tables, columns, the OS cache
        time_queries(out, one, queries)
        out["related"] = []
        for story_id in related_ids:
            from search_service.article import article_id
            aid = article_id(f"https://reuters.example/{story_id}")
            started = time.perf_counter()
            urls = [r["url"] for r in related(searcher, aid, limit=5)["results"]]
            out["related"].append(((time.perf_counter() - started) * 1000, story_id, urls))
    return out


def run_ours_whoosh(args, raw, queries, related_ids, tmp: Path) -> dict:
    """Our search with the executor off (our Whoosh path)."""
    return run_ours(args, raw, queries, related_ids, tmp, executor=False)


def run_ours_steady(args, raw, queries, related_ids, tmp: Path) -> dict:
    """Ours built by a steady writer (as the benchmark built before bulk runs)."""
    return run_ours(args, raw, queries, related_ids, tmp, steady=True)


def run_whoosh(args, raw, queries, related_ids, tmp: Path) -> dict:
    """Plain Whoosh the obvious way: default analyzers, one writer, hit.highlights."""
    from whoosh import fields, index, qparser
    from whoosh.query import DateRange

    schema = fields.Schema(id=fields.ID(stored=True, unique=True), url=fields.ID(stored=True),
                           title=fields.TEXT(stored=True), body=fields.TEXT(stored=True),
                           published=fields.DATETIME(stored=True, sortable=True))
    path = (args.cache / f"whoosh-{args.corpus}-{args.articles}") if args.cache \
        else tmp / "whoosh"
    out: dict = {"build_s": None}
    if not (path / "complete").exists():
        if path.exists():
            import shutil
            shutil.rmtree(path)
        path.mkdir(parents=True)
        ix = index.create_in(str(path), schema)
        started, cpu = time.perf_counter(), cpu_seconds()
        writer = ix.writer(limitmb=256)
        for article in source(args, raw)():
            writer.add_document(id=article.url, url=article.url, title=article.title,
                                body=article.body,
                                published=article.published.replace(tzinfo=None))
        writer.commit()
        out["build_s"] = time.perf_counter() - started
        out["build_cpu_s"] = cpu_seconds() - cpu
        (path / "complete").write_text("")
    ix = index.open_dir(str(path))
    out["size"] = dir_size(path)
    parser = qparser.MultifieldParser(["title", "body"], schema, group=qparser.AndGroup)
    with ix.searcher() as searcher:
        def one(q):
            text = " ".join(q["terms"])
            query = parser.parse(f'"{text}"' if q["phrase"] else text)
            since = q["since"] and DateRange("published", datetime.fromisoformat(q["since"]),
                                             None)
            results = searcher.search(query, limit=10, filter=since or None,
                                      sortedby="published" if q["by_date"] else None,
                                      reverse=q["by_date"])
            return [(hit["title"], hit.highlights("body")) for hit in results]
        for q in warm:
            one(q)
        time_queries(out, one, queries)
        out["related"] = []
        for story_id in related_ids:
            url = f"https://reuters.example/{story_id}"
            started = time.perf_counter()
            docnum = searcher.document_number(id=url)
            urls = [hit["url"] for hit in searcher.more_like(docnum, "body", top=5)]
            out["related"].append(((time.perf_counter() - started) * 1000, story_id, urls))
    return out


def run_fts5(args, raw, queries, related_ids, tmp: Path) -> dict:
    """SQLite FTS5 (porter) from the standard library, ranked by bm25 with snippet(): the
    same database and SQL as the HTTP benchmark's Datasette peer."""
    from benchmarks.http_api import FTS_SQL, cached_fts5

    out: dict = {"build_s": None}
    if args.cache:
        path = cached_fts5(args.cache, args.articles, args.corpus)
    else:
        started = time.perf_counter()
        args.articles = args.articles if args.corpus == "distinct" else len(raw) * args.scale
        path = cached_fts5(tmp, args.articles, args.corpus if args.scale == 1 else "reuters")
        out["build_s"] = time.perf_counter() - started
    out["size"] = path.stat().st_size
    db = sqlite3.connect(path)

    def one(q):
        if q["phrase"]:
            match = '"' + " ".join(q["terms"]) + '"'
        else:
            match = " ".join(f'"{t}"' for t in q["terms"])
        sql = FTS_SQL.format(since=" and a.published >= :since" if q["since"] else "",
                             order="a.published desc" if q["by_date"]
                             else "bm25(articles_fts, 2.0, 1.0)")
        return db.execute(sql, {"q": match, "since": q["since"]}).fetchall()
    for q in warm:
        one(q)
    time_queries(out, one, queries)
    out["related"] = []
    return out


# -- driver ------------------------------------------------------------------------------------

def child(engine: str, args: argparse.Namespace) -> None:
    """Run one engine and print its raw figures as JSON."""
    raw = stories()
    since = "2022-01-01" if args.corpus == "distinct" else "1987-06-01"
    global warm
    if args.stream == "distinct":
        queries, warm = distinct_queries(raw, args.queries, args.warm, args.seed, since)
    else:
        queries = make_queries(raw, args.queries, args.seed, since)
        warm = make_queries(raw, args.warm, args.seed + 7, since)  # other queries, run first
    rng = random.Random(args.seed)
    related_ids = ([s["id"] for s in rng.sample([s for s in raw if s["topics"]], args.related)]
                   if args.corpus == "reuters" else [])
    runner = {"ours": run_ours, "ours-whoosh": run_ours_whoosh, "whoosh": run_whoosh,
              "fts5": run_fts5, "ours-steady": run_ours_steady}[engine]
    with tempfile.TemporaryDirectory() as tmp:
        out = runner(args, raw, queries, related_ids, Path(tmp))
    out.setdefault("docs", args.articles if args.corpus == "distinct" else len(raw) * args.scale)
    out["queries"] = len(queries)
    out["rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(out))


def report(results: dict[str, dict], raw: list[dict]) -> None:
    """Print one table, engines side by side."""
    topics = {f"https://reuters.example/{s['id']}": set(s["topics"]) for s in raw}
    rows: list[tuple[str, ...]] = []
    for engine, r in results.items():
        search_p = percentiles(r["search_ms"])
        rel = r["related"]
        if rel:
            rel_p = percentiles([t for t, _, _ in rel])
            p5 = statistics.mean(
                precision_at_5(topics, f"https://reuters.example/{sid}", urls)
                for _, sid, urls in rel)
            related_cell = f"{rel_p['p50']:.2f}/{rel_p['p95']:.2f}", f"{p5:.3f}"
        else:
            related_cell = "-", "-"
        if "segments" in r:
            print(f"{engine}: built in {r['commits']} commits, {r['segments']} segments at the "
                  "end")
        if "sidecar" in r:
            print(f"{engine}: related-articles sidecar built in {r['sidecar']['seconds']:.1f}s, "
                  f"{r['sidecar']['mb']:.1f} MB")
        build = f"{r['docs'] / r['build_s']:,.0f}" if r["build_s"] else "cached"
        build_cpu = f"{r['docs'] / r['build_cpu_s']:,.0f}" if r.get("build_cpu_s") else "-"
        rows.append((engine, f"{r['docs']:,}", build, build_cpu,
                     f"{r['size'] / 2**20:,.0f}",
                     f"{search_p['p50']:.2f}/{search_p['p95']:.2f}/{search_p['p99']:.2f}"
                     f" {statistics.fmean(r['search_ms']):.2f}",
                     *related_cell, f"{r['rss_mb']:,.0f}"))
    header = ("engine", "docs", "build docs/s", "per CPU s", "index MB",
              "search ms p50/p95/p99 mean",
              "related ms p50/p95", "related P@5", "peak RSS MB")
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(header)]
    for row in (header, *rows):
        print("  ".join(cell.rjust(w) for cell, w in zip(row, widths, strict=True)))


def ratios(results: dict[str, dict]) -> None:
    """Build rate and latency ratios against the FTS5 library and plain Whoosh."""
    whoosh = results.get("whoosh", {})
    for engine in ("ours", "ours-steady"):
        mine = results.get(engine, {})
        if mine.get("build_s") and whoosh.get("build_s"):
            print(f"{engine}/whoosh build rate: {whoosh['build_s'] / mine['build_s']:.2f}x "
                  f"(per CPU second {whoosh['build_cpu_s'] / mine['build_cpu_s']:.2f}x)")
    p = {engine: {**percentiles(r["search_ms"]), "mean": statistics.fmean(r["search_ms"])}
         for engine, r in results.items()}
    cpu = {engine: {**percentiles(r["search_cpu_ms"]), "mean": statistics.fmean(r["search_cpu_ms"])}
           for engine, r in results.items() if r.get("search_cpu_ms")}
    for engine in ("ours", "ours-whoosh"):
        for peer in ("fts5", "whoosh"):
            if engine in p and peer in p:
                print(f"{engine}/{peer}: p50 {p[engine]['p50'] / p[peer]['p50']:.2f}x, "
                      f"p95 {p[engine]['p95'] / p[peer]['p95']:.2f}x, "
                      f"mean {p[engine]['mean'] / p[peer]['mean']:.2f}x")
                mine, theirs = cpu.get(engine), cpu.get(peer)
                if mine and theirs:
                    print(f"{engine}/{peer} thread CPU: p50 {mine['p50']:.2f}/"
                          f"{theirs['p50']:.2f} ms = {mine['p50'] / theirs['p50']:.2f}x, "
                          f"p95 {mine['p95']:.2f}/{theirs['p95']:.2f} ms = "
                          f"{mine['p95'] / theirs['p95']:.2f}x, mean "
                          f"{mine['mean'] / theirs['mean']:.2f}x")


def main() -> None:
    """Parse options; run each engine in a child process; print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=int, default=1, help="corpus copies (5 = 95k docs)")
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--related", type=int, default=1000)
    parser.add_argument("--procs", type=int, default=1, help="indexing processes for ours")
    parser.add_argument("--batch-mb", type=float, default=BULK_MB,
                        help="ours: commit every MB of article text (default: %(default)g)")
    parser.add_argument("--seed", type=int, default=1987)
    parser.add_argument("--warm", type=int, default=20,
                        help="other queries run first, unmeasured (default: %(default)s)")
    parser.add_argument("--engines", default=",".join(ENGINES))
    parser.add_argument("--corpus", choices=("reuters", "distinct"), default="reuters")
    parser.add_argument("--articles", type=int, default=100_000,
                        help="articles of the distinct corpus (default: %(default)s)")
    parser.add_argument("--cache", type=Path, default=None,
                        help="build indexes once here and reuse them (e.g. .benchmarks)")
    parser.add_argument("--index", type=Path, default=None,
                        help="ours, ours-whoosh: search this index, built before (e.g. by "
                             "benchmarks.bulk_build), instead of building one")
    parser.add_argument("--stream", choices=("seeded", "distinct"), default="seeded",
                        help="seeded: title-word queries (some repeat); distinct: the HTTP "
                             "benchmark's distinct queries, none repeated (default: "
                             "%(default)s)")
    parser.add_argument("--parallel", action="store_true",
                        help="run the engines at the same time, so their builds share one "
                             "machine load (their searches then overlap too)")
    parser.add_argument("--child", choices=ENGINES + EXTRA_ENGINES, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.corpus == "reuters":
        args.articles = 19043 * args.scale  # the stories, replicated `--scale` times
    if args.index:
        from search_service.index.schema import index_exists
        if not index_exists(args.index):
            parser.error(f"--index {args.index}: no index there")
        if args.related:
            parser.error("--index: pass --related 0 (related stories are scored against the "
                         "Reuters corpus the benchmark builds itself)")
        args.index = args.index.resolve()
    if args.child:
        child(args.child, args)
        return
    commands = {}
    for engine in args.engines.split(","):
        cmd = [sys.executable, "-m", "benchmarks.search", "--child", engine,
               "--scale", str(args.scale), "--queries", str(args.queries),
               "--related", str(args.related),
               "--procs", str(args.procs), "--batch-mb", str(args.batch_mb),
               "--seed", str(args.seed), "--corpus", args.corpus,
               "--articles", str(args.articles), "--warm", str(args.warm)]
        if args.cache:
            cmd += ["--cache", str(args.cache)]
        if args.index:
            cmd += ["--index", str(args.index)]
        cmd += ["--stream", args.stream]
        commands[engine] = cmd
    cwd = Path(__file__).resolve().parents[1]
    results = {}
    if args.parallel:  # every engine at once: each build sees the same machine load
        print(f"running {', '.join(commands)} side by side …", file=sys.stderr, flush=True)
        running = {engine: subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, cwd=cwd)
                   for engine, cmd in commands.items()}
        for engine, proc in running.items():
            out, _ = proc.communicate()
            if proc.returncode:
                raise SystemExit(f"{engine} failed (exit {proc.returncode})")
            results[engine] = json.loads(out.strip().splitlines()[-1])
    for engine, cmd in commands.items() if not args.parallel else ():
        print(f"running {engine} …", file=sys.stderr, flush=True)
        done = subprocess.run(cmd, capture_output=True, text=True, check=True, cwd=cwd)
        results[engine] = json.loads(done.stdout.strip().splitlines()[-1])
    load = os.getloadavg()
    counted = sorted({r["queries"] for r in results.values()})
    print(f"in process, {'/'.join(map(str, counted))} {args.stream} queries, load average "
          f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    report(results, stories())
    ratios(results)


if __name__ == "__main__":
    main()
