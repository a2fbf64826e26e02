"""Every story a request matches, as numpy arrays: the base of the research views (timeline,
compare, significant terms).

A request (SearchParams) is read the way `search` reads it (parse.py for the text,
filters.py `filter_query` for sources, language and any filter added there later, the
`from`/`to` range on the publication date), and evaluated by the vectorised executor (whole
posting arrays, scored as the search scores) instead of one Whoosh match at a time.
Near-duplicate copies are then collapsed as the search total collapses them (groups.py):
each story counts once, at its earliest-published matching copy, so a timeline's counts add
up to the search total.

Per index commit, the columns these views need (publication stamp, story key, source, live
documents) are read once into arrays and kept.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
from whoosh.collectors import TimeLimit
from whoosh.query import (
    And,
    ConstantScoreQuery,
    Every,
    Query,
)
from whoosh.searching import Searcher
from whoosh.util.times import datetime_to_long

from search_service.index.schema import NO_DATE, naive_utc
from search_service.search import executor
from search_service.search.engine import Deadline
from search_service.search.expand import expand_query
from search_service.search.filters import filter_query
from search_service.search.params import QueryError, SearchParams, past_time_limit
from search_service.search.parse import parse_query
from search_service.search.rank import weighting

log = logging.getLogger(__name__)

#: The `stamps` value of an article without a publication date (sorts after every date).
UNDATED = np.iinfo(np.int64).max
#: Whoosh's datetime columns count microseconds from 0001-01-01; numpy from 1970-01-01.
EPOCH = datetime_to_long(datetime(1970, 1, 1))
#: Sets of segments (commits) whose columns are kept.
KEEP_COMMITS = 4


@dataclass(frozen=True, eq=False)
class Columns:
    """Per-document arrays over the whole index (global document numbers); compared and
    hashed by identity (one object per commit)."""

    live: np.ndarray  # bool: not deleted
    stamps: np.ndarray  # int64: publication time (Whoosh microseconds), UNDATED for none
    story: np.ndarray  # int64: the story a document belongs to (shared by near-duplicates)
    source: np.ndarray  # int32: index into `sources`
    sources: tuple[str, ...]


@dataclass(frozen=True)
class Matches:
    """The documents a request matches: sorted global numbers, a score for each; and the
    words searched (the query as expanded, for highlighting) with what expansion added, in
    the search answer's shape (expand.py)."""

    docs: np.ndarray
    scores: np.ndarray
    query: Query = field(default_factory=Every)
    expanded: tuple[dict, ...] = ()


_lock = threading.Lock()
_columns: dict[int, tuple[executor.IndexColumns, Columns]] = {}


def columns_of(searcher: Searcher) -> Columns:
    """Return the index's per-document arrays as `searcher` sees it: the executor's
    index-wide columns (read once per commit) in the shapes the research views use."""
    cols = executor.index_columns(searcher)
    with _lock:
        found = _columns.get(id(cols))
    if found is not None and found[0] is cols:
        return found[1]
    size = len(cols.live)
    published = cols.published
    stamps = np.where(published == np.uint64(NO_DATE), UNDATED,
                      np.minimum(published, np.uint64(UNDATED)).astype(np.int64))
    story = np.where(cols.group >= 0, size + cols.group.astype(np.int64),
                     np.arange(size, dtype=np.int64))
    codes, terms = cols.codes["source_key"]
    sources = tuple(t.decode("utf-8") for t in terms) + ("",)  # the last: no source
    source = np.where(codes >= 0, codes, len(terms)).astype(np.int32)
    made = Columns(cols.live, stamps, story, source, sources)
    with _lock:
        while len(_columns) >= KEEP_COMMITS:
            _columns.pop(next(iter(_columns)))
        _columns[id(cols)] = (cols, made)
    return made


def deadline_of(params: SearchParams) -> float:
    """The monotonic time by which a request started now must have matched (its time limit,
    as the search's: SEARCH_TIME_LIMIT in the web app)."""
    return time.monotonic() + params.time_limit


