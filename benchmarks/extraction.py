"""Extraction quality and speed of the normaliser beside its peers, cross-validated by site.

Every page of the development data is put in one of K folds, all pages of a site in the same
fold (sites sorted by size, each given to the fold with the fewest pages so far). Each measure
is reported per fold, as the mean over folds and as the worst fold, for every extractor on the
same folds, in one run:

- body F1 on ``extraction-benchmark/`` with that benchmark's own metric (4-token shingles,
  per-page weights; see its README);
- publication day on ``dates-mediacloud/`` and ``dates-htmldate-eval/`` together, by exact-day
  accuracy (a page with no date in truth is right only if no date is given).

- titles, by exact and by normalised match (case, spacing and punctuation aside), against a
  **silver** gold: no development set carries a true title, so the page's own JSON-LD article
  headline (else its og:title) is taken as the title, and every extractor is given the page
  with those withheld (JSON-LD blocks and og/twitter/dc title meta tags removed): it must find
  the headline from the <h1>, the <title> and the text, as on a page that declares none.

Then the date rule (how our own date and htmldate's are combined, ``dates.DATE_RULES``) is
cross-validated: for each fold the rule with the best accuracy on the other folds is chosen
and scored on the held-out fold.

Peers: trafilatura and readability-lxml (bodies), htmldate and trafilatura (dates); a peer
that is not installed is reported as missing (``pip install -e .[bench]``).

    python -m benchmarks.extraction [--data ../shared/data] [--folds 5] [--only ours]
                                    [--worst 10]
    python -m benchmarks.extraction --speed 2 --parsers  # timing only, in turn per page
    python -m benchmarks.extraction --wire 3000          # verdicts on short wire stories
"""

from __future__ import annotations

import argparse
import gzip
import json
import logging
import re
import time
import warnings
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import urlsplit

from benchmarks._common import (
    load_average,
    markdown_table,
    missing_peers,
    peer_version,
    table_row,
)
from search_service.normalise import Extraction, normalise
from search_service.normalise.dates import DATE_RULE, DATE_RULES, decide, library_day

log = logging.getLogger(__name__)

DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
TOKEN = re.compile(r"\w+")
DATE_SETS = ("dates-mediacloud", "dates-htmldate-eval")
#: The distribution each peer needs, to tell a missing peer from a bad one.
NEEDS = {"trafilatura": "trafilatura", "readability-lxml": "readability-lxml",
         "htmldate": "htmldate"}


@dataclass
class Page:
    """One page of the development data and its truth."""

    dataset: str
    name: str
    url: str
    html: str
    truth: str | None
    fold: int = 0

    @property
    def site(self) -> str:
        """The page's site: its host without a leading 'www.'."""
        host = urlsplit(self.url).hostname or ""
        return host[4:] if host.startswith("www.") else host


@dataclass
class Outcome:
    """What one extractor did on one page: body scores or the day, and the time taken."""

    page: Page
    seconds: float
    precision: float | None = None
    recall: float | None = None
    exact: bool = False
    day: str | None = None

    @property
    def right(self) -> bool:
        """Tell whether the day found is the true one."""
        return self.day == self.page.truth

    @property
    def f1(self) -> float:
        """This page's own F1 (for listing the worst pages)."""
        p, r = self.precision or 0.0, self.recall or 0.0
        return 2 * p * r / (p + r) if p + r else 0.0


@dataclass
class Run:
    """Outcomes of one extractor on one measure."""

    outcomes: list[Outcome] = field(default_factory=list)

    def pages_per_second(self) -> float:
        """Pages per second over every page."""
        seconds = sum(o.seconds for o in self.outcomes)
        return len(self.outcomes) / seconds if seconds else 0.0


def body_f1(outcomes: list[Outcome]) -> float:
    """The benchmark's F1: harmonic mean of mean precision and mean recall."""
    ps = [o.precision for o in outcomes if o.precision is not None]
    rs = [o.recall for o in outcomes if o.recall is not None]
    p, r = mean(ps), mean(rs)
    return 2 * p * r / (p + r) if p + r else 0.0


def day_accuracy(outcomes: list[Outcome]) -> float:
    """Share of pages whose day is right."""
    return mean([1.0 if o.right else 0.0 for o in outcomes])


