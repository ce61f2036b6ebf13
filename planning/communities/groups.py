""""1+N" school groups (集团化办学, 城乡学校共同体): a strong lead and nearby weaker members.

**Model** (:func:`solve_groups`, CP-SAT). Schools are lead candidates, must
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
  + w_m · Σ_j short_j                               only with ``allow_unassigned``: members a group
                                                    lacks below the minimum (soft ``min·y_j``)

``|Σ (s_i − s̄)|`` = size × |group mean strength − county mean|: it is linear
(two inequalities) and pushes every group's mean strength towards the county
mean, so no group is all weak. Bound and gap are CP-SAT's.

**Frames** (:func:`form_communities`) choose the leads and roles per level
(only schools that may lead: :func:`planning.communities.frames.may_lead`; with
``central_schools`` the 中心校+村小 groups of :mod:`planning.communities.central`
first), solve, and pair each weak school with a strong one (:mod:`planning.communities.pairing`).

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
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeAlias

import numpy as np
import pandas as pd
import scipy.sparse as sp
from numpy.typing import ArrayLike, NDArray
from ortools.graph.python import min_cost_flow
from ortools.sat.python import cp_model

from geo.errors import Figure, InfeasibleError, InputError, Problem, Shortfall, SolverError, figures
from geo.policy import GROUP_MAX_TRAVEL_S
from geo.travel import TravelMatrix
from planning.communities.central import CENTRAL_PREFIX, central_groups
from planning.communities.frames import (
    PAIR_COLUMNS,
    UNASSIGNED_COLUMNS,
    concat,
    level_runs,
    may_lead,
    school_info,
    strength_problems,
    travel_among,
)
from planning.communities.options import DEFAULT_GAP_LIMIT, DEFAULT_LIMITS, DEFAULT_NEAREST_LEADS, CommunityOptions, SolveLimits
from planning.communities.pairing import PAIR_FULL, PAIR_UNREACHABLE, pair_level, pair_schools

logger = logging.getLogger(__name__)

#: Strength values are scaled to integers for CP-SAT: 1/1000 of the index is resolution enough.
STRENGTH_SCALE = 1000
#: Cost of leaving a must-join school out (with ``allow_unassigned``): above any travel within the cap.
UNASSIGNED_PENALTY_S = 100 * GROUP_MAX_TRAVEL_S

#: Cost of each member a group lacks below ``min_members`` (with ``allow_unassigned``): above any travel
#: within the cap, below leaving a school out, so a school joins a short group rather than none.
SHORT_MEMBER_PENALTY_S = 10 * GROUP_MAX_TRAVEL_S

#: Travel seconds school → school, as :func:`solve_groups` takes them.
Travel: TypeAlias = TravelMatrix | NDArray[Any] | sp.spmatrix | sp.sparray


# --------------------------------------------------------------------------- groups core


@dataclass(frozen=True)
class GroupMarks:
    """Optional per-school marks for :func:`solve_groups`, index-aligned with its ``ids``.

    Attributes
    ----------
    lead_fixed
        Candidate leads that must lead (default: every ``lead``; with
        ``n_groups`` the solver may choose among the others).
    rural
        Rural schools (for the ≥ 1 rural member rule).
    fixed_lead_of
        Index of the lead each school is fixed to (existing groups), -1 if free.
    lead_or_join
        Candidate leads that, if not chosen to lead, must join a group (e.g.
        rural candidates when every rural school takes part).
    """

    lead_fixed: ArrayLike | None = None
    rural: ArrayLike | None = None
    fixed_lead_of: ArrayLike | None = None
    lead_or_join: ArrayLike | None = None


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
    short
        Lead index → members its group lacks to reach ``min_members`` (only with ``allow_unassigned``).
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
    short: Mapping[int, int] = field(default_factory=dict)


@dataclass(frozen=True)
class _Schools:
    """The checked per-school arrays of one solve (index-aligned)."""

    ids: list[str]
    t: NDArray[np.float64]  # travel seconds i → j
    s_int: NDArray[np.int64]  # strength × STRENGTH_SCALE (NaN as the mean)
    roles: NDArray[np.object_]
    cand: NDArray[np.bool_]  # candidate leads
    fixed: NDArray[np.bool_]  # candidates that must lead
    rural: NDArray[np.bool_]
    fixed_of: NDArray[np.int64]  # lead an existing group ties the school to, -1 if free
    part: NDArray[np.bool_]  # free candidates that lead or join
    joiner: NDArray[np.bool_]  # schools that may join a group

    @property
    def n(self) -> int:
        return len(self.ids)

    @property
    def all_fixed(self) -> bool:
        """Every candidate leads (no choice of leads left to the solver)."""
        return bool((self.fixed == self.cand).all())

    @property
    def fixed_size(self) -> NDArray[np.int64]:
        """Members each lead's existing group ties to it."""
        return np.bincount(self.fixed_of[self.fixed_of >= 0], minlength=self.n)


@dataclass(frozen=True)
class _Model:
    """A built CP-SAT model and its variable maps."""

    model: cp_model.CpModel
    y: dict[int, cp_model.IntVar]  # j leads
    x: dict[tuple[int, int], cp_model.IntVar]  # i joins j
    unassigned: dict[int, cp_model.IntVar]  # must-join i left out
    dev: dict[int, cp_model.IntVar]  # |strength deviation| of j's group
    rural: dict[int, tuple[cp_model.IntVar, cp_model.IntVar]]  # (j's group has a rural member, it has none)
    s_bar: int
    short: dict[int, cp_model.IntVar] = field(default_factory=dict)  # members j's group lacks (soft minimum)


def _cp_params(solver: cp_model.CpSolver, limits: SolveLimits) -> None:
    p = solver.parameters
    p.random_seed = int(limits.seed)
    # One worker: deterministic by construction, and on this model (warm-started from the
    # flow hint) faster than interleaved multi-worker search, measured on 300-school counties.
    p.num_workers = 1
    p.max_deterministic_time = float(limits.time_limit_s)
    p.max_time_in_seconds = 10.0 * float(limits.time_limit_s)  # safeguard only; the deterministic limit stops first
    p.relative_gap_limit = DEFAULT_GAP_LIMIT
    p.log_search_progress = False
    p.catch_sigint_signal = False  # Ctrl-C stays with the command line (exit 130), not a quiet end of the search


