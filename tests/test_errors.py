"""Errors: bad input is a 400 with its message; a bug or a broken index is a 500 with a
logged traceback (one JSON error shape under /api, the error page elsewhere), never a 400."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pytest
from whoosh.filedb.compound import CompoundStorage
from whoosh.filedb.filestore import FileStorage
from whoosh.searching import TimeLimit

from search_service.index import postings_file
from search_service.search import engine, executor, groups, postings
from search_service.web import create_app

INTERNAL = {"error": {"status": 500,
                      "message": "internal error: the server could not answer this request"}}


def corrupt_postings(index_dir: Path) -> None:
    """Overwrite the postings part of every segment file with 0xFF bytes (the term tables
    stay readable, so the index opens and fails only while a search collects results), and
    remove the segments' postings files (index/postings_file.py), which would otherwise
    answer from their own copy of the lists."""
    shutil.rmtree(index_dir / postings_file.DIRNAME, ignore_errors=True)
    for segment in index_dir.glob("*.seg"):
        with FileStorage(str(index_dir)).open_file(segment.name) as handle:
            parts = CompoundStorage(handle, use_mmap=False)._dir
            postings = next(v for k, v in parts.items() if k.endswith(".pst"))
        data = bytearray(segment.read_bytes())
        start, length = postings["offset"], postings["length"]
        data[start:start + length] = b"\xff" * length
        segment.write_bytes(bytes(data))


@pytest.fixture
def broken_client(index_dir, monkeypatch):
    """A client of the app over an index whose postings are corrupt. `index_dir` is a copy
    of the session's index, so its segments share ids with ones that earlier tests had the
    executor decode: start this test with empty process-wide postings caches."""
    monkeypatch.setattr(postings, "_cache", None)
    monkeypatch.setattr(executor, "_scored", None)
    corrupt_postings(index_dir)
    return create_app({"TESTING": True, "INDEX_DIR": str(index_dir)}).test_client()


def logged_traceback(caplog) -> logging.LogRecord:
    """The one error the app logged, with its exception attached."""
    (record,) = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert record.name == "search_service.web.errors" and record.exc_info is not None
    return record


def test_corrupt_segment_is_a_500_with_a_logged_traceback_not_a_400(broken_client, caplog):
    response = broken_client.get("/api/search?q=oil")
    assert response.status_code == 500
    assert response.get_json() == INTERNAL
    record = logged_traceback(caplog)
    # the vectorised executor or Whoosh's own reader, whichever read the postings first
    assert any(text in str(record.exc_info[1])
               for text in ("unexpected posting header", "Block tag error"))
    assert "Traceback (most recent call last)" in caplog.text


def test_corrupt_segment_on_the_search_page_is_the_500_error_page(broken_client, caplog):
    response = broken_client.get("/?q=oil")
    assert response.status_code == 500
    assert response.content_type == "text/html; charset=utf-8"
    page = response.get_data(as_text=True)
    assert "Something went wrong" in page
    assert INTERNAL["error"]["message"] in page
    assert "Block tag error" not in page  # the cause is logged, not shown
    logged_traceback(caplog)


def whoosh_path_only(monkeypatch) -> None:
    """Make every search take the Whoosh path (the executor declines every query)."""
    def decline(*args, **kwargs):
        raise executor.Unsupported("declined by the test")

    monkeypatch.setattr(engine, "execute", decline)


@pytest.mark.parametrize("path", ["executor", "whoosh"])
def test_a_bug_while_collecting_is_a_500(client, caplog, monkeypatch, path):
    def broken(*args, **kwargs):
        raise KeyError("a bug")

    if path == "executor":
        monkeypatch.setattr(engine, "execute", broken)
    else:
        whoosh_path_only(monkeypatch)
        monkeypatch.setattr(groups.Groups, "collapsed", broken)
    response = client.get("/api/search?q=oil")
    assert (response.status_code, response.get_json()) == (500, INTERNAL)
    assert isinstance(logged_traceback(caplog).exc_info[1], KeyError)


def test_a_query_whoosh_cannot_run_is_still_a_400(client, caplog):
    response = client.get("/api/search", query_string={"q": 'bands:"a b"'})
    assert response.status_code == 400
    assert response.get_json() == {"error": {"status": 400, "message": (
        "cannot run query 'bands:\"a b\"': Phrase search: 'bands' field has no positions")}}
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_an_unparsable_query_is_still_a_400(client):
    response = client.get("/api/search?q=ab*")
    assert response.status_code == 400
    assert response.get_json()["error"]["message"] == (
        "wildcards need at least 3 leading characters: 'ab*'")


def test_a_time_limit_escaping_the_collectors_is_a_400(client, monkeypatch):
    def out_of_time(self, docnums):
        raise TimeLimit

    whoosh_path_only(monkeypatch)  # the executor stops between segments and answers partial
    monkeypatch.setattr(groups.Groups, "collapsed", out_of_time)
    response = client.get("/api/search?q=oil")
    assert response.status_code == 400
    assert response.get_json()["error"]["message"] == (
        f"query 'oil' ran past its time limit of {engine.SearchParams().time_limit:g}s; "
        "narrow it")


def test_without_templates_pages_still_answer_a_plain_500(index_dir, tmp_path, monkeypatch,
                                                          caplog):
    from search_service import config

    monkeypatch.setattr(config, "asset_dir", lambda name: tmp_path / "missing" / name)
    client = create_app({"TESTING": True, "INDEX_DIR": str(index_dir)}).test_client()
    response = client.get("/?q=<oil>")
    assert response.status_code == 500
    assert response.content_type == "text/html; charset=utf-8"
    assert response.get_data(as_text=True) == (
        "<!doctype html>\n<title>500 – News search</title>\n<h1>Error 500</h1>\n"
        f"<p>{INTERNAL['error']['message']}</p>\n")
    assert "TemplateNotFound" in caplog.text
    missing = client.get("/articles/<b>x")
    assert missing.status_code == 404
    assert "<p>no article with id &#39;&lt;b&gt;x&#39;</p>" in missing.get_data(as_text=True)
    assert client.get("/api/search?q=oil").status_code == 200  # the API needs no template
