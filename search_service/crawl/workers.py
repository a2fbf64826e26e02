"""Worker processes that normalise crawled pages on other cores, and die with the crawl."""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context

log = logging.getLogger(__name__)


def normalise_pool(workers: int) -> ProcessPoolExecutor:
    """Start `workers` fresh (spawned) processes that exit if the crawl process dies."""
    return ProcessPoolExecutor(workers, mp_context=get_context("spawn"),
                               initializer=exit_with_parent, initargs=(os.getpid(),))


def exit_with_parent(parent: int) -> None:
    """In a worker: leave Ctrl-C to the crawl (which stops cleanly and then closes the pool),
    and exit at once when the crawl process is gone (even if it was SIGKILLed)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(0)

    threading.Thread(target=watch, daemon=True, name="exit-with-parent").start()
