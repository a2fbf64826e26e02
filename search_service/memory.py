"""The C allocator's settings for the long-running processes (serve workers, the
index-worker): how many malloc arenas glibc may create, and giving the memory Python has
freed back to the system (`malloc_trim`) at the moments a process frees much of it.

Why: glibc gives a process's threads malloc arenas of their own (up to 8 per core) and keeps
the pages freed inside each arena for reuse, so a many-threaded process that builds and drops
caches at every commit (a serve worker's waitress threads, the index-worker's merges) holds
more private memory than its live objects need. Fewer arenas (`mallopt(M_ARENA_MAX, n)`,
before threads start) and `malloc_trim(0)` after commits and searcher refreshes lowered a
serve process's private memory by about 6 % in benchmarks/malloc_ab.py, at about 10 ms a trim
(docs/operations.md, "The allocator (fourth round)").

Two settings, read from the environment by `configure()`:
- `NEWS_SEARCH_MALLOC_ARENAS` (default 2): the most arenas; 0 leaves glibc's default.
- `NEWS_SEARCH_MALLOC_TRIM_SECONDS` (default 30): `released()` trims at most once in this many
  seconds; 0 never trims.
Where the C library is not glibc (musl, macOS), both are a no-op (said once in a debug log).

The state is the process's own (one allocator per process): `configure()` sets it at start,
`released()` reads it; a process that never called `configure()` never trims.
"""

from __future__ import annotations

import ctypes
import logging
import threading
import time
from dataclasses import dataclass, field

from prometheus_client import Counter, Gauge

from search_service import config

log = logging.getLogger(__name__)

#: The settings' environment variables (search_service/config.py).
ARENAS_ENV = config.MALLOC_ARENAS_ENV
TRIM_ENV = config.MALLOC_TRIM_ENV

#: mallopt's parameter number for the arena limit (glibc's malloc.h).
_M_ARENA_MAX = -8

TRIMS = Counter("news_search_malloc_trims", "malloc_trim(0) calls (after commits and searcher "
                "refreshes, at most one per NEWS_SEARCH_MALLOC_TRIM_SECONDS)")
TRIM_SECONDS = Counter("news_search_malloc_trim_seconds", "Seconds spent in malloc_trim(0)")
TRIM_RELEASED = Counter("news_search_malloc_trim_released_bytes",
                        "Private memory (RssAnon) given back by malloc_trim(0)")
ARENA_MAX = Gauge("news_search_malloc_arena_max", "The most malloc arenas this process may "
                  "create (0: glibc's default; -1: not glibc)", multiprocess_mode="liveall")


@dataclass
class Allocator:
    """What `configure()` applied in this process, and its trims so far."""

    arenas: int
    trim_every: float
    libc: ctypes.CDLL | None = field(default=None, repr=False)
    trims: int = 0
    trim_seconds: float = 0.0
    released_bytes: int = 0
    last_trim: float = float("-inf")
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)


_allocator: Allocator | None = None


def glibc() -> ctypes.CDLL | None:
    """This process's C library if it is glibc (it has mallopt and malloc_trim), else None."""
    try:
        libc = ctypes.CDLL(None)
        libc.gnu_get_libc_version.restype = ctypes.c_char_p
        libc.mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
        libc.malloc_trim.argtypes = (ctypes.c_size_t,)
        return libc
    except (OSError, AttributeError):
        return None


def anonymous_bytes() -> int | None:
    """This process's private anonymous memory (RssAnon), or None where /proc does not say."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("RssAnon:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def configure(arenas: int | None = None, trim_every: float | None = None) -> Allocator:
    """Apply the allocator settings in this process (by default from the environment: call it
    before the process starts threads) and return them; ValueError for a bad setting."""
    global _allocator
    arenas = config.env_malloc_arenas() if arenas is None else arenas
    trim_every = config.env_malloc_trim_seconds() if trim_every is None else trim_every
    libc = glibc()
    if libc is None:
        log.debug("the C library is not glibc: malloc arenas and trims left as they are")
        ARENA_MAX.set(-1)
    elif arenas:
        if not libc.mallopt(_M_ARENA_MAX, arenas):
            log.warning("mallopt(M_ARENA_MAX, %d) refused", arenas)
        ARENA_MAX.set(arenas)
    else:
        ARENA_MAX.set(0)
    _allocator = Allocator(arenas, trim_every, libc)
    log.debug("allocator: at most %s malloc arenas, malloc_trim at most every %gs",
              arenas or "glibc's default", trim_every)
    return _allocator


def current() -> Allocator | None:
    """The settings `configure()` applied in this process (None if it was not called)."""
    return _allocator


def release_soon() -> threading.Thread | None:
    """`released()` in a thread of its own, when a trim is due (the trim interval has
    passed): a serving thread that refreshed its searcher goes on answering instead of
    waiting the 10-15 ms a trim takes (malloc_trim runs without the GIL). Returns the
    thread started, or None when no trim is due."""
    state = _allocator
    if state is None or state.libc is None or not state.trim_every:
        return None
    if time.monotonic() - state.last_trim < state.trim_every or state.lock.locked():
        return None
    thread = threading.Thread(target=released, name="malloc-trim", daemon=True)
    thread.start()
    return thread


def released(force: bool = False) -> bool:
    """Give the free pages of every malloc arena back to the system (`malloc_trim(0)`) after
    the process has freed much memory (a commit, a refreshed searcher), at most once per
    trim interval unless `force`; True if it trimmed now."""
    state = _allocator
    if state is None or state.libc is None or not state.trim_every:
        return False
    now = time.monotonic()
    if not force and now - state.last_trim < state.trim_every:
        return False
    if not state.lock.acquire(blocking=False):  # another thread is trimming
        return False
    try:
        state.last_trim = now
        before = anonymous_bytes()
        began = time.perf_counter()
        state.libc.malloc_trim(0)
        took = time.perf_counter() - began
        after = anonymous_bytes()
        freed = max(0, before - after) if before is not None and after is not None else 0
        state.trims += 1
        state.trim_seconds += took
        state.released_bytes += freed
    finally:
        state.lock.release()
    TRIMS.inc()
    TRIM_SECONDS.inc(took)
    TRIM_RELEASED.inc(freed)
    log.debug("malloc_trim(0): %.1f ms, %.1f MB given back", took * 1000, freed / 2**20)
    return True
