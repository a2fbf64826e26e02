"""Response headers that keep untrusted page text inert: CSP, no sniffing, no framing."""

from __future__ import annotations

from flask import Flask, Response

from search_service.web.headers import add_missing

#: No inline script or style anywhere; everything comes from this server.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


def register(app: Flask) -> None:
    """Add the security headers to every response."""

    @app.after_request
    def secure(response: Response) -> Response:
        add_missing(response, HEADERS)
        return response
