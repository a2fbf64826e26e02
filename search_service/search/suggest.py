"""Spelling suggestions ("did you mean") for words the index lacks."""

from __future__ import annotations

import re

from whoosh.query import (
    Term,
)
from whoosh.searching import Searcher

from search_service.index.analysis import fold
from search_service.search.parse import QUERY_FIELDS

WORD = re.compile(r"(?<![:\w])([^\W\d_]{3,})(?![\w:*?~])")


OPERATORS = {"AND", "OR", "NOT", "TO"}


def suggest(searcher: Searcher, q: str) -> str | None:
    """Return the query with words the index lacks replaced by the closest indexed words.

    The body's terms are stems, so a correction is found among stems ("ukran" → "ukrain")
    and shown as a word that an article containing the corrected stem actually uses.
    """
    analyzer = searcher.schema["body"].analyzer
    corrector = searcher.corrector("body")
    changed = False

    def replace(match: re.Match) -> str:
        nonlocal changed
        word = match.group(1)
        stems = [t.text for t in analyzer(word)]
        if word in OPERATORS or len(stems) != 1 or any(
                searcher.doc_frequency(f, stems[0]) for f in QUERY_FIELDS):
            return word
        # prefix=1: keep the first letter, as most misspellings do (about 8x faster here)
        options = corrector.suggest(stems[0], limit=1, maxdist=2, prefix=1)
        surface = surface_word(searcher, options[0]) if options else None
        if not surface:
            return word
        changed = True
        return surface

    corrected = WORD.sub(replace, q)
    return corrected if changed else None


def surface_word(searcher: Searcher, stem: str) -> str | None:
    """Return a word of an indexed article whose stem is `stem`."""
    analyzer = searcher.schema["body"].analyzer
    hits = searcher.search(Term("body", stem), limit=1)
    if not len(hits):
        return None
    for word in dict.fromkeys(re.findall(r"[^\W\d_]+", fold(hits[0]["body"]))):
        if [t.text for t in analyzer(word)] == [stem]:
            return word
    return None
