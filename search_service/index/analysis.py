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

_STOPS = StopFilter().stops
_STEM = lru_cache(maxsize=100_000)(stemmer_for_language(STEM_LANGUAGE))


class TextFilter(Filter):
    """Lower case, fold accents, drop stop words and one-letter words (renumbering positions),
    stem in English: the tokens `LowercaseFilter() | FoldFilter() | StopFilter() |
    StemFilter(lang="en")` give, in one pass. Four generators a token, and Whoosh's stem
    cache written in Python, cost about a sixth of an index build; indexes written with that
    chain keep it in their schema and read the same."""

    def __init__(self) -> None:
        self.stops = _STOPS
        self.min = 2

    def __call__(self, tokens):
        stops, minsize, stem = self.stops, self.min, _STEM
        pos = None
        for t in tokens:
            text = fold(t.text.lower())
            if len(text) >= minsize and text not in stops:
                if t.positions:  # as StopFilter(renumber=True)
                    if pos is None:
                        pos = t.pos
                    else:
                        pos += 1
                        t.pos = pos
                t.stopped = False
                t.text = stem(text)
                yield t
            elif not t.removestops:
                t.text = text
                t.stopped = True
                yield t


def text_analyzer():
    """Analyzer for title and body: words, lower case, accents folded, stop words, English stems."""
    return RegexTokenizer() | TextFilter()


def chained_text_analyzer():
    """The filter chain text_analyzer() replaced (indexes built before 2026-12-02 hold it)."""
    return (RegexTokenizer() | LowercaseFilter() | FoldFilter() | StopFilter()
            | StemFilter(lang=STEM_LANGUAGE, cachesize=50000))


def analyse_word(word: str) -> str | None:
    """What text_analyzer() makes of one token (a whole match of its tokenizer's pattern): its
    indexed form, or None for a stop word or a one-letter word. The same steps called
    directly, several times cheaper than the analyzer's generator chain per word."""
    text = fold(word)
    if len(text) < 2 or text in _STOPS:
        return None
    return _STEM(text)


#: Stems of English Snowball that do not begin with their word less its last letter, and
#: the other beginning their words have (Porter2's exceptional forms: dying, lying, tying).
_IRREGULAR_STEMS = {"die": "dy", "lie": "ly", "tie": "ty"}


def form_clues(form: str) -> tuple[str, ...]:
    """Strings one of which every folded surface word whose analyse_word() is `form`
    contains: the form less its last letter (an English Snowball stem keeps its word's
    beginning and changes at most its last letter: hoping → hope, happy → happi, skies →
    sky), and for the three irregular stems the other beginning (died, dying → die).
    Checked over the distinct words of the Reuters stories (tests/test_highlight.py), it
    lets the highlighter skip analysing text that cannot hold a query's words."""
    irregular = _IRREGULAR_STEMS.get(form)
    return (form[:-1], irregular) if irregular else (form[:-1],)


def name_analyzer():
    """Analyzer for names (sources, authors): words, lower case, accents folded, no stems."""
    return RegexTokenizer() | LowercaseFilter() | FoldFilter()
