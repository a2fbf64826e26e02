"""Build the sample web archive ``search_service/data/sample.warc.gz`` and its sources
file ``search_service/data/sample-sources.toml``.

The pages are Reuters-21578 stories (Reuters-21578, Distribution 1.0;
free distribution for research purposes only, see NOTICE) rendered as
article pages of seven imaginary news sites (``SITES``), each with its own
page template, so that the sources facet, comparisons by source and
collections have something to show. All page furniture (menus, share bars,
summary widgets, newsletter boxes, related links) is invented.

* "The Wire Ledger" alternates two templates by story id parity: even ids
  "jsonld" (``<article>`` plus a schema.org NewsArticle in JSON-LD), odd ids
  "meta" (``<div class="story-body">`` plus Open Graph tags);
* the six others use "microdata" (itemprop), "graph" (a JSON-LD @graph),
  "hentry" (a blog-style entry with ``<time pubdate>``), "minimal" (a bare
  page with ``dc.date``), "parsely" (``parsely-pub-date`` and a byline) and
  "section" (``<section>`` markup with ``article:published_time``).

Every story appears on one site; every ninth also on a second site and
every twenty-seventh on a third (as wire copy is carried by several papers),
with the same text, so the search shows "N similar". Two collections,
"Business press" and "Regional papers", group five of the sites; the
sources file names them and ``news-search demo`` applies it.

The corpus label fields ``topics`` and ``places`` are never written to
the output. Output is deterministic: two runs give identical bytes.

Usage::

    python -m scripts.make_sample [--source PATH] [--out PATH] [--count N]
"""

from __future__ import annotations

import argparse
import gzip
import html
import io
import json
import re
import sys
import unicodedata
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SOURCE = REPO_ROOT.parent / "shared/data/reuters21578/reuters.jsonl.gz"
DEFAULT_OUT = REPO_ROOT / "search_service/data/sample.warc.gz"
SOURCES_NAME = "sample-sources.toml"
DEFAULT_COUNT = 2000
MIN_BODY_CHARS = 400
MAX_OUTPUT_BYTES = 5_000_000
MAX_SLUG_CHARS = 60
FETCH_DELAY = timedelta(hours=2)

SITE_NAME = "The Wire Ledger"
SITE_URL = "https://wireledger.example"
CORPUS_NAME = "Reuters-21578, Distribution 1.0"
GENERATOR = "scripts/make_sample.py (the news-search demo sample generator)"
MENU = ("Home", "World", "Business", "Markets", "Energy", "Technology", "Opinion")
# Related lists overlap a neighbour, as "latest stories" boxes do; it keeps pages small.
RELATED_OFFSETS_A = (1, 2, 3)
RELATED_OFFSETS_B = (-1, 2, 4)
#: Every CARRIED_EVERY-th story is also carried by a second site, every CARRIED_TWICE-th by
#: a third; carried copies appear CARRY_DELAY later per site.
CARRIED_EVERY = 9
CARRIED_TWICE = 27
CARRY_DELAY = timedelta(minutes=45)


@dataclass(frozen=True)
class Site:
    """One imaginary news site: its name, address, page template and collections."""

    name: str
    url: str
    template: str
    collections: tuple[str, ...] = ()
    byline: str = "Reuters"


LEDGER = Site(SITE_NAME, SITE_URL, "ledger")
SITES = (
    LEDGER,
    Site("Harbour Gazette", "https://harbourgazette.example", "section", ("Regional papers",),
         "Gazette wire desk"),
    Site("Prairie Commodities Daily", "https://prairiedaily.example", "microdata",
         ("Business press",), "Commodities desk"),
    Site("Capital Markets Journal", "https://cmjournal.example", "graph", ("Business press",),
         "Reuters"),
    Site("Metro Evening Post", "https://eveningpost.example", "hentry", ("Regional papers",),
         "Post staff"),
    Site("Pacific Trade Monitor", "https://trademonitor.example", "minimal",
         ("Business press",), "Reuters"),
    Site("Northern Energy Review", "https://energyreview.example", "parsely", (),
         "Review correspondents"),
)
#: Which site first carries the i-th story (The Wire Ledger twice as often as the others).
PRIMARY = (0, 1, 2, 3, 0, 4, 5, 6)


