"""Training runs tracked in a real MLflow SQLite store."""

from __future__ import annotations

import json
import os
import re
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
    contexts = {
        d.dataset.name: {t.key: t.value for t in d.tags}["mlflow.data.context"] for d in run.inputs.dataset_inputs
    }
    assert contexts == {f"small.jsonl:{s}": s for s in ("train", "validation", "test")}

    artifacts = {a.path for a in client.list_artifacts(result.run_id, "plots")}
    assert "plots/test_conception_confusion.png" in artifacts
    assert "plots/test_f1_per_class.png" in artifacts
    assert {a.path for a in client.list_artifacts(result.run_id, "predictions")} == {"predictions/test_predictions.csv"}
    report = json.loads(
        Path(
            mlflow.artifacts.download_artifacts(
                run_id=result.run_id, artifact_path="reports/test_classification_report.json", tracking_uri=uri
            )
        ).read_text()
    )
    assert set(report["factor"]["per_class"]) == {
        "concept_role",
        "resources",
        "social_process",
        "roles_power",
        "holistic",
        "anchoring",
        "none",
    }

    version = client.get_model_version("samskaping-test", result.registered_version)
    assert version.run_id == result.run_id

    # the folder predicts without MLflow, the MLflow model predicts the same
    folder_model = load_model(result.model_dir)
    assert json.loads((result.model_dir / "metrics.json").read_text())["test_conception_macro_f1"] == pytest.approx(
        result.metrics["test_conception_macro_f1"]
    )
    import pandas as pd

    sentences = ["Vi skal utvikle tjenestene sammen med brukerne.", "Folketallet har gått ned siden 2010."]
    mlflow.set_tracking_uri(uri)
    pyfunc = mlflow.pyfunc.load_model(f"models:/samskaping-test/{result.registered_version}")
    table = pyfunc.predict(pd.DataFrame({"text": sentences}))
    assert table["conception"].tolist() == folder_model.predict(sentences)["conception"]
    assert {"conception_score", "conception_p_service", "polarity_p_hindering"} <= set(table.columns)


@pytest.mark.slow
def test_crashing_run_is_marked_failed(tmp_path, small_data, monkeypatch):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    from samskaping.models.baseline import BaselineClassifier

    def disk_full(self, folder):  # a crash can only be made by injecting one: the model files cannot be written
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(BaselineClassifier, "_save_files", disk_full)
    with pytest.raises(OSError):
        train(_config(small_data, uri), tmp_path / "models" / "b", progress=False)
    runs = MlflowClient(tracking_uri=uri).search_runs(
        [MlflowClient(tracking_uri=uri).get_experiment_by_name("test").experiment_id]
    )
    assert [r.info.status for r in runs] == ["FAILED"]
    assert sorted(p.name for p in (tmp_path / "models").iterdir()) == []  # neither the folder nor b.partial


def test_unwritable_output_is_found_before_training(tmp_path, small_data):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    blocker = tmp_path / "models"
    blocker.write_text("a file where the models folder should be", encoding="utf-8")
    with pytest.raises(
        SamskapingError, match=r"^--output .*models/b: cannot write to .*; choose a folder you can write to$"
    ):
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
        cwd=tmp_path,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
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
    assert load_model(kept).predict(["Vi skal samskape med innbyggerne."])["conception"][0] in {
        "service",
        "democratic",
        "innovation",
        "none",
    }
    assert not out.exists()


def test_ctrl_c_during_a_store_write_waits_for_the_write() -> None:
    """A SIGINT inside deferred_interrupt lets the block finish, then raises KeyboardInterrupt."""
    from samskaping.tracking import deferred_interrupt

    finished = []
    before = signal.getsignal(signal.SIGINT)
    with pytest.raises(KeyboardInterrupt), deferred_interrupt():
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.05)  # the handler has run by now; the write would go on
        finished.append(True)
    assert finished == [True]
    assert signal.getsignal(signal.SIGINT) is before  # the previous handler is back


# ---------------------------------------------------------------- the model folder: never delete what is not ours


