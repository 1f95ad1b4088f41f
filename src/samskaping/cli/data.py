"""``python -m samskaping.data {validate,audit} PATH``: check a labelled data file."""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path

from samskaping.cli.common import EXIT_OK, EXIT_PARTIAL, run_command, setup_logging


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m samskaping.data", description="Check a labelled data file.")
    sub = p.add_subparsers(dest="command", required=True)
    check = sub.add_parser("validate", help="validate labels, splits and near-duplicates; print the counts")
    check.add_argument("path", type=Path)
    check.add_argument("--threshold", type=float, default=0.85, help="near-duplicate cosine threshold (default 0.85)")
    check.add_argument("--json", type=Path, help="also write the counts and pairs as JSON to this file")
    audit = sub.add_parser(
        "audit", help="find likely label errors (cleanlab, out-of-fold probabilities); write a review table"
    )
    audit.add_argument("path", type=Path)
    audit.add_argument(
        "--output",
        type=Path,
        default=Path("audit-suspects.xlsx"),
        help="review table to write (default audit-suspects.xlsx in the current folder)",
    )
    audit.add_argument("--folds", type=int, default=5, help="cross-validation folds (default 5)")
    audit.add_argument("--seed", type=int, default=42)
    return p


def _print_report(report, path: Path) -> None:  # report: samskaping.data.ValidationReport
    from samskaping.data import MAX_LISTED_PROBLEMS

    stats = report.stats
    print(f"{path}: {stats['rows']} rows")
    for key in ("conception", "factor", "polarity", "split", "language", "form"):
        if key in stats:
            counts = ", ".join(f"{k} {v}" for k, v in sorted(stats[key].items()))
            print(f"  {key:<11} {counts}")
    if "hindering_share" in stats:
        shares = ", ".join(f"{k} {v:.0%}" for k, v in sorted(stats["hindering_share"].items()))
        print(f"  hindering share per factor: {shares}")
    print(f"  near-duplicate pairs across splits: {len(report.cross_split_pairs)}")
    for a, b, sim in report.cross_split_pairs[:MAX_LISTED_PROBLEMS]:
        print(f"    {a} ~ {b} ({sim})")
    print(f"  near-duplicate pairs within splits: {len(report.within_split_pairs)}")
    for a, b, sim in report.within_split_pairs[:MAX_LISTED_PROBLEMS]:
        print(f"    {a} ~ {b} ({sim})")
    if report.ok:
        print("OK: no violations")
    else:
        print(f"FAILED: {len(report.violations)} violation(s)")
        for line in report.violations[:MAX_LISTED_PROBLEMS]:
            print(f"  {line}")


def main(argv: Sequence[str] | None = None) -> int:
    """Run a data subcommand; ``validate`` exits 1 when the file has violations."""
    args = parser().parse_args(argv)
    setup_logging()

    def body() -> int:
        if args.command == "audit":
            from samskaping.data.audit import audit

            result = audit(args.path, args.output, folds=args.folds, seed=args.seed)
            counts = ", ".join(f"{ls} {n}" for ls, n in result.per_label_set.items())
            print(f"{args.path}: {result.rows} rows; likely label errors: {counts}; {result.seconds:.0f} s")
            print(
                f"review table: {args.output} (fill in 'decision' and 'reason'; accepted changes go to "
                "data/audit/corrections.jsonl)"
            )
            return EXIT_OK
        from samskaping.data import validate

        report = validate(args.path, threshold=args.threshold)
        _print_report(report, args.path)
        if args.json:
            payload = {
                "stats": report.stats,
                "cross_split_pairs": report.cross_split_pairs,
                "within_split_pairs": report.within_split_pairs,
                "violations": report.violations,
            }
            args.json.write_text(json.dumps(payload, ensure_ascii=False, indent=2), encoding="utf-8")
        return EXIT_OK if report.ok else EXIT_PARTIAL

    return run_command(body)
