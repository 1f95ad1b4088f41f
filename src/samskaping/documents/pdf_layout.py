"""PDF reading order from the page's geometry: blocks, columns and spreads.

Designed documents do not draw their text in reading order: InDesign writes
frames in the order they were stacked, so a content stream can hold the right
column before the left, the footer first and the headings last. PDFium's text
follows the stream, so the lines are regrouped here:

1. **Blocks**: lines that PDFium gives one after the other (or nearly: a box
   drawn line by line between the body's lines) and that sit one under the other
   in the same column (overlapping horizontally, no more than a line's height
   apart) form a block, a paragraph or a frame's piece.
2. **Order**: the blocks are sorted topologically by T. M. Breuel's rules for
   reading order (*High performance document layout analysis*, 2003): a block
   comes before another when their horizontal extents overlap and it is
   higher, or when it lies wholly to the left and no third block between
   them (vertically) overlaps both, as a heading spanning the columns does.
   Where the rules say nothing, PDFium's order stands, so a one-column page
   keeps its order exactly.
3. **Spreads**: a sheet whose two halves each carry a printed page number and
   whose text never crosses the middle is two pages (:func:`split_spread`).

Neither pypdfium2 nor PDFium orders text by layout; pdfminer.six does
(``LAParams.boxes_flow``) but is a second PDF parser in pure Python, and these
rules work on the lines that PDFium already measured.
"""

from __future__ import annotations

import heapq
import re
from dataclasses import dataclass

from samskaping.documents.lines import PAGE_NUMBER
from samskaping.documents.pdf_lines import PdfLine, PdfPage

# A line may go on in one of this many blocks started last.
_OPEN_BLOCKS = 3
# Lines further apart than this many line heights start a new block.
_BLOCK_GAP = 1.0
# Horizontal extents must overlap by this many points to count as overlapping (not a shared gutter edge).
_OVERLAP = 1.0
# A page-number line is looked for in this share of the page height at the top and bottom.
_NUMBER_BAND = 0.12
# A page number beside a running head or footer: «12 | Kommuneplan for Lindal», «Oppvekst 13».
_NUMBER_BESIDE_TEXT = re.compile(r"^(?:(\d{1,3})\s*[|·•–-]?\s+\D.*|.*\D\s+[|·•–-]?\s*(\d{1,3}))$")
# No text may cross this share of the page width on either side of a spread's middle.
_SPREAD_GUTTER = 0.02


@dataclass
class Block:
    """Lines of one block in PDFium's order, with their common box and the position of the first line in that order."""

    lines: list[PdfLine]
    index: int
    left: float
    right: float
    top: float
    bottom: float

    def add(self, line: PdfLine) -> None:
        """Add a line and widen the box."""
        self.lines.append(line)
        self.left = min(self.left, line.left or self.left)
        self.right = max(self.right, line.right or self.right)
        self.bottom = min(self.bottom, line.bottom if line.bottom is not None else self.bottom)
        self.top = max(self.top, line.top if line.top is not None else self.top)

    @property
    def middle(self) -> float:
        """Vertical centre."""
        return (self.top + self.bottom) / 2


def _measured(line: PdfLine) -> bool:
    return None not in (line.left, line.right, line.top, line.bottom)


def blocks_of(lines: list[PdfLine]) -> list[Block]:
    """Group a page's lines into blocks (see the module's description)."""
    blocks: list[Block] = []
    for index, line in enumerate(lines):
        # a frame drawn line by line between another's lines (a box beside the text) goes on in its own block
        open_block = next((block for block in reversed(blocks[-_OPEN_BLOCKS:]) if _continues(block, line)), None)
        if open_block is not None:
            open_block.add(line)
            continue
        blocks.append(Block([line], index, line.left or 0.0, line.right or 0.0, line.top or 0.0, line.bottom or 0.0))
    blocks = _merged(blocks)
    for block in blocks:  # top to bottom; lines on one baseline keep PDFium's order
        block.lines.sort(key=lambda line: -round(line.top or 0.0))
    return blocks


def _continues(block: Block, line: PdfLine) -> bool:
    """Whether ``line`` goes on in ``block``: just below (or, as PDFium gives it at times, above) it, same column."""
    last = block.lines[-1]
    height = max(last.height or 0.0, line.height or 0.0)
    if (
        None in (line.top, line.bottom, line.left, line.right)
        or min(block.right, line.right or 0.0) - max(block.left, line.left or 0.0) <= _OVERLAP
    ):
        return False
    below = (last.bottom or 0.0) - (line.top or 0.0)
    above = (line.bottom or 0.0) - block.top
    return -0.5 * height <= below <= _BLOCK_GAP * height or 0 <= above <= _BLOCK_GAP * height


