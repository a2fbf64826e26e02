"""Research views at scale: timeline, compare of 5 and significant terms, side by side with
the plain search of the same queries in the same run.

Usage: python benchmarks/research.py [--articles 100000] [--queries 100] [--groups 20]

Builds (or reuses) the index of `benchmarks/http_api.py` (the Reuters corpus replicated with
fresh ids to `--articles`, cached under `.benchmarks/`), opens one searcher and times, in
process, over seeded title-word queries (single words, two-word ANDs, phrases):

- search: `search_service.search.search` (top 10 with highlights and the exact total, no
  results cache): the peer every other row is a ratio to;
- timeline: `search.timeline(interval=auto)` (every bucket with its share);
- terms: `search.terms(limit=20)`;
- compare of 5: `search.compare` of `--groups` groups of 5 queries, beside the cost of the 5
  plain searches of each group.

Caches kept per commit (the per-document columns, the filter universes, the terms
background) are filled once before timing and their cost is printed as "once per commit".
The decoded-postings and per-document-terms caches are emptied before each view's run, so a
view never profits from another's work; within a run, queries sharing a word share its
decoded postings, as they do in a serving process.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.corpus import stories  # noqa: E402
from benchmarks.http_api import cached_index  # noqa: E402


def make_queries(raw: list[dict], count: int, seed: int) -> list[str]:
    """Seeded queries from title words: single words, two-word ANDs and two-word phrases."""
    from whoosh.analysis import STOP_WORDS

    rng = random.Random(seed)
    titles = [[w.lower() for w in re.findall(r"[A-Za-z]{4,}", s["title"])
               if w.lower() not in STOP_WORDS] for s in raw]
    titles = [t for t in titles if len(t) >= 3]
    queries = []
    for i in range(count):
        words = rng.choice(titles)
        kind = ("term", "and2", "phrase")[i % 3]
        if kind == "term":
            queries.append(rng.choice(words))
        elif kind == "and2":
            queries.append(" ".join(rng.sample(words, 2)))
        else:
            start = rng.randrange(len(words) - 1)
            queries.append('"' + " ".join(words[start:start + 2]) + '"')
    return queries


def percentile(values: list[float], share: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


#: CPU milliseconds of each timed call, per view (the machine is shared: wall time includes
#: waiting for a core, CPU time does not).
CPU: list[float] = []


def timed(fn) -> float:
    """Wall-clock milliseconds one call of `fn` takes (its CPU milliseconds go to CPU)."""
    started, cpu = time.perf_counter(), time.process_time()
    fn()
    CPU.append((time.process_time() - cpu) * 1000)
    return (time.perf_counter() - started) * 1000


def run(name: str, rows: dict, cpu: dict, calls) -> None:
    """Time `calls` (each a list of functions summed into one figure) as the view `name`."""
    empty_caches()
    rows[name], cpu[name] = [], []
    for group in calls:
        CPU.clear()
        rows[name].append(sum(timed(fn) for fn in group))
        cpu[name].append(sum(CPU))


def empty_caches() -> None:
    """Forget decoded postings and per-document terms (not the per-commit caches)."""
    from search_service.index.postings import forget as forget_postings
    from search_service.search.terms import forget as forget_terms

    forget_postings()
    forget_terms()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--groups", type=int, default=20)
    parser.add_argument("--seed", type=int, default=18)
    parser.add_argument("--cache", type=Path, default=ROOT / ".benchmarks")
    parser.add_argument("--index", type=Path,
                        help="time this index instead (e.g. one of the bundled sample)")
    args = parser.parse_args()

    from search_service import search
    from search_service.index.schema import open_index
    from search_service.search import SearchParams
    from search_service.search.matches import columns_of
    from search_service.search.terms import background
    from search_service.search.timeline import _universe_dated

    index = args.index or cached_index(args.cache, args.articles, 1)
    raw = stories()
    queries = make_queries(raw, args.queries, args.seed)
    rng = random.Random(args.seed + 1)
    groups = [rng.sample(queries, 5) for _ in range(args.groups)]
    ix = open_index(index)
    with ix.searcher() as searcher:
        docs, segments = searcher.doc_count(), len(searcher.leaf_searchers())
        once = {
            "columns": timed(lambda: columns_of(searcher)),
            "universe": timed(lambda: _universe_dated(searcher, SearchParams())),
            "terms background": timed(lambda: background(searcher, columns_of(searcher))),
        }
        rows: dict[str, list[float]] = {}
        cpu: dict[str, list[float]] = {}
        run("search", rows, cpu, [[lambda q=q: search.search(searcher, SearchParams(q=q))]
                                  for q in queries])
        run("timeline", rows, cpu, [[lambda q=q: search.timeline(searcher, SearchParams(q=q))]
                                    for q in queries])
        run("terms", rows, cpu, [[lambda q=q: search.terms(searcher, SearchParams(q=q), 20)]
                                 for q in queries])
        run("5 searches (a group)", rows, cpu, [
            [lambda q=q: search.search(searcher, SearchParams(q=q)) for q in group]
            for group in groups])
        run("compare of 5", rows, cpu, [
            [lambda g=g: search.compare(searcher, SearchParams(), g)] for g in groups])
        totals = [search.search(searcher, SearchParams(q=q))["total"] for q in queries]
    load = os.getloadavg()
    print(f"\n{docs:,} articles, {segments} segments; {len(queries)} queries "
          f"(matching stories: median {statistics.median(totals):,.0f}, max {max(totals):,}), "
          f"{len(groups)} groups of 5; load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    print("\nonce per commit (ms): " + ", ".join(f"{k} {v:,.0f}" for k, v in once.items()))
    targets = {"timeline": "p95 <= 100 ms", "terms": "p95 <= 100 ms",
               "compare of 5": "p95 <= 300 ms"}
    for label, table in (("wall-clock", rows), ("CPU (process time)", cpu)):
        base50, base95 = percentile(table["search"], 0.5), percentile(table["search"], 0.95)
        print(f"\n{label}:\n")
        print("| view | p50 ms | p95 ms | p50 / search p50 | p95 / search p95 | target |")
        print("|---|---|---|---|---|---|")
        for name, values in table.items():
            p50, p95 = percentile(values, 0.5), percentile(values, 0.95)
            print(f"| {name} | {p50:.1f} | {p95:.1f} | {p50 / base50:.2f} | "
                  f"{p95 / base95:.2f} | {targets.get(name, 'peer')} |")


if __name__ == "__main__":
    main()
