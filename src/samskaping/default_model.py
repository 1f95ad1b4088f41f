"""The offline default model of ``predict.py``: the baseline trained on the shipped data, built on first use.

It is kept in the user's cache (:func:`samskaping.cache.cache_dir`) under a name that
holds the package version and the digest of the shipped data, so a new
version or new data builds a new one. Building it takes seconds and logs
nothing to MLflow.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

from samskaping.cache import cache_dir
from samskaping.errors import ModelLoadError

log = logging.getLogger(__name__)

PROJECT_ROOT = Path(__file__).resolve().parents[2]
SHIPPED_DATA = PROJECT_ROOT / "data" / "samskaping-sentences.jsonl"
BASELINE_CONFIG = PROJECT_ROOT / "configs" / "baseline.yaml"


def default_model_dir() -> Path:
    """The folder the default model has (or will have) in the cache.

    Raises:
        ModelLoadError: the shipped data is not next to the package (a non-editable install).
    """
    from samskaping import __version__
    from samskaping.data import file_digest

    if not SHIPPED_DATA.is_file() or not BASELINE_CONFIG.is_file():
        raise ModelLoadError(
            f"no --model given, and the shipped data ({SHIPPED_DATA}) is not here to build the default model; "
            "give --model models/NAME or an MLflow URI, "
            "or install samskaping from its project folder with 'pip install -e .'"
        )
    return cache_dir() / "models" / f"baseline-{__version__}-{file_digest(SHIPPED_DATA)[:12]}"


def ensure_default_model() -> Path:
    """The default model's folder, trained first if it is not in the cache yet (announced on the log)."""
    from filelock import FileLock

    folder = default_model_dir()
    folder.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(folder) + ".lock"):  # two predict.py started at once build it once
        if (folder / "samskaping-model.json").is_file():
            log.info("no --model given: using the default baseline model in %s", folder)
            return folder
        _build(folder)
    return folder


def _build(folder: Path) -> None:
    from samskaping.config import load_config
    from samskaping.training import train

    log.info(
        "no --model given: building the default baseline model from %s (a few seconds, once); it is kept in %s",
        SHIPPED_DATA.name,
        folder,
    )
    cfg = load_config(BASELINE_CONFIG, [f"data.path={SHIPPED_DATA}", "tracking.enabled=false"])
    shutil.rmtree(folder, ignore_errors=True)
    train(cfg, folder, config_path=BASELINE_CONFIG, progress=False)
