"""Attention over time: how many stories match a request per day, week or month, against
how many stories the index holds in that period under the same filters (the share).

Counts are stories as the search total counts them (near-duplicates once, at their earliest
copy, see matches.py), so the counts of all buckets plus the undated stories add up to the
search total. The denominator of a bucket is every story passing the request's filters
(sources, language, collection…) but not its words, so a share reads "of what these sources
published that week, this much matched". Without filters that is every story in the index.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import Any

import numpy as np
from whoosh.searching import Searcher
from whoosh.util.times import datetime_to_long

from search_service.index.schema import naive_utc
from search_service.search.matches import (
    EPOCH,
    UNDATED,
    Columns,
    columns_of,
    match,
    stories,
)
from search_service.search.params import QueryError, SearchParams

INTERVALS = ("day", "week", "month")
#: Buckets a timeline may have (an explicit interval over a longer span is a QueryError).
MAX_BUCKETS = 1000
#: `auto` picks days up to this span, then weeks up to WEEKS_UP_TO, then months.
DAYS_UP_TO = timedelta(days=92)
WEEKS_UP_TO = timedelta(days=3 * 365)
MICROS_A_DAY = 86_400_000_000
#: Filter sets whose all-story bucket counts are remembered (per commit).
KEEP_UNIVERSES = 32


@dataclass(frozen=True)
class Dated:
    """The stories of one request: how many, and the publication stamps of the dated ones."""

    total: int
    stamps: np.ndarray  # int64 Whoosh stamps of the dated stories
    docs: np.ndarray  # every story's representative document (sorted)


def dated_stories(searcher: Searcher, params: SearchParams, text: bool = True) -> Dated:
    """The stories a request matches (with `text`; without, those passing its filters)."""
    columns = columns_of(searcher)
    docs = stories(columns, match(searcher, params, text=text))
    stamps = columns.stamps[docs]
    return Dated(len(docs), stamps[stamps != UNDATED], docs)


def check_interval(interval: str) -> str:
    """Return a valid interval name (day, week, month or auto) or raise QueryError."""
    interval = (interval or "auto").strip().lower()
    if interval not in (*INTERVALS, "auto"):
        raise QueryError(f"interval must be one of: {', '.join((*INTERVALS, 'auto'))}, "
                         f"not {interval!r}")
    return interval


def timeline(searcher: Searcher, params: SearchParams, interval: str = "auto") -> dict[str, Any]:
    """Stories matching the request per bucket, the stories under its filters, and the share."""
    interval = check_interval(interval)
    found = dated_stories(searcher, params)
    span = time_span(searcher, params, [found])
    chosen = pick_interval(interval, span)
    return {"query": params.q, "interval": chosen, "total": found.total,
            "undated": found.total - len(found.stamps),
            "buckets": buckets(searcher, params, found, chosen, span)}


def time_span(searcher: Searcher, params: SearchParams, found: list[Dated]
              ) -> tuple[int, int] | None:
    """The first and last stamps a timeline covers: the matches' dates, widened to the
    request's from/to but not beyond the dates the filtered index holds; None if no date."""
    stamps = [f.stamps for f in found if len(f.stamps)]
    if not stamps:
        return None
    first = min(int(s.min()) for s in stamps)
    last = max(int(s.max()) for s in stamps)
    universe = _universe(searcher, params)
    if params.date_from:
        first = min(first, max(datetime_to_long(naive_utc(params.date_from)), universe[0]))
    if params.date_to:
        last = max(last, min(datetime_to_long(naive_utc(params.date_to)), universe[1]))
    return first, last


def pick_interval(interval: str, span: tuple[int, int] | None) -> str:
    """The interval to use: the one asked for (checked against MAX_BUCKETS), or for `auto`
    days, weeks or months following the span."""
    if span is None:
        return "day" if interval == "auto" else interval
    length = timedelta(microseconds=span[1] - span[0])
    if interval == "auto":
        interval = ("day" if length <= DAYS_UP_TO else "week" if length <= WEEKS_UP_TO
                    else "month")
    keys = bucket_keys(np.array(span, dtype=np.int64), interval)
    count = _steps(int(keys[0]), int(keys[1]), interval) + 1
    if count > MAX_BUCKETS:
        raise QueryError(f"a timeline per {interval} from {_start(int(keys[0]), interval)} to "
                         f"{_start(int(keys[1]), interval)} has {count:,} buckets, at most "
                         f"{MAX_BUCKETS:,}: choose a longer interval or a shorter date range")
    return interval


