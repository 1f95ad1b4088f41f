"""The project's documents: the README, the documentation site in docs/ and what they state about the code."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINK = re.compile(r"\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
DOCS = ROOT / "docs"
README_MAX_LINES = 200


def site_pages() -> list[Path]:
    """The Markdown pages of the documentation site (docs/, the label scheme and annotation guide included)."""
    return sorted(DOCS.rglob("*.md"))


def nav_pages() -> list[str]:
    """The pages mkdocs.yml's nav names, relative to docs/."""
    return re.findall(r":\s*([\w/.-]+\.md)\s*$", (ROOT / "mkdocs.yml").read_text(encoding="utf-8"), flags=re.M)


def tracked_markdown() -> list[Path]:
    listed = subprocess.run(
        ["git", "ls-files", "*.md"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    return [ROOT / name for name in listed if (ROOT / name).is_file()]


def test_the_label_scheme_is_in_the_repository_with_all_its_clarifications() -> None:
    scheme = (ROOT / "docs" / "label-scheme.md").read_text(encoding="utf-8")
    for heading in (
        "## Label 1: `conception`",
        "## Label 2: `factor`",
        "## Label 3: `polarity`",
        "## Clarifications for borderline cases",
    ):
        assert heading in scheme
    clarifications = scheme.split("## Clarifications for borderline cases", 1)[1]
    numbers = [int(n) for n in re.findall(r"^(\d+)\. \*\*", clarifications, flags=re.M)]
    assert numbers == list(range(1, 22))


def test_the_readme_and_the_annotation_guide_link_the_label_scheme_in_docs() -> None:
    assert "](docs/label-scheme.md)" in (ROOT / "README.md").read_text(encoding="utf-8")
    assert "](label-scheme.md)" in (ROOT / "docs" / "annotation-guide.md").read_text(encoding="utf-8")


def test_no_link_in_a_tracked_markdown_file_leaves_the_repository() -> None:
    files = tracked_markdown()
    assert ROOT / "README.md" in files
    outside = []
    for path in files:
        for target in LINK.findall(path.read_text(encoding="utf-8")):
            if re.match(r"^[a-z][a-z0-9+.-]*:", target) or target.startswith("#"):
                continue  # a web address or an anchor in the same file
            resolved = (path.parent / target.split("#", 1)[0]).resolve()
            if "../shared" in target or not resolved.is_relative_to(ROOT) or not resolved.exists():
                outside.append(f"{path.relative_to(ROOT)}: {target}")
    assert outside == []


def _described(folder: Path) -> set[str]:
    """The entries of a model folder as models/README.md names them (a label set as ``<label set>``)."""
    names = set()
    for entry in folder.iterdir():
        name = re.sub(r"^baseline-(conception|factor|polarity)\.", "baseline-<label set>.", entry.name)
        names.add(name + ("/" if entry.is_dir() else ""))
    return names


def test_models_readme_describes_what_a_baseline_folder_holds(small_baseline_dir: Path) -> None:
    readme = (ROOT / "models" / "README.md").read_text(encoding="utf-8")
    named = set(re.findall(r"`([^`]+)`", readme))
    assert _described(small_baseline_dir) <= named
    baseline_part = readme.split("A baseline folder", 1)[1].split("A transformer folder", 1)[0]
    for name in re.findall(r"`(baseline-[^`]+)`", baseline_part):
        assert any(
            re.fullmatch(re.escape(name).replace(re.escape("<label set>"), r"\w+"), n)
            for n in (e.name for e in small_baseline_dir.iterdir())
        ), name


@pytest.mark.slow
def test_models_readme_describes_what_a_transformer_folder_holds(tiny_fitted_dir: Path) -> None:
    named = set(re.findall(r"`([^`]+)`", (ROOT / "models" / "README.md").read_text(encoding="utf-8")))
    assert _described(tiny_fitted_dir) - {"int8.json", "bf16.json"} <= named
    assert {"encoder/", "tokenizer/", "heads.safetensors"} <= _described(tiny_fitted_dir)


def _section(text: str, heading: str) -> str:
    return text.split(f"\n{heading}\n", 1)[1].split("\n## ", 1)[0]


def test_the_readme_is_short_and_links_every_page_of_the_site() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(readme.splitlines()) <= README_MAX_LINES
    links = set(LINK.findall(readme))
    missing = [f"docs/{page}" for page in nav_pages() if not any(t.split("#")[0] == f"docs/{page}" for t in links)]
    assert missing == [] or missing == ["docs/index.md"], missing


def test_every_page_in_docs_is_in_the_sites_nav() -> None:
    named = set(nav_pages())
    assert named, "mkdocs.yml names no pages"
    assert {p.relative_to(DOCS).as_posix() for p in site_pages()} == named


def test_the_set_up_installs_what_a_planner_needs_and_names_the_extras() -> None:
    import tomllib

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    setup_section = _section(readme, "## Set-up")
    setup = setup_section.split("```bash", 1)[1].split("```", 1)[0]
    assert "pip install -e .\n" in setup  # the planner's set-up: no extras
    assert 'pip install -e ".[dev,spark]"' not in setup
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["optional-dependencies"]
    for extra in extras:
        assert f"| `{extra}` |" in setup_section, f"the extra {extra} is not named in the Set-up's table"
    assert any(req.startswith("mkdocs") for req in extras["dev"]) and "ruff==0.17.6" in extras["dev"]


def test_the_test_command_says_it_needs_the_dev_extra_as_ci_installs_it() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    tests = _section(readme, "## Tests")
    assert "The test command needs the `dev` extra" in tests
    assert 'pip install -e ".[dev,spark]"' in tests
    assert "python -m pytest\n" in tests.split("```bash", 1)[1] or "python -m pytest " in tests
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert 'pip install -e ".[dev,spark]"' in ci
    assert "python -m pytest" in ci


def test_troubleshooting_names_the_caches_the_code_uses() -> None:
    from samskaping.default_model import cache_dir
    from samskaping.store import DEFAULT_TRACKING_URI

    trouble = " ".join((DOCS / "user-guide" / "troubleshooting.md").read_text(encoding="utf-8").split())
    assert "WSL2" in trouble and "has not been tested" in trouble
    assert "--proxy" in trouble and "HTTPS_PROXY" in trouble
    assert "`~/.cache/samskaping/`" in trouble and "$SAMSKAPING_CACHE" in trouble
    assert cache_dir().name == "samskaping"
    assert DEFAULT_TRACKING_URI.removeprefix("sqlite:///") == "mlflow.db" and "`mlflow.db`" in trouble
    assert "`mlruns/`" in trouble and "`~/.cache/huggingface/`" in trouble


def _documents() -> list[Path]:
    return [ROOT / "README.md", *site_pages()]


def test_every_command_module_benchmark_and_config_the_documents_name_exists() -> None:
    missing = []
    for path in _documents():
        text = path.read_text(encoding="utf-8")
        where = path.relative_to(ROOT)
        for module in set(re.findall(r"python -m (samskaping(?:\.[a-z_]+)+)", text)):
            if importlib.util.find_spec(module) is None:
                missing.append(f"{where}: python -m {module}")
        for name in set(re.findall(r"\b((?:benchmarks|configs|tests)/[\w./-]+\.(?:py|yaml))\b", text)):
            if not (ROOT / name).is_file():
                missing.append(f"{where}: {name}")
    assert missing == []


# Wording of a run diary: who measured what when belongs in commit messages, not in the documents.
DIARY = re.compile(
    r"this session|a helper|\bround \d+ measured|not re-measured|was reported at|before this work|"
    r"measured here|\b20\d\d-\d\d-\d\d\b|\d+ min \d+ s for \d+ tests",
    flags=re.I,
)


def test_no_document_keeps_a_diary_of_runs() -> None:
    found = []
    for path in _documents():
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if match := DIARY.search(line):
                found.append(f"{path.relative_to(ROOT)}:{number}: {match.group(0)}")
    assert found == []


# The benchmark's path names and the rows of the e5 table in docs/performance.md that report them.
E5_ROWS = {
    "pytorch-fp32": "| PyTorch fp32 (default) |",
    "onnx-fp32": "| ONNX Runtime fp32 (`--runtime onnx`) |",
    "pytorch-bf16": "| **PyTorch bf16 (`--bf16`)** |",
    "pytorch-int8": "| PyTorch dynamic int8 (kept for comparison) |",
    "pytorch-int8-smoothed": "| … with SmoothQuant-style smoothing |",
    "onnx-int8-8bit": "| ORT int8, every layer, 8-bit weights |",
    "onnx-int8-7bit": "| ORT int8, every layer, 7-bit weights |",
    "onnx-int8-calibrated": "| **ORT int8, calibrated recipe (`--int8`)** |",
}


def _percent(share: float) -> str:
    return "100 %" if share == 1.0 else f"{100 * share:.2f} %"


def test_the_performance_page_reports_the_benchmarks_saved_figures() -> None:
    saved = json.loads((ROOT / "benchmarks" / "results" / "cpu-2core.json").read_text(encoding="utf-8"))
    paths = saved["models"]["e5"]["paths"]
    page = (DOCS / "performance.md").read_text(encoding="utf-8")
    e5_table = page.split("Fine-tuned multilingual-e5-small", 1)[1].split("NB-BERT-shaped model (", 1)[0]
    rows = {line.split(" | ")[0] + " |": line for line in e5_table.splitlines() if line.startswith("| ")}
    for key, label in E5_ROWS.items():
        row = rows[label]
        assert f"{paths[key]['sentences_per_second']:.1f}" in row, (key, row)
        assert f"{paths[key]['ratio_to_reference']:.2f}×" in row, (key, row)
        assert _percent(paths[key]["agreement_with_fp32"]["all"]) in row, (key, row)
    fp32 = paths["pytorch-fp32"]["sentences_per_second"]
    for key, flag in (("onnx-int8-calibrated", "--int8"), ("pytorch-bf16", "--bf16")):
        share = _percent(paths[key]["agreement_with_fp32"]["all"])
        ratio = f"{paths[key]['sentences_per_second'] / fp32:.1f}×"
        assert re.search(rf"`{flag}`[^.]*{re.escape(share)}[^.]*{re.escape(ratio)}", page), (flag, share, ratio)


def test_the_documentation_site_builds_strictly(tmp_path: Path) -> None:
    """``mkdocs build --strict``: a page missing from the nav, a broken link or anchor fails it."""
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        timeout=300,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0 and "WARNING" not in output, output
    assert (tmp_path / "site" / "performance" / "index.html").is_file()
