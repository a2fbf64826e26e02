"""Sort orders: by publication date, and the `best` blend of relevance and recency."""

from __future__ import annotations

import math
from bisect import bisect_right
from datetime import datetime, timedelta, timezone

import numpy as np
from whoosh import sorting
from whoosh.searching import Hit, Searcher
from whoosh.util.times import datetime_to_long

from search_service.search.filters import NO_DATE

#: "best" sort: relevance × (1 + RECENCY_WEIGHT × 2^(−age / HALF_LIFE)), age from the newest
#: of the top BEST_WINDOW hits by relevance.
HALF_LIFE = timedelta(days=7)


RECENCY_WEIGHT = 1.0


#: Hits re-ranked by the "best" sort (beyond them, relevance order stands).
BEST_WINDOW = 200


def sort_facet(sort: str):
    """Return the Whoosh sort for `sort` (None: by score)."""
    if sort == "newest":
        return sorting.TranslateFacet(lambda v: 1 if v == NO_DATE else -v,
                                      sorting.FieldFacet("published"))
    if sort == "oldest":
        return sorting.FieldFacet("published")
    return None


def rank_best(searcher: Searcher, hits: list[Hit]) -> list[Hit]:
    """Re-rank hits by relevance × (1 + w · 2^(−age / half-life)).

    Age counts back from the newest hit (or now, if that is earlier), so an archive's
    latest stories get the boost as a live index's do. Undated hits keep their score.
    """
    stamps = _stamps(searcher, [hit.docnum for hit in hits])
    dated = [v for v in stamps.values() if v != NO_DATE]
    if not dated:
        return hits
    now = datetime_to_long(datetime.now(timezone.utc).replace(tzinfo=None))
    reference = min(now, max(dated))
    half_life = HALF_LIFE.total_seconds() * 10**6  # the column counts microseconds

    def blended(hit: Hit) -> float:
        stamp = stamps[hit.docnum]
        if stamp == NO_DATE:
            return hit.score
        age = max(0, reference - stamp)
        return hit.score * (1 + RECENCY_WEIGHT * math.pow(2, -age / half_life))

    return sorted(hits, key=blended, reverse=True)


def blend_best(scores: np.ndarray, stamps: np.ndarray, now: int) -> np.ndarray:
    """Keys for the `best` sort of every match (higher ranks first): relevance ×
    (1 + w · 2^(−age / half-life)), the vectorised form of rank_best.

    `stamps` are raw `published` column values (NO_DATE: undated, keeps its score), `now`
    in the same units (microseconds); age counts back from the newest match, or `now` if
    that is earlier.
    """
    scores = np.asarray(scores, dtype=np.float64)
    stamps = np.asarray(stamps, dtype=np.uint64)
    dated = stamps != np.uint64(NO_DATE)
    if not dated.any():
        return scores.copy()
    reference = min(int(now), int(stamps[dated].max()))
    half_life = HALF_LIFE.total_seconds() * 10**6
    age = np.maximum(0, reference - stamps[dated].astype(np.int64)).astype(np.float64)
    keys = scores.copy()
    keys[dated] = scores[dated] * (1 + RECENCY_WEIGHT * np.exp2(-age / half_life))
    return keys


def _stamps(searcher: Searcher, docnums: list[int]) -> dict[int, int]:
    """Publication stamps (column values; NO_DATE if none) of global document numbers.

    Reads each segment's own column: Whoosh's multi-segment column reader fails when a
    segment has no `published` column (none of its articles dated)."""
    leaves = [(offset, sub.reader()) for sub, offset in searcher.leaf_searchers()]
    starts = [offset for offset, _ in leaves]
    columns = {offset: reader.column_reader("published", translate=False)
               if reader.has_column("published") else None for offset, reader in leaves}
    stamps = {}
    for docnum in docnums:
        offset = starts[bisect_right(starts, docnum) - 1]
        column = columns[offset]
        stamps[docnum] = column[docnum - offset] if column is not None else NO_DATE
    return stamps
