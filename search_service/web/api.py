"""The JSON API: /api/search, /api/export, /api/articles/<id>, /api/articles/<id>/related,
/api/health, and the research views /api/timeline, /api/compare, /api/terms."""

from __future__ import annotations

import hashlib
from pathlib import Path

from flask import Blueprint, Response, current_app, g, jsonify, request, stream_with_context

from search_service import search
from search_service.index.schema import SCHEMA_VERSION
from search_service.index.stats import last_commit, source_counts
from search_service.web.data import (
    article_count,
    export_request,
    get_searcher,
    int_arg,
    max_depth,
    require_searcher,
    search_data,
)
from search_service.web.headers import conditional, set_headers
from search_service.web.openapi import openapi_document
from search_service.web.research import compare_data, terms_data, timeline_csv, timeline_data

bp = Blueprint("api", __name__, url_prefix="/api")


@bp.after_request
def revalidate(response: Response) -> Response:
    """Tag successful answers with the index commit they came from; answer 304 to a match.

    Clients and proxies may keep answers but must ask again (`no-cache`): a new commit
    changes every tag. A partial answer (the search hit its time limit) is not to be kept.
    """
    if response.status_code != 200:
        return response
    if g.get("partial"):  # cut short by the time limit: the next answer may be complete
        response.headers["Cache-Control"] = "no-store"
        return response
    searcher = get_searcher()
    generation = searcher.reader().generation() if searcher else "empty"
    tag = hashlib.sha1(f"{generation}|{request.full_path}".encode()).hexdigest()[:20]
    set_headers(response, {"ETag": f'"{tag}"', "Cache-Control": "no-cache"})
    return conditional(response, request.environ)


@bp.get("/search")
def api_search() -> Response:
    """Search results as JSON, with a `next` link."""
    data = search_data("api.api_search")
    g.partial = data["partial"]
    return jsonify(data)


#: Media types of the export formats.
EXPORT_TYPES = {"csv": "text/csv", "jsonl": "application/x-ndjson"}


@bp.get("/export")
def api_export() -> Response:
    """Every matching story as CSV or JSON lines, streamed (one searcher: one commit)."""
    params, fmt, body = export_request()
    searcher = get_searcher()
    rows = search.export_rows(searcher, params, body=body) if searcher else iter(())
    response = Response(stream_with_context(search.serialise(rows, fmt, body=body)),
                        mimetype=EXPORT_TYPES[fmt])
    response.headers["Content-Disposition"] = f'attachment; filename="news-export.{fmt}"'
    return response


@bp.get("/articles/<article_id>")
def api_article(article_id: str) -> Response:
    """One article's fields."""
    return jsonify(search.get_article(require_searcher(), article_id))


@bp.get("/articles/<article_id>/related")
def api_related(article_id: str) -> Response:
    """Articles related to one article, in the search result shape."""
    limit = int_arg("limit", 5)
    recency = request.args.get("recency", "") not in ("", "0", "false", "no")
    return jsonify(search.related(require_searcher(), article_id, limit=limit,
                                  recency=recency))


@bp.get("/health")
def api_health() -> Response:
    """Liveness, the number of articles, the last commit and the schema version."""
    committed = last_commit(Path(current_app.config["INDEX_DIR"]))
    return jsonify({"status": "ok", "articles": article_count(),
                    "last_commit": committed.isoformat() if committed else None,
                    "index_version": SCHEMA_VERSION})


@bp.get("/openapi.json")
def api_openapi() -> Response:
    """The OpenAPI 3.1 document of this API."""
    return jsonify(openapi_document(max_depth=max_depth()))


@bp.get("/sources")
def api_sources() -> Response:
    """Articles per source (site name), most first."""
    searcher = get_searcher()
    sources = source_counts(searcher) if searcher else {}
    return jsonify({"sources": [{"source": name, "articles": count}
                                for name, count in sources.items()]})


@bp.get("/timeline")
def api_timeline() -> Response:
    """Matching stories per day, week or month with their share of all stories (JSON, or CSV
    with format=csv)."""
    data = timeline_data()
    fmt = request.args.get("format", "") or "json"
    if fmt == "csv":
        return Response(timeline_csv(data), mimetype="text/csv", headers={
            "Content-Disposition": 'attachment; filename="timeline.csv"'})
    if fmt != "json":
        raise search.QueryError(f"format must be json or csv, not {fmt!r}")
    return jsonify(data)


@bp.get("/compare")
def api_compare() -> Response:
    """Up to five queries side by side: totals, timelines, top sources, top stories."""
    return jsonify(compare_data())


@bp.get("/terms")
def api_terms() -> Response:
    """Words and two-word phrases unusually frequent in the matches (JLH score)."""
    return jsonify(terms_data())
