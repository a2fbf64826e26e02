"""Relevance benchmark on the Reuters corpus: ours (each sort) vs plain Whoosh vs SQLite FTS5.

Usage: python -m benchmarks.relevance [--known 600] [--seed 1987] [--half test|tuning|both]
                                      [--variants] [--misses] [--work DIR]
       python -m benchmarks.relevance --tune grid|band|expand|feedback [--seed N] [--work DIR]
       python -m benchmarks.relevance --speed ROUNDS [--half ...] [--work DIR]

Builds three indexes of the same stories (ours through the project's writer, plain Whoosh
with its default analyzers and BM25F, SQLite FTS5 with `porter unicode61` ranked by its
default `bm25`, as Datasette orders), or reuses them from `--work`. Then, from seeded query
sets split into a tuning and a test half (report the test half; parameters are chosen on the
tuning half with `--tune grid` and `--tune band`):

- known-item: three of a story's six rarest body words (in at least two stories), OR-ed; the
  target is that story. MRR@10, success@1, success@10. Targets are stories with a unique
  body that our near-duplicate detection puts in no group.
- topical: a Reuters topic that is a plain word (coffee, gold, …), alone, and with a place
  that is a plain word (`coffee brazil`); relevant: the stories labelled with the topic (and
  the place). P@10 and nDCG@10. Topics, not queries, are split into halves.

Ours shows near-duplicate copies once; the main table counts the peers' results the same way
(their copies dropped, by our index's groups, before taking ten), a second table as listed.
With `--variants`, ours also runs `relevance` without the place expansion (expand.py: a
country's name and demonym searched together, on by default) and with pseudo-relevance
feedback, each timed beside the default. `--tune expand` sweeps the expansion's variant boost,
`--tune feedback` the feedback's boost and number of words, on the tuning half.
Topic and place labels are used for scoring only: no engine sees them. For ours it also
prints how often, among pairs of shown stories whose relevance scores are within
`--close` of each other, the newer one comes first (the `best` blend's promise).
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import math
import random
import re
import shutil
import sqlite3
import statistics
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from datetime import datetime, timezone
from pathlib import Path

from tests.support.corpus import articles, stories

SORTS = ("best", "relevance", "newest", "oldest")
#: Topic codes that are abbreviations, not words (and `earn`, a code for results reports).
NOT_WORDS = {"acq", "alum", "bop", "cpi", "dlr", "dmk", "earn", "gnp", "ipi", "lei", "stg",
             "wpi"}
#: Results fetched from the peers, so that ten distinct stories remain once copies go.
DEPTH = 30


# -- query sets --------------------------------------------------------------------------------

def words_of(text: str) -> list[str]:
    """Lower-case alphabetic words of four letters or more."""
    return re.findall(r"[a-z]{4,}", text.lower())


def known_items(raw: list[dict], grouped: set[str], count: int, seed: int) -> list[dict]:
    """Seeded known-item queries: three of a story's rarest body words; half tuning, half test."""
    from whoosh.analysis import STOP_WORDS
    df = Counter(w for s in raw for w in set(words_of(s["body"])))
    bodies = Counter(_digest(s["body"]) for s in raw)
    eligible = [s for s in raw if len(words_of(s["body"])) >= 50 and s["id"] not in grouped
                and bodies[_digest(s["body"])] == 1]
    rng = random.Random(seed)
    queries = []
    for i, story in enumerate(rng.sample(eligible, count)):
        rare = sorted({w for w in words_of(story["body"])
                       if df[w] >= 2 and w not in STOP_WORDS}, key=lambda w: (df[w], w))
        words = rng.sample(rare[:6], 3)
        queries.append({"words": words, "op": "OR", "relevant": {story["id"]},
                        "half": ("tuning", "test")[i % 2]})
    return queries


