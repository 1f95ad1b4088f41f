"""Labelled data: read and validate labelled files, and the digests that identify them.

A labelled file is CSV, JSONL or XLSX with a ``text`` column and the label
columns of the label scheme (``conception``, ``factor``, ``polarity``), and
optionally ``id``, ``language``, ``source`` and ``split``. Every row is
checked; a bad row is reported with file, row number, column and value.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from samskaping.documents.tables import read_table
from samskaping.errors import DataError
from samskaping.labels import LABEL_SETS, NONE, suggest_label

log = logging.getLogger(__name__)

SPLITS = ("train", "validation", "test")
LANGUAGES = ("nb", "nn")
REQUIRED_COLUMNS = ("text", "conception", "factor", "polarity")
MAX_LISTED_PROBLEMS = 25


@dataclass(frozen=True)
class Problem:
    """One invalid cell or row of a labelled file."""

    file: str
    row: int
    column: str
    value: object
    reason: str

    def __str__(self) -> str:
        return f"{self.file}, row {self.row}, column '{self.column}': {self.value!r} {self.reason}"


@dataclass
class LabelledData:
    """A validated labelled table and what was left out of it.

    ``files`` lists every file read (path, SHA-256 of its bytes, rows kept), in order.
    """

    frame: pd.DataFrame
    path: Path
    problems: list[Problem] = field(default_factory=list)
    files: list[dict[str, object]] = field(default_factory=list)

    @property
    def digest(self) -> str:
        return dataset_digest(self.frame)


def _normalise_text(text: str) -> str:
    return " ".join(text.split()).casefold()


def check_rows(frame: pd.DataFrame, file: str, offset: int, require_labels: bool = True) -> list[Problem]:
    """Return every problem in ``frame`` (labels, empty text, polarity, duplicates, splits)."""
    problems: list[Problem] = []
    row_no = lambda i: int(i) + offset  # noqa: E731 - tiny local helper

    require_columns(frame, Path(file), REQUIRED_COLUMNS if require_labels else ("text",))
    for i, text in frame["text"].items():
        if not text.strip():
            problems.append(Problem(file, row_no(i), "text", text, "is empty"))
    if require_labels:
        for label_set, allowed in LABEL_SETS.items():
            for i, value in frame[label_set].items():
                if value not in allowed:
                    hint = suggest_label(label_set, value)
                    did_you_mean = f" (did you mean '{hint}'?)" if hint else ""
                    problems.append(
                        Problem(
                            file,
                            row_no(i),
                            label_set,
                            value,
                            f"is not a {label_set} label{did_you_mean}; allowed: {', '.join(allowed)}",
                        )
                    )
        for i, (factor, polarity) in frame[["factor", "polarity"]].iterrows():
            known = factor in LABEL_SETS["factor"] and polarity in LABEL_SETS["polarity"]
            if known and (factor == NONE) != (polarity == NONE):
                rule = (
                    "must be none when factor is none"
                    if factor == NONE
                    else f"must be promoting or hindering when factor is {factor}"
                )
                problems.append(Problem(file, row_no(i), "polarity", polarity, rule))
    if "language" in frame.columns:
        for i, value in frame["language"].items():
            if value and value not in LANGUAGES:
                problems.append(
                    Problem(
                        file, row_no(i), "language", value, f"is not a language code; allowed: {', '.join(LANGUAGES)}"
                    )
                )
    if "split" in frame.columns:
        for i, value in frame["split"].items():
            if value not in SPLITS:
                problems.append(
                    Problem(file, row_no(i), "split", value, f"is not a split; allowed: {', '.join(SPLITS)}")
                )
    if "id" in frame.columns:
        seen: dict[str, int] = {}
        for i, value in frame["id"].items():
            if not value.strip():
                problems.append(Problem(file, row_no(i), "id", value, "is empty"))
            elif value in seen:
                problems.append(Problem(file, row_no(i), "id", value, f"repeats the id of row {seen[value]}"))
            else:
                seen[value] = row_no(i)
    seen_text: dict[str, int] = {}
    for i, text in frame["text"].items():
        key = _normalise_text(text)
        if not key:
            continue
        if key in seen_text:
            problems.append(Problem(file, row_no(i), "text", text[:60], f"repeats the text of row {seen_text[key]}"))
        else:
            seen_text[key] = row_no(i)
    return problems


def require_columns(frame: pd.DataFrame, path: Path, columns: Sequence[str]) -> None:
    """Raise a one-line DataError when any of ``columns`` is missing."""
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise DataError(
            f"{path}: missing column(s) {', '.join(missing)}; needed: {', '.join(columns)}; "
            f"found: {', '.join(map(str, frame.columns))}"
        )


def format_problems(problems: Sequence[Problem], limit: int = MAX_LISTED_PROBLEMS) -> str:
    """One line per problem, at most ``limit`` lines plus a count of the rest."""
    lines = [str(p) for p in problems[:limit]]
    if len(problems) > limit:
        lines.append(f"... and {len(problems) - limit} more problems")
    return "\n".join(lines)


def load_labelled(path: str | Path, on_invalid: str = "refuse") -> LabelledData:
    """Read and validate a labelled file.

    Args:
        path: CSV, JSONL or XLSX file.
        on_invalid: ``refuse`` raises on any bad row; ``skip`` leaves bad rows
            out and returns them in ``problems`` (they are logged, never
            dropped silently).

    Raises:
        DataError: unreadable file, missing columns, or (with ``refuse``) any bad row.
    """
    path = Path(path)
    frame, offset = read_table(path)
    require_columns(frame, path, REQUIRED_COLUMNS)
    problems = check_rows(frame, str(path), offset)
    if problems and on_invalid == "refuse":
        raise DataError(
            f"{path}: {len(problems)} invalid row(s); fix them or set data.on_invalid=skip\n{format_problems(problems)}"
        )
    if problems:
        bad_rows = {p.row - offset for p in problems}
        for problem in problems:
            log.warning("left out: %s", problem)
        frame = frame.drop(index=sorted(bad_rows))
    if frame.empty:
        raise DataError(f"{path}: no valid rows")
    frame = frame.reset_index(drop=True)
    if "id" not in frame.columns:
        frame.insert(0, "id", [f"row{i + offset}" for i in range(len(frame))])
    files = [{"path": str(path), "sha256": file_digest(path), "rows": len(frame)}]
    return LabelledData(frame=frame, path=path, problems=problems, files=files)


def load_labelled_files(paths: Sequence[str | Path], on_invalid: str = "refuse") -> LabelledData:
    """Read and validate several labelled files as one table (the shipped data plus your own labels).

    A sentence that a later file labels again takes the later labels (a
    correction wins over the original), and is logged. Rows of later files
    without a ``split`` go to the training split, so the first file's
    validation and test splits stay the benchmark; a relabelled sentence keeps
    the split it had in the earlier file.

    Raises:
        DataError: as :func:`load_labelled`, for any of the files.
    """
    parts = [load_labelled(path, on_invalid) for path in paths]
    if len(parts) == 1:
        return parts[0]
    frames = []
    for number, part in enumerate(parts):
        frame = part.frame.copy()
        frame["id"] = frame["id"].astype(str)
        if number and "split" not in frame.columns:
            frame["split"] = "train"
        frame["_file"] = number
        frames.append(frame)
    joined = pd.concat(frames, ignore_index=True).fillna("")
    key = joined["text"].map(_normalise_text)
    later = key.duplicated(keep="last")
    if later.any():
        log.info("%d sentence(s) are labelled again in a later file; the later labels are used", int(later.sum()))
        # a relabelled sentence keeps the split it first had, so a corrected test sentence stays in test
        first_split = joined.assign(_key=key).groupby("_key", sort=False)["split"].first()
        joined["split"] = key.map(first_split).where(key.duplicated(keep=False), joined["split"])
    joined = joined[~later].reset_index(drop=True)
    joined.loc[joined["split"] == "", "split"] = "train"
    ids = joined["id"].where(~joined["id"].duplicated(keep=False), joined["_file"].astype(str) + ":" + joined["id"])
    joined = joined.assign(id=ids).drop(columns="_file")
    return LabelledData(
        frame=joined,
        path=parts[0].path,
        problems=[p for part in parts for p in part.problems],
        files=[f for part in parts for f in part.files],
    )


def file_digest(path: Path) -> str:
    """SHA-256 of a file's bytes (64 hex characters; :func:`hashlib.file_digest`, read in blocks).

    Raises:
        OSError: the file cannot be read.
    """
    with Path(path).open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def dataset_digest(frame: pd.DataFrame) -> str:
    """A short content hash of the texts, labels and splits (stable across file formats)."""
    columns = [c for c in ("text", "conception", "factor", "polarity", "split") if c in frame.columns]
    payload = frame[columns].to_csv(index=False, lineterminator="\n").encode("utf-8")
    return hashlib.sha256(payload).hexdigest()[:12]
