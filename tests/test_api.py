"""The JSON API through the Flask test client: every endpoint and every error path."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from search_service.article import article_id
from search_service.index.schema import SCHEMA_VERSION
from search_service.web import create_app
from tests.support.paths import SEED_URL

HOSTILE_ID = article_id("https://hostile.example/news/oil-gas")


def test_health(client, index_dir):
    response = client.get("/api/health")
    assert response.status_code == 200
    data = response.get_json()
    committed = data.pop("last_commit")
    assert data == {"status": "ok", "articles": 27, "index_version": SCHEMA_VERSION}
    toc = max(index_dir.glob("_*.toc"), key=lambda p: p.stat().st_mtime)
    assert committed == datetime.fromtimestamp(toc.stat().st_mtime, tz=timezone.utc).isoformat()


def test_sources(client):
    assert client.get("/api/sources").get_json() == {"sources": [
        {"source": "The Wire Ledger", "articles": 24},
        {"source": "Baltic Wire", "articles": 1},
        {"source": "Hostile <b>Herald</b>", "articles": 1},
        {"source": "Northern Dispatch", "articles": 1},
    ]}


def test_search_payload(client):
    response = client.get("/api/search?q=oil&per_page=1&sort=relevance")
    data = response.get_json()
    assert data.pop("took_ms") >= 0
    assert data == {
        "query": "oil",
        "total": 2,
        "page": 1,
        "per_page": 1,
        "sort": "relevance",
        "from": None,
        "to": None,
        "sources": [],
        "lang": None,
        "partial": False,
        "suggestion": None,
        "expanded": [],
        "results": [{
            "id": HOSTILE_ID,
            "url": "https://hostile.example/news/oil-gas",
            "title": "Oil & gas: <script>alert(1)</script> prices",
            "title_html": "<mark>Oil</mark> &amp; gas: &lt;script&gt;alert(1)&lt;/script&gt; "
                          "prices",
            "snippet_html": "Traders said <mark>oil</mark> &amp; gas prices rose after a report "
                            "that … that shows this text. Analysts expect <mark>oil</mark> "
                            "demand to keep rising through the …",
            "published": "2023-07-12T09:00:00+00:00",
            "source": "Hostile <b>Herald</b>",
            "similar_count": 0,
        }],
        "next": "/api/search?page=2&q=oil&per_page=1&sort=relevance",
        "prev": None,
        "warnings": [],
    }


def test_filters_facets_and_suggestion_through_the_api(client):
    url = ("/api/search?q=nato+OR+oil&from=2023-07&to=2023-07-31&source=Northern+Dispatch"
           "&source=Hostile+%3Cb%3EHerald%3C/b%3E&lang=en&facets=1&sort=newest")
    data = client.get(url).get_json()
    assert [r["id"] for r in data["results"]] == [HOSTILE_ID, article_id(SEED_URL)]
    assert (data["from"], data["to"]) == ("2023-07-01T00:00:00+00:00",
                                          "2023-07-31T23:59:59.999999+00:00")
    assert data["sources"] == ["Northern Dispatch", "Hostile <b>Herald</b>"]
    assert data["facets"] == {
        "collections": [],
        "sources": [{"source": "Hostile <b>Herald</b>", "count": 1},
                    {"source": "Northern Dispatch", "count": 1}],
        "dates": {"bucket": "day", "counts": [
            {"start": "2023-07-10", "end": "2023-07-10", "count": 1},
            {"start": "2023-07-11", "end": "2023-07-11", "count": 0},
            {"start": "2023-07-12", "end": "2023-07-12", "count": 1}]},
    }
    assert client.get("/api/search?q=vilnus").get_json()["suggestion"] == "vilnius"


def test_next_links_walk_all_results(client):
    url, seen = "/api/search?q=said&per_page=4&sort=newest", []
    while url:
        data = client.get(url).get_json()
        seen += [r["id"] for r in data["results"]]
        url = data["next"]
    assert len(seen) == len(set(seen)) == data["total"] > 8


def test_prev_link(client):
    data = client.get("/api/search?q=said&per_page=2&page=2").get_json()
    assert data["prev"] == "/api/search?page=1&q=said&per_page=2"


def test_article(client):
    data = client.get(f"/api/articles/{article_id(SEED_URL)}").get_json()
    assert data["canonical_url"] == SEED_URL
    assert data["published"] == "2023-07-10T06:30:00+00:00"
    assert data["modified"] == "2023-07-10T10:05:00+00:00"
    assert data["source"] == "Northern Dispatch"
    assert data["language"] == "en"
    assert "No time to read?" not in data["body"]


def test_related(client):
    seed = article_id(SEED_URL)
    data = client.get(f"/api/articles/{seed}/related?limit=2").get_json()
    assert data["id"] == seed
    assert len(data["results"]) == 2
    twin = article_id("https://balticwire.example/2023/07/nato-ukraine")
    assert twin not in [r["id"] for r in data["results"]]
    assert set(data["results"][0]) == {"id", "url", "title", "title_html", "snippet_html",
                                       "published", "source", "similar_count"}


@pytest.mark.parametrize("url, status, message", [
    ("/api/search?q=((((", 400,
     "cannot parse query '((((': it has no searchable words (only operators, punctuation or "
     "stop words)"),
    ("/api/search?q=oil&page=abc", 400, "page must be an integer, not 'abc'"),
    ("/api/search?q=oil&per_page=", 400, "per_page must be an integer, not ''"),
    ("/api/search?q=oil&page=0", 400, "page must be between 1 and 1000"),
    ("/api/search?q=oil&per_page=101", 400, "per_page must be between 1 and 100"),
    ("/api/search?q=oil&per_page=-1", 400, "per_page must be between 1 and 100"),
    ("/api/search?q=oil&sort=random", 400, "sort must be one of: best, relevance, newest, "
                                            "oldest"),
    ("/api/search?q=oil&from=soon", 400, "from: cannot read date 'soon': use e.g. 2023-07-15, "
                                         "2023-07, 2023, 'yesterday', 'last week' or "
                                         "'past 24 hours'"),
    ("/api/search?q=oil&from=2023&to=2022", 400, "from must not be after to"),
    ("/api/search?q=gu*", 400, "wildcards need at least 3 leading characters: 'gu*'"),
    ("/api/articles/0123456789abcdef", 404, "no article with id '0123456789abcdef'"),
    ("/api/articles/0123456789abcdef/related", 404, "no article with id '0123456789abcdef'"),
    (f"/api/articles/{HOSTILE_ID}/related?limit=x", 400, "limit must be an integer, not 'x'"),
    (f"/api/articles/{HOSTILE_ID}/related?limit=51", 400, "limit must be between 1 and 50"),
    ("/api/nowhere", 404,
     "The requested URL was not found on the server. If you entered the URL manually please "
     "check your spelling and try again."),
])
def test_errors_have_one_json_shape(client, url, status, message):
    response = client.get(url)
    assert response.status_code == status
    assert response.get_json() == {"error": {"status": status, "message": message}}


def test_wrong_method_is_a_json_405(client):
    response = client.post("/api/search?q=oil")
    assert response.status_code == 405
    assert response.get_json()["error"]["status"] == 405
    allowed = {"GET", "HEAD", "OPTIONS"}
    assert set(response.headers["Allow"].split(", ")) == allowed  # RFC 9110 asks for it
    assert set(client.open("/api/health", method="TRACE").headers["Allow"].split(", ")) == allowed


def test_without_an_index_search_is_empty_and_articles_404(tmp_path):
    client = create_app({"TESTING": True, "INDEX_DIR": str(tmp_path / "none")}).test_client()
    assert client.get("/api/health").get_json() == {
        "status": "ok", "articles": 0, "last_commit": None, "index_version": SCHEMA_VERSION}
    assert client.get("/api/sources").get_json() == {"sources": []}
    data = client.get("/api/search?q=oil").get_json()
    assert (data["total"], data["results"], data["next"]) == (0, [], None)
    assert client.get("/api/articles/abc").status_code == 404


def test_new_commits_are_seen_without_restart(client, index_dir):
    from search_service.article import Article
    from search_service.index.schema import open_index
    from search_service.index.writer import write_articles

    assert client.get("/api/search?q=zeppelin").get_json()["total"] == 0
    story = Article(url="https://late.example/z", canonical_url="https://late.example/z",
                    title="Zeppelin returns", body="An airship flew over the lake. " * 10)
    write_articles(open_index(index_dir), [story])
    assert client.get("/api/search?q=zeppelin").get_json()["total"] == 1
    assert client.get("/api/health").get_json()["articles"] == 28


def test_etag_revalidates_until_the_next_commit(client, index_dir):
    from search_service.article import Article
    from search_service.index.schema import open_index
    from search_service.index.writer import write_articles

    first = client.get("/api/search?q=oil")
    tag = first.headers["ETag"]
    assert first.headers["Cache-Control"] == "no-cache"
    again = client.get("/api/search?q=oil", headers={"If-None-Match": tag})
    assert (again.status_code, again.data) == (304, b"")
    assert client.get("/api/search?q=nato").headers["ETag"] != tag
    write_articles(open_index(index_dir), [Article(
        url="https://late.example/o", canonical_url="https://late.example/o",
        title="Oil output rises", body="Oil output rose in the north sea. " * 8)])
    after = client.get("/api/search?q=oil", headers={"If-None-Match": tag})
    assert after.status_code == 200 and after.get_json()["total"] == 3


LINK_ARGS = [
    {"page": 2},
    {"page": 3, "q": ["oil prices"], "from": ["last week"]},
    {"q": ['"run hard" -gas & co/op?=1#x'], "source": ["Hostile <b>Herald</b>", "ü wire"],
     "cursor": "abc+/=="},
    {"q": ["ёлка 😀 \u2028"], "page": 1, "lang": [""], "sort": None},
    {"q": ["!$'()*,/:;?@ %25 +"]},
    {},
]


@pytest.mark.parametrize("script_root", ["", "/news"])
@pytest.mark.parametrize("endpoint", ["api.api_search", "pages.search_page",
                                      "pages.search_atom"])
def test_links_are_the_strings_url_for_builds(app, endpoint, script_root):
    from flask import url_for

    from search_service.web.data import link

    with app.test_request_context("/api/search?q=x", environ_base={"SCRIPT_NAME": script_root}):
        for args in LINK_ARGS:
            assert link(endpoint, args) == url_for(endpoint, **args)
