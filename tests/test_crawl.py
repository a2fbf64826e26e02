"""The crawler end to end: real HTTP on 127.0.0.1 against the fixture news site, real Scrapy in
a subprocess (Twisted's reactor starts once per process), a real index and WARC archive."""

from __future__ import annotations

import email.utils
import json
import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest
from warcio.archiveiterator import ArchiveIterator

from search_service.archive.files import Page, read_pages
from search_service.archive.state import STATE_FILE, CrawlState
from search_service.archive.warc import archive_files
from search_service.cli import main
from search_service.index.schema import open_index
from tests.support.news_site import Blackhole, NewsSite
from tests.support.servers import get_json, start

ROOT = Path(__file__).resolve().parent.parent
CONTACT = "https://news.test/about-our-crawler"
#: Settings that keep the tests fast: no politeness delay, short timeouts (connecting: 0.5 s,
#: the whole response: 1.5 s), a small size limit.
FAST = ["--set", "DOWNLOAD_DELAY=0", "--set", "AUTOTHROTTLE_START_DELAY=0",
        "--set", "NEWS_CONNECT_TIMEOUT=0.5", "--set", "DOWNLOAD_TIMEOUT=1.5",
        "--set", f"DOWNLOAD_MAXSIZE={200_000}", "--no-progress"]
STORIES = [f"/news/story-{n}" for n in range(1, 9) if n != 7]
#: The tests of the one module-wide crawl (`site_crawl`): pytest-xdist runs them in one worker,
#: which crawls once (`--dist loadgroup`).
SHARES_THE_CRAWL = pytest.mark.xdist_group("test_crawl.site_crawl")


def crawl(*argv: str, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run `news-search crawl` in a fresh process and return it (`timeout`: a guard against
    a hang, not a time limit: a loaded machine stretches a crawl several times)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "search_service.cli", "crawl", *argv],
                          capture_output=True, text=True, timeout=timeout, cwd=ROOT, env=env)


def indexed_urls(index: Path, field: str = "url") -> set[str]:
    """Return the URLs (or canonical URLs) of the articles in the index."""
    with open_index(index).searcher() as searcher:
        return {fields[field] for fields in searcher.all_stored_fields()}


def sources_file(tmp_path: Path, site: NewsSite, *more_starts: str, **extra: str) -> Path:
    """Write a sources file for the fixture site (and more start URLs)."""
    starts = ", ".join(f'"{url}"' for url in [site.url("/"), *more_starts])
    lines = ["[[source]]", 'name = "Harbour Times"', f"start_urls = [{starts}]",
             f'feeds = ["{site.url("/feed.atom")}"]',
             "allow = ['/news/', '/special/', '/private/']", "deny = ['/tag/']",
             "max_depth = 3", "max_pages = 60"]
    lines += [f"{key} = {value}" for key, value in extra.items()]
    path = tmp_path / "sources.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture(scope="module")
def site_crawl(tmp_path_factory):
    """One crawl of the whole fixture site (hostile corners included), shared by the tests."""
    tmp = tmp_path_factory.mktemp("crawl")
    site = NewsSite().start()
    unreachable = Blackhole()  # an article on a port that never accepts a connection
    try:
        sources = sources_file(tmp, site, unreachable.url("/news/story-99"),
                               collections='["Regional papers", "Ports"]')
        proc = crawl("--sources", str(sources), "--index", str(tmp / "ix"),
                     "--contact", CONTACT, *FAST)
    finally:
        site.stop()
        unreachable.close()
    return {"proc": proc, "site": site, "index": tmp / "ix",
            "archive": tmp / "ix-archive"}


@SHARES_THE_CRAWL
def test_crawl_indexes_the_right_articles_in_bounded_time(site_crawl):
    proc = site_crawl["proc"]
    assert proc.returncode == 0, proc.stderr
    base = site_crawl["site"].base
    # the endless article too, cut at the size limit
    expected = {base + p for p in STORIES + ["/special/flaky", "/special/busy",
                                             "/special/endless"]}
    assert indexed_urls(site_crawl["index"]) == expected


