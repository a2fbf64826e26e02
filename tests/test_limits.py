"""Request limits (query length, per_page, paging depth) on the API and the page, their place
in the OpenAPI document, and the time limit's partial answers."""

from __future__ import annotations

import pytest
from bs4 import BeautifulSoup
from jsonschema import Draft202012Validator

from search_service.web import create_app

DEPTH_1000 = ("results can be paged at most 1000 deep (page × per_page ≤ 1000); "
              "narrow the query instead")


def make_client(index_dir, **settings):
    return create_app({"TESTING": True, "INDEX_DIR": str(index_dir), **settings}).test_client()


@pytest.mark.parametrize("url, message", [
    ("/api/search?q=oil&page=11&per_page=100",
     f"page 11 with per_page 100 reaches result 1100: {DEPTH_1000}"),
    ("/api/search?q=oil&page=101",
     f"page 101 with per_page 10 reaches result 1010: {DEPTH_1000}"),
    ("/api/search?q=oil&page=1001&per_page=1", "page must be between 1 and 1000"),
    ("/api/search?q=oil&per_page=101", "per_page must be between 1 and 100"),
    ("/api/search?q=" + "a" * 1001, "query too long (1001 characters, at most 1000)"),
])
def test_limits_are_400s_that_name_the_limit(client, url, message):
    response = client.get(url)
    assert response.status_code == 400
    assert response.get_json() == {"error": {"status": 400, "message": message}}


@pytest.mark.parametrize("url", [
    "/api/search?q=oil&page=10&per_page=100",
    "/api/search?q=oil&page=100",
    "/api/search?q=oil&page=1000&per_page=1",
    "/api/search?q=oil+" + "x" * 996,
])
def test_right_at_the_limits_is_fine(client, url):
    response = client.get(url)
    assert response.status_code == 200
    assert response.get_json()["results"] == []


def test_the_page_shows_the_same_limit_as_a_friendly_error(client):
    response = client.get("/?q=oil&page=11&per_page=100")
    assert response.status_code == 400
    assert response.mimetype == "text/html"
    text = " ".join(BeautifulSoup(response.data, "html.parser").get_text().split())
    assert f"page 11 with per_page 100 reaches result 1100: {DEPTH_1000}" in text


def test_depth_is_configurable_and_next_links_stop_there(index_dir, monkeypatch):
    client = make_client(index_dir, MAX_DEPTH=8)
    first = client.get("/api/search?q=said&per_page=4").get_json()
    assert first["total"] > 8
    second = client.get(first["next"]).get_json()
    assert (second["page"], second["next"]) == (2, None)
    third = client.get("/api/search?q=said&per_page=4&page=3")
    assert third.status_code == 400
    assert third.get_json()["error"]["message"] == (
        "page 3 with per_page 4 reaches result 12: results can be paged at most 8 deep "
        "(page × per_page ≤ 8); narrow the query instead")
    monkeypatch.setenv("NEWS_SEARCH_MAX_DEPTH", "30")
    from_env = create_app({"TESTING": True, "INDEX_DIR": str(index_dir)}).test_client()
    assert from_env.get("/api/search?q=said&per_page=10&page=3").status_code == 200
    assert from_env.get("/api/search?q=said&per_page=10&page=4").status_code == 400


@pytest.mark.parametrize("value", ["0", "-5", "deep"])
def test_a_bad_depth_in_the_environment_is_refused(index_dir, monkeypatch, value):
    monkeypatch.setenv("NEWS_SEARCH_MAX_DEPTH", value)
    with pytest.raises(ValueError, match="NEWS_SEARCH_MAX_DEPTH must be a positive integer"):
        create_app({"INDEX_DIR": str(index_dir)})


def test_a_bad_postings_bound_in_the_environment_is_refused(index_dir, monkeypatch):
    monkeypatch.setenv("NEWS_SEARCH_POSTINGS_MB", "lots")
    with pytest.raises(ValueError, match=r"\$NEWS_SEARCH_POSTINGS_MB must be a number of "
                                         r"megabytes, not 'lots'"):
        create_app({"INDEX_DIR": str(index_dir)})


