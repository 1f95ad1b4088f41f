"""What a predict run says about its inputs (issue 19, points 4, 5 and 11 on the predict side).

- The denominator never shrinks silently: four files given, three unreadable, and
  ``summary.json`` and the report's headline say «1 av 4 filer lest», naming the
  three near the top of the page.
- Two inputs with the same text (the sample plan as PDF and as TXT) are named in
  one warning and in ``summary.json``; the sample folder holds one plan.
- A failed run leaves no empty output folder; the report counts «1 plan», «2 planer».

Real files, a real baseline model (``small_baseline_dir``), no mocks.
"""

from __future__ import annotations

import json
import logging
import re
import shutil
from pathlib import Path

import pytest

from plan_files import make_plan_txt
from samskaping.errors import SamskapingError
from samskaping.predict import classify
from samskaping.report import write_report

ROOT = Path(__file__).resolve().parents[1]
SAMPLE_PDF = ROOT / "data" / "sample-plans" / "eksempelkommune-samfunnsdel.pdf"
SAMPLE_TXT = ROOT / "data" / "sample-plan-text" / "eksempelkommune-samfunnsdel.txt"
PLAN = ["Kommunen skal samskape med innbyggerne om utviklingen av bygdene.", "Folketallet har vært stabilt."]


@pytest.fixture(scope="module")
def model(small_baseline_dir: Path):
    from samskaping.models import load_model

    return load_model(small_baseline_dir)


def _four_inputs(folder: Path) -> list[Path]:
    """One readable plan and three that cannot be read: empty, not a PDF, missing."""
    folder.mkdir(parents=True, exist_ok=True)
    good = make_plan_txt(folder / "lest-plan.txt", PLAN)
    (folder / "tom.txt").write_bytes(b"")
    (folder / "ødelagt.pdf").write_bytes(b"%PDF-1.7\nthis is not a pdf")
    return [good, folder / "tom.txt", folder / "ødelagt.pdf", folder / "finnes-ikke.pdf"]


def test_unread_files_are_in_the_headline_and_summary(model, tmp_path: Path) -> None:
    inputs = _four_inputs(tmp_path / "plans")
    result = classify(inputs, model, tmp_path / "out", progress=False)
    summary = json.loads((tmp_path / "out" / "summary.json").read_text(encoding="utf-8"))
    assert summary["files"] == {"given": 4, "read": 1, "failed": 3}
    assert summary["documents"] == 1
    assert (
        summary["mention_finding"]
        == "1 of 1 documents mention samskaping (1 of 4 files read; 3 could not be read, listed below)"
    )
    assert len(result.failures) == 3

    page = write_report(result.output_dir).read_text(encoding="utf-8")
    headline = page[: page.index('<section id="oversikt">')]  # everything above the overview
    assert "<strong>1 av 4 filer lest; 3 kunne ikke leses</strong> — se listen nedenfor" in headline
    for name in ("tom.txt", "ødelagt.pdf", "finnes-ikke.pdf"):
        assert name in headline  # named near the top, not only at the bottom
    overview = page[page.index('<section id="oversikt">') :]
    assert "<strong>1 av 1 leste plan</strong> nevner samskaping" in overview
    assert "<strong>3 av 4 filer kunne ikke leses</strong> og er ikke med i tallene" in overview
    assert "1 planer" not in page


@pytest.mark.slow
def test_a_report_counts_one_plan_and_two_plans_in_norwegian(model, tmp_path: Path) -> None:
    one = make_plan_txt(tmp_path / "a.txt", PLAN)
    page = write_report(classify([one], model, tmp_path / "one", progress=False).output_dir).read_text(encoding="utf-8")
    assert re.search(r"· 1 plan, \d+ setninger ·", page)
    assert not re.search(r"\b1 (planer|setninger)\b", page)
    two = make_plan_txt(tmp_path / "b.txt", ["Brukerne skal være med og utvikle tjenestene.", "Veien er 12 km lang."])
    page = write_report(classify([one, two], model, tmp_path / "two", progress=False).output_dir).read_text(
        encoding="utf-8"
    )
    assert re.search(r"· 2 planer, \d+ setninger ·", page)
    assert "av 2 planer</strong> nevner samskaping" in page


def test_the_same_plan_as_pdf_and_txt_is_named_once_as_a_duplicate(
    model, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    folder = tmp_path / "plans"
    folder.mkdir()
    pdf, txt = shutil.copy(SAMPLE_PDF, folder), shutil.copy(SAMPLE_TXT, folder)
    other = make_plan_txt(folder / "annen-plan.txt", PLAN)
    with caplog.at_level(logging.WARNING, logger="samskaping.predict"):
        result = classify([folder], model, tmp_path / "out", progress=False)
    warnings = [r.getMessage() for r in caplog.records if "same text" in r.getMessage()]
    assert len(warnings) == 1 and "\n" not in warnings[0]
    assert f"{pdf} and {txt}" in warnings[0] or f"{txt} and {pdf}" in warnings[0]
    duplicates = json.loads((tmp_path / "out" / "summary.json").read_text(encoding="utf-8"))["duplicate_documents"]
    assert [sorted(g["documents"]) for g in duplicates] == [sorted([str(pdf), str(txt)])]
    assert duplicates[0]["sentences"] == 44
    assert str(other) not in duplicates[0]["documents"]
    assert result.summary["documents"] == 3  # both are still classified; the warning says how to count once


def test_the_sample_folder_holds_one_plan(model, tmp_path: Path) -> None:
    assert sorted(p.name for p in (ROOT / "data" / "sample-plans").iterdir()) == ["eksempelkommune-samfunnsdel.pdf"]
    result = classify([ROOT / "data" / "sample-plans"], model, tmp_path / "out", progress=False)
    assert (result.summary["documents"], result.summary["sentences"]) == (1, 44)
    assert result.summary["duplicate_documents"] == []


def test_a_failed_run_leaves_no_empty_output_folder(model, tmp_path: Path) -> None:
    out = tmp_path / "results" / "run1"
    with pytest.raises(SamskapingError, match="nothing to classify"):
        classify([tmp_path / "finnes-ikke.pdf"], model, out, progress=False)
    assert not (tmp_path / "results").exists()  # neither the folder nor the parent it made
    kept = tmp_path / "mine"
    kept.mkdir()
    with pytest.raises(SamskapingError):
        classify([tmp_path / "finnes-ikke.pdf"], model, kept, progress=False)
    assert kept.is_dir()  # a folder the user made is never removed
