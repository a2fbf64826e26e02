"""Queries → plain result data: parsing, sorting, safe highlighted snippets, related articles."""

from __future__ import annotations

import logging
import threading
import time
from datetime import datetime, timezone
from typing import Any

from markupsafe import escape
from whoosh import highlight
from whoosh.index import Index
from whoosh.qparser import AndGroup, FieldAliasPlugin, MultifieldParser
from whoosh.query import Every, NullQuery, Query
from whoosh.searching import Hit, Searcher

from search_service import config

log = logging.getLogger(__name__)

SORTS = ("relevance", "newest")
#: Characters of plain body text shown when the query matched no body words.
LEAD_CHARS = 250


class QueryError(ValueError):
    """The query or its parameters cannot be searched (a 400 for the web)."""


class NotFound(LookupError):
    """No article has the requested id (a 404 for the web)."""


class MarkFormatter(highlight.Formatter):
    """Escape all page text, wrap matched words in <mark>, mark cut ends with '…'."""

    between = " … "

    def _text(self, text: str) -> str:
        return str(escape(text))

    def format_token(self, text: str, token, replace: bool = False) -> str:
        return "<mark>" + str(escape(highlight.get_text(text, token, replace))) + "</mark>"

    def format_fragment(self, fragment, replace: bool = False) -> str:
        trim_to_words(fragment)
        out = super().format_fragment(fragment, replace)
        if fragment.startchar > 0:
            out = "… " + out
        if fragment.endchar < len(fragment.text):
            out += " …"
        return out

    def format(self, fragments, replace: bool = False) -> str:
        out = " ".join(self.format_fragment(f, replace) for f in fragments)
        return " ".join(out.split()).replace("… …", "…")


def trim_to_words(fragment) -> None:
    """Move a fragment's cut ends inward to whitespace so that no word is shown in part."""
    text, start, end = fragment.text, fragment.startchar, fragment.endchar
    spans = [t for t in fragment.matches if t.startchar is not None]
    first = min((t.startchar for t in spans), default=end)
    last = max((t.endchar for t in spans), default=start)
    if 0 < start < len(text) and not text[start - 1].isspace():
        space = text.find(" ", start, first)
        if space != -1:
            fragment.startchar = space + 1
    if 0 < end < len(text) and not text[end].isspace():
        space = text.rfind(" ", last, end)
        if space != -1:
            fragment.endchar = space


TITLE_HIGHLIGHTER = highlight.Highlighter(
    fragmenter=highlight.WholeFragmenter(), formatter=MarkFormatter())
# Pinpoint fragments use the body's stored character offsets instead of re-analysing every
# hit's text: about 3x faster here (see README, "Index fields").
BODY_HIGHLIGHTER = highlight.Highlighter(
    fragmenter=highlight.PinpointFragmenter(maxchars=160, surround=50),
    formatter=MarkFormatter())


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
            searcher = searcher.refresh()
        self.local.searcher = searcher
        return searcher


def parse_query(searcher: Searcher, text: str) -> Query:
    """Parse Whoosh query syntax over title and body (AND by default); '' means every article."""
    text = (text or "").strip()
    if not text:
        return Every()
    if len(text) > config.MAX_QUERY_CHARS:
        raise QueryError(f"query too long ({len(text)} characters, at most "
                         f"{config.MAX_QUERY_CHARS})")
    parser = MultifieldParser(["title", "body"], searcher.schema, group=AndGroup)
    parser.add_plugin(FieldAliasPlugin({"authors": ["author"]}))
    try:
        query = parser.parse(text)
    except Exception as exc:  # Whoosh raises assorted errors on bad ranges and dates
        raise QueryError(f"cannot parse query {text!r}: {exc}") from exc
    if isinstance(query, type(NullQuery)):
        raise QueryError(
            f"cannot parse query {text!r}: it has no searchable words "
            "(only operators, punctuation or stop words)")
    return query


def check_paging(page: int, per_page: int, sort: str) -> None:
    """Raise QueryError for a page, page size or sort order out of bounds."""
    if not 1 <= page <= config.MAX_PAGE:
        raise QueryError(f"page must be between 1 and {config.MAX_PAGE}")
    if not 1 <= per_page <= config.MAX_PER_PAGE:
        raise QueryError(f"per_page must be between 1 and {config.MAX_PER_PAGE}")
    if sort not in SORTS:
        raise QueryError(f"sort must be one of: {', '.join(SORTS)}")


