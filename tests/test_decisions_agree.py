"""«Sure», «usikker», the prediction set and the probability shown agree (issue 19, point 7).

The conformal sets used to be computed from the probabilities under the
training priors while the outputs showed them after the priors setting, and a
sentence counted as sure whenever its set had one label, even a label other
than the one it was given. Now the set comes from the shown probabilities (the
calibration scores moved to the same priors) and «sure» means the set is
exactly the label shown. Headings are never report examples of a label.

The default baseline (``default_baseline_dir``), the shipped evaluation sentences, a real output folder.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from samskaping.calibration import ConformalSets
from samskaping.labels import LABEL_SETS
from samskaping.predict import classify, decide_frame, raw_frame
from samskaping.priors import shift

ROOT = Path(__file__).resolve().parents[1]
SENTENCES = ROOT / "data" / "eval" / "realistic-sentences.jsonl"
# a plan where almost nothing names a factor: far from the training shares
MOSTLY_NONE = {"factor": {label: (0.97 if label == "none" else 0.005) for label in LABEL_SETS["factor"]}}


# every test needs the default baseline, trained on all the shipped data (about 30 s of CPU on a loaded machine)
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def model(default_baseline_dir: Path):
    from samskaping.models import load_model

    return load_model(default_baseline_dir)


@pytest.fixture(scope="module")
def raw(model) -> pd.DataFrame:
    texts = pd.read_json(SENTENCES, lines=True)["text"].tolist()
    return raw_frame(model, texts)


@pytest.mark.parametrize("setting", ["estimated", "training", "uniform", MOSTLY_NONE], ids=str)
def test_a_sure_sentence_has_exactly_its_label_in_its_set(model, raw, setting) -> None:
    decided, _ = decide_frame(model, raw, setting)
    for ls in model.label_sets:
        sure = ~decided[f"{ls}_uncertain"]
        assert sure.any()
        assert (decided.loc[sure, f"{ls}_set"] == decided.loc[sure, ls]).all(), ls
        # an uncertain sentence's set is anything but the label alone (several labels, none, or another one)
        assert (decided.loc[~sure, f"{ls}_set"] != decided.loc[~sure, ls]).all(), ls


def test_the_sets_are_computed_from_the_probabilities_shown(model, raw) -> None:
    decided, record = decide_frame(model, raw, MOSTLY_NONE)
    conformal = model.conformal["factor"]
    assert conformal.probs is not None  # the calibration keeps its probabilities in the model folder
    names = LABEL_SETS["factor"]
    new = np.array([record["priors"]["label_sets"]["factor"]["priors"][n] for n in names])
    old = model.training_priors["factor"]
    # the same calibration sentences, scored as if the model had been trained at the new priors
    recalibrated = ConformalSets.calibrate(shift(conformal.probs, old, new), conformal.labels)
    # the probabilities shown, before their rounding to 4 decimals in the table
    shown = shift(raw[[f"raw_factor_p_{n}" for n in names]].to_numpy(), old, new)
    assert np.allclose(shown, decided[[f"factor_p_{n}" for n in names]].to_numpy(), atol=1e-4)
    expected = recalibrated.sets(shown, model.cfg.prediction.confidence)
    got = np.array([[n in row.split("|") for n in names] for row in decided["factor_set"]])
    assert (got == expected).all()


def test_headings_are_not_report_examples(model, tmp_path: Path) -> None:
    from samskaping.report import write_report

    result = classify([ROOT / "data" / "sample-plans"], model, tmp_path / "out", progress=False)
    table = pd.read_csv(tmp_path / "out" / "sentences.csv")
    heading = table.index[table["text"] == "Samskaping som arbeidsform"][0]
    assert table.at[heading, "unit"] == "heading"
    # make the heading the most confident sure «democratic» sentence of the plan
    table.loc[heading, ["conception", "conception_score", "conception_set", "conception_uncertain"]] = [
        "democratic",
        0.9999,
        "democratic",
        False,
    ]
    table.to_csv(tmp_path / "out" / "sentences.csv", index=False)
    page = write_report(result.output_dir).read_text(encoding="utf-8")
    examples = page[page.index('<section id="eksempler-conception">') :]
    examples = examples[: examples.index("</section>")]
    assert "<q>Samskaping som arbeidsform</q>" not in examples
    assert "Demokratisk" in examples or "demokrat" in examples.lower()
