"""Checks of a labelled file for shipping: label counts, splits and near-duplicates.

``python -m samskaping.data validate PATH`` prints what :func:`validate` finds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from samskaping.labels import LABEL_SETS, NONE


def near_duplicates(texts: Sequence[str], threshold: float = 0.85, chunk: int = 2000) -> list[tuple[int, int, float]]:
    """Pairs (i, j, similarity), i < j, whose character 3-5-gram TF-IDF cosine is >= ``threshold``."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    if len(texts) < 2:
        return []
    matrix = TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), lowercase=True, sublinear_tf=True).fit_transform(
        texts
    )
    pairs: list[tuple[int, int, float]] = []
    for start in range(0, matrix.shape[0], chunk):
        block = (matrix[start : start + chunk] @ matrix.T).tocoo()
        for i, j, value in zip(block.row, block.col, block.data, strict=True):
            i = int(i) + start
            if i < j and value >= threshold:
                pairs.append((i, int(j), float(value)))
    return sorted(pairs)


def describe(frame: pd.DataFrame) -> dict[str, object]:
    """Counts per label, per split and per language, and the hindering share per factor."""
    stats: dict[str, object] = {"rows": len(frame)}
    for label_set in LABEL_SETS:
        stats[label_set] = {k: int(v) for k, v in frame[label_set].value_counts().items()}
    for column in ("split", "language", "form"):
        if column in frame.columns:
            stats[column] = {k: int(v) for k, v in frame[column].value_counts().items()}
    with_factor = frame[frame["factor"] != NONE]
    stats["hindering_share"] = {
        factor: round(float((group["polarity"] == "hindering").mean()), 3)
        for factor, group in with_factor.groupby("factor")
    }
    if "split" in frame.columns:
        stats["conception_by_split"] = {
            split: {k: int(v) for k, v in group["conception"].value_counts().items()}
            for split, group in frame.groupby("split")
        }
    return stats


@dataclass
class ValidationReport:
    """The result of ``validate``: stats, problems and near-duplicate pairs."""

    stats: dict[str, object]
    problems: list  # of samskaping.data.Problem
    cross_split_pairs: list[tuple[str, str, float]]
    within_split_pairs: list[tuple[str, str, float]]
    violations: list[str]

    @property
    def ok(self) -> bool:
        return not self.violations


def validate(path: str | Path, threshold: float = 0.85, max_within_share: float = 0.01) -> ValidationReport:
    """Validate a labelled file for shipping: rows, splits and near-duplicates.

    Violations: any invalid row, a missing ``split`` column, any near-duplicate
    pair across splits, or near-duplicate pairs within a split exceeding
    ``max_within_share`` of the rows.
    """
    from samskaping.data.labelled import check_rows
    from samskaping.documents.tables import read_table

    path = Path(path)
    frame, offset = read_table(path)
    problems = check_rows(frame, str(path), offset)
    violations = [str(p) for p in problems]
    if problems:
        return ValidationReport({"rows": len(frame)}, problems, [], [], violations)
    if "split" not in frame.columns:
        violations.append(f"{path}: no split column (the shipped data fixes its splits)")
    ids = frame["id"] if "id" in frame.columns else pd.Series([f"row{i + offset}" for i in range(len(frame))])
    cross, within = [], []
    for i, j, sim in near_duplicates(frame["text"].tolist(), threshold):
        same = "split" not in frame.columns or frame["split"].iat[i] == frame["split"].iat[j]
        (within if same else cross).append((ids.iat[i], ids.iat[j], round(sim, 3)))
    if cross:
        violations.append(f"{len(cross)} near-duplicate pair(s) across splits (cosine >= {threshold})")
    if len(within) > max_within_share * len(frame):
        violations.append(f"{len(within)} near-duplicate pairs within splits, more than {max_within_share:.0%} of rows")
    return ValidationReport(describe(frame), problems, cross, within, violations)
