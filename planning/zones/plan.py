"""Single-school catchment zones (单校划片): the nearest baseline and the optimal plan, on arrays.

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
cheapest to move in reduced costs, growing the set until it fits. With
overflow allowed (``allow_overflow``, or the capacity fallback) the seats are
not hard, and the rounding is instead a search scored with the overflow
penalty (:mod:`planning.zones.fallback`): least overflow, then travel; the
contiguity pass may then spend at most :data:`MEND_SHARE_SOFT` of the budget.

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
whole zones stay whole while the chains make up the seats. Where they stall,
paths of such moves to zones with room fit the seats from the whole zones the
chains started from (:func:`planning.zones.whole_seats.fit_whole`); when they
do, the restart below is made too, and its mended plan is kept instead when it
has no more pieces and costs clearly less (``_keep_better``). Only if
neither can fit the excess (or making zones whole broke the stability cap) does
the rounding start again from the relaxation's partition and fit the seats
with any moves; the contiguity pass
(:func:`planning.zones.contiguity.make_contiguous`) then mends the zones: root blocks sent home;
pieces without students handed over; each detached piece handed whole to a
bordering zone, making room there by a chain of at most two edge-block moves
that keep the zones whole; what is left is re-solved with CP-SAT in windows
growing around each piece with connectivity enforced exactly (a rooted tree
per zone, :mod:`planning.zones.connect`), until every zone is one piece or the
work budget is spent (the plan then reports the pieces left). With
``options.anytime``, whole zones are then improved the same way (each zone
with the zones it borders) before the anytime phase.

Co-located schools. Schools of the level that share their own block and reach
every block in the same time are interchangeable: with contiguity they are
zoned as one site and the site's zone is split among them afterwards
(:mod:`planning.zones.sites`), instead of a search among their equal plans.

Where the steps live: :mod:`planning.zones.instance` (pairs in reach),
:mod:`planning.zones.relaxation`, :mod:`planning.zones.rounding`,
:mod:`planning.zones.repair` (CP-SAT), :mod:`planning.zones.contiguity`,
:mod:`planning.zones.sites` (co-located schools); this
module runs them in order (:func:`optimal_zones`) and builds the
:class:`ZonePlan`.

Anytime phase (``options.anytime``, :mod:`planning.zones.anytime`). What is
left of the time limit after that first plan improves it (CP-SAT over groups
of neighbouring zones, hinted with the best plan) and proves it (CP-SAT over
the pairs reduced-cost fixing leaves; its bound is reported when better than
the relaxation's), until the gap is at most ``options.gap_tolerance``.

Time and determinism: CP-SAT runs with one worker, a fixed ``random_seed`` and
a deterministic-time limit, and every loop stops on a work budget of
:data:`planning.zones.options.WORK_PER_SECOND` units per second of
``time_limit_s``, so the answer does not depend on machine speed. The limit
itself is a wall-clock cap from the start of the solve (each CP-SAT call gets
the time left; :data:`WALL_MARGIN_S` past it at most once the first plan is
made); when it, not the budget, stops a search the plan says so
(:attr:`ZonePlan.wall_stops`, and ``details["wall_cap"]`` in ``metrics.json``:
only then, so a run the budget stopped writes the same file on any machine). Solve times (wall clock) are kept on the plan,
not in ``metrics.json``.
Every output is sorted by id.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.sparse as sp
from numpy.typing import NDArray

from geo.errors import InfeasibleError, InputError, Problem, SolverError
from geo.travel import TravelMatrix
from planning.zones.anytime import FIRST_PLAN_WORK_PER_PAIR, improve, plan_cost
from planning.zones.connect import improve_plan
from planning.zones.contiguity import (
    MAX_CONTIGUITY_ROUNDS,
    Pace,
    Walls,
    attach_greedily,
    detached_pieces,
    make_contiguous,
    why_detached,
)
from planning.zones.fallback import WORK_PER_EVAL, overflow_search
from planning.zones.instance import (
    BlockGraph,
    Instance,
    Reach,
    excess,
    pair_index,
    prepare,
    students_at,
    students_moved,
)
from planning.zones.options import DEFAULT_LIMITS, DEFAULT_OPTIONS, WORK_PER_SECOND, SolveLimits, ZoneOptions, work_budget
from planning.zones.relaxation import Relaxation, relax
from planning.zones.repair import MIN_CALL_WALL_S, Cut, Repair, WorkBudget, integer_repair
from planning.zones.rounding import (
    LocalPairs,
    chain_improve,
    ejection_repair,
    loads,
    local_pairs,
    local_search,
    round_flow,
    seat_prices,
)
from planning.zones.sites import Sites, find_sites, merge, split
from planning.zones.whole_seats import fit_whole

#: Cheapest schools per block the whole-block rounding may move it to (plus the
#: schools the relaxation uses): moving a block farther is never worth it in practice.
LOCAL_CANDIDATES = 8
#: Passes of chain improvement (each rebuilds the school graph); when zones were made
#: whole before the rounding, it starts further from the relaxation, so more.
CHAIN_PASSES = 2
CONTIGUOUS_CHAIN_PASSES = 8
#: Least time limit (seconds) of the split of a site's zone among its schools when the
#: sites' plan spent the rest: enough for a few contiguity windows.
MIN_PART_BUDGET = 1.0
#: Share of the work budget left that the contiguity pass of the restarted rounding may spend when the
#: whole zones' seats fit too (:func:`_keep_better`; the improvement of whole zones gets the rest). On the
#: zones suite at 24 units that pass joined every piece in 0.8-3.5 units (1,000 x 40, slack 1.01-1.06) and
#: 7.3 (uniform 3,000 x 80, 1.01); on town 3,000 x 80 at 1.01 it left a piece after 24, and at half the
#: budget left its 10 units cost the whole plan's improvement 0.42 points (+2.523 % became +2.947 %).
OTHER_MEND_SHARE = 0.25
#: Least share of the whole rounding's objective by which the restarted rounding must be cheaper to be kept
#: (and, torn, to be mended at all). The improvement of whole zones that follows gains more from some whole
#: roundings: on town 1,000 x 40 at slack 1.01 the restarted rounding, 0.17 % cheaper mended, ended 0.56 %
#: dearer (8,590,258 against 8,542,108); on two towns 1,000 x 40 at 1.06 it was 0.85 % cheaper and ended
#: 2.0 % cheaper (13,007,346 against 13,271,546).
RESTART_MARGIN = 0.005
#: Contiguity passes at most while pieces are left, fewer each pass, and time remains.
MAX_MENDS = 4
#: How far past ``time_limit_s`` a solve may run once its first plan is made: the CP-SAT
#: call under way stops at the deadline but may first finish loading its model. (The
#: first plan itself, seconds even on 20,000 blocks, is always made.)
WALL_MARGIN_S = 1.0
#: Share of the work budget left after the first plan's rounding that its contiguity pass may
#: spend when overflow is allowed (capacity fallback): the rest is for the anytime windows,
#: which weigh the overflow a piece's hand-over adds against the piece (the contiguity windows
#: hand pieces over at any overflow, and on the demo county 610116 took the whole budget).
MEND_SHARE_SOFT = 0.5
#: Share of the work budget left that an overflow search (the capacity fallback's first plan, or the
#: drain after a failed hard-seat repair) may spend: it ends after the pass that reaches it, so the
#: first plan keeps to the user's limit and the rest is for the contiguity pass and the anytime phase.
OVERFLOW_SHARE = 0.5
#: Work units the drain tried between the capacity repair's doublings may spend: a tenth of the repair's
#: 2.5-unit doubling it can save (two towns 1,000 x 40 at 1.03: its drain placed the last 10 students in 0.06)
DRAIN_TRIAL_UNITS = 0.25
#: Every block may go to any school in reach (travel cap of the policy, no townships).
DEFAULT_REACH = Reach()


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
        ``block_id, school_id, travel_s, travel_m, students, boarders,
        young_boarders, reason``; unserved blocks have an empty ``school_id``
        and a ``reason``; blocks at a school beyond their day limit board
        (``boarders``; ``young_boarders``: those of grades 1–3). Blocks with no
        students are in :attr:`block_school` only.
    school_load
        One row per school, sorted by ``school_id``: ``school_id, students,
        capacity_seats, utilization, overflow, boarders, young_boarders``
        (capacity counts boarders).
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
    enclave_reasons
        Why each of :attr:`enclaves` is still apart (same order), in words:
        no bordering school in reach (no plan of whole zones exists), too few
        free seats around it, or the time limit.
    details
        Solver figures: splits, repair sizes, cut rounds, Lagrange price.
    wall_stops
        Times the wall clock (``time_limit_s``), not the deterministic work
        budget, stopped a search: when non-zero the plan may differ on a faster
        machine. Like :attr:`solve_time_s`, kept out of ``details`` (and so out
        of ``metrics.json``, which must not depend on the machine).
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
    enclave_reasons: tuple[str, ...] = ()
    details: Mapping[str, float | int | str] = field(default_factory=dict)
    wall_stops: int = 0



# --- the plan of a solve ---------------------------------------------------------------


def _minutes(travel_s: float) -> int:
    return max(1, int((travel_s + 30) // 60))


def _frames(
    p: Instance, school: NDArray[np.int64], *, level: str, lower_grades_share: float
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame, int | None]:
    n, m = len(p.demand), len(p.capacity)
    pair = pair_index(p, np.arange(n), school)
    ok = pair >= 0
    rows = np.flatnonzero(p.demand > 0)
    # per block: the pair's figures where it has one (no pair at all when every block is unserved)
    time_s, dist_m, boards = np.zeros(n, np.int64), np.zeros(n, np.int64), np.zeros(n, bool)
    time_s[ok], dist_m[ok], boards[ok] = p.time_s[pair[ok]], p.dist_m[pair[ok]], p.boards[pair[ok]]
    school_id = np.full(n, "", dtype=object)
    school_id[ok] = p.school_ids[school[ok]]
    boarders = np.where(boards, p.demand, 0)
    young = np.where(boards, np.floor(p.demand * lower_grades_share + 0.5).astype(np.int64), 0)
    reason = p.reason.copy()
    for i in np.flatnonzero(boards & (p.demand > 0)):
        reason[i] = f"boards: {_minutes(time_s[i])} min one way, beyond the day limit"
    assignment = pd.DataFrame(
        {
            "block_id": p.block_ids[rows],
            "school_id": school_id[rows].astype(str),
            "travel_s": pd.array(time_s[rows], dtype="Int64"),
            "travel_m": pd.array(dist_m[rows], dtype="Int64"),
            "students": p.demand[rows],
            "boarders": boarders[rows],
            "young_boarders": young[rows],
            "reason": reason[rows].astype(str),
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
            "boarders": np.bincount(school[served], weights=boarders[served], minlength=m).astype(np.int64),
            "young_boarders": np.bincount(school[served], weights=young[served], minlength=m).astype(np.int64),
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



@dataclass(frozen=True)
class _Finish:
    """What the optimal solve adds to a plan.

    ``enclaves`` is ``None`` when contiguity was not asked for (not checked).
    """

    bound: float
    overflow_penalty_s: int | None
    enclaves: tuple[tuple[str, tuple[str, ...]], ...] | None
    details: Mapping[str, float | int | str]
    reasons: tuple[str, ...] = ()
    wall_stops: int = 0


def _plan(
    p: Instance, school: NDArray[np.int64], *, level: str, t0: float, share: float, finish: _Finish | None = None
) -> ZonePlan:
    """The plan of ``school``: the nearest baseline without ``finish``, the optimal plan with it."""
    assignment, school_load, unserved, overflow, moved = _frames(p, school, level=level, lower_grades_share=share)
    pair = pair_index(p, np.arange(len(school)), school)
    ok = (pair >= 0) & (p.demand > 0)
    travel_total = float((p.time_s[pair[ok]] * p.demand[ok]).sum())
    objective = float((p.cost[pair[ok]] * p.demand[ok]).sum())
    if finish is not None and finish.overflow_penalty_s is not None:
        objective += float(finish.overflow_penalty_s * school_load["overflow"].sum())
    bound, status = (math.nan, "BASELINE") if finish is None else (finish.bound, "FEASIBLE")
    gap = math.nan
    if not math.isnan(bound):
        gap = 0.0 if objective <= bound else (objective - bound) / max(objective, 1.0)
        if gap <= 1e-12:
            status = "OPTIMAL"
    enclaves = None if finish is None else finish.enclaves
    return ZonePlan(
        level=level,
        method="nearest" if finish is None else "optimal",
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
        contiguous=None if enclaves is None else not enclaves,
        enclaves=enclaves or (),
        enclave_reasons=() if finish is None else finish.reasons,
        wall_stops=0 if finish is None else finish.wall_stops,
        details=_details(finish),
    )


def _details(finish: _Finish | None) -> dict[str, float | int | str]:
    """The solver figures, with ``wall_cap`` when the clock, not the work budget, stopped a search.

    Only then: a run the work budget stopped writes the same ``metrics.json`` on any machine;
    one the clock stopped may not, and says so.
    """
    if finish is None:
        return {}
    details = dict(finish.details)
    if finish.wall_stops:
        details["wall_cap"] = (
            f"the time limit stopped the search {finish.wall_stops} time(s) before its work budget: "
            "this plan may differ from run to run"
        )
    return details


# --- the two array cores -------------------------------------------------------------


def nearest_zones(
    travel: TravelMatrix,
    demand: Sequence[int] | NDArray[np.integer],
    capacity_seats: Sequence[int] | NDArray[np.integer],
    *,
    level: str = "primary",
    reach: Reach = DEFAULT_REACH,
    current: NDArray[np.integer] | None = None,
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
    reach
        Travel cap (farther blocks are unserved) and townships.
    current
        Index of each block's current school (−1 unknown), for ``moved_students``.

    Returns
    -------
    ZonePlan
    """
    t0 = time.perf_counter()
    p = prepare(travel, demand, capacity_seats, reach=reach, current=current, stability_weight_s=0)
    school, _ = round_flow(p, np.zeros(len(p.origin), np.int64))
    return _plan(p, school, level=level, t0=t0, share=reach.lower_grades_share)


