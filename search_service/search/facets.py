"""Facets of a result set: matches per source and per collection, and a publication-date
histogram."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from typing import Any

from whoosh import sorting
from whoosh.query import (
    Query,
)
from whoosh.searching import Searcher


def facets(searcher: Searcher, query: Query) -> dict[str, Any]:
    """Count matches per source (top 20), per collection and per date bucket sized to the
    results' span."""
    results = searcher.search(
        query, limit=1,
        groupedby={"source": sorting.FieldFacet("source_key", maptype=sorting.Count),
                   "collection": sorting.FieldFacet("collection", allow_overlap=True,
                                                    maptype=sorting.Count),
                   "day": sorting.FieldFacet("published", maptype=sorting.Count)})
    sources = Counter(results.groups("source"))
    collections = Counter({name: n for name, n in results.groups("collection").items()
                           if name})
    days = {day: n for day, n in results.groups("day").items() if isinstance(day, datetime)}
    return {
        "sources": [{"source": s, "count": n} for s, n in
                    sorted(sources.items(), key=lambda kv: (-kv[1], kv[0]))[:20]],
        "collections": [{"collection": c, "count": n} for c, n in
                        sorted(collections.items(), key=lambda kv: (-kv[1], kv[0]))],
        "dates": histogram(days),
    }


def histogram(counts: dict[datetime, int]) -> dict[str, Any]:
    """Bucket publication times by day, week, month or year, following their span."""
    if not counts:
        return {"bucket": None, "counts": []}
    span = max(counts) - min(counts)
    bucket = ("day" if span <= timedelta(days=31) else "week" if span <= timedelta(weeks=26)
              else "month" if span <= timedelta(days=366 * 5) else "year")
    buckets: Counter = Counter()
    for moment, n in counts.items():
        buckets[bucket_start(moment, bucket)] += n
    first, last = min(buckets), max(buckets)
    out, current = [], first
    while current <= last:  # include empty buckets so the timeline is continuous
        following = next_bucket(current, bucket)
        out.append({"start": current.date().isoformat(),
                    "end": (following - timedelta(days=1)).date().isoformat(),
                    "count": buckets.get(current, 0)})
        current = following
    return {"bucket": bucket, "counts": out}


def bucket_start(moment: datetime, bucket: str) -> datetime:
    """Return the start of the bucket that holds `moment`."""
    day = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    if bucket == "week":
        return day - timedelta(days=day.weekday())
    if bucket == "month":
        return day.replace(day=1)
    if bucket == "year":
        return day.replace(month=1, day=1)
    return day


def next_bucket(start: datetime, bucket: str) -> datetime:
    """Return the start of the bucket after the one starting at `start`."""
    if bucket == "day":
        return start + timedelta(days=1)
    if bucket == "week":
        return start + timedelta(weeks=1)
    if bucket == "month":
        return (start.replace(day=28) + timedelta(days=4)).replace(day=1)
    return start.replace(year=start.year + 1)
