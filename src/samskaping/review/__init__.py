"""The review loop: planners correct the model on their own plans, and the corrections become training data.

Step by step (see docs/user-guide/review-loop.md)::

    python -m samskaping.review export OUT_DIR --n 200 --strategy uncertainty --output review.xlsx
    # open review.xlsx in Excel, choose labels in the answer columns (drop-down lists)
    python -m samskaping.review import review.xlsx --to data/my-labels.jsonl --annotator "Kari"
    python train.py --config configs/baseline.yaml \\
        --set 'data.paths=[data/samskaping-sentences.jsonl, data/my-labels.jsonl]'
    python -m samskaping.review agreement kari.xlsx ola.xlsx     # two people labelled the same file

:mod:`~samskaping.review.export` writes the workbook, :mod:`~samskaping.review.importer`
validates and appends the answers, :mod:`~samskaping.review.agreement` compares two annotators.
"""

from samskaping.review.agreement import agreement_table, cohen_kappa, gwet_ac1, krippendorff_alpha, percent_agreement
from samskaping.review.export import export_for_review
from samskaping.review.importer import import_answers

__all__ = [
    "agreement_table",
    "cohen_kappa",
    "export_for_review",
    "gwet_ac1",
    "import_answers",
    "krippendorff_alpha",
    "percent_agreement",
]
