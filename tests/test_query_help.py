"""Query help (search/explain.py): warnings about lower-case operators and a leading minus,
and `explain=1` (how the query was read), over real HTTP on the bundled sample."""

from __future__ import annotations

import json
import urllib.parse
import urllib.request

import pytest

from search_service.search import query_warnings


def get(url: str) -> tuple[int, str]:
    """GET over real HTTP: status and text."""
    with urllib.request.urlopen(url, timeout=30) as response:
        return response.status, response.read().decode()


def api(base: str, **params) -> dict:
    """GET /api/search with these parameters."""
    return json.loads(get(f"{base}/api/search?{urllib.parse.urlencode(params, doseq=True)}")[1])


OR_WARNING = {"message": '"or" in lower case is searched as a word (and dropped as too '
                         "common), not as an operator: did you mean OR?",
              "query": "oil OR gas"}


@pytest.mark.parametrize("text, warned, fixed", [
    ("oil or gas", ["or"], "oil OR gas"),
    ("oil and gas", ["and"], "oil AND gas"),
    ("opec not saudi", ["not"], "opec NOT saudi"),
    ("wheat or corn and sugar", ["or", "and"], "wheat OR corn AND sugar"),
    ("oil -gas", ["minus"], "oil NOT gas"),
])
def test_lower_case_operators_between_words_are_warned_about(text, warned, fixed):
    warnings = query_warnings(text)
    assert len(warnings) == len(warned)
    for warning, word in zip(warnings, warned, strict=True):
        expected = ("a leading minus is not an operator" if word == "minus"
                    else f"did you mean {word.upper()}?")
        assert expected in warning["message"]
        assert warning["query"] == fixed


@pytest.mark.parametrize("text", [
    "oil OR gas", "or gas", "oil or", '"oil or gas"', "and", "oil AND NOT gas", "",
    "title:oil", "oil-rich states",
])
def test_no_warning_without_a_lower_case_operator_between_words(text):
    assert query_warnings(text) == []


def test_api_answers_warnings_and_the_page_shows_the_hint(sample_server):
    data = api(sample_server, q="oil or gas")
    assert data["warnings"] == [OR_WARNING]
    meant = api(sample_server, q="oil OR gas")
    assert meant["warnings"] == [] and meant["total"] > data["total"]
    status, html = get(f"{sample_server}/?q=oil+or+gas")
    assert status == 200
    assert ('<p class="hint">&#34;or&#34; in lower case is searched as a word (and dropped as '
            "too common), not as an operator: did you mean OR?</p>") in html
    assert '<p>Search <a href="/?q=oil+OR+gas">oil OR gas</a> instead?</p>' in html


def test_explain_reads_the_query_back_in_plain_words(sample_server):
    data = api(sample_server, q="the opec* crude", explain=1, source="Harbour Gazette",
               lang="en", collection="Regional papers", **{"from": "1987-03"})
    assert data["explain"] == {
        "parsed": "((title:opec* OR body:opec*) AND (title:crude OR body:crude))",
        "reading": 'all of (words starting with "opec" in the title or the text: opec; the '
                   'word "crude" (or another form of it) in the title or the text)',
        "notes": ['"the" is left out: too common to search',
                  "words not joined by OR must all be found (AND is the default)"],
        "filters": ["published from 1987-03-01T00:00:00+00:00",
                    'from the site "Harbour Gazette"', 'in language "en"',
                    'in the collection "Regional papers"'],
        "expanded": [],
    }
    assert "explain" not in api(sample_server, q="opec")


def test_explain_shows_the_query_as_expanded_as_the_search_answer_does(sample_server):
    """Regression: explain showed the query without the place expansion the search ran."""
    data = api(sample_server, q="canada oil", explain=1)
    added = ('"canada" also finds "canadian", weighted 0.5: a country\'s other name or its '
             "people's word (expand=0 searches it only as typed)")
    assert data["explain"] == {
        "parsed": "(((title:canada OR title:canadian^0.5) OR (body:canada OR "
                  "body:canadian^0.5)) AND (title:oil OR body:oil))",
        "reading": 'all of (the word "canada" (or another form of it) or "canadian" in the '
                   'title or the text; the word "oil" (or another form of it) in the title or '
                   "the text)",
        "notes": ["words not joined by OR must all be found (AND is the default)", added],
        "filters": [],
        "expanded": data["expanded"],
    }
    assert data["expanded"] == [{"word": "canada", "added": ["canadian"]}]
    typed = api(sample_server, q="canada oil", explain=1, expand=0)
    assert typed["explain"]["parsed"] == "((title:canada OR body:canada) AND (title:oil OR " \
        "body:oil))"
    assert typed["explain"]["expanded"] == typed["expanded"] == []
    assert typed["explain"]["notes"] == [
        "words not joined by OR must all be found (AND is the default)"]
    status, html = get(f"{sample_server}/?q=canada+oil&explain=1")
    assert status == 200
    assert ("the word &#34;canada&#34; (or another form of it) or &#34;canadian&#34; in the "
            "title or the text") in html


@pytest.mark.parametrize("q, reading", [
    ('"crude oil" OR title:opec',
     'any of (the phrase "crude oil" in the title or the text; the word "opec" (or another '
     "form of it) in the title)"),
    ("oil AND NOT gas",
     'all of (the word "oil" (or another form of it) in the title or the text; not the word '
     '"gas" (or another form of it) in the title or the text)'),
    ("opec~1",
     'words within 1 edit of "opec" in the title or the text: oec, opec, open, oper'),
    ("", "every article"),
    ("source:gazette", 'the word "gazette" in the site name'),
])
def test_explain_readings(sample_server, q, reading):
    assert api(sample_server, q=q, explain=1)["explain"]["reading"] == reading


def test_explain_on_the_page_escapes_the_query(sample_server):
    status, html = get(f"{sample_server}/?q=%3Cscript%3Ex%3C/script%3E+oil&explain=1")
    assert status == 200
    assert "<script>x" not in html
    assert '<details class="explain" open>' in html
    assert "the word &#34;oil&#34; (or another form of it) in the title or the text" in html
