"""HTML reader: block elements -> paragraphs, headings, list items and cells.

Bytes are decoded as browsers decode them (WHATWG Encoding Standard, through
``webencodings``): a byte-order mark first, then the ``<meta>`` or XML
declaration, where the labels ``iso-8859-1``, ``latin1`` and ``us-ascii`` mean
windows-1252; with no declaration, strict UTF-8 and otherwise windows-1252.
Navigation, scripts, page headers and footers are dropped.
"""

from __future__ import annotations

import codecs
from pathlib import Path
from typing import TYPE_CHECKING

from samskaping.documents.lines import SPACES, TextUnit, UnitKind, is_junk_line, normalise, units_from_lines

if TYPE_CHECKING:
    from bs4.element import PageElement

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
    text, used = webencodings.decode(data, encoding, errors="whatwg-c1" if encoding.name == "windows-1252" else "replace")
    return text, used.name


def _c1_for_undefined(error: UnicodeError) -> tuple[str, int]:
    """Decode bytes that cp1252 leaves undefined as the C1 control of the same number (WHATWG's windows-1252)."""
    if not isinstance(error, UnicodeDecodeError):
        raise error
    return error.object[error.start:error.end].decode("latin-1"), error.end

_HTML_DROP = ("script", "style", "noscript", "template", "nav", "header", "footer", "iframe", "svg")
_HTML_BLOCKS = frozenset(
    {
        "p", "li", "td", "th", "h1", "h2", "h3", "h4", "h5", "h6", "div", "section",
        "article", "main", "body", "blockquote", "dd", "dt", "caption", "figcaption",
        "pre", "address", "aside", "ul", "ol", "table", "tr", "form", "fieldset", "details",
        "summary",
    }
)
_HTML_KINDS: dict[str, UnitKind] = {
    "li": "bullet", "td": "cell", "th": "cell",
    **{f"h{level}": "heading" for level in range(1, 7)},
}
_LIST_LIKE = frozenset({"li", "td", "th"})


def read(path: Path) -> list[TextUnit]:
    """Extract text blocks (p, li, td/th, h1-h6 and text in other blocks) from HTML."""
    return units_from_html(path.read_bytes())


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
    root = soup.body or soup
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
                units.extend(units_from_lines(None, _HTML_KINDS.get(name, "paragraph"), [line]))
    return units


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
        buckets[key] = (name, [])
    return buckets[key][1]


