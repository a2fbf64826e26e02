"""The allocator settings compared in one run: two `serve` processes over the same index, one
with glibc's defaults (no arena limit, no trims) and one with the settings of
search_service/memory.py, under the same queries while a writer commits new articles.

Usage: python -m benchmarks.malloc_ab [--minutes 50] [--warmup 600] [--rate 8] [--clients 2]
                                      [--base 20000] [--commit-every 5] [--per-commit 5]
                                      [--cycle N] [--queries N] [--arenas 2] [--trim 30]
                                      [--keep DIR]
       python -m benchmarks.malloc_ab --report DIR [--warmup S]

Runs, on 127.0.0.1: a copy of a pre-built index of `--base` Reuters articles (the soak's,
kept under `.benchmarks/`); two `news-search serve --threads 4` processes on it (one process
each, so each is one waitress process as a serve worker is), arm "off" with
NEWS_SEARCH_MALLOC_ARENAS=0 and NEWS_SEARCH_MALLOC_TRIM_SECONDS=0, arm "on" with `--arenas`
and `--trim`; each fed the same stream of distinct seeded title-word queries (terms, two and
three words, phrases) at `--rate` searches a second by `--clients` threads; and, in this
process, a writer adding `--per-commit` new distinct articles (tests/support/corpus.py) every
`--commit-every` seconds, so that both servers refresh their searchers as a serve worker of a
running crawl does (with `--cycle N`, the same N articles over and over: every commit after
the first N articles updates, so the index keeps its size and memory that still grows grows
with time, not with the index).

Every 15 s: each server's RSS and private anonymous memory (RssAnon, /proc), the bytes its
bounded caches hold (decoded postings, scored terms: `news_search_worker_cache_bytes` from its
/metrics), the index's article count and the load average. A stream of new queries fills the
postings cache towards its bound (128 MB) for hours; `--queries N` cycles over N of them so
that the caches fill within the warm-up, and the table also gives the growth of the anonymous
memory less the caches. Prints, per arm, the growth of the anonymous memory (a
least-squares line over the samples after `--warmup` seconds, %/h of its mean and MB/h), the
same over the last half, the RSS growth, the malloc_trim calls and their cost (from each
server's /metrics), requests, failures and p95 latency, side by side, with the load average
over the run.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import quote_plus

from benchmarks.soak import (
    ROOT,
    TARGET_GROWTH,
    Load,
    cache_sizes,
    get,
    growth,
    p95,
    rss_mb,
    scalars,
    trims_line,
)

#: Seconds between two samples of memory.
SAMPLE_EVERY = 15


def queries(count: int, seed: int = 17) -> list[str]:
    """`count` seeded distinct-ish queries from the Reuters titles, URL-encoded."""
    from whoosh.analysis import STOP_WORDS

    from benchmarks._common import sample_queries
    from tests.support.corpus import stories

    titles = [story["title"] for story in stories() if story["title"]]
    found = []
    for kind, words in sample_queries(titles, count, seed, stop=STOP_WORDS):
        text = f'"{" ".join(words)}"' if kind == "phrase" else " ".join(words)
        found.append(quote_plus(text))
    return found


def start_serve(index: Path, env: dict[str, str], log: Path) -> tuple[subprocess.Popen, str]:
    """Start `news-search serve` on `index` with `env` added; return it and its base URL."""
    from tests.support.servers import free_port

    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "search_service.cli", "serve", "--index", str(index),
         "--threads", "4", "--port", str(port)], cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), **env}, stdout=log.open("a"),
        stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 300
    while True:
        try:
            get(base + "api/health", timeout=5)
            return proc, base
        except Exception:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"serve did not start: see {log}") from None
            time.sleep(0.5)


class Writer:
    """Adds `per_commit` new articles to the index every `every` seconds (one commit each)."""

    def __init__(self, index: Path, every: float, per_commit: int, start_count: int,
                 cycle: int = 0):
        import itertools

        from search_service.index.schema import open_index
        from tests.support.corpus import distinct

        self.ix = open_index(index)
        self.every = every
        self.per_commit = per_commit
        # with `cycle`, the same `cycle` articles again and again: updates, a constant count
        self.articles = (itertools.cycle(list(distinct(cycle, seed=4343))) if cycle
                         else distinct(10**7, seed=4242))
        self.count = start_count
        self.commits = 0
        self.done = threading.Event()
        self.thread = threading.Thread(target=self.run, name="writer", daemon=True)

    def run(self) -> None:
        """Commit a batch every `every` seconds until `done` is set."""
        while not self.done.wait(self.every):
            self.commit()

    def commit(self) -> None:
        """Write and commit the next `per_commit` articles."""
        from search_service.index.writer import write_articles

        write_articles(self.ix, [next(self.articles) for _ in range(self.per_commit)])
        self.count = self.ix.doc_count()
        self.commits += 1


def arm_table(data: dict, warmup: float) -> None:
    """Print the arms side by side: memory growth after `warmup` s, trims, requests."""
    print(f"memory after each server's first {warmup:g} s (least squares; 'late': the last half "
          f"of those samples); target at most {TARGET_GROWTH:g} %/h")
    print("| arm | settings | samples | mean RSS MB | RSS %/h | mean anonymous MB | "
          "anonymous %/h | anonymous MB/h | late anonymous %/h | late anonymous MB/h | "
          "caches MB, first -> last | anonymous less caches MB/h | index %/h |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    articles = data["articles"]
    for arm in data["arms"]:
        name = arm["name"]
        rss, anon = data["rss"][name], data["anon"][name]
        pct, mean, n = growth(rss, warmup)
        apct, amean, _ = growth(anon, warmup)
        used = [s for s in anon if s[0] - anon[0][0] >= warmup]
        late, lmean, _ = growth(used[len(used) // 2:], 0) if len(used) >= 6 else (
            float("nan"),) * 3
        span = [s for s in articles if used and used[0][0] <= s[0] <= used[-1][0]]
        index_pct = growth(span, 0)[0] if len(span) >= 3 else float("nan")
        # the bounded caches' bytes (from /metrics) at the same times: what is left grows
        held = dict(map(tuple, data.get("caches", {}).get(name, [])))
        rest = [(t, mb - held[t]) for t, mb in used if t in held]
        rpct, rmean, _ = growth(rest, 0) if len(rest) >= 3 else (float("nan"),) * 3
        span_caches = (f"{held[used[0][0]]:.0f} -> {held[used[-1][0]]:.0f}"
                       if used and used[0][0] in held and used[-1][0] in held else "n/a")
        print(f"| {name} | {arm['settings']} | {n} | {mean:.0f} | {pct:+.1f} | {amean:.0f} | "
              f"{apct:+.1f} | {apct * amean / 100:+.1f} | {late:+.1f} | {late * lmean / 100:+.1f} "
              f"| {span_caches} | {rpct * rmean / 100:+.1f} | {index_pct:+.1f} |")


def report(folder: Path, warmup: float) -> None:
    """Print the arm table again from a kept run's samples.json."""
    arm_table(json.loads((folder / "samples.json").read_text()), warmup)


