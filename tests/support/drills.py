"""Crash drills shared by tests/reliability/ and benchmarks/drill.py: run a real `news-search`
command in a subprocess, SIGKILL it (after a delay, or at a kill point of `killpoint.py`), and
check what it left: the index opens and serves, no canonical URL twice, nothing committed before
the kill lost, the WARC archive readable.
"""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from warcio.archiveiterator import ArchiveIterator

from search_service.archive.files import Page, PageError, read_pages
from search_service.archive.warc import archive_files
from search_service.index.schema import IndexMissing, index_exists, open_index
from tests.support.paths import ROOT, child_env


def command(argv: list[str], point: str | None = None, nth: int = 1) -> list[str]:
    """The command line running `news-search ARGV` (dying at kill point `point`, its `nth`
    arrival, if given)."""
    if point:
        return [sys.executable, "-m", "tests.support.killpoint", point, str(nth), "--",
                *argv]
    return [sys.executable, "-m", "search_service.cli", *argv]


@dataclass
class Run:
    """One run of a command: killed or not, its exit status, stderr, and the canonical URLs
    seen committed in the index while it ran (the last look before the kill)."""

    killed: bool
    returncode: int | None
    stderr: str
    seconds: float
    seen: set[str] = field(default_factory=set)
    stdout: str = ""


def run(argv: list[str], kill_after: float | None = None, point: str | None = None,
        nth: int = 1, watch: Path | None = None, timeout: float = 300,
        max_file_bytes: int | None = None) -> Run:
    """Run `news-search ARGV` in its own process group; SIGKILL the whole group after
    `kill_after` seconds if it is still running (or let it die at `point`). With `watch`,
    look at that index's committed articles every 0.1 s meanwhile. `max_file_bytes`: no
    file of the command may grow past that (RLIMIT_FSIZE: writes fail with EFBIG, as on a
    full disk)."""
    seen: set[str] = set()
    started = time.monotonic()
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(command(argv, point, nth), cwd=ROOT, env=child_env(),
                                stdout=out, stderr=err, start_new_session=True,
                                preexec_fn=file_size_limit(max_file_bytes))
        killed = False
        limit = started + (kill_after if kill_after is not None else timeout)
        while proc.poll() is None and time.monotonic() < limit:
            if watch is not None:
                seen = committed_urls(watch, seen)
            time.sleep(0.1 if watch is None else 0.05)
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            killed = kill_after is not None
            if not killed:
                raise TimeoutError(f"{argv[0]} ran over {timeout} s")
        proc.wait()
        try:  # children (the crawl's indexer) die with the group
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        killed = killed or proc.returncode == -signal.SIGKILL
        out.seek(0)
        err.seek(0)
        return Run(killed, proc.returncode, err.read(), time.monotonic() - started, seen,
                   out.read())


def file_size_limit(limit: int | None):
    """A preexec function capping the size of files the child writes (None: no cap)."""
    if limit is None:
        return None

    def apply() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # fail the write, do not kill
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


def committed_urls(index: Path, default: set[str] | None = None) -> set[str]:
    """The canonical URLs committed in `index` now (`default` if it cannot be read now)."""
    try:
        return set(canonical_urls(index))
    except Exception:
        return default if default is not None else set()


def canonical_urls(index: Path) -> list[str]:
    """Every article's canonical URL in `index`, duplicates kept."""
    with open_index(index).searcher() as searcher:
        return [fields["canonical_url"] for fields in searcher.all_stored_fields()]


@dataclass
class Check:
    """What a kill left: the index opens and answers, duplicates, articles lost."""

    opens: bool
    serves: bool
    articles: int
    duplicates: int
    lost: int
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.opens and self.serves and not self.duplicates and not self.lost


def check_index(index: Path, before: set[str]) -> Check:
    """Open `index` as `serve` would, search it over HTTP semantics (the app, in process),
    and compare its articles with `before` (those seen committed before the kill)."""
    from search_service.web import create_app

    try:
        urls = canonical_urls(index)
    except Exception as exc:  # any failure to open is the finding
        return Check(False, False, 0, 0, len(before), f"{type(exc).__name__}: {exc}")
    client = create_app({"TESTING": True, "INDEX_DIR": str(index)}).test_client()
    answers = [client.get(url) for url in ("/api/search?q=said", "/api/search", "/?q=said")]
    serves = all(answer.status_code == 200 for answer in answers)
    duplicates = sum(n - 1 for n in Counter(urls).values())
    return Check(True, serves, len(urls), duplicates, len(before - set(urls)),
                 "" if serves else f"HTTP {[a.status_code for a in answers]}")


def orphan_files(index: Path) -> int:
    """Files in `index` no commit refers to: what a commit cut short leaves (segment files
    without a table of contents, a temporary table of contents). 0 if the index is missing."""
    if not index_exists(index):
        return 0
    try:
        ix = open_index(index)
    except IndexMissing:
        return 0
    live = {segment.segment_id() for segment in ix._segments()}
    generation = ix.latest_generation()
    orphans = 0
    for path in index.iterdir():
        name = path.name
        if name == "MAIN_WRITELOCK":
            continue
        if name.startswith("MAIN_") and name.split(".")[0] not in live:
            orphans += 1
        elif name.startswith("_MAIN_") and name != f"_MAIN_{generation}.toc":
            orphans += 1
    return orphans


def torn_records(archive: Path) -> tuple[int, int]:
    """Read every WARC file of `archive`: return (pages read, torn records skipped)."""
    pages = torn = 0
    for item in read_pages(archive_files(archive)):
        if isinstance(item, Page):
            pages += 1
        elif isinstance(item, PageError) and item.torn:
            torn += 1
        else:
            raise AssertionError(f"unreadable archive record: {item}")
    return pages, torn


def warc_subset(source: Path, target: Path, start: int, stop: int) -> Path:
    """Copy records `start`..`stop` (response records, counted from 0) of the WARC file
    `source` to `target`, byte for byte (each gzip member as it is)."""
    raw = source.read_bytes()
    spans = []
    with source.open("rb") as stream:
        records = ArchiveIterator(stream)
        for record in records:
            if record.rec_type == "response":
                spans.append((records.get_record_offset(), records.get_record_length()))
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(b"".join(raw[offset:offset + length]
                                for offset, length in spans[start:stop]))
    return target
