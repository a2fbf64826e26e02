"""Query help: warnings about operators typed in lower case (or as a leading minus), and an
explanation in plain words of how a query was read: which words in which fields, what
wildcards and fuzzy words expand to, what the place expansion adds (expand.py), which words
were left out, and the filters."""

from __future__ import annotations

import re
from itertools import islice
from typing import Any

from whoosh.query import (
    And,
    AndMaybe,
    AndNot,
    ConstantScoreQuery,
    DateRange,
    Every,
    FuzzyTerm,
    Not,
    NumericRange,
    Or,
    Phrase,
    Prefix,
    Query,
    Term,
    TermRange,
    Wildcard,
)
from whoosh.searching import Searcher
from whoosh.util.times import long_to_datetime

from search_service.index.analysis import text_analyzer
from search_service.search.expand import VARIANT_BOOST, expand_query
from search_service.search.params import SearchParams
from search_service.search.parse import parse_query

#: Operators Whoosh reads only in capitals.
OPERATORS = ("and", "or", "not")
#: Expanded terms listed per wildcard or fuzzy word.
SHOWN_TERMS = 8
#: Plain names of the fields a query can name.
FIELD_NAMES = {"title": "the title", "body": "the text", "source": "the site name",
               "source_key": "the site", "host": "the site's host", "authors": "the authors",
               "language": "the language", "published": "the publication date",
               "collection": "the collection", "url": "the URL", "id": "the id"}
_TOKEN = re.compile(r'"[^"]*"?|\S+')


def query_warnings(text: str) -> list[dict[str, str]]:
    """Warn about `and`/`or`/`not` in lower case between words (searched as words, not
    operators) and about a leading minus (not an operator); each warning carries the query
    as probably meant."""
    tokens = _TOKEN.findall(text or "")
    fixed = list(tokens)
    warnings: list[dict[str, str]] = []
    for i, token in enumerate(tokens):
        between = 0 < i < len(tokens) - 1 and _is_word(tokens[i - 1]) and _is_word(
            tokens[i + 1])
        if token in OPERATORS and between:
            fixed[i] = token.upper()
            warnings.append({"message": f'"{token}" in lower case is searched as a word (and '
                                        f"dropped as too common), not as an operator: did "
                                        f"you mean {token.upper()}?"})
        elif re.fullmatch(r"-\w[\w:]*", token) and i > 0:
            fixed[i] = "NOT " + token[1:]
            warnings.append({"message": f'a leading minus is not an operator here: "{token}" '
                                        f"finds {token[1:]!r}; did you mean NOT {token[1:]}?"})
    suggestion = " ".join(fixed)
    for warning in warnings:
        warning["query"] = suggestion
    return warnings


def _is_word(token: str) -> bool:
    """Tell whether a query token is a search word (not an operator or a bracket alone)."""
    return token not in ("AND", "OR", "NOT", "ANDNOT", "ANDMAYBE", "(", ")") and (
        token.lower() not in OPERATORS)


def explain(searcher: Searcher, params: SearchParams) -> dict[str, Any]:
    """Say in plain words how the query of `params` is read (as the search runs it: with the
    words its expansion adds, listed as the search answer lists them), and what filters
    apply."""
    typed = parse_query(searcher, params.q)
    query, info = expand_query(searcher, typed, params.expand)
    added = {e["word"]: e["added"] for e in info["expanded"]}
    reader = searcher.reader()
    notes = [f'"{word}" is left out: too common to search' for word in _dropped(params.q)]
    if len(params.q.split()) > 1 and isinstance(typed, And):
        notes.append("words not joined by OR must all be found (AND is the default)")
    for word, forms in added.items():
        also = " and ".join(f'"{form}"' for form in forms)
        notes.append(f'"{word}" also finds {also}, weighted {VARIANT_BOOST:g}: a country\'s '
                     f"other name or its people's word (expand=0 searches it only as typed)")
    if params.feedback:
        notes.append("words of the best stories then rank the matches (feedback=1: the "
                     "answer's feedback lists them)")
    return {
        "parsed": str(query),
        "reading": describe(typed, reader, added),
        "notes": notes,
        "filters": filters(params),
        "expanded": info["expanded"],
    }


def describe(node: Query, reader, added: dict[str, list[str]] | None = None) -> str:
    """One query node in plain words (with the words `added` beside each expanded word)."""
    if isinstance(node, Every):
        return "every article"
    if isinstance(node, (And, Or)):
        parts = _merged(node.subqueries, reader, added)
        if len(parts) == 1:
            return parts[0]
        joined = "; ".join(parts)
        return f"all of ({joined})" if isinstance(node, And) else f"any of ({joined})"
    if isinstance(node, AndNot):
        return f"{describe(node.a, reader, added)}, but not {describe(node.b, reader)}"
    if isinstance(node, AndMaybe):
        return (f"{describe(node.a, reader, added)}, ranked higher with "
                f"{describe(node.b, reader, added)}")
    if isinstance(node, Not):  # words under NOT are never expanded
        return f"not {describe(node.query, reader)}"
    if isinstance(node, ConstantScoreQuery):
        return describe(node.child, reader, added)
    return _leaf(node, [getattr(node, "fieldname", "") or ""], reader, added)


