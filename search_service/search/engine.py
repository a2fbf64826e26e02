"""Running a search: per-thread searchers, the results cache, counting, collapsing
near-duplicates, ranking and the result items (safe highlighted title and snippet)."""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import Counter, OrderedDict
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from markupsafe import escape
from whoosh.collectors import TimeLimit, WrappingCollector
from whoosh.index import Index
from whoosh.query import (
    And,
    ConstantScoreQuery,
    Every,
    Query,
)
from whoosh.query import QueryError as WhooshQueryError
from whoosh.searching import Hit, Searcher

from search_service import memory
from search_service.index import postings_file
from search_service.index.analysis import analyse_word, form_clues, text_analyzer
from search_service.index.whoosh_compat import refresh_reader
from search_service.search.cursor import cursor_search
from search_service.search.executor import Page, Unsupported, execute
from search_service.search.expand import expand_query
from search_service.search.facets import facets
from search_service.search.filters import PublishedWithin, filter_query
from search_service.search.groups import Groups, groups_of
from search_service.search.groups import hidden as groups_hidden
from search_service.search.highlight import Marker, QueryWords, lead_html, query_words
from search_service.search.params import QueryError, SearchParams, past_time_limit
from search_service.search.parse import QUERY_FIELDS, parse_query
from search_service.search.postings import shared_cache
from search_service.search.rank import BEST_WINDOW, rank_best, sort_facet, weighting
from search_service.search.suggest import drop_segments as drop_word_lists
from search_service.search.suggest import suggest

log = logging.getLogger(__name__)

#: Queries estimated to match fewer documents are ranked in one exhaustive pass; others are
#: counted unscored first, then ranked by Whoosh's block-skipping top-N collector.
ONE_PASS_BELOW = 2000


#: Marks matched words in titles and bodies (both use the text analyzer).
MARKER = Marker(text_analyzer(), analyse_word, form_clues)


class CommitWatch:
    """The index's latest generation, listing its directory only when a stat says it may
    have changed.

    Whoosh finds the latest commit by listing the index directory (`latest_generation()`,
    which `Searcher.up_to_date()` calls): ~20 µs for a few files, more with many, on every
    request, against ~4 µs for a stat. A commit always adds a directory entry (a new
    `_MAIN_<generation>.toc` written under a temporary name and renamed into place), and any
    change of an entry (creation, deletion, a rename, a rename over an existing name)
    updates the directory's mtime and ctime. So the listing is reused while a stat of the
    directory returns the same (device, inode, mtime, ctime): a directory replaced by
    another (a rename of a new index over the old path) has another inode or ctime.

    Two edges keep a commit from hiding behind an unchanged stat:
    - timestamp granularity: a change in the same clock tick as the stat that preceded a
      listing may leave mtime and ctime as they were (file systems stamp with a coarse clock;
      some with whole or even two seconds). A listing is only reused once the directory's
      ctime is more than `settle` seconds older than the stat taken before that listing, so
      any later change carries a later timestamp;
    - file systems that do not keep a directory's times current (some network or FUSE
      mounts): a listing is reused for at most `max_age` seconds whatever the stat says.
    """

    def __init__(self, ix: Index, settle: float = 3.0, max_age: float = 1.0,
                 stat: Callable[[str], os.stat_result] = os.stat,
                 clock: Callable[[], float] = time.time):
        self.ix = ix
        self.folder = getattr(ix.storage, "folder", None)  # None: not a directory (RAM)
        self.settle, self.max_age = settle, max_age
        self.stat, self.clock = stat, clock
        self.listings = 0  # how many times the directory was listed (for tests and metrics)
        #: (stat key, generation, listed at, reusable) of the last listing, replaced whole
        self.last: tuple[tuple, int, float, bool] | None = None

    def latest_generation(self) -> int:
        """The generation of the index's latest commit (Whoosh's `latest_generation()`)."""
        if self.folder is None:
            return self.ix.latest_generation()
        now = self.clock()
        try:
            st = self.stat(self.folder)
        except OSError:  # the directory is gone or unreadable: let Whoosh say what it sees
            self.last = None
            return self.ix.latest_generation()
        key = (st.st_dev, st.st_ino, st.st_mtime_ns, st.st_ctime_ns)
        last = self.last
        if last is not None and last[3] and last[0] == key and now - last[2] < self.max_age:
            return last[1]
        generation = self.ix.latest_generation()
        self.listings += 1
        changed = max(st.st_mtime_ns, st.st_ctime_ns) / 1e9
        self.last = (key, generation, now, now - changed > self.settle)
        return generation