def optimal_zones(
    travel: TravelMatrix,
    demand: Sequence[int] | NDArray[np.integer],
    capacity_seats: Sequence[int] | NDArray[np.integer],
    *,
    level: str = "primary",
    reach: Reach = DEFAULT_REACH,
    current: NDArray[np.integer] | None = None,
    graph: BlockGraph | None = None,
    options: ZoneOptions = DEFAULT_OPTIONS,
    limits: SolveLimits = DEFAULT_LIMITS,
) -> ZonePlan:
    """Capacitated single-school zones minimizing student travel, with a proven gap.

    See the module docstring for the model and the method. With
    ``options.method = "nearest"`` this is :func:`nearest_zones`.

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
    reach
        Travel cap, scalar or per block (blocks with no school in reach are
        unserved with a reason: boarding or school bus), and townships (zones
        stay within them).
    current
        Index of each block's current school (−1 unknown).
    graph
        Block adjacency and each school's own block: with it (and
        ``options.contiguity``) every zone is made one piece.
    options
        Stability (``stability_weight``, ``max_moved``), overflow
        (``allow_overflow``, ``overflow_penalty``) and contiguity; the travel
        cap and townships are given by ``reach``.
    limits
        ``time_limit_s``: wall-clock cap of the solve, and (times
        :data:`planning.zones.options.WORK_PER_SECOND`) the deterministic work
        budget of the CP-SAT repair, the contiguity loop and the anytime phase;
        ``wall_limit_s`` (optional) a shorter wall-clock cap; CP-SAT seed.

    Returns
    -------
    ZonePlan

    Raises
    ------
    InfeasibleError
        The stability cap cannot be met (capacity is never a reason: see below).
    SolverError
        A solver stopped without a usable answer.

    Notes
    -----
    Capacity is hard unless ``options.allow_overflow``. When no whole-block
    plan fitting every school is found within the limits (or none exists),
    the plan is the best whole-block plan the repair found; when the seats in
    reach are short even for divisible blocks, the solve runs again with
    overflow allowed at ``options.overflow_penalty`` per student. Either way
    the plan's over-full schools are in :attr:`ZonePlan.overflow` and why in
    ``details["capacity_fallback"]`` (the caller lists them as shortfalls, or
    stops when asked to be strict).
    """
    if options.method == "nearest":
        return nearest_zones(travel, demand, capacity_seats, level=level, reach=reach, current=current)
    zoning = _Zoning(travel, demand, capacity_seats, level, reach, current, graph, limits)
    deadline = _deadline(time.perf_counter(), limits)
    try:
        return zoning.solve(options)
    except (InfeasibleError, SolverError) as err:
        if options.allow_overflow:
            raise
        first = err
    # the second solve keeps to the same wall-clock deadline (and gets the whole work budget again)
    left = max(deadline - time.perf_counter(), MIN_CALL_WALL_S)
    zoning = dataclasses.replace(zoning, limits=limits.model_copy(update={"wall_limit_s": left}))
    try:
        plan = zoning.solve(options.model_copy(update={"allow_overflow": True}))
    except (InfeasibleError, SolverError):
        raise first from None
    why = first.summary if isinstance(first, InfeasibleError) else str(first)
    return dataclasses.replace(plan, details={**plan.details, "capacity_fallback": why.split("; ")[0]})


