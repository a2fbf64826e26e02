"""The HTML pages: search (with filters, facets and timeline), article, sources, the empty index."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from flask import Blueprint, Response, current_app, render_template, request, url_for

from search_service import search
from search_service.article import DATE_SOURCES
from search_service.web.data import article_count, require_searcher, search_data, sources_data
from search_service.web.display import relative_time, web_url
from search_service.web.research import (
    bar_chart,
    compare_data,
    line_chart,
    narrowed,
    show_arg,
    terms_data,
    timeline_data,
)

bp = Blueprint("pages", __name__)

DATE_PRESETS = [("", "Any time"), ("past 24 hours", "Past day"), ("last week", "Past week"),
                ("last month", "Past month"), ("last year", "Past year")]
#: Search parameters an export link keeps.
EXPORT_ARGS = ("q", "from", "to", "source", "lang", "collection", "expand", "sort")
SORT_LABELS = [("best", "Best match"), ("relevance", "Relevance"), ("newest", "Newest"),
               ("oldest", "Oldest")]


@bp.app_context_processor
def helpers() -> dict[str, Any]:
    """Template helpers: links to the search page (or another page) with some parameters
    changed, and a query narrowed by a term."""

    def page_url(endpoint: str, **changes: Any) -> str:
        args = request.args.to_dict(flat=False)
        args.pop("page", None)
        for key, value in changes.items():
            if value is None or value == "":
                args.pop(key, None)
            else:
                args[key] = value
        return url_for(endpoint, **args)

    def search_url(**changes: Any) -> str:
        return page_url("pages.search_page", **changes)

    def export_url(fmt: str) -> str:
        args = {k: v for k, v in request.args.to_dict(flat=False).items()
                if k in EXPORT_ARGS}
        if args.get("sort") and args["sort"][0] not in search.CURSOR_SORTS:
            args.pop("sort")  # an export is newest first unless asked oldest first
        return url_for("api.api_export", format=fmt, **args)

    return {"search_url": search_url, "page_url": page_url, "narrowed": narrowed,
            "export_url": export_url}


def now() -> datetime:
    """The moment relative dates count from: the app's NOW setting, else the clock."""
    return current_app.config.get("NOW") or datetime.now(timezone.utc)


@bp.app_template_filter("ago")
def ago(value: str | None) -> str:
    """Jinja filter: an ISO moment as "3 days ago" (empty for no moment)."""
    return relative_time(value, now()) if value else ""


@bp.app_template_filter("date_source")
def date_source(value: str) -> str:
    """Jinja filter: a publication date's source as readers name it ("JSON-LD", "URL")."""
    return DATE_SOURCES.get(value, value)


@bp.app_template_filter("web_url")
def web_url_filter(value: str | None) -> str | None:
    """Jinja filter: the URL if it is a safe http(s) link target, else None."""
    return web_url(value)


@bp.get("/")
def search_page() -> str:
    """The search page (or the empty-index page when there is nothing to search)."""
    if article_count() == 0:
        return render_template("empty.html")
    data = search_data("pages.search_page", facets=True)
    # Significant terms: rendered here on request (terms=1, the no-JavaScript path); with
    # JavaScript, static/terms.js fills the panel from /api/terms after the page shows.
    shown_terms = terms_data() if data["query"] and request.args.get("terms") == "1" else None
    return render_template("search.html", data=data, timeline=timeline(data),
                           terms=shown_terms,
                           date_presets=DATE_PRESETS, sorts=SORT_LABELS,
                           date_from=request.args.get("from", ""),
                           date_to=request.args.get("to", ""),
                           lang=request.args.get("lang", ""),
                           collections=[c for c in request.args.getlist("collection") if c])


def timeline(data: dict[str, Any], width: int = 600, height: int = 60) -> dict[str, Any] | None:
    """Lay out the date histogram as SVG bars (x, y, width, height per bucket)."""
    counts = data.get("facets", {}).get("dates", {}).get("counts", [])
    if len(counts) < 2:
        return None
    peak = max(c["count"] for c in counts) or 1
    step = width / len(counts)
    bars = []
    for i, c in enumerate(counts):
        h = round(c["count"] / peak * (height - 2), 1)
        bars.append({**c, "x": round(i * step, 1), "y": round(height - h, 1),
                     "w": round(max(step - 1, 1), 1), "h": h})
    return {"width": width, "height": height, "bars": bars,
            "bucket": data["facets"]["dates"]["bucket"]}


@bp.get("/search.atom")
def search_atom() -> Response:
    """The newest results of a query as an Atom feed, to follow it in a feed reader."""
    args = request.args.to_dict(flat=False)
    args["sort"] = ["newest"]
    data = search_data("pages.search_atom", sort="newest")
    dates = [r["published"] for r in data["results"] if r["published"]]
    updated = max(dates) if dates else datetime.now(timezone.utc).isoformat()
    body = render_template(
        "search.atom.xml", data=data, updated=updated,
        self_url=url_for("pages.search_atom", _external=True, **args),
        page_url=url_for("pages.search_page", _external=True, **args),
        feed_id=url_for("pages.search_atom", _external=True, **args))
    return Response(body, mimetype="application/atom+xml")


@bp.get("/opensearch.xml")
def opensearch() -> Response:
    """The OpenSearch description, so that browsers can add the search box."""
    return Response(render_template("opensearch.xml"),
                    mimetype="application/opensearchdescription+xml")


@bp.get("/articles/<article_id>")
def article_page(article_id: str) -> str:
    """One article with its related articles."""
    searcher = require_searcher()
    article = search.get_article(searcher, article_id)
    return render_template("article.html", article=article,
                           related=search.related(searcher, article_id)["results"])


@bp.get("/sources")
def sources_page() -> str:
    """Per-source health: articles indexed, the share with a date, and the last crawl."""
    return render_template("sources.html", data=sources_data())


@bp.get("/timeline")
def timeline_page() -> str:
    """Attention over time: matching stories per bucket, as share or count, with downloads."""
    show = show_arg()
    data = timeline_data()
    return render_template("timeline.html", data=data, show=show,
                           chart=bar_chart(data["buckets"], show),
                           date_from=request.args.get("from", ""),
                           date_to=request.args.get("to", ""))


@bp.get("/compare")
def compare_page() -> str:
    """Up to five queries side by side (a blank form without queries)."""
    show = show_arg()
    queries = [q for q in request.args.getlist("q") if q.strip()]
    data = compare_data() if queries else None
    return render_template("compare.html", data=data, show=show,
                           queries=queries + [""] * (5 - len(queries)),
                           chart=line_chart(data["queries"], show) if data else None)
