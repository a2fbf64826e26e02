"""The single index writer: Article → document, near-duplicate linking, batched commits,
deletes and merges."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
from whoosh import index as whoosh_index
from whoosh.index import LockError
from whoosh.query import Or, Term
from whoosh.reading import SegmentReader
from whoosh.searching import Searcher
from whoosh.writing import NO_MERGE

from search_service.article import Article
from search_service.index import dedupe, postings_file, whoosh_compat
from search_service.index.schema import IndexBusy, IndexWriteError, naive_utc
from search_service.urls import site_of

log = logging.getLogger(__name__)

#: Segments allowed after a commit. Every query pays per segment (a term lookup and a decode
#: per segment the first time a term is asked, array work every time), and a Whoosh merge
#: costs about what indexing the merged articles did, so merges follow size tiers.
MAX_SEGMENTS = 8
#: Segments within a factor of MERGE_FACTOR of one another in size share a tier (as SQLite
#: FTS5's automerge=4 and Lucene's tiered policy group them); merging a tier keeps the
#: rewritten volume about log4(articles / batch) times the index, not quadratic in it.
MERGE_FACTOR = 4
#: A bulk run (`ingest`, `reindex`, the benchmarks: ArticleWriter(bulk=True)) commits when
#: its waiting articles hold this many MB of text (title and body), not every 1,000 articles:
#: fewer, larger segments, so fewer merges (a Whoosh merge rewrites its segments at about
#: two thirds of what indexing them cost). Whoosh's own pool spills to disk past 256 MB, so
#: the writer's memory is about twice this plus that (docs/indexing.md has the figures).
BULK_MB = 128.0

def to_document(article: Article, cluster: str, sig: np.ndarray | None) -> dict[str, Any]:
    """Map an Article to the index document (the only place fields are filled)."""
    host = site_of(article.canonical_url)
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
        "collection": ",".join(article.collections),
        "summary": article.summary,
        "fetched_at": article.fetched_at,
        "cluster": cluster,
    }
    if sig is not None:
        doc["fingerprint"] = dedupe.encode(sig)
        doc["bands"] = " ".join(dedupe.band_keys(sig))
    if article.published:
        doc["published"] = naive_utc(article.published)
        doc["published_source"] = article.published_source
    if article.modified:
        doc["modified"] = naive_utc(article.modified)
    return doc


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
    or every `interval` seconds, links near-duplicates to their original as they come.

    A steady writer (the crawl, `index-worker`) merges after each commit that leaves more
    than MAX_SEGMENTS segments. A `bulk` writer (a run over files, WARCs or the archive)
    also commits when its waiting articles hold `batch_mb` MB of text, and merges only when
    it closes, so the bound holds when the run ends (a run cut short leaves more segments;
    the next writer's first commit merges them). Either way a crash loses at most the
    articles of the uncommitted batch. `batch` or `interval` None: no such limit; `merge`
    False: no merges at all (for a caller that optimizes afterwards, as `reindex` does).
    """

    def __init__(self, ix: whoosh_index.Index, batch: int | None = 1000,
                 interval: float | None = 30.0, timeout: float = 10.0, procs: int = 1,
                 bulk: bool = False, batch_mb: float = BULK_MB, merge: bool = True):
        self.ix = ix
        self.batch = batch if batch is not None else math.inf
        self.interval = interval if interval is not None else math.inf
        self.timeout = timeout
        self.procs = procs
        self.bulk = bulk
        self.merge = merge
        self.batch_chars = batch_mb * 2**20 if bulk else math.inf
        self.pending: dict[str, Article] = {}
        self.pending_chars = 0
        self.written = 0
        self.duplicates = 0
        self.commits = 0
        self.last_flush = time.monotonic()

    def __enter__(self) -> ArticleWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()

    def add(self, article: Article) -> None:
        """Queue `article` (a later one with the same canonical URL replaces it)."""
        replaced = self.pending.get(article.canonical_url)
        if replaced is not None:
            self.pending_chars -= _text_size(replaced)
        self.pending[article.canonical_url] = article
        self.pending_chars += _text_size(article)
        if (len(self.pending) >= self.batch or self.pending_chars >= self.batch_chars
                or time.monotonic() - self.last_flush >= self.interval):
            self.flush()

    def close(self) -> None:
        """Commit what is queued; a bulk writer then merges down to MAX_SEGMENTS (and then
        writes the postings files its commits did not: index/postings_file.py)."""
        self.flush()
        if self.bulk and self.merge:
            self._bound_segments()
            postings_files(self.ix)  # (without merges, the caller optimizes and writes them)

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
        captured = postings_file.capture(writer)
        with abandoned_on_failure(self.ix, writer,
                                  f"the last {len(docs)} articles were not committed"):
            known = writer.searcher().reader()  # the committed segments, under the lock
            for doc in docs:
                if _may_exist(known, doc):
                    writer.update_document(**doc)  # deletes the older copy
                else:
                    writer.add_document(**doc)
            if self.bulk or not self.merge:
                writer.commit(mergetype=NO_MERGE)  # merged at the end, or by the caller
            else:
                writer.commit()
        self.written += len(docs)
        self.commits += 1
        self.pending.clear()
        self.pending_chars = 0
        # neither the batch's texts nor the writer (its pool) held while the file is written
        docs.clear()
        writer = known = None
        postings_files(self.ix, captured, refresh=False)
        if self.merge and not self.bulk:
            self._bound_segments()
            postings_files(self.ix)

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
        if ("id", article_id) not in searcher.reader():  # a term-table lookup per segment
            return None
        docnum = searcher.document_number(id=article_id)
        if docnum is None:
            return None
        cluster = searcher.stored_fields(docnum).get("cluster")
        return cluster if cluster == article_id else None

    def _bound_segments(self) -> None:
        """Merge segments by size tier once there are more than MAX_SEGMENTS."""
        if whoosh_compat.segment_count(self.ix) > MAX_SEGMENTS:
            writer = self._writer()
            captured = postings_file.capture(writer)
            with abandoned_on_failure(self.ix, writer, "the segments were not merged"):
                writer.commit(mergetype=merge_tiers)
            postings_files(self.ix, captured, refresh=False)


