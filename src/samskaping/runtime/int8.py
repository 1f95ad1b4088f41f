"""int8 that keeps fp32's labels: choose, per model, which layer parts stay in fp32 (``int8.json``)."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from samskaping.errors import SamskapingError
from samskaping.runtime.agreement import (
    MIN_AGREEMENT,
    label_agreement,
    model_and_splits,
    read_model_json,
    saved_test_agreement,
    write_json_atomic,
)
from samskaping.runtime.export import weights_digest
from samskaping.runtime.machine import _cpu_int8_flags, _cpu_name, tune_threads
from samskaping.runtime.onnx import use_onnx
from samskaping.runtime.quantize import Int8Recipe, remove_int8_files

log = logging.getLogger(__name__)

INT8_FILE = "int8.json"
INT8_FORMAT = 1
RANKING_SENTENCES = 256  # validation sentences the layer parts are ranked on by their local error
EFFECT_SENTENCES = 96  # ... and by their effect on the logits (one pass per part)
VALIDATION_GOAL = (
    0.995  # calibrate adds fp32 layer parts until the validation split agrees this well (a margin over 99 %)
)
_LINEAR_PART = re.compile(
    r"layer\.(\d+)\.(attention\.self\.(?:query|key|value)|attention\.output\.dense|intermediate\.dense|output\.dense)$"
)
_PART_NAME = {
    "attention.self.query": "qkv",
    "attention.self.key": "qkv",
    "attention.self.value": "qkv",
    "attention.output.dense": "attention_output",
    "intermediate.dense": "intermediate",
    "output.dense": "output",
}


def layer_part_of(module_name: str) -> str | None:
    """``encoder.layer.3.intermediate.dense`` -> ``layer.3.intermediate`` (None for other modules)."""
    match = _LINEAR_PART.search(module_name)
    return f"layer.{match.group(1)}.{_PART_NAME[match.group(2)]}" if match else None


def _fake_int8_activation(x: torch.Tensor) -> torch.Tensor:
    """ONNX Runtime's DynamicQuantizeLinear, quantised and back: uint8, one scale for the tensor, 0 exact."""
    lo, hi = torch.clamp(x.min(), max=0.0), torch.clamp(x.max(), min=0.0)
    scale = torch.clamp((hi - lo) / 255.0, min=1e-12)
    zero = torch.clamp(torch.round(-lo / scale), 0, 255)
    return (torch.clamp(torch.round(x / scale) + zero, 0, 255) - zero) * scale


def _fake_int8_weight(weight: torch.Tensor, reduce_range: bool) -> torch.Tensor:
    """Symmetric int8 per output channel (7-bit with ``reduce_range``), quantised and back."""
    q = 64.0 if reduce_range else 127.0
    scale = torch.clamp(weight.abs().amax(dim=1, keepdim=True) / q, min=1e-12)
    return torch.clamp(torch.round(weight / scale), -q, q) * scale


def _hook_linears(
    classifier: Any, reduce_range: bool, make_hook: Any
) -> tuple[dict[str, torch.Tensor], dict[str, list[str]], list[Any]]:
    """Fake-int8 weights of every encoder linear that belongs to a layer part, and a forward hook on each.

    ``make_hook(name, part)`` returns the hook of one linear. Returns the
    weights by module name, the module names by part, and the hook handles
    (remove them when done).
    """
    weights: dict[str, torch.Tensor] = {}
    parts: dict[str, list[str]] = {}
    handles = []
    for name, module in classifier.network.encoder.named_modules():
        part = layer_part_of(name)
        if part is None or type(module) is not nn.Linear:
            continue
        weights[name] = _fake_int8_weight(module.weight.detach(), reduce_range or part.endswith(".qkv"))
        parts.setdefault(part, []).append(name)
        handles.append(module.register_forward_hook(make_hook(name, part)))
    return weights, parts, handles


