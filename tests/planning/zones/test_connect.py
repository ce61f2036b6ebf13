"""Window solves with exact connectivity (planning.zones.connect) on hand-drawn block graphs."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from geo.travel import TravelMatrix
from planning.zones.connect import (
    Frame,
    chain_and_polish,
    chain_pieces,
    connect_pieces,
    improve_whole,
    movable_blocks,
    solve_window,
)
from planning.zones.instance import BlockGraph, Reach, prepare
from planning.zones.repair import Repair, WorkBudget


def row(n: int) -> sp.csr_array:
    i = np.arange(n - 1)
    a = sp.coo_array((np.ones(n - 1), (i, i + 1)), shape=(n, n))
    return sp.csr_array(a + a.T)


def matrix(t: np.ndarray) -> TravelMatrix:
    n, m = t.shape
    return TravelMatrix(
        origin_ids=np.array([f"b{i}" for i in range(n)]),
        dest_ids=np.array([f"s{j}" for j in range(m)]),
        origin=np.repeat(np.arange(n), m).astype(np.int32),
        dest=np.tile(np.arange(m), n).astype(np.int32),
        time_s=t.ravel().astype(np.int32),
        dist_m=t.ravel().astype(np.int32),
        mode="walk",
    )


def line(
    roots: list[int], n: int, seats: list[int], demand: list[int] | None = None, *, budget: float = 20.0
) -> tuple[Repair, BlockGraph]:
    """Blocks 0 … n−1 in a row, schools at ``roots``, travel 60 s per block apart (plus 60), ``budget`` work units."""
    t = 60 + 60 * np.abs(np.arange(n)[:, None] - np.asarray(roots)[None, :])
    p = prepare(matrix(t), demand or [1] * n, seats, reach=Reach(max_travel_s=None), current=None, stability_weight_s=0)
    r = Repair(p, None, dict(enumerate(roots)), None, None, 0, WorkBudget(budget))
    return r, BlockGraph(row(n), np.asarray(roots, np.int64))


def test_a_piece_in_a_full_zone_joins_by_a_chain_of_moves() -> None:
    # A = {0, 1, 5}: block 5 is cut off inside B's side. B (3 seats, full) must pass block 2 to A
    # to take block 5: a chain no single hand-over makes (A has no seat for 2 before 5 leaves).
    r, g = line([0, 4, 8], 9, [3, 3, 3])
    f = Frame.of(g.adjacency, g.roots, r.p.connector)
    school = np.array([0, 0, 1, 1, 1, 0, 2, 2, 2])
    assert [(j, pc.tolist()) for j, pc in f.pieces(school)] == [(0, [5])]
    got, joined = connect_pieces(r, f, school, movable_blocks(r.p, g))
    assert got.tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 2]
    assert f.pieces(got) == [] and joined.windows >= 1 and not joined.proven


def test_a_piece_joins_by_an_ejection_chain_over_three_zones_without_a_solver() -> None:
    # A = {0, 1, 2, 10}: block 10 is cut off between C and D, every school full. The piece goes to C,
    # C passes block 7 to B, B passes block 3 to A (which has the piece's seat): three moves, no CP-SAT.
    r, g = line([0, 4, 8, 12], 13, [4, 4, 3, 2])
    f = Frame.of(g.adjacency, g.roots, r.p.connector)
    school = np.array([0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 0, 3, 3])
    got, joined = chain_pieces(r, f, school)
    assert got.tolist() == [0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 3, 3]
    assert joined == 1 and f.pieces(got) == [] and r.budget.spent < 0.1


def test_a_piece_joins_by_the_cheapest_hand_over_and_its_window() -> None:
    # the three-zone chain again (every school full): chain_and_polish hands the piece to C, passes the
    # seats on to A, and the plan is the one whole plan in the seats
    r, g = line([0, 4, 8, 12], 13, [4, 4, 3, 2])
    f = Frame.of(g.adjacency, g.roots, r.p.connector)
    school = np.array([0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 0, 3, 3])
    got, joined = chain_and_polish(r, f, school, movable_blocks(r.p, g))
    assert got.tolist() == [0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 3, 3]
    assert joined == 1 and f.pieces(got) == []


def test_polishing_a_hand_over_lowers_its_travel_and_keeps_zones_whole() -> None:
    from planning.zones.connect import _plan_cost, _polish

    # the chain handed blocks 2 and 3 to school 1 though school 0 has the room: the window moves them back
    r, g = line([0, 7], 8, [5, 5])
    f = Frame.of(g.adjacency, g.roots, r.p.connector)
    before = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    trial = np.array([0, 0, 1, 1, 1, 1, 1, 1])
    got = _polish(r, f, before, trial, movable_blocks(r.p, g))
    assert f.pieces(got) == [] and _plan_cost(r.p, got, None) < _plan_cost(r.p, trial, None)
    assert got.tolist() == [0, 0, 0, 0, 1, 1, 1, 1]


def test_the_window_keeps_zones_whole_and_the_seats() -> None:
    # every block wants school 0 (cheapest), but 0 holds 3: a plan of whole zones in seats is the only answer
    r, g = line([0, 5], 8, [3, 5], demand=[1, 1, 1, 1, 1, 1, 1, 1])
    f = Frame.of(g.adjacency, g.roots, r.p.connector)
    school = np.array([0, 1, 0, 1, 1, 1, 0, 1])  # 2 and 6 are detached from 0; 1 from 1
    free = np.flatnonzero(movable_blocks(r.p, g))
    got = solve_window(r, f, school, free, detached=np.zeros(8, bool))
    assert got is not None
    plan, missing, _ = got
    assert missing == 0 and f.pieces(plan) == []
    assert plan.tolist() == [0, 0, 0, 1, 1, 1, 1, 1]


def test_improvement_keeps_whole_zones_whole_and_lowers_travel() -> None:
    r, g = line([0, 7], 8, [4, 6])
    f = Frame.of(g.adjacency, g.roots, r.p.connector)
    school = np.array([0, 0, 1, 1, 1, 1, 1, 1])  # whole, but 2 and 3 are nearer school 0, which has room

    def cost(s: np.ndarray) -> int:
        return int(sum(60 + 60 * abs(i - (0 if s[i] == 0 else 7)) for i in range(8)))

    got, windows, improved = improve_whole(r, f, school, movable_blocks(r.p, g), cost)
    assert got.tolist() == [0, 0, 0, 0, 1, 1, 1, 1]
    assert improved >= 1 and windows >= improved and f.pieces(got) == []


def test_improvement_leaves_a_piece_it_cannot_join_as_it_is() -> None:
    r, g = line([0, 9], 10, [6, 6])
    # a way round block 7 (6 - 8), so school 1's zone stays whole around it
    f = Frame.of(sp.csr_array(g.adjacency + sp.coo_array((np.ones(2), ([6, 8], [8, 6])), shape=(10, 10))), g.roots, r.p.connector)
    school = np.array([0, 0, 1, 1, 1, 1, 1, 0, 1, 1])  # block 7 is a piece of school 0; 2 and 3 are nearer 0

    def cost(s: np.ndarray) -> int:
        return int(sum(60 + 60 * abs(i - (0 if s[i] == 0 else 9)) for i in range(10)))

    got, _, improved = improve_whole(r, f, school, movable_blocks(r.p, g), cost)
    assert improved >= 1 and cost(got) < cost(school)
    assert [(j, pc.tolist()) for j, pc in f.pieces(got)] == [(0, [7])]


def test_improvement_starts_with_moves_that_keep_zones_whole() -> None:
    from planning.zones.connect import improve_plan

    r, g = line([0, 7], 8, [4, 6])
    school = np.array([0, 0, 1, 1, 1, 1, 1, 1])
    details: dict[str, float | int | str] = {}
    got = improve_plan(r, school, g, details)
    assert got.tolist() == [0, 0, 0, 0, 1, 1, 1, 1]
    # the shifts found it before any CP-SAT window
    assert details["whole_local_objective_s"] < details["whole_start_objective_s"] and details["whole_improvements"] == 0


def test_an_enclave_walled_off_from_its_only_school_is_proven() -> None:
    from planning.zones.contiguity import no_whole_plan, why_detached

    # b0 (s0's own) - b1 - b2 (s1's own) - b3 - b4: b3 and b4 reach only s0, and the one way to b0
    # crosses b2, s1's own block: no plan of whole zones exists
    t = np.array([[60, 900], [300, 300], [900, 60], [900, 3000], [950, 3100]])
    p = prepare(matrix(t), [5] * 5, [30, 30], reach=Reach(max_travel_s=1800), current=None, stability_weight_s=0)
    g = BlockGraph(row(5), np.array([0, 2]))
    school = np.array([0, 0, 1, 0, 0])
    assert no_whole_plan(p, g, 0, np.array([3, 4]))
    why = why_detached(p, school, 0, np.array([3, 4]), g)
    assert why.startswith("2 blocks of school s0's zone: the schools bordering it (s1) are beyond its travel limit")
    assert why.endswith("so no plan of whole zones exists")
    # a way round s1's block (b1 - b3): s0's zone can reach them, so it is not proven
    bypass = sp.csr_array(row(5) + sp.coo_array((np.ones(2), ([1, 3], [3, 1])), shape=(5, 5)))
    g2 = BlockGraph(bypass, np.array([0, 2]))
    assert not no_whole_plan(p, g2, 0, np.array([3, 4]))
    assert "no plan of whole zones exists" not in why_detached(p, np.array([0, 0, 1, 1, 0]), 0, np.array([4]), g2)


def test_a_block_walled_off_from_every_school_it_can_take_is_proven() -> None:
    from planning.zones.contiguity import no_whole_plan, why_detached

    # b0 (s0's own) - b1 - b2 (s2's own) - b3 - b4 - b5 (s1's own). b3 can take s0 and s1 (not s2): the way to
    # s0 crosses b2, s2's own block; the way to s1 crosses b4, which only s2 can take. No zone can hold b3
    # whole (the proof used to need a block only one school can take: b3 was "raise time_limit_s")
    t = np.array([[60, 3000, 900], [300, 3000, 300], [900, 3000, 60], [900, 900, 3000], [3000, 3000, 300], [3000, 60, 3000]])
    p = prepare(matrix(t), [5] * 6, [30, 30, 30], reach=Reach(max_travel_s=1800), current=None, stability_weight_s=0)
    g = BlockGraph(row(6), np.array([0, 5, 2]))
    school = np.array([0, 0, 2, 0, 2, 1])
    assert no_whole_plan(p, g, 0, np.array([3]))
    assert why_detached(p, school, 0, np.array([3]), g) == (
        "1 block of school s0's zone: block b3 can be taken only by schools s0, s1, and every way from it to their "
        "own blocks crosses blocks they cannot take (beyond their travel limit, or another school's own block), so no plan of whole zones exists"
    )
    # b4 in s1's reach too: the way to s1 is open, nothing is proven
    t[4, 1] = 900
    p = prepare(matrix(t), [5] * 6, [30, 30, 30], reach=Reach(max_travel_s=1800), current=None, stability_weight_s=0)
    assert not no_whole_plan(p, g, 0, np.array([3]))


def test_no_window_is_spent_on_a_piece_no_zone_can_hold_whole() -> None:
    from planning.zones import SolveLimits, ZoneOptions, from_arrays

    # the instance above: b3 fits no whole zone, nor does b4 (only s2 takes it, and its one way to b2 is b3,
    # beyond s2's reach): both stay detached pieces, said to be proven, and the contiguity pass solves no
    # window for them (the demo county 540235 spent its whole budget on six such villages)
    t = np.array([[60, 3000, 900], [300, 3000, 300], [900, 3000, 60], [900, 900, 3000], [3000, 3000, 300], [3000, 60, 3000]])
    g = BlockGraph(row(6), np.array([0, 5, 2]))
    plan = from_arrays(matrix(t), [5] * 6, [30, 30, 30], reach=Reach(max_travel_s=1800), graph=g,
                       options=ZoneOptions(contiguity=True), limits=SolveLimits(time_limit_s=5))
    assert [blocks for _, blocks in plan.enclaves] == [("b3",), ("b4",)]
    assert all(why.endswith("so no plan of whole zones exists") for why in plan.enclave_reasons)
    assert plan.details["connect_windows"] == 0 and plan.details["contiguity_rounds"] == 0


def test_a_piece_short_of_seats_says_so_in_one_sentence() -> None:
    from planning.zones.contiguity import why_detached

    r, g = line([0, 2], 4, [2, 2])
    why = why_detached(r.p, np.array([0, 1, 1, 0]), 0, np.array([3]), g)
    assert why == (
        "1 block of school s0's zone: its 1 student does not fit the free seats of the zones bordering it "
        "(at most 0, at school s1), and no chain of moves making room further out was found within the time limit; "
        "raise time_limit_s or add seats"
    )


def test_a_piece_holding_most_of_its_zone_says_the_zone_is_to_be_redrawn() -> None:
    from planning.zones.contiguity import why_detached

    # s0's own block holds 1 student, its piece at the far end 6: most of the zone is cut off
    r, g = line([0, 2], 4, [7, 3], demand=[1, 1, 3, 6])
    why = why_detached(r.p, np.array([0, 1, 1, 0]), 0, np.array([3]), g)
    assert "the piece holds 6 of the zone's 7 students (the zone is to be redrawn around school s0's own block)" in why


def test_a_piece_cut_off_by_one_block_of_another_zone_joins() -> None:
    from planning.zones.connect import _bridges

    # a row 0 … 6 and a shortcut 2 - 5: B = {2, 5, 6} is whole, and its block 2 cuts A = {0, 1, 3, 4} in two;
    # block 2 bridges the piece {3, 4} to A, and A's block 4 passes to B for the seat
    r, g = line([0, 6], 7, [4, 3])
    adjacency = sp.csr_array(g.adjacency + sp.coo_array((np.ones(2), ([2, 5], [5, 2])), shape=(7, 7)))
    f = Frame.of(adjacency, g.roots, r.p.connector)
    school = np.array([0, 0, 1, 0, 0, 1, 1])
    assert [(j, pc.tolist()) for j, pc in f.pieces(school)] == [(0, [3, 4])]
    pinned = ~movable_blocks(r.p, g)
    assert _bridges(r, f, school, np.array([3, 4]), np.array([2, 5]), pinned) == [2]
    got, joined = chain_and_polish(r, f, school, movable_blocks(r.p, g))
    assert joined == 1 and f.pieces(got) == []
    assert got.tolist() == [0, 0, 0, 0, 1, 1, 1]
