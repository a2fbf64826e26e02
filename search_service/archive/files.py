"""Saved pages and WARC archives on disk → Page records for the normaliser."""

from __future__ import annotations

import gzip
import logging
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from warcio.archiveiterator import ArchiveIterator
from warcio.exceptions import ArchiveLoadFailed

from search_service.archive.warc import DATE_HINT

log = logging.getLogger(__name__)

HTML_SUFFIXES = (".html", ".htm", ".html.gz", ".htm.gz")
WARC_SUFFIXES = (".warc", ".warc.gz")
HTML_TYPES = ("text/html", "application/xhtml+xml")


class InputError(Exception):
    """A path given to ingest or extract cannot be read as pages."""


@dataclass(frozen=True)
class Page:
    """One fetched or saved page: raw bytes with where and when it came from."""

    url: str
    html: bytes
    fetched_at: datetime
    origin: str
    date_hint: datetime | None = None  # a publication date from elsewhere (a news sitemap)


@dataclass(frozen=True)
class PageError:
    """A page (or WARC record) that could not be read, and why. `torn`: the unreadable tail
    of a WARC file (a write cut short by a kill or a full disk), skipped with a warning
    rather than counted as a failure."""

    origin: str
    message: str
    torn: bool = False


def check_paths(paths: Iterable[str | Path]) -> list[Path]:
    """Validate input paths up front; raise InputError naming the first bad one."""
    checked = []
    for raw in paths:
        path = Path(raw)
        if not path.exists():
            raise InputError(f"{path}: no such file or directory")
        if path.is_file() and not _suffix_ok(path):
            expected = ", ".join(HTML_SUFFIXES + WARC_SUFFIXES)
            raise InputError(f"{path}: unsupported file type (expected {expected})")
        checked.append(path)
    return checked


def _suffix_ok(path: Path) -> bool:
    """Tell whether `path` names a page or WARC file by its suffix."""
    name = path.name.lower()
    return name.endswith(HTML_SUFFIXES) or name.endswith(WARC_SUFFIXES)


