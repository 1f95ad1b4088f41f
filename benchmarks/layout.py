"""Layout benchmark: recall, reading order and precision of the readers on the layout test set.

The set (``tests/layout_set.py``) is written at run time: one designed document
per layout feature of issue 23 (columns drawn out of order, spreads, running
heads, photo credits and captions, pull quotes, fact boxes, a web page with its
chrome), each with its gold sentences in reading order. Run::

    python benchmarks/layout.py [--show-errors]
    python benchmarks/layout.py --speed [--rounds 15]   # seconds to read generated 100-page plans (one and two columns)

It prints one row per feature: recall, order, precision, the share of found
sentences with the right unit (caption, factbox, ...), and the share with the
right page where the feature is about pages.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from layout_set import Ops, _headings_last, _pdf, _split_headings, build_all, draw, flow, score, sentence_source
from plan_files import Bullets, Heading, make_plan_pdf


def _two_column_plan(path: Path, pages: int) -> Path:
    """A plan of ``pages`` two-column pages, drawn right column first and headings last."""
    source = sentence_source(0)
    pdf = _pdf()
    for page in range(1, pages + 1):
        pdf.add_page()
        ops = Ops()
        blocks = [(f"Kapittel {page}", 13.0, True)]
        blocks += [(" ".join(source() for _ in range(count)), 10.0, False) for count in (4, 3, 4, 3, 4, 3, 3)]
        flow(pdf, ops, blocks, [(20, 25, 82, 275), (108, 25, 82, 275)])
        ops = _split_headings(ops)
        draw(pdf, ops, _headings_last(ops))
    pdf.output(str(path))
    return path


def read_speed(folder: Path, layout: str = "one-column", pages: int = 100, rounds: int = 5) -> tuple[float, int, int]:
    """Best-of-``rounds`` seconds for ``read_sentences`` on a generated plan of ``pages`` pages; sentences, pages."""
    from samskaping.documents import read_sentences

    source = sentence_source(0)
    if layout == "two-column":
        path = _two_column_plan(folder / "plan-100-two-column.pdf", pages)
    else:
        plan = [
            [
                Heading(f"Kapittel {page}"),
                " ".join(source() for _ in range(8)),
                Bullets([source()[:-1], source()[:-1]]),
                " ".join(source() for _ in range(8)),
            ]
            for page in range(1, pages + 1)
        ]
        path = make_plan_pdf(folder / "plan-100.pdf", plan)
    import pypdfium2

    with pypdfium2.PdfDocument(str(path)) as pdf:
        printed = len(pdf)
    best, count = float("inf"), 0
    for _ in range(rounds):
        start = time.perf_counter()
        count = len(read_sentences(path))
        best = min(best, time.perf_counter() - start)
    return best, count, printed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--show-errors", action="store_true", help="print the missed and extra sentences")
    parser.add_argument("--speed", action="store_true", help="time reading generated 100-page plan PDFs instead")
    parser.add_argument("--rounds", type=int, default=5, help="timed reads per plan; the best counts (default 5)")
    args = parser.parse_args()
    if args.speed:
        for layout in ("one-column", "two-column"):
            with tempfile.TemporaryDirectory() as folder:
                seconds, count, pages = read_speed(Path(folder), layout, rounds=args.rounds)
            print(f"{pages}-page {layout} plan PDF: {count} sentences read in {seconds:.3f} s (best of {args.rounds})")
        return 0
    with tempfile.TemporaryDirectory() as folder:
        scores = [score(gold) for gold in build_all(Path(folder))]
    print(f"{'feature':<15} {'recall':>7} {'order':>7} {'precision':>9} {'units':>7} {'pages':>7}")
    for result in scores:
        pages = f"{result.pages:7.2f}" if result.pages is not None else f"{'-':>7}"
        print(
            f"{result.feature:<15} {result.recall:7.2f} {result.order:7.2f} {result.precision:9.2f} "
            f"{result.units:7.2f} {pages}"
        )
        if args.show_errors:
            for text in result.missed:
                print(f"    missed: {text}")
            for text in result.extra:
                print(f"    extra:  {text}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
