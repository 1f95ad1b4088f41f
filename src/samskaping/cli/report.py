"""``python -m samskaping.report DIR``: rebuild report.html of a predict.py output folder."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from samskaping.cli.common import EXIT_OK, run_command, setup_logging


def main(argv: Sequence[str] | None = None) -> int:
    """Parse, write the report, print where it is."""
    parser = argparse.ArgumentParser(
        prog="python -m samskaping.report", description="Rebuild report.html of a predict.py output folder."
    )
    parser.add_argument("output_dir", type=Path, metavar="DIR", help="the --output folder of predict.py")
    parser.add_argument("--quiet", action="store_true", help="only warnings and errors")
    args = parser.parse_args(argv)
    setup_logging(args.quiet)

    def body() -> int:
        from samskaping.report import write_report

        print(f"report written to {write_report(args.output_dir)}")
        return EXIT_OK

    return run_command(body)
