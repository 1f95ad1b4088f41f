"""What reading a plan gives: a :class:`Document` (units, encoding, reading notes) and its :class:`Sentence` rows."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from samskaping.documents.lines import TextUnit, UnitKind


@dataclass(frozen=True)
class Document:
    """One plan as its reader read it.

    Attributes:
        path: the file read.
        units: paragraphs, headings, bullet items, table cells, footnotes, … in reading order, each with its
            page (PDF only) and kind.
        encoding: the encoding a text file (``.txt``, ``.md``) was decoded with (``utf-8``, ``cp1252``, …);
            ``None`` for other formats.
        notes: what was read only in part (a page that could not be loaded, an embedded part in another
            format), one message each, as the reader logged it; empty when all was read.
    """

    path: Path
    units: list[TextUnit]
    encoding: str | None = None
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Sentence:
    """One sentence of a document.

    Attributes:
        document: The document path as given by the caller, as a string.
        page: 1-based page number for PDFs, ``None`` for other formats.
        index: 0-based position of the sentence within the document.
        text: The sentence text.
        unit: The kind of unit it came from (paragraph, heading, bullet, cell, footnote, caption, quote, factbox).
        heading: The nearest heading above it ("" if none).
        context: For a list item, the lead-in line of its list («Vi vil:»); else "".
    """

    document: str
    page: int | None
    index: int
    text: str
    unit: UnitKind = "paragraph"
    heading: str = ""
    context: str = ""


def note(notes: list[str] | None, logger: logging.Logger, message: str, *args: Any) -> None:
    """Log a reader's warning (it reaches the console) and keep it in ``notes`` (it reaches the output files).

    Args:
        notes: the reading notes of the document being read; ``None`` only logs.
        logger: the reader's logger.
        message: a ``%``-format string, as for :meth:`logging.Logger.warning`.
        args: its arguments.
    """
    logger.warning(message, *args)
    if notes is not None:
        notes.append(message % args if args else message)


def reading_notes(notes: Sequence[str], path: Path, document: str | None = None) -> str:
    """The notes of one document as one cell: ``" | "``-joined, without the path each begins with.

    ``document``: the name to show for ``path`` inside a message (Spark reads a temporary copy).
    """
    shown = document or str(path)
    return " | ".join(message.removeprefix(f"{path}: ").replace(str(path), shown) for message in notes)
