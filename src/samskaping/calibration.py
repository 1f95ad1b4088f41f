"""Calibrated probabilities and prediction sets with a coverage guarantee.

**Bias-corrected temperature scaling** (BCTS; Alexandari, Kundaje & Shrikumar
2020, «Maximum likelihood with bias-corrected calibration is hard-to-beat at
label shift adaptation», ICML), the temperature scaling of Guo, Pleiss, Sun &
Weinberger (2017) with one bias per label: per label set,
p(c|x) = softmax(z/T + b)_c, with T and b minimising the negative
log-likelihood of the validation split (``scipy.optimize.minimize``). The
temperature says how sure the model may be; the biases move a class-weighted
model's probabilities to the label shares of the data (the validation split is
drawn like the training data), which is what the EM prior estimation of
:mod:`samskaping.priors` needs to start from (Alexandari et al. show that the
pair beats other label-shift methods). Own code (a few lines over SciPy)
rather than a calibration package: the method is one small likelihood fit.

**Expected calibration error** (ECE; Guo et al. 2017; Naeini et al. 2015): the
top-label confidence in 15 equal-width bins, the mean |accuracy - confidence|
weighted by the share of sentences in each bin. The Brier score is
scikit-learn's multiclass ``brier_score_loss``.

**Class-conditional split conformal prediction** (Vovk, Gammerman & Shafer
2005; «Mondrian» conformal prediction with the candidate label as the
category), with crepes' ``ConformalClassifier``: the nonconformity of label c
for a sentence is 1 - p(c|x); calibrated on the validation split, a label is in
a sentence's set when its p-value exceeds 1 - confidence. For every true
label, at least ``confidence`` of the sentences with that label get a set
containing it (on data like the calibration data; under a shift of the label
shares the per-label guarantee still holds). When the priors are moved at
prediction time (:mod:`samskaping.priors`), the calibration sentences' probabilities
are moved with the same Bayes' rule before their scores are taken
(:meth:`ConformalSets.shifted`), so a set is always computed from the very
probabilities the outputs show: a label shown at 1.00 is not beside another one
in a set built from other numbers. A sentence is «usikker» (uncertain) unless its
set is exactly the label it is given (:func:`samskaping.decisions.table`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

ECE_BINS = 15


def fit_bcts(logits: np.ndarray, labels: Sequence[int], start: np.ndarray | None = None) -> tuple[float, np.ndarray]:
    """Temperature T > 0 and biases b minimising the validation NLL of ``softmax(logits / T + b)`` (BCTS).

    Args:
        logits: (n, k) validation logits.
        labels: (n,) true class indices.
        start: (k,) initial biases (e.g. the log ratio of training to embodied priors).

    Returns:
        T and b (k,); b is 0 for labels absent from ``labels`` (nothing to fit them on) and centred
        on the present ones (softmax ignores a common shift).
    """
    from scipy.optimize import minimize
    from scipy.special import log_softmax

    y = np.asarray(labels, dtype=np.int64)
    z = np.asarray(logits, dtype=np.float64)
    k = z.shape[1]
    b0 = np.zeros(k) if start is None else np.asarray(start, dtype=np.float64)
    if len(y) == 0:
        return 1.0, b0
    present = np.isin(np.arange(k), y)
    rows = np.arange(len(y))

    def nll(params: np.ndarray) -> float:
        b = b0.copy()
        b[present] = params[1:]
        return float(-log_softmax(z / np.exp(params[0]) + b, axis=1)[rows, y].mean())

    found = minimize(
        nll,
        np.concatenate([[0.0], b0[present]]),
        method="L-BFGS-B",
        bounds=[(np.log(0.05), np.log(20.0))] + [(-20.0, 20.0)] * int(present.sum()),
    )
    bias = b0.copy()
    bias[present] = found.x[1:] - found.x[1:].mean()
    return float(np.exp(found.x[0])), bias


def expected_calibration_error(probs: np.ndarray, labels: Sequence[int], bins: int = ECE_BINS) -> float:
    """Top-label ECE in ``bins`` equal-width confidence bins; 0 is perfectly calibrated."""
    y = np.asarray(labels, dtype=np.int64)
    if len(y) == 0:
        return 0.0
    confidence = probs.max(axis=1)
    correct = probs.argmax(axis=1) == y
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, bins - 1)
    ece = 0.0
    for b in range(bins):
        members = which == b
        if members.any():
            ece += members.mean() * abs(correct[members].mean() - confidence[members].mean())
    return float(ece)


def brier(probs: np.ndarray, labels: Sequence[int]) -> float:
    """Multiclass Brier score (scikit-learn), mean over sentences."""
    from sklearn.metrics import brier_score_loss

    k = probs.shape[1]
    return float(brier_score_loss(np.asarray(labels), probs, labels=list(range(k))))


def reliability_figure(curves: dict[str, tuple[np.ndarray, np.ndarray]], title: str, bins: int = ECE_BINS) -> Any:
    """A reliability diagram per label set: accuracy against confidence, before and after calibration.

    Args:
        curves: ``{"before": (probs, labels), "after": (probs, labels)}``.
    """
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    fig = Figure(figsize=(4.2, 4.2))
    ax = fig.add_subplot()
    ax.plot([0, 1], [0, 1], color="#999999", linestyle="--", linewidth=1, label="perfect")
    edges = np.linspace(0.0, 1.0, bins + 1)
    for name, (probs, labels) in curves.items():
        confidence = probs.max(axis=1)
        correct = probs.argmax(axis=1) == np.asarray(labels)
        which = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, bins - 1)
        xs, ys = [], []
        for b in range(bins):
            members = which == b
            if members.sum() >= 3:
                xs.append(confidence[members].mean())
                ys.append(correct[members].mean())
        ece = expected_calibration_error(probs, labels, bins)
        ax.plot(xs, ys, marker="o", label=f"{name} (ECE {ece:.3f})")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("confidence (top label)")
    ax.set_ylabel("accuracy")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    return fig


class ConformalSets:
    """Class-conditional split conformal prediction sets over one label set (crepes underneath).

    Args:
        alphas: (m,) nonconformity scores 1 - p(true label) of the calibration sentences.
        labels: (m,) their true class indices (the Mondrian categories).
        n_classes: the number of labels in the label set.
        probs: (m, k) the calibration sentences' probabilities (under the training priors), kept so
            that the scores can be taken again under other priors (:meth:`shifted`); ``None`` for a
            model saved before they were kept.
    """

    def __init__(self, alphas: np.ndarray, labels: np.ndarray, n_classes: int, probs: np.ndarray | None = None) -> None:
        from crepes import ConformalClassifier

        self.alphas = np.asarray(alphas, dtype=np.float64)
        self.labels = np.asarray(labels, dtype=np.int64)
        self.n_classes = n_classes
        self.probs = None if probs is None else np.asarray(probs, dtype=np.float64)
        self._cc = ConformalClassifier().fit(self.alphas, bins=self.labels)

    @classmethod
    def calibrate(cls, probs: np.ndarray, labels: Sequence[int]) -> ConformalSets:
        """Calibrate on (m, k) probabilities and the true class indices."""
        y = np.asarray(labels, dtype=np.int64)
        return cls(1.0 - probs[np.arange(len(y)), y], y, probs.shape[1], probs)

    def shifted(self, old: np.ndarray, new: np.ndarray) -> ConformalSets:
        """The same calibration sentences scored with their probabilities moved from priors ``old`` to ``new``.

        Under a change of label shares the sentences of each label look as before, so the
        class-conditional guarantee holds for the moved scores too; what changes is that the
        scores are those of the probabilities the outputs show.

        Raises:
            ValueError: the calibration probabilities were not kept (a model saved by an older samskaping).
        """
        if self.probs is None:
            raise ValueError("this calibration has no probabilities to move (retrain the model)")
        from samskaping.priors import shift

        moved = shift(self.probs, np.asarray(old, dtype=np.float64), np.asarray(new, dtype=np.float64))
        return ConformalSets(1.0 - moved[np.arange(len(self.labels)), self.labels], self.labels, self.n_classes, moved)

    def p_values(self, probs: np.ndarray) -> np.ndarray:
        """(n, k) p-values: for column c, against the calibration sentences whose true label is c."""
        alphas = 1.0 - np.asarray(probs, dtype=np.float64)
        out = np.zeros_like(alphas)
        present = set(self.labels.tolist())
        for c in range(self.n_classes):
            if c not in present:
                continue  # a label never seen in calibration is never in a set
            column = self._cc.predict_p(alphas, bins=np.full(len(alphas), c), smoothing=False)
            out[:, c] = column[:, c]
        return out

    def sets(self, probs: np.ndarray, confidence: float) -> np.ndarray:
        """(n, k) booleans: label c is in the sentence's set at ``confidence`` (e.g. 0.9)."""
        return self.p_values(probs) > (1.0 - confidence)
