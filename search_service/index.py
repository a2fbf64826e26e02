"""The Whoosh index: the schema (the only place field names live) and the single writer."""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import numpy as np
from whoosh import columns, sorting
from whoosh import index as whoosh_index
from whoosh.fields import DATETIME, ID, KEYWORD, STORED, TEXT, FieldType, Schema
from whoosh.index import LockError
from whoosh.query import Every, Or, Term
from whoosh.searching import Searcher

from search_service import dedupe, storage
from search_service.analysis import name_analyzer, text_analyzer
from search_service.article import ID_CHARS, Article

storage.install()  # searchers read segment files in place (see storage.py)

log = logging.getLogger(__name__)

#: Bumped whenever the schema changes in a way old indexes cannot serve.
SCHEMA_VERSION = 3
VERSION_FILE = "news-search.json"
#: Segments allowed before a commit merges them (keeps searcher opening cheap).
MAX_SEGMENTS = 8


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
    only stored and `cluster` is stored plus a fixed-width column for collapsing (a
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
        source=TEXT(analyzer=name_analyzer(), stored=True),
        source_key=ID(stored=True, sortable=True),
        host=ID(stored=True),
        authors=TEXT(analyzer=name_analyzer(), stored=True),
        language=ID(stored=True),
        summary=STORED(),
        fetched_at=STORED(),
        fingerprint=STORED(),
        bands=KEYWORD(),
        cluster=StoredColumn(ID_CHARS),
    )


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


def host_of(url: str) -> str:
    """Return the host of `url`, lower case, without 'www.'."""
    host = (urlsplit(url).hostname or "").lower()
    return host[4:] if host.startswith("www.") else host


def to_document(article: Article, cluster: str, sig: np.ndarray | None) -> dict[str, Any]:
    """Map an Article to the index document (the only place fields are filled)."""
    host = host_of(article.canonical_url)
    doc: dict[str, Any] = {
        "id": article.id,
        "canonical_url": article.canonical_url,
        "url": article.url,
        "title": article.title,
        "body": article.body,
        "source": f"{article.source} {host}".strip(),
        "source_key": article.source or host,
        "host": host,
        "authors": "; ".join(article.authors),
        "language": article.language,
        "summary": article.summary,
        "fetched_at": article.fetched_at,
        "cluster": cluster,
    }
    if sig is not None:
        doc["fingerprint"] = dedupe.encode(sig)
        doc["bands"] = " ".join(dedupe.band_keys(sig))
    if article.published:
        doc["published"] = _naive_utc(article.published)
    if article.modified:
        doc["modified"] = _naive_utc(article.modified)
    return doc


def _naive_utc(value: datetime) -> datetime:
    """Whoosh DATETIME fields take naive datetimes: store UTC."""
    return value.astimezone(timezone.utc).replace(tzinfo=None)


def find_original(searcher: Searcher, article_id: str, sig: np.ndarray) -> str | None:
    """Return the cluster id of an indexed near-duplicate of `sig` (not `article_id`), if any.

    Looks band keys up in the term index directly (most keys are absent, which is cheap),
    then confirms candidates against their stored signatures.
    """
    reader = searcher.reader()
    checked: set[int] = set()
    for key in dedupe.band_keys(sig):
        if ("bands", key) not in reader:
            continue
        for docnum in reader.postings("bands", key).all_ids():
            if docnum in checked or reader.is_deleted(docnum):
                continue
            checked.add(docnum)
            fields = reader.stored_fields(docnum)
            if fields["id"] != article_id and fields.get("fingerprint") and (
                    dedupe.is_near_duplicate(sig, dedupe.decode(fields["fingerprint"]))):
                return fields["cluster"]
    return None


