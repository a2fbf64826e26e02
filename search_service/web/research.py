"""Request → data for the research views (timeline, compare, significant terms), shared by
their pages and JSON API, and the layout of their server-rendered SVG charts."""

from __future__ import annotations

import csv
import io
from dataclasses import replace
from typing import Any

from flask import request

from search_service import search
from search_service.search.compare import compare, compare_queries
from search_service.search.terms import MAX_LIMIT, terms
from search_service.search.timeline import check_interval, pick_interval, timeline
from search_service.web.data import get_searcher, int_arg, search_params

#: Line colours that colour-blind readers tell apart (Okabe & Ito, "Color Universal Design"),
#: each line also drawn with its own dash pattern and marker shape.
PALETTE = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00"]
DASHES = ["", "6 3", "2 3", "8 3 2 3", "1 2"]
MARKERS = ["circle", "square", "diamond", "triangle", "cross"]
SHOW = ("share", "count")


def _params() -> search.SearchParams:
    """The request's search parameters, without paging (research views read every match)."""
    return replace(search_params(), page=1)


def interval_arg() -> str:
    """The `interval` argument (auto when absent); QueryError if it is not an interval."""
    return check_interval(request.args.get("interval", ""))


def show_arg() -> str:
    """What the charts plot: `share` (default) or `count`; QueryError otherwise."""
    show = request.args.get("show", "") or "share"
    if show not in SHOW:
        raise search.QueryError(f"show must be share or count, not {show!r}")
    return show


def timeline_data() -> dict[str, Any]:
    """The request's timeline (`interval`: day, week, month or auto)."""
    params, interval = _params(), interval_arg()
    searcher = get_searcher()
    if searcher is None:
        return {"query": params.q, "interval": pick_interval(interval, None), "total": 0,
                "undated": 0, "buckets": []}
    return timeline(searcher, params, interval)


def timeline_csv(data: dict[str, Any]) -> str:
    """A timeline as CSV: start, end, count, total, share."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["start", "end", "count", "total", "share"])
    for bucket in data["buckets"]:
        writer.writerow([bucket["start"], bucket["end"], bucket["count"], bucket["total"],
                         bucket["share"]])
    return out.getvalue()


def compare_data() -> dict[str, Any]:
    """The comparison of the request's queries (`q`, repeated, 1 to 5)."""
    params = _params()
    queries = request.args.getlist("q")
    searcher = get_searcher()
    if searcher is None:
        return {"interval": pick_interval(interval_arg(), None), "queries": [
            {"query": q, "total": 0, "timeline": [], "sources": [], "results": []}
            for q in compare_queries(queries)]}
    return compare(searcher, params, queries, interval_arg())


def terms_data() -> dict[str, Any]:
    """The significant terms of the request's matches (`limit`, default 20)."""
    params, limit = _params(), int_arg("limit", 20)
    searcher = get_searcher()
    if not 1 <= limit <= MAX_LIMIT:
        raise search.QueryError(f"limit must be between 1 and {MAX_LIMIT}")
    if searcher is None:
        return {"query": params.q, "statistic": "JLH", "matches": 0, "sampled": 0,
                "background": 0, "terms": []}
    return terms(searcher, params, limit)


def narrowed(query: str, term: str) -> str:
    """The query narrowed by a term (a phrase in quotes)."""
    clause = f'"{term}"' if " " in term else term
    return f"{query} {clause}".strip() if query else clause


# -- charts -----------------------------------------------------------------------------------

def bar_chart(buckets: list[dict[str, Any]], show: str, width: int = 720,
              height: int = 200) -> dict[str, Any] | None:
    """Lay out a timeline as SVG bars: x, y, width, height and a label per bucket."""
    if not buckets:
        return None
    values = [b[show] for b in buckets]
    peak = max(values) or 1
    step = width / len(buckets)
    bars = []
    for bucket, value in zip(buckets, values, strict=True):
        h = round(value / peak * (height - 4), 1)
        bars.append({**bucket, "x": round(len(bars) * step, 1), "y": round(height - h, 1),
                     "w": round(max(step - 1, 1), 1), "h": h, "label": label(bucket)})
    return {"width": width, "height": height, "bars": bars, "peak": fmt(peak, show)}


def line_chart(queries: list[dict[str, Any]], show: str, width: int = 720,
               height: int = 240) -> dict[str, Any] | None:
    """Lay out one line per query (points, colour, dash, marker) over shared buckets."""
    series = [q["timeline"] for q in queries]
    if not series or not series[0]:
        return None
    peak = max((b[show] for line in series for b in line), default=0) or 1
    steps = max(len(series[0]) - 1, 1)
    pad = 8
    lines = []
    for i, (query, line) in enumerate(zip(queries, series, strict=True)):
        points = [{"x": round(pad + j * (width - 2 * pad) / steps, 1),
                   "y": round(height - pad - b[show] / peak * (height - 2 * pad), 1),
                   "label": f"{query['query']}, {label(b)}"} for j, b in enumerate(line)]
        lines.append({"query": query["query"], "colour": PALETTE[i], "dash": DASHES[i],
                      "marker": MARKERS[i],
                      "path": " ".join(f"{p['x']},{p['y']}" for p in points),
                      "points": points})
    return {"width": width, "height": height, "lines": lines, "peak": fmt(peak, show),
            "starts": [b["start"] for b in series[0]]}


def fmt(value: float, show: str) -> str:
    """A count with thousands separators, or a share as a percentage."""
    return f"{value:.2%}" if show == "share" else f"{int(value):,}"


def label(bucket: dict[str, Any]) -> str:
    """What one bucket says in words: start, count of total and share."""
    return (f"{bucket['start']}: {bucket['count']:,} of {bucket['total']:,} "
            f"({bucket['share']:.2%})")
