"""Running a trained model: one entry, :func:`prepare`, and the parts it is made of.

- :mod:`~samskaping.runtime.prepare`: :func:`prepare` (model folder, MLflow URI or loaded model +
  :class:`RuntimeOptions` -> :class:`Predictor`), used by ``predict.py``, the MLflow model, Spark, the
  evaluation command and the benchmark.
- :mod:`~samskaping.runtime.loading`: a model from a folder or an MLflow URI; the facts ``summary.json`` keeps.
- :mod:`~samskaping.runtime.machine`: threads (one per physical core), CPU facts, FLOP accounting.
- :mod:`~samskaping.runtime.onnx`, :mod:`~samskaping.runtime.export`, :mod:`~samskaping.runtime.quantize`:
  ONNX Runtime sessions, the export cached beside the model, int8 by dynamic quantisation.
- :mod:`~samskaping.runtime.int8`: the int8 recipe chosen per model (``python -m samskaping.speed calibrate``)
  and ``--int8``; :mod:`~samskaping.runtime.bf16`: bf16 on CPUs with bf16 instructions and ``--bf16``.
- :mod:`~samskaping.runtime.agreement`: the saved agreement checks (``int8.json``, ``bf16.json``).
- :mod:`~samskaping.runtime.post_training`: the int8 and bf16 steps train.py runs on the saved folder.

Importing this package does not load torch or ONNX Runtime (a baseline model never needs them), so
:mod:`~samskaping.runtime.int8` and :mod:`~samskaping.runtime.bf16`, which need torch, are not re-exported
here: import from them directly.
"""

from samskaping.runtime.agreement import MIN_AGREEMENT, label_agreement
from samskaping.runtime.export import OnnxUnavailableError, weights_digest
from samskaping.runtime.loading import MLFLOW_URI_PREFIXES, is_mlflow_uri, load_any_model, model_facts
from samskaping.runtime.machine import encoder_flops, matmul_gflops, physical_cores, tune_threads
from samskaping.runtime.onnx import OnnxBackend, prefer_onnx, use_onnx, use_torch
from samskaping.runtime.prepare import Predictor, RuntimeOptions, has_encoder, prepare
from samskaping.runtime.quantize import Int8Recipe

__all__ = [
    "MIN_AGREEMENT",
    "MLFLOW_URI_PREFIXES",
    "Int8Recipe",
    "OnnxBackend",
    "OnnxUnavailableError",
    "Predictor",
    "RuntimeOptions",
    "encoder_flops",
    "has_encoder",
    "is_mlflow_uri",
    "label_agreement",
    "load_any_model",
    "matmul_gflops",
    "model_facts",
    "physical_cores",
    "prefer_onnx",
    "prepare",
    "tune_threads",
    "use_onnx",
    "use_torch",
    "weights_digest",
]
