"""Ranking: the BM25F model and its per-field parameters, field weights, and the `best` blend
(relevance bands, newest first inside each), on the bundled sample and on plain arrays."""

from __future__ import annotations

import math
from datetime import datetime

import numpy as np
import pytest
from whoosh.util.times import datetime_to_long

from search_service.index.schema import open_index
from search_service.search import executor
from search_service.search.engine import search
from search_service.search.filters import NO_DATE
from search_service.search.parse import parse_query
from search_service.search.rank import BAND, FIELD_BM25, blend_best, weighting

NOW = datetime_to_long(datetime(2026, 12, 1))
DAY = 86_400 * 10**6


def stamp(days_ago: float) -> int:
    """A `published` column value `days_ago` days before NOW."""
    return NOW - int(days_ago * DAY)


def order(scores, stamps, now=NOW, band=BAND) -> list[int]:
    """Positions of the hits in the `best` order."""
    keys = blend_best(np.array(scores, dtype=float), np.array(stamps, dtype=np.uint64), now,
                      band=band)
    return [int(i) for i in np.argsort(-keys, kind="stable")]


# -- blend_best on arrays ------------------------------------------------------------------------

def test_newer_first_among_comparable_scores_relevance_order_across_bands():
    # 10.0, 9.5 and 9.2 are within 10% of 10.0: one band, newest first; 8.0 starts the next.
    scores = [10.0, 9.5, 9.2, 8.0, 7.5]
    stamps = [stamp(300), stamp(2), stamp(30), stamp(1), stamp(0)]
    assert order(scores, stamps) == [1, 2, 0, 4, 3]


def test_a_clearly_better_match_stays_above_any_newer_one():
    scores = [10.0, 10.0 * (1 - BAND) - 0.01]
    assert order(scores, [stamp(3650), stamp(0)]) == [0, 1]


def test_undated_hits_go_last_in_their_band_and_future_dates_count_as_now():
    scores = [10.0, 9.9, 9.8, 9.7]
    stamps = [NO_DATE, stamp(5), stamp(-400), stamp(-1)]  # -400: a bogus date in the future
    # The two future dates both count as now: the better score of them goes first.
    assert order(scores, stamps) == [2, 3, 1, 0]


def test_bands_of_the_best_hits_do_not_depend_on_weaker_hits():
    rng = np.random.default_rng(7)
    scores = np.sort(rng.uniform(1, 20, 500))[::-1]
    stamps = np.array([stamp(d) for d in rng.uniform(0, 400, 500)], dtype=np.uint64)
    full = order(scores, stamps)
    top = order(scores[:200], stamps[:200])
    shown = [i for i in full if i < 200]
    cut = next(i for i, s in enumerate(scores) if s < scores[150] * (1 - BAND))
    assert [i for i in shown if i < cut] == [i for i in top if i < cut]


def test_blend_best_is_relevance_order_with_a_zero_band_and_handles_no_hits():
    scores = [3.0, 5.0, 4.0]
    assert order(scores, [stamp(1), stamp(9), stamp(0)], band=0.0) == [1, 2, 0]
    assert blend_best(np.zeros(0), np.zeros(0, dtype=np.uint64), NOW).shape == (0,)


def test_the_best_order_of_the_first_hits_needs_only_their_bands():
    """blend_best(top=k) orders only the bands holding the k best-scored hits, from a
    partial sort: its first k hits are the full order's first k, over score sets with
    ties, undated and future stamps, narrow and wide bands (a band past the first window
    of scores looked at) and sizes where it falls back to the full sort."""
    rng = np.random.default_rng(11)
    checked = 0
    for size, band, top, levels in [(5000, BAND, 26, 0), (5000, BAND, 26, 40),
                                    (20000, 0.5, 10, 0), (20000, 0.0, 50, 300),
                                    (3000, 0.95, 30, 0), (400, BAND, 26, 0),
                                    (50000, BAND, 600, 1000)]:
        scores = rng.gamma(2.0, 3.0, size)
        if levels:  # quantised: many ties
            scores = np.round(scores * levels / scores.max()) / levels
        stamps = np.array([NO_DATE if rng.random() < 0.05 else stamp(d)
                           for d in rng.uniform(-30, 900, size)], dtype=np.uint64)
        full = np.argsort(-blend_best(scores, stamps, NOW, band=band), kind="stable")
        keys = blend_best(scores, stamps, NOW, band=band, top=top)
        part = np.argsort(-keys, kind="stable")
        assert list(part[:top]) == list(full[:top]), (size, band, top, levels)
        checked += int((keys == 0).sum() > 0)  # the partial path was taken
    assert checked >= 4


# -- the scoring model ---------------------------------------------------------------------------

def test_weighting_carries_per_field_k1_b_weight_and_fixed_idf():
    model = weighting()
    for field, (k1, b, weight, idf) in FIELD_BM25.items():
        assert (model._field_K1[field], model._field_B[field], model._field_W[field],
                model._field_IDF.get(field)) == (k1, b, weight, idf)
    assert weighting(title_K1=2.5)._field_K1["title"] == 2.5
    assert "title" not in weighting(title_IDF=None)._field_IDF


@pytest.fixture(scope="module")
def sample(sample_index):
    """A searcher over conftest's index of the bundled sample (2,296 pages, read-only)."""
    ix = open_index(sample_index)
    assert ix.doc_count_all() == ix.doc_count() == 2296
    with ix.searcher(weighting=weighting()) as searcher:
        yield searcher


