"""The vectorised query executor: evaluates a parsed Whoosh query over each segment's postings
as numpy arrays (postings.py) and does everything after matching on arrays (columns.py):
filters, exact totals with near-duplicates collapsed, every sort (`best` blended over all
matches), the page, and facets.

Scores are Whoosh's own: each term's score comes from the searcher's weighting object (the
scorer Whoosh would use, called on arrays), and compound queries combine them as Whoosh's
matchers do (sums; a NOT adds its constant 1.0; boosts multiply). Shapes it does not evaluate
raise Unsupported and the Whoosh path answers instead.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import numpy as np
from whoosh import query as wq
from whoosh.scoring import WeightLengthScorer, WeightScorer
from whoosh.searching import Searcher
from whoosh.util.times import datetime_to_long, long_to_datetime

from search_service.index.schema import NO_DATE
from search_service.index.schema import naive_utc as _naive
from search_service.index.whoosh_compat import FieldBM25F, score_arrays, stored_fields
from search_service.search import postings as raw
from search_service.search.columns import columns_of, segment_key
from search_service.search.facets import histogram
from search_service.search.params import SearchParams
from search_service.search.rank import blend_best
from search_service.search.rank import weighting as search_weighting

log = logging.getLogger(__name__)

#: Sets of segments (commits) whose index-wide columns are remembered.
KEEP_COMMITS = 4

#: Facet: sources listed.
TOP_SOURCES = 20


class Unsupported(Exception):
    """A query shape (or weighting) the executor does not evaluate: the Whoosh path answers."""


@dataclass
class Hit:
    """One ranked document, shaped like the parts of Whoosh's Hit that results use."""

    searcher: Searcher
    docnum: int
    score: float

    def fields(self) -> dict[str, Any]:
        """The document's stored fields."""
        return stored_fields(self.searcher, self.docnum)


@dataclass
class Page:
    """What a search shows: the exact number of distinct stories, the page's hits with their
    "similar" counts, and facets when asked for."""

    total: int
    hits: list[Hit]
    similar: list[int]
    partial: bool = False
    facets: dict[str, Any] | None = None


# -- evaluating a query over one segment -----------------------------------------------------

_EMPTY_IDS = np.zeros(0, dtype=np.int64)
_EMPTY_SCORES = np.zeros(0, dtype=np.float64)

Result = tuple[np.ndarray, np.ndarray]  # ascending document numbers, their scores


class _Terms:
    """One query's term lookups in the segments of its searcher, each made once: a term's
    info in each segment (its postings there, its document frequency) is read from the
    segment's term table by the first of the term's scorer and its postings to need it."""

    def __init__(self, readers: list):
        self.readers = readers
        self.found: dict[tuple, Any] = {}

    def info(self, index: int, fieldname: str, tbytes: bytes):
        """The term's info in segment `index` (None: not there)."""
        key = (index, fieldname, tbytes)
        try:
            return self.found[key]
        except KeyError:
            info = self.found[key] = raw.term_info(self.readers[index], fieldname, tbytes)
            return info

    def doc_frequency(self, fieldname: str, tbytes: bytes) -> int:
        """Documents holding the term in all the segments, deleted ones included (as
        Whoosh's `doc_frequency`)."""
        infos = (self.info(i, fieldname, tbytes) for i in range(len(self.readers)))
        return sum(info.doc_frequency() for info in infos if info is not None)


class _Segment:
    """One segment as a query sees it: its searcher, reader, columns and live documents."""

    def __init__(self, sub: Searcher, weighting, stats: tuple, scored: raw.PostingsCache,
                 terms: _Terms, index: int):
        self.terms, self.index = terms, index  # the query's lookups, this segment's place
        self.sub = sub
        self.stats = stats  # the commit and weighting that term statistics depend on
        self.scored = scored  # scored terms of that commit and weighting
        self.reader = sub.reader()
        self.schema = self.reader.schema
        self.weighting = weighting
        self.columns = columns_of(self.reader)
        self.live = self.columns.get("live", self.reader)
        self.has_deletions = self.reader.has_deletions()
        self.size = self.reader.doc_count_all()

    def column(self, name: str):
        return self.columns.get(name, self.reader)


