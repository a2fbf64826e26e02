"""The OpenAPI 3.1 description of the JSON API, served at /api/openapi.json."""

from __future__ import annotations

from typing import Any

from search_service import config
from search_service.article import DATE_SOURCES
from search_service.search.params import SORTS

NULLABLE_STRING = {"type": ["string", "null"]}


def _param(name: str, schema: dict[str, Any], description: str, **extra: Any) -> dict:
    """One query parameter."""
    return {"name": name, "in": "query", "required": False, "schema": schema,
            "description": description, **extra}


def _json(schema_name: str, description: str) -> dict:
    """A JSON response whose body is the named component schema."""
    return {"description": description, "content": {"application/json": {
        "schema": {"$ref": f"#/components/schemas/{schema_name}"}}}}


ERRORS = {
    "400": _json("Error", "A bad query, date or parameter (out of its limits, or a page "
                 "deeper than the paging depth)"),
    "404": _json("Error", "No such article"),
}
ARTICLE_ID = {"name": "article_id", "in": "path", "required": True,
              "schema": {"type": "string"}, "description": "An article id from a search"}

RESULT = {
    "type": "object",
    "required": ["id", "url", "title", "title_html", "snippet_html", "published", "source",
                 "similar_count"],
    "properties": {
        "id": {"type": "string"},
        "url": {"type": "string"},
        "title": {"type": "string", "description": "Plain text (escape it to show it)"},
        "title_html": {"type": "string", "description": "Safe HTML: escaped, with <mark>"},
        "snippet_html": {"type": "string", "description": "Safe HTML: escaped, with <mark>"},
        "published": {**NULLABLE_STRING, "format": "date-time"},
        "source": {"type": "string"},
        "similar_count": {"type": "integer", "minimum": 0,
                          "description": "Near-duplicates collapsed into this result"},
    },
    "additionalProperties": False,
}
SEARCH = {
    "type": "object",
    "required": ["query", "total", "page", "per_page", "sort", "from", "to", "sources", "lang",
                 "partial", "suggestion", "took_ms", "results", "next", "prev", "warnings"],
    "properties": {
        "query": {"type": "string"},
        "total": {"type": "integer", "minimum": 0},
        "page": {"type": "integer", "minimum": 1},
        "per_page": {"type": "integer", "minimum": 1, "maximum": config.MAX_PER_PAGE},
        "sort": {"enum": list(SORTS)},
        "from": {**NULLABLE_STRING, "format": "date-time"},
        "to": {**NULLABLE_STRING, "format": "date-time"},
        "sources": {"type": "array", "items": {"type": "string"}},
        "lang": NULLABLE_STRING,
        "partial": {"type": "boolean"},
        "suggestion": NULLABLE_STRING,
        "expanded": {"type": "array", "description": "Query words searched with a country's "
                     "other name or demonym (canada: canadian); see expand", "items": {
                         "type": "object", "required": ["word", "added"],
                         "properties": {"word": {"type": "string",
                                                 "description": "As indexed (stemmed)"},
                                        "added": {"type": "array",
                                                  "items": {"type": "string"}}},
                         "additionalProperties": False}},
        "feedback": {"type": "array", "items": {"type": "string"},
                     "description": "With feedback=1: the words added from the best stories"},
        "took_ms": {"type": "number", "minimum": 0},
        "results": {"type": "array", "items": {"$ref": "#/components/schemas/Result"}},
        "next": NULLABLE_STRING,
        "prev": NULLABLE_STRING,
        "facets": {"$ref": "#/components/schemas/Facets"},
        "warnings": {"type": "array", "items": {
            "type": "object", "required": ["message", "query"],
            "properties": {"message": {"type": "string"},
                           "query": {"type": "string",
                                     "description": "The query as probably meant"}}}},
        "explain": {"$ref": "#/components/schemas/Explain"},
        "next_cursor": {**NULLABLE_STRING,
                        "description": "With cursor paging: pass it as cursor for the next "
                                       "page (null on the last)"},
    },
    "additionalProperties": False,
}
EXPLAIN = {
    "type": "object",
    "required": ["parsed", "reading", "notes", "filters", "expanded"],
    "properties": {
        "parsed": {"type": "string", "description": "The query as searched (expanded), in "
                                                    "Whoosh's notation"},
        "reading": {"type": "string", "description": "How the query was read, in words"},
        "notes": {"type": "array", "items": {"type": "string"}},
        "filters": {"type": "array", "items": {"type": "string"}},
        "expanded": SEARCH["properties"]["expanded"],
    },
    "additionalProperties": False,
}
FACETS = {
    "type": "object",
    "required": ["sources", "collections", "dates"],
    "properties": {
        "sources": {"type": "array", "items": {
            "type": "object", "required": ["source", "count"],
            "properties": {"source": {"type": "string"}, "count": {"type": "integer"}}}},
        "collections": {"type": "array", "items": {
            "type": "object", "required": ["collection", "count"],
            "properties": {"collection": {"type": "string"}, "count": {"type": "integer"}}}},
        "dates": {"type": "object", "required": ["bucket", "counts"], "properties": {
            "bucket": {"enum": ["day", "week", "month", "year", None]},
            "counts": {"type": "array", "items": {
                "type": "object", "required": ["start", "end", "count"],
                "properties": {"start": {"type": "string", "format": "date"},
                               "end": {"type": "string", "format": "date"},
                               "count": {"type": "integer", "minimum": 0}}}}}},
    },
}
BUCKET = {
    "type": "object",
    "required": ["start", "end", "count", "total", "share"],
    "properties": {
        "start": {"type": "string", "format": "date"},
        "end": {"type": "string", "format": "date", "description": "The bucket's last day"},
        "count": {"type": "integer", "minimum": 0,
                  "description": "Matching stories (near-duplicates once, as the search "
                                 "total counts them)"},
        "total": {"type": "integer", "minimum": 0,
                  "description": "All stories passing the same filters (without the words)"},
        "share": {"type": "number", "minimum": 0, "maximum": 1,
                  "description": "count / total (0 for an empty bucket)"},
    },
    "additionalProperties": False,
}
TIMELINE = {
    "type": "object",
    "required": ["query", "interval", "total", "undated", "buckets"],
    "properties": {
        "query": {"type": "string"},
        "interval": {"enum": ["day", "week", "month"]},
        "total": {"type": "integer", "minimum": 0, "description": "The search total"},
        "undated": {"type": "integer", "minimum": 0,
                    "description": "Matching stories without a date (in no bucket)"},
        "buckets": {"type": "array", "items": {"$ref": "#/components/schemas/Bucket"}},
    },
    "additionalProperties": False,
}
COMPARE = {
    "type": "object",
    "required": ["interval", "queries"],
    "properties": {
        "interval": {"enum": ["day", "week", "month"]},
        "queries": {"type": "array", "minItems": 1, "maxItems": 5, "items": {
            "type": "object",
            "required": ["query", "total", "timeline", "sources", "results"],
            "properties": {
                "query": {"type": "string"},
                "total": {"type": "integer", "minimum": 0},
                "timeline": {"type": "array",
                             "items": {"$ref": "#/components/schemas/Bucket"}},
                "sources": {"type": "array", "items": {
                    "type": "object", "required": ["source", "count"],
                    "properties": {"source": {"type": "string"},
                                   "count": {"type": "integer", "minimum": 1}}}},
                "results": {"type": "array",
                            "items": {"$ref": "#/components/schemas/Result"}},
            },
            "additionalProperties": False}},
    },
    "additionalProperties": False,
}
TERMS = {
    "type": "object",
    "required": ["query", "statistic", "matches", "sampled", "background", "terms"],
    "properties": {
        "query": {"type": "string"},
        "statistic": {"const": "JLH"},
        "matches": {"type": "integer", "minimum": 0, "description": "Matching stories"},
        "sampled": {"type": "integer", "minimum": 0,
                    "description": "Matching stories read (a seeded sample when many)"},
        "background": {"type": "integer", "minimum": 0,
                       "description": "Stories of the index's background sample"},
        "terms": {"type": "array", "items": {
            "type": "object", "required": ["term", "score", "matches", "background"],
            "properties": {
                "term": {"type": "string", "description": "A word or a two-word phrase"},
                "score": {"type": "number", "description": "JLH: (fg - bg) * fg / bg"},
                "matches": {"type": "integer", "minimum": 1,
                            "description": "Sampled matching stories containing it"},
                "background": {"type": "integer", "minimum": 0,
                               "description": "Background stories containing it"}},
            "additionalProperties": False}},
    },
    "additionalProperties": False,
}
ARTICLE = {
    "type": "object",
    "required": ["id", "url", "canonical_url", "title", "body", "paragraphs", "published",
                 "modified", "published_source", "authors", "source", "host", "language",
                 "summary", "original_id"],
    "properties": {
        "id": {"type": "string"}, "url": {"type": "string"},
        "canonical_url": {"type": "string"}, "title": {"type": "string"},
        "body": {"type": "string"},
        "paragraphs": {"type": "array", "items": {"type": "string"}},
        "published": {**NULLABLE_STRING, "format": "date-time"},
        "modified": {**NULLABLE_STRING, "format": "date-time"},
        "published_source": {
            **NULLABLE_STRING, "enum": [*DATE_SOURCES, None],
            "description": "Where the publication date came from (null: no date)"},
        "authors": {"type": "array", "items": {"type": "string"}},
        "source": {"type": "string"}, "host": {"type": "string"},
        "language": {"type": "string"}, "summary": {"type": "string"},
        "original_id": {**NULLABLE_STRING,
                        "description": "The story's first copy, if this is a near-duplicate"},
    },
    "additionalProperties": False,
}


