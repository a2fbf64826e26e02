"""Query expansion (search/expand.py): country names and demonyms searched together, the
`expanded` part of the search answer, the switch, and pseudo-relevance feedback, on the
bundled sample; expanded queries stay on the executor's path and score as Whoosh does."""

from __future__ import annotations

import logging

import pytest
from whoosh import query as wq

from search_service.index.schema import open_index
from search_service.search import executor
from search_service.search.engine import search
from search_service.search.expand import (
    VARIANT_BOOST,
    expand_places,
    expand_query,
    feedback,
    place_variants,
)
from search_service.search.parse import parse_query
from search_service.search.rank import weighting
from search_service.web import create_app


@pytest.fixture(scope="module")
def sample(sample_index):
    """A searcher over the bundled sample's index (ranked as every search is)."""
    with open_index(sample_index).searcher(weighting=weighting()) as searcher:
        yield searcher


def scores(searcher, query) -> dict[int, float]:
    """Whoosh's score of every document `query` matches."""
    return {hit.docnum: hit.score for hit in searcher.search(query, limit=None)}


def test_names_and_demonyms_pair_up_from_the_vendored_list():
    variants = place_variants()
    # Keys and values are indexed (stemmed) forms; the values' spellings are the data's.
    assert variants["canada"] == {"canadian": "canadian"}
    assert variants["canadian"] == {"canada": "canada"}
    assert variants["dutch"] == {"netherland": "netherlands"}
    assert variants["netherland"] == {"dutch": "dutch"}
    assert variants["japanes"] == {"japan": "japan"}
    assert variants["franc"] == {"french": "french"}  # `france` is indexed as `franc`
    # Names of several words are left out; no country is its own variant.
    assert "korean" not in variants and "south" not in variants
    assert all(form not in others for form, others in variants.items())


def test_a_country_word_also_finds_stories_that_only_use_its_demonym(sample):
    plain = search(sample, q="canada", sort="relevance", per_page=100, expand=False)
    expanded = search(sample, q="canada", sort="relevance", per_page=100)
    assert plain["expanded"] == []
    assert expanded["expanded"] == [{"word": "canada", "added": ["canadian"]}]
    only_demonym = set(scores(sample, parse_query(sample, "canadian"))) - set(
        scores(sample, parse_query(sample, "canada")))
    assert only_demonym
    # (Totals count stories: near-duplicate copies once.)
    assert plain["total"] < expanded["total"] <= plain["total"] + len(only_demonym)
    shown = {sample.document_number(id=r["id"]) for r in expanded["results"]}
    assert shown & only_demonym
    # The matched demonym is highlighted too.
    assert any("<mark>Canadian</mark>" in r["snippet_html"] + r["title_html"]
               for r in expanded["results"] if sample.document_number(id=r["id"])
               in only_demonym)


def test_a_variant_scores_a_fraction_of_the_typed_word_in_the_same_field(sample):
    canadian = scores(sample, parse_query(sample, "body:canadian"))
    canada = scores(sample, parse_query(sample, "body:canada"))
    for typed, boost in (("body:canada", 1.0), ("body:canada^2", 2.0)):
        query, _ = expand_places(sample, parse_query(sample, typed))
        found = scores(sample, query)
        assert set(found) == set(canada) | set(canadian)
        for docnum, score in found.items():
            expected = boost * (canada.get(docnum, 0) + VARIANT_BOOST * canadian.get(docnum, 0))
            assert score == pytest.approx(expected, rel=1e-9)
    # The title's variant stays in the title.
    query, _ = expand_places(sample, parse_query(sample, "title:canada"))
    assert set(scores(sample, query)) == set(scores(
        sample, parse_query(sample, "title:canada OR title:canadian")))


def test_words_under_not_stay_as_typed(sample):
    query, expansions = expand_places(sample, parse_query(sample, "oil NOT canada"))
    assert expansions == []
    assert query == parse_query(sample, "oil NOT canada")


def test_a_variant_the_index_does_not_hold_is_not_added(sample):
    typed = parse_query(sample, "canada")
    query, expansions = expand_places(sample, typed, variants={"canada": {"zzland": "zzland"}})
    assert query == typed and expansions == []