def test_a_folder_with_other_files_is_refused_before_any_work(tmp_path, small_data):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    folder = tmp_path / "minmappe"
    folder.mkdir()
    (folder / "notat.txt").write_text("mine", encoding="utf-8")
    with pytest.raises(SamskapingError) as caught:
        train(_config(small_data, uri), folder, progress=False)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(
        f"--output {folder}: the folder is not empty and is not a model folder (no samskaping-model.json)"
    )
    assert "give a new folder" in message
    assert (folder / "notat.txt").read_text(encoding="utf-8") == "mine"
    assert not (tmp_path / "mlflow.db").exists()  # no run was started
    assert not (tmp_path / "minmappe.partial").exists()


def test_an_existing_file_as_output_is_refused_before_any_work(tmp_path, small_data):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    target = tmp_path / "model.txt"
    target.write_text("mine", encoding="utf-8")
    with pytest.raises(
        SamskapingError, match=r"^--output .*model\.txt: this is a file, not a folder; give a new folder"
    ):
        train(_config(small_data, uri), target, progress=False)
    assert target.read_text(encoding="utf-8") == "mine"
    assert not (tmp_path / "mlflow.db").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.txt", "small.jsonl"]


def test_a_staging_name_that_is_not_ours_is_refused_before_any_work(tmp_path, small_data):
    blocker = tmp_path / "b.partial"
    blocker.write_text("a file of the user's where the staging folder would go", encoding="utf-8")
    with pytest.raises(SamskapingError, match=r"b\.partial exists and was not written by train\.py"):
        train(_config(small_data, f"sqlite:///{tmp_path / 'mlflow.db'}"), tmp_path / "b", progress=False)
    assert blocker.is_file()
    assert not (tmp_path / "mlflow.db").exists()


@pytest.mark.slow
def test_a_model_folder_of_ours_and_an_empty_folder_are_written_in_place(tmp_path, small_data):
    empty = tmp_path / "empty"
    empty.mkdir()
    cfg = validate_config({"data": {"path": str(small_data)}, "tracking": {"enabled": False}})
    first = train(cfg, empty, progress=False)
    trained_at = json.loads((empty / "samskaping-model.json").read_text())["trained_at"]
    (empty / "stale.txt").write_text("left by the first model", encoding="utf-8")
    time.sleep(1.1)  # trained_at has one-second resolution
    second = train(cfg, empty, progress=False)
    assert first.model_dir == second.model_dir == empty
    assert json.loads((empty / "samskaping-model.json").read_text())["trained_at"] != trained_at
    assert not (empty / "stale.txt").exists()  # the folder was replaced as a whole
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty", "small.jsonl"]  # no .partial, no .replaced-*
    assert load_model(empty).predict(["Vi skal samskape med innbyggerne."])["factor"][0]


def test_the_cli_refuses_an_existing_file_in_one_line_with_status_2(tmp_path, small_data):
    target = tmp_path / "model.txt"
    target.write_text("mine", encoding="utf-8")
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "train.py"),
            "--config",
            str(ROOT / "configs" / "baseline.yaml"),
            "--set",
            f"data.path={small_data}",
            "--output",
            str(target),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"error: --output {target}: this is a file, not a folder; give a new folder, e.g. --output models/NAME"
    ]
    assert not (tmp_path / "mlflow.db").exists() and not (tmp_path / "mlruns").exists()
    assert target.read_text(encoding="utf-8") == "mine"


# ---------------------------------------------------------------- after training: saved first, skippable, interruptible


def _tiny_config(tmp_path: Path, data: Path, tiny_bert: Path, uri: str, calibrate_int8: bool = True) -> Path:
    config = tmp_path / "tiny.yaml"
    config.write_text(
        f"data: {{path: {data}}}\n"
        f"model: {{kind: transformer, name: {tiny_bert}, transformer: {{max_length: 32}}}}\n"
        f"training: {{epochs: 1, batch_size: 8, calibrate_int8: {str(calibrate_int8).lower()}}}\n"
        f"tracking: {{tracking_uri: '{uri}', experiment: test}}\n",
        encoding="utf-8",
    )
    return config


