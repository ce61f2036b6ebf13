"""The zones renderer's map layers: zone colours, over-capacity zones, residential units, travel-time bands."""

from __future__ import annotations

from collections.abc import Callable

import folium
import geopandas as gpd
import pandas as pd
import shapely
from branca.element import Figure

from maps import layers as ly
from maps.stages import zones as renderer
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


def test_zone_colours_differ_between_neighbours() -> None:
    # four quadrants all meeting at one corner: every pair touches, so four colours
    boxes = [shapely.box(x, y, x + 1, y + 1) for x in (0, 1) for y in (0, 1)] + [shapely.box(5, 5, 6, 6)]
    zones = gpd.GeoDataFrame({"school_id": ["A", "B", "C", "D", "E"]}, geometry=boxes, crs=CRS)
    colours = renderer.zone_colours(zones)
    assert len({colours[s] for s in "ABCD"}) == 4
    assert set(colours.values()) <= set(ly.PALETTE)
    assert renderer.zone_colours(zones.iloc[::-1]) == colours  # independent of row order


def test_add_zones_marks_over_capacity_and_computes_utilization() -> None:
    zones = gpd.GeoDataFrame(
        {"school_id": ["A", "B"], "name": ["甲小", "乙小"], "students": [90, 130], "capacity_seats": [100, 100]},
        geometry=[shapely.box(0, 0, 1000, 1000), shapely.box(1000, 0, 2000, 1000)],
        crs=CRS,
    )
    m = renderer.add_zones(_map(), zones, level="primary")
    page = _script(m)
    assert _layer_names(m) == ["小学片区"]
    assert "学位使用率 90%" in page
    assert "学位使用率 130% ⚠" in page
    assert page.count(f'"c":"{renderer.OVER_CAPACITY_COLOUR}"') == 1


def test_add_zones_without_school_id_is_skipped() -> None:
    zones = gpd.GeoDataFrame({"zone": ["A"]}, geometry=[shapely.box(0, 0, 1, 1)], crs=CRS)
    m = renderer.add_zones(_map(), zones, level="primary")
    assert _layer_names(m) == []


def test_add_blocks_colours_by_school_and_lists_unserved(make_run: Callable[..., RunResult]) -> None:
    run = make_run(4, 2)
    assignment = run.outputs["zones"].files["primary/assignment.csv"]
    m, unserved = renderer.add_blocks(_map(), run.inputs.blocks, assignment, level="primary", colours={"P1": "#111111"},
                                      options=renderer.BlockOptions(show=True))
    assert unserved == 1
    assert _layer_names(m) == ["小学居住区（按学校着色）", "小学未覆盖居住区"]
    page = _script(m)
    assert page.count('"c":"#111111"') == 2  # the two blocks of P1 in a 4 × 2 grid
    assert "unreachable" in page


def test_add_blocks_tolerates_missing_columns(make_run: Callable[..., RunResult]) -> None:
    run = make_run(2, 2)
    assignment = pd.DataFrame({"block_id": ["B00000"]})  # no school_id, travel_s, reason
    m, unserved = renderer.add_blocks(_map(), run.inputs.blocks, assignment, level="primary", colours={})
    assert unserved == 4  # nothing assigned and every block has children
    assert _layer_names(m) == ["小学未覆盖居住区"]


def test_add_isochrones_bands(make_run: Callable[..., RunResult]) -> None:
    run = make_run(4, 2)
    assignment = run.outputs["zones"].files["primary/assignment.csv"]
    m = renderer.add_isochrones(_map(), run.inputs.blocks, assignment, level="primary", minutes=(5, 10), show=True)
    page = _script(m)
    assert "≤ 5 分钟" in page and "≤ 10 分钟" in page
    assert _layer_names(m) == ["小学到校通行时间"]


def test_tooltips_escape_html() -> None:
    zones = gpd.GeoDataFrame({"school_id": ["A"], "name": ["<script>x</script>"]}, geometry=[shapely.box(0, 0, 1, 1)], crs=CRS)
    page = _script(renderer.add_zones(_map(), zones, level="junior"))
    assert "<script>x" not in page and "&lt;script&gt;x" in page


def test_report_lists_boarders_their_allowance_and_moved_students() -> None:
    metrics = {
        "level": "junior",
        "boarding": {
            "boarders": 502, "young_boarders": 0, "allowance_yuan": 627500.0, "nearest_boarders": 495,
            "by_school": {"J2": {"boarders": 54, "young_boarders": 0, "allowance_yuan": 67500.0}},
        },
        "moved_vs_nearest": {"plan": 882, "nearest": 1037, "stability_weight_s": 120},
    }
    html = renderer._boarding(metrics, "en")
    for text in ("Boarders", "627,500", "495", "882", "1,037", "Boarders per school", "J2", "67,500"):
        assert text in html, text
    assert "寄宿生" in renderer._boarding(metrics, "zh")
    assert renderer._boarding({"plan": {}}, "en") == ""
