"""A fixture news site served over real HTTP on 127.0.0.1, with hostile corners.

`NewsSite` runs a ThreadingHTTPServer in a daemon thread and records every request
(path, User-Agent, Host) so tests can assert what the crawler fetched and how often.
"""

from __future__ import annotations

import gzip
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from xml.sax.saxutils import escape

PARAGRAPH = ("The harbour authority said on {day} that the {topic} plan would go ahead after "
             "months of talks with shipping lines, unions and the city council. Officials "
             "expect the first phase to be finished before the winter storms, and the budget "
             "was approved by a wide majority of the board members present at the meeting.")
TOPICS = {
    1: "dredging", 2: "ferry", 3: "lighthouse", 4: "container", 5: "fishing", 6: "pier",
    7: "tunnel", 8: "Zürich quay",
}


def article_html(path: str, topic: str, day: int, extra_head: str = "",
                 dated: bool = True) -> str:
    """Render one article page with JSON-LD metadata and enough text to be indexed (with no
    date anywhere unless `dated`)."""
    when = f"March {day}" if dated else "Tuesday"
    body = "".join(f"<p>{PARAGRAPH.format(day=when, topic=topic)} ({i})</p>" for i in range(3))
    published = f' "datePublished": "2024-03-{day:02d}T09:00:00Z",' if dated else ""
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>{topic.title()} plan approved | Harbour Times</title>
<meta property="og:site_name" content="Harbour Times">
<script type="application/ld+json">{{"@type": "NewsArticle",
 "headline": "{topic.title()} plan approved",{published}
 "author": {{"@type": "Person", "name": "Ada Quay"}}}}</script>
{extra_head}</head><body><nav><a href="/">Home</a> <a href="/world/">World</a></nav>
<article><h1>{topic.title()} plan approved</h1>{body}</article>
<footer><a href="{path}?utm_source=footer&amp;utm_medium=web">Permalink</a></footer>
</body></html>"""


class NewsSite:
    """The fixture site: start() it, use .url(path), read .hits, stop() it."""

    def __init__(self, crawl_delay: float = 0.0, extra: int = 0):
        self.crawl_delay = crawl_delay
        self.extra = extra  # stories 100, 101, … listed on /more/
        self.changed: set[str] = set()  # article paths whose content (and ETag) changed
        self.rss_items = [2, 3, 4]  # the stories the RSS feed lists
        self.news_items = [1, 2]  # the stories the news sitemap lists
        self.undated: set[int] = set()  # stories whose page states no date
        self.last_modified: dict[str, str] = {}  # article path: its Last-Modified header
        self.lastmod: dict[int, str] = {}  # story: its news sitemap lastmod (else its day)
        self.events: dict[str, float] = {}  # when something happened (time.monotonic())
        self.hits: list[tuple[float, str, str]] = []
        self.counters: dict[str, int] = {}
        self.lock = threading.Lock()
        self.bomb = gzip.compress(b"\0" * (20 * 1024 * 1024), compresslevel=9)
        site = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # keep test output quiet
                pass

            def do_GET(self):
                with site.lock:
                    site.hits.append((time.monotonic(), self.path,
                                      self.headers.get("User-Agent", "")))
                site.route(self)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base(self) -> str:
        """The site's root URL."""
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def url(self, path: str) -> str:
        """Return the absolute URL of `path` on the site."""
        return self.base + path


    def small_sources(self, directory: Path, recrawl: str = "1h") -> Path:
        """Write a sources file for /more/ (and the sitemaps robots.txt names) in
        `directory`; return its path."""
        path = directory / "small.toml"
        path.write_text(f"""[[source]]
name = "Harbour Times"
start_urls = ["{self.url('/more/')}"]
allow = ['/news/']
max_depth = 1
recrawl_interval = "{recrawl}"
""")
        return path
    def start(self) -> NewsSite:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def fetched(self, path: str) -> int:
        """How many times `path` (with its query) was requested."""
        return sum(1 for _, p, _ in self.hits if p == path)

    def bump(self, key: str) -> int:
        """Count one more request for `key`; return the new count."""
        with self.lock:
            self.counters[key] = self.counters.get(key, 0) + 1
            return self.counters[key]

    # --- routes --------------------------------------------------------------------------

    def route(self, h: BaseHTTPRequestHandler) -> None:
        """Answer one request."""
        path = h.path
        if path == "/robots.txt":
            delay = f"Crawl-delay: {self.crawl_delay:g}\n" if self.crawl_delay else ""
            return self.send(h, "User-agent: *\nDisallow: /private/\n" + delay
                             + f"Sitemap: {self.url('/sitemap_index.xml')}\n", "text/plain")
        if path == "/sitemap_index.xml":
            return self.send(h, self.sitemap_index(), "application/xml")
        if path == "/sitemap-news.xml":
            return self.send(h, self.news_sitemap(), "application/xml")
        if path == "/sitemap-broken.xml":
            return self.send(h, "<urlset><url><loc>/news/never</loc></url><url><loc", "text/xml")
        if path == "/feed.rss":
            return self.send(h, self.rss(), "application/rss+xml")
        if path == "/feed.atom":
            return self.send(h, self.atom(), "application/atom+xml")
        if path == "/feed.rdf":
            return self.send(h, self.rdf(), "application/rss+xml")
        if path == "/sitemap-garbage.xml":
            return self.send(h, "<<<this is not XML at all", "application/xml")
        if path == "/feed-broken.xml":
            return self.send(h, "<rss><channel><item><link>oops", "application/rss+xml")
        if path == "/":
            return self.send(h, self.home(), "text/html; charset=utf-8")
        if path == "/world/":
            return self.send(h, self.section(), "text/html; charset=utf-8")
        if path.startswith("/world/?page="):  # a paginated archive that never ends
            n = int(path.rsplit("=", 1)[1])
            return self.send(h, f"<html><body><h1>World, page {n}</h1>"
                                f"<a href='/world/?page={n + 1}'>Older</a></body></html>",
                             "text/html")
        if path == "/hub/":  # a hub page announcing the RSS feed, with no links
            return self.send(h, "<html><head><link rel='alternate' type='application/rss+xml'"
                                " href='/feed.rss'></head><body>Hub</body></html>", "text/html")
        if path == "/more/":
            links = " ".join(f'<a href="/news/story-{n}">{n}</a>'
                             for n in range(100, 100 + self.extra))
            return self.send(h, f"<html><body>{links}</body></html>", "text/html")
        if path.startswith("/news/"):
            return self.article(h, path)
        if path.startswith("/private/"):
            return self.send(h, article_html(path, "secret", 9), "text/html")
        if path.startswith("/calendar/"):
            day = int(path.rstrip("/").rsplit("/", 1)[1])
            return self.send(h, f"<html><body><h1>Day {day}</h1><a href='/calendar/{day + 1}'>"
                                f"next</a> <a href='/calendar/{day - 1}'>prev</a></body></html>",
                             "text/html")
        if path.startswith("/loop/"):
            target = f"/loop/{int(path.rsplit('/', 1)[1]) + 1}"
            return self.send(h, "", "text/html", status=302, headers={"Location": target})
        if path == "/special/endless":
            return self.endless(h)
        if path == "/special/stall":
            time.sleep(4)
            return self.send(h, article_html(path, "stall", 1), "text/html")
        if path == "/special/flaky":
            if self.bump("flaky") <= 2:
                return self.send(h, "oops", "text/plain", status=500)
            return self.send(h, article_html(path, "breakwater", 8), "text/html")
        if path == "/special/busy":
            if self.bump("busy") == 1:
                self.send(h, "slow down", "text/plain", status=429,
                          headers={"Retry-After": "2"})
                self.events["busy"] = time.monotonic()
                return None
            return self.send(h, article_html(path, "tunnel", 7), "text/html")
        if path == "/special/report":
            return self.send(h, b"%PDF-1.4 not really", "application/pdf")
        if path == "/special/bomb":
            return self.send(h, self.bomb, "text/html", headers={"Content-Encoding": "gzip"})
        return self.send(h, "<html><body>Not found</body></html>", "text/html", status=404)

    def send(self, h, body: str | bytes, ctype: str, status: int = 200,
             headers: dict[str, str] | None = None) -> None:
        """Send a whole response."""
        data = body.encode("utf-8") if isinstance(body, str) else body
        try:
            h.send_response(status)
            h.send_header("Content-Type", ctype)
            h.send_header("Content-Length", str(len(data)))
            for key, value in (headers or {}).items():
                h.send_header(key, value)
            h.end_headers()
            h.wfile.write(data)
        except OSError:  # the client hung up (a timeout, a size cap): nothing to answer
            h.close_connection = True

    def article(self, h, path: str) -> None:
        """The article pages /news/story-N (and a print view that points to its canonical)."""
        slug = path.split("?", 1)[0].rsplit("/", 1)[1]
        if not slug.startswith("story-"):
            return self.send(h, "<html><body>Not found</body></html>", "text/html", status=404)
        n = int(slug.split("-")[1])
        extra = ""
        if "print=1" in path:
            extra = f'<link rel="canonical" href="{self.url(f"/news/{slug}")}">'
        topic = TOPICS.get(n, f"harbour item {n}")
        etag = f'"{slug}-v1"'
        if f"/news/{slug}" in self.changed:
            topic, etag = f"{topic} revised", f'"{slug}-v2"'
        validators = {"ETag": etag}
        if f"/news/{slug}" in self.last_modified:
            validators["Last-Modified"] = self.last_modified[f"/news/{slug}"]
        if h.headers.get("If-None-Match") == etag:
            return self.send(h, b"", "text/html", status=304, headers=validators)
        # story 8 is UTF-8 but its header claims Latin-1 (and the page declares nothing)
        ctype = "text/html; charset=iso-8859-1" if n == 8 else "text/html; charset=utf-8"
        page = article_html(f"/news/{slug}", topic, n % 28 + 1, extra,
                            dated=n not in self.undated)
        if n == 8:
            page = page.replace('<meta charset="utf-8">', "")
        return self.send(h, page, ctype, headers=validators)

    def endless(self, h) -> None:
        """An article that never ends (until the client hangs up, or 30 s pass)."""
        h.send_response(200)
        h.send_header("Content-Type", "text/html")
        h.end_headers()
        start = article_html("/special/endless", "endless", 10).split("</article>")[0]
        chunk = "".join(f"<p>{PARAGRAPH.format(day='March 10', topic=f'endless {i}')}</p>\n"
                        for i in range(20)).encode()
        deadline = time.monotonic() + 30
        try:
            h.wfile.write(start.encode())
            while time.monotonic() < deadline:
                h.wfile.write(chunk)
        except OSError:
            pass
        h.close_connection = True

    def home(self) -> str:
        """The front page: sections, a feed link, hostile links."""
        links = ["/world/", "/private/secret", "/calendar/1", "/loop/1", "/special/endless",
                 "/special/stall", "/special/flaky", "/special/busy", "/special/report",
                 "/special/bomb", "/news/story-6?fbclid=abc123", "https://elsewhere.example/x"]
        anchors = " ".join(f'<a href="{escape(u)}">{escape(u)}</a>' for u in links)
        return ("<html><head><title>Harbour Times</title>"
                '<link rel="alternate" type="application/rss+xml" href="/feed.rss">'
                '<link rel="alternate" type="application/rss+xml" href="/feed-broken.xml">'
                '<link rel="alternate" type="application/rss+xml" href="/feed.rdf">'
                f"</head><body><h1>Harbour Times</h1>{anchors}</body></html>")

    def section(self) -> str:
        """A section page linking story 6 with tracking parameters and story 1's print view."""
        return ("<html><body><h1>World</h1>"
                '<a href="/news/story-6?utm_source=section&amp;gclid=x">Pier</a> '
                '<a href="/news/story-1?print=1">Print</a> '
                '<a href="/world/?page=2">Older</a></body></html>')

    def sitemap_index(self) -> str:
        """A sitemap index: the news sitemap, a broken one and one that is not XML."""
        items = "".join(f"<sitemap><loc>{self.url(p)}</loc></sitemap>"
                        for p in ("/sitemap-news.xml", "/sitemap-broken.xml",
                                  "/sitemap-garbage.xml"))
        return ('<?xml version="1.0" encoding="UTF-8"?><sitemapindex '
                f'xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{items}</sitemapindex>')

    def news_sitemap(self) -> str:
        """A news sitemap of `news_items` (stories 1 and 2 at first), dated by `lastmod`."""
        urls = "".join(
            f"<url><loc>{self.url(f'/news/story-{n}')}</loc>"
            f"<lastmod>{self.lastmod.get(n, f'2024-03-{n:02d}')}</lastmod>"
            "<news:news><news:publication><news:name>Harbour Times</news:name>"
            "<news:language>en</news:language></news:publication>"
            f"<news:publication_date>2024-03-{n:02d}T09:00:00Z</news:publication_date>"
            f"<news:title>Story {n}</news:title></news:news></url>" for n in self.news_items)
        return ('<?xml version="1.0" encoding="UTF-8"?><urlset '
                'xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" '
                'xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">'
                f"{urls}</urlset>")

    def rss(self) -> str:
        """An RSS 2.0 feed of `rss_items` (stories 2-4 at first; with tracking parameters)."""
        items = "".join(
            f"<item><title>Story {n}</title><link>{self.url(f'/news/story-{n}')}"
            f"?utm_source=rss&amp;utm_campaign=feed</link></item>" for n in self.rss_items)
        return (f'<?xml version="1.0"?><rss version="2.0"><channel><title>Harbour Times'
                f"</title><link>{self.base}/</link>{items}</channel></rss>")

    def rdf(self) -> str:
        """An RSS 1.0 (RDF) feed of story 8."""
        link = self.url("/news/story-8")
        return ('<?xml version="1.0"?><rdf:RDF '
                'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" '
                'xmlns="http://purl.org/rss/1.0/">'
                f'<channel rdf:about="{self.base}/"><title>Harbour Times</title>'
                f"<link>{self.base}/</link><items><rdf:Seq><rdf:li resource=\"{link}\"/>"
                f'</rdf:Seq></items></channel><item rdf:about="{link}"><title>Story 8</title>'
                f"<link>{link}</link></item></rdf:RDF>")

    def atom(self) -> str:
        """An Atom feed of story 5."""
        return ('<?xml version="1.0" encoding="utf-8"?>'
                '<feed xmlns="http://www.w3.org/2005/Atom"><title>Harbour Times</title>'
                f'<entry><title>Story 5</title><link href="{self.url("/news/story-5")}"/>'
                "<id>urn:story-5</id><updated>2024-03-05T09:00:00Z</updated></entry></feed>")


class Blackhole:
    """A TCP port on 127.0.0.1 that never accepts a connection: its listen backlog is full, so
    the kernel drops new SYNs and a client's connect hangs (a connect timeout)."""

    def __init__(self):
        self.server = socket.socket()
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(0)
        self.fillers: list[socket.socket] = []
        while True:  # fill the backlog until a connect no longer completes
            client = socket.socket()
            client.settimeout(0.3)
            try:
                client.connect(self.server.getsockname())
            except OSError:
                client.close()
                break
            self.fillers.append(client)

    def url(self, path: str) -> str:
        """Return a URL on the unreachable port."""
        return f"http://127.0.0.1:{self.server.getsockname()[1]}{path}"

    def close(self) -> None:
        for sock in [*self.fillers, self.server]:
            sock.close()
