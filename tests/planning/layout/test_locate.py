"""``planning.layout.locate``: hand-solved toys, MIP optima (HiGHS through SciPy), existing sites, max_open, errors."""

from __future__ import annotations

import itertools
import math
import sys

import numpy as np
import pytest
from scipy.optimize import Bounds, LinearConstraint, milp

from geo.errors import InfeasibleError, InputError
from planning.layout import locate


def mip_optimum(cost: np.ndarray, demand: np.ndarray, capacity: np.ndarray, open_cost: np.ndarray, max_open: int | None = None) -> float:
    """The single-source CFLP optimum by HiGHS on the strong formulation (an independent method)."""
    n, m = cost.shape
    nx = n * m
    c = np.concatenate([np.where(np.isfinite(cost), cost, 0.0).ravel(), open_cost])
    rows, lo, hi = [], [], []
    for i in range(n):
        r = np.zeros(nx + m)
        r[i * m : (i + 1) * m] = 1
        rows.append(r), lo.append(1), hi.append(1)
    for j in range(m):
        r = np.zeros(nx + m)
        r[j : nx : m] = demand
        r[nx + j] = -capacity[j]
        rows.append(r), lo.append(-np.inf), hi.append(0)
        for i in range(n):
            r = np.zeros(nx + m)
            r[i * m + j], r[nx + j] = 1, -1
            rows.append(r), lo.append(-np.inf), hi.append(0)
    if max_open is not None:
        r = np.zeros(nx + m)
        r[nx:] = 1
        rows.append(r), lo.append(-np.inf), hi.append(max_open)
    ub = np.concatenate([np.isfinite(cost).ravel().astype(float), np.ones(m)])
    res = milp(c, constraints=LinearConstraint(np.array(rows), lo, hi), integrality=np.ones(nx + m), bounds=Bounds(0, ub))
    assert res.status == 0
    return float(res.fun)


def random_instance(n: int, m: int, seed: int, ratio: float = 1.6) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    u, s = rng.random((n, 2)) * 100, rng.random((m, 2)) * 100
    demand = rng.integers(5, 30, n).astype(float)
    cap = rng.integers(50, 150, m).astype(float)
    cap = np.maximum(np.floor(cap * ratio * demand.sum() / cap.sum()), demand.max())
    cost = np.rint(np.hypot(u[:, None, 0] - s[None, :, 0], u[:, None, 1] - s[None, :, 1]) * demand[:, None] / 10)
    open_cost = rng.integers(100, 400, m).astype(float)
    return cost, demand, cap, open_cost


def plan_cost(cost: np.ndarray, open_cost: np.ndarray, assign: np.ndarray, existing: np.ndarray | None = None) -> float:
    used = np.zeros(len(open_cost), dtype=bool)
    used[assign] = True
    ex = np.zeros(len(open_cost), dtype=bool) if existing is None else existing
    return float(cost[np.arange(len(assign)), assign].sum() + open_cost[used & ~ex].sum() - open_cost[~used & ex].sum())


def assert_valid(r, cost, demand, capacity, open_cost, existing=None) -> None:  # type: ignore[no-untyped-def]
    load = np.bincount(r.assign, weights=demand, minlength=len(capacity))
    assert np.all(load <= capacity + 1e-9)
    assert np.all(np.isfinite(cost[np.arange(len(demand)), r.assign]))
    assert r.open.tolist() == (load > 0).tolist() or np.all(r.open[r.assign])
    assert r.objective == pytest.approx(plan_cost(cost, open_cost, r.assign, existing))
    assert r.bound <= r.objective + 1e-6


def test_two_sites_three_units_needs_both() -> None:
    # neither site holds all three units, so both open: units 0, 1 at site 0 (1 + 2), unit 2 at site 1 (1), + 3 + 3
    r = locate([[1, 4], [2, 3], [5, 1]], [1, 1, 1], [2, 2], [3, 3])
    assert r.assign.tolist() == [0, 0, 1]
    assert r.objective == 10.0
    assert r.status == "OPTIMAL" and r.gap == 0.0
    assert r.open.tolist() == [True, True]


def test_single_source_opens_the_third_site() -> None:
    # sites 0 and 1 hold 5 each, the 4 units need 10: a split would fit, single sourcing does not
    # (best with sites 0, 1 only: 18 + 2 = 20); opening site 2 for unit 1 costs 0 + 5 + 0 + 1 + 1 + 1 + 10 = 18
    cost = np.array([[0, 9, 5], [1, 9, 5], [9, 0, 5], [9, 1, 5]], dtype=float)
    r = locate(cost, [3, 3, 2, 2], [5, 5, 10], [1, 1, 10])
    assert r.assign.tolist() == [0, 2, 1, 1]
    assert r.objective == 18.0
    assert r.bound == pytest.approx(18.0)


def test_existing_site_is_free_to_keep_and_closing_saves_its_cost() -> None:
    cost = [[1, 2], [1, 2]]
    # keep site 0 (free): 2; close it (saves 10) and open site 1 (3): 4 - 10 + 3 = -3
    r = locate(cost, [1, 1], [2, 2], [10, 3], existing=[True, False])
    assert r.assign.tolist() == [1, 1] and r.objective == -3.0
    assert r.open.tolist() == [False, True]
    # both exist: all at site 1 and close site 0 (4 - 10 = -6) beats all at 0 and close 1 (2 - 3 = -1)
    r = locate(cost, [1, 1], [2, 2], [10, 3], existing=[True, True])
    assert r.objective == -6.0 and r.open.tolist() == [False, True]
    # keeping is free: with a small saving the existing site stays
    r = locate(cost, [1, 1], [2, 2], [0.5, 3], existing=[True, False])
    assert r.assign.tolist() == [0, 0] and r.objective == 2.0


