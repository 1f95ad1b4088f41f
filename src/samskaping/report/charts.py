"""The report's charts: matplotlib figures (Agg, no pyplot) rendered to embedded PNG ``data:`` URIs."""

from __future__ import annotations

import base64
import io
from pathlib import Path
from typing import Any

import pandas as pd

from samskaping.labels import LABEL_SETS, NONE, norwegian

MAX_PLANS_IN_CHART = 60
PLAN_LABEL_CHARS = 40
CONCEPTION_COLOURS = {"service": "#3b6ea5", "democratic": "#c8553d", "innovation": "#4f9d69", "none": "#c9c9c9"}
POLARITY_COLOURS = {"promoting": "#4f9d69", "hindering": "#c8553d"}


def png_data_uri(figure: Any) -> str:
    """Render a matplotlib figure to an embedded PNG ``data:`` URI."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, metadata={"Software": None})
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def figure(width: float, height: float) -> Any:
    """A matplotlib figure drawn by the Agg backend, without touching pyplot or the global backend."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def shorten(text: str, limit: int = PLAN_LABEL_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def numbers(frame: pd.DataFrame, column: str) -> pd.Series:
    """A numeric column (zeros where it is missing or not a number)."""
    if column not in frame.columns:
        return pd.Series(0, index=frame.index, dtype="int64")
    return pd.to_numeric(frame[column], errors="coerce").fillna(0)


def plan_names(documents: list[str]) -> dict[str, str]:
    """A short display name per document: the file name, or the whole path where file names repeat.

    Control and bidirectional characters in a name are escaped (:func:`samskaping.display.display_name`).
    """
    from samskaping.display import display_name

    names = {doc: Path(doc).name or doc for doc in documents}
    counts = pd.Series(list(names.values())).value_counts()
    return {doc: display_name(name if counts[name] == 1 else doc) for doc, name in names.items()}


def conception_chart(documents: pd.DataFrame, names: dict[str, str]) -> tuple[str, int]:
    """Stacked horizontal bars: per plan, the share of its sentences in each co-creation conception.

    Where the document table has 95 % intervals of the co-creation share
    (``cocreation_share_low``/``_high``), they are drawn as error bars.

    Returns:
        The PNG ``data:`` URI and how many plans it shows (at most :data:`MAX_PLANS_IN_CHART`).
    """
    labels = [label for label in LABEL_SETS["conception"] if label != NONE]
    shares = documents[["document"]].copy()
    for label in labels:
        shares[label] = numbers(documents, f"conception_{label}_share").astype(float)
    shares["total"] = shares[labels].sum(axis=1)
    has_interval = {"cocreation_share_low", "cocreation_share_high"} <= set(documents.columns)
    if has_interval:
        shares["low"] = numbers(documents, "cocreation_share_low").astype(float)
        shares["high"] = numbers(documents, "cocreation_share_high").astype(float)
    shown = shares.sort_values("total", ascending=False, kind="stable").head(MAX_PLANS_IN_CHART).iloc[::-1]
    fig = figure(9.5, 1.4 + 0.34 * max(len(shown), 1))
    ax = fig.add_subplot()
    y = list(range(len(shown)))
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
    right = float(shown["total"].max()) if len(shown) else 0.05
    if has_interval and len(shown):
        errors = [(shown["total"] - shown["low"]).clip(lower=0), (shown["high"] - shown["total"]).clip(lower=0)]
        ax.errorbar(
            shown["total"],
            y,
            xerr=errors,
            fmt="none",
            ecolor="#333333",
            capsize=3,
            linewidth=1,
            label="95 % konfidensintervall",
        )
        right = max(right, float(shown["high"].max()))
    ax.set_yticks(y, [shorten(names.get(d, d)) for d in shown["document"]])
    ax.set_xlabel("Andel av planens setninger")
    ax.xaxis.set_major_formatter(lambda value, _pos: f"{100 * value:.0f} %")
    ax.set_xlim(0, max(0.05, right * 1.1))
    fig.legend(loc="outside upper center", ncols=len(labels) + int(has_interval), fontsize=9, frameon=False)
    ax.spines[["top", "right"]].set_visible(False)
    return png_data_uri(fig), len(shown)


def factor_counts(documents: pd.DataFrame) -> pd.DataFrame:
    """Per factor (not ``none``): promoting and hindering sentences and plans that mention it."""
    rows = [
        {
            "factor": label,
            "promoting": int(numbers(documents, f"factor_{label}_promoting").sum()),
            "hindering": int(numbers(documents, f"factor_{label}_hindering").sum()),
            "documents": int((numbers(documents, f"factor_{label}") > 0).sum()),
        }
        for label in LABEL_SETS["factor"]
        if label != NONE
    ]
    return pd.DataFrame(rows)


def factor_chart(counts: pd.DataFrame) -> str:
    """Grouped horizontal bars: promoting and hindering sentences per factor. Returns the PNG ``data:`` URI."""
    fig = figure(9.5, 1.2 + 0.6 * len(counts))
    ax = fig.add_subplot()
    positions = list(range(len(counts)))[::-1]
    height = 0.38
    for offset, polarity in ((height / 2, "promoting"), (-height / 2, "hindering")):
        bars = ax.barh(
            [p + offset for p in positions],
            counts[polarity].tolist(),
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
    return png_data_uri(fig)
