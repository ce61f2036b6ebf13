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
        monkeypatch.setattr(connect, "IMPROVE_REGRET_CHAINS", False)
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


# W | A | B | C1 | C2 | C3 | D | X on a row: each zone 3 blocks, its school at its left end (X's at its right end)
AIM_ZONES = {"A": 0, "W": 1, "X": 2, "B": 3, "C1": 4, "C2": 5, "C3": 6, "D": 7}
AIM_BLOCKS = ["W"] * 3 + ["A"] * 3 + ["B"] * 3 + ["C1"] * 3 + ["C2"] * 3 + ["C3"] * 3 + ["D"] * 2 + ["X"] * 3


def _aimed_instance() -> tuple[Repair, BlockGraph, np.ndarray]:
    """Every zone full but D (one free seat). Block 5 of A is 900 s from its school, 120 s from B's; B can take it
    only if B passes block 8 to C1, C1 block 11 to C2, C2 block 14 to C3 and C3 block 17 to D (+60 s each): 540 s
    saved by the window over A, B, C1, C2, C3, D. No zone's neighbours hold that chain, and the price chains (seat
    prices all 0: the bordering zone of lowest index) turn to W or X, whose zones lead to no free seat."""
    n = len(AIM_BLOCKS)
    school = np.array([AIM_ZONES[z] for z in AIM_BLOCKS])
    roots = [AIM_BLOCKS.index(z) for z in AIM_ZONES]
    roots[AIM_ZONES["X"]] = n - 1
    t = np.where(school[:, None] == np.arange(len(AIM_ZONES))[None, :], 60, 1000)
    t[5, AIM_ZONES["A"]], t[5, AIM_ZONES["B"]] = 900, 120
    for b, z in ((8, "C1"), (11, "C2"), (14, "C3"), (17, "D")):
        t[b, AIM_ZONES[z]] = 120
    seats = [3] * len(AIM_ZONES)
    p = prepare(matrix(t), [1] * n, seats, reach=Reach(max_travel_s=None), current=None, stability_weight_s=0)
    r = Repair(p, None, dict(enumerate(roots)), None, None, 0, WorkBudget(20.0))
    return r, BlockGraph(row(n), np.asarray(roots, np.int64)), school


@pytest.mark.parametrize("aimed", [False, True])
def test_a_window_aimed_at_the_dearest_block_reaches_the_free_seat(monkeypatch: pytest.MonkeyPatch, aimed: bool) -> None:
    monkeypatch.setattr(connect, "IMPROVE_REGRET_CHAINS", aimed)
    r, g, school = _aimed_instance()
    f = Frame.of(g.adjacency, g.roots, r.p.connector)
    got, _, improved = improve_whole(r, f, school, movable_blocks(r.p, g), _cost(r))
    assert f.pieces(got) == []
    if aimed:
        want = school.copy()
        want[[5, 8, 11, 14, 17]] = [AIM_ZONES[z] for z in ("B", "C1", "C2", "C3", "D")]
        assert got.tolist() == want.tolist() and _cost(r)(school) - _cost(r)(got) == 540
    else:  # no window of a zone and its neighbours, no pair and no price chain holds A … D
        assert got.tolist() == school.tolist() and improved == 0


def test_the_aimed_chain_runs_from_the_dearest_block_s_zone_to_the_nearest_free_seat() -> None:
    from planning.zones.connect import _dearest_move, _regret_chain, zone_neighbours

    r, g, school = _aimed_instance()
    f = Frame.of(g.adjacency, g.roots, r.p.connector)
    movable = movable_blocks(r.p, g)
    assert _dearest_move(r, f, school, AIM_ZONES["A"], movable) == (5, AIM_ZONES["B"])
    zadj = zone_neighbours(f, school, len(AIM_ZONES))
    chain = _regret_chain(r, f, school, zadj, AIM_ZONES["A"], movable)
    assert chain.tolist() == [AIM_ZONES[z] for z in ("A", "B", "C1", "C2", "C3", "D")]
    # no block of W saves by moving: the chain is W alone
    assert _regret_chain(r, f, school, zadj, AIM_ZONES["W"], movable).tolist() == [AIM_ZONES["W"]]


