"""CPU speed helpers: thread settings, int8 that keeps fp32's labels, FLOP accounting.

None of this changes what a model predicts in fp32. The int8 path of
``predict.py --int8`` is ONNX Runtime's dynamic quantisation
(:mod:`samskaping.onnx_runtime`) with a recipe chosen per model by
:func:`calibrate` (``python -m samskaping.speed calibrate MODEL``): per-channel
7-bit weights, and the layer parts whose int8 products disturb the logits
most kept in fp32, added one by one until int8 keeps at least 99.5 % of
fp32's labels on the validation split. The agreement on the test split is
saved with the model (``int8.json``) and ``--int8`` refuses a model whose
saved agreement is below 99 % (:func:`int8_model`).

:func:`quantize_int8` is the earlier PyTorch path (eager dynamic quantisation,
``torch.ao.quantization.quantize_dynamic``, optionally smoothed); the
benchmark keeps it as a comparison. PyTorch marks the ``torch.ao.quantization``
namespace deprecated in favour of ``torchao`` but it still ships and works in
torch 2.13; the warning is silenced and the import isolated in
:func:`_quantize_dynamic`.
"""

from __future__ import annotations

import argparse
import copy
import json
import logging
import os
import platform
import re
import statistics
import sys
import time
import warnings
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from samskaping.errors import SamskapingError

log = logging.getLogger(__name__)

_INTEROP_SET = False


