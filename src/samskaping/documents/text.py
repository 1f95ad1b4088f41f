"""Plain-text reader (``.txt``): blank-line blocks -> paragraphs, headings, bullets, ``|``-table cells.

Older Norwegian text files are read in their legacy encoding (see
:func:`decode_text`); the encoding used is recorded in ``documents.*``.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

from samskaping.documents.document import Document
from samskaping.documents.lines import (
    TextUnit,
    UnitKind,
    is_junk_line,
    list_running,
    looks_like_heading,
    normalise,
    split_marker,
    units_from_lines,
)

log = logging.getLogger(__name__)

# Older Norwegian text files are often Windows-1252 (or ISO-8859-1, which agrees
# with it on æ, ø and å). UTF-8 is tried first: its byte patterns almost never
# occur by chance in legacy text, so a file that decodes as UTF-8 is UTF-8.
LEGACY_ENCODINGS = ("cp1252", "iso-8859-1")


def decode_text(data: bytes) -> tuple[str, str]:
    """Decode a text file's bytes; return the text and the encoding used (``utf-8``, ``cp1252``, ...)."""
    try:
        return data.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError:
        pass
    for encoding in LEGACY_ENCODINGS:
        try:
            return data.decode(encoding), encoding
        except UnicodeDecodeError:
            continue
    raise AssertionError("iso-8859-1 decodes any bytes")  # pragma: no cover


def read_text(path: Path) -> tuple[str, str]:
    """The decoded text of a ``.txt``/``.md`` file (logged when not UTF-8), line ends as ``\\n``, and its encoding."""
    text, encoding = decode_text(path.read_bytes())
    if encoding != "utf-8":
        log.info("%s: not UTF-8, read as %s", path, encoding)
    return text.replace("\r\n", "\n").replace("\r", "\n"), encoding


def read(path: Path) -> Document:
    """Extract paragraphs, headings, bullets and ``|``-table cells from plain text, with the encoding read."""
    text, encoding = read_text(path)
    return Document(path, units_from_text(text), encoding)


def units_from_text(text: str) -> list[TextUnit]:
    """The units of decoded plain text (a file, or a chunk embedded in a DOCX), line ends as ``\\n``."""
    units: list[TextUnit] = []
    for block in re.split(r"\n[ \t]*\n", text.replace("\f", "\n\n")):
        units.extend(_text_block_units(block.split("\n")))
    return units


def _text_block_units(lines: list[str]) -> list[TextUnit]:
    """Units of one blank-line-separated block: a paragraph, bullets, headings, table rows."""
    units: list[TextUnit] = []
    block: list[str] = []
    kind: UnitKind = "paragraph"

    def flush() -> None:
        if block:
            units.extend(units_from_lines(None, kind, block))
            block.clear()

    kept = 0
    for raw in lines:
        line = normalise(raw, keep_line_break_hyphen=True)
        if is_junk_line(line):
            continue
        kept += 1
        if line.startswith("|") and line.endswith("|") and len(line) > 1:
            flush()
            for cell in line.strip("|").split("|"):
                units.extend(units_from_lines(None, "cell", [cell]))
            continue
        is_bullet, text = split_marker(line, list_running(kind, block))
        if is_bullet or not block:
            flush()
            kind = "bullet" if is_bullet else "paragraph"
        block.append(text)
    flush()
    if kept == 1 and len(units) == 1 and units[0].kind == "paragraph" and looks_like_heading(units[0].text):
        units[0] = TextUnit(None, units[0].text, "heading")
    return units
