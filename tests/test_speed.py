"""The CPU fast path: int8 must keep fp32's labels (the --int8 guard runs on a tiny fine-tuned model); threads and FLOPs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from conftest import SHIPPED, shipped_split_sizes, small_frame
from samskaping.config import validate_config
from samskaping.errors import SamskapingError
from samskaping.labels import LABEL_SETS
from samskaping.models import build_model
from samskaping.runtime.agreement import MIN_AGREEMENT
from samskaping.runtime.int8 import (
    INT8_FILE,
    int8_model,
    layer_part_effects,
    layer_part_errors,
    layer_part_of,
)
from samskaping.runtime.machine import encoder_flops, physical_cores, tune_threads

ROOT = Path(__file__).resolve().parents[1]


def _benchmark_module(name: str):  # -> module
    """A module of benchmarks/ (not a package: the benchmarks run as scripts), loaded from its file."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# PyTorch's eager int8, kept in benchmarks/ as the benchmark's comparison
_torch_int8 = _benchmark_module("torch_int8")
SmoothedLinear = _torch_int8.SmoothedLinear
input_channel_maxima = _torch_int8.input_channel_maxima
linear_count = _torch_int8.linear_count
quantize_int8 = _torch_int8.quantize_int8
quantized_linear_count = _torch_int8.quantized_linear_count
MINILM_OFFLINE = ROOT / "models" / "minilm-offline"


def shipped_test_sentences() -> list[str]:
    """The sentences of the shipped test split."""
    frame = pd.read_json(SHIPPED, lines=True, dtype=False)
    return frame.loc[frame["split"] == "test", "text"].tolist()


def label_agreement(a: dict[str, list[str]], b: dict[str, list[str]]) -> float:
    """Share of equal labels over all label sets."""
    same = sum(x == y for ls in a for x, y in zip(a[ls], b[ls], strict=True))
    return same / sum(len(a[ls]) for ls in a)


@pytest.fixture(scope="module")
def tiny_fitted(tiny_fitted_dir: Path):
    """The tiny BERT fine-tuned in conftest.py (a 400-sentence slice of the train split), loaded."""
    from samskaping.models import load_model

    return load_model(tiny_fitted_dir)


def test_quantize_int8_replaces_every_encoder_linear_and_keeps_the_original(tiny_fitted):
    before = linear_count(tiny_fitted.network.encoder)
    assert before > 0
    fast = quantize_int8(tiny_fitted)
    assert quantized_linear_count(fast.network.encoder) == before
    assert linear_count(fast.network.encoder) == 0
    assert all(type(head) is nn.Linear for head in fast.network.heads.values())  # heads stay fp32
    assert linear_count(tiny_fitted.network.encoder) == before  # not in place by default
    assert quantize_int8(fast) is fast  # already quantised: nothing to do


def test_quantized_predictions_are_probabilities(tiny_fitted):
    fast = quantize_int8(tiny_fitted)
    texts = shipped_test_sentences()[:50]
    probs = fast.predict_proba(texts, batch_size=16)
    for ls, matrix in probs.items():
        assert matrix.shape == (len(texts), len(LABEL_SETS[ls]))
        np.testing.assert_allclose(matrix.sum(axis=1), 1.0, atol=1e-5)
    labels = fast.predict(texts)
    for factor, polarity in zip(labels["factor"], labels["polarity"], strict=True):
        assert (factor == "none") == (polarity == "none")


def test_int8_keeps_fp32_labels_on_the_test_split_tiny_model(tiny_fitted):
    texts = shipped_test_sentences()
    fast = quantize_int8(tiny_fitted)
    fp32 = tiny_fitted.predict(texts)
    assert min(len(set(labels)) for labels in fp32.values()) >= 3  # a model that tells classes apart
    assert label_agreement(fp32, fast.predict(texts)) >= MIN_AGREEMENT
    # a 32-wide model's labels hardly move even with 4-bit weights, so also bound the
    # probabilities: int8 moves them by about 2e-4 on average, 6-bit weights by 7e-4,
    # quantised heads by 9e-4 (seeded run on the shipped test split)
    p32, p8 = tiny_fitted.predict_proba(texts), fast.predict_proba(texts)
    deviation = np.mean([np.abs(p8[ls] - p32[ls]).mean() for ls in p32])
    assert deviation <= 5e-4


