"""Tests for samskaping.runs against a real MLflow store with real training runs.

Two baseline models are trained on a tiny labelled fixture (20 sentences per
split, cut from the shipped data) into a temporary SQLite store; ``list`` and
``promote`` are checked on that store, and the promoted model is loaded back
through ``models:/samskaping@champion``. Nothing is mocked and nothing needs
the network.

The helpers :func:`write_fixture` and :func:`train_baseline` are also used by
``test_browser.py``.
"""

from __future__ import annotations

import json
import random
import re
import signal
import socket
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.error import URLError
from urllib.request import urlopen

import numpy as np
import pytest
from mlflow import MlflowClient

from samskaping.cli.runs import main
from samskaping.errors import TrackingError
from samskaping.runs import (
    absolute_store_uri,
    format_table,
    list_runs,
    promote,
    ui_command,
    wait_for_ui,
)
from samskaping.training import TrainResult

DATA = Path(__file__).resolve().parents[1] / "data" / "samskaping-sentences.jsonl"
SPLITS = ("train", "validation", "test")
TEXTS = [
    "Brukerne skal være med og utforme tjenestene sammen med kommunen.",
    "Kommunen vil invitere innbyggerne til folkemøter om kommuneplanen.",
    "Vi trenger mer tid og ressurser for å få samskaping til å fungere.",
]


def write_fixture(path: Path, per_conception: int = 5, per_factor: int = 4, seed: int = 7) -> Path:
    """Write a small labelled JSONL file from the shipped data, keeping its split column.

    Per split, rows are drawn in a seeded order with at most ``per_conception``
    rows per conception and ``per_factor`` per factor, so every split has every
    conception and several factors (the file is sorted by label, so simply
    taking its first rows would give one class).

    Args:
        path: the JSONL file to write.
        per_conception: rows per conception and split.
        per_factor: at most this many rows per factor and split.
        seed: the shuffle seed.

    Returns:
        ``path``.
    """
    rows = [json.loads(line) for line in DATA.read_text(encoding="utf-8").splitlines() if line.strip()]
    chosen = []
    for split in SPLITS:
        part = [r for r in rows if r["split"] == split]
        random.Random(seed).shuffle(part)
        counts: Counter[tuple[str, str]] = Counter()
        for row in part:
            if counts["c", row["conception"]] < per_conception and counts["f", row["factor"]] < per_factor:
                chosen.append(row)
                counts.update([("c", row["conception"]), ("f", row["factor"])])
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in chosen), encoding="utf-8")
    return path


def train_baseline(
    data_path: Path,
    output: Path,
    tracking_uri: str | None,
    run_name: str,
    C: float = 8.0,
    registered_name: str | None = "samskaping",
    experiment: str = "samskaping",
    label_sets: tuple[str, ...] = ("conception", "factor", "polarity"),
) -> TrainResult:
    """Train a real baseline model; with ``tracking_uri=None`` nothing is tracked.

    Run it with the working folder inside ``tmp_path``: MLflow puts the artifacts
    of a new experiment in ``./mlruns``.
    """
    from samskaping.config import validate_config
    from samskaping.training import train

    tracking = (
        {
            "enabled": True,
            "tracking_uri": tracking_uri,
            "run_name": run_name,
            "experiment": experiment,
            "registered_model_name": registered_name,
        }
        if tracking_uri
        else {"enabled": False}
    )
    cfg = validate_config(
        {
            "data": {"path": str(data_path)},
            "model": {"kind": "baseline", "name": "tfidf-logreg", "label_sets": list(label_sets), "baseline": {"C": C}},
            "tracking": tracking,
        },
        source="test config",
    )
    return train(cfg, output, progress=False)


@dataclass(frozen=True)
class Store:
    """A temporary MLflow store with two registered baseline runs."""

    uri: str
    root: Path
    runs: dict[str, TrainResult]


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    root = tmp_path_factory.mktemp("mlflow-store")
    data = write_fixture(root / "fixture.jsonl", per_conception=20, per_factor=12)
    uri = f"sqlite:///{root / 'mlflow.db'}"
    runs = {}
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(root)
        for name, C in (("baseline-c8", 8.0), ("baseline-c0.05", 0.05)):
            runs[name] = train_baseline(data, root / "models" / name, uri, name, C=C)
    yield Store(uri, root, runs)


def _by_metric(store: Store, metric: str) -> list[str]:
    """Run names sorted as ``list`` must sort them."""
    return sorted(store.runs, key=lambda name: -store.runs[name].metrics[metric])


def _client(store: Store):  # -> MlflowClient
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=store.uri, registry_uri=store.uri)