def mean(values: list[float]) -> float:
    """Mean of `values`, 0 when empty."""
    return sum(values) / len(values) if values else 0.0


def shingles(text: str) -> Counter:
    """Return the multiset of 4-token shingles of `text` (the benchmark's tokenisation)."""
    tokens = TOKEN.findall(text or "")
    if len(tokens) < 4:
        return Counter([tuple(tokens)]) if tokens else Counter()
    return Counter(tuple(tokens[i:i + 4]) for i in range(len(tokens) - 3))


def score_body(outcome: Outcome, output: str) -> Outcome:
    """Fill one page's precision, recall and exact match."""
    truth = outcome.page.truth or ""
    out, ref = shingles(output), shingles(truth)
    tp = sum((out & ref).values())
    if out:
        outcome.precision = tp / sum(out.values())
    if ref:
        outcome.recall = tp / sum(ref.values())
    outcome.exact = TOKEN.findall(output or "") == TOKEN.findall(truth)
    return outcome


# The extractors: each takes (html, url) and returns a body or a day.

REJECTED: Counter = Counter()
SHORT: Counter = Counter()
EVIDENCE: dict[str, Extraction] = {}


def ours(html: str, url: str) -> Extraction:
    """Our whole normaliser on one page (the same call yields the body and the date)."""
    return normalise(html, url, datetime.now(timezone.utc))


def ours_body(html: str, url: str) -> str:
    """Our body (counting, apart, the pages whose kind we would not index)."""
    result = ours(html, url)
    if result.rejected:
        REJECTED[result.rejected.split(" (")[0]] += 1
    SHORT["short"] += result.short
    return result.article.body


def ours_date(html: str, url: str) -> str | None:
    """Our publication day, as the page states it (in its own time zone)."""
    result = ours(html, url)
    EVIDENCE[url] = result
    return result.published.day.isoformat() if result.published else None


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


def ours_title(html: str, url: str) -> str:
    """Our title."""
    return ours(html, url).article.title


def readability_short_title(html: str, url: str) -> str:
    """readability-lxml's `short_title()` (the <title> with site-name parts cut)."""
    from readability import Document

    return Document(html, url=url).short_title()


def readability_title(html: str, url: str) -> str:
    """readability-lxml's `title()` (the <title> as written)."""
    from readability import Document

    return Document(html, url=url).title()


def trafilatura_title(html: str, url: str) -> str:
    """trafilatura's metadata title."""
    from trafilatura import extract_metadata

    meta = extract_metadata(html, default_url=url)
    return meta.title if meta and meta.title else ""


BODY_EXTRACTORS: dict[str, Callable[[str, str], str]] = {
    "ours": ours_body, "trafilatura": trafilatura_body, "readability-lxml": readability_body}
DATE_EXTRACTORS: dict[str, Callable[[str, str], str | None]] = {
    "ours": ours_date, "htmldate": htmldate_date, "trafilatura": trafilatura_date}
TITLE_EXTRACTORS: dict[str, Callable[[str, str], str]] = {
    "ours": ours_title, "readability-lxml short_title": readability_short_title,
    "readability-lxml title": readability_title, "trafilatura": trafilatura_title}
#: What the title extractors need installed (by the start of their name).
TITLE_NEEDS = {"readability-lxml": "readability-lxml", "trafilatura": "trafilatura"}


def installed(name: str) -> bool:
    """Tell whether the distribution extractor `name` needs is installed."""
    return name not in NEEDS or not missing_peers([NEEDS[name]])


# Data and folds

def read_gz(path: Path) -> str:
    """Return a gzipped page as text."""
    return gzip.decompress(path.read_bytes()).decode("utf-8", "replace")


def load_bodies(data: Path) -> list[Page]:
    """Return the pages of the extraction benchmark with their true bodies."""
    root = data / "extraction-benchmark"
    truth = json.loads((root / "ground-truth.json").read_text(encoding="utf-8"))
    return [Page("extraction-benchmark", page_id, item["url"],
                 read_gz(root / "html" / f"{page_id}.html.gz"), item["articleBody"])
            for page_id, item in sorted(truth.items())]