def _time_array(time_s: Travel, ids: list[str]) -> NDArray[np.float64]:
    """``(n, n)`` float array of travel seconds from school i to school j; ``inf`` where unreachable."""
    n = len(ids)
    if isinstance(time_s, TravelMatrix):
        return travel_among(time_s, ids)
    if sp.issparse(time_s):
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


def solve_groups(
    ids: Sequence[str],
    strength: ArrayLike,
    time_s: Travel,
    role: Sequence[str] | NDArray[np.object_],
    *,
    marks: GroupMarks | None = None,
    n_groups: int | None = None,
    options: CommunityOptions | None = None,
    limits: SolveLimits | None = None,
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
        among the schools (looked up by id), a dense ``(n, n)`` array (``inf`` =
        unreachable) or a sparse matrix (missing = unreachable).
    role
        Per school: ``lead`` (candidate lead), ``must`` (must join a group),
        ``may`` (may join) or ``out``.
    marks
        Fixed leads, rural schools, existing memberships, candidates that lead or join.
    n_groups
        Number of groups; ``None`` leaves it free (only matters when some leads
        are not fixed).
    options
        ``min_members``, ``max_members`` (members per group besides the lead),
        ``max_travel_min`` (lead → member cap), ``strength_weight_min`` and
        ``rural_penalty_min`` (objective weights) and ``allow_unassigned`` (leave
        must-join schools out, with a reason, instead of failing) are used.
    limits
        CP-SAT deterministic time limit, workers (one is used, see the module
        docstring), seed and relative gap to stop at.
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
    opts = options or CommunityOptions()
    sc = _check(ids, strength, time_s, role, marks or GroupMarks(), opts)
    reach, full_reach = _reach(sc, opts, nearest_leads)
    must, unassigned = _check_stranded(sc, reach, opts)
    _check_sizes(sc, reach, must, n_groups, opts)
    if sc.all_fixed and opts.min_members <= opts.max_members:
        reach = _check_room(sc, reach, full_reach, must, opts)
    gm = _build_model(sc, reach, must, n_groups, opts)
    if sc.all_fixed and gm.x:
        _hint(gm, sc, reach, must, opts)
    return _solve(gm, sc, unassigned, limits or DEFAULT_LIMITS, t0, _full_reason(sc, reach, opts))


def _check(
    ids: Sequence[str], strength: ArrayLike, time_s: Travel, role: Sequence[str] | NDArray[np.object_], marks: GroupMarks,
    opts: CommunityOptions,
) -> _Schools:
    """The per-school arrays, every input problem collected before raising."""
    ids = [str(i) for i in ids]
    n = len(ids)
    roles = np.asarray(role, dtype=object)
    s = np.asarray(strength, dtype=np.float64)
    t = _time_array(time_s, ids)
    cand = roles == "lead"
    fixed = cand.copy() if marks.lead_fixed is None else (np.asarray(marks.lead_fixed, dtype=bool) & cand)
    is_rural = np.zeros(n, bool) if marks.rural is None else np.asarray(marks.rural, dtype=bool)
    fixed_of = np.full(n, -1, np.int64) if marks.fixed_lead_of is None else np.asarray(marks.fixed_lead_of, dtype=np.int64)
    part = np.zeros(n, bool) if marks.lead_or_join is None else (np.asarray(marks.lead_or_join, dtype=bool) & cand & ~fixed)
    problems: list[Problem] = []
    if not 0 <= opts.min_members <= opts.max_members:
        problems.append(
            Problem("communities", f"need 0 ≤ min_members ≤ max_members, got {opts.min_members}, {opts.max_members}")
        )
    if len(roles) != n or len(s) != n:
        problems.append(Problem("communities", "ids, strength and role must have the same length"))
    bad_roles = sorted(set(roles) - {"lead", "must", "may", "out"})
    if bad_roles:
        problems.append(Problem("communities", f"unknown roles {bad_roles}; expected lead, must, may or out"))
    problems += [
        Problem("groups", f"fixed to {ids[fixed_of[i]]}, which is not a lead", row=ids[i])
        for i in np.nonzero(fixed_of >= 0)[0]
        if not cand[fixed_of[i]]
    ]
    if problems:
        raise InputError(problems)
    mean = float(np.nanmean(s)) if np.isfinite(s).any() else 0.0
    s_int = np.rint(np.nan_to_num(s, nan=mean) * STRENGTH_SCALE).astype(np.int64)
    joiner = (roles == "must") | (roles == "may") | (cand & ~fixed)
    return _Schools(ids, t, s_int, roles, cand, fixed, is_rural, fixed_of, part, joiner)


def _reach(sc: _Schools, opts: CommunityOptions, nearest_leads: int | None) -> tuple[NDArray[np.bool_], NDArray[np.bool_]]:
    """(``reach[i, j]``: i may join j in the model, the same before keeping the nearest leads only)."""
    t = sc.t
    # lead → member travel, within the cap (fixed memberships always allowed)
    reach = (opts.max_travel_s >= t.T) & sc.cand[None, :] & sc.joiner[:, None]
    np.fill_diagonal(reach, False)
    full_reach = reach.copy()
    if nearest_leads is not None and nearest_leads < int(sc.cand.sum()):
        # keep each school's nearest leads only: far leads are never worth it and blow up the model
        tt = np.where(reach, t.T, np.inf)
        kth = np.partition(tt, nearest_leads - 1, axis=1)[:, nearest_leads - 1]
        reach &= tt <= kth[:, None]
    for i in np.nonzero(sc.fixed_of >= 0)[0]:
        reach[i, :] = False
        reach[i, sc.fixed_of[i]] = True
    return reach, full_reach


def _check_stranded(sc: _Schools, reach: NDArray[np.bool_], opts: CommunityOptions) -> tuple[NDArray[np.bool_], dict[int, str]]:
    """(must-join schools, those left out for want of a lead in reach): raises unless ``allow_unassigned``."""
    must = sc.roles == "must"
    unassigned: dict[int, str] = {}
    stranded = np.nonzero(must & ~reach.any(axis=1))[0]
    if not len(stranded):
        return must, unassigned
    cap_min = opts.max_travel_s / 60
    shortfalls = []
    for i in stranded:
        others = np.where(sc.cand & (np.arange(sc.n) != i), sc.t[:, i], np.inf)
        j = int(np.argmin(others)) if np.isfinite(others).any() else -1
        detail = (
            f"nearest lead beyond the cap: {sc.ids[j]}, {others[j] / 60:.0f} min away (cap {cap_min:.0f} min)"
            if j >= 0
            else "no lead reachable at all"
        )
        near: dict[str, Figure] = {"lead": str(sc.ids[j]), "minutes": float(others[j] / 60), "cap": float(cap_min)} if j >= 0 else {}
        shortfalls.append(Shortfall(where=sc.ids[i], short_by=1, unit="lead within the travel cap", detail=detail,
                                    kind="communities.no_lead_near" if j >= 0 else "communities.no_lead",
                                    figures=figures(school=str(sc.ids[i]), **near)))
        unassigned[int(i)] = f"no lead within {cap_min:.0f} min; " + detail
    if not opts.allow_unassigned:
        raise InfeasibleError(
            f"{len(stranded)} school(s) that must join a group have no lead within the travel cap",
            shortfalls,
            hint="raise the travel cap, name more leads (or let the solver choose among more), or allow unassigned schools",
        )
    must[stranded] = False
    return must, unassigned


def _check_sizes(sc: _Schools, reach: NDArray[np.bool_], must: NDArray[np.bool_], n_groups: int | None, opts: CommunityOptions) -> None:
    """Raise when the number of groups and their size bounds cannot hold the schools (unless ``allow_unassigned``)."""
    n_fixed = int(sc.fixed.sum())
    n_cand = int(sc.cand.sum())
    g_known = int(n_groups) if n_groups is not None else (n_fixed if sc.all_fixed else None)
    lo, hi = opts.min_members, opts.max_members
    shortfalls = []
    if n_groups is not None and n_groups > n_cand:
        shortfalls.append(Shortfall("groups", n_groups - n_cand, "lead candidates", f"{n_groups} groups asked",
                                    "communities.too_few_candidates", figures(asked=int(n_groups), candidates=int(n_cand))))
    elif g_known is not None:
        fixed_size = sc.fixed_size
        room = int(sum(max(hi, int(fixed_size[j])) for j in np.nonzero(sc.fixed)[0]))
        room += (g_known - n_fixed) * hi
        n_must = int(must.sum())
        if n_must > room:
            shortfalls.append(
                Shortfall("groups", n_must - room, "places", f"{n_must} schools must join but {g_known} groups hold {room}",
                          "communities.too_little_room", figures(must=n_must, groups=int(g_known), room=room))
            )
        # schools that could join, less the free candidates that will lead instead
        n_join = int((sc.joiner & ~sc.fixed & reach.any(axis=1)).sum()) - (g_known - n_fixed)
        if g_known * lo > n_join:
            shortfalls.append(
                Shortfall(
                    "groups",
                    g_known * lo - n_join,
                    "members",
                    f"{g_known} groups need {lo} members each but {max(n_join, 0)} schools can join",
                    "communities.too_few_members",
                    figures(groups=int(g_known), min_members=int(lo), can=max(n_join, 0)),
                )
            )
    if shortfalls and not opts.allow_unassigned:
        raise InfeasibleError(
            "group sizes cannot hold the schools", shortfalls, hint="change the number of groups or the size bounds"
        )


def _check_room(
    sc: _Schools, reach: NDArray[np.bool_], full_reach: NDArray[np.bool_], must: NDArray[np.bool_], opts: CommunityOptions
) -> NDArray[np.bool_]:
    """Hall's condition with fixed leads: can every must-join school get a place in a group within reach?

    Returns the reach to model: every lead in reach when the nearest-lead shortcut would cost places.
    """
    rows, leads = np.nonzero(must & (sc.fixed_of < 0))[0], np.nonzero(sc.fixed)[0]
    stuck_full = _unplaced(full_reach, sc.t, rows, leads, opts.max_members)
    stuck = _unplaced(reach, sc.t, rows, leads, opts.max_members)
    if len(stuck) > len(stuck_full):  # the nearest-lead shortcut cost places: keep every lead in reach
        reach = full_reach
        stuck = stuck_full
    if len(stuck) and not opts.allow_unassigned:
        shortfalls = [
            Shortfall(sc.ids[i], 1, "place in a group", f"the {int(full_reach[i].sum())} lead(s) within the cap are full",
                      "communities.groups_full", figures(school=str(sc.ids[i]), n=int(full_reach[i].sum())))
            for i in stuck
        ]
        raise InfeasibleError(
            f"{len(stuck)} school(s) that must join a group find every group within the travel cap full",
            shortfalls,
            hint="raise max_members or the travel cap, add groups (n_groups) or name more leads, or allow unassigned schools",
        )
    return reach


Lead = dict[int, list[tuple[int, cp_model.IntVar]]]  # lead j → (member i, x_ij)


def _travel_cost_s(time_s: float) -> int:
    """Whole seconds of a lead → member arc in the objective.

    Only a membership an existing group fixes can lack a travel time (``inf``: beyond the travel
    matrix's cutoff, or no route): it is in every plan alike, so it costs nothing here.
    """
    return round(time_s) if math.isfinite(time_s) else 0


def _build_model(
    sc: _Schools, reach: NDArray[np.bool_], must: NDArray[np.bool_], n_groups: int | None, opts: CommunityOptions
) -> _Model:
    """The CP-SAT model of the module docstring (variables and constraints in a fixed order)."""
    model = cp_model.CpModel()
    y, x, by_lead, unassigned = _add_membership(model, sc, reach, must, opts)
    short = _add_sizes(model, sc, y, by_lead, n_groups, opts)
    s_bar, dev = _add_strength_spread(model, sc, y, by_lead, must, opts)
    rural = _add_rural_rule(model, sc, y, by_lead, opts)
    # objective in 1/STRENGTH_SCALE seconds so that every coefficient is an integer
    obj = [_travel_cost_s(sc.t[j, i]) * STRENGTH_SCALE * v for (i, j), v in x.items()]
    obj += [round(opts.strength_weight_s) * d for d in dev.values()]
    obj += [round(opts.rural_penalty_s) * STRENGTH_SCALE * miss for _, miss in rural.values()]
    obj += [UNASSIGNED_PENALTY_S * STRENGTH_SCALE * u for u in unassigned.values()]
    obj += [SHORT_MEMBER_PENALTY_S * STRENGTH_SCALE * v for v in short.values()]
    model.minimize(sum(obj))
    return _Model(model=model, y=y, x=x, unassigned=unassigned, dev=dev, rural=rural, s_bar=s_bar, short=short)


def _add_membership(
    model: cp_model.CpModel, sc: _Schools, reach: NDArray[np.bool_], must: NDArray[np.bool_], opts: CommunityOptions
) -> tuple[dict[int, cp_model.IntVar], dict[tuple[int, int], cp_model.IntVar], Lead, dict[int, cp_model.IntVar]]:
    """``y``, ``x`` and the one-group-per-school rules; returns the variables, members by lead and the left-out ``u``."""
    y = {j: model.new_bool_var(f"y{j}") for j in np.nonzero(sc.cand)[0].tolist()}
    for j in np.nonzero(sc.fixed)[0].tolist():
        model.add(y[j] == 1)
    ii, jj = np.nonzero(reach)
    x = {(i, j): model.new_bool_var(f"x{i}_{j}") for i, j in zip(ii.tolist(), jj.tolist())}
    by_member: dict[int, list[cp_model.IntVar]] = {}
    by_lead: Lead = {}
    for (i, j), v in x.items():
        by_member.setdefault(i, []).append(v)
        by_lead.setdefault(j, []).append((i, v))
        model.add_implication(v, y[j])
    unassigned: dict[int, cp_model.IntVar] = {}
    for i in range(sc.n):
        terms = list(by_member.get(i, []))
        if i in y and not sc.fixed[i]:
            terms.append(y[i])
        if not terms:
            continue
        if must[i] and opts.allow_unassigned and sc.fixed_of[i] < 0 and not sc.cand[i]:
            u = model.new_bool_var(f"u{i}")
            unassigned[i] = u
            model.add(sum(terms) + u == 1)
        elif must[i] or sc.part[i]:
            model.add(sum(terms) == 1)
        else:
            model.add(sum(terms) <= 1)
        if sc.fixed_of[i] >= 0:
            model.add(x[(i, int(sc.fixed_of[i]))] == 1)
    return y, x, by_lead, unassigned


def _add_sizes(
    model: cp_model.CpModel, sc: _Schools, y: dict[int, cp_model.IntVar], by_lead: Lead, n_groups: int | None, opts: CommunityOptions
) -> dict[int, cp_model.IntVar]:
    """``min·y_j ≤ Σ_i x_ij ≤ max·y_j`` (an existing group may be larger) and the number of groups.

    With ``allow_unassigned`` the minimum is soft: ``Σ_i x_ij + short_j ≥ min·y_j``, each missing member
    penalised; returns the ``short_j`` (empty otherwise).
    """
    fixed_size = sc.fixed_size
    short: dict[int, cp_model.IntVar] = {}
    for j, yj in y.items():
        members = [v for _, v in by_lead.get(j, [])]
        hi = max(opts.max_members, int(fixed_size[j]))
        lo = min(opts.min_members, hi)
        model.add(sum(members) <= hi * yj)
        if opts.allow_unassigned and lo > 0:
            short[j] = model.new_int_var(0, lo, f"short{j}")
            model.add(sum(members) + short[j] >= lo * yj)
        else:
            model.add(sum(members) >= lo * yj)
    if n_groups is not None:
        g = min(int(n_groups), len(y)) if opts.allow_unassigned else int(n_groups)
        model.add(sum(y.values()) == g)
    return short


def _add_strength_spread(
    model: cp_model.CpModel, sc: _Schools, y: dict[int, cp_model.IntVar], by_lead: Lead, must: NDArray[np.bool_], opts: CommunityOptions
) -> tuple[int, dict[int, cp_model.IntVar]]:
    """(s̄, ``dev_j ≥ |Σ_{i in group j} (s_i − s̄)|`` per lead)."""
    s_int = sc.s_int
    participating = sc.cand | must | (sc.roles == "may")
    s_bar = int(np.rint(s_int[participating].mean())) if participating.any() else 0
    bound_dev = int(np.abs(s_int - s_bar).max(initial=0)) * (max(opts.max_members, int(sc.fixed_size.max(initial=0))) + 1)
    dev: dict[int, cp_model.IntVar] = {}
    for j, yj in y.items():
        expr = (s_int[j] - s_bar) * yj + sum((s_int[i] - s_bar) * v for i, v in by_lead.get(j, []))
        d = model.new_int_var(0, bound_dev, f"dev{j}")
        model.add(d >= expr)
        model.add(d >= -expr)
        dev[j] = d
    return s_bar, dev


def _add_rural_rule(
    model: cp_model.CpModel, sc: _Schools, y: dict[int, cp_model.IntVar], by_lead: Lead, opts: CommunityOptions
) -> dict[int, tuple[cp_model.IntVar, cp_model.IntVar]]:
    """Soft "≥ 1 rural member", only for groups that could have one: lead → (has a rural member, has none)."""
    rural: dict[int, tuple[cp_model.IntVar, cp_model.IntVar]] = {}
    if opts.rural_penalty_s <= 0:
        return rural
    for j, yj in y.items():
        rural_terms = [v for i, v in by_lead.get(j, []) if sc.rural[i]]
        if not rural_terms:
            continue
        r = model.new_bool_var(f"r{j}")
        model.add(r <= sum(rural_terms))
        model.add_implication(r, yj)
        miss = model.new_bool_var(f"norural{j}")
        model.add(miss >= yj - r)
        rural[j] = (r, miss)
    return rural


def _hint(gm: _Model, sc: _Schools, reach: NDArray[np.bool_], must: NDArray[np.bool_], opts: CommunityOptions) -> None:
    """Hint the travel-only optimum with the size bounds (a transportation problem, exact by min-cost flow)."""
    hint = _flow_hint(reach, sc.t, must, sc.fixed, sc.fixed_of, min_members=opts.min_members, max_members=opts.max_members)
    for (i, j), used in hint.items():
        gm.model.add_hint(gm.x[(i, j)], used)
    if not hint:
        return
    # complete the hint so that the first solution is the flow's, not a repair of it
    total = {j: int(sc.s_int[j] - gm.s_bar) for j in gm.y}
    has_rural = dict.fromkeys(gm.y, False)
    for (i, j), used in hint.items():
        if used:
            total[j] += int(sc.s_int[i] - gm.s_bar)
            has_rural[j] |= bool(sc.rural[i])
    for j, d in gm.dev.items():
        gm.model.add_hint(d, abs(total[j]))
    for j, (r, miss) in gm.rural.items():
        gm.model.add_hint(r, int(has_rural[j]))
        gm.model.add_hint(miss, int(not has_rural[j]))
    for u in gm.unassigned.values():
        gm.model.add_hint(u, 0)
    size = dict.fromkeys(gm.y, 0)
    for (_, j), used in hint.items():
        size[j] += used
    for j, v in gm.short.items():
        gm.model.add_hint(v, max(0, opts.min_members - size[j]))


def _full_reason(sc: _Schools, reach: NDArray[np.bool_], opts: CommunityOptions) -> list[str]:
    """Why each school left out for want of room is left out: how many groups are in reach and their size."""
    cap = opts.max_travel_s / 60
    n_in = reach.sum(axis=1)
    return [
        f"the {n} group(s) within {cap:.0f} min are full ({opts.max_members} members each); "
        "raise max_members or form 中心校+村小 groups (central_schools)"
        for n in n_in
    ]


def _solve(
    gm: _Model, sc: _Schools, unassigned: dict[int, str], limits: SolveLimits, t0: float, full_reason: list[str]
) -> GroupSolution:
    """Solve, check the status and read the groups back."""
    solver = cp_model.CpSolver()
    _cp_params(solver, limits)
    status = solver.solve(gm.model)
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
    lead_of = np.full(sc.n, -1, np.int64)
    for j, yj in gm.y.items():
        if solver.boolean_value(yj):
            lead_of[j] = j
    for (i, j), v in gm.x.items():
        if solver.boolean_value(v):
            lead_of[i] = j
    unassigned = dict(unassigned)
    for i, u in gm.unassigned.items():
        if solver.boolean_value(u):
            unassigned[i] = full_reason[i]
    size = np.bincount(lead_of[lead_of >= 0], minlength=sc.n) - (lead_of == np.arange(sc.n))
    # a lead without members forms no group (it is dropped from the plan), so it is not short either
    short = {j: int(solver.value(v)) for j, v in gm.short.items() if size[j] > 0 and solver.value(v) > 0}
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
        short=short,
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
    *,
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
    arc_s = t[jj, ii]
    costs = np.concatenate([np.rint(np.where(np.isfinite(arc_s), arc_s, 0.0)), np.zeros(len(opt) + 1 + len(leads))])
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
    shortfalls
        Each school left out of the groups or unpaired, and each group short
        of members, with the numbers and why (only with ``allow_unassigned``).
    """

    groups: pd.DataFrame
    group_metrics: pd.DataFrame
    pairs: pd.DataFrame
    unassigned: pd.DataFrame
    metrics: Mapping[str, Any] = field(default_factory=dict)
    shortfalls: tuple[Shortfall, ...] = ()


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
_PREFIX = {"primary": "P-", "junior": "J-", "all": "G-"}


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
    options: CommunityOptions | None = None,
    fixed_groups: pd.DataFrame | None = None,
    limits: SolveLimits | None = None,
) -> CommunityPlan:
    """Form "1+N" groups and one-to-one pairs for a county.

    Parameters
    ----------
    schools
        Schools layer (``school_id``, ``level``, ``area_type``).
    strength
        :func:`planning.balance.strength_from_frames` output (indexed by ``school_id``).
    travel
        Schools × schools travel matrix (e.g. by car), rows = origins.
    options
        :class:`~planning.communities.options.CommunityOptions` (default: its
        defaults): ``levels`` (``by_level``: primary with primary, junior with
        junior, nine-year schools in both; or ``mixed``), ``lead_mode``
        (``strongest``: the ``n_groups`` strongest eligible schools lead;
        ``optimize``: the solver picks ``n_groups`` leads among the strongest
        eligible, up to 3 × as many candidates; ``given``: ``lead_ids``),
        ``lead_area_types`` (only these may lead), ``n_groups`` (per level;
        ``None`` = enough for every school that must join, ⌈must-join /
        max_members⌉), ``assign_rural`` (every rural school joins, Fujian
        practice), ``middle`` (middle-strength non-rural schools: ``exclude``,
        ``optional`` — join when it helps, e.g. to reach the minimum size — or
        ``include``), the group sizes, travel cap and objective weights,
        ``pair_k`` (one-to-one pairing: each weak school with a strong school
        taking at most ``pair_k``; ``None`` = the smallest k that pairs every
        weak school in reach; 0 skips pairing; a level without strong schools
        gets no pairs) and ``allow_unassigned`` (leave schools that cannot be
        placed out, listed with a reason, instead of raising).
    fixed_groups
        Existing groups to keep: ``school_id, group_id, role`` (+ ``level``).
    limits
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
    opts = options or CommunityOptions()
    lim = limits or DEFAULT_LIMITS
    _check_frames(schools, strength, opts)
    fixed = _validate_fixed(fixed_groups, set(schools["school_id"].astype(str)))
    plans: dict[str, _LevelPlan] = {}
    for lv, sub in level_runs(school_info(schools, strength), opts.levels):
        if sub.empty:
            continue
        fx = fixed if lv == "all" else fixed[fixed["level"].isin(["", "nan", "None", lv])]
        fx = fx[fx["school_id"].isin(sub.index)]
        t = travel_among(travel, sub.index.to_numpy())
        if opts.central_schools:
            fx = concat([fx, central_groups(lv, sub, t, fx, options=opts)], ["school_id", "group_id", "role", "level"])
        plans[lv] = _form_level(lv, sub, t, fx, options=opts, limits=lim)
    return CommunityPlan(
        groups=concat([p.groups for p in plans.values()], _GROUP_COLUMNS),
        group_metrics=concat([p.group_metrics for p in plans.values()], _METRIC_COLUMNS),
        pairs=concat([p.pairs for p in plans.values()], PAIR_COLUMNS),
        unassigned=concat([p.unassigned for p in plans.values()], UNASSIGNED_COLUMNS),
        metrics={lv: p.metrics for lv, p in plans.items()},
        shortfalls=tuple(sf for p in plans.values() for sf in p.shortfalls),
    )


def _check_frames(schools: pd.DataFrame, strength: pd.DataFrame, opts: CommunityOptions) -> None:
    """Every school in the strength frame, leads known, modes valid (options built without validation included)."""
    problems = strength_problems(schools, strength)
    known = set(schools["school_id"].astype(str))
    problems += [
        Problem("communities", "lead is not in the schools layer", row=str(sid), column="lead_ids")
        for sid in opts.lead_ids
        if str(sid) not in known
    ]
    if opts.lead_mode == "given" and not opts.lead_ids:
        problems.append(Problem("communities", "lead_mode 'given' needs lead_ids", column="lead_ids"))
    if opts.lead_mode not in ("strongest", "optimize", "given"):
        problems.append(Problem("communities", f"lead_mode {opts.lead_mode!r}; expected strongest, optimize or given"))
    if opts.levels not in ("by_level", "mixed"):
        problems.append(Problem("communities", f"levels {opts.levels!r}; expected by_level or mixed"))
    if problems:
        raise InputError(problems)


def _choose_leads(
    sub: pd.DataFrame,
    must_base: NDArray[np.bool_],
    fixed_leads: list[str],
    n_groups: int | None,
    *,
    options: CommunityOptions,
    fixed_room: int = 0,
) -> tuple[list[str], list[str], int | None]:
    """(candidate leads, fixed leads, number of groups) for one level, ``n_groups`` of them when given.

    ``fixed_room``: places the fixed groups have left (``max_members`` less their members, at least 0 each).
    """
    ids = sub.index.to_numpy()
    lead_mode, max_members = options.lead_mode, options.max_members
    if lead_mode == "given":
        leads = sorted({str(i) for i in options.lead_ids} & set(ids) | set(fixed_leads))
        return leads, leads, None
    eligible = sub["strength_class"].to_numpy() != "weak"
    eligible &= may_lead(sub, min_pupils=options.lead_min_pupils, area_types=options.lead_area_types)
    strength = sub["strength"].to_numpy(np.float64)
    eligible &= np.isfinite(strength)
    order = sorted((i for i in np.nonzero(eligible)[0] if ids[i] not in fixed_leads), key=lambda i: (-strength[i], ids[i]))
    ranked = [str(ids[i]) for i in order]
    g = n_groups
    if g is None:  # enough groups for the schools that must join (leads do not join)
        g = max(1, len(fixed_leads))
        for _ in range(10):
            chosen = set(fixed_leads) | set(ranked[: max(0, g - len(fixed_leads))])
            n_must = int(sum(1 for i, m in zip(ids, must_base) if m and i not in chosen))
            g_new = max(1, len(fixed_leads) + math.ceil(max(0, n_must - fixed_room) / max_members))
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


@dataclass(frozen=True)
class _LevelPlan:
    """Groups, group metrics, pairs, schools left out and metrics of one level."""

    groups: pd.DataFrame
    group_metrics: pd.DataFrame
    pairs: pd.DataFrame
    unassigned: pd.DataFrame
    metrics: dict[str, Any]
    shortfalls: tuple[Shortfall, ...] = ()


@dataclass(frozen=True)
class _Roles:
    """The roles and marks :func:`solve_groups` gets for one level."""

    role: NDArray[np.object_]
    marks: GroupMarks
    n_groups: int | None
    lead_of_group: dict[str, str]  # existing group id → its lead


def _form_level(
    lv: str, sub: pd.DataFrame, t: NDArray[np.float64], fx: pd.DataFrame, *, options: CommunityOptions, limits: SolveLimits
) -> _LevelPlan:
    """Groups and pairs of one level (``sub``: its schools; ``t``: travel among them; ``fx``: its fixed groups)."""
    ids = sub.index.to_numpy().astype(str)
    roles = _level_roles(sub, t, fx, options)
    far = _fixed_beyond_cap(lv, sub, t, roles, options)
    if far and not options.allow_unassigned:
        raise InfeasibleError(
            f"{len(far)} member(s) of fixed groups are beyond the travel cap from their lead",
            list(far),
            hint="give the roads layer the groups were made with, raise max_travel_min, or plan without strict "
            "to keep the fixed groups as they are and list these",
        )
    sol = solve_groups(
        ids, sub["strength"].to_numpy(np.float64), t, roles.role, marks=roles.marks, n_groups=roles.n_groups,
        options=options, limits=limits,
    )
    groups = _groups_frame(lv, sub, t, sol, fx, roles.lead_of_group)
    gm_df = _group_metrics(lv, groups, sub, roles.role)
    unassigned = [{"level": lv, "school_id": ids[i], "plan": "group", "reason": why} for i, why in sol.unassigned.items()]
    paired = pair_level(lv, sub, t, options=options)
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
        **paired.metrics,
    }
    un = pd.DataFrame(unassigned + paired.unpaired, columns=UNASSIGNED_COLUMNS)
    metrics["short_groups"] = len(sol.short)
    metrics["central_groups"] = int(gm_df["group_id"].astype(str).str.startswith(CENTRAL_PREFIX).sum())
    shortfalls = far + _level_shortfalls(lv, sub, un, sol, options)
    return _LevelPlan(
        groups=groups, group_metrics=gm_df, pairs=paired.pairs, unassigned=un, metrics=metrics, shortfalls=shortfalls
    )


