"""Issue 12: every kind of input that broke samskaping, run as a user runs it, on the shared cases and on our own.

The files in ``../shared/cases/`` (see its README) each stand for a *kind* of
fault. Each kind is tested twice here: the shared file through ``predict.py``
in a real subprocess (``c00-kontroll.txt`` beside it must always be
classified), and inputs of the same kind built by :mod:`case_files` (raw PDF
objects, hand-written WordprocessingML, HTML bytes in legacy encodings,
tables with control characters, formulas and leading zeros).

What every run must show: the good file classified, the right exit status
(0 all read, 1 some inputs not read, 2 bad arguments/model/state, 3 internal
error, 130 interrupted), one line per failure naming the file once, and the
outputs written.
"""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
import unicodedata
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from case_files import (
    alt_chunk,
    block_sdt,
    complex_field,
    custom_xml,
    damaged_zip_docx,
    deleted,
    docx_bytes,
    hyperlink,
    inline_sdt,
    inserted,
    landscape_pdf,
    moved_from,
    moved_to,
    note_reference,
    p,
    pdf_page,
    pdf_text_stream,
    pdf_with_page_tree,
    r,
    rotated_pdf,
    simple_field,
    smart_tag,
    table,
    text_box,
    truncated_docx,
    vml_text_box,
    write_docx,
)
from conftest import write_jsonl
from samskaping import outputs
from samskaping.errors import DocumentError, SamskapingError

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "cases"
CONTROL_TEXT = [
    "Kommunen vil bruke samskaping for å løse oppgaver sammen med innbyggerne.",
    "Frivillige lag og foreninger er viktige partnere i nærmiljøet.",
]
FORMATS = ("csv", "jsonl", "xlsx", "parquet")


# ---------------------------------------------------------------------- fixtures and helpers


@pytest.fixture(scope="module")
def model_dir(small_baseline_dir: Path) -> Path:
    """A tiny baseline model trained on a slice of the shipped data."""
    return small_baseline_dir


@pytest.fixture(scope="module")
def model(model_dir: Path):
    from samskaping.models import load_model

    return load_model(model_dir)


@pytest.fixture
def control(tmp_path: Path) -> Path:
    """Our own copy of the good file every run carries."""
    path = tmp_path / "c00-kontroll.txt"
    path.write_text("\n\n".join(CONTROL_TEXT) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def shared() -> Path:
    if not (SHARED / "README.md").is_file():
        pytest.skip(f"the shared cases are not beside the project ({SHARED})")
    return SHARED


def predict_command(model_dir: Path, inputs: list[Path], out: Path, *extra: str) -> list[str]:
    """``python predict.py --model MODEL INPUT... --output OUT [EXTRA...]`` as a user types it."""
    return [
        sys.executable,
        str(ROOT / "predict.py"),
        "--model",
        str(model_dir),
        *map(str, inputs),
        "--output",
        str(out),
        *extra,
    ]


def run_predict(
    model_dir: Path, inputs: list[Path], out: Path, *extra: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """:func:`predict_command` run to its end, its output captured."""
    return subprocess.run(
        predict_command(model_dir, inputs, out, *extra),
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
        check=False,
    )


def failure_list(stderr: str) -> list[str]:
    """The lines of the «N input(s) could not be read:» list at the end of stderr."""
    lines = stderr.splitlines()
    starts = [i for i, line in enumerate(lines) if line.endswith("input(s) could not be read:")]
    if not starts:
        return []
    return [line for line in lines[starts[-1] + 1 :] if line.startswith("  ")]


def assert_failures(stderr: str, expected: dict[Path, str]) -> None:
    """Exactly the expected files fail, one line each, each naming its file once, with the expected words."""
    listed = failure_list(stderr)
    assert len(listed) == len(expected), stderr
    assert f"{len(expected)} input(s) could not be read:" in stderr
    for path, words in expected.items():
        lines = [line for line in listed if str(path) in line]
        assert len(lines) == 1, (path, listed)
        assert lines[0].count(str(path)) == 1 and lines[0].count(path.name) == 1, lines[0]
        assert words in lines[0], lines[0]


def sentences_of(out: Path) -> pd.DataFrame:
    return pd.read_csv(out / "sentences.csv", encoding="utf-8-sig", dtype=str, keep_default_na=False)


def texts_of(out: Path, document: Path) -> list[str]:
    frame = sentences_of(out)
    return frame.loc[frame["document"] == str(document), "text"].tolist()


def assert_control_classified(out: Path, control_path: Path) -> None:
    assert texts_of(out, control_path) == CONTROL_TEXT
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert str(control_path) not in {f["path"] for f in summary["failed_documents"]}


def sheet_cells(path: Path) -> list[list[object]]:
    from openpyxl import load_workbook

    return [[cell.value for cell in row] for row in load_workbook(path).active.iter_rows()]


def table_cells(path: Path, fmt: str) -> object:
    """What «equal» means per format: bytes for CSV/JSONL, cells for XLSX, columns+types+cells for Parquet."""
    if fmt in ("csv", "jsonl"):
        return path.read_bytes()
    if fmt == "xlsx":
        return sheet_cells(path)
    frame = pd.read_parquet(path)
    return list(frame.columns), [str(t) for t in frame.dtypes], frame.astype(str).to_numpy().tolist()


# ====================================================================== the shared cases, as a user runs them

READ_WHOLE = (
    "c01-null-page-slot.pdf",
    "c03-tekstboks.docx",
    "c04-innholdskontroll.docx",
    "c06-lenke-smarttag-felt.docx",
    "c15-bom.jsonl",
)


@pytest.fixture(scope="module")
def read_whole(
    model_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[subprocess.CompletedProcess[str], Path]:
    """(run, output folder) of one ``predict.py`` run over the control file and every shared case in
    :data:`READ_WHOLE` (the cases that must be read with exit status 0); one process instead of one per case."""
    if not (SHARED / "README.md").is_file():
        pytest.skip(f"the shared cases are not beside the project ({SHARED})")
    out = tmp_path_factory.mktemp("read-whole") / "o"
    return run_predict(model_dir, [SHARED / "c00-kontroll.txt", *(SHARED / case for case in READ_WHOLE)], out), out


@pytest.mark.slow
def test_c01_pdf_with_a_null_page_slot(shared: Path, read_whole) -> None:
    run, out = read_whole
    assert run.returncode == 0, run.stderr
    assert "Traceback" not in run.stderr
    assert_control_classified(out, shared / "c00-kontroll.txt")
    assert texts_of(out, shared / "c01-null-page-slot.pdf") == [
        "Kommunen vil styrke samskaping med frivillige lag og foreninger.",
        "Innbyggerne skal involveres tidlig i planarbeidet.",
    ]
    assert "c01-null-page-slot.pdf: page 2 could not be read" in run.stderr


@pytest.mark.slow
@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("c03-tekstboks.docx", ["Samskaping er kommunens viktigste arbeidsform i planperioden."]),
        (
            "c04-innholdskontroll.docx",
            [
                "Visjonen er at innbyggere, næringsliv og frivillighet skaper kommunen sammen gjennom samskaping.",
                "Vedtatt i kommunestyret 14. mars 2024 etter offentlig ettersyn.",
            ],
        ),
        (
            "c06-lenke-smarttag-felt.docx",
            [
                "Les mer om samskaping i kapittel 3 før høringen.",
                "Planen gjelder for Eksempelkommune og alle innbyggerne der.",
                "Se vedlegget Handlingsdel for samskaping for tiltakene.",
                "Flere møteplasser for frivilligheten",
            ],
        ),
    ],
)
def test_docx_cases_read_as_word_shows_them(shared: Path, read_whole, case: str, expected: list[str]) -> None:
    assert case in READ_WHOLE
    run, out = read_whole
    assert run.returncode == 0, run.stderr
    assert_control_classified(out, shared / "c00-kontroll.txt")
    texts = texts_of(out, shared / case)
    for sentence in expected:
        assert texts.count(sentence) == 1, (sentence, texts)  # there, and only once (text boxes not twice)


@pytest.mark.slow
def test_c07_damaged_word_files_one_line_each(shared: Path, model_dir: Path, tmp_path: Path) -> None:
    bad = [shared / "c07a-avkuttet-xml.docx", shared / "c07b-skadet-zip.docx"]
    run = run_predict(model_dir, [shared / "c00-kontroll.txt", *bad], tmp_path / "o")
    assert run.returncode == 1, run.stderr
    assert "Traceback" not in run.stderr
    assert_failures(run.stderr, {path: "not a valid Word file" for path in bad})
    assert_control_classified(tmp_path / "o", shared / "c00-kontroll.txt")


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["xlsx", "csv"])
def test_c10_c11_control_characters_and_formulas(shared: Path, model_dir: Path, tmp_path: Path, fmt: str) -> None:
    cases = [shared / "c10-kontrolltegn.csv", shared / "c11-formel.csv"]
    out = tmp_path / "o"
    run = run_predict(model_dir, [shared / "c00-kontroll.txt", *cases], out, "--format", fmt)
    assert run.returncode == 0, run.stderr
    assert_spreadsheet_safe(out, fmt)
    frame = outputs.read_output_table(out / f"sentences.{fmt}", fmt)
    assert "Kommunen vil bruke samskaping i nærmiljøarbeidet." in frame["text"].tolist()  # \v became a space
    assert '=HYPERLINK("http://example.invalid/?q="&A1;"Klikk her")' in frame["text"].tolist()  # text kept as text
    assert frame.loc[frame["document"] == str(shared / "c00-kontroll.txt"), "text"].tolist() == CONTROL_TEXT


