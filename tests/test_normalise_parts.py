"""The normaliser's parts: charsets, dates, authors, language and page kinds, on small pages."""

from __future__ import annotations

from datetime import date, datetime, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from search_service.normalise import normalise
from search_service.normalise.dates import date_in_url, day_in_text, parse_local, relative_date
from search_service.normalise.encoding import (
    FURNITURE,
    NOISE,
    clean_text,
    decode_html,
    drop_furniture,
    drop_noise,
)
from search_service.normalise.metadata import clean_author, split_authors

FETCHED = datetime(2024, 6, 10, 12, 0, tzinfo=timezone.utc)
STORY = "".join(
    f"<p>Paragraph {n} of the story tells what the council decided about the harbour, "
    f"the ferries and the fishermen who work there, in some detail.</p>" for n in range(6))


def page(head: str = "", body: str = STORY, lang: str = "en") -> str:
    """A small article page with `head` markup and `body` inside <article>."""
    return (f'<html lang="{lang}"><head><title>Harbour vote | Courier</title>{head}</head>'
            f"<body><nav><a href='/'>Home</a></nav><article><h1>Harbour vote</h1>{body}"
            "</article></body></html>")


# Charsets

@pytest.mark.parametrize("raw, expected", [
    ("Café déjà vu".encode("utf-8-sig"), "Café déjà vu"),
    ("Café".encode("utf-16"), "Café"),
    (b'<meta charset="windows-1252"><p>Caf\xe9 \x93quoted\x94</p>',
     '<meta charset="windows-1252"><p>Café “quoted”</p>'),
    (b'<meta charset="utf-8"><p>Caf\xe9 au lait</p>', '<meta charset="utf-8"><p>Café au lait</p>'),
    ("<p>Ελληνικά κείμενα για την πόλη και το λιμάνι της</p>".encode("iso-8859-7"),
     "<p>Ελληνικά κείμενα για την πόλη και το λιμάνι της</p>"),
])
def test_decode_html_uses_bom_declaration_or_detection(raw, expected):
    assert decode_html(raw) == expected


def test_http_charset_comes_before_the_meta_declaration():
    raw = '<meta charset="utf-8"><p>Привет</p>'.encode("koi8-r")
    assert decode_html(raw, http_charset="koi8-r") == '<meta charset="utf-8"><p>Привет</p>'


def test_clean_text_normalises_and_drops_invisible_characters():
    assert clean_text("Cafe\u0301  soft\u00adhyphen\u200b zero  width ") == (
        "Café softhyphen zero width")


def test_entities_are_decoded_once():
    html = page(body=STORY + "<p>AT&amp;amp;T said &lt;b&gt; is a tag &amp; more.</p>")
    assert "AT&amp;T said <b> is a tag & more." in normalise(html, "https://x.example/a",
                                                              FETCHED).article.body


# Dates

@pytest.mark.parametrize("text, expected", [
    ("vor 2 Stunden", datetime(2024, 6, 10, 10, 0, tzinfo=timezone.utc)),
    ("il y a 3 jours", datetime(2024, 6, 7, 12, 0, tzinfo=timezone.utc)),
    ("hace 5 minutos", datetime(2024, 6, 10, 11, 55, tzinfo=timezone.utc)),
    ("Updated 4 hours ago", datetime(2024, 6, 10, 8, 0, tzinfo=timezone.utc)),
    ("yesterday-ish", None),
])
def test_relative_dates_count_back_from_the_fetch(text, expected):
    assert relative_date(text, FETCHED) == expected


