"""Compare, promote and browse the MLflow runs of the project.

Command line::

    python -m samskaping.runs list [--experiment samskaping] [--sort test_mean_macro_f1] [--tracking-uri URI]
    python -m samskaping.runs promote (--run RUN_ID | --version N) [--name samskaping] [--alias champion]
    python -m samskaping.runs ui [--port 5000] [--tracking-uri URI]

``list`` prints the runs of an experiment as an aligned table, best first.
``promote`` points a registry alias (``champion``) at the model version of a
run, so that ``python predict.py --model models:/samskaping@champion`` uses
it. ``ui`` starts the MLflow UI on 127.0.0.1 only; see the README for serving
it to a team.

The store is the one ``train.py`` writes to (see
:func:`samskaping.tracking.resolve_tracking_uri`). A SQLite store that does
not exist is an error here rather than silently created empty.
"""

from __future__ import annotations

import argparse
import contextlib
import difflib
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from samskaping.errors import SamskapingError, TrackingError
from samskaping.labels import LABEL_SET_NAMES
from samskaping.tracking import resolve_tracking_uri

log = logging.getLogger(__name__)

DEFAULT_EXPERIMENT = "samskaping"
DEFAULT_SORT = "test_mean_macro_f1"
DEFAULT_MODEL_NAME = "samskaping"
DEFAULT_ALIAS = "champion"
DEFAULT_PORT = 5000
LOOPBACK = "127.0.0.1"
SHORT_ID = 8
MISSING = "-"
TEST_F1_METRICS: tuple[str, ...] = tuple(f"test_{ls}_macro_f1" for ls in LABEL_SET_NAMES)
SQLITE_PREFIX = "sqlite:///"


@dataclass(frozen=True)
class RunRow:
    """One run of an experiment, as ``list`` shows it."""

    run_id: str
    run_name: str
    status: str
    start_time: int
    params: dict[str, str]
    metrics: dict[str, float]
    registered: tuple[str, ...] = ()

    @property
    def short_id(self) -> str:
        return self.run_id[:SHORT_ID]


@dataclass(frozen=True)
class Promotion:
    """What ``promote`` did."""

    name: str
    alias: str
    version: str
    run_id: str
    run_name: str
    metrics: dict[str, float]
    previous_version: str | None = None
    tracking_uri: str = ""
    test_metrics: dict[str, float] = field(default_factory=dict)

    @property
    def model_uri(self) -> str:
        return f"models:/{self.name}@{self.alias}"


# ---------------------------------------------------------------- the store


def absolute_store_uri(tracking_uri: str | None = None) -> str:
    """The tracking URI with a relative SQLite path made absolute (so it works from any folder).

    Args:
        tracking_uri: an explicit URI, else ``$MLFLOW_TRACKING_URI``, else ``sqlite:///mlflow.db``.

    Returns:
        The URI; only ``sqlite:///relative/path`` is changed.
    """
    uri = resolve_tracking_uri(tracking_uri)
    if uri.startswith(SQLITE_PREFIX):
        path = uri[len(SQLITE_PREFIX) :]
        if path and path != ":memory:" and not path.startswith("/"):
            return SQLITE_PREFIX + str(Path(path).resolve())
    return uri


def check_store(tracking_uri: str) -> None:
    """Refuse a SQLite store whose file does not exist (MLflow would create an empty one).

    Raises:
        TrackingError: the SQLite file is missing.
    """
    if tracking_uri.startswith(SQLITE_PREFIX):
        path = Path(tracking_uri[len(SQLITE_PREFIX) :].split("?", 1)[0])
        if str(path) != ":memory:" and not path.is_file():
            raise TrackingError(
                f"no MLflow store at {path}; train a model first (python train.py --config configs/baseline.yaml) "
                "or pass --tracking-uri"
            )


def _client(tracking_uri: str | None) -> tuple[Any, str]:
    """An MlflowClient on the project's store (tracking and registry) and its URI."""
    from mlflow import MlflowClient

    uri = absolute_store_uri(tracking_uri)
    check_store(uri)
    return MlflowClient(tracking_uri=uri, registry_uri=uri), uri


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _experiment_id(client: Any, experiment: str, uri: str) -> str:
    try:
        found = client.get_experiment_by_name(experiment)
    except Exception as exc:  # MLflow raises many types for an unreadable store
        raise TrackingError(f"cannot read MLflow store {uri}: {_first_line(exc)}") from exc
    if found is None:
        names = sorted(e.name for e in client.search_experiments())
        hint = difflib.get_close_matches(experiment, names, n=1)
        did_you_mean = f" (did you mean '{hint[0]}'?)" if hint else ""
        listing = ", ".join(names) if names else "none"
        raise TrackingError(
            f"no experiment '{experiment}' in {uri}{did_you_mean}; experiments there: {listing}; "
            "pick one with --experiment"
        )
    return str(found.experiment_id)


