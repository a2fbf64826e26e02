"""Page kinds: tell single articles from listings, galleries, error pages and paywall stubs.

A page is judged by what it is, not by its length: one that declares itself an article
(JSON-LD article types, og:type article, or an <article>/<h1> with a stated date) is indexed
however short its text (flagged short); listings, error pages and paywall stubs are rejected
with their reason, and so are pages with little text that do not declare themselves articles."""

from __future__ import annotations

import re
from dataclasses import dataclass

from search_service.article import Article

#: A body shorter than this is not an article (a teaser, a listing, an error page) unless the
#: page declares itself one; a declared article this short is indexed, flagged short.
MIN_BODY_CHARS = 200
#: Below this many characters of story, signs of another page kind decide.
SHORT_BODY_CHARS = 1000
#: This many headline links make a page without text a listing.
LISTING_HEADLINES = 3
#: This many headline links make a short page a listing when its story text is under
#: TEASER_CHARS per headline (a line of teaser each, not a story with related links).
MANY_HEADLINES = 10
TEASER_CHARS = 15
#: This many images make a page without text a gallery.
GALLERY_IMAGES = 5
ERROR_TITLE = re.compile(
    r"\b(404|410|page not found|not found|nicht gefunden|seite nicht|introuvable|"
    r"no encontrad[ao]|não encontrad[ao]|non trovat[ao]|niet gevonden)\b",
    re.IGNORECASE)
LISTING_PATH = re.compile(
    r"/(tag|tags|topic|topics|category|categories|section|search|archive|page|author)(/|$)",
    re.IGNORECASE)
GALLERY_TYPES = ("imagegallery", "mediagallery", "collectionpage")


@dataclass(frozen=True)
class PageSigns:
    """What the page shows besides its story text."""

    headline_links: int = 0
    images: int = 0
    paywall_marks: int = 0
    accessible_for_free: bool | None = None
    page_type: str = ""
    url_path: str = ""
    declared_article: bool = False


def rejection(article: Article, signs: PageSigns) -> str | None:
    """Return why `article` should not be indexed, or None if it should."""
    if not article.title:
        return "no title"
    if not article.canonical_url:
        return "no URL"
    length = len(article.body)
    if length < SHORT_BODY_CHARS:
        kind = short_page_kind(article, signs)
        if kind:
            name, _, detail = kind.partition(" (")
            detail = detail.rstrip(")") + ", " if detail else ""
            return f"{name} ({detail}{length} chars of story text)"
    if length < MIN_BODY_CHARS and not (signs.declared_article and length):
        return f"too little text ({length} chars, need {MIN_BODY_CHARS})"
    return None


def short_page_kind(article: Article, signs: PageSigns) -> str | None:
    """Name the kind of a page with little story text, if its signs say it is not an article."""
    length = len(article.body)
    if ERROR_TITLE.search(article.title):
        return "error page"
    if signs.accessible_for_free is False or signs.paywall_marks:
        return "paywall stub"
    if (signs.headline_links >= MANY_HEADLINES
            and length < signs.headline_links * TEASER_CHARS) or (length < MIN_BODY_CHARS and (
            signs.headline_links >= LISTING_HEADLINES or LISTING_PATH.search(signs.url_path))):
        return f"listing page ({signs.headline_links} headline links)"
    if length < MIN_BODY_CHARS and not signs.declared_article and (
            signs.page_type in GALLERY_TYPES or signs.images >= GALLERY_IMAGES):
        return "gallery without text"
    return None
