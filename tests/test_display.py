"""Relative dates and safe link targets (search_service/web/display.py)."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from search_service.web.display import relative_time, web_url

NOW = datetime(2023, 7, 15, 12, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize("moment, expected", [
    ("2023-07-15T11:59:30+00:00", "just now"),
    ("2023-07-15T12:00:20+00:00", "just now"),
    ("2023-07-15T11:59:00+00:00", "1 minute ago"),
    ("2023-07-15T11:15:00+00:00", "45 minutes ago"),
    ("2023-07-15T11:00:00+00:00", "1 hour ago"),
    ("2023-07-15T00:30:00+00:00", "11 hours ago"),
    ("2023-07-14T12:00:00+00:00", "1 day ago"),
    ("2023-07-12T09:00:00+00:00", "3 days ago"),
    ("2023-07-12T14:00:00+02:00", "3 days ago"),
    ("2023-07-12T09:00:00", "3 days ago"),
    ("2023-06-15T12:00:00+00:00", "1 month ago"),
    ("2023-01-01T00:00:00+00:00", "6 months ago"),
    ("2022-07-15T12:00:00+00:00", "1 year ago"),
    ("1987-02-26T15:01:01+00:00", "36 years ago"),
    ("2023-07-15T14:30:00+00:00", "in 2 hours"),
    ("2023-07-18T12:00:00+00:00", "in 3 days"),
])
def test_relative_time(moment, expected):
    assert relative_time(moment, NOW) == expected


@pytest.mark.parametrize("url, expected", [
    ("https://news.example/a?b=1", "https://news.example/a?b=1"),
    ("http://news.example/", "http://news.example/"),
    ("HTTPS://News.example/", "HTTPS://News.example/"),
    ("javascript:alert(1)", None),
    (" javascript:alert(1)", None),
    ("java\tscript:alert(1)", None),
    ("JaVaScRiPt:alert(1)", None),
    ("data:text/html,<script>alert(1)</script>", None),
    ("vbscript:msgbox(1)", None),
    ("//news.example/a", None),
    ("/relative/path", None),
    ("https:///no-host", None),
    ("http://[::1", None),
    ("", None),
    (None, None),
])
def test_web_url_keeps_only_http_addresses(url, expected):
    assert web_url(url) == expected
