"""Command-line entry points behind ``train.py`` and ``predict.py``.

They parse arguments, set up logging, make one library call, and turn the
project's errors into one plain message and an exit status:
0 done, 1 done but some inputs failed, 2 bad input or configuration, 130 interrupted.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from samskaping.errors import SamskapingError

log = logging.getLogger("samskaping")

EXIT_OK, EXIT_PARTIAL, EXIT_ERROR, EXIT_INTERRUPTED = 0, 1, 2, 130
DEFAULT_CONFIG = "configs/nb-bert-base.yaml"
MLFLOW_URI_PREFIXES = ("models:/", "runs:/", "mlflow-artifacts:/")


def setup_logging(quiet: bool = False, verbose: bool = False) -> None:
    """Plain messages on stderr; library modules only create loggers.

    Also makes Ctrl-C (SIGINT) raise KeyboardInterrupt even when the process
    was started with SIGINT ignored (as background jobs of a shell script are),
    so that an interrupted run always ends cleanly: KILLED in MLflow, best
    checkpoint kept, finished documents written.
    """
    signal.signal(signal.SIGINT, signal.default_int_handler)
    level = logging.WARNING if quiet else logging.DEBUG if verbose else logging.INFO
    logging.basicConfig(level=level, format="%(levelname)s %(message)s", stream=sys.stderr)
    for noisy in ("mlflow", "alembic", "urllib3", "httpx", "filelock", "huggingface_hub", "transformers"):
        logging.getLogger(noisy).setLevel(logging.WARNING if not verbose else logging.INFO)
    if quiet:
        # the Hugging Face libraries draw their own download and weight-loading bars
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        os.environ.setdefault("TQDM_DISABLE", "1")


def _fail(exc: BaseException) -> int:
    print(f"error: {exc}", file=sys.stderr)
    return EXIT_ERROR


def train_main(argv: Sequence[str] | None = None) -> int:
    """``python train.py [--config C] [--output DIR] [--set KEY=VALUE ...]``."""
    parser = argparse.ArgumentParser(prog="train.py", description="Train a samskaping classifier and log it to MLflow.")
    parser.add_argument("--config", default=DEFAULT_CONFIG, help=f"YAML config in configs/ (default: {DEFAULT_CONFIG})")
    parser.add_argument("--output", type=Path, help="model folder to write (default: models/<config>-<time>)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config key, e.g. --set training.epochs=2 (repeatable)")
    parser.add_argument("--tracking-uri", help="MLflow tracking URI (default: $MLFLOW_TRACKING_URI or sqlite:///mlflow.db)")
    parser.add_argument("--no-tracking", action="store_true", help="do not log to MLflow")
    parser.add_argument("--quiet", action="store_true", help="only warnings and errors; no progress bars")
    parser.add_argument("--verbose", action="store_true", help="debug messages")
    args = parser.parse_args(argv)
    setup_logging(args.quiet, args.verbose)

    from samskaping.config import load_config
    from samskaping.training import train

    overrides = list(args.overrides)
    if args.tracking_uri:
        overrides.append(f"tracking.tracking_uri={args.tracking_uri}")
    if args.no_tracking:
        overrides.append("tracking.enabled=false")
    try:
        cfg = load_config(args.config, overrides)
        result = train(cfg, args.output, config_path=args.config, progress=not args.quiet and sys.stderr.isatty())
    except SamskapingError as exc:
        return _fail(exc)
    except KeyboardInterrupt:
        print("interrupted: the MLflow run is marked KILLED", file=sys.stderr)
        return EXIT_INTERRUPTED
    summary = ", ".join(f"{ls} {result.metrics[f'test_{ls}_macro_f1']:.3f}" for ls in cfg.model.label_sets)
    print(f"model saved to {result.model_dir}")
    print(f"test macro-F1: {summary}")
    if result.run_id:
        registered = f", registered as {cfg.tracking.registered_model_name} version {result.registered_version}" if result.registered_version else ""
        print(f"MLflow run {result.run_id}{registered}; browse with: python -m samskaping.runs ui")
    return EXIT_OK


def load_any_model(spec: str, tracking_uri: str | None = None):  # -> Classifier
    """A model folder, or an MLflow URI (models:/NAME@ALIAS, models:/NAME/VERSION, runs:/RUN_ID/model)."""
    from samskaping.models import load_model

    if spec.startswith(MLFLOW_URI_PREFIXES):
        from samskaping.mlflow_model import load_from_mlflow  # imports MLflow only when needed

        return load_from_mlflow(spec, tracking_uri)
    return load_model(Path(spec))


def predict_main(argv: Sequence[str] | None = None) -> int:
    """``python predict.py --model MODEL INPUT... --output DIR``."""
    from samskaping.predict import FORMATS

    parser = argparse.ArgumentParser(
        prog="predict.py",
        description="Classify every sentence of municipal plans (PDF, DOCX, HTML, TXT, MD) or sentence tables (CSV, JSONL, XLSX).",
    )
    parser.add_argument("inputs", nargs="+", metavar="INPUT", help="files or folders (searched recursively)")
    parser.add_argument("--model", required=True, help="model folder (models/NAME) or MLflow URI (models:/samskaping@champion)")
    parser.add_argument("--output", required=True, type=Path, help="output folder")
    parser.add_argument("--format", default="csv", choices=FORMATS, help="format of the sentence and document tables (default csv)")
    parser.add_argument("--batch-size", type=int, default=None, help="sentences per model batch (default: the model's)")
    parser.add_argument("--resume", action="store_true", help="skip documents already in the output folder, add the rest")
    parser.add_argument("--report", action="store_true", help="also write report.html with charts")
    parser.add_argument("--int8", action="store_true",
                        help="transformer models: faster CPU path with int8 weights (labels agree with fp32 on >= 99%% of the test split)")
    parser.add_argument("--threads", type=int, default=None, help="CPU threads for the model (default: one per physical core)")
    parser.add_argument("--tracking-uri", help="MLflow tracking URI for models:/ and runs:/ URIs")
    parser.add_argument("--quiet", action="store_true", help="only warnings and errors; no progress bars")
    parser.add_argument("--verbose", action="store_true", help="debug messages")
    args = parser.parse_args(argv)
    setup_logging(args.quiet, args.verbose)
    if args.batch_size is not None and args.batch_size < 1:
        return _fail(SamskapingError(f"--batch-size must be at least 1, got {args.batch_size}"))

    from samskaping.predict import classify

    try:
        model = load_any_model(args.model, args.tracking_uri)
        info = _model_facts(model, args.model, args.tracking_uri)
        if model.kind == "transformer":
            from samskaping.speed import quantize_int8, tune_threads

            info["threads"] = tune_threads(args.threads)
            if args.int8:
                model = quantize_int8(model, inplace=True)
            info["int8"] = bool(args.int8)
        elif args.int8:
            raise SamskapingError(f"--int8 applies to transformer models; {args.model} is a {model.kind} model")
        result = classify(
            args.inputs, model, args.output, fmt=args.format, batch_size=args.batch_size,
            resume=args.resume, progress=not args.quiet and sys.stderr.isatty(), model_info=info,
        )
        if args.report:
            from samskaping.report import write_report

            report = write_report(args.output)
    except SamskapingError as exc:
        return _fail(exc)
    except KeyboardInterrupt:
        print(f"interrupted: finished documents are kept in {args.output}; rerun with --resume", file=sys.stderr)
        return EXIT_INTERRUPTED
    s = result.summary
    print(f"{s['documents']} document(s), {s['sentences']} sentences -> {args.output}")
    print(s["mention_finding"])
    if args.report:
        print(f"report: {report}")
    if result.failures:
        print(f"{len(result.failures)} input(s) could not be read:", file=sys.stderr)
        for failure in result.failures:
            print(f"  {failure.path}: {failure.error}", file=sys.stderr)
        return EXIT_PARTIAL
    return EXIT_OK


def _model_facts(model, spec: str, tracking_uri: str | None) -> dict[str, object]:
    """What summary.json records about the model: kind, name, training run, registry version."""
    import samskaping

    config = model.config or {}
    facts: dict[str, object] = {
        "model": spec,
        "kind": model.kind,
        "name": config.get("model", {}).get("name"),
        "run_id": model.manifest.get("run_id"),
        "dataset_digest": model.manifest.get("dataset_digest"),
        "trained_with_samskaping": model.manifest.get("samskaping_version"),
        "samskaping_version": samskaping.__version__,
        "label_sets": list(model.label_sets),
    }
    if spec.startswith("models:/"):
        from samskaping.mlflow_model import registry_version

        facts["registered_version"] = registry_version(spec, tracking_uri)
    return facts


if __name__ == "__main__":  # pragma: no cover
    sys.exit(train_main())
