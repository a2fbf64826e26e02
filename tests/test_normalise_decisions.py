"""The normaliser's decisions that must generalise: article or not by what the page is, the
headline a reader sees, text kept across parser differences, and dates with provenance."""

from __future__ import annotations

import json
from datetime import date, datetime, timezone

import pytest

from search_service.article import DATE_SOURCES
from search_service.normalise import normalise
from search_service.normalise.dates import DateEvidence, FoundDate, decide
from search_service.normalise.encoding import strip_foreign
from search_service.normalise.titles import choose_title

FETCHED = datetime(2024, 6, 10, 12, 0, tzinfo=timezone.utc)
STORY = "".join(
    f"<p>Paragraph {n} of the story tells what the council decided about the harbour, "
    f"the ferries and the fishermen who work there, in some detail.</p>" for n in range(6))
BRIEF = ("The central bank raised its main rate by a quarter point to 4.5 pct on Tuesday, "
         "citing a weaker currency.")


def stamp(text: str, source: str) -> FoundDate:
    """A found date from an ISO string."""
    return FoundDate(datetime.fromisoformat(text), source)


# Text a browser shows is not lost to a parser difference

def test_unclosed_svg_in_the_headline_keeps_the_story():
    html = ("<html><head><title>Harbour vote</title></head><body><article>"
            "<h1>Harbour vote<svg/onload=alert(1)></h1>" + STORY + "</article></body></html>")
    plain = html.replace("<svg/onload=alert(1)>", "")
    result = normalise(html, "https://x.example/a", FETCHED)
    assert result.rejected is None
    assert result.article.title == "Harbour vote"
    assert result.article.body == normalise(plain, "https://x.example/a", FETCHED).article.body
    assert "Paragraph 5 of the story" in result.article.body


@pytest.mark.parametrize("markup, expected", [
    ("a<svg viewBox='0 0 1 1'><path d='M0'/><text>icon</text></svg>b", "a b"),
    ("a<math><mi>x</mi></math>b", "a b"),
    ("<h1>Head<svg/onload=x></h1><p>Story</p>", "<h1>Head </h1><p>Story</p>"),
    ("<p>One<svg><g><path/></g><div>Two</div>", "<p>One <div>Two</div>"),
    ("x<svg><foreignObject><div>in</div></foreignObject></svg>y", "x y"),
    ("tail<svg><path/>", "tail "),
])
def test_foreign_content_ends_where_a_browser_ends_it(markup, expected):
    assert strip_foreign(markup) == expected


# Article or not, by what the page is

def wire_page(head: str = "", container: str = "article", dated: bool = True) -> str:
    """A two-line wire story: headline, <time>, one short paragraph."""
    when = '<time datetime="1987-03-03T10:05:00">March 3, 1987</time>' if dated else ""
    return (f"<html><head><title>Bank raises rate</title>{head}</head><body>"
            f"<{container}><h1>Bank raises rate</h1>{when}<p>{BRIEF}</p></{container}>"
            "</body></html>")


def test_a_wire_brief_that_is_an_article_is_indexed_and_flagged_short():
    result = normalise(wire_page(), "https://wire.example/story/1", FETCHED)
    assert (result.rejected, result.short) == (None, True)
    assert result.article.body == BRIEF
    assert (result.article.published_source, result.published.day) == ("time", date(1987, 3, 3))


def test_a_json_ld_news_article_is_indexed_however_short():
    head = ('<script type="application/ld+json">{"@type": "NewsArticle", '
            '"headline": "Bank raises rate"}</script>')
    result = normalise(wire_page(head, container="div", dated=False),
                       "https://wire.example/story/2", FETCHED)
    assert (result.rejected, result.short) == (None, True)


def test_short_text_on_a_page_that_does_not_declare_an_article_is_rejected():
    result = normalise(wire_page(container="div", dated=False).replace("<h1>", "<h2>")
                       .replace("</h1>", "</h2>"), "https://wire.example/x", FETCHED)
    assert result.rejected == f"too little text ({len(BRIEF)} chars, need 200)"
    assert result.short is False