def load_dates(data: Path) -> list[Page]:
    """Return the pages of both date sets with their true days."""
    pages = []
    for dataset in DATE_SETS:
        root = data / dataset
        truth = json.loads((root / "truth.json").read_text(encoding="utf-8"))
        pages += [Page(dataset, item["file"], url, read_gz(root / "html" / item["file"]),
                       item["date"]) for url, item in sorted(truth.items())]
    return pages


TITLE_META = re.compile(
    r"""<meta\b[^>]*\b(?:property|name)\s*=\s*["']?(?:og:title|twitter:title|dc\.title|title)"""
    r"""["'\s/>][^>]*>""", re.IGNORECASE)
OG_TITLE = re.compile(r"""<meta\b[^>]*\bproperty\s*=\s*["']?og:title["'\s][^>]*>""", re.IGNORECASE)
CONTENT = re.compile(r"""\bcontent\s*=\s*(?:"([^"]*)"|'([^']*)')""", re.IGNORECASE)


def silver_title(html: str) -> str:
    """The page's declared headline: its JSON-LD article headline, else its og:title ('')."""
    from html import unescape

    from search_service.normalise.encoding import json_ld_blocks
    from search_service.normalise.metadata import ARTICLE_TYPES, _json_ld_nodes, _types

    for node in _json_ld_nodes(json_ld_blocks(html)):
        headline = node.get("headline")
        if {t.lower() for t in _types(node)} & ARTICLE_TYPES and isinstance(headline, str):
            if headline.strip():
                return " ".join(unescape(headline).split())
    match = OG_TITLE.search(html)
    content = CONTENT.search(match.group(0)) if match else None
    return " ".join(unescape(content.group(1) or content.group(2)).split()) if content else ""


def withhold_titles(html: str) -> str:
    """The page without what the silver title was read from: JSON-LD blocks and title metas."""
    from search_service.normalise.encoding import JSON_LD

    return TITLE_META.sub(" ", JSON_LD.sub(" ", html))


def title_pages(pages: list[Page]) -> list[Page]:
    """Every page that declares a headline, with it as the truth and its sources withheld."""
    found = []
    for page in pages:
        truth = silver_title(page.html)
        if truth:
            found.append(replace(page, html=withhold_titles(page.html), truth=truth))
    return found


def same_title(found: str, truth: str, exact: bool) -> bool:
    """Tell whether a title found is the true one: as written (spacing aside), or as words."""
    if exact:
        return " ".join((found or "").split()) == truth
    return TOKEN.findall((found or "").casefold()) == TOKEN.findall(truth.casefold())


def title_exact(outcomes: list[Outcome]) -> float:
    """Share of pages whose title is the true one as written."""
    return mean([1.0 if o.exact else 0.0 for o in outcomes])


def title_words(outcomes: list[Outcome]) -> float:
    """Share of pages whose title has the true one's words (case and punctuation aside)."""
    return mean([1.0 if o.day == "same words" else 0.0 for o in outcomes])


def run_titles(name: str, pages: list[Page], extractor: Callable[[str, str], str]) -> Run:
    """Run one title extractor over every page (`exact`: as written; `day`: 'same words')."""
    warm_up(name, pages, extractor)
    run = Run()
    for page in pages:
        start = time.perf_counter()
        try:
            found = extractor(page.html, page.url)
        except Exception as exc:
            log.warning("%s failed on %s: %r", name, page.name, exc)
            found = ""
        outcome = Outcome(page, time.perf_counter() - start, day=found)
        outcome.exact = same_title(found, page.truth or "", exact=True)
        outcome.day = "same words" if same_title(found, page.truth or "", exact=False) else found
        run.outcomes.append(outcome)
    return run


def assign_folds(pages: list[Page], folds: int) -> None:
    """Put every page in a fold, all pages of a site together, folds balanced by size."""
    sizes = Counter(page.site for page in pages)
    load = [0] * folds
    fold_of = {}
    for site, size in sorted(sizes.items(), key=lambda item: (-item[1], item[0])):
        fold = min(range(folds), key=lambda index: (load[index], index))
        fold_of[site] = fold
        load[fold] += size
    for page in pages:
        page.fold = fold_of[page.site]


# Running

