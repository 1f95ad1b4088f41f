"""The MLflow model of a run: a pyfunc wrapper around a samskaping model folder.

``mlflow.pyfunc.load_model(uri).predict(DataFrame with a text column)``
returns the same table as ``predict.py``: per label set the label, its
probability and one probability column per class.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd

from samskaping.errors import ModelLoadError

log = logging.getLogger(__name__)

MODEL_DIR_KEY = "model_dir"


class SamskapingPyfunc(mlflow.pyfunc.PythonModel):
    """Wraps a model folder written by ``train.py``."""

    def load_context(self, context: Any) -> None:
        from samskaping.models import load_model

        self.classifier = load_model(Path(context.artifacts[MODEL_DIR_KEY]))

    def predict(self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None) -> pd.DataFrame:
        from samskaping.predict import classify_frame

        if "text" not in model_input.columns:
            raise ValueError(f"input needs a 'text' column; got {list(model_input.columns)}")
        return classify_frame(self.classifier, model_input["text"].astype(str).tolist())


def _requirements() -> list[str]:
    from importlib.metadata import version

    return [f"{name}=={version(name)}" for name in ("mlflow", "scikit-learn", "safetensors", "torch", "transformers", "pandas")]


def log_pyfunc(model_dir: Path, registered_name: str | None) -> str | None:
    """Log ``model_dir`` as the run's MLflow model and register it; return the registry version."""
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, Schema

    signature = ModelSignature(inputs=Schema([ColSpec("string", "text")]))
    info = mlflow.pyfunc.log_model(
        name="model",
        python_model=SamskapingPyfunc(),
        artifacts={MODEL_DIR_KEY: str(model_dir)},
        signature=signature,
        pip_requirements=_requirements(),
        registered_model_name=registered_name,
    )
    version = info.registered_model_version
    return None if version is None else str(version)


def load_from_mlflow(uri: str, tracking_uri: str | None = None):  # -> Classifier
    """Download an MLflow model and return the samskaping classifier inside it.

    Raises:
        ModelLoadError: the URI names no model in the store, or not a samskaping model.
    """
    from samskaping.tracking import resolve_tracking_uri

    mlflow.set_tracking_uri(resolve_tracking_uri(tracking_uri))
    try:
        loaded = mlflow.pyfunc.load_model(uri)
    except Exception as exc:  # MLflow raises MlflowException, OSError, ... for a bad URI
        raise ModelLoadError(
            f"{uri}: cannot load this MLflow model from {mlflow.get_tracking_uri()} ({str(exc).splitlines()[0]}); "
            "list models with 'python -m samskaping.runs list'"
        ) from exc
    wrapper = loaded.unwrap_python_model()
    if not isinstance(wrapper, SamskapingPyfunc):
        raise ModelLoadError(f"{uri}: not a samskaping model (it wraps {type(wrapper).__name__})")
    return wrapper.classifier


def registry_version(uri: str, tracking_uri: str | None = None) -> str | None:
    """The registry version that ``models:/NAME@ALIAS`` or ``models:/NAME/VERSION`` points to."""
    from mlflow.tracking import MlflowClient

    from samskaping.tracking import resolve_tracking_uri

    name, _, ref = uri[len("models:/") :].partition("/")
    if "@" in name:
        name, alias = name.split("@", 1)
        client = MlflowClient(tracking_uri=resolve_tracking_uri(tracking_uri))
        return str(client.get_model_version_by_alias(name, alias).version)
    return ref or None
