"""Single-source assignment to a fixed set of open sites: a generalised-assignment heuristic.

Given the open sites, every unit goes to exactly one of them within its capacity at least cost
(the generalised assignment problem, GAP). When the sites barely hold the demand, rounding the
transportation LP strands units and the repair that follows pays dearly; this heuristic does better:

- ``set_lp``: the transportation LP over the open sites (HiGHS) and its capacity duals ``μ_j ≥ 0``,
  the price of a unit of room at site ``j`` (the optimal multipliers of the capacity rows in the
  Lagrangian of the LP).
- ``regret_greedy`` (Martello & Toth 1981): each unit's desirability of a site is its priced
  cost ``c_ij + μ_j d_i``; repeatedly the unit with the largest regret (second-best minus best
  desirability among the sites that still have room for it) goes to its best one.
- ``improve_gap``: shift and swap moves (:func:`~planning.layout.heuristic.improve_assignment`),
  then ejection chains of length two (unit ``i`` into a full site ``b`` whose unit ``k`` moves on to
  a site with room), while one lowers the cost.

Deterministic: fixed orders, ties broken by index.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray
from scipy.optimize import linprog

from planning.layout.heuristic import assign_transport, improve_assignment, total_cost
from planning.layout.lagrange import Instance

#: Rounds of shift/swap followed by ejection chains (a cap on work, rarely reached).
CHAIN_ROUNDS = 20
#: Units × units table of the ejection chains computed at once (memory: rows × n floats).
CHAIN_CHUNK = 512
_EPS = 1e-9


@dataclass(frozen=True)
class SetLp:
    """The transportation LP over a set of open sites (units may split).

    ``start`` each unit's largest share, ``price`` the capacity duals ``μ ≥ 0`` (m,), ``value`` the
    LP's assignment cost plus the sites' open costs: a lower bound on every plan with these sites.
    """

    start: NDArray[np.int64]
    price: NDArray[np.float64]
    value: float


def set_lp(inst: Instance, open_mask: NDArray[np.bool_]) -> SetLp | None:
    """The transportation LP over the open sites (HiGHS), or ``None`` when it is infeasible (no assignment exists)."""
    n, m = inst.cost.shape
    ok = inst.allowed & open_mask[None, :] & (inst.demand[:, None] <= inst.capacity[None, :])
    ii, jj = np.nonzero(ok)
    col = np.arange(len(ii))
    a_eq = sp.csr_array((np.ones(len(ii)), (ii, col)), shape=(n, len(ii)))
    a_ub = sp.csr_array((inst.demand[ii], (jj, col)), shape=(m, len(ii)))
    res = linprog(inst.cost[ii, jj], A_ub=a_ub, b_ub=inst.capacity, A_eq=a_eq, b_eq=np.ones(n), bounds=(0, 1), method="highs")
    if res.status != 0:
        return None
    share = np.zeros((n, m))
    share[ii, jj] = res.x
    price = np.maximum(-np.asarray(res.ineqlin.marginals, dtype=float), 0.0)
    return SetLp(np.argmax(share, axis=1).astype(np.int64), price, float(res.fun) + float(inst.open_cost[open_mask].sum()))


def regret_greedy(inst: Instance, open_mask: NDArray[np.bool_], price: NDArray[np.float64]) -> NDArray[np.int64] | None:
    """Martello–Toth's regret greedy on the desirabilities ``cost + price``; ``None`` when a unit is stranded.

    ``price`` is ``(n, m)``, added to the costs for choosing (not for the plan's cost).
    """
    n, m = inst.cost.shape
    d, cap = inst.demand, inst.capacity
    want = np.where(inst.allowed & open_mask[None, :], inst.cost + price, np.inf)
    load = np.zeros(m)
    assign = np.full(n, -1, dtype=np.int64)
    left = np.ones(n, dtype=bool)
    for _ in range(n):
        rows = np.flatnonzero(left)
        fit = np.where(load[None, :] + d[rows, None] <= cap[None, :] + _EPS, want[rows], np.inf)
        two = np.partition(fit, 1, axis=1)[:, :2] if m > 1 else np.concatenate([fit, np.full((len(rows), 1), np.inf)], axis=1)
        if not np.isfinite(two[:, 0]).all():
            return None
        regret = np.where(np.isfinite(two[:, 1]), two[:, 1] - two[:, 0], np.inf)
        r = int(np.lexsort((-d[rows], -regret))[0])
        i = int(rows[r])
        j = int(np.argmin(fit[r]))
        assign[i] = j
        load[j] += d[i]
        left[i] = False
    return assign


#: Most moves of the penalised search that makes an overloaded assignment feasible.
PENALTY_MOVES = 4000


def _excess_change(load: NDArray[np.float64], cap: NDArray[np.float64], site: NDArray[np.int64], change: NDArray[np.float64]) -> NDArray[np.float64]:
    """Change of a site's overload when its load changes by ``change`` (arrays broadcast)."""
    before = np.maximum(load[site] - cap[site], 0.0)
    return np.maximum(load[site] + change - cap[site], 0.0) - before


def make_feasible(inst: Instance, assign: NDArray[np.int64], open_mask: NDArray[np.bool_]) -> NDArray[np.int64] | None:
    """Remove the overloads of ``assign`` by shift and swap moves on ``cost + P × overload``; ``None`` if stuck.

    Each step takes the best move of a unit on an overloaded site (to another open site, or
    exchanged with a unit elsewhere); when none lowers the penalised cost, the penalty ``P`` doubles.
    """
    n, m = inst.cost.shape
    d, c, cap = inst.demand, inst.cost, inst.capacity
    assign = assign.copy()
    load = np.bincount(assign, weights=d, minlength=m).astype(float)
    spread = np.where(inst.allowed & open_mask[None, :], c, np.nan)
    pen = float(np.nanmax(np.nanmax(spread, axis=1) - np.nanmin(spread, axis=1)) / max(float(d[d > 0].min(initial=1.0)), _EPS)) * 0.01 + _EPS
    rows = np.arange(n)
    for _ in range(PENALTY_MOVES):
        over = load - cap > _EPS
        if not over.any():
            return assign
        units = np.flatnonzero(over[assign])
        a = assign[units]
        # shifts: unit of an overloaded site to any other open site
        gain_a = _excess_change(load, cap, a, -d[units])
        into = gain_a[:, None] + _excess_change(load, cap, np.arange(m)[None, :], d[units][:, None])
        ok = open_mask[None, :] & inst.allowed[units]
        ok[np.arange(len(units)), a] = False
        shift = np.where(ok, c[units] - c[units, a][:, None] + pen * into, np.inf)
        # swaps: with a unit k of another site
        b = assign
        diff = d[None, :] - d[units][:, None]  # site a gets k, loses i: change d_k - d_i
        swap = c[units[:, None], b[None, :]] + c[rows[None, :], a[:, None]] - c[units, a][:, None] - c[rows, b][None, :]
        swapped = _excess_change(load, cap, a[:, None], diff) + _excess_change(load, cap, b[None, :], -diff)
        sok = (b[None, :] != a[:, None]) & inst.allowed[units[:, None], b[None, :]] & inst.allowed[rows[None, :], a[:, None]]
        swap = np.where(sok, swap + pen * swapped, np.inf)
        s_best, w_best = float(shift.min(initial=np.inf)), float(swap.min(initial=np.inf))
        if min(s_best, w_best) >= -_EPS:
            if min(float(np.where(ok, into, np.inf).min(initial=np.inf)), float(np.where(sok, swapped, np.inf).min(initial=np.inf))) >= -_EPS:
                return None  # no move lowers the overload: stuck whatever the penalty
            pen *= 2.0
            continue
        if s_best <= w_best:
            r, j = np.unravel_index(int(np.argmin(shift)), shift.shape)
            i = int(units[r])
            load[assign[i]] -= d[i]
            load[j] += d[i]
            assign[i] = int(j)
        else:
            r, col = np.unravel_index(int(np.argmin(swap)), swap.shape)
            i, k = int(units[r]), int(col)
            ai, bk = int(assign[i]), int(assign[k])
            load[ai] += d[k] - d[i]
            load[bk] += d[i] - d[k]
            assign[i], assign[k] = bk, ai
    return None


def _chain_candidates(
    inst: Instance, assign: NDArray[np.int64], load: NDArray[np.float64], open_mask: NDArray[np.bool_], lo: int, hi: int
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64], NDArray[np.float64]]:
    """Improving chains ``(i, k, t, delta)`` for ``lo ≤ i < hi``: i to k's site, k on to site t (each i's best)."""
    n = len(assign)
    d, c, cap = inst.demand, inst.cost, inst.capacity
    rows = np.arange(n)
    here = c[rows, assign]
    room = cap - load
    out_ok = open_mask[None, :] & inst.allowed & (d[:, None] <= room[None, :] + _EPS)
    out_ok[rows, assign] = False
    out_delta = np.where(out_ok, c - here[:, None], np.inf)
    t = np.argmin(out_delta, axis=1)
    k_gain = out_delta[rows, t]
    i = np.arange(lo, hi)
    a, b = assign[i], assign
    delta = c[i[:, None], b[None, :]] - here[i][:, None] + k_gain[None, :]
    ok = (b[None, :] != a[:, None]) & inst.allowed[i[:, None], b[None, :]] & (t[None, :] != a[:, None])
    ok &= room[b][None, :] + d[None, :] - d[i][:, None] >= -_EPS
    delta = np.where(ok, delta, np.inf)
    k = np.argmin(delta, axis=1)
    best = delta[np.arange(len(i)), k]
    keep = best < -_EPS
    return i[keep], k[keep], t[k[keep]], best[keep]


