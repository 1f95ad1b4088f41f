"""``train(cfg)``: load data, build the model, fit, evaluate, save, track.

The model folder is written to a temporary sibling folder (``NAME.partial``)
and renamed into place, so an interrupted run never leaves a half-written
model. ``train`` only ever replaces a model folder it wrote itself (one with
``samskaping-model.json``); any other existing file or non-empty folder is
refused before any work starts. The post-training steps (int8 calibration,
bf16 measurement, :mod:`samskaping.runtime.post_training`) run on the saved
folder, so Ctrl-C during them keeps the trained model.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from samskaping.calibration import ConformalSets, brier, expected_calibration_error, fit_bcts, reliability_figure
from samskaping.config import Config, flatten
from samskaping.data import LabelledData, dataset_digest, load_labelled_files, split_frame
from samskaping.decisions import decide
from samskaping.evaluation import (
    LabelSetReport,
    confusion_figure,
    evaluate,
    f1_bar_figure,
    macro_f1_interval,
    metric_dict,
)
from samskaping.labels import LABEL_SETS, encode
from samskaping.model_folder import check_output, is_model_folder, save_model_folder
from samskaping.models import build_model
from samskaping.models.base import Classifier
from samskaping.runtime.post_training import run_post_training
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
    data_description: str = ""  # the labelled files read and the rows of each (see describe_files)


def default_output(cfg: Config, config_path: str | Path | None) -> Path:
    """``models/<config name>-<YYYYmmdd-HHMMSS>``."""
    stem = Path(config_path).stem if config_path else cfg.model.kind
    return Path("models") / f"{stem}-{datetime.now():%Y%m%d-%H%M%S}"


def _labels(frame: pd.DataFrame, label_sets: tuple[str, ...]) -> dict[str, list[str]]:
    return {ls: frame[ls].tolist() for ls in label_sets}


def _evaluate_split(
    model: Classifier, frame: pd.DataFrame, split: str, label_sets: tuple[str, ...], batch_size: int
) -> tuple[dict[str, LabelSetReport], pd.DataFrame, dict[str, float]]:
    """Labels as predict.py decides them (the model's priors setting over this split); reports, table, set metrics."""
    probs = model.predict_proba(frame["text"].tolist(), batch_size=batch_size, contexts=model.contexts(frame))
    decided = decide(model, probs)
    reports = evaluate(_labels(frame, label_sets), decided.labels, label_sets)
    table = frame[[c for c in ("id", "text", "form", "language") if c in frame.columns]].copy()
    extra: dict[str, float] = {}
    for ls in label_sets:
        table[f"true_{ls}"] = frame[ls].to_numpy()
        table[f"pred_{ls}"] = decided.labels[ls]
        table[f"{ls}_score"] = decided.scores[ls].round(4)
        if split == "test":
            low, high = macro_f1_interval(ls, frame[ls].tolist(), decided.labels[ls])
            extra[f"test_{ls}_macro_f1_low"], extra[f"test_{ls}_macro_f1_high"] = low, high
        if ls in decided.sets:
            y = encode(ls, frame[ls].tolist())
            members = decided.sets[ls]
            extra[f"{split}_{ls}_set_coverage"] = float(members[np.arange(len(y)), y].mean()) if len(y) else 0.0
            extra[f"{split}_{ls}_set_size"] = float(members.sum(axis=1).mean()) if len(y) else 0.0
            given = encode(ls, decided.labels[ls])
            only_the_label = (members.sum(axis=1) == 1) & members[
                np.arange(len(given)), given
            ]  # «usikker» as the outputs say it
            extra[f"{split}_{ls}_uncertain_share"] = float((~only_the_label).mean()) if len(y) else 0.0
    return reports, table, extra


def fit_calibration(
    model: Classifier, splits: dict[str, pd.DataFrame], tracker: Tracker, batch_size: int
) -> dict[str, float]:
    """Training priors, bias-corrected temperatures and conformal sets from the validation split.

    ECE and Brier before and after calibration are measured on the test split.

    See :mod:`samskaping.calibration` and :mod:`samskaping.priors` for the methods.
    """
    train, validation, test = splits["train"], splits["validation"], splits["test"]
    metrics: dict[str, float] = {}
    val_logits = model.logits(validation["text"].tolist(), batch_size=batch_size, contexts=model.contexts(validation))
    test_logits = model.logits(test["text"].tolist(), batch_size=batch_size, contexts=model.contexts(test))
    for ls in model.label_sets:
        labels = LABEL_SETS[ls]
        counts = train[ls].value_counts()
        training = np.array([counts.get(label, 0) for label in labels], dtype=float) / max(1, len(train))
        seen = training > 0
        embodied = np.where(seen, 1.0 / max(1, seen.sum()), 0.0) if model.class_weighted else training
        model.training_priors[ls] = training
        model.prior_shift[ls] = np.where(
            seen, np.log(np.maximum(training, 1e-12)) - np.log(np.maximum(embodied, 1e-12)), 0.0
        )
        y_val, y_test = encode(ls, validation[ls].tolist()), encode(ls, test[ls].tolist())
        if model.cfg.prediction.calibrate:
            model.temperatures[ls], model.prior_shift[ls] = fit_bcts(val_logits[ls], y_val, start=model.prior_shift[ls])
        model.conformal[ls] = ConformalSets.calibrate(model.probabilities(ls, val_logits[ls]), y_val)
        before = model.probabilities(ls, test_logits[ls], calibrated=False)
        after = model.probabilities(ls, test_logits[ls])
        metrics.update(
            {
                f"{ls}_temperature": model.temperatures[ls],
                f"test_{ls}_ece_uncalibrated": expected_calibration_error(before, y_test),
                f"test_{ls}_ece": expected_calibration_error(after, y_test),
                f"test_{ls}_brier_uncalibrated": brier(before, y_test),
                f"test_{ls}_brier": brier(after, y_test),
            }
        )
        tracker.log_figure(
            reliability_figure(
                {"before": (before, y_test), "after": (after, y_test)}, f"{model.cfg.model.name} — test — {ls}"
            ),
            f"plots/test_{ls}_reliability.png",
        )
        log.info(
            "calibration %s: temperature %.2f, test ECE %.3f -> %.3f",
            ls,
            model.temperatures[ls],
            metrics[f"test_{ls}_ece_uncalibrated"],
            metrics[f"test_{ls}_ece"],
        )
    return metrics


def _log_reports(tracker: Tracker, split: str, reports: dict[str, LabelSetReport], model_name: str) -> None:
    tracker.log_dict({ls: r.as_dict() for ls, r in reports.items()}, f"reports/{split}_classification_report.json")
    for ls, report in reports.items():
        tracker.log_figure(
            confusion_figure(report, f"{model_name} — {split} — {ls}"), f"plots/{split}_{ls}_confusion.png"
        )
    tracker.log_figure(
        f1_bar_figure(reports, f"{model_name} — {split} — F1 per class"), f"plots/{split}_f1_per_class.png"
    )


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
    check_output(output)
    data: LabelledData = load_labelled_files(cfg.data.files, on_invalid=cfg.data.on_invalid)
    described = describe_files(data)
    log.info("training data: %s", described)
    splits = split_frame(data, cfg.data.validation_size, cfg.data.test_size, cfg.training.seed)
    label_sets = cfg.model.label_sets
    model = build_model(cfg, progress=progress)  # resolves the encoder before any run is opened
    tracker = make_tracker(cfg.tracking.enabled, cfg.tracking.tracking_uri, cfg.tracking.experiment)
    run_name = cfg.tracking.run_name or output.name
    tags = {"model.kind": cfg.model.kind, "model.name": cfg.model.name, "config": str(config_path or "")}

    with tracker.run(run_name=run_name, tags=tags):
        params = flatten(cfg.to_dict())
        params.update({"dataset.digest": data.digest, "dataset.name": data.path.name})
        params.update(
            {
                f"dataset.file.{i}": f"{Path(f['path']).name} sha256:{str(f['sha256'])[:16]} rows:{f['rows']}"
                for i, f in enumerate(data.files)
            }
        )
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
                    splits["validation"]["text"].tolist(),
                    _labels(splits["validation"], label_sets),
                    model.contexts(splits["validation"]),
                ),
                tracker=tracker,
                contexts=model.contexts(splits["train"]),
            )
        except KeyboardInterrupt:
            _keep_interrupted(model, output, data.digest, tracker)
            raise
        train_seconds = time.perf_counter() - started

        metrics: dict[str, float] = {"train_seconds": round(train_seconds, 2)}
        batch = cfg.training.eval_batch_size
        metrics.update(fit_calibration(model, splits, tracker, batch))
        for split in ("validation", "test"):
            reports, table, set_metrics = _evaluate_split(model, splits[split], split, label_sets, batch)
            metrics.update(metric_dict(split, reports))
            metrics.update(set_metrics)
            _log_reports(tracker, split, reports, cfg.model.name)
            if split == "test":
                tracker.log_table(table, "predictions/test_predictions.csv")
        tracker.log_metrics(metrics)

        save_model_folder(
            model,
            output,
            extra={
                "dataset_digest": data.digest,
                "run_id": tracker.run_id,
                "fit": _jsonable(fit_info),
                "data_files": data.files,
                "metrics": {k: round(v, 4) for k, v in metrics.items()},
                "trained_at": datetime.now().isoformat(timespec="seconds"),
            },
            files={
                "metrics.json": json.dumps(metrics, indent=2),
                "config.json": json.dumps(cfg.to_dict(), ensure_ascii=False, indent=2),
            },
        )
        log.info("model saved to %s", output)
        run_post_training(cfg, model, output, [Path(f["path"]) for f in data.files], tracker)
        version = tracker.log_model(output, cfg.tracking.registry_name(cfg.training))  # smoke tests are not registered

    return TrainResult(output, metrics, tracker.run_id, version, train_seconds, described)


