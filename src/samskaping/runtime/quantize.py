"""int8 from the fp32 export: ONNX Runtime dynamic quantisation with chosen layer parts kept in fp32."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from samskaping.errors import SamskapingError
from samskaping.runtime.export import (
    _MATMUL_PATTERN,
    _PART_OF_PATH,
    FP32_FILE,
    LAYER_PARTS,
    _quiet_onnx_tools,
    ensure_export,
)

log = logging.getLogger(__name__)


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
            raise SamskapingError(
                f"int8 recipe: unknown layer names {bad}; use layer.<i>.<part> with part one of {list(LAYER_PARTS)}"
            )
        object.__setattr__(self, "fp32_layers", tuple(sorted(set(self.fp32_layers), key=_layer_sort_key)))

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "fp32_layers": list(self.fp32_layers)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Int8Recipe:
        known = {"per_channel", "reduce_range", "fp32_layers"}
        unknown = sorted(set(data) - known)
        if unknown:
            raise SamskapingError(f"int8 recipe: unknown keys {unknown}; allowed: {sorted(known)}")
        return cls(
            bool(data.get("per_channel", True)),
            bool(data.get("reduce_range", True)),
            tuple(data.get("fp32_layers", ())),
        )

    def key(self) -> str:
        """A short name for the cache file of this recipe."""
        return hashlib.sha256(json.dumps(self.to_dict(), sort_keys=True).encode()).hexdigest()[:12]

    def describe(self) -> str:
        parts = [
            "per-channel" if self.per_channel else "per-tensor",
            "7-bit weights" if self.reduce_range else "8-bit weights",
        ]
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
    try:
        with _quiet_onnx_tools():
            # DefaultTensorType: shape inference cannot type the outputs of the fused (com.microsoft) operators
            quantize_dynamic(
                fp32_path,
                staging,
                op_types_to_quantize=["MatMul", "Attention"],
                per_channel=recipe.per_channel,
                reduce_range=recipe.reduce_range,
                weight_type=QuantType.QInt8,
                nodes_to_quantize=included,
                extra_options={"MatMulConstBOnly": True, "DefaultTensorType": onnx.TensorProto.FLOAT},
            )
        os.replace(staging, target)
    finally:
        staging.unlink(missing_ok=True)
    return {
        "quantized_nodes": len(included),
        "fp32_nodes": sum(len(v) for k, v in parts.items() if k in recipe.fp32_layers),
    }


def int8_file(folder: Path, recipe: Int8Recipe) -> Path:
    """The int8 model file of ``recipe`` in an export folder."""
    return folder / f"model-int8-{recipe.key()}.onnx"


def remove_int8_files(folder: Path, keep: Sequence[Int8Recipe] = ()) -> None:
    """Delete the int8 files of an export folder (and their locks), except those of ``keep``."""
    kept = {int8_file(folder, recipe).name for recipe in keep}
    for path in folder.glob("model-int8-*.onnx*"):
        if path.name.removesuffix(".lock") not in kept:
            path.unlink(missing_ok=True)


def ensure_int8(model: Any, recipe: Int8Recipe, place: str = "model") -> Path:
    """The int8 model file of ``recipe``, built from the fp32 export when missing (``onnx/model-int8-<key>.onnx``)."""
    from filelock import FileLock

    folder = ensure_export(model, place)
    target = int8_file(folder, recipe)
    with FileLock(str(target) + ".lock"):
        if not target.is_file():
            started = time.perf_counter()
            quantize_export(folder / FP32_FILE, target, recipe)
            log.info("built the int8 model (%s) in %.0f s", recipe.describe(), time.perf_counter() - started)
    return target


# ---------------------------------------------------------------------------
# running
# ---------------------------------------------------------------------------
