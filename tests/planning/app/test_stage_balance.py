"""The ``balance`` stage on a small inline county."""

from __future__ import annotations

import math
import tomllib
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
import shapely
from pydantic import ValidationError

from geo.errors import InputError
from geo.model import Inputs
from geo.network import NetworkSettings
from planning.app.scenario import InputsSection, Scenario, SolverSection, scenario_from_dict
from planning.app.stage import Context
from planning.app.stages.balance import STAGE, BalanceParams, BalanceResult
from planning.balance import StrengthOptions

CRS = "EPSG:32649"


def county() -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
    schools = gpd.GeoDataFrame(
        {
            "school_id": ["A", "B", "C", "T"],
            "name": ["县一小", "县二小", "王村小学", "李家教学点"],
            "level": ["primary", "primary", "primary", "primary"],
            "area_type": ["urban", "urban", "rural", "rural"],
            "enrolled_primary": [100, 300, 600, 20],
            "enrolled_junior": [0, 0, 0, 0],
            "teaching_point": [False, False, False, True],
            "floor_area_m2": [600.0, 1200.0, 1800.0, 400.0],
            "sports_area_m2": [900.0, 2400.0, 3000.0, 200.0],
            "equipment_yuan": [2e5, 5e5, 9e5, 1e4],
            "multimedia_rooms": [3, 6, 9, 0],
            "computers": [10, 20, 40, 1],
            "books": [3000, 6000, 9000, 500],
        },
        geometry=shapely.points([(500_000, 4_000_000), (501_000, 4_000_000), (508_000, 4_002_000), (510_000, 4_004_000)]),
        crs=CRS,
    )
    rows = [
        {"teacher_id": f"{sid}{i}", "school_id": sid, "subject": ("pe", "math", "chinese")[i % 3], "backbone": i < bb,
         "above_qualification": i % 2 == 0, "title": "intermediate" if i % 3 == 0 else "junior"}
        for sid, n, bb in (("A", 6, 2), ("B", 12, 2), ("C", 15, 0), ("T", 2, 0))
        for i in range(n)
    ]
    return schools, pd.DataFrame(rows)


def context(params: BalanceParams, *, teachers: bool = True) -> Context:
    schools, t = county()
    scenario = Scenario(
        name="test", seed=1, inputs=InputsSection(schools=Path("schools.csv")), solver=SolverSection(time_limit_s=5, workers=1),
        network=NetworkSettings(), stages={"balance": params},
    )
    inputs = Inputs(schools=schools, blocks=schools.iloc[:0], teachers=t if teachers else None, roads=None, boundary=None, metric_crs=schools.crs)
    return Context(scenario=scenario, inputs=inputs)


def test_files_and_result() -> None:
    out = STAGE.run(context(BalanceParams()), BalanceParams())
    assert set(out.files) == {"balance.csv", "schools_balance.csv"}
    bal = out.files["balance.csv"]
    assert list(bal.columns[:7]) == ["level", "indicator", "county_value", "cv", "threshold", "passes", "kind"]
    row = bal[(bal["indicator"] == "floor_area_per_pupil") & (bal["kind"] == "quality")].iloc[0]
    # A 6, B 4, C 3 m² per pupil (T a teaching point of 20: out); X̄ = 3600 / 1000; var = .1·2.4² + .3·.4² + .6·.6² = .84
    assert row["cv"] == pytest.approx(math.sqrt(0.84) / 3.6, abs=1e-9)
    sb = out.files["schools_balance.csv"]
    assert {"school_id", "name", "level", "meets_quality", "standards_met", "strength", "strength_class"} <= set(sb.columns)
    assert list(sb["school_id"]) == ["A", "B", "C", "T"]
    assert isinstance(out.result, BalanceResult) and list(out.result.strength.index) == ["A", "B", "C", "T"]
    assert out.metrics["primary"]["schools_counted"] == 3
    assert "优质均衡 CVs" in out.summary


def test_without_teachers_lists_what_is_not_computable() -> None:
    out = STAGE.run(context(BalanceParams(), teachers=False), BalanceParams())
    assert "backbone_per_100" in out.metrics["not_computable"]
    assert "not computable" in out.summary