class ArticleWriter:
    """The single writer: buffers articles by canonical URL, commits every `batch` of them
    or every `interval` seconds, links near-duplicates to their original as they come."""

    def __init__(self, ix: whoosh_index.Index, batch: int = 1000, interval: float = 30.0,
                 timeout: float = 10.0, procs: int = 1):
        self.ix = ix
        self.batch = batch
        self.interval = interval
        self.timeout = timeout
        self.procs = procs
        self.pending: dict[str, Article] = {}
        self.written = 0
        self.duplicates = 0
        self.last_flush = time.monotonic()

    def __enter__(self) -> ArticleWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.flush()

    def add(self, article: Article) -> None:
        """Queue `article` (a later one with the same canonical URL replaces it)."""
        self.pending[article.canonical_url] = article
        if (len(self.pending) >= self.batch
                or time.monotonic() - self.last_flush >= self.interval):
            self.flush()

    def _writer(self):
        """Take the write lock, waiting at most `timeout` seconds."""
        if self.procs > 1:
            return open_writer(self.ix, self.timeout, procs=self.procs, limitmb=256,
                               multisegment=True)
        return open_writer(self.ix, self.timeout, limitmb=256)

    def flush(self) -> None:
        """Write and commit the queued articles (updates replace older copies)."""
        self.last_flush = time.monotonic()
        if not self.pending:
            return
        docs = self._documents(list(self.pending.values()))
        writer = self._writer()
        try:
            for doc in docs:
                writer.update_document(**doc)
            writer.commit()
        except OSError as exc:  # a full disk, a read-only file system, …
            abandon(self.ix, writer)
            raise IndexWriteError(
                f"cannot write the index at {self.ix.storage.folder}: "
                f"{exc.strerror or exc}; the last {len(docs)} articles were not committed "
                "(the index keeps everything committed before)") from exc
        except BaseException:
            abandon(self.ix, writer)
            raise
        self.written += len(docs)
        self.pending.clear()
        self._bound_segments()

    def _documents(self, articles: list[Article]) -> list[dict[str, Any]]:
        """Build the documents of a batch, linking each near-duplicate to its original."""
        docs = []
        batch_bands: dict[str, list[tuple[str, np.ndarray]]] = {}
        with self.ix.searcher() as searcher:
            for article in articles:
                sig = dedupe.signature(article.title + "\n" + article.body)
                cluster = article.id
                if sig is not None:
                    keys = dedupe.band_keys(sig)
                    cluster = (self._existing_cluster(searcher, article.id)
                               or find_original(searcher, article.id, sig)
                               or _batch_original(batch_bands, keys, sig)
                               or article.id)
                    for key in keys:
                        batch_bands.setdefault(key, []).append((cluster, sig))
                if cluster != article.id:
                    self.duplicates += 1
                docs.append(to_document(article, cluster, sig))
        return docs

    @staticmethod
    def _existing_cluster(searcher: Searcher, article_id: str) -> str | None:
        """Keep the cluster of an article being updated, so an original stays one."""
        docnum = searcher.document_number(id=article_id)
        if docnum is None:
            return None
        cluster = searcher.stored_fields(docnum).get("cluster")
        return cluster if cluster == article_id else None

    def _bound_segments(self) -> None:
        """Merge small segments once there are more than MAX_SEGMENTS."""
        if len(self.ix._segments()) > MAX_SEGMENTS:
            writer = self._writer()
            try:
                writer.commit(merge=True)
            except BaseException:
                abandon(self.ix, writer)
                raise


def abandon(ix: whoosh_index.Index, writer) -> None:
    """Give up a write that failed part way (a full disk, say): delete the files of its
    unfinished commit (they may fill the disk) while still holding the lock, then release
    the lock. The index stays at its last commit."""
    try:
        toc = whoosh_index.TOC.read(ix.storage, ix.indexname)
        whoosh_index.clean_files(ix.storage, ix.indexname, toc.generation, toc.segments)
    except Exception as exc:  # leftovers are cleaned by the next commit
        log.warning("could not remove the files of a failed commit: %s", exc)
    try:
        writer.cancel()
        return
    except Exception:  # closing half-written files can fail the same way: finish by hand
        pass
    try:
        writer._tempstorage.destroy()
    except Exception:  # already gone
        pass
    try:
        writer.writelock.release()
    except Exception:  # already released
        pass


def _batch_original(bands: dict[str, list[tuple[str, np.ndarray]]], keys: list[str],
                    sig: np.ndarray) -> str | None:
    """Return the cluster of a near-duplicate earlier in the same batch, if any."""
    for key in keys:
        for cluster, other in bands.get(key, ()):
            if dedupe.is_near_duplicate(sig, other):
                return cluster
    return None


def write_articles(ix: whoosh_index.Index, articles: Iterable[Article], batch: int = 1000) -> int:
    """Write `articles` to the index in batches; return how many were written."""
    with ArticleWriter(ix, batch=batch) as writer:
        for article in articles:
            writer.add(article)
    return writer.written


