"""The HTML pages: search, article, and the empty-index page."""

from __future__ import annotations

from flask import Blueprint, render_template

from search_service import search
from search_service.web.data import article_count, require_searcher, search_data

bp = Blueprint("pages", __name__)


@bp.get("/")
def search_page() -> str:
    """The search page (or the empty-index page when there is nothing to search)."""
    if article_count() == 0:
        return render_template("empty.html")
    return render_template("search.html", data=search_data("pages.search_page"))


@bp.get("/articles/<article_id>")
def article_page(article_id: str) -> str:
    """One article with its related articles."""
    searcher = require_searcher()
    article = search.get_article(searcher, article_id)
    return render_template("article.html", article=article,
                           related=search.related(searcher, article_id)["results"])
