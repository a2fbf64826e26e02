"""Search engine benchmark on the Reuters corpus: ours vs plain Whoosh vs SQLite FTS5.

Usage: python -m benchmarks.search [--scale 1] [--queries 300] [--related 1000] [--procs 1]

Each engine runs in its own process (so peak RSS is its own) over the same articles (the
corpus replicated `--scale` times with fresh ids) and the same seeded queries: single terms,
two- and three-term ANDs and phrases from title words, a quarter of them with a date filter,
a third sorted by date. Reports build rate and index size, top-10-with-snippets latency
p50/p95/p99, related-article latency and precision@5 (a related story counts when it shares a
topic label with the source story; labels are used for scoring only), and peak RSS.
"""

from __future__ import annotations

import argparse
import json
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
from benchmarks.corpus import articles, stories

ENGINES = ("ours", "whoosh", "fts5")


def make_queries(raw: list[dict], count: int, seed: int) -> list[dict]:
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
                        "since": "1987-06-01" if i % 4 == 1 else None,
                        "by_date": i % 3 == 2})
    return queries


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

def run_ours(raw, scale, queries, related_ids, tmp: Path, procs: int) -> dict:
    """Our engine: the project's index writer, search and related functions."""
    from search_service.index.schema import open_index
    from search_service.index.writer import ArticleWriter
    from search_service.search.articles import related
    from search_service.search.engine import search
    from search_service.search.params import SearchParams, dates_param

    ix = open_index(tmp / "ours", create=True)
    started = time.perf_counter()
    with ArticleWriter(ix, batch=5000, interval=3600, procs=procs) as writer:
        for article in articles(raw, scale):
            writer.add(article)
    build = time.perf_counter() - started
    out = {"build_s": build, "size": dir_size(tmp / "ours")}
    from search_service.index import related as sidecar
    built = sidecar.refresh(tmp / "ours", ix)
    out["sidecar"] = {"seconds": built.seconds, "mb": built.size / 2**20}
    with ix.searcher() as searcher:
        def one(q):
            text = " ".join(q["terms"])
            params = SearchParams(q=f'"{text}"' if q["phrase"] else text,
                                  sort="newest" if q["by_date"] else "relevance",
                                  date_from=dates_param("from", q["since"] or ""))
            return search(searcher, params)
        one(queries[0])
        out["search_ms"] = [timed(lambda q=q: one(q)) for q in queries]
        out["related"] = []
        for story_id in related_ids:
            from search_service.article import article_id
            aid = article_id(f"https://reuters.example/{story_id}")
            started = time.perf_counter()
            urls = [r["url"] for r in related(searcher, aid, limit=5)["results"]]
            out["related"].append(((time.perf_counter() - started) * 1000, story_id, urls))
    return out


def run_whoosh(raw, scale, queries, related_ids, tmp: Path, procs: int) -> dict:
    """Plain Whoosh the obvious way: default analyzers, one writer, hit.highlights."""
    from whoosh import fields, index, qparser
    from whoosh.query import DateRange

    schema = fields.Schema(id=fields.ID(stored=True, unique=True), url=fields.ID(stored=True),
                           title=fields.TEXT(stored=True), body=fields.TEXT(stored=True),
                           published=fields.DATETIME(stored=True, sortable=True))
    (tmp / "whoosh").mkdir()
    ix = index.create_in(str(tmp / "whoosh"), schema)
    started = time.perf_counter()
    writer = ix.writer(limitmb=256)
    for article in articles(raw, scale):
        writer.add_document(id=article.url, url=article.url, title=article.title,
                            body=article.body, published=article.published.replace(tzinfo=None))
    writer.commit()
    out = {"build_s": time.perf_counter() - started, "size": dir_size(tmp / "whoosh")}
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
        one(queries[0])
        out["search_ms"] = [timed(lambda q=q: one(q)) for q in queries]
        out["related"] = []
        for story_id in related_ids:
            url = f"https://reuters.example/{story_id}"
            started = time.perf_counter()
            docnum = searcher.document_number(id=url)
            urls = [hit["url"] for hit in searcher.more_like(docnum, "body", top=5)]
            out["related"].append(((time.perf_counter() - started) * 1000, story_id, urls))
    return out


