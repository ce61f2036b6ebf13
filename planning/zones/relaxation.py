"""Transportation relaxation of single-school zoning: blocks divisible, a min-cost flow.

Solved exactly with OR-Tools ``SimpleMinCostFlow`` in integer students: blocks
→ schools (unit cost: travel plus stability penalty, plus a price per moved
student under a stability cap) → sink (the seats; overflow arcs at the overflow
penalty when overflow is allowed). Its cost is a valid lower bound and a basic
optimum splits at most ``#schools − 1`` blocks. A stability cap is dualized
(Lagrangian): the smallest integer price per moved student that meets the cap
is found by bisection and the best Lagrangian value is the bound.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from ortools.graph.python import min_cost_flow

from geo.errors import InfeasibleError, Shortfall, SolverError, figures
from planning.zones.instance import Instance


@dataclass(frozen=True)
class Flow:
    """An optimal flow of the relaxation."""

    pair_flow: NDArray[np.int64]
    overflow: NDArray[np.int64]
    cost: int  # Σ flow × (cost + price × moved) + penalty × overflow
    moved: int


@dataclass(frozen=True)
class Relaxation:
    """The relaxation a plan is rounded from.

    Attributes
    ----------
    flow
        Optimal flow (at the Lagrangian price when a stability cap binds).
    bound
        Lower bound on the objective of any whole-block plan.
    price
        Lagrangian price per moved student, seconds (0 without a binding cap).
    lp_bound
        Cost of the relaxation without the cap's price.
    """

    flow: Flow
    bound: float
    price: int
    lp_bound: float


def transportation(p: Instance, *, price: int, overflow_penalty_s: int | None) -> Flow | None:
    """Min-cost flow of the relaxation at ``price`` per moved student; ``None`` when capacity cannot take every student."""
    n, m = len(p.demand), len(p.capacity)
    active = np.zeros(n, bool)
    active[p.origin] = True
    active &= p.demand > 0
    use = active[p.origin]
    pairs = np.flatnonzero(use)
    total = int(p.demand[active].sum())
    sink = n + m
    f = min_cost_flow.SimpleMinCostFlow()
    unit = p.cost[pairs] + np.int64(price) * p.moved[pairs]
    arcs = f.add_arcs_with_capacity_and_unit_cost(
        p.origin[pairs], n + p.dest[pairs], p.demand[p.origin[pairs]], unit
    )
    f.add_arcs_with_capacity_and_unit_cost(n + np.arange(m), np.full(m, sink), p.capacity, np.zeros(m, np.int64))
    over_arcs = None
    if overflow_penalty_s is not None:
        over_arcs = f.add_arcs_with_capacity_and_unit_cost(
            n + np.arange(m), np.full(m, sink), np.full(m, total), np.full(m, overflow_penalty_s, np.int64)
        )
    supplies = np.zeros(n + m + 1, np.int64)
    supplies[:n] = np.where(active, p.demand, 0)
    supplies[sink] = -total
    f.set_nodes_supplies(np.arange(n + m + 1), supplies)
    status = f.solve_max_flow_with_min_cost()
    if status != f.OPTIMAL:
        raise SolverError(f"min-cost flow failed with status {status}")
    if f.maximum_flow() < total:
        return None
    flow = np.zeros(len(p.origin), np.int64)
    flow[pairs] = f.flows(arcs)
    over = np.zeros(m, np.int64) if over_arcs is None else f.flows(over_arcs).astype(np.int64)
    return Flow(flow, over, int(f.optimal_cost()), int((flow * p.moved).sum()))


def least_overflow(p: Instance) -> NDArray[np.int64]:
    """Students above each school's seats when as few as possible are, blocks divisible (0 where the seats suffice).

    The relaxation with overflow priced above any travel: its total is the
    fewest students no plan can seat within reach, and where they sit.
    """
    flow = transportation(p, price=0, overflow_penalty_s=10 * int(p.cost.max(initial=1)) + 10**6)
    assert flow is not None
    return flow.overflow


def shortfalls(p: Instance, school_township: NDArray[np.object_] | None) -> list[Shortfall]:
    """Where capacity is short: the least total overflow, school by school."""
    over = least_overflow(p)
    out = []
    for j in np.flatnonzero(over):
        where, township = f"school {p.school_ids[j]}", ""
        if school_township is not None and pd.notna(school_township[j]) and school_township[j] != "":
            township = str(school_township[j])
            where += f" ({township})"
        seats, students = int(p.capacity[j]), int(p.capacity[j] + over[j])
        out.append(
            Shortfall(
                where=where,
                short_by=int(over[j]),
                detail=f"{seats} seats for {students} students in reach",
                kind="zones.reach_capacity",
                figures=figures(school_id=str(p.school_ids[j]), township=township, seats=seats, students=students),
            )
        )
    return sorted(out, key=lambda s: s.where)


def relax(
    p: Instance,
    *,
    level: str,
    max_moved: int | None,
    overflow_penalty_s: int | None,
    school_township: NDArray[np.object_] | None,
) -> Relaxation:
    """Solve the relaxation, with the stability cap dualized when it binds.

    Raises
    ------
    InfeasibleError
        Capacity is short (every short school named) or the stability cap cannot be met.
    """
    n = len(p.demand)
    base = transportation(p, price=0, overflow_penalty_s=overflow_penalty_s)
    if base is None:
        total = int(p.demand[np.isin(np.arange(n), p.origin)].sum())
        short, seats = shortfalls(p, school_township), int(p.capacity.sum())
        elsewhere = ": the others are beyond their reach" if seats > total else ""
        raise InfeasibleError(
            summary=(
                f"{level}: the schools {total} students can reach have too few seats for them: at least "
                f"{sum(s.short_by for s in short)} find no seat within reach, at {len(short)} school{'s' * (len(short) != 1)} "
                f"({seats} seats in all{elsewhere})"
            ),
            shortfalls=short,
            hint="add seats or schools, raise the maximum travel time, or set allow_overflow = true",
        )
    flow, bound, price = base, float(base.cost), 0
    if max_moved is not None and base.moved > max_moved:
        hi = int(p.cost.max(initial=0)) + (overflow_penalty_s if overflow_penalty_s is not None else 0) + 1
        top = transportation(p, price=hi, overflow_penalty_s=overflow_penalty_s)
        assert top is not None
        if top.moved > max_moved:
            raise InfeasibleError(
                summary=f"{level}: at least {top.moved} students must change school but max_moved is {max_moved}",
                shortfalls=[Shortfall(where="stability cap", short_by=top.moved - max_moved, unit="students", kind="zones.stability_cap",
                                     figures=figures(moved=int(top.moved), max_moved=int(max_moved)))],
                hint="raise max_moved: schools closed, out of reach or full force these moves",
            )
        lo, best = 0, top
        bound = max(bound, top.cost - hi * max_moved)
        while hi - lo > 1:
            mid = (lo + hi) // 2
            f = transportation(p, price=mid, overflow_penalty_s=overflow_penalty_s)
            assert f is not None
            bound = max(bound, f.cost - mid * max_moved)
            if f.moved <= max_moved:
                hi, best = mid, f
            else:
                lo = mid
        flow, price = best, hi
    return Relaxation(flow=flow, bound=bound, price=price, lp_bound=float(base.cost))
