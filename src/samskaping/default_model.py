"""The offline default models of ``predict.py``, trained on the shipped data on first use.

Two are defined (:data:`DEFAULTS`): ``e5`` (the default: multilingual-e5-small with its top 4 layers
fine-tuned, ``configs/multilingual-e5-small-fast.yaml``; the better reader of real plan text, minutes to
build) and ``baseline`` (``predict.py --baseline``: the scikit-learn baseline, ``configs/baseline.yaml``,
seconds to build). Each is kept in the user's cache (:func:`samskaping.cache.cache_dir`) under a name
holding the package version and a digest of the shipped data and the config, so a new version, new data
or a changed config builds a new one. Building logs nothing to MLflow and shows its progress on stderr;
measured build times are in docs/performance.md.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
from dataclasses import dataclass
from pathlib import Path

from samskaping.cache import cache_dir
from samskaping.errors import ModelLoadError

log = logging.getLogger(__name__)

PROJECT_ROOT = Path(__file__).resolve().parents[2]
SHIPPED_DATA = PROJECT_ROOT / "data" / "samskaping-sentences.jsonl"


@dataclass(frozen=True)
class DefaultModel:
    """One model ``predict.py`` can build for itself.

    Attributes:
        config: the training config, in ``configs/``.
        description: what it is, for the log line.
        build_time: how long building takes, in words, for the log line (measured times: docs/performance.md).
    """

    config: Path
    description: str
    build_time: str


DEFAULTS: dict[str, DefaultModel] = {  # the key is the cache folder's prefix and the word the log uses
    "e5": DefaultModel(
        PROJECT_ROOT / "configs" / "multilingual-e5-small-fast.yaml",
        "multilingual-e5-small, its top 4 layers fine-tuned",
        "minutes (docs/performance.md gives measured times)",
    ),
    "baseline": DefaultModel(PROJECT_ROOT / "configs" / "baseline.yaml", "the scikit-learn baseline", "seconds"),
}
DEFAULT = "e5"  # predict.py without --model; --baseline picks "baseline"


def default_model_dir(which: str = DEFAULT) -> Path:
    """The folder the default model ``which`` has (or will have) in the cache.

    Args:
        which: a key of :data:`DEFAULTS`.

    Raises:
        KeyError: ``which`` is not a key of :data:`DEFAULTS`.
        ModelLoadError: the shipped data or the config is not next to the package (a non-editable install).
    """
    from samskaping import __version__
    from samskaping.data import file_digest

    spec = DEFAULTS[which]
    if not SHIPPED_DATA.is_file() or not spec.config.is_file():
        raise ModelLoadError(
            f"no --model given, and the shipped data ({SHIPPED_DATA}) or {spec.config.name} is not here to build "
            "the default model; give --model models/NAME or an MLflow URI, "
            "or install samskaping from its project folder with 'pip install -e .'"
        )
    digest = hashlib.sha256((file_digest(SHIPPED_DATA) + file_digest(spec.config)).encode()).hexdigest()
    return cache_dir() / "models" / f"{which}-{__version__}-{digest[:12]}"


def ensure_default_model(which: str = DEFAULT, progress: bool = True) -> Path:
    """The default model's folder, trained first if it is not in the cache yet (announced on the log).

    Args:
        which: a key of :data:`DEFAULTS` (``e5`` unless ``predict.py --baseline``).
        progress: show the training's progress bars on stderr while building.

    Raises:
        ModelLoadError: as :func:`default_model_dir`.
        KeyboardInterrupt: building was stopped; nothing is left in the cache.
    """
    from filelock import FileLock

    folder = default_model_dir(which)
    folder.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(folder) + ".lock"):  # two predict.py started at once build it once
        if (folder / "samskaping-model.json").is_file():
            log.info("no --model given: using the default %s model in %s", which, folder)
            return folder
        build(folder, which, progress)
    return folder


def build(folder: Path, which: str = DEFAULT, progress: bool = False) -> Path:
    """Train the default model ``which`` on the shipped data into ``folder`` (replaced), without MLflow.

    Args:
        folder: where the model is saved (written atomically: a stopped build leaves no model there).
        which: a key of :data:`DEFAULTS`.
        progress: show the training's progress bars.

    Returns:
        ``folder``.
    """
    from samskaping.config import load_config
    from samskaping.training import train

    spec = DEFAULTS[which]
    log.info(
        "no --model given: building the default %s model (%s) from %s; this takes %s, once; it is kept in %s",
        which,
        spec.description,
        SHIPPED_DATA.name,
        spec.build_time,
        folder,
    )
    cfg = load_config(spec.config, [f"data.path={SHIPPED_DATA}", "tracking.enabled=false"])
    shutil.rmtree(folder, ignore_errors=True)
    train(cfg, folder, config_path=spec.config, progress=progress)
    return folder
