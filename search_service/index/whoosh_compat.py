"""Every use of Whoosh's private API, in one place: what the rest of the code may not touch.

Verified against whoosh-reloaded 2.7.5 (setup.cfg allows >=2.7.5,<2.8: a new minor release
must be checked against this module, and its tests, before the bound is raised). Each
function says which internal it relies on and why no public API does the job:

- `install_mapped_reads`: replaces `whoosh.filedb.structfile.BufferFile.__init__` so that
  searchers read memory-mapped segment files in place instead of copying them (below);
- `install_durable_writes`: wraps `FileStorage.create_file` and `rename_file` so that commits
  are fsynced (Whoosh never syncs; below);
- `install_absent_column_cache`: replaces the W3 codec's `W3PerDocReader._cached_reader` so
  that a field without a lengths column (ids, URLs, band keys, dates) is looked up on disk
  once per reader, not once per posting (below);
- `segment_count`, `segment_ids`: `Index._segments()` (the table of contents, without opening
  a reader);
- `remove_uncommitted_files`, `destroy_temp_storage`: `whoosh.index.TOC`, `clean_files` and
  the writer's temporary storage, to clean up after a write that failed part way;
- `index_of`: `Searcher._ix` (the index a searcher reads, to find its directory);
- `refresh_reader`: `Index._read_toc()`, `SegmentReader` and `MultiReader` built by hand, and
  a reused segment reader's `_gen`: Whoosh's own `Index.reader(reuse=...)` (which
  `Searcher.refresh()` calls) is wrong twice in 2.7.5. It reuses an open segment reader
  whenever the segment id matches, though a commit that deletes documents keeps the id and
  changes the deletions, so deleted articles stay counted and found; and it adds every
  segment of the old reader that the new commit no longer lists, so after a merge the
  merged-away segments stay open next to the merged one: every document counted twice, and
  a long-running searcher holds every segment it ever saw (memory that only grows);
- `block_postings`: the W3 codec's postings reader, `_terms`, `_codec`, `_postfile` and the
  block matcher's `_read_data` / `_data` (the block's raw tuple: delta-encoded ids, weights)
  / `_byteids` / `_lastblock` / `_next_block` (reading a term's postings a block at a time
  and decoding them with numpy, ten times faster than posting by posting);
- `capture_blocks`: a segment writer's `fieldwriter` and `newsegment`, the W3 field writer's
  `start_field` and `_postwriter`, and its postings writer's `_write_block`, `_startoffset`,
  `_ids`, `_weights` and `_values` (the blocks of a posting list as the codec writes them at
  commit, for index/postings_file.py: no public API shows a commit's postings);
- `WrappingQueryBase`: `WrappingQuery._rewrap`, the hook Whoosh calls to rebuild a wrapper;
- `term_table`, `posting_file`, `column_file`, `deleted_docs`, `score_arrays`: a segment
  reader's `_terms` table and its `_postfile`, the per-document file's `_get_column_file` and
  `deleted_docs`, and a length scorer's `_score`, for search/postings.py and
  search/executor.py (postings and columns read as numpy arrays, scores computed on arrays);
- `FieldBM25F`: `BM25F._field_B` and the scorer hook `BM25FScorer._score`, to give each field
  its own k1 and weight as well as its own b (search/rank.py chooses the values);
  `stats_scorer` builds the scorer from a document frequency already read, without its
  `__init__` (which looks the term up in every segment twice);
- `stored_fields`: `MultiReader._segment_and_docnum`, `SegmentReader._perdoc` and
  `Schema._fields` / `_dyn_fields`, to read a hit's stored fields without Whoosh's check of
  each name against the schema's dynamic-field patterns.

Whoosh stores each segment as one compound file, memory-maps it, and hands out each part
(postings, terms, stored fields, columns) as a `BufferFile` over a slice of the map. Its
`BufferFile` also wraps that slice in `io.BytesIO(slice)`, and BytesIO copies what it is given
when that is not a `bytes` object. So every searcher copied the whole index into private memory
when it opened (and again for each changed segment after a commit): about 600 MB per
searcher for 100,000 articles, and `serve` keeps one searcher per thread.
`install_mapped_reads()` makes `BufferFile` read a memory-mapped slice through a buffered
reader over the map instead, so all searchers in all threads and processes share the
operating system's page cache. Slices that are already `bytes` keep BytesIO, which does not
copy those.
"""

