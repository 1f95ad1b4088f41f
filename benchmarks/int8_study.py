"""Which int8 keeps fp32's labels? Every fix issue 16 names, measured on fine-tuned models (one-off study).

    python benchmarks/int8_study.py models/minilm-offline [models/e5 ...] [--out benchmarks/results/int8-study.json]

For each model folder: label agreement with PyTorch fp32 (labels as predict.py
writes them) on the shipped validation and test splits, accuracy against the
gold labels, and a rough speed (one pass over the test split; compare within
a model only), for

* PyTorch dynamic int8 (what ``--int8`` was before issue 16), plain and with
  SmoothQuant-style smoothing (alpha 0.5 and 0.8, 128 train sentences);
* ONNX Runtime dynamic int8 on every layer: per-tensor and per-channel
  weights, 8-bit and reduced-range 7-bit weights;
* the same with fixed sets of layer parts kept in fp32 (the last layer, every
  FFN output, every attention output);
* ONNX Runtime static int8 (``quantize_static``, QDQ, per-channel weights,
  activation ranges from 256 train-split sentences; MinMax and Percentile);
* ONNX Runtime dynamic int8 after smoothing (SmoothQuant, alpha 0.5);
* the recipe ``python -m samskaping.speed calibrate`` chooses (the model's
  ``int8.json``, made now when missing).

The benchmark (``benchmarks/benchmark.py``) carries the variants that matter
forward; this script is the evidence for the choice.
"""

from __future__ import annotations

import argparse
import copy
import json
import logging
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data" / "samskaping-sentences.jsonl"
log = logging.getLogger("int8_study")


def frames() -> dict[str, Any]:
    import pandas as pd

    frame = pd.read_json(DATA, lines=True, dtype=False)
    return {split: frame[frame["split"] == split].reset_index(drop=True) for split in ("train", "validation", "test")}


class Texts:
    """Feeds ONNX Runtime's static calibration with padded batches of train sentences."""

    def __init__(self, classifier: Any, texts: Sequence[str], batch: int = 32) -> None:
        ids = classifier._encode(list(texts))
        order = np.argsort([len(x) for x in ids], kind="stable")
        self.batches = []
        for start in range(0, len(order), batch):
            input_ids, mask = classifier._collate([ids[i] for i in order[start : start + batch]])
            self.batches.append({"input_ids": input_ids.numpy(), "attention_mask": mask.numpy()})

    def reader(self) -> Any:
        from onnxruntime.quantization import CalibrationDataReader

        batches = iter(self.batches)

        class Reader(CalibrationDataReader):
            def get_next(self) -> dict[str, np.ndarray] | None:
                return next(batches, None)

        return Reader()


