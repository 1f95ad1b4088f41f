"""Where MLflow runs and models are kept, and opening that store safely.

The default store is an embedded SQLite file in the working folder
(``sqlite:///mlflow.db``); ``$MLFLOW_TRACKING_URI`` or an explicit URI override
it. :func:`open_client` creates a new SQLite store under a file lock, so two
``train.py`` started at once in a new project folder do not both run MLflow's
schema migrations (one of them would die with a SQLite error).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from samskaping.errors import TrackingError

DEFAULT_TRACKING_URI = "sqlite:///mlflow.db"
SQLITE_PREFIX = "sqlite:///"
LOCK_TIMEOUT_SECONDS = 300


def resolve_tracking_uri(explicit: str | None = None) -> str:
    """``explicit`` (flag or config), else ``$MLFLOW_TRACKING_URI``, else the local SQLite store."""
    return explicit or os.environ.get("MLFLOW_TRACKING_URI") or DEFAULT_TRACKING_URI


def sqlite_path(uri: str) -> Path | None:
    """The database file of a ``sqlite:///`` URI (None for other stores and in-memory SQLite)."""
    if not uri.startswith(SQLITE_PREFIX):
        return None
    path = uri[len(SQLITE_PREFIX) :].split("?", 1)[0]
    return None if not path or path == ":memory:" else Path(path)


def absolute_store_uri(tracking_uri: str | None = None) -> str:
    """The tracking URI with a relative SQLite path made absolute (so it works from any folder)."""
    uri = resolve_tracking_uri(tracking_uri)
    path = sqlite_path(uri)
    if path is not None and not path.is_absolute():
        return SQLITE_PREFIX + str(path.resolve())
    return uri


def check_store(tracking_uri: str) -> None:
    """Refuse a SQLite store whose file does not exist (MLflow would create an empty one).

    Raises:
        TrackingError: the SQLite file is missing.
    """
    path = sqlite_path(tracking_uri)
    if path is not None and not path.is_file():
        raise TrackingError(
            f"no MLflow store at {path}; train a model first (python train.py --config configs/baseline.yaml) "
            "or pass --tracking-uri"
        )


def open_client(tracking_uri: str | None = None, create: bool = True) -> tuple[Any, str]:
    """An ``MlflowClient`` (tracking and registry) on the store, and the store's absolute URI.

    A SQLite store that does not exist yet is created and migrated while holding
    ``<file>.lock``; an existing one is opened without waiting on the lock.

    Args:
        tracking_uri: the store (default: see :func:`resolve_tracking_uri`).
        create: create a missing SQLite store (False: :func:`check_store` refuses it).

    Raises:
        TrackingError: the store is missing (``create=False``), or cannot be opened.
    """
    from filelock import FileLock, Timeout
    from mlflow import MlflowClient

    uri = absolute_store_uri(tracking_uri)
    path = sqlite_path(uri)
    if not create:
        check_store(uri)
    try:
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            # MLflow migrates a SQLite store when it first touches it; one process at a time may do that.
            with FileLock(str(path) + ".lock", timeout=LOCK_TIMEOUT_SECONDS):
                client = MlflowClient(tracking_uri=uri, registry_uri=uri)
                client.search_experiments(max_results=1)  # forces the schema to exist
        else:
            client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    except Timeout as exc:
        raise TrackingError(
            f"{path}.lock is held by another process for over {LOCK_TIMEOUT_SECONDS} s; is a run stuck?"
        ) from exc
    except Exception as exc:  # MLflow raises many types for a bad store
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise TrackingError(f"cannot open MLflow store {uri!r}: {first}") from exc
    return client, uri
