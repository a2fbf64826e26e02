"""Research views at scale: timeline, compare of 5 and significant terms, side by side with
the plain search of the same queries in the same run.

Usage: python -m benchmarks.research [--articles 100000] [--queries 100] [--groups 20]

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
import random
import statistics
import time
from pathlib import Path

from benchmarks._common import load_average, percentile, sample_queries
from benchmarks.http_api import cached_index
from tests.support.corpus import stories

ROOT = Path(__file__).resolve().parent.parent


def make_queries(raw: list[dict], count: int, seed: int) -> list[str]:
    """Seeded queries from title words: single words, two-word ANDs and two-word phrases."""
    from whoosh.analysis import STOP_WORDS

    return [f'"{" ".join(words)}"' if kind == "phrase" else " ".join(words)
            for kind, words in sample_queries((s["title"] for s in raw), count, seed,
                                              kinds=("term", "and2", "phrase"),
                                              stop=STOP_WORDS)]


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
    """Forget decoded and scored postings and per-document terms (not the per-commit
    caches)."""
    from search_service.search.executor import forget as forget_postings
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
    print(f"\n{docs:,} articles, {segments} segments; {len(queries)} queries "
          f"(matching stories: median {statistics.median(totals):,.0f}, max {max(totals):,}), "
          f"{len(groups)} groups of 5; {load_average()}")
    print("\nonce per commit (ms): " + ", ".join(f"{k} {v:,.0f}" for k, v in once.items()))
    targets = {"timeline": "p95 <= 100 ms", "terms": "p95 <= 100 ms",
               "compare of 5": "p95 <= 300 ms"}
    for label, table in (("wall-clock", rows), ("CPU (process time)", cpu)):
        base50, base95 = percentile(table["search"], 50), percentile(table["search"], 95)
        print(f"\n{label}:\n")
        print("| view | p50 ms | p95 ms | p50 / search p50 | p95 / search p95 | target |")
        print("|---|---|---|---|---|---|")
        for name, values in table.items():
            p50, p95 = percentile(values, 50), percentile(values, 95)
            print(f"| {name} | {p50:.1f} | {p95:.1f} | {p50 / base50:.2f} | "
                  f"{p95 / base95:.2f} | {targets.get(name, 'peer')} |")


if __name__ == "__main__":
    main()
