"""Spelling suggestions ("did you mean") for words the index lacks: the query-level rewrite,
and the per-segment word lists the closest indexed words are found in.

Whoosh's own corrector walks the terms of a first letter through a merge of every segment's
term list in Python and computes each distance in Python: 50-135 ms for one unknown word over
19k Reuters stories. Here each segment's terms of a first letter are read once into a list
(segments never change) and the distances are computed by rapidfuzz's C++ kernels.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict

import numpy as np
from rapidfuzz import process
from rapidfuzz.distance import OSA
from whoosh.query import Term
from whoosh.searching import Searcher

from search_service.index.analysis import analyse_word, fold
from search_service.index.whoosh_compat import stored_fields
from search_service.search import executor
from search_service.search.parse import QUERY_FIELDS
from search_service.search.postings import segment_id

WORD = re.compile(r"(?<![:\w])([^\W\d_]{3,})(?![\w:*?~])")


OPERATORS = {"AND", "OR", "NOT", "TO"}

#: Edits allowed between a word and its suggestion (optimal string alignment: insertions,
#: deletions, substitutions and swaps of neighbours, as Whoosh's damerau_levenshtein).
MAX_EDITS = 2
#: Letters a suggestion shares with the word at its start (most misspellings keep the first).
PREFIX = 1
#: (segment, field, prefix) word lists kept per process: a few letters of a few segments are
#: asked in practice; each list holds at most the segment's terms of one first letter.
MAX_LISTS = 512


def suggest(searcher: Searcher, q: str) -> str | None:
    """Return the query with words the index lacks replaced by the closest indexed words.

    The body's terms are stems, so a correction is found among stems ("ukran" → "ukrain")
    and shown as a word that an article containing the corrected stem actually uses.
    """
    analyzer = searcher.schema["body"].analyzer
    changed = False

    def replace(match: re.Match) -> str:
        nonlocal changed
        word = match.group(1)
        stems = [t.text for t in analyzer(word)]
        if word in OPERATORS or len(stems) != 1 or any(
                searcher.doc_frequency(f, stems[0]) for f in QUERY_FIELDS):
            return word
        found = closest_terms(searcher, "body", stems[0], limit=1)
        surface = surface_word(searcher, found[0]) if found else None
        if not surface:
            return word
        changed = True
        return surface

    corrected = WORD.sub(replace, q)
    return corrected if changed else None


def closest_terms(searcher: Searcher, fieldname: str, text: str, limit: int = 1,
                  max_edits: int = MAX_EDITS, prefix: int = PREFIX) -> list[str]:
    """Indexed terms of `fieldname` within `max_edits` of `text` that share its first
    `prefix` letters, fewest edits first, then the most frequent, then alphabetical."""
    start = text[:prefix]
    edits: dict[str, int] = {}
    for leaf, _ in searcher.reader().leaf_readers():
        words = _LISTS.get(leaf, fieldname, start)
        for word, distance, _ in process.extract(text, words, scorer=OSA.distance,
                                                 score_cutoff=max_edits, limit=None):
            if word != text:
                edits[word] = distance
    ranked: list[str] = []
    for distance in sorted(set(edits.values())):  # frequencies only of the fewest edits
        ranked += sorted((word for word, n in edits.items() if n == distance),
                         key=lambda word: (-searcher.frequency(fieldname, word), word))
        if len(ranked) >= limit:
            break
    return ranked[:limit]


class WordLists:
    """A process's per-segment lists of the terms of a field that begin with a prefix,
    least recently used dropped first past MAX_LISTS (a segment's terms never change)."""

    def __init__(self, bound: int = MAX_LISTS):
        self.bound = bound
        self.lists: OrderedDict[tuple[str, str, str], list[str]] = OrderedDict()
        self.lock = threading.Lock()

    def get(self, leaf, fieldname: str, start: str) -> list[str]:
        """The terms of `fieldname` in `leaf`'s segment that begin with `start`."""
        key = (segment_id(leaf), fieldname, start)
        with self.lock:
            words = self.lists.get(key)
            if words is not None:
                self.lists.move_to_end(key)
                return words
        field = leaf.schema[fieldname]
        words = [field.from_bytes(b) for b in leaf.expand_prefix(fieldname, start)]
        if key[0]:  # a reader of no segment (an empty index) is not kept
            with self.lock:
                self.lists[key] = words
                while len(self.lists) > self.bound:
                    self.lists.popitem(last=False)
        return words

    def drop_segments(self, live: set[str]) -> int:
        """Drop the lists of segments not in `live` (merged away); return how many."""
        with self.lock:
            dead = [key for key in self.lists if key[0] not in live]
            for key in dead:
                del self.lists[key]
        return len(dead)


_LISTS = WordLists()


def drop_segments(live: set[str]) -> int:
    """Forget the word lists of segments merged away."""
    return _LISTS.drop_segments(live)


def surface_word(searcher: Searcher, stem: str) -> str | None:
    """Return a word of an indexed article whose stem is `stem`: of the article the stem
    alone ranks first (found by the executor, or by Whoosh for what it cannot evaluate)."""
    try:
        ids, scores, _ = executor.match(searcher, Term("body", stem))
        docnum = int(ids[np.argmax(scores)]) if len(ids) else None  # ties: the first
        body = stored_fields(searcher, docnum)["body"] if docnum is not None else None
    except executor.Unsupported:
        hits = searcher.search(Term("body", stem), limit=1)
        body = hits[0]["body"] if hits.scored_length() else None
    if body is None:
        return None
    for word in dict.fromkeys(re.findall(r"[^\W\d_]+", fold(body))):
        if analyse_word(word) == stem:
            return word
    return None
