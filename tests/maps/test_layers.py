"""Map layers: geometry preparation, colours, tooltips, defensive reading."""

from __future__ import annotations

import re
from collections.abc import Callable

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
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


def _layer_names(m: folium.Map) -> list[str]:
    return [c.layer_name for c in m._children.values() if isinstance(c, folium.FeatureGroup)]


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


def test_zone_colours_differ_between_neighbours() -> None:
    # four quadrants all meeting at one corner: every pair touches, so four colours
    boxes = [shapely.box(x, y, x + 1, y + 1) for x in (0, 1) for y in (0, 1)] + [shapely.box(5, 5, 6, 6)]
    zones = gpd.GeoDataFrame({"school_id": ["A", "B", "C", "D", "E"]}, geometry=boxes, crs=CRS)
    colours = ly.zone_colours(zones)
    assert len({colours[s] for s in "ABCD"}) == 4
    assert set(colours.values()) <= set(ly.PALETTE)
    assert ly.zone_colours(zones.iloc[::-1]) == colours  # independent of row order


def test_add_zones_marks_over_capacity_and_computes_utilization() -> None:
    zones = gpd.GeoDataFrame(
        {"school_id": ["A", "B"], "name": ["甲小", "乙小"], "students": [90, 130], "capacity_seats": [100, 100]},
        geometry=[shapely.box(0, 0, 1000, 1000), shapely.box(1000, 0, 2000, 1000)],
        crs=CRS,
    )
    m = ly.add_zones(_map(), zones, level="primary")
    page = _script(m)
    assert _layer_names(m) == ["小学片区"]
    assert "学位使用率 90%" in page
    assert "学位使用率 130% ⚠" in page
    assert page.count(f'"c":"{ly.OVER_CAPACITY_COLOUR}"') == 1


def test_add_zones_without_school_id_is_skipped() -> None:
    zones = gpd.GeoDataFrame({"zone": ["A"]}, geometry=[shapely.box(0, 0, 1, 1)], crs=CRS)
    m = ly.add_zones(_map(), zones, level="primary")
    assert _layer_names(m) == []


def test_add_blocks_colours_by_school_and_lists_unserved(make_run: Callable[..., RunResult]) -> None:
    run = make_run(4, 2)
    assignment = run.outputs["zones"].files["primary/assignment.csv"]
    m, unserved = ly.add_blocks(_map(), run.inputs.blocks, assignment, level="primary", colours={"P1": "#111111"}, show=True)
    assert unserved == 1
    assert _layer_names(m) == ["小学居住区（按学校着色）", "小学未覆盖居住区"]
    page = _script(m)
    assert page.count('"c":"#111111"') == 2  # the two blocks of P1 in a 4 × 2 grid
    assert "unreachable" in page


def test_add_blocks_tolerates_missing_columns(make_run: Callable[..., RunResult]) -> None:
    run = make_run(2, 2)
    assignment = pd.DataFrame({"block_id": ["B00000"]})  # no school_id, travel_s, reason
    m, unserved = ly.add_blocks(_map(), run.inputs.blocks, assignment, level="primary", colours={})
    assert unserved == 4  # nothing assigned and every block has children
    assert _layer_names(m) == ["小学未覆盖居住区"]


def test_rotation_flows_aggregates_pairs() -> None:
    moves = pd.DataFrame({
        "teacher_id": ["T1", "T2", "T3", "T4"],
        "from_school": ["A", "A", "A", "B"],
        "to_school": ["C", "C", "C", "A"],
        "subject": ["math", "math", "pe", "chinese"],
        "backbone": [True, False, "True", False],
    })
    flows = ly.rotation_flows(moves)
    assert flows.to_dict("records") == [
        {"from_school": "A", "to_school": "C", "teachers": 3, "backbone": 2, "subjects": "math×2, pe"},
        {"from_school": "B", "to_school": "A", "teachers": 1, "backbone": 0, "subjects": "chinese"},
    ]


def test_rotation_flows_without_columns_is_empty() -> None:
    assert ly.rotation_flows(pd.DataFrame({"teacher_id": ["T1"]})).empty


def test_add_rotation_width_grows_with_teachers(make_run: Callable[..., RunResult]) -> None:
    run = make_run()
    m = ly.add_rotation(_map(), run.inputs.schools, run.outputs["rotation"].files["moves.csv"])
    page = _script(m)
    widths = sorted(float(w) for w in re.findall(r'"w":([0-9.]+)', page))
    assert widths == [1, 1, 1, 3.5, 3.5, 4.3]  # 3 arrowheads; arcs 1.5 + 2√n for n = 1, 1, 2
    assert page.count('"type":"Polygon"') == 3
    assert "骨干教师 1" in page and "chinese, math" in page


def test_arc_bends_right_of_travel() -> None:
    forward = ly._arc((0.0, 0.0), (1.0, 0.0))
    back = ly._arc((1.0, 0.0), (0.0, 0.0))
    assert forward.coords[0] == (0.0, 0.0) and forward.coords[-1] == (1.0, 0.0)
    assert min(y for _, y in forward.coords) < 0 < max(y for _, y in back.coords)


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


def test_add_groups_links_lead_to_members(make_run: Callable[..., RunResult]) -> None:
    run = make_run()
    names = {"P1": "城关一小", "P3": "西镇小学", "P4": "南关小学"}
    m = ly.add_groups(_map(), run.inputs.schools, run.outputs["communities"].files["groups.csv"], school_names=names)
    page = _script(m)
    assert page.count('"type":"LineString"') == 2
    assert "牵头校: 城关一小<br>成员校: 西镇小学、南关小学" in page


def test_add_isochrones_bands(make_run: Callable[..., RunResult]) -> None:
    run = make_run(4, 2)
    assignment = run.outputs["zones"].files["primary/assignment.csv"]
    m = ly.add_isochrones(_map(), run.inputs.blocks, assignment, level="primary", minutes=(5, 10), show=True)
    page = _script(m)
    assert "≤ 5 分钟" in page and "≤ 10 分钟" in page
    assert _layer_names(m) == ["小学到校通行时间"]


def test_tooltips_escape_html() -> None:
    zones = gpd.GeoDataFrame({"school_id": ["A"], "name": ["<script>x</script>"]}, geometry=[shapely.box(0, 0, 1, 1)], crs=CRS)
    page = _script(ly.add_zones(_map(), zones, level="junior"))
    assert "<script>x" not in page and "&lt;script&gt;x" in page


def test_boundaries_county_drawn_over_townships(make_run: Callable[..., RunResult]) -> None:
    run = make_run()
    page = _script(ly.add_boundaries(_map(), run.inputs.boundary))
    assert page.count('"type":"LineString"') == 3  # polygon outlines as lines: no hover over the area
    assert page.index('"t":"东镇"') < page.index('"t":"测试县"')


def test_arrowhead_points_to_the_receiving_school() -> None:
    a, b = (110.0, 37.0), (110.1, 37.0)
    head = ly._arrowhead(a, b)
    tip = head.exterior.coords[0]
    base = np.mean(head.exterior.coords[1:3], axis=0)
    assert tip[0] > base[0]  # points east, towards b
    assert 110.05 < tip[0] < 110.1
    assert ly._arrowhead(b, a).exterior.coords[0][0] < 110.05  # the return trip points west