def run_fts5(raw, scale, queries, related_ids, tmp: Path, procs: int) -> dict:
    """SQLite FTS5 (porter) from the standard library, ranked by bm25 with snippet()."""
    db = sqlite3.connect(tmp / "fts5.db")
    db.execute("CREATE VIRTUAL TABLE a USING fts5(url UNINDEXED, title, body, "
               "published UNINDEXED, tokenize='porter unicode61')")
    started = time.perf_counter()
    db.executemany("INSERT INTO a VALUES (?, ?, ?, ?)",
                   ((x.url, x.title, x.body, x.published.isoformat())
                    for x in articles(raw, scale)))
    db.commit()
    out = {"build_s": time.perf_counter() - started, "size": (tmp / "fts5.db").stat().st_size}

    def one(q):
        match = " ".join(f'"{t}"' for t in q["terms"])
        if q["phrase"]:
            match = '"' + " ".join(q["terms"]) + '"'
        where = "a MATCH ?" + (" AND published >= ?" if q["since"] else "")
        order = "published DESC" if q["by_date"] else "bm25(a, 0, 2.0, 1.0)"
        args = [match] + ([q["since"]] if q["since"] else [])
        return db.execute(
            f"SELECT title, snippet(a, 2, '<mark>', '</mark>', '…', 30) FROM a "
            f"WHERE {where} ORDER BY {order} LIMIT 10", args).fetchall()
    one(queries[0])
    out["search_ms"] = [timed(lambda q=q: one(q)) for q in queries]
    out["related"] = []
    return out


# -- driver ------------------------------------------------------------------------------------

def child(engine: str, args: argparse.Namespace) -> None:
    """Run one engine and print its raw figures as JSON."""
    raw = stories()
    queries = make_queries(raw, args.queries, args.seed)
    rng = random.Random(args.seed)
    related_ids = [s["id"] for s in rng.sample([s for s in raw if s["topics"]], args.related)]
    runner = {"ours": run_ours, "whoosh": run_whoosh, "fts5": run_fts5}[engine]
    with tempfile.TemporaryDirectory() as tmp:
        out = runner(raw, args.scale, queries, related_ids, Path(tmp), args.procs)
    out["docs"] = len(raw) * args.scale
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
        if "sidecar" in r:
            print(f"{engine}: related-articles sidecar built in {r['sidecar']['seconds']:.1f}s, "
                  f"{r['sidecar']['mb']:.1f} MB")
        rows.append((engine, f"{r['docs']:,}", f"{r['docs'] / r['build_s']:,.0f}",
                     f"{r['size'] / 2**20:,.0f}",
                     f"{search_p['p50']:.2f}/{search_p['p95']:.2f}/{search_p['p99']:.2f}",
                     *related_cell, f"{r['rss_mb']:,.0f}"))
    header = ("engine", "docs", "build docs/s", "index MB", "search ms p50/p95/p99",
              "related ms p50/p95", "related P@5", "peak RSS MB")
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(header)]
    for row in (header, *rows):
        print("  ".join(cell.rjust(w) for cell, w in zip(row, widths, strict=True)))


def main() -> None:
    """Parse options; run each engine in a child process; print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=int, default=1, help="corpus copies (5 = 95k docs)")
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--related", type=int, default=1000)
    parser.add_argument("--procs", type=int, default=1, help="indexing processes for ours")
    parser.add_argument("--seed", type=int, default=1987)
    parser.add_argument("--engines", default=",".join(ENGINES))
    parser.add_argument("--child", choices=ENGINES, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args)
        return
    results = {}
    for engine in args.engines.split(","):
        print(f"running {engine} …", file=sys.stderr, flush=True)
        cmd = [sys.executable, "-m", "benchmarks.search", "--child", engine,
               "--scale", str(args.scale), "--queries", str(args.queries),
               "--related", str(args.related), "--procs", str(args.procs), "--seed", str(args.seed)]
        done = subprocess.run(cmd, capture_output=True, text=True, check=True,
                              cwd=Path(__file__).resolve().parents[1])
        results[engine] = json.loads(done.stdout.strip().splitlines()[-1])
    report(results, stories())


if __name__ == "__main__":
    main()