def test_a_query_for_every_article_is_not_expanded(sample):
    assert expand_query(sample, wq.Every(), feedback_words=True) == (
        wq.Every(), {"expanded": [], "feedback": []})


@pytest.mark.parametrize("q", ["canada", "dutch OR japanese", "coffee brazil",
                               "title:canadian^2 OR body:dutch", "oil AND NOT canada",
                               "grain AND (china OR france)"])
def test_expanded_queries_stay_on_the_executor_path_and_score_as_whoosh(sample, q, caplog):
    query, _ = expand_places(sample, parse_query(sample, q))
    ids, found, late = executor.match(sample, query, weighting=weighting())
    whoosh = scores(sample, query)
    assert not late and len(ids) and sorted(whoosh) == ids.tolist()
    assert found.tolist() == pytest.approx([whoosh[n] for n in ids.tolist()], rel=1e-9)
    with caplog.at_level(logging.DEBUG, logger="search_service.search.engine"):
        fast = search(sample, q=q, sort="relevance", per_page=20)
    assert not [r for r in caplog.records if "Whoosh path" in r.getMessage()]
    slow = search(sample, q=q, sort="relevance", per_page=20, use_executor=False)
    assert [r["id"] for r in fast["results"]] == [r["id"] for r in slow["results"]]
    assert fast["total"] == slow["total"]


def test_feedback_adds_words_of_the_best_stories_and_only_reranks(sample):
    typed = parse_query(sample, "coffee")
    query, words = feedback(sample, typed)
    assert isinstance(query, wq.AndMaybe) and len(words) == 10
    total = sample.doc_count()
    assert "coffe" not in words  # the typed word (indexed form) is not added again
    for word in words:
        assert not word.isdigit() and sample.doc_frequency("body", word) <= 0.1 * total
    assert set(scores(sample, query)) == set(scores(sample, typed))
    ids, found, _ = executor.match(sample, query, weighting=weighting())
    whoosh = scores(sample, query)
    assert found.tolist() == pytest.approx([whoosh[n] for n in ids.tolist()], rel=1e-9)
    data = search(sample, q="coffee", sort="relevance", feedback=True)
    plain = search(sample, q="coffee", sort="relevance")
    assert data["feedback"] == words and "feedback" not in plain
    assert data["total"] == plain["total"]
    assert [r["id"] for r in data["results"]] != [r["id"] for r in plain["results"]]


def test_the_api_says_what_was_expanded_and_can_switch_it_off(sample_index):
    client = create_app({"TESTING": True, "INDEX_DIR": str(sample_index)}).test_client()
    on = client.get("/api/search?q=dutch").get_json()
    off = client.get("/api/search?q=dutch&expand=0").get_json()
    assert on["expanded"] == [{"word": "dutch", "added": ["netherlands"]}]
    assert off["expanded"] == [] and off["total"] < on["total"]
    with_feedback = client.get("/api/search?q=coffee&feedback=1").get_json()
    assert len(with_feedback["feedback"]) == 10
    bad = client.get("/api/search?q=dutch&expand=maybe")
    assert bad.status_code == 400
    assert bad.get_json() == {"error": {"status": 400, "message":
                                        "expand must be 1 or 0 (or true or false), not 'maybe'"}}


def test_research_counts_and_cursor_paging_match_the_expanded_query(sample):
    from search_service.search.cursor import story_order
    from search_service.search.matches import match
    from search_service.search.params import SearchParams

    expected = set(executor.match(sample, expand_places(
        sample, parse_query(sample, "canada"))[0])[0].tolist())
    on, off = match(sample, SearchParams(q="canada")), match(
        sample, SearchParams(q="canada", expand=False))
    assert set(on.docs.tolist()) == expected and len(off.docs) < len(on.docs)
    ordered = story_order(sample, SearchParams(q="canada", sort="newest", cursor="*"))
    assert len(ordered.docnums) == search(sample, q="canada", sort="newest")["total"]