def _school_label(sub: pd.DataFrame, sid: str) -> str:
    """``name (id)`` of a school, or its id alone when it has no other name."""
    name = str(sub["name"].get(sid, "")) if "name" in sub.columns else ""
    return f"{name} ({sid})" if name and name != sid else sid


def _fixed_beyond_cap(
    lv: str, sub: pd.DataFrame, t: NDArray[np.float64], roles: _Roles, options: CommunityOptions
) -> tuple[Shortfall, ...]:
    """A shortfall per member an existing group ties to a lead beyond the travel cap (or with no known travel).

    The membership is kept, as the fixed groups say (feeding last year's groups back without the
    roads they were made with puts some pairs beyond a straight-line cap); the plan says so. Without
    ``allow_unassigned`` (a strict stage) the caller stops with these instead.
    """
    ids = sub.index.to_numpy().astype(str)
    group_of_lead = {v: k for k, v in roles.lead_of_group.items()}
    fixed_of = np.asarray(roles.marks.fixed_lead_of if roles.marks.fixed_lead_of is not None else [], dtype=np.int64)
    cap_s = options.max_travel_s
    out = []
    for i in np.nonzero(fixed_of >= 0)[0]:
        j = int(fixed_of[i])
        time_s = float(t[j, i])
        if time_s <= cap_s:
            continue
        lead = _school_label(sub, ids[j])
        away = f"{time_s / 60:.0f} min away" if math.isfinite(time_s) else "too far for the travel times searched, or not connected by road"
        out.append(
            Shortfall(
                where=f"{lv}: {_school_label(sub, ids[i])}",
                short_by=1,
                unit="lead within the travel cap",
                detail=f"fixed group {group_of_lead.get(ids[j], ids[j])}: its lead {lead} is {away} "
                f"(cap {cap_s / 60:.0f} min)" + ("; kept as the fixed groups have it" if options.allow_unassigned else ""),
                kind="communities.fixed_lead_far",
                figures=figures(level=lv, school=_school_label(sub, ids[i]), group=str(group_of_lead.get(ids[j], ids[j])), lead=lead,
                                cap=cap_s / 60, kept="kept" if options.allow_unassigned else "",
                                **({"minutes": time_s / 60} if math.isfinite(time_s) else {"away": "far"})),
            )
        )
    return tuple(out)


