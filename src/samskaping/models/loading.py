"""Building and loading classifiers of any registered kind.

A model folder names its kind in ``samskaping-model.json``; the kind's class comes from its
:class:`~samskaping.models.kinds.KindSpec` in :data:`~samskaping.models.registry.REGISTRY`.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import numpy as np

from samskaping.config import Config, validate_config
from samskaping.errors import ConfigError, ModelLoadError
from samskaping.labels import LABEL_SETS
from samskaping.models.base import CONFORMAL_FILE, MANIFEST, Classifier
from samskaping.models.registry import kind_spec


def model_class(kind: str) -> type[Classifier]:
    """The class registered for ``kind``.

    Raises:
        ModelLoadError: no such kind.
    """
    return kind_spec(kind).classifier


def build_model(cfg: Config, progress: bool = True) -> Classifier:
    """The untrained classifier of ``cfg.model.kind``, built from its config."""
    return model_class(cfg.model.kind).from_config(cfg, progress=progress)


def read_manifest(folder: Path) -> dict:
    """Read ``samskaping-model.json`` of a model folder.

    Raises:
        ModelLoadError: the folder or manifest is missing or unreadable.
    """
    if not folder.is_dir():
        raise ModelLoadError(
            f"{folder}: model folder not found; train one with "
            f"'python train.py --config configs/baseline.yaml --output {folder}' "
            "or give an MLflow URI such as models:/samskaping@champion"
        )
    path = folder / MANIFEST
    if not path.is_file():
        raise ModelLoadError(
            f"{folder}: not a samskaping model folder (no {MANIFEST}); point --model at a folder written by train.py"
        )
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ModelLoadError(f"{path}: unreadable model manifest ({exc})") from exc


def saved_config(manifest: dict[str, Any]) -> dict[str, Any]:
    """The config a model folder was trained with: its saved config, with the kind's ``saved_before`` values
    for keys added to the kind's section after the folder was written (see :class:`KindSpec`)."""
    raw = copy.deepcopy(manifest.get("config") or {})
    kind = str(manifest.get("kind"))
    section = raw.get("model", {}).get(kind)
    if isinstance(section, dict):
        for key, value in kind_spec(kind).saved_before.items():
            section.setdefault(key, value)
    return raw


def load_model(folder: str | Path) -> Classifier:
    """Load a trained model folder, whatever its kind.

    The saved config is validated with the same typed :class:`~samskaping.config.Config`
    that wrote it (file paths in it are not checked: the training data need not be here).

    Raises:
        ModelLoadError: not a model folder, unknown kind, invalid saved config, other labels, or damaged files.
    """
    folder = Path(folder)
    manifest = read_manifest(folder)
    cls = model_class(str(manifest.get("kind")))
    saved = {ls: tuple(labels) for ls, labels in manifest.get("label_sets", {}).items()}
    changed = [ls for ls, labels in saved.items() if LABEL_SETS.get(ls) != labels]
    if changed:
        raise ModelLoadError(
            f"{folder}: the model was trained with other labels for {', '.join(changed)} "
            "than this version of samskaping knows; retrain it"
        )
    try:
        cfg = validate_config(saved_config(manifest), source=str(folder / MANIFEST), check_files=False)
    except ConfigError as exc:
        raise ModelLoadError(f"{exc}; the model was saved by another version of samskaping, retrain it") from exc
    model = cls._load_files(folder, cfg)
    model.manifest = {k: v for k, v in manifest.items() if k != "config"}
    model.temperatures.update(
        {ls: float(t) for ls, t in (manifest.get("temperatures") or {}).items() if ls in model.label_sets}
    )
    for key, target in (("training_priors", model.training_priors), ("prior_shift", model.prior_shift)):
        target.update(
            {
                ls: np.asarray(v, dtype=np.float64)
                for ls, v in (manifest.get(key) or {}).items()
                if ls in model.label_sets
            }
        )
    if (folder / CONFORMAL_FILE).is_file():
        from safetensors.numpy import load_file

        from samskaping.calibration import ConformalSets

        arrays = load_file(str(folder / CONFORMAL_FILE))
        for ls in model.label_sets:
            if f"{ls}.alphas" in arrays:
                model.conformal[ls] = ConformalSets(
                    arrays[f"{ls}.alphas"], arrays[f"{ls}.labels"], len(LABEL_SETS[ls]), arrays.get(f"{ls}.probs")
                )
    return model


__all__ = ["build_model", "load_model", "model_class", "read_manifest", "saved_config"]
