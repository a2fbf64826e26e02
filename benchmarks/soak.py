"""The soak: the whole service running for a long time under query load, with a Redis
restart, a rolling restart of `serve` and an index-worker kill in the middle.

Usage: python -m benchmarks.soak [--minutes 30] [--outage 60] [--clients 2] [--base 20000]
                                 [--warmup 300] [--cache .benchmarks] [--fixed N --every S]

Runs, all on 127.0.0.1: a news site that publishes Reuters-21578 stories as it goes (an
initial batch, then one story every `--every` seconds; robots.txt names a news sitemap of the
latest 500, each page with an ETag and a Last-Modified date), a fresh redis-server
(append-only file, fsync every second), two `news-search crawl --redis` workers polling the
site every 30 s, one `news-search index-worker` and `news-search serve --workers 2`, with
`--clients` threads searching titles' words without pause (a fresh connection per request).
The index starts as a copy of a pre-built one of `--base` Reuters articles (tests/support/
corpus.py: the stories, then replicas with fresh ids; built once and kept under `--cache`), so
the processes serve a large index that the crawl adds to by a few percent, as in production;
`--base 0` starts from an empty index.

`--fixed N`: a site of constant size instead, as a newsroom's is once a crawl has caught up
with it: N stories out (and in the sitemap) from the start, and every `--every` seconds one of
them, in turn, is revised: its body opens with "Updated: revision R." and a sentence that
changes with R, its sitemap lastmod and Last-Modified move to the revision's time and its ETag
changes. The crawl workers fetch the revised pages again (recrawl_interval 30 s) and the
index-worker replaces each old copy (by canonical URL), so the article count stays the same
while segments churn (deletions, merges, related-articles refreshes): growth over time is
then not growth with the index. The end check adds stale copies (a story indexed at an older
revision than its latest when publishing stopped) to lost and duplicated.

Events, as fractions of the run: at 1/3 Redis is stopped for `--outage` seconds, then started
again on its files; at 1/2 serve gets SIGHUP (a rolling restart); at 2/3 the index-worker is
killed (SIGKILL) and started again. Then the site stops publishing, the workers fetch what is
left, and the index is checked against what the site published.

Prints: requests failed; articles lost (published, accepted by the normaliser, not in the
index), duplicated (two documents for one page; only the site's pages are checked, not the
pre-built articles) and, with `--fixed`, revisions published and stale copies; memory
growth per hour per process (a least-squares line over each process's samples, taken every
15 s, after its first `--warmup` seconds, as a percentage of its mean over those samples), of
the whole RSS and of its private anonymous part, beside the target of 5 %/h (the RSS also
counts the pages of the memory-mapped index files a process has touched, which are shared
page cache, not the process's own memory); and p95 search latency per 5-minute window; with
the load average.

To find what grows: `--trace DIR` runs every process under tracemalloc (benchmarks/soak_trace/
sitecustomize.py, a snapshot a minute; slower, and more memory), and
`python -m benchmarks.soak --trace-diff DIR [--warmup 300]` prints, per process, what its live
allocations gained from its first snapshot after the warm-up to its last, line by line.
"""

from __future__ import annotations

import argparse
import email.utils
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT.parent / "shared/data/reuters21578/reuters.jsonl.gz"
#: Memory growth per hour the issue allows (percent of the process's memory).
TARGET_GROWTH = 5.0
#: Stories in the site's sitemap (the latest): each stays listed for this many stories' time.
SITEMAP_LATEST = 500


def build_pages(count: int) -> list[tuple[str, bytes]]:
    """`count` stories rendered as pages of "The Wire Ledger": (path, html), in order."""
    from scripts import make_sample

    stories = make_sample.load_stories(SOURCE, count)
    return [(make_sample.site_path(ctx.story), make_sample.render_page(ctx).encode("utf-8"))
            for ctx in make_sample.contexts(stories, make_sample.related_offsets)]


#: The line a revised story's body gains (`--fixed`); the end check reads the number back.
REVISION_LINE = "Updated: revision {revision}."
#: Sentences a revision adds after its line, in turn, so that each revision's text differs.
REVISION_NOTES = (
    "This version corrects a figure given in an earlier version of the story.",
    "Adds comment from officials who declined to speak on the record before.",
    "Clarifies the timing of the measures described in the third paragraph.",
    "Updates the prices quoted with the close of trading on the day.",
    "Adds background on the negotiations that led to the agreement.",
)
REVISION_RE = re.compile(r"Updated: revision (\d+)\.")


def revision_of(n: int, total: int, count: int) -> int:
    """The revision story `n` of `count` is at after `total` revisions made round robin
    (revision k, from 1, revises story (k - 1) % count)."""
    return total // count + (1 if n < total % count else 0)


