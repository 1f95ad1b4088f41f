"""Issue 22: hostile files never take the batch down.

Each class of hostile input is built at test time (:mod:`hostile_files`) and
run beside a good plan: a PDF content stream that inflates past the reading
worker's memory (PDFium aborts), a page tree declaring a million pages, a .docx
embedded in a .docx that is a ZIP bomb, an XLSX sheet that inflates hugely, a
CSV with a cell of tens of megabytes, a file name with a newline, ESC and
U+202E, and a named pipe. Every run must end with exit status 1, the hostile
file listed in one plain line (or, where it is read in part, a warning naming
the page or row), the good plan classified, no traceback, and nothing raw from a
file name on the terminal. predict.py runs under an address-space limit, so a
regression shows as a failed test, not as a starved machine.
"""

from __future__ import annotations

import json
import logging
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from case_files import docx_bytes, p, r
from hostile_files import (
    alt_chunk_bomb_docx,
    docx_bomb,
    flate_bomb_pdf,
    huge_cell_csv,
    million_page_pdf,
    xlsx_bomb,
)
from samskaping.display import display_name, safe_text
from samskaping.documents.limits import ReadingLimits, check_package, using
from samskaping.errors import DocumentError
from samskaping.reading import IsolatedReader

ROOT = Path(__file__).resolve().parents[1]
GOOD = [
    "Kommunen vil bruke samskaping for å løse oppgaver sammen med innbyggerne.",
    "Frivillige lag og foreninger er viktige partnere i nærmiljøet.",
]
# A name made to split a failure line, colour the terminal and turn the text after it backwards.
BAD_NAME = "ond\n\x1b[31mrød\u202efdp.txt"
PARENT_MEMORY = 3 * 1024**3  # predict.py's own address space in these runs
WORKER_MEMORY_MB = 1024


@pytest.fixture
def good(tmp_path: Path) -> Path:
    path = tmp_path / "god-plan.txt"
    path.write_text("\n\n".join(GOOD) + "\n", encoding="utf-8")
    return path


def _limited() -> None:  # runs in the child before predict.py starts
    resource.setrlimit(resource.RLIMIT_AS, (PARENT_MEMORY, PARENT_MEMORY))


