"""runtime.prepare: one entry for every way a model runs, with the refusals predict.py has always given."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from samskaping.errors import SamskapingError
from samskaping.runtime import Predictor, RuntimeOptions, has_encoder, is_mlflow_uri, prepare


def test_options_refuse_bf16_with_int8_or_onnx_before_any_model_loads() -> None:
    message = "--bf16 runs the model in PyTorch; use it without --int8 and --runtime onnx"
    for options in ({"bf16": True, "int8": True}, {"bf16": True, "runtime": "onnx"}):
        with pytest.raises(SamskapingError) as caught:
            RuntimeOptions(**options)
        assert str(caught.value) == message


@pytest.mark.parametrize("key, value", [("runtime", "tensorrt"), ("device", "tpu"), ("export_place", "home")], ids=str)
def test_options_name_the_key_and_what_is_allowed(key: str, value: str) -> None:
    with pytest.raises(SamskapingError, match=rf"RuntimeOptions\.{key} must be one of .*; got '{value}'"):
        RuntimeOptions(**{key: value})


def test_options_are_frozen() -> None:
    with pytest.raises(AttributeError):
        RuntimeOptions().int8 = True  # type: ignore[misc]


def test_a_baseline_runs_as_it_is_and_records_no_runtime(small_baseline_dir: Path) -> None:
    predictor = prepare(str(small_baseline_dir))
    assert isinstance(predictor, Predictor)
    assert predictor.spec == str(small_baseline_dir)
    assert predictor.model.kind == "baseline" and not has_encoder(predictor.model)
    assert predictor.facts == {}
    # a model handed over in memory is used as it is
    assert prepare(predictor.model).model is predictor.model


@pytest.mark.parametrize("options", [{"int8": True}, {"bf16": True}, {"runtime": "onnx"}], ids=str)
def test_encoder_paths_refuse_a_baseline_naming_it(small_baseline_dir: Path, options: dict) -> None:
    with pytest.raises(SamskapingError) as caught:
        prepare(str(small_baseline_dir), RuntimeOptions(**options))
    assert str(caught.value) == (
        f"--int8, --bf16 and --runtime onnx apply to transformer models; {small_baseline_dir} is a baseline model"
    )


@pytest.mark.slow
def test_the_transformer_paths_record_how_the_model_runs(tiny_fitted_dir: Path, tmp_path: Path) -> None:
    folder = shutil.copytree(tiny_fitted_dir, tmp_path / "model", ignore=shutil.ignore_patterns("onnx"))
    in_torch = prepare(folder, RuntimeOptions(threads=1))
    assert in_torch.facts["runtime"] == "torch" and in_torch.model.backend is None
    assert in_torch.facts["threads"]["intra_op"] == 1
    assert {k: in_torch.facts[k] for k in ("int8", "bf16", "device")} == {"int8": False, "bf16": False, "device": "cpu"}
    texts = ["Kommunen skal styrke samarbeidet med frivillige lag.", "Planen gjelder fra 2025."]
    expected = in_torch.model.predict_proba(texts)
    in_onnx = prepare(folder, RuntimeOptions(runtime="onnx", threads=1))
    assert in_onnx.facts["runtime"] == "onnxruntime" and in_onnx.model.backend.precision == "fp32"
    assert (folder / "onnx").is_dir()  # export_place "model": beside the model
    got = in_onnx.model.predict_proba(texts)
    for ls, probs in expected.items():
        assert abs(got[ls] - probs).max() < 1e-4
    # without set_threads the process's thread settings are not recorded (the MLflow model, Spark)
    assert "threads" not in prepare(folder, RuntimeOptions(set_threads=False)).facts


@pytest.mark.slow  # about 3 s (measured with --durations)
def test_int8_without_a_saved_calibration_is_refused_as_before(tiny_fitted_dir: Path, tmp_path: Path) -> None:
    folder = shutil.copytree(tiny_fitted_dir, tmp_path / "model", ignore=shutil.ignore_patterns("onnx", "int8.json"))
    with pytest.raises(SamskapingError) as caught:
        prepare(folder, RuntimeOptions(int8=True, threads=1))
    assert f"{folder} has no int8 calibration; run 'python -m samskaping.speed calibrate {folder} --only int8'" in str(
        caught.value
    )


def test_mlflow_uris_are_told_from_folders() -> None:
    assert is_mlflow_uri("models:/samskaping@champion") and is_mlflow_uri("runs:/abc/model")
    assert not is_mlflow_uri("models/baseline")


def test_the_cache_folder_follows_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from samskaping.cache import cache_dir

    monkeypatch.setenv("SAMSKAPING_CACHE", str(tmp_path / "mine"))
    assert cache_dir() == tmp_path / "mine"
    monkeypatch.delenv("SAMSKAPING_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "xdg" / "samskaping"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache_dir() == tmp_path / "home" / ".cache" / "samskaping"