def warm_up(name: str, pages: list[Page], extractor: Callable[[str, str], object]) -> None:
    """Run an extractor once, untimed, so that one-time loading (language models, date
    parsers' locale tables) is not counted as page time: a server pays it once."""
    try:
        extractor(pages[0].html, pages[0].url)
    except Exception as exc:
        log.warning("%s failed warming up: %r", name, exc)
    if name == "ours":  # the warm-up page is counted again when timed
        REJECTED.clear()
        SHORT.clear()


def run_bodies(name: str, pages: list[Page], extractor: Callable[[str, str], str]) -> Run:
    """Run one body extractor over every page, timing the extraction only."""
    warm_up(name, pages, extractor)
    run = Run()
    for page in pages:
        start = time.perf_counter()
        try:
            output = extractor(page.html, page.url)
        except Exception as exc:  # a peer failing on a page scores an empty output
            log.warning("%s failed on %s: %r", name, page.name, exc)
            output = ""
        run.outcomes.append(score_body(Outcome(page, time.perf_counter() - start), output))
    return run


def run_dates(name: str, pages: list[Page],
              extractor: Callable[[str, str], str | None]) -> Run:
    """Run one date extractor over every page."""
    warm_up(name, pages, extractor)
    run = Run()
    for page in pages:
        start = time.perf_counter()
        try:
            found = extractor(page.html, page.url)
        except Exception as exc:
            log.warning("%s failed on %s: %r", name, page.name, exc)
            found = None
        run.outcomes.append(Outcome(page, time.perf_counter() - start,
                                    day=found[:10] if found else None))
    return run


def rule_days(pages: list[Page]) -> dict[str, dict[str, str | None]]:
    """Return each date rule's day for every page, from our normaliser's evidence; the
    `…+always` variants also ask htmldate where our own date was sure (the product does not)."""
    days: dict[str, dict[str, str | None]] = defaultdict(dict)
    for page in pages:
        result = EVIDENCE.get(page.url)
        if result is None or result.evidence is None:
            continue
        evidence = result.evidence
        always = evidence if evidence.consulted else replace(
            evidence, library=library_day(page.html, page.url, datetime.now(timezone.utc)),
            consulted=True)
        for rule in DATE_RULES:
            for variant, chosen in ((rule, evidence), (f"{rule}+always", always)):
                found = decide(chosen, rule)
                days[variant][page.url] = found.day.isoformat() if found else None
    return days


def cross_validate_rule(pages: list[Page], days: dict[str, dict[str, str | None]],
                        folds: int) -> tuple[list[float], list[str]]:
    """For each fold, choose the rule best on the other folds; score it on the fold."""
    def accuracy(rule: str, chosen: list[Page]) -> float:
        return mean([1.0 if days[rule].get(p.url) == p.truth else 0.0 for p in chosen])

    scores, chosen_rules = [], []
    for fold in range(folds):
        train = [p for p in pages if p.fold != fold]
        test = [p for p in pages if p.fold == fold]
        best = max(days, key=lambda rule: accuracy(rule, train))  # first best wins ties
        scores.append(accuracy(best, test))
        chosen_rules.append(best)
    return scores, chosen_rules


# Output

def fold_row(name: str, run: Run | None, measure: Callable[[list[Outcome]], float],
             folds: int) -> str:
    """One table row: the figure on each fold, their mean, the worst, all pages."""
    if run is None:
        return table_row([name, "not installed"] + ["–"] * (folds + 3))
    per_fold = [measure([o for o in run.outcomes if o.page.fold == f]) for f in range(folds)]
    cells = [f"{v:.3f}" for v in per_fold]
    cells += [f"**{mean(per_fold):.3f}**", f"{min(per_fold):.3f}",
              f"{measure(run.outcomes):.3f}", f"{run.pages_per_second():.1f}"]
    return table_row([name, *cells])


def fold_table(title: str, runs: dict[str, Run | None],
               measure: Callable[[list[Outcome]], float], folds: int, pages: list[Page]) -> str:
    """Render one measure for every extractor, fold by fold."""
    sizes = Counter(page.fold for page in pages)
    head = ["extractor", *[f"fold {f + 1} ({sizes[f]})" for f in range(folds)],
            "mean", "worst fold", "all pages", "pages/s (one after another; see --speed)"]
    return "\n".join([f"{title}:", markdown_table(head, []),
                      *[fold_row(name, run, measure, folds) for name, run in runs.items()]])


