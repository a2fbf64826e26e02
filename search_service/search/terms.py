"""Significant terms: the words and two-word phrases unusually frequent in the stories a
request matches, compared with the whole index.

The statistic is JLH, Elasticsearch's default for `significant_terms`: with `fg` the share
of matching stories that contain a term and `bg` the share of background stories that do,

    score = (fg - bg) * (fg / bg)

which rewards terms both much more common than usual (the ratio) and common in absolute
terms (the difference). Only terms in at least MIN_MATCHES foreground stories and more
common there than in the background are kept.

Foreground: every matching story (near-duplicates once, matches.py), or a seeded random
sample of SAMPLE of them when there are more. Background: a fixed pseudo-random sample of
BACKGROUND stories of the whole index, chosen by a hash of each document's segment and
number so that it barely changes from commit to commit; a term absent from it counts as
half a story (so `bg` is never 0). Both sides are read the same way: the stored title and
body, folded to lower-case ASCII, cut into words; a word is a term unless it is a stop word
of the story's language (Whoosh's lists, English when the language has none), shorter than
3 characters or not starting with a letter; a phrase is two terms side by side with no
punctuation or other word between them. Words of the query itself are left out, and so are
the words its expansion searched beside them (`canadian` for `canada`, expand.py). Each
document's terms are remembered (a bounded cache), so repeated work is mostly reading stored
fields.
"""

from __future__ import annotations

import re
import threading
import zlib
from collections import Counter, OrderedDict
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import Any

import numpy as np
from whoosh.lang import NoStopWords, stopwords_for_language
from whoosh.searching import Searcher

from search_service.index.analysis import fold, text_analyzer
from search_service.search.matches import Columns, columns_of, match, stories
from search_service.search.params import QueryError, SearchParams
from search_service.search.postings import segment_id

#: Matching stories read at most (a seeded sample beyond): reading and cutting a story into
#: terms costs about 0.3 ms, the bulk of a terms request.
SAMPLE = 200
#: Background stories.
BACKGROUND = 2000
#: A term must occur in at least this many foreground stories (fewer when the foreground is
#: small: see `min_matches`).
MIN_MATCHES = 3
#: The seed of the foreground sample (the same request gives the same terms).
SEED = 18
#: Terms listed at most.
MAX_LIMIT = 100
#: Documents whose terms are remembered.
KEEP_DOCS = 50_000

#: Words and single punctuation marks (which break phrases).
TOKENS = re.compile(r"\w+|[^\w\s]")


@dataclass(frozen=True)
class DocTerms:
    """The distinct words and two-word phrases of one document."""

    words: frozenset[str]
    phrases: frozenset[str]


def terms(searcher: Searcher, params: SearchParams, limit: int = 20) -> dict[str, Any]:
    """The `limit` most significant words and phrases of the request's matches (JLH)."""
    if not 1 <= limit <= MAX_LIMIT:
        raise QueryError(f"limit must be between 1 and {MAX_LIMIT}")
    columns = columns_of(searcher)
    matched = match(searcher, params)
    docs = stories(columns, matched)
    total = len(docs)
    if total > SAMPLE:
        docs = np.sort(np.random.default_rng(SEED).choice(docs, SAMPLE, replace=False))
    fg_words, fg_phrases = _count(searcher, docs)
    bg_size, bg_words, bg_phrases = background(searcher, columns)
    excluded = query_stems(" ".join([params.q, *(added for e in matched.expanded
                                                 for added in e["added"])]))
    stem = _stemmer()
    floor = min_matches(len(docs))
    scored = []
    for counts, background_counts in ((fg_words, bg_words), (fg_phrases, bg_phrases)):
        for term, n in [(t, n) for t, n in counts.items() if n >= floor]:
            fg = n / len(docs)
            bg_n = background_counts.get(term, 0)
            bg = max(bg_n, 0.5) / bg_size
            if fg <= bg or any(stem(w) in excluded for w in term.split(" ")):
                continue
            scored.append((round((fg - bg) * fg / bg, 4), term, n, bg_n))
    scored.sort(key=lambda row: (-row[0], row[1]))
    return {"query": params.q, "statistic": "JLH", "matches": total, "sampled": len(docs),
            "background": bg_size,
            "terms": [{"term": term, "score": score, "matches": n, "background": bg_n}
                      for score, term, n, bg_n in scored[:limit]]}


def min_matches(sampled: int) -> int:
    """Foreground stories a term needs: MIN_MATCHES, or 2 for fewer than 30 stories."""
    return MIN_MATCHES if sampled >= 30 else 2


def query_stems(text: str) -> frozenset[str]:
    """The stems of the query's words (its own words are never 'significant')."""
    return frozenset(token.text for token in text_analyzer()(text or ""))