@SHARES_THE_CRAWL
def test_crawl_summary_names_every_refusal_and_error(site_crawl):
    lines = site_crawl["proc"].stdout.splitlines()
    assert lines[0].endswith(": 10 articles archived, 10 indexed, 0 rejected, 5 refused, "
                             "5 errors (finished)")
    assert lines[1:] == [
        "  1 cut at the size limit (kept up to the limit)",  # the endless article
        "  refused 1: disallowed by robots.txt",        # /private/
        "  refused 1: duplicate of its rel=canonical",  # story-1's print view
        "  refused 1: not HTML (application/pdf)",
        "  refused 1: too large",                       # the gzip bomb (20 MB decompressed)
        "  refused 1: too many redirects",              # the endless redirect chain
        "  error 1: HTTP 404",                          # the URL the broken sitemap still gave
        "  error 1: connect timeout",                   # the port that never accepts, retried
        "  error 1: malformed feed",
        "  error 1: malformed sitemap",                 # the one that is not XML at all
        "  error 1: read timeout",                      # the stalling page, after retries
        "  source Harbour Times: cut 1, dated 10, errors 5, indexed 10, refused 5",
    ]


@SHARES_THE_CRAWL
def test_crawled_articles_join_their_sources_collections(site_crawl):
    with open_index(site_crawl["index"]).searcher() as searcher:
        collections = {fields["collection"] for fields in searcher.all_stored_fields()}
    assert collections == {"Regional papers,Ports"}


@SHARES_THE_CRAWL
def test_each_article_fetched_once_by_its_canonical_url(site_crawl):
    site = site_crawl["site"]
    for path in STORIES:
        assert site.fetched(path) == 1, path
    paths = [p for _, p, _ in site.hits]
    assert not [p for p in paths if "utm_" in p or "fbclid" in p or "gclid" in p]
    assert site.fetched("/news/story-1?print=1") == 1
    assert site.fetched("/robots.txt") == 1


@SHARES_THE_CRAWL
def test_politeness_robots_user_agent_and_traps(site_crawl):
    site = site_crawl["site"]
    paths = [p for _, p, _ in site.hits]
    assert not [p for p in paths if p.startswith("/private/")]
    assert {ua for _, _, ua in site.hits} == {f"news-search/0.1.0 (+{CONTACT})"}
    calendar = {p for p in paths if p.startswith("/calendar/")}
    # max_depth 3 ends the infinite calendar: day 1 at depth 1, its neighbours at 2 and 3
    assert calendar == {"/calendar/-1", "/calendar/0", "/calendar/1", "/calendar/2",
                        "/calendar/3"}
    assert len([p for p in paths if p.startswith("/loop/")]) == 6  # first + 5 redirects
    # the endless paginated archive ends at max_depth 3: /world/ is reached at depth 1 (from
    # the front page) or 2 (from an article found in a feed), so page 2, perhaps page 3
    pages = {p for p in paths if "page=" in p}
    assert "/world/?page=2" in pages and pages <= {"/world/?page=2", "/world/?page=3"}
    assert "https://elsewhere.example/x" not in paths


@SHARES_THE_CRAWL
def test_retries_500s_and_honours_retry_after(site_crawl):
    site = site_crawl["site"]
    assert site.fetched("/special/flaky") == 3  # 500, 500, then the article
    busy = [t for t, p, _ in site.hits if p == "/special/busy"]
    assert len(busy) == 2 and busy[1] - busy[0] >= 1.9  # 429 Retry-After: 2
    stall = site.fetched("/special/stall")
    assert stall == 3  # timed out, retried twice, given up


@SHARES_THE_CRAWL
def test_retry_after_pauses_the_whole_host(site_crawl):
    site = site_crawl["site"]
    answered = site.events["busy"]  # when the 429 with Retry-After: 2 went out
    later = sorted(t - answered for t, _, _ in site.hits if t > answered)
    # not one request to the host while the pause lasts (a request already on the wire when
    # the 429 arrived would land within milliseconds); the host still had work queued
    assert [t for t in later if 0.2 < t < 1.9] == []
    assert len([t for t in later if t >= 1.9]) >= 3


