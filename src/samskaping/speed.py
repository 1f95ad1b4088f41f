"""CPU speed helpers: thread settings, dynamic int8 quantisation, FLOP accounting.

None of this changes what a model predicts in fp32; :func:`quantize_int8` is
an opt-in faster path whose agreement with fp32 is measured by
``benchmarks/benchmark.py`` and guarded by ``tests/test_speed.py``.

The int8 path uses PyTorch's eager dynamic quantisation
(``torch.ao.quantization.quantize_dynamic``): weights of every ``nn.Linear``
in the encoder are stored as int8 once, activations are quantised per batch,
and the matrix products run in fbgemm's int8 kernels. PyTorch marks the
``torch.ao.quantization`` namespace deprecated in favour of ``torchao`` but
it still ships and works in torch 2.13; the warning is silenced here and the
import is isolated in :func:`_quantize_dynamic` so a later move is a one-line
change.
"""

from __future__ import annotations

import copy
import logging
import os
import statistics
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

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
    target = classifier if inplace else copy.deepcopy(classifier)
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


__all__ = [
    "SmoothedLinear",
    "encoder_flops",
    "input_channel_maxima",
    "linear_count",
    "matmul_gflops",
    "physical_cores",
    "quantize_int8",
    "quantized_linear_count",
    "tune_threads",
]
