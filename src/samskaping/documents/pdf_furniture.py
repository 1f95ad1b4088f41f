"""PDF page furniture: running heads and footers, photo credits, and the role of each block.

Running heads and footers are found three ways, each on the lines at a page's
top or bottom edge (page numbers are dropped before, as junk lines):

- a line that repeats (digits, case and spacing ignored) on at least half of
  the pages, among the two top and two bottom lines of each page;
- a line that repeats on at least half of the pages *of the same parity*
  (the plan's title on even pages, the chapter name on odd pages), as the
  single top or bottom line, standing apart from the text (a line's height or more);
- a line in a smaller font or the body's, standing as the top or bottom line exactly
  where running heads of that parity were found on other pages: a chapter's
  name in the head of the one odd page it runs over.

Photo credits («Foto: Kari Nordmann», «Foto/ill.:», «Illustrasjon:») are not plan
text and are dropped. A block is a fact box when its first line is a short
«Fakta…» title in a column narrower than half the page, a pull quote when it
opens with a quotation mark in a larger font (or is set much larger than the
body without looking like a heading), and a caption when all of it is set
smaller than the body text away from the page's bottom band, where footnotes sit.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable
from typing import Literal

from samskaping.documents.lines import SPACES, TextUnit
from samskaping.documents.pdf_lines import PdfLine, PdfPage

Role = Literal["body", "caption", "quote", "factbox"]

# A credit names its kind with a colon: «Foto: Ola Nordmann», «Foto/ill.: Kari Hansen», «Illustrasjon: …».
CREDIT = re.compile(
    r"^(?:foto(?:graf)?|fotos|bilde|ill(?:ustrasjon)?\.?|foto\s*/\s*ill(?:ustrasjon)?\.?|photo)\s*:\s*\S",
    re.IGNORECASE,
)
# A credit at the end of a caption: «… ved elva. Foto: Ola Nordmann».
TRAILING_CREDIT = re.compile(
    r"\s*\(?(?:foto(?:graf)?|fotos|bilde|ill(?:ustrasjon)?\.?|foto\s*/\s*ill(?:ustrasjon)?\.?)\s*:\s*[^.:]{1,60}\)?$",
    re.IGNORECASE,
)
FACT_TITLE = re.compile(r"^fakta\b", re.IGNORECASE)
QUOTE_OPENERS = ("«", "“", "„", '"', "”")
QUOTE_MARKS = "«»“”„\"'’ "
# Position of a running head: its top within this many points of another page's.
_SLOT = 2.0
# A caption is set at most this share of the body's size; a pull quote at least these.
_CAPTION_SIZE = 0.92
_QUOTE_MARKED_SIZE = 1.15
_QUOTE_SIZE = 1.4
# The bottom band (share of the page height) where small print is a footnote, not a caption.
_FOOT_BAND = 0.12


def is_credit(text: str) -> bool:
    """Whether a line is a photo or illustration credit («Foto: Ola Nordmann»)."""
    return len(text.split()) <= 8 and text[:1].isupper() and bool(CREDIT.match(text))


def running_key(text: str) -> str:
    """Compare header/footer lines ignoring digits (page numbers, years), case and spacing."""
    return SPACES.sub(" ", re.sub(r"\d+", " ", text.lower())).strip()


def _by_height(lines: list[PdfLine]) -> list[PdfLine]:
    """Lines from the top of the page down, by position when known."""
    if all(line.top is not None for line in lines):
        return sorted(lines, key=lambda line: -(line.top or 0.0))
    return list(lines)


def _edge_lines(lines: list[PdfLine], depth: int) -> list[PdfLine]:
    """The top and bottom ``depth`` lines of a page."""
    ordered = _by_height(lines)
    if len(ordered) <= 2 * depth:
        return ordered
    return ordered[:depth] + ordered[-depth:]


def _apart_edge_lines(lines: list[PdfLine]) -> list[PdfLine]:
    """The top and bottom line of a page where each stands apart from the text next to it (a line's height or more)."""
    ordered = _by_height(lines)
    if len(ordered) < 2 or any(line.top is None or line.bottom is None for line in (*ordered[:2], *ordered[-2:])):
        return []
    found = []
    for edge, inner in ((ordered[0], ordered[1]), (ordered[-1], ordered[-2])):
        upper, lower = (edge, inner) if edge is ordered[0] else (inner, edge)
        if (upper.bottom or 0.0) - (lower.top or 0.0) >= (edge.height or 0.0):
            found.append(edge)
    return found


def _repeating(pages: list[list[PdfLine]], edges: Callable[[list[PdfLine]], list[PdfLine]]) -> set[str]:
    """Keys of ``edges`` lines that repeat on at least half of ``pages`` (at least two)."""
    with_text = [lines for lines in pages if lines]
    needed = max(2, math.ceil(len(with_text) / 2))
    counts: Counter[str] = Counter()
    for lines in with_text:
        counts.update({running_key(line.text) for line in edges(lines)} - {""})
    return {key for key, count in counts.items() if count >= needed}


def drop_running_lines(pages: list[PdfPage], numbers: list[int], body_size: float | None) -> list[PdfPage]:
    """The pages without their running heads and footers (see the module's description).

    Args:
        pages: The pages, junk lines already dropped.
        numbers: The page number of each page (its parity decides which heads it has).
        body_size: The body text's font size, or None.

    Returns:
        The pages with the same boxes and the running lines left out.
    """
    all_lines = [page.lines for page in pages]
    edges = {id(lines): _edge_lines(lines, 2) for lines in all_lines}
    apart = {id(lines): _apart_edge_lines(lines) for lines in all_lines}
    running = _repeating(all_lines, lambda lines: edges[id(lines)])
    dropped: list[set[int]] = [
        {id(line) for line in edges[id(lines)] if running_key(line.text) in running} for lines in all_lines
    ]
    slots: set[tuple[int, bool, float]] = set()
    for parity in (0, 1):
        group = [index for index, number in enumerate(numbers) if number % 2 == parity]
        keys = _repeating([all_lines[index] for index in group], lambda lines: apart[id(lines)])
        for index in group:
            for line in apart[id(all_lines[index])]:
                if running_key(line.text) in keys or id(line) in dropped[index]:
                    dropped[index].add(id(line))
                    if line.top is not None:
                        slots.add((parity, _is_top(line, pages[index]), line.top))
    if slots:
        for index, page in enumerate(pages):
            for line in apart[id(page.lines)]:
                if line.top is None or (body_size is not None and (line.size or 0.0) > body_size):
                    continue
                top = _is_top(line, page)
                if any(
                    parity == numbers[index] % 2 and side == top and abs(at - line.top) <= _SLOT
                    for parity, side, at in slots
                ):
                    dropped[index].add(id(line))
    return [
        PdfPage([line for line in page.lines if id(line) not in gone], page.left, page.bottom, page.right, page.top)
        for page, gone in zip(pages, dropped, strict=True)
    ]


def _is_top(line: PdfLine, page: PdfPage) -> bool:
    """Whether a line is in the upper half of its page."""
    return (line.top or 0.0) > page.bottom + page.height / 2


def block_role(lines: list[PdfLine], page: PdfPage, body_size: float | None) -> Role:
    """What a block of lines is: body text, a caption, a pull quote or a fact box."""
    if body_size is None or any(line.cells or line.size is None or line.left is None for line in lines):
        return "body"
    first = lines[0].text.strip()
    left = min(line.left or 0.0 for line in lines)
    right = max(line.right or 0.0 for line in lines)
    if FACT_TITLE.match(first) and len(first.split()) <= 6 and page.width and right - left < 0.5 * page.width:
        return "factbox"
    text = " ".join(line.text for line in lines).strip()
    # the quote's own lines, without an attribution under it in a smaller size
    said = [line for line in lines if not ATTRIBUTION.match(line.text)] or lines
    large = min(line.size or 0.0 for line in said)
    if large >= _QUOTE_MARKED_SIZE * body_size and text.startswith(QUOTE_OPENERS):
        return "quote"
    if large >= _QUOTE_SIZE * body_size and len(said) >= 2 and text.endswith((".", "!", "?", "»", "”")):
        return "quote"
    sizes = [line.size or 0.0 for line in lines]
    bottom = min(line.bottom or 0.0 for line in lines)
    if max(sizes) <= _CAPTION_SIZE * body_size and bottom > page.bottom + _FOOT_BAND * page.height:
        return "caption"
    return "body"


# The quoted words of a pull quote: «…», “…”, „…“ or "…", before any attribution («– Ola, 16 år»).
QUOTED = re.compile(r"[«“„\"](.+?)[»”“\"]")
# A short line under a pull quote naming who said it: «– Kari Hansen, ungdomsrådet».
ATTRIBUTION = re.compile(r"^[-–—]\s*\S")


def repeats_body(quote: str, body: str) -> bool:
    """Whether a pull quote's words (inside its quotation marks, or the whole of it) stand in the body text."""
    quoted = QUOTED.search(quote)
    core = SPACES.sub(" ", quoted.group(1) if quoted else quote.strip(QUOTE_MARKS)).strip(QUOTE_MARKS)
    return len(core) >= 12 and core in body


def with_attributions(roles: list[Role], blocks: list[list[PdfLine]]) -> tuple[list[Role], list[list[PdfLine]]]:
    """A short dash-led block right after a pull quote («– Kari, 16 år») joined to the quote."""
    kept_roles: list[Role] = []
    kept: list[list[PdfLine]] = []
    for role, lines in zip(roles, blocks, strict=True):
        text = " ".join(line.text for line in lines)
        if kept_roles and kept_roles[-1] == "quote" and ATTRIBUTION.match(text) and len(text.split()) <= 10:
            kept[-1] = kept[-1] + lines
            continue
        kept_roles.append(role)
        kept.append(lines)
    return kept_roles, kept


def drop_repeated_quotes(units: list[TextUnit]) -> list[TextUnit]:
    """Leave out pull quotes that repeat a sentence of the body text."""
    if not any(unit.kind == "quote" for unit in units):
        return units
    body = " ".join(unit.text for unit in units if unit.kind != "quote")
    return [unit for unit in units if unit.kind != "quote" or not repeats_body(unit.text, body)]
