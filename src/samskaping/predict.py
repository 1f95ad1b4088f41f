"""``classify``: plans and sentence tables in; sentence table, document table and summary out.

Inputs are files or folders (searched recursively) of plan documents (PDF,
DOCX, HTML, TXT, MD) and tables of sentences (CSV, JSONL, XLSX with a
``text`` column). Sentences from many documents are classified together in
length-sorted batches. Outputs are written atomically (a temporary file
renamed into place) after every chunk of documents, so an interrupted run
keeps what it finished, and ``resume=True`` carries on from there.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from samskaping.data import TABLE_SUFFIXES, read_table
from samskaping.errors import DataError, DocumentError, SamskapingError
from samskaping.labels import LABEL_SETS, NONE, probability_columns
from samskaping.models.base import Classifier, decode_predictions

log = logging.getLogger(__name__)

FORMATS = ("csv", "jsonl", "parquet", "xlsx")
# samskaping, samskapinga, samskape, samskaper, samskapar, samskapt(e), samskapende/-ande, samskapingsarena, ...
COCREATION_WORD = re.compile(r"\bsamskap\w*", re.IGNORECASE)
CHUNK_MIN_SENTENCES = 4096
TOP_EXAMPLES = 3


@dataclass
class Failure:
    """An input that could not be read."""

    path: str
    error: str


@dataclass
class PredictResult:
    """What a classification run produced."""

    output_dir: Path
    sentences: pd.DataFrame
    documents: pd.DataFrame
    summary: dict[str, Any]
    failures: list[Failure] = field(default_factory=list)


def document_suffixes() -> frozenset[str]:
    from samskaping.documents import DOCUMENT_SUFFIXES

    return DOCUMENT_SUFFIXES


def text_encoding(path: Path) -> str | None:
    from samskaping.documents import text_encoding as detect

    return detect(path)


def collect_inputs(inputs: Sequence[str | Path]) -> tuple[list[Path], list[Failure]]:
    """Expand folders (recursively) into supported files; report unusable inputs."""
    allowed = document_suffixes() | TABLE_SUFFIXES
    files: list[Path] = []
    failures: list[Failure] = []
    for item in map(Path, inputs):
        if item.is_dir():
            found = sorted(p for p in item.rglob("*") if p.is_file() and p.suffix.lower() in allowed and not p.name.startswith((".", "~$")))
            if not found:
                failures.append(Failure(str(item), f"folder holds no {', '.join(sorted(allowed))} files"))
            files.extend(found)
        elif item.is_file():
            if item.suffix.lower() in allowed:
                files.append(item)
            else:
                failures.append(Failure(str(item), f"unsupported file type '{item.suffix}'; allowed: {', '.join(sorted(allowed))}"))
        else:
            failures.append(Failure(str(item), "not found"))
    unique = list(dict.fromkeys(files))
    return unique, failures


def read_input(path: Path) -> pd.DataFrame:
    """Sentences of one input as a frame with ``document``, ``page``, ``sentence_index``, ``text``.

    Tables keep their other columns; documents are extracted and segmented.

    Raises:
        DocumentError, DataError: the file cannot be read or has no text.
    """
    if path.suffix.lower() in TABLE_SUFFIXES:
        frame, _ = read_table(path)
        if "text" not in frame.columns:
            raise DataError(f"{path}: no 'text' column; found: {', '.join(frame.columns)}")
        frame = frame[frame["text"].str.strip() != ""].reset_index(drop=True)
        if frame.empty:
            raise DataError(f"{path}: the 'text' column is empty")
        label_like = [c for c in frame.columns if c in LABEL_SETS or c.startswith(tuple(f"{ls}_" for ls in LABEL_SETS))]
        frame = frame.rename(columns={c: f"input_{c}" for c in label_like + ["document", "page", "sentence_index"] if c in frame.columns})
        frame.insert(0, "document", str(path))
        frame.insert(1, "page", pd.array([pd.NA] * len(frame), dtype="Int64"))
        frame.insert(2, "sentence_index", range(len(frame)))
        return frame
    from samskaping.documents import read_sentences

    sentences = read_sentences(path)
    return pd.DataFrame(
        {
            "document": [s.document for s in sentences],
            "page": pd.array([s.page for s in sentences], dtype="Int64"),
            "sentence_index": [s.index for s in sentences],
            "text": [s.text for s in sentences],
        }
    )


def classify_frame(model: Classifier, texts: Sequence[str], batch_size: int | None = None) -> pd.DataFrame:
    """Per label set: the label, its probability (``<set>_score``) and one probability per class."""
    probs = model.predict_proba(list(texts), batch_size=batch_size)
    labels, scores = decode_predictions(probs)
    columns: dict[str, Any] = {}
    for ls in model.label_sets:
        columns[ls] = labels[ls]
        columns[f"{ls}_score"] = np.round(scores[ls], 4)
        for j, label in enumerate(LABEL_SETS[ls]):
            columns[f"{ls}_p_{label}"] = np.round(probs[ls][:, j], 4)
    return pd.DataFrame(columns)


def count_cocreation_words(text: str) -> int:
    """How many times a form of «samskaping» occurs (bokmål and nynorsk)."""
    return len(COCREATION_WORD.findall(text))


def summarise_documents(sentences: pd.DataFrame, label_sets: Sequence[str]) -> pd.DataFrame:
    """One row per document: counts and shares per label, co-creation mentions, top sentences."""
    rows = []
    for document, group in sentences.groupby("document", sort=False):
        n = len(group)
        row: dict[str, Any] = {"document": document, "sentences": n}
        row["cocreation_mentions"] = int(group["text"].map(count_cocreation_words).sum())
        row["mentions_cocreation"] = row["cocreation_mentions"] > 0
        if "conception" in label_sets:
            counts = group["conception"].value_counts()
            for label in LABEL_SETS["conception"]:
                row[f"conception_{label}"] = int(counts.get(label, 0))
                row[f"conception_{label}_share"] = round(counts.get(label, 0) / n, 4) if n else 0.0
            cocreating = group[group["conception"] != NONE]
            row["cocreation_sentences"] = len(cocreating)
            row["dominant_conception"] = _dominant(cocreating)
        if "factor" in label_sets:
            factor_counts = group["factor"].value_counts()
            for label in LABEL_SETS["factor"]:
                if label == NONE:
                    continue
                row[f"factor_{label}"] = int(factor_counts.get(label, 0))
                if "polarity" in label_sets:
                    sub = group[group["factor"] == label]["polarity"].value_counts()
                    row[f"factor_{label}_promoting"] = int(sub.get("promoting", 0))
                    row[f"factor_{label}_hindering"] = int(sub.get("hindering", 0))
        if "conception" in label_sets:
            for label in LABEL_SETS["conception"]:
                if label == NONE:
                    continue
                top = group[group["conception"] == label].nlargest(TOP_EXAMPLES, "conception_score")
                for k in range(TOP_EXAMPLES):
                    row[f"top_{label}_{k + 1}"] = top["text"].iat[k] if k < len(top) else ""
        rows.append(row)
    return pd.DataFrame(rows)


def _dominant(cocreating: pd.DataFrame) -> str:
    """The most frequent co-creation conception; ties go to the higher summed probability."""
    if cocreating.empty:
        return NONE
    counts = cocreating["conception"].value_counts()
    best = counts[counts == counts.max()].index.tolist()
    if len(best) == 1:
        return str(best[0])
    weight = {label: cocreating.loc[cocreating["conception"] == label, "conception_score"].sum() for label in best}
    return str(max(sorted(weight), key=weight.__getitem__))


def summarise_corpus(documents: pd.DataFrame, label_sets: Sequence[str]) -> dict[str, Any]:
    """Corpus-level figures: the «13 of 41» form, dominant conceptions, factor counts."""
    n = len(documents)
    summary: dict[str, Any] = {
        "documents": n,
        "sentences": int(documents["sentences"].sum()) if n else 0,
        "documents_mentioning_cocreation": int(documents["mentions_cocreation"].sum()) if n else 0,
    }
    summary["mention_finding"] = f"{summary['documents_mentioning_cocreation']} of {n} documents mention samskaping"
    if "conception" in label_sets and n:
        summary["documents_with_cocreation_sentences"] = int((documents["cocreation_sentences"] > 0).sum())
        summary["dominant_conception"] = {k: int(v) for k, v in documents["dominant_conception"].value_counts().items()}
        summary["conception_sentences"] = {
            label: int(documents[f"conception_{label}"].sum()) for label in LABEL_SETS["conception"]
        }
    if "factor" in label_sets and n:
        factors: dict[str, Any] = {}
        for label in LABEL_SETS["factor"]:
            if label == NONE:
                continue
            entry: dict[str, int] = {"sentences": int(documents[f"factor_{label}"].sum())}
            if "polarity" in label_sets:
                entry["promoting"] = int(documents[f"factor_{label}_promoting"].sum())
                entry["hindering"] = int(documents[f"factor_{label}_hindering"].sum())
            entry["documents"] = int((documents[f"factor_{label}"] > 0).sum())
            factors[label] = entry
        summary["factors"] = factors
    return summary


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _current_umask()


def atomic_write(path: Path, writer: Callable[[Path], None]) -> None:
    """Write via a temporary file in the same folder, then rename into place."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        writer(Path(tmp))
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes owner-only files; outputs are meant to be shared
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_table(frame: pd.DataFrame, path: Path, fmt: str) -> None:
    """Write ``frame`` atomically in ``fmt`` (CSV is UTF-8 with BOM so Excel shows æøå)."""
    writers: dict[str, Callable[[Path], None]] = {
        "csv": lambda p: frame.to_csv(p, index=False, encoding="utf-8-sig"),
        "jsonl": lambda p: frame.to_json(p, orient="records", lines=True, force_ascii=False),
        "parquet": lambda p: frame.to_parquet(p, index=False),
        "xlsx": lambda p: frame.to_excel(p, index=False, engine="openpyxl"),
    }
    atomic_write(path, writers[fmt])


