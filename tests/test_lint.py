"""The code is lint-clean: ``ruff check`` and ``ruff format --check`` over src, tests and benchmarks.

The rules and the 120-column limit are in pyproject.toml ([tool.ruff]); ruff is pinned in the dev extra.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = ["src", "tests", "benchmarks"]


def _ruff(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ruff", *args, *FOLDERS], cwd=ROOT, capture_output=True, text=True, timeout=300
    )


@pytest.mark.parametrize(
    "args", [("check", "--no-cache"), ("format", "--check", "--no-cache")], ids=["check", "format"]
)
def test_ruff_finds_nothing(args: tuple[str, ...]) -> None:
    done = _ruff(*args)
    assert done.returncode == 0, f"ruff {' '.join(args)} {' '.join(FOLDERS)}:\n{done.stdout}{done.stderr}"
