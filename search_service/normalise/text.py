"""Main text of a page: cut it into text blocks, score their containers, keep the story's."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from functools import lru_cache

from bs4 import BeautifulSoup, NavigableString, Tag
from bs4.element import Comment, Declaration, Doctype, ProcessingInstruction

from search_service.normalise.dates import day_in_text
from search_service.normalise.encoding import clean_text

log = logging.getLogger(__name__)

#: Elements that never hold article text: skipped with everything inside them.
DROP_TAGS = frozenset({
    "script", "style", "noscript", "template", "svg", "canvas", "iframe", "button",
    "input", "select", "textarea", "nav", "footer", "aside", "menu", "figure", "figcaption",
    "object", "embed", "video", "audio", "dialog", "picture", "img", "head", "title", "label",
    "math", "map", "meta", "link", "amp-ad", "amp-embed", "amp-sidebar", "amp-social-share",
    "amp-analytics", "amp-img", "amp-video", "amp-iframe", "amp-consent", "amp-user-notification",
})
#: Elements that start a new block of text.
BLOCK_TAGS = frozenset({
    "p", "div", "section", "article", "main", "li", "ul", "ol", "dl", "dd", "dt", "h1", "h2",
    "h3", "h4", "h5", "h6", "blockquote", "pre", "table", "tr", "td", "th", "tbody", "thead",
    "header", "address", "center", "body", "hr", "caption", "details", "summary", "fieldset",
})
HEADINGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
#: Words in class/id/role that mark page furniture.
BOILERPLATE_WORDS = frozenset({
    "nav", "navbar", "navigation", "menu", "breadcrumb", "breadcrumbs", "share", "sharing",
    "social", "related", "recommended", "newsletter", "subscribe", "subscription", "signup",
    "promo", "advert", "advertisement", "ad", "ads", "sponsored", "cookie", "cookies",
    "consent", "comment", "comments", "footer", "header", "masthead", "sidebar",
    "summary", "pagination", "pager", "byline", "dateline", "author", "tags", "toolbar",
    "banner", "popup", "modal", "prev", "next", "trending", "popular", "caption", "credit",
    "complementary", "contentinfo", "disqus", "outbrain", "taboola", "sharebar", "hidden",
    "newsletters", "signin", "login", "tooltip", "skip", "meta", "timestamp",
    "disclaimer", "copyright", "overlay", "rail", "more", "readmore", "teaser", "teasers",
    "gallery", "slideshow", "video", "player", "print", "email", "follow", "reactions",
    "recirc", "breaking", "alert", "topics", "keywords", "categories",
    "bio", "profile", "infobox", "credits", "sr", "visually", "offscreen", "donate",
})
#: Furniture words that outweigh any story word ("comment-body", "related-content")
STRONG_BOILERPLATE_WORDS = frozenset({
    "comment", "comments", "related", "sidebar", "footer", "disqus", "newsletter", "share",
    "sharing", "social", "promo", "recommended", "outbrain", "taboola", "advert",
    "advertisement", "ads", "cookie", "consent", "breadcrumb", "breadcrumbs", "navbar", "menu",
    "recirc", "trending", "popular", "subscribe", "signup",
})
#: Words in class/id that mark a paywall or subscription gate.
PAYWALL_WORDS = frozenset({"paywall", "metered", "premium", "subscriber", "piano", "regwall"})
#: Words in class/id that mark the story container.
CONTENT_WORDS = frozenset({
    "content", "body", "article", "story", "text", "entry", "main", "post", "blog",
    "articlebody", "storybody", "prose", "paragraph", "paragraphs", "richtext",
})
#: Whole lines that are furniture wherever they appear (compared lower-cased, no end punctuation).
BOILERPLATE_LINES = frozenset({
    "no time to read", "get a summary", "previous article", "next article", "read more",
    "advertisement", "share", "share this article", "share on facebook", "share on x",
    "share on twitter", "email", "print", "related stories", "related articles",
    "more stories", "sign up", "subscribe", "continue reading", "read next", "related",
    "see also", "tweet", "whatsapp", "copy link", "comments", "leave a comment",
    "you may also like", "recommended", "click here", "ad", "sponsored", "loading",
    "skip advertisement", "story continues below advertisement", "story continues below",
    "supported by", "watch", "listen", "previous", "next", "back to top", "top",
    "anzeige", "werbung", "publicité", "publicidad", "pubblicità", "publicidade", "reklame",
    "advertentie", "text size", "font size",
    "mehr zum thema", "lire aussi", "leer más", "leia mais", "leggi anche",
})
BYLINE = re.compile(r"^(by|von|par|por|di|door|af|av)\s+\S", re.IGNORECASE)
CREDIT = re.compile(
    r"^[(\[]?(photo|image|picture|foto|credit|source|getty images|ap photo|reuters)\b[^.]{0,80}$",
    re.IGNORECASE)
YEAR = re.compile(r"(?<!\d)(?:19|20)\d\d(?!\d)")
MODIFIER = re.compile(r"(?:no|has|with|without|is|show|hide|enable|disable|enabled|disabled)[-_]")
WORD_SPLIT = re.compile(r"[^a-z0-9]+")
COMMAS = re.compile("[,，、،;]")
CLOSING_QUOTES = "”’\"»"
OPENING_QUOTES = {"”": "“", "’": "‘", '"': '"', "»": "«"}
EMPTY: frozenset[str] = frozenset()
SKIPPED_STRINGS = (Comment, Declaration, Doctype, ProcessingInstruction)
#: Blocks before and after the first <h1> searched for a dateline.
NEAR_TITLE_BEFORE, NEAR_TITLE_AFTER = 3, 12
#: A block this long is prose even with many links in it (up to three quarters).
LONG_BLOCK_CHARS = 150
#: Elements nested deeper than this are read as inline text (bounds the walk's work; not the
#: paging depth `config.MAX_DEPTH` nor a source's link depth `max_depth`).
MAX_NESTING = 200
#: Blocks that hold data (a date there is a value, not a dateline).
DATA_CELLS = frozenset({"td", "th", "li", "dd", "dt"})
#: A line this short that holds a date is a dateline.
DATELINE_CHARS = 70
#: A block of fewer characters than this does not vote for its container.
MIN_VOTE_CHARS = 25


@dataclass
class Block:
    """One run of text between block boundaries, with where it sits in the tree."""

    path: tuple[Tag, ...]
    parts: list[str] = field(default_factory=list)
    link_chars: int = 0
    furniture: tuple[int, ...] = ()
    text: str = ""

    @property
    def tag(self) -> str:
        """The name of the innermost element holding the block."""
        return self.path[-1].name if self.path else ""

    @property
    def link_density(self) -> float:
        """Share of the block's characters inside links."""
        return self.link_chars / len(self.text) if self.text else 0.0


