"""Text analysis shared by indexing and querying: tokenising, case and accent folding, stems."""

from __future__ import annotations

import unicodedata

from whoosh.analysis import (
    Filter,
    LowercaseFilter,
    RegexTokenizer,
    StemFilter,
    StopFilter,
)

#: Letters that Unicode decomposition does not reduce to ASCII.
SPECIAL_FOLDS = str.maketrans({
    "ß": "ss", "ẞ": "ss", "æ": "ae", "Æ": "ae", "œ": "oe", "Œ": "oe", "ø": "o", "Ø": "o",
    "đ": "d", "Đ": "d", "ł": "l", "Ł": "l", "þ": "th", "Þ": "th", "ð": "d", "ı": "i",
})


def fold(text: str) -> str:
    """Fold accents and special letters to ASCII-ish lower case ('Zürich' → 'zurich')."""
    if text.isascii():
        return text.lower()
    text = unicodedata.normalize("NFKD", text.translate(SPECIAL_FOLDS))
    return "".join(c for c in text if not unicodedata.combining(c)).lower()


class FoldFilter(Filter):
    """Fold accents and special letters of every token, for every language."""

    def __call__(self, tokens):
        for token in tokens:
            token.text = fold(token.text)
            yield token


def text_analyzer():
    """Analyzer for title and body: words, lower case, accents folded, stop words, English stems."""
    return (RegexTokenizer() | LowercaseFilter() | FoldFilter() | StopFilter()
            | StemFilter(lang="en", cachesize=50000))


def name_analyzer():
    """Analyzer for names (sources, authors): words, lower case, accents folded, no stems."""
    return RegexTokenizer() | LowercaseFilter() | FoldFilter()
