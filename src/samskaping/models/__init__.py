"""Classifiers behind one interface, the registry of model kinds, and loading a model folder.

Adding a model kind is one module (a :class:`~samskaping.models.base.Classifier`
subclass, its config section and its :class:`~samskaping.models.kinds.KindSpec`)
and one line in :data:`~samskaping.models.registry.REGISTRY`. A kind's heavy
libraries load only when the kind is used, so the baseline never imports torch.
"""

from samskaping.models.base import MANIFEST, Classifier
from samskaping.models.kinds import KindSection, KindSpec
from samskaping.models.loading import build_model, load_model, model_class, read_manifest
from samskaping.models.registry import REGISTRY, has_encoder, kind_spec, kind_specs

__all__ = [
    "MANIFEST",
    "REGISTRY",
    "Classifier",
    "KindSection",
    "KindSpec",
    "build_model",
    "has_encoder",
    "kind_spec",
    "kind_specs",
    "load_model",
    "model_class",
    "read_manifest",
]