def merge_plan(sizes: list[int], limit: int = MAX_SEGMENTS,
               factor: int = MERGE_FACTOR) -> list[list[int]]:
    """Which segments (by position in `sizes`, their document counts) to merge, group by
    group, so that at most `limit` remain: each time the size tier holding most segments
    (the smallest such tier on ties; tier = floor(log_factor(size / smallest))) is merged
    into one; when every tier holds one segment, the two smallest are merged."""
    live = [(size, [i]) for i, size in enumerate(sizes)]
    groups = []
    while len(live) > limit:
        smallest = max(min(size for size, _ in live), 1)
        tiers: dict[int, list[int]] = {}
        for n, (size, _) in enumerate(live):
            tier = int(math.log(max(size, 1) / smallest, factor) + 1e-9)
            tiers.setdefault(tier, []).append(n)
        tier = max(tiers, key=lambda t: (len(tiers[t]), -t))
        chosen = tiers[tier] if len(tiers[tier]) > 1 else sorted(
            range(len(live)), key=lambda n: live[n][0])[:2]
        merged = (sum(live[n][0] for n in chosen), [i for n in chosen for i in live[n][1]])
        live = [entry for n, entry in enumerate(live) if n not in chosen] + [merged]
        groups.append(merged[1])
    return groups


def merge_tiers(writer, segments: list) -> list:
    """A Whoosh merge policy (`commit(mergetype=…)`) following merge_plan. Whoosh merges the
    chosen segments into the segment this commit writes (one, whatever the groups), so the
    groups of the plan are merged together."""
    plan = merge_plan([segment.doc_count_all() for segment in segments])
    chosen = {i for group in plan for i in group}
    for i in sorted(chosen):
        reader = SegmentReader(writer.storage, writer.schema, segments[i])
        writer.add_reader(reader)
        reader.close()
    return [segment for i, segment in enumerate(segments) if i not in chosen]

