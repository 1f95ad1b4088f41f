"""The output folder of ``predict.py``: file names, safe writing, reading back.

Everything that knows the layout of an output folder lives here and is used by
``predict``, ``report``, ``review`` and ``spark``:

==========================  ====================================================
``sentences.<fmt>``         one row per sentence with its labels and probabilities
``documents.<fmt>``         one row per document
``summary.json``            the corpus figures, the model, failures, throughput
``report.html``             with ``--report``
``methods.md``              what was done, for a methods section
``samskaping.qdpx``         with ``--qdpx``: the plans and their codings for QDA programs
``.samskaping/``            the run's lossless state (Parquet), for an exact ``--resume``
==========================  ====================================================

Files are written atomically (a temporary file renamed into place). Tables are
safe to open in Excel and LibreOffice:

- a text cell that begins with ``= + - @``, a tab or a carriage return would be
  run as a formula; in CSV such a cell gets a leading apostrophe (``'=SUM(A1)``,
  shown as it is; a cell that already begins with an apostrophe gets a second
  one, so reading back removes exactly one), and in XLSX the cell is stored as
  text, unchanged (the OWASP advice on CSV injection);
- characters that XLSX cannot hold (C0 controls) are dropped, and a cell over
  Excel's 32,767-character limit is cut, with a warning naming the row;
- XLSX sheets have a frozen header row, filters and column widths fitted to the content;
- CSV is UTF-8 with a byte-order mark and CRLF line ends (RFC 4180), so that a cell holding a
  line break is always quoted and never splits its row.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from samskaping.errors import SamskapingError
from samskaping.files import atomic_write

log = logging.getLogger(__name__)

FORMATS: tuple[str, ...] = ("csv", "jsonl", "parquet", "xlsx")
SENTENCES = "sentences"
DOCUMENTS = "documents"
SUMMARY = "summary.json"
REPORT = "report.html"
METHODS = "methods.md"
QDPX = "samskaping.qdpx"  # with --qdpx: the coded REFI-QDA project (samskaping.export)
STATE_DIR = ".samskaping"
STATE_SENTENCES = "sentences.parquet"
STATE_RUN = "run.json"
EXCEL_MAX_CELL = 32_767
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_EXCEL_ILLEGAL = dict.fromkeys([*range(0x09), 0x0B, 0x0C, *range(0x0E, 0x20)])
XLSX_MAX_WIDTH = 60


def table_path(folder: Path, name: str, fmt: str) -> Path:
    """``folder/<name>.<fmt>`` for ``name`` in (``sentences``, ``documents``)."""
    return folder / f"{name}.{fmt}"


def write_json(data: Any, path: Path) -> None:
    """Write JSON atomically, UTF-8, indented."""
    atomic_write(
        path, lambda p: p.write_text(json.dumps(data, ensure_ascii=False, indent=2, default=str), encoding="utf-8")
    )


def write_text(text: str, path: Path) -> None:
    """Write a UTF-8 text file atomically."""
    atomic_write(path, lambda p: p.write_text(text, encoding="utf-8"))


# ---------------------------------------------------------------- spreadsheet safety


def escape_formula(value: str) -> str:
    """A CSV cell that no spreadsheet runs as a formula (see the module docstring).

    Inverse: :func:`unescape_formula`.
    """
    return "'" + value if value.startswith((*FORMULA_STARTS, "'")) else value


def unescape_formula(value: str) -> str:
    """Undo :func:`escape_formula`."""
    return value[1:] if value.startswith("'") and value[1:].startswith((*FORMULA_STARTS, "'")) else value


def _text_columns(frame: pd.DataFrame) -> list[str]:
    return [c for c in frame.columns if frame[c].dtype == object or pd.api.types.is_string_dtype(frame[c])]


def _fit_for_excel(frame: pd.DataFrame, file: str) -> pd.DataFrame:
    """Drop characters XLSX cannot hold and cut cells over Excel's limit (warning names file, row, column, document)."""
    frame = frame.copy()
    frame.columns = [str(c).translate(_EXCEL_ILLEGAL)[:EXCEL_MAX_CELL] for c in frame.columns]
    for column in _text_columns(frame):
        values = frame[column]
        mask = values.map(lambda v: isinstance(v, str))
        cleaned = values[mask].map(lambda v: v.translate(_EXCEL_ILLEGAL))
        for index in cleaned.index[cleaned.str.len() > EXCEL_MAX_CELL]:
            row = int(frame.index.get_loc(index))
            where = f" ({frame['document'].iat[row]})" if "document" in frame.columns and column != "document" else ""
            log.warning(
                "%s, row %d%s, column '%s': %d characters, cut to Excel's limit of %d; "
                "the whole text is in the csv/jsonl/parquet formats",
                file,
                row + 2,
                where,
                column,
                len(cleaned[index]),
                EXCEL_MAX_CELL,
            )
            cleaned[index] = cleaned[index][:EXCEL_MAX_CELL]
        frame.loc[mask, column] = cleaned
    return frame