def study(folder: Path, threads: int, seed: int) -> dict[str, Any]:
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static

    from samskaping.runtime import load_any_model
    from samskaping.runtime.agreement import label_agreement
    from samskaping.runtime.export import (
        FP32_FILE,
        LAYER_PARTS,
        _quiet_onnx_tools,
        ensure_export,
        export_onnx,
        weights_digest,
    )
    from samskaping.runtime.int8 import read_int8_calibration
    from samskaping.runtime.onnx import OnnxBackend
    from samskaping.runtime.quantize import Int8Recipe, ensure_int8, quantize_export
    from torch_int8 import _smooth_linears, input_channel_maxima, quantize_int8

    parts = frames()
    fp32 = load_any_model(str(folder))
    batch = fp32.cfg.training.eval_batch_size
    texts = {split: parts[split]["text"].tolist() for split in ("validation", "test")}
    gold = {ls: parts["test"][ls].tolist() for ls in fp32.label_sets}
    calibration = parts["train"].sample(128, random_state=seed)["text"].tolist()
    static_texts = parts["train"].sample(256, random_state=seed + 1)["text"].tolist()

    def measure(classifier: Any, backend: Any = None) -> dict[str, Any]:
        classifier.backend = backend
        try:
            started = time.perf_counter()
            test = classifier.predict(texts["test"], batch_size=batch)
            seconds = time.perf_counter() - started
            validation = classifier.predict(texts["validation"], batch_size=batch)
        finally:
            classifier.backend = None
        return {"test": test, "validation": validation, "test_sentences_per_second": len(texts["test"]) / seconds}

    reference = measure(fp32)
    results: dict[str, Any] = {}

    def record(name: str, got: dict[str, Any], note: str = "") -> None:
        results[name] = {
            "validation_agreement": label_agreement(reference["validation"], got["validation"]),
            "test_agreement": label_agreement(reference["test"], got["test"]),
            "test_accuracy": label_agreement(gold, got["test"]),
            "test_sentences_per_second": got["test_sentences_per_second"],
            "note": note,
        }
        log.info(
            "%s %-34s validation %.2f%%, test %.2f%% of fp32's labels, %.1f sent/s",
            folder.name,
            name,
            100 * results[name]["validation_agreement"]["all"],
            100 * results[name]["test_agreement"]["all"],
            got["test_sentences_per_second"],
        )

    record("pytorch-fp32", reference, "the reference")
    fused = ensure_export(fp32)
    record("onnx-fp32", measure(fp32, OnnxBackend(fused / FP32_FILE, fp32.label_sets, threads)))

    # PyTorch dynamic int8, plain and smoothed
    record(
        "pytorch-int8",
        measure(quantize_int8(fp32)),
        "torch.ao quantize_dynamic, per-channel weights (fbgemm: 7-bit activations)",
    )
    maxima = input_channel_maxima(fp32, calibration)
    for alpha in (0.5, 0.8):
        record(f"pytorch-int8-smoothed-{alpha}", measure(quantize_int8(fp32, activation_maxima=maxima, alpha=alpha)))

    # ONNX Runtime dynamic int8 on every layer, and with fixed parts kept in fp32
    layers = fp32.network.encoder.config.num_hidden_layers
    variants = {
        "onnx-int8-per-tensor-8bit": Int8Recipe(per_channel=False, reduce_range=False),
        "onnx-int8-per-channel-8bit": Int8Recipe(reduce_range=False),
        "onnx-int8-per-channel-7bit": Int8Recipe(),
        "onnx-int8-7bit-last-layer-fp32": Int8Recipe(fp32_layers=tuple(f"layer.{layers - 1}.{p}" for p in LAYER_PARTS)),
        "onnx-int8-7bit-ffn-output-fp32": Int8Recipe(fp32_layers=tuple(f"layer.{i}.output" for i in range(layers))),
        "onnx-int8-7bit-attention-output-fp32": Int8Recipe(
            fp32_layers=tuple(f"layer.{i}.attention_output" for i in range(layers))
        ),
    }
    with tempfile.TemporaryDirectory(prefix="int8-study-") as tmp:
        work = Path(tmp)
        for name, recipe in variants.items():  # written here, not into the model's onnx/ folder
            quantize_export(fused / FP32_FILE, work / f"{name}.onnx", recipe)
            record(
                name,
                measure(fp32, OnnxBackend(work / f"{name}.onnx", fp32.label_sets, threads, "int8")),
                recipe.describe(),
            )
        # static int8 on the unfused graph (the fused Attention has no static QDQ form)
        export_onnx(fp32, work / "plain", fuse=False)
        feed = Texts(fp32, static_texts)
        for method in ("MinMax", "Percentile"):
            target = work / f"static-{method}.onnx"
            with _quiet_onnx_tools():
                quantize_static(
                    work / "plain" / FP32_FILE,
                    target,
                    feed.reader(),
                    quant_format=QuantFormat.QDQ,
                    op_types_to_quantize=["MatMul"],
                    per_channel=True,
                    reduce_range=True,
                    activation_type=QuantType.QUInt8,
                    weight_type=QuantType.QInt8,
                    calibrate_method=getattr(CalibrationMethod, method),
                    extra_options={"MatMulConstBOnly": True, "CalibMovingAverage": method == "MinMax"},
                )
            record(
                f"onnx-int8-static-{method.lower()}",
                measure(fp32, OnnxBackend(target, fp32.label_sets, threads, "int8")),
                "quantize_static QDQ, per-channel 7-bit weights, uint8 activations, 256 train sentences",
            )
        # SmoothQuant before ONNX Runtime's dynamic int8 (the Mul before each product stops the attention fusion)
        smoothed = copy.copy(fp32)
        smoothed.network = copy.deepcopy(fp32.network)
        _smooth_linears(smoothed.network.encoder, maxima, 0.5)
        export_onnx(smoothed, work / "smoothed", fuse=False)
        target = work / "smoothed-int8.onnx"
        with _quiet_onnx_tools():
            from onnxruntime.quantization import quantize_dynamic

            quantize_dynamic(
                work / "smoothed" / FP32_FILE,
                target,
                op_types_to_quantize=["MatMul"],
                per_channel=True,
                reduce_range=True,
                weight_type=QuantType.QInt8,
                extra_options={"MatMulConstBOnly": True},
            )
        record(
            "onnx-int8-7bit-smoothed-0.5",
            measure(fp32, OnnxBackend(target, fp32.label_sets, threads, "int8")),
            "SmoothQuant alpha 0.5 (128 train sentences) then dynamic int8, unfused graph",
        )

    # the search of python -m samskaping.speed calibrate, with each ranking of the layer parts
    from samskaping.runtime.int8 import calibrate

    searches = {}
    for ranking in ("local", "effects"):
        found = calibrate(fp32, parts["validation"], parts["test"], threads=threads, ranking=ranking)
        searches[ranking] = {k: found[k] for k in ("recipe_text", "search", "ranking", "agreement", "seconds")}
        recipe = Int8Recipe.from_dict(found["recipe"])
        record(
            f"onnx-int8-search-{ranking}",
            measure(fp32, OnnxBackend(ensure_int8(fp32, recipe), fp32.label_sets, threads, "int8")),
            f"calibrate(ranking={ranking!r}): {recipe.describe()}",
        )

    saved = read_int8_calibration(folder)
    if saved is None or saved.get("weights_digest") != weights_digest(fp32):
        from samskaping.runtime.int8 import calibrate_folder

        saved = calibrate_folder(folder, data=[DATA], threads=threads)
    recipe = Int8Recipe.from_dict(saved["recipe"])
    record(
        "onnx-int8-calibrated",
        measure(fp32, OnnxBackend(ensure_int8(fp32, recipe), fp32.label_sets, threads, "int8")),
        f"python -m samskaping.speed calibrate: {recipe.describe()}",
    )
    return {
        "model": str(folder),
        "name": fp32.cfg.model.name,
        "sentences": {k: len(v) for k, v in texts.items()},
        "calibration": {
            k: saved[k] for k in ("recipe_text", "search", "ranking", "ranked_by", "agreement") if k in saved
        },
        "searches": searches,
        "variants": results,
    }


