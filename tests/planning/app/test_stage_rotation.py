"""The ``rotation`` stage on a small inline county."""

from __future__ import annotations

import json
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
from planning.app.stages.rotation import MOVES_COLUMNS, STAGE, RotationParams

CRS = "EPSG:32649"


def county() -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
    # an urban core of two schools and three rural schools 6-15 km away (drive ≈ 16-40 min)
    schools = gpd.GeoDataFrame(
        {
            "school_id": ["U1", "U2", "R1", "R2", "R3"],
            "name": ["县一小", "县二小", "李家塔小学", "王村小学", "远山小学"],
            "level": "primary",
            "area_type": ["urban", "urban", "rural", "rural", "rural"],
            "enrolled_primary": [1200, 900, 240, 180, 150],
            "enrolled_junior": 0,
            "capacity_primary": [1350, 1000, 300, 270, 180],
            "capacity_junior": 0,
        },
        geometry=shapely.points([(500_000, 4_000_000), (501_500, 4_000_500), (506_000, 4_001_000), (500_000, 4_008_000),
                                 (512_000, 3_994_000)]),
        crs=CRS,
    )
    plan = {"U1": (24, 6), "U2": (18, 4), "R1": (8, 0), "R2": (6, 0), "R3": (5, 0)}
    rows = [
        {
            "teacher_id": f"{sid}-{i:02d}", "school_id": sid, "subject": ("chinese", "math", "english")[i % 3],
            "backbone": i < bb, "above_qualification": (i % 4 != 3) if sid.startswith("U") else (i % 2 == 0),
            "title": "intermediate", "years_at_school": 3 + (i * 5) % 11, "age": 30 + i % 25, "sex": "MF"[i % 2],
            "exempt_reason": "孕期" if (sid, i) == ("U1", 7) else None,
        }
        for sid, (n, bb) in plan.items()
        for i in range(n)
    ]
    return schools, pd.DataFrame(rows)


def context(params: RotationParams, seed: int = 5) -> Context:
    schools, teachers = county()
    scenario = Scenario(
        name="test", seed=seed, inputs=InputsSection(schools=Path("schools.csv"), teachers=Path("teachers.csv")),
        solver=SolverSection(time_limit_s=10, workers=1), network=NetworkSettings(), stages={"rotation": params},
    )
    inputs = Inputs(schools=schools, blocks=schools.iloc[:0], teachers=teachers, roads=None, boundary=None, metric_crs=schools.crs)
    return Context(scenario=scenario, inputs=inputs)


def test_stage_writes_moves_schools_and_metrics() -> None:
    params = RotationParams()
    out = STAGE.run(context(params), params)
    assert set(out.files) == {"moves.csv", "schools_rotation.csv", "eligibility.csv", "metrics.json"} == set(STAGE.files)
    moves = out.files["moves.csv"]
    assert tuple(moves.columns) == tuple(c for c in MOVES_COLUMNS if c != "name")  # no names in this input
    elig = out.files["eligibility.csv"]
    assert len(elig) == len(context(params).inputs.teachers) and set(elig.columns) >= {"teacher_id", "eligible", "reason"}
    assert elig.loc[~elig["eligible"], "reason"].str.len().gt(0).all()
    assert "exempt" in elig.set_index("teacher_id").loc["U1-07", "reason"]
    assert moves["teacher_id"].is_monotonic_increasing and len(moves) > 0
    assert moves["reason"].str.len().gt(0).all()
    assert "U1-07" not in set(moves["teacher_id"])  # exempt
    sr = out.files["schools_rotation.csv"].set_index("school_id")
    # a quota the never-worse rule or the loss cap stops is a shortfall with its reason, not a silent miss
    unmet = set(sr.index[sr["quota_met"].fillna(True).eq(False)])
    assert {s.where for s in out.shortfalls} == set(sr.loc[sorted(unmet), "name"]) and all(s.detail for s in out.shortfalls)
    m = out.files["metrics.json"]
    for key in ("eligible_teachers", "movers", "rotation_share", "backbone_share_of_movers", "quotas_met", "commute_mean_s",
                "objective", "bound", "gap", "cv_before", "cv_after"):
        assert key in m
    assert "solve_s" not in m and out.metrics["solve_s"] >= 0  # wall clock goes to the manifest only
    assert m["quotas"] == 2 and m["quotas_met"] == 2 - len(unmet) >= 1
    json.dumps(m, allow_nan=False)  # plain JSON: no numpy scalars, no NaN
    assert m["backbone_share_of_movers"] >= 0.2
    # CVs by the balance code: backbone teachers are concentrated in town, rotation spreads them
    cvb, cva = m["cv_before"]["primary"]["backbone_per_100"], m["cv_after"]["primary"]["backbone_per_100"]
    assert cva < cvb
    assert out.result.metrics["movers"] == len(moves)


def test_stage_is_deterministic_byte_for_byte() -> None:
    params = RotationParams(quota_scope="county", backbone_share=0.3)
    a = STAGE.run(context(params), params).files["moves.csv"].to_csv(index=False, lineterminator="\n")
    b = STAGE.run(context(params), params).files["moves.csv"].to_csv(index=False, lineterminator="\n")
    assert a == b and a.count("\n") > 1


