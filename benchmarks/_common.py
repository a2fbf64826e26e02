"""What every benchmark shares: percentiles (one rule), seeded query sampling from titles,
peer detection, Markdown tables of figures, and the machine's load for the line printed
beside each figure.

Percentiles use the nearest-rank rule and nothing else: the p-th percentile of n values is
the value at rank ceil(p/100 × n) of the sorted values (rank 1 = the smallest), so it is
always a value that was measured (never interpolated), p100 is the maximum, and two
benchmarks' p99s over the same values agree. Round only when printing.
"""

from __future__ import annotations

import math
import os
import random
import re
from collections.abc import Collection, Iterable, Sequence
from importlib import metadata

#: The kinds of query `sample_queries` makes, in turn.
QUERY_KINDS = ("term", "and2", "and3", "phrase")


def percentile(values: Iterable[float], p: float) -> float:
    """The `p`-th percentile (0 < p ≤ 100) of `values` by nearest rank; NaN if there are none."""
    if not 0 < p <= 100:
        raise ValueError(f"percentile must be in (0, 100], got {p}")
    ordered = sorted(values)
    if not ordered:
        return math.nan
    rank = math.ceil(p / 100 * len(ordered) - 1e-9)  # 1e-9: 0.95 × 100 is 95.00000000000001
    return ordered[max(rank, 1) - 1]


def percentiles(values: Iterable[float], points: Sequence[float] = (50, 95, 99),
                ) -> dict[str, float]:
    """`percentile` at each of `points`, keyed "p50", "p95", … (sorting the values once)."""
    ordered = sorted(values)
    return {f"p{point:g}": percentile(ordered, point) for point in points}


def title_words(titles: Iterable[str], min_words: int = 2,
                stop: Collection[str] = ()) -> list[list[str]]:
    """The lower-cased words of four letters or more of each title (not in `stop`), keeping
    titles with at least `min_words` of them."""
    words = [[w.lower() for w in re.findall(r"[A-Za-z]{4,}", title) if w.lower() not in stop]
             for title in titles]
    return [w for w in words if len(w) >= max(min_words, 2)]


def sample_queries(titles: Iterable[str], count: int, seed: int,
                   kinds: Sequence[str] = QUERY_KINDS,
                   stop: Collection[str] = ()) -> list[tuple[str, list[str]]]:
    """`count` seeded queries from title words, as (kind, words), the kinds taken in turn:
    "term" one word, "and2"/"and3" two or three words of a title, "phrase" two adjacent words."""
    unknown = set(kinds) - set(QUERY_KINDS)
    if unknown or not kinds:
        raise ValueError(f"query kinds must be among {QUERY_KINDS}, got {list(kinds)}")
    rng = random.Random(seed)
    pool = title_words(titles, 3 if "and3" in kinds else 2, stop)
    if not pool:
        raise ValueError("no title has enough words to sample queries from")
    queries = []
    for i in range(count):
        words = rng.choice(pool)
        kind = kinds[i % len(kinds)]
        if kind == "term":
            queries.append((kind, [rng.choice(words)]))
        elif kind == "phrase":
            start = rng.randrange(len(words) - 1)
            queries.append((kind, words[start:start + 2]))
        else:
            queries.append((kind, rng.sample(words, int(kind[-1]))))
    return queries


def peer_version(distribution: str) -> str | None:
    """The installed version of the peer's distribution (e.g. "trafilatura"), or None."""
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def missing_peers(distributions: Iterable[str]) -> list[str]:
    """The distributions among `distributions` that are not installed, in order."""
    return [name for name in distributions if peer_version(name) is None]


def table_row(cells: Iterable[object]) -> str:
    """One row of a Markdown table: `| a | b |`."""
    return "| " + " | ".join(str(cell) for cell in cells) + " |"


def markdown_table(head: Sequence[str], rows: Iterable[Iterable[object]]) -> str:
    """A Markdown table, as every benchmark prints its figures: the header row, its rule and
    one line per row (cells as `str` gives them; format numbers before)."""
    return "\n".join([table_row(head), "|" + "---|" * len(head), *map(table_row, rows)])


def load_average() -> str:
    """The 1, 5 and 15 minute load averages, as printed beside a benchmark's figures."""
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f}, {five:.2f}, {fifteen:.2f} ({os.cpu_count()} cores)"
