"""Dates of a page: parse absolute and relative forms, check them, and pick published/modified."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone, tzinfo
from itertools import islice

from dateutil import parser as dateparser
from dateutil.tz import gettz

log = logging.getLogger(__name__)

#: The earliest publication date we believe from structured metadata.
EARLIEST = datetime(1900, 1, 1, tzinfo=timezone.utc)
#: The earliest date we believe from the URL or the visible text.
EARLIEST_LOOSE = datetime(1990, 1, 1, tzinfo=timezone.utc)
#: Clock skew tolerated between a page's date and the fetch time: none, a publication date is
#: never after the fetch (a date-only value reads as midnight UTC).
SKEW = timedelta(0)
#: How our own date and htmldate's are combined (see `decide`); chosen by the grouped
#: cross-validation of benchmarks/extraction.py (docs/normaliser.md).
DATE_RULES = ("own", "fill", "supported", "library")
DATE_RULE = "supported"

MONTHS = {
    # English, German, French, Spanish, Portuguese, Italian, Dutch (full and short forms).
    1: "january jan januar janvier enero ene janeiro gennaio gen januari jänner",
    2: "february feb februar février fevrier febrero fevereiro fev febbraio februari",
    3: "march mar märz maerz mars marzo março marco maart mrt",
    4: "april apr avril abril aprile",
    5: "may mai mayo maio maggio mag mei",
    6: "june jun juni juin junio junho giugno",
    7: "july jul juli juillet julio julho luglio lug",
    8: "august aug août aout agosto ago augustus",
    9: "september sep sept septembre septiembre setiembre setembro settembre set",
    10: "october oct oktober octobre octubre outubro ottobre ott okt",
    11: "november nov novembre noviembre novembro",
    12: "december dec dezember décembre decembre diciembre dic dezembro dez dicembre",
}
#: Further languages, one list per month: Russian and Polish (genitive), Turkish, Indonesian,
#: Arabic (Egyptian and Levantine series).
MORE_MONTHS = {
    1: ["января", "stycznia", "ocak", "يناير", "كانون الثاني"],
    2: ["февраля", "lutego", "şubat", "februari", "فبراير", "شباط"],
    3: ["марта", "marca", "mart", "maret", "مارس", "آذار"],
    4: ["апреля", "kwietnia", "nisan", "أبريل", "ابريل", "نيسان"],
    5: ["мая", "maja", "mayıs", "mei", "مايو", "أيار"],
    6: ["июня", "czerwca", "haziran", "juni", "يونيو", "حزيران"],
    7: ["июля", "lipca", "temmuz", "juli", "يوليو", "تموز"],
    8: ["августа", "sierpnia", "ağustos", "agustus", "أغسطس", "آب"],
    9: ["сентября", "września", "eylül", "september", "سبتمبر", "أيلول"],
    10: ["октября", "października", "ekim", "oktober", "أكتوبر", "تشرين الأول"],
    11: ["ноября", "listopada", "kasım", "november", "نوفمبر", "تشرين الثاني"],
    12: ["декабря", "grudnia", "aralık", "desember", "ديسمبر", "كانون الأول"],
}
MONTH_NAMES = {name: number for number, names in MONTHS.items() for name in names.split()}
MONTH_NAMES.update({name: number for number, names in MORE_MONTHS.items() for name in names})
_MONTH = "|".join(sorted(MONTH_NAMES, key=len, reverse=True))
DIGITS = str.maketrans("٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹０１２３４５６７８９", "0123456789" * 3)
ISO_DAY = re.compile(r"(?<!\d)((?:19|20)\d\d)[-/.](\d{1,2})[-/.](\d{1,2})(?!\d)")
CJK_DAY = re.compile(r"((?:19|20)\d\d)\s*[年년]\s*(\d{1,2})\s*[月월]\s*(\d{1,2})\s*[日일]?")
DMY_DAY = re.compile(r"(?<![\d.])(\d{1,2})[./-](\d{1,2})[./-]((?:19|20)\d\d)(?!\d)")
NAMED_DMY = re.compile(
    rf"(?<!\d)(\d{{1,2}})(?:st|nd|rd|th|er|º|\.)?\s*(?:de\s+)?({_MONTH})\.?"
    rf"(?:\s*/\s*(?:{_MONTH}))?,?\s*(?:de\s+)?"
    r"((?:19|20)\d\d)(?!\d)", re.IGNORECASE)
NAMED_MDY = re.compile(
    rf"\b({_MONTH})\.?\s+(\d{{1,2}})(?:st|nd|rd|th)?,?\s+((?:19|20)\d\d)(?!\d)", re.IGNORECASE)
#: A day with a two-digit year, dotted (30.10.23), as German and Swiss sites write it; the
#: month in two digits (a version number such as 1.2.34 is not a day).
SHORT_DMY = re.compile(r"(?<![\d.])(\d{1,2})\.(0[1-9]|1[0-2])\.(\d\d)(?![\d.])")
DOTTED_DMY = re.compile(r"(?<!\d)\d{1,2}\.\d{1,2}\.(?:19|20)\d\d")
STAMP = re.compile(r"(?<!\d)(?:19|20)\d\d[-/.](?:0[1-9]|1[0-2])[-/.](?:0[1-9]|[12]\d|3[01])"
                   r"[ T]\d\d:\d\d(?::\d\d)?(?!\d)")
CLOCK = re.compile(r"\d{1,2}:\d\d")
YEAR = re.compile(r"(?<!\d)(?:19|20)\d\d(?!\d)")
URL_DAY = re.compile(r"/((?:19|20)\d\d)[/-]?(0[1-9]|1[0-2])[/-]?(0[1-9]|[12]\d|3[01])(?:/|[-_]|$)")
#: A day in a URL path written without leading zeros, each part its own segment (/2017/7/12/).
URL_DAY_SHORT = re.compile(r"/((?:19|20)\d\d)/(0?[1-9]|1[0-2])/(0?[1-9]|[12]\d|3[01])(?:/|$)")
RELATIVE = re.compile(
    r"(?:(?P<ago_pre>vor|il y a|hace|há|fa)\s+(?P<n1>\d+|an?|one|un|une|ein|eine|einem|einer)\s+"
    r"(?P<unit1>\w+))|(?:(?P<n2>\d+|an?|one)\s+(?P<unit2>\w+)\s+(?:ago|fa|geleden|atrás))",
    re.IGNORECASE)
UNITS = {
    "minute": 60, "min": 60, "minuten": 60, "minutes": 60, "minuto": 60, "minutos": 60,
    "minuti": 60, "mins": 60, "hour": 3600, "hours": 3600, "stunde": 3600, "stunden": 3600,
    "heure": 3600, "heures": 3600, "hora": 3600, "horas": 3600, "ora": 3600, "ore": 3600,
    "uur": 3600, "hrs": 3600, "day": 86400, "days": 86400, "tag": 86400, "tagen": 86400,
    "jour": 86400, "jours": 86400, "día": 86400, "días": 86400, "dia": 86400, "dias": 86400,
    "giorno": 86400, "giorni": 86400, "dag": 86400, "dagen": 86400,
}
TZINFOS = {name: gettz(zone) for name, zone in {
    "EST": "America/New_York", "EDT": "America/New_York", "CST": "America/Chicago",
    "CDT": "America/Chicago", "MST": "America/Denver", "MDT": "America/Denver",
    "PST": "America/Los_Angeles", "PDT": "America/Los_Angeles", "BST": "Europe/London",
    "CET": "Europe/Paris", "CEST": "Europe/Paris", "IST": "Asia/Kolkata",
    "JST": "Asia/Tokyo", "KST": "Asia/Seoul", "AEST": "Australia/Sydney",
}.items()}


@dataclass(frozen=True)
class FoundDate:
    """A date as the page states it (its own UTC offset kept), where it came from (a key of
    `article.DATE_SOURCES`), and the calendar day the page shows for it (which a UTC
    timestamp alone can get wrong)."""

    value: datetime
    source: str
    shown_day: date | None = None

    @property
    def day(self) -> date:
        """The calendar day of publication as readers of the page see it."""
        return self.shown_day or self.value.date()

    @property
    def utc(self) -> datetime:
        """The date in UTC, as stored on the Article."""
        return self.value.astimezone(timezone.utc)


def parse_date(text: str | None, not_after: datetime | None = None) -> datetime | None:
    """Parse a date string to an aware UTC datetime; None if unparseable or implausible."""
    value = parse_local(text, not_after)
    return value.astimezone(timezone.utc) if value else None


def parse_local(text: str | None, not_after: datetime | None = None,
                earliest: datetime = EARLIEST) -> datetime | None:
    """Parse a date string to an aware datetime in its own offset (UTC if it names none)."""
    if not text or not isinstance(text, str):
        return None
    text = text.strip().translate(DIGITS)
    if not text or len(text) > 64:
        return None
    try:
        value = dateparser.isoparse(text)
    except (ValueError, OverflowError):
        value = _parse_loose(text)
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value if plausible(value, not_after, earliest) else None


def _parse_loose(text: str) -> datetime | None:
    """Parse a free-form date: dateutil when it has a year and a time of day, else day patterns."""
    day = day_in_text(text)
    if YEAR.search(text) and CLOCK.search(text):
        try:
            dotted = DOTTED_DMY.search(text) is not None
            value = dateparser.parse(text, tzinfos=_zone, dayfirst=dotted, fuzzy=True)
        except (ValueError, OverflowError, TypeError, dateparser.ParserError):
            value = None
        # dateutil reads English month names only ("01. Februar 2022 12:10" came out as
        # 2 January) and takes a stray number for the year: where a month is named and our
        # day patterns read another day, ours is the day written
        named = NAMED_DMY.search(text) or NAMED_MDY.search(text) or CJK_DAY.search(text)
        if value is not None and not (named and day and value.date() != day.date()):
            return value
    return day


def _zone(name: str | None, offset: int | None) -> tzinfo | None:
    """Resolve a zone name or offset found by dateutil (unknown names: none, read as UTC)."""
    if name and name.upper() in TZINFOS:
        return TZINFOS[name.upper()]
    if offset is not None:
        return timezone(timedelta(seconds=offset))
    return timezone.utc if name and name.upper() in ("Z", "UTC", "GMT") else None


def plausible(value: datetime, not_after: datetime | None,
              earliest: datetime = EARLIEST) -> bool:
    """Tell whether a date can be a publication date: not too old, not after the fetch."""
    limit = (not_after or datetime.now(timezone.utc)) + SKEW
    try:
        return earliest <= value <= limit
    except TypeError:
        return False


def day_in_text(text: str) -> datetime | None:
    """Return the first calendar day written in `text` (numeric, CJK or with a month name)."""
    text = text.translate(DIGITS)
    found: list[tuple[int, datetime]] = []
    for pattern, order in ((ISO_DAY, "ymd"), (CJK_DAY, "ymd"), (NAMED_DMY, "dmy"),
                           (NAMED_MDY, "mdy"), (DMY_DAY, "dmy")):
        match = pattern.search(text)
        if match:
            day = _make_day(match.groups(), order)
            if day:
                found.append((match.start(), day))
    if not found:
        match = SHORT_DMY.search(text)
        day = _make_day((*match.groups()[:2], "20" + match.group(3)), "dmy") if match else None
        if day:
            found.append((match.start(), day))
    return min(found, key=lambda pair: pair[0])[1] if found else None


def _make_day(groups: tuple[str, ...], order: str) -> datetime | None:
    """Build a UTC midnight from three matched parts in `order` ('ymd', 'dmy' or 'mdy')."""
    parts = dict(zip(order, groups, strict=True))
    month = parts["m"]
    number = MONTH_NAMES.get(month.lower().rstrip(".")) if not month.isdigit() else int(month)
    try:
        return datetime(int(parts["y"]), number or 0, int(parts["d"]), tzinfo=timezone.utc)
    except ValueError:
        return None


def relative_date(text: str, fetched_at: datetime) -> datetime | None:
    """Resolve '3 hours ago', 'vor 2 Stunden', 'il y a 3 jours' against the fetch time."""
    match = RELATIVE.search(text.translate(DIGITS))
    if not match:
        return None
    count = match.group("n1") or match.group("n2") or ""
    unit = (match.group("unit1") or match.group("unit2") or "").lower()
    seconds = UNITS.get(unit) or UNITS.get(unit.rstrip("s"))
    if not seconds:
        return None
    number = int(count) if count.isdigit() else 1
    return fetched_at - timedelta(seconds=seconds * number)


def date_in_url(url: str, not_after: datetime | None) -> datetime | None:
    """Return the day written in a URL path (/2020/04/13/ or /20200413), if plausible."""
    match = URL_DAY.search(url or "") or URL_DAY_SHORT.search(url or "")
    if not match:
        return None
    day = _make_day(match.groups(), "ymd")
    return day if day and plausible(day, not_after, EARLIEST_LOOSE) else None


def shown_day(stamp: FoundDate, texts: list[str], days: list[date],
              not_after: datetime) -> date | None:
    """Return the local day a page shows for a UTC timestamp near midnight: a text with the
    same clock minutes a whole number of quarter hours (at most 14 h) away on a neighbouring
    day, or a date-only candidate for the neighbouring day on the side the clock leans to."""
    value = stamp.value.replace(second=0, microsecond=0)
    if value.utcoffset() != timedelta(0):
        return None
    for day in days:
        step = (day - value.date()).days
        if (step == 1 and value.hour >= 12) or (step == -1 and value.hour < 12):
            return day
    for text in texts:
        if not CLOCK.search(text or ""):
            continue
        local = parse_local(text, not_after + timedelta(days=1), EARLIEST_LOOSE)
        if local is None or local.minute != value.minute:
            continue
        shift = local.replace(tzinfo=None, second=0) - value.replace(tzinfo=None)
        if abs(shift) <= timedelta(hours=14) and shift % timedelta(minutes=15) == timedelta(0):
            if abs((local.date() - value.date()).days) == 1:
                return local.date()
    return None


def date_only_days(candidates: list[tuple[str, str]], not_after: datetime) -> list[date]:
    """Return the days of candidates written without a time of day."""
    days = []
    for _, raw in candidates:
        if raw and not CLOCK.search(raw) and not re.search(r"T\d", raw):
            value = parse_local(raw, not_after)
            if value is not None:
                days.append(value.date())
    return days


def stamps_in_markup(html: str, limit: int = 5) -> list[str]:
    """Return the first full date-and-time stamps written anywhere in the markup (scripts too)."""
    return [match.group(0) for match in islice(STAMP.finditer(html), limit)]


def pick(candidates: list[tuple[str, str]], not_after: datetime) -> FoundDate | None:
    """Return the earliest plausible date among structured candidates (source, raw value)."""
    found = []
    for source, raw in candidates:
        earliest = EARLIEST if source in ("jsonld", "meta", "time") else EARLIEST_LOOSE
        value = parse_local(raw, not_after, earliest)
        if value is not None:
            found.append(FoundDate(value, source))
    return min(found, key=lambda item: item.value) if found else None


def same_instant_local_day(stamp: FoundDate, candidates: list[tuple[str, str]],
                           not_after: datetime) -> date | None:
    """Return the local day of another candidate naming the same instant with a UTC offset
    (a page giving 22:04Z in JSON-LD and 00:04+02:00 in a meta tag shows the later day)."""
    if stamp.value.utcoffset() != timedelta(0):
        return None
    for source, raw in candidates:
        earliest = EARLIEST if source in ("jsonld", "meta", "time") else EARLIEST_LOOSE
        value = parse_local(raw, not_after + timedelta(days=1), earliest)
        if value is not None and value.utcoffset() and value == stamp.value:
            return value.date()
    return None


#: A start tag with this many attributes is not handed to htmldate: building an lxml tree is
#: quadratic in a tag's attributes (20,000 attributes: 1.5 s; 50,000: about 45 s).
MANY_ATTRIBUTES = re.compile(r"<[a-zA-Z](?:[^<>=]*=){1000}")


@dataclass(frozen=True)
class DateEvidence:
    """What decides the publication date: our own pick, every plausible candidate the page
    states (structured and URL), and htmldate's day (None when it was not asked or found none)."""

    own: FoundDate | None
    candidates: tuple[FoundDate, ...] = ()
    library: date | None = None
    consulted: bool = False

    @property
    def beside_headline(self) -> bool:
        """Tell whether our own pick is a date line beside the headline that the page shows
        after its stated candidates' days: loose text is our pick only when the page states no
        candidate, unless such a line was chosen over them (see `headline_date`)."""
        return self.own is not None and self.own.source == "text" and bool(self.candidates)

    @property
    def unsure(self) -> bool:
        """Tell whether our own pick needs a second opinion: none, from loose text, or the
        page's candidates disagree on the day (a date line beside the headline is sure)."""
        if self.beside_headline:
            return False
        if self.own is None or self.own.source == "text":
            return True
        return any(c.day != self.own.day and c.value != self.own.value
                   for c in self.candidates)