class Searchers:
    """Hands each thread one searcher over `ix`, refreshed when the index has new commits.

    Opening a searcher costs about 20 ms (it loads every segment's term tables); checking
    that an open one is current costs a stat of the index directory (CommitWatch).
    """

    def __init__(self, ix: Index, watch: CommitWatch | None = None):
        self.ix = ix
        self.watch = watch or CommitWatch(ix)
        self.local = threading.local()

    def get(self) -> Searcher:
        """Return this thread's searcher, up to date with the latest commit."""
        searcher = getattr(self.local, "searcher", None)
        if searcher is None:
            searcher = self.ix.searcher(weighting=weighting())
        elif self.watch.latest_generation() != searcher.reader().generation():
            # Not Searcher.refresh(): Whoosh's keeps deleted articles and merged-away
            # segments (see whoosh_compat.refresh_reader).
            before = segment_ids(searcher)
            searcher = Searcher(refresh_reader(self.ix, searcher.reader()), fromindex=self.ix,
                                weighting=weighting())
            live = segment_ids(searcher)
            if before - live:
                forget_segments(live)
            self.local.searcher = searcher
            # the old searcher's memory is free: give it back (rate-limited), in a thread
            # of its own so that this request does not wait for the trim
            memory.release_soon()
        self.local.searcher = searcher
        return searcher


def segment_ids(searcher: Searcher) -> set[str]:
    """The ids of the segments `searcher` reads."""
    return {leaf.segment().segment_id() for leaf, _ in searcher.reader().leaf_readers()
            if leaf.segment() is not None}


def forget_segments(live: set[str]) -> int:
    """Drop the decoded postings and spelling word lists of segments no longer in the index
    (merged away) from the process's caches; return how many entries went. Every commit of
    a running crawl adds a segment and merges retire others, and the postings cache's byte
    bound alone (128 MB by default) would keep the dead segments' postings for hours: in the
    soak that was most of a serve worker's memory growth. (Scored terms are dropped per
    commit: executor.scored_cache.)"""
    return (shared_cache().drop_segments(live) + drop_word_lists(live)
            + postings_file.forget_segments(live))


class Deadline(WrappingCollector):
    """Stops collecting with TimeLimit at the monotonic time `deadline` (what was found
    stays); with `record`, keeps the global number of every match it passes on in `found`.

    Whoosh's TimeLimitCollector relies on SIGALRM, which only works in the main thread; this
    one is checked on every match instead.
    """

    def __init__(self, child, deadline: float, record: bool = False):
        super().__init__(child)
        self.deadline = deadline
        self.found: set[int] | None = set() if record else None

    def collect(self, sub_docnum):
        if self.found is not None:
            self.found.add(self.offset + sub_docnum)
        return self.child.collect(sub_docnum)

    def matches(self):
        for sub_docnum in self.child.matches():
            if time.monotonic() > self.deadline:
                raise TimeLimit
            yield sub_docnum


class ResultsCache:
    """Remembers recent search results per request, forgotten on every index commit."""

    def __init__(self, size: int = 256):
        self.size = size
        self.lock = threading.Lock()
        self.generation: int | None = None
        self.entries: OrderedDict[SearchParams, dict] = OrderedDict()

    def looked_up(self, hit: bool) -> None:
        """Called after each lookup, with whether it was a hit (a subclass counts them)."""

    def search(self, searcher: Searcher, params: SearchParams) -> dict:
        """Return `search(searcher, params)`, from the cache when this commit answered it."""
        generation = searcher.reader().generation()
        with self.lock:
            if generation != self.generation:
                self.entries.clear()
                self.generation = generation
            found = self.entries.get(params)
            if found is not None:
                self.entries.move_to_end(params)
        self.looked_up(found is not None)
        if found is not None:
            return dict(found)
        data = search(searcher, params)
        with self.lock:
            if generation == self.generation and not data["partial"]:
                self.entries[params] = data
                while len(self.entries) > self.size:
                    self.entries.popitem(last=False)
        return dict(data)


