"""Highlighted titles and snippets: which words of a stored text a query matched, shown as
escaped text with <mark> around them.

Whoosh can highlight from character offsets stored in the index (it then reads the whole
posting list of every query term) or by re-running the field's analyzer over each hit. This
module tokenises a hit's text with the analyzer's own tokenizer pattern and analyses each
distinct surface word once (cached), which is several times cheaper than either, and lets a
phrase be marked only where the phrase occurs rather than wherever one of its words does.
"""

from __future__ import annotations

import heapq
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from markupsafe import escape
from whoosh.analysis import Token
from whoosh.query import AndNot, Not, Phrase, Query
from whoosh.reading import IndexReader

#: Characters of body text in a snippet, about (fragments are cut at whole words).
SNIPPET_CHARS = 250
#: Characters of plain body text shown when the query matched no body words.
LEAD_CHARS = 250
#: Surface words the highlighter's vocabulary holds before it is replaced by an empty one.
CACHE_WORDS = 100_000


#: A marked word: its start and end in the text, and its indexed form.
Span = tuple[int, int, str]

#: Fragments: at most this many characters from a fragment's first mark to its last, with
#: up to SURROUND characters of context each side; marks past CHARLIMIT are not looked at.
#: (The rules of Whoosh's PinpointFragmenter(maxchars=90, surround=40), its
#: BasicFragmentScorer and top_fragments(…, 3, FIRST), which this module used before and
#: which tests/test_highlight.py keeps as the oracle: three fragments of ~80 characters
#: around the marks, ~250 in all.)
MAXCHARS, SURROUND, CHARLIMIT, FRAGMENTS = 90, 40, 2**15, 3


class _Fragment:
    """A stretch of text around one or more marks. Ordered by where it starts (and equal to
    itself only), so that choosing the best three breaks ties as top_fragments did."""

    __slots__ = ("start", "end", "marks", "score")

    def __init__(self, start: int, end: int, marks: list[Span]):
        self.start, self.end, self.marks = start, end, marks
        # Marks, times a hundred per distinct word marked: favours variety.
        self.score = float(len(marks)) * (len({m[2] for m in marks}) * 100)

    def __lt__(self, other: _Fragment) -> bool:
        return self.start < other.start


def _fragments(text: str, spans: list[Span]) -> list[_Fragment]:
    """Group the marks, in order, into fragments of at most MAXCHARS between a first mark
    and a last no more than SURROUND after the previous one, with SURROUND of context."""
    out, j, size, count = [], -1, len(text), len(spans)
    for i in range(count):
        if j >= i:
            continue
        j = i
        left, right = spans[i][0], spans[i][1]
        if right > CHARLIMIT:
            break
        length = right - left
        while j < count - 1 and length < MAXCHARS:
            start, end = spans[j + 1][0], spans[j + 1][1]
            if end - right > SURROUND or end - left > MAXCHARS:
                break
            j, right, length = j + 1, end, length + end - start
        out.append(_Fragment(max(0, left - SURROUND), min(size, right + SURROUND),
                             spans[i:j + 1]))
    return out


def _best(fragments: list[_Fragment]) -> list[_Fragment]:
    """The FRAGMENTS best-scored fragments, in text order."""
    best = [f for _, f in heapq.nlargest(FRAGMENTS, ((f.score, f) for f in fragments))]
    best.sort(key=lambda f: f.start)
    return best


def _marked_html(text: str, start: int, end: int, marks: list[Span]) -> str:
    """text[start:end] escaped, each mark in <mark>."""
    out, index = [], start
    for mark_start, mark_end, _ in marks:
        if mark_start < index:
            continue
        if mark_start > index:
            out.append(str(escape(text[index:mark_start])))
        out.append("<mark>" + str(escape(text[mark_start:mark_end])) + "</mark>")
        index = mark_end
    out.append(str(escape(text[index:end])))
    return "".join(out)


def _fragment_html(text: str, fragment: _Fragment) -> str:
    """One fragment, its cut ends moved inward to whitespace so that no word is shown in
    part, with '…' where it cuts the text."""
    start, end, marks = fragment.start, fragment.end, fragment.marks
    if 0 < start < len(text) and not text[start - 1].isspace():
        space = text.find(" ", start, marks[0][0])
        if space != -1:
            start = space + 1
    if 0 < end < len(text) and not text[end].isspace():
        space = text.rfind(" ", marks[-1][1], end)  # marks ascend and never overlap
        if space != -1:
            end = space
    out = _marked_html(text, start, end, marks)
    if start > 0:
        out = "… " + out
    if end < len(text):
        out += " …"
    return out


def _joined(parts: list[str]) -> str:
    """Fragments' HTML as one line of text, runs of white space as one space."""
    return " ".join(" ".join(parts).split()).replace("… …", "…")


def snippet_of(text: str, spans: list[Span]) -> str:
    """The best fragments around the marks `spans` (ascending), in text order, up to about
    SNIPPET_CHARS characters ('' when no mark is within CHARLIMIT)."""
    kept, length = [], 0
    for fragment in _best(_fragments(text, spans)):
        size = fragment.end - fragment.start
        if kept and length + size > SNIPPET_CHARS:
            continue
        kept.append(fragment)
        length += size
    return _joined([_fragment_html(text, f) for f in kept])


