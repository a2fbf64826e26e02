"""Comparing up to five queries under the same filters: each query's total, its timeline (one
interval for all, so the lines share an axis), its top sources and its top stories.

Each query is matched on its own (matches.py), so no query's stories can stand in for
another's; all of them within the request's one time limit. Top stories are ranked by
relevance over the whole match set (the search's BM25F scores, from the executor that
matched them; newest first among equal scores).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
from whoosh.searching import Searcher

from search_service.search.engine import result_item
from search_service.search.highlight import query_words
from search_service.search.matches import (
    columns_of,
    deadline_of,
    match,
    stories,
    top_stories,
)
from search_service.search.params import QueryError, SearchParams
from search_service.search.parse import QUERY_FIELDS
from search_service.search.timeline import (
    UNDATED,
    Dated,
    buckets,
    check_interval,
    pick_interval,
    time_span,
)

MAX_QUERIES = 5
#: Sources and stories listed per query.
TOP_SOURCES = 10
TOP_RESULTS = 5


def compare_queries(texts: list[str]) -> list[str]:
    """The queries to compare (blank ones dropped), or QueryError unless 1 to 5 remain."""
    queries = [t.strip() for t in texts if t and t.strip()]
    if not 1 <= len(queries) <= MAX_QUERIES:
        raise QueryError(f"compare takes 1 to {MAX_QUERIES} queries (q=…&q=…), "
                         f"not {len(queries)}")
    return queries


def compare(searcher: Searcher, params: SearchParams, queries: list[str],
            interval: str = "auto") -> dict[str, Any]:
    """Each query's total, timeline, top sources and top stories, under `params`' filters."""
    interval = check_interval(interval)
    queries = compare_queries(queries)
    columns = columns_of(searcher)
    deadline = deadline_of(params)  # one time limit for the whole comparison
    each = []
    for text in queries:
        request = replace(params, q=text)
        matched = match(searcher, request, deadline=deadline)
        docs = stories(columns, matched)
        stamps = columns.stamps[docs]
        each.append((request, matched, Dated(len(docs), stamps[stamps != UNDATED], docs)))
    span = time_span(searcher, params, [found for _, _, found in each])
    chosen = pick_interval(interval, span)
    out = []
    for request, matched, found in each:
        words = {name: query_words(matched.query, searcher.reader(), name)
                 for name in QUERY_FIELDS}
        out.append({
            "query": request.q,
            "total": found.total,
            "timeline": buckets(searcher, request, found, chosen, span),
            "sources": top_sources(columns, matched.docs),
            "results": [result_item(_Stored(searcher, docnum), words, similar)
                        for docnum, similar in top_stories(columns, matched, TOP_RESULTS)],
        })
    return {"interval": chosen, "queries": out}


def top_sources(columns, docs: np.ndarray, limit: int = TOP_SOURCES) -> list[dict[str, Any]]:
    """The sources carrying most of the matching documents `docs` (ties by name): source and
    count of the stories it carries, as the search narrowed to that source counts them (a
    story carried by several sources counts for each; its copies within one source once)."""
    if not len(docs):
        return []
    pairs = np.unique(np.stack([columns.source[docs].astype(np.int64), columns.story[docs]]),
                      axis=1)
    counts = np.bincount(pairs[0], minlength=len(columns.sources))
    ranked = sorted(((-int(n), columns.sources[i]) for i, n in enumerate(counts) if n))
    return [{"source": name, "count": -n} for n, name in ranked[:limit]]


class _Stored:
    """A stored document in the shape `result_item` reads (a Whoosh hit's `fields()`)."""

    def __init__(self, searcher: Searcher, docnum: int):
        self.searcher, self.docnum = searcher, docnum

    def fields(self) -> dict[str, Any]:
        return self.searcher.stored_fields(self.docnum)
