"""The compare page, the timeline page and the significant-terms panel in a real browser:
Debian's chromium driven by Playwright, against the real app served by waitress on
127.0.0.1 over an index of the bundled sample. With JavaScript on and off; no console error
or Content-Security-Policy violation. Screenshots go to tests/artifacts/ (git-ignored)."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from playwright.sync_api import Browser, Page

pytestmark = pytest.mark.needs("chromium")  # skipped without it, failed in CI
ARTIFACTS = Path(__file__).parent / "artifacts"
WATCH = ("window.__violations=[];document.addEventListener('securitypolicyviolation',"
         "e=>window.__violations.push(e.violatedDirective));")


@pytest.fixture(scope="module")
def server(sample_server: str) -> str:
    """The real app over the sample index, served by waitress (conftest's sample_server)."""
    return sample_server


@pytest.fixture
def open_page(browser: Browser, server: str):
    """Opens pages (JavaScript on unless told) that record console errors; after the test,
    checks there were none and no CSP violation, and closes them."""
    opened: list[tuple[Page, list[str], bool]] = []
    contexts = []

    def open_(javascript: bool = True) -> Page:
        context = browser.new_context(base_url=server, java_script_enabled=javascript,
                                      viewport={"width": 1200, "height": 900})
        contexts.append(context)
        context.add_init_script(WATCH)
        page = context.new_page()
        errors: list[str] = []
        page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error"
                and not msg.text.startswith("Failed to load resource") else None)
        opened.append((page, errors, javascript))
        return page

    yield open_
    for page, errors, javascript in opened:
        assert errors == []
        if javascript:  # (a page with JavaScript off runs no script, the watcher included)
            assert page.evaluate("window.__violations") == []
    for context in contexts:
        context.close()


def shot(page: Page, name: str) -> None:
    """Save a full-page screenshot as tests/artifacts/NAME.png."""
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def api(server: str, path: str, **params) -> dict:
    """GET a JSON answer of the API over HTTP (the independent figures a page must show)."""
    url = f"{server}{path}?{urlencode(params)}"
    with urllib.request.urlopen(url, timeout=30) as response:
        assert response.status == 200
        return json.loads(response.read())


def total(server: str, q: str, **params) -> int:
    """The number of stories /api/search counts for `q`."""
    return api(server, "/api/search", q=q, **params)["total"]


def query_of(page: Page) -> str:
    """The `q` of the page's address."""
    return parse_qs(urlsplit(page.url).query)["q"][0]


@pytest.mark.parametrize("javascript", [True, False])
def test_compare_page_from_the_form(open_page, server, javascript):
    page = open_page(javascript)
    page.goto("/compare")
    boxes = page.locator("form.compare-form input[name=q]")
    assert boxes.count() == 5
    for box, text in zip(boxes.all(), ["oil", "coffee", "gold"], strict=False):
        box.fill(text)
    page.locator("form.compare-form select[name=show]").select_option("count")
    page.locator("form.compare-form button[type=submit]").click()
    page.wait_for_selector("figure.chart.lines svg")
    lines = page.locator("figure.chart.lines polyline")
    assert lines.count() == 3
    colours = [line.get_attribute("stroke") for line in lines.all()]
    assert colours == ["#0072B2", "#D55E00", "#009E73"]
    assert [line.get_attribute("stroke-dasharray") for line in lines.all()] == [None, "6 3",
                                                                               "2 3"]
    totals = page.locator("table.totals tbody tr")
    assert totals.count() == 3
    assert [totals.nth(i).locator("td.num").inner_text() for i in range(3)] == [
        f"{total(server, q):,}" for q in ("oil", "coffee", "gold")]  # as the search counts
    assert page.locator("section.compared").count() == 3
    coffee = page.locator("section.compared").nth(1)
    assert coffee.locator("ol.stories li").count() == 5
    marked = coffee.locator("ol.stories li mark").all_inner_texts()
    assert marked and all("coffee" in t.lower() for t in marked)
    # Every figure of the chart is in the table under it, as counts.
    header = page.locator("table.numbers").nth(1).locator("thead th").all_inner_texts()
    assert header[1:] == ["oil", "coffee", "gold"]
    shot(page, f"compare-{'js' if javascript else 'nojs'}")


