"""The network stage: summary of the travel basis, snapping report, isochrones."""

from __future__ import annotations

import geopandas as gpd
import pyproj
import pytest
import shapely

from geo.model import Inputs
from planning.app.scenario import scenario_from_dict
from planning.app.stage import Context
from planning.app.stages.network import STAGE, NetworkParams

CRS = pyproj.CRS.from_epsg(32649)
SCHOOLS = gpd.GeoDataFrame(
    {"school_id": ["s1", "s2"], "name": ["一小", "一中"], "level": ["primary", "junior"]},
    geometry=[shapely.Point(0, 10), shapely.Point(2000, -10)],
    crs=CRS,
)
BLOCKS = gpd.GeoDataFrame(
    {"block_id": ["b1", "b2"], "students_primary": [10, 20], "students_junior": [5, 5]},
    geometry=[shapely.Point(500, 20), shapely.Point(1000, 3000)],
    crs=CRS,
)
ROADS = gpd.GeoDataFrame(
    {"highway": ["residential", "primary", "track"], "oneway": [False, False, False]},
    geometry=[
        shapely.LineString([(0, 0), (1000, 0)]),
        shapely.LineString([(1000, 0), (2000, 0)]),
        shapely.LineString([(5000, 5000), (5100, 5000)]),  # an unconnected piece
    ],
    crs=CRS,
)


def context(roads, **network) -> Context:
    scenario = scenario_from_dict({"inputs": {"schools": "s.gpkg"}, "network": network})
    inputs = Inputs(schools=SCHOOLS, blocks=BLOCKS, teachers=None, roads=roads, boundary=None, metric_crs=CRS)
    return Context(scenario=scenario, inputs=inputs)


def test_without_roads_says_straight_line_times_detour():
    out = STAGE.run(context(None, detour_factor=1.4), NetworkParams())
    summary = out.files["summary.json"]
    assert summary["travel"] == "straight line"
    assert summary["detour_factor"] == 1.4
    assert summary["modes"] == {"primary": "walk", "junior": "walk"}
    assert "straight line × 1.4" in summary["note"]
    assert set(out.files) == {"summary.json"}
    assert out.result is None


def test_with_roads_reports_network_modes_speeds_and_snapping():
    out = STAGE.run(context(ROADS, mode_junior="bus", max_snap_m=1000), NetworkParams())
    s = out.files["summary.json"]
    assert s["travel"] == "road network"
    assert s["modes"] == {"primary": "walk", "junior": "bus"}
    assert (s["nodes"], s["edges"], s["components_dropped"], s["length_dropped_km"]) == (3, 2, 1, 0.1)
    assert s["speed_table_kmh"]["primary"] == {"walk": 4.5, "bike": 15.0, "drive": 60.0, "bus": 50.0}
    assert s["snapping"]["walk"]["schools"]["max_m"] == 10.0
    assert s["snapping"]["bus"]["blocks"]["over_max_snap"] == 1
    far = out.files["far_from_road.csv"]
    assert far.values.tolist() == [["bus", "blocks", "b2", 3000.0], ["walk", "blocks", "b2", 3000.0]]
    assert out.metrics["far_from_road"] == 2 and out.metrics["mode_junior"] == "bus"
    assert "1 unconnected pieces" in out.summary
    assert out.result.n_nodes == 3
    assert "isochrones.gpkg" not in out.files


def test_isochrones_by_the_mode_of_each_level():
    out = STAGE.run(context(ROADS, isochrone_minutes=[10, 5], mode_junior="bike"), NetworkParams())
    iso = out.files["isochrones.gpkg"]
    assert iso[["school_id", "minutes", "mode"]].values.tolist() == [
        ["s1", 5, "walk"], ["s1", 10, "walk"], ["s2", 5, "bike"], ["s2", 10, "bike"],
    ]  # fmt: skip
    assert iso.crs == CRS
    assert iso.geometry.iloc[0].contains(shapely.Point(300, 0))  # 375 m walk in 5 min
    assert not iso.geometry.iloc[0].contains(shapely.Point(450, 0))


def test_stage_contract():
    assert STAGE.name == "network" and STAGE.needs == ("schools",)
    with pytest.raises(ValueError, match="extra"):
        NetworkParams(isochrone_minutes=[5])
