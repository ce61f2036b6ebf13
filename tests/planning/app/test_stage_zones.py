"""The zones stage on a small inline county: files, columns, connected zones, determinism."""

from __future__ import annotations

import re

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import pytest
import shapely

from geo.demo import DEMO_SEED, build_demo
from geo.errors import InfeasibleError
from geo.model import Inputs
from geo.network import NetworkSettings
from geo.travel import straight_line_matrix
from planning.app.scenario import InputsSection, Scenario, SolverSection
from planning.app.stage import Context, StageOutput, StageParams
from planning.app.stages.zones import STAGE, ZonesParams, _mixed_travel, block_modes, merge_travel
from planning.zones import ZoneOptions

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
    assert list(a.columns) == [
        "block_id", "school_id", "travel_s", "travel_m", "students", "boarders", "young_boarders", "reason"
    ]
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
    assert list(feeder.columns) == ["primary_school_id", "junior_school_id", "graduates", "travel_s", "travel_mode"]
    # rural primary schools' graduates go on by school bus, the town school's walk
    assert feeder.set_index("primary_school_id")["travel_mode"].to_dict() == {"n1": "bus", "p1": "walk", "p2": "bus"}
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
    planned = STAGE.run(context(p, small), p)
    # not strict: a plan with the overflow, each over-full school a shortfall saying why
    over = planned.files["primary/metrics.json"]["plan"]["overflow_students"]
    assert over >= 24 * 30 - 300  # 720 students, 300 seats in use
    assert sum(s.short_by for s in planned.shortfalls) == over
    assert all("too few seats" in s.detail for s in planned.shortfalls)
    strict = ZonesParams(levels=["primary"], multischool=False, feeder=False, strict=True)
    with pytest.raises(InfeasibleError, match="too few seats"):
        STAGE.run(context(strict, small), strict)
    p2 = ZonesParams(
        levels=["primary"], multischool=False, feeder=False, allow_overflow=True, contiguity=False, stability_weight=0
    )
    out = STAGE.run(context(p2, small), p2)
    assert out.files["primary/metrics.json"]["plan"]["overflow_students"] == 24 * 30 - 300


def test_nearest_method_and_travel_cap() -> None:
    p = ZonesParams(
        levels=["primary"], method="nearest", multischool=False, feeder=False, max_travel_s={"primary": 300},
        rural_mode=None,
    )
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


# --- travel mode per residential unit: rural blocks ride the school bus -------------------------------------


def _square(x: float, y: float) -> shapely.Polygon:
    return shapely.box(x - 50, y - 50, x + 50, y + 50)


# One school at the origin. Straight-line travel × 1.3: walking 4.5 km/h, school bus 25 km/h.
# b_town 300 m: walks 390 m in 312 s. b_rural 4 km: 5200 m, walking 4160 s > 30 min but by bus
# 5200 / (25/3.6) = 748.8 → 749 s (12 min). b_far 15 km: 19.5 km, 2808 s by bus > 30 min.
# b_none (no area_type) 4 km: walks like the level, 4160 s > 30 min.
MIXED_BLOCKS = gpd.GeoDataFrame(
    {
        "block_id": ["b_far", "b_none", "b_rural", "b_town"],
        "students_primary": [7, 5, 20, 10],
        "area_type": ["rural", None, "rural", "town"],
    },
    geometry=[_square(15000, 0), _square(0, 4000), _square(4000, 0), _square(300, 0)],
    crs=CRS,
)
ONE_SCHOOL = gpd.GeoDataFrame(
    {
        "school_id": ["s1"],
        "name": ["中心小学"],
        "level": ["primary"],
        "area_type": ["town"],
        "capacity_primary": [100],
        "capacity_junior": [0],
    },
    geometry=[shapely.Point(0, 0)],
    crs=CRS,
)


def mixed_context(params: ZonesParams, steps: list[str]) -> Context:
    scenario = Scenario(
        name="mixed",
        seed=3,
        inputs=InputsSection(schools="s.gpkg", blocks="b.gpkg"),
        solver=SolverSection(time_limit_s=20, workers=1),
        network=NetworkSettings(),
        stages={"zones": params},
    )
    inputs = Inputs(schools=ONE_SCHOOL, blocks=MIXED_BLOCKS, teachers=None, roads=None, boundary=None, metric_crs=CRS)
    return Context(scenario=scenario, inputs=inputs, step=steps.append)


