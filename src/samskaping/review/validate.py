"""``review validate``: the model measured on a blind-coded sample of the user's own corpus, and corrected figures.

Reads coded rows (a workbook from ``review export --strategy validation``, or a
CSV with ``row_id``, ``answer_conception``, ``answer_factor``,
``answer_polarity``), matches them to the sentences of a ``predict.py`` output
folder by ``row_id`` (``document#sentence_index``) and writes:

- ``OUT/validation.json``: the sample, the model's accuracy on it, corpus and
  per-plan shares with corrected estimates and 95 % intervals
  (:mod:`samskaping.validation` says how each is computed), the sentences where
  coders and model disagree, and which figure to cite;
- ``summary.json`` (key ``validation``), ``methods.md`` and, if it is there,
  ``report.html``, updated.

A workbook exported with another strategy is refused: its sentences were chosen
by the model (uncertain ones first), so they are not a random sample of the
corpus and the corrections would be biased. A CSV cannot say how its rows were
drawn; it is taken as a random sample, and the methods card says so.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from samskaping.data import Problem
from samskaping.errors import DataError, SamskapingError
from samskaping.labels import LABEL_SETS, NONE
from samskaping.outputs import OutputFolder, read_output, write_json
from samskaping.review.choices import ANSWER_COLUMNS
from samskaping.review.export import BLIND, SAMPLE_SHEET, row_ids
from samskaping.review.importer import answered_rows

log = logging.getLogger(__name__)

VALIDATION = "validation.json"
MAX_DISAGREEMENTS = 200
CITE_NB = (
    "Siter de korrigerte andelene («estimat») med intervall. Intervallene dekker både at bare et utvalg ble kodet "
    "og modellens feil slik utvalget måler dem; de forutsetter at utvalget er tilfeldig og at koderne merket "
    "etter merkeskjemaet. «k av N planer nevner samskaping» er en ordtelling og trenger ingen korreksjon."
)
CITE_EN = (
    "Cite the corrected shares («estimate») with their intervals. The intervals cover both that only a sample was "
    "coded and the model's errors as the sample measures them; they assume the sample is random and the coders "
    "followed the label scheme. «k of N plans mention samskaping» is a word count and needs no correction."
)


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


def _onehot(labels: pd.Series, label_set: str) -> np.ndarray:
    return np.column_stack([(labels == label).to_numpy() for label in LABEL_SETS[label_set]]).astype(float)


def _probabilities(frame: pd.DataFrame, label_set: str) -> np.ndarray:
    """The model's probabilities (n, k) from the ``<set>_p_<label>`` columns (one-hot labels when absent)."""
    columns = [f"{label_set}_p_{label}" for label in LABEL_SETS[label_set]]
    if all(c in frame.columns for c in columns):
        probs = frame[columns].to_numpy(dtype=float)
        return probs / np.clip(probs.sum(axis=1, keepdims=True), 1e-12, None)
    return _onehot(frame[label_set], label_set)


