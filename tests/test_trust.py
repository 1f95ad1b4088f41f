"""Priors, calibration and prediction sets: known answers on synthetic data, and the shipped baseline's
figures on the shipped test split and the realistic plans (data/eval/, never trained on)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from samskaping import priors
from samskaping.calibration import ConformalSets, expected_calibration_error, fit_bcts
from samskaping.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]


# ---------------------------------------------------------------- known answers


def _calibrated_sample(shares: np.ndarray, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Labels drawn with ``shares`` and probabilities from a calibrated model of two Gaussian features,
    computed under *uniform* priors (so the model's training prior is uniform)."""
    rng = np.random.default_rng(seed)
    k = len(shares)
    y = rng.choice(k, size=n, p=shares)
    centres = rng.normal(0, 1.5, size=(k, 2))
    x = centres[y] + rng.normal(0, 1, size=(n, 2))
    log_lik = -0.5 * ((x[:, None, :] - centres[None, :, :]) ** 2).sum(axis=2)
    probs = np.exp(log_lik - log_lik.max(axis=1, keepdims=True))
    return probs / probs.sum(axis=1, keepdims=True), y


def test_em_recovers_the_label_shares_of_a_shifted_set() -> None:
    true = np.array([0.05, 0.10, 0.05, 0.80])  # a real plan: mostly none
    probs, _y = _calibrated_sample(true, 20_000, seed=1)
    estimated, iterations, converged = priors.estimate_em(probs, np.full(4, 0.25))
    assert converged and iterations > 1
    assert np.abs(estimated - true).max() < 0.02
    naive = (probs.argmax(axis=1)[:, None] == np.arange(4)).mean(axis=0)
    assert np.abs(naive - true).max() > np.abs(estimated - true).max()  # EM beats counting argmaxes


def test_map_em_keeps_a_rare_label_that_plain_em_sets_to_zero() -> None:
    # a plan of 150 sentences: four clear sentences of a rare label (index 0), the rest leaning to none
    rng = np.random.default_rng(3)
    probs = np.vstack([np.tile([0.7, 0.05, 0.05, 0.2], (4, 1)), rng.dirichlet([1, 3, 3, 12], size=146)])
    old = np.full(4, 0.25)
    plain, _, _ = priors.estimate_em(probs, old, strength=0.0)
    regularised, _, converged = priors.estimate_em(probs, old, strength=priors.DEFAULT_STRENGTH)
    assert plain[:3].max() < 1e-4  # maximum-likelihood EM runs to the edge of the simplex
    assert (priors.shift(probs, old, plain).argmax(axis=1) == 0).sum() == 0
    assert converged
    floor = priors.DEFAULT_STRENGTH * old[0] / (len(probs) + priors.DEFAULT_STRENGTH)
    assert regularised[0] >= floor > 0.05
    moved, record = priors.apply({"conception": probs}, {"conception": old}, "estimated")
    assert (moved["conception"].argmax(axis=1) == 0).any()  # the rare label can still be predicted
    assert record["label_sets"]["conception"]["training_prior_weight"] == pytest.approx(200 / 350, abs=1e-4)
    assert record["label_sets"]["conception"]["prior_strength"] == priors.DEFAULT_STRENGTH


def test_map_em_on_a_large_mostly_none_corpus_still_cuts_false_positives() -> None:
    true = np.array([0.03, 0.04, 0.03, 0.90])  # 90 % none, as a real samfunnsdel
    probs, y = _calibrated_sample(true, 20_000, seed=4)
    old = np.full(4, 0.25)
    _plain, _, _ = priors.estimate_em(probs, old, strength=0.0)
    regularised, _, _ = priors.estimate_em(probs, old, strength=priors.DEFAULT_STRENGTH)
    assert np.abs(regularised - true).max() < 0.05  # a large corpus moves (most of the way) to its own shares
    as_trained = (probs.argmax(axis=1) != 3) & (y == 3)
    adjusted = (priors.shift(probs, old, regularised).argmax(axis=1) != 3) & (y == 3)
    assert adjusted.sum() < 0.5 * as_trained.sum()  # false positives on none fall as with plain EM


def test_shift_is_bayes_rule_and_keeps_rows_normalised() -> None:
    probs = np.array([[0.5, 0.5], [0.9, 0.1]])
    moved = priors.shift(probs, old=np.array([0.5, 0.5]), new=np.array([0.2, 0.8]))
    assert moved[0] == pytest.approx([0.2, 0.8])
    assert moved[1] == pytest.approx([0.9 * 0.2 / (0.9 * 0.2 + 0.1 * 0.8), 0.1 * 0.8 / (0.9 * 0.2 + 0.1 * 0.8)])
    assert moved.sum(axis=1) == pytest.approx([1, 1])


def test_explicit_priors_are_checked() -> None:
    with pytest.raises(ConfigError, match=r"conception: shares must be >= 0 and sum to 1"):
        priors.check_setting({"conception": {"none": 0.9, "service": 0.2}})
    with pytest.raises(ConfigError, match=r"unknown label\(s\) \['nothing'\]"):
        priors.check_setting({"conception": {"nothing": 1.0}})
    probs = {"conception": np.full((3, 4), 0.25)}
    moved, record = priors.apply(
        probs,
        {"conception": np.full(4, 0.25)},
        {"conception": {"service": 0.1, "democratic": 0.1, "innovation": 0.1, "none": 0.7}},
    )
    assert moved["conception"][0] == pytest.approx([0.1, 0.1, 0.1, 0.7])
    assert record["setting"] == "explicit"


