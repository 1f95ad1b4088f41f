"""The one classifier interface shared by every model kind.

A trained model lives in a folder with ``samskaping-model.json`` (kind, label
sets and their labels, the resolved config, the package version, the
calibration temperatures and the training priors) next to the kind's own
files. The folder rebuilds its own typed config on load (as nanoGPT's
checkpoints rebuild ``GPTConfig``), so prediction never guesses a setting.

A kind implements :meth:`Classifier.from_config`, :meth:`~Classifier.fit`,
:meth:`~Classifier.logits`, ``_save_files`` and ``_load_files``; probabilities,
calibration, label decoding and the polarity rule live here. This module never
imports its subclasses: :mod:`samskaping.models.registry` keeps the kind -> spec registry.
"""

from __future__ import annotations

import json
import logging
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from samskaping.labels import LABEL_SETS, NONE

if TYPE_CHECKING:  # the config reads the kinds' specs, so a kind's base class must not import it
    from samskaping.config import Config

log = logging.getLogger(__name__)

MANIFEST = "samskaping-model.json"
CONFORMAL_FILE = "conformal.safetensors"

Contexts = Sequence[str] | None


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """Row-wise softmax of ``logits / temperature``; shape (n, k) -> (n, k), rows sum to 1."""
    z = logits / temperature
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