def _paged(fetch: Any) -> Iterable[Any]:
    """All items of an MLflow search that returns pages (``fetch(page_token)``)."""
    token = None
    while True:
        page = fetch(token)
        yield from page
        token = page.token
        if not token:
            return


def _registered_versions(client: Any) -> dict[str, list[str]]:
    """``run_id -> ["samskaping v2 @champion", ...]`` over every registered model version."""
    # search_model_versions leaves ``aliases`` empty on SQL stores; the registered models carry them.
    aliases_of: dict[tuple[str, str], list[str]] = {}
    for model in _paged(lambda token: client.search_registered_models(page_token=token)):
        for alias, version in (model.aliases or {}).items():
            aliases_of.setdefault((model.name, str(version)), []).append(alias)
    labels: dict[str, list[tuple[str, int, str]]] = {}
    for mv in _paged(lambda token: client.search_model_versions(page_token=token)):
        if not mv.run_id:
            continue
        aliases = "".join(f" @{a}" for a in sorted(aliases_of.get((mv.name, str(mv.version)), [])))
        labels.setdefault(mv.run_id, []).append((mv.name, int(mv.version), f"{mv.name} v{mv.version}{aliases}"))
    return {run_id: [text for _, _, text in sorted(items)] for run_id, items in labels.items()}


# ---------------------------------------------------------------- list


def list_runs(
    experiment: str = DEFAULT_EXPERIMENT,
    sort: str = DEFAULT_SORT,
    tracking_uri: str | None = None,
) -> list[RunRow]:
    """The active runs of ``experiment``, best first by metric ``sort``.

    Runs without the metric come last; ties go to the newer run.

    Args:
        experiment: the MLflow experiment name (``tracking.experiment`` of the config).
        sort: a metric key, e.g. ``test_mean_macro_f1`` or ``validation_factor_macro_f1``.
        tracking_uri: the store (default: see :func:`absolute_store_uri`).

    Returns:
        One :class:`RunRow` per run, sorted.

    Raises:
        TrackingError: the store or experiment does not exist, or no run has the metric.
    """
    client, uri = _client(tracking_uri)
    experiment_id = _experiment_id(client, experiment, uri)
    runs = list(_paged(lambda token: client.search_runs([experiment_id], page_token=token)))
    versions = _registered_versions(client) if runs else {}
    rows = [
        RunRow(
            run_id=run.info.run_id,
            run_name=run.info.run_name or "",
            status=run.info.status,
            start_time=int(run.info.start_time or 0),
            params=dict(run.data.params),
            metrics=dict(run.data.metrics),
            registered=tuple(versions.get(run.info.run_id, ())),
        )
        for run in runs
    ]
    if rows and not any(sort in row.metrics for row in rows):
        known = sorted({key for row in rows for key in row.metrics})
        hint = difflib.get_close_matches(sort, known, n=1)
        did_you_mean = f" (did you mean '{hint[0]}'?)" if hint else ""
        shown = ", ".join(k for k in known if k.endswith("macro_f1")) or ", ".join(known[:10])
        raise TrackingError(
            f"no run in experiment '{experiment}' has metric '{sort}'{did_you_mean}; try one of: {shown}"
        )
    # Newest first, then a stable sort by the metric keeps the newer run first on ties.
    rows.sort(key=lambda row: row.start_time, reverse=True)
    rows.sort(key=lambda row: (sort not in row.metrics, -row.metrics.get(sort, 0.0)))
    return rows


def _fmt_metric(value: float | None) -> str:
    return MISSING if value is None else f"{value:.3f}"