def candidates_of(published: list[tuple[str, str]], url_day: datetime | None,
                  not_after: datetime) -> tuple[FoundDate, ...]:
    """Return every plausible publication candidate, structured ones first, then the URL's."""
    found = []
    for source, raw in published:
        earliest = EARLIEST if source in ("jsonld", "meta", "time") else EARLIEST_LOOSE
        value = parse_local(raw, not_after, earliest)
        if value is not None:
            found.append(FoundDate(value, source))
    if url_day is not None:
        found.append(FoundDate(url_day, "url"))
    return tuple(found)


def library_day(html: str, url: str, not_after: datetime, raw: str = "") -> date | None:
    """Ask htmldate for the page's original publication day (None if it finds none); when it
    finds none in `html` (the markup we parse), ask again on the `raw` page if given (a date
    our noise stripping removed: a comment, a script)."""
    found = _ask_library(html, url, not_after)
    if found is None and raw and raw != html:
        found = _ask_library(raw, url, not_after)
    return found


def _ask_library(html: str, url: str, not_after: datetime) -> date | None:
    """Ask htmldate once, on `html`."""
    if not html.strip() or MANY_ATTRIBUTES.search(html):
        return None  # nothing to read, or a tag lxml's tree builds too slowly
    from htmldate import find_date  # imported on first use: most pages never need it

    try:
        found = find_date(html, url=url or None, original_date=True, extensive_search=True,
                          max_date=not_after.strftime("%Y-%m-%d"))
    except Exception as exc:  # a library failure costs the second opinion, not the page
        log.debug("htmldate failed on %s: %r", url, exc)
        return None
    try:
        return date.fromisoformat(found[:10]) if found else None
    except ValueError:
        return None


def year_only(day: date) -> bool:
    """Tell whether a day from htmldate may stand for a year alone: it gives 1 January when it
    finds only a year (a copyright line, a year in a path)."""
    return day.month == 1 and day.day == 1


def decide(evidence: DateEvidence, rule: str = DATE_RULE) -> FoundDate | None:
    """Combine our own date and htmldate's by `rule`:

    - `own`: ours alone; `fill`: ours, else htmldate's;
    - `supported`: on disagreement, htmldate's day when one of the page's own candidates
      states it (that candidate, with its source), else ours; htmldate's when we have none;
    - `library`: on disagreement, htmldate's day (from a supporting candidate if any).
    """
    own, day = evidence.own, evidence.library
    if rule == "own" or day is None or (own is not None and own.day == day):
        return own
    backing = next((c for c in evidence.candidates
                    if c.day == day and (own is None or c.value != own.value)), None)
    if year_only(day):  # htmldate's stand-in for a year alone: not a day to take unsupported
        return backing or own
    alone = FoundDate(datetime(day.year, day.month, day.day, tzinfo=timezone.utc), "htmldate")
    if own is None:
        return backing or alone
    if rule == "fill":
        return own
    if rule == "supported":
        return backing or own
    return backing or alone
