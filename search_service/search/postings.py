"""Whoosh's on-disk postings and columns as numpy arrays: the W3 codec's posting blocks, term
infos and column files, reached through index/whoosh_compat.py's accessors.

A term's posting list in one segment is sliced from the segment's postings file
(index/postings_file.py: the lists decoded once at commit, memory-mapped) when it has one.
Otherwise it is decoded block by block (unpickle, inflate, delta-decode the document numbers)
into arrays of document numbers and weights, once, and kept in a memory-bounded cache shared
by the threads of a process. Positions, needed only to confirm phrases, are read for a
phrase's candidates only: from the postings file, or from the blocks that hold them, whose
encoded positions are then cached too.
"""

from __future__ import annotations

import logging
import os
import pickle
import struct
import threading
import zlib
from collections import OrderedDict
from dataclasses import dataclass
from functools import cached_property

import numpy as np
from whoosh.reading import TermNotFound
from whoosh.util.numeric import byte_to_length

from search_service.index import postings_file
from search_service.index.postings_file import blocks, decode_positions, extent, read_block
from search_service.index.whoosh_compat import column_file, deleted_docs, posting_file, term_table

log = logging.getLogger(__name__)

#: Environment variable overriding the postings cache bound, in megabytes.
CACHE_ENV = "NEWS_SEARCH_POSTINGS_MB"

#: Default bound of the decoded-postings cache of one process (all its threads), in MB; the
#: executor's cache of scored terms takes 0.75 of it again (executor.SCORED_SHARE). A
#: posting costs 8 bytes decoded (document number and weight, 4 bytes each) plus its
#: encoded positions when a phrase asked for them: 128 MB hold about 16 million postings,
#: the commonly queried terms of the 100,000-article benchmark index; with 192 MB and the
#: scored terms beside it, a worker over that index reached 640 MB PSS under load, past
#: the 600 MB budget.
DEFAULT_CACHE_MB = 128


#: Field lengths are stored as one byte; this table turns the byte back into the length
#: Whoosh scores with (0: no value; Whoosh never scores such a document).
LENGTHS = np.array([byte_to_length(b) if b else 0 for b in range(256)], dtype=np.float64)


@dataclass(frozen=True)
class Postings:
    """One term's postings in one segment: ascending document numbers and their weights
    (deleted documents included: callers mask them). Positions, needed only to confirm a
    phrase, are read later for the postings a phrase asks about (`positions()`): from
    `values` (every posting's encoded positions) when the list was inlined in the term
    table, else from the blocks of the postings file that hold those postings (`blocks`:
    per block, the file offsets of its data, its compression, and the index of its first
    posting)."""

    ids: np.ndarray
    weights: np.ndarray
    values: tuple[bytes, ...] | None = None
    blocks: np.ndarray | None = None  # int64, one row per block: start, end, zlib, first
    file: postings_file.SegmentPostings | None = None  # read from the segment's file
    first: int = 0  # the index of the first posting in `file`

    @cached_property
    def nbytes(self) -> int:
        """Approximate memory held (computed once: caches ask at every put and eviction);
        views of a postings file hold none (the page cache holds it, shared)."""
        if self.file is not None:
            return 200
        extra = 0 if self.values is None else sum(map(len, self.values)) + 40 * len(self.values)
        blocks = 0 if self.blocks is None else self.blocks.nbytes
        return self.ids.nbytes + self.weights.nbytes + extra + blocks + 200


@dataclass(frozen=True)
class BlockValues:
    """The encoded positions of one block's postings, as the W3 codec pickled them (an
    object array, so that a phrase's candidates are picked out by index in one step)."""

    values: np.ndarray

    @cached_property
    def nbytes(self) -> int:
        """Approximate memory held."""
        return sum(map(len, self.values)) + 40 * len(self.values) + 100


EMPTY = Postings(np.zeros(0, dtype=np.int32), np.zeros(0, dtype=np.float32))


class PostingsCache:
    """Decoded posting lists keyed by (segment, field, term), least recently used out first
    once `limit` bytes are held; safe to share between threads."""

    def __init__(self, limit: int):
        self.limit = limit
        self.held = 0
        self.lock = threading.Lock()
        self.entries: OrderedDict[tuple, Postings] = OrderedDict()
        self.hits = self.misses = 0

    def get(self, key: tuple) -> Postings | None:
        """Return the cached postings for `key`, or None."""
        with self.lock:
            found = self.entries.get(key)
            if found is not None:
                self.entries.move_to_end(key)
                self.hits += 1
            else:
                self.misses += 1
            return found

    def put(self, key: tuple, postings: Postings) -> None:
        """Keep `postings` under `key`, dropping the least recently used beyond the bound."""
        size = postings.nbytes
        if size > self.limit:
            return
        with self.lock:
            old = self.entries.pop(key, None)
            if old is not None:
                self.held -= old.nbytes
            self.entries[key] = postings
            self.held += size
            while self.held > self.limit and self.entries:
                _, dropped = self.entries.popitem(last=False)
                self.held -= dropped.nbytes


    def drop_segments(self, live: set[str]) -> int:
        """Drop the entries of segments not in `live` (merged away); return how many."""
        with self.lock:
            dead = [key for key in self.entries if key[0] not in live]
            for key in dead:
                self.held -= self.entries.pop(key).nbytes
        return len(dead)


