"""The saved agreement checks: how often a faster precision keeps fp32's labels, saved with the model and checked.

``int8.json`` and ``bf16.json`` in a model folder hold the share of fp32's
labels that int8 or bf16 kept on the model's own test split
(:func:`label_agreement`), made for one set of weights
(:func:`samskaping.runtime.export.weights_digest`). ``--int8`` and ``--bf16``
refuse a model whose file is missing, made for other weights, or below
:data:`MIN_AGREEMENT` (:func:`saved_test_agreement`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from samskaping.errors import SamskapingError
from samskaping.files import atomic_write

MIN_AGREEMENT = 0.99  # --int8 / --bf16 refuse a model whose labels agree with fp32 on less of its test split


def label_agreement(a: Mapping[str, Sequence[str]], b: Mapping[str, Sequence[str]]) -> dict[str, float]:
    """Share of equal labels per label set and over all (``all``)."""
    per = {ls: float(np.mean([x == y for x, y in zip(a[ls], b[ls], strict=True)])) if len(a[ls]) else 1.0 for ls in a}
    total = sum(len(a[ls]) for ls in a)
    per["all"] = sum(per[ls] * len(a[ls]) for ls in a) / total if total else 1.0
    return per


def read_model_json(folder: Path | str | None, name: str) -> dict[str, Any] | None:
    """The JSON file ``name`` of a model folder (``int8.json``, ``bf16.json``), or None when absent or unreadable."""
    if folder is None:
        return None
    try:
        return json.loads((Path(folder) / name).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError, UnicodeDecodeError):
        return None


def saved_test_agreement(
    classifier: Any, name: str, precision: str, noun: str, min_agreement: float
) -> tuple[dict[str, Any], float]:
    """The measurement of a faster precision saved with the model, and its test-split agreement, or refuse in one line.

    Args:
        classifier: the model loaded from its folder.
        name: the file in the model folder (``int8.json``, ``bf16.json``).
        precision: ``int8`` or ``bf16``: names the flag (``--int8``) in the messages.
        noun: what the file is called in the messages ("calibration", "measurement").
        min_agreement: the least share of fp32's labels kept on the test split.

    Raises:
        SamskapingError: no such file, one made for other weights, or an agreement below ``min_agreement``.
    """
    from samskaping.runtime.export import weights_digest

    flag = f"--{precision}"
    folder = getattr(classifier, "source_folder", None)
    where = folder or "this model"
    command = f"python -m samskaping.speed calibrate {where} --only {precision}"
    saved = read_model_json(folder, name)
    if saved is None:
        raise SamskapingError(
            f"{flag}: {where} has no {precision} {noun}; run '{command}' once (it compares {precision} with fp32 "
            f"on the model's test split and saves the result in the folder), or leave out {flag}"
        )
    if saved.get("weights_digest") != weights_digest(classifier):
        raise SamskapingError(
            f"{flag}: the {precision} {noun} in {where} was made for other weights; run '{command}' again, "
            f"or leave out {flag}"
        )
    agreement = float(saved["agreement"]["test"]["all"])
    if agreement < min_agreement:
        raise SamskapingError(
            f"{flag} refused: {precision} kept only {agreement:.1%} of fp32's labels on this model's test split "
            f"(at least {min_agreement:.0%} needed); leave out {flag}"
        )
    return saved, agreement


def model_and_splits(
    folder: Path, data: Sequence[Path] | None, capability: str, what: str
) -> tuple[Any, dict[str, Any], list[Path], str]:
    """Load the transformer model in ``folder`` and re-make its validation and test splits.

    Returns:
        ``(classifier, splits, files, digest)``: splits by name (frames), the labelled files read
        (default: those the model was trained on) and their digest.

    Raises:
        SamskapingError: the model lacks ``capability`` (e.g. ``supports_int8``), or the data is not here.
    """
    from samskaping.data import load_labelled_files, split_frame
    from samskaping.models import load_model

    classifier = load_model(folder)
    if not getattr(classifier, capability, False):
        raise SamskapingError(f"{folder}: {what} applies to transformer models; this is a {classifier.kind} model")
    cfg = classifier.cfg
    files = list(data) if data else cfg.data.files
    missing = [str(f) for f in files if not Path(f).is_file()]
    if missing:
        raise SamskapingError(
            f"the model's labelled data is not here ({', '.join(missing)}, read from {Path.cwd()}); "
            "run from the project folder or give --data PATH"
        )
    labelled = load_labelled_files(files, on_invalid=cfg.data.on_invalid)
    splits = split_frame(labelled, cfg.data.validation_size, cfg.data.test_size, cfg.training.seed)
    return classifier, splits, [Path(f) for f in files], labelled.digest


def write_json_atomic(folder: Path, name: str, content: Mapping[str, Any]) -> None:
    """Write ``folder/name`` through a temporary file, so a reader never sees half of it.

    Raises:
        SamskapingError: the folder cannot be written.
    """
    try:
        atomic_write(folder / name, lambda p: p.write_text(json.dumps(content, indent=2, ensure_ascii=False), "utf-8"))
    except OSError as exc:
        raise SamskapingError(
            f"{folder}: cannot write {name} ({exc.strerror or exc}); calibrate a copy you can write to"
        ) from exc
