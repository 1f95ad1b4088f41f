"""A self-contained HTML report (in Norwegian) of a ``predict.py`` output folder.

``write_report(DIR)`` reads ``DIR/summary.json`` and the sentence and document
tables next to it (CSV, JSONL, Parquet or XLSX, as ``summary.json`` records)
and writes ``DIR/report.html``: the corpus overview («X av N planer nevner
samskaping»), the dominant conception of each plan, a chart of conception
shares per plan, promoting and hindering counts per factor, and the most
confident example sentences for every conception and factor.

The page needs nothing outside itself: the charts are PNG images (matplotlib,
Agg) embedded as base64, the style sheet is inline, and every piece of text
taken from the data is HTML-escaped. The file is written atomically.

Command line (rebuilds the report of an existing folder)::

    python -m samskaping.report DIR
"""

from __future__ import annotations

import argparse
import base64
import html
import io
import json
import logging
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd

from samskaping.errors import SamskapingError
from samskaping.labels import LABEL_SET_NAMES, LABEL_SET_NORWEGIAN, LABEL_SETS, NONE, norwegian
from samskaping.predict import FORMATS, atomic_write, read_existing

log = logging.getLogger(__name__)

REPORT_NAME = "report.html"
SUMMARY_NAME = "summary.json"
TABLE_FORMATS: tuple[str, ...] = FORMATS
EXAMPLES_PER_LABEL = 5
MAX_PLANS_IN_CHART = 60
PLAN_LABEL_CHARS = 40
CONCEPTION_COLOURS = {"service": "#3b6ea5", "democratic": "#c8553d", "innovation": "#4f9d69", "none": "#c9c9c9"}
POLARITY_COLOURS = {"promoting": "#4f9d69", "hindering": "#c8553d"}


@dataclass(frozen=True)
class OutputFolder:
    """The files of one ``predict.py`` output folder, read into memory."""

    path: Path
    fmt: str
    summary: dict[str, Any]
    sentences: pd.DataFrame
    documents: pd.DataFrame

    @property
    def label_sets(self) -> tuple[str, ...]:
        """The label sets the model predicted (columns present in the sentence table)."""
        return tuple(
            ls for ls in LABEL_SET_NAMES if ls in self.sentences.columns and f"{ls}_score" in self.sentences.columns
        )


# ---------------------------------------------------------------- reading


def _table_format(folder: Path, summary: dict[str, Any]) -> str:
    """The table format of the folder: the one ``summary.json`` names, else the only one present."""
    recorded = summary.get("output_format")
    if recorded is not None:
        if recorded not in TABLE_FORMATS:
            raise SamskapingError(
                f"{folder / SUMMARY_NAME}: unknown output_format {recorded!r}; "
                f"expected one of {', '.join(TABLE_FORMATS)}"
            )
        return str(recorded)
    present = [fmt for fmt in TABLE_FORMATS if (folder / f"sentences.{fmt}").is_file()]
    if len(present) == 1:
        return present[0]
    if not present:
        raise SamskapingError(
            f"{folder}: no sentences.csv/.jsonl/.parquet/.xlsx; rerun predict.py with --output {folder}"
        )
    raise SamskapingError(
        f"{folder}: sentence tables in several formats ({', '.join(present)}) and summary.json does not say "
        "which is current; delete the old ones or rerun predict.py"
    )


def _read_table(path: Path, fmt: str) -> pd.DataFrame:
    """Read one output table (CSV was written as UTF-8 with BOM)."""
    if not path.is_file():
        raise SamskapingError(f"{path}: file not found; rerun predict.py with --output {path.parent}")
    try:
        return read_existing(path, fmt)
    except (ValueError, OSError, ImportError) as exc:
        raise SamskapingError(
            f"{path}: cannot be read as {fmt}: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"
        ) from exc