def format_table(rows: Sequence[RunRow], sort: str = DEFAULT_SORT) -> str:
    """An aligned plain-text table of ``rows`` (metrics right-aligned, three decimals).

    Args:
        rows: runs as returned by :func:`list_runs`.
        sort: the metric the rows are sorted by; it gets its own column if it is not a shown one.

    Returns:
        The table, header first, without a trailing newline.
    """
    metric_columns = list(TEST_F1_METRICS) + ([sort] if sort not in TEST_F1_METRICS else [])
    headers = ["run id", "run name", "status", "model.kind", "model.name", "dataset.digest"]
    headers += [
        m.removeprefix("test_").replace("_macro_f1", " F1") if m in TEST_F1_METRICS else m for m in metric_columns
    ]
    headers += ["registered"]
    first_metric = 6
    body = [
        [
            row.short_id,
            row.run_name or MISSING,
            row.status,
            row.params.get("model.kind", MISSING),
            row.params.get("model.name", MISSING),
            row.params.get("dataset.digest", MISSING),
            *(_fmt_metric(row.metrics.get(m)) for m in metric_columns),
            ", ".join(row.registered) or MISSING,
        ]
        for row in rows
    ]
    widths = [max(len(str(cell)) for cell in column) for column in zip(headers, *body, strict=False)]
    numeric = set(range(first_metric, first_metric + len(metric_columns)))

    def line(cells: Sequence[str]) -> str:
        parts = [
            c.rjust(w) if i in numeric else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=False))
        ]
        return "  ".join(parts).rstrip()

    separator = "  ".join("-" * w for w in widths)
    return "\n".join([line(headers), separator, *(line(r) for r in body)])


# ---------------------------------------------------------------- promote


def _version_of_run(client: Any, name: str, run: str, uri: str) -> Any:
    """The registered version of ``name`` whose run id is ``run`` or starts with it (the newest if several)."""
    versions = list(_paged(lambda token: client.search_model_versions(f"name = '{_quote(name)}'", page_token=token)))
    if not versions:
        raise TrackingError(
            f"no registered model '{name}' in {uri}; train with tracking.registered_model_name set, or pass --name"
        )
    matching = [mv for mv in versions if mv.run_id and mv.run_id.startswith(run)]
    run_ids = sorted({mv.run_id for mv in matching})
    if len(run_ids) > 1:
        raise TrackingError(
            f"run id '{run}' is ambiguous: it starts {len(run_ids)} runs ({', '.join(run_ids)}); give more characters"
        )
    if not matching:
        exists = _run_exists(client, run)
        what = f"run '{run}' has no registered version of model '{name}'" if exists else f"no run '{run}' in {uri}"
        raise TrackingError(
            f"{what}; promote a run that shows a version in 'python -m samskaping.runs list', or use --version"
        )
    newest = max(matching, key=lambda mv: int(mv.version))
    if len(matching) > 1:
        log.info("run %s has %d versions of %s; promoting the newest, %s", run, len(matching), name, newest.version)
    return newest


def _run_exists(client: Any, run_id: str) -> bool:
    try:
        client.get_run(run_id)
    except Exception:  # MLflow raises MlflowException for an unknown or malformed id
        return False
    return True


def _quote(text: str) -> str:
    return text.replace("'", "\\'")


def promote(
    run_id: str | None = None,
    version: str | int | None = None,
    name: str = DEFAULT_MODEL_NAME,
    alias: str = DEFAULT_ALIAS,
    tracking_uri: str | None = None,
) -> Promotion:
    """Point ``alias`` of registered model ``name`` at the version of a run, or at a version.

    Args:
        run_id: a run id, or its first characters as ``list`` shows them.
        version: a registry version number (instead of ``run_id``).
        name: the registered model name (``tracking.registered_model_name``).
        alias: the alias to set, e.g. ``champion``.
        tracking_uri: the store (default: see :func:`absolute_store_uri`).

    Returns:
        The version now behind ``models:/<name>@<alias>``, its run and its metrics.

    Raises:
        TrackingError: neither or both of run and version given, the model, run or
            version is unknown, or the run has no registered version.
    """
    if (run_id is None) == (version is None):
        raise TrackingError("give exactly one of --run RUN_ID or --version N")
    if not alias or alias.strip() != alias:
        raise TrackingError(f"alias {alias!r} is empty or has surrounding spaces; use a plain name such as 'champion'")
    client, uri = _client(tracking_uri)
    if run_id is not None:
        target = _version_of_run(client, name, run_id.strip(), uri)
    else:
        target = _get_version(client, name, str(version), uri)

    previous = _alias_version(client, name, alias)
    try:
        client.set_registered_model_alias(name, alias, str(target.version))
    except Exception as exc:  # MLflow rejects reserved or malformed aliases (e.g. 'latest', 'v1')
        raise TrackingError(
            f"cannot set alias '{alias}' on {name} version {target.version}: {_first_line(exc)}"
        ) from exc
    run_name, metrics = "", {}
    if target.run_id and _run_exists(client, target.run_id):
        run = client.get_run(target.run_id)
        run_name, metrics = run.info.run_name or "", dict(run.data.metrics)
    log.debug("alias %s of %s now points at version %s", alias, name, target.version)
    return Promotion(
        name=name,
        alias=alias,
        version=str(target.version),
        run_id=target.run_id or "",
        run_name=run_name,
        metrics=metrics,
        previous_version=previous,
        tracking_uri=uri,
        test_metrics={k: metrics[k] for k in (*TEST_F1_METRICS, "test_mean_macro_f1") if k in metrics},
    )


