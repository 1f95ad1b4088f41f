"""The answer choices of a review workbook: «key – Norwegian name», parsed back to the key."""

from __future__ import annotations

from samskaping.labels import LABEL_SETS, norwegian

SEPARATOR = " – "
ANSWER_COLUMNS = {ls: f"answer_{ls}" for ls in LABEL_SETS}


def choices(label_set: str) -> list[str]:
    """The drop-down entries of a label set, e.g. ``democratic – Demokratisk deltakelse``."""
    return [f"{label}{SEPARATOR}{norwegian(label_set, label)}" for label in LABEL_SETS[label_set]]


def parse_choice(label_set: str, value: str) -> str | None:
    """The label key of an answer cell (a drop-down entry or the bare key); None when empty.

    Raises:
        ValueError: the value is neither (the message lists what is allowed).
    """
    text = (value or "").strip()
    if not text:
        return None
    key = text.split(SEPARATOR, 1)[0].strip().split(" ", 1)[0].strip().lower()
    if key in LABEL_SETS[label_set]:
        return key
    from samskaping.labels import suggest_label

    hint = suggest_label(label_set, text)
    did_you_mean = f" (did you mean '{hint}'?)" if hint else ""
    raise ValueError(f"{text!r} is not a {label_set} label{did_you_mean}; allowed: {', '.join(LABEL_SETS[label_set])}")