def _optimal(
    travel: TravelMatrix,
    demand: Sequence[int] | NDArray[np.integer],
    capacity_seats: Sequence[int] | NDArray[np.integer],
    *,
    level: str,
    reach: Reach,
    current: NDArray[np.integer] | None,
    graph: BlockGraph | None,
    options: ZoneOptions,
    limits: SolveLimits,
) -> ZonePlan:
    """The optimal solve proper (see :func:`optimal_zones`): capacity as ``options`` says."""
    t0 = time.perf_counter()
    p = prepare(travel, demand, capacity_seats, reach=reach, current=current, stability_weight_s=options.stability_weight_s)
    graph = _contiguity_graph(graph, options, len(p.capacity))
    penalty, max_moved = options.overflow_penalty_s, options.max_moved
    relaxed = relax(p, level=level, max_moved=max_moved, overflow_penalty_s=penalty, school_township=reach.school_township)
    st = _start(p, relaxed, graph, penalty)
    details: dict[str, float | int | str] = {
        "split_blocks": len(st.split),
        "lp_bound_s": relaxed.lp_bound,
        "lagrange_price_s": relaxed.price,
    }
    budget = WorkBudget(work_budget(limits), deadline=_deadline(t0, limits))
    r = Repair(p, relaxed.flow.pair_flow, st.roots, max_moved, penalty, limits.seed, budget)
    cuts: list[Cut] = []
    school, rounded, free_total, other = st.school, False, 0, None
    if graph is not None:
        school = _whole_zones_first(p, st, graph, penalty)
    if penalty is not None and max_moved is None:
        # overflow allowed: least overflow, then travel (the chains treat seats as hard)
        school, rounded = _round_soft(r, st, school, None if graph is None else graph.adjacency, details), True
    elif len(st.split) or (loads(st.local, school, len(p.capacity)) > st.room).any() or excess(p, school, max_moved, penalty) > 0:
        (school, other), rounded = _round(p, st, school, graph=graph, max_moved=max_moved, details=details, repair=r), True
        if excess(p, school, max_moved, penalty) > 0:
            # capacity hard: the best whole-block plan, over-full schools noted, if none fits
            notes = details if penalty is None else None
            drain = _drain_trial(r, st, round(options.overflow_penalty)) if penalty is None and max_moved is None else None
            school, free_total = integer_repair(r, school, st.split, level=level, cuts=cuts, notes=notes, drain=drain)
            if penalty is None and max_moved is None and excess(p, school, None, None) > 0:
                school = _drain(r, st, school, round(options.overflow_penalty), details)
    rounds = 0
    enclaves: list[tuple[int, NDArray[np.int64]]] = []
    if graph is not None:
        with _capped(r.budget, MEND_SHARE_SOFT if penalty is not None and options.anytime else 1.0):
            school, rounds, enclaves = _mend(r, school, graph, cuts, details, anytime=options.anytime)
        if other is not None:
            school, rounds, enclaves = _keep_better(r, (school, rounds, enclaves), other, graph, cuts, details, anytime=options.anytime)
    details.update({"repair_free_blocks": free_total, "contiguity_rounds": rounds, "cuts": len(cuts)})
    details["first_plan_work_units"] = round(r.budget.spent, 3)
    if graph is not None and options.anytime and excess(p, school, max_moved, penalty) == 0:
        school = improve_plan(r, school, graph, details)  # whole zones kept whole (exact connectivity), pieces left as they are
        enclaves = detached_pieces(school, graph.adjacency, graph.roots, p.connector)
    bound = relaxed.bound
    if options.anytime and excess(p, school, max_moved, penalty) == 0:
        school, bound = _anytime(r, school, relaxed, graph, options, details)
        if graph is not None:
            enclaves = detached_pieces(school, graph.adjacency, graph.roots, p.connector)
    details["work_units"] = round(r.budget.spent, 3)
    details["repair_status"] = "FEASIBLE" if rounded else "OPTIMAL"
    enclave_ids, reasons = _enclave_report(p, school, enclaves, graph, penalty)
    scored, bound = _scored(p, school, options, bound, level=level, reach=reach)
    if scored is not None and graph is not None:
        bound = _home_bound(p, school, st.roots, scored, bound, options=options, reach=reach, details=details)
    finish = _Finish(bound, scored, None if graph is None else enclave_ids, details, reasons, r.budget.wall_stops)
    return _plan(p, school, level=level, t0=t0, share=reach.lower_grades_share, finish=finish)


