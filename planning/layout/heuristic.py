"""Primal heuristic of the facility-location core: assign to a set of open sites, then local search.

Phases, each deterministic (fixed orders, no random numbers):

- ``assign_greedy``: units in order of regret (second-cheapest minus cheapest open site, largest
  first; then by demand) go to the cheapest open site with room; a second pass by demand alone
  (first-fit decreasing) when the first strands a unit.
- ``assign_transport``: the transportation LP over the open sites (HiGHS; units may split), each
  unit to its largest share, overloads relieved by ``repair`` (moves at least cost per unit of
  overload removed) or, when that gets stuck, by CP-SAT on the LP's pairs (a fixed work limit).
- ``improve_assignment``: shift moves (one unit to another site with room) and swap moves (two
  units of different sites exchange) while one lowers the cost.
- ``improve_sites``: close an open site (its units to the other sites) or open a closed one (the
  units it saves most move there) while that lowers the total, each followed by the assignment
  search.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray
from scipy.optimize import linprog

from planning.layout.cpsat import solve_cpsat
from planning.layout.lagrange import Instance

#: Passes of shift/swap moves per call and rounds of site moves: caps on work, rarely reached.
MAX_PASSES = 20
MAX_SITE_ROUNDS = 6
_EPS = 1e-9


def total_cost(inst: Instance, assign: NDArray[np.int64]) -> float:
    """Assignment cost plus the open cost of every site that serves a unit."""
    used = np.unique(assign)
    return float(inst.cost[np.arange(len(assign)), assign].sum() + inst.open_cost[used].sum())


def _fits(inst: Instance, load: NDArray[np.float64], i: int, sites: NDArray[np.bool_]) -> NDArray[np.bool_]:
    return sites & inst.allowed[i] & (load + inst.demand[i] <= inst.capacity + _EPS)


def _fill(inst: Instance, order: NDArray[np.int64], open_mask: NDArray[np.bool_]) -> NDArray[np.int64] | None:
    """Each unit in ``order`` to its cheapest open site with room; ``None`` if one finds none."""
    load = np.zeros(len(inst.capacity))
    assign = np.full(len(inst.demand), -1, dtype=np.int64)
    for i in order:
        ok = _fits(inst, load, int(i), open_mask)
        if not ok.any():
            return None
        j = int(np.argmin(np.where(ok, inst.cost[i], np.inf)))
        assign[i] = j
        load[j] += inst.demand[i]
    return assign


def assign_greedy(inst: Instance, open_mask: NDArray[np.bool_]) -> NDArray[np.int64] | None:
    """A feasible single-source assignment to the open sites, or ``None`` when none is found."""
    c = np.where(inst.allowed & open_mask[None, :], inst.cost, np.inf)
    if not np.isfinite(c.min(axis=1)).all():
        return None
    part = np.sort(c, axis=1)[:, : min(2, c.shape[1])]
    second = part[:, -1] if part.shape[1] > 1 else part[:, 0]
    regret = np.where(np.isfinite(second), second - part[:, 0], np.inf)
    order = np.lexsort((-inst.demand, -regret))
    out = _fill(inst, order, open_mask)
    if out is None:
        out = _fill(inst, np.argsort(-inst.demand, kind="stable"), open_mask)
    return out


#: Open sites per unit in the transportation LP (its cheapest allowed ones).
LP_SITES = 12
#: CP-SAT's deterministic seconds for the assignment when rounding the LP gets stuck.
GAP_TIME_S = 0.1


def transport(inst: Instance, open_mask: NDArray[np.bool_]) -> tuple[NDArray[np.int64], NDArray[np.bool_], float] | None:
    """The transportation LP over each unit's :data:`LP_SITES` cheapest open sites: each unit's largest share, those pairs, the LP's cost."""
    n, m = inst.cost.shape
    ok = inst.allowed & open_mask[None, :] & (inst.demand[:, None] <= inst.capacity[None, :])
    c = np.where(ok, inst.cost, np.inf)
    k = min(LP_SITES, int(open_mask.sum()))
    near = np.argsort(c, axis=1, kind="stable")[:, :k]
    ii = np.repeat(np.arange(n), k)
    jj = near.ravel()
    keep = np.isfinite(c[ii, jj])
    ii, jj = ii[keep], jj[keep]
    col = np.arange(len(ii))
    a_eq = sp.csr_array((np.ones(len(ii)), (ii, col)), shape=(n, len(ii)))
    a_ub = sp.csr_array((inst.demand[ii], (jj, col)), shape=(m, len(ii)))
    res = linprog(c[ii, jj], A_ub=a_ub, b_ub=inst.capacity, A_eq=a_eq, b_eq=np.ones(n), bounds=(0, 1), method="highs")
    if res.status != 0:
        return None
    share = np.zeros((n, m))
    share[ii, jj] = res.x
    pairs = np.zeros((n, m), dtype=bool)
    pairs[ii, jj] = True
    return np.argmax(share, axis=1).astype(np.int64), pairs, float(res.fun)


