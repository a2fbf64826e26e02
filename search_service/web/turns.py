"""Search turns: how many searches one process runs at once (`SEARCH_SLOTS`, default 1).

Why: a waitress worker's threads share one GIL. With several searches in flight in one
process, the interpreter switches between them every few milliseconds and each request
costs more CPU (cache misses, GIL hand-offs), while none finishes sooner: on 2 cores, 2
workers and 8 connections, one search at a time per worker answered as many or more
requests a second and cut the 95th and 99th percentile latency by a sixth to a quarter
(docs/performance.md, seventh round). The other threads still read requests, write answers
and serve the views that are not counted.

Counted (`TURN_VIEWS`): the bounded reads a search load is made of: searches (page, API,
Atom feed) and article lookups (page, API, related articles); each is bounded by the search
time limit. Not counted, so a long one never holds searches up: streamed exports, the
research views (timeline, compare, terms, sources), health and metrics.
"""

from __future__ import annotations

import threading

from flask import Flask, g, request

#: Endpoints that take a turn.
TURN_VIEWS = frozenset({
    "api.api_search", "api.api_article", "api.api_related",
    "pages.search_page", "pages.search_atom", "pages.article_page",
})


def register(app: Flask) -> None:
    """Limit the process to `SEARCH_SLOTS` counted views at once (0: no limit). Register
    after the hooks that may answer without a view (CORS preflight, security), so those
    never wait for a turn."""
    slots = int(app.config["SEARCH_SLOTS"])
    if slots < 0:
        raise ValueError(f"SEARCH_SLOTS must be 0 (no limit) or more, not {slots}")
    if slots == 0:
        return
    turns = threading.BoundedSemaphore(slots)

    @app.before_request
    def take_turn() -> None:
        if request.endpoint in TURN_VIEWS:
            turns.acquire()
            g.search_turn = True

    @app.teardown_request
    def end_turn(_exc: BaseException | None) -> None:
        if g.pop("search_turn", False):
            turns.release()
