"""The cost of durable commits: the same articles written with fsync at commit (the default)
and without (NEWS_SEARCH_FSYNC=0), in the same run, on the same disk.

Usage: python -m benchmarks.fsync [--articles N] [--batch B]

Writes N articles of the Reuters corpus (tests/support/corpus.py) through the single writer in
commits of B articles, once per setting, alternating twice; prints seconds per commit and
articles/s for both, with the load average. The durable runs also time every `os.fsync` call
itself (calls and seconds per commit, and their share of the commit): on a shared machine the
difference between the two settings drowns in the noise of the CPU-bound commit, the time
spent in fsync does not.
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


class FsyncClock:
    """Wraps os.fsync to count its calls and the seconds spent in them."""

    def __init__(self):
        self.calls = 0
        self.seconds = 0.0
        self.real = os.fsync

    def __call__(self, fd: int) -> None:
        began = time.perf_counter()
        try:
            self.real(fd)
        finally:
            self.seconds += time.perf_counter() - began
            self.calls += 1


#: The fsync calls and seconds of each durable commit: (calls, seconds).
SYNCED: list[tuple[int, float]] = []


def run(items: list, batch: int, durable: bool) -> list[float]:
    """Write `items` in commits of `batch` into a fresh index; return seconds per commit (and
    note each durable commit's fsync calls and seconds in SYNCED)."""
    os.environ[whoosh_compat.FSYNC_ENV] = "1" if durable else "0"
    with tempfile.TemporaryDirectory() as tmp:
        ix = open_index(Path(tmp) / "ix", create=True)
        times = []
        with ArticleWriter(ix, batch=10**9, interval=float("inf")) as writer:
            for start in range(0, len(items), batch):
                for article in items[start:start + batch]:
                    writer.add(article)
                clock = FsyncClock()
                os.fsync = clock
                try:
                    began = time.perf_counter()
                    writer.flush()
                    times.append(time.perf_counter() - began)
                finally:
                    os.fsync = clock.real
                if durable:
                    SYNCED.append((clock.calls, clock.seconds))
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
    calls = [c for c, _ in SYNCED]
    spent = [s for _, s in SYNCED]
    share = sum(spent) / sum(results[True])
    print()
    print("| durable commits | fsync calls per commit (median) | ms in fsync per commit "
          "(median) | p90 ms | max ms | share of commit time |")
    print("|---:|---:|---:|---:|---:|---:|")
    print(f"| {len(SYNCED)} | {statistics.median(calls):.0f} | "
          f"{statistics.median(spent) * 1000:.1f} | "
          f"{sorted(spent)[int(0.9 * (len(spent) - 1))] * 1000:.1f} | {max(spent) * 1000:.1f} | "
          f"{share:.2%} |")


if __name__ == "__main__":
    main()
