"""Structured metadata of a page: JSON-LD, OpenGraph, meta, itemprop, <time>, canonical, lang."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from bs4 import BeautifulSoup, Tag

from search_service.normalise.text import class_words

log = logging.getLogger(__name__)

ARTICLE_TYPES = frozenset({
    "newsarticle", "article", "reportagenewsarticle", "analysisnewsarticle",
    "blogposting", "opinionnewsarticle", "reviewnewsarticle", "backgroundnewsarticle",
    "liveblogposting", "report", "scholarlyarticle", "techarticle", "socialmediaposting",
    "askpublicnewsarticle", "satiricalarticle", "posting", "discussionforumposting",
})
PAGE_TYPES = frozenset({"webpage", "itempage", "collectionpage", "imagegallery", "mediagallery",
                        "searchresultspage", "profilepage", "videoobject"})
PUBLISHED_META = (
    "article:published_time", "og:published_time", "og:article:published_time",
    "article:published", "datepublished", "pubdate", "publishdate", "publish-date",
    "publish_date", "published_time", "publication_date", "sailthru.date", "parsely-pub-date",
    "article.published", "citation_publication_date", "dc.date.issued", "dcterms.issued",
    "dc.date.created", "dcterms.created", "dc.date", "dcterms.date", "date",
    "originalpublicationdate",
    "cxenseparse:recs:publishtime", "article_date_original", "og:pubdate", "pub_date",
)
MODIFIED_META = (
    "article:modified_time", "og:updated_time", "article:modified", "datemodified",
    "dcterms.modified", "dc.date.modified", "last-modified", "article.updated", "lastmod",
    "modified_time",
)
AUTHOR_META = ("author", "article:author", "dc.creator", "dcterms.creator", "parsely-author",
               "sailthru.author", "byl", "citation_author")
#: Words in class/id marking an element that shows the publication date.
DATE_WORDS = frozenset({
    "date", "time", "published", "publish", "posted", "pubdate", "timestamp", "datetime",
    "dateline", "byline", "meta", "fecha", "datum", "data", "article-date", "postdate",
    "entry-date", "post-date", "updated", "info", "created",
})
PUBLISHED_WORDS = frozenset({"published", "publish", "pubdate"})
MAX_DATE_TEXTS = 12
#: Words in class/id marking an element that names the authors.
BYLINE_WORDS = frozenset({"author", "authors", "byline", "byl", "writer", "autor", "auteur"})
MAX_BYLINES = 4
#: <h1> texts kept (a masthead's or a breadcrumb's <h1> can come before the headline's).
MAX_HEADINGS = 5


@dataclass
class Metadata:
    """What the page's markup says about itself, before any text analysis."""

    title: str = ""
    published: list[tuple[str, str]] = field(default_factory=list)
    modified: list[tuple[str, str]] = field(default_factory=list)
    authors: list[str] = field(default_factory=list)
    site_name: str = ""
    canonical_url: str = ""
    language: str = ""
    description: str = ""
    is_article: bool = False
    page_type: str = ""
    accessible_for_free: bool | None = None
    article_body: str = ""
    h1: str = ""
    html_title: str = ""
    date_texts: list[str] = field(default_factory=list)
    first_time: str = ""
    images: int = 0
    bylines: list[str] = field(default_factory=list)
    article_element: bool = False
    titles: list[str] = field(default_factory=list)
    h1s: list[str] = field(default_factory=list)


