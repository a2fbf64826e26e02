"""A term's postings in one segment as numpy arrays (document numbers and term frequencies),
read a block at a time.

Whoosh's matchers hand out one posting per Python call (about 0.8 µs each); its posting
blocks hold up to 128 postings as a pickled tuple of delta-encoded ids and weights, so reading
whole blocks and decoding them with numpy costs a few µs per block instead. This is the one
module that reads Whoosh's private posting-block attributes (`W3LeafMatcher._read_data`,
`_data`, `_next_block`); any other matcher is read through the public API.

Decoded arrays are kept in a bounded cache keyed by segment, field and term (segments never
change once written; deletions are masked by the caller).
"""

from __future__ import annotations

import threading
from collections import OrderedDict

import numpy as np
from whoosh.codec.whoosh3 import W3LeafMatcher
from whoosh.matching import FilterMatcher
from whoosh.reading import IndexReader

#: Decoded postings kept (terms x segments); a 100k-article index has about 15 segments.
KEEP_POSTINGS = 4096

_lock = threading.Lock()
_cache: OrderedDict[tuple, tuple[np.ndarray, np.ndarray]] = OrderedDict()

EMPTY = (np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32))


def segment_id(reader: IndexReader) -> str:
    """Identify a segment reader (its segment id; '' for readers without one)."""
    segment = reader.segment() if hasattr(reader, "segment") else None
    return segment.segment_id() if segment else ""


def term_postings(reader: IndexReader, field: str, text: str | bytes
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Return the segment-local document numbers holding `field:text` (deleted ones included)
    and the term's frequency in each, as int64 and float32 arrays."""
    btext = text if isinstance(text, bytes) else text.encode("utf-8")
    if (field, btext) not in reader:
        return EMPTY
    key = (segment_id(reader), field, btext)
    with _lock:
        found = _cache.get(key)
        if found is not None:
            _cache.move_to_end(key)
            return found
    found = _decode(reader.postings(field, btext))
    if key[0]:
        with _lock:
            _cache[key] = found
            while len(_cache) > KEEP_POSTINGS:
                _cache.popitem(last=False)
    return found


def _decode(matcher) -> tuple[np.ndarray, np.ndarray]:
    """Read every posting of a leaf matcher into arrays."""
    if isinstance(matcher, FilterMatcher):  # the reader's deletion filter: masked later
        matcher = matcher.child
    if not isinstance(matcher, W3LeafMatcher):
        ids, weights = [], []
        while matcher.is_active():
            ids.append(matcher.id())
            weights.append(matcher.weight())
            matcher.next()
        return np.array(ids, dtype=np.int64), np.array(weights, dtype=np.float32)
    id_blocks, weight_blocks = [], []
    while matcher.is_active():
        matcher._read_data()
        raw_ids, raw_weights = matcher._data[0], matcher._data[1]
        ids = np.array(raw_ids, dtype=np.int64)
        id_blocks.append(ids if matcher._byteids else np.cumsum(ids))
        if raw_weights is None:
            weight_blocks.append(np.ones(len(ids), dtype=np.float32))
        elif isinstance(raw_weights, float):
            weight_blocks.append(np.full(len(ids), raw_weights, dtype=np.float32))
        else:
            weight_blocks.append(np.array(raw_weights, dtype=np.float32))
        matcher._next_block()
    if not id_blocks:
        return EMPTY
    return np.concatenate(id_blocks), np.concatenate(weight_blocks)


def forget() -> None:
    """Empty the cache of decoded postings (for benchmarks)."""
    with _lock:
        _cache.clear()
