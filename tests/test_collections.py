"""Collections: `collections` on a source in the sources file, `ingest --collection` and
`--sources`, the `collection` field, filter and facet, over real HTTP on the bundled sample."""

from __future__ import annotations

import json
import shutil
import urllib.error
import urllib.parse
import urllib.request
from html.parser import HTMLParser
from pathlib import Path

import pytest

from search_service.article import Article
from search_service.cli import main
from search_service.crawl.sources import SourceError, collections_by_host, load_sources
from search_service.index.schema import open_index
from search_service.ingest import Collections
from search_service.search import SearchParams, search
from tests.support.paths import PAGES, SMALL_WARC

BUSINESS = {"Prairie Commodities Daily", "Capital Markets Journal", "Pacific Trade Monitor"}
REGIONAL = {"Harbour Gazette", "Metro Evening Post"}


def get(url: str) -> tuple[int, bytes]:
    """GET over real HTTP: status and body (error statuses included)."""
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def get_json(url: str) -> dict:
    """GET JSON over real HTTP (200 expected)."""
    status, body = get(url)
    assert status == 200, body
    return json.loads(body)


def test_sources_file_collections(tmp_path):
    path = tmp_path / "sources.toml"
    path.write_text('[[source]]\nname = "Harbour"\nstart_urls = ["https://harbour.example/"]\n'
                    'collections = ["Regional papers", " Regional   papers ", "Ports"]\n'
                    '[[source]]\nname = "Wire"\nfeeds = ["https://wire.example/rss"]\n'
                    'allowed_domains = ["wire.example", "news.wire.example"]\n'
                    'collections = "Wires"\n')
    harbour, wire = load_sources(path)
    assert harbour.collections == ("Regional papers", "Ports")
    assert wire.collections == ("Wires",)
    assert collections_by_host([harbour, wire]) == {
        "harbour.example": ("Regional papers", "Ports"), "wire.example": ("Wires",),
        "news.wire.example": ("Wires",)}


@pytest.mark.parametrize("value, message", [
    ('["a,b"]', "'collections': not a collection name: 'a,b' (1 to 64 characters, no commas)"),
    ('[""]', "'collections': not a collection name: '' (1 to 64 characters, no commas)"),
    ("[1]", "'collections' must be a list of strings"),
])
def test_bad_collections_in_a_sources_file_are_refused(tmp_path, value, message):
    path = tmp_path / "sources.toml"
    path.write_text(f'[[source]]\nname = "H"\nstart_urls = ["https://h.example/"]\n'
                    f"collections = {value}\n")
    with pytest.raises(SourceError) as error:
        load_sources(path)
    assert str(error.value) == f"{path}: source 'H': {message}"


def test_an_article_joins_its_sources_collections_by_host():
    rules = Collections(always=("Monitored",), by_domain={"wire.example": ("Wires",)})
    article = Article(url="https://news.wire.example/a", canonical_url="https://news.wire."
                      "example/a", title="t", body="b", collections=("Earlier",))
    assert rules.of(article) == ("Earlier", "Monitored", "Wires")
    other = Article(url="https://notwire.example/a", canonical_url="https://notwire.example/a",
                    title="t", body="b")
    assert rules.apply(other).collections == ("Monitored",)


def test_ingest_collection_option_puts_every_article_in_it(tmp_path, capsys):
    index = tmp_path / "index"
    assert main(["ingest", "--index", str(index), "--collection", "Saved pages",
                 "--collection", "Saved pages", str(PAGES)]) == 0
    out = capsys.readouterr().out
    indexed = int(out.split(": ")[1].split(" indexed")[0])
    with open_index(index).searcher() as searcher:
        data = search(searcher, SearchParams(collections=("Saved pages",), facets=True))
        assert data["total"] + sum(r["similar_count"] for r in data["results"]) <= indexed
        assert data["facets"]["collections"] == [{"collection": "Saved pages",
                                                  "count": indexed}]
        assert search(searcher, SearchParams(collections=("Other",)))["total"] == 0


