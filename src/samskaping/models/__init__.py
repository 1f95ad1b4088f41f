"""Classifiers behind one interface: :class:`~samskaping.models.base.Classifier`."""

from samskaping.models.base import Classifier, load_model

__all__ = ["Classifier", "load_model"]
