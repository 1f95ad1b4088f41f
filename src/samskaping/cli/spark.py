"""``python -m samskaping.spark INPUT... --output DIR [--model MODEL] [--master local[*]] [--partitions N]``."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from samskaping.cli.common import model_or_default, print_result, progress_wanted, run_command, setup_logging
from samskaping.errors import SamskapingError
from samskaping.outputs import FORMATS


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m samskaping.spark",
        description="Classify every sentence of many municipal plans on Apache Spark: the same outputs as predict.py "
        "(sentences.parquet partitioned by document, documents.<fmt>, summary.json). Needs Java 17.",
        epilog="Exit status: 0 all inputs read; 1 some inputs not read (listed); 2 bad arguments, model, "
        "configuration or no Spark/Java; 3 internal error; 130 interrupted.",
    )
    p.add_argument(
        "inputs",
        nargs="+",
        metavar="INPUT",
        help="files or folders (searched recursively): local paths or URIs Spark reads (hdfs://, s3a://)",
    )
    p.add_argument(
        "--model",
        help="model folder (models/NAME) or MLflow URI (models:/samskaping@champion, runs:/RUN_ID/model); "
        "default: the e5 model predict.py builds on first use",
    )
    p.add_argument(
        "--baseline",
        action="store_true",
        help="without --model: the scikit-learn baseline predict.py --baseline uses (built in seconds)",
    )
    p.add_argument(
        "--output",
        required=True,
        type=Path,
        help="output folder; on a cluster, a shared filesystem that the driver and every executor write to",
    )
    p.add_argument(
        "--master",
        default="local[*]",
        help="Spark master: local[*] (this machine, default), local[N], spark://HOST:7077, yarn",
    )
    p.add_argument(
        "--partitions",
        type=int,
        default=None,
        help="Spark tasks per stage (plans to extract, sentences to classify); default: the cluster's cores",
    )
    p.add_argument(
        "--format",
        default="csv",
        choices=FORMATS,
        help="format of documents.<fmt> (default csv); the sentences are always sentences.parquet",
    )
    p.add_argument(
        "--batch-size",
        type=int,
        default=None,
        help="sentences per model batch for model folders (default: the model's)",
    )
    p.add_argument(
        "--conf",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a Spark setting, e.g. --conf spark.executor.memory=8g (repeatable)",
    )
    p.add_argument("--tracking-uri", help="MLflow tracking URI for models:/ and runs:/ URIs")
    p.add_argument("--quiet", action="store_true", help="only warnings and errors")
    p.add_argument("--verbose", action="store_true", help="debug messages, Spark's included")
    return p


def parse_conf(pairs: Sequence[str]) -> dict[str, str]:
    """``KEY=VALUE`` pairs as a mapping.

    Raises:
        SamskapingError: a pair without ``=``.
    """
    conf = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise SamskapingError(f"--conf {pair!r}: expected KEY=VALUE, e.g. --conf spark.executor.memory=8g")
        conf[key.strip()] = value
    return conf


def main(argv: Sequence[str] | None = None) -> int:
    """Parse, start Spark, classify, write the outputs; the exit status says whether every input was read."""
    args = parser().parse_args(argv)
    setup_logging(args.quiet, args.verbose)
    if not args.verbose:
        logging.getLogger("py4j").setLevel(logging.WARNING)  # the Java gateway's connection notes

    def body() -> int:
        from samskaping.runtime import RuntimeOptions, is_mlflow_uri, model_facts, prepare
        from samskaping.spark.job import ModelSource, classify_on_spark
        from samskaping.spark.session import start_session

        if args.batch_size is not None and args.batch_size < 1:
            raise SamskapingError(f"--batch-size must be at least 1, got {args.batch_size}")
        conf = parse_conf(args.conf)
        spec = model_or_default(args.model, args.baseline, progress_wanted(args.quiet))
        model = prepare(spec, RuntimeOptions(set_threads=False, tracking_uri=args.tracking_uri)).model
        read = set(model.cfg.model.context_columns) - {"context"} if model.cfg.model.use_context else set()
        if read:  # the job ships text and list lead-in to the executors; other neighbours would be missing
            raise SamskapingError(
                f"{spec} reads {', '.join(sorted(read))} besides the sentence (model.context_columns); the Spark job "
                "passes only the list lead-in, so classify with predict.py instead"
            )
        info = model_facts(model, spec, args.tracking_uri)
        if is_mlflow_uri(spec):
            source = ModelSource(mlflow_uri=spec, tracking_uri=args.tracking_uri)
        else:
            source = ModelSource(folder=Path(spec))
        progress = progress_wanted(args.quiet)
        if not progress:
            os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
        spark = start_session(args.master, conf, verbose=args.verbose, progress=progress)
        try:
            result = classify_on_spark(
                spark,
                args.inputs,
                model,
                source,
                args.output,
                fmt=args.format,
                partitions=args.partitions,
                batch_size=args.batch_size,
                model_info=info,
            )
        finally:
            spark.stop()
        return print_result(result.summary, args.output, result.failures)

    return run_command(body, interrupted=f"interrupted: nothing was kept in {args.output}; run again")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
