"""One article by id, and its related articles (the sidecar, else Whoosh's more_like)."""

from __future__ import annotations

from typing import Any

from whoosh.searching import Searcher

from search_service.index import related as related_sidecar
from search_service.search.engine import iso, result_item
from search_service.search.params import NotFound, QueryError


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
        "published_source": fields.get("published_source") or None,
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
