"""The facility-location model in CP-SAT, warm-started from the heuristic's plan.

Variables ``y_j`` (site open) and ``x_ij`` (unit i served by site j) over the candidate pairs;
rows ``Σ_j x_ij = 1``, ``Σ_i d_i x_ij ≤ s_j y_j``, ``x_ij ≤ y_j`` and ``Σ_j y_j ≤ max_open``;
objective ``Σ c_ij x_ij + Σ f_j y_j`` in integers (costs × a scale so that the largest is
:data:`COEF_MAX`). Demands and capacities are integers when the instance's are; otherwise they
are scaled the same way, capacities rounded down so that a plan CP-SAT accepts is feasible.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from ortools.sat.python import cp_model

from planning.layout.lagrange import Instance

#: Largest integer objective coefficient: ~7 significant digits per cost, and totals of up to
#: ~10^5 terms stay far below 2^63.
COEF_MAX = 10_000_000
#: Scale of fractional demands and capacities (whole ones stay as they are).
LOAD_SCALE = 1000


@dataclass(frozen=True)
class CpResult:
    """What CP-SAT returned: status name, assignment (or ``None``), and its bound in cost units."""

    status: str
    assign: NDArray[np.int64] | None
    bound: float
    det_time: float = 0.0  # deterministic seconds the search used
    wall_stopped: bool = False  # the wall-clock safety net, not the deterministic limit, ended the search


def _loads(inst: Instance) -> tuple[list[int], list[int]]:
    if inst.integral:
        return [int(v) for v in inst.demand], [int(v) for v in inst.capacity]
    return [math.ceil(v * LOAD_SCALE) for v in inst.demand], [math.floor(v * LOAD_SCALE) for v in inst.capacity]


def _scale(inst: Instance, pairs: NDArray[np.bool_]) -> tuple[float, bool]:
    """Cost scale and whether it is exact (whole costs no larger than :data:`COEF_MAX` keep scale 1)."""
    costs = np.concatenate([inst.cost[pairs], inst.open_cost])
    top = float(np.abs(costs).max(initial=0.0))
    if top <= COEF_MAX and np.all(costs == np.round(costs)):
        return 1.0, True
    return COEF_MAX / max(top, 1e-12), False


def solve_cpsat(
    inst: Instance,
    pairs: NDArray[np.bool_],
    hint: NDArray[np.int64] | None,
    time_limit_s: float,
    seed: int,
    *,
    wall_limit_s: float | None = None,
    workers: int = 2,
    safety_s: float | None = None,
) -> CpResult:
    """Solve over the candidate ``pairs`` (n, m) with one worker and a deterministic time limit.

    ``wall_limit_s`` replaces the deterministic limit by a wall-clock one with CP-SAT's default
    ``workers`` (the benchmark's peer only; then the result depends on the machine).
    ``safety_s`` is a wall-clock safety net under the deterministic limit (default ten times it
    plus 10 s); when it ends the search, ``wall_stopped`` says so.
    """
    n, m = pairs.shape
    scale, exact = _scale(inst, pairs)
    model = cp_model.CpModel()
    y = [model.new_bool_var(f"y{j}") for j in range(m)]
    x: dict[tuple[int, int], cp_model.IntVar] = {}
    dem, cap = _loads(inst)
    for i, j in zip(*np.nonzero(pairs)):
        x[int(i), int(j)] = model.new_bool_var(f"x{i}_{j}")
    rows: list[list[tuple[int, cp_model.IntVar]]] = [[] for _ in range(m)]
    for (i, j), v in x.items():
        rows[j].append((i, v))
        model.add_implication(v, y[j])
    for i in range(n):
        model.add_exactly_one([x[i, int(j)] for j in np.flatnonzero(pairs[i])])
    for j in range(m):
        model.add(sum(dem[i] * v for i, v in rows[j]) <= cap[j] * y[j])
    if inst.max_open is not None:
        model.add(sum(y) <= inst.max_open)
    terms = [round(float(inst.cost[i, j]) * scale) * v for (i, j), v in x.items()]
    terms += [round(float(inst.open_cost[j]) * scale) * y[j] for j in range(m)]
    model.minimize(sum(terms))
    if hint is not None:
        for (i, j), v in x.items():
            model.add_hint(v, int(hint[i]) == j)
        used = set(hint.tolist())
        for j in range(m):
            model.add_hint(y[j], j in used)
    solver = cp_model.CpSolver()
    p = solver.parameters
    p.random_seed = int(seed)
    p.log_search_progress = False
    p.catch_sigint_signal = False
    if wall_limit_s is None:
        p.num_workers = 1
        p.max_deterministic_time = float(time_limit_s)
        p.max_time_in_seconds = 10.0 * float(time_limit_s) + 10.0 if safety_s is None else max(float(safety_s), 0.01)
    else:
        p.max_time_in_seconds = float(wall_limit_s)
        p.num_workers = int(workers)
    status = solver.solve(model)
    name = solver.status_name(status)
    det = solver.response_proto.deterministic_time
    walled = wall_limit_s is None and status not in (cp_model.OPTIMAL, cp_model.INFEASIBLE) and det < 0.99 * float(time_limit_s)
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return CpResult(name, None, -math.inf, det, walled)
    assign = np.full(n, -1, dtype=np.int64)
    for (i, j), v in x.items():
        if solver.boolean_value(v):
            assign[i] = j
    # rounding moved each of the ≤ n + m terms by at most half a unit
    bound = solver.best_objective_bound / scale if exact else (solver.best_objective_bound - 0.5 * (n + m)) / scale
    return CpResult(name, assign, float(bound), det, walled)
