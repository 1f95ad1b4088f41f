"""Read a filled-in review workbook and append its answers to a labelled JSONL file.

Every answered row is validated (file, row as Excel shows it, column, value and
what is allowed); a row with a bad answer is reported and not imported, never
silently changed. Rows with no answer are counted as not labelled. Polarity may
be left empty when factor is ``none``. Imported rows carry their source (the
workbook), document, annotator and the date; a sentence already in the target
file is not added twice.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd

from samskaping.data import Problem
from samskaping.errors import DataError
from samskaping.labels import LABEL_SETS, NONE, polarity_is_consistent
from samskaping.review.choices import ANSWER_COLUMNS, parse_choice

SHEET = "Setninger"


@dataclass
class ImportResult:
    """What an import did."""

    imported: int
    not_labelled: int
    already_there: int
    problems: list[Problem] = field(default_factory=list)
    target: Path | None = None


def _read(path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    try:
        frame = pd.read_excel(path, sheet_name=SHEET, dtype=str, keep_default_na=False)
    except ValueError as exc:
        raise DataError(
            f"{path}: no sheet '{SHEET}'; give a workbook written by 'python -m samskaping.review export'"
        ) from exc
    missing = [c for c in ("text", *ANSWER_COLUMNS.values()) if c not in frame.columns]
    if missing:
        raise DataError(
            f"{path}: missing column(s) {', '.join(missing)}; give a workbook written by 'python -m "
            "samskaping.review export'"
        )
    return frame


def read_answers(path: str | Path) -> tuple[pd.DataFrame, list[Problem], int]:
    """The valid answered rows of a workbook (columns text, context, document, conception, factor, polarity),
    the problems found, and how many rows had no answer.

    A ``.qdpx`` (a REFI-QDA project exported by ``python -m samskaping.export qdpx`` and coded in a QDA
    program) gives one row per sentence a coder coded (:func:`samskaping.export.reader.coded_sentences`)."""
    path = Path(path)
    if path.suffix.lower() == ".qdpx":
        from samskaping.export.reader import coded_sentences

        return coded_sentences(path)  # type: ignore[return-value]  # RangeProblem prints like Problem
    rows, problems, empty = answered_rows(_read(path), path, need_text=True)
    return pd.DataFrame(rows), problems, empty


def answered_rows(frame: pd.DataFrame, path: Path, need_text: bool) -> tuple[list[dict[str, Any]], list[Problem], int]:
    """Check the answer columns of every row of ``frame`` (read from ``path``; row 1 is its header).

    Args:
        frame: the rows, with ``answer_<set>`` columns (and ``text``, ``context``, ``document``, ``row_id`` if present).
        need_text: a row with an empty ``text`` cell is a problem (a workbook); a coded CSV may leave it out.

    Returns:
        The valid answered rows (text, context, document, row_id, row as the file numbers it, and the labels),
        one :class:`Problem` per bad row, and how many rows had no answer.
    """
    rows, problems, empty = [], [], 0
    for index, row in frame.iterrows():
        excel_row = int(index) + 2
        given = {ls: row[ANSWER_COLUMNS[ls]] for ls in LABEL_SETS}
        if not any(str(v).strip() for v in given.values()):
            empty += 1
            continue
        labels: dict[str, str | None] = {}
        bad = False
        for ls, value in given.items():
            try:
                labels[ls] = parse_choice(ls, value)
            except ValueError as exc:
                reason = "is not " + str(exc).split(" is not ", 1)[1]  # the value itself is shown by Problem
                problems.append(Problem(str(path), excel_row, ANSWER_COLUMNS[ls], value, reason))
                bad = True
        if bad:
            continue
        if labels["polarity"] is None and labels["factor"] == NONE:
            labels["polarity"] = NONE
        absent = [ANSWER_COLUMNS[ls] for ls, v in labels.items() if v is None]
        if absent:
            problems.append(
                Problem(
                    str(path),
                    excel_row,
                    absent[0],
                    "",
                    f"is empty; answer all of {', '.join(ANSWER_COLUMNS.values())} or none",
                )
            )
            continue
        if not polarity_is_consistent(labels["factor"], labels["polarity"]):
            rule = (
                "must be none when factor is none"
                if labels["factor"] == NONE
                else f"must be promoting or hindering when factor is {labels['factor']}"
            )
            problems.append(Problem(str(path), excel_row, ANSWER_COLUMNS["polarity"], labels["polarity"], rule))
            continue
        if need_text and not str(row["text"]).strip():
            problems.append(Problem(str(path), excel_row, "text", row["text"], "is empty"))
            continue
        rows.append(
            {
                "text": str(row.get("text", "")).strip(),
                "context": str(row.get("context", "")),
                "document": str(row.get("document", "")),
                "row_id": str(row.get("row_id", "")).strip(),
                "row": excel_row,
                **labels,
            }
        )
    return rows, problems, empty


def import_answers(workbook: str | Path, target: str | Path, annotator: str = "") -> ImportResult:
    """Append the valid answers of ``workbook`` to the JSONL file ``target`` (created if needed).

    Raises:
        DataError: the workbook cannot be read, or is not a review workbook.
    """
    workbook, target = Path(workbook), Path(target)
    answers, problems, empty = read_answers(workbook)
    existing: set[str] = set()
    if target.is_file():
        for line in target.read_text(encoding="utf-8-sig").splitlines():
            if line.strip():
                existing.add(" ".join(json.loads(line).get("text", "").split()).casefold())
    records, already = [], 0
    for row in answers.to_dict(orient="records"):
        key = " ".join(row["text"].split()).casefold()
        if key in existing:
            already += 1
            continue
        existing.add(key)
        records.append(
            {
                "id": f"{annotator or 'review'}:{row['row_id'] or len(existing)}",
                "text": row["text"],
                "conception": row["conception"],
                "factor": row["factor"],
                "polarity": row["polarity"],
                "context": row["context"],
                "document": row["document"],
                "annotator": annotator or row.get("annotator", ""),
                "source": f"labelled in {workbook.name} on {date.today().isoformat()}",
                "form": "review",
            }
        )
    if records:
        target.parent.mkdir(parents=True, exist_ok=True)
        with target.open("a", encoding="utf-8") as out:
            for record in records:
                out.write(json.dumps(record, ensure_ascii=False) + "\n")
    return ImportResult(len(records), empty, already, problems, target)
