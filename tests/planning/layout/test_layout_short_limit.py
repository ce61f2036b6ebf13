"""A short time limit gives a worse plan, never an absurd one: the warm start places every child when the children
with one school come first, groups move into seats already paid for, and a new school is built only when the plan's
own figures pay for it (its reason says for how many children and what the plan would cost without it)."""

from __future__ import annotations

import math

import numpy as np

from planning.layout.greedy import WarmStart, evaluate, fill_seats, settle
from planning.layout.model import plan_layout
from planning.layout.options import LayoutOptions
from planning.layout.worth import WHY_NEW_CHEAPER, WHY_NEW_NEEDED, check_sites
from planning.limits import SolveLimits
from tests.planning.layout.test_layout_model import problem

OPTIONS = LayoutOptions()
H = OPTIONS.horizon_years


def _warm(prob, pair_year):  # type: ignore[no-untyped-def]
    """A warm start where every pair within the day limit is allowed, at ``pair_year`` yuan a year (children × yuan)."""
    ok = np.repeat((prob.travel_s <= OPTIONS.day_max_s)[:, None, :], 3, axis=1) & prob.levels[None, None, :, 0]
    cost = H * np.asarray(pair_year, dtype=float)[:, None, :] * prob.children[:, :, None]
    now = np.zeros(prob.children.shape, dtype=np.int64)
    return WarmStart(prob, ok, np.where(ok, cost, np.inf), np.ones_like(ok), now)


def test_a_group_with_one_school_is_placed_before_groups_that_have_two() -> None:
    # school 0 holds 2 classes (90 places); unit 0 (80 children) likes it best but may go to school 1, unit 1 (20) has
    # only school 0: placing the largest first would strand unit 1; the fewest-choices-first fill places both
    prob = problem([[80, 0, 0], [20, 0, 0]], [[5, 10], [5, 90]], classes_now=[[2, 0], [6, 0]], max_classes=[[2, 0], [24, 0]])
    w = _warm(prob, [[1.0, 2.0], [1.0, 2.0]])
    total, at, _ = evaluate(w, np.array([True, True]), OPTIONS)
    assert math.isfinite(total)
    assert at[:, 0].tolist() == [1, 0]


def test_children_move_into_the_empty_minimum_classes_of_a_small_school() -> None:
    # school 0 pays for its minimum of 6 classes (270 places) and its 230 children leave 40 empty; school 1 (1 class
    # today, so its minimum is 1) needs a second class for its 46th child: moving unit 2 (1 child, 1 yuan a year dearer)
    # to school 0 saves that class (240,000 yuan a year); unit 1 (45) does not fit there
    prob = problem([[230, 0, 0], [45, 0, 0], [1, 0, 0]], [[5, 20], [20, 5], [10, 5]], classes_now=[[6, 0], [1, 0]],
                   max_classes=[[24, 0], [24, 0]])
    w = _warm(prob, [[0.0, 5.0], [5.0, 0.0], [1.0, 0.0]])
    opened = np.array([True, True])
    _, at, classes = evaluate(w, opened, OPTIONS)
    assert at[2, 0] == 1 and classes[:, 0].tolist() == [6, 2]  # each unit at its cheapest school
    moved = fill_seats(w, opened, at, OPTIONS)
    assert moved[:, 0].tolist() == [0, 1, 0]
    total, _, after = settle(w, opened, OPTIONS)
    assert after[:, 0].tolist() == [6, 1]
    saved = H * (OPTIONS.class_yuan_year_primary - 1.0) + OPTIONS.construction_yuan_per_class  # the class is not built either
    assert evaluate(w, opened, OPTIONS)[0] - total == saved


def _site_problem(near_room: int):  # type: ignore[no-untyped-def]
    """School 0 with ``near_room`` classes at most and 22 children next door; site 1 (not built today) 1 min from them."""
    return problem([[22, 0, 0], [180, 0, 0]], [[3, 1], [2, 25]], classes_now=[[6, 0], [0, 0]], existing=[True, False],
                   max_classes=[[near_room, 0], [24, 0]], pupils=[180, 0])


def test_a_site_opened_for_a_few_children_whose_school_has_room_is_not_built() -> None:
    prob = _site_problem(24)
    w = _warm(prob, [[10.0, 0.0], [0.0, 50.0]])
    at = np.array([[1, 1, 1], [0, 0, 0]])  # a short limit's plan: the 22 children at a new site 2 min nearer
    total, opened, got, _, why = check_sites(w, np.array([True, True]), at, OPTIONS)
    assert opened.tolist() == [True, False] and got[0, 0] == 0 and why == {}
    assert total < settle(w, np.array([True, True]), OPTIONS, at=at)[0]


def test_a_site_kept_says_for_how_many_children_and_why() -> None:
    prob = _site_problem(4)  # school 0 holds 180 children, its own: no room for the 22
    w = _warm(prob, [[10.0, 0.0], [0.0, 50.0]])
    at = np.array([[1, 1, 1], [0, 0, 0]])
    _, opened, _, _, why = check_sites(w, np.array([True, True]), at, OPTIONS)
    assert opened.tolist() == [True, True]
    assert why == {1: WHY_NEW_NEEDED.format(n=22)}


def test_plan_layout_gives_every_new_school_its_reason() -> None:
    # 300 children 40 min from the only school (beyond the day limit): a site beside them pays for itself in travel time
    prob = problem([[150, 150, 0], [100, 100, 0]], [[40, 2], [3, 60]], classes_now=[[12, 0], [0, 0]], existing=[True, False],
                   pupils=[200, 0], keep=[True, False])
    plan = plan_layout(prob, limits=SolveLimits(time_limit_s=0.2, workers=1, seed=1))
    site = plan.decisions[1]
    assert site.decision == "new"
    head, _, tail = WHY_NEW_CHEAPER.partition("{more}")
    assert site.reason.startswith(head.format(n=300)) and site.reason.endswith(tail.format(years=H))


def test_a_move_counts_the_class_it_no_longer_builds() -> None:
    # as above, but unit 2 costs 300,000 yuan a year more at school 0: 3.0 M over the horizon, more than the class's
    # teachers (2.4 M) and less than its teachers and its building (3.6 M, school 1 has 1 class today)
    prob = problem([[230, 0, 0], [45, 0, 0], [1, 0, 0]], [[5, 20], [20, 5], [10, 5]], classes_now=[[6, 0], [1, 0]],
                   max_classes=[[24, 0], [24, 0]])
    w = _warm(prob, [[0.0, 5.0], [5.0, 0.0], [300_000.0, 0.0]])
    opened = np.array([True, True])
    _, at, _ = evaluate(w, opened, OPTIONS)
    assert fill_seats(w, opened, at, OPTIONS)[2, 0] == 0


def test_an_expanded_school_says_by_how_much_and_for_how_many() -> None:
    from planning.layout.worth import WHY_EXPAND
    from tests.planning.layout.test_layout_model import FREE

    # the village school merges into the town school: 430 pupils in classes of 45 need 10 classes, 4 more than today
    prob = problem([[15, 15, 0], [200, 200, 0]], [[2, 10], [25, 3]], pupils=[30, 400])
    plan = plan_layout(prob, options=FREE, limits=SolveLimits(time_limit_s=0.5, workers=1, seed=1))
    assert plan.decisions[1].decision == "expand"
    assert plan.decisions[1].reason == WHY_EXPAND.format(k=4, n=430, now=400)