def test_openapi_states_the_limits(index_dir):
    def search_schemas(client):
        document = client.get("/api/openapi.json").get_json()
        params = document["paths"]["/api/search"]["get"]["parameters"]
        return {p["name"]: p for p in params}

    params = search_schemas(make_client(index_dir))
    assert params["q"]["schema"]["maxLength"] == 1000
    assert params["page"]["schema"] == {"type": "integer", "minimum": 1, "maximum": 1000,
                                        "default": 1}
    assert params["per_page"]["schema"] == {"type": "integer", "minimum": 1, "maximum": 100,
                                            "default": 10}
    assert "page × per_page must not exceed 1000" in params["page"]["description"]
    shallow = search_schemas(make_client(index_dir, MAX_DEPTH=50))
    assert shallow["page"]["schema"]["maximum"] == 50
    assert shallow["per_page"]["schema"]["maximum"] == 50
    assert "page × per_page must not exceed 50" in shallow["per_page"]["description"]


def test_over_the_time_limit_the_api_returns_what_it_has_as_partial(index_dir):
    client = make_client(index_dir, SEARCH_TIME_LIMIT=0.0)
    response = client.get("/api/search?q=said")
    assert response.status_code == 200
    data = response.get_json()
    assert data["partial"] is True
    # Not to be kept: the next answer may be complete.
    assert response.headers["Cache-Control"] == "no-store"
    assert "ETag" not in response.headers
    document = client.get("/api/openapi.json").get_json()
    Draft202012Validator({"$ref": "#/components/schemas/SearchResponse",
                          "components": document["components"]}).validate(data)
    complete = make_client(index_dir).get("/api/search?q=said")
    assert complete.get_json()["partial"] is False
    assert complete.headers["Cache-Control"] == "no-cache" and complete.headers["ETag"]


PAST_THE_LIMIT = "query 'said' ran past its time limit of 0s; narrow it"
#: Every view that counts or lists every match: research views, cursor pages, exports.
EVERY_MATCH = ["/api/timeline?q=said", "/api/timeline?q=said&format=csv",
               "/api/compare?q=said&q=oil", "/api/terms?q=said", "/api/export?q=said",
               "/api/search?q=said&cursor=*", "/timeline?q=said", "/compare?q=said"]


@pytest.mark.parametrize("path", ["executor", "whoosh"])
@pytest.mark.parametrize("url", EVERY_MATCH)
def test_views_of_every_match_refuse_a_query_past_the_time_limit(index_dir, monkeypatch, url,
                                                                path):
    """Regression: research views, cursor pages and exports ignored SEARCH_TIME_LIMIT, so one
    pathological query could hold a worker without bound. They never answer in part (a count
    of part of the index would pass for the whole): a 400 with the search's words."""
    from search_service.search import cursor, executor, matches

    if path == "whoosh":
        def decline(*args, **kwargs):
            raise executor.Unsupported("declined by the test")

        monkeypatch.setattr(matches.executor, "match", decline)
        monkeypatch.setattr(cursor.executor, "filtered_matches", decline)
    response = make_client(index_dir, SEARCH_TIME_LIMIT=0.0).get(url)
    assert response.status_code == 400
    if url.startswith("/api/"):
        assert response.get_json() == {"error": {"status": 400, "message": PAST_THE_LIMIT}}
    else:
        assert PAST_THE_LIMIT in BeautifulSoup(response.data, "html.parser").get_text()
    assert make_client(index_dir).get(url).status_code == 200


@pytest.mark.parametrize("url", ["/api/timeline", "/api/terms?q=", "/api/export",
                                 "/api/search?cursor=*"])
def test_views_of_every_article_read_columns_only_and_have_no_time_limit(index_dir, url):
    assert make_client(index_dir, SEARCH_TIME_LIMIT=0.0).get(url).status_code == 200