def revised_at(n: int, revision: int, count: int, every: float, start: float) -> float:
    """When story `n` got `revision` (revisions every `every` seconds from `start`; revision 0,
    the story as first published, is dated `start`)."""
    return start + ((revision - 1) * count + n + 1) * every if revision else start


def revise_page(html: bytes, revision: int) -> bytes:
    """The page `html` at `revision`: its story body opens with a line naming the revision and
    a sentence that changes with it (revision 0 is the page as it is)."""
    if not revision:
        return html
    note = REVISION_NOTES[revision % len(REVISION_NOTES)]
    line = (f'<p>{REVISION_LINE.format(revision=revision)} {note}</p>\n').encode()
    # before the story's first paragraph (after the opening of its body, either template's,
    # and past the "No time to read?" widget's own paragraph)
    at = max(html.find(b'<div class="story-body">'), html.find(b"<article"))
    at = html.index(b"<p>", at)
    while html.startswith(b"<p>No time", at):
        at = html.index(b"<p>", at + 1)
    return html[:at] + line + html[at:]


def page_revision(body: str) -> int:
    """The revision an indexed story's body carries (0: none, the first version)."""
    found = REVISION_RE.search(body)
    return int(found.group(1)) if found else 0


def check_revisions(docs: list[dict], expected: dict[str, int],
                    accepted: set[str]) -> tuple[set[str], int, set[str]]:
    """(lost, duplicated, stale) of a `--fixed` run: `docs` are the stored fields of the site's
    documents in the index, `expected` each story's path and latest revision, `accepted` the
    paths the normaliser accepts. Lost: accepted, not in the index; duplicated: documents
    beyond one per story, or under a path the site does not have; stale: in the index with an
    older revision than the latest."""
    by_path: dict[str, list[dict]] = {}
    for doc in docs:
        by_path.setdefault(urlsplit(doc["canonical_url"]).path, []).append(doc)
    lost = {path for path in accepted if path not in by_path}
    duplicated = sum(len(found) - 1 if path in expected else len(found)
                     for path, found in by_path.items())
    stale = {path for path, found in by_path.items() if path in expected
             and any(page_revision(doc["body"]) != expected[path] for doc in found)}
    return lost, duplicated, stale


def site_server(count: int, initial: int, every: float,
                fixed: bool = False) -> ThreadingHTTPServer:
    """The soak's news site on 127.0.0.1 (not started: call its `serve_forever`). Its clock
    starts at the first sitemap request. Growing (the default): `initial` stories are out at
    the start, then one more every `every` seconds, the sitemap lists the latest
    SITEMAP_LATEST. `fixed`: all `count` stories are out from the start and listed, and every
    `every` seconds one of them, round robin, is revised (`revise_page`; its sitemap lastmod,
    Last-Modified and ETag move with it). GET /__published answers how many stories are out,
    GET /__revisions how many revisions were made, GET /__stop stops publishing and revising
    (and answers as /__published)."""
    pages = build_pages(count)
    by_path = {path: n for n, (path, _) in enumerate(pages)}
    started = time.time()
    clock: list[float] = []
    frozen: list[tuple[int, int]] = []  # (stories out, revisions made) when stopped

    def ticks() -> int:
        return int((time.time() - clock[0]) / every) if clock else 0

    def published() -> int:
        if frozen:
            return frozen[0][0]
        return count if fixed else min(len(pages), initial + ticks())

    def revisions() -> int:
        if frozen:
            return frozen[0][1]
        return ticks() if fixed else 0

    def page(n: int, total: int) -> tuple[bytes, float]:
        """Story `n`'s page after `total` revisions, and when it was last changed."""
        start = clock[0] if clock else started
        if not fixed:
            return pages[n][1], start + max(0, n - initial) * every
        revision = revision_of(n, total, count)
        return (revise_page(pages[n][1], revision),
                revised_at(n, revision, count, every, start))

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def do_GET(self):
            base = f"http://{self.headers['Host']}"
            if self.path == "/sitemap.xml" and not clock:
                clock.append(time.time())
            out, total = published(), revisions()
            status, ctype, headers = 200, "text/html; charset=utf-8", {}
            if self.path == "/robots.txt":
                body, ctype = f"User-agent: *\nSitemap: {base}/sitemap.xml\n".encode(), "text/plain"
            elif self.path == "/sitemap.xml":
                listed = range(0, out) if fixed else range(max(0, out - SITEMAP_LATEST), out)
                urls = "".join(
                    f"<url><loc>{base}{pages[n][0]}</loc><lastmod>"
                    f"{time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(page(n, total)[1]))}"
                    f"</lastmod></url>" for n in listed)
                body = ('<?xml version="1.0" encoding="UTF-8"?><urlset xmlns='
                        f'"http://www.sitemaps.org/schemas/sitemap/0.9">{urls}</urlset>').encode()
                ctype = "application/xml"
            elif self.path == "/__published":
                body, ctype = str(out).encode(), "text/plain"
            elif self.path == "/__revisions":
                body, ctype = str(total).encode(), "text/plain"
            elif self.path == "/__stop":
                if not frozen:
                    frozen.append((out, total))
                body, ctype = str(out).encode(), "text/plain"
            elif self.path in by_path and by_path[self.path] < out:
                body, changed = page(by_path[self.path], total)
                etag = '"' + hashlib.sha1(body).hexdigest()[:16] + '"'
                headers = {"ETag": etag,
                           "Last-Modified": email.utils.formatdate(changed, usegmt=True)}
                if self.headers.get("If-None-Match") == etag:
                    status, body = 304, b""
            else:
                status, body, ctype = 404, b"not found", "text/plain"
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    return server


