"""``python predict.py INPUT... --output DIR [--model MODEL]``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from samskaping.cli.common import (
    Parser,
    model_or_default,
    print_result,
    progress_wanted,
    run_command,
    setup_logging,
)
from samskaping.documents.limits import using
from samskaping.errors import SamskapingError
from samskaping.outputs import FORMATS


def parser() -> argparse.ArgumentParser:
    p = Parser(
        prog="predict.py",
        description="Classify every sentence of municipal plans (PDF, DOCX, HTML, TXT, MD) "
        "or sentence tables (CSV, JSONL, XLSX).",
        epilog="Exit status: 0 all inputs read; 1 some inputs not read (listed); 2 bad arguments, model or "
        "configuration; 3 internal error; 130 interrupted.",
    )
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="files or folders (searched recursively)")
    p.add_argument(
        "--model",
        help="model folder (models/NAME) or MLflow URI (models:/samskaping@champion); "
        "default: multilingual-e5-small fine-tuned on the shipped data, built on first use "
        "(minutes, once) and kept in ~/.cache/samskaping",
    )
    p.add_argument(
        "--baseline",
        action="store_true",
        help="without --model: use the scikit-learn baseline trained on the shipped data instead of the e5 "
        "default (built in seconds; faster on large corpora, weaker on real plan text: see docs/results.md)",
    )
    p.add_argument("--output", required=True, type=Path, help="output folder")
    p.add_argument(
        "--format",
        default="csv",
        choices=FORMATS,
        help="format of the sentence and document tables (default csv; with Excel in a Norwegian locale use xlsx)",
    )
    p.add_argument("--batch-size", type=int, default=None, help="sentences per model batch (default: the model's)")
    p.add_argument(
        "--resume", action="store_true", help="keep the documents already classified in the output folder, add the rest"
    )
    p.add_argument("--report", action="store_true", help="also write report.html with charts")
    p.add_argument(
        "--qdpx",
        action="store_true",
        help="also write DIR/samskaping.qdpx: the plans coded by the model as a REFI-QDA project for NVivo, "
        "ATLAS.ti, MAXQDA or QualCoder (see python -m samskaping.export)",
    )
    p.add_argument(
        "--municipalities",
        type=Path,
        metavar="FILE.csv",
        help="CSV with columns document,kommunenummer: each plan's municipality (kommunenummer, name, county "
        "in documents.* and summary.json); without it a four-digit kommunenummer in a file name is used",
    )
    p.add_argument(
        "--priors",
        metavar="SETTING",
        help="class priors: estimated (EM on the documents being classified), training or uniform "
        "(default: the model's prediction.priors, estimated for the shipped configs)",
    )
    p.add_argument(
        "--confidence",
        type=float,
        metavar="LEVEL",
        help="coverage of the prediction sets, e.g. 0.9; a sentence whose set holds more than one label is "
        "'uncertain' (default: the model's prediction.confidence)",
    )
    p.add_argument(
        "--runtime",
        choices=("torch", "onnx"),
        default="torch",
        help="transformer models on the CPU: torch (default) or onnx (ONNX Runtime: the same labels; faster than "
        "PyTorch on some CPUs, see docs/performance.md; exported once into MODEL/onnx, or the user's cache when the "
        "folder is read-only)",
    )
    p.add_argument(
        "--int8",
        action="store_true",
        help="transformer models, faster on any CPU: integer arithmetic in ONNX Runtime (7-bit weights, 8-bit "
        "activations), with the choice of layers saved by 'python -m samskaping.speed calibrate MODEL'; it refuses a "
        "model whose saved agreement with full precision is under 99%%; speed and agreement: see docs/performance.md",
    )
    p.add_argument(
        "--bf16",
        action="store_true",
        help="transformer models, faster on a CPU with bf16 instructions (AMX or AVX512-BF16; 'grep -o bf16 "
        "/proc/cpuinfo' prints something if yours has them): the model's weights in 16-bit bfloat16 instead of "
        "32-bit floats, checked against full precision once per model by training or "
        "'python -m samskaping.speed calibrate MODEL --only bf16'; it refuses other CPUs and a model whose saved "
        "agreement is under 99%%; speed and agreement: see docs/performance.md",
    )
    p.add_argument(
        "--device",
        choices=("auto", "cpu", "cuda"),
        default="cpu",
        help="where a transformer model runs (default cpu; auto: a GPU when there is one)",
    )
    p.add_argument(
        "--threads", type=int, default=None, help="CPU threads for the model (default: one per physical core)"
    )
    p.add_argument("--tracking-uri", help="MLflow tracking URI for models:/ and runs:/ URIs")
    p.add_argument(
        "--read-memory-mb",
        type=int,
        default=2048,
        metavar="MB",
        help="memory (address space) of the worker process that reads one file; a file that needs more is "
        "that file's failure (default 2048)",
    )
    p.add_argument(
        "--read-seconds",
        type=float,
        default=120.0,
        metavar="S",
        help="time to read one file; a file that takes longer is that file's failure (default 120)",
    )
    p.add_argument("--quiet", action="store_true", help="only warnings and errors; no progress bars")
    p.add_argument("--verbose", action="store_true", help="debug messages")
    return p


def reading_limits(memory_mb: int, seconds: float):  # -> ReadingLimits
    """The limits for reading one file, from ``--read-memory-mb`` and ``--read-seconds``.

    Raises:
        SamskapingError: a value out of range, naming the option and what is allowed.
    """
    from pydantic import ValidationError

    from samskaping.documents.limits import ReadingLimits

    try:
        return ReadingLimits(memory_mb=memory_mb, seconds=seconds)
    except ValidationError as exc:
        option = {"memory_mb": "--read-memory-mb", "seconds": "--read-seconds"}
        raise SamskapingError(
            "; ".join(
                f"{option.get(str(e['loc'][0]), e['loc'][0])}: {e['msg'].lower()}, got {e['input']}"
                for e in exc.errors()
            )
        ) from None


def predict_main(argv: Sequence[str] | None = None) -> int:
    """Parse, classify, write the outputs; the exit status says whether every input was read."""
    args = parser().parse_args(argv)
    setup_logging(args.quiet, args.verbose)

    def body() -> int:
        limits = reading_limits(args.read_memory_mb, args.read_seconds)
        if args.batch_size is not None and args.batch_size < 1:
            raise SamskapingError(f"--batch-size must be at least 1, got {args.batch_size}")
        if args.confidence is not None and not 0.5 < args.confidence < 1:
            raise SamskapingError(f"--confidence must be between 0.5 and 1, e.g. 0.9; got {args.confidence}")
        from samskaping.runtime import RuntimeOptions, model_facts, prepare

        options = RuntimeOptions(  # refuses --bf16 with --int8 or --runtime onnx before the model loads
            runtime=args.runtime,
            int8=args.int8,
            bf16=args.bf16,
            device=args.device,
            threads=args.threads,
            tracking_uri=args.tracking_uri,
        )
        if args.priors is not None:
            from samskaping.priors import check_setting

            check_setting(args.priors, where="--priors")
        given = None
        if args.municipalities is not None:  # read before the model loads, so a bad file fails fast
            from samskaping.municipalities import read_municipality_file

            given = read_municipality_file(args.municipalities)
        from samskaping.predict import classify

        spec = model_or_default(args.model, args.baseline, progress_wanted(args.quiet))
        predictor = prepare(spec, options)
        model = predictor.model
        info = model_facts(model, spec, args.tracking_uri)
        info.update(predictor.facts)
        with using(limits):  # each file is read in a worker process under these limits
            result = classify(
                args.inputs,
                model,
                args.output,
                fmt=args.format,
                batch_size=args.batch_size,
                resume=args.resume,
                progress=progress_wanted(args.quiet),
                model_info=info,
                priors=args.priors,
                confidence=args.confidence,
                municipalities=given,
            )
        report = None
        if args.report:
            from samskaping.report import write_report

            report = write_report(args.output)
        if args.qdpx:
            from samskaping.export.qdpx import export_qdpx
            from samskaping.outputs import QDPX

            written = export_qdpx(args.output, args.output / QDPX, municipalities=given)
            print(f"REFI-QDA project: {written.path} ({written.selections} coded sentences)")
        return print_result(result.summary, args.output, result.failures, report)

    return run_command(
        body, interrupted=f"interrupted: finished documents are kept in {args.output}; rerun with --resume"
    )


if __name__ == "__main__":  # pragma: no cover
    sys.exit(predict_main())
