"""Plan documents -> cleaned text units with page numbers -> Norwegian sentences.

The pipeline has three steps, each usable on its own:

1. :func:`extract_units` reads a PDF, DOCX, HTML, TXT or Markdown file and
   returns :class:`TextUnit` objects: paragraphs, bullet items and table
   cells, in reading order, with the 1-based page number for PDFs. Lines that
   belong to one paragraph are joined, end-of-line hyphenation is undone,
   running headers/footers, page numbers and table-of-contents lines are
   dropped, and the text is normalised (NFKC, no soft hyphens).
2. :func:`split_sentences` splits one text into sentences with spaCy's
   rule-based ``sentencizer`` for Norwegian, repaired by our own rules for
   abbreviations, ordinals and dates.
3. :func:`read_sentences` runs both over a whole document and numbers the
   sentences.

Every problem with the input file raises :class:`~samskaping.errors.DocumentError`
with a one-line message naming the file, the problem and the fix; a document
never comes back silently empty.
"""

from __future__ import annotations

import functools
import itertools
import logging
import math
import re
import statistics
import unicodedata
import zipfile
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from samskaping.errors import DocumentError

if TYPE_CHECKING:
    from bs4.element import PageElement
    from docx.table import Table
    from docx.text.paragraph import Paragraph
    from pypdfium2 import PdfDocument, PdfTextPage
    from spacy.language import Language
    from spacy.tokens import Doc

logger = logging.getLogger(__name__)

UnitKind = Literal["paragraph", "bullet", "cell"]

DOCUMENT_SUFFIXES: frozenset[str] = frozenset({".pdf", ".docx", ".html", ".htm", ".txt", ".md"})


@dataclass(frozen=True)
class TextUnit:
    """One cleaned paragraph, bullet item or table cell of a document.

    Attributes:
        page: 1-based page number for PDFs, ``None`` for other formats.
        text: The cleaned text on one line (bullet markers removed).
        kind: ``"paragraph"``, ``"bullet"`` or ``"cell"``.
    """

    page: int | None
    text: str
    kind: UnitKind


@dataclass(frozen=True)
class Sentence:
    """One sentence of a document.

    Attributes:
        document: The document path as given by the caller, as a string.
        page: 1-based page number for PDFs, ``None`` for other formats.
        index: 0-based position of the sentence within the document.
        text: The sentence text.
    """

    document: str
    page: int | None
    index: int
    text: str


# --------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------


def extract_units(path: Path) -> list[TextUnit]:
    """Read a plan document and return its cleaned text units in reading order.

    Args:
        path: A ``.pdf``, ``.docx``, ``.html``/``.htm``, ``.txt`` or ``.md`` file.

    Returns:
        Paragraphs, bullet items and table cells, each with its page number
        (PDF only) and kind. Never empty.

    Raises:
        DocumentError: If the file is missing, empty, of an unsupported type,
            unreadable (corrupt, encrypted, not a real DOCX), has no text
            layer (scanned PDF) or holds no text.
    """
    path = Path(path)
    suffix = _check_readable(path)
    readers = {
        ".pdf": _pdf_units,
        ".docx": _docx_units,
        ".html": _html_units,
        ".htm": _html_units,
        ".txt": _text_units,
        ".md": _text_units,
    }
    units = readers[suffix](path)
    if not units:
        raise DocumentError(
            f"{path}: no text found after cleaning (only headers, page numbers, "
            "tables of contents or empty paragraphs); check that this is the plan text"
        )
    logger.debug("%s: %d text units", path, len(units))
    return units


def split_sentences(text: str) -> list[str]:
    """Split a Norwegian (bokmål or nynorsk) text into sentences.

    A colon followed by a line break and a blank line also end a sentence;
    other line breaks are treated as spaces. "Sentences" without letters are
    dropped.

    Args:
        text: Any text; may span several lines.

    Returns:
        The sentences, stripped, in order.
    """
    return _segment_many([text])[0]


def read_sentences(path: Path) -> list[Sentence]:
    """Extract a document's text units and split them into numbered sentences.

    Each unit is segmented on its own, so bullet items and table cells are
    always separate sentences even without a full stop. A sentence that a
    PDF page break cuts in two is joined again and gets its first page.

    Args:
        path: A ``.pdf``, ``.docx``, ``.html``/``.htm``, ``.txt`` or ``.md`` file.

    Returns:
        Sentences in document order, ``index`` counting from 0.

    Raises:
        DocumentError: As :func:`extract_units`, or if no sentence with
            letters is found.
    """
    units = extract_units(path)
    located = _rejoin_page_breaks(units, _segment_many([unit.text for unit in units]))
    if not located:
        raise DocumentError(f"{path}: the text holds no sentences with letters; check the file")
    return [
        Sentence(document=str(path), page=page, index=index, text=text)
        for index, (page, text) in enumerate(located)
    ]