def open_writer(ix: whoosh_index.Index, timeout: float, **options: Any):
    """Take the index's write lock, waiting at most `timeout` seconds (IndexBusy after
    that), and return a Whoosh writer (IndexWriteError if the directory is not writable)."""
    try:
        return ix.writer(timeout=timeout, **options)
    except LockError as exc:
        raise IndexBusy(
            f"the index is being written by another process (waited {timeout:g}s)") from exc
    except OSError as exc:  # read-only file system, no permission, disk full
        raise IndexWriteError(
            f"cannot write the index at {ix.storage.folder}: {exc.strerror or exc}") from exc


def delete_urls(ix: whoosh_index.Index, urls: Iterable[str], timeout: float = 10.0) -> int:
    """Delete the articles whose canonical URL or URL is in `urls`; return how many."""
    writer = open_writer(ix, timeout)
    query = Or([Term(name, url) for url in urls for name in ("canonical_url", "url")])
    try:
        deleted = writer.delete_by_query(query)
    except BaseException:
        writer.cancel()
        raise
    writer.commit()
    return deleted


def optimize(ix: whoosh_index.Index, timeout: float = 10.0) -> int:
    """Merge all segments into one (and drop deleted documents); return segments before."""
    before = len(ix._segments())
    if timeout is None:
        ix.optimize()
    else:
        writer = open_writer(ix, timeout)
        try:
            writer.commit(optimize=True)
        except BaseException:
            abandon(ix, writer)
            raise
    return before


def last_commit(path: Path) -> datetime | None:
    """Return when the index at `path` last committed (its newest table of contents)."""
    tocs = list(Path(path).glob("_*.toc"))
    if not tocs:
        return None
    newest = max(toc.stat().st_mtime for toc in tocs)
    return datetime.fromtimestamp(newest, tz=timezone.utc)


@dataclass(frozen=True)
class IndexStats:
    """What the index holds: article count, per-source counts, the date range covered."""

    articles: int
    sources: dict[str, int]
    first_published: datetime | None
    last_published: datetime | None
    segments: int


def source_counts(searcher: Searcher) -> dict[str, int]:
    """Count articles per source, most first (ties by name)."""
    results = searcher.search(Every(), groupedby=sorting.FieldFacet("source_key"), limit=None)
    sources = {name: len(docs) for name, docs in results.groups("source_key").items()}
    return dict(sorted(sources.items(), key=lambda kv: (-kv[1], kv[0])))


@dataclass(frozen=True)
class SourceHealth:
    """One source as the index holds it: articles, how many carry a date, the dates covered."""

    source: str
    articles: int
    dated: int
    first_published: datetime | None
    last_published: datetime | None


def source_health(searcher: Searcher) -> list[SourceHealth]:
    """Summarise each source's articles, most articles first (ties by name).

    One pass over the sortable `source_key` and `published` columns (no stored fields read).
    """
    reader = searcher.reader()
    if reader.doc_count_all() == 0:  # an index without commits has no columns to read
        return []
    field = searcher.schema["published"]
    sources = reader.column_reader("source_key")
    # Raw column values: an undated article holds the column's default, which does not
    # translate to a datetime.
    dates = reader.column_reader("published", translate=False)
    undated = field.column_type.default_value()
    rows: dict[str, list] = {}
    for docnum in reader.all_doc_ids():
        row = rows.setdefault(sources[docnum], [0, 0, None, None])
        row[0] += 1
        stamp = dates[docnum]
        if stamp == undated:
            continue
        row[1] += 1
        row[2] = stamp if row[2] is None else min(row[2], stamp)
        row[3] = stamp if row[3] is None else max(row[3], stamp)
    when = field.from_column_value
    return [SourceHealth(name, total, dated, None if first is None else when(first),
                         None if last is None else when(last))
            for name, (total, dated, first, last) in
            sorted(rows.items(), key=lambda kv: (-kv[1][0], kv[0]))]


def index_stats(ix: whoosh_index.Index) -> IndexStats:
    """Count articles, articles per source, and the publication date range."""
    with ix.searcher() as searcher:
        sources = source_counts(searcher)
        # The field's full-precision terms, in order (an Every("published") query would walk
        # every numeric trie term); until a merge they include deleted articles' dates.
        field = searcher.schema["published"]
        stamps = list(field.sortable_terms(searcher.reader(), "published"))
        return IndexStats(
            articles=searcher.doc_count(),
            sources=sources,
            first_published=field.from_bytes(stamps[0]) if stamps else None,
            last_published=field.from_bytes(stamps[-1]) if stamps else None,
            segments=len(ix._segments()),
        )
