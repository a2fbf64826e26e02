"""Request → data: the functions that feed both the HTML pages and the JSON API."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from flask import current_app, g, request, url_for
from werkzeug.datastructures import iter_multi_items

from search_service import config, search
from search_service.archive.state import crawl_report, load_source_stats
from search_service.index.schema import IndexMissing, empty_index, index_exists, open_index
from search_service.index.stats import last_commit, source_health

if TYPE_CHECKING:  # the web layer only passes searchers on to the search layer
    from whoosh.searching import Searcher

SEARCHERS_KEY = "news_search.searchers"
CACHE_KEY = "news_search.cache"
EMPTY_KEY = "news_search.empty"
LINKS_KEY = "news_search.links"


def get_searcher() -> Searcher | None:
    """Return this thread's searcher over the app's index, current when the request first
    asked for it and the same for the rest of the request (so an answer and its ETag come
    from one commit, and the index is checked for a new commit once per request); None
    while no index exists."""
    found = g.get("searcher")
    if found is not None:
        return found
    extensions = current_app.extensions
    searchers = extensions.get(SEARCHERS_KEY)
    if searchers is None:
        path = Path(current_app.config["INDEX_DIR"])
        if not index_exists(path):
            return None
        searchers = extensions[SEARCHERS_KEY] = search.Searchers(open_index(path))
    g.searcher = found = searchers.get()
    return found


def require_searcher() -> Searcher:
    """Return the searcher or raise IndexMissing (a 404 on article routes)."""
    searcher = get_searcher()
    if searcher is None:
        raise IndexMissing("the index is empty")
    return searcher


def first_args() -> dict[str, str]:
    """The request's query-string arguments, the first value of each, as a plain dict (a
    lookup of an absent name in werkzeug's MultiDict raises and catches a KeyError)."""
    return request.args.to_dict()


def int_arg(name: str, default: int, args: Mapping[str, str] | None = None) -> int:
    """Read an integer query-string argument (`default` when absent) from the request (or
    `args`, its `first_args()`); raise QueryError if it is not one (an empty value included:
    the document says integer)."""
    raw = (request.args if args is None else args).get(name)
    if raw is None:
        return default
    try:
        return int(raw)
    except ValueError:
        raise search.QueryError(f"{name} must be an integer, not {raw!r}") from None


#: Values of a yes/no query-string argument ("" is the same as leaving it out).
FLAGS = {"": False, "0": False, "false": False, "1": True, "true": True}


def flag_arg(name: str, default: bool = False, args: Mapping[str, str] | None = None) -> bool:
    """Read a yes/no query-string argument (1, 0, true, false; absent or empty: `default`)
    from the request (or `args`, its `first_args()`); raise QueryError otherwise."""
    raw = (request.args if args is None else args).get(name, "")
    if raw not in FLAGS:  # exactly as the OpenAPI document's enum says
        raise search.QueryError(f"{name} must be 1 or 0 (or true or false), not {raw!r}")
    return FLAGS[raw] if raw else default


def max_depth() -> int:
    """How deep results may be paged in this app (page x per_page at most)."""
    return int(current_app.config["MAX_DEPTH"])


def search_params(default_sort: str = "best") -> search.SearchParams:
    """Read and validate the search parameters of the request (QueryError if one is bad,
    including a page beyond the app's paging depth)."""
    multi = request.args
    args = first_args()
    app_config = current_app.config
    time_limit = app_config.get("SEARCH_TIME_LIMIT")
    cursor = args.get("cursor", "")
    params = search.SearchParams(
        q=args.get("q", ""),
        page=int_arg("page", 1, args),
        per_page=int_arg("per_page", config.DEFAULT_PER_PAGE, args),
        sort=args.get("sort", "") or ("newest" if cursor else default_sort),
        date_from=search.dates_param("from", args.get("from", "")),
        date_to=search.dates_param("to", args.get("to", "")),
        sources=tuple(s for s in multi.getlist("source") if s) if "source" in args else (),
        lang=args.get("lang", ""),
        collections=(tuple(c for c in multi.getlist("collection") if c)
                     if "collection" in args else ()),
        cursor=cursor,
        facets=flag_arg("facets", args=args),
        expand=flag_arg("expand", default=True, args=args),
        feedback=flag_arg("feedback", args=args),
        **({"time_limit": float(time_limit)} if time_limit is not None else {}),
    )
    depth = int(app_config["MAX_DEPTH"])
    if params.page * params.per_page > depth:
        raise search.QueryError(
            f"page {params.page} with per_page {params.per_page} reaches result "
            f"{params.page * params.per_page}: results can be paged at most {depth} deep "
            f"(page × per_page ≤ {depth}); narrow the query instead")
    return params


