"""One search request, validated: sorts, paging and filter parameters, and the search errors."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone

from search_service import config
from search_service.article import collection_name
from search_service.search.when import DateError, parse_when

SORTS = ("best", "relevance", "newest", "oldest")
#: Orders that cursor paging and export follow (relevance changes with every commit).
CURSOR_SORTS = ("newest", "oldest")


TIME_LIMIT = 2.0


class QueryError(ValueError):
    """The query or its parameters cannot be searched (a 400 for the web)."""


def past_time_limit(params: SearchParams) -> QueryError:
    """The error of a request whose matching ran past its time limit (a 400 for the web):
    the same words for a search that could not answer in part and for the research views,
    cursor pages and exports, which never answer in part (a count of what was read so far
    would pass for the whole)."""
    return QueryError(f"query {params.q!r} ran past its time limit of "
                      f"{params.time_limit:g}s; narrow it")


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
    collections: tuple[str, ...] = field(default_factory=tuple)
    facets: bool = False
    time_limit: float = TIME_LIMIT
    #: Cursor paging (search_after): "*" starts, a `next_cursor` goes on; see cursor.py.
    cursor: str = ""
    #: Country names and demonyms searched together (expand.py); pseudo-relevance feedback.
    expand: bool = True
    feedback: bool = False

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
        for name in self.collections:
            try:
                collection_name(name)
            except ValueError as exc:
                raise QueryError(f"collection: {exc}") from None
        if self.cursor and self.page != 1:
            raise QueryError("give either cursor or page, not both (a cursor carries the "
                             "position)")
        if self.cursor and self.sort not in CURSOR_SORTS:
            raise QueryError(f"cursor paging sorts by {' or '.join(CURSOR_SORTS)} (an order "
                             "that new commits cannot reshuffle), not by "
                             f"{self.sort}: add sort=newest or sort=oldest")


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
