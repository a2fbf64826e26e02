"""The command line: `news-search ingest | delete | optimize | crawl | index-worker | reindex |
extract | serve | demo | stats | export | timeline | compare | terms` (each command's options are
declared in `build_parser`)."""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tqdm import tqdm

from search_service import __version__, config, memory
from search_service.archive.files import InputError, PageError, check_paths, expand, read_pages
from search_service.archive.state import crawl_report, load_source_stats
from search_service.article import collection_name
from search_service.crawl.sources import SourceError, collections_by_host, load_sources
from search_service.index import related
from search_service.index.schema import IndexBusy, IndexMissing, IndexVersionError, open_index
from search_service.index.stats import index_stats
from search_service.index.writer import BULK_MB, delete_urls, optimize
from search_service.ingest import Collections, IngestSummary, extract_pages, ingest, reindex

if TYPE_CHECKING:  # the commands import the search layer only when they run
    from search_service.search import SearchParams

log = logging.getLogger(__name__)


#: The sources file of the bundled sample's sites (their collections), beside the sample.
SAMPLE_SOURCES = "sample-sources.toml"


class CommandError(Exception):
    """A command cannot do what was asked; the message says why."""


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the process exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    for handler in logging.root.handlers:  # Scrapy resets logger levels; the handler holds
        handler.setLevel(logging.WARNING)
    try:
        return args.func(args)
    except (CommandError, InputError, SourceError, IndexMissing, IndexBusy, IndexVersionError,
            OSError) as exc:
        print(f"news-search {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def build_parser() -> argparse.ArgumentParser:
    """Declare the commands and their options."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--index", type=Path, default=config.default_index_dir(), metavar="DIR",
        help=f"index directory (default: ${config.INDEX_ENV} or '{config.DEFAULT_INDEX}')")
    parser = argparse.ArgumentParser(
        prog="news-search", description="Self-hosted news search: ingest, search, serve.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    cmd = commands.add_parser(
        "ingest", parents=[common], help="index saved pages and WARC files",
        description="Index saved article pages (.html, .htm, .html.gz, directories of them) "
                    "and WARC files (.warc, .warc.gz). Exits 1 if any page could not be read.")
    cmd.add_argument("paths", nargs="+", metavar="PATH")
    _add_bulk_options(cmd)
    cmd.add_argument("--interval", type=float, default=None, metavar="SECONDS",
                     help="also commit at least every SECONDS, so articles show up sooner "
                          "(default: by size only, fewer segments to merge)")
    cmd.add_argument("--procs", type=_positive_int, default=1,
                     help="index with N processes (bulk mode for large ingests; default 1)")
    _add_collection_options(cmd)
    cmd.set_defaults(func=cmd_ingest)

    cmd = commands.add_parser(
        "delete", parents=[common], help="remove articles by URL",
        description="Remove the articles whose canonical URL (or URL) is given.")
    cmd.add_argument("urls", nargs="+", metavar="URL")
    cmd.set_defaults(func=cmd_delete)

    cmd = commands.add_parser(
        "optimize", parents=[common], help="merge the index into one segment",
        description="Merge all index segments into one and drop deleted articles. Searching "
                    "goes on meanwhile; other writers wait.")
    cmd.set_defaults(func=cmd_optimize)

    cmd = commands.add_parser(
        "crawl", parents=[common], help="crawl news sites politely into the archive and index",
        description="Crawl sites (start URLs, feeds, sitemaps, links) obeying robots.txt; "
                    "archive every article response to WARC, then normalise and index it. "
                    "An interrupted crawl of the same sources resumes where it stopped.")
    cmd.add_argument("urls", nargs="*", metavar="URL", help="start URLs (one source per host)")
    cmd.add_argument("--sources", type=Path, metavar="FILE", help="TOML file of sources")
    _add_archive_option(cmd)
    cmd.add_argument("--max-pages", type=_positive_int, default=1000,
                     help="pages per source for URL arguments (default: %(default)s)")
    cmd.add_argument("--max-depth", type=_non_negative_int, default=3,
                     help="link depth for URL arguments (default: %(default)s)")
    contact = os.environ.get(config.CONTACT_ENV) or config.DEFAULT_CONTACT
    cmd.add_argument("--contact", default=contact,
                     metavar="URL", help=f"contact URL in the User-Agent (default: "
                                         f"${config.CONTACT_ENV} or %(default)s)")
    cmd.add_argument("--user-agent", default="", metavar="UA",
                     help="the whole User-Agent string (overrides --contact)")
    cmd.add_argument("--delay", type=float, metavar="SECONDS",
                     help="minimum delay between requests to one host (default: 1.0)")
    cmd.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                     dest="settings", help="set a Scrapy setting (repeatable)")
    cmd.add_argument("--watch", action="store_true",
                     help="keep polling each source's feeds, sitemaps and start pages at its "
                          "re-crawl interval until stopped (Ctrl-C)")
    cmd.add_argument("--no-progress", action="store_true", help="no live progress line")
    cmd.add_argument("--redis", metavar="URL",
                     help="run as one worker of a scaled-out crawl sharing its frontier, "
                          "politeness and hand-off queue in Redis (redis://HOST:PORT/DB); "
                          "articles go to `index-worker` (see docs/scaling.md)")
    cmd.add_argument("--idle-exit", type=float, metavar="SECONDS",
                     help="with --redis: exit once the shared frontier has been empty that "
                          "long (default: keep polling the sources)")
    cmd.add_argument("--worker-id", metavar="ID",
                     help="with --redis: this worker's id, in its WARC file names "
                          "(default: HOST-PID)")
    _add_lease_option(cmd)
    _add_metrics_option(cmd)
    cmd.set_defaults(func=cmd_crawl)

    cmd = commands.add_parser(
        "index-worker", parents=[common],
        help="index the articles crawl workers hand over through Redis",
        description="The one indexer of a scaled-out crawl (`crawl --redis`): reads articles "
                    "from the Redis stream, writes them to the index, acknowledges each "
                    "after its commit. The only process that writes the index.")
    cmd.add_argument("--redis", required=True, metavar="URL",
                     help="the crawl's Redis (redis://HOST:PORT/DB)")
    cmd.add_argument("--batch", type=_positive_int, default=500, metavar="N",
                     help="commit every N articles (default: %(default)s)")
    cmd.add_argument("--interval", type=float, default=2.0, metavar="SECONDS",
                     help="commit at least every SECONDS (default: %(default)s)")
    cmd.add_argument("--idle-exit", type=float, metavar="SECONDS",
                     help="exit once the queue has been empty and no crawl worker alive "
                          "for SECONDS (default: run until stopped)")
    cmd.add_argument("--related-every", type=float, default=60.0, metavar="SECONDS",
                     help="rebuild the related-articles sidecar after commits, at most every "
                          "SECONDS (default: %(default)s; 0: only on exit)")
    _add_lease_option(cmd)
    _add_metrics_option(cmd)
    cmd.set_defaults(func=cmd_index_worker)

    cmd = commands.add_parser(
        "reindex", parents=[common], help="rebuild the index from the crawl archive",
        description="Rebuild the index from the WARC files of the archive alone (after a "
                    "normaliser change, say), with progress. The new index is built beside "
                    "the old one, which serves until it is replaced.")
    _add_archive_option(cmd)
    _add_bulk_options(cmd)
    _add_collection_options(cmd)
    cmd.set_defaults(func=cmd_reindex)

    cmd = commands.add_parser(
        "extract", parents=[common], help="show what the normaliser makes of pages",
        description="Print the fields the normaliser extracts from pages, without indexing.")
    cmd.add_argument("paths", nargs="+", metavar="PATH")
    cmd.add_argument("--url", default="", help="the URL the saved HTML page came from")
    cmd.add_argument("--json", action="store_true", help="one JSON object a line")
    cmd.set_defaults(func=cmd_extract)

    cmd = commands.add_parser(
        "serve", parents=[common], help="serve the search page and JSON API",
        description="Serve the web page and JSON API with the waitress WSGI server.")
    _add_server_options(cmd)
    cmd.set_defaults(func=cmd_serve)

    cmd = commands.add_parser(
        "demo", parents=[common], help="index the bundled sample (if empty) and serve it",
        description="Index the bundled sample of Reuters-21578 stories if the index is empty, "
                    "then serve it.")
    _add_server_options(cmd)
    cmd.set_defaults(func=cmd_demo)

    cmd = commands.add_parser(
        "stats", parents=[common], help="what the index holds",
        description="Articles indexed, per source, and the date range covered; and for each "
                    "crawled source its last crawl: articles indexed, share with a date, "
                    "share rejected and why, fetch errors and refusals.")
    cmd.add_argument("--json", action="store_true", help="print JSON")
    _add_archive_option(cmd)
    cmd.set_defaults(func=cmd_stats)

    cmd = commands.add_parser(
        "export", parents=[common], help="write every story a query matches as CSV or JSON lines",
        description="Write every story the query matches (near-duplicate copies collapsed, as "
                    "the search total counts them), newest first, as CSV or JSON lines: id, "
                    "url, title, published, source, host, authors, language, collections, "
                    "similar_count (and body with --body). An empty query exports everything.")
    cmd.add_argument("query", metavar="QUERY", help="the search query ('' for every article)")
    cmd.add_argument("--format", choices=("csv", "jsonl"), default="csv",
                     help="output format (default: %(default)s)")
    cmd.add_argument("--out", "-o", type=Path, metavar="FILE",
                     help="write to FILE (default: standard output)")
    cmd.add_argument("--body", action="store_true", help="add each story's text")
    cmd.add_argument("--sort", choices=("newest", "oldest"), default="newest",
                     help="story order (default: %(default)s; undated stories last)")
    _add_filter_options(cmd)
    cmd.set_defaults(func=cmd_export)

    cmd = commands.add_parser(
        "timeline", parents=[common], help="matching stories per day, week or month",
        description="Count the stories matching QUERY per day, week or month (near-duplicates "
                    "once), beside all stories under the same filters and the share.")
    cmd.add_argument("query", metavar="QUERY")
    _add_research_options(cmd, interval=True)
    cmd.set_defaults(func=cmd_timeline)

    cmd = commands.add_parser(
        "compare", parents=[common], help="compare up to five queries",
        description="Compare up to five queries under the same filters: totals, a timeline "
                    "each (one interval for all), top sources and top stories.")
    cmd.add_argument("queries", nargs="+", metavar="QUERY")
    _add_research_options(cmd, interval=True)
    cmd.set_defaults(func=cmd_compare)

    cmd = commands.add_parser(
        "terms", parents=[common], help="words and phrases that stand out in the matches",
        description="List the words and two-word phrases unusually frequent in the stories "
                    "matching QUERY against the whole index (JLH score; a seeded sample of "
                    "the matches when there are many).")
    cmd.add_argument("query", metavar="QUERY")
    cmd.add_argument("--limit", type=_int_option(1, 100), default=20,
                     help="terms to list, 1 to 100 (default: %(default)s)")
    _add_research_options(cmd)
    cmd.set_defaults(func=cmd_terms)
    return parser


def _add_filter_options(cmd: argparse.ArgumentParser) -> None:
    """Add the search filters every command over the matches takes (export and the research
    commands): --from, --to, --source, --lang, --collection and --no-expand."""
    cmd.add_argument("--from", dest="date_from", default="", metavar="WHEN",
                     help="published from (2023-07-15, 2023-07, last week, …)")
    cmd.add_argument("--to", dest="date_to", default="", metavar="WHEN",
                     help="published up to (a partial date means its end)")
    cmd.add_argument("--source", action="append", default=[], dest="sources",
                     metavar="NAME", help="site name or host (repeatable)")
    cmd.add_argument("--lang", default="", metavar="CODE", help="language code")
    cmd.add_argument("--collection", action="append", default=[], type=_collection,
                     dest="collections", metavar="NAME", help="collection (repeatable)")
    cmd.add_argument("--no-expand", action="store_true",
                     help="search country names and demonyms only as typed (by default "
                          "canada also finds Canadian)")


def _filter_params(args: argparse.Namespace, query: str, **more: Any) -> SearchParams:
    """The SearchParams of `query` under the filters of `_add_filter_options` (and `more`),
    with no time limit (a command holds no server worker); QueryError if one is bad."""
    from search_service import search

    return search.SearchParams(
        q=query, date_from=search.dates_param("from", args.date_from),
        date_to=search.dates_param("to", args.date_to), sources=tuple(args.sources),
        lang=args.lang, collections=tuple(args.collections), expand=not args.no_expand,
        time_limit=math.inf, **more)


def _add_research_options(cmd: argparse.ArgumentParser, interval: bool = False) -> None:
    """Add the search filters (`_add_filter_options`) and --json (and --interval)."""
    _add_filter_options(cmd)
    if interval:
        cmd.add_argument("--interval", default="auto",
                         choices=["auto", "day", "week", "month"],
                         help="bucket size (default: %(default)s, from the span)")
    cmd.add_argument("--json", action="store_true", help="print JSON")


def _add_server_options(cmd: argparse.ArgumentParser) -> None:
    """Add --host, --port and --threads to a serving command."""
    cmd.add_argument("--host", default="127.0.0.1",
                     help="address to listen on (default: %(default)s)")
    cmd.add_argument("--port", type=_port, default=8000, help="port (default: %(default)s)")
    cmd.add_argument("--threads", type=_positive_int, default=8,
                     help="threads per process (default: %(default)s)")
    cmd.add_argument("--workers", type=_positive_int, default=1,
                     help="server processes sharing the port; one process uses about one "
                          "core, so use up to one per core (default: %(default)s); SIGHUP "
                          "replaces them one by one (docs/operations.md)")
    cmd.add_argument("--grace", type=float, default=30.0, metavar="SECONDS",
                     help="on SIGTERM, let requests in flight finish for at most SECONDS "
                          "(default: %(default)s)")
    cmd.add_argument("--ready-timeout", type=_positive_seconds, default=60.0, metavar="SECONDS",
                     help="in a rolling restart (SIGHUP), give a new worker at most SECONDS "
                          "to listen, else stop the restart (default: %(default)s)")
    cmd.add_argument("--cors-origin", action="append", type=_origin, dest="cors_origins",
                     metavar="ORIGIN",
                     help="let pages of ORIGIN (https://app.example, or * for any) read the "
                          "JSON API across sites; repeatable (default: "
                          f"${config.CORS_ENV}, else CORS off)")
    cmd.add_argument("--trusted-proxy", metavar="ADDR",
                     help="the reverse proxy's address (e.g. 127.0.0.1): trust its "
                          "X-Forwarded-For/-Proto/-Host/-Port headers for client addresses "
                          "and absolute links (default: trust none)")
    cmd.add_argument("--max-depth", type=_positive_int, metavar="N",
                     help="page results at most N deep, page x per_page <= N (default: "
                          f"${config.MAX_DEPTH_ENV}, else {config.MAX_DEPTH})")
    cmd.add_argument("--search-slots", type=_non_negative_int, metavar="N",
                     help="searches and article lookups one process runs at once; the "
                          "others wait their turn, and exports, research views, health and "
                          "metrics never do; 0: no limit (default: "
                          f"${config.SEARCH_SLOTS_ENV}, else {config.SEARCH_SLOTS})")


def _add_collection_options(cmd: argparse.ArgumentParser) -> None:
    """Add --collection NAME and --sources FILE (which collections articles join)."""
    cmd.add_argument("--collection", action="append", default=[], type=_collection,
                     dest="collections", metavar="NAME",
                     help="put every article in collection NAME (repeatable)")
    cmd.add_argument("--sources", type=Path, metavar="FILE",
                     help="a sources file: each article joins the collections of the source "
                          "whose allowed domains hold its host")


def _collections(args: argparse.Namespace) -> Collections:
    """The collections --collection and --sources ask for."""
    by_domain = collections_by_host(load_sources(args.sources)) if args.sources else {}
    return Collections(always=tuple(dict.fromkeys(args.collections)), by_domain=by_domain)


def _add_lease_option(cmd: argparse.ArgumentParser) -> None:
    """Add --lease SECONDS (how long a silent worker keeps its claims in Redis)."""
    cmd.add_argument("--lease", type=float, default=15.0, metavar="SECONDS",
                     help="with --redis: a killed process's claims (pages it was fetching, "
                          "the indexer lock) expire after SECONDS without a heartbeat "
                          "(default: %(default)s)")


def _add_metrics_option(cmd: argparse.ArgumentParser) -> None:
    """Add --metrics-port PORT and --metrics-host ADDR (Prometheus metrics over HTTP)."""
    cmd.add_argument("--metrics-port", type=_port, metavar="PORT",
                     help="serve Prometheus metrics on http://ADDR:PORT/metrics "
                          "(docs/operations.md; default: none)")
    cmd.add_argument("--metrics-host", default="127.0.0.1", metavar="ADDR",
                     help="address of --metrics-port (default: %(default)s)")


def _start_metrics(args: argparse.Namespace) -> None:
    """Serve this process's metrics if --metrics-port was given."""
    if args.metrics_port is not None:
        from search_service.crawl.metrics import serve_metrics

        try:
            serve_metrics(args.metrics_port, args.metrics_host)
        except OSError as exc:
            raise CommandError(f"cannot serve metrics on {args.metrics_host}:"
                               f"{args.metrics_port}: {exc.strerror or exc}") from None


def _add_archive_option(cmd: argparse.ArgumentParser) -> None:
    """Add --archive DIR (the WARC archive of crawled pages)."""
    cmd.add_argument("--archive", type=Path, metavar="DIR",
                     help=f"crawl archive directory (default: ${config.ARCHIVE_ENV} or "
                          "INDEX-archive beside the index)")


def _int_option(low: int, high: int | None = None, name: str = "integer"):
    """Make an argparse type for integers from `low` to `high` (named `name` in errors)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a {name}: {text!r}") from None
        if value < low or (high is not None and value > high):
            limit = f"at least {low}" if high is None else f"{low} to {high}"
            raise argparse.ArgumentTypeError(f"{name} out of range ({limit}): {value}")
        return value

    return parse


def _collection(text: str) -> str:
    """Parse --collection (a collection name)."""
    try:
        return collection_name(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _origin(text: str) -> str:
    """Parse --cors-origin (an origin or *)."""
    from search_service.web.cors import parse_origin

    try:
        return parse_origin(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _positive_number(unit: str = "") -> Callable[[str], float]:
    """An argparse type for a finite number above zero (of `unit`, named in the message)."""
    what = f"number of {unit}" if unit else "number"

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a {what}: {text!r}") from None
        if not value > 0 or value == float("inf"):
            raise argparse.ArgumentTypeError(f"not a positive {what}: {text!r}")
        return value
    return parse


_non_negative_int = _int_option(0)
_positive_int = _int_option(1)
_positive_float = _positive_number()  # a size in MB
_positive_seconds = _positive_number("seconds")


#: A TCP port (0 picks a free one).
_port = _int_option(0, 65535, name="port")


def cmd_ingest(args: argparse.Namespace) -> int:
    """Index the given paths and print a summary."""
    check_paths(args.paths)
    collections = _collections(args)
    ix = open_index(args.index, create=True)
    summary = _ingest_with_progress(ix, args.paths, batch=args.batch, interval=args.interval,
                                    procs=args.procs, collections=collections,
                                    batch_mb=args.batch_mb)
    print_summary(summary)
    refresh_related(ix)
    return 1 if summary.failed else 0


def _add_bulk_options(cmd: argparse.ArgumentParser) -> None:
    """The batch options of a bulk run (`ingest`, `reindex`)."""
    cmd.add_argument("--batch", type=_positive_int, default=None, metavar="N",
                     help="also commit every N articles (default: by size only)")
    cmd.add_argument("--batch-mb", type=_positive_float, default=BULK_MB, metavar="MB",
                     help="commit when the waiting articles hold MB of text; a crash loses "
                          "at most that batch (default: %(default)g)")


def _ingest_with_progress(ix, paths, **options) -> IngestSummary:
    """Run ingest with a progress bar on stderr."""
    with tqdm(desc="Indexing", unit=" pages", file=sys.stderr, mininterval=0.5) as bar:
        return ingest(ix, paths, on_page=bar.update, **options)


def _related_lag(refresher: related.Refresher) -> None:
    """Set the index-worker's metric of articles the related-articles sidecar does not know."""
    from search_service.crawl.metrics import RELATED_AGE

    if refresher.articles is not None:
        RELATED_AGE.set(max(0, refresher.ix.doc_count() - refresher.articles))


def _related_commit(refresher: related.Refresher) -> None:
    """After an index-worker commit: note the sidecar's lag, start its refresh."""
    _related_lag(refresher)
    refresher.poke()


def refresh_related(ix) -> None:
    """Bring the related-articles sidecar up to date with the index (no-op when it is)."""
    built = related.refresh(Path(ix.storage.folder), ix)
    if built:
        print(f"related articles: {built.articles} articles, {built.terms} terms "
              f"in {built.seconds:.1f}s", file=sys.stderr)


def print_summary(summary: IngestSummary) -> None:
    """Print what an ingest did: indexed, rejected with reasons, failed with causes."""
    print(f"{summary.pages} pages read: {summary.indexed} indexed "
          f"({summary.duplicates} near-duplicates of other articles), "
          f"{sum(summary.rejected.values())} rejected, {len(summary.failed)} failed")
    for reason, count in summary.rejected.most_common():
        print(f"  rejected {count}: {reason}")
    for origin, message in summary.torn:
        print(f"  skipped a torn WARC record (a write cut short): {origin}: {message}")
    for origin, message in summary.failed[:20]:
        print(f"  failed: {origin}: {message}")
    if len(summary.failed) > 20:
        print(f"  … and {len(summary.failed) - 20} more failures")


def cmd_crawl(args: argparse.Namespace) -> int:
    """Crawl the given URLs or sources file, then print a summary."""
    from search_service.crawl.engine import CrawlBusy, CrawlOptions, run_crawl
    from search_service.crawl.sources import load_sources, sources_from_urls

    if bool(args.urls) == bool(args.sources):
        raise CommandError("give start URLs or --sources FILE (one of the two)")
    sources = (load_sources(args.sources) if args.sources
               else sources_from_urls(args.urls, args.max_depth, args.max_pages))
    overrides = dict(_setting(text) for text in args.settings)
    if args.delay is not None:
        overrides.setdefault("DOWNLOAD_DELAY", args.delay)
        overrides.setdefault("AUTOTHROTTLE_START_DELAY", args.delay)
    options = CrawlOptions(
        index_dir=args.index, archive_dir=args.archive or config.default_archive_dir(args.index),
        contact=args.contact, user_agent=args.user_agent, progress=not args.no_progress,
        watch=args.watch, overrides=overrides)
    _start_metrics(args)
    if args.redis:
        return _crawl_worker(args, sources, options)
    if args.idle_exit is not None or args.worker_id:
        raise CommandError("--idle-exit and --worker-id need --redis")
    ix = open_index(args.index, create=True)
    try:
        summary = run_crawl(sources, options)
    except CrawlBusy as exc:
        raise CommandError(str(exc)) from None
    print_crawl_summary(summary)
    refresh_related(ix)
    stopped_watching = args.watch and summary.finish_reason == "shutdown"
    return 0 if summary.finish_reason == "finished" or stopped_watching else 1


def _crawl_worker(args: argparse.Namespace, sources, options) -> int:
    """Run one worker of a scaled-out crawl; print what it did."""
    import redis

    from search_service.crawl.scaleout.frontier import WorkerIdBusy, default_worker_id
    from search_service.crawl.scaleout.worker import WorkerOptions, run_worker

    if args.watch:
        raise CommandError("with --redis a worker keeps polling unless --idle-exit is given; "
                           "--watch is not needed")
    worker = WorkerOptions(redis_url=args.redis, worker_id=args.worker_id or default_worker_id(),
                           idle_exit=args.idle_exit, lease_seconds=args.lease, crawl=options)
    try:
        summary = run_worker(sources, worker)
    except (WorkerIdBusy, redis.RedisError) as exc:
        raise CommandError(str(exc)) from None
    print(f"worker {worker.worker_id}: ", end="")
    print_crawl_summary(summary)
    done = summary.finish_reason == "finished" or (args.idle_exit is None
                                                    and summary.finish_reason == "shutdown")
    return 0 if done else 1


def cmd_index_worker(args: argparse.Namespace) -> int:
    """Index articles from the crawl workers' Redis stream until stopped or idle."""
    import redis

    from search_service.crawl.scaleout.frontier import connect
    from search_service.crawl.scaleout.indexer import IndexerBusy, IndexWorker

    try:
        memory.configure()  # before the metrics and related-articles threads start
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    _start_metrics(args)
    refresher = None
    try:
        server = connect(args.redis)
        worker = IndexWorker(server, args.index, batch=args.batch, interval=args.interval,
                             lease_seconds=args.lease)
        if args.related_every > 0:
            refresher = related.Refresher(worker.writer.ix, args.related_every,
                                          on_refresh=lambda: _related_lag(refresher))
        summary = worker.run(idle_exit=args.idle_exit,
                             on_commit=refresher and (lambda _: _related_commit(refresher)))
    except (IndexerBusy, redis.RedisError) as exc:
        raise CommandError(str(exc)) from None
    finally:
        if refresher is not None:
            refresher.close()
    if worker.writer.ix.doc_count():
        refresh_related(worker.writer.ix)
    print(f"{summary.committed} articles committed in {summary.commits} commits, "
          f"{summary.seconds:.1f}s ({summary.reclaimed} taken back from a stopped indexer)")
    return 0


def _setting(text: str) -> tuple[str, object]:
    """Parse NAME=VALUE for --set (numbers become numbers)."""
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise CommandError(f"--set needs NAME=VALUE, got {text!r}")
    for kind in (int, float):
        try:
            return name, kind(value)
        except ValueError:
            pass
    return name, value


def print_crawl_summary(summary) -> None:
    """Print what a crawl did: fetched, indexed, rejected, refused, errors, per source."""
    print(f"{summary.fetched} responses in {summary.seconds:.1f}s: {summary.archived} articles "
          f"archived, {summary.indexed} indexed, {sum(summary.rejected.values())} rejected, "
          f"{sum(summary.refused.values())} refused, {sum(summary.errors.values())} errors "
          f"({summary.finish_reason})")
    if summary.recovered:
        print(f"  {summary.recovered} indexed from the archive (archived before the last "
              "crawl was killed, not yet indexed)")
    if summary.unchanged or summary.fresh:
        print(f"  {summary.unchanged} unchanged since the last crawl (304 or sitemap lastmod), "
              f"{summary.fresh} fetched recently (not due)")
    if summary.cached:
        print(f"  {summary.cached} hub pages, feeds and sitemaps read from the cache (fetched "
              "within half the re-crawl interval)")
    if summary.cut:
        print(f"  {summary.cut} cut at the size limit (kept up to the limit)")
    for label, counts in (("rejected", summary.rejected), ("refused", summary.refused),
                          ("error", summary.errors)):
        for reason, count in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
            print(f"  {label} {count}: {reason}")
    for name, counts in sorted(summary.sources.items()):
        shown = ", ".join(f"{k} {v}" for k, v in sorted(counts.items()) if ":" not in k)
        print(f"  source {name}: {shown}")


def cmd_reindex(args: argparse.Namespace) -> int:
    """Rebuild the index from the archive, with progress, and print a summary."""
    archive = args.archive or config.default_archive_dir(args.index)
    collections = _collections(args)
    with tqdm(desc="Reindexing", unit=" pages", file=sys.stderr, mininterval=0.5) as bar:
        summary = reindex(args.index, archive, batch=args.batch, batch_mb=args.batch_mb,
                          on_page=bar.update,
                          collections=collections,
                          on_stage=lambda line: bar.write(line.capitalize() + " …",
                                                          file=sys.stderr))
    print_summary(summary)
    return 1 if summary.failed else 0


def cmd_extract(args: argparse.Namespace) -> int:
    """Print the normaliser's output for each page."""
    files = expand(check_paths(args.paths))
    failed = 0
    for item in extract_pages(read_pages(files, base_url=args.url)):
        if isinstance(item, PageError) and item.torn:
            continue  # a WARC write cut short: warned about, not a page
        if isinstance(item, PageError):
            failed += 1
            print(f"news-search extract: {item.origin}: {item.message}", file=sys.stderr)
            continue
        page, extraction = item
        data = {"origin": page.origin, **extraction.article.to_json(),
                "rejected": extraction.rejected, "short": extraction.short}
        if args.json:
            print(json.dumps(data, ensure_ascii=False))
        else:
            print_extraction(data)
    return 1 if failed else 0


def print_extraction(data: dict) -> None:
    """Print one extraction for people: the fields, then the body."""
    for key in ("origin", "url", "canonical_url", "title", "published", "published_source",
                "modified", "authors", "source", "language", "rejected", "short"):
        value = data[key]
        if isinstance(value, list):
            value = ", ".join(value)
        print(f"{key:>14}: {value if value not in (None, '') else '-'}")
    print()
    print(data["body"])
    print("\n" + "-" * 72)


def cmd_serve(args: argparse.Namespace) -> int:
    """Serve the app (waitress; one or more worker processes) until interrupted."""
    _serve(args)
    return 0


def _serve(args: argparse.Namespace) -> None:
    """Run `serving.serve` with the serving options of `args`."""
    from search_service.serving import ServeError, serve

    try:
        serve(args.index, args.host, args.port, args.threads, _app_settings(args),
              trusted_proxy=args.trusted_proxy, workers=args.workers, grace=args.grace,
              ready_timeout=args.ready_timeout)
    except ServeError as exc:
        raise CommandError(str(exc)) from None


def _app_settings(args: argparse.Namespace) -> dict:
    """The app settings given on the command line (the rest come from the environment)."""
    settings: dict = {}
    if args.cors_origins:
        settings["CORS_ORIGINS"] = tuple(args.cors_origins)
    if args.max_depth:
        settings["MAX_DEPTH"] = args.max_depth
    if args.search_slots is not None:
        settings["SEARCH_SLOTS"] = args.search_slots
    return settings


def cmd_demo(args: argparse.Namespace) -> int:
    """Index the bundled sample if the index is empty, then serve."""
    if not config.SAMPLE_WARC.exists():
        raise CommandError(f"the bundled sample is missing: {config.SAMPLE_WARC}")
    ix = open_index(args.index, create=True)
    with ix.searcher() as searcher:
        count = searcher.doc_count()
    if count == 0:
        print(f"Indexing the bundled sample ({config.SAMPLE_WARC.name}) into {args.index} …",
              flush=True)
        sample_sources = config.SAMPLE_WARC.with_name(SAMPLE_SOURCES)
        print_summary(_ingest_with_progress(ix, [config.SAMPLE_WARC], collections=Collections(
            by_domain=collections_by_host(load_sources(sample_sources)))))
    else:
        print(f"{args.index} already holds {count} articles; serving them.", flush=True)
    # Built while the server starts: related lists use more_like until the file appears.
    threading.Thread(target=refresh_related, args=(ix,), daemon=True,
                     name="related-sidecar").start()
    _serve(args)
    return 0


def cmd_delete(args: argparse.Namespace) -> int:
    """Delete articles by URL; exit 1 if none of them was in the index."""
    deleted = delete_urls(open_index(args.index), args.urls)
    print(f"deleted {deleted} article{'' if deleted == 1 else 's'}")
    return 0 if deleted else 1


def cmd_optimize(args: argparse.Namespace) -> int:
    """Merge the index into one segment, then refresh the related-articles sidecar."""
    ix = open_index(args.index)
    before = optimize(ix)
    print(f"merged {before} segment{'' if before == 1 else 's'} into 1")
    refresh_related(ix)
    return 0


def cmd_stats(args: argparse.Namespace) -> int:
    """Print the index's articles, segments, date range and articles per source, then each
    crawled source's last crawl (as text, or JSON with --json)."""
    stats = index_stats(open_index(args.index))
    first = stats.first_published.date().isoformat() if stats.first_published else None
    last = stats.last_published.date().isoformat() if stats.last_published else None
    crawled = crawl_report(load_source_stats(
        args.archive or config.default_archive_dir(args.index)))
    if args.json:
        data = {"articles": stats.articles, "first_published": first,
                "last_published": last, "sources": stats.sources}
        if crawled:
            data["crawl"] = crawled
        print(json.dumps(data, indent=2))
        return 0
    print(f"index:     {args.index}")
    print(f"articles:  {stats.articles}")
    print(f"segments:  {stats.segments}")
    print(f"published: {first or '-'} to {last or '-'}")
    print("sources:")
    for source, count in stats.sources.items():
        print(f"  {count:>8}  {source or '(unknown)'}")
    if crawled:
        print("crawl sources (last crawl):")
    for name, row in crawled.items():
        print(f"  {name}: {row['last_crawl']} ({row['finish_reason']}), "
              f"{row['indexed']} indexed, {row['dated_share']:.0%} with a date, "
              f"{row['rejected_share']:.0%} rejected, {row['unchanged']} unchanged, "
              f"{row['fresh']} not due, {row['cut']} cut at the size limit")
        for kind in ("rejected", "refused", "errors"):
            if row[kind]:
                shown = ", ".join(f"{reason} {n}" for reason, n in row[kind].items())
                print(f"    {kind}: {shown}")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    """Stream every matching story to a file or standard output; say how many on stderr."""
    from search_service import search

    try:
        params = _filter_params(args, args.query, sort=args.sort)
        with open_index(args.index).searcher() as searcher:
            rows = search.export_rows(searcher, params, body=args.body)
            counted = _Counting(rows)
            out = (args.out.open("w", encoding="utf-8", newline="") if args.out
                   else sys.stdout)
            try:
                for chunk in search.serialise(counted, args.format, body=args.body):
                    out.write(chunk)
            finally:
                if args.out:
                    out.close()
    except search.QueryError as exc:
        raise CommandError(str(exc)) from None
    print(f"exported {counted.count} stor{'y' if counted.count == 1 else 'ies'}"
          + (f" to {args.out}" if args.out else ""), file=sys.stderr)
    return 0


class _Counting:
    """Pass rows through, counting them."""

    def __init__(self, rows):
        self.rows, self.count = rows, 0

    def __iter__(self):
        for row in self.rows:
            self.count += 1
            yield row


def _research(args: argparse.Namespace, command, query: str = "") -> dict:
    """Run a research view (timeline, compare, terms) over the index with the filters of
    `args`; a bad query or filter is a CommandError."""
    from search_service import search

    try:
        params = _filter_params(args, query)
        with open_index(args.index).searcher() as searcher:
            return command(searcher, params)
    except search.QueryError as exc:
        raise CommandError(str(exc)) from None


def cmd_timeline(args: argparse.Namespace) -> int:
    """Print the stories matching a query per bucket, all stories and the share."""
    from search_service import search

    data = _research(args, lambda s, p: search.timeline(s, p, args.interval), args.query)
    if args.json:
        print(json.dumps(data, indent=2))
        return 0
    print(f"{data['total']:,} stories match {data['query']!r}, per {data['interval']}"
          + (f" ({data['undated']:,} without a date)" if data["undated"] else ""))
    print(f"{'from':<12}{'matching':>10}{'all':>10}{'share':>9}")
    for b in data["buckets"]:
        print(f"{b['start']:<12}{b['count']:>10,}{b['total']:>10,}{b['share']:>9.2%}")
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    """Print each query's total, timeline, top sources and top stories."""
    from search_service import search

    data = _research(args, lambda s, p: search.compare(s, p, args.queries, args.interval))
    if args.json:
        print(json.dumps(data, indent=2))
        return 0
    queries = data["queries"]
    for q in queries:
        print(f"{q['total']:>10,}  {q['query']}")
    if queries and queries[0]["timeline"]:
        print(f"\nmatching stories per {data['interval']}:")
        print(f"{'from':<12}" + "".join(f"{q['query'][:12]:>14}" for q in queries))
        for i, b in enumerate(queries[0]["timeline"]):
            print(f"{b['start']:<12}" + "".join(
                f"{q['timeline'][i]['count']:>7,} {q['timeline'][i]['share']:>6.1%}"
                for q in queries))
    for q in queries:
        print(f"\n{q['query']}: top sources")
        for row in q["sources"]:
            print(f"  {row['count']:>8,}  {row['source']}")
        print(f"{q['query']}: top stories")
        for r in q["results"]:
            print(f"  {(r['published'] or '')[:10]:<10}  {r['title']}  ({r['source']})")
    return 0


def cmd_terms(args: argparse.Namespace) -> int:
    """Print the words and phrases unusually frequent in a query's matches."""
    from search_service import search

    data = _research(args, lambda s, p: search.terms(s, p, args.limit), args.query)
    if args.json:
        print(json.dumps(data, indent=2))
        return 0
    sample = (f"a sample of {data['sampled']:,} of " if data["sampled"] < data["matches"]
              else "")
    print(f"terms of {sample}{data['matches']:,} stories matching {data['query']!r} against "
          f"{data['background']:,} background stories ({data['statistic']} score):")
    print(f"{'score':>9}  {'matches':>8}  {'background':>10}  term")
    for t in data["terms"]:
        print(f"{t['score']:>9.3f}  {t['matches']:>8,}  {t['background']:>10,}  {t['term']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
