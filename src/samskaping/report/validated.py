"""The report's «Validerte tall» section: raw and corrected figures side by side, from ``validation.json``.

Shown only when ``summary.json`` names a validation of the sentences now in the
folder (``predict.py`` rewrites ``summary.json`` without it, so a validation of an
earlier run is never shown next to new results). Otherwise the section says the
figures are uncorrected and how to validate them.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from samskaping.labels import LABEL_SETS, NONE, norwegian
from samskaping.outputs import OutputFolder
from samskaping.report.charts import figure, png_data_uri, shorten

VALIDATION = "validation.json"
MAX_PLANS_IN_CHART = 60
MAX_DISAGREEMENTS_SHOWN = 40


def _pct(value: Any) -> str:
    return "–" if value is None else f"{float(value) * 100:.1f} %".replace(".", ",")


def _interval(entry: dict[str, Any]) -> str:
    if entry.get("low") is None or entry.get("high") is None:
        return "–"
    return f"{_pct(entry['low'])}–{_pct(entry['high'])}"


def read_validation(folder: OutputFolder) -> dict[str, Any] | None:
    """``validation.json`` when ``summary.json`` says it belongs to the sentences in the folder, else None."""
    record = folder.summary.get("validation")
    path = folder.path / VALIDATION
    if not isinstance(record, dict) or not path.is_file():
        return None
    try:
        result = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
    if not isinstance(result, dict) or result.get("sentences_digest") != record.get("sentences_digest"):
        return None
    return result


def plan_chart(result: dict[str, Any], names: dict[str, str]) -> str | None:
    """Per plan: the corrected share of co-creation sentences with its 95 % interval, and the model's raw share."""
    rows = [
        (doc, entry["cocreation_share"])
        for doc, entry in (result.get("documents") or {}).items()
        if entry.get("cocreation_share", {}).get("estimate") is not None
    ]
    if not rows:
        return None
    rows.sort(key=lambda r: r[1]["estimate"], reverse=True)
    rows = rows[:MAX_PLANS_IN_CHART]
    fig = figure(7.5, 0.9 + 0.28 * len(rows))
    ax = fig.add_subplot()
    y = np.arange(len(rows))[::-1]
    est = np.array([r[1]["estimate"] for r in rows]) * 100
    low = np.array([r[1]["low"] for r in rows]) * 100
    high = np.array([r[1]["high"] for r in rows]) * 100
    raw = np.array([r[1]["raw"] for r in rows]) * 100
    ax.errorbar(
        est,
        y,
        xerr=[est - low, high - est],
        fmt="o",
        color="#c8553d",
        ecolor="#c8553d",
        capsize=3,
        label="korrigert (95 % KI)",
    )
    ax.scatter(raw, y, marker="|", s=120, color="#333333", label="modellen alene")
    ax.set_yticks(y, [shorten(names.get(doc, doc)) for doc, _ in rows])
    ax.set_xlabel("Andel setninger om samskaping (%)")
    ax.set_xlim(left=0)
    ax.grid(axis="x", alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    return png_data_uri(fig)


def validation_context(folder: OutputFolder, names: dict[str, str]) -> dict[str, Any]:
    """What the template's validation section shows (``validated`` False: the how-to note only)."""
    result = read_validation(folder)
    if result is None:
        return {"validated": False, "folder": folder.path.name or str(folder.path)}
    corpus = result.get("corpus") or {}
    share = corpus.get("cocreation_share") or {}
    rows = [
        {
            "name": "Setninger om samskaping",
            "key": "alle forståelser",
            "raw": _pct(share.get("raw")),
            "estimate": _pct(share.get("estimate")),
            "interval": _interval(share),
            "sample_only": _interval(share.get("sample_only") or {}),
        }
    ]
    for label in LABEL_SETS["conception"]:
        entry = (corpus.get("conception") or {}).get(label)
        if entry and label != NONE:
            rows.append(
                {
                    "name": norwegian("conception", label),
                    "key": label,
                    "raw": _pct(entry.get("raw")),
                    "estimate": _pct(entry.get("estimate")),
                    "interval": _interval(entry),
                    "sample_only": _interval(entry.get("sample_only") or {}),
                }
            )
    factor_rows = []
    for key, entry in (corpus.get("factor_polarity") or {}).items():
        factor, polarity = key.rsplit("_", 1)
        factor_rows.append(
            {
                "name": f"{norwegian('factor', factor)} – {norwegian('polarity', polarity)}",
                "key": key,
                "raw": _pct(entry.get("raw")),
                "estimate": _pct(entry.get("estimate")),
                "interval": _interval(entry),
            }
        )
    accuracy = [
        {
            "label_set": ls,
            "name": ls,
            "macro_f1": f"{entry['macro_f1']:.2f}".replace(".", ","),
            "interval": (
                f"{entry['macro_f1_low']:.2f}–{entry['macro_f1_high']:.2f}".replace(".", ",")
                if entry.get("macro_f1_low") is not None
                else "–"
            ),
            "accuracy": _pct(entry.get("accuracy")),
        }
        for ls, entry in (result.get("accuracy") or {}).items()
    ]
    plans = result.get("documents_with_cocreation_sentences") or {}
    disagreements = [
        {
            "text": d["text"],
            "document": names.get(d["document"], d["document"]),
            "coders": ", ".join(f"{ls}: {d['coders'][ls]}" for ls in d["differs"]),
            "model": ", ".join(f"{ls}: {d['model'][ls]}" for ls in d["differs"]),
        }
        for d in (result.get("disagreements") or [])[:MAX_DISAGREEMENTS_SHOWN]
    ]
    sample = result.get("sample") or {}
    return {
        "validated": True,
        "sample": sample.get("sentences"),
        "sample_documents": sample.get("documents"),
        "design": (
            "gitt som CSV og behandlet som et tilfeldig utvalg"
            if "CSV" in str(sample.get("design", ""))
            else "et tilfeldig utvalg, stratifisert etter plan"
        ),
        "rows": rows,
        "factor_rows": factor_rows,
        "accuracy": accuracy,
        "plans": {**plans, "estimate": f"{plans['estimate']:g}".replace(".", ",")}
        if plans.get("estimate") is not None
        else None,
        "plans_note": plans.get("note", ""),
        "chart": plan_chart(result, names),
        "disagreements": disagreements,
        "disagreements_total": result.get("disagreements_total", 0),
        "cite": (result.get("cite") or {}).get("nb", ""),
    }
