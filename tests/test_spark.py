"""The Spark path against predict.py: the same folder of plans, the same tables, the same failures.

Real Spark on ``local[2]`` (marked ``spark``; skipped, saying why, where Java or
pyspark is missing). One folder holds PDF, DOCX and TXT plans (one with a list
and its lead-in, one with æ/ø/å and spaces in its name), a CSV table of
sentences with an extra column, and files that cannot be read; ``predict.py`` and ``python -m samskaping.spark`` classify it with a
tiny baseline that reads list lead-ins, once from the model folder (pandas
UDF) and once as a registered MLflow model (``mlflow.pyfunc.spark_udf``). The
rules that choose files from Spark's listing are tested without Spark.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from plan_files import Bullets, Heading, make_plan_docx, make_plan_pdf, make_plan_txt
from samskaping.outputs import read_output
from samskaping.predict import Failure, classify
from samskaping.spark.listing import Input, Listed, choose_files, is_uri, partition_name, spark_roots

ROOT = Path(__file__).resolve().parents[1]


def _java_missing() -> str | None:
    """Why the Spark tests cannot run here, or None."""
    try:
        import pyspark  # noqa: F401
    except ImportError:
        return 'pyspark is not installed: pip install -e ".[dev,spark]"'
    if not shutil.which("java") and not os.environ.get("JAVA_HOME"):
        return "Spark needs Java 17 and there is none: apt-get install -y openjdk-17-jre-headless (or bash .ci/install-java.sh)"
    return None


needs_spark = pytest.mark.skipif(_java_missing() is not None, reason=str(_java_missing()))

PDF_PAGES = [
    [
        "Kommunen skal samskape nye løsninger med næringslivet og forskningsmiljøene.",
        "Folketallet har gått ned med 4 prosent siden 2015.",
    ],
    [Heading("Medvirkning"), "Vi vil f.eks. invitere innbyggerne til folkemøter i alle bygder."],
]
DOCX_BLOCKS = [
    Heading("Samarbeid med frivilligheten"),
    "Kommunen vil:",
    Bullets(["styrke samarbeidet med frivillige lag og foreninger", "utvikle tjenestene sammen med brukerne"]),
    "Samskaping krev tid og tillit mellom kommunen og innbyggjarane.",
]
TXT_BLOCKS = ["Brukermedvirkning skal prege alle helse- og omsorgstjenester.", "Veien til Ås er 12 km lang."]
GOOD = ("a-plan.pdf", "sub/b-plan.docx", "sub/Plan for Ås og Øyer.txt", "e-table.csv")
BAD = ("broken.pdf", "empty.txt", "gammel.doc")
COMPARED_SUMMARY_KEYS_EXCLUDED = {"throughput", "spark", "sentences_format", "model"}


# ---------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def plans(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three readable plans and a sentence table in two folders, and three files that are not read."""
    folder = tmp_path_factory.mktemp("plans") / "plans"
    (folder / "sub").mkdir(parents=True)
    make_plan_pdf(folder / GOOD[0], PDF_PAGES)
    make_plan_docx(folder / GOOD[1], DOCX_BLOCKS)
    make_plan_txt(folder / GOOD[2], TXT_BLOCKS)
    pd.DataFrame({"id": ["x1", "x2"], "text": ["Vi skal samskape med ungdommen.", "Veien er 12 km lang."]}).to_csv(
        folder / GOOD[3], index=False
    )  # a sentence table keeps its other columns
    (folder / "broken.pdf").write_bytes(b"%PDF-1.4 not really a pdf")
    (folder / "empty.txt").write_text("", encoding="utf-8")
    (folder / "gammel.doc").write_bytes(b"\xd0\xcf\x11\xe0 an old Word file")
    return folder


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """A baseline that reads list lead-ins, trained into a temporary MLflow store and registered; (store URI, model folder)."""
    from samskaping.config import validate_config
    from samskaping.training import train
    from test_runs import write_fixture

    root = tmp_path_factory.mktemp("spark-store")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    cfg = validate_config(
        {
            "data": {"path": str(write_fixture(root / "fixture.jsonl"))},
            "model": {"kind": "baseline", "name": "tfidf-logreg", "use_context": True},
            "tracking": {
                "enabled": True,
                "tracking_uri": uri,
                "run_name": "spark",
                "registered_model_name": "samskaping",
            },
        },
        source="test config",
    )
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(root)  # MLflow puts a new experiment's artifacts in ./mlruns
        result = train(cfg, root / "baseline", progress=False)
    yield uri, result.model_dir


@pytest.fixture(scope="module")
def spark() -> Iterator[object]:
    from samskaping.spark.session import start_session

    session = start_session("local[2]")
    yield session
    session.stop()