@contextmanager
def abandoned_on_failure(ix: whoosh_index.Index, writer, lost: str) -> Iterator[None]:
    """Run the block (the writer's work and its commit); if it fails, `abandon` the write and
    re-raise, an OSError (a full disk, a read-only file system, …) as an IndexWriteError that
    says what was `lost`. Every write (flush, merge, delete, optimize) ends this way."""
    try:
        yield
    except OSError as exc:
        abandon(ix, writer)
        raise IndexWriteError(
            f"cannot write the index at {ix.storage.folder}: {exc.strerror or exc}; {lost} "
            "(the index keeps everything committed before)") from exc
    except BaseException:
        abandon(ix, writer)
        raise


def abandon(ix: whoosh_index.Index, writer) -> None:
    """Give up a write that failed part way (a full disk, say): delete the files of its
    unfinished commit (they may fill the disk) while still holding the lock, then release
    the lock. The index stays at its last commit."""
    try:
        whoosh_compat.remove_uncommitted_files(ix)
    except Exception as exc:  # leftovers are cleaned by the next commit
        log.warning("could not remove the files of a failed commit: %s", exc)
    try:
        writer.cancel()
        return
    except Exception:  # closing half-written files can fail the same way: finish by hand
        pass
    try:
        whoosh_compat.destroy_temp_storage(writer)
    except Exception:  # already gone
        pass
    try:
        writer.writelock.release()
    except Exception:  # already released
        pass


def _may_exist(reader, doc: dict[str, Any]) -> bool:
    """Whether an indexed document may share the unique id or canonical URL of `doc`: False
    when neither term is in any segment's term table (a hash lookup each, where Whoosh's
    update_document runs a query per term), True when one is (it may belong to a deleted
    document: update_document then finds nothing to delete)."""
    return ("id", doc["id"]) in reader or ("canonical_url", doc["canonical_url"]) in reader


def _text_size(article: Article) -> int:
    """Characters of an article's text, the measure of a bulk batch."""
    return len(article.title) + len(article.body)


def _batch_original(bands: dict[str, list[tuple[str, np.ndarray]]], keys: list[str],
                    sig: np.ndarray) -> str | None:
    """Return the cluster of a near-duplicate earlier in the same batch, if any."""
    for key in keys:
        for cluster, other in bands.get(key, ()):
            if dedupe.is_near_duplicate(sig, other):
                return cluster
    return None


def write_articles(ix: whoosh_index.Index, articles: Iterable[Article], batch: int | None = 1000,
                   bulk: bool = False) -> int:
    """Write `articles` to the index in batches; return how many were written."""
    with ArticleWriter(ix, batch=batch, bulk=bulk) as writer:
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
    query = Or([Term(name, url) for url in urls for name in ("canonical_url", "url")])
    writer = open_writer(ix, timeout)
    captured = postings_file.capture(writer)
    with abandoned_on_failure(ix, writer, "no article was deleted"):
        deleted = writer.delete_by_query(query)
        writer.commit()
    postings_files(ix, captured)  # the commit may have merged segments
    return deleted


def optimize(ix: whoosh_index.Index, timeout: float = 10.0) -> int:
    """Merge all segments into one (and drop deleted documents); return segments before."""
    before = whoosh_compat.segment_count(ix)
    if timeout is None:
        ix.optimize()
    else:
        writer = open_writer(ix, timeout)
        captured = postings_file.capture(writer)
        with abandoned_on_failure(ix, writer, "the segments were not merged"):
            writer.commit(optimize=True)
        postings_files(ix, captured, refresh=False)
    postings_files(ix)
    return before


def postings_files(ix: whoosh_index.Index, captured: postings_file.Capture | None = None,
                   refresh: bool = True) -> None:
    """After a commit: write the postings file `captured` from it (if any), then, with
    `refresh`, build those other new segments lack and remove those of merged-away ones
    (postings_file.refresh); a failure is logged, never the commit's: searches then decode
    those segments' lists themselves."""
    try:
        if captured is not None:
            captured.write(ix)
        if refresh:
            postings_file.refresh(ix)
    except (OSError, ValueError) as exc:
        log.warning("postings files not written (%s): searches decode the lists instead", exc)
