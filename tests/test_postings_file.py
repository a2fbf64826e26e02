"""The segments' postings files (index/postings_file.py): written at commit for every new
segment (from the blocks the commit writes, byte for byte the file built from the segment's
blocks), removed with merged-away ones, read in place of decoding, and never trusted when
damaged or turned off."""

from __future__ import annotations

import logging
import random
import shutil

import numpy as np
import pytest
from whoosh.formats import Positions

from search_service.index import postings_file
from search_service.index.schema import open_index
from search_service.index.whoosh_compat import segment_ids
from search_service.index.writer import MAX_SEGMENTS, ArticleWriter, delete_urls, optimize
from search_service.search import executor, postings
from search_service.search.engine import search
from search_service.search.params import SearchParams
from tests.support.corpus import distinct

QUERIES = ["oil", "wheat prices", '"central bank"', "trade OR tariff", "market -stocks"]


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """An index of three segments written as the crawl writes (a commit per 70)."""
    path = tmp_path_factory.mktemp("postings-file") / "index"
    with ArticleWriter(open_index(path, create=True), batch=70, interval=3600) as writer:
        for article in distinct(210, seed=5):
            writer.add(article)
    return path


@pytest.fixture
def index_dir(built, tmp_path):
    """A copy of that index for one test to change."""
    shutil.copytree(built, tmp_path / "index")
    executor.forget()
    yield tmp_path / "index"
    executor.forget()


def files_of(index_dir) -> set[str]:
    return {p.stem for p in (index_dir / postings_file.DIRNAME).glob("*" + postings_file.SUFFIX)}


def answers(ix) -> list[tuple]:
    """Totals and ranked ids of a few queries, through the executor."""
    with ix.searcher() as searcher:
        return [(r["total"], [hit["id"] for hit in r["results"]])
                for r in (search(searcher, SearchParams(q=q, per_page=20)) for q in QUERIES)]


def test_every_segment_gets_a_file_and_merged_away_ones_lose_theirs(index_dir):
    ix = open_index(index_dir)
    before = segment_ids(ix)
    assert len(before) >= 2 and files_of(index_dir) == before
    optimize(ix)
    after = segment_ids(ix)
    assert len(after) == 1 and after.isdisjoint(before)
    assert files_of(index_dir) == after


def test_file_lists_equal_the_decoded_ones(index_dir):
    ix = open_index(index_dir)
    with ix.reader() as reader:
        checked = 0
        for leaf, _ in reader.leaf_readers():
            for fieldname, text in leaf.all_terms():
                if fieldname not in postings_file.FIELDS:
                    continue
                from_file, decoded = postings.postings(leaf, fieldname, text), \
                    postings._decode(leaf, fieldname, text)
                assert from_file.ids.tolist() == decoded.ids.tolist()
                assert from_file.weights.tolist() == decoded.weights.tolist()
                if from_file.file is None:
                    continue
                checked += 1
                which = np.arange(len(decoded.ids))
                got = postings.positions(leaf, fieldname, text, from_file, which)
                want = postings.positions(leaf, fieldname, text, decoded, which)
                assert got[0].tolist() == want[0].tolist() and \
                    got[1].tolist() == want[1].tolist()
    assert checked > 500


def test_answers_are_the_same_without_files_with_damaged_ones_and_turned_off(
        index_dir, monkeypatch, caplog):
    ix = open_index(index_dir)
    with_files = answers(ix)
    assert any(total for total, _ in with_files)
    # damaged: one file cut short, another with a foreign header
    paths = sorted((index_dir / postings_file.DIRNAME).glob("*" + postings_file.SUFFIX))
    paths[0].write_bytes(paths[0].read_bytes()[:5000])
    paths[1].write_bytes(b"garbage!" + paths[1].read_bytes()[8:])
    executor.forget()
    with caplog.at_level(logging.WARNING, logger="search_service.index.postings_file"):
        assert answers(ix) == with_files
    assert sum("unreadable" in r.getMessage() for r in caplog.records) == 2
    # missing altogether, then turned off
    for path in paths:
        path.unlink()
    executor.forget()
    assert answers(ix) == with_files
    monkeypatch.setenv(postings_file.ENV, "0")
    executor.forget()
    assert answers(ix) == with_files
    with ix.reader() as reader:
        assert all(postings_file.for_segment(leaf) is None for leaf, _ in reader.leaf_readers())


def test_turned_off_no_file_is_written_and_a_later_commit_writes_the_missing(tmp_path,
                                                                                monkeypatch):
    monkeypatch.setenv(postings_file.ENV, "0")
    ix = open_index(tmp_path / "index", create=True)
    articles = list(distinct(60, seed=9))
    with ArticleWriter(ix, batch=30, interval=3600) as writer:
        for article in articles[:50]:
            writer.add(article)
    assert not (tmp_path / "index" / postings_file.DIRNAME).exists()
    monkeypatch.setenv(postings_file.ENV, "1")
    with ArticleWriter(ix, batch=30, interval=3600) as writer:
        for article in articles[50:]:
            writer.add(article)
    assert files_of(tmp_path / "index") == segment_ids(ix)