def speed_table(pages: list[Page], rounds: int) -> str:
    """Pages per second of each body extractor timed page by page in turn (the order rotated
    from page to page), so that a shared machine's changing load falls on all alike; after one
    untimed round over every page (one-time loading, such as the date parser's locale tables
    that htmldate loads on the first page it needs them, is paid once by a server); each timed
    round is a repeat, and the ratio to trafilatura is given for each and as their median."""
    from statistics import median

    names = [name for name in BODY_EXTRACTORS if installed(name)]
    for page in pages:  # the untimed round
        for name in names:
            try:
                BODY_EXTRACTORS[name](page.html, page.url)
            except Exception as exc:
                log.warning("%s failed on %s: %r", name, page.name, exc)
    REJECTED.clear()
    SHORT.clear()
    per_round: list[dict[str, float]] = []
    for _ in range(rounds):
        seconds = dict.fromkeys(names, 0.0)
        for turn, page in enumerate(pages):
            shift = turn % len(names)
            for name in names[shift:] + names[:shift]:
                start = time.perf_counter()
                try:
                    BODY_EXTRACTORS[name](page.html, page.url)
                except Exception as exc:
                    log.warning("%s failed on %s: %r", name, page.name, exc)
                seconds[name] += time.perf_counter() - start
        per_round.append(seconds)
    head = ["extractor", *[f"pages/s round {r + 1}" for r in range(rounds)],
            "time vs trafilatura, each round", "median time ratio", "median pages/s ratio"]
    rows = []
    for name in names:
        rates = [f"{len(pages) / spent[name]:.1f}" for spent in per_round]
        if "trafilatura" in names:
            ratios = [spent[name] / spent["trafilatura"] for spent in per_round]
            cells = [" ".join(f"{r:.2f}" for r in ratios), f"**{median(ratios):.2f}**",
                     f"{1 / median(ratios):.2f}"]
        else:
            cells = ["–", "–", "–"]
        rows.append([name, *rates, *cells])
    return markdown_table(head, rows)


def wire_pages(data: Path, limit: int) -> list[tuple[str, str]]:
    """Return (url, html) for Reuters stories under 400 characters, each on a page as a wire
    site shows it: <article>, <h1>, <time>, dateline, paragraphs, with a nav and a site name."""
    from html import escape

    pages = []
    with gzip.open(data / "reuters21578" / "reuters.jsonl.gz", "rt", encoding="utf-8") as lines:
        for line in lines:
            story = json.loads(line)
            if len(story["body"]) >= 400:
                continue
            paragraphs = "".join(f"<p>{escape(p)}</p>" for p in story["body"].split("\n\n")
                                 if p.strip())
            title = escape(story["title"])
            pages.append((f"https://wire.example/article/{story['id']}", (
                f"<html><head><title>{title} | Wire</title></head><body><nav><a href='/'>Home"
                f"</a></nav><article><h1>{title}</h1><time datetime='{story['date']}'>"
                f"{story['date']}</time><p class='dateline'>{escape(story['dateline'] or '')}"
                f"</p>{paragraphs}</article></body></html>")))
            if len(pages) >= limit:
                break
    return pages


def wire_table(data: Path, limit: int) -> str:
    """What the normaliser does with short wire stories: indexed (flagged short) or why not."""
    verdicts: Counter = Counter()
    short = 0
    for url, html in wire_pages(data, limit):
        result = ours(html, url)
        verdicts[(result.rejected or "indexed").split(" (")[0]] += 1
        short += result.short
    return (markdown_table(["verdict", "stories"], verdicts.most_common())
            + f"\nof which indexed but flagged short (< 200 chars): {short}")


def parse_rate(pages: list[Page]) -> float:
    """Pages per second of BeautifulSoup's own lxml parse: the machine's yardstick."""
    from bs4 import BeautifulSoup

    start = time.perf_counter()
    for page in pages:
        BeautifulSoup(page.html, "lxml")
    return len(pages) / (time.perf_counter() - start)


