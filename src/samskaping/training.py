"""``train(cfg)``: load data, build the model, fit, evaluate, save, track.

The model folder is written to a temporary sibling folder (``NAME.partial``)
and renamed into place, so an interrupted run never leaves a half-written
model. ``train`` only ever replaces a model folder it wrote itself (one with
``samskaping-model.json``); any other existing file or non-empty folder is
refused before any work starts. The post-training steps (int8 calibration,
bf16 measurement) run on the saved folder, so Ctrl-C during them keeps the
trained model.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
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
from samskaping.errors import SamskapingError
from samskaping.evaluation import (
    LabelSetReport,
    confusion_figure,
    evaluate,
    f1_bar_figure,
    macro_f1_interval,
    metric_dict,
)
from samskaping.labels import LABEL_SETS, encode
from samskaping.models import build_model
from samskaping.models.base import MANIFEST, Classifier
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


STAGING_MARK = ".samskaping-partial"  # written first into NAME.partial, so a leftover one is known to be ours


def is_model_folder(folder: Path) -> bool:
    """Whether ``folder`` is a model folder written by samskaping (it holds ``samskaping-model.json``)."""
    return (folder / MANIFEST).is_file()


def _staging(output: Path) -> Path:
    return output.with_name(output.name + ".partial")


def _ours(folder: Path) -> bool:
    """A model folder, or a staging folder a killed run left behind."""
    return is_model_folder(folder) or (folder / STAGING_MARK).is_file()


def check_output(output: Path) -> None:
    """Fail before any work when ``output`` cannot become the model folder.

    ``output`` may be a new folder, an empty one, or a model folder that
    samskaping wrote (it is replaced as a whole). Anything else is refused, so
    train.py never deletes what it did not write.

    Args:
        output: the model folder asked for.

    Raises:
        SamskapingError: ``output`` is a file, a non-empty folder without ``samskaping-model.json``,
            its ``NAME.partial`` sibling is not ours, or the parent cannot be written.
    """
    advice = "give a new folder, e.g. --output models/NAME"
    if output.exists() and not output.is_dir():
        raise SamskapingError(f"--output {output}: this is a file, not a folder; {advice}")
    try:
        foreign = output.is_dir() and not is_model_folder(output) and any(output.iterdir())
    except OSError as exc:
        raise SamskapingError(f"--output {output}: cannot read the folder ({exc.strerror or exc}); {advice}") from exc
    if foreign:
        raise SamskapingError(
            f"--output {output}: the folder is not empty and is not a model folder (no {MANIFEST}); "
            f"train.py replaces only its own model folders and never deletes other files; {advice}"
        )
    staging = _staging(output)
    if staging.exists() and not (staging.is_dir() and _ours(staging)):
        raise SamskapingError(
            f"--output {output}: {staging} exists and was not written by train.py (it is where the model "
            f"is written before it is moved into place); move it away or {advice}"
        )
    check_writable(output)


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


def save_model_folder(model: Classifier, output: Path, extra: dict[str, Any], files: dict[str, str]) -> Path:
    """Write the model folder atomically: into ``NAME.partial``, then swapped for ``output``.

    An existing ``output`` (a model folder or an empty one: :func:`check_output`
    refused anything else) is moved aside, the new folder renamed into place,
    and the old one deleted; on any failure the staging folder is removed.

    Args:
        model: the fitted model.
        output: the model folder.
        extra: added to ``samskaping-model.json``.
        files: further text files to write into the folder (name -> content).

    Returns:
        ``output``.
    """
    staging = _staging(output)
    old = output.with_name(f"{output.name}.replaced-{os.getpid()}")
    if staging.exists():
        shutil.rmtree(staging)  # a killed run's leftover (check_output made sure it is ours)
    try:
        staging.mkdir(parents=True)
        (staging / STAGING_MARK).touch()
        model.save(staging, extra=extra)
        for name, content in files.items():
            (staging / name).write_text(content, encoding="utf-8")
        (staging / STAGING_MARK).unlink()
        if output.exists():
            output.rename(old)
        staging.rename(output)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        if old.exists() and not output.exists():
            old.rename(output)  # put the previous model back
        raise
    shutil.rmtree(old, ignore_errors=True)
    return output


def _labels(frame: pd.DataFrame, label_sets: tuple[str, ...]) -> dict[str, list[str]]:
    return {ls: frame[ls].tolist() for ls in label_sets}


def contexts_of(frame: pd.DataFrame) -> list[str] | None:
    """The ``context`` column (list lead-ins), or None when the data has none."""
    return frame["context"].fillna("").astype(str).tolist() if "context" in frame.columns else None


def _evaluate_split(
    model: Classifier, frame: pd.DataFrame, split: str, label_sets: tuple[str, ...], batch_size: int
) -> tuple[dict[str, LabelSetReport], pd.DataFrame, dict[str, float]]:
    """Labels as predict.py decides them (the model's priors setting over this split); reports, table, set metrics."""
    probs = model.predict_proba(frame["text"].tolist(), batch_size=batch_size, contexts=contexts_of(frame))
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
    """Training priors, bias-corrected temperatures and conformal sets from the validation split; ECE and Brier before and after on test.

    See :mod:`samskaping.calibration` and :mod:`samskaping.priors` for the methods.
    """
    train, validation, test = splits["train"], splits["validation"], splits["test"]
    metrics: dict[str, float] = {}
    val_logits = model.logits(validation["text"].tolist(), batch_size=batch_size, contexts=contexts_of(validation))
    test_logits = model.logits(test["text"].tolist(), batch_size=batch_size, contexts=contexts_of(test))
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


def post_training_steps(cfg: Config, model: Classifier) -> list[tuple[str, str]]:
    """The steps that run on the saved model folder: ``(config key, command that runs it later)``."""
    steps = []
    if cfg.training.calibrate_int8 and model.supports_int8:
        steps.append(("training.calibrate_int8", "python -m samskaping.speed calibrate {folder} --only int8"))
    if cfg.training.measure_bf16 and model.supports_bf16:
        steps.append(("training.measure_bf16", "python -m samskaping.speed calibrate {folder} --only bf16"))
    return steps


def run_post_training(cfg: Config, model: Classifier, folder: Path, files: list[Path], tracker: Tracker) -> None:
    """Run the post-training steps on the saved model folder; Ctrl-C during one keeps the model.

    Raises:
        KeyboardInterrupt: Ctrl-C during a step, with a message that says the model is saved and how to
            run the step later (the step's ONNX files are removed; the folder is otherwise as saved).
    """
    steps = post_training_steps(cfg, model)
    for number, (key, later) in enumerate(steps, start=1):
        log.info(
            "after training, step %d of %d (%s; skip with --set %s=false or --no-post-training): %s",
            number,
            len(steps),
            key,
            key,
            "int8 calibration, minutes" if key.endswith("int8") else "bf16 measurement",
        )
        started = time.perf_counter()
        try:
            (_calibrate_int8 if key.endswith("int8") else _measure_bf16)(folder, files, tracker)
        except KeyboardInterrupt:
            shutil.rmtree(folder / "onnx", ignore_errors=True)  # the step's export: a cache, rebuilt when needed
            raise KeyboardInterrupt(
                f"interrupted during {key}: the trained model is saved in {folder} and complete (predict.py --model {folder} "
                f"uses it); the MLflow run is marked KILLED and holds no model; run the step later with: "
                f"{later.format(folder=folder)}"
            ) from None
        log.info("%s done in %.0f s", key, time.perf_counter() - started)


def _calibrate_int8(folder: Path, files: list[Path], tracker: Tracker) -> None:
    """Choose and save the int8 recipe of the model in ``folder`` (``int8.json``) and log its agreement.

    The ONNX export made on the way is deleted afterwards: it is a cache that
    ``--runtime onnx`` / ``--int8`` rebuild on first use, and it would double the
    size of the model folder and of its MLflow artifact.
    """
    from samskaping.speed import calibrate_folder

    log.info("choosing the int8 recipe (training.calibrate_int8): the validation and test splits in ONNX Runtime")
    result = calibrate_folder(folder, data=files)
    shutil.rmtree(folder / "onnx", ignore_errors=True)
    agreement = result["agreement"]["test"]["all"]
    tracker.log_metrics({"int8_test_agreement": round(agreement, 5)})
    tracker.log_dict(result, "int8.json")
    log.info("int8 (%s) agrees with fp32 on %.2f%% of the test split's labels", result["recipe_text"], 100 * agreement)


def _measure_bf16(folder: Path, files: list[Path], tracker: Tracker) -> None:
    """Compare bf16 with fp32 on the model in ``folder`` (``bf16.json``) and log the agreement; CPUs with bf16 only."""
    from samskaping.speed import measure_bf16_folder, native_bf16_flags

    if not native_bf16_flags():
        log.info(
            "bf16 not measured (training.measure_bf16): this CPU has no bf16 instructions (AMX or AVX512-BF16); "
            "on one that has, run 'python -m samskaping.speed calibrate MODEL --only bf16'"
        )
        return
    log.info("comparing bf16 with fp32 (training.measure_bf16): the validation and test splits in PyTorch")
    result = measure_bf16_folder(folder, data=files)
    agreement = result["agreement"]["test"]["all"]
    tracker.log_metrics({"bf16_test_agreement": round(agreement, 5)})
    tracker.log_dict(result, "bf16.json")
    log.info(
        "bf16 agrees with fp32 on %.2f%% of the test split's labels (%.0f against %.0f sentences/s in fp32)",
        100 * agreement,
        result["sentences_per_second"]["bf16"],
        result["sentences_per_second"]["fp32"],
    )


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
