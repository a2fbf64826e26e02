"""The news spider: finds article URLs in pages, feeds and sitemaps of each source, and yields.

It only discovers and hands fetched article pages on as `FetchedPage` items; archiving and
indexing are the pipelines' jobs (see `pipelines.py`), politeness is Scrapy's and
`middlewares.py`'s.
"""

from __future__ import annotations

import email.utils
import io
import logging
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import feedparser
import lxml.etree
import scrapy
from scrapy import signals
from scrapy.exceptions import DontCloseSpider, IgnoreRequest
from scrapy.http import HtmlResponse, Response
from scrapy.linkextractors import LinkExtractor
from scrapy.spidermiddlewares.httperror import HttpError
from scrapy.utils.gz import gunzip
from scrapy.utils.sitemap import Sitemap
from twisted.python.failure import Failure

from search_service.archive.state import CrawlState, Fetched
from search_service.crawl.download import CUT, ConnectTimeoutError
from search_service.crawl.hubcache import HUB_CACHE
from search_service.crawl.metrics import EVENTS
from search_service.crawl.sources import Source
from search_service.urls import canonical_url, in_domains

log = logging.getLogger(__name__)

SITEMAP_NS = "http://www.sitemaps.org/schemas/sitemap/0.9"
NEWS_NS = "http://www.google.com/schemas/sitemap-news/0.9"


@dataclass
class FetchedPage:
    """One fetched article response, as received (body decoded from any transfer encoding)."""

    source: str
    url: str
    status: int
    headers: list[tuple[str, str]]
    body: bytes
    fetched_at: datetime
    outcome: str = ""
    cut: bool = False  # the body was cut at the size limit (DOWNLOAD_MAXSIZE)
    date_hint: str = ""  # a publication date from a news sitemap (W3C datetime), if any
    lease: str = ""  # its page's frontier lease, in a scaled-out crawl (scaleout.py)


