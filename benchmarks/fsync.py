"""The cost of durable commits: the same articles written with fsync at commit (the default)
and without (NEWS_SEARCH_FSYNC=0), in the same run, on the same disk.

Usage: python -m benchmarks.fsync [--articles N] [--batch B]

Writes N articles of the Reuters corpus (tests/support/corpus.py) through the single writer in
commits of B articles, once per setting, alternating twice; prints seconds per commit and
articles/s for both, with the load average.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

from search_service.index import whoosh_compat
from search_service.index.schema import open_index
from search_service.index.writer import ArticleWriter
from tests.support.corpus import articles, stories


def run(items: list, batch: int, durable: bool) -> list[float]:
    """Write `items` in commits of `batch` into a fresh index; return seconds per commit."""
    os.environ[whoosh_compat.FSYNC_ENV] = "1" if durable else "0"
    with tempfile.TemporaryDirectory() as tmp:
        ix = open_index(Path(tmp) / "ix", create=True)
        times = []
        with ArticleWriter(ix, batch=10**9, interval=float("inf")) as writer:
            for start in range(0, len(items), batch):
                for article in items[start:start + batch]:
                    writer.add(article)
                began = time.perf_counter()
                writer.flush()
                times.append(time.perf_counter() - began)
    return times


def main() -> None:
    """Run both settings twice, alternating, and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=2000)
    parser.add_argument("--batch", type=int, default=100)
    args = parser.parse_args()
    items = list(articles(stories(), 1))[:args.articles]
    before = os.getloadavg()[0]
    results: dict[bool, list[float]] = {True: [], False: []}
    for durable in (True, False, True, False):
        results[durable] += run(items, args.batch, durable)
    after = os.getloadavg()[0]
    print(f"{args.articles} articles in commits of {args.batch}, each setting twice; "
          f"load average {before:.2f} before, {after:.2f} after (2 cores)")
    print("| setting | commits | median s/commit | p90 s/commit | articles/s |")
    print("|---|---:|---:|---:|---:|")
    for durable, label in ((True, "fsync at commit (default)"),
                           (False, "NEWS_SEARCH_FSYNC=0")):
        times = results[durable]
        p90 = sorted(times)[int(0.9 * (len(times) - 1))]
        print(f"| {label} | {len(times)} | {statistics.median(times):.3f} | {p90:.3f} | "
              f"{args.batch * len(times) / sum(times):.0f} |")


if __name__ == "__main__":
    main()
