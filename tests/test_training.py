"""Training runs tracked in a real MLflow SQLite store."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import mlflow
import pytest
from mlflow.tracking import MlflowClient

from samskaping.config import validate_config
from samskaping.errors import SamskapingError
from samskaping.models import load_model
from samskaping.training import train

ROOT = Path(__file__).resolve().parents[1]


def _config(data: Path, uri: str, **model) -> object:
    return validate_config(
        {
            "data": {"path": str(data)},
            "model": {"kind": "baseline", "name": "tfidf-logreg", **model},
            "tracking": {"tracking_uri": uri, "experiment": "test", "registered_model_name": "samskaping-test"},
        }
    )


@pytest.mark.slow
def test_baseline_run_is_logged_registered_and_saved(tmp_path, small_data):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    result = train(_config(small_data, uri), tmp_path / "models" / "b", progress=False)

    client = MlflowClient(tracking_uri=uri)
    run = client.get_run(result.run_id)
    assert run.info.status == "FINISHED"
    for split in ("validation", "test"):
        for ls in ("conception", "factor", "polarity"):
            assert 0.0 <= run.data.metrics[f"{split}_{ls}_macro_f1"] <= 1.0
            assert f"{split}_{ls}_accuracy" in run.data.metrics
        assert f"{split}_mean_macro_f1" in run.data.metrics
    assert run.data.params["model.kind"] == "baseline"
    assert run.data.params["dataset.rows.train"] == "24"
    assert len(run.data.params["dataset.digest"]) == 12
    assert run.data.tags["model.name"] == "tfidf-logreg"
    assert run.data.tags.get("git_commit")
    contexts = {d.dataset.name: {t.key: t.value for t in d.tags}["mlflow.data.context"] for d in run.inputs.dataset_inputs}
    assert contexts == {f"small.jsonl:{s}": s for s in ("train", "validation", "test")}

    artifacts = {a.path for a in client.list_artifacts(result.run_id, "plots")}
    assert "plots/test_conception_confusion.png" in artifacts
    assert "plots/test_f1_per_class.png" in artifacts
    assert {a.path for a in client.list_artifacts(result.run_id, "predictions")} == {"predictions/test_predictions.csv"}
    report = json.loads(Path(mlflow.artifacts.download_artifacts(run_id=result.run_id, artifact_path="reports/test_classification_report.json", tracking_uri=uri)).read_text())
    assert set(report["factor"]["per_class"]) == {"concept_role", "resources", "social_process", "roles_power", "holistic", "anchoring", "none"}

    version = client.get_model_version("samskaping-test", result.registered_version)
    assert version.run_id == result.run_id

    # the folder predicts without MLflow, the MLflow model predicts the same
    folder_model = load_model(result.model_dir)
    assert json.loads((result.model_dir / "metrics.json").read_text())["test_conception_macro_f1"] == pytest.approx(result.metrics["test_conception_macro_f1"])
    import pandas as pd

    sentences = ["Vi skal utvikle tjenestene sammen med brukerne.", "Folketallet har gått ned siden 2010."]
    mlflow.set_tracking_uri(uri)
    pyfunc = mlflow.pyfunc.load_model(f"models:/samskaping-test/{result.registered_version}")
    table = pyfunc.predict(pd.DataFrame({"text": sentences}))
    assert table["conception"].tolist() == folder_model.predict(sentences)["conception"]
    assert {"conception_score", "conception_p_service", "polarity_p_hindering"} <= set(table.columns)


@pytest.mark.slow
def test_crashing_run_is_marked_failed(tmp_path, small_data):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    (tmp_path / "models").mkdir()
    blocker = tmp_path / "models" / "b.partial"  # the staging folder cannot be made after training
    blocker.write_text("a file where the staging folder should be", encoding="utf-8")
    with pytest.raises(OSError):
        train(_config(small_data, uri), tmp_path / "models" / "b", progress=False)
    runs = MlflowClient(tracking_uri=uri).search_runs([MlflowClient(tracking_uri=uri).get_experiment_by_name("test").experiment_id])
    assert [r.info.status for r in runs] == ["FAILED"]
    assert not (tmp_path / "models" / "b").exists()


def test_unwritable_output_is_found_before_training(tmp_path, small_data):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    blocker = tmp_path / "models"
    blocker.write_text("a file where the models folder should be", encoding="utf-8")
    with pytest.raises(SamskapingError, match=r"^--output .*models/b: cannot write to .*; choose a folder you can write to$"):
        train(_config(small_data, uri), blocker / "b", progress=False)
    assert not (tmp_path / "mlflow.db").exists()  # no run was started


@pytest.mark.slow
def test_ctrl_c_marks_run_killed_and_keeps_best_checkpoint(tmp_path, small_data, tiny_bert):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    config = tmp_path / "tiny.yaml"
    config.write_text(
        f"data: {{path: {small_data}}}\n"
        f"model: {{kind: transformer, name: {tiny_bert}, transformer: {{max_length: 32}}}}\n"
        "training: {epochs: 100, batch_size: 8, learning_rate: 1.0e-3, early_stopping_patience: 0}\n"
        f"tracking: {{tracking_uri: '{uri}', experiment: test}}\n",
        encoding="utf-8",
    )
    out = tmp_path / "models" / "tiny"
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "train.py"), "--config", str(config), "--output", str(out)],
        cwd=tmp_path, stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    deadline = time.time() + 120
    seen = []
    for line in proc.stderr:  # wait until two epochs have been evaluated
        seen.append(line)
        if "epoch 2/" in line or time.time() > deadline:
            break
    proc.send_signal(signal.SIGINT)
    rest = proc.communicate(timeout=60)[1]
    assert proc.returncode == 130, "".join(seen) + rest
    assert "marked KILLED" in rest
    client = MlflowClient(tracking_uri=uri)
    runs = client.search_runs([client.get_experiment_by_name("test").experiment_id])
    assert [r.info.status for r in runs] == ["KILLED"]
    kept = out.with_name("tiny-interrupted")
    assert load_model(kept).predict(["Vi skal samskape med innbyggerne."])["conception"][0] in {"service", "democratic", "innovation", "none"}
    assert not out.exists()


def test_ctrl_c_during_a_store_write_waits_for_the_write() -> None:
    """A SIGINT inside deferred_interrupt lets the block finish, then raises KeyboardInterrupt."""
    from samskaping.tracking import deferred_interrupt

    finished = []
    before = signal.getsignal(signal.SIGINT)
    with pytest.raises(KeyboardInterrupt):
        with deferred_interrupt():
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.05)  # the handler has run by now; the write would go on
            finished.append(True)
    assert finished == [True]
    assert signal.getsignal(signal.SIGINT) is before  # the previous handler is back
