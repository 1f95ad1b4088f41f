"""The atomic-write helpers: a reader never sees half a file or half a folder, and a failure leaves the old one."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from samskaping.files import atomic_folder, atomic_write


def test_atomic_write_replaces_the_file_with_plain_permissions(tmp_path: Path) -> None:
    target = tmp_path / "summary.json"
    target.write_text("old", encoding="utf-8")
    atomic_write(target, lambda p: p.write_text("new", encoding="utf-8"))
    assert target.read_text(encoding="utf-8") == "new"
    mask = os.umask(0)
    os.umask(mask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~mask  # not the owner-only mode of a temporary file
    assert [p.name for p in tmp_path.iterdir()] == ["summary.json"]


def test_a_failed_atomic_write_keeps_the_old_file_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    target = tmp_path / "sentences.csv"
    target.write_text("old", encoding="utf-8")

    def half(path: Path) -> None:
        path.write_text("half of it", encoding="utf-8")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        atomic_write(target, half)
    assert target.read_text(encoding="utf-8") == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["sentences.csv"]


def test_atomic_folder_swaps_the_whole_folder(tmp_path: Path) -> None:
    folder = tmp_path / "models" / "baseline"
    folder.mkdir(parents=True)
    (folder / "stale.txt").write_text("from the earlier model", encoding="utf-8")

    def write(staging: Path) -> None:
        (staging / "model.joblib").write_bytes(b"weights")

    assert atomic_folder(folder, write) == folder
    assert sorted(p.name for p in folder.iterdir()) == ["model.joblib"]
    assert [p.name for p in folder.parent.iterdir()] == ["baseline"]  # no staging or replaced folder left


def test_a_failed_atomic_folder_keeps_the_old_folder(tmp_path: Path) -> None:
    folder = tmp_path / "baseline"
    folder.mkdir()
    (folder / "model.joblib").write_bytes(b"old weights")

    def fail(staging: Path) -> None:
        (staging / "model.joblib").write_bytes(b"half")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        atomic_folder(folder, fail)
    assert (folder / "model.joblib").read_bytes() == b"old weights"
    assert [p.name for p in tmp_path.iterdir()] == ["baseline"]
