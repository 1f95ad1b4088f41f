"""Tables of sentences (CSV, JSONL, XLSX): read as strings and cleaned like document text.

:func:`read_table` reads any such table (labelled data and prediction input
alike); :func:`read_sentence_table` reads one as prediction input, into the
sentence table :func:`samskaping.reading.read_input` gives for a plan.

Row numbers are those a person sees when opening the file: the line number in
a CSV or JSONL file, the spreadsheet row in XLSX (the header is row 1).
"""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

import pandas as pd

from samskaping.documents.lines import clean_cell
from samskaping.errors import DataError

log = logging.getLogger(__name__)

TABLE_SUFFIXES = frozenset({".csv", ".jsonl", ".xlsx"})
# How XLSX stores a character XML cannot hold (a control character): «_x000B_».
_XLSX_ESCAPE = re.compile(r"_x([0-9A-Fa-f]{4})_")
# A number format of zeros only («0000»): a whole number shown with leading zeros.
_ZEROS = re.compile(r"0+")
# Columns of a sentence table given as prediction input that the output's own columns would clash with.
_RESERVED = ("document", "page", "sentence_index", "unit", "heading")


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


def read_table(path: Path, notes: list[str] | None = None) -> tuple[pd.DataFrame, int]:
    """Read a CSV, JSONL or XLSX table as strings.

    Args:
        path: the table.
        notes: where to add what was read only in part (rows past the limit, cells cut); they are logged too.

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
    frame = table_within_limits(frame.fillna(""), path, offset, notes)
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


def read_sentence_table(path: Path, notes: list[str] | None = None) -> pd.DataFrame:
    """A table given as prediction input as sentences: ``document``, ``page`` (empty), ``sentence_index``, its columns.

    Cells are cleaned like document text; rows with an empty ``text`` are left out (logged);
    label-like columns and those named like the output's own are renamed ``input_…``.

    Args:
        path: a ``.csv``, ``.jsonl`` or ``.xlsx`` file with a ``text`` column.
        notes: where to add what was read only in part (rows past the limit, cells cut).

    Raises:
        DataError: the file cannot be read, has no ``text`` column, or no text in it.
    """
    from samskaping.labels import LABEL_SETS

    frame, _ = read_table(path, notes)
    if "text" not in frame.columns:
        raise DataError(f"{path}: no 'text' column; found: {', '.join(frame.columns)}")
    empty = int((frame["text"] == "").sum())
    frame = frame[frame["text"] != ""].reset_index(drop=True)
    if frame.empty:
        raise DataError(f"{path}: the 'text' column is empty")
    if empty:
        log.info("%s: %d row(s) with an empty 'text' cell left out", path, empty)
    label_like = [c for c in frame.columns if c in LABEL_SETS or c.startswith(tuple(f"{ls}_" for ls in LABEL_SETS))]
    reserved = [c for c in _RESERVED if c in frame.columns]
    frame = frame.rename(columns={c: f"input_{c}" for c in label_like + reserved})
    frame.insert(0, "document", str(path))
    frame.insert(1, "page", pd.array([pd.NA] * len(frame), dtype="Int64"))
    frame.insert(2, "sentence_index", range(len(frame)))
    return frame
