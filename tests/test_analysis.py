"""Analysis: the one-pass TextFilter gives exactly the tokens of the filter chain it replaced."""

from __future__ import annotations

import pytest
from whoosh.analysis import RegexTokenizer

from search_service.index.analysis import (
    analyse_word,
    chained_text_analyzer,
    text_analyzer,
)
from tests.support.corpus import stories

ACCENTED = ("Zürcher Kantonalbank: Zinsen in Zürich steigen. Die Straße nach Köln, L'Élysée "
            "annonce une réforme; le marché de Noël. ΟΔΟΣ Ἀθῆναι İstanbul ÆSIR œuvre Łódź "
            "þing ẞ a I x 42 3.5% U.S. don't re-election ΚΑΛΗΜΕΡΑ naïve café façade")


def tokens(analyzer, text: str, **options) -> list[tuple]:
    """Everything a token carries that the index or a query reads."""
    return [(t.text, t.pos, t.startchar, t.endchar, t.stopped, t.boost)
            for t in analyzer(text, positions=True, chars=True, **options)]


@pytest.mark.parametrize("options", [
    {}, {"mode": "index"}, {"mode": "query"}, {"removestops": False}, {"start_pos": 7},
])
def test_text_filter_gives_the_chain_s_tokens(options):
    texts = [ACCENTED] + [s["title"] + "\n" + s["body"] for s in stories()[:3000]]
    new, old = text_analyzer(), chained_text_analyzer()
    for text in texts:
        assert tokens(new, text, **options) == tokens(old, text, **options), text[:80]


def test_analyse_word_agrees_with_the_analyzer():
    analyzer = text_analyzer()
    words = [t.text for t in RegexTokenizer()(ACCENTED)]
    assert len(words) > 40
    for word in words:
        found = [t.text for t in analyzer(word, mode="query")]
        assert analyse_word(word) == (found[0] if found else None), word