def run_side_by_side(commands: dict[str, list[str]]) -> dict[str, tuple[int, str]]:
    """(exit status, stderr) of each command, all started at once (independent runs, each its own output folder)."""
    procs = {
        key: subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        for key, command in commands.items()
    }
    stderr = {key: proc.communicate(timeout=600)[1] for key, proc in procs.items()}
    return {key: (proc.returncode, stderr[key]) for key, proc in procs.items()}


@pytest.fixture(scope="module")
def c12_runs(model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, tuple[int, str]]]:
    """(root, (status, stderr) by "FORMAT STEP") of the three c12 runs of every format, into ``root/FORMAT/resumed``
    and ``root/FORMAT/whole``: c12a alone ("first"), then c12a and c12b with --resume into the same folder
    ("again"), and both at once into another ("whole").

    The formats are independent, so their runs go side by side (each resume after its first run); each run is
    still one ``predict.py`` process as a user starts it.
    """
    if not (SHARED / "README.md").is_file():
        pytest.skip(f"the shared cases are not beside the project ({SHARED})")
    a, b = SHARED / "c12a-oslo.csv", SHARED / "c12b-bodo.csv"
    root = tmp_path_factory.mktemp("c12")
    for fmt in FORMATS:
        (root / fmt).mkdir()
    runs = run_side_by_side(
        {
            f"{fmt} {step}": predict_command(model_dir, inputs, root / fmt / folder, "--format", fmt)
            for fmt in FORMATS
            for step, inputs, folder in (("first", [a], "resumed"), ("whole", [a, b], "whole"))
        }
    )
    runs |= run_side_by_side(
        {
            f"{fmt} again": predict_command(model_dir, [a, b], root / fmt / "resumed", "--format", fmt, "--resume")
            for fmt in FORMATS
        }
    )
    return root, runs


@pytest.mark.slow
@pytest.mark.parametrize("fmt", FORMATS)
def test_c12_resume_equals_an_uninterrupted_run(c12_runs, fmt: str) -> None:
    root, runs = c12_runs
    resumed, whole = root / fmt / "resumed", root / fmt / "whole"
    for step in ("first", "again", "whole"):
        status, stderr = runs[f"{fmt} {step}"]
        assert status == 0, (step, stderr)
    for name in ("sentences", "documents"):
        assert table_cells(resumed / f"{name}.{fmt}", fmt) == table_cells(whole / f"{name}.{fmt}", fmt), name
    frame = outputs.read_output_table(resumed / f"sentences.{fmt}", fmt)
    assert frame["kommunenummer"].astype(str).tolist() == ["0301", "0301", "1804", "1804"]
    assert frame["id"].astype(str).tolist() == ["0042", "0043", "0007", "0008"]


@pytest.mark.slow
def test_c15_jsonl_with_a_byte_order_mark(shared: Path, read_whole) -> None:
    run, out = read_whole
    assert run.returncode == 0, run.stderr
    assert texts_of(out, shared / "c15-bom.jsonl") == [
        "Kommunen vil bruke samskaping i planarbeidet.",
        "Frivilligheten er en viktig ressurs.",
    ]


@pytest.mark.slow
def test_c20_folder_with_word_files_that_are_not_read(shared: Path, model_dir: Path, tmp_path: Path) -> None:
    folder = shared / "c20-mappe"
    run = run_predict(model_dir, [shared / "c00-kontroll.txt", folder], tmp_path / "o")
    assert run.returncode == 1, run.stderr
    assert_failures(
        run.stderr,
        {
            folder / "plan-b.doc": "save it as .docx",
            folder / "plan-c.docm": "save it as .docx",
            folder / "plan-d.odt": "save it as .docx or PDF",
        },
    )
    assert_control_classified(tmp_path / "o", shared / "c00-kontroll.txt")
    assert texts_of(tmp_path / "o", folder / "plan-a.txt")


