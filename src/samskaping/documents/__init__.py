"""Plan documents -> cleaned text units with page numbers -> Norwegian sentences.

One module per format behind a suffix registry, each imported only when a file
of its kind is read (the idea of unstructured's ``partition/auto.py``):

==========  =========================================
``.pdf``    :mod:`samskaping.documents.pdf`
``.docx``   :mod:`samskaping.documents.docx`
``.html``   :mod:`samskaping.documents.html` (also ``.htm``)
``.txt``    :mod:`samskaping.documents.text`
``.md``     :mod:`samskaping.documents.markdown`
==========  =========================================

Shared line rules live in :mod:`~samskaping.documents.lines`, segmentation in
:mod:`~samskaping.documents.sentences`. :func:`extract_units` reads one file;
:func:`read_sentences` segments it and gives every sentence its page, the kind
of unit it came from, the nearest heading above it and, for a list item, the
lead-in of its list (clarification 15 of the label scheme).

Every problem with an input file raises :class:`~samskaping.errors.DocumentError`
with one line naming the file, the problem and the fix; a document never comes
back silently empty.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from samskaping.documents.lines import TextUnit, UnitKind, join_lines
from samskaping.documents.sentences import segment_many, split_sentences
from samskaping.errors import DocumentError

log = logging.getLogger(__name__)

__all__ = [
    "DOCUMENT_SUFFIXES",
    "NOT_READ_SUFFIXES",
    "Sentence",
    "TextUnit",
    "extract_units",
    "read_sentences",
    "reading_notes",
    "reading_warnings",
    "split_sentences",
    "text_encoding",
    "unsupported_hint",
]

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


@contextmanager
def reading_warnings() -> Iterator[list[str]]:
    """Collect the warnings the readers log while documents are read (a page skipped, an embedded part not read).

    They still reach the console; the list lets the caller record them with the document, so that
    what was not read shows in the output files too. Yields the messages as they come.
    """
    messages: list[str] = []

    class _Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            messages.append(record.getMessage())

    handler = _Collect(logging.WARNING)
    logger = logging.getLogger(__name__)  # every reader logs under samskaping.documents
    logger.addHandler(handler)
    try:
        yield messages
    finally:
        logger.removeHandler(handler)


def reading_notes(warned: Sequence[str], path: Path, document: str | None = None) -> str:
    """The warnings of one document as one cell: ``" | "``-joined, without the path each begins with.

    ``document``: the name to show for ``path`` inside a message (Spark reads a temporary copy).
    """
    shown = document or str(path)
    return " | ".join(message.removeprefix(f"{path}: ").replace(str(path), shown) for message in warned)


def extract_units(path: Path) -> list[TextUnit]:
    """Read a plan document and return its cleaned text units in reading order.

    Args:
        path: A ``.pdf``, ``.docx``, ``.html``/``.htm``, ``.txt`` or ``.md`` file.

    Returns:
        Paragraphs, headings, bullet items, table cells and footnotes, each with
        its page number (PDF only) and kind. Never empty.

    Raises:
        DocumentError: If the file is missing, empty, of an unsupported type,
            unreadable (corrupt, encrypted, not a real DOCX), has no text
            layer (scanned PDF) or holds no text.
    """
    path = Path(path)
    suffix = _check_readable(path)
    units = importlib.import_module(READERS[suffix]).read(path)
    if not units:
        raise DocumentError(
            f"{path}: no text found after cleaning (only headers, page numbers, "
            "tables of contents or empty paragraphs); check that this is the plan text"
        )
    log.debug("%s: %d text units", path, len(units))
    return units


def read_sentences(path: Path) -> list[Sentence]:
    """Extract a document's text units and split them into numbered sentences.

    Each unit is segmented on its own, so bullet items and table cells are
    always separate sentences even without a full stop. A sentence that a
    PDF page break cuts in two is joined again and gets its first page.

    Raises:
        DocumentError: As :func:`extract_units`, or if no sentence with
            letters is found.
    """
    units = extract_units(path)
    located = _rejoin_page_breaks(units, segment_many([unit.text for unit in units]))
    if not located:
        raise DocumentError(f"{path}: the text holds no sentences with letters; check the file")
    return [
        Sentence(str(path), unit.page, index, text, unit.kind, heading, context)
        for index, (unit, text, heading, context) in enumerate(located)
    ]


def text_encoding(path: Path) -> str | None:
    """The encoding a ``.txt``/``.md`` file is read with; None for other formats."""
    from samskaping.documents.text import text_encoding as detect

    return detect(path)


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