from __future__ import annotations

import io
import logging
import math
import os
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from whoosh import index as whoosh_index
from whoosh import reading, scoring
from whoosh.codec import whoosh3
from whoosh.filedb import filestore, structfile
from whoosh.query import Query, WrappingQuery

log = logging.getLogger(__name__)

#: The whoosh-reloaded versions this module has been checked against.
VERIFIED_VERSIONS = ("2.7.5",)

#: Bytes each reader buffers for Whoosh's small sequential reads (varints, headers).
READ_BUFFER = 4096


# -- reading segment files without copying them ------------------------------------------------

class MappedSlice(io.RawIOBase):
    """A read-only, seekable raw file over a memoryview (no copy of the data)."""

    def __init__(self, view: memoryview):
        super().__init__()
        self._view = view
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        count = max(0, min(len(buffer), len(self._view) - self._pos))
        buffer[:count] = self._view[self._pos:self._pos + count]
        self._pos += count
        return count

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        base = {os.SEEK_SET: 0, os.SEEK_CUR: self._pos, os.SEEK_END: len(self._view)}[whence]
        if base + offset < 0:
            raise ValueError("negative seek position")
        self._pos = base + offset
        return self._pos

    def tell(self) -> int:
        return self._pos


def _buffer_file_init(self, buf, name=None, onclose=None) -> None:
    """`BufferFile.__init__` reading a memoryview in place instead of copying it."""
    self._buf = buf
    self._name = name
    if isinstance(buf, memoryview):
        self.file = io.BufferedReader(MappedSlice(buf), buffer_size=READ_BUFFER)
    else:
        self.file = io.BytesIO(buf)
    self.onclose = onclose
    self.is_real = False
    self.is_closed = False


def install_mapped_reads() -> None:
    """Make Whoosh's BufferFile read memory-mapped segment files without copying them."""
    structfile.BufferFile.__init__ = _buffer_file_init


# -- durable commits -----------------------------------------------------------------------------
# Whoosh never fsyncs: after a power cut, a commit it reported done can be missing, or worse, a
# table of contents can name segment data that never reached the disk.
# `install_durable_writes()` makes every file Whoosh writes in an index directory flushed to
# disk (fsync) when it is closed, and the directory itself after each rename, so that the
# segment files are durable before the new table of contents is renamed into place, and the
# table of contents right after. Files of a writer's temporary storage (the `*.tmp` folders)
# are not synced. NEWS_SEARCH_FSYNC=0 turns it off (docs/operations.md has the cost).

#: The setting that turns fsync at commit off ("0", "false", "no", "off").
FSYNC_ENV = "NEWS_SEARCH_FSYNC"


def durable() -> bool:
    """Whether commits are fsynced (NEWS_SEARCH_FSYNC, on unless set to 0/false/no/off)."""
    return os.environ.get(FSYNC_ENV, "1").strip().lower() not in ("0", "false", "no", "off")


def fsync_directory(folder: str) -> None:
    """Flush a directory's entries (new and renamed files) to disk."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


_create_file = filestore.FileStorage.create_file
_rename_file = filestore.FileStorage.rename_file


def _synced_create_file(self, name, excl=False, mode="wb", **kwargs):
    """`FileStorage.create_file` whose file is fsynced when closed."""
    created = _create_file(self, name, excl=excl, mode=mode, **kwargs)
    if durable() and not str(self.folder).endswith(".tmp"):
        previous = created.onclose

        def sync(sfile) -> None:
            if previous is not None:
                previous(sfile)
            sfile.file.flush()
            os.fsync(sfile.file.fileno())

        created.onclose = sync
    return created


def _synced_rename_file(self, oldname, newname, safe=False):
    """`FileStorage.rename_file`, then an fsync of the directory."""
    _rename_file(self, oldname, newname, safe=safe)
    if durable() and not str(self.folder).endswith(".tmp"):
        fsync_directory(self.folder)


def install_durable_writes() -> None:
    """Make Whoosh's file storage fsync what it writes (unless NEWS_SEARCH_FSYNC is off)."""
    filestore.FileStorage.create_file = _synced_create_file
    filestore.FileStorage.rename_file = _synced_rename_file