class NewsSpider(scrapy.Spider):
    """Crawl the given sources: seeds, robots.txt sitemaps, feeds, links; yield article pages."""

    name = "news"

    def __init__(self, sources: list[Source], watch: bool = False, **kwargs: Any):
        super().__init__(**kwargs)
        self.sources = {s.name: s for s in sources}
        self.watch = watch
        self.polled: dict[str, float] = {}
        self.rounds: Counter = Counter()  # polling rounds of each source so far
        self.robots_sitemaps: dict[str, set[str]] = {s.name: set() for s in sources}
        self.requested: Counter = Counter()
        self.canonicals: set[str] = set()
        self.queued: set[str] = set()
        # feeds and sitemaps are fetched once per polling round (and again in the next one
        # with --watch); feeds that pages announce are remembered and polled like seeds
        self.polled_urls: dict[str, set[str]] = {s.name: set() for s in sources}
        self.found_feeds: dict[str, set[str]] = {s.name: set() for s in sources}
        self.links: dict[str, LinkExtractor] = {
            s.name: LinkExtractor(deny=[p.pattern for p in s.deny], canonicalize=False,
                                  unique=True)
            for s in sources
        }

    @classmethod
    def from_crawler(cls, crawler, *args: Any, **kwargs: Any) -> NewsSpider:
        """Build the spider and connect it to the crawler's signals."""
        spider = super().from_crawler(crawler, *args, **kwargs)
        crawler.signals.connect(spider.robots_parsed, signal=signals.robots_parsed)
        crawler.signals.connect(spider.item_failed, signal=signals.item_error)
        spider.history = CrawlState(Path(crawler.settings["NEWS_ARCHIVE_DIR"]))
        crawler.signals.connect(spider.history.close, signal=signals.spider_closed)
        if spider.watch:
            crawler.signals.connect(spider.idle, signal=signals.spider_idle)
        return spider

    async def start(self) -> AsyncIterator[scrapy.Request]:
        """Yield the seeds of every source."""
        for source in self.sources.values():
            for request in self.seed_requests(source):
                yield request

    def seed_requests(self, source: Source) -> Iterator[scrapy.Request]:
        """Yield a new round of `source`'s seeds: sitemaps (robots.txt's too), feeds, start
        pages; the page cap counts from here."""
        self.polled[source.name] = time.monotonic()
        self.rounds[source.name] += 1
        self.requested[source.name] = 0
        self.polled_urls[source.name] = set()
        seeds = ([(url, self.parse_sitemap) for url in source.sitemaps]
                 + [(url, self.parse_sitemap) for url in sorted(self.robots_sitemaps[source.name])]
                 + [(url, self.parse_feed) for url in source.feeds]
                 + [(url, self.parse_feed) for url in sorted(self.found_feeds[source.name])]
                 + [(url, self.parse_page) for url in source.start_urls])
        for url, callback in seeds:
            request = self.follow(source, url, callback, seed=True)
            if request is not None:
                yield request

    def idle(self) -> None:
        """With --watch: poll each source again once its re-crawl interval has passed (its
        feeds and sitemaps, given, named in robots.txt or announced by pages, and sitemaps
        of its sitemap indexes, and its start pages)."""
        now = time.monotonic()
        for source in self.sources.values():
            if now - self.polled.get(source.name, 0.0) >= source.recrawl_interval:
                log.info("polling %s again", source.name)
                for request in self.seed_requests(source):
                    self.crawler.engine.crawl(request)
        raise DontCloseSpider

    def follow(self, source: Source, url: str, callback, seed: bool = False,
               depth: int | None = None, lastmod: str = "",
               date_hint: str = "") -> scrapy.Request | None:
        """Make a request for `url` (canonicalised) within `source`'s limits, or None (also
        when it was fetched since its sitemap `lastmod`). Feeds and sitemaps are fetched once
        per polling round, other pages once per crawl. `date_hint`: a publication date from a
        news sitemap, for a page that states none."""
        url = canonical_url(url)
        if not seed and (not in_domains(url, source.allowed_domains) or source.is_denied(url)):
            return None
        poll = callback in (self.parse_feed, self.parse_sitemap)
        if not self.is_new(source, url, poll, seed):
            return None
        headers = {}
        known = self.known_copy(url) if callback == self.parse_page else None
        if known is not None:
            if time.time() - known.fetched_at < source.recrawl_interval:
                self.count(source, "fresh")
                return None  # archived and indexed recently: nothing to fetch
            if lastmod and parse_lastmod(lastmod) <= copy_date(known):
                self.count(source, "unchanged")  # the sitemap says so: no request needed
                return None
            if known.etag:
                headers["If-None-Match"] = known.etag
            if known.last_modified:
                headers["If-Modified-Since"] = known.last_modified
        if not self.claim(source, url, poll, seed):
            return None
        meta = {"source": source.name}
        if depth is not None:
            meta["depth"] = depth
        if date_hint:
            meta["date_hint"] = date_hint
        if self.rounds[source.name] == 1 and (poll or not source.is_article(url)):
            # a hub page, feed or sitemap: a crawl restarted within half the re-crawl interval
            # (after a kill, say) reads it from the HTTP cache; half, so that crawls run once
            # an interval still fetch it (later --watch rounds always fetch it)
            meta[HUB_CACHE] = source.recrawl_interval / 2
        return scrapy.Request(url, callback=callback, errback=self.failed, meta=meta,
                              headers=headers, dont_filter=seed or poll or self.claims_shared)

    def known_copy(self, url: str) -> Fetched | None:
        """What the crawl history knows of our copy of the page `url` (None: never fetched)."""
        return self.history.get(url)

    #: Whether `claim` is decided outside this process (then Scrapy's own filter is off).
    claims_shared = False

    def is_new(self, source: Source, url: str, poll: bool, seed: bool) -> bool:
        """Whether `url` is not queued yet: in this polling round for a feed or sitemap, in
        this crawl for a page (seeds always are)."""
        if poll:
            return url not in self.polled_urls[source.name]
        return seed or (url not in self.canonicals and url not in self.queued)

    def claim(self, source: Source, url: str, poll: bool, seed: bool) -> bool:
        """Take `url` for this crawl within the source's page cap (counting a refusal)."""
        if self.requested[source.name] >= source.max_pages:
            self.count(source, "refused", "page cap reached")
            return False
        self.requested[source.name] += 1
        (self.polled_urls[source.name] if poll else self.queued).add(url)
        return True

    def robots_parsed(self, robotparser, request: scrapy.Request) -> None:
        """Queue the sitemaps a site's robots.txt names (within the source's domains)."""
        source = self.sources.get(request.meta.get("source", ""))
        rules = getattr(robotparser, "rp", None)
        if source is None or rules is None:
            return
        for url in rules.sitemaps:
            if in_domains(url, source.allowed_domains):
                self.robots_sitemaps[source.name].add(canonical_url(url))
                follow = self.follow(source, url, self.parse_sitemap, depth=0)
                if follow is not None:
                    self.crawler.engine.crawl(follow)

    def parse_page(self, response: Response) -> Iterator[Any]:
        """Yield the page if it is an article, then its feeds and (within depth) its links."""
        source = self.source_of(response)
        if not isinstance(response, HtmlResponse):
            ctype = response.headers.get(b"Content-Type", b"").decode("latin-1") or "none"
            self.count(source, "refused", f"not HTML ({ctype.split(';')[0]})")
            return
        url = canonical_url(response.url)
        self.canonicals.add(url)
        declared = response.css('link[rel="canonical"]::attr(href)').get()
        if declared:
            declared = canonical_url(response.urljoin(declared))
            if declared != url and in_domains(declared, source.allowed_domains):
                if declared in self.canonicals:
                    self.count(source, "refused", "duplicate of its rel=canonical")
                    return
                self.canonicals.add(declared)
        if source.is_article(url):
            item = page_item(source, response)
            if item.cut:
                self.count(source, "cut")
            yield item
        for href in response.css('link[rel="alternate"][type*="rss"]::attr(href), '
                                 'link[rel="alternate"][type*="atom"]::attr(href)').getall():
            feed = canonical_url(response.urljoin(href))
            if in_domains(feed, source.allowed_domains) and not source.is_denied(feed):
                self.found_feeds[source.name].add(feed)
            request = self.follow(source, feed, self.parse_feed)
            if request is not None:
                yield request
        if response.meta.get("depth", 0) < source.max_depth:
            for link in self.links[source.name].extract_links(response):
                request = self.follow(source, link.url, self.parse_page)
                if request is not None:
                    yield request

    def parse_feed(self, response: Response) -> Iterator[scrapy.Request]:
        """Yield the entries of an RSS or Atom feed as pages to fetch."""
        source = self.source_of(response)
        feed = feedparser.parse(response.body)
        if feed.bozo:
            self.count(source, "errors", "malformed feed")
            log.warning("malformed feed %s: %s", response.url, feed.get("bozo_exception"))
        for entry in feed.entries:
            link = entry.get("link")
            if link:
                request = self.follow(source, response.urljoin(link), self.parse_page, depth=1)
                if request is not None:
                    yield request

    def parse_sitemap(self, response: Response) -> Iterator[scrapy.Request]:
        """Yield the pages of a sitemap (news sitemaps too) or the sitemaps of an index."""
        source = self.source_of(response)
        body = response.body
        if body[:2] == b"\x1f\x8b":
            try:
                body = gunzip(body, max_size=self.settings.getint("DOWNLOAD_MAXSIZE"))
            except (OSError, ValueError) as exc:
                self.count(source, "errors", "malformed sitemap")
                log.warning("cannot gunzip sitemap %s: %s", response.url, exc)
                return
        try:
            sitemap = Sitemap(body)
            entries = list(sitemap)
        except Exception as exc:  # lxml raises a zoo of errors on broken XML
            self.count(source, "errors", "malformed sitemap")
            log.warning("malformed sitemap %s: %s", response.url, exc)
            return
        if sitemap.type not in ("sitemapindex", "urlset") or not entries:
            self.count(source, "errors", "malformed sitemap")
            return
        callback = self.parse_sitemap if sitemap.type == "sitemapindex" else self.parse_page
        published = news_publication_dates(body) if sitemap.type == "urlset" else {}
        for entry in entries:
            if entry.get("loc"):
                request = self.follow(source, response.urljoin(entry["loc"]), callback, depth=1,
                                      lastmod=entry.get("lastmod", ""),
                                      date_hint=published.get(entry["loc"], ""))
                if request is not None:
                    yield request

    def failed(self, failure: Failure) -> None:
        """Count a request that failed or was refused, with the reason."""
        request = failure.request
        source = self.sources[request.meta["source"]]
        if isinstance(failure.value, HttpError) and failure.value.response.status == 304:
            self.history.touch(canonical_url(request.url))
            self.count(source, "unchanged")
            return
        kind, reason = classify_failure(failure)
        self.count(source, kind, reason)
        log.info("%s %s: %s", kind, request.url, reason)

    def item_failed(self, item: FetchedPage, failure: Failure) -> None:
        """Count a fetched page that a pipeline stage failed on (logged by Scrapy)."""
        self.count(self.sources[item.source], "errors",
                   f"processing failed ({type(failure.value).__name__})")

    def source_of(self, response: Response) -> Source:
        """Return the source a response was fetched for."""
        return self.sources[response.meta["source"]]

    def count(self, source: Source, kind: str, reason: str = "") -> None:
        """Count one event of `kind` ('refused', 'errors', …) with its reason."""
        count(self.crawler.stats, source.name, kind, reason)


