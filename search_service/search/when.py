"""Date expressions in filters → datetimes: ISO dates, partial dates, and relative phrases."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

from dateutil import parser as dateparser
from dateutil.relativedelta import relativedelta

UNITS = {"hour": timedelta(hours=1), "day": timedelta(days=1), "week": timedelta(weeks=1),
         "month": timedelta(days=30), "year": timedelta(days=365)}
RELATIVE = re.compile(r"^(?:last|past)\s+(?:(\d{1,4})\s+)?(hour|day|week|month|year)s?$")
HELP = "use e.g. 2023-07-15, 2023-07, 2023, 'yesterday', 'last week' or 'past 24 hours'"


class DateError(ValueError):
    """A date filter cannot be read."""


def parse_when(text: str, now: datetime, end: bool = False) -> datetime:
    """Read a date filter as an aware UTC datetime.

    A partial date means its whole period: as a start ('from') its first instant, as an end
    ('to') its last. Relative phrases ('last week', 'past 24 hours') count back from `now`.
    """
    raw = " ".join(text.strip().lower().split())
    if raw in ("now", "today"):
        day = now.replace(hour=0, minute=0, second=0, microsecond=0)
        return (day + timedelta(days=1) - timedelta(microseconds=1)) if end else day
    if raw == "yesterday":
        day = now.replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=1)
        return (day + timedelta(days=1) - timedelta(microseconds=1)) if end else day
    match = RELATIVE.match(raw)
    if match:
        return now - int(match.group(1) or 1) * UNITS[match.group(2)]
    return _absolute(raw, end, text)


def _absolute(raw: str, end: bool, original: str) -> datetime:
    """Read an ISO date or partial date (YYYY, YYYY-MM, YYYY-MM-DD, or a full timestamp)."""
    periods = {r"^\d{4}$": relativedelta(years=1), r"^\d{4}-\d{2}$": relativedelta(months=1),
               r"^\d{4}-\d{2}-\d{2}$": relativedelta(days=1)}
    for pattern, period in periods.items():
        if re.match(pattern, raw):
            try:
                start = datetime.strptime(raw + "-01-01"[len(raw) - 4:], "%Y-%m-%d")
            except ValueError:
                raise DateError(f"cannot read date {original!r}: {HELP}") from None
            start = start.replace(tzinfo=timezone.utc)
            return start + period - timedelta(microseconds=1) if end else start
    try:
        value = dateparser.isoparse(raw.upper())
    except (ValueError, OverflowError):
        raise DateError(f"cannot read date {original!r}: {HELP}") from None
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
