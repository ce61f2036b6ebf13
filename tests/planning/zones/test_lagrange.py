"""The Lagrangian knapsack bound: exact knapsacks, never above the optimum, above the relaxation where blocks do not pack."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from test_anytime import NO_CAP, _highs, _random_instance

from planning.zones.instance import prepare
from planning.zones.lagrange import _knapsack, knapsack_bound
from planning.zones.relaxation import relax
from planning.zones.rounding import LocalPairs, seat_prices


def test_each_knapsack_is_solved_exactly() -> None:
    rng = np.random.default_rng(0)
    for _ in range(300):
        k = int(rng.integers(1, 8))
        weight, cost, seats = rng.integers(1, 10, k), -rng.uniform(0, 10, k), int(rng.integers(0, 40))
        value, take, _ = _knapsack(weight.astype(np.int64), cost, seats)
        best = min(
            (cost[list(s)].sum() for r in range(k + 1) for s in itertools.combinations(range(k), r) if weight[list(s)].sum() <= seats),
            default=0.0,
        )
        assert value == pytest.approx(best)
        assert weight[take].sum() <= seats and cost[take].sum() == pytest.approx(value)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_bound_lies_between_the_relaxation_and_the_optimum(seed: int) -> None:
    tm, demand, seats = _random_instance(seed)
    optimum = _highs(tm, demand, seats)  # an independent MIP solver
    p = prepare(tm, demand, seats, reach=NO_CAP, current=None, stability_weight_s=0)
    relaxed = relax(p, level="primary", max_moved=None, overflow_penalty_s=None, school_township=None)
    priced = LocalPairs(origin=p.origin, dest=p.dest, cost=p.cost, start=p.start, demand=p.demand)
    prices = seat_prices(priced, relaxed.flow.pair_flow, p.capacity)
    got = knapsack_bound(p, prices, optimum * 1.01, max_cells=1e8, target=optimum)
    assert got.bound <= optimum
    assert got.bound > relaxed.bound  # 60 blocks of 1-30 students do not fill 6 schools' seats exactly
    assert got.cells > 0 and got.steps > 1