def count(stats, source: str, kind: str, reason: str = "") -> None:
    """Count one event crawl-wide (stat news/KIND[/REASON]) and for its source (the Counter
    per source in stat news/sources: KIND, and 'KIND: REASON')."""
    stats.inc_value(f"news/{kind}/{reason}" if reason else f"news/{kind}")
    EVENTS.labels(kind, reason).inc()
    per_source = stats.get_value("news/sources")
    if per_source is None:
        per_source = {}
        stats.set_value("news/sources", per_source)
    counter = per_source.setdefault(source, Counter())
    counter[kind] += 1
    if reason:
        counter[f"{kind}: {reason}"] += 1


def parse_w3c_date(text: str) -> datetime | None:
    """Read a W3C datetime (`2024-03-01`, `2024-03-01T09:00:00Z`, …) as an aware datetime
    (UTC if it names no offset); None if it cannot be read."""
    try:
        when = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo is not None else when.replace(tzinfo=timezone.utc)


def copy_date(known: Fetched) -> float:
    """When the copy we have of a page was current, as a POSIX time: its Last-Modified (the
    site's clock, as the sitemap's lastmod is) where it sent one, else when we fetched it.
    Set against our fetch time, an edit made just after the site answered (while the response
    was on its way or waiting to be handled, or with our clock ahead of the site's) looked
    older than our copy, and the edit was never fetched."""
    if known.last_modified:
        try:
            when = email.utils.parsedate_to_datetime(known.last_modified)
        except (TypeError, ValueError):
            return known.fetched_at
        return (when if when.tzinfo else when.replace(tzinfo=timezone.utc)).timestamp()
    return known.fetched_at


