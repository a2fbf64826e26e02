"""The related-articles sidecar (search_service/index/related.py) on real Whoosh indexes: built and
tagged, used by `related()`, stale articles falling back to more_like, near-duplicates and
deleted articles never shown, kept through optimize and reindex."""

from __future__ import annotations

import shutil
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

import pytest

from search_service.article import Article, article_id
from search_service.cli import main
from search_service.index import related as sidecar
from search_service.index.schema import open_index
from search_service.index.writer import delete_urls, write_articles
from search_service.ingest import reindex
from search_service.search.articles import related
from tests.support.paths import SMALL_WARC

OIL = [
    "Crude oil prices rose as OPEC ministers agreed to cut output; Brent crude barrels "
    "traded higher and refinery demand for crude stayed strong.",
    "OPEC output cuts lifted oil prices: Brent crude futures gained as refinery buyers "
    "sought barrels of crude ahead of the summer driving season.",
    "Oil refinery margins widened while crude barrels piled up; OPEC said output would be "
    "reviewed and Brent prices held steady.",
    "Brent and other crude grades slipped after OPEC kept output unchanged; refinery runs "
    "and oil barrels in storage weighed on prices.",
]
FOOTBALL = [
    "The striker scored twice as the home club won the league match; the goalkeeper saved "
    "a penalty and the coach praised the defence.",
    "A late goal gave the visiting club the league points; the coach blamed the defence and "
    "the goalkeeper for the penalty.",
    "The club signed a new striker before the league season; the coach said the goalkeeper "
    "and the defence needed work after a penalty miss.",
]
VOTE = [
    "Voters went to the polls as the election campaign ended; the parliament majority and "
    "the coalition ballot count were close.",
    "The coalition lost its parliament majority after the election; ballot counting showed "
    "voters turning to the opposition campaign.",
    "Opposition leaders called the election ballot unfair; parliament will meet the "
    "coalition after voters rejected the campaign.",
]


def story(topic: str, n: int, body: str, day: int = 1, copy: str = "") -> Article:
    """One article of the small corpus (a `copy` suffix makes a syndicated copy's URL)."""
    url = f"https://wire.example/{topic}/{n}{copy}"
    return Article(url=url, canonical_url=url, title=f"{topic} story {n}", body=body,
                   published=datetime(2023, 7, day, 12, tzinfo=timezone.utc),
                   source="Wire", language="en")


def corpus() -> list[Article]:
    """Ten stories on three subjects, the first oil story also syndicated once."""
    articles = [story("oil", n, body, day=1 + n) for n, body in enumerate(OIL)]
    articles += [story("football", n, body) for n, body in enumerate(FOOTBALL)]
    articles += [story("vote", n, body) for n, body in enumerate(VOTE)]
    articles.append(story("oil", 0, OIL[0], copy="-syndicated"))
    return articles


def aid(topic: str, n: int, copy: str = "") -> str:
    return article_id(f"https://wire.example/{topic}/{n}{copy}")


@pytest.fixture
def wire(tmp_path: Path) -> Path:
    """An index of the small corpus with its sidecar built."""
    path = tmp_path / "wire"
    ix = open_index(path, create=True)
    write_articles(ix, corpus())
    sidecar.refresh(path, ix)
    return path


def related_ids(path: Path, source: str, **kwargs) -> list[str]:
    with open_index(path).searcher() as searcher:
        return [r["id"] for r in related(searcher, source, **kwargs)["results"]]


def answered_by_sidecar(path: Path, source: str) -> bool:
    with open_index(path).searcher() as searcher:
        fields = searcher.stored_fields(searcher.document_number(id=source))
        return sidecar.lookup(searcher, fields, 5) is not None


