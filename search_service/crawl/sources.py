"""Crawl sources: the sites to crawl, from a TOML file or from URLs on the command line."""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from search_service.article import collection_name
from search_service.urls import canonical_url, host_of

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

log = logging.getLogger(__name__)

DEFAULT_MAX_DEPTH = 3
DEFAULT_MAX_PAGES = 1000
DEFAULT_RECRAWL = 3600.0
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_KEYS = {"name", "start_urls", "feeds", "sitemaps", "allowed_domains", "allow", "deny",
         "max_depth", "max_pages", "recrawl_interval", "collections"}


class SourceError(Exception):
    """A sources file or URL cannot be used; the message says where and why."""


@dataclass(frozen=True)
class Source:
    """One site to crawl: where to start, what to follow, which pages are articles, limits."""

    name: str
    start_urls: tuple[str, ...] = ()
    feeds: tuple[str, ...] = ()
    sitemaps: tuple[str, ...] = ()
    allowed_domains: tuple[str, ...] = ()
    allow: tuple[re.Pattern, ...] = ()
    deny: tuple[re.Pattern, ...] = ()
    max_depth: int = DEFAULT_MAX_DEPTH
    max_pages: int = DEFAULT_MAX_PAGES
    recrawl_interval: float = DEFAULT_RECRAWL
    collections: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    def seeds(self) -> tuple[str, ...]:
        """Every URL the crawl of this source starts from."""
        return self.start_urls + self.feeds + self.sitemaps

    def is_denied(self, url: str) -> bool:
        """Tell whether `url` matches a deny pattern (never fetched)."""
        return any(p.search(url) for p in self.deny)

    def is_article(self, url: str) -> bool:
        """Tell whether `url` is an article page (every page, if there are no allow patterns)."""
        return not self.allow or any(p.search(url) for p in self.allow)


def load_sources(path: Path) -> list[Source]:
    """Read a TOML sources file (`[[source]]` tables); raise SourceError on any mistake."""
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise SourceError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise SourceError(f"{path}: not valid TOML: {exc}") from None
    tables = data.get("source")
    if not isinstance(tables, list) or not tables:
        raise SourceError(f"{path}: no [[source]] tables")
    sources = [_source(table, f"{path}: source {i + 1}") for i, table in enumerate(tables)]
    names = [s.name for s in sources]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise SourceError(f"{path}: duplicate source names: {', '.join(duplicates)}")
    return sources


def sources_from_urls(urls: Iterable[str], max_depth: int = DEFAULT_MAX_DEPTH,
                      max_pages: int = DEFAULT_MAX_PAGES) -> list[Source]:
    """Make one source per host from start URLs given on the command line."""
    by_host: dict[str, list[str]] = {}
    for url in urls:
        _check_url(url, "URL")
        by_host.setdefault(host_of(url), []).append(canonical_url(url))
    return [Source(name=host, start_urls=tuple(seeds), allowed_domains=(host,),
                   max_depth=max_depth, max_pages=max_pages)
            for host, seeds in by_host.items()]


def _source(table: Any, where: str) -> Source:
    """Build one Source from a TOML table, checking every field."""
    if not isinstance(table, dict):
        raise SourceError(f"{where}: must be a table")
    unknown = sorted(set(table) - _KEYS)
    if unknown:
        raise SourceError(f"{where}: unknown keys: {', '.join(unknown)}")
    name = table.get("name")
    if not isinstance(name, str) or not name.strip():
        raise SourceError(f"{where}: 'name' is required")
    where = f"{where.rsplit(': ', 1)[0]}: source {name!r}"
    urls = {key: tuple(canonical_url(u) for u in _strings(table, key, where, url=True))
            for key in ("start_urls", "feeds", "sitemaps")}
    if not any(urls.values()):
        raise SourceError(f"{where}: give at least one of start_urls, feeds, sitemaps")
    domains = tuple(d.lower() for d in _strings(table, "allowed_domains", where))
    if not domains:
        domains = tuple(sorted({host_of(u) for group in urls.values() for u in group}))
    return Source(
        name=name.strip(), **urls, allowed_domains=domains,
        allow=_patterns(table, "allow", where), deny=_patterns(table, "deny", where),
        max_depth=_int(table, "max_depth", DEFAULT_MAX_DEPTH, where, minimum=0),
        max_pages=_int(table, "max_pages", DEFAULT_MAX_PAGES, where, minimum=1),
        recrawl_interval=parse_interval(table.get("recrawl_interval", DEFAULT_RECRAWL), where),
        collections=_collections(table, where),
    )


def _strings(table: dict, key: str, where: str, url: bool = False) -> list[str]:
    """Read a list of strings (a single string is accepted as a list of one)."""
    value = table.get(key, [])
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise SourceError(f"{where}: '{key}' must be a list of strings")
    if url:
        for v in value:
            _check_url(v, f"{where}: '{key}'")
    return value


def _collections(table: dict, where: str) -> tuple[str, ...]:
    """Read the source's collection names (each checked, duplicates dropped, in order)."""
    try:
        names = [collection_name(n) for n in _strings(table, "collections", where)]
    except ValueError as exc:
        raise SourceError(f"{where}: 'collections': {exc}") from None
    return tuple(dict.fromkeys(names))


def collections_by_host(sources: Iterable[Source]) -> dict[str, tuple[str, ...]]:
    """Map each allowed domain of the sources that have collections to those collections."""
    found: dict[str, tuple[str, ...]] = {}
    for source in sources:
        for domain in source.allowed_domains:
            if source.collections:
                merged = found.get(domain, ()) + source.collections
                found[domain] = tuple(dict.fromkeys(merged))
    return found


def _check_url(url: str, where: str) -> None:
    """Raise SourceError unless `url` is an absolute http(s) URL."""
    if not re.match(r"https?://[^/\s]+", url, re.I):
        raise SourceError(f"{where}: not an http(s) URL: {url!r}")


def _patterns(table: dict, key: str, where: str) -> tuple[re.Pattern, ...]:
    """Compile a list of regular expressions."""
    try:
        return tuple(re.compile(p) for p in _strings(table, key, where))
    except re.error as exc:
        raise SourceError(f"{where}: bad pattern in '{key}': {exc}") from None


def _int(table: dict, key: str, default: int, where: str, minimum: int) -> int:
    """Read an integer of at least `minimum`."""
    value = table.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise SourceError(f"{where}: '{key}' must be an integer >= {minimum}")
    return value


def parse_interval(value: Any, where: str = "interval") -> float:
    """Parse seconds (a number) or a string like '90s', '30m', '6h', '1d' into seconds."""
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0:
        return float(value)
    if isinstance(value, str):
        match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*", value)
        if match and float(match.group(1)) > 0:
            return float(match.group(1)) * _UNITS[match.group(2) or "s"]
    raise SourceError(f"{where}: bad interval {value!r} (use seconds or e.g. '30m', '6h', '1d')")
