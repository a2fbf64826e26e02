"""Timeline, compare and significant terms (search/timeline.py, compare.py, terms.py,
matches.py, web/research.py, the CLI commands) on the bundled sample, over real HTTP: the
real app served by waitress on 127.0.0.1."""

from __future__ import annotations

import csv
import io
import json
import urllib.error
import urllib.request
from datetime import date, timedelta
from urllib.parse import urlencode

import pytest
from bs4 import BeautifulSoup

from search_service.cli import main
from search_service.index.schema import open_index
from search_service.search import SearchParams
from search_service.search.matches import match
from search_service.search.terms import doc_terms
from search_service.web import create_app


@pytest.fixture(scope="module")
def base(sample_server: str) -> str:
    """The real app over the sample index, served by waitress (conftest's sample_server)."""
    return sample_server


def get(base: str, path: str, **params) -> tuple[int, str, bytes]:
    """GET over HTTP: status, content type and body (errors included)."""
    url = f"{base}{path}?{urlencode(params, doseq=True)}"
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status, response.headers["Content-Type"], response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers["Content-Type"], exc.read()


def get_json(base: str, path: str, **params) -> dict:
    """GET JSON over HTTP, expecting a 200."""
    status, kind, body = get(base, path, **params)
    assert status == 200, body
    assert kind == "application/json"
    return json.loads(body)


QUERIES = ["oil", "coffee prices", '"crude oil"', "opec OR saudi", "oil NOT iran", "dhaka",
           "title:gold"]


@pytest.mark.parametrize("q", QUERIES)
def test_timeline_counts_stories_as_the_search_total_does(base, q):
    search = get_json(base, "/api/search", q=q)
    data = get_json(base, "/api/timeline", q=q)
    assert data["query"] == q and data["total"] == search["total"] > 0
    assert sum(b["count"] for b in data["buckets"]) + data["undated"] == search["total"]
    for bucket in data["buckets"]:
        assert 0 <= bucket["count"] <= bucket["total"]
        assert bucket["share"] == (round(bucket["count"] / bucket["total"], 6)
                                   if bucket["total"] else 0.0)


def test_near_duplicates_count_once(base, sample_index):
    # "dhaka" matches six documents: three copies of one wire story carried by three sites
    # (ASIAN DEVELOPMENT BANK TO OPEN INDONESIA OFFICE) and three stories on one site each.
    with open_index(sample_index).searcher() as searcher:
        docs = [searcher.stored_fields(int(d)) for d in match(searcher,
                                                              SearchParams(q="dhaka")).docs]
    wire = [d for d in docs if d["title"] == "ASIAN DEVELOPMENT BANK TO OPEN INDONESIA OFFICE"]
    assert len(docs) == 6 and len({d["source"] for d in wire}) == len(wire) == 3
    stories = len({d["title"] for d in docs})  # the copies share their title; the rest differ
    data = get_json(base, "/api/timeline", q="dhaka", interval="day")
    search = get_json(base, "/api/search", q="dhaka")
    assert data["total"] == stories == len(docs) - 2 == search["total"]
    assert [r["similar_count"] for r in search["results"]
            if r["title"] == wire[0]["title"]] == [2]  # one result, "2 similar"


def test_timeline_buckets_are_whole_and_the_empty_query_is_every_story(base):
    data = get_json(base, "/api/timeline", q="", interval="week")
    assert data["interval"] == "week"
    starts = [b["start"] for b in data["buckets"]]
    assert starts[0] == "1987-02-23"  # the Monday before the sample's first story
    assert all(b["share"] == 1.0 for b in data["buckets"] if b["total"])
    assert sum(b["total"] for b in data["buckets"]) == get_json(base, "/api/search")["total"]
    assert all(date.fromisoformat(b) - date.fromisoformat(a) == timedelta(days=7)
               for a, b in zip(starts, starts[1:], strict=False))
    assert all(date.fromisoformat(b["end"]) - date.fromisoformat(b["start"])
               == timedelta(days=6) for b in data["buckets"])