def test_terms_panel_fills_and_a_click_narrows_the_query(open_page, server):
    page = open_page()
    page.goto("/?q=coffee")
    first = page.locator("#terms .term-list a").first
    first.wait_for()
    terms = api(server, "/api/terms", q="coffee")
    ico = terms["terms"][0]
    assert first.inner_text() == ico["term"] == "ico"
    assert terms["matches"] == total(server, "coffee")
    assert ico["matches"] == total(server, "coffee ico") > 1  # the stories holding the word
    assert (f"in {ico['matches']} of {terms['matches']} matching stories"
            in first.get_attribute("title"))
    shot(page, "terms-panel")
    before = page.locator("p.summary").inner_text()
    first.click()
    page.wait_for_load_state()
    assert query_of(page) == "coffee ico"
    after = page.locator("p.summary").inner_text()
    assert before.startswith(f"{terms['matches']} articles")
    assert after.startswith(f"{ico['matches']} articles")
    # The narrowed page shows its own panel, without the words already in the query.
    page.locator("#terms .term-list a").first.wait_for()
    assert "ico" not in page.locator("#terms .term-list a").all_inner_texts()


def test_terms_panel_without_javascript(open_page, server):
    page = open_page(javascript=False)
    page.goto("/?q=coffee")
    assert page.locator("#terms .term-list").count() == 0
    page.locator("#terms a.terms-show").click()
    page.wait_for_load_state()
    phrase = page.locator("#terms .term-list a", has_text="export quotas")
    phrase.click()
    page.wait_for_load_state()
    assert query_of(page) == 'coffee "export quotas"'
    # The phrase query also matches the words' other forms ("export quota", "exports
    # quotas"), as every search does: at least the stories the panel counted, as many as
    # the search counts.
    counted = next(t["matches"] for t in api(server, "/api/terms", q="coffee")["terms"]
                   if t["term"] == "export quotas")
    found = total(server, 'coffee "export quotas"')
    assert found >= counted > 1
    assert page.locator("p.summary").inner_text().startswith(f"{found} articles")


def test_timeline_page_numbers_and_downloads(open_page, server):
    march = {"from": "1987-03", "to": "1987-03"}
    count, every = total(server, "oil", **march), total(server, "", **march)
    assert 100 < count < every
    page = open_page()
    page.goto("/timeline?q=oil&interval=month")
    bars = page.locator("figure.chart rect")
    assert bars.count() == 9
    share = f"{count / every:.2%}"
    assert (bars.nth(1).locator("title").text_content()
            == f"1987-03-01: {count:,} of {every:,} ({share})")
    row = page.locator("table.numbers tbody tr").nth(1)
    assert row.locator("td").all_inner_texts() == ["1987-03-01", f"{count:,}", f"{every:,}",
                                                   share]
    with page.expect_download() as download:
        page.locator("a", has_text="CSV").click()
    text = Path(download.value.path()).read_text()
    assert text.splitlines()[2] == (f"1987-03-01,1987-03-31,{count},{every},"
                                    f"{round(count / every, 6)}")
    shot(page, "timeline")


@pytest.mark.parametrize("url", ["/compare?q=oil&q=coffee&q=gold&q=wheat&q=interest+rates",
                                 "/timeline?q=oil&interval=week", "/?q=coffee&terms=1"])
def test_research_pages_fit_a_phone(browser: Browser, server: str, url):
    context = browser.new_context(base_url=server, viewport={"width": 375, "height": 740})
    try:
        page = context.new_page()
        page.goto(url)
        assert page.evaluate("() => document.documentElement.scrollWidth") == 375
    finally:
        context.close()
