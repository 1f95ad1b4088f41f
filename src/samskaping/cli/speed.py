"""``python -m samskaping.speed calibrate MODEL``: the int8 calibration and bf16 measurement command."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from samskaping.errors import SamskapingError
from samskaping.runtime.agreement import MIN_AGREEMENT
from samskaping.runtime.bf16 import BF16_FILE, measure_bf16_folder
from samskaping.runtime.int8 import INT8_FILE, VALIDATION_GOAL, calibrate_folder


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m samskaping.speed calibrate MODEL``: measure int8 and bf16 against fp32 once
    and save them with the model."""
    from samskaping.cli.common import EXIT_OK, run_command, setup_logging

    parser = argparse.ArgumentParser(prog="python -m samskaping.speed", description=main.__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    what = (
        "Prepare a transformer model for predict.py --int8 and --bf16: run the model on its own validation and test "
        "sentences in full precision and in the faster reduced precision, and save how often the labels agree "
        "(int8.json, bf16.json in the model folder). For int8 it also chooses which layers stay in full precision "
        "so that at least 99.5% of the validation labels stay the same. predict.py refuses --int8 or --bf16 when "
        "under 99% of the test labels stayed the same. train.py does this itself after training "
        "with the shipped transformer configs (bf16 only on a CPU with bf16 instructions)."
    )
    cal = commands.add_parser(
        "calibrate", help="measure int8 and bf16 against full precision and save it with the model", description=what
    )
    cal.add_argument("model", type=Path, help="model folder (models/NAME)")
    cal.add_argument(
        "--data", type=Path, action="append", help="labelled file(s) to split (default: the model's training data)"
    )
    cal.add_argument(
        "--goal",
        type=float,
        default=VALIDATION_GOAL,
        help=f"int8: share of validation labels that must stay the same (default {VALIDATION_GOAL})",
    )
    cal.add_argument("--threads", type=int, default=None, help="CPU threads (default: one per physical core)")
    cal.add_argument(
        "--ranking",
        choices=("effects", "local"),
        default="effects",
        help="int8: which layer parts are kept in full precision first: those that change the model's scores most "
        "(effects, default) or those whose own output changes most (local)",
    )
    cal.add_argument(
        "--only",
        choices=("int8", "bf16"),
        help="measure only int8 or only bf16 (default: both; bf16 takes seconds, int8 minutes)",
    )
    cal.add_argument("--quiet", action="store_true", help="only warnings and errors")
    args = parser.parse_args(argv)
    setup_logging(args.quiet, False)

    def body() -> int:
        if not 0.5 < args.goal <= 1.0:
            raise SamskapingError(f"--goal must be between 0.5 and 1, e.g. 0.995; got {args.goal}")
        if args.only in (None, "int8"):
            result = calibrate_folder(args.model, args.data, args.goal, args.threads, args.ranking)
            test = result["agreement"]["test"]["all"]
            verdict = (
                "--int8 can be used"
                if test >= MIN_AGREEMENT
                else f"below {MIN_AGREEMENT:.0%}: --int8 will refuse this model"
            )
            print(
                f"int8 ({result['recipe_text']}): {test:.2%} of fp32's labels on the test split, "
                f"{result['agreement']['validation']['all']:.2%} on validation; {verdict} -> {args.model / INT8_FILE}"
            )
        if args.only in (None, "bf16"):
            result = measure_bf16_folder(args.model, args.data, args.threads)
            test, speed = result["agreement"]["test"]["all"], result["sentences_per_second"]
            verdict = (
                "--bf16 can be used on CPUs with bf16 instructions"
                if test >= MIN_AGREEMENT
                else f"below {MIN_AGREEMENT:.0%}: --bf16 will refuse this model"
            )
            print(
                f"bf16: {test:.2%} of fp32's labels on the test split, "
                f"{result['agreement']['validation']['all']:.2%} on validation; "
                f"{speed['bf16']:.0f} sentences/s against {speed['fp32']:.0f} in fp32 on this CPU; "
                f"{verdict} -> {args.model / BF16_FILE}"
            )
        return EXIT_OK

    return run_command(body)