def run_limited(model_dir: Path, inputs: list[Path], out: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    """``python predict.py`` under a 3 GB address-space limit, as the issue's own check runs it."""
    return subprocess.run(
        [
            sys.executable,
            str(ROOT / "predict.py"),
            "--model",
            str(model_dir),
            *map(str, inputs),
            "--output",
            str(out),
            "--read-memory-mb",
            str(WORKER_MEMORY_MB),
            *extra,
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        preexec_fn=_limited,
    )


def failure_lines(stderr: str) -> list[str]:
    lines = stderr.splitlines()
    starts = [i for i, line in enumerate(lines) if line.endswith("input(s) could not be read:")]
    return [line for line in lines[starts[-1] + 1 :] if line.startswith("  ")] if starts else []


def assert_nothing_raw(run: subprocess.CompletedProcess[str]) -> None:
    """No traceback, and no control or bidirectional character from a name reached the terminal."""
    for stream in (run.stdout, run.stderr):
        assert "Traceback" not in stream, stream
        assert not any(char in stream for char in ("\x1b", "\u202e", "\r")), repr(stream)
        assert safe_text(stream, keep_newlines=True) == stream, repr(stream)


# ---------------------------------------------------------------------- safe names


def test_display_name_escapes_control_and_bidirectional_characters() -> None:
    assert display_name("/plans/" + BAD_NAME) == "/plans/ond\\n\\x1b[31mrød\\u202efdp.txt"
    assert display_name("plan\udcff.pdf") == "plan\\udcff.pdf"  # a name that is not UTF-8 (surrogate escape)
    assert display_name("Bodø kommune – plan 2024.pdf") == "Bodø kommune – plan 2024.pdf"  # ordinary names unchanged
    assert safe_text("a\nb", keep_newlines=True) == "a\nb"


def test_inputs_that_are_not_files_are_named_for_what_they_are(tmp_path: Path) -> None:
    from samskaping.predict import collect_inputs

    pipe = tmp_path / "plan.txt"
    os.mkfifo(pipe)
    dangling = tmp_path / "lenke.pdf"
    dangling.symlink_to(tmp_path / "borte.pdf")
    files, failures = collect_inputs([pipe, dangling, tmp_path / "mangler.pdf", "/dev/null"])
    assert files == []
    reasons = {f.path: f.error for f in failures}
    assert reasons[str(pipe)].startswith("is a named pipe, not a file")
    assert reasons[str(dangling)].startswith("a symbolic link to something that does not exist")
    assert reasons[str(tmp_path / "mangler.pdf")].startswith("not found")
    assert reasons["/dev/null"].startswith("is a character device, not a file")


# ---------------------------------------------------------------------- limits before work


def test_zip_packages_are_checked_before_anything_is_inflated(tmp_path: Path) -> None:
    bomb = docx_bomb(inflated_mb=20)  # 20 MB of whitespace in word/document.xml, about 1000:1
    with pytest.raises(
        DocumentError, match=r"word/document.xml' would inflate from .* to 20 MB \(1,0\d\d:1, over the 200:1"
    ):
        check_package(bomb, tmp_path / "x.docx")
    with (
        using(ReadingLimits(compression_ratio=2000, unpacked_mb=10)),
        pytest.raises(DocumentError, match="would inflate to 20 MB, over the 10 MB allowed for one package"),
    ):
        check_package(bomb, tmp_path / "x.docx")
    with using(ReadingLimits(compression_ratio=2000)):
        check_package(bomb, tmp_path / "x.docx")  # within both limits
    check_package(docx_bytes(p(r("Kort tekst."))), tmp_path / "x.docx")  # an ordinary package passes
    check_package(b"not a zip", tmp_path / "x.docx")  # damage is the reader's to report


def test_docx_with_an_embedded_zip_bomb_is_one_document_error(tmp_path: Path) -> None:
    from samskaping.documents import read_sentences

    path = alt_chunk_bomb_docx(tmp_path / "chunk.docx", inflated_mb=20)
    with pytest.raises(
        DocumentError,
        match=r"an embedded Word document \(w:altChunk\): part 'word/document.xml' "
        r"would inflate .* \(a ZIP bomb\?\)",
    ):
        read_sentences(path)


def test_xlsx_sheet_that_inflates_hugely_is_refused(tmp_path: Path) -> None:
    from samskaping.data import read_table
    from samskaping.errors import DataError

    with pytest.raises(DataError, match=r"xl/worksheets/sheet1.xml' would inflate .* \(a ZIP bomb\?\)"):
        read_table(xlsx_bomb(tmp_path / "ark.xlsx", inflated_mb=20))


def test_pdf_declaring_a_million_pages_reads_its_page_fast(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    from samskaping.documents import read_sentences

    started = time.perf_counter()
    with caplog.at_level(logging.WARNING):
        sentences = read_sentences(million_page_pdf(tmp_path / "million.pdf"))
    assert time.perf_counter() - started < 20
    assert [s.text for s in sentences] == ["Kommunen vil samskape med innbyggerne."]
    assert (
        "declares 1000000 pages, but pages 2-51 could not be loaded, so the other 999949 were not tried" in caplog.text
    )


def test_pdf_pages_past_the_limit_are_left_out_with_a_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    from case_files import pdf_page, pdf_text_stream, pdf_with_page_tree
    from samskaping.documents import read_sentences

    objects = {3: pdf_page(4), 4: pdf_text_stream(["Side en."]), 6: pdf_page(7), 7: pdf_text_stream(["Side to."])}
    path = tmp_path / "to.pdf"
    path.write_bytes(pdf_with_page_tree("3 0 R 6 0 R", objects, count=2))
    with using(ReadingLimits(pdf_pages=1)), caplog.at_level(logging.WARNING):
        assert [s.text for s in read_sentences(path)] == ["Side en."]
    assert "only the first 1 of its 2 pages are read" in caplog.text


def test_table_cells_and_rows_past_the_limits_are_cut_naming_the_row(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from samskaping.data import read_table

    path = tmp_path / "t.csv"
    pd.DataFrame({"text": ["Kort.", "x" * 500, "Kort igjen.", "Fjerde."]}).to_csv(path, index=False)
    with using(ReadingLimits(cell_chars=100, table_rows=3)), caplog.at_level(logging.WARNING):
        frame, _ = read_table(path)
    assert frame["text"].tolist() == ["Kort.", "x" * 100, "Kort igjen."]
    assert "t.csv, row 3, column 'text': 500 characters, cut to the first 100" in caplog.text
    assert "rows from row 5 on are not read (the limit is 3 rows" in caplog.text


# ---------------------------------------------------------------------- isolation


@pytest.mark.slow
def test_a_time_out_is_that_files_failure_and_the_next_file_is_read(good: Path, tmp_path: Path) -> None:
    slow = tmp_path / "lang.txt"
    slow.write_text("Kommunen vil samskape med innbyggerne i hele kommunen. " * 400_000, encoding="utf-8")  # 22 MB
    with IsolatedReader(ReadingLimits(seconds=2)) as reader:
        started = time.perf_counter()
        late = reader.read(slow)
        assert time.perf_counter() - started < 10
        assert late.frame is None and late.error.startswith("not read within 2 s, the time limit for reading one file")
        assert reader.read(good).frame["text"].tolist() == GOOD  # a fresh worker took over


@pytest.mark.slow
def test_worker_records_reach_the_callers_log(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = huge_cell_csv(tmp_path / "celle.csv", cell_mb=1)
    with IsolatedReader(ReadingLimits()) as reader, caplog.at_level(logging.WARNING):
        outcome = reader.read(path)
    assert outcome.error is None and len(outcome.frame) == 3
    assert "celle.csv, row 3, column 'text': 1048587 characters, cut to the first 20000" in caplog.text
    assert list(outcome.notes) == [
        record.getMessage() for record in caplog.records if record.name.startswith("samskaping.documents")
    ]


@pytest.mark.slow
def test_hostile_set_beside_a_good_plan(small_baseline_dir: Path, good: Path, tmp_path: Path) -> None:
    """Every class at once, under a 3 GB address-space limit: exit 1, one line each, the good plan classified."""
    folder = tmp_path / "in"
    folder.mkdir()
    bomb = flate_bomb_pdf(folder / "strom.pdf", inflated_mb=WORKER_MEMORY_MB + 512)  # PDFium aborts past the limit
    million = million_page_pdf(folder / "million.pdf")
    chunk = alt_chunk_bomb_docx(folder / "chunk.docx", inflated_mb=300)
    sheet = xlsx_bomb(folder / "ark.xlsx", inflated_mb=300)
    cell = huge_cell_csv(folder / "celle.csv", cell_mb=30)
    named = folder / BAD_NAME
    named.write_bytes(b"")
    pipe = folder / "pipe.txt"
    os.mkfifo(pipe)
    assert sum(f.stat().st_size for f in folder.iterdir() if f.is_file()) < 40 * 1024**2

    started = time.perf_counter()
    out = tmp_path / "out"
    run = run_limited(small_baseline_dir, [good, bomb, million, chunk, sheet, cell, named, pipe], out)
    assert time.perf_counter() - started < 120, run.stderr
    assert run.returncode == 1, run.stderr
    assert_nothing_raw(run)
    listed = failure_lines(run.stderr)
    expected = {
        bomb: "the reader stopped with SIG",
        chunk: "an embedded Word document (w:altChunk): part",
        sheet: "xl/worksheets/sheet1.xml' would inflate",
        named: "file is empty",
        pipe: "is a named pipe, not a file",
    }
    assert len(listed) == len(expected), run.stderr
    for path, words in expected.items():
        lines = [line for line in listed if line.startswith(f"  {display_name(path)}: ")]
        assert len(lines) == 1 and words in lines[0], (path, listed)
    assert "ZIP bomb" in "".join(listed)
    assert "million.pdf: its page tree declares 1000000 pages" in run.stderr
    assert "celle.csv, row 3, column 'text': 31457291 characters, cut to the first 20000" in run.stderr

    sentences = pd.read_csv(out / "sentences.csv", encoding="utf-8-sig", dtype=str, keep_default_na=False)
    assert sentences.loc[sentences["document"] == str(good), "text"].tolist() == GOOD
    assert sentences.loc[sentences["document"] == str(million), "text"].tolist() == [
        "Kommunen vil samskape med innbyggerne."
    ]
    assert len(sentences.loc[sentences["document"] == str(cell)]) == 3
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    by_path = {f["path"]: f for f in summary["failed_documents"]}
    assert by_path[str(named)]["display_name"] == display_name(named)  # the real path stays machine-readable
    assert all(safe_text(f["reason"]) == f["reason"] for f in summary["failed_documents"])


@pytest.mark.slow
def test_report_and_summary_show_names_escaped(small_baseline_dir: Path, good: Path, tmp_path: Path) -> None:
    from samskaping.models import load_model
    from samskaping.predict import classify
    from samskaping.report import write_report

    named = tmp_path / BAD_NAME
    named.write_text("Kommunen vil samskape med innbyggerne.\n", encoding="utf-8")
    empty = tmp_path / ("tom\u202e" + "fdp.txt")
    empty.write_bytes(b"")
    result = classify([good, named, empty], load_model(small_baseline_dir), tmp_path / "out", progress=False)
    html = write_report(tmp_path / "out").read_text(encoding="utf-8")
    assert "\u202e" not in html and "\x1b" not in html
    assert "ond\\n\\x1b[31mrød\\u202efdp.txt" in html and "tom\\u202efdp.txt" in html
    assert result.summary["failed_documents"] == [
        {
            "path": str(empty),
            "display_name": display_name(empty),
            "reason": "file is empty (0 bytes); export or download the plan again",
        }
    ]


@pytest.mark.slow
def test_spark_executors_read_in_the_worker_too(good: Path, tmp_path: Path) -> None:
    """The Spark job's extraction uses the same reading worker: a ZIP bomb is one failure row, the plan is read."""
    from samskaping.spark.executors import extract_file

    bomb = alt_chunk_bomb_docx(tmp_path / "chunk.docx", inflated_mb=20).read_bytes()
    with IsolatedReader(ReadingLimits()) as reader:
        failed = extract_file("plans/chunk.docx", bomb, reader)
        read = extract_file("plans/god-plan.txt", good.read_bytes(), reader)
    assert failed["error"].iat[0].startswith("an embedded Word document (w:altChunk): part 'word/document.xml'")
    assert "samskaping-spark-" not in failed["error"].iat[0]
    assert read["text"].tolist() == GOOD and read["error"].isna().all()
