"""Every story a request matches, as numpy arrays: the base of the research views (timeline,
compare, significant terms).

A request (SearchParams) is read the way `search` reads it (parse.py for the text,
filters.py `filter_query` for sources, language and any filter added there later, the
`from`/`to` range on the publication date), but evaluated over whole posting arrays
(index/postings.py) instead of one Whoosh match at a time. Near-duplicate copies are then
collapsed as the search total collapses them (groups.py): each story counts once, at its
earliest-published matching copy, so a timeline's counts add up to the search total.

Per index commit, the columns these views need (publication stamp, story key, source, live
documents) are read once into arrays and kept.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from whoosh.query import (
    And,
    AndMaybe,
    AndNot,
    ConstantScoreQuery,
    DisjunctionMax,
    Every,
    Not,
    NullQuery,
    Or,
    Phrase,
    Query,
    Require,
    Term,
)
from whoosh.searching import Searcher
from whoosh.util.times import datetime_to_long

from search_service.index.postings import segment_id, term_postings
from search_service.index.schema import naive_utc
from search_service.search.filters import filter_query
from search_service.search.groups import groups_of
from search_service.search.params import QueryError, SearchParams
from search_service.search.parse import parse_query

#: The `stamps` value of an article without a publication date (sorts after every date).
UNDATED = np.iinfo(np.int64).max
#: Whoosh's datetime columns count microseconds from 0001-01-01; numpy from 1970-01-01.
EPOCH = datetime_to_long(datetime(1970, 1, 1))
#: BM25's term-frequency saturation (no length normalisation here: a cheap ranking of the
#: few stories a comparison shows, not the search's ranking).
K1 = 1.2
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
    """The documents a request matches: sorted global numbers, a score for each."""

    docs: np.ndarray
    scores: np.ndarray


_lock = threading.Lock()
_columns: dict[tuple, Columns] = {}


def columns_of(searcher: Searcher) -> Columns:
    """Return the index's per-document arrays as `searcher` sees it (read once per commit)."""
    leaves = searcher.leaf_searchers()
    signature = tuple((segment_id(s.reader()), s.reader().doc_count()) for s, _ in leaves)
    with _lock:
        found = _columns.get(signature)
    if found is not None:
        return found
    size = searcher.reader().doc_count_all()
    live = np.zeros(size, dtype=bool)
    stamps = np.full(size, UNDATED, dtype=np.int64)
    names: list[str] = []
    for sub, offset in leaves:
        reader = sub.reader()
        count = reader.doc_count_all()
        live[offset:offset + count] = [not reader.is_deleted(d) for d in range(count)]
        if reader.has_column("published"):
            column = reader.column_reader("published", translate=False)
            raw = np.fromiter(column, dtype=np.uint64, count=count)
            dated = raw < np.uint64(2**63)  # the column's default for no date is 2**64 - 1
            stamps[offset:offset + count][dated] = raw[dated].astype(np.int64)
        if reader.has_column("source_key"):
            names.extend(reader.column_reader("source_key"))
        else:
            names.extend([""] * count)
    sources, source = np.unique(np.array(names, dtype=object).astype(str), return_inverse=True)
    story = np.arange(size, dtype=np.int64)
    members = groups_of(searcher).members
    if members:
        keys: dict[bytes, int] = {}
        docnums = np.fromiter(members, dtype=np.int64, count=len(members))
        story[docnums] = [size + keys.setdefault(members[d], len(keys)) for d in members]
    found = Columns(live, stamps, story, source.astype(np.int32), tuple(sources.tolist()))
    with _lock:
        if len(_columns) >= KEEP_COMMITS:
            _columns.pop(next(iter(_columns)))
        _columns[signature] = found
    return found


def match(searcher: Searcher, params: SearchParams, text: bool = True) -> Matches:
    """Every document matching the request's query (with `text`; without: every document)
    and its filters, deleted documents left out."""
    query = parse_query(searcher, params.q if text else "")
    filter_ = filter_query(params, dates=False)
    if filter_ is not None:
        query = And([query, ConstantScoreQuery(filter_, score=0.0)])
    columns = columns_of(searcher)
    try:
        docs, scores = _evaluate(searcher, query)
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
    return Matches(docs[keep], scores[keep])


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


# -- evaluating a query over posting arrays ------------------------------------------------------

def _evaluate(searcher: Searcher, query: Query) -> tuple[np.ndarray, np.ndarray]:
    """The global document numbers `query` matches (sorted) and a score for each."""
    ids, scores = [], []
    total = max(searcher.doc_count_all(), 1)
    for sub, offset in searcher.leaf_searchers():
        local, score = _node(sub, query, total)
        ids.append(local + offset)
        scores.append(score)
    if not ids:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
    return np.concatenate(ids), np.concatenate(scores)


