"""The least-cost achievement plan on plain arrays: an exact outer-approximation method.

Formulation (:func:`solve_improve_core`)
----------------------------------------
Decision variables
    ``u[j]`` integer, units of measure ``j`` (a resource at a school, or at one level of a
    nine-year school for teachers), ``0 ≤ u[j] ≤ ub[j]``; ``z[i,k]`` binary, part ``i`` meets
    standard ``k`` (only where it does not today and both outcomes are possible).
Constraints
    the per-school rule in whole units (:func:`~planning.improve.problem.school_rules`):
    every standard at ≥ 85 % (``Σ u ≥ need85``), standard ``k`` met where ``z[i,k]``
    (``Σ u ≥ need100 · z``), at most ``exempt[i]`` standards unmet (``Σ_k z ≥ …``); the side
    limits (hires per school, backbone candidates, the yearly training limit, the budget); and
    for every level and indicator the exact CV test ``f(r) = Σ rᵢ²/Pᵢ − (1+τ²)(Σ rᵢ)²/P ≤ 0`` with
    ``r = base + gain · u`` (see :mod:`planning.improve.problem`).
Objective
    ``Σ cost[j] · u[j]``, yuan.

Solving
-------
The CV test is a second-order cone, so it is handled exactly by outer approximation: a model
holding only tangent cuts of the cones is a relaxation, and its optimum is a lower bound. Each
test is first written in its extended form (:class:`_Cones`: one 3-dimensional cone per school
part, whose tangents describe it with a few sparse cuts, where cuts of the whole cone would need
hundreds of dense ones). The LP relaxation is tightened round by round (HiGHS's dual simplex
through SciPy, cuts where the LP point leaves a cone) — the LP bound. Then rounds of the integer
model (HiGHS branch and cut): each round's plan is checked with the exact CV; where a test fails,
cuts are added at that plan and the plan is repaired by :func:`~planning.improve.greedy.repair_cv`
into a plan that passes, then stripped of units it does not need
(:func:`~planning.improve.greedy.drop_units`) — an incumbent. The best bound of any round is a
valid lower bound; the loop stops once the incumbent is within ``relative_gap`` of it, when a
round's plan passes and is proven optimal, or when the work budget is spent.

Before any of it, :func:`~planning.improve.coupled.meet_jointly` lowers the per-school targets that limits
shared between standards (hires per school, backbone candidates, the training limit) put out of reach
together, so the model only ever meets targets some plan meets. With a budget below the least cost,
the many solves of :func:`_within_budget` share their cuts (:class:`CutPool`) and start from known plans.

Costs are tie-broken (:func:`tie_broken_cost`, at most 0.1 %) toward the least provided schools:
a unit costs the same at every school, and without it the solvers place units anywhere the cuts
allow. Bounds are divided back by the tie-break and rounded up to the costs' common divisor.

Determinism: HiGHS is deterministic; its time limit is wall-clock, so a run that stops on the
limit rather than on the gap may differ between machines (the default budget leaves the gap as
the stopping rule on counties of a few hundred schools). ``backend="cpsat"`` solves the plain
formulation (the cuts rounded down to integers, which keeps them valid) with CP-SAT's
deterministic time instead; it is kept as a second opinion, far weaker here.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray
from ortools.sat.python import cp_model
from scipy.optimize import Bounds, LinearConstraint, linprog, milp

from geo.errors import InfeasibleError, Shortfall, SolverError, figures
from geo.model import LEVELS
from planning.balance.indicators import QUALITY_INDICATORS
from planning.improve.coupled import meet_jointly
from planning.improve.diagnose import Gap, diagnose
from planning.improve.greedy import GreedyPlan, drop_units, greedy_plan, repair_cv, rule_ok
from planning.improve.highs import quiet_stdout
from planning.improve.problem import N_INDICATORS, CvGroup, ImproveProblem, SchoolRules, cv_groups, school_rules
from planning.improve.targets import BudgetChoice, CvShort, choose_cvs, choose_parts, lowest_cvs, part_fix, relax_rules, rules_of
from planning.limits import SolveLimits

logger = logging.getLogger(__name__)

Status = Literal["OPTIMAL", "FEASIBLE"]
Backend = Literal["cpsat", "highs"]

#: Rounds of the LP cut loop, and the CV excess (absolute) below which an LP point needs no cut.
LP_ROUNDS = 60
LP_CV_TOL = 1e-6
#: The LP loop stops once its value has risen by less than LP_RISE (relative) for LP_STALL rounds in a row.
#: The value is not the point: the cone cuts the rounds add near the optimum are. On the 300-school
#: benchmark stopping at a 1e-5 rise for 2 rounds (3 rounds, 2,644 cuts) left the integer plans failing CV
#: tests (3 integer rounds, 16 s CPU, gap 0.50 %); at 1e-6 for 3 rounds the first integer plan passes or
#: nearly does (1 round; seeds 1 and 2: 18.7 and 19.4 s CPU, gaps 0.11 % and 0.62 %). Running on to 1e-9
#: costs seed 2 another 8 s of LP rounds (1 s each at 16,000 rows) for the same plan.
LP_STALL = 3
LP_RISE = 1e-6
#: HiGHS's work limit is counted in branch-and-bound nodes, this many per second of the time limit: nodes,
#: unlike seconds, give the same plan on any machine. Assumption: on the 300-school benchmark a node
#: takes ~0.02–0.05 s of one core.
NODES_PER_S = 20
#: Wall-clock safety net of HiGHS, times the time limit (hitting it makes the plan machine-dependent: logged).
WALL_SAFETY = 10.0
#: Each integer round stops within this share of the caller's gap (the rest is for the tie-break and the repair).
ROUND_GAP_SHARE = 0.8
#: Most relative raise of a cost by the tie-break (:func:`tie_broken_cost`).
TIE_BREAK = 1e-3
#: Rounds of the integer model.
MILP_ROUNDS = 12
#: ... and they stop once neither the bound nor the incumbent has improved for this many rounds.
MILP_STALL = 3
#: Relative gap of the solves that only rank the CV tests under a budget (each test alone): the MILP of one test
#: with no per-school rule closes slowly (its LP bound is 2–5 % below its optimum on the benchmark), and the
#: ranking and the "meeting it alone would cost about …" it feeds need no more.
ALONE_GAP = 0.05
#: Largest coefficient of a cut once scaled to integers for CP-SAT: the rounding loosens a cut
#: by at most one part in this of its largest coefficient per unit.
CUT_SCALE = 1e7


@dataclass(frozen=True)
class ImproveSolution:
    """Units of the least-cost plan.

    Attributes
    ----------
    units
        ``(n_vars,)`` units of each decision.
    cost
        Total cost, yuan.
    bound, gap
        Proven lower bound on the least cost (yuan) and ``(cost − bound) / cost``.
    status
        ``OPTIMAL`` (gap closed) or ``FEASIBLE``.
    lp_bound
        The LP relaxation's bound after its cut rounds.
    greedy
        The constructive plan (:func:`~planning.improve.greedy.greedy_plan`).
    gaps
        Why parts cannot meet the per-school rule (:func:`~planning.improve.diagnose.diagnose`);
        they meet it as far as the caps allow (:func:`~planning.improve.targets.relax_rules`).
    cv_short
        CV tests the caps leave out of reach, each at the lowest CV they allow.
    budget
        With a budget below the least cost: what it buys and what it leaves (else ``None``).
    rounds, cuts
        Integer rounds run and cuts added.
    solve_s
        Wall time.
    """

    units: NDArray[np.int64]
    cost: int
    bound: float
    gap: float
    status: Status
    lp_bound: float
    greedy: GreedyPlan
    gaps: tuple[Gap, ...] = ()
    cv_short: tuple[CvShort, ...] = ()
    budget: BudgetChoice | None = None
    rounds: int = 0
    cuts: int = 0
    solve_s: float = 0.0
    log: tuple[str, ...] = field(default_factory=tuple)


Row = tuple[NDArray[np.int64], NDArray[np.float64], float, float]
#: A cone cut in the coordinates of its test: (part position i, coefficient of yᵢ, of vᵢ, of t).
ConeCut = tuple[int, float, float, float]


def _key(g: CvGroup) -> tuple[int, int, float]:
    return (g.level, g.indicator, float(g.tau))


@dataclass
class CutPool:
    """Cuts kept across the solves of one call (a budget below the least cost solves many target sets).

    A cut of a CV test is valid whatever the other targets are, so a later solve with that test starts
    from every cut found for it before: its LP and integer rounds start near where the last solve ended.
    Keyed by test (level, indicator, threshold); ``flat`` holds cuts on the decisions, ``cone`` cuts of the
    extended formulation in the test's own coordinates (:class:`_Cones`).
    """

    flat: dict[tuple[int, int, float], list[Row]] = field(default_factory=dict)
    cone: dict[tuple[int, int, float], list[ConeCut]] = field(default_factory=dict)


@dataclass
class _Form:
    """Rows ``lo ≤ a · x ≤ hi`` over ``x = [u, z]`` (all ≥ 0), the objective and bounds."""

    n_u: int
    cost: NDArray[np.float64]
    ub: NDArray[np.float64]
    rows: list[tuple[NDArray[np.int64], NDArray[np.float64], float, float]]
    z_rows: list[tuple[int, NDArray[np.int64], int]] = field(default_factory=list)
    n_base: int = 0
    lb: NDArray[np.float64] | None = None
    integer: NDArray[np.bool_] | None = None
    cones: list[_Cones] = field(default_factory=list)
    pool: CutPool | None = None

    def cone_cuts(self, x: NDArray[np.float64]) -> list[Row]:
        """Tangent cuts of every cone that ``x`` violates (kept in the pool)."""
        out: list[Row] = []
        for cone in self.cones:
            local = cone.local_cuts(x)
            if self.pool is not None:
                self.pool.cone.setdefault(_key(cone.group), []).extend(local)
            out += [cone.row(c) for c in local]
        return out

    def add_flat(self, group: CvGroup, rows: list[Row]) -> None:
        """Cuts of ``group`` on the decisions (kept in the pool)."""
        self.rows += rows
        if self.pool is not None:
            self.pool.flat.setdefault(_key(group), []).extend(rows)

    def add_pooled(self, groups: list[CvGroup]) -> None:
        """Every pooled cut of ``groups`` (after the base rows: they count as cuts)."""
        if self.pool is None:
            return
        for g in groups:
            self.rows += self.pool.flat.get(_key(g), [])
        for cone in self.cones:
            self.rows += [cone.row(c) for c in self.pool.cone.get(_key(cone.group), [])]

    def lower(self) -> NDArray[np.float64]:
        return np.zeros(self.n) if self.lb is None else self.lb

    def is_integer(self) -> NDArray[np.bool_]:
        return np.ones(self.n, dtype=bool) if self.integer is None else self.integer

    def add_columns(self, n: int, lb: float, ub: float) -> int:
        """``n`` continuous columns (cost 0); the index of the first."""
        first = self.n
        self.lb = np.concatenate([self.lower(), np.full(n, lb)])
        self.integer = np.concatenate([self.is_integer(), np.zeros(n, dtype=bool)])
        self.cost = np.concatenate([self.cost, np.zeros(n)])
        self.ub = np.concatenate([self.ub, np.full(n, ub)])
        return first

    @property
    def n(self) -> int:
        return len(self.cost)

    def matrix(self) -> tuple[sp.csr_matrix, NDArray[np.float64], NDArray[np.float64]]:
        indptr = np.cumsum([0] + [len(c) for c, _, _, _ in self.rows])
        cols = np.concatenate([c for c, _, _, _ in self.rows]) if self.rows else np.zeros(0, np.int64)
        vals = np.concatenate([v for _, v, _, _ in self.rows]) if self.rows else np.zeros(0)
        a = sp.csr_matrix((vals, cols, indptr), shape=(len(self.rows), self.n))
        return a, np.array([r[2] for r in self.rows]), np.array([r[3] for r in self.rows])


def tie_broken_cost(prob: ImproveProblem, tie_break: float = TIE_BREAK) -> NDArray[np.float64]:
    """Costs raised by at most :data:`TIE_BREAK` of themselves, the more the better provided the part is today.

    A unit of a resource costs the same at every school, so the model has many optima of one
    cost and its solvers would place units anywhere the cuts allow; this breaks the ties toward
    the least provided schools (as the exact optimum does: water-filling). Whole yuan, rounded
    down, so each cost stays within ``[cost, cost·(1 + TIE_BREAK)]``: a bound on these costs
    divided by ``1 + TIE_BREAK`` bounds the true costs.
    """
    value = prob.resource / prob.pupils[:, None]
    rel = np.zeros(prob.n_vars)
    g = prob.gain.tocoo()
    part, k = g.row // N_INDICATORS, g.row % N_INDICATORS
    top = np.zeros((len(prob.cv_max), N_INDICATORS))
    for lv in range(len(prob.cv_max)):
        sel = prob.part_level == lv
        if sel.any():
            top[lv] = np.nan_to_num(np.nanmax(np.where(np.isfinite(value[sel]), value[sel], 0.0), axis=0), nan=0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.nan_to_num(value[part, k] / top[prob.part_level[part], k], nan=0.0, posinf=0.0)
    np.maximum.at(rel, g.col, np.clip(r, 0.0, 1.0))
    return np.floor(prob.var_cost * (1.0 + tie_break * rel)).astype(np.float64)


@dataclass
class _Cones:
    """The extended formulation of one CV test: ``Σ vᵢ ≤ t``, ``yᵢ² ≤ vᵢ·t`` (3-dimensional cones).

    With amounts scaled by ``1/scale``, ``T = Σ rᵢ``, ``yᵢ = (rᵢ − Pᵢ·T/P)/√Pᵢ`` and ``t = τ·T/√P``: then
    ``Σ yᵢ² ≤ t²`` is the CV test, and splitting it into one small cone per part lets tangent cuts
    describe it with a few cuts per part instead of many dense ones (the extended formulations of
    Vielma, Dunning, Huchette and Lubin, 2017).
    """

    group: CvGroup
    col_t: int  # column of T
    col_y: int  # first of the yᵢ columns
    col_v: int  # first of the vᵢ columns
    t_per_total: float  # τ / √P

    def point(self, x: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.float64], float]:
        n = len(self.group.parts)
        return x[self.col_y : self.col_y + n], x[self.col_v : self.col_v + n], float(x[self.col_t]) * self.t_per_total

    def row(self, cut: ConeCut) -> Row:
        """The cut as a row of the form."""
        i, cy, cv, ct = cut
        cols = np.array([self.col_y + i, self.col_v + i, self.col_t], dtype=np.int64)
        return (cols, np.array([cy, cv, ct * self.t_per_total]), -np.inf, 0.0)

    def cuts(self, x: NDArray[np.float64], tol: float = 1e-6) -> list[Row]:
        """Tangent cuts of the cones ``yᵢ² ≤ vᵢ·t`` that ``x`` violates, each at the cone point above ``x``."""
        return [self.row(c) for c in self.local_cuts(x, tol)]

    def local_cuts(self, x: NDArray[np.float64], tol: float = 1e-6) -> list[ConeCut]:
        """:meth:`cuts` in the test's own coordinates."""
        y, v, t = self.point(x)
        if t <= 1e-12:
            return []
        bad = np.flatnonzero(y * y > v * t + tol * (1 + np.abs(v * t)))
        out = []
        for i in bad:
            y0, t0 = float(y[i]), t
            v0 = y0 * y0 / t0
            norm = float(np.hypot(2 * y0, v0 - t0))
            if norm <= 0:
                continue
            cy, cv, ct = 4 * y0 / norm, (v0 - t0) / norm - 1, -(v0 - t0) / norm - 1
            out.append((int(i), float(cy), float(cv), float(ct)))
        return out


