"""Start, find and stop the MLflow UI on the project's store (the ``ui`` side of ``python -m samskaping.runs``).

The UI listens on 127.0.0.1 only (see the README for serving it to a team).
Before starting, the port is checked: a busy port is an error with a free one
suggested, so the command never prints an address that serves something else.
The address printed is the experiment's runs table sorted by
``test_mean_macro_f1``, the table the README's screenshot shows.

How the page opens is set with MLflow's own means (MLflow 3.x, read from its
UI code in ``mlflow/server/js``), not by scripting the browser:

- the experiment tag ``mlflow.experimentKind = custom_model_development``
  makes it a training experiment (the Runs tab, not the GenAI pages);
- a saved view, the experiment tag ``mlflow.sharedViewState.<key>`` that the
  UI's own «Share» button writes, holds the sort and the columns to show (the
  test macro-F1 of every label set and their mean); the address opens it with
  ``?viewStateShareKey=<key>``;
- ``workflowType=machine_learning`` in the address switches the side bar to
  its machine-learning entries (the UI's own setting, remembered by the browser).
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from samskaping.errors import TrackingError
from samskaping.store import absolute_store_uri, check_store

log = logging.getLogger(__name__)

DEFAULT_PORT = 5000
LOOPBACK = "127.0.0.1"
SORT_METRIC = "test_mean_macro_f1"
# the runs table's metric columns: the test macro-F1 of each label set and their mean
F1_COLUMNS = ("test_mean_macro_f1", "test_conception_macro_f1", "test_factor_macro_f1", "test_polarity_macro_f1")
EXPERIMENT_KIND = ("mlflow.experimentKind", "custom_model_development")
VIEW_KEY = "samskaping-training"
VIEW_TAG_PREFIX = "mlflow.sharedViewState."  # the experiment tags the UI keeps its saved views in («Views», «Share»)


def training_view(metric: str = SORT_METRIC) -> dict[str, object]:
    """The saved view of the runs table: best first by ``metric``, the test macro-F1 columns shown."""
    return {
        "orderByKey": f"metrics.`{metric}`",
        "orderByAsc": False,
        # only the F1 columns besides the fixed ones (run name, created, duration): the default Source, Models
        # and Dataset columns are wide and pushed the metrics out of sight
        "selectedColumns": [f"metrics.`{name}`" for name in F1_COLUMNS],
    }


VIEW_NAME = "Test macro-F1 (samskaping)"
VIEW_CREATED_MS = 1_764_547_200_000  # fixed, so that saving the view again changes nothing


def set_up_experiment(client: object, experiment_id: str) -> None:
    """Mark the experiment as a training experiment and save the runs table's view on it (idempotent).

    The view is written in the envelope the UI's «Views» menu reads and writes
    (``{"name", "createdAt", "updatedAt", "state"}``, the state a JSON string), so it
    is also listed there by name.
    """
    import json

    envelope = {
        "name": VIEW_NAME,
        "createdAt": VIEW_CREATED_MS,
        "updatedAt": VIEW_CREATED_MS,
        "state": json.dumps(training_view()),
    }
    client.set_experiment_tag(experiment_id, *EXPERIMENT_KIND)  # type: ignore[attr-defined]
    client.set_experiment_tag(experiment_id, VIEW_TAG_PREFIX + VIEW_KEY, json.dumps(envelope))  # type: ignore[attr-defined]


def ui_command(tracking_uri: str | None = None, port: int = DEFAULT_PORT, workers: int = 1) -> list[str]:
    """The ``mlflow ui`` command line for the project's store, bound to 127.0.0.1.

    ``python -m mlflow`` of this interpreter is used, so the venv's MLflow runs
    even when ``mlflow`` is not on PATH. One worker is plenty for one person
    and starts faster than MLflow 3's default of four. The Host-header and
    CORS checks of MLflow 3 allow localhost by default, so no
    ``--allowed-hosts`` is needed (and none should be widened here).

    Raises:
        TrackingError: the port is out of range, or the URI is already a server.
    """
    if not 1 <= port <= 65535:
        raise TrackingError(f"--port must be between 1 and 65535, got {port}")
    uri = absolute_store_uri(tracking_uri)
    if uri.startswith(("http://", "https://", "databricks")):
        raise TrackingError(f"{uri} is already a tracking server; open it in a browser instead of starting a UI")
    return [
        sys.executable,
        "-m",
        "mlflow",
        "ui",
        "--backend-store-uri",
        uri,
        "--host",
        LOOPBACK,
        "--port",
        str(port),
        "--workers",
        str(workers),
    ]


def ui_url(port: int = DEFAULT_PORT) -> str:
    """The address the UI answers on."""
    return f"http://{LOOPBACK}:{port}"


def runs_table_url(port: int, experiment_id: str) -> str:
    """The experiment's runs table in its saved view (:func:`set_up_experiment`), best first by test mean macro-F1."""
    # no sort or filter in the address: search parameters there would take the place of the saved view's
    return (
        f"{ui_url(port)}/#/experiments/{experiment_id}/runs?viewStateShareKey={VIEW_KEY}&workflowType=machine_learning"
    )


