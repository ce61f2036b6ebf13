"""The combined map for a meeting: what starts on, the title, today's zones, rotation directions, label zoom."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

import geopandas as gpd
import numpy as np
import pytest
import shapely

from maps.layers import LABEL_ZOOM_RANGE, WEB_MERCATOR_M_PER_PX, current_zones, label_zoom
from maps.render import ReportParams, build_map
from maps.stages.rotation import RETURN_COLOUR, ROTATION_COLOUR
from planning.app.stage import RunResult

CRS = "EPSG:32649"


def _run(make_run: Callable[..., RunResult]) -> RunResult:
    """The 6 × 4 test county with today's zones (left half P1, right half P3) and one exchange move."""
    run = make_run()
    blocks = run.inputs.blocks
    blocks["current_primary"] = np.where(blocks.geometry.centroid.x < blocks.geometry.centroid.x.median(), "P1", "P3")
    run.outputs["rotation"].files["moves.csv"]["direction"] = ["rotation", "rotation", "rotation", "exchange"]  # type: ignore[index]
    return run


def _legend_hidden(page: str, layer: str) -> bool:
    match = re.search(rf'<div class="sp-sec" data-layer="{re.escape(layer)}"( style="display:none")?>', page)
    assert match is not None, layer
    return match.group(1) is not None


def test_overview_starts_with_zones_and_schools_only(make_run: Callable[..., RunResult]) -> None:
    page = build_map(_run(make_run), ReportParams(), shown={"zones", "blocks", "boundaries", "schools"})
    hidden = {name: _legend_hidden(page, name) for name in (
        "小学片区", "小学现行片区（对照）", "小学多校划片", "道路", "县界与乡镇界", "学校共同体", "教师交流轮岗", "学校（按办学强弱着色）",
    )}
    assert hidden == {
        "小学片区": False, "小学现行片区（对照）": True, "小学多校划片": True, "道路": True, "县界与乡镇界": False,
        "学校共同体": True, "教师交流轮岗": True, "学校（按办学强弱着色）": False,
    }


def test_combined_map_is_the_overview_and_stage_maps_keep_their_layers_on(
    make_run: Callable[..., RunResult], render_pages: Callable[..., dict[str, Any]]
) -> None:
    files = render_pages(_run(make_run), ReportParams(map_per_stage=True))
    assert _legend_hidden(files["map.html"], "教师交流轮岗")
    assert _legend_hidden(files["map.html"], "道路")
    assert not _legend_hidden(files["maps/rotation.html"], "教师交流轮岗")
    assert not _legend_hidden(files["maps/communities.html"], "学校共同体")
    assert not _legend_hidden(files["maps/zones.html"], "小学片区")
    assert _legend_hidden(files["maps/zones.html"], "小学现行片区（对照）")  # a comparison: off until asked for


def test_title_is_shown_and_escaped(make_run: Callable[..., RunResult]) -> None:
    page = build_map(make_run(), ReportParams(title='<b>清涧县 "A&B"</b>'))
    assert '<div class="sp-title" id="' in page
    assert "&lt;b&gt;清涧县 &quot;A&amp;B&quot;&lt;/b&gt; · 学校布局规划图</div>" in page
    assert "<b>清涧县" not in page


def test_rotation_directions_have_their_own_colour_and_legend_entry(make_run: Callable[..., RunResult]) -> None:
    page = build_map(_run(make_run), ReportParams(language="en"))
    assert page.count(f'"c":"{ROTATION_COLOUR}"') == 2 * 2  # P1→P3 and P2→P4: an arc and an arrowhead each
    assert page.count(f'"c":"{RETURN_COLOUR}"') == 2  # P3→P1
    assert page.count('"s":{"dashArray":"7 5"}') == 1  # only the return arc is dashed
    assert "Rotation: sending → receiving school" in page and "Exchange: receiving → sending school (dashed)" in page


def test_rotation_without_direction_column_is_all_outgoing(make_run: Callable[..., RunResult]) -> None:
    page = build_map(make_run(), ReportParams())
    assert RETURN_COLOUR not in page
    assert page.count(f'"c":"{ROTATION_COLOUR}"') == 3 * 2


def test_current_zones_of_polygon_blocks(make_run: Callable[..., RunResult]) -> None:
    run = _run(make_run)
    today = current_zones(run.inputs.blocks, run.inputs.schools, run.inputs.boundary, level="primary")
    assert today is not None
    assert today["school_id"].tolist() == ["P1", "P3"]
    assert today["name"].tolist() == ["城关一小", "西镇小学"]
    assert today["students"].tolist() == [12 * 30.0, 12 * 30.0]
    assert today["capacity_seats"].tolist() == [400.0, 400.0]
    left, right = today.geometry
    assert left.area == pytest.approx(3 * 4 * 400.0**2) and right.area == pytest.approx(3 * 4 * 400.0**2)
    assert left.intersection(right).area == pytest.approx(0.0)
    assert current_zones(run.inputs.blocks, run.inputs.schools, None, level="junior") is None  # no current_junior