def search(searcher: Searcher, params: SearchParams | None = None, use_executor: bool = True,
           **kwargs: Any) -> dict:
    """Run a search and return one page of results as plain data.

    Takes a SearchParams, or its fields as keyword arguments. The vectorised executor
    (executor.py) answers what it can evaluate; otherwise (or with `use_executor=False`)
    Whoosh does, as described next.

    Two passes: an unscored pass over the matching document numbers gives the exact number of
    distinct stories (near-duplicate copies counted once, see groups.py); then Whoosh's top-N
    collector, free to skip blocks that cannot reach the top, ranks enough hits to fill the
    page after copies are collapsed. Both passes share the query's time limit.
    """
    params = params or SearchParams(**kwargs)
    if params.cursor:  # cursor paging: a stable story order (cursor.py)
        return cursor_search(searcher, params)
    started = time.perf_counter()
    query, expanded = expand_query(searcher, parse_query(searcher, params.q), params.expand,
                                   params.feedback)
    browsing = isinstance(query, Every)
    text_query = query
    sort = "newest" if browsing and params.sort in ("best", "relevance") else params.sort
    wanted = params.page * params.per_page
    limit = max(wanted, BEST_WINDOW) if sort == "best" else wanted
    filter_ = filter_query(params, dates=browsing)
    if filter_ is not None:
        query = And([query, ConstantScoreQuery(filter_, score=0.0)])
    if not browsing and (params.date_from or params.date_to):
        query = PublishedWithin(query, params.date_from, params.date_to)
    fast = _executed(searcher, text_query, params, sort, browsing) if use_executor else None
    if fast is not None:
        total, page_hits, similar, partial = fast.total, fast.hits, fast.similar, fast.partial
    else:
        groups = groups_of(searcher)
        # Only Whoosh's own verdict on the query (e.g. a phrase in a field without positions)
        # and a time limit that escaped are the request's fault; anything else (a corrupt
        # segment, a bug) propagates, to be logged with its traceback and answered with a 500.
        try:
            matched, collapsed, results, partial = _collect(
                searcher, query, sort_facet(sort), limit, groups, params.time_limit)
        except WhooshQueryError as exc:
            raise QueryError(f"cannot run query {params.q!r}: {exc}") from exc
        except TimeLimit as exc:
            raise past_time_limit(params) from exc
        hidden = groups_hidden(collapsed)
        hits, seen = [], set()
        for hit in results:
            key = groups.members.get(hit.docnum)
            if key is None or key not in seen:
                hits.append(hit)
                seen.add(key)
        if sort == "best":
            hits = rank_best(searcher, hits[:limit])
        page_hits = hits[(params.page - 1) * params.per_page: wanted]
        similar = [collapsed.get(groups.members.get(hit.docnum), 1) - 1 for hit in page_hits]
        total = matched - hidden
    words = None if browsing else {
        name: query_words(text_query, searcher.reader(), name) for name in QUERY_FIELDS}
    items = [result_item(hit, words, similar=n) for hit, n in zip(page_hits, similar, strict=True)]
    data: dict[str, Any] = {
        "query": params.q,
        "total": total,
        "page": params.page,
        "per_page": params.per_page,
        "sort": sort,
        "from": params.date_from.isoformat() if params.date_from else None,
        "to": params.date_to.isoformat() if params.date_to else None,
        "sources": list(params.sources),
        "lang": params.lang or None,
        "partial": partial,
        "suggestion": None,
        **expanded,
        "took_ms": 0.0,
        "results": items,
    }
    if not browsing and total < 3:
        data["suggestion"] = suggest(searcher, params.q)
    if params.facets:
        data["facets"] = fast.facets if fast is not None else facets(searcher, query)
    data["took_ms"] = round((time.perf_counter() - started) * 1000, 1)
    return data


def _executed(searcher: Searcher, text_query: Query, params: SearchParams, sort: str,
              browsing: bool) -> Page | None:
    """The page from the vectorised executor, or None when it cannot evaluate the query."""
    try:
        return execute(searcher, text_query, params, sort, browsing)
    except Unsupported as why:
        log.debug("query %r goes to the Whoosh path: %s", params.q, why)
        return None


