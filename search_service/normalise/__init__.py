"""HTML → Article: metadata first, then the main text, then a verdict on whether to index it."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from urllib.parse import urljoin, urlsplit

from bs4 import BeautifulSoup

from search_service.article import Article
from search_service.normalise.dates import parse_date
from search_service.normalise.metadata import Metadata, read_metadata
from search_service.normalise.text import extract_body

log = logging.getLogger(__name__)

#: A body shorter than this is not an article (a teaser, a listing, an error page).
MIN_BODY_CHARS = 200
SUMMARY_CHARS = 300
TITLE_SEPARATORS = re.compile(r"\s+[|–—-]\s+[^|–—-]{2,60}$")


@dataclass(frozen=True)
class Extraction:
    """What the normaliser made of one page, and why it would not index it (if so)."""

    article: Article
    rejected: str | None = None


def normalise(
    html: bytes | str, url: str = "", fetched_at: datetime | None = None
) -> Extraction:
    """Turn one page's HTML into an Article and a verdict (None, or the reason to reject)."""
    fetched_at = fetched_at or datetime.now(timezone.utc)
    soup = BeautifulSoup(html, "lxml")
    meta = read_metadata(soup)
    title = choose_title(soup, meta)
    body = extract_body(soup, title)
    canonical = canonical_url(meta.canonical_url, url)
    if urlsplit(url).scheme == "file" and urlsplit(canonical).scheme != "file":
        url = canonical  # a saved page: its own URL is where it was published
    article = Article(
        url=url or canonical,
        canonical_url=canonical or url,
        title=title,
        body=body,
        published=parse_date(meta.published, not_after=fetched_at),
        modified=parse_date(meta.modified, not_after=fetched_at),
        authors=tuple(meta.authors),
        source=meta.site_name or host_name(canonical or url),
        language=meta.language,
        summary=make_summary(meta.description, body),
        fetched_at=fetched_at,
    )
    return Extraction(article=article, rejected=rejection(article))


def choose_title(soup: BeautifulSoup, meta: Metadata) -> str:
    """Pick the headline: metadata, unless the visible <h1> is a longer form of it."""
    h1 = soup.find("h1")
    h1_text = " ".join(h1.get_text(" ", strip=True).split()) if h1 else ""
    title = meta.title
    if title and h1_text and title.rstrip(".… ") != title and h1_text.startswith(
            title.rstrip(".… ")):
        return h1_text
    if not title:
        title = h1_text
    if not title and soup.title and soup.title.string:
        title = TITLE_SEPARATORS.sub("", " ".join(soup.title.string.split()))
    return title


def canonical_url(declared: str, url: str) -> str:
    """Resolve the page's declared canonical URL against its own; ignore unusable ones."""
    if not declared:
        return url
    resolved = urljoin(url, declared) if url else declared
    if urlsplit(resolved).scheme not in ("http", "https"):
        return url
    return resolved


def host_name(url: str) -> str:
    """Return the host of `url` without a leading 'www.'."""
    host = urlsplit(url).hostname or ""
    return host[4:] if host.startswith("www.") else host


def make_summary(description: str, body: str) -> str:
    """Return the page's description, or the body's opening cut at a word boundary."""
    text = description or body.split("\n\n", 1)[0]
    if len(text) <= SUMMARY_CHARS:
        return text
    return text[:SUMMARY_CHARS].rsplit(" ", 1)[0] + "…"


def rejection(article: Article) -> str | None:
    """Return why `article` should not be indexed, or None if it should."""
    if not article.title:
        return "no title"
    if not article.canonical_url:
        return "no URL"
    if len(article.body) < MIN_BODY_CHARS:
        return f"too little text ({len(article.body)} chars, need {MIN_BODY_CHARS})"
    return None