def test_max_open_caps_the_sites() -> None:
    cost = [[0, 10], [10, 0]]
    assert locate(cost, [1, 1], [2, 2], [1, 1]).objective == 2.0
    r = locate(cost, [1, 1], [2, 2], [1, 1], max_open=1)
    assert r.open.sum() == 1 and r.objective == 11.0


def test_forbidden_pairs_are_never_used() -> None:
    inf = math.inf
    r = locate([[inf, 5], [1, inf], [1, 2]], [1, 1, 1], [3, 3], [0, 0])
    assert r.assign.tolist() == [1, 0, 0] and r.objective == 7.0


@pytest.mark.parametrize(("n", "m", "seed"), [(8, 3, 1), (12, 4, 2), (20, 5, 3), (30, 6, 4), (40, 8, 5)])
def test_matches_the_mip_optimum(n: int, m: int, seed: int) -> None:
    cost, demand, cap, f = random_instance(n, m, seed)
    r = locate(cost, demand, cap, f, time_limit_s=5.0)
    assert_valid(r, cost, demand, cap, f)
    assert r.objective == pytest.approx(mip_optimum(cost, demand, cap, f))
    assert r.status == "OPTIMAL"


def test_matches_the_mip_optimum_with_max_open_and_tight_capacity() -> None:
    cost, demand, cap, f = random_instance(25, 6, 7, ratio=1.2)
    opt = mip_optimum(cost, demand, cap, f, max_open=5)
    r = locate(cost, demand, cap, f, max_open=5, time_limit_s=5.0)
    assert_valid(r, cost, demand, cap, f)
    assert r.open.sum() <= 5
    assert r.objective == pytest.approx(opt)


def test_bound_is_valid_and_plan_feasible_on_a_larger_instance() -> None:
    cost, demand, cap, f = random_instance(80, 15, 11, ratio=1.4)
    r = locate(cost, demand, cap, f, time_limit_s=1.0)
    assert_valid(r, cost, demand, cap, f)
    assert 0.0 <= r.gap < 0.05


def test_brute_force_on_every_toy_of_a_family() -> None:
    rng = np.random.default_rng(3)
    for _ in range(5):
        cost = rng.integers(0, 20, (5, 3)).astype(float)
        demand = rng.integers(1, 4, 5).astype(float)
        cap = np.array([5.0, 6.0, 7.0])
        f = rng.integers(0, 15, 3).astype(float)
        best = math.inf
        for a in itertools.product(range(3), repeat=5):
            arr = np.array(a)
            if np.all(np.bincount(arr, weights=demand, minlength=3) <= cap):
                best = min(best, plan_cost(cost, f, arr))
        assert locate(cost, demand, cap, f).objective == pytest.approx(best)


def test_same_inputs_same_plan(monkeypatch: pytest.MonkeyPatch) -> None:
    # the work limits decide; the wall-clock safety net is pushed out of reach for a loaded test machine
    monkeypatch.setattr(sys.modules["planning.layout.locate"], "WALL_SLACK", 1000.0)
    cost, demand, cap, f = random_instance(50, 14, 5)  # 700 pairs: the neighbourhood search runs too
    a = locate(cost, demand, cap, f, time_limit_s=0.5, seed=3)
    b = locate(cost, demand, cap, f, time_limit_s=0.5, seed=3)
    assert not a.wall_stopped and not b.wall_stopped  # the work limits, not the clock, ended both
    assert a.assign.tolist() == b.assign.tolist() and a.objective == b.objective and a.bound == b.bound


def test_wall_clock_safety_net_is_recorded(monkeypatch: pytest.MonkeyPatch) -> None:
    # the module, not the function of the same name that planning.layout exports
    monkeypatch.setattr(sys.modules["planning.layout.locate"], "WALL_SLACK", 0.0)
    cost, demand, cap, f = random_instance(60, 12, 5)  # 720 pairs: the neighbourhood search runs
    r = locate(cost, demand, cap, f, time_limit_s=5.0)
    assert r.wall_stopped
    assert_valid(r, cost, demand, cap, f)
    assert locate([[1, 9], [9, 1]], [1, 1], [2, 2], [5, 5]).wall_stopped is False


def test_total_capacity_below_demand_is_infeasible() -> None:
    with pytest.raises(InfeasibleError, match=r"total demand 12 exceeds the capacity of all sites \(10\)"):
        locate(np.ones((3, 2)), [4, 4, 4], [5, 5], [1, 1])


def test_max_open_too_small_is_infeasible() -> None:
    with pytest.raises(InfeasibleError, match=r"(?s)the 1 largest sites .*raise max_open"):
        locate(np.ones((3, 2)), [3, 3, 3], [6, 5], [1, 1], max_open=1)


def test_unit_without_a_site_that_can_take_it_is_infeasible() -> None:
    with pytest.raises(InfeasibleError, match=r"unit 1: short by 2 places"):
        # unit 1 (7 children) may only go to site 0, which holds 5
        locate([[1, math.inf], [1, math.inf]], [1, 7], [5, 10], [1, 1])


def test_bad_arrays_are_all_reported() -> None:
    with pytest.raises(InputError) as err:
        locate([[1.0, math.nan]], [-1], [1, 1, 1], [1, 1], max_open=0)
    text = str(err.value)
    for what in ("'cost'", "'demand'", "'capacity'", "'max_open'"):
        assert what in text