def main() -> None:
    """Run the A/B and print its tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=50)
    parser.add_argument("--warmup", type=float, default=600,
                        help="seconds of each server's samples left out of its growth")
    parser.add_argument("--rate", type=float, default=8, help="searches a second, per server")
    parser.add_argument("--clients", type=int, default=2, help="client threads per server")
    parser.add_argument("--base", type=int, default=20000, help="articles in the index")
    parser.add_argument("--commit-every", type=float, default=5.0)
    parser.add_argument("--per-commit", type=int, default=5)
    parser.add_argument("--cycle", type=int, default=0, metavar="N",
                        help="write the same N articles over and over (updates: the index "
                        "keeps its size, so growth is time's, not the index's; 0: new ones)")
    parser.add_argument("--queries", type=int, default=0, metavar="N",
                        help="cycle over N distinct queries, so the caches fill within the "
                        "warm-up (0: a new query each time, as many as the run needs)")
    parser.add_argument("--arenas", default="2", help="NEWS_SEARCH_MALLOC_ARENAS of arm 'on'")
    parser.add_argument("--trim", default="30",
                        help="NEWS_SEARCH_MALLOC_TRIM_SECONDS of arm 'on'")
    parser.add_argument("--cache", type=Path, default=ROOT / ".benchmarks")
    parser.add_argument("--keep", type=Path, help="keep the run's files here")
    parser.add_argument("--report", type=Path, help="print the table of a run kept with --keep")
    args = parser.parse_args()
    if args.report:
        report(args.report, args.warmup)
        return
    if args.minutes <= 0 or args.rate <= 0 or args.clients < 1 or args.per_commit < 1:
        parser.error("--minutes, --rate, --clients and --per-commit must be positive")

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)
    from benchmarks.http_api import cached_index
    from search_service.index.schema import open_index
    from search_service.memory import ARENAS_ENV, TRIM_ENV

    tmp = args.keep or Path(tempfile.mkdtemp(prefix="malloc-ab-"))
    tmp.mkdir(parents=True, exist_ok=True)
    index = tmp / "ix"
    shutil.copytree(cached_index(args.cache, args.base, 1), index,
                    ignore=shutil.ignore_patterns("complete.json"))
    arms = [{"name": "off", "env": {ARENAS_ENV: "0", TRIM_ENV: "0"}},
            {"name": "on", "env": {ARENAS_ENV: args.arenas, TRIM_ENV: args.trim}}]
    for arm in arms:
        arm["settings"] = f"arenas {arm['env'][ARENAS_ENV]}, trim {arm['env'][TRIM_ENV]} s"
    seconds = args.minutes * 60
    stream = queries(args.queries or int(seconds * args.rate) + 1000)
    load_before = os.getloadavg()
    print(f"malloc A/B: {args.minutes:g} min, {args.rate:g} searches/s per server, files in "
          f"{tmp}; load average before {load_before[0]:.2f} {load_before[1]:.2f} "
          f"{load_before[2]:.2f}", flush=True)
    procs: dict[str, subprocess.Popen] = {}
    loads: dict[str, Load] = {}
    rss: dict[str, list] = {arm["name"]: [] for arm in arms}
    anon: dict[str, list] = {arm["name"]: [] for arm in arms}
    caches: dict[str, list] = {arm["name"]: [] for arm in arms}
    articles: list[tuple[float, float]] = []
    loadavg: list[tuple[float, float]] = []
    trims: dict[str, dict[str, float]] = {}
    writer = None
    try:
        bases = {}
        for arm in arms:
            procs[arm["name"]], bases[arm["name"]] = start_serve(
                index, arm["env"], tmp / f"serve-{arm['name']}.log")
        writer = Writer(index, args.commit_every, args.per_commit, open_index(index).doc_count(),
                        args.cycle)
        for arm in arms:
            loads[arm["name"]] = Load(bases[arm["name"]], stream, args.clients, args.rate)
        started = time.monotonic()
        for load in loads.values():
            load.start()
        writer.thread.start()
        next_sample = 0.0
        while (elapsed := time.monotonic() - started) < seconds:
            if elapsed >= next_sample:
                next_sample += SAMPLE_EVERY
                for name, proc in procs.items():
                    mb = rss_mb(proc.pid)
                    if mb is None:
                        raise SystemExit(f"serve {name} died: see {tmp}/serve-{name}.log")
                    rss[name].append((elapsed, mb[0]))
                    anon[name].append((elapsed, mb[1]))
                    try:
                        sizes = cache_sizes(get(bases[name] + "metrics", timeout=30).decode())
                        caches[name].append((elapsed, sum(
                            v for k, v in sizes.get(str(proc.pid), {}).items()
                            if k.endswith(" MB"))))
                    except Exception:  # a slow scrape: this sample goes without
                        pass
                articles.append((elapsed, writer.count))
                loadavg.append((elapsed, os.getloadavg()[0]))
                if len(loadavg) % 40 == 1:  # every 10 minutes
                    print(f"  {elapsed:5.0f}s: anonymous MB " + ", ".join(
                        f"{n} {anon[n][-1][1]:.0f}" for n in anon) + f"; {writer.count} "
                        f"articles; load {loadavg[-1][1]:.2f}", flush=True)
            time.sleep(1)
        for name, base in bases.items():
            trims[name] = scalars(get(base + "metrics").decode())
    finally:
        for load in loads.values():
            load.stop()
        if writer is not None:
            writer.done.set()
        for proc in procs.values():
            proc.send_signal(signal.SIGTERM)
        for proc in procs.values():
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()
    load_after = os.getloadavg()
    data = {"arms": [{"name": a["name"], "settings": a["settings"]} for a in arms],
            "rss": rss, "anon": anon, "caches": caches, "articles": articles,
            "loadavg": loadavg}
    (tmp / "samples.json").write_text(json.dumps(data))
    print()
    print(f"run: {args.minutes:g} min; {args.rate:g} searches/s per server by {args.clients} "
          f"clients; {writer.commits} commits of {args.per_commit} articles, index "
          f"{articles[0][1]:.0f} -> {writer.count} articles; load average before "
          f"{load_before[0]:.2f}, after {load_after[0]:.2f} (1-min) {load_after[2]:.2f} "
          f"(15-min), mean of the 1-min samples {sum(v for _, v in loadavg) / len(loadavg):.2f}"
          f", 2 cores")
    print()
    arm_table(data, args.warmup)
    print()
    print("| arm | requests | failed | p95 ms |")
    print("|---|---:|---:|---:|")
    for name, load in loads.items():
        ok = [s[1] for s in load.samples if s[2]]
        print(f"| {name} | {len(load.samples)} | {len(load.samples) - len(ok)} | "
              f"{p95(ok) * 1000:.0f} |")
    print()
    for name, values in trims.items():
        print(trims_line(f"arm {name}", values))


if __name__ == "__main__":
    main()
