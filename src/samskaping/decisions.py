"""From calibrated probabilities to what the outputs say: priors, labels, prediction sets, top-3.

One function, :func:`decide`, is used wherever labels are produced (the test
split at training time, ``predict.py``, Spark, the MLflow model), so they
always agree:

1. the probabilities (under the training priors) are moved to the priors the
   setting asks for (:mod:`samskaping.priors`; ``estimated`` is estimated on
   the sentences passed in together);
2. the label is the most probable one; polarity is ``none`` exactly when
   factor is ``none`` (:func:`~samskaping.models.base.decode_predictions`);
3. the conformal prediction set of every label set is computed from the
   same probabilities the outputs show (after the priors), against the
   calibration sentences' scores moved to the same priors
   (:meth:`~samskaping.calibration.ConformalSets.shifted`); a sentence is
   «usikker» (uncertain) in a label set unless its set is exactly the label it
   is given, so a sure label, its set and its probability never disagree
   (a model saved before the calibration kept its probabilities falls back to
   sets under the training priors, with the same rule for «usikker»); the
   polarity set holds ``none`` whenever the factor set does (polarity is
   ``none`` exactly when factor is), which keeps its coverage where the polarity
   head alone would leave out a ``none`` that the factor decision gives;
4. the three most probable labels with their probabilities.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from samskaping import priors as prior_rules
from samskaping.labels import LABEL_SETS, NONE
from samskaping.models.base import Classifier, decode_predictions

TOP_K = 3


@dataclass
class Decisions:
    """Labels and everything said about them, per label set."""

    probs: dict[str, np.ndarray]
    labels: dict[str, list[str]]
    scores: dict[str, np.ndarray]
    sets: dict[str, np.ndarray] = field(default_factory=dict)
    priors: dict[str, Any] = field(default_factory=dict)
    confidence: float | None = None


def decide(
    model: Classifier, probs: dict[str, np.ndarray], setting: Any = None, confidence: float | None = None
) -> Decisions:
    """Apply the priors ``setting`` (default: the model's ``prediction.priors``) and decode.

    Args:
        model: the classifier whose training priors and conformal calibration apply.
        probs: per label set, (n, k) calibrated probabilities under the training priors
            (:meth:`~samskaping.models.base.Classifier.predict_proba`).
        setting: see :func:`samskaping.priors.apply`.
        confidence: coverage of the prediction sets (default: the model's ``prediction.confidence``).
    """
    setting = model.cfg.prediction.priors if setting is None else setting
    confidence = model.cfg.prediction.confidence if confidence is None else confidence
    adjusted, record = prior_rules.apply(probs, model.training_priors, setting, model.cfg.prediction.prior_strength)
    labels, scores = decode_predictions(adjusted)
    sets = {
        ls: _prediction_sets(model, ls, probs[ls], adjusted[ls], record, confidence)
        for ls in probs
        if ls in model.conformal
    }
    if "factor" in sets and "polarity" in sets:
        # polarity is none exactly when factor is none (the label scheme; decode_predictions applies it to the labels):
        # a factor set that holds none admits polarity none too, so the polarity set covers what the labels can say
        sets["polarity"][:, LABEL_SETS["polarity"].index(NONE)] |= sets["factor"][:, LABEL_SETS["factor"].index(NONE)]
    return Decisions(adjusted, labels, scores, sets, record, confidence if sets else None)


def _prediction_sets(
    model: Classifier, label_set: str, raw: np.ndarray, adjusted: np.ndarray, record: dict[str, Any], confidence: float
) -> np.ndarray:
    """The conformal sets of one label set, from the probabilities the outputs show (see the module docstring)."""
    conformal = model.conformal[label_set]
    if conformal.probs is None:  # saved by an older samskaping: only the scores under the training priors are known
        return conformal.sets(raw, confidence)
    shares = record["label_sets"][label_set]["priors"]
    new = np.array([shares[label] for label in LABEL_SETS[label_set]], dtype=np.float64)
    return conformal.shifted(model.training_priors[label_set], new).sets(adjusted, confidence)


def table(decisions: Decisions, label_sets: tuple[str, ...] | list[str]) -> pd.DataFrame:
    """The output columns: per label set the label, ``_score``, ``_set``, ``_uncertain``, ``_top3``, ``_p_<label>``."""
    columns: dict[str, Any] = {}
    for ls in label_sets:
        names = LABEL_SETS[ls]
        probs = decisions.probs[ls]
        columns[ls] = decisions.labels[ls]
        columns[f"{ls}_score"] = np.round(decisions.scores[ls], 4)
        if ls in decisions.sets:
            members = decisions.sets[ls]
            columns[f"{ls}_set"] = [
                "|".join(n for n, inside in zip(names, row, strict=True) if inside) for row in members
            ]
            given = np.array([names.index(label) for label in decisions.labels[ls]], dtype=np.int64)
            only_the_label = (members.sum(axis=1) == 1) & members[np.arange(len(given)), given]
            columns[f"{ls}_uncertain"] = ~only_the_label  # sure: the set is exactly the label shown
        order = np.argsort(-probs, axis=1, kind="stable")[:, :TOP_K]
        columns[f"{ls}_top3"] = ["; ".join(f"{names[j]} {probs[i, j]:.2f}" for j in row) for i, row in enumerate(order)]
        for j, label in enumerate(names):
            columns[f"{ls}_p_{label}"] = np.round(probs[:, j], 4)
    return pd.DataFrame(columns)
