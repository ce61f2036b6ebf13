"""The ``improve`` stage on a small inline county."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
import shapely

from geo.errors import InfeasibleError, InputError
from geo.model import Inputs
from geo.network import NetworkSettings
from planning.app.scenario import InputsSection, Scenario, SolverSection
from planning.app.stage import Context
from planning.app.stages.improve import STAGE, ImproveParams
from planning.balance import from_frames as evaluate_balance
from planning.improve import ImprovePlan, apply_measures

CRS = "EPSG:32649"


def county() -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
    """Three primary schools; C is crowded (floor area 3 m² per pupil) and short of PE teachers."""
    schools = gpd.GeoDataFrame(
        {
            "school_id": ["A", "B", "C"],
            "name": ["县一小", "县二小", "王村小学"],
            "level": "primary",
            "area_type": ["urban", "urban", "rural"],
            "enrolled_primary": [100, 300, 600],
            "enrolled_junior": 0,
            "floor_area_m2": [600.0, 1500.0, 1800.0],
            "sports_area_m2": [900.0, 2400.0, 4800.0],
            "equipment_yuan": [2.5e5, 7e5, 1.3e6],
            "multimedia_rooms": [3, 8, 15],
            "site_area_m2": [4000.0, 9000.0, 20000.0],
        },
        geometry=shapely.points([(500_000, 4_000_000), (501_000, 4_000_000), (508_000, 4_002_000)]),
        crs=CRS,
    )
    rows = [
        {"teacher_id": f"{sid}{i}", "school_id": sid, "subject": "pe" if i < pe else "math", "backbone": i < bb,
         "above_qualification": True, "title": "intermediate"}
        for sid, n, bb, pe in (("A", 6, 1, 1), ("B", 16, 3, 3), ("C", 30, 6, 2))
        for i in range(n)
    ]
    return schools, pd.DataFrame(rows)


def context(params: ImproveParams, *, teachers: bool = True) -> Context:
    schools, t = county()
    scenario = Scenario(
        name="test", seed=1, inputs=InputsSection(schools=Path("schools.csv")), solver=SolverSection(time_limit_s=5, workers=1),
        network=NetworkSettings(), stages={"improve": params},
    )
    inputs = Inputs(schools=schools, blocks=schools.iloc[:0], teachers=t if teachers else None, roads=None, boundary=None, metric_crs=schools.crs)
    return Context(scenario=scenario, inputs=inputs)


def test_files_and_plan_pass_by_the_balance_code() -> None:
    ctx = context(ImproveParams())
    out = STAGE.run(ctx, ImproveParams())
    assert set(out.files) == {"measures.csv", "schools_improve.csv", "metrics.json"}
    measures = out.files["measures.csv"]
    assert list(measures.columns) == ["school_id", "name", "resource", "quantity", "cost_yuan", "year"]
    assert set(measures["school_id"]) == {"C"}
    assert set(measures["resource"]) == {"floor_area_m2", "pe_art_teachers"}
    plan = out.result
    assert isinstance(plan, ImprovePlan)
    s2, t2 = apply_measures(ctx.inputs.schools, ctx.inputs.teachers, plan.measures)
    assert evaluate_balance(s2, t2).quality_passes["primary"]
    m = out.files["metrics.json"]
    assert m["passes"] == {"primary": True} and m["passes_before"] == {"primary": False}
    assert m["total_cost_yuan"] == int(measures["cost_yuan"].sum())
    assert 0 <= m["gap"] <= 0.01 and m["bound_yuan"] <= m["total_cost_yuan"]
    assert m["cv"]["primary"]["floor_area_per_pupil"]["after"] <= 0.5
    assert "solve_s" not in m
    assert "passes" in out.summary


def test_site_too_small_is_a_shortfall_and_strict_stops() -> None:
    ctx = context(ImproveParams())
    schools = ctx.inputs.schools.copy()
    schools.loc[schools["school_id"] == "C", ["sports_area_m2", "site_area_m2"]] = [3000.0, 6000.0]  # 5 m² per pupil, site full
    ctx.inputs = ctx.inputs.__class__(**{**ctx.inputs.__dict__, "schools": schools})
    out = STAGE.run(ctx, ImproveParams())
    assert len(out.shortfalls) == 1 and "王村小学" in str(out.shortfalls[0]) and "site" in str(out.shortfalls[0])
    with pytest.raises(InfeasibleError, match="cannot bring"):
        STAGE.run(ctx, ImproveParams(strict=True))


def test_needs_teachers() -> None:
    with pytest.raises(InputError, match="teachers"):
        STAGE.run(context(ImproveParams(), teachers=False), ImproveParams())


def test_deterministic() -> None:
    a = STAGE.run(context(ImproveParams()), ImproveParams())
    b = STAGE.run(context(ImproveParams()), ImproveParams())
    assert a.files["measures.csv"].to_csv(index=False) == b.files["measures.csv"].to_csv(index=False)
    assert a.files["metrics.json"] == b.files["metrics.json"]


def test_budget_below_least_cost_is_shortfalls_and_strict_stops() -> None:
    full = STAGE.run(context(ImproveParams()), ImproveParams()).files["metrics.json"]["total_cost_yuan"]
    params = ImproveParams(budget_yuan=full // 2)
    out = STAGE.run(context(params), params)
    m = out.files["metrics.json"]
    assert m["total_cost_yuan"] <= full // 2
    assert m["budget"]["full_cost_yuan"] == full and m["budget"]["extra_needed_yuan"] == full - full // 2
    assert out.shortfalls[0].where == "budget" and len(out.shortfalls) > 1
    with pytest.raises(InfeasibleError, match="cannot bring"):
        STAGE.run(context(params), ImproveParams(budget_yuan=full // 2, strict=True))


def test_hires_under_one_cap_is_a_shortfall_and_strict_stops() -> None:
    # 王村小学 (600 pupils): 2 PE/art teachers of 5.4 (3 hires to 85 %, 4 to 100 %) and 20 above the qualification
    # of 25.2 (2 hires to 85 %, 6 to 100 %, beyond a cap of 5): each within the cap alone, the rule not (4 + 2 > 5)
    ctx = context(ImproveParams())
    t = ctx.inputs.teachers
    assert t is not None
    t = t.copy()
    t.loc[t["teacher_id"].isin([f"C{i}" for i in range(20, 30)]), "above_qualification"] = False
    ctx.inputs = ctx.inputs.__class__(**{**ctx.inputs.__dict__, "teachers": t})
    out = STAGE.run(ctx, ImproveParams(max_hires_per_school=5))
    (short,) = [s for s in out.shortfalls if "王村小学" in s.where]
    assert "cannot all be met together" in short.detail and "max_hires_per_school 5" in short.detail
    hires = out.files["measures.csv"]
    assert hires[(hires["school_id"] == "C") & hires["resource"].str.endswith("teachers")]["quantity"].sum() <= 5
    with pytest.raises(InfeasibleError, match="cannot bring"):
        STAGE.run(ctx, ImproveParams(max_hires_per_school=5, strict=True))