@dataclass(frozen=True)
class PageText:
    """The story text of a page and what its other text says about the page's kind."""

    body: str
    headline_links: int = 0
    paywall_marks: int = 0
    near_title: tuple[str, ...] = ()
    dated_texts: tuple[str, ...] = ()


def read_text(soup: BeautifulSoup, title: str = "") -> PageText:
    """Return the page's story text with counts of listing and paywall signs."""
    root = soup.body or soup
    if not isinstance(root, Tag):
        return PageText("")
    blocks = split_blocks(root)
    headline_links = sum(1 for b in blocks if b.tag in HEADINGS and b.link_density > 0.5)
    near_title = _near_title(blocks, title)
    dated = tuple(b.text for b in blocks if len(b.text) <= 120 and YEAR.search(b.text))[:20]
    stats = TreeStats(blocks)
    container = best_container(blocks, stats)
    paywall = _paywall_marks(blocks, container)
    if container is None:
        return PageText("", headline_links, paywall, near_title, dated)
    lines = [block.text for block in story_blocks(blocks, container, stats)
             if keep_line(block.text, title, block.tag)]
    body = strip_stray_quote("\n\n".join(_dedupe_adjacent(lines)))
    return PageText(body, headline_links, paywall, near_title, dated)


def _paywall_marks(blocks: list[Block], container: Tag | None) -> int:
    """Count paywall-marked blocks from the story's start on, in the story's region (the
    container's parent): a login widget in the site header says nothing about the story."""
    region = container.parent if container is not None and container.parent else container
    start = next((i for i, b in enumerate(blocks) if _holds(b, container)), 0)
    return sum(1 for block in blocks[start:]
               if (region is None or _holds(block, region))
               and any(class_words(tag) & PAYWALL_WORDS for tag in block.path[-3:]))


