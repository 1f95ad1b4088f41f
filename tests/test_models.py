"""One contract for every classifier kind: fit, predict, save, load, identical predictions."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pytest

from conftest import small_frame
from samskaping.config import validate_config
from samskaping.errors import ModelLoadError
from samskaping.labels import LABEL_SETS
from samskaping.models import REGISTRY, build_model, has_encoder, kind_spec, kind_specs, load_model
from samskaping.models.base import decode_predictions


def merged(base: dict, extra: Mapping) -> dict:
    """``base`` with ``extra`` laid over it, section by section."""
    out = dict(base)
    for key, value in extra.items():
        out[key] = merged(out.get(key) or {}, value) if isinstance(value, Mapping) else value
    return out


def make_config(kind: str, tmp_path: Path, encoder: Path | None, **training) -> object:
    """The kind's own contract config (its ``KindSpec.contract_config``) on the tiny data, seeded, untracked."""
    data = tmp_path / "d.jsonl"
    if not data.exists():
        from conftest import write_jsonl

        write_jsonl(small_frame(), data)
    spec = kind_spec(kind)
    raw = merged(
        {"data": {"path": str(data)}, "model": {"kind": kind}, "training": {"seed": 3}, "tracking": {"enabled": False}},
        spec.contract_config,
    )
    if spec.has_encoder:
        raw["model"]["name"] = str(encoder)  # the suite's tiny BERT
    raw["training"].update(training)
    return validate_config(raw)


def fit_tiny(kind: str, tmp_path: Path, encoder: Path | None, **training):
    """A model of ``kind`` trained on the tiny data's train split, with its validation split; (model, facts, data)."""
    cfg = make_config(kind, tmp_path, encoder, **training)
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


def check_contract(kind: str, tmp_path: Path, encoder: Path | None) -> Path:
    """Fit, predict, save and load a model of ``kind``; the reloaded model predicts the same. Returns the folder."""
    model, _, frame = fit_tiny(kind, tmp_path, encoder)
    assert model.kind == kind and model.is_fitted()
    texts = frame["text"].tolist()
    probs = model.predict_proba(texts, batch_size=7)
    assert set(probs) == set(LABEL_SETS)
    for ls, matrix in probs.items():
        assert matrix.shape == (len(texts), len(LABEL_SETS[ls]))
        np.testing.assert_allclose(matrix.sum(axis=1), 1.0, atol=1e-5)
    labels = model.predict(texts)
    for factor, polarity in zip(labels["factor"], labels["polarity"], strict=True):
        assert (factor == "none") == (polarity == "none")
    folder = model.save(tmp_path / "m")
    again = load_model(folder)
    assert type(again) is type(model)
    reloaded = again.predict_proba(texts, batch_size=5)
    for ls in probs:
        np.testing.assert_allclose(reloaded[ls], probs[ls], atol=1e-6)
    assert again.predict(texts) == labels
    return folder


@pytest.fixture(params=list(REGISTRY))
def kind(request):
    return request.param


def test_contract_fit_predict_save_load(kind, tmp_path, request):
    # every registered kind, each with the tiny config its spec declares
    encoder = request.getfixturevalue("tiny_bert") if kind_spec(kind).has_encoder else None
    check_contract(kind, tmp_path, encoder)


def test_every_kind_has_a_config_section_with_defaults(tmp_path):
    cfg = make_config("baseline", tmp_path, None)
    for kind, spec in kind_specs().items():
        assert getattr(cfg.model, kind) == spec.section()
        assert kind in cfg.to_dict()["model"]


def test_only_the_transformer_has_an_encoder_for_the_runtime_paths():
    assert {kind: has_encoder(kind) for kind in REGISTRY} == {"baseline": False, "transformer": True}
    with pytest.raises(ModelLoadError, match="unknown model kind 'bert'; allowed: baseline, transformer"):
        has_encoder("bert")


def test_baseline_learns_the_training_data(tmp_path):
    model, _, frame = fit_tiny("baseline", tmp_path, None)
    train = frame[frame["split"] == "train"]
    predicted = model.predict(train["text"].tolist())
    accuracy = np.mean([p == t for p, t in zip(predicted["conception"], train["conception"], strict=True)])
    assert accuracy >= 0.9


def test_transformer_loss_falls_and_training_repeats(tmp_path, tiny_bert):
    model, info, frame = fit_tiny("transformer", tmp_path, tiny_bert, epochs=4)
    losses = [h["train_loss"] for h in info["history"]]
    assert len(losses) == 4
    assert losses[-1] < losses[0]
    again, info2, _ = fit_tiny("transformer", tmp_path, tiny_bert, epochs=4)
    assert [h["train_loss"] for h in info2["history"]] == losses  # same seed and data -> same run
    texts = frame["text"].tolist()[:10]
    np.testing.assert_array_equal(model.predict_proba(texts)["conception"], again.predict_proba(texts)["conception"])


def test_transformer_stops_after_max_steps(tmp_path, tiny_bert):
    _, info, _ = fit_tiny("transformer", tmp_path, tiny_bert, epochs=5, max_steps=2)
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
