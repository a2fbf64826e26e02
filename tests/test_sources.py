"""Crawl sources (the TOML format), URL canonicalisation, Retry-After parsing, the archive."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from search_service.archive.files import Page, PageError, read_pages
from search_service.archive.warc import WarcArchive, archive_files
from search_service.crawl.middlewares import retry_after_seconds
from search_service.crawl.sources import (
    SourceError,
    load_sources,
    parse_interval,
    sources_from_urls,
)
from search_service.urls import canonical_url

EXAMPLE = """
[[source]]
name = "Harbour Times"
start_urls = ["https://harbour.example/"]
feeds = ["https://harbour.example/feed.rss"]
sitemaps = ["https://harbour.example/sitemap.xml"]
allowed_domains = ["harbour.example"]
allow = ['/news/\\d{4}/']
deny = ['/calendar/', '\\?page=\\d{3,}']
max_depth = 2
max_pages = 500
recrawl_interval = "30m"

[[source]]
name = "Wire"
feeds = ["https://WIRE.example:443/rss?utm_source=x"]
"""


@pytest.mark.parametrize("url, expected", [
    ("HTTP://News.Example.COM:80/a/b?z=1&utm_source=rss&a=2#top",
     "http://news.example.com/a/b?a=2&z=1"),
    ("https://news.example:443", "https://news.example/"),
    ("http://news.example:8080/x?fbclid=abc&gclid=def", "http://news.example:8080/x"),
    ("https://news.example/story?id=7&utm_medium=web&UTM_Campaign=q",
     "https://news.example/story?id=7"),
    ("https://news.example/a%7eb/c d", "https://news.example/a~b/c%20d"),
])
def test_canonical_url(url, expected):
    assert canonical_url(url) == expected


def test_load_sources_reads_every_field(tmp_path):
    path = tmp_path / "sources.toml"
    path.write_text(EXAMPLE)
    harbour, wire = load_sources(path)
    assert harbour.name == "Harbour Times"
    assert harbour.seeds() == ("https://harbour.example/", "https://harbour.example/feed.rss",
                               "https://harbour.example/sitemap.xml")
    assert (harbour.max_depth, harbour.max_pages, harbour.recrawl_interval) == (2, 500, 1800.0)
    assert harbour.is_article("https://harbour.example/news/2024/03/story")
    assert not harbour.is_article("https://harbour.example/world/")
    assert harbour.is_denied("https://harbour.example/calendar/2024/01/01")
    assert harbour.is_denied("https://harbour.example/world/?page=120")
    assert wire.feeds == ("https://wire.example/rss",)
    assert wire.allowed_domains == ("wire.example",)
    assert wire.is_article("https://wire.example/anything")  # no allow patterns: every page


@pytest.mark.parametrize("text, message", [
    ("", "no [[source]] tables"),
    ("[[source]]\nname = 'x'\n", "give at least one of start_urls, feeds, sitemaps"),
    ("[[source]]\nstart_urls = ['https://a.example/']\n", "'name' is required"),
    ("[[source]]\nname = 'x'\nfeeds = ['feed.rss']\n", "not an http(s) URL: 'feed.rss'"),
    ("[[source]]\nname = 'x'\nfeeds = ['https://a.example/']\nmax_depth = -1\n",
     "'max_depth' must be an integer >= 0"),
    ("[[source]]\nname = 'x'\nfeeds = ['https://a.example/']\ndeny = ['(']\n",
     "bad pattern in 'deny'"),
    ("[[source]]\nname = 'x'\nfeeds = ['https://a.example/']\nfeed = []\n",
     "unknown keys: feed"),
    ("[[source]]\nname = 'x'\nfeeds = ['https://a.example/']\n"
     "[[source]]\nname = 'x'\nfeeds = ['https://b.example/']\n", "duplicate source names: x"),
    ("[[source]\n", "not valid TOML"),
])
def test_load_sources_rejects_mistakes_clearly(tmp_path, text, message):
    path = tmp_path / "sources.toml"
    path.write_text(text)
    with pytest.raises(SourceError) as error:
        load_sources(path)
    assert message in str(error.value)


def test_sources_from_urls_groups_by_host():
    a, b = sources_from_urls(["https://a.example/x", "https://a.example/y#f",
                              "http://b.example/"], max_depth=1, max_pages=9)
    assert (a.name, a.start_urls, a.max_depth, a.max_pages) == (
        "a.example", ("https://a.example/x", "https://a.example/y"), 1, 9)
    assert b.allowed_domains == ("b.example",)


@pytest.mark.parametrize("value, seconds", [(90, 90.0), ("90s", 90.0), ("30m", 1800.0),
                                            ("6h", 21600.0), ("1d", 86400.0)])
def test_parse_interval(value, seconds):
    assert parse_interval(value) == seconds


def test_retry_after_seconds():
    now = datetime(2024, 3, 1, 12, 0, 0, tzinfo=timezone.utc)
    assert retry_after_seconds("7") == 7.0
    assert retry_after_seconds("Fri, 01 Mar 2024 12:00:30 GMT", now) == 30.0
    assert retry_after_seconds("soon") is None
    assert retry_after_seconds(None) is None


def test_archive_rotates_and_reads_back(tmp_path):
    when = datetime(2024, 3, 1, 12, 0, tzinfo=timezone.utc)
    with WarcArchive(tmp_path, rotate_bytes=1) as archive:
        for n in range(3):
            archive.write_response(f"https://a.example/{n}", 200, "OK",
                                   [("Content-Type", "text/html"), ("Content-Encoding", "gzip")],
                                   f"<html>page {n}</html>".encode(), when)
    files = archive_files(tmp_path)
    assert len(files) == 3  # one record a file at this tiny rotation size
    pages = list(read_pages(files))
    assert [(p.url, p.html, p.fetched_at) for p in pages] == [
        (f"https://a.example/{n}", f"<html>page {n}</html>".encode(), when) for n in range(3)]


def test_archive_torn_last_record_is_reported_not_fatal(tmp_path):
    with WarcArchive(tmp_path) as archive:
        for n in range(2):
            archive.write_response(f"https://a.example/{n}", 200, "OK",
                                   [("Content-Type", "text/html")], b"<p>x</p>" * 500)
    (path,) = archive_files(tmp_path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 200])  # a crawl killed mid-write
    items = list(read_pages([path]))
    assert isinstance(items[0], Page) and items[0].url == "https://a.example/0"
    assert len(items) == 2 and isinstance(items[1], PageError)


def test_articles_archived_but_not_committed_are_indexed_from_the_archive(tmp_path):
    from search_service.archive.state import Archived, CrawlState
    from search_service.crawl.recovery import index_pending
    from search_service.index.schema import open_index
    from tests.support.news_site import article_html

    archive_dir, index_dir = tmp_path / "archive", tmp_path / "ix"
    state = CrawlState(archive_dir)
    with WarcArchive(archive_dir) as archive:
        for n, hint in ((1, ""), (2, "2024-02-20T08:00:00Z")):
            url = f"https://harbour.example/news/story-{n}"
            html = article_html(f"/news/story-{n}", f"topic {n}", n, dated=not hint)
            path, offset = archive.write_response(url, 200, "OK", [("ETag", f'"v{n}"')],
                                                  html.encode(), date_hint=hint)
            state.archived(Archived(url, "Harbour", 1700000000.0 + n, f'"v{n}"', "", str(path),
                                    offset))
    # a third was archived, then the crawl was killed mid-write: its record is torn
    state.archived(Archived("https://harbour.example/news/story-3", "Harbour", 1.0, "", "",
                            str(path), path.stat().st_size + 10))
    assert index_pending(index_dir, archive_dir) == {
        "Harbour": {"indexed": 2, "recovered": 2, "dated": 2}}
    with open_index(index_dir).searcher() as searcher:
        published = {f["url"]: f["published"] for f in searcher.all_stored_fields()}
    assert published == {"https://harbour.example/news/story-1": datetime(2024, 3, 1, 9, 0),
                         "https://harbour.example/news/story-2": datetime(2024, 2, 20, 8, 0)}
    assert state.pending() == []  # the torn one is left to be fetched again
    assert state.get("https://harbour.example/news/story-2").etag == '"v2"'
    assert state.get("https://harbour.example/news/story-3") is None
    assert index_pending(index_dir, archive_dir) == {}  # nothing twice
    state.close()
