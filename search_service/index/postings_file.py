"""Posting lists as flat arrays beside each segment: the postings files of the index.

This module owns `<index>/postings/<segment id>.npa`, one file per segment: every posting
list of the phrase-capable text fields (title, body) that Whoosh's W3 codec keeps in its
postings file (lists short enough to sit inline in the term table are left out), decoded
once at commit into arrays a searcher memory-maps and slices:

- `keys`: each list's offset in the segment's postings file (Whoosh's term info gives it),
  ascending; `first`, `last`: where its postings lie in the arrays below;
- `ids` (int32 document numbers, ascending within a list), `weights` (float32);
- `pstarts` (one offset per posting, and one past the end) into `pos`, each posting's
  positions in ascending order (uint16, or uint32 when a position passes 65,535).

Reading a list costs a term-table lookup and two slices, where decoding it costs unpickling
and inflating every block, and a phrase reads its candidates' positions without unpickling
any (W3 pickles each posting's positions inside its block's pickle). All processes share the
file's pages through the page cache. The file holds deleted documents too (callers mask them,
as with decoded lists) and never changes once written: a segment's postings never do.

The project's writer (index/writer.py) writes each new segment's file right after the
commit that made it, from the lists as the commit wrote them (`capture`: the W3 codec's
blocks caught before they are pickled, their chunks waiting in unnamed temporary files beside
the index during the commit), so nothing is read back: new segments and merged ones alike,
since Whoosh writes a merge's postings through the same codec. `refresh` builds, from the
segment's blocks (`build`), the files segments still lack (an index from before, a writer
that is not ours, a commit cut off before its file was written). Files are written to a
temporary name and renamed, and removed once their segment is merged away. A file that is
missing (an index from before, a build still running, the setting off) or unreadable only
means the caller decodes the list from the segment instead. `$NEWS_SEARCH_POSTINGS_FILES=0`
turns building and reading off.

The W3 block layout this reads (the magic, a signed size before each block, the block's
pickled header, its optionally zlib-compressed pickled `(ids, weights, values)`) is the
codec's own; search/postings.py decodes single lists with the same helpers. Positions are
read from their pickles' bytes with numpy (protocol 2's opcodes for a list of ints, each
checked), falling back to unpickling for anything else.
"""

from __future__ import annotations

import io
import itertools
import json
import logging
import mmap
import os
import pickle
import struct
import tempfile
import threading
import time
import zlib
from array import array
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
from whoosh import index as whoosh_index

from search_service.index import whoosh_compat
from search_service.index.whoosh_compat import durable, posting_file, segment_ids, term_table

log = logging.getLogger(__name__)

#: Setting: "0" turns the postings files off (neither built nor read).
ENV = "NEWS_SEARCH_POSTINGS_FILES"
DIRNAME = "postings"
SUFFIX = ".npa"
#: The file's first bytes; bumped with the layout (an older file is then ignored and rebuilt).
MAGIC = b"NSPOST01"
#: Fields whose lists go into the file: those phrases and most queries read.
FIELDS = ("title", "body")
#: Array offsets in the file are multiples of this (aligned views).
ALIGN = 64
#: A missing file is looked for again after this many seconds (it may be being built).
RETRY_SECONDS = 5.0

BLOCK_MAGIC = b"W3Bl"
_INT = struct.Struct("!i")
_HEADER = struct.Struct("<8sQ")


def enabled() -> bool:
    """Whether postings files are built and read ($NEWS_SEARCH_POSTINGS_FILES, default on)."""
    return os.environ.get(ENV, "1").strip().lower() not in ("0", "false", "no", "off")


# -- the W3 codec's blocks ---------------------------------------------------------------------

