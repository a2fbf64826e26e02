"""The sources page, relative dates, link targets and accessibility basics of the pages,
through the Flask test client over the real index: exact text, and hostile names escaped."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from bs4 import BeautifulSoup

from search_service.archive.state import save_source_stats
from search_service.article import Article, article_id
from search_service.index.schema import open_index
from search_service.index.writer import write_articles
from search_service.web import create_app
from tests.support.paths import SEED_URL

NOW = datetime(2023, 7, 15, 12, 0, tzinfo=timezone.utc)
HOSTILE_NAME = '"><script>alert(1)</script><img src=x onerror=alert(2)>'


def page(client, url: str) -> BeautifulSoup:
    """GET `url` (expecting a 200 HTML page) and parse it."""
    response = client.get(url)
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    return BeautifulSoup(response.data, "lxml")


def cells(soup: BeautifulSoup) -> list[list[str]]:
    """The sources table's rows as lists of cell texts."""
    return [[" ".join(c.get_text().split()) for c in row.find_all(["th", "td"])]
            for row in soup.select("table.sources tbody tr")]


def details(card) -> dict[str, str]:
    """A crawl card's definition list as {term: text}."""
    return {dt.get_text(): " ".join(dd.get_text().split()) for dt, dd in
            zip(card.find_all("dt"), card.find_all("dd"), strict=True)}


@pytest.fixture
def archive_dir(tmp_path):
    """A crawl archive directory holding two sources' last-crawl records."""
    path = tmp_path / "archive"
    path.mkdir()
    counts = {
        "Harbour Times": {"indexed": 8, "dated": 6, "rejected": 2,
                          "rejected: too little text": 2, "refused": 3,
                          "refused: disallowed by robots.txt": 2, "refused: too large": 1,
                          "errors": 1, "errors: HTTP 404": 1, "unchanged": 4, "fresh": 5, "cut": 2},
        HOSTILE_NAME: {"indexed": 0, "rejected": 1, "rejected: <b>not an article</b>": 1,
                       "errors": 2, "errors: <script>alert(3)</script>": 2},
    }
    save_source_stats(path, counts, counts, datetime(2023, 7, 12, 9, 30, tzinfo=timezone.utc),
                      "finished")
    return path


@pytest.fixture
def client(index_dir, archive_dir):
    """A client of the app over a copy of the built index, its crawl archive and a fixed now."""
    app = create_app({"TESTING": True, "INDEX_DIR": str(index_dir),
                      "ARCHIVE_DIR": str(archive_dir), "NOW": NOW})
    return app.test_client()


def test_sources_page_lists_index_sources_and_last_crawls(client):
    soup = page(client, "/sources")
    assert soup.h1.get_text() == "Sources"
    summary = " ".join(soup.select_one("p.summary").get_text().split())
    assert summary.startswith("27 articles from 4 sources; index last updated ")
    assert cells(soup) == [
        ["The Wire Ledger", "24", "100%", "1987-02-26 (36 years ago)"],
        ["Baltic Wire", "1", "100%", "2023-07-10 (5 days ago)"],
        ["Hostile <b>Herald</b>", "1", "100%", "2023-07-12 (3 days ago)"],
        ["Northern Dispatch", "1", "100%", "2023-07-10 (5 days ago)"],
    ]
    link = soup.select_one("table.sources tbody tr th a")
    assert link["href"] == "/?source=The+Wire+Ledger"
    crawled = soup.select("article.crawl-source")
    assert [c.h3.get_text() for c in crawled] == [HOSTILE_NAME, "Harbour Times"]
    assert details(crawled[1]) == {
        "Last crawl": "2023-07-12 (3 days ago), finished",
        "Indexed": "8 articles, 75% with a date",
        "Rejected": "20%: too little text 2",
        "Refused": "disallowed by robots.txt 2, too large 1",
        "Fetch errors": "HTTP 404 1",
        "Unchanged, not due": "4 unchanged, 5 not yet due",
        "Cut at the size limit": "2",
    }
    hostile = details(crawled[0])
    assert hostile["Rejected"] == "100%: <b>not an article</b> 1"
    assert hostile["Fetch errors"] == "<script>alert(3)</script> 2"


def test_sources_page_escapes_hostile_names(client):
    response = client.get("/sources")
    soup = BeautifulSoup(response.data, "lxml")
    assert soup.find("script") is None
    assert soup.find("img") is None
    assert soup.find("b") is None
    assert b"&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=alert(2)&gt;" in (
        response.data)


