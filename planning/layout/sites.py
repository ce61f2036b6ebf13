"""Local search on the set of open sites, guided by the Lagrangian sites' values and pruned by LP bounds.

A move changes the open set: close one site, open one, swap (close one, open another), or close two
while opening one. At the best multipliers ``u`` of the bound, site ``j`` is worth
``v_j = f_j + min Σ_i (c_ij − u_i) x_ij`` over its knapsack (:func:`planning.layout.lagrange.evaluate`),
and ``Σ_i u_i + Σ_{j open} v_j`` estimates a set's cost; a move's estimate is the change of that sum.
Each round takes the :data:`LP_PER_ROUND` best-estimated new sets of the single moves and solves
their transportation LP (:func:`planning.layout.gap.set_lp`): its value is a lower bound on every plan
with that set, so only the sets whose bound is below the plan's cost are assigned
(:func:`planning.layout.gap.assign_gap`, the generalised-assignment heuristic), the lowest bound first,
up to :data:`MOVES_PER_ROUND`; the best that lowers the plan's cost is taken. When none does, the
same for the close-two-open-one moves (a tight set often needs two of its sites replaced by one
larger: g30x150r1.5s7), and then the promising sets without a better plan get CP-SAT on their
assignment, hinted with the heuristic's (:func:`planning.layout.heuristic.assign_hard`).
Deterministic: fixed orders and counts, work charged per unit.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from planning.layout.gap import SetLp, assign_gap, improve_gap, set_lp
from planning.layout.heuristic import assign_hard, total_cost
from planning.layout.lagrange import Instance

#: Sets assigned per round (lowest LP bound first), and the most rounds.
MOVES_PER_ROUND = 8
MAX_ROUNDS = 8
#: Deterministic seconds charged per unit for one assignment (:func:`~planning.layout.gap.assign_gap`):
#: 0.04 for 200 units, which take 30-35 ms of CPU under load, where CP-SAT's deterministic second
#: takes ~2 s of CPU (a conservative charge: the call stays within ``time_limit_s``).
EVAL_CHARGE_S = 2e-4
#: Best-estimated new sets per round whose transportation LP is solved (its bound prunes the rest).
LP_PER_ROUND = 24
#: Deterministic seconds charged per unit for one transportation LP (12-18 ms of CPU for 150-200
#: units under load: ~0.007 deterministic s, charged 0.01).
LP_CHARGE_S = 5e-5
#: Most deterministic seconds CP-SAT spends on one tight set.
HARD_TIME_S = 0.9
_EPS = 1e-9


def _moves(inst: Instance, open_mask: NDArray[np.bool_], value: NDArray[np.float64], double: bool) -> list[tuple[float, int, int, int]]:
    """Moves ``(estimate, close, close2, open)`` (−1: none) whose open sites hold the demand, cheapest estimate first.

    Close one, open one and swap (close one, open one); with ``double`` instead close two while opening one.
    """
    total = float(inst.demand.sum())
    cap = inst.capacity
    room = float(cap[open_mask].sum())
    shut, live = np.flatnonzero(~open_mask), np.flatnonzero(open_mask)
    out: list[tuple[float, int, int, int]] = []
    if double:
        j1, j2 = np.triu_indices(len(live), 1)
        a, b = live[j1], live[j2]
        for k in shut:
            ok = room - cap[a] - cap[b] + cap[k] >= total - _EPS
            est = value[k] - value[a[ok]] - value[b[ok]]
            out += [(float(e), int(x), int(y), int(k)) for e, x, y in zip(est, a[ok], b[ok])]
        out.sort()
        return out
    for j in live:
        if room - cap[j] >= total - _EPS:
            out.append((-float(value[j]), int(j), -1, -1))
        ok = room - cap[j] + cap[shut] >= total - _EPS
        out += [(float(value[k] - value[j]), int(j), -1, int(k)) for k in shut[ok]]
    if inst.max_open is None or len(live) < inst.max_open:
        out += [(float(value[k]), -1, -1, int(k)) for k in shut]
    out.sort()
    return out


def _hard(
    inst: Instance, best: float, tight: list[tuple[NDArray[np.bool_], NDArray[np.int64] | None]], budget_s: float, seed: int
) -> tuple[tuple[NDArray[np.int64], float] | None, float]:
    """The ``tight`` sets (promising by their LP, no better plan found fast) by CP-SAT on their assignment, in order.

    Each set comes with the fast plan as CP-SAT's hint (or ``None``: the LP's shares). The first
    plan better than ``best`` is returned with the deterministic seconds used; a try starts only
    while half of :data:`HARD_TIME_S` is left.
    """
    used = 0.0
    for mask, hint in tight:
        if budget_s - used < 0.5 * HARD_TIME_S:
            break
        got, took = assign_hard(inst, mask, min(HARD_TIME_S, budget_s - used), seed, hint)
        used += took
        if got is not None:
            got = improve_gap(inst, got, mask)
            if total_cost(inst, got) < best - _EPS * max(1.0, abs(best)):
                return (got, total_cost(inst, got)), used
    return None, used


def _apply(open_mask: NDArray[np.bool_], move: tuple[float, int, int, int]) -> NDArray[np.bool_]:
    mask = open_mask.copy()
    for j in move[1:3]:
        if j >= 0:
            mask[j] = False
    if move[3] >= 0:
        mask[move[3]] = True
    return mask


def _round(
    inst: Instance, assign: NDArray[np.int64], best: float, value: NDArray[np.float64], tried: set[bytes], budget_s: float, *, double: bool
) -> tuple[tuple[NDArray[np.int64], float] | None, list[tuple[NDArray[np.bool_], NDArray[np.int64] | None]], float]:
    """One round of moves: (the best better plan or ``None``, the promising sets without one, deterministic seconds used).

    The :data:`LP_PER_ROUND` best-estimated new sets get the transportation LP; those whose LP
    bound is below ``best`` are assigned by :func:`~planning.layout.gap.assign_gap`, the lowest
    bound first, up to :data:`MOVES_PER_ROUND`.
    """
    n = len(inst.demand)
    open_mask = np.zeros(len(inst.capacity), dtype=bool)
    open_mask[np.unique(assign)] = True
    tried.add(np.packbits(open_mask).tobytes())
    used, solved = 0.0, 0
    lps: list[tuple[float, int, NDArray[np.bool_], SetLp]] = []
    for move in _moves(inst, open_mask, value, double):
        if solved >= LP_PER_ROUND or used + LP_CHARGE_S * n > budget_s:
            break
        mask = _apply(open_mask, move)
        key = np.packbits(mask).tobytes()
        if key in tried:
            continue
        tried.add(key)
        used, solved = used + LP_CHARGE_S * n, solved + 1
        lp = set_lp(inst, mask)
        if lp is not None and lp.value < best - _EPS * max(1.0, abs(best)):
            lps.append((lp.value, len(lps), mask, lp))
    lps.sort(key=lambda t: (t[0], t[1]))
    found: tuple[NDArray[np.int64], float] | None = None
    tight: list[tuple[NDArray[np.bool_], NDArray[np.int64] | None]] = []
    for _, _, mask, lp in lps[:MOVES_PER_ROUND]:
        if used + EVAL_CHARGE_S * n > budget_s:
            break
        used += EVAL_CHARGE_S * n
        got = assign_gap(inst, mask, lp)
        cost = total_cost(inst, got) if got is not None else np.inf
        if cost < best - _EPS * max(1.0, abs(best)):
            if found is None or cost < found[1]:
                found = (got, cost)  # type: ignore[assignment]
        else:
            tight.append((mask, got))
    return found, tight, used


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
        Deterministic seconds: each LP is charged :data:`LP_CHARGE_S` per unit, each assignment
        :data:`EVAL_CHARGE_S` per unit, and when a round finds nothing its promising sets get CP-SAT
        (:func:`~planning.layout.heuristic.assign_hard`, up to :data:`HARD_TIME_S` each).
    seed
        CP-SAT's random seed.
    """
    best = total_cost(inst, assign)
    tried: set[bytes] = set()
    used = 0.0
    for _ in range(MAX_ROUNDS):
        found, tight, took = _round(inst, assign, best, value, tried, budget_s - used, double=False)
        used += took
        if found is None:
            found, more, took = _round(inst, assign, best, value, tried, budget_s - used, double=True)
            used += took
            tight += more
        if found is None:
            found, took = _hard(inst, best, tight, budget_s - used, seed)
            used += took
        if found is None or found[1] >= best - _EPS * max(1.0, abs(best)):
            break
        assign, best = found
    return assign, used
