"""The single-source assignment to a fixed open set (:mod:`planning.layout.gap`) and the open-set moves that use it."""

from __future__ import annotations

import itertools

import numpy as np

from planning.layout.gap import assign_gap, improve_gap, make_feasible, set_lp
from planning.layout.heuristic import from_sites, total_cost
from planning.layout.lagrange import Instance
from planning.layout.sites import _moves


def instance(cost: list[list[float]], demand: list[float], capacity: list[float], open_cost: list[float]) -> Instance:
    c = np.array(cost, dtype=float)
    return Instance(c, np.isfinite(c), np.array(demand, float), np.array(capacity, float), np.array(open_cost, float), None, True)


def _fits(inst: Instance, assign: np.ndarray) -> bool:
    return bool(np.all(np.bincount(assign, weights=inst.demand, minlength=len(inst.capacity)) <= inst.capacity + 1e-9))


def _optimum(inst: Instance) -> float:
    n, m = inst.cost.shape
    best = np.inf
    for plan in itertools.product(range(m), repeat=n):
        a = np.array(plan)
        if _fits(inst, a):
            best = min(best, total_cost(inst, a))
    return best


def test_ejection_chain_moves_a_unit_into_a_full_site() -> None:
    # unit 0 (at A, cost 5) would cost 0 at B, which unit 1 fills; unit 1 costs 1 at C (room) but 10 at A:
    # no shift (B full) and no swap (+5) helps, the chain 0 -> B, 1 -> C saves 4
    inst = instance([[5, 0, 9], [10, 0, 1]], [3, 3], [3, 3, 3], [0, 0, 0])
    got = improve_gap(inst, np.array([0, 1]), np.array([True, True, True]))
    assert got.tolist() == [1, 2] and total_cost(inst, got) == 1.0


def test_make_feasible_removes_overloads_or_says_it_cannot() -> None:
    inst = instance([[0, 4], [1, 3], [2, 2], [3, 1]], [3, 3, 2, 2], [5, 5], [0, 0])
    got = make_feasible(inst, np.array([0, 0, 0, 0]), np.array([True, True]))
    assert got is not None and _fits(inst, got)
    # three units of 3 into sites of 4 and 5: the LP splits them, no whole packing exists
    stuck = instance([[0, 0], [0, 0], [0, 0]], [3, 3, 3], [4, 5], [0, 0])
    both = np.array([True, True])
    assert set_lp(stuck, both) is not None
    assert make_feasible(stuck, np.array([0, 0, 1]), both) is None
    assert assign_gap(stuck, both) is None


def test_set_lp_bounds_every_plan_of_the_set() -> None:
    inst = instance([[0, 9], [1, 9], [9, 0], [9, 1]], [3, 3, 2, 2], [5, 5], [4, 6])
    lp = set_lp(inst, np.array([True, True]))
    assert lp is not None and lp.value <= 18.0 + 10.0 + 1e-9 and lp.price.shape == (2,)


def test_gap_assignment_is_near_the_optimum_of_tight_toys() -> None:
    # 8 units on 3 sites with 3-8 % room: feasible always, within 0.5 % of the brute-force optimum on
    # average, and never worse than the LP rounding with shift and swap moves
    rng = np.random.default_rng(5)
    ratios = []
    for _ in range(12):
        d = rng.integers(2, 9, 8).astype(float)
        cap = np.floor(d.sum() * rng.uniform(1.03, 1.08) * np.array([0.3, 0.33, 0.37]))
        inst = instance(rng.integers(0, 40, (8, 3)).tolist(), d.tolist(), cap.tolist(), [0, 0, 0])
        best = _optimum(inst)
        if not np.isfinite(best):
            continue
        mask = np.ones(3, dtype=bool)
        got = assign_gap(inst, mask)
        assert got is not None and _fits(inst, got)
        old = from_sites(inst, mask, exact=True)
        assert old is None or total_cost(inst, got) <= old[1] + 1e-9
        ratios.append(total_cost(inst, got) / max(best, 1.0))
    assert len(ratios) >= 6 and np.mean(ratios) <= 1.005


def test_double_moves_close_two_sites_open_one_and_hold_the_demand() -> None:
    inst = instance([[0, 0, 0, 0]] * 4, [3, 3, 3, 3], [6, 6, 6, 12], [1, 1, 1, 1])
    open_mask = np.array([True, True, True, False])
    moves = _moves(inst, open_mask, np.array([1.0, 2.0, 3.0, 1.0]), True)
    assert moves and all(j1 >= 0 and j2 >= 0 and k == 3 for _, j1, j2, k in moves)
    assert [m[0] for m in moves] == sorted(m[0] for m in moves)
    assert moves[0][1:] == (1, 2, 3)  # estimate 1 − 2 − 3, the cheapest
