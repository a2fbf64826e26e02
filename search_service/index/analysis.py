"""Text analysis shared by indexing and querying: tokenising, case and accent folding, stems."""

from __future__ import annotations

import unicodedata
from functools import lru_cache

from whoosh.analysis import (
    Filter,
    LowercaseFilter,
    RegexTokenizer,
    StemFilter,
    StopFilter,
)
from whoosh.lang import stemmer_for_language

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


#: The stemmer's language (Snowball's English, as StemFilter picks it for "en").
STEM_LANGUAGE = "en"


def text_analyzer():
    """Analyzer for title and body: words, lower case, accents folded, stop words, English stems."""
    return (RegexTokenizer() | LowercaseFilter() | FoldFilter() | StopFilter()
            | StemFilter(lang=STEM_LANGUAGE, cachesize=50000))


_STOPS = StopFilter().stops
_STEM = lru_cache(maxsize=100_000)(stemmer_for_language(STEM_LANGUAGE))


def analyse_word(word: str) -> str | None:
    """What text_analyzer() makes of one token (a whole match of its tokenizer's pattern): its
    indexed form, or None for a stop word or a one-letter word. The same steps called
    directly, several times cheaper than the analyzer's generator chain per word."""
    text = fold(word)
    if len(text) < 2 or text in _STOPS:
        return None
    return _STEM(text)


def name_analyzer():
    """Analyzer for names (sources, authors): words, lower case, accents folded, no stems."""
    return RegexTokenizer() | LowercaseFilter() | FoldFilter()