def extend_form(form: _Form, groups: list[CvGroup]) -> None:
    """Add the extended formulation of every CV test to ``form`` (see :class:`_Cones`)."""
    for g in groups:
        n = len(g.parts)
        big_p = float(g.pupils.sum())
        # amounts in county means per pupil (values O(1)); a unit's amount when there is none yet
        scale = max(float(g.base.sum()), float(g.gain.max()) if g.gain.nnz else 0.0, 1e-9) / big_p
        gain = g.gain.tocsr() / scale
        base = g.base / scale
        col_t = form.add_columns(1, 0.0, np.inf)
        col_y = form.add_columns(n, -np.inf, np.inf)
        col_v = form.add_columns(n, 0.0, np.inf)
        tot = np.asarray(gain.sum(axis=0)).ravel()
        nz = np.flatnonzero(tot)
        # T − Σ gain·u = Σ base
        form.rows.append((np.append(nz, col_t).astype(np.int64), np.append(-tot[nz], 1.0), float(base.sum()), float(base.sum())))
        for i in range(n):
            row = gain.getrow(i)
            sq = np.sqrt(g.pupils[i])
            # √Pᵢ·yᵢ − gainᵢ·u + (Pᵢ/P)·T = baseᵢ
            cols = np.concatenate([row.indices, [col_y + i, col_t]]).astype(np.int64)
            vals = np.concatenate([-row.data, [sq, g.pupils[i] / big_p]])
            form.rows.append((cols, vals, float(base[i]), float(base[i])))
        t_per_total = g.tau / np.sqrt(big_p)
        form.rows.append((np.append(np.arange(col_v, col_v + n), col_t).astype(np.int64), np.append(np.ones(n), -t_per_total), -np.inf, 0.0))
        form.cones.append(_Cones(g, col_t, col_y, col_v, t_per_total))
    form.n_base = len(form.rows)