def _write_csv(frame: pd.DataFrame, path: Path) -> None:
    frame = frame.copy()
    for column in _text_columns(frame):
        frame[column] = frame[column].map(lambda v: escape_formula(v) if isinstance(v, str) else v)
    # the header is a row of cells too (input tables bring their own column names)
    frame.columns = [escape_formula(str(c)) for c in frame.columns]
    # BOM: Excel shows æ, ø, å. CRLF line ends (RFC 4180): Python's csv quotes a cell holding a line-end
    # character only if it is part of the line terminator, so with "\n" a cell with a bare CR would split its row
    frame.to_csv(path, index=False, encoding="utf-8-sig", lineterminator="\r\n")


def _write_xlsx(frame: pd.DataFrame, path: Path, sheet: str) -> None:
    """One sheet; text cells stored as text; frozen header, filters, fitted widths."""
    from openpyxl import Workbook
    from openpyxl.utils import get_column_letter

    book = Workbook()
    ws = book.active
    ws.title = sheet[:31]
    ws.append([str(c) for c in frame.columns])
    for row in frame.itertuples(index=False):
        ws.append([None if _missing(v) else (v.item() if hasattr(v, "item") else v) for v in row])
    for cells in ws.iter_rows(min_row=1):  # the header too: input tables bring their own column names
        for cell in cells:
            if isinstance(cell.value, str) and cell.data_type == "f":
                cell.data_type = "s"  # text that looks like a formula stays text
    ws.freeze_panes = "A2"
    if frame.shape[1]:
        ws.auto_filter.ref = f"A1:{get_column_letter(frame.shape[1])}{max(1, len(frame) + 1)}"
    for i, column in enumerate(frame.columns, start=1):
        sample = frame[column].head(200).map(lambda v: len(str(v)) if not _missing(v) else 0)
        width = max([len(str(column)), *sample.tolist()]) if len(sample) else len(str(column))
        ws.column_dimensions[get_column_letter(i)].width = min(XLSX_MAX_WIDTH, max(8, width + 2))
    book.save(path)


def _missing(value: Any) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def write_table(frame: pd.DataFrame, path: Path, fmt: str) -> None:
    """Write ``frame`` atomically in ``fmt`` (see the module docstring for the spreadsheet rules)."""
    if fmt == "xlsx":
        safe = _fit_for_excel(frame, path.name)
        atomic_write(path, lambda p: _write_xlsx(safe, p, path.stem))
    elif fmt == "csv":
        atomic_write(path, lambda p: _write_csv(frame, p))
    elif fmt == "jsonl":
        atomic_write(path, lambda p: frame.to_json(p, orient="records", lines=True, force_ascii=False))
    elif fmt == "parquet":
        atomic_write(path, lambda p: frame.to_parquet(p, index=False))
    else:
        raise SamskapingError(f"unknown output format {fmt!r}; allowed: {', '.join(FORMATS)}")


