"""Generators of hostile input, shared by the tests (hypothesis strategies, a bounded
number of examples) and benchmarks/drill.py (the same strategies, more examples, timed).

- pages: random bytes, real pages mutated (bytes flipped, cut, spliced, markup injected), and
  pathological markup built from a small grammar of the constructs that hurt parsers;
- queries: Whoosh query syntax built from its grammar (operators, groups, fields, phrases,
  wildcards, fuzzy terms, ranges, boosts), often unbalanced, very long or deeply nested, and
  plain random text;
- BAD_PAGES: the known worst pages by name (empty, binary, 100,000 nested divs, …), checked by
  tests/test_normalise_bad_input.py and timed by benchmarks/drill.py.
"""

from __future__ import annotations

import random

from hypothesis import strategies as st

from tests.support.paths import PAGES


def real_pages() -> list[bytes]:
    """The fixture article pages (real sites' markup), as bytes."""
    return [path.read_bytes() for path in sorted(PAGES.glob("*.html"))]


# -- pages --------------------------------------------------------------------------------------

TAGS = ["div", "p", "span", "a", "table", "tr", "td", "ul", "li", "article", "main", "section",
        "nav", "aside", "header", "footer", "h1", "h2", "b", "i", "time", "svg", "math",
        "iframe", "noscript", "template", "select", "option", "textarea", "form", "frameset"]
RAW = ["script", "style", "title", "xmp", "plaintext", "noembed"]
ODDITIES = [
    "<!--", "-->", "<![CDATA[", "]]>", "<!DOCTYPE html>", "<?xml version='1.0'?>", "</>", "<",
    ">", "&", "&#0;", "&#x110000;", "&#xD800;", "&nbsp;", "&amp", "\x00", "\ufeff", "\u202e",
    "\r", '"', "'", "=", "<meta charset='utf-7'>", "<meta charset=\"no-such\">",
    '<meta property="article:published_time" content="99999-99-99">',
    '<link rel="canonical" href="javascript:alert(1)">', '<link rel="canonical" href="//[::1">',
    '<script type="application/ld+json">', "</script>", '{"@type": "NewsArticle"',
    '"headline": ', '"datePublished": "2024-02-30T25:61:00Z"', "[[[[", "]]]]", "{{{{",
    '<time datetime="-1">', "<base href='http://evil.example/'>",
]
WORDS = ["harbour", "council", "ferry", "vote", "pier", "the", "said", "Zürich", "Ελλάδα",
         "中文", "العربية", "x" * 200]


def _markup(depth: int) -> st.SearchStrategy[str]:
    """Markup built from tags (often unclosed), raw-text elements, oddities and words."""
    leaf = st.one_of(st.sampled_from(ODDITIES), st.sampled_from(WORDS),
                     st.text(max_size=40))
    if depth == 0:
        return leaf
    inner = _markup(depth - 1)
    element = st.builds(
        lambda tag, attrs, body, close: f"<{tag}{attrs}>{body}" + (f"</{tag}>" if close else ""),
        st.sampled_from(TAGS + RAW),
        st.text(alphabet=" =\"'abc<>/&;", max_size=20).map(lambda a: " " + a if a else ""),
        st.lists(inner, max_size=4).map("".join), st.booleans())
    return st.one_of(leaf, element)


#: A whole pathological page: a structure repeated and nested (up to thousands deep).
pathological_pages = st.builds(
    lambda prefix, unit, times, nest, body: prefix + unit * times + "<div>" * nest + body,
    st.lists(_markup(3), max_size=6).map("".join),
    _markup(2), st.integers(0, 3000), st.integers(0, 20000),
    st.lists(_markup(3), max_size=6).map("".join))


def _mutate(page: bytes, edits: list[tuple[int, int, int, bytes]]) -> bytes:
    """Apply edits (kind, at, length, payload) to `page`: flip, cut, splice, inject."""
    data = bytearray(page)
    for kind, at, length, payload in edits:
        at = at % (len(data) + 1)
        if kind == 0:  # flip bytes
            for i in range(at, min(at + length, len(data))):
                data[i] ^= 0xFF
        elif kind == 1:  # cut a span
            del data[at:at + length * 50]
        elif kind == 2:  # splice random bytes in
            data[at:at] = payload
        elif kind == 3:  # duplicate a span many times
            data[at:at] = bytes(data[at:at + length]) * 200
        else:  # truncate
            del data[at:]
    return bytes(data)


def mutated_pages(pages: list[bytes]) -> st.SearchStrategy[bytes]:
    """Real pages, each with a few random edits."""
    edit = st.tuples(st.integers(0, 4), st.integers(0, 1 << 20), st.integers(1, 64),
                     st.binary(max_size=64))
    return st.builds(_mutate, st.sampled_from(pages), st.lists(edit, min_size=1, max_size=6))


random_bytes = st.binary(max_size=50_000)


# -- queries ------------------------------------------------------------------------------------

QUERY_WORDS = ["oil", "prices", "opec", "said", "bank", "nato", "zurich", "Zürich", "the", "a",
               "and", "or", "not", "to", "x", "ü", "中文", "ab", "abc", "oil-price", "u.s.",
               "1987", "2024-02-30", "'", "\\", "\x00", "\u202e"]
FIELDS = ["title", "body", "author", "source", "published", "id", "url", "canonical_url",
          "host", "bands", "cluster", "nosuchfield", ""]


