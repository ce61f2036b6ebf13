"""Reduced-cost fixing (``planning.layout.fixing``) against every plan of small instances, enumerated."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from planning.layout.fixing import reduce
from planning.layout.lagrange import Instance, initial_multipliers, subgradient


def _instance(n: int, m: int, seed: int) -> Instance:
    rng = np.random.default_rng(seed)
    demand = rng.integers(3, 12, n).astype(float)
    cap = np.maximum(np.floor(rng.integers(10, 30, m) * 1.4 * demand.sum() / (20 * m)), demand.max())
    cost = rng.integers(1, 40, (n, m)).astype(float)
    allowed = rng.random((n, m)) > 0.15
    allowed[np.arange(n), rng.integers(0, m, n)] = True
    open_cost = rng.integers(5, 60, m).astype(float)
    return Instance(np.where(allowed, cost, 1e6), allowed, demand, cap, open_cost, None, True)


def _plans(inst: Instance) -> tuple[np.ndarray, np.ndarray]:
    """Every feasible single-source plan (rows: site per unit) and its cost."""
    n, m = inst.cost.shape
    rows = np.array(list(itertools.product(range(m), repeat=n)))
    ok = inst.allowed[np.arange(n)[None, :], rows].all(axis=1)
    loads = np.stack([((rows == j) * inst.demand[None, :]).sum(axis=1) for j in range(m)], axis=1)
    ok &= (loads <= inst.capacity[None, :]).all(axis=1)
    rows = rows[ok]
    opened = np.stack([(rows == j).any(axis=1) for j in range(m)], axis=1)
    cost = inst.cost[np.arange(n)[None, :], rows].sum(axis=1) + (opened * inst.open_cost[None, :]).sum(axis=1)
    return rows, cost


@pytest.mark.parametrize("seed", range(6))
def test_no_plan_cheaper_than_upper_loses_a_pair_or_a_site(seed: int) -> None:
    inst = _instance(7, 4, seed)
    rows, cost = _plans(inst)
    assert len(rows) > 0
    best = float(cost.min())
    rng = np.random.default_rng(seed)
    good = subgradient(inst, lambda y, v: best, 100).u
    for u in (good, initial_multipliers(inst), initial_multipliers(inst) * rng.uniform(0.8, 1.3, 7), rng.uniform(0, 40, 7)):
        for upper in (best + 0.5, best + 0.1 * abs(best), best + 20.0):
            red = reduce(inst, u, upper)
            assert red.bound <= best + 1e-6  # L(u) is a lower bound
            cheaper = rows[cost < upper]
            opened = np.stack([(cheaper == j).any(axis=1) for j in range(4)], axis=1)
            # every plan cheaper than upper keeps all its pairs and agrees with the fixed sites
            assert red.pairs[np.arange(7)[None, :], cheaper].all()
            assert not (opened & red.closed[None, :]).any()
            assert (opened | ~red.opened[None, :]).all()


def test_near_the_optimum_the_bound_multipliers_fix_most_pairs() -> None:
    inst = _instance(7, 4, 0)
    rows, cost = _plans(inst)
    best = float(cost.min())
    red = reduce(inst, subgradient(inst, lambda y, v: best, 100).u, best + 0.5)
    assert red.pairs.sum() < 0.5 * inst.allowed.sum()
    assert red.opened.all()
    assert red.pairs[np.arange(7), rows[int(np.argmin(cost))]].all()


def test_a_bound_at_the_upper_value_keeps_nothing() -> None:
    inst = _instance(6, 3, 11)
    _, cost = _plans(inst)
    u = initial_multipliers(inst)
    lag = reduce(inst, u, float(cost.max()) + 1).bound
    red = reduce(inst, u, lag - 1.0)
    assert not red.pairs.any() and red.closed.all()