def cache_limit() -> int:
    """The cache bound in bytes, from $NEWS_SEARCH_POSTINGS_MB or DEFAULT_CACHE_MB."""
    text = os.environ.get(CACHE_ENV, "").strip()
    try:
        mb = float(text) if text else DEFAULT_CACHE_MB
    except ValueError:
        raise ValueError(f"${CACHE_ENV} must be a number of megabytes, not {text!r}") from None
    return int(max(mb, 0) * 2**20)


_cache_lock = threading.Lock()
_cache: PostingsCache | None = None


def shared_cache() -> PostingsCache:
    """The process's postings cache (made on first use)."""
    global _cache
    with _cache_lock:
        if _cache is None:
            _cache = PostingsCache(cache_limit())
        return _cache


def forget() -> None:
    """Empty the process's postings cache and close its postings files (benchmarks time
    cold reads with it)."""
    global _cache
    with _cache_lock:
        _cache = None
    postings_file.forget()


def segment_id(reader) -> str:
    """The id of the segment a (segment) reader reads ('' for a reader of no segment, such as
    an empty index's)."""
    segment = reader.segment() if hasattr(reader, "segment") else None
    return segment.segment_id() if segment is not None else ""


#: `postings(info=...)` not given: the term is looked up in the segment's term table.
LOOK_UP = object()


def term_info(reader, fieldname: str, tbytes: bytes):
    """The term's info (W3TermInfo) in the segment of `reader`, or None when the segment does
    not hold it."""
    try:
        return term_table(reader).term_info(fieldname, tbytes)
    except (KeyError, TermNotFound):
        return None


def postings(reader, fieldname: str, tbytes: bytes, info=LOOK_UP) -> Postings:
    """The postings of term (`fieldname`, `tbytes`) in the segment of `reader`, from the
    segment's postings file, the shared cache or decoded now (document numbers and weights; a
    phrase then reads the positions of its candidates with `positions()`). `info`: the term's
    info in that segment (term_info()) when the caller has looked it up already."""
    if info is LOOK_UP:
        info = term_info(reader, fieldname, tbytes)
    if info is None:  # not in this segment
        return EMPTY
    file = postings_file.for_segment(reader)
    if file is not None and not info.is_inlined():
        found = file.lookup(extent(info)[0])
        if found is not None:
            ids, weights, first = found
            return Postings(ids, weights, file=file, first=first)
    cache = shared_cache()
    key = (segment_id(reader), fieldname, tbytes)
    found = cache.get(key)
    if found is not None:
        return found
    decoded = _decode(reader, fieldname, tbytes, info)
    cache.put(key, decoded)
    return decoded


def _decode(reader, fieldname: str, tbytes: bytes, info=LOOK_UP) -> Postings:
    """Read one posting list's document numbers and weights through the W3 codec's block
    layout, noting where each block's data lies (for `positions()`)."""
    if info is LOOK_UP:
        info = term_info(reader, fieldname, tbytes)
    if info is None:  # not in this segment
        return EMPTY
    terms = term_table(reader)
    if info.is_inlined():
        ids, weights, values = info.inlined_postings()
        return Postings(np.asarray(ids, dtype=np.int32), np.asarray(weights, dtype=np.float32),
                        tuple(values) if values is not None else None)
    offset, length = extent(info)
    raw = posting_file(terms).get(offset, length)
    id_parts, weight_parts, spans = [], [], []
    first = 0
    try:
        for start, following, count, compression in blocks(raw):
            ids, weights = _block_ids_weights(raw[start:following], compression, count)
            spans.append((offset + start, offset + following, 1 if compression else 0, first))
            first += count
            id_parts.append(np.cumsum(np.asarray(ids, dtype=np.int32), dtype=np.int32))
            if weights is None:
                weight_parts.append(np.ones(count, dtype=np.float32))
            elif isinstance(weights, float):
                weight_parts.append(np.full(count, weights, dtype=np.float32))
            else:
                weight_parts.append(np.asarray(weights, dtype=np.float32))
    except ValueError as exc:
        raise ValueError(f"{exc} for {fieldname}:{tbytes!r}") from None
    return Postings(np.concatenate(id_parts), np.concatenate(weight_parts),
                    blocks=np.array(spans, dtype=np.int64))


#: A block read whole (tests compare the cut reading against it).
_block = read_block


