"""The index: schema version check, updates by canonical URL, the single-writer lock."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from search_service.article import Article
from search_service.index.schema import (
    SCHEMA_VERSION,
    VERSION_FILE,
    IndexBusy,
    IndexMissing,
    IndexVersionError,
    open_index,
)
from search_service.index.stats import index_stats
from search_service.index.writer import MAX_SEGMENTS, ArticleWriter, merge_plan, write_articles
from search_service.search.articles import get_article
from search_service.search.engine import search

STORY = Article(url="https://a.example/x?utm_source=t", canonical_url="https://a.example/x",
                title="Zürich bank raises rates", body="The central bank in Zürich raised rates.",
                source="A News", authors=("Jo Bloggs",))


def test_missing_index_is_a_clear_error(tmp_path):
    with pytest.raises(IndexMissing, match="no index at"):
        open_index(tmp_path / "none")


def test_older_schema_version_asks_for_a_rebuild(tmp_path):
    open_index(tmp_path, create=True)
    (tmp_path / VERSION_FILE).write_text(json.dumps({"schema_version": 0}))
    expected = f"schema version 0, this program needs {SCHEMA_VERSION}: run 'news-search reindex'"
    with pytest.raises(IndexVersionError, match=expected):
        open_index(tmp_path)


def test_same_canonical_url_updates_in_one_batch_and_across_batches(tmp_path):
    ix = open_index(tmp_path, create=True)
    edited = replace(STORY, title="Zürich bank raises rates again")
    assert write_articles(ix, [STORY, edited]) == 1
    write_articles(ix, [replace(STORY, title="Zürich bank raises rates a third time")])
    with ix.searcher() as searcher:
        assert searcher.doc_count() == 1
    with ix.searcher() as searcher:
        assert get_article(searcher, STORY.id)["title"] == "Zürich bank raises rates a third time"


def test_accents_fold_both_ways(tmp_path):
    ix = open_index(tmp_path, create=True)
    write_articles(ix, [STORY])
    with ix.searcher() as searcher:
        assert search(searcher, q="zurich")["total"] == search(searcher, q="Zürich")["total"] == 1


def test_second_writer_fails_clearly_while_the_first_holds_the_lock(tmp_path):
    ix = open_index(tmp_path, create=True)
    held = ix.writer()
    try:
        writer = ArticleWriter(ix, timeout=0.2)
        writer.add(STORY)
        with pytest.raises(IndexBusy, match="being written by another process"):
            writer.flush()
    finally:
        held.cancel()
    assert index_stats(ix).articles == 0


def test_stats_of_an_empty_index(tmp_path):
    stats = index_stats(open_index(tmp_path, create=True))
    assert (stats.articles, stats.sources, stats.first_published) == (0, {}, None)


WIRE = ("Frankfurt, July 3 - The European Central Bank left its main interest rate unchanged "
        "on Thursday, saying inflation was easing but remained too high, and signalled that "
        "further cuts would depend on wage growth and energy prices in the coming months. "
        "Analysts had expected the decision after weak factory data from Germany and France.")


def test_wire_copy_with_small_edits_joins_the_original_and_other_stories_do_not(tmp_path):
    ix = open_index(tmp_path, create=True)
    original = Article(url="https://a.example/ecb", canonical_url="https://a.example/ecb",
                       title="ECB holds rates", body=WIRE, source="A News")
    copy = Article(url="https://b.example/ecb?utm_source=x", canonical_url="https://b.example/e",
                   title="ECB holds rates", body=WIRE.replace("Thursday", "Thursday afternoon"),
                   source="B Daily")
    other = Article(url="https://c.example/f", canonical_url="https://c.example/f",
                    title="Fed holds rates", body=WIRE.replace("European Central Bank", "Fed")
                    .replace("Frankfurt", "Washington").replace("Germany and France", "Ohio")
                    .replace("wage growth", "jobs data").replace("easing", "cooling"),
                    source="C Post")
    write_articles(ix, [original])
    write_articles(ix, [copy, other])
    with ix.searcher() as searcher:
        assert get_article(searcher, copy.id)["original_id"] == original.id
        assert get_article(searcher, other.id)["original_id"] is None
        data = search(searcher, q="rates", sort="relevance")
        assert data["total"] == 2
        assert {(r["id"], r["similar_count"]) for r in data["results"]} == {
            (original.id, 1), (other.id, 0)}


@pytest.mark.parametrize("query, title", [
    ("zurich", "Zürcher Kantonalbank: Zinsen in Zürich steigen"),
    ("strasse", "Die Straße nach Köln wird gesperrt"),
    ("koln", "Die Straße nach Köln wird gesperrt"),
    ("elysee", "L'Élysée annonce une réforme des retraites"),
    ("reforme", "L'Élysée annonce une réforme des retraites"),
    ("noel", "Le marché de Noël ouvre à Strasbourg"),
])
def test_german_and_french_articles_fold_case_and_accents(tmp_path, query, title):
    ix = open_index(tmp_path, create=True)
    stories = [Article(url=f"https://d.example/{i}", canonical_url=f"https://d.example/{i}",
                       title=t, body=t + ". " + "Weitere Einzelheiten folgen. " * 5,
                       language="de" if i < 2 else "fr")
               for i, t in enumerate(["Zürcher Kantonalbank: Zinsen in Zürich steigen",
                                      "Die Straße nach Köln wird gesperrt",
                                      "L'Élysée annonce une réforme des retraites",
                                      "Le marché de Noël ouvre à Strasbourg"])]
    write_articles(ix, stories)
    with ix.searcher() as searcher:
        assert [r["title"] for r in search(searcher, q=query)["results"]] == [title]


def test_many_small_commits_keep_the_segment_count_bounded(tmp_path):
    ix = open_index(tmp_path, create=True)
    for i in range(20):
        write_articles(ix, [replace(STORY, canonical_url=f"https://a.example/{i}",
                                    body=f"Story number {i} about rates.")])
    assert index_stats(ix).segments <= 8
    assert index_stats(ix).articles == 20


def test_large_commits_keep_the_segment_count_bounded(tmp_path):
    """Commits too large for Whoosh's own policy to merge (it merges only segments far
    smaller than these) still leave at most MAX_SEGMENTS segments, every article kept."""
    ix = open_index(tmp_path, create=True)
    for commit in range(12):
        write_articles(ix, [replace(STORY, canonical_url=f"https://a.example/{commit}/{i}",
                                    title=f"Story {commit} {i}",
                                    body=f"Story number {i} of batch {commit} about rates.")
                            for i in range(60)], batch=60)
        assert index_stats(ix).segments <= MAX_SEGMENTS
    assert index_stats(ix).articles == 720
    with ix.searcher() as searcher:
        assert search(searcher, q="rates", per_page=1)["total"] == 720


@pytest.mark.parametrize("sizes, plan", [
    ([2500] * 8, []),  # at the bound: nothing to merge
    ([2500] * 9, [list(range(9))]),  # one tier: merged whole
    ([10000, 2500, 2500, 600, 600, 600, 150, 150, 150], [[6, 7, 8]]),  # the smallest full tier
    ([4 ** k for k in range(9)], [[0, 1]]),  # one segment per tier: the two smallest
])
def test_merge_plan_merges_by_size_tier(sizes, plan):
    assert merge_plan(sizes, limit=8, factor=4) == plan
