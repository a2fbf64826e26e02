"""How values are shown on the pages: relative dates ("3 days ago") and safe link targets."""

from __future__ import annotations

from datetime import datetime, timezone
from urllib.parse import urlsplit

#: (seconds in the unit, its name), largest first; days count up to a month, months to a year.
UNITS = [(365 * 86400, "year"), (30 * 86400, "month"), (86400, "day"), (3600, "hour"),
         (60, "minute")]


def parse_moment(value: str | datetime) -> datetime:
    """Read an ISO 8601 string (or take a datetime); a naive moment is taken as UTC."""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def relative_time(value: str | datetime, now: datetime) -> str:
    """Say how long before (or after) `now` the moment `value` is: "3 days ago", "in 2 hours",
    "just now" (under a minute either way). Counts are whole units, rounded down."""
    seconds = (parse_moment(now) - parse_moment(value)).total_seconds()
    span = abs(seconds)
    for size, name in UNITS:
        if span >= size:
            count = int(span // size)
            amount = f"{count} {name}{'' if count == 1 else 's'}"
            return f"{amount} ago" if seconds > 0 else f"in {amount}"
    return "just now"


def web_url(url: str | None) -> str | None:
    """Return `url` if it is an http(s) address (safe as a link target), else None.

    Stored URLs come from pages and archives: a `javascript:` or `data:` URL must never become
    an href."""
    if not url:
        return None
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    return url if parts.scheme.lower() in ("http", "https") and parts.netloc else None
