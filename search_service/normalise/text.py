"""Main text of a page: prune boilerplate, find the article container, keep its blocks."""

from __future__ import annotations

import re

from bs4 import BeautifulSoup, Comment, Tag

#: Elements that never hold article text.
DROP_TAGS = (
    "script", "style", "noscript", "template", "svg", "canvas", "iframe", "form", "button",
    "input", "select", "textarea", "nav", "header", "footer", "aside", "menu", "figure",
    "object", "embed", "video", "audio", "dialog",
)
#: Words in class/id/role that mark page furniture.
BOILERPLATE_WORDS = {
    "nav", "navbar", "navigation", "menu", "breadcrumb", "breadcrumbs", "share", "sharing",
    "social", "related", "recommended", "newsletter", "subscribe", "subscription", "signup",
    "promo", "advert", "advertisement", "ad", "ads", "sponsored", "cookie", "cookies",
    "consent", "comment", "comments", "footer", "header", "masthead", "sidebar", "widget",
    "summary", "pagination", "pager", "byline", "dateline", "author", "tags", "toolbar",
    "banner", "popup", "modal", "prev", "next", "trending", "popular",
    "caption", "credit", "complementary", "contentinfo",
}
#: Words that mark a container as the article itself, never pruned.
CONTENT_WORDS = {"content", "body", "article", "story", "text", "entry", "main"}
#: Whole lines that are furniture wherever they appear (compared lower-cased).
BOILERPLATE_LINES = {
    "no time to read?", "get a summary", "previous article", "next article", "read more",
    "advertisement", "share", "share this article", "share on facebook", "share on x",
    "share on twitter", "email", "print", "related stories", "related articles",
    "more stories", "sign up", "subscribe", "continue reading",
}
BLOCK_TAGS = ("p", "h2", "h3", "h4", "h5", "h6", "li", "blockquote", "pre", "td", "dd")
CLOSING_QUOTES = "”’\"»"
OPENING_QUOTES = {"”": "“", "’": "‘", '"': '"', "»": "«"}


def extract_body(soup: BeautifulSoup, title: str = "") -> str:
    """Return the article's text: paragraphs as plain text separated by blank lines."""
    prune(soup)
    container = find_container(soup)
    if container is None:
        return ""
    lines = [line for line in block_texts(container) if keep_line(line, title)]
    return strip_stray_quote("\n\n".join(lines))


def prune(soup: BeautifulSoup) -> None:
    """Prune the tree by discarding elements that never hold article text."""
    for comment in soup.find_all(string=lambda s: isinstance(s, Comment)):
        comment.extract()
    for tag in soup.find_all(DROP_TAGS):
        tag.decompose()
    total = _paragraph_chars(soup)
    for tag in soup.find_all(_is_furniture):
        # A wrapper with a misleading class ("has-sidebar") may hold the story itself.
        if not tag.decomposed and _paragraph_chars(tag) <= total // 2:
            tag.decompose()


def _is_furniture(tag: Tag) -> bool:
    """Tell whether a tag's class, id or role marks it as page furniture."""
    if tag.name in ("html", "body", "article", "main") or tag.attrs is None:
        return False
    names = " ".join(tag.get("class") or []) + " " + str(tag.get("id") or "") + " " + str(
        tag.get("role") or "")
    words = set(re.split(r"[^a-z]+", names.lower())) - {""}
    if not words & BOILERPLATE_WORDS or words & CONTENT_WORDS:
        return False
    if tag.get("itemprop") == "articleBody":
        return False
    return True


def find_container(soup: BeautifulSoup) -> Tag | None:
    """Return the element holding the article text (articleBody, <article>, or densest)."""
    marked = soup.find(attrs={"itemprop": "articleBody"})
    if isinstance(marked, Tag) and _paragraph_chars(marked) > 0:
        return marked
    articles = [a for a in soup.find_all("article") if _paragraph_chars(a) > 0]
    if articles:
        return max(articles, key=_paragraph_chars)
    scores: dict[int, tuple[int, Tag]] = {}
    for para in soup.find_all("p"):
        parent = para.parent
        if isinstance(parent, Tag):
            score, _ = scores.get(id(parent), (0, parent))
            scores[id(parent)] = (score + len(para.get_text(strip=True)), parent)
    if not scores:
        return soup.body if isinstance(soup.body, Tag) else None
    return max(scores.values(), key=lambda pair: pair[0])[1]


def _paragraph_chars(tag: Tag) -> int:
    """Count the characters of text in `tag`'s paragraphs."""
    return sum(len(p.get_text(strip=True)) for p in tag.find_all("p"))


def block_texts(container: Tag) -> list[str]:
    """Return the text of each innermost block element in reading order."""
    texts = []
    for block in container.find_all(BLOCK_TAGS):
        if block.find(BLOCK_TAGS):
            continue
        text = " ".join(block.get_text(" ", strip=True).split())
        if text:
            texts.append(text)
    if not texts:
        text = " ".join(container.get_text(" ", strip=True).split())
        texts = [text] if text else []
    return texts


def keep_line(line: str, title: str) -> bool:
    """Tell whether a block's text belongs to the story (not a widget, byline or the title)."""
    lower = line.lower().strip()
    if lower in BOILERPLATE_LINES:
        return False
    if title and lower == title.lower().strip():
        return False
    if len(line) < 80 and re.match(r"^by\s+\S", lower):
        return False
    return True


def strip_stray_quote(body: str) -> str:
    """Drop a closing quote at the very end of the body that no opening quote matches."""
    if body and body[-1] in CLOSING_QUOTES:
        closing = body[-1]
        opening = OPENING_QUOTES[closing]
        if opening == closing:
            unmatched = body.count(closing) % 2 == 1
        else:
            unmatched = body.count(closing) > body.count(opening)
        if unmatched:
            return body[:-1].rstrip()
    return body
