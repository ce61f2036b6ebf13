"""The 0/1 knapsack both Lagrangian bounds solve per facility (zones per school, layout per site)."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray


def min_knapsack(cost: NDArray[np.float64], weight: NDArray[np.int64], cap: int) -> tuple[float, NDArray[np.bool_]]:
    """Cheapest 0/1 choice of items (every ``cost < 0``) whose ``weight`` sums to at most ``cap``: exact DP.

    Parameters
    ----------
    cost
        Cost of taking each item, all negative (a Lagrangian reduced cost).
    weight
        Whole-number size of each item; items larger than ``cap`` are never taken.
    cap
        Capacity.

    Returns
    -------
    tuple
        The least total cost and the items taken (ties: the earlier items' choice is kept).
    """
    best = np.zeros(cap + 1)  # cheapest cost within each capacity
    took = np.zeros((len(weight), cap + 1), bool)
    for k, (w, c) in enumerate(zip(weight.tolist(), cost.tolist(), strict=True)):
        if w > cap:
            continue
        cand = best[: cap + 1 - w] + c
        better = cand < best[w:]
        best[w:] = np.where(better, cand, best[w:])
        took[k, w:] = better
    take = np.zeros(len(weight), bool)
    room = cap
    for k in range(len(weight) - 1, -1, -1):
        if took[k, room]:
            take[k] = True
            room -= int(weight[k])
    return float(best[cap]), take


__all__ = ["min_knapsack"]
