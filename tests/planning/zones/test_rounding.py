"""Whole-block rounding: seat prices, cover knapsack, ejection chains, local search."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import scipy.sparse as sp

from planning.zones import Reach, from_arrays
from planning.zones import rounding as R
from planning.zones.rounding import LocalPairs
from tests.planning.zones.test_zones import matrix


def pairs(times: list[list[float]], demand: list[int]) -> LocalPairs:
    """Pair table from a dense table of per-student costs (nan = unreachable), sorted by block then cost."""
    t = np.asarray(times, float)
    rows = []
    for i in range(t.shape[0]):
        rows.extend((i, int(j), int(t[i, j])) for j in np.argsort(t[i], kind="stable") if not np.isnan(t[i, j]))
    o, d, c = (np.array(col, np.int64) for col in zip(*rows, strict=True))
    start = np.searchsorted(o, np.arange(t.shape[0] + 1))
    return LocalPairs(origin=o, dest=d, cost=c, start=start, demand=np.asarray(demand, np.int64))


# Schools A, B, C in a line. A takes one 6-student block only (10 seats); the cheapest fix is a
# chain: b1 A → B (6 × 4 more), then B is over by 1 and b2 B → C (5 × 4 more).
# Optimum = 6·1 + 6·5 + 5·5 + 5·1 = 66 (the other fit, b1 → C and b2 stays, costs 70).
CHAIN_TIMES = [[1, 5, 9], [1, 5, 9], [5, 1, 5], [9, 5, 1]]
CHAIN_DEMAND = [6, 6, 5, 5]
CHAIN_SEATS = np.array([10, 10, 20])


def test_cover_prefers_a_fit_then_the_cheapest() -> None:
    sizes = np.array([5, 3, 4])
    # need 7: {3, 4} = 7 covers exactly and costs 7 against 8 for {5, 3}
    assert R._cover(sizes, np.array([5.0, 3.0, 4.0]), 7).tolist() == [1, 2]
    # {5, 3} = 8 is cheaper here, but with room for 7 only {3, 4} fits where it goes
    assert R._cover(sizes, np.array([1.0, 1.0, 9.0]), 7).tolist() == [0, 1]
    assert R._cover(sizes, np.array([1.0, 1.0, 9.0]), 7, room=7).tolist() == [1, 2]
    # nothing covers: everything goes
    assert R._cover(sizes, np.ones(3), 20).tolist() == [0, 1, 2]


def test_ejection_chain_reaches_the_hand_optimum() -> None:
    p = pairs(CHAIN_TIMES, CHAIN_DEMAND)
    prices = np.array([4.0, 0.0, 0.0])  # the relaxation's: room at A costs 4 per student (to B)
    start = np.array([0, 0, 1, 2])  # b0, b1 rounded to A: 12 students in 10 seats
    school, stats = R.ejection_repair(p, start, CHAIN_SEATS, prices)
    assert (R.loads(p, school, 3) <= CHAIN_SEATS).all()
    cost = sum(CHAIN_DEMAND[i] * CHAIN_TIMES[i][j] for i, j in enumerate(school.tolist()))
    assert cost == 66
    assert 2 <= stats.chain_moves <= 3


def test_optimal_zones_finds_the_chain_optimum() -> None:
    plan = from_arrays(matrix(CHAIN_TIMES), CHAIN_DEMAND, CHAIN_SEATS, reach=Reach(max_travel_s=None))
    assert plan.objective_s == 66
    assert plan.school_load["students"].tolist() == [6, 6, 10]
    assert plan.bound_s <= 66


def test_local_search_swaps_two_blocks_across_full_schools() -> None:
    # each block sits at the other one's near school; both schools are full, so only a swap helps
    p = pairs([[10, 1], [1, 10]], [4, 4])
    school, shifts, swaps = R.local_search(p, np.array([0, 1]), np.array([4, 4]))
    assert school.tolist() == [1, 0]
    assert (shifts, swaps) == (0, 1)


def test_local_search_shifts_into_room_and_never_overfills() -> None:
    p = pairs([[10, 1], [10, 1]], [3, 3])
    school, shifts, _ = R.local_search(p, np.array([0, 0]), np.array([6, 4]))
    assert sorted(school.tolist()) == [0, 1]  # only one block fits at the near school
    assert shifts == 1


def test_seat_prices_give_the_relaxation_bound() -> None:
    # Chain toy with B cut to 7 seats. Relaxation: b0 6 → A, b1 4 → A and 2 → B, b2 → B, b3 → C;
    # cost 6 + 4 + 10 + 5 + 5 = 30. Room at C is free; at B it costs 4 (a b2 student to C);
    # at A 8 (an A student to B, +4, pushing a B student to C, +4; or straight to C, +8).
    p = pairs(CHAIN_TIMES, CHAIN_DEMAND)
    seats = np.array([10, 7, 20])
    flow = np.zeros(len(p.origin), np.int64)
    for i, j, k in [(0, 0, 6), (1, 0, 4), (1, 1, 2), (2, 1, 5), (3, 2, 5)]:
        flow[np.flatnonzero((p.origin == i) & (p.dest == j))[0]] = k
    u = R.seat_prices(p, flow, seats)
    assert u.tolist() == pytest.approx([8.0, 4.0, 0.0], abs=1e-6)
    # the dual bound Σ d_i min_j (t_ij + u_j) − Σ u_j c_j equals the relaxation's cost
    best = np.full(4, np.inf)
    np.minimum.at(best, p.origin, p.cost + u[p.dest])
    assert (best * p.demand).sum() - (u * seats).sum() == pytest.approx(30)


@pytest.mark.parametrize("seed", range(12))
def test_rounding_is_feasible_and_close_to_brute_force(seed: int) -> None:
    """Small random instances: the plan fits, the bound holds, and the plan is near the true optimum."""
    rng = np.random.default_rng(seed)
    n, m = 8, 3
    bxy, sxy = rng.uniform(0, 10, (n, 2)), rng.uniform(0, 10, (m, 2))
    times = np.rint(np.hypot(*(bxy[:, None, :] - sxy[None, :, :]).transpose(2, 0, 1)) * 60 + 1)
    demand = rng.integers(1, 10, n)
    seats = np.full(m, int(np.ceil(demand.sum() * 1.15 / m)))
    best = np.inf
    for combo in itertools.product(range(m), repeat=n):
        c = np.asarray(combo)
        if (np.bincount(c, weights=demand, minlength=m) <= seats).all():
            best = min(best, float((times[np.arange(n), c] * demand).sum()))
    plan = from_arrays(matrix(times.tolist(), schools=["A", "B", "C"]), demand, seats, reach=Reach(max_travel_s=None))
    assert (plan.school_load["students"] <= plan.school_load["capacity_seats"]).all()
    assert plan.bound_s <= best + 1e-6 <= plan.objective_s + 1e-6
    assert plan.objective_s <= best * 1.10


def path_adjacency(n: int) -> sp.csr_array:
    """Blocks 0 – 1 – … – n−1 in a row."""
    rows = np.r_[np.arange(n - 1), np.arange(1, n)]
    cols = np.r_[np.arange(1, n), np.arange(n - 1)]
    return sp.csr_array((np.ones(len(rows), bool), (rows, cols)), shape=(n, n))


def test_may_move_only_to_a_bordering_zone_without_cutting_its_own() -> None:
    adj = path_adjacency(5)
    school = np.array([0, 0, 0, 1, 1])
    assert R.may_move(adj, school, 2, 1)  # the end of zone 0 joins zone 1
    assert not R.may_move(adj, school, 1, 1)  # does not border zone 1
    # a neck: block 1 joins 0 and 2 of zone 0 and borders zone 1 (block 3 hangs off it)
    rows, cols = [0, 1, 1, 2, 1, 3], [1, 0, 2, 1, 3, 1]
    neck = sp.csr_array((np.ones(6, bool), (rows, cols)), shape=(4, 4))
    assert not R.may_move(neck, np.array([0, 0, 0, 1]), 1, 1)


def test_rounding_with_adjacency_moves_only_border_blocks() -> None:
    # zone A = blocks 0–2, zone B = 3–4; A is over by 2. Block 2 borders B; block 0 is
    # cheaper to move but far from B: with adjacency the chain must take block 2.
    times = [[1, 3], [1, 9], [1, 5], [9, 1], [9, 1]]
    p = pairs(times, [2, 2, 2, 2, 2])
    start = np.array([0, 0, 0, 1, 1])
    seats = np.array([4, 6])
    free, _ = R.ejection_repair(p, start, seats, np.array([2.0, 0.0]))
    assert free.tolist() == [1, 0, 0, 1, 1]
    joined, _ = R.ejection_repair(p, start, seats, np.array([2.0, 0.0]), adjacency=path_adjacency(5))
    assert joined.tolist() == [0, 0, 1, 1, 1]


def test_blocks_without_students_follow_the_relaxation_partition() -> None:
    # A holds b0 only (10 seats): room at A costs 9 per student, so the empty b1, nearer A
    # (4 s against 5 s), lies in B's zone: 4 + 9 > 5 + 0.
    plan = from_arrays(matrix([[1, 10], [4, 5], [2, 3]]), [10, 0, 10], [10, 20], reach=Reach(max_travel_s=None))
    assert plan.block_school.tolist() == [0, 1, 1]


def test_pinned_blocks_never_move() -> None:
    # the chain toy again: unpinned, b0 is the block passed from A to B; pinned (a school's own
    # block, under contiguity), b1 goes instead and the optimum is the same
    p = pairs(CHAIN_TIMES, CHAIN_DEMAND)
    start = np.array([0, 0, 1, 2])
    free, _ = R.ejection_repair(p, start, CHAIN_SEATS, np.array([4.0, 0.0, 0.0]))
    assert free[0] == 1
    pinned = np.array([True, False, False, False])
    school, _ = R.ejection_repair(p, start, CHAIN_SEATS, np.array([4.0, 0.0, 0.0]), pinned=pinned)
    assert school[0] == 0 and school[1] == 1
    assert (R.loads(p, school, 3) <= CHAIN_SEATS).all()
    searched, _, _ = R.local_search(p, school, CHAIN_SEATS, movable=~pinned)
    assert searched[0] == 0


def square_with_tail() -> sp.csr_array:
    """Blocks 0–1, 0–2, 1–3, 2–3 (a ring of four), 1–4, 2–4 and 4–5."""
    edges = np.array([(0, 1), (0, 2), (1, 3), (2, 3), (1, 4), (2, 4), (4, 5)]).T
    rows, cols = np.r_[edges[0], edges[1]], np.r_[edges[1], edges[0]]
    return sp.csr_array((np.ones(len(rows), bool), (rows, cols)), shape=(6, 6))


def test_blocks_leaving_together_keep_their_zone_whole() -> None:
    # A = ring {0, 1, 2, 3} (root 0), B = {4, 5} (root 5); A is over by 20. Blocks 1 and 2
    # are the cheapest to hand to B and each may leave alone, but not both: block 3 would
    # be cut off. Checked one after the other, 1 goes, then 3 (which now borders B).
    times = [[0, 9], [1, 2], [1, 2], [1, 3], [9, 1], [9, 0]]
    p = pairs(times, [0, 10, 10, 10, 10, 0])
    start = np.array([0, 0, 0, 0, 1, 1])
    seats = np.array([10, 40])
    pinned = np.array([True, False, False, False, False, True])
    prices = np.array([1.0, 0.0])
    free, _ = R.ejection_repair(p, start, seats, prices, pinned=pinned)
    assert free.tolist() == [0, 1, 1, 0, 1, 1]
    whole, _ = R.ejection_repair(p, start, seats, prices, adjacency=square_with_tail(), pinned=pinned)
    assert whole.tolist() == [0, 1, 0, 1, 1, 1]
    assert (R.loads(p, whole, 2) <= seats).all()


def test_swap_never_leaves_a_block_without_its_new_zone() -> None:
    # 0 – 1 – 2 – 3 in a row, A = {0, 1}, B = {2, 3}, both full. Swapping 1 and 2 saves
    # travel, but each is the other's only link to its new zone: with adjacency, no swap.
    p = pairs([[0, 9], [5, 1], [1, 5], [9, 0]], [0, 10, 10, 0])
    start = np.array([0, 0, 1, 1])
    seats = np.array([10, 10])
    movable = np.array([False, True, True, False])
    free, _, swaps = R.local_search(p, start, seats, movable=movable)
    assert free.tolist() == [0, 1, 0, 1] and swaps == 1
    kept, _, swaps = R.local_search(p, start, seats, movable=movable, adjacency=path_adjacency(4))
    assert kept.tolist() == [0, 0, 1, 1] and swaps == 0


def grid_adjacency(side: int, *, diagonal: bool) -> sp.csr_array:
    """Blocks on a ``side`` × ``side`` grid, neighbours across edges (and corners with ``diagonal``)."""
    steps = [(0, 1), (1, 0), (1, 1), (1, -1)] if diagonal else [(0, 1), (1, 0)]
    rows, cols = [], []
    for r, c in itertools.product(range(side), repeat=2):
        for dr, dc in steps:
            if 0 <= r + dr < side and 0 <= c + dc < side:
                rows += [r * side + c, (r + dr) * side + c + dc]
                cols += [(r + dr) * side + c + dc, r * side + c]
    return sp.csr_array((np.ones(len(rows), bool), (rows, cols)), shape=(side * side, side * side))


def may_move_by_definition(adj: sp.csr_array, school: np.ndarray, i: int, to: int) -> bool:
    """:func:`R.may_move` as its docstring states it: borders ``to``; its own-zone neighbours connected through
    own-zone blocks within two steps of ``i`` (not ``i``)."""
    nb = adj.indices[adj.indptr[i] : adj.indptr[i + 1]]
    if to not in school[nb]:
        return False
    same = [int(k) for k in nb if school[k] == school[i]]
    two = {int(v) for k in same for v in adj.indices[adj.indptr[k] : adj.indptr[k + 1]]}
    near = {v for v in two | set(same) if school[v] == school[i] and v != i}
    seen, todo = set(same[:1]), same[:1]
    while todo:
        k = todo.pop()
        for v in adj.indices[adj.indptr[k] : adj.indptr[k + 1]].tolist():
            if v in near and v not in seen:
                seen.add(v)
                todo.append(v)
    return set(same) <= seen


@pytest.mark.parametrize("diagonal", [False, True])
def test_may_move_and_bordering_agree_with_their_definitions(diagonal: bool) -> None:
    # the quick paths (neighbours in the zone touching one another; a table instead of sorted keys) change no answer
    adj = grid_adjacency(9, diagonal=diagonal)
    nbrs = R.neighbour_lists(adj)
    rng = np.random.default_rng(7)
    answers = set()
    for _ in range(6):
        school = rng.integers(0, 3, 81).astype(np.int64)
        school[rng.random(81) < 0.1] = -1
        for i, to in itertools.product(range(81), range(3)):
            if school[i] >= 0 and to != school[i]:
                got = R.may_move(nbrs, school, i, to)
                assert got == may_move_by_definition(adj, school, i, to)
                answers.add(got)
        blocks, dest = np.repeat(np.arange(81), 3), np.tile(np.arange(3), 81)
        assert (R.bordering(adj, school, blocks, dest, 3) == R.borders(R.border_keys(adj, school, 3), blocks, dest, 3)).all()
    assert answers == {True, False}


def test_a_block_at_a_school_outside_the_table_does_not_move() -> None:
    """A plan made on a larger pair table may put a block at a school the local table has no pair for; its move
    delta is unknown there, so it offers no move (it gave −inf deltas and NaN in the chains' cover knapsack)."""
    from types import SimpleNamespace

    from planning.zones.rounding import _arc_table, own_cost

    # block 0: schools 0, 1; block 1: schools 1, 2 — but the plan has block 1 at school 0 (no pair here)
    p = SimpleNamespace(
        origin=np.array([0, 0, 1, 1]), dest=np.array([0, 1, 1, 2]), cost=np.array([10, 20, 5, 8]),
        start=np.array([0, 2, 4]), demand=np.array([3, 4]),
    )
    school = np.array([0, 0])
    mine = own_cost(p, school)
    assert np.isinf(mine[1])
    keys, first, delta, blk = _arc_table(p, school, mine, 3)
    assert first.tolist() == [0, 1]
    assert np.isfinite(delta).all()
    assert blk.tolist() == [0] and keys.tolist() == [0 * 3 + 1] and delta.tolist() == [10.0]