def serve_site(count: int, initial: int, every: float, fixed: bool = False) -> None:
    """Serve the site (`site_server`) until killed; print its base URL on the first line."""
    server = site_server(count, initial, every, fixed)
    print(f"http://127.0.0.1:{server.server_address[1]}", flush=True)
    server.serve_forever()


#: Where the soak's processes write tracemalloc snapshots (`--trace`), or None.
TRACE: list[Path] = []


def cli(argv: list[str], log: Path) -> subprocess.Popen:
    """Start `news-search ARGV` with its output in `log` (traced with `--trace`)."""
    out = log.open("a")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    if TRACE:
        env["PYTHONPATH"] += os.pathsep + str(ROOT / "benchmarks" / "soak_trace")
        env["NEWS_SEARCH_SOAK_TRACE"] = str(TRACE[0])
    return subprocess.Popen([sys.executable, "-m", "search_service.cli", *argv], cwd=ROOT,
                            env=env, stdout=out, stderr=subprocess.STDOUT, text=True)


def trace_diff(folder: Path, warmup: float, top: int = 12) -> None:
    """Print, per traced process, what its live allocations gained between its first
    snapshot after `warmup` seconds and its last, by source line."""
    import tracemalloc

    names = json.loads((folder / "pids.json").read_text()) if (folder / "pids.json").exists() \
        else {}
    by_pid: dict[str, list[Path]] = {}
    for path in sorted(folder.glob("*.snap")):
        by_pid.setdefault(path.stem.split("-")[0], []).append(path)
    for pid, paths in sorted(by_pid.items()):
        after = [p for p in paths if int(p.stem.split("-")[1]) >= warmup] or paths[-1:]
        first, last = after[0], paths[-1]
        if first == last:
            continue
        own = (tracemalloc.Filter(False, tracemalloc.__file__),)  # the tracing's own
        old = tracemalloc.Snapshot.load(str(first)).filter_traces(own)
        new = tracemalloc.Snapshot.load(str(last)).filter_traces(own)
        total = [sum(t.size for t in snap.traces) / 2**20 for snap in (old, new)]
        span = int(last.stem.split("-")[1]) - int(first.stem.split("-")[1])
        print(f"\n{names.get(pid, '?')} (pid {pid}): traced {total[0]:.1f} MB -> "
              f"{total[1]:.1f} MB over {span} s")
        for stat in new.compare_to(old, "lineno")[:top]:
            if stat.size_diff:
                frame = stat.traceback[0]
                print(f"  {stat.size_diff / 1024:+9.0f} kB {stat.count_diff:+7d} blocks  "
                      f"{frame.filename.replace(str(ROOT) + '/', '')}:{frame.lineno}")


def rss_mb(pid: int) -> tuple[float, float] | None:
    """(resident set size, its private anonymous part) of `pid` in MB (None if gone). The
    anonymous part is what a leak grows; the rest is mostly the memory-mapped index files,
    which grow with the index."""
    found = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmRSS", "RssAnon"):
                found[key] = int(value.split()[0]) / 1024
    except OSError:
        return None
    return (found["VmRSS"], found["RssAnon"]) if len(found) == 2 else None


def children(pid: int) -> list[int]:
    """The child processes of `pid`."""
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def get(url: str, timeout: float = 30) -> bytes:
    """GET `url` (a fresh connection)."""
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return response.read()


