"""Reading one plan: the suffix -> reader registry, the checks before reading, and segmentation into sentences.

Each format's module is imported only when a file of its kind is read (the idea
of unstructured's ``partition/auto.py``); every reader has a ``read(path) ->``
:class:`~samskaping.documents.document.Document` function.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Sequence
from pathlib import Path

from samskaping.documents.document import Document, Sentence
from samskaping.documents.lines import TextUnit, join_lines
from samskaping.documents.sentences import segment_many
from samskaping.errors import DocumentError

log = logging.getLogger(__name__)

# suffix -> module with a ``read(path) -> list[TextUnit]`` function
READERS: dict[str, str] = {
    ".pdf": "samskaping.documents.pdf",
    ".docx": "samskaping.documents.docx",
    ".html": "samskaping.documents.html",
    ".htm": "samskaping.documents.html",
    ".txt": "samskaping.documents.text",
    ".md": "samskaping.documents.markdown",
}
DOCUMENT_SUFFIXES: frozenset[str] = frozenset(READERS)

# Document-like files a folder of plans often holds that are not read, with what to do instead.
_SAVE_AS = "open it and save it as .docx or PDF"
NOT_READ_SUFFIXES: dict[str, str] = {
    ".doc": "an old Word file; open it in Word and save it as .docx",
    ".docm": "a Word file with macros; open it in Word and save it as .docx (macros are not needed)",
    ".dotx": "a Word template; open it in Word and save it as .docx",
    ".odt": f"an OpenDocument text; {_SAVE_AS}",
    ".rtf": f"a Rich Text file; {_SAVE_AS}",
    ".pages": "an Apple Pages file; export it as .docx or PDF",
    ".ppt": "a PowerPoint file; export it as PDF",
    ".pptx": "a PowerPoint file; export it as PDF",
    ".odp": "a presentation; export it as PDF",
    ".xhtml": "rename it to .html",
    ".xml": "not a plan format; export the plan as .docx or PDF",
    ".epub": "an e-book; export it as PDF",
    **{
        suffix: "a scanned page image; run OCR (e.g. ocrmypdf) and save it as a searchable PDF"
        for suffix in (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".gif", ".heic")
    },
}


def unsupported_hint(suffix: str) -> str | None:
    """What to do with a document-like file that is not read (``None`` for other files)."""
    return NOT_READ_SUFFIXES.get(suffix.lower())


def read_document(path: Path) -> Document:
    """Read a plan document: its cleaned text units in reading order, the encoding of a text file, its reading notes.

    Args:
        path: A ``.pdf``, ``.docx``, ``.html``/``.htm``, ``.txt`` or ``.md`` file.

    Returns:
        The document; its units (paragraphs, headings, bullet items, table cells, footnotes, each with its
        page number (PDF only) and kind) are never empty.

    Raises:
        DocumentError: If the file is missing, empty, of an unsupported type,
            unreadable (corrupt, encrypted, not a real DOCX), has no text
            layer (scanned PDF) or holds no text.
    """
    path = Path(path)
    suffix = _check_readable(path)
    document: Document = importlib.import_module(READERS[suffix]).read(path)
    if not document.units:
        raise DocumentError(
            f"{path}: no text found after cleaning (only headers, page numbers, "
            "tables of contents or empty paragraphs); check that this is the plan text"
        )
    log.debug("%s: %d text units", path, len(document.units))
    return document


def extract_units(path: Path) -> list[TextUnit]:
    """The cleaned text units of a plan document in reading order (:func:`read_document`'s units).

    Raises:
        DocumentError: As :func:`read_document`.
    """
    return read_document(path).units


def segment(document: Document) -> list[Sentence]:
    """Split a document's units into numbered sentences.

    Each unit is segmented on its own, so bullet items and table cells are
    always separate sentences even without a full stop. A sentence that a
    PDF page break cuts in two is joined again and gets its first page.

    Raises:
        DocumentError: if no sentence with letters is found.
    """
    units = document.units
    located = _rejoin_page_breaks(units, segment_many([unit.text for unit in units]))
    if not located:
        raise DocumentError(f"{document.path}: the text holds no sentences with letters; check the file")
    return [
        Sentence(str(document.path), unit.page, index, text, unit.kind, heading, context)
        for index, (unit, text, heading, context) in enumerate(located)
    ]


def read_sentences(path: Path) -> list[Sentence]:
    """Read a document and split it into numbered sentences (:func:`read_document`, then :func:`segment`).

    Raises:
        DocumentError: As :func:`read_document`, or if no sentence with letters is found.
    """
    return segment(read_document(path))


def _check_readable(path: Path) -> str:
    """Return the lower-case suffix of a readable, non-empty, supported file."""
    suffix = path.suffix.lower()
    if suffix not in DOCUMENT_SUFFIXES:
        allowed = ", ".join(sorted(DOCUMENT_SUFFIXES))
        hint = unsupported_hint(suffix) or "convert it to one of these"
        raise DocumentError(
            f"{path}: unsupported file type {suffix or '(no suffix)'!r}; supported are {allowed}; {hint}"
        )
    if not path.exists():
        raise DocumentError(f"{path}: file not found; check the path and the current directory")
    if not path.is_file():
        raise DocumentError(f"{path}: is not a file; give the path of one document")
    if path.stat().st_size == 0:
        raise DocumentError(f"{path}: file is empty (0 bytes); export or download the plan again")
    return suffix


def _continues_over_page_break(prev: TextUnit, unit: TextUnit) -> bool:
    """Whether ``unit`` goes on with a sentence that ``prev`` left open at a page end."""
    return (
        prev.page is not None
        and unit.page == prev.page + 1
        and prev.kind == "paragraph"
        and unit.kind == "paragraph"
        and not prev.text.endswith((".", "!", "?", ":", "»", '"', "”", ")"))
        and (unit.text[:1].islower() or prev.text.endswith("-"))
    )


def _rejoin_page_breaks(
    units: Sequence[TextUnit], per_unit: Sequence[list[str]]
) -> list[tuple[TextUnit, str, str, str]]:
    """Pair each sentence with its unit, heading and list lead-in, joining sentences cut by a page break.

    Units stay per page (so every other sentence keeps its own page); only the
    cut sentence is glued together, and it gets the page where it starts.
    """
    located: list[tuple[TextUnit, str, str, str]] = []
    prev: TextUnit | None = None
    heading = lead_in = ""
    for unit, texts in zip(units, per_unit, strict=True):
        if texts and located and prev is not None and _continues_over_page_break(prev, unit):
            first_unit, head, first_heading, first_context = located[-1]
            located[-1] = (first_unit, join_lines([head, texts[0]]), first_heading, first_context)
            texts = texts[1:]
        if unit.kind == "heading":
            heading, lead_in = unit.text, ""
        elif unit.kind != "bullet":
            # a line ending in a colon opens the list that follows it; anything else closes it
            lead_in = texts[-1] if texts and texts[-1].rstrip().endswith(":") else ""
        context = lead_in if unit.kind == "bullet" else ""
        shown = heading if unit.kind not in ("heading", "footnote") else ""
        located.extend((unit, text, shown, context) for text in texts)
        prev = unit
    return located
