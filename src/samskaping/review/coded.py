"""The coded sample of ``review validate``: read from workbooks or CSV and matched to an output folder.

A workbook must come from ``review export --strategy validation`` (its «Utvalg» sheet records the blind
random draw); any other strategy is refused, because its sentences were chosen by the model. A CSV
(``row_id`` and ``answer_*`` columns) cannot show how its rows were drawn and is taken as a simple random
sample, which the result says.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from samskaping.data import Problem
from samskaping.errors import DataError
from samskaping.labels import LABEL_SETS
from samskaping.outputs import OutputFolder
from samskaping.review.choices import ANSWER_COLUMNS
from samskaping.review.export import BLIND, SAMPLE_SHEET, row_ids
from samskaping.review.importer import answered_rows

log = logging.getLogger(__name__)


@dataclass
class Coded:
    """The coded rows of one or two files, matched to the output folder."""

    rows: pd.DataFrame  # row_id, conception, factor, polarity (the first file's answer where two disagree)
    files: list[str]
    design: str
    problems: list[Problem] = field(default_factory=list)
    not_coded: int = 0
    agreement: dict[str, Any] | None = None


def _sheet_record(path: Path) -> dict[str, Any]:
    """The key-value rows of a workbook's «Utvalg» sheet ({} when it has none)."""
    from openpyxl import load_workbook

    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises zipfile, KeyError and its own errors for a damaged file
        raise DataError(
            f"{path}: cannot be read as an Excel workbook ({type(exc).__name__}); give the file 'review export' wrote"
        ) from exc
    try:
        if SAMPLE_SHEET not in book.sheetnames:
            return {}
        record: dict[str, Any] = {}
        for row in book[SAMPLE_SHEET].iter_rows(min_row=2, values_only=True):
            if not row or row[0] is None:
                break  # the key-value block ends at the first empty row
            record[str(row[0])] = row[1] if len(row) > 1 else None
        return record
    finally:
        book.close()


def _read_workbook(path: Path) -> tuple[pd.DataFrame, list[Problem], int, str]:
    from samskaping.review.importer import read_answers

    record = _sheet_record(path)
    strategy = record.get("strategy")
    if strategy != BLIND:
        why = (
            f"it was exported with --strategy {strategy}, which chooses sentences by what the model said, so they are "
            "not a random sample of the corpus"
            if strategy
            else "it does not say how its sentences were drawn (no sheet 'Utvalg')"
        )
        raise DataError(
            f"{path}: cannot be used to validate: {why}; export a blind sample with "
            "'python -m samskaping.review export OUT --strategy validation'"
        )
    answers, problems, empty = read_answers(path)
    design = str(record.get("design") or "blind random sample, stratified by document")
    return answers, problems, empty, design


def _read_csv(path: Path) -> tuple[pd.DataFrame, list[Problem], int, str]:
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except (ValueError, OSError, UnicodeDecodeError) as exc:
        raise DataError(
            f"{path}: cannot be read as CSV ({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})"
        ) from exc
    needed = ["row_id", *ANSWER_COLUMNS.values()]
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        raise DataError(
            f"{path}: missing column(s) {', '.join(missing)}; a coded CSV has the columns {', '.join(needed)}"
        )
    rows, problems, empty = answered_rows(frame, path, need_text=False)
    design = (
        "coded rows given as CSV; taken as a simple random sample of the corpus "
        "(the file cannot show how they were drawn)"
    )
    return pd.DataFrame(rows, columns=["row_id", "text", "row", *LABEL_SETS]), problems, empty, design


def read_coded(paths: list[Path], folder: OutputFolder) -> Coded:
    """Read one or two coded files and keep the rows that are sentences of ``folder``.

    Rows whose ``row_id`` is not a sentence of the folder, or whose text differs from that sentence,
    are reported (one :class:`Problem` each) and left out. With two files, the first file's answer is
    used where both coded a sentence (give the adjudicated one first), and their agreement is measured.

    Raises:
        DataError: a file is missing, unreadable, of the wrong kind, or no usable row remains.
    """
    sentences = folder.sentences
    text_of = dict(zip(row_ids(sentences), sentences["text"], strict=True))
    frames, problems, empty, designs = [], [], 0, []
    for path in paths:
        if not path.is_file():
            raise DataError(f"{path}: file not found")
        suffix = path.suffix.lower()
        if suffix == ".xlsx":
            answers, found, blank, design = _read_workbook(path)
        elif suffix == ".csv":
            answers, found, blank, design = _read_csv(path)
        else:
            raise DataError(
                f"{path}: a coded sample is an .xlsx from 'review export --strategy validation' or a .csv; got "
                f"'{suffix}'"
            )
        problems += found
        empty += blank
        designs.append(design)
        keep = []
        for i, row in enumerate(answers.to_dict(orient="records")):
            row_id = str(row.get("row_id") or "")
            if row_id not in text_of:
                problems.append(
                    Problem(
                        str(path),
                        int(row["row"]),
                        "row_id",
                        row_id,
                        f"is not a sentence of {folder.path}; code the workbook exported from that folder",
                    )
                )
                continue
            given = " ".join(str(row.get("text") or "").split())
            if given and given != " ".join(text_of[row_id].split()):
                problems.append(
                    Problem(
                        str(path),
                        int(row["row"]),
                        "text",
                        given[:60],
                        (
                            f"differs from sentence {row_id} of {folder.path}; was the folder classified again after "
                            "the export?"
                        ),
                    )
                )
                continue
            keep.append(i)
        frames.append(answers.iloc[keep][["row_id", *LABEL_SETS]].drop_duplicates("row_id"))
    if not any(len(f) for f in frames):
        listing = "".join(f"\n  {p}" for p in problems[:10])
        raise DataError(f"{', '.join(map(str, paths))}: no coded sentence of {folder.path} to validate with{listing}")
    agreement = None
    rows = frames[0]
    if len(frames) == 2:
        from samskaping.review.agreement import cohen_kappa, percent_agreement

        both = frames[0].merge(frames[1], on="row_id", suffixes=("_a", "_b"))
        agreement = {"sentences": len(both)}
        for ls in LABEL_SETS:
            a, b = both[f"{ls}_a"].tolist(), both[f"{ls}_b"].tolist()
            agreement[ls] = {
                "percent_agreement": round(percent_agreement(a, b), 3) if a else None,
                "cohen_kappa": round(cohen_kappa(a, b), 3) if a else None,
            }
        rows = pd.concat([frames[0], frames[1][~frames[1]["row_id"].isin(frames[0]["row_id"])]], ignore_index=True)
    return Coded(
        rows.reset_index(drop=True),
        [p.name for p in paths],
        "; ".join(dict.fromkeys(designs)),
        problems,
        empty,
        agreement,
    )