def _merged(blocks: list[Block]) -> list[Block]:
    """Blocks joined with a block started shortly before that they touch from above or below (PDFium gave
    a frame's lines out of order, so a line came before the one it hangs under)."""
    kept: list[Block] = []
    for block in blocks:
        height = max((line.height or 0.0) for line in block.lines)
        target = next(
            (
                other
                for other in reversed(kept[-_OPEN_BLOCKS:])
                if _overlap(other, block)
                and (
                    0 <= other.bottom - block.top <= _BLOCK_GAP * height
                    or 0 <= block.bottom - other.top <= _BLOCK_GAP * height
                )
            ),
            None,
        )
        if target is None:
            kept.append(block)
            continue
        for line in block.lines:
            target.add(line)
    return kept


def _overlap(a: Block, b: Block) -> bool:
    return min(a.right, b.right) - max(a.left, b.left) > _OVERLAP


def reading_order(lines: list[PdfLine]) -> list[list[PdfLine]]:
    """The page's lines as blocks in reading order; one block in PDFium's order where geometry is missing."""
    if len(lines) < 2 or not all(_measured(line) for line in lines):
        return [lines] if lines else []
    blocks = blocks_of(lines)
    if len(blocks) < 2:
        return [block.lines for block in blocks]
    count = len(blocks)
    after: list[list[int]] = [[] for _ in range(count)]
    needs = [0] * count
    for i in range(count):
        for j in range(i + 1, count):
            first = _before(blocks, i, j)
            if first is None:
                continue
            earlier, later = (i, j) if first else (j, i)
            after[earlier].append(later)
            needs[later] += 1
    # Kahn's algorithm, taking PDFium's order among the blocks that are free to come next
    ready = [i for i in range(count) if needs[i] == 0]
    heapq.heapify(ready)
    done = [False] * count
    ordered: list[list[PdfLine]] = []
    while len(ordered) < count:
        if not ready:  # a cycle (overlapping frames): go on with the earliest block left
            ready = [min(i for i in range(count) if not done[i])]
        i = heapq.heappop(ready)
        if done[i]:
            continue
        done[i] = True
        ordered.append(blocks[i].lines)
        for j in after[i]:
            needs[j] -= 1
            if needs[j] == 0 and not done[j]:
                heapq.heappush(ready, j)
    return ordered


def _before(blocks: list[Block], i: int, j: int) -> bool | None:
    """True if block i comes before block j, False if after, None if the rules do not say."""
    a, b = blocks[i], blocks[j]
    if _overlap(a, b):
        if a.middle == b.middle:
            return None
        return a.middle > b.middle
    left, right = (a, b) if a.right <= b.left + _OVERLAP else (b, a)
    low, high = sorted((a.middle, b.middle))
    for c in blocks:
        if c is not a and c is not b and low < c.middle < high and _overlap(c, left) and _overlap(c, right):
            return None
    return left is a


def split_spread(page: PdfPage) -> list[tuple[PdfPage, int | None]]:
    """A landscape sheet holding two pages -> the two pages with their printed numbers; else the page, None.

    A sheet is a spread when it is wider than high, no line crosses its middle,
    and each half carries a page number («12», «Side 13») in its top or bottom band,
    the right half's one more than the left's.
    """
    lines = page.lines
    if page.width <= page.height or not lines or not all(_measured(line) for line in lines):
        return [(page, None)]
    middle = page.left + page.width / 2
    gutter = _SPREAD_GUTTER * page.width
    halves: tuple[list[PdfLine], list[PdfLine]] = ([], [])
    for line in lines:
        left, right = line.left or 0.0, line.right or 0.0  # measured: checked above
        if right <= middle + gutter and left < middle - gutter:
            halves[0].append(line)
        elif left >= middle - gutter and right > middle + gutter:
            halves[1].append(line)
        else:
            return [(page, None)]
    numbers = [_printed_number(half, page) for half in halves]
    if numbers[0] is None or numbers[1] != numbers[0] + 1:
        return [(page, None)]
    return [
        (PdfPage(halves[0], page.left, page.bottom, middle, page.top), numbers[0]),
        (PdfPage(halves[1], middle, page.bottom, page.right, page.top), numbers[1]),
    ]


def _printed_number(lines: list[PdfLine], page: PdfPage) -> int | None:
    """The page number printed in the top or bottom band of these lines, or None."""
    band = _NUMBER_BAND * page.height
    for line in lines:
        if (line.bottom or 0.0) > page.bottom + band and (line.top or 0.0) < page.top - band:
            continue
        if PAGE_NUMBER.match(line.text):
            digits = "".join(ch if ch.isdigit() else " " for ch in line.text).split()
            if digits:
                return int(digits[0])
        beside = _NUMBER_BESIDE_TEXT.match(line.text)
        if beside:
            return int(beside.group(1) or beside.group(2))
    return None


def pages_and_numbers(sheets: list[PdfPage]) -> tuple[list[PdfPage], list[int]]:
    """The pages (a spread's halves apart) and their numbers: 1, 2, … or, with spreads, the printed ones."""
    parts = [split_spread(sheet) for sheet in sheets]
    if all(len(halves) == 1 for halves in parts):
        return sheets, list(range(1, len(sheets) + 1))
    pages, numbers, number = [], [], 0
    for halves in parts:
        for page, printed in halves:
            number = printed if printed is not None and printed > number else number + 1
            pages.append(page)
            numbers.append(number)
    return pages, numbers