def parser_table(pages: list[Page]) -> str:
    """The HTML layer's choices side by side, timed page by page in turn: tree builders, and
    the pre-parse steps (stripping included in the time)."""
    from bs4 import BeautifulSoup

    from search_service.normalise.encoding import drop_noise, strip_foreign, strip_noise

    rows: list[tuple[str, str, Callable[[str], str]]] = [
        ("lxml, raw page", "lxml", str),
        ("lxml, scripts, styles, comments stripped", "lxml", drop_noise),
        ("lxml, + foreign content (svg, math) ended as a browser does", "lxml",
         lambda h: strip_foreign(drop_noise(h))),
        ("lxml, + furniture stripped (our strip_noise, what we parse)", "lxml", strip_noise),
        ("html.parser, our strip_noise", "html.parser", strip_noise)]
    if peer_version("html5lib"):
        rows.append(("html5lib (HTML5 rules), our strip_noise", "html5lib", strip_noise))
    seconds = [0.0] * len(rows)
    for number, page in enumerate(pages):
        shift = number % len(rows)
        for index in [*range(shift, len(rows)), *range(shift)]:
            _, builder, prepare = rows[index]
            start = time.perf_counter()
            BeautifulSoup(prepare(page.html), builder)
            seconds[index] += time.perf_counter() - start
    return markdown_table(
        ["BeautifulSoup tree builder, input", "pages/s", "time vs lxml on the raw page"],
        [[label, f"{len(pages) / spent:.1f}", f"{spent / seconds[0]:.2f}"]
         for (label, _, _), spent in zip(rows, seconds, strict=True)])


def by_set(runs: dict[str, Run | None], pages: list[Page]) -> str:
    """Day accuracy of each extractor on each date set apart."""
    rows = []
    for name, run in runs.items():
        if run is None:
            rows.append([name, *["not installed"] * len(DATE_SETS)])
            continue
        rows.append([name, *[f"{day_accuracy([o for o in run.outcomes if o.page.dataset == s]):.3f}"
                             for s in DATE_SETS]])
    return markdown_table(["extractor", *DATE_SETS], rows)


