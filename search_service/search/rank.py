"""Ranking: the one scoring model of every search (BM25F with per-field k1, b, weight and, for
the title, a fixed idf), the date sorts, and the `best` order (relevance bands, newest first in
each). docs/ranking.md says how they were chosen and what they achieve."""

from __future__ import annotations

from bisect import bisect_right
from datetime import datetime, timezone

import numpy as np
from whoosh import sorting
from whoosh.searching import Hit, Searcher
from whoosh.util.times import datetime_to_long

from search_service.index.schema import NO_DATE
from search_service.index.whoosh_compat import FieldBM25F

#: BM25F parameters per field: k1, b, the weight multiplying the field's part of the score,
#: and a fixed idf for the field (None: the term's own idf), chosen on the tuning half of
#: benchmarks/relevance.py (docs/ranking.md). A title word scores as a word of idf 5 (one in
#: about 55 stories) whatever its rarity: the body already counts how rare it is.
FIELD_BM25: dict[str, tuple[float, float, float, float | None]] = {
    "title": (1.2, 0.0, 0.35, 5.0),
    "body": (0.9, 0.2, 1.0, None),
}


def weighting(**overrides: float | None) -> FieldBM25F:
    """The scoring model of every search: BM25F with FIELD_BM25's per-field k1, b, weight and
    fixed idf (`overrides` such as title_K1=… or title_IDF=None replace them, for tuning)."""
    params: dict[str, float | None] = {}
    for field, (k1, b, weight, idf) in FIELD_BM25.items():
        params[f"{field}_K1"], params[f"{field}_B"], params[f"{field}_W"] = k1, b, weight
        params[f"{field}_IDF"] = idf
    params.update(overrides)
    return FieldBM25F(**params)


#: The "best" sort's band: hits scoring at least (1 − BAND) × a band's leading score are
#: comparably relevant and shown newest first (see blend_best), chosen on the tuning half of
#: benchmarks/relevance.py.
BAND = 0.1


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


def blend_best(scores: np.ndarray, stamps: np.ndarray, now: int, band: float = BAND,
               top: int | None = None) -> np.ndarray:
    """Sort keys of the `best` order (higher first): relevance bands, newest first in each.

    Walking down the scores, the best hit not yet placed leads a band that takes every hit
    scoring at least (1 − band) × its score; bands keep relevance order, and inside a band
    hits go newest first (stamps after `now` count as `now`; undated hits last), then by
    score. So a hit never passes one that scores more than 1 / (1 − band) times its own,
    and the bands of the best hits do not depend on how many weaker hits are passed in.
    `stamps` are `published` column values (NO_DATE if undated), `now` in the same unit.

    With `top`, only the bands holding the `top` best-scored hits are ordered (the rest of
    the scores need not be sorted): those hits' keys are as above and above every other
    key; the others' keys are 0. Ties keep the order of the input, in both cases.
    """
    scores = np.asarray(scores, dtype=np.float64)
    stamps = np.asarray(stamps, dtype=np.uint64)
    count = len(scores)
    if not count:
        return np.zeros(0, dtype=np.float64)
    region = None
    if top is not None and scores.min() >= 0:  # (a negative score's band may be cut short)
        region = _leading_bands(scores, top, band)
    if region is None:
        chosen = np.arange(count)
        order = np.argsort(-scores, kind="stable")
        falling = -scores[order]  # ascending, for searchsorted
        bands = np.empty(count, dtype=np.int64)
        start, number = 0, 0
        while start < count:
            # The first hit scoring below this band's floor.
            stop = int(np.searchsorted(falling, falling[start] * (1 - band), side="right"))
            stop = max(stop, start + 1)
            bands[order[start:stop]] = number
            start, number = stop, number + 1
    else:
        chosen, floors = region
        # A hit's band: how many of the bands' floors lie above its score.
        bands = np.searchsorted(floors, -scores[chosen], side="left")
    stamp = stamps[chosen]
    dated = stamp != np.uint64(NO_DATE)
    when = np.where(dated, np.minimum(stamp, np.uint64(max(now, 0))), 0).astype(np.float64)
    when = np.where(dated, when, -1.0)
    ranked = np.lexsort((-scores[chosen], -when, bands))  # band, then newest, then score
    keys = np.zeros(count, dtype=np.float64)
    keys[chosen[ranked]] = np.arange(count, count - len(chosen), -1, dtype=np.float64)
    return keys


def _leading_bands(scores: np.ndarray, top: int, band: float
                   ) -> tuple[np.ndarray, np.ndarray] | None:
    """For scores that are not negative: (positions, ascending, of the hits in the bands
    that hold the `top` best-scored hits; those bands' floors as negated scores, ascending),
    found from a partial sort of the best scores, or None when that is no cheaper than
    sorting them all. A band's floor is (1 − band) × the score of the best hit not yet in
    a band, so with no negative score each band holds its leader and the floors ascend."""
    count = len(scores)
    window = max(4 * top, 256)
    while window < count // 2:
        best = np.argpartition(scores, count - window)[count - window:]
        falling = np.sort(-scores[best])  # the best scores, negated: ascending
        floors, start = [], 0
        while start < top:
            floor = falling[start] * (1 - band)
            start = int(np.searchsorted(falling, floor, side="right"))
            if start >= window:  # this band may go on past the window: a larger one
                break
            floors.append(floor)
        else:
            return np.flatnonzero(-scores <= floors[-1]), np.array(floors)
        window *= 4
    return None


def rank_best(searcher: Searcher, hits: list[Hit]) -> list[Hit]:
    """Re-rank hits (best first by relevance) by blend_best."""
    if not hits:
        return hits
    stamps = _stamps(searcher, [hit.docnum for hit in hits])
    now = datetime_to_long(datetime.now(timezone.utc).replace(tzinfo=None))
    keys = blend_best(np.array([hit.score for hit in hits]),
                      np.array([stamps[hit.docnum] for hit in hits], dtype=np.uint64), now)
    return [hits[i] for i in np.argsort(-keys, kind="stable")]


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