def read_metadata(soup: BeautifulSoup, json_ld: list[str] | None = None) -> Metadata:
    """Collect metadata: JSON-LD first, then meta tags, then markup, in one walk of the tree."""
    meta = Metadata()
    _read_json_ld(meta, json_ld or [])
    tags: dict[str, str] = {}
    itemprops: dict[str, str] = {}
    time_published = ""
    author_links: list[str] = []
    html_lang = ""
    for tag in soup.find_all(True):
        name = tag.name
        attrs = tag.attrs
        if name == "meta":
            _add_meta(tags, attrs)
        elif name == "link":
            rel = _rel(attrs)
            if "canonical" in rel and not meta.canonical_url:
                meta.canonical_url = str(attrs.get("href") or "").strip()
        elif name == "html":
            html_lang = str(attrs.get("lang") or attrs.get("xml:lang") or "")
        elif name == "title" and not meta.html_title:
            meta.html_title = " ".join(tag.get_text(" ").split())
        elif name == "h1" and len(meta.h1s) < MAX_HEADINGS:
            text = " ".join(tag.get_text(" ", strip=True).split())
            if text:
                meta.h1s.append(text)
                meta.h1 = meta.h1 or text
        elif name == "img":
            meta.images += 1
        elif name == "article":
            meta.article_element = True
        elif name == "time":
            value = _attr(tag, "datetime")
            if value and (tag.has_attr("pubdate") or class_words(tag) & PUBLISHED_WORDS):
                time_published = time_published or value
            meta.first_time = meta.first_time or value
        elif name == "a" and "author" in _rel(attrs):
            author_links.append(tag.get_text(" ", strip=True))
        prop = attrs.get("itemprop")
        if isinstance(prop, str) and prop not in itemprops:
            itemprops[prop] = _attr(tag, "datetime") or _attr(tag, "content") or (
                tag.get_text(" ", strip=True) if prop in ("datePublished", "dateModified",
                                                          "author", "name") else "")
        if name in ("html", "body", "meta", "link") or not attrs:
            continue
        words = class_words(tag)
        if len(meta.date_texts) < MAX_DATE_TEXTS and words & DATE_WORDS:
            text = " ".join(tag.get_text(" ", strip=True).split())
            if 6 <= len(text) <= 200:
                meta.date_texts.append(text)
        if len(meta.bylines) < MAX_BYLINES and words & BYLINE_WORDS:
            text = " ".join(tag.get_text(" ", strip=True).split())
            if 3 <= len(text) <= 80:
                meta.bylines.append(text)
    _fill_from_tags(meta, tags, itemprops, time_published)
    if not meta.authors:
        value = _first(tags, AUTHOR_META) or itemprops.get("author", "")
        if value and not value.startswith("http"):
            meta.authors = split_authors(value)
        else:
            names = [name for text in author_links + meta.bylines for name in split_authors(text)]
            meta.authors = dedupe(names)[:MAX_BYLINES]
    meta.language = _primary_language(html_lang) or meta.language or _primary_language(
        tags.get("content-language", "") or tags.get("og:locale", "") or tags.get(
            "dc.language", ""))
    return meta


def _fill_from_tags(meta: Metadata, tags: dict[str, str], itemprops: dict[str, str],
                    time_published: str) -> None:
    """Fill what JSON-LD left empty from meta tags, itemprop and <time>."""
    meta.titles = [t for t in dict.fromkeys([meta.title, *(tags.get(name, "") for name in (
        "og:title", "twitter:title", "dc.title"))]) if t]
    meta.title = meta.titles[0] if meta.titles else ""
    meta.published += [("meta", tags[name]) for name in PUBLISHED_META if tags.get(name)]
    if itemprops.get("datePublished"):
        meta.published.append(("meta", itemprops["datePublished"]))
    if time_published:
        meta.published.append(("time", time_published))
    meta.modified += [("meta", tags[name]) for name in MODIFIED_META if tags.get(name)]
    if itemprops.get("dateModified"):
        meta.modified.append(("meta", itemprops["dateModified"]))
    meta.site_name = meta.site_name or tags.get("og:site_name") or tags.get(
        "application-name", "")
    meta.description = (
        meta.description or tags.get("description") or tags.get("og:description", "")
    )
    meta.canonical_url = meta.canonical_url or tags.get("og:url", "")
    og_type = tags.get("og:type", "").lower()
    meta.is_article = meta.is_article or og_type == "article"
    meta.page_type = meta.page_type or og_type