class Load:
    """Client threads searching without pause, or together at `rate` requests a second; each
    request's (time, seconds, ok)."""

    def __init__(self, base: str, words: list[str], clients: int, rate: float = 0):
        self.base = base
        self.rate = rate
        self.words = words
        self.samples: list[tuple[float, float, bool]] = []
        self.errors: list[str] = []
        self.done = threading.Event()
        self.threads = [threading.Thread(target=self.run, args=(n,), daemon=True)
                        for n in range(clients)]

    def start(self) -> None:
        for thread in self.threads:
            thread.start()

    def run(self, n: int) -> None:
        i = n
        # with a rate, each client keeps its own schedule of rate/clients requests a second
        every = len(self.threads) / self.rate if self.rate else 0.0
        due = time.monotonic() + every * n / len(self.threads)
        while not self.done.is_set():
            if every:
                pause = due - time.monotonic()
                if pause > 0:
                    self.done.wait(pause)
                due = max(due + every, time.monotonic() - 5 * every)  # no burst after a stall
            word = self.words[i % len(self.words)]
            i += len(self.threads)
            began = time.monotonic()
            try:
                json.loads(get(f"{self.base}api/search?q={word}"))
                ok = True
            except Exception as exc:  # counted and reported
                ok = False
                self.errors.append(f"{time.strftime('%H:%M:%S')} {exc!r}")
            self.samples.append((began, time.monotonic() - began, ok))

    def stop(self) -> None:
        self.done.set()
        for thread in self.threads:
            thread.join(60)


def event_at(text: str) -> float | None:
    """An event's time in minutes from `--X-at` (None: skip it, for "none" or "0")."""
    if text.strip().lower() in ("none", "off", "0"):
        return None
    minutes = float(text)
    if minutes < 0:
        raise argparse.ArgumentTypeError(f"not a time in minutes: {text!r}")
    return minutes


#: The allocator's counters (search_service/memory.py), as read from /metrics.
MALLOC_METRICS = ("news_search_malloc_trims_total", "news_search_malloc_trim_seconds_total",
                  "news_search_malloc_trim_released_bytes_total")


def scalars(text: str) -> dict[str, float]:
    """{name: value} of the unlabelled samples of a /metrics page (the index's article count,
    the allocator's counters, summed over the workers)."""
    from prometheus_client.parser import text_string_to_metric_families

    return {sample.name: sample.value for family in text_string_to_metric_families(text)
            for sample in family.samples if not sample.labels}


def trims_line(name: str, values: dict[str, float]) -> str:
    """One line saying how often `name` ran malloc_trim, what it cost and gave back."""
    trims, secs, freed = (values.get(k, 0.0) for k in MALLOC_METRICS)
    return (f"{name}: {trims:.0f} malloc_trim calls, {secs * 1000 / max(1, trims):.1f} ms "
            f"each on average, {freed / 2**20:.0f} MB given back in all")


