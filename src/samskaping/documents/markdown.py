"""Markdown reader (``.md``): parsed with markdown-it-py (CommonMark + tables), not with regexes.

Headings, paragraphs, list items, block quotes and table cells become units;
emphasis, links and inline code keep their text; images, raw HTML and code
blocks are left out (they are not plan prose).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from samskaping.documents.document import Document
from samskaping.documents.lines import TextUnit, UnitKind, is_junk_line, normalise, units_from_lines
from samskaping.documents.text import read_text

_KIND_OF_OPEN: dict[str, UnitKind] = {"heading_open": "heading", "th_open": "cell", "td_open": "cell"}


def read(path: Path) -> Document:
    """Units of a Markdown file in document order, with the encoding read."""
    from markdown_it import MarkdownIt

    text, encoding = read_text(path)
    tokens = MarkdownIt("commonmark").enable("table").parse(text)
    units: list[TextUnit] = []
    kinds: list[UnitKind] = []  # the kind of the innermost open block that gives one
    for token in tokens:
        if token.type in _KIND_OF_OPEN:
            kinds.append(_KIND_OF_OPEN[token.type])
        elif token.type == "list_item_open":
            kinds.append("bullet")
        elif token.type in ("heading_close", "th_close", "td_close", "list_item_close") and kinds:
            kinds.pop()
        elif token.type == "inline":
            lines = [normalise(line, keep_line_break_hyphen=True) for line in _inline_lines(token)]
            lines = [line for line in lines if not is_junk_line(line)]
            units.extend(units_from_lines(None, kinds[-1] if kinds else "paragraph", lines))
    return Document(path, units, encoding)


def _inline_lines(token: Any) -> list[str]:
    """The text of an inline token, one string per source line (soft and hard breaks end a line)."""
    lines = [""]
    for child in token.children or []:
        if child.type in ("text", "code_inline"):
            lines[-1] += child.content
        elif child.type in ("softbreak", "hardbreak"):
            lines.append("")
    return lines
