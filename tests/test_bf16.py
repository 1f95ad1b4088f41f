"""bf16 on the CPU: the agreement saved with the model, the CI guard, and the refusals of --bf16."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import SHIPPED, shipped_split_sizes
from samskaping.errors import SamskapingError
from samskaping.runtime.bf16 import (
    BF16_FILE,
    MIN_AGREEMENT,
    _precision,
    bf16_model,
    measure_bf16_folder,
    native_bf16_flags,
    to_bf16,
)

NATIVE = bool(native_bf16_flags())
needs_native = pytest.mark.skipif(not NATIVE, reason="this CPU has no bf16 instructions (AMX or AVX512-BF16)")


def shipped_test_sentences() -> list[str]:
    frame = pd.read_json(SHIPPED, lines=True)
    return frame.loc[frame["split"] == "test", "text"].tolist()


@pytest.fixture(scope="module")
def measured(tiny_fitted_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the tiny fine-tuned model with bf16 measured on the shipped validation and test splits."""
    folder = shutil.copytree(
        tiny_fitted_dir,
        tmp_path_factory.mktemp("bf16") / "model",
        ignore=shutil.ignore_patterns("onnx", "int8.json", BF16_FILE),
    )
    measure_bf16_folder(folder, data=[SHIPPED], threads=1)
    return folder


def predict_args(folder: Path, tmp_path: Path, *extra: str) -> list[str]:
    table = tmp_path / "s.csv"
    pd.DataFrame({"text": shipped_test_sentences()[:40]}).to_csv(table, index=False)
    return [str(table), "--model", str(folder), "--output", str(tmp_path / "out"), "--quiet", "--threads", "1", *extra]


def one_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    # (in-process, transformers' weight-loading bar also reaches stderr; a user with --quiet does not see it)
    err = [line for line in capsys.readouterr().err.strip().splitlines() if not line.startswith("Loading weights")]
    assert len(err) == 1 and err[0].startswith("error: "), err
    return err[0]


def test_the_measurement_is_saved_with_the_model(measured: Path) -> None:
    from samskaping.models import load_model
    from samskaping.runtime import weights_digest

    saved = json.loads((measured / BF16_FILE).read_text())
    assert saved["weights_digest"] == weights_digest(load_model(measured))
    assert saved["sentences"] == shipped_split_sizes()  # the shipped splits
    assert saved["agreement"]["test"]["all"] >= MIN_AGREEMENT
    assert saved["sentences_per_second"]["bf16"] > 0 and saved["sentences_per_second"]["fp32"] > 0
    assert saved["measured_with"]["native_bf16"] == native_bf16_flags()
    assert set(saved["accuracy"]) == {"fp32", "bf16"}


def test_bf16_reproduces_the_saved_agreement_and_keeps_probabilities_close(measured: Path) -> None:
    """The CI guard: bf16 autocast keeps >= 99 % of fp32's labels on the shipped test split (emulated where the CPU has no bf16)."""
    from samskaping.models import load_model

    texts = shipped_test_sentences()
    model = load_model(measured)
    expected, p32 = model.predict(texts), model.predict_proba(texts)
    assert min(len(set(labels)) for labels in expected.values()) >= 2  # a model that tells classes apart
    with _precision(model, "bf16"):
        got, p16 = model.predict(texts), model.predict_proba(texts)
    agreement = sum(np.sum(np.array(expected[ls]) == np.array(got[ls])) for ls in expected) / sum(
        len(v) for v in expected.values()
    )
    saved = json.loads((measured / BF16_FILE).read_text())["agreement"]["test"]["all"]
    assert agreement >= MIN_AGREEMENT
    assert agreement == pytest.approx(saved, abs=1e-9)
    # bf16 moves every probability a little: more than 0 (it did run in bf16) and less than 0.05
    moved = max(float(np.abs(p16[ls] - p32[ls]).max()) for ls in p32)
    assert 0 < moved < 0.05
    # what --bf16 runs (weights cast once, to_bf16) gives what was measured (autocast casting at each call)
    cast = to_bf16(load_model(measured))
    assert str(cast.network.encoder.encoder.layer[0].output.dense.weight.dtype) == "torch.bfloat16"
    p_cast = cast.predict_proba(texts)
    assert all(np.array_equal(p_cast[ls], p16[ls]) for ls in p16)