@pytest.mark.parametrize("text, expected", [
    ("Publié le 3 mars 2024 à 10h", date(2024, 3, 3)),
    ("Veröffentlicht am 14. Mai 2024", date(2024, 5, 14)),
    ("10 de julio de 2023", date(2023, 7, 10)),
    ("Posted June 2nd, 2024", date(2024, 6, 2)),
    ("2024년 5월 9일", date(2024, 5, 9)),
    ("2024年5月9日 10:00", date(2024, 5, 9)),
    ("تم نشره الجمعة 24 نيسان / أبريل 2020", date(2020, 4, 24)),
    ("Опубликовано 5 марта 2024", date(2024, 3, 5)),
    ("22/11/2020 - 04:30", date(2020, 11, 22)),
    ("no date here 2024", None),
    ("Party, 30.10.23", date(2023, 10, 30)),
    ("Version 1.2.34", None),
])
def test_days_in_text_in_many_languages(text, expected):
    found = day_in_text(text)
    assert (found.date() if found else None) == expected


@pytest.mark.parametrize("url, expected", [
    ("https://x.example/2024/03/14/story/", date(2024, 3, 14)),
    ("https://x.example/news/20240314/story", date(2024, 3, 14)),
    ("https://x.example/2031/01/01/from-the-future/", None),
    ("https://x.example/1985/01/01/too-old/", None),
    ("https://x.example/story-12345", None),
    ("https://x.example/home/2017/7/12/story", date(2017, 7, 12)),
    ("https://x.example/2017/7/123456", None),
])
def test_dates_in_url_paths(url, expected):
    found = date_in_url(url, FETCHED)
    assert (found.date() if found else None) == expected


def test_published_and_modified_stay_apart_with_their_sources():
    head = ('<meta property="article:published_time" content="2024-06-01T08:00:00+02:00">'
            '<meta property="article:modified_time" content="2024-06-02T09:30:00+02:00">')
    result = normalise(page(head), "https://x.example/a", FETCHED)
    assert result.article.published == datetime(2024, 6, 1, 6, 0, tzinfo=timezone.utc)
    assert result.article.modified == datetime(2024, 6, 2, 7, 30, tzinfo=timezone.utc)
    assert (result.published.source, result.modified.source) == ("meta", "meta")
    assert result.published.value.utcoffset().total_seconds() == 7200  # as the page wrote it


def test_a_date_after_the_fetch_is_never_returned():
    head = ('<script type="application/ld+json">{"@type": "NewsArticle", "headline": "H",'
            '"datePublished": "2030-01-01T00:00:00Z"}</script>')
    result = normalise(page(head), "https://x.example/2031/01/01/a", FETCHED)
    assert result.article.published is None and result.published is None


def test_url_day_wins_over_a_later_build_time():
    head = '<meta property="article:published_time" content="2024-06-09T23:59:00Z">'
    result = normalise(page(head), "https://x.example/2024/05/02/story", FETCHED)
    assert (result.published.source, result.published.day) == ("url", date(2024, 5, 2))


def test_utc_timestamp_takes_the_local_day_the_page_shows():
    head = '<meta property="article:published_time" content="2024-04-14T00:38:07Z">'
    body = '<div class="timestamp">Monday Apr 13, 2024 at 4:38 PM</div>' + STORY
    result = normalise(page(head, body), "https://x.example/a", FETCHED)
    assert result.published.day == date(2024, 4, 13)
    assert result.article.published == datetime(2024, 4, 14, 0, 38, 7, tzinfo=timezone.utc)


def test_dateline_text_is_the_last_resort():
    body = "<p class='meta'>Posted on 3 June 2024</p>" + STORY
    result = normalise(page(body=body), "https://x.example/a", FETCHED)
    assert (result.published.source, result.published.day) == ("text", date(2024, 6, 3))


# Authors

@pytest.mark.parametrize("raw, expected", [
    ("By Jane Doe, Senior Reporter", ["Jane Doe"]),
    ("Ana Lima and Rui Costa", ["Ana Lima", "Rui Costa"]),
    ("Von Max Muster | Redaktion", ["Max Muster"]),
    ("Par Claire Dubois et Marc Petit", ["Claire Dubois", "Marc Petit"]),
    ("Jane Doe (@janedoe)", ["Jane Doe"]),
    ("https://x.example/people/jane-doe", []),
    ("jane@x.example", []),
    ("Jane Doe, jane doe", ["Jane Doe"]),
    ("Staff", []),
])
def test_authors_are_names_only(raw, expected):
    assert split_authors(raw) == expected


