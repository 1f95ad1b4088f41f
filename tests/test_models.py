"""One contract for every classifier kind: fit, predict, save, load, identical predictions."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from conftest import small_frame
from samskaping.config import validate_config
from samskaping.errors import ModelLoadError
from samskaping.labels import LABEL_SETS
from samskaping.models import build_model, load_model
from samskaping.models.base import decode_predictions


def make_config(kind: str, tmp_path: Path, tiny_bert: Path | None, **training) -> object:
    data = tmp_path / "d.jsonl"
    if not data.exists():
        from conftest import write_jsonl

        write_jsonl(small_frame(), data)
    raw = {
        "data": {"path": str(data)},
        "model": {"kind": kind, "name": str(tiny_bert) if kind == "transformer" else "tfidf-logreg"},
        "training": {
            "seed": 3,
            "epochs": 3,
            "batch_size": 8,
            "learning_rate": 1e-3,
            "head_learning_rate": 5e-3,
            "warmup_ratio": 0.0,
            "early_stopping_patience": 0,
            **training,
        },
        "tracking": {"enabled": False},
    }
    if kind == "transformer":
        raw["model"]["transformer"] = {"max_length": 48}
    return validate_config(raw)


@pytest.fixture(params=["baseline", "transformer"])
def kind(request):
    return request.param


def _fit(kind, tmp_path, tiny_bert, **training):
    cfg = make_config(kind, tmp_path, tiny_bert, **training)
    frame = small_frame()
    train = frame[frame["split"] == "train"]
    val = frame[frame["split"] == "validation"]
    model = build_model(cfg, progress=False)
    info = model.fit(
        train["text"].tolist(),
        {ls: train[ls].tolist() for ls in LABEL_SETS},
        validation=(val["text"].tolist(), {ls: val[ls].tolist() for ls in LABEL_SETS}),
    )
    return model, info, frame


def test_contract_fit_predict_save_load(kind, tmp_path, tiny_bert):
    model, _, frame = _fit(kind, tmp_path, tiny_bert)
    texts = frame["text"].tolist()
    probs = model.predict_proba(texts, batch_size=7)
    for ls, matrix in probs.items():
        assert matrix.shape == (len(texts), len(LABEL_SETS[ls]))
        np.testing.assert_allclose(matrix.sum(axis=1), 1.0, atol=1e-5)
    labels = model.predict(texts)
    for factor, polarity in zip(labels["factor"], labels["polarity"]):
        assert (factor == "none") == (polarity == "none")
    model.save(tmp_path / "m")
    again = load_model(tmp_path / "m")
    assert type(again) is type(model)
    reloaded = again.predict_proba(texts, batch_size=5)
    for ls in probs:
        np.testing.assert_allclose(reloaded[ls], probs[ls], atol=1e-6)
    assert again.predict(texts) == labels


def test_baseline_learns_the_training_data(tmp_path, tiny_bert):
    model, _, frame = _fit("baseline", tmp_path, tiny_bert)
    train = frame[frame["split"] == "train"]
    predicted = model.predict(train["text"].tolist())
    accuracy = np.mean([p == t for p, t in zip(predicted["conception"], train["conception"])])
    assert accuracy >= 0.9


def test_transformer_loss_falls_and_training_repeats(tmp_path, tiny_bert):
    model, info, frame = _fit("transformer", tmp_path, tiny_bert, epochs=4)
    losses = [h["train_loss"] for h in info["history"]]
    assert len(losses) == 4
    assert losses[-1] < losses[0]
    again, info2, _ = _fit("transformer", tmp_path, tiny_bert, epochs=4)
    assert [h["train_loss"] for h in info2["history"]] == losses  # same seed and data -> same run
    texts = frame["text"].tolist()[:10]
    np.testing.assert_array_equal(model.predict_proba(texts)["conception"], again.predict_proba(texts)["conception"])


def test_transformer_stops_after_max_steps(tmp_path, tiny_bert):
    _, info, _ = _fit("transformer", tmp_path, tiny_bert, epochs=5, max_steps=2)
    assert info["steps"] == 2


def test_transformer_keeps_best_state_on_ctrl_c(tmp_path, tiny_bert):
    class InterruptAtEpoch2:
        def log_metrics(self, metrics, step=None):
            if step == 2:
                raise KeyboardInterrupt

    cfg = make_config("transformer", tmp_path, tiny_bert, epochs=4)
    frame = small_frame()
    train = frame[frame["split"] == "train"]
    model = build_model(cfg, progress=False)
    with pytest.raises(KeyboardInterrupt):
        model.fit(train["text"].tolist(), {ls: train[ls].tolist() for ls in LABEL_SETS}, tracker=InterruptAtEpoch2())
    assert model.is_fitted()  # epoch 1's state was restored
    assert model.predict(["Vi skal samskape med innbyggerne."])["conception"][0] in LABEL_SETS["conception"]


def test_decode_applies_polarity_rule():
    probs = {
        "factor": np.array([[0.1, 0, 0, 0, 0, 0, 0.9], [0.8, 0, 0, 0, 0, 0, 0.2]]),
        "polarity": np.array([[0.6, 0.1, 0.3], [0.1, 0.3, 0.6]]),
    }
    labels, scores = decode_predictions(probs)
    assert labels["polarity"] == ["none", "hindering"]  # factor none -> none; factor set -> best of promoting/hindering
    assert scores["polarity"].tolist() == pytest.approx([0.3, 0.3])


def test_loading_a_folder_that_is_not_a_model(tmp_path):
    with pytest.raises(ModelLoadError, match="model folder not found; train one with"):
        load_model(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelLoadError, match="not a samskaping model folder"):
        load_model(tmp_path / "empty")