def build_form(prob: ImproveProblem, rules: SchoolRules, tie_break: float = TIE_BREAK) -> _Form:
    """The model without cuts: per-school rule rows, side rows, objective (see the module docstring)."""
    n_u = prob.n_vars
    rows: list[tuple[NDArray[np.int64], NDArray[np.float64], float, float]] = []
    n_z = 0
    z_of: dict[int | np.integer, int] = {}
    z_rows: list[tuple[int, NDArray[np.int64], int]] = []
    for r in range(len(rules.part)):
        cols = rules.cols[r]
        if rules.need85[r] > 0:
            rows.append((cols, np.ones(len(cols)), float(rules.need85[r]), np.inf))
        if rules.need100[r] > rules.need85[r] and rules.cap[r] >= rules.need100[r]:
            z_of[r] = n_u + n_z
            n_z += 1
            rows.append((np.append(cols, z_of[r]), np.append(np.ones(len(cols)), -float(rules.need100[r])), 0.0, np.inf))
            z_rows.append((z_of[r], cols, int(rules.need100[r])))
    for part in np.unique(rules.part):
        mine = np.flatnonzero(rules.part == part)
        never = int(sum(1 for r in mine if rules.need100[r] > rules.cap[r]))
        choice = [z_of[r] for r in mine if r in z_of]
        # standards that cannot reach 100 % use up the allowance first
        must = len(choice) - max(0, int(rules.exempt[part]) - never)
        if choice and must > 0:
            rows.append((np.array(choice, dtype=np.int64), np.ones(len(choice)), float(must), np.inf))
    side = prob.side.tocsr()
    for s in range(side.shape[0]):
        row = side.getrow(s)
        rows.append((row.indices.astype(np.int64), row.data.astype(np.float64), -np.inf, float(prob.side_rhs[s])))
    cost = np.concatenate([tie_broken_cost(prob, tie_break), np.zeros(n_z)])
    ub = np.concatenate([prob.var_ub.astype(np.float64), np.ones(n_z)])
    return _Form(n_u=n_u, cost=cost, ub=ub, rows=rows, z_rows=z_rows, n_base=len(rows))