def _term(seg: _Segment, fieldname: str, text, boost: float = 1.0,
          positions: bool = False) -> tuple[np.ndarray, np.ndarray, raw.Postings | None,
                                            np.ndarray | None]:
    """A term's live postings in the segment: ids, scores, and (for positions) the postings
    read and which of them are live (None: all). Scored results are remembered per commit
    (ScoredTerm), so a term asked again costs a dictionary lookup per segment."""
    key = (seg.columns.key, fieldname, text)
    found = seg.scored.get(key)
    if found is None or (positions and len(found.ids) and found.postings is None):
        found = _scored_term(seg, fieldname, text, positions)
        seg.scored.put(key, found)
    ids, scores = found.ids, found.scores
    if boost != 1.0:
        scores = scores * boost
    return ids, scores, found.postings, found.live


@dataclass(frozen=True)
class ScoredTerm:
    """One term's live postings in one segment, scored for one commit and weighting."""

    ids: np.ndarray  # int64 document numbers, ascending
    scores: np.ndarray  # float64
    postings: raw.Postings | None  # as read (deleted documents included), for phrases
    live: np.ndarray | None  # which postings are live (None: all)

    @property
    def nbytes(self) -> int:
        """Memory held (the postings read counted too, though the postings cache may hold
        them as well)."""
        return (self.ids.nbytes + self.scores.nbytes + 200
                + (0 if self.live is None else self.live.nbytes)
                + (0 if self.postings is None else self.postings.nbytes))


_NO_TERM = ScoredTerm(_EMPTY_IDS, _EMPTY_SCORES, None, None)


def _scored_term(seg: _Segment, fieldname: str, text, positions: bool) -> ScoredTerm:
    """Read and score a term's live postings in one segment."""
    if fieldname not in seg.schema:
        return _NO_TERM
    try:
        tbytes = seg.schema[fieldname].to_bytes(text)
    except ValueError:
        return _NO_TERM
    info = seg.terms.info(seg.index, fieldname, tbytes)
    if info is None:  # not in this segment
        return _NO_TERM
    found = raw.postings(seg.reader, fieldname, tbytes, info)
    if not len(found.ids):
        return _NO_TERM
    ids, weights, live = found.ids, found.weights.astype(np.float64), None
    if seg.has_deletions:
        keep = seg.live[ids]
        if not keep.all():
            live = np.flatnonzero(keep)
            ids, weights = ids[live], weights[live]
    scores = _score(seg, fieldname, tbytes, ids, weights)
    # The postings read are kept only for a phrase's positions (otherwise the postings
    # cache alone holds them, within its bound).
    return ScoredTerm(ids.astype(np.int64), scores, found if positions else None, live)


#: Share of the postings cache bound ($NEWS_SEARCH_POSTINGS_MB) given to scored terms on top
#: of it: a scored posting costs 16 bytes (int64 id, float64 score) against 8 decoded. On an
#: index between commits the scored terms are the working set (the decoded postings serve
#: only what is scored anew after a commit), hence the larger share.
SCORED_SHARE = 0.75
_scored_lock = threading.Lock()
#: The scored terms of the commit (and weighting) searched last: (its statistics key, cache).
_scored: tuple[tuple, raw.PostingsCache] | None = None


def forget() -> None:
    """Empty the caches of scored terms and scorers, and the postings cache under them."""
    global _scored
    with _scored_lock:
        _scored = None
    with _scorers_lock:
        _scorers.clear()
    raw.forget()


def scored_sizes() -> tuple[int, int, int]:
    """(bytes held, byte bound, entries) of the process's scored-term cache (0 held and 0
    entries before the first search)."""
    found = _scored
    if found is None:
        return 0, int(raw.cache_limit() * SCORED_SHARE), 0
    cache = found[1]
    return cache.held, cache.limit, len(cache.entries)


