"""Sort orders: by publication date, and the `best` blend of relevance and recency."""

from __future__ import annotations

import math
from bisect import bisect_right
from datetime import datetime, timedelta, timezone

from whoosh import scoring, sorting
from whoosh.searching import Hit, Searcher
from whoosh.util.times import datetime_to_long

from search_service.search.filters import NO_DATE

#: BM25 parameters per field (k1, b), chosen on the tuning half of benchmarks/relevance.py.
FIELD_BM25 = {"title": (1.2, 0.75), "body": (1.2, 0.75)}


class FieldBM25F(scoring.BM25F):
    """Whoosh's BM25F with a k1 per field too (`<field>_K1`, beside Whoosh's `<field>_B`)."""

    def __init__(self, B: float = 0.75, K1: float = 1.2, **kwargs: float):
        super().__init__(B=B, K1=K1, **kwargs)
        self._field_K1 = {k[:-3]: v for k, v in kwargs.items() if k.endswith("_K1")}

    def scorer(self, searcher, fieldname, text, qf=1):
        if not searcher.schema[fieldname].scorable:
            return scoring.WeightScorer.for_(searcher, fieldname, text)
        return scoring.BM25FScorer(searcher, fieldname, text,
                                   self._field_B.get(fieldname, self.B),
                                   self._field_K1.get(fieldname, self.K1), qf=qf)


def weighting(**overrides: float) -> FieldBM25F:
    """The scoring model of every search: BM25F with FIELD_BM25's per-field k1 and b
    (`overrides` such as title_K1=… replace them, for tuning)."""
    params: dict[str, float] = {}
    for field, (k1, b) in FIELD_BM25.items():
        params[f"{field}_K1"], params[f"{field}_B"] = k1, b
    params.update(overrides)
    return FieldBM25F(**params)


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
