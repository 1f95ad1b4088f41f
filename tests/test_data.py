import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from conftest import SHIPPED, small_frame, write_jsonl
from samskaping.data import describe, load_labelled, near_duplicates, split_frame, validate
from samskaping.errors import DataError


def _write(frame: pd.DataFrame, path: Path) -> Path:
    if path.suffix == ".csv":
        frame.to_csv(path, index=False)
    elif path.suffix == ".xlsx":
        frame.to_excel(path, index=False)
    else:
        write_jsonl(frame, path)
    return path


@pytest.mark.parametrize("suffix", [".csv", ".jsonl", ".xlsx"])
def test_reads_every_format_identically(tmp_path, suffix):
    frame = small_frame()
    data = load_labelled(_write(frame, tmp_path / f"d{suffix}"))
    assert len(data.frame) == len(frame)
    assert data.frame["text"].tolist() == frame["text"].tolist()
    assert data.digest == load_labelled(_write(frame, tmp_path / "again.jsonl")).digest


@pytest.mark.parametrize(
    ("suffix", "column", "value", "row", "expected"),
    [
        (
            ".csv",
            "factor",
            "resourcs",
            5,
            "row 5, column 'factor': 'resourcs' is not a factor label (did you mean 'resources'?); allowed: concept_role",
        ),
        (".jsonl", "conception", "social", 4, "row 4, column 'conception': 'social' is not a conception label"),
        (".xlsx", "text", "  ", 3, "row 3, column 'text': '' is empty"),
        (".csv", "split", "dev", 2, "row 2, column 'split': 'dev' is not a split; allowed: train, validation, test"),
    ],
)
def test_bad_cell_is_reported_with_file_row_column_value(tmp_path, suffix, column, value, row, expected):
    frame = small_frame()
    offset = 1 if suffix == ".jsonl" else 2
    frame.loc[row - offset, column] = value
    path = _write(frame, tmp_path / f"bad{suffix}")
    with pytest.raises(DataError) as err:
        load_labelled(path)
    assert f"{path}, {expected}" in str(err.value)


def test_polarity_inconsistent_with_factor(tmp_path):
    frame = small_frame()
    none_row = frame.index[frame["factor"] == "none"][0]
    frame.loc[none_row, "polarity"] = "hindering"
    with pytest.raises(DataError, match="column 'polarity': 'hindering' must be none when factor is none"):
        load_labelled(_write(frame, tmp_path / "p.csv"))


def test_duplicate_ids_and_texts(tmp_path):
    frame = small_frame()
    frame.loc[3, "id"] = frame.loc[1, "id"]
    frame.loc[5, "text"] = "  " + frame.loc[2, "text"].upper() + " "
    with pytest.raises(DataError) as err:
        load_labelled(_write(frame, tmp_path / "dup.csv"))
    message = str(err.value)
    assert "row 5, column 'id'" in message and "repeats the id of row 3" in message
    assert "row 7, column 'text'" in message and "repeats the text of row 4" in message


def test_missing_label_column(tmp_path):
    frame = small_frame().drop(columns=["polarity"])
    with pytest.raises(
        DataError,
        match=r"m.csv: missing column\(s\) polarity; needed: text, conception, factor, polarity; found: id, text",
    ):
        load_labelled(_write(frame, tmp_path / "m.csv"), on_invalid="skip")


def test_skip_leaves_out_bad_rows_and_lists_them(tmp_path, caplog):
    frame = small_frame()
    frame.loc[0, "factor"] = "money"
    data = load_labelled(_write(frame, tmp_path / "s.csv"), on_invalid="skip")
    assert len(data.frame) == len(frame) - 1
    assert [p.row for p in data.problems] == [2]
    assert "left out" in caplog.text and "'money'" in caplog.text


def test_unsupported_suffix(tmp_path):
    path = tmp_path / "data.txt"
    path.write_text("x", encoding="utf-8")
    with pytest.raises(DataError, match=r"unsupported file type '.txt'; allowed: .csv, .jsonl, .xlsx"):
        load_labelled(path)


def test_seeded_stratified_split_without_split_column(tmp_path):
    frame = pd.read_json(SHIPPED, lines=True, dtype=False).drop(columns=["split"]).head(600)
    data = load_labelled(_write(frame, tmp_path / "nosplit.jsonl"))
    parts = split_frame(data, 0.15, 0.15, seed=7)
    again = split_frame(data, 0.15, 0.15, seed=7)
    assert [len(p) for p in parts.values()] == [420, 90, 90]
    assert parts["test"]["id"].tolist() == again["test"]["id"].tolist()
    for part in parts.values():  # every conception in every split
        assert set(part["conception"]) == set(frame["conception"])


