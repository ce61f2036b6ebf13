"""Cheap windows of whole plans (planning.zones.connect._cheap_window): no connectivity model, no new piece."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from planning.zones import connect
from planning.zones.connect import Frame, _cheap_window, _Whole, improve_whole, movable_blocks
from planning.zones.instance import BlockGraph, Reach, prepare
from planning.zones.repair import Repair, WorkBudget
from tests.planning.zones.test_connect import matrix, row


def _row_instance(n: int, roots: list[int], school: list[int], cap: list[int], budget: float = 5.0):
    """Blocks on a row, one student each, travel 60 s per block from each school's root."""
    t = 60 + 60 * np.abs(np.arange(n)[:, None] - np.asarray(roots)[None, :])
    p = prepare(matrix(t), [1] * n, cap, reach=Reach(max_travel_s=None), current=None, stability_weight_s=0)
    r = Repair(p, None, dict(enumerate(roots)), None, None, 0, WorkBudget(budget))
    g = BlockGraph(row(n), np.asarray(roots, np.int64))
    return r, g, Frame.of(g.adjacency, g.roots, p.connector), np.asarray(school, np.int64)


def _cost(r: Repair):
    return lambda s: connect._plan_cost(r.p, s, None)


def test_a_cheap_window_moves_a_seam_and_keeps_zones_whole() -> None:
    # A (root 0) holds blocks 0-4, B (root 7) 5-7 with room: block 4 is nearer B (180 s against 240 s)
    r, g, f, school = _row_instance(8, [0, 7], [0, 0, 0, 0, 0, 1, 1, 1], [5, 5])
    st = _Whole(school, _cost(r)(school), version=np.zeros(2, np.int64))
    assert _cheap_window(r, f, st, np.array([0, 1]), movable_blocks(r.p, g), _cost(r))
    assert st.school.tolist() == [0, 0, 0, 0, 1, 1, 1, 1] and st.best == _cost(r)(school) - 60
    assert f.pieces(st.school) == [] and st.improved == 1


def _grid_instance(cheaper: dict[int, int]) -> tuple[Repair, BlockGraph, Frame, np.ndarray]:
    """A 3 x 3 grid (block = 3 row + column), one student each: A (root 0) holds the top two rows, B (root 8) the
    bottom row; travel 60 s per step from each root, except ``cheaper``'s blocks, 60 s from B."""
    xy = np.array([(b // 3, b % 3) for b in range(9)])
    t = 60 + 60 * np.abs(xy[:, None, :] - xy[[0, 8]][None, :, :]).sum(-1)
    for b, s in cheaper.items():
        t[b, 1] = s
    p = prepare(matrix(t), [1] * 9, [6, 5], reach=Reach(max_travel_s=None), current=None, stability_weight_s=0)
    r = Repair(p, None, {0: 0, 1: 8}, None, None, 0, WorkBudget(5.0))
    i, j = zip(*[(a, b) for a in range(9) for b in range(9) if abs(xy[a] - xy[b]).sum() == 1], strict=True)
    adj = sp.csr_array((np.ones(len(i)), (i, j)), shape=(9, 9))
    g = BlockGraph(adj, np.array([0, 8], np.int64))
    return r, g, Frame.of(adj, g.roots, p.connector), np.array([0, 0, 0, 0, 0, 0, 1, 1, 1])


def test_a_cheap_window_gives_back_the_blocks_it_would_detach(monkeypatch: pytest.MonkeyPatch) -> None:
    # the solve (faked) hands block 3 (next to B's 6) and block 2 (next to A's only) to B: block 2 is a piece of B.
    # Given back to A, the plan keeps block 3's move, whole and 60 s cheaper
    r, g, f, school = _grid_instance({2: 60, 3: 60})
    monkeypatch.setattr(connect, "solve_sub", lambda *a, **k: (np.array([0, 0, 1, 1, 0, 0, 1, 1, 1]), 4, 0))
    st = _Whole(school, _cost(r)(school), version=np.zeros(2, np.int64))
    assert _cheap_window(r, f, st, np.array([0, 1]), movable_blocks(r.p, g), _cost(r))
    assert st.school.tolist() == [0, 0, 0, 1, 0, 0, 1, 1, 1] and f.pieces(st.school) == []
    assert st.best == _cost(r)(school) - 60


def test_a_cheap_window_never_keeps_a_plan_in_pieces(monkeypatch: pytest.MonkeyPatch) -> None:
    # the faked solve hands blocks 1 and 4 to B (joined to B through 7): cheaper, but A's blocks 2 and 5 are cut off
    # from its root, and they never moved, so nothing is given back; the window keeps the plan it started from
    r, g, f, school = _grid_instance({1: 60, 4: 60})
    monkeypatch.setattr(connect, "solve_sub", lambda *a, **k: (np.array([0, 1, 0, 0, 1, 0, 1, 1, 1]), 4, 0))
    st = _Whole(school, _cost(r)(school), version=np.zeros(2, np.int64))
    assert _cost(r)(np.array([0, 1, 0, 0, 1, 0, 1, 1, 1])) < st.best
    assert not _cheap_window(r, f, st, np.array([0, 1]), movable_blocks(r.p, g), _cost(r))
    assert st.school.tolist() == school.tolist() and st.improved == 0


def test_every_seed_gets_a_cheap_window_before_any_window_with_trees(monkeypatch: pytest.MonkeyPatch) -> None:
    # four zones of 3 blocks on a row; the first windows (one per seed) are cheap ones, the rooted trees come after
    roots = [0, 3, 6, 9]
    r, g, f, school = _row_instance(12, roots, [0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3], [3, 3, 3, 3],
                                    budget=connect.IMPROVE_MIN_WORK + 1)
    calls: list[str] = []
    cheap, trees = connect._cheap_window, connect.solve_window

    def spy_cheap(*a, **k):
        calls.append("cheap")
        return cheap(*a, **k)

    def spy_trees(*a, **k):
        calls.append("trees")
        return trees(*a, **k)

    monkeypatch.setattr(connect, "_cheap_window", spy_cheap)
    monkeypatch.setattr(connect, "solve_window", spy_trees)
    got, _, _ = improve_whole(r, f, school, movable_blocks(r.p, g), _cost(r))
    assert calls[:4] == ["cheap"] * 4 and "trees" in calls[4:]
    assert f.pieces(got) == []


def test_a_pass_of_cheap_windows_stops_at_its_share_of_the_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    # each (faked) cheap window costs a quarter of the budget: a pass given half of it solves two of the four seeds
    r, g, f, school = _row_instance(12, [0, 3, 6, 9], [0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3], [3, 3, 3, 3], budget=8.0)
    seeds: list[int] = []

    def fake(r, f, st, zones, movable, cost):
        seeds.append(int(zones[0]))
        r.budget.add(2.0)
        return False

    monkeypatch.setattr(connect, "_cheap_window", fake)
    monkeypatch.setattr(connect, "CHEAP_MAX_SHARE", 0.5)
    st = _Whole(school, _cost(r)(school), version=np.zeros(4, np.int64))
    assert connect._cheap_pass(r, f, st, movable_blocks(r.p, g), _cost(r)) == 0
    assert len(seeds) == 2 and r.budget.spent == 4.0
