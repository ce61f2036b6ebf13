"""Lower bound of the single-source capacitated facility-location problem: Lagrangian relaxation.

The assignment rows ``Σ_j x_ij = 1`` are relaxed with free multipliers ``u_i``. What is left
splits by site: site ``j`` is worth ``v_j = f_j + min Σ_i (c_ij − u_i) x_ij`` subject to
``Σ_i d_i x_ij ≤ s_j`` (a 0-1 knapsack over the units whose reduced cost is negative), and the
sites are chosen by sign of ``v_j`` under the surrogate rows every solution satisfies
(``Σ_j s_j y_j ≥ Σ_i d_i`` with ``y`` whole, a covering knapsack solved by DP; or
``Σ_j y_j ≤ max_open`` when given). So

    L(u) = Σ_i u_i + min_y Σ_j v_j(u) y_j ≤ optimum for every u,

raised by subgradient steps (Held–Wolfe–Crowder, step halved when ``L`` stalls). Knapsacks are
solved exactly by dynamic programming over integer demands when that is small, otherwise by their
LP relaxation (a weaker but still valid bound). The iteration count is fixed, so the bound is
deterministic. Along the way the sites a multiplier vector opens are handed to the primal
heuristic (:mod:`planning.layout.heuristic`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from planning.knapsack import min_knapsack

#: Largest DP table (items × capacity cells, summed over sites) solved exactly per iteration;
#: above it the knapsacks take their LP relaxation. About 20 ms of numpy work.
DP_CELLS_MAX = 3_000_000
#: Subgradient step: start, halving after this many iterations without a better bound, and the floor.
STEP_START = 2.0
STALL_ITERS = 12
STEP_MIN = 1e-4
#: Share of the iterations run with LP knapsacks (fast) before the exact ones tighten the bound.
EXACT_FROM = 0.6
#: Steps of the covering knapsack over the sites (the need for capacity beyond the sites that pay).
COVER_CELLS = 20_000


@dataclass(frozen=True)
class Instance:
    """A facility-location instance in solver form (finite costs; forbidden pairs at ``big``)."""

    cost: NDArray[np.float64]  # (n, m); forbidden pairs hold a cost no plan pays
    allowed: NDArray[np.bool_]  # (n, m)
    demand: NDArray[np.float64]  # (n,)
    capacity: NDArray[np.float64]  # (m,)
    open_cost: NDArray[np.float64]  # (m,) cost of having the site open (existing sites included)
    max_open: int | None
    integral: bool  # demands and capacities are whole numbers


@dataclass(frozen=True)
class Relaxation:
    """The best Lagrangian bound found and the multipliers that gave it."""

    bound: float
    u: NDArray[np.float64]
    iterations: int


def _lp_knapsacks(red: NDArray[np.float64], inst: Instance) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Per site the LP knapsack minimum and its (fractional) solution ``x`` (n, m)."""
    d = inst.demand
    neg = (red < 0) & inst.allowed & (d[:, None] <= inst.capacity[None, :])
    ratio = np.where(neg, red / np.maximum(d[:, None], 1e-12), 0.0)
    order = np.argsort(ratio, axis=0, kind="stable")
    d_sorted = np.where(np.take_along_axis(neg, order, 0), d[order], 0.0)
    before = np.cumsum(d_sorted, axis=0) - d_sorted
    take = np.clip((inst.capacity[None, :] - before) / np.maximum(d_sorted, 1e-12), 0.0, 1.0)
    take = np.where(d_sorted > 0, take, np.take_along_axis(neg, order, 0).astype(float))
    x = np.zeros_like(red)
    np.put_along_axis(x, order, take, 0)
    x = np.where(neg, x, 0.0)
    return (x * np.where(neg, red, 0.0)).sum(axis=0), x


