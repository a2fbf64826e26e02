"""Reading saved pages and WARC archives from disk."""

from __future__ import annotations

import pytest

from search_service.archive.files import (
    InputError,
    Page,
    PageError,
    check_paths,
    expand,
    read_pages,
)
from tests.support.paths import FIXTURES, PAGES, SMALL_WARC


def test_directories_expand_to_page_and_warc_files_only():
    files = expand(check_paths([FIXTURES]))
    names = [f.name for f in files]
    assert "wire-sample.warc.gz" in names and "seed_jsonld.html" in names
    assert "seed_body.txt" not in names


def test_warc_yields_html_responses_with_their_urls_and_dates():
    pages = list(read_pages([SMALL_WARC]))
    assert len(pages) == 24  # the image/png record is skipped
    assert all(isinstance(p, Page) for p in pages)
    assert pages[0].url == "https://wireledger.example/1987/02/26/bahia-cocoa-review-1"
    assert pages[0].fetched_at.isoformat() == "1987-02-26T17:01:01+00:00"
    assert pages[0].html.lower().startswith(b"<!doctype html>")


def test_truncated_warc_reports_an_error_after_the_good_records(tmp_path):
    data = SMALL_WARC.read_bytes()
    cut = tmp_path / "cut.warc.gz"
    cut.write_bytes(data[: len(data) // 2])
    items = list(read_pages([cut]))
    assert any(isinstance(i, Page) for i in items)
    assert isinstance(items[-1], PageError)
    assert "torn record" in items[-1].message


def test_html_file_gets_a_file_url_unless_given_one():
    (page,) = read_pages([PAGES / "seed_meta.html"])
    assert page.url.startswith("file:///") and page.url.endswith("seed_meta.html")
    (page,) = read_pages([PAGES / "seed_meta.html"], base_url="https://b.example/p")
    assert page.url == "https://b.example/p"


def test_bad_paths_raise_input_error(tmp_path):
    with pytest.raises(InputError, match="no such file or directory"):
        check_paths([tmp_path / "nope.html"])