def test_stage_reports_infeasible_quotas_or_relaxes_them() -> None:
    # no rural school within 5 minutes: strict (or relax_quotas=false) stops, the default gives a plan with shortfalls
    for params in (RotationParams(max_commute_s=5 * 60, strict=True), RotationParams(max_commute_s=5 * 60, relax_quotas=False)):
        with pytest.raises(InfeasibleError, match="县一小: short by"):
            STAGE.run(context(params), params)
    for relaxed in (RotationParams(max_commute_s=5 * 60), RotationParams(max_commute_s=5 * 60, relax_quotas=True, strict=True)):
        out = STAGE.run(context(relaxed), relaxed)
        assert out.files["metrics.json"]["quotas_met"] == 0
        assert {s["where"] for s in out.files["metrics.json"]["shortfalls"]} == {"县一小", "县二小"}
        assert {s.where for s in out.shortfalls} == {"县一小", "县二小"}


def test_stage_params_reject_bad_values() -> None:
    with pytest.raises(ValueError, match="min_share"):
        RotationParams(min_share=1.5)
    with pytest.raises(ValueError, match="quota_scope"):
        RotationParams(quota_scope="province")


def test_issue14_case16_min_share_above_max_share_is_refused_and_an_unset_cap_follows_min_share() -> None:
    with pytest.raises(ValueError, match=r"min_share \(0.5\) must be ≤ max_share \(0.1\)"):
        RotationParams(min_share=0.5, max_share=0.1)
    assert RotationParams().max_share == 0.2
    local = RotationParams(min_share=0.3)  # a local 30% rule: the default cap of 20% follows it
    assert local.max_share == 0.3
    assert RotationParams.model_validate(local.model_dump()) == local  # as the session and --strict re-validate it
    assert RotationParams(min_share=0.1, max_share=None).max_share is None  # no cap


def test_issue14_case16_area_types_and_strength_classes_are_enumerations() -> None:
    with pytest.raises(ValueError, match=r"sending_area_types\.0\n  Input should be 'urban', 'town' or 'rural'"):
        RotationParams(sending_area_types=("moon",))
    with pytest.raises(ValueError, match=r"receiving_strength\.1\n  Input should be 'strong', 'middle' or 'weak'"):
        RotationParams(receiving_strength=("weak", "poor"))


def test_stage_needs_teachers() -> None:
    params = RotationParams()
    ctx = context(params)
    ctx.inputs = Inputs(schools=ctx.inputs.schools, blocks=ctx.inputs.blocks, teachers=None, roads=None, boundary=None,
                        metric_crs=ctx.inputs.metric_crs)
    with pytest.raises(InputError, match="needs a teachers table"):
        STAGE.run(ctx, params)


def test_stage_takes_communities_from_the_stage_or_a_file(tmp_path: Path) -> None:
    from planning.app.stage import StageOutput
    from planning.communities.groups import CommunityPlan

    # 县一小 leads a community with the far 远山小学 (R3); without it, moves go to the nearest rural schools
    groups = pd.DataFrame({"school_id": ["U1", "R3", "U2", "R1", "R2"], "group_id": ["G1", "G1", "G2", "G2", "G2"],
                           "role": ["lead", "member", "lead", "member", "member"]})
    params = RotationParams(outside_community_penalty=500.0, gap_weight=0.0)
    ctx = context(params)
    plan = CommunityPlan(groups=groups, group_metrics=pd.DataFrame(), pairs=pd.DataFrame(), unassigned=pd.DataFrame())
    ctx.outputs["communities"] = StageOutput(files={}, result=plan)
    moves = STAGE.run(ctx, params).files["moves.csv"]
    out_u1 = moves[moves["from_school"] == "U1"]
    assert set(out_u1["to_school"]) == {"R3"}
    path = tmp_path / "groups.csv"
    groups.rename(columns={"school_id": "学校代码"}).to_csv(path, index=False)
    from_file = RotationParams(outside_community_penalty=500.0, gap_weight=0.0, groups=path)
    moves2 = STAGE.run(context(from_file), from_file).files["moves.csv"]
    assert moves2.equals(moves)


def test_stage_params_keep_the_flat_scenario_keys() -> None:
    # the model's settings are inherited from RotationOptions; the [rotation] keys (and CLI flags) stay flat
    from planning.rotation import RotationOptions

    keys = {
        "enabled", "min_years_at_school", "age_caps", "max_age_male", "max_age_female", "years_to_retirement", "retirement_age_male",
        "retirement_age_female", "honour_exemptions", "min_share", "max_share", "backbone_share", "quota_scope", "staffing",
        "staffing_tolerance", "staffing_targets", "relax_quotas", "mode", "max_commute_min", "sending_area_types", "sending_strength",
        "receiving_area_types", "receiving_strength", "return_moves", "allow_other_schools", "max_destinations", "groups",
        "use_communities", "gap_weight", "commute_weight_per_min", "move_penalty", "outside_community_penalty", "relative_gap",
        "deterministic_time_s", "strict", "max_loss_share", "never_worse", "language",
    }
    assert set(RotationParams.model_fields) == keys
    params = RotationParams.model_validate({"min_years_at_school": 3, "backbone_share": 0.3, "staffing_targets": "t.csv", "mode": "walk"})
    assert isinstance(params, RotationOptions)
    assert (params.min_years_at_school, params.backbone_share, params.staffing_targets) == (3, 0.3, Path("t.csv"))
    with pytest.raises(ValueError, match="eligibility"):
        RotationParams.model_validate({"eligibility": {"min_years_at_school": 3}})
