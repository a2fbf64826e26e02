"""The HTML pages through the Flask test client: search, article, empty index, errors."""

from __future__ import annotations

from bs4 import BeautifulSoup

from search_service.article import article_id
from search_service.web import create_app
from tests.support.paths import SEED_URL

HOSTILE_ID = article_id("https://hostile.example/news/oil-gas")


def page(client, url: str, status: int = 200) -> BeautifulSoup:
    """GET `url`, check its status and parse the HTML."""
    response = client.get(url)
    assert response.status_code == status
    assert response.mimetype == "text/html"
    return BeautifulSoup(response.data, "lxml")


def test_search_page_shows_highlighted_results(client):
    soup = page(client, "/?q=oil")
    results = soup.select("li.result")
    assert len(results) == 2
    first = results[0]
    assert first.h2.a["href"] == f"/articles/{HOSTILE_ID}"
    assert [m.get_text() for m in first.h2.find_all("mark")] == ["Oil"]
    assert first.h2.get_text() == "Oil & gas: <script>alert(1)</script> prices"
    assert first.select_one(".source").get_text() == "Hostile <b>Herald</b>"
    assert first.select_one("time")["datetime"] == "2023-07-12T09:00:00+00:00"
    assert [m.get_text() for m in first.select(".snippet mark")] == ["oil", "oil"]
    assert soup.find("input", id="q")["value"] == "oil"


def inline_scripts(soup) -> list:
    """The page's scripts other than this server's own files (static/*.js, loaded by src)."""
    return [tag for tag in soup.find_all("script")
            if not tag.get("src", "").startswith("/static/") or tag.get_text()]


def test_hostile_text_never_becomes_markup(client):
    for url in ("/?q=oil", f"/articles/{HOSTILE_ID}", "/?q=%3Cscript%3Ealert(9)%3C/script%3E"):
        soup = page(client, url)
        assert inline_scripts(soup) == []
        assert soup.find("img") is None
        assert soup.find("b") is None


def test_search_page_paginates(client):
    soup = page(client, "/?q=said&per_page=5")
    assert len(soup.select("li.result")) == 5
    next_link = soup.find("a", rel="next")["href"]
    soup2 = page(client, next_link)
    assert soup2.find("ol", class_="results")["start"] == "6"
    assert soup2.find("a", rel="prev") is not None


def test_article_page_has_body_and_related(client):
    soup = page(client, f"/articles/{article_id(SEED_URL)}")
    assert soup.h1.get_text() == (
        "NATO and Ukraine: The Debate Over Military Involvement and Security Guarantees")
    assert soup.find("a", class_="original")["href"] == SEED_URL
    paragraphs = soup.select("article.article > p")
    assert any(p.get_text().startswith("In recent remarks") for p in paragraphs)
    related = [a["href"] for a in soup.select("section.related li a")]
    assert len(related) == 5
    assert "/articles/" + article_id("https://balticwire.example/2023/07/nato-ukraine") not in (
        related)
    assert "by Marta Kowalska, Jonas Petrauskas" in soup.select_one(".meta").get_text()


def test_empty_index_explains_how_to_add_articles(tmp_path):
    client = create_app({"TESTING": True, "INDEX_DIR": str(tmp_path / "none")}).test_client()
    soup = page(client, "/")
    assert soup.h1.get_text() == "No articles to search yet"
    assert "news-search ingest PATH..." in soup.get_text()


def test_friendly_error_pages(client):
    soup = page(client, "/articles/nope", status=404)
    assert soup.h1.get_text() == "Not found"
    assert soup.select_one(".message").get_text() == "no article with id 'nope'"
    soup = page(client, "/?q=oil&per_page=500", status=400)
    assert soup.h1.get_text() == "That search did not work"
    assert soup.select_one(".message").get_text() == "per_page must be between 1 and 100"
    assert page(client, "/no/such/page", status=404).find("a", string="Back to search")


def test_search_page_filters_facets_timeline_and_similar_line(client):
    soup = page(client, "/?q=nato+OR+oil")
    bars = soup.select("figure.timeline svg a")
    assert len(bars) == 37  # one per year, 1987 to 2023
    assert bars[-1]["href"] == "/?q=nato+OR+oil&from=2023-01-01&to=2023-12-31"
    assert bars[-1].find("title").get_text() == "2023-01-01: 3"
    facets = {a.get_text(): a["href"] for a in soup.select("aside.facets a")}
    assert facets["Baltic Wire"] == "/?q=nato+OR+oil&source=Baltic+Wire"
    similar = soup.select("p.similar")
    assert [p.get_text() for p in similar] == ["1 similar article (same story elsewhere)"]
    assert soup.find("select", attrs={"name": "sort"}).find("option", selected=True)[
        "value"] == "best"


def test_search_page_applies_filters_and_offers_a_spelling(client):
    soup = page(client, "/?q=nato&source=Baltic+Wire")
    assert [a["href"] for a in soup.select("li.result h2 a")] == [
        "/articles/" + article_id("https://balticwire.example/2023/07/nato-ukraine")]
    assert soup.find("input", attrs={"name": "source"})["value"] == "Baltic Wire"
    soup = page(client, "/?q=vilnus")
    assert soup.select_one("p.suggestion a")["href"] == "/?q=vilnius"


def test_every_response_carries_the_security_headers(client):
    for url in ("/?q=oil", "/api/search?q=oil", "/articles/nope", "/api/nowhere"):
        headers = client.get(url).headers
        assert "script-src 'self'" in headers["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Referrer-Policy"] == "no-referrer"


def test_pages_have_no_inline_script_or_style(client):
    for url in ("/?q=oil", f"/articles/{HOSTILE_ID}", "/no/such/page"):
        soup = page(client, url, status=404 if "such" in url else 200)
        assert inline_scripts(soup) == []
        assert soup.find("style") is None
        assert not any(tag.has_attr("style") for tag in soup.find_all(True))


def test_atom_feed_lists_the_newest_matches_escaped(client):
    import xml.etree.ElementTree as ET

    response = client.get("/search.atom?q=oil")
    assert response.mimetype == "application/atom+xml"
    ns = {"a": "http://www.w3.org/2005/Atom"}
    feed = ET.fromstring(response.data)
    assert feed.find("a:title", ns).text == "News search: oil"
    entries = feed.findall("a:entry", ns)
    assert [e.find("a:title", ns).text for e in entries][0] == (
        "Oil & gas: <script>alert(1)</script> prices")
    published = [e.find("a:published", ns).text for e in entries]
    assert published == sorted(published, reverse=True) and len(published) == 2
    assert entries[0].find("a:summary", ns).text.startswith("Traders said <mark>oil</mark>")
    assert b"<script>" not in response.data


def test_opensearch_description_and_links(client):
    import xml.etree.ElementTree as ET

    response = client.get("/opensearch.xml")
    assert response.mimetype == "application/opensearchdescription+xml"
    urls = ET.fromstring(response.data).findall("{http://a9.com/-/spec/opensearch/1.1/}Url")
    assert [u.get("template") for u in urls] == [
        "http://localhost/?q={searchTerms}", "http://localhost/search.atom?q={searchTerms}",
        "http://localhost/api/search?q={searchTerms}"]
    soup = page(client, "/?q=oil")
    assert soup.find("link", rel="search")["href"] == "/opensearch.xml"
    assert soup.find("link", type="application/atom+xml")["href"] == "/search.atom?q=oil"
