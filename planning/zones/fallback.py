"""The capacity fallback's first plan: whole blocks with overflow at a penalty, least overflow first, then travel.

When the seats in reach are short (or whole blocks cannot fit them), the zones
allow overflow at ``P`` seconds per student above capacity (``options.overflow_penalty``,
two hours by default: far above any travel a move saves). The relaxation then
puts the overflow at the schools that are truly short, but rounding its split
blocks to whole blocks leaves an excess at many schools, and the ejection chains
of :mod:`planning.zones.rounding` treat seats as hard: in a cluster of full
schools they find no room, stop, and leave that excess where the rounding put
it (on the demo county 610116: 1,703 students above capacity against a least
of about 300 for whole blocks, 124 for divisible ones).

:func:`overflow_search` scores every move with the penalty instead: the
objective is ``Σ_i d_i c_{i,s(i)} + P Σ_j max(L_j − c_j, 0)`` (``L_j`` the
students at ``j``), and it applies, while the objective falls,

- **shifts**: a block to another of its schools;
- **swaps**: two blocks of two schools exchange their schools;
- **two-step chains**: a block of an over-full school ``j`` moves to ``k``
  while a block of ``k`` moves on to ``l`` (the room is two zones away).

A move out of an over-full school into free seats saves ``P`` per student, so
the excess of the rounding drains to the free seats its blocks can reach, and
what is left is where no whole-block move can place it: at the schools that
are short. Ties and order are fixed (block, then school index), so the search
is deterministic. Its work is charged per pair evaluated (:data:`WORK_PER_EVAL`),
and a cap on the moves evaluated (``max_evaluated``, from the caller's work
budget) ends it after the pass that reaches the cap: the first pass drains most
of the excess, the later ones save a little travel each (the zones suite's two
towns 3,000 x 80 at slack 1.01: 656 students over after the first pass, 652
after the second and every later one, the objective 0.02 % lower after six
passes than after three), and without the cap a 15-second limit spent 20 work
units there against its 6.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from planning.zones.rounding import PairTable, loads, may_move, neighbour_lists, own_cost

#: Passes of the search at most (each tries every shift, then the swaps and chains out of over-full schools).
MAX_PASSES = 30
#: Improving exchanges tried, best first, out of an over-full school until one keeps the zones whole.
EXCHANGE_TRIES = 16
#: Work charged per move evaluated (numpy and Python: 0.4 CPU microseconds each on the demo
#: county 610116, 425,000 moves in 0.18 s; a work unit is about a CPU second).
WORK_PER_EVAL = 4e-7


@dataclass(frozen=True)
class SearchStats:
    """What :func:`overflow_search` did: shifts and exchanges (swaps or two-step chains) applied, moves evaluated."""

    shifts: int = 0
    exchanges: int = 0
    evaluated: int = 0


def over_cost(load: NDArray[np.int64] | int, capacity: NDArray[np.int64] | int, penalty: int) -> NDArray[np.int64] | int:
    """Penalty of the students above capacity."""
    return penalty * np.maximum(np.asarray(load) - capacity, 0)


def objective(p: PairTable, school: NDArray[np.int64], capacity: NDArray[np.int64], penalty: int) -> int:
    """``Σ_i d_i c_{i,s(i)} + P Σ_j max(L_j − c_j, 0)`` over the blocks with a school among ``p``'s pairs."""
    mine = own_cost(p, school)
    ok = np.isfinite(mine) & (p.demand > 0)
    travel = int((mine[ok] * p.demand[ok]).sum())
    return travel + int(np.sum(over_cost(loads(p, school, len(capacity)), capacity, penalty)))


