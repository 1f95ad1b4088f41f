"""``python -m samskaping.review {export,import,agreement}``: the review loop (see :mod:`samskaping.review`)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from samskaping.cli.common import EXIT_OK, EXIT_PARTIAL, run_command, setup_logging


def parser() -> argparse.ArgumentParser:
    from samskaping.review.export import STRATEGIES

    p = argparse.ArgumentParser(prog="python -m samskaping.review", description="Label sentences in Excel and turn them into training data.")
    sub = p.add_subparsers(dest="command", required=True)
    ex = sub.add_parser("export", help="write an Excel workbook of sentences to label from a predict.py output folder")
    ex.add_argument("output_dir", type=Path, metavar="OUT_DIR", help="the --output folder of predict.py")
    ex.add_argument("--n", type=int, default=200, help="how many sentences (default 200)")
    ex.add_argument("--strategy", choices=STRATEGIES, default="uncertainty", help="which sentences (default uncertainty)")
    ex.add_argument("--output", type=Path, help="workbook to write (default OUT_DIR/review.xlsx)")
    ex.add_argument("--seed", type=int, default=0)
    im = sub.add_parser("import", help="validate a filled-in workbook (or a coded .qdpx project) and append its answers to a labelled JSONL file")
    im.add_argument("workbook", type=Path, metavar="FILE.xlsx|FILE.qdpx",
                    help="a review workbook, or a REFI-QDA project from 'python -m samskaping.export qdpx' that coders coded")
    im.add_argument("--to", type=Path, required=True, metavar="LABELS.jsonl", help="labelled file to append to (created if needed)")
    im.add_argument("--annotator", default="", help="who labelled it (recorded with every row)")
    ag = sub.add_parser("agreement", help="agreement between two people who labelled the same export")
    ag.add_argument("first", type=Path, metavar="A.xlsx")
    ag.add_argument("second", type=Path, metavar="B.xlsx")
    ag.add_argument("--output", type=Path, help="also write the statistics and confusion tables as XLSX")
    for command in (ex, im, ag):
        command.add_argument("--quiet", action="store_true")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Run one review subcommand; ``import`` exits 1 when some rows were not imported."""
    args = parser().parse_args(argv)
    setup_logging(args.quiet)

    def body() -> int:
        if args.command == "export":
            from samskaping.review.export import export_for_review

            if args.n < 1:
                from samskaping.errors import SamskapingError

                raise SamskapingError(f"--n must be at least 1, got {args.n}")
            path = export_for_review(args.output_dir, args.output or args.output_dir / "review.xlsx", args.n, args.strategy, args.seed)
            print(f"workbook for labelling: {path} (choose labels in the answer_ columns; see the sheet 'Veiledning')")
            return EXIT_OK
        if args.command == "import":
            from samskaping.review.importer import import_answers

            result = import_answers(args.workbook, args.to, args.annotator)
            print(f"{result.imported} row(s) added to {args.to}; {result.not_labelled} without answers; "
                  f"{result.already_there} already there")
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
            from samskaping.outputs import atomic_write

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
