"""Bad input never escapes the normaliser: every page gives an Extraction in bounded time."""

from __future__ import annotations

import random
import time
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from search_service.normalise import Extraction, normalise
from tests.conftest import PAGES

FETCHED = datetime(2024, 6, 10, tzinfo=timezone.utc)
#: Seconds any one page may take here (the machine is shared; a lone run takes a fraction).
TIME_LIMIT = 20.0
WORDS = "harbour council ferry vote pier timetable crew island morning report".split()


def prose(seed: int, paragraphs: int) -> str:
    """Varied paragraphs of plain words (repeated lines would be dropped as duplicates)."""
    rng = random.Random(seed)
    return "".join("<p>" + " ".join(rng.choice(WORDS) for _ in range(40)) + ".</p>"
                   for _ in range(paragraphs))


def check(html: bytes | str, url: str = "https://x.example/a") -> Extraction:
    """Normalise `html`, asserting it gave an Extraction in time and a reason if rejected."""
    start = time.perf_counter()
    result = normalise(html, url, FETCHED)
    assert time.perf_counter() - start < TIME_LIMIT
    assert isinstance(result, Extraction)
    assert result.rejected is None or result.rejected.strip()
    # The last-resort guard in normalise() must not be what saved us: that would be a bug.
    assert not (result.rejected or "").startswith("unreadable page")
    assert result.rejected is not None or len(result.article.body) >= 200
    return result


BAD_PAGES = {
    "empty": b"",
    "whitespace": b"  \n\t ",
    "binary": bytes(random.Random(1).randrange(256) for _ in range(200_000)),
    "nul bytes in markup": b"<html>\x00<body>\x00<p>\x00text</p></body></html>",
    "truncated": ("<html><head><title>Cut</title></head><body><article>" + prose(1, 8))[:-41],
    "only scripts": "<html><head><script>" + "var a = 1;" * 50_000 + "</script></head>"
                    "<body><script>run()</script><noscript>Enable JS</noscript></body></html>",
    "unclosed comment": "<html><body><!-- " + prose(2, 50),
    "unclosed script": "<html><body><p>Start</p><script>" + "x" * 100_000,
    "deep divs": "<html><body>" + "<div>" * 10_000 + prose(3, 3) + "</div>" * 10_000,
    "100,000 deep divs": "<html><body>" + "<div>" * 100_000 + prose(12, 3) + "</div>" * 100_000,
    "deep spans": "<html><body><p>" + "<span>" * 10_000 + "deep " * 100 + "</span>" * 10_000,
    "unclosed furniture": "<html><body>" + "<nav><button><aside>x " * 30_000 + prose(11, 3),
    "deep tables": "<html><body>" + "<table><tr><td>" * 3_000 + prose(4, 2),
    "deep JSON-LD": '<html><head><script type="application/ld+json">' + "[" * 50_000
                    + "]" * 50_000 + "</script></head><body>" + prose(5, 3) + "</body></html>",
    "broken JSON-LD": '<html><head><script type="application/ld+json">{"@type": "NewsArticle",'
                      ' "headline": </script></head><body>' + prose(6, 3) + "</body></html>",
    "many attributes": "<html><body><div " + " ".join(f'a{n}="v"' for n in range(50_000))
                       + ">" + prose(7, 3) + "</div></body></html>",
    "bad date strings": '<html><head><meta property="article:published_time" content="'
                        + "9" * 60 + '"><meta name="date" content="31/02/2024 25:61">'
                        '</head><body><time datetime="-1">x</time>' + prose(8, 3),
    "odd canonical": '<html><head><link rel="canonical" href="http://[::1"><title>T</title>'
                     "</head><body>" + prose(9, 3),
    "utf-16 without BOM": "<html><body><p>Wide text</p></body></html>".encode("utf-16-le"),
    "wrong declared charset": '<meta charset="no-such-charset"><p>Caf\xe9</p>'.encode("latin-1"),
}


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