def _query(depth: int) -> st.SearchStrategy[str]:
    """Whoosh query syntax from its grammar, balanced or not."""
    word = st.one_of(st.sampled_from(QUERY_WORDS), st.text(max_size=12))
    term = st.one_of(
        word,
        st.builds(lambda f, w: f"{f}:{w}", st.sampled_from(FIELDS), word),
        st.builds(lambda w, n: f"{w}~{n}", word, st.sampled_from(["", "0", "1", "2", "3", "9",
                                                                   "2/0", "1/9", "x"])),
        st.builds(lambda w, s: w + s, word, st.sampled_from(["*", "?", "*x*", "**"])),
        st.builds(lambda w, b: f"{w}^{b}", word, st.sampled_from(["2", "0", "-1", "1e308",
                                                                   "x", ""])),
        st.builds(lambda f, a, b, o, c: f"{f}:{o}{a} TO {b}{c}", st.sampled_from(FIELDS), word,
                  word, st.sampled_from("[{"), st.sampled_from("]}")),
        st.builds(lambda ws, slop: '"' + " ".join(ws) + '"' + slop, st.lists(word, max_size=6),
                  st.sampled_from(["", "~2", "~99999999"])),
        st.sampled_from(["(", ")", '"', "AND", "OR", "NOT", "ANDNOT", "ANDMAYBE", "-", "+", ":",
                         "*", "~", "^", "[", "]", "{", "}", "TO"]),
    )
    if depth == 0:
        return term
    inner = _query(depth - 1)
    return st.one_of(
        term,
        st.builds(lambda a, op, b: f"{a} {op} {b}", inner,
                  st.sampled_from(["AND", "OR", "NOT", "ANDNOT", "ANDMAYBE", "", "-"]), inner),
        st.builds(lambda q, o, c: f"{o}{q}{c}", inner, st.sampled_from(["(", "", "(("]),
                  st.sampled_from([")", "", "))"])),
    )


#: Queries: from the grammar, nested hundreds deep, repeated to great length, or random text.
queries = st.one_of(
    _query(3),
    st.builds(lambda q, n: "(" * n + q + ")" * n, _query(1), st.integers(1, 490)),
    st.builds(lambda q, n: "(" * n + q, _query(1), st.integers(1, 990)),
    st.builds(lambda q, n: (q + " ") * n, _query(1), st.integers(1, 300))
    .map(lambda q: q[:1000]),
    st.builds(lambda n: "NOT " * n + "oil", st.integers(1, 240)),
    st.text(max_size=1000),
)


# -- the known worst pages -----------------------------------------------------------------------

WORDS = "harbour council ferry vote pier timetable crew island morning report".split()


def prose(seed: int, paragraphs: int) -> str:
    """Varied paragraphs of plain words (repeated lines would be dropped as duplicates)."""
    rng = random.Random(seed)
    return "".join("<p>" + " ".join(rng.choice(WORDS) for _ in range(40)) + ".</p>"
                   for _ in range(paragraphs))


BAD_PAGES = {
    "empty": b"",
    "whitespace": b"  \n\t ",
    "binary": bytes(random.Random(1).randrange(256) for _ in range(200_000)),
    "nul bytes in markup": b"<html>\x00<body>\x00<p>\x00text</p></body></html>",
    "truncated": ("<html><head><title>Cut</title></head><body><article>" + prose(1, 8))[:-41],
    "only scripts": "<html><head><script>" + "var a = 1;" * 50_000 + "</script></head>"
                    "<body><script>run()</script><noscript>Enable JS</noscript></body></html>",
    "unclosed comment": "<html><body><!-- " + prose(2, 50),
    "unclosed script": "<html><body><p>Start</p><script>" + "x" * 100_000,
    "deep divs": "<html><body>" + "<div>" * 10_000 + prose(3, 3) + "</div>" * 10_000,
    "100,000 deep divs": "<html><body>" + "<div>" * 100_000 + prose(12, 3) + "</div>" * 100_000,
    "deep spans": "<html><body><p>" + "<span>" * 10_000 + "deep " * 100 + "</span>" * 10_000,
    "unclosed furniture": "<html><body>" + "<nav><button><aside>x " * 30_000 + prose(11, 3),
    "deep tables": "<html><body>" + "<table><tr><td>" * 3_000 + prose(4, 2),
    "deep JSON-LD": '<html><head><script type="application/ld+json">' + "[" * 50_000
                    + "]" * 50_000 + "</script></head><body>" + prose(5, 3) + "</body></html>",
    "broken JSON-LD": '<html><head><script type="application/ld+json">{"@type": "NewsArticle",'
                      ' "headline": </script></head><body>' + prose(6, 3) + "</body></html>",
    "many attributes": "<html><body><div " + " ".join(f'a{n}="v"' for n in range(50_000))
                       + ">" + prose(7, 3) + "</div></body></html>",
    "bad date strings": '<html><head><meta property="article:published_time" content="'
                        + "9" * 60 + '"><meta name="date" content="31/02/2024 25:61">'
                        '</head><body><time datetime="-1">x</time>' + prose(8, 3),
    "odd canonical": '<html><head><link rel="canonical" href="http://[::1"><title>T</title>'
                     "</head><body>" + prose(9, 3),
    "utf-16 without BOM": "<html><body><p>Wide text</p></body></html>".encode("utf-16-le"),
    "wrong declared charset": '<meta charset="no-such-charset"><p>Caf\xe9</p>'.encode("latin-1"),
}
