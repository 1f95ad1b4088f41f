"""The steps after training, on the saved model folder: the int8 recipe (``int8.json``), the bf16 check (``bf16.json``).

Each step compares a faster precision with fp32 on the model's own validation
and test splits and saves the agreement beside the model, where ``--int8`` and
``--bf16`` read it (:mod:`samskaping.runtime.agreement`). The steps run after
the folder is saved, so Ctrl-C during one keeps the trained model.
"""

from __future__ import annotations

import logging
import shutil
import time
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


def post_training_steps(cfg: Any, model: Any) -> list[tuple[str, str]]:
    """The steps that run on the saved model folder: ``(config key, command that runs it later)``.

    Args:
        cfg: the training config (:class:`samskaping.config.Config`): ``training.calibrate_int8`` and
            ``training.measure_bf16`` switch the steps on.
        model: the trained classifier; a step runs only where the model supports it (``supports_int8``,
            ``supports_bf16``).
    """
    steps = []
    if cfg.training.calibrate_int8 and model.supports_int8:
        steps.append(("training.calibrate_int8", "python -m samskaping.speed calibrate {folder} --only int8"))
    if cfg.training.measure_bf16 and model.supports_bf16:
        steps.append(("training.measure_bf16", "python -m samskaping.speed calibrate {folder} --only bf16"))
    return steps


def run_post_training(cfg: Any, model: Any, folder: Path, files: list[Path], tracker: Any) -> None:
    """Run the post-training steps on the saved model folder; Ctrl-C during one keeps the model.

    Args:
        cfg, model: see :func:`post_training_steps`.
        folder: the saved model folder (``int8.json`` and ``bf16.json`` are written there).
        files: the labelled files the model was trained on (its splits are made again from them).
        tracker: the run's tracker (:class:`samskaping.tracking.Tracker`): the agreements are logged to it.

    Raises:
        KeyboardInterrupt: Ctrl-C during a step, with a message that says the model is saved and how to
            run the step later (the step's ONNX files are removed; the folder is otherwise as saved).
    """
    steps = post_training_steps(cfg, model)
    for number, (key, later) in enumerate(steps, start=1):
        started = time.perf_counter()
        try:  # the announcement is inside: a Ctrl-C right after it still gets the step's message
            log.info(
                "after training, step %d of %d (%s; skip with --set %s=false or --no-post-training): %s",
                number,
                len(steps),
                key,
                key,
                "int8 calibration, minutes" if key.endswith("int8") else "bf16 measurement",
            )
            (_calibrate_int8 if key.endswith("int8") else _measure_bf16)(folder, files, tracker)
        except KeyboardInterrupt:
            shutil.rmtree(folder / "onnx", ignore_errors=True)  # the step's export: a cache, rebuilt when needed
            raise KeyboardInterrupt(
                f"interrupted during {key}: the trained model is saved in {folder} and complete "
                f"(predict.py --model {folder} uses it); the MLflow run is marked KILLED and holds no model; "
                "run the step later with: "
                f"{later.format(folder=folder)}"
            ) from None
        log.info("%s done in %.0f s", key, time.perf_counter() - started)


def _calibrate_int8(folder: Path, files: list[Path], tracker: Any) -> None:
    """Choose and save the int8 recipe of the model in ``folder`` (``int8.json``) and log its agreement.

    The ONNX export made on the way is deleted afterwards: it is a cache that
    ``--runtime onnx`` / ``--int8`` rebuild on first use, and it would double the
    size of the model folder and of its MLflow artifact.
    """
    from samskaping.runtime.int8 import calibrate_folder

    log.info("choosing the int8 recipe (training.calibrate_int8): the validation and test splits in ONNX Runtime")
    result = calibrate_folder(folder, data=files)
    shutil.rmtree(folder / "onnx", ignore_errors=True)
    agreement = result["agreement"]["test"]["all"]
    tracker.log_metrics({"int8_test_agreement": round(agreement, 5)})
    tracker.log_dict(result, "int8.json")
    log.info("int8 (%s) agrees with fp32 on %.2f%% of the test split's labels", result["recipe_text"], 100 * agreement)


def _measure_bf16(folder: Path, files: list[Path], tracker: Any) -> None:
    """Compare bf16 with fp32 on the model in ``folder`` (``bf16.json``) and log the agreement; CPUs with bf16 only."""
    from samskaping.runtime.bf16 import measure_bf16_folder, native_bf16_flags

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
