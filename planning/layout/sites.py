"""Local search on the set of open sites, guided by the Lagrangian sites' values.

A move changes the open set: close one site, open one, or swap (close one, open another). At the
best multipliers ``u`` of the bound, site ``j`` is worth ``v_j = f_j + min Σ_i (c_ij − u_i) x_ij``
over its knapsack (:func:`planning.layout.lagrange.evaluate`), and ``Σ_i u_i + Σ_{j open} v_j``
estimates a set's cost; a move's estimate is the change of that sum. Each round ranks the moves
whose sites can still hold the demand by their estimate and evaluates the
:data:`MOVES_PER_ROUND` best exactly (the transportation LP rounded to a single-source
assignment, then shift and swap moves: :func:`planning.layout.heuristic.from_sites`); the best
of them that lowers the plan's cost is taken. When none does, the best-ranked move whose sites
hold the demand so tightly that the rounding finds no plan gets CP-SAT on its assignment
(:func:`planning.layout.heuristic.assign_hard`). This finds sets the sequential close-one / open-one
moves cannot reach when capacities are tight (a site closes only if another opens at once).
Deterministic: fixed orders and counts.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from planning.layout.heuristic import assign_hard, from_sites, improve_assignment, total_cost
from planning.layout.lagrange import Instance

#: Moves evaluated exactly per round (best estimates first), and the most rounds.
MOVES_PER_ROUND = 8
MAX_ROUNDS = 8
#: Deterministic seconds charged per unit for one exact evaluation (LP, rounding, shift and swap
#: moves): 0.04 for 200 units, which take ~40 ms on a quiet machine, where CP-SAT's deterministic
#: second takes ~2 s (a conservative charge: the call stays within ``time_limit_s``).
EVAL_CHARGE_S = 2e-4
#: Most deterministic seconds CP-SAT spends on one tight set.
HARD_TIME_S = 0.9
_EPS = 1e-9


def _moves(inst: Instance, open_mask: NDArray[np.bool_], value: NDArray[np.float64]) -> list[tuple[float, int, int]]:
    """Moves ``(estimate, close, open)`` (−1: none) whose open sites hold the demand, cheapest estimate first."""
    total = float(inst.demand.sum())
    room = float(inst.capacity[open_mask].sum())
    shut = np.flatnonzero(~open_mask)
    out: list[tuple[float, int, int]] = []
    n_open = int(open_mask.sum())
    for j in np.flatnonzero(open_mask):
        if room - inst.capacity[j] >= total - _EPS:
            out.append((-float(value[j]), int(j), -1))
        ok = room - inst.capacity[j] + inst.capacity[shut] >= total - _EPS
        out += [(float(value[k] - value[j]), int(j), int(k)) for k in shut[ok]]
    if inst.max_open is None or n_open < inst.max_open:
        out += [(float(value[k]), -1, int(k)) for k in shut]
    out.sort()
    return out


def _hard(
    inst: Instance, best: float, tight: list[NDArray[np.bool_]], budget_s: float, seed: int
) -> tuple[tuple[NDArray[np.int64], float] | None, float]:
    """The ``tight`` sets (moves the fast assignment found no plan for) by :func:`assign_hard`, the roomiest first.

    The set with the most capacity beyond the demand is the likeliest to hold a plan (and the
    quickest to pack); ties keep the moves' order. The first plan better than ``best`` is returned
    with the deterministic seconds used; a try starts only while half of :data:`HARD_TIME_S` is left.
    """
    used = 0.0
    room = [-float(inst.capacity[mask].sum()) for mask in tight]
    for t in np.argsort(room, kind="stable"):
        mask = tight[int(t)]
        if budget_s - used < 0.5 * HARD_TIME_S:
            break
        got, took = assign_hard(inst, mask, min(HARD_TIME_S, budget_s - used), seed)
        used += took
        if got is not None:
            got = improve_assignment(inst, got, mask)
            if total_cost(inst, got) < best - _EPS * max(1.0, abs(best)):
                return (got, total_cost(inst, got)), used
    return None, used


def search_sites(
    inst: Instance, assign: NDArray[np.int64], value: NDArray[np.float64], budget_s: float, seed: int = 0
) -> tuple[NDArray[np.int64], float]:
    """Improve ``assign`` by moves on its open set: the plan and the deterministic seconds used.

    Parameters
    ----------
    inst
        The instance.
    assign
        A feasible plan.
    value
        The sites' Lagrangian values at the bound's best multipliers (the moves' estimates).
    budget_s
        Deterministic seconds: each exact evaluation is charged :data:`EVAL_CHARGE_S` per unit, and
        when a round finds nothing its best move without a fast plan gets CP-SAT
        (:func:`~planning.layout.heuristic.assign_hard`, up to :data:`HARD_TIME_S`).
    seed
        CP-SAT's random seed.
    """
    best = total_cost(inst, assign)
    tried: set[bytes] = set()
    used, charge = 0.0, EVAL_CHARGE_S * len(inst.demand)
    for _ in range(MAX_ROUNDS):
        open_mask = np.zeros(len(inst.capacity), dtype=bool)
        open_mask[np.unique(assign)] = True
        tried.add(np.packbits(open_mask).tobytes())
        found: tuple[NDArray[np.int64], float] | None = None
        tight: list[NDArray[np.bool_]] = []
        done = 0
        for _, j, k in _moves(inst, open_mask, value):
            if done >= MOVES_PER_ROUND or used + charge > budget_s:
                break
            mask = open_mask.copy()
            if j >= 0:
                mask[j] = False
            if k >= 0:
                mask[k] = True
            key = np.packbits(mask).tobytes()
            if key in tried:
                continue
            tried.add(key)
            done, used = done + 1, used + charge
            got = from_sites(inst, mask, exact=True)
            if got is None:
                tight.append(mask)
            elif got[1] < best - _EPS * max(1.0, abs(best)) and (found is None or got[1] < found[1]):
                found = got
        if found is None:
            found, took = _hard(inst, best, tight, budget_s - used, seed)
            used += took
        if found is None or found[1] >= best - _EPS * max(1.0, abs(best)):
            break
        assign, best = found
    return assign, used
