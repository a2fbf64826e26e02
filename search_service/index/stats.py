"""What the index holds: article counts per source, date ranges, last commit."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from whoosh import index as whoosh_index
from whoosh import sorting
from whoosh.query import Every
from whoosh.searching import Searcher

from search_service.index import whoosh_compat


def last_commit(path: Path) -> datetime | None:
    """Return when the index at `path` last committed (its newest table of contents)."""
    tocs = list(Path(path).glob("_*.toc"))
    if not tocs:
        return None
    newest = max(toc.stat().st_mtime for toc in tocs)
    return datetime.fromtimestamp(newest, tz=timezone.utc)


@dataclass(frozen=True)
class IndexStats:
    """What the index holds: article count, per-source counts, the date range covered."""

    articles: int
    sources: dict[str, int]
    first_published: datetime | None
    last_published: datetime | None
    segments: int


def source_counts(searcher: Searcher) -> dict[str, int]:
    """Count articles per source, most first (ties by name)."""
    results = searcher.search(Every(), groupedby=sorting.FieldFacet("source_key"), limit=None)
    sources = {name: len(docs) for name, docs in results.groups("source_key").items()}
    return dict(sorted(sources.items(), key=lambda kv: (-kv[1], kv[0])))


@dataclass(frozen=True)
class SourceHealth:
    """One source as the index holds it: articles, how many carry a date, the dates covered."""

    source: str
    articles: int
    dated: int
    first_published: datetime | None
    last_published: datetime | None


def source_health(searcher: Searcher) -> list[SourceHealth]:
    """Summarise each source's articles, most articles first (ties by name).

    One pass over the sortable `source_key` and `published` columns (no stored fields read).
    """
    reader = searcher.reader()
    if reader.doc_count_all() == 0:  # an index without commits has no columns to read
        return []
    field = searcher.schema["published"]
    sources = reader.column_reader("source_key")
    # Raw column values: an undated article holds the column's default, which does not
    # translate to a datetime.
    dates = reader.column_reader("published", translate=False)
    undated = field.column_type.default_value()
    rows: dict[str, list] = {}
    for docnum in reader.all_doc_ids():
        row = rows.setdefault(sources[docnum], [0, 0, None, None])
        row[0] += 1
        stamp = dates[docnum]
        if stamp == undated:
            continue
        row[1] += 1
        row[2] = stamp if row[2] is None else min(row[2], stamp)
        row[3] = stamp if row[3] is None else max(row[3], stamp)
    when = field.from_column_value
    return [SourceHealth(name, total, dated, None if first is None else when(first),
                         None if last is None else when(last))
            for name, (total, dated, first, last) in
            sorted(rows.items(), key=lambda kv: (-kv[1][0], kv[0]))]


def index_stats(ix: whoosh_index.Index) -> IndexStats:
    """Count articles, articles per source, and the publication date range."""
    with ix.searcher() as searcher:
        sources = source_counts(searcher)
        # The field's full-precision terms, in order (an Every("published") query would walk
        # every numeric trie term); until a merge they include deleted articles' dates.
        field = searcher.schema["published"]
        stamps = list(field.sortable_terms(searcher.reader(), "published"))
        return IndexStats(
            articles=searcher.doc_count(),
            sources=sources,
            first_published=field.from_bytes(stamps[0]) if stamps else None,
            last_published=field.from_bytes(stamps[-1]) if stamps else None,
            segments=whoosh_compat.segment_count(ix),
        )