def test_smoothing_keeps_the_function_and_the_labels(tiny_fitted):
    texts = shipped_test_sentences()
    calibration = small_frame({"train": 40, "validation": 4, "test": 4})["text"].tolist()
    smoothed = quantize_int8(tiny_fitted, calibration_texts=calibration)
    wrapped = [m for m in smoothed.network.encoder.modules() if isinstance(m, SmoothedLinear)]
    assert len(wrapped) == linear_count(tiny_fitted.network.encoder)
    assert quantized_linear_count(smoothed.network.encoder) == len(wrapped)
    assert label_agreement(tiny_fitted.predict(texts), smoothed.predict(texts)) >= MIN_AGREEMENT
    # maxima measured once (e.g. at training time) give the same model as calibrating at load time
    again = quantize_int8(tiny_fitted, activation_maxima=input_channel_maxima(tiny_fitted, calibration))
    np.testing.assert_array_equal(
        again.predict_proba(texts[:50])["factor"], smoothed.predict_proba(texts[:50])["factor"]
    )
    with pytest.raises(SamskapingError, match="alpha"):
        quantize_int8(tiny_fitted, calibration_texts=calibration, alpha=1.5)


def test_smoothed_linear_is_exact_in_fp32():
    torch.manual_seed(0)
    linear = nn.Linear(6, 3)
    x = torch.randn(4, 6) * torch.tensor([1.0, 50.0, 1.0, 0.1, 1.0, 1.0])
    expected = linear(x)
    scale = torch.tensor([1.0, 8.0, 1.0, 0.5, 2.0, 1.0])
    with torch.no_grad():
        linear.weight.mul_(scale)
    torch.testing.assert_close(SmoothedLinear(linear, 1.0 / scale)(x), expected)


# ---------------------------------------------------------------- the --int8 agreement guard (ONNX Runtime)


