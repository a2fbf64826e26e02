"""Crawl a local 5,000-article site end to end, beside a bare Scrapy spider fetching the same.

Usage: python -m benchmarks.crawl [--pages N] [--concurrency C]

Renders N Reuters-21578 stories as pages of "The Wire Ledger" (scripts/make_sample.py's
templates), serves them from memory on 127.0.0.1 in a separate process (robots.txt naming a
sitemap of every article), then times, each in a fresh process with politeness delays off:

* `news-search crawl` end to end: fetch, WARC archive, normalise, index (Whoosh commits);
* a bare Scrapy spider that only fetches the same sitemap's pages (the fetch ceiling).

Prints pages, seconds, pages/s and peak RSS (of the crawling process) for both.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from benchmarks._common import load_average

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT.parent / "shared/data/reuters21578/reuters.jsonl.gz"


def build_site(count: int) -> dict[str, bytes]:
    """Render `count` stories; return path → page bytes, with robots.txt and a sitemap."""
    from scripts import make_sample

    stories = make_sample.load_stories(SOURCE, count)
    pages = {make_sample.site_path(ctx.story): make_sample.render_page(ctx).encode("utf-8")
             for ctx in make_sample.contexts(stories, make_sample.related_offsets)}
    return pages


def serve(count: int) -> None:
    """Serve the site until killed; print the base URL on the first line."""
    pages = build_site(count)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def do_GET(self):
            base = f"http://{self.headers['Host']}"
            if self.path == "/robots.txt":
                body, ctype = f"User-agent: *\nSitemap: {base}/sitemap.xml\n".encode(), "text/plain"
            elif self.path == "/sitemap.xml":
                urls = "".join(f"<url><loc>{base}{p}</loc></url>" for p in pages)
                body = ('<?xml version="1.0" encoding="UTF-8"?><urlset xmlns='
                        f'"http://www.sitemaps.org/schemas/sitemap/0.9">{urls}</urlset>').encode()
                ctype = "application/xml"
            elif self.path in pages:
                body, ctype = pages[self.path], "text/html; charset=utf-8"
            else:
                body, ctype = b"not found", "text/plain"
            self.send_response(200 if ctype != "text/plain" or "robots" in self.path else 404)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    print(f"http://127.0.0.1:{server.server_address[1]} {len(pages)}", flush=True)
    server.serve_forever()


def bare(base: str, concurrency: int) -> None:
    """A bare Scrapy spider: read the sitemap, fetch every page, keep nothing."""
    import scrapy
    from scrapy.crawler import CrawlerProcess
    from scrapy.utils.sitemap import Sitemap

    class Bare(scrapy.Spider):
        name = "bare"
        start_urls = [f"{base}/sitemap.xml"]

        def parse(self, response):
            for entry in Sitemap(response.body):
                yield scrapy.Request(entry["loc"], callback=self.page)

        def page(self, response):
            return None

    process = CrawlerProcess({"LOG_LEVEL": "WARNING", "ROBOTSTXT_OBEY": True,
                              "CONCURRENT_REQUESTS": concurrency,
                              "CONCURRENT_REQUESTS_PER_DOMAIN": concurrency,
                              "DOWNLOAD_DELAY": 0, "TELNETCONSOLE_ENABLED": False,
                              "REMOTE_CONTROL_ENABLED": False})
    process.crawl(Bare)
    process.start()


def timed_run(argv: list[str]) -> tuple[float, float, str]:
    """Run a command; return wall seconds, peak RSS in MB, and its stdout."""
    started = time.monotonic()
    proc = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.monotonic() - started
    if proc.returncode:
        raise SystemExit(f"{argv[:4]} failed ({proc.returncode}):\n{out}")
    return seconds, usage.ru_maxrss / 1024, out


def main() -> None:
    """Run the benchmark and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--bare", metavar="BASE", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        return serve(args.pages)
    if args.bare:
        return bare(args.bare, args.concurrency)

    server = subprocess.Popen([sys.executable, "-m", "benchmarks.crawl", "--serve", "--pages",
                               str(args.pages)], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        base, count = server.stdout.readline().split()
        with tempfile.TemporaryDirectory() as tmp:
            sources = Path(tmp) / "sources.toml"
            sources.write_text(f'[[source]]\nname = "Wire Ledger"\n'
                               f'sitemaps = ["{base}/sitemap.xml"]\n'
                               f"max_depth = 0\nmax_pages = {int(count) + 10}\n")
            crawl_s, crawl_mb, out = timed_run([
                sys.executable, "-m", "search_service.cli", "crawl", "--sources", str(sources),
                "--index", str(Path(tmp) / "ix"), "--no-progress",
                "--set", "DOWNLOAD_DELAY=0", "--set", "AUTOTHROTTLE_ENABLED=0",
                "--set", f"CONCURRENT_REQUESTS={args.concurrency}",
                "--set", f"CONCURRENT_REQUESTS_PER_DOMAIN={args.concurrency}",
                "--set", "NEWS_BATCH=1000", "--set", "NEWS_COMMIT_SECONDS=30"])
            summary = out.splitlines()[0]
            print(out, file=sys.stderr)
            indexed = int(summary.split(" indexed")[0].rsplit(" ", 1)[1])
            bare_s, bare_mb, _ = timed_run([sys.executable, "-m", "benchmarks.crawl", "--bare",
                                           base, "--concurrency", str(args.concurrency)])
    finally:
        server.kill()
        server.wait()
    pages = int(count)
    print(f"site: {pages} article pages on 127.0.0.1, concurrency {args.concurrency}, "
          f"politeness delays off; wall time includes process start-up")
    print(f"news-search crawl: {summary}")
    print(f"{'run':<26}{'pages':>7}{'seconds':>9}{'pages/s':>9}{'peak RSS MB':>13}")
    print(f"{'crawl → archive → index':<26}{indexed:>7}{crawl_s:>9.1f}{indexed / crawl_s:>9.1f}"
          f"{crawl_mb:>13.0f}")
    print(f"{'bare Scrapy fetch':<26}{pages:>7}{bare_s:>9.1f}{pages / bare_s:>9.1f}"
          f"{bare_mb:>13.0f}")
    print(f"end to end / fetch ceiling: {(indexed / crawl_s) / (pages / bare_s):.0%}")
    print(load_average())


if __name__ == "__main__":
    main()
