"""Titles: the headline a reader sees, reconciled from <h1>, og:title, JSON-LD headline and
<title>, with the site's name removed where it is written before or after the headline."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from search_service.normalise.encoding import clean_text

#: What sites put between a headline and their name ("Headline | Site", "Site: Headline").
SEPARATOR = re.compile(r"(\s+(?:[|–—•·»/:-]|::)\s+|\s*\|\s*|:\s+)")
#: A last part of a <title> that is short enough to be the site's name (used when no known
#: name matches).
TITLE_SUFFIX = re.compile(r"\s+[|–—:-]\s+[^|–—:-]{2,60}$")
#: A part with more words than this is not a site's name.
MAX_NAME_WORDS = 5
WORDS = re.compile(r"\w+")
HOST_SUFFIXES = ("com", "org", "net", "co", "news", "www", "online")


def site_names(site_name: str, url: str) -> tuple[set[str], set[str]]:
    """Return the site's names, compacted (lower-case word characters only): its declared
    name and its host; and the host's main labels (`nytimes` of www.nytimes.com)."""
    names = {_compact(site_name)} if site_name else set()
    try:
        host = (urlsplit(url).hostname or "").lower()
    except ValueError:
        host = ""
    labels = {label for label in host.split(".") if len(label) >= 3
              and label not in HOST_SUFFIXES and len(label) > 2}
    names |= {_compact(host), _compact(host.removeprefix("www."))}
    return names - {""}, labels


def _compact(text: str) -> str:
    """Lower-case word characters of `text`, nothing else."""
    return "".join(WORDS.findall(text.casefold()))


def names_site(part: str, names: set[str], labels: set[str]) -> bool:
    """Tell whether one part of a title names the site."""
    if len(part.split()) > MAX_NAME_WORDS:
        return False
    compact = _compact(part)
    if not compact:
        return False
    if compact in names or any(compact == label or compact.startswith(label) for label in labels):
        return True
    return any(len(name) >= 4 and compact.startswith(name) for name in names)


def strip_site(title: str, names: set[str], labels: set[str]) -> str:
    """Remove the site's name written before or after the headline."""
    parts = SEPARATOR.split(title)
    if len(parts) < 3:
        return title
    while len(parts) >= 3 and names_site(parts[-1], names, labels):
        parts = parts[:-2]
    while len(parts) >= 3 and names_site(parts[0], names, labels):
        parts = parts[2:]
    return "".join(parts).strip()


def same(a: str, b: str) -> bool:
    """Tell whether two titles read the same (case, spacing and punctuation aside)."""
    return bool(a) and WORDS.findall(a.casefold()) == WORDS.findall(b.casefold())


def extends(h1: str, title: str) -> bool:
    """Tell whether the headline `h1` is the full form of a truncated `title`, or `title` is
    `h1` followed by a separator and more (a section or a site name)."""
    stem = title.rstrip(".… ")
    if stem != title and len(stem) >= 10 and h1.startswith(stem):
        return True
    return len(title) > len(h1) >= 10 and title.startswith(h1) and bool(
        SEPARATOR.match(title, len(h1)))


def _is_suffix(part: str, title: str) -> bool:
    """Tell whether `part` is the last separated part of `title` and shorter than the rest
    (a site's name after a headline, not a headline after a name)."""
    pieces = SEPARATOR.split(title)
    return len(pieces) >= 3 and same(part, pieces[-1]) and len(part) < len("".join(pieces[:-2]))


def _is_affix(part: str, title: str) -> bool:
    """Tell whether `part` is the first or the last separated part of `title` and shorter
    than the rest (a site's or a section's name, written before or after the headline)."""
    pieces = SEPARATOR.split(title)
    if len(pieces) < 3:
        return False
    if same(part, pieces[-1]):
        return len(part) < len("".join(pieces[:-2]))
    return same(part, pieces[0]) and len(part) < len("".join(pieces[2:]))


def _words(text: str) -> list[str]:
    """Lower-case words of `text`."""
    return WORDS.findall(text.casefold())


def in_title(shown: str, page_title: str, stripped: str) -> bool:
    """Tell whether a headline is the one the <title> names: the same words as the <title>
    without the site's name, or a run of at least MIN_RUN of the <title>'s words."""
    if same(shown, stripped):
        return True
    words, inside = _words(shown), _words(page_title)
    if len(words) < MIN_RUN:
        return False
    return any(inside[i:i + len(words)] == words for i in range(len(inside) - len(words) + 1))


#: Words an <h1> needs to be recognised inside a <title> that holds more.
MIN_RUN = 3


def choose_title(titles: list[str], h1: str, html_title: str, site_name: str, url: str,
                 h1s: list[str] | None = None) -> str:
    """Pick the headline a reader sees: the <h1> when the metadata names the same headline (or
    a truncated or suffixed form of it), else the metadata's headline; with no metadata, the
    <h1> the <title> names, else the first <h1>, else the <title>; each without the site's
    name. An <h1> that is the site's name (a blog's masthead) is not a headline."""
    if any(_compact(site_name) == _compact(t) for t in [*titles, html_title]):
        site_name = ""  # a "site name" that is the page's whole title names nothing
    names, labels = site_names(site_name, url)
    page_title = clean_text(html_title)
    shown_all = []
    for text in dict.fromkeys(clean_text(h) for h in (h1s or [h1])):
        if not text:
            continue
        if any(_is_suffix(text, clean_text(t)) for t in titles) or (
                not titles and (_compact(text) in names | labels or _is_affix(text, page_title))):
            names.add(_compact(text))  # the <h1> is the site's name (a blog's masthead)
            continue
        shown_all.append(text)
    metas = [strip_site(clean_text(t), names, labels) for t in titles if clean_text(t)]
    for title in metas:
        for shown in shown_all[:1]:
            if same(shown, title):
                # the <h1> as shown, unless its markup lost a separator the metadata keeps
                lost = SEPARATOR.search(title) is not None and SEPARATOR.search(shown) is None
                return title if lost else shown
            if extends(shown, title):
                return shown
    if metas:
        return metas[0]
    stripped = strip_site(page_title, names, labels)
    if stripped == page_title:
        stripped = TITLE_SUFFIX.sub("", page_title)
    named = next((shown for shown in shown_all if in_title(shown, page_title, stripped)), None)
    if named:
        return named
    if shown_all:
        return shown_all[0]
    return stripped