def assign_transport(inst: Instance, open_mask: NDArray[np.bool_]) -> NDArray[np.int64] | None:
    """A single-source assignment rounded from the transportation LP (units may split in the LP).

    The LP's optimum has at most as many split units as open sites; whole units keep their site,
    split ones (largest first) go to the cheapest site with room. ``None`` when one finds none.
    """
    lp = transport(inst, open_mask)
    if lp is None:
        return None
    start, pairs, _ = lp
    got = repair(inst, start, open_mask)
    if got is not None:
        return got
    cp = solve_cpsat(inst, pairs, start, GAP_TIME_S, 0)
    return cp.assign


def assign_hard(
    inst: Instance, open_mask: NDArray[np.bool_], time_s: float, seed: int, hint: NDArray[np.int64] | None = None
) -> tuple[NDArray[np.int64] | None, float]:
    """A single-source assignment for open sites that barely hold the demand: (plan or ``None``, deterministic seconds used).

    The generalised assignment problem the LP's rounding cannot solve when capacity is tight:
    CP-SAT over the LP's pairs (and ``hint``'s), hinted with ``hint`` or else each unit's largest
    share, for ``time_s`` deterministic seconds (:func:`assign_transport` gives it :data:`GAP_TIME_S`).
    """
    lp = transport(inst, open_mask)
    if lp is None:
        return None, 0.0
    pairs = lp[1]
    if hint is not None:
        pairs = pairs.copy()
        pairs[np.arange(len(hint)), hint] = True
    cp = solve_cpsat(inst, pairs, lp[0] if hint is None else hint, time_s, seed)
    return cp.assign, cp.det_time


def repair(inst: Instance, assign: NDArray[np.int64], open_mask: NDArray[np.bool_]) -> NDArray[np.int64] | None:
    """Relieve overloaded sites by moving their units, at least cost per unit of overload removed.

    A move may overload its target a little, as long as the total overload falls; ``None`` when
    no move lowers it (or after ``2 n`` moves).
    """
    assign = assign.copy()
    n, m = inst.cost.shape
    d, cap = inst.demand, inst.capacity
    load = np.bincount(assign, weights=d, minlength=m).astype(float)
    for _ in range(2 * n):
        excess = np.maximum(load - cap, 0.0)
        if not (excess > _EPS).any():
            return assign
        units = np.flatnonzero(excess[assign] > _EPS)
        a = assign[units]
        freed = excess[a] - np.maximum(load[a] - d[units] - cap[a], 0.0)
        added = np.maximum(load[None, :] + d[units, None] - cap[None, :], 0.0) - excess[None, :]
        relief = freed[:, None] - added
        ok = open_mask[None, :] & inst.allowed[units] & (relief > _EPS)
        ok[np.arange(len(units)), a] = False
        if not ok.any():
            return None
        delta = inst.cost[units] - inst.cost[units, a][:, None]
        score = np.where(ok, delta / np.maximum(relief, _EPS), np.inf)
        r, j = np.unravel_index(int(np.argmin(score)), score.shape)
        i = int(units[r])
        load[assign[i]] -= d[i]
        load[j] += d[i]
        assign[i] = int(j)
    return None


