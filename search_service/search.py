"""Queries → plain result data: parsing, filters, sorting, collapsing near-duplicates, safe
highlighted snippets, facets, spelling suggestions and related articles."""

from __future__ import annotations

import logging
import math
import re
import threading
import time
from bisect import bisect_right
from collections import Counter, OrderedDict
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from itertools import islice
from typing import Any

from markupsafe import escape
from whoosh import sorting
from whoosh.collectors import TimeLimit, WrappingCollector
from whoosh.index import Index
from whoosh.matching import FilterMatcher, NullMatcher
from whoosh.qparser import AndGroup, FieldAliasPlugin, FuzzyTermPlugin, MultifieldParser
from whoosh.query import (
    And,
    ConstantScoreQuery,
    DateRange,
    Every,
    FuzzyTerm,
    NullQuery,
    Or,
    Prefix,
    Query,
    Term,
    TermRange,
    Wildcard,
    WrappingQuery,
)
from whoosh.reading import EmptyReader
from whoosh.searching import Hit, Searcher
from whoosh.util.times import datetime_to_long

from search_service import config
from search_service import related as related_sidecar
from search_service.analysis import fold, text_analyzer
from search_service.groups import Groups, groups_of
from search_service.groups import hidden as groups_hidden
from search_service.highlight import Marker, QueryWords, lead_html, query_words
from search_service.when import DateError, parse_when

log = logging.getLogger(__name__)

SORTS = ("best", "relevance", "newest", "oldest")
#: "best" sort: relevance × (1 + RECENCY_WEIGHT × 2^(−age / HALF_LIFE)), age from the newest
#: of the top BEST_WINDOW hits by relevance.
HALF_LIFE = timedelta(days=7)
RECENCY_WEIGHT = 1.0
#: Hits re-ranked by the "best" sort (beyond them, relevance order stands).
BEST_WINDOW = 200
MIN_WILDCARD_PREFIX = 3
MAX_WILDCARD_TERMS = 256
#: Fuzzy words (`word~N`): each one walks the term list (from its first letter on, which we
#: impose: from the start, one word took 0.3-0.8 s over 2,500 articles and `opec~9` 26 s),
#: before any time limit can apply.
MAX_FUZZY_EDITS = 2
MAX_FUZZY_WORDS = 4
TIME_LIMIT = 2.0
#: Queries estimated to match fewer documents are ranked in one exhaustive pass; others are
#: counted unscored first, then ranked by Whoosh's block-skipping top-N collector.
ONE_PASS_BELOW = 2000
#: A column value Whoosh uses for documents without a publication date.
NO_DATE = 2**64 - 1
QUERY_FIELDS = ["title", "body"]
#: Marks matched words in titles and bodies (both use the text analyzer).
MARKER = Marker(text_analyzer())
ALIASES = {"authors": ["author", "by"], "source": ["site"]}


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


# -- searchers --------------------------------------------------------------------------------

class Searchers:
    """Hands each thread one searcher over `ix`, refreshed when the index has new commits.

    Opening a searcher costs about 20 ms (it loads every segment's term tables); checking
    that an open one is current costs about 0.02 ms.
    """

    def __init__(self, ix: Index):
        self.ix = ix
        self.local = threading.local()

    def get(self) -> Searcher:
        """Return this thread's searcher, up to date with the latest commit."""
        searcher = getattr(self.local, "searcher", None)
        if searcher is None:
            searcher = self.ix.searcher()
        elif not searcher.up_to_date():
            # A searcher over an index without commits has an EmptyReader, which is never up
            # to date and cannot be refreshed (Whoosh fails on it): open a new one instead.
            empty = isinstance(searcher.reader(), EmptyReader)
            searcher = self.ix.searcher() if empty else searcher.refresh()
        self.local.searcher = searcher
        return searcher


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

    def search(self, searcher: Searcher, params: SearchParams) -> dict:
        """Return `search(searcher, params)`, from the cache when this commit answered it."""
        generation = searcher.reader().generation()
        with self.lock:
            if generation != self.generation:
                self.entries.clear()
                self.generation = generation
            if params in self.entries:
                self.entries.move_to_end(params)
                return dict(self.entries[params])
        data = search(searcher, params)
        with self.lock:
            if generation == self.generation and not data["partial"]:
                self.entries[params] = data
                while len(self.entries) > self.size:
                    self.entries.popitem(last=False)
        return dict(data)


