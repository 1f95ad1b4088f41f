"""MLflow behind a small adapter.

:class:`MlflowTracker` logs to a real MLflow store; the default is an
embedded SQLite file in the working directory (``sqlite:///mlflow.db``), which
needs no server. :class:`NullTracker` does nothing (``tracking.enabled:
false``). MLflow is imported only when a tracker is created, so importing the
package stays cheap.

A run that raises ends as FAILED; one interrupted with Ctrl-C ends as KILLED.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd

from samskaping.errors import TrackingError

log = logging.getLogger(__name__)

DEFAULT_TRACKING_URI = "sqlite:///mlflow.db"
MODEL_ARTIFACT = "model"


def resolve_tracking_uri(explicit: str | None = None) -> str:
    """``explicit`` (flag or config), else ``$MLFLOW_TRACKING_URI``, else the local SQLite store."""
    return explicit or os.environ.get("MLFLOW_TRACKING_URI") or DEFAULT_TRACKING_URI


def git_commit() -> str | None:
    """The current git commit of the working directory, or None outside a repository."""
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


class NullTracker:
    """A tracker that records nothing (used when tracking is switched off)."""

    run_id: str | None = None
    tracking_uri: str | None = None

    @contextmanager
    def run(self, run_name: str | None = None, tags: Mapping[str, str] | None = None) -> Iterator[NullTracker]:
        yield self

    def log_params(self, params: Mapping[str, Any]) -> None: ...
    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None: ...
    def log_dataset(self, frame: pd.DataFrame, name: str, digest: str, source: str, context: str) -> None: ...
    def log_figure(self, figure: Any, path: str) -> None: ...
    def log_dict(self, data: Any, path: str) -> None: ...
    def log_table(self, frame: pd.DataFrame, path: str) -> None: ...
    def set_tags(self, tags: Mapping[str, str]) -> None: ...

    def log_model(self, model_dir: Path, registered_name: str | None) -> str | None:
        return None


class MlflowTracker:
    """Logs a training run to MLflow and registers its model."""

    def __init__(self, tracking_uri: str | None = None, experiment: str = "samskaping") -> None:
        import mlflow

        self._mlflow = mlflow
        self.tracking_uri = resolve_tracking_uri(tracking_uri)
        self.experiment = experiment
        self.run_id: str | None = None
        mlflow.set_tracking_uri(self.tracking_uri)
        try:
            mlflow.set_experiment(experiment)
            # MLflow 3 opens GenAI pages for experiments of unknown kind; these are classic ML runs.
            mlflow.set_experiment_tag("mlflow.experimentKind", "custom_model_development")
        except Exception as exc:  # MLflow raises many types for a bad store
            raise TrackingError(f"cannot open MLflow store {self.tracking_uri!r}: {exc}") from exc

    @contextmanager
    def run(self, run_name: str | None = None, tags: Mapping[str, str] | None = None) -> Iterator[MlflowTracker]:
        """An MLflow run that ends FINISHED, FAILED (exception) or KILLED (Ctrl-C)."""
        mlflow = self._mlflow
        active = mlflow.start_run(run_name=run_name, tags=dict(tags or {}))
        self.run_id = active.info.run_id
        commit = git_commit()
        if commit:
            mlflow.set_tag("git_commit", commit)
        try:
            yield self
        except KeyboardInterrupt:
            mlflow.end_run(status="KILLED")
            log.warning("MLflow run %s marked KILLED", self.run_id)
            raise
        except BaseException:
            mlflow.end_run(status="FAILED")
            log.warning("MLflow run %s marked FAILED", self.run_id)
            raise
        else:
            mlflow.end_run(status="FINISHED")

    def log_params(self, params: Mapping[str, Any]) -> None:
        # MLflow params are strings of at most 6000 characters.
        self._mlflow.log_params({k: json.dumps(v, ensure_ascii=False) if isinstance(v, (list, dict)) else v for k, v in params.items()})

    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        self._mlflow.log_metrics(dict(metrics), step=step)

    def log_dataset(self, frame: pd.DataFrame, name: str, digest: str, source: str, context: str) -> None:
        dataset = self._mlflow.data.from_pandas(frame, source=source, name=name, digest=digest, targets="conception")
        self._mlflow.log_input(dataset, context=context)

    def log_figure(self, figure: Any, path: str) -> None:
        self._mlflow.log_figure(figure, path)

    def log_dict(self, data: Any, path: str) -> None:
        self._mlflow.log_dict(data, path)

    def log_table(self, frame: pd.DataFrame, path: str) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            local = Path(tmp) / Path(path).name
            frame.to_csv(local, index=False)
            self._mlflow.log_artifact(str(local), artifact_path=str(Path(path).parent) if Path(path).parent != Path(".") else None)

    def set_tags(self, tags: Mapping[str, str]) -> None:
        self._mlflow.set_tags(dict(tags))

    def log_model(self, model_dir: Path, registered_name: str | None) -> str | None:
        """Log the model folder as an MLflow pyfunc model; register it. Returns the registry version."""
        from samskaping.mlflow_model import log_pyfunc

        return log_pyfunc(model_dir, registered_name)


def make_tracker(enabled: bool, tracking_uri: str | None, experiment: str) -> MlflowTracker | NullTracker:
    """The tracker a training run uses."""
    return MlflowTracker(tracking_uri, experiment) if enabled else NullTracker()
