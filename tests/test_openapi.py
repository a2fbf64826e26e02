"""The OpenAPI document: valid by a real validator, and live responses match its schemas."""

from __future__ import annotations

import pytest
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate

from search_service.article import article_id
from tests.support.paths import SEED_URL

SEED_ID = article_id(SEED_URL)


@pytest.fixture
def document(client) -> dict:
    """The served OpenAPI document."""
    response = client.get("/api/openapi.json")
    assert response.status_code == 200
    return response.get_json()


def test_document_is_valid_openapi(document):
    validate(document)  # raises on any error
    assert set(document["paths"]) == {
        "/api/search", "/api/export", "/api/articles/{article_id}",
        "/api/articles/{article_id}/related", "/api/sources", "/api/health",
        "/api/openapi.json", "/api/timeline", "/api/compare", "/api/terms"}


def test_every_api_route_is_described(app, document):
    routes = {rule.rule.replace("<article_id>", "{article_id}")
              for rule in app.url_map.iter_rules() if rule.rule.startswith("/api/")}
    assert routes == set(document["paths"])


@pytest.mark.parametrize("url, path, status", [
    ("/api/search?q=oil", "/api/search", "200"),
    ("/api/search?q=nato+OR+oil&facets=1&sort=newest&from=2023&source=Baltic+Wire",
     "/api/search", "200"),
    ("/api/search?q=vilnus", "/api/search", "200"),
    ("/api/search?q=oil+or+gas&explain=1&cursor=*&per_page=1", "/api/search", "200"),
    ("/api/search?q=oil&cursor=nope", "/api/search", "400"),
    ("/api/export?q=oil&format=xml", "/api/export", "400"),
    ("/api/search?q=", "/api/search", "200"),
    ("/api/search?q=oil&per_page=500", "/api/search", "400"),
    (f"/api/articles/{SEED_ID}", "/api/articles/{article_id}", "200"),
    ("/api/articles/nope", "/api/articles/{article_id}", "404"),
    (f"/api/articles/{SEED_ID}/related?limit=3", "/api/articles/{article_id}/related", "200"),
    (f"/api/articles/{SEED_ID}/related?limit=x", "/api/articles/{article_id}/related", "400"),
    ("/api/sources", "/api/sources", "200"),
    ("/api/health", "/api/health", "200"),
    ("/api/timeline?q=oil&interval=month", "/api/timeline", "200"),
    ("/api/timeline?q=oil&interval=day", "/api/timeline", "400"),  # 13,286 days
    ("/api/timeline?q=nato&source=Baltic+Wire&from=2023", "/api/timeline", "200"),
    ("/api/timeline?q=oil&interval=hour", "/api/timeline", "400"),
    ("/api/compare?q=oil&q=nato", "/api/compare", "200"),
    ("/api/compare?q=a&q=b&q=c&q=d&q=e&q=f", "/api/compare", "400"),
    ("/api/terms?q=gas&limit=5", "/api/terms", "200"),
    ("/api/terms?q=gas&limit=500", "/api/terms", "400"),
])
def test_live_responses_match_their_schemas(client, document, url, path, status):
    response = client.get(url)
    assert str(response.status_code) == status
    operation = document["paths"][path]["get"]
    schema = operation["responses"][status]["content"]["application/json"]["schema"]
    # The document's references are all "#/components/...": validate with them at the root.
    Draft202012Validator({**schema, "components": document["components"]}).validate(
        response.get_json())
