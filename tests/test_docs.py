"""The project's documents: the label scheme is in the repository and no link leaves it."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINK = re.compile(r"\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")


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


def _section(readme: str, heading: str) -> str:
    return readme.split(f"\n{heading}\n", 1)[1].split("\n## ", 1)[0]


def test_the_quick_start_installs_what_a_planner_needs_and_names_the_extras() -> None:
    import tomllib

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    quick = _section(readme, "## Quick start")
    setup = quick.split("```bash", 1)[1].split("```", 1)[0]
    assert "pip install -e .\n" in setup  # the planner's set-up: no extras
    assert 'pip install -e ".[dev,spark]"' not in setup
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["optional-dependencies"]
    for extra in extras:
        assert f"| `{extra}` |" in quick, f"the extra {extra} is not named in the Quick start's table"


def test_the_test_command_says_it_needs_the_dev_extra_as_ci_installs_it() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    tests = _section(readme, "## Tests")
    assert "The test command needs the `dev` extra" in tests
    assert 'pip install -e ".[dev,spark]"' in tests
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert 'pip install -e ".[dev,spark]"' in ci
    assert "python -m pytest" in ci


def test_troubleshooting_names_the_caches_the_code_uses() -> None:
    from samskaping.default_model import cache_dir
    from samskaping.store import DEFAULT_TRACKING_URI

    trouble = _section((ROOT / "README.md").read_text(encoding="utf-8"), "## Troubleshooting")
    assert "WSL2" in trouble and "has not\nbeen tested" in trouble
    assert "--proxy" in trouble and "HTTPS_PROXY" in trouble
    assert "`~/.cache/samskaping/`" in trouble and "$SAMSKAPING_CACHE" in trouble
    assert cache_dir().name == "samskaping"
    assert DEFAULT_TRACKING_URI.removeprefix("sqlite:///") == "mlflow.db" and "`mlflow.db`" in trouble
    assert "`mlruns/`" in trouble and "`~/.cache/huggingface/`" in trouble
