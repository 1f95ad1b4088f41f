"""Tests for samskaping.report on real output folders.

A baseline model is trained on a tiny labelled fixture; three small plans (a
two-page PDF, a JSONL and an XLSX sentence table) are classified with
:func:`samskaping.predict.classify` in each output format; the report of that
folder is written and checked: overview numbers, one embedded PNG per chart,
escaped text, no external addresses, and the most confident examples with
their plan and page. Nothing is mocked and nothing needs the network.

:func:`make_plans`, :func:`build_output` and :func:`train_report_model` are
also used by ``test_browser.py``.
"""

from __future__ import annotations

import base64
import html
import json
import os
import re
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pandas as pd
import pytest

from plan_files import make_plan_pdf
from samskaping.cli.report import main
from samskaping.errors import SamskapingError
from samskaping.labels import LABEL_SETS, NONE, norwegian
from samskaping.predict import FORMATS, PredictResult, classify
from samskaping.report import EXAMPLES_PER_LABEL, REPORT_NAME, read_output, write_report
from test_runs import DATA, train_baseline, write_fixture

HOSTILE = "Vi vil <script>alert('x')</script> styrke samskaping & «dialog» med \"innbyggerne\"."
PDF_PAGES = [
    [
        "Kommunen skal samskape med innbyggerne, frivillige lag og næringslivet om utviklingen av lokalsamfunnet.",
        "Innbyggerne skal få reell innflytelse gjennom folkemøter og ungdomsråd.",
        "Samskaping krever at kommunen setter av tid og ressurser til arbeidet.",
    ],
    [
        "Stramme budsjetter gir lite rom for utviklingsarbeid sammen med frivilligheten.",
        "Tjenestene skal utvikles sammen med brukerne og deres pårørende.",
        "Kommunen vil prøve ut nye løsninger sammen med bedrifter og forskningsmiljøer.",
    ],
]
PLAN_NAMES = ("Nordvik-samfunnsdel.pdf", "Øyby & Sørvik <utkast>.jsonl", "Fjellbygd-samfunnsdel.xlsx")


def _shipped(split: str) -> list[dict[str, str]]:
    return [r for r in map(json.loads, DATA.read_text(encoding="utf-8").splitlines()) if r["split"] == split]


def make_plans(folder: Path) -> list[Path]:
    """Write three small plans: a two-page PDF, a JSONL and an XLSX sentence table.

    The PDF and the JSONL mention «samskaping»; the XLSX plan does not, so
    «2 av 3 planer» nevner samskaping.
    """
    folder.mkdir(parents=True, exist_ok=True)
    test_rows = _shipped("test")
    pdf = make_plan_pdf(folder / PLAN_NAMES[0], PDF_PAGES)
    table = [r["text"] for r in test_rows if r["conception"] != NONE and "samskap" not in r["text"].lower()][:14]
    jsonl = folder / PLAN_NAMES[1]
    pd.DataFrame({"id": range(len(table) + 1), "text": [*table, HOSTILE]}).to_json(
        jsonl, orient="records", lines=True, force_ascii=False
    )
    plain = [r["text"] for r in test_rows if r["conception"] == NONE and "samskap" not in r["text"].lower()][:8]
    xlsx = folder / PLAN_NAMES[2]
    pd.DataFrame({"text": plain}).to_excel(xlsx, index=False)
    return [pdf, jsonl, xlsx]


def train_report_model(
    folder: Path, per_conception: int = 30, label_sets: Sequence[str] = ("conception", "factor", "polarity")
):
    """A trained baseline classifier (no MLflow tracking), loaded back from its folder."""
    from samskaping.models import load_model

    folder.mkdir(parents=True, exist_ok=True)
    data = write_fixture(folder / "fixture.jsonl", per_conception=per_conception, per_factor=max(4, per_conception - 1))
    result = train_baseline(data, folder / "model", tracking_uri=None, run_name="report", label_sets=tuple(label_sets))
    return load_model(result.model_dir)


def build_output(folder: Path, model, fmt: str = "csv", extra_inputs: Sequence[Path] = ()) -> PredictResult:
    """Classify the three plans of :func:`make_plans` (and ``extra_inputs``) into ``folder/out``."""
    plans = make_plans(folder / "plans")
    return classify(
        [*plans, *extra_inputs],
        model,
        folder / "out",
        fmt=fmt,
        progress=False,
        model_info={"model": "models/test", "kind": model.kind},
    )


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory):
    return train_report_model(tmp_path_factory.mktemp("report-model"))


def _section(page: str, section_id: str) -> str:
    start = page.index(f'<section id="{section_id}">')
    return page[start : page.index("</section>", start)]


def _images(page: str) -> list[bytes]:
    return [base64.b64decode(data) for data in re.findall(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)]


