"""What reading one input may cost, and the checks made before the work starts.

Plans downloaded from municipal web sites can be made to hurt a reader: a ZIP
package (DOCX, XLSX, a .docx embedded in a .docx) whose parts inflate to
gigabytes, a PDF whose page tree declares a million pages, a table cell of a
hundred megabytes. :class:`ReadingLimits` holds the limits; the readers look
them up with :func:`current` (set for a run with :func:`using`), so that each
reader keeps its plain ``read(path)`` signature. Memory and time per document
are enforced by the worker process that reads it (:mod:`samskaping.reading`).
"""

from __future__ import annotations

import io
import logging
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from samskaping.documents.document import note
from samskaping.errors import DocumentError, SamskapingError

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger(__name__)

MB = 1024 * 1024
# ZIP parts smaller than this are never refused for their compression ratio (small XML compresses well).
_RATIO_FLOOR = 1 * MB
# More parts than this in one package is not an Office file a person saved.
MAX_PARTS = 10_000
# PDF pages that cannot be loaded, one after the other, before the rest of a page tree is not tried.
MISSES_BEFORE_STOP = 50


class ReadingLimits(BaseModel):
    """Limits on reading one input (document or sentence table); unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    isolated: bool = Field(
        True,
        description="Read each input in a worker process, so that a crash, an exhausted "
        "memory limit or a time-out is that input's failure (off: read in this "
        "process, without the memory and time limits; for debugging).",
    )
    memory_mb: int = Field(
        2048,
        ge=768,
        description="Address space of the worker process that reads one input, in MB "
        "(RLIMIT_AS; the worker itself takes about 560 MB).",
    )
    seconds: float = Field(120.0, gt=0, description="Wall-clock time to read one input, in seconds.")
    unpacked_mb: int = Field(
        512,
        ge=1,
        description="Total declared size of the parts of one ZIP package (DOCX, XLSX, "
        "an embedded .docx), in MB, checked before any part is inflated.",
    )
    compression_ratio: int = Field(
        200, ge=10, description="Largest inflated-to-compressed size ratio of a ZIP part of 1 MB or more."
    )
    pdf_pages: int = Field(10_000, ge=1, description="Pages read of one PDF; later pages are left out with a warning.")
    cell_chars: int = Field(
        20_000,
        ge=100,
        description="Characters kept of one table cell; a longer cell is cut, with a warning naming the row.",
    )
    table_rows: int = Field(
        2_000_000,
        ge=1,
        description="Rows read of one sentence table; later rows are left out with a warning naming the first one.",
    )


_DEFAULT = ReadingLimits()
_CURRENT: ContextVar[ReadingLimits | None] = ContextVar("reading_limits", default=None)


def current() -> ReadingLimits:
    """The limits in force (the defaults unless :func:`using` set others)."""
    limits = _CURRENT.get()
    return _DEFAULT if limits is None else limits


@contextmanager
def using(limits: ReadingLimits) -> Iterator[ReadingLimits]:
    """Put ``limits`` in force for the readers called inside the ``with`` block."""
    token = _CURRENT.set(limits)
    try:
        yield limits
    finally:
        _CURRENT.reset(token)


def _size(n: int) -> str:
    return f"{n / MB:,.0f} MB" if n >= MB else f"{n / 1024:,.0f} kB"


def check_package(
    source: Path | bytes, path: Path, what: str = "", error: type[SamskapingError] = DocumentError
) -> None:
    """Refuse a ZIP package whose parts would inflate beyond the limits, from its declared sizes, before inflating.

    CPython's ``zipfile`` never inflates a part past its declared size (a part that
    lies about it fails its CRC check), so checking the declared sizes bounds the work.
    A package that is not a readable ZIP passes: its reader reports the damage in its own words.

    Args:
        source: the package file, or its bytes (an embedded package).
        path: the input file, named in the message.
        what: what the package is inside the input («an embedded Word document (w:altChunk) »), or "".
        error: the exception class to raise.

    Raises:
        DocumentError (or ``error``): too many parts, a part inflating over the ratio, or too much in all.
    """
    limits = current()
    try:
        with zipfile.ZipFile(io.BytesIO(source) if isinstance(source, bytes) else source) as archive:
            parts = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        return
    advice = "not read (a ZIP bomb?); if it is a real plan, open it in its program and save it again"
    if len(parts) > MAX_PARTS:
        raise error(f"{path}: {what}holds {len(parts):,} parts, more than the {MAX_PARTS:,} allowed; {advice}")
    total = 0
    for part in parts:
        total += part.file_size
        ratio = part.file_size / max(part.compress_size, 1)
        if part.file_size >= _RATIO_FLOOR and ratio > limits.compression_ratio:
            raise error(
                f"{path}: {what}part {part.filename!r} would inflate from {_size(part.compress_size)} to "
                f"{_size(part.file_size)} ({ratio:,.0f}:1, over the {limits.compression_ratio}:1 allowed); {advice}"
            )
    if total > limits.unpacked_mb * MB:
        raise error(
            f"{path}: {what}would inflate to {_size(total)}, over the {limits.unpacked_mb:,} MB allowed "
            f"for one package; {advice}"
        )


def warn_pages_not_tried(
    path: Path, declared: int, pages: list[list[Any]], unreadable: list[int], misses: int, notes: list[str] | None
) -> None:
    """Say which pages a PDF declares were not tried: after many unloadable pages in a row, or past the page limit.

    The unloadable pages in a row at the end are taken out of ``pages`` and ``unreadable``
    (they are named in this warning instead). The warning is logged and added to ``notes``.
    """
    if len(pages) >= declared:
        return
    if misses == MISSES_BEFORE_STOP:
        first = len(pages) - misses + 1
        if first > 1:  # else «none of its pages could be read» says it
            del pages[-misses:], unreadable[-misses:]
        note(
            notes,
            log,
            "%s: its page tree declares %d pages, but pages %d-%d could not be loaded, so the other %d "
            "were not tried; the PDF is damaged or its page tree lies; open it in a PDF reader and save or "
            "print it to a new PDF",
            path,
            declared,
            first,
            first + misses - 1,
            declared - first - misses + 1,
        )
    else:
        note(
            notes,
            log,
            "%s: only the first %d of its %d pages are read (the limit for one PDF); split the file to read the rest",
            path,
            len(pages),
            declared,
        )


# Cells cut in one table that are named one by one in warnings; the rest are counted.
_NAMED_CUTS = 10


def table_within_limits(frame: pd.DataFrame, path: Path, offset: int, notes: list[str] | None = None) -> pd.DataFrame:
    """The table without the rows past the row limit and with cells cut to the cell limit, each named in a warning.

    A cell of a hundred megabytes is no sentence, and cleaning and classifying it would take more
    memory and time than the rest of the batch (:class:`ReadingLimits`).

    Args:
        frame: the table as read (strings).
        path: the file, named in the warnings.
        offset: what to add to a 0-based row index to get the row number a person sees.
        notes: where to add the warnings (they are logged too).

    Returns:
        The table within the limits.
    """
    import numpy as np

    limits = current()
    if len(frame) > limits.table_rows:
        frame = frame.iloc[: limits.table_rows].copy()
        note(
            notes,
            log,
            "%s: rows from row %d on are not read (the limit is %d rows for one table); split the file to "
            "read the rest",
            path,
            limits.table_rows + offset,
            limits.table_rows,
        )
    cut = 0
    for j, column in enumerate(frame.columns):
        lengths = frame[column].map(lambda v: len(v) if isinstance(v, str) else 0)
        for i in np.flatnonzero(lengths.to_numpy() > limits.cell_chars):
            if cut < _NAMED_CUTS:
                note(
                    notes,
                    log,
                    "%s, row %d, column '%s': %d characters, cut to the first %d (the limit for one cell)",
                    path,
                    i + offset,
                    column,
                    lengths.iat[i],
                    limits.cell_chars,
                )
            frame.iat[i, j] = frame.iat[i, j][: limits.cell_chars]
            cut += 1
    if cut > _NAMED_CUTS:
        note(notes, log, "%s: %d more cells cut to %d characters", path, cut - _NAMED_CUTS, limits.cell_chars)
    return frame
