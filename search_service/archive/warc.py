"""The raw archive: every fetched article response, written to rotating WARC files first."""

from __future__ import annotations

import io
import logging
import os
from datetime import datetime, timezone
from pathlib import Path

from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

log = logging.getLogger(__name__)

#: Start a new WARC file once the current one is this big (bytes, compressed).
DEFAULT_ROTATE_BYTES = 100 * 1024 * 1024
#: WARC header (an extension field) of a publication date from the page's news sitemap.
DATE_HINT = "News-Search-Date-Hint"
#: Headers describing the wire encoding, dropped because the archive keeps the decoded body.
_WIRE_HEADERS = {"content-encoding", "transfer-encoding", "content-length"}


class WarcArchive:
    """Append HTTP responses to gzipped WARC files in one directory, rotating by size.

    Each record is flushed as it is written, so a crawl killed at any moment leaves every
    complete record readable (a half-written last record is reported as torn on reading). A
    write that fails (a full disk) is cut off and the file left: writing goes on in a new one.
    """

    def __init__(self, directory: Path, rotate_bytes: int = DEFAULT_ROTATE_BYTES,
                 prefix: str = "news-search"):
        self.directory = Path(directory)
        self.rotate_bytes = rotate_bytes
        self.prefix = prefix
        self.records = 0
        self._stream: io.BufferedWriter | None = None
        self._writer: WARCWriter | None = None
        self.path: Path | None = None

    def __enter__(self) -> WarcArchive:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.close()

    def write_response(self, url: str, status: int, reason: str,
                       headers: list[tuple[str, str]], body: bytes,
                       fetched_at: datetime | None = None, truncated: bool = False,
                       date_hint: str = "") -> tuple[Path, int]:
        """Write one response record (body as received after decoding); return its file and
        the offset where the record starts (`read_record` reads it back).
        `truncated`: the body was cut at the size limit (recorded as `WARC-Truncated: length`);
        `date_hint`: a publication date the page's news sitemap gave (`DATE_HINT` header)."""
        writer = self._current()
        assert self._stream is not None
        offset = self._stream.tell()
        kept = [(k, v) for k, v in headers if k.lower() not in _WIRE_HEADERS]
        kept.append(("Content-Length", str(len(body))))
        http_headers = StatusAndHeaders(f"{status} {reason}".strip(), kept,
                                        protocol="HTTP/1.1")
        date = (fetched_at or datetime.now(timezone.utc)).astimezone(timezone.utc)
        warc_headers = {"WARC-Date": date.strftime("%Y-%m-%dT%H:%M:%SZ")}
        if truncated:
            warc_headers["WARC-Truncated"] = "length"
        if date_hint:
            warc_headers[DATE_HINT] = date_hint
        record = writer.create_warc_record(
            url, "response", payload=io.BytesIO(body), http_headers=http_headers,
            warc_headers_dict=warc_headers)
        try:
            writer.write_record(record)
            self._stream.flush()
        except OSError:  # a full disk, say: the record must not sit torn mid-file
            self._abandon(offset)
            raise
        self.records += 1
        assert self.path is not None
        return self.path, offset

    def _current(self) -> WARCWriter:
        """Return the writer of the current file, starting a new file when it is full."""
        if self._stream is not None and self._stream.tell() >= self.rotate_bytes:
            self.close()
        if self._writer is None:
            self.directory.mkdir(parents=True, exist_ok=True)
            stamp = datetime.now(timezone.utc).strftime("%Y%m%d%H%M%S%f")
            self.path = self.directory / f"{self.prefix}-{stamp}-{os.getpid()}.warc.gz"
            self._stream = self.path.open("xb")
            self._writer = WARCWriter(self._stream, gzip=True)
            log.info("archiving to %s", self.path)
        return self._writer

    def _abandon(self, offset: int) -> None:
        """Cut the current file back to `offset` (where a failed record began) and leave it:
        the next record starts a new file, so a torn record can only ever be a file's last
        (which reading skips with a warning)."""
        assert self._stream is not None
        try:
            os.ftruncate(self._stream.fileno(), offset)
        except OSError:
            log.warning("%s: could not cut off a failed record (left torn)", self.path)
        try:
            self._stream.raw.close()  # not close(): that would flush the failed bytes again
        except OSError:
            pass
        self._stream = self._writer = None

    def close(self) -> None:
        """Close the current file (the next write starts a new one)."""
        if self._stream is not None:
            self._stream.close()
        self._stream = self._writer = None


def archive_files(directory: Path) -> list[Path]:
    """Return the archive's WARC files, oldest first."""
    directory = Path(directory)
    if not directory.is_dir():
        return []
    return sorted(directory.glob("*.warc.gz"))
