"""Class priors at prediction time: which share of each label the decision rule expects.

A classifier's probabilities carry the class proportions of the data it was
fitted to. A model trained with class weights behaves as if every class were
equally common; a real samfunnsdel is mostly ``none``. The model folder keeps
the training proportions (``training``), and :meth:`Classifier.predict_proba`
gives probabilities under them. This module moves them to other priors:

- ``training``: as trained (the shipped data's label shares);
- ``uniform``: every label equally likely;
- ``estimated``: the priors of the documents being classified, estimated by EM
  on the model's own probabilities (Saerens, Latinne & Decaestecker 2002,
  «Adjusting the outputs of a classifier to new a priori probabilities: a
  simple procedure», Neural Computation 14(1)): alternately re-weight every
  sentence's probabilities by new/old priors and set the new priors to the
  re-weighted probabilities' mean, until the priors change by less than ``tol``.
  Plain (maximum-likelihood) EM runs to the edge of the simplex on a small or
  mixed batch: a label the batch seems to lack gets prior 0 and can then never
  be predicted. So the M-step is the *maximum a posteriori* one under a
  Dirichlet prior centred on the training priors, Dir(1 + s·π_train) (the
  conjugate MAP estimate of a multinomial's shares, e.g. Bishop 2006, *Pattern
  Recognition and Machine Learning*, §2.2.1; used for EM prior adaptation by
  Alexandari, Kundaje & Shrikumar 2020, ICML, §4): the new priors are
  (Σ_i w_ic + s·π_train,c) / (n + s). The strength ``s`` is a number of
  pseudo-sentences (``prediction.prior_strength``), so the training priors
  weigh s/(n + s): a plan of 150 sentences stays near them, a corpus of 20,000
  moves to its own shares, and no label with a training prior above 0 is ever
  set to 0;
- an explicit mapping ``{label_set: {label: share}}``.

The re-weighting is Bayes' rule: p'(c|x) ∝ p(c|x) · π'(c) / π(c).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import numpy as np

from samskaping.errors import ConfigError
from samskaping.labels import LABEL_SETS

log = logging.getLogger(__name__)

NAMED = ("training", "uniform", "estimated")
FLOOR = 1e-9
DEFAULT_STRENGTH = 200.0


def shift(probs: np.ndarray, old: np.ndarray, new: np.ndarray) -> np.ndarray:
    """Bayes' rule for a change of priors; ``probs`` (n, k) under ``old`` -> under ``new``; rows sum to 1."""
    weighted = probs * (np.maximum(new, FLOOR) / np.maximum(old, FLOOR))
    return weighted / np.clip(weighted.sum(axis=1, keepdims=True), FLOOR, None)


def estimate_em(
    probs: np.ndarray, old: np.ndarray, strength: float = 0.0, tol: float = 1e-6, max_iter: int = 10_000
) -> tuple[np.ndarray, int, bool]:
    """Saerens et al. (2002) EM with a MAP M-step: the priors of the sentences in ``probs`` (n, k).

    Args:
        probs: (n, k) probabilities under the training priors ``old`` (k,).
        strength: pseudo-sentences of the Dirichlet prior Dir(1 + strength·old) (see the module
            docstring); 0 gives plain maximum-likelihood EM.

    Returns:
        The estimated priors (k,), the iterations used, and whether it converged. With
        ``strength > 0`` every label whose training prior is above 0 keeps a prior of at least
        strength·old / (n + strength).
    """
    if len(probs) == 0:
        return old.copy(), 0, True
    priors = old.copy()
    n = len(probs)
    for iteration in range(1, max_iter + 1):
        updated = (shift(probs, old, priors).sum(axis=0) + strength * old) / (n + strength)
        if np.abs(updated - priors).max() < tol:
            return updated, iteration, True
        priors = updated
    return priors, max_iter, False


def check_setting(setting: Any, where: str = "prediction.priors") -> Any:
    """Validate a priors setting; a mapping must name known label sets and labels with shares summing to 1.

    Raises:
        ConfigError: an unknown name, label set or label, or shares that are negative or do not sum to 1.
    """
    if isinstance(setting, str):
        if setting not in NAMED:
            raise ConfigError(
                f"{where}: {setting!r} is not a priors setting; allowed: {', '.join(NAMED)} or "
                f"{{label_set: {{label: share}}}}"
            )
        return setting
    if not isinstance(setting, Mapping):
        raise ConfigError(f"{where}: expected one of {', '.join(NAMED)} or a mapping {{label_set: {{label: share}}}}")
    for label_set, shares in setting.items():
        if label_set not in LABEL_SETS or not isinstance(shares, Mapping):
            raise ConfigError(f"{where}: {label_set!r} is not a label set; allowed: {', '.join(LABEL_SETS)}")
        unknown = [label for label in shares if label not in LABEL_SETS[label_set]]
        if unknown:
            raise ConfigError(
                f"{where}.{label_set}: unknown label(s) {unknown}; allowed: {', '.join(LABEL_SETS[label_set])}"
            )
        values = [float(v) for v in shares.values()]
        if min(values) < 0 or abs(sum(values) - 1) > 1e-6:
            raise ConfigError(f"{where}.{label_set}: shares must be >= 0 and sum to 1 (they sum to {sum(values):.4f})")
    return setting


def apply(
    probs: Mapping[str, np.ndarray],
    training: Mapping[str, np.ndarray],
    setting: Any,
    strength: float = DEFAULT_STRENGTH,
) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Move probabilities (under the training priors) to the priors ``setting`` asks for.

    Args:
        probs: per label set, (n, k) probabilities under the training priors.
        training: per label set, the training priors (k,).
        setting: ``training``, ``uniform``, ``estimated`` or ``{label_set: {label: share}}``
            (label sets not named keep their training priors).
        strength: for ``estimated``, the Dirichlet prior's pseudo-sentences (``prediction.prior_strength``).

    Returns:
        The adjusted probabilities and a JSON-ready record of the priors used
        (per label set: label -> share; for ``estimated`` also iterations, convergence, the prior
        strength in pseudo-sentences and the weight s/(n + s) the training priors kept).
    """
    setting = check_setting(setting)
    out: dict[str, np.ndarray] = {}
    record: dict[str, Any] = {"setting": setting if isinstance(setting, str) else "explicit", "label_sets": {}}
    for label_set, matrix in probs.items():
        labels = LABEL_SETS[label_set]
        old = np.asarray(training[label_set], dtype=np.float64)
        entry: dict[str, Any] = {}
        if setting == "training":
            new = old
        elif setting == "uniform":
            new = np.full(len(labels), 1.0 / len(labels))
        elif setting == "estimated":
            new, iterations, converged = estimate_em(matrix, old, strength)
            entry.update(
                {
                    "iterations": iterations,
                    "converged": converged,
                    "sentences": len(matrix),
                    "prior_strength": float(strength),
                    "training_prior_weight": round(float(strength / (len(matrix) + strength)) if strength else 0.0, 4),
                }
            )
            if not converged:
                log.warning(
                    "the estimated %s priors did not settle in %d EM steps (few or very similar sentences); "
                    "they are used as they stand",
                    label_set,
                    iterations,
                )
        else:
            given = setting.get(label_set)
            new = old if given is None else np.array([float(given.get(label, 0.0)) for label in labels])
        out[label_set] = matrix if new is old else shift(matrix, old, new)
        entry["priors"] = {label: round(float(p), 6) for label, p in zip(labels, new, strict=True)}
        record["label_sets"][label_set] = entry
    return out, record
