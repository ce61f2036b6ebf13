"""Multi-school zones (多校划片): adjacent single-school zones grouped for lottery admission.

Formulation. Schools ``j`` (with their single-school zones) are grouped into
multi-school zones of 2–4 schools whose zones are connected through zone
adjacency. In a multi-school zone ``G`` a child is admitted by lottery, so a
child of zone ``j`` lands at school ``k ∈ G`` with probability
``c_k / Σ_{l∈G} c_l`` (seats). The expected extra travel of ``G`` is
``Σ_{j∈G} Σ_{k∈G} c_k/c_G · T_jk − Σ_{j∈G} T_jj`` with ``T_jk`` the
student-seconds of zone ``j``'s children travelling to ``k``.

Every connected candidate group of 1–4 schools is enumerated; a set-partitioning
CP-SAT model picks groups covering each school exactly once, minimizing, in
this order of priority, the schools left alone (a singleton is allowed only
when a school has no neighbour able to join it), the groups without a strong
(sought-after) school, and the expected extra travel. Determinism: one worker,
fixed seed, deterministic time limit. Bound and gap come from CP-SAT.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import scipy.sparse as sp
import shapely
from numpy.typing import NDArray
from ortools.sat.python import cp_model

from geo.errors import InputError, Problem, SolverError
from geo.policy import GROUP_MAX_MEMBERS
from geo.travel import TravelMatrix
from planning.zones.frames import LevelZones
from planning.zones.options import DEFAULT_LIMITS, SolveLimits, work_budget
from planning.zones.plan import ZonePlan

logger = logging.getLogger(__name__)

#: Largest multi-school zone (DOMAIN.md §1 with group sizes of §4: 2–4 schools).
MULTIZONE_MAX_SCHOOLS = GROUP_MAX_MEMBERS
#: Deterministic time of the set-partitioning solve.
DETERMINISTIC_TIME = 20.0


@dataclass(frozen=True)
class MultiSchoolPlan:
    """Multi-school zones of one level.

    Attributes
    ----------
    table
        ``school_id, multizone_id, expected_intake, strong`` sorted by school.
    zones
        One polygon per multi-school zone: ``multizone_id, schools, students,
        capacity_seats, strong_schools, extra_travel_s``.
    objective
        Penalized objective (see the module docstring); ``extra_travel_s`` its travel part.
    extra_travel_s
        Expected extra student-seconds of lottery admission.
    bound, gap, status
        CP-SAT bound, relative gap, status name.
    metrics
        JSON-able summary.
    """

    table: pd.DataFrame
    zones: gpd.GeoDataFrame
    objective: float
    extra_travel_s: float
    bound: float
    gap: float
    status: str
    metrics: Mapping[str, object] = field(default_factory=dict)


def connected_groups(adjacency: NDArray[np.bool_], max_size: int) -> list[tuple[int, ...]]:
    """Every connected vertex set of 1..``max_size`` nodes (each once, sorted), by ESU enumeration."""
    m = len(adjacency)
    nbrs = [set(np.flatnonzero(adjacency[v]).tolist()) for v in range(m)]
    out: set[tuple[int, ...]] = set()

    def extend(sub: set[int], ext: set[int], v: int) -> None:
        out.add(tuple(sorted(sub)))
        if len(sub) == max_size:
            return
        ext = set(ext)
        while ext:
            w = ext.pop()
            new_ext = ext | {u for u in nbrs[w] if u > v and u not in sub and all(u not in nbrs[s] for s in sub)}
            extend(sub | {w}, new_ext, v)

    for v in range(m):
        extend({v}, {u for u in nbrs[v] if u > v}, v)
    return sorted(out)


def multischool_core(
    school_ids: NDArray[np.str_],
    zone_students: NDArray[np.integer],
    capacity_seats: NDArray[np.integer],
    strong: NDArray[np.bool_],
    zone_travel_s: NDArray[np.floating],
    zone_adjacency: NDArray[np.bool_],
    *,
    max_size: int = MULTIZONE_MAX_SCHOOLS,
    limits: SolveLimits = DEFAULT_LIMITS,
) -> tuple[list[tuple[int, ...]], float, float, float, str]:
    """Choose the multi-school zones.

    Parameters
    ----------
    school_ids
        Ids of the ``m`` schools.
    zone_students
        Students of each school's single-school zone.
    capacity_seats
        Seats of each school.
    strong
        Whether each school is sought-after.
    zone_travel_s
        ``(m, m)``: student-seconds of zone ``j``'s children travelling to ``k``
        (``inf`` where some child cannot reach ``k``).
    zone_adjacency
        ``(m, m)`` boolean: zones share a border.
    max_size
        Most schools in one multi-school zone.
    limits
        Solver limits.

    Returns
    -------
    tuple
        Groups (tuples of school indices), objective, expected extra travel
        (student-seconds), bound, CP-SAT status name.
    """
    m = len(school_ids)
    cap = np.asarray(capacity_seats, dtype=float)
    T = np.asarray(zone_travel_s, dtype=float)
    groups, costs = [], []
    for g in connected_groups(np.asarray(zone_adjacency, bool), max_size):
        idx = np.array(g)
        sub = T[np.ix_(idx, idx)]
        if not np.isfinite(sub).all() or cap[idx].sum() <= 0:
            continue
        p = cap[idx] / cap[idx].sum()
        extra = float((sub * p[None, :]).sum() - np.trace(sub))
        groups.append(g)
        costs.append(max(extra, 0.0))
    for v in range(m):  # a singleton always exists (zero extra travel)
        if (v,) not in set(groups):
            groups.append((v,))
            costs.append(0.0)
    travel_scale = 1.0
    total = sum(costs)
    int_costs = [round(c * travel_scale) for c in costs]
    w_nostrong = int(total) + 1
    w_single = w_nostrong * (m + 1)
    any_strong = bool(np.asarray(strong).any())
    model = cp_model.CpModel()
    x = [model.new_bool_var(f"g{k}") for k in range(len(groups))]
    member: list[list[int]] = [[] for _ in range(m)]
    pens = []
    for k, g in enumerate(groups):
        for v in g:
            member[v].append(k)
        pen = int_costs[k]
        if len(g) == 1:
            pen += w_single
        if any_strong and not np.asarray(strong)[list(g)].any():
            pen += w_nostrong
        pens.append(pen)
    for v in range(m):
        model.add_exactly_one(x[k] for k in member[v])
    model.minimize(sum(pen * x[k] for k, pen in enumerate(pens)))
    for k, g in enumerate(groups):  # every zone alone is always a plan: start from it
        model.add_hint(x[k], len(g) == 1)
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
        raise SolverError("multi-school zones: CP-SAT says the model is invalid")
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        # No plan within the limit: every zone stays a single-school zone (no lottery), said by the status.
        logger.warning("multi-school zones: CP-SAT found no plan within its limit; zones stay single-school")
        alone = [k for k, g in enumerate(groups) if len(g) == 1]
        return [groups[k] for k in alone], float(sum(pens[k] for k in alone)), float(solver.best_objective_bound), 0.0, solver.status_name(status)
    chosen = [groups[k] for k in range(len(groups)) if solver.boolean_value(x[k])]
    extra = float(sum(costs[k] for k in range(len(groups)) if solver.boolean_value(x[k])))
    return chosen, float(solver.objective_value), float(solver.best_objective_bound), extra, solver.status_name(status)


def strong_schools(schools: pd.DataFrame, strength: pd.DataFrame | None) -> tuple[NDArray[np.bool_], str]:
    """Which schools are strong: the run's strength index when given, else quality score, else size.

    Parameters
    ----------
    schools
        Schools (``school_id``, capacities, optional ``quality_score``).
    strength
        The run's strength frame (``strength_class`` indexed by ``school_id``), or ``None``.

    Returns
    -------
    tuple
        Boolean per row of ``schools`` and the source used.
    """
    if strength is not None:
        cls = strength["strength_class"].reindex(schools["school_id"].astype(str))
        return (cls == "strong").to_numpy(dtype=bool), "strength index (planning.strength)"
    if "quality_score" in schools and schools["quality_score"].notna().any():
        score = pd.to_numeric(schools["quality_score"], errors="coerce")
        source = "quality_score ranking (top third)"
    else:
        cap_cols = [c for c in ("capacity_primary", "capacity_junior") if c in schools]
        score = schools[cap_cols].fillna(0).sum(axis=1).astype(float)
        source = "capacity ranking (top third; no quality data)"
    k = max(1, math.ceil(len(schools) / 3))
    order = score.fillna(-np.inf).to_numpy().argsort(kind="stable")[::-1]
    out = np.zeros(len(schools), bool)
    out[order[:k]] = True
    return out, source


def _zone_matrices(
    plan: ZonePlan, travel: TravelMatrix, adjacency: sp.csr_array
) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
    """Zone travel ``T[j, k]`` (student-seconds of zone ``j``'s children to ``k``; ``inf`` when some cannot reach it) and zone adjacency."""
    m, n = len(plan.school_load), len(travel.origin_ids)
    bs = plan.block_school
    demand_map = dict(zip(plan.assignment["block_id"], plan.assignment["students"], strict=True))
    demand = np.array([demand_map.get(b, 0) for b in travel.origin_ids], dtype=float)
    assigned = bs >= 0
    member = sp.csr_array(
        (np.ones(int(assigned.sum())), (bs[assigned], np.flatnonzero(assigned))), shape=(m, n)
    )
    weighted = sp.csr_array((demand[assigned], (bs[assigned], np.flatnonzero(assigned))), shape=(m, n))
    tmat = sp.csr_array((travel.time_s.astype(float) + 1e-9, (travel.origin, travel.dest)), shape=(n, m))
    reach = sp.csr_array((np.ones(len(travel.origin)), (travel.origin, travel.dest)), shape=(n, m))
    T = (weighted @ tmat).toarray()
    need = assigned & (demand > 0)
    needing = sp.csr_array((np.ones(int(need.sum())), (bs[need], np.flatnonzero(need))), shape=(m, n))
    reached = (needing @ reach).toarray()
    T[reached < needing.sum(axis=1)[:, None]] = np.inf
    zadj = (member @ adjacency.astype(float) @ member.T).toarray() > 0
    np.fill_diagonal(zadj, False)
    return T, zadj


def _strong_of(ids: NDArray[np.str_], schools: gpd.GeoDataFrame, strength: pd.DataFrame | None) -> tuple[NDArray[np.bool_], str]:
    """Strong schools among ``ids``, ranked over the whole schools layer, and the source used."""
    all_schools = schools.drop_duplicates("school_id").reset_index(drop=True)
    strong_all, source = strong_schools(all_schools, strength)
    by_id = dict(zip(all_schools["school_id"].astype(str), strong_all.tolist(), strict=True))
    return np.array([bool(by_id.get(s, False)) for s in ids]), source


def _multizones(
    plan: ZonePlan,
    groups: list[tuple[int, ...]],
    strong: NDArray[np.bool_],
    T: NDArray[np.float64],
    cells: NDArray[np.object_],
) -> tuple[pd.DataFrame, list[dict[str, object]]]:
    """The per-school table and one row (with its polygon) per multi-school zone, named ``M1``, ``M2``… by first school."""
    load = plan.school_load
    ids = load["school_id"].astype(str).to_numpy()
    cap = load["capacity_seats"].to_numpy(dtype=float)
    students = load["students"].to_numpy(dtype=float)
    mz = np.empty(len(ids), dtype=object)
    intake = np.zeros(len(ids))
    width = len(str(len(groups)))
    rows = []
    for k, g in enumerate(groups, start=1):
        name = f"M{k:0{width}d}"
        idx = np.array(g)
        mz[idx] = name
        intake[idx] = students[idx].sum() * cap[idx] / max(cap[idx].sum(), 1.0)
        sub = T[np.ix_(idx, idx)]
        p = cap[idx] / max(cap[idx].sum(), 1.0)
        rows.append(
            {
                "multizone_id": name,
                "schools": ",".join(ids[idx]),
                "students": int(students[idx].sum()),
                "capacity_seats": int(cap[idx].sum()),
                "strong_schools": int(strong[idx].sum()),
                # a one-school zone has no lottery (and its own travel may be beyond the measured reach: inf)
                "extra_travel_s": 0.0 if len(idx) == 1 else round(float(max((sub * p[None, :]).sum() - np.trace(sub), 0.0)), 1),
                "geometry": shapely.union_all(np.asarray(cells, dtype=object)[np.isin(plan.block_school, idx)]),
            }
        )
    table = pd.DataFrame(
        {"school_id": ids, "multizone_id": mz.astype(str), "expected_intake": np.round(intake, 1), "strong": strong}
    )
    return table, rows


def plan_multischool(
    lz: LevelZones,
    schools: gpd.GeoDataFrame,
    strength: pd.DataFrame | None,
    *,
    travel: TravelMatrix,
    adjacency: sp.csr_array,
    cells: NDArray[np.object_],
    level: str,
    limits: SolveLimits = DEFAULT_LIMITS,
) -> MultiSchoolPlan:
    """Multi-school zones from a level's single-school plan.

    Parameters
    ----------
    lz
        The level's zones (its ``plan`` gives each block's school).
    schools
        The whole schools layer (``school_id``, capacities, optional
        ``quality_score``); strength is ranked over all of it.
    strength
        The run's strength frame (``strength_class`` by ``school_id``), or ``None`` to rank by
        quality score, else by size.
    travel
        Blocks × schools travel matrix of the plan.
    adjacency
        Block adjacency.
    cells
        Polygon of each block, for the multi-school zone polygons.
    level
        ``primary`` or ``junior``.
    limits
        Solver limits.
    """
    plan = lz.plan
    load = plan.school_load
    ids = load["school_id"].astype(str).to_numpy()
    if list(ids) != sorted(travel.dest_ids.tolist()) or list(travel.dest_ids) != list(ids):
        raise InputError([Problem(layer="travel", message="travel matrix schools must match the plan's schools")])
    T, zadj = _zone_matrices(plan, travel, adjacency)
    strong, source = _strong_of(ids, schools, strength)
    groups, objective, bound, extra, status = multischool_core(
        ids, load["students"].to_numpy(), load["capacity_seats"].to_numpy(), strong, T, zadj, limits=limits
    )
    groups = sorted(groups, key=lambda g: ids[g[0]])
    table, rows = _multizones(plan, groups, strong, T, cells)
    zones = gpd.GeoDataFrame(rows, geometry="geometry", crs=schools.crs)
    gap = 0.0 if objective <= bound else (objective - bound) / max(abs(objective), 1.0)
    metrics = {
        "multizones": len(groups),
        "singletons": sum(1 for g in groups if len(g) == 1),
        "without_strong": sum(1 for g in groups if not strong[list(g)].any()),
        "strong_schools": int(strong.sum()),
        "strength_source": source,
        "expected_extra_travel_s": round(extra, 1),
        "objective": objective,
        "bound": bound,
        "gap": round(gap, 6),
        "status": status,
    }
    return MultiSchoolPlan(table, zones, objective, extra, bound, gap, status, metrics)