def _mend(
    r: Repair, school: NDArray[np.int64], graph: BlockGraph, cuts: list[Cut], details: dict[str, float | int | str], *,
    anytime: bool, pace: Pace | None = None,
) -> tuple[NDArray[np.int64], int, list[tuple[int, NDArray[np.int64]]]]:
    """The contiguity pass; with ``anytime``, more rounds from the cuts found so far while pieces are left and time remains.

    Pieces that hold a block no zone can hold whole (:class:`Walls`) are left
    as they are: no window can join them (the demo on county 540235 spent its
    whole budget on six such villages, the same six at 20 s and 80 s). With
    ``pace``, the pass stops once it is :meth:`Pace.behind`.
    """
    walls = Walls(r.p, graph)
    school, rounds, enclaves = make_contiguous(r, school, graph, cuts, details, walls, pace=pace)
    while (
        anytime and any(walls.walled_off(piece) is None for _, piece in enclaves) and not r.budget.exhausted()
        and rounds < MAX_MENDS * MAX_CONTIGUITY_ROUNDS and "mend_behind_pace" not in details
    ):
        school, more, left = make_contiguous(r, school, graph, cuts, details, walls, pace=pace)
        rounds += more
        if len(left) >= len(enclaves):
            enclaves = left
            break
        enclaves = left
    return school, rounds, enclaves