def test_a_gallery_with_a_story_is_an_article_and_one_without_is_not():
    images = "".join(f"<img src='/p{n}.jpg'>" for n in range(8))
    caption = "<p>The harbour festival drew thousands on Saturday despite the rain.</p>"
    story = ('<meta property="og:type" content="article">'
             '<meta property="article:published_time" content="2024-06-01T08:00:00Z">')
    gallery = '<script type="application/ld+json">{"@type": "ImageGallery"}</script>'
    body = f"<body><div><h1>Festival</h1>{images}{caption}</div></body>"
    with_story = normalise(f"<html><head>{story}</head>{body}</html>",
                           "https://x.example/gallery/festival", FETCHED)
    without = normalise(f"<html><head>{gallery}</head>{body}</html>",
                        "https://x.example/gallery/festival", FETCHED)
    assert (with_story.rejected, with_story.short) == (None, True)
    assert without.rejected.startswith("gallery without text")


def test_a_listing_that_calls_itself_an_article_is_still_a_listing():
    links = "".join(f"<h3><a href='/s/{n}'>Story number {n} about the harbour</a></h3>"
                    for n in range(12))
    html = ('<html><head><meta property="og:type" content="article"></head>'
            f"<body><h1>Latest news</h1>{links}</body></html>")
    result = normalise(html, "https://x.example/latest", FETCHED)
    assert result.rejected.startswith("listing page (12 headline links")


# Titles

@pytest.mark.parametrize("titles, h1, html_title, site, url, expected", [
    (["Harbour vote passes | Courier"], "", "", "Courier", "https://courier.example/a",
     "Harbour vote passes"),
    ([], "", "Daily Planet - Harbour vote passes", "", "https://www.dailyplanet.example/a",
     "Harbour vote passes"),
    (["Harbour vote passes after a long…"], "Harbour vote passes after a long night", "",
     "", "https://x.example/a", "Harbour vote passes after a long night"),
    (["Harbour vote passes – The Courier"], "The Courier", "", "The Courier",
     "https://x.example/a", "Harbour vote passes"),
    (["harbour VOTE passes"], "Harbour vote passes", "", "", "https://x.example/a",
     "Harbour vote passes"),
    (["Harbour vote passes - Local news - Courier"], "Harbour vote passes", "", "Courier",
     "https://x.example/a", "Harbour vote passes"),
    (["Brexit: what happens next"], "", "", "Courier", "https://courier.example/a",
     "Brexit: what happens next"),
    ([], "Harbour vote passes", "Courier", "", "https://x.example/a", "Harbour vote passes"),
    ([], "", "Harbour vote passes | Courier", "", "https://x.example/a", "Harbour vote passes"),
    # a blog's masthead in the <h1>, its name after the headline
    (["Ferry timetable changes again - Island Notes"], "Island Notes", "", "",
     "https://blog.example/p/1", "Ferry timetable changes again"),
    # a declared site name that is the whole title names nothing
    (["Ferry timetable changes again - Island Notes"], "", "",
     "Ferry timetable changes again - Island Notes", "https://x.example/a",
     "Ferry timetable changes again - Island Notes"),
    # the <h1>'s markup lost the separator the metadata keeps
    (["Westpoint | Ferry timetable changes"], "Westpoint Ferry timetable changes", "", "",
     "https://x.example/a", "Westpoint | Ferry timetable changes"),
    # a short headline before the site's name is the headline, not a name
    (["Ferry delayed — Island Notes and Harbour News"], "Ferry delayed", "", "",
     "https://x.example/a", "Ferry delayed"),
])
def test_title_is_the_headline_a_reader_sees(titles, h1, html_title, site, url, expected):
    assert choose_title(titles, h1, html_title, site, url) == expected


@pytest.mark.parametrize("h1s, html_title, url, expected", [
    # a masthead <h1> (the site's host name), then the headline's
    (["Islandnotes", "Ferry timetable changes again"],
     "Ferry timetable changes again | Islandnotes", "https://islandnotes.example/p/1",
     "Ferry timetable changes again"),
    # a breadcrumb <h1>; the headline is the <h1> the <title> names
    (["You are here:", "Ferry timetable changes again"],
     "Harbour - Ferry timetable changes again", "https://x.example/p/1",
     "Ferry timetable changes again"),
    # the blog's name as the <title>'s last part is not the headline
    (["Island Notes", "Ferry timetable changes again"],
     "Ferry timetable changes again - Island Notes", "https://x.example/p/1",
     "Ferry timetable changes again"),
    # a headline that is the <title>'s first part with a shorter site name after it stays
    (["The First Decade"], "The First Decade | Verfassung", "https://x.example/p/1",
     "The First Decade"),
    # one <h1> that the <title> does not name: still the headline a reader sees
    (["Ferry timetable changes again"], "Island Notes", "https://x.example/p/1",
     "Ferry timetable changes again"),
])
def test_title_without_metadata_reconciles_the_h1s_with_the_title(h1s, html_title, url,
                                                                    expected):
    assert choose_title([], h1s[0], html_title, "", url, h1s) == expected
    html = (f"<html><head><title>{html_title}</title></head><body>"
            + "".join(f"<h1>{h}</h1>" for h in h1s) + f"{STORY}</body></html>")
    assert normalise(html, url, FETCHED).article.title == expected


