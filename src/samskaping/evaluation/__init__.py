"""Evaluation of a trained model: pure metric functions (:mod:`~samskaping.evaluation.metrics`) and the
evaluation sets (:mod:`~samskaping.evaluation.sets`).

Command line: ``python -m samskaping.evaluation`` (:mod:`samskaping.cli.evaluation`).
"""

from samskaping.evaluation.metrics import (
    LabelSetReport,
    breakdown,
    confusion_figure,
    evaluate,
    evaluate_label_set,
    f1_bar_figure,
    macro_f1_batch,
    macro_f1_interval,
    metric_dict,
)

__all__ = [
    "LabelSetReport",
    "breakdown",
    "confusion_figure",
    "evaluate",
    "evaluate_label_set",
    "f1_bar_figure",
    "macro_f1_batch",
    "macro_f1_interval",
    "metric_dict",
]
