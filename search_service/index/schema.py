"""The Whoosh schema (the only place field names live), and opening, creating, checking and
swapping index directories."""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from datetime import datetime, timezone
from pathlib import Path

from whoosh import columns
from whoosh import index as whoosh_index
from whoosh.fields import DATETIME, ID, KEYWORD, STORED, TEXT, FieldType, Schema
from whoosh.filedb.filestore import RamStorage

from search_service.article import ID_CHARS
from search_service.index import whoosh_compat
from search_service.index.analysis import name_analyzer, text_analyzer

whoosh_compat.install_mapped_reads()  # searchers read segment files in place
whoosh_compat.install_durable_writes()  # commits are fsynced (NEWS_SEARCH_FSYNC=0: not)
whoosh_compat.install_absent_column_cache()  # no stat per posting at commit


log = logging.getLogger(__name__)


#: Bumped whenever the schema changes in a way old indexes cannot serve.
SCHEMA_VERSION = 5


VERSION_FILE = "news-search.json"

#: The value of the `published` column for an article without a date (Whoosh's default for
#: a sortable DATETIME: the largest unsigned 64-bit number, so undated articles sort last).
NO_DATE = 2**64 - 1


class IndexMissing(Exception):
    """There is no news-search index at the given directory."""


class StoredColumn(FieldType):
    """A stored, unindexed text value of fixed width kept in a per-document column (for
    collapsing and sorting), like a sortable ID without its terms."""

    indexed = False
    stored = True

    def __init__(self, width: int):
        self.column_type = columns.FixedBytesColumn(width, default=b" " * width)

    def to_column_value(self, value: str) -> bytes:
        return value.encode("ascii")

    def from_column_value(self, value: bytes) -> str:
        return value.decode("ascii").rstrip()


class IndexBusy(Exception):
    """Another process holds the index's write lock."""


class IndexWriteError(OSError):
    """The index could not be written (disk full, read-only, …); it keeps its last commit."""


class IndexVersionError(Exception):
    """The index was built with another schema version and must be rebuilt."""


def make_schema() -> Schema:
    """Declare the index schema.

    title/body: stemmed, folded text with positions (for phrases); highlights re-tokenise the
    stored text of the shown hits (highlight.py), so no character offsets are indexed.
    `cluster` is the id of the first
    article of a near-duplicate group (its own id for an original); `bands` are its MinHash
    band keys for lookup, `fingerprint` the whole signature.

    Only what queries need is indexed: every indexed value unique to one article costs a
    posting block at commit time (`published` alone adds eight trie terms), so `modified` is
    only stored, `collection` holds the article's collections separated by commas (a filter
    and a facet), and `cluster` is stored plus a fixed-width column for collapsing (a
    variable-width column makes every search read an offset per document first).
    """
    return Schema(
        id=ID(stored=True, unique=True),
        canonical_url=ID(stored=True, unique=True),
        url=ID(stored=True),
        title=TEXT(analyzer=text_analyzer(), stored=True, field_boost=2.0),
        body=TEXT(analyzer=text_analyzer(), stored=True),
        published=DATETIME(stored=True, sortable=True),
        modified=STORED(),
        published_source=STORED(),
        source=TEXT(analyzer=name_analyzer(), stored=True),
        source_key=ID(stored=True, sortable=True),
        host=ID(stored=True),
        authors=TEXT(analyzer=name_analyzer(), stored=True),
        language=ID(stored=True),
        collection=KEYWORD(stored=True, commas=True, scorable=False),
        summary=STORED(),
        fetched_at=STORED(),
        fingerprint=STORED(),
        bands=KEYWORD(),
        cluster=StoredColumn(ID_CHARS),
    )


def naive_utc(value: datetime | None) -> datetime | None:
    """Convert `value` to what DATETIME fields store and compare: a naive UTC datetime.

    A naive `value` is taken to be UTC already (as stored values are read back), not local
    time as `datetime.astimezone` would take it.
    """
    if value is None or value.tzinfo is None:
        return value
    return value.astimezone(timezone.utc).replace(tzinfo=None)


def empty_index() -> whoosh_index.Index:
    """An index with the schema and no articles, in memory: what to search before the first
    ingest, so that the answer has the same shape as any other."""
    return RamStorage().create_index(make_schema())


def index_exists(path: Path) -> bool:
    """Tell whether `path` holds a news-search index."""
    return path.is_dir() and whoosh_index.exists_in(str(path))


def open_index(path: Path, create: bool = False) -> whoosh_index.Index:
    """Open the index at `path`; with `create`, make an empty one if there is none."""
    recover_swap(path)
    for attempt in range(5):
        if index_exists(path):
            _check_version(path)
            try:
                return whoosh_index.open_dir(str(path))
            except whoosh_index.EmptyIndexError:
                pass  # a commit was swapping the table of contents: look again
        if not (path / VERSION_FILE).exists():
            break
        time.sleep(0.02 * (attempt + 1))  # an index is there, mid-commit
    if not create:
        raise IndexMissing(f"no index at {path} (run 'news-search ingest' or 'news-search demo')")
    return reset_index(path)


def swap_in(built: Path, path: Path) -> None:
    """Put the index built at `built` in the place of the one at `path` (kept until then).

    Two renames: a kill between them leaves only `<path>.old`, which `recover_swap` (run by
    `open_index` and before a rebuild) puts back.
    """
    recover_swap(path)
    old = path.with_name(path.name + ".old")
    if old.exists():
        shutil.rmtree(old)
    if path.exists():
        path.rename(old)
    built.rename(path)
    if old.exists():
        shutil.rmtree(old)


def recover_swap(path: Path) -> None:
    """Put back the index a rebuild moved aside to `<path>.old` if it was killed before
    moving the new one in (`path` is missing): the rebuild did not finish, the old index
    stands."""
    path = Path(path)
    old = path.with_name(path.name + ".old")
    if path.exists() or not index_exists(old):
        return
    try:
        old.rename(path)
    except OSError:  # another process put it back first (or a rebuild just finished)
        return
    log.warning("%s: put back the index a killed rebuild had moved aside", path)


def reset_index(path: Path) -> whoosh_index.Index:
    """Make an empty index at `path`, replacing any index there.

    A new directory appears whole (built aside, then renamed), so a reader never finds it
    half made.
    """
    if path.exists():
        _create(path)
        return whoosh_index.open_dir(str(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.with_name(f".{path.name}.creating-{os.getpid()}")
    staging.mkdir()
    _create(staging)
    staging.rename(path)
    return whoosh_index.open_dir(str(path))


def _create(path: Path) -> None:
    """Write an empty index and its version file into the directory `path`."""
    whoosh_index.create_in(str(path), make_schema())
    (path / VERSION_FILE).write_text(json.dumps({"schema_version": SCHEMA_VERSION}))


def _check_version(path: Path) -> None:
    """Raise IndexVersionError if the index at `path` has another schema version."""
    try:
        version = json.loads((path / VERSION_FILE).read_text())["schema_version"]
    except (OSError, ValueError, KeyError):
        version = None
    if version != SCHEMA_VERSION:
        raise IndexVersionError(
            f"the index at {path} has schema version {version}, this program needs "
            f"{SCHEMA_VERSION}: run 'news-search reindex' (or delete the directory and "
            "ingest again)"
        )
