"""A self-contained HTML report (in Norwegian) of a ``predict.py`` output folder.

``write_report(DIR)`` reads the folder (:func:`samskaping.outputs.read_output`)
and writes ``DIR/report.html`` from the Jinja2 template ``report.html.j2``
(autoescaping on, so every text taken from the data is HTML-escaped): the
corpus overview («X av N planer nevner samskaping»), the dominant conception of
each plan, a chart of conception shares per plan (with 95 % intervals where
the folder has them), promoting and hindering counts per factor, and the most
confident *sure* example sentences for every conception and factor. The page
needs nothing outside itself: the charts are embedded PNG images and the style
sheet is inline. The file is written atomically.

Command line (rebuilds the report of an existing folder; :mod:`samskaping.cli.report`)::

    python -m samskaping.report DIR
"""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd

from samskaping.labels import LABEL_SET_NORWEGIAN, LABEL_SETS, NONE, norwegian
from samskaping.methods import methods_html
from samskaping.outputs import METHODS, REPORT, OutputFolder, read_output, write_text
from samskaping.report.charts import conception_chart, factor_chart, factor_counts, numbers, plan_names

log = logging.getLogger(__name__)

REPORT_NAME = REPORT
EXAMPLES_PER_LABEL = 5
TEMPLATE = "report.html.j2"


def decimal(value: float, digits: int = 2) -> str:
    """A number with a Norwegian decimal comma."""
    return f"{value:.{digits}f}".replace(".", ",")


def percent(value: float) -> str:
    """A share as a Norwegian percentage, e.g. ``12,5 %``."""
    return f"{decimal(100 * value, 1)} %"


def _int(value: Any) -> int:
    try:
        return 0 if pd.isna(value) else int(value)
    except (TypeError, ValueError):
        return 0


# Norwegian plurals of the nouns the report counts: «1 plan», «2 planer».
PLURALS = {"plan": "planer", "setning": "setninger", "fil": "filer", "usikker": "usikre"}


def count_noun(n: Any, noun: str) -> str:
    """``n`` and the noun in the number it needs: «1 plan», «0 planer», «2 planer»."""
    return f"{n} {noun if _int(n) == 1 else PLURALS[noun]}"


def noun(n: Any, singular: str) -> str:
    """The noun alone, in the number ``n`` needs («av 1 plan», «av 4 planer»)."""
    return singular if _int(n) == 1 else PLURALS[singular]


def _environment() -> Any:
    from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

    environment = Environment(
        loader=PackageLoader("samskaping.report", ""),
        autoescape=select_autoescape(["html", "j2"], default=True),
        undefined=StrictUndefined,
        trim_blocks=False,
    )
    environment.filters.update({"count_noun": count_noun, "noun": noun})
    return environment


def _is_sure(frame: pd.DataFrame, label_set: str) -> pd.Series:
    """Rows whose prediction set has one label (all rows when the folder has no prediction sets)."""
    column = f"{label_set}_uncertain"
    if column not in frame.columns:
        return pd.Series(True, index=frame.index)
    return ~frame[column].astype(str).str.lower().isin(("true", "1"))


def _examples(folder: OutputFolder, label_set: str, names: dict[str, str]) -> dict[str, Any]:
    sentences = folder.sentences
    sure = _is_sure(sentences, label_set)
    # a heading names a topic: it is counted, but never shown as an example of a label
    shown = sure & (sentences["unit"].astype(str) != "heading") if "unit" in sentences.columns else sure
    groups = []
    for label in LABEL_SETS[label_set]:
        if label == NONE:
            continue
        chosen = sentences[sentences[label_set] == label]
        candidates = chosen[sure.loc[chosen.index]]
        top = (
            chosen[shown.loc[chosen.index]]
            .sort_values(f"{label_set}_score", ascending=False, kind="stable")
            .head(EXAMPLES_PER_LABEL)
        )
        items = []
        for _, row in top.iterrows():
            polarity = str(row.get("polarity", NONE)) if label_set == "factor" else NONE
            score = pd.to_numeric(row[f"{label_set}_score"], errors="coerce")
            page = row.get("page")
            items.append(
                {
                    "text": row["text"],
                    "place": names.get(str(row["document"]), str(row["document"])),
                    "page": None if page is None or pd.isna(page) else _int(page),
                    "certainty": None if pd.isna(score) else decimal(float(score)),
                    "polarity": polarity if polarity in ("promoting", "hindering") else None,
                    "polarity_name": norwegian("polarity", polarity),
                }
            )
        groups.append(
            {
                "name": norwegian(label_set, label),
                "label": label,
                "count": len(chosen),
                "uncertain": int(len(chosen) - len(candidates)),
                "examples": items,
            }
        )
    return {"label_set": label_set, "title": LABEL_SET_NORWEGIAN[label_set].lower(), "groups": groups}


