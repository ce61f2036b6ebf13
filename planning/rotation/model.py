"""The rotation model on plain arrays: ids, integer counts, seconds; it knows nothing of DataFrames.

:class:`RotationProblem` holds *units* of interchangeable teachers, candidate *arcs* unit →
destination school with their cost, quotas and staffing bounds; :func:`solve_rotation_core`
(``planning.rotation.from_arrays``) solves it and returns a :class:`CoreSolution`.

Formulation (:func:`solve_rotation_core`)
-----------------------------------------
Decision variables
    ``x[a]`` integer, teachers of arc ``a``'s unit moving to its destination
    (``0 ≤ x[a] ≤ count``; a unit is teachers of one school, subject, level,
    backbone and qualification flag, and, when commuting from home, one teacher);
    ``p[i,k], n[i,k] ≥ 0`` deviation above/below the fair share of school ``i``
    on indicator ``k`` (backbone, above-qualification) in hundredths of a
    teacher; with ``relax_quotas`` the shortfalls ``short[s]`` (movers) and
    ``bshort[s]`` (backbone movers).
Constraints
    each unit moves at most its count; a sending school sends at most
    ``max(quota, ⌊max_share · eligible⌋)``; per school and subject the staffing after
    rotation ``cur + in − out`` stays within ``[lo, hi]`` (exchange: ``lo = hi =
    cur``); each sending school (or the county, ``quota_scope="county"``) moves
    ``≥ ⌈share · eligible⌉`` teachers, and ``100 · backbone_out ≥ R · out``
    (``R`` = backbone share in percent); ``100·(B⁰ᵢ + inᵢ − outᵢ) − p + n = Tᵢ``
    where ``Tᵢ`` is school i's fair share ``Pᵢ · (county total / county pupils)``
    in hundredths.
Objective
    ``Σ_k gap_weight / total_k · Σ_i (p + n)`` — the enrolment-weighted mean
    absolute deviation of ``backbone_per_100`` and ``above_qualification_per_100``
    from the county value divided by that value, i.e. the L1 analogue of the
    official CV (``Σ (Pᵢ/P)|Xᵢ − X̄| / X̄ = Σ |Bᵢ − Tᵢ| / B``) — plus commute
    minutes, a penalty per move and one per move leaving its community, plus
    a shortfall penalty per missing mover when quotas are relaxed (:data:`SHORTFALL_FACTOR`
    times the most one mover can change the rest of the objective, so that
    shortfalls are as small as they can be).

Solving
-------
The LP relaxation of this flow model is nearly integral (each deviation term is
given its convex hull over integers, so fractional fair shares cost the LP what
they cost an integer plan). It is solved first with GLOP's dual simplex: the
bound. Then an exact repair: arcs the LP sets to integers are fixed, and CP-SAT
decides only the teachers the LP splits (with each unit's cheapest alternatives
by reduced cost) and the deviations, with ``objective ≥ ⌈LP bound⌉`` as a row.
If that small model is infeasible, CP-SAT solves the model restricted to arcs
the LP uses or prices cheaply, then the full model. The gap is reported against
the LP bound (or CP-SAT's, when a reduced-cost test shows no left-out arc can
improve the plan). Determinism: GLOP is
deterministic; CP-SAT runs with a fixed ``random_seed``, one worker on the small
repair and restricted models and ``interleave_search`` (independent of thread
timing) when several workers solve the full model, and stops on the relative
gap or ``max_deterministic_time`` only (no wall-clock limit), so the same inputs
and seed give the same plan on any machine.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field, replace

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray
from ortools.linear_solver.python import model_builder_helper as mbh

from geo.errors import InfeasibleError, SolverError
from planning.rotation.greedy import greedy_flow
from planning.rotation.guard import guard_columns
from planning.rotation.options import DEFAULT_LIMITS, DEFAULT_OPTIONS, RotationOptions, SolveLimits
from planning.rotation.problem import DEV_SCALE, INDICATORS, OBJ_SCALE, PERCENT, RotationProblem, Status, fair_share, shortfall_penalty

logger = logging.getLogger(__name__)

#: Arcs kept for the integer model besides those the LP uses: reduced cost at most this
#: (scaled points; ties of a degenerate LP) and each unit's cheapest few by reduced cost.
RC_KEEP_ABS = 1e-6
RC_KEEP_PER_UNIT = 3
#: With the never-worse rows, the small repair and restricted models stop within this relative gap
#: of the LP bound (at least) ...
GUARD_RELATIVE_GAP = 0.01
#: ... and spend at most this deterministic time each; the full model, started from their plan, then
#: works toward the caller's gap for at most this deterministic time (the caller's limit when it is shorter):
#: on the demo, 20 s of it took a minute of wall time for 0.5 % of objective and no change in movers.
GUARD_DETERMINISTIC_S = 4.0
GUARD_IMPROVE_S = 6.0


@dataclass(frozen=True)
class CoreSolution:
    """Integer flows of the core model.

    Attributes
    ----------
    flow
        ``(n_arcs,)`` teachers moved along each arc.
    short_movers, short_backbone
        ``(n_groups,)`` shortfalls per quota group (zeros unless relaxed).
    status
        ``OPTIMAL`` or ``FEASIBLE``.
    objective, bound, gap
        Objective and best bound in points (÷ :data:`OBJ_SCALE`), relative gap.
    lp_bound
        LP relaxation value in points.
    solve_s
        Wall time of LP + CP-SAT.
    """

    flow: NDArray[np.int64]
    short_movers: NDArray[np.int64]
    short_backbone: NDArray[np.int64]
    status: Status
    objective: float
    bound: float
    gap: float
    lp_bound: float
    solve_s: float


@dataclass(frozen=True)
class _Matrix:
    """The model as bounds, costs and a sparse constraint matrix."""

    lb: NDArray[np.float64]
    ub: NDArray[np.float64]
    cost: NDArray[np.float64]
    a: sp.csr_matrix
    row_lo: NDArray[np.float64]
    row_hi: NDArray[np.float64]
    n_arcs: int
    dev_cols: int
    short_cols: NDArray[np.int64]
    bshort_cols: NDArray[np.int64]
    offset: float



@dataclass(frozen=True)
class _Arcs:
    """Each arc's origin and destination school, subject and indicator flags."""

    src: NDArray[np.int64]
    dst: NDArray[np.int64]
    subj: NDArray[np.int64]
    flags: NDArray[np.bool_]
    idx: NDArray[np.int64]

    @classmethod
    def of(cls, prob: RotationProblem) -> _Arcs:
        u = prob.arc_unit
        return cls(
            src=prob.unit_school[u],
            dst=prob.arc_dest,
            subj=prob.unit_subject[u],
            flags=np.stack([prob.unit_backbone[u], prob.unit_qualified[u]], axis=1),
            idx=np.arange(len(u)),
        )


