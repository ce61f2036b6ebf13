"""Reduced-cost fixing: the sites and unit-site pairs no plan cheaper than a known one can use.

At multipliers ``u`` the Lagrangian bound (:mod:`~planning.layout.lagrange`) is

    L(u) = Σ_i u_i + min_y Σ_j v_j y_j,   v_j = f_j + K_j,

``K_j`` site ``j``'s knapsack over the reduced costs ``c_ij − u_i``. Fixing a variable against
the relaxation's choice and solving it again bounds every plan that sets it so:

- a site forced open (or closed): the site choice with ``v_j`` at −∞ (or +∞);
- a pair ``x_ij = 1``: site ``j`` open and unit ``i`` in its knapsack, whose value is then at least
  ``c_ij − u_i + g_j(s_j − d_i)`` and at least ``g_j(s_j)``, ``g_j`` the LP knapsack of site ``j``
  as a function of its capacity (items more or fewer only lower or raise it).

When that bound reaches the cost ``upper`` of a known plan, no cheaper plan sets the variable
so: it is fixed. Every plan cheaper than ``upper`` lies in the reduced model, so the optimum is
at least ``min(upper, bound of the reduced model)``: a solver given only the kept pairs proves a
global bound (Nemhauser & Wolsey's reduced-cost fixing, here on the Lagrangian of the assignment rows).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from planning.layout.lagrange import Instance, _knapsacks, choose_sites

#: Relative margin by which a bound must exceed ``upper`` before a variable is fixed (rounding).
MARGIN = 1e-9


@dataclass(frozen=True)
class Reduction:
    """What reduced-cost fixing at ``upper`` kept.

    Attributes
    ----------
    pairs
        ``(n, m)`` bool: the allowed pairs a plan cheaper than ``upper`` may use.
    closed
        ``(m,)`` bool: sites no such plan opens (their pairs are all dropped).
    opened
        ``(m,)`` bool: sites every such plan opens.
    bound
        ``L(u)``, the Lagrangian bound at the multipliers used.
    upper
        The plan cost the fixing is measured against.
    """

    pairs: NDArray[np.bool_]
    closed: NDArray[np.bool_]
    opened: NDArray[np.bool_]
    bound: float
    upper: float


def _lp_curve(red: NDArray[np.float64], inst: Instance, j: int) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Breakpoints ``(capacity, value)`` of site ``j``'s LP knapsack as a function of its capacity."""
    d = inst.demand
    neg = np.flatnonzero((red[:, j] < 0) & inst.allowed[:, j])
    neg = neg[d[neg] > 0]
    free = float(red[(red[:, j] < 0) & inst.allowed[:, j] & (d <= 0), j].sum())
    order = neg[np.argsort(red[neg, j] / d[neg], kind="stable")]
    caps = np.concatenate([[0.0], np.cumsum(d[order])])
    vals = np.concatenate([[0.0], np.cumsum(red[order, j])]) + free
    return caps, vals


def _site_bounds(value: NDArray[np.float64], inst: Instance) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Per site ``min Σ v y`` with that site forced open, and forced closed (``inf``: no cover without it)."""
    m = len(value)
    big = float(np.abs(value).sum()) + 1.0
    forced_open, forced_closed = np.empty(m), np.empty(m)
    for j in range(m):
        v = value.copy()
        v[j] = -big
        got, _ = choose_sites(v, inst)
        forced_open[j] = got + big + value[j]
        v[j] = big
        got, y = choose_sites(v, inst)
        forced_closed[j] = np.inf if y[j] > 0 else got
    return forced_open, forced_closed


def reduce(inst: Instance, u: NDArray[np.float64], upper: float) -> Reduction:
    """Fix sites and pairs at multipliers ``u`` against a plan of cost ``upper``.

    Parameters
    ----------
    inst
        The instance.
    u
        Lagrangian multipliers of the assignment rows (e.g. the bound's best).
    upper
        The cost of a known plan (any plan cheaper than it survives the fixing).

    Returns
    -------
    Reduction
        The pairs and sites kept; ``pairs`` is empty when ``L(u)`` itself reaches ``upper``.
    """
    red = inst.cost - u[:, None]
    kval, _ = _knapsacks(red, inst, True)
    value = inst.open_cost + kval
    base = float(u.sum())
    lag, _ = choose_sites(value, inst)
    bound = base + lag
    cut = upper + MARGIN * max(1.0, abs(upper))
    fit = inst.allowed & (inst.demand[:, None] <= inst.capacity[None, :])
    if bound >= cut:
        m = len(value)
        return Reduction(np.zeros_like(fit), np.ones(m, dtype=bool), np.zeros(m, dtype=bool), bound, upper)
    forced_open, forced_closed = _site_bounds(value, inst)
    closed = base + forced_open >= cut
    opened = base + forced_closed >= cut
    pairs = fit & ~closed[None, :]
    for j in np.flatnonzero(~closed):
        caps, vals = _lp_curve(red, inst, int(j))
        rest = np.interp(inst.capacity[j] - inst.demand, caps, vals)
        knap = np.maximum(red[:, j] + rest, vals[-1] if inst.capacity[j] >= caps[-1] else float(np.interp(inst.capacity[j], caps, vals)))
        pair_bound = base + forced_open[j] - value[j] + inst.open_cost[j] + knap
        pairs[:, j] &= pair_bound < cut
    return Reduction(pairs, closed, opened, bound, upper)