def write_json(data: Any, path: Path) -> None:
    """Write JSON atomically, UTF-8, indented."""
    atomic_write(path, lambda p: p.write_text(json.dumps(data, ensure_ascii=False, indent=2, default=str), encoding="utf-8"))


def read_existing(path: Path, fmt: str) -> pd.DataFrame:
    """Read a sentences file written by an earlier run (for ``--resume``)."""
    readers: dict[str, Callable[[Path], pd.DataFrame]] = {
        "csv": lambda p: pd.read_csv(p, encoding="utf-8-sig", dtype={"document": str, "text": str}, keep_default_na=False, na_values={"page": [""]}),
        "jsonl": lambda p: pd.read_json(p, lines=True, dtype={"document": str}),
        "parquet": pd.read_parquet,
        "xlsx": lambda p: pd.read_excel(p, dtype={"document": str, "text": str}),
    }
    frame = readers[fmt](path)
    if "page" in frame.columns:
        frame["page"] = pd.to_numeric(frame["page"], errors="coerce").astype("Int64")
    return frame


def _chunks(items: Sequence[tuple[str, pd.DataFrame]], minimum: int) -> Iterable[list[tuple[str, pd.DataFrame]]]:
    """Group whole documents into chunks of at least ``minimum`` sentences."""
    chunk: list[tuple[str, pd.DataFrame]] = []
    size = 0
    for item in items:
        chunk.append(item)
        size += len(item[1])
        if size >= minimum:
            yield chunk
            chunk, size = [], 0
    if chunk:
        yield chunk