@dataclass
class _Rows:
    """Constraint rows being assembled: sparse entries and row bounds, in build order."""

    rows: list[NDArray[np.int64]] = field(default_factory=list)
    cols: list[NDArray[np.int64]] = field(default_factory=list)
    vals: list[NDArray[np.float64]] = field(default_factory=list)
    lo: list[NDArray[np.float64]] = field(default_factory=list)
    hi: list[NDArray[np.float64]] = field(default_factory=list)
    n_rows: int = 0

    def add(self, rows: NDArray[np.int64], cols: NDArray[np.int64], vals: NDArray[np.float64]) -> None:
        """Entries of rows from :attr:`n_rows` on (the block being built)."""
        self.rows.append(rows)
        self.cols.append(cols)
        self.vals.append(vals)

    def close(self, lo: NDArray[np.float64], hi: NDArray[np.float64]) -> None:
        """Bounds of the next ``len(lo)`` rows, which are then complete."""
        self.lo.append(lo)
        self.hi.append(hi)
        self.n_rows += len(lo)


@dataclass(frozen=True)
class _Touched:
    """Schools with pupils that some arc leaves or enters: they get deviation rows and columns."""

    schools: NDArray[np.int64]
    pos: NDArray[np.int64]  # (n_schools,) position among them, -1 if not touched
    total_pupils: float

    @classmethod
    def of(cls, prob: RotationProblem, arcs: _Arcs) -> _Touched:
        touched = np.unique(np.concatenate([arcs.src, arcs.dst]))
        touched = touched[prob.pupils[touched] > 0]
        pos = np.full(prob.n_schools, -1, dtype=np.int64)
        pos[touched] = np.arange(len(touched))
        return cls(touched, pos, float(prob.pupils.sum()))

    def dev_cols(self, n_arcs: int, k: int) -> NDArray[np.int64]:
        """Columns of ``p[i,k]`` (``n[i,k]`` is the next one) of the touched schools."""
        return n_arcs + 2 * (k * len(self.schools) + np.arange(len(self.schools)))


def _unit_rows(t: _Rows, prob: RotationProblem, arcs: _Arcs) -> None:
    """Unit capacity: Σ x[a] over the unit's arcs ≤ count."""
    n_arc = len(arcs.idx)
    units, uinv = np.unique(prob.arc_unit, return_inverse=True)
    t.add(t.n_rows + uinv, arcs.idx, np.ones(n_arc))
    t.close(np.full(len(units), -np.inf), prob.unit_count[units].astype(np.float64))