# --------------------------------------------------------------------------
# Input checks
# --------------------------------------------------------------------------

_SUFFIX_HINTS = {
    ".doc": "save it as .docx in Word",
    ".odt": "save it as .docx or PDF",
    ".rtf": "save it as .docx or PDF",
    ".xhtml": "rename it to .html",
}


def _check_readable(path: Path) -> str:
    """Return the lower-case suffix of a readable, non-empty, supported file."""
    allowed = ", ".join(sorted(DOCUMENT_SUFFIXES))
    suffix = path.suffix.lower()
    if suffix not in DOCUMENT_SUFFIXES:
        hint = _SUFFIX_HINTS.get(suffix, "convert it to one of these")
        raise DocumentError(
            f"{path}: unsupported file type {suffix or '(no suffix)'!r}; "
            f"supported are {allowed}; {hint}"
        )
    if not path.exists():
        raise DocumentError(f"{path}: file not found; check the path and the current directory")
    if not path.is_file():
        raise DocumentError(f"{path}: is not a file; give the path of one document")
    if path.stat().st_size == 0:
        raise DocumentError(f"{path}: file is empty (0 bytes); export or download the plan again")
    return suffix


# --------------------------------------------------------------------------
# Line cleaning shared by all formats (pure functions)
# --------------------------------------------------------------------------

# Marks PDFium puts where it joined a line that ended in a hyphen; we make the
# line break explicit again so one rule (_join_lines) decides about hyphens.
_PDFIUM_LINE_HYPHEN = re.compile("[\ufffe\x02]")
# Soft hyphens and zero-width characters (a regex: str.translate is slower).
_INVISIBLE = re.compile("[\u00ad\u200b\u200c\u200d\u2060\ufeff]")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_SPACES = re.compile(r"\s+")
_BULLET = re.compile(
    r"^(?:[•◦▪▫■□●○‣⁃∙·\-–—*+➢➤►✓✔\uf0a7\uf0b7\uf076\uf0d8\uf0fc]"
    r"|(?P<num>\d{1,2}[.)])|[a-zæøå]\))\s+(?=\S)"
)
_PAGE_NUMBER = re.compile(
    r"^(?:(?:side|sida|s\.|page|p\.)\s*)?[-–—]?\s*\d{1,4}\s*[-–—]?"
    r"(?:\s*(?:av|of|/|\|)\s*\d{1,4})?$",
    re.IGNORECASE,
)
_NUMBER_TAIL = re.compile(r"^[\d\s.,%§/()\-–+]*\d[\d\s.,%§/()\-–+]*[.,;:!?)»]$")
# Dot leaders of a table of contents: «Innledning .......... 3».
_TOC_LEADER = re.compile(r"(?:\.\s?){4,}\s*\d*\s*$")
_TOC_HEADINGS = frozenset(
    {
        "innhold", "innholdsfortegnelse", "innholdsliste", "innholdsoversikt",
        "innhald", "innhaldsliste", "innhaldsoversikt",
    }
)
# A hyphen before these words is a real one: «helse- og omsorgstjenester».
_HYPHEN_KEEP_BEFORE = frozenset({"og", "eller", "til", "samt"})


def _normalise(text: str, keep_line_break_hyphen: bool = False) -> str:
    """NFKC-normalise (ligatures, non-breaking spaces), drop soft hyphens, collapse spaces.

    With ``keep_line_break_hyphen`` a soft hyphen ending the text is kept:
    on a single line it marks a word broken at the line end, which
    :func:`_join_lines` needs to see.
    """
    broken = keep_line_break_hyphen and text.rstrip().endswith("\u00ad")
    text = unicodedata.normalize("NFKC", _INVISIBLE.sub("", text))
    text = _SPACES.sub(" ", _CONTROL.sub(" ", text)).strip()
    return text + "\u00ad" if broken and text else text


def _has_letters(text: str) -> bool:
    """Whether the text contains at least one letter."""
    return any(ch.isalpha() for ch in text)


def _is_junk_line(line: str) -> bool:
    """Page numbers, table-of-contents entries and lines without letters.

    A letterless line that ends like a sentence («2024.», «§ 10-1.») is the
    wrapped end of a paragraph, not junk.
    """
    if _PAGE_NUMBER.match(line) or _TOC_LEADER.search(line):
        return True
    return not _has_letters(line) and not _NUMBER_TAIL.match(line)


def _split_marker(line: str, in_list: bool = False) -> tuple[bool, str]:
    """Return (is_bullet, text without its bullet marker) for one line.

    ``in_list`` says that a list is already running (after a bullet or a line
    ending in a colon), where «2. styrke …» is an item too.
    """
    match = _BULLET.match(line)
    if match is None:
        return False, line
    rest = line[match.end():]
    # «1. januar» wrapped onto a new line is not a numbered item; «1. Vi skal» is.
    number = match.group("num")
    if number and number.endswith(".") and not rest[:1].isupper() and not in_list:
        return False, line
    return True, rest