def expand(paths: Iterable[Path]) -> list[Path]:
    """Expand directories into their page and WARC files, sorted, recursively."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(sorted(p for p in path.rglob("*") if p.is_file() and _suffix_ok(p)))
        else:
            files.append(path)
    return files


def read_pages(files: Iterable[Path], base_url: str = "") -> Iterator[Page | PageError]:
    """Yield every page in `files`: one per HTML file, one per WARC HTML response record."""
    for path in files:
        name = path.name.lower()
        if name.endswith(WARC_SUFFIXES):
            yield from _warc_pages(path)
        else:
            yield _html_page(path, base_url)


def _html_page(path: Path, base_url: str) -> Page | PageError:
    """Read one saved HTML page (gzipped or not)."""
    try:
        data = path.read_bytes()
        if path.name.lower().endswith(".gz"):
            data = gzip.decompress(data)
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        return PageError(str(path), f"cannot read: {exc}")
    mtime = datetime.fromtimestamp(path.stat().st_mtime, tz=timezone.utc)
    url = base_url or path.resolve().as_uri()
    return Page(url=url, html=data, fetched_at=mtime, origin=str(path))


def _warc_pages(path: Path) -> Iterator[Page | PageError]:
    """Yield the HTML response records of one WARC file, then, if the file ends in a torn
    record (a write cut short), one torn PageError for it (logged as a warning).

    A torn gzip member can end the iteration silently, so the end of the last whole record
    is compared with the file size: bytes beyond it (other than blank lines) are torn.
    """
    end = 0  # where the last whole record ends
    try:
        with path.open("rb") as stream:
            records = ArchiveIterator(stream)
            for record in records:
                page = _record_page(path, record)
                start = records.get_record_offset()
                length = records.get_record_length()  # reads the record to its end
                if isinstance(page, PageError) and page.torn:
                    yield _torn(page)
                    return
                if _cut_short(records, record):
                    yield _torn(PageError(f"{path}@{start}", "torn record: cut short", True))
                    return
                end = start + length
                if page is not None:
                    yield page
            tail = _tail(stream, end)
    except _WARC_ERRORS as exc:
        yield _torn(PageError(f"{path}@{end}", f"torn record: cannot read WARC: {exc}", True))
        return
    if tail:
        yield _torn(PageError(f"{path}@{end}", f"torn record: {tail} bytes after the last "
                                               "whole record", True))


def _cut_short(records: ArchiveIterator, record) -> bool:
    """Tell whether a record just read to its end is torn: its headers are incomplete (no
    Content-Length), its content is short of it, or its gzip member has no end."""
    decompressor = getattr(records.reader, "decompressor", None)
    return (record.rec_headers.get_header("Content-Length") is None
            or bool(getattr(record.raw_stream, "limit", 0))
            or (decompressor is not None and not getattr(decompressor, "eof", True)))


def _tail(stream, end: int) -> int:
    """Return how many bytes of `stream` follow `end` (0 if only blank lines do, as they
    follow every record of an uncompressed WARC)."""
    size = stream.seek(0, os.SEEK_END)
    stream.seek(end)
    head = stream.read(64)
    return 0 if size - end <= len(head) and not head.strip(b"\r\n") else size - end


def _torn(error: PageError) -> PageError:
    """Log a torn record as a warning and return it."""
    log.warning("%s: %s; skipped", error.origin, error.message)
    return error


#: What warcio raises on a damaged file (AttributeError: a record torn mid-header, as a crawl
#: killed while writing leaves it).
_WARC_ERRORS = (ArchiveLoadFailed, OSError, EOFError, ValueError, AttributeError)


def read_record(path: Path, offset: int) -> Page | PageError:
    """Read the HTML response record that starts at `offset` of the WARC file `path`."""
    try:
        with Path(path).open("rb") as stream:
            stream.seek(offset)
            for record in ArchiveIterator(stream):
                page = _record_page(Path(path), record)
                return page or PageError(f"{path}@{offset}", "not an HTML response record")
    except _WARC_ERRORS as exc:
        return PageError(f"{path}@{offset}", f"cannot read WARC: {exc}")
    return PageError(f"{path}@{offset}", "no record there")


def _record_page(path: Path, record) -> Page | PageError | None:
    """Turn one WARC record into a Page (None if it is not an HTML response)."""
    if record.rec_type != "response":
        return None
    url = record.rec_headers.get_header("WARC-Target-URI") or ""
    origin = f"{path}#{url}"
    ctype = (record.http_headers.get_header("Content-Type") or "").lower() if (
        record.http_headers) else ""
    if ctype and not ctype.startswith(HTML_TYPES):
        return None
    try:
        data = record.content_stream().read()
    except Exception as exc:  # a damaged record must not stop the rest
        return PageError(origin, f"cannot decode record: {exc}")
    missing = getattr(record.raw_stream, "limit", 0)
    if missing:
        return PageError(origin, f"torn record: {missing} bytes missing", True)
    return Page(url=url, html=data, fetched_at=_warc_date(record), origin=origin,
                date_hint=_date_hint(record))


def _date_hint(record) -> datetime | None:
    """Return the publication date a crawl noted for a record (from a news sitemap), if any."""
    raw = record.rec_headers.get_header(DATE_HINT) or ""
    try:
        when = datetime.fromisoformat(raw.replace("Z", "+00:00")) if raw else None
    except ValueError:
        return None
    return when.replace(tzinfo=timezone.utc) if when and when.tzinfo is None else when


def _warc_date(record) -> datetime:
    """Return a WARC record's date as an aware datetime (now if missing or bad)."""
    raw = record.rec_headers.get_header("WARC-Date") or ""
    try:
        return datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        return datetime.now(timezone.utc)