def test_timeline_intervals_and_filters(base):
    month = get_json(base, "/api/timeline", q="oil", interval="month")
    assert [b["start"] for b in month["buckets"]][:3] == ["1987-02-01", "1987-03-01",
                                                          "1987-04-01"]
    assert get_json(base, "/api/timeline", q="oil")["interval"] == "week"  # auto: 8 months
    march = get_json(base, "/api/timeline", q="oil", interval="day", **{"from": "1987-03",
                                                                         "to": "1987-03"})
    assert [b["start"] for b in march["buckets"]][0] >= "1987-03-01"
    assert march["buckets"][-1]["start"] <= "1987-03-31"
    assert march["total"] == get_json(base, "/api/search", q="oil", **{
        "from": "1987-03", "to": "1987-03"})["total"]
    nowhere = get_json(base, "/api/timeline", q="oil", source="No Such Site")
    assert nowhere == {"query": "oil", "interval": "day", "total": 0, "undated": 0,
                       "buckets": []}


def test_timeline_csv_has_the_json_figures(base):
    status, kind, body = get(base, "/api/timeline", q="oil", format="csv")
    assert status == 200 and kind.startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(body.decode())))
    buckets = get_json(base, "/api/timeline", q="oil")["buckets"]
    assert [{k: str(v) for k, v in b.items()} for b in buckets] == rows


@pytest.mark.parametrize("path, params, message", [
    ("/api/timeline", {"q": "oil", "interval": "hour"}, "interval must be one of"),
    ("/api/timeline", {"q": "oil", "format": "xml"}, "format must be json or csv"),
    ("/api/timeline", {"q": "oil", "from": "soon"}, "from: cannot read date"),
    ("/api/compare", {"q": ["a", "b", "c", "d", "e", "f"]}, "1 to 5 queries"),
    ("/api/compare", {}, "1 to 5 queries"),
    ("/api/terms", {"q": "oil", "limit": "0"}, "limit must be between 1 and 100"),
    ("/api/terms", {"q": "oil", "limit": "x"}, "limit must be an integer"),
    ("/api/terms", {"q": "oil AND"}, None),
])
def test_bad_requests_are_json_400s(base, path, params, message):
    status, kind, body = get(base, path, **params)
    if message is None:  # Whoosh reads a trailing AND as a word: not an error
        assert status == 200
        return
    assert status == 400 and kind == "application/json"
    error = json.loads(body)["error"]
    assert error["status"] == 400 and message in error["message"]


def test_compare_answers_each_query_on_its_own(base):
    queries = ["oil", "coffee", "gold", "wheat", "dollar"]
    data = get_json(base, "/api/compare", q=queries)
    assert [q["query"] for q in data["queries"]] == queries
    starts = [b["start"] for b in data["queries"][0]["timeline"]]
    for entry in data["queries"]:
        assert entry["total"] == get_json(base, "/api/search", q=entry["query"])["total"]
        assert [b["start"] for b in entry["timeline"]] == starts  # one axis for all
        alone = {b["start"]: b for b in get_json(base, "/api/timeline", q=entry["query"],
                                                 interval=data["interval"])["buckets"]}
        for bucket in entry["timeline"]:  # the shared axis may be wider than its own
            assert bucket == alone.get(bucket["start"], {**bucket, "count": 0, "share": 0.0})
        # Each source counts the stories it carries, as the search narrowed to it counts them
        # (a story carried by three sites counts for each); every source with a match listed.
        facets = get_json(base, "/api/search", q=entry["query"], facets="1")["facets"]
        counts = {s["source"]: get_json(base, "/api/search", q=entry["query"],
                                        source=s["source"])["total"]
                  for s in facets["sources"]}
        assert len(counts) > 1  # the sample's stories are spread over its seven sites
        assert entry["sources"] == [{"source": name, "count": n} for name, n in
                                    sorted(counts.items(), key=lambda c: (-c[1], c[0]))]
        assert len(entry["results"]) == 5
        for result in entry["results"]:  # each story matches its own query
            assert "<mark>" in result["title_html"] + result["snippet_html"]
    ids = [{r["id"] for r in q["results"]} for q in data["queries"]]
    assert all(not (a & b) for i, a in enumerate(ids) for b in ids[i + 1:])


def test_compare_page_works_without_javascript(base):
    status, kind, body = get(base, "/compare", q=["oil", "coffee"], show="count")
    page = body.decode()
    assert status == 200 and kind.startswith("text/html")
    assert page.count("<polyline") == 2
    assert 'stroke="#0072B2"' in page and 'stroke="#D55E00"' in page
    assert 'stroke-dasharray="6 3"' in page  # the second line is dashed, not only coloured
    assert "<table class=\"numbers\">" in page and "<script" not in page.split("</main>")[0]


