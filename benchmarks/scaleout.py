"""The scaled-out crawl on one machine: 1, 2 and 3 workers plus the indexer, and the Redis
hand-off's cost per article.

Usage: python -m benchmarks.scaleout [--pages N] [--workers 1,2,3]

Serves benchmarks/crawl.py's local site (N Reuters-21578 stories, robots.txt naming a sitemap
of every article) from a separate process, and for each worker count starts a fresh
redis-server (append-only file, fsync every second; see docs/scaling.md), that many
`news-search crawl --redis` workers and one `news-search index-worker`, politeness off (no
per-host delay; 64 requests at a time per host in total, 16 per worker). Prints, per run:
articles indexed, seconds from the first process start to the last index commit, articles/s,
and CPU seconds used by the workers, the indexer and Redis (with the cores they kept busy on
average).

Then times the hand-off alone, in this process: XADD of 2,000 normalised articles, and the
indexer's side (XREADGROUP, JSON → Article, XACK + XDEL), per article, without indexing, with
Redis fsyncing every second and on every write.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import redis

from benchmarks.crawl import build_site
from search_service.article import Article
from search_service.crawl.scaleout.handoff import GROUP, STREAM_KEY, article_entry
from search_service.crawl.scaleout.indexer import ensure_group
from search_service.index.schema import open_index
from tests.support.paths import ROOT
from tests.support.redis_server import redis_server


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a running process (from /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def last_commit(index: Path) -> float:
    """When the index was last committed (its newest table of contents file)."""
    return max(p.stat().st_mtime for p in index.glob("*.toc"))


def start(argv: list[str]) -> subprocess.Popen:
    """Start `news-search ARGV`."""
    return subprocess.Popen([sys.executable, "-m", "search_service.cli", *argv], cwd=ROOT,
                            env={**os.environ, "PYTHONPATH": str(ROOT)},
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)


def wait_cpu(proc: subprocess.Popen) -> float:
    """Wait for a process; return its CPU seconds (user + system)."""
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        raise SystemExit(f"{proc.args[3:5]} failed ({proc.returncode}): {proc.stdout.read()}")
    return usage.ru_utime + usage.ru_stime


def run(workers: int, base: str, pages: int, tmp: Path) -> dict:
    """One crawl with `workers` workers and the indexer; return its figures."""
    sources = tmp / "sources.toml"
    sources.write_text(f'[[source]]\nname = "Wire Ledger"\nsitemaps = ["{base}/sitemap.xml"]\n'
                       f"max_depth = 0\nmax_pages = {pages + 10}\n")
    with redis_server(tmp / "redis", fsync="everysec") as url:
        server_pid = int(redis.Redis.from_url(url).info("server")["process_id"])
        redis_before = cpu_seconds(server_pid)
        started = time.time()
        crawlers = [start(["crawl", "--redis", url, "--sources", str(sources),
                           "--archive", str(tmp / f"archive-{n}"), "--worker-id", f"w{n}",
                           "--idle-exit", "3", "--no-progress", "--delay", "0",
                           "--set", "CONCURRENT_REQUESTS=16",
                           "--set", "NEWS_HOST_CONCURRENCY=64"]) for n in range(workers)]
        indexer = start(["index-worker", "--redis", url, "--index", str(tmp / "ix"),
                         "--idle-exit", "3", "--batch", "1000", "--interval", "2"])
        worker_cpu = sum(wait_cpu(p) for p in crawlers)
        indexer_cpu = wait_cpu(indexer)
        redis_cpu = cpu_seconds(server_pid) - redis_before
    seconds = last_commit(tmp / "ix") - started
    indexed = open_index(tmp / "ix").doc_count()
    return {"workers": workers, "indexed": indexed, "seconds": seconds,
            "worker_cpu": worker_cpu, "indexer_cpu": indexer_cpu, "redis_cpu": redis_cpu}


def handoff_cost(tmp: Path, fsync: str, count: int = 2000) -> tuple[float, float, int]:
    """Seconds per article to add to the stream, and to read, decode and acknowledge (no
    indexing), with Redis fsyncing its append-only file `fsync`; and the mean entry size."""
    from search_service.normalise import normalise

    pages = list(build_site(count).items())
    articles = [normalise(html, f"http://127.0.0.1{path}").article for path, html in pages]
    entries = [article_entry(a.to_json(), "bench") for a in articles if a is not None]
    with redis_server(tmp / f"redis-{fsync}", fsync=fsync) as url:
        server = redis.Redis.from_url(url)
        ensure_group(server)
        t0 = time.perf_counter()
        for entry in entries:
            server.xadd(STREAM_KEY, entry)
        t1 = time.perf_counter()
        done = 0
        while done < len(entries):
            found = server.xreadgroup(GROUP, "indexer", {STREAM_KEY: ">"}, count=500)
            ids = []
            for entry_id, fields in found[0][1]:
                Article.from_json(json.loads(fields[b"article"]))
                ids.append(entry_id)
            with server.pipeline() as pipe:
                pipe.xack(STREAM_KEY, GROUP, *ids)
                pipe.xdel(STREAM_KEY, *ids)
                pipe.execute()
            done += len(ids)
        t2 = time.perf_counter()
    size = sum(len(e["article"]) for e in entries) // len(entries)
    return (t1 - t0) / len(entries), (t2 - t1) / len(entries), size


def main() -> None:
    """Run the benchmark and print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=5000)
    parser.add_argument("--workers", default="1,2,3")
    args = parser.parse_args()
    counts = [int(n) for n in args.workers.split(",")]
    print(f"load average before: {os.getloadavg()[0]:.2f} (2 cores)", flush=True)
    site = subprocess.Popen([sys.executable, "-m", "benchmarks.crawl", "--serve",
                             "--pages", str(args.pages)], cwd=ROOT, stdout=subprocess.PIPE,
                            text=True)
    results = []
    try:
        base, pages = site.stdout.readline().split()
        for workers in counts:
            with tempfile.TemporaryDirectory() as tmp:
                results.append(run(workers, base, int(pages), Path(tmp)))
                r = results[-1]
                print(f"  {workers} worker(s): {r['indexed']} articles in {r['seconds']:.1f}s",
                      file=sys.stderr, flush=True)
    finally:
        site.kill()
        site.wait()
    print(f"site: {pages} article pages on 127.0.0.1, politeness off; seconds from the first "
          "process start (start-up included) to the last index commit")
    print(f"{'workers':>7}{'articles':>10}{'seconds':>9}{'art/s':>8}{'worker CPU s':>14}"
          f"{'indexer CPU s':>15}{'redis CPU s':>13}{'cores busy':>12}")
    for r in results:
        cpu = r["worker_cpu"] + r["indexer_cpu"] + r["redis_cpu"]
        print(f"{r['workers']:>7}{r['indexed']:>10}{r['seconds']:>9.1f}"
              f"{r['indexed'] / r['seconds']:>8.1f}{r['worker_cpu']:>14.1f}"
              f"{r['indexer_cpu']:>15.1f}{r['redis_cpu']:>13.1f}{cpu / r['seconds']:>12.2f}")
    for fsync in ("everysec", "always"):
        with tempfile.TemporaryDirectory() as tmp:
            add, take, size = handoff_cost(Path(tmp), fsync)
        print(f"hand-off per article, appendfsync {fsync} (mean entry {size} bytes of JSON): "
              f"XADD {add * 1e6:.0f} µs in the worker; XREADGROUP + decode + XACK/XDEL "
              f"{take * 1e6:.0f} µs in the indexer")
    print(f"peak RSS of this process: "
          f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB; "
          f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
