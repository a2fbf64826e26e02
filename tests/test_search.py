"""Search, highlighting, sorting, paging and related articles on a real Whoosh index."""

from __future__ import annotations

import pytest

from search_service.article import article_id
from search_service.search import NotFound, QueryError, get_article, related, search
from tests.conftest import SEED_URL

HOSTILE_ID = article_id("https://hostile.example/news/oil-gas")


def without_timing(data: dict) -> dict:
    """Drop the one field that varies between runs."""
    assert data.pop("took_ms") >= 0
    return data


def test_highlights_are_escaped_page_text_with_only_mark_added(searcher):
    data = without_timing(search(searcher, "oil"))
    assert data["total"] == 2
    assert data["results"][0] == {
        "id": HOSTILE_ID,
        "url": "https://hostile.example/news/oil-gas",
        "title": "Oil & gas: <script>alert(1)</script> prices",
        "title_html": "<mark>Oil</mark> &amp; gas: &lt;script&gt;alert(1)&lt;/script&gt; prices",
        "snippet_html": "Traders said <mark>oil</mark> &amp; gas prices rose after a report that "
                        "read … every page that shows this text. Analysts expect <mark>oil</mark> "
                        "demand to keep rising through the summer as …",
        "published": "2023-07-12T09:00:00+00:00",
        "source": "Hostile <b>Herald</b>",
    }


def test_phrase_query_matches_and_marks_only_the_phrase(searcher):
    data = search(searcher, '"run hard"')
    assert [r["id"] for r in data["results"]] == [HOSTILE_ID]
    assert data["results"][0]["snippet_html"] == (
        "… to keep rising through the summer as refineries &#34;<mark>run</mark> "
        "<mark>hard</mark>&#34; &amp; stocks fall, according to people familiar with …")
    assert data["results"][0]["title_html"] == (
        "Oil &amp; gas: &lt;script&gt;alert(1)&lt;/script&gt; prices")


def test_stemming_finds_other_forms(searcher):
    singular = {r["id"] for r in search(searcher, "guarantee", per_page=100)["results"]}
    plural = {r["id"] for r in search(searcher, "guarantees", per_page=100)["results"]}
    assert singular == plural
    assert article_id(SEED_URL) in singular


def test_default_operator_is_and(searcher):
    assert search(searcher, "nato vilnius")["total"] == 2
    assert search(searcher, "nato opec")["total"] == 0
    assert search(searcher, "nato OR opec")["total"] > 2


def test_title_field_and_not(searcher):
    titles = [r["title"] for r in search(searcher, "title:opec", per_page=100)["results"]]
    assert titles and all("OPEC" in t for t in titles)
    assert search(searcher, "nato NOT vilnius")["total"] == 0


def test_title_match_ranks_above_body_match(searcher):
    results = search(searcher, "nato")["results"]
    assert "NATO" in results[0]["title"]


def test_newest_sort_orders_by_publication_date(searcher):
    results = search(searcher, "said", sort="newest", per_page=100)["results"]
    dates = [r["published"] for r in results]
    assert len(dates) > 10
    assert dates == sorted(dates, reverse=True)


def test_pages_partition_the_results(searcher):
    everything = [r["id"] for r in search(searcher, "said", per_page=100)["results"]]
    paged = [r["id"] for page in (1, 2, 3) for r in search(searcher, "said", page=page,
                                                                per_page=5)["results"]]
    assert paged == everything[:15]


def test_empty_query_lists_everything_newest_first(searcher):
    data = search(searcher, "", per_page=3)
    assert data["total"] == 27
    assert data["results"][0]["id"] == HOSTILE_ID
    assert data["results"][0]["snippet_html"].startswith("Traders said oil &amp; gas")


@pytest.mark.parametrize("q, message", [
    ("((((", "cannot parse query '((((': it has no searchable words"),
    ("the", "cannot parse query 'the': it has no searchable words"),
    ("published:[yesterday TO today]", "cannot parse query 'published:[yesterday TO today]'"),
    ("x" * 1001, "query too long (1001 characters, at most 1000)"),
])
def test_bad_queries_raise_query_error(searcher, q, message):
    with pytest.raises(QueryError) as err:
        search(searcher, q)
    assert str(err.value).startswith(message)


@pytest.mark.parametrize("kwargs, message", [
    ({"page": 0}, "page must be between 1 and 1000"),
    ({"per_page": 101}, "per_page must be between 1 and 100"),
    ({"sort": "random"}, "sort must be one of: relevance, newest"),
])
def test_bad_paging_raises_query_error(searcher, kwargs, message):
    with pytest.raises(QueryError, match=message):
        search(searcher, "oil", **kwargs)


def test_related_excludes_the_article_and_finds_its_twin(searcher):
    seed_id = article_id(SEED_URL)
    twin_id = article_id("https://balticwire.example/2023/07/nato-ukraine")
    results = related(searcher, seed_id, limit=5)["results"]
    ids = [r["id"] for r in results]
    assert seed_id not in ids
    assert ids[0] == twin_id


def test_related_of_an_oil_story_is_about_oil(searcher):
    opec = search(searcher, "title:opec")["results"][0]
    titles = [r["title"] for r in related(searcher, opec["id"], limit=3)["results"]]
    assert len(titles) == 3
    assert opec["title"] not in titles


def test_unknown_article_raises_not_found(searcher):
    with pytest.raises(NotFound, match="no article with id 'nope'"):
        get_article(searcher, "nope")
    with pytest.raises(NotFound):
        related(searcher, "nope")


def test_get_article_returns_paragraphs(searcher):
    article = get_article(searcher, article_id(SEED_URL))
    assert article["title"].startswith("NATO and Ukraine")
    assert article["authors"] == ["Marta Kowalska", "Jonas Petrauskas"]
    assert len(article["paragraphs"]) == 6
    assert article["paragraphs"][0].startswith("In recent remarks attributed")
