"""The normaliser on fixture pages modelled on the seed article."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from search_service.normalise import normalise
from search_service.normalise.dates import parse_date
from search_service.normalise.text import strip_stray_quote
from tests.support.paths import FIXTURES, PAGES, SEED_URL

TITLE = "NATO and Ukraine: The Debate Over Military Involvement and Security Guarantees"
FETCHED = datetime(2023, 7, 11, tzinfo=timezone.utc)
SEED_BODY = (PAGES / "seed_body.txt").read_text(encoding="utf-8").strip()
FURNITURE = ["No time to read?", "Get a summary", "Previous Article", "Next Article",
             "River Plate", "Kazakhstan Banks", "Share on", "Sign up", "Related stories",
             "By Marta", "All rights reserved", "Northern Dispatch", "Home"]


def extract(name: str, url: str = ""):
    """Normalise one fixture page."""
    return normalise((PAGES / name).read_bytes(), url, FETCHED)


def test_seed_page_with_json_ld_gives_every_field():
    result = extract("seed_jsonld.html", SEED_URL + "?utm_source=feed")
    assert result.rejected is None
    assert result.article.to_json() == {
        "url": SEED_URL + "?utm_source=feed",
        "canonical_url": SEED_URL,
        "title": TITLE,
        "body": SEED_BODY,
        "published": "2023-07-10T06:30:00+00:00",
        "modified": "2023-07-10T10:05:00+00:00",
        "authors": ["Marta Kowalska", "Jonas Petrauskas"],
        "source": "Northern Dispatch",
        "language": "en",
        "summary": SEED_BODY[:300].rsplit(" ", 1)[0] + "…",
        "fetched_at": "2023-07-11T00:00:00+00:00",
        "published_source": "jsonld",
    }


def test_seed_page_with_meta_tags_only():
    result = extract("seed_meta.html", "https://balticwire.example/2023/07/nato-ukraine?ref=x")
    article = result.article
    assert result.rejected is None
    assert (article.title, article.source, article.language) == (TITLE, "Baltic Wire", "en")
    assert article.canonical_url == "https://balticwire.example/2023/07/nato-ukraine"
    assert article.published == datetime(2023, 7, 10, 6, 15, tzinfo=timezone.utc)
    assert article.authors == ("Baltic Wire staff",)
    assert article.summary.startswith("Former NATO chief Rasmussen")
    assert article.body == SEED_BODY


@pytest.mark.parametrize("name", ["seed_jsonld.html", "seed_meta.html"])
@pytest.mark.parametrize("furniture", FURNITURE)
def test_furniture_is_dropped(name, furniture):
    assert furniture not in extract(name).article.body


def test_stray_closing_quote_is_dropped_but_balanced_quotes_stay():
    assert strip_stray_quote("the efforts.”") == "the efforts."
    assert strip_stray_quote("he said “no.”") == "he said “no.”"
    assert strip_stray_quote('he said "no."') == 'he said "no."'


def test_listing_page_is_rejected_with_a_reason():
    result = extract("section_front.html", "https://dispatch.example/world")
    assert result.rejected == "listing page (3 headline links, 33 chars of story text)"


def test_markup_in_text_stays_text():
    article = extract("hostile.html").article
    assert article.title == "Oil & gas: <script>alert(1)</script> prices"
    assert article.source == "Hostile <b>Herald</b>"
    assert article.authors == ("<img src=x onerror=alert(2)>",)


def test_page_without_url_uses_canonical():
    assert extract("hostile.html").article.url == "https://hostile.example/news/oil-gas"


@pytest.mark.parametrize("raw, expected", [
    ("2023-07-10T08:30:00+02:00", datetime(2023, 7, 10, 6, 30, tzinfo=timezone.utc)),
    ("2023-07-10", datetime(2023, 7, 10, tzinfo=timezone.utc)),
    ("10 July 2023", datetime(2023, 7, 10, tzinfo=timezone.utc)),
    ("2031-01-01T00:00:00Z", None),  # after the fetch: not a publication date
    ("1800-01-01", None),
    ("not a date", None),
    ("", None),
])
def test_parse_date(raw, expected):
    assert parse_date(raw, not_after=FETCHED) == expected


def test_json_ld_in_array_and_author_string():
    html = """<html><head><script type="application/ld+json">
    [{"@type": "Organization", "name": "X"},
     {"@type": ["ReportageNewsArticle"], "headline": "Flood waters recede in the valley",
      "datePublished": "2022-03-01", "author": "Ana Lima and Rui Costa"}]
    </script></head><body><article><p>""" + "The river fell overnight. " * 12 + """</p>
    </article></body></html>"""
    article = normalise(html, "https://news.example/flood", FETCHED).article
    assert article.title == "Flood waters recede in the valley"
    assert article.authors == ("Ana Lima", "Rui Costa")
    assert article.published == datetime(2022, 3, 1, tzinfo=timezone.utc)
    assert article.source == "news.example"


def test_garbage_input_gives_a_rejection_not_an_exception():
    result = normalise(b"\x00\xff\xfe garbage <<<>>>", "https://x.example/", FETCHED)
    assert result.rejected == "no title"


#: Pages modelled on common news layouts, with their exact expected fields (kept apart from
#: pages/, which the ingest and search tests index).
GOLDEN = FIXTURES / "golden"


def golden(name: str, url: str):
    """Normalise one golden page."""
    return normalise((GOLDEN / name).read_bytes(), url, FETCHED)


@pytest.mark.parametrize("name", ["wordpress", "arc_jsonld", "amp"])
def test_golden_page_gives_exactly_the_expected_fields(name):
    expected = json.loads((GOLDEN / f"{name}.json").read_text(encoding="utf-8"))
    result = normalise((GOLDEN / f"{name}.html").read_bytes(), expected["url"],
                       datetime.fromisoformat(expected["fetched_at"]))
    assert result.article.to_json() == expected["article"]
    assert result.rejected == expected["rejected"]
    assert (result.published.source, result.published.day.isoformat()) == (
        expected["published_from"], expected["published_day"])
    assert (result.modified.source if result.modified else None) == expected["modified_from"]


def test_wordpress_page_keeps_lists_headings_quotes_and_drops_furniture():
    body = golden("wordpress.html", "https://coastalcourier.example/?p=4812").article.body
    for kept in ["What changes for passengers", "A 05:45 sailing from Westpoint on weekdays.",
                 "The timetable is a fair compromise"]:
        assert kept in body
    for dropped in ["Share this", "Related", "Pier repairs", "About time!", "Leave a Reply",
                    "Recent Posts", "Photo: Tom Hale", "Posted on", "Proudly powered",
                    "Previous Post"]:
        assert dropped not in body


def test_arc_page_prefers_the_full_headline_and_cleans_authors():
    article = golden("arc_jsonld.html", "https://www.valleyledger.example/x").article
    assert article.title == "Storm knocks out power to 40,000 homes across the valley"
    assert article.authors == ("Dana Whitfield", "Luis Ortega")
    assert "Advertisement" not in article.body and "Read more" not in article.body
    assert "morning briefing" not in article.body and "Most read" not in article.body


def test_amp_page_resolves_a_relative_date_and_corrects_the_language():
    fetched = datetime(2024, 5, 7, 14, 30, tzinfo=timezone.utc)
    result = normalise((GOLDEN / "amp.html").read_bytes(), "https://stadtanzeiger.example/amp/x",
                       fetched)
    assert result.article.published == datetime(2024, 5, 7, 12, 30, tzinfo=timezone.utc)
    assert result.published.source == "text"
    assert result.article.language == "de"  # the markup says "en", the text is German
    assert "Anzeige" not in result.article.body and "Foto:" not in result.article.body
