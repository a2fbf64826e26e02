"""The indexer process: normalises crawled pages and writes their articles to the index (the
single writer) on another core than the crawl; it exits when the crawl process is gone."""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

from search_service.archive.files import Page
from search_service.index.schema import open_index
from search_service.index.writer import ArticleWriter
from search_service.ingest import Collections, IngestSummary, index_page, rejection_reason

log = logging.getLogger(__name__)

#: The indexer process's writer, made by `start_indexer` (one per worker process).
_writer: ArticleWriter | None = None


def indexer_pool(index_dir: Path) -> ProcessPoolExecutor:
    """Start the indexer: one spawned process, so calls run one at a time, in order.

    The process is started here with Ctrl-C ignored from birth (an ignored signal survives
    exec), so a Ctrl-C during its start-up, before `start_indexer` runs, cannot kill it.
    """
    pool = ProcessPoolExecutor(1, mp_context=get_context("spawn"), initializer=start_indexer,
                               initargs=(os.getpid(), str(index_dir)))
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        pool.submit(os.getpid).result()
    finally:
        signal.signal(signal.SIGINT, previous)
    return pool


def start_indexer(parent: int, index_dir: str) -> None:
    """In the indexer: open the writer, leave Ctrl-C to the crawl (which stops cleanly and
    then shuts the indexer down), and exit at once when the crawl is gone (even SIGKILLed)."""
    global _writer
    signal.signal(signal.SIGINT, signal.SIG_IGN)

    def watch() -> None:
        """Exit when the parent process is gone."""
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(0)

    threading.Thread(target=watch, daemon=True, name="exit-with-parent").start()
    _writer = ArticleWriter(open_index(Path(index_dir), create=True), batch=sys.maxsize,
                            interval=float("inf"))


def index_in_worker(page: Page, collections: tuple[str, ...] = ()) -> tuple[str, str, bool]:
    """In the indexer: normalise `page` and queue its article (in `collections`) through the
    ingest path; return (outcome 'indexed' | 'rejected' | 'failed', reason, whether it has a
    date)."""
    assert _writer is not None
    extraction = index_page(_writer, page, IngestSummary(), Collections(always=collections))
    if extraction is None:
        return "failed", "normaliser failed", False
    if extraction.rejected:
        return "rejected", rejection_reason(extraction.rejected), False
    return "indexed", "", extraction.article.published is not None


def commit_in_worker() -> int:
    """In the indexer: commit every queued article; return how many were written so far."""
    assert _writer is not None
    _writer.flush()
    return _writer.written
