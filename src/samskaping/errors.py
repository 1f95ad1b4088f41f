"""The project's exception hierarchy.

Every error a user can cause (a bad config, a bad data row, an unreadable
document, a model that cannot be loaded) is a :class:`SamskapingError` with a
message in plain words that names the file, the key or row, and what is
allowed. Entry points print the message without a traceback.
"""

from __future__ import annotations


class SamskapingError(Exception):
    """Base class for errors caused by user input or the environment."""


class ConfigError(SamskapingError):
    """A configuration file or override is invalid."""


class DataError(SamskapingError):
    """A labelled data file is missing, unreadable or has invalid rows."""


class DocumentError(SamskapingError):
    """A plan document cannot be read or holds no text."""


class ModelLoadError(SamskapingError):
    """A model (pretrained encoder or trained project model) cannot be loaded."""


class TrackingError(SamskapingError):
    """The MLflow tracking store or registry cannot be used as asked."""