def openapi_document(max_depth: int = config.MAX_DEPTH) -> dict[str, Any]:
    """Describe every endpoint, parameter and response of the JSON API (whose results are
    paged at most `max_depth` deep)."""
    depth = (f"page × per_page must not exceed {max_depth} (results are paged at most "
             f"{max_depth} deep; a deeper page is a 400)")
    search_params = [
        _param("q", {"type": "string", "maxLength": config.MAX_QUERY_CHARS},
               "Whoosh query syntax over title and body (AND by default); empty lists all. "
               f"At most {config.MAX_QUERY_CHARS} characters"),
        _param("page", {"type": "integer", "minimum": 1,
                        "maximum": min(config.MAX_PAGE, max_depth), "default": 1},
               f"Result page, from 1; {depth}"),
        _param("per_page", {"type": "integer", "minimum": 1,
                            "maximum": min(config.MAX_PER_PAGE, max_depth),
                            "default": config.DEFAULT_PER_PAGE},
               f"Results a page; {depth}"),
        _param("sort", {"enum": list(SORTS), "default": "best"},
               "best: relevance bands (stories within 10% of a band's best score), newest "
               "first inside each; relevance; newest; oldest"),
        _param("from", {"type": "string"}, "Published from: 2023-07-15, 2023-07, 2023, "
               "an ISO timestamp, today, yesterday, last week, past 24 hours"),
        _param("to", {"type": "string"}, "Published up to (a partial date means its end)"),
        _param("source", {"type": "array", "items": {"type": "string"}},
               "Site name or host (repeatable)", style="form", explode=True),
        _param("lang", {"type": "string"}, "Language code"),
        _param("collection", {"type": "array", "items": {"type": "string", "maxLength": 64}},
               "Source collection (repeatable)", style="form", explode=True),
    ]
    flags = {"type": "string", "enum": ["", "0", "1", "true", "false"]}
    export_params = [p for p in search_params if p["name"] not in ("page", "per_page", "sort")]
    export_params += [
        _param("sort", {"enum": ["newest", "oldest"], "default": "newest"},
               "Story order (undated stories last)"),
        _param("format", {"enum": ["csv", "jsonl"], "default": "csv"},
               "CSV (a header row; lists joined by '; ') or JSON lines"),
        _param("body", flags, "1 adds each story's text"),
    ]
    search_params += [
        _param("facets", flags, "1 adds source and collection counts and a date histogram"),
        _param("explain", flags, "1 adds how the query was read, in words"),
        _param("expand", flags, "0 searches country names and demonyms only as typed "
               "(by default canada also finds Canadian, dutch also Netherlands)"),
        _param("feedback", flags, "1 re-ranks with words of the best stories "
               "(pseudo-relevance feedback; a second pass)"),
        _param("cursor", {"type": "string", "maxLength": 400},
               "Cursor paging past the depth limit: * starts, then each answer's "
               "next_cursor; needs sort newest or oldest (the default with a cursor), no page"),
    ]
    filters = [p for p in search_params if p["name"] in ("from", "to", "source", "lang",
                                                          "collection", "expand")]
    export_params.insert(-3, next(p for p in filters if p["name"] == "expand"))
    interval = _param("interval", {"enum": ["", "auto", "day", "week", "month"],
                                   "default": "auto"},
                      "Bucket size; auto (or empty) picks day, week or month from the span "
                      "(at most 1000 buckets)")
    return {
        "openapi": "3.1.0",
        "info": {"title": "news-search", "version": "1",
                 "description": "Search the articles of a self-hosted news search service."},
        "paths": {
            "/api/search": {"get": {
                "summary": "Search articles", "operationId": "search",
                "parameters": search_params,
                "responses": {"200": _json("SearchResponse", "One page of results"),
                              "400": ERRORS["400"]}}},
            "/api/export": {"get": {
                "summary": "Every matching story as a file", "operationId": "export",
                "description": "One row per story (near-duplicate copies collapsed, as the "
                               "search total counts them), in a stable order, streamed.",
                "parameters": export_params,
                "responses": {"200": {"description": "The stories", "content": {
                    "text/csv": {"schema": {"type": "string"}},
                    "application/x-ndjson": {"schema": {"type": "string"}}}},
                    "400": ERRORS["400"]}}},
            "/api/articles/{article_id}": {"get": {
                "summary": "One article", "operationId": "article",
                "parameters": [ARTICLE_ID],
                "responses": {"200": _json("Article", "The article"), **ERRORS}}},
            "/api/articles/{article_id}/related": {"get": {
                "summary": "Related articles", "operationId": "related",
                "parameters": [ARTICLE_ID, _param(
                    "limit", {"type": "integer", "minimum": 1, "maximum": 50, "default": 5},
                    "How many"), _param(
                    "recency", {"type": "string", "enum": ["0", "1", "true", "false"]},
                    "Prefer stories published close in time to this one")],
                "responses": {"200": _json("Related", "Most similar first"), **ERRORS}}},
            "/api/timeline": {"get": {
                "summary": "Matching stories per day, week or month, and their share",
                "operationId": "timeline",
                "parameters": [search_params[0], interval, *filters, _param(
                    "format", {"enum": ["", "json", "csv"], "default": "json"},
                    "csv: one row a bucket (start,end,count,total,share)")],
                "responses": {"200": {**_json("Timeline", "Every bucket of the span"),
                                      "content": {
                                          **_json("Timeline", "")["content"],
                                          "text/csv": {"schema": {"type": "string"}}}},
                              "400": ERRORS["400"]}}},
            "/api/compare": {"get": {
                "summary": "Up to five queries side by side", "operationId": "compare",
                "parameters": [
                    _param("q", {"type": "array", "items": {"type": "string"},
                                 "minItems": 1, "maxItems": 5},
                           "A query (repeat for 1 to 5)", style="form", explode=True),
                    interval, *filters],
                "responses": {"200": _json("Compare", "One entry per query, in order"),
                              "400": ERRORS["400"]}}},
            "/api/terms": {"get": {
                "summary": "Words and phrases unusually frequent in the matches",
                "operationId": "terms",
                "parameters": [search_params[0], _param(
                    "limit", {"type": "integer", "minimum": 1, "maximum": 100, "default": 20},
                    "Terms to list"), *filters],
                "responses": {"200": _json("Terms", "Most significant first (JLH)"),
                              "400": ERRORS["400"]}}},
            "/api/sources": {"get": {
                "summary": "Articles per source", "operationId": "sources",
                "responses": {"200": _json("Sources", "Most articles first")}}},
            "/api/health": {"get": {
                "summary": "Health and index state", "operationId": "health",
                "responses": {"200": _json("Health", "Always ok while serving")}}},
            "/api/openapi.json": {"get": {
                "summary": "This document", "operationId": "openapi",
                "responses": {"200": {"description": "OpenAPI 3.1",
                                      "content": {"application/json": {}}}}}},
        },
        "components": {"schemas": {
            "Result": RESULT,
            "SearchResponse": SEARCH,
            "Facets": FACETS,
            "Explain": EXPLAIN,
            "Article": ARTICLE,
            "Bucket": BUCKET,
            "Timeline": TIMELINE,
            "Compare": COMPARE,
            "Terms": TERMS,
            "Related": {"type": "object", "required": ["id", "results"], "properties": {
                "id": {"type": "string"},
                "results": {"type": "array", "items": {"$ref": "#/components/schemas/Result"}}},
                "additionalProperties": False},
            "Sources": {"type": "object", "required": ["sources"], "properties": {
                "sources": {"type": "array", "items": {
                    "type": "object", "required": ["source", "articles"],
                    "properties": {"source": {"type": "string"},
                                   "articles": {"type": "integer", "minimum": 0}}}}}},
            "Health": {"type": "object",
                       "required": ["status", "articles", "last_commit", "index_version"],
                       "properties": {
                           "status": {"const": "ok"},
                           "articles": {"type": "integer", "minimum": 0},
                           "last_commit": {**NULLABLE_STRING, "format": "date-time"},
                           "index_version": {"type": "integer"}},
                       "additionalProperties": False},
            "Error": {"type": "object", "required": ["error"], "properties": {
                "error": {"type": "object", "required": ["status", "message"], "properties": {
                    "status": {"type": "integer"}, "message": {"type": "string"}},
                    "additionalProperties": False}},
                "additionalProperties": False},
        }},
    }
