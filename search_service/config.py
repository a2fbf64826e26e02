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
    text = os.environ.get(MAX_DEPTH_ENV, "").strip()
    if not text:
        return MAX_DEPTH
    try:
        value = int(text)
    except ValueError:
        raise ValueError(f"${MAX_DEPTH_ENV} must be a positive integer, not {text!r}") from None
    if value < 1:
        raise ValueError(f"${MAX_DEPTH_ENV} must be a positive integer, not {text!r}")
    return value
