"""``train(cfg)``: load data, build the model, fit, evaluate, save, track.

The model folder is written to a temporary sibling folder and renamed into
place at the end, so an interrupted run never leaves a half-written model.
"""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd

from samskaping.config import Config, flatten
from samskaping.data import LabelledData, dataset_digest, load_labelled, split_frame
from samskaping.errors import SamskapingError
from samskaping.evaluation import LabelSetReport, confusion_figure, evaluate, f1_bar_figure, metric_dict
from samskaping.models import build_model
from samskaping.models.base import Classifier, decode_predictions
from samskaping.tracking import Tracker, make_tracker

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainResult:
    """What a training run produced."""

    model_dir: Path
    metrics: dict[str, float]
    run_id: str | None
    registered_version: str | None
    train_seconds: float


def default_output(cfg: Config, config_path: str | Path | None) -> Path:
    """``models/<config name>-<YYYYmmdd-HHMMSS>``."""
    stem = Path(config_path).stem if config_path else cfg.model.kind
    return Path("models") / f"{stem}-{datetime.now():%Y%m%d-%H%M%S}"


def check_writable(output: Path) -> None:
    """Fail before any work when the model folder cannot be written.

    Raises:
        SamskapingError: the parent folder cannot be created or written to.
    """
    parent = output.resolve().parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=parent, prefix=".samskaping-write-test-"):
            pass
    except OSError as exc:
        raise SamskapingError(
            f"--output {output}: cannot write to {parent} ({exc.strerror or exc}); choose a folder you can write to"
        ) from exc


def _labels(frame: pd.DataFrame, label_sets: tuple[str, ...]) -> dict[str, list[str]]:
    return {ls: frame[ls].tolist() for ls in label_sets}


def contexts_of(frame: pd.DataFrame) -> list[str] | None:
    """The ``context`` column (list lead-ins), or None when the data has none."""
    return frame["context"].fillna("").astype(str).tolist() if "context" in frame.columns else None


def _evaluate_split(
    model: Classifier, frame: pd.DataFrame, split: str, label_sets: tuple[str, ...], batch_size: int
) -> tuple[dict[str, LabelSetReport], pd.DataFrame]:
    probs = model.predict_proba(frame["text"].tolist(), batch_size=batch_size, contexts=contexts_of(frame))
    predicted, scores = decode_predictions(probs)
    reports = evaluate(_labels(frame, label_sets), predicted, label_sets)
    table = frame[[c for c in ("id", "text") if c in frame.columns]].copy()
    for ls in label_sets:
        table[f"true_{ls}"] = frame[ls].to_numpy()
        table[f"pred_{ls}"] = predicted[ls]
        table[f"{ls}_score"] = scores[ls].round(4)
    return reports, table


def _log_reports(tracker: Tracker, split: str, reports: dict[str, LabelSetReport], model_name: str) -> None:
    tracker.log_dict({ls: r.as_dict() for ls, r in reports.items()}, f"reports/{split}_classification_report.json")
    for ls, report in reports.items():
        tracker.log_figure(confusion_figure(report, f"{model_name} — {split} — {ls}"), f"plots/{split}_{ls}_confusion.png")
    tracker.log_figure(f1_bar_figure(reports, f"{model_name} — {split} — F1 per class"), f"plots/{split}_f1_per_class.png")


def train(
    cfg: Config,
    output_dir: str | Path | None = None,
    config_path: str | Path | None = None,
    progress: bool = True,
) -> TrainResult:
    """Train, evaluate on validation and test, save the model folder and track the run.

    Args:
        cfg: the validated config.
        output_dir: the model folder to write (default: see :func:`default_output`).
        config_path: the config file, for the default folder name and the run's tags.
        progress: show progress bars.

    Returns:
        The model folder, the metrics, and the MLflow run id and registry version.

    Raises:
        DataError, ModelLoadError, TrackingError: see their messages.
    """
    output = Path(output_dir) if output_dir else default_output(cfg, config_path)
    check_writable(output)
    data: LabelledData = load_labelled(cfg.data.path, on_invalid=cfg.data.on_invalid)
    splits = split_frame(data, cfg.data.validation_size, cfg.data.test_size, cfg.training.seed)
    label_sets = cfg.model.label_sets
    model = build_model(cfg, progress=progress)  # resolves the encoder before any run is opened
    tracker = make_tracker(cfg.tracking.enabled, cfg.tracking.tracking_uri, cfg.tracking.experiment)
    run_name = cfg.tracking.run_name or output.name
    tags = {"model.kind": cfg.model.kind, "model.name": cfg.model.name, "config": str(config_path or "")}
    staging = output.with_name(output.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)

    with tracker.run(run_name=run_name, tags=tags):
        params = flatten(cfg.to_dict())
        params.update({"dataset.digest": data.digest, "dataset.name": data.path.name})
        params.update({f"dataset.rows.{name}": len(part) for name, part in splits.items()})
        if data.problems:
            params["dataset.rows_left_out"] = len({p.row for p in data.problems})
        tracker.log_params(params)
        for name, part in splits.items():
            # one MLflow dataset per split (MLflow merges inputs that share name and digest)
            tracker.log_dataset(part, f"{data.path.name}:{name}", dataset_digest(part), str(data.path), context=name)

        started = time.perf_counter()
        try:
            fit_info = model.fit(
                splits["train"]["text"].tolist(),
                _labels(splits["train"], label_sets),
                validation=(
                    splits["validation"]["text"].tolist(), _labels(splits["validation"], label_sets),
                    contexts_of(splits["validation"]),
                ),
                tracker=tracker,
                contexts=contexts_of(splits["train"]),
            )
        except KeyboardInterrupt:
            _keep_interrupted(model, output, data.digest, tracker)
            raise
        train_seconds = time.perf_counter() - started

        metrics: dict[str, float] = {"train_seconds": round(train_seconds, 2)}
        batch = cfg.training.eval_batch_size
        for split in ("validation", "test"):
            reports, table = _evaluate_split(model, splits[split], split, label_sets, batch)
            metrics.update(metric_dict(split, reports))
            _log_reports(tracker, split, reports, cfg.model.name)
            if split == "test":
                tracker.log_table(table, "predictions/test_predictions.csv")
        tracker.log_metrics(metrics)

        staging.mkdir(parents=True, exist_ok=True)
        model.save(staging, extra={"dataset_digest": data.digest, "run_id": tracker.run_id, "fit": _jsonable(fit_info)})
        (staging / "metrics.json").write_text(json.dumps(metrics, indent=2), encoding="utf-8")
        (staging / "config.json").write_text(json.dumps(cfg.to_dict(), ensure_ascii=False, indent=2), encoding="utf-8")
        if output.exists():
            shutil.rmtree(output)
        staging.rename(output)
        version = tracker.log_model(output, cfg.tracking.registered_model_name)

    return TrainResult(output, metrics, tracker.run_id, version, train_seconds)


def _keep_interrupted(model: Classifier, output: Path, digest: str, tracker: Tracker) -> None:
    """Save the best state reached before Ctrl-C next to the requested folder."""
    if not model.is_fitted():
        log.warning("interrupted before the first checkpoint: nothing to keep")
        return
    kept = output.with_name(output.name + "-interrupted")
    if kept.exists():
        shutil.rmtree(kept)
    model.save(kept, extra={"dataset_digest": digest, "run_id": tracker.run_id, "interrupted": True})
    log.warning("interrupted: the best checkpoint so far is kept in %s", kept)


def _jsonable(info: dict[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(info, default=str))
