"""The achievement plan on tables: units and costs, the per-school rule, shortfalls, verification by the balance code."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from geo.errors import InfeasibleError
from planning.balance import from_frames as evaluate_balance
from planning.improve import ImproveOptions, apply_measures, from_frames
from planning.improve import costs as C
from planning.improve.plan import MEASURE_COLUMNS
from planning.limits import SolveLimits

LIMITS = SolveLimits(time_limit_s=5, workers=1)


def county(n: int = 2, **over: object) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``n`` identical primary schools of 100 pupils meeting every standard but floor area and equipment (90 % each)."""
    schools = pd.DataFrame(
        {
            "school_id": [f"S{i}" for i in range(n)],
            "name": [f"学校{i}" for i in range(n)],
            "level": "primary",
            "area_type": "rural",
            "enrolled_primary": 100,
            "enrolled_junior": 0,
            "floor_area_m2": 405.0,  # 4.05 of 4.5 m² per pupil: 90 %
            "sports_area_m2": 800.0,  # 8.0 ≥ 7.5
            "equipment_yuan": 180_000.0,  # 1,800 of 2,000 yuan per pupil: 90 %
            "multimedia_rooms": 3,  # 3.0 ≥ 2.3 per 100
        }
    )
    for k, v in over.items():
        schools[k] = v
    rows = []
    for s in schools["school_id"]:
        rows.append({"teacher_id": f"{s}-T0", "school_id": s, "subject": "pe", "backbone": True, "above_qualification": True, "title": "senior"})
        rows += [
            {"teacher_id": f"{s}-T{k}", "school_id": s, "subject": "chinese", "backbone": False, "above_qualification": True, "title": "intermediate"}
            for k in range(1, 5)
        ]
    return schools, pd.DataFrame(rows)


def test_units_and_costs_are_documented_defaults():
    o = ImproveOptions()
    assert o.unit_quantity("floor_area_m2") == C.FLOOR_MODULE_M2
    assert o.unit_cost("floor_area_m2") == round(C.FLOOR_MODULE_M2 * C.FLOOR_YUAN_PER_M2)
    assert o.unit_quantity("sports_area_m2") == C.SPORTS_MODULE_M2
    assert o.unit_cost("sports_area_m2") == round(C.SPORTS_MODULE_M2 * C.SPORTS_YUAN_PER_M2)
    assert o.unit_quantity("equipment_yuan") == o.unit_cost("equipment_yuan") == C.EQUIPMENT_LOT_YUAN
    assert (o.unit_quantity("multimedia_rooms"), o.unit_cost("multimedia_rooms")) == (1, C.MULTIMEDIA_ROOM_YUAN)
    hire = C.TEACHER_YUAN_PER_YEAR * C.SALARY_YEARS
    assert o.unit_cost("pe_art_teachers") == o.unit_cost("above_qualification_teachers") == hire
    assert (o.unit_quantity("backbone_teachers"), o.unit_cost("backbone_teachers")) == (1, C.BACKBONE_YUAN)
    custom = ImproveOptions(teacher_yuan_per_year=60_000, salary_years=3, floor_module_m2=60, floor_yuan_per_m2=2_500)
    assert custom.unit_cost("pe_art_teachers") == 180_000
    assert custom.unit_cost("floor_area_m2") == 150_000


def test_rejects_unknown_measure():
    with pytest.raises(ValueError, match="resources"):
        ImproveOptions(resources=("gold_taps",))  # type: ignore[arg-type]


def test_cheaper_standard_is_raised_the_other_left_at_85_percent():
    # each school may leave one standard at ≥ 85 %: 2 lots of equipment (20,000 yuan) beat a floor module (270,000)
    schools, teachers = county()
    plan = from_frames(schools, teachers, limits=LIMITS)
    assert plan.cost == 40_000
    assert list(plan.measures.columns[:3]) == list(MEASURE_COLUMNS[:3])
    assert set(MEASURE_COLUMNS) <= set(plan.measures.columns)
    per_school = plan.measures.groupby(["school_id", "resource"])["quantity"].sum()  # phased over the years
    assert per_school.to_dict() == {("S0", "equipment_yuan"): 20_000.0, ("S1", "equipment_yuan"): 20_000.0}
    assert plan.measures["year"].between(1, ImproveOptions().years).all()
    assert plan.schools["meets_after"].all()
    assert not plan.schools["meets_before"].any()
    assert plan.shortfalls == ()