def _middle_leads(lv: str, sub: pd.DataFrame, sol: GroupSolution, label: Callable[[str], str]) -> list[Shortfall]:
    """A shortfall per group whose lead is not a strong school: the strong schools within reach were full, so the
    next strongest eligible school (urban or town, complete, of 100 pupils or more) leads it — said, not hidden."""
    if "strength_class" not in sub.columns:
        return []
    ids = sub.index.to_numpy().astype(str)
    cls = sub["strength_class"].astype(str).to_numpy()
    strength = pd.to_numeric(sub.get("strength"), errors="coerce").to_numpy() if "strength" in sub.columns else None
    out = []
    for j in np.unique(sol.lead_of[sol.lead_of >= 0]):
        if cls[j] == "strong":
            continue
        members = int((sol.lead_of == j).sum()) - 1
        if members == 0:
            continue  # a lead without members is no group
        score = f" (strength {strength[j]:.2f})" if strength is not None and np.isfinite(strength[j]) else ""
        out.append(Shortfall(
            where=f"{lv}: group of {label(ids[j])}", short_by=1, unit="strong lead",
            detail=f"led by a {cls[j]}-strength school{score}: the strong schools within reach lead full groups, so the "
            f"next strongest school that may lead takes these {members} member(s); choose a strong lead (fixed groups) if one can",
            kind="communities.middle_lead",
            figures=figures(level=lv, lead=label(ids[j]), strength_class=str(cls[j]), members=members,
                            strength=float(strength[j]) if strength is not None and np.isfinite(strength[j]) else ""),
        ))
    return out