def _merged(children: list[Query], reader, added: dict[str, list[str]] | None) -> list[str]:
    """Describe children, merging the same word searched in several fields."""
    groups: dict[Any, list[Query]] = {}
    order: list[Any] = []
    for child in children:
        key = _leaf_key(child)
        if key is None:
            key = ("node", id(child))
        if key not in groups:
            groups[key] = []
            order.append(key)
        groups[key].append(child)
    out = []
    for key in order:
        members = groups[key]
        if key[0] == "node":
            out.append(describe(members[0], reader, added))
        else:
            out.append(_leaf(members[0], [m.fieldname for m in members], reader, added))
    return out


def _leaf_key(node: Query) -> tuple | None:
    """What a leaf searches, its field aside (None for a node with children)."""
    if isinstance(node, Phrase):
        return ("phrase", tuple(node.words), node.slop)
    if isinstance(node, FuzzyTerm):
        return ("fuzzy", node.text, node.maxdist)
    if isinstance(node, (Prefix, Wildcard)):
        return (type(node).__name__, node.text)
    if isinstance(node, Term):
        return ("term", node.text)
    return None


def _leaf(node: Query, fields: list[str], reader,
          added: dict[str, list[str]] | None = None) -> str:
    """A leaf (word, phrase, wildcard, fuzzy word, range) and where it is searched (a word
    with the words its expansion adds)."""
    where = " or ".join(FIELD_NAMES.get(f, f) for f in fields if f)
    where = f" in {where}" if where else ""
    if isinstance(node, Phrase):
        return f'the phrase "{" ".join(node.words)}"{where}'
    if isinstance(node, FuzzyTerm):
        return (f'words within {node.maxdist} edit{"s" if node.maxdist != 1 else ""} of '
                f'"{node.text}"{where}{_expansions(node, reader)}')
    if isinstance(node, Prefix):
        return f'words starting with "{node.text}"{where}{_expansions(node, reader)}'
    if isinstance(node, Wildcard):
        return f'words matching "{node.text}"{where}{_expansions(node, reader)}'
    if isinstance(node, Term):
        text = node.text.decode() if isinstance(node.text, bytes) else str(node.text)
        stemmed = " (or another form of it)" if fields and set(fields) <= {"title", "body"} \
            else ""
        also = "".join(f' or "{form}"' for form in (added or {}).get(text, ()))
        return f'the word "{text}"{stemmed}{also}{where}'
    if isinstance(node, (NumericRange, TermRange, DateRange)):
        return f"{FIELD_NAMES.get(node.fieldname, node.fieldname)} {_range(node)}"
    return str(node)


def _expansions(node: Query, reader) -> str:
    """The indexed words a wildcard or fuzzy word stands for (the first few, and how many)."""
    try:
        terms = [text for _, text in islice(node.expanded_terms(reader), 257)]
    except Exception:  # a field absent from the index
        return ""
    if not terms:
        return " (no indexed word matches)"
    shown = ", ".join(t.decode("utf-8", "replace") if isinstance(t, bytes) else str(t)
                      for t in terms[:SHOWN_TERMS])
    more = f" and {len(terms) - SHOWN_TERMS}{'+' if len(terms) > 256 else ''} more" \
        if len(terms) > SHOWN_TERMS else ""
    return f": {shown}{more}"


def _range(node: Query) -> str:
    """A range in words ('from 2020-01-01 to any time')."""
    start, end = node.start, node.end
    if isinstance(node, NumericRange) and node.fieldname == "published":
        start = long_to_datetime(start).isoformat() if start is not None else None
        end = long_to_datetime(end).isoformat() if end is not None else None
    return f"from {start if start is not None else 'the start'} to " \
           f"{end if end is not None else 'the end'}"


def _dropped(text: str) -> list[str]:
    """The plain words of a query that the text analyzer drops (stop words)."""
    analyzer = text_analyzer()
    dropped = []
    for token in _TOKEN.findall(text or ""):
        if token in ("AND", "OR", "NOT") or ":" in token or not re.fullmatch(r"[A-Za-z]+",
                                                                             token):
            continue
        if not list(analyzer(token)) and token not in dropped:
            dropped.append(token)
    return dropped


def filters(params: SearchParams) -> list[str]:
    """The filters of a request in plain words."""
    out = []
    if params.date_from or params.date_to:
        out.append("published " + " ".join(filter(None, [
            f"from {params.date_from.isoformat()}" if params.date_from else "",
            f"up to {params.date_to.isoformat()}" if params.date_to else ""])))
    if params.sources:
        out.append("from the site " + " or ".join(f'"{s}"' for s in params.sources))
    if params.lang:
        out.append(f'in language "{params.lang.lower()}"')
    if params.collections:
        out.append("in the collection " + " or ".join(f'"{c}"' for c in params.collections))
    return out
