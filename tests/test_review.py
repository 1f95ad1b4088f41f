"""The review loop on real files: export a workbook, fill it in with openpyxl as a person would in Excel,
import it, train on the shipped data plus the answers, and see the model change its mind; and the
agreement statistics against answers worked out by hand."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from samskaping.errors import DataError
from samskaping.review import cohen_kappa, gwet_ac1, krippendorff_alpha, percent_agreement
from samskaping.review.choices import ANSWER_COLUMNS, choices, parse_choice

ROOT = Path(__file__).resolve().parents[1]


# ---------------------------------------------------------------- agreement, known answers


def test_agreement_statistics_match_hand_computed_values() -> None:
    # Two annotators, four sentences. By hand:
    #   p_a = 3/4. Cohen: p_e = .75*.5 + .25*.5 = .5 -> kappa = .5.
    #   Gwet AC1 with q = 2: pi_a = (.75+.5)/2 = .625, pi_b = .375, p_e = 2*.625*.375 = .46875
    #     -> AC1 = (.75 - .46875) / (1 - .46875) = .529412.
    #   Krippendorff alpha (nominal): coincidences o_aa=4, o_ab=o_ba=1, o_bb=2, n_a=5, n_b=3, n=8;
    #     D_o = 2/8, D_e = 2*5*3/(8*7) -> alpha = 1 - .25/.535714 = .533333.
    a = ["none", "none", "none", "democratic"]
    b = ["none", "none", "democratic", "democratic"]
    labels = ["democratic", "none"]
    assert percent_agreement(a, b) == pytest.approx(0.75)
    assert cohen_kappa(a, b) == pytest.approx(0.5)
    assert gwet_ac1(a, b, labels) == pytest.approx(0.529412, abs=1e-6)
    assert krippendorff_alpha(a, b, labels) == pytest.approx(0.533333, abs=1e-6)


def test_kappa_paradox_ac1_stays_high_when_none_dominates() -> None:
    # 95 of 100 sentences none by both, the rest split: high agreement, kappa near zero, AC1 high.
    a = ["none"] * 95 + ["service"] * 3 + ["none"] * 2
    b = ["none"] * 95 + ["none"] * 3 + ["service"] * 2
    labels = ["service", "democratic", "innovation", "none"]
    assert percent_agreement(a, b) == pytest.approx(0.95)
    assert cohen_kappa(a, b) < 0.05
    assert gwet_ac1(a, b, labels) > 0.9


def test_answer_choices_parse_back_and_slips_are_explained() -> None:
    for ls in ANSWER_COLUMNS:
        for choice in choices(ls):
            assert parse_choice(ls, choice) == choice.split(" – ")[0]
    assert parse_choice("factor", "") is None
    with pytest.raises(ValueError, match=r"'ressurser' is not a factor label \(did you mean 'resources'\?\)"):
        parse_choice("factor", "ressurser")


# ---------------------------------------------------------------- the round trip


def _fill(workbook: Path, answers: dict[str, tuple[str, str, str]], target: Path) -> None:
    """Choose answers in the answer columns, as a person would with the drop-down lists."""
    from openpyxl import load_workbook

    book = load_workbook(workbook)
    ws = book["Setninger"]
    header = [c.value for c in ws[1]]
    text_col = header.index("text")
    for row in ws.iter_rows(min_row=2):
        text = row[text_col].value
        if text in answers:
            for ls, value in zip(("conception", "factor", "polarity"), answers[text], strict=True):
                choice = next(c for c in choices(ls) if c.startswith(value + " "))
                row[header.index(ANSWER_COLUMNS[ls])].value = choice
    book.save(target)


@pytest.mark.slow
def test_export_fill_import_train_changes_the_answer(tmp_path: Path) -> None:
    from openpyxl import load_workbook

    from samskaping.config import load_config
    from samskaping.models import load_model
    from samskaping.predict import classify
    from samskaping.review import export_for_review, import_answers
    from samskaping.training import train

    cfg = load_config(
        ROOT / "configs" / "baseline.yaml",
        ["tracking.enabled=false", f"data.path={ROOT / 'data' / 'samskaping-sentences.jsonl'}"],
    )
    model_dir = train(cfg, tmp_path / "m0", progress=False).model_dir
    # sentences in a municipality's own wording that the shipped model reads as co-creation
    plan = tmp_path / "plan.txt"
    local = [
        "Bygdetinget på Storøya samlar alle grendelaga kvar haust.",
        "Bygdetinget vedtek kva grendelaga skal prioritere neste år.",
        "Kvart grendelag sender to utsendingar til bygdetinget.",
        "Bygdetinget har eige budsjett frå kommunen.",
    ]
    plan.write_text("\n\n".join(local) + "\n\nKommunen har 4 000 innbyggjarar.\n", encoding="utf-8")
    out = tmp_path / "out"
    classify([plan], load_model(model_dir), out, progress=False)
    workbook = export_for_review(out, tmp_path / "review.xlsx", n=10, strategy="random").path

    sheet = load_workbook(workbook)["Setninger"]
    header = [c.value for c in sheet[1]]
    assert {"row_id", "document", "heading", "previous", "text", "next", "context", *ANSWER_COLUMNS.values()} <= set(
        header
    )
    assert sheet.freeze_panes == "A2"
    validations = sheet.data_validations.dataValidation
    assert len(validations) == 3 and all(v.type == "list" for v in validations)
    assert "Veiledning" in load_workbook(workbook).sheetnames

    before = load_model(model_dir).predict(local)["conception"]
    target = {
        text: ("none", "none", "none") if label != "none" else ("democratic", "none", "none")
        for text, label in zip(local, before, strict=True)
    }
    filled = tmp_path / "filled.xlsx"
    _fill(workbook, target, filled)
    labels_file = tmp_path / "my-labels.jsonl"
    result = import_answers(filled, labels_file, annotator="Kari")
    assert result.imported == len(local) and not result.problems
    rows = [json.loads(line) for line in labels_file.read_text(encoding="utf-8").splitlines()]
    assert {r["annotator"] for r in rows} == {"Kari"} and all("filled.xlsx" in r["source"] for r in rows)
    assert import_answers(filled, labels_file, annotator="Kari").already_there == len(local)  # not added twice

    cfg2 = load_config(
        ROOT / "configs" / "baseline.yaml",
        ["tracking.enabled=false", f"data.paths=[{ROOT / 'data' / 'samskaping-sentences.jsonl'}, {labels_file}]"],
    )
    after = load_model(train(cfg2, tmp_path / "m1", progress=False).model_dir).predict(local)["conception"]
    assert sum(b != a for b, a in zip(before, after, strict=True)) >= 3, (before, after)
    for text, old, new in zip(local, before, after, strict=True):
        if new != old:
            assert new == target[text][0]


def test_bad_answers_are_reported_with_row_and_column(tmp_path: Path) -> None:
    from openpyxl import Workbook

    from samskaping.review import import_answers

    book = Workbook()
    ws = book.active
    ws.title = "Setninger"
    ws.append(["row_id", "text", "context", "document", *ANSWER_COLUMNS.values()])
    ws.append(["d#0", "Vi skal samskape med ungdommen.", "", "d", "democratic – Demokratisk deltakelse", "none", ""])
    ws.append(["d#1", "Tillit tar tid.", "", "d", "none", "ressurser", "promoting"])
    ws.append(["d#2", "Ingen svar her.", "", "d", "", "", ""])
    ws.append(["d#3", "Tida strekk ikkje til.", "", "d", "none", "resources", "none"])
    path = tmp_path / "svar.xlsx"
    book.save(path)
    result = import_answers(path, tmp_path / "labels.jsonl")
    assert result.imported == 1 and result.not_labelled == 1
    shown = [str(p) for p in result.problems]
    assert (
        shown[0]
        == f"{path}, row 3, column 'answer_factor': 'ressurser' is not a factor label (did you mean 'resources'?); allowed: concept_role, resources, social_process, roles_power, holistic, anchoring, none"
    )
    assert shown[1].startswith(
        f"{path}, row 5, column 'answer_polarity': 'none' must be promoting or hindering when factor is resources"
    )
    done = subprocess.run(
        [sys.executable, "-m", "samskaping.review", "import", str(path), "--to", str(tmp_path / "b.jsonl")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1
    assert "row 3, column 'answer_factor'" in done.stderr


def test_agreement_command_on_two_workbooks(tmp_path: Path) -> None:
    from openpyxl import Workbook

    def workbook(name: str, factors: list[str]) -> Path:
        book = Workbook()
        ws = book.active
        ws.title = "Setninger"
        ws.append(["row_id", "text", "context", "document", *ANSWER_COLUMNS.values()])
        for i, factor in enumerate(factors):
            polarity = "none" if factor == "none" else "promoting"
            ws.append([f"d#{i}", f"Setning {i}.", "", "d", "none", factor, polarity])
        path = tmp_path / name
        book.save(path)
        return path

    a = workbook("a.xlsx", ["none", "none", "resources", "none"])
    b = workbook("b.xlsx", ["none", "none", "resources", "holistic"])
    out = tmp_path / "agreement.xlsx"
    done = subprocess.run(
        [sys.executable, "-m", "samskaping.review", "agreement", str(a), str(b), "--output", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "4 sentences labelled by both" in done.stdout
    stats = pd.read_excel(out, sheet_name="agreement")
    factor = stats.set_index("label_set").loc["factor"]
    assert factor["percent_agreement"] == pytest.approx(0.75)
    with pytest.raises(DataError, match="share no answered sentence"):
        from samskaping.review import agreement_table

        agreement_table(a, workbook("c.xlsx", []))
