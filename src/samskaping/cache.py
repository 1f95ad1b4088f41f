"""The user's cache folder: models built on first use, ONNX exports of read-only models, downloaded encoders.

``$SAMSKAPING_CACHE`` when set, else ``$XDG_CACHE_HOME/samskaping``, else
``~/.cache/samskaping`` (the XDG Base Directory default). Nothing here creates
the folder: each user makes its own sub-folder when it first writes.
"""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    """Where samskaping keeps what it builds for the user (not created here).

    Returns:
        ``$SAMSKAPING_CACHE``, else ``$XDG_CACHE_HOME/samskaping``, else ``~/.cache/samskaping``; ``~`` expanded.
    """
    explicit = os.environ.get("SAMSKAPING_CACHE")
    if explicit:
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_CACHE_HOME")
    return (Path(base).expanduser() if base else Path.home() / ".cache") / "samskaping"