def topical(raw: list[dict], seed: int) -> list[dict]:
    """Topic-word queries (alone and with a place word); topics split into two halves."""
    text_df = Counter(w for s in raw for w in set(words_of(s["title"] + " " + s["body"])))
    by_topic: dict[str, set[str]] = defaultdict(set)
    by_place: dict[str, set[str]] = defaultdict(set)
    for s in raw:
        for t in s["topics"]:
            by_topic[t].add(s["id"])
        for p in s["places"]:
            by_place[p].add(s["id"])
    topics = sorted(t for t, ids in by_topic.items() if t.isalpha() and t not in NOT_WORDS
                    and len(ids) >= 10 and text_df[t] >= 20)
    places = sorted(p for p in by_place if p.isalpha() and p not in ("usa", "uk")
                    and text_df[p] >= 50)
    rng = random.Random(seed)
    rng.shuffle(topics)
    queries = []
    for i, topic in enumerate(topics):
        half = ("tuning", "test")[i % 2]
        queries.append({"words": [topic], "op": "AND", "relevant": by_topic[topic],
                        "half": half})
        for place in places:
            both = by_topic[topic] & by_place[place]
            if len(both) >= 10:
                queries.append({"words": [topic, place], "op": "AND", "relevant": both,
                                "half": half})
    return queries


def _digest(text: str) -> str:
    """A digest of `text` with white space collapsed."""
    return hashlib.sha1(" ".join(text.split()).encode()).hexdigest()


# -- measures ----------------------------------------------------------------------------------

def reciprocal_rank(ranked: list[str], relevant: set[str]) -> float:
    """1/rank of the first relevant story in the top 10 (0 if none)."""
    return next((1 / (i + 1) for i, sid in enumerate(ranked[:10]) if sid in relevant), 0.0)


def precision(ranked: list[str], relevant: set[str]) -> float:
    """Share of the top 10 that is relevant (missing places count as misses)."""
    return sum(1 for sid in ranked[:10] if sid in relevant) / 10


def ndcg(ranked: list[str], relevant: set[str], groups: dict[str, str] | None = None) -> float:
    """nDCG@10 with binary gains (with `groups`, the ideal list holds no two copies)."""
    dcg = sum(1 / math.log2(i + 2) for i, sid in enumerate(ranked[:10]) if sid in relevant)
    best = len({groups.get(sid, sid) for sid in relevant}) if groups else len(relevant)
    ideal = sum(1 / math.log2(i + 2) for i in range(min(10, best)))
    return dcg / ideal if ideal else 0.0


def measures(runs: dict[str, list[list[str]]], known: list[dict], topics: list[dict],
             groups: dict[str, str] | None = None) -> dict[str, dict[str, float]]:
    """Per run: known-item MRR@10, success@1/@10, topical P@10 and nDCG@10."""
    out = {}
    for name, ranked in runs.items():
        k = list(zip(ranked[:len(known)], (q["relevant"] for q in known), strict=True))
        t = list(zip(ranked[len(known):], (q["relevant"] for q in topics), strict=True))
        out[name] = {
            "MRR@10": statistics.mean(reciprocal_rank(r, rel) for r, rel in k),
            "success@1": statistics.mean(float(r[:1] != [] and r[0] in rel) for r, rel in k),
            "success@10": statistics.mean(float(reciprocal_rank(r, rel) > 0) for r, rel in k),
            "topical P@10": statistics.mean(precision(r, rel) for r, rel in t),
            "topical nDCG@10": statistics.mean(ndcg(r, rel, groups) for r, rel in t),
        }
    return out


# -- engines -----------------------------------------------------------------------------------

def story_of(url: str) -> str:
    """The story id of an article URL."""
    return url.rsplit("/", 1)[-1]


def build_ours(raw: list[dict], path: Path) -> None:
    """Index the stories with the project's writer (near-duplicates linked as in production)."""
    from search_service.index.schema import open_index
    from search_service.index.writer import ArticleWriter
    ix = open_index(path, create=True)
    with ArticleWriter(ix, batch=5000, interval=3600) as writer:
        for article in articles(raw):
            writer.add(article)


