"""/api/search before any article is indexed (no index directory yet, or an index without
articles) answers the whole documented shape, the same fields as any other search."""

from __future__ import annotations

import pytest

from search_service.index.schema import open_index
from search_service.web import create_app

QUERY = "/api/search?q=oil&from=2024-01-01&to=2024-12-31&source=wire&lang=en&per_page=5"
EMPTY = {
    "query": "oil", "total": 0, "page": 1, "per_page": 5, "sort": "best",
    "from": "2024-01-01T00:00:00+00:00", "to": "2024-12-31T23:59:59.999999+00:00",
    "sources": ["wire"], "lang": "en", "partial": False, "suggestion": None, "expanded": [],
    "results": [], "next": None, "prev": None, "warnings": [],
}


@pytest.fixture(params=["no index", "index without articles"])
def empty_client(request, tmp_path):
    """A client of the app before anything was indexed."""
    path = tmp_path / "empty-index"
    if request.param == "index without articles":
        open_index(path, create=True)
    return create_app({"TESTING": True, "INDEX_DIR": str(path)}).test_client()


def test_empty_search_answers_the_whole_shape(empty_client):
    response = empty_client.get(QUERY)
    assert response.status_code == 200
    data = response.get_json()
    assert isinstance(data.pop("took_ms"), float)
    assert data == EMPTY


def test_empty_answer_has_the_fields_of_a_full_one(empty_client, client):
    full = client.get(QUERY + "&facets=1").get_json()
    empty = empty_client.get(QUERY + "&facets=1").get_json()
    assert list(empty) == list(full)
    assert empty["facets"] == {"sources": [], "collections": [],
                              "dates": {"bucket": None, "counts": []}}


def test_browsing_an_empty_index_sorts_newest_as_any_browse_does(empty_client):
    assert empty_client.get("/api/search").get_json()["sort"] == "newest"