def render(res: dict[str, Any]) -> str:
    lines = [f"int8 study — {res['started']} — {res['machine']}", ""]
    for model in res["models"]:
        lines.append(
            f"{model['model']} ({model['name']}); validation {model['sentences']['validation']}, test "
            f"{model['sentences']['test']} sentences x 3 label sets"
        )
        lines.append(f"  {'variant':<38} {'valid.':>8} {'test':>8} {'accuracy':>9} {'sent/s':>8}")
        for name, v in model["variants"].items():
            lines.append(
                f"  {name:<38} {v['validation_agreement']['all']:>8.2%} {v['test_agreement']['all']:>8.2%} "
                f"{v['test_accuracy']['all']:>9.3f} {v['test_sentences_per_second']:>8.1f}"
            )
        lines.append(f"  calibrated: {model['calibration'].get('recipe_text')}")
        lines.append("")
    lines.append(
        "agreement: labels equal to PyTorch fp32's (as predict.py writes them); speed: one pass, rough (compare within "
        "a model)"
    )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+", type=Path, help="fine-tuned transformer model folders")
    parser.add_argument("--out", type=Path, help="write JSON here and the table next to it as .txt")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(message)s", datefmt="%H:%M:%S", stream=sys.stderr)
    log.setLevel(logging.INFO)
    from transformers.utils import logging as hf_logging

    from samskaping.runtime.machine import _cpu_name, tune_threads

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    threads = tune_threads()["intra_op"]
    import os

    res = {
        "started": time.strftime("%Y-%m-%d %H:%M:%S"),
        "machine": f"{_cpu_name()}, {threads} threads",
        "load_average_at_start": list(os.getloadavg()),
        "models": [study(folder, threads, args.seed) for folder in args.models],
    }
    res["load_average_at_end"] = list(os.getloadavg())
    table = render(res)
    print(table)
    if args.out:
        args.out.write_text(json.dumps(res, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        args.out.with_suffix(".txt").write_text(table + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
