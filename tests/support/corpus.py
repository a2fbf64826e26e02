"""The Reuters-21578 corpus (../shared/data/reuters21578) as Articles, for benchmarks: the
stories themselves, replicas with fresh ids, and any number of distinct articles remixed from
them (`distinct`).

Topics and places are labels for scoring only: they never enter the Articles.
"""

from __future__ import annotations

import gzip
import json
import random
import re
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

from search_service.article import Article
from tests.support.paths import SHARED_DATA

REUTERS = SHARED_DATA / "reuters21578" / "reuters.jsonl.gz"


def stories(path: Path = REUTERS) -> list[dict]:
    """Load the raw stories (with their topic labels)."""
    with gzip.open(path, "rt", encoding="utf-8") as lines:
        return [json.loads(line) for line in lines]


def to_article(story: dict, copy: int = 0) -> Article:
    """Render one story as an Article; `copy` > 0 gives a replica with a fresh id and URL."""
    suffix = f"-r{copy}" if copy else ""
    url = f"https://reuters.example/{story['id']}{suffix}"
    published = datetime.fromisoformat(story["date"]).replace(tzinfo=timezone.utc)
    return Article(url=url, canonical_url=url, title=story["title"] or "(untitled)",
                   body=story["body"], published=published, source="Reuters",
                   language="en", authors=())


def articles(raw: list[dict], copies: int = 1) -> Iterator[Article]:
    """Yield the corpus `copies` times over, each replica with fresh ids."""
    for copy in range(copies):
        for story in raw:
            yield to_article(story, copy)


# -- distinct articles at any scale -------------------------------------------------------------

#: Sources of the distinct corpus (name, host).
SOURCES = tuple((f"Wire {n:02d}", f"wire{n:02d}.example") for n in range(50))

#: Share of the distinct corpus that are syndicated near-copies of an earlier article.
COPY_SHARE = 0.10

#: The distinct corpus spans these years (dates spread evenly, times of day too).
FIRST_DAY = datetime(2019, 1, 1, tzinfo=timezone.utc)
SPAN_DAYS = 6 * 365


def _sentences(body: str) -> list[str]:
    """Split a story body into sentences (wire copy: '. ' ends one)."""
    flat = " ".join(body.split())
    return [s.strip() + "." for s in re.split(r"(?<=[a-z0-9])\.\s+(?=[A-Z])", flat)
            if len(s.split()) >= 4]


def distinct(count: int, seed: int = 2026, raw: list[dict] | None = None) -> Iterator[Article]:
    """Yield `count` distinct articles remixed from the Reuters stories (not replicas).

    Each original takes its title from one story with one or two words swapped for words
    of other titles, and its body from 3-9 sentences of several stories, so the vocabulary
    and its term statistics are wire copy's; dates spread over six years; 50 sources.
    About 10% are syndicated near-copies of a recent original: another source, a few hours
    later, the same text with a line added or dropped (near-duplicates, not exact ones).
    """
    raw = raw if raw is not None else stories()
    rng = random.Random(seed)
    pool = [sentence for story in raw for sentence in _sentences(story["body"])]
    titles = [story["title"] for story in raw if story["title"]]
    title_words = [w for t in titles for w in t.split() if w.isalpha() and len(w) > 3]
    recent: list[Article] = []
    for n in range(count):
        if recent and rng.random() < COPY_SHARE:
            yield _copy(rng.choice(recent), n, rng)
            continue
        words = rng.choice(titles).split()
        for _ in range(rng.randint(1, 2)):
            words[rng.randrange(len(words))] = rng.choice(title_words)
        body = " ".join(rng.choice(pool) for _ in range(rng.randint(3, 9)))
        name, host = SOURCES[rng.randrange(len(SOURCES))]
        published = FIRST_DAY + timedelta(days=rng.randrange(SPAN_DAYS),
                                          seconds=rng.randrange(86400))
        url = f"https://{host}/news/{n}"
        article = Article(url=url, canonical_url=url, title=" ".join(words), body=body,
                          published=published, source=name, language="en")
        recent = (recent + [article])[-200:]
        yield article


def _copy(original: Article, n: int, rng: random.Random) -> Article:
    """A syndicated near-copy of `original`: another source, later, lightly edited."""
    name, host = SOURCES[rng.randrange(len(SOURCES))]
    sentences = _sentences(original.body) or [original.body]
    if len(sentences) > 4 and rng.random() < 0.5:
        sentences = sentences[:-1]
    body = " ".join(sentences) + f" ({name} contributed to this report.)"
    url = f"https://{host}/news/{n}"
    return Article(url=url, canonical_url=url, title=original.title, body=body,
                   published=original.published + timedelta(hours=rng.randint(1, 30)),
                   source=name, language="en")
