"""The model folder train.py writes: checked before any work, written atomically, never over what is not ours.

The folder is written into a temporary sibling (``NAME.partial``, marked as
ours) and renamed into place, so an interrupted run never leaves a
half-written model. Only a model folder samskaping wrote (one with
``samskaping-model.json``) or an empty folder is ever replaced.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from samskaping.errors import SamskapingError
from samskaping.models.base import MANIFEST, Classifier

STAGING_MARK = ".samskaping-partial"  # written first into NAME.partial, so a leftover one is known to be ours


def is_model_folder(folder: Path) -> bool:
    """Whether ``folder`` is a model folder written by samskaping (it holds ``samskaping-model.json``)."""
    return (folder / MANIFEST).is_file()


def _staging(output: Path) -> Path:
    return output.with_name(output.name + ".partial")


def _ours(folder: Path) -> bool:
    """A model folder, or a staging folder a killed run left behind."""
    return is_model_folder(folder) or (folder / STAGING_MARK).is_file()


def check_output(output: Path) -> None:
    """Fail before any work when ``output`` cannot become the model folder.

    ``output`` may be a new folder, an empty one, or a model folder that
    samskaping wrote (it is replaced as a whole). Anything else is refused, so
    train.py never deletes what it did not write.

    Args:
        output: the model folder asked for.

    Raises:
        SamskapingError: ``output`` is a file, a non-empty folder without ``samskaping-model.json``,
            its ``NAME.partial`` sibling is not ours, or the parent cannot be written.
    """
    advice = "give a new folder, e.g. --output models/NAME"
    if output.exists() and not output.is_dir():
        raise SamskapingError(f"--output {output}: this is a file, not a folder; {advice}")
    try:
        foreign = output.is_dir() and not is_model_folder(output) and any(output.iterdir())
    except OSError as exc:
        raise SamskapingError(f"--output {output}: cannot read the folder ({exc.strerror or exc}); {advice}") from exc
    if foreign:
        raise SamskapingError(
            f"--output {output}: the folder is not empty and is not a model folder (no {MANIFEST}); "
            f"train.py replaces only its own model folders and never deletes other files; {advice}"
        )
    staging = _staging(output)
    if staging.exists() and not (staging.is_dir() and _ours(staging)):
        raise SamskapingError(
            f"--output {output}: {staging} exists and was not written by train.py (it is where the model "
            f"is written before it is moved into place); move it away or {advice}"
        )
    check_writable(output)


def check_writable(output: Path) -> None:
    """Fail before any work when the model folder cannot be written.

    Raises:
        SamskapingError: the parent folder cannot be created or written to.
    """
    parent = output.resolve().parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=parent, prefix=".samskaping-write-test-"):
            pass
    except OSError as exc:
        raise SamskapingError(
            f"--output {output}: cannot write to {parent} ({exc.strerror or exc}); choose a folder you can write to"
        ) from exc


def save_model_folder(model: Classifier, output: Path, extra: dict[str, Any], files: dict[str, str]) -> Path:
    """Write the model folder atomically: into ``NAME.partial``, then swapped for ``output``.

    An existing ``output`` (a model folder or an empty one: :func:`check_output`
    refused anything else) is moved aside, the new folder renamed into place,
    and the old one deleted; on any failure the staging folder is removed.

    Args:
        model: the fitted model.
        output: the model folder.
        extra: added to ``samskaping-model.json``.
        files: further text files to write into the folder (name -> content).

    Returns:
        ``output``.
    """
    staging = _staging(output)
    old = output.with_name(f"{output.name}.replaced-{os.getpid()}")
    if staging.exists():
        shutil.rmtree(staging)  # a killed run's leftover (check_output made sure it is ours)
    try:
        staging.mkdir(parents=True)
        (staging / STAGING_MARK).touch()
        model.save(staging, extra=extra)
        for name, content in files.items():
            (staging / name).write_text(content, encoding="utf-8")
        (staging / STAGING_MARK).unlink()
        if output.exists():
            output.rename(old)
        staging.rename(output)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        if old.exists() and not output.exists():
            old.rename(output)  # put the previous model back
        raise
    shutil.rmtree(old, ignore_errors=True)
    return output
