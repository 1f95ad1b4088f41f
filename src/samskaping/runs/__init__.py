"""Compare, promote and browse the MLflow runs of the project.

Command line (:mod:`samskaping.cli.runs`)::

    python -m samskaping.runs list [--experiment samskaping] [--sort test_mean_macro_f1] [--tracking-uri URI]
    python -m samskaping.runs promote (--run RUN_ID | --version N) [--name samskaping] [--alias champion]
    python -m samskaping.runs ui [--port 5000] [--tracking-uri URI]

:mod:`~samskaping.runs.registry` lists and promotes; :mod:`~samskaping.runs.ui`
starts and stops the MLflow UI.
"""

from samskaping.runs.registry import (
    DEFAULT_ALIAS,
    DEFAULT_EXPERIMENT,
    DEFAULT_MODEL_NAME,
    DEFAULT_SORT,
    Promotion,
    RunRow,
    format_promotion,
    format_table,
    list_runs,
    promote,
)
from samskaping.runs.ui import DEFAULT_PORT, runs_table_url, start_ui, stop_ui, ui_command, ui_url, wait_for_ui
from samskaping.store import absolute_store_uri

__all__ = [
    "DEFAULT_ALIAS",
    "DEFAULT_EXPERIMENT",
    "DEFAULT_MODEL_NAME",
    "DEFAULT_PORT",
    "DEFAULT_SORT",
    "Promotion",
    "RunRow",
    "absolute_store_uri",
    "format_promotion",
    "format_table",
    "list_runs",
    "promote",
    "runs_table_url",
    "start_ui",
    "stop_ui",
    "ui_command",
    "ui_url",
    "wait_for_ui",
]