class _State:
    """The plan being searched, its loads and the pairs of each school's blocks."""

    def __init__(
        self, p: PairTable, school: NDArray[np.int64], capacity: NDArray[np.int64], penalty: int, movable: NDArray[np.bool_],
        adjacency: sp.csr_array | None,
    ) -> None:
        self.p, self.capacity, self.penalty = p, capacity, penalty
        self.nbrs = None if adjacency is None else neighbour_lists(adjacency)
        self.school = school.copy()
        self.load = loads(p, self.school, len(capacity))
        self.can = movable & (self.school >= 0) & (p.demand > 0)
        self.evaluated = 0

    def d_over(self, j: int, change: int) -> int:
        """Change of the penalty at school ``j`` when ``change`` students join it (leave: negative)."""
        c, load = int(self.capacity[j]), int(self.load[j])
        return self.penalty * (max(load + change - c, 0) - max(load - c, 0))

    def may(self, i: int, to: int) -> bool:
        """Whether block ``i`` may move to ``to``: always without adjacency, else into a zone it borders without cutting its own."""
        return self.nbrs is None or may_move(self.nbrs, self.school, i, to)

    def move(self, i: int, to: int) -> None:
        d = int(self.p.demand[i])
        self.load[self.school[i]] -= d
        self.load[to] += d
        self.school[i] = to


def _shifts(s: _State) -> int:
    """Every improving shift, best first, each block once (in place)."""
    p = s.p
    mine = own_cost(p, s.school)
    j = s.school[p.origin]
    d = p.demand[p.origin]
    ok = s.can[p.origin] & (p.dest != j) & (j >= 0)
    q = np.flatnonzero(ok)
    s.evaluated += len(q)
    if not len(q):
        return 0
    load, cap, pen = s.load, s.capacity, s.penalty
    jq, kq, dq = j[q], p.dest[q], d[q]
    delta = (p.cost[q] - mine[p.origin[q]]) * dq
    delta = delta + pen * (np.maximum(load[jq] - dq - cap[jq], 0) - np.maximum(load[jq] - cap[jq], 0))
    delta = delta + pen * (np.maximum(load[kq] + dq - cap[kq], 0) - np.maximum(load[kq] - cap[kq], 0))
    q = q[delta < 0]
    q = q[np.lexsort((q, delta[delta < 0]))]
    done = np.zeros(len(s.school), bool)
    applied = 0
    for k in q.tolist():
        i, to = int(p.origin[k]), int(p.dest[k])
        if done[i]:
            continue
        frm, di = int(s.school[i]), int(p.demand[i])
        dt = (int(p.cost[k]) - int(mine[i])) * di + s.d_over(frm, -di) + s.d_over(to, di)
        if dt < 0 and s.may(i, to):
            s.move(i, to)
            done[i] = True
            applied += 1
    return applied


def _pairs_by_school(s: _State) -> dict[int, NDArray[np.int64]]:
    """The pairs of the movable blocks of each school (block order), for the swaps and chains."""
    p = s.p
    q = np.flatnonzero(s.can[p.origin] & (p.dest != s.school[p.origin]))
    at = s.school[p.origin[q]]
    order = np.argsort(at, kind="stable")
    q, at = q[order], at[order]
    if not len(q):
        return {}
    cut = np.flatnonzero(np.r_[True, at[1:] != at[:-1]])
    ends = np.r_[cut[1:], len(at)]
    return {int(at[a]): q[a:b] for a, b in zip(cut.tolist(), ends.tolist(), strict=True)}


