"""The one entry for running a trained model: :func:`prepare` (load, device, threads, PyTorch / ONNX, int8 / bf16).

``predict.py``, the MLflow model, Spark, the evaluation command and the
benchmark all get their model through :func:`prepare`, so a choice such as
``--int8`` means the same thing, with the same refusals, wherever it is made.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from samskaping.errors import SamskapingError

log = logging.getLogger(__name__)

RUNTIMES = ("torch", "onnx", "auto")
DEVICES = ("cpu", "cuda", "auto")
EXPORT_PLACES = ("model", "cache")


@dataclass(frozen=True)
class RuntimeOptions:
    """How a model with an encoder runs; a model without one (the baseline) runs its own code and ignores them.

    Attributes:
        runtime: ``torch`` (PyTorch), ``onnx`` (ONNX Runtime fp32: the same labels) or ``auto`` (ONNX Runtime when
            an export exists or can be made, else PyTorch with a warning).
        int8: ONNX Runtime int8 with the recipe saved in the model folder (``int8.json``); refused without it.
        bf16: PyTorch with bf16 weights on a CPU with bf16 instructions (``bf16.json``); refused elsewhere.
        device: ``cpu``, ``cuda`` or ``auto`` (a GPU when there is one); int8, bf16 and onnx are CPU paths.
        threads: CPU threads (default: one per physical core).
        set_threads: set the process's PyTorch thread counts (:func:`~samskaping.runtime.machine.tune_threads`);
            False leaves them as they are (the MLflow model runs inside someone else's process).
        export_place: where a new ONNX export goes: ``model`` (the model folder, else the user's cache) or
            ``cache`` (the user's cache: for a model folder that is a fresh download each time).
        tracking_uri: the MLflow store of an MLflow URI.

    Raises:
        SamskapingError: a value outside those above, or ``bf16`` with ``int8`` or ``runtime="onnx"``.
    """

    runtime: str = "torch"
    int8: bool = False
    bf16: bool = False
    device: str = "cpu"
    threads: int | None = None
    set_threads: bool = True
    export_place: str = "model"
    tracking_uri: str | None = None

    def __post_init__(self) -> None:
        for key, value, allowed in (
            ("runtime", self.runtime, RUNTIMES),
            ("device", self.device, DEVICES),
            ("export_place", self.export_place, EXPORT_PLACES),
        ):
            if value not in allowed:
                raise SamskapingError(f"RuntimeOptions.{key} must be one of {', '.join(allowed)}; got {value!r}")
        if self.bf16 and (self.int8 or self.runtime == "onnx"):
            raise SamskapingError("--bf16 runs the model in PyTorch; use it without --int8 and --runtime onnx")

    @property
    def needs_encoder(self) -> bool:
        """Whether these options apply only to a model with an encoder (int8, bf16 or ONNX Runtime asked for)."""
        return self.int8 or self.bf16 or self.runtime == "onnx"


@dataclass(frozen=True)
class Predictor:
    """A model ready to run, and what ``summary.json`` records about how it runs.

    Attributes:
        model: the classifier (``predict_proba``, ``predict``; :mod:`samskaping.predict` takes it as it is).
        spec: the folder or MLflow URI it was loaded from (None: a model handed over in memory).
        facts: ``threads`` (intra- and inter-op, when set here), ``int8``, ``bf16``, ``device`` and
            ``runtime`` (``torch`` or ``onnxruntime``); empty for a model without an encoder.
    """

    model: Any
    spec: str | None = None
    facts: dict[str, Any] = field(default_factory=dict)


def has_encoder(model: Any) -> bool:
    """Whether ``model`` runs an encoder that the runtime paths (threads, device, ONNX, int8, bf16) apply to.

    Its kind says so (:func:`samskaping.models.registry.has_encoder`, the kind's ``KindSpec``).

    Raises:
        ModelLoadError: the model's kind is not registered.
    """
    from samskaping.models.registry import has_encoder as kind_has_encoder

    return kind_has_encoder(model.kind)


def prepare(model: Any, options: RuntimeOptions | None = None) -> Predictor:
    """Load ``model`` if it is a folder or an MLflow URI, and set it up to run as ``options`` say.

    Args:
        model: a model folder (``models/NAME``), an MLflow URI (``models:/NAME@ALIAS``, ``runs:/...``) or a
            loaded classifier.
        options: how it runs (default: :class:`RuntimeOptions`, PyTorch fp32 on the CPU).

    Returns:
        The :class:`Predictor`: the model, where it came from, and how it runs.

    Raises:
        ModelLoadError: no model at ``model``; CUDA asked for without a GPU.
        SamskapingError: int8, bf16 or onnx asked for a model without an encoder or on a GPU; a refusal of
            ``--int8`` or ``--bf16`` (no saved agreement, one for other weights, one under 99 %, a CPU without
            bf16 instructions).
        OnnxUnavailableError: ``runtime="onnx"`` and the model cannot be exported.
    """
    from samskaping.runtime.loading import load_any_model

    options = options or RuntimeOptions()
    spec = None
    if isinstance(model, (str, Path)):
        spec = str(model)
        model = load_any_model(spec, options.tracking_uri)
    if not has_encoder(model):
        if options.needs_encoder:
            where = spec or getattr(model, "source_folder", None) or "this model"
            raise SamskapingError(
                f"--int8, --bf16 and --runtime onnx apply to transformer models; {where} is a {model.kind} model"
            )
        return Predictor(model, spec)
    model, facts = _set_up_encoder(model, options)
    return Predictor(model, spec, facts)


def _set_up_encoder(model: Any, options: RuntimeOptions) -> tuple[Any, dict[str, Any]]:
    """Threads, device, then the one runtime path ``options`` ask for; the facts in ``summary.json``'s order."""
    from samskaping.models.transformer import pick_device
    from samskaping.runtime.bf16 import bf16_model
    from samskaping.runtime.int8 import int8_model
    from samskaping.runtime.machine import tune_threads
    from samskaping.runtime.onnx import prefer_onnx, use_onnx, use_torch

    facts: dict[str, Any] = {}
    threads = options.threads
    if options.set_threads:
        facts["threads"] = tune_threads(options.threads)
        threads = facts["threads"]["intra_op"]
    device = pick_device(options.device)
    if options.needs_encoder and device.type != "cpu":
        raise SamskapingError(
            "--int8, --bf16 and --runtime onnx are CPU paths (on a GPU a model runs in bf16 already); "
            "leave them out with --device cuda"
        )
    model.to(device)
    if options.int8:
        model = int8_model(model, threads=threads)
    elif options.runtime == "onnx":
        model = use_onnx(model, threads=threads, place=options.export_place, release_torch=True)
    elif options.runtime == "auto" and device.type == "cpu":
        model = prefer_onnx(model, threads=threads, place=options.export_place)
    else:
        model = use_torch(model)  # an MLflow model may have opened ONNX Runtime itself
        if options.bf16:
            model = bf16_model(model)
    facts.update({"int8": options.int8, "bf16": options.bf16, "device": device.type})
    facts["runtime"] = "onnxruntime" if model.backend is not None else "torch"
    return model, facts
