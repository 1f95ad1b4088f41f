"""Experiment tracking behind a small :class:`Tracker` protocol.

:class:`MlflowTracker` holds an ``MlflowClient`` and the id of its run (the
pattern of skorch's ``MlflowLogger``): it never touches MLflow's global
"active run" state, so two trackers can live in one process and nothing leaks
between tests. :class:`NullTracker` implements the same protocol and records
nothing (``tracking.enabled: false``). MLflow is imported only when a tracker is
created, so importing the package stays cheap.

A run that raises ends as FAILED; one interrupted with Ctrl-C ends as KILLED.
"""

from __future__ import annotations

import json
import logging
import signal
import subprocess
import tempfile
import threading
import time
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import pandas as pd

from samskaping.errors import TrackingError
from samskaping.store import open_client, sqlite_path

log = logging.getLogger(__name__)

MODEL_ARTIFACT = "model"
# MLflow's own registry holds two sources for local paths and warns on every dataset; nothing we can change.
_AMBIGUOUS_SOURCE = "The specified dataset source can be interpreted in multiple ways"


@runtime_checkable
class Tracker(Protocol):
    """What training logs to. Every method is a no-op for :class:`NullTracker`."""

    run_id: str | None

    def run(self, run_name: str | None = None, tags: Mapping[str, str] | None = None) -> Any:
        """A context manager around one run (FINISHED, FAILED or KILLED at its end)."""

    def log_params(self, params: Mapping[str, Any]) -> None: ...
    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None: ...
    def log_dataset(self, frame: pd.DataFrame, name: str, digest: str, source: str, context: str) -> None: ...
    def log_figure(self, figure: Any, path: str) -> None: ...
    def log_dict(self, data: Any, path: str) -> None: ...
    def log_table(self, frame: pd.DataFrame, path: str) -> None: ...
    def set_tags(self, tags: Mapping[str, str]) -> None: ...
    def log_model(self, model_dir: Path, registered_name: str | None) -> str | None: ...


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


@contextmanager
def deferred_interrupt() -> Iterator[None]:
    """Hold Ctrl-C (SIGINT) until the block ends, then raise :class:`KeyboardInterrupt`.

    A store write cut off half-way leaves the SQLite store locked, and the run
    could then not be marked KILLED. Only the main thread can handle signals;
    elsewhere the block runs unchanged.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: received.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if received:
        raise KeyboardInterrupt


class MlflowTracker:
    """Logs one training run to an MLflow store through an ``MlflowClient`` and registers its model.

    Args:
        tracking_uri: the store (default: ``$MLFLOW_TRACKING_URI``, else ``sqlite:///mlflow.db``).
        experiment: the experiment name; created when missing, with its artifacts beside a
            SQLite store's file (``<folder>/mlruns``) rather than in the current folder.

    Raises:
        TrackingError: the store cannot be opened or the experiment created.
    """

    def __init__(self, tracking_uri: str | None = None, experiment: str = "samskaping") -> None:
        self.client, self.tracking_uri = open_client(tracking_uri)
        self.experiment = experiment
        self.run_id: str | None = None
        try:
            found = self.client.get_experiment_by_name(experiment)
            if found is None:
                path = sqlite_path(self.tracking_uri)
                location = (path.parent / "mlruns").resolve().as_uri() if path is not None else None
                self.experiment_id = self.client.create_experiment(experiment, artifact_location=location)
            else:
                self.experiment_id = found.experiment_id
            # MLflow 3 opens GenAI pages for experiments of unknown kind; these are training runs, shown with their
            # F1 columns
            from samskaping.runs.ui import set_up_experiment

            set_up_experiment(self.client, self.experiment_id)
        except Exception as exc:  # MLflow raises many types for a bad store
            raise TrackingError(f"cannot use experiment {experiment!r} in {self.tracking_uri}: {exc}") from exc

    @contextmanager
    def run(self, run_name: str | None = None, tags: Mapping[str, str] | None = None) -> Iterator[MlflowTracker]:
        """One run that ends FINISHED, FAILED (exception) or KILLED (Ctrl-C)."""
        all_tags = dict(tags or {})
        commit = git_commit()
        if commit:
            all_tags["git_commit"] = commit
        self.run_id = self.client.create_run(self.experiment_id, run_name=run_name, tags=all_tags).info.run_id
        try:
            yield self
        except KeyboardInterrupt:
            self.client.set_terminated(self.run_id, status="KILLED")
            log.warning("MLflow run %s marked KILLED", self.run_id)
            raise
        except BaseException:
            self.client.set_terminated(self.run_id, status="FAILED")
            log.warning("MLflow run %s marked FAILED", self.run_id)
            raise
        else:
            self.client.set_terminated(self.run_id, status="FINISHED")

    def _run(self) -> str:
        if self.run_id is None:
            raise TrackingError("no MLflow run is open; log inside 'with tracker.run(...)'")
        return self.run_id

    def log_params(self, params: Mapping[str, Any]) -> None:
        from mlflow.entities import Param

        # MLflow params are strings of at most 6000 characters; lists and dicts go as JSON.
        items = [
            Param(k, json.dumps(v, ensure_ascii=False) if isinstance(v, (list, dict)) else str(v))
            for k, v in params.items()
        ]
        with deferred_interrupt():
            for start in range(0, len(items), 100):  # log_batch takes at most 100 params
                self.client.log_batch(self._run(), params=items[start : start + 100])

    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        items = [Metric(k, float(v), now, step or 0) for k, v in metrics.items()]
        with deferred_interrupt():
            for start in range(0, len(items), 1000):
                self.client.log_batch(self._run(), metrics=items[start : start + 1000])

    def log_dataset(self, frame: pd.DataFrame, name: str, digest: str, source: str, context: str) -> None:
        import mlflow
        from mlflow.entities import DatasetInput, InputTag

        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=_AMBIGUOUS_SOURCE)
            dataset = mlflow.data.from_pandas(frame, source=source, name=name, digest=digest, targets="conception")
            entity = dataset._to_mlflow_entity()
        with deferred_interrupt():
            self.client.log_inputs(self._run(), [DatasetInput(entity, [InputTag("mlflow.data.context", context)])])

    def log_figure(self, figure: Any, path: str) -> None:
        self.client.log_figure(self._run(), figure, path)

    def log_dict(self, data: Any, path: str) -> None:
        self.client.log_dict(self._run(), data, path)

    def log_table(self, frame: pd.DataFrame, path: str) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            local = Path(tmp) / Path(path).name
            frame.to_csv(local, index=False)
            parent = str(Path(path).parent)
            self.client.log_artifact(self._run(), str(local), artifact_path=None if parent == "." else parent)

    def set_tags(self, tags: Mapping[str, str]) -> None:
        with deferred_interrupt():
            for key, value in tags.items():
                self.client.set_tag(self._run(), key, value)

    def log_model(self, model_dir: Path, registered_name: str | None) -> str | None:
        """Log the model folder as the run's MLflow model (no pickle) and register it; return the version."""
        from samskaping.mlflow_model import log_model

        return log_model(self.client, self._run(), model_dir, registered_name)


def make_tracker(enabled: bool, tracking_uri: str | None, experiment: str) -> MlflowTracker | NullTracker:
    """The tracker a training run uses."""
    return MlflowTracker(tracking_uri, experiment) if enabled else NullTracker()
