"""CP-SAT repair of a whole-block plan: a few blocks re-assigned, everything else fixed.

Used when the chain rounding (:mod:`planning.zones.rounding`) cannot fit every
block or meet the stability cap (:func:`integer_repair`: the split blocks and
the blocks cheapest to move in reduced costs, growing the set until it fits),
and by the contiguity pass for its windows (:mod:`planning.zones.contiguity`).

Sub-model (:func:`solve_sub`). Binary ``x_ij`` for each free block ``i`` and
its candidate schools (its cheapest :data:`REPAIR_CANDIDATES`, the schools its
relaxation flow uses, its current school, its school in the plan, schools of
cuts it borders): exactly one per block; ``Σ_i d_i x_ij ≤ c_j − fixed load_j +
o_j`` with the overflow ``o_j`` penalized (hard: :data:`HARD_OVERFLOW_PENALTY`);
the stability cap on the moved students left; each school's own block pinned;
contiguity cuts ``x_ij ≤ Σ_{k ∈ border} x_kj``; minimize travel plus penalties.
The plan given is a complete hint.

Determinism: one worker, a fixed seed and a deterministic-time limit charged
to a :class:`WorkBudget`, so the plan does not depend on machine speed; the
budget's wall deadline (the user's time limit) is a hard cap that binds only
on a slow machine.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray
from ortools.sat.python import cp_model
from scipy.sparse.csgraph import shortest_path

from geo.errors import InfeasibleError, Shortfall, SolverError, figures
from planning.zones.instance import Instance, excess, students_at, students_moved

logger = logging.getLogger(__name__)

#: Candidate schools per block in the CP-SAT repair (its cheapest reachable ones
#: plus every school its relaxation flow uses).
REPAIR_CANDIDATES = 8
#: Blocks freed in the integer repair per split block of the relaxation, and at least.
REPAIR_FREE_PER_SPLIT = 12
#: Blocks freed in the CP-SAT repair at least.
REPAIR_MIN_FREE = 200
#: Penalty per student above capacity inside the repair model when overflow is not
#: allowed: dominates any travel saving, so capacity holds whenever it can.
HARD_OVERFLOW_PENALTY = 10**7
#: CP-SAT deterministic time per repair solve (about seconds on one core).
REPAIR_DETERMINISTIC_TIME = 2.0
#: Work charged per variable of a CP-SAT model for building and presolving it (see ``WorkBudget.charge``).
WORK_PER_VARIABLE = 1e-4
#: Least wall time given to one CP-SAT call once the deadline is near: it must at
#: least load the model and return the hint (a solve never stops without a plan).
MIN_CALL_WALL_S = 0.05


@dataclass(frozen=True)
class Cut:
    """Contiguity cut: the ``piece`` may belong to ``school`` only if a block of ``border`` does."""

    school: int
    piece: NDArray[np.int64]
    border: NDArray[np.int64]


@dataclass(frozen=True)
class ModelCharge:
    """How the work of one kind of CP-SAT model is charged to a :class:`WorkBudget`.

    Work units stand for CPU seconds (about one each). CP-SAT's deterministic
    time leaves out the loading and presolve of a model and, for some models,
    much of its search: ``time_factor`` scales it, ``per_variable`` and
    ``per_constraint`` stand for building the model in Python and loading it.
    The default is the charge of every repair and anytime model; the windows
    with exact connectivity (:mod:`planning.zones.connect`) have their own.
    """

    time_factor: float = 1.0
    per_variable: float = WORK_PER_VARIABLE
    per_constraint: float = 0.0

    def building(self, model: cp_model.CpModel) -> float:
        """Work charged for building, loading and presolving ``model`` (outside CP-SAT's deterministic time)."""
        proto = model.proto
        return self.per_variable * len(proto.variables) + self.per_constraint * len(proto.constraints)


#: The charge of a CP-SAT model: its deterministic time plus :data:`WORK_PER_VARIABLE` per variable.
DEFAULT_CHARGE = ModelCharge()
#: Work charged per block and per adjacency entry each time the detached pieces of a plan are found
#: (:func:`planning.zones.pieces.detached_pieces`: numpy and scipy, about that many CPU seconds).
WORK_PER_PIECE_ELEMENT = 1.6e-7


class WorkBudget:
    """Deterministic work budget (CP-SAT deterministic time units, ≈ seconds on a typical core) and a wall deadline.

    Every repair loop stops on the deterministic budget, so the same inputs and
    seed give the same plan on a fast or a slow machine. The ``deadline``
    (``time.perf_counter()`` value; ``None``: none) is the user's time limit as
    a hard cap: each CP-SAT call gets the wall time left as its
    ``max_time_in_seconds`` and the loops stop once it has passed. It binds
    only on a machine much slower than the deterministic budget assumes, and
    then the plan depends on the machine's speed (the price of keeping the
    time limit). Work outside CP-SAT is charged by deterministic counts
    (:meth:`add`: blocks, edges, pairs, moves), calibrated in CPU seconds.
    """

    def __init__(self, limit: float, deadline: float | None = None) -> None:
        self.limit = float(limit)
        self.spent = 0.0
        self.deadline = deadline
        self.wall_stops = 0

    def charge(self, solver: cp_model.CpSolver, model: cp_model.CpModel | None = None, how: ModelCharge = DEFAULT_CHARGE) -> None:
        """Charge a call: CP-SAT's deterministic time plus the work of building and presolving its model.

        CP-SAT's deterministic time leaves out most of the model's loading and
        presolve, which on these many small models is most of the wall time; a
        fixed charge per variable (deterministic too) stands for it. ``how``
        says how this kind of model is charged (:class:`ModelCharge`).
        """
        self.spent += how.time_factor * float(solver.deterministic_time)
        if model is not None:
            self.spent += how.building(model)

    def add(self, units: float) -> None:
        """Charge work done outside CP-SAT (counted deterministically by the caller)."""
        self.spent += units

    def add_pieces(self, blocks: int, edges: int) -> None:
        """Charge one search for detached pieces over ``blocks`` blocks and ``edges`` adjacency entries."""
        self.add(WORK_PER_PIECE_ELEMENT * (blocks + edges))

    def remaining(self) -> float:
        return max(self.limit - self.spent, 0.0)

    def wall_left(self) -> float:
        """Wall seconds to the deadline (infinite without one)."""
        return float("inf") if self.deadline is None else self.deadline - time.perf_counter()

    def exhausted(self, share: float = 1.0) -> bool:
        """Whether the budget's ``share`` is spent or the deadline has passed (counted in :attr:`wall_stops`)."""
        if self.spent >= share * self.limit:
            return True
        if self.wall_left() <= 0:
            self.wall_stops += 1
            return True
        return False

    def limit_call(
        self, prm: Any, deterministic_time: float, model: cp_model.CpModel | None = None, how: ModelCharge = DEFAULT_CHARGE
    ) -> None:
        """Set a CP-SAT call's limits: deterministic time within the budget (less ``model``'s charge), wall time to the deadline."""
        building = 0.0 if model is None else how.building(model)
        prm.max_deterministic_time = max(min(deterministic_time, (self.remaining() - building) / how.time_factor), 1e-3)
        left = self.wall_left()
        if left != float("inf"):
            prm.max_time_in_seconds = max(left, MIN_CALL_WALL_S)

    def note_stop(self, solver: cp_model.CpSolver, deterministic_time: float) -> None:
        """Count a call the wall clock stopped before its deterministic limit (the plan then depends on speed)."""
        if self.deadline is not None and self.wall_left() <= 0 and solver.deterministic_time < 0.99 * deterministic_time:
            self.wall_stops += 1


@dataclass(frozen=True)
class Repair:
    """What every repair solve of one plan shares.

    Attributes
    ----------
    p
        The instance.
    flow
        Relaxation flow per pair (the schools it uses are candidates), or ``None``.
    roots
        School → its own block, pinned to it in every solve.
    max_moved
        Stability cap (``None``: none).
    overflow_penalty_s
        Penalty per student above capacity; ``None``: capacity is hard.
    seed
        CP-SAT random seed.
    budget
        Work budget every solve is charged to.
    """

    p: Instance
    flow: NDArray[np.int64] | None
    roots: Mapping[int, int]
    max_moved: int | None
    overflow_penalty_s: int | None
    seed: int
    budget: WorkBudget


@dataclass
class SubModel:
    """A repair model being built: its variables and the terms of its objective."""

    model: cp_model.CpModel = field(default_factory=cp_model.CpModel)
    x: dict[tuple[int, int], cp_model.IntVar] = field(default_factory=dict)
    by_school: dict[int, list[tuple[int, cp_model.IntVar]]] = field(default_factory=dict)
    objective: list[cp_model.LinearExpr] = field(default_factory=list)
    moved_terms: list[cp_model.LinearExpr] = field(default_factory=list)
    hinted_true: set[int] = field(default_factory=set)
    over: dict[int, cp_model.IntVar] = field(default_factory=dict)


def _candidate_pairs(
    r: Repair, school: NDArray[np.int64], i: int, extra: Mapping[int, set[int]], *, only: bool = False
) -> list[int]:
    """Pairs block ``i`` may take in the repair, sorted: cheapest, relaxation's, its own, cut and root schools.

    With ``only``, just its own, ``extra`` and root schools.
    """
    p = r.p
    lo, hi = int(p.start[i]), int(p.start[i + 1])
    if lo == hi:
        return []
    cand: set[int] = set() if only else set(range(lo, min(hi, lo + REPAIR_CANDIDATES)))
    dests = p.dest[lo:hi]
    if r.flow is not None and not only:
        cand.update((lo + np.flatnonzero(r.flow[lo:hi] > 0)).tolist())
    wanted = set(extra.get(i, ())) | {int(school[i])} | {j for j, root in r.roots.items() if root == i}
    for j in wanted:
        hit = np.flatnonzero(dests == j)
        if len(hit):
            cand.add(lo + int(hit[0]))
    return sorted(cand)


def _assignment_vars(
    r: Repair, sm: SubModel, school: NDArray[np.int64], free: NDArray[np.int64], cuts: Sequence[Cut],
    schools: Sequence[int] | Mapping[int, set[int]] = (),
) -> bool:
    """One Boolean per free block and candidate school, exactly one per block, hinted with ``school``.

    ``schools``: schools every free block may also take where in reach, or
    block → the only schools it may take besides its own. Returns whether the
    hint is complete (every block's school among its candidates).
    """
    p, model = r.p, sm.model
    is_free = np.zeros(len(p.demand), bool)
    is_free[free] = True
    if isinstance(schools, Mapping):
        extra: dict[int, set[int]] = {int(i): set(v) for i, v in schools.items()}
    else:
        extra = {int(i): set(schools) for i in free.tolist()} if len(schools) else {}
    for cut in cuts:
        for i in cut.border.tolist():
            if is_free[i]:
                extra.setdefault(i, set()).add(cut.school)
    hint_ok = True
    for i in free.tolist():
        cand = _candidate_pairs(r, school, i, extra, only=isinstance(schools, Mapping))
        if not cand:
            continue
        lits = []
        for k in cand:
            j = int(p.dest[k])
            v = model.new_bool_var(f"x{i}_{j}")
            sm.x[i, j] = v
            lits.append(v)
            if p.demand[i]:
                sm.by_school.setdefault(j, []).append((int(p.demand[i]), v))
                sm.objective.append(int(p.cost[k] * p.demand[i]) * v)
                if p.moved[k]:
                    sm.moved_terms.append(int(p.demand[i]) * v)
            model.add_hint(v, j == school[i])
            if j == school[i]:
                sm.hinted_true.add(v.index)
        hint_ok &= int(school[i]) in {int(p.dest[k]) for k in cand}
        model.add_exactly_one(lits)
    return hint_ok


def _build(
    r: Repair, school: NDArray[np.int64], free: NDArray[np.int64], cuts: Sequence[Cut],
    schools: Sequence[int] | Mapping[int, set[int]] = (),
) -> tuple[SubModel, bool]:
    """The repair model of the ``free`` blocks (see the module docstring) and whether its hint is complete."""
    p = r.p
    n, m = len(p.demand), len(p.capacity)
    is_free = np.zeros(n, bool)
    is_free[free] = True
    fixed = ~is_free & (school >= 0)
    load = np.bincount(school[fixed], weights=p.demand[fixed], minlength=m).astype(np.int64)
    resid = p.capacity - load
    fixed_moved = int(p.demand[fixed & (p.current >= 0) & (school != p.current)].sum())
    sm = SubModel()
    model, x = sm.model, sm.x
    hint_ok = _assignment_vars(r, sm, school, free, cuts, schools)
    for j, root in r.roots.items():
        if is_free[root] and (root, j) in x:
            model.add(x[root, j] == 1)
    # Capacity is soft in the model (hard overflow penalty when overflow is not allowed)
    # so that the rounded relaxation is always a complete, feasible hint.
    weight = HARD_OVERFLOW_PENALTY if r.overflow_penalty_s is None else int(r.overflow_penalty_s)
    over: list[cp_model.LinearExpr] = []
    for j, terms in sorted(sm.by_school.items()):
        expr = sum(d * v for d, v in terms)
        hinted = sum(d for d, v in terms if v.index in sm.hinted_true)
        o = model.new_int_var(0, int(p.demand.sum()), f"o{j}")
        model.add(expr <= int(resid[j]) + o)
        model.add_hint(o, max(0, hinted - int(resid[j])))
        over.append(weight * o)
        sm.over[j] = o
    if r.max_moved is not None:
        model.add(sum(sm.moved_terms) <= r.max_moved - fixed_moved)
    for cut in cuts:
        j = cut.school
        if (school[cut.border][~is_free[cut.border]] == j).any():
            continue  # a fixed bordering block already belongs to j
        border = [x[k, j] for k in cut.border.tolist() if is_free[k] and (k, j) in x]
        for i in cut.piece.tolist():
            if is_free[i] and (i, j) in x:
                model.add(x[i, j] <= sum(border))
    sm.objective.extend(over)
    return sm, hint_ok


def solve_sub(
    r: Repair,
    school: NDArray[np.int64],
    free: NDArray[np.int64],
    *,
    cuts: Sequence[Cut],
    deterministic_time: float,
    schools: Sequence[int] | Mapping[int, set[int]] = (),
    extend: Callable[[SubModel], None] | None = None,
    how: ModelCharge = DEFAULT_CHARGE,
) -> tuple[NDArray[np.int64], int, int] | None:
    """Re-assign the ``free`` blocks with CP-SAT, all others fixed; ``None`` if infeasible.

    ``schools``: schools every free block may take where in reach, besides its
    own candidates (or block → the only schools it may take besides its own). ``extend`` adds constraints to the
    built model (e.g. connectivity, :mod:`planning.zones.connect`); ``how`` is how the call is charged.

    Returns the new school of every block, the CP-SAT status and the seats still
    missing (students above capacity, 0 when the plan is feasible).
    """
    sm, hint_ok = _build(r, school, free, cuts, schools)
    if extend is not None:
        extend(sm)
    sm.model.minimize(sum(sm.objective))
    solver = cp_model.CpSolver()
    prm = solver.parameters
    prm.num_workers = 1
    prm.linearization_level = 2  # full LP relaxation: these are tight packing models
    prm.random_seed = r.seed
    r.budget.limit_call(prm, deterministic_time, sm.model, how)
    prm.relative_gap_limit = 1e-6
    prm.catch_sigint_signal = False  # Ctrl-C stays with the command line (exit 130)
    status = solver.solve(sm.model)
    r.budget.charge(solver, sm.model, how)
    r.budget.note_stop(solver, prm.max_deterministic_time)
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        if status == cp_model.INFEASIBLE:
            return None
        if status == cp_model.UNKNOWN:
            logger.debug("CP-SAT found no plan for %d blocks within its limit", len(free))
            return school.copy(), int(status), 10**9
        raise SolverError(f"CP-SAT repair stopped with status {solver.status_name(status)}")
    missing = sum(solver.value(o) for o in sm.over.values()) if r.overflow_penalty_s is None else 0
    new = school.copy()
    for (i, j), v in sm.x.items():
        if solver.boolean_value(v):
            new[i] = j
    logger.debug("repair: %d free blocks, %s, hint complete=%s", len(free), solver.status_name(status), hint_ok)
    return new, int(status), int(missing)


def ejection_regret(p: Instance, school: NDArray[np.int64]) -> NDArray[np.float64]:
    """Regret of each block in reduced costs: how much moving it costs once chains are counted.

    ``e_j`` is the cheapest cost of making room for one student at school ``j``
    (a chain of moves to a school with spare seats: shortest path in the
    school graph whose arc ``j → k`` costs ``min_i t_ik − t_ij`` over blocks of
    ``j`` reaching ``k``). The regret of block ``i`` at ``j`` is
    ``min_k (t_ik + e_k) − (t_ij + e_j)``: blocks with a small regret are the
    ones worth freeing in the integer repair.
    """
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


def integer_repair(
    r: Repair,
    school: NDArray[np.int64],
    split: NDArray[np.int64],
    *,
    level: str,
    cuts: Sequence[Cut],
    notes: dict[str, float | int | str] | None = None,
    drain: Callable[[NDArray[np.int64]], NDArray[np.int64]] | None = None,
) -> tuple[NDArray[np.int64], int]:
    """Fit every block (and the stability cap) by CP-SAT on a growing set of free blocks.

    The split blocks of the relaxation and the blocks cheapest to move once
    chains of moves are counted (:func:`ejection_regret`) are freed, everything
    else fixed; the set doubles until the plan fits. With ``drain`` (a cheap
    search moving students out of over-full schools), it is tried on the plan
    before each doubling, and a plan it makes fit is returned.

    With ``notes`` (best effort), a plan that still puts students above
    capacity (the stability cap met) is returned instead of raising, and why
    is written to ``notes["capacity_fallback"]``: the best whole-block plan
    found, its over-full schools to be listed by the caller.

    Returns
    -------
    tuple
        The plan and the most blocks freed at once.

    Raises
    ------
    InfeasibleError
        Proven: indivisible blocks do not fit the seats in reach.
    SolverError
        No fitting plan found within the work budget.
    """
    p = r.p
    regret = np.nan_to_num(ejection_regret(p, school), nan=np.inf)
    n_free = max(REPAIR_FREE_PER_SPLIT * len(split), REPAIR_MIN_FREE)
    has_pair = np.flatnonzero((p.start[1:] > p.start[:-1]) & (p.demand > 0))
    order = has_pair[np.lexsort((has_pair, regret[has_pair]))]
    free_total = 0
    while True:
        free = np.union1d(split, order[:n_free])
        got = solve_sub(r, school, free, cuts=cuts, deterministic_time=REPAIR_DETERMINISTIC_TIME)
        free_total = max(free_total, len(free))
        if got is not None and (got[2] == 0 or excess(p, school, r.max_moved, r.overflow_penalty_s) > 0):
            school = got[0]
        if excess(p, school, r.max_moved, r.overflow_penalty_s) == 0:
            return school, free_total
        if got is not None and got[1] == cp_model.UNKNOWN and r.budget.exhausted():
            err: InfeasibleError | SolverError = SolverError(_unmet_message(r, school, level))
        elif n_free >= len(order):
            err = _no_whole_plan(r, school, got, level)
        else:
            if drain is not None:
                drained = drain(school)
                if excess(p, drained, r.max_moved, r.overflow_penalty_s) == 0:
                    return drained, free_total
            n_free *= 2
            continue
        if notes is None or (r.max_moved is not None and students_moved(p, school) > r.max_moved):
            raise err
        why = err.summary if isinstance(err, InfeasibleError) else str(err)
        notes["capacity_fallback"] = why.split("; ")[0]
        return school, free_total


def _no_whole_plan(
    r: Repair, school: NDArray[np.int64], got: tuple[NDArray[np.int64], int, int] | None, level: str
) -> InfeasibleError | SolverError:
    """Why every block freed still gave no fitting plan: proven (infeasible) or not (the solver's limit)."""
    p = r.p
    counts = p.start[1:] - p.start[:-1]
    if got is None and r.max_moved is not None:
        # CP-SAT proved that no plan with every block free keeps to the stability cap
        # (capacity is soft in the repair model, so the cap is what fails)
        return _cap_infeasible(r, school, level)
    proven = got is not None and got[1] == cp_model.OPTIMAL and (counts <= REPAIR_CANDIDATES).all()
    if not proven:
        return SolverError(_unmet_message(r, school, level))
    over = students_at(p, school) - p.capacity
    return InfeasibleError(
        summary=f"{level}: blocks are indivisible and do not fit the seats in reach",
        shortfalls=[
            Shortfall(
                where=f"school {p.school_ids[j]}",
                short_by=int(over[j]),
                detail=f"{int(p.capacity[j])} seats; the best whole-block plan puts "
                f"{int(p.capacity[j] + over[j])} students there",
                kind="zones.whole_blocks",
                figures=figures(school_id=str(p.school_ids[j]), seats=int(p.capacity[j]), students=int(p.capacity[j] + over[j])),
            )
            for j in np.flatnonzero(over > 0)
        ],
        hint="allow overflow, raise capacity, or raise the maximum travel time",
    )


def _cap_infeasible(r: Repair, school: NDArray[np.int64], level: str) -> InfeasibleError:
    """The stability cap cannot be met with whole blocks: how many moves each school's own block forces."""
    p, cap = r.p, int(r.max_moved or 0)
    forced = [
        (j, root) for j, root in sorted(r.roots.items())
        if p.current[root] >= 0 and p.current[root] != j and p.demand[root] > 0
    ]
    students = int(sum(int(p.demand[root]) for _, root in forced))
    if students > cap:
        blocks = ", ".join(f"{p.block_ids[root]} (school {p.school_ids[j]})" for j, root in forced)
        return InfeasibleError(
            summary=f"{level}: each school's own block belongs to its zone, which moves {students} students "
            f"from their current school but max_moved is {cap}",
            shortfalls=[Shortfall(
                where=f"blocks {blocks}", short_by=students - cap, unit="students", kind="zones.own_blocks",
                figures=figures(students=students, max_moved=cap, blocks=tuple(
                    figures(block_id=str(p.block_ids[root]), school_id=str(p.school_ids[j])) for j, root in forced)),
            )],
            hint="raise max_moved, or set contiguity = false",
        )
    moved = students_moved(p, school)
    return InfeasibleError(
        summary=f"{level}: no plan of whole blocks keeps to max_moved {cap} (the best found moves {moved} students)",
        shortfalls=[Shortfall(where="stability cap", short_by=max(moved - cap, 1), unit="students", kind="zones.stability_cap",
                              figures=figures(moved=int(moved), max_moved=cap))],
        hint="raise max_moved: blocks change school whole",
    )


def _unmet_message(r: Repair, school: NDArray[np.int64], level: str) -> str:
    """What the best plan found breaks, and what to change."""
    p, max_moved, penalty = r.p, r.max_moved, r.overflow_penalty_s
    over = int(np.maximum(students_at(p, school) - p.capacity, 0).sum()) if penalty is None else 0
    moved = students_moved(p, school)
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
    return f"{level}: no whole-block plan found that {what}{best}; {advice}"
