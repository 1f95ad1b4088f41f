"""``python predict.py INPUT... --output DIR [--model MODEL]``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from samskaping.cli.common import Parser, print_result, progress_wanted, run_command, setup_logging
from samskaping.documents.limits import using
from samskaping.errors import SamskapingError
from samskaping.outputs import FORMATS

MLFLOW_URI_PREFIXES = ("models:/", "runs:/", "mlflow-artifacts:/")
# Measured by benchmarks/benchmark.py (benchmarks/results/cpu-2core.json, "agreement"); update with the results.
INT8_AGREEMENT_TEXT = (
    "for the fine-tuned e5 model its labels agreed with fp32 on 99.89%% of the shipped test split at 1.3x "
    "the speed of PyTorch fp32 (benchmarks/results/cpu-2core.txt); it refuses a model whose saved "
    "agreement is under 99%%"
)
BF16_AGREEMENT_TEXT = (
    "for the fine-tuned e5 model its labels agreed with fp32 on 100%% of the shipped test split at 2.4x "
    "the speed of PyTorch fp32 (benchmarks/results/cpu-2core.txt); it refuses other CPUs and a model whose saved "
    "agreement is under 99%%"
)


def parser() -> argparse.ArgumentParser:
    p = Parser(
        prog="predict.py",
        description="Classify every sentence of municipal plans (PDF, DOCX, HTML, TXT, MD) or sentence tables (CSV, JSONL, XLSX).",
        epilog="Exit status: 0 all inputs read; 1 some inputs not read (listed); 2 bad arguments, model or "
        "configuration; 3 internal error; 130 interrupted.",
    )
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="files or folders (searched recursively)")
    p.add_argument(
        "--model",
        help="model folder (models/NAME) or MLflow URI (models:/samskaping@champion); "
        "default: the baseline trained on the shipped data, built on first use",
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
        "PyTorch on some CPUs, not on the one measured in the README's Performance section; "
        "exported once into MODEL/onnx, or the user's cache when the folder is read-only)",
    )
    p.add_argument(
        "--int8",
        action="store_true",
        help=f"transformer models, faster on any CPU: integer arithmetic in ONNX Runtime (7-bit weights, 8-bit activations), with the choice of layers saved by "
        f"'python -m samskaping.speed calibrate MODEL'; {INT8_AGREEMENT_TEXT}",
    )
    p.add_argument(
        "--bf16",
        action="store_true",
        help=f"transformer models, faster on a CPU with bf16 instructions (AMX or AVX512-BF16; 'grep -o bf16 "
        f"/proc/cpuinfo' prints something if yours has them): the model's weights in 16-bit bfloat16 instead of "
        f"32-bit floats, checked against full precision once per model by training or "
        f"'python -m samskaping.speed calibrate MODEL --only bf16'; "
        f"{BF16_AGREEMENT_TEXT}",
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


def load_any_model(spec: str, tracking_uri: str | None = None):  # -> Classifier
    """A model folder, or an MLflow URI (models:/NAME@ALIAS, models:/NAME/VERSION, runs:/RUN_ID/model)."""
    from samskaping.models import load_model

    if spec.startswith(MLFLOW_URI_PREFIXES):
        from samskaping.mlflow_model import load_from_mlflow  # imports MLflow only when needed

        return load_from_mlflow(spec, tracking_uri)
    return load_model(Path(spec))


def model_facts(model, spec: str, tracking_uri: str | None) -> dict[str, object]:
    """What summary.json records about the model: kind, name, training run, digest, registry version."""
    import hashlib
    import json

    import samskaping

    facts: dict[str, object] = {
        "model": spec,
        "kind": model.kind,
        "name": model.cfg.model.name,
        "run_id": model.manifest.get("run_id"),
        "dataset_digest": model.manifest.get("dataset_digest"),
        "digest": hashlib.sha256(json.dumps(model.manifest, sort_keys=True, default=str).encode()).hexdigest()[:12],
        "trained_with_samskaping": model.manifest.get("samskaping_version"),
        "samskaping_version": samskaping.__version__,
        "label_sets": list(model.label_sets),
        "trained_at": model.manifest.get("trained_at"),
        "data_files": model.manifest.get("data_files"),
        "test_metrics": {
            k: v
            for k, v in (model.manifest.get("metrics") or {}).items()
            if k.startswith("test_") and any(x in k for x in ("macro_f1", "_ece", "set_coverage"))
        },
    }
    if spec.startswith("models:/"):
        from samskaping.mlflow_model import registry_version

        facts["registered_version"] = registry_version(spec, tracking_uri)
    return facts


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
        if args.bf16 and (args.int8 or args.runtime == "onnx"):
            raise SamskapingError("--bf16 runs the model in PyTorch; use it without --int8 and --runtime onnx")
        if args.priors is not None:
            from samskaping.priors import check_setting

            check_setting(args.priors, where="--priors")
        given = None
        if args.municipalities is not None:  # read before the model loads, so a bad file fails fast
            from samskaping.municipalities import read_municipality_file

            given = read_municipality_file(args.municipalities)
        from samskaping.predict import classify

        spec = args.model
        if spec is None:
            from samskaping.default_model import ensure_default_model

            spec = str(ensure_default_model())
        model = load_any_model(spec, args.tracking_uri)
        info = model_facts(model, spec, args.tracking_uri)
        if model.uses_torch:
            from samskaping.models.transformer import pick_device
            from samskaping.onnx_runtime import use_onnx, use_torch
            from samskaping.speed import bf16_model, int8_model, tune_threads

            info["threads"] = tune_threads(args.threads)
            device = pick_device(args.device)
            if (args.int8 or args.bf16 or args.runtime == "onnx") and device.type != "cpu":
                raise SamskapingError(
                    "--int8, --bf16 and --runtime onnx are CPU paths (on a GPU a model runs in bf16 already); "
                    "leave them out with --device cuda"
                )
            model.to(device)
            if args.int8:
                model = int8_model(model, threads=info["threads"]["intra_op"])
            elif args.runtime == "onnx":
                model = use_onnx(model, threads=info["threads"]["intra_op"], release_torch=True)
            else:
                model = use_torch(model)  # an MLflow model may have opened ONNX Runtime itself
                if args.bf16:
                    model = bf16_model(model)
            info["int8"], info["bf16"], info["device"] = bool(args.int8), bool(args.bf16), device.type
            info["runtime"] = "onnxruntime" if model.backend is not None else "torch"
        elif args.int8 or args.bf16 or args.runtime == "onnx":
            raise SamskapingError(
                f"--int8, --bf16 and --runtime onnx apply to transformer models; {spec} is a {model.kind} model"
            )
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
