"""Layout benchmark: recall, reading order and precision of the readers on the layout test set.

The set (``tests/layout_set.py``) is written at run time: one designed document
per layout feature of issue 23 (columns drawn out of order, spreads, running
heads, photo credits and captions, pull quotes, fact boxes, a web page with its
chrome), each with its gold sentences in reading order. Run::

    python benchmarks/layout.py [--show-errors]

It prints one row per feature: recall, order, precision, the share of found
sentences with the right unit (caption, factbox, ...), and the share with the
right page where the feature is about pages.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from layout_set import build_all, score


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--show-errors", action="store_true", help="print the missed and extra sentences")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        scores = [score(gold) for gold in build_all(Path(folder))]
    print(f"{'feature':<15} {'recall':>7} {'order':>7} {'precision':>9} {'units':>7} {'pages':>7}")
    for result in scores:
        pages = f"{result.pages:7.2f}" if result.pages is not None else f"{'-':>7}"
        print(f"{result.feature:<15} {result.recall:7.2f} {result.order:7.2f} {result.precision:9.2f} "
              f"{result.units:7.2f} {pages}")
        if args.show_errors:
            for text in result.missed:
                print(f"    missed: {text}")
            for text in result.extra:
                print(f"    extra:  {text}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
