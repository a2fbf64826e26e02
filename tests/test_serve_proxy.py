"""`serve` behind a reverse proxy, over real HTTP: X-Forwarded-* headers count only from the
proxy named by --trusted-proxy; CORS and the paging depth from the command line."""

from __future__ import annotations

import re
import urllib.error
import urllib.request

from tests.support.servers import start

FORWARDED = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "news.example",
             "X-Forwarded-For": "203.0.113.7"}


def fetch(url: str, headers: dict[str, str]) -> tuple[int, dict[str, str], str]:
    """GET over real HTTP: status, headers, body (error statuses included)."""
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read().decode()


def test_forwarded_headers_count_only_from_the_trusted_proxy(built_index):
    trusting, base = start(["serve", "--index", str(built_index), "--trusted-proxy",
                            "127.0.0.1", "--cors-origin", "https://app.example",
                            "--max-depth", "20"])
    try:
        _, _, feed = fetch(base + "search.atom?q=oil", FORWARDED)
        assert 'href="https://news.example/search.atom?q=oil' in feed
        status, headers, _ = fetch(base + "api/health", {"Origin": "https://app.example"})
        assert (status, headers["Access-Control-Allow-Origin"]) == (200, "https://app.example")
        status, _, body = fetch(base + "api/search?q=said&page=3", {})
        assert status == 400 and "at most 20 deep" in body
    finally:
        trusting.terminate()
        trusting.wait(timeout=10)
    assert re.search(r' 203\.0\.113\.7 "GET /search.atom\?q=oil" 200 ', trusting.stderr.read())

    plain, base = start(["serve", "--index", str(built_index)])
    try:
        _, _, feed = fetch(base + "search.atom?q=oil", FORWARDED)
        assert f'href="{base}search.atom?q=oil' in feed
        assert "news.example" not in feed
        status, headers, _ = fetch(base + "api/health", {"Origin": "https://app.example"})
        assert status == 200 and "Access-Control-Allow-Origin" not in headers
    finally:
        plain.terminate()
        plain.wait(timeout=10)
    assert re.search(r' 127\.0\.0\.1 "GET /search.atom\?q=oil" 200 ', plain.stderr.read())