def _list_running(kind: UnitKind, block: Sequence[str]) -> bool:
    """Whether the lines in ``block`` are a list item or end in a colon that opens a list."""
    return bool(block) and (kind == "bullet" or block[-1].rstrip().endswith(":"))


def _join_lines(lines: Sequence[str]) -> str:
    """Join the lines of one paragraph, undoing end-of-line hyphenation.

    «sam-» + «skaping» -> «samskaping»; «Nord-» + «Norge» -> «Nord-Norge»;
    «helse-» + «og omsorg» -> «helse- og omsorg».
    """
    text = ""
    for raw in lines:
        line = raw.strip()
        if not line:
            continue
        if not text:
            text = line
        elif text.endswith("\u00ad"):
            text = text[:-1] + line
        elif text.endswith("-") and len(text) > 1 and text[-2].isalpha():
            next_word = line.split(maxsplit=1)[0].lower().strip(",.;:")
            if next_word in _HYPHEN_KEEP_BEFORE:
                text = f"{text} {line}"
            elif line[0].islower():
                text = text[:-1] + line
            else:
                text = text + line
        else:
            text = f"{text} {line}"
    return text


def _units_from_lines(
    page: int | None, kind: UnitKind, lines: Iterable[str], colon_breaks: bool = True
) -> list[TextUnit]:
    """Turn the raw lines of one block into units.

    With ``colon_breaks`` a colon at a line end closes a unit; PDF lines pass
    False because a colon may end a line there by wrapping alone.
    """
    groups: list[list[str]] = [[]]
    for raw in lines:
        for line in raw.split("\n"):
            groups[-1].append(line)
            if colon_breaks and line.rstrip().endswith(":"):
                groups.append([])
    units = []
    for group in groups:
        text = _normalise(_join_lines(group))
        if _has_letters(text):
            units.append(TextUnit(page=page, text=text, kind=kind))
    return units


def _clean_line(line: str) -> str:
    """Normalise one physical line, keeping explicit line breaks it may carry."""
    parts = _PDFIUM_LINE_HYPHEN.sub("-\n", line).split("\n")
    return "\n".join(_normalise(part, keep_line_break_hyphen=True) for part in parts)


# --------------------------------------------------------------------------
# PDF
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class _PdfLine:
    """One text line of a PDF page with its position (points, y grows upwards).

    The geometry fields are ``None`` when PDFium's character indices could not
    be matched to the text; the line rules then fall back to text-only rules.
    """

    text: str
    cells: tuple[str, ...] = ()
    left: float | None = None
    right: float | None = None
    top: float | None = None
    bottom: float | None = None
    last_bottom: float | None = None
    first_word_width: float | None = None
    weight: int | None = None

    @property
    def height(self) -> float | None:
        """Height of the first character's loose box, a proxy for the font size."""
        if self.top is None or self.bottom is None:
            return None
        return self.top - self.bottom


# A gap this many times the font height inside a line separates table cells.
_CELL_GAP = 2.0
# A line pitch this many times the usual pitch starts a new paragraph.
_PARAGRAPH_PITCH = 1.3


def _pdf_units(path: Path) -> list[TextUnit]:
    """Extract units from a PDF with pypdfium2, page by page."""
    import pypdfium2 as pdfium
    import pypdfium2.raw as pdfium_c

    try:
        pdf = pdfium.PdfDocument(str(path))
    except pdfium.PdfiumError as exc:
        if exc.err_code in (pdfium_c.FPDF_ERR_PASSWORD, pdfium_c.FPDF_ERR_SECURITY):
            raise DocumentError(
                f"{path}: PDF is password-protected; save an unprotected copy and try again"
            ) from exc
        raise DocumentError(
            f"{path}: not a readable PDF ({exc}); check that the file is complete, "
            "or open it in a PDF reader and save it again"
        ) from exc
    try:
        pages = [_pdf_page_lines(pdf, index) for index in range(len(pdf))]
    finally:
        pdf.close()

    if not any(line.text.strip() for page in pages for line in page):
        raise DocumentError(
            f"{path}: PDF has no text layer on any of its {len(pages)} pages (scanned?); "
            "run OCR on it (e.g. ocrmypdf) and try again"
        )
    empty = [number for number, lines in enumerate(pages, start=1) if not lines]
    if empty:
        logger.warning("%s: no text layer on page(s) %s; those pages are skipped", path, empty)

    pages = [_drop_junk_lines(lines) for lines in pages]
    running = _running_line_keys(pages)
    if running:
        logger.debug("%s: dropping running headers/footers %s", path, sorted(running))
    pages = [_drop_running_lines(lines, running) for lines in pages]
    pitch = _usual_pitch(pages)
    return [
        unit
        for number, lines in enumerate(pages, start=1)
        for unit in _pdf_page_units(number, lines, pitch)
    ]


