"""The ``communities`` stage on a small inline county."""

from __future__ import annotations

import re
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
import shapely
from pydantic import ValidationError

from geo.errors import InfeasibleError
from geo.model import Inputs
from geo.network import NetworkSettings
from planning.app.scenario import InputsSection, Scenario, SolverSection
from planning.app.stage import Context, StageOutput
from planning.app.stages import balance as balance_stage
from planning.app.stages.communities import STAGE, CommunitiesParams
from planning.balance import StrengthOptions
from planning.communities import CommunityOptions, CommunityPlan

CRS = "EPSG:32649"


def county() -> gpd.GeoDataFrame:
    # two strong urban schools, weak/rural schools 3-15 km away (≤ 40 min by car at 30 km/h × 1.3)
    return gpd.GeoDataFrame(
        {
            "school_id": ["U1", "U2", "R1", "R2", "R3", "R4"],
            "name": ["县一小", "县二小", "李家塔小学", "王村小学", "远山小学", "河口小学"],
            "level": "primary",
            "area_type": ["urban", "urban", "rural", "rural", "rural", "town"],
            "enrolled_primary": [1000, 800, 200, 150, 120, 300],
            "enrolled_junior": 0,
            "floor_area_m2": [6000.0, 4400.0, 600.0, 450.0, 300.0, 900.0],
            "sports_area_m2": [9000.0, 7000.0, 900.0, 800.0, 500.0, 1500.0],
            "equipment_yuan": [2.6e6, 2e6, 2e5, 1.5e5, 1e5, 3e5],
            "multimedia_rooms": [30, 22, 3, 2, 1, 4],
            "quality_score": [88.0, 85.0, 62.0, 60.0, 55.0, 70.0],
        },
        geometry=shapely.points(
            [(500_000, 4_000_000), (501_500, 4_000_500), (506_000, 4_001_000), (500_000, 4_008_000), (512_000, 3_994_000), (497_000, 3_997_000)]
        ),
        crs=CRS,
    )


def context(params: CommunitiesParams, scenario_dir: Path | None = None) -> Context:
    schools = county()
    scenario = Scenario(
        name="test", seed=3, inputs=InputsSection(schools=Path("schools.csv")), solver=SolverSection(time_limit_s=5, workers=1),
        network=NetworkSettings(), stages={"communities": params},
        path=None if scenario_dir is None else scenario_dir / "scenario.toml",
    )
    inputs = Inputs(schools=schools, blocks=schools.iloc[:0], teachers=None, roads=None, boundary=None, metric_crs=schools.crs)
    return Context(scenario=scenario, inputs=inputs)


def test_files_and_plan() -> None:
    params = CommunitiesParams(min_members=1, max_members=3)
    out = STAGE.run(context(params), params)
    assert {"groups.csv", "group_metrics.csv", "pairs.csv", "metrics.json"} <= set(out.files)
    g = out.files["groups.csv"]
    assert list(g.columns[:3]) == ["school_id", "group_id", "role"]
    # 4 schools must join (weak or rural) → ⌈4 / 3⌉ = 2 groups, led by U1 and U2
    assert sorted(g.loc[g["role"] == "lead", "school_id"]) == ["U1", "U2"]
    assert sorted(g.loc[g["role"] == "member", "school_id"]) == ["R1", "R2", "R3", "R4"]
    assert isinstance(out.result, CommunityPlan)
    m = out.files["metrics.json"]["primary"]
    assert {"objective", "bound", "gap", "status"} <= set(m) and "solve_s" not in m  # wall time stays out of files
    assert "solve_s" in out.metrics["primary"]
    assert m["bound"] <= m["objective"] and m["status"] in ("OPTIMAL", "FEASIBLE")
    assert "groups" in out.summary
    # the summary goes into report.html, which must be byte-identical across runs: no wall time in it
    assert not re.search(r"\d s\)", out.summary)


def test_uses_balance_strength_when_it_ran() -> None:
    params = CommunitiesParams(min_members=1, max_members=3)
    ctx = context(params)
    strength = StrengthOptions(strong_at=5.0, weak_below=0.0).compute(ctx.inputs.schools, None)  # nobody strong
    fake = balance_stage.BalanceResult(report=None, strength=strength)  # type: ignore[arg-type]
    ctx.outputs["balance"] = StageOutput(files={}, result=fake)
    out = STAGE.run(ctx, params)
    assert out.files["pairs.csv"].empty and "no weak school" in out.summary


def test_fixed_groups_file_relative_to_scenario(tmp_path: Path) -> None:
    (tmp_path / "groups.csv").write_text("学校代码,集团编号,角色\nU2,一小集团,lead\nR1,一小集团,member\n", encoding="utf-8")
    params = CommunitiesParams(min_members=1, max_members=3, fixed_groups=Path("groups.csv"))
    out = STAGE.run(context(params, tmp_path), params)
    g = out.files["groups.csv"].set_index("school_id")
    assert g.loc["R1", "group_id"] == "一小集团" and g.loc["R1", "lead_id"] == "U2"


