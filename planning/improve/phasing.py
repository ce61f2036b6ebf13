"""Phasing the achievement plan over its years: the earliest years fix the most.

Each school's measures form one package. Packages are taken in priority order — schools that
fail the per-school rule today first, then the most pupils per yuan of the package, then the
school code — and the years are filled in turn: in year 1 each package in that order puts in
as many of its units (cheapest first) as the year's money and training limit still allow, then
year 2 continues with what is left, the unfinished packages first, and so on. A year's money is
``budget_per_year_yuan``, else an even share of the total (a unit larger than that share still
goes into a year with nothing in it yet); backbone teachers are at most ``backbone_per_year`` a
year. What fits nowhere goes to the last year, and :func:`overspent` names any year then over
its ceiling (:func:`overtrained`: over the training limit).

A greedy by pupils per yuan is not an exact knapsack per year; it is simple, reproducible and
puts the schools inspectors count, and the large schools that are cheap to fix, first.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from planning.improve.options import ImproveOptions


def phase_years(
    school: NDArray[np.int64],
    cost: NDArray[np.int64],
    backbone: NDArray[np.bool_],
    priority: list[tuple[int, float, str]],
    *,
    options: ImproveOptions,
) -> NDArray[np.int64]:
    """Year (1-based) of each unit (see the module docstring).

    Parameters
    ----------
    school, cost, backbone
        Per unit: its school (an index into ``priority``), its cost (yuan) and whether it trains a
        backbone teacher.
    priority
        Per school: a sort key, smallest first (``(meets today, −pupils per yuan, school code)``).
    options
        ``years``, ``budget_per_year_yuan`` and ``backbone_per_year``.
    """
    n_years = options.years
    cap = float(options.budget_per_year_yuan) if options.budget_per_year_yuan is not None else float(cost.sum()) / n_years
    strict_cap = options.budget_per_year_yuan is not None
    order = sorted(range(len(priority)), key=lambda s: priority[s])
    # each package's units, cheapest first (ties by position: deterministic)
    queue = {s: [int(n) for n in np.flatnonzero(school == s)[np.argsort(cost[school == s], kind="stable")]] for s in order}
    year = np.zeros(len(cost), dtype=np.int64)
    for y in range(1, n_years + 1):
        spent, trained = 0.0, 0
        for s in order:
            kept = []
            for n in queue[s]:
                fits = spent + cost[n] <= cap * (1 + 1e-9) or (spent == 0 and not strict_cap)
                bb_ok = not backbone[n] or options.backbone_per_year is None or trained < options.backbone_per_year
                if y == n_years or (fits and bb_ok):
                    year[n] = y
                    spent += float(cost[n])
                    trained += int(backbone[n])
                else:
                    kept.append(n)
            queue[s] = kept
    return year


def overspent(year: NDArray[np.int64], cost: NDArray[np.int64], options: ImproveOptions) -> list[tuple[int, float]]:
    """``(year, yuan above the ceiling)`` of each year over ``budget_per_year_yuan`` (none without one)."""
    if options.budget_per_year_yuan is None:
        return []
    per = np.bincount(year, weights=cost.astype(np.float64), minlength=options.years + 1)
    return [(y, float(per[y] - options.budget_per_year_yuan)) for y in range(1, options.years + 1) if per[y] > options.budget_per_year_yuan + 1e-6]


def overtrained(year: NDArray[np.int64], trained: NDArray[np.int64], options: ImproveOptions) -> list[tuple[int, int]]:
    """``(year, backbone teachers above backbone_per_year)`` of each year over the training limit (none without one).

    The total is within the limit over the plan (a side row of the model); a year can still go over when the
    money of earlier years ran out before their training places did, and the last year takes what is left.
    """
    if options.backbone_per_year is None:
        return []
    per = np.bincount(year, weights=trained.astype(np.float64), minlength=options.years + 1)
    return [(y, int(per[y] - options.backbone_per_year)) for y in range(1, options.years + 1) if per[y] > options.backbone_per_year + 1e-9]
