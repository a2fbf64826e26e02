"""Raw page bytes → HTML text: charset, size limit, and removal of markup that holds no text."""

from __future__ import annotations

import codecs
import logging
import re
import unicodedata
from itertools import islice

from charset_normalizer import from_bytes

log = logging.getLogger(__name__)

#: Markup left after stripping noise is cut to this many characters (news pages here: 70 KB
#: on average) and this many tags (here: under 700 on average), which bounds parse time.
MAX_CHARS = 2_000_000
#: Raw markup past this many characters (or bytes) is not even decoded or scanned.
MAX_RAW_CHARS = 12_000_000
MAX_TAGS = 50_000
#: Bytes sniffed for a <meta charset> declaration.
SNIFF_BYTES = 4096
#: Bytes handed to the charset detector when the declared charset does not decode.
DETECT_BYTES = 200_000

BOMS = (
    (codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"), (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
META_CHARSET = re.compile(
    rb"""<meta[^>]+charset\s*=\s*["']?\s*([a-zA-Z0-9_.:-]+)""", re.IGNORECASE)
JSON_LD = re.compile(
    r"""<script[^>]*type\s*=\s*["']?application/ld\+json["']?[^>]*>(.*?)</script\s*>""",
    re.IGNORECASE | re.DOTALL)
#: Elements whose content never holds article text, with comments and CDATA (what
#: `drop_noise` removes; the pattern states it, the scanner is faster).
NOISE = re.compile(
    r"<!--.*?(?:-->|\Z)|<!\[CDATA\[.*?(?:\]\]>|\Z)"
    r"|<(script|style|noscript|template|textarea)\b[^>]*>.*?(?:</\1\s*>|\Z)",
    re.IGNORECASE | re.DOTALL)
#: Where a NOISE element starts (its end is then found with `str.find` or NOISE_END: a lazy
#: `.*?` with a back-reference, tried at every character, cost half of the stripping time).
NOISE_START = re.compile(
    r"<!--|<!\[CDATA\[|<(script|style|noscript|template|textarea)\b[^>]*>", re.IGNORECASE)
NOISE_END = {name: re.compile(rf"</{name}\s*>", re.IGNORECASE)
             for name in ("script", "style", "noscript", "template", "textarea")}
#: Foreign content (SVG, MathML): a browser ends it at its end tag or at the first of these
#: HTML start tags (the HTML5 parsing rules' "breakout" list) or at an HTML element's end tag.
FOREIGN_START = re.compile(r"<(svg|math)\b[^>]*>", re.IGNORECASE)
FOREIGN_END = {name: re.compile(rf"</{name}\s*>", re.IGNORECASE) for name in ("svg", "math")}
BREAKOUT = re.compile(
    r"<(?:b|big|blockquote|body|br|center|code|dd|div|dl|dt|em|embed|h[1-6]|head|hr|i|img|li|"
    r"listing|menu|meta|nobr|ol|p|pre|ruby|s|small|span|strong|strike|sub|sup|table|tt|u|ul|"
    r"var)[\s/>]"
    r"|</(?:article|aside|b|blockquote|body|button|dd|div|dl|dt|em|footer|h[1-6]|header|html|"
    r"i|li|main|nav|ol|p|section|small|span|strong|table|td|th|tr|u|ul)\s*>", re.IGNORECASE)
#: Page furniture that the text walk drops anyway (only when not nested in its own kind).
FURNITURE = re.compile(
    r"<(nav|aside|footer|select|iframe|button)\b[^>]*>(?:(?!<\1\b).)*?</\1\s*>",
    re.IGNORECASE | re.DOTALL)
FURNITURE_NAMES = ("nav", "aside", "footer", "select", "iframe", "button")
FURNITURE_START = re.compile(rf"<({'|'.join(FURNITURE_NAMES)})\b[^>]*>", re.IGNORECASE)
FURNITURE_OPEN = {name: re.compile(rf"<{name}\b", re.IGNORECASE) for name in FURNITURE_NAMES}
FURNITURE_CLOSE = {name: re.compile(rf"</{name}\s*>", re.IGNORECASE) for name in FURNITURE_NAMES}
TAG_START = re.compile("<")
#: Zero-width characters, soft hyphens and BOMs, deleted from text.
INVISIBLE = dict.fromkeys(map(ord, "\u00ad\u200b\u200c\u200d\u2060\ufeff\u180e"))
CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def decode_html(raw: bytes | str, http_charset: str | None = None) -> str:
    """Decode page bytes: BOM, HTTP charset, <meta charset>, UTF-8, then detection."""
    if isinstance(raw, str):
        return raw[:MAX_RAW_CHARS]
    raw = raw[:MAX_RAW_CHARS]  # bytes: a cut through a character is tolerated below
    for bom, encoding in BOMS:
        if raw.startswith(bom):
            return raw[len(bom):].decode(encoding, "replace")
    declared = [http_charset] if http_charset else []
    match = META_CHARSET.search(raw[:SNIFF_BYTES])
    if match:
        declared.append(match.group(1).decode("ascii", "replace"))
    for encoding in [*declared, "utf-8"]:
        text = _try_decode(raw, encoding)
        if text is not None:
            return text
    best = from_bytes(raw[:DETECT_BYTES]).best()
    encoding = best.encoding if best else "cp1252"
    log.debug("charset detected as %s", encoding)
    return raw.decode(encoding, "replace")


def _try_decode(raw: bytes, encoding: str) -> str | None:
    """Decode strictly with `encoding`; None if it is unknown or does not fit the bytes."""
    try:
        name = codecs.lookup(encoding.strip().lower()).name
    except LookupError:
        return None
    if name in ("latin-1", "iso8859-1", "ascii"):
        name = "cp1252"  # what browsers do with these labels
    try:
        return raw.decode(name)
    except UnicodeDecodeError as exc:
        if name == "cp1252" or exc.start >= len(raw) - 4:  # cp1252, or a cut last character
            return raw.decode(name, "replace")
        return None


def json_ld_blocks(html: str) -> list[str]:
    """Return the contents of the page's JSON-LD script elements."""
    return [block for block in JSON_LD.findall(html) if block.strip()]


def with_json_ld(markup: str, blocks: list[str]) -> str:
    """Put a page's JSON-LD blocks back into its stripped markup (for a reader that wants
    them, such as htmldate), at the end of the head."""
    if not blocks:
        return markup
    scripts = "".join(f'<script type="application/ld+json">{block}</script>' for block in blocks)
    head_end = markup.find("</head>")
    if head_end < 0:
        return scripts + markup
    return markup[:head_end] + scripts + markup[head_end:]


def strip_noise(html: str) -> str:
    """Drop scripts, styles, SVG, templates, comments and furniture; cut what is left to size."""
    html = drop_noise(html[:MAX_RAW_CHARS])
    html = CONTROL.sub("", drop_furniture(strip_foreign(html)))
    return cut_to_size(html)


def drop_noise(html: str) -> str:
    """Replace every NOISE element (comment, CDATA, script, style, …) by a space: what
    `NOISE.sub(" ", html)` does, scanning for each element's end with `str.find`."""
    parts: list[str] = []
    position = 0
    while (start := NOISE_START.search(html, position)) is not None:
        parts.append(html[position:start.start()])
        token = start.group(0)
        if token == "<!--" or token == "<![CDATA[":
            end = html.find("-->" if token == "<!--" else "]]>", start.end())
            position = end + 3 if end >= 0 else len(html)
        else:
            close = NOISE_END[start.group(1).lower()].search(html, start.end())
            position = close.end() if close else len(html)
        parts.append(" ")
    parts.append(html[position:])
    return "".join(parts)


def drop_furniture(html: str) -> str:
    """Replace every FURNITURE element not nested in its own kind by a space: what
    `FURNITURE.sub(" ", html)` does, without its tempered `.` tried at every character."""
    parts: list[str] = []
    position = scan = 0
    unclosed: set[str] = set()  # no end tag after here: none after any later start either
    while (start := FURNITURE_START.search(html, scan)) is not None:
        name = start.group(1).lower()
        close = None if name in unclosed else FURNITURE_CLOSE[name].search(html, start.end())
        if close is None:
            unclosed.add(name)
        if close is None or FURNITURE_OPEN[name].search(html, start.end(), close.start()):
            scan = start.start() + 1  # unclosed, or holds its own kind: an inner one may go
            continue
        parts.append(html[position:start.start()])
        parts.append(" ")
        position = scan = close.end()
    parts.append(html[position:])
    return "".join(parts)


def strip_foreign(html: str) -> str:
    """Drop SVG and MathML where a browser ends them, not where lxml's HTML4 parser would: an
    unclosed `<svg/onload=…>` ends at the next HTML block or phrase start tag, so the story
    after it is kept (lxml alone nests the rest of the page inside the svg)."""
    parts: list[str] = []
    position = 0
    while (start := FOREIGN_START.search(html, position)) is not None:
        parts.append(html[position:start.start()])
        close = FOREIGN_END[start.group(1).lower()].search(html, start.end())
        limit = close.start() if close else len(html)
        breakout = BREAKOUT.search(html, start.end(), limit)
        if breakout is None or "<foreignobject" in html[start.end():breakout.start()].lower():
            position = close.end() if close else len(html)
        else:
            position = breakout.start()
        parts.append(" ")
    parts.append(html[position:])
    return "".join(parts)


def cut_to_size(html: str) -> str:
    """Cut markup to at most MAX_CHARS characters and MAX_TAGS tags, bounding parse time."""
    if len(html) > MAX_CHARS:
        log.debug("page cut from %d to %d chars", len(html), MAX_CHARS)
        html = html[:MAX_CHARS]
    if html.count("<") > MAX_TAGS:
        end = next(islice(TAG_START.finditer(html), MAX_TAGS, None)).start()
        log.debug("page cut at tag %d (char %d)", MAX_TAGS, end)
        html = html[:end]
    return html


def clean_text(text: str) -> str:
    """One line of text: NFC, no zero-width characters or soft hyphens, spaces collapsed."""
    if not text.isascii():
        text = unicodedata.normalize("NFC", text.translate(INVISIBLE))
    return " ".join(text.split())