#: The reasons a school is left out of the groups or unpaired, as (kind, pattern reading its figures back).
_LEFT_OUT: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("communities.no_lead_near", re.compile(
        r"no lead within (?P<within>\d+) min; nearest lead beyond the cap: (?P<lead>[^,]+), (?P<minutes>\d+) min away \(cap (?P<cap>\d+) min\)")),
    ("communities.no_lead", re.compile(r"no lead within (?P<within>\d+) min; no lead reachable at all")),
    ("communities.left_full", re.compile(
        r"the (?P<n>\d+) group\(s\) within (?P<cap>\d+) min are full \((?P<max_members>\d+) members each\); .*")),
    *((kind, re.compile(re.escape(why) + r"(?:; nearest beyond the cap: (?P<lead>[^,]+), (?P<minutes>\d+) min away \(cap (?P<cap>\d+) min\))?"))
      for kind, why in (("communities.pair_unreachable", PAIR_UNREACHABLE), ("communities.pair_full", PAIR_FULL))),
)


def _left_out_kind(reason: str, lv: str, school: str, label: Callable[[str], str]) -> dict[str, Any]:
    """``kind`` and ``figures`` of a school left out, read from its reason (none for a reason of another form)."""
    for kind, pattern in _LEFT_OUT:
        m = pattern.fullmatch(reason)
        if m:
            found: dict[str, Figure] = {k: (label(v) if k == "lead" else int(v)) for k, v in m.groupdict().items() if v is not None}
            return {"kind": kind, "figures": figures(level=lv, school=school, **found)}
    return {}


