"""Single-school catchment zones (单校划片): the nearest baseline and the optimal plan.

Formulation (per level). Blocks ``i`` with ``d_i`` students, schools ``j`` with
``c_j`` seats, reachable pairs ``(i, j)`` with travel ``t_ij`` seconds (pairs
beyond the block's maximum travel time, or across townships when asked, are
dropped). Binary ``x_ij``: block ``i`` goes to school ``j``.

- every reachable block goes to exactly one school: ``Σ_j x_ij = 1``;
- no school above capacity: ``Σ_i d_i x_ij ≤ c_j`` (``+ o_j`` overflow seats,
  penalized, when overflow is allowed);
- optional stability: a penalty ``w`` per student whose school changes against
  ``current_*`` and/or a cap ``Σ_i d_i [x_i ≠ current_i] ≤ max_moved``;
- optional contiguity: the blocks of each zone form one piece of the block
  adjacency graph, attached to the school's own block (blocks no school can
  take join the zones they touch; see Contiguity below);
- minimize ``Σ d_i (t_ij + w·moved_ij) x_ij + P Σ o_j``.

Method. The transportation relaxation (blocks divisible) is a min-cost flow,
solved exactly with OR-Tools ``SimpleMinCostFlow`` in integer students; its
cost is a valid lower bound and a basic optimum splits at most ``#schools − 1``
blocks. A stability cap is dualized (Lagrangian): the smallest integer price per
moved student that meets the cap is found by bisection and the best Lagrangian
value is the bound. Whole-block rounding (:mod:`planning.zones.rounding`): round each
split block to the school taking most of it; pass each overfilled school's
excess along the cheapest chain of whole-block moves to a school with room,
priced with the relaxation's seat prices (its duals); then shifts, swaps and
chain moves while travel falls. Only if that cannot fit every block (or
breaks the stability cap) does CP-SAT re-pack the split blocks and the blocks
cheapest to move in reduced costs, growing the set until it fits.

Contiguity. A zone is whole when each of its blocks reaches the school's own
block through blocks of the zone and *connectors*: blocks no school can take
(beyond the travel cap, or outside every school's township when zones keep to
townships), with or without students. They belong to no zone, so a zone that
reaches its other part across them is one zone with a gap no school serves
(the map shows the gap; those blocks need boarding or a bus). Blocks with no
students but a school in reach are ordinary members and are drawn in a zone;
they cost nothing and take no seats, so they go to whichever bordering zone
keeps the zones whole. Method: the relaxation's zones are star-shaped about
their schools in the plane (travel plus seat price is an additively weighted
distance), but a thin one falls apart on blocks. So each school's own block is
pinned to it, and before the rounding every detached piece of the relaxation's
partition joins the bordering zone cheapest in seat-price terms (pieces without
students first, free). The rounding then moves a block only into a zone it
borders and never cuts its own zone (:func:`planning.zones.rounding.may_move`), so
whole zones stay whole while the chains make up the seats. Only if no such
chain can fit the excess (or making zones whole broke the stability cap) does
the rounding start again from the relaxation's partition and fit the seats
with any moves; the contiguity pass (:func:`_make_contiguous`, helpers in
:mod:`planning.zones.contiguity`) then mends the zones: root blocks sent home;
pieces without students handed over; each detached piece handed whole to a
bordering zone, making room there by a chain of at most two edge-block moves
that keep the zones whole; what is left is re-solved with CP-SAT in a small
window (the piece, its
neighbours and where the zones around it meet) under the cut "a piece may
belong to school ``j`` only if one of its bordering blocks does" and the rule
"a block may belong to ``j`` only if one of its neighbours does", adding lazy
cuts for any piece the window leaves behind, until every zone is one piece or
the work budget is spent (the plan then reports the pieces left).

Determinism: CP-SAT runs with one worker, a fixed ``random_seed`` and a
deterministic-time limit (``max_deterministic_time``), and the repair loops stop
on a budget of deterministic time, so the answer does not depend on machine
speed; wall-clock limits are a generous safety net only. Solve times (wall
clock) are kept on the plan, not in ``metrics.json``.
Every output is sorted by id.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import scipy.sparse as sp
from numpy.typing import NDArray
from ortools.graph.python import min_cost_flow
from ortools.sat.python import cp_model

from geo.errors import InfeasibleError, InputError, Problem, Shortfall, SolverError
from geo.policy import (
    RURAL_MAX_ONE_WAY_S,
    URBAN_JUNIOR_RADIUS_M,
    URBAN_PRIMARY_RADIUS_M,
)
from geo.travel import TravelMatrix
from planning.zones.contiguity import band, detached_pieces, frontier, neighbour_rule, piece_border, swap_in
from planning.zones.contiguity import neighbours as _neighbours_of
from planning.zones.rounding import PairTable, chain_improve, ejection_repair, loads, local_pairs, local_search, seat_prices

logger = logging.getLogger(__name__)

Method = Literal["nearest", "optimal"]

#: Default overflow penalty, seconds per overflow student: an overfilled seat
#: costs as much as two hours of extra travel, so overflow is a last resort.
DEFAULT_OVERFLOW_PENALTY_S = 7_200
#: Candidate schools per block in the CP-SAT repair (its cheapest reachable ones
#: plus every school its relaxation flow uses).
REPAIR_CANDIDATES = 8
#: Above this many detached pieces, hand pieces to bordering zones (greedily, then by chains of moves) before the windows.
GREEDY_ATTACH_ABOVE = 20
#: Passes handing detached pieces to bordering zones (making room by one move) before the windows.
CONTIGUITY_SWAP_PASSES = 4
#: Contiguity windows: blocks around a detached piece re-solved at once (to start with;
#: four times more when the window cannot take the change), how often it grows,
#: how many hops deep it reaches, and CP-SAT deterministic time per window.
CONTIGUITY_WINDOW_BLOCKS = 20
CONTIGUITY_WINDOW_GROWTHS = 2
#: Hops from the piece within which zones trade blocks, per growth of the window.
CONTIGUITY_WINDOW_HOPS = 5
CONTIGUITY_WINDOW_TIME = 0.05
CONTIGUITY_WINDOW_MAX_TIME = 0.3
#: Solves of one window with the lazy cuts of the pieces it left detached.
CONTIGUITY_WINDOW_RESOLVES = 5
#: Growth a window of a piece that stayed detached may start from.
CONTIGUITY_WINDOW_MAX_LEVEL = 3
#: Rounds without fewer detached pieces before the contiguity loop gives up.
CONTIGUITY_STALL_ROUNDS = 4
#: Contiguity cut rounds before giving up and reporting the remaining enclaves.
MAX_CONTIGUITY_ROUNDS = 30
#: Blocks freed in the integer repair per split block of the relaxation, and at least.
REPAIR_FREE_PER_SPLIT = 12
#: Blocks freed in the CP-SAT repair at least.
REPAIR_MIN_FREE = 200
#: Cheapest schools per block the whole-block rounding may move it to (plus the
#: schools the relaxation uses): moving a block farther is never worth it in practice.
LOCAL_CANDIDATES = 8
#: Passes of chain improvement (each rebuilds the school graph); when zones were made
#: whole before the rounding, it starts further from the relaxation, so more.
CHAIN_PASSES = 2
CONTIGUOUS_CHAIN_PASSES = 8
#: Penalty per student above capacity inside the repair model when overflow is not
#: allowed: dominates any travel saving, so capacity holds whenever it can.
HARD_OVERFLOW_PENALTY = 10**7
#: CP-SAT deterministic time per repair solve (about seconds on one core).
REPAIR_DETERMINISTIC_TIME = 2.0

REASON_NO_SCHOOL = "no school within {limit} min: needs boarding or a school bus"
REASON_TOWNSHIP = "no school of its township within {limit} min: needs boarding or a school bus"


@dataclass(frozen=True)
class ZonePlan:
    """A catchment plan of one level.

    Attributes
    ----------
    level
        ``primary`` or ``junior``.
    method
        ``nearest`` or ``optimal``.
    assignment
        One row per block with students at the level, sorted by ``block_id``:
        ``block_id, school_id, travel_s, travel_m, students, reason``; unserved
        blocks have an empty ``school_id`` and a ``reason``. Blocks with no
        students are in :attr:`block_school` only.
    school_load
        One row per school, sorted by ``school_id``: ``school_id, students,
        capacity_seats, utilization, overflow``.
    objective_s
        Optimized objective: student-seconds of travel plus stability and
        overflow penalties.
    travel_total_s
        Student-seconds of travel alone.
    bound_s
        Lower bound on :attr:`objective_s` (transportation relaxation, or its
        Lagrangian under a stability cap); ``nan`` for ``nearest``.
    gap
        ``(objective − bound) / objective`` (0 when proven optimal).
    status
        ``OPTIMAL``, ``FEASIBLE`` or ``BASELINE`` (nearest).
    solve_time_s
        Wall time of the solve.
    unserved
        ``block_id, students, reason`` of blocks no school can take.
    overflow
        ``school_id, capacity_seats, students, over_by`` of overfilled schools.
    moved_students
        Students whose school differs from ``current_*`` (``None`` when unknown).
    block_school
        School index of every block of the travel matrix (``-1``: none), zero-
        student blocks included (they carry zones across).
    contiguous
        Whether every zone is one piece (``None`` when not checked).
    enclaves
        Pieces of zones detached from their school (empty when contiguous).
    details
        Solver figures: splits, repair sizes, cut rounds, Lagrange price.
    """

    level: str
    method: str
    assignment: pd.DataFrame
    school_load: pd.DataFrame
    objective_s: float
    travel_total_s: float
    bound_s: float
    gap: float
    status: str
    solve_time_s: float
    unserved: pd.DataFrame
    overflow: pd.DataFrame
    moved_students: int | None = None
    block_school: NDArray[np.int64] = field(default_factory=lambda: np.empty(0, np.int64), repr=False)
    contiguous: bool | None = None
    enclaves: tuple[tuple[str, tuple[str, ...]], ...] = ()
    details: Mapping[str, float | int | str] = field(default_factory=dict)


@dataclass(frozen=True)
class _Problem:
    """Arrays of one zoning instance after filtering the pairs."""

    block_ids: NDArray[np.str_]
    school_ids: NDArray[np.str_]
    demand: NDArray[np.int64]
    capacity: NDArray[np.int64]
    current: NDArray[np.int64]
    origin: NDArray[np.int64]  # pair → block, sorted by block then cost
    dest: NDArray[np.int64]
    time_s: NDArray[np.int64]
    dist_m: NDArray[np.int64]
    cost: NDArray[np.int64]  # per student: travel + stability penalty
    moved: NDArray[np.bool_]  # pair changes the block's current school
    start: NDArray[np.int64]  # first pair of each block (len n + 1)
    reason: NDArray[np.object_]  # unserved reason per block ("" when served)


def _as_int_array(values: Sequence[int] | NDArray[np.integer], n: int, name: str) -> NDArray[np.int64]:
    arr = np.asarray(values)
    if arr.shape != (n,):
        msg = f"{name} must have length {n}, got shape {arr.shape}"
        raise InputError([Problem(layer="zones", column=name, message=msg)])
    if not np.issubdtype(arr.dtype, np.integer):
        if not np.all(np.isfinite(arr)) or not np.all(arr == np.round(arr)):
            raise InputError([Problem(layer="zones", column=name, message="must hold whole numbers")])
    arr = arr.astype(np.int64)
    if (arr < 0).any():
        bad = int(np.flatnonzero(arr < 0)[0])
        raise InputError([Problem(layer="zones", column=name, row=bad + 1, message="must not be negative")])
    return arr


def _prepare(
    travel: TravelMatrix,
    demand: Sequence[int] | NDArray[np.integer],
    capacity_seats: Sequence[int] | NDArray[np.integer],
    *,
    max_travel_s: float | NDArray[np.floating] | None,
    current: NDArray[np.integer] | None,
    stability_weight_s: int,
    block_group: NDArray[np.object_] | None,
    school_group: NDArray[np.object_] | None,
) -> _Problem:
    n, m = travel.shape
    d = _as_int_array(demand, n, "demand")
    c = _as_int_array(capacity_seats, m, "capacity_seats")
    cur = np.full(n, -1, np.int64) if current is None else np.asarray(current, dtype=np.int64)
    if cur.shape != (n,):
        raise InputError([Problem(layer="zones", column="current", message=f"must have length {n}")])
    o = travel.origin.astype(np.int64)
    j = travel.dest.astype(np.int64)
    t = travel.time_s.astype(np.int64)
    dist = travel.dist_m.astype(np.int64)
    limit = np.full(n, np.inf) if max_travel_s is None else np.broadcast_to(np.asarray(max_travel_s, float), (n,))
    keep = (t <= limit[o]) & (c[j] > 0)
    reachable = np.zeros(n, bool)
    reachable[o[keep]] = True
    if block_group is not None and school_group is not None:
        bg = np.asarray(block_group, dtype=object)
        sg = np.asarray(school_group, dtype=object)
        known = pd.notna(bg[o]) & pd.notna(sg[j]) & (bg[o] != "") & (sg[j] != "")
        keep &= ~known | (bg[o] == sg[j])
    served = np.zeros(n, bool)
    served[o[keep]] = True
    reason = np.full(n, "", dtype=object)
    for i in np.flatnonzero(~served):
        lim = limit[i]
        text = "∞" if not np.isfinite(lim) else f"{lim / 60:g}"
        reason[i] = (REASON_TOWNSHIP if reachable[i] else REASON_NO_SCHOOL).format(limit=text)
    o, j, t, dist = o[keep], j[keep], t[keep], dist[keep]
    moved = (cur[o] >= 0) & (j != cur[o])
    cost = t + np.int64(stability_weight_s) * moved
    # sort by block, then cost, then school (travel matrices usually come sorted: skip the sort then)
    in_order = len(o) < 2 or bool(
        np.all((o[1:] > o[:-1]) | ((o[1:] == o[:-1]) & ((cost[1:] > cost[:-1]) | ((cost[1:] == cost[:-1]) & (j[1:] > j[:-1])))))
    )
    if not in_order:
        order = np.lexsort((j, cost, o))
        o, j, t, dist, cost, moved = o[order], j[order], t[order], dist[order], cost[order], moved[order]
    start = np.searchsorted(o, np.arange(n + 1))
    return _Problem(
        block_ids=np.asarray(travel.origin_ids, dtype=str),
        school_ids=np.asarray(travel.dest_ids, dtype=str),
        demand=d,
        capacity=c,
        current=cur,
        origin=o,
        dest=j,
        time_s=t,
        dist_m=dist,
        cost=cost,
        moved=moved,
        start=start,
        reason=reason,
    )


# --- relaxation ----------------------------------------------------------------


@dataclass(frozen=True)
class _Flow:
    pair_flow: NDArray[np.int64]
    overflow: NDArray[np.int64]
    cost: int  # Σ flow × (cost + price × moved) + penalty × overflow
    moved: int


def _min_cost_flow(
    p: _Problem,
    *,
    price: int,
    overflow_penalty_s: int | None,
    fixed: NDArray[np.int64] | None = None,
    pair_mask: NDArray[np.bool_] | None = None,
    capacity: NDArray[np.int64] | None = None,
) -> _Flow | None:
    """Transportation relaxation; ``None`` when capacity cannot take every student.

    Blocks with ``fixed[i] ≥ 0`` may only use that school.
    """
    n, m = len(p.demand), len(p.capacity)
    active = np.zeros(n, bool)
    active[p.origin] = True
    active &= p.demand > 0
    use = active[p.origin]
    if fixed is not None:
        use &= (fixed[p.origin] < 0) | (p.dest == fixed[p.origin])
    if pair_mask is not None:
        use &= pair_mask
    pairs = np.flatnonzero(use)
    total = int(p.demand[active].sum())
    sink = n + m
    f = min_cost_flow.SimpleMinCostFlow()
    unit = p.cost[pairs] + np.int64(price) * p.moved[pairs]
    arcs = f.add_arcs_with_capacity_and_unit_cost(
        p.origin[pairs], n + p.dest[pairs], p.demand[p.origin[pairs]], unit
    )
    cap = p.capacity if capacity is None else np.maximum(capacity, 0)
    f.add_arcs_with_capacity_and_unit_cost(n + np.arange(m), np.full(m, sink), cap, np.zeros(m, np.int64))
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
    return _Flow(flow, over, int(f.optimal_cost()), int((flow * p.moved).sum()))


def _shortfalls(p: _Problem, school_group: NDArray[np.object_] | None) -> list[Shortfall]:
    """Where capacity is short: the least total overflow, school by school."""
    flow = _min_cost_flow(p, price=0, overflow_penalty_s=10 * int(p.cost.max(initial=1)) + 10**6)
    assert flow is not None
    out = []
    for j in np.flatnonzero(flow.overflow):
        where = f"school {p.school_ids[j]}"
        if school_group is not None and pd.notna(school_group[j]) and school_group[j] != "":
            where += f" ({school_group[j]})"
        out.append(
            Shortfall(
                where=where,
                short_by=int(flow.overflow[j]),
                detail=f"{int(p.capacity[j])} seats for {int(p.capacity[j] + flow.overflow[j])} students in reach",
            )
        )
    return sorted(out, key=lambda s: s.where)


# --- integer repair --------------------------------------------------------------


def _pick(p: _Problem, flow: NDArray[np.int64]) -> tuple[NDArray[np.int64], NDArray[np.bool_]]:
    """School of each block (largest flow; cheapest pair for zero-student blocks) and split flags."""
    n = len(p.demand)
    school = np.full(n, -1, np.int64)
    has = p.start[1:] > p.start[:-1]
    school[has] = p.dest[p.start[:-1][has]]  # cheapest pair (pairs sorted by cost)
    pos = flow > 0
    npos = np.bincount(p.origin[pos], minlength=n)
    # largest flow per block: sort positive pairs by (block, -flow) and take the first
    idx = np.flatnonzero(pos)
    if len(idx):
        idx = idx[np.lexsort((-flow[idx], p.origin[idx]))]
        first = np.ones(len(idx), bool)
        first[1:] = p.origin[idx][1:] != p.origin[idx][:-1]
        school[p.origin[idx[first]]] = p.dest[idx[first]]
    return school, npos > 1


def _pair_index(p: _Problem, blocks: NDArray[np.int64], schools: NDArray[np.int64]) -> NDArray[np.int64]:
    """Pair index of each (block, school), −1 where not reachable."""
    m = np.int64(len(p.capacity))
    key = p.origin * m + p.dest
    order = np.argsort(key, kind="stable")
    want = blocks.astype(np.int64) * m + np.maximum(schools, 0)
    pos = np.searchsorted(key[order], want)
    pos = np.minimum(pos, max(len(order) - 1, 0))
    out = np.full(len(blocks), -1, np.int64)
    if len(order):
        hit = (key[order][pos] == want) & (schools >= 0)
        out[hit] = order[pos[hit]]
    return out


@dataclass
class _Cut:
    school: int
    piece: NDArray[np.int64]
    border: NDArray[np.int64]


#: Wall-clock safety net per CP-SAT call, as a multiple of its deterministic limit:
#: deterministic limits decide when search stops (so the plan does not depend on
#: the machine's speed); this only guards against a runaway solve.
WALL_SAFETY_FACTOR = 20.0
WALL_SAFETY_MIN_S = 5.0


class _WorkBudget:
    """Deterministic work budget (CP-SAT deterministic time units, ≈ seconds on a typical core).

    Every repair loop stops on this budget rather than on the wall clock, so the
    same inputs and seed give the same plan on a fast or a slow machine.
    """

    def __init__(self, limit: float) -> None:
        self.limit = float(limit)
        self.spent = 0.0

    def charge(self, solver: cp_model.CpSolver) -> None:
        self.spent += float(solver.deterministic_time)

    def remaining(self) -> float:
        return max(self.limit - self.spent, 0.0)

    def exhausted(self, share: float = 1.0) -> bool:
        return self.spent >= share * self.limit


def _solve_sub(
    p: _Problem,
    school: NDArray[np.int64],
    free: NDArray[np.int64],
    *,
    flow: NDArray[np.int64] | None,
    cuts: Sequence[_Cut],
    roots: Mapping[int, int],
    max_moved: int | None,
    overflow_penalty_s: int | None,
    seed: int,
    deterministic_time: float,
    budget: _WorkBudget,
) -> tuple[NDArray[np.int64], int, int] | None:
    """Re-assign the ``free`` blocks with CP-SAT, all others fixed; ``None`` if infeasible.

    Returns the new school of every block, the CP-SAT status and the seats still
    missing (students above capacity, 0 when the plan is feasible).
    """
    n, m = len(p.demand), len(p.capacity)
    is_free = np.zeros(n, bool)
    is_free[free] = True
    fixed = ~is_free & (school >= 0)
    load = np.bincount(school[fixed], weights=p.demand[fixed], minlength=m).astype(np.int64)
    resid = p.capacity - load
    fixed_moved = int(p.demand[fixed & (p.current >= 0) & (school != p.current)].sum())

    # candidate pairs of each free block
    extra: dict[int, set[int]] = {}
    for cut in cuts:
        for i in cut.border.tolist():
            if is_free[i]:
                extra.setdefault(i, set()).add(cut.school)
    model = cp_model.CpModel()
    x: dict[tuple[int, int], cp_model.IntVar] = {}
    by_school: dict[int, list[tuple[int, cp_model.IntVar]]] = {}
    objective = []
    moved_terms = []
    hint_ok = True
    hinted_true: set[int] = set()
    for i in free.tolist():
        lo, hi = int(p.start[i]), int(p.start[i + 1])
        if lo == hi:
            continue
        cand = set(range(lo, min(hi, lo + REPAIR_CANDIDATES)))
        dests = p.dest[lo:hi]
        if flow is not None:
            cand.update((lo + np.flatnonzero(flow[lo:hi] > 0)).tolist())
        wanted = set(extra.get(i, ())) | {int(school[i])} | {j for j, r in roots.items() if r == i}
        for j in wanted:
            hit = np.flatnonzero(dests == j)
            if len(hit):
                cand.add(lo + int(hit[0]))
        lits = []
        for k in sorted(cand):
            j = int(p.dest[k])
            v = model.new_bool_var(f"x{i}_{j}")
            x[i, j] = v
            lits.append(v)
            if p.demand[i]:
                by_school.setdefault(j, []).append((int(p.demand[i]), v))
                objective.append(int(p.cost[k] * p.demand[i]) * v)
                if p.moved[k]:
                    moved_terms.append(int(p.demand[i]) * v)
            model.add_hint(v, j == school[i])
            if j == school[i]:
                hinted_true.add(v.index)
        hint_ok &= int(school[i]) in {int(p.dest[k]) for k in cand}
        model.add_exactly_one(lits)
    for j, root in roots.items():
        if is_free[root]:
            if (root, j) in x:
                model.add(x[root, j] == 1)
    # Capacity is soft in the model (hard overflow penalty when overflow is not allowed)
    # so that the rounded relaxation is always a complete, feasible hint.
    hard = overflow_penalty_s is None
    weight = HARD_OVERFLOW_PENALTY if hard else int(overflow_penalty_s)
    over = []
    over_vars = {}
    for j, terms in sorted(by_school.items()):
        expr = sum(d * v for d, v in terms)
        hinted = sum(d for d, v in terms if v.index in hinted_true)
        o = model.new_int_var(0, int(p.demand.sum()), f"o{j}")
        model.add(expr <= int(resid[j]) + o)
        model.add_hint(o, max(0, hinted - int(resid[j])))
        over.append(weight * o)
        over_vars[j] = o
    if max_moved is not None:
        model.add(sum(moved_terms) <= max_moved - fixed_moved)
    for cut in cuts:
        j = cut.school
        if (school[cut.border][~is_free[cut.border]] == j).any():
            continue  # a fixed bordering block already belongs to j
        border = [x[k, j] for k in cut.border.tolist() if is_free[k] and (k, j) in x]
        for i in cut.piece.tolist():
            if is_free[i] and (i, j) in x:
                model.add(x[i, j] <= sum(border))
    model.minimize(sum(objective) + sum(over))
    solver = cp_model.CpSolver()
    prm = solver.parameters
    prm.num_workers = 1
    prm.linearization_level = 2  # full LP relaxation: these are tight packing models
    prm.random_seed = seed
    det = max(min(deterministic_time, budget.remaining()), 1e-3)
    prm.max_deterministic_time = det
    prm.max_time_in_seconds = max(WALL_SAFETY_FACTOR * det, WALL_SAFETY_MIN_S)
    prm.relative_gap_limit = 1e-6
    status = solver.solve(model)
    budget.charge(solver)
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        if status == cp_model.INFEASIBLE:
            return None
        if status == cp_model.UNKNOWN:
            logger.debug("CP-SAT found no plan for %d blocks within its limit", len(free))
            return school.copy(), int(status), 10**9
        raise SolverError(f"CP-SAT repair stopped with status {solver.status_name(status)}")
    excess = sum(solver.value(o) for o in over_vars.values()) if hard else 0
    new = school.copy()
    for (i, j), v in x.items():
        if solver.boolean_value(v):
            new[i] = j
    logger.debug("repair: %d free blocks, %s, hint complete=%s", len(free), solver.status_name(status), hint_ok)
    return new, int(status), int(excess)


def _ejection_regret(p: _Problem, school: NDArray[np.int64]) -> NDArray[np.float64]:
    """Regret of each block in reduced costs: how much moving it costs once chains are counted.

    ``e_j`` is the cheapest cost of making room for one student at school ``j``
    (a chain of moves to a school with spare seats: shortest path in the
    school graph whose arc ``j → k`` costs ``min_i t_ik − t_ij`` over blocks of
    ``j`` reaching ``k``). The regret of block ``i`` at ``j`` is
    ``min_k (t_ik + e_k) − (t_ij + e_j)``: blocks with a small regret are the
    ones worth freeing in the integer repair.
    """
    from scipy.sparse.csgraph import shortest_path  # noqa: PLC0415

    n, m = len(p.demand), len(p.capacity)
    own = school[p.origin]
    ok = (own >= 0) & (p.dest != own) & (p.demand[p.origin] > 0)
    own_cost = np.full(n, np.inf)
    mine = own == p.dest
    own_cost[p.origin[mine]] = p.cost[mine]
    arc = p.cost[ok] - own_cost[p.origin[ok]]
    w = np.full((m + 1, m + 1), np.inf)
    np.minimum.at(w, (own[ok], p.dest[ok]), arc)
    served = (school >= 0) & (p.demand > 0)
    load = np.bincount(school[served], weights=p.demand[served], minlength=m)
    slack = np.flatnonzero(load < p.capacity)
    w[slack, m] = 0.0
    w = np.maximum(w, -1e9)
    finite = np.isfinite(w)
    # shift so every arc is positive enough for csgraph to keep it (zero means "no arc")
    rows, cols = np.nonzero(finite)
    graph = sp.csr_array((w[rows, cols] + 0.0, (cols, rows)), shape=(m + 1, m + 1))  # reversed: from sink
    graph.data[graph.data == 0] = 1e-9
    try:
        dist = shortest_path(graph, method="BF", directed=True, indices=m)
    except Exception:  # negative cycle: relaxation not optimal for these costs; fall back
        dist = np.zeros(m + 1)
    e = np.where(np.isfinite(dist[:m]), dist[:m], 1e9)
    red = p.cost + e[p.dest]
    best = np.full(n, np.inf)
    np.minimum.at(best, p.origin, np.where(mine, np.inf, red))
    mine_red = np.full(n, np.inf)
    mine_red[p.origin[mine]] = red[mine]
    with np.errstate(invalid="ignore"):  # inf − inf: blocks with one school, regret undefined (nan)
        return best - mine_red


def _load(p: _Problem, school: NDArray[np.int64]) -> NDArray[np.int64]:
    """Students placed at each school."""
    ok = (school >= 0) & (p.demand > 0)
    return np.bincount(school[ok], weights=p.demand[ok], minlength=len(p.capacity)).astype(np.int64)


def _moved(p: _Problem, school: NDArray[np.int64]) -> int:
    """Students whose school changes against their current one."""
    return int(p.demand[(p.current >= 0) & (school >= 0) & (school != p.current) & (p.demand > 0)].sum())


def _excess(p: _Problem, school: NDArray[np.int64], max_moved: int | None, overflow_penalty_s: int | None) -> int:
    """How far a plan is from the hard rules: students above capacity (when not allowed) and above the cap."""
    out = 0
    if overflow_penalty_s is None:
        out += int(np.maximum(_load(p, school) - p.capacity, 0).sum())
    if max_moved is not None:
        out += max(_moved(p, school) - max_moved, 0)
    return out


# --- contiguity ------------------------------------------------------------------


def _attach_greedily(
    p: _Problem,
    school: NDArray[np.int64],
    adjacency: sp.csr_array,
    roots: NDArray[np.int64],
    overflow_penalty_s: int | None,
    *,
    connector: NDArray[np.bool_],
    only_empty: bool = False,
    seat_prices: NDArray[np.float64] | None = None,
    pairs: PairTable | None = None,
) -> NDArray[np.int64]:
    """Hand each detached piece whole to the cheapest bordering zone with room for it.

    Moving a detached piece into a zone it borders (at a block of an attached
    piece, or through connectors) can disconnect nothing, so every move removes
    one detached piece. With ``only_empty``, only pieces without students move
    (free of cost and of seats). With ``seat_prices``, room is not asked for
    and the cost counts the seats taken at their price (the rounding makes up
    the seats). ``pairs`` restricts the schools a block may take (default: every
    pair of ``p``).
    """
    school = school.copy()
    for _ in range(3):
        pieces = detached_pieces(school, adjacency, roots, connector)
        if only_empty:
            pieces = [(j, piece) for j, piece in pieces if not p.demand[piece].any()]
        if not pieces:
            break
        detached = np.zeros(len(school), bool)
        for _, piece in pieces:
            detached[piece] = True
        load = _load(p, school)
        moved_any = False
        for j, piece in pieces:
            border = piece_border(piece, adjacency, connector)
            targets = sorted({int(k) for k in school[border[~detached[border]]].tolist() if k >= 0 and k != j})
            best, best_cost = -1, math.inf
            need = int(p.demand[piece].sum())
            for k in targets:
                if overflow_penalty_s is None and seat_prices is None and load[k] + need > p.capacity[k]:
                    continue
                table = p if pairs is None else pairs
                pair = _pairs_to(table, piece, k)
                if (pair < 0).any():
                    continue
                cost = float((table.cost[pair] * p.demand[piece]).sum())
                if seat_prices is not None:
                    cost += float(seat_prices[k]) * need
                if cost < best_cost:
                    best, best_cost = k, cost
            if best >= 0:
                school[piece] = best
                load[best] += need
                load[j] -= need
                detached[piece] = False
                moved_any = True
        if not moved_any:
            break
    return school


def _pairs_to(p: PairTable, blocks: NDArray[np.int64], school: int) -> NDArray[np.int64]:
    """Pair index of each of a few blocks with one school, −1 where out of reach."""
    out = np.full(len(blocks), -1, np.int64)
    for k, i in enumerate(blocks.tolist()):
        hit = np.flatnonzero(p.dest[p.start[i] : p.start[i + 1]] == school)
        if len(hit):
            out[k] = p.start[i] + hit[0]
    return out


def _make_contiguous(
    p: _Problem,
    school: NDArray[np.int64],
    adjacency: sp.csr_array,
    roots: NDArray[np.int64],
    root_map: Mapping[int, int],
    cuts: list[_Cut],
    details: dict[str, float | int | str],
    *,
    flow: NDArray[np.int64],
    max_moved: int | None,
    overflow_penalty_s: int | None,
    seed: int,
    budget: _WorkBudget,
) -> tuple[NDArray[np.int64], int, list[tuple[int, NDArray[np.int64]]]]:
    """Make every zone one piece: roots home, empty pieces handed over, then window solves.

    Blocks no school can take are connectors (see :mod:`planning.zones.contiguity`).
    Each detached piece is re-solved with CP-SAT in a small window of blocks
    around it (its neighbours a few hops deep), under the cut "the piece may
    belong to ``j`` only if one of its bordering blocks does" (kept for later
    windows) and the neighbour rule "a window block may belong to ``j`` only if
    one of its neighbours does"; the window grows when its seats cannot take
    the change. Rounds repeat until no piece is detached, the round cap or the
    work budget.

    Returns
    -------
    tuple
        The plan, the rounds taken and the pieces still detached.
    """
    n = len(school)
    has = p.start[1:] > p.start[:-1]
    connector = ~has
    school = np.where(has, school, -1)

    def pieces_of(school: NDArray[np.int64], zones: NDArray[np.int64]) -> list[tuple[int, NDArray[np.int64]]]:
        return detached_pieces(np.where(np.isin(school, zones), school, -1), adjacency, roots, connector)

    def window(
        seeds: NDArray[np.int64], school: NDArray[np.int64], *, level: int = 0, target: int = -1,
        whole: tuple[int, ...] = (),
    ) -> tuple[NDArray[np.int64], NDArray[np.int64], bool]:
        """Re-solve a window around ``seeds``; ``level`` starts it larger, ``whole`` zones are freed whole."""
        # Hint: the seeds handed to ``target`` or the cheapest zone they border and can reach,
        # so that CP-SAT starts from a plan meeting every cut (seats may overflow; it repairs those).
        hint = school.copy()
        border = piece_border(seeds, adjacency, connector)
        best = None
        for k in sorted(set(school[border][school[border] >= 0].tolist()) - set(school[seeds].tolist())):
            pair = _pairs_to(p, seeds, k)
            if (pair >= 0).all():
                cost = int((p.cost[pair] * p.demand[seeds]).sum())
                if best is None or cost < best[0]:
                    best = (cost, k)
        if target >= 0:
            hint[seeds] = target
        elif best is not None:
            hint[seeds] = best[1]
        # Window: the seeds and their neighbours, plus where the zones around them meet
        # (a piece handed to a full zone needs that zone to give blocks to another one);
        # each growth adds the meeting places of every zone in the window.
        zones = np.union1d(np.union1d(school[border][school[border] >= 0], school[seeds]), np.asarray(whole, np.int64))
        zones = zones[zones >= 0]
        for growth in range(level, level + CONTIGUITY_WINDOW_GROWTHS):
            free = band(seeds, adjacency, has, min_blocks=CONTIGUITY_WINDOW_BLOCKS, max_hops=2)
            if whole:
                free = np.union1d(free, np.flatnonzero(np.isin(school, whole)))
            reach = band(seeds, adjacency, has, min_blocks=n, max_hops=CONTIGUITY_WINDOW_HOPS * (growth + 1))
            free = np.union1d(free, np.intersect1d(frontier(school, adjacency, zones), reach))
            free = free[has[free]]
            old = {(j, tuple(pc.tolist())) for j, pc in pieces_of(school, zones)}
            in_free = np.zeros(n, bool)
            in_free[free] = True
            cand = [p.dest[p.start[i] : p.start[i + 1]] for i in free.tolist()]
            rule = [_Cut(j, pc, bd) for j, pc, bd in neighbour_rule(free, school, cand, adjacency, roots)]
            det = min(CONTIGUITY_WINDOW_TIME * len(free) / CONTIGUITY_WINDOW_BLOCKS, CONTIGUITY_WINDOW_MAX_TIME * (1 + growth))
            for _ in range(CONTIGUITY_WINDOW_RESOLVES):
                local = rule + [cut for cut in cuts if in_free[cut.piece].any()]
                got = _solve_sub(
                    p, hint, free, flow=flow, cuts=local, roots=root_map, max_moved=max_moved,
                    overflow_penalty_s=overflow_penalty_s, seed=seed, deterministic_time=det, budget=budget,
                )
                if got is None or got[2] > 0 or got[1] not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
                    break
                # lazy cuts: a piece the window made is cut off and the window solved again
                left = pieces_of(got[0], np.union1d(zones, got[0][free]))
                new = [(j, pc) for j, pc in left if (j, tuple(pc.tolist())) not in old]
                logger.debug(
                    "contiguity window: %d blocks, %d zones, status %d, %d pieces before, %d after, %d new",
                    len(free), len(zones), got[1], len(old), len(left), len(new),
                )
                fixed = not any(np.isin(seeds, pc).any() for _, pc in left)
                if not new and len(left) <= len(old) and fixed:
                    return got[0], free, True
                cuts.extend(_Cut(j, pc, piece_border(pc, adjacency, connector)) for j, pc in new)
                if budget.exhausted():
                    break
            else:
                if len(left) < len(old):
                    return got[0], free, True  # fewer pieces than before: progress, the next round goes on
            if budget.exhausted():
                break
            zones = np.unique(np.r_[school[free], school[_neighbours_of(adjacency, free)]])
            zones = zones[zones >= 0]
        return school, free, False

    def swap_pieces(school: NDArray[np.int64]) -> int:
        """Hand pieces to bordering zones, one block out of the receiving zone when it is full."""
        swapped = 0
        for _ in range(CONTIGUITY_SWAP_PASSES):
            pieces = detached_pieces(school, adjacency, roots, connector)
            detached = np.zeros(n, bool)
            for _, piece in pieces:
                detached[piece] = True
            room = p.capacity - _load(p, school) if overflow_penalty_s is None else np.full(len(p.capacity), 1 << 40)
            moved = 0
            for j, piece in pieces:
                got = swap_in(
                    piece, school, adjacency=adjacency, roots=roots, detached=detached, demand=p.demand, room=room,
                    start=p.start, dest=p.dest, cost=p.cost,
                )
                if got is None:
                    continue
                for blocks, to in got:
                    frm = int(school[blocks[0]])
                    students = int(p.demand[blocks].sum())
                    school[blocks] = to
                    room[to] -= students
                    room[frm] += students
                detached[piece] = False
                moved += 1
            swapped += moved
            if not moved:
                break
        return swapped

    wrong_root = [r for j, r in sorted(root_map.items()) if school[r] != j and has[r]]
    for j, r in sorted(root_map.items()):
        if r in wrong_root and school[r] != j:
            # the zone is elsewhere: free it whole with the zone holding its root
            school, _, _ = window(np.array([r], np.int64), school, target=j, whole=(j, int(school[r])))
    details["wrong_roots"] = len(wrong_root)
    # pieces without students move free of cost and seats
    school = _attach_greedily(p, school, adjacency, roots, overflow_penalty_s, connector=connector, only_empty=True)
    pieces = detached_pieces(school, adjacency, roots, connector)
    if len(pieces) > GREEDY_ATTACH_ABOVE and max_moved is None:
        # many pieces: attach them greedily first, the windows handle the rest
        school = _attach_greedily(p, school, adjacency, roots, overflow_penalty_s, connector=connector)
        details["greedy_attached"] = len(pieces)
    rounds = 0
    swapped = 0
    stalled: dict[tuple[int, int], int] = {}
    fewest, since = n + 1, 0
    while rounds < MAX_CONTIGUITY_ROUNDS and not budget.exhausted():
        pieces = detached_pieces(school, adjacency, roots, connector)
        if len(pieces) > GREEDY_ATTACH_ABOVE and max_moved is None:
            # many pieces: chains of moves are quick; the windows (better plans) take the rest
            swapped += swap_pieces(school)  # in place
            pieces = detached_pieces(school, adjacency, roots, connector)
        if not pieces:
            break
        fewest, since = (len(pieces), 0) if len(pieces) < fewest else (fewest, since + 1)
        if since >= CONTIGUITY_STALL_ROUNDS:
            logger.info("contiguity: %d detached pieces left after %d rounds without progress", len(pieces), since)
            break
        rounds += 1
        logger.debug("contiguity round %d: %d detached pieces", rounds, len(pieces))
        touched = np.zeros(n, bool)
        for j, piece in pieces:
            if touched[piece].any():
                continue  # an earlier window of this round changed it: look again next round
            cuts.append(_Cut(j, piece, piece_border(piece, adjacency, connector)))
            key = (j, int(piece[0]))
            school, free, ok = window(piece, school, level=min(stalled.get(key, 0), CONTIGUITY_WINDOW_MAX_LEVEL))
            if not ok:
                stalled[key] = stalled.get(key, 0) + 1  # start larger next round
            touched[free] = True
            if budget.exhausted():
                logger.info("contiguity: out of work budget with detached pieces left")
                break
    details["swapped_pieces"] = swapped
    return school, rounds, detached_pieces(school, adjacency, roots, connector)


# --- public cores ------------------------------------------------------------------


def _frames(
    p: _Problem, school: NDArray[np.int64], *, level: str
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame, int | None]:
    n, m = len(p.demand), len(p.capacity)
    pair = _pair_index(p, np.arange(n), school)
    ok = pair >= 0
    rows = np.flatnonzero(p.demand > 0)
    assignment = pd.DataFrame(
        {
            "block_id": p.block_ids[rows],
            "school_id": np.where(ok[rows], p.school_ids[np.maximum(school[rows], 0)], ""),
            "travel_s": pd.array(np.where(ok[rows], p.time_s[np.maximum(pair[rows], 0)], 0), dtype="Int64"),
            "travel_m": pd.array(np.where(ok[rows], p.dist_m[np.maximum(pair[rows], 0)], 0), dtype="Int64"),
            "students": p.demand[rows],
            "reason": p.reason[rows].astype(str),
        }
    )
    assignment.loc[~ok[rows], ["travel_s", "travel_m"]] = pd.NA
    assignment = assignment.sort_values("block_id", kind="stable").reset_index(drop=True)
    served = ok & (p.demand > 0)
    load = np.bincount(school[served], weights=p.demand[served], minlength=m).astype(np.int64)
    school_load = pd.DataFrame(
        {
            "school_id": p.school_ids,
            "students": load,
            "capacity_seats": p.capacity,
            "utilization": np.where(p.capacity > 0, load / np.maximum(p.capacity, 1), np.nan),
            "overflow": np.maximum(load - p.capacity, 0),
        }
    ).sort_values("school_id", kind="stable").reset_index(drop=True)
    unserved = assignment.loc[assignment["school_id"] == "", ["block_id", "students", "reason"]].reset_index(drop=True)
    overflow = school_load.loc[school_load["overflow"] > 0, ["school_id", "capacity_seats", "students", "overflow"]]
    overflow = overflow.rename(columns={"overflow": "over_by"}).reset_index(drop=True)
    moved = None
    if (p.current >= 0).any():
        known = served & (p.current >= 0)
        moved = int(p.demand[known & (school != p.current)].sum())
    return assignment, school_load, unserved, overflow, moved


def nearest_zones(
    travel: TravelMatrix,
    demand: Sequence[int] | NDArray[np.integer],
    capacity_seats: Sequence[int] | NDArray[np.integer],
    *,
    level: str = "primary",
    max_travel_s: float | NDArray[np.floating] | None = RURAL_MAX_ONE_WAY_S,
    current: NDArray[np.integer] | None = None,
    block_group: NDArray[np.object_] | None = None,
    school_group: NDArray[np.object_] | None = None,
) -> ZonePlan:
    """Baseline: every block to its nearest school by travel time, capacity ignored.

    Parameters
    ----------
    travel
        Blocks × schools travel matrix.
    demand
        Students of each block (``travel.origin_ids`` order).
    capacity_seats
        Seats of each school (``travel.dest_ids`` order); used for utilization
        and the overflow it causes, not as a constraint.
    level
        Label of the plan.
    max_travel_s
        Longest acceptable travel (scalar or per block); farther blocks are unserved.
    current
        Index of each block's current school (−1 unknown), for ``moved_students``.
    block_group, school_group
        Township of each block and school to keep zones within townships.

    Returns
    -------
    ZonePlan
    """
    t0 = time.perf_counter()
    p = _prepare(
        travel, demand, capacity_seats, max_travel_s=max_travel_s, current=current,
        stability_weight_s=0, block_group=block_group, school_group=school_group,
    )
    school, _ = _pick(p, np.zeros(len(p.origin), np.int64))
    return _plan(p, school, level=level, method="nearest", bound=math.nan, status="BASELINE", t0=t0)


def _plan(
    p: _Problem,
    school: NDArray[np.int64],
    *,
    level: str,
    method: str,
    bound: float,
    status: str,
    t0: float,
    overflow_penalty_s: int | None = None,
    contiguous: bool | None = None,
    enclaves: tuple[tuple[str, tuple[str, ...]], ...] = (),
    details: Mapping[str, float | int | str] | None = None,
) -> ZonePlan:
    assignment, school_load, unserved, overflow, moved = _frames(p, school, level=level)
    pair = _pair_index(p, np.arange(len(school)), school)
    ok = (pair >= 0) & (p.demand > 0)
    travel_total = float((p.time_s[pair[ok]] * p.demand[ok]).sum())
    objective = float((p.cost[pair[ok]] * p.demand[ok]).sum())
    if overflow_penalty_s is not None:
        objective += float(overflow_penalty_s * school_load["overflow"].sum())
    gap = math.nan
    if not math.isnan(bound):
        gap = 0.0 if objective <= bound else (objective - bound) / max(objective, 1.0)
        if gap <= 1e-12:
            status = "OPTIMAL"
    return ZonePlan(
        level=level,
        method=method,
        assignment=assignment,
        school_load=school_load,
        objective_s=objective,
        travel_total_s=travel_total,
        bound_s=bound,
        gap=gap,
        status=status,
        solve_time_s=time.perf_counter() - t0,
        unserved=unserved,
        overflow=overflow,
        moved_students=moved,
        block_school=np.where(pair >= 0, school, -1),
        contiguous=contiguous,
        enclaves=enclaves,
        details=dict(details or {}),
    )


def optimal_zones(
    travel: TravelMatrix,
    demand: Sequence[int] | NDArray[np.integer],
    capacity_seats: Sequence[int] | NDArray[np.integer],
    *,
    level: str = "primary",
    max_travel_s: float | NDArray[np.floating] | None = RURAL_MAX_ONE_WAY_S,
    current: NDArray[np.integer] | None = None,
    stability_weight_s: int = 0,
    max_moved: int | None = None,
    allow_overflow: bool = False,
    overflow_penalty_s: int = DEFAULT_OVERFLOW_PENALTY_S,
    block_group: NDArray[np.object_] | None = None,
    school_group: NDArray[np.object_] | None = None,
    adjacency: sp.csr_array | None = None,
    roots: NDArray[np.integer] | None = None,
    time_limit_s: float = 30.0,
    seed: int = 0,
) -> ZonePlan:
    """Capacitated single-school zones minimizing student travel, with a proven gap.

    See the module docstring for the model and the method.

    Parameters
    ----------
    travel
        Blocks × schools travel matrix (absent pairs are unreachable).
    demand
        Students of each block, in ``travel.origin_ids`` order.
    capacity_seats
        Seats of each school, in ``travel.dest_ids`` order.
    level
        Label of the plan.
    max_travel_s
        Longest acceptable travel, scalar or per block; blocks with no school in
        reach are unserved with a reason (boarding or school bus).
    current
        Index of each block's current school (−1 unknown).
    stability_weight_s
        Penalty per student whose school changes, in seconds of travel.
    max_moved
        Cap on students whose school changes.
    allow_overflow
        Allow schools above capacity at ``overflow_penalty_s`` per extra student
        instead of raising :class:`InfeasibleError`.
    overflow_penalty_s
        Penalty per overflow student, in seconds of travel.
    block_group, school_group
        Township of each block and school: zones stay within townships (blocks
        or schools with no township are unrestricted).
    adjacency
        Block adjacency (``n × n``); when given, every zone is made one piece.
    roots
        Block index of each school's own block (−1 none), needed with ``adjacency``.
    time_limit_s
        Work budget of the CP-SAT repair (used only when the chain rounding
        cannot fit every block or meet the stability cap) and of the contiguity
        loop, in CP-SAT deterministic time (≈ seconds on a typical core). The
        loops stop on this budget, not on the wall clock, so the plan does not
        depend on machine speed.
    seed
        CP-SAT random seed.

    Returns
    -------
    ZonePlan

    Raises
    ------
    InfeasibleError
        Capacity is short (every short school named, with how many seats), the
        stability cap cannot be met, or indivisible blocks do not fit.
    SolverError
        A solver stopped without a usable answer.
    """
    t0 = time.perf_counter()
    p = _prepare(
        travel, demand, capacity_seats, max_travel_s=max_travel_s, current=current,
        stability_weight_s=stability_weight_s, block_group=block_group, school_group=school_group,
    )
    n, m = len(p.demand), len(p.capacity)
    penalty = overflow_penalty_s if allow_overflow else None
    if max_moved is not None and max_moved < 0:
        raise InputError([Problem(layer="zones", column="max_moved", message="must be ≥ 0")])
    if adjacency is not None and (roots is None or len(roots) != m):
        raise InputError([Problem(layer="zones", column="roots", message="needed for every school with adjacency")])

    base = _min_cost_flow(p, price=0, overflow_penalty_s=penalty)
    if base is None:
        total = int(p.demand[np.isin(np.arange(n), p.origin)].sum())
        raise InfeasibleError(
            summary=(
                f"{level}: {total} students in reach of a school but the schools they can reach "
                f"have too few seats ({int(p.capacity.sum())} seats in all)"
            ),
            shortfalls=_shortfalls(p, school_group),
            hint="add seats or schools, raise the maximum travel time, or set allow_overflow = true",
        )
    flow, bound, price = base, float(base.cost), 0
    if max_moved is not None and base.moved > max_moved:
        hi = int(p.cost.max(initial=0)) + (overflow_penalty_s if allow_overflow else 0) + 1
        top = _min_cost_flow(p, price=hi, overflow_penalty_s=penalty)
        assert top is not None
        if top.moved > max_moved:
            raise InfeasibleError(
                summary=f"{level}: at least {top.moved} students must change school but max_moved is {max_moved}",
                shortfalls=[Shortfall(where="stability cap", short_by=top.moved - max_moved, unit="students")],
                hint="raise max_moved: schools closed, out of reach or full force these moves",
            )
        lo, best = 0, top
        bound = max(bound, top.cost - hi * max_moved)
        while hi - lo > 1:
            mid = (lo + hi) // 2
            f = _min_cost_flow(p, price=mid, overflow_penalty_s=penalty)
            assert f is not None
            bound = max(bound, f.cost - mid * max_moved)
            if f.moved <= max_moved:
                hi, best = mid, f
            else:
                lo = mid
        flow, price = best, hi

    school, split = _pick(p, flow.pair_flow)
    lp_split = np.flatnonzero(split)
    root_map: dict[int, int] = {}
    if adjacency is not None and roots is not None:
        rts = np.asarray(roots, np.int64)
        counts = np.bincount(rts[rts >= 0], minlength=n)
        root_map = {j: int(r) for j, r in enumerate(rts.tolist()) if r >= 0 and counts[r] == 1}
    # Under contiguity each school's own block belongs to its zone: put it there and
    # never move it in the rounding (otherwise the contiguity pass must redraw both zones).
    pinned = np.zeros(n, bool)
    for j, r in root_map.items():
        if (_pair_index(p, np.array([r]), np.array([j])) >= 0)[0]:
            school[r] = j
            pinned[r] = True
    details: dict[str, float | int | str] = {
        "split_blocks": len(lp_split),
        "lp_bound_s": float(base.cost),
        "lagrange_price_s": price,
    }
    budget = _WorkBudget(time_limit_s)
    cuts: list[_Cut] = []
    worst = cp_model.OPTIMAL
    free_total = 0

    def sub(free: NDArray[np.int64], school: NDArray[np.int64], det: float) -> tuple[NDArray[np.int64], int, int] | None:
        return _solve_sub(
            p, school, free, flow=flow.pair_flow, cuts=cuts, roots=root_map, max_moved=max_moved,
            overflow_penalty_s=penalty, seed=seed, deterministic_time=det, budget=budget,
        )

    rank = np.arange(len(p.origin)) - p.start[p.origin]
    keep = (rank < LOCAL_CANDIDATES) | (flow.pair_flow > 0)
    local = local_pairs(p, keep)
    if price:  # costs include the Lagrangian price of a move when a stability cap is set
        local = dataclasses.replace(local, cost=local.cost + np.int64(price) * p.moved[keep])
    seats = p.capacity + flow.overflow  # overflow only where the relaxation chose it (allowed)
    prices = seat_prices(local, flow.pair_flow[keep], seats)
    # Where the relaxation overflows a school it fills every seat it opens, so whole blocks
    # find no room anywhere: the chains may put up to one block more there (each extra
    # student at the overflow price, as the seat prices say).
    room = seats
    if penalty is not None and flow.overflow.any():
        room = seats + np.where(flow.overflow > 0, int(p.demand.max(initial=0)), 0)
    # Blocks without students at this level take the school cheapest in seat-price
    # terms: the zone the relaxation's partition puts them in, not a hole in it.
    red = (local.cost + prices[local.dest]).astype(float)
    best = np.full(n, np.inf)
    np.minimum.at(best, local.origin, red)
    hit = np.flatnonzero((red == best[local.origin]) & (local.demand[local.origin] == 0) & ~pinned[local.origin])
    if len(hit):
        first = hit[np.r_[True, local.origin[hit][1:] != local.origin[hit][:-1]]]
        school[local.origin[first]] = local.dest[first]

    relaxed, restarted = school.copy(), False
    if adjacency is not None and roots is not None:
        # Start the rounding from whole zones. The relaxation's zones are star-shaped
        # about their schools in the plane, but on blocks a thin one falls apart:
        # pieces without students go first (free), then each detached piece joins the
        # bordering zone cheapest in seat-price terms, and the chains below make up
        # the seats with moves that keep zones whole.
        rts, connector = np.asarray(roots, np.int64), p.start[1:] == p.start[:-1]
        school = _attach_greedily(
            p, school, adjacency, rts, penalty, connector=connector, only_empty=True, pairs=local
        )
        school = _attach_greedily(
            p, school, adjacency, rts, penalty, connector=connector, seat_prices=prices, pairs=local
        )
    if len(lp_split) or (loads(local, school, m) > room).any() or _excess(p, school, max_moved, penalty) > 0:
        # 1. Whole-block rounding (planning.zones.rounding): round each split block to the school
        # taking most of it, pass the excess along ejection chains priced with the
        # relaxation's seat prices, then shifts, swaps and chain moves while travel falls.
        # With contiguity asked for, blocks move only to zones they border.
        school, chain_stats = ejection_repair(local, school, room, prices, adjacency=adjacency, pinned=pinned)
        if not chain_stats.kept_whole or (max_moved is not None and _moved(p, school) > max_moved):
            # Moves keeping the zones whole could not fit the seats (tight seats, or thin
            # zones handed over whole to full neighbours), or making zones whole moved more
            # students than the stability cap allows: start again from the relaxation's
            # partition and fit the seats first; the contiguity pass mends the zones.
            details["restarted_after_chain_rounds"] = chain_stats.chain_rounds
            restarted = True
            school, chain_stats = ejection_repair(local, relaxed, room, prices, pinned=pinned)
        if (loads(local, school, m) <= room).all():
            movable = ~pinned
            # the search saves travel only: it never adds to the overflow the chains left
            seats = np.maximum(seats, loads(local, school, m))
            school, shifts, swaps = local_search(local, school, seats, adjacency=adjacency, movable=movable)
            passes = CONTIGUOUS_CHAIN_PASSES if adjacency is not None and not restarted else CHAIN_PASSES
            school, kept, touched = chain_improve(
                local, school, seats, prices, adjacency=adjacency, pinned=pinned, max_passes=passes
            )
            school, shifts2, swaps2 = local_search(
                local, school, seats, dirty=touched, adjacency=adjacency, movable=movable
            )
            details.update({"shifts": shifts + shifts2, "swaps": swaps + swaps2, "chain_improvements": kept})
        details.update({"chain_rounds": chain_stats.chain_rounds, "chain_moves": chain_stats.chain_moves})
        worst = cp_model.FEASIBLE
        # 2. If the chains could not make it fit (or a stability cap is broken): CP-SAT on
        # the split blocks and the blocks cheapest to move once chains of
        # moves are counted (reduced-cost regret), everything else fixed.
        if _excess(p, school, max_moved, penalty) > 0:
            regret = np.nan_to_num(_ejection_regret(p, school), nan=np.inf)
            n_free = max(REPAIR_FREE_PER_SPLIT * len(lp_split), REPAIR_MIN_FREE)
            has_pair = np.flatnonzero((p.start[1:] > p.start[:-1]) & (p.demand > 0))
            order = has_pair[np.lexsort((has_pair, regret[has_pair]))]
            while True:
                free = np.union1d(lp_split, order[:n_free])
                got = sub(free, school, REPAIR_DETERMINISTIC_TIME)
                free_total = max(free_total, len(free))
                if got is not None and (got[2] == 0 or _excess(p, school, max_moved, penalty) > 0):
                    school = got[0]
                if got is None or got[1] != cp_model.OPTIMAL:
                    worst = cp_model.FEASIBLE
                if _excess(p, school, max_moved, penalty) == 0:
                    break
                if got is not None and got[1] == cp_model.UNKNOWN and budget.exhausted():
                    raise SolverError(
                        f"{level}: no whole-block plan found within the time limit; raise [solver] time_limit_s"
                    )
                if n_free >= len(order):
                    counts = p.start[1:] - p.start[:-1]
                    proven = got is not None and got[1] == cp_model.OPTIMAL and (counts <= REPAIR_CANDIDATES).all()
                    if not proven:
                        over = int(np.maximum(_load(p, school) - p.capacity, 0).sum()) if penalty is None else 0
                        moved = _moved(p, school)
                        unmet = [f"{over} students above capacity"] if over else []
                        hints = ["raise [solver] time_limit_s"]
                        if max_moved is not None and moved > max_moved:
                            unmet.append(f"{moved} students change school against max_moved {max_moved}")
                            hints.append("raise max_moved")
                        if penalty is None:
                            hints.append("set allow_overflow = true")
                        what = "fits every school" + (" within the stability cap" if max_moved is not None else "")
                        best = f" (the best has {' and '.join(unmet)})" if unmet else ""
                        advice = hints[0] if len(hints) == 1 else f"{', '.join(hints[:-1])} or {hints[-1]}"
                        raise SolverError(f"{level}: no whole-block plan found that {what}{best}; {advice}")
                    over = _load(p, school) - p.capacity
                    raise InfeasibleError(
                        summary=f"{level}: blocks are indivisible and do not fit the seats in reach",
                        shortfalls=[
                            Shortfall(
                                where=f"school {p.school_ids[j]}",
                                short_by=int(over[j]),
                                detail=f"{int(p.capacity[j])} seats; the best whole-block plan puts "
                                f"{int(p.capacity[j] + over[j])} students there",
                            )
                            for j in np.flatnonzero(over > 0)
                        ],
                        hint="allow overflow, raise capacity, or raise the maximum travel time",
                    )
                n_free *= 2

    rounds = 0
    enclaves: list[tuple[int, NDArray[np.int64]]] = []
    if adjacency is not None and roots is not None:
        school, rounds, enclaves = _make_contiguous(
            p, school, adjacency, np.asarray(roots, np.int64), root_map, cuts, details,
            flow=flow.pair_flow, max_moved=max_moved, overflow_penalty_s=penalty, seed=seed, budget=budget,
        )
    details.update({"repair_free_blocks": free_total, "contiguity_rounds": rounds, "cuts": len(cuts)})
    details["work_units"] = round(budget.spent, 3)
    details["repair_status"] = "OPTIMAL" if worst == cp_model.OPTIMAL else "FEASIBLE"
    enclave_ids = tuple(
        (str(p.school_ids[j]), tuple(p.block_ids[piece].tolist())) for j, piece in enclaves
    )
    return _plan(
        p, school, level=level, method="optimal", bound=bound, status="FEASIBLE", t0=t0,
        overflow_penalty_s=penalty, contiguous=None if adjacency is None else not enclaves,
        enclaves=enclave_ids, details=details,
    )


# --- GeoDataFrame door, metrics and zone polygons ------------------------------------

#: Equity groups whose travel is reported separately (blocks layer count columns).
EQUITY_COLUMNS = ("left_behind", "migrant", "disabled", "low_income")


@dataclass(frozen=True)
class LevelZones:
    """Zones of one level: the optimal plan beside the nearest baseline.

    Attributes
    ----------
    level
        ``primary`` or ``junior``.
    plan
        The plan asked for (``optimal`` or ``nearest``).
    nearest
        The nearest-school baseline on the same travel matrix.
    zones
        One polygon per school zone: ``school_id, name, students,
        capacity_seats, utilization, geometry`` (metric CRS).
    metrics
        JSON-able figures of both plans (see :func:`zone_metrics`).
    """

    level: str
    plan: ZonePlan
    nearest: ZonePlan
    zones: gpd.GeoDataFrame
    metrics: Mapping[str, object]


def _weighted_quantile(values: NDArray[np.float64], weights: NDArray[np.float64], q: float) -> float:
    keep = weights > 0
    values, weights = values[keep], weights[keep]
    if not len(values):
        return math.nan
    order = np.argsort(values, kind="stable")
    cum = np.cumsum(weights[order])
    return float(values[order][np.searchsorted(cum, q * cum[-1] - 1e-9)])


def _travel_figures(
    assignment: pd.DataFrame, weights: NDArray[np.float64], within: NDArray[np.bool_]
) -> dict[str, float | int | None]:
    served = (assignment["school_id"] != "").to_numpy()
    t = assignment["travel_s"].to_numpy(dtype=float, na_value=np.nan)
    total = float(weights.sum())
    w_served = weights * served
    mean = float((np.nan_to_num(t) * w_served).sum() / w_served.sum()) if w_served.sum() else math.nan
    p95 = _weighted_quantile(np.nan_to_num(t), w_served, 0.95)
    return {
        "students": int(total),
        "unserved": int(total - w_served.sum()),
        "mean_travel_s": None if math.isnan(mean) else round(mean, 1),
        "p95_travel_s": None if math.isnan(p95) else round(p95, 1),
        "share_within_standard": None if total == 0 else round(float((weights * (within & served)).sum() / total), 4),
    }


def _within_standard(assignment: pd.DataFrame, area: NDArray[np.object_], level: str) -> NDArray[np.bool_]:
    """Service standard per block: walking radius in towns and cities, 30 minutes in villages."""
    radius = URBAN_PRIMARY_RADIUS_M if level == "primary" else URBAN_JUNIOR_RADIUS_M
    t = assignment["travel_s"].to_numpy(dtype=float, na_value=np.inf)
    m = assignment["travel_m"].to_numpy(dtype=float, na_value=np.inf)
    urban = np.isin(area, ("urban", "town"))
    return np.where(urban, m <= radius, t <= RURAL_MAX_ONE_WAY_S)


def zone_metrics(plan: ZonePlan, blocks: pd.DataFrame, *, level: str) -> dict[str, object]:
    """Figures of one plan: objective, bound, gap, travel, service standard, equity groups.

    Parameters
    ----------
    plan
        Plan of ``level``.
    blocks
        Blocks table indexed by nothing in particular, with ``block_id`` and
        optionally ``area_type`` and the equity count columns.
    level
        ``primary`` or ``junior``.

    Returns
    -------
    dict
        JSON-able.
    """
    a = plan.assignment
    b = blocks.set_index(blocks["block_id"].astype(str)).reindex(a["block_id"])
    area = (b["area_type"] if "area_type" in b else pd.Series("rural", index=b.index)).fillna("rural")
    within = _within_standard(a, area.astype(str).to_numpy(dtype=object), level)
    out: dict[str, object] = {
        "method": plan.method,
        "status": plan.status,
        "objective_s": plan.objective_s,
        "travel_total_s": plan.travel_total_s,
        "bound_s": None if math.isnan(plan.bound_s) else plan.bound_s,
        "gap": None if math.isnan(plan.gap) else round(plan.gap, 6),
        "moved_students": plan.moved_students,
        "travel": _travel_figures(a, a["students"].to_numpy(dtype=float), within),
        "unserved_blocks": len(plan.unserved),
        "overflow": plan.overflow.to_dict("records"),
        "overflow_students": int(plan.overflow["over_by"].sum()) if len(plan.overflow) else 0,
        "utilization": {
            str(r.school_id): None if pd.isna(r.utilization) else round(float(r.utilization), 4)
            for r in plan.school_load.itertuples()
        },
        "contiguous": plan.contiguous,
        "detached_pieces": len(plan.enclaves),
        "details": dict(plan.details),
    }
    equity = {}
    for col in EQUITY_COLUMNS:
        if col in b:
            w = pd.to_numeric(b[col], errors="coerce").fillna(0).to_numpy(dtype=float)
            # children of the group at this level ≈ the group's count where the block has students
            w = np.where(a["students"].to_numpy() > 0, w, 0.0)
            equity[col] = _travel_figures(a, w, within)
    out["equity"] = equity
    return out


def school_roots(cells: NDArray[np.object_], school_points: NDArray[np.object_]) -> NDArray[np.int64]:
    """Index of each school's own block: the block (cell) containing it, else the nearest."""
    import shapely  # noqa: PLC0415

    if not len(cells):
        return np.full(len(school_points), -1, np.int64)
    tree = shapely.STRtree(cells)
    idx = tree.query_nearest(school_points, all_matches=False, return_distance=False)
    out = np.full(len(school_points), -1, np.int64)
    out[idx[0]] = idx[1]
    return out