def test_a_file_built_after_the_searcher_opened_is_picked_up(index_dir, monkeypatch):
    ix = open_index(index_dir)
    for path in (index_dir / postings_file.DIRNAME).iterdir():
        path.unlink()
    monkeypatch.setattr(postings_file, "RETRY_SECONDS", 0.0)
    with ix.reader() as reader:
        leaf = next(leaf for leaf, _ in reader.leaf_readers())
        assert postings_file.for_segment(leaf) is None
        assert postings_file.refresh(ix)
        assert postings_file.for_segment(leaf) is not None


def built_from_blocks(ix, folder) -> dict[str, bytes]:
    """Each segment's postings file as `build` writes it from the segment's blocks."""
    with ix.reader() as reader:
        return {leaf.segment().segment_id(): postings_file.build(folder, leaf).read_bytes()
                for leaf, _ in reader.leaf_readers()}


def written(index_dir) -> dict[str, bytes]:
    return {p.stem: p.read_bytes()
            for p in (index_dir / postings_file.DIRNAME).glob("*" + postings_file.SUFFIX)}


@pytest.fixture
def no_build(monkeypatch):
    """Fail any postings file built from a segment's blocks (the commits must write them
    all); gives the real `build`, for a test to put back when it compares."""
    real = postings_file.build

    def refused(folder, reader):
        raise AssertionError(f"built from blocks: {reader.segment().segment_id()}")

    monkeypatch.setattr(postings_file, "build", refused)
    return real


def test_the_files_commits_write_are_those_built_from_the_blocks(index_dir, no_build,
                                                                  tmp_path):
    ix = open_index(index_dir)
    articles = list(distinct(330, seed=5))[210:]
    with ArticleWriter(ix, batch=40, interval=3600) as writer:  # commits, merges after them
        for article in articles:
            writer.add(article)
    files = written(index_dir)
    assert set(files) == segment_ids(ix) and len(files) >= 3
    postings_file.build = no_build  # (the fixture's monkeypatch restores it too)
    assert files == built_from_blocks(ix, tmp_path / "rebuilt")


def test_a_merge_with_deletions_writes_the_file_of_the_merged_segment(index_dir, no_build,
                                                                      tmp_path):
    ix = open_index(index_dir)
    with ix.searcher() as searcher:
        urls = [searcher.stored_fields(n)["url"] for n in range(0, searcher.doc_count_all(), 3)]
    assert delete_urls(ix, urls) == len(urls)
    before = ix.doc_count_all()
    optimize(ix)
    assert ix.doc_count_all() == before - len(urls)  # the deleted documents are dropped
    files = written(index_dir)
    assert set(files) == segment_ids(ix) and len(files) == 1
    postings_file.build = no_build
    assert files == built_from_blocks(ix, tmp_path / "rebuilt")
    with ix.searcher() as searcher:
        assert not {searcher.stored_fields(n)["url"] for n in range(searcher.doc_count_all())} \
            & set(urls)


def test_a_bulk_run_of_many_commits_and_a_merge_writes_every_file(tmp_path, no_build,
                                                                    monkeypatch):
    monkeypatch.setattr(postings_file, "CAPTURE_CHUNK", 97)  # many chunks spilled, read back
    ix = open_index(tmp_path / "index", create=True)
    with ArticleWriter(ix, batch=None, interval=None, bulk=True, batch_mb=0.008) as writer:
        for article in distinct(150, seed=11):
            writer.add(article)
    assert writer.commits > MAX_SEGMENTS  # so the run's end merged
    files = written(tmp_path / "index")
    assert set(files) == segment_ids(ix) and len(files) <= MAX_SEGMENTS
    postings_file.build = no_build
    assert files == built_from_blocks(ix, tmp_path / "rebuilt")


@pytest.mark.parametrize("seed", range(5))
def test_decoded_positions_equal_the_unpickled_ones(seed):
    """The vectorised reading of protocol 2's bytes, against pickle itself: gaps past 255
    and 65,535, lists of 1,000 gaps and more, values without their STOP."""
    rng = random.Random(seed)
    lists = []
    for _ in range(400):
        n = rng.choice([1, 1, 2, 3, 7, 999, 1000, 1001, 2500]) if rng.random() < 0.1 \
            else rng.randint(1, 4)
        top = rng.choice([20, 255, 256, 300, 70_000, 2**21])
        lists.append(sorted(rng.sample(range(top * n + n), n)))
    values = [Positions().encode(positions) for positions in lists]
    values = [v[:-1] if rng.random() < 0.05 else v for v in values]
    flat, starts = postings_file.decode_positions(values)
    assert flat.dtype == np.int64 and starts.tolist() == np.cumsum(
        [0] + [len(x) for x in lists]).tolist()
    assert flat.tolist() == [p for positions in lists for p in positions]
    assert [Positions().decode_positions(v) for v in values] == lists
    empty = postings_file.decode_positions([])
    assert empty[0].tolist() == [] and empty[1].tolist() == [0]
