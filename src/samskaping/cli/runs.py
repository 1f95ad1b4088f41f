"""``python -m samskaping.runs {list,promote,ui}``: compare, promote and browse MLflow runs."""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Sequence
from typing import Any

from samskaping.cli.common import EXIT_ERROR, EXIT_OK, run_command, setup_logging
from samskaping.runs.registry import DEFAULT_ALIAS, DEFAULT_EXPERIMENT, DEFAULT_MODEL_NAME, DEFAULT_SORT
from samskaping.runs.ui import DEFAULT_PORT

STORE_HELP = "MLflow tracking URI (default: $MLFLOW_TRACKING_URI or sqlite:///mlflow.db)"


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m samskaping.runs", description="Compare, promote and browse MLflow runs."
    )
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--quiet", action="store_true", help="only warnings and errors")
    common.add_argument("--verbose", action="store_true", help="debug messages")
    common.add_argument("--tracking-uri", help=STORE_HELP)
    sub = p.add_subparsers(dest="command", required=True)
    listing = sub.add_parser("list", parents=[common], help="the runs of an experiment, best first")
    listing.add_argument(
        "--experiment", default=DEFAULT_EXPERIMENT, help=f"experiment name (default {DEFAULT_EXPERIMENT})"
    )
    listing.add_argument(
        "--sort", default=DEFAULT_SORT, metavar="METRIC", help=f"metric to sort by, descending (default {DEFAULT_SORT})"
    )
    prom = sub.add_parser("promote", parents=[common], help="set a registry alias on the model version of a run")
    which = prom.add_mutually_exclusive_group(required=True)
    which.add_argument("--run", metavar="RUN_ID", help="run id (or its first characters, as 'list' shows)")
    which.add_argument("--version", metavar="N", help="registered model version")
    prom.add_argument(
        "--name", default=DEFAULT_MODEL_NAME, help=f"registered model name (default {DEFAULT_MODEL_NAME})"
    )
    prom.add_argument("--alias", default=DEFAULT_ALIAS, help=f"alias to set (default {DEFAULT_ALIAS})")
    ui = sub.add_parser("ui", parents=[common], help="start the MLflow UI on 127.0.0.1")
    ui.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port on 127.0.0.1 (default {DEFAULT_PORT})")
    ui.add_argument("--experiment", default=DEFAULT_EXPERIMENT, help="experiment whose runs table to open")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Run one of the three subcommands; returns the exit status."""
    args = parser().parse_args(argv)
    setup_logging(args.quiet, args.verbose)

    def body() -> int:
        from samskaping.runs import registry
        from samskaping.store import absolute_store_uri

        if args.command == "list":
            rows = registry.list_runs(args.experiment, args.sort, args.tracking_uri)
            uri = absolute_store_uri(args.tracking_uri)
            if not rows:
                print(f"experiment '{args.experiment}' in {uri} has no runs yet")
                return EXIT_OK
            print(f"experiment '{args.experiment}' in {uri}: {len(rows)} run(s), sorted by {args.sort}, highest first")
            print(registry.format_table(rows, args.sort))
            return EXIT_OK
        if args.command == "promote":
            print(
                registry.format_promotion(
                    registry.promote(args.run, args.version, args.name, args.alias, args.tracking_uri)
                )
            )
            return EXIT_OK
        return _serve(args.tracking_uri, args.port, args.experiment)

    return run_command(body, interrupted="stopped")


def _serve(tracking_uri: str | None, port: int, experiment: str) -> int:
    """Run the UI in the foreground until Ctrl-C or SIGTERM; print the runs table's address once it answers."""
    from samskaping.runs.ui import runs_table_url, set_up_experiment, start_ui, stop_ui, ui_url, wait_for_ui
    from samskaping.store import absolute_store_uri, open_client

    client, _uri = open_client(tracking_uri, create=False)
    found = client.get_experiment_by_name(experiment)
    if found is not None:  # stores written before the saved view existed get it too
        set_up_experiment(client, found.experiment_id)
    process = start_ui(tracking_uri, port)
    # The server runs in its own process group, so a SIGTERM to this process (timeout, systemd,
    # kill) must stop it explicitly, or it would keep running without a parent.
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        wait_for_ui(port, process)
        address = runs_table_url(port, found.experiment_id) if found is not None else ui_url(port)
        print(
            f"MLflow UI for {absolute_store_uri(tracking_uri)}: {address} (only this machine; Ctrl-C stops it)",
            flush=True,
        )
        status = process.wait()
    except KeyboardInterrupt:
        print("stopping the MLflow UI", file=sys.stderr)
        return EXIT_OK
    finally:
        stop_ui(process)
        signal.signal(signal.SIGTERM, previous)
    if status != 0:
        print(f"error: the MLflow UI exited with status {status}", file=sys.stderr)
        return EXIT_ERROR
    return EXIT_OK


def _interrupt(signum: int, frame: Any) -> None:
    """Turn SIGTERM into KeyboardInterrupt so that clean-up code runs."""
    raise KeyboardInterrupt