def _pdf_page_lines(pdf: PdfDocument, index: int) -> list[_PdfLine]:
    """Read the lines of one page in PDFium's reading order, with positions."""
    page = pdf[index]
    textpage = page.get_textpage()
    try:
        text = textpage.get_text_range()
        # Positions are only trustworthy when every character has its own index.
        with_geometry = len(text) == textpage.count_chars()
        lines = []
        for match in re.finditer(r"[^\r\n]+", text):
            raw = match.group()
            if not raw.strip():
                continue
            if with_geometry:
                lines.append(_measured_line(textpage, raw, match.start()))
            else:
                lines.append(_PdfLine(text=_clean_line(raw)))
        return lines
    finally:
        textpage.close()
        page.close()


def _measured_line(textpage: PdfTextPage, raw: str, start: int) -> _PdfLine:
    """Build a line with the loose boxes of its first and last characters."""
    import pypdfium2.raw as pdfium_c

    first = start + len(raw) - len(raw.lstrip())
    last = start + len(raw.rstrip()) - 1
    left, bottom, _, top = textpage.get_charbox(first, loose=True)
    _, last_bottom, right, _ = textpage.get_charbox(last, loose=True)
    word_end = first + len(raw[first - start:].split(maxsplit=1)[0]) - 1
    word_right = textpage.get_charbox(word_end, loose=True)[2]
    cells = _split_cells(textpage, raw, start, top - bottom, right - left)
    weight = pdfium_c.FPDFText_GetFontWeight(textpage.raw, first)
    return _PdfLine(
        text=_clean_line(raw),
        cells=cells,
        left=left,
        right=right,
        top=top,
        bottom=bottom,
        last_bottom=last_bottom,
        first_word_width=word_right - left,
        weight=weight if weight > 0 else None,
    )


def _split_cells(textpage: PdfTextPage, raw: str, start: int, height: float, width: float) -> tuple[str, ...]:
    """Split a line at wide horizontal gaps (table columns); () for ordinary lines."""
    # Measuring every space costs three PDFium calls; only lines much wider
    # than their characters explain can hold a column gap, so test that first.
    if height <= 0 or "\ufffe" in raw or "\x02" in raw or width < len(raw.strip()) * 0.55 * height:
        return ()
    gaps = []
    for match in re.finditer(r" +", raw):
        before, after = start + match.start() - 1, start + match.end()
        if match.start() == 0 or match.end() >= len(raw):
            continue
        gap = (
            textpage.get_charbox(after, loose=True)[0]
            - textpage.get_charbox(before, loose=True)[2]
        )
        gaps.append((gap, match.start(), match.end()))
    cuts = [(cut_start, cut_end) for gap, cut_start, cut_end in gaps if gap > _CELL_GAP * height]
    if not cuts:
        return ()
    widths = [gap for gap, _, _ in gaps]
    if len(cuts) == len(gaps) >= 2 and max(widths) - min(widths) <= 0.1 * height:
        # Justification stretches every space by the same amount; the gaps
        # between table columns depend on the cell texts and so differ.
        return ()
    pieces, position = [], 0
    for cut_start, cut_end in cuts:
        pieces.append(raw[position:cut_start])
        position = cut_end
    pieces.append(raw[position:])
    return tuple(cell for cell in (_clean_line(piece) for piece in pieces) if cell)


def _drop_junk_lines(lines: list[_PdfLine]) -> list[_PdfLine]:
    """Drop page numbers, TOC entries, letterless lines, and a TOC page's heading."""
    kept = [line for line in lines if line.cells or not _is_junk_line(line.text)]
    toc_entries = sum(1 for line in lines if _TOC_LEADER.search(line.text))
    if toc_entries >= 2:
        kept = [line for line in kept if line.text.lower().strip(" :") not in _TOC_HEADINGS]
    return kept


def _running_key(text: str) -> str:
    """Compare header/footer lines ignoring digits (page numbers, years), case and spacing."""
    return _SPACES.sub(" ", re.sub(r"\d+", " ", text.lower())).strip()


def _edge_lines(lines: list[_PdfLine], depth: int = 2) -> list[_PdfLine]:
    """The top and bottom ``depth`` lines of a page, by position when known."""
    if all(line.top is not None for line in lines):
        ordered = sorted(lines, key=lambda line: -(line.top or 0.0))
    else:
        ordered = list(lines)
    if len(ordered) <= 2 * depth:
        return ordered
    return ordered[:depth] + ordered[-depth:]