@SHARES_THE_CRAWL
def test_archive_holds_every_article_response_and_reindex_rebuilds(site_crawl, capsys):
    files = archive_files(site_crawl["archive"])
    assert files
    pages = [p for p in read_pages(files) if isinstance(p, Page)]
    assert {p.url for p in pages} == indexed_urls(site_crawl["index"])
    assert all(b"plan approved" in p.html for p in pages)
    (endless,) = [p for p in pages if p.url.endswith("/special/endless")]
    assert len(endless.html) == 200_000  # cut at DOWNLOAD_MAXSIZE, marked so in the WARC
    assert truncated_records(files) == [endless.url]
    index = site_crawl["index"]
    # Batches of 3 commit four segments; the rebuilt index is merged into one before the swap.
    status = main(["reindex", "--index", str(index), "--archive", str(site_crawl["archive"]),
                   "--batch", "3"])
    out, err = capsys.readouterr()
    assert status == 0
    assert out.splitlines() == [
        "10 pages read: 10 indexed (0 near-duplicates of other articles), 0 rejected, 0 failed"]
    assert "Reindexing" in err and "Merging the new index into one segment" in err
    assert indexed_urls(index) == {p.url for p in pages}
    assert len(open_index(index)._segments()) == 1



def truncated_records(files: list[Path]) -> list[str]:
    """The URLs of the WARC records marked `WARC-Truncated`."""
    urls = []
    for path in files:
        with path.open("rb") as stream:
            for record in ArchiveIterator(stream):
                if record.rec_headers.get_header("WARC-Truncated"):
                    urls.append(record.rec_headers.get_header("WARC-Target-URI"))
    return urls


@SHARES_THE_CRAWL
def test_rss_1_0_feed_and_a_wrong_declared_charset(site_crawl):
    with open_index(site_crawl["index"]).searcher() as searcher:
        (story,) = [f for f in searcher.all_stored_fields() if f["url"].endswith("/story-8")]
    assert story["title"] == "Zürich Quay plan approved"  # UTF-8 bytes, Latin-1 header


def test_reindex_without_archive_fails_clearly(tmp_path, capsys):
    status = main(["reindex", "--index", str(tmp_path / "ix"), "--archive",
                   str(tmp_path / "none")])
    assert status == 1
    assert capsys.readouterr().err.strip().endswith("none: no WARC files in the archive")


def test_crawl_urls_from_the_command_line_and_crawl_delay(tmp_path):
    site = NewsSite(crawl_delay=0.5).start()
    try:
        with_progress = [a for a in FAST if a != "--no-progress"]
        proc = crawl(site.url("/world/"), "--max-depth", "1", "--index",
                              str(tmp_path / "ix"), *with_progress)
    finally:
        site.stop()
    assert proc.returncode == 0, proc.stderr
    # story 6 from the section page; stories 1 and 2 from the sitemaps robots.txt names
    # (story 1 once, whether by its print view or its canonical URL)
    assert indexed_urls(tmp_path / "ix", "canonical_url") == {
        site.url(f"/news/story-{n}") for n in (1, 2, 6)}
    assert "3 indexed" in proc.stdout
    # the live progress line: fetched/s, queued, indexed, rejected, refused, errors
    progress = proc.stderr.rsplit("Crawling:", 1)[1]
    assert "pages/s" in progress and "queued=0" in progress and "indexed=3" in progress
    assert "rejected=2" in progress and "refused=0" in progress and "errors=2" in progress
    times = sorted(t for t, p, _ in site.hits if p != "/robots.txt")
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    # robots.txt Crawl-delay: 0.5 (without it these tests crawl with no delay at all); the
    # server stamps arrivals, so allow for scheduling jitter on a busy machine
    assert len(times) >= 6 and min(gaps) >= 0.3 and sum(gaps) / len(gaps) >= 0.5


@pytest.mark.parametrize("argv, message", [
    ([], "give start URLs or --sources FILE"),
    (["ftp://x.example/"], "not an http(s) URL: 'ftp://x.example/'"),
])
def test_crawl_bad_arguments_fail_clearly(capsys, tmp_path, argv, message):
    status = main(["crawl", "--index", str(tmp_path / "ix"), *argv])
    assert status == 1
    assert message in capsys.readouterr().err