def test_terms_are_the_words_that_stand_out(base):
    data = get_json(base, "/api/terms", q="coffee", limit=10)
    total = get_json(base, "/api/search", q="coffee")["total"]
    assert data["statistic"] == "JLH" and data["matches"] == data["sampled"] == total > 10
    terms = [t["term"] for t in data["terms"]]
    assert terms[0] == "ico"  # the International Coffee Organization
    assert "export quotas" in terms  # two-word phrases too
    assert "coffee" not in terms and not any("coffee" in t.split() for t in terms)
    scores = [t["score"] for t in data["terms"]]
    assert scores == sorted(scores, reverse=True)
    for t in data["terms"]:
        fg, bg = t["matches"] / data["sampled"], max(t["background"], 0.5) / data["background"]
        assert t["score"] == round((fg - bg) * fg / bg, 4) and fg > bg


def test_terms_sample_many_matches_with_a_seed(base):
    first = get_json(base, "/api/terms", q="said", limit=20)
    assert first["matches"] > first["sampled"] == 200
    assert get_json(base, "/api/terms", q="said", limit=20) == first


def test_stop_words_follow_the_language():
    found = doc_terms("Die Regierung und der Bundestag", "Wir haben die Zölle gesenkt.", "de")
    assert found.words == {"regierung", "bundestag", "zolle", "gesenkt"}
    assert found.phrases == {"zolle gesenkt"}  # "der" breaks "regierung bundestag"
    english = doc_terms("The Bundestag and the government", "", "en")
    assert english.words == {"bundestag", "government"} and not english.phrases


def test_search_page_terms_panel_without_javascript(base):
    status, _, body = get(base, "/", q="coffee", terms="1")
    page = body.decode()
    assert status == 200 and 'id="terms"' in page
    assert '<a href="/?q=coffee+ico&amp;terms=1"' in page
    assert '<a href="/?q=coffee+%22export+quotas%22&amp;terms=1"' in page
    _, _, plain = get(base, "/", q="coffee")
    assert "Show the words that stand out" in plain.decode()


def march(base: str, q: str) -> tuple[int, int]:
    """The stories matching `q` published in March 1987 and all stories of that month, as
    /api/search counts them."""
    month = {"from": "1987-03", "to": "1987-03"}
    return (get_json(base, "/api/search", q=q, **month)["total"],
            get_json(base, "/api/search", q="", **month)["total"])


def test_timeline_page_shows_readable_numbers_and_downloads(base):
    count, total = march(base, "oil")
    assert 100 < count < total  # readable figures need thousands separators and a share
    status, _, body = get(base, "/timeline", q="oil", interval="month")
    page = body.decode()
    assert status == 200
    assert f"<title>1987-03-01: {count} of {total:,} ({count / total:.2%})</title>" in page
    assert (f'<td class="num">{count}</td><td class="num">{total:,}</td>'
            f'<td class="num">{count / total:.2%}</td>') in page
    assert 'href="/api/timeline?q=oil&amp;interval=month&amp;format=csv"' in page


def run(capsys, *argv: str) -> tuple[int, str, str]:
    """Run the CLI in process; return status, stdout, stderr."""
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def test_cli_matches_the_api(base, capsys, sample_index):
    index = ["--index", str(sample_index)]
    status, out, _ = run(capsys, "timeline", "oil", "--interval", "month", "--json", *index)
    assert status == 0
    assert json.loads(out) == get_json(base, "/api/timeline", q="oil", interval="month")
    status, out, _ = run(capsys, "terms", "coffee", "--limit", "5", "--json", *index)
    assert json.loads(out) == get_json(base, "/api/terms", q="coffee", limit=5)
    status, out, _ = run(capsys, "compare", "oil", "coffee", "--json", *index)
    assert json.loads(out) == get_json(base, "/api/compare", q=["oil", "coffee"])
    status, out, _ = run(capsys, "timeline", "oil", "--interval", "month", *index)
    count, total = march(base, "oil")
    row = next(line for line in out.splitlines() if line.startswith("1987-03-01"))
    assert row.split() == ["1987-03-01", f"{count:,}", f"{total:,}", f"{count / total:.2%}"]


