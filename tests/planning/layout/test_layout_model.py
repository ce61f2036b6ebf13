"""The layout model: every policy limit, decisions (keep, expand, merge, new), costs, and infeasible cases explained."""

from __future__ import annotations

import math

import numpy as np
import pytest

from geo.errors import InfeasibleError
from planning.layout.model import LayoutProblem, plan_layout
from planning.layout.options import LayoutOptions
from planning.limits import SolveLimits

MIN = 60.0
LIMITS = SolveLimits(time_limit_s=5.0, workers=1)
#: The rules of a real county bound closures to a quarter of its schools; these toys have two or three.
FREE = LayoutOptions(max_close_share=1.0)


def problem(children, travel_min, *, levels=None, classes_now=None, existing=None, boarding=None, keep=None, tp=None, max_classes=None,  # type: ignore[no-untyped-def]
            pupils=None, tier=None):
    ch = np.asarray(children, dtype=np.int64)
    t = np.asarray(travel_min, dtype=float) * MIN
    s = t.shape[1]
    full = lambda v, d: np.asarray(v if v is not None else d)  # noqa: E731
    return LayoutProblem(
        children=ch,
        travel_s=t,
        levels=full(levels, np.tile([True, False], (s, 1))).astype(bool),
        classes_now=full(classes_now, np.tile([6, 0], (s, 1))).astype(np.int64),
        existing=full(existing, np.ones(s)).astype(bool),
        boarding=full(boarding, np.zeros(s)).astype(bool),
        keep=full(keep, np.zeros(s)).astype(bool),
        teaching_point=full(tp, np.zeros(s)).astype(bool),
        max_classes=full(max_classes, np.tile([24, 24], (s, 1))).astype(np.int64),
        pupils_now=None if pupils is None else np.asarray(pupils, dtype=np.int64),
        tier=None if tier is None else np.asarray(tier, dtype=np.int64),
    )


def test_small_village_school_merges_into_the_near_town_school() -> None:
    # village (unit 0, 30 children) 10 min from the town school: running two schools costs more than a bus
    p = problem([[15, 15, 0], [200, 200, 0]], [[2, 10], [25, 3]], pupils=[30, 400])
    plan = plan_layout(p, options=FREE, limits=LIMITS)
    assert plan.open.tolist() == [False, True]
    d = plan.decisions[0]
    assert d.decision == "merge" and d.merged_into == 1
    assert plan.assign.tolist() == [[1, 1, -1], [1, 1, -1]]
    # 430 pupils in whole classes of 45: 10 classes, 4 more than today's 6
    assert plan.classes[1].tolist() == [10, 0]
    assert plan.decisions[1].decision == "expand" and plan.decisions[1].construction_yuan == 4 * 1_200_000


def test_grades_1_to_3_stay_within_30_minutes_while_grades_4_to_6_board() -> None:
    # unit 0 is 40 min from the town's boarding school: its grades 1-3 keep the village teaching point (the only
    # school within 30 min; it teaches grades 1-3), its grades 4-6 board in town
    p = problem([[20, 20, 0], [300, 300, 0]], [[5, 40], [60, 3]], boarding=[False, True], tp=[True, False])
    plan = plan_layout(p, options=FREE, limits=LIMITS)
    assert plan.open.tolist() == [True, True]
    assert plan.assign[0, 0] == 0
    assert plan.assign[0, 1] == 1 and plan.boarder[0, 1] and not plan.boarder[0, 0]
    assert plan.costs["boarding"] == 20 * (1000 + 2500)  # allowance and care (house parent, dormitory place)


def test_older_children_far_from_a_boarding_school_are_infeasible_and_explained() -> None:
    p = problem([[0, 20, 0], [0, 100, 0]], [[math.inf, 40], [60, 3]], boarding=[False, False])
    # by default they go to the nearest school, counted beyond the limit
    plan = plan_layout(p, options=FREE, limits=LIMITS)
    assert plan.beyond.tolist() == [[False, True, False], [False, False, False]] and plan.assign[0, 1] == 1
    with pytest.raises(InfeasibleError, match=r"(?s)unit 0, grades 4-6: short by 20 children \(no school within the day and boarding limits "
                                              r"\(nearest school for them 40 min away\)\).*Hint: add a candidate site"):
        plan_layout(p, options=LayoutOptions(beyond_limits="error"), limits=LIMITS)