@needs_native
def test_predict_bf16_runs_and_says_so(measured: Path, tmp_path: Path) -> None:
    from samskaping.cli.predict import predict_main

    assert predict_main(predict_args(measured, tmp_path, "--bf16")) == 0
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["model"]["bf16"] is True and summary["model"]["runtime"] == "torch"


@needs_native
@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            lambda saved: saved["agreement"]["test"].update({"all": 0.974}),
            "--bf16 refused: bf16 kept only 97.4% of fp32's labels on this model's test split (at least 99% needed); leave out --bf16",
        ),
        (lambda saved: saved.update({"weights_digest": "0" * 64}), "the bf16 measurement in"),
        (None, "has no bf16 measurement; run 'python -m samskaping.speed calibrate"),
    ],
)
def test_predict_bf16_refuses_in_one_line(
    measured: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], edit, message
) -> None:
    from samskaping.cli.predict import predict_main

    folder = shutil.copytree(measured, tmp_path / "model")
    saved = json.loads((folder / BF16_FILE).read_text())
    if edit is None:
        (folder / BF16_FILE).unlink()
    else:
        edit(saved)
        (folder / BF16_FILE).write_text(json.dumps(saved))
    assert predict_main(predict_args(folder, tmp_path, "--bf16")) == 2
    assert message in one_error_line(capsys)


@pytest.mark.skipif(NATIVE, reason="this CPU has bf16 instructions")
def test_predict_bf16_refuses_a_cpu_without_bf16_instructions(
    measured: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from samskaping.cli.predict import predict_main

    assert predict_main(predict_args(measured, tmp_path, "--bf16")) == 2
    assert "has no bf16 instructions (AMX or AVX512-BF16)" in one_error_line(capsys)


def test_bf16_with_int8_is_one_line(measured: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from samskaping.cli.predict import predict_main

    assert predict_main(predict_args(measured, tmp_path, "--bf16", "--int8")) == 2
    assert "--bf16 runs the model in PyTorch; use it without --int8 and --runtime onnx" in one_error_line(capsys)
    assert not (tmp_path / "out").exists()


def test_bf16_refuses_a_baseline(small_baseline_dir: Path) -> None:
    from samskaping.models import load_model

    with pytest.raises(SamskapingError, match="--bf16 applies to transformer models; this is a baseline model"):
        bf16_model(load_model(small_baseline_dir))


@needs_native
def test_the_mlflow_model_runs_in_bf16_when_told(measured: Path, tmp_path: Path) -> None:
    import mlflow

    from samskaping.mlflow_model import save_pyfunc

    target = tmp_path / "pyfunc"
    save_pyfunc(measured, target)  # the model folder, bf16.json included, is the MLflow model's artifact
    frame = pd.DataFrame({"text": shipped_test_sentences()[:40]})
    in_bf16 = mlflow.pyfunc.load_model(str(target), model_config={"runtime": "bf16"})
    classifier = in_bf16.unwrap_python_model().classifier
    assert classifier.precision == "bf16" and classifier.backend is None
    by_bf16 = in_bf16.predict(frame)
    by_torch = mlflow.pyfunc.load_model(str(target), model_config={"runtime": "torch"}).predict(frame)
    labels = [c for c in by_torch.columns if c in ("conception", "factor", "polarity")]
    agreement = float(np.mean([(by_bf16[c] == by_torch[c]).mean() for c in labels]))
    assert agreement >= MIN_AGREEMENT