def test_current_zones_of_point_blocks_tile_the_county() -> None:
    county = shapely.box(0, 0, 3000, 2000)
    xs, ys = np.meshgrid(np.arange(500, 3000, 1000), np.arange(500, 2000, 1000))
    blocks = gpd.GeoDataFrame(
        {"block_id": [f"B{k}" for k in range(xs.size)], "students_primary": np.arange(xs.size) + 1,
         "current_primary": ["A", "A", "B", "B", "B", ""]},
        geometry=gpd.points_from_xy(xs.ravel(), ys.ravel()), crs=CRS,
    )
    boundary = gpd.GeoDataFrame({"name": ["县"]}, geometry=[county], crs=CRS)
    today = current_zones(blocks, None, boundary, level="primary")
    assert today is not None
    assert today["school_id"].tolist() == ["A", "B"]
    assert today["students"].tolist() == [1 + 2, 3 + 4 + 5]
    assert np.isnan(today["capacity_seats"]).all()
    # six 1 km cells: A holds two, B three, the last (no school today) none
    assert today.geometry.area.tolist() == pytest.approx([2e6, 3e6])


def test_current_zones_drawn_off_beside_the_proposed_ones(make_run: Callable[..., RunResult]) -> None:
    page = build_map(_run(make_run), ReportParams())
    assert "现行片区 · 城关一小" in page
    assert page.index('data-layer="小学片区"') < page.index('data-layer="小学现行片区（对照）"') < page.index('data-layer="道路"')
    assert "现行片区" not in build_map(make_run(), ReportParams())  # no current_primary: no layer


def _metres_per_px(zoom: float, lat: float) -> float:
    return WEB_MERCATOR_M_PER_PX * math.cos(math.radians(lat)) / 2**zoom


@pytest.mark.parametrize("spacing_m", [300.0, 2400.0, 9000.0])
def test_label_zoom_is_where_neighbours_are_80_px_apart(spacing_m: float) -> None:
    xs, ys = np.meshgrid(np.arange(5) * spacing_m, np.arange(4) * spacing_m)
    points = gpd.GeoSeries(gpd.points_from_xy(xs.ravel() + 400_000, ys.ravel() + 4_100_000), crs=CRS)
    lat = float(points.to_crs(4326).y.mean())
    zoom = label_zoom(points)
    assert zoom * 2 == int(zoom * 2)  # half levels
    assert spacing_m / _metres_per_px(zoom, lat) >= 80  # far enough apart at that zoom
    assert spacing_m / _metres_per_px(zoom - 0.5, lat) < 80  # and not half a level earlier


def test_label_zoom_limits() -> None:
    one = gpd.GeoSeries(gpd.points_from_xy([400_000], [4_100_000]), crs=CRS)
    same = gpd.GeoSeries(gpd.points_from_xy([400_000, 400_000], [4_100_000, 4_100_000]), crs=CRS)
    far = gpd.GeoSeries(gpd.points_from_xy([300_000, 500_000], [4_100_000, 4_100_000]), crs=CRS)
    assert label_zoom(one) == LABEL_ZOOM_RANGE[0]
    assert label_zoom(same) == LABEL_ZOOM_RANGE[1]
    assert label_zoom(far) == LABEL_ZOOM_RANGE[0]


def test_schools_sharing_a_site_share_one_label(make_run: Callable[..., RunResult]) -> None:
    run = make_run()
    schools = run.inputs.schools
    schools.loc[schools["school_id"] == "P2", "geometry"] = schools.loc[schools["school_id"] == "P1", "geometry"].iloc[0]
    page = build_map(run, ReportParams())
    labels = re.findall(r'"l":"([^"]*)"', page)
    assert sorted(labels) == sorted(["城关一小<br>城关二小", "西镇小学", "南关小学"])


def test_stage_maps_are_titled_by_their_stage(make_run: Callable[..., RunResult], render_pages: Callable[..., dict[str, Any]]) -> None:
    files = render_pages(make_run(), ReportParams(map_per_stage=True))
    assert "<title>测试县 · 教师交流轮岗</title>" in files["maps/rotation.html"]
    assert "测试县 · 划片招生</div>" in files["maps/zones.html"]
    english = render_pages(make_run(), ReportParams(map_per_stage=True, language="en"))
    assert "<title>测试县 · Teacher rotation</title>" in english["maps/rotation.html"]
