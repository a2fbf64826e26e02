"""Error handling: one JSON error shape for /api, friendly HTML pages elsewhere."""

from __future__ import annotations

import logging

from flask import Flask, jsonify, make_response, render_template, request
from markupsafe import escape
from werkzeug.exceptions import HTTPException

from search_service.index.schema import IndexMissing, IndexVersionError
from search_service.search.params import NotFound, QueryError

log = logging.getLogger(__name__)


def error_response(status: int, message: str):
    """Return the error as JSON under /api, as a friendly page elsewhere."""
    if request.path.startswith("/api/"):
        return jsonify({"error": {"status": status, "message": message}}), status
    try:
        return render_template("error.html", status=status, message=message), status
    except Exception:  # the templates themselves are missing or broken: say so plainly
        log.exception("cannot render the error page for a %s", status)
        page = (f"<!doctype html>\n<title>{status} – News search</title>\n"
                f"<h1>Error {status}</h1>\n<p>{escape(message)}</p>\n")
        return page, status


def register(app: Flask) -> None:
    """Install the app's error handlers."""

    @app.errorhandler(QueryError)
    def bad_query(exc: QueryError):
        return error_response(400, str(exc))

    @app.errorhandler(NotFound)
    @app.errorhandler(IndexMissing)
    def not_found(exc: Exception):
        return error_response(404, str(exc))

    @app.errorhandler(IndexVersionError)
    def wrong_version(exc: IndexVersionError):
        return error_response(503, str(exc))

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        response = make_response(error_response(exc.code or 500, exc.description or exc.name))
        for name, value in exc.get_headers():  # e.g. Allow on a 405, as RFC 9110 requires
            if name.lower() != "content-type":
                response.headers[name] = value
        return response

    @app.errorhandler(Exception)
    def server_error(exc: Exception):
        log.exception("unhandled error on %s", request.path)
        return error_response(500, "internal error: the server could not answer this request")
