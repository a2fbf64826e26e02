"""A long-running process's memory over commits and merges: searchers refreshed after a merge
keep no decoded postings of the segments merged away (the postings cache's byte bound alone
would keep them for hours, see docs/operations.md, "The soak")."""

from __future__ import annotations

from search_service.article import Article
from search_service.index.writer import optimize, write_articles
from search_service.search import engine
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
