"""Per-segment columns as numpy arrays, read once per segment and shared by every search:
field lengths, publication stamps, near-duplicate keys (as bytes, and as numbers for the
cursor's story order), the codes of single-valued keyword fields (source, host, language)
and deletions.

Segments never change once written (only their deletions do, which are part of the cache
key), so a commit costs only the columns of its new segments. Columns are loaded on first
use through a registry of loaders (`LOADERS`), so a new column is one entry there.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from search_service.article import ID_CHARS
from search_service.search import postings as raw
from search_service.search.filters import NO_DATE

#: Segments whose columns are remembered (a few commits' worth).
KEEP_SEGMENTS = 64


@dataclass(frozen=True)
class Codes:
    """A single-valued keyword field of one segment: each document's term number (-1: none)
    and the terms in number order."""

    codes: np.ndarray
    terms: list[bytes]
    numbers: dict[bytes, int]


def _codes(reader, fieldname: str) -> Codes:
    """Number the terms of `fieldname` and give each document the number of its term."""
    codes = np.full(reader.doc_count_all(), -1, dtype=np.int32)
    terms = raw.lexicon(reader, fieldname) if fieldname in reader.schema else []
    for number, term in enumerate(terms):
        codes[raw.postings(reader, fieldname, term).ids] = number
    return Codes(codes, terms, {t: n for n, t in enumerate(terms)})


def _published(reader, _name: str) -> np.ndarray:
    found = raw.numeric_column(reader, "published", NO_DATE)
    return found if found is not None else np.full(reader.doc_count_all(), NO_DATE,
                                                   dtype=np.uint64)


def _cluster(reader, _name: str) -> np.ndarray:
    found = raw.bytes_column(reader, "cluster", ID_CHARS, b" " * ID_CHARS)
    if found is None:
        return np.full(reader.doc_count_all(), b" " * ID_CHARS, dtype=f"S{ID_CHARS}")
    return found


#: Hex digit → value (255: not a hex digit), for `key_numbers`.
_HEX = np.full(256, 255, dtype=np.uint8)
_HEX[np.frombuffer(b"0123456789abcdef", dtype=np.uint8)] = np.arange(16, dtype=np.uint8)
_HEX[np.frombuffer(b"ABCDEF", dtype=np.uint8)] = np.arange(10, 16, dtype=np.uint8)


def key_numbers(keys: np.ndarray) -> np.ndarray:
    """Fixed-width hex keys (a numpy bytes array, such as the `cluster` column) as uint64
    numbers; 0 for a key that is not all hex digits (none, or blank)."""
    digits = _HEX[np.frombuffer(keys.tobytes(), dtype=np.uint8).reshape(len(keys),
                                                                        keys.dtype.itemsize)]
    numbers = np.zeros(len(keys), dtype=np.uint64)
    for column in digits.T.astype(np.uint64):
        numbers = (numbers << np.uint64(4)) | column
    numbers[(digits == 255).any(axis=1)] = 0
    return numbers


def _story_key(reader, _name: str) -> np.ndarray:
    return key_numbers(_cluster(reader, "cluster"))


def _live(reader, _name: str) -> np.ndarray:
    mask = np.ones(reader.doc_count_all(), dtype=bool)
    mask[raw.deleted(reader)] = False
    return mask


def _length(reader, name: str) -> np.ndarray | None:
    return raw.field_lengths(reader, name.split(":", 1)[1])


#: Column name → loader(segment reader, name). `length:<field>` and `codes:<field>` take the
#: field from the name.
LOADERS: dict[str, Callable[[Any, str], Any]] = {
    "published": _published,
    "cluster": _cluster,
    "story_key": _story_key,  # the cluster id as a number: cursor.py's story order
    "live": _live,
    "length": _length,
    "codes": lambda reader, name: _codes(reader, name.split(":", 1)[1]),
}


@dataclass
class SegmentColumns:
    """The columns of one segment, loaded on first use (through any reader of it)."""

    key: tuple
    size: int
    loaded: dict[str, Any] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def get(self, name: str, reader) -> Any:
        """Column `name` (see LOADERS), loading it through `reader` the first time."""
        found = self.loaded.get(name, _MISSING)
        if found is not _MISSING:
            return found
        with self.lock:
            if name not in self.loaded:
                self.loaded[name] = LOADERS[name.split(":", 1)[0]](reader, name)
            return self.loaded[name]


_MISSING = object()
_lock = threading.Lock()
_segments: OrderedDict[tuple, SegmentColumns] = OrderedDict()


def segment_key(reader) -> tuple:
    """Identify one segment's state: its id and its number of live documents."""
    return (raw.segment_id(reader), reader.doc_count())


def columns_of(reader) -> SegmentColumns:
    """The columns of the segment `reader` reads (shared by all searchers of this process)."""
    key = segment_key(reader)
    with _lock:
        found = _segments.get(key)
        if found is not None:
            _segments.move_to_end(key)
            return found
        found = _segments[key] = SegmentColumns(key, reader.doc_count_all())
        while len(_segments) > KEEP_SEGMENTS:
            _segments.popitem(last=False)
        return found