def test_rural_block_beyond_walking_reach_rides_the_school_bus() -> None:
    p = ZonesParams(levels=["primary"], multischool=False, feeder=False, contiguity=False)
    steps: list[str] = []
    out = STAGE.run(mixed_context(p, steps), p)
    a = out.files["primary/assignment.csv"].set_index("block_id")
    assert a.loc["b_rural", "school_id"] == "s1"
    assert a.loc["b_rural", "travel_s"] == 749
    assert a.loc["b_rural", "reason"] == "school bus (免费校车), 12 min"
    assert (a.loc["b_town", "school_id"], a.loc["b_town", "travel_s"], a.loc["b_town", "reason"]) == ("s1", 312, "")
    assert a.loc["b_far", "school_id"] == ""
    assert a.loc["b_far", "reason"] == "no school within 30 min by school bus (免费校车): needs boarding"
    # a block without area_type travels like the level (walks); out of walking reach, it rides the bus too
    assert a.loc["b_none", "school_id"] == "s1"
    assert a.loc["b_none", "reason"] == "school bus (免费校车), 12 min"
    m = out.files["primary/metrics.json"]
    assert m["rural_mode"] == "bus" and m["level_mode"] == "walk"
    assert m["travel_mode"] == "walk (straight line × 1.3); rural: bus (straight line × 1.3)"
    assert m["travel_modes"] == {
        "bus": {"blocks": 3, "students": 32, "unserved_blocks": 1, "unserved_students": 7, "mean_travel_s": 749.0},
        "walk": {"blocks": 1, "students": 10, "unserved_blocks": 0, "unserved_students": 0, "mean_travel_s": 312.0},
    }
    # standard: b_town 390 m ≤ 500 m walking; b_rural, b_none 12 min ≤ 30 min → (10 + 20 + 5) / 42
    assert m["plan"]["travel"]["share_within_standard"] == pytest.approx(35 / 42, abs=1e-4)
    assert m["plan"]["travel"]["unserved"] == 7 and m["plan"]["unserved_blocks"] == 1
    assert m["nearest"]["travel"]["unserved"] == 7
    assert out.metrics["primary"]["students_by_mode"] == {"bus": 32, "walk": 10}
    assert "32 students of 3 rural blocks by bus (7 beyond 30 min)" in out.summary
    # one matrix per mode, kept apart in the cache; again once the block out of walking reach rides the bus
    assert [s for s in steps if s.startswith("travel times")] == [
        "travel times from 2 residential units to 1 school on foot",
        "travel times from 2 residential units to 1 school by school bus",
        "travel times from 1 residential unit to 1 school on foot",
        "travel times from 3 residential units to 1 school by school bus",
    ]


def test_rural_mode_none_keeps_one_mode_for_every_block() -> None:
    steps: list[str] = []
    p = ZonesParams(levels=["primary"], multischool=False, feeder=False, contiguity=False, rural_mode=None)
    out = STAGE.run(mixed_context(p, steps), p)
    a = out.files["primary/assignment.csv"].set_index("block_id")
    assert a.loc["b_rural", "school_id"] == ""
    assert a.loc["b_rural", "reason"] == "no school within 30 min: needs boarding or a school bus"
    assert a.loc["b_far", "reason"] == "no school within 30 min: needs boarding or a school bus"
    assert (a.loc["b_town", "school_id"], a.loc["b_town", "travel_s"], a.loc["b_town", "reason"]) == ("s1", 312, "")
    m = out.files["primary/metrics.json"]
    assert m["travel_mode"] == "walk (straight line × 1.3)"
    assert m["travel_modes"] == {
        "walk": {"blocks": 4, "students": 42, "unserved_blocks": 3, "unserved_students": 32, "mean_travel_s": 312.0}
    }
    assert m["plan"]["travel"]["share_within_standard"] == pytest.approx(10 / 42, abs=1e-4)
    assert [s for s in steps if s.startswith("travel times")] == ["travel times from 4 residential units to 1 school on foot"]
    # the level's own mode is the same plan as None
    same = ZonesParams(levels=["primary"], multischool=False, feeder=False, contiguity=False, rural_mode="walk")
    out2 = STAGE.run(mixed_context(same, []), same)
    pd.testing.assert_frame_equal(out.files["primary/assignment.csv"], out2.files["primary/assignment.csv"])


