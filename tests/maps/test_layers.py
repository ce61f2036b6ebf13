"""Map layers: geometry preparation, and the layers drawn from the inputs (schools, boundaries)."""

from __future__ import annotations

import re
from collections.abc import Callable

import folium
import geopandas as gpd
import numpy as np
import pyproj
import pytest
import shapely
from branca.element import Figure

from maps import layers as ly
from planning.app.stage import RunResult

CRS = "EPSG:32649"  # UTM 49N, the fixtures' metric CRS


def _map() -> folium.Map:
    figure = Figure()
    m = folium.Map(location=[37.0, 110.0], tiles=None)
    figure.add_child(m)
    return m


def _script(m: folium.Map) -> str:
    return m.get_root().render()


def test_display_geometries_reprojects_and_rounds() -> None:
    pts = gpd.GeoSeries([shapely.Point(500_000.0, 4_100_000.0), shapely.Point(412_345.6, 4_098_765.4)], crs=CRS)
    out = ly.display_geometries(pts, ly.Display())
    lon, lat = pyproj.Transformer.from_crs(CRS, 4326, always_xy=True).transform([500_000.0, 412_345.6], [4_100_000.0, 4_098_765.4])
    assert out[0].x == pytest.approx(111.0)  # central meridian of UTM 49
    np.testing.assert_allclose([p.x for p in out], np.round(lon, 5), atol=0)
    np.testing.assert_allclose([p.y for p in out], np.round(lat, 5), atol=0)
    assert all(len(repr(p.x).split(".")[1]) <= 5 for p in out)


def test_display_geometries_simplifies_and_shifts() -> None:
    wiggly = shapely.LineString([(400_000 + 10 * k, 4_100_000 + (1 if k % 2 else 0)) for k in range(101)])
    shifted = ly.Display(tolerance_m=5, shift=lambda lon, lat: (lon + 0.01, lat - 0.002))
    out = ly.display_geometries(gpd.GeoSeries([wiggly], crs=CRS), shifted)[0]
    plain = ly.display_geometries(gpd.GeoSeries([wiggly], crs=CRS), ly.Display(tolerance_m=0))[0]
    assert len(out.coords) == 2  # 1 m zigzag removed at 5 m tolerance
    assert out.coords[0][0] == pytest.approx(plain.coords[0][0] + 0.01, abs=1e-9)
    assert out.coords[0][1] == pytest.approx(plain.coords[0][1] - 0.002, abs=1e-9)


def test_display_geometries_without_crs_fails() -> None:
    with pytest.raises(ValueError, match="no CRS"):
        ly.display_geometries(gpd.GeoSeries([shapely.Point(0, 0)]), ly.Display())


def test_add_schools_without_balance_is_grey_and_sized_by_enrolment(make_run: Callable[..., RunResult]) -> None:
    run = make_run()
    m = ly.add_schools(_map(), run.inputs.schools)
    page = _script(m)
    assert page.count(f'"f":"{ly.UNKNOWN_COLOUR}"') == 4
    radii = [float(r) for r in re.findall(r'"r":([0-9.]+)', page)]
    assert max(radii) == 14.0  # the largest school: 4 + 10
    assert "未评估" in page


def test_add_schools_strength_colours(make_run: Callable[..., RunResult]) -> None:
    run = make_run()
    balance = run.outputs["balance"].files["schools_balance.csv"]
    page = _script(ly.add_schools(_map(), run.inputs.schools, balance=balance, display=ly.Display(language="en")))
    assert page.count(f'"f":"{ly.STRENGTH_COLOURS["middle"]}"') == 2
    assert "Strength strong (1.30)" in page


def test_boundaries_county_drawn_over_townships(make_run: Callable[..., RunResult]) -> None:
    run = make_run()
    page = _script(ly.add_boundaries(_map(), run.inputs.boundary))
    assert page.count('"type":"LineString"') == 3  # polygon outlines as lines: no hover over the area
    assert page.index('"t":"东镇"') < page.index('"t":"测试县"')
