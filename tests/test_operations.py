"""A long-running process's memory over commits and merges: searchers refreshed after a merge
keep no decoded postings of the segments merged away (the postings cache's byte bound alone
would keep them for hours, see docs/operations.md, "The soak")."""

from __future__ import annotations

from search_service.article import Article
from search_service.index.writer import optimize, write_articles
from search_service.search import engine, executor
from search_service.search.postings import shared_cache


def test_a_merge_drops_the_decoded_postings_of_the_merged_away_segments(ix):
    searchers = engine.Searchers(ix)
    write_articles(ix, [Article(url="https://late.example/z", canonical_url="https://late.example/z",
                                title="Zeppelin returns", body="An airship over NATO. " * 10)])
    searcher = searchers.get()
    before = engine.segment_ids(searcher)
    assert len(before) >= 2
    assert engine.search(searcher, q="nato")["total"] == 2  # decoded from several segments
    cache = shared_cache()
    assert any(key[0] in before for key in cache.entries)

    optimize(ix)  # every segment merged into a new one
    searcher = searchers.get()
    after = engine.segment_ids(searcher)
    assert len(after) == 1 and not after & before
    assert not any(key[0] in before for key in cache.entries)
    assert cache.held == sum(p.nbytes for p in cache.entries.values())
    assert engine.search(searcher, q="nato")["total"] == 2  # and searching goes on


def test_a_commit_drops_the_scored_terms_of_the_commit_before(ix):
    """Scores hold for one commit; the scored terms of earlier commits go when a newer one is
    searched, not when the byte bound would push them out."""
    searchers = engine.Searchers(ix)
    searcher = searchers.get()
    assert engine.search(searcher, q="nato")["total"] >= 1
    first = executor._scored
    assert first is not None and len(first[1].entries) > 0

    write_articles(ix, [Article(url="https://late.example/y", canonical_url="https://late.example/y",
                                title="Yachts return", body="A regatta near NATO. " * 10)])
    searcher = searchers.get()
    total = engine.search(searcher, q="nato")["total"]
    second = executor._scored
    assert second[0] != first[0] and second[1] is not first[1]  # one cache: the new commit's
    live = {executor.segment_key(sub.reader()) for sub, _ in searcher.leaf_searchers()}
    assert second[1].entries and {key[0] for key in second[1].entries} <= live
    assert all(key[0] == second[0] for key in executor._scorers)  # (stats, field, term)
    assert engine.search(searcher, q="nato")["total"] == total
