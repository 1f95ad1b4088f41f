"""Validated figures: the blind sample, `review validate`, MAP priors on plan-like sets, and the intervals' coverage."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]
MODEL_COLUMNS = ("conception", "factor", "polarity", "_score", "_top3", "_p_", "_set", "_uncertain")


def _benchmark():
    spec = importlib.util.spec_from_file_location("validation_coverage", ROOT / "benchmarks" / "validation_coverage.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory, small_baseline_dir: Path) -> tuple[Path, pd.DataFrame]:
    """Eight written plan-like sentence tables with known labels, classified by a small (weak) baseline."""
    bench = _benchmark()
    folder = tmp_path_factory.mktemp("validation-corpus")
    bench.build_corpus(folder / "plans", plans=8, seed=1)
    frame = bench.classify_corpus(folder / "plans", folder / "out", small_baseline_dir)
    return folder / "out", frame


def _code(workbook: Path, frame: pd.DataFrame, target: Path, extra_row_id: str | None = None) -> Path:
    """Fill the answer columns of an exported workbook with the known labels (a perfect, blind coder)."""
    from openpyxl import load_workbook

    truth = frame.assign(row_id=frame["document"].astype(str) + "#" + frame["sentence_index"].astype(str)).set_index(
        "row_id"
    )
    book = load_workbook(workbook)
    sheet = book["Setninger"]
    header = [c.value for c in sheet[1]]
    column = {name: header.index(name) + 1 for name in header}
    for r in range(2, sheet.max_row + 1):
        row_id = sheet.cell(r, column["row_id"]).value
        for ls in ("conception", "factor", "polarity"):
            sheet.cell(r, column[f"answer_{ls}"]).value = truth.at[row_id, f"input_{ls}"]
    if extra_row_id:
        r = sheet.max_row + 1
        sheet.cell(r, column["row_id"]).value = extra_row_id
        sheet.cell(r, column["text"]).value = "En setning som ikke er i mappen."
        for ls in ("conception", "factor", "polarity"):
            sheet.cell(r, column[f"answer_{ls}"]).value = "none"
    book.save(target)
    return target


@pytest.mark.slow  # the classified corpus fixture takes ~20 s
def test_blind_export_shows_no_model_label_or_probability_anywhere(
    corpus: tuple[Path, pd.DataFrame], tmp_path: Path
) -> None:
    from openpyxl import load_workbook

    from samskaping.review.export import export_for_review

    out, frame = corpus
    done = export_for_review(out, tmp_path / "blind.xlsx", None, "validation", seed=3, margin=0.05)
    assert done.suggested == done.sentences > 50 and done.documents == 8
    book = load_workbook(done.path)
    setninger = [c.value for c in book["Setninger"][1]]
    assert not [c for c in setninger if c.startswith(MODEL_COLUMNS)]
    model_values = {f"{v:.4f}" for c in frame.columns if "_p_" in c or c.endswith("_score") for v in frame[c]}
    for sheet in book.worksheets:  # hidden sheets too
        for row in sheet.iter_rows(values_only=True):
            for value in row:
                assert not (isinstance(value, str) and any(m in value for m in ("_score", "_top3", "_p_"))), (
                    sheet.title,
                    value,
                )
                assert not (
                    isinstance(value, float) and f"{value:.4f}" in model_values and sheet.title == "Setninger"
                ), value
    # every sentence equally likely: each plan gets its proportional share of the draws, within one
    drawn = pd.read_excel(done.path, sheet_name="Setninger")["document"].value_counts()
    sizes = frame["document"].value_counts()
    expected = sizes * done.sentences / sizes.sum()
    assert (abs(drawn.reindex(sizes.index, fill_value=0) - expected) < 1).all()


@pytest.mark.slow  # the classified corpus fixture takes ~20 s
def test_validate_refuses_a_workbook_from_an_uncertainty_export(
    corpus: tuple[Path, pd.DataFrame], tmp_path: Path
) -> None:
    from samskaping.errors import DataError
    from samskaping.review.export import export_for_review
    from samskaping.review.validate import validate

    out, frame = corpus
    workbook = export_for_review(out, tmp_path / "uncertain.xlsx", 40, "uncertainty").path
    coded = _code(workbook, frame, tmp_path / "coded.xlsx")
    with pytest.raises(
        DataError, match=r"exported with --strategy uncertainty.*not a random sample.*--strategy validation"
    ):
        validate(out, [coded])


@pytest.mark.slow  # the classified corpus fixture takes ~20 s
def test_validate_writes_the_figures_and_refuses_rows_not_in_the_folder(
    corpus: tuple[Path, pd.DataFrame], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import shutil

    from samskaping.cli.review import main
    from samskaping.review.export import export_for_review

    out, frame = corpus
    folder = tmp_path / "out"
    shutil.copytree(out, folder)
    workbook = export_for_review(folder, tmp_path / "blind.xlsx", None, "validation", seed=0).path
    coded = _code(workbook, frame, tmp_path / "coded.xlsx", extra_row_id="plan99.jsonl#0")
    assert main(["validate", str(folder), "--labels", str(coded)]) == 1  # one row refused, the rest used
    printed = capsys.readouterr()
    assert "row_id" in printed.err and "plan99.jsonl#0" in printed.err and "is not a sentence of" in printed.err
    assert "corrected" in printed.out
    result = json.loads((folder / "validation.json").read_text(encoding="utf-8"))
    n = result["sample"]["sentences"]
    assert n == len(pd.read_excel(workbook, sheet_name="Setninger"))
    assert result["accuracy"]["conception"]["macro_f1"] < 1.0  # a weak model: the coders correct it
    share = result["corpus"]["cocreation_share"]
    true_share = float((frame["input_conception"] != "none").mean())
    assert share["raw"] == pytest.approx(float((frame["conception"] != "none").mean()), abs=1e-4)
    assert share["low"] <= share["estimate"] <= share["high"]
    assert share["high"] - share["low"] < share["sample_only"]["high"] - share["sample_only"]["low"]
    assert set(result["corpus"]["factor"]) == {
        "concept_role",
        "resources",
        "social_process",
        "roles_power",
        "holistic",
        "anchoring",
        "none",
    }
    for key in ("raw", "estimate", "low", "high"):
        assert key in result["corpus"]["conception"]["democratic"]
    documents = result["documents"]
    assert len(documents) == 8
    plan = next(iter(documents.values()))["cocreation_share"]
    assert plan["low"] <= plan["estimate"] <= plan["high"]
    assert (
        0
        <= result["documents_with_cocreation_sentences"]["low"]
        <= result["documents_with_cocreation_sentences"]["high"]
        <= 8
    )
    assert result["disagreements_total"] == sum(
        any(str(d["coders"][ls]) != str(d["model"][ls]) for ls in d["differs"]) for d in result["disagreements"]
    )
    assert abs(share["estimate"] - true_share) < abs(share["raw"] - true_share) + 0.05
    summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    assert summary["validation"]["sample_sentences"] == n
    methods = (folder / "methods.md").read_text(encoding="utf-8")
    assert "prediction-powered" in methods and "prediksjonsstyrt" in methods
    from samskaping.report import write_report

    page = write_report(folder).read_text(encoding="utf-8")
    assert 'id="validering"' in page and "Validerte tall" in page and 'id="uenige"' in page
    assert "data:image/png;base64," in page.split('id="validering"')[1].split("</section>")[0]  # the per-plan chart


@pytest.mark.slow  # the classified corpus fixture takes ~20 s
def test_report_says_figures_are_uncorrected_until_validated(corpus: tuple[Path, pd.DataFrame], tmp_path: Path) -> None:
    import shutil

    from samskaping.report import write_report

    folder = tmp_path / "out"
    shutil.copytree(corpus[0], folder)
    page = write_report(folder).read_text(encoding="utf-8")
    assert "Ukorrigerte tall" in page and "--strategy validation" in page and "Validerte tall" not in page


@pytest.mark.slow
def test_validated_corpus_interval_covers_the_true_share_and_beats_the_sample_alone(
    corpus: tuple[Path, pd.DataFrame],
) -> None:
    """The small version of benchmarks/validation_coverage.py: 200 seeded blind samples of the suggested size."""
    _, frame = corpus
    figures = _benchmark().simulate(frame, draws=200, margin=0.05, resamples=100)
    assert figures["coverage"] >= 0.93
    assert figures["mean_width"] < figures["sample_only_mean_width"]
    assert figures["per_plan_corrected_error"] < figures["per_plan_raw_error"]
    assert figures["draws_corrected"] >= 190  # the per-plan correction applies in (nearly) every draw


def test_map_priors_keep_rare_labels_on_a_plan_like_set(small_baseline_dir: Path) -> None:
    """On one written plan (mostly none) no label the model can predict is given a prior of 0."""
    from samskaping import priors
    from samskaping.labels import LABEL_SETS
    from samskaping.models import load_model
    from samskaping.predict import RAW_PREFIX, raw_frame

    model = load_model(small_baseline_dir)
    plan = pd.read_json(ROOT / "data" / "eval" / "realistic-plans.jsonl", lines=True, dtype=False)
    plan = plan[plan["document"] == plan["document"].iloc[0]]
    raw = raw_frame(model, plan["text"].tolist(), contexts=plan["context"].fillna("").tolist())
    probs = {
        ls: raw[[f"{RAW_PREFIX}{ls}_p_{label}" for label in LABEL_SETS[ls]]].to_numpy(dtype=float)
        for ls in model.label_sets
    }
    _, plain = priors.apply(probs, model.training_priors, "estimated", strength=0.0)
    _, regularised = priors.apply(probs, model.training_priors, "estimated")
    zero_before = [
        (ls, label) for ls, entry in plain["label_sets"].items() for label, p in entry["priors"].items() if p < 1e-4
    ]
    assert zero_before  # plain EM rules labels out on a single plan
    for ls, entry in regularised["label_sets"].items():
        assert min(entry["priors"].values()) > 0.01, (ls, entry["priors"])


def test_predict_says_once_that_its_shares_are_uncorrected(
    small_baseline_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from samskaping.cli.predict import predict_main

    plan = tmp_path / "plan.txt"
    plan.write_text(
        "Kommunen skal samskape med innbyggerne om nye løsninger.\n\nVegen er 12 km lang.\n", encoding="utf-8"
    )
    assert (
        predict_main([str(plan), "--output", str(tmp_path / "out"), "--model", str(small_baseline_dir), "--quiet"]) == 0
    )
    printed = capsys.readouterr().out
    assert printed.count("uncorrected") == 1
    assert (
        "samskaping.review export" in printed
        and "--strategy validation" in printed
        and "samskaping.review validate" in printed
    )


def test_ppi_share_never_collapses_to_a_point_or_nan_on_rare_labels() -> None:
    from samskaping.validation import ppi_share

    none = np.zeros(100)
    some = none.copy()
    some[:3] = 1
    unseen = ppi_share(none, none, np.zeros(5000))  # neither coders nor model saw the label
    assert unseen.low == 0 and 0.03 < unseen.high < 0.04 and "exact" in unseen.note
    missed = ppi_share(some, none, np.zeros(5000))  # the model never gives the label, coders found 3 %
    assert missed.estimate == pytest.approx(0.03) and missed.low <= 0.03 <= missed.high and np.isfinite(missed.high)


def test_allocation_gives_every_sentence_the_same_chance() -> None:
    from samskaping.validation import allocate

    sizes = np.array([37, 250, 12, 401, 90])
    draws = np.stack([allocate(sizes, 60, np.random.default_rng(seed)) for seed in range(4000)])
    assert (draws.sum(axis=1) == 60).all()
    exact = 60 * sizes / sizes.sum()
    assert ((draws == np.floor(exact)) | (draws == np.ceil(exact))).all()
    assert np.abs(draws.mean(axis=0) - exact).max() < 0.03  # inclusion probability n/N for every sentence


def test_suggested_sample_size_follows_cochran() -> None:
    from samskaping.validation import suggest_sample_size

    assert suggest_sample_size(0.5, 0.05, 10**9) == 385  # the textbook 384.15 rounded up
    assert (
        suggest_sample_size(0.02, 0.05, 10**9) == suggest_sample_size(0.1, 0.05, 10**9) == 139
    )  # planning share >= 10 %
    assert suggest_sample_size(0.5, 0.05, 100) < 100
    with pytest.raises(ValueError, match="--margin"):
        suggest_sample_size(0.1, 0.0, 100)


@pytest.mark.slow  # the classified corpus fixture takes ~20 s
def test_a_coded_csv_is_taken_as_a_random_sample_and_its_bad_rows_are_named(
    corpus: tuple[Path, pd.DataFrame], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import shutil

    from samskaping.cli.review import main

    out, frame = corpus
    folder = tmp_path / "out"
    shutil.copytree(out, folder)
    rows = frame.sample(120, random_state=5)
    coded = pd.DataFrame(
        {
            "row_id": rows["document"].astype(str) + "#" + rows["sentence_index"].astype(str),
            "answer_conception": rows["input_conception"],
            "answer_factor": rows["input_factor"],
            "answer_polarity": rows["input_polarity"],
        }
    )
    coded.iloc[3, 1] = "demokratisk"  # not a label: the row is named and left out
    path = tmp_path / "coded.csv"
    coded.to_csv(path, index=False)
    assert main(["validate", str(folder), "--labels", str(path)]) == 1
    err = capsys.readouterr().err
    assert "coded.csv, row 5, column 'answer_conception': 'demokratisk' is not a conception label" in err
    result = json.loads((folder / "validation.json").read_text(encoding="utf-8"))
    assert result["sample"]["sentences"] == 119 and "taken as a simple random sample" in result["sample"]["design"]
    assert "taken as a random sample" in (folder / "methods.md").read_text(encoding="utf-8")


@pytest.mark.slow  # the classified corpus fixture takes ~20 s
def test_two_coders_agreement_is_recorded_and_the_first_coders_answers_are_used(
    corpus: tuple[Path, pd.DataFrame], tmp_path: Path
) -> None:
    import shutil

    from samskaping.review.export import export_for_review
    from samskaping.review.validate import validate

    out, frame = corpus
    folder = tmp_path / "out"
    shutil.copytree(out, folder)
    workbook = export_for_review(folder, tmp_path / "blind.xlsx", 60, "validation", seed=4).path
    first = _code(workbook, frame, tmp_path / "kari.xlsx")
    second = pd.read_excel(first, sheet_name="Setninger", dtype=str, keep_default_na=False)
    from openpyxl import load_workbook

    book = load_workbook(first)
    sheet = book["Setninger"]
    column = [c.value for c in sheet[1]].index("answer_conception") + 1
    changed = 0
    for r in range(2, sheet.max_row + 1):  # the second coder says «none» where the first saw co-creation
        if sheet.cell(r, column).value != "none":
            changed += 1
            sheet.cell(r, column).value = "none"
    book.save(tmp_path / "ola.xlsx")
    assert changed >= 2
    result, _ = validate(folder, [first, tmp_path / "ola.xlsx"])
    agreement = result["sample"]["coder_agreement"]
    assert agreement["sentences"] == len(second) == 60
    assert agreement["conception"]["percent_agreement"] == pytest.approx(1 - changed / 60, abs=1e-3)
    truth_share = float((second["answer_conception"] != "none").mean())
    coded = result["corpus"]["cocreation_share"]["sample_only"]["estimate"]
    assert coded == pytest.approx(truth_share, abs=1e-4)  # the first coder's answers, not the second's