def test_strength_params_validated() -> None:
    with pytest.raises(ValidationError, match="weak_below"):
        StrengthOptions(strong_at=0.5, weak_below=0.9)
    with pytest.raises(ValidationError, match="extra"):
        BalanceParams.model_validate({"strenght": {}})


def test_deterministic() -> None:
    a = STAGE.run(context(BalanceParams()), BalanceParams())
    b = STAGE.run(context(BalanceParams()), BalanceParams())
    for name in a.files:
        assert a.files[name].to_csv(index=False) == b.files[name].to_csv(index=False)


def test_level_with_only_teaching_points_is_reported_not_crashed() -> None:
    ctx = context(BalanceParams())
    schools = ctx.inputs.schools.copy()
    schools.loc[schools["school_id"] == "T", ["level", "enrolled_primary", "enrolled_junior"]] = ["junior", 0, 20]
    ctx.inputs = ctx.inputs.__class__(**{**ctx.inputs.__dict__, "schools": schools})
    out = STAGE.run(ctx, BalanceParams())
    junior = out.files["balance.csv"][out.files["balance.csv"]["level"] == "junior"]
    assert (junior["n_schools"] == 0).all() and junior.loc[junior["kind"] == "quality", "passes"].isna().all()
    assert out.metrics["junior"]["quality_cvs_passing"] == 0


SCENARIO = """
name = "override"
seed = 1
[inputs]
schools = "schools.csv"
[balance]
quality_cv_max = {primary = 0.2}
[balance.quality_standards.primary]
floor_area_per_pupil = 7.0
"""


def test_scenario_overrides_policy_numbers() -> None:
    params = scenario_from_dict(tomllib.loads(SCENARIO)).stages["balance"]
    assert isinstance(params, BalanceParams) and params.quality_cv_max == {"primary": 0.2, "junior": 0.45}
    base = STAGE.run(context(BalanceParams()), BalanceParams()).files
    out = STAGE.run(context(params), params).files
    key = (out["balance.csv"]["indicator"] == "floor_area_per_pupil") & (out["balance.csv"]["kind"] == "quality")
    # CV sqrt(.84) / 3.6 ≈ 0.255: within the national 0.50, not within 0.20
    assert bool(base["balance.csv"].loc[key, "passes"].iloc[0]) is True
    assert bool(out["balance.csv"].loc[key, "passes"].iloc[0]) is False and out["balance.csv"].loc[key, "threshold"].iloc[0] == 0.2
    # A has 6 m² per pupil: meets 4.5, not 7.0
    a_base = base["schools_balance.csv"].set_index("school_id").loc["A"]
    a_out = out["schools_balance.csv"].set_index("school_id").loc["A"]
    assert bool(a_base["floor_area_per_pupil_met"]) is True and bool(a_out["floor_area_per_pupil_met"]) is False


def test_scenario_override_with_unknown_indicator_is_named() -> None:
    bad = tomllib.loads(SCENARIO.replace("floor_area_per_pupil = 7.0", "floor_area = 7.0"))
    with pytest.raises(InputError, match=r"balance\.quality_standards.*unknown primary indicator 'floor_area'"):
        scenario_from_dict(bad)


def test_the_bureau_class_wins_in_the_files_and_the_summary() -> None:
    ctx = context(BalanceParams())
    schools = ctx.inputs.schools.assign(strength_class=["strong", None, "weak", None])
    inputs = Inputs(schools=schools, blocks=schools.iloc[:0], teachers=ctx.inputs.teachers, roads=None, boundary=None, metric_crs=schools.crs)
    out = STAGE.run(Context(scenario=ctx.scenario, inputs=inputs), BalanceParams())
    sb = out.files["schools_balance.csv"].set_index("school_id")
    assert sb.loc["A", "strength_class"] == "strong" and sb.loc["A", "class_source"] == "bureau"
    assert sb.loc["B", "class_source"] == "computed"
    # the teaching point is never strong, and says why
    assert sb.loc["T", "strength_class"] != "strong" and sb.loc["T", "not_strong_because"].startswith("teaching point; 20 pupils < 100")
    assert "strong: 县一小" in out.summary and "2 class(es) from the bureau's own strength_class column" in out.summary