@pytest.fixture(scope="module")
def calibrated(tiny_fitted_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the tiny fine-tuned model, calibrated on the shipped validation split and measured on its test split."""
    import os
    import shutil

    from samskaping.runtime.int8 import calibrate_folder

    work = tmp_path_factory.mktemp("calibrated")
    folder = shutil.copytree(tiny_fitted_dir, work / "model", ignore=shutil.ignore_patterns("onnx", "int8.json"))
    previous = os.environ.get("SAMSKAPING_CACHE")
    os.environ["SAMSKAPING_CACHE"] = str(work / "cache")
    try:
        calibrate_folder(folder, data=[SHIPPED], threads=1)
    finally:
        if previous is None:
            del os.environ["SAMSKAPING_CACHE"]
        else:
            os.environ["SAMSKAPING_CACHE"] = previous
    return folder


def test_calibration_is_saved_with_the_model_and_keeps_99_percent(calibrated: Path) -> None:
    from samskaping.models import load_model
    from samskaping.runtime import Int8Recipe, weights_digest

    saved = json.loads((calibrated / INT8_FILE).read_text())
    model = load_model(calibrated)
    assert saved["weights_digest"] == weights_digest(model)
    assert saved["sentences"] == shipped_split_sizes()  # the shipped splits
    assert saved["agreement"]["test"]["all"] >= MIN_AGREEMENT
    assert saved["agreement"]["validation"]["all"] >= saved["goal"]["validation"]
    assert len(saved["ranking"]) == 8  # 2 layers x (qkv, attention output, intermediate, output)
    recipe = Int8Recipe.from_dict(saved["recipe"])
    assert recipe.reduce_range and recipe.per_channel
    assert saved["search"][0]["fp32_parts"] == 0


def test_int8_model_reproduces_the_saved_agreement(calibrated: Path) -> None:
    """The CI guard: what --int8 runs keeps >= 99 % of fp32's labels on the shipped test split."""
    from samskaping.models import load_model

    texts = shipped_test_sentences()
    fp32 = load_model(calibrated)
    fast = int8_model(load_model(calibrated), threads=1)
    assert fast.backend is not None and fast.backend.precision == "int8"
    expected = fp32.predict(texts)
    assert min(len(set(labels)) for labels in expected.values()) >= 2  # a model that tells classes apart
    agreement = label_agreement(expected, fast.predict(texts))
    saved = json.loads((calibrated / INT8_FILE).read_text())["agreement"]["test"]["all"]
    assert agreement >= MIN_AGREEMENT
    assert agreement == pytest.approx(saved, abs=1e-9)
    # a 32-wide model's labels hardly move, so also bound the probabilities (int8 moves them by ~2e-3 here)
    p32, p8 = fp32.predict_proba(texts), fast.predict_proba(texts)
    assert np.mean([np.abs(p8[ls] - p32[ls]).mean() for ls in p32]) <= 1e-2


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            lambda saved: saved["agreement"]["test"].update({"all": 0.974}),
            "--int8 refused: int8 kept only 97.4% of fp32's labels on this model's test split (at least 99% needed); leave out --int8",
        ),
        (lambda saved: saved.update({"weights_digest": "0" * 64}), "was made for other weights"),
        (None, "has no int8 calibration; run 'python -m samskaping.speed calibrate"),
    ],
)
def test_predict_int8_refuses_in_one_line(
    calibrated: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], edit, message
) -> None:
    import shutil

    from samskaping.cli.predict import predict_main

    folder = shutil.copytree(calibrated, tmp_path / "model", ignore=shutil.ignore_patterns("onnx"))
    saved = json.loads((folder / INT8_FILE).read_text())
    if edit is None:
        (folder / INT8_FILE).unlink()
    else:
        edit(saved)
        (folder / INT8_FILE).write_text(json.dumps(saved))
    table = tmp_path / "s.csv"
    pd.DataFrame({"text": shipped_test_sentences()[:5]}).to_csv(table, index=False)
    assert (
        predict_main([str(table), "--model", str(folder), "--output", str(tmp_path / "out"), "--int8", "--quiet"]) == 2
    )
    # (in-process, transformers' weight-loading bar also reaches stderr; a user with --quiet does not see it)
    err = [line for line in capsys.readouterr().err.strip().splitlines() if not line.startswith("Loading weights")]
    assert len(err) == 1 and err[0].startswith("error: ") and message in err[0], err


def test_predict_int8_runs_the_saved_recipe(calibrated: Path, tmp_path: Path) -> None:
    from samskaping.cli.predict import predict_main

    table = tmp_path / "s.csv"
    pd.DataFrame({"text": shipped_test_sentences()[:40]}).to_csv(table, index=False)
    assert (
        predict_main(
            [
                str(table),
                "--model",
                str(calibrated),
                "--output",
                str(tmp_path / "out"),
                "--int8",
                "--quiet",
                "--threads",
                "1",
            ]
        )
        == 0
    )
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["model"]["int8"] is True and summary["model"]["runtime"] == "onnxruntime"


def test_layer_part_errors_rank_every_part(tiny_fitted) -> None:
    errors = layer_part_errors(tiny_fitted, shipped_test_sentences()[:64])
    assert sorted(errors) == sorted(
        f"layer.{i}.{p}" for i in range(2) for p in ("qkv", "attention_output", "intermediate", "output")
    )
    assert list(errors.values()) == sorted(errors.values(), reverse=True)
    assert all(0 < e < 0.05 for e in errors.values())  # int8 disturbs each product a little
    assert layer_part_of("encoder.layer.11.attention.self.key") == "layer.11.qkv"
    assert layer_part_of("heads.factor") is None
    before = tiny_fitted.logits(shipped_test_sentences()[:8])["factor"]
    effects = layer_part_effects(tiny_fitted, shipped_test_sentences()[:64])
    assert sorted(effects) == sorted(errors)
    assert list(effects.values()) == sorted(effects.values(), reverse=True)
    assert all(e > 0 for e in effects.values())
    # the hooks are gone afterwards: fp32 again
    np.testing.assert_array_equal(before, tiny_fitted.logits(shipped_test_sentences()[:8])["factor"])


