"""Extraction quality and speed of the normaliser, side by side with its peers, in one run.

Bodies are scored on ``extraction-benchmark/`` with that benchmark's own metric (4-token
shingles, per-page weights; see its README); publication days on ``dates-mediacloud/`` by
exact-day accuracy (a page with no date in truth counts as right only if no date is given).
Peers: trafilatura and readability-lxml (bodies), htmldate and trafilatura (dates); install
them with ``pip install -e .[bench]``.

    python -m benchmarks.extraction [--data ../shared/data] [--only ours] [--worst 10]

Our body is scored as extracted; the pages whose kind we would not index (paywall stubs,
listings, ...) are counted apart and printed under the table.
"""

from __future__ import annotations

import argparse
import gzip
import json
import logging
import re
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from search_service.normalise import normalise

log = logging.getLogger(__name__)

DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
TOKEN = re.compile(r"\w+")


@dataclass
class Score:
    """Running totals of one extractor on one data set."""

    precision: list[float] = field(default_factory=list)
    recall: list[float] = field(default_factory=list)
    exact: int = 0
    right: int = 0
    pages: int = 0
    seconds: float = 0.0
    per_page: list[tuple[float, str]] = field(default_factory=list)

    @property
    def f1(self) -> float:
        """Harmonic mean of mean precision and mean recall."""
        p, r = self.mean(self.precision), self.mean(self.recall)
        return 2 * p * r / (p + r) if p + r else 0.0

    @staticmethod
    def mean(values: list[float]) -> float:
        """Mean of `values`, 0 when empty."""
        return sum(values) / len(values) if values else 0.0


def shingles(text: str) -> Counter:
    """Return the multiset of 4-token shingles of `text` (the benchmark's tokenisation)."""
    tokens = TOKEN.findall(text or "")
    if len(tokens) < 4:
        return Counter([tuple(tokens)]) if tokens else Counter()
    return Counter(tuple(tokens[i:i + 4]) for i in range(len(tokens) - 3))


def score_body(score: Score, output: str, truth: str, name: str) -> None:
    """Add one page's precision, recall and exact match to `score`."""
    out, ref = shingles(output), shingles(truth)
    tp = sum((out & ref).values())
    fp = sum(out.values()) - tp
    fn = sum(ref.values()) - tp
    if out:
        score.precision.append(tp / (tp + fp) if tp + fp else 0.0)
    if ref:
        recall = tp / (tp + fn) if tp + fn else 0.0
        score.recall.append(recall)
        precision = tp / (tp + fp) if out and tp + fp else 0.0
        page_f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        score.per_page.append((page_f1, name))
    if TOKEN.findall(output or "") == TOKEN.findall(truth or ""):
        score.exact += 1
    score.pages += 1


REJECTED: Counter = Counter()


def ours_body(html: str, url: str) -> str:
    """Our body (counting, apart, the pages whose kind we would not index)."""
    result = normalise(html, url, datetime.now(timezone.utc))
    if result.rejected:
        REJECTED[result.rejected.split(" (")[0]] += 1
    return result.article.body


def ours_date(html: str, url: str) -> str | None:
    """Our publication day, as the page states it (in its own time zone)."""
    published = normalise(html, url, datetime.now(timezone.utc)).published
    return published.day.isoformat() if published else None


def trafilatura_body(html: str, url: str) -> str:
    """trafilatura's main text (its defaults, like the benchmark README's figure)."""
    import trafilatura

    return trafilatura.extract(html, url=url) or ""


def readability_body(html: str, url: str) -> str:
    """readability-lxml's summary, as text."""
    import lxml.html
    from readability import Document

    summary = Document(html, url=url).summary(html_partial=True)
    return lxml.html.fromstring(summary).text_content() if summary.strip() else ""


def htmldate_date(html: str, url: str) -> str | None:
    """htmldate's original date with extensive search."""
    from htmldate import find_date

    return find_date(html, url=url, original_date=True, extensive_search=True)


def trafilatura_date(html: str, url: str) -> str | None:
    """trafilatura's metadata date."""
    from trafilatura import extract_metadata

    meta = extract_metadata(html, default_url=url)
    return meta.date if meta and meta.date else None


BODY_EXTRACTORS: dict[str, Callable[[str, str], str]] = {
    "ours": ours_body, "trafilatura": trafilatura_body, "readability-lxml": readability_body}
DATE_EXTRACTORS: dict[str, Callable[[str, str], str | None]] = {
    "ours": ours_date, "htmldate": htmldate_date, "trafilatura": trafilatura_date}