def _chain_pass(inst: Instance, assign: NDArray[np.int64], open_mask: NDArray[np.bool_]) -> bool:
    """Ejection chains of length two, best first, each re-checked against the loads when applied."""
    m = len(inst.capacity)
    d = inst.demand
    load = np.bincount(assign, weights=d, minlength=m).astype(float)
    parts = [_chain_candidates(inst, assign, load, open_mask, lo, min(lo + CHAIN_CHUNK, len(assign))) for lo in range(0, len(assign), CHAIN_CHUNK)]
    ii, kk, tt, gain = (np.concatenate(x) for x in zip(*parts))
    touched = np.zeros(m, dtype=bool)
    moved = False
    for s in np.argsort(gain, kind="stable"):
        i, k, t = int(ii[s]), int(kk[s]), int(tt[s])
        a, b = int(assign[i]), int(assign[k])
        if touched[[a, b, t]].any():
            continue
        assign[i], assign[k] = b, t
        load[a] -= d[i]
        load[b] += d[i] - d[k]
        load[t] += d[k]
        touched[[a, b, t]] = True
        moved = True
    return moved


def improve_gap(inst: Instance, assign: NDArray[np.int64], open_mask: NDArray[np.bool_]) -> NDArray[np.int64]:
    """Shift, swap and ejection-chain moves among the open sites until none lowers the cost."""
    assign = improve_assignment(inst, assign, open_mask)
    for _ in range(CHAIN_ROUNDS):
        if not _chain_pass(inst, assign, open_mask):
            break
        assign = improve_assignment(inst, assign, open_mask)
    return assign