def test_title_from_a_page_drops_the_site_name_of_og_title():
    head = ('<meta property="og:title" content="Harbour vote passes | The Courier">'
            '<meta property="og:site_name" content="The Courier">')
    html = f"<html><head>{head}</head><body><article>{STORY}</article></body></html>"
    assert normalise(html, "https://x.example/a", FETCHED).article.title == "Harbour vote passes"


# Dates: our candidates, htmldate's day, and where the date came from

def test_htmldate_fills_a_date_our_own_rules_miss_and_is_named_as_the_source():
    html = f"<html><head><title>Vote</title><meta name='created' content='2024-05-07'>" \
           f"</head><body><article><h1>Vote</h1>{STORY}</article></body></html>"
    result = normalise(html, "https://x.example/vote", FETCHED)
    assert result.evidence.own is None and result.evidence.consulted
    assert (result.published.source, result.published.day) == ("htmldate", date(2024, 5, 7))
    assert result.article.published_source == "htmldate"


def test_htmldate_is_asked_again_on_the_raw_page_when_our_markup_lost_the_date():
    # the date is in a comment, which our noise stripping removes before htmldate sees it
    html = f"<html><head><title>Vote</title><!-- 07/05/2024 --></head><body><article>" \
           f"<h1>Vote</h1>{STORY}</article></body></html>"
    result = normalise(html, "https://x.example/vote", FETCHED)
    assert (result.published.source, result.published.day) == ("htmldate", date(2024, 5, 7))


def test_htmldate_first_of_january_is_a_year_alone_and_not_taken_unsupported():
    alone = DateEvidence(None, (), library=date(2020, 1, 1), consulted=True)
    assert decide(alone) is None
    backed = DateEvidence(None, (stamp("2020-01-01T09:00:00+00:00", "meta"),),
                          library=date(2020, 1, 1), consulted=True)
    assert decide(backed).source == "meta"
    assert decide(DateEvidence(None, (), library=date(2020, 1, 2), consulted=True)).source \
        == "htmldate"


@pytest.mark.parametrize("line, expected", [
    ("12.01.2022", date(2022, 1, 12)),                      # the day the page shows: later
    ("Mittwoch, 12.01.2022 - 14:30", date(2022, 1, 12)),
    ("Aktualisiert: 12.01.2022, 10:27", date(2021, 11, 29)),  # an update, not the publication
    ("Updated Jan 12, 2022", date(2021, 11, 29)),
    ("Am 12. Januar 2022 findet die nächste Messe in Rostock statt", date(2021, 11, 29)),
    ("28.11.2021", date(2021, 11, 29)),                     # earlier than the metadata: kept
])
def test_a_date_line_beside_the_headline_later_than_the_metadata_is_the_day_shown(line,
                                                                                    expected):
    head = '<meta property="article:published_time" content="2021-11-29T14:13:37+00:00">'
    html = f"<html><head><title>Fish</title>{head}</head><body><article><h1>Fish feel " \
           f"pain</h1><p class='x'>{line}</p>{STORY}</article></body></html>"
    result = normalise(html, "https://x.example/fish", FETCHED)
    assert result.published.day == expected
    if expected == date(2022, 1, 12):
        assert result.published.source == "text" and not result.evidence.consulted


def test_htmldate_is_not_asked_when_the_page_agrees_with_itself():
    head = ('<meta property="article:published_time" content="2024-06-01T08:00:00+02:00">'
            '<script type="application/ld+json">{"@type": "NewsArticle", "headline": "Vote", '
            '"datePublished": "2024-06-01T06:00:00Z"}</script>')
    html = f"<html><head>{head}</head><body><article><h1>Vote</h1>{STORY}</article></body></html>"
    result = normalise(html, "https://x.example/vote", FETCHED)
    assert result.evidence.consulted is False
    assert (result.published.source, result.published.day) == ("jsonld", date(2024, 6, 1))