@pytest.mark.slow
@pytest.mark.skipif(
    not (MINILM_OFFLINE / INT8_FILE).is_file(),
    reason="models/minilm-offline not trained and calibrated here (python train.py --config configs/minilm-offline.yaml "
    "--output models/minilm-offline; python -m samskaping.speed calibrate models/minilm-offline)",
)
def test_int8_keeps_fp32_labels_on_the_test_split_minilm_offline():
    """The same guard on a fine-tuned 384-wide model, whose labels int8 does move."""
    from samskaping.models import load_model

    texts = shipped_test_sentences()
    expected = load_model(MINILM_OFFLINE).predict(texts)
    fast = int8_model(load_model(MINILM_OFFLINE))
    agreement = label_agreement(expected, fast.predict(texts))
    assert agreement >= MIN_AGREEMENT, f"int8 keeps only {agreement:.2%} of fp32's labels"


def test_quantize_int8_refuses_a_baseline(tmp_path):
    cfg = validate_config(
        {
            "data": {"path": str(SHIPPED)},
            "model": {"kind": "baseline", "name": "tfidf-logreg"},
            "tracking": {"enabled": False},
        }
    )
    with pytest.raises(SamskapingError, match="needs a transformer model"):
        quantize_int8(build_model(cfg, progress=False))


def test_tune_threads_uses_physical_cores_and_can_be_called_twice():
    before = torch.get_num_threads()
    try:
        first = tune_threads()
        second = tune_threads()
        assert first["intra_op"] == second["intra_op"] == physical_cores() == torch.get_num_threads()
        assert tune_threads(1)["intra_op"] == 1
    finally:
        torch.set_num_threads(before)


def test_encoder_flops_formula():
    # one layer, T=10, h=2, ff=4: 2*10*(4*4 + 2*2*4) + 4*100*2
    assert encoder_flops(10, layers=1, hidden=2, intermediate=4) == 2 * 10 * (16 + 16) + 800
    # BERT-base on 37 tokens: about 6.3 GFLOP
    assert encoder_flops(37, 12, 768, 3072) == pytest.approx(6.3e9, rel=0.02)


@pytest.mark.slow
def test_training_time_calibration_saves_int8_json_and_logs_the_agreement(
    tiny_bert: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """training.calibrate_int8: train.py leaves a model that --int8 accepts, and the run shows the agreement."""
    from mlflow.tracking import MlflowClient

    from conftest import write_jsonl
    from samskaping.models import load_model
    from samskaping.training import train

    monkeypatch.setenv("SAMSKAPING_CACHE", str(tmp_path / "cache"))
    data = write_jsonl(small_frame({"train": 48, "validation": 24, "test": 24}), tmp_path / "d.jsonl")
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    cfg = validate_config(
        {
            "data": {"path": str(data)},
            "model": {"kind": "transformer", "name": str(tiny_bert), "transformer": {"max_length": 48}},
            "training": {"epochs": 1, "batch_size": 16, "threads": 1, "calibrate_int8": True},
            "tracking": {"tracking_uri": uri, "experiment": "int8", "registered_model_name": None},
        }
    )
    result = train(cfg, tmp_path / "model", progress=False)
    saved = json.loads((result.model_dir / INT8_FILE).read_text())
    assert saved["sentences"] == {"validation": 24, "test": 24}
    assert not (result.model_dir / "onnx").exists()  # the export is a cache, not part of the model
    fast = int8_model(load_model(result.model_dir), threads=1)  # accepted without a further step
    assert fast.backend.precision == "int8"
    metrics = MlflowClient(tracking_uri=uri).get_run(result.run_id).data.metrics
    assert metrics["int8_test_agreement"] == pytest.approx(saved["agreement"]["test"]["all"], abs=1e-5)
    # training.measure_bf16 (on by default): measured where the CPU has bf16 instructions, skipped elsewhere
    from samskaping.runtime.bf16 import BF16_FILE, native_bf16_flags

    if native_bf16_flags():
        bf16 = json.loads((result.model_dir / BF16_FILE).read_text())
        assert metrics["bf16_test_agreement"] == pytest.approx(bf16["agreement"]["test"]["all"], abs=1e-5)
    else:
        assert not (result.model_dir / BF16_FILE).exists() and "bf16_test_agreement" not in metrics
