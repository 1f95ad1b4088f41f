"""Figures corrected for the model's errors, measured on a blind-coded random sample of the corpus.

The shares that ``predict.py`` reports are counts of the model's labels: they are
only as good as the classifier on *that* corpus. People code a random sample of
the corpus blind (``python -m samskaping.review export OUT --strategy validation``),
and the functions here turn the coded sample into figures a researcher can cite:

- **corpus shares** by prediction-powered inference (Angelopoulos, Bates,
  Fannjiang, Jordan & Zrnic 2023, «Prediction-powered inference», *Science*
  382(6671); with the power tuning of PPI++, Angelopoulos, Duchi & Zrnic 2023,
  arXiv:2311.01453), computed with ``ppi-python``: the model's share over every
  sentence, corrected by the mean error the sample measures. Its interval is
  valid whatever the model's accuracy and, with power tuning, never wider (to
  first order) than the interval from the coded sample alone. It is the
  difference estimator of survey sampling; the sample is taken as a simple
  random sample (the export's proportional allocation over plans makes every
  sentence equally likely to be drawn, and ignoring the stratification's gain
  keeps the interval conservative).
- **per-plan shares** by adjusted classify-and-count (ACC; Forman 2008,
  «Quantifying counts and costs via classification», *Data Mining and
  Knowledge Discovery* 17(2)): the rates P(predicted i | true j) measured on the
  sample are inverted for each plan's predicted shares, under the prior-shift
  assumption that a sentence of a given true label is read the same way in
  every plan. Negative solutions are clipped to 0 and the shares renormalised
  (Forman's «clip and rescale»). The interval is a percentile bootstrap over
  both sources of error at once: the validation sample is resampled (the
  rates) and the plan's sentences are resampled (its predicted shares).
- **plans with co-creation sentences**: for each plan, the probability that at
  least one of its sentences truly is co-creation, from its corrected share
  and the measured rates by Bayes' rule, summed over plans; the same bootstrap
  gives its interval.

All intervals are 95 %; all bootstraps are seeded (``seed``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

CONFIDENCE = 0.95
RESAMPLES = 1000
Z95 = 1.959963984540054
MIN_SEPARATION = 0.05  # tpr - fpr below this: the model does not separate the labels on the sample; no correction


def suggest_sample_size(share: float, margin: float, population: int) -> int:
    """Sentences to code for a 95 % interval of half-width ``margin`` on a corpus share near ``share``.

    The classical sample size for a proportion, n0 = z² p(1 - p) / m², with the finite-population
    correction n0 / (1 + (n0 - 1) / N) (Cochran 1977, *Sampling Techniques*, §4.4). The planning value
    ``share`` is the model's raw share, taken as at least 0.1 (a model that misses co-creation would
    otherwise ask for too few). The prediction-powered interval is usually narrower than this.

    Args:
        share: the planning value of the share, 0-1.
        margin: the wanted half-width, 0-1 (0.05 = ±5 points).
        population: sentences in the corpus.

    Returns:
        The number of sentences, at least 1 and at most ``population``.

    Raises:
        ValueError: ``margin`` not in (0, 0.5].
    """
    if not 0 < margin <= 0.5:
        raise ValueError(f"--margin must be above 0 and at most 0.5 (a share of 1), got {margin}")
    p = min(max(share, 0.1), 0.5)
    n0 = Z95**2 * p * (1 - p) / margin**2
    n = n0 / (1 + (n0 - 1) / max(population, 1))
    return int(max(1, min(population, np.ceil(n))))


def allocate(sizes: Sequence[int], n: int, rng: np.random.Generator) -> np.ndarray:
    """Proportional allocation of ``n`` draws over strata of ``sizes`` with every unit equally likely to be drawn.

    Each stratum gets floor(n·N_d/N) draws, and the fractional remainders are given out by systematic
    sampling with a random start (Madow 1949), so stratum d gets one more draw with probability equal
    to its remainder: a unit's inclusion probability is exactly n/N.

    Returns:
        (D,) draws per stratum, summing to ``n`` (``n`` is cut to the total size).
    """
    sizes = np.asarray(sizes, dtype=np.int64)
    total = int(sizes.sum())
    n = min(n, total)
    if total == 0 or n == 0:
        return np.zeros(len(sizes), dtype=np.int64)
    exact = n * sizes / total
    base = np.floor(exact).astype(np.int64)
    remainder = exact - base
    extra = round(remainder.sum())
    if extra:
        points = rng.random() + np.arange(extra)
        edges = np.concatenate([[0.0], np.cumsum(remainder)])
        hit = np.searchsorted(edges, points, side="right") - 1
        np.add.at(base, np.clip(hit, 0, len(sizes) - 1), 1)
    return np.minimum(base, sizes)


@dataclass(frozen=True)
class Share:
    """A share with its raw (model) value, corrected estimate and 95 % interval, all 0-1."""

    raw: float
    estimate: float | None
    low: float | None
    high: float | None
    note: str = ""

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            k: (None if v is None else round(float(v), 4))
            for k, v in (("raw", self.raw), ("estimate", self.estimate), ("low", self.low), ("high", self.high))
        }
        if self.note:
            out["note"] = self.note
        return out


def ppi_share(coded: np.ndarray, predicted_on_sample: np.ndarray, predicted_all: np.ndarray) -> Share:
    """Prediction-powered estimate and 95 % interval of a corpus share (``ppi-python``, PPI++ power tuning).

    Args:
        coded: (n,) 0/1, the coders' answer for the sampled sentences.
        predicted_on_sample: (n,) 0/1, the model's label for the same sentences.
        predicted_all: (N,) 0/1, the model's label for every sentence of the corpus.

    Returns:
        The raw share (mean of ``predicted_all``), the estimate and interval, clipped to 0-1.
    """
    from ppi_py import ppi_mean_ci, ppi_mean_pointestimate

    y, yhat, unlabeled = (np.asarray(a, dtype=float) for a in (coded, predicted_on_sample, predicted_all))
    raw = float(unlabeled.mean()) if len(unlabeled) else 0.0
    if len(y) < 2:
        return Share(raw, None, None, None, "fewer than two coded sentences")
    clip = lambda v: float(np.clip(np.asarray(v, dtype=float).ravel()[0], 0.0, 1.0))  # noqa: E731
    if y.min() == y.max():
        # every coded sentence has the label, or none has: normal-approximation intervals collapse to a point,
        # so the interval is the exact (Clopper-Pearson) one of the coded sample alone, widened to hold the estimate
        from scipy.stats import binomtest

        estimate = clip(ppi_mean_pointestimate(y, yhat, unlabeled, lam=1.0))
        exact = binomtest(int(y.sum()), len(y)).proportion_ci(confidence_level=CONFIDENCE, method="exact")
        seen = "every" if y[0] == 1 else "no"
        return Share(
            raw,
            estimate,
            min(float(exact.low), estimate),
            max(float(exact.high), estimate),
            f"{seen} coded sentence has this label: exact interval of the coded sample alone",
        )
    with np.errstate(divide="ignore", invalid="ignore"):  # an undefined power tuning is caught just below
        low, high = ppi_mean_ci(y, yhat, unlabeled, alpha=1 - CONFIDENCE)
        estimate = ppi_mean_pointestimate(y, yhat, unlabeled)
    note = ""
    if not np.isfinite([np.ravel(low)[0], np.ravel(high)[0], np.ravel(estimate)[0]]).all():
        # power tuning needs the model's label to vary; when it gives the label to no sentence (or to every one)
        # in the sample or the corpus, plain PPI (lambda = 1) is used
        low, high = ppi_mean_ci(y, yhat, unlabeled, alpha=1 - CONFIDENCE, lam=1.0)
        estimate = ppi_mean_pointestimate(y, yhat, unlabeled, lam=1.0)
        note = "the model gives this label to no sentence or to all: prediction-powered inference without power tuning"
    return Share(raw, clip(estimate), clip(low), clip(high), note)


def classical_share(coded: np.ndarray) -> tuple[float, float, float]:
    """The coded sample alone: its share and the 95 % Wald interval (the reference PPI is compared with)."""
    y = np.asarray(coded, dtype=float)
    mean = float(y.mean())
    half = Z95 * float(y.std(ddof=1)) / np.sqrt(len(y)) if len(y) > 1 else float("nan")
    return mean, max(0.0, mean - half), min(1.0, mean + half)


def rates(
    true: np.ndarray, predicted: np.ndarray, k: int, weights: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """M[i, j] = mean predicted probability of label i over the sample's sentences of true label j, (k, k).

    With one-hot ``predicted`` this is the column-normalised confusion matrix P(predicted i | true j)
    of ACC; with calibrated probabilities it is the rate matrix of probabilistic ACC (PACC; Bella,
    Ferri, Hernández-Orallo & Ramírez-Quintana 2010, «Quantification via probability estimators»,
    IEEE ICDM). A true label absent from the sample has no measured column; it is taken as read
    correctly (identity column) and reported as such by the caller.

    Args:
        true: (n,) true label indices. predicted: (n, k) probabilities or one-hot rows.
        weights: (n,) resampling counts (a bootstrap draw), or None for 1 each.

    Returns:
        The rate matrix (k, k) and which true labels were seen (k,).
    """
    w = np.ones(len(true)) if weights is None else np.asarray(weights, dtype=float)
    sums = np.zeros((k, k))
    np.add.at(sums.T, true, predicted * w[:, None])  # sums[:, j] += w_i * predicted_i for true_i == j
    seen_count = np.bincount(true, weights=w, minlength=k)
    seen = seen_count > 0
    m = np.divide(sums, seen_count[None, :], out=np.eye(k), where=seen[None, :])
    return m, seen


def acc_solve(m: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Adjusted classify-and-count: the true shares p with M p = q, clipped to >= 0 and renormalised (Forman 2008).

    Args:
        m: (..., k, k) rates (see :func:`rates`).
        q: (..., D, k) predicted shares of D plans.

    Returns:
        (..., D, k) corrected shares (rows sum to 1).
    """
    inverse = np.linalg.pinv(m)  # pinv: a rate matrix can be singular in a bootstrap resample
    p = np.einsum("...ij,...dj->...di", inverse, q)
    p = np.clip(p, 0.0, None)
    total = p.sum(axis=-1, keepdims=True)
    return np.divide(p, total, out=np.full_like(p, 1.0 / p.shape[-1]), where=total > 0)


