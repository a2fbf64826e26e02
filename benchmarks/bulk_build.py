"""A large bulk build with our indexer, reported as it goes: the 1M-article build.

Usage: python -m benchmarks.bulk_build --articles 1000000 --index /tmp/ix-1m [--every 60]
       python -m benchmarks.bulk_build --articles 100000 --index /tmp/ix --engine whoosh
       python -m benchmarks.bulk_build --articles 1000000 --index /tmp/ix-1m --resume

Builds `--articles` distinct articles (tests/support/corpus.py `distinct`: wire-copy text,
six years of dates, 50 sources, ~10% syndicated near-copies) as `ingest` does (a bulk
ArticleWriter: commits every `--batch-mb` MB of text, merged to the segment bound at the
end), or with `--engine whoosh` as plain Whoosh the obvious way (one writer, one commit, the
schema of benchmarks/search.py), so the two rates can be put side by side. Prints a progress
line every `--every` seconds (articles, rate, commits, index size, RSS, load) and a summary:
wall and CPU time, docs/s, index size on disk, segments, the writer's peak RSS. With
`--stop-at HH:MM` (UTC) it stops adding articles then and commits what it has, so a build
that cannot finish in time still ends with a committed index and an honest rate. With
`--resume` it adds to the index at `--index` instead: the corpus is the same on every run, so it
skips as many articles as the index holds and goes on from there (a build cut short, by
`--stop-at` or a kill, is finished later; the figures are those of the resumed part).
"""

from __future__ import annotations

import argparse
import itertools
import os
import resource
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

from benchmarks.search import cpu_seconds, dir_size
from tests.support.corpus import distinct, stories


def rss_mb() -> float:
    """This process's current resident set, MB (from /proc)."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def peak_rss_mb() -> float:
    """This process's peak resident set, MB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def stop_time(text: str | None) -> float:
    """Seconds since the epoch of `--stop-at HH:MM` (UTC, today), or infinity."""
    if not text:
        return float("inf")
    hour, minute = (int(part) for part in text.split(":"))
    now = datetime.now(timezone.utc)
    return now.replace(hour=hour, minute=minute, second=0, microsecond=0).timestamp()


def build_ours(args, path: Path, log) -> dict:
    """Our bulk writer over the distinct articles; returns its figures."""
    from search_service.index import whoosh_compat
    from search_service.index.schema import open_index
    from search_service.index.writer import ArticleWriter

    ix = open_index(path, create=not args.resume)
    held = ix.doc_count_all() if args.resume else 0
    if held:
        print(f"resuming: the index holds {held:,} articles; adding the next "
              f"{max(args.articles - held, 0):,}", flush=True)
    deadline, added, stopped = stop_time(args.stop_at), 0, False
    writer = ArticleWriter(ix, batch=None, interval=None, procs=args.procs, bulk=True,
                           batch_mb=args.batch_mb)
    for article in itertools.islice(distinct(args.articles, raw=stories()), held, None):
        writer.add(article)
        added += 1
        if added % 500 == 0:
            log(added, writer.commits, lambda: whoosh_compat.segment_count(ix))
            if time.time() >= deadline:
                stopped = True
                break
    log(added, writer.commits, lambda: whoosh_compat.segment_count(ix), force=True,
        note="closing (last commit, then merges)")
    writer.close()
    return {"articles": added, "written": writer.written, "commits": writer.commits,
            "segments": whoosh_compat.segment_count(ix), "stopped": stopped,
            "total": ix.doc_count_all()}


def build_whoosh(args, path: Path, log) -> dict:
    """Plain Whoosh: one writer, one commit (as benchmarks/search.py builds it)."""
    from whoosh import fields, index

    schema = fields.Schema(id=fields.ID(stored=True, unique=True), url=fields.ID(stored=True),
                           title=fields.TEXT(stored=True), body=fields.TEXT(stored=True),
                           published=fields.DATETIME(stored=True, sortable=True))
    path.mkdir(parents=True, exist_ok=True)
    ix = index.create_in(str(path), schema)
    writer = ix.writer(limitmb=256)
    added = 0
    for article in distinct(args.articles, raw=stories()):
        writer.add_document(id=article.url, url=article.url, title=article.title,
                            body=article.body, published=article.published.replace(tzinfo=None))
        added += 1
        if added % 500 == 0:
            log(added, 0, lambda: 0)
    log(added, 0, lambda: 0, force=True, note="committing")
    writer.commit()
    return {"articles": added, "written": added, "commits": 1, "segments": 1,
            "stopped": False, "total": added}


def main() -> None:
    """Parse options, build, print progress and a summary."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=1_000_000)
    parser.add_argument("--index", type=Path, required=True, help="a new directory")
    parser.add_argument("--engine", choices=("ours", "whoosh"), default="ours")
    parser.add_argument("--procs", type=int, default=1)
    parser.add_argument("--batch-mb", type=float, default=None,
                        help="ours: MB of text per commit (default: the writer's)")
    parser.add_argument("--every", type=float, default=60.0, help="seconds between lines")
    parser.add_argument("--stop-at", default=None, metavar="HH:MM",
                        help="UTC time to stop adding articles and commit")
    parser.add_argument("--resume", action="store_true",
                        help="ours: add to the index at --index, skipping the articles it "
                             "already holds (finishes a build cut short)")
    args = parser.parse_args()
    if args.batch_mb is None:
        from search_service.index.writer import BULK_MB
        args.batch_mb = BULK_MB
    if args.resume:
        from search_service.index.schema import index_exists
        if args.engine != "ours":
            parser.error("--resume: only with --engine ours")
        if not index_exists(args.index):
            parser.error(f"--resume: no index at {args.index}")
    elif args.index.exists() and any(args.index.iterdir()):
        parser.error(f"{args.index} is not empty (--resume adds to it)")
    started, cpu = time.perf_counter(), cpu_seconds()
    last = [started]

    def log(added: int, commits: int, segments, force: bool = False, note: str = "") -> None:
        now = time.perf_counter()
        if not force and now - last[0] < args.every:
            return
        last[0] = now
        load = os.getloadavg()
        print(f"{datetime.now(timezone.utc):%H:%M:%S} {added:,} articles in {now - started:,.0f}s "
              f"({added / (now - started):,.1f}/s, {added / (cpu_seconds() - cpu):,.1f} per CPU "
              f"s), {commits} commits, {segments()} segments, "
              f"{dir_size(args.index) / 2**20:,.0f} MB on disk, RSS {rss_mb():,.0f} MB, "
              f"load {load[0]:.1f} {note}", flush=True)

    build = build_ours if args.engine == "ours" else build_whoosh
    out = build(args, args.index, log)
    wall, used = time.perf_counter() - started, cpu_seconds() - cpu
    load = os.getloadavg()
    print(f"{args.engine}: {out['articles']:,} articles ({out['written']:,} written"
          f"{', stopped at ' + args.stop_at if out['stopped'] else ''}) in {wall:,.0f}s wall "
          f"= {out['articles'] / wall:,.1f} docs/s, {used:,.0f} CPU s = "
          f"{out['articles'] / used:,.1f} docs per CPU s; {out['commits']} commits, "
          f"{out['segments']} segments; {dir_size(args.index) / 2**20:,.0f} MB on disk; "
          f"peak RSS {peak_rss_mb():,.0f} MB; load {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; "
          f"the index holds {out['total']:,} articles", flush=True)
    sys.exit(0)


if __name__ == "__main__":
    main()