def test_build_covers_every_live_article_and_is_tagged_with_the_index_state(wire):
    ix = open_index(wire)
    with ix.searcher() as searcher:
        tag = sidecar.index_tag(searcher.reader())
    assert sidecar.stored_tag(wire) == tag
    side = sidecar.load(wire)
    assert len(side) == 11
    assert set(side.row_of) == {a.id for a in corpus()}
    assert sidecar.refresh(wire, ix) is None  # already current: nothing rebuilt
    assert not list(wire.glob(".related.npz.*"))  # no staging file left behind


def test_related_comes_from_the_sidecar_and_stays_on_topic(wire):
    assert answered_by_sidecar(wire, aid("oil", 1))
    assert related_ids(wire, aid("oil", 1), limit=3) == [aid("oil", 3), aid("oil", 2),
                                                          aid("oil", 0)]
    assert set(related_ids(wire, aid("football", 0), limit=2)) == {aid("football", 1),
                                                                    aid("football", 2)}
    assert set(related_ids(wire, aid("vote", 2), limit=2)) == {aid("vote", 0), aid("vote", 1)}


def test_results_have_the_search_result_shape(wire):
    with open_index(wire).searcher() as searcher:
        item = related(searcher, aid("vote", 0), limit=1)["results"][0]
    assert set(item) == {"id", "url", "title", "title_html", "snippet_html", "published",
                         "source", "similar_count"}
    assert item["published"] == "2023-07-01T12:00:00+00:00"


def test_near_duplicates_of_the_source_are_never_shown_and_one_per_cluster(wire):
    original, copy = aid("oil", 0), aid("oil", 0, "-syndicated")
    for source in (original, copy):
        assert answered_by_sidecar(wire, source)
        assert {original, copy}.isdisjoint(related_ids(wire, source, limit=10))
    shown = related_ids(wire, aid("oil", 1), limit=10)
    assert len({original, copy} & set(shown)) == 1


def test_deleted_articles_are_never_returned(wire):
    assert related_ids(wire, aid("oil", 1), limit=1) == [aid("oil", 3)]
    delete_urls(open_index(wire), ["https://wire.example/oil/3"])
    assert answered_by_sidecar(wire, aid("oil", 1))  # the sidecar still answers
    assert aid("oil", 3) not in related_ids(wire, aid("oil", 1), limit=10)
    assert related_ids(wire, aid("oil", 1), limit=1) == [aid("oil", 2)]


def test_articles_newer_than_the_sidecar_fall_back_to_more_like(wire):
    late = story("oil", 9, "OPEC crude output and Brent barrels: refinery prices rose.", day=9)
    write_articles(open_index(wire), [late])
    assert not answered_by_sidecar(wire, late.id)
    shown = related_ids(wire, late.id, limit=3)
    assert len(shown) == 3 and late.id not in shown
    assert set(shown) <= {a.id for a in corpus() if "/oil/" in a.url}


def test_an_article_whose_text_changed_falls_back_until_the_rebuild(wire):
    changed = story("vote", 0, VOTE[0] + " The coalition promised a new ballot law.")
    ix = open_index(wire)
    write_articles(ix, [changed])
    assert not answered_by_sidecar(wire, changed.id)
    assert related_ids(wire, changed.id, limit=2)  # more_like still answers
    assert sidecar.refresh(wire, ix) is not None
    assert answered_by_sidecar(wire, changed.id)


def test_a_missing_or_unreadable_sidecar_falls_back(wire):
    (wire / sidecar.FILENAME).write_bytes(b"not a sidecar")
    assert not answered_by_sidecar(wire, aid("oil", 1))
    assert related_ids(wire, aid("oil", 1), limit=2)
    (wire / sidecar.FILENAME).unlink()
    assert not answered_by_sidecar(wire, aid("oil", 1))
    assert related_ids(wire, aid("oil", 1), limit=2)