# ---------------------------------------------------------------- list


@pytest.mark.slow
def test_list_runs_returns_both_runs_best_first(store: Store) -> None:
    rows = list_runs(tracking_uri=store.uri)
    assert [r.run_name for r in rows] == _by_metric(store, "test_mean_macro_f1")
    for row in rows:
        result = store.runs[row.run_name]
        assert row.run_id == result.run_id
        assert row.status == "FINISHED"
        assert row.params["model.kind"] == "baseline"
        assert row.metrics["test_conception_macro_f1"] == pytest.approx(result.metrics["test_conception_macro_f1"])
        assert row.registered[0].startswith(f"samskaping v{result.registered_version}")


@pytest.mark.slow
@pytest.mark.parametrize("metric", ["test_factor_macro_f1", "test_polarity_macro_f1", "validation_mean_macro_f1"])
def test_list_sorts_by_the_chosen_metric(store: Store, metric: str) -> None:
    assert len({store.runs[n].metrics[metric] for n in store.runs}) == 2, "the two runs should differ on this metric"
    rows = list_runs(sort=metric, tracking_uri=store.uri)
    assert [r.run_name for r in rows] == _by_metric(store, metric)


@pytest.mark.slow
def test_list_command_prints_an_aligned_table(store: Store, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list", "--tracking-uri", store.uri]) == 0
    out = capsys.readouterr().out.splitlines()
    assert "2 run(s), sorted by test_mean_macro_f1" in out[0]
    header, rule, *body = out[1:]
    for column in (
        "run id",
        "run name",
        "status",
        "model.kind",
        "model.name",
        "dataset.digest",
        "conception F1",
        "factor F1",
        "polarity F1",
        "test_mean_macro_f1",
        "registered",
    ):
        assert column in header
    assert set(rule) <= {"-", " "}
    assert [line.split()[1] for line in body] == _by_metric(store, "test_mean_macro_f1")
    for line, name in zip(body, _by_metric(store, "test_mean_macro_f1"), strict=False):
        result = store.runs[name]
        assert line.startswith(result.run_id[:8] + " ")
        cells = line.split()
        assert cells[2:5] == ["FINISHED", "baseline", "tfidf-logreg"]
        assert f"{result.metrics['test_conception_macro_f1']:.3f}" in cells
        assert f"{result.metrics['test_mean_macro_f1']:.3f}" in cells
        # Aligned: every column starts where its header starts.
        assert line.index(f"samskaping v{result.registered_version}") == header.index("registered")
        assert line.index(cells[5]) == header.index("dataset.digest")


@pytest.mark.slow
def test_list_rejects_an_unknown_metric_with_a_suggestion(store: Store, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(TrackingError, match="did you mean 'test_mean_macro_f1'"):
        list_runs(sort="test_mean_macro_f", tracking_uri=store.uri)
    assert main(["list", "--sort", "f1", "--tracking-uri", store.uri]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: no run in experiment 'samskaping' has metric 'f1'")
    assert len(err.strip().splitlines()) == 1


@pytest.mark.slow
def test_list_rejects_an_unknown_experiment(store: Store) -> None:
    with pytest.raises(TrackingError, match=r"no experiment 'samskapin' .*did you mean 'samskaping'"):
        list_runs(experiment="samskapin", tracking_uri=store.uri)


def test_a_missing_sqlite_store_is_an_error_and_is_not_created(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.db"
    with pytest.raises(TrackingError, match=r"no MLflow store at .*nowhere\.db; train a model first"):
        list_runs(tracking_uri=f"sqlite:///{missing}")
    with pytest.raises(TrackingError, match="no MLflow store"):
        promote(version=1, tracking_uri=f"sqlite:///{missing}")
    assert not missing.exists()


def test_registering_a_model_name_that_another_run_just_created_is_not_an_error(tmp_path: Path) -> None:
    # two train runs on a new store both create the registered model; the second creation must pass
    from samskaping.mlflow_model import ensure_registered_model

    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    ensure_registered_model(client, "samskaping")
    ensure_registered_model(client, "samskaping")
    assert [m.name for m in client.search_registered_models()] == ["samskaping"]


# ---------------------------------------------------------------- promote


def _predict(model, texts: list[str]) -> dict[str, np.ndarray]:
    return model.predict_proba(texts)


@pytest.mark.slow
def test_promote_run_sets_the_alias_and_the_model_predicts(store: Store) -> None:
    from samskaping.mlflow_model import load_from_mlflow
    from samskaping.models import load_model
    from samskaping.predict import classify_frame

    low_c, high_c = store.runs["baseline-c0.05"], store.runs["baseline-c8"]
    result = promote(run_id=low_c.run_id[:8], tracking_uri=store.uri)  # the short id that 'list' prints
    assert (result.version, result.run_id, result.alias) == (low_c.registered_version, low_c.run_id, "champion")
    assert result.model_uri == "models:/samskaping@champion"
    assert result.test_metrics["test_mean_macro_f1"] == pytest.approx(low_c.metrics["test_mean_macro_f1"])
    assert _client(store).get_model_version_by_alias("samskaping", "champion").run_id == low_c.run_id

    champion = load_from_mlflow("models:/samskaping@champion", tracking_uri=store.uri)
    table = classify_frame(champion, TEXTS)
    assert len(table) == len(TEXTS)
    assert set(table["conception"]) <= {"service", "democratic", "innovation", "none"}
    assert table["conception_score"].between(0, 1).all()
    # It is the promoted run's model, not the other one.
    expected = _predict(load_model(low_c.model_dir), TEXTS)
    other = _predict(load_model(high_c.model_dir), TEXTS)
    got = _predict(champion, TEXTS)
    for label_set, probs in expected.items():
        np.testing.assert_allclose(got[label_set], probs, rtol=1e-6)
    assert any(not np.allclose(got[ls], other[ls]) for ls in got)


@pytest.mark.slow
def test_promote_version_moves_the_alias_and_prints_test_metrics(
    store: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    low_c, high_c = store.runs["baseline-c0.05"], store.runs["baseline-c8"]
    assert main(["promote", "--run", low_c.run_id, "--tracking-uri", store.uri]) == 0
    capsys.readouterr()
    assert main(["promote", "--version", str(high_c.registered_version), "--tracking-uri", store.uri]) == 0
    out = capsys.readouterr().out
    run = f"(run {high_c.run_id[:8]} 'baseline-c8')"
    assert f"promoted samskaping version {high_c.registered_version} {run} to @champion" in out
    assert f"(was version {low_c.registered_version})" in out
    assert f"conception {high_c.metrics['test_conception_macro_f1']:.3f}" in out
    assert f"mean {high_c.metrics['test_mean_macro_f1']:.3f}" in out
    assert "python predict.py --model models:/samskaping@champion" in out
    assert _client(store).get_model_version_by_alias("samskaping", "champion").run_id == high_c.run_id

    assert main(["list", "--tracking-uri", store.uri]) == 0
    lines = capsys.readouterr().out.splitlines()
    high_c_line = next(line for line in lines if line.startswith(high_c.run_id[:8]))
    low_c_line = next(line for line in lines if line.startswith(low_c.run_id[:8]))
    assert high_c_line.endswith(f"samskaping v{high_c.registered_version} @champion")
    assert "@champion" not in low_c_line


@pytest.mark.slow
def test_promote_a_custom_alias_leaves_champion_alone(store: Store) -> None:
    high_c = store.runs["baseline-c8"]
    before = promote(run_id=high_c.run_id, tracking_uri=store.uri)
    result = promote(
        version=store.runs["baseline-c0.05"].registered_version, alias="challenger", tracking_uri=store.uri
    )
    client = _client(store)
    assert str(client.get_model_version_by_alias("samskaping", "challenger").version) == result.version
    assert str(client.get_model_version_by_alias("samskaping", "champion").version) == before.version


@pytest.mark.slow
def test_promote_a_run_without_a_registered_model_is_a_clear_error(
    store: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(store.root)
        unregistered = train_baseline(
            store.root / "fixture.jsonl",
            store.root / "models" / "unregistered",
            store.uri,
            "unregistered",
            registered_name=None,
            experiment="scratch",
        )
    assert unregistered.registered_version is None
    with pytest.raises(
        TrackingError, match=f"run '{unregistered.run_id}' has no registered version of model 'samskaping'"
    ):
        promote(run_id=unregistered.run_id, tracking_uri=store.uri)
    assert main(["promote", "--run", "0123456789abcdef", "--tracking-uri", store.uri]) == 2
    assert "error: no run '0123456789abcdef'" in capsys.readouterr().err
    # The other experiment's run does not show up in the default experiment's list.
    assert "unregistered" not in {r.run_name for r in list_runs(tracking_uri=store.uri)}


@pytest.mark.slow
def test_promote_an_unknown_version_lists_the_versions(store: Store) -> None:
    with pytest.raises(TrackingError, match=r"model 'samskaping' has no version 99 .*versions there: 1, 2"):
        promote(version=99, tracking_uri=store.uri)
    with pytest.raises(TrackingError, match="no registered model 'nosuchmodel'"):
        promote(run_id=store.runs["baseline-c0.05"].run_id, name="nosuchmodel", tracking_uri=store.uri)


def test_promote_needs_exactly_one_of_run_and_version() -> None:
    with pytest.raises(TrackingError, match="exactly one of --run RUN_ID or --version N"):
        promote()
    with pytest.raises(TrackingError, match="exactly one"):
        promote(run_id="abc", version=1)


# ---------------------------------------------------------------- ui and pure helpers


def test_ui_command_binds_loopback_to_the_absolute_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    command = ui_command(port=5123)
    assert command[1:4] == ["-m", "mlflow", "ui"]
    assert command[command.index("--host") + 1] == "127.0.0.1"
    assert command[command.index("--port") + 1] == "5123"
    assert command[command.index("--backend-store-uri") + 1] == f"sqlite:///{tmp_path.resolve() / 'mlflow.db'}"
    assert "0.0.0.0" not in command


def test_ui_refuses_servers_and_bad_ports() -> None:
    with pytest.raises(TrackingError, match="already a tracking server"):
        ui_command("https://mlflow.example.org")
    with pytest.raises(TrackingError, match="--port must be between 1 and 65535"):
        ui_command("sqlite:////tmp/x.db", port=70000)


def test_absolute_store_uri(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "sqlite:///runs/store.db")
    assert absolute_store_uri() == f"sqlite:///{tmp_path.resolve() / 'runs' / 'store.db'}"
    assert absolute_store_uri("sqlite:////abs/m.db") == "sqlite:////abs/m.db"
    assert absolute_store_uri("postgresql://db/mlflow") == "postgresql://db/mlflow"


def test_format_table_marks_missing_metrics_and_right_aligns_numbers() -> None:
    from samskaping.runs import RunRow

    rows = [
        RunRow(
            "a" * 32,
            "long-run-name",
            "FINISHED",
            2,
            {"model.kind": "baseline"},
            {"test_conception_macro_f1": 0.5},
            ("samskaping v3 @champion",),
        ),
        RunRow("b" * 32, "x", "FAILED", 1, {}, {"test_conception_macro_f1": 0.25, "test_factor_macro_f1": 0.125}),
    ]
    lines = format_table(rows, "test_conception_macro_f1").splitlines()
    assert "test_conception_macro_f1" not in lines[0]  # the sort metric is already a shown column
    first, second = lines[2], lines[3]
    assert re.match(r"^aaaaaaaa  long-run-name  FINISHED  baseline", first)
    assert first.endswith("samskaping v3 @champion")
    assert second.rstrip().endswith(" -")
    # Numbers are right-aligned: the values end in the same column as their header.
    end = lines[0].index("conception F1") + len("conception F1")
    assert first[:end].endswith("0.500") and second[:end].endswith("0.250")


@pytest.mark.slow
def test_ui_command_serves_the_store_and_stops_its_server_on_sigterm(store: Store) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [
        sys.executable,
        "-m",
        "samskaping.runs",
        "ui",
        "--port",
        str(port),
        "--tracking-uri",
        store.uri,
        "--quiet",
    ]
    cli = subprocess.Popen(command, cwd=store.root, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert cli.stdout is not None
        line = cli.stdout.readline()
        experiment_id = MlflowClient(tracking_uri=store.uri).get_experiment_by_name("samskaping").experiment_id
        # the experiment's saved view (sort by test_mean_macro_f1, the F1 columns) and the training side bar
        runs_table = (
            f"http://127.0.0.1:{port}/#/experiments/{experiment_id}/runs"
            "?viewStateShareKey=samskaping-training&workflowType=machine_learning"
        )
        assert line == f"MLflow UI for {store.uri}: {runs_table} (only this machine; Ctrl-C stops it)\n"
        wait_for_ui(port, timeout=60)
        with urlopen(
            f"http://127.0.0.1:{port}/ajax-api/2.0/mlflow/experiments/get-by-name?experiment_name=samskaping"
        ) as r:
            assert json.load(r)["experiment"]["name"] == "samskaping"
        cli.send_signal(signal.SIGTERM)
        assert cli.wait(timeout=30) == 0
    finally:
        if cli.poll() is None:  # a failed assertion: let the command stop its server group, then make sure
            cli.send_signal(signal.SIGTERM)
            try:
                cli.wait(timeout=20)
            except subprocess.TimeoutExpired:
                cli.kill()
                cli.wait()
    # The server (its own process group) went down with the command.
    with pytest.raises((URLError, OSError)):
        urlopen(f"http://127.0.0.1:{port}/health", timeout=2)
