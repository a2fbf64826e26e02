"""Cross-origin reads of the JSON API (CORS): off unless origins are configured.

`CORS_ORIGINS` in the app config lists the origins (`https://app.example`) whose pages may
read `/api/*` responses, or holds `*` for any origin. When it is empty no CORS header is ever
sent. The API only reads, so only GET and HEAD are allowed and no credentials are involved.
"""

from __future__ import annotations

import re

from flask import Flask, Response, current_app, request

ALLOWED_METHODS = "GET, HEAD"
#: Request headers a cross-origin page may send (beyond the CORS-safelisted ones).
ALLOWED_HEADERS = "Accept, Accept-Language, If-None-Match, If-Modified-Since"
#: Seconds a browser may keep a preflight answer.
MAX_AGE = "600"

_ORIGIN = re.compile(r"https?://[A-Za-z0-9.\-]+(:\d{1,5})?|https?://\[[0-9A-Fa-f:.]+\](:\d{1,5})?")


def parse_origin(text: str) -> str:
    """Return `text` as an origin to allow (`*`, or scheme://host[:port], lower case, no
    trailing slash); raise ValueError if it is not one."""
    origin = text.strip()
    if origin == "*":
        return origin
    origin = origin.removesuffix("/")
    if not _ORIGIN.fullmatch(origin):
        raise ValueError(f"not an origin (scheme://host[:port], or *): {text!r}")
    return origin.lower()


def _allowed(origin: str) -> str | None:
    """The Access-Control-Allow-Origin value for a request from `origin`, or None."""
    origins = current_app.config.get("CORS_ORIGINS") or ()
    if "*" in origins:
        return "*"
    return origin if origin in origins else None


def _is_api() -> bool:
    return request.path.startswith("/api/")


def _is_preflight() -> bool:
    return request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers


def register(app: Flask) -> None:
    """Install the CORS hooks if `CORS_ORIGINS` is set (after validating every origin)."""
    origins = tuple(parse_origin(o) for o in app.config.get("CORS_ORIGINS") or ())
    app.config["CORS_ORIGINS"] = origins
    if not origins:
        return

    @app.before_request
    def preflight() -> Response | None:
        """Answer a CORS preflight (OPTIONS with Access-Control-Request-Method) on an API
        route: 204, with the allowance only for a listed origin asking for GET or HEAD."""
        if not _is_preflight() or not _is_api() or request.url_rule is None:
            return None
        response = Response(status=204)
        allowed = _allowed(request.headers.get("Origin", ""))
        method = request.headers["Access-Control-Request-Method"].strip().upper()
        if allowed and method in ("GET", "HEAD"):
            response.headers["Access-Control-Allow-Origin"] = allowed
            response.headers["Access-Control-Allow-Methods"] = ALLOWED_METHODS
            response.headers["Access-Control-Allow-Headers"] = ALLOWED_HEADERS
            response.headers["Access-Control-Max-Age"] = MAX_AGE
        return response

    @app.after_request
    def allow_origin(response: Response) -> Response:
        """Add Access-Control-Allow-Origin to API answers for allowed origins; with a list
        of origins the answer depends on Origin, so say so (Vary) to caches."""
        if not _is_api():
            return response
        if "*" not in origins:
            response.vary.add("Origin")
        allowed = _allowed(request.headers.get("Origin", ""))
        if allowed and not _is_preflight():  # a preflight has its own answer
            response.headers["Access-Control-Allow-Origin"] = allowed
        return response
