"""The model on a Spark cluster: shipped to the executors, its output columns, its decision rules.

Labels are made in two steps, as in ``predict.py``: the model gives raw
probabilities (under the training priors) sentence by sentence, and the
decision rules turn them into labels, prediction sets and shares. The first
step runs the model: an MLflow model through ``mlflow.pyfunc.spark_udf``
(``env_manager="local"``, asking the pyfunc for its raw output), a model folder
in a pandas UDF. The second step needs only the model folder's small files; it
runs in a pandas UDF with priors fixed beforehand. Priors ``estimated`` are
estimated over every sentence together, on the driver, exactly as
``predict.py`` estimates them (same EM, same sentence order), and then handed to
the executors as fixed shares.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from samskaping.errors import ModelLoadError
from samskaping.mlflow_model import INPUT_EXAMPLE_TEXT, MODEL_DIR_KEY, RAW_OUTPUT
from samskaping.models.base import Classifier

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModelSource:
    """Where the executors get the model: an MLflow URI (``spark_udf``) or a model folder."""

    folder: Path | None = None
    mlflow_uri: str | None = None
    tracking_uri: str | None = None

    def __post_init__(self) -> None:
        if (self.folder is None) == (self.mlflow_uri is None):
            raise ValueError("give exactly one of folder and mlflow_uri")


@dataclass(frozen=True)
class ShippedModel:
    """The model as the executors see it: the raw-probability UDF and the archive the decision UDF loads."""

    raw: Callable[[Any, Any], Any]  # (text column, context column) -> struct column
    archive: str
    staged: Path  # the driver's temporary copies, removed after the job


def spark_types(frame: pd.DataFrame) -> dict[str, str]:
    """Spark SQL types of a frame's columns (text as ``string``)."""
    types = {}
    for name, dtype in frame.dtypes.items():
        if pd.api.types.is_bool_dtype(dtype):
            types[str(name)] = "boolean"
        elif pd.api.types.is_float_dtype(dtype):
            types[str(name)] = "double"
        elif pd.api.types.is_integer_dtype(dtype):
            types[str(name)] = "bigint"
        else:
            types[str(name)] = "string"
    return types


def ddl(types: dict[str, str]) -> str:
    """A struct's fields as Spark DDL."""
    return ", ".join(f"`{name}` {kind}" for name, kind in types.items())


def output_types(model: Classifier) -> tuple[dict[str, str], dict[str, str]]:
    """The columns of ``raw_frame`` and of ``decide_frame`` for this model, with their Spark types."""
    from samskaping.predict import decide_frame, raw_frame

    raw = raw_frame(model, [INPUT_EXAMPLE_TEXT], contexts=[""])
    return spark_types(raw), spark_types(decide_frame(model, raw, "training")[0])


def ship_model(spark: Any, model: Classifier, source: ModelSource, batch_size: int | None = None) -> ShippedModel:
    """Make the model available to the executors.

    Raises:
        ModelLoadError: the MLflow model cannot be downloaded.
    """
    from samskaping.spark.executors import raw_udf

    raw_types, _ = output_types(model)
    staged = Path(tempfile.mkdtemp(prefix="samskaping-spark-model-"))
    try:
        folder = source.folder if source.folder is not None else _mlflow_model_dir(source, staged)
        # an archive with a name of its own: Spark refuses a second, different file under a name it already ships
        archive = Path(
            shutil.make_archive(str(staged / f"{folder.name}-{uuid.uuid4().hex[:8]}"), "zip", root_dir=folder)
        )
        spark.sparkContext.addArchive(str(archive))
        if source.mlflow_uri is None:
            return ShippedModel(raw_udf(archive.name, ddl(raw_types), batch_size), archive.name, staged)
        return ShippedModel(_mlflow_raw_udf(spark, source, ddl(raw_types)), archive.name, staged)
    except BaseException:
        shutil.rmtree(staged, ignore_errors=True)
        raise


def _mlflow_raw_udf(spark: Any, source: ModelSource, schema: str) -> Callable[[Any, Any], Any]:
    import mlflow
    from pyspark.sql import functions as F
    from pyspark.sql.types import StructType

    from samskaping.store import absolute_store_uri

    previous = mlflow.get_tracking_uri() if mlflow.tracking.is_tracking_uri_set() else None
    mlflow.set_tracking_uri(absolute_store_uri(source.tracking_uri))  # spark_udf downloads the model now
    try:
        udf = mlflow.pyfunc.spark_udf(
            spark,
            source.mlflow_uri,
            result_type=StructType.fromDDL(schema),
            env_manager="local",
            params={"output": RAW_OUTPUT},
        )
    finally:
        mlflow.set_tracking_uri(previous)
    return lambda text, context: udf(F.struct(text.alias("text"), context.alias("context")))


def _mlflow_model_dir(source: ModelSource, target: Path) -> Path:
    """Download the MLflow model and return the samskaping model folder inside it (for the decision step)."""
    import mlflow
    import yaml

    from samskaping.store import absolute_store_uri

    previous = mlflow.get_tracking_uri() if mlflow.tracking.is_tracking_uri_set() else None
    mlflow.set_tracking_uri(absolute_store_uri(source.tracking_uri))
    try:
        local = Path(
            mlflow.artifacts.download_artifacts(artifact_uri=source.mlflow_uri, dst_path=str(target / "mlflow"))
        )
    except Exception as exc:  # MLflow raises MlflowException, OSError, ... for a bad URI
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ModelLoadError(f"{source.mlflow_uri}: cannot download this MLflow model ({first})") from exc
    finally:
        mlflow.set_tracking_uri(previous)
    flavour = yaml.safe_load((local / "MLmodel").read_text(encoding="utf-8"))["flavors"]["python_function"]
    return local / flavour["artifacts"][MODEL_DIR_KEY]["path"]


def decision_rules(model: Classifier, collect_raw: Callable[[], pd.DataFrame]) -> tuple[Any, dict[str, Any]]:
    """The priors the executors apply, and the record ``summary.json`` keeps (``decision_rules``, as in ``predict.py``).

    Args:
        model: the model (its ``prediction.priors`` and ``prediction.confidence`` apply).
        collect_raw: gives every sentence's raw probabilities in ``predict.py``'s order; called only for
            priors ``estimated``.

    Returns:
        A priors setting that needs no other sentences (``estimated`` becomes the estimated shares,
        unrounded), and the record.
    """
    from samskaping import priors as prior_rules
    from samskaping.labels import LABEL_SETS
    from samskaping.probabilities import decide_frame, probabilities_of, raw_frame

    setting, confidence = model.cfg.prediction.priors, model.cfg.prediction.confidence
    sample = raw_frame(model, [INPUT_EXAMPLE_TEXT], contexts=[""])
    if setting != "estimated":
        return setting, decide_frame(model, sample, setting, confidence)[1]
    raw = collect_raw()
    probs = {ls: p.astype(np.float64) for ls, p in probabilities_of(raw, model.label_sets).items()}
    shares = {}
    for ls in model.label_sets:
        estimated, _, _ = prior_rules.estimate_em(
            probs[ls], np.asarray(model.training_priors[ls], dtype=np.float64), model.cfg.prediction.prior_strength
        )
        shares[ls] = {label: float(p) for label, p in zip(LABEL_SETS[ls], estimated, strict=True)}
    record = decide_frame(model, sample, shares, confidence)[1]
    record["priors"] = prior_rules.apply(
        probs, model.training_priors, "estimated", model.cfg.prediction.prior_strength
    )[1]  # iterations, convergence, strength
    return shares, record
