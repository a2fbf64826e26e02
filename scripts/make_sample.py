"""Build the sample web archive ``search_service/data/sample.warc.gz``.

The pages are Reuters-21578 stories (Reuters-21578, Distribution 1.0;
free distribution for research purposes only, see NOTICE) rendered as
article pages of "The Wire Ledger", an imaginary news site at
https://wireledger.example. All page furniture (menus, share bars,
summary widgets, newsletter boxes, related links) is invented.

Two page templates alternate by story id parity so that a normaliser
has to cope with different markup:

* even ids, template "jsonld": ``<article>`` markup and a schema.org
  NewsArticle in ``<script type="application/ld+json">``;
* odd ids, template "meta": ``<div class="story-body">`` markup and
  Open Graph / ``article:published_time`` meta tags, no JSON-LD.

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
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SOURCE = REPO_ROOT.parent / "shared/data/reuters21578/reuters.jsonl.gz"
DEFAULT_OUT = REPO_ROOT / "search_service/data/sample.warc.gz"
DEFAULT_COUNT = 2500
MIN_BODY_CHARS = 400
MAX_OUTPUT_BYTES = 5_000_000
MAX_SLUG_CHARS = 60
FETCH_DELAY = timedelta(hours=2)

SITE_NAME = "The Wire Ledger"
SITE_URL = "https://wireledger.example"
CORPUS_NAME = "Reuters-21578, Distribution 1.0"
GENERATOR = "scripts/make_sample.py (The Wire Ledger sample generator)"
MENU = ("Home", "World", "Business", "Markets", "Energy", "Technology", "Opinion")
# Related lists overlap a neighbour, as "latest stories" boxes do; it keeps pages small.
RELATED_OFFSETS_A = (1, 2, 3)
RELATED_OFFSETS_B = (-1, 2, 4)


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


def story_url(story_id: int, title: str, published: datetime) -> str:
    """Build the canonical article URL of a story."""
    return f"{SITE_URL}/{published:%Y/%m/%d}/{slugify(title)}-{story_id}"


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
    stories: Sequence[Story], offsets: Callable[[int], Sequence[int]]
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
        )


def related_offsets(story_id: int) -> Sequence[int]:
    """Choose the related-story offsets used by the story's template."""
    return RELATED_OFFSETS_A if story_id % 2 == 0 else RELATED_OFFSETS_B


def json_for_script(data: dict) -> str:
    """Serialise JSON safely for embedding inside a script element."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")


def news_article_jsonld(story: Story) -> str:
    """Build the schema.org NewsArticle JSON-LD of a story."""
    return json_for_script(
        {
            "@context": "https://schema.org",
            "@type": "NewsArticle",
            "headline": story.title,
            "datePublished": iso_utc(story.published),
            "author": {"@type": "Organization", "name": "Reuters"},
            "publisher": {"@type": "Organization", "name": SITE_NAME},
            "mainEntityOfPage": story.url,
            "inLanguage": "en",
        }
    )


def menu_path(label: str) -> str:
    """Return the site path a menu label links to."""
    return "/" if label == "Home" else f"/{label.lower()}"


def site_path(story: Story) -> str:
    """Return the root-relative path of a story, as used in on-site links."""
    return story.url.removeprefix(SITE_URL)


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


def render_page(ctx: PageContext) -> str:
    """Render a page with the template chosen by story id parity."""
    return render_jsonld(ctx) if ctx.story.id % 2 == 0 else render_meta(ctx)


def record_id(key: str) -> str:
    """Make a deterministic WARC-Record-ID from a key such as a URL."""
    return f"<urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, key)}>"


def write_warcinfo(writer: WARCWriter, filename: str, date: str) -> None:
    """Write the leading warcinfo record naming generator and source."""
    fields = (
        f"software: {GENERATOR}\r\n"
        "format: WARC File Format 1.0\r\n"
        f"description: {SITE_NAME} ({SITE_URL}) is an imaginary site; "
        "its page furniture is invented.\r\n"
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
    """Render all stories and return the gzipped WARC bytes."""
    buffer = io.BytesIO()
    writer = WARCWriter(buffer, gzip=True, warc_version="1.0")
    write_warcinfo(writer, filename, iso_utc(stories[0].published + FETCH_DELAY))
    for ctx in contexts(stories, related_offsets):
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
    jsonld = sum(1 for s in stories if s.id % 2 == 0)
    print(f"stories: {len(stories)} ({jsonld} jsonld, {len(stories) - jsonld} meta)")
    print(f"span: {stories[0].published:%Y-%m-%d} to {stories[-1].published:%Y-%m-%d}")
    print(f"output: {args.out} ({len(data):,} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