def story_groups(path: Path) -> dict[str, str]:
    """Story id → its near-duplicate group in our index (the group's first story)."""
    from search_service.index.schema import open_index
    groups = {}
    with open_index(path).searcher() as searcher:
        for fields in searcher.all_stored_fields():
            groups[story_of(fields["url"])] = fields["cluster"]
    return groups


def grouped(groups: dict[str, str]) -> set[str]:
    """Story ids that share their near-duplicate group with another story."""
    sizes = Counter(groups.values())
    return {sid for sid, group in groups.items() if sizes[group] > 1}


def distinct(ranked: list[str], groups: dict[str, str]) -> list[str]:
    """`ranked` with later copies of a near-duplicate group left out (as ours shows them)."""
    seen: set[str] = set()
    out = []
    for sid in ranked:
        group = groups.get(sid, sid)
        if group not in seen:
            seen.add(group)
            out.append(sid)
    return out


def query_text(q: dict) -> str:
    """The query as our (and Whoosh's) syntax: words joined by OR or AND."""
    return f" {q['op']} ".join(q["words"])


def run_ours(path: Path, queries: list[dict], close: float, variants: bool = False
             ) -> tuple[dict, dict, dict]:
    """Ranked story ids per sort through `search`, how often `best` puts the newer of two
    comparably scored shown stories first (with `relevance` as the baseline), and seconds
    per run and query kind (known-item, topical). With `variants`, also `relevance` without
    place expansion and with pseudo-relevance feedback (each timed, as the default is)."""
    from search_service.index.schema import open_index
    from search_service.search.engine import search
    from search_service.search.expand import expand_query
    from search_service.search.params import SearchParams
    from search_service.search.parse import parse_query
    from search_service.search.rank import weighting
    runs: dict[str, list[list[str]]] = {sort: [] for sort in SORTS}
    extra = {"relevance, no expansion": {"expand": False},
             "relevance, feedback": {"feedback": True}} if variants else {}
    runs |= {name: [] for name in extra}
    took = {name: {"known-item": 0.0, "topical": 0.0} for name in runs}
    pairs = {sort: [0, 0] for sort in ("best", "relevance")}
    with open_index(path).searcher(weighting=weighting()) as searcher:
        for q in queries:
            shown = {}
            kind = "known-item" if q["op"] == "OR" else "topical"
            for name in runs:
                options = extra.get(name, {"sort": name})
                params = SearchParams(q=query_text(q), per_page=10,
                                      **{"sort": "relevance"} | options)
                started = time.perf_counter()
                data = search(searcher, params)
                took[name][kind] += time.perf_counter() - started
                runs[name].append([story_of(r["url"]) for r in data["results"]])
                shown[name] = [(story_of(r["url"]), r["published"]) for r in data["results"]]
            query = expand_query(searcher, parse_query(searcher, query_text(q)))[0]
            scored = {story_of(hit["url"]): hit.score for hit in searcher.search(
                query, limit=200)}
            for sort in pairs:
                newer, total = newer_first(shown[sort], scored, close)
                pairs[sort][0] += newer
                pairs[sort][1] += total
    return runs, pairs, took


def newer_first(shown: list[tuple[str, str]], scores: dict[str, float],
                close: float) -> tuple[int, int]:
    """Among pairs of shown stories with distinct dates whose scores are within `close`
    (relative) of each other: how many have the newer one first, and how many there are."""
    newer = total = 0
    for (a, date_a), (b, date_b) in itertools.combinations(shown, 2):
        if a not in scores or b not in scores or None in (date_a, date_b) or date_a == date_b:
            continue
        high, low = max(scores[a], scores[b]), min(scores[a], scores[b])
        if low >= high * (1 - close):
            total += 1
            newer += date_a > date_b
    return newer, total