# -- lengths looked up once per field -----------------------------------------------------------
# At commit (and merge) Whoosh asks the new segment's per-document reader for each posting's
# field length. `W3PerDocReader._cached_reader` caches the column reader of a field that has
# lengths, but for one that has none (ID, KEYWORD and DATETIME fields) it asks the file
# system again (`file_exists`, a stat) for every posting: about 22 stats per article here,
# ~5% of a build. A segment's files never change, so the absence is cached like a reader.

def _cached_reader(self, fieldname, column):
    """`W3PerDocReader._cached_reader` that also remembers a column that is not there."""
    try:
        return self._readers[fieldname]
    except KeyError:
        reader = self.column_reader(fieldname, column) if self.has_column(fieldname) else None
        self._readers[fieldname] = reader
        return reader


def install_absent_column_cache() -> None:
    """Make the W3 codec remember a missing lengths column instead of a stat per posting."""
    whoosh3.W3PerDocReader._cached_reader = _cached_reader


# -- the index's table of contents and failed writes -------------------------------------------

def segment_count(ix: whoosh_index.Index) -> int:
    """How many segments the index's last commit has (reads the table of contents only)."""
    return len(ix._segments())


def segment_ids(ix: whoosh_index.Index) -> set[str]:
    """The ids of the segments the index's last commit lists (reads the table of contents)."""
    return {segment.segment_id() for segment in ix._segments()}


def remove_uncommitted_files(ix: whoosh_index.Index) -> None:
    """Delete the segment files that the last commit does not list (those of a write that
    failed part way); the caller must hold the write lock."""
    toc = whoosh_index.TOC.read(ix.storage, ix.indexname)
    whoosh_index.clean_files(ix.storage, ix.indexname, toc.generation, toc.segments)


def destroy_temp_storage(writer) -> None:
    """Remove a writer's temporary files (its posting pool), when `cancel` itself failed."""
    writer.temp_storage().destroy()


def index_of(searcher) -> Any:
    """The Index a searcher was opened from (None for a searcher over a bare reader)."""
    return getattr(searcher, "_ix", None)


def refresh_reader(ix: whoosh_index.Index, old):
    """A reader over the latest commit of `ix` that reuses the segment readers of `old` whose
    segment is unchanged (same id and same number of deleted documents: deletions only ever
    grow) and closes the others. `old` must not be used afterwards."""
    from whoosh.reading import EmptyReader, MultiReader, SegmentReader

    reusable = {}
    if not isinstance(old, EmptyReader):
        for leaf, _ in old.leaf_readers():
            segment = leaf.segment()
            if segment is not None:
                reusable[segment.segment_id()] = leaf
    for attempt in range(10):  # a commit may delete a file just as it is opened: try again
        toc = ix._read_toc()
        kept: list = []
        opened: list = []
        try:
            for segment in toc.segments:
                leaf = reusable.get(segment.segment_id())
                if (leaf is not None and not leaf.is_closed
                        and leaf.segment().deleted_count() == segment.deleted_count()):
                    kept.append(leaf)
                else:
                    opened.append(SegmentReader(ix.storage, toc.schema, segment,
                                                generation=toc.generation))
        except OSError:
            for reader in opened:
                reader.close()
            if attempt == 9:
                raise
            time.sleep(0.05)
            continue
        break
    for leaf in kept:
        leaf._gen = toc.generation  # a single leaf answers generation() for the whole index
    still = {id(leaf) for leaf in kept}
    for leaf in reusable.values():
        if id(leaf) not in still:
            leaf.close()
    by_id = {reader.segment().segment_id(): reader for reader in kept + opened}
    readers = [by_id[segment.segment_id()] for segment in toc.segments]
    if not readers:
        return EmptyReader(toc.schema)
    if len(readers) == 1:
        return readers[0]
    return MultiReader(readers, generation=toc.generation)


# -- the postings a commit writes -------------------------------------------------------------

def new_segment_id(writer) -> str | None:
    """The id of the segment a segment writer writes at commit (None for other writers)."""
    segment = getattr(writer, "newsegment", None)
    return segment.segment_id() if segment is not None else None