def _staffing_rows(t: _Rows, prob: RotationProblem, arcs: _Arcs) -> None:
    """Staffing per (school, subject): lo − now ≤ in − out ≤ hi − now."""
    n_arc = len(arcs.idx)
    key_out = arcs.src * prob.n_subjects + arcs.subj
    key_in = arcs.dst * prob.n_subjects + arcs.subj
    keys, kinv = np.unique(np.concatenate([key_out, key_in]), return_inverse=True)
    t.add(t.n_rows + kinv, np.concatenate([arcs.idx, arcs.idx]), np.concatenate([-np.ones(n_arc), np.ones(n_arc)]))
    ks, kj = keys // prob.n_subjects, keys % prob.n_subjects
    t.close(
        (prob.staff_lo[ks, kj] - prob.staff_now[ks, kj]).astype(np.float64),
        (prob.staff_hi[ks, kj] - prob.staff_now[ks, kj]).astype(np.float64),
    )


def _indicator_entries(t: _Rows, arcs: _Arcs, touched: _Touched, k: int, signs: tuple[float, float], coef: NDArray[np.float64] | None) -> None:
    """Entries of arcs moving an indicator-``k`` teacher out of / into a touched school.

    ``signs`` are those of leaving and entering; ``coef`` (per touched school) scales them, or
    :data:`DEV_SCALE` when ``None``.
    """
    row0 = t.n_rows
    f = arcs.flags[:, k]
    for ends, sign in zip((arcs.src, arcs.dst), signs):
        sel = f & (touched.pos[ends] >= 0)
        t.rows.append(row0 + touched.pos[ends[sel]])
        t.cols.append(arcs.idx[sel])
        t.vals.append(np.full(int(sel.sum()), sign * DEV_SCALE) if coef is None else sign * coef[touched.pos[ends[sel]]])


def _deviation_rows(t: _Rows, prob: RotationProblem, arcs: _Arcs, touched: _Touched) -> tuple[NDArray[np.float64], float]:
    """Deviation per (touched school, indicator): ``100·(B⁰ + in − out) − p + n = T``.

    Returns the deviation columns' costs and the objective constant of untouched schools.
    """
    n_t = len(touched.schools)
    n_arc = len(arcs.idx)
    dev_cost = np.zeros(2 * n_t * len(INDICATORS))
    offset = 0.0
    for k in range(len(INDICATORS)):
        target = fair_share(prob, k)
        # untouched schools keep their deviation: a constant of the objective
        rest = np.ones(prob.n_schools, dtype=bool)
        rest[touched.schools] = False
        rest &= prob.pupils > 0
        offset += float(prob.dev_weight[k]) * float(np.abs(DEV_SCALE * prob.indicator_count[rest, k] - target[rest]).sum())
        _indicator_entries(t, arcs, touched, k, (-1.0, 1.0), None)
        pcol = touched.dev_cols(n_arc, k)
        t.add(np.concatenate([t.n_rows + np.arange(n_t)] * 2), np.concatenate([pcol, pcol + 1]),
              np.concatenate([-np.ones(n_t), np.ones(n_t)]))
        rhs = target[touched.schools] - DEV_SCALE * prob.indicator_count[touched.schools, k]
        t.close(rhs.astype(np.float64), rhs.astype(np.float64))
        dev_cost[pcol - n_arc] = prob.dev_weight[k]
        dev_cost[pcol + 1 - n_arc] = prob.dev_weight[k]
    return dev_cost, offset


def _hull_rows(t: _Rows, prob: RotationProblem, arcs: _Arcs, touched: _Touched) -> None:
    """Convex-hull cut: B is an integer, so |100·B − T| ≥ the chord between B = ⌊T⌋ and ⌈T⌉.

    With it the LP relaxation of every deviation term is exact at integer points.
    """
    n_t = len(touched.schools)
    for k in range(len(INDICATORS)):
        target = fair_share(prob, k).astype(np.int64)
        fl = target[touched.schools] // DEV_SCALE
        frac = target[touched.schools] - DEV_SCALE * fl
        slope = (DEV_SCALE - 2 * frac).astype(np.float64)
        _indicator_entries(t, arcs, touched, k, (1.0, -1.0), slope)
        pcol = touched.dev_cols(len(arcs.idx), k)
        t.add(np.concatenate([t.n_rows + np.arange(n_t)] * 2), np.concatenate([pcol, pcol + 1]), np.ones(2 * n_t))
        t.close((frac + (prob.indicator_count[touched.schools, k] - fl) * slope).astype(np.float64), np.full(n_t, np.inf))


def _quota_rows(t: _Rows, prob: RotationProblem, arcs: _Arcs, short_col0: int) -> None:
    """Quotas per group: movers (+ short) ≥ q; 100·backbone_out − R·out (+ 100·bshort) ≥ 0."""
    n_groups = len(prob.quota_movers)
    g = prob.quota_group[arcs.src]
    sel = g >= 0
    t.add(t.n_rows + g[sel], arcs.idx[sel], np.ones(int(sel.sum())))
    t.add(t.n_rows + n_groups + g[sel], arcs.idx[sel], PERCENT * arcs.flags[sel, 0].astype(np.float64) - prob.backbone_percent)
    if prob.relax_quotas:
        gi = np.arange(n_groups)
        t.add(np.concatenate([t.n_rows + gi, t.n_rows + n_groups + gi]),
              np.concatenate([short_col0 + gi, short_col0 + n_groups + gi]),
              np.concatenate([np.ones(n_groups), np.full(n_groups, float(PERCENT))]))
    t.close(prob.quota_movers.astype(np.float64), np.full(n_groups, np.inf))
    t.close(np.zeros(n_groups), np.full(n_groups, np.inf))