@dataclass(frozen=True)
class Story:
    """One corpus story, reduced to the fields a page may show."""

    id: int
    title: str
    dateline: str
    published: datetime
    paragraphs: tuple[str, ...]
    url: str


@dataclass(frozen=True)
class PageContext:
    """A story plus the neighbouring and related stories its page links to."""

    story: Story
    prev: Story | None
    next: Story | None
    related: tuple[Story, ...]
    site: Site = LEDGER


def esc(text: str) -> str:
    """Escape text for HTML element content and attribute values."""
    return html.escape(text, quote=True)


def iso_utc(moment: datetime) -> str:
    """Format a naive UTC datetime as ISO 8601 with a trailing Z."""
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def human_date(moment: datetime) -> str:
    """Format a datetime like 'March 2, 1987'."""
    return f"{moment:%B} {moment.day}, {moment.year}"


def read_records(path: Path) -> Iterator[dict]:
    """Yield the JSON objects of a gzipped JSON-lines file."""
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                yield json.loads(line)


def qualifies(record: dict) -> bool:
    """Tell whether a record has a title and a long enough body."""
    title = (record.get("title") or "").strip()
    body = (record.get("body") or "").strip()
    return bool(title) and len(body) >= MIN_BODY_CHARS


def select_evenly(items: Sequence[dict], count: int) -> list[dict]:
    """Pick count items evenly spaced over the sequence, keeping order."""
    total = len(items)
    if count >= total:
        return list(items)
    return [items[i * total // count] for i in range(count)]


def slugify(title: str) -> str:
    """Turn a title into a lowercase ASCII hyphenated slug."""
    ascii_title = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_title.lower()).strip("-")
    if len(slug) > MAX_SLUG_CHARS:
        slug = slug[:MAX_SLUG_CHARS].rsplit("-", 1)[0] or slug[:MAX_SLUG_CHARS]
    return slug or "story"


def story_url(story_id: int, title: str, published: datetime, site: Site = LEDGER) -> str:
    """Build the canonical article URL of a story on `site` (each site its own scheme)."""
    slug = slugify(title)
    if site.template in ("ledger", "section"):
        return f"{site.url}/{published:%Y/%m/%d}/{slug}-{story_id}"
    if site.template in ("graph", "parsely"):
        return f"{site.url}/news/{published:%Y-%m-%d}/{story_id}-{slug}"
    return f"{site.url}/story/{story_id}/{slug}"


def split_paragraphs(body: str) -> list[str]:
    """Split a body on blank lines into whitespace-normalised paragraphs."""
    return [" ".join(part.split()) for part in body.split("\n\n") if part.strip()]


def lead_paragraphs(dateline: str, body: str) -> list[str]:
    """Return the body paragraphs with the dateline leading the first one.

    In a few records the corpus split the first sentence at a hyphen and
    left its start in the dateline ("ANKARA, March 8 - ... the Iraq" +
    "Turkey oil pipeline ..."); the hyphen is put back in that case.
    """
    paragraphs = split_paragraphs(body)
    dateline = " ".join(dateline.split())
    if not dateline or body.lstrip().startswith(dateline):
        return paragraphs
    place, sep, spill = dateline.partition(" - ")
    if sep and spill:
        paragraphs[0] = f"{place} - {spill}-{paragraphs[0]}"
    else:
        paragraphs[0] = f"{dateline} - {paragraphs[0]}"
    return paragraphs


def to_story(record: dict) -> Story:
    """Convert a corpus record to a Story, dropping the label fields."""
    story_id = int(record["id"])
    title = " ".join(record["title"].split())
    published = datetime.fromisoformat(record["date"])
    dateline = record.get("dateline") or ""
    return Story(
        id=story_id,
        title=title,
        dateline=dateline,
        published=published,
        paragraphs=tuple(lead_paragraphs(dateline, record["body"])),
        url=story_url(story_id, title, published),
    )


def load_stories(path: Path, count: int) -> list[Story]:
    """Load the qualifying stories and select count of them by id order."""
    records = sorted((r for r in read_records(path) if qualifies(r)), key=lambda r: int(r["id"]))
    return [to_story(r) for r in select_evenly(records, count)]


def contexts(
    stories: Sequence[Story], offsets: Callable[[int], Sequence[int]], site: Site = LEDGER
) -> Iterator[PageContext]:
    """Attach neighbours and related stories to each story in order."""
    total = len(stories)
    for index, story in enumerate(stories):
        related = tuple(stories[(index + k) % total] for k in offsets(story.id) if k % total)
        yield PageContext(
            story=story,
            prev=stories[index - 1] if index > 0 else None,
            next=stories[index + 1] if index + 1 < total else None,
            related=related,
            site=site,
        )


def related_offsets(story_id: int) -> Sequence[int]:
    """Choose the related-story offsets used by the story's template."""
    return RELATED_OFFSETS_A if story_id % 2 == 0 else RELATED_OFFSETS_B


def json_for_script(data: dict) -> str:
    """Serialise JSON safely for embedding inside a script element."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")


def news_article_jsonld(story: Story, site: Site = LEDGER) -> str:
    """Build the schema.org NewsArticle JSON-LD of a story."""
    return json_for_script(
        {
            "@context": "https://schema.org",
            "@type": "NewsArticle",
            "headline": story.title,
            "datePublished": iso_utc(story.published),
            "author": {"@type": "Organization", "name": "Reuters"},
            "publisher": {"@type": "Organization", "name": site.name},
            "mainEntityOfPage": story.url,
            "inLanguage": "en",
        }
    )


def menu_path(label: str) -> str:
    """Return the site path a menu label links to."""
    return "/" if label == "Home" else f"/{label.lower()}"


def site_path(story: Story) -> str:
    """Return the root-relative path of a story, as used in on-site links."""
    return urlsplit(story.url).path


def link(story: Story) -> str:
    """Render an on-site link to a story with its escaped headline."""
    return f'<a href="{esc(site_path(story))}">{esc(story.title)}</a>'


def paragraphs_html(story: Story) -> str:
    """Render the story paragraphs as escaped p elements."""
    return "\n".join(f"<p>{esc(p)}</p>" for p in story.paragraphs)


def jsonld_post_navigation(ctx: PageContext) -> str:
    """Render template A's previous/next article navigation."""
    links = []
    for rel, label, other in (("prev", "Previous", ctx.prev), ("next", "Next", ctx.next)):
        if other:
            links.append(
                f'<a rel="{rel}" href="{esc(site_path(other))}"><span>{label} Article</span> '
                f"<span>{esc(other.title)}</span></a>"
            )
    return '<nav class="post-navigation">\n' + "\n".join(links) + "\n</nav>"


def render_jsonld(ctx: PageContext) -> str:
    """Render a story page with template A (article markup plus JSON-LD)."""
    story = ctx.story
    title = esc(story.title)
    menu = " ".join(f'<a href="{menu_path(m)}">{m}</a>' for m in MENU)
    related = "\n".join(f"<li>{link(s)}</li>" for s in ctx.related)
    widget = (
        '<div class="summary-widget"><p>No time to read?</p>'
        '<button type="button">Get a summary</button></div>'
    )
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{title} | {SITE_NAME}</title>
<link rel="canonical" href="{esc(story.url)}">
<script type="application/ld+json">{news_article_jsonld(story)}</script>
</head>
<body>
<header class="site-header"><a class="logo" href="/">{SITE_NAME}</a>
<nav class="site-menu">{menu}</nav></header>
<div class="share-bar"><a href="#">Share on X</a> <a href="#">Share on Facebook</a> \
<a href="#">Email</a></div>
<main>
<article>
<h1>{title}</h1>
<p class="byline">By Reuters</p>
{widget}
{paragraphs_html(story)}
{widget}
</article>
{jsonld_post_navigation(ctx)}
<aside class="related"><h2>More from Business</h2>
<ul>
{related}
</ul></aside>
<div class="newsletter">Sign up for our morning briefing<form>\
<input type="email" name="email"><button>Subscribe</button></form></div>
</main>
<footer><a href="/copyright">&copy; 1987 {SITE_NAME}</a> <a href="/about">About</a> \
<a href="/contact">Contact</a></footer>
</body>
</html>
"""


def meta_story_links(ctx: PageContext) -> str:
    """Render template B's previous/next story links."""
    parts = []
    if ctx.prev:
        parts.append(f'<div class="prev-story">Previous Article: {link(ctx.prev)}</div>')
    if ctx.next:
        parts.append(f'<div class="next-story">Next Article: {link(ctx.next)}</div>')
    return '<div class="story-links">\n' + "\n".join(parts) + "\n</div>"


def render_meta(ctx: PageContext) -> str:
    """Render a story page with template B (div markup plus meta tags)."""
    story = ctx.story
    title = esc(story.title)
    stamp = iso_utc(story.published)
    menu = " | ".join(f'<a href="{menu_path(m)}">{m}</a>' for m in MENU)
    related = "\n".join(f"<li>{link(s)}</li>" for s in ctx.related)
    return f"""<!doctype html>
<html lang="en-US">
<head>
<meta charset="utf-8">
<title>{title} - {SITE_NAME}</title>
<meta property="og:type" content="article">
<meta property="og:title" content="{title}">
<meta property="og:site_name" content="{SITE_NAME}">
<meta property="og:url" content="{esc(story.url)}">
<meta property="article:published_time" content="{stamp}">
<meta name="author" content="Reuters">
</head>
<body>
<div id="page">
<div class="top-menu"><b><a href="/">{SITE_NAME}</a></b> {menu}</div>
<h1 class="headline">{title}</h1>
<div class="meta-line"><time datetime="{stamp}">{human_date(story.published)}</time> \
<span class="author">Reuters</span></div>
<div class="tldr-box"><span>No time to read?</span> <a href="#">Get a summary</a></div>
<div class="story-body">
{paragraphs_html(story)}
<div>No time to read?</div><div>Get a summary</div>
</div>
{meta_story_links(ctx)}
<div class="related-stories"><h3>Related stories</h3>
<ol>
{related}
</ol></div>
<div id="bottom"><a href="/about">About</a> &middot; <a href="/contact">Contact us</a> \
&middot; <a href="/copyright">Copyright &copy; 1987 {SITE_NAME}</a></div>
</div>
</body>
</html>
"""


def related_list(ctx: PageContext, tag: str = "ul") -> str:
    """Render the related-story links of a page as a list."""
    items = "\n".join(f"<li>{link(s)}</li>" for s in ctx.related)
    return f"<{tag}>\n{items}\n</{tag}>"


def render_microdata(ctx: PageContext) -> str:
    """Render a story page with schema.org microdata (itemprop headline, date, body)."""
    story, site = ctx.story, ctx.site
    title, stamp = esc(story.title), iso_utc(story.published)
    return f"""<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>{title} :: {esc(site.name)}</title>
<meta property="og:site_name" content="{esc(site.name)}">
<link rel="canonical" href="{esc(story.url)}"></head>
<body>
<div class="masthead">{esc(site.name)} <span>Grain, livestock, softs</span></div>
<div class="ticker">Wheat | Corn | Soybeans | Sugar | Coffee</div>
<article itemscope itemtype="https://schema.org/NewsArticle">
<h1 itemprop="headline">{title}</h1>
<p class="info">By <span itemprop="author">{esc(site.byline)}</span> \
<time itemprop="datePublished" datetime="{stamp}">{human_date(story.published)}</time></p>
<div itemprop="articleBody">
{paragraphs_html(story)}
</div>
</article>
<div class="more"><h4>More commodities news</h4>{related_list(ctx)}</div>
<div class="foot">{esc(site.name)} is an imaginary site.</div>
</body>
</html>
"""


def graph_jsonld(story: Story, site: Site) -> str:
    """Build a JSON-LD @graph with a WebPage and its NewsArticle."""
    return json_for_script({
        "@context": "https://schema.org",
        "@graph": [
            {"@type": "WebPage", "@id": story.url, "name": story.title},
            {"@type": "NewsArticle", "headline": story.title,
             "datePublished": iso_utc(story.published),
             "author": [{"@type": "Person", "name": site.byline}],
             "publisher": {"@type": "NewsMediaOrganization", "name": site.name},
             "isPartOf": {"@id": story.url}},
        ],
    })


def render_graph(ctx: PageContext) -> str:
    """Render a story page with a JSON-LD @graph and a div-based layout."""
    story, site = ctx.story, ctx.site
    title = esc(story.title)
    return f"""<!DOCTYPE html>
<html lang="en-GB">
<head><meta charset="utf-8"><title>{title} | {esc(site.name)}</title>
<link rel="canonical" href="{esc(story.url)}">
<script type="application/ld+json">{graph_jsonld(story, site)}</script></head>
<body>
<div class="nav"><a href="/">{esc(site.name)}</a> <a href="/markets">Markets</a> \
<a href="/companies">Companies</a> <a href="/economy">Economy</a></div>
<div class="paywall-note">Subscribers read without limits.</div>
<div class="article-wrap"><h1 class="article-title">{title}</h1>
<div class="article-content">
{paragraphs_html(story)}
</div></div>
<div class="read-next"><b>Read next</b>{related_list(ctx)}</div>
<div class="copyright">&copy; {esc(site.name)}</div>
</body>
</html>
"""


def render_hentry(ctx: PageContext) -> str:
    """Render a story page as a blog-style entry with a <time pubdate> element."""
    story, site = ctx.story, ctx.site
    title, stamp = esc(story.title), iso_utc(story.published)
    return f"""<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>{title} &#8211; {esc(site.name)}</title>
<meta property="og:site_name" content="{esc(site.name)}">
<meta property="og:url" content="{esc(story.url)}"></head>
<body class="single-post">
<div id="site-title"><a href="/">{esc(site.name)}</a> &middot; Your city after dark</div>
<div class="post hentry">
<h2 class="entry-title">{title}</h2>
<div class="entry-meta">Posted <time class="published" pubdate datetime="{stamp}">\
{human_date(story.published)}</time> by <span class="author vcard">{esc(site.byline)}</span></div>
<div class="entry-content">
{paragraphs_html(story)}
</div>
</div>
<div id="sidebar"><h3>Latest</h3>{related_list(ctx)}<h3>Weather</h3><p>Mild, showers.</p></div>
</body>
</html>
"""


def render_minimal(ctx: PageContext) -> str:
    """Render a bare story page: a title, a dc.date meta tag and paragraphs."""
    story, site = ctx.story, ctx.site
    title = esc(story.title)
    return f"""<html>
<head><meta charset="utf-8"><title>{title}</title>
<meta name="dc.date" content="{iso_utc(story.published)}">
<meta name="application-name" content="{esc(site.name)}">
<meta property="og:site_name" content="{esc(site.name)}">
<link rel="canonical" href="{esc(story.url)}"></head>
<body>
<p><a href="/">{esc(site.name)}</a></p>
<main>
<h1>{title}</h1>
{paragraphs_html(story)}
</main>
<p>Also: {" / ".join(link(s) for s in ctx.related)}</p>
</body>
</html>
"""


def render_parsely(ctx: PageContext) -> str:
    """Render a story page with parsely-pub-date meta and an article__body layout."""
    story, site = ctx.story, ctx.site
    title, stamp = esc(story.title), iso_utc(story.published)
    return f"""<!DOCTYPE html>
<html lang="en-CA">
<head><meta charset="utf-8"><title>{title} - {esc(site.name)}</title>
<meta name="parsely-pub-date" content="{stamp}">
<meta name="parsely-title" content="{title}">
<meta property="og:site_name" content="{esc(site.name)}">
<meta name="author" content="{esc(site.byline)}">
<link rel="canonical" href="{esc(story.url)}"></head>
<body>
<header class="header"><a href="/">{esc(site.name)}</a> Oil &amp; gas | Power | Mining</header>
<div class="article">
<h1 class="article__headline">{title}</h1>
<div class="article__byline">{esc(site.byline)}</div>
<div class="article__body">
{paragraphs_html(story)}
</div>
</div>
<div class="recirc"><h2>Trending</h2>{related_list(ctx, "ol")}</div>
</body>
</html>
"""


def render_section(ctx: PageContext) -> str:
    """Render a story page in <section> markup with article:published_time."""
    story, site = ctx.story, ctx.site
    title, stamp = esc(story.title), iso_utc(story.published)
    return f"""<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>{title} | {esc(site.name)}</title>
<meta property="og:title" content="{title}">
<meta property="og:site_name" content="{esc(site.name)}">
<meta property="og:url" content="{esc(story.url)}">
<meta property="article:published_time" content="{stamp}"></head>
<body>
<div class="top"><a href="/">{esc(site.name)}</a> News | Port | Sport | Notices</div>
<section class="story">
<h1>{title}</h1>
<p class="credit">{esc(site.byline)}</p>
{paragraphs_html(story)}
</section>
<section class="also"><h2>Also in the Gazette</h2>{related_list(ctx)}</section>
</body>
</html>
"""


TEMPLATES = {"microdata": render_microdata, "graph": render_graph, "hentry": render_hentry,
             "minimal": render_minimal, "parsely": render_parsely, "section": render_section}


def render_page(ctx: PageContext) -> str:
    """Render a page with its site's template (The Wire Ledger's by story id parity)."""
    if ctx.site.template != "ledger":
        return TEMPLATES[ctx.site.template](ctx)
    return render_jsonld(ctx) if ctx.story.id % 2 == 0 else render_meta(ctx)


def carriers(index: int) -> tuple[Site, ...]:
    """The sites that carry the `index`-th story: its first site, and for some stories one
    or two more."""
    first = PRIMARY[index % len(PRIMARY)]
    extra = 2 if index % CARRIED_TWICE == 13 else 1 if index % CARRIED_EVERY == 4 else 0
    return tuple(SITES[(first + 3 * k) % len(SITES)] for k in range(extra + 1))


def placements(stories: Sequence[Story]) -> dict[Site, list[Story]]:
    """Put each story on its sites (carried copies later, at each site's own URL)."""
    by_site: dict[Site, list[Story]] = {site: [] for site in SITES}
    for index, story in enumerate(stories):
        for k, site in enumerate(carriers(index)):
            published = story.published + CARRY_DELAY * k
            by_site[site].append(replace(story, published=published, url=story_url(
                story.id, story.title, published, site)))
    return by_site


def all_contexts(stories: Sequence[Story]) -> Iterator[PageContext]:
    """Every page of every site, in story order within each site."""
    for site, placed in placements(stories).items():
        yield from contexts(placed, related_offsets, site)


def sources_toml(sites: Sequence[Site] = SITES) -> str:
    """The sources file of the sample's sites, with their collections."""
    blocks = ["# The imaginary sites of the bundled sample (scripts/make_sample.py). `news-search\n"
              "# demo` reads the collections from here.\n"]
    for site in sites:
        lines = ["[[source]]", f"name = {json.dumps(site.name)}",
                 f"start_urls = [{json.dumps(site.url + '/')}]"]
        if site.collections:
            lines.append(f"collections = {json.dumps(list(site.collections))}")
        blocks.append("\n".join(lines) + "\n")
    return "\n".join(blocks)


def record_id(key: str) -> str:
    """Make a deterministic WARC-Record-ID from a key such as a URL."""
    return f"<urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, key)}>"


def write_warcinfo(writer: WARCWriter, filename: str, date: str) -> None:
    """Write the leading warcinfo record naming generator and source."""
    fields = (
        f"software: {GENERATOR}\r\n"
        "format: WARC File Format 1.0\r\n"
        f"description: {', '.join(site.name for site in SITES)} are imaginary sites; "
        "their page furniture is invented.\r\n"
        f"source: {CORPUS_NAME} (research purposes only)\r\n"
    ).encode()
    record = writer.create_warc_record(
        "",
        "warcinfo",
        payload=io.BytesIO(fields),
        length=len(fields),
        warc_content_type="application/warc-fields",
        warc_headers_dict={
            "WARC-Record-ID": record_id(f"{SITE_URL}/#warcinfo"),
            "WARC-Date": date,
            "WARC-Filename": filename,
        },
    )
    writer.write_record(record)


def write_response(writer: WARCWriter, story: Story, page: bytes) -> None:
    """Write one page as a WARC response record with an HTTP 200 header."""
    http_headers = StatusAndHeaders(
        "200 OK",
        [("Content-Type", "text/html; charset=utf-8"), ("Content-Length", str(len(page)))],
        protocol="HTTP/1.1",
    )
    record = writer.create_warc_record(
        story.url,
        "response",
        payload=io.BytesIO(page),
        length=len(page),
        http_headers=http_headers,
        warc_headers_dict={
            "WARC-Record-ID": record_id(story.url),
            "WARC-Date": iso_utc(story.published + FETCH_DELAY),
        },
    )
    writer.write_record(record)


def build_warc(stories: Sequence[Story], filename: str) -> bytes:
    """Render every page of every site and return the gzipped WARC bytes."""
    buffer = io.BytesIO()
    writer = WARCWriter(buffer, gzip=True, warc_version="1.0")
    write_warcinfo(writer, filename, iso_utc(stories[0].published + FETCH_DELAY))
    for ctx in all_contexts(stories):
        write_response(writer, ctx.story, render_page(ctx).encode("utf-8"))
    return buffer.getvalue()


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--source", type=Path, default=DEFAULT_SOURCE, help="gzipped Reuters-21578 JSON lines"
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="gzipped WARC to write")
    parser.add_argument("--count", type=int, default=DEFAULT_COUNT, help="stories to include")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Build the sample WARC and print a summary."""
    args = parse_args(argv)
    if args.count < 1:
        print("--count must be at least 1", file=sys.stderr)
        return 2
    stories = load_stories(args.source, args.count)
    if not stories:
        print(f"no qualifying stories in {args.source}", file=sys.stderr)
        return 1
    data = build_warc(stories, args.out.name)
    if len(data) > MAX_OUTPUT_BYTES:
        limit = f"{MAX_OUTPUT_BYTES:,}"
        print(f"output would be {len(data):,} bytes, over the {limit} limit", file=sys.stderr)
        return 1
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_bytes(data)
    args.out.with_name(SOURCES_NAME).write_text(sources_toml(), encoding="utf-8")
    placed = placements(stories)
    pages = sum(len(p) for p in placed.values())
    print(f"stories: {len(stories)} on {pages} pages of {len(SITES)} sites")
    for site, pages_of_site in placed.items():
        print(f"  {site.name} ({site.template}): {len(pages_of_site)} pages")
    print(f"span: {stories[0].published:%Y-%m-%d} to {stories[-1].published:%Y-%m-%d}")
    print(f"output: {args.out} ({len(data):,} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
