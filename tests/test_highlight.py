"""Highlighting: which words are marked, phrases only as phrases, everything escaped."""

import random
import re

import markupsafe
import pytest
from whoosh import highlight as whoosh_highlight

from search_service.article import Article
from search_service.index.analysis import analyse_word, fold, form_clues, text_analyzer
from search_service.index.schema import open_index
from search_service.index.writer import write_articles
from search_service.search import highlight
from search_service.search.engine import MARKER
from search_service.search.highlight import (
    WORDS_PATTERN,
    Marker,
    QueryWords,
    lead_html,
    query_words,
)
from search_service.search.parse import parse_query
from tests.support.corpus import stories

WORDS = re.compile(WORDS_PATTERN)
TEXT = ("Oil prices rose in Zürich; the price of oil fell as oil prices eased & "
        "<b>refiners</b> refined more, said the refinery's owner.")


@pytest.fixture(scope="module")
def reader_searcher(tmp_path_factory):
    ix = open_index(tmp_path_factory.mktemp("hl"), create=True)
    write_articles(ix, [Article(url="https://h.example/1", canonical_url="https://h.example/1",
                                title="Oil prices", body=TEXT)])
    with ix.searcher() as searcher:
        yield searcher


def marked(searcher, q: str, text: str = TEXT) -> list[str]:
    words = query_words(parse_query(searcher, q), searcher.reader(), "body")
    html = MARKER.title_html(text, words)
    return re.findall(r"<mark>(.*?)</mark>", html)


@pytest.mark.parametrize(("q", "expected"), [
    ('"oil prices"', ["Oil", "prices", "oil", "prices"]),  # not the lone "oil" between them
    ("oil", ["Oil", "oil", "oil"]),
    ("prices", ["prices", "price", "prices"]),  # stems
    ("zurich", ["Zürich"]),  # accents folded
    ("oil NOT fell", ["Oil", "oil", "oil"]),
    ("fell AND NOT oil", ["fell"]),
    ("refin*", ["refiners", "refined", "refinery"]),  # wildcard expanded to indexed words
    ("refinr~", ["refiners", "refined"]),  # fuzzy: stems within one edit of "refinr"
    ('"price of oil"', ["price", "oil"]),  # a stop word inside a phrase
    ("title:eased", []),  # a title-only query marks nothing in the body
])
def test_marked_words(reader_searcher, q, expected):
    assert marked(reader_searcher, q) == expected


def test_marks_wrap_escaped_text_only(reader_searcher):
    words = query_words(parse_query(reader_searcher, "refiners"), reader_searcher.reader(),
                        "body")
    html = MARKER.title_html(TEXT, words)
    assert "&amp; &lt;b&gt;<mark>refiners</mark>&lt;/b&gt;" in html
    assert "<b>" not in html


def test_snippet_is_fragments_around_matches_or_the_opening(reader_searcher):
    body = ("Filler words go here. " * 20) + "The central bank raised rates. " + (
        "More filler text follows. " * 20)
    words = query_words(parse_query(reader_searcher, "bank"), reader_searcher.reader(), "body")
    snippet = MARKER.snippet_html(body, words)
    assert snippet.startswith("… ") and snippet.endswith(" …")
    assert "The central <mark>bank</mark> raised rates." in snippet
    assert len(re.sub(r"</?mark>", "", snippet)) <= 260
    nothing = query_words(parse_query(reader_searcher, "title:oil"), reader_searcher.reader(),
                          "body")
    assert MARKER.snippet_html(body, nothing) == lead_html(body)
    assert lead_html(body).endswith(" …") and len(lead_html(body)) <= 252


HARD_TEXT = ("U.S. rates, a.b.c and rates..rates; *rates* rates.Then x.rates rate_s RATES Rates' "
             "rating e.g. Zürich's ZÜRICH straße Strasse naïve NAIVE ﬁnance İstanbul 1.5 rates.")


def test_word_analysis_shortcut_equals_the_analyzer():
    """analyse_word (what the highlighter calls per new word) gives what the analyzer gives,
    for every word of the Reuters stories and for hard cases (accents, ligatures, dots)."""
    analyzer = text_analyzer()
    words = set(WORDS.findall(HARD_TEXT))
    for story in stories()[:4000]:
        words.update(WORDS.findall(story["title"] + " " + story["body"]))
    assert len(words) > 20_000
    differ = []
    for word in words:
        tokens = [t.text for t in analyzer(word, mode="query")]
        if analyse_word(word) != (tokens[0] if len(tokens) == 1 else None):
            differ.append(word)
    assert differ == []