def _add_cut(form: _Form, group: CvGroup, u: NDArray[Any], inner: NDArray[Any] | None = None) -> None:
    """Add the group's cut at ``u``; with a passing plan ``inner``, at the point where the segment
    ``inner → u`` leaves the group's cone (an extended supporting hyperplane, far tighter than a
    cut at ``u`` itself when ``u`` is far outside)."""
    point = np.asarray(u, dtype=np.float64)
    if inner is not None and group.cv(inner) < group.tau:
        lo, hi = 0.0, 1.0
        for _ in range(40):
            mid = 0.5 * (lo + hi)
            if group.cv(inner + mid * (point - inner)) <= group.tau:
                lo = mid
            else:
                hi = mid
        point = inner + hi * (point - inner)
    cuts = [group.cut(point), group.cut(np.asarray(u, dtype=np.float64), fill=True)]
    cuts += group.aggregated_cuts(np.asarray(u, dtype=np.float64))
    rows: list[Row] = []
    for coef, rhs in cuts:
        nz = np.flatnonzero(np.abs(coef) > 1e-15)
        rows.append((nz.astype(np.int64), coef[nz], -np.inf, rhs))
    form.add_flat(group, rows)


def _lp_round(form: _Form) -> tuple[NDArray[np.float64], float]:
    a, lo, hi = form.matrix()
    ub_rows, lb_rows = np.isfinite(hi), np.isfinite(lo)
    a_ub = sp.vstack([a[ub_rows], -a[lb_rows]]).tocsr()
    b_ub = np.concatenate([hi[ub_rows], -lo[lb_rows]])
    res = linprog(form.cost, A_ub=a_ub, b_ub=b_ub, bounds=np.c_[form.lower(), form.ub], method="highs-ds")
    if res.status == 2:
        raise _Infeasible
    if res.status != 0 or res.x is None:
        msg = f"the LP relaxation of the achievement plan failed: {res.message}"
        raise SolverError(msg)
    return np.asarray(res.x), float(res.fun)


class _Infeasible(Exception):
    """The relaxation has no solution: neither has the plan."""


