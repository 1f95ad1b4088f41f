"""HTML reader: block elements -> paragraphs, headings, list items and cells.

Bytes are decoded as browsers decode them (WHATWG Encoding Standard, through
``webencodings``): a byte-order mark first, then the ``<meta>`` or XML
declaration, where the labels ``iso-8859-1``, ``latin1`` and ``us-ascii`` mean
windows-1252; with no declaration, strict UTF-8 and otherwise windows-1252.
Navigation, scripts, page headers and footers are dropped, and so is the rest of
a web page's chrome (:func:`drop_chrome`): the page is narrowed to its main
content (``<main>``, ``role="main"`` or its one ``<article>``) where that holds most
of its text, and elements outside the article by their WAI-ARIA landmark role
(banner, navigation, complementary, contentinfo, search, dialog) or whose class, id or label names a
kind of chrome, after the «unlikely candidates» of Mozilla's Readability
(cookie and consent banners, breadcrumbs, share links, sidebars, chat widgets,
newsletters), are left out. Fact boxes (an ``<aside>`` inside the article, or a
class or id naming «fakta»/«infoboks») come out as ``factbox`` units, figure captions as
``caption``; collapsed sections (``<details>``) are read like the rest.
"""

from __future__ import annotations

import codecs
import re
from pathlib import Path
from typing import TYPE_CHECKING

from samskaping.documents.document import Document
from samskaping.documents.lines import SPACES, TextUnit, UnitKind, is_junk_line, normalise, units_from_lines

if TYPE_CHECKING:
    from bs4 import BeautifulSoup
    from bs4.element import PageElement, Tag

FALLBACK_ENCODING = "windows-1252"


def decode_html(data: bytes) -> tuple[str, str]:
    """Decode an HTML file's bytes as a browser would; return the text and the encoding's WHATWG name.

    Source of the rules: the WHATWG Encoding Standard (BOM sniffing, label
    table) and HTML's «determining the character encoding» (the declaration
    found in the first bytes; no declaration falls back to the locale's legacy
    encoding, windows-1252 for Norwegian).
    """
    import webencodings
    from bs4.dammit import EncodingDetector

    declared = EncodingDetector.find_declared_encoding(data[:4096], is_html=True, search_entire_document=False)
    encoding = webencodings.lookup(declared) if declared else None
    if encoding is None or encoding.name in ("utf-16be", "utf-16le", "replacement"):
        # no usable declaration: UTF-8 if the bytes are valid UTF-8, as a BOM-less modern page is
        try:
            data.decode("utf-8")
            encoding = webencodings.lookup("utf-8")
        except UnicodeDecodeError:
            encoding = webencodings.lookup(FALLBACK_ENCODING)
    # a BOM overrides the declaration; windows-1252 as WHATWG defines it maps the five bytes that Python's
    # cp1252 leaves undefined (0x81, 0x8D, 0x8F, 0x90, 0x9D) to C1 controls, which the line rules then drop
    codecs.register_error("whatwg-c1", _c1_for_undefined)
    text, used = webencodings.decode(
        data, encoding, errors="whatwg-c1" if encoding.name == "windows-1252" else "replace"
    )
    return text, used.name


def _c1_for_undefined(error: UnicodeError) -> tuple[str, int]:
    """Decode bytes that cp1252 leaves undefined as the C1 control of the same number (WHATWG's windows-1252)."""
    if not isinstance(error, UnicodeDecodeError):
        raise error
    return error.object[error.start : error.end].decode("latin-1"), error.end


_HTML_DROP = ("script", "style", "noscript", "template", "nav", "header", "footer", "iframe", "svg")
# Controls that are chrome outside the article (cookie buttons); inside it a button can be an accordion's title.
_CONTROLS = frozenset({"button", "select"})
# Landmark roles that are never the plan text (WAI-ARIA 1.2); "complementary" only outside the article.
_CHROME_ROLES = frozenset({"banner", "navigation", "contentinfo", "search", "dialog", "alertdialog"})
# Class or id words of page chrome, after Readability's unlikelyCandidates, with Norwegian ones.
_CHROME_NAMES = re.compile(
    r"cookie|consent|gdpr|samtykke|breadcrumb|br(?:o|ø)dsmule|share|sharing|social|\bdeling|\bdel-|chat|"
    r"sidebar|sidefelt|newsletter|nyhetsbrev|skip-?link|hopp-til|site-?header|site-?footer|toolbar|"
    r"popup|pagination|related|relatert",
    re.IGNORECASE,
)
_FACT_NAMES = re.compile(r"fakta|fact-?box|infoboks|info-?box", re.IGNORECASE)
# The main element must hold at least this share of the page's text to narrow the page to it.
_MAIN_SHARE = 0.5
_HTML_BLOCKS = frozenset(
    {
        "p",
        "li",
        "td",
        "th",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "div",
        "section",
        "article",
        "main",
        "body",
        "blockquote",
        "dd",
        "dt",
        "caption",
        "figcaption",
        "pre",
        "address",
        "aside",
        "ul",
        "ol",
        "table",
        "tr",
        "form",
        "fieldset",
        "details",
        "summary",
    }
)
_HTML_KINDS: dict[str, UnitKind] = {
    "li": "bullet",
    "td": "cell",
    "th": "cell",
    **{f"h{level}": "heading" for level in range(1, 7)},
}
_LIST_LIKE = frozenset({"li", "td", "th"})