def _keep_better(
    r: Repair,
    mended: tuple[NDArray[np.int64], int, list[tuple[int, NDArray[np.int64]]]],
    other: _Other,
    graph: BlockGraph,
    cuts: list[Cut],
    details: dict[str, float | int | str],
    *,
    anytime: bool,
) -> tuple[NDArray[np.int64], int, list[tuple[int, NDArray[np.int64]]]]:
    """The better of the mended whole rounding and the restarted rounding (:class:`_Other`) after its contiguity pass.

    Better: fewer detached pieces holding students, then fewer students over
    capacity, then an objective lower by more than :data:`RESTART_MARGIN` (the
    whole rounding wins ties and near ties). The restarted rounding is mended
    only when its torn zones already cost that much less, and its pass may
    spend :data:`OTHER_MEND_SHARE` of the budget left, stopping once it joins
    its pieces too slowly to finish (:class:`planning.zones.contiguity.Pace`). ``details`` and ``cuts``
    become the kept plan's (in place), with ``kept_rounding`` saying which and
    ``rounding_candidates`` both plans' figures.
    """
    whole = _rank(r, mended[0], mended[2])
    torn = int(plan_cost(r.p, other.school, r.overflow_penalty_s))
    if torn >= (1 - RESTART_MARGIN) * whole[2]:
        details.update({"rounding_candidates": f"whole {whole[2]}; restarted {torn} torn (not mended)", "kept_rounding": "whole"})
        return mended
    got, spent = list(cuts), r.budget.spent
    with _capped(r.budget, OTHER_MEND_SHARE):
        restarted = _mend(r, other.school, graph, got, other.details, anytime=anytime, pace=Pace(r.budget, spent))
    spent = r.budget.spent - spent
    restart = _rank(r, restarted[0], restarted[2])
    note = {
        "rounding_candidates": f"whole {whole[2]} ({whole[0]} pieces, {whole[1]} over); restarted {restart[2]} "
        f"({restart[0]} pieces, {restart[1]} over; {torn} torn, mended in {spent:.3f} units)",
    }
    if restart[:2] < whole[:2] or (restart[:2] == whole[:2] and restart[2] < (1 - RESTART_MARGIN) * whole[2]):
        details.clear()
        details.update({**other.details, **note, "kept_rounding": "restarted"})
        cuts[:] = got
        return restarted
    details.update({**note, "kept_rounding": "whole"})
    return mended


def _rank(r: Repair, school: NDArray[np.int64], enclaves: list[tuple[int, NDArray[np.int64]]]) -> tuple[int, int, int]:
    """Detached pieces holding students, students over capacity, objective: the order :func:`_keep_better` ranks plans in."""
    p = r.p
    pieces = sum(1 for _, piece in enclaves if p.demand[piece].sum() > 0)
    over = int(np.maximum(students_at(p, school) - p.capacity, 0).sum())
    return pieces, over, int(plan_cost(p, school, r.overflow_penalty_s))


@contextlib.contextmanager
def _capped(budget: WorkBudget, share: float) -> Iterator[None]:
    """Let the work inside spend at most ``share`` of what is left of ``budget`` (the rest stays for later phases)."""
    full = budget.limit
    budget.limit = min(full, budget.spent + share * budget.remaining())
    try:
        yield
    finally:
        budget.limit = full


def _scored(
    p: Instance, school: NDArray[np.int64], options: ZoneOptions, bound: float, *, level: str, reach: Reach
) -> tuple[int | None, float]:
    """The overflow penalty a plan's objective counts, and the bound to compare it with.

    With hard seats a plan overfilling a school is the capacity fallback (the
    best whole-block plan found; the caller lists the over-full schools). Its
    travel alone, against the bound of plans that fit, could read as optimal
    (gap 0) when it only beats them by breaking the seats: so it is scored like
    the other fallback, overflow at ``options.overflow_penalty`` per student,
    against the relaxation that allows overflow at that penalty (a valid bound
    of that objective).
    """
    if options.overflow_penalty_s is not None or not (students_at(p, school) > p.capacity).any():
        return options.overflow_penalty_s, bound
    penalty = round(options.overflow_penalty)
    soft = relax(p, level=level, max_moved=options.max_moved, overflow_penalty_s=penalty, school_township=reach.school_township)
    return penalty, min(bound, soft.bound)


def _home_bound(
    p: Instance, school: NDArray[np.int64], roots: Mapping[int, int], penalty: int, bound: float, *,
    options: ZoneOptions, reach: Reach, details: dict[str, float | int | str],
) -> float:
    """A plan scored with overflow, zones whole: the bound raised by the relaxation keeping each school's own block home.

    A whole zone holds its school's own block, so the relaxation with each such
    block at its school (the rest divisible, overflow at ``penalty``) bounds
    every plan of whole zones; where an own block has more pupils than its
    school has seats (demo county 530102: three blocks, 657 students over by
    themselves), that overflow is forced, and the relaxation without it reads
    a large gap the plan cannot close. Used only when the plan keeps every own
    block home (otherwise ``bound`` is returned).
    """
    home = {j: b for j, b in roots.items() if (pair_index(p, np.array([b]), np.array([j])) >= 0)[0]}
    if not home or any(school[b] != j for j, b in home.items()):
        return bound
    keep = np.ones(len(p.origin), bool)
    for j, b in home.items():
        keep[p.start[b] : p.start[b + 1]] = p.dest[p.start[b] : p.start[b + 1]] == j
    idx = np.flatnonzero(keep)
    pinned = dataclasses.replace(
        p, origin=p.origin[idx], dest=p.dest[idx], time_s=p.time_s[idx], dist_m=p.dist_m[idx], cost=p.cost[idx],
        moved=p.moved[idx], boards=p.boards[idx], start=np.searchsorted(p.origin[idx], np.arange(len(p.demand) + 1)),
    )
    got = relax(pinned, level="", max_moved=options.max_moved, overflow_penalty_s=penalty, school_township=reach.school_township)
    if got.bound > bound:
        details["bound_source"] = "relaxation with own blocks home"
        return got.bound
    return bound


def _enclave_report(
    p: Instance,
    school: NDArray[np.int64],
    enclaves: list[tuple[int, NDArray[np.int64]]],
    graph: BlockGraph | None,
    penalty: int | None,
) -> tuple[tuple[tuple[str, tuple[str, ...]], ...], tuple[str, ...]]:
    """Each detached piece as ``(school id, block ids)`` and why it is still apart."""
    ids = tuple((str(p.school_ids[j]), tuple(p.block_ids[piece].tolist())) for j, piece in enclaves)
    if graph is None:
        return ids, ()
    reasons = tuple(why_detached(p, school, j, piece, graph, seats_hard=penalty is None) for j, piece in enclaves)
    return ids, reasons


def _deadline(t0: float, limits: SolveLimits) -> float:
    """Wall-clock deadline of a solve started at ``t0``: the time limit, or the wall limit when shorter."""
    wall = limits.time_limit_s if limits.wall_limit_s is None else min(limits.time_limit_s, limits.wall_limit_s)
    return t0 + wall