#: Rows of the unit × unit swap table computed at once (memory: rows × n floats).
SWAP_CHUNK = 512


def _shift_pass(inst: Instance, assign: NDArray[np.int64], load: NDArray[np.float64], open_mask: NDArray[np.bool_]) -> bool:
    """Each unit's best move to another open site with room, applied best first while still valid."""
    n = len(assign)
    rows = np.arange(n)
    d = inst.demand
    ok = open_mask[None, :] & inst.allowed & (load[None, :] + d[:, None] <= inst.capacity[None, :] + _EPS)
    ok[rows, assign] = False
    delta = np.where(ok, inst.cost - inst.cost[rows, assign][:, None], np.inf)
    best = np.argmin(delta, axis=1)
    gain = delta[rows, best]
    moved = False
    for i in np.flatnonzero(gain < -_EPS)[np.argsort(gain[gain < -_EPS], kind="stable")]:
        a, j = int(assign[i]), int(best[i])
        if load[j] + d[i] <= inst.capacity[j] + _EPS:
            assign[i] = j
            load[a] -= d[i]
            load[j] += d[i]
            moved = True
    return moved


def _swap_candidates(inst: Instance, assign: NDArray[np.int64], load: NDArray[np.float64], lo: int, hi: int) -> tuple[NDArray[np.int64], ...]:
    """Improving swaps ``(i, k, delta)`` with ``lo ≤ i < hi``, each i's best one, by today's loads."""
    n = len(assign)
    d, c = inst.demand, inst.cost
    i = np.arange(lo, hi)
    a = assign[i]
    delta = c[i[:, None], assign[None, :]] + c[:, a].T - c[i, a][:, None] - c[np.arange(n), assign][None, :]
    ok = (assign[None, :] != a[:, None]) & inst.allowed[i[:, None], assign[None, :]] & inst.allowed[:, a].T
    ok &= (load[a] - d[i])[:, None] + d[None, :] <= inst.capacity[a][:, None] + _EPS
    ok &= (load[assign] - d)[None, :] + d[i][:, None] <= inst.capacity[assign][None, :] + _EPS
    delta = np.where(ok, delta, np.inf)
    k = np.argmin(delta, axis=1)
    best = delta[np.arange(len(i)), k]
    keep = best < -_EPS
    return i[keep], k[keep], best[keep]


def _swap_pass(inst: Instance, assign: NDArray[np.int64], load: NDArray[np.float64]) -> bool:
    """Swaps of two units of different sites, best first, each re-checked against the loads when applied."""
    parts = [_swap_candidates(inst, assign, load, lo, min(lo + SWAP_CHUNK, len(assign))) for lo in range(0, len(assign), SWAP_CHUNK)]
    ii, kk, gain = (np.concatenate(x) for x in zip(*parts))
    touched = np.zeros(len(assign), dtype=bool)
    d = inst.demand
    moved = False
    for t in np.argsort(gain, kind="stable"):
        i, k = int(ii[t]), int(kk[t])
        if touched[i] or touched[k]:
            continue
        a, b = int(assign[i]), int(assign[k])
        if a == b or load[a] - d[i] + d[k] > inst.capacity[a] + _EPS or load[b] - d[k] + d[i] > inst.capacity[b] + _EPS:
            continue
        assign[i], assign[k] = b, a
        load[a] += d[k] - d[i]
        load[b] += d[i] - d[k]
        touched[i] = touched[k] = True
        moved = True
    return moved


def improve_assignment(inst: Instance, assign: NDArray[np.int64], open_mask: NDArray[np.bool_]) -> NDArray[np.int64]:
    """Shift and swap moves among the open sites until none lowers the cost."""
    assign = assign.copy()
    load = np.bincount(assign, weights=inst.demand, minlength=len(inst.capacity)).astype(float)
    for _ in range(MAX_PASSES):
        shifted = _shift_pass(inst, assign, load, open_mask)
        swapped = _swap_pass(inst, assign, load)
        if not (shifted or swapped):
            break
    return assign