def _out_of(s: _State, j: int, by_school: dict[int, NDArray[np.int64]], touched: NDArray[np.bool_]) -> int:
    """The best swap or two-step chain moving students out of over-full school ``j`` (in place): 1 if applied."""
    p, cap, pen, load = s.p, s.capacity, s.penalty, s.load
    mine = own_cost(p, s.school)
    found: list[tuple[int, int, int, int, int]] = []
    for k1 in by_school.get(j, np.empty(0, np.int64)).tolist():
        i, k = int(p.origin[k1]), int(p.dest[k1])
        if touched[k] or s.school[i] != j:
            continue
        di = int(p.demand[i])
        first = (int(p.cost[k1]) - int(mine[i])) * di + s.d_over(j, -di)
        q = by_school.get(k, np.empty(0, np.int64))
        q = q[(s.school[p.origin[q]] == k) & ~touched[p.dest[q]]]
        if not len(q):
            continue
        s.evaluated += len(q)
        i2, l2, d2 = p.origin[q], p.dest[q], p.demand[p.origin[q]]
        second = (p.cost[q] - mine[i2]) * d2
        at_k = pen * (np.maximum(load[k] + di - d2 - cap[k], 0) - max(int(load[k]) - int(cap[k]), 0))
        # l2 == j: a swap (j gets d2 back); else a chain (l2 takes d2)
        at_l = np.where(
            l2 == j,
            pen * (np.maximum(load[j] - di + d2 - cap[j], 0) - max(int(load[j]) - di - int(cap[j]), 0)),
            pen * (np.maximum(load[l2] + d2 - cap[l2], 0) - np.maximum(load[l2] - cap[l2], 0)),
        )
        total = first + second + at_k + at_l
        best = np.flatnonzero(total < 0)[np.argsort(total[total < 0], kind="stable")][:EXCHANGE_TRIES]
        found.extend((int(total[a]), i, k, int(i2[a]), int(l2[a])) for a in best.tolist())
    for _, i, k, i2, l2 in sorted(found)[:EXCHANGE_TRIES]:
        if not s.may(i, k):
            continue
        s.move(i, k)  # one move after the other: each block may be the other's only link to its new zone
        if not s.may(i2, l2):
            s.move(i, j)
            continue
        s.move(i2, l2)
        touched[[j, k, l2]] = True
        return 1
    return 0


def overflow_search(
    p: PairTable,
    school: NDArray[np.int64],
    capacity: NDArray[np.int64],
    penalty: int,
    *,
    movable: NDArray[np.bool_] | None = None,
    adjacency: sp.csr_array | None = None,
    max_passes: int = MAX_PASSES,
    max_evaluated: int | None = None,
) -> tuple[NDArray[np.int64], SearchStats]:
    """Shifts, swaps and two-step chains while travel plus the overflow penalty falls (see the module docstring).

    Parameters
    ----------
    p
        Pair table (each block's candidate schools, sorted by block then cost).
    school
        A whole-block plan (−1: no school, left alone); schools may be above capacity.
    capacity
        Seats of each school.
    penalty
        Seconds per student above capacity.
    movable
        Blocks the search may move (default: every block with a school and students).
    adjacency
        Block adjacency: when given, a block only moves to a zone it borders
        and never cuts its own zone, so whole zones stay whole.
    max_passes
        Passes at most.
    max_evaluated
        Moves evaluated at most (``None``: no cap): checked before each pass
        and before each exchange out of an over-full school after the first
        pass, so the search always makes one whole pass.

    Returns
    -------
    school, stats
        The improved plan (never costlier) and what the search did.
    """
    s = _State(p, school, capacity, penalty, np.ones(len(school), bool) if movable is None else movable, adjacency)
    shifts = swaps = 0
    cap = None if max_evaluated is None else int(max_evaluated)
    for k in range(max_passes):
        if k and cap is not None and s.evaluated >= cap:
            break
        moved = _shifts(s)
        shifts += moved
        by_school = _pairs_by_school(s)
        touched = np.zeros(len(capacity), bool)
        over = np.flatnonzero(s.load > capacity)
        for j in over[np.lexsort((over, -(s.load[over] - capacity[over])))].tolist():
            if k and cap is not None and s.evaluated >= cap:
                break
            if not touched[j] and s.load[j] > capacity[j]:
                got = _out_of(s, j, by_school, touched)
                swaps += got
                moved += got
        if not moved:
            break
    return s.school, SearchStats(shifts=shifts, exchanges=swaps, evaluated=s.evaluated)
