"""The web layer: create_app() builds the Flask app serving the search page and JSON API."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask

from search_service import config


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build the app: defaults, then the environment, then `test_config`.

    Settings: INDEX_DIR, CORS_ORIGINS (origins that may read /api/* across sites, or `*`;
    empty turns CORS off), MAX_DEPTH (page x per_page at most), SEARCH_TIME_LIMIT (seconds),
    SEARCH_SLOTS (searches one process runs at once, 0: no limit; web/turns.py).
    Raises ValueError for a malformed origin, depth or slot count.
    """
    app = Flask(
        __name__,
        template_folder=str(config.asset_dir("templates")),
        static_folder=str(config.asset_dir("static")),
    )
    app.config.from_mapping(
        INDEX_DIR=str(config.default_index_dir()),
        ARCHIVE_DIR=None,  # the crawl archive (None: beside the index)
        NOW=None,  # the moment pages count "3 days ago" from (None: the clock at each request)
        CORS_ORIGINS=config.env_cors_origins(),  # empty: no CORS headers at all
        MAX_DEPTH=config.env_max_depth(),  # page x per_page at most this
        SEARCH_TIME_LIMIT=None,  # seconds a search may run (None: the search default)
        SEARCH_SLOTS=config.env_search_slots(),  # searches at once per process (0: no limit)
    )
    from search_service.web.encoding import FastJSONProvider

    app.json = FastJSONProvider(app)
    app.json.sort_keys = False  # keep payloads in the documented field order
    if test_config:
        app.config.update(test_config)
    app.config["INDEX_DIR"] = str(Path(app.config["INDEX_DIR"]))
    # The crawl archive holds each source's last-crawl record (shown on /sources).
    app.config["ARCHIVE_DIR"] = str(
        app.config["ARCHIVE_DIR"] or config.default_archive_dir(Path(app.config["INDEX_DIR"])))
    if int(app.config["MAX_DEPTH"]) < 1:
        raise ValueError(f"MAX_DEPTH must be at least 1, not {app.config['MAX_DEPTH']}")
    from search_service.search.postings import cache_limit

    cache_limit()  # a bad $NEWS_SEARCH_POSTINGS_MB stops the app here, not at its first search

    from search_service.web import api, cors, errors, metrics, pages, security, turns

    app.register_blueprint(pages.bp)
    app.register_blueprint(api.bp)
    errors.register(app)
    security.register(app)
    cors.register(app)
    metrics.register(app)
    turns.register(app)  # last: a request answered by an earlier hook never waits for a turn
    return app
