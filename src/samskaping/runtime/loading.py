"""Loading a trained model from a folder or an MLflow URI, and the facts ``summary.json`` records about it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

MLFLOW_URI_PREFIXES = ("models:/", "runs:/", "mlflow-artifacts:/")


def is_mlflow_uri(spec: str) -> bool:
    """Whether ``spec`` names an MLflow model (``models:/``, ``runs:/``, ``mlflow-artifacts:/``), not a folder."""
    return spec.startswith(MLFLOW_URI_PREFIXES)


def load_any_model(spec: str, tracking_uri: str | None = None) -> Any:
    """A model folder, or an MLflow URI (models:/NAME@ALIAS, models:/NAME/VERSION, runs:/RUN_ID/model).

    Args:
        spec: the folder (``models/NAME``) or the MLflow URI.
        tracking_uri: the MLflow store of a URI (default: MLflow's own setting, see :mod:`samskaping.store`).

    Returns:
        The classifier (:class:`samskaping.models.base.Classifier`), on the CPU, running PyTorch or its own code.

    Raises:
        ModelLoadError: no model in the folder, or the URI names no samskaping model in the store.
    """
    from samskaping.models import load_model

    if is_mlflow_uri(spec):
        from samskaping.mlflow_model import load_from_mlflow  # imports MLflow only when needed

        return load_from_mlflow(spec, tracking_uri)
    return load_model(Path(spec))


def model_facts(model: Any, spec: str, tracking_uri: str | None) -> dict[str, object]:
    """What summary.json records about the model: kind, name, training run, digest, registry version.

    Raises:
        MlflowException: ``spec`` is a ``models:/`` URI whose registry version cannot be read.
    """
    import hashlib
    import json

    from samskaping import __version__

    facts: dict[str, object] = {
        "model": spec,
        "kind": model.kind,
        "name": model.cfg.model.name,
        "run_id": model.manifest.get("run_id"),
        "dataset_digest": model.manifest.get("dataset_digest"),
        "digest": hashlib.sha256(json.dumps(model.manifest, sort_keys=True, default=str).encode()).hexdigest()[:12],
        "trained_with_samskaping": model.manifest.get("samskaping_version"),
        "samskaping_version": __version__,
        "label_sets": list(model.label_sets),
        "trained_at": model.manifest.get("trained_at"),
        "data_files": model.manifest.get("data_files"),
        "test_metrics": {
            k: v
            for k, v in (model.manifest.get("metrics") or {}).items()
            if k.startswith("test_") and any(x in k for x in ("macro_f1", "_ece", "set_coverage"))
        },
    }
    if spec.startswith("models:/"):
        from samskaping.mlflow_model import registry_version

        facts["registered_version"] = registry_version(spec, tracking_uri)
    return facts
