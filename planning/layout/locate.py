"""Single-source capacitated facility location: the array-level core :func:`locate`.

Formulation (``n`` units, ``m`` sites)::

    min  Σ_ij c_ij x_ij + Σ_{j new} f_j y_j − Σ_{j existing} f_j (1 − y_j)
    s.t. Σ_j x_ij = 1                 every unit to exactly one site (single source)
         Σ_i d_i x_ij ≤ s_j y_j       capacity of an open site
         x_ij ≤ y_j,  Σ_j y_j ≤ p     (p = ``max_open`` when given)
         x, y ∈ {0, 1};  x_ij = 0 where c_ij is infinite (a pair not allowed)

An existing site costs nothing to keep and saves ``f_j`` when closed, which is the plain problem
(every open site pays ``f_j``) less the constant ``Σ_{existing} f_j``: the same solver serves both.

Method, in phases: ``_check`` (shapes, values, and feasibility before solving: total capacity,
each unit's largest allowed site, the ``p`` largest sites); a Lagrangian bound (assignment rows
relaxed: a knapsack per site, whole sites under the cover row) whose iterations' site sets are
assigned greedily, the best :data:`REFINE_SETS` of them again from the transportation LP
(:mod:`~planning.layout.lagrange`, :mod:`~planning.layout.heuristic`); site moves on the best
plan; close / open / swap (then close-two-open-one) moves on its open set ranked by the sites'
Lagrangian values at the best multipliers, pruned by each new set's transportation-LP bound and
assigned by a generalised-assignment heuristic (:mod:`~planning.layout.gap`), the promising sets it
does not improve getting CP-SAT on their assignment (:mod:`~planning.layout.sites`, up to
:data:`FULL_PAIRS_MAX` pairs); a neighbourhood search
re-solving a few neighbouring sites and their units with CP-SAT
(:mod:`~planning.layout.lns`); CP-SAT on the model warm-started from the result
(:mod:`~planning.layout.cpsat`; every allowed pair up to :data:`FULL_PAIRS_MAX` pairs, else each
unit's :data:`NEAREST_SITES` cheapest sites and its current one). The bound is the larger of the
Lagrangian one and CP-SAT's (the latter only on the full model). Every phase is deterministic:
fixed iteration counts, one CP-SAT worker, a fixed seed and deterministic work limits
(:data:`WORK_PER_SECOND` × ``time_limit_s``); the wall clock only stops a search on a machine
far slower than planned (:data:`WALL_SLACK`), and the result says so.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from geo.errors import InfeasibleError, InputError, Problem, Shortfall, SolverError, figures
from planning.layout.cpsat import solve_cpsat
from planning.layout.heuristic import from_sites, improve_sites, total_cost
from planning.layout.lagrange import Instance, Relaxation, evaluate, subgradient
from planning.layout.lns import large_neighbourhood
from planning.layout.sites import search_sites

log = logging.getLogger(__name__)

#: Largest number of allowed unit-site pairs given to CP-SAT whole (then its bound is global).
FULL_PAIRS_MAX = 30_000
#: Up to this many allowed pairs CP-SAT gets the whole model at once (no neighbourhood search).
SMALL_PAIRS = 600
#: On larger instances, the cheapest sites per unit that CP-SAT may choose from.
NEAREST_SITES = 8
#: Subgradient iterations: the Lagrangian bound's fixed work (and the heuristic runs every 5th);
#: twice as many above :data:`FULL_PAIRS_MAX` pairs, where CP-SAT sees a part of the model and the
#: bound rests on the Lagrangian alone (100 × 1,000: 0.1 % higher for ~4 s more).
LAGRANGE_ITERS = 200
#: Best site sets of the Lagrangian iterations assigned again from the transportation LP.
REFINE_SETS = 3
#: Deterministic seconds of search per second of ``time_limit_s``: measured so that the whole call
#: (the bound's fixed work, the neighbourhood search, CP-SAT) takes about ``time_limit_s`` on a quiet
#: 2-core machine (CP-SAT's deterministic second costs ~2 CPU s here, models built in Python included).
WORK_PER_SECOND = 0.3
#: Shares of the work: the search on the open set (:mod:`~planning.layout.sites`) at most, then
#: the neighbourhood search; the rest (at least 0.2) for the final CP-SAT solve.
#: Above :data:`FULL_PAIRS_MAX` pairs the open-set search is left out (on 100 × 1,000 it found
#: nothing in 13 s of CPU): the neighbourhood search gets :data:`LARGE_LNS_SHARE`, CP-SAT the rest.
LNS_SHARE = 0.4
SITES_SHARE = 0.4
LARGE_LNS_SHARE = 0.6
#: The wall-clock safety net: the search stops after this many times ``time_limit_s`` whatever the
#: work done (a loaded machine), and the result says so (``wall_stopped``).
WALL_SLACK = 10.0

Status = Literal["OPTIMAL", "FEASIBLE"]


@dataclass(frozen=True)
class LocateResult:
    """A facility-location plan.

    Attributes
    ----------
    open
        ``(m,)`` bool: site open in the plan (a site is open exactly when it serves a unit).
    assign
        ``(n,)`` int: the site serving each unit.
    objective
        The plan's cost: assignment costs, plus opening costs of new sites, less the open costs
        of existing sites it closes.
    bound
        A proven lower bound on the optimal objective.
    gap
        ``(objective − bound) / max(|objective|, 1)``; 0 when proven optimal.
    status
        ``OPTIMAL`` (gap closed) or ``FEASIBLE``.
    wall_stopped
        The wall-clock safety net (:data:`WALL_SLACK` × ``time_limit_s``), not the deterministic
        work limit, ended the search: the plan may differ on a faster or quieter machine.
    """

    open: NDArray[np.bool_]
    assign: NDArray[np.int64]
    objective: float
    bound: float
    gap: float
    status: Status
    wall_stopped: bool = False


def _as_float(name: str, value: ArrayLike, ndim: int, problems: list[Problem]) -> NDArray[np.float64]:
    arr = np.asarray(value, dtype=float)
    if arr.ndim != ndim:
        problems.append(Problem("locate", f"must be a {ndim}-dimensional array, got shape {arr.shape}", column=name))
        return np.zeros((0,) * ndim)
    if name == "cost":
        bad, what = np.isnan(arr), "NaN (use +inf for a pair that is not allowed)"
    else:
        bad, what = ~np.isfinite(arr) | (arr < 0), "not finite and ≥ 0"
    if bad.any():
        first = tuple(int(k) for k in np.argwhere(bad)[0])
        problems.append(Problem("locate", f"{int(bad.sum())} value(s) are {what} (first at index {first})", column=name))
    return arr


def _check_arrays(
    cost: ArrayLike, demand: ArrayLike, capacity: ArrayLike, open_cost: ArrayLike, existing: ArrayLike | None, max_open: int | None
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64], NDArray[np.float64], NDArray[np.bool_]]:
    """The arrays as floats, or :class:`InputError` listing every problem."""
    problems: list[Problem] = []
    c = _as_float("cost", cost, 2, problems)
    d = _as_float("demand", demand, 1, problems)
    s = _as_float("capacity", capacity, 1, problems)
    f = _as_float("open_cost", open_cost, 1, problems)
    ex = np.zeros(c.shape[-1] if c.ndim == 2 else 0, dtype=bool) if existing is None else np.asarray(existing, dtype=bool)
    if c.ndim == 2:
        n, m = c.shape
        for name, arr, size in (("demand", d, n), ("capacity", s, m), ("open_cost", f, m), ("existing", ex, m)):
            if arr.shape != (size,):
                problems.append(Problem("locate", f"has shape {arr.shape}; cost is {n} × {m}, so ({size},) is expected", column=name))
        if np.isneginf(c).any():
            problems.append(Problem("locate", "-inf is not a cost (use +inf for a pair that is not allowed)", column="cost"))
    if max_open is not None and max_open < 1:
        problems.append(Problem("locate", f"must be at least 1, got {max_open}", column="max_open"))
    if problems:
        raise InputError(problems)
    return c, d, s, f, ex


def _check_feasible(inst: Instance) -> None:
    """Raise :class:`InfeasibleError` when no plan can exist (before any solving)."""
    d, s, total = inst.demand, inst.capacity, float(inst.demand.sum())
    short: list[Shortfall] = []
    fits = inst.allowed & (d[:, None] <= s[None, :])
    for i in np.flatnonzero(~fits.any(axis=1))[:20]:
        allowed = np.flatnonzero(inst.allowed[i])
        biggest = float(s[allowed].max()) if len(allowed) else 0.0
        short.append(Shortfall(f"unit {i}", math.ceil(d[i] - biggest), "places", "no allowed site can take its whole demand",
                               "layout.site_too_small", figures(unit=int(i))))
    if short:
        raise InfeasibleError("some units have no site that can serve them", short, "allow more sites for these units or raise capacities")
    cap = float(np.sort(s)[::-1][: inst.max_open].sum()) if inst.max_open is not None else float(s.sum())
    if cap < total:
        where = f"the {inst.max_open} largest sites" if inst.max_open is not None else "all sites"
        raise InfeasibleError(
            f"total demand {total:,.0f} exceeds the capacity of {where} ({cap:,.0f})",
            [Shortfall("county", math.ceil(total - cap), "places", where,
                       "layout.capacity_all" if inst.max_open is None else "layout.capacity_largest",
                       figures(total=total, cap=cap, max_open=inst.max_open or 0))],
            "add capacity or candidate sites" + (", or raise max_open" if inst.max_open is not None else ""),
        )


def _instance(c: NDArray[np.float64], d: NDArray[np.float64], s: NDArray[np.float64], f: NDArray[np.float64], max_open: int | None) -> Instance:
    allowed = np.isfinite(c)
    finite = c[allowed]
    big = (float(np.abs(finite).max(initial=0.0)) + 1.0) * (len(d) + 1)
    integral = bool(np.all(d == np.round(d)) and np.all(s == np.round(s)))
    return Instance(np.where(allowed, c, big), allowed, d, np.floor(s + 1e-9) if integral else s, f, max_open, integral)


def _heuristic_plan(inst: Instance) -> tuple[NDArray[np.int64] | None, float, Relaxation]:
    """The Lagrangian bound and the best plan its iterations lead to: (assign, objective, relaxation).

    During the iterations each new site set is assigned greedily (fast); the :data:`REFINE_SETS`
    best sets are then assigned again from the transportation LP (slower, better), and the best
    plan gets the site moves.
    """
    found: list[tuple[float, bytes, NDArray[np.int64]]] = []
    seen: set[bytes] = set()

    def upper(y: NDArray[np.float64], value: NDArray[np.float64]) -> float:
        mask = y > 0
        key = np.packbits(mask).tobytes()
        if key not in seen and mask.any():
            seen.add(key)
            got = from_sites(inst, mask, np.argsort(value, kind="stable"))
            if got is not None:
                found.append((got[1], key, got[0]))
        return min((v for v, _, _ in found), default=math.inf)

    large = int(inst.allowed.sum()) > FULL_PAIRS_MAX
    relax = subgradient(inst, upper, 2 * LAGRANGE_ITERS if large else LAGRANGE_ITERS)
    if not found:
        upper(np.ones(len(inst.capacity)), np.zeros(len(inst.capacity)))
    if not found:
        return None, math.inf, relax
    found.sort(key=lambda t: (t[0], t[1]))
    best_value, _, best = found[0]
    for _, _, assign in found[:REFINE_SETS]:
        mask = np.zeros(len(inst.capacity), dtype=bool)
        mask[np.unique(assign)] = True
        got = from_sites(inst, mask, exact=True)
        if got is not None and got[1] < best_value:
            best, best_value = got
    best, best_value = improve_sites(inst, best)
    return best, best_value, relax


def _pairs(inst: Instance, assign: NDArray[np.int64] | None) -> tuple[NDArray[np.bool_], bool]:
    """Candidate pairs for CP-SAT and whether they are all the allowed ones."""
    ok = inst.allowed & (inst.demand[:, None] <= inst.capacity[None, :])
    if int(ok.sum()) <= FULL_PAIRS_MAX:
        return ok, True
    n, m = ok.shape
    k = min(NEAREST_SITES, m)
    near = np.argsort(np.where(ok, inst.cost, np.inf), axis=1, kind="stable")[:, :k]
    pairs = np.zeros_like(ok)
    np.put_along_axis(pairs, near, True, 1)
    pairs &= ok
    if assign is not None:
        pairs[np.arange(n), assign] = True
    return pairs, False


def locate(
    cost: ArrayLike,
    demand: ArrayLike,
    capacity: ArrayLike,
    open_cost: ArrayLike,
    *,
    existing: ArrayLike | None = None,
    max_open: int | None = None,
    time_limit_s: float = 60.0,
    seed: int = 0,
) -> LocateResult:
    """Open sites and assign every unit to one of them at least cost (single-source CFLP).

    Parameters
    ----------
    cost
        ``(n_units, n_sites)`` cost of serving a unit from a site; ``+inf`` where not allowed.
    demand
        ``(n_units,)`` demand of each unit (e.g. children), ≥ 0.
    capacity
        ``(n_sites,)`` capacity of each site, ≥ 0.
    open_cost
        ``(n_sites,)`` cost of opening a site, ≥ 0; for an existing site the saving of closing it.
    existing
        ``(n_sites,)`` bool mask of sites open today (kept at no cost); ``None``: none.
    max_open
        At most this many sites open in the plan (existing ones included); ``None``: no limit.
    time_limit_s
        About the wall time of the call on a quiet 2-core machine: the search's work limit is
        :data:`WORK_PER_SECOND` deterministic seconds per second of it (the bound's work is fixed),
        so the plan does not depend on the machine; after :data:`WALL_SLACK` times it on the wall
        clock the search stops anyway (``wall_stopped`` on the result).
    seed
        CP-SAT's random seed.

    Returns
    -------
    LocateResult
        The plan, its objective, a lower bound and the gap between them.

    Raises
    ------
    InputError
        Arrays of wrong shape, negative or NaN values, ``max_open`` < 1.
    InfeasibleError
        Total demand above the capacity that may open, or a unit no allowed site can take.
    SolverError
        No plan found within the time limit.

    Example
    -------
    >>> r = locate([[1, 9], [9, 1]], [1, 1], [2, 2], [5, 5])
    >>> r.assign.tolist(), r.objective
    ([0, 1], 12.0)
    """
    c, d, s, f, ex = _check_arrays(cost, demand, capacity, open_cost, existing, max_open)
    inst = _instance(c, d, s, f, max_open)
    _check_feasible(inst)
    offset = -float(f[ex].sum())
    deadline = time.perf_counter() + WALL_SLACK * time_limit_s
    work = WORK_PER_SECOND * time_limit_s
    assign, value, relax = _heuristic_plan(inst)
    bound = relax.bound
    status, walled = "FEASIBLE", False
    if assign is None or value - bound > 1e-9 * max(1.0, abs(value)):
        left = work
        if assign is not None and inst.allowed.sum() > SMALL_PAIRS:
            whole = inst.allowed.sum() <= FULL_PAIRS_MAX
            lns = LNS_SHARE if whole else LARGE_LNS_SHARE
            used = 0.0
            if whole:
                assign, used = search_sites(inst, assign, evaluate(relax.u, inst)[3], SITES_SHARE * work, seed)
            assign, walled = large_neighbourhood(inst, assign, lns * work, seed, deadline)
            value = total_cost(inst, assign)
            left -= lns * work + used
        pairs, full = _pairs(inst, assign)
        cp = solve_cpsat(inst, pairs, assign, left, seed, safety_s=deadline - time.perf_counter())
        walled = walled or cp.wall_stopped
        log.debug("CP-SAT %s, bound %.6g, heuristic %.6g, Lagrangian bound %.6g", cp.status, cp.bound, value, bound)
        if cp.assign is not None and total_cost(inst, cp.assign) < value:
            assign, value = cp.assign, total_cost(inst, cp.assign)
        if full:
            if cp.status == "INFEASIBLE":
                raise InfeasibleError("no assignment fits the capacities (CP-SAT proved it)", hint="add capacity or allow more sites")
            bound = max(bound, cp.bound)
            status = "OPTIMAL" if cp.status == "OPTIMAL" else status
    if assign is None:
        raise SolverError("no plan found within the time limit; raise time_limit_s")
    bound = min(bound, value)
    if value - bound <= 1e-9 * max(1.0, abs(value)):
        status = "OPTIMAL"
    objective, lower = value + offset, bound + offset
    opened = np.zeros(len(s), dtype=bool)
    opened[np.unique(assign)] = True
    gap = 0.0 if status == "OPTIMAL" else (objective - lower) / max(abs(objective), 1.0)
    if walled:
        log.warning("locate: the wall-clock safety net (%.0f s) ended the search before its work limit", WALL_SLACK * time_limit_s)
    return LocateResult(opened, assign, objective, lower, gap, status, walled)  # type: ignore[arg-type]