def _node(sub: Searcher, node: Query, total: int) -> tuple[np.ndarray, np.ndarray]:
    """Evaluate one query node over one segment: sorted local numbers and scores."""
    if isinstance(node, Term):
        field = sub.schema[node.fieldname]
        ids, freqs = term_postings(sub.reader(), node.fieldname,
                                   field.to_bytes(node.text) if not isinstance(node.text, bytes)
                                   else node.text)
        idf = math.log(1 + total / max(sub.doc_frequency(node.fieldname, node.text), 1))
        boost = node.boost * getattr(field, "field_boost", 1.0)
        return ids, (boost * idf * freqs * (K1 + 1) / (freqs + K1)).astype(np.float32)
    if isinstance(node, Every):
        ids = np.arange(sub.reader().doc_count_all(), dtype=np.int64)
        return ids, np.zeros(len(ids), dtype=np.float32)
    if isinstance(node, type(NullQuery)):
        return _empty()
    if isinstance(node, ConstantScoreQuery):
        ids, _ = _node(sub, node.child, total)
        return ids, np.full(len(ids), node.score, dtype=np.float32)
    if isinstance(node, (And, Require)):
        positive = [c for c in node.children() if not isinstance(c, Not)]
        negative = [c.query for c in node.children() if isinstance(c, Not)]
        if not positive:
            positive = [Every()]
        ids, scores = _node(sub, positive[0], total)
        for child in positive[1:]:
            if not len(ids):
                break
            other, other_scores = _node(sub, child, total)
            ids, scores = _intersect(ids, scores, other, other_scores)
        for child in negative:
            ids, scores = _exclude(ids, scores, _node(sub, child, total)[0])
        return ids, scores
    if isinstance(node, (Or, DisjunctionMax)):
        parts = [_node(sub, c, total) for c in node.children()]
        return _union(parts)
    if isinstance(node, AndNot):
        ids, scores = _node(sub, node.a, total)
        return _exclude(ids, scores, _node(sub, node.b, total)[0])
    if isinstance(node, AndMaybe):
        ids, scores = _node(sub, node.a, total)
        extra, extra_scores = _node(sub, node.b, total)
        at = np.searchsorted(extra, ids)
        hit = (at < len(extra)) & (extra[np.minimum(at, len(extra) - 1)] == ids) \
            if len(extra) else np.zeros(len(ids), dtype=bool)
        scores = scores.copy()
        scores[hit] += extra_scores[at[hit]]
        return ids, scores
    if isinstance(node, Phrase) and node.words:
        # Whoosh checks positions (and costs ~2 ms a segment just to set up): only where
        # every word of the phrase occurs.
        field = sub.schema[node.fieldname]
        candidates = None
        for word in node.words:
            ids, _ = term_postings(sub.reader(), node.fieldname, field.to_bytes(word))
            candidates = ids if candidates is None else np.intersect1d(
                candidates, ids, assume_unique=True)
            if not len(candidates):
                return _empty()
        return _whoosh(sub, node)
    if isinstance(node, Not):
        every = np.arange(sub.reader().doc_count_all(), dtype=np.int64)
        return _exclude(every, np.zeros(len(every), dtype=np.float32),
                        _node(sub, node.query, total)[0])
    return _whoosh(sub, node)


def _whoosh(sub: Searcher, node: Query) -> tuple[np.ndarray, np.ndarray]:
    """Any other query (phrases, wildcards, ranges, fuzzy words): Whoosh's own matcher,
    every match scoring 1."""
    matcher = node.matcher(sub)
    ids = np.fromiter(matcher.all_ids(), dtype=np.int64)
    return ids, np.ones(len(ids), dtype=np.float32)  # matched, unranked


def _empty() -> tuple[np.ndarray, np.ndarray]:
    return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)


def _intersect(a, a_scores, b, b_scores):
    """Documents in both sorted arrays; their scores added."""
    common, ia, ib = np.intersect1d(a, b, assume_unique=True, return_indices=True)
    return common, a_scores[ia] + b_scores[ib]


def _exclude(ids, scores, drop):
    """Documents of `ids` not in `drop`."""
    if not len(drop) or not len(ids):
        return ids, scores
    keep = ~np.isin(ids, drop, assume_unique=True)
    return ids[keep], scores[keep]


def _union(parts):
    """Documents in any of the sorted arrays; their scores added."""
    parts = [p for p in parts if len(p[0])]
    if not parts:
        return _empty()
    if len(parts) == 1:
        return parts[0]
    ids = np.concatenate([p[0] for p in parts])
    scores = np.concatenate([p[1] for p in parts])
    unique, inverse = np.unique(ids, return_inverse=True)
    summed = np.zeros(len(unique), dtype=np.float32)
    np.add.at(summed, inverse, scores)
    return unique, summed