def lp_bound(prob: ImproveProblem, form: _Form, groups: list[CvGroup], inner: NDArray[Any] | None = None) -> float:
    """Tighten ``form`` with cuts at LP points until the LP point passes every CV test (or the rounds end); the LP bound."""
    value, stalled = 0.0, 0
    for _ in range(LP_ROUNDS):
        x, new = _lp_round(form)
        # the LP has many optima of one value (a unit costs the same at every school): once the
        # value stops rising the bound is found, though the point still wanders
        stalled = stalled + 1 if new <= value * (1 + LP_RISE) + 1e-6 else 0
        value = max(value, new)
        u = x[: form.n_u]
        bad = [g for g in groups if not (g.cv(u) <= g.tau + LP_CV_TOL)]
        cone_cuts = form.cone_cuts(x)
        form.rows += cone_cuts
        if (not bad and not cone_cuts) or stalled >= LP_STALL:
            break
        if not form.cones:
            for g in bad:
                _add_cut(form, g, u, inner)
    return value


def _integer_row(cols: NDArray[np.int64], vals: NDArray[np.float64], lo: float, hi: float) -> tuple[list[int], int | None, int | None]:
    """A row with integer coefficients for CP-SAT, looser than the original (all variables ≥ 0).

    Integer rows are kept; others (the cuts, ``≤`` rows) are scaled so that the largest
    coefficient is :data:`CUT_SCALE`, coefficients rounded down and the right-hand side up.
    """
    if np.all(np.abs(vals - np.rint(vals)) < 1e-9):
        lo_i = None if not np.isfinite(lo) else int(np.ceil(lo - 1e-9))
        hi_i = None if not np.isfinite(hi) else int(np.floor(hi + 1e-9))
        return [int(v) for v in np.rint(vals)], lo_i, hi_i
    if np.isfinite(lo):
        msg = "only ≤ rows may have fractional coefficients"
        raise ValueError(msg)
    k = CUT_SCALE / float(np.abs(vals).max())
    return [int(v) for v in np.floor(vals * k)], None, int(np.ceil(hi * k + 1e-6))


def _cpsat_round(
    form: _Form, hint: NDArray[np.int64] | None, limits: SolveLimits, det_s: float, relative_gap: float
) -> tuple[NDArray[np.int64] | None, float, bool, float]:
    """One CP-SAT solve of ``form``: (plan or None, best bound, proven optimal, deterministic time used)."""
    m = cp_model.CpModel()
    x = [m.new_int_var(0, int(ub), f"x{j}") for j, ub in enumerate(form.ub)]
    for cols, vals, lo, hi in form.rows:
        coef, lo_i, hi_i = _integer_row(cols, vals, lo, hi)
        expr = cp_model.LinearExpr.weighted_sum([x[c] for c in cols], coef)
        m.add_linear_constraint(expr, -(2**62) if lo_i is None else lo_i, 2**62 if hi_i is None else hi_i)
    nz = np.flatnonzero(form.cost)
    m.minimize(cp_model.LinearExpr.weighted_sum([x[j] for j in nz], [int(form.cost[j]) for j in nz]))
    if hint is not None:
        for j in range(form.n):
            m.add_hint(x[j], int(hint[j]))
    solver = cp_model.CpSolver()
    prm = solver.parameters
    prm.num_workers = limits.workers
    prm.random_seed = limits.seed
    prm.max_deterministic_time = max(det_s, 0.1)
    prm.relative_gap_limit = relative_gap
    prm.interleave_search = limits.workers > 1
    prm.catch_sigint_signal = False  # Ctrl-C stays with the command line (exit 130)
    if limits.wall_limit_s is not None:
        prm.max_time_in_seconds = limits.wall_limit_s
    status = solver.solve(m)
    used = float(solver.response_proto.deterministic_time)
    if status == cp_model.INFEASIBLE:
        raise _Infeasible
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return None, float(solver.best_objective_bound) if status == cp_model.UNKNOWN else 0.0, False, used
    plan: NDArray[np.int64] = np.array([solver.value(v) for v in x], dtype=np.int64)
    return plan, float(solver.best_objective_bound), status == cp_model.OPTIMAL, used


def _highs_round(
    form: _Form, work_s: float, relative_gap: float, wall_s: float
) -> tuple[NDArray[np.float64] | None, float, bool, float]:
    """One HiGHS (SciPy ``milp``) solve of ``form`` with the cuts as they are (no rounding).

    The work limit is a node limit (``work_s ×`` :data:`NODES_PER_S`: deterministic); ``wall_s`` is a
    wall-clock safety net. Returns (plan or None, best bound, proven within the gap, work used in seconds).
    """
    a, lo, hi = form.matrix()
    t0 = time.perf_counter()
    with quiet_stdout():
        res = milp(
            form.cost,
            constraints=LinearConstraint(a, lo, hi),
            integrality=form.is_integer().astype(np.int64),
            bounds=Bounds(form.lower(), form.ub),
            options={"time_limit": max(wall_s, 0.1), "mip_rel_gap": relative_gap, "node_limit": max(1, int(work_s * NODES_PER_S))},
        )
    if time.perf_counter() - t0 >= wall_s:
        logger.warning("HiGHS stopped on its wall-clock safety limit (%.0f s): the plan may differ between machines", wall_s)
    took = max(float(getattr(res, "mip_node_count", 0) or 0), 1.0) / NODES_PER_S
    if res.status == 2:
        raise _Infeasible
    bound = float(getattr(res, "mip_dual_bound", 0.0) or 0.0)
    if res.x is None:
        return None, bound, False, took
    x = np.asarray(res.x, dtype=np.float64)
    ints = form.is_integer()
    x[ints] = np.rint(x[ints])
    return x, bound, res.status == 0, took