def main(argv: list[str] | None = None) -> None:
    """Run every extractor on the development data and print the fold tables."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--folds", type=int, default=5, help="folds (grouped by site)")
    parser.add_argument("--only", help="run only this extractor (e.g. ours)")
    parser.add_argument("--worst", type=int, default=0, help="list the N worst pages of each")
    parser.add_argument("--speed", type=int, default=0, metavar="ROUNDS",
                        help="only time the body extractors, page by page in turn, ROUNDS "
                             "times over the body pages (no quality figures)")
    parser.add_argument("--wire", type=int, default=0, metavar="N",
                        help="only show the verdicts on N short Reuters stories set as wire pages")
    parser.add_argument("--parsers", action="store_true",
                        help="only time BeautifulSoup's tree builders and the pre-parse steps")
    args = parser.parse_args(argv)
    if args.folds < 2:
        parser.error("--folds must be at least 2")
    logging.basicConfig(level=logging.ERROR)
    warnings.filterwarnings("ignore")
    if args.wire:
        print(f"Reuters stories under 400 characters, as wire pages (first {args.wire}):")
        print(wire_table(args.data, args.wire))
        return
    body_pages, date_pages = load_bodies(args.data), load_dates(args.data)
    if args.speed or args.parsers:  # timing modes: no quality figures
        print(load_average() + " (start)")
        if args.speed:
            print(f"Speed, {args.speed} timed round(s) over the {len(body_pages)} body pages "
                  "after one untimed round, extractors in turn on each page:")
            print(speed_table(body_pages, args.speed))
        if args.parsers:
            print(f"BeautifulSoup over the {len(body_pages)} body pages, in turn on each page:")
            print(parser_table(body_pages))
        print(load_average() + " (end)")
        return
    assign_folds(body_pages + date_pages, args.folds)
    wanted = [name for name in dict.fromkeys([*BODY_EXTRACTORS, *DATE_EXTRACTORS])
              if not args.only or name == args.only]
    missing = [name for name in wanted if not installed(name)]
    bodies = {name: None if name in missing else run_bodies(name, body_pages, fn)
              for name, fn in BODY_EXTRACTORS.items() if name in wanted}
    dates = {name: None if name in missing else run_dates(name, date_pages, fn)
             for name, fn in DATE_EXTRACTORS.items() if name in wanted}
    sites = len({page.site for page in body_pages + date_pages})
    print(f"{len(body_pages)} body pages, {len(date_pages)} date pages, {sites} sites in "
          f"{args.folds} folds grouped by site; one process; BeautifulSoup(html, 'lxml') "
          f"alone: {parse_rate(body_pages):.1f} pages/s here")
    print(load_average() + "; " + ", ".join(
        f"{name} {peer_version(NEEDS[name])}" for name in wanted
        if name in NEEDS and name not in missing))
    if missing:
        print("not installed (pip install -e .[bench]): " + ", ".join(missing))
    print()
    print(fold_table("Body F1 (extraction-benchmark)", bodies, body_f1, args.folds, body_pages))
    if REJECTED or SHORT["short"]:
        print("ours would not index, of the body pages: " + (", ".join(
            f"{count} {reason}" for reason, count in REJECTED.most_common()) or "none")
              + f"; indexed but flagged short: {SHORT['short']}")
    print()
    print(fold_table("Publication day (both date sets)", dates, day_accuracy, args.folds,
                     date_pages))
    print()
    print(by_set(dates, date_pages))
    if args.only in (None, "ours") or args.only.startswith(tuple(TITLE_NEEDS)):
        print_titles(title_pages(body_pages + date_pages), args)
    if "ours" in dates and dates["ours"] is not None:
        print_rules(date_pages, args.folds)
    for name, run in [*bodies.items(), *dates.items()] if args.worst else []:
        if run is None:
            continue
        print(f"\nworst of {name}:")
        wrong = sorted(run.outcomes, key=lambda o: (
            o.f1 if o.page.dataset == "extraction-benchmark" else o.right))
        for outcome in wrong[:args.worst]:
            page = outcome.page
            if page.dataset == "extraction-benchmark":
                print(f"  {outcome.f1:.3f} {page.name} {page.url}")
            elif not outcome.right:
                print(f"  got {outcome.day} want {page.truth} {page.name} {page.url}")


def print_titles(pages: list[Page], args: argparse.Namespace) -> None:
    """Run the title extractors on the silver titles and print both title tables."""
    runs: dict[str, Run | None] = {}
    for name, extractor in TITLE_EXTRACTORS.items():
        if args.only and not name.startswith(args.only):
            continue
        need = next((dist for prefix, dist in TITLE_NEEDS.items() if name.startswith(prefix)),
                    None)
        runs[name] = None if need and missing_peers([need]) else run_titles(
            name, pages, extractor)
    print(f"\nTitles: {len(pages)} pages declaring a headline (silver gold: the JSON-LD "
          "headline, else og:title; both withheld from every extractor)")
    print(fold_table("Title, exact (as written, spacing aside)", runs, title_exact, args.folds,
                     pages))
    print(fold_table("Title, normalised (same words, case and punctuation aside)", runs,
                     title_words, args.folds, pages))
    run = runs.get("ours")
    for outcome in ([o for o in run.outcomes if o.day != "same words"][:args.worst]
                    if run and args.worst else []):
        print(f"  got {outcome.day!r} want {outcome.page.truth!r} {outcome.page.url}")


def print_rules(pages: list[Page], folds: int) -> None:
    """Print every date rule fold by fold, then the rule chosen on the other folds."""
    days = rule_days(pages)
    print(f"\nDate rules (product: {DATE_RULE}; '+always' asks htmldate on every page):")
    head = ["rule", *[f"fold {f + 1}" for f in range(folds)], "mean", "worst fold"]
    rows = []
    for rule, found in days.items():
        per_fold = [mean([1.0 if found.get(p.url) == p.truth else 0.0
                          for p in pages if p.fold == f]) for f in range(folds)]
        rows.append((rule, per_fold))
    scores, chosen = cross_validate_rule(pages, days, folds)
    rows.append(("chosen on the other folds", scores))
    print(markdown_table(head, [[rule, *[f"{v:.3f}" for v in values], f"{mean(values):.3f}",
                                 f"{min(values):.3f}"] for rule, values in rows]))
    print("rule chosen for each fold: " + ", ".join(chosen))
    consulted = sum(1 for r in EVIDENCE.values() if r.evidence and r.evidence.consulted)
    print(f"htmldate consulted by ours on {consulted} of {len(EVIDENCE)} date pages")


if __name__ == "__main__":
    main()