def port_is_free(port: int) -> bool:
    """Whether nothing listens on 127.0.0.1:``port`` (a bind test, as the server would do)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((LOOPBACK, port))
        except OSError:
            return False
    return True


def check_port(port: int) -> None:
    """Refuse a busy port, suggesting the next free one.

    Raises:
        TrackingError: «port 5000 is in use; try --port 5001».
    """
    if port_is_free(port):
        return
    free = next((p for p in range(port + 1, min(port + 50, 65536)) if port_is_free(p)), None)
    hint = f"; try --port {free}" if free else "; choose another --port"
    raise TrackingError(f"port {port} is in use{hint}")


def start_ui(
    tracking_uri: str | None = None, port: int = DEFAULT_PORT, cwd: str | Path | None = None, quiet: bool = False
) -> subprocess.Popen[bytes]:
    """Start the MLflow UI in its own process group; stop it with :func:`stop_ui`.

    Raises:
        TrackingError: the store does not exist, the port is busy, or see :func:`ui_command`.
    """
    command = ui_command(tracking_uri, port)
    check_store(command[command.index("--backend-store-uri") + 1])
    check_port(port)
    log.info("starting: %s", " ".join(command))
    # the server's own messages go to stderr (or nowhere): stdout carries only the address
    output = subprocess.DEVNULL if quiet else sys.stderr
    # MLflow 3's job runner (a second process, for GenAI judges and prompt optimisation) is of no use
    # for browsing training runs and slows the start; the user can still switch it on in the environment.
    env = {**os.environ}
    env.setdefault("MLFLOW_SERVER_ENABLE_JOB_EXECUTION", "false")
    # A new session makes the server (uvicorn and its workers) one process group, stopped together.
    return subprocess.Popen(command, cwd=cwd, env=env, stdout=output, stderr=output, start_new_session=True)


def stop_ui(process: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    """Stop a server started by :func:`start_ui`, with its whole process group."""
    if process.poll() is not None:
        return
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=timeout)
            break
        except subprocess.TimeoutExpired:
            continue
    # Workers may outlive the parent for a moment; make sure the group is gone.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


def wait_for_ui(port: int, process: subprocess.Popen[bytes] | None = None, timeout: float = 60.0) -> None:
    """Wait until the UI answers ``/health`` on 127.0.0.1.

    Raises:
        TrackingError: the server exited or did not answer within ``timeout`` seconds.
    """
    from urllib.error import URLError
    from urllib.request import urlopen

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise TrackingError(
                f"the MLflow UI exited with status {process.returncode} before it answered on port {port}"
            )
        try:
            with urlopen(f"{ui_url(port)}/health", timeout=2) as response:
                if response.status == 200:
                    return
        except (URLError, OSError):
            pass
        time.sleep(0.3)
    raise TrackingError(f"the MLflow UI did not answer on {ui_url(port)} within {timeout:.0f} s")