def article_hits(site: NewsSite) -> int:
    """How many article pages the site served (any status)."""
    return sum(1 for _, p, _ in site.hits if p.startswith("/news/story-"))


def test_an_edit_dated_before_our_fetch_but_after_our_copy_is_fetched(tmp_path):
    # Regression (found by the constant-size soak): the crawler set the sitemap's lastmod
    # (the site's clock) against the time it handled the response (its own), so an edit made
    # just after the site answered, or a site whose clock is behind ours, looked older than
    # the copy we had and was never fetched. Our copy's own Last-Modified is the measure.
    site = NewsSite().start()
    site.news_items = [1]
    site.last_modified["/news/story-1"] = email.utils.formatdate(time.time() - 3600,
                                                                  usegmt=True)
    site.lastmod[1] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 3600))
    index = tmp_path / "ix"
    sources = tmp_path / "news.toml"
    sources.write_text(f"""[[source]]
name = "Harbour Times"
sitemaps = ["{site.url('/sitemap-news.xml')}"]
max_depth = 0
recrawl_interval = "1s"
""")
    try:
        proc = crawl("--sources", str(sources), "--index", str(index), *FAST)
        assert proc.returncode == 0, proc.stderr
        assert site.fetched("/news/story-1") == 1
        time.sleep(1)  # past the re-crawl interval
        # the story is edited; the sitemap dates the edit 30 minutes ago: after our copy's
        # Last-Modified, before the time we fetched it
        site.changed.add("/news/story-1")
        site.lastmod[1] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 1800))
        proc = crawl("--sources", str(sources), "--index", str(index), *FAST)
    finally:
        site.stop()
    assert proc.returncode == 0, proc.stderr
    assert site.fetched("/news/story-1") == 2
    with open_index(index).searcher() as searcher:
        titles = [f["title"] for f in searcher.all_stored_fields()]
    assert titles == ["Dredging Revised plan approved"]


def test_recrawl_skips_fresh_articles_then_asks_only_for_changes(tmp_path):
    site = NewsSite(extra=3).start()
    index = str(tmp_path / "ix")
    try:
        sources = str(site.small_sources(tmp_path))
        proc = crawl("--sources", sources, "--index", index, *FAST)
        assert proc.returncode == 0, proc.stderr
        assert "5 indexed" in proc.stdout and article_hits(site) == 5
        proc = crawl("--sources", sources, "--index", index, *FAST)
        assert proc.stdout.splitlines()[1] == (
            "  0 unchanged since the last crawl (304 or sitemap lastmod), "
            "5 fetched recently (not due)")
        assert article_hits(site) == 5  # nothing due yet: not one article asked for
        site.small_sources(tmp_path, recrawl="1s")
        time.sleep(1)
        site.changed.add("/news/story-100")
        proc = crawl("--sources", sources, "--index", index, *FAST)
    finally:
        site.stop()
    assert proc.returncode == 0, proc.stderr
    assert "1 indexed" in proc.stdout.splitlines()[0]
    # stories 1 and 2: their sitemap lastmod is older than our copy, so not even asked for;
    # 101 and 102: 304 Not Modified; 100 changed and was fetched again
    assert proc.stdout.splitlines()[1] == (
        "  4 unchanged since the last crawl (304 or sitemap lastmod), "
        "0 fetched recently (not due)")
    assert article_hits(site) == 8
    assert site.fetched("/news/story-1") == 1 and site.fetched("/news/story-100") == 2
    with open_index(Path(index)).searcher() as searcher:
        titles = sorted(f["title"] for f in searcher.all_stored_fields())
    assert len(titles) == 5 and "Harbour Item 100 Revised plan approved" in titles