def test_children_with_a_school_kept_within_the_day_limit_do_not_board() -> None:
    # unit 0's grades 4-9: the township school (kept by the rules) is 20 min away by school bus, a boarding school 40 min.
    # Boarding (allowance and care 3,500-3,750 a year, two trips a week) costs less than a bus seat and 380 trips; still,
    # the way is not long, so they are day pupils (国办发〔2018〕27号). Without the rule they would board.
    p = problem([[0, 30, 30], [200, 200, 100], [200, 200, 100]], [[20, 40], [3, 60], [60, 3]], levels=[[True, True], [True, True]],
                classes_now=[[6, 3], [6, 3]], boarding=[False, True], tier=[2, 2], pupils=[500, 500])
    plan = plan_layout(p, options=FREE, limits=LIMITS)
    assert plan.assign[0, 1:].tolist() == [0, 0] and not plan.boarder[0].any() and plan.bus[0, 1:].all()
    free = plan_layout(p, options=FREE.model_copy(update={"day_pupils_first": False}), limits=LIMITS)
    assert free.assign[0, 1:].tolist() == [1, 1] and free.boarder[0, 1:].all()


def test_a_boarder_beyond_the_boarding_limit_is_explained_and_a_longer_limit_lets_them_board() -> None:
    # (the 60-minute default binding between 50 and 70 minutes: test_layout_limits.py)
    p = problem([[0, 20, 0], [0, 100, 0]], [[math.inf, 130], [60, 3]], boarding=[False, True])
    with pytest.raises(InfeasibleError, match="unit 0, grades 4-6"):
        plan_layout(p, options=LayoutOptions(beyond_limits="error"), limits=LIMITS)
    ok = plan_layout(p, options=LayoutOptions(boarding_max_s=3 * 3600), limits=LIMITS)
    assert ok.boarder[0, 1]


def test_capacity_comes_in_whole_classes_of_45_and_50() -> None:
    p = problem([[46, 0, 0], [0, 0, 51]], [[5, 5], [5, 5]], levels=[[True, False], [False, True]], classes_now=[[1, 0], [0, 1]])
    plan = plan_layout(p, options=LayoutOptions(min_classes_primary=1, min_classes_junior=1), limits=LIMITS)
    assert plan.classes.tolist() == [[2, 0], [0, 2]]
    # class size 50 for primary too: 46 fit in one class
    plan = plan_layout(p, options=LayoutOptions(min_classes_primary=1, min_classes_junior=1, class_size_primary=50), limits=LIMITS)
    assert plan.classes[0].tolist() == [1, 0]


def test_school_size_limit_splits_a_crowded_town() -> None:
    # 2,100 primary children next to school 0: at most 2,000 there, the rest at school 1 (15 min)
    p = problem([[1050, 1050, 0]], [[2, 15]], max_classes=[[60, 0], [60, 0]])
    plan = plan_layout(p, options=FREE, limits=LIMITS)
    load0 = sum(p.children[0, g] for g in range(2) if plan.assign[0, g] == 0)
    assert load0 <= 2000 and plan.open.all()
    # a nine-year school may hold 2,500
    p9 = problem([[1050, 1050, 300]], [[2, 15]], levels=[[True, True], [True, True]], max_classes=[[60, 60], [60, 60]], pupils=[2400, 50])
    plan = plan_layout(p9, options=FREE, limits=LIMITS)
    assert plan.open.tolist() == [True, False]


def test_keep_schools_stay_open() -> None:
    p = problem([[15, 15, 0], [200, 200, 0]], [[2, 10], [25, 3]], keep=[True, False])
    plan = plan_layout(p, options=FREE, limits=LIMITS)
    assert plan.open[0] and plan.decisions[0].reason == "kept by the bureau"


def test_teaching_point_needed_by_remote_children_stays() -> None:
    # unit 0's grades 1-3 have only the teaching point within 30 min: it stays, whatever it costs
    p = problem([[5, 5, 0], [300, 300, 0]], [[10, 45], [60, 3]], tp=[True, False], boarding=[False, True], classes_now=[[1, 0], [12, 0]])
    plan = plan_layout(p, options=FREE, limits=LIMITS)
    assert plan.open[0] and "teaching point" in plan.decisions[0].reason
    assert plan.assign[0, 0] == 0 and plan.assign[0, 1] == 1  # a teaching point teaches grades 1-3 only
    assert plan.classes[0].tolist() == [1, 0]


def test_new_site_opens_when_the_town_school_is_full_and_no_other_is_within_reach() -> None:
    p = problem([[500, 500, 0], [30, 30, 0]], [[5, 45, 6], [50, 5, 50]], existing=[True, True, False], classes_now=[[12, 0], [6, 0], [0, 0]],
                max_classes=[[12, 0], [24, 0], [30, 0]])
    plan = plan_layout(p, options=FREE, limits=LIMITS)
    assert plan.open[2] and plan.decisions[2].decision == "new"
    assert plan.decisions[2].construction_yuan == 3_000_000 + 1_200_000 * plan.classes[2, 0]
    # construction dear enough, the children ride 45 min by bus to school 1 instead (a 60-minute day limit)
    plan = plan_layout(p, options=LayoutOptions(day_max_s=3600, construction_yuan_per_class=1e9, max_close_share=1.0), limits=LIMITS)
    assert not plan.open[2] and plan.bus[0].any() and plan.costs["bus"] > 0


