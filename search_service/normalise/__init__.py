"""HTML → Article: metadata first, then the main text, then the dates (with where each came
from), then a verdict on whether to index it (by what the page is, not by its length)."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from urllib.parse import urlsplit

from bs4 import BeautifulSoup

from search_service.article import Article
from search_service.normalise.dates import (
    EARLIEST_LOOSE,
    DateEvidence,
    FoundDate,
    candidates_of,
    date_in_url,
    date_only_days,
    day_in_text,
    decide,
    library_day,
    parse_local,
    pick,
    plausible,
    relative_date,
    same_instant_local_day,
    shown_day,
    stamps_in_markup,
)
from search_service.normalise.encoding import (
    clean_text,
    cut_to_size,
    decode_html,
    json_ld_blocks,
    strip_noise,
    with_json_ld,
)
from search_service.normalise.kinds import MIN_BODY_CHARS, PageSigns, rejection
from search_service.normalise.language import check_language
from search_service.normalise.metadata import Metadata, read_metadata
from search_service.normalise.text import PageText, read_text
from search_service.normalise.titles import choose_title
from search_service.urls import declared_canonical, site_of

__all__ = ["Extraction", "normalise", "MIN_BODY_CHARS"]

log = logging.getLogger(__name__)

SUMMARY_CHARS = 300


@dataclass(frozen=True)
class Extraction:
    """What the normaliser made of one page, and why it would not index it (if so).

    `published` and `modified` keep each date as the page states it (its own UTC offset) and
    where it came from (`jsonld`, `meta`, `time`, `url`, `text`, `sitemap`, `htmldate`); the
    Article holds them in UTC. `evidence` is what the publication date was chosen from; `short`
    flags an article indexed although its text is short (a wire brief).
    """

    article: Article
    rejected: str | None = None
    published: FoundDate | None = None
    modified: FoundDate | None = None
    evidence: DateEvidence | None = None
    short: bool = False


def normalise(
    html: bytes | str, url: str = "", fetched_at: datetime | None = None,
    http_charset: str | None = None, date_hint: datetime | None = None,
) -> Extraction:
    """Turn one page's HTML into an Article and a verdict (None, or the reason to reject).

    `date_hint`: a publication date known from elsewhere (a news sitemap), used only when
    the page states none (its source is then `sitemap`)."""
    fetched_at = fetched_at or datetime.now(timezone.utc)
    if fetched_at.tzinfo is None:
        fetched_at = fetched_at.replace(tzinfo=timezone.utc)
    try:
        return _normalise(html, url, fetched_at, http_charset, date_hint)
    except Exception as exc:  # the contract: any page gives an Extraction, never an exception
        log.warning("normaliser gave up on %s: %r", url, exc)
        article = Article(url=url, canonical_url=url, title="", body="", fetched_at=fetched_at)
        return Extraction(article=article, rejected=f"unreadable page ({type(exc).__name__})")


def _normalise(html: bytes | str, url: str, fetched_at: datetime,
               http_charset: str | None, date_hint: datetime | None = None) -> Extraction:
    """Do the work of `normalise` on a page that may be anything."""
    text = decode_html(html, http_charset)
    markup, json_ld = strip_noise(text), json_ld_blocks(text)
    soup = BeautifulSoup(markup, "lxml", multi_valued_attributes=None)
    meta = read_metadata(soup, json_ld)
    title = choose_title(meta.titles, meta.h1, meta.html_title, meta.site_name, url,
                         meta.h1s)
    page = read_text(soup, title)
    body = page.body
    if len(body) < MIN_BODY_CHARS and _complete(meta.article_body):
        body = "\n\n".join(clean_text(p) for p in meta.article_body.split("\n") if p.strip())
    canonical = declared_canonical(meta.canonical_url, url)
    if _scheme(url) == "file" and _scheme(canonical) != "file":
        url = canonical  # a saved page: its own URL is where it was published
    published, modified = choose_dates(meta, page, canonical or url, fetched_at, text)
    if published is None and date_hint is not None:
        published = FoundDate(date_hint, "sitemap")
    evidence = DateEvidence(published, candidates_of(
        meta.published, date_in_url(canonical or url, fetched_at), fetched_at))
    if evidence.unsure:
        evidence = replace(evidence, consulted=True, library=library_day(
            with_json_ld(markup, json_ld), canonical or url, fetched_at, raw=cut_to_size(text)))
    published = decide(evidence)
    if published and modified and modified.value < published.value:
        modified = None  # an update cannot precede publication
    article = Article(
        url=url or canonical,
        canonical_url=canonical or url,
        title=title,
        body=body,
        published=published.utc if published else None,
        published_source=published.source if published else "",
        modified=modified.utc if modified else None,
        authors=tuple(meta.authors),
        source=clean_text(meta.site_name) or site_of(canonical or url),
        language=check_language(meta.language, body),
        summary=make_summary(clean_text(meta.description), body),
        fetched_at=fetched_at,
    )
    signs = PageSigns(headline_links=page.headline_links, images=meta.images,
                      paywall_marks=page.paywall_marks,
                      accessible_for_free=meta.accessible_for_free, page_type=meta.page_type,
                      url_path=_path(canonical or url),
                      declared_article=declares_article(meta, published, evidence))
    rejected = rejection(article, signs)
    short = rejected is None and len(body) < MIN_BODY_CHARS
    return Extraction(article, rejected, published, modified, evidence, short)


#: Date sources that the page's own markup states (not guessed from loose text).
STATED_SOURCES = frozenset({"jsonld", "meta", "time", "url", "sitemap"})


def declares_article(meta: Metadata, published: FoundDate | None,
                     evidence: DateEvidence | None = None) -> bool:
    """Tell whether the page says it is an article: an article type in JSON-LD or og:type, or
    an <article> or <h1> with a publication date its markup states (a date line beside the
    headline that was preferred to the markup's date still counts the markup's)."""
    stated = published is not None and (published.source in STATED_SOURCES or bool(
        evidence and evidence.beside_headline))
    return meta.is_article or (stated and (meta.article_element or bool(meta.h1)))


def _complete(article_body: str) -> bool:
    """Tell whether a JSON-LD articleBody looks like the whole story, not a teaser."""
    text = article_body.strip()
    return len(text) >= MIN_BODY_CHARS and not text.endswith(("…", "...", "[…]"))


def choose_dates(meta: Metadata, page: PageText, url: str, fetched_at: datetime,
                 html: str = "") -> tuple[FoundDate | None, FoundDate | None]:
    """Pick the publication and modification dates, each with where it came from."""
    modified = pick(meta.modified, fetched_at)
    published = pick(meta.published, fetched_at)
    url_day = date_in_url(url, fetched_at)
    if url_day and (published is None or published.day > url_day.date()):
        published = FoundDate(url_day, "url")  # a later structured date is a build/update time
    elif published:  # a UTC timestamp near midnight: the page may show another local day
        local_day = shown_day(published, [*meta.date_texts, *page.near_title],
                              date_only_days(meta.published, fetched_at), fetched_at)
        if local_day:
            published = FoundDate(published.value, published.source, local_day)
        local_day = same_instant_local_day(published, meta.published, fetched_at)
        if local_day:
            published = FoundDate(published.value, published.source, local_day)
    if published is not None and published.source in STATED_SOURCES:
        shown = headline_date(page.near_title, fetched_at)
        if shown is not None and shown.day > published.day:
            published = shown  # the day beside the headline, after a creation/draft time
    if published is None:
        published = (
            _date_from_text(meta.date_texts, fetched_at)
            or pick([("time", meta.first_time)], fetched_at)
            or _date_from_text(list(page.near_title), fetched_at)
            or _date_from_text(list(page.dated_texts), fetched_at)
            or _date_from_text(stamps_in_markup(html), fetched_at)  # e.g. written by a script
        )
    if published and modified and modified.value < published.value:
        modified = None  # an update cannot precede publication
    return published, modified


#: A date line beside the headline is at most this long ("Mittwoch, 26.01.2022 - 14:30"):
#: a longer text is a sentence that mentions a date (an event, a quotation).
DATE_LINE_CHARS = 40
#: Words saying that a date is an update, not the publication.
UPDATE_WORDS = re.compile(r"\b(?:updated?|aktualisiert|actualizado|actualisé|mis à jour|"
                          r"mise à jour|aggiornato|bijgewerkt|geändert|stand|last modified)\b",
                          re.IGNORECASE)


def headline_date(near_title: tuple[str, ...], fetched_at: datetime) -> FoundDate | None:
    """Return the date of the first dated text beside the headline when that text is a short
    date line that does not announce an update (an absolute date: no '3 hours ago')."""
    for text in near_title:
        value = parse_local(text, fetched_at, EARLIEST_LOOSE) or day_in_text(text or "")
        if value is None or not plausible(value, fetched_at, EARLIEST_LOOSE):
            continue
        if len(text) > DATE_LINE_CHARS or UPDATE_WORDS.search(text):
            return None
        return FoundDate(value, "text")
    return None


def _date_from_text(texts: list[str], fetched_at: datetime) -> FoundDate | None:
    """Find a publication date in date-like texts: the first absolute one, else a relative one."""
    for text in texts:
        value = parse_local(text, fetched_at, earliest=EARLIEST_LOOSE) or day_in_text(text or "")
        if value is not None and plausible(value, fetched_at, EARLIEST_LOOSE):
            return FoundDate(value, "text")
    for text in texts:
        value = relative_date(text or "", fetched_at)
        if value is not None:
            return FoundDate(value, "text")
    return None


def _scheme(url: str) -> str:
    """Return the scheme of `url` ('' if it cannot be split)."""
    try:
        return urlsplit(url).scheme
    except ValueError:
        return ""


def _path(url: str) -> str:
    """Return the path of `url` ('' if it cannot be split)."""
    try:
        return urlsplit(url).path
    except ValueError:
        return ""


def make_summary(description: str, body: str) -> str:
    """Return the page's description, or the body's opening cut at a word boundary."""
    text = description or body.split("\n\n", 1)[0]
    if len(text) <= SUMMARY_CHARS:
        return text
    return text[:SUMMARY_CHARS].rsplit(" ", 1)[0] + "…"