class Classifier(ABC):
    """Classifies sentences by every label set it was trained on.

    Capabilities are class attributes, so callers ask the model instead of
    comparing kind names:

    Attributes:
        kind: the registry name written to the manifest.
        uses_torch: the model runs in torch (threads, devices); whether it has an encoder for the runtime
            paths is its kind's ``has_encoder`` (:func:`samskaping.models.registry.has_encoder`).
        supports_int8: ``predict.py --int8`` can quantise it.
        supports_bf16: ``predict.py --bf16`` can run it in bf16 on the CPU.
        temperatures: per label set, the temperature applied to the logits (1.0 = uncalibrated).
        training_priors: per label set, the label shares of the training split (what
            :meth:`predict_proba` assumes; see :mod:`samskaping.priors`).
        prior_shift: per label set, the bias added to the scaled logits: fitted with the temperature
            on the validation split (BCTS), else log(training priors / priors the fitted model embodies);
            class weighting makes a model behave as if every label were equally common.
        conformal: per label set, the calibrated prediction sets (:class:`~samskaping.calibration.ConformalSets`).
    """

    kind: ClassVar[str] = "abstract"
    uses_torch: ClassVar[bool] = False
    supports_int8: ClassVar[bool] = False
    supports_bf16: ClassVar[bool] = False

    def __init__(self, cfg: Config) -> None:
        self.cfg = cfg
        self.label_sets: tuple[str, ...] = tuple(cfg.model.label_sets)
        self.manifest: dict[str, Any] = {}  # what the saved model folder says about itself (set on load)
        self.temperatures: dict[str, float] = {ls: 1.0 for ls in self.label_sets}
        self.training_priors: dict[str, np.ndarray] = {
            ls: np.full(len(LABEL_SETS[ls]), 1 / len(LABEL_SETS[ls])) for ls in self.label_sets
        }
        self.prior_shift: dict[str, np.ndarray] = {ls: np.zeros(len(LABEL_SETS[ls])) for ls in self.label_sets}
        self.conformal: dict[str, Any] = {}

    # -- what a kind implements ---------------------------------------------
    @classmethod
    @abstractmethod
    def from_config(cls, cfg: Config, progress: bool = True) -> Classifier:
        """An untrained model built from its typed config.

        Raises:
            ModelLoadError: a pretrained part named in the config cannot be had.
        """

    @abstractmethod
    def fit(
        self,
        texts: Sequence[str],
        labels: Mapping[str, Sequence[str]],
        validation: tuple[Any, ...] | None = None,
        tracker: Any = None,
        contexts: Contexts = None,
    ) -> dict[str, Any]:
        """Train on ``texts``; return a small dict of training facts (losses, epochs, ...).

        ``validation`` is ``(texts, labels)`` or ``(texts, labels, contexts)``.

        ``contexts`` (one string per text, "" for none) is the list lead-in of
        a bullet (used when ``model.use_context`` is on). ``tracker`` receives
        per-epoch metrics from models that train in epochs. On Ctrl-C a model
        that can keeps its best state so far and re-raises ``KeyboardInterrupt``.
        """

    @abstractmethod
    def logits(
        self, texts: Sequence[str], batch_size: int | None = None, contexts: Contexts = None
    ) -> dict[str, np.ndarray]:
        """Unnormalised class scores per label set, shape (n, n_labels), columns in label-scheme order."""

    @abstractmethod
    def _save_files(self, folder: Path) -> None:
        """Write the kind's own files into ``folder``."""

    @classmethod
    @abstractmethod
    def _load_files(cls, folder: Path, cfg: Config) -> Classifier:
        """Rebuild the classifier from ``folder``."""

    @property
    def class_weighted(self) -> bool:
        """Whether training weighted classes to balance them (the model then embodies uniform priors)."""
        return False

    # -- shared behaviour ---------------------------------------------------
    def is_fitted(self) -> bool:
        """True once the model can predict (after fit or load)."""
        return True

    def predict_proba(
        self, texts: Sequence[str], batch_size: int | None = None, contexts: Contexts = None
    ) -> dict[str, np.ndarray]:
        """Calibrated class probabilities per label set under the training priors.

        Shape (n, n_labels) per label set, rows summing to 1.

        ``softmax(logits / T + prior_shift)``: the temperature T and the shift come
        from training (see :mod:`samskaping.calibration` and :mod:`samskaping.priors`).
        """
        scores = self.logits(texts, batch_size=batch_size, contexts=contexts)
        return {ls: self.probabilities(ls, matrix) for ls, matrix in scores.items()}

    def probabilities(self, label_set: str, logits: np.ndarray, calibrated: bool = True) -> np.ndarray:
        """Probabilities of one label set from its logits; ``calibrated=False`` gives the raw softmax."""
        z = np.asarray(logits, dtype=np.float64)
        if not calibrated:
            return softmax(z)
        return softmax(z / self.temperatures.get(label_set, 1.0) + self.prior_shift[label_set])

    def predict(
        self, texts: Sequence[str], batch_size: int | None = None, contexts: Contexts = None
    ) -> dict[str, list[str]]:
        """Predicted labels per label set (see :func:`decode_predictions`)."""
        return decode_predictions(self.predict_proba(texts, batch_size=batch_size, contexts=contexts))[0]

    def contexts(self, frame: Any) -> list[str] | None:
        """The context text of each row of ``frame`` (a DataFrame) as this model reads it, or ``None``.

        ``None`` when the model was trained without ``model.use_context`` or the frame has none of
        the columns in ``model.context_columns`` (see :mod:`samskaping.context`).
        """
        from samskaping.context import context_texts

        if not self.cfg.model.use_context:
            return None
        return context_texts(frame, self.cfg.model.context_columns)

    def context_inputs(self, texts: Sequence[str], contexts: Contexts) -> list[str]:
        """Contexts aligned with ``texts`` when the model reads them; "" everywhere otherwise."""
        if not self.cfg.model.use_context or contexts is None:
            return [""] * len(texts)
        if len(contexts) != len(texts):
            raise ValueError(f"{len(contexts)} contexts for {len(texts)} texts")
        return [c if isinstance(c, str) else "" for c in contexts]

    def save(self, folder: str | Path, extra: Mapping[str, Any] | None = None) -> Path:
        """Write the model folder (``samskaping-model.json`` + the kind's files)."""
        from samskaping import __version__

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        self._save_files(folder)
        manifest = {
            **{k: v for k, v in self.manifest.items() if k not in ("kind", "label_sets", "config")},
            "kind": self.kind,
            "label_sets": {ls: list(LABEL_SETS[ls]) for ls in self.label_sets},
            "config": self.cfg.to_dict(),
            "samskaping_version": __version__,
            "temperatures": self.temperatures,
            "training_priors": {ls: [float(p) for p in v] for ls, v in self.training_priors.items()},
            "prior_shift": {ls: [float(p) for p in v] for ls, v in self.prior_shift.items()},
            **dict(extra or {}),
        }
        if self.conformal:
            from safetensors.numpy import save_file

            save_file(
                {
                    f"{ls}.{name}": np.ascontiguousarray(getattr(sets, name))
                    for ls, sets in self.conformal.items()
                    for name in ("alphas", "labels", "probs")
                    if getattr(sets, name) is not None
                },
                str(folder / CONFORMAL_FILE),
            )
        (folder / MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False, indent=2), encoding="utf-8")
        self.manifest = {k: v for k, v in manifest.items() if k != "config"}
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
