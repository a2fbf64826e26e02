"""The query parser's fast path: plain words and quoted phrases built directly must equal
what Whoosh's parser makes of the same text, and everything else must go to the parser."""

from __future__ import annotations

import random
import re

from search_service.search.parse import _parser, parse_query, plain_query
from tests.support.corpus import stories

HARD = ["oil", "Oil PRICES", "the oil", "the", "a an the", "oil AND gas", "oil OR gas",
        "NOT oil", "oil and gas", "oil or gas", '"oil prices"', '"the oil"', '"oil"',
        '"oil the prices"', "oil-price", "U.S. oil", "café", "1987 results", "O'Neil",
        "title:oil", "oil*", "oil~", "oil^2", "(oil gas)", '"oil prices" gas', "oil  gas ",
        "x", "to", "TO", "ANDMAYBE gas", "Ukraine ukraine", "naïve", "B2B deals"]


def _texts(count: int) -> list[str]:
    """Seeded queries from Reuters titles: 1-4 words in random case, some quoted, some with
    stop words, digits or punctuation."""
    rng = random.Random(5)
    titles = [re.findall(r"\S+", s["title"]) for s in stories()[:6000]]
    titles = [t for t in titles if len(t) >= 4]
    texts = []
    for _ in range(count):
        words = rng.sample(rng.choice(titles), rng.choice((1, 2, 3, 4)))
        words = [rng.choice((str.lower, str.upper, str.title, str))(w) for w in words]
        text = " ".join(words)
        texts.append(f'"{text}"' if rng.random() < 0.25 else text)
    return texts


def test_plain_queries_equal_the_parsers(searcher):
    parser = _parser(searcher.schema)
    fast = 0
    texts = _texts(3000) + HARD
    for text in texts:
        built = plain_query(searcher.schema, text.strip())
        if built is None:
            continue
        fast += 1
        parsed = parser.parse(text.strip())
        assert built == parsed and repr(built) == repr(parsed), text
    assert fast > 0.5 * len(texts)  # the fast path takes the common shapes


def test_other_shapes_go_to_the_parser(searcher):
    for text in ["oil AND gas", "NOT oil", "title:oil", "oil*", "oil~", "oil^2", "(oil gas)",
                 '"oil prices" gas', "oil-price", "U.S. oil", "café", "the", '"oil"',
                 '"the oil"', "1987 results"]:
        assert plain_query(searcher.schema, text) is None, text
    assert repr(parse_query(searcher, "the oil")) == repr(
        _parser(searcher.schema).parse("the oil"))
