"""web/headers.py: the cheaper header helpers give exactly werkzeug's results, and the ETag
path answers conditional requests as before."""

from __future__ import annotations

import pytest
from flask import Response
from werkzeug.test import EnvironBuilder

from search_service.web.headers import add_missing, conditional, http_date_now, set_headers

#: Conditional and range request headers, alone and together.
REQUESTS = [
    {},
    {"If-None-Match": '"abc"'},
    {"If-None-Match": '"nope"'},
    {"If-None-Match": "*"},
    {"If-Match": '"abc"'},
    {"If-Match": '"nope"'},
    {"If-Modified-Since": "Wed, 02 Dec 2026 11:41:25 GMT"},
    {"If-Unmodified-Since": "Wed, 02 Dec 2020 11:41:25 GMT"},
    {"Range": "bytes=0-3"},
    {"If-Range": '"abc"', "Range": "bytes=0-3"},
]


def answered(environ, fast: bool) -> tuple[int, list[tuple[str, str]], bytes]:
    """A tagged response passed through `conditional` (fast) or `make_conditional`."""
    response = Response('{"a":1}\n', mimetype="application/json")
    response.set_etag("abc")
    response = conditional(response, environ) if fast else response.make_conditional(environ)
    headers = [(k, v) for k, v in response.headers.items() if k != "Date"]
    return response.status_code, sorted(headers), response.get_data()


@pytest.mark.parametrize("method", ["GET", "HEAD", "POST"])
@pytest.mark.parametrize("request_headers", REQUESTS)
def test_conditional_answers_as_make_conditional(method, request_headers):
    environ = EnvironBuilder("/api/search?q=oil", method=method,
                             headers=request_headers).get_environ()
    assert answered(environ, fast=True) == answered(environ, fast=False)
    fast = Response("x")
    conditional(fast, environ)
    assert ("Date" in fast.headers) == (method in ("GET", "HEAD"))


def test_http_date_now_is_werkzeugs_http_date():
    from werkzeug.http import http_date, parse_date

    for _ in range(3):  # equal unless a second turns in between; then a second apart
        ours, theirs = http_date_now(), http_date()
        if ours == theirs:
            break
    assert ours == theirs or (parse_date(theirs) - parse_date(ours)).total_seconds() == 1


def test_set_headers_replaces_and_add_missing_keeps():
    response = Response("x")
    response.headers["cache-control"] = "max-age=5"
    set_headers(response, {"Cache-Control": "no-cache", "ETag": '"t"'})
    add_missing(response, {"ETAG": '"other"', "X-Frame-Options": "DENY"})
    assert [(k, v) for k, v in response.headers.items() if k != "Content-Length"] == [
        ("Content-Type", "text/html; charset=utf-8"), ("Cache-Control", "no-cache"),
        ("ETag", '"t"'), ("X-Frame-Options", "DENY")]


def test_api_answers_304_412_and_200_with_the_headers_of_before(client):
    first = client.get("/api/search?q=oil")
    tag = first.headers["ETag"]
    assert first.headers["Cache-Control"] == "no-cache"
    assert first.headers["Date"] and first.headers["Content-Length"] == str(len(first.data))
    assert client.get("/api/search?q=oil", headers={"If-None-Match": tag}).status_code == 304
    assert client.get("/api/search?q=oil",
                      headers={"If-Match": '"other"'}).status_code == 412
    again = client.get("/api/search?q=oil", headers={"If-None-Match": '"other"'})
    assert (again.status_code, again.data) == (200, first.data)