def physical_cores() -> int:
    """Physical cores this process may run on (hyper-thread siblings counted once).

    Reads the CPU topology under ``/sys``; where that is missing, falls back to
    the number of CPUs in the affinity mask.
    """
    try:
        allowed = sorted(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return max(1, (os.cpu_count() or 2) // 2)
    cores = set()
    for cpu in allowed:
        siblings = Path(f"/sys/devices/system/cpu/cpu{cpu}/topology/thread_siblings_list")
        try:
            cores.add(siblings.read_text().strip())
        except OSError:
            return len(allowed)
    return max(1, len(cores))


def tune_threads(threads: int | None = None) -> dict[str, int]:
    """Use one intra-op thread per physical core; set inter-op threads once.

    Hyper-threads share a core's vector units, so GEMM-bound inference gains
    nothing from them and loses to contention. ``torch.set_num_interop_threads``
    may only be called once per process and before any inter-op work starts;
    later calls keep whatever is set, so calling this twice is safe.

    Args:
        threads: intra-op threads to use (default: :func:`physical_cores`).

    Returns:
        The intra-op and inter-op thread counts now in effect.
    """
    global _INTEROP_SET
    n = int(threads or physical_cores())
    if n < 1:
        raise SamskapingError(f"threads must be at least 1, got {n}")
    torch.set_num_threads(n)
    if not _INTEROP_SET:
        try:
            # inference runs one graph at a time: inter-op parallelism only competes with intra-op threads
            torch.set_num_interop_threads(1)
        except RuntimeError as exc:  # already started or set elsewhere; keep it
            log.debug("inter-op threads left at %d (%s)", torch.get_num_interop_threads(), exc)
        _INTEROP_SET = True
    return {"intra_op": torch.get_num_threads(), "inter_op": torch.get_num_interop_threads()}


def _quantize_dynamic(module: nn.Module) -> nn.Module:
    """``quantize_dynamic`` on the ``nn.Linear`` layers of ``module``, in place, int8 weights per output channel."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r".*torch\.ao\.quantization is deprecated.*")
        warnings.filterwarnings("ignore", message=r".*quantize_per_(tensor|channel).*deprecated.*")
        try:
            from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic
        except ImportError as exc:  # pragma: no cover - depends on the torch version
            raise SamskapingError(
                f"int8 quantisation is not available in torch {torch.__version__} ({exc}); run in fp32 instead"
            ) from exc
        # per-channel weight scales: on minilm-offline 93% of labels stay equal vs 91% per-tensor, at the same speed
        return quantize_dynamic(module, {nn.Linear: per_channel_dynamic_qconfig}, inplace=True)


class SmoothedLinear(nn.Module):
    """``inner(x / s)``, where ``inner`` holds ``W·diag(s)``: the same product, easier to quantise.

    Dynamic quantisation gives a whole activation tensor one int8 scale, so a
    few large channels (BERT has them) leave the rest with little precision.
    Dividing each input channel by ``s`` evens them out; multiplying the
    weight's columns by ``s`` undoes it exactly in real arithmetic
    (SmoothQuant, Xiao et al. 2023).
    """

    def __init__(self, inner: nn.Module, inv_scale: torch.Tensor) -> None:
        super().__init__()
        self.inner = inner
        self.register_buffer("inv_scale", inv_scale)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.inner(x * self.inv_scale)


def input_channel_maxima(classifier: Any, texts: Sequence[str]) -> dict[str, torch.Tensor]:
    """Largest ``|x|`` per input channel of every encoder ``nn.Linear``, over ``texts`` (fp32 run).

    The result (a few kB) can be saved with a model (e.g. with safetensors) and
    passed to :func:`quantize_int8` as ``activation_maxima``, so that loading a
    model for int8 prediction needs no calibration pass.
    """
    maxima: dict[str, torch.Tensor] = {}

    def record(name: str) -> Any:
        def hook(_module: nn.Module, args: tuple[torch.Tensor, ...]) -> None:
            x = args[0].detach().abs().reshape(-1, args[0].shape[-1]).amax(0)
            maxima[name] = torch.maximum(maxima[name], x) if name in maxima else x

        return hook

    handles = [m.register_forward_pre_hook(record(n)) for n, m in classifier.network.encoder.named_modules() if type(m) is nn.Linear]
    try:
        classifier.predict_proba(list(texts))
    finally:
        for handle in handles:
            handle.remove()
    return maxima


def _smooth_linears(encoder: nn.Module, maxima: dict[str, torch.Tensor], alpha: float) -> None:
    """Rescale each calibrated ``nn.Linear`` and wrap it in :class:`SmoothedLinear` (still fp32)."""
    for parent_name, parent in list(encoder.named_modules()):
        for child_name, child in list(parent.named_children()):
            name = f"{parent_name}.{child_name}" if parent_name else child_name
            if type(child) is not nn.Linear or name not in maxima:
                continue
            activation = maxima[name].clamp(min=1e-5)
            weight = child.weight.detach().abs().amax(0).clamp(min=1e-5)
            scale = (activation**alpha / weight ** (1.0 - alpha)).clamp(min=1e-5)
            with torch.no_grad():
                child.weight.mul_(scale)
            setattr(parent, child_name, SmoothedLinear(child, 1.0 / scale))


def quantize_int8(
    classifier: Any,
    inplace: bool = False,
    calibration_texts: Sequence[str] | None = None,
    alpha: float = 0.8,
    activation_maxima: dict[str, torch.Tensor] | None = None,
) -> Any:
    """Dynamic int8 quantisation of the encoder's linear layers, for CPU inference.

    Weights are stored as int8 with one scale per output channel; activations
    are quantised per tensor at run time (fbgemm kernels). The classification
    heads stay in fp32: they cost nothing and keep the last step exact. The
    result predicts only; do not train or save it.

    Labels can differ from fp32: on the shipped test split with the fine-tuned
    minilm-offline model about 93 % of labels stay the same, about 97 % with
    calibration (``benchmarks/benchmark.py`` measures it). Keep it opt-in.

    Args:
        classifier: a fitted :class:`~samskaping.models.transformer.TransformerClassifier`.
        inplace: quantise ``classifier`` itself instead of a copy (saves the
            memory of a second model).
        calibration_texts: sentences to measure activation ranges on before
            quantising (a fixed sample, e.g. 128 training sentences, so that
            results do not depend on the input); each layer's input channels
            are then evened out (:class:`SmoothedLinear`). ``None``: no smoothing.
        alpha: how much of the activations' range moves into the weights
            (0..1); 0.8 was best on the validation split.
        activation_maxima: the output of :func:`input_channel_maxima`, instead
            of ``calibration_texts``.

    Returns:
        The quantised classifier.

    Raises:
        SamskapingError: not a transformer classifier, or quantisation unavailable.
    """
    network = getattr(classifier, "network", None)
    if network is None or not hasattr(network, "encoder"):
        raise SamskapingError(f"int8 quantisation needs a transformer model, got kind {getattr(classifier, 'kind', type(classifier).__name__)!r}")
    if not 0.0 <= alpha <= 1.0:
        raise SamskapingError(f"alpha must be between 0 and 1, got {alpha}")
    if quantized_linear_count(network) and not linear_count(network.encoder):
        return classifier  # already quantised
    if calibration_texts and activation_maxima:
        raise SamskapingError("give calibration_texts or activation_maxima, not both")
    maxima = activation_maxima or (input_channel_maxima(classifier, calibration_texts) if calibration_texts else None)
    backend, classifier.backend = getattr(classifier, "backend", None), None  # an ONNX Runtime session cannot be copied
    try:
        target = classifier if inplace else copy.deepcopy(classifier)
    finally:
        classifier.backend = backend
    target.network.eval()
    if maxima:
        _smooth_linears(target.network.encoder, maxima, alpha)
    target.network.encoder = _quantize_dynamic(target.network.encoder)
    target.int8 = True
    log.info("quantised %d linear layers of the encoder to int8%s", quantized_linear_count(target.network),
             " (smoothed)" if maxima else "")
    return target


def linear_count(module: nn.Module) -> int:
    """Number of plain (float) ``nn.Linear`` layers in ``module``."""
    return sum(type(m) is nn.Linear for m in module.modules())


def quantized_linear_count(module: nn.Module) -> int:
    """Number of dynamically quantised linear layers in ``module``."""
    from torch.ao.nn.quantized.dynamic import Linear as DynamicLinear

    return sum(isinstance(m, DynamicLinear) for m in module.modules())


def encoder_flops(tokens: int, layers: int, hidden: int, intermediate: int) -> float:
    """Forward FLOPs of a BERT-style encoder on one sequence of ``tokens`` tokens.

    Per layer: ``2·T·(4·h² + 2·h·ff)`` for the Q, K, V, output and two
    feed-forward projections, plus ``4·T²·h`` for the attention scores and the
    weighted sum. Embeddings, layer norms, softmax and GELU are left out
    (they are not matrix products), so this is a lower bound of the work.
    """
    t, h, ff = float(tokens), float(hidden), float(intermediate)
    return layers * (2.0 * t * (4.0 * h * h + 2.0 * h * ff) + 4.0 * t * t * h)


def matmul_gflops(n: int = 2048, repeats: int = 10) -> dict[str, float]:
    """Measured fp32 ``torch.matmul`` throughput of ``n×n`` matrices (median of ``repeats``).

    This is the practical ceiling for GEMM-bound work with the current thread
    settings: the encoder's projections are the same kind of product.
    """
    generator = torch.Generator().manual_seed(0)
    a = torch.randn(n, n, generator=generator)
    b = torch.randn(n, n, generator=generator)
    out = torch.empty(n, n)
    torch.matmul(a, b, out=out)  # warm-up: thread pool, packing buffers
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        torch.matmul(a, b, out=out)
        times.append(time.perf_counter() - started)
    median = statistics.median(times)
    return {"n": n, "repeats": repeats, "median_seconds": median, "gflops": 2.0 * n**3 / median / 1e9, "best_gflops": 2.0 * n**3 / min(times) / 1e9}


# ---------------------------------------------------------------------------
# int8 that keeps fp32's labels: calibration saved with the model, checked at prediction
# ---------------------------------------------------------------------------

INT8_FILE = "int8.json"
INT8_FORMAT = 1
MIN_AGREEMENT = 0.99  # --int8 refuses a model whose int8 labels agree with fp32 on less of its test split
VALIDATION_GOAL = 0.995  # calibrate adds fp32 layer parts until the validation split agrees this well (a margin over 99 %)
_LINEAR_PART = re.compile(r"layer\.(\d+)\.(attention\.self\.(?:query|key|value)|attention\.output\.dense|intermediate\.dense|output\.dense)$")
_PART_NAME = {"attention.self.query": "qkv", "attention.self.key": "qkv", "attention.self.value": "qkv",
              "attention.output.dense": "attention_output", "intermediate.dense": "intermediate", "output.dense": "output"}


def label_agreement(a: Mapping[str, Sequence[str]], b: Mapping[str, Sequence[str]]) -> dict[str, float]:
    """Share of equal labels per label set and over all (``all``)."""
    per = {ls: float(np.mean([x == y for x, y in zip(a[ls], b[ls], strict=True)])) if len(a[ls]) else 1.0 for ls in a}
    total = sum(len(a[ls]) for ls in a)
    per["all"] = sum(per[ls] * len(a[ls]) for ls in a) / total if total else 1.0
    return per


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


def layer_part_errors(classifier: Any, texts: Sequence[str], reduce_range: bool = True, batch_size: int | None = None) -> dict[str, float]:
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

    handles = []
    for name, module in classifier.network.encoder.named_modules():
        part = layer_part_of(name)
        if part is None or type(module) is not nn.Linear:
            continue
        weights[name] = _fake_int8_weight(module.weight.detach(), reduce_range or part.endswith(".qkv"))
        handles.append(module.register_forward_hook(record(name, part)))
    backend, classifier.backend = getattr(classifier, "backend", None), None
    try:
        classifier.logits(list(texts), batch_size=batch_size)
    finally:
        classifier.backend = backend
        for handle in handles:
            handle.remove()
    ratios = {part: num / max(den, 1e-30) for part, (num, den) in errors.items()}
    return dict(sorted(ratios.items(), key=lambda kv: -kv[1]))


def _labels(classifier: Any, texts: Sequence[str], contexts: Sequence[str] | None, batch_size: int | None) -> dict[str, list[str]]:
    """Labels as predict.py writes them under the training priors (argmax with the polarity rule)."""
    return classifier.predict(list(texts), batch_size=batch_size, contexts=contexts)


def calibrate(
    classifier: Any,
    validation: Any,
    test: Any,
    goal: float = VALIDATION_GOAL,
    reduce_range: bool = True,
    threads: int | None = None,
) -> dict[str, Any]:
    """Choose the int8 recipe of ``classifier`` on its validation split and measure it on its test split.

    1. Rank the encoder's layer parts by :func:`layer_part_errors` on the validation sentences.
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
    from samskaping import onnx_runtime as ox

    def contexts(frame: Any) -> list[str] | None:
        return frame["context"].fillna("").astype(str).tolist() if "context" in frame.columns else None

    started = time.perf_counter()
    batch = classifier.cfg.training.eval_batch_size
    backend, classifier.backend = getattr(classifier, "backend", None), None
    try:
        val_texts, test_texts = validation["text"].tolist(), test["text"].tolist()
        fp32_val = _labels(classifier, val_texts, contexts(validation), batch)
        fp32_test = _labels(classifier, test_texts, contexts(test), batch)
        ranking = list(layer_part_errors(classifier, val_texts, reduce_range, batch))
        tried: dict[int, float] = {}
        search: list[dict[str, Any]] = []

        def agreement_with(k: int) -> float:
            if k not in tried:
                recipe = ox.Int8Recipe(reduce_range=reduce_range, fp32_layers=tuple(ranking[:k]))
                ox.use_onnx(classifier, threads=threads, recipe=recipe)
                got = _labels(classifier, val_texts, contexts(validation), batch)
                tried[k] = label_agreement(fp32_val, got)["all"]
                search.append({"fp32_parts": k, "validation_agreement": round(tried[k], 5)})
                log.info("int8 with %d of %d layer parts in fp32: %.2f%% of validation labels as fp32", k, len(ranking), 100 * tried[k])
            return tried[k]

        k, previous = 0, -1
        while agreement_with(k) < goal and k < len(ranking):
            previous, k = k, min(len(ranking), max(1, 2 * k))
        low, high = previous + 1, k  # the smallest k that reaches the goal lies in [low, high]
        while low < high:
            mid = (low + high) // 2
            if agreement_with(mid) >= goal:
                high = mid
            else:
                low = mid + 1
        chosen = ox.Int8Recipe(reduce_range=reduce_range, fp32_layers=tuple(ranking[:high]))
        ox.use_onnx(classifier, threads=threads, recipe=chosen)
        int8_test = _labels(classifier, test_texts, contexts(test), batch)
        int8_val = _labels(classifier, val_texts, contexts(validation), batch)
    finally:
        classifier.backend = backend
    gold = {ls: test[ls].tolist() for ls in classifier.label_sets if ls in test.columns}
    import onnxruntime

    return {
        "format": INT8_FORMAT,
        "runtime": "onnxruntime",
        "weights_digest": ox.weights_digest(classifier),
        "recipe": chosen.to_dict(),
        "recipe_text": chosen.describe(),
        "agreement": {"test": label_agreement(fp32_test, int8_test), "validation": label_agreement(fp32_val, int8_val)},
        "accuracy": ({"fp32": label_agreement(gold, fp32_test), "int8": label_agreement(gold, int8_test)} if gold else None),
        "sentences": {"validation": len(val_texts), "test": len(test_texts)},
        "goal": {"validation": goal, "test": MIN_AGREEMENT},
        "ranking": ranking,
        "search": search,
        "measured_with": {"onnxruntime": onnxruntime.__version__, "torch": torch.__version__, "cpu": _cpu_name(),
                          "cpu_flags": _cpu_int8_flags()},
        "seconds": round(time.perf_counter() - started, 1),
        "calibrated_at": datetime.now().isoformat(timespec="seconds"),
    }


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _cpu_int8_flags() -> list[str]:
    """The CPU's int8 dot-product features (VNNI, AMX): without them 8-bit weights can saturate."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return []
    flags = next((line.split(":", 1)[1].split() for line in text.splitlines() if line.startswith("flags")), [])
    return sorted(f for f in flags if f in {"avx2", "avx512f", "avx512_vnni", "avx_vnni", "amx_int8"})


def read_int8_calibration(folder: Path | str | None) -> dict[str, Any] | None:
    """``int8.json`` of a model folder, or None."""
    if folder is None:
        return None
    try:
        return json.loads((Path(folder) / INT8_FILE).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError, UnicodeDecodeError):
        return None


def int8_model(classifier: Any, threads: int | None = None, min_agreement: float = MIN_AGREEMENT) -> Any:
    """Switch ``classifier`` to its saved int8 recipe (ONNX Runtime), or refuse in one line.

    Raises:
        SamskapingError: not a transformer model; no saved calibration; one made for other weights;
            or a saved test-split agreement below ``min_agreement``.
    """
    from samskaping import onnx_runtime as ox

    if not getattr(classifier, "supports_int8", False):
        raise SamskapingError(f"--int8 applies to transformer models; this is a {classifier.kind} model")
    folder = getattr(classifier, "source_folder", None)
    saved = read_int8_calibration(folder)
    where = folder or "this model"
    if saved is None:
        raise SamskapingError(f"--int8: {where} has no int8 calibration; run 'python -m samskaping.speed calibrate {where}' once "
                              "(it measures int8 against fp32 and saves the result in the folder), or leave out --int8")
    if saved.get("weights_digest") != ox.weights_digest(classifier):
        raise SamskapingError(f"--int8: the int8 calibration in {where} was made for other weights; "
                              f"run 'python -m samskaping.speed calibrate {where}' again, or leave out --int8")
    agreement = float(saved["agreement"]["test"]["all"])
    if agreement < min_agreement:
        raise SamskapingError(f"--int8 refused: int8 kept only {agreement:.1%} of fp32's labels on this model's test split "
                              f"(at least {min_agreement:.0%} needed); leave out --int8")
    ox.use_onnx(classifier, threads=threads, recipe=ox.Int8Recipe.from_dict(saved["recipe"]))
    classifier.int8 = True
    log.info("int8 (%s) kept %.2f%% of fp32's labels on the test split when calibrated", saved.get("recipe_text", ""), 100 * agreement)
    return classifier


def calibrate_folder(folder: Path | str, data: Sequence[Path] | None = None, goal: float = VALIDATION_GOAL,
                     threads: int | None = None) -> dict[str, Any]:
    """Calibrate the model in ``folder`` on its own validation and test splits and write ``int8.json`` there.

    Args:
        folder: a transformer model folder written by train.py.
        data: labelled files to split (default: the files the model was trained on, as its config names them).
        goal: see :func:`calibrate`.
        threads: CPU threads.

    Raises:
        SamskapingError: not a transformer model, the data is not here, or the folder cannot be written.
    """
    from samskaping.data import load_labelled_files, split_frame
    from samskaping.models import load_model

    folder = Path(folder)
    classifier = load_model(folder)
    if not getattr(classifier, "supports_int8", False):
        raise SamskapingError(f"{folder}: int8 applies to transformer models; this is a {classifier.kind} model")
    cfg = classifier.cfg
    files = list(data) if data else cfg.data.files
    missing = [str(f) for f in files if not Path(f).is_file()]
    if missing:
        raise SamskapingError(f"the model's labelled data is not here ({', '.join(missing)}, read from {Path.cwd()}); "
                              "run from the project folder or give --data PATH")
    labelled = load_labelled_files(files, on_invalid=cfg.data.on_invalid)
    splits = split_frame(labelled, cfg.data.validation_size, cfg.data.test_size, cfg.training.seed)
    tune_threads(threads)
    result = calibrate(classifier, splits["validation"], splits["test"], goal=goal, threads=threads)
    result["data"] = {"files": [str(f) for f in files], "digest": labelled.digest}
    try:
        tmp = folder / f".{INT8_FILE}.partial"
        tmp.write_text(json.dumps(result, indent=2, ensure_ascii=False), encoding="utf-8")
        os.replace(tmp, folder / INT8_FILE)
    except OSError as exc:
        raise SamskapingError(f"{folder}: cannot write {INT8_FILE} ({exc.strerror or exc}); calibrate a copy you can write to") from exc
    return result


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m samskaping.speed calibrate MODEL``: measure int8 against fp32 once and save it with the model."""
    from samskaping.cli.common import EXIT_OK, run_command, setup_logging

    parser = argparse.ArgumentParser(prog="python -m samskaping.speed", description=main.__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    cal = commands.add_parser("calibrate", help="choose and measure the int8 recipe of a transformer model folder; writes int8.json")
    cal.add_argument("model", type=Path, help="model folder (models/NAME)")
    cal.add_argument("--data", type=Path, action="append", help="labelled file(s) to split (default: the model's training data)")
    cal.add_argument("--goal", type=float, default=VALIDATION_GOAL, help=f"validation agreement to reach (default {VALIDATION_GOAL})")
    cal.add_argument("--threads", type=int, default=None, help="CPU threads (default: one per physical core)")
    cal.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    setup_logging(args.quiet, False)

    def body() -> int:
        if not 0.5 < args.goal <= 1.0:
            raise SamskapingError(f"--goal must be between 0.5 and 1, e.g. 0.995; got {args.goal}")
        result = calibrate_folder(args.model, args.data, args.goal, args.threads)
        test = result["agreement"]["test"]["all"]
        verdict = "--int8 can be used" if test >= MIN_AGREEMENT else f"below {MIN_AGREEMENT:.0%}: --int8 will refuse this model"
        print(f"int8 ({result['recipe_text']}): {test:.2%} of fp32's labels on the test split, "
              f"{result['agreement']['validation']['all']:.2%} on validation; {verdict} -> {args.model / INT8_FILE}")
        return EXIT_OK

    return run_command(body)


__all__ = [
    "INT8_FILE",
    "MIN_AGREEMENT",
    "SmoothedLinear",
    "calibrate",
    "calibrate_folder",
    "encoder_flops",
    "input_channel_maxima",
    "int8_model",
    "label_agreement",
    "layer_part_errors",
    "linear_count",
    "matmul_gflops",
    "physical_cores",
    "quantize_int8",
    "quantized_linear_count",
    "read_int8_calibration",
    "tune_threads",
]


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
