"""End to end: a folder of real plan files (and bad ones) -> sentences, documents, summary."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from plan_files import Bullets, make_plan_docx, make_plan_html, make_plan_pdf, make_plan_txt
from samskaping.errors import SamskapingError
from samskaping.outputs import read_output_table as read_existing
from samskaping.predict import classify
from samskaping.summaries import count_cocreation_words, summarise_documents

ROOT = Path(__file__).resolve().parents[1]

PLAN_A = [
    [
        "Kommunen skal samskape nye løsninger med næringslivet og forskningsmiljøene.",
        "Folketallet har gått ned med 4 prosent siden 2015.",
    ],
    [
        "Vi vil f.eks. invitere innbyggerne til folkemøter i alle bygder.",
        Bullets(["Styrke samarbeidet med frivilligheten", "Utvikle tjenestene sammen med brukerne"]),
    ],
]
PLAN_B = ["Samskaping krev tid og tillit mellom kommunen og innbyggjarane.", "Planen ble vedtatt 1. januar 2024."]


@pytest.fixture(scope="module")
def baseline_model(small_baseline_dir: Path) -> Path:
    return small_baseline_dir


@pytest.fixture(scope="module")
def model(baseline_model):
    from samskaping.models import load_model

    return load_model(baseline_model)


@pytest.fixture
def plans(tmp_path) -> Path:
    folder = tmp_path / "plans"
    (folder / "sub").mkdir(parents=True)
    make_plan_pdf(folder / "a-plan.pdf", PLAN_A)
    make_plan_docx(folder / "sub" / "b-plan.docx", PLAN_B)
    make_plan_html(
        folder / "c-plan.html", ["Eldrerådet skal involveres tidlig i planarbeidet.", "Kommunen har 12 000 innbyggere."]
    )
    make_plan_txt(folder / "d-plan.txt", ["Brukermedvirkning skal prege alle helse- og omsorgstjenester."])
    pd.DataFrame({"id": ["x1", "x2"], "text": ["Vi skal samskape med ungdommen.", "Veien er 12 km lang."]}).to_csv(
        folder / "e-table.csv", index=False
    )
    (folder / "f-legacy.txt").write_bytes(
        "Avstanden til Tromsø er 250 km, og ferja går to ganger om dagen.".encode("cp1252")
    )
    return folder


BAD_INPUTS = ("broken.pdf", "empty.txt", "notext.csv", "locked.pdf", "scanned.pdf", "lies.docx")


def _add_bad_inputs(folder: Path) -> None:
    """Each kind of bad input: corrupt, empty, no text column, encrypted, scanned, lying extension."""
    import pypdf
    from fpdf import FPDF

    (folder / "broken.pdf").write_bytes(b"%PDF-1.4 not really a pdf")
    (folder / "empty.txt").write_text("", encoding="utf-8")
    (folder / "notext.csv").write_text("id,tekst\n1,hei\n", encoding="utf-8")
    writer = pypdf.PdfWriter(clone_from=make_plan_pdf(folder / "open.tmp", [["Kommunen vil samskape."]]))
    writer.encrypt(user_password="hemmelig", owner_password="eier")
    with (folder / "locked.pdf").open("wb") as handle:
        writer.write(handle)
    (folder / "open.tmp").unlink()
    scan = FPDF()
    scan.add_page()
    scan.rect(20, 20, 170, 240, style="F")
    scan.output(str(folder / "scanned.pdf"))
    (folder / "lies.docx").write_bytes((folder / "a-plan.pdf").read_bytes())


def test_folder_of_plans_is_classified_with_three_outputs(plans, model, tmp_path):
    _add_bad_inputs(plans)
    result = classify([plans], model, tmp_path / "out", progress=False, model_info={"model": "test"})
    sentences = pd.read_csv(tmp_path / "out" / "sentences.csv", encoding="utf-8-sig")
    documents = pd.read_csv(tmp_path / "out" / "documents.csv", encoding="utf-8-sig")
    summary = json.loads((tmp_path / "out" / "summary.json").read_text(encoding="utf-8"))

    by_doc = sentences.groupby("document")["text"].apply(list).to_dict()
    pdf = str(plans / "a-plan.pdf")
    assert by_doc[pdf] == [
        "Kommunen skal samskape nye løsninger med næringslivet og forskningsmiljøene.",
        "Folketallet har gått ned med 4 prosent siden 2015.",
        "Vi vil f.eks. invitere innbyggerne til folkemøter i alle bygder.",
        "Styrke samarbeidet med frivilligheten",
        "Utvikle tjenestene sammen med brukerne",
    ]
    assert sentences.loc[sentences["document"] == pdf, "page"].tolist() == [1, 1, 2, 2, 2]
    assert by_doc[str(plans / "sub" / "b-plan.docx")] == PLAN_B
    assert sentences.loc[sentences["document"] == str(plans / "e-table.csv"), "id"].tolist() == ["x1", "x2"]
    for column in (
        "conception",
        "conception_score",
        "conception_p_service",
        "factor_p_anchoring",
        "polarity_p_hindering",
    ):
        assert column in sentences.columns

    assert len(documents) == 6
    assert summary["documents"] == 6
    mentions = documents.set_index("document")["cocreation_mentions"].to_dict()
    assert (
        mentions[pdf] == 1
        and mentions[str(plans / "sub" / "b-plan.docx")] == 1
        and mentions[str(plans / "e-table.csv")] == 1
    )
    assert summary["documents_mentioning_cocreation"] == 3
    # the six bad inputs stay in the finding's denominator (issue 19, point 4)
    assert (
        summary["mention_finding"]
        == "3 of 6 documents mention samskaping (6 of 12 files read; 6 could not be read, listed below)"
    )
    assert summary["files"] == {"given": 12, "read": 6, "failed": 6}
    assert {f["path"] for f in summary["failed_documents"]} == {str(plans / n) for n in BAD_INPUTS}
    reasons = {Path(f["path"]).name: f["reason"] for f in summary["failed_documents"]}
    assert "no 'text' column" in reasons["notext.csv"]
    assert "password-protected" in reasons["locked.pdf"]
    assert "no text layer" in reasons["scanned.pdf"]
    assert "not a valid Word file" in reasons["lies.docx"]
    assert all("\n" not in reason for reason in reasons.values())
    legacy = documents.set_index("document").loc[str(plans / "f-legacy.txt")]
    assert legacy["encoding"] == "cp1252"
    assert "Tromsø" in " ".join(by_doc[str(plans / "f-legacy.txt")])
    assert summary["throughput"]["sentences_per_second"] > 0
    assert summary["throughput"]["extraction_seconds"] >= 0
    assert len(result.failures) == len(BAD_INPUTS)
    assert not [p for p in (tmp_path / "out").iterdir() if p.name.endswith(".tmp")]


@pytest.mark.slow
def test_predict_cli_exit_status_and_failure_list(plans, baseline_model, tmp_path):
    _add_bad_inputs(plans)
    run = subprocess.run(
        [
            sys.executable,
            str(ROOT / "predict.py"),
            "--model",
            str(baseline_model),
            str(plans),
            "--output",
            str(tmp_path / "o"),
            "--quiet",
        ],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 1, run.stderr
    assert "6 document(s)" in run.stdout
    assert f"{len(BAD_INPUTS)} input(s) could not be read" in run.stderr and "broken.pdf" in run.stderr
    only_bad = subprocess.run(
        [
            sys.executable,
            str(ROOT / "predict.py"),
            "--model",
            str(baseline_model),
            str(plans / "broken.pdf"),
            "--output",
            str(tmp_path / "o2"),
            "--quiet",
        ],
        capture_output=True,
        text=True,
    )
    assert only_bad.returncode == 2
    assert "error: nothing to classify:" in only_bad.stderr
    missing_model = subprocess.run(
        [
            sys.executable,
            str(ROOT / "predict.py"),
            "--model",
            str(tmp_path / "nomodel"),
            str(plans),
            "--output",
            str(tmp_path / "o3"),
        ],
        capture_output=True,
        text=True,
    )
    assert missing_model.returncode == 2 and "model folder not found" in missing_model.stderr


@pytest.mark.parametrize("fmt", ["jsonl", "parquet", "xlsx"])
def test_other_formats_round_trip(plans, model, tmp_path, fmt):
    classify([plans / "a-plan.pdf"], model, tmp_path / fmt, fmt=fmt, progress=False)
    frame = read_existing(tmp_path / fmt / f"sentences.{fmt}", fmt)
    assert len(frame) == 5 and frame["page"].tolist() == [1, 1, 2, 2, 2]
    assert (tmp_path / fmt / f"documents.{fmt}").is_file()


@pytest.mark.slow
def test_resume_skips_finished_documents_and_appends(plans, model, tmp_path):
    out = tmp_path / "out"
    first = classify([plans / "a-plan.pdf"], model, out, progress=False)
    before = pd.read_csv(out / "sentences.csv", encoding="utf-8-sig")
    second = classify([plans], model, out, resume=True, progress=False)
    after = pd.read_csv(out / "sentences.csv", encoding="utf-8-sig")
    assert second.summary["throughput"]["sentences_classified_this_run"] == len(after) - len(before)
    assert after["document"].value_counts()[str(plans / "a-plan.pdf")] == len(before)  # not classified twice
    assert second.summary["documents"] == 6 and first.summary["documents"] == 1
    # the same files as one uninterrupted run (priors are estimated over every sentence of the folder)
    whole = tmp_path / "whole"
    classify([plans / "a-plan.pdf", plans], model, whole, progress=False)
    assert (whole / "sentences.csv").read_bytes() == (out / "sentences.csv").read_bytes()


@pytest.mark.slow
def test_priors_setting_changes_shares_and_is_logged(plans, model, tmp_path):
    run_e = classify([plans], model, tmp_path / "e", progress=False, priors="estimated")
    run_u = classify([plans], model, tmp_path / "u", progress=False, priors="uniform")
    estimated, uniform = run_e.summary, run_u.summary
    assert estimated["decision_rules"]["priors"]["setting"] == "estimated"
    assert uniform["decision_rules"]["priors"]["setting"] == "uniform"
    shares = estimated["decision_rules"]["priors"]["label_sets"]["conception"]["priors"]
    assert abs(sum(shares.values()) - 1) < 1e-5  # rounded to 6 decimals
    assert estimated["decision_rules"]["priors"]["label_sets"]["conception"]["converged"]
    # uniform priors give the rare labels more weight than the estimated ones, where most sentences are none
    assert (run_u.sentences["conception_p_none"] < run_e.sentences["conception_p_none"]).mean() > 0.9
    methods = (tmp_path / "e" / "methods.md").read_text(encoding="utf-8")
    assert "Saerens, Latinne and Decaestecker (2002)" in methods and "## Norsk" in methods


@pytest.mark.slow
def test_interrupted_write_keeps_the_previous_file(plans, model, tmp_path, monkeypatch):
    out = tmp_path / "out"
    classify([plans / "d-plan.txt"], model, out, progress=False)
    good = (out / "sentences.csv").read_bytes()

    def explode(self, *args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(pd.DataFrame, "to_csv", explode)
    with pytest.raises(KeyboardInterrupt):
        classify([plans / "d-plan.txt", plans / "a-plan.pdf"], model, out, progress=False, resume=True)
    assert (out / "sentences.csv").read_bytes() == good
    assert [p.name for p in out.iterdir() if p.name.startswith(".")] == [
        ".samskaping"
    ]  # no half-written temporary file


def test_nothing_readable_raises(model, tmp_path):
    with pytest.raises(SamskapingError, match=r"nothing to classify: .*not found"):
        classify([tmp_path / "nowhere"], model, tmp_path / "o", progress=False)


def test_cocreation_word_forms():
    text = "Samskaping, samskapinga og samskapande arbeid; vi samskaper og har samskapt. Samarbeid er ikke det."
    assert count_cocreation_words(text) == 5


def test_document_summary_dominant_conception_and_top_sentences():
    frame = pd.DataFrame(
        {
            "document": ["p"] * 4,
            "text": ["a", "b", "c", "d"],
            "conception": ["service", "service", "democratic", "none"],
            "conception_score": [0.6, 0.9, 0.99, 0.8],
        }
    )
    row = summarise_documents(frame, ["conception"]).iloc[0]
    assert row["dominant_conception"] == "service"
    assert row["top_service_1"] == "b" and row["top_service_2"] == "a" and row["top_service_3"] == ""
    assert row["conception_service_share"] == 0.5
