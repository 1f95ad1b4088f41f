"""The MLflow model of a training run: logged, registered, loaded.

A model is logged as MLflow "models from code" (``mlflow_code/pyfunc_model.py``),
so no Python object is pickled. With it go: the samskaping model folder as the
artifact ``model_dir``, the samskaping package itself (``code_paths``), a
signature and an input example, and requirements for the model's kind (torch
and transformers only for transformer models; no local version tags such as
``+cpu``), so that the model loads on a fresh machine after
``pip install -r requirements.txt``.
"""

from __future__ import annotations

import json
import logging
import tempfile
from importlib.metadata import version
from pathlib import Path
from typing import Any

from samskaping.errors import ModelLoadError

log = logging.getLogger(__name__)

MODEL_DIR_KEY = "model_dir"
PYFUNC_CODE = Path(__file__).resolve().parent / "mlflow_code" / "pyfunc_model.py"
PACKAGE_DIR = Path(__file__).resolve().parent
# What importing samskaping.models / samskaping.predict needs at load time, per model kind.
BASE_REQUIREMENTS = (
    "mlflow",
    "numpy",
    "pandas",
    "pydantic",
    "pyyaml",
    "safetensors",
    "scikit-learn",
    "scipy",
    "crepes",
)
TORCH_REQUIREMENTS = (
    "torch",
    "transformers",
    "tokenizers",
    "onnx",
    "onnxruntime",
    "filelock",
)  # onnx*: the pyfunc runs in ONNX Runtime
INPUT_EXAMPLE_TEXT = "Kommunen skal utvikle tjenestene sammen med brukerne."
# params={"output": RAW_OUTPUT}: the raw probabilities of predict.raw_frame instead of labels (samskaping.spark)
RAW_OUTPUT = "raw"


def requirements(kind: str) -> list[str]:
    """Pinned requirements of a model kind, from the versions installed here, without local tags.

    Args:
        kind: the model kind of ``samskaping-model.json`` (``baseline``, ``transformer``, …).
    """
    from samskaping.models import model_class

    names = BASE_REQUIREMENTS + (TORCH_REQUIREMENTS if model_class(kind).uses_torch else ())
    return [f"{name}=={version(name).split('+', 1)[0]}" for name in names]


def save_pyfunc(model_dir: Path, target: Path) -> None:
    """Write the MLflow model of ``model_dir`` into the new folder ``target`` (``mlflow.pyfunc.save_model``)."""
    import mlflow
    import pandas as pd
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, ParamSchema, ParamSpec, Schema

    kind = json.loads((model_dir / "samskaping-model.json").read_text(encoding="utf-8"))["kind"]
    mlflow.pyfunc.save_model(
        path=str(target),
        python_model=str(PYFUNC_CODE),
        artifacts={MODEL_DIR_KEY: str(model_dir)},
        code_paths=[str(PACKAGE_DIR)],
        # context: the lead-in of a list item (predict.py passes it; models with use_context read it)
        signature=ModelSignature(
            inputs=Schema([ColSpec("string", "text"), ColSpec("string", "context", required=False)]),
            params=ParamSchema([ParamSpec("output", "string", "labels")]),
        ),
        input_example=pd.DataFrame({"text": [INPUT_EXAMPLE_TEXT]}),
        pip_requirements=requirements(kind),
        # a transformer runs in ONNX Runtime when it can; load_model(uri, model_config={"runtime": "torch"}) keeps PyTorch
        model_config={"runtime": "auto"},
    )


def ensure_registered_model(client: Any, name: str) -> None:
    """Create the registered model ``name`` unless it exists; safe when several runs register at once.

    Creating first and accepting RESOURCE_ALREADY_EXISTS has no window between a check and the
    creation in which another run's creation makes ours fail.

    Raises:
        MlflowException: any other store error.
    """
    from mlflow.exceptions import MlflowException

    try:
        client.create_registered_model(name)
    except MlflowException as exc:
        if exc.error_code != "RESOURCE_ALREADY_EXISTS":
            raise


def log_model(client: Any, run_id: str, model_dir: Path, registered_name: str | None) -> str | None:
    """Save the MLflow model, upload it as the run's ``model`` artifact, register it.

    Returns:
        The registry version, or None when ``registered_name`` is None.
    """
    with tempfile.TemporaryDirectory(prefix="samskaping-mlflow-") as tmp:
        target = Path(tmp) / "model"
        save_pyfunc(model_dir, target)
        client.log_artifacts(run_id, str(target), artifact_path="model")
    if registered_name is None:
        return None
    ensure_registered_model(client, registered_name)
    source = f"{client.get_run(run_id).info.artifact_uri}/model"
    created = client.create_model_version(registered_name, source, run_id=run_id)
    return str(created.version)


def load_from_mlflow(uri: str, tracking_uri: str | None = None):  # -> Classifier
    """Download an MLflow model and return the samskaping classifier inside it.

    Raises:
        ModelLoadError: the URI names no model in the store, or not a samskaping model.
    """
    import mlflow

    from samskaping.store import absolute_store_uri

    store = absolute_store_uri(tracking_uri)
    previous = mlflow.get_tracking_uri() if mlflow.tracking.is_tracking_uri_set() else None
    mlflow.set_tracking_uri(store)  # load_model reads the global URI; it is restored below
    try:
        loaded = mlflow.pyfunc.load_model(uri, model_config={"runtime": "torch"})  # runtime.prepare chooses
    except Exception as exc:  # MLflow raises MlflowException, OSError, ... for a bad URI
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        hint = "list models with 'python -m samskaping.runs list'"
        if "@" in uri and "alias" in first.lower():
            name, _, alias = uri[len("models:/") :].partition("@")
            hint = f"no version of {name} has the alias @{alias} yet; set it with 'python -m samskaping.runs promote --run RUN_ID --alias {alias}'"
        raise ModelLoadError(f"{uri}: cannot load this MLflow model from {store} ({first}); {hint}") from exc
    finally:
        mlflow.set_tracking_uri(previous)
    wrapper = loaded.unwrap_python_model()
    classifier = getattr(wrapper, "classifier", None)
    if type(wrapper).__name__ != "SamskapingModel" or classifier is None:
        raise ModelLoadError(f"{uri}: not a samskaping model (it wraps {type(wrapper).__name__})")
    return classifier


def registry_version(uri: str, tracking_uri: str | None = None) -> str | None:
    """The registry version that ``models:/NAME@ALIAS`` or ``models:/NAME/VERSION`` points to."""
    from samskaping.store import open_client

    name, _, ref = uri[len("models:/") :].partition("/")
    if "@" in name:
        name, alias = name.split("@", 1)
        client, _ = open_client(tracking_uri, create=False)
        return str(client.get_model_version_by_alias(name, alias).version)
    return ref or None
