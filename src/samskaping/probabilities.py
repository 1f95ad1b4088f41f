"""The model's probabilities on their way to the decided labels, in one form.

From the model to the decisions they are one thing: label set -> (n, k) array of
calibrated probabilities under the training priors, rows in sentence order (what
:meth:`~samskaping.models.base.Classifier.predict_proba` gives and
:func:`samskaping.decisions.decide` takes). Only where they are stored (the
run's state, for ``--resume``) or shipped between Spark tasks and the MLflow
model are they columns, one ``raw_<set>_p_<label>`` per class:
:func:`probability_columns` and :func:`probabilities_of` are those two conversions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from samskaping.decisions import decide
from samskaping.decisions import table as decision_table
from samskaping.labels import LABEL_SETS
from samskaping.models.base import Classifier

RAW_PREFIX = "raw_"


def raw_columns(label_sets: Sequence[str]) -> list[str]:
    """Names of the columns that keep the model's probabilities under the training priors (state only)."""
    return [f"{RAW_PREFIX}{ls}_p_{label}" for ls in label_sets for label in LABEL_SETS[ls]]


# label set -> (n, k) probabilities, rows in sentence order
Probabilities = dict[str, np.ndarray]


def probability_columns(probs: Mapping[str, np.ndarray], label_sets: Sequence[str]) -> pd.DataFrame:
    """The probabilities as one ``raw_<set>_p_<label>`` column per class (to store or ship them)."""
    return pd.DataFrame(
        {f"{RAW_PREFIX}{ls}_p_{label}": probs[ls][:, j] for ls in label_sets for j, label in enumerate(LABEL_SETS[ls])}
    )


def probabilities_of(frame: pd.DataFrame, label_sets: Sequence[str]) -> Probabilities:
    """The probabilities kept in ``frame``'s ``raw_<set>_p_<label>`` columns (:func:`probability_columns`)."""
    return {ls: frame[[f"{RAW_PREFIX}{ls}_p_{label}" for label in LABEL_SETS[ls]]].to_numpy() for ls in label_sets}


def decide_probabilities(
    model: Classifier, probs: Mapping[str, np.ndarray], priors: Any = None, confidence: float | None = None
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Output columns for the rows of ``probs`` (priors estimated over all of them together) and the priors record."""
    decided = decide(
        model, {ls: np.asarray(probs[ls], dtype=np.float64) for ls in model.label_sets}, priors, confidence
    )
    return decision_table(decided, model.label_sets), {"priors": decided.priors, "confidence": decided.confidence}


def raw_frame(
    model: Classifier, texts: Sequence[str], batch_size: int | None = None, contexts: Sequence[str] | None = None
) -> pd.DataFrame:
    """The model's calibrated probabilities under the training priors as columns (for Spark and the MLflow model)."""
    probs = model.predict_proba(list(texts), batch_size=batch_size, contexts=contexts)
    return probability_columns(probs, model.label_sets)


def decide_frame(
    model: Classifier, raw: pd.DataFrame, priors: Any = None, confidence: float | None = None
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """:func:`decide_probabilities` for probabilities shipped as columns (:func:`raw_frame`)."""
    return decide_probabilities(model, probabilities_of(raw, model.label_sets), priors, confidence)


def classify_frame(
    model: Classifier,
    texts: Sequence[str],
    batch_size: int | None = None,
    contexts: Sequence[str] | None = None,
    priors: Any = None,
) -> pd.DataFrame:
    """Per label set: the label, its probability (``<set>_score``), the prediction set, top-3, each class's probability.

    With ``estimated`` priors the priors are estimated over ``texts`` together.
    """
    probs = model.predict_proba(list(texts), batch_size=batch_size, contexts=contexts)
    return decide_probabilities(model, probs, priors)[0]
