"""Pieces left detached when the contiguity pass's budget runs out (issue 16, zones suite town 6,000 x 150 at slack 1.01).

The hand-over of pieces by ejection chains (:func:`planning.zones.connect.chain_pieces`)
took the pieces in school order: the large pieces' long chains spent the whole work
budget and 77 pieces were left. Pieces with fewest students go first now, and a chain
that finds no move keeping zones whole stops (its plan is never kept) instead of
spending rounds on moves that cut zones.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from geo.travel import TravelMatrix
from planning.zones.connect import CHAIN_WORK_PER_PAIR, Frame, chain_and_polish, chain_pieces, movable_blocks
from planning.zones.instance import BlockGraph, Reach, prepare
from planning.zones.repair import Repair, WorkBudget
from planning.zones.rounding import ejection_repair


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


def line(roots: list[int], seats: list[int], demand: list[int], budget: float) -> tuple[Repair, BlockGraph]:
    """Blocks in a row, schools at ``roots``, travel 60 s per block apart (plus 60)."""
    n = len(demand)
    t = 60 + 60 * np.abs(np.arange(n)[:, None] - np.asarray(roots)[None, :])
    p = prepare(matrix(t), demand, seats, reach=Reach(max_travel_s=None), current=None, stability_weight_s=0)
    r = Repair(p, None, dict(enumerate(roots)), None, None, 0, WorkBudget(budget))
    return r, BlockGraph(row(n), np.asarray(roots, np.int64))


def test_the_budget_joins_the_piece_with_fewest_students_first() -> None:
    # Row 0 … 11, roots A 2, B 5, C 8, D 10. Block 0 of B (1 student) lies beyond A, which has the
    # seat for it (a hand-over without a chain); block 11 of A (9 students) lies beyond D, full, and
    # no school can make room for it. With work for one hand-over the small piece goes first and is
    # joined (in school order A's piece spent it and both stayed detached).
    demand = [1] * 12
    demand[11] = 9
    school = np.array([1, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 0])
    r, g = line([2, 5, 8, 10], [12, 3, 3, 2], demand, budget=0.5 * CHAIN_WORK_PER_PAIR * 12 * 4)
    f = Frame.of(g.adjacency, g.roots, r.p.connector)
    assert [(j, pc.tolist()) for j, pc in f.pieces(school)] == [(0, [11]), (1, [0])]
    got, joined = chain_pieces(r, f, school)
    assert joined == 1 and r.budget.exhausted()
    assert got.tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 0]
    assert [(j, pc.tolist()) for j, pc in f.pieces(got)] == [(0, [11])]


def test_a_chain_keeping_zones_whole_only_gives_up_rather_than_cut_a_zone() -> None:
    # Row 0 - 1 - 2 - 3: A = {0, 1, 2} (root 1, 3 seats, 7 students), B = {3} (root 3, 10 seats).
    # Block 2 goes to B keeping both whole; block 0 (5 students) borders no zone but A: moving it
    # cuts it off. ``whole_only`` stops there (A still over); without it the chains move block 0.
    r, g = line([1, 3], [3, 10], [5, 1, 1, 1], budget=1.0)
    p, school = r.p, np.array([0, 0, 0, 1])
    pinned = np.isin(np.arange(4), [1, 3])
    f = Frame.of(g.adjacency, g.roots, p.connector)
    whole, ws = ejection_repair(p, school, p.capacity, np.zeros(2), adjacency=g.adjacency, pinned=pinned, whole_only=True)
    assert ws.kept_whole and f.pieces(whole) == [] and whole.tolist() == [0, 0, 1, 1]
    cut, cs = ejection_repair(p, school, p.capacity, np.zeros(2), adjacency=g.adjacency, pinned=pinned)
    assert not cs.kept_whole and cut.tolist() == [1, 0, 1, 1] and cs.chain_rounds > ws.chain_rounds


def test_chain_and_polish_counts_the_pieces_it_joined_when_the_budget_stops_it() -> None:
    # As above, but D has the 9 seats and B one more: A's piece is handed over (its window and B's piece
    # find the budget spent). The count said 0 (town 6,000 x 150: 0 joined, 103 pieces fewer).
    demand = [1] * 12
    demand[11] = 9
    school = np.array([1, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 0])
    r, g = line([2, 5, 8, 10], [12, 4, 3, 11], demand, budget=1e-6)
    f = Frame.of(g.adjacency, g.roots, r.p.connector)
    got, joined = chain_and_polish(r, f, school, movable_blocks(r.p, g))
    assert r.budget.exhausted() and got[11] == 3 and got[0] == 1
    assert joined == 1 and [(j, pc.tolist()) for j, pc in f.pieces(got)] == [(1, [0])]
