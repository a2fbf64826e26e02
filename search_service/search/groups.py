"""Near-duplicate groups at search time: which documents share their `cluster` key with
another, so that a search can collapse copies and count distinct stories exactly without
reading the key of every match.

Most articles are alone in their cluster; only the members of groups of two or more are kept
(global document number → key). Each segment's keys are read once (segments never change;
deletions are part of the cache key) and the groups are recomputed per set of segments, that
is once per index commit.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass

from whoosh.searching import Searcher

from search_service.search.columns import segment_key

#: Sets of segments (commits) whose groups are remembered.
KEEP_COMMITS = 4
#: Segments whose keys are remembered.
KEEP_SEGMENTS = 64


@dataclass(frozen=True)
class Groups:
    """Members of near-duplicate groups of two or more, and the size of each group."""

    members: dict[int, bytes]
    sizes: Counter

    def collapsed(self, docnums) -> Counter:
        """Count, per group key, the given documents that belong to a group."""
        members = self.members
        return Counter(members[d] for d in docnums if d in members)

    @property
    def hidden(self) -> int:
        """Documents of the whole index that collapse into another one."""
        return hidden(self.sizes)


def hidden(counts: Counter) -> int:
    """Documents that collapse into another one, given how many fall in each group."""
    return sum(n - 1 for n in counts.values())


_lock = threading.Lock()
_segment_keys: dict[tuple[str, int], list[bytes | None]] = {}
_groups: dict[tuple, Groups] = {}


def groups_of(searcher: Searcher) -> Groups:
    """Return the near-duplicate groups of the index as `searcher` sees it."""
    leaves = searcher.leaf_searchers()
    signature = tuple(segment_key(s.reader()) for s, _ in leaves)
    with _lock:
        found = _groups.get(signature)
    if found is not None:
        return found
    keyed: list[tuple[int, bytes]] = []
    for sub, offset in leaves:
        for docnum, key in enumerate(_keys(sub)):
            if key is not None:
                keyed.append((offset + docnum, key))
    sizes = Counter(key for _, key in keyed)
    members = {docnum: key for docnum, key in keyed if sizes[key] > 1}
    found = Groups(members, Counter({k: n for k, n in sizes.items() if n > 1}))
    with _lock:
        if len(_groups) >= KEEP_COMMITS:
            _groups.pop(next(iter(_groups)))
        _groups[signature] = found
    return found


def _keys(sub: Searcher) -> list[bytes | None]:
    """The cluster key of each document of one segment (None for deleted documents)."""
    reader = sub.reader()
    cache_key = segment_key(reader)
    with _lock:
        keys = _segment_keys.get(cache_key)
    if keys is not None:
        return keys
    if reader.has_column("cluster"):
        column = reader.column_reader("cluster", translate=False)
        keys = [None if reader.is_deleted(d) else column[d]
                for d in range(reader.doc_count_all())]
    else:
        keys = [None] * reader.doc_count_all()
    with _lock:
        if len(_segment_keys) >= KEEP_SEGMENTS:
            _segment_keys.pop(next(iter(_segment_keys)))
        _segment_keys[cache_key] = keys
    return keys