#: How the W3 codec's pickle (protocol 2) spells each encoded value (bytes, which protocol 2
#: writes as a call of `_codecs.encode`): the first one opens the block's values.
_VALUES_START = b"c_codecs\nencode\n"


def _block_ids_weights(data: bytes, compression, count: int) -> tuple:
    """One block's (ids, weights), without unpickling its values (a term query needs no
    positions): the pickle is cut where the values begin and closed as a pair, an eleventh
    of the cost of the whole. Anything unexpected falls back to the whole pickle."""
    data = zlib.decompress(data) if compression else data
    cut = data.find(_VALUES_START)
    if cut > 2:
        if data[cut - 1] == 0x28:  # the MARK opening a tuple of more than three values
            cut -= 1
        try:
            ids, weights = pickle.loads(data[:cut] + b"\x86.")  # TUPLE2, STOP
        except (pickle.UnpicklingError, ValueError, TypeError, EOFError, IndexError):
            pass
        else:
            if isinstance(ids, tuple) and len(ids) == count and (
                    weights is None or isinstance(weights, float)
                    or (isinstance(weights, tuple) and len(weights) == count)):
                return ids, weights
    return pickle.loads(data)[:2]


def positions(reader, fieldname: str, tbytes: bytes, found: Postings,
              which: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The positions of postings `which` (ascending indexes into `found.ids`, the postings
    of (`fieldname`, `tbytes`) in `reader`'s segment): one flat int64 array and where each
    posting's run starts (len(which) + 1 offsets). Only the blocks holding those postings
    are read; their encoded positions are kept in the shared cache. A list read from the
    segment's postings file slices its positions from there."""
    if found.file is not None:
        return found.file.positions(found.first + which)
    if found.values is not None:
        return decode_positions([found.values[i] for i in which.tolist()])
    if found.blocks is None:
        raise ValueError(f"no positions for {fieldname}:{tbytes!r}")
    firsts = found.blocks[:, 3]
    owner = np.searchsorted(firsts, which, side="right") - 1
    cuts = np.flatnonzero(np.diff(owner)) + 1  # `which` is ascending, so are the blocks
    cache, segment = shared_cache(), segment_id(reader)
    postfile = None
    values: list[bytes] = []
    for block, part in zip(owner[np.concatenate(([0], cuts))].tolist(), np.split(which, cuts),
                           strict=True):
        key = (segment, fieldname, tbytes, block)
        held = cache.get(key)
        if held is None:
            start, end, compression, _ = found.blocks[block].tolist()
            if postfile is None:
                postfile = posting_file(term_table(reader))
            held = BlockValues(_objects(_block(postfile.get(start, end - start), compression)[2]))
            cache.put(key, held)
        values.extend(held.values[part - firsts[block]].tolist())
    return decode_positions(values)


def _objects(values) -> np.ndarray:
    """A block's encoded positions as a numpy object array."""
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out


# -- columns -----------------------------------------------------------------------------------

def field_lengths(reader, fieldname: str) -> np.ndarray | None:
    """Each document's length of `fieldname` in one segment, as Whoosh scores it (float64);
    None when the segment stores no lengths for it."""
    raw = _fixed_column(reader, f"_{fieldname}_len", 1)
    if raw is None:
        return None
    return LENGTHS[np.frombuffer(raw, dtype=np.uint8)]


def numeric_column(reader, fieldname: str, default: int) -> np.ndarray | None:
    """A sortable numeric column ("Q": unsigned 64-bit) of one segment as uint64, or None."""
    raw = _fixed_column(reader, fieldname, 8, fill=struct.pack("!Q", default))
    return None if raw is None else np.frombuffer(raw, dtype=">u8").astype(np.uint64)


def bytes_column(reader, fieldname: str, width: int, default: bytes) -> np.ndarray | None:
    """A fixed-width bytes column of one segment as a numpy bytes array, or None."""
    raw = _fixed_column(reader, fieldname, width, fill=default)
    return None if raw is None else np.frombuffer(raw, dtype=f"S{width}")


def _fixed_column(reader, fieldname: str, width: int, fill: bytes | None = None) -> bytes | None:
    """The raw values of a fixed-width column, one per document (missing tail filled)."""
    found = column_file(reader, fieldname)
    if found is None:
        return None
    colfile, base, length = found
    try:
        count = length // width
        raw = colfile.get(base, count * width)
    finally:
        colfile.close()
    missing = reader.doc_count_all() - count
    if missing > 0:
        raw += (fill if fill is not None else b"\x00" * width) * missing
    return raw[: reader.doc_count_all() * width]


def deleted(reader) -> np.ndarray:
    """The deleted document numbers of one segment."""
    if not reader.has_deletions():
        return np.zeros(0, dtype=np.int32)
    return np.fromiter(sorted(deleted_docs(reader)), dtype=np.int32)


def lexicon(reader, fieldname: str) -> list[bytes]:
    """The terms of `fieldname` in one segment."""
    return list(reader.lexicon(fieldname))
