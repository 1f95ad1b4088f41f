"""bf16 on CPUs that multiply bf16 in hardware: PyTorch autocast, with its agreement saved as ``bf16.json``.

On a CPU with AMX (Intel Xeon since Sapphire Rapids) or AVX512-BF16 (also AMD
Zen 4 and later), PyTorch's CPU autocast runs the encoder's matrix products in
bf16 through oneDNN while layer norms, softmax and the heads stay in fp32. bf16
keeps fp32's exponent range, so there are no activation outliers to clip (the
problem of int8, see :mod:`samskaping.runtime.int8`), only 8 bits of mantissa.
On CPUs without these instructions oneDNN converts in software and bf16 is
slower than fp32, so ``predict.py --bf16`` refuses there.

As for int8, the agreement with fp32 is measured once per model on its own test
split (:func:`measure_bf16_folder`, run by train.py and by
``python -m samskaping.speed calibrate``) and ``--bf16`` refuses a model whose
saved agreement is below 99 % (:func:`bf16_model`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import torch

from samskaping.errors import SamskapingError
from samskaping.runtime.agreement import (
    MIN_AGREEMENT,
    label_agreement,
    model_and_splits,
    read_model_json,
    saved_test_agreement,
    write_json_atomic,
)
from samskaping.runtime.machine import _cpu_name, cpu_flags, tune_threads

log = logging.getLogger(__name__)

BF16_FILE = "bf16.json"
BF16_FORMAT = 1
BF16_FLAGS = ("amx_bf16", "avx512_bf16")  # /proc/cpuinfo names of the bf16 multiply instructions


def native_bf16_flags() -> list[str]:
    """The CPU's bf16 multiply instructions as /proc/cpuinfo names them (empty: none, or not Linux)."""
    return [f for f in BF16_FLAGS if f in cpu_flags()]


@contextmanager
def _precision(classifier: Any, precision: str):
    before, classifier.precision = classifier.precision, precision
    try:
        yield
    finally:
        classifier.precision = before


def measure_bf16(classifier: Any, validation: Any, test: Any, batch_size: int | None = None) -> dict[str, Any]:
    """Labels and speed of bf16 against fp32 on the validation and test splits (PyTorch, CPU).

    Args:
        classifier: a fitted transformer classifier on the CPU, running PyTorch (no ONNX backend).
        validation, test: frames with ``text`` (and the gold label columns, optionally ``context``).
        batch_size: sentences per batch (default: the model's ``eval_batch_size``).

    Returns:
        What ``bf16.json`` holds: agreement with fp32 per label set and ``all`` (share of equal labels,
        labels as predict.py writes them under the training priors), accuracy of both on the test
        split, sentences per second of both on the test split, the CPU it was measured on.
    """
    from samskaping.runtime.export import weights_digest

    if getattr(classifier, "backend", None) is not None:
        raise SamskapingError(
            "measure_bf16 compares PyTorch fp32 with PyTorch bf16; switch the ONNX Runtime backend off first"
        )
    started = time.perf_counter()
    batch = batch_size or classifier.cfg.training.eval_batch_size

    def labels(frame: Any) -> tuple[dict[str, list[str]], float]:
        begun = time.perf_counter()
        got = classifier.predict(frame["text"].tolist(), batch_size=batch, contexts=classifier.contexts(frame))
        return got, len(frame) / max(time.perf_counter() - begun, 1e-9)

    fp32_val, _ = labels(validation)
    fp32_test, fp32_speed = labels(test)
    with _precision(classifier, "bf16"):
        labels(test.iloc[:batch])  # warm-up: oneDNN builds its bf16 kernels on the first call
        bf16_val, _ = labels(validation)
        bf16_test, bf16_speed = labels(test)
    gold = {ls: test[ls].tolist() for ls in classifier.label_sets if ls in test.columns}
    return {
        "format": BF16_FORMAT,
        "runtime": "torch-autocast-bf16",
        "weights_digest": weights_digest(classifier),
        "agreement": {"test": label_agreement(fp32_test, bf16_test), "validation": label_agreement(fp32_val, bf16_val)},
        "accuracy": (
            {"fp32": label_agreement(gold, fp32_test), "bf16": label_agreement(gold, bf16_test)} if gold else None
        ),
        "sentences": {"validation": len(validation), "test": len(test)},
        "sentences_per_second": {"fp32": round(fp32_speed, 1), "bf16": round(bf16_speed, 1), "batch_size": batch},
        "goal": {"test": MIN_AGREEMENT},
        "measured_with": {
            "torch": torch.__version__,
            "cpu": _cpu_name(),
            "native_bf16": native_bf16_flags(),
            "threads": torch.get_num_threads(),
        },
        "seconds": round(time.perf_counter() - started, 1),
        "measured_at": datetime.now().isoformat(timespec="seconds"),
    }


