"""Export (search/export.py, /api/export, `news-search export`) and cursor paging
(search/cursor.py, /api/search cursor → next_cursor), over real HTTP on the bundled sample."""

from __future__ import annotations

import csv
import io
import json
import random
import shutil
import threading
import urllib.error
import urllib.parse
import urllib.request
from datetime import datetime, timezone
from pathlib import Path

import pytest
from waitress import create_server

from search_service.article import Article
from search_service.cli import main
from search_service.index.schema import open_index
from search_service.index.writer import write_articles
from search_service.search.export import FIELDS
from search_service.web import create_app

#: Made-up words for stories unlike each other (no near-duplicates among them).
WORDS = [a + b for a in ("bar", "tan", "ker", "pol", "mis", "dra", "vel", "cor", "sun",
                         "lum", "fen", "gri", "hos", "jat", "pem") for b in
         ("rel", "kin", "dor", "sa", "mo", "tix", "van", "ul", "bre", "quo", "nip", "ost")]


def fetch(url: str) -> tuple[int, dict[str, str], bytes]:
    """GET over real HTTP: status, headers, body (error statuses included)."""
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def get_json(url: str) -> dict:
    """GET JSON over real HTTP (status 200 expected)."""
    status, _, body = fetch(url)
    assert status == 200, body
    return json.loads(body)


def query(**params) -> str:
    """A query string (lists repeat their key)."""
    return urllib.parse.urlencode(params, doseq=True)


def all_pages(base: str, **params) -> list[dict]:
    """Follow next_cursor from cursor=* to the end; return every result in order."""
    results = []
    data = get_json(f"{base}/api/search?{query(cursor='*', **params)}")
    while True:
        results += data["results"]
        if not data["next_cursor"]:
            assert data["next"] is None
            return results
        assert "cursor=" in data["next"]
        data = get_json(base + data["next"])


def rows_of(base: str, **params) -> list[dict]:
    """The rows of a JSON-lines export."""
    status, headers, body = fetch(f"{base}/api/export?{query(format='jsonl', **params)}")
    assert status == 200, body
    assert headers["Content-Type"] == "application/x-ndjson"
    return [json.loads(line) for line in body.decode().splitlines()]


def order_key(published: str | None, newest: bool = True) -> tuple:
    """Sort key of a row by its date (undated last in both orders)."""
    if published is None:
        return (1, 0)
    stamp = datetime.fromisoformat(published).timestamp()
    return (0, -stamp if newest else stamp)


def test_csv_export_has_one_row_per_story_as_the_total_counts_newest_first(sample_server):
    total = get_json(f"{sample_server}/api/search?q=oil")["total"]
    status, headers, body = fetch(f"{sample_server}/api/export?q=oil&format=csv")
    assert status == 200
    assert headers["Content-Type"] == "text/csv; charset=utf-8"
    assert headers["Content-Disposition"] == 'attachment; filename="news-export.csv"'
    table = list(csv.reader(io.StringIO(body.decode())))
    assert table[0] == list(FIELDS)
    rows = [dict(zip(table[0], line, strict=True)) for line in table[1:]]
    assert len(rows) == total == 209
    assert len({r["id"] for r in rows}) == total
    keys = [order_key(r["published"] or None) for r in rows]
    assert keys == sorted(keys)
    assert all(r["url"].startswith("https://") for r in rows)
    # The bare template states no language: a few short stories there stay undetected.
    assert {r["language"] for r in rows} == {"en", ""}
    assert sum(r["language"] == "en" for r in rows) > 0.95 * total
    # Carried wire copies collapse into one row that counts them.
    assert {int(r["similar_count"]) for r in rows} >= {0, 1}


def test_jsonl_export_with_bodies_filters_and_oldest_first(sample_server):
    params = dict(q="oil", collection="Business press", sort="oldest")
    total = get_json(f"{sample_server}/api/search?{query(**params)}")["total"]
    rows = rows_of(sample_server, body=1, **params)
    assert len(rows) == total > 0
    assert all(r["collections"] == ["Business press"] for r in rows)
    assert all("oil" in (r["title"] + r["body"]).lower() for r in rows)
    assert list(rows[0]) == [*FIELDS, "body"]
    # Stories are ordered by their first copy's date; where the filter leaves only a copy
    # carried later (by up to 90 minutes in the sample), the row shows the copy's date.
    stamps = [datetime.fromisoformat(r["published"]).timestamp() for r in rows]
    assert all(b >= a - 90 * 60 for a, b in zip(stamps, stamps[1:], strict=False))


def test_export_of_everything_counts_stories_not_copies(sample_server):
    health = get_json(f"{sample_server}/api/health")
    rows = rows_of(sample_server)
    assert len(rows) == get_json(f"{sample_server}/api/search")["total"]
    assert len(rows) + sum(r["similar_count"] for r in rows) == health["articles"] == 2296


