"""samskaping: classify what Norwegian municipal plans say about co-creation.

Public API::

    from samskaping import load_config, train, load_model, classify
    cfg = load_config("configs/baseline.yaml")
    result = train(cfg, output_dir="models/baseline")
    model = load_model("models/baseline")
    classify(["plans/"], model, "out/")

Importing the package does nothing else; heavy libraries load when used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["__version__", "classify", "load_config", "load_model", "train"]

if TYPE_CHECKING:
    from samskaping.config import load_config
    from samskaping.models import load_model
    from samskaping.predict import classify
    from samskaping.training import train


def __getattr__(name: str) -> Any:
    # Lazy so that ``import samskaping`` stays fast and side-effect free.
    if name == "load_config":
        from samskaping.config import load_config

        return load_config
    if name == "load_model":
        from samskaping.models import load_model

        return load_model
    if name == "classify":
        from samskaping.predict import classify

        return classify
    if name == "train":
        from samskaping.training import train

        return train
    raise AttributeError(f"module 'samskaping' has no attribute {name!r}")