def test_crawl_killed_at_any_moment_resumes_without_refetching(tmp_path):
    site = NewsSite(extra=40).start()
    index = tmp_path / "ix"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    argv = ["--sources", str(site.small_sources(tmp_path)), "--index", str(index), *FAST,
            "--set", "DOWNLOAD_DELAY=0.2", "--set", "NEWS_COMMIT_SECONDS=0.5"]
    try:
        proc = subprocess.Popen([sys.executable, "-m", "search_service.cli", "crawl", *argv],
                                cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        state = None
        # A guard against a hang, not a time limit: under load the first commits come late.
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and proc.poll() is None:
            if (tmp_path / "ix-archive" / STATE_FILE).exists():
                state = state or CrawlState(tmp_path / "ix-archive")
                if state.count() >= 8:
                    break
            time.sleep(0.02)
        assert state is not None and state.count() >= 8, "the crawl committed fewer than 8"
        proc.kill()  # SIGKILL: no chance to save anything
        proc.wait(timeout=10)
        committed = {url for (url,) in state.db.execute("SELECT url FROM fetched")}
        archived = {p.url for p in state.pending()}  # archived, not yet indexed
        state.close()
        before = article_hits(site)
        assert 8 <= len(committed) <= before < 42
        resumed = crawl(*argv)
    finally:
        site.stop()
    assert resumed.returncode == 0, resumed.stderr
    expected = {site.url(f"/news/story-{n}") for n in [1, 2, *range(100, 140)]}
    assert indexed_urls(index) == expected  # nothing lost
    paths = [p for _, p, _ in site.hits if p.startswith("/news/story-")]
    # every article in the archive was fetched once: committed ones are skipped, archived
    # ones are indexed from the archive; only those killed in flight are fetched again
    assert all(paths.count(url.replace(site.base, "")) == 1 for url in committed | archived)
    assert len(paths) - len(set(paths)) <= before - len(committed | archived)
    if archived:
        assert f"  {len(archived)} indexed from the archive" in resumed.stdout
    # the hub page and the sitemaps were fetched within the re-crawl interval: not again
    for hub in ("/more/", "/sitemap_index.xml", "/sitemap-news.xml"):
        assert site.fetched(hub) == 1, hub


def test_crawl_stopped_with_ctrl_c_resumes_its_queue(tmp_path):
    site = NewsSite(extra=40).start()
    index = tmp_path / "ix"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    argv = ["--sources", str(site.small_sources(tmp_path)), "--index", str(index), *FAST,
            "--set", "DOWNLOAD_DELAY=0.1"]
    try:
        proc = subprocess.Popen([sys.executable, "-m", "search_service.cli", "crawl", *argv],
                                cwd=ROOT, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, start_new_session=True)
        deadline = time.monotonic() + 300  # a guard against a hang, not a time limit
        while article_hits(site) < 10 and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.02)
        os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C reaches the whole process group
        out, err = proc.communicate(timeout=30)
        assert proc.returncode == 1, err
        assert out.splitlines()[0].endswith("(shutdown)")
        assert "BrokenProcessPool" not in err and "processing failed" not in out
        (job,) = (tmp_path / "ix-archive" / "jobs").iterdir()
        assert (job / "interrupted").read_text() == "shutdown"
        before = article_hits(site)
        resumed = crawl(*argv)
    finally:
        site.stop()
    assert resumed.returncode == 0, resumed.stderr
    assert before < 42 and "(finished)" in resumed.stdout
    expected = {site.url(f"/news/story-{n}") for n in [1, 2, *range(100, 140)]}
    assert indexed_urls(index) == expected
    paths = [p for _, p, _ in site.hits if p.startswith("/news/story-")]
    assert len(paths) == len(set(paths)) == 42  # not one article fetched twice
    assert not (tmp_path / "ix-archive" / "jobs" / job.name).exists()


def test_one_crawl_per_archive(tmp_path, capsys):
    from search_service.crawl.engine import archive_lock

    with archive_lock(tmp_path / "ix-archive"):
        status = main(["crawl", "--index", str(tmp_path / "ix"), "http://127.0.0.1:9/"])
    assert status == 1
    assert "another crawl is using the archive" in capsys.readouterr().err