def search(
    searcher: Searcher, q: str = "", page: int = 1, per_page: int = config.DEFAULT_PER_PAGE,
    sort: str = "relevance",
) -> dict[str, Any]:
    """Run a search and return one page of results as plain data."""
    check_paging(page, per_page, sort)
    query = parse_query(searcher, q)
    started = time.perf_counter()
    kwargs: dict[str, Any] = {"terms": True}
    if sort == "newest" or isinstance(query, Every):
        kwargs.update(sortedby="published", reverse=True)
    try:
        results = searcher.search_page(query, page, pagelen=per_page, **kwargs)
    except Exception as exc:
        raise QueryError(f"cannot run query {q!r}: {exc}") from exc
    items = [result_item(hit, highlight_hits=bool(q.strip())) for hit in results]
    total = results.total
    return {
        "query": q,
        "total": total,
        "page": page,
        "per_page": per_page,
        "sort": sort,
        "took_ms": round((time.perf_counter() - started) * 1000, 1),
        "results": items,
    }


def result_item(hit: Hit, highlight_hits: bool = True) -> dict[str, Any]:
    """Turn one hit into the result shape: ids, links, safe highlighted title and snippet."""
    fields = hit.fields()
    title_html = snippet_html = ""
    if highlight_hits:
        title_html = TITLE_HIGHLIGHTER.highlight_hit(hit, "title", top=1)
        snippet_html = BODY_HIGHLIGHTER.highlight_hit(hit, "body", top=2)
    return {
        "id": fields["id"],
        "url": fields["url"],
        "title": fields["title"],
        "title_html": title_html or str(escape(fields["title"])),
        "snippet_html": snippet_html or lead_html(fields.get("body", "")),
        "published": iso(fields.get("published")),
        "source": fields.get("source", ""),
    }


def lead_html(body: str) -> str:
    """Return the body's opening, escaped and cut at a word boundary."""
    if len(body) <= LEAD_CHARS:
        return str(escape(body))
    return str(escape(body[:LEAD_CHARS].rsplit(" ", 1)[0])) + " …"


def iso(value: datetime | None) -> str | None:
    """Format a stored (naive UTC) datetime as ISO 8601 with 'Z'-equivalent offset."""
    if not value:
        return None
    return value.replace(tzinfo=timezone.utc).isoformat()


def _docnum(searcher: Searcher, article_id: str) -> int:
    """Return the document number of article `article_id`, or raise NotFound."""
    docnum = searcher.document_number(id=article_id)
    if docnum is None:
        raise NotFound(f"no article with id {article_id!r}")
    return docnum


def get_article(searcher: Searcher, article_id: str) -> dict[str, Any]:
    """Return one article's stored fields as plain data."""
    fields = searcher.stored_fields(_docnum(searcher, article_id))
    authors = [a for a in (fields.get("authors") or "").split(",") if a]
    return {
        "id": fields["id"],
        "url": fields["url"],
        "canonical_url": fields["canonical_url"],
        "title": fields["title"],
        "body": fields.get("body", ""),
        "paragraphs": [p for p in fields.get("body", "").split("\n\n") if p],
        "published": iso(fields.get("published")),
        "modified": iso(fields.get("modified")),
        "authors": authors,
        "source": fields.get("source", ""),
        "language": fields.get("language", ""),
        "summary": fields.get("summary", ""),
    }


def related(searcher: Searcher, article_id: str, limit: int = 5) -> dict[str, Any]:
    """Return the articles most similar in content to `article_id` (never itself)."""
    if not 1 <= limit <= 50:
        raise QueryError("limit must be between 1 and 50")
    docnum = _docnum(searcher, article_id)
    fields = searcher.stored_fields(docnum)
    text = fields.get("title", "") + "\n" + fields.get("body", "")
    hits = searcher.more_like(docnum, "body", text=text, top=limit, numterms=10)
    items = [result_item(hit, highlight_hits=False) for hit in hits if hit["id"] != article_id]
    return {"id": article_id, "results": items}