def _long_chain_instance() -> tuple[Repair, BlockGraph, np.ndarray]:
    """Eight zones of three blocks on a row (the last, D, two blocks and a free seat), each school at its zone's
    left end, each zone full but D. Block 2 of A is 900 s from its school, 120 s from B's; B can take it only if
    each zone passes its last block to the next (+60 s each, six of them) down to D: 420 s saved by a chain of
    seven zones, longer than any window's (:data:`connect.IMPROVE_CHAIN_ZONES`)."""
    zones = 8
    school = np.minimum(np.arange(23) // 3, zones - 1)
    roots = [3 * j for j in range(zones)]
    t = np.where(school[:, None] == np.arange(zones)[None, :], 60, 1000)
    t[2, 0], t[2, 1] = 900, 120
    for j in range(1, zones - 1):
        t[3 * j + 2, j + 1] = 120
    p = prepare(matrix(t), [1] * 23, [3] * zones, reach=Reach(max_travel_s=None), current=None, stability_weight_s=0)
    r = Repair(p, None, dict(enumerate(roots)), None, None, 0, WorkBudget(20.0))
    return r, BlockGraph(row(23), np.asarray(roots, np.int64)), school


@pytest.mark.parametrize("every", [0.0, 1e-9])
def test_moves_keeping_zones_whole_between_the_windows_pass_seats_along_a_long_chain(
    monkeypatch: pytest.MonkeyPatch, every: float
) -> None:
    monkeypatch.setattr(connect, "IMPROVE_LOCAL_EVERY", every)
    r, g, school = _long_chain_instance()
    f = Frame.of(g.adjacency, g.roots, r.p.connector)
    got, _, _ = improve_whole(r, f, school, movable_blocks(r.p, g), _cost(r))
    assert f.pieces(got) == []
    if every:
        want = school.copy()
        want[[2, 5, 8, 11, 14, 17, 20]] += 1
        assert got.tolist() == want.tolist() and _cost(r)(school) - _cost(r)(got) == 420
    else:  # no window holds the chain
        assert got.tolist() == school.tolist()


def test_moves_keeping_zones_whole_are_not_run_again_on_the_plan_they_last_ran_on() -> None:
    from planning.zones.connect import _local_again, _Whole

    r, g, school = _long_chain_instance()
    f = Frame.of(g.adjacency, g.roots, r.p.connector)
    movable = movable_blocks(r.p, g)
    st = _Whole(school, _cost(r)(school), version=np.zeros(8, np.int64))
    assert _local_again(r, f, st, movable, _cost(r))  # the long chain: 420 s saved
    spent, plan = r.budget.spent, st.school.copy()
    assert spent > 0 and not _local_again(r, f, st, movable, _cost(r))
    assert r.budget.spent == spent and st.school.tolist() == plan.tolist()  # the same plan: nothing run, nothing charged
    # a window changes the plan (zone 0 takes a block back): the moves run again
    st.school, st.best = school, _cost(r)(school)
    assert _local_again(r, f, st, movable, _cost(r)) and r.budget.spent > spent


def test_windows_over_more_than_two_zones_free_the_seam_blocks_only(monkeypatch: pytest.MonkeyPatch) -> None:
    from planning.zones.connect import _Whole, _whole_window

    # A 0-2 | B 3-5 | C 6-8 | D 9, schools at 0, 3, 6, 9 (never free): seams 2|3 and 5|6
    r, g, school = _chain_instance()
    f = Frame.of(g.adjacency, g.roots, r.p.connector)
    freed: list[list[int]] = []

    def spy(r, f, school, free, **kwargs):
        freed.append(free.tolist())

    monkeypatch.setattr(connect, "solve_window", spy)
    st = _Whole(school, _cost(r)(school), version=np.zeros(4, np.int64))
    movable = movable_blocks(r.p, g)
    assert not _whole_window(r, f, st, np.array([0, 1, 2]), movable, _cost(r))
    assert not _whole_window(r, f, st, np.array([0, 1]), movable, _cost(r))
    # three zones: the blocks on a seam (before: and one hop into each zone, [1, 2, 4, 5]); a pair: one hop too
    assert freed == [[2, 5], [1, 2]]