# ====================================================================== our own inputs of each kind, in one user run


def _own_inputs(folder: Path) -> dict[str, Path]:
    """One input of every kind, built here, in ``folder``."""
    folder.mkdir()
    made = {
        "broken-page.pdf": pdf_with_page_tree(
            "3 0 R 9 0 R 6 0 R",
            {
                3: pdf_page(4),
                4: pdf_text_stream(["Kommunen vil samskape med frivillige lag."]),
                6: pdf_page(7),
                7: pdf_text_stream(["Den tredje siden handler om folkehelse."]),
            },
            count=3,
        ),
        "tekstboks.docx": docx_bytes(
            p(r("Planen peker ut retningen."), text_box(["Samskaping er arbeidsformen i planperioden."]))
            + block_sdt(p(r("Visjonen er felles.")))
        ),
        "avkuttet.docx": truncated_docx(docx_bytes(p(r("Dette blir aldri lest.")))),
        "skadet-zip.docx": damaged_zip_docx(docx_bytes(p(r("Heller ikke dette blir lest. " * 20)))),
        "latin1.html": b'<html><head><meta charset="iso-8859-1"></head><body><p>Bygda \x96 og byen \x93samskaper\x94'
        b" for \x80 5 mill. i \xe5r.</p></body></html>",
        "kontroll.csv": b'id;text\n1;"Kommunen vil\x0bsamskape\x07 med\x1b[31m alle."\n',
        "formel.csv": '\ufefftext,=kolonne\n"=1+2 er ikke en formel.",a\n"+47 er landkoden.",b\n"-bidra til samskaping",c\n'
        '"@kommunen deler nyheter.",d\n"\t=SUM(A1) med tabulator.",e\n'.encode("utf-8"),
        "skadet.xlsx": b"PK\x03\x04 not really a workbook",
    }
    for name, data in made.items():
        (folder / name).write_bytes(data)
    for name in ("gammel.doc", "makro.docm", "open.odt", "rik.rtf"):
        (folder / "mappe" / name).parent.mkdir(exist_ok=True)
        (folder / "mappe" / name).write_bytes(b"not read")
    (folder / "mappe" / "plan.txt").write_text("Eldrerådet skal involveres tidlig.\n", encoding="utf-8")
    return {name: folder / name for name in made}


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_own_inputs_of_every_kind_in_one_run(model_dir: Path, control: Path, tmp_path: Path, fmt: str) -> None:
    files = _own_inputs(tmp_path / "in")
    out = tmp_path / "o"
    run = run_predict(model_dir, [control, *files.values(), tmp_path / "in" / "mappe"], out, "--format", fmt)
    assert run.returncode == 1, run.stderr
    assert "Traceback" not in run.stderr
    folder = tmp_path / "in" / "mappe"
    assert_failures(
        run.stderr,
        {
            files["avkuttet.docx"]: "not a valid Word file (the XML inside it is broken or cut short)",
            files["skadet-zip.docx"]: "not a valid Word file (its ZIP archive is damaged)",
            files["skadet.xlsx"]: "cannot be read as XLSX",
            folder / "gammel.doc": "save it as .docx",
            folder / "makro.docm": "save it as .docx",
            folder / "open.odt": "save it as .docx or PDF",
            folder / "rik.rtf": "save it as .docx or PDF",
        },
    )
    assert "broken-page.pdf: page 2 could not be read" in run.stderr
    frame = outputs.read_output_table(out / f"sentences.{fmt}", fmt)
    by_doc = frame.groupby("document")["text"].apply(list).to_dict()
    assert by_doc[str(control)] == CONTROL_TEXT
    assert by_doc[str(files["broken-page.pdf"])] == [
        "Kommunen vil samskape med frivillige lag.",
        "Den tredje siden handler om folkehelse.",
    ]
    assert by_doc[str(files["tekstboks.docx"])] == [
        "Planen peker ut retningen.",
        "Samskaping er arbeidsformen i planperioden.",
        "Visjonen er felles.",
    ]
    assert by_doc[str(files["latin1.html"])] == ["Bygda – og byen “samskaper” for € 5 mill. i år."]
    assert by_doc[str(files["kontroll.csv"])] == ["Kommunen vil samskape med[31m alle."]
    assert by_doc[str(files["formel.csv"])] == [
        "=1+2 er ikke en formel.",
        "+47 er landkoden.",
        "-bidra til samskaping",
        "@kommunen deler nyheter.",
        "=SUM(A1) med tabulator.",
    ]
    assert by_doc[str(folder / "plan.txt")] == ["Eldrerådet skal involveres tidlig."]
    assert "=kolonne" in frame.columns
    assert_spreadsheet_safe(out, fmt)


def assert_spreadsheet_safe(out: Path, fmt: str) -> None:
    """No cell of either table would run as a formula, and no control character is in any cell."""
    for name in ("sentences", "documents"):
        path = out / f"{name}.{fmt}"
        if fmt == "xlsx":
            from openpyxl import load_workbook

            for row in load_workbook(path).active.iter_rows():
                for cell in row:
                    assert cell.data_type != "f", (name, cell.coordinate, cell.value)
                    if isinstance(cell.value, str):
                        assert not any(ord(c) < 0x20 and c not in "\t\n\r" for c in cell.value), cell.value
        else:
            frame = pd.read_csv(path, encoding="utf-8-sig", dtype=str, keep_default_na=False, header=None)
            for value in frame.to_numpy().ravel():
                assert not value.startswith(outputs.FORMULA_STARTS), (name, value)


# ====================================================================== exit statuses


def test_exit_status_0_when_everything_is_read(model, control: Path, tmp_path: Path) -> None:
    from samskaping.predict import classify

    result = classify([control], model, tmp_path / "o", progress=False)
    assert not result.failures


@pytest.mark.slow
def test_exit_status_2_for_bad_arguments_output_model_and_state(model_dir: Path, control: Path, tmp_path: Path) -> None:
    as_file = tmp_path / "a-file"
    as_file.write_text("x", encoding="utf-8")
    run = run_predict(model_dir, [control], as_file)
    assert run.returncode == 2 and "is a file; give a folder" in run.stderr, run.stderr
    run = run_predict(tmp_path / "no-model", [control], tmp_path / "o")
    assert run.returncode == 2, run.stderr
    out = tmp_path / "state"
    assert run_predict(model_dir, [control], out).returncode == 0
    (out / ".samskaping" / "run.json").write_text("{not json", encoding="utf-8")
    run = run_predict(model_dir, [control], out, "--resume")
    assert run.returncode == 2 and "saved state" in run.stderr and "without --resume" in run.stderr, run.stderr
    assert "internal error" not in run.stderr
    run = run_predict(model_dir, [control], out)  # without --resume a damaged state is simply replaced
    assert run.returncode == 0, run.stderr


