"""Query expansion: a country's name and its people's adjective searched together (`canada`
also finds `Canadian`, `dutch` also `Netherlands`), and pseudo-relevance feedback (RM3-style:
words of the best matching stories added with small weights), an option.

Both take a parsed Whoosh query and return another one built only of what the vectorised
executor evaluates (Term, Or, AndMaybe with boosts), plus what was added, for the search
answer. The country names and adjectives come from the vendored `data/countries.csv`
(world-countries, ODbL 1.0; `data/countries.md` says where from). docs/ranking.md says what
each buys on the relevance benchmark.
"""

from __future__ import annotations

import csv
import logging
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from whoosh import query as wq
from whoosh.searching import Searcher

from search_service.index.analysis import text_analyzer

log = logging.getLogger(__name__)

#: The vendored country list: ISO code, common English name, demonyms (masculine, feminine).
COUNTRIES_CSV = Path(__file__).resolve().parents[1] / "data" / "countries.csv"

#: Fields whose words are expanded (the fields unfielded words search).
EXPANDED_FIELDS = ("title", "body")

#: A variant's boost relative to the word typed: chosen on the tuning halves of
#: benchmarks/relevance.py (docs/ranking.md).
VARIANT_BOOST = 0.5

#: Pseudo-relevance feedback: stories read, words added, the largest added word's boost, and
#: words in more than this share of the stories are never added (`said`, `pct`, `mln`).
FEEDBACK_DOCS = 10
FEEDBACK_TERMS = 10
FEEDBACK_BOOST = 0.2
FEEDBACK_MAX_DF = 0.1


@dataclass(frozen=True)
class Expansion:
    """One word of the query and the words searched beside it."""

    word: str  # the word as indexed (stemmed: `france` is `franc`)
    added: tuple[str, ...]  # as the data source spells them, lower case

    def as_dict(self) -> dict:
        """The expansion as plain data for the search answer."""
        return {"word": self.word, "added": list(self.added)}


@lru_cache(maxsize=4)
def place_variants(path: Path = COUNTRIES_CSV) -> dict[str, dict[str, str]]:
    """Indexed form of a one-word country name or demonym → {indexed form: spelling} of the
    other one-word names and demonyms of the same country (names of several words, such as
    `South Korean`, are left out)."""
    analyzer = text_analyzer()
    variants: dict[str, dict[str, str]] = {}
    with open(path, newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            names = [row["name"], *row["demonym_m"].split(","), *row["demonym_f"].split(",")]
            group: dict[str, str] = {}
            for name in names:
                tokens = [t.text for t in analyzer(name.strip())]
                if len(tokens) == 1 and len(name.split()) == 1:
                    group.setdefault(tokens[0], name.strip().lower())
            for form in group:
                variants.setdefault(form, {}).update(
                    {other: spelling for other, spelling in group.items() if other != form})
    return {form: others for form, others in variants.items() if others}


def expand_places(searcher: Searcher, query: wq.Query, boost: float = VARIANT_BOOST,
                  variants: dict[str, dict[str, str]] | None = None
                  ) -> tuple[wq.Query, list[Expansion]]:
    """`query` with each title or body word that is a country's name or demonym OR-ed with
    the country's other names and demonyms found in the index, boosted by `boost` × the
    word's own boost, in the same field; and what was added. Words under NOT stay as typed."""
    variants = place_variants() if variants is None else variants
    reader = searcher.reader()
    added: dict[str, dict[str, None]] = {}

    def visit(node: wq.Query) -> wq.Query:
        if type(node) is wq.Not:
            return node
        if type(node) is wq.Term and node.fieldname in EXPANDED_FIELDS:
            found = [(form, spelling) for form, spelling in
                     sorted(variants.get(node.text, {}).items())
                     if reader.doc_frequency(node.fieldname, form)]
            if not found:
                return node
            added.setdefault(node.text, {}).update(dict.fromkeys(s for _, s in found))
            return wq.Or([node] + [wq.Term(node.fieldname, form, boost=node.boost * boost)
                                   for form, _ in found])
        return node.apply(visit)

    expanded = visit(query)
    expansions = [Expansion(word, tuple(spellings)) for word, spellings in added.items()]
    if expansions:
        log.debug("expanded %r: %s", query, expansions)
    return expanded, expansions


def feedback(searcher: Searcher, query: wq.Query, docs: int = FEEDBACK_DOCS,
             terms: int = FEEDBACK_TERMS, boost: float = FEEDBACK_BOOST,
             max_df: float = FEEDBACK_MAX_DF) -> tuple[wq.Query, list[str]]:
    """RM3-style pseudo-relevance feedback: run `query`, read the bodies of its `docs` best
    stories, and add the `terms` words most likely under their relevance model (each story's
    word frequencies weighted by its share of the stories' scores), in title and body, each
    boosted by `boost` × its probability / the largest one. The added words only re-rank:
    the answer is AndMaybe(query, added), which matches what `query` matches. Returns the
    query and the words added (indexed forms); `query` alone when nothing matches."""
    from search_service.search.executor import match  # the executor imports this module's peers
    ids, scores, _ = match(searcher, query)
    if not len(ids):
        return query, []
    top = np.argsort(-scores, kind="stable")[:docs]
    weights = scores[top] / scores[top].sum() if scores[top].sum() > 0 else \
        np.full(len(top), 1 / len(top))
    analyzer = text_analyzer()
    model: Counter[str] = Counter()
    for docnum, weight in zip(ids[top], weights, strict=True):
        words = Counter(t.text for t in analyzer(searcher.stored_fields(int(docnum))
                                                 .get("body") or ""))
        length = sum(words.values()) or 1
        for word, count in words.items():
            model[word] += weight * count / length
    typed = {text for _, text in query.iter_all_terms()}
    reader, total = searcher.reader(), max(searcher.doc_count(), 1)
    chosen = []
    for word, probability in model.most_common():
        if len(chosen) == terms:
            break
        if word in typed or word.isdigit() or \
                reader.doc_frequency("body", word) > max_df * total:
            continue
        chosen.append((word, probability))
    if not chosen:
        return query, []
    largest = chosen[0][1]
    extra = wq.Or([wq.Term(field, word, boost=boost * probability / largest)
                   for word, probability in chosen for field in EXPANDED_FIELDS])
    return wq.AndMaybe(query, extra), [word for word, _ in chosen]


def expand_query(searcher: Searcher, query: wq.Query, places: bool = True,
                 feedback_words: bool = False) -> tuple[wq.Query, dict]:
    """`query` with the expansions asked for (`places`: expand_places; `feedback_words`:
    feedback after it), and what they added: {"expanded": [{"word", "added"}, …]} and, with
    feedback, {"feedback": [word, …]}. A query for every article stays as it is."""
    info: dict = {"expanded": []}
    if isinstance(query, wq.Every):
        return query, info | ({"feedback": []} if feedback_words else {})
    if places:
        query, expansions = expand_places(searcher, query)
        info["expanded"] = [e.as_dict() for e in expansions]
    if feedback_words:
        query, info["feedback"] = feedback(searcher, query)
    return query, info
