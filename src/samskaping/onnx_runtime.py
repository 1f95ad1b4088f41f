"""ONNX Runtime inference for transformer models: exported once, cached beside the model, fp32 or int8.

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
once by :func:`samskaping.speed.calibrate` and saved in the model folder.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import tempfile
import time
import warnings
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from samskaping.errors import ModelLoadError, SamskapingError

log = logging.getLogger(__name__)

# Bump when the exported graph changes (opset, wrapper, fusion): every cached export is then rebuilt.
EXPORT_FORMAT = 1
OPSET = 17
ONNX_DIR = "onnx"
FP32_FILE = "model.onnx"
EXPORT_FACTS = "export.json"
# The largest difference of a logit between PyTorch and the fresh export that is accepted (checked on export).
EXPORT_TOLERANCE = 1e-3
# One encoder layer's matrix products, as named in fp32_layers: layer.<i>.<part>
LAYER_PARTS = ("qkv", "attention_output", "intermediate", "output")
_MATMUL_PATTERN = re.compile(
    r"layer\.(\d+)/(attention/self/(?:query|key|value)|attention/output/dense|intermediate/dense|output/dense)/MatMul$"
)
_PART_OF_PATH = {
    "attention/self/query": "qkv", "attention/self/key": "qkv", "attention/self/value": "qkv",
    "attention/output/dense": "attention_output", "intermediate/dense": "intermediate", "output/dense": "output",
}


# ONNX Runtime's optimizer and quantizer log every fusion and tensor at INFO, some on the root logger.
_CHATTY_LOGGERS = ("", "onnx_model", "onnx_model_bert", "fusion_base", "fusion_utils", "fusion_attention",
                   "fusion_skiplayernorm", "fusion_embedlayer", "fusion_options", "optimizer", "onnxruntime")


@contextmanager
def _quiet_onnx_tools() -> Iterator[None]:
    """Raise those loggers to ERROR (and silence warnings) for the duration; restore them after."""
    loggers = [logging.getLogger(name) for name in _CHATTY_LOGGERS]
    levels = [logger.level for logger in loggers]
    try:
        for logger in loggers:
            logger.setLevel(logging.ERROR)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


class OnnxUnavailableError(SamskapingError):
    """ONNX Runtime (or onnx, for the export) is not installed, or the model cannot be exported."""


# ---------------------------------------------------------------------------
# digests and places
# ---------------------------------------------------------------------------

def weights_digest(model: Any) -> str:
    """SHA-256 of everything the exported graph computes with: weights, pooling, heads' order, export format.

    Hashes the in-memory network (names, dtypes, shapes and bytes of its state),
    so a model built in memory and the same model read from its folder agree.
    """
    import torch

    h = hashlib.sha256()
    network = model.network
    h.update(json.dumps({"format": EXPORT_FORMAT, "pooling": network.pooling, "heads": list(network.heads)}).encode())
    for name, tensor in network.state_dict().items():
        t = tensor.detach().cpu().contiguous()
        h.update(f"{name}|{t.dtype}|{tuple(t.shape)}".encode())
        if t.dtype == torch.bfloat16:
            t = t.float()
        h.update(t.numpy().reshape(-1).view(np.uint8).data)
    return h.hexdigest()


def cache_root() -> Path:
    """The user's samskaping cache (the same as the default model's)."""
    from samskaping.default_model import cache_dir

    return cache_dir() / ONNX_DIR


def _writable(folder: Path) -> bool:
    """Whether ``folder`` (or, when it does not exist yet, its parent) accepts new files."""
    probe = folder if folder.exists() else folder.parent
    if not probe.is_dir() or not os.access(probe, os.W_OK | os.X_OK):
        return False
    try:
        with tempfile.NamedTemporaryFile(dir=probe, prefix=".samskaping-write-test-"):
            return True
    except OSError:
        return False


def export_folder(model: Any, digest: str | None = None, place: str = "model") -> Path:
    """Where a new export of ``model`` goes.

    ``place="model"``: ``<model folder>/onnx`` when the model came from a folder
    that can be written, else the cache. ``place="cache"``: always the cache
    (for model folders that are temporary copies, as MLflow's downloads are).
    The cache folder is named by the weights' digest.
    """
    source = getattr(model, "source_folder", None)
    if place == "model" and source is not None and _writable(Path(source) / ONNX_DIR):
        return Path(source) / ONNX_DIR
    return cache_root() / (digest or weights_digest(model))[:20]


def find_export(model: Any, digest: str | None = None) -> Path | None:
    """The folder of a current fp32 export of ``model`` (beside the model, else in the cache), or None."""
    digest = digest or weights_digest(model)
    source = getattr(model, "source_folder", None)
    for folder in ([Path(source) / ONNX_DIR] if source is not None else []) + [cache_root() / digest[:20]]:
        facts = read_facts(folder)
        if facts and facts.get("weights_digest") == digest and facts.get("export_format") == EXPORT_FORMAT \
                and (folder / FP32_FILE).is_file():
            return folder
    return None


def _require_onnxruntime() -> Any:
    try:
        import onnxruntime
    except ImportError as exc:  # pragma: no cover - onnxruntime is a dependency
        raise OnnxUnavailableError(
            f"--runtime onnx needs onnxruntime ({exc}); install it with 'pip install onnxruntime' or use --runtime torch"
        ) from exc
    return onnxruntime


def read_facts(folder: Path) -> dict[str, Any] | None:
    """``export.json`` of an export folder, or None when there is none (or it is unreadable)."""
    try:
        return json.loads((folder / EXPORT_FACTS).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError, UnicodeDecodeError):
        return None


# ---------------------------------------------------------------------------
# export
# ---------------------------------------------------------------------------

def _exportable(network: Any) -> Any:
    """The network as a module with positional inputs and a tuple of logits (one per label set, in order)."""
    import torch

    class Exported(torch.nn.Module):
        def __init__(self, net: Any) -> None:
            super().__init__()
            self.net = net

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> tuple[torch.Tensor, ...]:
            out = self.net(input_ids, attention_mask)
            return tuple(out[ls] for ls in self.net.heads)

    return Exported(network).eval()


def _sample_inputs(model: Any) -> tuple[Any, Any]:
    """Two short rows, one padded, so the exported mask handling is the general one."""
    import torch

    pad = model.tokenizer.pad_token_id or 0
    ids = model._encode(["Kommunen skal samarbeide med innbyggerne om nye tjenester.", "Planen gjelder."])
    width = max(len(x) for x in ids)
    input_ids = torch.full((len(ids), width), pad, dtype=torch.long)
    mask = torch.zeros((len(ids), width), dtype=torch.long)
    for row, seq in enumerate(ids):
        input_ids[row, : len(seq)] = torch.tensor(seq)
        mask[row, : len(seq)] = 1
    return input_ids, mask


def _fuse(path: Path, encoder_config: Any) -> dict[str, int]:
    """ONNX Runtime's transformer fusions (Attention, SkipLayerNormalization, BiasGelu ...), in place.

    ``opt_level=0`` applies only the pattern fusions, which are portable; the
    hardware-specific optimisations happen when a session opens the file.
    Returns the count of each fused operator (empty when fusion is unavailable).
    """
    try:
        from onnxruntime.transformers.optimizer import optimize_model
    except ImportError as exc:  # pragma: no cover - ships with onnxruntime
        log.warning("ONNX Runtime's transformer optimizer is unavailable (%s); the export is not fused", exc)
        return {}
    heads = getattr(encoder_config, "num_attention_heads", 0)
    hidden = getattr(encoder_config, "hidden_size", 0)
    with _quiet_onnx_tools():
        optimized = optimize_model(str(path), model_type="bert", num_heads=heads, hidden_size=hidden, opt_level=0)
        stats = {k: int(v) for k, v in optimized.get_fused_operator_statistics().items() if v}
        optimized.save_model_to_file(str(path))
    return stats


def export_onnx(model: Any, folder: Path, digest: str | None = None) -> dict[str, Any]:
    """Export ``model``'s encoder, pooling and heads to ``folder/model.onnx`` (fused) with ``export.json``.

    The files are written to a temporary folder and moved into place, so a
    reader never sees half an export. The export is checked against PyTorch on
    two sample rows before it is kept.

    Returns:
        The facts written to ``export.json``.

    Raises:
        OnnxUnavailableError: onnx or onnxruntime is missing, or the exported graph does not compute what PyTorch does.
    """
    import torch

    ort = _require_onnxruntime()
    try:
        import onnx  # noqa: F401  (torch.onnx.export needs it)
    except ImportError as exc:  # pragma: no cover - onnx is a dependency
        raise OnnxUnavailableError(f"exporting to ONNX needs the onnx package ({exc}); pip install onnx") from exc
    digest = digest or weights_digest(model)
    network = model.network
    encoder = network.encoder
    was_training = network.training
    network.eval()
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=folder.parent))
    started = time.perf_counter()
    # The fusion recognises the eager attention's pattern, not scaled_dot_product_attention's.
    previous = getattr(encoder.config, "_attn_implementation", None)
    switched = False
    try:
        if previous not in (None, "eager") and hasattr(encoder, "set_attn_implementation"):
            try:
                encoder.set_attn_implementation("eager")
                switched = True
            except (ValueError, AttributeError, NotImplementedError) as exc:
                log.debug("attention implementation left at %s (%s)", previous, exc)
        input_ids, mask = _sample_inputs(model)
        names = list(network.heads)
        target = staging / FP32_FILE
        with warnings.catch_warnings(), torch.inference_mode():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                _exportable(network), (input_ids, mask), str(target),
                input_names=["input_ids", "attention_mask"], output_names=names,
                dynamic_axes={"input_ids": {0: "batch", 1: "sequence"}, "attention_mask": {0: "batch", 1: "sequence"},
                              **{ls: {0: "batch"} for ls in names}},
                opset_version=OPSET, do_constant_folding=True, dynamo=False,
            )
            expected = network(input_ids, mask)
        fused = _fuse(target, encoder.config)
        session = ort.InferenceSession(str(target), providers=["CPUExecutionProvider"])
        got = session.run(None, {"input_ids": input_ids.numpy(), "attention_mask": mask.numpy()})
        difference = max(float(np.abs(g - expected[ls].float().numpy()).max()) for g, ls in zip(got, names, strict=True))
        if not difference <= EXPORT_TOLERANCE:
            raise OnnxUnavailableError(
                f"the ONNX export of {model.cfg.model.name} computes other logits than PyTorch (largest difference "
                f"{difference:.2g}); use --runtime torch"
            )
        facts = {
            "export_format": EXPORT_FORMAT, "weights_digest": digest, "file": FP32_FILE, "opset": OPSET,
            "label_sets": names, "pooling": network.pooling, "fused_operators": fused,
            "check_max_logit_difference": difference, "seconds": round(time.perf_counter() - started, 2),
            "torch": torch.__version__, "onnxruntime": ort.__version__, "model_name": model.cfg.model.name,
        }
        (staging / EXPORT_FACTS).write_text(json.dumps(facts, indent=2), encoding="utf-8")
        if folder.exists():
            shutil.rmtree(folder)
        os.replace(staging, folder)
    except Exception as exc:
        shutil.rmtree(staging, ignore_errors=True)
        if isinstance(exc, SamskapingError):
            raise
        raise OnnxUnavailableError(
            f"{model.cfg.model.name} could not be exported to ONNX ({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}); "
            "use --runtime torch"
        ) from exc
    finally:
        if switched:
            encoder.set_attn_implementation(previous)
        network.train(was_training)
    log.info("exported %s to %s in %.0f s (fused: %s)", model.cfg.model.name, folder / FP32_FILE, facts["seconds"],
             ", ".join(f"{k} {v}" for k, v in fused.items()) or "nothing")
    return facts


def ensure_export(model: Any, place: str = "model") -> Path:
    """The folder of a current fp32 export of ``model``, exported first when there is none (see :func:`export_folder`).

    Raises:
        OnnxUnavailableError: see :func:`export_onnx`.
    """
    from filelock import FileLock

    digest = weights_digest(model)
    found = find_export(model, digest)
    if found is not None:
        return found
    folder = export_folder(model, digest, place)
    folder.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(folder) + ".lock"):  # two processes export once
        if find_export(model, digest) == folder:
            return folder
        if read_facts(folder):
            log.info("the ONNX export in %s is of other weights or an older format: exporting again", folder)
        export_onnx(model, folder, digest)
    return folder


# ---------------------------------------------------------------------------
# int8
# ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Int8Recipe:
    """How the fp32 export is quantised (ONNX Runtime dynamic quantisation).

    Attributes:
        per_channel: one weight scale per output channel (else one per matrix).
        reduce_range: 7-bit weights. CPUs without VNNI multiply uint8 by int8
            in 16-bit sums that can saturate with 8-bit weights; 7-bit weights
            cannot, so the agreement measured on one CPU holds on every CPU.
        fp32_layers: parts of encoder layers kept in fp32, ``layer.<i>.<part>``
            with part one of ``qkv``, ``attention_output``, ``intermediate``, ``output``.
    """

    per_channel: bool = True
    reduce_range: bool = True
    fp32_layers: tuple[str, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        bad = [name for name in self.fp32_layers if not re.fullmatch(rf"layer\.\d+\.({'|'.join(LAYER_PARTS)})", name)]
        if bad:
            raise SamskapingError(f"int8 recipe: unknown layer names {bad}; use layer.<i>.<part> with part one of {list(LAYER_PARTS)}")
        object.__setattr__(self, "fp32_layers", tuple(sorted(set(self.fp32_layers), key=_layer_sort_key)))

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "fp32_layers": list(self.fp32_layers)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Int8Recipe:
        known = {"per_channel", "reduce_range", "fp32_layers"}
        unknown = sorted(set(data) - known)
        if unknown:
            raise SamskapingError(f"int8 recipe: unknown keys {unknown}; allowed: {sorted(known)}")
        return cls(bool(data.get("per_channel", True)), bool(data.get("reduce_range", True)), tuple(data.get("fp32_layers", ())))

    def key(self) -> str:
        """A short name for the cache file of this recipe."""
        return hashlib.sha256(json.dumps(self.to_dict(), sort_keys=True).encode()).hexdigest()[:12]

    def describe(self) -> str:
        parts = ["per-channel" if self.per_channel else "per-tensor", "7-bit weights" if self.reduce_range else "8-bit weights"]
        if self.fp32_layers:
            parts.append(f"{len(self.fp32_layers)} layer part(s) in fp32 ({', '.join(self.fp32_layers)})")
        return ", ".join(parts)


def _layer_sort_key(name: str) -> tuple[int, int]:
    _, index, part = name.split(".", 2)
    return int(index), LAYER_PARTS.index(part) if part in LAYER_PARTS else 99


def quantizable_nodes(model_path: Path) -> dict[str, list[str]]:
    """Layer part (``layer.3.intermediate``) -> names of the ONNX nodes that compute it.

    Fused ``Attention`` nodes (query, key and value in one) are counted in
    graph order: the n-th is layer n's ``qkv``.
    """
    import onnx

    graph = onnx.load(str(model_path), load_external_data=False).graph
    parts: dict[str, list[str]] = {}
    attention = 0
    for node in graph.node:
        if node.op_type == "Attention":
            parts.setdefault(f"layer.{attention}.qkv", []).append(node.name)
            attention += 1
        elif node.op_type == "MatMul":
            match = _MATMUL_PATTERN.search(node.name)
            if match:
                parts.setdefault(f"layer.{match.group(1)}.{_PART_OF_PATH[match.group(2)]}", []).append(node.name)
    return dict(sorted(parts.items(), key=lambda kv: _layer_sort_key(kv[0])))


def quantize_export(fp32_path: Path, target: Path, recipe: Int8Recipe) -> dict[str, Any]:
    """Write the int8 model of ``recipe`` to ``target`` (dynamic quantisation of the encoder's products).

    The heads (``Gemm``) and the embeddings stay fp32: they cost little and keep the last step exact.
    """
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    parts = quantizable_nodes(fp32_path)
    unknown = sorted(set(recipe.fp32_layers) - set(parts), key=_layer_sort_key)
    if unknown:
        raise SamskapingError(f"int8 recipe names layer parts the model does not have: {unknown}")
    included = [name for part, names in parts.items() if part not in recipe.fp32_layers for name in names]
    staging = target.with_name(f".{target.name}.{os.getpid()}.partial")
    with _quiet_onnx_tools():
        # DefaultTensorType: shape inference cannot type the outputs of the fused (com.microsoft) operators
        quantize_dynamic(fp32_path, staging, op_types_to_quantize=["MatMul", "Attention"], per_channel=recipe.per_channel,
                         reduce_range=recipe.reduce_range, weight_type=QuantType.QInt8, nodes_to_quantize=included,
                         extra_options={"MatMulConstBOnly": True, "DefaultTensorType": onnx.TensorProto.FLOAT})
    os.replace(staging, target)
    return {"quantized_nodes": len(included), "fp32_nodes": sum(len(v) for k, v in parts.items() if k in recipe.fp32_layers)}


def ensure_int8(model: Any, recipe: Int8Recipe, place: str = "model") -> Path:
    """The int8 model file of ``recipe``, built from the fp32 export when missing (``onnx/model-int8-<key>.onnx``)."""
    from filelock import FileLock

    folder = ensure_export(model, place)
    target = folder / f"model-int8-{recipe.key()}.onnx"
    with FileLock(str(target) + ".lock"):
        if not target.is_file():
            started = time.perf_counter()
            quantize_export(folder / FP32_FILE, target, recipe)
            log.info("built the int8 model (%s) in %.0f s", recipe.describe(), time.perf_counter() - started)
    return target


# ---------------------------------------------------------------------------
# running
# ---------------------------------------------------------------------------

class OnnxBackend:
    """An ONNX Runtime session that returns logits per label set for a padded batch.

    Attributes:
        path: the ONNX file.
        precision: ``fp32`` or ``int8``.
        threads: intra-op threads of the session.
    """

    def __init__(self, path: Path, label_sets: Sequence[str], threads: int | None = None, precision: str = "fp32") -> None:
        ort = _require_onnxruntime()
        from samskaping.speed import physical_cores

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
            raise ModelLoadError(f"{path}: ONNX Runtime cannot open this file ({str(exc).splitlines()[0]}); delete it to export again") from exc
        outputs = [o.name for o in self.session.get_outputs()]
        if outputs != list(label_sets):
            raise ModelLoadError(f"{path}: the ONNX model's outputs {outputs} are not the model's label sets {list(label_sets)}; delete it to export again")
        self.path = Path(path)
        self.precision = precision
        self.label_sets = tuple(label_sets)

    def __call__(self, input_ids: Any, attention_mask: Any) -> dict[str, np.ndarray]:
        feed = {"input_ids": np.asarray(input_ids, dtype=np.int64), "attention_mask": np.asarray(attention_mask, dtype=np.int64)}
        return dict(zip(self.label_sets, self.session.run(None, feed), strict=True))

    def describe(self) -> str:
        return f"ONNX Runtime {self.precision} ({self.path.name}, {self.threads} threads)"


def use_onnx(model: Any, threads: int | None = None, recipe: Int8Recipe | None = None, place: str = "model") -> Any:
    """Run ``model``'s logits in ONNX Runtime from now on: fp32, or int8 with ``recipe``.

    Exports (or quantises) first when there is no current file (``place``: see :func:`export_folder`).

    Returns:
        ``model`` itself.

    Raises:
        OnnxUnavailableError: ONNX Runtime is missing or the model cannot be exported.
        SamskapingError: not a transformer model.
    """
    if getattr(model, "network", None) is None or not hasattr(model, "backend"):
        raise SamskapingError(f"--runtime onnx applies to transformer models; this is a {getattr(model, 'kind', type(model).__name__)} model")
    if recipe is None:
        model.backend = OnnxBackend(ensure_export(model, place) / FP32_FILE, model.label_sets, threads, "fp32")
    else:
        model.backend = OnnxBackend(ensure_int8(model, recipe, place), model.label_sets, threads, "int8")
    log.info("model runs in %s", model.backend.describe())
    return model


def prefer_onnx(model: Any, threads: int | None = None) -> Any:
    """ONNX Runtime fp32 when it can be had (an export here or in the cache, or one can be made), else PyTorch.

    For the MLflow model, whose folder is a fresh download each time: a new
    export goes to the cache, so it is made once per machine. The fp32 export
    gives the same labels as PyTorch, so this changes speed, not results; a
    model that cannot be exported stays in PyTorch, with a warning.
    """
    try:
        return use_onnx(model, threads=threads, place="cache")
    except OnnxUnavailableError as exc:
        log.warning("ONNX Runtime not used, the model runs in PyTorch: %s", exc)
        return use_torch(model)


def use_torch(model: Any) -> Any:
    """Run ``model``'s logits in PyTorch again."""
    if hasattr(model, "backend"):
        model.backend = None
    return model


__all__ = [
    "EXPORT_FORMAT",
    "LAYER_PARTS",
    "Int8Recipe",
    "OnnxBackend",
    "OnnxUnavailableError",
    "ensure_export",
    "ensure_int8",
    "export_folder",
    "export_onnx",
    "find_export",
    "prefer_onnx",
    "quantizable_nodes",
    "quantize_export",
    "use_onnx",
    "use_torch",
    "weights_digest",
]