def plan_shares(
    sample_true: np.ndarray,
    sample_pred: np.ndarray,
    plan_pred: Sequence[np.ndarray],
    seed: int = 0,
    resamples: int = RESAMPLES,
) -> dict[str, np.ndarray]:
    """PACC-corrected shares of each plan with 95 % bootstrap intervals over the sample and the plan's sentences.

    Args:
        sample_true: (n,) true label indices 0..k-1 of the coded sample.
        sample_pred: (n, k) the model's probabilities (or one-hot labels) for the same sentences.
        plan_pred: per plan, (n_d, k) the model's probabilities (or one-hot labels) for all its sentences.

    Returns:
        ``estimate``, ``low``, ``high``: (D, k) shares; ``seen``: (k,) labels present in the sample's truth;
        ``boot`` (B, D, k): the bootstrap replicates.
    """
    rng = np.random.default_rng(seed)
    sample_true = np.asarray(sample_true, dtype=int)
    k = sample_pred.shape[1]
    n = len(sample_true)
    mean_pred = (
        np.stack([p.mean(axis=0) if len(p) else np.full(k, 1.0 / k) for p in plan_pred])
        if len(plan_pred)
        else np.zeros((0, k))
    )
    m, seen = rates(sample_true, sample_pred, k)
    estimate = acc_solve(m, mean_pred)
    counts = rng.multinomial(n, np.full(n, 1.0 / n), size=resamples)  # (B, n) bootstrap weights of the sample
    boot_m = np.stack([rates(sample_true, sample_pred, k, c)[0] for c in counts])  # (B, k, k)
    boot_q = np.zeros((resamples, len(plan_pred), k))
    for d, p in enumerate(plan_pred):  # a plan's sentences resampled: multinomial weights over its rows
        if len(p):
            w = rng.multinomial(len(p), np.full(len(p), 1.0 / len(p)), size=resamples)
            boot_q[:, d, :] = w @ p / len(p)
    boot = acc_solve(boot_m, boot_q)  # (B, D, k)
    tail = (1 - CONFIDENCE) / 2
    low, high = np.quantile(boot, [tail, 1 - tail], axis=0)
    return {"estimate": estimate, "low": low, "high": high, "seen": seen, "boot": boot}


