"""Strong–weak school communities: "1+N" groups (集团化办学, 城乡学校共同体) and pairing (结对帮扶).

Two models, each with a core on ids and numpy arrays and a frame-level wrapper.

**Groups** (:func:`solve_groups`, CP-SAT). Schools are lead candidates, must
join (every weak school and, by default, every rural one: Fujian paired every
rural school with an urban one), may join (middle schools, when asked) or stay
out. Decision variables: ``y_j`` (candidate j leads a group) and ``x_ij``
(school i joins j's group), created only where travel lead → member is within
the cap. Constraints: a must-join school leads or joins exactly one group (at
most one for may-join); ``x_ij ≤ y_j``; ``min·y_j ≤ Σ_i x_ij ≤ max·y_j``; the
number of groups is fixed when asked; existing groups are fixed. Objective::

    Σ_ij t_ji x_ij                                   total lead → member travel (s)
  + w_s · Σ_j |Σ_{i in group j} (s_i − s̄)|           strength spread (linearized)
  + w_r · #groups without a rural member            soft: "≥ 1 rural member where possible"
  + w_u · #must-join schools left out               only with ``allow_unassigned``

``|Σ (s_i − s̄)|`` = size × |group mean strength − county mean|: it is linear
(two inequalities) and pushes every group's mean strength towards the county
mean, so no group is all weak. Bound and gap are CP-SAT's.

**Pairing** (:func:`pair_schools`, min-cost flow). Each weak school is paired with
one strong school in reach and a strong school takes at most ``k``: source →
weak (capacity 1) → strong (cost = travel s) → sink (capacity k), solved as a
maximum flow of minimum cost, which is exact (gap 0); when every weak school can
be paired and the problem is nearly square, OR-Tools' linear sum assignment with
each strong school replicated k times gives the same optimum faster.

**Levels.** By default primary schools are grouped with primary schools and
junior with junior, nine-year schools taking part in both (a nine-year school
can lead a primary group and be a member of a junior one); ``levels="mixed"``
forms one set of groups over all schools.

**Speed.** The solver starts from the travel-optimal grouping that meets the
size bounds (a transportation problem solved exactly by min-cost flow) and each
school may only join one of its 10 nearest candidate leads; it stops once
proven within 1% of its bound (reported bound and gap are those of this
model).

**Determinism.** CP-SAT runs one worker with a fixed ``random_seed``, stopped by
``max_deterministic_time`` (work units, not wall time) or the gap limit, so the
same inputs give the same plan on any machine; a wall-time limit of 10 × the
deterministic one is kept only as a safeguard. Outputs are sorted by id.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
import scipy.sparse as sp
from numpy.typing import ArrayLike, NDArray
from ortools.graph.python import linear_sum_assignment, min_cost_flow
from ortools.sat.python import cp_model

from geo.errors import InfeasibleError, InputError, Problem, Shortfall, SolverError
from geo.model import LEVELS, SchoolLevel
from geo.policy import GROUP_MAX_MEMBERS, GROUP_MAX_TRAVEL_S, GROUP_MIN_MEMBERS
from geo.travel import TravelMatrix

logger = logging.getLogger(__name__)

#: Strength values are scaled to integers for CP-SAT: 1/1000 of the index is resolution enough.
STRENGTH_SCALE = 1000
#: Default cost of one unit of size-weighted strength deviation, in seconds of travel.
DEFAULT_STRENGTH_WEIGHT_S = 600.0
#: Default cost of a group without a rural member, in seconds of travel.
DEFAULT_RURAL_PENALTY_S = 3600.0
#: CP-SAT stops once the solution is proven within this relative gap of its bound.
DEFAULT_GAP_LIMIT = 0.01
#: Each school may join one of its this-many nearest candidate leads (fixed groups excepted).
DEFAULT_NEAREST_LEADS = 10
#: Cost of leaving a must-join school out (with ``allow_unassigned``): above any travel within the cap.
UNASSIGNED_PENALTY_S = 100 * GROUP_MAX_TRAVEL_S

#: Reasons a weak school is left unpaired.
PAIR_UNREACHABLE = "no strong school within the travel cap"
PAIR_FULL = "strong schools in reach are full"

Role = Literal["lead", "must", "may", "out"]
LevelMode = Literal["by_level", "mixed"]
LeadMode = Literal["strongest", "optimize", "given"]


# --------------------------------------------------------------------------- travel input


def _dense_time(time_s: TravelMatrix | NDArray[Any] | sp.spmatrix | sp.sparray, n: int) -> NDArray[np.float64]:
    """``(n, n)`` float array of travel seconds from school i to school j; ``inf`` where unreachable."""
    if isinstance(time_s, TravelMatrix):
        dense = time_s.dense("time_s")
    elif sp.issparse(time_s):
        coo = sp.coo_array(time_s)
        dense = np.full(coo.shape, np.inf)
        dense[coo.row, coo.col] = coo.data
        np.fill_diagonal(dense, 0.0)
    else:
        dense = np.asarray(time_s, dtype=np.float64)
    if dense.shape != (n, n):
        msg = f"travel matrix is {dense.shape}, expected ({n}, {n}) schools × schools"
        raise InputError([Problem("travel", msg)])
    return dense


# --------------------------------------------------------------------------- groups core


@dataclass(frozen=True)
class GroupSolution:
    """Solution of :func:`solve_groups` on arrays.

    Attributes
    ----------
    lead_of
        For each school, the index of its group's lead (itself for a lead), or
        -1 when it is in no group.
    unassigned
        Index → reason, for must-join schools left out (only with ``allow_unassigned``).
    objective, bound, gap
        Objective (seconds-equivalent), CP-SAT's best bound and relative gap.
    status
        CP-SAT status name.
    wall_s
        Solve time.
    """

    lead_of: NDArray[np.int64]
    unassigned: Mapping[int, str]
    objective: float
    bound: float
    gap: float
    status: str
    wall_s: float


def _cp_params(solver: cp_model.CpSolver, *, time_limit_s: float, workers: int, seed: int, gap_limit: float) -> None:
    p = solver.parameters
    p.random_seed = int(seed)
    # One worker: deterministic by construction, and on this model (warm-started from the
    # flow hint) faster than interleaved multi-worker search, measured on 300-school counties.
    del workers
    p.num_workers = 1
    p.max_deterministic_time = float(time_limit_s)
    p.max_time_in_seconds = 10.0 * float(time_limit_s)  # safeguard only; the deterministic limit stops first
    p.relative_gap_limit = float(gap_limit)
    p.log_search_progress = False


def solve_groups(
    ids: Sequence[str],
    strength: ArrayLike,
    time_s: TravelMatrix | NDArray[Any] | sp.spmatrix | sp.sparray,
    role: Sequence[str],
    *,
    lead_fixed: ArrayLike | None = None,
    rural: ArrayLike | None = None,
    fixed_lead_of: ArrayLike | None = None,
    lead_or_join: ArrayLike | None = None,
    n_groups: int | None = None,
    min_members: int = GROUP_MIN_MEMBERS,
    max_members: int = GROUP_MAX_MEMBERS,
    max_travel_s: float = GROUP_MAX_TRAVEL_S,
    strength_weight_s: float = DEFAULT_STRENGTH_WEIGHT_S,
    rural_penalty_s: float = DEFAULT_RURAL_PENALTY_S,
    allow_unassigned: bool = False,
    time_limit_s: float = 10.0,
    workers: int = 1,
    seed: int = 0,
    gap_limit: float = DEFAULT_GAP_LIMIT,
    nearest_leads: int | None = DEFAULT_NEAREST_LEADS,
) -> GroupSolution:
    """Form "1+N" groups on arrays (formulation in the module docstring).

    Parameters
    ----------
    ids
        School ids (for messages).
    strength
        Strength index of each school (NaN counts as the mean).
    time_s
        Travel seconds school i → school j: a :class:`~geo.travel.TravelMatrix`
        over the same schools as origins and destinations, a dense array
        (``inf`` = unreachable) or a sparse matrix (missing = unreachable).
    role
        Per school: ``lead`` (candidate lead), ``must`` (must join a group),
        ``may`` (may join) or ``out``.
    lead_fixed
        Candidate leads that must lead (all candidates unless ``n_groups`` lets
        the solver choose; default: every ``lead``).
    rural
        Rural schools (for the ≥ 1 rural member rule).
    fixed_lead_of
        Index of the lead each school is fixed to (existing groups), -1 if free.
    lead_or_join
        Candidate leads that, if not chosen to lead, must join a group (e.g.
        rural candidates when every rural school takes part).
    n_groups
        Number of groups; ``None`` leaves it free (only matters when some leads
        are not fixed).
    min_members, max_members
        Members per group, besides the lead.
    max_travel_s
        Lead → member travel cap.
    strength_weight_s, rural_penalty_s
        Objective weights, in seconds of travel per unit of strength deviation
        and per group without a rural member.
    allow_unassigned
        Leave must-join schools out (with a reason) instead of failing.
    time_limit_s, workers, seed, gap_limit
        CP-SAT deterministic time limit (CP-SAT's machine-independent work units,
        not wall seconds), workers (kept for the interface; one is used, see the
        module docstring), random seed, relative gap to stop at.
    nearest_leads
        Each school may join only one of its this-many nearest candidate leads
        (``None``: any lead in reach). Bound and gap are those of this model.

    Returns
    -------
    GroupSolution

    Raises
    ------
    InfeasibleError
        A must-join school has no lead in reach, or the group sizes cannot hold
        the schools (names the schools and the numbers), unless ``allow_unassigned``.
    SolverError
        CP-SAT stopped without a solution.
    """
    t0 = time.perf_counter()
    ids = [str(i) for i in ids]
    n = len(ids)
    roles = np.asarray(role, dtype=object)
    s = np.asarray(strength, dtype=np.float64)
    t = _dense_time(time_s, n)
    cand = roles == "lead"
    fixed = cand.copy() if lead_fixed is None else (np.asarray(lead_fixed, dtype=bool) & cand)
    is_rural = np.zeros(n, bool) if rural is None else np.asarray(rural, dtype=bool)
    fixed_of = np.full(n, -1, np.int64) if fixed_lead_of is None else np.asarray(fixed_lead_of, dtype=np.int64)
    part = np.zeros(n, bool) if lead_or_join is None else (np.asarray(lead_or_join, dtype=bool) & cand & ~fixed)
    problems: list[Problem] = []
    if not 0 <= min_members <= max_members:
        problems.append(Problem("communities", f"need 0 ≤ min_members ≤ max_members, got {min_members}, {max_members}"))
    if len(roles) != n or len(s) != n:
        problems.append(Problem("communities", "ids, strength and role must have the same length"))
    bad_roles = sorted(set(roles) - {"lead", "must", "may", "out"})
    if bad_roles:
        problems.append(Problem("communities", f"unknown roles {bad_roles}; expected lead, must, may or out"))
    for i in np.nonzero(fixed_of >= 0)[0]:
        if not cand[fixed_of[i]]:
            problems.append(Problem("groups", f"fixed to {ids[fixed_of[i]]}, which is not a lead", row=ids[i]))
    if problems:
        raise InputError(problems)

    s_int = np.rint(np.nan_to_num(s, nan=np.nanmean(s) if np.isfinite(s).any() else 0.0) * STRENGTH_SCALE).astype(np.int64)
    joiner = (roles == "must") | (roles == "may") | (cand & ~fixed)
    # lead → member travel, within the cap (fixed memberships always allowed)
    reach = (max_travel_s >= t.T) & cand[None, :] & joiner[:, None]  # reach[i, j]: i may join j
    np.fill_diagonal(reach, False)
    full_reach = reach.copy()
    if nearest_leads is not None and nearest_leads < int(cand.sum()):
        # keep each school's nearest leads only: far leads are never worth it and blow up the model
        tt = np.where(reach, t.T, np.inf)
        kth = np.partition(tt, nearest_leads - 1, axis=1)[:, nearest_leads - 1]
        reach &= tt <= kth[:, None]
    for i in np.nonzero(fixed_of >= 0)[0]:
        reach[i, :] = False
        reach[i, fixed_of[i]] = True
    must = roles == "must"
    unassigned: dict[int, str] = {}

    # --- feasibility before solving
    stranded = np.nonzero(must & ~reach.any(axis=1))[0]
    if len(stranded):
        shortfalls = []
        for i in stranded:
            others = np.where(cand & (np.arange(n) != i), t[:, i], np.inf)
            j = int(np.argmin(others)) if np.isfinite(others).any() else -1
            detail = (
                f"nearest lead {ids[j]} is {others[j] / 60:.0f} min away, cap {max_travel_s / 60:.0f} min"
                if j >= 0
                else "no lead reachable at all"
            )
            shortfalls.append(Shortfall(where=ids[i], short_by=1, unit="lead within the travel cap", detail=detail))
            unassigned[int(i)] = f"no lead within {max_travel_s / 60:.0f} min" + (f" ({detail})" if j >= 0 else "")
        if not allow_unassigned:
            raise InfeasibleError(
                f"{len(stranded)} school(s) that must join a group have no lead within the travel cap",
                shortfalls,
                hint="raise the travel cap, name more leads (or let the solver choose among more), or allow unassigned schools",
            )
        must[stranded] = False
    n_fixed = int(fixed.sum())
    all_fixed = bool((fixed == cand).all())
    g_known = int(n_groups) if n_groups is not None else (n_fixed if all_fixed else None)
    shortfalls = []
    if n_groups is not None and n_groups > int(cand.sum()):
        shortfalls.append(Shortfall("groups", n_groups - int(cand.sum()), "lead candidates", f"{n_groups} groups asked"))
    elif g_known is not None:
        fixed_size = np.bincount(fixed_of[fixed_of >= 0], minlength=n)
        room = int(sum(max(max_members, int(fixed_size[j])) for j in np.nonzero(fixed)[0]))
        room += (g_known - n_fixed) * max_members
        n_must = int(must.sum())
        if n_must > room:
            shortfalls.append(
                Shortfall("groups", n_must - room, "places", f"{n_must} schools must join but {g_known} groups hold {room}")
            )
        # schools that could join, less the free candidates that will lead instead
        n_join = int((joiner & ~fixed & reach.any(axis=1)).sum()) - (g_known - n_fixed)
        if g_known * min_members > n_join:
            shortfalls.append(
                Shortfall(
                    "groups",
                    g_known * min_members - n_join,
                    "members",
                    f"{g_known} groups need {min_members} members each but {max(n_join, 0)} schools can join",
                )
            )
    if shortfalls and not allow_unassigned:
        raise InfeasibleError(
            "group sizes cannot hold the schools", shortfalls, hint="change the number of groups or the size bounds"
        )

    if all_fixed and min_members <= max_members:
        # Hall's condition: can every must-join school get a place in a group within reach?
        rows, leads = np.nonzero(must & (fixed_of < 0))[0], np.nonzero(fixed)[0]
        stuck_full = _unplaced(full_reach, t, rows, leads, max_members)
        stuck = _unplaced(reach, t, rows, leads, max_members)
        if len(stuck) > len(stuck_full):  # the nearest-lead shortcut cost places: keep every lead in reach
            reach = full_reach
            stuck = stuck_full
        if len(stuck):
            shortfalls = [
                Shortfall(ids[i], 1, "place in a group", f"the {int(full_reach[i].sum())} lead(s) within the cap are full")
                for i in stuck
            ]
            if not allow_unassigned:
                raise InfeasibleError(
                    f"{len(stuck)} school(s) that must join a group find every group within the travel cap full",
                    shortfalls,
                    hint="raise max_members or the travel cap, add groups (n_groups) or name more leads, or allow unassigned schools",
                )

    # --- model
    model = cp_model.CpModel()
    y = {int(j): model.new_bool_var(f"y{j}") for j in np.nonzero(cand)[0]}
    for j in np.nonzero(fixed)[0]:
        model.add(y[int(j)] == 1)
    ii, jj = np.nonzero(reach)
    x = {(int(i), int(j)): model.new_bool_var(f"x{i}_{j}") for i, j in zip(ii, jj)}
    by_member: dict[int, list[Any]] = {}
    by_lead: dict[int, list[tuple[int, Any]]] = {}
    for (i, j), v in x.items():
        by_member.setdefault(i, []).append(v)
        by_lead.setdefault(j, []).append((i, v))
        model.add_implication(v, y[j])
    penalties: list[tuple[Any, int]] = []
    unassigned_var: dict[int, Any] = {}
    for i in range(n):
        terms = list(by_member.get(i, []))
        if i in y and not fixed[i]:
            terms.append(y[i])
        if not terms:
            continue
        if must[i]:
            if allow_unassigned and fixed_of[i] < 0 and not cand[i]:
                u = model.new_bool_var(f"u{i}")
                unassigned_var[i] = u
                model.add(sum(terms) + u == 1)
                penalties.append((u, int(UNASSIGNED_PENALTY_S)))
            else:
                model.add(sum(terms) == 1)
        elif part[i]:
            model.add(sum(terms) == 1)
        else:
            model.add(sum(terms) <= 1)
        if fixed_of[i] >= 0:
            model.add(x[(i, int(fixed_of[i]))] == 1)
    fixed_size = np.bincount(fixed_of[fixed_of >= 0], minlength=n)
    for j, yj in y.items():
        members = [v for _, v in by_lead.get(j, [])]
        hi = max(max_members, int(fixed_size[j]))
        model.add(sum(members) <= hi * yj)
        model.add(sum(members) >= min(min_members, hi) * yj)
    if n_groups is not None:
        model.add(sum(y.values()) == int(n_groups))
    # strength spread: |Σ_{i in group j} (s_i − s̄)| per group
    participating = cand | must | (roles == "may")
    s_bar = int(np.rint(s_int[participating].mean())) if participating.any() else 0
    w_s = int(round(strength_weight_s))
    bound_dev = int(np.abs(s_int - s_bar).max(initial=0)) * (max(max_members, int(fixed_size.max(initial=0))) + 1)
    dev_vars = []
    dev_of: dict[int, Any] = {}
    rural_of: dict[int, tuple[Any, Any]] = {}
    for j, yj in y.items():
        expr = (s_int[j] - s_bar) * yj + sum((s_int[i] - s_bar) * v for i, v in by_lead.get(j, []))
        d = model.new_int_var(0, bound_dev, f"dev{j}")
        model.add(d >= expr)
        model.add(d >= -expr)
        dev_vars.append(d)
        dev_of[j] = d
    # soft rural rule: only for groups that could have a rural member
    rural_missing = []
    for j, yj in y.items():
        rural_terms = [v for i, v in by_lead.get(j, []) if is_rural[i]]
        if not rural_terms or rural_penalty_s <= 0:
            continue
        r = model.new_bool_var(f"r{j}")
        model.add(r <= sum(rural_terms))
        model.add_implication(r, yj)
        miss = model.new_bool_var(f"norural{j}")
        model.add(miss >= yj - r)
        rural_missing.append(miss)
        rural_of[j] = (r, miss)
    # objective in 1/STRENGTH_SCALE seconds so that every coefficient is an integer
    obj = []
    for (i, j), v in x.items():
        obj.append(int(round(t[j, i])) * STRENGTH_SCALE * v)
    obj += [w_s * d for d in dev_vars]
    obj += [int(round(rural_penalty_s)) * STRENGTH_SCALE * m for m in rural_missing]
    obj += [c * STRENGTH_SCALE * u for u, c in penalties]
    model.minimize(sum(obj))

    # hint: the travel-only optimum with the size bounds (a transportation problem, exact by min-cost flow)
    if all_fixed and x:
        hint = _flow_hint(reach, t, must, fixed, fixed_of, min_members, max_members)
        for (i, j), v in hint.items():
            model.add_hint(x[(i, j)], v)
        if hint:  # complete the hint so that the first solution is the flow's, not a repair of it
            total = {j: int(s_int[j] - s_bar) for j in y}
            has_rural = dict.fromkeys(y, False)
            for (i, j), v in hint.items():
                if v:
                    total[j] += int(s_int[i] - s_bar)
                    has_rural[j] |= bool(is_rural[i])
            for j, d in dev_of.items():
                model.add_hint(d, abs(total[j]))
            for j, (r, miss) in rural_of.items():
                model.add_hint(r, int(has_rural[j]))
                model.add_hint(miss, int(not has_rural[j]))
            for i, u in unassigned_var.items():
                model.add_hint(u, 0)

    solver = cp_model.CpSolver()
    _cp_params(solver, time_limit_s=time_limit_s, workers=workers, seed=seed, gap_limit=gap_limit)
    status = solver.solve(model)
    name = solver.status_name(status)
    if status == cp_model.INFEASIBLE:
        raise InfeasibleError(
            "no grouping satisfies the size bounds, travel cap and fixed groups together",
            [],
            hint="check the fixed groups, raise the travel cap or widen the size bounds",
        )
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        msg = f"CP-SAT stopped with status {name} and no grouping; raise the solver time limit"
        raise SolverError(msg)
    lead_of = np.full(n, -1, np.int64)
    for j, yj in y.items():
        if solver.boolean_value(yj):
            lead_of[j] = j
    for (i, j), v in x.items():
        if solver.boolean_value(v):
            lead_of[i] = j
    for i, u in unassigned_var.items():
        if solver.boolean_value(u):
            unassigned[i] = "no room in the groups within reach"
    objective = solver.objective_value / STRENGTH_SCALE
    bound = solver.best_objective_bound / STRENGTH_SCALE
    # CP-SAT also says OPTIMAL when it stops on the relative gap limit: always compute the gap
    gap = max(0.0, (objective - bound) / max(abs(objective), 1e-9))
    return GroupSolution(
        lead_of=lead_of,
        unassigned=dict(sorted(unassigned.items())),
        objective=float(objective),
        bound=float(bound),
        gap=float(gap),
        status=name,
        wall_s=time.perf_counter() - t0,
    )


def _unplaced(reach: NDArray[np.bool_], t: NDArray[np.float64], rows: NDArray[np.int64], leads: NDArray[np.int64], k: int) -> NDArray[np.int64]:
    """Schools of ``rows`` that no assignment to ``leads`` (≤ k each, within ``reach``) can place: max flow."""
    if len(rows) == 0:
        return rows
    if len(leads) == 0:
        return rows
    cost = np.where(reach[np.ix_(rows, leads)], t[np.ix_(leads, rows)].T, np.inf)
    sol = pair_schools(cost, k=max(k, 1), max_travel_s=np.inf, allow_unpaired=True)
    return rows[sorted(sol.unpaired)]


def _flow_hint(
    reach: NDArray[np.bool_],
    t: NDArray[np.float64],
    must: NDArray[np.bool_],
    lead: NDArray[np.bool_],
    fixed_of: NDArray[np.int64],
    min_members: int,
    max_members: int,
) -> dict[tuple[int, int], int]:
    """Travel-optimal assignment meeting the size bounds (fixed leads), ignoring strength and rural terms.

    Min-cost flow: must-join schools supply 1; optional ones draw from a pool that
    may also send straight to the sink; each lead demands ``min_members`` and passes
    up to ``max - min`` more to the sink. Returns ``{(i, j): 0/1}``, or ``{}`` when
    the flow is infeasible (the solver then searches without a hint).
    """
    n = len(must)
    ii, jj = np.nonzero(reach)
    if fixed_of.max(initial=-1) >= 0:  # fixed memberships: only their arc
        keep = (fixed_of[ii] < 0) | (fixed_of[ii] == jj)
        ii, jj = ii[keep], jj[keep]
    leads = np.nonzero(lead)[0]
    opt = np.nonzero(~must & reach.any(axis=1))[0]
    pool, sink = n, n + 1
    flow = min_cost_flow.SimpleMinCostFlow()
    n_must = int((must & reach.any(axis=1)).sum())
    tails = np.concatenate([ii, np.full(len(opt), pool), [pool], leads])
    heads = np.concatenate([jj, opt, [sink], np.full(len(leads), sink)])
    caps = np.concatenate([np.ones(len(ii)), np.ones(len(opt)), [len(opt)], np.full(len(leads), max_members - min_members)])
    costs = np.concatenate([np.rint(t[jj, ii]), np.zeros(len(opt) + 1 + len(leads))])
    flow.add_arcs_with_capacity_and_unit_cost(
        tails.astype(np.int32), heads.astype(np.int32), caps.astype(np.int64), costs.astype(np.int64)
    )
    supply = np.zeros(n + 2, np.int64)
    supply[np.nonzero(must & reach.any(axis=1))[0]] = 1
    supply[pool] = len(opt)
    supply[leads] -= min_members
    supply[sink] = -(n_must + len(opt) - min_members * len(leads))
    flow.set_nodes_supplies(np.arange(n + 2, dtype=np.int32), supply)
    if supply[sink] > 0 or flow.solve() != flow.OPTIMAL:
        return {}
    used = flow.flows(np.arange(len(ii))) > 0
    return {(int(i), int(j)): int(u) for i, j, u in zip(ii, jj, used)}


# --------------------------------------------------------------------------- pairing core


@dataclass(frozen=True)
class PairingSolution:
    """Solution of :func:`pair_schools`.

    Attributes
    ----------
    partner
        For each weak school, the index of its strong partner, or -1.
    time_s
        Travel seconds of each pair (-1 when unpaired).
    unpaired
        Weak index → reason.
    objective
        Total travel seconds of the pairs (exact optimum: bound = objective, gap 0).
    """

    partner: NDArray[np.int64]
    time_s: NDArray[np.int64]
    unpaired: Mapping[int, str]
    objective: int


#: Padding arcs allowed to square an assignment problem before falling back to min-cost flow.
_MAX_PADDING_ARCS = 1_000_000


def _assignment(
    n_weak: int, n_strong: int, wi: NDArray[np.int64], sj: NDArray[np.int64], tt: NDArray[np.int64], k: int
) -> tuple[NDArray[np.int64], NDArray[np.int64]] | None:
    """Pairs by OR-Tools' linear sum assignment (strong schools replicated k times), or ``None``.

    Used when every weak school can be paired in principle and the problem is
    (nearly) square: it is several times faster than min-cost flow there. The
    solver needs a square problem with a perfect matching, so dummy weak schools
    joined to every copy at cost 0 fill the difference; ``None`` when that would
    take too many arcs, or when no perfect matching exists (min-cost flow then
    finds the most pairs).
    """
    n_right = n_strong * k
    pad = n_right - n_weak
    reach = np.zeros(n_weak, bool)
    reach[wi] = True
    if n_weak == 0 or pad < 0 or not reach.all() or pad * n_right > _MAX_PADDING_ARCS:
        return None
    rep = np.arange(k)
    left = np.concatenate([np.repeat(wi, k), np.repeat(np.arange(n_weak, n_right), n_right)])
    right = np.concatenate([(sj[:, None] * k + rep[None, :]).ravel(), np.tile(np.arange(n_right), pad)])
    cost = np.concatenate([np.repeat(tt, k), np.zeros(pad * n_right, np.int64)])
    solver = linear_sum_assignment.SimpleLinearSumAssignment()
    solver.add_arcs_with_cost(left.astype(np.int32), right.astype(np.int32), cost.astype(np.int64))
    if solver.solve() != solver.OPTIMAL:
        return None
    mates = np.array([solver.right_mate(i) for i in range(n_weak)], dtype=np.int64)
    partner = mates // k
    keys = wi * n_strong + sj
    if (np.diff(keys) >= 0).all():  # pairs from a dense matrix come sorted
        at = np.searchsorted(keys, np.arange(n_weak) * n_strong + partner)
        ptime = tt[at].astype(np.int64)
    else:
        order = np.argsort(keys, kind="stable")
        at = np.searchsorted(keys[order], np.arange(n_weak) * n_strong + partner)
        ptime = tt[order][at].astype(np.int64)
    return partner, ptime


def pair_schools(
    time_s: NDArray[Any] | sp.spmatrix | sp.sparray,
    *,
    k: int = 1,
    max_travel_s: float = GROUP_MAX_TRAVEL_S,
    weak_ids: Sequence[str] | None = None,
    allow_unpaired: bool = False,
) -> PairingSolution:
    """Pair each weak school with one strong school, a strong school taking at most ``k``.

    Parameters
    ----------
    time_s
        ``(n_weak, n_strong)`` travel seconds strong → weak: dense (``inf`` =
        unreachable) or sparse (missing = unreachable).
    k
        Weak schools a strong school takes at most.
    max_travel_s
        Pairs slower than this are not allowed.
    weak_ids
        Ids for messages.
    allow_unpaired
        Return with weak schools unpaired (and why) instead of failing.

    Returns
    -------
    PairingSolution
        The most pairs possible, at least total travel among those.

    Raises
    ------
    InfeasibleError
        Some weak schools cannot be paired (none in reach, or the strong schools
        in reach are full), unless ``allow_unpaired``.
    """
    if k < 1:
        raise InputError([Problem("communities", f"k must be ≥ 1, got {k}", column="pair_k")])
    if sp.issparse(time_s):
        coo = sp.coo_array(time_s)
        n_weak, n_strong = coo.shape
        wi, sj, tt = coo.row.astype(np.int64), coo.col.astype(np.int64), coo.data.astype(np.float64)
    else:
        dense = np.asarray(time_s, dtype=np.float64)
        if dense.ndim != 2:
            raise InputError([Problem("communities", f"travel must be 2-D, got shape {dense.shape}")])
        n_weak, n_strong = dense.shape
        wi, sj = np.nonzero(np.isfinite(dense) & (dense <= max_travel_s))
        tt = dense[wi, sj]
    keep = np.isfinite(tt) & (tt <= max_travel_s)
    wi, sj, tt = wi[keep], sj[keep], np.rint(tt[keep]).astype(np.int64)
    names = [str(i) for i in weak_ids] if weak_ids is not None else [str(i) for i in range(n_weak)]
    assigned = _assignment(n_weak, n_strong, wi, sj, tt, k)
    if assigned is not None:
        partner, ptime = assigned
        return PairingSolution(partner=partner, time_s=ptime, unpaired={}, objective=int(ptime.sum()))
    src, sink = n_weak + n_strong, n_weak + n_strong + 1
    flow = min_cost_flow.SimpleMinCostFlow()
    tails = np.concatenate([np.full(n_weak, src), wi, n_weak + np.arange(n_strong)])
    heads = np.concatenate([np.arange(n_weak), n_weak + sj, np.full(n_strong, sink)])
    caps = np.concatenate([np.ones(n_weak, np.int64), np.ones(len(wi), np.int64), np.full(n_strong, k, np.int64)])
    costs = np.concatenate([np.zeros(n_weak, np.int64), tt, np.zeros(n_strong, np.int64)])
    if len(tails):
        flow.add_arcs_with_capacity_and_unit_cost(
            tails.astype(np.int32), heads.astype(np.int32), caps, costs
        )
    partner = np.full(n_weak, -1, np.int64)
    ptime = np.full(n_weak, -1, np.int64)
    if len(wi):
        flow.set_node_supply(src, n_weak)  # as much as can flow; the max-flow solve allows a shortfall
        flow.set_node_supply(sink, -n_weak)
        status = flow.solve_max_flow_with_min_cost()
        if status != flow.OPTIMAL:
            raise SolverError(f"min-cost flow stopped with status {status}")
        f = flow.flows(np.arange(n_weak, n_weak + len(wi)))
        used = f > 0
        partner[wi[used]] = sj[used]
        ptime[wi[used]] = tt[used]
    reachable = np.zeros(n_weak, bool)
    reachable[wi] = True
    unpaired = {
        int(i): (PAIR_UNREACHABLE if not reachable[i] else PAIR_FULL)
        for i in np.nonzero(partner < 0)[0]
    }
    if unpaired and not allow_unpaired:
        raise InfeasibleError(
            f"{len(unpaired)} weak school(s) cannot be paired with a strong school",
            [Shortfall(names[i], 1, "strong partner", why) for i, why in unpaired.items()],
            hint=f"raise the travel cap or k (now {k}), or allow unpaired schools",
        )
    return PairingSolution(partner=partner, time_s=ptime, unpaired=unpaired, objective=int(ptime[partner >= 0].sum()))


# --------------------------------------------------------------------------- frame level


@dataclass(frozen=True)
class CommunityPlan:
    """School communities of a county.

    Attributes
    ----------
    groups
        One row per (level, school) in a group: ``school_id, group_id, role``
        (``lead`` | ``member``), ``level`` (``primary``, ``junior`` or ``all``
        when levels are mixed), ``lead_id``, ``travel_s`` (lead → member, 0 for
        the lead), ``strength``, ``strength_class``, ``area_type``, ``fixed``
        (from an existing group). Sorted by level, group, role, school.
    group_metrics
        One row per group: ``level, group_id, lead_id, members, rural_members,
        weak_members, total_travel_s, max_travel_s, mean_strength,
        strength_deviation`` (group mean − mean of the schools taking part),
        ``min_strength, max_strength``.
    pairs
        One-to-one pairing: ``level, weak_id, strong_id, time_s,
        weak_strength, strong_strength``.
    unassigned
        Schools left out and why: ``level, school_id, plan`` (``group`` |
        ``pair``), ``reason``.
    metrics
        Per level: objective, bound, gap, status, solve time, groups, members,
        travel, strength spread (max − min group mean), groups without a rural
        member, pairs and their travel.
    """

    groups: pd.DataFrame
    group_metrics: pd.DataFrame
    pairs: pd.DataFrame
    unassigned: pd.DataFrame
    metrics: Mapping[str, Any] = field(default_factory=dict)


_GROUP_COLUMNS = [
    "school_id",
    "group_id",
    "role",
    "level",
    "lead_id",
    "travel_s",
    "strength",
    "strength_class",
    "area_type",
    "fixed",
]
_METRIC_COLUMNS = [
    "level",
    "group_id",
    "lead_id",
    "members",
    "rural_members",
    "weak_members",
    "total_travel_s",
    "max_travel_s",
    "mean_strength",
    "strength_deviation",
    "min_strength",
    "max_strength",
]
_PAIR_COLUMNS = ["level", "weak_id", "strong_id", "time_s", "weak_strength", "strong_strength"]
_UNASSIGNED_COLUMNS = ["level", "school_id", "plan", "reason"]
_PREFIX = {"primary": "P-", "junior": "J-", "all": "G-"}


def _travel_lookup(travel: TravelMatrix, ids: NDArray[np.str_]) -> NDArray[np.float64]:
    """Dense travel seconds among ``ids`` (rows origins) from a schools × schools matrix."""
    o_pos = pd.Index(travel.origin_ids).get_indexer(ids)
    d_pos = pd.Index(travel.dest_ids).get_indexer(ids)
    missing = sorted(set(ids[o_pos < 0]) | set(ids[d_pos < 0]))
    if missing:
        raise InputError([Problem("travel", "school missing from the travel matrix", row=sid) for sid in missing])
    full = travel.dense("time_s")
    out = full[np.ix_(o_pos, d_pos)]
    np.fill_diagonal(out, 0.0)
    return out


def _validate_fixed(fixed_groups: pd.DataFrame | None, known: set[str]) -> pd.DataFrame:
    cols = ["school_id", "group_id", "role", "level"]
    if fixed_groups is None or len(fixed_groups) == 0:
        return pd.DataFrame({c: pd.Series(dtype="str") for c in cols})
    problems = [Problem("groups", "required column is missing", column=c) for c in cols[:3] if c not in fixed_groups]
    if problems:
        raise InputError(problems)
    fg = pd.DataFrame({c: fixed_groups[c].astype(str).str.strip() for c in cols[:3]})
    fg["level"] = fixed_groups["level"].astype(str) if "level" in fixed_groups else ""
    for r, row in enumerate(fg.itertuples(index=False), start=1):
        if row.school_id not in known:
            problems.append(Problem("groups", f"school {row.school_id!r} is not in the schools layer", row=r, column="school_id"))
        if row.role not in ("lead", "member"):
            problems.append(Problem("groups", f"role {row.role!r} must be lead or member", row=r, column="role"))
    for gid, g in fg.groupby("group_id", sort=True):
        n_leads = int((g["role"] == "lead").sum())
        if n_leads != 1:
            problems.append(Problem("groups", f"group {gid} has {n_leads} leads; exactly one expected", column="role"))
    if problems:
        raise InputError(problems)
    return fg


def form_communities(
    schools: pd.DataFrame,
    strength: pd.DataFrame,
    travel: TravelMatrix,
    *,
    levels: LevelMode = "by_level",
    lead_mode: LeadMode = "strongest",
    lead_ids: Sequence[str] = (),
    lead_area_types: Sequence[str] | None = None,
    n_groups: int | None = None,
    assign_rural: bool = True,
    middle: Literal["exclude", "optional", "include"] = "optional",
    min_members: int = GROUP_MIN_MEMBERS,
    max_members: int = GROUP_MAX_MEMBERS,
    max_travel_s: float = GROUP_MAX_TRAVEL_S,
    strength_weight_s: float = DEFAULT_STRENGTH_WEIGHT_S,
    rural_penalty_s: float = DEFAULT_RURAL_PENALTY_S,
    fixed_groups: pd.DataFrame | None = None,
    pair_k: int | None = None,
    allow_unassigned: bool = False,
    time_limit_s: float = 10.0,
    workers: int = 1,
    seed: int = 0,
) -> CommunityPlan:
    """Form "1+N" groups and one-to-one pairs for a county.

    Parameters
    ----------
    schools
        Schools layer (``school_id``, ``level``, ``area_type``).
    strength
        :func:`planning.balance.strength.strength_index` output (indexed by ``school_id``).
    travel
        Schools × schools travel matrix (e.g. by car), rows = origins.
    levels
        ``by_level`` (default: primary with primary, junior with junior,
        nine-year schools in both) or ``mixed`` (one set of groups).
    lead_mode
        ``strongest`` (default: the ``n_groups`` strongest eligible schools lead),
        ``optimize`` (the solver picks ``n_groups`` leads among the strongest
        eligible, up to 3 × as many candidates) or ``given`` (``lead_ids``).
    lead_ids
        Leads for ``given``.
    lead_area_types
        Only schools of these area types may lead (e.g. ``("urban", "town")``);
        ``None`` lets any non-weak school lead.
    n_groups
        Groups per level; ``None`` = enough for every school that must join
        (⌈must-join / max_members⌉).
    assign_rural
        Every rural school joins a group (Fujian practice), not only weak ones.
    middle
        Middle-strength non-rural schools: ``exclude``, ``optional`` (join when it
        helps, e.g. to reach the minimum size) or ``include`` (must join).
    min_members, max_members
        Members per group besides the lead (default 2–4).
    max_travel_s
        Lead → member travel cap (default 60 min).
    strength_weight_s, rural_penalty_s
        Objective weights (see module docstring).
    fixed_groups
        Existing groups to keep: ``school_id, group_id, role`` (+ ``level``).
    pair_k
        One-to-one pairing: each weak school with a strong school taking at most
        ``pair_k``; ``None`` (default) = the smallest k that pairs every weak
        school in reach; 0 skips pairing. A level without strong schools gets no pairs.
    allow_unassigned
        Leave schools that cannot be placed out (listed with a reason) instead
        of raising :class:`~geo.errors.InfeasibleError`.
    time_limit_s, workers, seed
        CP-SAT deterministic time limit, workers and seed.

    Returns
    -------
    CommunityPlan

    Raises
    ------
    InputError
        Unknown lead ids, bad fixed groups, schools missing from the strength frame or travel matrix.
    InfeasibleError
        A school that must join (or be paired) cannot, naming it and why.
    """
    ids_all = schools["school_id"].astype(str).to_numpy()
    problems: list[Problem] = []
    missing = sorted(set(ids_all) - set(strength.index.astype(str)))
    problems += [Problem("strength", "school missing from the strength index", row=sid) for sid in missing]
    known = set(ids_all)
    problems += [
        Problem("communities", "lead is not in the schools layer", row=str(sid), column="lead_ids")
        for sid in lead_ids
        if str(sid) not in known
    ]
    if lead_mode == "given" and not lead_ids:
        problems.append(Problem("communities", "lead_mode 'given' needs lead_ids", column="lead_ids"))
    if lead_mode not in ("strongest", "optimize", "given"):
        problems.append(Problem("communities", f"lead_mode {lead_mode!r}; expected strongest, optimize or given"))
    if levels not in ("by_level", "mixed"):
        problems.append(Problem("communities", f"levels {levels!r}; expected by_level or mixed"))
    if problems:
        raise InputError(problems)
    fixed = _validate_fixed(fixed_groups, known)
    info = pd.DataFrame(
        {
            "school_id": ids_all,
            "level": schools["level"].astype(str).to_numpy(),
            "area_type": schools["area_type"].astype(str).to_numpy() if "area_type" in schools else "",
        }
    ).set_index("school_id")
    st = strength.copy()
    st.index = st.index.astype(str)
    info["strength"] = st["strength"].reindex(info.index).to_numpy(np.float64)
    info["strength_class"] = st["strength_class"].reindex(info.index).astype(str).to_numpy()
    info = info.sort_index()

    runs = [("all", info)] if levels == "mixed" else [
        (lv, info[(info["level"] == lv) | (info["level"] == SchoolLevel.NINE_YEAR.value)]) for lv in LEVELS
    ]
    groups, metrics_rows, pairs, unassigned = [], [], [], []
    metrics: dict[str, Any] = {}
    for lv, sub in runs:
        if sub.empty:
            continue
        fx = fixed if lv == "all" else fixed[fixed["level"].isin(["", "nan", "None", lv])]
        fx = fx[fx["school_id"].isin(sub.index)]
        res = _form_level(
            lv,
            sub,
            _travel_lookup(travel, sub.index.to_numpy()),
            fx,
            lead_mode=lead_mode,
            lead_ids=[str(i) for i in lead_ids],
            lead_area_types=lead_area_types,
            n_groups=n_groups,
            assign_rural=assign_rural,
            middle=middle,
            min_members=min_members,
            max_members=max_members,
            max_travel_s=max_travel_s,
            strength_weight_s=strength_weight_s,
            rural_penalty_s=rural_penalty_s,
            pair_k=pair_k,
            allow_unassigned=allow_unassigned,
            time_limit_s=time_limit_s,
            workers=workers,
            seed=seed,
        )
        groups.append(res[0])
        metrics_rows.append(res[1])
        pairs.append(res[2])
        unassigned.append(res[3])
        metrics[lv] = res[4]

    def cat(frames: list[pd.DataFrame], cols: list[str]) -> pd.DataFrame:
        frames = [f for f in frames if len(f)]
        return pd.concat(frames, ignore_index=True)[cols] if frames else pd.DataFrame(columns=cols)

    return CommunityPlan(
        groups=cat(groups, _GROUP_COLUMNS),
        group_metrics=cat(metrics_rows, _METRIC_COLUMNS),
        pairs=cat(pairs, _PAIR_COLUMNS),
        unassigned=cat(unassigned, _UNASSIGNED_COLUMNS),
        metrics=metrics,
    )


def _choose_leads(
    sub: pd.DataFrame,
    must_base: NDArray[np.bool_],
    fixed_leads: list[str],
    *,
    lead_mode: LeadMode,
    lead_ids: list[str],
    lead_area_types: Sequence[str] | None,
    n_groups: int | None,
    max_members: int,
) -> tuple[list[str], list[str], int | None]:
    """(candidate leads, fixed leads, number of groups) for one level."""
    ids = sub.index.to_numpy()
    if lead_mode == "given":
        leads = sorted(set(lead_ids) & set(ids) | set(fixed_leads))
        return leads, leads, None
    eligible = sub["strength_class"].to_numpy() != "weak"
    if lead_area_types is not None:
        eligible &= sub["area_type"].isin(list(lead_area_types)).to_numpy()
    eligible &= np.isfinite(sub["strength"].to_numpy())
    order = sorted(
        (i for i in np.nonzero(eligible)[0] if ids[i] not in fixed_leads),
        key=lambda i: (-sub["strength"].iat[i], ids[i]),
    )
    ranked = [str(ids[i]) for i in order]
    g = n_groups
    if g is None:  # enough groups for the schools that must join (leads do not join)
        g = max(1, len(fixed_leads))
        for _ in range(10):
            chosen = set(fixed_leads) | set(ranked[: max(0, g - len(fixed_leads))])
            n_must = int(sum(1 for i, m in zip(ids, must_base) if m and i not in chosen))
            g_new = max(len(fixed_leads), 1, math.ceil(n_must / max_members))
            if g_new == g:
                break
            g = g_new
        g = min(g, len(fixed_leads) + len(ranked))
    if lead_mode == "strongest":
        leads = sorted(set(fixed_leads) | set(ranked[: max(0, g - len(fixed_leads))]))
        return leads, leads, len(leads)
    extra = max(0, g - len(fixed_leads))
    pool = ranked[: max(3 * extra, extra + 5)]
    return sorted(set(fixed_leads) | set(pool)), sorted(fixed_leads), g


def _form_level(
    lv: str,
    sub: pd.DataFrame,
    t: NDArray[np.float64],
    fx: pd.DataFrame,
    *,
    lead_mode: LeadMode,
    lead_ids: list[str],
    lead_area_types: Sequence[str] | None,
    n_groups: int | None,
    assign_rural: bool,
    middle: str,
    min_members: int,
    max_members: int,
    max_travel_s: float,
    strength_weight_s: float,
    rural_penalty_s: float,
    pair_k: int | None,
    allow_unassigned: bool,
    time_limit_s: float,
    workers: int,
    seed: int,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    ids = sub.index.to_numpy().astype(str)
    pos = {sid: k for k, sid in enumerate(ids)}
    cls = sub["strength_class"].to_numpy()
    is_rural = sub["area_type"].to_numpy() == "rural"
    must_base = (cls == "weak") | (is_rural if assign_rural else False)
    if middle == "include":
        must_base |= cls == "middle"
    fixed_leads = sorted(fx.loc[fx["role"] == "lead", "school_id"])
    cands, fixed_l, g = _choose_leads(
        sub,
        must_base,
        fixed_leads,
        lead_mode=lead_mode,
        lead_ids=lead_ids,
        lead_area_types=lead_area_types,
        n_groups=n_groups,
        max_members=max_members,
    )
    if lead_mode == "strongest" and n_groups is None:
        # grow the number of groups (next strongest first) until every school that must join has room in reach
        reach = (t <= max_travel_s) & ~np.eye(len(ids), dtype=bool)
        base = np.nonzero(must_base)[0]
        while True:
            lead_pos = np.array([pos[c] for c in cands], dtype=np.int64)
            rows = base[~np.isin(base, lead_pos)]
            if len(_unplaced(reach.T, t, rows, lead_pos, max_members)) == 0:
                break
            more, _, _ = _choose_leads(
                sub, must_base, fixed_leads, lead_mode=lead_mode, lead_ids=lead_ids,
                lead_area_types=lead_area_types, n_groups=len(cands) + 1, max_members=max_members,
            )
            if len(more) == len(cands):
                break
            cands, fixed_l = more, more
    role = np.full(len(ids), "out", dtype=object)
    if middle == "optional":
        role[cls == "middle"] = "may"
    role[must_base] = "must"
    fixed_lead_of = np.full(len(ids), -1, np.int64)
    lead_of_group = dict(zip(fx.loc[fx["role"] == "lead", "group_id"], fx.loc[fx["role"] == "lead", "school_id"]))
    for row in fx[fx["role"] == "member"].itertuples(index=False):
        if row.group_id in lead_of_group and lead_of_group[row.group_id] in pos:
            role[pos[row.school_id]] = "must"
            fixed_lead_of[pos[row.school_id]] = pos[lead_of_group[row.group_id]]
    for c in cands:
        role[pos[c]] = "lead"
    lead_fixed = np.isin(ids, fixed_l)
    sol = solve_groups(
        ids,
        sub["strength"].to_numpy(np.float64),
        t,
        role,
        lead_fixed=lead_fixed,
        rural=is_rural,
        fixed_lead_of=fixed_lead_of,
        lead_or_join=must_base & (role == "lead"),
        n_groups=g if lead_mode == "optimize" else None,
        min_members=min_members,
        max_members=max_members,
        max_travel_s=max_travel_s,
        strength_weight_s=strength_weight_s,
        rural_penalty_s=rural_penalty_s,
        allow_unassigned=allow_unassigned,
        time_limit_s=time_limit_s,
        workers=workers,
        seed=seed,
    )
    group_of_lead = {v: k for k, v in lead_of_group.items()}
    in_group = np.nonzero(sol.lead_of >= 0)[0]
    lead_idx = sol.lead_of[in_group]
    fixed_members = set(fx["school_id"])
    groups = pd.DataFrame(
        {
            "school_id": ids[in_group],
            "group_id": [group_of_lead.get(ids[j], f"{_PREFIX[lv]}{ids[j]}") for j in lead_idx],
            "role": np.where(lead_idx == in_group, "lead", "member"),
            "level": lv,
            "lead_id": ids[lead_idx],
            "travel_s": np.where(lead_idx == in_group, 0, t[lead_idx, in_group]).astype(np.int64),
            "strength": sub["strength"].to_numpy()[in_group],
            "strength_class": cls[in_group],
            "area_type": sub["area_type"].to_numpy()[in_group],
            "fixed": np.isin(ids[in_group], list(fixed_members)),
        }
    )
    groups["_r"] = (groups["role"] != "lead").astype(int)
    groups = groups.sort_values(["group_id", "_r", "school_id"]).drop(columns="_r").reset_index(drop=True)
    part_mean = float(np.nanmean(sub["strength"].to_numpy()[role != "out"])) if (role != "out").any() else float("nan")
    gm = []
    for gid, g_rows in groups.groupby("group_id", sort=True):
        mem = g_rows[g_rows["role"] == "member"]
        mean_s = float(g_rows["strength"].mean())
        gm.append(
            {
                "level": lv,
                "group_id": gid,
                "lead_id": g_rows["lead_id"].iat[0],
                "members": len(mem),
                "rural_members": int((mem["area_type"] == "rural").sum()),
                "weak_members": int((mem["strength_class"] == "weak").sum()),
                "total_travel_s": int(mem["travel_s"].sum()),
                "max_travel_s": int(mem["travel_s"].max()) if len(mem) else 0,
                "mean_strength": mean_s,
                "strength_deviation": mean_s - part_mean,
                "min_strength": float(g_rows["strength"].min()),
                "max_strength": float(g_rows["strength"].max()),
            }
        )
    gm_df = pd.DataFrame(gm, columns=_METRIC_COLUMNS)
    unassigned = [
        {"level": lv, "school_id": ids[i], "plan": "group", "reason": why} for i, why in sol.unassigned.items()
    ]

    # one-to-one pairing: weak with strong
    weak = np.nonzero(cls == "weak")[0]
    strong = np.nonzero(cls == "strong")[0]
    pair_rows: list[dict[str, Any]] = []
    pair_note = ""
    pair_obj = 0
    k = 0
    if pair_k is not None and pair_k <= 0:
        pair_note = "pairing off"
    elif len(weak) == 0:
        pair_note = "no weak school"
    elif len(strong) == 0:
        pair_note = "no strong school at this level: no pairs"
        logger.info("%s: no strong school, no one-to-one pairs", lv)
    else:
        cost = t[np.ix_(strong, weak)].T
        if pair_k is None:  # the smallest k that pairs every weak school in reach
            k = max(1, math.ceil(len(weak) / len(strong)))
            while True:
                ps = pair_schools(cost, k=k, max_travel_s=max_travel_s, allow_unpaired=True)
                if k >= len(weak) or all(why != PAIR_FULL for why in ps.unpaired.values()):
                    break
                k += 1
        else:
            k = pair_k
        ps = pair_schools(cost, k=k, max_travel_s=max_travel_s, weak_ids=list(ids[weak]), allow_unpaired=allow_unassigned)
        pair_obj = ps.objective
        for w_pos, s_pos in enumerate(ps.partner):
            if s_pos >= 0:
                wi, si = weak[w_pos], strong[s_pos]
                pair_rows.append(
                    {
                        "level": lv,
                        "weak_id": ids[wi],
                        "strong_id": ids[si],
                        "time_s": int(ps.time_s[w_pos]),
                        "weak_strength": float(sub["strength"].iat[wi]),
                        "strong_strength": float(sub["strength"].iat[si]),
                    }
                )
        unassigned += [
            {"level": lv, "school_id": ids[weak[w]], "plan": "pair", "reason": why} for w, why in ps.unpaired.items()
        ]
    pairs = pd.DataFrame(pair_rows, columns=_PAIR_COLUMNS).sort_values("weak_id").reset_index(drop=True)
    means = gm_df["mean_strength"].to_numpy()
    metrics = {
        "objective": round(sol.objective, 3),
        "bound": round(sol.bound, 3),
        "gap": round(sol.gap, 6),
        "status": sol.status,
        "solve_s": round(sol.wall_s, 3),
        "groups": len(gm_df),
        "members": int(gm_df["members"].sum()),
        "total_travel_s": int(gm_df["total_travel_s"].sum()),
        "max_travel_s": int(gm_df["max_travel_s"].max()) if len(gm_df) else 0,
        "strength_spread": round(float(means.max() - means.min()), 6) if len(means) else 0.0,
        "strength_std": round(float(means.std()), 6) if len(means) else 0.0,
        "groups_without_rural": int((gm_df["rural_members"] == 0).sum()),
        "unassigned_group": len(sol.unassigned),
        "pairs": len(pairs),
        "pair_travel_s": int(pair_obj),
        "pair_gap": 0.0,
        "pair_k": int(k) if pair_note == "" else None,
        "pair_note": pair_note,
    }
    un = pd.DataFrame(unassigned, columns=_UNASSIGNED_COLUMNS)
    return groups, gm_df, pairs, un, metrics