def load_bodies(data: Path) -> list[tuple[str, str, str, str]]:
    """Return (id, url, html, truth body) for each page of the extraction benchmark."""
    root = data / "extraction-benchmark"
    truth = json.loads((root / "ground-truth.json").read_text(encoding="utf-8"))
    pages = []
    for page_id, item in sorted(truth.items()):
        raw = gzip.decompress((root / "html" / f"{page_id}.html.gz").read_bytes())
        pages.append((page_id, item["url"], raw.decode("utf-8", "replace"), item["articleBody"]))
    return pages


def load_dates(data: Path) -> list[tuple[str, str, str, str | None]]:
    """Return (file, url, html, truth day or None) for each page of the dates set."""
    root = data / "dates-mediacloud"
    truth = json.loads((root / "truth.json").read_text(encoding="utf-8"))
    pages = []
    for url, item in sorted(truth.items()):
        raw = gzip.decompress((root / "html" / item["file"]).read_bytes())
        pages.append((item["file"], url, raw.decode("utf-8", "replace"), item["date"]))
    return pages


def run_bodies(name: str, pages: list, extractor: Callable[[str, str], str]) -> Score:
    """Score one body extractor over every page, timing the extraction only."""
    score = Score()
    for page_id, url, html, truth in pages:
        start = time.perf_counter()
        try:
            output = extractor(html, url)
        except Exception as exc:  # a peer failing on a page scores an empty output
            log.warning("%s failed on %s: %r", name, page_id, exc)
            output = ""
        score.seconds += time.perf_counter() - start
        score_body(score, output, truth, page_id)
    return score


def run_dates(name: str, pages: list, extractor: Callable[[str, str], str | None]) -> Score:
    """Score one date extractor over every page by exact-day accuracy."""
    score = Score()
    for page_file, url, html, truth in pages:
        start = time.perf_counter()
        try:
            found = extractor(html, url)
        except Exception as exc:
            log.warning("%s failed on %s: %r", name, page_file, exc)
            found = None
        score.seconds += time.perf_counter() - start
        day = found[:10] if found else None
        score.right += day == truth
        score.pages += 1
        if day != truth:
            score.per_page.append((0.0, f"{page_file} got {day} want {truth} {url}"))
    return score


def parse_rate(pages: list) -> float:
    """Pages per second of BeautifulSoup's own lxml parse: the machine's yardstick."""
    from bs4 import BeautifulSoup

    start = time.perf_counter()
    for _, _, html, _ in pages:
        BeautifulSoup(html, "lxml")
    return len(pages) / (time.perf_counter() - start)


def table(bodies: dict[str, Score], dates: dict[str, Score]) -> str:
    """Render the figures of every extractor as one table."""
    lines = [
        "| extractor | body F1 | precision | recall | exact | pages/s | date day acc. | dates/s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name in dict.fromkeys([*bodies, *dates]):
        cells = [name]
        body = bodies.get(name)
        if body:
            cells += [f"{body.f1:.3f}", f"{Score.mean(body.precision):.3f}",
                      f"{Score.mean(body.recall):.3f}", f"{body.exact / body.pages:.3f}",
                      f"{body.pages / body.seconds:.1f}"]
        else:
            cells += ["–"] * 5
        date = dates.get(name)
        if date:
            cells += [f"{date.right / date.pages:.3f}", f"{date.pages / date.seconds:.1f}"]
        else:
            cells += ["–"] * 2
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    """Run every extractor on both data sets and print one table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--only", help="run only this extractor (e.g. ours)")
    parser.add_argument("--worst", type=int, default=0, help="list the N worst pages of each")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR)
    body_pages, date_pages = load_bodies(args.data), load_dates(args.data)
    bodies = {name: run_bodies(name, body_pages, fn) for name, fn in BODY_EXTRACTORS.items()
              if not args.only or name == args.only}
    dates = {name: run_dates(name, date_pages, fn) for name, fn in DATE_EXTRACTORS.items()
             if not args.only or name == args.only}
    print(f"{len(body_pages)} body pages, {len(date_pages)} date pages, one process; "
          f"BeautifulSoup(html, 'lxml') alone: {parse_rate(body_pages):.1f} pages/s here")
    print(table(bodies, dates))
    if REJECTED:
        print("ours would not index, of the body pages: " + ", ".join(
            f"{count} {reason}" for reason, count in REJECTED.most_common()))
    for name, score in [*bodies.items(), *dates.items()] if args.worst else []:
        print(f"\nworst of {name}:")
        for value, page in sorted(score.per_page)[:args.worst]:
            print(f"  {value:.3f} {page}")


if __name__ == "__main__":
    main()
