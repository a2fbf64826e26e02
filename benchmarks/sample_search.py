"""Time ingest, search (with highlights) and related articles on the bundled sample.

Usage: python -m benchmarks.sample_search [--queries N] [--seed S]

Builds a fresh index of search_service/data/sample.warc.gz in a temp dir (one writer, the
`ingest` path), then runs a seeded set of queries made from title words (single terms,
two-term ANDs, two-word phrases) through `search.search` with one reused searcher, and
`search.related` for a seeded set of articles. Prints one table.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from pathlib import Path

from benchmarks._common import load_average, percentile, sample_queries
from search_service import config
from search_service.index.schema import open_index
from search_service.ingest import ingest
from search_service.search.articles import related
from search_service.search.engine import search


def make_queries(titles: list[str], count: int, seed: int) -> list[str]:
    """Seeded single-term, two-term and phrase queries from title words."""
    return [f'"{words[0]} {words[1]}"' if kind == "phrase" else " ".join(words)
            for kind, words in sample_queries(titles, count, seed, ("term", "and2", "phrase"))]


def timed(fn) -> float:
    """Run `fn` once; return milliseconds."""
    started = time.perf_counter()
    fn()
    return (time.perf_counter() - started) * 1000


def main() -> None:
    """Run the benchmark and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--seed", type=int, default=1987)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        ix = open_index(Path(tmp), create=True)
        started = time.perf_counter()
        summary = ingest(ix, [config.SAMPLE_WARC])
        build_s = time.perf_counter() - started
        with ix.searcher() as searcher:
            fields = list(searcher.all_stored_fields())
            queries = make_queries([f["title"] for f in fields], args.queries, args.seed)
            search(searcher, q="warm up")
            search_ms = [timed(lambda q=q: search(searcher, q=q)) for q in queries]
            ids = [f["id"] for f in rng.sample(fields, 100)]
            related_ms = [timed(lambda i=i: related(searcher, i)) for i in ids]
            opened_ms = [timed(lambda: ix.searcher().close()) for _ in range(20)]
    rows = [
        ("ingest (normalise + index), pages/s", f"{summary.pages / build_s:,.0f}",
         f"{summary.indexed} articles in {build_s:.1f} s"),
        ("search top-10 + highlights, p50 ms", f"{percentile(search_ms, 50):.1f}",
         f"p95 {percentile(search_ms, 95):.1f} ms, {len(queries)} queries"),
        ("related top-5, p50 ms", f"{percentile(related_ms, 50):.1f}",
         f"p95 {percentile(related_ms, 95):.1f} ms, 100 articles"),
        ("open a searcher, p50 ms", f"{percentile(opened_ms, 50):.1f}",
         "avoided per request by search.Searchers"),
    ]
    width = max(len(r[0]) for r in rows)
    for name, value, note in rows:
        print(f"{name:<{width}}  {value:>8}  {note}")
    print(load_average())


if __name__ == "__main__":
    main()