def _running_line_keys(pages: list[list[_PdfLine]]) -> set[str]:
    """Keys of lines at a page edge that repeat on at least half of the pages (min. 2)."""
    pages_with_text = [lines for lines in pages if lines]
    needed = max(2, math.ceil(len(pages_with_text) / 2))
    counts: Counter[str] = Counter()
    for lines in pages_with_text:
        counts.update({_running_key(line.text) for line in _edge_lines(lines)} - {""})
    return {key for key, count in counts.items() if count >= needed}


def _drop_running_lines(lines: list[_PdfLine], running: set[str]) -> list[_PdfLine]:
    """Remove running header/footer lines, but only where they sit at the page edge."""
    if not running:
        return lines
    edge = {id(line) for line in _edge_lines(lines) if _running_key(line.text) in running}
    return [line for line in lines if id(line) not in edge]


def _usual_pitch(pages: list[list[_PdfLine]]) -> float | None:
    """The median baseline distance of consecutive lines, in units of the font height.

    Relative to the font height so that one figure fits body text and the
    larger headings alike; most consecutive lines are inside paragraphs, so
    the median is the line spacing, not the paragraph spacing.
    """
    pitches = []
    for lines in pages:
        for prev, line in itertools.pairwise(lines):
            if prev.last_bottom is None or line.bottom is None or not prev.height:
                continue
            pitch = (prev.last_bottom - line.bottom) / prev.height
            if 0 < pitch < 4:
                pitches.append(pitch)
    return statistics.median(pitches) if pitches else None


def _reference_right(line: _PdfLine, lines: list[_PdfLine]) -> float:
    """Right edge of the text column that ``line`` belongs to (same left edge)."""
    if line.left is None or line.right is None or line.height is None:
        return 0.0
    tolerance = 3 * line.height
    return max(
        (other.right for other in lines
         if other.left is not None and other.right is not None
         and abs(other.left - line.left) <= tolerance),
        default=line.right,
    )


def _starts_new_paragraph(
    prev: _PdfLine, line: _PdfLine, lines: list[_PdfLine], pitch: float | None
) -> bool:
    """Whether ``line`` starts a new paragraph after ``prev`` on the same page."""
    prev_text, text = prev.text.rstrip(), line.text.lstrip()
    starts_upper = text[:1].isupper() or text[:1].isdigit()
    ends_sentence = prev_text.endswith((".", "!", "?", "»", '"', "”", ")"))
    if (
        prev.height is None or line.height is None
        or prev.last_bottom is None or line.bottom is None
        or prev.left is None or prev.right is None
    ):
        return prev_text.endswith(":") or (ends_sentence and starts_upper)
    if abs(prev.height - line.height) > 0.15 * max(prev.height, line.height):
        return True  # font size changed: heading <-> body text
    step = (prev.last_bottom - line.bottom) / prev.height if prev.height > 0 else 0.0
    if step > _PARAGRAPH_PITCH * (pitch or 1.2):
        return True
    # The line ended early if the next line's first word would have fitted
    # on it: then the break was made by the author, not by line wrapping.
    room = _reference_right(prev, lines) - prev.right
    short = line.first_word_width is not None and room > line.first_word_width + 0.5 * prev.height
    if not short:
        return False
    if prev_text.endswith(":"):
        return True  # «Kommunen vil:» before a list or a new line
    if not starts_upper:
        return False
    # A short line ends a paragraph if it ends a sentence, and is a heading
    # if it is a few words in another font weight (a bold heading). Without
    # the weight test, the first line of a wrapped table cell or text box
    # would pass for a heading.
    if ends_sentence:
        return True
    return (
        prev.weight != line.weight
        and not prev_text.endswith((",", ";", "-"))
        and len(prev_text.split()) <= 12
    )


def _ends_clause(text: str) -> bool:
    """Whether a line ends with punctuation after which a list may begin."""
    return text.rstrip().endswith((".", ":", "!", "?", ";"))


def _pdf_page_units(page: int, lines: list[_PdfLine], pitch: float | None) -> list[TextUnit]:
    """Group a page's cleaned lines into paragraph, bullet and cell units."""
    units: list[TextUnit] = []
    block: list[str] = []
    kind: UnitKind = "paragraph"
    prev: _PdfLine | None = None

    def flush() -> None:
        if block:
            units.extend(_units_from_lines(page, kind, block, colon_breaks=False))
            block.clear()

    for line in lines:
        if line.cells:
            flush()
            for cell in line.cells:
                if not _is_junk_line(cell):
                    units.extend(_units_from_lines(page, "cell", [cell]))
            prev = None
            continue
        is_bullet, text = _split_marker(line.text, _list_running(kind, block))
        if is_bullet and line.text[0] in "-–—" and kind == "paragraph" and block and not _ends_clause(block[-1]):
            # A dash opening a line inside a running sentence is punctuation
            # («Kommunen vil / – sammen med innbyggerne – lage …»), not a bullet.
            is_bullet, text = False, line.text
        if is_bullet or not block or (prev is not None and _starts_new_paragraph(prev, line, lines, pitch)):
            flush()
            kind = "bullet" if is_bullet else "paragraph"
        block.append(text)
        prev = line
    flush()
    return units


