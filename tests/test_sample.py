"""The bundled demo sample (scripts/make_sample.py): seven invented sites with their own page
templates, wire stories carried by two or three of them, two collections; over real HTTP."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import urllib.parse
import urllib.request
from pathlib import Path

from search_service import config

ROOT = Path(__file__).resolve().parent.parent
SITES = {"The Wire Ledger": 537, "Capital Markets Journal": 316,
         "Northern Energy Review": 296, "Harbour Gazette": 287, "Metro Evening Post": 287,
         "Prairie Commodities Daily": 287, "Pacific Trade Monitor": 286}


def get_json(url: str) -> dict:
    """GET JSON over real HTTP."""
    with urllib.request.urlopen(url, timeout=30) as response:
        return json.loads(response.read())


def test_the_sample_is_small_and_has_its_notice():
    assert config.SAMPLE_WARC.stat().st_size < 5_000_000
    notice = " ".join((ROOT / "NOTICE").read_text().split())
    assert "Reuters-21578, Distribution 1.0" in notice
    assert all(name in notice for name in SITES)


def test_the_sample_is_what_the_script_makes(tmp_path):
    out = tmp_path / "sample.warc.gz"
    done = subprocess.run([sys.executable, str(ROOT / "scripts/make_sample.py"), "--out",
                           str(out)], capture_output=True, text=True, check=True)
    assert "stories: 2000 on 2296 pages of 7 sites" in done.stdout
    assert out.read_bytes() == config.SAMPLE_WARC.read_bytes()
    assert (tmp_path / "sample-sources.toml").read_text() == config.SAMPLE_WARC.with_name(
        "sample-sources.toml").read_text()


def test_every_site_is_a_source_with_every_page_indexed_and_dated(sample_server):
    sources = get_json(f"{sample_server}/api/sources")["sources"]
    assert {s["source"]: s["articles"] for s in sources} == SITES
    for name in SITES:
        newest = get_json(f"{sample_server}/api/search?source={urllib.parse.quote(name)}"
                          "&sort=oldest&per_page=3")
        assert newest["total"] > 0
        assert all(r["published"].startswith("1987-") for r in newest["results"])
        assert all(r["title"] and r["snippet_html"] for r in newest["results"])


def test_wire_stories_carried_by_several_sites_show_as_similar(sample_server):
    everything = get_json(f"{sample_server}/api/search?sort=oldest&per_page=100")
    assert everything["total"] == 2296 - 304  # the copies collapse into their stories
    similar = [r["similar_count"] for r in everything["results"]]
    assert 1 in similar and 2 in similar
    carried = next(r for r in everything["results"] if r["similar_count"] == 2)
    words = " ".join(re.findall(r"[A-Za-z]{3,}", carried["title"]))
    phrase = urllib.parse.quote(f'"{words}"')
    on = [name for name in SITES if get_json(
        f"{sample_server}/api/search?q={phrase}&source={urllib.parse.quote(name)}")["total"]]
    assert len(on) == 3 and carried["source"] in on
