"""CORS on the JSON API: off by default, exact headers when on, preflight for GET."""

from __future__ import annotations

import pytest

from search_service.web import create_app
from search_service.web.cors import parse_origin

APP_ORIGIN = "https://app.example"


def cors_headers(response) -> dict[str, str]:
    """The response's CORS headers (and Vary), by name."""
    return {name: value for name, value in response.headers.items()
            if name.startswith("Access-Control-") or name == "Vary"}


def make_client(index_dir, origins):
    return create_app({"TESTING": True, "INDEX_DIR": str(index_dir),
                       "CORS_ORIGINS": origins}).test_client()


def test_off_by_default_no_cors_header_at_all(client, monkeypatch):
    response = client.get("/api/search?q=oil", headers={"Origin": APP_ORIGIN})
    assert response.status_code == 200
    assert cors_headers(response) == {}
    preflight = client.options("/api/search", headers={
        "Origin": APP_ORIGIN, "Access-Control-Request-Method": "GET"})
    assert not [h for h in preflight.headers.keys() if h.startswith("Access-Control-")]


def test_off_unless_the_environment_says_otherwise(index_dir, monkeypatch):
    monkeypatch.setenv("NEWS_SEARCH_CORS_ORIGINS", f"{APP_ORIGIN}, https://other.example")
    client = create_app({"TESTING": True, "INDEX_DIR": str(index_dir)}).test_client()
    response = client.get("/api/health", headers={"Origin": "https://other.example"})
    assert cors_headers(response) == {"Access-Control-Allow-Origin": "https://other.example",
                                      "Vary": "Origin"}


def test_listed_origin_gets_itself_back_with_vary(index_dir):
    client = make_client(index_dir, [APP_ORIGIN, "https://other.example"])
    response = client.get("/api/search?q=oil", headers={"Origin": APP_ORIGIN})
    assert response.status_code == 200
    assert cors_headers(response) == {"Access-Control-Allow-Origin": APP_ORIGIN,
                                      "Vary": "Origin"}
    # Errors are readable too, so a page can show the message.
    error = client.get("/api/search?q=oil&per_page=500", headers={"Origin": APP_ORIGIN})
    assert error.status_code == 400
    assert cors_headers(error) == {"Access-Control-Allow-Origin": APP_ORIGIN, "Vary": "Origin"}
    # A revalidation that answers 304 carries them as well.
    tag = response.headers["ETag"]
    again = client.get("/api/search?q=oil", headers={"Origin": APP_ORIGIN,
                                                     "If-None-Match": tag})
    assert again.status_code == 304
    assert cors_headers(again) == {"Access-Control-Allow-Origin": APP_ORIGIN, "Vary": "Origin"}


def test_other_origin_and_no_origin_get_no_allowance_but_vary(index_dir):
    client = make_client(index_dir, [APP_ORIGIN])
    other = client.get("/api/search?q=oil", headers={"Origin": "https://evil.example"})
    assert other.status_code == 200
    assert cors_headers(other) == {"Vary": "Origin"}
    # The same site's own requests (no Origin) must not be cached for cross-site ones.
    assert cors_headers(client.get("/api/search?q=oil")) == {"Vary": "Origin"}
    # Scheme and port are part of the origin.
    assert cors_headers(client.get("/api/health", headers={
        "Origin": "http://app.example"})) == {"Vary": "Origin"}


def test_pages_never_get_cors_headers(index_dir):
    client = make_client(index_dir, ["*"])
    response = client.get("/?q=oil", headers={"Origin": APP_ORIGIN})
    assert response.status_code == 200
    assert cors_headers(response) == {}


def test_wildcard_allows_any_origin_without_vary(index_dir):
    client = make_client(index_dir, ["*"])
    response = client.get("/api/sources", headers={"Origin": "https://anyone.example"})
    assert cors_headers(response) == {"Access-Control-Allow-Origin": "*"}


def test_preflight_for_get(index_dir):
    client = make_client(index_dir, [APP_ORIGIN])
    response = client.options("/api/search?q=oil", headers={
        "Origin": APP_ORIGIN, "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "if-none-match"})
    assert response.status_code == 204
    assert response.data == b""
    assert cors_headers(response) == {
        "Access-Control-Allow-Origin": APP_ORIGIN,
        "Access-Control-Allow-Methods": "GET, HEAD",
        "Access-Control-Allow-Headers": "Accept, Accept-Language, If-None-Match, "
                                        "If-Modified-Since",
        "Access-Control-Max-Age": "600",
        "Vary": "Origin",
    }


@pytest.mark.parametrize("origin, method", [
    ("https://evil.example", "GET"),   # not listed
    (APP_ORIGIN, "POST"),              # the API does not write
    (APP_ORIGIN, "DELETE"),
])
def test_preflight_refused(index_dir, origin, method):
    client = make_client(index_dir, [APP_ORIGIN])
    response = client.options("/api/articles/abc", headers={
        "Origin": origin, "Access-Control-Request-Method": method})
    assert response.status_code == 204
    assert cors_headers(response) == {"Vary": "Origin"}


def test_a_post_is_still_refused_with_cors_on(index_dir):
    client = make_client(index_dir, ["*"])
    response = client.post("/api/search?q=oil", headers={"Origin": APP_ORIGIN})
    assert response.status_code == 405
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert response.get_json()["error"]["status"] == 405


@pytest.mark.parametrize("text, origin", [
    ("*", "*"),
    ("https://App.Example/", "https://app.example"),
    ("http://localhost:5173", "http://localhost:5173"),
    ("http://[::1]:8080", "http://[::1]:8080"),
])
def test_parse_origin(text, origin):
    assert parse_origin(text) == origin


@pytest.mark.parametrize("text", ["app.example", "https://app.example/path", "null",
                                  "ftp://app.example", "https://app.example:port", ""])
def test_parse_origin_refuses_what_is_not_an_origin(text, index_dir):
    with pytest.raises(ValueError, match="not an origin"):
        parse_origin(text)
    with pytest.raises(ValueError, match="not an origin"):
        create_app({"INDEX_DIR": str(index_dir), "CORS_ORIGINS": [text]})
