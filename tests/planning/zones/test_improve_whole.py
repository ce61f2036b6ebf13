"""Improvement of whole zones (planning.zones.connect.improve_whole): chain windows towards free seats."""

from __future__ import annotations

import numpy as np
import pytest

from planning.zones import connect
from planning.zones.connect import Frame, improve_whole, movable_blocks
from planning.zones.instance import BlockGraph, Reach, prepare
from planning.zones.repair import Repair, WorkBudget
from tests.planning.zones.test_connect import matrix, row

ROOTS = [0, 3, 6, 9]  # schools A, B, C, D on a row of 10 blocks, one student each


def _chain_instance(budget: float = 20.0) -> tuple[Repair, BlockGraph, np.ndarray]:
    """A, B, C full; D has one free seat. Block 2 of A is much nearer B (saves 780 s), but B can take it only
    if it passes block 5 to C (+60 s) and C passes block 8 to D (+60 s): every window of a zone and the zones
    it borders is full or finds only dearer plans; the chain A, B, C, D saves 660 s."""
    t = 60 + 60 * np.abs(np.arange(10)[:, None] - np.asarray(ROOTS)[None, :])
    t[2, 0] = 900
    t[5, 2] = t[5, 1] + 60
    t[8, 3] = t[8, 2] + 60
    p = prepare(matrix(t), [1] * 10, [3, 3, 3, 2], reach=Reach(max_travel_s=None), current=None, stability_weight_s=0)
    r = Repair(p, None, dict(enumerate(ROOTS)), None, None, 0, WorkBudget(budget))
    school = np.array([0, 0, 0, 1, 1, 1, 2, 2, 2, 3])
    return r, BlockGraph(row(10), np.asarray(ROOTS, np.int64)), school


def _cost(r: Repair):
    from planning.zones.connect import _plan_cost

    return lambda s: _plan_cost(r.p, s, None)


@pytest.mark.parametrize("chains", [False, True])
def test_a_chain_window_passes_seats_along_full_zones_to_free_ones(monkeypatch: pytest.MonkeyPatch, chains: bool) -> None:
    monkeypatch.setattr(connect, "IMPROVE_CHAINS", chains)
    if not chains:  # the windows before: a zone and every zone it borders, no pairs, no chains
        monkeypatch.setattr(connect, "IMPROVE_PAIRS", False)
        monkeypatch.setattr(connect, "IMPROVE_MAX_TIME", connect.CONNECT_MAX_TIME)
    r, g, school = _chain_instance()
    f = Frame.of(g.adjacency, g.roots, r.p.connector)
    got, windows, improved = improve_whole(r, f, school, movable_blocks(r.p, g), _cost(r))
    assert f.pieces(got) == []
    if chains:
        assert got.tolist() == [0, 0, 1, 1, 1, 2, 2, 2, 3, 3]
        assert improved == 1 and _cost(r)(school) - _cost(r)(got) == 660
    else:  # the windows of a zone and its neighbours find nothing
        assert got.tolist() == school.tolist() and improved == 0 and windows >= 3


def test_windows_over_two_zones_lower_the_travel_and_keep_zones_whole() -> None:
    # two zones on a row: A holds block 4, nearer B, which has the room; the window over the pair moves it
    t = 60 + 60 * np.abs(np.arange(8)[:, None] - np.array([0, 7])[None, :])
    p = prepare(matrix(t), [1] * 8, [5, 5], reach=Reach(max_travel_s=None), current=None, stability_weight_s=0)
    r = Repair(p, None, {0: 0, 1: 7}, None, None, 0, WorkBudget(5.0))
    f = Frame.of(row(8), np.array([0, 7], np.int64), p.connector)
    school = np.array([0, 0, 0, 0, 0, 1, 1, 1])
    g = BlockGraph(row(8), np.array([0, 7], np.int64))
    got, _, improved = improve_whole(r, f, school, movable_blocks(p, g), _cost(r))
    assert got.tolist() == [0, 0, 0, 0, 1, 1, 1, 1] and improved == 1 and f.pieces(got) == []


def test_a_short_budget_solves_the_windows_as_before() -> None:
    # below IMPROVE_MIN_WORK no pairs and no chains (their uncharged Python work would let the clock stop short runs)
    r, g, school = _chain_instance(budget=connect.IMPROVE_MIN_WORK / 2)
    f = Frame.of(g.adjacency, g.roots, r.p.connector)
    got, windows, improved = improve_whole(r, f, school, movable_blocks(r.p, g), _cost(r))
    assert got.tolist() == school.tolist() and improved == 0 and windows == 4  # one window per zone, none a pair
