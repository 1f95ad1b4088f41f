"""Agreement between two annotators who labelled the same review workbook.

Per label set: percent agreement; Cohen's κ (Cohen 1960, scikit-learn);
Krippendorff's α for nominal data (Krippendorff 2011, the ``krippendorff``
package); Gwet's AC1 (Gwet 2008, «Computing inter-rater reliability and its
variance in the presence of high agreement», British Journal of Mathematical
and Statistical Psychology 61:29-48). κ is misleading when one label dominates
(most plan sentences are ``none``): agreement can be high and κ low (the
«kappa paradox»); AC1 is robust to that, so all of them are shown.

AC1 is computed here (no well-kept Python package offers it without pinning
old versions of pandas): with q labels in the label set, p_a the observed
agreement and π_k the mean of the two annotators' shares of label k,
p_e = Σ_k π_k (1 - π_k) / (q - 1) and AC1 = (p_a - p_e) / (1 - p_e).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from samskaping.errors import DataError
from samskaping.labels import LABEL_SETS


def percent_agreement(a: Sequence[str], b: Sequence[str]) -> float:
    """Share of items with the same label."""
    return float(np.mean([x == y for x, y in zip(a, b, strict=True)])) if len(a) else float("nan")


def cohen_kappa(a: Sequence[str], b: Sequence[str]) -> float:
    """Cohen's κ (scikit-learn)."""
    from sklearn.metrics import cohen_kappa_score

    return float(cohen_kappa_score(list(a), list(b)))


def krippendorff_alpha(a: Sequence[str], b: Sequence[str], labels: Sequence[str]) -> float:
    """Krippendorff's α, nominal level, two coders (the ``krippendorff`` package)."""
    import krippendorff

    index = {label: i for i, label in enumerate(labels)}
    data = np.array([[index[x] for x in a], [index[y] for y in b]], dtype=float)
    if len(set(data.flatten().tolist())) < 2:
        return 1.0  # one value everywhere: no disagreement possible
    return float(krippendorff.alpha(reliability_data=data, level_of_measurement="nominal"))


def gwet_ac1(a: Sequence[str], b: Sequence[str], labels: Sequence[str]) -> float:
    """Gwet's AC1 for two raters over the ``labels`` of a label set (see the module docstring)."""
    n, q = len(a), len(labels)
    if n == 0 or q < 2:
        return float("nan")
    p_a = percent_agreement(a, b)
    shares = np.array([(list(a).count(k) + list(b).count(k)) / (2 * n) for k in labels])
    p_e = float((shares * (1 - shares)).sum() / (q - 1))
    return (p_a - p_e) / (1 - p_e) if p_e < 1 else 1.0


def _answers(path: Path) -> pd.DataFrame:
    from samskaping.review.importer import read_answers

    answers, problems, _ = read_answers(path)
    if problems:
        listing = "\n".join(str(p) for p in problems[:10])
        raise DataError(f"{path}: {len(problems)} invalid answer(s); fix them first:\n{listing}")
    return answers


def agreement_table(first: str | Path, second: str | Path) -> tuple[pd.DataFrame, dict[str, pd.DataFrame], int]:
    """Agreement per label set on the sentences both workbooks answered.

    Returns:
        The statistics (one row per label set), the confusion table of each label set
        (rows: first annotator, columns: second), and the number of shared sentences.

    Raises:
        DataError: a workbook cannot be read, has invalid answers, or they share no answered sentence.
    """
    a, b = _answers(Path(first)), _answers(Path(second))
    if a.empty or b.empty:
        empty = first if a.empty else second
        raise DataError(f"{empty}: no answered sentence; {first} and {second} share no answered sentence")
    key = "row_id" if a["row_id"].astype(bool).all() and b["row_id"].astype(bool).all() else "text"
    both = a.merge(b, on=key, suffixes=("_a", "_b"))
    if both.empty:
        raise DataError(f"{first} and {second} share no answered sentence; give two labellings of the same export")
    rows: list[dict[str, Any]] = []
    confusions: dict[str, pd.DataFrame] = {}
    for ls, labels in LABEL_SETS.items():
        x, y = both[f"{ls}_a"].tolist(), both[f"{ls}_b"].tolist()
        rows.append(
            {
                "label_set": ls,
                "sentences": len(both),
                "percent_agreement": round(percent_agreement(x, y), 3),
                "cohen_kappa": round(cohen_kappa(x, y), 3),
                "krippendorff_alpha": round(krippendorff_alpha(x, y, labels), 3),
                "gwet_ac1": round(gwet_ac1(x, y, labels), 3),
            }
        )
        confusions[ls] = pd.crosstab(pd.Series(x, name="first"), pd.Series(y, name="second"))
    return pd.DataFrame(rows), confusions, len(both)
