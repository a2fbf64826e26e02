"""The JSON API: /api/search, /api/articles/<id>, /api/articles/<id>/related, /api/health."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from search_service import search
from search_service.web.data import article_count, int_arg, require_searcher, search_data

bp = Blueprint("api", __name__, url_prefix="/api")


@bp.get("/search")
def api_search() -> Response:
    """Search results as JSON, with a `next` link."""
    return jsonify(search_data("api.api_search"))


@bp.get("/articles/<article_id>")
def api_article(article_id: str) -> Response:
    """One article's fields."""
    return jsonify(search.get_article(require_searcher(), article_id))


@bp.get("/articles/<article_id>/related")
def api_related(article_id: str) -> Response:
    """Articles related to one article, in the search result shape."""
    limit = int_arg("limit", 5)
    return jsonify(search.related(require_searcher(), article_id, limit=limit))


@bp.get("/health")
def api_health() -> Response:
    """Liveness and the number of articles indexed."""
    return jsonify({"status": "ok", "articles": article_count()})