def _add_meta(tags: dict[str, str], attrs: dict[str, Any]) -> None:
    """Record one <meta> by its lower-cased name/property/itemprop (first occurrence wins)."""
    key = attrs.get("property") or attrs.get("name") or attrs.get("itemprop") or attrs.get(
        "http-equiv")
    content = attrs.get("content")
    if isinstance(key, str) and isinstance(content, str) and content.strip():
        tags.setdefault(key.strip().lower(), content.strip())


def _attr(tag: Tag, name: str) -> str:
    """Return a tag's attribute as stripped text ('' if missing)."""
    value = tag.attrs.get(name)
    return value.strip() if isinstance(value, str) else ""


def _rel(attrs: dict[str, Any]) -> list[str]:
    """Return the lower-cased words of a link's rel attribute."""
    rel = attrs.get("rel") or ""
    return (" ".join(rel) if isinstance(rel, list) else str(rel)).lower().split()


def _first(tags: dict[str, str], names: tuple[str, ...]) -> str:
    """Return the first non-empty value among meta tags `names`."""
    for name in names:
        if tags.get(name):
            return tags[name]
    return ""


def _primary_language(raw: str) -> str:
    """Return a language tag's primary subtag ('en' from 'en-GB' or 'en_US')."""
    match = re.match(r"\s*([a-zA-Z]{2,3})(?:[-_]|\s*$)", str(raw))
    return match.group(1).lower() if match else ""


BY_PREFIX = re.compile(r"^\s*(?:by|von|par|por|di|door|af|av|de|from|written by)[:\s]+",
                       re.IGNORECASE)
ROLE_SUFFIX = re.compile(
    r"\s*(?:[,|/–—]|\s\(|\s-\s).*$"
    r"|\s+(?:staff writer|reporter|correspondent|editor|contributor)\b.*$",
    re.IGNORECASE)
HANDLE = re.compile(r"@\w+|https?://\S+|www\.\S+|\S+@\S+\.\w+")
ROLE_WORDS = frozenset({
    "senior", "reporter", "correspondent", "editor", "writer", "staff", "contributor",
    "columnist", "photographer", "producer", "journalist", "chief", "political", "business",
    "deputy", "managing", "associate", "contributing", "special", "foreign", "national",
    "news", "desk", "team", "opinion", "sports", "science", "health", "technology", "tech",
    "investigative", "data", "digital", "assistant", "executive", "bureau", "freelance",
})
NOT_NAME = re.compile(r"^(?:staff|admin|editor|redaktion|redacción|rédaction)$", re.IGNORECASE)


def clean_author(raw: str) -> str:
    """Return a person's name alone: no 'By', role, handle, URL or e-mail."""
    name = HANDLE.sub(" ", " ".join(str(raw).split()))
    name = BY_PREFIX.sub("", name.strip())
    name = ROLE_SUFFIX.sub("", name).strip(" .:;-–—|")
    name = " ".join(name.split())
    if not name or len(name) > 60 or len(name.split()) > 5 or NOT_NAME.search(name):
        return ""
    if all(word in ROLE_WORDS for word in name.lower().split()):
        return ""
    return name


def split_authors(value: str) -> list[str]:
    """Split 'By A, B and C' into cleaned names."""
    value = BY_PREFIX.sub("", " ".join(value.split()))
    parts = re.split(r"\s*(?:,|;|\||\band\b|\bund\b|\bet\b|\by\b|\be\b|&)\s*", value)
    return dedupe([name for name in (clean_author(p) for p in parts) if name])


def dedupe(names: list[str]) -> list[str]:
    """Keep the first of each name, case-insensitively."""
    seen: set[str] = set()
    out = []
    for name in names:
        if name.lower() not in seen:
            seen.add(name.lower())
            out.append(name)
    return out


