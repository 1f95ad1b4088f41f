"""Browser tests: the MLflow UI that ``python -m samskaping.runs ui`` starts, and report.html.

They drive Debian's chromium (``/usr/bin/chromium``, installed by
``.ci/install-browser.sh``) through Playwright's Python package; Playwright
never downloads a browser here. Every test is marked ``browser`` (deselect
with ``-m 'not browser'``) and is skipped when chromium is missing. The
screenshots they save go to the test's temporary folder, or to the folder
``SAMSKAPING_SCREENSHOT_DIR`` names (``docs/screenshots`` to renew the
documentation's pictures: ``SAMSKAPING_SCREENSHOT_DIR=docs/screenshots python -m pytest -m browser``).
"""

from __future__ import annotations

import os
import socket
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

from samskaping.predict import PredictResult
from samskaping.report import write_report
from test_report import build_output, train_report_model
from test_runs import train_baseline, write_fixture

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
TARGET_S = 60  # each test should stay under a minute; slower runs are reported, not failed (shared CI machines vary)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.is_file(),
        reason="needs Debian's chromium at /usr/bin/chromium; install it with .ci/install-browser.sh (as root)",
    ),
]


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    sync_api = pytest.importorskip("playwright.sync_api", reason="needs Playwright: pip install -e '.[dev]'")
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> tuple[PredictResult, Path]:
    """(predict result, report.html) of the three plans, classified by a small report model; both tests only read it."""
    folder = tmp_path_factory.mktemp("browser-report")
    model = train_report_model(folder / "model", per_conception=20)
    result = build_output(folder, model, "csv")
    return result, write_report(result.output_dir)


def free_port() -> int:
    """A TCP port that is free on 127.0.0.1 right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def log_duration(started: float) -> None:
    """Warn when a test took longer than :data:`TARGET_S` (a loaded machine should not fail it)."""
    took = time.monotonic() - started
    if took > TARGET_S:
        warnings.warn(f"browser test took {took:.0f} s, more than the {TARGET_S} s target", stacklevel=2)


def _screenshot_path(name: str, tmp_path: Path) -> Path:
    folder = Path(os.environ.get("SAMSKAPING_SCREENSHOT_DIR") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder / name


@pytest.mark.browser
def test_runs_ui_prints_the_address_of_the_sorted_runs_table(tmp_path: Path, browser) -> None:
    import re
    import signal
    import subprocess
    import sys

    from playwright.sync_api import expect

    started = time.monotonic()
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    data = write_fixture(tmp_path / "fixture.jsonl", per_conception=20, per_factor=12)
    runs = {
        name: train_baseline(data, tmp_path / "models" / name, uri, name, C=C)
        for name, C in (("baseline-c8", 8.0), ("baseline-c0.05", 0.05))
    }
    port = free_port()
    command = subprocess.Popen(
        [sys.executable, "-m", "samskaping.runs", "ui", "--port", str(port), "--tracking-uri", uri, "--quiet"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert command.stdout is not None
        line = command.stdout.readline()
        address = re.search(r"(http://127\.0\.0\.1:\d+/\S+)", line).group(1)
        # the experiment's saved view (sort and F1 columns) and the side bar's machine-learning entries
        assert "viewStateShareKey=samskaping-training&workflowType=machine_learning" in address
        page = browser.new_page(viewport={"width": 1600, "height": 640})
        try:
            page.goto(address)
            names = {name: page.get_by_role("link", name=name, exact=True) for name in runs}
            for link in names.values():
                expect(link).to_be_visible(timeout=30_000)
            expect(page.get_by_text("Sort: test_mean_macro_f1")).to_be_visible()
            # the test macro-F1 columns are on the page, in view, and hold each run's value (issue 19, point 9)
            for metric in ("test_mean_macro_f1", "test_conception_macro_f1"):
                header = page.get_by_role("columnheader", name=re.compile(metric)).first
                expect(header).to_be_visible()
                assert header.bounding_box()["x"] + 40 < 1600  # not scrolled out of sight
            best = max(runs.values(), key=lambda r: r.metrics["test_mean_macro_f1"])
            expect(page.get_by_text(f"{best.metrics['test_mean_macro_f1']:.4f}"[:6]).first).to_be_visible()
            # the side bar lists the training entries, not the GenAI ones (Overview, Issues, Judges, ...)
            sidebar = page.get_by_role("complementary").first
            expect(sidebar.get_by_role("link", name="Runs", exact=True)).to_be_visible()
            expect(sidebar.get_by_role("link", name="Judges", exact=True)).to_have_count(0)
            best_first = sorted(runs, key=lambda n: -runs[n].metrics["test_mean_macro_f1"])
            heights = [names[n].bounding_box()["y"] for n in best_first]
            assert heights == sorted(heights)  # best first, as the address asks
            page.screenshot(path=_screenshot_path("mlflow-runs.png", tmp_path))
        finally:
            page.close()
        command.send_signal(signal.SIGTERM)
        assert command.wait(timeout=30) == 0
    finally:
        if command.poll() is None:
            command.kill()
    log_duration(started)


@pytest.mark.browser
def test_report_renders_its_charts_and_overview(tmp_path: Path, browser, report) -> None:
    from playwright.sync_api import expect

    started = time.monotonic()
    result, report = report
    requests: list[str] = []
    page = browser.new_page(viewport={"width": 1100, "height": 1400})
    try:
        page.on("request", lambda request: requests.append(request.url))
        page.goto(report.as_uri(), wait_until="load")
        widths = page.eval_on_selector_all("img", "images => images.map(i => i.complete ? i.naturalWidth : 0)")
        assert len(widths) == 2 and all(w > 0 for w in widths), widths
        expect(page.locator("#oversikt")).to_contain_text("2 av 3 planer nevner samskaping")
        rows = page.locator("#planer tbody tr")
        expect(rows).to_have_count(3)
        expect(page.locator("#planer")).to_be_visible()
        for index, document in enumerate(result.documents["document"]):
            expect(rows.nth(index)).to_contain_text(Path(document).name)
        assert page.locator("#forstaelser img").bounding_box()["height"] > 100
        expect(page.locator("#planer thead")).to_contain_text("Andel (95 % KI)")
        expect(page.locator("#metode")).to_contain_text("Saerens")
        page.screenshot(path=_screenshot_path("report.png", tmp_path))
    finally:
        page.close()
    assert all(url.startswith(("file:", "data:")) for url in requests), requests
    log_duration(started)


@pytest.mark.browser
def test_the_report_plan_table_headers_are_whole(tmp_path: Path, browser, report) -> None:
    """Issue 19, point 11: the plan table's headers are whole words that fit their cells, in a narrow window too."""
    started = time.monotonic()
    _, report = report
    page = browser.new_page(viewport={"width": 800, "height": 900})
    try:
        page.goto(report.as_uri())
        headers = page.locator("#planer th")
        texts = headers.all_inner_texts()
        assert "Treff på ordet samskaping" in texts
        assert not any("…" in text for text in texts)  # no header that reads as cut off
        overflowing = page.evaluate("""() => [...document.querySelectorAll('#planer th, #planer td')]
            .filter(cell => cell.scrollWidth > cell.clientWidth + 1).map(cell => cell.innerText)""")
        assert overflowing == []
        page.locator("#planer").screenshot(path=_screenshot_path("report-plans-800px.png", tmp_path))
    finally:
        page.close()
    log_duration(started)
