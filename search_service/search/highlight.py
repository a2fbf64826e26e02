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
from collections.abc import Callable, Iterator
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
#: Entries (surface words and whitespace chunks) the highlighter's vocabulary holds before it is
#: replaced by an empty one: about 22 MB at the bound (tracemalloc over distinct articles:
#: 20 MB for 91,000 entries), about what the word cache before it held at 200,000 words.
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


@dataclass
class Vocabulary:
    """What the marker has analysed so far: each surface word's indexed form (None for a
    stop word); the whitespace-separated chunks of text seen (a token never spans
    whitespace, so a text's tokens are its chunks' tokens); and for each indexed form the
    chunks holding a word of that form. The chunks of a text that hold a word a query wants
    are then found by set operations in C instead of a Python loop over the text's words."""

    terms: dict[str, str | None] = field(default_factory=dict)
    chunks: set[str] = field(default_factory=set)
    forms: dict[str, set[str]] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.terms) + len(self.chunks)

@dataclass
class Marker:
    """Finds the words of a field's text that match a query, with the field's analyzer."""

    analyzer: Any
    #: The analyzer's result for one token, computed directly (analysis.analyse_word), or
    #: None to run the analyzer per new word.
    analyse_word: Callable[[str], str | None] | None = None
    #: Strings one of which every lower-cased ASCII word of a given indexed form contains
    #: (analysis.form_clues), or None: new chunks of text without any wanted form's clue
    #: are then not analysed at all.
    clues: Callable[[str], tuple[str, ...]] | None = None
    pattern: re.Pattern = field(init=False)
    #: Replaced by an empty one when it holds CACHE_WORDS entries; a thread reading the old
    #: one goes on with it undisturbed.
    vocabulary: Vocabulary = field(default_factory=Vocabulary, init=False)

    def __post_init__(self) -> None:
        self.pattern = self.analyzer.items[0].expression  # the RegexTokenizer's own pattern
        # The same tokens, spelt for findall() (whole words, no capturing group) and speed.
        self.words = re.compile(WORDS_PATTERN)

    def term(self, word: str) -> str | None:
        """The indexed form of one surface word (None for a stop word)."""
        try:
            return self.vocabulary.terms[word]
        except KeyError:
            pass
        return self._learn(self._current(), word)

    def _current(self) -> Vocabulary:
        """The vocabulary to add to (a new one once the current one is full)."""
        vocabulary = self.vocabulary
        if len(vocabulary) >= CACHE_WORDS:
            vocabulary = self.vocabulary = Vocabulary()
        return vocabulary

    def _learn(self, vocabulary: Vocabulary, word: str) -> str | None:
        """Analyse `word` and remember its form in `vocabulary`."""
        if self.analyse_word is not None:
            result = self.analyse_word(word)
        else:
            analysed = [t.text for t in self.analyzer(word, mode="query")]
            result = analysed[0] if len(analysed) == 1 else None
        vocabulary.terms[word] = result
        return result

    def _learn_chunk(self, vocabulary: Vocabulary, chunk: str) -> None:
        """Remember which indexed forms the words of one chunk of text have."""
        terms, forms = vocabulary.terms, vocabulary.forms
        for word in set(self.words.findall(chunk)):
            term = terms[word] if word in terms else self._learn(vocabulary, word)
            if term is not None:
                forms.setdefault(term, set()).add(chunk)
        vocabulary.chunks.add(chunk)

    def matches(self, text: str, words: QueryWords) -> list[Token]:
        """Tokens (with character offsets) of the words of `text` that `words` match."""
        return [Token(text=term, startchar=start, endchar=end, boost=1.0)
                for start, end, term in self.spans(text, words)]

    def spans(self, text: str, words: QueryWords) -> list[Span]:
        """(start, end, indexed form) of the words of `text` that `words` match, ascending.

        The text's chunks (split at whitespace) not seen before are tokenised and their words
        analysed (and remembered); the chunks holding a wanted form are then picked out by
        set intersection: Python work per match, not per word of the text. A phrase counts
        where its words follow one another with nothing but stop words between them (the
        index numbers positions after dropping stop words)."""
        if not words:
            return []
        if self.pattern.pattern != TOKEN_PATTERN:
            return self.scan_spans(text, words)
        wanted = words.terms.union(*words.phrases)
        vocabulary = self._current()
        chunks = set(text.split())
        unseen = chunks.difference(vocabulary.chunks)
        if self.clues is not None and unseen:
            unseen = self._clued(unseen, wanted)
        for chunk in unseen:
            self._learn_chunk(vocabulary, chunk)
        forms, terms = vocabulary.forms, vocabulary.terms
        found = chunks.intersection(set().union(*[forms.get(term, ()) for term in wanted]))
        hit = {word for chunk in found for word in self.words.findall(chunk)
               if terms.get(word) in wanted}
        spans = sorted((start, end, terms[word]) for word in hit
                       for start, end in _whole_tokens(text, word))
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

    def _clued(self, unseen: set[str], wanted: set[str]) -> list[str]:
        """The chunks of `unseen` that may hold a word of a `wanted` form (one of its
        clues is in them): only those are analysed now, the others wait until a query
        needs them. One search in C over the chunks joined, Python work per clue found."""
        clues = re.compile("|".join(sorted({re.escape(clue) for form in wanted
                                            for clue in self.clues(form)})))
        joined = "\n".join(unseen)
        if not joined.isascii():  # lower() may change a length: chunk by chunk
            return [c for c in unseen if not c.isascii() or clues.search(c.lower())]
        lowered = joined.lower()
        found = []
        start = end = -1
        for match in clues.finditer(lowered):
            if match.start() < end:  # in the chunk found last
                continue
            start = lowered.rfind("\n", 0, match.start()) + 1
            end = lowered.find("\n", match.end())
            end = len(lowered) if end < 0 else end
            found.append(joined[start:end])
        return found

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



def _whole_tokens(text: str, word: str) -> Iterator[tuple[int, int]]:
    """Where `word` occurs in `text` as a whole token of TOKEN_PATTERN: not inside a longer
    token, including one joined by a single dot ("U.S")."""
    inside, size, end_of_text = _TOKEN_CHAR.match, len(word), len(text)
    start = text.find(word)
    while start != -1:
        end = start + size
        if not (start and (inside(text, start - 1) or (
                text[start - 1] == "." and start > 1 and inside(text, start - 2)))) and not (
                end < end_of_text and (inside(text, end) or (
                    text[end] == "." and end + 1 < end_of_text and inside(text, end + 1)))):
            yield start, end
        start = text.find(word, start + 1)


#: A character TOKEN_PATTERN puts inside a token.
_TOKEN_CHAR = re.compile(r"[\w*]")


#: The tokenizer pattern of the index's analyzers (whoosh.analysis.default_pattern with `*`),
#: whose token boundaries _whole_tokens spells out.
TOKEN_PATTERN = r"[\w\*]+(\.?[\w\*]+)*"
#: The same tokens as TOKEN_PATTERN (greedy `[\w*]+` leaves `\.?` only its dot), a third
#: faster to scan.
WORDS_PATTERN = r"[\w*]+(?:\.[\w*]+)*"


def lead_html(body: str) -> str:
    """Return the body's opening, escaped and cut at a word boundary."""
    if len(body) <= LEAD_CHARS:
        return str(escape(body))
    return str(escape(body[:LEAD_CHARS].rsplit(" ", 1)[0])) + " …"