def _knapsacks(red: NDArray[np.float64], inst: Instance, exact: bool) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Knapsack value per site and solution ``x``: exact when asked and the DP tables are small, else the LP."""
    lp_val, lp_x = _lp_knapsacks(red, inst)
    if not (exact and inst.integral):
        return lp_val, lp_x
    neg = (red < 0) & inst.allowed & (inst.demand[:, None] <= inst.capacity[None, :])
    caps = inst.capacity.astype(np.int64)
    weight = inst.demand.astype(np.int64)
    # where the items all fit, the LP solution takes every one: already integral, no DP
    tight = (weight @ neg) > caps
    cells = int((neg[:, tight].sum(axis=0) * (caps[tight] + 1)).sum())
    if cells > DP_CELLS_MAX:
        return lp_val, lp_x
    val = lp_val.copy()
    x = lp_x.copy()
    for j in np.flatnonzero(tight):
        items = np.flatnonzero(neg[:, j])
        v, chosen = min_knapsack(red[items, j], weight[items], int(caps[j]))
        val[j] = v
        x[:, j] = 0.0
        x[items[chosen], j] = 1.0
    return val, x


def _cover_dp(value: NDArray[np.float64], size: NDArray[np.float64], need: float) -> NDArray[np.bool_]:
    """Cheapest subset of items (``value`` ≥ 0) whose ``size`` sums to at least ``need``: exact DP.

    Sizes and need are counted in steps of ``q`` (the need in at most :data:`COVER_CELLS` steps),
    sizes rounded up and the need too: every subset that covers ``need`` still covers the rounded
    need, so the DP's minimum is no larger than the true one and the bound stays valid.
    """
    q = max(1.0, need / COVER_CELLS)
    r = int(np.ceil(need / q - 1e-9))
    w = np.ceil(size / q - 1e-9).astype(np.int64)
    best = np.full(r + 1, np.inf)
    best[0] = 0.0
    idx = np.arange(r + 1)
    took = np.zeros((len(value), r + 1), dtype=bool)
    for k in range(len(value)):
        cand = best[np.maximum(idx - w[k], 0)] + value[k]
        better = cand < best
        took[k] = better
        best = np.where(better, cand, best)
    chosen = np.zeros(len(value), dtype=bool)
    c = r
    for k in range(len(value) - 1, -1, -1):
        if c <= 0:
            break
        if took[k, c]:
            chosen[k] = True
            c = max(c - int(w[k]), 0)
    return chosen


def choose_sites(value: NDArray[np.float64], inst: Instance) -> tuple[float, NDArray[np.float64]]:
    """Minimise ``Σ v_j y_j`` over ``y ∈ {0, 1}`` with the cover row (or the cardinality row when set).

    Sites of negative value open; when they cannot hold the total demand, the cheapest set of the
    others that makes up the rest is added (a covering knapsack, :func:`_cover_dp`). With
    ``max_open`` the cover row is left out (dropping a row keeps the bound valid); the
    cardinality row alone is solved exactly by taking the most negative values.
    """
    m = len(value)
    y = np.zeros(m)
    if inst.max_open is not None:
        order = np.argsort(value, kind="stable")[: inst.max_open]
        pick = order[value[order] < 0]
        y[pick] = 1.0
        return float(value[pick].sum()), y
    y[value < 0] = 1.0
    need = float(inst.demand.sum()) - float(inst.capacity[value < 0].sum())
    if need > 1e-9:
        rest = np.flatnonzero(value >= 0)
        y[rest[_cover_dp(value[rest], inst.capacity[rest], need)]] = 1.0
    return float((value * y).sum()), y


def evaluate(
    u: NDArray[np.float64], inst: Instance, exact: bool = True
) -> tuple[float, NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """``L(u)``, the sites' choice ``y``, the subgradient ``1 − Σ_j x_ij y_j`` and the sites' values ``v_j``.

    ``exact``: integer knapsacks (else their LP relaxation).
    """
    red = inst.cost - u[:, None]
    kval, x = _knapsacks(red, inst, exact)
    value = inst.open_cost + kval
    sites, y = choose_sites(value, inst)
    served = (x * y[None, :]).sum(axis=1)
    return float(u.sum()) + sites, y, 1.0 - served, value


def initial_multipliers(inst: Instance) -> NDArray[np.float64]:
    """Each unit's second-cheapest allowed cost (its cheapest when it has one site)."""
    c = np.where(inst.allowed, inst.cost, np.inf)
    part = np.sort(c, axis=1)[:, : min(2, c.shape[1])]
    u = part[:, -1]
    return np.where(np.isfinite(u), u, part[:, 0])


def subgradient(
    inst: Instance,
    upper: Callable[[NDArray[np.float64], NDArray[np.float64]], float],
    iterations: int,
) -> Relaxation:
    """Raise ``L(u)`` by subgradient steps towards the best known objective.

    Parameters
    ----------
    inst
        The instance.
    upper
        Called with the site choice ``y`` of an iteration and the sites' values; returns the best objective known
        after it has tried those sites (the primal heuristic's hook).
    iterations
        Number of subgradient iterations (fixed, so the result is deterministic).
    """
    u = initial_multipliers(inst)
    best = Relaxation(-np.inf, u.copy(), 0)
    step, stall = STEP_START, 0
    exact_from = EXACT_FROM * iterations
    ub = np.inf
    for it in range(iterations):
        lval, y, g, value = evaluate(u, inst, exact=it >= exact_from)
        if not np.isfinite(best.bound) or lval > best.bound + 1e-9 * max(1.0, abs(best.bound)):
            best, stall = Relaxation(lval, u.copy(), it + 1), 0
        elif it == int(exact_from) + 1:
            stall = 0  # the exact knapsacks start from the LP's best multipliers
        else:
            stall += 1
            if stall >= STALL_ITERS:
                step, stall = step / 2, 0
        if it % 5 == 0 or it == iterations - 1:
            ub = min(ub, upper(y, value))
        norm = float(g @ g)
        if norm < 1e-12 or step < STEP_MIN or (np.isfinite(ub) and ub - best.bound <= 1e-9 * max(1.0, abs(ub))):
            break
        target = ub if np.isfinite(ub) else lval + 0.1 * abs(lval) + 1.0
        u = u + step * max(target - lval, 1e-9 * max(1.0, abs(lval))) / norm * g
    return best