def classify(
    inputs: Sequence[str | Path],
    model: Classifier,
    output_dir: str | Path,
    fmt: str = "csv",
    batch_size: int | None = None,
    resume: bool = False,
    progress: bool = True,
    model_info: dict[str, Any] | None = None,
) -> PredictResult:
    """Classify every sentence of ``inputs`` and write the three outputs to ``output_dir``.

    Args:
        inputs: files or folders.
        model: a loaded classifier.
        output_dir: the output folder (created if needed).
        fmt: ``csv``, ``jsonl``, ``parquet`` or ``xlsx`` for the two tables.
        batch_size: sentences per model batch (default: the model's own).
        resume: skip documents already in ``output_dir`` and append the rest.
        progress: show progress bars.
        model_info: what to record about the model in ``summary.json``.

    Returns:
        The tables, the summary and the inputs that failed.

    Raises:
        SamskapingError: no input could be read at all, or an unknown format.
    """
    if fmt not in FORMATS:
        raise SamskapingError(f"unknown output format {fmt!r}; allowed: {', '.join(FORMATS)}")
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    sentences_path = out / f"sentences.{fmt}"
    files, failures = collect_inputs(inputs)

    done = pd.DataFrame()
    if resume and sentences_path.is_file():
        done = read_existing(sentences_path, fmt)
        finished = set(done["document"].astype(str))
        skipped = [f for f in files if str(f) in finished]
        files = [f for f in files if str(f) not in finished]
        log.info("resume: %d document(s) already in %s, %d to do", len(skipped), sentences_path, len(files))
    elif sentences_path.exists() and not resume:
        log.info("overwriting the outputs in %s (use --resume to continue an earlier run)", out)

    from tqdm.auto import tqdm

    started = time.perf_counter()
    extracted: list[tuple[str, pd.DataFrame]] = []
    encodings: dict[str, str] = {}
    if not done.empty and (out / f"documents.{fmt}").is_file():
        earlier = read_existing(out / f"documents.{fmt}", fmt)
        if "encoding" in earlier.columns:
            encodings.update({str(d): str(e) for d, e in zip(earlier["document"], earlier["encoding"]) if isinstance(e, str) and e})
    for path in tqdm(files, desc="Reading documents", unit="doc", disable=not progress):
        try:
            frame = read_input(path)
            encoding = text_encoding(path)
            if encoding:
                encodings[str(path)] = encoding
        except (DocumentError, DataError) as exc:
            failures.append(Failure(str(path), str(exc)))
            log.warning("skipped: %s", exc)
            continue
        extracted.append((str(path), frame))
    extraction_seconds = time.perf_counter() - started

    if not extracted and done.empty:
        result_failures = "; ".join(f"{f.path}: {f.error}" for f in failures) or "no inputs given"
        raise SamskapingError(f"nothing to classify: {result_failures}")

    model_seconds = 0.0
    new_sentences = 0
    parts = [done] if not done.empty else []
    total = sum(len(f) for _, f in extracted)
    bar = tqdm(total=total, desc="Classifying sentences", unit="sent", disable=not progress)
    minimum = max(CHUNK_MIN_SENTENCES, len(done) // 4)
    state: dict[str, Any] = {}
    for chunk in _chunks(extracted, minimum):
        frame = pd.concat([f for _, f in chunk], ignore_index=True)
        t0 = time.perf_counter()
        predicted = classify_frame(model, frame["text"].tolist(), batch_size=batch_size)
        model_seconds += time.perf_counter() - t0
        new_sentences += len(frame)
        bar.update(len(frame))
        parts.append(pd.concat([frame, predicted], axis=1))
        state = _write_outputs(
            parts, out, fmt, model, failures,
            timing={"extraction_seconds": extraction_seconds, "model_seconds": model_seconds, "new_sentences": new_sentences},
            model_info=model_info or {}, encodings=encodings,
        )
        parts = [state["sentences"]]
    bar.close()
    if not state:  # every document was already done
        state = _write_outputs(
            parts, out, fmt, model, failures,
            {"extraction_seconds": extraction_seconds, "model_seconds": 0.0, "new_sentences": 0}, model_info or {}, encodings,
        )
    return PredictResult(out, state["sentences"], state["documents"], state["summary"], failures)


def _write_outputs(
    parts: list[pd.DataFrame],
    out: Path,
    fmt: str,
    model: Classifier,
    failures: list[Failure],
    timing: dict[str, float],
    model_info: dict[str, Any],
    encodings: dict[str, str],
) -> dict[str, Any]:
    sentences = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
    leading = ["document", "page", "sentence_index", "text"]
    label_columns = [c for ls in model.label_sets for c in (ls, f"{ls}_score")] + probability_columns(model.label_sets)
    other = [c for c in sentences.columns if c not in leading and c not in label_columns]
    sentences = sentences[leading + other + label_columns]
    documents = summarise_documents(sentences, model.label_sets)
    # text files record the encoding they were read with (UTF-8, or a legacy one such as cp1252)
    documents.insert(2, "encoding", documents["document"].map(encodings).fillna(""))
    summary = summarise_corpus(documents, model.label_sets)
    model_s = timing["model_seconds"]
    summary.update(
        {
            "model": model_info,
            "throughput": {
                "sentences_classified_this_run": int(timing["new_sentences"]),
                "extraction_seconds": round(timing["extraction_seconds"], 3),
                "model_seconds": round(model_s, 3),
                "sentences_per_second": round(timing["new_sentences"] / model_s, 2) if model_s > 0 else None,
            },
            "failed_documents": [{"path": f.path, "reason": f.error} for f in failures],
            "output_format": fmt,
        }
    )
    write_table(sentences, out / f"sentences.{fmt}", fmt)
    write_table(documents, out / f"documents.{fmt}", fmt)
    write_json(summary, out / "summary.json")
    return {"sentences": sentences, "documents": documents, "summary": summary}


def stderr_is_terminal() -> bool:
    """Progress bars only when a person is watching."""
    return sys.stderr.isatty()