def capture_blocks(writer, fields: set[str], sink: Callable[..., None]) -> bool:
    """Hand every block of the posting lists of `fields` that `writer` (a segment writer of
    the W3 codec) writes at commit to `sink(field, offset, ids, weights, values)` before the
    block is pickled: `offset` is the list's offset in the segment's postings file (blocks
    of one list share it), `ids` the block's document numbers (an array of unsigned ints),
    `weights` its weights (an array of floats), `values` its postings' encoded values. Only
    this writer's field writer is wrapped (its instance, not the class). False when `writer`
    is no such writer (nothing is captured)."""
    fieldwriter = getattr(writer, "fieldwriter", None)
    if not isinstance(fieldwriter, whoosh3.W3FieldWriter):
        return False
    start_field = fieldwriter.start_field

    def start_capturing_field(fieldname, fieldobj):
        start_field(fieldname, fieldobj)
        postwriter = fieldwriter._postwriter
        if fieldname not in fields or not isinstance(postwriter, whoosh3.W3PostingsWriter):
            return
        write_block = postwriter._write_block

        def write_captured_block(last=False):
            sink(fieldname, postwriter._startoffset, postwriter._ids, postwriter._weights,
                 postwriter._values)
            write_block(last)

        postwriter._write_block = write_captured_block

    fieldwriter.start_field = start_capturing_field
    return True


# -- reading postings a block at a time --------------------------------------------------------

def block_postings(leaf, field: str, info) -> tuple[np.ndarray, np.ndarray] | None:
    """All (document numbers, weights) of the term `info` points at in the segment reader
    `leaf`, read with the codec's own block reader; None when `leaf` is not a W3 segment
    reader (the caller then reads posting by posting)."""
    terms = getattr(leaf, "_terms", None)
    if terms is None or not hasattr(terms, "_codec"):
        return None
    matcher = terms._codec.postings_reader(terms._postfile, info, leaf.schema[field].format)
    if not hasattr(matcher, "_read_ids"):
        items = list(matcher.items_as("weight"))
        return (np.array([i for i, _ in items], np.int64),
                np.array([w for _, w in items], np.float32))
    ids, weights = [], []
    while True:
        # The block's raw tuple (delta-encoded ids, weights, values), decoded with numpy:
        # `_read_ids` would undo the deltas one posting at a time in Python.
        matcher._read_data()
        raw_ids, raw_weights = matcher._data[0], matcher._data[1]
        block = np.asarray(raw_ids, dtype=np.int64)
        ids.append(block if matcher._byteids else np.cumsum(block))
        if raw_weights is None:
            weights.append(np.ones(len(block), dtype=np.float32))
        elif isinstance(raw_weights, float):
            weights.append(np.full(len(block), raw_weights, dtype=np.float32))
        else:
            weights.append(np.asarray(raw_weights, dtype=np.float32))
        if matcher._lastblock:
            break
        matcher._next_block()
    return np.concatenate(ids), np.concatenate(weights)


# -- query wrappers ----------------------------------------------------------------------------

class WrappingQueryBase(WrappingQuery):
    """A WrappingQuery whose subclasses say how to rebuild themselves around a new child in
    the public `rewrap` (Whoosh calls the private `_rewrap` when it rewrites a query tree)."""

    def rewrap(self, child: Query) -> Query:
        """This query around `child` instead of its own child."""
        return type(self)(child)

    def _rewrap(self, child: Query) -> Query:
        return self.rewrap(child)


# -- scoring: BM25F with a k1 and a weight per field (search/rank.py sets the values) --------