def _move_cap_rows(t: _Rows, prob: RotationProblem, arcs: _Arcs) -> None:
    """Most movers out of a school."""
    if prob.move_cap is None:
        return
    capped = prob.move_cap[arcs.src] >= 0
    cs = np.unique(arcs.src[capped])
    cpos = np.searchsorted(cs, arcs.src[capped])
    t.add(t.n_rows + cpos, arcs.idx[capped], np.ones(int(capped.sum())))
    t.close(np.full(len(cs), -np.inf), prob.move_cap[cs].astype(np.float64))


def _dev_upper_bounds(prob: RotationProblem, touched: _Touched) -> NDArray[np.float64]:
    """Tight finite bounds keep CP-SAT's integer scaling exact.

    A deviation is at most the indicator's county total plus the school's fair share.
    """
    n_t = len(touched.schools)
    dev_ub = np.zeros(2 * n_t * len(INDICATORS))
    for k in range(len(INDICATORS)):
        total_k = float(prob.indicator_count[:, k].sum())
        share = np.ceil(DEV_SCALE * prob.pupils[touched.schools] * total_k / touched.total_pupils) if touched.total_pupils > 0 else 0.0
        bound_k = DEV_SCALE * total_k + share + DEV_SCALE
        pcol = 2 * (k * n_t + np.arange(n_t))
        dev_ub[pcol] = bound_k
        dev_ub[pcol + 1] = bound_k
    return dev_ub


def build_rotation_model(prob: RotationProblem) -> _Matrix:
    """Assemble the model as a sparse matrix.

    Columns: arcs, deviations ``p, n`` per touched school and indicator, then (with
    ``relax_quotas``) the shortfalls. Rows: unit capacity, staffing, deviation, convex-hull
    cut, quotas, move caps.
    """
    arcs = _Arcs.of(prob)
    n_arc = len(arcs.idx)
    touched = _Touched.of(prob, arcs)
    n_dev = 2 * len(touched.schools) * len(INDICATORS)
    n_short = len(prob.quota_movers) if prob.relax_quotas else 0
    short_col0 = n_arc + n_dev
    t = _Rows()
    _unit_rows(t, prob, arcs)
    _staffing_rows(t, prob, arcs)
    dev_cost, offset = _deviation_rows(t, prob, arcs, touched)
    _hull_rows(t, prob, arcs, touched)
    _quota_rows(t, prob, arcs, short_col0)
    _move_cap_rows(t, prob, arcs)

    n_cols = n_arc + n_dev + 2 * n_short
    a = sp.csr_matrix(
        (np.concatenate(t.vals), (np.concatenate(t.rows), np.concatenate(t.cols))), shape=(t.n_rows, n_cols), dtype=np.float64
    )
    a.sum_duplicates()
    row_lo, row_hi = np.concatenate(t.lo), np.concatenate(t.hi)
    guard_ub = np.zeros(0)
    if prob.guard is not None and len(prob.guard.part_guard):
        a, row_lo, row_hi, guard_ub = _append_guard(a, row_lo, row_hi, prob, n_arc)
    # a shortfall is at most the quota
    short_ub = np.concatenate([prob.quota_movers, prob.quota_movers]).astype(np.float64) if n_short else np.zeros(0)
    penalty = shortfall_penalty(prob)
    # a missing mover costs twice a missing backbone mover: better to send a teacher and
    # report the backbone shortfall than to send nobody
    cost = np.concatenate([prob.arc_cost.astype(np.float64), dev_cost, np.full(n_short, 2 * penalty), np.full(n_short, penalty),
                           np.zeros(len(guard_ub))])
    return _Matrix(
        lb=np.zeros(n_cols + len(guard_ub)),
        ub=np.concatenate([prob.unit_count[prob.arc_unit].astype(np.float64), _dev_upper_bounds(prob, touched), short_ub, guard_ub]),
        cost=cost,
        a=a,
        row_lo=row_lo,
        row_hi=row_hi,
        n_arcs=n_arc,
        dev_cols=n_dev,
        short_cols=short_col0 + np.arange(n_short),
        bshort_cols=short_col0 + n_short + np.arange(n_short),
        offset=offset,
    )