def test_merged_matrix_is_sorted_and_matches_each_mode() -> None:
    p = ZonesParams(levels=["primary"], multischool=False, feeder=False)
    ctx = context(p)
    blocks = BLOCKS.sort_values("block_id", kind="stable").reset_index(drop=True)
    schools = SCHOOLS[SCHOOLS["capacity_primary"] > 0].reset_index(drop=True)
    modes = block_modes(blocks, "walk", "bus")
    rural = np.flatnonzero(modes == "bus")
    assert len(rural) == 12 and set(blocks["area_type"].iloc[rural]) == {"rural"}
    tm = _mixed_travel(ctx, blocks, schools, modes, level_mode="walk", origin_id="block_id", cutoff_s=600, key="t")
    assert tm.origin_ids.tolist() == blocks["block_id"].tolist()
    assert tm.dest_ids.tolist() == schools["school_id"].tolist()
    for arr in (tm.origin, tm.dest, tm.time_s, tm.dist_m):
        assert arr.dtype == np.int32
    order = np.lexsort((tm.dest, tm.origin))
    assert (order == np.arange(tm.n_pairs)).all()
    assert not ((np.diff(tm.origin) == 0) & (np.diff(tm.dest) == 0)).any()  # no duplicate pair
    assert (tm.time_s <= 600).all()  # unreachable pairs stay absent
    walk = ctx.travel(blocks, schools, origin_id="block_id", dest_id="school_id", mode="walk", cutoff_s=600)
    bus = ctx.travel(blocks, schools, origin_id="block_id", dest_id="school_id", mode="bus", cutoff_s=600)
    dense = tm.dense()
    town = np.flatnonzero(modes == "walk")
    np.testing.assert_array_equal(dense[town], walk.dense()[town])
    np.testing.assert_array_equal(dense[rural], bus.dense()[rural])
    np.testing.assert_array_equal(tm.dense("dist_m")[rural], bus.dense("dist_m")[rural])
    # the bus reaches farther: some rural pair is reachable by bus, not on foot within 10 min
    assert (np.isfinite(dense[rural]) & ~np.isfinite(walk.dense()[rural])).any()


def test_merge_travel_rejects_overlapping_or_mismatched_parts() -> None:
    ids = np.array(["a", "b", "c"])
    dests = np.array(["s"])
    xy = np.array([[0.0, 0.0], [100.0, 0.0], [200.0, 0.0]])
    part = straight_line_matrix(ids[[0, 2]], xy[[0, 2]], dests, np.zeros((1, 2)))
    other = straight_line_matrix(ids[[1, 2]], xy[[1, 2]], dests, np.zeros((1, 2)), speed_kmh=25.0)
    first = straight_line_matrix(ids[:1], xy[:1], dests, np.zeros((1, 2)))
    merged = merge_travel([(np.array([1, 2]), other), (np.array([0]), first)], ids, dests, mode="m")
    assert merged.origin.tolist() == [0, 1, 2] and merged.mode == "m"
    assert merged.time_s.tolist()[1:] == other.time_s.tolist()
    with pytest.raises(ValueError, match="must not share origins"):
        merge_travel([(np.array([0, 2]), part), (np.array([1, 2]), other)], ids, dests, mode="m")
    with pytest.raises(ValueError, match="do not match"):
        merge_travel([(np.array([1, 2]), part)], ids, dests, mode="m")