def test_cli_errors(capsys, sample_index, tmp_path):
    status, _, err = run(capsys, "timeline", "oil", "--from", "soon", "--index",
                         str(sample_index))
    assert status == 1 and "news-search timeline: error: from: cannot read date" in err
    status, _, err = run(capsys, "compare", *"a b c d e f".split(), "--index",
                         str(sample_index))
    assert status == 1 and "compare takes 1 to 5 queries" in err
    status, _, err = run(capsys, "terms", "oil", "--index", str(tmp_path / "none"))
    assert status == 1 and "no index at" in err


def test_deleted_articles_never_count(index_dir, ix):
    # The per-commit arrays (columns, universes, terms background) follow the commit, and a
    # deleted article counts nowhere. (A fresh app: a refreshed Whoosh searcher reuses the
    # reader of a segment whose only change is a deletion, and so still counts it: see the
    # note on Searcher.refresh in the report.)
    from search_service.index.writer import delete_urls

    client = create_app({"TESTING": True, "INDEX_DIR": str(index_dir)}).test_client()
    before = client.get("/api/timeline?q=&interval=month").get_json()
    assert before["total"] == client.get("/api/search?q=").get_json()["total"] > 1
    url = next(r["url"] for r in client.get("/api/search?q=&sort=oldest").get_json()["results"]
               if not r["similar_count"])  # a story without copies
    assert delete_urls(ix, [url]) == 1
    client = create_app({"TESTING": True, "INDEX_DIR": str(index_dir)}).test_client()
    after = client.get("/api/timeline?q=&interval=month").get_json()
    assert after["total"] == client.get("/api/search?q=").get_json()["total"]
    assert after["total"] == before["total"] - 1
    assert sum(b["total"] for b in after["buckets"]) == after["total"]


def test_views_answer_empty_before_the_first_ingest(tmp_path):
    client = create_app({"TESTING": True, "INDEX_DIR": str(tmp_path / "none")}).test_client()
    assert client.get("/api/timeline?q=oil").get_json() == {
        "query": "oil", "interval": "day", "total": 0, "undated": 0, "buckets": []}
    assert client.get("/api/compare?q=oil&q=gas").get_json() == {"interval": "day", "queries": [
        {"query": q, "total": 0, "timeline": [], "sources": [], "results": []}
        for q in ("oil", "gas")]}
    assert client.get("/api/terms?q=oil").get_json()["terms"] == []
    assert client.get("/api/terms?q=oil&limit=0").status_code == 400
    assert client.get("/api/timeline?q=oil&interval=hour").status_code == 400
    page = client.get("/compare?q=oil")
    assert page.status_code == 200 and b"No story matches." in page.data


def test_research_pages_answer_bad_parameters_with_the_error_page(client):
    for url, message in [("/timeline?q=oil&interval=hour", "interval must be one of"),
                         ("/timeline?q=oil&show=pie", "show must be share or count"),
                         ("/compare?q=a&q=b&q=c&q=d&q=e&q=f", "compare takes 1 to 5 queries")]:
        response = client.get(url)
        assert response.status_code == 400 and response.mimetype == "text/html"
        assert message in response.data.decode()


def test_a_collection_narrows_the_views_as_it_narrows_the_search(base):
    facets = get_json(base, "/api/search", q="", facets="1")["facets"]["collections"]
    assert sorted(c["collection"] for c in facets) == ["Business press", "Regional papers"]
    for name in ("Business press", "Regional papers"):
        kept = {"collection": name}
        carried = {s["source"] for s in get_json(base, "/api/search", q="", facets="1",
                                                 **kept)["facets"]["sources"]}
        assert 1 < len(carried) < 7  # some of the sample's seven sites
        search = get_json(base, "/api/search", q="oil", **kept)
        assert 0 < search["total"] < get_json(base, "/api/search", q="oil")["total"]
        # Timeline: each bucket's matching and all stories are the collection's.
        timeline = get_json(base, "/api/timeline", q="oil", interval="month", **kept)
        assert timeline["total"] == search["total"]
        for bucket in timeline["buckets"]:
            span = {"from": bucket["start"], "to": bucket["end"], **kept}
            assert bucket["count"] == get_json(base, "/api/search", q="oil", **span)["total"]
            assert bucket["total"] == get_json(base, "/api/search", q="", **span)["total"]
        # Compare: each query's total and sources as the search narrowed to the collection.
        compare = get_json(base, "/api/compare", q=["oil", "coffee"], **kept)
        for entry in compare["queries"]:
            assert entry["total"] == get_json(base, "/api/search", q=entry["query"],
                                              **kept)["total"]
            assert {s["source"] for s in entry["sources"]} <= carried
            assert {r["source"] for r in entry["results"]} <= carried
            for source in entry["sources"]:
                assert source["count"] == get_json(base, "/api/search", q=entry["query"],
                                                   source=source["source"], **kept)["total"]
        # Terms: the foreground is the collection's stories, word for word what naming its
        # sources instead gives, and not the whole index's.
        terms = get_json(base, "/api/terms", q="oil", **kept)
        assert terms["matches"] == terms["sampled"] == search["total"]
        assert terms == get_json(base, "/api/terms", q="oil", source=sorted(carried))
        assert terms["terms"] != get_json(base, "/api/terms", q="oil")["terms"]


