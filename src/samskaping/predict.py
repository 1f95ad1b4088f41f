"""``classify``: plans and sentence tables in; sentence table, document table and summary out.

Inputs are files or folders (searched recursively) of plan documents (PDF,
DOCX, HTML, TXT, MD) and tables of sentences (CSV, JSONL, XLSX with a
``text`` column). Every input that cannot be read, for whatever reason, becomes
one failure with one plain line; the rest is classified. Document-like files in
a folder that are not read (``.doc``, ``.odt``, scans, …) are listed as
failures with what to do. Sentences from many documents are classified
together in length-sorted batches. Outputs are written atomically after every
chunk of documents, with the run's lossless state in ``.samskaping/``, so an
interrupted run keeps what it finished and ``resume=True`` continues it to the
very files an uninterrupted run would have written.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from samskaping import outputs
from samskaping.documents.tables import TABLE_SUFFIXES
from samskaping.errors import SamskapingError
from samskaping.methods import methods_markdown
from samskaping.models.base import Classifier
from samskaping.probabilities import RAW_PREFIX as RAW_PREFIX  # re-exported: Spark, the MLflow model, tests
from samskaping.probabilities import (
    Probabilities,
    decide_probabilities,
    probabilities_of,
    probability_columns,
    raw_columns,
)
from samskaping.probabilities import classify_frame as classify_frame
from samskaping.probabilities import decide_frame as decide_frame
from samskaping.probabilities import raw_frame as raw_frame
from samskaping.run_summary import Failure, document_table, duplicate_documents, run_summary, warn_duplicates
from samskaping.summaries import summarise_documents

log = logging.getLogger(__name__)

FORMATS = outputs.FORMATS
CHUNK_MIN_SENTENCES = 4096
LEADING_COLUMNS = ["document", "page", "sentence_index", "unit", "heading", "context", "text"]


@dataclass
class PredictResult:
    """What a classification run produced."""

    output_dir: Path
    sentences: pd.DataFrame
    documents: pd.DataFrame
    summary: dict[str, Any]
    failures: list[Failure] = field(default_factory=list)


def _suffixes() -> tuple[frozenset[str], dict[str, str]]:
    from samskaping.documents import DOCUMENT_SUFFIXES, NOT_READ_SUFFIXES

    return DOCUMENT_SUFFIXES | TABLE_SUFFIXES, NOT_READ_SUFFIXES


def collect_inputs(inputs: Sequence[str | Path]) -> tuple[list[Path], list[Failure]]:
    """Expand folders (recursively) into readable files; list what cannot be read and why."""
    allowed, not_read = _suffixes()
    listing = ", ".join(sorted(allowed))
    files: list[Path] = []
    failures: list[Failure] = []
    for item in map(Path, inputs):
        if item.is_dir():
            found = sorted(p for p in item.rglob("*") if p.is_file() and not p.name.startswith((".", "~$")))
            readable = [p for p in found if p.suffix.lower() in allowed]
            for path in found:
                hint = not_read.get(path.suffix.lower())
                if hint:
                    failures.append(Failure(str(path), f"not read: {hint}"))
            if not readable and not any(f.path.startswith(str(item)) for f in failures):
                failures.append(Failure(str(item), f"folder holds no {listing} files"))
            files.extend(readable)
        elif item.is_file():
            if item.suffix.lower() in allowed:
                files.append(item)
            else:
                hint = not_read.get(item.suffix.lower(), f"allowed: {listing}")
                failures.append(Failure(str(item), f"unsupported file type '{item.suffix}'; {hint}"))
        else:  # a named pipe, socket or device given directly is named for what it is; it is never opened
            from samskaping.display import not_a_file

            failures.append(Failure(str(item), not_a_file(item)))
    return list(dict.fromkeys(files)), failures


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


def _start_folder(out: Path, fmt: str, resume: bool, identity: dict[str, Any]) -> pd.DataFrame:
    """Prepare the output folder; return the sentences an earlier run finished (resume) or an empty frame.

    Raises:
        SamskapingError: resuming a folder without state, or with another model or format.
    """
    import os

    if out.exists() and not out.is_dir():
        raise SamskapingError(f"--output {out} is a file; give a folder (it is created if needed)")
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / f".samskaping-write-test-{os.getpid()}"
        probe.touch()
        probe.unlink()
    except OSError as exc:
        raise SamskapingError(
            f"--output {out}: cannot write there ({exc.strerror or exc}); choose another folder"
        ) from exc
    if resume:
        state = outputs.read_state(out)  # a damaged state is refused with what to do
        if state is None:
            if any(outputs.table_path(out, outputs.SENTENCES, f).is_file() for f in FORMATS):
                raise SamskapingError(
                    f"--resume: {out} holds results without the state an exact resume needs (written by an older "
                    "samskaping); run again without --resume, or with another --output"
                )
            return pd.DataFrame()
        frame, run = state
        if run.get("model") != identity.get("model"):
            raise SamskapingError(
                f"--resume: {out} was classified with model {run.get('model', {}).get('spec')!r} "
                f"({run.get('model', {}).get('digest')}); this run uses {identity['model'].get('spec')!r} "
                f"({identity['model'].get('digest')}). Resume with the same model, or choose another --output"
            )
        if run.get("format") != fmt:
            raise SamskapingError(
                f"--resume: {out} was written as {run.get('format')}; resume with --format {run.get('format')}"
            )
        return frame
    removed = outputs.clear_outputs(out)
    if removed:
        log.warning(
            "%s held results of an earlier run (%s); they are replaced. To add new plans to them, use --resume",
            out,
            ", ".join(removed),
        )
    return pd.DataFrame()


def classify(
    inputs: Sequence[str | Path],
    model: Classifier,
    output_dir: str | Path,
    fmt: str = "csv",
    batch_size: int | None = None,
    resume: bool = False,
    progress: bool = True,
    model_info: dict[str, Any] | None = None,
    priors: Any = None,
    confidence: float | None = None,
    municipalities: dict[str, str] | None = None,
) -> PredictResult:
    """Classify every sentence of ``inputs`` and write the outputs to ``output_dir``.

    Args:
        inputs: files or folders.
        model: a loaded classifier.
        output_dir: the output folder (created if needed).
        fmt: ``csv``, ``jsonl``, ``parquet`` or ``xlsx`` for the two tables.
        batch_size: sentences per model batch (default: the model's own).
        resume: keep the documents an earlier run with the same model finished, add the rest.
        progress: show progress bars.
        model_info: what to record about the model in ``summary.json`` (``spec`` and
            ``digest`` identify it for ``resume``).
        priors: the priors setting (default: the model's ``prediction.priors``); ``estimated``
            is estimated over every sentence of the output folder together.
        confidence: coverage of the prediction sets (default: the model's ``prediction.confidence``).
        municipalities: ``document -> kommunenummer`` (``--municipalities``); without it, or for a plan not in
            it, a kommunenummer in the file name places a plan (:mod:`samskaping.municipalities`).

    Returns:
        The tables, the summary and the inputs that failed.

    Raises:
        SamskapingError: no input could be read at all, an unknown format, or a refused resume.
    """
    if fmt not in FORMATS:
        raise SamskapingError(f"unknown output format {fmt!r}; allowed: {', '.join(FORMATS)}")
    out = Path(output_dir)
    info = dict(model_info or {})
    identity = {"model": {"spec": info.get("model"), "digest": info.get("digest")}}
    rules = {
        "priors": model.cfg.prediction.priors if priors is None else priors,
        "confidence": model.cfg.prediction.confidence if confidence is None else confidence,
        "municipalities": municipalities,
    }
    created = _missing_folders(out)
    try:
        return _classify(inputs, model, out, fmt, batch_size, resume, progress, info, identity, rules)
    except BaseException:
        _remove_if_empty(created)  # a failed run leaves no empty folder behind (what it wrote stays)
        raise


def _missing_folders(out: Path) -> list[Path]:
    """``out`` and those of its parents that do not exist yet, deepest first."""
    missing = []
    for folder in (out, *out.parents):
        if folder.exists():
            break
        missing.append(folder)
    return missing


def _remove_if_empty(folders: list[Path]) -> None:
    """Remove the folders this run created (deepest first) while they are empty."""
    for folder in folders:
        try:
            folder.rmdir()  # refuses a folder that holds anything
        except OSError:
            return


def _classify(
    inputs: Sequence[str | Path],
    model: Classifier,
    out: Path,
    fmt: str,
    batch_size: int | None,
    resume: bool,
    progress: bool,
    info: dict[str, Any],
    identity: dict[str, Any],
    rules: dict[str, Any],
) -> PredictResult:
    """The body of :func:`classify`, once the arguments are checked."""
    done = _start_folder(out, fmt, resume, identity)
    files, failures = collect_inputs(inputs)
    finished = set(done["document"].astype(str)) if not done.empty else set()
    order = [str(f) for f in files]
    todo = [f for f in files if str(f) not in finished]
    if resume:
        log.info("resume: %d document(s) already in %s, %d to do", len(files) - len(todo), out, len(todo))

    from tqdm.auto import tqdm

    started = time.perf_counter()
    extracted: list[tuple[str, pd.DataFrame]] = []
    encodings: dict[str, str] = {}
    notes: dict[str, str] = {}  # what a reader warned about (a page or an embedded part not read), per document
    from samskaping.display import display_name
    from samskaping.reading import IsolatedReader, read_and_segment

    with IsolatedReader() as reader:  # each input in a worker process, with the limits in force (samskaping.reading)
        for path in tqdm(todo, desc="Reading documents", unit="doc", disable=not progress):
            read = read_and_segment(reader, path, str(path), display_name(path))
            if read.error is not None:  # any failure of one input is that input's failure, never the batch's
                failures.append(Failure(read.document, read.error))
                log.debug("not read: %s: %s", path, read.error)  # listed once, at the end, by the command
                continue
            if read.encoding:
                encodings[read.document] = read.encoding
            if read.notes:
                notes[read.document] = read.notes
            extracted.append((read.document, read.frame))
    extraction_seconds = time.perf_counter() - started
    if not extracted and done.empty:
        listing = "; ".join(f"{f.display}: {f.error}" for f in failures) or "no inputs given"
        raise SamskapingError(f"nothing to classify: {listing}")

    timing = {"extraction_seconds": extraction_seconds, "model_seconds": 0.0, "new_sentences": 0}
    # (sentences, their probabilities) per part: the earlier run's state first, then each chunk of new documents
    parts: list[tuple[pd.DataFrame, Probabilities]] = []
    if not done.empty:
        raw = raw_columns(model.label_sets)
        parts.append((done.drop(columns=raw), probabilities_of(done, model.label_sets)))
    bar = tqdm(total=sum(len(f) for _, f in extracted), desc="Classifying sentences", unit="sent", disable=not progress)
    state: dict[str, Any] = {}
    for chunk in _chunks(extracted, max(CHUNK_MIN_SENTENCES, len(done) // 4)):
        frame = pd.concat([f for _, f in chunk], ignore_index=True)
        t0 = time.perf_counter()
        probs = model.predict_proba(frame["text"].tolist(), batch_size=batch_size, contexts=model.contexts(frame))
        timing["model_seconds"] += time.perf_counter() - t0
        timing["new_sentences"] += len(frame)
        bar.update(len(frame))
        parts.append((frame, probs))
        state = _write_outputs(parts, order, out, fmt, model, failures, timing, info, encodings, identity, rules, notes)
        parts = [state["state"]]
    bar.close()
    if not state:  # every document was already done
        state = _write_outputs(parts, order, out, fmt, model, failures, timing, info, encodings, identity, rules, notes)
    warn_duplicates(state["summary"]["duplicate_documents"])
    return PredictResult(out, state["sentences"], state["documents"], state["summary"], failures)


def _in_input_order(
    parts: list[tuple[pd.DataFrame, Probabilities]], order: list[str], label_sets: Sequence[str]
) -> tuple[pd.DataFrame, Probabilities]:
    """The parts as one: documents of earlier runs that are not inputs now first, then the inputs in the order given."""
    sentences = pd.concat([frame for frame, _ in parts], ignore_index=True) if len(parts) > 1 else parts[0][0]
    position = {doc: i for i, doc in enumerate(order)}
    rank = sentences["document"].map(lambda d: position.get(d, -1)).to_numpy()
    rows = np.argsort(rank, kind="stable")
    probs = {ls: np.concatenate([p[ls] for _, p in parts])[rows] for ls in label_sets}
    return sentences.iloc[rows].reset_index(drop=True), probs


def _write_outputs(
    parts: list[tuple[pd.DataFrame, Probabilities]],
    order: list[str],
    out: Path,
    fmt: str,
    model: Classifier,
    failures: list[Failure],
    timing: dict[str, float],
    model_info: dict[str, Any],
    encodings: dict[str, str],
    identity: dict[str, Any],
    rules: dict[str, Any],
    notes: dict[str, str],
) -> dict[str, Any]:
    """Decide labels for every sentence so far (priors estimated over all of them) and write every output."""
    state, probs = _in_input_order(parts, order, model.label_sets)
    for column in ("unit", "heading", "context"):
        state[column] = state[column].fillna("") if column in state.columns else ""
    decided, decision_record = decide_probabilities(model, probs, rules["priors"], rules["confidence"])
    other = [c for c in state.columns if c not in LEADING_COLUMNS]
    # extra table columns in the order their first rows come, whichever documents a resumed run finished first
    other.sort(key=lambda c: int(state[c].notna().to_numpy().argmax()) if state[c].notna().any() else len(state))
    sentences = pd.concat([state[LEADING_COLUMNS + other].reset_index(drop=True), decided], axis=1)
    earlier = outputs.read_state(out)
    if earlier is not None:
        encodings = {**earlier[1].get("encodings", {}), **encodings}
        notes = {**earlier[1].get("reading_notes", {}), **notes}
    documents = document_table(
        summarise_documents(sentences, model.label_sets), encodings, notes, rules.get("municipalities")
    )
    run = {"model": model_info, "decision_rules": decision_record, "timing": timing, "output_format": fmt}
    summary = run_summary(documents, model.label_sets, sentences, failures, duplicate_documents(sentences), notes, run)
    stored = pd.concat([state, probability_columns(probs, model.label_sets)], axis=1)
    outputs.write_state(out, stored, {**identity, "format": fmt, "encodings": encodings, "reading_notes": notes})
    outputs.write_table(sentences, outputs.table_path(out, outputs.SENTENCES, fmt), fmt)
    outputs.write_table(documents, outputs.table_path(out, outputs.DOCUMENTS, fmt), fmt)
    outputs.write_json(summary, out / outputs.SUMMARY)
    outputs.write_text(methods_markdown(summary), out / outputs.METHODS)
    return {"sentences": sentences, "documents": documents, "summary": summary, "state": (state, probs)}
