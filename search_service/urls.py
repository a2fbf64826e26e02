"""The one home of URL and host rules: the crawler's canonical spelling of a URL, a page's
declared canonical URL, and a URL's host (as the network sees it, and as a source key).

Two pairs of functions look alike on purpose, because they answer different questions:

- `canonical_url(url)` is the crawler's normal spelling of a URL (lower-case host, no default
  port, fragment or tracking parameters, sorted query), so one page is queued and fetched
  once. `declared_canonical(declared, url)` is the address a page says it lives at (its
  `<link rel=canonical>`), resolved against its own URL but otherwise kept as the publisher
  wrote it: an article's id is derived from it, so rewriting it would change every id.
- `host_of(url)` is the network host, `www.` kept: robots.txt, politeness delays and the
  allowed domains of a crawl are per host, and `www.example.com` is another host than
  `example.com`. `site_of(url)` drops a leading `www.`: it names the publication in the index
  (the `host` field and the default source key), where both spellings are the same site.
"""

from __future__ import annotations

import logging
from urllib.parse import urljoin, urlsplit, urlunsplit

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


def declared_canonical(declared: str, url: str) -> str:
    """Resolve the page's declared canonical URL against its own; ignore unusable ones."""
    if not declared:
        return url
    try:
        resolved = urljoin(url, declared) if url else declared
        if urlsplit(resolved).scheme not in ("http", "https"):
            return url
    except ValueError:  # e.g. a malformed IPv6 host
        return url
    return resolved


def host_of(url: str) -> str:
    """Return the lower-case network host of `url`, `www.` kept ('' if it has none or
    cannot be split)."""
    try:
        return (urlsplit(url).hostname or "").lower()
    except ValueError:  # e.g. a malformed IPv6 host
        return ""


def site_of(url: str) -> str:
    """Return the lower-case host of `url` without a leading `www.`: the site as a source
    key ('' if it has none or cannot be split)."""
    host = host_of(url)
    return host[4:] if host.startswith("www.") else host


def in_domains(url: str, domains: tuple[str, ...]) -> bool:
    """Tell whether `url`'s host is one of `domains` or a subdomain of one."""
    host = host_of(url)
    return any(host == d or host.endswith("." + d) for d in domains)
