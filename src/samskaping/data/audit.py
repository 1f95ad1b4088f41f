"""Find likely label errors in a labelled file (confident learning, via cleanlab).

Out-of-fold class probabilities come from the baseline's features (TF-IDF word
and character n-grams) and a class-weighted logistic regression per label set,
in stratified k-fold cross-validation: every sentence is scored by a model that
never saw it. ``cleanlab.filter.find_label_issues`` (Northcutt, Jiang & Chuang
2021, «Confident learning: estimating uncertainty in dataset labels», JAIR 70)
then flags the rows whose given label the out-of-fold probabilities contradict,
ranked by self-confidence. The suspects go to a review table (XLSX) with the
given and the suggested label; a person decides each one against the label
scheme, and accepted changes go to ``data/audit/corrections.jsonl``.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from samskaping.labels import LABEL_SETS
from samskaping.models.baseline import BaselineConfig

log = logging.getLogger(__name__)

REVIEW_COLUMNS = [
    "id",
    "label_set",
    "text",
    "context",
    "given",
    "suggested",
    "p_given",
    "p_suggested",
    "rank",
    "conception",
    "factor",
    "polarity",
    "form",
    "language",
    "split",
    "note",
    "decision",
    "reason",
]


@dataclass(frozen=True)
class AuditResult:
    """The suspects of an audit and how long it took."""

    suspects: pd.DataFrame
    rows: int
    seconds: float
    per_label_set: dict[str, int]


def out_of_fold_probabilities(
    frame: pd.DataFrame, folds: int = 5, seed: int = 42, params: BaselineConfig | None = None
) -> dict[str, np.ndarray]:
    """Out-of-fold probabilities per label set, shape (n, n_labels) in label-scheme order.

    Folds are stratified on conception and factor together; the vectorizers are
    fitted on each training fold only.
    """
    from scipy import sparse
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold

    from samskaping.models.baseline import build_vectorizers

    params = params or BaselineConfig()
    texts = frame["text"].tolist()
    strata = (frame["conception"] + "|" + frame["factor"]).to_numpy()
    counts = pd.Series(strata).value_counts()
    strata = np.where(pd.Series(strata).map(counts) >= folds, strata, frame["conception"].to_numpy())
    out = {ls: np.zeros((len(frame), len(LABEL_SETS[ls]))) for ls in LABEL_SETS}
    for fold, (train, test) in enumerate(
        StratifiedKFold(folds, shuffle=True, random_state=seed).split(texts, strata), 1
    ):
        vectorizers = build_vectorizers(params, use_context=False)
        train_x = sparse.hstack(
            [v.fit_transform([texts[i] for i in train]) for v in vectorizers.values()], format="csr"
        )
        test_x = sparse.hstack([v.transform([texts[i] for i in test]) for v in vectorizers.values()], format="csr")
        for ls, labels in LABEL_SETS.items():
            model = LogisticRegression(C=params.C, max_iter=params.max_iter, class_weight="balanced", random_state=seed)
            model.fit(train_x, frame[ls].to_numpy()[train])
            probs = model.predict_proba(test_x)
            for column, label in enumerate(model.classes_):
                out[ls][test, labels.index(label)] = probs[:, column]
        log.info("audit: fold %d/%d done", fold, folds)
    return out


def find_suspects(frame: pd.DataFrame, folds: int = 5, seed: int = 42) -> AuditResult:
    """Rows whose label cleanlab finds likely wrong, one row per (sentence, label set), most suspicious first."""
    from cleanlab.filter import find_label_issues

    started = time.perf_counter()
    probs = out_of_fold_probabilities(frame, folds, seed)
    parts, per_set = [], {}
    for ls, labels in LABEL_SETS.items():
        given = np.array([labels.index(v) for v in frame[ls]])
        ranked = find_label_issues(given, probs[ls], return_indices_ranked_by="self_confidence")
        per_set[ls] = len(ranked)
        if not len(ranked):
            continue
        rows = frame.iloc[ranked].copy()
        suggested = probs[ls][ranked].argmax(axis=1)
        rows["label_set"] = ls
        rows["given"] = rows[ls]
        rows["suggested"] = [labels[i] for i in suggested]
        rows["p_given"] = probs[ls][ranked, given[ranked]].round(3)
        rows["p_suggested"] = probs[ls][ranked, suggested].round(3)
        rows["rank"] = np.arange(1, len(ranked) + 1)
        parts.append(rows)
    suspects = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=REVIEW_COLUMNS)
    for column in REVIEW_COLUMNS:
        if column not in suspects.columns:
            suspects[column] = ""
    return AuditResult(suspects[REVIEW_COLUMNS], len(frame), time.perf_counter() - started, per_set)


def audit(path: str | Path, output: str | Path, folds: int = 5, seed: int = 42) -> AuditResult:
    """Audit a labelled file and write the review table ``output`` (XLSX).

    Raises:
        DataError: the file cannot be read or has invalid rows.
    """
    from samskaping.data.labelled import load_labelled
    from samskaping.outputs import write_table

    data = load_labelled(Path(path))
    result = find_suspects(data.frame, folds, seed)
    target = Path(output)
    target.parent.mkdir(parents=True, exist_ok=True)
    write_table(result.suspects, target, "xlsx")
    return result