def assign_gap(inst: Instance, open_mask: NDArray[np.bool_], lp: SetLp | None = None) -> NDArray[np.int64] | None:
    """A strong single-source assignment to the open sites, or ``None`` when none is found.

    Three starts, each improved by :func:`improve_gap`, the cheapest kept: the LP's largest shares
    and each unit's cheapest site at the LP's prices (both made feasible by :func:`make_feasible`),
    and the regret greedy at those prices (:func:`regret_greedy`); when all three strand a unit, the LP's
    rounding (:func:`~planning.layout.heuristic.assign_transport`, CP-SAT when its repair gets stuck).
    ``lp``: :func:`set_lp` of the set when already solved.
    """
    lp = set_lp(inst, open_mask) if lp is None else lp
    if lp is None:
        return None
    price = inst.demand[:, None] * lp.price[None, :]
    priced = np.where(inst.allowed & open_mask[None, :], inst.cost + price, np.inf)
    starts = [lp.start, np.argmin(priced, axis=1).astype(np.int64)]
    tries = [got for got in (make_feasible(inst, s, open_mask) for s in starts) if got is not None]
    greedy = regret_greedy(inst, open_mask, price)
    if greedy is not None:
        tries.append(greedy)
    if not tries:  # packing too tight for the three: the LP's rounding, CP-SAT when it gets stuck
        rounded = assign_transport(inst, open_mask)
        if rounded is None:
            return None
        tries.append(rounded)
    tries = [improve_gap(inst, t, open_mask) for t in tries]
    values = [total_cost(inst, t) for t in tries]
    return tries[int(np.argmin(values))]

