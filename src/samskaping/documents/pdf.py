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

The lines of a page and their geometry come from
:mod:`~samskaping.documents.pdf_lines` (turned pages included); they are read in
the page's reading order, not the file's drawing order, and a spread is read as
its two pages (:mod:`~samskaping.documents.pdf_layout`); running heads, credits,
captions, pull quotes and fact boxes are told apart by
:mod:`~samskaping.documents.pdf_furniture`. Captions, quotes and fact boxes become
units of their own kind, read after the paragraph they interrupt; a pull quote
that repeats the body text is dropped.
"""

from __future__ import annotations

import itertools
import logging
import re
import statistics
from collections import Counter
from pathlib import Path

from samskaping.documents import limits
from samskaping.documents.document import Document, note
from samskaping.documents.lines import (
    TOC_HEADINGS,
    TOC_LEADER,
    TextUnit,
    UnitKind,
    is_junk_line,
    list_running,
    looks_like_heading,
    split_marker,
    units_from_lines,
)
from samskaping.documents.pdf_furniture import (
    TRAILING_CREDIT,
    Role,
    block_role,
    drop_repeated_quotes,
    drop_running_lines,
    is_credit,
    with_attributions,
)
from samskaping.documents.pdf_layout import pages_and_numbers, reading_order
from samskaping.documents.pdf_lines import PdfLine, PdfPage, page_lines
from samskaping.errors import DocumentError

log = logging.getLogger(__name__)


# A line pitch this many times the usual pitch starts a new paragraph.
_PARAGRAPH_PITCH = 1.3


def read(path: Path) -> Document:
    """Extract units from a PDF with pypdfium2, page by page; pages skipped are logged and kept as notes."""
    import pypdfium2 as pdfium
    import pypdfium2.raw as pdfium_c

    try:
        pdf = pdfium.PdfDocument(str(path))
    except pdfium.PdfiumError as exc:
        if exc.err_code in (pdfium_c.FPDF_ERR_PASSWORD, pdfium_c.FPDF_ERR_SECURITY):
            raise DocumentError(f"{path}: PDF is password-protected; save an unprotected copy and try again") from exc
        if exc.err_code == pdfium_c.FPDF_ERR_SUCCESS:  # PDFium found no error, only no page tree it could use
            raise DocumentError(
                f"{path}: the PDF has no pages (its page tree is empty or broken); "
                "open it in a PDF reader and save or print it to a new PDF"
            ) from exc
        raise DocumentError(
            f"{path}: not a readable PDF ({exc}); check that the file is complete, "
            "or open it in a PDF reader and save it again"
        ) from exc
    pages: list[list[PdfLine]] = []
    sheets: list[PdfPage] = []
    unreadable: list[int] = []
    reasons: set[str] = set()
    notes: list[str] = []
    try:
        if len(pdf) == 0:
            raise DocumentError(
                f"{path}: the PDF has no pages (its page tree is empty or broken); "
                "open it in a PDF reader and save or print it to a new PDF"
            )
        declared, misses = len(pdf), 0
        for index in range(min(declared, limits.current().pdf_pages)):
            try:
                sheets.append(page_lines(pdf, index))
                pages.append(sheets[-1].lines)
                misses = 0
            except Exception as exc:  # noqa: BLE001 - PDFium raises several types for a damaged page object
                reasons.add(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
                unreadable.append(index + 1)
                sheets.append(PdfPage([]))
                pages.append([])
                misses += 1
                if misses == limits.MISSES_BEFORE_STOP and index + 1 < declared:
                    break  # a page tree that declares more pages than it holds (a million, say)
    finally:
        pdf.close()
    limits.warn_pages_not_tried(path, declared, pages, unreadable, misses, notes)
    if unreadable and len(unreadable) < len(pages):
        note(
            notes,
            log,
            "%s: %s could not be read (%s) and %s skipped; the other pages are read. To keep %s, "
            "open the file in a PDF reader and save or print it to a new PDF",
            path,
            _pages_named(unreadable),
            "; ".join(sorted(reasons)),
            "is" if len(unreadable) == 1 else "are",
            "it" if len(unreadable) == 1 else "them",
        )

    if not any(line.text.strip() for page in pages for line in page):
        if unreadable and len(unreadable) == len(pages):
            raise DocumentError(
                f"{path}: none of its {len(pages)} page(s) could be read; open it in a PDF reader and save it again"
            )
        raise DocumentError(
            f"{path}: PDF has no text layer on any of its {len(pages)} pages (scanned?); "
            "run OCR on it (e.g. ocrmypdf) and try again"
        )
    empty = [number for number, lines in enumerate(pages, start=1) if not lines and number not in unreadable]
    if empty:
        note(notes, log, "%s: no text layer on page(s) %s; those pages are skipped", path, empty)

    sheets, numbers = pages_and_numbers(sheets[: len(pages)])
    sheets = [
        PdfPage(_drop_junk_lines(sheet.lines), sheet.left, sheet.bottom, sheet.right, sheet.top) for sheet in sheets
    ]
    sheets = drop_running_lines(sheets, numbers, _body_style([sheet.lines for sheet in sheets])[0])
    pages = [sheet.lines for sheet in sheets]
    pitch = _usual_pitch(pages)
    body = _body_style(pages)
    units = [
        unit
        for number, sheet in zip(numbers, sheets, strict=True)
        for unit in _pdf_page_units(number, sheet, pitch, body)
    ]
    return Document(path, drop_repeated_quotes(units), None, tuple(notes))


def _pages_named(numbers: list[int]) -> str:
    """«page 2», «pages 2, 5», «pages 2-9» for a warning."""
    if len(numbers) == 1:
        return f"page {numbers[0]}"
    if numbers == list(range(numbers[0], numbers[-1] + 1)):
        return f"pages {numbers[0]}-{numbers[-1]}"
    return "pages " + ", ".join(map(str, numbers))


def _drop_junk_lines(lines: list[PdfLine]) -> list[PdfLine]:
    """Drop page numbers, TOC entries, letterless lines, photo credits, and a TOC page's heading."""
    kept = [line for line in lines if line.cells or not (is_junk_line(line.text) or is_credit(line.text))]
    toc_entries = sum(1 for line in lines if TOC_LEADER.search(line.text))
    if toc_entries >= 2:
        kept = [line for line in kept if line.text.lower().strip(" :") not in TOC_HEADINGS]
    return kept


