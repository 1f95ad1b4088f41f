"""Train, validation and test splits of labelled data: the file's ``split`` column, or a seeded stratified split."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from samskaping.data.labelled import SPLITS, LabelledData
from samskaping.errors import DataError

log = logging.getLogger(__name__)


def _strata(frame: pd.DataFrame, min_count: int) -> pd.Series:
    """Stratum per row: conception+factor, rare combinations merged by conception, then into one."""
    combo = frame["conception"] + "|" + frame["factor"]
    counts = combo.value_counts()
    combo = combo.where(combo.map(counts) >= min_count, frame["conception"] + "|rare")
    counts = combo.value_counts()
    return combo.where(combo.map(counts) >= min_count, "rare")


def assign_splits(frame: pd.DataFrame, validation_size: float, test_size: float, seed: int) -> pd.Series:
    """A seeded split stratified on conception and factor (used when there is no split column)."""
    from sklearn.model_selection import train_test_split

    strata = _strata(frame, min_count=3)
    index = np.arange(len(frame))
    held_out = validation_size + test_size
    train_idx, rest_idx = train_test_split(index, test_size=held_out, random_state=seed, stratify=strata)
    rest_strata = _strata(frame.iloc[rest_idx], min_count=2)
    val_idx, test_idx = train_test_split(
        rest_idx, test_size=test_size / held_out, random_state=seed, stratify=rest_strata.to_numpy()
    )
    split = np.empty(len(frame), dtype=object)
    split[train_idx], split[val_idx], split[test_idx] = "train", "validation", "test"
    return pd.Series(split, index=frame.index, name="split")


def split_frame(
    data: LabelledData, validation_size: float = 0.15, test_size: float = 0.15, seed: int = 42
) -> dict[str, pd.DataFrame]:
    """Return the train, validation and test frames.

    The ``split`` column is used when present; every split must then have rows
    (there is no silent fallback from one split to another). Without it, a
    seeded split stratified on conception and factor is made.

    Raises:
        DataError: a split named in the column is empty.
    """
    frame = data.frame
    if "split" in frame.columns:
        split = frame["split"]
        log.info("using the split column of %s", data.path)
    else:
        split = assign_splits(frame, validation_size, test_size, seed)
        log.info("no split column in %s: made a seeded stratified split (seed %d)", data.path, seed)
    parts = {name: frame[split == name].reset_index(drop=True) for name in SPLITS}
    empty = [name for name, part in parts.items() if part.empty]
    if empty:
        raise DataError(f"{data.path}: split column has no rows for {', '.join(empty)}; every split needs rows")
    return parts
