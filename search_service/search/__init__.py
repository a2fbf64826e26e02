"""Queries → plain result data: the search layer's one interface, used by the web layer and
the command line (so that another engine could take Whoosh's place behind it).

The modules: params (a request and its errors), parse (query text → Whoosh query), filters,
engine (running a search, the results cache), rank (sorts and the `best` blend), groups
(near-duplicate collapsing), facets, highlight, suggest, articles (one article, related); for
research: matches (every matching story as numpy arrays), timeline (attention over time),
compare (up to five queries), terms (significant terms).
"""

from search_service.search.articles import get_article, related
from search_service.search.compare import compare
from search_service.search.engine import ResultsCache, Searchers, iso, search
from search_service.search.params import SORTS, NotFound, QueryError, SearchParams, dates_param
from search_service.search.terms import terms
from search_service.search.timeline import timeline

__all__ = ["SORTS", "NotFound", "QueryError", "ResultsCache", "SearchParams", "Searchers",
           "compare", "dates_param", "get_article", "iso", "related", "search", "terms",
           "timeline"]