def _anytime(
    r: Repair,
    school: NDArray[np.int64],
    relaxed: Relaxation,
    graph: BlockGraph | None,
    options: ZoneOptions,
    details: dict[str, float | int | str],
) -> tuple[NDArray[np.int64], float]:
    """The anytime phase (:mod:`planning.zones.anytime`) on the first plan: the better plan and the best bound."""
    got = improve(
        r, school, relaxed.bound, pair_flow=relaxed.flow.pair_flow, price=relaxed.price, graph=graph,
        tolerance=options.gap_tolerance,
    )
    details.update(
        {
            "first_plan_objective_s": plan_cost(r.p, school, r.overflow_penalty_s),
            "windows": got.windows,
            "window_improvements": got.improvements,
            "proof_status": got.proof_status,
            "proof_pairs": got.proof_pairs,
            "bound_source": got.bound_source if got.bound > relaxed.bound else "relaxation",
        }
    )
    return got.school, max(got.bound, relaxed.bound)


@dataclass(frozen=True)
class _Zoning:
    """The inputs of one optimal solve (everything but the options)."""

    travel: TravelMatrix
    demand: Sequence[int] | NDArray[np.integer]
    capacity_seats: Sequence[int] | NDArray[np.integer]
    level: str
    reach: Reach
    current: NDArray[np.integer] | None
    graph: BlockGraph | None
    limits: SolveLimits

    def twins(self, options: ZoneOptions) -> Sites | None:
        """Co-located schools to zone as one site each: only when zones are to be whole."""
        g = self.graph
        if g is None or not options.contiguity or len(g.roots) != self.travel.shape[1]:
            return None
        return find_sites(self.travel, self.reach, g)

    def solve(self, options: ZoneOptions) -> ZonePlan:
        """The optimal solve: co-located schools as one site each when that splits well, else school by school."""
        sites = self.twins(options)
        if sites is not None and self.graph is not None:
            plan = _by_site(self, sites, self.graph, options)
            if plan is not None:
                return plan
        return _optimal(
            self.travel, self.demand, self.capacity_seats, level=self.level, reach=self.reach, current=self.current,
            graph=self.graph, options=options, limits=self.limits,
        )


def _by_site(z: _Zoning, sites: Sites, graph: BlockGraph, options: ZoneOptions) -> ZonePlan | None:
    """The plan of co-located schools zoned as one site each, the sites' zones split (:mod:`planning.zones.sites`).

    ``None`` when the split in whole blocks leaves more students above seats, or
    more moved students above the cap, than the sites' plan: the schools are then
    zoned one by one.
    """
    t0 = time.perf_counter()
    p = prepare(
        z.travel, z.demand, z.capacity_seats, reach=z.reach, current=z.current, stability_weight_s=options.stability_weight_s
    )
    si = merge(sites, z.travel, p.capacity, z.current, z.reach, graph)
    site_plan = _optimal(
        si.travel, z.demand, si.capacity, level=z.level, reach=si.reach, current=si.current, graph=si.graph,
        options=options, limits=z.limits,
    )
    # the site's zone among its schools, with the work budget the sites' plan left
    # (work left, in seconds of time limit: deterministic; the wall clock left is the cap)
    spent = float(site_plan.details.get("work_units", 0.0))
    left_s = max(z.limits.time_limit_s - spent / WORK_PER_SECOND, MIN_PART_BUDGET)
    deadline = _deadline(t0, z.limits)

    def solve_part(
        travel: TravelMatrix, demand: NDArray[np.int64], seats: NDArray[np.int64], current: NDArray[np.int64],
        part: BlockGraph,
    ) -> NDArray[np.int64]:
        opts = options.model_copy(update={"max_moved": None})
        return optimal_zones(
            travel, demand, seats, level=z.level, reach=Reach(max_travel_s=None), current=current, graph=part,
            options=opts, limits=z.limits.model_copy(
                update={"time_limit_s": left_s, "wall_limit_s": max(deadline - time.perf_counter(), MIN_CALL_WALL_S)}
            ),
        ).block_school

    school = split(p, site_plan.block_school, sites, graph, solve_part)
    penalty, max_moved = options.overflow_penalty_s, options.max_moved
    over = int(np.maximum(students_at(p, school) - p.capacity, 0).sum())
    if penalty is None and over > int(site_plan.overflow["over_by"].sum()):
        return None
    if max_moved is not None and students_moved(p, school) > max(max_moved, site_plan.moved_students or 0):
        return None
    details: dict[str, float | int | str] = {**site_plan.details, "sites": sum(len(k) > 1 for k in sites.members)}
    # the split made each part whole where it could: pieces left are handed whole to a bordering
    # zone with room, and the rest reported, not searched again (the schools of a site are
    # interchangeable, so a search here has only equal plans to try)
    if detached_pieces(school, graph.adjacency, graph.roots, p.connector):
        school = attach_greedily(p, school, graph, penalty)
    enclaves = detached_pieces(school, graph.adjacency, graph.roots, p.connector)
    enclave_ids, reasons = _enclave_report(p, school, enclaves, graph, penalty)
    scored, bound = _scored(p, school, options, site_plan.bound_s, level=z.level, reach=z.reach)
    finish = _Finish(bound, scored, enclave_ids, details, reasons, site_plan.wall_stops)
    return _plan(p, school, level=z.level, t0=t0, share=z.reach.lower_grades_share, finish=finish)


# --- phases of the optimal solve -----------------------------------------------------


def _contiguity_graph(graph: BlockGraph | None, options: ZoneOptions, m: int) -> BlockGraph | None:
    """The block graph when zones are to be whole (roots checked), else ``None``."""
    if graph is None or not options.contiguity:
        return None
    roots = np.asarray(graph.roots, np.int64)
    if len(roots) != m:
        raise InputError([Problem(layer="zones", column="roots", message="needed for every school with adjacency")])
    return BlockGraph(graph.adjacency, roots)


