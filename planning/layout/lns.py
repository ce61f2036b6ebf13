"""Large-neighbourhood search: re-solve a few neighbouring sites and their units exactly with CP-SAT.

Each round picks a centre site (a fixed permutation from the seed), frees the
:data:`NEIGHBOUR_SITES` sites closest to it in cost terms (with every unit they serve) and
solves that sub-problem — which of these sites open, and which of them serves each freed unit —
with CP-SAT warm-started from the current plan. A better sub-plan replaces the current one.
Rounds stop when the deterministic budget is spent or the neighbourhoods, grown each time a whole
round brings nothing new, would hold every site.
"""

from __future__ import annotations

import time

import numpy as np
from numpy.typing import NDArray

from planning.layout.cpsat import solve_cpsat
from planning.layout.heuristic import improve_assignment, total_cost
from planning.layout.lagrange import Instance

#: Sites freed together in one round, and CP-SAT's deterministic seconds for each sub-problem.
NEIGHBOUR_SITES = 6
NEIGHBOUR_STEP = 3
ROUND_TIME_S = 0.5
#: Least budget a round is charged (deterministic seconds): building and presolving a small model
#: costs wall time CP-SAT's deterministic clock does not count.
ROUND_CHARGE_S = 0.003
_EPS = 1e-9


def site_distance(inst: Instance) -> NDArray[np.float64]:
    """``(m, m)`` dissimilarity of sites: mean over units of ``|c_ij − c_ik|`` (allowed pairs)."""
    c = np.where(inst.allowed, inst.cost, np.nan)
    m = c.shape[1]
    out = np.zeros((m, m))
    for j in range(m):
        diff = np.abs(c - c[:, [j]])
        out[j] = np.where(np.isnan(diff).all(axis=0), np.inf, np.nanmean(np.where(np.isnan(diff), np.nan, diff), axis=0))
    return out


def _sub_round(
    inst: Instance, assign: NDArray[np.int64], sites: NDArray[np.int64], time_s: float, seed: int, deadline: float
) -> tuple[NDArray[np.int64] | None, float]:
    """Re-solve ``sites`` and the units they serve; the new full assignment (or ``None``) and the time used."""
    units = np.flatnonzero(np.isin(assign, sites))
    if len(units) == 0:
        return None, 0.0
    max_open = inst.max_open
    if max_open is not None:
        outside = np.setdiff1d(np.unique(assign), sites)
        max_open = max_open - len(outside)
    sub = Instance(
        inst.cost[np.ix_(units, sites)], inst.allowed[np.ix_(units, sites)], inst.demand[units],
        inst.capacity[sites], inst.open_cost[sites], max_open, inst.integral,
    )
    pairs = sub.allowed & (sub.demand[:, None] <= sub.capacity[None, :])
    local = np.searchsorted(sites, assign[units])  # sites are sorted
    got = solve_cpsat(sub, pairs, local, time_s, seed, safety_s=deadline - time.perf_counter())
    if got.assign is None:
        return None, got.det_time
    out = assign.copy()
    out[units] = sites[got.assign]
    if len(sites) == len(inst.capacity) and got.status == "OPTIMAL":
        return out, -1.0  # the whole problem, solved: nothing left to search
    return out, got.det_time


def large_neighbourhood(
    inst: Instance, assign: NDArray[np.int64], budget_s: float, seed: int, deadline: float = np.inf
) -> tuple[NDArray[np.int64], bool]:
    """Improve ``assign`` by exact re-solves of neighbourhoods until ``budget_s`` deterministic seconds are used.

    After a whole round of centres without a better plan the neighbourhoods grow by
    :data:`NEIGHBOUR_STEP` sites; the search ends when they would hold every site or the budget is spent.
    ``deadline`` (``time.perf_counter`` seconds) is the wall-clock safety net; the second value
    says whether it ended the search (then the result depends on the machine's speed).
    """
    m = len(inst.capacity)
    order = np.argsort(site_distance(inst), axis=1, kind="stable")
    rng = np.random.default_rng(seed)
    best = total_cost(inst, assign)
    used, k = 0.0, min(NEIGHBOUR_SITES, m)
    walled = False
    while used < budget_s and not walled:
        improved = False
        for centre in rng.permutation(m):
            sites = np.sort(order[centre, :k])
            if time.perf_counter() >= deadline:
                walled = True
                break
            cand, took = _sub_round(inst, assign, sites, min(ROUND_TIME_S, budget_s - used), int(seed), deadline)
            if took < 0:
                return (cand if cand is not None else assign), False
            used += max(took, ROUND_CHARGE_S)
            if cand is not None:
                val = total_cost(inst, cand)
                if val < best - _EPS * max(1.0, abs(best)):
                    assign, best, improved = cand, val, True
            if used >= budget_s:
                break
        if not improved:
            if k >= m:
                break
            k = min(k + NEIGHBOUR_STEP, m)
    open_mask = np.zeros(m, dtype=bool)
    open_mask[np.unique(assign)] = True
    return improve_assignment(inst, assign, open_mask), walled