_CRASH = """
import sys
import samskaping.predict

def crash(*args, **kwargs):
    raise {exc}({message})

samskaping.predict.classify = crash
from samskaping.cli.predict import predict_main
sys.exit(predict_main(sys.argv[1:]))
"""


@pytest.mark.slow
@pytest.mark.parametrize(
    ("exc", "status", "words"),
    [
        ("RuntimeError", 3, "internal error: RuntimeError: a bug"),
        ("KeyboardInterrupt", 130, "interrupted: finished documents are kept in"),
    ],
)
def test_exit_status_3_for_an_internal_error_and_130_for_ctrl_c(
    model_dir: Path, control: Path, tmp_path: Path, exc: str, status: int, words: str
) -> None:
    """A bug in the program itself (here: classify raising) is not exit 1, which means «some inputs not read».

    Ctrl-C raises a bare KeyboardInterrupt (one raised with a message prints that message instead).
    """
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    run = subprocess.run(
        [
            sys.executable,
            "-c",
            _CRASH.format(exc=exc, message='"a bug"' if exc != "KeyboardInterrupt" else ""),
            "--model",
            str(model_dir),
            str(control),
            "--output",
            str(tmp_path / "o"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        check=False,
    )
    assert run.returncode == status, run.stderr
    assert words in run.stderr
    assert "Traceback" not in run.stderr
    if status == 3:
        reports = list(tmp_path.glob("samskaping-crash-*.txt"))
        assert len(reports) == 1 and "RuntimeError: a bug" in reports[0].read_text(encoding="utf-8")
        assert str(reports[0]) in run.stderr


def test_run_command_statuses(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from samskaping.cli.common import EXIT_ERROR, EXIT_INTERNAL, EXIT_INTERRUPTED, EXIT_OK, EXIT_PARTIAL, run_command

    monkeypatch.setenv("TMPDIR", str(tmp_path))
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    assert (EXIT_OK, EXIT_PARTIAL, EXIT_ERROR, EXIT_INTERNAL, EXIT_INTERRUPTED) == (0, 1, 2, 3, 130)
    assert run_command(lambda: EXIT_PARTIAL) == 1

    def user_error() -> int:
        raise DocumentError("plan.pdf: not a readable PDF")

    def bug() -> int:
        raise ZeroDivisionError("division by zero")

    def ctrl_c() -> int:
        raise KeyboardInterrupt

    assert run_command(user_error) == 2
    assert "error: plan.pdf: not a readable PDF" in capsys.readouterr().err
    assert run_command(bug) == 3
    err = capsys.readouterr().err
    assert "internal error: ZeroDivisionError" in err and "samskaping-crash-" in err
    assert run_command(ctrl_c, interrupted="stopped") == 130
    assert "stopped" in capsys.readouterr().err


def test_an_unexpected_exception_of_one_reader_is_that_files_failure(
    model, control: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A table reader (or any reader) raising something unexpected fails that file only, in one line.

    Read in this process (``isolated=False``), so that the patched reader is the one called.
    """
    from samskaping import predict
    from samskaping.documents import tables
    from samskaping.documents.limits import ReadingLimits, using

    table = tmp_path / "t.csv"
    table.write_text("text\nKommunen vil samskape.\n", encoding="utf-8")
    real = tables.read_table

    def flaky(path: Path, notes: list[str] | None = None):
        if path == table:
            raise RuntimeError(f"{path}: boom\nsecond line")
        return real(path, notes)

    monkeypatch.setattr(tables, "read_table", flaky)
    with using(ReadingLimits(isolated=False)):
        result = predict.classify([control, table], model, tmp_path / "o", progress=False)
    assert [f.path for f in result.failures] == [str(table)]
    reason = result.failures[0].error
    assert "RuntimeError" in reason and "boom" in reason and "\n" not in reason and str(table) not in reason
    assert result.summary["documents"] == 1


@pytest.mark.slow
def test_each_failure_is_named_once_on_all_of_stderr(model_dir: Path, control: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.docx"
    bad.write_bytes(truncated_docx(docx_bytes(p(r("x")))))
    run = run_predict(model_dir, [control, bad], tmp_path / "o")
    assert run.returncode == 1
    assert run.stderr.count(str(bad)) == 1, run.stderr


# ====================================================================== PDF


@pytest.mark.parametrize(
    ("kids", "extra", "count", "lost"),
    [
        ("3 0 R null", {}, 2, "page 2"),  # a null slot in /Kids
        ("9 0 R 3 0 R", {}, 2, "page 1"),  # a reference to an object that does not exist
        ("3 0 R 6 0 R", {6: "42"}, 2, "page 2"),  # a page that is not a dictionary
        ("3 0 R", {}, 4, "pages 2-4"),  # /Count larger than the pages there are
    ],
    ids=["null-kid", "missing-object", "not-a-dictionary", "count-too-large"],
)
def test_pdf_page_that_cannot_be_loaded_is_skipped_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, kids: str, extra: dict[int, str], count: int, lost: str
) -> None:
    from samskaping.documents import read_sentences

    path = tmp_path / "plan.pdf"
    path.write_bytes(
        pdf_with_page_tree(
            kids,
            {
                3: pdf_page(4),
                4: pdf_text_stream(
                    ["Kommunen vil samskape med frivillige lag.", "Innbyggerne skal involveres tidlig."]
                ),
                **extra,
            },
            count,
        )
    )
    with caplog.at_level(logging.WARNING):
        sentences = read_sentences(path)
    assert [s.text for s in sentences] == [
        "Kommunen vil samskape med frivillige lag.",
        "Innbyggerne skal involveres tidlig.",
    ]
    warnings = [rec.getMessage() for rec in caplog.records if rec.levelno == logging.WARNING]
    assert len(warnings) == 1 and f"{path}: {lost} could not be read" in warnings[0]


def test_pdf_whose_only_page_cannot_be_loaded_is_one_document_error(tmp_path: Path) -> None:
    from samskaping.documents import read_sentences

    path = tmp_path / "plan.pdf"
    path.write_bytes(pdf_with_page_tree("null", {}, 1))
    with pytest.raises(DocumentError) as error:
        read_sentences(path)
    assert "\n" not in str(error.value) and str(error.value).count(str(path)) == 1


PAGES = [
    [
        f"Om {topic}: det første avsnittet handler om samskaping med innbyggerne i hele kommunen og om",
        f"hvordan vi skal arbeide sammen om {topic} fram mot {year}.",
        "",
        f"Det andre avsnittet om {topic} beskriver frivilligheten.",
        "",
        f"Til slutt: {topic} er en del av folkehelsearbeidet.",
    ]
    for topic, year in (("skole", 2030), ("kultur", 2032), ("helse", 2034))
]


@pytest.mark.parametrize("angle", [90, 180, 270])
def test_pdf_rotated_page_comes_out_in_reading_order(tmp_path: Path, angle: int) -> None:
    """A page drawn upright and turned with ``/Rotate`` reads like the same page unturned."""
    from samskaping.documents import read_sentences

    upright = [s.text for s in read_sentences(rotated_pdf(tmp_path / "up.pdf", PAGES, [0, 0, 0]))]
    turned = read_sentences(rotated_pdf(tmp_path / "turned.pdf", PAGES, [0, angle, 0]))
    assert [s.text for s in turned] == upright
    assert [s.text for s in turned if s.page == 2] == [
        (
            "Om kultur: det første avsnittet handler om samskaping med innbyggerne i hele kommunen og om hvordan vi "
            "skal arbeide sammen om kultur fram mot 2032."
        ),
        "Det andre avsnittet om kultur beskriver frivilligheten.",
        "Til slutt: kultur er en del av folkehelsearbeidet.",
    ]


@pytest.mark.parametrize("angle", [0, 90, 180, 270])
def test_pdf_landscape_page_drawn_sideways_reads_in_order(tmp_path: Path, angle: int) -> None:
    """Content drawn turned and shown upright by ``/Rotate`` (a landscape page in a portrait plan)."""
    from samskaping.documents import read_sentences

    lines = [
        "Tabell over tiltak i planperioden",
        "Tiltaket om møteplasser gjelder alle bydelene og skal være på plass",
        "innen utgangen av 2026.",
        "Det neste tiltaket gjelder frivilligheten.",
        "Det siste tiltaket gjelder ungdommen.",
    ]
    sentences = [s.text for s in read_sentences(landscape_pdf(tmp_path / "l.pdf", lines, angle))]
    assert " ".join(sentences) == " ".join(lines)  # every line, in order, none twice
    assert sentences[-3:] == [
        # the table title has the body's font, so it is not told apart as a heading
        (
            "Tabell over tiltak i planperioden Tiltaket om møteplasser gjelder alle bydelene og skal være på plass "
            "innen utgangen av 2026."
        ),
        "Det neste tiltaket gjelder frivilligheten.",
        "Det siste tiltaket gjelder ungdommen.",
    ]


# ====================================================================== DOCX


def _docx_texts(path: Path) -> list[tuple[str, str]]:
    from samskaping.documents import read_sentences

    return [(s.unit, s.text) for s in read_sentences(path)]


def test_docx_text_boxes_once_drawingml_and_vml(tmp_path: Path) -> None:
    body = (
        p(r("Før boksen står dette."), text_box(["Samskaping er arbeidsformen i boksen."]))
        + p(r("Gammel boks: "), vml_text_box(["Teksten i den gamle VML-boksen."]))
        + table([["Celle med boks", ""]]).replace(
            '<w:p><w:r><w:t xml:space="preserve"></w:t></w:r></w:p>', p(text_box(["Boks i en celle."]))
        )
    )
    texts = [text for _, text in _docx_texts(write_docx(tmp_path / "b.docx", body))]
    assert texts == [
        "Før boksen står dette.",
        "Samskaping er arbeidsformen i boksen.",
        "Gammel boks:",
        "Teksten i den gamle VML-boksen.",
        "Celle med boks",
        "Boks i en celle.",
    ]


def test_docx_content_controls_block_inline_and_custom_xml(tmp_path: Path) -> None:
    body = (
        block_sdt(p(r("Visjonen er felles.")) + table([["Mål i kontroll", "Tiltak"]]))
        + p(r("Vedtatt "), inline_sdt("14. mars 2024", date=True), r(" i kommunestyret."))
        + p(r("Navn: "), inline_sdt("Eksempelkommune"))
        + custom_xml(p(r("Avsnitt i egendefinert XML.")))
    )
    assert _docx_texts(write_docx(tmp_path / "c.docx", body)) == [
        ("paragraph", "Visjonen er felles."),
        ("cell", "Mål i kontroll"),
        ("cell", "Tiltak"),
        ("paragraph", "Vedtatt 14. mars 2024 i kommunestyret."),
        ("paragraph", "Navn: Eksempelkommune"),
        ("paragraph", "Avsnitt i egendefinert XML."),
    ]


def test_docx_smart_tags_hyperlinks_and_fields_show_their_result(tmp_path: Path) -> None:
    body = (
        p(r("Planen gjelder "), smart_tag("Eksempelkommune"), r(" og "), custom_xml(r("Nabobygda")), r("."))
        + p(r("Les "), hyperlink("kapittel 3"), r(" før høringen."))
        + p(
            r("Se side "),
            simple_field("PAGEREF _Ref1 \\h", "12"),
            r(" og tabell "),
            complex_field("REF _Ref2 \\h", "4", nested=complex_field("SEQ Tabell \\* ARABIC", "99")),
            r("."),
        )
    )
    assert [t for _, t in _docx_texts(write_docx(tmp_path / "f.docx", body))] == [
        "Planen gjelder Eksempelkommune og Nabobygda.",
        "Les kapittel 3 før høringen.",
        "Se side 12 og tabell 4.",
    ]


def test_docx_tracked_changes_as_accepted(tmp_path: Path) -> None:
    body = p(r("Tiltaket "), inserted("gjelder alle "), deleted("gjaldt noen "), r("innbyggere.")) + p(
        r("Vi flytter "), moved_from("gammel tekst "), moved_to("ny tekst "), r("hit.")
    )
    assert [t for _, t in _docx_texts(write_docx(tmp_path / "t.docx", body))] == [
        "Tiltaket gjelder alle innbyggere.",
        "Vi flytter ny tekst hit.",
    ]


def test_docx_footnotes_and_endnotes_marked_as_such(tmp_path: Path) -> None:
    body = p(
        r("Kommunen har en fotnote"),
        note_reference("footnote", 1),
        r(" og en sluttnote"),
        note_reference("endnote", 1),
        r("."),
    )
    path = write_docx(
        tmp_path / "n.docx", body, footnotes=["Fotnoten forklarer ordet."], endnotes=["Sluttnoten viser til loven."]
    )
    assert _docx_texts(path) == [
        ("paragraph", "Kommunen har en fotnote og en sluttnote."),
        ("footnote", "Fotnoten forklarer ordet."),
        ("footnote", "Sluttnoten viser til loven."),
    ]


def test_docx_embedded_chunks_are_read_in_their_place(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """w:altChunk: programs that generate plans put HTML, text or another .docx in the file for Word to merge."""
    html = (
        "<html><head><meta charset='windows-1252'></head><body><h2>Mål</h2><p>Kommunen skal samskape med "
        "frivilligheten.</p><ul><li>Felles møteplasser</li></ul></body></html>"
    ).encode("windows-1252")
    inner = docx_bytes(p(r("Innbyggerne deltar i utviklingen av tjenestene.")))
    main_xml = zipfile.ZipFile(io.BytesIO(docx_bytes(p(r("Avsnittet fra et flettet dokument."))))).read(
        "word/document.xml"
    )
    body = (
        p(r("Før innlimingen."))
        + alt_chunk("rIdHtml")
        + alt_chunk("rIdText")
        + alt_chunk("rIdDocx")
        + alt_chunk("rIdXml")
        + alt_chunk("rIdRtf")
        + p(r("Etter innlimingen."))
    )
    chunks = {
        "rIdHtml": ("chunk1.html", "text/html", html),
        "rIdText": ("chunk2.txt", "text/plain", b"Teksten i en ren tekstfil.\n"),
        "rIdDocx": ("chunk3.docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document", inner),
        "rIdXml": (
            "chunk4.xml",
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml",
            main_xml,
        ),
        "rIdRtf": ("chunk5.rtf", "application/rtf", b"{\\rtf1 Tekst i RTF.}"),
    }
    with caplog.at_level("WARNING", logger="samskaping.documents"):
        got = _docx_texts(write_docx(tmp_path / "a.docx", body, chunks=chunks))
    assert got == [
        ("paragraph", "Før innlimingen."),
        ("heading", "Mål"),
        ("paragraph", "Kommunen skal samskape med frivilligheten."),
        ("bullet", "Felles møteplasser"),
        ("paragraph", "Teksten i en ren tekstfil."),
        ("paragraph", "Innbyggerne deltar i utviklingen av tjenestene."),
        ("paragraph", "Avsnittet fra et flettet dokument."),
        ("paragraph", "Etter innlimingen."),
    ]
    # the RTF chunk is not read, and the user is told which file and what to do
    assert "a.docx: an embedded part in application/rtf (w:altChunk) is not read; open the file in Word" in caplog.text


def test_what_a_reader_warned_about_is_kept_in_the_outputs(tmp_path: Path, model, control: Path) -> None:
    """A part not read (here an RTF chunk in a DOCX) shows in documents.* and summary.json, not only on the console."""
    from samskaping.predict import classify

    body = p(r("Kommunen vil samskape med lag og foreninger.")) + alt_chunk("rIdRtf")
    docx = write_docx(tmp_path / "plan.docx", body, chunks={"rIdRtf": ("c.rtf", "application/rtf", b"{\\rtf1 Tekst.}")})
    result = classify([control, docx], model, tmp_path / "out", progress=False)
    notes = dict(zip(result.documents["document"], result.documents["reading_notes"], strict=True))
    assert notes[str(control)] == ""
    assert notes[str(docx)] == (
        "an embedded part in application/rtf (w:altChunk) is not read; open the file in Word and "
        "save it again as .docx, which merges it into the document"
    )
    written = pd.read_csv(tmp_path / "out" / "documents.csv", encoding="utf-8-sig", keep_default_na=False)
    assert written.set_index("document").loc[str(docx), "reading_notes"] == notes[str(docx)]
    summary = json.loads((tmp_path / "out" / "summary.json").read_text(encoding="utf-8"))
    assert summary["reading_notes"] == {str(docx): notes[str(docx)]}


@pytest.mark.parametrize(
    ("damage", "words"),
    [
        (lambda good: truncated_docx(good), "the XML inside it is broken or cut short"),
        (lambda good: truncated_docx(good, "word/footnotes.xml"), "the XML inside it is broken or cut short"),
        (lambda good: damaged_zip_docx(good), "its ZIP archive is damaged"),
        (lambda good: good[: len(good) // 2], "not a ZIP/Office Open XML package"),
        (lambda good: b"%PDF-1.4 not a word file", "not a ZIP/Office Open XML package"),
    ],
    ids=["truncated-xml", "truncated-notes", "damaged-zip", "cut-file", "not-a-zip"],
)
def test_damaged_docx_is_one_line(tmp_path: Path, damage, words: str) -> None:
    from samskaping.documents import read_sentences

    good = docx_bytes(p(r("Kommunen vil samskape. " * 30)), footnotes=["Fotnote."])
    path = tmp_path / "d.docx"
    path.write_bytes(damage(good))
    with pytest.raises(DocumentError) as error:
        read_sentences(path)
    message = str(error.value)
    assert message.startswith(f"{path}: not a valid Word file") and words in message
    assert "\n" not in message and message.count(str(path)) == 1


# ====================================================================== HTML


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (
            b'<html><head><meta charset="iso-8859-1"></head><body><p>Bygda \x96 og \x93byen\x94 f\xe5r \x80 5.</p></body></html>',
            "Bygda – og “byen” får € 5.",
        ),
        (
            (
                b'<html><head><meta http-equiv="Content-Type" content="text/html; charset=us-ascii"></head>'
                b"<body><p>Planen \x96 vedtatt p\xe5 m\xf8tet.</p></body></html>"
            ),
            "Planen – vedtatt på møtet.",
        ),
        (
            b'<?xml version="1.0" encoding="latin1"?><html><body><p>Sj\xf8en \x96 og havet.</p></body></html>',
            "Sjøen – og havet.",
        ),
        (
            b"<html><body><p>Uten erkl\xe6ring \x96 som nettlesere.</p></body></html>",
            "Uten erklæring – som nettlesere.",
        ),
        (
            b'\xef\xbb\xbf<html><head><meta charset="iso-8859-1"></head><body><p>B\xc3\xb8rge \xe2\x80\x93 BOM vinner.</p></body></html>',
            "Børge – BOM vinner.",
        ),
        (
            '\ufeff<html><head><meta charset="utf-8"></head><body><p>Tromsø – UTF-16.</p></body></html>'.encode(
                "utf-16-le"
            ),
            "Tromsø – UTF-16.",
        ),
        (
            b'<html><head><meta charset="windows-1252"></head><body><p>Ord\x81med\x8dkontroll\x9dtegn her.</p></body></html>',
            "Ordmedkontrolltegn her.",
        ),
        (
            '<html><head><meta charset="utf-8"></head><body><p>C1\u0085 og\u0096 tegn &#150; referanse.</p></body></html>'.encode(),
            "C1 og tegn – referanse.",
        ),
    ],
    ids=[
        "latin1-label",
        "us-ascii-label",
        "xml-declaration",
        "no-declaration",
        "utf8-bom-over-meta",
        "utf16-bom",
        "undefined-cp1252-bytes",
        "c1-in-utf8",
    ],
)
def test_html_decoded_as_browsers_do_and_no_c1_controls(tmp_path: Path, data: bytes, expected: str) -> None:
    from samskaping.documents import read_sentences

    path = tmp_path / "plan.html"
    path.write_bytes(data)
    texts = [s.text for s in read_sentences(path)]
    assert texts == [expected]
    assert not any(0x80 <= ord(c) <= 0x9F or c == "\ufffd" for text in texts for c in text)


# ====================================================================== tables in


def _read(path: Path) -> pd.DataFrame:
    from samskaping.reading import read_input

    return read_input(path)


def test_tables_cleaned_like_documents(tmp_path: Path) -> None:
    csv = tmp_path / "k.csv"
    csv.write_bytes(b'id,text\n1,"Kommunen\x00 vil\x0bsam\xc2\xadskape\xe2\x80\x8b."\n2,"Bygda\xc2\x85 og\x07 byen."\n')
    jsonl = tmp_path / "k.jsonl"
    jsonl.write_text(
        json.dumps({"text": "Kommunen vil\u000bsam\u00adskape\u200b.", "n": 7, "ok": True, "x": None}) + "\n",
        encoding="utf-8",
    )
    from openpyxl import Workbook

    book = Workbook()
    book.active.append(["text", "kode"])
    book.active.append(["Kommunen vil_x000B_sam\u00adskape.", "0301"])
    book.save(tmp_path / "k.xlsx")
    assert _read(csv)["text"].tolist() == ["Kommunen vil samskape.", "Bygda og byen."]
    row = _read(jsonl).iloc[0]
    assert (row["text"], row["n"], row["ok"], row["x"]) == ("Kommunen vil samskape.", "7", "true", "")
    frame = _read(tmp_path / "k.xlsx")
    assert frame["text"].tolist() == ["Kommunen vil samskape."] and frame["kode"].tolist() == ["0301"]


def test_xlsx_codes_keep_the_leading_zeros_excel_shows(tmp_path: Path) -> None:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.append(["kommunenummer", "text", "andel", "id"])
    sheet.append([301, "Oslo vil samskape.", 0.5, "0042"])
    sheet.append([None, None, None, None])  # a blank row in the middle keeps rows aligned
    sheet.append([1804, "Bodø vil samskape.", 1, 7])
    for cell in ("A2", "A4"):
        sheet[cell].number_format = "0000"
    sheet["D4"].number_format = "00000"
    book.save(tmp_path / "koder.xlsx")
    frame = _read(tmp_path / "koder.xlsx")
    assert frame[["kommunenummer", "andel", "id"]].to_numpy().tolist() == [
        ["0301", "0.5", "0042"],
        ["1804", "1", "00007"],
    ]


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-16", "utf-16-be", "utf-32"])
def test_csv_and_jsonl_with_a_byte_order_mark(tmp_path: Path, encoding: str) -> None:
    text = "Tromsø vil samskape med næringslivet."
    csv, jsonl = tmp_path / "b.csv", tmp_path / "b.jsonl"
    bom = "\ufeff" if encoding == "utf-16-be" else ""  # the other codecs write their own mark
    csv.write_bytes((bom + f"kode;text\n0301;{text}\n").encode(encoding))
    jsonl.write_bytes((bom + json.dumps({"kode": "0301", "text": text}, ensure_ascii=False) + "\n").encode(encoding))
    for path in (csv, jsonl):
        frame = _read(path)
        assert frame["text"].tolist() == [text] and frame["kode"].tolist() == ["0301"] and "\ufeffkode" not in frame


@pytest.mark.slow
def test_nfc_and_nfd_copies_give_the_same_labels_scores_and_mentions(model, tmp_path: Path) -> None:
    from samskaping.predict import classify

    texts = [
        "Bodø kommune skal samskape med næringslivet og frivilligheten.",
        "Innbyggerne i Tromsø inviteres til åpne møter om samskapingen.",
        "Vi løser oppgaver sammen.",
    ]
    made = {}
    for form in ("NFC", "NFD"):
        rows = [
            {"id": str(i), "text": unicodedata.normalize(form, t), "kommune": unicodedata.normalize(form, "Bodø")}
            for i, t in enumerate(texts)
        ]
        frame = pd.DataFrame(rows)
        folder = tmp_path / form
        folder.mkdir()
        frame.to_csv(folder / "plan.csv", index=False)
        write_jsonl(frame, folder / "plan.jsonl")
        frame.to_excel(folder / "plan.xlsx", index=False)
        made[form] = classify(
            [folder / "plan.csv", folder / "plan.jsonl", folder / "plan.xlsx"],
            model,
            tmp_path / f"out-{form}",
            progress=False,
        )
    nfc, nfd = made["NFC"], made["NFD"]
    labels = [c for c in nfc.sentences.columns if c.startswith(("conception", "factor", "polarity"))]
    assert nfd.sentences["text"].tolist() == nfc.sentences["text"].tolist() == texts * 3
    assert nfd.sentences["kommune"].tolist() == ["Bodø"] * 9
    pd.testing.assert_frame_equal(nfc.sentences[labels], nfd.sentences[labels])
    assert nfc.documents["cocreation_mentions"].tolist() == nfd.documents["cocreation_mentions"].tolist() == [2, 2, 2]


# ====================================================================== tables out


def test_outputs_never_hold_a_formula(tmp_path: Path) -> None:
    cells = ["=SUM(A1:A2)", "+47 22 00 00 00", "-bidra", "@kommunen", "\t=1+1", "\r=1+1", "'allerede", "vanlig tekst"]
    frame = pd.DataFrame({"text": cells, "=kolonne": ["a"] * len(cells), "n": range(len(cells))})
    for fmt in ("csv", "xlsx"):
        path = tmp_path / f"t.{fmt}"
        outputs.write_table(frame, path, fmt)
        back = outputs.read_output_table(path, fmt)
        assert back["text"].tolist() == cells  # read back as written
        assert list(back.columns) == ["text", "=kolonne", "n"] and back["n"].astype(int).tolist() == list(
            range(len(cells))
        )
    raw = pd.read_csv(tmp_path / "t.csv", encoding="utf-8-sig", dtype=str, header=None, keep_default_na=False)
    assert raw.iloc[0].tolist() == ["text", "'=kolonne", "n"]
    assert raw[0].tolist()[1:] == ["'" + c if c[0] in "=+-@\t\r'" else c for c in cells]
    from openpyxl import load_workbook

    for row in load_workbook(tmp_path / "t.xlsx").active.iter_rows():
        assert all(cell.data_type != "f" for cell in row)


def test_xlsx_drops_control_characters_and_cuts_long_cells_naming_the_row(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    frame = pd.DataFrame(
        {"document": ["a.txt", "b.txt"], "text": ["Tekst\x01 med\x1b kontroll\x0btegn.", "x" * 40_000]}
    )
    with caplog.at_level(logging.WARNING):
        outputs.write_table(frame, tmp_path / "t.xlsx", "xlsx")
    back = outputs.read_output_table(tmp_path / "t.xlsx", "xlsx")
    assert back["text"].tolist()[0] == "Tekst med kontrolltegn."
    assert len(back["text"].tolist()[1]) == outputs.EXCEL_MAX_CELL
    assert "t.xlsx, row 3 (b.txt), column 'text': 40000 characters, cut" in caplog.text


# ====================================================================== resume


def _resume_inputs(folder: Path) -> list[Path]:
    folder.mkdir()
    (folder / "a.csv").write_text(
        'kommunenummer,id,text\n0301,0042,"Kommunen vil samskape i byen."\n0301,0043,"=SUM(A1) er ikke en formel."\n',
        encoding="utf-8",
    )
    (folder / "b.txt").write_text("Innbyggerne skal involveres tidlig. Frivilligheten er viktig.\n", encoding="utf-8")
    (folder / "c.csv").write_text(
        'kommunenummer,id,text\n1804,0007,"Næringslivet i Bodø samskaper med oss."\n', encoding="utf-8"
    )
    return [folder / "a.csv", folder / "b.txt", folder / "c.csv"]


@pytest.mark.slow  # three classify runs per format, 5-6 s of CPU each
@pytest.mark.parametrize("fmt", FORMATS)
def test_resume_is_exact_in_every_format(model, tmp_path: Path, fmt: str) -> None:
    from samskaping.predict import classify

    inputs = _resume_inputs(tmp_path / "in")
    info = {"model": "m", "digest": "d1"}
    whole, resumed = tmp_path / "whole", tmp_path / "resumed"
    classify(inputs, model, whole, fmt=fmt, progress=False, model_info=info)
    classify(inputs[:1], model, resumed, fmt=fmt, progress=False, model_info=info)
    classify(inputs[:2], model, resumed, fmt=fmt, progress=False, model_info=info, resume=True)
    classify(inputs, model, resumed, fmt=fmt, progress=False, model_info=info, resume=True)
    for name in ("sentences", "documents"):
        assert table_cells(resumed / f"{name}.{fmt}", fmt) == table_cells(whole / f"{name}.{fmt}", fmt), name
    frame = outputs.read_output_table(resumed / f"sentences.{fmt}", fmt)
    assert frame["kommunenummer"].astype(str).tolist()[:2] == ["0301", "0301"]
    assert frame["id"].astype(str).tolist()[:2] == ["0042", "0043"]


@pytest.mark.slow
def test_resume_is_exact_when_earlier_runs_did_later_inputs(model, tmp_path: Path) -> None:
    from samskaping.predict import classify

    inputs = _resume_inputs(tmp_path / "in")
    (tmp_path / "in" / "d.jsonl").write_text(
        json.dumps({"text": "Vi skal samskape.", "kilde": "høring"}, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    inputs.append(tmp_path / "in" / "d.jsonl")
    info = {"model": "m", "digest": "d1"}
    classify(inputs, model, tmp_path / "whole", progress=False, model_info=info)
    classify(inputs[3:], model, tmp_path / "resumed", progress=False, model_info=info)
    classify(inputs, model, tmp_path / "resumed", progress=False, model_info=info, resume=True)
    assert (tmp_path / "resumed" / "sentences.csv").read_bytes() == (tmp_path / "whole" / "sentences.csv").read_bytes()


def test_resume_with_another_model_or_format_is_refused(model, control: Path, tmp_path: Path) -> None:
    from samskaping.predict import classify

    out = tmp_path / "o"
    classify([control], model, out, progress=False, model_info={"model": "models/a", "digest": "aaa"})
    before = (out / "sentences.csv").read_bytes()
    with pytest.raises(SamskapingError, match=r"--resume: .* was classified with model 'models/a'"):
        classify([control], model, out, progress=False, resume=True, model_info={"model": "models/b", "digest": "bbb"})
    with pytest.raises(SamskapingError, match="resume with --format csv"):
        classify(
            [control],
            model,
            out,
            fmt="xlsx",
            progress=False,
            resume=True,
            model_info={"model": "models/a", "digest": "aaa"},
        )
    assert (out / "sentences.csv").read_bytes() == before


@pytest.mark.slow
def test_reusing_a_folder_without_resume_says_so_and_leaves_nothing_stale(
    model, control: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from samskaping.predict import classify

    out = tmp_path / "o"
    classify([control], model, out, fmt="xlsx", progress=False)
    (out / outputs.REPORT).write_text("<html>old report</html>", encoding="utf-8")
    with caplog.at_level(logging.WARNING):
        classify([control], model, out, fmt="csv", progress=False)
    assert "earlier run" in caplog.text and "--resume" in caplog.text
    assert not (out / outputs.REPORT).exists() and not (out / "sentences.xlsx").exists()
    assert (out / "sentences.csv").is_file()


# ====================================================================== folders


def test_folder_lists_document_files_that_are_not_read_with_the_fix(tmp_path: Path) -> None:
    from samskaping.predict import collect_inputs

    folder = tmp_path / "plans"
    (folder / "sub").mkdir(parents=True)
    for name in ("a.doc", "b.DOCM", "sub/c.odt", "d.rtf", "e.pages", "f.pptx", "g.png"):
        (folder / name).write_bytes(b"x")
    (folder / "plan.txt").write_text("Kommunen vil samskape.", encoding="utf-8")
    (folder / "~$plan.docx").write_bytes(b"lock")
    (folder / "notes.py").write_text("x", encoding="utf-8")
    files, failures = collect_inputs([folder])
    assert files == [folder / "plan.txt"]
    reasons = {Path(f.path).name: f.error for f in failures}
    assert set(reasons) == {"a.doc", "b.DOCM", "c.odt", "d.rtf", "e.pages", "f.pptx", "g.png"}
    assert all(reason.startswith("not read: ") for reason in reasons.values())
    assert "save it as .docx" in reasons["a.doc"] and "OCR" in reasons["g.png"] and "PDF" in reasons["f.pptx"]
