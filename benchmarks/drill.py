"""The reliability drill: crashes, write failures, concurrency and hostile input, end to end.

Usage: python -m benchmarks.drill [--seed 1] [--kills 8,6,6] [--pages 60] [--load-seconds 15]
                                  [--fuzz 300] [--api-cases 100]

Everything runs against the real commands (`python -m search_service.cli`) in subprocesses,
a real index and WARC archive in a temporary directory, the fixture news site on 127.0.0.1
and the real `serve` over HTTP:

1. Crash drill: `ingest`, `reindex` and `crawl` SIGKILLed at seeded moments (`--kills`
   ingest,reindex,crawl; spread over an undisturbed run's time) and at kill points inside
   index commits, the reindex swap and WARC writes (tests/reliability/killpoint.py). After
   each kill: the index opens and serves, no canonical URL twice, every article seen committed
   before the kill still there; then the same command is run again and must end with exactly
   the articles of an undisturbed run. The archive must stay readable (torn records skipped).
2. Write failures: a disk that fills up (a small tmpfs when this runs as root and may mount,
   else RLIMIT_FSIZE), a read-only index (a read-only mount, else no write permission), a
   second writer while the lock is held, and two ingests at once.
3. Concurrency: `serve` under HTTP load at concurrency 16 (keep-alive clients), first idle,
   then while `ingest` writes into the same index: failed requests, p50/p99 latency of both
   phases, and how long new commits took to show in `/api/health`.
4. Hostile input: the normaliser over random bytes, mutated real pages, pathological markup
   and the known worst cases (exceptions, slowest page); the search API over generated query
   syntax (5xx, slowest answer); schemathesis over the served OpenAPI document (5xx).

Prints one table (and the detail of anything that failed). Bounded: about 6-10 minutes on a
busy 2-core machine with the defaults.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode, urlsplit

from benchmarks._common import percentile
from search_service import config
from search_service.archive.files import Page, read_pages
from search_service.archive.warc import archive_files
from tests.support.drills import (
    ROOT,
    canonical_urls,
    check_index,
    child_env,
    committed_urls,
    orphan_files,
    run,
    torn_records,
    warc_subset,
)


@dataclass
class Row:
    """One line of the table."""

    drill: str
    runs: int = 0
    survived: int = 0
    lost: int = 0
    duplicates: int = 0
    requests: int = 0
    failed: int = 0
    inputs: int = 0
    exceptions: int = 0
    notes: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# -- 1. crash drill -----------------------------------------------------------------------------

def kill_and_restart(row: Row, argv: list[str], index: Path, before: set[str],
                     expected: set[str], how: dict, allowed: list[set[str]] | None = None,
                     archive: Path | None = None) -> None:
    """Run `argv` and kill it as `how` says; check the index it left; run it again to the end
    and check it holds `expected`. `allowed`: the only article sets the index may hold after
    the kill (reindex: the old index or the new one, nothing between)."""
    killed = run(argv, watch=index, **how)
    if not killed.killed and "kill_after" in how:
        # the machine ran it faster than the undisturbed run: kill within this run's time
        # (the run that finished counts as one more undisturbed run: checked below)
        row.notes.append("finished before its kill, killed earlier on a second try")
        how = {"kill_after": how["kill_after"] * killed.seconds / (how["kill_after"] + 1)}
        before = before | set(canonical_urls(index)) if index.exists() else before
        killed = run(argv, watch=index, **how)
    row.runs += 1
    label = ", ".join(f"{k}={v:.2f}" if isinstance(v, float) else f"{k}={v}"
                      for k, v in how.items())
    if not killed.killed:
        row.notes.append(f"finished before its kill ({label})")
    seen = before | killed.seen
    orphans = orphan_files(index)
    torn = torn_records(archive)[1] if archive and archive.exists() else 0
    if index.exists() or allowed:
        check = check_index(index, seen)
    else:  # killed before it created the index: nothing was committed
        check = None
    problems = []
    if check is not None:
        row.lost += check.lost
        row.duplicates += check.duplicates
        if not check.ok:
            problems.append(f"after kill: {check}")
        if allowed is not None and check.opens:
            now = set(canonical_urls(index))
            if now not in allowed:
                problems.append(f"index holds {len(now)} articles, neither the old nor new set")
    again = run(argv)
    final = canonical_urls(index) if index.exists() else []
    if again.returncode != 0:
        problems.append(f"rerun exit {again.returncode}: {again.stderr[-300:]}")
    missing, extra = expected - set(final), set(final) - expected
    dups = len(final) - len(set(final))
    row.lost += len(missing)
    row.duplicates += dups
    if missing or extra or dups:
        problems.append(f"after rerun: {len(missing)} missing, {len(extra)} extra, {dups} twice")
    if problems:
        row.problems.append(f"{argv[0]} ({label}): " + "; ".join(problems))
    elif killed.killed:
        row.survived += 1
    if orphans:
        row.notes.append("mid-commit")
    if torn:
        row.notes.append("torn WARC")
    log(f"  {argv[0]} killed ({label}) after {killed.seconds:.1f}s: "
        f"{len(killed.seen)} seen committed, orphan files {orphans}, torn records {torn}, "
        f"{'OK' if not problems else problems}")


def summarise_notes(row: Row) -> None:
    """Fold repeated notes into counts."""
    counts: dict[str, int] = {}
    for note in row.notes:
        counts[note] = counts.get(note, 0) + 1
    row.notes = [f"{n} {note}" for note, n in counts.items()]


def ingest_kills(work: Path, rng: random.Random, kills: int, pages: int) -> Row:
    """`ingest` killed at commit kill points and at seeded moments, then run again."""
    row = Row("ingest SIGKILL")
    warc = warc_subset(config.SAMPLE_WARC, work / "ingest.warc.gz", 0, pages)
    batch = str(max(5, pages // 6))
    baseline = work / "ingest-undisturbed"
    done = run(["ingest", "--index", str(baseline), "--batch", batch, str(warc)])
    expected = set(canonical_urls(baseline))
    log(f"ingest: undisturbed run {done.seconds:.1f}s, {len(expected)} articles")
    index = work / "ingest-ix"
    commits = pages // int(batch)
    for n in range(kills):
        if n % 2 == 0 and index.exists():  # half the kills start from an empty index
            shutil.rmtree(index)
        before = committed_urls(index) if index.exists() else set()
        if n % 4 == 0:
            how = {"point": "segments", "nth": rng.randint(1, commits)}
        elif n % 4 == 1:
            how = {"point": "toc", "nth": rng.randint(2, commits + 1)}
        else:
            how = {"kill_after": rng.uniform(0.3, done.seconds)}
        kill_and_restart(row, ["ingest", "--index", str(index), "--batch", batch, str(warc)],
                         index, before, expected, how)
    summarise_notes(row)
    return row


def reindex_kills(work: Path, rng: random.Random, kills: int, pages: int) -> Row:
    """`reindex` killed mid-swap, mid-commit and at seeded moments, then run again."""
    row = Row("reindex SIGKILL")
    index, archive = work / "re-ix", work / "re-ix-archive"
    half = pages // 2
    warc_subset(config.SAMPLE_WARC, archive / "news-search-1.warc.gz", 0, half)
    second = warc_subset(config.SAMPLE_WARC, archive / "news-search-2.warc.gz", half, pages)
    second.write_bytes(second.read_bytes()[:-300])  # a torn last record, as a kill leaves it
    first = run(["ingest", "--index", str(index), str(archive / "news-search-1.warc.gz")])
    assert first.returncode == 0, first.stderr
    expected = {p.url for p in read_pages(archive_files(archive)) if isinstance(p, Page)}
    batch = str(max(5, pages // 6))
    argv = ["reindex", "--index", str(index), "--batch", batch]
    timing = run(["reindex", "--index", str(work / "re-timing"), "--archive", str(archive),
                  "--batch", batch])
    log(f"reindex: undisturbed run {timing.seconds:.1f}s, {len(expected)} readable records")
    for n in range(kills):
        before = set(canonical_urls(index))
        how = ({"point": "swap", "nth": 1} if n % 3 == 0 else
               {"point": "toc", "nth": rng.randint(2, pages // int(batch))} if n % 3 == 1 else
               {"kill_after": rng.uniform(0.3, timing.seconds)})
        kill_and_restart(row, argv, index, before, expected, how,
                         allowed=[before, expected])
    summarise_notes(row)
    return row


def crawl_kills(work: Path, rng: random.Random, kills: int) -> Row:
    """`crawl` (crawl and indexer processes) killed at seeded moments and mid-WARC-write."""
    from tests.support.news_site import NewsSite

    row = Row("crawl SIGKILL")
    extra = 40
    durations = []
    for n in range(kills + 1):
        site = NewsSite(extra=extra).start()
        try:
            tmp = work / f"crawl-{n}"
            tmp.mkdir()
            sources = site.small_sources(tmp)
            index, archive = tmp / "ix", tmp / "ix-archive"
            argv = ["crawl", "--sources", str(sources), "--index", str(index),
                    "--no-progress", "--set", "DOWNLOAD_DELAY=0.1",
                    "--set", "AUTOTHROTTLE_START_DELAY=0.1",
                    "--set", "NEWS_COMMIT_SECONDS=0.5"]
            expected = {site.url(f"/news/story-{i}") for i in [1, 2, *range(100, 100 + extra)]}
            if n == 0:  # an undisturbed crawl: how long the kills are spread over
                done = run(argv)
                durations.append(done.seconds)
                got = set(canonical_urls(index))
                if got != expected:
                    row.problems.append(f"undisturbed crawl indexed {len(got)} of "
                                        f"{len(expected)}")
                log(f"crawl: undisturbed run {done.seconds:.1f}s, {len(got)} articles")
                continue
            how = ({"point": "warc", "nth": rng.randint(3, extra)} if n % 3 == 1 else
                   {"kill_after": rng.uniform(0.4 * durations[0], durations[0])})
            kill_and_restart(row, argv, index, set(), expected, how, archive=archive)
            pages, torn = torn_records(archive)
            if torn > 1:
                row.problems.append(f"{torn} torn records in one archive")
        finally:
            site.stop()
    summarise_notes(row)
    return row


# -- 2. write failures --------------------------------------------------------------------------

def can_mount() -> bool:
    """Tell whether this process may mount a tmpfs (root with the right capability)."""
    if os.geteuid() != 0:
        return False
    probe = Path(tempfile.mkdtemp(prefix="drill-mount-"))
    ok = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(probe)],
                        capture_output=True).returncode == 0
    if ok:
        subprocess.run(["umount", str(probe)], check=True)
    probe.rmdir()
    return ok


def write_failures(work: Path) -> list[Row]:
    """A full disk, a read-only index, a held lock, two writers at once."""
    first = warc_subset(config.SAMPLE_WARC, work / "w-first.warc.gz", 0, 10)
    more = warc_subset(config.SAMPLE_WARC, work / "w-more.warc.gz", 10, 300)
    mount = can_mount()
    rows = []

    row = Row("disk full", notes=["tmpfs 1.5 MB" if mount else "RLIMIT_FSIZE 64 kB"])
    place = work / "full"
    place.mkdir()
    if mount:
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1500k", "tmpfs", str(place)],
                       check=True)
    try:
        index = place / "ix"
        run(["ingest", "--index", str(index), str(first)])
        before = set(canonical_urls(index))
        full = run(["ingest", "--index", str(index), "--batch", "100", str(more)],
                   **({} if mount else {"max_file_bytes": 64 * 1024}))
        row.runs = 1
        judge_failure(row, full, index, before, "cannot write the index")
        if orphan_files(index):
            row.problems.append("files of the failed commit left behind")
    finally:
        if mount:
            subprocess.run(["umount", "-l", str(place)], check=True)
    rows.append(row)

    index = work / "ro-ix"
    run(["ingest", "--index", str(index), str(first)])
    before = set(canonical_urls(index))
    row = Row("read-only index")
    if mount:
        subprocess.run(["mount", "--bind", str(index), str(index)], check=True)
        subprocess.run(["mount", "-o", "remount,ro,bind", str(index)], check=True)
        row.notes.append("read-only bind mount")
    elif os.geteuid() != 0:
        index.chmod(0o555)
        row.notes.append("no write permission")
    else:
        row.notes.append("not run: root without mount rights")
    try:
        if row.notes[0].startswith("not run"):
            raise StopIteration
        for argv in (["ingest", str(more)], ["delete", sorted(before)[0]], ["optimize"]):
            done = run([argv[0], "--index", str(index), *argv[1:]])
            row.runs += 1
            judge_failure(row, done, index, before, "cannot write the index")
    except StopIteration:
        pass
    finally:
        if mount:
            subprocess.run(["umount", "-l", str(index)], check=True)
        else:
            index.chmod(0o755)
    rows.append(row)

    row = Row("two writers")
    index = work / "two-ix"
    run(["ingest", "--index", str(index), str(first)])
    before = set(canonical_urls(index))
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time\nfrom pathlib import Path\n"
         "from search_service.index.schema import open_index\n"
         "w = open_index(Path(sys.argv[1])).writer()\nprint('holding', flush=True)\n"
         "time.sleep(60)\n", str(index)],
        cwd=ROOT, env=child_env(), stdout=subprocess.PIPE, text=True)
    try:
        holder.stdout.readline()
        second = run(["ingest", "--index", str(index), str(more)])
    finally:
        holder.kill()
        holder.wait()
    row.runs = 1
    judge_failure(row, second, index, before, "being written by another process (waited 10s)")
    # two real ingests at once: each waits for the other's commits; both finish
    halves = [warc_subset(config.SAMPLE_WARC, work / f"w-half-{i}.warc.gz", 10 + i * 60,
                          70 + i * 60) for i in range(2)]
    procs = [subprocess.Popen([sys.executable, "-m", "search_service.cli", "ingest", "--index",
                               str(index), "--batch", "10", str(half)], cwd=ROOT,
                              env=child_env(), stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True) for half in halves]
    outcomes = [(proc.wait(), proc.stderr.read()) for proc in procs]
    row.runs += 2
    urls = canonical_urls(index)
    row.duplicates += len(urls) - len(set(urls))
    clear = all(code == 0 or "being written by another process" in err
                for code, err in outcomes)
    if not clear:
        row.problems.append(f"concurrent ingests: {outcomes}")
    finished = sum(code == 0 for code, _ in outcomes)
    expected = len(before) + 60 * finished
    if finished == 2 and len(set(urls)) != expected:
        row.problems.append(f"two ingests: {len(set(urls))} articles, expected {expected}")
    row.notes.append(f"held lock: waited, failed clearly; two ingests at once: "
                     f"{finished} of 2 finished, {len(set(urls))} articles")
    rows.append(row)
    return rows


def judge_failure(row: Row, done, index: Path, before: set[str], message: str) -> None:
    """A write that must fail: exit 1, the message, no traceback, the index as it was."""
    if done.returncode != 1 or message not in done.stderr or "Traceback" in done.stderr:
        row.problems.append(f"exit {done.returncode}: {done.stderr[-300:]}")
        row.failed += 1
    check = check_index(index, before)
    row.lost += check.lost
    row.duplicates += check.duplicates
    if not check.ok:
        row.problems.append(f"index after the failure: {check}")
    else:
        row.survived += 1


# -- 3. concurrency -----------------------------------------------------------------------------

def start_serve(index: Path) -> tuple[subprocess.Popen, str]:
    """Start `news-search serve` on a free port; return it and its base URL."""
    import re

    proc = subprocess.Popen([sys.executable, "-m", "search_service.cli", "serve", "--index",
                             str(index), "--port", "0"], cwd=ROOT, env=child_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    while True:
        line = proc.stdout.readline()
        found = re.search(r"on (http://127\.0\.0\.1:\d+/)", line)
        if found:
            return proc, found.group(1)
        if proc.poll() is not None:
            raise RuntimeError("serve did not start")


def load(base: str, urls: list[str], seconds: float, stop: threading.Event | None = None,
         concurrency: int = 16) -> tuple[list[float], int, int]:
    """GET `urls` from `concurrency` keep-alive clients for `seconds` (or until `stop`);
    return latencies (ms), requests and failures (errors or non-200s)."""
    parts = urlsplit(base)
    latencies: list[float] = []
    counts = {"requests": 0, "failed": 0}
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def client(offset: int) -> None:
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
        i = offset
        while time.monotonic() < deadline and not (stop and stop.is_set()):
            url = urls[i % len(urls)]
            i += concurrency
            started = time.perf_counter()
            try:
                conn.request("GET", url)
                response = conn.getresponse()
                response.read()
                ok = response.status == 200
            except (OSError, http.client.HTTPException):
                ok = False
                conn.close()
                conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
            elapsed = (time.perf_counter() - started) * 1000
            with lock:
                counts["requests"] += 1
                counts["failed"] += not ok
                latencies.append(elapsed)
        conn.close()

    threads = [threading.Thread(target=client, args=(n,)) for n in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return latencies, counts["requests"], counts["failed"]


#: The longest the loaded phase may last (it ends when the ingest does).
LOADED_MAX = 180.0


def concurrency(work: Path, rng: random.Random, seconds: float) -> tuple[Row, Path, str,
                                                                        subprocess.Popen]:
    """`serve` at concurrency 16, idle, then while `ingest` writes the same index."""
    row = Row("serve + ingest, load 16")
    index = work / "load-ix"
    first = warc_subset(config.SAMPLE_WARC, work / "load-first.warc.gz", 0, 400)
    more = warc_subset(config.SAMPLE_WARC, work / "load-more.warc.gz", 400, 800)
    done = run(["ingest", "--index", str(index), str(first)])
    assert done.returncode == 0, done.stderr
    words = sorted({w for url in canonical_urls(index) for w in url.rsplit("/", 1)[-1]
                    .split("-")[:-1] if len(w) > 3})
    urls = ["/api/search?" + urlencode({"q": " ".join(rng.sample(words, rng.choice([1, 2])))})
            for _ in range(400)]
    server, base = start_serve(index)
    load(base, urls[:20], 2)  # warm up: searchers opened in every server thread
    idle, idle_requests, idle_failed = load(base, urls, seconds)
    # loaded: the same load while ingest writes 400 articles, committing every 50 (until it
    # is done, at most LOADED_MAX seconds)
    stop = threading.Event()
    lags: list[float] = []
    fresh = threading.Thread(target=watch_freshness, args=(index, base, stop, lags))
    writer = subprocess.Popen([sys.executable, "-m", "search_service.cli", "ingest", "--index",
                               str(index), "--batch", "50", str(more)], cwd=ROOT,
                              env=child_env(), stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, start_new_session=True)
    fresh.start()
    waiter = threading.Thread(target=lambda: (writer.wait(), stop.set()))
    waiter.start()
    loaded, loaded_requests, loaded_failed = load(base, urls, LOADED_MAX, stop)
    stop.set()
    fresh.join()
    if writer.poll() is None:
        writer.kill()
        row.notes.append("ingest cut at the time bound")
    waiter.join()
    row.runs = 2
    row.requests = idle_requests + loaded_requests
    row.failed = idle_failed + loaded_failed
    idle_p99, loaded_p99 = percentile(idle, 99), percentile(loaded, 99)
    row.notes += [
        f"idle p50 {percentile(idle, 50):.0f} / p99 {idle_p99:.0f} ms "
        f"({idle_requests / seconds:.0f} req/s)",
        f"loaded p50 {percentile(loaded, 50):.0f} / p99 {loaded_p99:.0f} ms "
        f"(p99 {loaded_p99 / idle_p99:.1f}x idle; target <= 3x)",
        f"commits visible after p50 {percentile(lags, 50) if lags else 0:.1f} / "
        f"max {max(lags) if lags else 0:.1f} s ({len(lags)} commits)"]
    if loaded_p99 > 3 * idle_p99:
        row.problems.append(f"loaded p99 {loaded_p99:.0f} ms > 3 x idle p99 {idle_p99:.0f} ms")
    if row.failed:
        row.problems.append(f"{row.failed} failed requests")
    return row, index, base, server


def watch_freshness(index: Path, base: str, stop: threading.Event, lags: list[float]) -> None:
    """Note each new on-disk article count, and how long `/api/health` took to report it."""
    from search_service.index.schema import open_index

    parts = urlsplit(base)
    pending: dict[int, float] = {}
    last = -1
    while not stop.is_set() or pending:
        try:
            with open_index(index).searcher() as searcher:
                count = searcher.doc_count()
        except Exception:  # mid-commit: look again
            count = last
        now = time.monotonic()
        if count > last:
            pending[count] = now
            last = count
        try:
            conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
            conn.request("GET", "/api/health")
            served = json.loads(conn.getresponse().read())["articles"]
            conn.close()
        except (OSError, ValueError, http.client.HTTPException):
            served = -1
        seen = time.monotonic()
        for count_seen in [c for c in pending if c <= served]:
            lags.append(seen - pending.pop(count_seen))
        if stop.is_set() and pending and seen - min(pending.values()) > 30:
            break
        time.sleep(0.2)


# -- 4. hostile input ---------------------------------------------------------------------------

def fuzz_normaliser(examples: int, seed: int) -> Row:
    """The normaliser over generated hostile pages: exceptions, the slowest page."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import seed as hypothesis_seed

    from search_service.normalise import normalise
    from tests.support.hostile import (
        BAD_PAGES,
        mutated_pages,
        pathological_pages,
        random_bytes,
        real_pages,
    )

    row = Row("normaliser fuzz")
    times: list[float] = []
    slowest = [0.0, ""]

    def one(html, kind: str) -> None:
        started = time.perf_counter()
        try:
            result = normalise(html, "https://hostile.example/news/a")
            bad = (result.rejected or "").startswith("unreadable page")
        except Exception as exc:  # what the drill is looking for
            bad = True
            row.problems.append(repr(exc)[:200])
        times.append(time.perf_counter() - started)
        if times[-1] > slowest[0]:
            slowest[:] = [times[-1], kind]
        row.inputs += 1
        row.exceptions += bad

    def runner(name: str, strategy):
        @hypothesis_seed(seed)
        @settings(max_examples=examples, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        @given(strategy)
        def case(html):
            one(html, name)

        return case

    for name, strategy in (("random bytes", random_bytes),
                           ("mutated pages", mutated_pages(real_pages())),
                           ("pathological markup", pathological_pages)):
        runner(name, strategy)()
    for name, html in BAD_PAGES.items():  # the known worst cases
        one(html, name)
    row.notes.append(f"slowest page {slowest[0] * 1000:.0f} ms ({slowest[1]}), "
                     f"p99 {percentile(times, 99) * 1000:.0f} ms")
    return row


def fuzz_queries(index: Path, examples: int, seed: int) -> Row:
    """The search page and API over generated query syntax: 5xx, the slowest answer."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import seed as hypothesis_seed

    from search_service.web import create_app
    from tests.support.hostile import queries

    row = Row("query fuzz (API + page)")
    client = create_app({"INDEX_DIR": str(index)}).test_client()
    times: list[float] = []

    @hypothesis_seed(seed)
    @settings(max_examples=examples, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(queries)
    def case(q):
        for path in ("/api/search", "/"):
            started = time.perf_counter()
            response = client.get(path, query_string={"q": q})
            times.append(time.perf_counter() - started)
            row.inputs += 1
            row.requests += 1
            if response.status_code >= 500:
                row.failed += 1
                row.exceptions += 1
                row.problems.append(f"{path} q={q[:80]!r}: {response.status_code}")

    case()
    row.notes.append(f"slowest answer {max(times) * 1000:.0f} ms, "
                     f"p99 {percentile(times, 99) * 1000:.0f} ms")
    return row


def fuzz_api(base: str, examples: int, seed: int) -> Row:
    """schemathesis over the served OpenAPI document, valid and invalid requests: 5xx."""
    import schemathesis
    from hypothesis import HealthCheck, given, settings
    from hypothesis import seed as hypothesis_seed
    from schemathesis import GenerationMode

    row = Row("API fuzz (schemathesis)")
    schema = schemathesis.openapi.from_url(base + "api/openapi.json")
    statuses: dict[int, int] = {}
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
        @hypothesis_seed(seed)
        @settings(max_examples=examples, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        @given(schema.as_strategy(generation_mode=mode))
        def case(case):
            response = case.call(timeout=60)
            row.inputs += 1
            row.requests += 1
            statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
            if response.status_code >= 500:
                row.failed += 1
                row.problems.append(f"{case.method} {case.formatted_path} "
                                    f"{case.query}: {response.status_code}")

        case()
    row.notes.append("statuses " + ", ".join(f"{k}: {v}" for k, v in sorted(statuses.items())))
    return row


# -- the table ----------------------------------------------------------------------------------

def print_table(rows: list[Row], seconds: float, seed: int) -> None:
    """Print the results as one table, then the detail of any problem."""
    print(f"\nReliability drill, seed {seed}, {seconds:.0f} s in all\n")
    header = ("drill", "runs", "kills survived", "articles lost", "duplicates",
              "requests failed", "inputs tried", "exceptions", "notes")
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join("---" for _ in header) + "|")
    for row in rows:
        killed = row.drill.endswith("SIGKILL")
        cells = [row.drill, str(row.runs), str(row.survived) if killed else "-",
                 str(row.lost), str(row.duplicates),
                 f"{row.failed} of {row.requests}" if row.requests else "-",
                 str(row.inputs) if row.inputs else "-",
                 str(row.exceptions) if row.inputs else "-", "; ".join(row.notes)]
        print("| " + " | ".join(cells) + " |")
    problems = [(row.drill, p) for row in rows for p in row.problems]
    print(f"\n{len(problems)} problem(s)" + (":" if problems else "."))
    for drill, problem in problems:
        print(f"- {drill}: {problem}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--kills", default="8,6,6",
                        help="kills of ingest, reindex, crawl (default: %(default)s)")
    parser.add_argument("--pages", type=int, default=60,
                        help="stories ingested and reindexed per run (default: %(default)s)")
    parser.add_argument("--load-seconds", type=float, default=15,
                        help="seconds of idle load (the loaded phase lasts while the ingest "
                             f"runs, at most {LOADED_MAX:g} s) (default: %(default)s)")
    parser.add_argument("--fuzz", type=int, default=300,
                        help="examples per normaliser strategy and of queries "
                             "(default: %(default)s)")
    parser.add_argument("--api-cases", type=int, default=100,
                        help="schemathesis cases, valid and invalid each (default: %(default)s)")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    args = parser.parse_args()
    ingest_n, reindex_n, crawl_n = (int(n) for n in args.kills.split(","))
    rng = random.Random(args.seed)
    work = Path(tempfile.mkdtemp(prefix="news-search-drill-"))
    started = time.monotonic()
    rows: list[Row] = []
    state: dict = {}

    def step(name: str, function, *step_args) -> None:
        """Run one drill; a drill that breaks is a row with its error, and the rest go on."""
        log(f"{name} …")
        try:
            made = function(*step_args)
        except Exception as exc:
            log(traceback.format_exc())
            made = Row(name, problems=[f"the drill broke: {exc!r}"])
        for row in made if isinstance(made, list) else [made]:
            rows.append(row)
            log(f"  {row}")

    def serve_under_load() -> Row:
        row, state["index"], state["base"], state["server"] = concurrency(
            work, rng, args.load_seconds)
        return row

    try:
        log(f"work directory {work}")
        step("ingest SIGKILL", ingest_kills, work, rng, ingest_n, args.pages)
        step("reindex SIGKILL", reindex_kills, work, rng, reindex_n, args.pages)
        step("crawl SIGKILL", crawl_kills, work, rng, crawl_n)
        step("write failures", write_failures, work)
        step("serve + ingest, load 16", serve_under_load)
        step("normaliser fuzz", fuzz_normaliser, args.fuzz, args.seed)
        if "index" in state:
            step("query fuzz (API + page)", fuzz_queries, state["index"], args.fuzz,
                 args.seed)
            step("API fuzz (schemathesis)", fuzz_api, state["base"], args.api_cases,
                 args.seed)
    finally:
        server = state.get("server")
        if server is not None:
            server.terminate()
            server.wait()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    print_table(rows, time.monotonic() - started, args.seed)
    return 1 if any(row.problems for row in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