def blocks(raw: bytes) -> Iterator[tuple[int, int, int, object]]:
    """The blocks of one posting list (`raw`: its bytes in the postings file, from the
    magic on): per block, where its data starts and ends in `raw`, its posting count and its
    compression (falsy: none). Raises ValueError for anything but a W3 list."""
    if raw[:4] != BLOCK_MAGIC:
        raise ValueError(f"unexpected posting header {raw[:4]!r}")
    stream = io.BytesIO(raw)
    pos = 4
    while True:
        size = _INT.unpack_from(raw, pos)[0]
        following = pos + 4 + abs(size)
        stream.seek(pos + 4)
        count, _, _, compression, _, _ = pickle.load(stream)
        yield stream.tell(), following, count, compression
        if size < 0:
            return
        pos = following


def read_block(data: bytes, compression) -> tuple:
    """One block's (ids, weights, values) as the W3 codec pickled them (ids delta-encoded)."""
    return pickle.loads(zlib.decompress(data) if compression else data)


def decode_positions(values: list[bytes]) -> tuple[np.ndarray, np.ndarray]:
    """Decode postings' encoded positions (the Positions format: a pickled list of gaps
    after a 4-byte header) into one flat int64 array and the offsets of each posting's run."""
    if not values:
        return np.zeros(0, dtype=np.int64), np.zeros(1, dtype=np.int64)
    gaps, starts, rest = _read_gaps(values)
    if len(rest):  # a list past 1,000 gaps, anything unexpected: unpickled
        unpickled = _pickled_gaps([values[i] for i in rest.tolist()])
        lengths = np.diff(starts)
        lengths[rest] = [len(g) for g in unpickled]
        starts = np.zeros(len(values) + 1, dtype=np.int64)
        np.cumsum(lengths, out=starts[1:])
        whole = np.zeros(int(starts[-1]), dtype=np.int64)
        fast = np.ones(len(values), dtype=bool)
        fast[rest] = False
        whole[_runs(starts, fast)] = gaps
        whole[_runs(starts, ~fast)] = np.fromiter(
            itertools.chain.from_iterable(unpickled), dtype=np.int64,
            count=int(lengths[rest].sum()))
        gaps = whole
    # Positions are running sums of the gaps, restarting with each posting.
    sums = np.cumsum(gaps)
    before = np.concatenate(([0], sums))[starts[:-1]]
    return sums - np.repeat(before, np.diff(starts)), starts


#: How protocol 2 pickles a list of gaps: the list (memoised), then one gap and APPEND, or
#: the gaps between MARK and APPENDS (a thousand at most: more go in several batches); then
#: STOP. A gap is K and 1 byte (below 256), M and 2 bytes (below 65,536), or J and 4 bytes.
_PICKLED_LIST = np.frombuffer(b"\x80\x02]q\x00", dtype=np.uint8)
_K, _M, _J, _MARK, _APPEND, _APPENDS, _STOP = b"KMJ(ae."


def _runs(starts: np.ndarray, which: np.ndarray) -> np.ndarray:
    """The indexes, in order, of the runs `which` (a mask) of runs starting at `starts`."""
    low, high = starts[:-1][which], starts[1:][which]
    lengths = high - low
    first = np.zeros(len(lengths), dtype=np.int64)
    np.cumsum(lengths[:-1], out=first[1:])
    return np.repeat(low - first, lengths) + np.arange(int(lengths.sum()), dtype=np.int64)