@pytest.fixture(scope="module")
def predicted(plans: Path, store: tuple[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """predict.py's output folder for ``plans``."""
    from samskaping.models import load_model

    out = tmp_path_factory.mktemp("predict") / "out"
    classify([plans], load_model(store[1]), out, progress=False, model_info={"model": "test"})
    return out


def _spark_run(spark: object, plans: Path, source: object, store: tuple[str, Path], out: Path):  # -> SparkResult
    from samskaping.models import load_model
    from samskaping.spark.job import classify_on_spark

    return classify_on_spark(spark, [str(plans)], load_model(store[1]), source, out, model_info={"model": "test"})


def _cells(column: pd.Series) -> list[str]:
    return ["" if pd.isna(value) else str(value) for value in column]


def _assert_same_outputs(spark_out: Path, predict_out: Path) -> None:
    """Sentences (labels equal, probabilities to 1e-6), documents and summary figures of both folders agree."""
    ours, theirs = read_output(spark_out), read_output(predict_out)
    key = ["document", "sentence_index"]
    a = ours.sentences.sort_values(key).reset_index(drop=True)
    b = theirs.sentences.sort_values(key).reset_index(drop=True)
    assert list(a.columns) == list(b.columns)
    assert a[key].astype(str).equals(b[key].astype(str))
    for column in b.columns:
        if pd.api.types.is_float_dtype(b[column]) and column != "page":
            assert np.allclose(a[column].to_numpy(float), b[column].to_numpy(float), rtol=0, atol=1e-6), column
        else:  # a missing cell (a plan's row in a table's column) reads back from CSV as ""
            assert _cells(a[column]) == _cells(b[column]), column
    pd.testing.assert_frame_equal(ours.documents, theirs.documents, check_dtype=False, atol=1e-6)
    for name in set(theirs.summary) - COMPARED_SUMMARY_KEYS_EXCLUDED:
        assert ours.summary.get(name) == theirs.summary[name], name


# ---------------------------------------------------------------- Spark against predict.py


@pytest.mark.spark
@needs_spark
@pytest.mark.parametrize("kind", ["folder", "mlflow"])
def test_spark_and_predict_give_the_same_tables(kind, spark, plans, store, predicted, tmp_path):
    from samskaping.spark.job import ModelSource

    uri, folder = store
    source = (
        ModelSource(folder=folder)
        if kind == "folder"
        else ModelSource(mlflow_uri="models:/samskaping/1", tracking_uri=uri)
    )
    result = _spark_run(spark, plans, source, store, tmp_path / "spark")

    _assert_same_outputs(tmp_path / "spark", predicted)
    sentences = read_output(tmp_path / "spark").sentences
    assert sorted(sentences["document"].unique()) == sorted(str(plans / name) for name in GOOD)
    bullets = sentences[sentences["text"].str.startswith(("styrke", "utvikle"))]
    assert bullets["context"].tolist() == ["Kommunen vil:"] * 2  # the lead-in reaches the model
    assert sentences.loc[sentences["document"] == str(plans / GOOD[3]), "id"].tolist() == ["x1", "x2"]
    assert {Path(f.path).name for f in result.failures} == set(BAD)
    dataset = tmp_path / "spark" / "sentences.parquet"
    assert sorted(p.name for p in dataset.iterdir() if p.is_dir()) == sorted(
        partition_name(str(plans / n)) for n in GOOD
    )


@pytest.mark.spark
@needs_spark
def test_sample_plans_give_identical_sentence_tables_through_the_one_input_step(spark, store, tmp_path):
    """predict.py's ``classify`` and the Spark job read the shipped sample plans through the same input step
    (:func:`samskaping.reading.read_and_segment`) and assemble the same tables (:mod:`samskaping.run_summary`)."""
    from samskaping.models import load_model
    from samskaping.spark.job import ModelSource, classify_on_spark

    samples = ROOT / "data" / "sample-plans"
    model = load_model(store[1])
    classify([samples], model, tmp_path / "predict", progress=False, model_info={"model": "test"})
    classify_on_spark(
        spark, [str(samples)], model, ModelSource(folder=store[1]), tmp_path / "spark", model_info={"model": "test"}
    )

    # every sentence with its page, unit, heading and lead-in, cell for cell; labels equal; documents and summary
    _assert_same_outputs(tmp_path / "spark", tmp_path / "predict")
    from samskaping.documents import read_sentences

    sentences = read_output(tmp_path / "predict").sentences
    plans = sorted(samples.iterdir())
    assert set(sentences["document"]) == {str(path) for path in plans}
    assert len(sentences) == sum(len(read_sentences(path)) for path in plans)  # no sentence lost on either side
    assert sentences["page"].notna().all() and (sentences["heading"].fillna("") != "").any()


@pytest.mark.spark
@needs_spark
def test_cli_reports_bad_files_with_exit_status_1_and_the_report_builds(plans, store, tmp_path):
    out = tmp_path / "out"
    env = {**os.environ, "PYSPARK_PYTHON": sys.executable}
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "samskaping.spark",
            str(plans),
            "--model",
            str(store[1]),
            "--output",
            str(out),
            "--master",
            "local[2]",
            "--format",
            "xlsx",
            "--quiet",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
    )
    assert run.returncode == 1, run.stderr[-3000:]
    assert f"{len(GOOD)} document(s)" in run.stdout
    assert f"{len(BAD)} input(s) could not be read" in run.stderr
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    reasons = {Path(f["path"]).name: f["reason"] for f in summary["failed_documents"]}
    assert set(reasons) == set(BAD)
    assert "no text" in reasons["empty.txt"] or "empty" in reasons["empty.txt"]
    assert "save it as .docx" in reasons["gammel.doc"]
    assert all("\n" not in r and "samskaping-spark-" not in r for r in reasons.values())  # no temporary path leaks
    assert (
        (out / "documents.xlsx").is_file()
        and (out / "methods.md").is_file()
        and summary["sentences_format"] == "parquet"
    )

    report = subprocess.run(
        [sys.executable, "-m", "samskaping.report", str(out)], capture_output=True, text=True, check=False
    )
    assert report.returncode == 0, report.stderr
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "a-plan.pdf" in html and "Plan for Ås og Øyer.txt" in html


# ---------------------------------------------------------------- choosing files from Spark's listing (no Spark)


def _listed(*paths: str) -> list[Listed]:
    return [Listed(p, 100) for p in paths]


def test_folder_files_are_chosen_and_named_as_predict_names_them():
    inputs = [Input("plans/", "file:/w/plans", "folder")]
    choice = choose_files(
        inputs,
        _listed(
            "file:/w/plans/b.pdf",
            "file:/w/plans/sub/a.docx",
            "file:/w/plans/x.json",
            "file:/w/plans/old.doc",
            "file:/w/plans/~$lock.docx",
        ),
    )
    assert choice.documents == {"file:/w/plans/b.pdf": "plans/b.pdf", "file:/w/plans/sub/a.docx": "plans/sub/a.docx"}
    assert choice.failures == [
        Failure("plans/old.doc", "not read: an old Word file; open it in Word and save it as .docx")
    ]


def test_missing_inputs_unsupported_files_and_empty_folders_are_failures():
    inputs = [
        Input("nowhere", "file:/w/nowhere", "missing"),
        Input("notes.rtf", "file:/w/notes.rtf", "file"),
        Input("empty", "file:/w/empty", "folder"),
        Input("p.txt", "file:/w/p.txt", "file"),
    ]
    choice = choose_files(inputs, _listed("file:/w/p.txt", "file:/w/empty/data.json"))
    assert choice.documents == {"file:/w/p.txt": "p.txt"}
    assert [f.path for f in choice.failures] == ["nowhere", "notes.rtf", "empty"]
    assert choice.failures[0].error == "not found; check the path and the current folder"
    assert choice.failures[1].error.startswith("unsupported file type '.rtf'; a Rich Text file")
    assert choice.failures[2].error.startswith("folder holds no ")


def test_files_spark_hides_and_files_it_cannot_take_are_failures_not_skipped():
    inputs = [Input("plans", "file:/w/plans", "folder")]
    listed = [Listed("file:/w/plans/a.pdf", 100), Listed("file:/w/plans/huge.pdf", 3 * 2**30)]
    choice = choose_files(inputs, listed, hidden=["file:/w/plans/_utkast.pdf", "file:/w/plans/.git/config"])
    assert choice.documents == {"file:/w/plans/a.pdf": "plans/a.pdf"}
    reasons = {f.path: f.error for f in choice.failures}
    assert set(reasons) == {"plans/huge.pdf", "plans/_utkast.pdf"}
    assert "2 GiB" in reasons["plans/huge.pdf"] and "begin with '_'" in reasons["plans/_utkast.pdf"]


def test_a_file_inside_a_folder_input_is_read_once():
    inputs = [Input("plans", "file:/w/plans", "folder"), Input("plans/a.pdf", "file:/w/plans/a.pdf", "file")]
    assert spark_roots(inputs) == ["file:/w/plans"]
    choice = choose_files(inputs, _listed("file:/w/plans/a.pdf"))
    assert choice.documents == {"file:/w/plans/a.pdf": "plans/a.pdf"} and not choice.failures


def test_uris_keep_their_form_and_partition_folders_are_escaped_as_spark_does():
    assert is_uri("hdfs:///data/plans") and is_uri("s3a://bucket/p") and not is_uri("plans/a.pdf") and not is_uri("C:x")
    inputs = [Input("hdfs:///data/plans", "hdfs://nn:8020/data/plans", "folder")]
    choice = choose_files(inputs, _listed("hdfs://nn:8020/data/plans/a b.pdf"))
    assert choice.documents == {"hdfs://nn:8020/data/plans/a b.pdf": "hdfs:///data/plans/a b.pdf"}
    assert partition_name("plans/Ås plan:2024.pdf") == "document=plans%2FÅs plan%3A2024.pdf"
    too_long = choose_files([Input("p", "file:/w/p", "folder")], _listed("file:/w/p/" + "x" * 300 + ".pdf"))
    assert not too_long.documents and "too long for a partition folder" in too_long.failures[0].error
