"""Export a transformer classifier to ONNX once, checked against PyTorch and cached beside the model."""

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
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from samskaping.errors import SamskapingError

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
    "attention/self/query": "qkv",
    "attention/self/key": "qkv",
    "attention/self/value": "qkv",
    "attention/output/dense": "attention_output",
    "intermediate/dense": "intermediate",
    "output/dense": "output",
}


# ONNX Runtime's optimizer and quantizer log every fusion and tensor at INFO, some on the root logger.
_CHATTY_LOGGERS = (
    "",
    "onnx_model",
    "onnx_model_bert",
    "fusion_base",
    "fusion_utils",
    "fusion_attention",
    "fusion_skiplayernorm",
    "fusion_embedlayer",
    "fusion_options",
    "optimizer",
    "onnxruntime",
)


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

    if getattr(model, "released_digest", None):  # the PyTorch weights were freed while ONNX Runtime runs it
        return model.released_digest
    h = hashlib.sha256()
    network = model.network
    graph = {"format": EXPORT_FORMAT, "pooling": network.pooling, "heads": list(network.heads)}
    if getattr(network, "pool_after_sep", None) is not None:  # pooling over a pair's sentence only
        graph["pool_after_sep"] = network.pool_after_sep
    h.update(json.dumps(graph).encode())
    for name, tensor in network.state_dict().items():
        t = tensor.detach().cpu().contiguous()
        h.update(f"{name}|{t.dtype}|{tuple(t.shape)}".encode())
        if t.dtype == torch.bfloat16:
            t = t.float()
        h.update(t.numpy().reshape(-1).view(np.uint8).data)
    return h.hexdigest()


def cache_root() -> Path:
    """The user's samskaping cache (the same as the default model's)."""
    from samskaping.cache import cache_dir

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
        if (
            facts
            and facts.get("weights_digest") == digest
            and facts.get("export_format") == EXPORT_FORMAT
            and (folder / FP32_FILE).is_file()
        ):
            return folder
    return None


def _require_onnxruntime() -> Any:
    try:
        import onnxruntime
    except ImportError as exc:  # pragma: no cover - onnxruntime is a dependency
        raise OnnxUnavailableError(
            f"--runtime onnx needs onnxruntime ({exc}); "
            "install it with 'pip install onnxruntime' or use --runtime torch"
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
    """Two short rows, one padded, so the exported mask handling is the general one.

    A model that reads context gets the first row as a context-sentence pair, so the check covers the
    pooling over a pair's sentence (``model.transformer.context_pooling``); other models ignore contexts.
    """
    import torch

    pad = model.tokenizer.pad_token_id or 0
    ids = model._encode(
        ["Kommunen skal samarbeide med innbyggerne om nye tjenester.", "Planen gjelder."],
        ["Medverknad og samskaping", ""],
    )
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


def export_onnx(model: Any, folder: Path, digest: str | None = None, fuse: bool = True) -> dict[str, Any]:
    """Export ``model``'s encoder, pooling and heads to ``folder/model.onnx`` (fused) with ``export.json``.

    The files are written to a temporary folder and moved into place, so a
    reader never sees half an export. The export is checked against PyTorch on
    two sample rows before it is kept. ``fuse=False`` keeps the exporter's graph
    (ONNX Runtime still applies its own optimisations when a session opens it).

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
                _exportable(network),
                (input_ids, mask),
                str(target),
                input_names=["input_ids", "attention_mask"],
                output_names=names,
                dynamic_axes={
                    "input_ids": {0: "batch", 1: "sequence"},
                    "attention_mask": {0: "batch", 1: "sequence"},
                    **{ls: {0: "batch"} for ls in names},
                },
                opset_version=OPSET,
                do_constant_folding=True,
                dynamo=False,
            )
            expected = network(input_ids, mask)
        fused = _fuse(target, encoder.config) if fuse else {}
        session = ort.InferenceSession(str(target), providers=["CPUExecutionProvider"])
        got = session.run(None, {"input_ids": input_ids.numpy(), "attention_mask": mask.numpy()})
        difference = max(
            float(np.abs(g - expected[ls].float().numpy()).max()) for g, ls in zip(got, names, strict=True)
        )
        if not difference <= EXPORT_TOLERANCE:
            raise OnnxUnavailableError(
                f"the ONNX export of {model.cfg.model.name} computes other logits than PyTorch (largest difference "
                f"{difference:.2g}); use --runtime torch"
            )
        facts = {
            "export_format": EXPORT_FORMAT,
            "weights_digest": digest,
            "file": FP32_FILE,
            "opset": OPSET,
            "label_sets": names,
            "pooling": network.pooling,
            "fused_operators": fused,
            "check_max_logit_difference": difference,
            "seconds": round(time.perf_counter() - started, 2),
            "torch": torch.__version__,
            "onnxruntime": ort.__version__,
            "model_name": model.cfg.model.name,
        }
        (staging / EXPORT_FACTS).write_text(json.dumps(facts, indent=2), encoding="utf-8")
        if folder.exists():
            shutil.rmtree(folder)
        os.replace(staging, folder)
    except Exception as exc:
        shutil.rmtree(staging, ignore_errors=True)
        if isinstance(exc, SamskapingError):
            raise
        first = str(exc).splitlines()[0] if str(exc) else ""
        raise OnnxUnavailableError(
            f"{model.cfg.model.name} could not be exported to ONNX ({type(exc).__name__}: {first}); use --runtime torch"
        ) from exc
    finally:
        if switched:
            encoder.set_attn_implementation(previous)
        network.train(was_training)
    log.info(
        "exported %s to %s in %.0f s (fused: %s)",
        model.cfg.model.name,
        folder / FP32_FILE,
        facts["seconds"],
        ", ".join(f"{k} {v}" for k, v in fused.items()) or "nothing",
    )
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
