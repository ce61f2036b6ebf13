"""The zones stage on a small inline county: files, columns, connected zones, determinism."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import pytest
import shapely

from geo.errors import InfeasibleError
from geo.model import Inputs
from geo.network import NetworkSettings
from planning.scenario import InputsSection, Scenario, SolverSection
from planning.stage import Context
from planning.stages.zones import STAGE, ZonesParams

CRS = pyproj.CRS.from_epsg(32649)
SIDE_M = 300.0
# 6 × 4 grid of 300 m blocks; 24 blocks, 30 primary and 15 junior children each.
CELLS = [(c, r) for r in range(4) for c in range(6)]
BLOCKS = gpd.GeoDataFrame(
    {
        "block_id": [f"k{c}{r}" for c, r in CELLS],
        "students_primary": [30] * 24,
        "students_junior": [15] * 24,
        "area_type": ["town" if c < 3 else "rural" for c, r in CELLS],
        "left_behind": [2 if c >= 3 else 0 for c, r in CELLS],
        "current_primary": ["p1" if c < 3 else "p2" for c, r in CELLS],
    },
    geometry=[shapely.box(c * SIDE_M, r * SIDE_M, (c + 1) * SIDE_M, (r + 1) * SIDE_M) for c, r in CELLS],
    crs=CRS,
)
SCHOOLS = gpd.GeoDataFrame(
    {
        "school_id": ["p1", "p2", "n1", "j1"],
        "name": ["一小", "二小", "九年一贯制", "一中"],
        "level": ["primary", "primary", "nine_year", "junior"],
        "area_type": ["town", "rural", "rural", "town"],
        "capacity_primary": [300, 250, 200, 0],
        "capacity_junior": [0, 0, 150, 300],
        "enrolled_primary": [280, 240, 180, 0],
        "enrolled_junior": [0, 0, 140, 280],
        "quality_score": [90.0, 70.0, 60.0, 80.0],
    },
    geometry=[shapely.Point(150, 450), shapely.Point(1650, 750), shapely.Point(1050, 150), shapely.Point(450, 1050)],
    crs=CRS,
)


def context(params: ZonesParams, schools: gpd.GeoDataFrame = SCHOOLS) -> Context:
    scenario = Scenario(
        name="toy",
        seed=3,
        inputs=InputsSection(schools="s.gpkg", blocks="b.gpkg"),
        solver=SolverSection(time_limit_s=20, workers=1),
        network=NetworkSettings(),
        stages={"zones": params},
    )
    inputs = Inputs(schools=schools, blocks=BLOCKS, teachers=None, roads=None, boundary=None, metric_crs=CRS)
    return Context(scenario=scenario, inputs=inputs)


def test_stage_writes_every_canonical_file() -> None:
    out = STAGE.run(context(ZonesParams()), ZonesParams())
    assert sorted(out.files) == sorted(
        [f"{lv}/{f}" for lv in ("primary", "junior") for f in
         ("assignment.csv", "zones.gpkg", "metrics.json", "multischool.csv", "multischool_zones.gpkg")]
        + ["feeder.csv"]
    )
    a = out.files["primary/assignment.csv"]
    assert list(a.columns) == ["block_id", "school_id", "travel_s", "travel_m", "reason"]
    assert a["block_id"].tolist() == sorted(BLOCKS["block_id"])
    assert (a["school_id"] != "").all()
    zones = out.files["primary/zones.gpkg"]
    assert list(zones.columns) == ["school_id", "name", "students", "capacity_seats", "utilization", "geometry"]
    assert zones["students"].sum() == 24 * 30
    assert (zones["students"] <= zones["capacity_seats"]).all()
    # every zone is one piece (contiguity on, polygons dissolve into single polygons)
    assert (zones.geometry.geom_type == "Polygon").all()
    m = out.files["primary/metrics.json"]
    assert m["plan"]["contiguous"] is True
    assert m["plan"]["gap"] <= 0.05 and m["plan"]["bound_s"] <= m["plan"]["objective_s"]
    assert m["nearest"]["status"] == "BASELINE"
    assert m["plan"]["moved_students"] is not None
    assert set(m["plan"]["equity"]) == {"left_behind"}
    assert 0 <= m["plan"]["travel"]["share_within_standard"] <= 1
    ms = out.files["primary/multischool.csv"]
    assert list(ms.columns) == ["school_id", "multizone_id", "expected_intake", "strong"]
    assert ms["strong"].any()
    feeder = out.files["feeder.csv"]
    assert list(feeder.columns) == ["primary_school_id", "junior_school_id", "graduates", "travel_s"]
    assert feeder["primary_school_id"].tolist() == ["n1", "p1", "p2"]
    # the nine-year school's primary pupils stay with it when its intake allows
    assert feeder.set_index("primary_school_id").loc["n1", "junior_school_id"] == "n1"
    assert "primary" in out.summary


def test_stage_is_deterministic() -> None:
    p = ZonesParams(levels=["primary"], multischool=False, feeder=False)
    a = STAGE.run(context(p), p)
    b = STAGE.run(context(p), p)
    pd.testing.assert_frame_equal(a.files["primary/assignment.csv"], b.files["primary/assignment.csv"])
    assert a.files["primary/zones.gpkg"].geometry.equals(b.files["primary/zones.gpkg"].geometry)


def test_stage_explains_shortage() -> None:
    small = SCHOOLS.assign(capacity_primary=[100, 100, 100, 0])
    p = ZonesParams(levels=["primary"], multischool=False, feeder=False)
    with pytest.raises(InfeasibleError, match="too few seats"):
        STAGE.run(context(p, small), p)
    p2 = ZonesParams(levels=["primary"], multischool=False, feeder=False, allow_overflow=True, contiguity=False)
    out = STAGE.run(context(p2, small), p2)
    assert out.files["primary/metrics.json"]["plan"]["overflow_students"] == 24 * 30 - 300


def test_nearest_method_and_travel_cap() -> None:
    p = ZonesParams(levels=["primary"], method="nearest", multischool=False, feeder=False, max_travel_s={"primary": 300})
    out = STAGE.run(context(p), p)
    a = out.files["primary/assignment.csv"]
    unserved = a[a["school_id"] == ""]
    assert len(unserved) > 0
    assert unserved["reason"].str.contains("5 min").all()
    assert np.isfinite(out.files["primary/metrics.json"]["nearest"]["travel"]["mean_travel_s"])


def test_point_blocks_get_voronoi_zones_clipped_to_the_boundary() -> None:
    points = BLOCKS.set_geometry(BLOCKS.geometry.centroid)
    boundary = gpd.GeoDataFrame({"name": ["县"]}, geometry=[shapely.box(0, 0, 6 * SIDE_M, 4 * SIDE_M)], crs=CRS)
    p = ZonesParams(levels=["primary"], multischool=False, feeder=False)
    ctx = context(p)
    ctx.inputs = Inputs(schools=SCHOOLS, blocks=points, teachers=None, roads=None, boundary=boundary, metric_crs=CRS)
    out = STAGE.run(ctx, p)
    zones = out.files["primary/zones.gpkg"]
    assert shapely.union_all(zones.geometry.to_numpy()).area == pytest.approx(boundary.area.iloc[0])
    assert (zones.geometry.geom_type == "Polygon").all()
    assert out.files["primary/metrics.json"]["adjacency"] == "clipped voronoi"