def test_the_same_export_twice_is_the_same_file(sample_server):
    first = fetch(f"{sample_server}/api/export?q=trade&format=csv")[2]
    assert first == fetch(f"{sample_server}/api/export?q=trade&format=csv")[2]


@pytest.mark.parametrize("params, message", [
    ({"q": "oil", "format": "xml"}, "format must be one of: csv, jsonl (not 'xml')"),
    ({"q": "oil", "sort": "best"}, "an export sorts by newest or oldest (an order new "
                                   "commits cannot reshuffle), not best"),
    ({"q": "oil", "page": "2"}, "an export has every match: it takes no page or cursor"),
    ({"q": "oil", "body": "maybe"}, "body must be 1 or 0 (or true or false), not 'maybe'"),
    ({"q": "op*"}, "wildcards need at least 3 leading characters: 'op*'"),
])
def test_bad_export_requests_are_400_with_a_message(sample_server, params, message):
    status, headers, body = fetch(f"{sample_server}/api/export?{query(**params)}")
    assert status == 400 and headers["Content-Type"] == "application/json"
    assert json.loads(body) == {"error": {"status": 400, "message": message}}


def test_cli_export_writes_the_same_stories_as_the_api(sample_server, sample_index, tmp_path,
                                                       capsys):
    out = tmp_path / "oil.jsonl"
    status = main(["export", "oil", "--index", str(sample_index), "--format", "jsonl",
                   "--collection", "Regional papers", "--out", str(out)])
    assert status == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert rows == rows_of(sample_server, q="oil", collection="Regional papers")
    assert capsys.readouterr().err == f"exported {len(rows)} stories to {out}\n"


def test_cli_export_to_stdout_as_csv(sample_index, capsys):
    assert main(["export", "opec", "--index", str(sample_index), "--sort", "oldest",
                 "--from", "1987-06", "--to", "1987-06"]) == 0
    captured = capsys.readouterr()
    table = list(csv.reader(io.StringIO(captured.out)))
    assert table[0] == list(FIELDS) and len(table) > 2
    assert all(row[3].startswith("1987-06") for row in table[1:])
    assert captured.err == f"exported {len(table) - 1} stories\n"


def test_cli_export_refuses_a_bad_query(sample_index, capsys):
    assert main(["export", "title:[a TO", "--index", str(sample_index)]) == 1
    assert capsys.readouterr().err.startswith("news-search export: error: cannot parse query")


def test_cursor_paging_visits_every_story_once_in_the_export_order(sample_server):
    paged = all_pages(sample_server, q="oil", per_page=7)
    exported = rows_of(sample_server, q="oil")
    assert [r["id"] for r in paged] == [r["id"] for r in exported]
    assert [r["similar_count"] for r in paged] == [r["similar_count"] for r in exported]
    assert all("<mark>" in r["title_html"] + r["snippet_html"] for r in paged)


def test_cursor_paging_goes_past_the_depth_limit(sample_server):
    status, _, body = fetch(f"{sample_server}/api/search?{query(q='', page=21, per_page=50)}")
    assert status == 400 and b"paged at most 1000 deep" in body  # pages stop at the depth …
    ids = [r["id"] for r in all_pages(sample_server, per_page=100, sort="oldest")]
    total = get_json(f"{sample_server}/api/search")["total"]
    assert len(ids) == len(set(ids)) == total > 1000  # … the cursor does not


@pytest.mark.parametrize("params, message", [
    ({"q": "oil", "cursor": "abc"}, "cursor 'abc' is not one this service gave (start with "
                                    "cursor=*, then pass each next_cursor)"),
    ({"q": "oil", "cursor": "*", "sort": "best"},
     "cursor paging sorts by newest or oldest (an order that new commits cannot reshuffle), "
     "not by best: add sort=newest or sort=oldest"),
    ({"q": "oil", "cursor": "*", "page": "2"},
     "give either cursor or page, not both (a cursor carries the position)"),
])
def test_bad_cursors_are_400_with_a_message(sample_server, params, message):
    status, _, body = fetch(f"{sample_server}/api/search?{query(**params)}")
    assert status == 400
    assert json.loads(body) == {"error": {"status": 400, "message": message}}


def test_a_cursor_only_continues_its_own_query(sample_server):
    first = get_json(f"{sample_server}/api/search?q=oil&cursor=*&per_page=3")
    again = query(q="gas", cursor=first["next_cursor"])
    status, _, body = fetch(f"{sample_server}/api/search?{again}")
    assert status == 400
    assert json.loads(body)["error"]["message"] == (
        "this cursor belongs to another query, filter or sort: keep them as they were when "
        "paging began")