@dataclass(frozen=True)
class _Start:
    """What the whole-block rounding starts from and works with.

    Attributes
    ----------
    school
        The relaxation's partition in whole blocks: each split block at the
        school taking most of it, each school's own block pinned to it, blocks
        without students at the school cheapest in seat-price terms.
    split
        Blocks the relaxation splits.
    pinned
        Blocks that never move (each school's own block, under contiguity).
    roots
        School → its own block (under contiguity; blocks shared by two schools left out).
    local
        The pairs the rounding may use: each block's cheapest schools and those
        its flow uses, at the Lagrangian price of a move.
    prices
        Seat price of each school (the relaxation's duals).
    seats
        Seats of each school plus the overflow the relaxation chose.
    room
        Seats the chains may fill (one block more where the relaxation overflows).
    """

    school: NDArray[np.int64]
    split: NDArray[np.int64]
    pinned: NDArray[np.bool_]
    roots: dict[int, int]
    local: LocalPairs
    prices: NDArray[np.float64]
    seats: NDArray[np.int64]
    room: NDArray[np.int64]


def _root_map(graph: BlockGraph | None, n: int) -> dict[int, int]:
    """School → its own block, for blocks that are the root of one school only."""
    if graph is None:
        return {}
    rts = graph.roots
    counts = np.bincount(rts[rts >= 0], minlength=n)
    return {j: int(r) for j, r in enumerate(rts.tolist()) if r >= 0 and counts[r] == 1}


def _start(p: Instance, relaxed: Relaxation, graph: BlockGraph | None, penalty: int | None) -> _Start:
    """Round the relaxation to whole blocks and price the seats (see :class:`_Start`)."""
    n, flow = len(p.demand), relaxed.flow
    school, split = round_flow(p, flow.pair_flow)
    root_map = _root_map(graph, n)
    # Under contiguity each school's own block belongs to its zone: put it there and
    # never move it in the rounding (otherwise the contiguity pass must redraw both zones).
    pinned = np.zeros(n, bool)
    for j, r in root_map.items():
        if (pair_index(p, np.array([r]), np.array([j])) >= 0)[0]:
            school[r] = j
            pinned[r] = True
    rank = np.arange(len(p.origin)) - p.start[p.origin]
    keep = (rank < LOCAL_CANDIDATES) | (flow.pair_flow > 0)
    local = local_pairs(p, keep)
    if relaxed.price:  # costs include the Lagrangian price of a move when a stability cap is set
        local = dataclasses.replace(local, cost=local.cost + np.int64(relaxed.price) * p.moved[keep])
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
    return _Start(school, np.flatnonzero(split), pinned, root_map, local, prices, seats, room)


def _whole_zones_first(p: Instance, st: _Start, graph: BlockGraph, penalty: int | None) -> NDArray[np.int64]:
    """Start the rounding from whole zones.

    The relaxation's zones are star-shaped about their schools in the plane,
    but on blocks a thin one falls apart: pieces without students go first
    (free), then each detached piece joins the bordering zone cheapest in
    seat-price terms, and the chains make up the seats with moves that keep
    zones whole.
    """
    school = attach_greedily(p, st.school, graph, penalty, only_empty=True, pairs=st.local)
    return attach_greedily(p, school, graph, penalty, seat_prices=st.prices, pairs=st.local)


def _round(
    p: Instance,
    st: _Start,
    school: NDArray[np.int64],
    *,
    graph: BlockGraph | None,
    max_moved: int | None,
    details: dict[str, float | int | str],
    repair: Repair,
) -> tuple[NDArray[np.int64], _Other | None]:
    """Whole-block rounding (:mod:`planning.zones.rounding`).

    Pass the excess along ejection chains priced with the relaxation's seat
    prices, then shifts, swaps and chain moves while travel falls. With
    contiguity asked for, blocks move only to zones they border, and where those
    chains stall the paths of :mod:`planning.zones.whole_seats` fit the seats.
    Returns the plan and, when those paths fit the seats, the rounding started
    again from the relaxation's partition (:func:`_restart`), for :func:`_keep_better`.
    """
    adjacency = None if graph is None else graph.adjacency
    start = school
    school, chain_stats = ejection_repair(
        st.local, school, st.room, st.prices, adjacency=adjacency, pinned=st.pinned, whole_only=adjacency is not None
    )
    other = None
    if graph is not None and (loads(st.local, school, len(p.capacity)) > st.room).any():
        # the chains stalled, and the moves they made cost much travel: paths from the zones they started from
        school = fit_whole(repair, start, graph, pinned=st.pinned, details=details)
        if max_moved is None and (loads(st.local, school, len(p.capacity)) <= st.room).all():
            other = _restart(p, st, graph, chain_stats.chain_rounds, details, repair)
    restarted = False
    stalled = graph is not None and (loads(st.local, school, len(p.capacity)) > st.room).any()
    if stalled or (max_moved is not None and students_moved(p, school) > max_moved):
        # Moves keeping the zones whole could not fit the seats (tight seats, or thin
        # zones handed over whole to full neighbours), or making zones whole moved more
        # students than the stability cap allows: start again from the relaxation's
        # partition and fit the seats first; the contiguity pass mends the zones.
        details["restarted_after_chain_rounds"] = chain_stats.chain_rounds
        restarted = True
        school, chain_stats = ejection_repair(st.local, st.school, st.room, st.prices, pinned=st.pinned)
    if (loads(st.local, school, len(p.capacity)) <= st.room).all():
        passes = CONTIGUOUS_CHAIN_PASSES if adjacency is not None and not restarted else CHAIN_PASSES
        school = _improve(st, school, adjacency=adjacency, passes=passes, details=details)
    details.update({"chain_rounds": chain_stats.chain_rounds, "chain_moves": chain_stats.chain_moves})
    return school, other


@dataclass(frozen=True)
class _Other:
    """The rounding started again from the relaxation's partition, beside whole zones whose seats fit.

    Its zones are torn (the contiguity pass mends them); ``details`` are the
    solve's figures as they would read had this rounding been the only one.
    """

    school: NDArray[np.int64]
    details: dict[str, float | int | str]