def test_a_school_beyond_the_cap_is_a_shortfall_unless_strict() -> None:
    strict = CommunitiesParams(min_members=1, max_members=3, max_travel_min=20, strict=True)
    with pytest.raises(InfeasibleError, match="R3: short by 1 lead within the travel cap"):
        STAGE.run(context(strict), strict)
    params = CommunitiesParams(min_members=1, max_members=3, max_travel_min=20)
    out = STAGE.run(context(params), params)
    assert "R3" in set(out.files["unassigned.csv"]["school_id"])
    (sf,) = [s for s in out.shortfalls if "R3" in s.where and s.unit == "place in a group"]
    assert sf.where == "primary: 远山小学 (R3)" and sf.unit == "place in a group" and sf.short_by == 1
    assert sf.detail == "no lead within 20 min; nearest lead beyond the cap: 县二小 (U2), 32 min away (cap 20 min)"
    (pair,) = [s for s in out.shortfalls if "R3" in s.where and s.unit == "strong partner"]
    assert pair.detail.startswith("no strong school within the travel cap; nearest beyond the cap: 县二小 (U2), 32 min away")
    assert "shortfall" in out.summary


def test_issue14_case18_last_years_groups_fed_back_without_their_roads(tmp_path: Path) -> None:
    # last year's groups.csv, every column as the stage wrote it (made with roads): 县二小 (U2) led 远山小学 (R3),
    # 32 min away in a straight line; with a 5-minute cap the travel search (3 × the cap) does not reach it
    (tmp_path / "groups.csv").write_text(
        "school_id,group_id,role,level,lead_id,travel_s,strength,strength_class,area_type,fixed\n"
        "U2,P-U2,lead,primary,U2,0,1.2,strong,urban,False\nR3,P-U2,member,primary,U2,1500,0.7,weak,rural,False\n",
        encoding="utf-8",
    )
    params = CommunitiesParams(min_members=1, max_members=3, max_travel_min=5, fixed_groups=Path("groups.csv"))
    out = STAGE.run(context(params, tmp_path), params)  # no warning either: the file's other columns are the stage's own
    g = out.files["groups.csv"].set_index("school_id")
    assert (g.loc["R3", "group_id"], g.loc["R3", "lead_id"]) == ("P-U2", "U2") and pd.isna(g.loc["R3", "travel_s"])
    (sf,) = [s for s in out.shortfalls if s.where == "primary: 远山小学 (R3)" and s.detail.startswith("fixed group")]
    assert sf.detail == (
        "fixed group P-U2: its lead 县二小 (U2) is too far for the travel times searched, or not connected by road "
        "(cap 5 min); kept as the fixed groups have it"
    )
    strict = params.model_copy(update={"strict": True})
    with pytest.raises(InfeasibleError, match=r"1 member\(s\) of fixed groups are beyond the travel cap"):
        STAGE.run(context(strict, tmp_path), strict)


def test_params_validated() -> None:
    with pytest.raises(ValidationError, match="min_members"):
        CommunitiesParams(min_members=5, max_members=3)
    with pytest.raises(ValidationError, match="lead_ids"):
        CommunitiesParams(lead_mode="given")


def test_deterministic() -> None:
    params = CommunitiesParams(min_members=1, max_members=3)
    a = STAGE.run(context(params), params)
    b = STAGE.run(context(params), params)
    for name in ("groups.csv", "group_metrics.csv", "pairs.csv"):
        assert a.files[name].to_csv(index=False) == b.files[name].to_csv(index=False)
    assert a.files["metrics.json"] == b.files["metrics.json"]


def test_params_are_the_model_options_plus_the_stage_fields() -> None:
    # TOML keys and CLI flags come from these fields: the move into CommunityOptions keeps every one
    assert issubclass(CommunitiesParams, CommunityOptions)
    assert set(CommunitiesParams.model_fields) == {
        "enabled", "levels", "lead_mode", "lead_ids", "lead_area_types", "n_groups", "min_members", "max_members",
        "max_travel_min", "mode", "assign_rural", "middle", "strength_weight_min", "rural_penalty_min", "fixed_groups",
        "pair_k", "allow_unassigned", "strength", "strict", "lead_min_pupils", "central_schools",
    }
    cap = CommunitiesParams.model_fields["max_travel_min"]
    assert cap.default == 60.0 and cap.description == "lead → member travel cap, minutes"
    assert CommunitiesParams(max_travel_min=20).max_travel_s == 1200


def test_group_sizes_that_cannot_hold_the_schools_give_a_plan_with_shortfalls_unless_strict() -> None:
    # 2 leads (U1, U2 by n_groups) and 4 schools that must join: at least 3 members each is 6 places to fill
    strict = CommunitiesParams(min_members=3, max_members=4, lead_mode="optimize", n_groups=2, strict=True)
    with pytest.raises(InfeasibleError, match="group sizes cannot hold the schools"):
        STAGE.run(context(strict), strict)
    params = CommunitiesParams(min_members=3, max_members=4, lead_mode="optimize", n_groups=2)
    out = STAGE.run(context(params), params)
    g = out.files["groups.csv"]
    assert sorted(g.loc[g["role"] == "member", "school_id"]) == ["R1", "R2", "R3", "R4"]
    short = [s for s in out.shortfalls if s.unit == "members"]
    assert sum(s.short_by for s in short) == 2 and all(s.where.startswith("primary: group of ") for s in short)
    assert out.metrics["primary"]["short_groups"] == len(short)