def test_every_cv_verified_by_the_balance_code():
    # unequal schools: the floor-area CV fails today; the plan passes as the balance code computes it
    schools, teachers = county(3, floor_area_m2=[405.0, 900.0, 2_400.0], enrolled_primary=[100, 100, 200])
    before = evaluate_balance(schools, teachers)
    assert not before.quality_passes["primary"]
    plan = from_frames(schools, teachers, limits=LIMITS)
    s2, t2 = apply_measures(schools, teachers, plan.measures)
    after = evaluate_balance(s2, t2)
    assert after.quality_passes["primary"]
    assert plan.cv["passes_after"].all()
    q = after.indicators[after.indicators["kind"] == "quality"].set_index("indicator")["cv"]
    assert plan.cv.set_index("indicator")["cv_after"].to_numpy() == pytest.approx(q.to_numpy())
    assert plan.gap <= 0.01
    assert plan.metrics["passes"] == {"primary": True}


def test_inputs_not_modified_and_hires_added():
    schools, teachers = county(above_qualification=False)
    teachers["above_qualification"] = False  # 0 of 4.2 per 100: hires needed
    s0, t0 = schools.copy(), teachers.copy()
    plan = from_frames(schools, teachers, limits=LIMITS)
    pd.testing.assert_frame_equal(schools, s0)
    pd.testing.assert_frame_equal(teachers, t0)
    hires = plan.measures[plan.measures["resource"] == "above_qualification_teachers"].groupby("school_id")["quantity"].sum()
    # 4 hires give 4.0 per 100 (95 % of 4.2): the standard left below 100 %, as a 5th hire (450,000 yuan)
    # costs more than the floor module (270,000) and the 2 lots of equipment that then meet the other two
    assert hires.tolist() == [4.0, 4.0]
    assert plan.cost == 2 * (4 * 450_000 + 270_000 + 20_000)
    _, t2 = apply_measures(schools, teachers, plan.measures)
    assert t2["teacher_id"].str.startswith("NEW-").sum() == 8


def test_site_too_small_is_a_shortfall_that_says_what_it_would_take():
    # school S0's sports ground is 5.0 m² per pupil (67 % of 7.5) and its site allows no more
    schools, teachers = county(sports_area_m2=[500.0, 800.0], site_area_m2=[1_000.0, 5_000.0])
    plan = from_frames(schools, teachers, limits=LIMITS)
    assert len(plan.shortfalls) == 1
    text = str(plan.shortfalls[0])
    assert "学校0" in text and "S0" in text
    assert "sports_area_per_pupil" in text and "67%" in text and "site" in text
    assert "2 more unit(s) of sports_area_m2" in text  # 85 % of 750 m² is 637.5: 2 modules of 100 m²
    assert not plan.metrics["passes"]["primary"]


def test_hiring_cap_is_a_shortfall():
    schools, teachers = county()
    teachers["above_qualification"] = False
    plan = from_frames(schools, teachers, options=ImproveOptions(max_hires_per_school=2), limits=LIMITS)
    assert len(plan.shortfalls) == 2
    assert all("cap on hires" in str(s) for s in plan.shortfalls)


def test_training_limit_below_need_is_infeasible():
    schools, teachers = county()
    teachers["backbone"] = False
    with pytest.raises(InfeasibleError, match="backbone"):
        from_frames(schools, teachers, options=ImproveOptions(backbone_per_year=0), limits=LIMITS)


def test_budget_below_least_cost_is_a_shortfall():
    schools, teachers = county()
    plan = from_frames(schools, teachers, options=ImproveOptions(budget_yuan=30_000), limits=LIMITS)
    assert [s.where for s in plan.shortfalls] == ["budget"]
    assert plan.shortfalls[0].short_by == 10_000


def test_phasing_spreads_cost_over_years():
    schools, teachers = county(4)
    plan = from_frames(schools, teachers, options=ImproveOptions(years=2, budget_per_year_yuan=40_000), limits=LIMITS)
    assert plan.measures.groupby("year")["cost_yuan"].sum().to_dict() == {1: 40_000, 2: 40_000}


def test_same_inputs_same_plan():
    schools, teachers = county(3, floor_area_m2=[405.0, 900.0, 2_400.0], enrolled_primary=[100, 100, 200])
    a = from_frames(schools, teachers, limits=LIMITS)
    b = from_frames(schools, teachers, limits=LIMITS)
    pd.testing.assert_frame_equal(a.measures, b.measures)
    assert np.isclose(a.bound, b.bound)
