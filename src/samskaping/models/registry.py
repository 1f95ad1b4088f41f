"""The model kinds: kind name -> the module attribute holding its :class:`~samskaping.models.kinds.KindSpec`.

Adding a kind is one module (a :class:`~samskaping.models.base.Classifier` subclass, its config section and
its ``SPEC``) and one line here. A kind's module is imported when its spec is first asked for (the config
reads every spec to validate the ``model.<kind>`` sections); its heavy libraries load only when its
classifier is built or loaded.
"""

from __future__ import annotations

import importlib

from samskaping.errors import ModelLoadError
from samskaping.models.kinds import KindSpec

# kind -> "module:attribute" of its KindSpec
REGISTRY: dict[str, str] = {
    "baseline": "samskaping.models.baseline:SPEC",
    "transformer": "samskaping.models.transformer:SPEC",
}


def kind_spec(kind: str) -> KindSpec:
    """The spec registered for ``kind``.

    Raises:
        ModelLoadError: no such kind, or its entry does not name a KindSpec of that name whose classifier
            writes that kind to its manifest.
    """
    if kind not in REGISTRY:
        raise ModelLoadError(f"unknown model kind {kind!r}; allowed: {', '.join(REGISTRY)}")
    module, _, attribute = REGISTRY[kind].partition(":")
    spec = getattr(importlib.import_module(module), attribute, None)
    if not isinstance(spec, KindSpec) or spec.name != kind or getattr(spec.classifier, "kind", None) != kind:
        raise ModelLoadError(
            f"model kind {kind!r}: {REGISTRY[kind]} is not a KindSpec named {kind!r} of a classifier with "
            f"kind = {kind!r}; fix its line in REGISTRY or the spec"
        )
    return spec


def kind_specs() -> dict[str, KindSpec]:
    """Every registered kind's spec, in registry order."""
    return {kind: kind_spec(kind) for kind in REGISTRY}


def has_encoder(kind: str) -> bool:
    """Whether models of ``kind`` have an encoder for the runtime paths (ONNX Runtime, int8, bf16, devices).

    Raises:
        ModelLoadError: no such kind.
    """
    return kind_spec(kind).has_encoder


__all__ = ["REGISTRY", "has_encoder", "kind_spec", "kind_specs"]