def _holds(block: Block, tag: Tag | None) -> bool:
    """Tell whether `tag` (by identity: bs4 compares tags by content) is on a block's path."""
    return tag is not None and any(node is tag for node in block.path)


def _near_title(blocks: list[Block], title: str) -> tuple[str, ...]:
    """Return the short texts around the headline (first <h1>), where datelines sit."""
    start = next((i for i, block in enumerate(blocks) if block.tag == "h1"), None)
    if start is None and title:
        start = next((i for i, block in enumerate(blocks) if block.text == title), None)
    if start is None:
        return ()
    window = blocks[max(0, start - NEAR_TITLE_BEFORE):start + NEAR_TITLE_AFTER + 1]
    return tuple(block.text for block in window if len(block.text) <= 200)


def split_blocks(root: Tag) -> list[Block]:
    """Walk the tree once, cutting its visible text into blocks at block elements."""
    blocks: list[Block] = []
    path: list[Tag] = []
    furniture: list[int] = []
    links = 0
    current = Block(path=(root,))
    stack: list[object] = [root]
    exit_marker = object()
    while stack:
        node = stack.pop()
        if node is exit_marker:
            tag = path.pop()
            if furniture and furniture[-1] == len(path):
                furniture.pop()
            if tag.name == "a":
                links -= 1
            if tag.name in BLOCK_TAGS or tag.name == "br":
                current = _flush(blocks, current, path, furniture)
            continue
        if isinstance(node, NavigableString):
            if not isinstance(node, SKIPPED_STRINGS):
                text = str(node)
                current.parts.append(text)
                if links:
                    current.link_chars += len(text.strip())
            continue
        tag = node  # a Tag
        name = tag.name
        if name in DROP_TAGS or _hidden(tag):
            continue
        if name == "br":
            current.parts.append("\n")
            continue
        if len(path) >= MAX_NESTING:  # deeper markup counts as inline text of its ancestor
            stack.extend(reversed(tag.contents))
            continue
        block = name in BLOCK_TAGS
        if block:
            current = _flush(blocks, current, path, furniture)
        if _is_furniture(tag):
            furniture.append(len(path))
        path.append(tag)
        if name == "a":
            links += 1
        if block:
            current.path, current.furniture = tuple(path), tuple(furniture)
        stack.append(exit_marker)
        stack.extend(reversed(tag.contents))
    _flush(blocks, current, path, furniture)
    return blocks


def _flush(blocks: list[Block], current: Block, path: list[Tag], furniture: list[int]) -> Block:
    """Close `current` (kept if it holds text) and start a new block at `path`."""
    if current.parts:
        text = clean_text("".join(current.parts))
        if text:
            current.text = text
            current.link_chars = min(current.link_chars, len(text))
            blocks.append(current)
    return Block(path=tuple(path), furniture=tuple(furniture))


def _hidden(tag: Tag) -> bool:
    """Tell whether a tag is hidden from readers by its attributes."""
    attrs = tag.attrs
    if not attrs:
        return False
    if "hidden" in attrs or attrs.get("aria-hidden") == "true":
        return True
    style = attrs.get("style")
    return isinstance(style, str) and "none" in style and re.search(
        r"display\s*:\s*none|visibility\s*:\s*hidden", style) is not None


