"""The zones suite's proof (knapsack Lagrangian bound, fixing, HiGHS) on a toy with a hand-computed optimum.

Three blocks of 2 students; school A has 3 seats (one block fits), school B 4 (two fit).
Travel per student: blocks 0 and 1 are 1 s from A and 10 s from B, block 2 the reverse.

- The optimum: one of blocks 0, 1 at A (2), the other at B (20), block 2 at B (2): 24.
- The transportation LP splits a block across A and B: 2 + 1 + 10 + 2 = 15.
- The knapsack (Dantzig-Wolfe) bound: A's knapsacks take one block, so it is 24, the optimum.
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType

import numpy as np
import pytest

from geo.travel import TravelMatrix


@pytest.fixture
def bench(load_benchmark: Callable[[str], ModuleType]) -> ModuleType:
    return load_benchmark("bench_zones_suite")


def toy(mod: ModuleType) -> object:
    origin = np.array([0, 0, 1, 1, 2, 2], np.int32)
    dest = np.array([0, 1, 0, 1, 0, 1], np.int32)
    time_s = np.array([1, 10, 1, 10, 10, 1], np.int32)
    tm = TravelMatrix(origin_ids=np.array(["b0", "b1", "b2"]), dest_ids=np.array(["A", "B"]), origin=origin, dest=dest,
                      time_s=time_s, dist_m=time_s, mode="straight")
    return mod.Case("toy", tm, np.array([2, 2, 2]), np.array([3, 4]))


def test_knapsack_bound_is_the_optimum_above_the_lp(bench: ModuleType) -> None:
    case = toy(bench)
    tm = case.travel  # type: ignore[attr-defined]
    gap = bench.zones_proof.gap_of(tm.origin, tm.dest, tm.time_s, case.demand, case.capacity)  # type: ignore[attr-defined]
    lag = bench.zones_proof.lagrange_bound(gap, 1_000)
    assert round(lag.lp) == 15
    assert lag.bound == 24


def test_proof_from_a_worse_plan_finds_and_proves_the_optimum(bench: ModuleType) -> None:
    run = bench.lagrange_proof(toy(bench), 42, 10.0)  # 42: block 2 at A, blocks 0 and 1 at B
    assert run["proven"] and run["objective"] == 24 and run["bound"] == 24


def test_fixing_keeps_the_optimal_pairs_and_drops_the_rest_at_the_optimum(bench: ModuleType) -> None:
    case = toy(bench)
    tm = case.travel  # type: ignore[attr-defined]
    gap = bench.zones_proof.gap_of(tm.origin, tm.dest, tm.time_s, case.demand, case.capacity)  # type: ignore[attr-defined]
    lag = bench.zones_proof.lagrange_bound(gap, 1_000)
    # against a plan of 25 every plan of 24 survives: block 2 only at B, blocks 0 and 1 both pairs
    keep = bench.zones_proof.fixing(gap, lag.lam, 25)
    assert keep.tolist() == [True, True, True, True, False, True]


def toy_gap(bench: ModuleType) -> object:
    case = toy(bench)
    tm = case.travel  # type: ignore[attr-defined]
    return bench.zones_proof.gap_of(tm.origin, tm.dest, tm.time_s, case.demand, case.capacity)  # type: ignore[attr-defined]


def test_school_cuts_hold_on_every_plan_and_lift_the_lp_to_the_knapsack_bound(bench: ModuleType) -> None:
    from scipy.optimize import linprog

    gap = toy_gap(bench)
    lam = bench.zones_proof.lagrange_bound(gap, 1_000).lam
    coef, side = bench.zones_proof.school_cuts(gap, lam)
    school = gap.school  # type: ignore[attr-defined]
    # every plan within the seats (each block at A or B; A holds one block, B two) meets each school's cut
    for plan in ([0, 1, 1], [1, 0, 1], [1, 1, 0]):
        x = np.array([[1.0 - j, float(j)] for j in plan]).ravel()  # pairs are (block, A), (block, B) per block
        for j in (0, 1):
            assert coef[school == j] @ x[school == j] >= side[j]
    # the transportation LP (15) with the cuts: at least the knapsack bound, the optimum 24
    a_eq = np.kron(np.eye(3), np.ones(2))
    a_cap = np.array([[2.0, 0.0] * 3, [0.0, 2.0] * 3])
    a_cut = -np.array([np.where(school == j, coef, 0.0) for j in (0, 1)])
    res = linprog(gap.cost.astype(float), A_ub=np.vstack([a_cap, a_cut]), b_ub=np.concatenate([[3.0, 4.0], -side]),  # type: ignore[attr-defined]
                  A_eq=a_eq, b_eq=np.ones(3), bounds=(0, 1), method="highs")
    assert res.fun > 23.0


def test_a_round_against_the_optimum_proves_it_and_one_against_a_dearer_plan_finds_it(bench: ModuleType) -> None:
    gap = toy_gap(bench)
    lam = bench.zones_proof.lagrange_bound(gap, 1_000).lam
    found, _, status, _, _ = bench.zones_proof._round(gap, lam, 24, 10.0, True)  # no plan cheaper than 24 is left
    assert status == 2 and found == float("inf")
    found, bound, status, _, _ = bench.zones_proof._round(gap, lam, 25, 10.0, True)
    assert status == 0 and found == 24 and bound >= 23.5


def test_proof_with_cuts_and_rounds_proves_the_optimum_from_a_worse_plan(bench: ModuleType) -> None:
    run = bench.lagrange_proof(toy(bench), 42, 10.0, cuts=True, rounds=3)
    assert run["proven"] and run["objective"] == 24 and run["bound"] == 24


def test_rounds_prove_the_optimum_from_a_worse_plan_in_one_round(bench: ModuleType) -> None:
    run = bench.zones_proof.prove_rounds(toy_gap(bench), 42, 10.0, 3)
    # round 1 (UB 42) finds and proves 24; the bound 24 is above 24 − 1, so no second round
    assert run["proven"] and run["objective"] == 24 and run["bound"] == 24
    assert [r["upper"] for r in run["rounds"]] == [42]


def test_rounds_run_no_mip_when_the_knapsack_bound_proves_the_plan(bench: ModuleType) -> None:
    run = bench.zones_proof.prove_rounds(toy_gap(bench), 24, 10.0, 3)
    assert run["proven"] and run["bound"] == 24 and run["rounds"] == []


def test_round_bound_is_the_ub_where_the_model_is_infeasible_else_the_lower_of_ub_and_the_dual_bound(bench: ModuleType) -> None:
    rb = bench.zones_proof._round_bound
    assert rb(100, float("inf"), 2) == 100.0
    assert rb(100, 90.5, 1) == 90.5
    assert rb(100, 120.0, 0) == 100.0
    assert rb(100, float("nan"), 1) == float("-inf")


def test_scip_rounds_prove_the_optimum_from_a_worse_plan(bench: ModuleType) -> None:
    run = bench.lagrange_proof(toy(bench), 42, 10.0, solver="scip")
    assert run["proven"] and run["objective"] == 24 and run["bound"] == 24
    assert "SCIP" in run["status"]