def test_split_column_with_empty_split_is_refused(tmp_path):
    frame = small_frame()
    frame = frame[frame["split"] != "validation"]
    data = load_labelled(_write(frame, tmp_path / "noval.jsonl"))
    with pytest.raises(DataError, match="split column has no rows for validation"):
        split_frame(data)


def test_near_duplicates_found_and_unrelated_not():
    texts = [
        "Kommunen skal styrke samarbeidet med frivillige lag og foreninger.",
        "Kommunen skal styrke samarbeidet med frivillige lag og foreningar.",
        "Befolkningen i kommunen har gått ned med 3 prosent siden 2015.",
    ]
    pairs = near_duplicates(texts, threshold=0.85)
    assert [(i, j) for i, j, _ in pairs] == [(0, 1)]


def test_validate_flags_cross_split_near_duplicates(tmp_path):
    frame = small_frame()
    train_text = frame.loc[frame["split"] == "train", "text"].iloc[0]
    idx = frame.index[frame["split"] == "test"][0]
    frame.loc[idx, "text"] = train_text.rstrip(".") + " !"
    report = validate(_write(frame, tmp_path / "near.jsonl"))
    assert not report.ok
    assert len(report.cross_split_pairs) == 1
    assert "near-duplicate pair(s) across splits" in report.violations[0]


@pytest.mark.slow
def test_shipped_dataset_passes_validation_with_required_coverage(tmp_path):
    out = tmp_path / "stats.json"
    result = subprocess.run(
        [sys.executable, "-m", "samskaping.data", "validate", str(SHIPPED), "--json", str(out)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "OK: no violations" in result.stdout
    stats = json.loads(out.read_text(encoding="utf-8"))["stats"]
    assert stats["rows"] >= 2000
    for conception in ("service", "democratic", "innovation"):
        assert stats["conception"][conception] >= 300
    assert stats["conception"]["none"] >= 800
    for factor in ("concept_role", "resources", "social_process", "roles_power", "holistic", "anchoring"):
        assert stats["factor"][factor] >= 150
        assert stats["hindering_share"][factor] >= 0.35
    assert stats["language"]["nn"] / stats["rows"] >= 0.20
    shares = {k: v / stats["rows"] for k, v in stats["split"].items()}
    assert shares["train"] == pytest.approx(0.70, abs=0.02)
    assert shares["validation"] == pytest.approx(0.15, abs=0.02)
    frame = pd.read_json(SHIPPED, lines=True, dtype=False)
    assert (frame["subset"] == "hard_negative").sum() >= 250
    assert frame["source"].str.contains("written for the samskaping project").all()


def test_describe_counts_hindering_share():
    frame = pd.DataFrame(
        {
            "text": ["a", "b", "c", "d"],
            "conception": ["none"] * 4,
            "factor": ["resources", "resources", "resources", "none"],
            "polarity": ["hindering", "promoting", "hindering", "none"],
        }
    )
    assert describe(frame)["hindering_share"] == {"resources": pytest.approx(0.667, abs=1e-3)}


def test_semicolon_csv_from_excel_is_read(tmp_path):
    frame = small_frame()
    path = tmp_path / "excel.csv"
    frame.to_csv(path, index=False, sep=";", encoding="utf-8-sig")
    assert load_labelled(path).frame["text"].tolist() == frame["text"].tolist()


def test_non_utf8_csv_says_how_to_save(tmp_path):
    path = tmp_path / "latin.csv"
    small_frame().to_csv(path, index=False, encoding="cp1252", errors="replace")
    with pytest.raises(DataError, match=r"not UTF-8 text .* save as 'CSV UTF-8'"):
        load_labelled(path)


def test_one_column_csv_with_commas_in_text(tmp_path):
    from samskaping.data import read_table

    path = tmp_path / "sentences.csv"
    pd.DataFrame({"text": ["Vi skal, sammen med innbyggerne, lage planen.", "Veien er lang; den er smal."]}).to_csv(
        path, index=False
    )
    frame, _ = read_table(path)
    assert list(frame.columns) == ["text"]
    assert frame["text"].tolist() == ["Vi skal, sammen med innbyggerne, lage planen.", "Veien er lang; den er smal."]


@pytest.mark.parametrize(
    ("label_set", "typed", "meant"),
    [
        ("factor", "ressurser", "resources"),
        ("conception", "demokratisk", "democratic"),
        ("conception", "Democratic", "democratic"),
        ("factor", "Social process", "social_process"),
        ("polarity", "hemmer", "hindering"),
        ("factor", "Forankring", "anchoring"),
        ("conception", "innovatoin", "innovation"),
    ],
)
def test_label_slips_and_norwegian_words_get_a_suggestion(label_set: str, typed: str, meant: str) -> None:
    from samskaping.labels import suggest_label

    assert suggest_label(label_set, typed) == meant


def test_unrelated_word_gets_no_suggestion() -> None:
    from samskaping.labels import suggest_label

    assert suggest_label("factor", "kommuneplan") is None
