"""Labelled data: read, validate, split, describe, and find near-duplicates.

A labelled file is CSV, JSONL or XLSX with a ``text`` column and the label
columns of the label scheme (``conception``, ``factor``, ``polarity``), and
optionally ``id``, ``language``, ``source`` and ``split``. Every row is
checked; a bad row is reported with file, row number, column and value.

================================  ==================================================
:mod:`~samskaping.data.labelled`  read and validate labelled files; digests
:mod:`~samskaping.data.splits`    train/validation/test splits
:mod:`~samskaping.data.validate`  the checks of a file for shipping
:mod:`~samskaping.data.audit`     cross-validated audit of the labels
================================  ==================================================

Reading a table as such (CSV, JSONL, XLSX) is :func:`samskaping.documents.tables.read_table`.

Command line (:mod:`samskaping.cli.data`)::

    python -m samskaping.data validate data/samskaping-sentences.jsonl
    python -m samskaping.data audit data/samskaping-sentences.jsonl
"""

from samskaping.data.labelled import (
    LANGUAGES,
    MAX_LISTED_PROBLEMS,
    REQUIRED_COLUMNS,
    SPLITS,
    LabelledData,
    Problem,
    check_rows,
    dataset_digest,
    file_digest,
    format_problems,
    load_labelled,
    load_labelled_files,
    require_columns,
)
from samskaping.data.splits import assign_splits, split_frame
from samskaping.data.validate import ValidationReport, describe, near_duplicates, validate
from samskaping.documents.tables import TABLE_SUFFIXES, read_table

__all__ = [
    "LANGUAGES",
    "MAX_LISTED_PROBLEMS",
    "REQUIRED_COLUMNS",
    "SPLITS",
    "TABLE_SUFFIXES",
    "LabelledData",
    "Problem",
    "ValidationReport",
    "assign_splits",
    "check_rows",
    "dataset_digest",
    "describe",
    "file_digest",
    "format_problems",
    "load_labelled",
    "load_labelled_files",
    "near_duplicates",
    "read_table",
    "require_columns",
    "split_frame",
    "validate",
]