def cache_sizes(text: str) -> dict[str, dict[str, float]]:
    """{pid: {cache: bytes held (or entries, for a cache without a byte bound)}} from a
    /metrics page (the `news_search_worker_cache_*` gauges of the worker that answered)."""
    from prometheus_client.parser import text_string_to_metric_families

    found: dict[str, dict[str, float]] = {}
    bytes_of: dict[tuple[str, str], float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "news_search_worker_cache_bytes":
                bytes_of[(sample.labels["pid"], sample.labels["cache"])] = sample.value
            elif sample.name == "news_search_worker_cache_entries":
                key = (sample.labels["pid"], sample.labels["cache"])
                found.setdefault(key[0], {})[key[1] + " entries"] = sample.value
    for (pid, cache), value in bytes_of.items():
        found.setdefault(pid, {})[cache + " MB"] = value / 2**20
    return found


def p95(values: list[float]) -> float:
    """The 95th percentile (nearest rank)."""
    ordered = sorted(values)
    return ordered[max(0, int(round(0.95 * len(ordered))) - 1)] if ordered else float("nan")


def growth(samples: list[tuple[float, float]], skip: float = 300.0) -> tuple[float, float, int]:
    """(% of mean RSS per hour, mean MB, samples used) from (seconds, MB) samples of one
    process, least squares over the samples after its first `skip` seconds."""
    if not samples:
        return float("nan"), float("nan"), 0
    first = samples[0][0]
    used = [(t, m) for t, m in samples if t - first >= skip] or samples
    if len(used) < 3 or used is samples:
        return float("nan"), sum(m for _, m in used) / len(used), len(used)
    n = len(used)
    mt = sum(t for t, _ in used) / n
    mm = sum(m for _, m in used) / n
    slope = (sum((t - mt) * (m - mm) for t, m in used)
             / max(1e-9, sum((t - mt) ** 2 for t, _ in used)))
    return slope * 3600 / mm * 100, mm, n


def memory_table(memory: dict, anon: dict, warmup: float,
                 articles: list | None = None) -> None:
    """Print the memory growth per process after `warmup` seconds, whole and last half, with
    the index's growth in articles over the same samples (from /metrics) beside it."""
    print(f"memory: growth per hour over each process's samples after its first "
          f"{warmup:g} s (least squares), target at most {TARGET_GROWTH:g} %/h; 'late' is the "
          f"same over the last half of those samples; 'index' is the article count's growth "
          f"over the same span")
    print("| process | lived s | samples used | mean RSS MB | RSS growth %/h | "
          "mean anonymous MB | anonymous growth %/h | anonymous MB/h | late anonymous %/h | "
          "index %/h | target |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for name, samples in memory.items():
        pct, mean, n = growth(samples, warmup)
        apct, amean, _ = growth(anon[name], warmup)
        first = anon[name][0][0]
        used = [s for s in anon[name] if s[0] - first >= warmup]
        late, _, _ = growth(used[len(used) // 2:], 0) if len(used) >= 6 else (float("nan"),) * 3
        lived = samples[-1][0] - samples[0][0]
        span = [s for s in articles or [] if used and used[0][0] <= s[0] <= used[-1][0]]
        index_pct = growth(span, 0)[0] if len(span) >= 3 else float("nan")
        verdict = ("too short" if n < 3 or lived < warmup + 120 else
                   "met" if max(pct, apct) <= TARGET_GROWTH else
                   "met (anonymous)" if apct <= TARGET_GROWTH else "MISSED")
        print(f"| {name} | {lived:.0f} | {n} | {mean:.0f} | {pct:+.1f} | {amean:.0f} | "
              f"{apct:+.1f} | {apct * amean / 100:+.1f} | {late:+.1f} | {index_pct:+.1f} | "
              f"{verdict} |")


def cache_table(caches: dict[str, list], every: float = 600) -> None:
    """Print each serve worker's cache sizes every `every` seconds of the run."""
    if not caches:
        return
    print()
    print("serve workers' caches (from /metrics; MB held, entries where a cache counts entries)")
    names = sorted({k for rows in caches.values() for _, sizes in rows for k in sizes})
    print("| worker | at s | " + " | ".join(names) + " |")
    print("|---|---:|" + "---:|" * len(names))
    for pid, rows in sorted(caches.items()):
        mark = -every
        for i, (t, sizes) in enumerate(rows):
            if t - mark >= every or i == len(rows) - 1:
                mark = t
                print(f"| {pid} | {t:.0f} | " + " | ".join(
                    f"{sizes.get(k, float('nan')):.1f}" for k in names) + " |")


def report(folder: Path, warmup: float) -> None:
    """Print the memory and cache tables again from a kept run's samples.json."""
    data = json.loads((folder / "samples.json").read_text())
    memory_table(data["memory"], data["anon"], warmup, data.get("articles"))
    cache_table(data["caches"])


def main() -> None:
    """Run the soak and print its table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=30)
    parser.add_argument("--outage", type=float, default=60, help="Redis outage (seconds)")
    parser.add_argument("--clients", type=int, default=2)
    parser.add_argument("--initial", type=int, default=300, help="stories out at the start")
    parser.add_argument("--every", type=float, default=1.0,
                        help="seconds between stories (with --fixed: between revisions)")
    parser.add_argument("--fixed", type=int, default=0, metavar="N",
                        help="a site of constant size: N stories out from the start, one of "
                             "them revised every --every seconds, round robin (0: a growing "
                             "site, the default)")
    parser.add_argument("--keep", type=Path, help="keep the run's files here")
    parser.add_argument("--drain", type=float, default=600,
                        help="at most this many seconds for the workers and the index-worker "
                             "to catch up once publishing stops (default 600)")
    parser.add_argument("--base", type=int, default=20000,
                        help="articles in the index at the start (0: an empty index)")
    parser.add_argument("--warmup", type=float, default=300,
                        help="seconds of each process's samples left out of its growth")
    parser.add_argument("--cache", type=Path, default=ROOT / ".benchmarks",
                        help="where the pre-built index is kept (default: .benchmarks/)")
    parser.add_argument("--trace", type=Path, help="trace memory, snapshots in this directory")
    parser.add_argument("--trace-diff", type=Path, help="compare the snapshots of a traced run")
    parser.add_argument("--trace-every", type=float, default=60,
                        help="seconds between tracemalloc snapshots (with --trace)")
    parser.add_argument("--redis-outage-at", type=event_at, default=-1.0, metavar="MINUTES",
                        help="when Redis stops (default: at 1/3 of the run; none: never)")
    parser.add_argument("--rolling-restart-at", type=event_at, default=-1.0, metavar="MINUTES",
                        help="when serve gets SIGHUP (default: at 1/2; none: never)")
    parser.add_argument("--indexer-kill-at", type=event_at, default=-1.0, metavar="MINUTES",
                        help="when the index-worker is killed (default: at 2/3; none: never)")
    parser.add_argument("--rate", type=float, default=0,
                        help="search requests a second across the clients (0: without pause)")
    parser.add_argument("--report", type=Path,
                        help="print the memory and cache tables of a run kept with --keep")
    args = parser.parse_args()
    if args.trace_diff:
        trace_diff(args.trace_diff, args.warmup)
        return
    if args.report:
        report(args.report, args.warmup)
        return
    if args.rate < 0 or args.clients < 1 or args.minutes <= 0 or args.fixed < 0 \
            or args.every <= 0:
        parser.error("--rate and --fixed must be >= 0, --clients >= 1, --minutes and "
                     "--every > 0")
    if args.trace:
        args.trace.mkdir(parents=True, exist_ok=True)
        TRACE.append(args.trace.resolve())
        os.environ["NEWS_SEARCH_SOAK_TRACE_EVERY"] = f"{args.trace_every:g}"

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    # stopped by SIGTERM or Ctrl-C (even started in the background), the soak stops its processes
    signal.signal(signal.SIGTERM, interrupt)
    signal.signal(signal.SIGINT, interrupt)
    import redis

    from search_service.index.schema import index_exists, open_index
    from search_service.memory import ARENAS_ENV, TRIM_ENV
    from search_service.normalise import normalise
    from tests.support.redis_server import start_redis
    from tests.support.servers import free_port

    seconds = args.minutes * 60
    count = args.fixed or args.initial + int(seconds / args.every) + 10
    load_before = os.getloadavg()
    tmp = args.keep or Path(tempfile.mkdtemp(prefix="soak-"))
    tmp.mkdir(parents=True, exist_ok=True)
    logs = tmp / "logs"
    logs.mkdir(exist_ok=True)
    print(f"soak: {args.minutes:g} min, files in {tmp}; load average before "
          f"{load_before[0]:.2f} {load_before[1]:.2f} {load_before[2]:.2f}", flush=True)
    if args.fixed:
        print(f"site: {args.fixed} stories, one revised every {args.every:g} s (each every "
              f"{args.fixed * args.every:.0f} s)", flush=True)
    procs: dict[str, subprocess.Popen] = {}
    helpers: dict[str, subprocess.Popen] = {}  # the site and redis-server

    def stop_all() -> None:
        """Stop every process the soak started (gracefully, then by force)."""
        for name in ("crawl-w1", "crawl-w2", "serve", "indexer"):
            if name in procs and procs[name].poll() is None:
                procs[name].send_signal(signal.SIGTERM)
        for proc in procs.values():
            try:
                proc.wait(120)
            except subprocess.TimeoutExpired:
                proc.kill()
        for proc in helpers.values():
            proc.kill()
            proc.wait()

    try:
        site = helpers["site"] = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.soak", "--site", str(count), str(args.initial),
             str(args.every), *(["fixed"] if args.fixed else [])],
            stdout=subprocess.PIPE, text=True, cwd=ROOT)
        base = site.stdout.readline().strip()
        sources = tmp / "sources.toml"
        sources.write_text(f'[[source]]\nname = "Wire Ledger"\n'
                           f'sitemaps = ["{base}/sitemap.xml"]\nmax_depth = 0\n'
                           f'max_pages = 100000\nrecrawl_interval = 30\n')
        port = free_port()
        redis_dir = tmp / "redis"
        server = helpers["redis"] = start_redis(redis_dir, port, fsync="everysec")
        url = f"redis://127.0.0.1:{port}/0"
        index = tmp / "ix"
        if args.base:
            from benchmarks.http_api import cached_index

            built = cached_index(args.cache, args.base, 1)
            shutil.copytree(built, index, ignore=shutil.ignore_patterns("complete.json"))
        indexer_port = free_port()

        def start_indexer() -> subprocess.Popen:
            return cli(["index-worker", "--redis", url, "--index", str(index),
                        "--metrics-port", str(indexer_port), "--related-every", "60"],
                       logs / "indexer.log")

        procs["indexer"] = start_indexer()
        while not index_exists(index):
            time.sleep(0.2)
        for n in (1, 2):
            procs[f"crawl-w{n}"] = cli(
                ["crawl", "--redis", url, "--sources", str(sources), "--worker-id", f"w{n}",
                 "--archive", str(tmp / f"archive-w{n}"), "--no-progress", "--delay", "0.05",
                 "--set", "NEWS_HOST_CONCURRENCY=4", "--metrics-port", str(free_port())],
                logs / f"crawl-w{n}.log")
        web_port = free_port()
        procs["serve"] = cli(["serve", "--index", str(index), "--workers", "2", "--threads", "4",
                              "--port", str(web_port)], logs / "serve.log")
        web = f"http://127.0.0.1:{web_port}/"
        while True:
            try:
                get(web + "api/health", timeout=5)
                break
            except Exception:
                time.sleep(0.5)
        all_pages = build_pages(count)
        words = sorted({w.lower() for _, html in all_pages[:300]
                        for w in html.decode().split("<title>")[1].split("<")[0].split()
                        if w.isalpha() and len(w) > 3})
        from whoosh.analysis import STOP_WORDS

        words = [w for w in words if w not in STOP_WORDS]  # a stopword-only query is a 400
        start_docs = open_index(index).doc_count()
        load = Load(web, words, args.clients, args.rate)
        started = time.monotonic()
        load.start()
    except BaseException:
        stop_all()
        raise
    memory: dict[str, list[tuple[float, float]]] = {}
    anon: dict[str, list[tuple[float, float]]] = {}
    events: list[str] = []
    def at(minutes: float | None, fraction: float) -> float | None:
        return seconds * fraction if minutes == -1.0 else None if minutes is None \
            else minutes * 60

    plan = []
    if (outage := at(args.redis_outage_at, 1 / 3)) is not None:
        plan += [(outage, "redis-stop"), (outage + args.outage, "redis-start")]
    if (sighup := at(args.rolling_restart_at, 1 / 2)) is not None:
        plan.append((sighup, "serve-sighup"))
    if (kill := at(args.indexer_kill_at, 2 / 3)) is not None:
        plan.append((kill, "indexer-kill"))
    plan.sort()
    redis_pid = server.pid
    caches: dict[str, list[tuple[float, dict[str, float]]]] = {}
    articles: list[tuple[float, float]] = []  # (s, articles in the index)
    serve_malloc: dict[str, float] = {}

    def scrape() -> None:
        """Every 15 s, read the cache sizes of the serve workers that answer a few /metrics
        scrapes, the index's article count and the allocator's counters (a thread of its
        own: a slow worker does not hold up the events)."""
        while not load.done.wait(15):
            now = time.monotonic() - started
            seen: set[str] = set()
            for _ in range(3):
                try:
                    text = get(web + "metrics", timeout=30).decode()
                    found = cache_sizes(text)
                    values = scalars(text)
                except Exception:  # a worker restarting; the next round tries again
                    continue
                if "news_search_index_articles" in values and not seen:
                    articles.append((now, values["news_search_index_articles"]))
                    serve_malloc.update({k: values.get(k, 0.0) for k in MALLOC_METRICS})
                for pid, sizes in found.items():
                    if pid not in seen:
                        seen.add(pid)
                        caches.setdefault(pid, []).append((now, sizes))

    threading.Thread(target=scrape, name="scrape", daemon=True).start()

    def sample() -> None:
        now = time.monotonic() - started
        pids = {name: p.pid for name, p in procs.items() if p.poll() is None}
        pids.update({f"serve-worker-{pid}": pid for pid in children(procs["serve"].pid)})
        if redis_pid:
            pids[f"redis-{redis_pid}"] = redis_pid
        for name, pid in pids.items():
            mb = rss_mb(pid)
            if mb is not None:
                key = name if name.endswith(str(pid)) else f"{name}-{pid}"
                memory.setdefault(key, []).append((now, mb[0]))
                anon.setdefault(key, []).append((now, mb[1]))

    next_sample = 0.0
    try:
        while (elapsed := time.monotonic() - started) < seconds:
            if elapsed >= next_sample:
                sample()
                next_sample += 15
            while plan and elapsed >= plan[0][0]:
                _, what = plan.pop(0)
                events.append(f"{elapsed:7.0f}s {what}")
                print(f"  {elapsed:6.0f}s {what}", flush=True)
                if what == "redis-stop":
                    server.terminate()
                    server.wait(30)
                    redis_pid = 0
                elif what == "redis-start":
                    server = helpers["redis"] = start_redis(redis_dir, port, fsync="everysec")
                    redis_pid = server.pid
                elif what == "serve-sighup":
                    procs["serve"].send_signal(signal.SIGHUP)
                elif what == "indexer-kill":
                    procs["indexer"].send_signal(signal.SIGKILL)
                    procs["indexer"].wait()
                    procs["indexer"] = start_indexer()
            time.sleep(1)
        load.stop()
        try:  # the index-worker's allocator counters (since its last start)
            indexer_malloc = scalars(get(f"http://127.0.0.1:{indexer_port}/metrics").decode())
        except Exception:
            indexer_malloc = {}
        # the site stops publishing; the workers fetch what is left, the indexer drains
        published = int(get(base + "/__stop"))
        revisions = int(get(base + "/__revisions"))
        client = redis.Redis.from_url(url)
        drain_started = time.monotonic()
        pages = all_pages[:published]
        accepted = {path for path, html in pages if not normalise(html, base + path).rejected}
        # with --fixed, each story's latest revision as published when publishing stopped
        latest = {path: revision_of(n, revisions, count) for n, (path, _) in enumerate(pages)}
        while time.monotonic() - drain_started < args.drain:
            time.sleep(5)
            with open_index(index).searcher() as searcher:
                mine = [f for f in searcher.all_stored_fields()
                        if f["url"].startswith(base + "/")]
            have = {urlsplit(f["canonical_url"]).path for f in mine}
            if accepted <= have and client.xlen("news-search:articles") == 0 and (
                    not args.fixed or not check_revisions(mine, latest, accepted)[2]):
                break
        drained = time.monotonic() - drain_started
    finally:
        load.done.set()
        stop_all()
    with open_index(index).searcher() as searcher:
        docs = list(searcher.all_stored_fields())
    # the site's pages (fetched from it), by their canonical links
    # a page indexed twice shows as two documents for one path, or one under a path the site
    # never published (the corpus's own duplicate stories are distinct pages, not counted);
    # stale: a story indexed with an older revision than its latest (--fixed)
    lost, duplicated, stale = check_revisions(
        [d for d in docs if d["url"].startswith(base + "/")], latest, accepted)
    load_after = os.getloadavg()
    if TRACE:
        (TRACE[0] / "pids.json").write_text(json.dumps(
            {key.rsplit("-", 1)[1]: key for key in memory}))
    (tmp / "samples.json").write_text(json.dumps(
        {"memory": memory, "anon": anon, "caches": caches, "articles": articles}))
    failed = [s for s in load.samples if not s[2]]
    print()
    pace = f" at {args.rate:g}/s" if args.rate else " without pause"
    print(f"run: {args.minutes:g} min under {args.clients} search clients{pace}; "
          f"{len(load.samples)} "
          f"requests; events: " + "; ".join(e.strip() for e in events))
    print(f"load average before {load_before[0]:.2f} / after {load_after[0]:.2f} "
          f"(1-min), {load_after[2]:.2f} (15-min), 2 cores")
    print()
    print("| measure | value |")
    print("|---|---:|")
    print(f"| search requests | {len(load.samples)} |")
    print(f"| requests failed | {len(failed)} |")
    print(f"| stories published | {published} |")
    print(f"| accepted by the normaliser | {len(accepted)} |")
    print(f"| documents in the index | {len(docs)} |")
    print(f"| articles lost | {len(lost)} |")
    print(f"| articles duplicated | {duplicated} |")
    if args.fixed:
        print(f"| revisions published | {revisions} |")
        print(f"| stories stale (an older revision indexed) | {len(stale)} |")
    print(f"| drain after publishing stopped | {drained:.0f} s |")
    print()
    print(f"index: {start_docs} articles when the load started, {len(docs)} at the end "
          f"(+{(len(docs) - start_docs) / max(1, start_docs):.1%})")
    if args.fixed and articles:
        changed = max((articles[i][0] for i in range(1, len(articles))
                       if articles[i][1] != articles[i - 1][1]), default=articles[0][0])
        print(f"  (the site's {args.fixed} stories, crawled first; the article count, read "
              f"every 15 s, last changed at {changed:.0f} s of the run)")
    memory_table(memory, anon, args.warmup, articles)
    print()
    print(trims_line("serve workers (all, counters summed)", serve_malloc))
    print(trims_line("index-worker (since its last start)", indexer_malloc))
    print("allocator settings: " + ", ".join(
        f"${name}={os.environ.get(name, '(default)')}" for name in (ARENAS_ENV, TRIM_ENV)))
    cache_table(caches)
    print()
    print("| window | requests | p95 ms | failed |")
    print("|---|---:|---:|---:|")
    window = 300
    for w in range(int(seconds // window) + 1):
        part = [s for s in load.samples if w * window <= s[0] - started < (w + 1) * window]
        if part:
            print(f"| {w * 5}-{w * 5 + 5} min | {len(part)} | "
                  f"{p95([s[1] for s in part if s[2]]) * 1000:.0f} | "
                  f"{sum(1 for s in part if not s[2])} |")
    for error in load.errors[:10]:
        print("  failed:", error)
    if lost:
        print("  lost:", sorted(lost)[:10])
    if stale:
        print("  stale:", sorted(stale)[:10])


if __name__ == "__main__":
    if len(sys.argv) in (5, 6) and sys.argv[1] == "--site":
        serve_site(int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]),
                   sys.argv[5:] == ["fixed"])
    else:
        main()