# -- parsing ----------------------------------------------------------------------------------

def parse_query(searcher: Searcher, text: str) -> Query:
    """Parse Whoosh query syntax over title and body (AND by default); '' means every article."""
    text = (text or "").strip()
    if not text:
        return Every()
    parser = MultifieldParser(QUERY_FIELDS, searcher.schema, group=AndGroup)
    parser.add_plugin(FieldAliasPlugin(ALIASES))
    parser.add_plugin(FuzzyTermPlugin())
    try:
        query = parser.parse(text)
    except Exception as exc:  # Whoosh raises assorted errors on bad ranges and dates
        raise QueryError(f"cannot parse query {text!r}: {exc}") from exc
    if isinstance(query, type(NullQuery)):
        raise QueryError(
            f"cannot parse query {text!r}: it has no searchable words "
            "(only operators, punctuation or stop words)")
    return cap_wildcards(searcher, query)


def cap_wildcards(searcher: Searcher, query: Query) -> Query:
    """Refuse wildcards with fewer than 3 leading characters; cap what the rest (and term
    ranges) expand to; make `*` every article. Refuse fuzzy words of more than
    MAX_FUZZY_EDITS edits, and more than MAX_FUZZY_WORDS of them (their expansion runs
    before the time limit applies)."""
    fuzzy: set[str] = set()

    def visit(node: Query) -> Query:
        if isinstance(node, FuzzyTerm):
            if node.maxdist > MAX_FUZZY_EDITS:
                raise QueryError(f"fuzzy words allow at most {MAX_FUZZY_EDITS} edits: "
                                 f"{node.text!r}~{node.maxdist:g}")
            fuzzy.add(node.text)
            if len(fuzzy) > MAX_FUZZY_WORDS:
                raise QueryError(f"too many fuzzy words (at most {MAX_FUZZY_WORDS} word~ "
                                 "in a query)")
            if node.prefixlength < 1:  # the first letter as typed: a 30x shorter walk
                node = node.copy()
                node.prefixlength = 1
            return node
        if isinstance(node, Every) and node.fieldname:
            return Every(boost=node.boost)  # `*`: every article (per field: every posting)
        if isinstance(node, TermRange):  # `title:[a TO]` can span every term of a field
            return _capped(searcher, node, "term range")
        if isinstance(node, (Wildcard, Prefix)):
            text = node.text
            fixed = re.split(r"[*?]", text, maxsplit=1)[0] if isinstance(node, Wildcard) else text
            if len(fixed) < MIN_WILDCARD_PREFIX:
                shown = text + ("*" if isinstance(node, Prefix) else "")
                raise QueryError(f"wildcards need at least {MIN_WILDCARD_PREFIX} leading "
                                 f"characters: {shown!r}")
            return _capped(searcher, node, "wildcard")
        return node.apply(visit)
    return visit(query)


def _capped(searcher: Searcher, node: Query, kind: str) -> Query:
    """`node` (a query that expands to indexed terms), or an Or of its first
    MAX_WILDCARD_TERMS terms when it expands to more."""
    terms = list(islice(node._btexts(searcher.reader()), MAX_WILDCARD_TERMS + 1))
    if len(terms) <= MAX_WILDCARD_TERMS:
        return node
    log.info("%s %r capped at %d terms", kind, node, MAX_WILDCARD_TERMS)
    return Or([Term(node.fieldname, t) for t in terms[:MAX_WILDCARD_TERMS]], boost=node.boost)


def filter_query(params: SearchParams, dates: bool = True) -> Query | None:
    """Build the filter for sources, language and (with `dates`) the date range, or None."""
    parts: list[Query] = []
    if dates and (params.date_from or params.date_to):
        parts.append(DateRange("published", _naive(params.date_from), _naive(params.date_to)))
    if params.sources:
        parts.append(Or([Term(name, s) for s in params.sources for name in
                         ("source_key", "host")]))
    if params.lang:
        parts.append(Term("language", params.lang.lower()))
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else And(parts)


