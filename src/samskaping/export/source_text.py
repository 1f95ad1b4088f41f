"""A plan as one REFI-QDA plain-text source: its units one per line, and where each sentence stands.

Positions are Unicode code points counted from 0 (REFI-QDA 1.5, section 10.2); a sentence is the range
``[start, end)`` of the source text. A blank line goes before a heading and ``• `` before a bullet; a line
break or control character inside a unit becomes one space, so a unit never spans two lines.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pandas as pd

BULLET = "• "
# a line break of any kind inside a unit would make it two lines (and, as CRLF, shift ranges)
_LINE_BREAKS = re.compile(r"\r\n|[\r\n\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")
_C0 = re.compile(r"[\x00-\x08\x0e-\x1f\x7f]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")
_NOT_XML = re.compile(r"[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


@dataclass(frozen=True)
class PlacedUnit:
    """Where one sentence stands in its source text: ``text[start:end]`` is the sentence."""

    sentence_index: int
    start: int
    end: int


def one_line(text: str) -> str:
    """``text`` as one line of a source: line breaks and control characters become spaces, a lone surrogate U+FFFD.

    Each replaced character is replaced by exactly one, so positions keep their meaning.
    """
    text = _LINE_BREAKS.sub(lambda m: " " * (1 if m.group() != "\r\n" else 2), text)
    return _SURROGATE.sub("\ufffd", _C0.sub(" ", text))


def xml_text(text: str) -> str:
    return _NOT_XML.sub("", text)


def source_text(units: pd.DataFrame) -> tuple[str, list[PlacedUnit]]:
    """The text of one plan and the place of each of its units.

    Args:
        units: the plan's rows of ``sentences.*`` (``sentence_index``, ``text``, optionally ``unit``).

    Returns:
        The text (LF line ends, ending in LF) and one :class:`PlacedUnit` per row, in reading order.
    """
    ordered = units.sort_values("sentence_index", kind="stable")
    kinds = ordered["unit"].fillna("").astype(str).tolist() if "unit" in ordered.columns else [""] * len(ordered)
    parts: list[str] = []
    placed: list[PlacedUnit] = []
    position = 0
    for i, (index, text, kind) in enumerate(
        zip(ordered["sentence_index"].tolist(), ordered["text"].tolist(), kinds, strict=True)
    ):
        lead = ("\n" if kind == "heading" and i > 0 else "") + (BULLET if kind == "bullet" else "")
        line = one_line(str(text))
        start = position + len(lead)
        parts.append(f"{lead}{line}\n")
        placed.append(PlacedUnit(int(index), start, start + len(line)))
        position = start + len(line) + 1
    return "".join(parts), placed