def match(searcher: Searcher, params: SearchParams, text: bool = True,
          deadline: float | None = None) -> Matches:
    """Every document matching the request's query (with `text`; without: every document)
    and its filters, deleted documents left out. Matching words must end by the monotonic
    `deadline` (default: the request's time limit from now), or the request is refused
    (params.past_time_limit): a count of part of the index would pass for the whole. A
    request without words (every document) reads columns only and has no deadline."""
    text_query, info = expand_query(searcher, parse_query(searcher, params.q if text else ""),
                                    params.expand)
    query = text_query
    filter_ = filter_query(params, dates=False)
    if filter_ is not None:
        query = And([query, ConstantScoreQuery(filter_, score=0.0)])
    columns = columns_of(searcher)
    if isinstance(text_query, Every):
        deadline = None
    elif deadline is None:
        deadline = deadline_of(params)
    try:
        docs, scores = _evaluate(searcher, query, deadline)
    except TimeLimit:
        raise past_time_limit(params) from None
    except QueryError:
        raise
    except Exception as exc:
        raise QueryError(f"cannot run query {params.q!r}: {exc}") from exc
    keep = columns.live[docs]
    if params.date_from or params.date_to:
        low = datetime_to_long(naive_utc(params.date_from)) if params.date_from else 0
        high = datetime_to_long(naive_utc(params.date_to)) if params.date_to else UNDATED - 1
        stamps = columns.stamps[docs]
        keep &= (stamps >= low) & (stamps <= high)
    return Matches(docs[keep], scores[keep], text_query, tuple(info["expanded"]))


def stories(columns: Columns, matches: Matches) -> np.ndarray:
    """One document per matching story: its earliest-published matching copy (undated
    copies last, then the lowest number), as sorted global numbers."""
    docs = matches.docs
    if not len(docs):
        return docs
    keys = columns.story[docs]
    order = np.lexsort((docs, columns.stamps[docs], keys))
    ordered = keys[order]
    first = np.ones(len(order), dtype=bool)
    first[1:] = ordered[1:] != ordered[:-1]
    return np.sort(docs[order[first]])


def top_stories(columns: Columns, matches: Matches, limit: int) -> list[tuple[int, int]]:
    """The `limit` best-scoring stories (newest first among equals) as (document number,
    matching copies collapsed into it)."""
    docs, scores = matches.docs, matches.scores
    if not len(docs):
        return []
    keys = columns.story[docs]
    unique, copies = np.unique(keys, return_counts=True)
    counts = dict(zip(unique.tolist(), copies.tolist(), strict=True))
    order = np.lexsort((docs, -columns.stamps[docs].astype(np.float64), -scores))
    chosen: list[tuple[int, int]] = []
    seen: set[int] = set()
    for i in order.tolist():
        key = int(keys[i])
        if key in seen:
            continue
        seen.add(key)
        chosen.append((int(docs[i]), counts[key] - 1))
        if len(chosen) == limit:
            break
    return chosen


# -- evaluating a query ------------------------------------------------------------------------

def _evaluate(searcher: Searcher, query: Query, deadline: float | None
              ) -> tuple[np.ndarray, np.ndarray]:
    """The live global document numbers `query` matches (ascending) and the search's score
    for each: the vectorised executor's, or Whoosh's for a shape it leaves to Whoosh;
    TimeLimit once the monotonic `deadline` (if any) has passed."""
    try:
        docs, scores, late = executor.match(searcher, query, deadline, weighting=weighting())
    except executor.Unsupported as why:
        log.debug("research query %r goes to the Whoosh path: %s", query, why)
    else:
        if late:
            raise TimeLimit
        return docs, scores
    collector = searcher.collector(limit=None)
    if deadline is not None:
        collector = Deadline(collector, deadline)
    searcher.search_with_collector(query, collector)
    found = sorted((hit.docnum, hit.score) for hit in collector.results())
    return (np.fromiter((d for d, _ in found), dtype=np.int64, count=len(found)),
            np.fromiter((s for _, s in found), dtype=np.float64, count=len(found)))