def test_multischool_and_feeder_use_the_school_bus_for_rural_units() -> None:
    steps: list[str] = []
    ctx = context(ZonesParams())
    ctx.step = steps.append
    out = STAGE.run(ctx, ZonesParams())
    travel_steps = [s for s in steps if s.startswith("travel times")]
    # in plain words (issue 15): what is linked to what, how people travel
    assert any(s.startswith("travel times from") and "residential units to" in s and s.endswith("on foot") for s in travel_steps)
    assert any("residential units to" in s and s.endswith("by school bus") for s in travel_steps)
    assert any(re.fullmatch(r"travel times from \d+ schools to \d+ schools by school bus", s) for s in travel_steps)  # feeder
    assert not any("_id" in s or "×" in s for s in travel_steps)
    a = out.files["primary/assignment.csv"]
    rural = a["block_id"].isin(BLOCKS.loc[BLOCKS["area_type"] == "rural", "block_id"])
    assert a.loc[rural, "reason"].str.startswith("school bus (免费校车), ").all()
    assert (a.loc[~rural, "reason"] == "").all()


def test_stage_parameters_add_only_stage_fields() -> None:
    own = set(ZonesParams.model_fields) - set(ZoneOptions.model_fields) - set(StageParams.model_fields)
    assert own == {"levels", "rural_mode", "multischool", "feeder"}
    for name, field in ZoneOptions.model_fields.items():
        assert repr(ZonesParams.model_fields[name]) == repr(field), name
    params = ZonesParams(max_moved=30, levels=["primary"])
    assert isinstance(params, ZoneOptions) and params.max_moved == 30


@pytest.fixture(scope="module")
def demo_zones() -> tuple[StageOutput, StageOutput]:
    """The zones of the demo county (清涧县, scale 1): default settings, and without the stability weight."""
    inputs = build_demo().inputs
    runs = []
    for weight in (ZonesParams().stability_weight, 0.0):
        p = ZonesParams(multischool=False, feeder=False, stability_weight=weight)
        scenario = Scenario(
            name="demo", seed=DEMO_SEED, inputs=InputsSection(schools="s.gpkg", blocks="b.gpkg"),
            # 10 s: the 4 work units 20 s gave at the old work rate of 0.2 units per second
            solver=SolverSection(time_limit_s=10, workers=1), network=NetworkSettings(), stages={"zones": p},
        )
        runs.append(STAGE.run(Context(scenario=scenario, inputs=inputs), p))
    return runs[0], runs[1]


def test_demo_places_every_junior_child_boarders_at_boarding_schools(demo_zones: tuple[StageOutput, StageOutput]) -> None:
    out, _ = demo_zones
    m = out.files["junior/metrics.json"]
    assert m["plan"]["travel"]["unserved"] == 0 and m["plan"]["unserved_blocks"] == 0
    b = m["boarding"]
    assert b["boarders"] > 0
    assert b["allowance_yuan"] == b["boarders"] * 1250
    boarding = set(build_demo().inputs.schools.query("boarding")["school_id"])
    assert set(b["by_school"]) <= boarding
    a = out.files["junior/assignment.csv"]
    far = a["travel_s"] > 1800
    assert (a.loc[far, "boarders"] == a.loc[far, "students"]).all()
    assert (a.loc[~far, "boarders"] == 0).all()


def test_demo_optimal_zones_move_no_more_children_than_the_nearest_baseline(
    demo_zones: tuple[StageOutput, StageOutput],
) -> None:
    stable, free = demo_zones
    for level in ("primary", "junior"):
        m, f = stable.files[f"{level}/metrics.json"], free.files[f"{level}/metrics.json"]
        assert m["plan"]["moved_students"] <= m["nearest"]["moved_students"]
        assert m["plan"]["moved_students"] <= f["plan"]["moved_students"]
        # at (nearly) equal travel: the same mean to the tenth of a minute as the plan that ignores stability
        assert abs(m["plan"]["travel"]["mean_travel_s"] - f["plan"]["travel"]["mean_travel_s"]) <= 6
        assert m["plan"]["overflow_students"] == 0
        assert len(stable.shortfalls) == sum(1 for s in stable.shortfalls if s.unit == "grades 1-3 boarders")


def test_console_counts_read_as_english() -> None:
    from planning.app.stages.zones import _count

    assert (_count(1, "school"), _count(2, "block"), _count(0, "school")) == ("1 school", "2 blocks", "0 schools")