def test_a_utc_stamp_takes_the_local_day_of_the_same_instant_with_an_offset():
    head = ('<script type="application/ld+json">{"@type": "NewsArticle", "headline": "Vote", '
            '"datePublished": "2019-10-18T22:04:00Z"}</script>'
            '<meta name="date" content="Sat, 19 Oct 2019 00:04:00 +0200">')
    html = f"<html><head>{head}</head><body><article><h1>Vote</h1>{STORY}</article></body></html>"
    result = normalise(html, "https://x.example/vote", FETCHED)
    assert result.published.day == date(2019, 10, 19)
    assert result.article.published == datetime(2019, 10, 18, 22, 4, tzinfo=timezone.utc)


OWN = stamp("2024-03-01T10:00:00+00:00", "jsonld")
LATER = stamp("2024-03-04T09:00:00+00:00", "meta")


@pytest.mark.parametrize("rule, evidence, expected", [
    ("supported", DateEvidence(OWN, (OWN, LATER), date(2024, 3, 4), True), LATER),
    ("supported", DateEvidence(OWN, (OWN,), date(2024, 3, 4), True), OWN),
    ("library", DateEvidence(OWN, (OWN,), date(2024, 3, 4), True),
     stamp("2024-03-04T00:00:00+00:00", "htmldate")),
    ("fill", DateEvidence(OWN, (OWN, LATER), date(2024, 3, 4), True), OWN),
    ("own", DateEvidence(None, (), date(2024, 3, 4), True), None),
    ("supported", DateEvidence(None, (), date(2024, 3, 4), True),
     stamp("2024-03-04T00:00:00+00:00", "htmldate")),
    ("supported", DateEvidence(OWN, (OWN, LATER), None, True), OWN),
])
def test_date_rules_combine_our_date_and_htmldates(rule, evidence, expected):
    assert decide(evidence, rule) == expected


def test_evidence_is_unsure_only_when_the_page_disagrees_with_itself_or_has_no_date():
    assert DateEvidence(OWN, (OWN, LATER)).unsure
    assert DateEvidence(None).unsure
    assert DateEvidence(stamp("2024-03-01T10:00:00+00:00", "text")).unsure
    assert not DateEvidence(OWN, (OWN, stamp("2024-03-01T12:00:00+02:00", "meta"))).unsure


def test_date_sources_name_every_source_the_normaliser_gives():
    assert set(DATE_SOURCES) == {"jsonld", "meta", "time", "text", "url", "sitemap", "htmldate"}


# Provenance end to end: index, API, article page, extract --json

def test_provenance_reaches_the_api_and_the_article_page(client):
    found = client.get("/api/search?q=*&size=50").get_json()["results"]
    dated = [item for item in found if item["published"]]
    data = client.get(f"/api/articles/{dated[0]['id']}").get_json()
    assert data["published_source"] in DATE_SOURCES
    page = client.get(f"/articles/{dated[0]['id']}").get_data(as_text=True)
    assert f"(date from {DATE_SOURCES[data['published_source']]})" in page


def test_extract_json_shows_the_date_source_and_the_short_flag(tmp_path, capsys):
    from search_service.cli import main

    saved = tmp_path / "brief.html"
    saved.write_text(wire_page(), encoding="utf-8")
    assert main(["extract", "--json", "--url", "https://wire.example/story/1", str(saved)]) == 0
    data = json.loads(capsys.readouterr().out)
    assert (data["published_source"], data["short"], data["rejected"]) == ("time", True, None)


def test_a_short_page_whose_date_line_beats_its_meta_date_still_declares_an_article():
    head = '<meta property="article:published_time" content="2024-06-01T08:00:00+02:00">'
    html = (f"<html><head><title>Rate</title>{head}</head><body><h1>Rate rises</h1>"
            f"<p>03.06.2024</p><p>{BRIEF}</p></body></html>")
    result = normalise(html, "https://x.example/rate", FETCHED)
    assert result.published.source == "text" and result.published.day == date(2024, 6, 3)
    assert result.rejected is None and result.short
