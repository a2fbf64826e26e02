"""Date strings from pages → timezone-aware datetimes, with sanity bounds."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from dateutil import parser as dateparser

#: The earliest publication date we believe.
EARLIEST = datetime(1900, 1, 1, tzinfo=timezone.utc)
#: Clock skew we tolerate between a page's date and the fetch time.
SKEW = timedelta(days=1)


def parse_date(text: str | None, not_after: datetime | None = None) -> datetime | None:
    """Parse a date string to an aware UTC datetime; None if unparseable or implausible."""
    if not text or not isinstance(text, str):
        return None
    text = text.strip()
    if not text or len(text) > 64:
        return None
    try:
        value = dateparser.isoparse(text)
    except (ValueError, OverflowError):
        try:
            value = dateparser.parse(text)
        except (ValueError, OverflowError, TypeError):
            return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    value = value.astimezone(timezone.utc)
    limit = (not_after or datetime.now(timezone.utc)) + SKEW
    if value < EARLIEST or value > limit:
        return None
    return value