def test_sources_page_is_linked_from_every_page(client):
    for url in ("/", "/?q=oil", f"/articles/{article_id(SEED_URL)}", "/sources"):
        nav = page(client, url).select_one("header nav")
        assert [a["href"] for a in nav.find_all("a")] == ["/", "/compare", "/sources"]
    current = page(client, "/sources").select_one("nav a[aria-current=page]")
    assert current.get_text() == "Sources"


def test_sources_page_of_an_empty_index(tmp_path):
    app = create_app({"TESTING": True, "INDEX_DIR": str(tmp_path / "none"), "NOW": NOW})
    soup = page(app.test_client(), "/sources")
    assert " ".join(soup.select_one("p.summary").get_text().split()) == (
        "0 articles from 0 sources.")
    assert [p.get_text().split(".")[0] for p in soup.select("p.none")] == [
        "The index holds no articles yet", "No crawl has been recorded"]


def test_sources_page_counts_undated_articles(tmp_path):
    ix = open_index(tmp_path / "index", create=True)
    write_articles(ix, [
        Article(url=f"https://quiet.example/{i}", canonical_url=f"https://quiet.example/{i}",
                title=f"Quiet story {i}", body=f"Story number {i} about the harbour. " * 20,
                source="Quiet Post",
                published=datetime(2023, 7, 1 + i, tzinfo=timezone.utc) if i < 1 else None)
        for i in range(4)])
    app = create_app({"TESTING": True, "INDEX_DIR": str(tmp_path / "index"), "NOW": NOW})
    soup = page(app.test_client(), "/sources")
    assert cells(soup) == [["Quiet Post", "4", "25%", "2023-07-01 (14 days ago)"]]
    assert soup.select_one("td.warn").get_text() == "25%"


def test_results_and_article_show_relative_and_absolute_dates(client):
    soup = page(client, "/?q=oil&sort=newest")
    meta = soup.select_one("li.result .meta")
    assert meta.time["datetime"] == "2023-07-12T09:00:00+00:00"
    assert " ".join(meta.get_text().split()) == (
        "Hostile <b>Herald</b> · 2023-07-12 (3 days ago) · original")
    soup = page(client, f"/articles/{article_id(SEED_URL)}")
    meta = soup.select_one("article.article .meta")
    assert meta.time["datetime"] == "2023-07-10T06:30:00+00:00"
    assert " ".join(meta.get_text().split()) == (
        "Northern Dispatch · 2023-07-10 (5 days ago) (date from JSON-LD) · by Marta Kowalska, "
        "Jonas Petrauskas")
    related = soup.select("section.related li")
    assert all(li.time and li.select_one(".ago") for li in related)


def test_only_web_addresses_become_links(tmp_path):
    ix = open_index(tmp_path / "index", create=True)
    write_articles(ix, [Article(
        url="javascript:alert(document.domain)", canonical_url="https://odd.example/story",
        title="Harbour story with an odd address", body="The harbour story body. " * 20,
        source="Odd Post")])
    app = create_app({"TESTING": True, "INDEX_DIR": str(tmp_path / "index"), "NOW": NOW})
    client = app.test_client()
    for url in ("/?q=harbour", f"/articles/{article_id('https://odd.example/story')}"):
        soup = page(client, url)
        assert [a["href"] for a in soup.find_all("a") if "javascript" in a["href"]] == []
        assert "not a web address" in soup.select_one(".original").get_text()
    feed = BeautifulSoup(client.get("/search.atom?q=harbour").data, "xml")
    assert [link["href"] for link in feed.entry.find_all("link")] == [
        f"http://localhost/articles/{article_id('https://odd.example/story')}"] * 2


@pytest.mark.parametrize("url", ["/", "/?q=oil", f"/articles/{article_id(SEED_URL)}",
                                 "/sources", "/nowhere"])
def test_pages_have_landmarks_a_skip_link_and_labelled_inputs(client, url):
    response = client.get(url)
    soup = BeautifulSoup(response.data, "lxml")
    skip = soup.body.find("a")
    assert (skip["href"], skip.get_text()) == ("#main", "Skip to content")
    assert soup.find("main")["id"] == "main"
    assert [len(soup.find_all(tag)) for tag in ("header", "main", "footer")] == [1, 1, 1]
    assert soup.select_one("header nav")["aria-label"] == "Site"
    for control in soup.select("input:not([type=hidden]), select, textarea"):
        wrapped = control.find_parent("label") is not None
        named = control.get("id") and soup.find("label", attrs={"for": control["id"]})
        assert wrapped or named, control