class FieldBM25F(scoring.BM25F):
    """Whoosh's BM25F with a k1, a weight and optionally a fixed idf per field too
    (`<field>_K1`, `<field>_W`, `<field>_IDF`, beside Whoosh's `<field>_B`; it reads the
    private `_field_B` table). A fixed idf scores every term of the field as a term of that
    idf instead of its own (None: its own)."""

    def __init__(self, B: float = 0.75, K1: float = 1.2, **kwargs: float | None):
        super().__init__(B=B, K1=K1, **{k: v for k, v in kwargs.items()
                                        if not k.endswith("_IDF")})
        self._field_K1 = {k[:-3]: v for k, v in kwargs.items() if k.endswith("_K1")}
        self._field_W = {k[:-2]: v for k, v in kwargs.items() if k.endswith("_W")}
        self._field_IDF = {k[:-4]: v for k, v in kwargs.items()
                           if k.endswith("_IDF") and v is not None}

    def scorer(self, searcher, fieldname, text, qf=1):
        if not searcher.schema[fieldname].scorable:
            return scoring.WeightScorer.for_(searcher, fieldname, text)
        return FieldBM25FScorer(searcher, fieldname, text, self._field_B.get(fieldname, self.B),
                                self._field_K1.get(fieldname, self.K1),
                                self._field_W.get(fieldname, 1.0), qf=qf,
                                idf=self._field_IDF.get(fieldname))

    def stats_scorer(self, searcher, fieldname: str, doc_frequency: int) -> FieldBM25FScorer:
        """The scorer `scorer()` makes for a term of a scorable field that `doc_frequency`
        documents of the whole index hold, built from that figure instead of looking the term
        up again in every segment (twice: for its idf and for the block bounds, which only
        Whoosh's matchers use). It scores (`_score`) as that scorer does; the idf is
        `WeightingModel.idf`'s, log(documents / (doc_frequency + 1)) + 1."""
        parent = searcher.get_parent()
        scorer = FieldBM25FScorer.__new__(FieldBM25FScorer)
        scorer.field_weight = self._field_W.get(fieldname, 1.0)
        scorer.fixed_idf = self._field_IDF.get(fieldname)
        scorer.idf = math.log(parent.doc_count_all() / (doc_frequency + 1)) + 1
        scorer.avgfl = parent.avg_field_length(fieldname) or 1
        scorer.B = self._field_B.get(fieldname, self.B)
        scorer.K1 = self._field_K1.get(fieldname, self.K1)
        scorer.qf = 1
        return scorer


class FieldBM25FScorer(scoring.BM25FScorer):
    """Whoosh's BM25F scorer, its score (and so its block bounds) times the field's weight,
    with the field's fixed idf if it has one. `_score` takes numpy arrays too: the executor
    scores whole posting lists through it (score_arrays)."""

    def __init__(self, searcher, fieldname, text, B, K1, weight, qf=1, idf=None):
        self.field_weight = weight  # before the parent's setup, which calls _score
        self.fixed_idf = idf
        super().__init__(searcher, fieldname, text, B, K1, qf=qf)

    def _score(self, weight, length):
        idf = self.idf if self.fixed_idf is None else self.fixed_idf
        return self.field_weight * scoring.bm25(idf, weight, length, self.avgfl, self.B,
                                                self.K1)


# -- raw segment structures for the vectorised executor (search/postings.py, executor.py) ------

def term_table(reader):
    """The W3 segment reader's term table (`_terms`), which knows each term's postings."""
    return reader._terms


def posting_file(terms):
    """The postings file (`_postfile`) of a W3 term table."""
    return terms._postfile


def column_file(reader, fieldname: str):
    """(file, base, length) of a segment's fixed-width column `fieldname`
    (`_perdoc._get_column_file`), or None when the segment has no such column."""
    perdoc = reader._perdoc
    if not perdoc.has_column(fieldname):
        return None
    return perdoc._get_column_file(fieldname)


def deleted_docs(reader):
    """The deleted document numbers of one segment (`_perdoc.deleted_docs()`)."""
    return reader._perdoc.deleted_docs()


def stored_fields(searcher, docnum: int) -> dict:
    """`searcher.stored_fields(docnum)`: the same dict for less. Whoosh's segment reader
    checks each stored name against the schema (`in schema`, which also tries every dynamic
    field's pattern) to drop fields the schema no longer has; with no dynamic fields a set
    membership test does that."""
    reader = searcher.reader()
    if isinstance(reader, reading.MultiReader):
        number, docnum = reader._segment_and_docnum(docnum)
        reader = reader.readers[number]
    schema = getattr(reader, "schema", None)
    if type(reader) is not reading.SegmentReader or reader.is_closed or schema._dyn_fields:
        return reader.stored_fields(docnum)
    names = schema._fields
    return {k: v for k, v in reader._perdoc.stored_fields(docnum).items() if k in names}


def score_arrays(scorer, weights, lengths):
    """A WeightLengthScorer's `_score(weight, length)` applied to numpy arrays at once."""
    return scorer._score(weights, lengths)