@pytest.mark.parametrize("q", ["canada", "dutch"])
def test_every_view_counts_as_the_search_does_with_expansion_on_and_off(base, capsys,
                                                                       sample_index, q):
    """Regression: research counts must follow `expand` as the search total does, over HTTP
    and from the commands (`--no-expand`), so a story found only by the country's other word
    (`canadian`, `netherlands`) counts in both or in neither."""
    index = ("--index", str(sample_index))
    totals = {}
    for expand, flag in (("1", ()), ("0", ("--no-expand",))):
        total = get_json(base, "/api/search", q=q, expand=expand)["total"]
        timeline = get_json(base, "/api/timeline", q=q, expand=expand)
        _, _, exported = get(base, "/api/export", q=q, expand=expand, format="jsonl")
        counted = {
            "timeline": timeline["total"],
            "timeline buckets": sum(b["count"] for b in timeline["buckets"])
            + timeline["undated"],
            "compare": get_json(base, "/api/compare", q=[q, "oil"],
                                expand=expand)["queries"][0]["total"],
            "terms": get_json(base, "/api/terms", q=q, expand=expand)["matches"],
            "export": len(exported.splitlines()),
            "cursor": get_json(base, "/api/search", q=q, expand=expand, cursor="*")["total"],
        }
        for command in (["timeline", q], ["compare", q, "oil"], ["terms", q]):
            status, out, _ = run(capsys, *command, "--json", *flag, *index)
            assert status == 0
            data = json.loads(out)
            counted[f"cli {command[0]}"] = data["queries"][0]["total"] if "queries" in data \
                else data.get("total", data.get("matches"))
        status, out, _ = run(capsys, "export", q, "--format", "jsonl", *flag, *index)
        counted["cli export"] = len(out.splitlines())
        assert counted == dict.fromkeys(counted, total), expand
        totals[expand] = total
    assert totals["0"] < totals["1"]


def test_significant_terms_leave_out_the_words_the_expansion_searched(base):
    """Regression: with expansion on, `canadian` was the top significant term of `canada`:
    a word the query itself searched, as pointless to suggest as `canada`."""
    expanded = [t["term"] for t in get_json(base, "/api/terms", q="canada", limit=100)["terms"]]
    typed = [t["term"] for t in get_json(base, "/api/terms", q="canada", expand="0",
                                         limit=100)["terms"]]
    assert "canadian" in typed and "canadian dlrs" in typed
    assert not [t for t in expanded if "canadian" in t.split() or "canada" in t.split()]


def test_pages_keep_expand_off_in_their_forms_and_export_links(base):
    def parse(path: str, **params):
        status, _, body = get(base, path, **params)
        assert status == 200
        return BeautifulSoup(body, "html.parser")

    page = parse("/", q="dutch", expand="0")
    exports = [a["href"] for a in page.select(".export a")]
    assert len(exports) == 2 and all("expand=0" in href for href in exports)
    total = get_json(base, "/api/search", q="dutch", expand="0")["total"]
    with urllib.request.urlopen(base + exports[1], timeout=30) as response:  # JSON lines
        assert len(response.read().splitlines()) == total
    for path, form in (("/", "form.filters"), ("/timeline", "form.research"),
                       ("/compare", "form.research")):
        fields = parse(path, q="dutch", expand="0").select_one(form).select(
            "input[name=expand]")
        assert [f["value"] for f in fields] == ["0"], path


def test_the_openapi_document_gives_research_views_and_export_the_expand_switch(base):
    paths = get_json(base, "/api/openapi.json")["paths"]
    for path in ("/api/timeline", "/api/compare", "/api/terms", "/api/export"):
        names = [p["name"] for p in paths[path]["get"]["parameters"]]
        assert "expand" in names and "collection" in names, path
