"""What a model may read besides the sentence: its list lead-in, its heading and the sentence before it.

Real plans give a sentence neighbours that decide its label more often than a sentence read alone
shows: a bullet means little without the lead-in of its list (clarification 15 of the label scheme),
a heading says whether a passage is about participation or the plan system, and the sentence before
often names the actors a short sentence only refers to. With ``model.use_context`` a model reads
the columns named in ``model.context_columns`` joined into one text: the transformer as the first
segment of a sentence pair, the baseline through a vectorizer of its own.

Columns of a sentence table or labelled file:

- ``context``: the lead-in of a list item ("" otherwise);
- ``heading``: the nearest heading above the sentence ("" for none, and for a heading itself);
- ``previous``: the sentence just before it in the same document. A table from ``predict.py``
  (``document`` and ``sentence_index`` columns) derives it; a labelled file gives it as a column.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

CONTEXT_COLUMNS = ("context", "heading", "previous")
SEPARATOR = " | "


def previous_sentences(frame: pd.DataFrame) -> pd.Series:
    """The text of the sentence before each row in its document ("" for a document's first).

    Args:
        frame: a sentence table with ``document``, ``sentence_index`` and ``text`` (any row order).

    Returns:
        A string Series aligned with ``frame``'s index.
    """
    ordered = frame.sort_values(["document", "sentence_index"], kind="stable")
    before = ordered.groupby("document", sort=False)["text"].shift(1)
    return before.reindex(frame.index).fillna("").astype(str)


def context_texts(frame: pd.DataFrame, columns: Sequence[str] = ("context",)) -> list[str] | None:
    """One context text per row: the non-empty values of ``columns``, in that order, joined by `` | ``.

    Args:
        frame: labelled rows or a sentence table.
        columns: names from :data:`CONTEXT_COLUMNS`. ``previous`` is derived from ``document`` and
            ``sentence_index`` when the frame has no ``previous`` column but has those.

    Returns:
        A list as long as ``frame``, or ``None`` when the frame has none of the columns (so models
        that read no context and data without any give the same call).
    """
    values: list[pd.Series] = []
    for column in columns:
        if column in frame.columns:
            values.append(frame[column].fillna("").astype(str).str.strip())
        elif column == "previous" and {"document", "sentence_index", "text"} <= set(frame.columns):
            values.append(previous_sentences(frame).str.strip())
    if not values:
        return None
    rows = zip(*(v.tolist() for v in values), strict=True)
    return [SEPARATOR.join(part for part in parts if part) for parts in rows]


__all__ = ["CONTEXT_COLUMNS", "SEPARATOR", "context_texts", "previous_sentences"]
