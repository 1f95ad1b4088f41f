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
# What importing samskaping.models / samskaping.predict needs at load time, whatever the model kind;
# a kind adds its own in its KindSpec (samskaping.models.kinds).
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
INPUT_EXAMPLE_TEXT = "Kommunen skal utvikle tjenestene sammen med brukerne."
# params={"output": RAW_OUTPUT}: the raw probabilities of predict.raw_frame instead of labels (samskaping.spark)
RAW_OUTPUT = "raw"


def requirements(kind: str) -> list[str]:
    """Pinned requirements of a model kind, from the versions installed here, without local tags.

    Args:
        kind: the model kind of ``samskaping-model.json`` (``baseline``, ``transformer``, …); its
            :class:`~samskaping.models.kinds.KindSpec` names what it needs beyond :data:`BASE_REQUIREMENTS`.

    Raises:
        ModelLoadError: no such kind.
        PackageNotFoundError: a required package is not installed here.
    """
    from samskaping.models.registry import kind_spec

    names = BASE_REQUIREMENTS + tuple(n for n in kind_spec(kind).requirements if n not in BASE_REQUIREMENTS)
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
        # a transformer runs in ONNX Runtime when it can;
        # load_model(uri, model_config={"runtime": "torch"}) keeps PyTorch
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
        ModelLoadError: the URI names no model in the store, its recorded artifact folder is gone (a moved
            store: the message names that folder, see :func:`moved_artifacts_message`), or not a samskaping model.
    """
    import mlflow

    from samskaping.store import absolute_store_uri

    store = absolute_store_uri(tracking_uri)
    previous = mlflow.get_tracking_uri() if mlflow.tracking.is_tracking_uri_set() else None
    mlflow.set_tracking_uri(store)  # load_model reads the global URI; it is restored below
    try:
        loaded = mlflow.pyfunc.load_model(uri, model_config={"runtime": "torch"})  # runtime.prepare chooses
    except Exception as exc:  # MLflow raises MlflowException, OSError, ... for a bad URI
        moved = moved_artifacts_message(uri, store)
        if moved:
            raise ModelLoadError(moved) from exc
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        hint = "list models with 'python -m samskaping.runs list'"
        if "@" in uri and "alias" in first.lower():
            name, _, alias = uri[len("models:/") :].partition("@")
            hint = (
                f"no version of {name} has the alias @{alias} yet; "
                f"set it with 'python -m samskaping.runs promote --run RUN_ID --alias {alias}'"
            )
        raise ModelLoadError(f"{uri}: cannot load this MLflow model from {store} ({first}); {hint}") from exc
    finally:
        mlflow.set_tracking_uri(previous)
    wrapper = loaded.unwrap_python_model()
    classifier = getattr(wrapper, "classifier", None)
    if type(wrapper).__name__ != "SamskapingModel" or classifier is None:
        raise ModelLoadError(f"{uri}: not a samskaping model (it wraps {type(wrapper).__name__})")
    return classifier


def recorded_artifacts(uri: str, store: str) -> Path | None:
    """The local folder where the store says the artifacts of ``uri`` are (None: not a local folder, or unknown).

    ``models:/NAME@ALIAS`` and ``models:/NAME/VERSION`` give the model version's ``source``, ``runs:/RUN/PATH``
    the run's ``artifact_uri`` and PATH: MLflow records these as absolute locations when the run is logged.
    """
    from urllib.parse import unquote, urlparse

    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    try:
        client = MlflowClient(tracking_uri=store, registry_uri=store)
        if uri.startswith("models:/"):
            name, _, ref = uri[len("models:/") :].partition("/")
            if "@" in name:
                name, alias = name.split("@", 1)
                source = client.get_model_version_by_alias(name, alias).source
            else:
                source = client.get_model_version(name, ref).source
        elif uri.startswith("runs:/"):
            run_id, _, path = uri[len("runs:/") :].partition("/")
            source = client.get_run(run_id).info.artifact_uri.rstrip("/") + (f"/{path}" if path else "")
        else:
            return None
    except MlflowException:  # no such model, version or run: the caller reports MLflow's own error
        return None
    parsed = urlparse(source)
    if parsed.scheme not in ("", "file"):
        return None
    return Path(unquote(parsed.path))


def moved_artifacts_message(uri: str, store: str) -> str | None:
    """One line for a model whose recorded artifact folder is gone, e.g. after the store folder was moved.

    MLflow keeps each run's absolute artifact location in the store and has no call to change it
    (``MlflowClient.update_run`` and ``update_model_version`` change status, name and description only), so
    the line names the recorded folder, where the moved copy is when it lies next to the store, and the ways
    to reach it: the store moved back, the old folder linked to the new one, or the model folder given as
    ``--model``. None when the recorded folder exists or is not local.
    """
    from samskaping.store import sqlite_path

    recorded = recorded_artifacts(uri, store)
    if recorded is None or recorded.exists():
        return None
    database = sqlite_path(store)
    found = None
    if database is not None:
        here = database.parent
        for start in range(1, len(recorded.parts)):  # the longest tail of the recorded path found next to the store
            if here.joinpath(*recorded.parts[start:]).exists():
                found = start
                break
    if found is None:
        return (
            f"{uri}: the model's artifacts were recorded in {recorded}, which does not exist any more; "
            "MLflow keeps that absolute folder in the store and cannot be pointed elsewhere: "
            "put the artifacts back there, or train and register the model again"
        )
    old_root = Path(*recorded.parts[: found + 1])
    new_root = database.parent / recorded.parts[found]
    # the samskaping model folder inside the MLflow model (artifacts/<its own name>/samskaping-model.json)
    manifests = sorted(database.parent.joinpath(*recorded.parts[found:], "artifacts").glob("*/samskaping-model.json"))
    direct = f", or give --model {manifests[0].parent}" if len(manifests) == 1 else ""
    return (
        f"{uri}: the model's artifacts were recorded in {old_root}, but the store has moved and they are now in "
        f"{new_root}; MLflow keeps the recorded absolute folder and cannot be pointed elsewhere: move the store "
        f"back, or link the old folder to the new one (ln -s {new_root} {old_root}){direct}"
    )


def registry_version(uri: str, tracking_uri: str | None = None) -> str | None:
    """The registry version that ``models:/NAME@ALIAS`` or ``models:/NAME/VERSION`` points to."""
    from samskaping.store import open_client

    name, _, ref = uri[len("models:/") :].partition("/")
    if "@" in name:
        name, alias = name.split("@", 1)
        client, _ = open_client(tracking_uri, create=False)
        return str(client.get_model_version_by_alias(name, alias).version)
    return ref or None
