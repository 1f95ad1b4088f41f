"""PyTorch eager dynamic int8, optionally SmoothQuant-smoothed: the path before ONNX Runtime, kept as a comparison.

The benchmarks import it (``benchmarks/benchmark.py --int8``, ``benchmarks/int8_study.py``); ``predict.py --int8``
runs ONNX Runtime's int8 (:mod:`samskaping.runtime.int8`).
"""

from __future__ import annotations

import copy
import logging
import warnings
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from samskaping.errors import SamskapingError

log = logging.getLogger(__name__)


def linear_count(module: nn.Module) -> int:
    """Number of plain (float) ``nn.Linear`` layers in ``module``."""
    return sum(type(m) is nn.Linear for m in module.modules())


def quantized_linear_count(module: nn.Module) -> int:
    """Number of dynamically quantised linear layers in ``module``."""
    from torch.ao.nn.quantized.dynamic import Linear as DynamicLinear

    return sum(isinstance(m, DynamicLinear) for m in module.modules())


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
        # per-channel weight scales: more labels stay equal than per-tensor, at the same speed (int8_study.py)
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

    handles = [
        m.register_forward_pre_hook(record(n))
        for n, m in classifier.network.encoder.named_modules()
        if type(m) is nn.Linear
    ]
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
        raise SamskapingError(
            "int8 quantisation needs a transformer model, "
            f"got kind {getattr(classifier, 'kind', type(classifier).__name__)!r}"
        )
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
    log.info(
        "quantised %d linear layers of the encoder to int8%s",
        quantized_linear_count(target.network),
        " (smoothed)" if maxima else "",
    )
    return target
