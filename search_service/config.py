"""Settings: built-in defaults, overridden by the environment. No I/O beyond reading them."""

from __future__ import annotations

import os
from pathlib import Path

#: Environment variable that overrides the default index location.
INDEX_ENV = "NEWS_SEARCH_INDEX"
#: The default index directory (relative to the working directory).
DEFAULT_INDEX = "index"
#: The sample shipped with the package, which `demo` indexes.
SAMPLE_WARC = Path(__file__).parent / "data" / "sample.warc.gz"
#: Where the Jinja templates live (top-level `templates/`, per the design card).
TEMPLATE_DIR = Path(__file__).resolve().parent.parent / "templates"
#: Stylesheet and other static files (top-level `static/`).
STATIC_DIR = Path(__file__).resolve().parent.parent / "static"

DEFAULT_PER_PAGE = 10
MAX_PER_PAGE = 100
MAX_PAGE = 1000
MAX_QUERY_CHARS = 1000
#: Articles per index commit during ingest.
COMMIT_EVERY = 1000
#: Longest time between index commits during ingest, so new articles show up.
COMMIT_SECONDS = 30.0


def default_index_dir() -> Path:
    """Return the index directory from $NEWS_SEARCH_INDEX, else `index/`."""
    return Path(os.environ.get(INDEX_ENV) or DEFAULT_INDEX)
