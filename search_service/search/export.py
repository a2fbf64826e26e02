"""Export: every story a query matches (one row per story, near-duplicate copies collapsed
as the search total counts them), in the stable order of cursor.py, streamed as CSV or JSON
lines. Rows are read one at a time from the stored fields, so memory stays flat while the
result grows (the order itself costs a few numbers per match)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from typing import Any

from whoosh.searching import Searcher

from search_service.search.cursor import story_order
from search_service.search.engine import iso
from search_service.search.params import QueryError, SearchParams

FORMATS = ("csv", "jsonl")
#: The columns of a row, in order (`body` only on request).
FIELDS = ("id", "url", "title", "published", "source", "host", "authors", "language",
          "collections", "similar_count")
#: Rows written per chunk of output.
CHUNK_ROWS = 200


def check_format(name: str) -> str:
    """Return a valid export format name; raise QueryError otherwise."""
    if name not in FORMATS:
        raise QueryError(f"format must be one of: {', '.join(FORMATS)} (not {name!r})")
    return name


def fields(body: bool = False) -> tuple[str, ...]:
    """The columns of an export, with `body` last if asked for."""
    return FIELDS + (("body",) if body else ())


def export_rows(searcher: Searcher, params: SearchParams, body: bool = False
                ) -> Iterator[dict[str, Any]]:
    """Yield one row per matching story in the stable order. The query is parsed and the
    order found before the first row is asked for (bad queries fail at once)."""
    order = story_order(searcher, params)

    def rows() -> Iterator[dict[str, Any]]:
        for i in range(len(order)):  # no list of every story: numbers read one at a time
            yield row(searcher.stored_fields(int(order.docnums[i])), int(order.copies[i]) - 1,
                      body)

    return rows()


def row(stored: dict[str, Any], similar: int, body: bool = False) -> dict[str, Any]:
    """One export row from an article's stored fields."""
    data = {
        "id": stored["id"],
        "url": stored["url"],
        "title": stored.get("title", ""),
        "published": iso(stored.get("published")),
        "source": stored.get("source_key", ""),
        "host": stored.get("host", ""),
        "authors": [a for a in (stored.get("authors") or "").split("; ") if a],
        "language": stored.get("language", ""),
        "collections": [c for c in (stored.get("collection") or "").split(",") if c],
        "similar_count": similar,
    }
    if body:
        data["body"] = stored.get("body", "")
    return data


def serialise(rows: Iterator[dict[str, Any]], fmt: str, body: bool = False) -> Iterator[str]:
    """Turn rows into chunks of CSV (a header first; lists joined by '; ') or JSON lines."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n") if fmt == "csv" else None
    if writer:
        writer.writerow(fields(body))
    count = 0
    for item in rows:
        if writer:
            writer.writerow([_cell(item[name]) for name in fields(body)])
        else:
            buffer.write(json.dumps(item, ensure_ascii=False))
            buffer.write("\n")
        count += 1
        if count % CHUNK_ROWS == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    if buffer.tell():
        yield buffer.getvalue()


def _cell(value: Any) -> str:
    """A CSV cell: lists joined by '; ', None empty; a leading =, +, - or @ made inert
    (a spreadsheet would run it as a formula)."""
    if value is None:
        return ""
    text = "; ".join(value) if isinstance(value, list) else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text