def measure_bf16_folder(
    folder: Path | str, data: Sequence[Path] | None = None, threads: int | None = None
) -> dict[str, Any]:
    """Measure bf16 on the model in ``folder`` (its own validation and test splits) and write ``bf16.json`` there.

    Raises:
        SamskapingError: not a transformer model, the data is not here, or the folder cannot be written.
    """
    folder = Path(folder)
    classifier, splits, files, digest = model_and_splits(folder, data, capability="supports_bf16", what="bf16")
    tune_threads(threads)
    if not native_bf16_flags():
        log.warning(
            "this CPU (%s) has no bf16 instructions: bf16 is emulated, so this is slow, and predict.py --bf16 "
            "will refuse here (the saved agreement holds on CPUs that have them)",
            _cpu_name(),
        )
    result = measure_bf16(classifier, splits["validation"], splits["test"])
    result["data"] = {"files": [str(f) for f in files], "digest": digest}
    write_json_atomic(folder, BF16_FILE, result)
    return result


def read_bf16_measurement(folder: Path | str | None) -> dict[str, Any] | None:
    """``bf16.json`` of a model folder, or None."""
    return read_model_json(folder, BF16_FILE)


def to_bf16(classifier: Any) -> Any:
    """Run ``classifier`` in bf16 from now on: its encoder's linear weights stored in bf16, autocast on.

    Casting the weights once gives the same products as autocast's per-call cast (bit for bit:
    both round to nearest even) without re-casting at every call, and halves their memory. Layer
    norms, softmax and the heads stay in fp32. One way: the fp32 weights are not kept.

    Returns:
        The same classifier.
    """
    from torch import nn

    for module in classifier.network.encoder.modules():
        if isinstance(module, nn.Linear):
            module.to(torch.bfloat16)
    classifier.precision = "bf16"
    return classifier


def bf16_model(classifier: Any, min_agreement: float = MIN_AGREEMENT) -> Any:
    """Switch ``classifier`` to bf16 on the CPU (:func:`to_bf16`), or refuse in one line.

    Raises:
        SamskapingError: not a transformer model; a CPU without bf16 instructions; no saved
            measurement, or one made for other weights; a saved test-split agreement below ``min_agreement``.
    """
    if not getattr(classifier, "supports_bf16", False):
        raise SamskapingError(f"--bf16 applies to transformer models; this is a {classifier.kind} model")
    if not native_bf16_flags():
        raise SamskapingError(
            f"--bf16: this CPU ({_cpu_name()}) has no bf16 instructions (AMX or AVX512-BF16), so bf16 would be "
            "slower than fp32 here; use --int8, or leave out --bf16"
        )
    _, agreement = saved_test_agreement(classifier, BF16_FILE, "bf16", "measurement", min_agreement)
    to_bf16(classifier)
    log.info(
        "bf16 (%s) kept %.2f%% of fp32's labels on the test split when measured",
        ", ".join(native_bf16_flags()),
        100 * agreement,
    )
    return classifier