def _get_version(client: Any, name: str, version: str, uri: str) -> Any:
    if not version.isdigit():
        raise TrackingError(f"--version must be a number such as 2, got {version!r}")
    try:
        return client.get_model_version(name, version)
    except Exception as exc:  # MlflowException RESOURCE_DOES_NOT_EXIST
        try:
            known = sorted(int(mv.version) for mv in client.search_model_versions(f"name = '{_quote(name)}'"))
        except Exception:  # the model itself may be missing
            known = []
        listing = ", ".join(map(str, known)) if known else "none"
        raise TrackingError(f"model '{name}' has no version {version} in {uri}; versions there: {listing}") from exc


def _alias_version(client: Any, name: str, alias: str) -> str | None:
    try:
        return str(client.get_model_version_by_alias(name, alias).version)
    except Exception:  # the alias is not set yet
        return None


def format_promotion(result: Promotion) -> str:
    """What ``promote`` prints: the version, its run, its test metrics and how to use it."""
    moved = "" if result.previous_version in (None, result.version) else f" (was version {result.previous_version})"
    run = f"run {result.run_id[:SHORT_ID]} '{result.run_name}'" if result.run_id else "no run"
    lines = [f"promoted {result.name} version {result.version} ({run}) to @{result.alias}{moved}"]
    if result.test_metrics:
        shown = ", ".join(
            f"{k.removeprefix('test_').replace('_macro_f1', '')} {v:.3f}" for k, v in result.test_metrics.items()
        )
        lines.append(f"test macro-F1: {shown}")
    else:
        lines.append("test macro-F1: not logged for this run")
    lines.append(f"use it with: python predict.py --model {result.model_uri} INPUT... --output DIR")
    return "\n".join(lines)


# ---------------------------------------------------------------- ui