def _close_one(inst: Instance, assign: NDArray[np.int64], j: int, open_mask: NDArray[np.bool_]) -> NDArray[np.int64] | None:
    """``assign`` with site ``j`` closed: its units to the cheapest other open site with room."""
    mask = open_mask.copy()
    mask[j] = False
    out = assign.copy()
    load = np.bincount(assign, weights=inst.demand, minlength=len(inst.capacity)).astype(float)
    load[j] = 0.0
    units = np.flatnonzero(assign == j)
    for i in units[np.argsort(-inst.demand[units], kind="stable")]:
        ok = _fits(inst, load, int(i), mask)
        if not ok.any():
            return None
        k = int(np.argmin(np.where(ok, inst.cost[i], np.inf)))
        out[i] = k
        load[k] += inst.demand[i]
    return out


def _open_one(inst: Instance, assign: NDArray[np.int64], j: int) -> NDArray[np.int64]:
    """``assign`` with site ``j`` opened: the units it saves most move there while it has room."""
    n = len(assign)
    saving = inst.cost[np.arange(n), assign] - inst.cost[:, j]
    out = assign.copy()
    room = float(inst.capacity[j])
    for i in np.argsort(-saving, kind="stable"):
        if saving[i] <= _EPS:
            break
        if inst.allowed[i, j] and inst.demand[i] <= room + _EPS:
            out[i] = j
            room -= float(inst.demand[i])
    return out


def _site_round(inst: Instance, assign: NDArray[np.int64], best: float) -> tuple[NDArray[np.int64], float, bool]:
    """One round of close-one and open-one moves, each kept when it lowers the total."""
    improved = False
    for j in range(len(inst.capacity)):
        open_mask = np.zeros(len(inst.capacity), dtype=bool)
        open_mask[np.unique(assign)] = True
        if open_mask[j]:
            cand = _close_one(inst, assign, j, open_mask)
            if cand is None:
                continue
            open_mask[j] = False
        else:
            if inst.max_open is not None and open_mask.sum() >= inst.max_open:
                continue
            cand = _open_one(inst, assign, j)
            open_mask[j] = True
        if total_cost(inst, cand) >= best - _EPS and not open_mask[j]:
            continue
        cand = improve_assignment(inst, cand, open_mask)
        val = total_cost(inst, cand)
        if val < best - _EPS * max(1.0, abs(best)):
            assign, best, improved = cand, val, True
    return assign, best, improved


def improve_sites(inst: Instance, assign: NDArray[np.int64]) -> tuple[NDArray[np.int64], float]:
    """Site moves (close one, open one) with the assignment search after each, until none helps."""
    best = total_cost(inst, assign)
    for _ in range(MAX_SITE_ROUNDS):
        assign, best, improved = _site_round(inst, assign, best)
        if not improved:
            break
    return assign, best


def from_sites(
    inst: Instance, open_mask: NDArray[np.bool_], extra: NDArray[np.int64] | None = None, *, exact: bool = False
) -> tuple[NDArray[np.int64], float] | None:
    """A plan from a set of open sites: the greedy assignment (fast: ranks the sets), or with ``exact`` the LP's and the assignment search.

    When the greedy strands a unit, the closed sites of ``extra`` open one by one, in its order,
    until it does not (a Lagrangian site choice that just covers the demand often needs one more).
    """
    mask = open_mask.copy()
    todo = [] if extra is None else [int(j) for j in extra if not open_mask[j]]
    while True:
        if inst.max_open is not None and mask.sum() > inst.max_open:
            return None
        assign = assign_transport(inst, mask) if exact else None
        if assign is None:
            assign = assign_greedy(inst, mask)
        if assign is not None:
            break
        if not todo:
            return None
        mask[todo.pop(0)] = True
    if exact:
        assign = improve_assignment(inst, assign, mask)
    return assign, total_cost(inst, assign)
