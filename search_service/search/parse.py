"""Query text → Whoosh query: the parser (fields, aliases, fuzzy words) and the caps on what
wildcards, term ranges and fuzzy words may expand to."""

from __future__ import annotations

import logging
import re
import threading
from itertools import islice

from whoosh.fields import Schema
from whoosh.qparser import AndGroup, FieldAliasPlugin, FuzzyTermPlugin, MultifieldParser
from whoosh.query import (
    And,
    Every,
    FuzzyTerm,
    NullQuery,
    Or,
    Phrase,
    Prefix,
    Query,
    Term,
    TermRange,
    Wildcard,
)
from whoosh.searching import Searcher

from search_service.search.params import QueryError

log = logging.getLogger(__name__)


MIN_WILDCARD_PREFIX = 3


MAX_WILDCARD_TERMS = 256


#: Fuzzy words (`word~N`): each one walks the term list (from its first letter on, which we
#: impose: from the start, one word took 0.3-0.8 s over 2,500 articles and `opec~9` 26 s),
#: before any time limit can apply.
MAX_FUZZY_EDITS = 2


MAX_FUZZY_WORDS = 4


QUERY_FIELDS = ["title", "body"]


ALIASES = {"authors": ["author", "by"], "source": ["site"]}


def parse_query(searcher: Searcher, text: str) -> Query:
    """Parse Whoosh query syntax over title and body (AND by default); '' means every article."""
    text = (text or "").strip()
    if not text:
        return Every()
    query = plain_query(searcher.schema, text)
    if query is not None:
        return query
    parser = _parser(searcher.schema)
    try:
        query = parser.parse(text)
    except Exception as exc:  # Whoosh raises assorted errors on bad ranges and dates
        raise QueryError(f"cannot parse query {text!r}: {exc}") from exc
    if isinstance(query, type(NullQuery)):
        raise QueryError(
            f"cannot parse query {text!r}: it has no searchable words "
            "(only operators, punctuation or stop words)")
    return cap_wildcards(searcher, query)


#: A word the fast path takes as it is: ASCII letters and digits, starting with a letter.
PLAIN_WORD = re.compile(r"[A-Za-z][A-Za-z0-9]*")
#: Words Whoosh's parser reads as operators (in capitals).
OPERATOR_WORDS = {"AND", "OR", "NOT", "ANDNOT", "ANDMAYBE", "TO"}


def plain_query(schema: Schema, text: str) -> Query | None:
    """The query Whoosh's parser makes of the commonest shapes, built directly (a parse
    costs about 0.5 ms, mostly in the parser's plugins): plain words (AND-ed, each an Or
    of title and body) or one quoted phrase of plain words. None for anything else, which
    goes to the parser; tests/test_parse.py checks that both make equal queries."""
    phrase = len(text) > 2 and text[0] == text[-1] == '"' and text.count('"') == 2
    words = (text[1:-1] if phrase else text).split()
    if not words or any(not PLAIN_WORD.fullmatch(w) or w in OPERATOR_WORDS for w in words):
        return None
    fields = [(name, schema[name]) for name in QUERY_FIELDS]
    analysed = []
    for word in words:
        texts = [list(field.process_text(word, mode="query")) for _, field in fields]
        if any(len(t) > 1 for t in texts) or (phrase and not all(texts)):
            return None
        if not any(texts):
            continue  # a stop word in every field: the parser drops it too
        if not all(texts):
            return None
        analysed.append([t[0] for t in texts])
    if phrase:
        if len(analysed) < 2:
            return None
        return Or([Phrase(name, [a[i] for a in analysed], slop=1)
                   for i, (name, _) in enumerate(fields)])
    unique = dict.fromkeys(tuple(a) for a in analysed)  # the parser drops repeated words
    parts = [Or([Term(name, a[i]) for i, (name, _) in enumerate(fields)]) for a in unique]
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else And(parts)


_parsers = threading.local()


def _parser(schema: Schema) -> MultifieldParser:
    """The query parser for `schema`, made once per thread (building one costs a quarter of
    a parse; a parser is not documented as safe to share between threads)."""
    found = getattr(_parsers, "found", None)
    if found is None or found[0] is not schema:
        parser = MultifieldParser(QUERY_FIELDS, schema, group=AndGroup)
        parser.add_plugin(FieldAliasPlugin(ALIASES))
        parser.add_plugin(FuzzyTermPlugin())
        found = _parsers.found = (schema, parser)
    return found[1]


def cap_wildcards(searcher: Searcher, query: Query) -> Query:
    """Refuse wildcards with fewer than 3 leading characters; cap what the rest (and term
    ranges) expand to; make `*` every article. Refuse fuzzy words of more than
    MAX_FUZZY_EDITS edits, and more than MAX_FUZZY_WORDS of them (their expansion runs
    before the time limit applies)."""
    fuzzy: set[str] = set()

    def visit(node: Query) -> Query:
        if isinstance(node, FuzzyTerm):
            if node.maxdist > MAX_FUZZY_EDITS:
                raise QueryError(f"fuzzy words allow at most {MAX_FUZZY_EDITS} edits: "
                                 f"{node.text!r}~{node.maxdist:g}")
            fuzzy.add(node.text)
            if len(fuzzy) > MAX_FUZZY_WORDS:
                raise QueryError(f"too many fuzzy words (at most {MAX_FUZZY_WORDS} word~ "
                                 "in a query)")
            # At least the first letter as typed (a 30x shorter walk), at most the whole word
            # (`0~/2`: Whoosh's automaton reads past the end of a shorter word).
            prefix = min(max(node.prefixlength, 1), len(node.text))
            if prefix != node.prefixlength:
                node = node.copy()
                node.prefixlength = prefix
            return node
        if isinstance(node, Every) and node.fieldname:
            return Every(boost=node.boost)  # `*`: every article (per field: every posting)
        if isinstance(node, TermRange):  # `title:[a TO]` can span every term of a field
            return _capped(searcher, node, "term range")
        if isinstance(node, (Wildcard, Prefix)):
            text = node.text
            fixed = re.split(r"[*?]", text, maxsplit=1)[0] if isinstance(node, Wildcard) else text
            if len(fixed) < MIN_WILDCARD_PREFIX:
                shown = text + ("*" if isinstance(node, Prefix) else "")
                raise QueryError(f"wildcards need at least {MIN_WILDCARD_PREFIX} leading "
                                 f"characters: {shown!r}")
            return _capped(searcher, node, "wildcard")
        return node.apply(visit)
    return visit(query)


def _capped(searcher: Searcher, node: Query, kind: str) -> Query:
    """`node` (a query that expands to indexed terms), or an Or of its first
    MAX_WILDCARD_TERMS terms when it expands to more."""
    terms = [text for _, text in islice(node.expanded_terms(searcher.reader()),
                                        MAX_WILDCARD_TERMS + 1)]
    if len(terms) <= MAX_WILDCARD_TERMS:
        return node
    log.info("%s %r capped at %d terms", kind, node, MAX_WILDCARD_TERMS)
    return Or([Term(node.fieldname, t) for t in terms[:MAX_WILDCARD_TERMS]], boost=node.boost)