def ui_command(tracking_uri: str | None = None, port: int = DEFAULT_PORT, workers: int = 1) -> list[str]:
    """The ``mlflow ui`` command line for the project's store, bound to 127.0.0.1.

    ``python -m mlflow`` of this interpreter is used, so the venv's MLflow runs
    even when ``mlflow`` is not on PATH. One worker is plenty for one person
    and starts faster than MLflow 3's default of four. The Host-header and
    CORS checks of MLflow 3 allow localhost by default, so no
    ``--allowed-hosts`` is needed (and none should be widened here).

    Args:
        tracking_uri: the store (default: see :func:`absolute_store_uri`).
        port: the TCP port on 127.0.0.1.
        workers: server worker processes.

    Returns:
        The argument list for :mod:`subprocess`.

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


def start_ui(
    tracking_uri: str | None = None,
    port: int = DEFAULT_PORT,
    cwd: str | Path | None = None,
    quiet: bool = False,
) -> subprocess.Popen[bytes]:
    """Start the MLflow UI in its own process group; stop it with :func:`stop_ui`.

    Args:
        tracking_uri: the store (default: see :func:`absolute_store_uri`).
        port: the TCP port on 127.0.0.1.
        cwd: the server's working folder (default: the current one).
        quiet: discard the server's output.

    Returns:
        The running server process.

    Raises:
        TrackingError: the store does not exist, or see :func:`ui_command`.
    """
    command = ui_command(tracking_uri, port)
    check_store(command[command.index("--backend-store-uri") + 1])
    log.info("starting: %s", " ".join(command))
    output = subprocess.DEVNULL if quiet else None
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
                f"the MLflow UI exited with status {process.returncode}; is port {port} already in use?"
            )
        try:
            with urlopen(f"{ui_url(port)}/health", timeout=2) as response:
                if response.status == 200:
                    return
        except (URLError, OSError):
            pass
        time.sleep(0.3)
    raise TrackingError(f"the MLflow UI did not answer on {ui_url(port)} within {timeout:.0f} s")


# ---------------------------------------------------------------- command line


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m samskaping.runs {list,promote,ui}``; returns the exit status."""
    from samskaping.cli import EXIT_ERROR, EXIT_INTERRUPTED, EXIT_OK, setup_logging

    parser = argparse.ArgumentParser(
        prog="python -m samskaping.runs", description="Compare, promote and browse MLflow runs."
    )
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--quiet", action="store_true", help="only warnings and errors")
    common.add_argument("--verbose", action="store_true", help="debug messages")
    sub = parser.add_subparsers(dest="command", required=True)
    store_help = "MLflow tracking URI (default: $MLFLOW_TRACKING_URI or sqlite:///mlflow.db)"

    listing = sub.add_parser("list", parents=[common], help="the runs of an experiment, best first")
    listing.add_argument(
        "--experiment", default=DEFAULT_EXPERIMENT, help=f"experiment name (default {DEFAULT_EXPERIMENT})"
    )
    listing.add_argument(
        "--sort", default=DEFAULT_SORT, metavar="METRIC", help=f"metric to sort by, descending (default {DEFAULT_SORT})"
    )
    listing.add_argument("--tracking-uri", help=store_help)

    prom = sub.add_parser("promote", parents=[common], help="set a registry alias on the model version of a run")
    which = prom.add_mutually_exclusive_group(required=True)
    which.add_argument("--run", metavar="RUN_ID", help="run id (or its first characters, as 'list' shows)")
    which.add_argument("--version", metavar="N", help="registered model version")
    prom.add_argument(
        "--name", default=DEFAULT_MODEL_NAME, help=f"registered model name (default {DEFAULT_MODEL_NAME})"
    )
    prom.add_argument("--alias", default=DEFAULT_ALIAS, help=f"alias to set (default {DEFAULT_ALIAS})")
    prom.add_argument("--tracking-uri", help=store_help)

    ui = sub.add_parser("ui", parents=[common], help="start the MLflow UI on 127.0.0.1")
    ui.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port on 127.0.0.1 (default {DEFAULT_PORT})")
    ui.add_argument("--tracking-uri", help=store_help)

    args = parser.parse_args(argv)
    setup_logging(args.quiet, args.verbose)
    try:
        if args.command == "list":
            rows = list_runs(args.experiment, args.sort, args.tracking_uri)
            uri = absolute_store_uri(args.tracking_uri)
            if not rows:
                print(f"experiment '{args.experiment}' in {uri} has no runs yet")
                return EXIT_OK
            print(f"experiment '{args.experiment}' in {uri}: {len(rows)} run(s), sorted by {args.sort}, highest first")
            print(format_table(rows, args.sort))
            return EXIT_OK
        if args.command == "promote":
            result = promote(args.run, args.version, args.name, args.alias, args.tracking_uri)
            print(format_promotion(result))
            return EXIT_OK
        return _serve(args.tracking_uri, args.port)
    except SamskapingError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED


def _serve(tracking_uri: str | None, port: int) -> int:
    """Run the UI in the foreground until Ctrl-C."""
    from samskaping.cli import EXIT_ERROR, EXIT_OK

    process = start_ui(tracking_uri, port)
    print(
        f"MLflow UI for {absolute_store_uri(tracking_uri)}: {ui_url(port)} (only this machine; Ctrl-C stops it)",
        flush=True,
    )
    # The server runs in its own process group, so a SIGTERM to this process (timeout, systemd,
    # kill) must stop it explicitly, or it would keep running without a parent.
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        status = process.wait()
    except KeyboardInterrupt:
        print("stopping the MLflow UI", file=sys.stderr)
        return EXIT_OK
    finally:
        stop_ui(process)
        signal.signal(signal.SIGTERM, previous)
    if status != 0:
        print(
            f"error: the MLflow UI exited with status {status}; is port {port} already in use? try --port",
            file=sys.stderr,
        )
        return EXIT_ERROR
    return EXIT_OK


def _interrupt(signum: int, frame: Any) -> None:
    """Turn SIGTERM into KeyboardInterrupt so that clean-up code runs."""
    raise KeyboardInterrupt


if __name__ == "__main__":
    sys.exit(main())