def _stemmer():
    """The stemmer of the text analyzer (English), remembering the stems of 100,000 words."""
    return _stem


@lru_cache(maxsize=100_000)
def _stem(word: str) -> str:
    """The English stem of a word."""
    return _english()(word)


@cache
def _english():
    """Whoosh's English stemmer (the one the text analyzer uses)."""
    from whoosh.lang import stemmer_for_language
    return stemmer_for_language("en")


@cache
def stop_words(language: str) -> frozenset[str]:
    """The folded stop words of a language (English when there is no list for it)."""
    try:
        words = stopwords_for_language(language or "en")
    except (NoStopWords, KeyError):
        words = stopwords_for_language("en")
    return frozenset(fold(w) for w in words)


def doc_terms(title: str, body: str, language: str) -> DocTerms:
    """Cut one story into its distinct terms and two-word phrases."""
    stops = stop_words((language or "en")[:2].lower())
    tokens = TOKENS.findall(fold(f"{title}\n.\n{body}"))
    kept = [t if len(t) > 2 and t[0].isalpha() and t not in stops else None for t in tokens]
    words = frozenset(kept)
    return DocTerms(words - {None}, frozenset(f"{a} {b}" for a, b in
                                              zip(kept, kept[1:], strict=False) if a and b))


_lock = threading.Lock()
_docs: OrderedDict[tuple[str, int], DocTerms] = OrderedDict()
_backgrounds: dict[int, tuple[Columns, int, Counter, Counter]] = {}


def _count(searcher: Searcher, docs: np.ndarray) -> tuple[Counter, Counter]:
    """In how many of `docs` each word and each phrase occurs."""
    words: Counter = Counter()
    phrases: Counter = Counter()
    for found in _doc_terms(searcher, docs):
        words.update(found.words)
        phrases.update(found.phrases)
    return words, phrases


def _doc_terms(searcher: Searcher, docs: np.ndarray) -> list[DocTerms]:
    """The terms of each document (from the cache, or read from its stored fields)."""
    leaves = searcher.leaf_searchers()
    offsets = np.array([offset for _, offset in leaves], dtype=np.int64)
    ids = [segment_id(sub.reader()) for sub, _ in leaves]
    out = []
    for docnum in docs.tolist():
        leaf = int(np.searchsorted(offsets, docnum, side="right")) - 1
        key = (ids[leaf], docnum - int(offsets[leaf]))
        with _lock:
            found = _docs.get(key)
        if found is None:
            fields = searcher.stored_fields(docnum)
            found = doc_terms(fields.get("title", ""), fields.get("body", ""),
                              fields.get("language", ""))
            if key[0]:
                with _lock:
                    _docs[key] = found
                    while len(_docs) > KEEP_DOCS:
                        _docs.popitem(last=False)
        out.append(found)
    return out


def background(searcher: Searcher, columns: Columns) -> tuple[int, Counter, Counter]:
    """The background sample's size and its story counts per word and per phrase
    (computed once per commit)."""
    with _lock:
        found = _backgrounds.get(id(columns))
        if found is not None and found[0] is columns:
            return found[1:]
    docs = background_docs(searcher, columns)
    words, phrases = _count(searcher, docs)
    size = max(len(docs), 1)
    with _lock:
        _backgrounds.clear()  # only the newest commit's background is kept
        _backgrounds[id(columns)] = (columns, size, words, phrases)
    return size, words, phrases


def background_docs(searcher: Searcher, columns: Columns, size: int = BACKGROUND
                    ) -> np.ndarray:
    """A stable pseudo-random sample of `size` stories of the index: those whose hash of
    (segment, document number) is smallest, so that a commit adding a segment changes few."""
    every = stories(columns, match(searcher, SearchParams(), text=False))
    if len(every) <= size:
        return every
    priority = np.zeros(len(columns.live), dtype=np.uint64)
    for sub, offset in searcher.leaf_searchers():
        count = sub.reader().doc_count_all()
        seed = np.uint64(zlib.crc32(segment_id(sub.reader()).encode()))
        local = np.arange(count, dtype=np.uint64)
        priority[offset:offset + count] = _mix(local * np.uint64(2654435761) + seed)
    chosen = every[np.argpartition(priority[every], size)[:size]]
    return np.sort(chosen)


def _mix(values: np.ndarray) -> np.ndarray:
    """Scramble 64-bit integers (splitmix64's finaliser)."""
    with np.errstate(over="ignore"):
        values = (values ^ (values >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        values = (values ^ (values >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return values ^ (values >> np.uint64(31))


def forget() -> None:
    """Empty the cache of per-document terms (for benchmarks)."""
    with _lock:
        _docs.clear()
