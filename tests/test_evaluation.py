"""The evaluation metrics: the vectorised bootstrap statistic is the same macro-F1 as the per-sample report."""

from __future__ import annotations

import numpy as np
import pytest

from samskaping.evaluation import evaluate_label_set, macro_f1_batch, macro_f1_interval
from samskaping.labels import LABEL_SETS


@pytest.mark.parametrize("label_set", ["conception", "factor", "polarity"])
def test_macro_f1_batch_equals_the_report_on_every_sample(label_set: str) -> None:
    labels = LABEL_SETS[label_set]
    rng = np.random.default_rng(7)
    # skewed samples, some with classes missing from truth or prediction, one with none right
    t = rng.choice(len(labels), size=(40, 30), p=np.linspace(1, 3, len(labels)) / np.linspace(1, 3, len(labels)).sum())
    p = np.where(rng.random((40, 30)) < 0.6, t, rng.integers(0, len(labels), (40, 30)))
    p[0] = (t[0] + 1) % len(labels)
    batch = macro_f1_batch(t, p, len(labels))
    assert batch.shape == (40,)
    for i in range(40):
        expected = evaluate_label_set(label_set, [labels[j] for j in t[i]], [labels[j] for j in p[i]]).macro_f1
        assert batch[i] == pytest.approx(expected, abs=1e-12)
    assert batch[0] == 0.0


def test_interval_brackets_the_point_estimate_and_narrows_with_more_sentences() -> None:
    labels = LABEL_SETS["conception"]
    rng = np.random.default_rng(1)

    def sample(n: int) -> tuple[list[str], list[str]]:
        t = rng.integers(0, len(labels), n)
        p = np.where(rng.random(n) < 0.8, t, rng.integers(0, len(labels), n))
        return [labels[i] for i in t], [labels[i] for i in p]

    small_t, small_p = sample(80)
    big_t, big_p = sample(2000)
    low, high = macro_f1_interval("conception", small_t, small_p)
    point = evaluate_label_set("conception", small_t, small_p).macro_f1
    assert low < point < high
    big_low, big_high = macro_f1_interval("conception", big_t, big_p)
    assert big_high - big_low < (high - low) / 2
    assert np.isnan(macro_f1_interval("conception", ["none"], ["none"])).all()  # one sentence: no interval
