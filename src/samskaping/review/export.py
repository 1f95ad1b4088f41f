"""Export sentences of a ``predict.py`` output folder to an Excel workbook for labelling.

One row per sentence with its document, page, nearest heading, the sentences
before and after it, the list lead-in of a bullet, the model's labels and
probabilities, and empty answer columns with drop-down lists (Excel data
validation) of the allowed labels in English and Norwegian. A second sheet,
«Veiledning», summarises the label scheme. Strategies for choosing sentences:

- ``uncertainty``: uncertain sentences first (prediction set with more than one
  label, or none), then the smallest margin between the two most probable conceptions
  (active learning's «margin sampling», Scheffer et al. 2001);
- ``random``: a seeded random sample;
- ``per-class``: the same number of sentences per predicted conception and factor;
- ``validation``: a *blind* random sample for validating the corpus figures
  (:mod:`samskaping.validation`): stratified by document with proportional
  allocation, so every sentence is equally likely to be drawn, and the workbook
  shows **no model label or probability** anywhere (coders who see a suggestion
  tend to accept it). Its size is suggested from a target margin when ``n`` is
  not given.

Every workbook has a sheet «Utvalg» that records how it was drawn (strategy,
seed, the output folder, the sentences and plans drawn from);
``review validate`` reads it and refuses any other strategy.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from samskaping.errors import SamskapingError
from samskaping.labels import LABEL_SET_NORWEGIAN, LABEL_SETS, NONE
from samskaping.outputs import read_output
from samskaping.review.choices import ANSWER_COLUMNS, choices

STRATEGIES = ("uncertainty", "random", "per-class", "validation")
SAMPLE_SHEET = "Utvalg"
BLIND = "validation"
SHOWN = ["row_id", "document", "page", "heading", "previous", "text", "next", "context"]
INSTRUCTIONS = [
    (
        "Hva du gjør",
        (
            "Les setningen (kolonne «text») med setningene før og etter og overskriften. Velg én merkelapp i hver "
            "svarkolonne (answer_…) fra nedtrekkslisten. La en rad stå tom hvis du ikke vil merke den; den blir da "
            "ikke tatt med."
        ),
    ),
    (
        "Forståelse (conception)",
        (
            "service: brukere, pårørende eller frivillige er med og former eller leverer en velferdstjeneste. "
            "democratic: innbyggere og sivilsamfunn får innflytelse over beslutninger, planer og lokalsamfunnet. "
            "innovation: kommunen og eksterne parter finner nye løsninger sammen. none: ingen forståelse av samskaping."
        ),
    ),
    (
        "Faktor (factor)",
        (
            "Bare når setningen framstiller noe som en betingelse for at samarbeidet lykkes eller mislykkes: "
            "concept_role (forståelse av begrep og egen rolle), resources (tid, penger, kapasitet), social_process "
            "(tillit, relasjoner, dialog, møteplasser), roles_power (hvem bestemmer, makt, mandat), holistic "
            "(helhetstenkning, på tvers), anchoring (forankring i planer, politikk, ledelse). Ellers none."
        ),
    ),
    (
        "Fremmer/hemmer (polarity)",
        (
            "promoting når faktoren er til stede, planlagt eller nødvendig; hindering når den mangler nå, er en "
            "barriere eller en risiko; none nøyaktig når faktor er none."
        ),
    ),
    (
        "Punktlister",
        (
            "Et kulepunkt leses sammen med innledningen til listen (kolonne «context»): punktet får den faktoren "
            "innledningen gir det. Ellers merkes setningen ut fra det den selv sier."
        ),
    ),
    (
        "Vanlige feller",
        (
            "Ord som tillit, kompetanse, ressurser, forankring, på tvers og dialog er ikke faktorer når de ikke "
            "framstilles som betingelse for samarbeid. Planens egen forankring i plansystemet er none. Slagord uten "
            "aktør og formål er none. Tjenestebeskrivelser uten medvirkning er none."
        ),
    ),
    ("Hele merkeskjemaet", "Se docs/annotation-guide.md i prosjektet."),
    (
        "Valideringsutvalg",
        (
            "Er arket laget med --strategy validation, vises ingen forslag fra modellen: merk hver setning selv, uten "
            "å se hva modellen sa. Merk alle radene; en tom rad svekker valideringen."
        ),
    ),
]


def row_ids(sentences: pd.DataFrame) -> pd.Series:
    """The stable id of each sentence row, ``document#sentence_index`` (what workbooks and coded files carry)."""
    return sentences["document"].astype(str) + "#" + sentences["sentence_index"].astype(str)


def _neighbours(sentences: pd.DataFrame) -> pd.DataFrame:
    """Add the previous and next sentence of the same document (in document order) and a stable row id."""
    frame = sentences.copy()
    frame["_order"] = np.arange(len(frame))
    frame = frame.sort_values(["document", "sentence_index", "_order"], kind="stable")
    grouped = frame.groupby("document", sort=False)["text"]
    frame["previous"] = grouped.shift(1).fillna("")
    frame["next"] = grouped.shift(-1).fillna("")
    frame["row_id"] = row_ids(frame)
    for column in ("heading", "context", "page"):
        if column not in frame.columns:
            frame[column] = ""
    return frame.sort_values("_order").drop(columns="_order")


