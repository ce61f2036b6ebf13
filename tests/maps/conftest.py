"""Small inline runs shaped exactly like the stages' canonical outputs."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from geo.model import Inputs
from geo.network import NetworkSettings
from maps import render as render_module
from maps.common import ReportParams
from planning.app.scenario import InputsSection, Scenario, SolverSection
from planning.app.stage import RunResult, StageOutput

CRS = "EPSG:32649"  # UTM 49N: around 110°E, 37°N (northern Shaanxi)
X0, Y0 = 400_000.0, 4_100_000.0
CELL_M = 400.0
ALL_STAGES = ("zones", "balance", "communities", "rotation")


def make_run(nx: int = 6, ny: int = 4, *, stages: tuple[str, ...] = ALL_STAGES, name: str = "测试县") -> RunResult:
    """A grid county of ``nx × ny`` blocks with 4 schools, one per quadrant.

    Blocks in the left half go to P1/P2 (top/bottom), right half to P3/P4;
    school P4 is over capacity; the last block is unserved.
    """
    xs, ys = np.meshgrid(np.arange(nx), np.arange(ny))
    xs, ys = xs.ravel(), ys.ravel()
    polys = shapely.box(X0 + xs * CELL_M, Y0 + ys * CELL_M, X0 + (xs + 1) * CELL_M, Y0 + (ys + 1) * CELL_M)
    n = len(polys)
    bid = [f"B{k:05d}" for k in range(n)]
    quadrant = (xs >= nx // 2).astype(int) * 2 + (ys >= ny // 2).astype(int)
    sids = np.array(["P1", "P2", "P3", "P4"])[quadrant]
    blocks = gpd.GeoDataFrame(
        {
            "block_id": bid,
            "name": [f"小区{k}" for k in range(n)],
            "students_primary": np.full(n, 30, dtype=np.int64),
            "students_junior": np.full(n, 15, dtype=np.int64),
            "township": np.where(xs < nx // 2, "东镇", "西镇"),
        },
        geometry=polys,
        crs=CRS,
    )
    centres = [(X0 + (nx / 4 + dx * nx / 2) * CELL_M, Y0 + (ny / 4 + dy * ny / 2) * CELL_M) for dx in (0, 1) for dy in (0, 1)]
    schools = gpd.GeoDataFrame(
        {
            "school_id": ["P1", "P2", "P3", "P4"],
            "name": ["城关一小", "城关二小", "西镇小学", "南关小学"],
            "level": ["primary"] * 4,
            "area_type": ["urban", "urban", "rural", "town"],
            "capacity_primary": np.array([400, 400, 400, 120], dtype=np.int64),
            "capacity_junior": np.zeros(4, dtype=np.int64),
            "enrolled_primary": np.array([380, 300, 120, 260], dtype=np.int64),
            "enrolled_junior": np.zeros(4, dtype=np.int64),
        },
        geometry=gpd.points_from_xy([c[0] for c in centres], [c[1] for c in centres]),
        crs=CRS,
    )
    county = shapely.box(X0, Y0, X0 + nx * CELL_M, Y0 + ny * CELL_M)
    half = X0 + (nx // 2) * CELL_M
    boundary = gpd.GeoDataFrame(
        {"name": ["测试县", "东镇", "西镇"], "township": [None, "东镇", "西镇"]},
        geometry=[county, shapely.box(X0, Y0, half, Y0 + ny * CELL_M), shapely.box(half, Y0, X0 + nx * CELL_M, Y0 + ny * CELL_M)],
        crs=CRS,
    )
    roads = gpd.GeoDataFrame(
        {"highway": ["primary", "residential"], "name": ["人民路", "小巷"]},
        geometry=[
            shapely.LineString([(X0, Y0 + ny * CELL_M / 2), (X0 + nx * CELL_M, Y0 + ny * CELL_M / 2)]),
            shapely.LineString([(half, Y0), (half, Y0 + ny * CELL_M)]),
        ],
        crs=CRS,
    )
    inputs = Inputs(schools=schools, blocks=blocks, teachers=None, roads=roads, boundary=boundary, metric_crs=blocks.crs)
    outputs: dict[str, StageOutput] = {}
    if "zones" in stages:
        assigned = sids.astype(object)
        assigned[-1] = ""
        travel = (np.hypot(xs - nx / 4, ys - ny / 4) * 300).astype(np.int64)
        assignment = pd.DataFrame(
            {
                "block_id": bid,
                "school_id": assigned,
                # as the zones stage writes them: "" for unserved, nullable Int64 travel with <NA>
                "travel_s": pd.array(travel, dtype="Int64"),
                "travel_m": pd.array((travel * 1.2).astype(np.int64), dtype="Int64"),
                "students": np.full(n, 30, dtype=np.int64),
                "reason": np.where(assigned == "", "unreachable", "optimal"),
            }
        )
        assignment.loc[assignment["school_id"] == "", ["travel_s", "travel_m"]] = pd.NA
        zones = blocks.assign(school_id=sids).iloc[:-1].dissolve("school_id", as_index=False)[["school_id", "geometry"]]
        students = blocks.iloc[:-1].groupby(sids[:-1])["students_primary"].sum()
        seats = schools.set_index("school_id")["capacity_primary"]
        zones["name"] = zones["school_id"].map(schools.set_index("school_id")["name"])
        zones["students"] = zones["school_id"].map(students).astype(np.int64)
        zones["capacity_seats"] = zones["school_id"].map(seats).astype(np.int64)
        zones["utilization"] = zones["students"] / zones["capacity_seats"]
        # as the zones stage writes it: the plan and the nearest-school baseline side by side
        per_school = {f"S{k:02d}": 0.5 for k in range(20)}  # per-school detail, too long for a figure list
        metrics = {
            "adjacency": "shared border", "level": "primary", "max_travel_s": 1800.0, "travel_mode": "walk",
            "plan": {
                "status": "OPTIMAL", "objective_s": 123456.0, "bound_s": 123000.0, "gap": 0.0037, "moved_students": 12,
                "travel": {"mean_travel_s": 540.0, "p95_travel_s": 1300.0, "share_within_standard": 0.81, "unserved": 30},
                "equity": {"left_behind": {"mean_travel_s": 610.0, "students": 40}},
                "utilization": per_school, "solve_time_s": 0.8,
                "overflow": [{"school_id": "P4", "capacity_seats": 120, "students": 150, "over_by": 30}],
            },
            "nearest": {
                "status": "BASELINE", "objective_s": 110000.0, "bound_s": None, "gap": None, "moved_students": 0,
                "travel": {"mean_travel_s": 500.0, "p95_travel_s": 1500.0, "share_within_standard": 0.84, "unserved": 30},
                "equity": {"left_behind": {"mean_travel_s": 580.0, "students": 40}},
                "utilization": per_school, "solve_time_s": 0.01, "overflow": [],
            },
        }
        mz = gpd.GeoDataFrame({"multizone_id": ["M1"]}, geometry=[shapely.box(X0, Y0, half, Y0 + ny * CELL_M)], crs=CRS)
        multischool = pd.DataFrame({"school_id": ["P1", "P2"], "multizone_id": ["M1", "M1"], "expected_intake": [60, 50], "strong": [True, False]})
        outputs["zones"] = StageOutput(files={
            "primary/assignment.csv": assignment,
            "primary/zones.gpkg": zones,
            "primary/metrics.json": metrics,
            "primary/multischool.csv": multischool,
            "primary/multischool_zones.gpkg": mz,
        })
    if "balance" in stages:
        balance = pd.DataFrame({
            "level": ["primary"] * 3,
            "indicator": ["floor_area_per_pupil", "sports_area_per_pupil", "backbone_per_100"],
            "county_value": [5.1, 8.2, 1.1],
            "cv": [0.31, 0.62, 0.45],
            "threshold": [0.50, 0.50, 0.50],
            "passes": [True, False, True],
            "kind": ["quality"] * 3,
        })
        schools_balance = pd.DataFrame({
            "school_id": ["P1", "P2", "P3", "P4"], "strength": [1.3, 1.0, 0.7, 0.95],
            "strength_class": ["strong", "middle", "weak", "middle"],
        })
        outputs["balance"] = StageOutput(files={"balance.csv": balance, "schools_balance.csv": schools_balance})
    if "communities" in stages:
        groups = pd.DataFrame({
            "school_id": ["P1", "P3", "P4"], "group_id": ["G1"] * 3, "role": ["lead", "member", "member"],
            "level": ["primary"] * 3, "lead_id": ["P1"] * 3, "travel_s": [0, 700, 900],
        })
        gm = pd.DataFrame({"group_id": ["G1"], "schools": [3], "max_distance_m": [2100]})
        outputs["communities"] = StageOutput(files={
            "groups.csv": groups, "group_metrics.csv": gm, "pairs.csv": pd.DataFrame({"strong": ["P1"], "weak": ["P3"]}),
            "metrics.json": {"groups": 1, "status": "OPTIMAL", "gap": 0.0},
        })
    if "rotation" in stages:
        moves = pd.DataFrame({
            "teacher_id": ["T1", "T2", "T3", "T4"], "from_school": ["P1", "P1", "P2", "P3"],
            "to_school": ["P3", "P3", "P4", "P1"], "subject": ["math", "chinese", "math", "pe"],
            "backbone": [True, False, True, False], "commute_s": [900, 1000, 800, 700],
            "reason": ["quota"] * 4,
        })
        sr = pd.DataFrame({"school_id": ["P1", "P2", "P3", "P4"], "eligible": [10, 8, 3, 2], "out": [2, 1, 1, 0], "in": [1, 0, 2, 1]})
        outputs["rotation"] = StageOutput(files={
            "moves.csv": moves, "schools_rotation.csv": sr,
            "metrics.json": {
                "quotas": 2, "quotas_met": 1, "movers": 4, "movers_out": 3, "rotation_share": 0.125,
                "backbone_share_of_movers": 0.5, "commute_mean_s": 850.0, "solve_s": 0.42, "gap": 0.0,
                "cv_before": {"primary": {"backbone_per_100": 0.45}}, "cv_after": {"primary": {"backbone_per_100": 0.30}},
                "shortfalls": [{"where": "P2", "short_by": 1, "unit": "backbone teachers", "detail": "no eligible backbone"}],
            },
        })
    scenario = Scenario(
        name=name, seed=7, inputs=InputsSection(schools=Path("schools.csv")), solver=SolverSection(),
        network=NetworkSettings(), stages={},
    )
    return RunResult(scenario=scenario, inputs=inputs, outputs=outputs)


@pytest.fixture(name="make_run", scope="session")
def make_run_fixture() -> Callable[..., RunResult]:
    """The :func:`make_run` factory (a fixture, so tests need not import this module)."""
    return make_run


def _no_print_documents(run: RunResult, params: ReportParams) -> dict[str, Any]:
    return {}


def render_pages(run: RunResult, params: ReportParams) -> dict[str, Any]:
    """What ``maps.render.render_run`` returns, without its print maps and Word documents.

    ``render_run`` builds ``map.html``, the stage maps, ``report.html`` and ``report.xlsx`` before it adds
    ``print/*.png|pdf`` and ``documents/*.docx``, and no page depends on those: the same pages in about 0.1 s
    of CPU instead of 2 s (``tests/maps/test_render.py`` checks the pages are the same).
    """
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(render_module, "print_documents", _no_print_documents)
        return render_module.render_run(run, params)


@pytest.fixture(name="render_pages", scope="session")
def render_pages_fixture() -> Callable[[RunResult, ReportParams], dict[str, Any]]:
    """The :func:`render_pages` function, for tests that read pages only (browser, escaping, titles)."""
    return render_pages