def class_words(tag: Tag) -> frozenset[str]:
    """Return the lower-cased words of a tag's class, id and role."""
    attrs = tag.attrs
    if not attrs:
        return EMPTY
    names = attrs.get("class")
    ident, role = attrs.get("id"), attrs.get("role")
    if not (names or ident or role):
        return EMPTY
    if isinstance(names, list):  # a tree parsed with multi-valued attributes
        names = " ".join(names)
    return _words(f"{names or ''} {ident or ''} {role or ''}")


@lru_cache(maxsize=4096)
def _words(names: str) -> frozenset[str]:
    """Split class/id text into lower-cased words (pages repeat the same classes), leaving out
    layout modifiers such as 'no-share' or 'has-sidebar', which describe a neighbour."""
    tokens = [token for token in names.lower().split() if not MODIFIER.match(token)]
    return frozenset(WORD_SPLIT.split(" ".join(tokens))) - {""}


def _is_furniture(tag: Tag) -> bool:
    """Tell whether a tag's class, id or role marks it as page furniture."""
    if tag.name in ("html", "body", "article", "main") or not tag.attrs:
        return False
    if tag.attrs.get("itemprop") == "articleBody":
        return False
    words = class_words(tag)
    if words & STRONG_BOILERPLATE_WORDS:
        return True
    return bool(words & BOILERPLATE_WORDS) and not words & CONTENT_WORDS


def _class_weight(tag: Tag) -> float:
    """Weigh a container by the words of its class and id (story ×1.5, furniture ×0.5)."""
    if tag.attrs and tag.attrs.get("itemprop") == "articleBody":
        return 2.0
    words = class_words(tag)
    if words & STRONG_BOILERPLATE_WORDS or (
            words & BOILERPLATE_WORDS and not words & CONTENT_WORDS):
        return 0.5
    if words & CONTENT_WORDS or tag.name in ("article", "main"):
        return 1.5
    return 1.0


def best_container(blocks: list[Block], stats: TreeStats | None = None) -> Tag | None:
    """Return the element whose paragraphs score highest (readability-style voting)."""
    stats = stats or TreeStats(blocks)
    scores = _votes(blocks, stats, skip_furniture=True) or _votes(
        blocks, stats, skip_furniture=False)
    if not scores:
        return None
    best = max(scores, key=lambda key: scores[key] * _class_weight(stats.tags[key])
               * (1 - stats.link_density(key)) / (1 + stats.headlines.get(key, 0)))
    return stats.tags[best]


def _votes(blocks: list[Block], stats: TreeStats, skip_furniture: bool) -> dict[int, float]:
    """Let each story-like block vote for its parent, grandparent and great-grandparent."""
    scores: dict[int, float] = {}
    for block in blocks:
        if not stats.votes(block) or (skip_furniture and stats.in_furniture(block)):
            continue
        vote = 1 + len(COMMAS.findall(block.text)) + min(len(block.text) / 100, 3)
        end = len(block.path) - 1
        for level, tag in enumerate(reversed(block.path[max(0, end - 3):end])):
            scores[id(tag)] = scores.get(id(tag), 0.0) + vote / (level + 1)
    return scores


class TreeStats:
    """Characters, link characters, story characters and headline links (a teaser's mark: an
    article does not link its own headline) of every element holding text."""

    def __init__(self, blocks: list[Block]) -> None:
        """Add up each block's characters into every element on its path."""
        self.tags: dict[int, Tag] = {}
        self.chars: dict[int, int] = {}
        self.links: dict[int, int] = {}
        self.good: dict[int, int] = {}
        self.headlines: dict[int, int] = {}
        for block in blocks:
            length = len(block.text)
            good = length if length >= MIN_VOTE_CHARS and block.link_density <= 0.5 else 0
            if block.tag in HEADINGS and block.link_density > 0.5:
                for tag in block.path:
                    self.headlines[id(tag)] = self.headlines.get(id(tag), 0) + 1
            for tag in block.path:
                key = id(tag)
                self.tags[key] = tag
                self.chars[key] = self.chars.get(key, 0) + length
                self.links[key] = self.links.get(key, 0) + block.link_chars
                self.good[key] = self.good.get(key, 0) + good
        self.total_good = max(self.good.values(), default=0)

    def link_density(self, key: int) -> float:
        """Share of an element's text inside links."""
        chars = self.chars.get(key, 0)
        return self.links.get(key, 0) / chars if chars else 0.0

    def is_wrapper(self, tag: Tag) -> bool:
        """Tell whether an element holds most of the page's story text (whatever its class)."""
        return self.good.get(id(tag), 0) * 2 > self.total_good

    def in_furniture(self, block: Block, below: int = -1) -> bool:
        """Tell whether a block sits in furniture deeper than path level `below`."""
        return any(level > below and not self.is_wrapper(block.path[level])
                   for level in block.furniture)

    def votes(self, block: Block) -> bool:
        """Tell whether a block is story-like enough to vote for its containers."""
        return (len(block.text) >= MIN_VOTE_CHARS and block.link_density <= 0.5
                and len(block.path) >= 2)


