"""Structured metadata of a page: JSON-LD, OpenGraph and other meta tags, canonical, language."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from bs4 import BeautifulSoup, Tag

log = logging.getLogger(__name__)

ARTICLE_TYPES = {
    "newsarticle", "article", "reportagenewsarticle", "analysisnewsarticle",
    "blogposting", "opinionnewsarticle", "reviewnewsarticle", "backgroundnewsarticle",
    "liveblogposting", "report", "scholarlyarticle", "techarticle",
}
PUBLISHED_META = (
    "article:published_time", "og:published_time", "og:article:published_time",
    "datepublished", "pubdate", "publishdate", "publish-date", "publish_date",
    "date", "dc.date", "dc.date.issued", "dcterms.issued", "dcterms.created",
    "sailthru.date", "parsely-pub-date", "article.published", "citation_publication_date",
)
MODIFIED_META = (
    "article:modified_time", "og:updated_time", "datemodified", "dcterms.modified",
    "last-modified", "article.updated",
)
AUTHOR_META = ("author", "article:author", "dc.creator", "parsely-author", "sailthru.author")


@dataclass
class Metadata:
    """What the page's markup says about itself, before any text analysis."""

    title: str = ""
    published: str = ""
    modified: str = ""
    authors: list[str] = field(default_factory=list)
    site_name: str = ""
    canonical_url: str = ""
    language: str = ""
    description: str = ""
    is_article: bool = False


def read_metadata(soup: BeautifulSoup) -> Metadata:
    """Collect metadata: JSON-LD first, then meta tags, then markup."""
    meta = Metadata()
    for node in _json_ld_articles(soup):
        _fill_from_json_ld(meta, node)
        meta.is_article = True
        break
    tags = _meta_tags(soup)
    meta.title = meta.title or tags.get("og:title") or tags.get("twitter:title", "")
    meta.published = meta.published or _first(tags, PUBLISHED_META) or _itemprop(
        soup, "datePublished")
    meta.modified = meta.modified or _first(tags, MODIFIED_META) or _itemprop(soup, "dateModified")
    if not meta.published:
        meta.published = _time_element(soup)
    if not meta.authors:
        meta.authors = _authors_from_meta(soup, tags)
    meta.site_name = meta.site_name or tags.get("og:site_name") or tags.get("application-name", "")
    meta.description = (
        meta.description or tags.get("description") or tags.get("og:description", "")
    )
    meta.canonical_url = _canonical(soup) or tags.get("og:url", "")
    meta.language = _language(soup, tags) or meta.language
    meta.is_article = meta.is_article or tags.get("og:type", "").lower() == "article"
    return meta


def _first(tags: dict[str, str], names: tuple[str, ...]) -> str:
    """Return the first non-empty value among meta tags `names`."""
    for name in names:
        if tags.get(name):
            return tags[name]
    return ""


def _meta_tags(soup: BeautifulSoup) -> dict[str, str]:
    """Map lower-cased meta name/property/itemprop to content (first occurrence wins)."""
    tags: dict[str, str] = {}
    for tag in soup.find_all("meta"):
        key = tag.get("property") or tag.get("name") or tag.get("itemprop") or tag.get(
            "http-equiv")
        content = tag.get("content")
        if isinstance(key, str) and isinstance(content, str) and content.strip():
            tags.setdefault(key.strip().lower(), content.strip())
    return tags


def _itemprop(soup: BeautifulSoup, name: str) -> str:
    """Return the value of the first element with itemprop=`name` (datetime, content or text)."""
    tag = soup.find(attrs={"itemprop": name})
    if not isinstance(tag, Tag):
        return ""
    for attr in ("datetime", "content"):
        value = tag.get(attr)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return tag.get_text(" ", strip=True)


def _time_element(soup: BeautifulSoup) -> str:
    """Return the datetime of the page's publication <time> element, if any."""
    times = [t for t in soup.find_all("time") if isinstance(t.get("datetime"), str)]
    for tag in times:
        if tag.has_attr("pubdate"):
            return tag["datetime"]
    return times[0]["datetime"] if times else ""


