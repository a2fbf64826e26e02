"""The Reuters-21578 corpus (../shared/data/reuters21578) as Articles, for benchmarks.

Topics and places are labels for scoring only: they never enter the Articles.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

from search_service.article import Article

REUTERS = (Path(__file__).resolve().parent.parent.parent
           / "shared/data/reuters21578/reuters.jsonl.gz")


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