def layer_part_errors(
    classifier: Any, texts: Sequence[str], reduce_range: bool = True, batch_size: int | None = None
) -> dict[str, float]:
    """How much each layer part's int8 product disturbs its own output, on ``texts`` (one fp32 pass).

    For every encoder linear layer the int8 product (dynamic uint8 activations,
    per-channel int8 weights, as ONNX Runtime computes it) is compared with the
    fp32 one on the same inputs: ``sum |y_int8 - y|² / sum |y|²``, summed over
    the linears of a part (query, key and value are one part, ``qkv``, as in
    ONNX Runtime's fused attention, which always uses 7-bit weights).

    Returns:
        ``layer.<i>.<part>`` -> relative squared error, largest first.
    """
    errors: dict[str, list[float]] = {}
    weights: dict[str, torch.Tensor] = {}

    def record(name: str, part: str) -> Any:
        def hook(module: nn.Linear, args: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
            x = args[0]
            q = nn.functional.linear(_fake_int8_activation(x), weights[name], module.bias)
            err = errors.setdefault(part, [0.0, 0.0])
            err[0] += float((q - output).double().pow(2).sum())
            err[1] += float(output.double().pow(2).sum())

        return hook

    fakes, _, handles = _hook_linears(classifier, reduce_range, record)
    weights.update(fakes)
    backend, classifier.backend = getattr(classifier, "backend", None), None
    try:
        classifier.logits(list(texts), batch_size=batch_size)
    finally:
        classifier.backend = backend
        for handle in handles:
            handle.remove()
    ratios = {part: num / max(den, 1e-30) for part, (num, den) in errors.items()}
    return dict(sorted(ratios.items(), key=lambda kv: -kv[1]))


def layer_part_effects(
    classifier: Any, texts: Sequence[str], reduce_range: bool = True, batch_size: int | None = None
) -> dict[str, float]:
    """How far quantising each layer part alone moves the model's calibrated logits, on ``texts``.

    One pass per part with that part's products computed as ONNX Runtime's
    int8 computes them (see :func:`layer_part_errors`) and the rest in fp32;
    the effect is the mean squared change of the temperature-scaled logits
    (each row centred, as softmax ignores a constant), summed over label sets.
    Unlike the local error this sees what a part's noise does downstream.

    Returns:
        ``layer.<i>.<part>`` -> effect, largest first.
    """
    weights: dict[str, torch.Tensor] = {}
    active: set[str] = set()

    def quantised(name: str, part: str) -> Any:
        def hook(module: nn.Linear, args: tuple[torch.Tensor, ...], output: torch.Tensor) -> torch.Tensor | None:
            if part not in active:
                return None
            return nn.functional.linear(_fake_int8_activation(args[0]), weights[name], module.bias)

        return hook

    fakes, parts, handles = _hook_linears(classifier, reduce_range, quantised)
    weights.update(fakes)

    def scaled() -> dict[str, np.ndarray]:
        out = classifier.logits(list(texts), batch_size=batch_size)
        return {
            ls: (z / classifier.temperatures.get(ls, 1.0))
            - (z / classifier.temperatures.get(ls, 1.0)).mean(1, keepdims=True)
            for ls, z in out.items()
        }

    backend, classifier.backend = getattr(classifier, "backend", None), None
    try:
        base = scaled()
        effects = {}
        started = time.perf_counter()
        for number, part in enumerate(parts, start=1):
            active.clear()
            active.add(part)
            moved = scaled()
            effects[part] = float(sum(np.mean((moved[ls] - base[ls]) ** 2) for ls in base))
            if number % 8 == 0 or number == len(parts):  # a plain line now and then, so a log file shows progress
                log.info(
                    "int8: %d of %d layer parts ranked (%.0f s)", number, len(parts), time.perf_counter() - started
                )
    finally:
        active.clear()
        classifier.backend = backend
        for handle in handles:
            handle.remove()
    return dict(sorted(effects.items(), key=lambda kv: -kv[1]))


def _labels(
    classifier: Any, texts: Sequence[str], contexts: Sequence[str] | None, batch_size: int | None
) -> dict[str, list[str]]:
    """Labels as predict.py writes them under the training priors (argmax with the polarity rule)."""
    return classifier.predict(list(texts), batch_size=batch_size, contexts=contexts)


def calibrate(
    classifier: Any,
    validation: Any,
    test: Any,
    goal: float = VALIDATION_GOAL,
    reduce_range: bool = True,
    threads: int | None = None,
    ranking: str = "effects",
) -> dict[str, Any]:
    """Choose the int8 recipe of ``classifier`` on its validation split and measure it on its test split.

    1. Rank the encoder's layer parts by how far each alone moves the logits
       (:func:`layer_part_effects`, first 96 validation sentences; ``ranking="local"``:
       by their own output error, :func:`layer_part_errors`, first 256).
    2. Quantise with ONNX Runtime keeping the top ``k`` parts in fp32, for
       k = 0, 1, 2, 4, 8, ... until the validation labels agree with PyTorch
       fp32 on at least ``goal``; then halve the step back to the smallest such k.
    3. Measure that recipe's agreement (and accuracy) on the test split.

    Args:
        classifier: a fitted transformer classifier (PyTorch; its ONNX export is made or reused).
        validation: frame with ``text`` (and the label columns, optionally ``context``) to choose on.
        test: frame to measure the chosen recipe on.
        goal: validation agreement to reach (a margin over the 99 % that --int8 requires on test).
        reduce_range: 7-bit weights (the only safe choice for CPUs without VNNI).
        threads: ONNX Runtime threads.

    Returns:
        What ``int8.json`` holds: the recipe, agreements, accuracies, the search.
    """

    contexts = classifier.contexts

    started = time.perf_counter()
    batch = classifier.cfg.training.eval_batch_size
    backend, classifier.backend = getattr(classifier, "backend", None), None
    try:
        val_texts, test_texts = validation["text"].tolist(), test["text"].tolist()
        log.info("int8: fp32 labels of %d validation and %d test sentences", len(val_texts), len(test_texts))
        fp32_val = _labels(classifier, val_texts, contexts(validation), batch)
        fp32_test = _labels(classifier, test_texts, contexts(test), batch)
        log.info(
            "int8: ranking the encoder's layer parts by their effect (%s), then ONNX export and the search",
            f"{EFFECT_SENTENCES} sentences, one pass per part"
            if ranking == "effects"
            else f"{RANKING_SENTENCES} sentences",
        )
        if ranking == "effects":
            order = list(layer_part_effects(classifier, val_texts[:EFFECT_SENTENCES], reduce_range, batch))
        elif ranking == "local":
            order = list(layer_part_errors(classifier, val_texts[:RANKING_SENTENCES], reduce_range, batch))
        else:
            raise SamskapingError(f"ranking must be effects or local, got {ranking!r}")
        tried: dict[int, float] = {}
        search: list[dict[str, Any]] = []

        def agreement_with(k: int) -> float:
            if k not in tried:
                recipe = Int8Recipe(reduce_range=reduce_range, fp32_layers=tuple(order[:k]))
                use_onnx(classifier, threads=threads, recipe=recipe)
                got = _labels(classifier, val_texts, contexts(validation), batch)
                tried[k] = label_agreement(fp32_val, got)["all"]
                search.append({"fp32_parts": k, "validation_agreement": round(tried[k], 5)})
                log.info(
                    "int8 with %d of %d layer parts in fp32: %.2f%% of validation labels as fp32",
                    k,
                    len(order),
                    100 * tried[k],
                )
            return tried[k]

        k, previous = 0, -1
        while agreement_with(k) < goal and k < len(order):
            previous, k = k, min(len(order), max(1, 2 * k))
        low, high = previous + 1, k  # the smallest k that reaches the goal lies in [low, high]
        while low < high:
            mid = (low + high) // 2
            if agreement_with(mid) >= goal:
                high = mid
            else:
                low = mid + 1
        chosen = Int8Recipe(reduce_range=reduce_range, fp32_layers=tuple(order[:high]))
        use_onnx(classifier, threads=threads, recipe=chosen)
        remove_int8_files(
            classifier.backend.path.parent, keep=[chosen]
        )  # the search's other models (each as big as the encoder)
        log.info("int8: measuring the chosen recipe (%d layer parts in fp32) on the test split", high)
        int8_test = _labels(classifier, test_texts, contexts(test), batch)
        int8_val = _labels(classifier, val_texts, contexts(validation), batch)
    finally:
        classifier.backend = backend
    gold = {ls: test[ls].tolist() for ls in classifier.label_sets if ls in test.columns}
    import onnxruntime

    return {
        "format": INT8_FORMAT,
        "runtime": "onnxruntime",
        "weights_digest": weights_digest(classifier),
        "recipe": chosen.to_dict(),
        "recipe_text": chosen.describe(),
        "agreement": {"test": label_agreement(fp32_test, int8_test), "validation": label_agreement(fp32_val, int8_val)},
        "accuracy": (
            {"fp32": label_agreement(gold, fp32_test), "int8": label_agreement(gold, int8_test)} if gold else None
        ),
        "sentences": {"validation": len(val_texts), "test": len(test_texts)},
        "goal": {"validation": goal, "test": MIN_AGREEMENT},
        "ranking": order,
        "ranked_by": ranking,
        "search": search,
        "measured_with": {
            "onnxruntime": onnxruntime.__version__,
            "torch": torch.__version__,
            "cpu": _cpu_name(),
            "cpu_flags": _cpu_int8_flags(),
        },
        "seconds": round(time.perf_counter() - started, 1),
        "calibrated_at": datetime.now().isoformat(timespec="seconds"),
    }


def read_int8_calibration(folder: Path | str | None) -> dict[str, Any] | None:
    """``int8.json`` of a model folder, or None."""
    return read_model_json(folder, INT8_FILE)


def int8_model(classifier: Any, threads: int | None = None, min_agreement: float = MIN_AGREEMENT) -> Any:
    """Switch ``classifier`` to its saved int8 recipe (ONNX Runtime), or refuse in one line.

    Raises:
        SamskapingError: not a transformer model; no saved calibration; one made for other weights;
            or a saved test-split agreement below ``min_agreement``.
    """
    if not getattr(classifier, "supports_int8", False):
        raise SamskapingError(f"--int8 applies to transformer models; this is a {classifier.kind} model")
    saved, agreement = saved_test_agreement(classifier, INT8_FILE, "int8", "calibration", min_agreement)
    folder = classifier.source_folder
    recipe = Int8Recipe.from_dict(saved["recipe"])
    use_onnx(classifier, threads=threads, recipe=recipe, release_torch=True)  # the fp32 weights are not needed
    classifier.int8 = True
    log.info(
        "int8 (%d of the encoder's layer parts kept in fp32; the recipe is in %s) kept %.2f%% of fp32's labels on the "
        "test split when calibrated",
        len(recipe.fp32_layers),
        Path(folder) / INT8_FILE,
        100 * agreement,
    )
    return classifier


def calibrate_folder(
    folder: Path | str,
    data: Sequence[Path] | None = None,
    goal: float = VALIDATION_GOAL,
    threads: int | None = None,
    ranking: str = "effects",
) -> dict[str, Any]:
    """Calibrate the model in ``folder`` on its own validation and test splits and write ``int8.json`` there.

    Args:
        folder: a transformer model folder written by train.py.
        data: labelled files to split (default: the files the model was trained on, as its config names them).
        goal, ranking: see :func:`calibrate`.
        threads: CPU threads.

    Raises:
        SamskapingError: not a transformer model, the data is not here, or the folder cannot be written.
    """
    folder = Path(folder)
    classifier, splits, files, digest = model_and_splits(folder, data, capability="supports_int8", what="int8")
    tune_threads(threads)
    result = calibrate(classifier, splits["validation"], splits["test"], goal=goal, threads=threads, ranking=ranking)
    result["data"] = {"files": [str(f) for f in files], "digest": digest}
    write_json_atomic(folder, INT8_FILE, result)
    return result
