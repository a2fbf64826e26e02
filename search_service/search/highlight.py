"""Highlighted titles and snippets: which words of a stored text a query matched, shown as
escaped text with <mark> around them.

Whoosh can highlight from character offsets stored in the index (it then reads the whole
posting list of every query term) or by re-running the field's analyzer over each hit. This
module tokenises a hit's text with the analyzer's own tokenizer pattern and analyses each
distinct surface word once (cached), which is several times cheaper than either, and lets a
phrase be marked only where the phrase occurs rather than wherever one of its words does.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from markupsafe import escape
from whoosh import highlight
from whoosh.analysis import Token
from whoosh.query import AndNot, Not, Phrase, Query
from whoosh.reading import IndexReader

from search_service.index.whoosh_compat import TextFormatter

#: Characters of body text in a snippet, about (fragments are cut at whole words).
SNIPPET_CHARS = 250
#: Characters of plain body text shown when the query matched no body words.
LEAD_CHARS = 250
#: Distinct surface words whose analysed form is remembered (the cache is emptied when full).
CACHE_WORDS = 200_000


class MarkFormatter(TextFormatter):
    """Escape all page text, wrap matched words in <mark>, mark cut ends with '…'."""

    between = " … "

    def format_text(self, text: str) -> str:
        return str(escape(text))

    def format_token(self, text: str, token, replace: bool = False) -> str:
        return "<mark>" + str(escape(highlight.get_text(text, token, replace))) + "</mark>"

    def format_fragment(self, fragment, replace: bool = False) -> str:
        trim_to_words(fragment)
        out = super().format_fragment(fragment, replace)
        if fragment.startchar > 0:
            out = "… " + out
        if fragment.endchar < len(fragment.text):
            out += " …"
        return out

    def format(self, fragments, replace: bool = False) -> str:
        kept, length = [], 0
        for fragment in fragments:  # the best fragments, in text order, up to ~250 characters
            size = fragment.endchar - fragment.startchar
            if kept and length + size > SNIPPET_CHARS:
                continue
            kept.append(fragment)
            length += size
        out = " ".join(self.format_fragment(f, replace) for f in kept)
        return " ".join(out.split()).replace("… …", "…")


def trim_to_words(fragment) -> None:
    """Move a fragment's cut ends inward to whitespace so that no word is shown in part."""
    text, start, end = fragment.text, fragment.startchar, fragment.endchar
    spans = [t for t in fragment.matches if t.startchar is not None]
    first = min((t.startchar for t in spans), default=end)
    last = max((t.endchar for t in spans), default=start)
    if 0 < start < len(text) and not text[start - 1].isspace():
        space = text.find(" ", start, first)
        if space != -1:
            fragment.startchar = space + 1
    if 0 < end < len(text) and not text[end].isspace():
        space = text.rfind(" ", last, end)
        if space != -1:
            fragment.endchar = space


FORMATTER = MarkFormatter()
# Three fragments of ~80 characters around the matches: ~250 in all.
FRAGMENTER = highlight.PinpointFragmenter(maxchars=90, surround=40)
SCORER = highlight.BasicFragmentScorer()


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
    pattern: re.Pattern = field(init=False)
    #: Replaced by an empty one when it holds CACHE_WORDS words; a thread reading the old
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
        """Tokens (with character offsets) of the words of `text` that `words` match.

        The text's chunks (split at whitespace) not seen before are tokenised and their words
        analysed (and remembered); the chunks holding a wanted form are then picked out by
        set intersection: Python work per match, not per word of the text. A phrase counts
        where its words follow one another with nothing but stop words between them (the
        index numbers positions after dropping stop words)."""
        if not words:
            return []
        if self.pattern.pattern != TOKEN_PATTERN:
            return self.scan(text, words)
        wanted = words.terms.union(*words.phrases)
        vocabulary = self._current()
        chunks = set(text.split())
        for chunk in chunks.difference(vocabulary.chunks):
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
        return [Token(text=spans[i][2], startchar=spans[i][0], endchar=spans[i][1], boost=1.0)
                for i in sorted(marked)]

    def _only_stop_words(self, gap: str) -> bool:
        """Whether the text between two words holds no indexed word."""
        return all(self.term(word) is None for word in self.words.findall(gap))

    def scan(self, text: str, words: QueryWords) -> list[Token]:
        """matches() by analysing every word of `text` in turn: the reference the fast path
        is tested against, and the path for a tokenizer other than TOKEN_PATTERN."""
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
        return [Token(text=found[i][2], startchar=found[i][0], endchar=found[i][1], boost=1.0)
                for i in sorted(marked)]

    def title_html(self, text: str, words: QueryWords) -> str:
        """The whole text, escaped, its matched words marked ('' when none matched)."""
        tokens = self.matches(text, words)
        if not tokens:
            return ""
        return FORMATTER.format([highlight.Fragment(text, tokens, 0, len(text))])

    def snippet_html(self, text: str, words: QueryWords) -> str:
        """Up to three fragments (~250 characters) around the matched words, escaped and
        marked; the text's opening when nothing matched."""
        tokens = self.matches(text, words)
        if not tokens:
            return lead_html(text)
        fragments = highlight.top_fragments(FRAGMENTER.fragment_matches(text, tokens), 3,
                                            SCORER, highlight.FIRST)
        return FORMATTER.format(fragments) or lead_html(text)



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