def test_recency_prefers_stories_close_in_time(wire):
    # oil/3, the closest in content to oil/1, moves to 2020; oil/2 is a day from oil/1
    old = story("oil", 3, OIL[3])
    ix = open_index(wire)
    write_articles(ix, [replace(old, published=datetime(2020, 1, 1, tzinfo=timezone.utc))])
    sidecar.refresh(wire, ix)
    assert related_ids(wire, aid("oil", 1), limit=3) == [aid("oil", 3), aid("oil", 2),
                                                          aid("oil", 0)]
    assert related_ids(wire, aid("oil", 1), limit=3, recency=True) == [
        aid("oil", 2), aid("oil", 3), aid("oil", 0)]


def test_optimize_keeps_the_sidecar_current(wire, capsys):
    before = related_ids(wire, aid("football", 1), limit=2)
    assert main(["optimize", "--index", str(wire)]) == 0
    with open_index(wire).searcher() as searcher:
        assert sidecar.stored_tag(wire) == sidecar.index_tag(searcher.reader())
    assert answered_by_sidecar(wire, aid("football", 1))
    assert related_ids(wire, aid("football", 1), limit=2) == before
    assert "related articles: 11 articles" in capsys.readouterr().err


def test_reindex_builds_the_sidecar_of_the_new_index(tmp_path):
    archive = tmp_path / "archive"
    archive.mkdir()
    shutil.copy(SMALL_WARC, archive / SMALL_WARC.name)
    path = tmp_path / "ix"
    summary = reindex(path, archive)
    assert summary.indexed > 0
    with open_index(path).searcher() as searcher:
        assert sidecar.stored_tag(path) == sidecar.index_tag(searcher.reader())
        first = next(searcher.all_stored_fields())
        assert sidecar.lookup(searcher, first, 3) is not None


def test_ingest_command_builds_the_sidecar(tmp_path, capsys):
    path = tmp_path / "ix"
    assert main(["ingest", "--index", str(path), str(SMALL_WARC)]) == 0
    assert sidecar.stored_tag(path) is not None
    assert "related articles:" in capsys.readouterr().err


def test_api_passes_the_recency_preference(wire):
    from search_service.web import create_app

    old = story("oil", 3, OIL[3])
    ix = open_index(wire)
    write_articles(ix, [replace(old, published=datetime(2020, 1, 1, tzinfo=timezone.utc))])
    sidecar.refresh(wire, ix)
    client = create_app({"TESTING": True, "INDEX_DIR": str(wire)}).test_client()
    url = f"/api/articles/{aid('oil', 1)}/related?limit=2"
    assert [r["id"] for r in client.get(url).get_json()["results"]] == [aid("oil", 3),
                                                                        aid("oil", 2)]
    assert [r["id"] for r in client.get(url + "&recency=1").get_json()["results"]] == [
        aid("oil", 2), aid("oil", 3)]


def test_new_articles_are_folded_in_without_a_full_build(wire):
    import numpy as np

    ix = open_index(wire)
    late = story("football", 3, "The coach dropped the goalkeeper after a penalty; the club's "
                 "striker and the defence lost the league match.")
    write_articles(ix, [late])
    built = sidecar.refresh(wire, ix)
    assert built is not None and built.articles == 12
    with np.load(wire / sidecar.FILENAME) as data:
        assert int(data["changed"]) == 1 and int(data["base"]) == 11  # folded in, not rebuilt
    assert answered_by_sidecar(wire, late.id)
    folded = related_ids(wire, late.id, limit=3)
    assert set(folded) == {aid("football", 0), aid("football", 1), aid("football", 2)}
    assert related_ids(wire, aid("oil", 1), limit=3) == [aid("oil", 3), aid("oil", 2),
                                                          aid("oil", 0)]  # unchanged
    sidecar.build(ix, wire)
    assert set(related_ids(wire, late.id, limit=3)) == set(folded)  # as a full build says

    # past FOLD_SHARE of the last full build's articles, it is built whole again
    write_articles(ix, [story("vote", n, VOTE[n % 3] + f" Count {n}.") for n in range(3, 7)])
    assert sidecar.refresh(wire, ix).articles == 16
    with np.load(wire / sidecar.FILENAME) as data:
        assert int(data["changed"]) == 0 and int(data["base"]) == 16