@dataclass
class QueryWords:
    """The analysed words a query looks for in one field: single terms, and phrases (which
    only count where their words follow one another)."""

    terms: frozenset[str] = frozenset()
    phrases: tuple[tuple[str, ...], ...] = ()

    def __bool__(self) -> bool:
        return bool(self.terms or self.phrases)


def query_words(query: Query, reader: IndexReader, fieldname: str) -> QueryWords:
    """Collect what `query` matches in `fieldname`: terms (wildcards and fuzzy terms expanded
    to the words of the index they stand for) and phrases; words only excluded (NOT) are
    left out."""
    terms: set[str] = set()
    phrases: set[tuple[str, ...]] = set()
    decode = reader.schema[fieldname].from_bytes

    def visit(node: Query) -> None:
        if isinstance(node, Not):
            return
        if isinstance(node, AndNot):
            visit(node.a)
            return
        if isinstance(node, Phrase):
            if node.fieldname == fieldname and node.words:
                if len(node.words) == 1:
                    terms.add(node.words[0])
                else:
                    phrases.add(tuple(node.words))
            return
        if node.is_leaf():
            if node.field() == fieldname:
                for name, text in node.expanded_terms(reader, phrases=False):
                    if name == fieldname:
                        terms.add(decode(text) if isinstance(text, bytes) else text)
            return
        for child in node.children():
            visit(child)

    visit(query)
    return QueryWords(frozenset(terms), tuple(sorted(phrases)))


#: The highlighter's vocabulary: each surface word analysed so far and its indexed form (None
#: for a stop word).
Vocabulary = dict[str, "str | None"]

#: A run of word characters from one outside ASCII: such a word's folded form need not
#: begin with a clue as the text spells it (é folds to e), so its token is always analysed.
_NON_ASCII_WORD = re.compile(r"[^\W\x00-\x7f][\w*]*")
#: Clue finders remembered (one per set of wanted forms: a query's field).
KEEP_FINDERS = 512


