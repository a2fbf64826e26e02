"""What the crawler has done, kept beside the archive.

`crawl-state.sqlite`: one row per article URL that was archived and indexed, with when it was
fetched and its validators (ETag, Last-Modified). It lets a crawl killed at any moment resume
without fetching those articles again, and lets a re-crawl ask only for what changed. Table
`archived` holds the articles written to the archive whose index commit is not done yet
(where their WARC record is): a crawl killed before that commit indexes them from the archive
when it resumes, instead of fetching them again.

`crawl-sources.json`: each source's counters from its last crawl (indexed, dated, rejected,
refused and errors by reason), for `news-search stats` and the `/sources` page.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

log = logging.getLogger(__name__)

STATE_FILE = "crawl-state.sqlite"
SOURCES_FILE = "crawl-sources.json"


@dataclass(frozen=True)
class Archived:
    """An article archived but not yet committed to the index: where its WARC record is."""

    url: str
    source: str
    fetched_at: float
    etag: str
    last_modified: str
    warc: str
    offset: int


@dataclass(frozen=True)
class Fetched:
    """An article fetched before: when, and the validators for a conditional request."""

    url: str
    source: str
    fetched_at: float
    etag: str
    last_modified: str


class CrawlState:
    """The fetched-articles table of one archive directory (each write is committed at once)."""

    def __init__(self, directory: Path):
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(directory / STATE_FILE, isolation_level=None, timeout=30)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute("CREATE TABLE IF NOT EXISTS fetched (url TEXT PRIMARY KEY, source TEXT,"
                        " fetched_at REAL, etag TEXT, last_modified TEXT)")
        self.db.execute("CREATE TABLE IF NOT EXISTS archived (url TEXT PRIMARY KEY, source TEXT,"
                        " fetched_at REAL, etag TEXT, last_modified TEXT, warc TEXT,"
                        " offset INTEGER)")

    def get(self, url: str) -> Fetched | None:
        """Return what is known about `url`, or None if it was never fetched."""
        row = self.db.execute("SELECT url, source, fetched_at, etag, last_modified FROM fetched"
                              " WHERE url = ?", (url,)).fetchone()
        return Fetched(*row) if row else None

    def record(self, url: str, source: str, etag: str = "", last_modified: str = "",
               fetched_at: float | None = None) -> None:
        """Remember that `url` was fetched (now, unless `fetched_at`) with these validators."""
        self.db.execute("INSERT OR REPLACE INTO fetched VALUES (?, ?, ?, ?, ?)",
                        (url, source, fetched_at or time.time(), etag, last_modified))

    def archived(self, item: Archived) -> None:
        """Remember that an article's response is in the archive, not yet indexed."""
        self.db.execute("INSERT OR REPLACE INTO archived VALUES (?, ?, ?, ?, ?, ?, ?)",
                        (item.url, item.source, item.fetched_at, item.etag, item.last_modified,
                         item.warc, item.offset))

    def settled(self, url: str) -> None:
        """Forget the pending archive entry of `url` (indexed and committed, or rejected)."""
        self.db.execute("DELETE FROM archived WHERE url = ?", (url,))

    def pending(self) -> list[Archived]:
        """The articles archived but not yet committed to the index, in archive order."""
        rows = self.db.execute("SELECT url, source, fetched_at, etag, last_modified, warc, offset"
                               " FROM archived ORDER BY warc, offset").fetchall()
        return [Archived(*row) for row in rows]

    def is_pending(self, url: str) -> bool:
        """Tell whether `url` is archived and waiting for its index commit."""
        return self.db.execute("SELECT 1 FROM archived WHERE url = ?",
                               (url,)).fetchone() is not None

    def touch(self, url: str) -> None:
        """Mark `url` as checked now (it was unchanged)."""
        self.db.execute("UPDATE fetched SET fetched_at = ? WHERE url = ?", (time.time(), url))

    def count(self) -> int:
        """How many article URLs are known."""
        return self.db.execute("SELECT count(*) FROM fetched").fetchone()[0]

    def close(self) -> None:
        """Close the database."""
        self.db.close()


def save_source_stats(directory: Path, names: Iterable[str], counts: Mapping[str, Mapping],
                      finished_at: datetime, finish_reason: str) -> None:
    """Record the last crawl of each source in `names` (others keep their earlier record)."""
    data = load_source_stats(directory)
    for name in names:
        data[name] = {"last_crawl": finished_at.isoformat(timespec="seconds"),
                      "finish_reason": finish_reason,
                      "counts": dict(sorted(counts.get(name, {}).items()))}
    path = Path(directory) / SOURCES_FILE
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False))
    os.replace(tmp, path)


def load_source_stats(directory: Path) -> dict[str, dict]:
    """Return each source's last-crawl record ({} if there is none)."""
    try:
        return json.loads((Path(directory) / SOURCES_FILE).read_text())
    except (OSError, ValueError):
        return {}


def crawl_report(records: dict[str, dict]) -> dict[str, dict]:
    """Turn each source's last-crawl counters into the stats report rows."""
    report = {}
    for name, record in sorted(records.items()):
        counts = record["counts"]
        indexed, rejected = counts.get("indexed", 0), counts.get("rejected", 0)
        by_reason = {kind: {k.split(": ", 1)[1]: v for k, v in sorted(
            counts.items(), key=lambda kv: (-kv[1], kv[0])) if k.startswith(f"{kind}: ")}
            for kind in ("rejected", "refused", "errors")}
        report[name] = {
            "last_crawl": record["last_crawl"], "finish_reason": record["finish_reason"],
            "indexed": indexed, "dated_share": counts.get("dated", 0) / indexed if indexed else 0,
            "rejected_share": rejected / (indexed + rejected) if indexed + rejected else 0,
            "unchanged": counts.get("unchanged", 0), "fresh": counts.get("fresh", 0),
            "cut": counts.get("cut", 0), **by_reason,
        }
    return report