def test_every_word_contains_the_clue_of_its_form():
    """analysis.form_clues: every (lower-cased, folded) word that analyses to a form begins
    with one of the strings the highlighter looks for before analysing a token, over the
    corpus and the irregular stems."""
    words = {fold(w) for s in stories()[:6000] for w in WORDS.findall(s["title"] + " " + s["body"])}
    words |= {"die", "died", "dying", "lie", "lying", "tied", "tying", "skies", "hoping", "happy",
              "generously", "relational"}
    checked = 0
    for word in words:
        form = analyse_word(word)
        if form is not None:
            assert any(word.startswith(clue) for clue in form_clues(form)), (word, form)
            checked += 1
    assert checked > 15_000


def test_marks_with_clues_equal_a_scan_with_the_analyzer():
    """Analysing only the tokens a clue points at (and those with letters outside ASCII)
    marks exactly what analysing every token with the analyzer marks, text after text, over
    titles and bodies and the hard cases (dots, accents, ligatures, a capital İ whose lower
    case is longer)."""
    clued, oracle = Marker(text_analyzer(), analyse_word, form_clues), Marker(text_analyzer())
    rng = random.Random(11)
    texts = [s["title"] + ". " + s["body"] for s in stories()[2000:3500]] + [HARD_TEXT]
    marked = 0
    for text in texts:
        indexed = [t for t in map(analyse_word, WORDS.findall(text)) if t is not None]
        if len(indexed) < 4:
            continue
        start = rng.randrange(len(indexed) - 2)
        other = analyse_word(rng.choice(WORDS.findall(rng.choice(texts)))) or "oil"
        words = QueryWords(frozenset([rng.choice(indexed), other, "die", "zurich"]),
                           (tuple(indexed[start:start + 2]),))
        got = clued.spans(text, words)
        assert got == oracle.scan_spans(text, words), (text[:80], words)
        marked += bool(got)
    assert marked > 1000
    hard = QueryWords(frozenset(analyse_word(w) for w in WORDS.findall(HARD_TEXT)) - {None})
    assert clued.spans(HARD_TEXT, hard) == oracle.scan_spans(HARD_TEXT, hard)
    assert len(clued.spans(HARD_TEXT, hard)) == len(
        [w for w in WORDS.findall(HARD_TEXT) if analyse_word(w) is not None])
    # Only what a clue pointed at was analysed: far fewer words than the scan's.
    assert len(clued.vocabulary) < len(oracle.vocabulary) / 2


def test_marks_equal_a_scan_of_every_token():
    """The fast path (distinct words analysed once, matches found by search) marks exactly
    the tokens that a scan of every token with the analyzer marks, for terms and phrases."""
    marker = Marker(text_analyzer(), analyse_word, form_clues)  # as the engine's
    oracle = Marker(text_analyzer())  # no shortcut: the analyzer is the oracle here
    rng = random.Random(7)
    texts = [s["body"] for s in stories()[:1500]] + [HARD_TEXT]
    phrases_seen = 0
    for text in texts:
        indexed = [t for t in map(oracle.term, WORDS.findall(text)) if t is not None]
        if len(indexed) < 4:
            continue
        start = rng.randrange(len(indexed) - 2)
        phrases = (tuple(indexed[start:start + rng.choice((2, 3))]),
                   (indexed[0], rng.choice(indexed)))  # the second rarely occurs as a phrase
        terms = frozenset(rng.sample(indexed, 2) + ["rate", "zurich"])
        for words in (QueryWords(terms), QueryWords(frozenset(), phrases),
                      QueryWords(terms, phrases[:1])):
            fast = [(t.startchar, t.endchar, t.text) for t in marker.matches(text, words)]
            slow = [(t.startchar, t.endchar, t.text) for t in oracle.scan(text, words)]
            assert fast == slow, (text[:80], words)
            phrases_seen += bool(words.phrases and slow)
    assert phrases_seen > 1000  # phrases were found, not only missed