def _exact_ok(prob: ImproveProblem, groups: list[CvGroup], u: NDArray[np.int64]) -> bool:
    side_ok = bool((prob.side @ u <= prob.side_rhs + 1e-9).all()) if prob.side.shape[0] else True
    return side_ok and all(g.passes(u) for g in groups)


def _cv_infeasible(prob: ImproveProblem, groups: list[CvGroup]) -> InfeasibleError:
    """The CV tests the caps leave out of reach: each at its lowest with every measure at its cap."""
    top = prob.var_ub.astype(np.float64)
    short = [
        Shortfall(
            f"{LEVELS[g.level]} {QUALITY_INDICATORS[g.indicator]}", 0, "CV",
            f"CV {g.cv(top):.3f} with every measure at its cap, threshold {g.tau:g}",
            "improve.cv_at_cap", figures(level=LEVELS[g.level], indicator=QUALITY_INDICATORS[g.indicator], cv=float(g.cv(top)), tau=float(g.tau)),
        )
        for g in groups
        if not g.passes(prob.var_ub)
    ]
    return InfeasibleError(
        "the CV tests cannot all be met with the measures allowed and their caps (hires per school, site area, training limit)",
        short,
        hint="allow more measures ([improve] resources), raise max_hires_per_school or backbone_per_year, or give site_area_m2",
    )


def _full(form: _Form, u: NDArray[np.int64]) -> NDArray[np.int64]:
    """``x = [u, z]`` for a plan ``u``: each ``z`` set where its standard is met."""
    x = np.zeros(form.n, dtype=np.int64)
    x[: form.n_u] = u
    for zc, cols, need in form.z_rows:
        x[zc] = int(u[cols].sum() >= need)
    return x


@dataclass(frozen=True)
class _Least:
    """One least-cost solve of a set of targets: the plan, its cost, the bound and the solver's figures."""

    units: NDArray[np.int64]
    cost: int
    bound: float
    lp: float
    greedy: GreedyPlan
    rounds: int = 0
    cuts: int = 0
    log: tuple[str, ...] = ()


@dataclass(frozen=True)
class _Setup:
    """What every solve of one call shares: the work budget, the gap, the backend, the tie-break and the cut pool."""

    limits: SolveLimits
    relative_gap: float
    backend: Backend
    tie_break: float
    pool: CutPool


def _least_cost(prob: ImproveProblem, rules: SchoolRules, groups: list[CvGroup], *, setup: _Setup, greedy: GreedyPlan | None = None) -> _Least:
    """The least-cost plan meeting ``rules`` and ``groups`` (the formulation of the module docstring; ``greedy``: its baseline if known,
    or any plan meeting them: the first incumbent)."""
    limits, relative_gap, backend, tie_break = setup.limits, setup.relative_gap, setup.backend, setup.tie_break
    greedy = greedy or greedy_plan(prob, rules, groups)
    if not groups and not (rules.need85 > 0).any() and not (rules.need100 > 0).any():
        zero = np.zeros(prob.n_vars, dtype=np.int64)
        return _Least(zero, 0, 0.0, 0.0, greedy)
    form = build_form(prob, rules, tie_break)
    form.pool = setup.pool
    if backend == "highs":
        extend_form(form, groups)
    form.add_pooled(groups)
    inner = 0.5 * (greedy.units + prob.var_ub.astype(np.float64))
    for g in groups:  # no resource anywhere: the CV is undefined until some is added
        col = np.asarray(g.gain.sum(axis=0)).ravel()
        if g.base.sum() <= 0 and (col > 0).any():
            nz = np.flatnonzero(col > 0)
            form.rows.append((nz.astype(np.int64), col[nz], float(col[nz].min()), np.inf))
            form.n_base += 1
    for g in groups:  # cuts where the county is today and where the baseline takes it
        for point in (np.zeros(prob.n_vars), greedy.units):
            if not g.passes(point.astype(np.int64)):
                _add_cut(form, g, point, inner)
    try:
        c0 = time.process_time()
        lp = lp_bound(prob, form, groups, inner) / (1 + tie_break)
        first = drop_units(prob, greedy.units, rules, groups) if greedy.passes else None
        if first is not None and not _exact_ok(prob, groups, first):  # a hire taken back can leave a backbone teacher without a candidate
            first = greedy.units
        state = _Search(best=first, bound=lp, inner=inner, tie_break=tie_break, t0=time.perf_counter())
        cpu = time.process_time() - c0
        state.log.append(f"LP bound {lp:,.0f} after {len(form.rows) - form.n_base} cuts ({cpu:.1f} s CPU), greedy {greedy.cost:,}")
        _integer_rounds(prob, form, rules, groups, state, limits=limits, relative_gap=relative_gap, backend=backend)
    except _Infeasible as err:
        raise _cv_infeasible(prob, groups) from err
    if state.best is None:
        msg = "no achievement plan found within the work budget; raise [solver] time_limit_s"
        raise SolverError(msg)
    cost = float(prob.var_cost @ state.best)
    # every plan costs a multiple of the costs' greatest common divisor: round the bound up to one
    step = int(np.gcd.reduce(prob.var_cost[prob.var_cost > 0])) if (prob.var_cost > 0).any() else 1
    bound = min(step * np.ceil(state.bound / step - 1e-9), cost)
    return _Least(state.best.astype(np.int64), int(cost), float(bound), float(lp), greedy, state.rounds, len(form.rows) - form.n_base,
                  tuple(state.log))


def _start(prob: ImproveProblem, rules: SchoolRules, groups: list[CvGroup], units: NDArray[np.int64]) -> GreedyPlan | None:
    """``units`` as the first incumbent of a solve, if it meets ``rules``, ``groups`` and the side limits."""
    ok = _exact_ok(prob, groups, units) and all(rule_ok(rules, units, int(p)) for p in np.unique(rules.part))
    cost = int(prob.var_cost @ units)
    return GreedyPlan(units, cost, units, cost, True) if ok else None