def next_page(base: str, data: dict) -> dict:
    """The page after `data` of the oil query, by its cursor."""
    return get_json(f"{base}/api/search?{query(q='oil', cursor=data['next_cursor'], per_page=20)}")


@pytest.fixture
def live(sample_index: Path, tmp_path: Path):
    """A private copy of the sample index served over HTTP; yields (URL, index dir)."""
    copy = tmp_path / "index"
    shutil.copytree(sample_index, copy)
    wsgi = create_server(create_app({"INDEX_DIR": str(copy)}), host="127.0.0.1", port=0,
                         threads=2)
    thread = threading.Thread(target=wsgi.run, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{wsgi.effective_port}", copy
    wsgi.close()
    thread.join(timeout=10)


def test_cursor_paging_neither_repeats_nor_skips_while_commits_arrive(live, sample_index):
    """Regression test for paging by offset, where every commit of newer stories shifts the
    pages: stories shown twice, stories never shown."""
    base, index_dir = live
    before = rows_of(base, q="oil")
    exported_ids = [r["id"] for r in before]
    seen: list[str] = []
    data = get_json(f"{base}/api/search?q=oil&cursor=*&per_page=20")
    ix = open_index(index_dir)
    for round_ in range(4):
        seen += [r["id"] for r in data["results"]]
        # Between pages: newer and older oil stories, and a copy of a story already shown
        # and of one not yet shown, each committed (with bodies of their own).
        shown, ahead = before[len(seen) - 1], before[min(len(seen) + 30, len(before) - 1)]
        with open_index(sample_index).searcher() as searcher:
            copies = [searcher.document(id=shown["id"]), searcher.document(id=ahead["id"])]
        articles = [Article(
            url=f"https://latecomer.example/{round_}/{n}", canonical_url=(
                f"https://latecomer.example/{round_}/{n}"),
            title=f"Oil latecomer {round_} {n}",
            body="Oil news: " + " ".join(random.Random(round_ * 10 + n).sample(WORDS, 120)),
            published=datetime(1987, 3 + 3 * n, 15, tzinfo=timezone.utc), language="en")
            for n in range(3)]
        articles += [Article(url=f"https://copies.example/{round_}/{k}",
                             canonical_url=f"https://copies.example/{round_}/{k}",
                             title=doc["title"], body=doc["body"],
                             published=datetime(1987, 1, 1, tzinfo=timezone.utc),
                             language="en") for k, doc in enumerate(copies)]
        write_articles(ix, articles)
        if not data["next_cursor"]:
            break
        data = next_page(base, data)
    while True:
        seen += [r["id"] for r in data["results"]]
        if not data["next_cursor"]:
            break
        data = next_page(base, data)
    assert len(seen) == len(set(seen)), "a story was shown twice"
    assert set(exported_ids) <= set(seen), "a story that was there when paging began was skipped"
    assert get_json(f"{base}/api/search?q=oil")["total"] == len(before) + 12


def test_cursor_orders_by_the_shared_columns_as_whoosh_stores_them(index_dir):
    """cursor.py reads the per-segment columns every search shares (columns.py) instead of
    a copy of its own, and they hold what Whoosh stores: over several segments, with a
    deletion and an undated article."""
    import numpy as np

    from search_service.index.writer import delete_urls
    from search_service.search import cursor
    from search_service.search.columns import columns_of, key_numbers
    from search_service.search.filters import NO_DATE

    ix = open_index(index_dir)
    write_articles(ix, [Article(url="https://undated.example/1",
                                canonical_url="https://undated.example/1",
                                title="No date", body="Not dated at all. " * 20)])
    with ix.searcher() as searcher:
        gone = searcher.stored_fields(3)["url"]
    assert delete_urls(ix, [gone]) == 1
    undated = 0
    with ix.searcher() as searcher:
        assert len(searcher.leaf_searchers()) > 1
        for sub, _ in searcher.leaf_searchers():
            reader = sub.reader()
            stamps, keys = cursor._segment_columns(sub)
            shared = columns_of(reader)
            assert stamps is shared.get("published", reader)
            assert keys is shared.get("story_key", reader)
            published = reader.column_reader("published", translate=False)
            cluster = reader.column_reader("cluster", translate=False)
            count = reader.doc_count_all()
            assert stamps.tolist() == [published[d] for d in range(count)]
            assert keys.tolist() == [int(cluster[d], 16) for d in range(count)]
            undated += int((stamps == np.uint64(NO_DATE)).sum())
    assert undated >= 1
    keys = np.array([b"b91ee3031e9dd4f9", b"FFFFFFFFFFFFFFFF", b"0000000000000001",
                     b" " * 16, b"", b"b91ee3031e9dd4fz"], dtype="S16")
    assert key_numbers(keys).tolist() == [int("b91ee3031e9dd4f9", 16), 2**64 - 1, 1, 0, 0, 0]