class PublishedWithin(WrappingQuery):
    """Keeps the child query's matches whose publication date lies in [start, end].

    Reads the `published` column of each match instead of intersecting with a DateRange,
    whose matcher is a union over hundreds of trie terms: for a text query that is several
    times cheaper. (To list every article in a range, DateRange is the better tool.)
    """

    def __init__(self, child: Query, start: datetime | None, end: datetime | None):
        super().__init__(child)
        self.start, self.end = start, end

    def __eq__(self, other: object) -> bool:
        return (type(other) is type(self) and self.child == other.child
                and (self.start, self.end) == (other.start, other.end))

    def __hash__(self) -> int:
        return hash((type(self).__name__, self.child, self.start, self.end))

    def _rewrap(self, child: Query) -> PublishedWithin:
        return PublishedWithin(child, self.start, self.end)

    def matcher(self, searcher: Searcher, context=None):
        if not searcher.reader().has_column("published"):
            return NullMatcher()  # no article of this segment is dated
        column = searcher.reader().column_reader("published", translate=False)
        low = datetime_to_long(_naive(self.start)) if self.start else 0
        high = datetime_to_long(_naive(self.end)) if self.end else NO_DATE - 1
        return _DateFilterMatcher(self.child.matcher(searcher, context),
                                  _StampsWithin(column, low, high))


class _DateFilterMatcher(FilterMatcher):
    """FilterMatcher that opts out of block-quality skipping: a skip would land on a
    document without checking its date."""

    def supports_block_quality(self) -> bool:
        return False


class _StampsWithin:
    """A 'set' of document numbers: those whose column stamp lies in [low, high]."""

    def __init__(self, column, low: int, high: int):
        self.column, self.low, self.high = column, low, high

    def __contains__(self, docnum: int) -> bool:
        return self.low <= self.column[docnum] <= self.high


def _naive(value: datetime | None) -> datetime | None:
    """Whoosh compares naive UTC datetimes."""
    return value.astimezone(timezone.utc).replace(tzinfo=None) if value else None


# -- searching --------------------------------------------------------------------------------

def search(searcher: Searcher, params: SearchParams | None = None, **kwargs: Any) -> dict:
    """Run a search and return one page of results as plain data.

    Takes a SearchParams, or its fields as keyword arguments.

    Two passes: an unscored pass over the matching document numbers gives the exact number of
    distinct stories (near-duplicate copies counted once, see groups.py); then Whoosh's top-N
    collector, free to skip blocks that cannot reach the top, ranks enough hits to fill the
    page after copies are collapsed. Both passes share the query's time limit.
    """
    params = params or SearchParams(**kwargs)
    started = time.perf_counter()
    query = parse_query(searcher, params.q)
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
    groups = groups_of(searcher)
    try:
        matched, collapsed, results, partial = _collect(
            searcher, query, _sort_facet(sort), limit, groups, params.time_limit)
    except Exception as exc:
        raise QueryError(f"cannot run query {params.q!r}: {exc}") from exc
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
    words = None if browsing else {
        name: query_words(text_query, searcher.reader(), name) for name in QUERY_FIELDS}
    items = [result_item(hit, words, similar=collapsed.get(groups.members.get(hit.docnum), 1) - 1)
             for hit in page_hits]
    total = matched - hidden
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
        "took_ms": 0.0,
        "results": items,
    }
    if not browsing and total < 3:
        data["suggestion"] = suggest(searcher, params.q)
    if params.facets:
        data["facets"] = facets(searcher, query)
    data["took_ms"] = round((time.perf_counter() - started) * 1000, 1)
    return data


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
        collector = Deadline(searcher.collector(limit=wanted, sortedby=sortedby), deadline)
        partial = _run(searcher, query, collector)
        results = collector.results()
        members = groups.members
        stories = len({members.get(hit.docnum, hit.docnum) for hit in results})
        if partial or stories >= limit or wanted >= limit + hidden:
            return results, partial
        wanted = min(limit + hidden, wanted * 4)


def _run(searcher: Searcher, query: Query, collector) -> bool:
    """Run `collector` over `query`; tell whether it stopped at its deadline."""
    try:
        searcher.search_with_collector(query, collector)
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


def _sort_facet(sort: str):
    """Return the Whoosh sort for `sort` (None: by score)."""
    if sort == "newest":
        return sorting.TranslateFacet(lambda v: 1 if v == NO_DATE else -v,
                                      sorting.FieldFacet("published"))
    if sort == "oldest":
        return sorting.FieldFacet("published")
    return None


