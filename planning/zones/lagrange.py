"""A Lagrangian bound of single-school zoning with one 0/1 knapsack per school.

Dualize "every block goes to exactly one school" with a price ``λ_i`` per block
(in the block's whole cost, student-seconds). What is left splits by school:

``L(λ) = Σ_i λ_i + Σ_j min { Σ_i (d_i t_ij − λ_i) x_ij : Σ_i d_i x_ij ≤ c_j, x ∈ {0, 1} }``

is a lower bound of the optimum for every ``λ``, and each school's part is a
0/1 knapsack over the blocks whose cost there is below their price (only they
can lower it), solved exactly by dynamic programming over the seats. Started
from the transportation relaxation's duals (``λ_i = min_j d_i (t_ij + π_j)``,
``π`` the seat prices) it is at least the relaxation's bound up to the duals'
accuracy, and larger where whole blocks do not pack a school's seats exactly;
subgradient steps ``λ += θ (UB − L) g / ‖g‖²`` with ``g_i = 1 − Σ_j x_ij``
(Polyak, ``θ`` halved when the bound stalls) raise it further.

Only the model with hard seats and no stability cap is covered (otherwise
:func:`knapsack_bound` gives nothing). Its work is counted in knapsack cells
(items × seats, plus :data:`ITEM_CELLS` per item), deterministic, so the caller
can charge it to a work budget (about 1e8 cells per CPU second).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from planning.knapsack import min_knapsack
from planning.zones.instance import Instance

#: Subgradient steps at most, and the stall after which the step size halves.
MAX_STEPS = 80
STALL_STEPS = 3
#: Knapsack cells one item's pass costs besides its cells (a numpy call: a few microseconds).
ITEM_CELLS = 500
#: Smallest step-size factor: below it the bound no longer rises visibly.
MIN_THETA = 1e-3
#: First step-size factor (1 overshoots: the first step lowers the bound a lot on the suite's town at slack 1.01).
THETA0 = 0.25


@dataclass(frozen=True)
class KnapsackBound:
    """The best Lagrangian bound found, its steps and the knapsack cells computed (its work)."""

    bound: float
    steps: int
    cells: int


def _knapsack(weight: NDArray[np.int64], cost: NDArray[np.float64], seats: int) -> tuple[float, NDArray[np.bool_], int]:
    """Cheapest 0/1 choice of items (all ``cost < 0``) within ``seats``: its cost, the items taken, cells computed.

    Dynamic programming over the seats, or over its complement (the items left
    out, at least ``Σ weight − seats`` students, losing the least) when that
    is smaller: a few blocks' worth where the seats are nearly enough.
    """
    need = int(weight.sum()) - seats
    if need <= 0:
        return float(cost.sum()), np.ones(len(weight), bool), 0
    if need <= seats:
        return _cover(weight, cost, need)
    value, take = min_knapsack(cost, weight, seats)
    return value, take, len(weight) * (seats + 1)


def _cover(weight: NDArray[np.int64], cost: NDArray[np.float64], need: int) -> tuple[float, NDArray[np.bool_], int]:
    """:func:`_knapsack` as its complement: leave out at least ``need`` students, losing the least."""
    lost = np.full(need + 1, np.inf)  # least profit lost leaving out at least v students
    lost[0] = 0.0
    dropped = np.zeros((len(weight), need + 1), bool)
    v = np.arange(need + 1)
    for k, (w, c) in enumerate(zip(weight.tolist(), cost.tolist(), strict=True)):
        cand = lost[np.maximum(v - w, 0)] - c
        better = cand < lost
        lost = np.where(better, cand, lost)
        dropped[k] = better
    take = np.ones(len(weight), bool)
    left = need
    for k in range(len(weight) - 1, -1, -1):
        if left > 0 and dropped[k, left]:
            take[k] = False
            left = max(left - int(weight[k]), 0)
    return float(cost.sum() + lost[need]), take, len(weight) * (need + 1)


def _evaluate(
    p: Instance, unit: NDArray[np.float64], lam: NDArray[np.float64], by_school: list[NDArray[np.int64]]
) -> tuple[float, NDArray[np.float64], int]:
    """``L(λ)``, its subgradient per block and the knapsack cells computed."""
    red = unit - lam[p.origin]
    value = float(lam.sum())
    used = np.zeros(len(lam))
    cells = 0
    for j, pairs in enumerate(by_school):
        items = pairs[red[pairs] < 0]
        if not len(items):
            continue
        got, take, c = _knapsack(p.demand[p.origin[items]], red[items], int(p.capacity[j]))
        value += got
        cells += c + ITEM_CELLS * len(items)
        np.add.at(used, p.origin[items[take]], 1.0)
    return value, 1.0 - used, cells


def knapsack_bound(
    p: Instance,
    prices: NDArray[np.float64],
    upper: float,
    *,
    max_cells: float,
    target: float,
    stop: Callable[[], bool] = lambda: False,
) -> KnapsackBound:
    """The Lagrangian bound (see the module docstring) from seat prices ``prices``, the best plan costing ``upper``.

    Stops after :data:`MAX_STEPS`, once about ``max_cells`` knapsack cells are
    computed, when the step size is below :data:`MIN_THETA` or the bound reaches
    ``target``, or ``stop()`` says so (the wall clock). Blocks with students and a school in reach are the rows; blocks
    without a school in reach add nothing.
    """
    rows = (p.demand[p.origin] > 0).astype(float)
    unit = np.where(rows > 0, p.cost * p.demand[p.origin], 0.0).astype(float)
    lam = np.full(len(p.demand), np.inf)
    np.minimum.at(lam, p.origin, np.where(rows > 0, unit + prices[p.dest] * p.demand[p.origin], np.inf))
    lam = np.where(np.isfinite(lam), lam, 0.0)
    active = np.zeros(len(p.demand), bool)
    active[p.origin[rows > 0]] = True
    order = np.argsort(p.dest, kind="stable")
    cuts = np.searchsorted(p.dest[order], np.arange(len(p.capacity) + 1))
    by_school = [order[cuts[j] : cuts[j + 1]] for j in range(len(p.capacity))]
    by_school = [pairs[rows[pairs] > 0] for pairs in by_school]
    best, theta, stall, cells, steps = -np.inf, THETA0, 0, 0, 0
    while steps < MAX_STEPS and cells < max_cells and theta >= MIN_THETA and not (steps and stop()):
        value, g, c = _evaluate(p, unit, lam, by_school)
        steps, cells = steps + 1, cells + c
        g = np.where(active, g, 0.0)
        if value > best + 1e-9 * abs(value):
            best, stall = value, 0
        else:
            stall += 1
            if stall >= STALL_STEPS:
                theta, stall = theta / 2, 0
        norm = float((g * g).sum())
        if best >= target or norm == 0.0:
            break
        lam = lam + theta * max(upper - value, 0.0) / norm * g
    # costs are whole student-seconds: the bound rounds up to one, after a margin for float sums
    return KnapsackBound(float(np.ceil(best - 1e-7 * abs(best) - 1e-6)) if np.isfinite(best) else -np.inf, steps, cells)
