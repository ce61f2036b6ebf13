"""The achievement plan on arrays: hand-solved toys, the exact CV algebra, the greedy baseline."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import scipy.sparse as sp

from planning.balance import from_arrays as weighted_cv
from planning.improve import ImproveProblem, from_arrays
from planning.improve.greedy import greedy_plan
from planning.improve.problem import N_INDICATORS, cv_cut, cv_groups, cv_of, water_fill
from planning.improve.targets import choose_cvs, choose_parts
from planning.limits import SolveLimits

K = 5  # the indicator of the toys (equipment per pupil): any one works the same
LIMITS = SolveLimits(time_limit_s=5, workers=1)


def one_indicator(pupils: list[float], have: list[float], *, gain: float, cost: int, tau: float, ub: int = 1000) -> ImproveProblem:
    """Parts of one level; only indicator K is computable (its standard met); one decision per part."""
    n = len(pupils)
    resource = np.full((n, N_INDICATORS), np.nan)
    resource[:, K] = have
    need = np.zeros((n, N_INDICATORS))
    g = sp.csr_matrix(([gain] * n, ([i * N_INDICATORS + K for i in range(n)], list(range(n)))), shape=(n * N_INDICATORS, n))
    return ImproveProblem(
        part_level=np.zeros(n, dtype=np.int64),
        part_school=np.arange(n),
        pupils=np.array(pupils, dtype=np.float64),
        resource=resource,
        need=need,
        cv_max=np.array([tau, tau]),
        var_resource=np.full(n, K),
        var_school=np.arange(n),
        var_cost=np.full(n, cost, dtype=np.int64),
        var_ub=np.full(n, ub, dtype=np.int64),
        gain=g,
    )


def brute_force(prob: ImproveProblem, top: int) -> int:
    """Least cost by enumeration of every plan with at most ``top`` units per decision (independent of the model)."""
    (group,) = cv_groups(prob)
    best = None
    for u in itertools.product(range(top + 1), repeat=prob.n_vars):
        units = np.array(u)
        x = group.amounts(units) / group.pupils
        if weighted_cv(x, group.pupils) <= group.tau:
            cost = int(prob.var_cost @ units)
            best = cost if best is None else min(best, cost)
    assert best is not None
    return best


def test_two_schools_by_hand():
    # values 1 and 3 per pupil, 100 pupils each: CV = |x1 − x2| / (x1 + x2) = 0.5. With τ = 0.2 school 1
    # needs (300 − r1) / (300 + r1) ≤ 0.2, i.e. r1 ≥ 200: 100 more, 4 units of 30 (3 give 190: CV 0.224)
    prob = one_indicator([100, 100], [100, 300], gain=30, cost=7, tau=0.2)
    sol = from_arrays(prob, limits=LIMITS, relative_gap=0.0)
    assert sol.units.tolist() == [4, 0]
    assert sol.cost == 28
    assert sol.gap == pytest.approx(0.0, abs=1e-9)
    x = (prob.resource[:, K] + 30 * sol.units) / prob.pupils
    assert weighted_cv(x, prob.pupils) == pytest.approx(80 / 520)


def test_three_schools_by_hand():
    # r = (100, 400, 400), P = (100, 200, 100), τ = 0.4: raising school 1 alone (the lowest value) to r1 needs
    # 400·(r1²/100 + 2400) ≤ 1.16·(r1 + 800)², i.e. 2.84 r1² − 1856 r1 + 217600 ≤ 0: r1 ≥ 153.115, so 54 units of 1
    prob = one_indicator([100, 200, 100], [100, 400, 400], gain=1, cost=3, tau=0.4)
    sol = from_arrays(prob, limits=LIMITS, relative_gap=0.0)
    assert sol.units.tolist() == [54, 0, 0]
    assert sol.cost == 162
    (group,) = cv_groups(prob)
    assert group.cv(sol.units) <= 0.4
    assert group.cv(sol.units - np.array([1, 0, 0])) > 0.4


def test_matches_brute_force_with_coarse_units():
    # coarse units (a school of 40 pupils gains 1.5 per pupil a unit): enumeration finds the same least cost
    prob = one_indicator([40, 120, 60], [40, 360, 90], gain=60, cost=5, tau=0.25)
    sol = from_arrays(prob, limits=LIMITS, relative_gap=0.0)
    assert sol.cost == brute_force(prob, top=8)
    assert sol.bound <= sol.cost


def test_cpsat_backend_agrees():
    prob = one_indicator([40, 120, 60], [40, 360, 90], gain=60, cost=5, tau=0.25)
    a = from_arrays(prob, limits=LIMITS, relative_gap=0.0)
    b = from_arrays(prob, limits=LIMITS, relative_gap=0.0, backend="cpsat")
    assert a.cost == b.cost


def test_passing_county_costs_nothing():
    prob = one_indicator([100, 100], [100, 110], gain=10, cost=7, tau=0.2)
    sol = from_arrays(prob, limits=LIMITS)
    assert sol.cost == 0
    assert sol.units.sum() == 0


def test_cv_of_is_the_official_cv():
    rng = np.random.default_rng(3)
    p = rng.integers(50, 2000, 30).astype(float)
    r = rng.uniform(0.5, 9.0, 30) * p
    assert cv_of(r, p) == pytest.approx(weighted_cv(r / p, p), rel=1e-12)


def test_cut_is_valid_and_cuts_off_the_point():
    rng = np.random.default_rng(5)
    p = rng.integers(50, 2000, 12).astype(float)
    tau = 0.3
    r0 = rng.uniform(0.2, 9.0, 12) * p
    assert cv_of(r0, p) > tau
    a = cv_cut(r0, p, tau)
    assert a @ r0 > 0  # the point is cut off
    for _ in range(2000):  # every passing amount satisfies the cut
        r = np.maximum(r0.mean() / p.mean() * p * (1 + rng.normal(0, tau / 2, 12)), 0.0)
        if cv_of(r, p) <= tau:
            assert a @ r <= 1e-9 * np.abs(a) @ r


def test_water_fill_reaches_the_threshold():
    p = np.array([100.0, 200.0, 100.0])
    r = water_fill(np.array([100.0, 400.0, 400.0]), p, 0.4)
    assert cv_of(r, p) == pytest.approx(0.4, abs=1e-9)
    assert r[0] == pytest.approx(153.115, abs=1e-3)  # the hand-solved root of test_three_schools_by_hand
    assert r[1:].tolist() == [400.0, 400.0]


def test_greedy_passes_and_costs_at_least_the_optimum():
    prob = one_indicator([40, 120, 60, 300], [40, 360, 90, 500], gain=60, cost=5, tau=0.25)
    greedy = greedy_plan(prob)
    sol = from_arrays(prob, limits=LIMITS, relative_gap=0.0)
    assert greedy.passes
    assert greedy.cost >= sol.cost
    assert all(g.passes(greedy.units) for g in cv_groups(prob))


def test_unreachable_cv_is_brought_to_its_lowest_and_says_what_it_would_take():
    # as test_two_schools_by_hand, but school 1 may take only 2 units (160): its lowest CV is (300 − 160) / 460 = 0.3043
    # (units at school 2 raise it); passing needs r1 = 200, so 40 beyond the cap at school 1. Not a stop: a shortfall.
    prob = one_indicator([100, 100], [100, 300], gain=30, cost=7, tau=0.2, ub=2)
    sol = from_arrays(prob, limits=LIMITS, relative_gap=0.0)
    assert sol.units.tolist() == [2, 0]
    assert sol.cost == 14
    (short,) = sol.cv_short
    assert (short.level, short.indicator, short.tau) == (0, K, 0.2)
    assert short.reached == pytest.approx(140 / 460)
    assert short.beyond == (pytest.approx((0, 40.0)),)


def test_budget_on_arrays_spends_within_it():
    # the toy of test_three_schools_by_hand (54 units of 3 yuan) with 100 yuan: the CV test is left, nothing bought
    prob = one_indicator([100, 200, 100], [100, 400, 400], gain=1, cost=3, tau=0.4)
    sol = from_arrays(prob, limits=LIMITS, relative_gap=0.0, budget=100)
    assert sol.cost == 0
    assert sol.budget is not None and sol.budget.full_cost == 162
    assert sol.budget.cv_left == ((0, K, 162),)


def test_choose_cvs_takes_the_cheapest_first():
    assert choose_cvs([30, 10, 20, 50], 35) == [1, 2]  # 10 + 20 fit; any third breaks 35
    assert choose_cvs([30, 10, 20, 50], 5) == []


def test_choose_parts_is_an_exact_knapsack_on_pupils():
    # costs 20, 50, 30 for 100, 200, 150 pupils with 50: {0, 2} (250 pupils) beats {1} (200), which a ratio greedy
    # (5, 4, 5 pupils a yuan) also finds; with 55 the greedy's {0, 2} still wins; with 50 on (100, 260, 150) {1} wins
    pupils = np.array([100.0, 200.0, 150.0])
    costs = np.array([20, 50, 30])
    assert choose_parts(pupils, costs, 50).tolist() == [True, False, True]
    assert choose_parts(np.array([100.0, 260.0, 150.0]), costs, 50).tolist() == [False, True, False]
    assert choose_parts(pupils, costs, 100).all()