def test_watch_polls_discovered_feeds_and_sitemaps_and_new_articles_become_searchable(
        tmp_path):
    site = NewsSite().start()
    index = tmp_path / "ix"
    sources = tmp_path / "watch.toml"
    # only a hub page: the feed is the one it announces, the sitemaps those robots.txt names
    sources.write_text(f"""[[source]]
name = "Harbour Times"
start_urls = ["{site.url('/hub/')}"]
allow = ['/news/']
max_depth = 0
recrawl_interval = 1
""")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    server = None
    proc = subprocess.Popen(
        [sys.executable, "-m", "search_service.cli", "crawl", "--watch", "--sources",
         str(sources), "--index", str(index), *FAST, "--set", "NEWS_COMMIT_SECONDS=0.5"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True)
    try:
        # the feed's stories, and those of the news sitemap in the sitemap index
        first = {site.url(f"/news/story-{n}") for n in (1, 2, 3, 4)}
        deadline = time.monotonic() + 300  # a guard against a hang, not a time limit
        while time.monotonic() < deadline and proc.poll() is None and not (
                index.exists() and indexed_urls(index) == first):
            time.sleep(0.1)
        assert indexed_urls(index) == first
        server, base = start(["serve", "--index", str(index)])  # a running serve
        assert get_json(base + "api/search?q=tunnel")["total"] == 0
        site.rss_items.append(7)  # a new story (about a tunnel) appears in the feed
        site.undated.add(31)  # and one whose page states no date in the news sitemap
        site.news_items.append(31)
        added = time.monotonic()
        # the next poll (at most ~5 s away), fetch, commit, refresh; the guard is generous
        # for a loaded machine (it bounds a hang, not the speed)
        while (time.monotonic() < added + 120
               and get_json(base + "api/search?q=tunnel")["total"] == 0):
            time.sleep(0.1)
        assert get_json(base + "api/search?q=tunnel")["results"][0]["url"] == site.url(
            "/news/story-7")
        new = {site.url("/news/story-7"), site.url("/news/story-31")}
        while time.monotonic() < added + 120 and indexed_urls(index) != first | new:
            time.sleep(0.1)
        assert indexed_urls(index) == first | new
        os.killpg(proc.pid, signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        for child in (proc, server):
            if child is not None and child.poll() is None:
                child.kill()
                child.wait(timeout=10)
        site.stop()
    assert proc.returncode == 0, err
    assert site.fetched("/feed.rss") >= 2 and site.fetched("/sitemap-news.xml") >= 2
    assert site.fetched("/news/story-2") == 1  # polling again does not refetch articles
    assert "6 indexed" in out and "(shutdown)" in out
    for rebuilt in (False, True):  # the archive keeps the hint: reindex finds it again
        if rebuilt:
            assert main(["reindex", "--index", str(index)]) == 0
        with open_index(index).searcher() as searcher:
            dates = {f["url"].rsplit("/", 1)[1]: f.get("published")
                     for f in searcher.all_stored_fields()}
        # the page states no date: the news sitemap's publication date stands in for it
        assert dates["story-31"] == datetime(2024, 3, 31, 9, 0)
        assert dates["story-4"] == datetime(2024, 3, 5, 9, 0)  # the page's own date


@SHARES_THE_CRAWL
def test_stats_reports_each_crawled_source(site_crawl, capsys):
    status = main(["stats", "--json", "--index", str(site_crawl["index"])])
    data = json.loads(capsys.readouterr().out)
    assert status == 0 and data["articles"] == 10
    (row,) = data["crawl"].values()
    assert data["crawl"].keys() == {"Harbour Times"}
    assert row.pop("last_crawl").startswith(str(datetime.now(timezone.utc).year))
    assert row == {
        "finish_reason": "finished", "indexed": 10, "dated_share": 1.0,
        "rejected_share": 0.0, "unchanged": 0, "fresh": 0, "cut": 1, "rejected": {},
        "refused": {"disallowed by robots.txt": 1, "duplicate of its rel=canonical": 1,
                    "not HTML (application/pdf)": 1, "too large": 1, "too many redirects": 1},
        "errors": {"HTTP 404": 1, "connect timeout": 1, "malformed feed": 1,
                   "malformed sitemap": 1, "read timeout": 1},
    }
    status = main(["stats", "--index", str(site_crawl["index"])])
    out = capsys.readouterr().out
    assert "  Harbour Times: " in out
    assert "(finished), 10 indexed, 100% with a date, 0% rejected" in out
    assert "0 not due, 1 cut at the size limit" in out
    assert ("    errors: HTTP 404 1, connect timeout 1, malformed feed 1, malformed sitemap 1, "
            "read timeout 1") in out