def _continues_over_page_break(prev: TextUnit, unit: TextUnit) -> bool:
    """Whether ``unit`` goes on with a sentence that ``prev`` left open at a page end."""
    return (
        prev.page is not None and unit.page == prev.page + 1
        and prev.kind == "paragraph" and unit.kind == "paragraph"
        and not prev.text.endswith((".", "!", "?", ":", "»", '"', "”", ")"))
        and (unit.text[:1].islower() or prev.text.endswith("-"))
    )


def _rejoin_page_breaks(
    units: Sequence[TextUnit], per_unit: Sequence[list[str]]
) -> list[tuple[int | None, str]]:
    """Pair each sentence with its page, joining sentences cut by a page break.

    Units stay per page (so every other sentence keeps its own page); only the
    cut sentence is glued together, and it gets the page where it starts.
    """
    located: list[tuple[int | None, str]] = []
    prev: TextUnit | None = None
    for unit, texts in zip(units, per_unit, strict=True):
        if texts and located and prev is not None and _continues_over_page_break(prev, unit):
            page, head = located[-1]
            located[-1] = (page, _join_lines([head, texts[0]]))
            texts = texts[1:]
        located.extend((unit.page, text) for text in texts)
        prev = unit
    return located


# --------------------------------------------------------------------------
# DOCX
# --------------------------------------------------------------------------


def _docx_units(path: Path) -> list[TextUnit]:
    """Extract body paragraphs, list items and table cells from a DOCX in order."""
    import docx
    from docx.opc.exceptions import PackageNotFoundError

    if not zipfile.is_zipfile(path):
        raise DocumentError(
            f"{path}: not a valid .docx (not a ZIP/Office Open XML file); "
            "open it in Word and save it as .docx"
        )
    try:
        document = docx.Document(str(path))
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise DocumentError(
            f"{path}: not a valid .docx ({exc}); open it in Word and save it as .docx"
        ) from exc
    return list(_docx_block_units(document.iter_inner_content(), in_cell=False))


def _docx_block_units(blocks: Iterable[Paragraph | Table], in_cell: bool) -> Iterator[TextUnit]:
    """Units of a sequence of DOCX paragraphs and tables (recursing into cells)."""
    from docx.table import Table

    for block in blocks:
        if isinstance(block, Table):
            yield from _docx_table_units(block)
            continue
        style = (block.style.name or "").lower() if block.style is not None else ""
        if style.startswith("toc"):
            continue  # Word's table-of-contents paragraphs
        lines = [line for line in block.text.split("\n") if not _is_junk_line(_normalise(line))]
        if not lines:
            continue
        is_bullet, first = _split_marker(_normalise(lines[0], keep_line_break_hyphen=True))
        if in_cell:
            kind: UnitKind = "cell"
        elif is_bullet or _is_docx_list_paragraph(block, style):
            kind = "bullet"
        else:
            kind = "paragraph"
        yield from _units_from_lines(None, kind, [first, *lines[1:]])


def _docx_table_units(table: Table) -> Iterator[TextUnit]:
    """Units of every distinct cell of a table, row by row (merged cells once)."""
    seen: set[object] = set()  # the cell elements themselves: ids of lxml proxies get reused
    for row in table.rows:
        for cell in row.cells:
            if cell._tc in seen:
                continue
            seen.add(cell._tc)
            yield from _docx_block_units(cell.iter_inner_content(), in_cell=True)


def _is_docx_list_paragraph(paragraph: Paragraph, style: str) -> bool:
    """Word list items: direct numbering, or a list style («List Bullet», «Listeavsnitt»)."""
    ppr = paragraph._p.pPr
    return (ppr is not None and ppr.numPr is not None) or "list" in style


# --------------------------------------------------------------------------
# HTML
# --------------------------------------------------------------------------

_HTML_DROP = ("script", "style", "noscript", "template", "nav", "header", "footer", "iframe", "svg")
_HTML_BLOCKS = frozenset(
    {
        "p", "li", "td", "th", "h1", "h2", "h3", "h4", "h5", "h6", "div", "section",
        "article", "main", "body", "blockquote", "dd", "dt", "caption", "figcaption",
        "pre", "address", "aside", "ul", "ol", "table", "tr", "form", "fieldset", "details",
        "summary",
    }
)
_HTML_KINDS: dict[str, UnitKind] = {"li": "bullet", "td": "cell", "th": "cell"}