def _level_shortfalls(
    lv: str, sub: pd.DataFrame, un: pd.DataFrame, sol: GroupSolution, options: CommunityOptions
) -> tuple[Shortfall, ...]:
    """One shortfall per school left out of the groups or unpaired and per group short of members."""
    ids = sub.index.to_numpy().astype(str)
    names = sub["name"].astype(str).to_dict() if "name" in sub.columns else {}

    def label(sid: str) -> str:
        name = names.get(sid, "")
        return f"{name} ({sid})" if name and name != sid else sid

    units = {"group": "place in a group", "pair": "strong partner"}
    out = [
        Shortfall(
            where=f"{lv}: {label(r.school_id)}",
            short_by=1,
            unit=units.get(r.plan, r.plan),
            detail=re.sub(r"beyond the cap: ([^,]+),", lambda m: f"beyond the cap: {label(m.group(1))},", str(r.reason)),
            **_left_out_kind(str(r.reason), lv, label(r.school_id), label),
        )
        for r in un.itertuples()
    ]
    if options.lead_mode != "given" and not options.central_schools:  # leads the user chose or configured are theirs
        out += _middle_leads(lv, sub, sol, label)
    cap = options.max_travel_min
    for j, k in sorted(sol.short.items()):
        n = options.min_members - k
        detail = f"{n} member(s), at least {options.min_members} wanted: no more school that must or may join is within {cap:.0f} min"
        out.append(Shortfall(where=f"{lv}: group of {label(ids[j])}", short_by=int(k), unit="members", detail=detail,
                             kind="communities.group_short",
                             figures=figures(level=lv, lead=label(ids[j]), members=int(n), min_members=int(options.min_members), cap=float(cap))))
    return tuple(out)


