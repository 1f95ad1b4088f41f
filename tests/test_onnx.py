"""ONNX Runtime path: the same labels as PyTorch fp32, an export that follows the weights, and where it is kept."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from conftest import SHIPPED
from samskaping.errors import SamskapingError
from samskaping.labels import LABEL_SETS
from samskaping.runtime.export import LAYER_PARTS, ensure_export, find_export, weights_digest
from samskaping.runtime.onnx import use_onnx, use_torch
from samskaping.runtime.quantize import Int8Recipe, quantizable_nodes


def shipped_split(split: str) -> pd.DataFrame:
    frame = pd.read_json(SHIPPED, lines=True, dtype=False)
    return frame[frame["split"] == split].reset_index(drop=True)


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty user cache, so no test sees another's exports."""
    monkeypatch.setenv("SAMSKAPING_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.fixture
def model_copy(tiny_fitted_dir: Path, tmp_path: Path, cache: Path):
    """A writable copy of the tiny fine-tuned model, loaded."""
    from samskaping.models import load_model

    folder = shutil.copytree(tiny_fitted_dir, tmp_path / "model", ignore=shutil.ignore_patterns("onnx", "int8.json"))
    return load_model(folder)


def test_onnx_fp32_gives_pytorch_labels_and_probabilities_on_the_test_split(model_copy) -> None:
    test = shipped_split("test")
    texts = test["text"].tolist()
    torch_probs = model_copy.predict_proba(texts)
    torch_labels = model_copy.predict(texts)
    assert min(len(set(v)) for v in torch_labels.values()) >= 2  # a model that tells classes apart
    use_onnx(model_copy, threads=1)
    assert model_copy.backend is not None and model_copy.backend.precision == "fp32"
    onnx_probs = model_copy.predict_proba(texts)
    onnx_labels = model_copy.predict(texts)
    same = sum(a == b for ls in torch_labels for a, b in zip(torch_labels[ls], onnx_labels[ls], strict=True))
    assert same / (3 * len(texts)) >= 0.999
    for ls in LABEL_SETS:
        np.testing.assert_allclose(onnx_probs[ls], torch_probs[ls], atol=1e-4, rtol=0)
    # dynamic axes: other batch sizes (and so other padded lengths) give the same numbers
    again = model_copy.predict_proba(texts[:37], batch_size=5)
    np.testing.assert_allclose(again["factor"], torch_probs["factor"][:37], atol=1e-4, rtol=0)
    use_torch(model_copy)
    assert model_copy.backend is None


def test_the_export_sits_beside_the_model_and_records_the_weights(model_copy, cache: Path) -> None:
    folder = ensure_export(model_copy)
    assert folder == model_copy.source_folder / "onnx"
    facts = json.loads((folder / "export.json").read_text())
    assert facts["weights_digest"] == weights_digest(model_copy)
    assert facts["fused_operators"].get("Attention") == 2  # one fused attention per layer: the optimizer ran
    assert facts["check_max_logit_difference"] < 1e-4
    written = (folder / "model.onnx").stat().st_mtime_ns
    assert ensure_export(model_copy) == folder
    assert (folder / "model.onnx").stat().st_mtime_ns == written  # reused, not exported again
    assert not cache.exists()


def test_released_pytorch_weights_come_back_when_pytorch_is_needed(model_copy, tmp_path: Path) -> None:
    """use_onnx(release_torch=True) frees the encoder's PyTorch weights; PyTorch, saving and the digest still work."""
    texts = shipped_split("test")["text"].tolist()[:64]
    digest = weights_digest(model_copy)
    torch_probs = model_copy.predict_proba(texts)
    use_onnx(model_copy, threads=1, release_torch=True)
    assert model_copy.encoder_released
    assert all(p.device.type == "meta" for p in model_copy.network.encoder.parameters())  # no storage held
    assert weights_digest(model_copy) == digest
    onnx_probs = model_copy.predict_proba(texts)
    assert max(float(np.abs(onnx_probs[ls] - torch_probs[ls]).max()) for ls in torch_probs) <= 1e-4
    model_copy.to(torch.device("cpu"))  # predict.py moves the model to its device: no reload needed for the CPU
    assert model_copy.encoder_released
    use_torch(model_copy)
    assert not model_copy.encoder_released
    again = model_copy.predict_proba(texts)
    assert all(np.array_equal(again[ls], torch_probs[ls]) for ls in torch_probs)
    assert weights_digest(model_copy) == digest
    # a model whose ONNX session is dropped without use_torch reads its weights again by itself
    use_onnx(model_copy, threads=1, release_torch=True)
    model_copy.backend = None
    assert all(np.array_equal(model_copy.predict_proba(texts)[ls], torch_probs[ls]) for ls in torch_probs)
    # saving a released model writes the real weights
    use_onnx(model_copy, threads=1, release_torch=True)
    from samskaping.models import load_model

    saved = load_model(model_copy.save(tmp_path / "saved"))
    assert weights_digest(saved) == digest


def test_a_model_built_in_memory_keeps_its_weights(model_copy) -> None:
    model_copy.source_folder = None  # as a model just trained, before it is saved
    use_onnx(model_copy, threads=1, release_torch=True)
    assert not model_copy.encoder_released
    assert all(p.device.type == "cpu" for p in model_copy.network.encoder.parameters())


def test_changed_weights_are_exported_again(model_copy) -> None:
    texts = shipped_split("test")["text"].tolist()[:20]
    use_onnx(model_copy, threads=1)
    before = weights_digest(model_copy)
    with torch.no_grad():
        model_copy.network.heads["factor"].bias.add_(0.5)
    assert weights_digest(model_copy) != before
    use_onnx(model_copy, threads=1)  # finds the export stale and exports again
    facts = json.loads((model_copy.source_folder / "onnx" / "export.json").read_text())
    assert facts["weights_digest"] == weights_digest(model_copy)
    onnx_logits = model_copy.logits(texts)["factor"]
    use_torch(model_copy)
    np.testing.assert_allclose(onnx_logits, model_copy.logits(texts)["factor"], atol=1e-4)


def test_a_read_only_model_folder_exports_into_the_cache(
    model_copy, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # tests may run as root, for whom no folder is read-only: the check itself is replaced
    monkeypatch.setattr("samskaping.runtime.export._writable", lambda folder: False)
    folder = ensure_export(model_copy)
    assert folder.parent == cache / "onnx"
    assert folder.name == weights_digest(model_copy)[:20]
    assert not (model_copy.source_folder / "onnx").exists()
    assert find_export(model_copy) == folder  # and is found there next time


def test_int8_recipe_names_are_checked_and_map_to_graph_nodes(model_copy) -> None:
    with pytest.raises(SamskapingError, match="unknown layer names"):
        Int8Recipe(fp32_layers=("layer.0.ffn",))
    with pytest.raises(SamskapingError, match="unknown keys"):
        Int8Recipe.from_dict({"per_channel": True, "smooth": 0.5})
    recipe = Int8Recipe(fp32_layers=("layer.1.output", "layer.0.qkv", "layer.1.output"))
    assert recipe.fp32_layers == ("layer.0.qkv", "layer.1.output")
    assert Int8Recipe.from_dict(recipe.to_dict()) == recipe
    parts = quantizable_nodes(ensure_export(model_copy) / "model.onnx")
    assert list(parts) == [f"layer.{i}.{p}" for i in range(2) for p in LAYER_PARTS]
    use_onnx(model_copy, threads=1, recipe=recipe)
    assert model_copy.backend.precision == "int8"
    import onnx

    graph = onnx.load(str(model_copy.backend.path)).graph
    kinds = [n.op_type for n in graph.node]
    assert kinds.count("QAttention") == 1 and kinds.count("Attention") == 1  # layer 0's qkv stayed fp32
    assert (
        kinds.count("MatMulInteger") + kinds.count("DynamicQuantizeMatMul") == 5
    )  # 6 products, layer 1's output kept fp32


@pytest.mark.slow
def test_predict_cli_runtime_onnx_writes_the_torch_labels(model_copy, tmp_path: Path) -> None:
    from samskaping.cli.predict import predict_main

    table = tmp_path / "sentences.csv"
    shipped_split("test").head(60)[["id", "text"]].to_csv(table, index=False)
    folder = str(model_copy.source_folder)
    assert (
        predict_main([str(table), "--model", folder, "--output", str(tmp_path / "torch"), "--quiet", "--threads", "1"])
        == 0
    )
    assert (
        predict_main(
            [
                str(table),
                "--model",
                folder,
                "--output",
                str(tmp_path / "onnx"),
                "--quiet",
                "--threads",
                "1",
                "--runtime",
                "onnx",
            ]
        )
        == 0
    )
    summary = json.loads((tmp_path / "onnx" / "summary.json").read_text())
    assert summary["model"]["runtime"] == "onnxruntime"
    by_torch = pd.read_csv(tmp_path / "torch" / "sentences.csv")
    by_onnx = pd.read_csv(tmp_path / "onnx" / "sentences.csv")
    for ls in LABEL_SETS:
        assert (by_torch[ls] == by_onnx[ls]).mean() >= 0.99


def test_onnx_and_int8_refuse_a_baseline() -> None:
    from samskaping.config import validate_config
    from samskaping.models import build_model
    from samskaping.runtime.int8 import int8_model

    cfg = validate_config(
        {
            "data": {"path": str(SHIPPED)},
            "model": {"kind": "baseline", "name": "tfidf-logreg"},
            "tracking": {"enabled": False},
        }
    )
    baseline = build_model(cfg, progress=False)
    with pytest.raises(SamskapingError, match="applies to transformer models"):
        use_onnx(baseline)
    with pytest.raises(SamskapingError, match="applies to transformer models"):
        int8_model(baseline)


def test_the_mlflow_model_runs_in_onnx_runtime_unless_told_otherwise(
    tiny_fitted_dir: Path, tmp_path: Path, cache: Path
) -> None:
    import mlflow

    from samskaping.mlflow_model import requirements, save_pyfunc

    assert any(r.startswith("onnxruntime==") for r in requirements("transformer"))
    target = tmp_path / "pyfunc"
    save_pyfunc(tiny_fitted_dir, target)
    texts = shipped_split("test")["text"].tolist()[:30]
    loaded = mlflow.pyfunc.load_model(str(target))
    classifier = loaded.unwrap_python_model().classifier
    assert classifier.backend is not None and classifier.backend.precision == "fp32"
    assert find_export(classifier).parent == cache / "onnx"  # MLflow's copy is temporary: the export goes to the cache
    by_onnx = loaded.predict(pd.DataFrame({"text": texts}))
    in_torch = mlflow.pyfunc.load_model(str(target), model_config={"runtime": "torch"})
    assert in_torch.unwrap_python_model().classifier.backend is None
    by_torch = in_torch.predict(pd.DataFrame({"text": texts}))
    for ls in LABEL_SETS:
        assert by_onnx[ls].tolist() == by_torch[ls].tolist()
    numbers = by_torch.select_dtypes("number").columns
    np.testing.assert_allclose(by_onnx[numbers].to_numpy(float), by_torch[numbers].to_numpy(float), atol=1e-4)
