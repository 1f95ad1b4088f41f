"""``python -m samskaping.review {export,import,agreement,validate}``: the review loop and validated figures.

See :mod:`samskaping.review`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from samskaping.cli.common import EXIT_OK, EXIT_PARTIAL, run_command, setup_logging


def parser() -> argparse.ArgumentParser:
    from samskaping.review.export import STRATEGIES

    p = argparse.ArgumentParser(
        prog="python -m samskaping.review", description="Label sentences in Excel and turn them into training data."
    )
    sub = p.add_subparsers(dest="command", required=True)
    ex = sub.add_parser("export", help="write an Excel workbook of sentences to label from a predict.py output folder")
    ex.add_argument("output_dir", type=Path, metavar="OUT_DIR", help="the --output folder of predict.py")
    ex.add_argument(
        "--n",
        type=int,
        default=None,
        help="how many sentences (default 200; for --strategy validation the size --margin asks for)",
    )
    ex.add_argument(
        "--strategy",
        choices=STRATEGIES,
        default="uncertainty",
        help="which sentences (default uncertainty); 'validation': a blind random sample, stratified by plan, "
        "with no model label shown, for 'review validate'",
    )
    ex.add_argument(
        "--margin",
        type=float,
        default=0.05,
        help="--strategy validation: wanted ± half-width of the corpus co-creation share (default 0.05 = ±5 points)",
    )
    ex.add_argument("--output", type=Path, help="workbook to write (default OUT_DIR/review.xlsx)")
    ex.add_argument("--seed", type=int, default=0)
    im = sub.add_parser(
        "import",
        help="validate a filled-in workbook (or a coded .qdpx project) and append its answers to a labelled JSONL file",
    )
    im.add_argument(
        "workbook",
        type=Path,
        metavar="FILE.xlsx|FILE.qdpx",
        help="a review workbook, or a REFI-QDA project from 'python -m samskaping.export qdpx' that coders coded",
    )
    im.add_argument(
        "--to", type=Path, required=True, metavar="LABELS.jsonl", help="labelled file to append to (created if needed)"
    )
    im.add_argument("--annotator", default="", help="who labelled it (recorded with every row)")
    ag = sub.add_parser("agreement", help="agreement between two people who labelled the same export")
    ag.add_argument("first", type=Path, metavar="A.xlsx")
    ag.add_argument("second", type=Path, metavar="B.xlsx")
    ag.add_argument("--output", type=Path, help="also write the statistics and confusion tables as XLSX")
    va = sub.add_parser("validate", help="measure the model on a blind-coded sample and correct the folder's figures")
    va.add_argument(
        "output_dir",
        type=Path,
        metavar="OUT_DIR",
        help="the --output folder of predict.py the sample was exported from",
    )
    va.add_argument(
        "--labels",
        type=Path,
        action="append",
        required=True,
        metavar="CODED.xlsx",
        help="the coded workbook (or a CSV with row_id, answer_conception, answer_factor, answer_polarity); "
        "give it twice for two coders (the first one's answers are used where they differ)",
    )
    va.add_argument("--seed", type=int, default=0, help="seed of the bootstraps (default 0)")
    for command in (ex, im, ag, va):
        command.add_argument("--quiet", action="store_true")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Run one review subcommand; ``import`` exits 1 when some rows were not imported."""
    args = parser().parse_args(argv)
    setup_logging(args.quiet)

    def body() -> int:
        if args.command == "export":
            from samskaping.review.export import export_for_review

            if args.n is not None and args.n < 1:
                from samskaping.errors import SamskapingError

                raise SamskapingError(f"--n must be at least 1, got {args.n}")
            n = args.n if args.n is not None or args.strategy == "validation" else 200
            default_name = "validation.xlsx" if args.strategy == "validation" else "review.xlsx"
            done = export_for_review(
                args.output_dir, args.output or args.output_dir / default_name, n, args.strategy, args.seed, args.margin
            )
            if args.strategy == "validation":
                print(
                    f"blind validation sample: {done.path}: {done.sentences} sentences from {done.documents} of "
                    f"{done.corpus_documents} plans ({done.corpus_sentences} sentences in all); no model label is shown"
                )
                print(
                    f"  for ±{args.margin * 100:g} points on the corpus share of co-creation sentences, code about "
                    f"{done.suggested} sentences; code every row, without looking at the model's output, then run: "
                    f"python -m samskaping.review validate {args.output_dir} --labels {done.path}"
                )
            else:
                print(
                    f"workbook for labelling: {done.path} (choose labels in the answer_ columns; see the sheet "
                    "'Veiledning')"
                )
            return EXIT_OK
        if args.command == "validate":
            return _validate(args)
        if args.command == "import":
            from samskaping.review.importer import import_answers

            result = import_answers(args.workbook, args.to, args.annotator)
            print(
                f"{result.imported} row(s) added to {args.to}; {result.not_labelled} without answers; "
                f"{result.already_there} already there"
            )
            for problem in result.problems:
                print(f"  not imported: {problem}", file=sys.stderr)
            return EXIT_PARTIAL if result.problems else EXIT_OK
        from samskaping.review.agreement import agreement_table

        stats, confusions, shared = agreement_table(args.first, args.second)
        print(f"{shared} sentences labelled by both")
        print(stats.to_string(index=False))
        for ls, table in confusions.items():
            print(f"\n{ls} (rows: {args.first.name}, columns: {args.second.name})")
            print(table.to_string())
        if args.output:
            from samskaping.files import atomic_write

            def write(path: Path) -> None:
                import pandas as pd

                with pd.ExcelWriter(path, engine="openpyxl") as excel:
                    stats.to_excel(excel, sheet_name="agreement", index=False)
                    for ls, table in confusions.items():
                        table.to_excel(excel, sheet_name=ls)

            atomic_write(args.output, write)
            print(f"written to {args.output}")
        return EXIT_OK

    return run_command(body)


