"""``python -m samskaping.evaluation MODEL``: scores on the shipped test split and the realistic evaluation sets."""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path

from samskaping.cli.common import EXIT_OK, run_command, setup_logging


def main(argv: Sequence[str] | None = None) -> int:
    """Evaluate a model folder or MLflow URI; print Markdown tables; optionally write JSON."""
    parser = argparse.ArgumentParser(
        prog="python -m samskaping.evaluation",
        description="Evaluate a model on the shipped test split (by form and language) and on data/eval/.",
    )
    parser.add_argument("model", help="model folder or MLflow URI")
    parser.add_argument(
        "--priors",
        nargs="+",
        default=["training", "estimated", "uniform"],
        help="priors settings to compare (default: training estimated uniform)",
    )
    parser.add_argument("--json", type=Path, help="write the full results here")
    parser.add_argument("--tracking-uri", help="MLflow tracking URI for models:/ URIs")
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    setup_logging(args.quiet)

    def body() -> int:
        from samskaping.evaluation.sets import evaluate_all, markdown
        from samskaping.priors import check_setting
        from samskaping.runtime import RuntimeOptions, prepare

        for setting in args.priors:
            check_setting(setting, where="--priors")
        model = prepare(args.model, RuntimeOptions(set_threads=False, tracking_uri=args.tracking_uri)).model
        result = evaluate_all(model, args.priors)
        print(markdown(result, f"{args.model} ({model.kind}, {model.cfg.model.name})"))
        if args.json:
            args.json.parent.mkdir(parents=True, exist_ok=True)
            args.json.write_text(json.dumps(result, ensure_ascii=False, indent=2), encoding="utf-8")
        return EXIT_OK

    return run_command(body)