def _context(folder: OutputFolder, generated: datetime) -> dict[str, Any]:
    from samskaping import __version__
    from samskaping.display import display_name

    summary, documents = folder.summary, folder.documents
    names = plan_names(documents["document"].tolist())
    model = summary.get("model") or {}
    n = _int(summary.get("documents", len(documents)))
    has_conception = "conception" in folder.label_sets
    has_intervals = {"cocreation_share", "cocreation_share_low", "cocreation_share_high"} <= set(documents.columns)
    plans = []
    for _, doc in documents.iterrows():
        document = str(doc["document"])
        mentions = _int(doc.get("cocreation_mentions", 0))
        dominant = str(doc.get("dominant_conception", NONE) or NONE)
        share = ""
        if has_intervals:
            share = (
                f"{percent(float(doc['cocreation_share']))} "
                f"({percent(float(doc['cocreation_share_low']))}–{percent(float(doc['cocreation_share_high']))})"
            )
        plans.append(
            {
                "document": display_name(document),
                "name": names.get(document, document),
                "sentences": _int(doc.get("sentences", 0)),
                "mentions": mentions if mentions else "–",
                "cocreation": _int(doc.get("cocreation_sentences", 0)),
                "share": share,
                "dominant": dominant,
                "dominant_name": norwegian("conception", dominant),
            }
        )
    context: dict[str, Any] = {
        "generated": f"{generated:%d.%m.%Y %H:%M}",
        "folder_name": folder.path.name or str(folder.path),
        "n_plans": n,
        "n_sentences": _int(summary.get("sentences", len(folder.sentences))),
        "model_text": ", ".join(str(v) for v in (model.get("model"), model.get("kind")) if v) or "ukjent",
        "mentioning": _int(
            summary.get("documents_mentioning_cocreation", numbers(documents, "cocreation_mentions").gt(0).sum())
        ),
        "has_conception": has_conception,
        "has_intervals": has_intervals,
        "plans": plans,
        "none_name": norwegian("conception", NONE),
        # names shown with control and bidirectional characters escaped (samskaping.display)
        "failures": [
            {**f, "path": display_name(str(f.get("path", "")))}
            for f in summary.get("failed_documents") or []
            if isinstance(f, dict)
        ],
        "duplicates": [
            {**g, "documents": [display_name(str(d)) for d in g.get("documents") or []]}
            for g in summary.get("duplicate_documents") or []
            if isinstance(g, dict)
        ],
        "version": __version__,
        "has_methods": (folder.path / METHODS).is_file(),
        "methods_html": methods_html((folder.path / METHODS).read_text(encoding="utf-8"))
        if (folder.path / METHODS).is_file()
        else "",
        "conception_chart": None,
        "factors": None,
        "uncertainty": None,
        "with_sentences_interval": None,
    }
    if has_conception:
        dominant = summary.get("dominant_conception") or {}
        context["dominant"] = [
            {"label": label, "name": norwegian("conception", label), "plans": _int(dominant.get(label, 0))}
            for label in LABEL_SETS["conception"]
        ]
        context["with_sentences"] = _int(summary.get("documents_with_cocreation_sentences", 0))
        context["cocreating"] = sum(v for k, v in (summary.get("conception_sentences") or {}).items() if k != NONE)
        interval = (summary.get("intervals") or {}).get("documents_with_cocreation_sentences")
        if interval:
            context["with_sentences_interval"] = f"{interval['low']}–{interval['high']}"
        sure = (summary.get("uncertainty") or {}).get("conception")
        confidence = (summary.get("decision_rules") or {}).get("confidence")
        if sure and confidence:
            context["uncertainty"] = {
                "coverage": percent(float(confidence)),
                "sure": sure["sure_cocreation"],
                "uncertain": sure["uncertain"],
            }
        if not documents.empty:
            uri, shown = conception_chart(documents, names)
            note = "" if shown == len(documents) else f"Viser de {shown} av {len(documents)} planene med høyest andel."
            context["conception_chart"] = {"uri": uri, "note": note}
    if "factor" in folder.label_sets and "polarity" in folder.label_sets:
        counts = factor_counts(documents)
        context["factors"] = {
            "uri": factor_chart(counts),
            "rows": [
                {
                    "factor": r.factor,
                    "name": norwegian("factor", r.factor),
                    "promoting": r.promoting,
                    "hindering": r.hindering,
                    "documents": r.documents,
                }
                for r in counts.itertuples()
            ],
        }
    # the files given, read and not read (older folders have no «files»: counted from the failure list)
    files = summary.get("files") or {}
    context["n_failed"] = _int(files.get("failed", len(context["failures"])))
    context["n_given"] = _int(files.get("given", n + context["n_failed"]))
    context["examples"] = [_examples(folder, ls, names) for ls in ("conception", "factor") if ls in folder.label_sets]
    from samskaping.report.municipality_map import municipality_maps

    context["maps"] = municipality_maps(
        documents
    )  # None without municipalities or installed boundaries: no map section
    from samskaping.report.validated import validation_context

    context["validation"] = validation_context(folder, names) if has_conception else None
    return context


def render_report(folder: OutputFolder, generated: datetime | None = None) -> str:
    """The whole HTML page of an output folder.

    Args:
        folder: the output folder, read with :func:`~samskaping.outputs.read_output`.
        generated: the time stamp shown on the page (default: now).

    Returns:
        The page as a string; it references no external file or address.
    """
    return _environment().get_template(TEMPLATE).render(**_context(folder, generated or datetime.now()))


def write_report(output_dir: str | Path) -> Path:
    """Write ``output_dir/report.html`` from the files ``predict.py`` wrote there.

    Raises:
        SamskapingError: the folder is not a readable output folder (see :func:`~samskaping.outputs.read_output`).
    """
    folder = read_output(output_dir)
    target = folder.path / REPORT_NAME
    write_text(render_report(folder), target)
    log.debug("report written to %s", target)
    return target
