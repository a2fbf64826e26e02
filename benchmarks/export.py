"""Export benchmark: every matching story as CSV, at 100k articles, beside the plain search.

Usage: python -m benchmarks.export [--articles 100000] [--corpus reuters|distinct]
       [--cache .benchmarks] [--body]

Builds (or reuses) the index of benchmarks/http_api.py (the Reuters corpus replicated with
fresh ids to `--articles` articles; the replicas are near-duplicates of their story, so the
export has one row per story, as the search total counts them). For result sets of growing
size (every article published up to the end of March, May, July, and all; and two text
queries), a fresh child process each:

* runs the plain search of the same query and filters (page 1, 20 results), the peer, and
  cursor paging, which orders every matching story: its first page (which also reads the
  date and story-key columns, once per commit: "cursor 1st") and its second ("cursor ms"),
* exports every matching story as CSV to /dev/null, timed, and reports rows/s and the
  articles those rows stand for per second,
* exports again under tracemalloc for the peak of Python-allocated memory (numpy included)
  during the export ("traced MB"), beside the peak of the non-streaming peer that holds
  every row in a list ("held MB"), and reports the process's peak RSS.

Target: >= 5,000 rows/s, and memory flat as the result grows (the rows stream; the story
order holds a few numbers per match).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
import tracemalloc
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CASES = {
    "reuters": [
        ("all to 1987-03-31", "", "1987-03-31"),
        ("all to 1987-05-31", "", "1987-05-31"),
        ("all to 1987-07-31", "", "1987-07-31"),
        ("all", "", ""),
        ("q=oil", "oil", ""),
        ("q=said", "said", ""),
    ],
    # distinct articles spread over 2019-2024 (tests/support/corpus.py)
    "distinct": [
        ("all to 2019-06-30", "", "2019-06-30"),
        ("all to 2020-12-31", "", "2020-12-31"),
        ("all to 2022-12-31", "", "2022-12-31"),
        ("all", "", ""),
        ("q=oil", "oil", ""),
        ("q=said", "said", ""),
    ],
}


def child(index: Path, q: str, to: str, body: bool) -> dict:
    """Measure one case in this process; return the figures."""
    from search_service import search
    from search_service.index.schema import open_index

    params = search.SearchParams(q=q, sort="newest",
                                 date_to=search.dates_param("to", to) if to else None)
    with open_index(index).searcher() as searcher:
        search.search(searcher, search.SearchParams(q="warm up"))
        started = time.perf_counter()
        plain = search.search(searcher, params)
        plain_ms = (time.perf_counter() - started) * 1000
        started = time.perf_counter()
        first = search.search(searcher, replace(params, cursor="*"))
        first_ms = (time.perf_counter() - started) * 1000  # reads columns: once per commit
        started = time.perf_counter()
        if first["next_cursor"]:
            search.search(searcher, replace(params, cursor=first["next_cursor"]))
        cursor_ms = (time.perf_counter() - started) * 1000
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        with open(os.devnull, "w", encoding="utf-8") as out:
            started = time.perf_counter()
            rows = similar = 0
            for row in search.export_rows(searcher, params, body=body):
                rows += 1
                similar += row["similar_count"]
                out.write(row["id"])
            seconds = time.perf_counter() - started
            # The real path: rows serialised as CSV chunks.
            started = time.perf_counter()
            for chunk in search.serialise(search.export_rows(searcher, params, body=body),
                                          "csv", body=body):
                out.write(chunk)
            csv_seconds = time.perf_counter() - started
        rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        tracemalloc.start()
        for _ in search.serialise(search.export_rows(searcher, params, body=body), "csv",
                                  body=body):
            pass
        _, traced_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        held = list(search.export_rows(searcher, params, body=body))  # the non-streaming peer
        _, held_peak = tracemalloc.get_traced_memory()
        del held
        tracemalloc.stop()
    return {"rows": rows, "articles": rows + similar, "total": plain["total"],
            "plain_ms": plain_ms, "first_ms": first_ms, "cursor_ms": cursor_ms,
            "rows_s": rows / seconds, "csv_s": csv_seconds,
            "csv_rows_s": rows / csv_seconds, "articles_s": (rows + similar) / csv_seconds,
            "traced_mb": traced_peak / 2**20, "held_mb": held_peak / 2**20,
            "rss_before_mb": rss_before,
            "rss_peak_mb": rss_after}


def main() -> None:
    """Build or reuse the index, measure each case in a fresh process, print a table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=100_000)
    parser.add_argument("--cache", type=Path, default=ROOT / ".benchmarks")
    parser.add_argument("--procs", type=int, default=1, help="processes for the index build")
    parser.add_argument("--corpus", choices=sorted(CASES), default="reuters",
                        help="replicated Reuters stories or distinct articles (corpus.py)")
    parser.add_argument("--body", action="store_true", help="export bodies too")
    parser.add_argument("--child", nargs=3, metavar=("INDEX", "Q", "TO"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        index, q, to = args.child
        print(json.dumps(child(Path(index), q, to, args.body)))
        return
    from benchmarks.http_api import cached_index

    index = cached_index(args.cache, args.articles, args.procs, args.corpus)
    print(f"export benchmark: {args.articles:,} {args.corpus} articles, "
          f"bodies {'on' if args.body else 'off'}"
          f"; load average {os.getloadavg()[0]:.2f} at start")
    print(f"{'case':<20}{'rows':>8}{'articles':>10}{'search ms':>11}{'cursor 1st':>11}"
          f"{'cursor ms':>11}"
          f"{'rows/s':>9}"
          f"{'csv rows/s':>12}{'articles/s':>12}{'traced MB':>11}{'held MB':>9}"
          f"{'RSS before':>12}"
          f"{'RSS peak':>10}")
    for name, q, to in CASES[args.corpus]:
        command = [sys.executable, "-m", "benchmarks.export", "--child", str(index), q, to]
        if args.body:
            command.append("--body")
        done = subprocess.run(command, capture_output=True, text=True, check=True)
        r = json.loads(done.stdout.strip().splitlines()[-1])
        assert r["rows"] == r["total"], (r["rows"], r["total"])  # one row per story
        print(f"{name:<20}{r['rows']:>8,}{r['articles']:>10,}{r['plain_ms']:>11.1f}"
              f"{r['first_ms']:>11.1f}{r['cursor_ms']:>11.1f}"
              f"{r['rows_s']:>9,.0f}{r['csv_rows_s']:>12,.0f}{r['articles_s']:>12,.0f}"
              f"{r['traced_mb']:>11.1f}{r['held_mb']:>9.1f}{r['rss_before_mb']:>11.0f}M"
              f"{r['rss_peak_mb']:>9.0f}M",
              flush=True)
    print(f"load average {os.getloadavg()[0]:.2f} at the end; target >= 5,000 rows/s, memory "
          "flat as the result grows")


if __name__ == "__main__":
    main()