def _validate(args: argparse.Namespace) -> int:
    """Run ``review validate`` and print the figures to cite; exit 1 when some coded rows were refused."""
    from samskaping.review.validate import VALIDATION, validate

    result, coded = validate(args.output_dir, args.labels, args.seed)
    for problem in coded.problems:
        print(f"  not used: {problem}", file=sys.stderr)
    sample, share = result["sample"], result["corpus"]["cocreation_share"]
    print(
        (
            f"{sample['sentences']} coded sentences from {sample['documents']} "
            f"plan{'' if sample['documents'] == 1 else 's'}; "
        )
        + "; ".join(f"{ls} macro-F1 {entry['macro_f1']:.2f}" for ls, entry in result["accuracy"].items())
    )

    def pct(value: float | None) -> str:
        return "–" if value is None else f"{value * 100:.1f} %"

    print(
        f"co-creation sentences in the corpus: model {pct(share['raw'])}, corrected {pct(share['estimate'])} "
        f"(95 % interval {pct(share['low'])}–{pct(share['high'])}; from the coded sample alone "
        f"{pct(share['sample_only']['low'])}–{pct(share['sample_only']['high'])})"
    )
    plans = result["documents_with_cocreation_sentences"]
    if plans.get("estimate") is not None:
        print(
            f"plans with co-creation sentences: model {plans['raw']}, corrected {plans['estimate']:g} "
            f"(95 % interval {plans['low']}–{plans['high']}) of {sample['corpus_documents']}"
        )
    elif plans.get("note"):
        print(f"plans with co-creation sentences: not corrected: {plans['note']}")
    print(
        f"{result['disagreements_total']} coded sentences where coders and model disagree; everything is in "
        f"{args.output_dir / VALIDATION}, summary.json, methods.md and the report"
    )
    return EXIT_PARTIAL if coded.problems else EXIT_OK
