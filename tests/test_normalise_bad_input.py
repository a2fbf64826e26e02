"""Bad input never escapes the normaliser: every page gives an Extraction in bounded time."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from search_service.normalise import Extraction, normalise
from tests.support.hostile import BAD_PAGES, prose
from tests.support.paths import PAGES

FETCHED = datetime(2024, 6, 10, tzinfo=timezone.utc)
#: CPU seconds any one page may take here (a lone run takes a fraction). CPU time, not wall
#: time: other test workers sharing the cores stretch the wall clock, not the work done.
TIME_LIMIT = 20.0


def check(html: bytes | str, url: str = "https://x.example/a") -> Extraction:
    """Normalise `html`, asserting it gave an Extraction in time and a reason if rejected."""
    start = time.process_time()
    result = normalise(html, url, FETCHED)
    assert time.process_time() - start < TIME_LIMIT
    assert isinstance(result, Extraction)
    assert result.rejected is None or result.rejected.strip()
    # The last-resort guard in normalise() must not be what saved us: that would be a bug.
    assert not (result.rejected or "").startswith("unreadable page")
    # Indexed with little text only as a declared article, and then flagged short.
    assert result.rejected is not None or len(result.article.body) >= 200 or result.short
    assert result.short == (result.rejected is None and 0 < len(result.article.body) < 200)
    return result


@pytest.mark.parametrize("name", BAD_PAGES)
def test_bad_page_gives_an_extraction(name):
    check(BAD_PAGES[name])


def test_fifty_megabyte_page_is_cut_and_still_read():
    block = "<div class='story'>" + prose(10, 4) + "</div>\n"
    html = ("<html><head><title>Big page</title></head><body>"
            + block * (50_000_000 // len(block)) + "</body></html>").encode()
    assert len(html) >= 50_000_000 - len(block)
    result = check(html)
    assert result.rejected is None and result.article.title == "Big page"


def test_fixture_pages_survive_being_cut_anywhere():
    html = (PAGES / "seed_jsonld.html").read_bytes()
    for cut in range(0, len(html), max(1, len(html) // 40)):
        check(html[:cut])


markup = st.lists(st.sampled_from([
    "<p>", "</p>", "<div class='content'>", "</div>", "<article>", "</article>", "<h1>", "</h1>",
    "<a href='/x'>", "</a>", "<br>", "<script>", "</script>", "<!--", "-->", "<li>", "<table>",
    "<td>", "&amp;", "&#xD800;", "&#0;", "\x00", "\ufeff", "<meta charset='utf-16'>",
    "<time datetime='2024-02-30'>", "<title>", "</title>", "<nav class='menu'>", "</nav>",
    '<script type="application/ld+json">{"@type":"NewsArticle","headline":',
    "Harbour council votes on the ferry timetable. ", "Le conseil a voté. ", "港口 ",
]), max_size=80).map("".join)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=3000))
def test_random_bytes_give_an_extraction(raw):
    check(raw)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(markup, st.text(max_size=40))
def test_random_markup_gives_an_extraction(html, url):
    check(html, url)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_mutated_fixture_pages_give_an_extraction(data):
    html = bytearray((PAGES / "seed_meta.html").read_bytes())
    for _ in range(data.draw(st.integers(1, 20))):
        position = data.draw(st.integers(0, len(html) - 1))
        action = data.draw(st.sampled_from(["flip", "delete", "insert"]))
        if action == "flip":
            html[position] = data.draw(st.integers(0, 255))
        elif action == "delete":
            del html[position:position + data.draw(st.integers(1, 200))]
        else:
            html[position:position] = data.draw(st.sampled_from(
                [b"<div>", b"</p>", b"<!--", b"<script>", b"\xff\xfe", b"&#", b"<"]))
    check(bytes(html))


@settings(max_examples=60, deadline=None)
@given(st.datetimes(min_value=datetime(1980, 1, 1), max_value=datetime(2040, 1, 1),
                    timezones=st.sampled_from([timezone.utc, timezone(timedelta(hours=9)),
                                               timezone(timedelta(hours=-7))])),
       st.sampled_from(["article:published_time", "article:modified_time", "date"]))
def test_no_date_after_the_fetch_is_ever_returned(stamp, name):
    html = (f'<html><head><meta property="{name}" content="{stamp.isoformat()}"></head><body>'
            f"<p>Posted {stamp:%d %B %Y}</p>{prose(13, 3)}</body></html>")
    result = normalise(html, f"https://x.example/{stamp:%Y/%m/%d}/a", FETCHED)
    for value in (result.article.published, result.article.modified):
        assert value is None or value <= FETCHED