def build_whoosh(raw: list[dict], path: Path) -> None:
    """Plain Whoosh the obvious way: default analyzers and schema, one writer."""
    from whoosh import fields, index
    schema = fields.Schema(url=fields.ID(stored=True, unique=True), title=fields.TEXT(),
                           body=fields.TEXT())
    path.mkdir(parents=True)
    ix = index.create_in(str(path), schema)
    writer = ix.writer(limitmb=256)
    for article in articles(raw):
        writer.add_document(url=article.url, title=article.title, body=article.body)
    writer.commit()


def run_whoosh(path: Path, queries: list[dict]) -> list[list[str]]:
    """Whoosh's default BM25F over title and body through its MultifieldParser."""
    from whoosh import index, qparser
    ix = index.open_dir(str(path))
    parser = qparser.MultifieldParser(["title", "body"], ix.schema)
    with ix.searcher() as searcher:
        return [[story_of(hit["url"]) for hit in searcher.search(parser.parse(query_text(q)),
                                                                  limit=DEPTH)]
                for q in queries]


def build_fts5(raw: list[dict], path: Path) -> None:
    """SQLite FTS5 from the standard library, porter stemming."""
    db = sqlite3.connect(path)
    db.execute("CREATE VIRTUAL TABLE a USING fts5(url UNINDEXED, title, body, "
               "tokenize='porter unicode61')")
    db.executemany("INSERT INTO a VALUES (?, ?, ?)",
                   ((x.url, x.title, x.body) for x in articles(raw)))
    db.commit()
    db.close()


def run_fts5(path: Path, queries: list[dict]) -> list[list[str]]:
    """FTS5 ordered by its default bm25 rank (equal column weights), as Datasette does."""
    db = sqlite3.connect(path)
    out = []
    for q in queries:
        match = f" {q['op']} ".join(f'"{w}"' for w in q["words"])
        rows = db.execute("SELECT url FROM a WHERE a MATCH ? ORDER BY rank LIMIT ?", [match, DEPTH])
        out.append([story_of(url) for (url,) in rows])
    return out