def _restart(
    p: Instance, st: _Start, graph: BlockGraph, whole_rounds: int, details: dict[str, float | int | str], r: Repair
) -> _Other | None:
    """The rounding from the relaxation's partition (as when the whole zones cannot fit the seats), if its seats fit.

    :func:`planning.zones.whole_seats.fit_whole` fits the seats from the whole
    zones the chains started from, which can be dearer than this rounding
    mended by the contiguity pass (two towns 1,000 x 40 at slack 1.06: 13,539,102
    against 13,424,691 before the improvement of whole zones): the solve keeps
    both and :func:`_keep_better` picks one. Its work is charged like the first
    plan's (:data:`planning.zones.anytime.FIRST_PLAN_WORK_PER_PAIR` per pair).
    """
    trial = {**details, "restarted_after_chain_rounds": whole_rounds}
    school, stats = ejection_repair(st.local, st.school, st.room, st.prices, pinned=st.pinned)
    r.budget.add(FIRST_PLAN_WORK_PER_PAIR * len(p.origin))
    if (loads(st.local, school, len(p.capacity)) > st.room).any():
        return None
    school = _improve(st, school, adjacency=graph.adjacency, passes=CHAIN_PASSES, details=trial)
    trial.update({"chain_rounds": stats.chain_rounds, "chain_moves": stats.chain_moves})
    return _Other(school, trial)


def _drain(
    r: Repair, st: _Start, school: NDArray[np.int64], penalty: int, details: dict[str, float | int | str],
    *, max_units: float | None = None,
) -> NDArray[np.int64]:
    """The hard-seat repair's best plan still overfills schools: the penalized search drains what it can.

    That plan is scored with overflow at a penalty above any travel a move of
    whole blocks can save (at least ``penalty``), so the search takes the least
    overflow first and travel second (demo county 530102, primary: 124 fewer
    students over); with the user's penalty alone, far blocks traded seats for
    travel (the zones suite's two towns 1,000 x 40 at slack 1.03: 10 students
    over became 164). Zones are not kept whole here: the contiguity pass
    comes after.
    """
    before = int(np.maximum(students_at(r.p, school) - r.p.capacity, 0).sum())
    # capacity is hard here: no move may trade a student above capacity for travel, whatever it saves
    strict = max(penalty, int(r.p.cost.max(initial=0)) * (2 * int(r.p.demand.max(initial=0)) + 1) + 1)
    drained, stats = overflow_search(
        r.p, school, r.p.capacity, strict, movable=~st.pinned, adjacency=None,
        max_evaluated=_evaluations(r) if max_units is None else min(_evaluations(r), int(max_units / WORK_PER_EVAL)),
    )
    r.budget.spent += WORK_PER_EVAL * stats.evaluated
    after = int(np.maximum(students_at(r.p, drained) - r.p.capacity, 0).sum())
    if after <= before:
        school = drained
    if after == 0:  # the plan fits after all: no fallback to report
        details.pop("capacity_fallback", None)
    elif after < before and "capacity_fallback" in details:  # the note counts the drained plan's students over
        note = str(details["capacity_fallback"])
        details["capacity_fallback"] = note.replace(f"has {before} students above", f"has {after} students above")
    details.update({"drained_overflow": before - min(after, before)})
    return school


def _drain_trial(r: Repair, st: _Start, penalty: int) -> Callable[[NDArray[np.int64]], NDArray[np.int64]]:
    """The drain the capacity repair tries before each doubling: :data:`DRAIN_TRIAL_UNITS` at most, nothing noted."""

    def drain(school: NDArray[np.int64]) -> NDArray[np.int64]:
        return _drain(r, st, school, penalty, {}, max_units=DRAIN_TRIAL_UNITS)

    return drain


def _evaluations(r: Repair) -> int:
    """Moves an overflow search may evaluate: :data:`OVERFLOW_SHARE` of the work budget left."""
    return int(OVERFLOW_SHARE * r.budget.remaining() / WORK_PER_EVAL)


def _round_soft(
    r: Repair, st: _Start, school: NDArray[np.int64], adjacency: sp.csr_array | None, details: dict[str, float | int | str]
) -> NDArray[np.int64]:
    """Whole-block rounding when overflow is allowed at a penalty (:mod:`planning.zones.fallback`).

    Shifts, swaps and two-step chains scored with the penalty drain the
    rounding's excess to the free seats its blocks reach; then shifts, swaps
    and chain moves that save travel, no school taking more than it then has.
    With ``adjacency`` (zones to be whole, started whole) every move keeps
    whole zones whole. Its work is charged to the budget: per move evaluated,
    and the travel moves as the first plan's work per pair
    (:data:`planning.zones.anytime.FIRST_PLAN_WORK_PER_PAIR`).
    """
    p, penalty = r.p, int(r.overflow_penalty_s or 0)
    movable = ~st.pinned
    school, stats = overflow_search(
        p, school, p.capacity, penalty, movable=movable, adjacency=adjacency, max_evaluated=_evaluations(r)
    )
    seats = np.maximum(p.capacity, students_at(p, school))
    school, shifts, swaps = local_search(st.local, school, seats, movable=movable, adjacency=adjacency)
    school, kept, _ = chain_improve(
        st.local, school, seats, np.minimum(st.prices, penalty), adjacency=adjacency, pinned=st.pinned, max_passes=CHAIN_PASSES
    )
    r.budget.spent += WORK_PER_EVAL * stats.evaluated + FIRST_PLAN_WORK_PER_PAIR * len(p.origin)
    details.update(
        {
            "overflow_shifts": stats.shifts, "overflow_exchanges": stats.exchanges, "shifts": shifts, "swaps": swaps,
            "chain_improvements": kept,
        }
    )
    return school


def _improve(
    st: _Start, school: NDArray[np.int64], *, adjacency: sp.csr_array | None, passes: int, details: dict[str, float | int | str]
) -> NDArray[np.int64]:
    """Shifts, swaps and chain moves while travel falls, on a plan the chains fitted."""
    movable = ~st.pinned
    # the search saves travel only: it never adds to the overflow the chains left
    seats = np.maximum(st.seats, loads(st.local, school, len(st.seats)))
    school, shifts, swaps = local_search(st.local, school, seats, adjacency=adjacency, movable=movable)
    school, kept, touched = chain_improve(
        st.local, school, seats, st.prices, adjacency=adjacency, pinned=st.pinned, max_passes=passes
    )
    school, shifts2, swaps2 = local_search(st.local, school, seats, dirty=touched, adjacency=adjacency, movable=movable)
    details.update({"shifts": shifts + shifts2, "swaps": swaps + swaps2, "chain_improvements": kept})
    return school
