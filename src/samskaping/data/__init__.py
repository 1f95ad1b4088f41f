"""Labelled data: read, validate, split, describe, and find near-duplicates.

A labelled file is CSV, JSONL or XLSX with a ``text`` column and the label
columns of the label scheme (``conception``, ``factor``, ``polarity``), and
optionally ``id``, ``language``, ``source`` and ``split``. Every row is
checked; a bad row is reported with file, row number, column and value.

Row numbers are those a person sees when opening the file: the line number in
a CSV or JSONL file, the spreadsheet row in XLSX (the header is row 1).

Command line (:mod:`samskaping.cli.data`)::

    python -m samskaping.data validate data/samskaping-sentences.jsonl
    python -m samskaping.data audit data/samskaping-sentences.jsonl
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from samskaping.documents.lines import clean_cell
from samskaping.errors import DataError
from samskaping.labels import LABEL_SETS, NONE, suggest_label

log = logging.getLogger(__name__)

TABLE_SUFFIXES = frozenset({".csv", ".jsonl", ".xlsx"})
# How XLSX stores a character XML cannot hold (a control character): «_x000B_».
_XLSX_ESCAPE = re.compile(r"_x([0-9A-Fa-f]{4})_")
# A number format of zeros only («0000»): a whole number shown with leading zeros.
_ZEROS = re.compile(r"0+")
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


def text_encoding(path: Path) -> str:
    """The encoding of a CSV or JSONL file: UTF-8 (with or without a byte-order mark), or UTF-16/32 with one.

    Excel's «Unicode text» and some exporters write UTF-16 with a byte-order
    mark; without a mark the file is taken as UTF-8.
    """
    import codecs

    with path.open("rb") as handle:
        head = handle.read(4)
    for bom, encoding in (
        (codecs.BOM_UTF32_LE, "utf-32"),
        (codecs.BOM_UTF32_BE, "utf-32"),
        (codecs.BOM_UTF16_LE, "utf-16"),
        (codecs.BOM_UTF16_BE, "utf-16"),
    ):
        if head.startswith(bom):
            return encoding
    return "utf-8-sig"


def csv_delimiter(path: Path, encoding: str = "utf-8-sig") -> str:
    """Comma, semicolon or tab, read off the header line.

    Norwegian Excel saves «CSV UTF-8» with semicolons. Only the header is
    looked at: a one-column file, or sentences full of commas, must not fool it.
    """
    with path.open(encoding=encoding, newline="") as handle:
        header = handle.readline()
    counts = {sep: header.count(sep) for sep in (",", ";", "\t")}
    best = max(counts, key=counts.__getitem__)
    return best if counts[best] else ","


def read_table(path: Path) -> tuple[pd.DataFrame, int]:
    """Read a CSV, JSONL or XLSX table as strings.

    Returns:
        The frame and the offset to add to a 0-based row index to get the
        row number a person sees (2 for CSV/XLSX with a header, 1 for JSONL).

    Every cell is cleaned like document text (:func:`~samskaping.documents.lines.clean_cell`),
    so NFC and NFD copies of a file, or one with soft hyphens, read the same.
    CSV and JSONL are UTF-8 with or without a byte-order mark, or UTF-16/32
    with one; JSONL values that are not strings keep their JSON spelling
    (``true``, ``{"a": 1}``); XLSX escapes of characters (``_x000B_``) are decoded.

    Raises:
        DataError: missing file, unsupported suffix, or unreadable content.
    """
    from samskaping.documents.limits import check_package, current, table_within_limits

    if not path.is_file():
        raise DataError(f"{path}: file not found")
    suffix = path.suffix.lower()
    most = current().table_rows + 1  # one more than allowed: to know that rows were left out
    try:
        if suffix == ".csv":
            encoding = text_encoding(path)
            frame = pd.read_csv(
                path, dtype=str, keep_default_na=False, encoding=encoding, sep=csv_delimiter(path, encoding), nrows=most
            )
            offset = 2
        elif suffix == ".jsonl":
            frame = _read_jsonl(path, most)
            offset = 1
        elif suffix == ".xlsx":
            check_package(path, path, error=DataError)  # declared sizes and ratios, before anything is inflated
            frame = pd.read_excel(path, dtype=str, keep_default_na=False, nrows=most)
            frame = frame.map(
                lambda v: _XLSX_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), v) if isinstance(v, str) else v
            )
            frame = _zero_padded_codes(path, frame)
            offset = 2
        else:
            allowed = ", ".join(sorted(TABLE_SUFFIXES))
            raise DataError(f"{path}: unsupported file type '{suffix}'; allowed: {allowed}")
    except DataError:
        raise
    except UnicodeDecodeError as exc:
        fix = "in Excel save as 'CSV UTF-8', or use XLSX" if suffix == ".csv" else "save it as UTF-8"
        raise DataError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start}); {fix}") from exc
    except (ValueError, OSError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(
            f"{path}: cannot be read as {suffix[1:].upper()}: {first.replace(str(path), 'the file')}"
        ) from exc
    except Exception as exc:  # openpyxl and zipfile raise their own types for a damaged workbook
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(
            f"{path}: cannot be read as {suffix[1:].upper()} ({type(exc).__name__}: "
            f"{first.replace(str(path), 'the file')}); open it in its program and save it again"
        ) from exc
    frame = table_within_limits(frame.fillna(""), path, offset)
    for column in frame.columns:
        # cleaned like document text: NFC, no soft hyphens or zero-width or control characters
        frame[column] = frame[column].map(lambda v: "" if v is None else clean_cell(str(v)))
    frame.columns = [clean_cell(str(c)) for c in frame.columns]
    return frame, offset


def _zero_padded_codes(path: Path, frame: pd.DataFrame) -> pd.DataFrame:
    """Whole numbers shown with leading zeros (number format «0000») as the text Excel shows: «0301», not «301».

    Excel keeps a typed «0301» as the number 301 unless the cell is formatted
    as text or with such a format, which is how municipality numbers and other
    codes usually sit in spreadsheets. Only when the sheet's header row is the
    frame's header (so that rows and columns line up) is anything changed.
    """
    from openpyxl import load_workbook

    book = load_workbook(path, read_only=True, data_only=True)
    try:
        rows = book.worksheets[0].iter_rows(min_row=1, max_row=len(frame) + 1, max_col=frame.shape[1])
        header = next(rows, ())
        if [str(getattr(cell, "value", "")) for cell in header] != [str(c) for c in frame.columns]:
            return frame
        for i, row in enumerate(rows):
            for j, cell in enumerate(row):
                value, style = getattr(cell, "value", None), getattr(cell, "number_format", "") or ""
                if (
                    isinstance(value, int | float)
                    and not isinstance(value, bool)
                    and _ZEROS.fullmatch(style)
                    and float(value).is_integer()
                    and value >= 0
                ):
                    frame.iat[i, j] = str(int(value)).zfill(len(style))
    finally:
        book.close()
    return frame


def _read_jsonl(path: Path, most: int | None = None) -> pd.DataFrame:
    """One JSON object per line (UTF-8, with or without a byte-order mark); blank lines are skipped.

    Raises:
        DataError: a line that is not a JSON object, named by its line number.
    """
    rows = []
    for number, line in enumerate(path.read_text(encoding=text_encoding(path)).splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(
                f"{path}, line {number}: not valid JSON ({exc.msg} at column {exc.colno}); one object per line"
            ) from exc
        if not isinstance(row, dict):
            raise DataError(
                f'{path}, line {number}: expected a JSON object such as {{"text": ...}}, got {type(row).__name__}'
            )
        # a value that is not a string keeps its JSON spelling: true, 7, {"a": 1} (not Python's True, {'a': 1})
        rows.append(
            {
                key: value if value is None or isinstance(value, str) else json.dumps(value, ensure_ascii=False)
                for key, value in row.items()
            }
        )
        if most is not None and len(rows) >= most:
            break
    return pd.DataFrame(rows, dtype=object)


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
            if factor in LABEL_SETS["factor"] and polarity in LABEL_SETS["polarity"]:
                if (factor == NONE) != (polarity == NONE):
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
            f"{path}: missing column(s) {', '.join(missing)}; needed: {', '.join(columns)}; found: {', '.join(map(str, frame.columns))}"
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


def _strata(frame: pd.DataFrame, min_count: int) -> pd.Series:
    """Stratum per row: conception+factor, rare combinations merged by conception, then into one."""
    combo = frame["conception"] + "|" + frame["factor"]
    counts = combo.value_counts()
    combo = combo.where(combo.map(counts) >= min_count, frame["conception"] + "|rare")
    counts = combo.value_counts()
    return combo.where(combo.map(counts) >= min_count, "rare")


def assign_splits(frame: pd.DataFrame, validation_size: float, test_size: float, seed: int) -> pd.Series:
    """A seeded split stratified on conception and factor (used when there is no split column)."""
    from sklearn.model_selection import train_test_split

    strata = _strata(frame, min_count=3)
    index = np.arange(len(frame))
    held_out = validation_size + test_size
    train_idx, rest_idx = train_test_split(index, test_size=held_out, random_state=seed, stratify=strata)
    rest_strata = _strata(frame.iloc[rest_idx], min_count=2)
    val_idx, test_idx = train_test_split(
        rest_idx, test_size=test_size / held_out, random_state=seed, stratify=rest_strata.to_numpy()
    )
    split = np.empty(len(frame), dtype=object)
    split[train_idx], split[val_idx], split[test_idx] = "train", "validation", "test"
    return pd.Series(split, index=frame.index, name="split")


def split_frame(
    data: LabelledData, validation_size: float = 0.15, test_size: float = 0.15, seed: int = 42
) -> dict[str, pd.DataFrame]:
    """Return the train, validation and test frames.

    The ``split`` column is used when present; every split must then have rows
    (there is no silent fallback from one split to another). Without it, a
    seeded split stratified on conception and factor is made.

    Raises:
        DataError: a split named in the column is empty.
    """
    frame = data.frame
    if "split" in frame.columns:
        split = frame["split"]
        log.info("using the split column of %s", data.path)
    else:
        split = assign_splits(frame, validation_size, test_size, seed)
        log.info("no split column in %s: made a seeded stratified split (seed %d)", data.path, seed)
    parts = {name: frame[split == name].reset_index(drop=True) for name in SPLITS}
    empty = [name for name, part in parts.items() if part.empty]
    if empty:
        raise DataError(f"{data.path}: split column has no rows for {', '.join(empty)}; every split needs rows")
    return parts


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


# The checks of a file for shipping live in their own module; they are part of this package's API.
from samskaping.data.validate import ValidationReport, describe, near_duplicates, validate  # noqa: E402

__all__ = [
    "LabelledData",
    "Problem",
    "ValidationReport",
    "assign_splits",
    "check_rows",
    "dataset_digest",
    "describe",
    "file_digest",
    "load_labelled",
    "load_labelled_files",
    "near_duplicates",
    "read_table",
    "split_frame",
    "validate",
]