@dataclass
class Marker:
    """Finds the words of a field's text that match a query, with the field's analyzer."""

    analyzer: Any
    #: The analyzer's result for one token, computed directly (analysis.analyse_word), or
    #: None to run the analyzer per new word.
    analyse_word: Callable[[str], str | None] | None = None
    #: Strings one of which every lower-cased ASCII word of a given indexed form begins with
    #: (analysis.form_clues), or None: without them every token of a text is analysed
    #: (scan_spans).
    clues: Callable[[str], tuple[str, ...]] | None = None
    pattern: re.Pattern = field(init=False)
    #: Replaced by an empty one when it holds CACHE_WORDS words; a thread reading the old
    #: one goes on with it undisturbed.
    vocabulary: Vocabulary = field(default_factory=dict, init=False)

    def __post_init__(self) -> None:
        self.pattern = self.analyzer.items[0].expression  # the RegexTokenizer's own pattern
        # The same tokens, spelt for match() and findall() (whole words, no capturing
        # group) and speed.
        self.words = re.compile(WORDS_PATTERN)
        self._finders: dict[frozenset[str], re.Pattern] = {}

    def term(self, word: str) -> str | None:
        """The indexed form of one surface word (None for a stop word)."""
        try:
            return self.vocabulary[word]
        except KeyError:
            pass
        return self._learn(self._current(), word)

    def _current(self) -> Vocabulary:
        """The vocabulary to add to (a new one once the current one is full)."""
        vocabulary = self.vocabulary
        if len(vocabulary) >= CACHE_WORDS:
            vocabulary = self.vocabulary = {}
        return vocabulary

    def _learn(self, vocabulary: Vocabulary, word: str) -> str | None:
        """Analyse `word` and remember its form in `vocabulary`."""
        if self.analyse_word is not None:
            result = self.analyse_word(word)
        else:
            analysed = [t.text for t in self.analyzer(word, mode="query")]
            result = analysed[0] if len(analysed) == 1 else None
        vocabulary[word] = result
        return result

    def matches(self, text: str, words: QueryWords) -> list[Token]:
        """Tokens (with character offsets) of the words of `text` that `words` match."""
        return [Token(text=term, startchar=start, endchar=end, boost=1.0)
                for start, end, term in self.spans(text, words)]

    def spans(self, text: str, words: QueryWords) -> list[Span]:
        """(start, end, indexed form) of the words of `text` that `words` match, ascending.

        With clues, a regular-expression search (in C) finds the tokens where a wanted
        form's clue occurs or that hold a word character outside ASCII; only those are analysed
        (each distinct word once, remembered): Python work per likely match, not per word of
        the text. A phrase counts where its words follow one another with nothing but stop
        words between them (the index numbers positions after dropping stop words)."""
        if not words:
            return []
        if self.clues is None or self.pattern.pattern != TOKEN_PATTERN:
            return self.scan_spans(text, words)
        wanted = words.terms.union(*words.phrases)
        spans = self._candidates(text, wanted)
        marked = {i for i, span in enumerate(spans) if span[2] in words.terms}
        for phrase in words.phrases:
            size = len(phrase)
            for i in range(len(spans) - size + 1):
                if spans[i][2] == phrase[0] and all(
                        spans[i + k][2] == phrase[k]
                        and self._only_stop_words(text[spans[i + k - 1][1]:spans[i + k][0]])
                        for k in range(1, size)):
                    marked.update(range(i, i + size))
        return [spans[i] for i in sorted(marked)]

    def _candidates(self, text: str, wanted: frozenset[str]) -> list[Span]:
        """(start, end, form) of every token of `text` whose indexed form is `wanted`, in
        order: the tokens where a clue occurs, and those with a word character outside ASCII,
        analysed. (The clues and the non-ASCII runs are searched for apart: one pattern for
        both is several times slower, as it defeats the regex engine's literal search.)"""
        finder = self._finder(wanted)
        lowered = text.lower()
        if len(lowered) == len(text):
            starts = [m.start() for m in finder.finditer(lowered)]
        else:  # a capital İ: lower case would move the offsets
            starts = [m.start() for m in re.finditer(finder.pattern, text, re.IGNORECASE)]
        if not text.isascii():
            starts += [m.start() for m in _NON_ASCII_WORD.finditer(text)]
            starts.sort()
        vocabulary = self._current()
        token_at, found, end = self.words.match, [], 0
        for start in starts:
            if start < end:  # within the token read last
                continue
            start = _token_start(text, start)
            if start < end:
                continue
            token = token_at(text, start)
            end = token.end()
            word = token.group()
            term = vocabulary[word] if word in vocabulary else self._learn(vocabulary, word)
            if term in wanted:
                found.append((start, end, term))
        return found

    def _finder(self, wanted: frozenset[str]) -> re.Pattern:
        """The pattern of the clues of the `wanted` forms (remembered)."""
        finder = self._finders.get(wanted)
        if finder is None:
            finder = re.compile("|".join(sorted({re.escape(clue) for form in wanted
                                                 for clue in self.clues(form)})))
            if len(self._finders) >= KEEP_FINDERS:
                self._finders.clear()
            self._finders[wanted] = finder
        return finder

    def _only_stop_words(self, gap: str) -> bool:
        """Whether the text between two words holds no indexed word."""
        return all(self.term(word) is None for word in self.words.findall(gap))

    def scan(self, text: str, words: QueryWords) -> list[Token]:
        """matches() by analysing every word of `text` in turn: the reference the fast path
        is tested against."""
        return [Token(text=term, startchar=start, endchar=end, boost=1.0)
                for start, end, term in self.scan_spans(text, words)]

    def scan_spans(self, text: str, words: QueryWords) -> list[Span]:
        """spans() by analysing every word of `text` in turn (the path for a tokenizer other
        than TOKEN_PATTERN)."""
        if not words:
            return []
        found = [(m.start(), m.end(), self.term(m.group())) for m in self.pattern.finditer(text)]
        found = [t for t in found if t[2] is not None]
        marked = {i for i, (_, _, term) in enumerate(found) if term in words.terms}
        for phrase in words.phrases:
            size = len(phrase)
            for i in range(len(found) - size + 1):
                if found[i][2] == phrase[0] and all(
                        found[i + k][2] == phrase[k] for k in range(1, size)):
                    marked.update(range(i, i + size))
        return [found[i] for i in sorted(marked)]

    def title_html(self, text: str, words: QueryWords) -> str:
        """The whole text, escaped, its matched words marked ('' when none matched)."""
        spans = self.spans(text, words)
        return _joined([_marked_html(text, 0, len(text), spans)]) if spans else ""

    def snippet_html(self, text: str, words: QueryWords) -> str:
        """Up to three fragments (~250 characters) around the matched words, escaped and
        marked; the text's opening when nothing matched."""
        spans = self.spans(text, words)
        return (snippet_of(text, spans) or lead_html(text)) if spans else lead_html(text)



def _token_start(text: str, index: int) -> int:
    """Where the token of TOKEN_PATTERN holding the token character at `index` begins."""
    inside = _TOKEN_CHAR.match
    while index:
        if inside(text, index - 1):
            index -= 1
        elif text[index - 1] == "." and index > 1 and inside(text, index - 2):
            index -= 2
        else:
            break
    return index


#: A character TOKEN_PATTERN puts inside a token.
_TOKEN_CHAR = re.compile(r"[\w*]")


#: The tokenizer pattern of the index's analyzers (whoosh.analysis.default_pattern with `*`),
#: whose token boundaries _token_start spells out.
TOKEN_PATTERN = r"[\w\*]+(\.?[\w\*]+)*"
#: The same tokens as TOKEN_PATTERN (greedy `[\w*]+` leaves `\.?` only its dot), a third
#: faster to scan.
WORDS_PATTERN = r"[\w*]+(?:\.[\w*]+)*"


def lead_html(body: str) -> str:
    """Return the body's opening, escaped and cut at a word boundary."""
    if len(body) <= LEAD_CHARS:
        return str(escape(body))
    return str(escape(body[:LEAD_CHARS].rsplit(" ", 1)[0])) + " …"