def binary_plan_shares(
    sample_true: np.ndarray,
    sample_hard: np.ndarray,
    sample_prob: np.ndarray,
    plan_hard: Sequence[np.ndarray],
    plan_prob: Sequence[np.ndarray],
    seed: int = 0,
    resamples: int = RESAMPLES,
) -> dict[str, Any]:
    """PACC for a yes/no label (co-creation or not) per plan, and the corrected number of plans with a «yes» sentence.

    Args:
        sample_true: (n,) 0/1, the coders' answers.
        sample_hard, sample_prob: (n,) the model's 0/1 label and its probability of «yes» for the same sentences.
        plan_hard, plan_prob: per plan, (n_d,) the same for all its sentences.

    Returns:
        ``raw``: (D,) the model's share of «yes» labels; ``estimate``, ``low``, ``high``: (D,) corrected
        shares and 95 % interval (None when the sample has no «yes» or no «no», or the model does not
        separate them on it, with the reason in ``note``); ``plans``: the corrected count of plans with at
        least one true «yes» sentence ({raw, estimate, low, high}), or None with the same reason.
    """
    sample_true = np.asarray(sample_true, dtype=int)
    sample_hard = np.asarray(sample_hard, dtype=int)
    raw = np.array([float(np.mean(h)) if len(h) else 0.0 for h in plan_hard])
    out: dict[str, Any] = {"raw": raw, "estimate": None, "low": None, "high": None, "note": "", "plans": None}
    hard_rates, seen = rates(sample_true, np.eye(2)[sample_hard], 2)
    tpr, fpr = hard_rates[1, 1], hard_rates[1, 0]
    soft = lambda p: np.column_stack([1 - np.asarray(p, dtype=float), np.asarray(p, dtype=float)])  # noqa: E731
    soft_rates = rates(sample_true, soft(sample_prob), 2)[0]
    if not seen[1]:
        out["note"] = "no coded sentence in the sample is co-creation: the model's miss rate cannot be measured"
    elif not seen[0]:
        out["note"] = "every coded sentence is co-creation: the model's false-alarm rate cannot be measured"
    elif min(tpr - fpr, soft_rates[1, 1] - soft_rates[1, 0]) < MIN_SEPARATION:
        out["note"] = (
            f"on the sample the model does not separate co-creation from other sentences (tpr {tpr:.2f}, fpr {fpr:.2f})"
        )
    if out["note"]:
        return out
    result = plan_shares(sample_true, soft(sample_prob), [soft(p) for p in plan_prob], seed, resamples)
    out.update(estimate=result["estimate"][:, 1], low=result["low"][:, 1], high=result["high"][:, 1])
    sizes = np.array([len(h) for h in plan_hard], dtype=float)
    yes = np.array([float(np.sum(h)) for h in plan_hard])

    def p_any(pi: np.ndarray, tpr: np.ndarray, fpr: np.ndarray) -> np.ndarray:
        # P(true yes | predicted no) and P(true yes | predicted yes) in a plan whose true share is pi (Bayes'
        # rule with the measured hit and false-alarm rates); the plan has no true yes only if none of its
        # sentences is one
        miss_den, hit_den = (1 - tpr) * pi + (1 - fpr) * (1 - pi), tpr * pi + fpr * (1 - pi)
        miss = np.divide((1 - tpr) * pi, miss_den, out=np.zeros_like(pi), where=miss_den > 0)
        hit = np.divide(tpr * pi, hit_den, out=np.zeros_like(pi), where=hit_den > 0)
        log_none = (sizes - yes) * np.log1p(-np.minimum(miss, 1 - 1e-12)) + yes * np.log1p(-np.minimum(hit, 1 - 1e-12))
        return 1 - np.exp(log_none)

    rng = np.random.default_rng(seed + 1)
    counts = np.zeros(resamples, dtype=float)
    for b in range(
        resamples
    ):  # hard rates from a fresh resample of the sample (not the one behind replicate b's shares)
        draw = rng.multinomial(len(sample_true), np.full(len(sample_true), 1.0 / len(sample_true)))
        b_rates = rates(sample_true, np.eye(2)[sample_hard], 2, draw)[0]
        counts[b] = (rng.random(len(sizes)) < p_any(result["boot"][b, :, 1], b_rates[1, 1], b_rates[1, 0])).sum()
    tail = (1 - CONFIDENCE) / 2
    out["plans"] = {
        "raw": int((yes > 0).sum()),
        "estimate": round(float(p_any(result["estimate"][:, 1], tpr, fpr).sum()), 1),
        "low": int(np.quantile(counts, tail)),
        "high": int(np.quantile(counts, 1 - tail)),
    }
    return out
