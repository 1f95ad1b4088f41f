"""ONNX Runtime sessions for transformer models: exported once, cached beside the model, fp32 or int8.

The encoder, the pooling and the heads are exported together with
``torch.onnx.export`` (the TorchScript-based exporter, ``dynamo=False``: it gave
the faster graph here) with dynamic batch and sequence axes, then fused by
ONNX Runtime's transformer optimizer (one ``Attention`` node per layer, skip
layer norms, bias + GELU). The export lives in ``<model folder>/onnx/`` with
``export.json``, which holds a digest of the network's weights; a model whose
weights changed is exported again. When the model folder cannot be written the
export goes to the user's cache (``$SAMSKAPING_CACHE/onnx/<digest>``).

Only :meth:`~samskaping.models.transformer.TransformerClassifier.logits` is
replaced: tokenisation, length-sorted batches, calibration (temperature and
prior shift), priors and decisions stay where they are, so the fp32 export
gives the same labels as PyTorch (probabilities within 1e-4; ``tests/test_onnx.py``).

int8 (:class:`Int8Recipe`) is ONNX Runtime's dynamic quantisation of the
encoder's matrix products: weights int8 per output channel, activations uint8
with one scale per batch. Layers named in ``fp32_layers`` (``layer.11.output``,
``layer.3.qkv`` ...) stay in fp32. The recipe of a model is chosen and measured
once by :func:`samskaping.runtime.int8.calibrate` and saved in the model folder.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from samskaping.errors import ModelLoadError, SamskapingError
from samskaping.runtime.export import (
    FP32_FILE,
    OnnxUnavailableError,
    _require_onnxruntime,
    ensure_export,
    weights_digest,
)
from samskaping.runtime.machine import physical_cores
from samskaping.runtime.quantize import Int8Recipe, ensure_int8

log = logging.getLogger(__name__)


class OnnxBackend:
    """An ONNX Runtime session that returns logits per label set for a padded batch.

    Attributes:
        path: the ONNX file.
        precision: ``fp32`` or ``int8``.
        threads: intra-op threads of the session.
    """

    def __init__(
        self, path: Path, label_sets: Sequence[str], threads: int | None = None, precision: str = "fp32"
    ) -> None:
        ort = _require_onnxruntime()
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.threads = int(threads or physical_cores())
        options.intra_op_num_threads = self.threads
        # one graph at a time: inter-op parallelism would only compete with the intra-op threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.log_severity_level = 3
        try:
            self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own exception types
            raise ModelLoadError(
                f"{path}: ONNX Runtime cannot open this file ({str(exc).splitlines()[0]}); delete it to export again"
            ) from exc
        outputs = [o.name for o in self.session.get_outputs()]
        if outputs != list(label_sets):
            raise ModelLoadError(
                f"{path}: the ONNX model's outputs {outputs} are not the model's label sets {list(label_sets)}; "
                "delete it to export again"
            )
        self.path = Path(path)
        self.precision = precision
        self.label_sets = tuple(label_sets)

    def __call__(self, input_ids: Any, attention_mask: Any) -> dict[str, np.ndarray]:
        feed = {
            "input_ids": np.asarray(input_ids, dtype=np.int64),
            "attention_mask": np.asarray(attention_mask, dtype=np.int64),
        }
        return dict(zip(self.label_sets, self.session.run(None, feed), strict=True))

    def describe(self) -> str:
        return f"ONNX Runtime {self.precision} ({self.path.name}, {self.threads} threads)"


def use_onnx(
    model: Any,
    threads: int | None = None,
    recipe: Int8Recipe | None = None,
    place: str = "model",
    release_torch: bool = False,
) -> Any:
    """Run ``model``'s logits in ONNX Runtime from now on: fp32, or int8 with ``recipe``.

    Exports (or quantises) first when there is no current file (``place``: see :func:`export_folder`).
    ``release_torch``: free the PyTorch encoder's weights before the session is made, so that the two
    copies are never held together (a lower peak and less memory after, see docs/performance.md; they are
    read again from the model folder if PyTorch is needed later; see ``TransformerClassifier.release_encoder``).

    Returns:
        ``model`` itself.

    Raises:
        OnnxUnavailableError: ONNX Runtime is missing or the model cannot be exported.
        SamskapingError: not a transformer model.
    """
    if getattr(model, "network", None) is None or not hasattr(model, "backend"):
        raise SamskapingError(
            "--runtime onnx applies to transformer models; "
            f"this is a {getattr(model, 'kind', type(model).__name__)} model"
        )
    path = ensure_export(model, place) / FP32_FILE if recipe is None else ensure_int8(model, recipe, place)
    model.backend = None  # the old session, if any, goes before the new one is made
    if release_torch and hasattr(model, "release_encoder") and not model.release_encoder(weights_digest(model)):
        log.debug("the PyTorch weights stay loaded (a model built in memory, or not on the CPU)")
    model.backend = OnnxBackend(path, model.label_sets, threads, "fp32" if recipe is None else "int8")
    log.info("model runs in %s", model.backend.describe())
    return model


def prefer_onnx(model: Any, threads: int | None = None, place: str = "cache") -> Any:
    """ONNX Runtime fp32 when it can be had (an export here or in the cache, or one can be made), else PyTorch.

    ``place``: where a new export goes (see :func:`~samskaping.runtime.export.export_folder`); the default, the
    cache, suits the MLflow model, whose folder is a fresh download each time, so the export is made once per
    machine. The fp32 export
    gives the same labels as PyTorch, so this changes speed, not results; a
    model that cannot be exported stays in PyTorch, with a warning.
    """
    try:
        return use_onnx(model, threads=threads, place=place, release_torch=True)
    except OnnxUnavailableError as exc:
        log.warning("ONNX Runtime not used, the model runs in PyTorch: %s", exc)
        return use_torch(model)


def use_torch(model: Any) -> Any:
    """Run ``model``'s logits in PyTorch again (its encoder's weights are read again if they were freed)."""
    if hasattr(model, "backend"):
        model.backend = None
    if hasattr(model, "restore_encoder"):
        model.restore_encoder()
    return model
