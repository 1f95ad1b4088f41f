"""``python train.py [--config C] [--output DIR] [--set KEY=VALUE ...]``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from samskaping.cli.common import EXIT_OK, Parser, progress_wanted, run_command, setup_logging

DEFAULT_CONFIG = "configs/nb-bert-base.yaml"


def parser() -> argparse.ArgumentParser:
    p = Parser(prog="train.py", description="Train a samskaping classifier and log it to MLflow.")
    p.add_argument("--config", default=DEFAULT_CONFIG, help=f"YAML config in configs/ (default: {DEFAULT_CONFIG})")
    p.add_argument(
        "--output",
        type=Path,
        help="model folder to write (default: models/<config>-<time>): a new or empty folder, or a model folder "
        "train.py wrote before (replaced); any other folder or file is refused",
    )
    p.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config key, e.g. --set training.epochs=2 (repeatable)",
    )
    p.add_argument(
        "--device",
        choices=("auto", "cpu", "cuda"),
        help="where a transformer trains (default: training.device of the config, auto)",
    )
    p.add_argument("--tracking-uri", help="MLflow tracking URI (default: $MLFLOW_TRACKING_URI or sqlite:///mlflow.db)")
    p.add_argument("--no-tracking", action="store_true", help="do not log to MLflow")
    p.add_argument(
        "--no-post-training",
        action="store_true",
        help="skip the steps after training (int8 calibration, bf16 measurement), as --set "
        "training.calibrate_int8=false --set training.measure_bf16=false; run them later with "
        "'python -m samskaping.speed calibrate MODEL'",
    )
    p.add_argument("--quiet", action="store_true", help="only warnings and errors; no progress bars")
    p.add_argument("--verbose", action="store_true", help="debug messages")
    return p


def train_main(argv: Sequence[str] | None = None) -> int:
    """Parse, train, print where the model is and its test scores."""
    args = parser().parse_args(argv)
    setup_logging(args.quiet, args.verbose)

    def body() -> int:
        from samskaping.config import load_config
        from samskaping.training import train

        overrides = list(args.overrides)
        if args.device:
            overrides.append(f"training.device={args.device}")
        if args.tracking_uri:
            overrides.append(f"tracking.tracking_uri={args.tracking_uri}")
        if args.no_tracking:
            overrides.append("tracking.enabled=false")
        if args.no_post_training:
            overrides += ["training.calibrate_int8=false", "training.measure_bf16=false"]
        cfg = load_config(args.config, overrides)
        result = train(cfg, args.output, config_path=args.config, progress=progress_wanted(args.quiet))
        summary = ", ".join(f"{ls} {result.metrics[f'test_{ls}_macro_f1']:.3f}" for ls in cfg.model.label_sets)
        print(f"model saved to {result.model_dir}")
        print(f"trained on: {result.data_description}")
        print(f"test macro-F1: {summary}")
        if result.run_id:
            registered = (
                f", registered as {cfg.tracking.registered_model_name} version {result.registered_version}"
                if result.registered_version
                else ""
            )
            if (
                not result.registered_version
                and cfg.tracking.registered_model_name
                and cfg.tracking.register_model is None
            ):
                registered = (
                    ", not registered (training.max_steps makes it a smoke test; "
                    "--set tracking.register_model=true registers it)"
                )
            print(f"MLflow run {result.run_id}{registered}; browse with: python -m samskaping.runs ui")
        return EXIT_OK

    return run_command(body, interrupted="interrupted: the MLflow run is marked KILLED")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(train_main())
