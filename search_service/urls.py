"""URL canonicalisation: one spelling per page before anything is queued."""

from __future__ import annotations

import logging
from urllib.parse import urlsplit, urlunsplit

from w3lib.url import canonicalize_url, url_query_cleaner

log = logging.getLogger(__name__)

#: Query parameters that only track where a click came from.
TRACKING_PARAMS = ("fbclid", "gclid", "dclid", "msclkid", "mc_cid", "mc_eid", "igshid", "yclid")
#: Parameter name prefixes that only track (``utm_source``, ``utm_medium``, …).
TRACKING_PREFIXES = ("utm_",)
DEFAULT_PORTS = {"http": 80, "https": 443}


def canonical_url(url: str) -> str:
    """Return `url` with lower-case scheme and host, no default port, fragment or tracking
    parameters, and its query sorted."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    try:
        port = parts.port
    except ValueError:
        port = None
    netloc = host if port in (None, DEFAULT_PORTS.get(scheme)) else f"{host}:{port}"
    if parts.username:
        netloc = f"{parts.username}@{netloc}"
    query = _drop_tracking(parts.query)
    cleaned = urlunsplit((scheme, netloc, parts.path or "/", query, ""))
    return canonicalize_url(cleaned, keep_fragments=False)


def _drop_tracking(query: str) -> str:
    """Remove tracking parameters from a query string, keeping the others in order."""
    if not query:
        return ""
    names = {pair.split("=", 1)[0] for pair in query.split("&")}
    tracking = [n for n in names if n.lower() in TRACKING_PARAMS
                or n.lower().startswith(TRACKING_PREFIXES)]
    if not tracking:
        return query
    return urlsplit(url_query_cleaner("http://x/?" + query, tracking, remove=True)).query


def host_of(url: str) -> str:
    """Return the lower-case host name of `url` ('' if it has none)."""
    return (urlsplit(url).hostname or "").lower()


def in_domains(url: str, domains: tuple[str, ...]) -> bool:
    """Tell whether `url`'s host is one of `domains` or a subdomain of one."""
    host = host_of(url)
    return any(host == d or host.endswith("." + d) for d in domains)
