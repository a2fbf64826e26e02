"""The writer's batches and merges: a bulk run commits by size and merges once at the end, a
steady writer merges after each commit; either way at most MAX_SEGMENTS segments remain at
rest and no article is lost or duplicated."""

from __future__ import annotations

from collections import Counter

import pytest
from whoosh.filedb.filestore import FileStorage

from search_service.article import Article
from search_service.index import whoosh_compat
from search_service.index.schema import open_index
from search_service.index.stats import index_stats
from search_service.index.writer import MAX_SEGMENTS, ArticleWriter, delete_urls, write_articles
from search_service.search.engine import search


def story(n: int, version: int = 0) -> Article:
    """A distinct article (its text shares no 5-word run with another's)."""
    words = " ".join(f"w{n}x{k}" for k in range(12))
    url = f"https://a.example/{n}"
    return Article(url=url, canonical_url=url, title=f"Story {n} v{version}",
                   body=f"Rates story {n} version {version}: {words}.", source="A News")


def stored_ids(ix) -> Counter:
    """How many live documents hold each id."""
    with ix.searcher() as searcher:
        return Counter(fields["id"] for fields in searcher.all_stored_fields())


#: One article's text is about 110 characters: this batch size commits every ~9 articles.
SMALL_MB = 1000 / 2**20


def test_a_bulk_run_commits_by_size_and_merges_to_the_bound_only_at_the_end(tmp_path):
    ix = open_index(tmp_path, create=True)
    counts = []
    with ArticleWriter(ix, batch=None, interval=None, bulk=True, batch_mb=SMALL_MB) as writer:
        for n in range(120):
            writer.add(story(n))
            counts.append(whoosh_compat.segment_count(ix))
    assert writer.commits > MAX_SEGMENTS + 4
    assert max(counts) > MAX_SEGMENTS  # no merge while the run went on
    assert whoosh_compat.segment_count(ix) <= MAX_SEGMENTS
    assert stored_ids(ix) == Counter({story(n).id: 1 for n in range(120)})
    with ix.searcher() as searcher:
        assert search(searcher, q="rates", per_page=1)["total"] == 120


def test_a_bulk_batch_closes_by_text_size_not_count(tmp_path):
    ix = open_index(tmp_path, create=True)
    size = len(story(0).title) + len(story(0).body)
    writer = ArticleWriter(ix, batch=None, interval=None, bulk=True,
                           batch_mb=10.5 * size / 2**20)
    for n in range(10):
        writer.add(story(n))
    assert (writer.commits, len(writer.pending)) == (0, 10)
    writer.add(story(10))  # 11 articles: more text than 10.5 articles' worth
    assert (writer.commits, len(writer.pending), writer.pending_chars) == (1, 0, 0)
    writer.add(story(0, version=1))
    writer.add(story(0, version=2))  # replaces the queued one: counted once
    assert len(writer.pending) == 1 and writer.pending_chars == size
    writer.close()
    assert index_stats(ix).articles == 11


def test_updates_across_bulk_batches_keep_one_copy(tmp_path):
    ix = open_index(tmp_path, create=True)
    with ArticleWriter(ix, batch=None, interval=None, bulk=True, batch_mb=SMALL_MB) as writer:
        for version in range(3):
            for n in range(30):
                writer.add(story(n, version))
    assert stored_ids(ix) == Counter({story(n).id: 1 for n in range(30)})
    with ix.searcher() as searcher:
        assert {f["title"] for f in searcher.all_stored_fields()} == {
            f"Story {n} v2" for n in range(30)}


def test_a_bulk_run_cut_short_keeps_its_commits_and_the_next_commit_restores_the_bound(
        tmp_path):
    ix = open_index(tmp_path, create=True)
    with pytest.raises(KeyboardInterrupt):
        with ArticleWriter(ix, batch=None, interval=None, bulk=True,
                           batch_mb=SMALL_MB) as writer:
            for n in range(100):
                writer.add(story(n))
            raise KeyboardInterrupt
    committed = writer.written
    assert whoosh_compat.segment_count(ix) > MAX_SEGMENTS
    assert index_stats(ix).articles == committed  # the uncommitted batch only is lost
    write_articles(ix, [story(n) for n in range(committed, 100)])  # a steady writer
    assert whoosh_compat.segment_count(ix) <= MAX_SEGMENTS
    assert stored_ids(ix) == Counter({story(n).id: 1 for n in range(100)})


def test_many_small_steady_commits_stay_bounded_after_every_commit(tmp_path):
    ix = open_index(tmp_path, create=True)
    writer = ArticleWriter(ix, batch=3)  # as the crawl's writer: small, steady commits
    for n in range(60):
        writer.add(story(n))
        assert whoosh_compat.segment_count(ix) <= MAX_SEGMENTS
    writer.close()
    assert writer.commits == 20
    assert stored_ids(ix) == Counter({story(n).id: 1 for n in range(60)})


def test_merge_false_never_merges(tmp_path):
    ix = open_index(tmp_path, create=True)
    with ArticleWriter(ix, batch=None, interval=None, bulk=True, batch_mb=SMALL_MB,
                       merge=False) as writer:
        for n in range(120):
            writer.add(story(n))
    assert whoosh_compat.segment_count(ix) == writer.commits > MAX_SEGMENTS


def test_a_commit_looks_a_missing_lengths_column_up_once_not_per_posting(tmp_path,
                                                                         monkeypatch):
    """Regression: Whoosh's W3 codec stat()ed the disk for every posting of a field without
    lengths (ids, URLs, band keys, dates) while writing a segment."""
    ix = open_index(tmp_path, create=True)
    calls = Counter()
    exists = FileStorage.file_exists

    def counted(self, name):
        calls[name.rsplit(".", 1)[-1]] += 1
        return exists(self, name)

    monkeypatch.setattr(FileStorage, "file_exists", counted)
    write_articles(ix, [story(n) for n in range(200)], batch=None)
    assert sum(calls.values()) < 50, calls
    assert index_stats(ix).articles == 200


def test_an_article_deleted_then_written_again_is_there_once(tmp_path):
    """Its id term outlives the deleted document in the segment's term table: the writer's
    cheap existence check then says "may exist" and the update finds nothing to delete."""
    ix = open_index(tmp_path, create=True)
    write_articles(ix, [story(n) for n in range(5)])
    assert delete_urls(ix, [story(2).url]) == 1
    write_articles(ix, [story(2, version=1), story(7)], bulk=True)
    assert stored_ids(ix) == Counter({story(n).id: 1 for n in (0, 1, 2, 3, 4, 7)})
    write_articles(ix, [story(2, version=2)], bulk=True)
    assert stored_ids(ix)[story(2).id] == 1
    with ix.searcher() as searcher:
        assert searcher.document(id=story(2).id)["title"] == "Story 2 v2"