def story_blocks(blocks: list[Block], container: Tag,
                 stats: TreeStats | None = None) -> list[Block]:
    """Return the blocks inside `container` (and its story-like siblings) that are not furniture."""
    stats = stats or TreeStats(blocks)
    chosen = {id(tag) for tag in story_elements(container, stats)}
    kept = []
    for block in blocks:
        depth = next((i for i, tag in enumerate(block.path) if id(tag) in chosen), -1)
        if depth < 0 or stats.in_furniture(block, depth):
            continue
        if block.link_density > (0.75 if len(block.text) >= LONG_BLOCK_CHARS else 0.5):
            continue
        if block.tag == "h1":
            continue
        kept.append(block)
    return kept


def story_elements(container: Tag, stats: TreeStats) -> list[Tag]:
    """Return `container`, its story-like siblings, and repeats of its ancestors' chunks."""
    chosen = [container]
    parent = container.parent
    if isinstance(parent, Tag):
        own = stats.good.get(id(container), 0)
        chosen += [
            sibling for sibling in parent.children
            if isinstance(sibling, Tag) and sibling is not container
            and not _is_furniture(sibling)
            and stats.good.get(id(sibling), 0) >= max(MIN_VOTE_CHARS * 4, own * 0.2)
            and stats.link_density(id(sibling)) < 0.25]
    ancestor: Tag | None = container
    for _ in range(3):
        if not isinstance(ancestor, Tag) or not isinstance(ancestor.parent, Tag):
            break
        chosen += _repeated_chunks(ancestor, stats)
        ancestor = ancestor.parent
    return chosen


def _repeated_chunks(tag: Tag, stats: TreeStats) -> list[Tag]:
    """Return siblings of `tag` with its name and classes that hold story text (split bodies)."""
    classes = tag.get("class")
    if not classes or not isinstance(tag.parent, Tag):
        return []
    return [
        sibling for sibling in tag.parent.children
        if isinstance(sibling, Tag) and sibling is not tag and sibling.name == tag.name
        and sibling.get("class") == classes and stats.good.get(id(sibling), 0) > 0
        and stats.link_density(id(sibling)) < 0.25]


def keep_line(line: str, title: str, tag: str = "") -> bool:
    """Tell whether a block's text belongs to the story (not a widget, byline or the title)."""
    lower = line.lower().strip().rstrip(".:!?…»› ").strip()
    if lower in BOILERPLATE_LINES:
        return False
    if title and lower == title.lower().strip().rstrip(".:!?…»› "):
        return False
    if len(line) < 80 and BYLINE.match(lower):
        return False
    if len(line) < 100 and CREDIT.match(lower):
        return False
    if tag not in DATA_CELLS and len(line) < DATELINE_CHARS and YEAR.search(line) and day_in_text(
            line):
        return False  # a dateline ("Updated Nov. 19, 2019 8:21 am ET"), not a sentence
    return True


def _dedupe_adjacent(lines: list[str]) -> list[str]:
    """Drop a line that repeats the one before it."""
    out: list[str] = []
    for line in lines:
        if not out or out[-1] != line:
            out.append(line)
    return out


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