def test_bcts_fixes_an_overconfident_biased_model() -> None:
    probs, y = _calibrated_sample(np.array([0.1, 0.1, 0.8]), 6000, seed=2)
    logits = 3.0 * np.log(probs) + np.array([1.0, 1.0, -1.0])  # too sure, and biased against the common label
    before = np.exp(logits - logits.max(axis=1, keepdims=True))
    before /= before.sum(axis=1, keepdims=True)
    temperature, bias = fit_bcts(logits[:3000], y[:3000])
    after = np.exp(logits / temperature + bias)
    after /= after.sum(axis=1, keepdims=True)
    assert 2.0 < temperature < 4.5
    assert (
        expected_calibration_error(after[3000:], y[3000:]) < 0.03 < expected_calibration_error(before[3000:], y[3000:])
    )


def test_conformal_sets_cover_every_label_at_the_asked_level() -> None:
    probs, y = _calibrated_sample(np.array([0.1, 0.2, 0.7]), 40_000, seed=3)
    sets = ConformalSets.calibrate(probs[:20_000], y[:20_000])
    members = sets.sets(probs[20_000:], confidence=0.9)
    for label in range(3):  # class-conditional: each label, not just on average (the rarest has ~2,000 test rows)
        rows = y[20_000:] == label
        coverage = members[rows, label].mean()
        assert 0.88 <= coverage <= 0.93, (label, coverage)


# ---------------------------------------------------------------- the shipped baseline


@pytest.fixture(scope="module")
def shipped_baseline(default_baseline_dir: Path):
    """The baseline config trained on the shipped data (conftest's session model) and the metrics train() saved."""
    from samskaping.models import load_model

    metrics = json.loads((default_baseline_dir / "metrics.json").read_text(encoding="utf-8"))
    return load_model(default_baseline_dir), metrics


@pytest.mark.slow
def test_calibration_and_sets_on_the_shipped_test_split(shipped_baseline) -> None:
    _, metrics = shipped_baseline
    for ls in ("conception", "factor", "polarity"):
        assert metrics[f"test_{ls}_ece"] <= 0.05, (ls, metrics[f"test_{ls}_ece"])
        assert (
            metrics[f"test_{ls}_ece"] < metrics[f"test_{ls}_ece_uncalibrated"]
            or metrics[f"test_{ls}_ece_uncalibrated"] <= 0.05
        )
        assert abs(metrics[f"test_{ls}_set_coverage"] - 0.9) <= 0.03, (ls, metrics[f"test_{ls}_set_coverage"])
        assert (
            metrics[f"test_{ls}_macro_f1_low"] <= metrics[f"test_{ls}_macro_f1"] <= metrics[f"test_{ls}_macro_f1_high"]
        )


@pytest.mark.slow
def test_estimated_priors_cut_false_positives_on_realistic_plans_and_keep_recall(shipped_baseline) -> None:
    from samskaping.decisions import decide

    model, _ = shipped_baseline
    plans = pd.read_json(ROOT / "data" / "eval" / "realistic-plans.jsonl", lines=True, dtype=False)
    assert (plans["conception"] == "none").mean() > 0.8  # realistic proportions
    counts = {}
    for setting in ("uniform", "estimated"):
        fp = tp = fn = 0
        for _, plan in plans.groupby("document"):
            probs = model.predict_proba(plan["text"].tolist(), contexts=plan["context"].tolist())
            said = np.array(decide(model, probs, setting).labels["conception"]) != "none"
            gold = (plan["conception"] != "none").to_numpy()
            fp, tp, fn = fp + int((said & ~gold).sum()), tp + int((said & gold).sum()), fn + int((~said & gold).sum())
        counts[setting] = (fp, tp / (tp + fn))
    assert counts["estimated"][0] < 0.5 * counts["uniform"][0]  # at least halves the false positives
    assert counts["estimated"][1] >= 0.9  # while recall stays at 90 % or more


@pytest.mark.slow  # trains a model of each kind with plain EM's config: 8-10 s of CPU each
@pytest.mark.parametrize("kind", ["baseline", "transformer"])
def test_priors_apply_to_both_model_kinds_and_are_logged(
    kind: str, tmp_path: Path, small_data: Path, tiny_bert: Path
) -> None:
    from samskaping.config import validate_config
    from samskaping.models import load_model
    from samskaping.predict import classify
    from samskaping.training import train

    model = {
        "kind": kind,
        "name": str(tiny_bert) if kind == "transformer" else "tfidf-logreg",
        "transformer": {"max_length": 32},
    }
    cfg = validate_config(
        {
            "data": {"path": str(small_data)},
            "model": model,
            "tracking": {"enabled": False},
            "training": {"epochs": 2, "batch_size": 8, "learning_rate": 1e-3},
            "prediction": {"prior_strength": 0.0},
        }
    )  # plain EM: four near-uniform sentences must move it
    loaded = load_model(train(cfg, tmp_path / "m", progress=False).model_dir)
    plan = tmp_path / "plan.txt"
    plan.write_text(
        "\n\n".join(
            [
                "Kommunen skal samskape med innbyggerne.",
                "Vegen er 12 km lang.",
                "Budsjettet er vedtatt.",
                "Skolen har 200 elever.",
            ]
        )
        + "\n",
        encoding="utf-8",
    )
    runs = {s: classify([plan], loaded, tmp_path / s, progress=False, priors=s) for s in ("uniform", "estimated")}
    record = runs["estimated"].summary["decision_rules"]["priors"]["label_sets"]["conception"]
    assert record["iterations"] >= 1 and abs(sum(record["priors"].values()) - 1) < 1e-5
    assert record["prior_strength"] == 0.0 and record["training_prior_weight"] == 0.0
    assert not np.allclose(
        runs["uniform"].sentences["conception_p_none"], runs["estimated"].sentences["conception_p_none"]
    )
