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


def test_rounds_prove_the_optimum_from_a_worse_plan_in_one_round(bench: ModuleType) -> None:
    run = bench.lagrange_proof(toy(bench), 42, 10.0, rounds=3)
    # round 1 (UB 42) finds and proves 24; the bound 24 is above 24 − 1, so no second round
    assert run["proven"] and run["objective"] == 24 and run["bound"] == 24
    assert [r["upper"] for r in run["rounds"]] == [42]


def test_rounds_run_no_mip_when_the_knapsack_bound_proves_the_plan(bench: ModuleType) -> None:
    run = bench.lagrange_proof(toy(bench), 24, 10.0, rounds=3)
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
