"""The one classifier interface shared by the baseline and the transformer.

A trained model lives in a folder with ``samskaping-model.json`` (kind, label
sets and their labels, the resolved config, the package version) next to the
kind's own files. :func:`load_model` reads that file and hands the folder to
the right class, so prediction never rebuilds labels or config.
"""

from __future__ import annotations

import json
import logging
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from samskaping.errors import ModelLoadError
from samskaping.labels import LABEL_SETS, NONE

log = logging.getLogger(__name__)

MANIFEST = "samskaping-model.json"


class Classifier(ABC):
    """Classifies sentences by every label set it was trained on.

    Subclasses implement :meth:`fit`, :meth:`predict_proba`, :meth:`_save_files`
    and :meth:`_load_files`; label decoding and the polarity rule live here.
    """

    kind: str = "abstract"

    def __init__(self, label_sets: Sequence[str], config: Mapping[str, Any] | None = None) -> None:
        self.label_sets = tuple(label_sets)
        self.config = dict(config or {})
        self.manifest: dict[str, Any] = {}  # what the saved model folder says about itself (set on load)

    @abstractmethod
    def fit(
        self,
        texts: Sequence[str],
        labels: Mapping[str, Sequence[str]],
        validation: tuple[Sequence[str], Mapping[str, Sequence[str]]] | None = None,
        tracker: Any = None,
    ) -> dict[str, Any]:
        """Train on ``texts``; return a small dict of training facts (losses, epochs, ...).

        ``tracker`` (a :mod:`samskaping.tracking` tracker) receives per-epoch
        metrics from models that train in epochs. On Ctrl-C a model that can
        keeps its best state so far and re-raises ``KeyboardInterrupt``.
        """

    @abstractmethod
    def predict_proba(self, texts: Sequence[str], batch_size: int | None = None) -> dict[str, np.ndarray]:
        """Class probabilities per label set, shape (n, n_labels), columns in label-scheme order."""

    @abstractmethod
    def _save_files(self, folder: Path) -> None:
        """Write the kind's own files into ``folder``."""

    @classmethod
    @abstractmethod
    def _load_files(cls, folder: Path, manifest: dict[str, Any]) -> Classifier:
        """Rebuild the classifier from ``folder``."""

    def is_fitted(self) -> bool:
        """True once the model can predict (after fit or load)."""
        return True

    def predict(self, texts: Sequence[str], batch_size: int | None = None) -> dict[str, list[str]]:
        """Predicted labels per label set (see :func:`decode_predictions`)."""
        return decode_predictions(self.predict_proba(texts, batch_size=batch_size))[0]

    def save(self, folder: str | Path, extra: Mapping[str, Any] | None = None) -> Path:
        """Write the model folder (``samskaping-model.json`` + the kind's files)."""
        from samskaping import __version__

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        self._save_files(folder)
        manifest = {
            "kind": self.kind,
            "label_sets": {ls: list(LABEL_SETS[ls]) for ls in self.label_sets},
            "config": self.config,
            "samskaping_version": __version__,
            **dict(extra or {}),
        }
        (folder / MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False, indent=2), encoding="utf-8")
        return folder


def decode_predictions(probs: Mapping[str, np.ndarray]) -> tuple[dict[str, list[str]], dict[str, np.ndarray]]:
    """Turn probabilities into labels and the score of each chosen label.

    The polarity rule of the label scheme is applied: polarity is ``none``
    whenever factor is ``none``; when a factor is predicted, polarity is the
    more probable of promoting and hindering.
    """
    labels: dict[str, list[str]] = {}
    scores: dict[str, np.ndarray] = {}
    for label_set, matrix in probs.items():
        index = matrix.argmax(axis=1)
        labels[label_set] = [LABEL_SETS[label_set][i] for i in index]
        scores[label_set] = matrix[np.arange(len(index)), index]
    if "polarity" in probs and "factor" in labels:
        polarity_labels = LABEL_SETS["polarity"]
        none_col = polarity_labels.index(NONE)
        matrix = probs["polarity"]
        sided = matrix.copy()
        sided[:, none_col] = -1.0
        sided_index = sided.argmax(axis=1)
        for i, factor in enumerate(labels["factor"]):
            chosen = none_col if factor == NONE else int(sided_index[i])
            labels["polarity"][i] = polarity_labels[chosen]
            scores["polarity"][i] = matrix[i, chosen]
    return labels, scores


def read_manifest(folder: Path) -> dict[str, Any]:
    """Read ``samskaping-model.json`` of a model folder.

    Raises:
        ModelLoadError: the folder or manifest is missing or unreadable.
    """
    if not folder.is_dir():
        raise ModelLoadError(
            f"{folder}: model folder not found; train one with "
            f"'python train.py --config configs/baseline.yaml --output {folder}' or give an MLflow URI such as models:/samskaping@champion"
        )
    path = folder / MANIFEST
    if not path.is_file():
        raise ModelLoadError(f"{folder}: not a samskaping model folder (no {MANIFEST}); point --model at a folder written by train.py")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ModelLoadError(f"{path}: unreadable model manifest ({exc})") from exc


def load_model(folder: str | Path) -> Classifier:
    """Load a trained model folder, whatever its kind.

    Raises:
        ModelLoadError: not a model folder, unknown kind, or damaged files.
    """
    folder = Path(folder)
    manifest = read_manifest(folder)
    kind = manifest.get("kind")
    if kind == "baseline":
        from samskaping.models.baseline import BaselineClassifier as cls
    elif kind == "transformer":
        from samskaping.models.transformer import TransformerClassifier as cls  # type: ignore[assignment]
    else:
        raise ModelLoadError(f"{folder / MANIFEST}: unknown model kind {kind!r}; allowed: baseline, transformer")
    saved = {ls: tuple(labels) for ls, labels in manifest["label_sets"].items()}
    changed = [ls for ls, labels in saved.items() if LABEL_SETS.get(ls) != labels]
    if changed:
        raise ModelLoadError(
            f"{folder}: the model was trained with other labels for {', '.join(changed)} than this version of samskaping knows; retrain it"
        )
    model = cls._load_files(folder, manifest)
    model.manifest = {k: v for k, v in manifest.items() if k != "config"}
    return model
