"""The index: schema version check, updates by canonical URL, the single-writer lock."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from search_service.article import Article
from search_service.index import (
    VERSION_FILE,
    ArticleWriter,
    IndexBusy,
    IndexMissing,
    IndexVersionError,
    index_stats,
    open_index,
    write_articles,
)
from search_service.search import get_article, search

STORY = Article(url="https://a.example/x?utm_source=t", canonical_url="https://a.example/x",
                title="Zürich bank raises rates", body="The central bank in Zürich raised rates.",
                source="A News", authors=("Jo Bloggs",))


def test_missing_index_is_a_clear_error(tmp_path):
    with pytest.raises(IndexMissing, match="no index at"):
        open_index(tmp_path / "none")


def test_older_schema_version_asks_for_a_rebuild(tmp_path):
    open_index(tmp_path, create=True)
    (tmp_path / VERSION_FILE).write_text(json.dumps({"schema_version": 0}))
    expected = "schema version 0, this program needs 2: run 'news-search reindex'"
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
