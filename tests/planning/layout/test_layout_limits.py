"""Each policy limit of the layout model binds on a toy: the plan with the limit differs from the plan without it, and
respects it (issue 17's "every policy limit in the layout model"). Hand-checked toys; the costs are the defaults."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from geo.errors import InfeasibleError
from planning.layout.model import LayoutPlan, LayoutProblem, plan_layout
from planning.layout.options import LayoutOptions
from planning.limits import SolveLimits
from tests.planning.layout.test_layout_model import FREE, problem

LIMITS = SolveLimits(time_limit_s=5.0, workers=1)


def trips_min(prob: LayoutProblem, plan: LayoutPlan) -> np.ndarray:
    """``(n, 3)`` one-way minutes of each group to its school in the plan (nan where it has none)."""
    t = prob.travel_s[np.arange(len(plan.assign))[:, None], np.maximum(plan.assign, 0)] / 60
    return np.where(plan.assign >= 0, t, np.nan)


def loads(prob: LayoutProblem, plan: LayoutPlan) -> np.ndarray:
    """``(S, 2)`` pupils of each level at each school in the plan."""
    out = np.zeros((len(prob.existing), 2), dtype=np.int64)
    for i, g in zip(*np.nonzero(plan.assign >= 0)):
        out[plan.assign[i, g], 0 if g < 2 else 1] += prob.children[i, g]
    return out


def test_grades_1_to_3_day_pupils_within_30_minutes_keep_the_village_school() -> None:
    # unit 0 (10 + 10 children) lives 10 min from a small village school V (30 pupils, not protected by any rule) and
    # 45 min from the town's boarding school T. With the 30-minute limit V must stay for grades 1-3; with a 60-minute
    # day limit V closes and all ride the bus to town (V's running cost and classes, 390,000 a year, against 80,000
    # of bus seats): the limit is what keeps it.
    p = problem([[10, 10, 0], [300, 300, 0]], [[10, 45], [50, 3]], classes_now=[[2, 0], [14, 0]], boarding=[False, True], pupils=[30, 600])
    plan = plan_layout(p, options=FREE, limits=LIMITS)
    assert plan.open.tolist() == [True, True] and plan.assign[0, 0] == 0
    assert np.nanmax(trips_min(p, plan)[:, 0]) <= 30 and not plan.beyond.any()
    loose = plan_layout(p, options=FREE.model_copy(update={"day_max_s": 3600.0}), limits=LIMITS)
    assert loose.open.tolist() == [False, True] and loose.decisions[0].decision == "merge"
    assert loose.assign[0, 0] == 1 and trips_min(p, loose)[0, 0] == 45 and loose.bus[0, 0]


def test_grades_1_to_3_never_board_where_grades_4_to_6_do() -> None:
    # unit 0's only school within an hour is the town's boarding school, 40 min away: grades 4-6 board there, grades 1-3
    # may not, so they are counted beyond the limit (exit 0) or, strict, named in the explanation — and only they
    p = problem([[10, 10, 0], [300, 300, 0]], [[40], [3]], classes_now=[[14, 0]], boarding=[True], pupils=[600])
    plan = plan_layout(p, options=FREE, limits=LIMITS)
    assert plan.assign[0, :2].tolist() == [0, 0]
    assert plan.boarder[0].tolist() == [False, True, False] and plan.beyond[0].tolist() == [True, False, False]
    assert not plan.boarder[:, 0].any()
    with pytest.raises(InfeasibleError, match=r"unit 0, grades 1-3: short by 10 children") as err:
        plan_layout(p, options=FREE.model_copy(update={"beyond_limits": "error"}), limits=LIMITS)
    assert "grades 4-6" not in str(err.value)


def test_older_children_board_only_at_a_boarding_school_within_60_minutes_and_are_counted() -> None:
    # unit 0 (20 pupils of grades 4-6): school N (no boarding) 40 min away, boarding school B 50 min away. They board at B
    # (40 min is beyond the day limit), counted with their allowance and care; B 70 min away is beyond the 60-minute
    # boarding limit: no school is within the limits, so they are counted beyond them (at the nearest school or boarding
    # at the nearest boarding school, whichever costs less); a 2-hour limit brings them within it again
    def county(board_min: float) -> LayoutProblem:
        return problem(
            [[0, 20, 0], [200, 200, 0], [200, 200, 0]],
            [[40, board_min], [3, 60], [60, 3]],
            classes_now=[[10, 0], [10, 0]],
            boarding=[False, True],
            tier=[2, 2],
            pupils=[400, 400],
        )

    plan = plan_layout(county(50), options=FREE, limits=LIMITS)
    assert plan.assign[0, 1] == 1 and plan.boarder[0, 1] and not plan.beyond.any()
    assert plan.costs["boarding"] == 20 * (1_000 + 2_500)
    far = plan_layout(county(70), options=FREE, limits=LIMITS)
    assert far.beyond[0].tolist() == [False, True, False] and far.assign[0, 1] in (0, 1)
    longer = plan_layout(county(70), options=FREE.model_copy(update={"boarding_max_s": 7200.0}), limits=LIMITS)
    assert longer.assign[0, 1] == 1 and longer.boarder[0, 1] and not longer.beyond.any()
    # a school that does not board takes no boarders: with B not boarding, the 50-minute trip is beyond every limit
    day_only = dataclasses.replace(county(50), boarding=np.array([False, False]))
    none = plan_layout(day_only, options=FREE, limits=LIMITS)
    assert not none.boarder.any() and none.beyond[0, 1]


def test_classes_hold_45_primary_and_50_junior_pupils_in_whole_classes() -> None:
    # a nine-year school with 136 primary and 101 junior pupils: 4 and 3 classes (135 < 136, 100 < 101)
    p = problem([[68, 68, 101]], [[5]], levels=[[True, True]], classes_now=[[1, 1]])
    o = LayoutOptions(min_classes_primary=1, min_classes_junior=1)
    plan = plan_layout(p, options=o, limits=LIMITS)
    assert plan.classes[0].tolist() == [4, 3]
    assert (loads(p, plan) <= plan.classes * np.array([45, 50])).all()
    # one pupil fewer of each level fits a class fewer
    fewer = plan_layout(dataclasses.replace(p, children=np.array([[68, 67, 100]])), options=o, limits=LIMITS)
    assert fewer.classes[0].tolist() == [3, 2]


def test_a_school_holds_at_most_2000_pupils() -> None:
    # 2,100 primary children beside school 0; school 1 is 15 min away. Without the limit all go to school 0 and school 1
    # closes; with it one group (1,050) goes to school 1
    p = problem([[1050, 1050, 0]], [[2, 15]], max_classes=[[60, 0], [60, 0]], pupils=[90, 90])
    plan = plan_layout(p, options=FREE, limits=LIMITS)
    assert plan.open.tolist() == [True, True] and loads(p, plan).sum(axis=1).max() <= 2000
    big = plan_layout(p, options=FREE.model_copy(update={"max_pupils_school": 3000}), limits=LIMITS)
    assert big.open.tolist() == [True, False] and loads(p, big)[0, 0] == 2100


def test_a_nine_year_school_holds_at_most_2500_pupils() -> None:
    # 2,600 children beside nine-year school 0 (2,400 would fit, test_layout_model): one group goes to school 1; with
    # a 3,000 limit school 1 closes
    p = problem([[1100, 1100, 400]], [[2, 15]], levels=[[True, True], [True, True]], max_classes=[[60, 60], [60, 60]], pupils=[90, 90])
    plan = plan_layout(p, options=FREE, limits=LIMITS)
    assert plan.open.tolist() == [True, True] and loads(p, plan)[0].sum() <= 2500
    big = plan_layout(p, options=FREE.model_copy(update={"max_pupils_nine_year": 3000}), limits=LIMITS)
    assert big.open.tolist() == [True, False] and loads(p, big)[0].sum() == 2600


def test_keep_holds_a_school_the_costs_would_merge() -> None:
    # the toy of test_layout_model's merger: school 0 (30 pupils) merges into school 1 unless the bureau keeps it
    p = problem([[15, 15, 0], [200, 200, 0]], [[2, 10], [25, 3]], pupils=[30, 400])
    assert plan_layout(p, options=FREE, limits=LIMITS).decisions[0].decision == "merge"
    kept = plan_layout(dataclasses.replace(p, keep=np.array([True, False])), options=FREE, limits=LIMITS)
    assert kept.open.tolist() == [True, True] and kept.decisions[0].reason == "kept by the bureau"
    assert kept.assign[0].tolist()[:2] == [0, 0]


def test_a_teaching_point_stays_only_where_remote_children_need_it() -> None:
    # two teaching points with 5 children of grades 1-3 each: P0's unit has no other school within 30 min (the town is
    # 45 min away), P1's unit has the town school 20 min away. P0 stays (国办发〔2012〕48号), P1 merges into the town school
    p = problem(
        [[5, 5, 0], [5, 5, 0], [300, 300, 0]],
        [[10, 60, 45], [60, 10, 20], [60, 60, 3]],
        classes_now=[[1, 0], [1, 0], [14, 0]],
        tp=[True, True, False],
        boarding=[False, False, True],
        pupils=[10, 10, 600],
        tier=[0, 0, 2],
    )
    plan = plan_layout(p, options=FREE, limits=LIMITS)
    assert plan.open.tolist() == [True, False, True]
    assert "teaching point" in plan.decisions[0].reason and plan.decisions[1].decision == "merge" and plan.decisions[1].merged_into == 2
    assert plan.assign[0, 0] == 0 and plan.assign[1, 0] == 2
