"""What a classification run records besides its sentences: the document table and ``summary.json``.

``predict.py`` and the Spark job (:mod:`samskaping.spark.job`) assemble both
here from the same pieces: the per-document figures of
:func:`~samskaping.summaries.summarise_documents`, the encoding and reading
notes of each input, the inputs that failed, the documents with the same text,
the model, the decision rules and the timings.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from samskaping.municipalities import add_municipality_columns, corpus_municipalities
from samskaping.summaries import summarise_corpus

log = logging.getLogger(__name__)


@dataclass
class Failure:
    """An input that could not be read: the path and the reason (without the path)."""

    path: str
    error: str

    @property
    def display(self) -> str:
        """The path as shown to a person: control and bidirectional characters escaped."""
        from samskaping.display import display_name

        return display_name(self.path)


def document_table(
    summarised: pd.DataFrame,
    encodings: Mapping[str, str],
    notes: Mapping[str, str],
    municipalities: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """``documents.<fmt>``: the per-document figures with each input's encoding, reading notes and municipality.

    Args:
        summarised: one row per document (:func:`~samskaping.summaries.summarise_documents`).
        encodings: document -> the encoding a text file was read with (UTF-8, or a legacy one such as cp1252).
        notes: document -> what was read only in part (a page that could not be loaded, an embedded part).
        municipalities: document -> kommunenummer (``--municipalities``); else a number in the file name.

    Returns:
        The table, with ``encoding`` and ``reading_notes`` as third and fourth columns (``""`` where none).
    """
    documents = summarised.copy()
    documents.insert(2, "encoding", documents["document"].map(lambda d: encodings.get(d, "")))
    documents.insert(3, "reading_notes", documents["document"].map(lambda d: notes.get(d, "")))
    return add_municipality_columns(documents, dict(municipalities) if municipalities else None)


def run_summary(
    documents: pd.DataFrame,
    label_sets: Sequence[str],
    sentences: pd.DataFrame,
    failures: Sequence[Failure],
    duplicates: list[dict[str, Any]],
    notes: Mapping[str, str],
    run: Mapping[str, Any],
) -> dict[str, Any]:
    """``summary.json``: the corpus figures, the files read and not read, and what the run records about itself.

    Args:
        documents: the document table (:func:`document_table`).
        label_sets: the model's label sets.
        sentences: the sentence table, or at least its label and flag columns.
        failures: the inputs not read.
        duplicates: groups of documents with the same text (:func:`group_duplicates`).
        notes: document -> its reading notes.
        run: ``model``, ``decision_rules``, ``timing`` (``extraction_seconds``, ``model_seconds``,
            ``new_sentences``) and ``output_format``.

    Returns:
        The summary, keys in the order ``summary.json`` shows them.
    """
    summary = summarise_corpus(documents, label_sets, sentences)
    if (placed := corpus_municipalities(documents)) is not None:
        summary["municipalities"] = placed
    add_file_counts(summary, failures)
    timing = run["timing"]
    model_s = timing["model_seconds"]
    summary.update(
        {
            "model": run["model"],
            "decision_rules": run["decision_rules"],
            "throughput": {
                "sentences_classified_this_run": int(timing["new_sentences"]),
                "extraction_seconds": round(timing["extraction_seconds"], 3),
                "model_seconds": round(model_s, 3),
                "sentences_per_second": round(timing["new_sentences"] / model_s, 2) if model_s > 0 else None,
            },
            "failed_documents": [{"path": f.path, "display_name": f.display, "reason": f.error} for f in failures],
            "duplicate_documents": duplicates,
            "reading_notes": {d: notes[d] for d in documents["document"] if d in notes},
            "output_format": run["output_format"],
        }
    )
    return summary


def duplicate_documents(sentences: pd.DataFrame) -> list[dict[str, Any]]:
    """Groups of documents whose extracted sentences are the same (a plan saved as PDF and as TXT, a copy).

    Two documents are the same when the SHA-256 digests of their sentence texts, in order, agree.
    """
    digests = [
        (str(document), hashlib.sha256("\n".join(texts.astype(str)).encode("utf-8")).hexdigest(), len(texts))
        for document, texts in sentences.groupby("document", sort=False)["text"]
    ]
    return group_duplicates(digests)


def warn_duplicates(groups: Iterable[dict[str, Any]]) -> None:
    """One warning line per group of inputs with the same text."""
    for group in groups:
        log.warning(
            "%s hold the same text (%d sentences each); each is counted as a plan: "
            "keep one copy to count the plan once",
            " and ".join(group["documents"]),
            group["sentences"],
        )


def group_duplicates(digests: Iterable[tuple[str, str, int]]) -> list[dict[str, Any]]:
    """The groups of 2+ documents with the same text.

    Args:
        digests: ``(document, SHA-256 of its sentence texts joined by newlines, sentences)`` in input order.
    """
    by_digest: dict[str, list[str]] = {}
    sizes: dict[str, int] = {}
    for document, digest, size in digests:
        by_digest.setdefault(digest, []).append(document)
        sizes[digest] = size
    return [
        {"documents": names, "digest": digest[:16], "sentences": sizes[digest]}
        for digest, names in by_digest.items()
        if len(names) > 1
    ]


def add_file_counts(summary: dict[str, Any], failures: Sequence[Failure]) -> None:
    """Files given, read and not read (``files``), also in the mention finding: its denominator never shrinks unseen."""
    read = int(summary.get("documents", 0))
    summary["files"] = {"given": read + len(failures), "read": read, "failed": len(failures)}
    if failures:
        summary["mention_finding"] += (
            f" ({read} of {read + len(failures)} files read; {len(failures)} could not be read, listed below)"
        )
