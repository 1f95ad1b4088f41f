"""What a model kind says about itself: :class:`KindSpec`, and the base of its config section.

Every kind module defines one ``SPEC = KindSpec(...)`` next to its classifier
class and names it in :data:`samskaping.models.registry.REGISTRY`. From the
specs, :mod:`samskaping.config` builds the ``model.<kind>`` sections it
validates, :mod:`samskaping.mlflow_model` the pip requirements of a logged
model, the runtime (``--runtime onnx``, ``--int8``, ``--bf16``) the question
«does this model have an encoder to export», and ``tests/test_models.py`` the
contract test. This module imports nothing of samskaping, so the config can
read the specs without importing any classifier's libraries.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict


class KindSection(BaseModel):
    """Base of a kind's config section (``model.<kind>``): unknown keys are errors, values are frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=False)


@dataclass(frozen=True)
class KindSpec:
    """A model kind's declaration of itself.

    Attributes:
        name: the registry name, written as ``kind`` to the config and ``samskaping-model.json``.
        section: the pydantic model of the kind's config section ``model.<name>`` (a :class:`KindSection`);
            every config carries the section of every registered kind, with its defaults.
        classifier: the :class:`~samskaping.models.base.Classifier` subclass. A kind's module imports its heavy
            libraries (torch, scikit-learn) inside the methods that use them, so reading the spec stays cheap.
        requirements: pip names the MLflow model needs beyond
            :data:`samskaping.mlflow_model.BASE_REQUIREMENTS` (pinned to the versions installed when it is logged).
        has_encoder: the model has a transformer encoder that the runtime paths can run in ONNX Runtime,
            quantise to int8 or run in bf16, on a device and a number of threads of its choosing.
        contract_config: the raw ``model`` and ``training`` sections the contract test trains on the tiny
            data in seconds; a kind with an encoder is given the test suite's tiny encoder as ``model.name``.
        saved_before: keys of ``section`` added after model folders were saved without them, with the value
            such a folder was trained with: a saved config that lacks the key loads with it, so an old
            folder predicts as it did, while a new config gets the field's default.
    """

    name: str
    section: type[KindSection]
    classifier: type
    requirements: tuple[str, ...] = ()
    has_encoder: bool = False
    contract_config: Mapping[str, Any] = field(default_factory=dict)
    saved_before: Mapping[str, Any] = field(default_factory=dict)


__all__ = ["KindSection", "KindSpec"]