@pytest.mark.slow
def test_the_model_is_saved_before_the_int8_step_which_shows_progress(tmp_path, small_data, tiny_bert):
    config = _tiny_config(tmp_path, small_data, tiny_bert, f"sqlite:///{tmp_path / 'mlflow.db'}")
    out = tmp_path / "models" / "tiny"
    done = subprocess.run(
        [sys.executable, str(ROOT / "train.py"), "--config", str(config), "--output", str(out)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stderr.splitlines()
    saved = lines.index(f"INFO model saved to {out}")
    step = next(
        i
        for i, line in enumerate(lines)
        if re.match(r"INFO after training, step 1 of [12] \(training.calibrate_int8", line)
    )
    assert saved < step
    assert any(re.fullmatch(r"INFO int8: \d+ of \d+ layer parts ranked \(\d+ s\)", line) for line in lines[step:])
    assert any(line.startswith("INFO training.calibrate_int8 done in") for line in lines)
    assert json.loads((out / "int8.json").read_text())["recipe_text"]


@pytest.mark.slow
def test_no_post_training_skips_the_int8_step(tmp_path, small_data, tiny_bert):
    config = _tiny_config(tmp_path, small_data, tiny_bert, f"sqlite:///{tmp_path / 'mlflow.db'}")
    out = tmp_path / "models" / "tiny"
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "train.py"),
            "--config",
            str(config),
            "--output",
            str(out),
            "--no-tracking",
            "--no-post-training",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert "after training, step" not in done.stderr
    assert not (out / "int8.json").exists()
    assert (out / "samskaping-model.json").is_file()


@pytest.mark.slow
def test_ctrl_c_during_the_int8_step_keeps_the_saved_model(tmp_path, tiny_bert):
    from conftest import small_frame, write_jsonl

    # more validation sentences, so the step is still running when the signal arrives; the signal goes at the
    # step's first line (with a tiny model the step can end within a second of its later lines on a quiet machine)
    data = write_jsonl(small_frame({"train": 24, "validation": 320, "test": 40}), tmp_path / "d.jsonl")
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    config = _tiny_config(tmp_path, data, tiny_bert, uri)
    out = tmp_path / "models" / "tiny"
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "train.py"), "--config", str(config), "--output", str(out)],
        cwd=tmp_path,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    seen = []
    for line in proc.stderr:
        seen.append(line)
        if line.startswith("INFO after training, step 1 of"):
            break
    proc.send_signal(signal.SIGINT)
    rest = proc.communicate(timeout=120)[1]
    assert proc.returncode == 130, "".join(seen) + rest
    last = rest.strip().splitlines()[-1]
    assert last == (
        f"interrupted during training.calibrate_int8: the trained model is saved in {out} and complete "
        f"(predict.py --model {out} uses it); the MLflow run is marked KILLED and holds no model; "
        f"run the step later with: python -m samskaping.speed calibrate {out} --only int8"
    )
    assert load_model(out).predict(["Vi skal samskape med innbyggerne."])["conception"][0] in {
        "service",
        "democratic",
        "innovation",
        "none",
    }
    assert sorted(p.name for p in out.parent.iterdir()) == ["tiny"]  # no tiny.partial
    assert not (out / "onnx").exists() and not (out / "int8.json").exists()
    client = MlflowClient(tracking_uri=uri)
    assert [r.info.status for r in client.search_runs([client.get_experiment_by_name("test").experiment_id])] == [
        "KILLED"
    ]


# ---------------------------------------------------------------- which data was used


@pytest.mark.slow
def test_training_on_several_files_says_which_and_how_many_rows(tmp_path, small_data, caplog):
    from conftest import small_frame, write_jsonl

    mine = small_frame({"train": 12}).drop(columns=["split"]).assign(id=lambda f: "mine-" + f["id"].astype(str))
    mine.loc[0, "factor"] = "not-a-factor"
    own = write_jsonl(mine, tmp_path / "mine.jsonl")
    cfg = validate_config(
        {"data": {"paths": [str(small_data), str(own)], "on_invalid": "skip"}, "tracking": {"enabled": False}}
    )
    with caplog.at_level("INFO", logger="samskaping.training"):
        result = train(cfg, tmp_path / "m", progress=False)
    expected = f"{small_data} (40 rows), {own} ({len(mine) - 1} rows, 1 left out)"
    assert result.data_description == expected
    assert f"training data: {expected}" in caplog.messages
