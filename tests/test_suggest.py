"""Spelling suggestions: the closest indexed terms against a brute-force oracle built on
Whoosh's own edit distance, and the per-segment word lists' life cycle."""

from __future__ import annotations

import random
import re
import string

from whoosh.query import Term
from whoosh.support.levenshtein import damerau_levenshtein

from search_service.index.analysis import fold
from search_service.index.schema import open_index
from search_service.search import suggest as spelling
from search_service.search.engine import search
from search_service.search.rank import weighting


def _oracle(searcher, text: str, limit: int) -> list[str]:
    """Every body term scanned in Python: within 2 edits, same first letter, fewest edits,
    then most frequent, then alphabetical."""
    found = []
    for term in searcher.reader().lexicon("body"):
        word = term.decode("utf-8")
        if word != text and word[:1] == text[:1]:
            edits = damerau_levenshtein(text, word)
            if edits <= 2:
                found.append((edits, -searcher.frequency("body", word), word))
    return [word for _, _, word in sorted(found)[:limit]]


def _misspelt(rng: random.Random, word: str) -> str:
    """`word` with one or two random edits after its first letter."""
    for _ in range(rng.choice((1, 2))):
        i = rng.randrange(1, len(word))
        kind = rng.choice(("sub", "del", "ins", "swap"))
        letter = rng.choice(string.ascii_lowercase)
        if kind == "sub":
            word = word[:i] + letter + word[i + 1:]
        elif kind == "del" and len(word) > 3:
            word = word[:i] + word[i + 1:]
        elif kind == "ins":
            word = word[:i] + letter + word[i:]
        elif i + 1 < len(word):
            word = word[:i] + word[i + 1] + word[i] + word[i + 2:]
    return word


def test_closest_terms_equal_a_scan_of_every_term(sample_index):
    ix = open_index(sample_index)
    with ix.searcher(weighting=weighting()) as searcher:
        terms = [t.decode() for t in searcher.reader().lexicon("body")]
        rng = random.Random(11)
        words = [w for w in rng.sample([t for t in terms if t.isalpha() and len(t) >= 4], 150)]
        known = set(terms)
        asked = 0
        for word in words:
            wrong = _misspelt(rng, word)
            if wrong in known:
                continue
            asked += 1
            assert spelling.closest_terms(searcher, "body", wrong, limit=3) == _oracle(
                searcher, wrong, 3), wrong
        assert asked >= 120
        # the word itself is never its own suggestion, and fewer edits beat frequency
        assert "ukrain" not in spelling.closest_terms(searcher, "body", "ukrain", limit=5)


def test_the_surface_word_is_that_of_whooshs_first_hit(sample_index):
    """surface_word (the word a suggestion shows for a stem) reads the article the executor
    ranks first for the stem alone: the word it finds is the one Whoosh's own top hit and
    the full analyzer give, for 200 stems of the sample."""
    ix = open_index(sample_index)
    with ix.searcher(weighting=weighting()) as searcher:
        analyzer = searcher.schema["body"].analyzer
        stems = [t.decode() for t in searcher.reader().lexicon("body") if t.isalpha()]
        found = 0
        for stem in random.Random(5).sample(stems, 200):
            hits = searcher.search(Term("body", stem), limit=1)
            expected = next((w for w in dict.fromkeys(re.findall(r"[^\W\d_]+",
                                                                  fold(hits[0]["body"])))
                             if [t.text for t in analyzer(w)] == [stem]), None)
            assert spelling.surface_word(searcher, stem) == expected, stem
            found += expected is not None
        assert found > 150


def test_fewest_edits_come_before_the_most_frequent_word(searcher):
    # "ukrane" is one edit from "ukrain" and two from more frequent words
    assert spelling.closest_terms(searcher, "body", "ukran", limit=1) == ["ukrain"]
    assert search(searcher, q="ukrane")["suggestion"] == "ukraine"


def test_word_lists_of_merged_segments_are_dropped(index_dir):
    ix = open_index(index_dir)
    writer = ix.writer()
    writer.add_document(id="extra", title="Ukulele", body="An ukulele festival")
    writer.commit(merge=False)  # a second segment
    lists = spelling.WordLists()
    with ix.searcher() as searcher:
        leaves = [leaf for leaf, _ in searcher.reader().leaf_readers()]
        assert len(leaves) >= 2
        for leaf in leaves:
            assert lists.get(leaf, "body", "u") == sorted(
                t.decode() for t in leaf.expand_prefix("body", "u"))
    before = set(lists.lists)
    assert before
    writer = ix.writer()
    writer.commit(optimize=True)
    with ix.searcher() as searcher:
        live = {leaf.segment().segment_id() for leaf, _ in searcher.reader().leaf_readers()}
    dropped = lists.drop_segments(live)
    assert dropped == len([key for key in before if key[0] not in live]) >= 2
    assert all(key[0] in live for key in lists.lists)
