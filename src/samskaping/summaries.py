"""Per-document and corpus figures from a classified sentence table.

:func:`summarise_documents` gives one row per document (counts and shares per
label, mentions of «samskaping», the most confident example sentences);
:func:`summarise_corpus` gives the corpus figures of ``summary.json``, among
them the study's «k of N plans mention samskaping» as an exact word count.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import pandas as pd

from samskaping.labels import LABEL_SETS, NONE

# samskaping, samskapinga, samskape, samskaper, samskapar, samskapt(e), samskapende/-ande, samskapingsarena, ...
COCREATION_WORD = re.compile(r"\bsamskap\w*", re.IGNORECASE)
TOP_EXAMPLES = 3


def count_cocreation_words(text: str) -> int:
    """How many times a form of «samskaping» occurs (bokmål and nynorsk)."""
    return len(COCREATION_WORD.findall(text))


def summarise_documents(sentences: pd.DataFrame, label_sets: Sequence[str]) -> pd.DataFrame:
    """One row per document: counts and shares per label, co-creation mentions, top sentences."""
    rows = []
    for document, group in sentences.groupby("document", sort=False):
        n = len(group)
        row: dict[str, Any] = {"document": document, "sentences": n}
        row["cocreation_mentions"] = int(group["text"].map(count_cocreation_words).sum())
        row["mentions_cocreation"] = row["cocreation_mentions"] > 0
        if "conception" in label_sets:
            counts = group["conception"].value_counts()
            for label in LABEL_SETS["conception"]:
                row[f"conception_{label}"] = int(counts.get(label, 0))
                row[f"conception_{label}_share"] = round(counts.get(label, 0) / n, 4) if n else 0.0
            cocreating = group[group["conception"] != NONE]
            row["cocreation_sentences"] = len(cocreating)
            row["dominant_conception"] = _dominant(cocreating)
        if "factor" in label_sets:
            factor_counts = group["factor"].value_counts()
            for label in LABEL_SETS["factor"]:
                if label == NONE:
                    continue
                row[f"factor_{label}"] = int(factor_counts.get(label, 0))
                if "polarity" in label_sets:
                    sub = group[group["factor"] == label]["polarity"].value_counts()
                    row[f"factor_{label}_promoting"] = int(sub.get("promoting", 0))
                    row[f"factor_{label}_hindering"] = int(sub.get("hindering", 0))
        if "conception" in label_sets:
            for label in LABEL_SETS["conception"]:
                if label == NONE:
                    continue
                top = group[group["conception"] == label].nlargest(TOP_EXAMPLES, "conception_score")
                for k in range(TOP_EXAMPLES):
                    row[f"top_{label}_{k + 1}"] = top["text"].iat[k] if k < len(top) else ""
        rows.append(row)
    return pd.DataFrame(rows)


def _dominant(cocreating: pd.DataFrame) -> str:
    """The most frequent co-creation conception; ties go to the higher summed probability."""
    if cocreating.empty:
        return NONE
    counts = cocreating["conception"].value_counts()
    best = counts[counts == counts.max()].index.tolist()
    if len(best) == 1:
        return str(best[0])
    weight = {label: cocreating.loc[cocreating["conception"] == label, "conception_score"].sum() for label in best}
    return str(max(sorted(weight), key=weight.__getitem__))


def summarise_corpus(documents: pd.DataFrame, label_sets: Sequence[str]) -> dict[str, Any]:
    """Corpus-level figures: the «13 of 41» form, dominant conceptions, factor counts."""
    n = len(documents)
    summary: dict[str, Any] = {
        "documents": n,
        "sentences": int(documents["sentences"].sum()) if n else 0,
        "documents_mentioning_cocreation": int(documents["mentions_cocreation"].sum()) if n else 0,
    }
    summary["mention_finding"] = f"{summary['documents_mentioning_cocreation']} of {n} documents mention samskaping"
    if "conception" in label_sets and n:
        summary["documents_with_cocreation_sentences"] = int((documents["cocreation_sentences"] > 0).sum())
        summary["dominant_conception"] = {k: int(v) for k, v in documents["dominant_conception"].value_counts().items()}
        summary["conception_sentences"] = {
            label: int(documents[f"conception_{label}"].sum()) for label in LABEL_SETS["conception"]
        }
    if "factor" in label_sets and n:
        factors: dict[str, Any] = {}
        for label in LABEL_SETS["factor"]:
            if label == NONE:
                continue
            entry: dict[str, int] = {"sentences": int(documents[f"factor_{label}"].sum())}
            if "polarity" in label_sets:
                entry["promoting"] = int(documents[f"factor_{label}_promoting"].sum())
                entry["hindering"] = int(documents[f"factor_{label}_hindering"].sum())
            entry["documents"] = int((documents[f"factor_{label}"] > 0).sum())
            factors[label] = entry
        summary["factors"] = factors
    return summary
