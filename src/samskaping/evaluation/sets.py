"""Evaluate a trained model the way it will be used: on the shipped test split, by form and language, and on
the project's realistic evaluation sets, under each priors setting.

The sets (``data/eval/``, written for the project by writers who did not write
the training rows, and never trained on):

- ``realistic-sentences.jsonl``: 420 sentences in the style of public plan and
  policy text, enriched in positives like a test set; every form of real text.
- ``realistic-plans.jsonl``: five invented samfunnsdel excerpts labelled
  sentence by sentence with realistic proportions (about 13 % co-creation). For
  each plan the predicted share of co-creation sentences is compared with the
  hand-labelled share; ``estimated`` priors are estimated per plan, as when a
  user classifies one plan. Each sentence's heading and previous sentence come
  from the plan's reading order, as ``predict.py`` gives them for a document.
- ``independent.jsonl``: 480 sentences of eight invented plans, written by a
  writer who saw neither the training data nor the real-text notes' examples,
  only the label scheme and public plan pages for style; every row has its
  heading and previous sentence (``data/eval/independent.md``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from samskaping.decisions import decide
from samskaping.evaluation.metrics import breakdown, evaluate
from samskaping.labels import NONE
from samskaping.models.base import Classifier

PROJECT_ROOT = Path(__file__).resolve().parents[3]
SHIPPED = PROJECT_ROOT / "data" / "samskaping-sentences.jsonl"
REALISTIC_SENTENCES = PROJECT_ROOT / "data" / "eval" / "realistic-sentences.jsonl"
REALISTIC_PLANS = PROJECT_ROOT / "data" / "eval" / "realistic-plans.jsonl"
INDEPENDENT = PROJECT_ROOT / "data" / "eval" / "independent.jsonl"
PRIOR_SETTINGS = ("training", "estimated", "uniform")
SENTENCE_SETS = (
    ("shipped_test", "shipped test split"),
    ("realistic_sentences", "realistic sentences"),
    ("independent", "independent set"),
)


def plans_in_reading_order(frame: pd.DataFrame) -> pd.DataFrame:
    """The realistic plans with ``heading`` (the last heading unit above; "" for a heading) and ``sentence_index``."""
    frame = frame.copy()
    headings: list[str] = []
    for _, plan in frame.groupby("document", sort=False):
        current = ""
        for unit, text in zip(plan["unit"], plan["text"], strict=True):
            headings.append("" if unit == "heading" else current)
            current = text if unit == "heading" else current
    frame["heading"] = headings
    frame["sentence_index"] = frame.groupby("document").cumcount()
    return frame


def _scores(frame: pd.DataFrame, labels: dict[str, list[str]], label_sets: Sequence[str]) -> dict[str, float]:
    reports = evaluate({ls: frame[ls].tolist() for ls in label_sets}, labels, label_sets)
    return {ls: round(r.macro_f1, 3) for ls, r in reports.items()}


def evaluate_sentences(
    model: Classifier,
    frame: pd.DataFrame,
    settings: Sequence[str],
    by: Sequence[str] = ("form", "language"),
    batch_size: int | None = None,
) -> dict[str, Any]:
    """Macro-F1 per label set under each priors setting, with a breakdown by ``by`` columns (for the first setting)."""
    frame = frame.reset_index(drop=True)
    probs = model.predict_proba(frame["text"].tolist(), batch_size=batch_size, contexts=model.contexts(frame))
    result: dict[str, Any] = {"sentences": len(frame), "macro_f1": {}, "predicted_cocreation_share": {}}
    for setting in settings:
        decided = decide(model, probs, setting)
        result["macro_f1"][setting] = _scores(frame, decided.labels, model.label_sets)
        result["predicted_cocreation_share"][setting] = round(
            float(np.mean([c != NONE for c in decided.labels["conception"]])), 3
        )
        if setting == settings[0]:
            result["breakdown"] = {
                column: breakdown(frame, decided.labels, model.label_sets, column).to_dict(orient="records")
                for column in by
                if column in frame.columns
            }
    result["gold_cocreation_share"] = round(float((frame["conception"] != NONE).mean()), 3)
    return result


def evaluate_plans(
    model: Classifier, frame: pd.DataFrame, settings: Sequence[str], batch_size: int | None = None
) -> dict[str, Any]:
    """Per plan: hand-labelled and predicted shares of co-creation and factor sentences under each setting."""
    plans = []
    all_labels: dict[str, dict[str, list[str]]] = {s: {ls: [] for ls in model.label_sets} for s in settings}
    ordered = []
    for document, group in frame.groupby("document", sort=False):
        group = group.reset_index(drop=True)
        ordered.append(group)
        probs = model.predict_proba(group["text"].tolist(), batch_size=batch_size, contexts=model.contexts(group))
        row: dict[str, Any] = {
            "document": document,
            "sentences": len(group),
            "gold_cocreation_share": round(float((group["conception"] != NONE).mean()), 3),
            "gold_factor_share": round(float((group["factor"] != NONE).mean()), 3),
        }
        for setting in settings:
            decided = decide(model, probs, setting)
            row[f"{setting}_cocreation_share"] = round(
                float(np.mean([c != NONE for c in decided.labels["conception"]])), 3
            )
            row[f"{setting}_factor_share"] = round(float(np.mean([c != NONE for c in decided.labels["factor"]])), 3)
            for ls in model.label_sets:
                all_labels[setting][ls].extend(decided.labels[ls])
        plans.append(row)
    joined = pd.concat(ordered, ignore_index=True)
    summary = {
        setting: {
            "macro_f1": _scores(joined, all_labels[setting], model.label_sets),
            "mean_abs_error_cocreation_share": round(
                float(np.mean([abs(p[f"{setting}_cocreation_share"] - p["gold_cocreation_share"]) for p in plans])), 3
            ),
            "mean_abs_error_factor_share": round(
                float(np.mean([abs(p[f"{setting}_factor_share"] - p["gold_factor_share"]) for p in plans])), 3
            ),
            "cocreation_share_all_plans": round(
                float(np.mean([c != NONE for c in all_labels[setting]["conception"]])), 3
            ),
        }
        for setting in settings
    }
    return {
        "plans": plans,
        "summary": summary,
        "gold_cocreation_share_all_plans": round(float((joined["conception"] != NONE).mean()), 3),
    }


def evaluate_all(
    model: Classifier, settings: Sequence[str] = PRIOR_SETTINGS, batch_size: int | None = None
) -> dict[str, Any]:
    """The shipped test split, the realistic sentences and the realistic plans (each part only if its file is here)."""
    out: dict[str, Any] = {"priors_settings": list(settings)}
    if SHIPPED.is_file():
        shipped = pd.read_json(SHIPPED, lines=True, dtype=False)
        out["shipped_test"] = evaluate_sentences(
            model, shipped[shipped["split"] == "test"], settings, batch_size=batch_size
        )
    if REALISTIC_SENTENCES.is_file():
        out["realistic_sentences"] = evaluate_sentences(
            model, pd.read_json(REALISTIC_SENTENCES, lines=True, dtype=False), settings, batch_size=batch_size
        )
    if REALISTIC_PLANS.is_file():
        out["realistic_plans"] = evaluate_plans(
            model, plans_in_reading_order(pd.read_json(REALISTIC_PLANS, lines=True, dtype=False)), settings, batch_size
        )
    if INDEPENDENT.is_file():
        out["independent"] = evaluate_sentences(
            model, pd.read_json(INDEPENDENT, lines=True, dtype=False), settings, batch_size=batch_size
        )
    return out


def markdown(result: dict[str, Any], model_name: str) -> str:
    """The results as Markdown tables (for the README)."""
    lines = [
        f"### {model_name}",
        "",
        "| set | priors | conception | factor | polarity | co-creation share (gold) |",
        "|---|---|---|---|---|---|",
    ]
    for key, title in SENTENCE_SETS:
        part = result.get(key)
        if not part:
            continue
        for setting, scores in part["macro_f1"].items():
            predicted, gold = part["predicted_cocreation_share"][setting], part["gold_cocreation_share"]
            lines.append(
                f"| {title} ({part['sentences']}) | {setting} | {scores.get('conception', '-')} | "
                f"{scores.get('factor', '-')} | {scores.get('polarity', '-')} | {predicted} ({gold}) |"
            )
    plans = result.get("realistic_plans")
    if plans:
        for setting, s in plans["summary"].items():
            m = s["macro_f1"]
            sentences = sum(p["sentences"] for p in plans["plans"])
            gold = plans["gold_cocreation_share_all_plans"]
            lines.append(
                f"| realistic plans ({sentences}) | {setting} | {m.get('conception', '-')} | "
                f"{m.get('factor', '-')} | {m.get('polarity', '-')} | {s['cocreation_share_all_plans']} ({gold}) |"
            )
        lines += [
            "",
            "| plan | sentences | gold co-creation share | "
            + " | ".join(f"{s}" for s in result["priors_settings"])
            + " |",
            "|---|---|---|" + "---|" * len(result["priors_settings"]),
        ]
        for p in plans["plans"]:
            lines.append(
                f"| {p['document']} | {p['sentences']} | {p['gold_cocreation_share']} | "
                + " | ".join(str(p[f"{s}_cocreation_share"]) for s in result["priors_settings"])
                + " |"
            )
    for key, title in SENTENCE_SETS:
        part = result.get(key)
        for column in ("form", "language"):
            if not part or column not in part.get("breakdown", {}):
                continue
            lines += [
                "",
                f"By {column}, {title} (priors: {result['priors_settings'][0]}):",
                "",
                f"| {column} | sentences | conception | factor | polarity |",
                "|---|---|---|---|---|",
            ]
            for row in part["breakdown"][column]:
                lines.append(
                    f"| {row[column]} | {row['sentences']} | {row.get('conception_macro_f1', '-')} | "
                    f"{row.get('factor_macro_f1', '-')} | {row.get('polarity_macro_f1', '-')} |"
                )
    return "\n".join(lines)