def parse_lastmod(text: str) -> float:
    """Return a sitemap `lastmod` (W3C datetime) as a POSIX time; +inf if it cannot be read."""
    when = parse_w3c_date(text)
    return when.timestamp() if when is not None else float("inf")


def news_publication_dates(body: bytes) -> dict[str, str]:
    """Map each `<loc>` of a news sitemap to its `<news:publication_date>` (Scrapy's sitemap
    reader keeps only the top-level fields of a `<url>`)."""
    dates: dict[str, str] = {}
    try:
        for _, url in lxml.etree.iterparse(io.BytesIO(body), tag=f"{{{SITEMAP_NS}}}url",
                                           recover=True, resolve_entities=False,
                                           no_network=True, remove_comments=True):
            loc = url.findtext(f"{{{SITEMAP_NS}}}loc")
            published = url.findtext(f".//{{{NEWS_NS}}}publication_date")
            if loc and published and parse_w3c_date(published):
                dates[loc.strip()] = published.strip()
            url.clear()
    except lxml.etree.LxmlError as exc:
        log.info("cannot read news dates of a sitemap: %s", exc)
    return dates


def page_item(source: Source, response: Response) -> FetchedPage:
    """Make the item for a fetched article response."""
    headers = [(k.decode("latin-1"), v.decode("latin-1"))
               for k, values in response.headers.items() for v in values]
    return FetchedPage(source=source.name, url=response.url, status=response.status,
                       headers=headers, body=response.body,
                       fetched_at=datetime.now(timezone.utc), cut=CUT in response.flags,
                       date_hint=response.meta.get("date_hint", ""))


def classify_failure(failure: Failure) -> tuple[str, str]:
    """Return ('refused' or 'errors', reason) for a failed request."""
    exc = failure.value
    message = str(exc)
    if isinstance(exc, HttpError):
        return "errors", f"HTTP {exc.response.status}"
    if isinstance(exc, IgnoreRequest):
        if "robots.txt" in message:
            return "refused", "disallowed by robots.txt"
        if "redirect" in message.lower():
            return "refused", "too many redirects"
        if "size" in message.lower():
            return "refused", "too large"
        return "refused", message or "ignored"
    name = type(exc).__name__
    if isinstance(exc, ConnectTimeoutError):
        return "errors", "connect timeout"
    if "Timeout" in name or "timed out" in message.lower():
        return "errors", "read timeout"
    if name == "DownloadCancelledError":
        return "refused", "too large"  # the downloader cancels at DOWNLOAD_MAXSIZE
    if "Refused" in name:
        return "errors", "connection refused"
    return "errors", name