def validate(output_dir: str | Path, label_files: list[str | Path], seed: int = 0) -> tuple[dict[str, Any], Coded]:
    """Measure the model on the coded rows and correct the folder's figures; write the results.

    Args:
        output_dir: the ``--output`` folder of ``predict.py`` the sample was exported from.
        label_files: one or two coded files (.xlsx from ``review export --strategy validation``, or .csv).
        seed: seed of every bootstrap.

    Returns:
        The content of ``validation.json`` (see the README's «Trusting the figures») and the coded rows.

    Raises:
        DataError: a file is missing, unreadable, exported with another strategy, or has no usable row.
        SamskapingError: the folder is not a readable output folder or has no conception labels.
    """
    from samskaping import validation as stats
    from samskaping.evaluation import evaluate_label_set, macro_f1_interval

    folder = read_output(output_dir)
    label_sets = list(folder.label_sets)
    if "conception" not in label_sets:
        raise SamskapingError(
            f"{output_dir}: the sentences have no conception labels; classify with a model that predicts all label sets"
        )
    paths = [Path(p) for p in label_files]
    if len(paths) > 2:
        raise DataError(f"give one or two coded files (--labels A.xlsx [--labels B.xlsx]), got {len(paths)}")
    coded = read_coded(paths, folder)
    sentences = folder.sentences.reset_index(drop=True)
    sentences["row_id"] = row_ids(sentences)
    position = pd.Series(np.arange(len(sentences)), index=sentences["row_id"])
    sample = sentences.iloc[position[coded.rows["row_id"]].to_numpy()].reset_index(drop=True)
    truth = coded.rows.reset_index(drop=True)

    accuracy: dict[str, Any] = {}
    for ls in label_sets:
        report = evaluate_label_set(ls, truth[ls].tolist(), sample[ls].astype(str).tolist())
        low, high = macro_f1_interval(ls, truth[ls].tolist(), sample[ls].astype(str).tolist(), seed=seed)
        accuracy[ls] = {
            "accuracy": round(report.accuracy, 4),
            "macro_f1": round(report.macro_f1, 4),
            "macro_f1_low": None if np.isnan(low) else round(low, 4),
            "macro_f1_high": None if np.isnan(high) else round(high, 4),
            "per_label": {
                label: {
                    "precision": round(report.precision[label], 4),
                    "recall": round(report.recall[label], 4),
                    "support": report.support[label],
                }
                for label in report.labels
            },
            "confusion": {
                "labels": list(report.labels),
                "rows": "coders",
                "columns": "model",
                "matrix": report.confusion.tolist(),
            },
        }

    def corpus_share(coded_yes: np.ndarray, sample_yes: np.ndarray, all_yes: np.ndarray) -> dict[str, Any]:
        share = stats.ppi_share(coded_yes, sample_yes, all_yes).as_dict()
        only, only_low, only_high = stats.classical_share(coded_yes)
        share["sample_only"] = {"estimate": round(only, 4), "low": round(only_low, 4), "high": round(only_high, 4)}
        return share

    corpus: dict[str, Any] = {
        "cocreation_share": corpus_share(
            (truth["conception"] != NONE).to_numpy(),
            (sample["conception"] != NONE).to_numpy(),
            (sentences["conception"] != NONE).to_numpy(),
        )
    }
    for ls in label_sets:
        corpus[ls] = {
            label: corpus_share(
                (truth[ls] == label).to_numpy(), (sample[ls] == label).to_numpy(), (sentences[ls] == label).to_numpy()
            )
            for label in LABEL_SETS[ls]
        }
    if "polarity" in label_sets:
        corpus["factor_polarity"] = {
            f"{factor}_{polarity}": corpus_share(
                ((truth["factor"] == factor) & (truth["polarity"] == polarity)).to_numpy(),
                ((sample["factor"] == factor) & (sample["polarity"] == polarity)).to_numpy(),
                ((sentences["factor"] == factor) & (sentences["polarity"] == polarity)).to_numpy(),
            )
            for factor in LABEL_SETS["factor"]
            if factor != NONE
            for polarity in ("promoting", "hindering")
        }

    groups = sentences.groupby("document", sort=False).indices
    documents = list(groups)
    conception_probs = _probabilities(sentences, "conception")
    none_column = LABEL_SETS["conception"].index(NONE)
    yes_prob = 1.0 - conception_probs[:, none_column]
    yes_hard = (sentences["conception"] != NONE).to_numpy().astype(int)
    sample_rows = position[coded.rows["row_id"]].to_numpy()
    binary = stats.binary_plan_shares(
        (truth["conception"] != NONE).to_numpy().astype(int),
        yes_hard[sample_rows],
        yes_prob[sample_rows],
        [yes_hard[groups[d]] for d in documents],
        [yes_prob[groups[d]] for d in documents],
        seed=seed,
    )
    true_index = truth["conception"].map({label: i for i, label in enumerate(LABEL_SETS["conception"])}).to_numpy()
    multi = stats.plan_shares(
        true_index, conception_probs[sample_rows], [conception_probs[groups[d]] for d in documents], seed=seed
    )
    unseen = [label for label, seen in zip(LABEL_SETS["conception"], multi["seen"], strict=True) if not seen]
    per_document: dict[str, Any] = {}
    for i, document in enumerate(documents):
        index = groups[document]
        entry = {
            "sentences": len(index),
            "cocreation_share": stats.Share(
                float(binary["raw"][i]),
                None if binary["estimate"] is None else float(binary["estimate"][i]),
                None if binary["low"] is None else float(binary["low"][i]),
                None if binary["high"] is None else float(binary["high"][i]),
                binary["note"],
            ).as_dict(),
        }
        raw_labels = sentences["conception"].to_numpy()[index]
        entry["conception"] = {
            label: stats.Share(
                float(np.mean(raw_labels == label)),
                float(multi["estimate"][i, j]),
                float(multi["low"][i, j]),
                float(multi["high"][i, j]),
            ).as_dict()
            for j, label in enumerate(LABEL_SETS["conception"])
        }
        per_document[document] = entry

    disagreements = []
    for i in range(len(truth)):
        differs = [ls for ls in label_sets if str(truth.at[i, ls]) != str(sample.at[i, ls])]
        if differs:
            disagreements.append(
                {
                    "row_id": truth.at[i, "row_id"],
                    "document": str(sample.at[i, "document"]),
                    "text": sample.at[i, "text"],
                    "coders": {ls: truth.at[i, ls] for ls in label_sets},
                    "model": {ls: str(sample.at[i, ls]) for ls in label_sets},
                    "differs": differs,
                }
            )
    summary = folder.summary
    result: dict[str, Any] = {
        "created": datetime.now().isoformat(timespec="seconds"),
        "output_folder": folder.path.name,
        "model": {k: (summary.get("model") or {}).get(k) for k in ("kind", "name", "trained_at")},
        "sentences_digest": hashlib.sha256(
            "\n".join(sentences["row_id"] + "\t" + sentences["conception"].astype(str)).encode()
        ).hexdigest()[:16],
        "sample": {
            "sentences": len(truth),
            "documents": int(sample["document"].nunique()),
            "corpus_sentences": len(sentences),
            "corpus_documents": len(documents),
            "files": coded.files,
            "design": coded.design,
            "not_coded": coded.not_coded,
            "refused": len(coded.problems),
            "coder_agreement": coded.agreement,
        },
        "accuracy": accuracy,
        "corpus": corpus,
        "documents_with_cocreation_sentences": binary["plans"]
        or {
            "raw": int(sum(yes_hard[groups[d]].sum() > 0 for d in documents)),
            "estimate": None,
            "low": None,
            "high": None,
            "note": binary["note"],
        },
        "documents_mentioning_cocreation": {
            "documents": summary.get("documents_mentioning_cocreation"),
            "of": summary.get("documents"),
            "note": "an exact word count; no correction",
        },
        "documents": per_document,
        "disagreements": disagreements[:MAX_DISAGREEMENTS],
        "disagreements_total": len(disagreements),
        "method": {
            "corpus": (
                "prediction-powered inference with power tuning (Angelopoulos et al. 2023, Science 382; PPI++), "
                "ppi-python; the coded sample taken as a simple random sample"
            ),
            "documents": (
                "probabilistic adjusted classify-and-count (PACC; Forman 2008; Bella et al. 2010) with the rates "
                "measured on the sample; 95 % percentile bootstrap over the sample and the plan's sentences together "
                f"({stats.RESAMPLES} resamples, seed {seed})"
            ),
            "documents_with_cocreation_sentences": (
                "per plan, P(at least one true co-creation sentence) from its corrected share and the "
                "measured hit and false-alarm rates (Bayes' rule), summed; same bootstrap"
            ),
            "accuracy": "macro-F1 over the labels present; 95 % percentile bootstrap over the coded sentences",
            "conception_labels_not_in_sample": unseen,
            "confidence_level": stats.CONFIDENCE,
        },
        "cite": {"nb": CITE_NB, "en": CITE_EN},
    }
    _write(folder, result)
    return result, coded


def _write(folder: OutputFolder, result: dict[str, Any]) -> None:
    """validation.json, then summary.json's ``validation`` entry, methods.md and report.html (if present)."""
    from samskaping import outputs
    from samskaping.methods import methods_markdown

    write_json(result, folder.path / VALIDATION)
    summary = dict(folder.summary)
    summary["validation"] = {
        "file": VALIDATION,
        "sample_sentences": result["sample"]["sentences"],
        "design": result["sample"]["design"],
        "macro_f1": {ls: entry["macro_f1"] for ls, entry in result["accuracy"].items()},
        "cocreation_share": {
            k: result["corpus"]["cocreation_share"].get(k) for k in ("raw", "estimate", "low", "high")
        },
        "documents_with_cocreation_sentences": result["documents_with_cocreation_sentences"],
        "sentences_digest": result["sentences_digest"],
    }
    write_json(summary, folder.path / outputs.SUMMARY)
    outputs.write_text(methods_markdown(summary), folder.path / outputs.METHODS)
    if (folder.path / outputs.REPORT).is_file():
        from samskaping.report import write_report

        write_report(folder.path)