def test_marks_stay_exact_while_the_vocabulary_is_replaced(monkeypatch):
    """With a vocabulary bound small enough to be replaced every few texts, matches() still
    marks what a scan marks, and the vocabulary never holds more than its bound."""
    monkeypatch.setattr(highlight, "CACHE_WORDS", 300)
    marker = Marker(text_analyzer(), analyse_word, form_clues)
    replaced, last = 0, marker.vocabulary
    for story in stories()[:300]:
        text = story["title"] + ". " + story["body"]
        indexed = [t for t in map(analyse_word, WORDS.findall(text)) if t is not None]
        if len(indexed) < 3:
            continue
        words = QueryWords(frozenset(indexed[-2:]), (tuple(indexed[:2]),))
        fast = [(t.startchar, t.endchar, t.text) for t in marker.matches(text, words)]
        slow = [(t.startchar, t.endchar, t.text) for t in marker.scan(text, words)]
        assert fast == slow
        assert fast  # the query's words are the text's own
        most = 300 + len(set(WORDS.findall(text)))
        assert len(marker.vocabulary) <= most
        replaced += marker.vocabulary is not last
        last = marker.vocabulary
    assert replaced > 20


class _WhooshMarkFormatter(whoosh_highlight.Formatter):
    """The formatter snippets were made with before they were built on tuples: Whoosh's
    fragment formatting, escaped, cut ends trimmed to words, kept to ~250 characters."""

    def _text(self, text):
        return str(markupsafe.escape(text))

    def format_token(self, text, token, replace=False):
        marked = markupsafe.escape(whoosh_highlight.get_text(text, token, replace))
        return f"<mark>{marked}</mark>"

    def format_fragment(self, fragment, replace=False):
        text, start, end = fragment.text, fragment.startchar, fragment.endchar
        first = min((t.startchar for t in fragment.matches), default=end)
        last = max((t.endchar for t in fragment.matches), default=start)
        if 0 < start < len(text) and not text[start - 1].isspace():
            space = text.find(" ", start, first)
            if space != -1:
                fragment.startchar = space + 1
        if 0 < end < len(text) and not text[end].isspace():
            space = text.rfind(" ", last, end)
            if space != -1:
                fragment.endchar = space
        out = super().format_fragment(fragment, replace)
        if fragment.startchar > 0:
            out = "… " + out
        if fragment.endchar < len(fragment.text):
            out += " …"
        return out

    def format(self, fragments, replace=False):
        kept, length = [], 0
        for fragment in fragments:
            size = fragment.endchar - fragment.startchar
            if kept and length + size > highlight.SNIPPET_CHARS:
                continue
            kept.append(fragment)
            length += size
        out = " ".join(self.format_fragment(f, replace) for f in kept)
        return " ".join(out.split()).replace("… …", "…")


def _whoosh_snippet(text, tokens):
    """A snippet as Whoosh's PinpointFragmenter, BasicFragmentScorer and top_fragments made it."""
    if not tokens:
        return lead_html(text)
    fragmenter = whoosh_highlight.PinpointFragmenter(maxchars=90, surround=40)
    fragments = whoosh_highlight.top_fragments(
        fragmenter.fragment_matches(text, tokens), 3, whoosh_highlight.BasicFragmentScorer(),
        whoosh_highlight.FIRST)
    return _WhooshMarkFormatter().format(fragments) or lead_html(text)


def _whoosh_title(text, tokens):
    if not tokens:
        return ""
    return _WhooshMarkFormatter().format([whoosh_highlight.Fragment(text, tokens, 0, len(text))])


def test_snippets_and_titles_equal_whooshs_fragments():
    """Snippets (fragments chosen and formatted on tuples) equal what Whoosh's fragmenter,
    fragment scorer and top_fragments made from the same marks, character for character,
    over Reuters stories with one to four query words, phrases, marks past 2**15 characters
    and markup to escape; titles too."""
    rng = random.Random(11)
    texts = [(s["title"], s["body"]) for s in stories()[:2500]]
    long_body = ("<b>oil</b> & gas " * 40 + "filler words here " * 2000 + " oil prices <i>rose</i>")
    texts.append(("Oil & <gas>", long_body))
    compared = marked = 0
    for title, body in texts:
        indexed = [t for t in map(MARKER.term, WORDS.findall(body)) if t is not None]
        if len(indexed) < 3:
            continue
        picks = rng.sample(indexed, min(len(indexed), rng.choice((1, 2, 3, 4))))
        start = rng.randrange(len(indexed) - 1)
        for words in (QueryWords(frozenset(picks)),
                      QueryWords(frozenset(picks[:1]), (tuple(indexed[start:start + 2]),)),
                      QueryWords(frozenset(["oil", "price"]))):
            tokens = MARKER.matches(body, words)
            assert MARKER.snippet_html(body, words) == _whoosh_snippet(body, tokens)
            title_tokens = MARKER.matches(title, words)
            assert MARKER.title_html(title, words) == _whoosh_title(title, title_tokens)
            compared += 1
            marked += bool(tokens)
    assert compared > 6000 and marked > 5000