def describe_files(data: LabelledData) -> str:
    """``data/x.jsonl (2,345 rows), mine.xlsx (120 rows, 3 left out)``: each labelled file read and the rows it gave."""
    parts = []
    for f in data.files:
        left_out = len({p.row for p in data.problems if p.file == str(f["path"])})
        parts.append(f"{f['path']} ({f['rows']:,} rows{f', {left_out} left out' if left_out else ''})")
    return ", ".join(parts)


def _keep_interrupted(model: Classifier, output: Path, digest: str, tracker: Tracker) -> None:
    """Save the best state reached before Ctrl-C next to the requested folder."""
    if not model.is_fitted():
        log.warning("interrupted before the first checkpoint: nothing to keep")
        return
    kept = output.with_name(output.name + "-interrupted")
    if kept.exists() and not is_model_folder(kept):
        kept = output.with_name(
            f"{output.name}-interrupted-{datetime.now():%Y%m%d-%H%M%S}"
        )  # never delete what is not ours
    if kept.exists():
        shutil.rmtree(kept)
    model.save(kept, extra={"dataset_digest": digest, "run_id": tracker.run_id, "interrupted": True})
    log.warning("interrupted: the best checkpoint so far is kept in %s", kept)


def _jsonable(info: dict[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(info, default=str))
