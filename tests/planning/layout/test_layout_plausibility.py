"""Plans a bureau would sign, on generated counties of several shapes (round, a long valley, two basins).

Each county: a seat with urban schools, township seats with boarding central schools, villages with
small village schools and teaching points; straight-line travel at 30 km/h. The default rules must
hold whatever the costs decide: no child of a closed school goes to a teaching point or to a smaller
school of the same kind, township and seat schools and kept schools stay, boarders within 60 minutes,
grades 1-3 within 30 minutes, at most a quarter of the schools close.
"""

from __future__ import annotations

import numpy as np
import pytest

from planning.layout.model import LayoutPlan, LayoutProblem, plan_layout, receivers
from planning.layout.options import LayoutOptions
from planning.layout.problem import TIER_POINT, TIER_TOWN, TIER_URBAN, TIER_VILLAGE, pupils_today, tiers
from planning.limits import SolveLimits
from tests.planning.layout.test_layout_model import problem

SPEED_M_S = 30_000 / 3600
LIMITS = SolveLimits(time_limit_s=0.3, workers=1, seed=3)  # the rules hold for any plan found, optimal or not


def _outline(shape: str, rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` village points inside the county's shape (metres)."""
    if shape == "round":
        r, a = 25_000 * np.sqrt(rng.random(n)), rng.random(n) * 2 * np.pi
        return np.stack([r * np.cos(a), r * np.sin(a)], axis=1)
    if shape == "valley":  # 80 km long, 12 km wide
        return np.stack([rng.uniform(-40_000, 40_000, n), rng.uniform(-6_000, 6_000, n)], axis=1)
    basin = rng.integers(0, 2, n)  # two basins joined at the seat
    centre = np.where(basin[:, None] == 0, [-18_000, 0], [18_000, 4_000])
    return centre + rng.normal(0, 7_000, (n, 2))


def county(shape: str, seed: int = 0) -> LayoutProblem:
    """A generated county: 1 seat (2 urban primary, 1 junior), 4 towns (nine-year boarding), 14 villages with schools."""
    rng = np.random.default_rng(seed)
    villages = _outline(shape, rng, 60)
    towns = _outline(shape, rng, 4)
    seat = np.zeros((1, 2))
    units = np.concatenate([np.repeat(seat, 6, axis=0) + rng.normal(0, 800, (6, 2)), towns, villages])
    kids = np.concatenate([rng.integers(150, 300, (6, 3)), rng.integers(60, 120, (4, 3)), rng.integers(3, 25, (60, 3))])
    vs = rng.choice(60, 14, replace=False)
    sites = np.concatenate([np.array([[300.0, 0.0], [-300.0, 200.0], [0.0, 0.0]]), towns, villages[vs]])
    n_v = len(vs)
    tier = np.array([TIER_URBAN] * 3 + [TIER_TOWN] * 4 + [TIER_VILLAGE] * (n_v - 6) + [TIER_POINT] * 6)
    levels = np.array([[True, False]] * 2 + [[False, True]] + [[True, True]] * 4 + [[True, False]] * n_v)
    classes = np.array([[24, 0]] * 2 + [[0, 24]] + [[12, 6]] * 4 + [[6, 0]] * (n_v - 6) + [[1, 0]] * 6)
    pupils = np.concatenate([[1000, 900, 1100], [500] * 4, rng.integers(30, 140, n_v - 6), rng.integers(5, 40, 6)])
    d = np.hypot(*(units[:, None, :] - sites[None, :, :]).transpose(2, 0, 1))
    return LayoutProblem(
        children=kids.astype(np.int64), travel_s=d / SPEED_M_S + 120, levels=levels, classes_now=classes.astype(np.int64),
        existing=np.ones(len(sites), dtype=bool), boarding=tier == TIER_TOWN, keep=np.arange(len(sites)) == len(sites) - 1,
        teaching_point=tier == TIER_POINT, max_classes=np.where(levels, 40, 0).astype(np.int64), tier=tier.astype(np.int64),
        pupils_now=pupils.astype(np.int64),
    )  # fmt: skip


def _check_plan(prob: LayoutProblem, plan: LayoutPlan, options: LayoutOptions) -> None:
    tier = tiers(prob)
    size = pupils_today(prob, (options.class_size_primary, options.class_size_junior))
    closed = prob.existing & ~plan.open
    # every child of a closed school goes up: never into a teaching point, never into a smaller school of its kind
    rec = receivers(prob, options)
    for i, g in zip(*np.nonzero(plan.assign >= 0)):
        s, t = int(plan.today[i, g]), int(plan.assign[i, g])
        if s >= 0 and closed[s]:
            assert rec[s, t] and tier[t] != TIER_POINT, (s, t)
            assert tier[t] > tier[s] or size[t] >= size[s]
    for d in plan.decisions:
        if d.merged_into is not None:
            assert tier[d.merged_into] != TIER_POINT and (tier[d.merged_into], size[d.merged_into]) >= (tier[d.school], size[d.school])
    # township and seat schools, kept schools and schools of 100+ pupils stay
    assert plan.open[prob.existing & ((tier >= TIER_TOWN) | prob.keep | (size >= options.close_below_pupils))].all()
    # trips: boarders within 60 min, grades 1-3 day pupils within 30 min (children beyond every limit aside)
    trip = prob.travel_s[np.arange(len(plan.assign))[:, None], np.maximum(plan.assign, 0)]
    within = (plan.assign >= 0) & ~plan.beyond
    assert (trip[within & plan.boarder] <= options.boarding_max_s).all()
    assert (trip[within & ~plan.boarder] <= options.day_max_s).all()
    assert not plan.boarder[:, 0].any()
    # a bounded share of closures
    assert closed.sum() <= int(options.max_close_share * prob.existing.sum())


@pytest.mark.parametrize("shape", ["round", "valley", "basins"])
def test_default_plan_is_one_a_bureau_would_sign(shape: str) -> None:
    prob = county(shape)
    options = LayoutOptions()
    plan = plan_layout(prob, options=options, limits=LIMITS)
    _check_plan(prob, plan, options)
    assert (prob.existing & ~plan.open).any()  # small schools with a larger one in reach do merge
    assert plan.bound <= plan.objective + 1e-6


def test_the_rules_bind_and_lifting_them_closes_more() -> None:
    prob = county("round", seed=1)
    free = LayoutOptions(merge_rule="any", close_town_and_urban=True, close_below_pupils=10_000, max_close_share=1.0)
    ruled = plan_layout(prob, limits=LIMITS)
    loose = plan_layout(prob, options=free, limits=LIMITS)
    assert (~loose.open).sum() > (~ruled.open).sum()
    # without the rules a child of a closed school goes into a smaller school or a teaching point
    rec = receivers(prob, LayoutOptions())
    closed = ~loose.open
    moved = [(int(loose.today[i, g]), int(loose.assign[i, g])) for i, g in zip(*np.nonzero(loose.assign >= 0)) if closed[loose.today[i, g]]]
    assert any(not rec[s, t] for s, t in moved)


def test_no_plan_from_cp_sat_returns_the_warm_start_with_a_bound() -> None:
    prob = county("valley", seed=2)
    options = LayoutOptions()
    plan = plan_layout(prob, options=options, limits=SolveLimits(time_limit_s=1e-6, workers=1))
    assert plan.status == "WARM_START"
    _check_plan(prob, plan, options)
    assert 0 < plan.bound <= plan.objective and 0 <= plan.gap < 1
    yearly = sum(v for k, v in plan.costs.items() if k != "construction")
    assert plan.objective == pytest.approx(plan.costs["construction"] + options.horizon_years * yearly)


def test_the_warm_start_builds_a_needed_site_when_cp_sat_has_no_time() -> None:
    # the town school holds 12 classes, 1,000 children live there and the village school is 45 min away: only the site serves them
    p = problem([[500, 500, 0], [30, 30, 0]], [[5, 45, 6], [50, 5, 50]], existing=[True, True, False], classes_now=[[12, 0], [6, 0], [0, 0]],
                max_classes=[[12, 0], [24, 0], [30, 0]])
    plan = plan_layout(p, limits=SolveLimits(time_limit_s=1e-6, workers=1))
    assert plan.status == "WARM_START" and plan.open[2] and plan.decisions[2].decision == "new"


@pytest.mark.parametrize("shape", ["round", "valley", "basins"])
def test_candidate_sites_never_make_the_warm_start_dearer(shape: str) -> None:
    # sites at the seat and at each town: with no time for CP-SAT, the plan with them costs no more than without them
    # (from every site open, the small schools the greedy closes first could leave their children only a site)
    base = county(shape, seed=4)
    n_s = len(base.existing)
    extra = np.concatenate([base.travel_s[:, [2]] + 60, base.travel_s[:, 3:7] + 60], axis=1)
    k = extra.shape[1]
    grow = lambda a, v: np.concatenate([a, np.repeat(np.asarray(v, dtype=a.dtype)[None], k, axis=0)])  # noqa: E731
    with_sites = LayoutProblem(
        children=base.children, travel_s=np.concatenate([base.travel_s, extra], axis=1), levels=grow(base.levels, [True, True]),
        classes_now=grow(base.classes_now, [0, 0]), existing=np.arange(n_s + k) < n_s, boarding=grow(base.boarding, True),
        keep=grow(base.keep, False), teaching_point=grow(base.teaching_point, False), max_classes=grow(base.max_classes, [40, 40]),
        tier=grow(np.asarray(base.tier), TIER_URBAN), pupils_now=grow(np.asarray(base.pupils_now), 0),
    )  # fmt: skip
    none = SolveLimits(time_limit_s=1e-6, workers=1)
    options = LayoutOptions()
    without = plan_layout(base, options=options, limits=none)
    plan = plan_layout(with_sites, options=options, limits=none)
    assert plan.objective <= without.objective + 1.0
    _check_plan(with_sites, plan, options)