def _append_guard(
    a: sp.csr_matrix, row_lo: NDArray[np.float64], row_hi: NDArray[np.float64], prob: RotationProblem, n_arc: int
) -> tuple[sp.csr_matrix, NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """The never-worse rows and segment columns appended (columns after every other one).

    Link rows ``coef·x − Σu + Σd = 0`` per guarded part, then one row ``cost·(u, d) ≤ 0`` per guard.
    """
    assert prob.guard is not None
    gc = guard_columns(prob.guard, prob.unit_count[prob.arc_unit].astype(np.float64))
    n_parts, n_guards = gc.link_seg.shape[0], gc.guard_seg.shape[0]
    pad = a.shape[1] - n_arc  # deviation and shortfall columns
    link = sp.hstack([prob.guard.coef, sp.csr_matrix((n_parts, pad)), gc.link_seg], format="csr")
    rows = sp.hstack([sp.csr_matrix((n_guards, a.shape[1])), gc.guard_seg], format="csr")
    a = sp.vstack([sp.hstack([a, sp.csr_matrix((a.shape[0], gc.n_cols))], format="csr"), link, rows], format="csr")
    row_lo = np.concatenate([row_lo, np.zeros(n_parts), np.full(n_guards, -np.inf)])
    row_hi = np.concatenate([row_hi, np.zeros(n_parts), np.zeros(n_guards)])
    return a, row_lo, row_hi, gc.ub


def _helper(m: _Matrix, *, extra_row: tuple[NDArray[np.float64], float] | None = None) -> mbh.ModelBuilderHelper:
    a, lo, hi = m.a, m.row_lo, m.row_hi
    if extra_row is not None:
        coeffs, rhs = extra_row
        a = sp.vstack([a, sp.csr_matrix(coeffs.reshape(1, -1))], format="csr")
        lo = np.append(lo, rhs)
        hi = np.append(hi, np.inf)
    h = mbh.ModelBuilderHelper()
    h.fill_model_from_sparse_data(m.lb, m.ub, m.cost, lo, hi, a)  # type: ignore[arg-type]  # the stub's ndarray[float64] is a 1-D float array
    return h


@dataclass(frozen=True)
class _LP:
    """The LP relaxation's solution: objective (scaled units), its integer floor, values, reduced costs."""

    obj: float
    floor: float
    x: NDArray[np.float64]
    rc: NDArray[np.float64]


def solve_lp(m: _Matrix) -> tuple[str, float, NDArray[np.float64], NDArray[np.float64]]:
    """LP relaxation with GLOP: (status name, objective in scaled units, values, reduced costs)."""
    h = _helper(m)
    s = mbh.ModelSolverHelper("glop")
    # dual simplex: 5× faster than primal on these flow models (8 s vs 43 s at 20,000 teachers)
    s.set_solver_specific_parameters("use_dual_simplex:true")
    s.solve(h)
    status = s.status().name
    if status != "OPTIMAL":
        return status, math.nan, np.zeros(len(m.lb)), np.zeros(len(m.lb))
    return status, float(s.objective_value()), np.asarray(s.variable_values()), np.asarray(s.reduced_costs())


def _restrict(m: _Matrix, keep_arcs: NDArray[np.bool_]) -> tuple[_Matrix, NDArray[np.int64]]:
    """The model with only the kept arcs (every other column stays); and the kept column indices."""
    keep = np.ones(len(m.lb), dtype=bool)
    keep[: m.n_arcs] = keep_arcs
    cols = np.flatnonzero(keep)
    n_arcs = int(keep_arcs.sum())
    shift = m.n_arcs - n_arcs
    return (
        _Matrix(
            lb=m.lb[cols], ub=m.ub[cols], cost=m.cost[cols], a=m.a[:, cols].tocsr(), row_lo=m.row_lo, row_hi=m.row_hi,
            n_arcs=n_arcs, dev_cols=m.dev_cols, short_cols=m.short_cols - shift, bshort_cols=m.bshort_cols - shift,
            offset=m.offset,
        ),
        cols,
    )


def _candidate_arcs(m: _Matrix, x: NDArray[np.float64], rc: NDArray[np.float64], unit_of_arc: NDArray[np.int64]) -> NDArray[np.bool_]:
    """Arcs worth keeping for the integer model: used by the LP, or among each unit's cheapest by reduced cost."""
    xa, ra = x[: m.n_arcs], rc[: m.n_arcs]
    keep = (xa > 1e-9) | (ra <= RC_KEEP_ABS)
    # each unit's RC_KEEP_PER_UNIT arcs of lowest reduced cost
    order = np.lexsort((ra, unit_of_arc))
    first = np.r_[0, np.flatnonzero(np.diff(unit_of_arc[order])) + 1]
    rank = np.arange(len(order)) - np.repeat(first, np.diff(np.r_[first, len(order)]))
    keep[order[rank < RC_KEEP_PER_UNIT]] = True
    return keep


def solve_mip(
    m: _Matrix,
    *,
    hint: NDArray[np.float64] | None,
    lower_bound: float | None,
    limits: SolveLimits,
    relative_gap: float,
) -> tuple[str, float, float, NDArray[np.float64]]:
    """Integer model with CP-SAT (through the model builder).

    Returns (status name, objective, best bound, values), objective and bound in scaled units.
    """
    extra = None
    if lower_bound is not None and np.isfinite(lower_bound):
        extra = (m.cost, float(lower_bound))
    h = _helper(m, extra_row=extra)
    for j in range(len(m.lb)):
        h.set_var_integrality(j, True)
    if hint is not None:
        # the arcs always, so that a plan without moves is a complete hint
        for jh in np.union1d(np.flatnonzero(hint), np.arange(m.n_arcs)):
            h.add_hint(int(jh), float(hint[jh]))
    s = mbh.ModelSolverHelper("sat")
    params = [
        f"random_seed:{int(limits.seed)}",
        f"num_workers:{int(limits.workers)}",
        f"max_deterministic_time:{float(limits.time_limit_s)}",
        f"relative_gap_limit:{float(relative_gap)}",
        "catch_sigint_signal:false",  # Ctrl-C stays with the command line (exit 130)
    ]
    if limits.wall_limit_s is not None:
        # wall clock and CP-SAT's default parallel portfolio: not deterministic, for the benchmark's peer only
        params.append(f"max_time_in_seconds:{float(limits.wall_limit_s)}")
    elif limits.workers > 1:
        params.append("interleave_search:true")  # deterministic with several workers
    s.set_solver_specific_parameters(" ".join(params))
    s.solve(h)
    status = s.status().name
    if not s.has_solution():
        return status, math.nan, math.nan, np.zeros(len(m.lb))
    return status, float(s.objective_value()), float(s.best_objective_bound()), np.rint(s.variable_values())


#: (status, objective, bound, values, whether the bound is CP-SAT's global one)
_Best = tuple[str, float, float, NDArray[np.float64], bool]


def _repair_model(m: _Matrix, prob: RotationProblem, lp: _LP) -> tuple[_Matrix, _Matrix, NDArray[np.int64], NDArray[np.bool_]]:
    """The restricted model (kept arcs), its repair (arcs the LP sets to integers fixed), the kept columns and arcs."""
    keep = _candidate_arcs(m, lp.x, lp.rc, prob.arc_unit)
    xa = lp.x[: m.n_arcs]
    frac = np.abs(xa - np.rint(xa)) > 1e-6
    split_units = np.unique(prob.arc_unit[frac])
    free = keep & np.isin(prob.arc_unit, split_units)
    fixed = ~free & keep
    sub, cols = _restrict(m, keep)
    fix_sub = fixed[keep]
    val = np.rint(xa[keep][fix_sub])
    lb, ub = sub.lb.copy(), sub.ub.copy()
    lb[: sub.n_arcs][fix_sub] = val
    ub[: sub.n_arcs][fix_sub] = val
    logger.debug("rotation: LP repair frees %d of %d kept arcs", int(free.sum()), int(keep.sum()))
    return sub, replace(sub, lb=lb, ub=ub), cols, keep


def _better(found: _Best | None, best: _Best | None) -> _Best | None:
    """The better of two plans (the first on a tie), ``None`` when neither is one."""
    if found is None or found[0] not in ("OPTIMAL", "FEASIBLE") or not np.isfinite(found[1]):
        return best
    return found if best is None or found[1] <= best[1] else best


def _solve_from_lp(m: _Matrix, prob: RotationProblem, lp: _LP, *, limits: SolveLimits, relative_gap: float) -> _Best:
    """Integer plan from the LP and the greedy start: fix what the LP already decides, search the rest.

    1. *Repair*: arcs the LP sets to an integer are fixed there; CP-SAT decides the
       arcs of units the LP splits (their cheap candidates by reduced cost) and
       the deviations. Tiny when the LP is nearly integral.
    2. Unless that is within the gap: the greedy plan (:func:`planning.rotation.greedy.greedy_flow`),
       completed by the model — one that meets every rule and as much of the quotas as exchanges
       added one by one reach; then the model over every arc the LP uses or prices cheaply (and the
       greedy plan's), with the LP bound as a row, started from the better of the two.
    3. If that finds nothing (or, without the never-worse rows, is not proven within the
       gap), the full model.

    Returns (status, objective, bound, values, whether CP-SAT's bound is global).
    The bound is global only when every arc left out has a reduced cost above
    UB − LP (it cannot be in a better plan); otherwise the LP bound is used.
    """
    # the small models stop sooner with the never-worse rows (their LP bound is weaker); the full model
    # then works to the caller's gap within the caller's time
    small_gap = max(relative_gap, GUARD_RELATIVE_GAP) if prob.guard is not None else relative_gap

    def within(found: _Best | None, gap: float = relative_gap) -> bool:
        return found is not None and found[1] - found[2] <= gap * max(abs(found[1]), 1.0)

    # the repair and restricted models are small: one worker is deterministic and fastest
    # (interleaved workers pay a large per-batch overhead on models this size)
    small = limits.model_copy(update={"workers": 1})
    if prob.guard is not None:
        small = small.model_copy(update={"time_limit_s": min(limits.time_limit_s, GUARD_DETERMINISTIC_S)})
    _sub, repair, cols, keep = _repair_model(m, prob, lp)
    best = _solve_at(repair, cols, m, hint=None, lp=lp, limits=small, relative_gap=small_gap, bound=lp.obj)
    if within(best):
        return _as_best(best)
    start = greedy_flow(prob)
    best = _better(best, _complete(m, start, lp, small) if start.any() else None)
    if prob.guard is None:
        best = _restricted(m, lp, keep | (start > 0), best, limits=small, relative_gap=small_gap)
        if within(best):
            return _as_best(best)
    # the full model, started from the best plan so far (or, with quotas relaxed, from the empty plan, which
    # always meets every rule: no move, each quota short by itself); with the never-worse rows straight from
    # the repair and greedy plans: the restricted model's LP cuts took 20 s of wall time for 3 s of CP-SAT
    # work (天山区), where the full model improved on it by 1.8 % in 6 s
    hint = best[3] if best is not None else _empty_plan(m, prob)
    if best is not None and prob.guard is not None:
        # improving from a plan: one worker, as on the small models (the quick benchmark: optimal in 8 s, against
        # 0.01 % above it in 12 s with two interleaved workers)
        limits = limits.model_copy(update={"time_limit_s": min(limits.time_limit_s, GUARD_IMPROVE_S), "workers": 1})
    status, obj, bound, x = solve_mip(m, hint=hint, lower_bound=lp.floor, limits=limits, relative_gap=relative_gap)
    full: _Best = (status, obj, max(bound, lp.obj) if np.isfinite(bound) else lp.obj, x, True)
    best = _better(full, best)
    if best is not None:
        return _as_best(best)
    if len(m.short_cols):
        return _complete(m, np.zeros(m.n_arcs, dtype=np.int64), lp, small) or full
    return full


def _restricted(m: _Matrix, lp: _LP, keep: NDArray[np.bool_], best: _Best | None, *, limits: SolveLimits,
                relative_gap: float) -> _Best | None:
    """The model over the kept arcs (those the LP uses or prices cheaply, and the greedy plan's), from the best
    plan so far; its bound is global when the reduced-cost test proves no left-out arc can improve it."""
    sub, cols = _restrict(m, keep)
    hint = best[3][cols] if best is not None else None
    found = _solve_at(sub, cols, m, hint=hint, lp=lp, limits=limits, relative_gap=relative_gap, bound=None)
    if found is not None:
        # reduced-cost test: an arc left out with reduced cost > UB − LP cannot be in a better plan
        dropped = ~keep
        proven = not dropped.any() or float(lp.rc[: m.n_arcs][dropped].min()) > found[1] - lp.obj
        found = (found[0], found[1], max(found[2], lp.obj) if proven else lp.obj, found[3], proven)
        logger.debug("rotation: restricted model objective %.0f, bound %.0f (global: %s)", found[1], found[2], proven)
    return _better(found, best)


def _as_best(found: _Best | None) -> _Best:
    assert found is not None
    return found


def _solve_at(sub: _Matrix, cols: NDArray[np.int64], m: _Matrix, *, hint: NDArray[np.float64] | None, lp: _LP,
              limits: SolveLimits, relative_gap: float, bound: float | None) -> _Best | None:
    """Solve a restricted model and lift its plan to the full model's columns; ``None`` without a plan.

    ``bound``: the bound to report (``None``: CP-SAT's, to be checked by the caller).
    """
    status, obj, cp_bound, xs = solve_mip(sub, hint=hint, lower_bound=lp.floor, limits=limits, relative_gap=relative_gap)
    if status not in ("OPTIMAL", "FEASIBLE") or not np.isfinite(obj):
        return None
    x = np.zeros(len(m.lb))
    x[cols] = xs
    return status, obj, cp_bound if bound is None else bound, x, False


def _complete(m: _Matrix, flow: NDArray[np.int64], lp: _LP, limits: SolveLimits) -> _Best | None:
    """The plan of the given arc flows, its other columns completed by the model; ``None`` if it breaks a rule.

    With no flow this is the plan without moves (each quota short by itself), the last resort
    when no search found a plan within the limit. Solved as the model with every other arc left
    out and these fixed: a small model CP-SAT solves at once.
    """
    sub, cols = _restrict(m, flow > 0)
    lb, ub = sub.lb.copy(), sub.ub.copy()
    lb[: sub.n_arcs] = ub[: sub.n_arcs] = flow[flow > 0]
    status, obj, _bound, xs = solve_mip(replace(sub, lb=lb, ub=ub), hint=None, lower_bound=None, limits=limits, relative_gap=0.0)
    if status not in ("OPTIMAL", "FEASIBLE") or not np.isfinite(obj):
        return None
    if not flow.any():
        logger.warning("rotation: no plan found within the time limit; the plan without moves is returned, quotas short")
    x = np.zeros(len(m.lb))
    x[cols] = xs
    return "FEASIBLE", obj, lp.obj, x, False


def _empty_plan(m: _Matrix, prob: RotationProblem) -> NDArray[np.float64] | None:
    """The plan without moves as a hint (shortfalls = quotas), when quotas are relaxed; else ``None``."""
    if not len(m.short_cols):
        return None
    x = np.zeros(len(m.lb))
    x[m.short_cols] = prob.quota_movers
    return x


def _lp_phase(m: _Matrix) -> _LP:
    """Solve the LP relaxation; raise when it has no optimum."""
    lp_status, lp_obj, lp_x, lp_rc = solve_lp(m)
    if lp_status == "INFEASIBLE":
        raise InfeasibleError("the rotation rules cannot all be met (LP relaxation infeasible)")
    if lp_status != "OPTIMAL":
        raise SolverError(f"GLOP stopped with status {lp_status}")
    # GLOP's value may exceed the true LP optimum by its tolerance; back off before rounding up.
    lp_floor = math.ceil(lp_obj - 1e-6 * max(1.0, abs(lp_obj)))
    return _LP(obj=lp_obj, floor=lp_floor, x=lp_x, rc=lp_rc)


def _extract(m: _Matrix, prob: RotationProblem, lp: _LP, found: _Best, t0: float) -> CoreSolution:
    """The solution in teachers and points, with the best global bound and the gap."""
    _status, obj, bound, x, _global = found  # every bound returned is global (LP, or CP-SAT's when proven)
    best_bound = max(bound, lp.obj) if np.isfinite(bound) else lp.obj
    best_bound = min(best_bound, obj)
    gap = 0.0 if obj - best_bound <= 0 else (obj - best_bound) / max(abs(obj), 1.0)
    n_groups = len(prob.quota_movers)
    return CoreSolution(
        flow=x[: m.n_arcs].astype(np.int64),
        short_movers=x[m.short_cols].astype(np.int64) if len(m.short_cols) else np.zeros(n_groups, np.int64),
        short_backbone=x[m.bshort_cols].astype(np.int64) if len(m.bshort_cols) else np.zeros(n_groups, np.int64),
        # CP-SAT also says OPTIMAL when it stops at the gap limit: only a zero gap is optimal here.
        status="OPTIMAL" if gap <= 1e-12 else "FEASIBLE",
        objective=obj / OBJ_SCALE,
        bound=best_bound / OBJ_SCALE,
        gap=float(gap),
        lp_bound=lp.obj / OBJ_SCALE,
        solve_s=time.perf_counter() - t0,
    )


def solve_rotation_core(
    prob: RotationProblem,
    *,
    options: RotationOptions = DEFAULT_OPTIONS,
    limits: SolveLimits = DEFAULT_LIMITS,
    warm_start: bool = True,
) -> CoreSolution:
    """Solve the rotation model: GLOP LP bound, then CP-SAT warm-started from it.

    Parameters
    ----------
    prob
        The problem on arrays.
    options
        Only ``relative_gap`` is read here: stop once the plan is proven within it of the bound
        (the rest of the options are already in ``prob``).
    limits
        CP-SAT time limit, workers, seed.
    warm_start
        Use the LP (hint and bound row); ``False`` runs a plain CP-SAT model
        (the benchmark's peer).

    Returns
    -------
    CoreSolution

    Raises
    ------
    InfeasibleError
        The LP relaxation (hence the plan) is infeasible; the caller explains it.
    SolverError
        CP-SAT stopped without a solution.
    """
    t0 = time.perf_counter()
    m = build_rotation_model(prob)
    t_build = time.perf_counter() - t0
    lp = _lp_phase(m)
    t_lp = time.perf_counter() - t0 - t_build
    found: _Best
    if warm_start:
        found = _solve_from_lp(m, prob, lp, limits=limits, relative_gap=options.relative_gap)
    else:
        status, obj, bound, x = solve_mip(m, hint=None, lower_bound=None, limits=limits, relative_gap=options.relative_gap)
        found = (status, obj, bound, x, True)
    status, obj = found[0], found[1]
    if status == "INFEASIBLE":
        raise InfeasibleError("the rotation rules cannot all be met (no integer plan exists)")
    if status not in ("OPTIMAL", "FEASIBLE") or not np.isfinite(obj):
        raise SolverError(f"CP-SAT stopped with status {status} and no plan; raise the time limit")
    logger.debug(
        "rotation model %d×%d: build %.2f s, LP %.2f s, CP-SAT %.2f s (%s)",
        m.a.shape[0], m.a.shape[1], t_build, t_lp, time.perf_counter() - t0 - t_build - t_lp, status,
    )
    return _extract(m, prob, lp, found, t0)