def _html_units(path: Path) -> list[TextUnit]:
    """Extract text blocks (p, li, td/th, h1-h6 and text in other blocks) from HTML."""
    from bs4 import BeautifulSoup
    from bs4.element import NavigableString, PreformattedString, Tag

    soup = BeautifulSoup(path.read_bytes(), "lxml")
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
        _html_bucket(buckets, node).append(_SPACES.sub(" ", str(node)))
    units: list[TextUnit] = []
    for name, parts in buckets.values():
        # Source line breaks were collapsed above, so every "\n" left is a <br>:
        # an explicit break by the author, which ends a unit.
        for line in "".join(parts).split("\n"):
            if not _is_junk_line(_normalise(line)):
                units.extend(_units_from_lines(None, _HTML_KINDS.get(name, "paragraph"), [line]))
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
            name = block.parent.name if block.parent.name in _HTML_KINDS else name
        buckets[key] = (name, [])
    return buckets[key][1]


# --------------------------------------------------------------------------
# TXT / Markdown
# --------------------------------------------------------------------------

_MD_HEADING = re.compile(r"^#{1,6}\s+")
_MD_QUOTE = re.compile(r"^>\s?")
_MD_IMAGE = re.compile(r"!\[[^\]]*\]\([^)]*\)")
_MD_LINK = re.compile(r"\[([^\]]+)\]\([^)]*\)")
_MD_EMPHASIS = re.compile(r"(\*\*|__|`)")


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


def text_encoding(path: Path) -> str | None:
    """The encoding a ``.txt``/``.md`` file is read with; None for other formats."""
    if path.suffix.lower() not in {".txt", ".md"}:
        return None
    return decode_text(path.read_bytes())[1]


def _text_units(path: Path) -> list[TextUnit]:
    """Extract paragraphs and bullets from plain text or Markdown."""
    text, encoding = decode_text(path.read_bytes())
    if encoding != "utf-8":
        logger.info("%s: not UTF-8, read as %s", path, encoding)
    markdown = path.suffix.lower() == ".md"
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\f", "\n\n")
    units: list[TextUnit] = []
    for block in re.split(r"\n[ \t]*\n", text):
        units.extend(_text_block_units(block.split("\n"), markdown))
    return units


def _markdown_line(line: str) -> str:
    """Strip Markdown syntax that is not text (quote marks, links, emphasis)."""
    line = _MD_QUOTE.sub("", line)
    line = _MD_IMAGE.sub("", line)
    line = _MD_LINK.sub(r"\1", line)
    return _MD_EMPHASIS.sub("", line)


def _text_block_units(lines: list[str], markdown: bool) -> list[TextUnit]:
    """Units of one blank-line-separated block: a paragraph, bullets, headings, table rows."""
    units: list[TextUnit] = []
    block: list[str] = []
    kind: UnitKind = "paragraph"

    def flush() -> None:
        if block:
            units.extend(_units_from_lines(None, kind, block))
            block.clear()

    for raw in lines:
        line = _normalise(_markdown_line(raw) if markdown else raw, keep_line_break_hyphen=True)
        if _is_junk_line(line):
            continue
        if markdown and _MD_HEADING.match(line):
            flush()
            units.extend(_units_from_lines(None, "paragraph", [_MD_HEADING.sub("", line)]))
            continue
        if line.startswith("|") and line.endswith("|") and len(line) > 1:
            flush()
            for cell in line.strip("|").split("|"):
                units.extend(_units_from_lines(None, "cell", [cell]))
            continue
        is_bullet, text = _split_marker(line, _list_running(kind, block))
        if is_bullet or not block:
            flush()
            kind = "bullet" if is_bullet else "paragraph"
        block.append(text)
    flush()
    return units


# --------------------------------------------------------------------------
# Sentence segmentation
# --------------------------------------------------------------------------

