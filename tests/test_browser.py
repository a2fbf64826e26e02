"""The web pages in a real browser: Debian's chromium driven by Playwright, against the real
app served by waitress on 127.0.0.1 over a real Whoosh index of fixture articles.

Covers search, filters, sort, pagination, the article and sources pages, keyboard-only use,
JavaScript off, contrast, a 375-px phone layout, and hostile articles and queries (no script
may run, with or without the Content-Security-Policy). Screenshots go to tests/artifacts/
(git-ignored). One browser serves the whole session.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import quote

import pytest
from playwright.sync_api import Browser, Locator, Page
from waitress import create_server

from search_service.article import Article
from search_service.index.schema import open_index
from search_service.index.writer import write_articles
from search_service.web import create_app

pytestmark = pytest.mark.needs("chromium")  # skipped without it, failed in CI
ARTIFACTS = Path(__file__).parent / "artifacts"
PHONE = {"width": 375, "height": 740}
DESKTOP = {"width": 1200, "height": 900}

NOW = datetime.now(timezone.utc).replace(microsecond=0)
SOURCES = [("Harbour Times", "en", "harbour-times.example"),
           ("Rhein Kurier", "de", "rhein-kurier.example"),
           ("Baltic Wire", "en", "baltic-wire.example")]
#: Age in days of the 24 "harbour" articles, newest first; article i is from SOURCES[i % 3].
AGES = [0.1, 0.5, 2, 3.04, 5, 6, 9, 12, 15, 20, 25, 40, 60, 90, 120, 150, 200, 250, 300, 400,
        500, 700, 900, 1200]
TOPICS = {
    "shipping": "container vessel cargo crane berth tug freight pilot quay manifest",
    "weather": "storm gale fog tide surge forecast rainfall wind swell warning",
    "fishing": "trawler catch quota cod herring nets crew auction landing fleet",
    "trade": "tariff export import customs duty shipment broker market price contract",
}
COMMON = ("the a of in on at and with from after before council mayor residents officials "
          "said week morning evening plans report city port river new old").split()

#: Every payload, if it ever ran, marks the page (and pops a dialog).
RUN = "window.__pwned=(window.__pwned||0)+1;document.title='PWNED';alert('xss')"
PAYLOADS = [
    f"<script>{RUN}</script>",
    f"\"><img src=x onerror=\"{RUN}\">",
    f"'><svg onload=\"{RUN}\"></svg>",
    f"</mark><script>{RUN}</script><mark>",
    f"javascript:{RUN}",
]
HOSTILE = [
    Article(url=f"javascript:{RUN}", canonical_url="https://evil.example/one",
            title=f"Payload {PAYLOADS[0]} in a title",
            body=f"The payload {PAYLOADS[3]} sits in the body. " * 6
                 + f"\n\nAnother payload {PAYLOADS[1]} paragraph about the payload.",
            published=NOW - timedelta(days=30), authors=(PAYLOADS[1], PAYLOADS[2]),
            source=f"{PAYLOADS[0]} Gazette", language="en"),
    Article(url=f"https://evil.example/two?x={PAYLOADS[1]}",
            canonical_url="https://evil.example/two",
            title=f"Payload {PAYLOADS[1]} attribute",
            body=f"A payload {PAYLOADS[2]} in the body and the payload {PAYLOADS[4]}. " * 6,
            published=NOW - timedelta(days=31), authors=(PAYLOADS[0],),
            source=f"{PAYLOADS[1]} News", language="en"),
    Article(url="https://evil.example/three", canonical_url="https://evil.example/three",
            title=f"Payload {PAYLOADS[3]} highlight breaker",
            body=f"Payload payload {PAYLOADS[3]} payload {PAYLOADS[0]} end. " * 6,
            published=NOW - timedelta(days=32), authors=(PAYLOADS[3],),
            source="Plain Post", language="en"),
]
HOSTILE_QUERIES = [
    PAYLOADS[0], PAYLOADS[1], PAYLOADS[2], f"payload{PAYLOADS[3]}", PAYLOADS[4],
]
#: Records CSP violations before any page script could run (init scripts bypass the CSP).
WATCH_CSP = ("window.__violations=[];document.addEventListener('securitypolicyviolation',"
             "e=>window.__violations.push(e.violatedDirective+' '+e.blockedURI));")


def harbour_articles() -> list[Article]:
    """The 24 ordinary articles: all mention the harbour, each in its own words."""
    rng = random.Random(6)
    articles = []
    for i, age in enumerate(AGES):
        name, lang, host = SOURCES[i % 3]
        topic = list(TOPICS)[i % 4]
        words = TOPICS[topic].split()
        paragraphs = [" ".join(rng.choice(words + COMMON) for _ in range(40)) + "."
                      for _ in range(3)]
        paragraphs[0] = f"The harbour {topic} story number {i}. " + paragraphs[0]
        articles.append(Article(
            url=f"https://{host}/news/{i}", canonical_url=f"https://{host}/news/{i}",
            title=f"Harbour {topic} update {i}: {words[i % len(words)]} news",
            body="\n\n".join(paragraphs), published=NOW - timedelta(days=age),
            authors=(f"Reporter {i}",), source=name, language=lang))
    return articles


@dataclass
class Watch:
    """What a page did that it must not: dialogs opened, console errors (other than a
    resource's HTTP status, e.g. the 404 of /favicon.ico)."""

    dialogs: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


@pytest.fixture(scope="session")
def corpus() -> list[Article]:
    """The ordinary articles, newest first."""
    return harbour_articles()


@pytest.fixture(scope="session")
def server(tmp_path_factory, corpus) -> Iterator[str]:
    """The real app over a fresh index, served by waitress on 127.0.0.1; yields its URL."""
    index_dir = tmp_path_factory.mktemp("browser") / "index"
    write_articles(open_index(index_dir, create=True), corpus + HOSTILE)
    app = create_app({"INDEX_DIR": str(index_dir)})
    wsgi = create_server(app, host="127.0.0.1", port=0, threads=4)
    thread = threading.Thread(target=wsgi.run, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{wsgi.effective_port}"
    wsgi.close()  # the loop ends once the browser's connections are closed too
    thread.join(timeout=10)
    assert not thread.is_alive(), "the server did not stop"


class Pages:
    """Opens pages, each in a new browser context, and closes them all after the test."""

    def __init__(self, browser: Browser, server: str):
        self.browser, self.server, self.contexts = browser, server, []

    def open(self, viewport=DESKTOP, **options) -> tuple[Page, Watch]:
        """A page recording dialogs (dismissed), console errors and CSP violations."""
        context = self.browser.new_context(base_url=self.server, viewport=viewport, **options)
        self.contexts.append(context)
        context.add_init_script(WATCH_CSP)
        page = context.new_page()
        watch = Watch()

        def on_dialog(dialog) -> None:
            watch.dialogs.append(dialog.message)
            dialog.dismiss()

        page.on("dialog", on_dialog)
        page.on("console", lambda msg: watch.errors.append(msg.text) if msg.type == "error"
                and not msg.text.startswith("Failed to load resource") else None)
        return page, watch

    def close(self) -> None:
        """Close every context opened (and so its connections to the server)."""
        for context in self.contexts:
            context.close()


@pytest.fixture
def pages(browser: Browser, server: str) -> Iterator[Pages]:
    """Opens pages for one test."""
    pages = Pages(browser, server)
    yield pages
    pages.close()


@pytest.fixture
def page(pages: Pages) -> Page:
    """A desktop-sized page with JavaScript on."""
    return pages.open()[0]


def shot(page: Page, name: str) -> None:
    """Save a full-page screenshot as tests/artifacts/NAME.png."""
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def follow(page: Page, link: Locator) -> None:
    """Click a link and wait until the page it opens has loaded, stylesheet included.

    A click waits only until the next page starts loading, and locators only for elements:
    measured before its stylesheet applies (late, on a loaded machine), a page is unstyled,
    its long words overflow a phone's width and its colours are the browser's."""
    with page.expect_navigation():
        link.click()


def result_dates(page: Page) -> list[str]:
    """The datetime attributes of the results' dates, in page order."""
    return page.locator("li.result .meta time").evaluate_all(
        "els => els.map(e => e.getAttribute('datetime'))")


def iso(article: Article) -> str:
    """The article's publication moment (UTC) as the pages write it."""
    return article.published.isoformat()


OVERFLOW = """() => {
  const width = document.documentElement.clientWidth;
  const out = [];
  for (const el of document.querySelectorAll('body *')) {
    const r = el.getBoundingClientRect();
    if (r.width <= 1 || r.height <= 1) continue;
    if (r.right > width + 0.5 || r.left < -0.5)
      out.push(`${el.tagName}.${el.className} ${Math.round(r.left)}..${Math.round(r.right)}`);
  }
  return {width, scroll: document.documentElement.scrollWidth, out};
}"""

CONTRAST = """() => {
  const rgba = c => { const p = c.match(/[\\d.]+/g).map(Number);
                      return {r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1}; };
  const lum = c => ['r', 'g', 'b'].map(k => c[k] / 255)
      .map(v => v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4))
      .reduce((s, v, i) => s + v * [0.2126, 0.7152, 0.0722][i], 0);
  const background = el => {
    for (let e = el; e; e = e.parentElement) {
      const c = rgba(getComputedStyle(e).backgroundColor);
      if (c.a > 0) return c;
    }
    return {r: 255, g: 255, b: 255, a: 1};
  };
  const low = [];
  for (const el of document.querySelectorAll('body *')) {
    if (![...el.childNodes].some(n => n.nodeType === 3 && n.textContent.trim())) continue;
    const r = el.getBoundingClientRect();
    if (r.width <= 1 || r.height <= 1 || r.bottom < 0) continue;
    const a = lum(rgba(getComputedStyle(el).color)), b = lum(background(el));
    const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    if (ratio < 4.5) low.push(`${el.tagName}.${el.className} ${ratio.toFixed(2)}`);
  }
  return low;
}"""


# -- search, filters, sort, pagination --------------------------------------------------------

def test_search_shows_results_with_dates_and_paginates(page: Page, corpus):
    page.goto("/")
    page.fill("#q", "harbour")
    page.click("header button[type=submit]")
    page.wait_for_url("**/?q=harbour")
    assert page.locator("li.result").count() == 10
    assert "24 articles match harbour" in page.locator("p.summary").inner_text()
    first = page.locator("li.result").first
    assert first.locator("mark").first.inner_text().lower() == "harbour"
    assert first.locator(".ago").inner_text() in ("(2 hours ago)", "(3 hours ago)")
    shot(page, "search-desktop")

    page.click("a[rel=next]")
    assert page.locator("ol.results").get_attribute("start") == "11"
    assert page.locator("li.result").count() == 10
    page.click("a[rel=next]")
    assert page.locator("ol.results").get_attribute("start") == "21"
    assert page.locator("li.result").count() == 4
    assert page.locator("a[rel=next]").count() == 0
    page.click("a[rel=prev]")
    assert page.locator("ol.results").get_attribute("start") == "11"


def test_date_preset_sort_source_and_language_filters(page: Page, corpus):
    page.goto("/?q=harbour")
    page.select_option("select[name=from]", "last week")
    page.select_option("select[name=sort]", "oldest")
    page.click("form.filters button[type=submit]")
    week = [iso(a) for a in corpus if NOW - a.published <= timedelta(days=7)]
    assert result_dates(page) == sorted(week)
    assert page.locator("select[name=from]").input_value() == "last week"

    page.goto("/?q=harbour&sort=newest")
    follow(page, page.locator("aside.facets a", has_text="Rhein Kurier"))
    kurier = [iso(a) for a in corpus if a.source == "Rhein Kurier"]
    assert result_dates(page) == sorted(kurier, reverse=True)
    assert set(page.locator("li.result .source").all_inner_texts()) == {"Rhein Kurier"}

    page.goto("/?q=harbour&sort=oldest")
    assert result_dates(page) == sorted(iso(a) for a in corpus)[:10]
    page.fill("input[name=lang]", "de")
    page.click("form.filters button[type=submit]")
    assert result_dates(page) == sorted(kurier)
    assert "lang=de" in page.url


# -- the article and sources pages ------------------------------------------------------------

def test_article_page_shows_the_article_and_follows_related_links(page: Page, corpus):
    story = corpus[3]  # 3 days and an hour old
    page.goto(f"/articles/{story.id}")
    assert page.locator("h1").inner_text() == story.title
    meta = page.locator("article.article .meta")
    assert meta.locator("time").get_attribute("datetime") == iso(story)
    assert meta.locator(".ago").inner_text() == "(3 days ago)"
    assert "by Reporter 3" in meta.inner_text()
    assert page.locator("a.original").get_attribute("href") == story.url
    paragraphs = page.locator("article.article > p:not(.meta):not(:has(a.original))")
    assert paragraphs.all_inner_texts() == story.body.split("\n\n")
    shot(page, "article-desktop")

    related = page.locator("section.related li a")
    assert related.count() == 5
    title = related.first.inner_text()
    follow(page, related.first)
    assert page.locator("h1").inner_text() == title
    assert page.locator("h1").inner_text() != story.title


def test_sources_page_from_the_header(page: Page):
    page.goto("/")
    page.locator("header nav a", has_text="Sources").click()
    page.wait_for_url("**/sources")
    rows = page.locator("table.sources tbody tr")
    assert rows.count() == 6
    assert rows.first.locator("th").inner_text() == "Baltic Wire"
    assert rows.first.locator("td").nth(0).inner_text() == "8"
    shot(page, "sources-desktop")


# -- keyboard, JavaScript off, contrast -------------------------------------------------------

def focused(page: Page) -> str:
    """Describe the focused element: its id, else its class, else its text."""
    return page.evaluate("() => { const e = document.activeElement;"
                         " return e.id || e.className || e.textContent.trim(); }")


def test_keyboard_only_search_and_open_a_result(page: Page):
    page.goto("/")
    order = []
    for _ in range(6):
        page.keyboard.press("Tab")
        order.append(focused(page))
    assert order == ["skip-link", "brand", "Search", "Compare", "Sources", "q"]
    outline = page.evaluate("() => getComputedStyle(document.activeElement).outlineStyle")
    assert outline == "solid"
    page.keyboard.type("harbour")
    page.keyboard.press("Enter")
    page.wait_for_url("**/?q=harbour")
    assert page.locator("li.result").count() == 10

    for _ in range(80):
        page.keyboard.press("Tab")
        if page.evaluate("() => !!document.activeElement.closest('li.result h2')"):
            break
    else:
        pytest.fail("Tab never reached a result link")
    title = page.evaluate("() => document.activeElement.textContent")
    assert page.evaluate("() => getComputedStyle(document.activeElement).outlineStyle") == (
        "solid")
    page.keyboard.press("Enter")
    page.wait_for_url("**/articles/*")
    assert page.locator("h1").inner_text() == title


def test_skip_link_moves_focus_to_the_main_content(page: Page):
    page.goto("/?q=harbour")
    page.keyboard.press("Tab")
    assert page.locator(".skip-link").evaluate("e => e.getBoundingClientRect().top") >= 0
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    assert page.evaluate("() => !!document.activeElement.closest('main')")
    assert page.evaluate("() => !!document.activeElement.closest('form.filters')")


def test_search_works_with_javascript_off(pages: Pages):
    page, _ = pages.open(java_script_enabled=False)
    page.goto("/")
    page.fill("#q", "harbour")
    page.press("#q", "Enter")
    page.wait_for_url("**/?q=harbour")
    assert page.locator("li.result").count() == 10
    follow(page, page.locator("li.result h2 a").first)
    assert page.locator("section.related li").count() == 5


@pytest.mark.parametrize("url", ["/?q=harbour", "/sources", "/?q=nothingmatchesthis"])
def test_text_contrast_is_at_least_4_5(page: Page, url: str):
    page.goto(url)
    assert page.evaluate(CONTRAST) == []


def test_article_text_contrast_is_at_least_4_5(page: Page):
    page.goto("/?q=harbour")
    follow(page, page.locator("li.result h2 a").first)
    page.locator("a.original").focus()
    assert page.evaluate(CONTRAST) == []


# -- phone width ------------------------------------------------------------------------------

@pytest.mark.parametrize("url, name", [("/?q=harbour", "search-phone"),
                                       ("/sources", "sources-phone")])
def test_pages_fit_a_375px_phone(pages: Pages, url: str, name: str):
    page, _ = pages.open(viewport=PHONE)
    page.goto(url)
    layout = page.evaluate(OVERFLOW)
    assert layout == {"width": 375, "scroll": 375, "out": []}
    shot(page, name)
    follow(page, page.locator("li.result h2 a, table.sources a").first)
    assert page.evaluate(OVERFLOW) == {"width": 375, "scroll": 375, "out": []}


# -- hostile articles and queries -------------------------------------------------------------

def assert_nothing_ran(page: Page, watch: Watch) -> None:
    """No payload ran or was even put in the page as markup."""
    assert page.evaluate("() => window.__pwned") is None
    assert page.title() != "PWNED"
    assert watch.dialogs == []
    assert page.evaluate("() => window.__violations") == []
    assert watch.errors == []
    # (The only script a page may hold is this server's own file, e.g. static/terms.js.)
    injected = page.evaluate("() => [...document.querySelectorAll("
                             "'script:not([src^=\"/static/\"]), img, iframe, object, embed, "
                             "[onerror], [onload], a[href^=\"javascript:\" i]')]"
                             ".map(e => e.outerHTML)")
    assert injected == []


@pytest.mark.parametrize("bypass_csp", [False, True], ids=["csp", "no-csp"])
def test_hostile_articles_run_no_script(pages: Pages, bypass_csp: bool):
    page, watch = pages.open(viewport=PHONE, bypass_csp=bypass_csp)
    page.goto("/?q=payload")
    assert_nothing_ran(page, watch)
    assert page.locator("li.result").count() == 3
    titles = page.locator("li.result h2").all_inner_texts()
    assert sorted(titles) == sorted(a.title for a in HOSTILE)
    assert page.evaluate(OVERFLOW) == {"width": 375, "scroll": 375, "out": []}
    if not bypass_csp:
        shot(page, "hostile-phone")

    for n, article in enumerate(HOSTILE):
        page.goto("/?q=payload&sort=newest")
        follow(page, page.locator("li.result h2 a").nth(n))
        assert_nothing_ran(page, watch)
        assert page.locator("h1").inner_text() == article.title
        assert page.locator("article.article .source").inner_text() == article.source
        assert f"by {', '.join(article.authors)}" in page.locator(
            "article.article .meta").inner_text()
        assert page.evaluate(OVERFLOW)["out"] == []

    page.goto("/sources")
    assert_nothing_ran(page, watch)
    follow(page, page.locator("aside.facets a, table.sources a", has_text="Gazette").first)
    assert page.locator("li.result").count() == 1
    assert_nothing_ran(page, watch)


def test_pages_are_measured_after_their_stylesheet_loads(browser: Browser, tmp_path):
    """Regression: on a loaded machine the stylesheet came late, and a hostile article measured
    unstyled overflowed the phone width (.meta, .source); `follow` waits for it."""
    index_dir = tmp_path / "index"
    write_articles(open_index(index_dir, create=True), HOSTILE)
    app = create_app({"INDEX_DIR": str(index_dir)})

    def slow_static(environ, start_response):
        if environ["PATH_INFO"].startswith("/static/"):
            time.sleep(1.0)
        return app(environ, start_response)

    wsgi = create_server(slow_static, host="127.0.0.1", port=0, threads=4)
    thread = threading.Thread(target=wsgi.run, daemon=True)
    thread.start()
    context = browser.new_context(base_url=f"http://127.0.0.1:{wsgi.effective_port}",
                                  viewport=PHONE)
    try:
        page = context.new_page()
        page.goto("/?q=payload&sort=newest")
        context.new_cdp_session(page).send("Network.clearBrowserCache")  # fetch it again
        follow(page, page.locator("li.result h2 a").first)
        assert page.locator("article.article .source").inner_text() == HOSTILE[0].source
        assert page.evaluate(OVERFLOW)["out"] == []
    finally:
        context.close()
        wsgi.close()
        thread.join(timeout=10)


def test_hostile_queries_run_no_script(pages: Pages):
    page, watch = pages.open(viewport=PHONE)
    for query in HOSTILE_QUERIES:
        # Shown in the search box, the title, the summary, the Atom link, the filters.
        page.goto(f"/?q={quote(query)}&lang={quote(query)}&source={quote(query)}")
        assert page.locator("#q").input_value() == query
        assert page.locator("input[name=lang]").input_value() == query
        assert page.title() == f"{query} – News search"
        assert_nothing_ran(page, watch)
        assert page.evaluate(OVERFLOW)["out"] == []
        # A bad date: the error page repeats it.
        response = page.goto(f"/?q=harbour&to={quote(query)}")
        assert response.status == 400
        assert page.locator("p.message").inner_text().startswith(
            f"to: cannot read date {query!r}: use e.g.")
        assert_nothing_ran(page, watch)
        assert page.evaluate(OVERFLOW)["out"] == []
