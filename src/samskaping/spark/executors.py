"""What runs on Spark's executors: extract plans, run the model, decide labels, summarise documents.

Every function here is shipped to Python workers, so it imports what it needs
itself and keeps nothing but a model cache between batches. The code is
``predict.py``'s own: the bytes of a plan are written to a temporary file with
the plan's name and read with :func:`samskaping.reading.read_and_segment` in a
reading worker process (:mod:`samskaping.reading`, as ``predict.py`` reads); the model
gives :func:`~samskaping.probabilities.raw_frame` and the labels come from
:func:`~samskaping.probabilities.decide_frame`.
"""

from __future__ import annotations

import json
import logging
import tempfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path, PurePosixPath
from typing import Any

import pandas as pd

log = logging.getLogger(__name__)

# One row per sentence; a file that cannot be read gives one row with ``error`` set and no text.
# ``extra`` holds the other columns of a sentence table (CSV/JSONL/XLSX input) as a JSON object of strings.
EXTRACTED_COLUMNS = {
    "document": "string",
    "page": "int",
    "sentence_index": "int",
    "unit": "string",
    "heading": "string",
    "context": "string",
    "text": "string",
    "extra": "string",
    "encoding": "string",
    "notes": "string",
    "error": "string",
}
EXTRACTED_SCHEMA = ", ".join(f"`{name}` {kind}" for name, kind in EXTRACTED_COLUMNS.items())
SUMMARY_SCHEMA = "document string, row string"

_MODELS: dict[str, Any] = {}  # model folder -> loaded classifier, once per Python worker


def extract_file(document: str, content: bytes, reader: Any = None) -> pd.DataFrame:
    """The sentence rows of one plan, or one failure row with ``predict.py``'s reason.

    Args:
        document: the plan's name, as ``predict.py`` names it.
        content: the file's bytes.
        reader: the :class:`~samskaping.reading.IsolatedReader` to read with (as ``predict.py`` does: a crash,
            exhausted memory or a time-out is this file's failure); None reads in this process.
    """
    from samskaping.documents.limits import current
    from samskaping.predict import LEADING_COLUMNS
    from samskaping.reading import IsolatedReader, read_and_segment

    if reader is None:
        reader = IsolatedReader(current().model_copy(update={"isolated": False}))
    with tempfile.TemporaryDirectory(prefix="samskaping-spark-") as folder:
        path = Path(folder) / PurePosixPath(document).name  # the suffix picks the reader; the name appears in messages
        path.write_bytes(content)
        # predict.py's one input step; the temporary copy's path is named as the document in notes and errors
        read = read_and_segment(reader, path, document, document)
    if read.error is not None:  # one file's failure, never the job's
        log.warning("not read: %s: %s", document, read.error)
        return pd.DataFrame([{**dict.fromkeys(EXTRACTED_COLUMNS), "document": document, "error": read.error}])
    frame, encoding, notes = read.frame, read.encoding, read.notes or None
    other = [c for c in frame.columns if c not in LEADING_COLUMNS]
    rows = pd.DataFrame(
        {
            "document": document,
            "page": frame["page"].astype("Int32"),
            "sentence_index": frame["sentence_index"].astype("int32"),
            **{
                c: frame[c].fillna("").astype(str) if c in frame.columns else "" for c in ("unit", "heading", "context")
            },
            "text": frame["text"].astype(str),
            "extra": [
                json.dumps(
                    {c: None if pd.isna(v) else str(v) for c, v in zip(other, values, strict=True)}, ensure_ascii=False
                )
                for values in frame[other].itertuples(index=False)
            ]
            if other
            else None,
            "encoding": encoding,
            "notes": notes,
            "error": None,
        }
    )
    return rows[list(EXTRACTED_COLUMNS)]


def extract_batches(names: dict[str, str]) -> Callable[[Iterator[pd.DataFrame]], Iterator[pd.DataFrame]]:
    """A ``mapInPandas`` function: rows of ``binaryFile`` (``path``, ``content``) -> extracted rows.

    Args:
        names: Spark path -> document name (as ``predict.py`` names it).
    """

    def extract(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        from samskaping.reading import IsolatedReader

        with IsolatedReader() as reader:  # one reading worker per partition, with the default limits
            for batch in batches:
                for path, content in zip(batch["path"], batch["content"], strict=True):
                    yield extract_file(names[path], bytes(content), reader)

    return extract


def _folder_model(archive: str):  # -> Classifier
    """The model folder shipped as ``archive`` (``SparkContext.addArchive``), loaded once per Python worker."""
    from pyspark import SparkFiles

    folder = SparkFiles.get(archive)
    if folder not in _MODELS:
        from samskaping.runtime import RuntimeOptions, prepare

        _MODELS[folder] = prepare(folder, RuntimeOptions(set_threads=False)).model
    return _MODELS[folder]


def raw_udf(archive: str, schema: str, batch_size: int | None = None):  # -> pandas UDF
    """A pandas UDF ``(text, context) -> struct of raw probabilities`` (:func:`samskaping.probabilities.raw_frame`).

    Args:
        archive: the name the model folder's archive was shipped under.
        schema: the struct's fields (the columns of ``raw_frame``).
        batch_size: sentences per model batch (default: the model's own).
    """
    from pyspark.sql.functions import pandas_udf

    @pandas_udf(schema)  # type: ignore[call-overload]
    def raw(batches: Iterator[tuple[pd.Series, pd.Series]]) -> Iterator[pd.DataFrame]:
        from samskaping.probabilities import raw_frame

        model = _folder_model(archive)
        for texts, contexts in batches:
            yield raw_frame(model, texts.tolist(), batch_size=batch_size, contexts=contexts.fillna("").tolist())

    return raw


def decide_udf(archive: str, schema: str, priors: Any, confidence: float | None):  # -> pandas UDF
    """A pandas UDF ``struct of raw probabilities -> struct of output columns``.

    The columns are those of :func:`samskaping.probabilities.decide_frame`.

    Args:
        archive: the name the model folder's archive was shipped under.
        schema: the struct's fields (the columns ``decide_frame`` gives).
        priors: a setting that needs no estimate over other sentences (``training``, ``uniform``, or shares).
        confidence: coverage of the prediction sets.
    """
    from pyspark.sql.functions import pandas_udf

    @pandas_udf(schema)  # type: ignore[call-overload]
    def decide(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        from samskaping.probabilities import decide_frame

        model = _folder_model(archive)
        for raw in batches:
            yield decide_frame(model, raw, priors, confidence)[0]

    return decide


def summarise_group(label_sets: Sequence[str]) -> Callable[[pd.DataFrame], pd.DataFrame]:
    """An ``applyInPandas`` function: one document's sentences -> its row of ``documents.<fmt>`` as JSON."""

    def summarise(group: pd.DataFrame) -> pd.DataFrame:
        from samskaping.summaries import summarise_documents

        group = group.sort_values("sentence_index", kind="stable").reset_index(drop=True)
        rows = summarise_documents(group, label_sets).to_dict(orient="records")
        return pd.DataFrame(
            {
                "document": [row["document"] for row in rows],
                "row": [json.dumps(row, ensure_ascii=False, default=_plain) for row in rows],
            }
        )

    return summarise


def _plain(value: Any) -> Any:
    """numpy scalars as Python numbers for JSON."""
    return value.item() if hasattr(value, "item") else str(value)