# Abbreviations that introduce what follows, so a capital after them does
# not start a sentence («jf. Plan- og bygningsloven», «Dr. Hansen»).
# Lower case; the dot is part of the entry. Any other word or abbreviation
# ending in a dot before a capital word ends the sentence («… osv. Kommunen»).
_PRECEDING_ABBREVIATIONS = frozenset(
    {
        "adm.", "adm.dir.", "ang.", "avd.", "avs.", "avsn.", "bl.a.", "bnr.", "ca.", "d.v.s.",
        "dr.", "dvs.", "ekskl.", "ev.", "evt.", "f.eks.", "f.o.m.", "fig.", "fnr.",
        "fr.", "fv.", "fylkeskomm.", "gnr.", "hhv.", "hr.", "ift.", "ifb.", "ifm.",
        "iflg.", "ihht.", "iht.", "inkl.", "istf.", "jf.", "jfr.", "kap.", "kgl.", "kgl.res.",
        "kl.", "komm.", "m.a.", "m.a.o.", "m.h.t.", "meld.", "mht.", "nr.", "p.g.a.", "pb.",
        "pga.", "pkt.", "pr.", "prof.", "prop.", "ref.", "res.", "rv.", "s.", "s.k.", "sk.",
        "sml.", "snr.", "ss.", "st.", "st.meld.", "st.prp.", "såk.", "t.d.", "t.o.m.", "tab.",
        "tlf.", "vedk.", "vedr.", "vha.", "vs.",
    }
)
_MONTHS = frozenset(
    {
        "januar", "februar", "mars", "april", "mai", "juni", "juli", "august",
        "september", "oktober", "november", "desember",
    }
)
_NUMBER_WITH_DOT = re.compile(r"^\d[\d.,]*\.$")  # «2026.», «3.», «18.00.», «17.05.2024.»
_INITIAL = re.compile(r"^[A-ZÆØÅ]\.$")  # «Per S. Hansen»
_HARD_BREAK = re.compile(r"(?<=:)[ \t]*\n\s*|\n[ \t]*\n\s*")
_PIPE_BATCH_SIZE = 256


@functools.lru_cache(maxsize=1)
def _sentence_pipeline() -> Language:
    """spaCy's blank Norwegian pipeline with the rule-based sentencizer (loaded once)."""
    import spacy

    nlp = spacy.blank("nb")
    nlp.add_pipe("sentencizer")
    return nlp


def _segment_many(texts: Sequence[str]) -> list[list[str]]:
    """Split many texts at once (one spaCy ``pipe`` call); one sentence list per text."""
    owners: list[int] = []
    pieces: list[str] = []
    for owner, text in enumerate(texts):
        for piece in _HARD_BREAK.split(text):
            piece = _SPACES.sub(" ", piece).strip()
            if piece:
                owners.append(owner)
                pieces.append(piece)
    result: list[list[str]] = [[] for _ in texts]
    docs = _sentence_pipeline().pipe(pieces, batch_size=_PIPE_BATCH_SIZE)
    for owner, doc in zip(owners, docs, strict=True):
        result[owner].extend(_doc_sentences(doc))
    return result


def _doc_sentences(doc: Doc) -> list[str]:
    """The repaired sentences of one spaCy doc, without letterless ones."""
    if len(doc) == 0:
        return []
    words = [token.text for token in doc]
    spaced = [bool(token.whitespace_) for token in doc]
    starts = _repair_boundaries(words, spaced, [bool(token.is_sent_start) for token in doc])
    offsets = [token.idx for token, start in zip(doc, starts, strict=True) if start] + [len(doc.text)]
    sentences = (doc.text[begin:end].strip() for begin, end in itertools.pairwise(offsets))
    return [sentence for sentence in sentences if _has_letters(sentence)]


def _repair_boundaries(words: Sequence[str], spaced: Sequence[bool], starts: Sequence[bool]) -> list[bool]:
    """Fix the sentencizer's sentence starts with our Norwegian rules.

    Args:
        words: Token texts.
        spaced: Whether each token is followed by whitespace.
        starts: spaCy's ``is_sent_start`` per token.

    Returns:
        One flag per token: whether a sentence starts there.
    """
    fixed = [True] + [False] * (len(words) - 1)
    sentence_start = 0
    for i in range(1, len(words)):
        fixed[i] = _is_sentence_start(words, spaced, i, sentence_start, starts[i])
        if fixed[i]:
            sentence_start = i
    return fixed


def _is_sentence_start(
    words: Sequence[str], spaced: Sequence[bool], i: int, sentence_start: int, spacy_says: bool
) -> bool:
    """Decide whether token ``i`` starts a sentence, given spaCy's guess ``spacy_says``."""
    prev, word = words[i - 1], words[i]
    if not prev.endswith("."):
        return spacy_says  # «?», «!», quotes and brackets: spaCy is right
    # spaCy splits unknown abbreviations into «kap» + «.»; look at them whole.
    dotted, dotted_at = prev, i - 1
    if prev == "." and i >= 2 and not spaced[i - 2]:
        dotted, dotted_at = words[i - 2] + ".", i - 2
    abbreviation = dotted.lower() in _PRECEDING_ABBREVIATIONS
    first = word[:1]
    if first.islower():
        return False  # Norwegian sentences start with a capital: «bl.a. styrke»
    if not first.isupper():
        return spacy_says and not abbreviation  # digits, quotes: «ca. 200»
    if abbreviation or _INITIAL.match(dotted):
        return False
    if _NUMBER_WITH_DOT.match(dotted):
        # «2026. Planen» ends a sentence, «1. Januar» is a date, and a number
        # opening the sentence is a list number («1. Innledning»).
        return dotted_at != sentence_start and word.lower() not in _MONTHS
    return True  # «… osv. Kommunen», «… skolen. Vi»
