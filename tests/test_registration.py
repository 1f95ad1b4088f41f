"""Which runs become model versions, and how the experiment opens in the MLflow UI (issue 19, point 9).

Only a full training or a run the user asks to register (``tracking.register_model: true``)
becomes a version of the registered model; a smoke test (``training.max_steps`` set) does
not, unless asked. The experiment carries MLflow's own kind tag and a saved view of the runs
table with the test macro-F1 columns. A real SQLite MLflow store, real baseline trainings.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import small_frame, write_jsonl
from samskaping.runs.ui import F1_COLUMNS, VIEW_KEY, VIEW_TAG_PREFIX


def _train(tmp_path: Path, uri: str, name: str, **tracking: object):
    from samskaping.config import validate_config
    from samskaping.training import train

    data = tmp_path / "d.jsonl"
    if not data.exists():
        write_jsonl(small_frame({"train": 60, "validation": 8, "test": 8}), data)
    settings = dict(tracking)
    max_steps = settings.pop("max_steps", None)
    cfg = validate_config(
        {
            "data": {"path": str(data)},
            "training": {"max_steps": max_steps},
            "tracking": {"enabled": True, "tracking_uri": uri, "run_name": name, **settings},
        }
    )
    return train(cfg, tmp_path / "models" / name, progress=False)


@pytest.mark.slow
def test_only_full_trainings_and_asked_for_runs_are_registered(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import mlflow

    monkeypatch.chdir(tmp_path)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    smoke = _train(tmp_path, uri, "smoke", max_steps=3)
    asked = _train(tmp_path, uri, "smoke-registered", max_steps=3, register_model=True)
    full = _train(tmp_path, uri, "full")
    never = _train(tmp_path, uri, "full-not-registered", register_model=False)

    assert smoke.registered_version is None and never.registered_version is None
    assert (asked.registered_version, full.registered_version) == ("1", "2")
    client = mlflow.MlflowClient(uri)
    versions = client.search_model_versions("name='samskaping'")
    assert sorted(v.run_id for v in versions) == sorted([asked.run_id, full.run_id])
    # every run is still tracked, registered or not
    assert {
        r.info.run_name for r in client.search_runs([client.get_experiment_by_name("samskaping").experiment_id])
    } == {"smoke", "smoke-registered", "full", "full-not-registered"}


def test_the_experiment_opens_on_the_training_view_with_the_f1_columns(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import mlflow

    from samskaping.tracking import MlflowTracker

    monkeypatch.chdir(tmp_path)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    tracker = MlflowTracker(uri, "samskaping")
    tags = mlflow.MlflowClient(uri).get_experiment(tracker.experiment_id).tags
    assert tags["mlflow.experimentKind"] == "custom_model_development"
    envelope = json.loads(tags[VIEW_TAG_PREFIX + VIEW_KEY])
    assert isinstance(envelope["name"], str) and isinstance(envelope["createdAt"], int)
    state = json.loads(envelope["state"])
    assert state["orderByKey"] == "metrics.`test_mean_macro_f1`" and state["orderByAsc"] is False
    assert state["selectedColumns"] == [f"metrics.`{name}`" for name in F1_COLUMNS]
    MlflowTracker(uri, "samskaping")  # opening the experiment again changes nothing
    assert mlflow.MlflowClient(uri).get_experiment(tracker.experiment_id).tags == tags