def test_a_candidate_site_adds_a_choice_and_never_forces_itself() -> None:
    # unit 0 has no school within 30 min today (school 0 at 40 min); a candidate site is 10 min away. Dear to build:
    # not built, the children keep going to their nearest school beyond the limit (before, the site was their only
    # allowed school and the plan had to build it). Cheap to build (the bus and the hours saved pay for it): built, and
    # they are no longer beyond the limit.
    p = problem([[150, 150, 0], [300, 300, 0]], [[40, 10], [3, 50]], existing=[True, False], classes_now=[[20, 0], [0, 0]],
                max_classes=[[24, 0], [24, 0]], pupils=[900, 0])
    dear = plan_layout(p, options=LayoutOptions(construction_yuan_per_class=1e9), limits=LIMITS)
    assert dear.open.tolist() == [True, False] and dear.decisions[1].decision == "not built"
    assert dear.beyond[0, :2].all() and dear.assign[0, :2].tolist() == [0, 0]
    cheap = plan_layout(p, options=LayoutOptions(construction_yuan_per_class=0.0, school_yuan_year=0.0), limits=LIMITS)
    assert cheap.open.tolist() == [True, True] and cheap.assign[0, :2].tolist() == [1, 1] and not cheap.beyond.any()


def test_a_level_short_of_places_is_planned_above_the_limits_and_listed() -> None:
    p = problem([[600, 600, 0]], [[5, 10]], max_classes=[[12, 0], [12, 0]])
    plan = plan_layout(p, options=FREE, limits=LIMITS)
    assert [str(s) for s in plan.shortfalls] == [
        "county, primary: short by 120 places (1,200 children, at most 1,080 places; schools planned above the class and "
        "school-size limits by this share (11%))"
    ]
    assert (plan.assign[0, :2] >= 0).all() and plan.classes[:, 0].sum() * 45 >= 1200 and plan.classes[:, 0].max() > 12
    with pytest.raises(InfeasibleError, match=r"county, primary: short by 120 places \(1,200 children, at most 1,080 places\)"):
        plan_layout(p, options=FREE.model_copy(update={"beyond_limits": "error"}), limits=LIMITS)


def test_children_no_school_can_reach_are_left_out_and_listed_and_the_rest_planned() -> None:
    # unit 0 has no road to any school (a separate road network, or beyond the search): its children are listed,
    # not placed, and the others get their plan; strict (beyond_limits = "error") stops with the same explanation
    p = problem([[10, 10, 5], [200, 200, 100]], [[math.inf, math.inf], [3, 20]], levels=[[True, True], [True, False]],
                classes_now=[[6, 3], [6, 0]])
    plan = plan_layout(p, options=FREE, limits=LIMITS)
    assert plan.unserved is not None and plan.unserved[0].all() and not plan.unserved[1].any()
    assert plan.assign[0].tolist() == [-1, -1, -1] and (plan.assign[1] >= 0).all()
    assert [s.where for s in plan.shortfalls] == ["unit 0, grades 1-3", "unit 0, grades 4-6", "unit 0, grades 7-9"]
    assert [s.short_by for s in plan.shortfalls] == [10, 10, 5]
    assert "no school for them reachable" in plan.shortfalls[2].detail and "not placed by the plan" in plan.shortfalls[2].detail
    with pytest.raises(InfeasibleError, match=r"unit 0, grades 7-9: short by 5 children \(no school within the day and boarding limits"):
        plan_layout(p, options=LayoutOptions(beyond_limits="error"), limits=LIMITS)


def test_costs_add_up_to_the_objective_and_the_bound_is_below() -> None:
    p = problem([[15, 15, 10], [200, 200, 100]], [[2, 20], [25, 3]], levels=[[True, True], [True, True]], classes_now=[[6, 3], [8, 4]])
    o = LayoutOptions(horizon_years=5)
    plan = plan_layout(p, options=o, limits=LIMITS)
    yearly = sum(v for k, v in plan.costs.items() if k != "construction")
    assert plan.objective == pytest.approx(plan.costs["construction"] + 5 * yearly)
    assert plan.bound <= plan.objective
    assert set(plan.costs) == {"construction", "schools", "classes", "bus", "boarding", "travel"}