def dissolve_zones(
    cells: NDArray[np.object_],
    block_school: NDArray[np.int64],
    schools: gpd.GeoDataFrame,
    school_load: pd.DataFrame,
) -> gpd.GeoDataFrame:
    """One polygon per school: union of the cells of its blocks, with load and utilization."""
    import shapely  # noqa: PLC0415

    ids = schools["school_id"].astype(str).to_numpy()
    geoms = []
    for j in range(len(ids)):
        mine = cells[block_school == j]
        geoms.append(shapely.union_all(mine) if len(mine) else None)
    load = school_load.set_index("school_id").reindex(ids)
    frame = gpd.GeoDataFrame(
        {
            "school_id": ids,
            "name": schools["name"].astype(str).to_numpy() if "name" in schools else ids,
            "students": load["students"].to_numpy(dtype=np.int64),
            "capacity_seats": load["capacity_seats"].to_numpy(dtype=np.int64),
            "utilization": load["utilization"].to_numpy(dtype=float),
        },
        geometry=geoms,
        crs=schools.crs,
    )
    frame = frame[frame.geometry.notna()]
    return frame.sort_values("school_id", kind="stable").reset_index(drop=True)


def plan_level(
    blocks: gpd.GeoDataFrame,
    schools: gpd.GeoDataFrame,
    travel: TravelMatrix,
    *,
    level: str,
    method: Method = "optimal",
    cells: NDArray[np.object_] | None = None,
    adjacency: sp.csr_array | None = None,
    max_travel_s: float = RURAL_MAX_ONE_WAY_S,
    stability_weight_s: int = 0,
    max_moved: int | None = None,
    allow_overflow: bool = False,
    overflow_penalty_s: int = DEFAULT_OVERFLOW_PENALTY_S,
    within_township: bool = False,
    time_limit_s: float = 30.0,
    seed: int = 0,
) -> LevelZones:
    """Zones of one level from the layers: the GeoDataFrame door to :func:`optimal_zones`.

    Parameters
    ----------
    blocks
        Blocks with ``block_id`` and ``students_<level>`` (optional
        ``current_<level>``, ``area_type``, ``township``, equity counts).
    schools
        Schools teaching the level, with ``school_id``, ``name`` and
        ``capacity_<level>``.
    travel
        Blocks × schools travel matrix (ids matching the layers).
    level
        ``primary`` or ``junior``.
    method
        ``optimal`` or ``nearest``.
    cells
        Polygon of each block (its polygon or clipped Voronoi cell), for zones.
    adjacency
        Block adjacency; with it every optimal zone is one connected piece.
    max_travel_s
        Longest acceptable travel; farther blocks are unserved.
    stability_weight_s, max_moved, allow_overflow, overflow_penalty_s
        As in :func:`optimal_zones`.
    within_township
        Keep each zone within its school's township.
    time_limit_s, seed
        Solver limits.

    Returns
    -------
    LevelZones
    """
    problems = []
    for col in ("block_id", f"students_{level}"):
        if col not in blocks:
            problems.append(Problem(layer="blocks", column=col, message="required column is missing"))
    for col in ("school_id", f"capacity_{level}"):
        if col not in schools:
            problems.append(Problem(layer="schools", column=col, message="required column is missing"))
    if problems:
        raise InputError(problems)
    block_ids = blocks["block_id"].astype(str).to_numpy()
    school_ids = schools["school_id"].astype(str).to_numpy()
    if list(travel.origin_ids) != list(block_ids) or list(travel.dest_ids) != list(school_ids):
        msg = "travel matrix ids do not match the blocks and schools layers (same rows, same order)"
        raise InputError([Problem(layer="travel", message=msg)])
    demand = blocks[f"students_{level}"].fillna(0).to_numpy(dtype=np.int64)
    capacity = schools[f"capacity_{level}"].fillna(0).to_numpy(dtype=np.int64)
    current = None
    col = f"current_{level}"
    if col in blocks and blocks[col].notna().any():
        pos = {s: k for k, s in enumerate(school_ids)}
        cur_ids = blocks[col].astype("string").fillna("").to_numpy(dtype=object)
        current = np.array([pos.get(s, -2) if s else -1 for s in cur_ids], dtype=np.int64)
        current[current == -2] = len(school_ids)  # a closed/other school: staying is impossible
    block_group = school_group = None
    if within_township and "township" in blocks and "township" in schools:
        block_group = blocks["township"].astype("string").fillna("").to_numpy(dtype=object)
        school_group = schools["township"].astype("string").fillna("").to_numpy(dtype=object)
    roots = None
    if adjacency is not None and cells is not None:
        roots = school_roots(np.asarray(cells, dtype=object), schools.geometry.to_numpy())
    common = dict(level=level, max_travel_s=float(max_travel_s), block_group=block_group, school_group=school_group)
    nearest = nearest_zones(travel, demand, capacity, current=current, **common)
    if method == "nearest":
        plan = nearest
    else:
        plan = optimal_zones(
            travel, demand, capacity, current=current, stability_weight_s=int(stability_weight_s),
            max_moved=max_moved, allow_overflow=allow_overflow, overflow_penalty_s=int(overflow_penalty_s),
            adjacency=adjacency, roots=roots, time_limit_s=time_limit_s, seed=seed, **common,
        )
    table = pd.DataFrame(blocks.drop(columns=blocks.geometry.name))
    metrics = {
        "level": level,
        "plan": zone_metrics(plan, table, level=level),
        "nearest": zone_metrics(nearest, table, level=level),
        "max_travel_s": float(max_travel_s),
        "travel_mode": travel.mode,
    }
    if cells is None:
        cells = blocks.geometry.to_numpy()
    zones = dissolve_zones(np.asarray(cells, dtype=object), plan.block_school, schools, plan.school_load)
    return LevelZones(level=level, plan=plan, nearest=nearest, zones=zones, metrics=metrics)
