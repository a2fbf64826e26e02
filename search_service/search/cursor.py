"""A story order that commits cannot reshuffle, for cursor paging (`cursor` / `next_cursor`,
search_after style) and for export.

Every matching story (near-duplicate copies collapsed, as the search total counts them) gets
a position: its publication stamp, then its story key (the `cluster` id, the id of the
story's first indexed copy), as numbers. A story's stamp is that of its first copy (the
document whose id is the story key) while that copy is in the index, so a copy arriving
later never moves it; only a story whose date is corrected moves. Newer commits add and
remove stories but never change the position of another, so a cursor (the position of the
last story shown) resumes after it with nothing repeated and nothing skipped of what was
there when paging began. Relevance sorts are refused: a commit changes every score.

Positions come from two per-segment columns that every search shares (columns.py: the
publication stamp, and the story key as a number), read once per segment (segments never
change) as numpy arrays, so ordering 100,000 matches costs a few numpy sorts.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
from whoosh.query import And, ConstantScoreQuery, Every, Query
from whoosh.searching import Searcher

from search_service.index.related import StoredHit
from search_service.search import executor
from search_service.search.columns import columns_of, segment_key
from search_service.search.expand import expand_query
from search_service.search.filters import NO_DATE, PublishedWithin, filter_query
from search_service.search.groups import groups_of
from search_service.search.params import QueryError, SearchParams, past_time_limit
from search_service.search.parse import QUERY_FIELDS, parse_query

log = logging.getLogger(__name__)

#: The cursor that starts paging.
START = "*"
#: Commits (sets of segments) whose story leads are remembered.
KEEP_COMMITS = 4
#: Story keys whose first copy's stamp is remembered across commits (about 100 bytes each).
KEEP_KNOWN = 1_000_000
_VERSION = 1

_lock = threading.Lock()
_leads: dict[tuple, tuple[np.ndarray, np.ndarray]] = {}
#: Story key → its first copy's stamp, kept across commits (a first copy's date does not
#: change), so a commit only looks up the stories new since the last.
_known: dict[int, int] = {}


@dataclass(frozen=True)
class StoryOrder:
    """The matching stories in order: a representative document of each (its first copy
    when that matches), its position (`primary` then `key`) and its matching copies."""

    docnums: np.ndarray
    primary: np.ndarray
    keys: np.ndarray
    copies: np.ndarray

    def __len__(self) -> int:
        return len(self.docnums)

    def after(self, primary: int, key: int) -> int:
        """The index of the first story positioned after (primary, key)."""
        start = int(np.searchsorted(self.primary, primary, side="left"))
        end = int(np.searchsorted(self.primary, primary, side="right"))
        return start + int(np.searchsorted(self.keys[start:end], key, side="right"))


def matching_query(searcher: Searcher, params: SearchParams) -> tuple[Query, Query]:
    """The query with its filters, and the text query alone (for highlighting)."""
    text_query = expand_query(searcher, parse_query(searcher, params.q), params.expand)[0]
    browsing = isinstance(text_query, Every)
    query = text_query
    filter_ = filter_query(params, dates=browsing)
    if filter_ is not None:
        query = And([query, ConstantScoreQuery(filter_, score=0.0)])
    if not browsing and (params.date_from or params.date_to):
        query = PublishedWithin(query, params.date_from, params.date_to)
    return query, text_query


def story_order(searcher: Searcher, params: SearchParams) -> StoryOrder:
    """Order the stories the request matches, newest or oldest first (undated ones last)."""
    found = _matches(searcher, params)
    if found is None:
        empty = np.zeros(0, dtype=np.uint64)
        return StoryOrder(np.zeros(0, dtype=np.int64), empty, empty, np.zeros(0, np.int64))
    # Arrays are dropped as soon as they are used: the peak is what grows with the result.
    docnums, own, key = found
    del found
    story = own.copy()
    lead_keys, lead_stamps = _lead_stamps(searcher)
    if len(lead_keys):
        at = np.minimum(np.searchsorted(lead_keys, key), len(lead_keys) - 1)
        found = lead_keys[at] == key
        story[found] = lead_stamps[at[found]]
        del at, found
    later_copy = own != story
    del own
    primary = story if params.sort == "oldest" else np.where(
        story == NO_DATE, np.uint64(NO_DATE), np.uint64(NO_DATE - 1) - story)
    del story
    # By position; within a story its first copy (stamp = the story's) first, then docnum.
    order = np.lexsort((docnums, later_copy, key, primary))
    del later_copy
    key = key[order]
    primary = primary[order]
    docnums = docnums[order]
    del order
    starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
    copies = np.diff(np.r_[starts, len(key)])
    return StoryOrder(docnums[starts], primary[starts], key[starts], copies)


def _matches(searcher: Searcher, params: SearchParams
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """The documents the request matches (global numbers), each one's publication stamp and
    story key; None when nothing matches. The vectorised executor matches (with the search's
    filters, on arrays); a query shape it leaves to Whoosh runs Whoosh's matchers. Matching
    past the request's time limit is refused (params.past_time_limit): a cursor or an export
    of part of the matches would skip stories without saying so."""
    text_query = expand_query(searcher, parse_query(searcher, params.q), params.expand)[0]
    deadline = time.monotonic() + params.time_limit
    try:
        _, docnums, _, late = executor.filtered_matches(searcher, text_query, params,
                                                        isinstance(text_query, Every), deadline)
    except executor.Unsupported as why:
        log.debug("cursor query %r goes to the Whoosh path: %s", params.q, why)
        docnums = None
    else:
        if late:
            raise past_time_limit(params)
    leaves = searcher.leaf_searchers()
    if docnums is not None:
        if not len(docnums):
            return None
        columns = [_segment_columns(sub) for sub, _ in leaves]
        stamps = _joined([c[0] for c in columns])
        keys = _joined([c[1] for c in columns])
        return docnums, stamps[docnums], keys[docnums]
    query, _ = matching_query(searcher, params)
    docs, stamps, keys = [], [], []
    for sub, offset in leaves:
        local = np.fromiter(_until(query.matcher(sub).all_ids(), deadline, params),
                            dtype=np.int64)
        if not len(local):
            continue
        seg_stamps, seg_keys = _segment_columns(sub)
        docs.append(local + offset)
        stamps.append(seg_stamps[local])
        keys.append(seg_keys[local])
    if not docs:
        return None
    return _joined(docs), _joined(stamps), _joined(keys)


def _until(ids: Iterator[int], deadline: float, params: SearchParams) -> Iterator[int]:
    """Pass `ids` on; params.past_time_limit once the monotonic `deadline` has passed
    (looked at on the first id and every 1,024th after)."""
    for count, docnum in enumerate(ids):
        if not count % 1024 and time.monotonic() > deadline:
            raise past_time_limit(params)
        yield docnum


def _joined(parts: list[np.ndarray]) -> np.ndarray:
    """One array of the parts (the part itself when there is one: no copy)."""
    return parts[0] if len(parts) == 1 else np.concatenate(parts)


def cursor_search(searcher: Searcher, params: SearchParams) -> dict[str, Any]:
    """One page of results after `params.cursor`, in the search result shape plus
    `next_cursor` (None on the last page)."""
    from search_service.search.engine import result_item  # engine dispatches here
    from search_service.search.highlight import query_words

    started = time.perf_counter()
    _, text_query = matching_query(searcher, params)
    order = story_order(searcher, params)
    first = 0
    if params.cursor != START:
        primary, key = decode(params.cursor, params)
        first = order.after(primary, key)
    last = min(first + params.per_page, len(order))
    words = None if isinstance(text_query, Every) else {
        name: query_words(text_query, searcher.reader(), name) for name in QUERY_FIELDS}
    items = [result_item(StoredHit(searcher.stored_fields(int(order.docnums[i]))), words,
                         similar=int(order.copies[i]) - 1) for i in range(first, last)]
    next_cursor = (encode(int(order.primary[last - 1]), int(order.keys[last - 1]), params)
                   if last < len(order) else None)
    return {
        "query": params.q,
        "total": len(order),
        "page": 1,
        "per_page": params.per_page,
        "sort": params.sort,
        "from": params.date_from.isoformat() if params.date_from else None,
        "to": params.date_to.isoformat() if params.date_to else None,
        "sources": list(params.sources),
        "lang": params.lang or None,
        "partial": False,
        "suggestion": None,
        "took_ms": round((time.perf_counter() - started) * 1000, 1),
        "results": items,
        "next_cursor": next_cursor,
    }


def encode(primary: int, key: int, params: SearchParams) -> str:
    """The cursor after the story at (primary, key) of this query and sort."""
    raw = json.dumps([_VERSION, params.sort, primary, key, _fingerprint(params)],
                     separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode(cursor: str, params: SearchParams) -> tuple[int, int]:
    """The position a cursor holds; QueryError if it is not one of this query and sort."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        version, sort, primary, key, fingerprint = json.loads(raw)
        primary, key = int(primary), int(key)
        if version != _VERSION or not (0 <= primary <= NO_DATE and 0 <= key < 2**64):
            raise ValueError
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
        raise QueryError(f"cursor {cursor[:40]!r} is not one this service gave (start with "
                         f"cursor={START}, then pass each next_cursor)") from None
    if sort != params.sort or fingerprint != _fingerprint(params):
        raise QueryError("this cursor belongs to another query, filter or sort: keep them "
                         "as they were when paging began")
    return primary, key