@pytest.mark.slow
@pytest.mark.parametrize("fmt", FORMATS)
def test_report_of_each_output_format(tmp_path: Path, model, fmt: str) -> None:
    missing = tmp_path / "<script>alert(1)</script>.pdf"
    result = build_output(tmp_path, model, fmt, extra_inputs=[missing])
    assert [f.path for f in result.failures] == [str(missing)]
    path = write_report(result.output_dir)
    assert path == result.output_dir / REPORT_NAME
    page = path.read_text(encoding="utf-8")
    summary = result.summary

    # Overview: «X av N planer» and the dominant conception of every plan.
    assert (summary["documents_mentioning_cocreation"], summary["documents"]) == (2, 3)
    overview = _section(page, "oversikt")
    assert "<strong>2 av 3 leste planer</strong> nevner samskaping" in overview  # one input was not read
    assert (
        f"<strong>{summary['documents_with_cocreation_sentences']} av 3 leste planer</strong> har minst én setning"
        in overview
    )
    plans_body = overview[overview.index('id="planer"') :]
    plan_rows = re.findall(r"<tr>(.*?)</tr>", plans_body[plans_body.index("<tbody>") :], flags=re.S)
    assert len(plan_rows) == 3
    for document, row in zip(result.documents.itertuples(), plan_rows, strict=False):
        assert html.escape(Path(document.document).name) in row
        assert html.escape(norwegian("conception", document.dominant_conception)) in row
        assert f'<td class="num">{document.sentences}</td>' in row

    # One embedded PNG per chart, and nothing fetched from outside the page.
    images = _images(page)
    assert len(images) == 2
    assert all(image.startswith(b"\x89PNG\r\n\x1a\n") and len(image) > 2000 for image in images)
    assert page.count("<img ") == 2
    assert not re.search(r"https?://", page)
    assert not re.search(r"""(src|href)=["'](?!data:)""", page)

    # All text from the data is escaped: plan names, failed inputs, sentences.
    assert "<script>" not in page
    assert "Øyby &amp; Sørvik &lt;utkast&gt;.jsonl" in page
    assert (
        f"{html.escape(str(missing))} <small>(grunn: not found; check the path and the current folder)</small>"
        in _section(page, "ikke-lest")
    )
    assert HOSTILE not in page  # shown only escaped, if among the examples (checked exactly below)
    assert '<html lang="nb">' in page


@pytest.mark.slow
def test_report_shows_the_most_confident_examples_with_plan_and_page(tmp_path: Path, model) -> None:
    result = build_output(tmp_path, model, "jsonl")
    page = write_report(result.output_dir).read_text(encoding="utf-8")
    sentences = result.sentences
    assert sentences.loc[sentences["document"].str.endswith(".pdf"), "page"].tolist()[-1] == 2
    shown_with_page = 0
    for label_set in ("conception", "factor"):
        section = _section(page, f"eksempler-{label_set}")
        for label in LABEL_SETS[label_set]:
            if label == NONE:
                continue
            assert html.escape(norwegian(label_set, label)) in section
            chosen = sentences[sentences[label_set] == label]
            sure = chosen[~chosen[f"{label_set}_uncertain"].astype(bool)]  # uncertain sentences are never examples
            top = sure.sort_values(f"{label_set}_score", ascending=False, kind="stable").head(EXAMPLES_PER_LABEL)
            for row in chosen[chosen[f"{label_set}_uncertain"].astype(bool)].itertuples():
                assert f"<q>{html.escape(row.text)}</q>" not in section
            for row in top.itertuples():
                place = html.escape(Path(row.document).name)
                if not pd.isna(row.page):
                    place += f", s.&nbsp;{row.page}"
                    shown_with_page += 1
                assert f"<q>{html.escape(row.text)}</q>" in section
                assert place in section
    assert shown_with_page > 0, "the PDF plan's sentences should be among the examples"
    factors = _section(page, "faktorer")
    counts = {f: int(result.summary["factors"][f]["promoting"]) for f in result.summary["factors"]}
    for factor, promoting in counts.items():
        assert (
            f'{html.escape(norwegian("factor", factor))} <small>({factor})</small></td><td class="num">{promoting}</td>'
            in factors
        )


@pytest.mark.slow
def test_report_is_rewritten_atomically_and_readable_by_others(tmp_path: Path, model) -> None:
    result = build_output(tmp_path, model, "csv")
    first = write_report(result.output_dir)
    (result.output_dir / REPORT_NAME).write_text("old", encoding="utf-8")
    second = write_report(result.output_dir)
    assert first == second and second.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert sorted(p.name for p in result.output_dir.iterdir() if p.name != ".samskaping") == [
        "documents.csv",
        "methods.md",
        REPORT_NAME,
        "sentences.csv",
        "summary.json",
    ]
    umask = os.umask(0o022)
    os.umask(umask)
    assert second.stat().st_mode & 0o777 == 0o666 & ~umask


@pytest.mark.slow
def test_command_line_rebuilds_the_report(tmp_path: Path, model) -> None:
    result = build_output(tmp_path, model, "xlsx")
    done = subprocess.run(
        [sys.executable, "-m", "samskaping.report", str(result.output_dir)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"report written to {result.output_dir / REPORT_NAME}"
    assert "2 av 3 planer" in (result.output_dir / REPORT_NAME).read_text(encoding="utf-8")


def test_a_folder_without_summary_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    expected = (
        f"{tmp_path}: no summary.json, so not a predict.py output folder; run predict.py with --output {tmp_path}"
    )
    assert err == f"error: {expected}"
    assert not (tmp_path / REPORT_NAME).exists()


@pytest.mark.slow
def test_a_missing_table_is_named(tmp_path: Path, model) -> None:
    result = build_output(tmp_path, model, "parquet")
    (result.output_dir / "documents.parquet").unlink()
    with pytest.raises(SamskapingError, match=r"documents\.parquet: file not found; rerun predict.py"):
        write_report(result.output_dir)
    assert not (result.output_dir / REPORT_NAME).exists()


@pytest.mark.slow
def test_report_of_a_conception_only_model(tmp_path: Path) -> None:
    conception_only = train_report_model(tmp_path / "model", label_sets=("conception",))
    result = build_output(tmp_path, conception_only, "csv")
    folder = read_output(result.output_dir)
    assert folder.label_sets == ("conception",)
    page = write_report(result.output_dir).read_text(encoding="utf-8")
    assert len(_images(page)) == 1
    assert 'id="faktorer"' not in page and 'id="eksempler-factor"' not in page
    assert 'id="eksempler-conception"' in page