def read_output(output_dir: str | Path) -> OutputFolder:
    """Read ``summary.json`` and the sentence and document tables of an output folder.

    Args:
        output_dir: a folder written by ``predict.py`` (:func:`samskaping.predict.classify`).

    Returns:
        The folder's summary and tables.

    Raises:
        SamskapingError: the folder, ``summary.json`` or a table is missing or unreadable.
    """
    folder = Path(output_dir)
    summary_path = folder / SUMMARY_NAME
    if not folder.is_dir():
        raise SamskapingError(f"{folder}: folder not found; give the --output folder of predict.py")
    if not summary_path.is_file():
        raise SamskapingError(
            f"{folder}: no {SUMMARY_NAME}, so not a predict.py output folder; run predict.py with --output {folder}"
        )
    try:
        summary = json.loads(summary_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise SamskapingError(f"{summary_path}: not valid JSON ({exc}); rerun predict.py to rewrite it") from exc
    if not isinstance(summary, dict):
        raise SamskapingError(f"{summary_path}: expected a JSON object; rerun predict.py to rewrite it")
    fmt = _table_format(folder, summary)
    sentences = _read_table(folder / f"sentences.{fmt}", fmt)
    documents = _read_table(folder / f"documents.{fmt}", fmt)
    for frame, name in ((sentences, "sentences"), (documents, "documents")):
        if "document" not in frame.columns:
            raise SamskapingError(f"{folder / f'{name}.{fmt}'}: no 'document' column; rerun predict.py to rewrite it")
        frame["document"] = frame["document"].astype(str)
    if "text" not in sentences.columns:
        raise SamskapingError(f"{folder / f'sentences.{fmt}'}: no 'text' column; rerun predict.py to rewrite it")
    sentences["text"] = sentences["text"].fillna("").astype(str)
    return OutputFolder(folder, fmt, summary, sentences, documents)


# ---------------------------------------------------------------- small helpers


def esc(value: Any) -> str:
    """HTML-escape any value (quotes included)."""
    return html.escape("" if value is None else str(value), quote=True)


def decimal(value: float, digits: int = 2) -> str:
    """A number with a Norwegian decimal comma."""
    return f"{value:.{digits}f}".replace(".", ",")


def percent(value: float) -> str:
    """A share as a Norwegian percentage, e.g. ``12,5 %``."""
    return f"{decimal(100 * value, 1)} %"


def plan_names(documents: Sequence[str]) -> dict[str, str]:
    """A short display name per document: the file name, or the whole path where file names repeat."""
    names = {doc: Path(doc).name or doc for doc in documents}
    counts = pd.Series(list(names.values())).value_counts()
    return {doc: (name if counts[name] == 1 else doc) for doc, name in names.items()}


def _shorten(text: str, limit: int = PLAN_LABEL_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _int(value: Any) -> int:
    try:
        return 0 if pd.isna(value) else int(value)
    except (TypeError, ValueError):
        return 0


def _png_data_uri(figure: Any) -> str:
    """Render a matplotlib figure to an embedded PNG ``data:`` URI."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, metadata={"Software": None})
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _figure(width: float, height: float) -> Any:
    """A matplotlib figure drawn by the Agg backend, without touching pyplot or the global backend."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def _image(uri: str, alt: str) -> str:
    return f'<img src="{uri}" alt="{esc(alt)}">'


# ---------------------------------------------------------------- charts


def conception_chart(documents: pd.DataFrame, names: dict[str, str]) -> tuple[str, int]:
    """Stacked horizontal bars: per plan, the share of its sentences in each co-creation conception.

    Returns:
        The PNG ``data:`` URI and how many plans it shows (at most :data:`MAX_PLANS_IN_CHART`).
    """
    labels = [label for label in LABEL_SETS["conception"] if label != NONE]
    shares = documents[["document"]].copy()
    for label in labels:
        shares[label] = _numbers(documents, f"conception_{label}_share").astype(float)
    shares["total"] = shares[labels].sum(axis=1)
    shown = shares.sort_values("total", ascending=False, kind="stable").head(MAX_PLANS_IN_CHART).iloc[::-1]
    fig = _figure(9.5, 1.4 + 0.34 * max(len(shown), 1))
    ax = fig.add_subplot()
    y = range(len(shown))
    left = pd.Series(0.0, index=shown.index)
    for label in labels:
        ax.barh(
            y,
            shown[label],
            left=left,
            color=CONCEPTION_COLOURS[label],
            label=norwegian("conception", label),
            height=0.7,
        )
        left = left + shown[label]
    ax.set_yticks(list(y), [_shorten(names.get(d, d)) for d in shown["document"]])
    ax.set_xlabel("Andel av planens setninger")
    ax.xaxis.set_major_formatter(lambda value, _pos: f"{100 * value:.0f} %")
    ax.set_xlim(0, max(0.05, float(shown["total"].max()) * 1.1 if len(shown) else 0.05))
    fig.legend(loc="outside upper center", ncols=len(labels), fontsize=9, frameon=False)
    ax.spines[["top", "right"]].set_visible(False)
    return _png_data_uri(fig), len(shown)


def _numbers(frame: pd.DataFrame, column: str) -> pd.Series:
    """A numeric column (zeros where it is missing or not a number)."""
    if column not in frame.columns:
        return pd.Series(0, index=frame.index, dtype="int64")
    return pd.to_numeric(frame[column], errors="coerce").fillna(0)


def factor_counts(documents: pd.DataFrame) -> pd.DataFrame:
    """Per factor (not ``none``): promoting and hindering sentences and plans that mention it."""
    rows = [
        {
            "factor": label,
            "promoting": int(_numbers(documents, f"factor_{label}_promoting").sum()),
            "hindering": int(_numbers(documents, f"factor_{label}_hindering").sum()),
            "documents": int((_numbers(documents, f"factor_{label}") > 0).sum()),
        }
        for label in LABEL_SETS["factor"]
        if label != NONE
    ]
    return pd.DataFrame(rows)


def factor_chart(counts: pd.DataFrame) -> str:
    """Grouped horizontal bars: promoting and hindering sentences per factor. Returns the PNG ``data:`` URI."""
    fig = _figure(9.5, 1.2 + 0.6 * len(counts))
    ax = fig.add_subplot()
    positions = list(range(len(counts)))[::-1]
    height = 0.38
    for offset, polarity in ((height / 2, "promoting"), (-height / 2, "hindering")):
        values = counts[polarity].tolist()
        bars = ax.barh(
            [p + offset for p in positions],
            values,
            height=height,
            color=POLARITY_COLOURS[polarity],
            label=norwegian("polarity", polarity),
        )
        ax.bar_label(bars, padding=2, fontsize=8)
    ax.set_yticks(positions, [norwegian("factor", f) for f in counts["factor"]])
    ax.set_xlabel("Antall setninger")
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.set_xlim(0, max(1, int(counts[["promoting", "hindering"]].to_numpy().max()) if len(counts) else 1) * 1.15)
    fig.legend(loc="outside upper center", ncols=2, fontsize=9, frameon=False)
    ax.spines[["top", "right"]].set_visible(False)
    return _png_data_uri(fig)


# ---------------------------------------------------------------- sections


def _overview(folder: OutputFolder, names: dict[str, str]) -> str:
    summary, documents = folder.summary, folder.documents
    n = _int(summary.get("documents", len(documents)))
    mentioning = _int(
        summary.get("documents_mentioning_cocreation", _numbers(documents, "cocreation_mentions").gt(0).sum())
    )
    sentences = _int(summary.get("sentences", len(folder.sentences)))
    parts = [
        '<section id="oversikt"><h2>Oversikt</h2>',
        f'<p class="finding"><strong>{mentioning} av {n} planer</strong> nevner samskaping '
        "(ordet «samskaping» eller en bøyningsform).</p>",
    ]
    if "conception" in folder.label_sets:
        with_sentences = _int(summary.get("documents_with_cocreation_sentences", 0))
        cocreating = sum(v for k, v in (summary.get("conception_sentences") or {}).items() if k != NONE)
        parts.append(
            f'<p class="finding"><strong>{with_sentences} av {n} planer</strong> har minst én setning som '
            f"modellen knytter til en forståelse av samskaping; til sammen {cocreating} av {sentences} setninger.</p>"
        )
        dominant = summary.get("dominant_conception") or {}
        rows = "".join(
            f"<tr><td>{esc(norwegian('conception', label))} <small>({esc(label)})</small></td>"
            f'<td class="num">{_int(dominant.get(label, 0))}</td></tr>'
            for label in LABEL_SETS["conception"]
        )
        parts.append(
            '<h3>Dominerende forståelse</h3><table class="compact"><thead><tr><th>Forståelse</th>'
            f'<th class="num">Planer</th></tr></thead><tbody>{rows}</tbody></table>'
        )
    parts.append(_plans_table(folder, names))
    parts.append("</section>")
    return "\n".join(parts)


def _plans_table(folder: OutputFolder, names: dict[str, str]) -> str:
    has_conception = "conception" in folder.label_sets
    head = '<th>Plan</th><th class="num">Setninger</th><th class="num">Treff på «samskap…»</th>'
    if has_conception:
        head += '<th class="num">Setninger om samskaping</th><th>Dominerende forståelse</th>'
    rows = []
    for _, doc in folder.documents.iterrows():
        document = str(doc["document"])
        mentions = _int(doc.get("cocreation_mentions", 0))
        cells = [
            f'<td title="{esc(document)}">{esc(names.get(document, document))}</td>',
            f'<td class="num">{_int(doc.get("sentences", 0))}</td>',
            f'<td class="num">{mentions if mentions else "–"}</td>',
        ]
        if has_conception:
            dominant = str(doc.get("dominant_conception", NONE) or NONE)
            cells.append(f'<td class="num">{_int(doc.get("cocreation_sentences", 0))}</td>')
            cells.append(f"<td>{esc(norwegian('conception', dominant))} <small>({esc(dominant)})</small></td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return (
        '<h3>Planene</h3><table id="planer"><thead><tr>'
        + head
        + "</tr></thead><tbody>"
        + "\n".join(rows)
        + "</tbody></table>"
    )


def _conception_section(folder: OutputFolder, names: dict[str, str]) -> str:
    if "conception" not in folder.label_sets or folder.documents.empty:
        return ""
    uri, shown = conception_chart(folder.documents, names)
    n = len(folder.documents)
    note = "" if shown == n else f" Viser de {shown} av {n} planene med høyest andel."
    return (
        '<section id="forstaelser"><h2>Forståelser av samskaping per plan</h2>'
        "<figure>"
        + _image(uri, "Stolpediagram: andel av setningene i hver plan per forståelse av samskaping")
        + "<figcaption>Hver stolpe er én plan; fargene viser hvor stor andel av planens setninger modellen knytter "
        f"til hver forståelse. Resten av setningene er «{esc(norwegian('conception', NONE))}».{esc(note)}</figcaption>"
        "</figure></section>"
    )


def _factor_section(folder: OutputFolder) -> str:
    if "factor" not in folder.label_sets or "polarity" not in folder.label_sets:
        return ""
    counts = factor_counts(folder.documents)
    uri = factor_chart(counts)
    rows = "".join(
        f"<tr><td>{esc(norwegian('factor', r.factor))} <small>({esc(r.factor)})</small></td>"
        f'<td class="num">{r.promoting}</td><td class="num">{r.hindering}</td><td class="num">{r.documents}</td></tr>'
        for r in counts.itertuples()
    )
    return (
        '<section id="faktorer"><h2>Fremmende og hemmende faktorer</h2><figure>'
        + _image(uri, "Stolpediagram: antall setninger som fremmer og hemmer per faktor")
        + "<figcaption>Antall setninger der modellen finner faktoren, delt på om setningen framstiller den som "
        "fremmende eller hemmende for samskaping.</figcaption></figure>"
        '<table class="compact"><thead><tr><th>Faktor</th><th class="num">Fremmer</th><th class="num">Hemmer</th>'
        f'<th class="num">Planer</th></tr></thead><tbody>{rows}</tbody></table></section>'
    )


def _where(row: Any, names: dict[str, str]) -> str:
    document = str(row["document"])
    place = esc(names.get(document, document))
    page = row.get("page")
    if page is not None and not pd.isna(page):
        place += f", s.&nbsp;{_int(page)}"
    return place


def _examples(sentences: pd.DataFrame, label_set: str, names: dict[str, str]) -> str:
    parts = [f'<section id="eksempler-{label_set}"><h2>Eksempler: {esc(LABEL_SET_NORWEGIAN[label_set].lower())}</h2>']
    for label in LABEL_SETS[label_set]:
        if label == NONE:
            continue
        chosen = sentences[sentences[label_set] == label]
        top = chosen.sort_values(f"{label_set}_score", ascending=False, kind="stable").head(EXAMPLES_PER_LABEL)
        parts.append(
            f"<h3>{esc(norwegian(label_set, label))} <small>({esc(label)}, {len(chosen)} setninger)</small></h3>"
        )
        if top.empty:
            parts.append('<p class="empty">Ingen setninger.</p>')
            continue
        items = []
        for _, row in top.iterrows():
            badge = ""
            if label_set == "factor" and "polarity" in row and str(row["polarity"]) != NONE:
                polarity = str(row["polarity"])
                badge = f' <span class="badge {esc(polarity)}">{esc(norwegian("polarity", polarity))}</span>'
            score = pd.to_numeric(row[f"{label_set}_score"], errors="coerce")
            certainty = "" if pd.isna(score) else f" · sikkerhet {decimal(float(score))}"
            items.append(f"<li><q>{esc(row['text'])}</q>{badge}<br><small>{_where(row, names)}{certainty}</small></li>")
        parts.append('<ol class="examples">' + "\n".join(items) + "</ol>")
    parts.append("</section>")
    return "\n".join(parts)


def _failures(summary: dict[str, Any]) -> str:
    failures = summary.get("failed_documents") or []
    if not failures:
        return ""
    items = "".join(
        f"<li>{esc(f.get('path'))}: <small>{esc(f.get('reason'))}</small></li>" for f in failures if isinstance(f, dict)
    )
    return f'<section id="feil"><h2>Filer som ikke kunne leses ({len(failures)})</h2><ul>{items}</ul></section>'


STYLE = """
body{font-family:"DejaVu Sans",system-ui,sans-serif;margin:0 auto;max-width:1060px;padding:1.5rem}
body{color:#222;line-height:1.45}
h1{margin-bottom:.2rem}h2{border-bottom:2px solid #3b6ea5;padding-bottom:.2rem;margin-top:2.2rem}
.meta,small,figcaption{color:#555;font-size:.85rem}.finding{font-size:1.15rem}
table{border-collapse:collapse;margin:.6rem 0;width:100%}table.compact{width:auto}
th,td{border-bottom:1px solid #ddd;padding:.3rem .6rem;text-align:left;vertical-align:top}
th{background:#f3f5f8}.num{text-align:right;font-variant-numeric:tabular-nums}
figure{margin:1rem 0}img{max-width:100%;height:auto}
ol.examples li{margin-bottom:.6rem}q{quotes:"«" "»"}
.badge{font-size:.75rem;padding:.05rem .4rem;border-radius:.6rem;color:#fff;background:#777}
.badge.promoting{background:#4f9d69}.badge.hindering{background:#c8553d}.empty{color:#777}
"""


def render_report(folder: OutputFolder, generated: datetime | None = None) -> str:
    """The whole HTML page of an output folder.

    Args:
        folder: the output folder, read with :func:`read_output`.
        generated: the time stamp shown on the page (default: now).

    Returns:
        The page as a string; it references no external file or address.
    """
    from samskaping import __version__

    generated = generated or datetime.now()
    summary = folder.summary
    names = plan_names(folder.documents["document"].tolist())
    model = summary.get("model") or {}
    model_text = ", ".join(esc(v) for v in (model.get("model"), model.get("kind")) if v) or "ukjent"
    n = _int(summary.get("documents", len(folder.documents)))
    sentences = _int(summary.get("sentences", len(folder.sentences)))
    body = [
        "<h1>Samskaping i kommunale planer</h1>",
        f'<p class="meta">Rapport laget {generated:%d.%m.%Y %H:%M} fra mappen {esc(folder.path.name or folder.path)} · '
        f"{n} planer, {sentences} setninger · modell: {model_text}</p>",
        '<p class="meta">Tallene bygger på maskinell klassifisering av hver setning. De er anslag som bør kontrolleres '
        "mot teksten, ikke en manuell koding.</p>",
        _overview(folder, names),
        _conception_section(folder, names),
        _factor_section(folder),
    ]
    for label_set in ("conception", "factor"):
        if label_set in folder.label_sets:
            body.append(_examples(folder.sentences, label_set, names))
    body.append(_failures(summary))
    body.append(f'<footer class="meta"><p>Laget med samskaping {esc(__version__)}.</p></footer>')
    return (
        '<!DOCTYPE html>\n<html lang="nb">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        "<title>Samskaping i kommunale planer – rapport</title>\n"
        f"<style>{STYLE}</style>\n</head>\n<body>\n" + "\n".join(p for p in body if p) + "\n</body>\n</html>\n"
    )


def write_report(output_dir: str | Path) -> Path:
    """Write ``output_dir/report.html`` from the files ``predict.py`` wrote there.

    Args:
        output_dir: a ``predict.py`` output folder.

    Returns:
        The path of the report.

    Raises:
        SamskapingError: the folder is not a readable output folder (see :func:`read_output`).
    """
    folder = read_output(output_dir)
    page = render_report(folder)
    target = folder.path / REPORT_NAME
    atomic_write(target, lambda tmp: tmp.write_text(page, encoding="utf-8"))
    log.debug("report written to %s", target)
    return target


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m samskaping.report DIR``; returns the exit status."""
    from samskaping.cli import EXIT_ERROR, EXIT_OK, setup_logging

    parser = argparse.ArgumentParser(
        prog="python -m samskaping.report", description="Rebuild report.html of a predict.py output folder."
    )
    parser.add_argument("output_dir", type=Path, metavar="DIR", help="the --output folder of predict.py")
    parser.add_argument("--quiet", action="store_true", help="only warnings and errors")
    args = parser.parse_args(argv)
    setup_logging(args.quiet)
    try:
        path = write_report(args.output_dir)
    except SamskapingError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    print(f"report written to {path}")
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