def _add_parts(
    prob: ImproveProblem, rules: SchoolRules, cvs: list[CvGroup], plan: _Least, parts: set[int], *, budget: float,
    fit: Callable[..., _Least], rounds: int,
) -> tuple[_Least, set[int]]:
    """Rounds of schools brought to standard within the budget: the most pupils by a knapsack on each part's extra cost."""
    zero = np.zeros(prob.n_vars, dtype=np.int64)
    added: set[int] = set()
    left = budget
    for _ in range(rounds):
        todo = [int(p) for p in np.unique(rules.part) if int(p) not in parts | added]
        costs = np.array([int(prob.var_cost @ part_fix(prob, rules, plan.units, p)) for p in todo], dtype=np.int64)
        pick = choose_parts(prob.pupils[todo], costs, left - plan.cost)
        if not pick.any():
            break
        want = rules_of(rules, parts | added | {todo[n] for n in np.flatnonzero(pick)})
        cand = plan.units + sum((part_fix(prob, rules, plan.units, todo[n]) for n in np.flatnonzero(pick)), zero)
        trial = fit(want, cvs, _start(prob, want, cvs, cand))
        if trial.cost > budget:  # the least cost of the parts together is a hair above the sum: ask for less
            left -= trial.cost - budget
            continue
        added |= {todo[n] for n in np.flatnonzero(pick)}
        plan = trial
    return plan, added


def _within_budget(
    prob: ImproveProblem, rules: SchoolRules, groups: list[CvGroup], full: _Least, budget: float, run: Callable[..., _Least], *, setup_gap: float
) -> tuple[_Least, BudgetChoice]:
    """The plan a budget below the least cost buys (see :mod:`planning.improve.targets`): CV tests, then pupils, then cost.

    The solves that only choose targets stop within :data:`ALONE_GAP` (a plan over the budget is solved again to
    the caller's gap before targets are given up); the chosen targets are then solved once to the caller's gap,
    from the last plan. Each solve starts from the cuts of the solves before it (:class:`CutPool`) and, where the
    last plan with the new parts' fixes meets the new targets, from that plan as its incumbent; a test that
    passes with no measure costs nothing alone (no solve).
    """
    none = rules_of(rules, set())
    zero = np.zeros(prob.n_vars, dtype=np.int64)
    loose = max(ALONE_GAP, setup_gap)

    def fit(r: SchoolRules, gs: list[CvGroup], start: GreedyPlan | None = None) -> _Least:
        """A loose solve, again to the caller's gap when the loose plan is over the budget."""
        out = run(r, gs, start, gap=loose)
        return out if out.cost <= budget else run(r, gs, _start(prob, r, gs, out.units))

    # each test alone only ranks the tests and says what one would cost: within ALONE_GAP of its optimum
    alone = [0 if g.passes(zero) else run(none, [g], gap=loose).cost for g in groups]
    chosen = choose_cvs(alone, budget)
    plan = fit(none, [groups[i] for i in chosen])
    while plan.cost > budget and chosen:  # the tests share measures; rarely they cost more together
        chosen.remove(max(chosen, key=lambda i: (alone[i], i)))
        plan = fit(none, [groups[i] for i in chosen])
    cvs = [groups[i] for i in chosen]
    parts: set[int] = set()
    for rounds in (3, 1):  # the money the final solve saves may bring one more round of schools
        plan, added = _add_parts(prob, rules, cvs, plan, parts, budget=budget, fit=fit, rounds=rounds)
        parts |= added
        if not added and rounds == 1:
            break
        final = rules_of(rules, parts)
        plan = run(final, cvs, _start(prob, final, cvs, plan.units))  # the least cost of the chosen targets, to the caller's gap
    u = plan.units
    cv_left = tuple((g.level, g.indicator, alone[n]) for n, g in enumerate(groups) if not g.passes(u))
    parts_left = tuple(
        (int(p), int(prob.var_cost @ part_fix(prob, rules, u, int(p)))) for p in np.unique(rules.part) if not rule_ok(rules, u, int(p))
    )
    return plan, BudgetChoice(budget=float(budget), full_cost=full.cost, cv_left=cv_left, parts_left=parts_left)