def _read_gaps(values: list[bytes]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Read the gaps of values pickled as protocol 2 writes a list of at most 1,000 ints
    (almost all of them) straight from their bytes, every opcode checked, the n-th gap of
    every value at once: those gaps (flat, in order), every value's run offsets by its
    4-byte count of gaps, and the values left over (read otherwise)."""
    n = len(values)
    lengths = np.fromiter(map(len, values), dtype=np.int64, count=n)
    ends = np.cumsum(lengths)
    begins = ends - lengths
    data = np.frombuffer(b"".join(values), dtype=np.uint8)
    top = len(data) - 1

    def at(offsets: np.ndarray) -> np.ndarray:  # bytes, past the end read as the last one
        return data[np.minimum(offsets, top)].astype(np.int64)

    counts = np.zeros(n, dtype=np.int64)
    sized = lengths >= 4
    for k in range(4):  # the header: the count of gaps, big-endian
        counts[sized] = counts[sized] * 256 + at(begins[sized] + k)
    multi = (counts > 1).astype(np.int64)
    # header, protocol and memoised list, MARK for several, 2 bytes a gap or more, 2 to close
    fit = sized & (counts >= 1) & (counts <= 1000) & (lengths >= 4 + 5 + multi + 2 * counts + 2)
    idx = np.flatnonzero(fit)
    b, m, last = begins[idx], multi[idx], ends[idx]
    good = (at(b[:, None] + 4 + np.arange(5)) == _PICKLED_LIST).all(axis=1)
    good &= np.where(m == 1, at(b + 9) == _MARK, True)
    good &= at(last - 2) == np.where(m == 1, _APPENDS, _APPEND)
    good &= at(last - 1) == _STOP
    fit[idx[~good]] = False
    starts = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.where(fit, counts, 0), out=starts[1:])
    gaps = np.zeros(int(starts[-1]), dtype=np.int64)
    cursor = begins + 9 + multi
    active, k = np.flatnonzero(fit), 0
    while len(active):  # the k-th gap of every value that has one
        here = cursor[active]
        op = at(here)
        gap = at(here + 1)
        wide = op != _K
        gap[wide] += at(here[wide] + 2) << 8
        four = op == _J
        gap[four] += (at(here[four] + 3) << 16) + (at(here[four] + 4) << 24)
        gap[four] -= (gap[four] >= 2**31) * 2**32  # J is signed
        gaps[starts[active] + k] = gap
        cursor[active] = here + np.where(wide, np.where(four, 5, 3), 2)
        fit[active[(op != _K) & (op != _M) & ~four]] = False
        k += 1
        active = active[counts[active] > k]
    fit &= cursor == ends - 2  # the gaps end where the list closes
    keep = np.flatnonzero(fit)
    return gaps[_runs(starts, fit)], _with_counts(starts, keep, counts), np.flatnonzero(~fit)


def _with_counts(starts: np.ndarray, keep: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Run offsets of `len(starts) - 1` values: those `keep` with their counts, others empty."""
    lengths = np.zeros(len(starts) - 1, dtype=np.int64)
    lengths[keep] = counts[keep]
    out = np.zeros(len(starts), dtype=np.int64)
    np.cumsum(lengths, out=out[1:])
    return out


def _pickled_gaps(values: list[bytes]) -> list[list[int]]:
    """Each value's gaps, unpickled (one unpickling for all)."""
    # Each value is a whole pickle (a list of gaps) after its 4-byte header; without their
    # STOP, they nest inside an outer MARK … LIST as its items.
    gaps = pickle.loads(b"\x80\x02(" + b"".join(
        [v[4:-1] if v.endswith(b".") else v[4:] for v in values]) + b"l.")
    if len(gaps) != len(values):
        raise ValueError(f"decoded {len(gaps)} position lists from {len(values)} postings")
    return gaps


def extent(info) -> tuple[int, int]:
    """A non-inlined term info's (offset, length) in the postings file."""
    offset, length = info.extent()
    if isinstance(length, tuple):  # W3TermInfo.from_bytes leaves the length in a 1-tuple
        length = length[0]
    return offset, length


# -- reading -----------------------------------------------------------------------------------

class SegmentPostings:
    """One segment's postings file, memory-mapped: lists by postings-file offset."""

    def __init__(self, path: Path):
        with open(path, "rb") as handle:
            self._map = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
        magic, length = _HEADER.unpack_from(self._map, 0)
        if magic != MAGIC:
            raise ValueError(f"{path}: not a postings file of this version ({magic!r})")
        header = json.loads(self._map[_HEADER.size:_HEADER.size + length])
        arrays = {}
        for name, (dtype, offset, count) in header["arrays"].items():
            if offset + count * np.dtype(dtype).itemsize > len(self._map):
                raise ValueError(f"{path}: array {name} runs past the end of the file")
            arrays[name] = np.frombuffer(self._map, dtype=dtype, count=count, offset=offset)
        self.segment = header["segment"]
        self.keys, self.first, self.last = arrays["keys"], arrays["first"], arrays["last"]
        self.ids, self.weights = arrays["ids"], arrays["weights"]
        self.pstarts, self.pos = arrays["pstarts"], arrays["pos"]
        if not (len(self.first) == len(self.last) == len(self.keys)
                and len(self.weights) == len(self.ids) == len(self.pstarts) - 1):
            raise ValueError(f"{path}: arrays of inconsistent lengths")

    def lookup(self, offset: int) -> tuple[np.ndarray, np.ndarray, int] | None:
        """The (ids, weights) of the list at `offset` in the postings file and the index of
        its first posting in this file; None when the file does not hold it."""
        k = int(np.searchsorted(self.keys, offset))
        if k >= len(self.keys) or int(self.keys[k]) != offset:
            return None
        first, last = int(self.first[k]), int(self.last[k])
        return self.ids[first:last], self.weights[first:last], first

    def positions(self, which: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The positions of postings `which` (indexes into this file's postings): one flat
        int64 array and where each posting's run starts (len(which) + 1 offsets)."""
        low = self.pstarts[which].astype(np.int64)
        lengths = self.pstarts[which + 1].astype(np.int64) - low
        starts = np.zeros(len(which) + 1, dtype=np.int64)
        np.cumsum(lengths, out=starts[1:])
        index = np.repeat(low - starts[:-1], lengths) + np.arange(starts[-1], dtype=np.int64)
        return self.pos[index].astype(np.int64), starts


_lock = threading.Lock()
#: (index folder, segment id) → the open file, or the monotonic time it was found missing.
_open: dict[tuple[str, str], SegmentPostings | float] = {}


def folder_of(reader) -> str | None:
    """The index folder a segment reader reads from (None if not a file index)."""
    storage = reader.storage() if hasattr(reader, "storage") else None
    for candidate in (storage, getattr(storage, "b", None)):
        folder = getattr(candidate, "folder", None)
        if folder:
            return str(folder)
    return None


def for_segment(reader) -> SegmentPostings | None:
    """The postings file of the segment `reader` reads, opened once per process; None when
    there is none (yet), it cannot be read, or the setting is off."""
    segment = reader.segment() if hasattr(reader, "segment") else None
    if segment is None or not enabled():
        return None
    folder = folder_of(reader)
    if folder is None:
        return None
    key = (folder, segment.segment_id())
    found = _open.get(key)
    if isinstance(found, SegmentPostings):
        return found
    if found is not None and time.monotonic() - found < RETRY_SECONDS:
        return None
    with _lock:
        path = path_of(Path(folder), key[1])
        try:
            opened: SegmentPostings | float = SegmentPostings(path)
        except FileNotFoundError:
            opened = time.monotonic()
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("postings file %s unreadable (%s): decoding from the segment", path,
                        exc)
            opened = time.monotonic() + 3600  # looked for again in an hour
        _open[key] = opened
    return opened if isinstance(opened, SegmentPostings) else None


def forget_segments(live: set[str]) -> int:
    """Close the files of segments not in `live` (merged away); return how many."""
    with _lock:
        dead = [key for key in _open if key[1] not in live]
        for key in dead:
            del _open[key]
    return len(dead)


def forget() -> None:
    """Close every open postings file (benchmarks time cold reads with it)."""
    with _lock:
        _open.clear()


# -- building ----------------------------------------------------------------------------------

def path_of(folder: Path, segment_id: str) -> Path:
    """Where the postings file of a segment lives."""
    return folder / DIRNAME / f"{segment_id}{SUFFIX}"


#: Postings decoded together while building (bounds the build's transient memory).
BUILD_CHUNK = 200_000
#: The same while a commit runs (its own memory peaks then): decoded and spilled sooner.
CAPTURE_CHUNK = 40_000


class _Decoded:
    """The arrays of a file being built, gathered from many lists' blocks and decoded
    BUILD_CHUNK postings at a time (per-list numpy calls would cost more than the decoding
    in a segment of short lists). `delta`: the blocks' ids are delta-encoded within each
    block (as the W3 codec pickles them), else document numbers. `spill`: a folder where
    decoded chunks wait in unnamed temporary files until `restore` (a commit being written
    holds its own memory: the capture adds little to it)."""

    #: The decoded arrays, and the types they wait in when spilled.
    SPILLED = {"ids": np.int32, "weights": np.float32, "counts": np.int32, "pos": np.uint32}

    def __init__(self, delta: bool = True, spill: Path | None = None) -> None:
        self.delta = delta
        self.spill = spill
        self.files: dict[str, Any] = {}
        self.too_wide = False  # a position past 2**32 (never seen): not spilled
        self.ids: list[np.ndarray] = []
        self.weights: list[np.ndarray] = []
        self.counts: list[np.ndarray] = []
        self.pos: list[np.ndarray] = []
        self._ids: list[int] = []
        self._block_starts: list[int] = []
        self._weights: list[float] = []
        self._values: list[bytes] = []

    def add_block(self, ids, weights, values, count: int) -> None:
        self._block_starts.append(len(self._ids))
        self._ids.extend(ids)
        if weights is None:
            self._weights.extend([1.0] * count)
        elif isinstance(weights, float):
            self._weights.extend([weights] * count)
        else:
            self._weights.extend(weights)
        self._values.extend(values)
        if len(self._ids) >= (BUILD_CHUNK if self.spill is None else CAPTURE_CHUNK):
            self.flush()

    def flush(self) -> None:
        if not self._ids:
            return
        if self.delta:
            deltas = np.asarray(self._ids, dtype=np.int64)
            sums = np.cumsum(deltas)
            starts = np.asarray(self._block_starts, dtype=np.int64)
            before = np.concatenate(([0], sums))[starts]  # each block's ids restart from 0
            lengths = np.diff(np.concatenate((starts, [len(deltas)])))
            self.ids.append((sums - np.repeat(before, lengths)).astype(np.int32))
        else:
            self.ids.append(np.asarray(self._ids, dtype=np.int32))
        self.weights.append(np.asarray(self._weights, dtype=np.float32))
        flat, pstarts = decode_positions(self._values)
        # held until the file is written: as small as their values allow (the file's own
        # types are chosen then, from all of them)
        self.counts.append(np.diff(pstarts).astype(np.int32))
        small = not len(flat) or (flat.min() >= 0 and flat.max() < 2**32)
        self.pos.append(flat.astype(np.uint32) if small else flat)
        self._ids, self._block_starts, self._weights, self._values = [], [], [], []
        if self.spill is not None:
            self.too_wide |= not small
            for name in self.SPILLED:
                if name not in self.files:
                    self.spill.mkdir(parents=True, exist_ok=True)
                    self.files[name] = tempfile.TemporaryFile(dir=self.spill)
                parts = getattr(self, name)
                for part in parts:
                    self.files[name].write(np.ascontiguousarray(part).data)
                parts.clear()

    def restore(self) -> None:
        """Read the spilled chunks back (one array each) and close their files."""
        self.flush()
        for name, handle in self.files.items():
            handle.seek(0)
            data = handle.read()
            handle.close()
            getattr(self, name).append(np.frombuffer(data, dtype=self.SPILLED[name]))
        self.files = {}

    def close(self) -> None:
        """Close the spilled chunks' files (they vanish)."""
        for handle in self.files.values():
            handle.close()
        self.files = {}


def _fields(schema) -> list[str]:
    """The FIELDS of `schema` whose postings hold positions (those the file holds)."""
    return [field for field in FIELDS
            if field in schema and schema[field].format.supports("positions")]


def build(folder: Path, reader) -> Path:
    """Write the postings file of the segment `reader` reads, from its postings (every
    block read and decoded); return its path."""
    segment_id = reader.segment().segment_id()
    terms = term_table(reader)
    postfile = posting_file(terms)
    lists: list[tuple[int, int]] = []
    decoded = _Decoded()
    for field in _fields(reader.schema):
        for (name, _), info in terms.items_from(field, b""):
            if name != field:
                break
            if info.is_inlined():
                continue
            offset, length = extent(info)
            raw = postfile.get(offset, length)
            count = 0
            for start, end, n, compression in blocks(raw):
                block_ids, weights, values = read_block(raw[start:end], compression)
                decoded.add_block(block_ids, weights, values, n)
                count += n
            lists.append((offset, count))
    decoded.flush()
    return _write(path_of(folder, segment_id), segment_id, _arrays(lists, [decoded]))


class Capture:
    """The postings file of the segment a writer writes, gathered as the W3 codec writes
    its blocks at commit (document numbers, weights and encoded positions before they are
    pickled and compressed), so that writing the file reads nothing back: the same file
    `build` writes from the segment's blocks, at a fraction of the cost. Made by `capture`
    before the commit; `write` after it."""

    def __init__(self, segment_id: str, fields: list[str], folder: Path) -> None:
        self.segment_id = segment_id
        self.fields = fields
        #: Per field, its lists in the order written (term order): offsets, postings.
        self.lists = {field: (array("q"), array("q")) for field in fields}
        self.decoded = {field: _Decoded(delta=False, spill=folder / DIRNAME)
                        for field in fields}
        self.broken = False

    def block(self, field: str, offset: int, ids, weights, values: list[bytes]) -> None:
        """Take one block of the list at `offset` of `field` (whoosh_compat.capture_blocks)."""
        count = len(ids)
        if len(weights) != count or len(values) != count:
            self.broken = True  # not postings with positions: leave the file to `build`
            return
        offsets, counts = self.lists[field]
        if offsets and offsets[-1] == offset:
            counts[-1] += count
        else:
            offsets.append(offset)
            counts.append(count)
        self.decoded[field].add_block(ids, weights, values, count)

    def write(self, ix: whoosh_index.Index) -> Path | None:
        """Write the file if the commit left the captured segment in the index; return its
        path (None: nothing captured to write, and `refresh` builds what is missing)."""
        folder = getattr(ix.storage, "folder", None)
        try:
            if folder is None or self.broken or self.segment_id not in segment_ids(ix):
                return None
            for decoded in self.decoded.values():
                decoded.restore()
            if any(decoded.too_wide for decoded in self.decoded.values()):
                return None
            lists = [pair for field in self.fields
                     for pair in zip(*self.lists[field], strict=True)]
            arrays = _arrays(lists, [self.decoded[field] for field in self.fields])
            return _write(path_of(Path(folder), self.segment_id), self.segment_id, arrays)
        finally:
            self.close()

    def close(self) -> None:
        """Drop what was captured (a commit that failed: nothing to write)."""
        for decoded in self.decoded.values():
            decoded.close()
        self.decoded = {}


def capture(writer) -> Capture | None:
    """Start capturing the postings file of the segment `writer` (a Whoosh segment writer)
    writes at commit; None when that cannot be done (another writer, the setting off)."""
    segment_id = whoosh_compat.new_segment_id(writer)
    folder = getattr(getattr(writer, "storage", None), "folder", None)
    if segment_id is None or folder is None or not enabled():
        return None
    captured = Capture(segment_id, _fields(writer.schema), Path(folder))
    if not whoosh_compat.capture_blocks(writer, set(captured.fields), captured.block):
        return None
    return captured


def _arrays(lists: list[tuple[int, int]], decoded: list[_Decoded]) -> dict[str, np.ndarray]:
    """The arrays of a postings file: `lists` are (offset, postings) in the order of the
    postings in `decoded` (whose parts are joined in order)."""

    def joined(parts: list[np.ndarray], dtype) -> np.ndarray:
        return np.concatenate(parts) if parts else np.zeros(0, dtype=dtype)

    keys = np.asarray([offset for offset, _ in lists], dtype=np.int64)
    lasts = np.cumsum(np.asarray([count for _, count in lists], dtype=np.int64))
    firsts = lasts - np.asarray([count for _, count in lists], dtype=np.int64)
    order = np.argsort(keys, kind="stable")
    counts = joined([c for d in decoded for c in d.counts], np.int32)
    pos = joined([p for d in decoded for p in d.pos], np.uint32)
    pstarts = np.zeros(len(counts) + 1, dtype=np.int64)
    np.cumsum(counts, out=pstarts[1:])
    del counts
    return {
        "keys": keys[order],
        "first": firsts[order],
        "last": lasts[order],
        "ids": joined([i for d in decoded for i in d.ids], np.int32),
        "weights": joined([w for d in decoded for w in d.weights], np.float32),
        "pstarts": pstarts.astype(np.uint32 if pstarts[-1] < 2**32 else np.int64),
        "pos": pos.astype(np.uint16 if not len(pos) or pos.max() < 2**16 else np.uint32),
    }


def _write(path: Path, segment_id: str, arrays: dict[str, np.ndarray]) -> Path:
    """Write `arrays` as a postings file at `path`, atomically (temporary name, rename)."""
    layout, offset = {}, 0
    for name, values in arrays.items():
        layout[name] = [values.dtype.str, offset, len(values)]
        offset += -(-values.nbytes // ALIGN) * ALIGN
    # The header's own length moves the arrays: lay them out after a padded header.
    header = json.dumps({"segment": segment_id, "arrays": layout}).encode()
    base = -(-(_HEADER.size + len(header) + 256) // ALIGN) * ALIGN
    for entry in layout.values():
        entry[1] += base
    header = json.dumps({"segment": segment_id, "arrays": layout}).encode()
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(temporary, "wb") as out:
        out.write(_HEADER.pack(MAGIC, len(header)) + header)
        for name, values in arrays.items():
            out.seek(layout[name][1])
            out.write(np.ascontiguousarray(values).data)
        out.truncate(max([base] + [layout[n][1] + a.nbytes for n, a in arrays.items()]))
        out.flush()
        if durable():  # as the commit's own files ($NEWS_SEARCH_FSYNC)
            os.fsync(out.fileno())
    os.replace(temporary, path)
    return path


def refresh(ix: whoosh_index.Index) -> list[Path]:
    """Build the postings files the index's segments lack and remove those of segments no
    longer in it; return the files built. Does nothing with the setting off."""
    folder = getattr(ix.storage, "folder", None)
    if folder is None or not enabled():
        return []
    folder = Path(folder)
    built = []
    with ix.reader() as reader:
        leaves = [leaf for leaf, _ in reader.leaf_readers() if leaf.segment() is not None]
        for leaf in leaves:
            path = path_of(folder, leaf.segment().segment_id())
            if not _current(path):
                started = time.monotonic()
                built.append(build(folder, leaf))
                log.info("postings file %s: %d documents in %.1f s", path.name,
                         leaf.doc_count_all(), time.monotonic() - started)
    directory = folder / DIRNAME
    if directory.is_dir():
        live = segment_ids(ix)  # the latest commit's (another writer may have committed since)
        for path in directory.iterdir():
            stale_tmp = path.name.startswith(".") and time.time() - _mtime(path) > 3600
            if (path.suffix == SUFFIX and path.stem not in live) or stale_tmp:
                path.unlink(missing_ok=True)
    return built


def _current(path: Path) -> bool:
    """Whether `path` is a postings file of this layout."""
    try:
        with open(path, "rb") as handle:
            return handle.read(len(MAGIC)) == MAGIC
    except OSError:
        return False


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return time.time()
