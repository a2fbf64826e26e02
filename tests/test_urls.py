"""The URL and host rules of search_service.urls, and the naive-UTC rule of the schema."""

from datetime import datetime, timedelta, timezone

import pytest

from search_service.index.schema import naive_utc
from search_service.urls import declared_canonical, host_of, site_of


@pytest.mark.parametrize("url, host, site", [
    ("https://www.Example.com/a", "www.example.com", "example.com"),
    ("https://news.example.com:8080/a", "news.example.com", "news.example.com"),
    ("https://wwwexample.com/", "wwwexample.com", "wwwexample.com"),
    ("file:///tmp/page.html", "", ""),
    ("http://[::1/broken", "", ""),  # cannot be split: no host rather than an exception
])
def test_host_keeps_www_and_site_drops_it(url, host, site):
    assert host_of(url) == host
    assert site_of(url) == site


@pytest.mark.parametrize("declared, url, expected", [
    ("", "https://a.example/x", "https://a.example/x"),
    ("/story?id=1", "https://a.example/x", "https://a.example/story?id=1"),
    ("https://b.example/Story#top", "https://a.example/x", "https://b.example/Story#top"),
    ("javascript:void(0)", "https://a.example/x", "https://a.example/x"),
    ("http://[::1/broken", "https://a.example/x", "https://a.example/x"),
])
def test_declared_canonical_is_resolved_but_kept_as_written(declared, url, expected):
    assert declared_canonical(declared, url) == expected


def test_naive_utc_converts_aware_and_keeps_naive_as_utc():
    paris = timezone(timedelta(hours=2))
    assert naive_utc(datetime(2024, 5, 1, 12, 0, tzinfo=paris)) == datetime(2024, 5, 1, 10, 0)
    assert naive_utc(datetime(2024, 5, 1, 12, 0)) == datetime(2024, 5, 1, 12, 0)
    assert naive_utc(None) is None
