"""Queries → plain result data: the search layer's one interface, used by the web layer and
the command line (so that another engine could take Whoosh's place behind it).

The modules: params (a request and its errors), parse (query text → Whoosh query), expand
(country names and demonyms searched together; pseudo-relevance feedback), filters,
engine (running a search, the results cache), rank (sorts and the `best` blend), groups
(near-duplicate collapsing), facets, highlight, suggest, articles (one article, related),
cursor (a story order commits cannot reshuffle: cursor paging), export (every match as CSV or
JSON lines), explain (query warnings and how a query was read); for research: matches (every
matching story as numpy arrays), timeline (attention over time), compare (up to five
queries), terms (significant terms).
"""

from search_service.search.articles import get_article, related
from search_service.search.compare import compare
from search_service.search.engine import ResultsCache, Searchers, iso, search
from search_service.search.explain import explain, query_warnings
from search_service.search.export import FORMATS, check_format, export_rows, serialise
from search_service.search.params import (
    CURSOR_SORTS,
    SORTS,
    NotFound,
    QueryError,
    SearchParams,
    dates_param,
)
from search_service.search.terms import terms
from search_service.search.timeline import timeline

__all__ = ["CURSOR_SORTS", "FORMATS", "SORTS", "NotFound", "QueryError", "ResultsCache",
           "SearchParams", "Searchers", "check_format", "compare", "dates_param", "explain",
           "export_rows", "get_article", "iso", "query_warnings", "related", "search",
           "serialise", "terms", "timeline"]
