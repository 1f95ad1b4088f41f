"""The registered MLflow model: no pickle, loads in a fresh process with a clean environment, installable requirements.

A baseline is trained into a temporary SQLite store and registered; the
registered version is downloaded and inspected, and loaded by a new Python
process started with ``env -i`` (only PATH, HOME and MLFLOW_TRACKING_URI set)
from another folder. Nothing needs the network.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

TEXTS = [
    "Brukerne skal være med og utforme tjenestene sammen med kommunen.",
    "Kommunen vil invitere innbyggerne til folkemøter om kommuneplanen.",
    "Vi trenger mer tid og ressurser for å få samskaping til å fungere.",
    "Folketallet har gått ned med 4 prosent siden 2015.",
]
MODEL_URI = "models:/samskaping/1"

# Runs in the fresh process: load the registered model, classify TEXTS, say where samskaping was imported from.
LOAD_SCRIPT = """
import json, sys
import mlflow, pandas as pd
model = mlflow.pyfunc.load_model(sys.argv[1])
table = model.predict(pd.DataFrame({"text": json.loads(sys.argv[2])}))
print(json.dumps({"samskaping": sys.modules["samskaping"].__file__, "table": table.to_dict(orient="list")}))
"""

pytestmark = pytest.mark.slow  # trains and registers models; the quick loop leaves it out


@pytest.fixture(scope="module")
def registered(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """(store URI, model folder) of a baseline registered as samskaping version 1."""
    from samskaping.config import validate_config
    from samskaping.training import train
    from test_runs import write_fixture

    root = tmp_path_factory.mktemp("mlflow-model")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    cfg = validate_config(
        {
            "data": {"path": str(write_fixture(root / "fixture.jsonl"))},
            "model": {"kind": "baseline", "name": "tfidf-logreg"},
            "tracking": {
                "enabled": True,
                "tracking_uri": uri,
                "run_name": "clean",
                "registered_model_name": "samskaping",
            },
        },
        source="test config",
    )
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(root)  # MLflow puts a new experiment's artifacts in ./mlruns
        result = train(cfg, root / "baseline", progress=False)
    assert result.registered_version == "1"
    yield uri, result.model_dir


@pytest.fixture(scope="module")
def downloaded(registered: tuple[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    import mlflow

    uri, _ = registered
    mlflow.set_tracking_uri(uri)
    try:
        return Path(
            mlflow.artifacts.download_artifacts(artifact_uri=MODEL_URI, dst_path=str(tmp_path_factory.mktemp("dl")))
        )
    finally:
        mlflow.set_tracking_uri(None)


def test_the_registered_model_holds_no_pickle(downloaded: Path) -> None:
    files = [p.relative_to(downloaded).as_posix() for p in downloaded.rglob("*") if p.is_file()]
    assert "MLmodel" in files and "pyfunc_model.py" in files
    assert any(f.startswith("code/samskaping/") for f in files)  # the package travels with the model
    assert any(f.endswith(".safetensors") for f in files)
    assert not [f for f in files if f.endswith((".pkl", ".pickle", ".joblib", ".cloudpickle"))]
    import yaml

    flavour = yaml.safe_load((downloaded / "MLmodel").read_text(encoding="utf-8"))["flavors"]["python_function"]
    assert (
        flavour["loader_module"] == "mlflow.pyfunc.loaders.code_model"
    )  # models from code: runs a file, unpickles nothing
    assert "python_model" not in flavour  # where a pickled PythonModel would be named


def test_requirements_have_no_local_tags_and_no_torch_for_a_baseline(downloaded: Path) -> None:
    lines = [line.strip() for line in (downloaded / "requirements.txt").read_text().splitlines() if line.strip()]
    names = {line.split("==")[0].lower() for line in lines}
    assert not [line for line in lines if "+" in line]  # no local version tags such as torch==2.13.0+cpu
    assert not names & {"torch", "transformers", "tokenizers"}
    assert {
        "mlflow",
        "scikit-learn",
        "numpy",
        "pandas",
        "crepes",
    } <= names  # crepes: the conformal sets load with the model
    assert all("==" in line for line in lines)  # pinned to what trained it


def test_the_registered_model_loads_in_a_fresh_clean_process_and_predicts_as_the_folder(
    registered: tuple[str, Path], tmp_path: Path
) -> None:
    from samskaping.models import load_model
    from samskaping.predict import classify_frame

    uri, model_dir = registered
    clean = [
        "env",
        "-i",
        f"PATH={Path(sys.executable).parent}:/usr/bin:/bin",
        f"HOME={tmp_path}",
        f"MLFLOW_TRACKING_URI={uri}",
    ]
    run = subprocess.run(
        [*clean, sys.executable, "-c", LOAD_SCRIPT, MODEL_URI, json.dumps(TEXTS)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    loaded = json.loads(run.stdout.strip().splitlines()[-1])
    # the package the model carries, not this checkout's
    assert "/code/samskaping/" in loaded["samskaping"] and not loaded["samskaping"].startswith(
        str(Path(__file__).parents[1])
    )

    theirs = pd.DataFrame(loaded["table"])
    ours = classify_frame(load_model(model_dir), TEXTS)
    assert list(theirs.columns) == list(ours.columns)
    for column in ours.columns:
        if pd.api.types.is_float_dtype(ours[column]):
            assert np.allclose(theirs[column].to_numpy(float), ours[column].to_numpy(float), rtol=0, atol=1e-6), column
        else:
            assert theirs[column].astype(str).tolist() == ours[column].astype(str).tolist(), column


@pytest.mark.slow
def test_a_moved_store_names_the_recorded_folder_and_how_to_reach_the_new_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import shutil

    from samskaping.errors import ModelLoadError
    from samskaping.mlflow_model import load_from_mlflow
    from samskaping.models import load_model
    from samskaping.runs import promote
    from test_runs import train_baseline, write_fixture

    old, new = tmp_path / "old" / "project", tmp_path / "new" / "project"
    old.mkdir(parents=True)
    monkeypatch.chdir(old)  # MLflow puts a new experiment's artifacts in ./mlruns
    result = train_baseline(
        write_fixture(old / "fixture.jsonl"), old / "baseline", f"sqlite:///{old / 'mlflow.db'}", "r"
    )
    promote(run_id=result.run_id, tracking_uri=f"sqlite:///{old / 'mlflow.db'}")
    monkeypatch.chdir(tmp_path)
    new.parent.mkdir()
    shutil.move(old, new)
    store = f"sqlite:///{new / 'mlflow.db'}"

    with pytest.raises(ModelLoadError) as err:
        load_from_mlflow("models:/samskaping@champion", tracking_uri=store)
    message = str(err.value)
    assert "\n" not in message and "No such artifact" not in message
    assert f"the model's artifacts were recorded in {old / 'mlruns'}, " in message
    assert f"they are now in {new / 'mlruns'}" in message
    assert f"ln -s {new / 'mlruns'} {old / 'mlruns'}" in message
    given = Path(message.rsplit("--model ", 1)[1])
    texts = ["Kommunen skal utvikle tjenestene sammen med brukerne."]
    expected = load_model(given).predict_proba(texts)  # the model folder the message names loads

    old.mkdir(parents=True)
    (old / "mlruns").symlink_to(new / "mlruns")  # the link the message proposes
    linked = load_from_mlflow("models:/samskaping@champion", tracking_uri=store)
    for ls, probs in expected.items():
        np.testing.assert_allclose(linked.predict_proba(texts)[ls], probs, atol=1e-9)
