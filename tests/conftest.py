"""Shared fixtures: a real Whoosh index in a temp dir, the real Flask app; the `needs` marker
for tests that need an outside program (see tests/support/requires.py)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from search_service.index import related
from search_service.index.schema import open_index
from search_service.ingest import ingest
from search_service.web import create_app
from tests.support import requires
from tests.support.paths import PAGES, SMALL_WARC
from tests.support.shared import built_once


def pytest_configure(config: pytest.Config) -> None:
    """Register the `needs` marker."""
    config.addinivalue_line(
        "markers", "needs(tool): the test needs an outside program (chromium, redis-server); "
                   "skipped without it, failed without it if NEWS_SEARCH_REQUIRE_TOOLS is set")


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Skip (or fail) a test marked `needs(tool)` whose tool is missing."""
    for marker in item.iter_markers("needs"):
        for tool in marker.args:
            requires.check(tool)


@pytest.fixture(scope="session")
def browser():
    """Debian's chromium, headless, shared by the browser test modules (tests/support/browser)."""
    from tests.support.browser import launch

    yield from launch()


@pytest.fixture(scope="session")
def built_index(tmp_path_factory) -> Path:
    """An index of the small WARC and the article fixture pages, built once."""
    path = tmp_path_factory.mktemp("index")
    ix = open_index(path, create=True)
    summary = ingest(ix, [SMALL_WARC, PAGES])
    assert summary.indexed == 27 and not summary.failed
    related.refresh(path, ix)  # as the ingest command does
    return path


@pytest.fixture
def index_dir(built_index: Path, tmp_path: Path) -> Path:
    """A private copy of the built index that a test may change."""
    copy = tmp_path / "index"
    shutil.copytree(built_index, copy)
    return copy


@pytest.fixture
def ix(index_dir: Path):
    """The opened Whoosh index of `index_dir`."""
    return open_index(index_dir)


@pytest.fixture
def searcher(ix):
    """A searcher over `ix`, closed after the test."""
    with ix.searcher() as searcher:
        yield searcher


@pytest.fixture
def app(index_dir: Path):
    """The real app over a copy of the built index."""
    return create_app({"TESTING": True, "INDEX_DIR": str(index_dir)})


@pytest.fixture
def client(app):
    """A test client of the app."""
    return app.test_client()


@pytest.fixture(scope="session")
def sample_index(tmp_path_factory) -> Path:
    """An index of the bundled sample, its collections applied as `news-search demo` does
    (built once per run, shared by the xdist workers; read-only: copy it to change it)."""
    return built_once(tmp_path_factory, "sample-index", build_sample_index)


def build_sample_index(path: Path) -> None:
    """Index the bundled sample at `path` as `news-search demo` does."""
    from search_service import config
    from search_service.cli import SAMPLE_SOURCES
    from search_service.crawl.sources import collections_by_host, load_sources
    from search_service.ingest import Collections

    sources = load_sources(config.SAMPLE_WARC.with_name(SAMPLE_SOURCES))
    summary = ingest(open_index(path, create=True), [config.SAMPLE_WARC],
                     collections=Collections(by_domain=collections_by_host(sources)))
    assert summary.indexed == summary.pages == 2296 and not summary.failed


@pytest.fixture(scope="session")
def sample_server(sample_index: Path):
    """The real app over the sample index, served by waitress on 127.0.0.1; yields its URL."""
    import threading

    from waitress import create_server

    wsgi = create_server(create_app({"INDEX_DIR": str(sample_index)}), host="127.0.0.1",
                         port=0, threads=4)
    thread = threading.Thread(target=wsgi.run, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{wsgi.effective_port}"
    wsgi.close()
    thread.join(timeout=10)
