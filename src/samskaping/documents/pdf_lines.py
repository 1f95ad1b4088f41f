"""PDF page lines: PDFium's text of one page as lines with their geometry and font.

Turned pages (``/Rotate`` 90, 180, 270, or content drawn sideways, as on
landscape pages) are read in the text's own reading order: PDFium orders the
lines of a page as they are displayed, which for sideways text can be back to
front, so each page is shown to PDFium with its text upright, and the line
geometry is measured in the text's own frame (x along the lines, y up the page).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING

from samskaping.documents.lines import clean_line

if TYPE_CHECKING:
    from pypdfium2 import PdfDocument, PdfTextPage


@dataclass(frozen=True)
class PdfLine:
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
    font_changes: bool = False  # the last character is set in another size or weight than the first

    @property
    def height(self) -> float | None:
        """Height of the first character's loose box, a proxy for the font size."""
        if self.top is None or self.bottom is None:
            return None
        return self.top - self.bottom


# The top and bottom bands of a page (a share of its height), where running heads and page numbers sit.
_BAND = 0.12
# A gap this many times the font height inside a line separates table cells.
_CELL_GAP = 2.0


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
        return self.turn(*self.textpage.get_charbox(index, loose=True))

    def turn(self, left: float, bottom: float, right: float, top: float) -> tuple[float, float, float, float]:
        """A box (left, bottom, right, top) of the page in the frame of its text."""
        if self.direction == 90:  # text runs up the page: turn the page clockwise
            return bottom, -right, top, -left
        if self.direction == 180:
            return -right, -top, -left, -bottom
        if self.direction == 270:  # text runs down the page: turn the page counter-clockwise
            return -top, left, -bottom, right
        return left, bottom, right, top


@dataclass(frozen=True)
class PdfPage:
    """The lines of one page in PDFium's order, and the page's box in the frame of its text."""

    lines: list[PdfLine]
    left: float = 0.0
    bottom: float = 0.0
    right: float = 0.0
    top: float = 0.0

    @property
    def width(self) -> float:
        """Width of the page along its text lines."""
        return self.right - self.left

    @property
    def height(self) -> float:
        """Height of the page across its text lines."""
        return self.top - self.bottom


def page_lines(pdf: PdfDocument, index: int) -> PdfPage:
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
        # character boxes are in the page's own space, not turned by /Rotate: so is the crop box
        turned = boxes.turn(*page.get_cropbox())
        left, bottom, right, top = (
            min(turned[0], turned[2]),
            min(turned[1], turned[3]),
            max(turned[0], turned[2]),
            max(turned[1], turned[3]),
        )
        # on a landscape sheet (perhaps a spread) a wide gap over the middle parts two pages' texts
        middle = (left + right) / 2 if right - left > top - bottom else None
        lines = []
        for match in re.finditer(r"[^\r\n]+", text):
            raw = match.group()
            if not raw.strip():
                continue
            if with_geometry:
                line = _measured_line(textpage, boxes, raw, match.start())
                if abs((line.last_bottom or 0.0) - (line.bottom or 0.0)) > 0.8 * (line.height or 0.0):
                    pieces = _pieces(boxes, raw, match.start())
                elif line.cells or line.font_changes:
                    # only in the top and bottom bands, where page numbers and footers sit: not a landscape table's rows
                    band = middle is not None and not (
                        bottom + _BAND * (top - bottom) < (line.bottom or 0.0)
                        and (line.top or 0.0) < top - _BAND * (top - bottom)
                    )
                    pieces = _frame_pieces(
                        textpage, boxes, raw, match.start(), line.height or 0.0, middle if band else None
                    )
                else:
                    pieces = []
                if pieces:
                    lines.extend(_measured_line(textpage, boxes, piece, at) for piece, at in pieces)
                else:
                    lines.append(line)
            else:
                lines.append(PdfLine(text=clean_line(raw)))
        return PdfPage(lines, left, bottom, right, top)
    finally:
        textpage.close()
        page.close()


def _pieces(boxes: _Boxes, raw: str, start: int) -> list[tuple[str, int]]:
    """A line cut where PDFium joined text from elsewhere with a space (a page number after a column's last line)."""
    _, bottom, _, top = boxes(start + len(raw) - len(raw.lstrip()))
    height = top - bottom
    pieces, position = [], 0
    for match in re.finditer(r" +", raw.strip()):
        offset = len(raw) - len(raw.lstrip())
        before, after = start + offset + match.start() - 1, start + offset + match.end()
        if abs(boxes(after)[1] - boxes(before)[1]) > 0.8 * height:
            pieces.append((raw[position : offset + match.start()], start + position))
            position = offset + match.end()
    pieces.append((raw[position:], start + position))
    return [(piece, at) for piece, at in pieces if piece.strip()]


def _frame_pieces(
    textpage: PdfTextPage, boxes: _Boxes, raw: str, start: int, height: float, middle: float | None = None
) -> list[tuple[str, int]]:
    """A line cut at wide gaps where the font changes (PDFium joined a box's title to the body line beside
    it) or that hold the middle of a landscape sheet (the page numbers of a spread's two pages).

    Table rows keep one font across their cells, so they are left whole (and split into cells later).
    """
    import pypdfium2.raw as pdfium_c

    def font(index: int) -> tuple[float, int]:
        return (
            round(pdfium_c.FPDFText_GetFontSize(textpage.raw, index), 1),
            pdfium_c.FPDFText_GetFontWeight(textpage.raw, index),
        )

    pieces, position = [], 0
    for match in re.finditer(r" +", raw):
        if match.start() == 0 or match.end() >= len(raw):
            continue
        before, after = start + match.start() - 1, start + match.end()
        gap_left, gap_right = boxes(before)[2], boxes(after)[0]
        if gap_right - gap_left > _CELL_GAP * height and (
            font(before) != font(after) or (middle is not None and gap_left < middle < gap_right)
        ):
            pieces.append((raw[position : match.start()], start + position))
            position = match.end()
    if not pieces:
        return []
    pieces.append((raw[position:], start + position))
    return [(piece, at) for piece, at in pieces if piece.strip()]


def _measured_line(textpage: PdfTextPage, boxes: _Boxes, raw: str, start: int) -> PdfLine:
    """Build a line with the loose boxes of its first and last characters."""
    import pypdfium2.raw as pdfium_c

    first = start + len(raw) - len(raw.lstrip())
    last = start + len(raw.rstrip()) - 1
    left, bottom, _, top = boxes(first)
    _, last_bottom, right, _ = boxes(last)
    word_end = first + len(raw[first - start :].split(maxsplit=1)[0]) - 1
    word_right = boxes(word_end)[2]
    cells = _split_cells(boxes, raw, start, top - bottom, right - left)
    weight = pdfium_c.FPDFText_GetFontWeight(textpage.raw, first)
    size = pdfium_c.FPDFText_GetFontSize(textpage.raw, first)
    return PdfLine(
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
        font_changes=(
            round(pdfium_c.FPDFText_GetFontSize(textpage.raw, last), 1) != round(size, 1)
            or pdfium_c.FPDFText_GetFontWeight(textpage.raw, last) != weight
        ),
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