def _level_roles(sub: pd.DataFrame, t: NDArray[np.float64], fx: pd.DataFrame, options: CommunityOptions) -> _Roles:
    """Who must join, who leads (growing the strongest leads until everyone has room) and existing memberships."""
    ids = sub.index.to_numpy().astype(str)
    pos = {sid: k for k, sid in enumerate(ids)}
    cls = sub["strength_class"].to_numpy()
    is_rural = sub["area_type"].to_numpy() == "rural"
    must_base = (cls == "weak") | (is_rural if options.assign_rural else False)
    if options.middle == "include":
        must_base |= cls == "middle"
    must_base &= ~np.isin(ids, fx.loc[fx["role"] == "member", "school_id"].to_numpy())  # placed by their group
    fixed_leads = sorted(fx.loc[fx["role"] == "lead", "school_id"])
    fixed_size = fx[fx["role"] == "member"].groupby("group_id").size()
    room = int(sum(max(0, options.max_members - int(fixed_size.get(g, 0))) for g in fx.loc[fx["role"] == "lead", "group_id"]))
    cands, fixed_l, g = _choose_leads(sub, must_base, fixed_leads, options.n_groups, options=options, fixed_room=room)
    if options.lead_mode == "strongest" and options.n_groups is None:
        cands = fixed_l = _grow_leads(sub, t, must_base, fixed_leads, cands, options=options)
    role = np.full(len(ids), "out", dtype=object)
    if options.middle == "optional":
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
    marks = GroupMarks(
        lead_fixed=np.isin(ids, fixed_l), rural=is_rural, fixed_lead_of=fixed_lead_of, lead_or_join=must_base & (role == "lead")
    )
    return _Roles(role=role, marks=marks, n_groups=g if options.lead_mode == "optimize" else None, lead_of_group=lead_of_group)