def test_clean_author_drops_role_suffixes():
    assert clean_author("Maria Chen - Political Correspondent") == "Maria Chen"


def test_json_ld_person_names_are_cleaned_and_deduplicated():
    head = ('<script type="application/ld+json">{"@type": "NewsArticle", "headline": "H", '
            '"author": [{"@type": "Person", "name": "By Ola Nordmann"}, '
            '{"@type": "Person", "name": "ola nordmann"}, {"@type": "Person", '
            '"name": "Kari Holm, Staff Writer"}]}</script>')
    assert normalise(page(head), "https://x.example/a", FETCHED).article.authors == (
        "Ola Nordmann", "Kari Holm")


# Language

def test_markup_language_is_kept_when_the_text_agrees():
    assert normalise(page(lang="en-GB"), "https://x.example/a", FETCHED).article.language == "en"


def test_language_comes_from_the_text_when_markup_is_missing():
    body = ("<p>Der Stadtrat hat am Dienstag beschlossen, neue Radwege durch die Innenstadt zu "
            "bauen, und die Kosten trägt zum größten Teil das Land.</p><p>Der Fahrradclub "
            "begrüßte die Entscheidung, forderte aber, die Wege breiter zu planen als bisher "
            "vorgesehen.</p><p>Geschäftsleute sorgen sich dagegen um Parkplätze.</p>")
    assert normalise(page(body=body, lang=""), "https://x.example/a",
                     FETCHED).article.language == "de"


# Page kinds

def test_error_page_is_rejected():
    html = ("<html><head><title>Page not found | Courier</title></head><body><h1>Page not found"
            "</h1><p>Sorry, we could not find that page. Try the search.</p></body></html>")
    assert normalise(html, "https://x.example/nope", FETCHED).rejected.startswith("error page")


def test_paywall_stub_is_rejected():
    head = ('<script type="application/ld+json">{"@type": "NewsArticle", "headline": "Harbour '
            'vote", "isAccessibleForFree": false}</script>')
    body = ("<p>The council voted on the harbour plan on Tuesday evening after a long debate "
            "about ferries, fishermen and the future of the old pier, and the result was a surprise"
            " to many.</p><div class='paywall'><p>Subscribe to read the full story.</p></div>")
    result = normalise(page(head, body), "https://x.example/a", FETCHED)
    assert result.rejected.startswith("paywall stub")


def test_gallery_without_text_is_rejected():
    body = "".join(f"<figure><img src='/{n}.jpg'><figcaption>Photo {n}</figcaption></figure>"
                   for n in range(8))
    result = normalise(page(body=body), "https://x.example/gallery/a", FETCHED)
    assert result.rejected.startswith("gallery without text")


def test_tag_listing_is_rejected():
    body = "".join(f"<h2><a href='/{n}'>Headline number {n} about the harbour</a></h2>"
                   for n in range(12))
    result = normalise(page(body=body), "https://x.example/tag/harbour", FETCHED)
    assert result.rejected == "listing page (12 headline links, 0 chars of story text)"


def test_a_long_story_is_not_rejected_for_its_related_links():
    related = "".join(f"<h3><a href='/{n}'>Related headline {n}</a></h3>" for n in range(4))
    result = normalise(page(body=STORY + related), "https://x.example/a", FETCHED)
    assert result.rejected is None and "Related headline" not in result.article.body


