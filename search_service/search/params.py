"""One search request, validated: sorts, paging and filter parameters, and the search errors."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone

from search_service import config
from search_service.search.when import DateError, parse_when

SORTS = ("best", "relevance", "newest", "oldest")


TIME_LIMIT = 2.0


class QueryError(ValueError):
    """The query or its parameters cannot be searched (a 400 for the web)."""


class NotFound(LookupError):
    """No article has the requested id (a 404 for the web)."""


@dataclass(frozen=True)
class SearchParams:
    """One search request, validated: query, filters, sort and paging."""

    q: str = ""
    page: int = 1
    per_page: int = config.DEFAULT_PER_PAGE
    sort: str = "best"
    date_from: datetime | None = None
    date_to: datetime | None = None
    sources: tuple[str, ...] = field(default_factory=tuple)
    lang: str = ""
    facets: bool = False
    time_limit: float = TIME_LIMIT

    def __post_init__(self) -> None:
        if not 1 <= self.page <= config.MAX_PAGE:
            raise QueryError(f"page must be between 1 and {config.MAX_PAGE}")
        if not 1 <= self.per_page <= config.MAX_PER_PAGE:
            raise QueryError(f"per_page must be between 1 and {config.MAX_PER_PAGE}")
        if self.sort not in SORTS:
            raise QueryError(f"sort must be one of: {', '.join(SORTS)}")
        if len(self.q) > config.MAX_QUERY_CHARS:
            raise QueryError(f"query too long ({len(self.q)} characters, at most "
                             f"{config.MAX_QUERY_CHARS})")
        if self.date_from and self.date_to and self.date_from > self.date_to:
            raise QueryError("from must not be after to")


def dates_param(name: str, text: str, now: datetime | None = None) -> datetime | None:
    """Read a `from` or `to` parameter; raise QueryError naming it if unreadable."""
    if not text.strip():
        return None
    try:
        # Relative dates resolve to the minute, so repeated requests share a cache entry.
        now = now or datetime.now(timezone.utc).replace(second=0, microsecond=0)
        return parse_when(text, now, end=(name == "to"))
    except DateError as exc:
        raise QueryError(f"{name}: {exc}") from None