def test_reindex_applies_a_sources_files_collections(tmp_path, capsys):
    archive = tmp_path / "archive"
    archive.mkdir()
    shutil.copy(SMALL_WARC, archive / "news-search-1.warc.gz")
    sources = tmp_path / "sources.toml"
    sources.write_text('[[source]]\nname = "Ledger"\nstart_urls = ["https://wireledger.example/"]'
                       '\ncollections = ["Wires"]\n')
    index = tmp_path / "index"
    assert main(["reindex", "--index", str(index), "--archive", str(archive), "--sources",
                 str(sources)]) == 0
    capsys.readouterr()
    with open_index(index).searcher() as searcher:
        by_host = {(f["host"], f["collection"]) for f in searcher.all_stored_fields()}
    assert by_host == {("wireledger.example", "Wires")}


def test_ingest_refuses_a_bad_collection_name(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["ingest", "--index", str(tmp_path / "i"), "--collection", "a,b", str(PAGES)])
    assert exit_.value.code == 2
    assert "not a collection name: 'a,b'" in capsys.readouterr().err


def test_collection_facet_and_filter_over_http(sample_server):
    everything = get_json(f"{sample_server}/api/search?facets=1")
    assert everything["facets"]["collections"] == [
        {"collection": "Business press", "count": 889},
        {"collection": "Regional papers", "count": 574}]
    business = get_json(f"{sample_server}/api/search?collection=Business+press&per_page=100"
                        "&facets=1&sort=newest")
    assert {s["source"] for s in business["facets"]["sources"]} == BUSINESS
    assert {r["source"] for r in business["results"]} <= BUSINESS
    both = get_json(f"{sample_server}/api/search?collection=Business+press"
                    "&collection=Regional+papers")
    regional = get_json(f"{sample_server}/api/search?collection=Regional+papers")
    assert business["total"] + regional["total"] >= both["total"] > business["total"]
    assert get_json(f"{sample_server}/api/search?collection=Nobody")["total"] == 0


def test_collection_filter_applies_to_export(sample_server):
    status, body = get(f"{sample_server}/api/export?format=jsonl&q=wheat"
                       "&collection=Regional+papers")
    rows = [json.loads(line) for line in body.decode().splitlines()]
    assert status == 200 and rows
    assert {r["source"] for r in rows} <= REGIONAL
    assert all(r["collections"] == ["Regional papers"] for r in rows)


def test_bad_collection_parameter_is_a_400(sample_server):
    status, body = get(f"{sample_server}/api/search?collection=" + "x" * 65)
    assert status == 400
    assert json.loads(body)["error"]["message"].startswith(
        "collection: not a collection name: 'xxxx")


class Links(HTMLParser):
    """Collects the (href, text) of links inside the collections facet list."""

    def __init__(self):
        super().__init__()
        self.inside = False
        self.links: list[tuple[str, str]] = []
        self.href = ""

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "ul" and attrs.get("class") == "collections":
            self.inside = True
        elif tag == "a" and self.inside:
            self.href = attrs["href"]

    def handle_endtag(self, tag):
        if tag == "ul":
            self.inside = False

    def handle_data(self, data):
        if self.inside and self.href:
            self.links.append((self.href, data))
            self.href = ""


def test_search_page_shows_the_collections_facet_and_keeps_the_filter(sample_server):
    status, body = get(f"{sample_server}/?q=grain")
    parser = Links()
    parser.feed(body.decode())
    assert status == 200
    assert [text for _, text in parser.links] == ["Business press", "Regional papers"]
    href = parser.links[0][0]
    assert urllib.parse.parse_qs(urllib.parse.urlsplit(href).query) == {
        "q": ["grain"], "collection": ["Business press"]}
    status, page = get(sample_server + href)
    html = page.decode()
    assert 'in Business press (<a href="/?q=grain">all collections</a>)' in html
    assert '<input type="hidden" name="collection" value="Business press">' in html


def test_schema_version_is_5(sample_index: Path):
    # 4 added collection; 5 stores published_source (where the date came from)
    assert json.loads((sample_index / "news-search.json").read_text()) == {"schema_version": 5}
