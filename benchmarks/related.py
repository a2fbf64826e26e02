"""Related-articles benchmark on an existing Reuters index: sidecar build, P@5, latency, memory.

Usage: python -m benchmarks.related INDEX_DIR [--build] [--related 1000] [--seed 1987]

INDEX_DIR holds the Reuters corpus indexed by this project (any scale, e.g. built by
`benchmarks/search.py`'s writer settings or `ArticleWriter` over `tests.support.corpus.articles`);
the related stories are the same seeded 1,000 stories with topics as `benchmarks/search.py`
(seed 1987), found by their original URL. `--build` (re)builds the sidecar first and prints
its build time and size. Prints precision@5, p50/p95/p99 of `related()` (searcher reused),
and the process's resident memory before and after loading the sidecar and after the run.
"""

from __future__ import annotations

import argparse
import random
import resource
import time
from pathlib import Path

from benchmarks._common import load_average, percentiles
from benchmarks.search import story_url
from tests.support.corpus import stories


def rss_mb() -> float:
    """The process's current resident memory in MB (Linux)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    """Parse options, optionally build the sidecar, run the related lookups, print figures."""
    from search_service.article import article_id
    from search_service.index import related as sidecar
    from search_service.index.schema import open_index
    from search_service.search.articles import related

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("index", type=Path)
    parser.add_argument("--build", action="store_true", help="rebuild the sidecar first")
    parser.add_argument("--related", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1987)
    parser.add_argument("--recency", action="store_true", help="prefer stories close in time")
    args = parser.parse_args()

    raw = stories()
    rng = random.Random(args.seed)
    chosen = rng.sample([s for s in raw if s["topics"]], args.related)
    topics = {f"https://reuters.example/{s['id']}": set(s["topics"]) for s in raw if s["topics"]}
    del raw
    ix = open_index(args.index)
    if args.build:
        built = sidecar.build(ix, args.index)
        print(f"sidecar: {built.articles:,} articles, {built.terms:,} terms, "
              f"{built.seconds:.1f}s, {built.size / 2**20:.1f} MB")
    with ix.searcher() as searcher:
        before = rss_mb()
        started = time.perf_counter()
        side = sidecar.load(args.index)
        print(f"sidecar load {time.perf_counter() - started:.2f}s "
              f"({'present' if side else 'absent: more_like fallback'}), "
              f"{searcher.doc_count():,} articles in the index; RSS {before:,.0f} MB before "
              f"loading it, {rss_mb():,.0f} MB after")
        times, precisions = [], []
        for story in chosen:
            url = f"https://reuters.example/{story['id']}"
            started = time.perf_counter()
            results = related(searcher, article_id(url), limit=5,
                              recency=args.recency)["results"]
            times.append((time.perf_counter() - started) * 1000)
            precisions.append(
                sum(1 for r in results if topics.get(story_url(r["url"]), set()) & topics[url])
                / 5)
    p = percentiles(times)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"related P@5 {sum(precisions) / len(precisions):.3f}  "
          f"ms p50/p95/p99 {p['p50']:.2f}/{p['p95']:.2f}/{p['p99']:.2f}  RSS {rss_mb():,.0f} MB "
          f"(peak {peak:,.0f} MB, the corpus loaded for its labels included)")
    print(load_average())


if __name__ == "__main__":
    main()