def test_a_body_score_is_whoosh_bm25_with_the_body_parameters(sample):
    # What a faster executor must reproduce: idf · tf·(k1+1) / (tf + k1·(1−b+b·len/avglen)),
    # idf = ln(N / (df + 1)) + 1, times the field weight, summed over fields and words.
    hits = search(sample, q="body:sorghum", sort="relevance", per_page=1)["results"]
    docnum = sample.document_number(id=hits[0]["id"])
    reader = sample.reader()
    postings = reader.postings("body", "sorghum")
    postings.skip_to(docnum)
    tf = postings.weight()
    k1, b, weight, fixed = FIELD_BM25["body"]
    assert fixed is None  # the body uses each term's own idf
    idf = math.log(sample.doc_count_all() / (reader.doc_frequency("body", "sorghum") + 1)) + 1
    length = reader.doc_field_length(docnum, "body")
    average = reader.field_length("body") / sample.doc_count_all()
    expected = idf * tf * (k1 + 1) / (tf + k1 * (1 - b + b * length / average))
    query = parse_query(sample, "body:sorghum")
    scored = {hit.docnum: hit.score for hit in sample.search(query, limit=None)}
    assert scored[docnum] == pytest.approx(expected * weight, rel=1e-6)


def test_a_title_word_scores_with_the_fixed_title_idf_whatever_its_rarity(sample):
    # The title part is weight · IDF · tf·(k1+1) / (tf + k1·(1−b+b·len/avglen)) with the
    # title's fixed IDF: a rare title word and a common one in the same title score alike.
    k1, b, weight, fixed = FIELD_BM25["title"]
    assert fixed is not None
    title = "AIR MAURITIUS BUYS TWO BOEING 767-200'S"
    hits = search(sample, q='title:mauritius', sort="relevance", per_page=5)["results"]
    docnum = sample.document_number(id=next(h["id"] for h in hits if h["title"] == title))
    reader = sample.reader()
    assert sample.doc_frequency("title", "mauritius") * 2 < sample.doc_frequency("title", "boe")
    length = reader.doc_field_length(docnum, "title")
    average = reader.field_length("title") / sample.doc_count_all()
    for word in ("mauritius", "boe"):  # "boeing", stemmed
        postings = reader.postings("title", word)
        postings.skip_to(docnum)
        tf = postings.weight()
        expected = weight * fixed * tf * (k1 + 1) / (tf + k1 * (1 - b + b * length / average))
        scored = {hit.docnum: hit.score for hit in sample.search(
            parse_query(sample, f"title:{word}"), limit=None)}
        assert scored[docnum] == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize("q", ["title:boeing", "coffee", "boeing AND mauritius",
                               "stem OR surfacing OR clout"])
def test_the_executor_scores_the_fixed_title_idf_as_whoosh_does(sample, q):
    query = parse_query(sample, q)
    ids, scores, late = executor.match(sample, query, weighting=weighting())
    assert not late and len(ids)
    whoosh = {hit.docnum: hit.score for hit in sample.search(query, limit=None)}
    assert sorted(whoosh) == ids.tolist()
    assert scores.tolist() == pytest.approx([whoosh[n] for n in ids.tolist()], rel=1e-9)


def test_a_story_with_all_query_words_beats_one_with_a_single_title_word(sample):
    # "VOLCKER DEPARTURE REVIVES DLR, INFLATION FEARS" has all three words in its body;
    # "JAPAN TRIES TO STEM STOCKS DIVE" has one of them, "stem", in its short title. Title
    # boost and short-title length normalisation used to put such a story first.
    results = search(sample, q="clout OR surfacing OR stem", sort="relevance",
                     per_page=100)["results"]
    titles = [r["title"] for r in results]
    assert titles[0] == "VOLCKER DEPARTURE REVIVES DLR, INFLATION FEARS"
    assert "JAPAN TRIES TO STEM STOCKS DIVE" in titles[1:]


def test_a_title_word_still_adds_to_the_score(sample):
    # A word in the title scores on top of the same word in the body (weighted less).
    def scores(q: str) -> dict[int, float]:
        return {hit.docnum: hit.score for hit in sample.search(parse_query(sample, q),
                                                              limit=None)}
    both, body = scores("coffee"), scores("body:coffee")
    titled = [n for n in both if "coffee" in sample.stored_fields(n)["title"].lower()]
    untitled = [n for n in both if n not in titled]
    assert titled and untitled
    assert all(both[n] > body.get(n, 0) for n in titled)
    assert all(both[n] == pytest.approx(body[n]) for n in untitled)


def test_among_near_equal_matches_the_newer_comes_first_under_best(sample):
    # By relevance the Air Mauritius story (17 April) edges out the JAL crash report story
    # (19 June); under `best` the newer one leads.
    relevance = [r["title"] for r in search(sample, q="boeing", sort="relevance")["results"]]
    best = [r["title"] for r in search(sample, q="boeing", sort="best")["results"]]
    mauritius, crash = ("AIR MAURITIUS BUYS TWO BOEING 767-200'S",
                        "BOEING HAS NOT YET SEEN FINAL JAL CRASH REPORT")
    assert relevance.index(mauritius) < relevance.index(crash)
    assert best.index(crash) < best.index(mauritius)
    assert sorted(best) == sorted(relevance)


@pytest.mark.parametrize("q", ["boeing", "coffee", "oil prices", "bundesbank OR opec"])
def test_best_never_puts_a_hit_above_a_clearly_better_one(sample, q):
    results = search(sample, q=q, sort="best", per_page=50)["results"]
    query = parse_query(sample, q)
    scores = {hit["id"]: hit.score for hit in sample.search(query, limit=None)}
    shown = [(scores[r["id"]], r["published"]) for r in results]
    assert len(shown) >= 10
    lifted = 0
    for i, (score, published) in enumerate(shown):
        for better, when in shown[i + 1:]:
            if better > score:  # placed above a more relevant hit: only if comparable, newer
                assert score >= (1 - BAND) * better and published >= when
                lifted += 1
    assert lifted  # the blend did reorder something
