"""Municipalities of plans: the 2020 table, a document,kommunenummer file, a number in a file name, and the QDPX cases."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest
from lxml import etree

from samskaping.errors import DataError
from samskaping.municipalities import known, municipality_of, read_municipality_file


def test_the_2020_table_has_all_of_nordland() -> None:
    nordland = [m for m in known().values() if m.county == "Nordland"]
    assert len(known()) == 356 and len(nordland) == 41
    assert known()["1804"].name == "Bodø" and known()["0301"].name == "Oslo"


def test_a_number_in_the_file_name_is_used_only_when_it_is_a_kommunenummer() -> None:
    assert municipality_of("plans/1833-rana-samfunnsdel.pdf").name == "Rana"
    assert municipality_of("plans/samfunnsdel-2024-2036.pdf") is None  # years are not kommunenummer
    assert municipality_of("plans/a.pdf", {"a.pdf": "1860"}).name == "Vestvågøy"
    assert municipality_of("plans/1833-rana.pdf", {"plans/1833-rana.pdf": "1804"}).name == "Bodø"  # the file wins


def test_municipality_file_with_semicolons_and_bad_rows(tmp_path: Path) -> None:
    good = tmp_path / "m.csv"
    good.write_text("\ufeffdocument;kommunenummer\nplan a.pdf;301\nb.docx;1875\n", encoding="utf-8")
    assert read_municipality_file(good) == {"plan a.pdf": "0301", "b.docx": "1875"}
    bad = tmp_path / "bad.csv"
    bad.write_text("document,kommunenummer\na.pdf,1849\nb.pdf,Bodø\n", encoding="utf-8")
    with pytest.raises(DataError) as caught:
        read_municipality_file(bad)
    lines = str(caught.value).splitlines()
    assert len(lines) == 2 and lines[0].startswith(f"{bad}, row 2: '1849' is not a kommunenummer of the 2020 structure")
    wrong = tmp_path / "wrong.csv"
    wrong.write_text("file,number\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"wrong\.csv: needs the columns document,kommunenummer; found: file, number"):
        read_municipality_file(wrong)


def test_qdpx_cases_carry_the_municipality(small_baseline_dir: Path, tmp_path: Path) -> None:
    from samskaping.export.qdpx import export_qdpx
    from samskaping.models import load_model
    from samskaping.predict import classify

    plan = tmp_path / "1865-vagan-samfunnsdel.txt"
    plan.write_text("Vågan kommune\n\nVi skal utvikle lokalsamfunnet sammen med innbyggerne.\n", encoding="utf-8")
    result = classify([plan], load_model(small_baseline_dir), tmp_path / "out", progress=False)
    row = result.documents.iloc[0]
    assert (row["kommunenummer"], row["kommune"], row["fylke"]) == ("1865", "Vågan", "Nordland")
    assert result.summary["municipalities"] == {
        "structure": 2020,
        "documents_with_municipality": 1,
        "documents": 1,
        "municipalities": 1,
        "by_county": {"Nordland": ["1865 Vågan"]},
    }
    path = export_qdpx(tmp_path / "out", tmp_path / "p.qdpx").path
    root = etree.fromstring(zipfile.ZipFile(path).read("project.qde"))
    ns = {"q": "urn:QDA-XML:project:1.0"}
    names = {v.get("guid"): v.get("name") for v in root.findall("q:Variables/q:Variable", ns)}
    case = root.find("q:Cases/q:Case", ns)
    values = {
        names[v.find("q:VariableRef", ns).get("targetGUID")]: v[1].text for v in case.findall("q:VariableValue", ns)
    }
    assert case.get("name") == "Vågan"
    assert (values["kommunenummer"], values["kommune"], values["fylke"]) == ("1865", "Vågan", "Nordland")


@pytest.mark.slow
def test_predict_municipalities_file_reaches_documents_summary_and_qdpx(
    small_baseline_dir: Path, tmp_path: Path
) -> None:
    import json
    import subprocess
    import sys

    import pandas as pd

    root = Path(__file__).resolve().parents[1]
    plans = tmp_path / "plans"
    plans.mkdir()
    (plans / "plan-a.txt").write_text("Vi skal utvikle bygdene sammen med innbyggerne.\n", encoding="utf-8")
    (plans / "plan-b.txt").write_text("Kommunen har 2 000 innbyggere.\n", encoding="utf-8")
    table = tmp_path / "kommuner.csv"
    table.write_text("document,kommunenummer\nplan-a.txt,1856\n", encoding="utf-8")
    out = tmp_path / "out"
    run = subprocess.run(
        [
            sys.executable,
            "predict.py",
            str(plans),
            "--output",
            str(out),
            "--model",
            str(small_baseline_dir),
            "--municipalities",
            str(table),
            "--qdpx",
            "--quiet",
        ],
        capture_output=True,
        text=True,
        cwd=root,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr
    documents = pd.read_csv(out / "documents.csv", dtype=str, keep_default_na=False).set_index("document")
    assert (
        documents.loc[str(plans / "plan-a.txt"), "kommune"] == "Røst"
        and documents.loc[str(plans / "plan-b.txt"), "kommune"] == ""
    )
    assert json.loads((out / "summary.json").read_text(encoding="utf-8"))["municipalities"]["by_county"] == {
        "Nordland": ["1856 Røst"]
    }
    assert "Røst" in zipfile.ZipFile(out / "samskaping.qdpx").read("project.qde").decode("utf-8")
    bad = tmp_path / "bad.csv"
    bad.write_text("document,kommunenummer\nplan-a.txt,9999\n", encoding="utf-8")
    run = subprocess.run(
        [
            sys.executable,
            "predict.py",
            str(plans),
            "--output",
            str(tmp_path / "o2"),
            "--model",
            str(small_baseline_dir),
            "--municipalities",
            str(bad),
            "--quiet",
        ],
        capture_output=True,
        text=True,
        cwd=root,
        timeout=600,
    )
    assert (
        run.returncode == 2
        and run.stderr.strip()
        == f"error: {bad}, row 2: '9999' is not a kommunenummer of the 2020 structure (four digits, e.g. 1804)"
    )
