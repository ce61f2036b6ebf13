"""Contiguity helpers on hand-drawn block graphs."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import scipy.sparse as sp

from planning.zones.contiguity import band, connector_components, detached_pieces, neighbour_rule, piece_border, swap_in
from planning.zones.rounding import LocalPairs


def graph(n: int, edges: list[tuple[int, int]]) -> sp.csr_array:
    a = np.array(edges).T
    return sp.coo_array((np.ones(2 * len(edges), bool), (np.r_[a[0], a[1]], np.r_[a[1], a[0]])), shape=(n, n)).tocsr()


# 0 - 1 - 2 - 3 - 4 - 5 in a row
ROW = graph(6, [(0, 1), (1, 2), (2, 3), (3, 4), (4, 5)])
NONE = np.zeros(6, bool)


def test_enclave_is_detached_and_root_piece_is_not() -> None:
    school = np.array([0, 0, 1, 0, 1, 1])
    pieces = detached_pieces(school, ROW, np.array([0, 5]), NONE)
    assert [(j, b.tolist()) for j, b in pieces] == [(0, [3]), (1, [2])]


def test_connectors_join_the_zones_they_touch() -> None:
    # block 2 and 3 have no school in reach: A's blocks 0-1 and 4 are one zone through them
    school = np.array([0, 0, -1, -1, 0, 1])
    connector = np.array([False, False, True, True, False, False])
    assert detached_pieces(school, ROW, np.array([0, 5]), connector) == []
    # as holes, block 4 is cut off from A's root
    assert [(j, b.tolist()) for j, b in detached_pieces(school, ROW, np.array([0, 5]), NONE)] == [(0, [4])]


def test_one_connector_group_joins_two_zones_separately() -> None:
    # 0 A | 1 conn | 2 B, and 3 A: the connector joins A's 0 with nothing of A, B's 2 with nothing of B
    g = graph(5, [(0, 1), (1, 2), (2, 3), (3, 4)])
    school = np.array([0, -1, 1, 0, 1])
    connector = np.array([False, True, False, False, False])
    pieces = detached_pieces(school, g, np.array([0, 4]), connector)
    assert [(j, b.tolist()) for j, b in pieces] == [(0, [3]), (1, [2])]


def test_root_that_is_a_connector_holds_what_reaches_it() -> None:
    school = np.array([0, -1, 0, 1, 1, 1])
    connector = np.array([False, True, False, False, False, False])
    assert detached_pieces(school, ROW, np.array([1, 5]), connector) == []


def test_border_reaches_through_connectors() -> None:
    connector = np.array([False, False, True, True, False, False])
    assert piece_border(np.array([1]), ROW, connector).tolist() == [0, 4]
    assert piece_border(np.array([1]), ROW, NONE).tolist() == [0, 2]
    assert connector_components(ROW, connector).tolist() == [-1, -1, 0, 0, -1, -1]


def test_band_grows_hop_by_hop_through_passable_blocks() -> None:
    passable = np.array([True, True, True, False, True, True])
    assert band(np.array([1]), ROW, passable, min_blocks=2, max_hops=5).tolist() == [0, 1, 2]
    assert band(np.array([1]), ROW, passable, min_blocks=10, max_hops=5).tolist() == [0, 1, 2]
    assert band(np.array([4]), ROW, np.ones(6, bool), min_blocks=1, max_hops=5).tolist() == [4]


def test_neighbour_rule_cuts() -> None:
    school = np.array([0, 0, 1, 1, 2, 2])
    cuts = neighbour_rule(np.array([2]), school, [np.array([0, 1, 2])], ROW, np.array([0, 3, 5]))
    got = {j: border.tolist() for j, piece, border in cuts}
    assert all(piece.tolist() == [2] for _, piece, _ in cuts)
    # A and B are next to block 2; C is nowhere near: block 2 may not take it
    assert got == {0: [1, 3], 1: [1, 3], 2: []}
    # a school's own root block is exempt
    assert neighbour_rule(np.array([3]), school, [np.array([1])], ROW, np.array([0, 3, 5])) == []


def test_swap_in_makes_room_in_a_full_zone() -> None:
    # A (root 0) = {0, 1, 3}, B (root 5) = {2, 4, 5}, 10 students each, 30 seats each.
    # Block 3 touches only B's 2 and 4: a detached piece of A. B is full, so B hands
    # its edge block 2 to A (which gains the piece's seats) and takes 3: A = {0, 1, 2}.
    g = graph(6, [(0, 1), (1, 2), (2, 3), (3, 4), (2, 4), (4, 5)])
    school = np.array([0, 0, 1, 0, 1, 1])
    roots = np.array([0, 5])
    pieces = detached_pieces(school, g, roots, NONE)
    assert [(j, b.tolist()) for j, b in pieces] == [(0, [3])]
    start = np.arange(0, 13, 2)
    dest = np.tile([0, 1], 6)
    cost = np.array([0, 50, 10, 40, 20, 30, 30, 20, 40, 10, 50, 0])
    detached = np.isin(np.arange(6), [3])
    demand = np.full(6, 10)
    pairs = LocalPairs(origin=np.repeat(np.arange(6), 2), dest=dest, cost=cost, start=start, demand=demand)
    moves = swap_in(
        np.array([3]), school, adjacency=g, roots=roots, detached=detached, room=np.array([0, 0]), pairs=pairs,
    )
    assert moves is not None
    assert [(b.tolist(), k) for b, k in moves] == [([3], 1), ([2], 0)]
    for blocks, k in moves:
        school[blocks] = k
    assert detached_pieces(school, g, roots, NONE) == []
    # with no zone able to give a block away, there is no move
    assert swap_in(
        np.array([3]), np.array([0, 0, 1, 0, 1, 1]), adjacency=g, roots=roots, detached=detached,
        room=np.array([-100, 0]), pairs=dataclasses.replace(pairs, demand=np.array([10, 10, 10, 10, 10, 10])),
    ) is None


def test_pace_is_behind_when_the_pieces_left_cannot_be_joined_in_the_budget_left() -> None:
    # 10 pieces at the start; 2 units later 6 are left: 0.5 unit a piece, 3 units for the 6 left.
    from planning.zones.contiguity import Pace
    from planning.zones.repair import WorkBudget

    budget = WorkBudget(10.0)
    budget.spent = 1.0
    pace = Pace(budget, budget.spent)
    assert not pace.behind(10)  # counts the start: no rate yet
    budget.spent = 3.0
    assert not pace.behind(10)  # nothing joined: still no rate
    assert not pace.behind(6)  # 3 units wanted, 7 left
    budget.limit = 5.5
    assert pace.behind(6)  # 3 units wanted, 2.5 left
    assert not pace.behind(0)  # every piece joined


def _row_mend(limit: float, monkeypatch: pytest.MonkeyPatch) -> tuple[dict[str, float | int | str], list[str], list]:
    """make_contiguous on the row with zones A = {0, 2, 4}, B = {1, 3, 5} (four pieces), its steps stubbed.

    The chains join two pieces for 3 units (A takes block 1, then A = {0, 1, 2, 4}, B = {3, 5}); the
    steps called are listed.
    """
    from planning.zones import BlockGraph, Reach, contiguity
    from planning.zones.connect import Joined
    from planning.zones.contiguity import Pace, make_contiguous
    from planning.zones.instance import prepare
    from planning.zones.repair import Repair, WorkBudget
    from tests.planning.zones.test_connect import matrix

    called: list[str] = []

    def chains(r, frame, school):
        called.append("chains")
        r.budget.add(3.0)
        return np.array([0, 0, 0, 1, 0, 1]), 2

    def polish(r, frame, school, movable, **kw):
        called.append("polish")
        return school, 0

    def windows(r, frame, school, movable):
        called.append("windows")
        return np.array([0, 0, 0, 1, 1, 1]), Joined(windows=1)

    monkeypatch.setattr(contiguity, "_swap_pieces", lambda mm, school: 0)
    monkeypatch.setattr(contiguity, "chain_pieces", chains)
    monkeypatch.setattr(contiguity, "chain_and_polish", polish)
    monkeypatch.setattr(contiguity, "connect_pieces", windows)
    t = np.array([[0, 500], [100, 400], [200, 300], [300, 200], [400, 100], [500, 0]])
    p = prepare(matrix(t), [10] * 6, [40, 40], reach=Reach(max_travel_s=None), current=None, stability_weight_s=0)
    budget = WorkBudget(limit)
    r = Repair(p, None, {0: 0, 1: 5}, None, None, 0, budget)
    details: dict[str, float | int | str] = {}
    _, _, left = make_contiguous(r, np.array([0, 1, 0, 1, 0, 1]), BlockGraph(ROW, np.array([0, 5])), [], details,
                                 pace=Pace(budget, 0.0))
    return details, called, left


def test_a_pass_behind_its_pace_stops_before_the_polish_and_the_windows(monkeypatch: pytest.MonkeyPatch) -> None:
    # 3 units for 2 of 4 pieces: the 2 left want 3 more. With 5 units in all (2 left) the pass stops
    # with its 2 pieces; with 10 (7 left) it goes on to the polish and the windows, which join them.
    details, called, left = _row_mend(5.0, monkeypatch)
    assert called == ["chains"] and details["mend_behind_pace"] == 2
    assert [(j, b.tolist()) for j, b in left] == [(0, [4]), (1, [3])]
    details, called, left = _row_mend(10.0, monkeypatch)
    assert called == ["chains", "polish", "polish", "windows"] and "mend_behind_pace" not in details
    assert left == []
