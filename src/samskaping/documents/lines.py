"""Line rules shared by every reader: cleaning, junk lines, bullets, joining wrapped lines.

Pure functions on strings; each reader (``pdf``, ``docx``, ``html``, ``text``)
turns its format into lines and hands them to :func:`units_from_lines`.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

UnitKind = Literal["paragraph", "heading", "bullet", "cell", "footnote", "caption", "quote", "factbox"]


@dataclass(frozen=True)
class TextUnit:
    """One cleaned paragraph, heading, bullet item, table cell or footnote of a document.

    Attributes:
        page: 1-based page number for PDFs, ``None`` for other formats.
        text: The cleaned text on one line (bullet markers removed).
        kind: ``"paragraph"``, ``"heading"``, ``"bullet"``, ``"cell"``, ``"footnote"`` (footnotes and
            endnotes of a DOCX, read after the body), ``"caption"`` (a photo or figure caption),
            ``"quote"`` (a pull quote that does not repeat the body) or ``"factbox"`` (a «Fakta» box).
    """

    page: int | None
    text: str
    kind: UnitKind


# Marks PDFium puts where it joined a line that ended in a hyphen; we make the
# line break explicit again so one rule (join_lines) decides about hyphens.
PDFIUM_LINE_HYPHEN = re.compile("[\ufffe\x02]")
# Soft hyphens and zero-width characters (a regex: str.translate is slower).
INVISIBLE = re.compile("[\u00ad\u200b\u200c\u200d\u2060\ufeff]")
# C0 and C1 control characters (C1 reaches text through mislabelled latin-1 pages and old files).
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
# C1 controls (less NEL, a line break) and DEL show as nothing: dropped, where C0 controls
# (vertical tab, form feed, unit separators) separate words and become a space.
INVISIBLE_CONTROL = re.compile(r"[\x7f-\x84\x86-\x9f]")
SPACES = re.compile(r"\s+")
BULLET = re.compile(
    r"^(?:[•◦▪▫■□●○‣⁃∙·\-–—*+➢➤►✓✔\uf0a7\uf0b7\uf076\uf0d8\uf0fc]"
    r"|(?P<num>\d{1,2}[.)])|[a-zæøå]\))\s+(?=\S)"
)
PAGE_NUMBER = re.compile(
    r"^(?:(?:side|sida|s\.|page|p\.)\s*)?[-–—]?\s*\d{1,4}\s*[-–—]?"
    r"(?:\s*(?:av|of|/|\|)\s*\d{1,4})?$",
    re.IGNORECASE,
)
NUMBER_TAIL = re.compile(r"^[\d\s.,%§/()\-–+]*\d[\d\s.,%§/()\-–+]*[.,;:!?)»]$")
# Dot leaders of a table of contents: «Innledning .......... 3».
TOC_LEADER = re.compile(r"(?:\.\s?){4,}\s*\d*\s*$")
TOC_HEADINGS = frozenset(
    {
        "innhold",
        "innholdsfortegnelse",
        "innholdsliste",
        "innholdsoversikt",
        "innhald",
        "innhaldsliste",
        "innhaldsoversikt",
    }
)
# A hyphen before these words is a real one: «helse- og omsorgstjenester».
HYPHEN_KEEP_BEFORE = frozenset({"og", "eller", "til", "samt"})


def normalise(text: str, keep_line_break_hyphen: bool = False) -> str:
    """NFKC-normalise (ligatures, non-breaking spaces), drop soft hyphens, collapse spaces.

    With ``keep_line_break_hyphen`` a soft hyphen ending the text is kept:
    on a single line it marks a word broken at the line end, which
    :func:`join_lines` needs to see.
    """
    broken = keep_line_break_hyphen and text.rstrip().endswith("\u00ad")
    text = unicodedata.normalize("NFKC", INVISIBLE_CONTROL.sub("", INVISIBLE.sub("", text)))
    text = SPACES.sub(" ", CONTROL.sub(" ", text)).strip()
    return text + "\u00ad" if broken and text else text


def has_letters(text: str) -> bool:
    """Whether the text contains at least one letter."""
    return any(ch.isalpha() for ch in text)


def is_junk_line(line: str) -> bool:
    """Page numbers, table-of-contents entries and lines without letters.

    A letterless line that ends like a sentence («2024.», «§ 10-1.») is the
    wrapped end of a paragraph, not junk.
    """
    if PAGE_NUMBER.match(line) or TOC_LEADER.search(line):
        return True
    return not has_letters(line) and not NUMBER_TAIL.match(line)


def split_marker(line: str, in_list: bool = False) -> tuple[bool, str]:
    """Return (is_bullet, text without its bullet marker) for one line.

    ``in_list`` says that a list is already running (after a bullet or a line
    ending in a colon), where «2. styrke …» is an item too.
    """
    match = BULLET.match(line)
    if match is None:
        return False, line
    rest = line[match.end() :]
    # «1. januar» wrapped onto a new line is not a numbered item; «1. Vi skal» is.
    number = match.group("num")
    if number and number.endswith(".") and not rest[:1].isupper() and not in_list:
        return False, line
    return True, rest


def list_running(kind: UnitKind, block: Sequence[str]) -> bool:
    """Whether the lines in ``block`` are a list item or end in a colon that opens a list."""
    return bool(block) and (kind == "bullet" or block[-1].rstrip().endswith(":"))


def join_lines(lines: Sequence[str]) -> str:
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
            if next_word in HYPHEN_KEEP_BEFORE:
                text = f"{text} {line}"
            elif line[0].islower():
                text = text[:-1] + line
            else:
                text = text + line
        else:
            text = f"{text} {line}"
    return text


def units_from_lines(
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
        text = normalise(join_lines(group))
        if has_letters(text):
            units.append(TextUnit(page=page, text=text, kind=kind))
    return units


def clean_line(line: str) -> str:
    """Normalise one physical line, keeping explicit line breaks it may carry."""
    parts = PDFIUM_LINE_HYPHEN.sub("-\n", line).split("\n")
    return "\n".join(normalise(part, keep_line_break_hyphen=True) for part in parts)


def clean_cell(text: str) -> str:
    """Clean one cell of a sentence table the way document text is cleaned.

    Unicode NFC (so NFC and NFD copies of a table give the same text), soft
    hyphens and zero-width characters removed, C0/C1 control characters
    dropped (a tab or line break becomes a space), runs of spaces collapsed.
    NFC rather than the documents' NFKC: table text was typed, not extracted,
    and NFKC would rewrite characters such as «²» or «½».
    """
    text = unicodedata.normalize("NFC", INVISIBLE.sub("", text))
    text = re.sub(r"[\t\n\r\x0b\x0c\x85]", " ", text)
    return SPACES.sub(" ", CONTROL.sub("", text)).strip()


def looks_like_heading(text: str) -> bool:
    """A heading standing alone in a format that does not mark headings (TXT, PDF).

    A few words, starting with a capital or a section number, and no closing
    punctuation: «3.2 Levande lokalsamfunn», «Samskaping og frivillighet».
    """
    words = text.split()
    return (
        0 < len(words) <= 12
        and (text[:1].isupper() or text[:1].isdigit())
        and not text.rstrip().endswith((".", "!", "?", ":", ";", ","))
        and has_letters(text)
    )