def rank_best(searcher: Searcher, hits: list[Hit]) -> list[Hit]:
    """Re-rank hits by relevance × (1 + w · 2^(−age / half-life)).

    Age counts back from the newest hit (or now, if that is earlier), so an archive's
    latest stories get the boost as a live index's do. Undated hits keep their score.
    """
    stamps = _stamps(searcher, [hit.docnum for hit in hits])
    dated = [v for v in stamps.values() if v != NO_DATE]
    if not dated:
        return hits
    now = datetime_to_long(datetime.now(timezone.utc).replace(tzinfo=None))
    reference = min(now, max(dated))
    half_life = HALF_LIFE.total_seconds() * 10**6  # the column counts microseconds

    def blended(hit: Hit) -> float:
        stamp = stamps[hit.docnum]
        if stamp == NO_DATE:
            return hit.score
        age = max(0, reference - stamp)
        return hit.score * (1 + RECENCY_WEIGHT * math.pow(2, -age / half_life))

    return sorted(hits, key=blended, reverse=True)


def _stamps(searcher: Searcher, docnums: list[int]) -> dict[int, int]:
    """Publication stamps (column values; NO_DATE if none) of global document numbers.

    Reads each segment's own column: Whoosh's multi-segment column reader fails when a
    segment has no `published` column (none of its articles dated)."""
    leaves = [(offset, sub.reader()) for sub, offset in searcher.leaf_searchers()]
    starts = [offset for offset, _ in leaves]
    columns = {offset: reader.column_reader("published", translate=False)
               if reader.has_column("published") else None for offset, reader in leaves}
    stamps = {}
    for docnum in docnums:
        offset = starts[bisect_right(starts, docnum) - 1]
        column = columns[offset]
        stamps[docnum] = column[docnum - offset] if column is not None else NO_DATE
    return stamps


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


# -- facets and suggestions -------------------------------------------------------------------

def facets(searcher: Searcher, query: Query) -> dict[str, Any]:
    """Count matches per source (top 20) and per date bucket sized to the results' span."""
    results = searcher.search(
        query, limit=1,
        groupedby={"source": sorting.FieldFacet("source_key", maptype=sorting.Count),
                   "day": sorting.FieldFacet("published", maptype=sorting.Count)})
    sources = Counter(results.groups("source"))
    days = {day: n for day, n in results.groups("day").items() if isinstance(day, datetime)}
    return {
        "sources": [{"source": s, "count": n} for s, n in
                    sorted(sources.items(), key=lambda kv: (-kv[1], kv[0]))[:20]],
        "dates": histogram(days),
    }


def histogram(counts: dict[datetime, int]) -> dict[str, Any]:
    """Bucket publication times by day, week, month or year, following their span."""
    if not counts:
        return {"bucket": None, "counts": []}
    span = max(counts) - min(counts)
    bucket = ("day" if span <= timedelta(days=31) else "week" if span <= timedelta(weeks=26)
              else "month" if span <= timedelta(days=366 * 5) else "year")
    buckets: Counter = Counter()
    for moment, n in counts.items():
        buckets[bucket_start(moment, bucket)] += n
    first, last = min(buckets), max(buckets)
    out, current = [], first
    while current <= last:  # include empty buckets so the timeline is continuous
        following = next_bucket(current, bucket)
        out.append({"start": current.date().isoformat(),
                    "end": (following - timedelta(days=1)).date().isoformat(),
                    "count": buckets.get(current, 0)})
        current = following
    return {"bucket": bucket, "counts": out}


def bucket_start(moment: datetime, bucket: str) -> datetime:
    """Return the start of the bucket that holds `moment`."""
    day = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    if bucket == "week":
        return day - timedelta(days=day.weekday())
    if bucket == "month":
        return day.replace(day=1)
    if bucket == "year":
        return day.replace(month=1, day=1)
    return day


def next_bucket(start: datetime, bucket: str) -> datetime:
    """Return the start of the bucket after the one starting at `start`."""
    if bucket == "day":
        return start + timedelta(days=1)
    if bucket == "week":
        return start + timedelta(weeks=1)
    if bucket == "month":
        return (start.replace(day=28) + timedelta(days=4)).replace(day=1)
    return start.replace(year=start.year + 1)


