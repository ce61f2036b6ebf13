"""Feeder map (对口直升): each primary school's graduates go to one junior school.

Formulation. Primary schools ``p`` with ``g_p`` graduates a year (about a sixth
of the primary pupils in their zone), junior schools ``j`` with a yearly intake
of ``c_j / 3`` seats. Binary ``y_pj``: ``p`` feeds ``j``. Each primary school
feeds exactly one reachable junior school; ``Σ_p g_p y_pj ≤ c_j / 3`` (plus
penalized overflow ``o_j`` when the intake is short); minimize
``Σ g_p t_pj y_pj + P Σ o_j``. Solved with CP-SAT (one worker, fixed seed,
deterministic time limit, so the result does not depend on machine speed); the
bound is CP-SAT's, the gap is reported.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from ortools.sat.python import cp_model

from geo.errors import SolverError
from geo.travel import TravelMatrix
from planning.zones.options import DEFAULT_LIMITS, SolveLimits, work_budget

logger = logging.getLogger(__name__)

#: Primary lasts six grades and junior three: yearly graduates ≈ pupils / 6,
#: yearly junior intake ≈ seats / 3.
PRIMARY_GRADES = 6
JUNIOR_GRADES = 3
#: Penalty per graduate above a junior school's intake, in seconds of travel.
FEEDER_OVERFLOW_PENALTY_S = 36_000
DETERMINISTIC_TIME = 10.0


@dataclass(frozen=True)
class FeederPlan:
    """Primary → junior feeders.

    Attributes
    ----------
    table
        ``primary_school_id, junior_school_id, graduates, travel_s`` sorted by
        primary school (empty ``junior_school_id`` when none is reachable).
    intake
        ``junior_school_id, graduates, intake_seats, over_by`` per junior school.
    objective, bound, gap, status
        Solver figures (student-seconds plus overflow penalty).
    metrics
        JSON-able summary.
    """

    table: pd.DataFrame
    intake: pd.DataFrame
    objective: float
    bound: float
    gap: float
    status: str
    metrics: Mapping[str, object] = field(default_factory=dict)


def plan_feeder(
    primary_load: pd.DataFrame,
    junior_load: pd.DataFrame,
    travel: TravelMatrix,
    *,
    overflow_penalty_s: int = FEEDER_OVERFLOW_PENALTY_S,
    limits: SolveLimits = DEFAULT_LIMITS,
) -> FeederPlan:
    """Assign each primary school's graduates to one junior school.

    Parameters
    ----------
    primary_load
        ``school_id, students`` of the primary plan (pupils in each zone).
    junior_load
        ``school_id, capacity_seats`` of the junior schools.
    travel
        Primary schools × junior schools travel matrix (ids as in the loads).
    overflow_penalty_s
        Penalty per graduate above a junior school's yearly intake.
    limits
        Solver limits: the search stops on its work budget (deterministic
        time, :func:`planning.zones.options.work_budget`); ``time_limit_s`` is a
        wall-clock cap.

    Returns
    -------
    FeederPlan
    """
    pids = travel.origin_ids.astype(str)
    jids = travel.dest_ids.astype(str)
    pupils = primary_load.set_index(primary_load["school_id"].astype(str))["students"].reindex(pids).fillna(0)
    grads = np.rint(pupils.to_numpy(dtype=float) / PRIMARY_GRADES).astype(np.int64)
    seats = junior_load.set_index(junior_load["school_id"].astype(str))["capacity_seats"].reindex(jids).fillna(0)
    intake = (seats.to_numpy(dtype=float) // JUNIOR_GRADES).astype(np.int64)
    time_of = {
        (o, d): (0 if pids[o] == jids[d] else t)  # a nine-year school feeds itself without travel
        for o, d, t in zip(travel.origin.tolist(), travel.dest.tolist(), travel.time_s.tolist(), strict=True)
    }
    choice, objective, bound, status = _solve(time_of, grads, intake, overflow_penalty_s, limits)
    rows = [
        {
            "primary_school_id": pids[o],
            "junior_school_id": jids[choice[o]] if o in choice else "",
            "graduates": int(grads[o]),
            "travel_s": time_of[o, choice[o]] if o in choice else pd.NA,
        }
        for o in range(len(pids))
    ]
    table = pd.DataFrame(rows).sort_values("primary_school_id", kind="stable").reset_index(drop=True)
    table["travel_s"] = table["travel_s"].astype("Int64")
    fed = table[table["junior_school_id"] != ""].groupby("junior_school_id")["graduates"].sum()
    load = pd.DataFrame({"junior_school_id": jids, "intake_seats": intake})
    load["graduates"] = load["junior_school_id"].map(fed).fillna(0).astype(np.int64)
    load["over_by"] = np.maximum(load["graduates"] - load["intake_seats"], 0)
    load = load[["junior_school_id", "graduates", "intake_seats", "over_by"]].sort_values("junior_school_id").reset_index(drop=True)
    gap = 0.0 if objective <= bound else (objective - bound) / max(objective, 1.0)
    metrics = {
        "graduates": int(grads.sum()),
        "intake_seats": int(intake.sum()),
        "over_intake": load.loc[load["over_by"] > 0, ["junior_school_id", "over_by"]].to_dict("records"),
        "unreachable_primary_schools": sorted(set(pids) - {pids[o] for o, _ in time_of}),
        "objective": objective,
        "bound": bound,
        "gap": round(gap, 6),
        "status": status,
    }
    return FeederPlan(table, load, objective, bound, gap, status, metrics)


def _solve(
    time_of: dict[tuple[int, int], int],
    grads: NDArray[np.int64],
    intake: NDArray[np.int64],
    overflow_penalty_s: int,
    limits: SolveLimits,
) -> tuple[dict[int, int], float, float, str]:
    """Each reachable primary school's junior school (CP-SAT, from the nearest as a hint), objective, bound, status.

    When CP-SAT finds no plan within its limit, each primary school feeds its nearest junior school
    (always a plan: intake above capacity is priced, not forbidden), and the status says so.
    """
    model = cp_model.CpModel()
    y: dict[tuple[int, int], cp_model.IntVar] = {}
    by_j: dict[int, list] = {}
    obj = []
    for (o, d), t in time_of.items():
        v = model.new_bool_var(f"y{o}_{d}")
        y[o, d] = v
        by_j.setdefault(d, []).append(int(grads[o]) * v)
        obj.append(int(grads[o]) * int(t) * v)
    for o in sorted({o for o, _ in y}):
        model.add_exactly_one(v for (oo, _), v in y.items() if oo == o)
    over = {}
    for d, terms in sorted(by_j.items()):
        over[d] = model.new_int_var(0, int(grads.sum()), f"o{d}")
        model.add(sum(terms) <= int(intake[d]) + over[d])
        obj.append(overflow_penalty_s * over[d])
    model.minimize(sum(obj))
    nearest: dict[int, tuple[int, int]] = {}
    for (o, d), t in time_of.items():
        if o not in nearest or t < nearest[o][1]:
            nearest[o] = (d, t)
    for (o, d), v in y.items():
        model.add_hint(v, nearest[o][0] == d)
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = 1
    solver.parameters.random_seed = limits.seed
    # the work budget stops the search (the plan does not depend on the machine); the
    # user's time limit is a wall-clock cap that binds only on a much slower machine
    solver.parameters.max_deterministic_time = work_budget(limits, DETERMINISTIC_TIME)
    solver.parameters.max_time_in_seconds = limits.time_limit_s
    solver.parameters.catch_sigint_signal = False  # Ctrl-C stays with the command line (exit 130)
    status = solver.solve(model)
    if status == cp_model.MODEL_INVALID:
        raise SolverError("feeder map: CP-SAT says the model is invalid")
    if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        choice = {o: d for (o, d), v in y.items() if solver.boolean_value(v)}
        return choice, float(solver.objective_value), float(solver.best_objective_bound), solver.status_name(status)
    logger.warning("feeder map: CP-SAT found no plan within its limit; each primary school feeds its nearest junior school")
    choice = {o: d for o, (d, _) in nearest.items()}
    fed = np.zeros(len(intake), dtype=np.int64)
    for o, d in choice.items():
        fed[d] += grads[o]
    objective = sum(int(grads[o]) * time_of[o, d] for o, d in choice.items()) + overflow_penalty_s * int(
        np.maximum(fed - intake, 0).sum()
    )
    return choice, float(objective), float(solver.best_objective_bound), solver.status_name(status)
