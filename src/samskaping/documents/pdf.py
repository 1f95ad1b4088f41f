"""PDF reader (pypdfium2): lines with their positions -> paragraphs, bullets, table cells.

Running headers and footers, page numbers and table-of-contents lines are
dropped; lines of a paragraph are joined by their geometry (line pitch, font
size and weight, where the previous line ended); a sentence cut by a page
break is joined again later (:func:`continues_over_page_break`). A page that
PDFium cannot load is skipped with a warning naming it; the rest is read.

Headings are recognised by their font, as PDFium reports it for each line
(``FPDFText_GetFontSize``, ``FPDFText_GetFontWeight`` and the font name): a
short block of lines set larger than the document's body text, or bold where
the body text is not, is a heading when its words look like one
(:func:`~samskaping.documents.lines.looks_like_heading`); so is a line of its own
that starts with a section number («3.2 Levende lokalsamfunn»). The body text's
size and weight are those of most of the document's characters.

Turned pages (``/Rotate`` 90, 180, 270, or content drawn sideways, as on
landscape pages) are read in the text's own reading order: PDFium orders the
lines of a page as they are displayed, which for sideways text can be back to
front, so each page is shown to PDFium with its text upright, and the line
geometry is measured in the text's own frame (x along the lines, y up the page).
"""

from __future__ import annotations

import itertools
import logging
import math
import re
import statistics
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from samskaping.documents.lines import (
    SPACES,
    TOC_HEADINGS,
    TOC_LEADER,
    TextUnit,
    UnitKind,
    clean_line,
    is_junk_line,
    looks_like_heading,
    list_running,
    split_marker,
    units_from_lines,
)
from samskaping.documents import limits
from samskaping.errors import DocumentError

if TYPE_CHECKING:
    from pypdfium2 import PdfDocument, PdfTextPage

log = logging.getLogger(__name__)


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
    size: float | None = None
    bold: bool = False

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


