"""Parts of ``planning.layout.locate``: the covering knapsack of the bound, the LP-rounded assignment."""

from __future__ import annotations

import itertools

import numpy as np

from planning.layout.heuristic import assign_hard, assign_transport, from_sites, total_cost
from planning.layout.lagrange import Instance, _cover_dp, choose_sites
from planning.layout.sites import search_sites


def instance(cost: list[list[float]], demand: list[float], capacity: list[float], open_cost: list[float]) -> Instance:
    c = np.array(cost, dtype=float)
    return Instance(c, np.isfinite(c), np.array(demand, float), np.array(capacity, float), np.array(open_cost, float), None, True)


def test_cover_dp_takes_the_cheapest_set_that_covers() -> None:
    # need 11: {0} holds 10 (short); {1, 2} holds 11 for 7; {0, 1} 16 for 8; {0, 2} 15 for 9
    assert _cover_dp(np.array([5.0, 3.0, 4.0]), np.array([10.0, 6.0, 5.0]), 11.0).tolist() == [False, True, True]


def test_cover_dp_matches_brute_force() -> None:
    rng = np.random.default_rng(2)
    for _ in range(20):
        value, size = rng.integers(0, 20, 7).astype(float), rng.integers(1, 30, 7).astype(float)
        need = float(rng.integers(1, int(size.sum()) + 1))
        best = min(
            sum(value[list(s)]) for r in range(8) for s in itertools.combinations(range(7), r) if size[list(s)].sum() >= need
        )
        got = _cover_dp(value, size, need)
        assert size[got].sum() >= need and value[got].sum() == best


def test_site_choice_is_whole_and_holds_the_demand() -> None:
    # site 0 pays (value −4) but holds 3 of the 10; of the other 7, site 1 (value 1) holds only 5, site 2 (value 2) holds 8
    inst = instance([[1, 1, 1]] * 5, [2] * 5, [3, 5, 8], [0, 0, 0])
    total, y = choose_sites(np.array([-4.0, 1.0, 2.0]), inst)
    assert y.tolist() == [1.0, 0.0, 1.0] and total == -2.0


def test_lp_rounding_finds_the_packing_the_greedy_order_misses() -> None:
    # two sites of 5 for demands 3, 3, 2, 2 (all capacity used): units 0 and 1 both prefer site 0
    # but cannot share it; the best packing is {0, 3} at site 0 and {1, 2} at site 1: 0 + 9 + 9 + 0 = 18
    inst = instance([[0, 9], [1, 9], [9, 0], [9, 1]], [3, 3, 2, 2], [5, 5], [0, 0])
    both = np.array([True, True])
    assign = assign_transport(inst, both)
    assert assign is not None
    assert np.all(np.bincount(assign, weights=inst.demand, minlength=2) <= inst.capacity)
    got = from_sites(inst, both, exact=True)
    assert got is not None and got[1] == 18.0 and total_cost(inst, got[0]) == 18.0


def test_site_search_swaps_a_site_that_neither_closes_nor_opens_alone() -> None:
    # one unit of 10 at site 0 (open cost 10); site 1 holds it too for 1: closing 0 alone strands
    # the unit, opening 1 alone moves nothing (no saving on assignment), the swap saves 9
    inst = instance([[0, 0]], [10], [10, 10], [10, 1])
    got, used = search_sites(inst, np.array([0]), np.array([10.0, 1.0]), budget_s=1.0)
    assert got.tolist() == [1] and total_cost(inst, got) == 1.0 and 0 < used <= 1.0


def test_site_search_stops_at_its_budget() -> None:
    inst = instance([[0, 0]], [10], [10, 10], [10, 1])
    got, used = search_sites(inst, np.array([0]), np.array([10.0, 1.0]), budget_s=0.0)
    assert got.tolist() == [0] and used == 0.0


def test_hard_assignment_packs_a_tight_set() -> None:
    # the packing of the LP-rounding toy, by CP-SAT on the LP's pairs: every place used, cost 18
    inst = instance([[0, 9], [1, 9], [9, 0], [9, 1]], [3, 3, 2, 2], [5, 5], [0, 0])
    got, used = assign_hard(inst, np.array([True, True]), 1.0, 0)
    assert got is not None and total_cost(inst, got) == 18.0 and used <= 1.0 + 1e-6