def built(path: Path, build: Callable[[list[dict], Path], None], raw: list[dict]) -> Path:
    """`path`, built first if missing (our index also if an older schema version made it)."""
    if build is build_ours and path.exists():
        from search_service.index.schema import IndexVersionError, open_index
        try:
            open_index(path)
        except IndexVersionError as exc:
            print(f"{exc}: rebuilding it", file=sys.stderr, flush=True)
            shutil.rmtree(path)
    if not path.exists():
        started = time.perf_counter()
        print(f"building {path.name} …", file=sys.stderr, flush=True)
        build(raw, path)
        print(f"  {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
    return path


# -- tuning ------------------------------------------------------------------------------------

def tune(path: Path, known: list[dict], topics: list[dict], groups: dict[str, str],
         min_mrr: float) -> None:
    """Grid over the title's weight and idf (its own or fixed) and the body's b on the tuning
    half: the relevance order scored straight through Whoosh with `weighting(...)`, copies
    shown once as ours shows them. Prints every point, then the best five by topical P@10 +
    nDCG@10 among those keeping known-item MRR@10 at `min_mrr` or more."""
    from search_service.index.schema import open_index
    from search_service.search.parse import parse_query
    from search_service.search.rank import weighting
    grid = {
        "title_IDF": (None, 5.0), "title_W": (0.2, 0.35, 0.5),
        "body_K1": (0.9,), "body_B": (0.2, 0.4),
    }
    queries = known + topics
    rows = []
    ix = open_index(path)
    for values in itertools.product(*grid.values()):
        p = dict(zip(grid, values, strict=True))
        with ix.searcher(weighting=weighting(**p)) as searcher:
            ranked = [distinct([story_of(h["url"]) for h in searcher.search(
                parse_query(searcher, query_text(q)), limit=DEPTH)], groups)
                for q in queries]
        m = measures({"x": ranked}, known, topics, groups)["x"]
        rows.append((m["MRR@10"] >= min_mrr, m["topical P@10"] + m["topical nDCG@10"], p, m))
        print(json.dumps({**p, **{k: round(v, 3) for k, v in m.items()}}), flush=True)
    rows.sort(key=lambda r: r[:2], reverse=True)
    print(f"best five (topical P@10 + nDCG@10, known-item MRR@10 >= {min_mrr}):")
    for _, _, p, m in rows[:5]:
        print(json.dumps({**p, **{k: round(v, 3) for k, v in m.items()}}))


def tune_band(path: Path, known: list[dict], topics: list[dict], groups: dict[str, str],
              close: float) -> None:
    """The `best` order for several bands on the tuning half: blend_best over each query's
    top 200 by relevance (as rank_best does), copies shown once; known-item MRR@10, topical
    P@10 and how often the newer of two comparably scored shown stories comes first."""
    import numpy as np
    from whoosh.util.times import datetime_to_long

    from search_service.index.schema import open_index
    from search_service.search.parse import parse_query
    from search_service.search.rank import _stamps, blend_best, weighting
    queries = known + topics
    ix = open_index(path)
    with ix.searcher(weighting=weighting()) as searcher:
        found = []
        for q in queries:
            hits = list(searcher.search(parse_query(searcher, query_text(q)), limit=200))
            stamps = _stamps(searcher, [hit.docnum for hit in hits])
            found.append(([story_of(h["url"]) for h in hits], np.array([h.score for h in hits]),
                          np.array([stamps[h.docnum] for h in hits], dtype=np.uint64),
                          [h.get("published") for h in hits]))
    now = datetime_to_long(datetime.now(timezone.utc).replace(tzinfo=None))
    for band in (0.0, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2):
        ranked, newer, total = [], 0, 0
        for ids, scores, stamps, dates in found:
            order = np.argsort(-blend_best(scores, stamps, now, band=band), kind="stable")
            shown = set(distinct([ids[i] for i in order], groups)[:10])
            order = [i for i in order if ids[i] in shown]
            ranked.append([ids[i] for i in order])
            n, t = newer_first([(ids[i], dates[i]) for i in order],
                               dict(zip(ids, scores, strict=True)), close)
            newer, total = newer + n, total + t
        m = measures({"x": ranked}, known, topics, groups)["x"]
        print(json.dumps({"band": band, **{k: round(v, 3) for k, v in m.items()},
                          "newer first": f"{newer}/{total}"}), flush=True)


def tune_expansion(path: Path, known: list[dict], topics: list[dict], groups: dict[str, str],
                   kind: str) -> None:
    """Sweep the place expansion's variant boost (`kind` "expand") or the feedback's boost and
    number of words (`kind` "feedback", over the place-expanded query) on the tuning half:
    the relevance order scored straight through Whoosh, copies shown once."""
    from search_service.index.schema import open_index
    from search_service.search.expand import expand_places, feedback
    from search_service.search.parse import parse_query
    from search_service.search.rank import weighting
    if kind == "expand":
        points = {f"variant boost {b}": (lambda s, q, b=b: expand_places(s, q, boost=b)[0]
                                         if b else q) for b in (0, 0.25, 0.5, 0.75, 1.0)}
    else:
        points = {f"feedback boost {b}, {n} words": (
            lambda s, q, b=b, n=n: feedback(s, expand_places(s, q)[0], terms=n, boost=b)[0]
            if b else expand_places(s, q)[0])
            for b in (0, 0.1, 0.2, 0.3, 0.5) for n in ((10,) if not b else (5, 10, 20))}
    queries = known + topics
    with open_index(path).searcher(weighting=weighting()) as searcher:
        for label, change in points.items():
            started = time.perf_counter()
            ranked = [distinct([story_of(h["url"]) for h in searcher.search(
                change(searcher, parse_query(searcher, query_text(q))), limit=DEPTH)], groups)
                for q in queries]
            seconds = time.perf_counter() - started
            m = measures({"x": ranked}, known, topics, groups)["x"]
            print(json.dumps({"point": label, **{k: round(v, 3) for k, v in m.items()},
                              "ms a query": round(1000 * seconds / len(queries), 2)}),
                  flush=True)


def speed(path: Path, queries: list[dict], rounds: int) -> None:
    """Median ms a search through `engine.search` (sort=relevance, the executor's path) with
    the place expansion (the default), without it, and with feedback: the three interleaved
    per query and round, so that the machine's load falls on all alike."""
    from search_service.index.schema import open_index
    from search_service.search.engine import search
    from search_service.search.params import SearchParams
    from search_service.search.rank import weighting
    options = {"expanded (default)": {}, "no expansion": {"expand": False},
               "expanded + feedback": {"feedback": True}}
    for kind in ("known-item", "topical"):
        chosen = [q for q in queries if (q["op"] == "OR") == (kind == "known-item")]
        took: dict[str, list[float]] = {name: [] for name in options}
        with open_index(path).searcher(weighting=weighting()) as searcher:
            for q in chosen:  # warm: postings decoded, caches filled
                for extra in options.values():
                    search(searcher, SearchParams(q=query_text(q), sort="relevance", **extra))
            for _ in range(rounds):
                for q in chosen:
                    for name, extra in options.items():
                        params = SearchParams(q=query_text(q), sort="relevance", **extra)
                        started = time.perf_counter()
                        search(searcher, params)
                        took[name].append(time.perf_counter() - started)
        base = statistics.median(took["expanded (default)"])
        print(f"{kind} ({len(chosen)} queries x {rounds} rounds): " + "; ".join(
            f"{name} {1000 * statistics.median(t):.2f} ms ({statistics.median(t) / base:.2f}x)"
            for name, t in took.items()), flush=True)


# -- driver ------------------------------------------------------------------------------------

def table(rows: Iterable[tuple[str, dict[str, float]]]) -> None:
    """Print measures side by side."""
    header = ("engine", "MRR@10", "success@1", "success@10", "topical P@10", "topical nDCG@10")
    cells = [header] + [(name, *(f"{m[h]:.3f}" for h in header[1:])) for name, m in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    for row in cells:
        print("  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                        for i, (c, w) in enumerate(zip(row, widths, strict=True))))


def main() -> None:
    """Build or reuse the indexes, make the query sets, run every engine, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--known", type=int, default=600, help="known-item queries (both halves)")
    parser.add_argument("--seed", type=int, default=1987)
    parser.add_argument("--half", choices=("tuning", "test", "both"), default="test")
    parser.add_argument("--close", type=float, default=0.05,
                        help="scores within this share of each other count as comparable")
    parser.add_argument("--work", type=Path, default=Path("/tmp/relevance-bench"),
                        help="where the indexes are kept between runs")
    parser.add_argument("--tune", choices=("grid", "band", "expand", "feedback"),
                        help="grid-search BM25F parameters, or sweep the best band, on the "
                        "tuning half")
    parser.add_argument("--min-mrr", type=float, default=0.925,
                        help="--tune grid: the known-item MRR@10 a chosen point must keep")
    parser.add_argument("--speed", type=int, default=0, metavar="ROUNDS",
                        help="only time searches with and without the expansion and with "
                        "feedback (median ms, interleaved, ROUNDS rounds)")
    parser.add_argument("--variants", action="store_true",
                        help="also sort=relevance without place expansion and with "
                        "pseudo-relevance feedback, timed")
    parser.add_argument("--misses", action="store_true",
                        help="print each topical query's precision and the wrong stories shown")
    args = parser.parse_args()
    raw = stories()
    args.work.mkdir(parents=True, exist_ok=True)
    ours = built(args.work / "ours", build_ours, raw)
    groups = story_groups(ours)
    known = known_items(raw, grouped(groups), args.known, args.seed)
    topics = topical(raw, args.seed)
    if args.speed:
        for half in (("tuning", "test") if args.half == "both" else (args.half,)):
            speed(ours, [q for q in known + topics if q["half"] == half], args.speed)
        return
    if args.tune in ("expand", "feedback"):
        tune_expansion(ours, [q for q in known if q["half"] == "tuning"],
                       [q for q in topics if q["half"] == "tuning"], groups, args.tune)
        return
    if args.tune == "band":
        tune_band(ours, [q for q in known if q["half"] == "tuning"],
                  [q for q in topics if q["half"] == "tuning"], groups, args.close)
        return
    if args.tune:
        tune(ours, [q for q in known if q["half"] == "tuning"],
             [q for q in topics if q["half"] == "tuning"], groups, args.min_mrr)
        return
    whoosh_path = built(args.work / "whoosh", build_whoosh, raw)
    fts5_path = built(args.work / "fts5.db", build_fts5, raw)
    for half in (("tuning", "test") if args.half == "both" else (args.half,)):
        report(half, raw, [q for q in known if q["half"] == half],
               [q for q in topics if q["half"] == half], ours, whoosh_path, fts5_path, groups,
               args.close, args.misses, args.variants)


def report(half: str, raw: list[dict], known: list[dict], topics: list[dict], ours: Path,
           whoosh_path: Path, fts5_path: Path, groups: dict[str, str], close: float,
           misses: bool, variants: bool = False) -> None:
    """Run every engine on one half's queries and print the tables (and, with `misses`, each
    topical query's precision and the wrong stories ours shows)."""
    queries = known + topics
    print(f"\n{half} half: {len(known)} known-item queries, {len(topics)} topical queries "
          f"({len({q['words'][0] for q in topics})} topics); {len(raw):,} stories",
          flush=True)
    runs, pairs, took = run_ours(ours, queries, close, variants)
    whoosh = run_whoosh(whoosh_path, queries)
    fts5 = run_fts5(fts5_path, queries)
    peers = {"plain Whoosh (defaults)": whoosh, "SQLite FTS5 bm25": fts5}
    print("\nDistinct stories (near-duplicate copies shown once, as ours shows them):")
    table(measures({f"ours, sort={sort}": r for sort, r in runs.items()}
                   | {name: [distinct(r, groups) for r in ranked]
                      for name, ranked in peers.items()}, known, topics, groups).items())
    print("\nAs listed (the peers' copies count as further results):")
    table(measures({"ours, sort=relevance": runs["relevance"]} | peers, known, topics).items())
    print("\nms a search (ours, one searcher; known-item queries, topical queries):")
    counts = {"known-item": len(known), "topical": len(topics)}
    for name, seconds in took.items():
        print(f"  sort={name}: " + ", ".join(
            f"{1000 * seconds[kind] / max(n, 1):.2f} ms "
            f"({seconds[kind] / max(took['relevance'][kind], 1e-9):.2f}x sort=relevance)"
            for kind, n in counts.items()))
    for sort, (newer, total) in pairs.items():
        print(f"ours, sort={sort}: newer first in {newer}/{total} pairs of shown stories "
              f"scored within {close:.0%} ({newer / max(total, 1):.1%})")
    if misses:
        show_misses(raw, topics, runs["relevance"][len(known):],
                    [distinct(r, groups) for r in fts5[len(known):]])


def show_misses(raw: list[dict], topics: list[dict], ours: list[list[str]],
                fts5: list[list[str]]) -> None:
    """Per topical query: P@10 of ours (relevance) and FTS5, and the stories ours shows in
    its top ten that do not carry the labels (their titles and topics)."""
    by_id = {s["id"]: s for s in raw}
    print("\nTopical misses (ours, sort=relevance; `-`: shown, not labelled so):")
    for q, mine, theirs in zip(topics, ours, fts5, strict=True):
        print(f"{query_text(q)}: ours {precision(mine, q['relevant']):.1f}, "
              f"FTS5 {precision(theirs, q['relevant']):.1f}")
        for sid in mine[:10]:
            if sid not in q["relevant"]:
                story = by_id[sid]
                print(f"  - {story['title'][:70]} {story['topics']} {story['places']}")


if __name__ == "__main__":
    main()