WORD = re.compile(r"(?<![:\w])([^\W\d_]{3,})(?![\w:*?~])")
OPERATORS = {"AND", "OR", "NOT", "TO"}


def suggest(searcher: Searcher, q: str) -> str | None:
    """Return the query with words the index lacks replaced by the closest indexed words.

    The body's terms are stems, so a correction is found among stems ("ukran" → "ukrain")
    and shown as a word that an article containing the corrected stem actually uses.
    """
    analyzer = searcher.schema["body"].analyzer
    corrector = searcher.corrector("body")
    changed = False

    def replace(match: re.Match) -> str:
        nonlocal changed
        word = match.group(1)
        stems = [t.text for t in analyzer(word)]
        if word in OPERATORS or len(stems) != 1 or any(
                searcher.doc_frequency(f, stems[0]) for f in QUERY_FIELDS):
            return word
        # prefix=1: keep the first letter, as most misspellings do (about 8x faster here)
        options = corrector.suggest(stems[0], limit=1, maxdist=2, prefix=1)
        surface = surface_word(searcher, options[0]) if options else None
        if not surface:
            return word
        changed = True
        return surface

    corrected = WORD.sub(replace, q)
    return corrected if changed else None


def surface_word(searcher: Searcher, stem: str) -> str | None:
    """Return a word of an indexed article whose stem is `stem`."""
    analyzer = searcher.schema["body"].analyzer
    hits = searcher.search(Term("body", stem), limit=1)
    if not len(hits):
        return None
    for word in dict.fromkeys(re.findall(r"[^\W\d_]+", fold(hits[0]["body"]))):
        if [t.text for t in analyzer(word)] == [stem]:
            return word
    return None


# -- articles ---------------------------------------------------------------------------------

def _docnum(searcher: Searcher, article_id: str) -> int:
    """Return the document number of article `article_id`, or raise NotFound."""
    docnum = searcher.document_number(id=article_id)
    if docnum is None:
        raise NotFound(f"no article with id {article_id!r}")
    return docnum


def get_article(searcher: Searcher, article_id: str) -> dict[str, Any]:
    """Return one article's stored fields as plain data."""
    fields = searcher.stored_fields(_docnum(searcher, article_id))
    return {
        "id": fields["id"],
        "url": fields["url"],
        "canonical_url": fields["canonical_url"],
        "title": fields["title"],
        "body": fields.get("body", ""),
        "paragraphs": [p for p in fields.get("body", "").split("\n\n") if p],
        "published": iso(fields.get("published")),
        "modified": iso(fields.get("modified")),
        "authors": [a for a in (fields.get("authors") or "").split("; ") if a],
        "source": fields.get("source_key", ""),
        "host": fields.get("host", ""),
        "language": fields.get("language", ""),
        "summary": fields.get("summary", ""),
        "original_id": fields.get("cluster") if fields.get("cluster") != fields["id"] else None,
    }


def related(searcher: Searcher, article_id: str, limit: int = 5,
            recency: bool = False) -> dict[str, Any]:
    """Return the articles most similar in content to `article_id`: never itself, never a
    near-duplicate of it, one per near-duplicate group. The related-articles sidecar answers
    when it knows the article (`recency` then prefers stories close in time); otherwise
    Whoosh's more_like does."""
    if not 1 <= limit <= 50:
        raise QueryError("limit must be between 1 and 50")
    docnum = _docnum(searcher, article_id)
    fields = searcher.stored_fields(docnum)
    found = related_sidecar.lookup(searcher, fields, limit, recency=recency)
    if found is not None:
        return {"id": article_id, "results": [
            result_item(related_sidecar.StoredHit(f)) for f in found]}
    # Key terms from the body alone: adding the title lowered precision@5 on Reuters
    # (0.649 → 0.603 over 200 seeded stories, benchmarks/search.py).
    hits = searcher.more_like(docnum, "body", text=fields.get("body", ""), top=limit * 2 + 5,
                              numterms=10)
    seen = {fields.get("cluster", article_id)}
    items = []
    for hit in hits:
        cluster = hit.get("cluster", hit["id"])
        if cluster in seen:
            continue
        seen.add(cluster)
        items.append(result_item(hit))
        if len(items) == limit:
            break
    return {"id": article_id, "results": items}
