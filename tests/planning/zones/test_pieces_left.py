"""Pieces left detached when the contiguity pass's budget runs out (issue 16, zones suite town 6,000 x 150 at slack 1.01).

The hand-over of pieces by ejection chains (:func:`planning.zones.connect.chain_pieces`)
let a chain run for thousands of moves (a tenth of them over 1,900) and, when no move
kept zones whole, go on with moves cutting zones, a plan never kept: those chains spent
the whole work budget and 77 pieces were left. A chain now stops after
:data:`planning.zones.connect.CHAIN_MAX_MOVES` moves or when no move keeps zones whole.
"""

from __future__ import annotations

import numpy as np
import pytest

from planning.zones import connect
from planning.zones.connect import Frame, chain_and_polish, movable_blocks
from planning.zones.instance import BlockGraph
from planning.zones.repair import Repair
from planning.zones.rounding import ejection_repair
from tests.planning.zones.test_connect import line as connect_line


def line(roots: list[int], seats: list[int], demand: list[int], budget: float) -> tuple[Repair, BlockGraph]:
    """Blocks in a row, schools at ``roots``, travel 60 s per block apart (plus 60): ``test_connect.line``."""
    return connect_line(roots, len(demand), seats, demand, budget=budget)


def test_a_chain_stops_after_its_most_moves_and_the_hand_over_is_not_kept() -> None:
    # Row 0 … 6: A = {0 … 5} (root 0, 3 seats, 6 students), B = {6} (root 6, 10 seats). The chains
    # pass A's blocks 5, 4, 3 to B one round each; capped at one move they stop with A over by 2.
    r, g = line([0, 6], [3, 10], [1] * 7, budget=1.0)
    p, school = r.p, np.array([0, 0, 0, 0, 0, 0, 1])
    pinned = np.isin(np.arange(7), [0, 6])
    full, fs = ejection_repair(p, school, p.capacity, np.zeros(2), adjacency=g.adjacency, pinned=pinned)
    assert full.tolist() == [0, 0, 0, 1, 1, 1, 1] and fs.chain_moves == 3
    short, ss = ejection_repair(p, school, p.capacity, np.zeros(2), adjacency=g.adjacency, pinned=pinned, max_moves=1)
    assert ss.chain_moves == 1 and short.tolist() == [0, 0, 0, 0, 0, 1, 1]


def test_chain_pieces_gives_up_a_hand_over_longer_than_its_most_moves(monkeypatch: pytest.MonkeyPatch) -> None:
    # Row 0 … 8: A = {0, 1, 2, 7} (root 0), B = {3 … 6} (root 6), C = {8}. A's block 7 (3 students)
    # goes to B, which passes 3, 4 and 5 back to A, one round each: joined with the default cap, given
    # up when one move is the most.
    demand = [1] * 9
    demand[7] = 3
    school = np.array([0, 0, 0, 1, 1, 1, 1, 0, 2])
    for cap in (connect.CHAIN_MAX_MOVES, 1):
        monkeypatch.setattr(connect, "CHAIN_MAX_MOVES", cap)
        r, g = line([0, 6, 8], [6, 4, 1], demand, budget=1.0)
        f = Frame.of(g.adjacency, g.roots, r.p.connector)
        got, joined = connect.chain_pieces(r, f, school)
        if cap > 1:
            assert joined == 1 and got.tolist() == [0, 0, 0, 0, 0, 0, 1, 1, 2]
        else:
            assert joined == 0 and got.tolist() == school.tolist()


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