def test_json_ld_article_body_stands_in_when_the_page_shows_no_text():
    story = "The council voted for the new timetable on Tuesday evening. " * 6
    head = ('<script type="application/ld+json">{"@type": "NewsArticle", "headline": "H", '
            f'"articleBody": "{story.strip()}\\nIt takes effect in May."}}</script>')
    html = page(head, body="<div id='app'></div>")
    assert normalise(html, "https://x.example/a", FETCHED).article.body == (
        story.strip() + "\n\nIt takes effect in May.")


def test_a_truncated_json_ld_article_body_is_not_used():
    head = ('<script type="application/ld+json">{"@type": "NewsArticle", "headline": "H", '
            f'"articleBody": "{"The council voted. " * 20}…"}}</script>')
    result = normalise(page(head, body="<div id='app'></div>"), "https://x.example/a", FETCHED)
    assert result.article.body == "" and result.rejected is not None


def test_a_stamp_written_by_a_script_is_the_very_last_resort():
    body = '<p><script>showDate("2024/04/17 01:43:09")</script></p>' + STORY
    result = normalise(page(body=body), "https://x.example/a", FETCHED)
    assert (result.published.source, result.published.day) == ("text", date(2024, 4, 17))


def test_no_date_anywhere_gives_none():
    result = normalise(page(), "https://x.example/a", FETCHED)
    assert result.published is None and result.article.published is None


def test_a_bare_time_element_is_a_time_source():
    body = '<time datetime="2024-05-01T10:00:00+02:00">1 May</time>' + STORY
    result = normalise(page(body=body), "https://x.example/a", FETCHED)
    assert (result.published.source, result.published.value.isoformat()) == (
        "time", "2024-05-01T10:00:00+02:00")


def test_a_short_story_with_many_related_headlines_is_not_a_listing():
    related = "".join(f"<h3><a href='/{n}'>Related headline number {n}</a></h3>" for n in range(15))
    html = page(body=STORY) .replace("</article>", "</article><div class='more'>" + related
                                      + "</div>")
    result = normalise(html, "https://x.example/a", FETCHED)
    assert result.rejected is None


def test_a_login_widget_in_the_header_does_not_make_a_paywall_stub():
    html = page(body=STORY).replace(
        "<nav>", "<div class='paywall-header-wrap'><a href='/login'>Log in</a></div><nav>")
    assert normalise(html, "https://x.example/a", FETCHED).rejected is None


@pytest.mark.parametrize("text, expected", [
    # a named month dateutil does not know: our patterns read the day written
    ("Dienstag, 01. Februar 2022 12:10", date(2022, 2, 1)),
    ("page revision: 8, last edited: 17 Jun 2018 15:15", date(2018, 6, 17)),
    # numbers only: dateutil's month-first reading stays
    ("11/01/2023 12:43:42", date(2023, 11, 1)),
])
def test_loose_dates_with_a_time_of_day(text, expected):
    found = parse_local(text, FETCHED)
    assert (found.date() if found else None) == expected


# The pre-parse scanners do exactly what the patterns they replace say

MARKUP_PIECES = st.sampled_from([
    "<!--", "-->", "<![CDATA[", "]]>", "<script>", "<SCRIPT type='x'>", "</script>",
    "</script >", "<scripts>", "<style>", "</style>", "<textarea>", "</textarea>", "<nav>",
    "<NAV class='a'>", "</nav>", "</nav >", "<navx>", "<aside>", "</aside>", "<footer>",
    "</footer>", "<button>", "</button>", "<p>", "</p>", "text", " ", "\n", ">", "<",
])


@given(st.lists(MARKUP_PIECES, max_size=30).map("".join))
@settings(max_examples=400, deadline=None)
def test_noise_and_furniture_scanners_match_their_patterns(html):
    assert drop_noise(html) == NOISE.sub(" ", html)
    assert drop_furniture(html) == FURNITURE.sub(" ", html)


def test_furniture_scanner_stays_linear_on_unclosed_elements():
    html = "<nav>" * 20_000 + "story " * 1000
    assert drop_furniture(html) == html
