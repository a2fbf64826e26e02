"""Settings: built-in defaults, overridden by the environment. No I/O beyond reading them."""

from __future__ import annotations

import os
from pathlib import Path

#: Environment variable that overrides the default index location.
INDEX_ENV = "NEWS_SEARCH_INDEX"
#: Environment variable that overrides where the crawl archive (WARC files) lives.
ARCHIVE_ENV = "NEWS_SEARCH_ARCHIVE"
#: Environment variable giving the contact URL named in the crawler's User-Agent.
CONTACT_ENV = "NEWS_SEARCH_CONTACT"
#: The contact URL named in the crawler's User-Agent unless $NEWS_SEARCH_CONTACT says otherwise.
DEFAULT_CONTACT = "https://pypi.org/project/news-search/"
#: Environment variable listing the origins allowed to read the JSON API across sites (CORS).
CORS_ENV = "NEWS_SEARCH_CORS_ORIGINS"
#: Environment variable overriding how deep results may be paged (page x per_page).
MAX_DEPTH_ENV = "NEWS_SEARCH_MAX_DEPTH"
#: Environment variable giving how many searches one serving process runs at once (0: no
#: limit; search_service/web/turns.py).
SEARCH_SLOTS_ENV = "NEWS_SEARCH_SEARCH_SLOTS"
#: Searches one serving process runs at once by default (docs/performance.md, seventh round).
SEARCH_SLOTS = 1
#: Environment variable giving the most malloc arenas of a serve worker or the index-worker
#: (0: glibc's default, 8 per core; search_service/memory.py).
MALLOC_ARENAS_ENV = "NEWS_SEARCH_MALLOC_ARENAS"
#: Environment variable giving the least seconds between two malloc_trim calls (0: never).
MALLOC_TRIM_ENV = "NEWS_SEARCH_MALLOC_TRIM_SECONDS"
#: Malloc arenas by default: chosen from benchmarks/malloc_ab.py (docs/operations.md).
MALLOC_ARENAS = 2
#: Seconds between two malloc_trim calls at least, by default.
MALLOC_TRIM_SECONDS = 30.0
#: The default index directory (relative to the working directory).
DEFAULT_INDEX = "index"
#: The sample shipped with the package, which `demo` indexes.
SAMPLE_WARC = Path(__file__).parent / "data" / "sample.warc.gz"


def asset_dir(name: str) -> Path:
    """Return the directory of the `templates` or `static` files: inside the package in an
    installed wheel (setup.cfg maps them there), else at the top level of the checkout (where
    the design card keeps them)."""
    package = Path(__file__).resolve().parent
    installed = package / name
    return installed if installed.is_dir() else package.parent / name


DEFAULT_PER_PAGE = 10
MAX_PER_PAGE = 100
MAX_PAGE = 1000
MAX_QUERY_CHARS = 1000
#: How deep results may be paged: page x per_page at most this (deep pages are costly).
MAX_DEPTH = 1000


def default_index_dir() -> Path:
    """Return the index directory from $NEWS_SEARCH_INDEX, else `index/`."""
    return Path(os.environ.get(INDEX_ENV) or DEFAULT_INDEX)


def default_archive_dir(index_dir: Path) -> Path:
    """Return the archive directory from $NEWS_SEARCH_ARCHIVE, else `<index>-archive` beside
    the index."""
    env = os.environ.get(ARCHIVE_ENV)
    if env:
        return Path(env)
    index_dir = Path(index_dir)
    return index_dir.parent / f"{index_dir.resolve().name}-archive"


def env_cors_origins() -> tuple[str, ...]:
    """Return the CORS origins listed in $NEWS_SEARCH_CORS_ORIGINS (commas or spaces between
    them); none when it is unset."""
    return tuple(o for o in os.environ.get(CORS_ENV, "").replace(",", " ").split() if o)


def env_max_depth() -> int:
    """Return the paging depth from $NEWS_SEARCH_MAX_DEPTH, else MAX_DEPTH."""
    return int(_env_number(MAX_DEPTH_ENV, MAX_DEPTH, int, 1))


def env_search_slots() -> int:
    """Return the searches a process runs at once from $NEWS_SEARCH_SEARCH_SLOTS, else
    SEARCH_SLOTS (0: no limit)."""
    return int(_env_number(SEARCH_SLOTS_ENV, SEARCH_SLOTS, int, 0))


def _env_number(name: str, default: float, kind: type, least: float = 0) -> float:
    """$name as `kind` (default when unset); ValueError unless it is such a number >= least."""
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    try:
        value = kind(text)
    except ValueError:
        value = least - 1
    if value < least:
        what = "a positive integer" if (kind, least) == (int, 1) else f"a number >= {least}"
        raise ValueError(f"${name} must be {what}, not {text!r}")
    return value


def env_malloc_arenas() -> int:
    """Return the most malloc arenas from $NEWS_SEARCH_MALLOC_ARENAS, else MALLOC_ARENAS (0:
    glibc's default); ValueError unless it is a whole number >= 0."""
    return int(_env_number(MALLOC_ARENAS_ENV, MALLOC_ARENAS, int))


def env_malloc_trim_seconds() -> float:
    """Return the least seconds between two malloc_trim calls from
    $NEWS_SEARCH_MALLOC_TRIM_SECONDS, else MALLOC_TRIM_SECONDS (0: never trim); ValueError
    unless it is a number >= 0."""
    return float(_env_number(MALLOC_TRIM_ENV, MALLOC_TRIM_SECONDS, float))