def _grow_leads(
    sub: pd.DataFrame,
    t: NDArray[np.float64],
    must_base: NDArray[np.bool_],
    fixed_leads: list[str],
    cands: list[str],
    *,
    options: CommunityOptions,
) -> list[str]:
    """Add groups (next strongest first) until every school that must join has room in reach.

    Schools that no eligible lead could place (none within the cap even if every one led) are not waited
    for: they are the plan's shortfalls, and adding leads for them would only add empty groups.
    """
    ids = sub.index.to_numpy().astype(str)
    pos = {sid: k for k, sid in enumerate(ids)}
    reach = (t <= options.max_travel_s) & ~np.eye(len(ids), dtype=bool)
    base = np.nonzero(must_base)[0]
    every, _, _ = _choose_leads(sub, must_base, fixed_leads, len(ids), options=options)
    every_pos = np.array([pos[c] for c in every], dtype=np.int64)
    hopeless = set(_unplaced(reach.T, t, base[~np.isin(base, every_pos)], every_pos, options.max_members).tolist())
    while True:
        lead_pos = np.array([pos[c] for c in cands], dtype=np.int64)
        rows = base[~np.isin(base, lead_pos)]
        if set(_unplaced(reach.T, t, rows, lead_pos, options.max_members).tolist()) <= hopeless:
            return cands
        more, _, _ = _choose_leads(sub, must_base, fixed_leads, len(cands) + 1, options=options)
        if len(more) == len(cands):
            return cands
        cands = more


def _groups_frame(
    lv: str, sub: pd.DataFrame, t: NDArray[np.float64], sol: GroupSolution, fx: pd.DataFrame, lead_of_group: dict[str, str]
) -> pd.DataFrame:
    """One row per school in a group (see :class:`CommunityPlan`), sorted by group, role and school."""
    ids = sub.index.to_numpy().astype(str)
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
            "travel_s": _travel_column(np.where(lead_idx == in_group, 0.0, t[lead_idx, in_group])),
            "strength": sub["strength"].to_numpy()[in_group],
            "strength_class": sub["strength_class"].to_numpy()[in_group],
            "area_type": sub["area_type"].to_numpy()[in_group],
            "fixed": np.isin(ids[in_group], list(fixed_members)),
        }
    )
    # a lead no school joined forms no group (unless it is an existing group)
    has_members = groups["lead_id"].isin(groups.loc[groups["role"] == "member", "lead_id"])
    groups = groups[has_members | groups["fixed"]].copy()
    groups["_r"] = (groups["role"] != "lead").astype(int)
    return groups.sort_values(["group_id", "_r", "school_id"]).drop(columns="_r").reset_index(drop=True)


def _travel_column(time_s: NDArray[np.float64]) -> pd.arrays.IntegerArray:
    """Whole seconds lead → member, empty (``<NA>``) where unknown: a fixed member beyond the travel search."""
    known = np.isfinite(time_s)
    out = pd.array(np.rint(np.where(known, time_s, 0.0)).astype(np.int64), dtype="Int64")
    out[~known] = pd.NA
    return out


def _group_metrics(lv: str, groups: pd.DataFrame, sub: pd.DataFrame, role: NDArray[np.object_]) -> pd.DataFrame:
    """One row per group (see :class:`CommunityPlan`); deviation from the mean strength of the schools taking part."""
    part_mean = float(np.nanmean(sub["strength"].to_numpy()[role != "out"])) if (role != "out").any() else float("nan")
    gm = []
    for gid, g_rows in groups.groupby("group_id", sort=True):
        mem = g_rows[g_rows["role"] == "member"]
        mean_s = float(g_rows["strength"].mean())
        gm.append(
            {
                "level": lv,
                "group_id": gid,
                "lead_id": g_rows["lead_id"].iloc[0],
                "members": len(mem),
                "rural_members": int((mem["area_type"] == "rural").sum()),
                "weak_members": int((mem["strength_class"] == "weak").sum()),
                # over the members whose travel is known (a fixed member beyond the travel search has none)
                "total_travel_s": int(mem["travel_s"].sum()),
                "max_travel_s": int(mem["travel_s"].max()) if mem["travel_s"].notna().any() else 0,
                "mean_strength": mean_s,
                "strength_deviation": mean_s - part_mean,
                "min_strength": float(g_rows["strength"].min()),
                "max_strength": float(g_rows["strength"].max()),
            }
        )
    return pd.DataFrame(gm, columns=_METRIC_COLUMNS)
