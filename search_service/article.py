"""The Article record: the one thing passed between the pipeline's stages."""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

#: Where a publication date can come from (`Article.published_source`), with its name for
#: readers: JSON-LD, a meta tag (or itemprop), a <time> element, byline or dateline text, the
#: URL path, a news sitemap, or the htmldate library.
DATE_SOURCES = {
    "jsonld": "JSON-LD", "meta": "meta tag", "time": "time element", "text": "byline text",
    "url": "URL", "sitemap": "sitemap", "htmldate": "htmldate",
}


@dataclass(frozen=True)
class Article:
    """One news article as the normaliser made it from a page (`collections`: the source
    collections ingest or the crawl put it in)."""

    url: str
    canonical_url: str
    title: str
    body: str
    published: datetime | None = None
    modified: datetime | None = None
    authors: tuple[str, ...] = field(default_factory=tuple)
    source: str = ""
    language: str = ""
    summary: str = ""
    fetched_at: datetime | None = None
    collections: tuple[str, ...] = field(default_factory=tuple)
    #: Where the publication date came from: jsonld, meta, time, text, url, sitemap, htmldate.
    published_source: str = ""

    @property
    def id(self) -> str:
        """The article's stable id, derived from its canonical URL."""
        return article_id(self.canonical_url)

    def to_json(self) -> dict[str, Any]:
        """Return the article as JSON-ready data (dates as ISO 8601 strings)."""
        data = asdict(self)
        data["authors"] = list(self.authors)
        data["collections"] = list(self.collections)
        if not self.collections:  # set at ingest, never by the normaliser: shown when set
            del data["collections"]
        for key in ("published", "modified", "fetched_at"):
            value = data[key]
            data[key] = value.isoformat() if value else None
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Article:
        """Rebuild an article from `to_json`'s data."""
        values = dict(data)
        values["authors"] = tuple(values.get("authors") or ())
        values["collections"] = tuple(values.get("collections") or ())
        for key in ("published", "modified", "fetched_at"):
            if values.get(key):
                values[key] = datetime.fromisoformat(values[key])
        return cls(**values)


#: Hex characters in an article id.
ID_CHARS = 16


def article_id(canonical_url: str) -> str:
    """Return the short stable id of the article at `canonical_url`."""
    return hashlib.sha1(canonical_url.encode("utf-8")).hexdigest()[:ID_CHARS]


#: Characters a collection name may hold at most.
MAX_COLLECTION_CHARS = 64


def collection_name(text: str) -> str:
    """Return `text` as a collection name (trimmed); ValueError if it is not one."""
    name = " ".join(str(text).split())
    if not name or len(name) > MAX_COLLECTION_CHARS or "," in name:
        raise ValueError(f"not a collection name: {text!r} (1 to {MAX_COLLECTION_CHARS} "
                         "characters, no commas)")
    return name