def _read_json_ld(meta: Metadata, blocks: list[str]) -> None:
    """Fill `meta` from the first JSON-LD article object; note page-level dates and types."""
    articles, pages = [], []
    for node in _json_ld_nodes(blocks):
        types = {t.lower() for t in _types(node)}
        if types & ARTICLE_TYPES:
            articles.append(node)
        elif types & PAGE_TYPES:
            pages.append((types & PAGE_TYPES, node))
    if articles:
        _fill_from_article(meta, articles[0])
    for types, node in pages:
        meta.page_type = meta.page_type or next(iter(sorted(types)))
        if node.get("datePublished"):
            meta.published.append(("jsonld", _text(node.get("datePublished"))))
        if node.get("dateModified"):
            meta.modified.append(("jsonld", _text(node.get("dateModified"))))


def _types(node: dict[str, Any]) -> list[str]:
    """Return a JSON-LD node's @type values as strings."""
    types = node.get("@type", [])
    types = [types] if isinstance(types, str) else types
    return [t for t in types if isinstance(t, str)] if isinstance(types, list) else []


def _json_ld_nodes(blocks: list[str]) -> Iterator[dict[str, Any]]:
    """Yield every object of the page's JSON-LD blocks (arrays and @graph flattened)."""
    for block in blocks:
        try:
            data = json.loads(block, strict=False)
        except (json.JSONDecodeError, TypeError, RecursionError, ValueError):
            log.debug("skipping unparseable JSON-LD block")
            continue
        yield from _walk_json_ld(data, 0)


def _walk_json_ld(data: Any, depth: int) -> Iterator[dict[str, Any]]:
    """Yield every object in a JSON-LD document (arrays and @graph flattened)."""
    if depth > 20:
        return
    if isinstance(data, list):
        for item in data:
            yield from _walk_json_ld(item, depth + 1)
    elif isinstance(data, dict):
        yield data
        for key in ("@graph", "mainEntity", "itemListElement"):
            if key in data:
                yield from _walk_json_ld(data[key], depth + 1)


def _fill_from_article(meta: Metadata, node: dict[str, Any]) -> None:
    """Copy the fields of a JSON-LD article object into `meta`."""
    meta.is_article = True
    meta.title = _text(node.get("headline")) or _text(node.get("name"))
    for key in ("datePublished", "dateCreated"):
        if _text(node.get(key)):
            meta.published.append(("jsonld", _text(node.get(key))))
    if _text(node.get("dateModified")):
        meta.modified.append(("jsonld", _text(node.get("dateModified"))))
    meta.authors = _authors_from_json_ld(node.get("author"))
    meta.site_name = next(iter(_names(node.get("publisher"))), "")
    meta.description = _text(node.get("description"))
    language = node.get("inLanguage")
    meta.language = _primary_language(language) if isinstance(language, str) else ""
    free = node.get("isAccessibleForFree")
    if isinstance(free, bool) or str(free).lower() in ("true", "false"):
        meta.accessible_for_free = str(free).lower() == "true"
    meta.article_body = node.get("articleBody") if isinstance(node.get("articleBody"), str) else ""


def _authors_from_json_ld(value: Any) -> list[str]:
    """Return cleaned author names: a Person's name whole, a plain string split into names."""
    if isinstance(value, str):
        return split_authors(value)
    if isinstance(value, dict):
        name = clean_author(_text(value.get("name")))
        return [name] if name else []
    if isinstance(value, list):
        return dedupe([name for item in value for name in _authors_from_json_ld(item)])
    return []


def _names(value: Any) -> list[str]:
    """Return the names in a JSON-LD person/organisation value (string, object or list)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [_text(value.get("name"))] if _text(value.get("name")) else []
    if isinstance(value, list):
        return [name for item in value for name in _names(item)]
    return []


def _text(value: Any) -> str:
    """Return `value` as stripped text if it is a string, else ''."""
    return " ".join(value.split()) if isinstance(value, str) else ""
