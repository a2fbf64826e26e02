"""Crash safety: `ingest`, `reindex` and `crawl` SIGKILLed at seeded moments and at kill points
inside index commits, the index swap and WARC writes. After each kill the index opens and
serves, holds every article committed before the kill exactly once, and running the same
command again ends with the same articles as an undisturbed run. (More kills, and crawls
killed at random moments: `benchmarks/drill.py`.)"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from search_service import config
from search_service.archive.files import Page, read_pages
from search_service.archive.warc import archive_files
from tests.support.drills import (
    canonical_urls,
    check_index,
    orphan_files,
    run,
    torn_records,
    warc_subset,
)
from tests.support.news_site import NewsSite

PAGES = 40
BATCH = "10"


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """40 stories of the bundled sample as a WARC file, and what an undisturbed ingest of
    them indexes (with its run time)."""
    tmp = tmp_path_factory.mktemp("kills")
    warc = warc_subset(config.SAMPLE_WARC, tmp / "stories.warc.gz", 0, PAGES)
    index = tmp / "undisturbed"
    done = run(["ingest", "--index", str(index), "--batch", BATCH, str(warc)])
    assert done.returncode == 0, done.stderr
    urls = canonical_urls(index)
    assert len(urls) == len(set(urls)) == PAGES
    return {"warc": warc, "expected": set(urls), "seconds": done.seconds}


def ingest_argv(index: Path, warc: Path) -> list[str]:
    return ["ingest", "--index", str(index), "--batch", BATCH, str(warc)]


def test_ingest_killed_at_seeded_moments_keeps_every_commit_once(corpus, tmp_path):
    index = tmp_path / "ix"
    rng = random.Random(20261126)
    kills = 0
    for _ in range(3):  # each run restarts the killed one, and is killed in turn
        delay = rng.uniform(1.0, corpus["seconds"])
        killed = run(ingest_argv(index, corpus["warc"]), kill_after=delay, watch=index)
        kills += killed.killed
        check = check_index(index, killed.seen) if index.exists() else None
        assert check is None or check.ok, check
    assert kills >= 2  # the seeded delays fall inside the run
    finished = run(ingest_argv(index, corpus["warc"]))
    assert finished.returncode == 0, finished.stderr
    urls = canonical_urls(index)
    assert sorted(urls) == sorted(corpus["expected"])  # nothing lost, nothing twice


def test_ingest_killed_inside_commits(corpus, tmp_path):
    index = tmp_path / "ix"
    # `segments`: the 2nd commit wrote its segment files, no table of contents; `toc`: the
    # 3rd table of contents (the index's creation writes the 1st) is written, not renamed
    for point, nth, committed in (("segments", 2, 10), ("toc", 3, 20)):
        killed = run(ingest_argv(index, corpus["warc"]), point=point, nth=nth, watch=index)
        assert killed.killed, killed.stderr
        assert orphan_files(index) > 0  # the commit was cut short: files no commit refers to
        check = check_index(index, killed.seen)
        assert check.ok, check
        assert check.articles == committed  # the commits before it, whole
    finished = run(ingest_argv(index, corpus["warc"]))
    assert finished.returncode == 0, finished.stderr
    assert sorted(canonical_urls(index)) == sorted(corpus["expected"])


def test_reindex_killed_mid_swap_leaves_the_old_index_and_runs_again(corpus, tmp_path):
    index, archive = tmp_path / "ix", tmp_path / "ix-archive"
    half = PAGES // 2
    warc_subset(config.SAMPLE_WARC, archive / "news-search-1.warc.gz", 0, half)
    second = warc_subset(config.SAMPLE_WARC, archive / "news-search-2.warc.gz", half, PAGES)
    second.write_bytes(second.read_bytes()[:-300])  # a crawl killed mid-write: torn record
    old = run(["ingest", "--index", str(index), str(archive / "news-search-1.warc.gz")])
    assert old.returncode == 0, old.stderr
    before = set(canonical_urls(index))
    argv = ["reindex", "--index", str(index), "--batch", BATCH]
    killed = run(argv, point="swap", nth=1)
    assert killed.killed, killed.stderr
    assert not index.exists()  # the old index moved aside, the new one not yet in
    check = check_index(index, before)  # opening it puts the old index back, whole
    assert check.ok and check.articles == len(before), check
    assert (tmp_path / "ix.reindexing").exists()  # the killed rebuild's leftover
    finished = run(argv)
    assert finished.returncode == 0, finished.stderr  # a torn record is not a failure
    assert "skipped a torn WARC record (a write cut short)" in finished.stdout
    readable = {page.url for page in read_pages(archive_files(archive)) if isinstance(page, Page)}
    assert len(readable) == PAGES - 1
    assert sorted(canonical_urls(index)) == sorted(readable)
    assert not (tmp_path / "ix.reindexing").exists() and not (tmp_path / "ix.old").exists()


def test_crawl_killed_mid_warc_write_resumes_and_skips_the_torn_record(tmp_path):
    site = NewsSite(extra=4).start()
    index, archive = tmp_path / "ix", tmp_path / "ix-archive"
    sources = site.small_sources(tmp_path)
    argv = ["crawl", "--sources", str(sources), "--index", str(index), "--no-progress",
            "--set", "DOWNLOAD_DELAY=0", "--set", "AUTOTHROTTLE_START_DELAY=0",
            "--set", "NEWS_COMMIT_SECONDS=0.3"]
    try:
        killed = run(argv, point="warc", nth=4)
        assert killed.killed, killed.stderr
        pages, torn = torn_records(archive)
        assert (pages, torn) == (3, 1)  # three whole records, the fourth torn, and said so
        if index.exists():
            check = check_index(index, set())
            assert check.opens and check.serves and not check.duplicates, check
        finished = run(argv)
    finally:
        site.stop()
    assert finished.returncode == 0, finished.stderr
    expected = {site.url(f"/news/story-{n}") for n in [1, 2, *range(100, 104)]}
    urls = canonical_urls(index)
    assert sorted(urls) == sorted(expected)


def test_an_index_killed_before_its_first_commit_serves(tmp_path):
    from search_service.index.schema import open_index
    from search_service.web import create_app

    open_index(tmp_path / "ix", create=True)  # created, as ingest and crawl do first
    client = create_app({"TESTING": True, "INDEX_DIR": str(tmp_path / "ix")}).test_client()
    for _ in range(3):  # the second request used to fail refreshing the empty searcher
        for url in ("/api/search?q=harbour", "/?q=harbour", "/api/health", "/sources"):
            assert client.get(url).status_code == 200, url
