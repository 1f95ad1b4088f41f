"""Atomic writes: a reader never sees half of a file or of a folder.

:func:`atomic_write` writes a file through a temporary file in the same folder
and renames it into place (``os.replace`` is atomic within one filesystem);
:func:`atomic_folder` does the same for a whole folder, swapping it for the
folder it replaces. Every output, state file and model folder goes through one
of these two.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _current_umask()


def atomic_write(path: Path, writer: Callable[[Path], None]) -> None:
    """Write ``path`` with ``writer`` into a temporary file in the same folder, then rename it into place.

    The file gets the permissions a plain ``open`` would give it (``0o666`` less the umask), not
    the owner-only ones of a temporary file; on any failure the temporary file is removed and
    ``path`` is left as it was.

    Args:
        path: the file to write; its folder must exist.
        writer: writes the content to the path it is given.

    Raises:
        OSError: the folder cannot be written; whatever ``writer`` raises.
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        writer(Path(tmp))
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes owner-only files; outputs are meant to be shared
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_folder(folder: Path, writer: Callable[[Path], None]) -> Path:
    """Write ``folder`` with ``writer`` into a staging folder beside it, then swap it into place.

    An existing ``folder`` is moved aside, the new one renamed into place and the old one
    deleted; if the swap fails the old folder is put back. On any failure the staging
    folder is removed.

    Args:
        folder: the folder to write; its parent is created if needed.
        writer: writes the content into the (empty, existing) folder it is given.

    Returns:
        ``folder``.

    Raises:
        OSError: the parent cannot be written; whatever ``writer`` raises.
    """
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=folder.parent))
    old = folder.with_name(f".{folder.name}.replaced-{os.getpid()}")
    try:
        writer(staging)
        os.chmod(staging, 0o777 & ~_UMASK)  # mkdtemp makes an owner-only folder
        if folder.exists():
            os.replace(folder, old)
        os.replace(staging, folder)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        if old.exists() and not folder.exists():
            os.replace(old, folder)  # put the previous folder back
        raise
    shutil.rmtree(old, ignore_errors=True)
    return folder