def _usual_pitch(pages: list[list[PdfLine]]) -> float | None:
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


def _reference_right(line: PdfLine, lines: list[PdfLine]) -> float:
    """Right edge of the text column that ``line`` belongs to (same left edge)."""
    if line.left is None or line.right is None or line.height is None:
        return 0.0
    tolerance = 3 * line.height
    return max(
        (
            other.right
            for other in lines
            if other.left is not None and other.right is not None and abs(other.left - line.left) <= tolerance
        ),
        default=line.right,
    )


def _starts_new_paragraph(
    prev: PdfLine, line: PdfLine, lines: list[PdfLine], pitch: float | None, resumed: bool = False
) -> bool:
    """Whether ``line`` starts a new paragraph after ``prev`` on the same page.

    ``resumed``: the text goes on after a pull quote, caption or box set into it, so
    the distance between the lines says nothing and only the punctuation decides.
    """
    prev_text, text = prev.text.rstrip(), line.text.lstrip()
    starts_upper = text[:1].isupper() or text[:1].isdigit()
    ends_sentence = prev_text.endswith((".", "!", "?", "»", '"', "”", ")"))
    if (
        resumed
        or prev.height is None
        or line.height is None
        or prev.last_bottom is None
        or line.bottom is None
        or prev.left is None
        or prev.right is None
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
    return prev.weight != line.weight and not prev_text.endswith((",", ";", "-")) and len(prev_text.split()) <= 12


def _ends_clause(text: str) -> bool:
    """Whether a line ends with punctuation after which a list may begin."""
    return text.rstrip().endswith((".", ":", "!", "?", ";"))


# A heading is set at least this much larger than the body text (a 10 pt body and an 11.5 pt heading).
_HEADING_SIZE = 1.15
# A heading is a short block: at most this many lines.
_HEADING_LINES = 3
# «3.2 Levende lokalsamfunn», «4 Samfunnsutvikling»: a section number, a space and a capital letter.
_SECTION_NUMBER = re.compile(r"^\d{1,2}(?:\.\d{1,2})*\.?\s+[A-ZÆØÅ]")


def _body_style(pages: list[list[PdfLine]]) -> tuple[float | None, bool]:
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


def _is_heading(lines: list[PdfLine], text: str, body: tuple[float | None, bool]) -> bool:
    """Whether a paragraph block is a heading: larger or bolder than the body text, or a numbered section line."""
    if not lines or len(lines) > _HEADING_LINES or not looks_like_heading(text):
        return False
    size, bold = body
    if size is not None and all(line.size is not None and line.size >= _HEADING_SIZE * size for line in lines):
        return True
    if not bold and all(line.bold for line in lines):
        return True
    return len(lines) == 1 and bool(_SECTION_NUMBER.match(text))


def _pdf_page_units(
    page: int, sheet: PdfPage, pitch: float | None, body: tuple[float | None, bool] = (None, False)
) -> list[TextUnit]:
    """A page's units in reading order: its blocks ordered by geometry, captions, quotes and fact boxes apart.

    A caption, pull quote or fact box that interrupts a paragraph (a quote set
    inside a column) comes after that paragraph, which is read on across it.
    """
    blocks = reading_order(sheet.lines)
    roles: list[Role] = [block_role(lines, sheet, body[0]) for lines in blocks]
    roles, blocks = with_attributions(roles, blocks)
    if all(role == "body" for role in roles):
        return _body_units(page, [line for lines in blocks for line in lines], sheet.lines, pitch, body)
    units: list[TextUnit] = []
    run: list[PdfLine] = []
    pending: list[TextUnit] = []
    resumed: set[int] = set()  # ids of lines that go on with a paragraph after an aside
    interrupted = False
    for role, lines in zip(roles, blocks, strict=True):
        if role == "body":
            if interrupted:
                resumed.add(id(lines[0]))
                interrupted = False
            run.extend(lines)
            continue
        aside = [
            TextUnit(page, TRAILING_CREDIT.sub("", unit.text) if role == "caption" else unit.text, role)
            for unit in _body_units(page, lines, lines, pitch, body)
        ]
        if role == "quote" and aside:  # a quote and its attribution are one unit, kept or dropped together
            aside = [TextUnit(page, " ".join(unit.text for unit in aside), role)]
        if not run or run[-1].text.rstrip().endswith((".", "!", "?", ":", "»", "”")):
            units.extend(_body_units(page, run, sheet.lines, pitch, body, resumed))
            units.extend(pending + aside)
            run, pending = [], []
        else:
            pending.extend(aside)  # the paragraph goes on after it
            interrupted = True
    units.extend(_body_units(page, run, sheet.lines, pitch, body, resumed))
    return units + pending


def _body_units(
    page: int,
    lines: list[PdfLine],
    all_lines: list[PdfLine],
    pitch: float | None,
    body: tuple[float | None, bool],
    resumed: set[int] | None = None,
) -> list[TextUnit]:
    """Group a page's cleaned lines into heading, paragraph, bullet and cell units."""
    units: list[TextUnit] = []
    block: list[str] = []
    block_lines: list[PdfLine] = []
    kind: UnitKind = "paragraph"
    prev: PdfLine | None = None

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
        if (
            is_bullet
            or not block
            or (prev is not None and _starts_new_paragraph(prev, line, all_lines, pitch, id(line) in (resumed or ())))
        ):
            flush()
            kind = "bullet" if is_bullet else "paragraph"
        block.append(text)
        block_lines.append(line)
        prev = line
    flush()
    return units
