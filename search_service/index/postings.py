"""A term's postings in one segment as numpy arrays (document numbers and term frequencies),
read a block at a time (through `whoosh_compat.block_postings`, the one home of Whoosh's
private posting-block API), and kept in a bounded cache keyed by segment, field and term
(segments never change once written; deletions are masked by the caller).

Whoosh's matchers hand out one posting per Python call (about 0.8 µs each); reading whole
blocks costs several times less, and a cached term costs nothing the next time.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

import numpy as np
from whoosh.reading import IndexReader

from search_service.index import whoosh_compat

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
    found = whoosh_compat.block_postings(reader, field, reader.term_info(field, btext))
    if found is None:  # not a W3 segment reader: posting by posting, public API
        matcher = reader.postings(field, btext)
        ids, weights = [], []
        while matcher.is_active():
            ids.append(matcher.id())
            weights.append(matcher.weight())
            matcher.next()
        found = np.array(ids, dtype=np.int64), np.array(weights, dtype=np.float32)
    if key[0]:
        with _lock:
            _cache[key] = found
            while len(_cache) > KEEP_POSTINGS:
                _cache.popitem(last=False)
    return found


def forget() -> None:
    """Empty the cache of decoded postings (for benchmarks)."""
    with _lock:
        _cache.clear()