def _fingerprint(params: SearchParams) -> str:
    """A short digest of what a cursor's query matches (dates aside: relative dates move)."""
    text = json.dumps([params.q, sorted(params.sources), params.lang.lower(),
                       sorted(params.collections)])
    return hashlib.sha1(text.encode()).hexdigest()[:12]


def _segment_columns(sub: Searcher) -> tuple[np.ndarray, np.ndarray]:
    """Each document's publication stamp (NO_DATE if none) and story key (0 if none), for
    one segment: the per-segment columns every search shares (columns.py)."""
    reader = sub.reader()
    columns = columns_of(reader)
    return columns.get("published", reader), columns.get("story_key", reader)


def _key_number(value: bytes | str) -> int:
    """A story key (16 hex digits) as a number (0 if the document has none)."""
    try:
        return int(value, 16)
    except (TypeError, ValueError):
        return 0


def _lead_stamps(searcher: Searcher) -> tuple[np.ndarray, np.ndarray]:
    """For each story of two or more copies: its key and its first copy's stamp (sorted by
    key); the earliest copy's stamp if the first copy is gone when the story is first seen.
    A story keeps the stamp it was first given in this process (see `_known`)."""
    leaves = searcher.leaf_searchers()
    signature = tuple(segment_key(s.reader()) for s, _ in leaves)
    with _lock:
        found = _leads.get(signature)
    if found is not None:
        return found
    groups = groups_of(searcher)
    reader = searcher.reader()
    # Every document's stamp by global number (segments in order), for vectorised lookups.
    stamps = _joined([_segment_columns(sub)[0] for sub, _ in leaves])
    keys: list[int] = []
    leads: list[int] = []
    members: dict[bytes, list[int]] = {}
    for docnum, key in groups.members.items():
        members.setdefault(key, []).append(docnum)
    with _lock:
        known = dict(_known)
    for key, docnums in members.items():
        text = key.decode("ascii", "replace").strip() if isinstance(key, bytes) else str(key)
        number = _key_number(text)
        if number not in known:  # a story new since an earlier commit: find its first copy
            try:
                lead = reader.first_id("id", text)
            except Exception:  # Whoosh raises when the term is absent
                lead = None
            if lead is None or reader.is_deleted(lead):
                lead = min(docnums, key=lambda d: int(stamps[d]))  # the first copy is gone
            known[number] = int(stamps[lead])
        keys.append(number)
        leads.append(known[number])
    order = np.argsort(np.array(keys, dtype=np.uint64), kind="stable")
    found = (np.array(keys, dtype=np.uint64)[order], np.array(leads, dtype=np.uint64)[order])
    with _lock:
        if len(known) > KEEP_KNOWN:
            known.clear()
        _known.clear()
        _known.update(known)
    with _lock:
        if len(_leads) >= KEEP_COMMITS:
            _leads.pop(next(iter(_leads)))
        _leads[signature] = found
    return found
