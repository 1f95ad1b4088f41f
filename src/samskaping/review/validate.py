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
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from samskaping.errors import DataError, SamskapingError
from samskaping.labels import LABEL_SETS, NONE
from samskaping.outputs import OutputFolder, read_output, write_json
from samskaping.review.coded import Coded, read_coded
from samskaping.review.export import row_ids

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
        The content of ``validation.json`` (see docs/user-guide/trusting-the-figures.md) and the coded rows.

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
