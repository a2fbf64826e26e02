"""The Whoosh index: the schema (the only place field names live) and the single writer."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from whoosh import index as whoosh_index
from whoosh import sorting
from whoosh.analysis import CharsetFilter, StemmingAnalyzer
from whoosh.fields import DATETIME, ID, KEYWORD, STORED, TEXT, Schema
from whoosh.index import LockError
from whoosh.query import Every
from whoosh.support.charset import accent_map

from search_service.article import Article

log = logging.getLogger(__name__)

#: Bumped whenever the schema changes in a way old indexes cannot serve.
SCHEMA_VERSION = 1
VERSION_FILE = "news-search.json"


class IndexMissing(Exception):
    """There is no news-search index at the given directory."""


class IndexBusy(Exception):
    """Another process holds the index's write lock."""


class IndexVersionError(Exception):
    """The index was built with another schema version and must be rebuilt."""


def text_analyzer():
    """Return the analyzer for title and body: words, lower case, stop words, stems, no accents."""
    return StemmingAnalyzer() | CharsetFilter(accent_map)


def make_schema() -> Schema:
    """Declare the index schema (see README: 'Index fields')."""
    analyzer = text_analyzer()
    return Schema(
        id=ID(stored=True, unique=True),
        canonical_url=ID(stored=True, unique=True),
        url=ID(stored=True),
        title=TEXT(analyzer=analyzer, stored=True, field_boost=2.0),
        body=TEXT(analyzer=analyzer, stored=True, chars=True),
        published=DATETIME(stored=True, sortable=True),
        modified=DATETIME(stored=True),
        source=ID(stored=True, sortable=True),
        authors=KEYWORD(stored=True, commas=True, lowercase=True, scorable=True),
        language=ID(stored=True),
        summary=STORED(),
        fetched_at=STORED(),
    )


def index_exists(path: Path) -> bool:
    """Tell whether `path` holds a news-search index."""
    return path.is_dir() and whoosh_index.exists_in(str(path))


def open_index(path: Path, create: bool = False) -> whoosh_index.Index:
    """Open the index at `path`; with `create`, make an empty one if there is none."""
    if index_exists(path):
        _check_version(path)
        return whoosh_index.open_dir(str(path))
    if not create:
        raise IndexMissing(f"no index at {path} (run 'news-search ingest' or 'news-search demo')")
    return reset_index(path)


def reset_index(path: Path) -> whoosh_index.Index:
    """Make an empty index at `path`, replacing any index there (for `reindex`)."""
    path.mkdir(parents=True, exist_ok=True)
    ix = whoosh_index.create_in(str(path), make_schema())
    (path / VERSION_FILE).write_text(json.dumps({"schema_version": SCHEMA_VERSION}))
    return ix


def _check_version(path: Path) -> None:
    """Raise IndexVersionError if the index at `path` has another schema version."""
    try:
        version = json.loads((path / VERSION_FILE).read_text())["schema_version"]
    except (OSError, ValueError, KeyError):
        version = None
    if version != SCHEMA_VERSION:
        raise IndexVersionError(
            f"the index at {path} has schema version {version}, this program needs "
            f"{SCHEMA_VERSION}: rebuild it (delete the directory and ingest again)"
        )


def to_document(article: Article) -> dict[str, Any]:
    """Map an Article to the index document (the only place fields are filled)."""
    doc: dict[str, Any] = {
        "id": article.id,
        "canonical_url": article.canonical_url,
        "url": article.url,
        "title": article.title,
        "body": article.body,
        "source": article.source,
        "authors": ",".join(a.replace(",", " ") for a in article.authors),
        "language": article.language,
        "summary": article.summary,
        "fetched_at": article.fetched_at,
    }
    if article.published:
        doc["published"] = _naive_utc(article.published)
    if article.modified:
        doc["modified"] = _naive_utc(article.modified)
    return doc


def _naive_utc(value: datetime) -> datetime:
    """Whoosh DATETIME fields take naive datetimes: store UTC."""
    return value.astimezone(timezone.utc).replace(tzinfo=None)


class ArticleWriter:
    """The single writer: buffers articles by canonical URL and commits every `batch` of them."""

    def __init__(self, ix: whoosh_index.Index, batch: int = 1000, timeout: float = 10.0):
        self.ix = ix
        self.batch = batch
        self.timeout = timeout
        self.pending: dict[str, Article] = {}
        self.written = 0

    def __enter__(self) -> ArticleWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.flush()

    def add(self, article: Article) -> None:
        """Queue `article` (a later one with the same canonical URL replaces it)."""
        self.pending[article.canonical_url] = article
        if len(self.pending) >= self.batch:
            self.flush()

    def flush(self) -> None:
        """Write and commit the queued articles (updates replace older copies)."""
        if not self.pending:
            return
        try:
            writer = self.ix.writer(timeout=self.timeout, limitmb=256)
        except LockError as exc:
            raise IndexBusy(
                f"the index is being written by another process (waited {self.timeout:g}s)"
            ) from exc
        try:
            for article in self.pending.values():
                writer.update_document(**to_document(article))
        except BaseException:
            writer.cancel()
            raise
        writer.commit()
        self.written += len(self.pending)
        self.pending.clear()


def write_articles(ix: whoosh_index.Index, articles: Iterable[Article], batch: int = 1000) -> int:
    """Write `articles` to the index in batches; return how many were written."""
    with ArticleWriter(ix, batch=batch) as writer:
        for article in articles:
            writer.add(article)
    return writer.written


@dataclass(frozen=True)
class IndexStats:
    """What the index holds: article count, per-source counts, the date range covered."""

    articles: int
    sources: dict[str, int]
    first_published: datetime | None
    last_published: datetime | None


def index_stats(ix: whoosh_index.Index) -> IndexStats:
    """Count articles, articles per source, and the publication date range."""
    with ix.searcher() as searcher:
        results = searcher.search(Every(), groupedby=sorting.FieldFacet("source"), limit=None)
        groups = results.groups("source")
        sources = {name: len(docs) for name, docs in groups.items()}
        dates = [
            fields["published"]
            for fields in searcher.all_stored_fields()
            if fields.get("published")
        ]
        return IndexStats(
            articles=searcher.doc_count(),
            sources=dict(sorted(sources.items(), key=lambda kv: (-kv[1], kv[0]))),
            first_published=min(dates) if dates else None,
            last_published=max(dates) if dates else None,
        )