def search_data(endpoint: str, facets: bool = False, sort: str | None = None) -> dict[str, Any]:
    """Run the search the request asks for (facets and sort may be imposed); add prev/next
    links to `endpoint`."""
    params = search_params()
    if facets or sort:
        params = replace(params, facets=facets or params.facets, sort=sort or params.sort)
    searcher = get_searcher()
    if searcher is None:  # no index yet: search an empty one, for an answer of the same shape
        empty = current_app.extensions.get(EMPTY_KEY)
        if empty is None:
            empty = current_app.extensions[EMPTY_KEY] = empty_index().searcher()
        data = search.search(empty, params)
    else:
        cache = current_app.extensions.get(CACHE_KEY)
        if cache is None:  # (setdefault's default would be built on every request)
            cache = current_app.extensions.setdefault(CACHE_KEY, search.ResultsCache())
        data = cache.search(searcher, params)
    data["next"] = data["prev"] = None
    link_args = {k: v for k, v in request.args.lists() if k != "page"}
    data["warnings"] = search.query_warnings(params.q)
    if flag_arg("explain", args=first_args()) and searcher is not None:
        data["explain"] = search.explain(searcher, params)
    if params.cursor:  # cursor paging: the next link carries the next cursor
        if data.get("next_cursor"):
            data["next"] = link(endpoint, {**link_args, "cursor": data["next_cursor"]})
        return data
    if (params.page * params.per_page < data["total"] and params.page < config.MAX_PAGE
            and (params.page + 1) * params.per_page <= max_depth()):
        data["next"] = link(endpoint, {"page": params.page + 1, **link_args})
    if params.page > 1:
        data["prev"] = link(endpoint, {"page": params.page - 1, **link_args})
    return data


#: The characters werkzeug leaves unquoted in a query string it builds (url_for's).
QUERY_SAFE = "!$'()*,/:;?@"


def link(endpoint: str, args: Mapping[str, Any]) -> str:
    """`url_for(endpoint, **args)` for an endpoint whose rule has no variables, the same
    string built for less: the rule's path (url_for's, remembered per script root) and the
    arguments encoded as werkzeug encodes them (in order; a list value repeats its name;
    None left out)."""
    paths = current_app.extensions.setdefault(LINKS_KEY, {})
    key = (endpoint, request.script_root)
    path = paths.get(key)
    if path is None:
        path = paths[key] = url_for(endpoint)
    items = [(k, str(v)) for k, v in iter_multi_items(args) if v is not None]
    return f"{path}?{urlencode(items, safe=QUERY_SAFE)}" if items else path


def export_request() -> tuple[search.SearchParams, str, bool]:
    """Read an export request: the search filters (sorted newest first unless sort=oldest),
    the format (csv or jsonl) and whether bodies are wanted."""
    if request.args.get("cursor") or "page" in request.args:
        raise search.QueryError("an export has every match: it takes no page or cursor")
    params = search_params(default_sort="newest")
    if params.sort not in search.CURSOR_SORTS:
        raise search.QueryError(f"an export sorts by {' or '.join(search.CURSOR_SORTS)} "
                                f"(an order new commits cannot reshuffle), not {params.sort}")
    return params, search.check_format(request.args.get("format", "") or "csv"), \
        flag_arg("body")


def article_count() -> int:
    """Return how many articles the index holds (0 if there is no index)."""
    searcher = get_searcher()
    return searcher.doc_count() if searcher else 0


def sources_data() -> dict[str, Any]:
    """Per-source health: what the index holds of each source (articles, the share with a
    date, newest article) and each crawled source's last crawl (the `news-search stats`
    figures: shares dated and rejected, rejections, refusals and fetch errors by reason)."""
    searcher = get_searcher()
    indexed = []
    for row in source_health(searcher) if searcher else []:
        item = asdict(row)
        item["dated_share"] = row.dated / row.articles
        item["first_published"] = search.iso(row.first_published)
        item["last_published"] = search.iso(row.last_published)
        indexed.append(item)
    committed = last_commit(Path(current_app.config["INDEX_DIR"]))
    crawled = crawl_report(load_source_stats(Path(current_app.config["ARCHIVE_DIR"])))
    return {"articles": sum(item["articles"] for item in indexed),
            "last_commit": committed.isoformat() if committed else None,
            "sources": indexed,
            "crawl": [{"source": name, **row} for name, row in crawled.items()]}