def _canonical(soup: BeautifulSoup) -> str:
    """Return the href of <link rel=canonical>, if any."""
    for link in soup.find_all("link", href=True):
        rel = link.get("rel") or []
        if "canonical" in [r.lower() for r in rel]:
            return link["href"].strip()
    return ""


def _language(soup: BeautifulSoup, tags: dict[str, str]) -> str:
    """Return the page language as a primary subtag ('en'), from <html lang> or meta."""
    html = soup.find("html")
    raw = (html.get("lang") if isinstance(html, Tag) else None) or tags.get(
        "content-language") or tags.get("og:locale") or ""
    match = re.match(r"\s*([a-zA-Z]{2,3})\b", str(raw).replace("_", "-"))
    return match.group(1).lower() if match else ""


def _authors_from_meta(soup: BeautifulSoup, tags: dict[str, str]) -> list[str]:
    """Return authors from meta tags or rel=author links."""
    value = _first(tags, AUTHOR_META)
    if value and not value.startswith("http"):
        return _split_authors(value)
    links = [a.get_text(" ", strip=True) for a in soup.find_all("a", rel="author")]
    return _dedupe([name for name in links if name])


def _split_authors(value: str) -> list[str]:
    """Split 'A, B and C' into names."""
    parts = re.split(r"\s*(?:,|;|\band\b|&)\s*", value.strip())
    return _dedupe([re.sub(r"^by\s+", "", p, flags=re.I).strip() for p in parts if p.strip()])


def _dedupe(names: list[str]) -> list[str]:
    """Keep the first of each name, case-insensitively."""
    seen: set[str] = set()
    out = []
    for name in names:
        if name.lower() not in seen:
            seen.add(name.lower())
            out.append(name)
    return out


def _json_ld_articles(soup: BeautifulSoup) -> Iterator[dict[str, Any]]:
    """Yield the JSON-LD objects of article types, including those in @graph and arrays."""
    for script in soup.find_all("script", type="application/ld+json"):
        try:
            data = json.loads(script.string or "")
        except (json.JSONDecodeError, TypeError):
            log.debug("skipping unparseable JSON-LD block")
            continue
        for node in _walk_json_ld(data):
            types = node.get("@type", [])
            types = [types] if isinstance(types, str) else types
            if any(isinstance(t, str) and t.lower() in ARTICLE_TYPES for t in types):
                yield node


def _walk_json_ld(data: Any) -> Iterator[dict[str, Any]]:
    """Yield every object in a JSON-LD document (arrays and @graph flattened)."""
    if isinstance(data, list):
        for item in data:
            yield from _walk_json_ld(item)
    elif isinstance(data, dict):
        yield data
        if "@graph" in data:
            yield from _walk_json_ld(data["@graph"])


def _fill_from_json_ld(meta: Metadata, node: dict[str, Any]) -> None:
    """Copy the fields of a JSON-LD article object into `meta`."""
    meta.title = _text(node.get("headline")) or _text(node.get("name"))
    meta.published = _text(node.get("datePublished")) or _text(node.get("dateCreated"))
    meta.modified = _text(node.get("dateModified"))
    meta.authors = _dedupe([n for n in _names(node.get("author")) if n])
    meta.site_name = next(iter(_names(node.get("publisher"))), "")
    meta.description = _text(node.get("description"))
    language = node.get("inLanguage")
    meta.language = _text(language) if isinstance(language, str) else ""


def _names(value: Any) -> list[str]:
    """Return the names in a JSON-LD person/organisation value (string, object or list)."""
    if isinstance(value, str):
        return _split_authors(value)
    if isinstance(value, dict):
        return [_text(value.get("name"))]
    if isinstance(value, list):
        return [name for item in value for name in _names(item)]
    return []


def _text(value: Any) -> str:
    """Return `value` as stripped text if it is a string, else ''."""
    return " ".join(value.split()) if isinstance(value, str) else ""