def _margin(frame: pd.DataFrame) -> pd.Series:
    probs = frame[[f"conception_p_{label}" for label in LABEL_SETS["conception"]]].to_numpy(dtype=float)
    top = np.sort(probs, axis=1)
    return pd.Series(top[:, -1] - top[:, -2], index=frame.index)


def choose(frame: pd.DataFrame, n: int, strategy: str, seed: int = 0) -> pd.DataFrame:
    """``n`` sentences by ``strategy`` (see the module docstring)."""
    if strategy not in STRATEGIES:
        raise SamskapingError(f"--strategy {strategy!r}: allowed: {', '.join(STRATEGIES)}")
    n = min(n, len(frame))
    if strategy == "random":
        return frame.sample(n=n, random_state=seed)
    if strategy == BLIND:
        return stratified_sample(frame, n, seed)
    if strategy == "uncertainty":
        uncertain = (
            frame.get("conception_uncertain", pd.Series(False, index=frame.index))
            .astype(str)
            .str.lower()
            .isin(("true", "1"))
        )
        factor_uncertain = (
            frame.get("factor_uncertain", pd.Series(False, index=frame.index))
            .astype(str)
            .str.lower()
            .isin(("true", "1"))
        )
        key = pd.DataFrame({"sure": ~(uncertain | factor_uncertain), "margin": _margin(frame)}, index=frame.index)
        return frame.loc[key.sort_values(["sure", "margin"], kind="stable").index[:n]]
    groups = [("conception", label) for label in LABEL_SETS["conception"]]
    groups += [("factor", label) for label in LABEL_SETS["factor"] if label != NONE]
    per_group = max(1, n // len(groups))
    picked: list[Any] = []
    for label_set, label in groups:
        members = (
            frame[(frame[label_set] == label) & ~frame.index.isin(picked)]
            if label_set in frame.columns
            else frame.iloc[0:0]
        )
        picked.extend(members.sample(n=min(per_group, len(members)), random_state=seed).index)
    rest = frame[~frame.index.isin(picked)]
    picked.extend(rest.sample(n=min(n - len(picked), len(rest)), random_state=seed).index if len(picked) < n else [])
    return frame.loc[picked[:n]]


def stratified_sample(frame: pd.DataFrame, n: int, seed: int = 0) -> pd.DataFrame:
    """A seeded random sample of ``n`` sentences, stratified by document with proportional allocation.

    Every sentence has the same probability n/N of being drawn (:func:`samskaping.validation.allocate`),
    so the sample is analysed as a simple random sample; within a document the sentences are drawn
    without replacement. Rows come out in document order.
    """
    from samskaping.validation import allocate

    rng = np.random.default_rng(seed)
    groups = frame.groupby("document", sort=False).indices
    draws = allocate([len(index) for index in groups.values()], n, rng)
    picked = [
        np.sort(rng.choice(index, size=k, replace=False)) for index, k in zip(groups.values(), draws, strict=True) if k
    ]
    return frame.iloc[np.concatenate(picked)] if picked else frame.iloc[0:0]


@dataclass(frozen=True)
class Export:
    """What an export wrote: the workbook, how many sentences from how many plans, out of how many."""

    path: Path
    strategy: str
    sentences: int
    documents: int
    corpus_sentences: int
    corpus_documents: int
    suggested: int | None = None
    margin: float | None = None


def export_for_review(
    output_dir: str | Path,
    target: str | Path,
    n: int | None = 200,
    strategy: str = "uncertainty",
    seed: int = 0,
    margin: float = 0.05,
) -> Export:
    """Write the review workbook for ``n`` sentences of a ``predict.py`` output folder.

    Args:
        output_dir: the ``--output`` folder of ``predict.py`` (or of ``samskaping.spark``).
        target: the workbook to write.
        n: how many sentences; for ``validation`` None means the size that ``margin`` asks for
            (:func:`samskaping.validation.suggest_sample_size`, from the model's raw co-creation share).
        strategy: see the module docstring; ``validation`` writes no model label or probability.
        seed: the random seed of the draw.
        margin: for ``validation``: the wanted half-width of the corpus co-creation share's 95 % interval.

    Returns:
        An :class:`Export` (the workbook's path, the sentences and plans drawn, the suggested size).

    Raises:
        SamskapingError: the folder is not a readable output folder, the strategy is unknown, or the margin
        is not in (0, 0.5].
    """
    from samskaping.validation import suggest_sample_size

    folder = read_output(output_dir)
    if "conception" not in folder.label_sets:
        raise SamskapingError(
            f"{output_dir}: the sentences have no conception labels; classify with a model that predicts all label sets"
        )
    frame = _neighbours(folder.sentences)
    suggested = None
    if strategy == BLIND:
        try:
            suggested = suggest_sample_size(
                float((frame["conception"] != NONE).mean()) if len(frame) else 0.0, margin, len(frame)
            )
        except ValueError as exc:
            raise SamskapingError(str(exc)) from None
    chosen = choose(frame, suggested if n is None and suggested is not None else (n or 200), strategy, seed)
    model_columns = (
        []
        if strategy == BLIND
        else [c for ls in folder.label_sets for c in (ls, f"{ls}_score", f"{ls}_top3") if c in chosen.columns]
    )
    sheet = chosen[SHOWN + model_columns].copy()
    for ls in LABEL_SETS:
        sheet[ANSWER_COLUMNS[ls]] = ""
    sheet["comment"] = ""
    path = Path(target)
    path.parent.mkdir(parents=True, exist_ok=True)
    result = Export(
        path,
        strategy,
        len(sheet),
        int(sheet["document"].nunique()),
        len(frame),
        int(frame["document"].nunique()),
        suggested,
        margin if strategy == BLIND else None,
    )
    drawn = sheet["document"].value_counts()
    design = [
        (document, int(size), int(drawn.get(document, 0)))
        for document, size in frame.groupby("document", sort=False).size().items()
    ]
    _write_workbook(sheet.reset_index(drop=True), path, _sample_record(result, folder.path, seed), design)
    return result


def _sample_record(export: Export, folder: Path, seed: int) -> list[tuple[str, Any]]:
    """The «Utvalg» sheet's key-value rows: how the sample was drawn (read back by ``review validate``)."""
    rows: list[tuple[str, Any]] = [
        ("strategy", export.strategy),
        ("seed", seed),
        ("output_folder", folder.resolve().name),
        ("sentences_drawn", export.sentences),
        ("documents_drawn", export.documents),
        ("corpus_sentences", export.corpus_sentences),
        ("corpus_documents", export.corpus_documents),
    ]
    if export.strategy == BLIND:
        rows += [
            (
                "design",
                "blind random sample, stratified by document, proportional allocation (every sentence equally likely)",
            ),
            ("margin", export.margin),
            ("suggested_sentences", export.suggested),
        ]
    return rows


def _write_workbook(
    sheet: pd.DataFrame, path: Path, record: list[tuple[str, Any]], design: list[tuple[str, int, int]]
) -> None:
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.datavalidation import DataValidation

    from samskaping.files import atomic_write

    book = Workbook()
    ws = book.active
    ws.title = "Setninger"
    ws.append(list(sheet.columns))
    for row in sheet.itertuples(index=False):
        ws.append(["" if pd.isna(v) else (v.item() if hasattr(v, "item") else v) for v in row])
    for cells in ws.iter_rows(min_row=2):
        for cell in cells:
            if cell.data_type == "f":
                cell.data_type = "s"  # text that looks like a formula stays text
    lists = book.create_sheet("Valg")
    last = len(sheet) + 1
    for column_index, ls in enumerate(LABEL_SETS, start=1):
        for row_index, choice in enumerate(choices(ls), start=1):
            lists.cell(row=row_index, column=column_index, value=choice)
        letter = get_column_letter(list(sheet.columns).index(ANSWER_COLUMNS[ls]) + 1)
        source = f"Valg!${get_column_letter(column_index)}$1:${get_column_letter(column_index)}${len(LABEL_SETS[ls])}"
        rule = DataValidation(
            type="list",
            formula1=f"={source}",
            allow_blank=True,
            showErrorMessage=True,
            errorTitle=LABEL_SET_NORWEGIAN[ls],
            error=f"Velg en verdi fra listen ({', '.join(LABEL_SETS[ls])})",
        )
        rule.add(f"{letter}2:{letter}{max(2, last)}")
        ws.add_data_validation(rule)
    lists.sheet_state = "hidden"
    widths = {"text": 70, "previous": 40, "next": 40, "heading": 30, "context": 30, "document": 30, "comment": 30}
    for i, column in enumerate(sheet.columns, start=1):
        ws.column_dimensions[get_column_letter(i)].width = widths.get(
            column, 34 if column.startswith("answer_") else 14
        )
        if column in ("text", "previous", "next"):
            for cell in ws[get_column_letter(i)][1:]:
                cell.alignment = Alignment(wrap_text=True, vertical="top")
    for cell in ws[1]:
        cell.font = Font(bold=True)
    ws.freeze_panes = "A2"
    ws.auto_filter.ref = f"A1:{get_column_letter(sheet.shape[1])}{last}"
    guide = book.create_sheet("Veiledning", 0)
    guide.append(["Emne", "Forklaring"])
    for topic, text in INSTRUCTIONS:
        guide.append([topic, text])
    guide.column_dimensions["A"].width = 26
    guide.column_dimensions["B"].width = 110
    for cells in guide.iter_rows(min_row=2):
        cells[1].alignment = Alignment(wrap_text=True, vertical="top")
    sample = book.create_sheet(SAMPLE_SHEET)
    sample.append(["key", "value"])
    for key, value in record:
        sample.append([key, value])
    sample.append([])
    sample.append(["document", "sentences", "drawn"])
    for row in design:
        sample.append(list(row))
    sample.column_dimensions["A"].width = 30
    sample.column_dimensions["B"].width = 40
    book.active = 1
    atomic_write(path, lambda p: book.save(p))