def read_output_table(path: Path, fmt: str) -> pd.DataFrame:
    """Read an output table written by :func:`write_table` (CSV formula escapes undone, pages as integers).

    Raises:
        SamskapingError: missing or unreadable file.
    """
    if not (
        path.is_file() or (fmt == "parquet" and path.is_dir())
    ):  # a folder: the Parquet dataset of samskaping.spark
        raise SamskapingError(f"{path}: file not found; rerun predict.py with --output {path.parent}")
    try:
        if fmt == "csv":
            frame = pd.read_csv(path, encoding="utf-8-sig", dtype=str, keep_default_na=False)
            frame.columns = [unescape_formula(str(c)) for c in frame.columns]
            for column in frame.columns:
                frame[column] = frame[column].map(unescape_formula)
            frame = _numbers_back(frame)
        elif fmt == "jsonl":
            frame = pd.read_json(path, lines=True, dtype=False)
        elif fmt == "parquet":
            frame = pd.read_parquet(path)
            # a dataset of samskaping.spark: its partition column (document) back in front, as text
            partitions = [c for c in frame.columns if isinstance(frame[c].dtype, pd.CategoricalDtype)]
            frame = frame[partitions + [c for c in frame.columns if c not in partitions]]
            for column in partitions:
                frame[column] = frame[column].astype(str)
        elif fmt == "xlsx":
            # cells keep the types they were written with: a text cell «0301» stays text (pandas' own
            # inference would make it 301.0); columns of numbers become numeric again
            frame = pd.read_excel(path, dtype=object).infer_objects()
        else:
            raise SamskapingError(f"unknown output format {fmt!r}; allowed: {', '.join(FORMATS)}")
    except SamskapingError:
        raise
    except (ValueError, OSError, ImportError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise SamskapingError(f"{path}: cannot be read as {fmt}: {first}") from exc
    if "page" in frame.columns:
        frame["page"] = pd.to_numeric(frame["page"].replace("", None), errors="coerce").astype("Int64")
    return frame


def _numbers_back(frame: pd.DataFrame) -> pd.DataFrame:
    """Columns this project writes as numbers (counts, shares, scores), read back as numbers."""
    numeric_like = ("_score", "_share", "_p_", "sentences", "sentence_index", "cocreation_mentions")
    for column in frame.columns:
        if any(key in column for key in numeric_like) or column.startswith(("conception_", "factor_")):
            converted = pd.to_numeric(frame[column].replace("", None), errors="coerce")
            if converted.notna().sum() == (frame[column] != "").sum():
                frame[column] = converted
    return frame


# ---------------------------------------------------------------- the whole folder


@dataclass(frozen=True)
class OutputFolder:
    """The files of one ``predict.py`` output folder, read into memory."""

    path: Path
    fmt: str
    summary: dict[str, Any]
    sentences: pd.DataFrame
    documents: pd.DataFrame

    @property
    def label_sets(self) -> tuple[str, ...]:
        """The label sets the model predicted (columns present in the sentence table)."""
        from samskaping.labels import LABEL_SET_NAMES

        return tuple(
            ls for ls in LABEL_SET_NAMES if ls in self.sentences.columns and f"{ls}_score" in self.sentences.columns
        )


def table_format(folder: Path, summary: dict[str, Any]) -> str:
    """The table format of the folder: the one ``summary.json`` names, else the only one present."""
    recorded = summary.get("output_format")
    if recorded is not None:
        if recorded not in FORMATS:
            raise SamskapingError(
                f"{folder / SUMMARY}: unknown output_format {recorded!r}; expected one of {', '.join(FORMATS)}"
            )
        return str(recorded)
    present = [fmt for fmt in FORMATS if table_path(folder, SENTENCES, fmt).is_file()]
    if len(present) == 1:
        return present[0]
    if not present:
        raise SamskapingError(
            f"{folder}: no sentences.csv/.jsonl/.parquet/.xlsx; rerun predict.py with --output {folder}"
        )
    raise SamskapingError(
        f"{folder}: sentence tables in several formats ({', '.join(present)}) and summary.json does not say "
        "which is current; delete the old ones or rerun predict.py"
    )


def read_summary(folder: Path) -> dict[str, Any]:
    """``summary.json`` of an output folder.

    Raises:
        SamskapingError: missing folder or file, not a JSON object.
    """
    path = folder / SUMMARY
    if not folder.is_dir():
        raise SamskapingError(f"{folder}: folder not found; give the --output folder of predict.py")
    if not path.is_file():
        raise SamskapingError(
            f"{folder}: no {SUMMARY}, so not a predict.py output folder; run predict.py with --output {folder}"
        )
    try:
        summary = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise SamskapingError(f"{path}: not valid JSON ({exc}); rerun predict.py to rewrite it") from exc
    if not isinstance(summary, dict):
        raise SamskapingError(f"{path}: expected a JSON object; rerun predict.py to rewrite it")
    return summary


def read_output(output_dir: str | Path) -> OutputFolder:
    """Read ``summary.json`` and the sentence and document tables of an output folder.

    Raises:
        SamskapingError: the folder, ``summary.json`` or a table is missing or unreadable.
    """
    folder = Path(output_dir)
    summary = read_summary(folder)
    fmt = table_format(folder, summary)
    sentences_fmt = summary.get("sentences_format", fmt)  # samskaping.spark: sentences.parquet beside documents.<fmt>
    if sentences_fmt not in FORMATS:
        raise SamskapingError(
            f"{folder / SUMMARY}: unknown sentences_format {sentences_fmt!r}; expected one of {', '.join(FORMATS)}"
        )
    sentences = read_output_table(table_path(folder, SENTENCES, sentences_fmt), sentences_fmt)
    documents = read_output_table(table_path(folder, DOCUMENTS, fmt), fmt)
    for frame, name in ((sentences, SENTENCES), (documents, DOCUMENTS)):
        if "document" not in frame.columns:
            raise SamskapingError(
                f"{table_path(folder, name, fmt)}: no 'document' column; rerun predict.py to rewrite it"
            )
        frame["document"] = frame["document"].astype(str)
    if "text" not in sentences.columns:
        raise SamskapingError(f"{table_path(folder, SENTENCES, fmt)}: no 'text' column; rerun predict.py to rewrite it")
    sentences["text"] = sentences["text"].fillna("").astype(str)
    return OutputFolder(folder, fmt, summary, sentences, documents)


# ---------------------------------------------------------------- resume state


def write_state(folder: Path, sentences: pd.DataFrame, run: dict[str, Any]) -> None:
    """Keep the run's sentence table losslessly (Parquet) with what identifies the run (model, format)."""
    state = folder / STATE_DIR
    state.mkdir(exist_ok=True)
    atomic_write(state / STATE_SENTENCES, lambda p: sentences.to_parquet(p, index=False))
    write_json(run, state / STATE_RUN)


def read_state(folder: Path) -> tuple[pd.DataFrame, dict[str, Any]] | None:
    """The state an earlier run left in ``folder`` (None when there is none)."""
    state = folder / STATE_DIR
    if not (state / STATE_SENTENCES).is_file() or not (state / STATE_RUN).is_file():
        return None
    try:
        run = json.loads((state / STATE_RUN).read_text(encoding="utf-8"))
        if not isinstance(run, dict):
            raise ValueError("not a JSON object")
        sentences = pd.read_parquet(state / STATE_SENTENCES)
    except (ValueError, OSError, UnicodeDecodeError) as exc:  # pyarrow's errors are ValueErrors (ArrowInvalid)
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise SamskapingError(
            f"--resume: the saved state in {state} is damaged ({first}); run again without --resume "
            "(the folder's results are then replaced), or with another --output"
        ) from exc
    return sentences, run


def clear_outputs(folder: Path) -> list[str]:
    """Remove the files an earlier run wrote in ``folder`` (tables in every format, summary, report, state).

    Returns:
        The names removed.
    """
    import shutil

    names = [f"{name}.{fmt}" for name in (SENTENCES, DOCUMENTS) for fmt in FORMATS] + [SUMMARY, REPORT, METHODS, QDPX]
    removed = [name for name in names if (folder / name).is_file()]
    for name in removed:
        (folder / name).unlink()
    if (folder / STATE_DIR).is_dir():
        shutil.rmtree(folder / STATE_DIR)
    return removed