def read(path: Path) -> Document:
    """Extract text blocks (p, li, td/th, h1-h6 and text in other blocks) from HTML."""
    return Document(path, units_from_html(path.read_bytes()))


def units_from_html(data: bytes) -> list[TextUnit]:
    """The text blocks of an HTML document's bytes (a file, or a chunk embedded in a DOCX)."""
    from bs4 import BeautifulSoup
    from bs4.element import NavigableString, PreformattedString, Tag

    text, _ = decode_html(data)
    soup = BeautifulSoup(text, "lxml")
    for tag in soup.find_all(_HTML_DROP):
        # A header/footer inside an article is the article's own title or byline.
        if tag.name in ("header", "footer") and tag.find_parent(("article", "main")):
            continue
        tag.decompose()
    root = drop_chrome(soup)
    buckets: dict[int, tuple[str, list[str]]] = {}
    for node in root.descendants:
        if isinstance(node, Tag):
            if node.name == "br":
                _html_bucket(buckets, node).append("\n")
            continue
        if not isinstance(node, NavigableString) or isinstance(node, PreformattedString):
            continue
        _html_bucket(buckets, node).append(SPACES.sub(" ", str(node)))
    units: list[TextUnit] = []
    for name, parts in buckets.values():
        # Source line breaks were collapsed above, so every "\n" left is a <br>:
        # an explicit break by the author, which ends a unit.
        for line in "".join(parts).split("\n"):
            if not is_junk_line(normalise(line)):
                kind = name if name in ("caption", "factbox") else _HTML_KINDS.get(name, "paragraph")
                units.extend(units_from_lines(None, kind, [line]))
    return units


def drop_chrome(soup: BeautifulSoup) -> Tag | BeautifulSoup:
    """Remove a web page's chrome from ``soup`` and return the element that holds the page's content.

    Args:
        soup: The parsed page (changed in place).

    Returns:
        The main content element where one holds most of the text, else the body (or the whole document).
    """
    root = soup.body or soup
    total = len(root.get_text(" ", strip=True))
    articles = root.find_all("article")
    candidates = [
        *root.find_all("main"),
        *root.find_all(attrs={"role": "main"}),
        *(articles if len(articles) == 1 else []),
    ]
    for candidate in candidates:
        if total and len(candidate.get_text(" ", strip=True)) >= _MAIN_SHARE * total:
            root = candidate
            break
    for tag in list(root.find_all(True)):
        if tag.decomposed or tag.find("article") is not None:
            continue  # never drop what holds the article
        role = str(tag.get("role") or "").lower()
        names = " ".join([*(tag.get("class") or []), str(tag.get("id") or ""), str(tag.get("aria-label") or "")])
        in_article = tag.find_parent(("article", "main")) is not None or root.name in ("article", "main")
        if (
            role in _CHROME_ROLES
            or (role == "complementary" and not in_article)
            or (tag.name == "aside" and not in_article)
            or (tag.name in _CONTROLS and not in_article)
            or (_CHROME_NAMES.search(names) and not _FACT_NAMES.search(names))
        ):
            tag.decompose()
    return root


def _special_kind(block: Tag | None) -> UnitKind | None:
    """ "caption" inside a figure caption, "factbox" inside a fact box, else None."""
    for element in ([block] if block is not None else []) + (list(block.parents) if block is not None else []):
        if element.name == "figcaption":
            return "caption"
        names = " ".join([*(element.get("class") or []), str(element.get("id") or "")]) if element.name else ""
        if (element.name == "aside" or _FACT_NAMES.search(names)) and element.name not in ("body", "html"):
            return "factbox"
    return None


def _html_bucket(buckets: dict[int, tuple[str, list[str]]], node: PageElement) -> list[str]:
    """The text parts of the nearest block element around ``node`` (created on first use)."""
    block = next(
        (parent for parent in node.parents if parent.name in _HTML_BLOCKS),
        None,
    )
    key = id(block)
    if key not in buckets:
        name = block.name if block is not None else "body"
        # CMS pages wrap list items and cells in paragraphs: <li><p>…</p></li>.
        if block is not None and name not in _HTML_KINDS and block.parent is not None:
            name = block.parent.name if block.parent.name in _LIST_LIKE else name
        buckets[key] = (_special_kind(block) or name, [])
    return buckets[key][1]