def read(path: Path) -> list[TextUnit]:
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
        if exc.err_code == pdfium_c.FPDF_ERR_SUCCESS:  # PDFium found no error, only no page tree it could use
            raise DocumentError(f"{path}: the PDF has no pages (its page tree is empty or broken); "
                                "open it in a PDF reader and save or print it to a new PDF") from exc
        raise DocumentError(
            f"{path}: not a readable PDF ({exc}); check that the file is complete, "
            "or open it in a PDF reader and save it again"
        ) from exc
    pages: list[list[_PdfLine]] = []
    unreadable: list[int] = []
    reasons: set[str] = set()
    try:
        if len(pdf) == 0:
            raise DocumentError(f"{path}: the PDF has no pages (its page tree is empty or broken); "
                                "open it in a PDF reader and save or print it to a new PDF")
        declared, misses = len(pdf), 0
        for index in range(min(declared, limits.current().pdf_pages)):
            try:
                pages.append(_pdf_page_lines(pdf, index))
                misses = 0
            except Exception as exc:  # PDFium raises several types for a damaged page object
                reasons.add(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
                unreadable.append(index + 1)
                pages.append([])
                misses += 1
                if misses == limits.MISSES_BEFORE_STOP and index + 1 < declared:
                    break  # a page tree that declares more pages than it holds (a million, say)
    finally:
        pdf.close()
    limits.warn_pages_not_tried(path, declared, pages, unreadable, misses)
    if unreadable and len(unreadable) < len(pages):
        log.warning("%s: %s could not be read (%s) and %s skipped; the other pages are read. To keep %s, "
                    "open the file in a PDF reader and save or print it to a new PDF",
                    path, _pages_named(unreadable), "; ".join(sorted(reasons)),
                    "is" if len(unreadable) == 1 else "are", "it" if len(unreadable) == 1 else "them")

    if not any(line.text.strip() for page in pages for line in page):
        if unreadable and len(unreadable) == len(pages):
            raise DocumentError(f"{path}: none of its {len(pages)} page(s) could be read; open it in a PDF reader and save it again")
        raise DocumentError(
            f"{path}: PDF has no text layer on any of its {len(pages)} pages (scanned?); "
            "run OCR on it (e.g. ocrmypdf) and try again"
        )
    empty = [number for number, lines in enumerate(pages, start=1) if not lines and number not in unreadable]
    if empty:
        log.warning("%s: no text layer on page(s) %s; those pages are skipped", path, empty)

    pages = [_drop_junk_lines(lines) for lines in pages]
    running = _running_line_keys(pages)
    if running:
        log.debug("%s: dropping running headers/footers %s", path, sorted(running))
    pages = [_drop_running_lines(lines, running) for lines in pages]
    pitch = _usual_pitch(pages)
    body = _body_style(pages)
    return [
        unit
        for number, lines in enumerate(pages, start=1)
        for unit in _pdf_page_units(number, lines, pitch, body)
    ]


def _pages_named(numbers: list[int]) -> str:
    """«page 2», «pages 2, 5», «pages 2-9» for a warning."""
    if len(numbers) == 1:
        return f"page {numbers[0]}"
    if numbers == list(range(numbers[0], numbers[-1] + 1)):
        return f"pages {numbers[0]}-{numbers[-1]}"
    return "pages " + ", ".join(map(str, numbers))


# Characters sampled per page to find the direction its text runs in.
_DIRECTION_SAMPLE = 64


def _text_direction(textpage: PdfTextPage) -> int:
    """The direction most of the page's text runs in: 0, 90, 180 or 270 degrees counter-clockwise.

    PDFium gives each character's angle clockwise; text drawn sideways on a
    landscape page runs at 90 or 270.
    """
    import pypdfium2.raw as pdfium_c

    count = textpage.count_chars()
    if count <= 0:
        return 0
    step = max(1, count // _DIRECTION_SAMPLE)
    votes: Counter[int] = Counter()
    for index in range(0, count, step):
        if pdfium_c.FPDFText_GetUnicode(textpage.raw, index) in (0x20, 0x0A, 0x0D, 0x02, 0xFFFE):
            continue
        angle = pdfium_c.FPDFText_GetCharAngle(textpage.raw, index)
        if angle >= 0:
            votes[(360 - round(math.degrees(angle) / 90) * 90) % 360] += 1
    return votes.most_common(1)[0][0] if votes else 0


class _Boxes:
    """Loose character boxes of a text page, turned into the frame of its text (x along the lines, y up)."""

    def __init__(self, textpage: PdfTextPage, direction: int) -> None:
        self.textpage = textpage
        self.direction = direction

    def __call__(self, index: int) -> tuple[float, float, float, float]:
        left, bottom, right, top = self.textpage.get_charbox(index, loose=True)
        if self.direction == 90:  # text runs up the page: turn the page clockwise
            return bottom, -right, top, -left
        if self.direction == 180:
            return -right, -top, -left, -bottom
        if self.direction == 270:  # text runs down the page: turn the page counter-clockwise
            return -top, left, -bottom, right
        return left, bottom, right, top


def _pdf_page_lines(pdf: PdfDocument, index: int) -> list[_PdfLine]:
    """Read the lines of one page in its text's reading order, with positions."""
    page = pdf[index]
    textpage = page.get_textpage()
    try:
        direction = _text_direction(textpage)
        if page.get_rotation() != direction:
            # PDFium orders lines as the page is displayed; show it with the text upright
            textpage.close()
            page.set_rotation(direction)
            textpage = page.get_textpage()
        text = textpage.get_text_range()
        # Positions are only trustworthy when every character has its own index.
        with_geometry = len(text) == textpage.count_chars()
        boxes = _Boxes(textpage, direction)
        lines = []
        for match in re.finditer(r"[^\r\n]+", text):
            raw = match.group()
            if not raw.strip():
                continue
            if with_geometry:
                lines.append(_measured_line(textpage, boxes, raw, match.start()))
            else:
                lines.append(_PdfLine(text=clean_line(raw)))
        return lines
    finally:
        textpage.close()
        page.close()


def _measured_line(textpage: PdfTextPage, boxes: _Boxes, raw: str, start: int) -> _PdfLine:
    """Build a line with the loose boxes of its first and last characters."""
    import pypdfium2.raw as pdfium_c

    first = start + len(raw) - len(raw.lstrip())
    last = start + len(raw.rstrip()) - 1
    left, bottom, _, top = boxes(first)
    _, last_bottom, right, _ = boxes(last)
    word_end = first + len(raw[first - start:].split(maxsplit=1)[0]) - 1
    word_right = boxes(word_end)[2]
    cells = _split_cells(boxes, raw, start, top - bottom, right - left)
    weight = pdfium_c.FPDFText_GetFontWeight(textpage.raw, first)
    size = pdfium_c.FPDFText_GetFontSize(textpage.raw, first)
    return _PdfLine(
        text=clean_line(raw),
        cells=cells,
        left=left,
        right=right,
        top=top,
        bottom=bottom,
        last_bottom=last_bottom,
        first_word_width=word_right - left,
        weight=weight if weight > 0 else None,
        size=round(size, 1) if size > 0 else None,
        bold=weight >= _BOLD_WEIGHT or "bold" in _font_name(textpage, first).lower(),
    )


# PDF font weights: 400 regular, 700 bold; PDFium reports 400-500 for many regular faces.
_BOLD_WEIGHT = 600


def _font_name(textpage: PdfTextPage, index: int) -> str:
    """The name of the font of character ``index`` («ABCDEF+DejaVuSans-Bold»), or ""."""
    import ctypes

    import pypdfium2.raw as pdfium_c

    buffer = ctypes.create_string_buffer(128)
    length = pdfium_c.FPDFText_GetFontInfo(textpage.raw, index, buffer, len(buffer), None)
    return buffer.value.decode("latin-1") if 0 < length <= len(buffer) else ""


def _split_cells(boxes: _Boxes, raw: str, start: int, height: float, width: float) -> tuple[str, ...]:
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
        gap = boxes(after)[0] - boxes(before)[2]
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
    return tuple(cell for cell in (clean_line(piece) for piece in pieces) if cell)


def _drop_junk_lines(lines: list[_PdfLine]) -> list[_PdfLine]:
    """Drop page numbers, TOC entries, letterless lines, and a TOC page's heading."""
    kept = [line for line in lines if line.cells or not is_junk_line(line.text)]
    toc_entries = sum(1 for line in lines if TOC_LEADER.search(line.text))
    if toc_entries >= 2:
        kept = [line for line in kept if line.text.lower().strip(" :") not in TOC_HEADINGS]
    return kept


def _running_key(text: str) -> str:
    """Compare header/footer lines ignoring digits (page numbers, years), case and spacing."""
    return SPACES.sub(" ", re.sub(r"\d+", " ", text.lower())).strip()


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


# A heading is set at least this much larger than the body text (a 10 pt body and an 11.5 pt heading).
_HEADING_SIZE = 1.15
# A heading is a short block: at most this many lines.
_HEADING_LINES = 3
# «3.2 Levende lokalsamfunn», «4 Samfunnsutvikling»: a section number, a space and a capital letter.
_SECTION_NUMBER = re.compile(r"^\d{1,2}(?:\.\d{1,2})*\.?\s+[A-ZÆØÅ]")


def _body_style(pages: list[list[_PdfLine]]) -> tuple[float | None, bool]:
    """The font size and boldness of most of the document's characters (its body text)."""
    sizes: Counter[float] = Counter()
    bold: Counter[bool] = Counter()
    for lines in pages:
        for line in lines:
            if line.size is not None and not line.cells:
                sizes[line.size] += len(line.text)
                bold[line.bold] += len(line.text)
    if not sizes:
        return None, False
    return sizes.most_common(1)[0][0], bold.most_common(1)[0][0]


def _is_heading(lines: list[_PdfLine], text: str, body: tuple[float | None, bool]) -> bool:
    """Whether a paragraph block is a heading: larger or bolder than the body text, or a numbered section line."""
    if not lines or len(lines) > _HEADING_LINES or not looks_like_heading(text):
        return False
    size, bold = body
    if size is not None and all(line.size is not None and line.size >= _HEADING_SIZE * size for line in lines):
        return True
    if not bold and all(line.bold for line in lines):
        return True
    return len(lines) == 1 and bool(_SECTION_NUMBER.match(text))


def _pdf_page_units(page: int, lines: list[_PdfLine], pitch: float | None,
                    body: tuple[float | None, bool] = (None, False)) -> list[TextUnit]:
    """Group a page's cleaned lines into heading, paragraph, bullet and cell units."""
    units: list[TextUnit] = []
    block: list[str] = []
    block_lines: list[_PdfLine] = []
    kind: UnitKind = "paragraph"
    prev: _PdfLine | None = None

    def flush() -> None:
        if block:
            found = units_from_lines(page, kind, block, colon_breaks=False)
            if kind == "paragraph" and len(found) == 1 and _is_heading(block_lines, found[0].text, body):
                found = [TextUnit(page, found[0].text, "heading")]
            units.extend(found)
            block.clear()
            block_lines.clear()

    for line in lines:
        if line.cells:
            flush()
            for cell in line.cells:
                if not is_junk_line(cell):
                    units.extend(units_from_lines(page, "cell", [cell]))
            prev = None
            continue
        is_bullet, text = split_marker(line.text, list_running(kind, block))
        if is_bullet and line.text[0] in "-–—" and kind == "paragraph" and block and not _ends_clause(block[-1]):
            # A dash opening a line inside a running sentence is punctuation
            # («Kommunen vil / – sammen med innbyggerne – lage …»), not a bullet.
            is_bullet, text = False, line.text
        if is_bullet or not block or (prev is not None and _starts_new_paragraph(prev, line, lines, pitch)):
            flush()
            kind = "bullet" if is_bullet else "paragraph"
        block.append(text)
        block_lines.append(line)
        prev = line
    flush()
    return units