def solve_improve_core(
    prob: ImproveProblem,
    *,
    limits: SolveLimits | None = None,
    relative_gap: float = 0.005,
    backend: Backend = "highs",
    tie_break: float = TIE_BREAK,
    budget: float | None = None,
) -> ImproveSolution:
    """Least-cost plan that passes every CV test and the per-school rule (see the module docstring).

    Targets the caps leave out of reach, and a budget below the least cost, are met as far as
    possible in the lexicographic order of :mod:`planning.improve.targets` (most targets met, then
    the smallest remaining excesses, then the least cost); the solution lists what is left.

    Parameters
    ----------
    prob
        The problem on arrays.
    limits
        Work budget (deterministic seconds for CP-SAT; seconds of HiGHS time for ``backend="highs"``),
        workers and seed.
    relative_gap
        Stop once the plan is proven within this relative gap of the bound.
    backend
        ``highs`` (the default: SciPy's HiGHS on the extended formulation, exact cut coefficients)
        or ``cpsat`` (CP-SAT on the plain formulation, cuts rounded to integers; a second opinion
        in tests — on the 300-school benchmark it stalls near 5 % where HiGHS proves 0.1 %).
    tie_break
        Most relative raise of a cost by the tie-break (:func:`tie_broken_cost`); 0 to prove
        optima exactly (slower).
    budget
        Ceiling on the total cost, yuan (``None``: none).

    Returns
    -------
    ImproveSolution

    Raises
    ------
    InfeasibleError
        No plan meets even the relaxed targets (caps that contradict each other).
    SolverError
        The LP or the integer solver failed, or no plan was found within the budget.
    """
    limits = limits or SolveLimits()
    t0 = time.perf_counter()
    rules = school_rules(prob)
    rules, gaps = relax_rules(prob, rules, diagnose(prob, rules))
    rules, coupled, witness = meet_jointly(prob, rules)
    gaps = sorted(gaps + coupled, key=lambda g: (g.part, g.kind))
    groups = cv_groups(prob)
    short: list[CvShort] = []
    greedy = greedy_plan(prob, rules, groups)
    start: GreedyPlan | None = greedy
    if not greedy.passes:
        groups, short, lowest = lowest_cvs(prob, groups, witness)
        greedy = greedy_plan(prob, rules, groups)  # the baseline on the targets within reach
        # its greedy steps can miss a plan that shared limits allow; the CV descent from the witness has one
        start = greedy if greedy.passes else _start(prob, rules, groups, lowest)

    setup = _Setup(limits, relative_gap, backend, tie_break, CutPool())

    def run(r: SchoolRules, gs: list[CvGroup], start: GreedyPlan | None = None, gap: float | None = None) -> _Least:
        return _least_cost(prob, r, gs, setup=setup if gap is None else replace(setup, relative_gap=gap), greedy=start)

    best = full = run(rules, groups, start)
    choice = None
    if budget is not None and full.cost > budget:
        best, choice = _within_budget(prob, rules, groups, full, budget, run, setup_gap=relative_gap)
    gap = (best.cost - best.bound) / best.cost if best.cost > 0 else 0.0
    for line in best.log:
        logger.debug(line)
    return ImproveSolution(
        units=best.units,
        cost=best.cost,
        bound=best.bound,
        gap=float(gap),
        status="OPTIMAL" if gap <= 1e-9 else "FEASIBLE",
        lp_bound=best.lp,
        greedy=greedy,
        gaps=tuple(gaps),
        cv_short=tuple(short),
        budget=choice,
        rounds=best.rounds,
        cuts=best.cuts,
        solve_s=time.perf_counter() - t0,
        log=best.log,
    )


@dataclass
class _Search:
    """The incumbent, the bound and the log of the integer rounds."""

    best: NDArray[np.int64] | None
    bound: float
    inner: NDArray[Any]
    tie_break: float = TIE_BREAK
    t0: float = 0.0
    rounds: int = 0
    log: list[str] = field(default_factory=list)

    def cost(self, prob: ImproveProblem) -> float:
        return float(prob.var_cost @ self.best) if self.best is not None else np.inf

    def offer(self, prob: ImproveProblem, cand: NDArray[np.int64] | None) -> None:
        if cand is not None and float(prob.var_cost @ cand) < self.cost(prob):
            self.best = cand


def _integer_rounds(
    prob: ImproveProblem,
    form: _Form,
    rules: SchoolRules,
    groups: list[CvGroup],
    state: _Search,
    *,
    limits: SolveLimits,
    relative_gap: float,
    backend: Backend,
) -> None:
    """Rounds of the integer model: solve, cut where the plan fails a CV test, repair it into an incumbent."""
    # deterministic work: CP-SAT's deterministic time, HiGHS's branch-and-bound nodes (NODES_PER_S a second)
    used, stalled = 0.0, 0
    wall = limits.wall_limit_s or WALL_SAFETY * limits.time_limit_s
    while state.rounds < MILP_ROUNDS and used < limits.time_limit_s and stalled < MILP_STALL:
        seen = (state.bound, state.cost(prob))
        if state.best is not None and state.cost(prob) - state.bound <= relative_gap * state.cost(prob):
            return
        state.rounds += 1
        c0 = time.process_time()
        hint = _full(form, state.best) if state.best is not None else None
        left = limits.time_limit_s - used
        x: NDArray[Any] | None
        if backend == "cpsat":
            x, rb, opt, took = _cpsat_round(form, hint, limits, left, relative_gap * ROUND_GAP_SHARE)
        else:
            x, rb, opt, took = _highs_round(form, left, relative_gap * ROUND_GAP_SHARE, max(wall - (time.perf_counter() - state.t0), 1.0))
        used += took
        state.bound = max(state.bound, rb / (1 + state.tie_break))
        if x is None:
            stalled += 1
            continue
        u = np.rint(x[: form.n_u]).astype(np.int64)
        bad = [g for g in groups if not g.passes(u)]
        form.rows += form.cone_cuts(np.asarray(x, dtype=np.float64))
        for g in bad:
            _add_cut(form, g, u, state.inner)
        if not bad and _exact_ok(prob, groups, u):
            state.offer(prob, u)
        else:
            fixed, ok = repair_cv(prob, u, groups)
            cand = drop_units(prob, fixed, rules, groups) if ok else None
            state.offer(prob, cand if cand is not None and _exact_ok(prob, groups, cand) else None)
        state.log.append(
            f"round {state.rounds}: plan {float(prob.var_cost @ u):,.0f} ({len(bad)} CV tests fail), "
            f"bound {state.bound:,.0f}, best {state.cost(prob):,.0f} ({time.process_time() - c0:.1f} s CPU)"
        )
        if opt and not bad:
            return
        stalled = stalled + 1 if (state.bound, state.cost(prob)) == seen else 0
