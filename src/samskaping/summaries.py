"""Per-document and corpus figures from a classified sentence table.

:func:`summarise_documents` gives one row per document (counts and shares per
label with 95 % confidence intervals, sure and uncertain counts, mentions of
«samskaping», the most confident sure example sentences); :func:`summarise_corpus`
gives the corpus figures of ``summary.json``, among them the study's «k of N
plans mention samskaping» as an exact word count (no interval: it is counted,
not estimated) and «plans with co-creation sentences» with its interval.

Intervals: nonparametric bootstrap over the sentences of a plan (Efron &
Tibshirani 1993), 1,000 resamples, percentile method, seed 0, with SciPy's
``scipy.stats.bootstrap``. For the number of plans with at least one
co-creation sentence, each plan is resampled independently; whether a resample
of plan d holds such a sentence is a Bernoulli draw with probability
1 - (1 - k_d/n_d)^n_d, which is exactly what resampling its n_d sentences gives.
The intervals show the uncertainty from a plan's finite number of sentences,
not the classifier's errors (see the test scores in methods.md).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from samskaping.labels import LABEL_SETS, NONE

# samskaping, samskapinga, samskape, samskaper, samskapar, samskapt(e), samskapende/-ande, samskapingsarena, ...
COCREATION_WORD = re.compile(r"\bsamskap\w*", re.IGNORECASE)
TOP_EXAMPLES = 3
BOOTSTRAP_RESAMPLES = 1000
BOOTSTRAP_SEED = 0
CONFIDENCE_LEVEL = 0.95


def share_intervals(indicators: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """95 % percentile bootstrap intervals of the column means of a (n, L) 0/1 matrix; (L,) lows and highs."""
    from scipy.stats import bootstrap

    n, width = indicators.shape
    if n == 0:
        return np.zeros(width), np.zeros(width)
    if n == 1 or (indicators == indicators[0]).all():
        mean = indicators.mean(axis=0)
        return mean, mean  # every resample gives the same share
    result = bootstrap(
        (indicators.T.astype(float),),
        lambda x, axis: x.mean(axis=axis),
        axis=-1,
        vectorized=True,
        paired=False,
        n_resamples=BOOTSTRAP_RESAMPLES,
        confidence_level=CONFIDENCE_LEVEL,
        method="percentile",
        random_state=BOOTSTRAP_SEED,
    )
    return np.asarray(result.confidence_interval.low), np.asarray(result.confidence_interval.high)


def plans_with_cocreation_interval(documents: pd.DataFrame) -> dict[str, int]:
    """95 % interval of the number of plans with at least one co-creation sentence (see the module docstring)."""
    n = documents["sentences"].to_numpy(dtype=float)
    k = documents["cocreation_sentences"].to_numpy(dtype=float)
    p_any = 1.0 - np.power(1.0 - np.divide(k, n, out=np.zeros_like(k), where=n > 0), n)
    rng = np.random.default_rng(BOOTSTRAP_SEED)
    counts = (rng.random((BOOTSTRAP_RESAMPLES, len(p_any))) < p_any).sum(axis=1)
    tail = (1 - CONFIDENCE_LEVEL) / 2
    return {"low": int(np.quantile(counts, tail)), "high": int(np.quantile(counts, 1 - tail))}


def _is_uncertain(frame: pd.DataFrame, label_set: str) -> pd.Series:
    column = f"{label_set}_uncertain"
    if column not in frame.columns:
        return pd.Series(False, index=frame.index)
    return frame[column].astype(str).str.lower().isin(("true", "1"))


def count_cocreation_words(text: str) -> int:
    """How many times a form of «samskaping» occurs (bokmål and nynorsk)."""
    return len(COCREATION_WORD.findall(text))


def summarise_documents(sentences: pd.DataFrame, label_sets: Sequence[str]) -> pd.DataFrame:
    """One row per document: counts and shares per label with intervals, co-creation mentions, top sentences.

    Works on NumPy arrays of the whole table, indexed per document: a national corpus has thousands of
    documents, and per-document pandas operations were most of ``predict.py``'s writing time.
    """
    mentions = sentences["text"].str.count(COCREATION_WORD).to_numpy() if len(sentences) else np.zeros(0, dtype=int)
    has_conception, has_factor = "conception" in label_sets, "factor" in label_sets
    conceptions = list(LABEL_SETS["conception"])
    factors = [label for label in LABEL_SETS["factor"] if label != NONE]
    conception = sentences["conception"].to_numpy() if has_conception else None
    factor = sentences["factor"].to_numpy() if has_factor else None
    polarity = sentences["polarity"].to_numpy() if "polarity" in label_sets else None
    score = sentences["conception_score"].to_numpy(dtype=float) if has_conception else None
    texts = sentences["text"].to_numpy()
    c_uncertain = _is_uncertain(sentences, "conception").to_numpy()
    f_uncertain = _is_uncertain(sentences, "factor").to_numpy()
    rows = []
    for document, index in sentences.groupby("document", sort=False).indices.items():
        n = len(index)
        row: dict[str, Any] = {"document": document, "sentences": n}
        row["cocreation_mentions"] = int(mentions[index].sum())
        row["mentions_cocreation"] = row["cocreation_mentions"] > 0
        columns = []
        if has_conception:
            c = conception[index]
            columns += [c == label for label in conceptions] + [c != NONE]
        if has_factor:
            f = factor[index]
            columns += [f == label for label in factors]
        onehot = np.column_stack(columns) if columns else np.zeros((n, 0), dtype=bool)
        lows, highs = share_intervals(onehot)  # one bootstrap for every share of the document
        shares = onehot.mean(axis=0) if n else np.zeros(onehot.shape[1])
        if has_conception:
            for j, label in enumerate(conceptions):
                row[f"conception_{label}"] = int(onehot[:, j].sum())
                row[f"conception_{label}_share"] = round(float(shares[j]), 4)
                row[f"conception_{label}_share_low"], row[f"conception_{label}_share_high"] = (
                    round(float(lows[j]), 4),
                    round(float(highs[j]), 4),
                )
            k = len(conceptions)
            cocreating = onehot[:, k]
            row["cocreation_sentences"] = int(cocreating.sum())
            row["cocreation_share"] = round(float(shares[k]), 4)
            row["cocreation_share_low"], row["cocreation_share_high"] = (
                round(float(lows[k]), 4),
                round(float(highs[k]), 4),
            )
            row["cocreation_sure"] = int((cocreating & ~c_uncertain[index]).sum())
            row["conception_uncertain"] = int(c_uncertain[index].sum())
            row["dominant_conception"] = _dominant(c[cocreating], score[index][cocreating])
        if has_factor:
            offset = len(conceptions) + 1 if has_conception else 0
            row["factor_uncertain"] = int(f_uncertain[index].sum())
            for j, label in enumerate(factors, start=offset):
                members = onehot[:, j]
                row[f"factor_{label}"] = int(members.sum())
                row[f"factor_{label}_share"] = round(float(shares[j]), 4)
                row[f"factor_{label}_share_low"], row[f"factor_{label}_share_high"] = (
                    round(float(lows[j]), 4),
                    round(float(highs[j]), 4),
                )
                if polarity is not None:
                    p = polarity[index][members]
                    row[f"factor_{label}_promoting"] = int((p == "promoting").sum())
                    row[f"factor_{label}_hindering"] = int((p == "hindering").sum())
        if has_conception:
            sure = ~c_uncertain[index]
            for label in conceptions:
                if label == NONE:
                    continue
                chosen = np.flatnonzero((c == label) & sure)
                # the highest scores first; among equal scores the earlier sentence (as DataFrame.nlargest does)
                best = chosen[np.argsort(-score[index][chosen], kind="stable")][:TOP_EXAMPLES]
                for k in range(TOP_EXAMPLES):
                    row[f"top_{label}_{k + 1}"] = texts[index][best[k]] if k < len(best) else ""
        rows.append(row)
    return pd.DataFrame(rows)


def _dominant(labels: np.ndarray, scores: np.ndarray) -> str:
    """The most frequent co-creation conception; ties go to the higher summed probability."""
    if len(labels) == 0:
        return NONE
    values, counts = np.unique(labels, return_counts=True)
    best = sorted(values[counts == counts.max()].tolist())
    if len(best) == 1:
        return str(best[0])
    weight = {label: float(scores[labels == label].sum()) for label in best}
    return str(max(best, key=weight.__getitem__))


def summarise_corpus(
    documents: pd.DataFrame, label_sets: Sequence[str], sentences: pd.DataFrame | None = None
) -> dict[str, Any]:
    """Corpus-level figures: the «13 of 41» form, dominant conceptions, factor counts, intervals, uncertainty."""
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
        summary["intervals"] = {
            "method": (
                f"bootstrap over sentences within each plan, {BOOTSTRAP_RESAMPLES} resamples, percentile, "
                f"seed {BOOTSTRAP_SEED}"
            ),
            "confidence_level": CONFIDENCE_LEVEL,
            "documents_with_cocreation_sentences": plans_with_cocreation_interval(documents),
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
    if sentences is not None and n:
        uncertainty = {}
        for label_set in label_sets:
            if f"{label_set}_uncertain" in sentences.columns:
                uncertain = _is_uncertain(sentences, label_set)
                entry = {"uncertain": int(uncertain.sum()), "sure": int((~uncertain).sum())}
                if label_set == "conception":
                    entry["sure_cocreation"] = int(((sentences["conception"] != NONE) & ~uncertain).sum())
                uncertainty[label_set] = entry
        if uncertainty:
            summary["uncertainty"] = uncertainty
    return summary