def scored_cache(stats: tuple) -> raw.PostingsCache:
    """The cache of scored terms for the commit and weighting `stats`. Scores hold only for
    one commit (idf and average lengths change with every commit), so the process keeps the
    cache of the commit searched last and drops the others' at once, scorers included: the
    byte bound alone would keep every earlier commit's dead entries (a running crawl commits
    every few seconds). A thread still searching the previous commit meanwhile scores anew."""
    global _scored
    with _scored_lock:
        if _scored is None or _scored[0] != stats:
            _scored = (stats, raw.PostingsCache(int(raw.cache_limit() * SCORED_SHARE)))
            with _scorers_lock:
                _scorers.clear()
        return _scored[1]


def _score(seg: _Segment, fieldname: str, tbytes: bytes, ids: np.ndarray,
           weights: np.ndarray) -> np.ndarray:
    """Score postings with the scorer the searcher's weighting makes for this term. A
    WeightLengthScorer's score depends on the term's index-wide statistics and the field
    length only (`_score(weight, length)`), so one scorer serves every segment."""
    key = (seg.stats, fieldname, tbytes)  # stats name the commit and the weighting
    with _scorers_lock:
        scorer = _scorers.get(key)
    if scorer is None:
        if isinstance(seg.weighting, FieldBM25F) and seg.schema[fieldname].scorable:
            scorer = seg.weighting.stats_scorer(seg.sub, fieldname,
                                                seg.terms.doc_frequency(fieldname, tbytes))
        else:
            scorer = seg.weighting.scorer(seg.sub, fieldname, tbytes)
        with _scorers_lock:
            _scorers[key] = scorer
            while len(_scorers) > KEEP_SCORERS:
                _scorers.popitem(last=False)
    if type(scorer) is WeightScorer:
        return weights
    if not isinstance(scorer, WeightLengthScorer):
        raise Unsupported(f"scorer {type(scorer).__name__}")
    lengths = seg.column(f"length:{fieldname}")
    if lengths is None:
        raise Unsupported(f"no lengths for {fieldname}")
    try:
        scores = np.asarray(score_arrays(scorer, weights, lengths[ids]), dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise Unsupported(f"scorer {type(scorer).__name__} is not vectorisable: {exc}") from None
    if scores.shape != ids.shape:
        scores = np.broadcast_to(scores, ids.shape).copy()
    return scores


#: Term scorers remembered (they hold a term's global statistics, so they are kept per
#: commit and weighting).
KEEP_SCORERS = 20000
_scorers_lock = threading.Lock()
_scorers: OrderedDict[tuple, Any] = OrderedDict()


def _union(parts: list[Result], size: int) -> Result:
    """Documents matching any part; scores summed over the parts they match (`size`: the
    segment's document count, for a dense accumulator when the parts are long)."""
    parts = [p for p in parts if len(p[0])]
    if not parts:
        return _EMPTY_IDS, _EMPTY_SCORES
    if len(parts) == 1:
        return parts[0]
    if sum(len(p[0]) for p in parts) * DENSE_SHARE > size:
        total = np.zeros(size, dtype=np.float64)
        seen = np.zeros(size, dtype=bool)
        for ids, scores in parts:  # a part's ids are distinct, so += adds each once
            total[ids] += scores
            seen[ids] = True
        ids = np.flatnonzero(seen)
        return ids, total[ids]
    ids = np.concatenate([p[0] for p in parts])
    scores = np.concatenate([p[1] for p in parts])
    # The parts are ascending runs, which a stable sort (timsort) merges in about linear time;
    # a document's scores are then added in the order of the parts.
    order = np.argsort(ids, kind="stable")
    ids, scores = ids[order], scores[order]
    first = np.empty(len(ids), dtype=bool)
    first[0] = True
    np.not_equal(ids[1:], ids[:-1], out=first[1:])
    starts = np.flatnonzero(first)
    return ids[starts], np.add.reduceat(scores, starts)


#: Unions whose parts hold more than 1/DENSE_SHARE of a segment's documents add into a dense
#: array instead of sorting.
DENSE_SHARE = 16


def _positions_in(ids: np.ndarray, sorted_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each of `ids`: whether it is in `sorted_ids`, and where."""
    where = np.searchsorted(sorted_ids, ids)
    where[where == len(sorted_ids)] = 0
    found = sorted_ids[where] == ids if len(sorted_ids) else np.zeros(len(ids), dtype=bool)
    return found, where


def _intersect(parts: list[Result]) -> Result:
    """Documents matching every part; scores summed."""
    parts = sorted(parts, key=lambda p: len(p[0]))
    ids, scores = parts[0]
    for other_ids, other_scores in parts[1:]:
        if not len(ids):
            break
        found, where = _positions_in(ids, other_ids)
        ids, scores = ids[found], scores[found] + other_scores[where[found]]
    return ids, scores


def _minus(a: Result, excluded: np.ndarray) -> Result:
    """`a` without the documents in `excluded`."""
    if not len(excluded) or not len(a[0]):
        return a
    keep = ~_positions_in(a[0], excluded)[0]
    return a[0][keep], a[1][keep]


def _complement(seg: _Segment, ids: np.ndarray, score: float) -> Result:
    """The live documents not in `ids`, each scored `score`."""
    mask = seg.live.copy()
    mask[ids] = False
    out = np.flatnonzero(mask).astype(np.int64)
    return out, np.full(len(out), score, dtype=np.float64)


def _phrase(seg: _Segment, node: wq.Phrase) -> Result:
    """Documents with the words at consecutive positions; scored as the sum of the words'
    term scores (as Whoosh's span matcher does)."""
    if node.slop != 1:
        raise Unsupported(f"phrase with slop {node.slop}")
    field = seg.schema[node.fieldname] if node.fieldname in seg.schema else None
    if field is None or not field.format.supports("positions"):
        raise Unsupported(f"phrase in {node.fieldname!r}, which has no positions")
    terms = [_term(seg, node.fieldname, word, positions=True) for word in node.words]
    if any(not len(t[0]) for t in terms):
        return _EMPTY_IDS, _EMPTY_SCORES
    ids, scores = _intersect([(t[0], t[1]) for t in terms])
    if not len(ids):
        return ids, scores
    # Key each candidate occurrence as (candidate, position − offset in the phrase): the
    # phrase occurs where a key is shared by every word.
    common = None
    for k, (term_ids, _, found, live) in enumerate(terms):
        where = np.searchsorted(term_ids, ids)
        if live is not None:
            where = live[where]
        positions, starts = raw.positions(  # read for the candidates only
            seg.reader, node.fieldname, seg.schema[node.fieldname].to_bytes(node.words[k]),
            found, where)
        owner = np.repeat(np.arange(len(ids), dtype=np.int64), np.diff(starts))
        keys = owner * PHRASE_KEY + (positions - k)
        # Ascending already (candidates ascend, and so do a posting's positions): checked,
        # in case a list's positions were not.
        if len(keys) > 1 and not (keys[1:] > keys[:-1]).all():
            keys = np.unique(keys)
        if common is None:
            common = keys
        else:  # the keys of `common` also in `keys`, both ascending
            found, _ = _positions_in(common, keys)
            common = common[found]
        if not len(common):
            return _EMPTY_IDS, _EMPTY_SCORES
    owners = common // PHRASE_KEY  # ascending
    keep = owners[np.concatenate(([True], owners[1:] != owners[:-1]))]
    ids, scores = ids[keep], scores[keep]
    return ids, scores * node.boost if node.boost != 1.0 else scores


#: Positions are below this (2^32), so (candidate, position) pairs fit one int64 key; a
#: negative position − offset (a word before the phrase could start) never matches the
#: first word's keys, which are all ≥ candidate·PHRASE_KEY.
PHRASE_KEY = 1 << 32


def _preloaded(seg: _Segment, clauses: int) -> bool:
    """Whether Whoosh's Or picks its preloading matcher for this many clauses in this segment
    (query.Or._matcher: small segments, not two clauses, under TOO_MANY_CLAUSES)."""
    return (clauses != 2 and clauses < wq.Or.TOO_MANY_CLAUSES
            and seg.reader.doc_count_all() <= PRELOAD_DOCS)


#: Segments up to this size get Whoosh's preloading Or (query.compound.Or._matcher).
PRELOAD_DOCS = 5000

_EXPANDING = (wq.Prefix, wq.Wildcard, wq.FuzzyTerm, wq.TermRange, wq.Variations)


def _evaluate(seg: _Segment, node: wq.Query) -> Result:
    """Evaluate `node` over one segment."""
    kind = type(node)
    if kind is wq.Term:
        return _term(seg, node.fieldname, node.text, node.boost)[:2]
    if kind is wq.And or kind is wq.Or:
        nots = [q for q in node.subqueries if type(q) is wq.Not]
        if kind is wq.And:
            positive = [_evaluate(seg, q) for q in node.subqueries if type(q) is not wq.Not]
            if positive:
                ids, scores = _intersect(positive)
                for q in nots:  # InverseMatcher: every document but the child's, scoring 1.0
                    ids, scores = _minus((ids, scores), _evaluate(seg, q.query)[0])
                    scores = scores + 1.0
            else:
                ids, scores = _intersect([_evaluate(seg, q) for q in node.subqueries])
        else:
            ids, scores = _union([_evaluate(seg, q) for q in node.subqueries], seg.size)
        if getattr(node, "scale", None):
            raise Unsupported("Or with a coordination scale")
        return ids, (scores * node.boost if node.boost != 1.0 else scores)
    if kind is wq.Not:
        return _complement(seg, _evaluate(seg, node.query)[0], 1.0)
    if kind is wq.Phrase:
        return _phrase(seg, node)
    if kind in _EXPANDING:
        if kind is wq.Prefix and node.text == "":
            raise Unsupported("empty prefix")
        words = [w for _, w in node.expanded_terms(seg.reader) if w]
        if not words:
            return _EMPTY_IDS, _EMPTY_SCORES
        if len(words) == 1:  # Whoosh uses the term alone (and drops the boost)
            return _term(seg, node.field(), words[0])[:2]
        parts = [_term(seg, node.field(), w)[:2] for w in words]
        if node.constantscore and _preloaded(seg, len(words)):
            # Whoosh's "constant score" Or of the expansion preloads unscored: every match
            # scores 1 (ArrayUnionMatcher, boost ignored).
            ids = _union(parts, seg.size)[0]
            return ids, np.ones(len(ids))
        ids, scores = _union(parts, seg.size)
        return ids, (scores * node.boost if node.boost != 1.0 else scores)
    if kind is wq.AndNot:
        return _minus(_evaluate(seg, node.a), _evaluate(seg, node.b)[0])
    if kind is wq.AndMaybe:
        a, b = _evaluate(seg, node.a), _evaluate(seg, node.b)
        found, where = _positions_in(a[0], b[0])
        scores = a[1].copy()
        scores[found] += b[1][where[found]]
        return a[0], scores
    if kind is wq.Require:
        a, b = _evaluate(seg, node.a), _evaluate(seg, node.b)
        keep = _positions_in(a[0], b[0])[0]
        return a[0][keep], a[1][keep]
    if kind is wq.ConstantScoreQuery:
        ids = _evaluate(seg, node.child)[0]
        return ids, np.full(len(ids), node.score, dtype=np.float64)
    if kind is wq.Every and not node.fieldname:
        ids = np.flatnonzero(seg.live).astype(np.int64)
        return ids, np.full(len(ids), node.boost, dtype=np.float64)
    if node is wq.NullQuery or kind is type(wq.NullQuery):
        return _EMPTY_IDS, _EMPTY_SCORES
    raise Unsupported(f"query type {kind.__name__}")


def match(searcher: Searcher, query: wq.Query, deadline: float | None = None,
          weighting=None) -> tuple[np.ndarray, np.ndarray, bool]:
    """Every live document `query` matches, as global document numbers (ascending) and
    Whoosh's scores for them by `weighting` (default: the searcher's), and whether the
    monotonic `deadline` passed first (segments not yet evaluated by then are left out)."""
    weighting = weighting if weighting is not None else searcher.weighting
    if getattr(weighting, "use_final", False):
        raise Unsupported(f"weighting {type(weighting).__name__} uses final()")
    ids_parts, score_parts = [_EMPTY_IDS], [_EMPTY_SCORES]
    stats = (searcher.reader().generation(), tuple(segment_key(sub.reader()) for sub, _ in
                                                   searcher.leaf_searchers()),
             type(weighting).__name__, repr(sorted(vars(weighting).items())))
    scored = scored_cache(stats)
    leaves = searcher.leaf_searchers()
    terms = _Terms([sub.reader() for sub, _ in leaves])
    for index, (sub, offset) in enumerate(leaves):
        if deadline is not None and time.monotonic() > deadline:
            return np.concatenate(ids_parts), np.concatenate(score_parts), True
        ids, scores = _evaluate(_Segment(sub, weighting, stats, scored, terms, index), query)
        ids_parts.append(ids + offset)
        score_parts.append(scores)
    return np.concatenate(ids_parts), np.concatenate(score_parts), False


# -- index-wide columns, per commit ------------------------------------------------------------

@dataclass
class IndexColumns:
    """Columns over global document numbers for one set of segments."""

    published: np.ndarray  # uint64 stamps, NO_DATE for undated
    group: np.ndarray  # int32 group number of near-duplicate groups of 2+, else -1
    groups: int
    live: np.ndarray  # bool, not deleted
    codes: dict[str, tuple[np.ndarray, list[bytes]]]


_lock = threading.Lock()
_commits: OrderedDict[tuple, IndexColumns] = OrderedDict()

#: Keyword fields numbered index-wide (for filters and facets).
CODED_FIELDS = ("source_key", "host", "language")


def index_columns(searcher: Searcher) -> IndexColumns:
    """The index-wide columns of the segments `searcher` reads (cached per commit)."""
    leaves = searcher.leaf_searchers()
    signature = tuple(segment_key(sub.reader()) for sub, _ in leaves)
    with _lock:
        found = _commits.get(signature)
        if found is not None:
            _commits.move_to_end(signature)
            return found
    readers = [sub.reader() for sub, _ in leaves]
    cols = [columns_of(r) for r in readers]
    if readers:
        published = np.concatenate([c.get("published", r) for c, r in zip(cols, readers,
                                                                         strict=True)])
        keys = np.concatenate([c.get("cluster", r) for c, r in zip(cols, readers, strict=True)])
        live = np.concatenate([c.get("live", r) for c, r in zip(cols, readers, strict=True)])
    else:
        published = np.zeros(0, dtype=np.uint64)
        keys = np.zeros(0, dtype="S1")
        live = np.zeros(0, dtype=bool)
    group = np.full(len(keys), -1, dtype=np.int32)
    groups = 0
    if live.any():
        unique, inverse, counts = np.unique(keys[live], return_inverse=True, return_counts=True)
        shared = counts > 1
        numbers = np.full(len(unique), -1, dtype=np.int32)
        numbers[shared] = np.arange(int(shared.sum()), dtype=np.int32)
        group[live] = numbers[inverse]
        groups = int(shared.sum())
    codes = {}
    for name in CODED_FIELDS:
        terms: dict[bytes, int] = {}
        parts = []
        for c, r in zip(cols, readers, strict=True):
            seg_codes = c.get(f"codes:{name}", r)
            mapping = np.array([terms.setdefault(t, len(terms)) for t in seg_codes.terms] + [-1],
                               dtype=np.int32)
            parts.append(mapping[seg_codes.codes])  # -1 indexes the trailing -1
        codes[name] = (np.concatenate(parts) if parts else np.zeros(0, dtype=np.int32),
                       list(terms))
    found = IndexColumns(published, group, groups, live, codes)
    with _lock:
        _commits[signature] = found
        while len(_commits) > KEEP_COMMITS:
            _commits.popitem(last=False)
    return found


# -- a whole search ----------------------------------------------------------------------------

def _filter(cols: IndexColumns, params: SearchParams, docnums: np.ndarray) -> np.ndarray:
    """A mask over `docnums`: those passing the date, source and language filters."""
    keep = np.ones(len(docnums), dtype=bool)
    if params.date_from or params.date_to:
        low = datetime_to_long(_naive(params.date_from)) if params.date_from else 0
        high = datetime_to_long(_naive(params.date_to)) if params.date_to else NO_DATE - 1
        stamps = cols.published[docnums]
        keep &= (stamps >= np.uint64(low)) & (stamps <= np.uint64(high))
    if params.sources:
        wanted = {s.encode("utf-8") for s in params.sources}
        either = np.zeros(len(docnums), dtype=bool)
        for name in ("source_key", "host"):
            codes, terms = cols.codes[name]
            numbers = [n for n, t in enumerate(terms) if t in wanted]
            either |= np.isin(codes[docnums], numbers)
        keep &= either
    if params.lang:
        codes, terms = cols.codes["language"]
        wanted_lang = params.lang.lower().encode("utf-8")
        number = terms.index(wanted_lang) if wanted_lang in terms else -2
        keep &= codes[docnums] == number
    return keep


def _order_key(sort: str, scores: np.ndarray, stamps: np.ndarray, take: int) -> np.ndarray:
    """A key per match for the orders by relevance, larger first (for `best`, exact for the
    first `take` matches); `newest` and `oldest` are ordered by their stamps (_ranked), so
    their key is the scores, unused."""
    if sort == "best":
        now = datetime_to_long(datetime.now(timezone.utc).replace(tzinfo=None))
        return blend_best(scores, stamps, now, top=take)
    return scores


def _ranked(key: np.ndarray, docnums: np.ndarray, stamps: np.ndarray, sort: str,
            count: int) -> np.ndarray:
    """Positions of the `count` first matches (or more, on ties), key descending, then by
    document number; stamps order dated matches exactly (floats could round them)."""
    if sort in ("newest", "oldest"):
        # Exact integer order: undated last, ties by document number.
        dated = stamps != np.uint64(NO_DATE)
        primary = np.where(dated, stamps, np.uint64(0))
        if sort == "newest":
            order = np.lexsort((docnums, ~primary, ~dated))
        else:
            order = np.lexsort((docnums, primary, ~dated))
        return order[:count]
    n = len(key)
    if count < n:
        threshold = np.partition(key, n - count)[n - count]
        chosen = np.flatnonzero(key >= threshold)
    else:
        chosen = np.arange(n)
    order = np.lexsort((docnums[chosen], -key[chosen]))
    return chosen[order]


def filtered_matches(searcher: Searcher, text_query: wq.Query, params: SearchParams,
                     browsing: bool, deadline: float | None = None
                     ) -> tuple[IndexColumns, np.ndarray, np.ndarray, bool]:
    """The index-wide columns, the live documents the request matches with every filter
    applied (ascending global numbers) and their scores, and whether `deadline` passed
    first. Browsing (no words) matches every live document, scored 1."""
    if not searcher.doc_count_all():
        raise Unsupported("an index without documents")
    cols = index_columns(searcher)
    if browsing:
        docnums = np.flatnonzero(cols.live).astype(np.int64)
        scores = np.ones(len(docnums))
        partial = False
    else:
        # Scored as the Whoosh path scores (engine._run): by rank.weighting(), whatever
        # model the searcher was opened with.
        docnums, scores, partial = match(searcher, text_query, deadline,
                                         weighting=search_weighting())
    keep = _filter(cols, params, docnums)
    if params.collections:
        keep &= np.isin(docnums, _in_collections(searcher, params.collections))
    if not keep.all():
        docnums, scores = docnums[keep], scores[keep]
    return cols, docnums, scores, partial


def execute(searcher: Searcher, text_query: wq.Query, params: SearchParams, sort: str,
            browsing: bool) -> Page:
    """Run a search over arrays: match, filter, count stories, rank, collapse, page."""
    if not searcher.doc_count_all():
        raise Unsupported("an index without documents")
    started = time.monotonic()
    cols, docnums, scores, partial = filtered_matches(searcher, text_query, params, browsing,
                                                      started + params.time_limit)
    groups = cols.group[docnums]
    members = groups[groups >= 0]
    counts = np.bincount(members, minlength=cols.groups) if len(members) else \
        np.zeros(cols.groups, dtype=np.int64)
    hidden = int(np.maximum(counts - 1, 0).sum())
    total = len(docnums) - hidden
    stamps = cols.published[docnums]
    wanted = params.page * params.per_page
    take = min(len(docnums), wanted + min(hidden, wanted) + 16)
    while True:
        key = _order_key(sort, scores, stamps, take)
        order = _ranked(key, docnums, stamps, sort, take)
        story = np.where(groups[order] >= 0, groups[order], -1 - np.arange(len(order)))
        _, first = np.unique(story, return_index=True)
        shown = order[np.sort(first)]
        if len(shown) >= wanted or take >= len(docnums):
            break
        take = min(len(docnums), take * 4)
    shown = shown[(params.page - 1) * params.per_page: wanted]
    hits = [Hit(searcher, int(docnums[i]), float(scores[i])) for i in shown]
    similar = [int(counts[groups[i]]) - 1 if groups[i] >= 0 else 0 for i in shown]
    page = Page(total, hits, similar, partial)
    if params.facets:
        page.facets = _facets(cols, docnums)
        page.facets["collections"] = _collection_counts(searcher, docnums)
    return page


def _collection_postings(searcher: Searcher) -> dict[str, np.ndarray]:
    """Each collection's global document numbers (sorted), from the `collection` postings."""
    found: dict[str, list[np.ndarray]] = {}
    for sub, offset in searcher.leaf_searchers():
        reader = sub.reader()
        if "collection" not in reader.schema:
            continue
        for tbytes in raw.lexicon(reader, "collection"):
            ids = raw.postings(reader, "collection", tbytes).ids.astype(np.int64) + offset
            found.setdefault(tbytes.decode("utf-8"), []).append(ids)
    return {name: np.concatenate(parts) for name, parts in found.items()}


def _in_collections(searcher: Searcher, names: tuple[str, ...]) -> np.ndarray:
    """Global document numbers in any of the collections `names`."""
    postings = _collection_postings(searcher)
    parts = [postings[name] for name in names if name in postings]
    return np.unique(np.concatenate(parts)) if parts else np.zeros(0, dtype=np.int64)


def _collection_counts(searcher: Searcher, docnums: np.ndarray) -> list[dict[str, Any]]:
    """Matches per collection (a match may be in several), most first, as facets() counts."""
    counts = [(name, int(np.isin(ids, docnums).sum()))
              for name, ids in _collection_postings(searcher).items() if name]
    return [{"collection": name, "count": n}
            for name, n in sorted(counts, key=lambda kv: (-kv[1], kv[0])) if n]


def _facets(cols: IndexColumns, docnums: np.ndarray) -> dict[str, Any]:
    """Matches per source (top 20) and the publication-date histogram, by counting arrays."""
    codes, terms = cols.codes["source_key"]
    found = codes[docnums]
    counted = np.bincount(found[found >= 0], minlength=len(terms)) if len(found) else []
    sources = [(terms[n].decode("utf-8"), int(c)) for n, c in enumerate(counted) if c]
    missing = int((found < 0).sum())
    if missing:
        sources.append(("", missing))
    stamps = cols.published[docnums]
    stamps = stamps[stamps != np.uint64(NO_DATE)]
    unique, per = np.unique(stamps, return_counts=True)
    days = {long_to_datetime(int(s)): int(n) for s, n in zip(unique, per, strict=True)}
    return {
        "sources": [{"source": s, "count": n} for s, n in
                    sorted(sources, key=lambda kv: (-kv[1], kv[0]))[:TOP_SOURCES]],
        "dates": histogram(days),
    }