def buckets(searcher: Searcher, params: SearchParams, found: Dated, interval: str,
            span: tuple[int, int] | None) -> list[dict[str, Any]]:
    """Every bucket of the span (empty ones included): first and last day, count, total and
    share."""
    if span is None:
        return []
    low, high = (int(k) for k in bucket_keys(np.array(span, dtype=np.int64), interval))
    counts = _bincount(bucket_keys(found.stamps, interval), low, high, interval)
    totals = _universe_counts(searcher, params, interval, low, high)
    out = []
    step = 7 if interval == "week" else 1
    for i, key in enumerate(_keys_between(low, high, interval)):
        count, total = int(counts[i]), int(totals[i])
        end = _start(key + step, interval) - timedelta(days=1)
        out.append({"start": _start(key, interval).isoformat(), "end": end.isoformat(),
                    "count": count, "total": total,
                    "share": round(count / total, 6) if total else 0.0})
    return out


def bucket_keys(stamps: np.ndarray, interval: str) -> np.ndarray:
    """Number each stamp's bucket: days (day, and the Monday of a week) or months since
    1970-01."""
    days = (stamps - EPOCH) // MICROS_A_DAY
    if interval == "day":
        return days
    if interval == "week":
        return days - (days + 3) % 7  # 1970-01-01 was a Thursday; weeks start on Monday
    return days.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)


def _start(key: int, interval: str) -> date:
    """The first day of the bucket numbered `key`."""
    if interval == "month":
        return date(1970 + key // 12, key % 12 + 1, 1)
    return date(1970, 1, 1) + timedelta(days=key)


def _steps(low: int, high: int, interval: str) -> int:
    """How many buckets after `low` the bucket `high` is."""
    return (high - low) // 7 if interval == "week" else high - low


def _keys_between(low: int, high: int, interval: str) -> range:
    """The bucket numbers from `low` to `high`."""
    return range(low, high + 1, 7 if interval == "week" else 1)


def _bincount(keys: np.ndarray, low: int, high: int, interval: str) -> np.ndarray:
    """Count keys per bucket from `low` to `high` (weeks: steps of 7 days)."""
    step = 7 if interval == "week" else 1
    size = (high - low) // step + 1
    inside = keys[(keys >= low) & (keys <= high)]
    return np.bincount((inside - low) // step, minlength=size)[:size]


_lock = threading.Lock()
_universes: OrderedDict[tuple, tuple[Columns, Dated]] = OrderedDict()


def _universe_dated(searcher: Searcher, params: SearchParams) -> Dated:
    """The stories passing the request's filters (not its words), remembered per commit."""
    columns = columns_of(searcher)
    key = (id(columns), replace(params, q="", page=1, sort="best", facets=False))
    with _lock:
        found = _universes.get(key)
        if found is not None and found[0] is columns:
            _universes.move_to_end(key)
            return found[1]
    dated = dated_stories(searcher, params, text=False)
    with _lock:
        _universes[key] = (columns, dated)
        while len(_universes) > KEEP_UNIVERSES:
            _universes.popitem(last=False)
    return dated


def _universe(searcher: Searcher, params: SearchParams) -> tuple[int, int]:
    """The first and last stamps of the stories passing the filters."""
    dated = _universe_dated(searcher, params)
    if not len(dated.stamps):
        return 0, UNDATED - 1
    return int(dated.stamps.min()), int(dated.stamps.max())


def _universe_counts(searcher: Searcher, params: SearchParams, interval: str, low: int,
                     high: int) -> np.ndarray:
    """Stories passing the filters per bucket from `low` to `high`."""
    dated = _universe_dated(searcher, params)
    return _bincount(bucket_keys(dated.stamps, interval), low, high, interval)
