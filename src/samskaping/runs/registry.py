"""Compare and promote the MLflow runs of the project (the registry side of ``python -m samskaping.runs``).

``list_runs`` gives the runs of an experiment, best first; ``promote`` points
a registry alias (``champion``) at the model version of a run, so that
``python predict.py --model models:/samskaping@champion`` uses it. The store
is the one ``train.py`` writes to (:func:`samskaping.store.resolve_tracking_uri`);
a SQLite store that does not exist is an error here rather than silently
created empty.
"""

from __future__ import annotations

import difflib
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from samskaping.errors import TrackingError
from samskaping.labels import LABEL_SET_NAMES
from samskaping.store import open_client

log = logging.getLogger(__name__)

DEFAULT_EXPERIMENT = "samskaping"
DEFAULT_SORT = "test_mean_macro_f1"
DEFAULT_MODEL_NAME = "samskaping"
DEFAULT_ALIAS = "champion"
SHORT_ID = 8
MISSING = "-"
TEST_F1_METRICS: tuple[str, ...] = tuple(f"test_{ls}_macro_f1" for ls in LABEL_SET_NAMES)


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


def _client(tracking_uri: str | None) -> tuple[Any, str]:
    """An MlflowClient on the project's existing store (tracking and registry) and its URI."""
    return open_client(tracking_uri, create=False)


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

    Own code, not ``DataFrame.to_string``: pandas cannot left-align text and
    right-align numbers under their headers in one table.

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
    from mlflow.exceptions import MlflowException

    try:
        client.get_run(run_id)
    except MlflowException:  # an unknown or malformed id
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
    from mlflow.exceptions import MlflowException

    if not version.isdigit():
        raise TrackingError(f"--version must be a number such as 2, got {version!r}")
    try:
        return client.get_model_version(name, version)
    except MlflowException as exc:  # RESOURCE_DOES_NOT_EXIST
        try:
            known = sorted(int(mv.version) for mv in client.search_model_versions(f"name = '{_quote(name)}'"))
        except MlflowException:  # the model itself may be missing
            known = []
        listing = ", ".join(map(str, known)) if known else "none"
        raise TrackingError(f"model '{name}' has no version {version} in {uri}; versions there: {listing}") from exc


def _alias_version(client: Any, name: str, alias: str) -> str | None:
    from mlflow.exceptions import MlflowException

    try:
        return str(client.get_model_version_by_alias(name, alias).version)
    except MlflowException:  # the alias is not set yet
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
