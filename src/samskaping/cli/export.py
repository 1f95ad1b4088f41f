"""``python -m samskaping.export {qdpx,qdc}``: results into NVivo, ATLAS.ti, MAXQDA, QualCoder.

See :mod:`samskaping.export`.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from samskaping.cli.common import EXIT_OK, run_command, setup_logging


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m samskaping.export",
        description="Write a coded REFI-QDA project (.qdpx) or the codebook (.qdc) for QDA programs.",
    )
    sub = p.add_subparsers(dest="command", required=True)
    project = sub.add_parser("qdpx", help="a predict.py output folder as a coded project (.qdpx)")
    project.add_argument(
        "output_dir", type=Path, metavar="OUT_DIR", help="the --output folder of predict.py (or of samskaping.spark)"
    )
    project.add_argument("--output", type=Path, required=True, metavar="FILE.qdpx", help="the project to write")
    project.add_argument(
        "--include-none",
        action="store_true",
        help="also code sentences labelled none («Ingen samskaping», «Ingen faktor»)",
    )
    project.add_argument(
        "--line-ends",
        choices=("lf", "crlf"),
        default="lf",
        help="line ends of the plans' text: lf (default; QualCoder, NVivo) or crlf (MAXQDA, ATLAS.ti; "
        "positions count a CRLF as one character, as those programs do)",
    )
    project.add_argument(
        "--municipalities",
        type=Path,
        metavar="FILE.csv",
        help="CSV with columns document,kommunenummer (else a four-digit kommunenummer in a file name is used)",
    )
    codebook = sub.add_parser("qdc", help="the label scheme alone as a codebook (.qdc), for coding by hand")
    codebook.add_argument("--output", type=Path, required=True, metavar="FILE.qdc", help="the codebook to write")
    for command in (project, codebook):
        command.add_argument("--quiet", action="store_true", help="only warnings and errors")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Parse, write the file, say what is in it."""
    args = parser().parse_args(argv)
    setup_logging(args.quiet)

    def body() -> int:
        from samskaping.export.qdpx import export_qdpx, write_qdc

        if args.command == "qdc":
            print(f"codebook written to {write_qdc(args.output)}")
            return EXIT_OK
        from samskaping.municipalities import read_municipality_file

        given = read_municipality_file(args.municipalities) if args.municipalities else None
        result = export_qdpx(
            args.output_dir, args.output, include_none=args.include_none, line_ends=args.line_ends, municipalities=given
        )
        print(
            f"{result.sources} plan(s), {result.selections} coded sentence(s), {result.codings} coding(s) -> "
            f"{result.path} "
            "(REFI-QDA 1.0; validated against Project.xsd)"
        )
        return EXIT_OK

    return run_command(body)