def _collect(searcher: Searcher, query: Query, sortedby, limit: int, groups: Groups,
             budget: float) -> tuple[int, Counter, Any, bool]:
    """Find what `query` matches within `budget` seconds.

    Returns the number of matching documents, how many of them fall in each near-duplicate
    group, the ranked hits (at least `limit` once copies are collapsed, unless time ran
    out) and whether time ran out.
    """
    deadline = time.monotonic() + budget
    if isinstance(query, Every):
        results, partial = _top(searcher, query, sortedby, limit, groups.hidden, groups,
                                deadline)
        return searcher.doc_count(), groups.sizes, results, partial
    if query.estimate_size(searcher.reader()) <= ONE_PASS_BELOW:
        # Few matches: rank them all, noting their numbers in the same pass.
        collector = Deadline(searcher.collector(limit=None, sortedby=sortedby), deadline,
                             record=True)
        partial = _run(searcher, query, collector)
        return (len(collector.found), groups.collapsed(collector.found), collector.results(),
                partial)
    # Many matches: count them unscored, then let Whoosh skip what cannot rank.
    partial = False
    try:
        found = _matching(searcher, query, deadline)
    except TimeLimit as stop:
        found, partial = stop.args[0], True
    collapsed = groups.collapsed(found)
    results, late = _top(searcher, query, sortedby, limit,
                         groups_hidden(collapsed), groups,
                         max(deadline, time.monotonic() + budget / 4))
    return len(found), collapsed, results, partial or late


def _top(searcher: Searcher, query: Query, sortedby, limit: int, hidden: int, groups: Groups,
         deadline: float) -> tuple[Any, bool]:
    """The top hits of `query`, enough that `limit` stories remain once copies collapse.

    `hidden` (matching copies) bounds how many extra hits could be needed, but copies of a
    story rank together, so a few more than `limit` usually suffice: ask for a small margin
    and widen it only if collapsing left fewer than `limit`. The first `limit` stories of a
    longer ranking are those of any prefix that holds `limit` stories, so this is exact.
    """
    wanted = limit + min(hidden, limit)
    while True:
        top = searcher.collector(limit=wanted, sortedby=sortedby)
        # Whoosh's matcher replacement (pruning the query tree as the N-th score rises) can
        # drop an optional part's score, e.g. the title part of `grain prices`: ranks would
        # then depend on N. Block-quality skipping, which is sound, stays on.
        top.replace = 0
        collector = Deadline(top, deadline)
        partial = _run(searcher, query, collector)
        results = collector.results()
        members = groups.members
        stories = len({members.get(hit.docnum, hit.docnum) for hit in results})
        if partial or stories >= limit or wanted >= limit + hidden:
            return results, partial
        wanted = min(limit + hidden, wanted * 4)


def _run(searcher: Searcher, query: Query, collector) -> bool:
    """Run `collector` over `query`, scored by rank.weighting() whatever the searcher's own
    model; tell whether it stopped at its deadline."""
    try:
        searcher.search_with_collector(query, collector,
                                       context=searcher.context(weighting=weighting()))
    except TimeLimit:
        return True
    return False


def _matching(searcher: Searcher, query: Query, deadline: float) -> set[int]:
    """The document numbers `query` matches, unscored; TimeLimit(found so far) at `deadline`."""
    found: set[int] = set()
    for sub, offset in searcher.leaf_searchers():
        for count, docnum in enumerate(query.matcher(sub).all_ids(), 1):
            found.add(docnum + offset)
            if not count % 1024 and time.monotonic() > deadline:
                raise TimeLimit(found)
    return found


def result_item(hit: Hit, words: dict[str, QueryWords] | None = None,
                similar: int = 0) -> dict[str, Any]:
    """Turn one hit into the result shape: ids, links, safe highlighted title and snippet
    (marking `words`, per field; none: the body's opening)."""
    fields = hit.fields()
    title, body = fields["title"], fields.get("body", "")
    title_html = MARKER.title_html(title, words["title"]) if words else ""
    return {
        "id": fields["id"],
        "url": fields["url"],
        "title": title,
        "title_html": title_html or str(escape(title)),
        "snippet_html": MARKER.snippet_html(body, words["body"]) if words else lead_html(body),
        "published": iso(fields.get("published")),
        "source": fields.get("source_key", ""),
        "similar_count": similar,
    }


def iso(value: datetime | None) -> str | None:
    """Format a stored (naive UTC) datetime as ISO 8601 with its UTC offset."""
    if not value:
        return None
    return value.replace(tzinfo=timezone.utc).isoformat()
