"""Teacher and principal rotation (校长教师交流轮岗, 教师〔2014〕4号): a yearly plan.

Three parts, each usable alone:

1. :func:`rotation_eligibility` says who may rotate this year and why not
   (years at the school, optional age caps by sex, years to retirement,
   explicit exemptions), every rule a field of :class:`EligibilityRules`.
2. :func:`solve_rotation_core` is the optimization model on plain arrays
   (ids, integer counts, seconds): *units* of interchangeable teachers, candidate
   *arcs* unit → destination school with their commute, quotas and staffing
   bounds. It knows nothing of DataFrames.
3. :func:`plan_rotation` is the table-level door: validates the schools and
   teachers, classifies schools (sending = urban or strong; receiving = weak or
   rural), builds units and arcs from a travel matrix, calls the core, turns the
   flows into named moves with a reason each, and returns a frozen
   :class:`RotationPlan`.

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
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

import numpy as np
import pandas as pd
import scipy.sparse as sp
from numpy.typing import NDArray
from ortools.linear_solver.python import model_builder_helper as mbh

from geo.errors import InfeasibleError, InputError, Problem, Shortfall, SolverError
from geo.model import TEACHERS, SchoolLevel
from geo.policy import (
    RETIREMENT_AGE_FEMALE,
    RETIREMENT_AGE_MALE,
    ROTATION_BACKBONE_MIN_SHARE,
    ROTATION_EXCLUDE_YEARS_TO_RETIREMENT,
    ROTATION_MAX_AGE_FEMALE,
    ROTATION_MAX_AGE_MALE,
    ROTATION_MAX_COMMUTE_S,
    ROTATION_MIN_SHARE,
    ROTATION_MIN_YEARS_AT_SCHOOL,
)
from geo.travel import TravelMatrix

logger = logging.getLogger(__name__)

#: Deviations are counted in hundredths of a teacher: fair shares ``Pᵢ·β`` are fractional.
DEV_SCALE = 100
#: Objective points are multiplied by this and rounded to integers for CP-SAT
#: (0.01 point resolution: a commute second costs 1/60 point).
OBJ_SCALE = 100
#: A missing mover (or backbone mover) when quotas are relaxed costs this many times the
#: most one mover and its exchange partner can change the rest of the objective.
SHORTFALL_FACTOR = 4
#: Default cap on the share of a school's eligible teachers that rotate in one year. Not a
#: national rule (which sets only the 10% floor): local practice rotates 10-20% a year so
#: that schools stay stable; counties change it with ``max_share``.
DEFAULT_MAX_SHARE = 0.20
#: Arcs kept for the integer model besides those the LP uses: reduced cost at most this
#: (scaled points; ties of a degenerate LP) and each unit's cheapest few by reduced cost.
RC_KEEP_ABS = 1e-6
RC_KEEP_PER_UNIT = 3
#: Backbone share is applied in whole percent (``100·backbone_out ≥ R·out``).
PERCENT = 100

INDICATORS: tuple[str, ...] = ("backbone", "above_qualification")

Status = Literal["OPTIMAL", "FEASIBLE"]


# --------------------------------------------------------------------------- eligibility


@dataclass(frozen=True)
class EligibilityRules:
    """Who may rotate (教师〔2014〕4号 and local rules); every rule can be changed.

    Attributes
    ----------
    min_years_at_school
        Years at the current school needed (Anhui, Gansu, Beijing: 6).
    age_caps
        Apply the age caps by sex (Gansu); off by default.
    max_age_male, max_age_female
        Age caps when ``age_caps`` is on (Gansu: men ≤ 50, women ≤ 45).
    years_to_retirement
        Teachers with fewer than this many years left before retirement are
        not rotated (Beijing: 5, "距退休不足5年"); 0 turns the rule off.
    retirement_age_male, retirement_age_female
        Statutory retirement ages.
    honour_exemptions
        A non-empty ``exempt_reason`` makes a teacher ineligible.
    """

    min_years_at_school: int = ROTATION_MIN_YEARS_AT_SCHOOL
    age_caps: bool = False
    max_age_male: int = ROTATION_MAX_AGE_MALE
    max_age_female: int = ROTATION_MAX_AGE_FEMALE
    years_to_retirement: int = ROTATION_EXCLUDE_YEARS_TO_RETIREMENT
    retirement_age_male: int = RETIREMENT_AGE_MALE
    retirement_age_female: int = RETIREMENT_AGE_FEMALE
    honour_exemptions: bool = True


_TEACHER_REQUIRED = ("teacher_id", "school_id", "subject", "backbone", "above_qualification", "years_at_school", "age", "sex")


#: Upper bound for ages and years at a school: anything larger is a data error.
_MAX_YEARS = 120


def _validate_teachers(teachers: pd.DataFrame, school_ids: set[str] | None = None) -> None:
    """Raise :class:`InputError` listing every problem of the teachers table."""
    problems: list[Problem] = []
    for col in _TEACHER_REQUIRED:
        if col not in teachers.columns:
            problems.append(Problem("teachers", "required column is missing", column=col))
    if problems:
        raise InputError(problems)
    ids = teachers["teacher_id"].astype(str)
    for tid in sorted(set(ids[ids.duplicated()])):
        problems.append(Problem("teachers", "teacher_id is not unique", row=tid, column="teacher_id"))
    for col in ("years_at_school", "age"):
        vals = pd.to_numeric(teachers[col], errors="coerce")
        bad = vals.isna() | (vals < 0) | (vals != np.floor(vals.fillna(0)))
        for tid in ids[bad.to_numpy()]:
            problems.append(Problem("teachers", "must be a whole number ≥ 0", row=tid, column=col))
        # a career is never longer than this: larger values are data errors (and would overflow)
        too_big = ~bad & (vals > _MAX_YEARS)
        for tid in ids[too_big.to_numpy()]:
            problems.append(Problem("teachers", f"must be at most {_MAX_YEARS} (years)", row=tid, column=col))
    bad_sex = ~teachers["sex"].isin(["M", "F"])
    for tid in ids[bad_sex.to_numpy()]:
        problems.append(Problem("teachers", "sex must be M or F", row=tid, column="sex"))
    subjects = set(TEACHERS.column("subject").choices)
    for tid, subj in zip(ids, teachers["subject"]):
        if subj not in subjects:
            problems.append(Problem("teachers", f"subject {subj!r} is not one of {sorted(subjects)}", row=tid, column="subject"))
    for col in ("backbone", "above_qualification"):
        ok = teachers[col].map(lambda v: isinstance(v, (bool, np.bool_)) or v in (0, 1))
        for tid in ids[~ok.to_numpy(dtype=bool)]:
            problems.append(Problem("teachers", "must be true or false", row=tid, column=col))
    if school_ids is not None:
        for tid, sid in zip(ids, teachers["school_id"].astype(str)):
            if sid not in school_ids:
                problems.append(Problem("teachers", f"school_id {sid!r} not found in the schools layer", row=tid, column="school_id"))
    if problems:
        raise InputError(problems)


def rotation_eligibility(teachers: pd.DataFrame, *, rules: EligibilityRules = EligibilityRules()) -> pd.DataFrame:
    """Which teachers may rotate this year, with the reason for each who may not.

    Parameters
    ----------
    teachers
        Teachers table with ``teacher_id, school_id, years_at_school, age, sex``
        and optional ``exempt_reason``.
    rules
        The rules to apply.

    Returns
    -------
    pandas.DataFrame
        ``teacher_id, school_id, eligible, reason`` sorted by ``teacher_id``;
        ``reason`` is empty for eligible teachers, else every rule that fails,
        joined by "; ".

    Raises
    ------
    InputError
        Missing columns or invalid values (all listed at once).
    """
    _validate_teachers(teachers)
    tid = teachers["teacher_id"].astype(str).to_numpy()
    years = pd.to_numeric(teachers["years_at_school"]).to_numpy(np.int64)
    age = pd.to_numeric(teachers["age"]).to_numpy(np.int64)
    male = (teachers["sex"] == "M").to_numpy()
    reasons: list[list[str]] = [[] for _ in range(len(tid))]
    for i in np.flatnonzero(years < rules.min_years_at_school):
        reasons[i].append(f"{years[i]} years at this school (needs {rules.min_years_at_school})")
    if rules.age_caps:
        cap = np.where(male, rules.max_age_male, rules.max_age_female)
        for i in np.flatnonzero(age > cap):
            reasons[i].append(f"age {age[i]} above the cap of {cap[i]} for {'men' if male[i] else 'women'}")
    if rules.years_to_retirement > 0:
        retire = np.where(male, rules.retirement_age_male, rules.retirement_age_female)
        for i in np.flatnonzero(retire - age < rules.years_to_retirement):
            reasons[i].append(
                f"{max(int(retire[i] - age[i]), 0)} years to retirement at {retire[i]} "
                f"(fewer than {rules.years_to_retirement})"
            )
    if rules.honour_exemptions and "exempt_reason" in teachers.columns:
        ex = teachers["exempt_reason"].astype(object).where(teachers["exempt_reason"].notna(), "").astype(str).str.strip()
        for i in np.flatnonzero(ex.to_numpy() != ""):
            reasons[i].append(f"exempt: {ex.iloc[i]}")
    out = pd.DataFrame(
        {
            "teacher_id": pd.array(tid, dtype="str"),
            "school_id": pd.array(teachers["school_id"].astype(str).to_numpy(), dtype="str"),
            "eligible": np.array([not r for r in reasons], dtype=bool),
            "reason": pd.array(["; ".join(r) for r in reasons], dtype="str"),
        }
    )
    return out.sort_values("teacher_id", ignore_index=True)


# --------------------------------------------------------------------------- core model


@dataclass(frozen=True)
class RotationProblem:
    """The model on plain arrays (see the module docstring for the formulation).

    Attributes
    ----------
    n_schools, n_subjects
        Schools are ``0..n_schools-1``, subjects ``0..n_subjects-1``.
    pupils
        ``(n_schools,)`` pupils of each school (weights of the balance indicators).
    indicator_count
        ``(n_schools, 2)`` teachers now at each school who are backbone /
        above the required qualification.
    staff_now, staff_lo, staff_hi
        ``(n_schools, n_subjects)`` teachers of each subject now and the bounds
        after rotation.
    quota_group
        ``(n_schools,)`` quota group of each school (a sending school's own index
        per school, 0 for the county), ``-1`` for schools without a quota.
    quota_movers
        ``(n_groups,)`` movers each quota group must send out.
    backbone_percent
        ``R``: backbone movers ≥ ``R``% of a group's movers.
    unit_school, unit_subject, unit_count, unit_backbone, unit_qualified
        Units of interchangeable eligible teachers.
    arc_unit, arc_dest, arc_cost
        Candidate moves: unit → destination school, integer cost per teacher in
        :data:`OBJ_SCALE` × points (commute, per-move and community penalties).
    dev_weight
        ``(2,)`` integer cost per hundredth of a teacher of deviation, per indicator.
    relax_quotas
        Add shortfall variables instead of hard quotas.
    move_cap
        ``(n_schools,)`` most teachers a school may send out (``-1``: no cap), or ``None``.
    """

    n_schools: int
    n_subjects: int
    pupils: NDArray[np.int64]
    indicator_count: NDArray[np.int64]
    staff_now: NDArray[np.int64]
    staff_lo: NDArray[np.int64]
    staff_hi: NDArray[np.int64]
    quota_group: NDArray[np.int64]
    quota_movers: NDArray[np.int64]
    backbone_percent: int
    unit_school: NDArray[np.int64]
    unit_subject: NDArray[np.int64]
    unit_count: NDArray[np.int64]
    unit_backbone: NDArray[np.bool_]
    unit_qualified: NDArray[np.bool_]
    arc_unit: NDArray[np.int64]
    arc_dest: NDArray[np.int64]
    arc_cost: NDArray[np.int64]
    dev_weight: NDArray[np.int64]
    relax_quotas: bool = False
    move_cap: NDArray[np.int64] | None = None


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


def build_rotation_model(prob: RotationProblem) -> _Matrix:
    """Assemble the model as a sparse matrix (rows: unit, staffing, deviation, quota)."""
    n_arc = len(prob.arc_unit)
    u = prob.arc_unit
    src = prob.unit_school[u]
    dst = prob.arc_dest
    subj = prob.unit_subject[u]
    flags = np.stack([prob.unit_backbone[u], prob.unit_qualified[u]], axis=1)
    rows: list[NDArray[np.int64]] = []
    cols: list[NDArray[np.int64]] = []
    vals: list[NDArray[np.float64]] = []
    lo: list[NDArray[np.float64]] = []
    hi: list[NDArray[np.float64]] = []
    n_rows = 0
    arc_idx = np.arange(n_arc)

    # unit capacity: Σ x[a] over the unit's arcs ≤ count
    units, uinv = np.unique(u, return_inverse=True)
    rows.append(n_rows + uinv)
    cols.append(arc_idx)
    vals.append(np.ones(n_arc))
    lo.append(np.full(len(units), -np.inf))
    hi.append(prob.unit_count[units].astype(np.float64))
    n_rows += len(units)

    # staffing per (school, subject): lo − now ≤ in − out ≤ hi − now
    key_out = src * prob.n_subjects + subj
    key_in = dst * prob.n_subjects + subj
    keys, kinv = np.unique(np.concatenate([key_out, key_in]), return_inverse=True)
    rows.append(n_rows + kinv)
    cols.append(np.concatenate([arc_idx, arc_idx]))
    vals.append(np.concatenate([-np.ones(n_arc), np.ones(n_arc)]))
    ks, kj = keys // prob.n_subjects, keys % prob.n_subjects
    lo.append((prob.staff_lo[ks, kj] - prob.staff_now[ks, kj]).astype(np.float64))
    hi.append((prob.staff_hi[ks, kj] - prob.staff_now[ks, kj]).astype(np.float64))
    n_rows += len(keys)

    # deviation per (touched school with pupils, indicator)
    total_pupils = float(prob.pupils.sum())
    touched = np.unique(np.concatenate([src, dst]))
    touched = touched[prob.pupils[touched] > 0]
    pos = np.full(prob.n_schools, -1, dtype=np.int64)
    pos[touched] = np.arange(len(touched))
    n_dev = 2 * len(touched) * len(INDICATORS)
    dev_col0 = n_arc
    offset = 0.0
    dev_cost = np.zeros(n_dev)
    for k in range(len(INDICATORS)):
        total_k = float(prob.indicator_count[:, k].sum())
        target = np.rint(DEV_SCALE * prob.pupils * total_k / total_pupils) if total_pupils > 0 else np.zeros(prob.n_schools)
        # untouched schools keep their deviation: a constant of the objective
        rest = np.ones(prob.n_schools, dtype=bool)
        rest[touched] = False
        rest &= prob.pupils > 0
        offset += float(prob.dev_weight[k]) * float(np.abs(DEV_SCALE * prob.indicator_count[rest, k] - target[rest]).sum())
        row0 = n_rows + k * len(touched)
        f = flags[:, k]
        for ends, sign in ((src, -1.0), (dst, 1.0)):
            sel = f & (pos[ends] >= 0)
            rows.append(row0 + pos[ends[sel]])
            cols.append(arc_idx[sel])
            vals.append(np.full(int(sel.sum()), sign * DEV_SCALE))
        pcol = dev_col0 + 2 * (k * len(touched) + np.arange(len(touched)))
        rows.append(np.concatenate([row0 + np.arange(len(touched))] * 2))
        cols.append(np.concatenate([pcol, pcol + 1]))
        vals.append(np.concatenate([-np.ones(len(touched)), np.ones(len(touched))]))
        rhs = target[touched] - DEV_SCALE * prob.indicator_count[touched, k]
        lo.append(rhs.astype(np.float64))
        hi.append(rhs.astype(np.float64))
        dev_cost[pcol - dev_col0] = prob.dev_weight[k]
        dev_cost[pcol + 1 - dev_col0] = prob.dev_weight[k]
    n_rows += len(touched) * len(INDICATORS)

    # convex-hull cut: B is an integer, so |100·B − T| ≥ the chord between B = ⌊T⌋ and ⌈T⌉;
    # with it the LP relaxation of every deviation term is exact at integer points
    for k in range(len(INDICATORS)):
        total_k = float(prob.indicator_count[:, k].sum())
        target = np.rint(DEV_SCALE * prob.pupils * total_k / total_pupils).astype(np.int64) if total_pupils > 0 else np.zeros(prob.n_schools, np.int64)
        fl = target[touched] // DEV_SCALE
        frac = target[touched] - DEV_SCALE * fl
        slope = (DEV_SCALE - 2 * frac).astype(np.float64)
        row0 = n_rows + k * len(touched)
        f = flags[:, k]
        for ends, sign in ((src, 1.0), (dst, -1.0)):
            sel = f & (pos[ends] >= 0)
            rows.append(row0 + pos[ends[sel]])
            cols.append(arc_idx[sel])
            vals.append(sign * slope[pos[ends[sel]]])
        pcol = dev_col0 + 2 * (k * len(touched) + np.arange(len(touched)))
        rows.append(np.concatenate([row0 + np.arange(len(touched))] * 2))
        cols.append(np.concatenate([pcol, pcol + 1]))
        vals.append(np.ones(2 * len(touched)))
        lo.append((frac + (prob.indicator_count[touched, k] - fl) * slope).astype(np.float64))
        hi.append(np.full(len(touched), np.inf))
    n_rows += len(touched) * len(INDICATORS)

    # quotas per group: movers ≥ q; 100·backbone_out − R·out ≥ 0
    n_groups = len(prob.quota_movers)
    g = prob.quota_group[src]
    sel = g >= 0
    n_short = n_groups if prob.relax_quotas else 0
    short_col0 = n_arc + n_dev
    rows.append(n_rows + g[sel])
    cols.append(arc_idx[sel])
    vals.append(np.ones(int(sel.sum())))
    rows.append(n_rows + n_groups + g[sel])
    cols.append(arc_idx[sel])
    vals.append(PERCENT * flags[sel, 0].astype(np.float64) - prob.backbone_percent)
    if prob.relax_quotas:
        gi = np.arange(n_groups)
        rows.append(np.concatenate([n_rows + gi, n_rows + n_groups + gi]))
        cols.append(np.concatenate([short_col0 + gi, short_col0 + n_groups + gi]))
        vals.append(np.concatenate([np.ones(n_groups), np.full(n_groups, float(PERCENT))]))
    lo.append(prob.quota_movers.astype(np.float64))
    hi.append(np.full(n_groups, np.inf))
    lo.append(np.zeros(n_groups))
    hi.append(np.full(n_groups, np.inf))
    n_rows += 2 * n_groups

    # most movers out of a school
    if prob.move_cap is not None:
        capped = prob.move_cap[src] >= 0
        cs = np.unique(src[capped])
        cpos = np.searchsorted(cs, src[capped])
        rows.append(n_rows + cpos)
        cols.append(arc_idx[capped])
        vals.append(np.ones(int(capped.sum())))
        lo.append(np.full(len(cs), -np.inf))
        hi.append(prob.move_cap[cs].astype(np.float64))
        n_rows += len(cs)

    n_cols = n_arc + n_dev + 2 * n_short
    a = sp.csr_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(n_rows, n_cols), dtype=np.float64
    )
    a.sum_duplicates()
    lb = np.zeros(n_cols)
    # tight finite bounds keep CP-SAT's integer scaling exact: a deviation is at most the
    # indicator's county total plus the school's fair share; a shortfall at most the quota
    dev_ub = np.zeros(n_dev)
    for k in range(len(INDICATORS)):
        total_k = float(prob.indicator_count[:, k].sum())
        share = np.ceil(DEV_SCALE * prob.pupils[touched] * total_k / total_pupils) if total_pupils > 0 else 0.0
        bound_k = DEV_SCALE * total_k + share + DEV_SCALE
        pcol = 2 * (k * len(touched) + np.arange(len(touched)))
        dev_ub[pcol] = bound_k
        dev_ub[pcol + 1] = bound_k
    short_ub = np.concatenate([prob.quota_movers, prob.quota_movers]).astype(np.float64) if n_short else np.zeros(0)
    per_mover = 2 * (2 * DEV_SCALE * int(prob.dev_weight.sum()) + (int(prob.arc_cost.max()) if n_arc else 0))
    penalty = float(SHORTFALL_FACTOR * max(per_mover, OBJ_SCALE))
    ub = np.concatenate([prob.unit_count[u].astype(np.float64), dev_ub, short_ub])
    # a missing mover costs twice a missing backbone mover: better to send a teacher and
    # report the backbone shortfall than to send nobody
    cost = np.concatenate([prob.arc_cost.astype(np.float64), dev_cost, np.full(n_short, 2 * penalty), np.full(n_short, penalty)])
    return _Matrix(
        lb=lb,
        ub=ub,
        cost=cost,
        a=a,
        row_lo=np.concatenate(lo),
        row_hi=np.concatenate(hi),
        n_arcs=n_arc,
        dev_cols=n_dev,
        short_cols=short_col0 + np.arange(n_short),
        bshort_cols=short_col0 + n_short + np.arange(n_short),
        offset=offset,
    )


def _helper(m: _Matrix, *, extra_row: tuple[NDArray[np.float64], float] | None = None) -> mbh.ModelBuilderHelper:
    a, lo, hi = m.a, m.row_lo, m.row_hi
    if extra_row is not None:
        coeffs, rhs = extra_row
        a = sp.vstack([a, sp.csr_matrix(coeffs.reshape(1, -1))], format="csr")
        lo = np.append(lo, rhs)
        hi = np.append(hi, np.inf)
    h = mbh.ModelBuilderHelper()
    h.fill_model_from_sparse_data(m.lb, m.ub, m.cost, lo, hi, a)
    return h


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
    deterministic_time_s: float,
    workers: int,
    seed: int,
    relative_gap: float,
    max_time_s: float | None = None,
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
        for j in np.flatnonzero(hint):
            h.add_hint(int(j), float(hint[j]))
    s = mbh.ModelSolverHelper("sat")
    params = [
        f"random_seed:{int(seed)}",
        f"num_workers:{int(workers)}",
        f"max_deterministic_time:{float(deterministic_time_s)}",
        f"relative_gap_limit:{float(relative_gap)}",
    ]
    if max_time_s is not None:
        # wall clock and CP-SAT's default parallel portfolio: not deterministic, for the benchmark's peer only
        params.append(f"max_time_in_seconds:{float(max_time_s)}")
    elif workers > 1:
        params.append("interleave_search:true")  # deterministic with several workers
    s.set_solver_specific_parameters(" ".join(params))
    s.solve(h)
    status = s.status().name
    if not s.has_solution():
        return status, math.nan, math.nan, np.zeros(len(m.lb))
    return status, float(s.objective_value()), float(s.best_objective_bound()), np.rint(s.variable_values())


def _round_hint(m: _Matrix, x: NDArray[np.float64]) -> NDArray[np.float64]:
    """Round an LP solution to integers (flows floor at ½, deviations recomputed by CP-SAT)."""
    hint = np.zeros_like(x)
    hint[: m.n_arcs] = np.floor(x[: m.n_arcs] + 0.5)
    return hint


def _solve_from_lp(
    m: _Matrix,
    prob: RotationProblem,
    lp_obj: float,
    lp_floor: float,
    lp_x: NDArray[np.float64],
    lp_rc: NDArray[np.float64],
    settings: Mapping[str, Any],
) -> tuple[str, float, float, NDArray[np.float64], bool]:
    """Integer plan from the LP: fix what the LP already decides, search the rest.

    1. *Repair*: arcs the LP sets to an integer are fixed there; CP-SAT decides the
       arcs of units the LP splits (their cheap candidates by reduced cost) and
       the deviations. Tiny when the LP is nearly integral.
    2. If that is infeasible, the model over every arc the LP uses or prices
       cheaply, with the LP bound as a row.
    3. If that fails too, the full model.

    Returns (status, objective, bound, values, whether CP-SAT's bound is global).
    The bound is global only when every arc left out has a reduced cost above
    UB − LP (it cannot be in a better plan); otherwise the LP bound is used.
    """
    keep = _candidate_arcs(m, lp_x, lp_rc, prob.arc_unit)
    xa = lp_x[: m.n_arcs]
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
    repair = _Matrix(**{**sub.__dict__, "lb": lb, "ub": ub})
    gap_ok = float(settings["relative_gap"])

    def within(obj: float, bound: float) -> bool:
        return np.isfinite(obj) and obj - bound <= gap_ok * max(abs(obj), 1.0)

    best: tuple[str, float, float, NDArray[np.float64], bool] | None = None
    # the repair and restricted models are small: one worker is deterministic and fastest
    # (interleaved workers pay a large per-batch overhead on models this size)
    small = {**settings, "workers": 1}
    status, obj, bound, xs = solve_mip(repair, hint=None, lower_bound=lp_floor, **small)
    if status in ("OPTIMAL", "FEASIBLE") and np.isfinite(obj):
        x = np.zeros(len(m.lb))
        x[cols] = xs
        best = (status, obj, lp_obj, x, False)
        logger.debug("rotation: LP repair (%d free of %d kept arcs) objective %.0f, LP %.0f", int(free.sum()), int(keep.sum()), obj, lp_obj)
        if within(obj, lp_obj):
            return best
    # the model over every arc the LP uses or prices cheaply, started from the repair
    hint = best[3][cols] if best is not None else None
    status, obj, bound, xs = solve_mip(sub, hint=hint, lower_bound=lp_floor, **small)
    if status in ("OPTIMAL", "FEASIBLE") and np.isfinite(obj) and (best is None or obj <= best[1]):
        x = np.zeros(len(m.lb))
        x[cols] = xs
        # reduced-cost test: an arc left out with reduced cost > UB − LP cannot be in a better plan
        dropped = ~keep
        proven = not dropped.any() or float(lp_rc[: m.n_arcs][dropped].min()) > obj - lp_obj
        best = (status, obj, max(bound, lp_obj) if proven else lp_obj, x, proven)
        logger.debug("rotation: restricted model objective %.0f, bound %.0f (global: %s)", obj, best[2], proven)
        if within(obj, best[2]):
            return best
    # the full model, started from the best plan so far
    status, obj, bound, x = solve_mip(m, hint=None if best is None else best[3], lower_bound=lp_floor, **settings)
    if status in ("OPTIMAL", "FEASIBLE") and np.isfinite(obj) and (best is None or obj <= best[1]):
        return status, obj, max(bound, lp_obj), x, True
    if best is not None:
        return best[0], best[1], max(best[2], bound if np.isfinite(bound) else lp_obj), best[3], best[4]
    return status, obj, bound, x, True


def solve_rotation_core(
    prob: RotationProblem,
    *,
    deterministic_time_s: float = 30.0,
    workers: int = 2,
    seed: int = 0,
    relative_gap: float = 1e-3,
    warm_start: bool = True,
    max_time_s: float | None = None,
) -> CoreSolution:
    """Solve the rotation model: GLOP LP bound, then CP-SAT warm-started from it.

    Parameters
    ----------
    prob
        The problem on arrays.
    deterministic_time_s
        CP-SAT deterministic time limit (machine-independent work units ≈ seconds).
    workers
        CP-SAT workers (``interleave_search`` keeps the result deterministic).
    seed
        CP-SAT random seed.
    relative_gap
        Stop once the plan is proven within this relative gap of the bound.
    warm_start
        Use the LP (hint and bound row); ``False`` runs a plain CP-SAT model
        (the benchmark's peer).
    max_time_s
        Wall-clock limit; breaks determinism, for benchmarks only.

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
    lp_status, lp_obj, lp_x, lp_rc = solve_lp(m)
    t_lp = time.perf_counter() - t0 - t_build
    if lp_status == "INFEASIBLE":
        raise InfeasibleError("the rotation rules cannot all be met (LP relaxation infeasible)")
    if lp_status != "OPTIMAL":
        raise SolverError(f"GLOP stopped with status {lp_status}")
    # GLOP's value may exceed the true LP optimum by its tolerance; back off before rounding up.
    lp_floor = math.ceil(lp_obj - 1e-6 * max(1.0, abs(lp_obj)))
    settings = dict(deterministic_time_s=deterministic_time_s, workers=workers, seed=seed, relative_gap=relative_gap, max_time_s=max_time_s)
    proven_within = False
    if warm_start:
        status, obj, bound, x, proven_within = _solve_from_lp(m, prob, lp_obj, lp_floor, lp_x, lp_rc, settings)
    else:
        status, obj, bound, x = solve_mip(m, hint=None, lower_bound=None, **settings)
        proven_within = True
    if status == "INFEASIBLE":
        raise InfeasibleError("the rotation rules cannot all be met (no integer plan exists)")
    if status not in ("OPTIMAL", "FEASIBLE") or not np.isfinite(obj):
        raise SolverError(f"CP-SAT stopped with status {status} and no plan; raise the time limit")
    logger.debug(
        "rotation model %d×%d: build %.2f s, LP %.2f s, CP-SAT %.2f s (%s)",
        m.a.shape[0], m.a.shape[1], t_build, t_lp, time.perf_counter() - t0 - t_build - t_lp, status,
    )
    del proven_within  # every bound returned above is global (LP, or CP-SAT's when proven)
    best_bound = max(bound, lp_obj) if np.isfinite(bound) else lp_obj
    best_bound = min(best_bound, obj)
    gap = 0.0 if obj - best_bound <= 0 else (obj - best_bound) / max(abs(obj), 1.0)
    flow = x[: m.n_arcs].astype(np.int64)
    return CoreSolution(
        flow=flow,
        short_movers=x[m.short_cols].astype(np.int64) if len(m.short_cols) else np.zeros(len(prob.quota_movers), np.int64),
        short_backbone=(
            x[m.bshort_cols].astype(np.int64) if len(m.bshort_cols) else np.zeros(len(prob.quota_movers), np.int64)
        ),
        # CP-SAT also says OPTIMAL when it stops at the gap limit: only a zero gap is optimal here.
        status="OPTIMAL" if gap <= 1e-12 else "FEASIBLE",
        objective=obj / OBJ_SCALE,
        bound=best_bound / OBJ_SCALE,
        gap=float(gap),
        lp_bound=lp_obj / OBJ_SCALE,
        solve_s=time.perf_counter() - t0,
    )


# --------------------------------------------------------------------------- table-level door

Role = Literal["sending", "receiving", "other"]


@dataclass(frozen=True)
class RotationOptions:
    """Settings of a rotation plan; defaults are the national rules (教师〔2014〕4号).

    Attributes
    ----------
    eligibility
        Who may rotate.
    min_share
        Sending schools rotate at least this share of their eligible teachers
        (rounded up).
    max_share
        A school sends out at most this share of its eligible teachers (rounded
        down, never below its quota); ``None`` for no cap. Without a cap the
        balance objective would move every teacher whose move narrows the gap.
    backbone_share
        Backbone teachers are at least this share of a sending school's movers
        (applied in whole percent; Gansu: 0.30).
    quota_scope
        ``school``: each sending school meets both quotas; ``county``: the
        sending schools together do.
    staffing
        ``exchange``: per school and subject, teachers in = teachers out;
        ``tolerance``: the count after rotation stays within
        ``staffing_tolerance`` of the county's target (``staffing_targets``, or
        today's count), never worse than today, and a school never loses its
        only teacher of a subject.
    staffing_tolerance
        Allowed distance from the target in ``tolerance`` mode.
    staffing_targets
        County target staffing (县管校聘): ``school_id, subject, target``.
    max_commute_s
        Longest commute to the new school (from home when known, else from the
        current school).
    sending_area_types, sending_strength
        A school sends when its ``area_type`` or its strength class is listed.
    receiving_area_types, receiving_strength
        A school that does not send receives when its ``area_type`` or strength
        class is listed.
    return_moves
        Teachers of receiving schools may move to sending schools (the exchange
        half that keeps staffing whole).
    allow_other_schools
        Sending schools may also send to (and receive from) schools that are
        neither sending nor receiving.
    max_destinations
        Candidate destinations per group of teachers: the nearest ones, same
        community first. Larger is a larger model.
    relax_quotas
        Report quota shortfalls in the plan instead of raising
        :class:`~geo.errors.InfeasibleError`.
    gap_weight
        Points per unit of the L1 spread surrogate (see module docstring).
    commute_weight_per_min
        Points per minute of one-way commute per mover.
    move_penalty
        Points per move (fewer moves when the gap allows).
    outside_community_penalty
        Points per move between schools of different communities (when known).
    """

    eligibility: EligibilityRules = EligibilityRules()
    min_share: float = ROTATION_MIN_SHARE
    max_share: float | None = DEFAULT_MAX_SHARE
    backbone_share: float = ROTATION_BACKBONE_MIN_SHARE
    quota_scope: Literal["school", "county"] = "school"
    staffing: Literal["exchange", "tolerance"] = "exchange"
    staffing_tolerance: int = 1
    staffing_targets: pd.DataFrame | None = field(default=None, compare=False)
    max_commute_s: int = ROTATION_MAX_COMMUTE_S
    sending_area_types: tuple[str, ...] = ("urban",)
    sending_strength: tuple[str, ...] = ("strong",)
    receiving_area_types: tuple[str, ...] = ("rural",)
    receiving_strength: tuple[str, ...] = ("weak",)
    return_moves: bool = True
    allow_other_schools: bool = False
    max_destinations: int = 20
    relax_quotas: bool = False
    gap_weight: float = 100_000.0
    commute_weight_per_min: float = 1.0
    move_penalty: float = 20.0
    outside_community_penalty: float = 30.0


@dataclass(frozen=True)
class RotationPlan:
    """A yearly rotation plan.

    Attributes
    ----------
    moves
        One row per moving teacher, sorted by ``teacher_id``: ``teacher_id,
        from_school, to_school, subject, backbone, above_qualification,
        commute_s, same_community, direction`` (``out`` from a sending school,
        ``return`` the exchange half), ``reason``.
    schools
        One row per school, sorted by ``school_id``: role, eligible teachers,
        quotas and what was met, out/in per subject, backbone out/in, the two
        indicators per 100 pupils before and after.
    eligibility
        :func:`rotation_eligibility` output.
    metrics
        Key figures (JSON-able).
    status
        ``OPTIMAL`` (proven) or ``FEASIBLE`` (within ``gap`` of the bound).
    objective, bound, gap
        Objective and best bound in points, relative gap.
    shortfalls
        Quotas not met (only with ``relax_quotas``).
    """

    moves: pd.DataFrame
    schools: pd.DataFrame
    eligibility: pd.DataFrame
    metrics: Mapping[str, Any]
    status: Status
    objective: float
    bound: float
    gap: float
    shortfalls: tuple[Shortfall, ...] = ()


_SCHOOL_REQUIRED = ("school_id", "name", "level", "area_type", "enrolled_primary", "enrolled_junior")


def _validate_schools(schools: pd.DataFrame) -> None:
    problems = [Problem("schools", "required column is missing", column=c) for c in _SCHOOL_REQUIRED if c not in schools]
    if problems:
        raise InputError(problems)
    ids = schools["school_id"].astype(str)
    for sid in sorted(set(ids[ids.duplicated()])):
        problems.append(Problem("schools", "school_id is not unique", row=sid, column="school_id"))
    for col in ("enrolled_primary", "enrolled_junior"):
        vals = pd.to_numeric(schools[col], errors="coerce")
        for sid in ids[(vals.isna() | (vals < 0)).to_numpy()]:
            problems.append(Problem("schools", "must be a whole number ≥ 0", row=sid, column=col))
    levels = {v.value for v in SchoolLevel}
    for sid, lv in zip(ids, schools["level"]):
        if lv not in levels:
            problems.append(Problem("schools", f"level {lv!r} is not one of {sorted(levels)}", row=sid, column="level"))
    if problems:
        raise InputError(problems)


def _school_roles(
    schools: pd.DataFrame, strength: pd.DataFrame | None, opts: RotationOptions
) -> tuple[NDArray[np.str_], NDArray[np.object_]]:
    """Role of each school and its strength class (``None`` when unknown)."""
    area = schools["area_type"].astype(str).to_numpy()
    cls = np.full(len(schools), None, dtype=object)
    if strength is not None:
        s = strength if "school_id" not in strength.columns else strength.set_index("school_id")
        s = s[~s.index.duplicated()]
        cls = s["strength_class"].reindex(schools["school_id"].astype(str).to_numpy()).astype(object).to_numpy()
        cls = np.where(pd.isna(cls), None, cls)
    send = np.isin(area, opts.sending_area_types) | np.isin(cls.astype(str), opts.sending_strength)
    recv = ~send & (np.isin(area, opts.receiving_area_types) | np.isin(cls.astype(str), opts.receiving_strength))
    role = np.where(send, "sending", np.where(recv, "receiving", "other"))
    return role, cls


def _community(schools: pd.DataFrame, groups: pd.DataFrame | None) -> NDArray[np.int64]:
    """Community index of each school (``-1`` when in none)."""
    out = np.full(len(schools), -1, dtype=np.int64)
    if groups is None or len(groups) == 0:
        return out
    missing = [c for c in ("school_id", "group_id") if c not in groups.columns]
    if missing:
        raise InputError([Problem("groups", "required column is missing", column=c) for c in missing])
    g = groups.drop_duplicates("school_id").set_index(groups.drop_duplicates("school_id")["school_id"].astype(str))
    codes = {gid: i for i, gid in enumerate(sorted(g["group_id"].astype(str).unique()))}
    gid = g["group_id"].astype(str).reindex(schools["school_id"].astype(str).to_numpy())
    return np.array([codes.get(v, -1) if isinstance(v, str) else -1 for v in gid], dtype=np.int64)


def _dense_time(travel: TravelMatrix, ids: NDArray[np.str_]) -> NDArray[np.float64]:
    """``(n, n)`` school-to-school time in s (inf where unreachable), rows/cols in ``ids`` order."""
    pos = {sid: i for i, sid in enumerate(ids)}
    o = np.array([pos.get(s, -1) for s in travel.origin_ids])
    d = np.array([pos.get(s, -1) for s in travel.dest_ids])
    out = np.full((len(ids), len(ids)), np.inf)
    oo, dd = o[travel.origin], d[travel.dest]
    ok = (oo >= 0) & (dd >= 0)
    out[oo[ok], dd[ok]] = travel.time_s[ok]
    np.fill_diagonal(out, 0.0)
    return out


def _default_travel(schools: pd.DataFrame, cutoff_s: float) -> TravelMatrix:
    """School-to-school drive times along the straight line × detour (no road network)."""
    from geo.travel import STRAIGHT_LINE_SPEED_KMH, representative_xy, straight_line_matrix  # noqa: PLC0415

    if "geometry" not in schools.columns:
        raise InputError([Problem("schools", "needs point geometries or a travel matrix to compute commutes", column="geometry")])
    ids = schools["school_id"].astype(str).to_numpy()
    xy = representative_xy(schools)
    return straight_line_matrix(
        ids, xy, ids, xy, speed_kmh=STRAIGHT_LINE_SPEED_KMH["drive"], cutoff_s=cutoff_s, mode="drive (straight line)"
    )


def _teacher_level(teachers: pd.DataFrame, school_level: pd.Series) -> NDArray[np.object_]:
    """Level each teacher teaches: ``level`` column, else the school's level (``None`` at nine-year schools)."""
    lv = school_level.reindex(teachers["school_id"].astype(str).to_numpy()).astype(str).to_numpy().astype(object)
    lv = np.where(lv == SchoolLevel.NINE_YEAR.value, None, lv)
    if "level" in teachers.columns:
        own = teachers["level"].astype(object).to_numpy()
        known = np.isin(own.astype(str), ["primary", "junior"])
        lv = np.where(known, own, lv)
    return lv


def _fmt_min(seconds: float) -> str:
    return f"{seconds / 60:.0f} min"


@dataclass(frozen=True)
class _Built:
    """The core problem and what is needed to turn its flows back into teachers."""

    prob: RotationProblem
    school_ids: NDArray[np.str_]
    names: NDArray[np.str_]
    role: NDArray[np.str_]
    strength_class: NDArray[np.object_]
    community: NDArray[np.int64]
    subjects: tuple[str, ...]
    eligible_count: NDArray[np.int64]
    unit_teachers: tuple[tuple[int, ...], ...]
    arc_time_s: NDArray[np.int64]
    arc_outside: NDArray[np.bool_]
    group_names: tuple[str, ...]
    backbone_required: NDArray[np.int64]
    precheck: tuple[Shortfall, ...]


def _build(
    schools: pd.DataFrame,
    teachers: pd.DataFrame,
    eligibility: pd.DataFrame,
    *,
    school_travel: TravelMatrix,
    home_travel: TravelMatrix | None,
    strength: pd.DataFrame | None,
    groups: pd.DataFrame | None,
    opts: RotationOptions,
) -> _Built:
    schools = schools.sort_values("school_id", key=lambda s: s.astype(str), ignore_index=True)
    ids = schools["school_id"].astype(str).to_numpy()
    n = len(ids)
    pos = {sid: i for i, sid in enumerate(ids)}
    names = schools["name"].astype(str).to_numpy()
    role, cls = _school_roles(schools, strength, opts)
    comm = _community(schools, groups)
    pupils = (
        pd.to_numeric(schools["enrolled_primary"]).to_numpy(np.int64) + pd.to_numeric(schools["enrolled_junior"]).to_numpy(np.int64)
    )
    school_level = pd.Series(schools["level"].astype(str).to_numpy(), index=ids)

    t = teachers.reset_index(drop=True)
    t_school = np.array([pos[s] for s in t["school_id"].astype(str)], dtype=np.int64)
    subjects = tuple(sorted(t["subject"].astype(str).unique()))
    spos = {s: i for i, s in enumerate(subjects)}
    t_subj = np.array([spos[s] for s in t["subject"].astype(str)], dtype=np.int64)
    t_bb = t["backbone"].astype(bool).to_numpy()
    t_aq = t["above_qualification"].astype(bool).to_numpy()
    t_level = _teacher_level(t, school_level)
    elig_map = dict(zip(eligibility["teacher_id"], eligibility["eligible"]))
    t_elig = np.array([bool(elig_map[str(x)]) for x in t["teacher_id"]], dtype=bool)

    ns = len(subjects)
    staff_now = np.zeros((n, ns), dtype=np.int64)
    np.add.at(staff_now, (t_school, t_subj), 1)
    indicator = np.zeros((n, 2), dtype=np.int64)
    np.add.at(indicator[:, 0], t_school, t_bb.astype(np.int64))
    np.add.at(indicator[:, 1], t_school, t_aq.astype(np.int64))

    target = staff_now.copy()
    if opts.staffing_targets is not None:
        tt = opts.staffing_targets
        problems = [Problem("staffing_targets", "required column is missing", column=c) for c in ("school_id", "subject", "target") if c not in tt]
        if problems:
            raise InputError(problems)
        for r, (sid, subj, val) in enumerate(zip(tt["school_id"].astype(str), tt["subject"].astype(str), tt["target"]), start=1):
            if sid not in pos:
                problems.append(Problem("staffing_targets", f"school_id {sid!r} not found", row=r, column="school_id"))
            elif subj not in spos:
                problems.append(Problem("staffing_targets", f"no teacher of subject {subj!r} in the county", row=r, column="subject"))
            elif pd.isna(val) or int(val) < 0:
                problems.append(Problem("staffing_targets", "target must be a whole number ≥ 0", row=r, column="target"))
            else:
                target[pos[sid], spos[subj]] = int(val)
        if problems:
            raise InputError(problems)
    if opts.staffing == "exchange":
        lo, hi = staff_now.copy(), staff_now.copy()
    else:
        tol = int(opts.staffing_tolerance)
        lo = np.minimum(np.maximum(target - tol, 0), staff_now)
        hi = np.maximum(target + tol, staff_now)
        lo = np.where(staff_now >= 1, np.maximum(lo, 1), lo)
    teaches = (staff_now > 0) | (target > 0)  # (school, subject)

    # quotas
    sending = role == "sending"
    elig_count = np.zeros(n, dtype=np.int64)
    np.add.at(elig_count, t_school, t_elig.astype(np.int64))
    pct = int(round(opts.backbone_share * PERCENT))
    quota_group = np.full(n, -1, dtype=np.int64)
    if opts.quota_scope == "school":
        send_idx = np.flatnonzero(sending)
        quota_group[send_idx] = np.arange(len(send_idx))
        quota = np.array([math.ceil(opts.min_share * elig_count[i] - 1e-9) for i in send_idx], dtype=np.int64)
        group_names = tuple(str(names[i]) for i in send_idx)
    else:
        quota_group[sending] = 0
        quota = np.array([math.ceil(opts.min_share * int(elig_count[sending].sum()) - 1e-9)], dtype=np.int64)
        group_names = ("the sending schools together",)
    bb_required = np.array([math.ceil(pct * q / PERCENT - 1e-9) for q in quota], dtype=np.int64)
    move_cap = None
    if opts.max_share is not None:
        move_cap = np.where(sending, np.floor(opts.max_share * elig_count + 1e-9), -1).astype(np.int64)
        if opts.quota_scope == "school":
            own = quota_group >= 0
            move_cap[own] = np.maximum(move_cap[own], quota[quota_group[own]])
        else:
            # the county quota must stay reachable: caps of sending schools sum to at least it
            send_idx = np.flatnonzero(sending)
            short = int(quota[0]) - int(move_cap[send_idx].sum()) if len(quota) else 0
            for i in send_idx[np.argsort(-elig_count[send_idx], kind="stable")]:
                if short <= 0:
                    break
                add = min(short, int(elig_count[i] - move_cap[i]))
                move_cap[i] += add
                short -= add

    # which origin role may send to which destination role
    allowed = {"sending": {"receiving"}, "receiving": set(), "other": set()}
    if opts.return_moves:
        allowed["receiving"].add("sending")
    if opts.allow_other_schools:
        allowed["sending"].add("other")
        allowed["other"].add("sending")
    dest_mask = {r: np.isin(role, sorted(allowed[r])) for r in allowed}

    # units of interchangeable eligible teachers
    home_rows: dict[str, int] = {}
    home_csr = None
    if home_travel is not None:
        home_rows = {tid: i for i, tid in enumerate(home_travel.origin_ids)}
        dpos = np.array([pos.get(s, -1) for s in home_travel.dest_ids])
        ok = dpos[home_travel.dest] >= 0
        home_csr = sp.csr_matrix(
            (home_travel.time_s[ok].astype(np.float64) + 1.0, (home_travel.origin[ok], dpos[home_travel.dest[ok]])),
            shape=(len(home_travel.origin_ids), n),
        )
    tids = t["teacher_id"].astype(str).to_numpy()
    years = pd.to_numeric(t["years_at_school"]).to_numpy(np.int64)
    movable_role = np.array([bool(dest_mask[role[s]].any()) for s in t_school])
    cand = np.flatnonzero(t_elig & movable_role)
    keys: dict[tuple[Any, ...], list[int]] = {}
    for i in cand:
        home = tids[i] if tids[i] in home_rows else ""
        key = (int(t_school[i]), int(t_subj[i]), str(t_level[i]), bool(t_bb[i]), bool(t_aq[i]), home)
        keys.setdefault(key, []).append(int(i))
    unit_keys = sorted(keys)
    # longest-serving teachers move first, then by id: a rule planners can explain
    unit_teachers = tuple(tuple(sorted(keys[k], key=lambda i: (-years[i], tids[i]))) for k in unit_keys)

    school_time = _dense_time(school_travel, ids)
    # candidate destinations (nearest first, same community first) and their times, per
    # (school, subject, level, home): units differing only in backbone/qualification share them
    cand_cache: dict[tuple[int, int, str, str], tuple[NDArray[np.int64], NDArray[np.float64]]] = {}
    arc_u: list[NDArray[np.int64]] = []
    arc_d: list[NDArray[np.int64]] = []
    arc_t: list[NDArray[np.float64]] = []
    level_ok = {
        lv: (school_level.to_numpy() == lv) | (school_level.to_numpy() == SchoolLevel.NINE_YEAR.value) for lv in ("primary", "junior")
    }
    for u, (s, j, lv, _bb, _aq, home) in enumerate(unit_keys):
        ck = (s, j, lv, home)
        if ck not in cand_cache:
            if home:
                row = np.asarray(home_csr[home_rows[home]].toarray()).ravel()
                times = np.where(row > 0, row - 1.0, np.inf)
            else:
                times = school_time[s]
            ok = dest_mask[role[s]] & teaches[:, j] & (times <= opts.max_commute_s)
            if lv in level_ok:
                ok &= level_ok[lv]
            ok[s] = False
            d = np.flatnonzero(ok)
            outside = (comm[d] != comm[s]) | (comm[s] < 0) if (comm >= 0).any() else np.zeros(len(d), bool)
            order = np.lexsort((d, times[d], outside))[: opts.max_destinations]
            cand_cache[ck] = (d[order], times[d[order]])
        dd, tt = cand_cache[ck]
        arc_u.append(np.full(len(dd), u, dtype=np.int64))
        arc_d.append(dd)
        arc_t.append(tt)
    arc_unit = np.concatenate(arc_u) if arc_u else np.empty(0, np.int64)
    arc_dest = np.concatenate(arc_d) if arc_d else np.empty(0, np.int64)
    arc_time = np.rint(np.concatenate(arc_t)).astype(np.int64) if arc_t else np.empty(0, np.int64)
    unit_school = np.array([k[0] for k in unit_keys], dtype=np.int64)
    unit_subject = np.array([k[1] for k in unit_keys], dtype=np.int64)
    unit_bb = np.array([k[3] for k in unit_keys], dtype=bool)
    unit_aq = np.array([k[4] for k in unit_keys], dtype=bool)
    unit_count = np.array([len(v) for v in unit_teachers], dtype=np.int64)
    has_comm = bool((comm >= 0).any())
    outside = (comm[unit_school[arc_unit]] != comm[arc_dest]) | (comm[arc_dest] < 0) if has_comm else np.zeros(len(arc_unit), bool)
    cost = np.rint(
        OBJ_SCALE
        * (
            opts.commute_weight_per_min * arc_time / 60.0
            + opts.move_penalty
            + opts.outside_community_penalty * outside
        )
    ).astype(np.int64)
    totals = indicator.sum(axis=0)
    dev_weight = np.array(
        [max(1, round(OBJ_SCALE * opts.gap_weight / (DEV_SCALE * tot))) if tot > 0 else 0 for tot in totals], dtype=np.int64
    )
    prob = RotationProblem(
        n_schools=n,
        n_subjects=ns,
        pupils=pupils,
        indicator_count=indicator,
        staff_now=staff_now,
        staff_lo=lo,
        staff_hi=hi,
        quota_group=quota_group,
        quota_movers=quota,
        backbone_percent=pct,
        unit_school=unit_school,
        unit_subject=unit_subject,
        unit_count=unit_count,
        unit_backbone=unit_bb,
        unit_qualified=unit_aq,
        arc_unit=arc_unit,
        arc_dest=arc_dest,
        arc_cost=cost,
        dev_weight=dev_weight,
        relax_quotas=opts.relax_quotas,
        move_cap=move_cap,
    )
    precheck = _precheck(prob, opts, names=names, subjects=subjects, group_names=group_names, elig_count=elig_count, bb_required=bb_required)
    return _Built(
        prob=prob,
        school_ids=ids,
        names=names,
        role=role,
        strength_class=cls,
        community=comm,
        subjects=subjects,
        eligible_count=elig_count,
        unit_teachers=unit_teachers,
        arc_time_s=arc_time,
        arc_outside=outside,
        group_names=group_names,
        backbone_required=bb_required,
        precheck=precheck,
    )


def _precheck(
    prob: RotationProblem,
    opts: RotationOptions,
    *,
    names: NDArray[np.str_],
    subjects: tuple[str, ...],
    group_names: tuple[str, ...],
    elig_count: NDArray[np.int64],
    bb_required: NDArray[np.int64],
) -> tuple[Shortfall, ...]:
    """Quotas that cannot be met whatever the plan, with the reason (checked before solving)."""
    n_groups = len(prob.quota_movers)
    has_arc = np.zeros(len(prob.unit_school), dtype=bool)
    has_arc[prob.arc_unit] = True
    # exchange: a teacher can only leave if some teacher of the subject can come back
    can_return = set(zip(prob.arc_dest.tolist(), prob.unit_subject[prob.arc_unit].tolist()))
    no_return: dict[int, set[str]] = {}
    movable = has_arc.copy()
    if opts.staffing == "exchange":
        for u in np.flatnonzero(has_arc):
            s, j = int(prob.unit_school[u]), int(prob.unit_subject[u])
            if (s, j) not in can_return:
                movable[u] = False
                no_return.setdefault(s, set()).add(subjects[j])
    g_of_unit = prob.quota_group[prob.unit_school]
    out: list[Shortfall] = []
    cap = _fmt_min(opts.max_commute_s)
    for g in range(n_groups):
        in_g = g_of_unit == g
        members = np.flatnonzero(prob.quota_group == g)
        eligible = int(elig_count[members].sum())
        n_units = int(prob.unit_count[in_g].sum())
        n_reach = int(prob.unit_count[in_g & has_arc].sum())
        n_move = int(prob.unit_count[in_g & movable].sum())
        bb_elig = int(prob.unit_count[in_g & prob.unit_backbone].sum())
        bb_move = int(prob.unit_count[in_g & movable & prob.unit_backbone].sum())
        q, b = int(prob.quota_movers[g]), int(bb_required[g])
        where = group_names[g]
        if n_move < q:
            why = [f"{eligible} eligible teachers, quota {q}"]
            if n_reach < n_units:
                why.append(f"{n_units - n_reach} have no receiving school within {cap} that teaches their subject and level")
            lost = sorted(set().union(*(no_return.get(int(s), set()) for s in members)))
            if lost:
                why.append("no receiving school within the commute cap can send back a teacher of " + ", ".join(lost))
            out.append(Shortfall(where, q - n_move, "movers", "rotation quota: " + "; ".join(why)))
        if bb_move < b:
            if bb_elig == 0:
                detail = f"backbone quota: needs {b} backbone movers but has no eligible backbone teacher"
            else:
                detail = f"backbone quota: needs {b} backbone movers; {bb_elig} eligible backbone teachers, {bb_move} can move within {cap}"
            out.append(Shortfall(where, b - bb_move, "backbone movers", detail))
    return tuple(out)


def _per_100(count: NDArray[np.int64], pupils: NDArray[np.int64]) -> NDArray[np.float64]:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(pupils > 0, 100.0 * count / np.where(pupils > 0, pupils, 1), np.nan)


def plan_rotation(
    schools: pd.DataFrame,
    teachers: pd.DataFrame,
    *,
    options: RotationOptions = RotationOptions(),
    school_travel: TravelMatrix | None = None,
    home_travel: TravelMatrix | None = None,
    strength: pd.DataFrame | None = None,
    groups: pd.DataFrame | None = None,
    deterministic_time_s: float = 30.0,
    workers: int = 2,
    seed: int = 0,
    relative_gap: float = 1e-3,
) -> RotationPlan:
    """Plan this year's rotation: who moves where, meeting every quota, with a reason each.

    Parameters
    ----------
    schools
        Schools layer (``school_id, name, level, area_type, enrolled_primary,
        enrolled_junior``; point geometry when ``school_travel`` is not given).
    teachers
        Teachers table (see :data:`geo.model.TEACHERS`).
    options
        Rules and weights.
    school_travel
        School × school travel matrix (commute when a teacher's home is unknown);
        default: drive along the straight line × detour.
    home_travel
        Teacher home × school travel matrix (origins are ``teacher_id``), or ``None``.
    strength
        :func:`planning.balance.strength.strength_index` output (``strength_class`` by
        ``school_id``), or ``None`` to classify by ``area_type`` only.
    groups
        Communities (``school_id, group_id``), or ``None``.
    deterministic_time_s, workers, seed, relative_gap
        CP-SAT settings (see :func:`solve_rotation_core`).

    Returns
    -------
    RotationPlan

    Raises
    ------
    InputError
        Bad tables or options (every problem listed).
    InfeasibleError
        A quota cannot be met (which school, which quota, why), unless
        ``options.relax_quotas``.
    SolverError
        The solver stopped without a plan.
    """
    _validate_schools(schools)
    _validate_teachers(teachers, set(schools["school_id"].astype(str)))
    problems = []
    if not 0 <= options.min_share <= 1:
        problems.append(Problem("rotation", "must be between 0 and 1", column="min_share"))
    if options.max_share is not None and not 0 <= options.max_share <= 1:
        problems.append(Problem("rotation", "must be between 0 and 1", column="max_share"))
    if not 0 <= options.backbone_share <= 1:
        problems.append(Problem("rotation", "must be between 0 and 1", column="backbone_share"))
    if options.max_destinations < 1:
        problems.append(Problem("rotation", "must be ≥ 1", column="max_destinations"))
    if options.staffing_tolerance < 0:
        problems.append(Problem("rotation", "must be ≥ 0", column="staffing_tolerance"))
    if problems:
        raise InputError(problems)
    eligibility = rotation_eligibility(teachers, rules=options.eligibility)
    if school_travel is None:
        school_travel = _default_travel(schools, options.max_commute_s)
    b = _build(
        schools,
        teachers,
        eligibility,
        school_travel=school_travel,
        home_travel=home_travel,
        strength=strength,
        groups=groups,
        opts=options,
    )
    hint = "lower min_share or backbone_share, raise max_commute_s, allow_other_schools, use staffing='tolerance', or set relax_quotas=true to get a plan with the shortfall reported"
    if b.precheck and not options.relax_quotas:
        raise InfeasibleError(
            f"{len(b.precheck)} rotation quota(s) cannot be met", shortfalls=list(b.precheck), hint=hint
        )
    try:
        sol = solve_rotation_core(
            b.prob, deterministic_time_s=deterministic_time_s, workers=workers, seed=seed, relative_gap=relative_gap
        )
    except InfeasibleError:
        if options.relax_quotas:
            raise
        # explain: the relaxed model says which quotas fall short and by how much
        relaxed = RotationProblem(**{**b.prob.__dict__, "relax_quotas": True})
        rsol = solve_rotation_core(relaxed, deterministic_time_s=deterministic_time_s, workers=workers, seed=seed, relative_gap=relative_gap)
        short = _shortfalls(b, rsol, because="staffing balance per subject and the commute cap leave too few possible moves")
        raise InfeasibleError(f"{len(short)} rotation quota(s) cannot be met", shortfalls=list(short), hint=hint) from None
    return _plan_from(b, sol, teachers, eligibility, options)


def _shortfalls(b: _Built, sol: CoreSolution, *, because: str) -> tuple[Shortfall, ...]:
    out: list[Shortfall] = []
    pre = {(s.where, s.unit): s.detail for s in b.precheck}
    for g, name in enumerate(b.group_names):
        q, bq = int(b.prob.quota_movers[g]), int(b.backbone_required[g])
        if sol.short_movers[g] > 0:
            detail = pre.get((name, "movers"), f"rotation quota {q}: {because}")
            out.append(Shortfall(name, int(sol.short_movers[g]), "movers", detail))
        if sol.short_backbone[g] > 0:
            detail = pre.get((name, "backbone movers"), f"backbone quota {bq}: {because}")
            out.append(Shortfall(name, int(sol.short_backbone[g]), "backbone movers", detail))
    return tuple(out)


def _plan_from(
    b: _Built, sol: CoreSolution, teachers: pd.DataFrame, eligibility: pd.DataFrame, opts: RotationOptions
) -> RotationPlan:
    prob = b.prob
    t = teachers.reset_index(drop=True)
    tids = t["teacher_id"].astype(str).to_numpy()
    n = prob.n_schools
    # flows → teachers: each unit hands out its teachers in order, arcs in destination order
    used = np.zeros(len(b.unit_teachers), dtype=np.int64)
    rows: list[tuple[int, int, int, int, bool]] = []  # teacher row, from, to, time, outside
    for a in np.lexsort((b.school_ids[prob.arc_dest], prob.arc_unit)):
        f = int(sol.flow[a])
        if f <= 0:
            continue
        u = int(prob.arc_unit[a])
        for i in b.unit_teachers[u][used[u] : used[u] + f]:
            rows.append((i, int(prob.unit_school[u]), int(prob.arc_dest[a]), int(b.arc_time_s[a]), bool(b.arc_outside[a])))
        used[u] += f
    r = np.array([x[0] for x in rows], dtype=np.int64)
    frm = np.array([x[1] for x in rows], dtype=np.int64)
    to = np.array([x[2] for x in rows], dtype=np.int64)
    bb = t["backbone"].astype(bool).to_numpy()[r] if len(r) else np.zeros(0, bool)
    aq = t["above_qualification"].astype(bool).to_numpy()[r] if len(r) else np.zeros(0, bool)
    out_dir = b.role[frm] == "sending" if len(r) else np.zeros(0, bool)

    # indicators before/after per school
    before = prob.indicator_count.copy()
    after = before.copy()
    for k, flag in enumerate((bb, aq)):
        np.add.at(after[:, k], to[flag], 1)
        np.add.at(after[:, k], frm[flag], -1)
    bb100 = (_per_100(before[:, 0], prob.pupils), _per_100(after[:, 0], prob.pupils))
    aq100 = (_per_100(before[:, 1], prob.pupils), _per_100(after[:, 1], prob.pupils))

    # reasons
    subj = t["subject"].astype(str).to_numpy()
    order = np.lexsort((tids[r], ~bb)) if len(r) else np.zeros(0, np.int64)
    n_out = np.zeros(n, dtype=np.int64)
    n_bb_out = np.zeros(n, dtype=np.int64)
    g_out = np.zeros(max(len(prob.quota_movers), 1), dtype=np.int64)
    g_bb = np.zeros_like(g_out)
    reasons = [""] * len(r)
    for m in order:
        s, d = int(frm[m]), int(to[m])
        parts: list[str] = []
        if out_dir[m]:
            g = int(prob.quota_group[s])
            n_out[s] += 1
            g_out[g] += 1
            if bb[m]:
                n_bb_out[s] += 1
                g_bb[g] += 1
            q, bq = int(prob.quota_movers[g]), int(b.backbone_required[g])
            who = b.group_names[g] if opts.quota_scope == "school" else "the county's sending schools"
            if bb[m] and g_bb[g] <= bq:
                parts.append(f"backbone quota of {who} ({g_bb[g]} of {bq})")
            elif g_out[g] <= q:
                parts.append(f"rotation quota of {who} ({g_out[g]} of {q})")
            else:
                parts.append(f"move from {b.names[s]} beyond its quota that narrows the gap between schools")
            raised = False
            for flag, (v0, v1), what in ((bb[m], bb100, "backbone"), (aq[m], aq100, "above-qualification")):
                if flag and v1[d] > v0[d]:
                    parts.append(f"raises {what} teachers per 100 pupils at {b.names[d]} from {v0[d]:.1f} to {v1[d]:.1f}")
                    raised = True
            if not raised:
                parts.append(f"brings a {subj[r[m]]} teacher from {b.names[s]} to {b.names[d]}")
        else:
            parts.append(f"exchange: keeps {subj[r[m]]} staffing of {b.names[d]} whole for the {subj[r[m]]} teacher(s) it sends out")
            if b.role[s] != "sending":
                parts.append(f"gains experience at {b.names[d]}")
        same = not rows[m][4]
        parts.append(f"commute {_fmt_min(rows[m][3])}" + (", within the same community" if same and (b.community >= 0).any() else ""))
        reasons[m] = "; ".join(parts)

    moves = pd.DataFrame(
        {
            "teacher_id": pd.array(tids[r], dtype="str"),
            "from_school": pd.array(b.school_ids[frm], dtype="str"),
            "to_school": pd.array(b.school_ids[to], dtype="str"),
            "subject": pd.array(subj[r], dtype="str"),
            "backbone": bb.astype(bool),
            "above_qualification": aq.astype(bool),
            "commute_s": np.array([x[3] for x in rows], dtype=np.int64),
            "same_community": np.array([not x[4] for x in rows], dtype=bool),
            "direction": pd.array(np.where(out_dir, "out", "return"), dtype="str"),
            "reason": pd.array(reasons, dtype="str"),
        }
    ).sort_values("teacher_id", ignore_index=True)

    # per school
    quota_school = np.zeros(n, dtype=np.int64)
    bq_school = np.zeros(n, dtype=np.int64)
    if opts.quota_scope == "school":
        has_q = prob.quota_group >= 0
        quota_school[has_q] = prob.quota_movers[prob.quota_group[has_q]]
        bq_school[has_q] = b.backbone_required[prob.quota_group[has_q]]
    n_in = np.bincount(to, minlength=n)
    n_bb_in = np.bincount(to[bb], minlength=n)
    total_out = np.bincount(frm, minlength=n)
    bb_total_out = np.bincount(frm[bb], minlength=n)
    sch = pd.DataFrame(
        {
            "school_id": pd.array(b.school_ids, dtype="str"),
            "name": pd.array(b.names, dtype="str"),
            "role": pd.array(b.role, dtype="str"),
            "strength_class": pd.array([c if c is not None else pd.NA for c in b.strength_class], dtype="str"),
            "pupils": prob.pupils,
            "eligible": b.eligible_count,
            "quota_movers": quota_school,
            "quota_backbone": bq_school,
            "out": total_out,
            "backbone_out": bb_total_out,
            "in": n_in,
            "backbone_in": n_bb_in,
        }
    )
    short_m = np.zeros(n, dtype=np.int64)
    short_b = np.zeros(n, dtype=np.int64)
    met = pd.array([pd.NA] * n, dtype="boolean")
    if opts.quota_scope == "school":
        for i in np.flatnonzero(prob.quota_group >= 0):
            g = prob.quota_group[i]
            short_m[i], short_b[i] = sol.short_movers[g], sol.short_backbone[g]
            met[i] = bool(short_m[i] == 0 and short_b[i] == 0)
    sch["short_movers"] = short_m
    sch["short_backbone"] = short_b
    sch["quota_met"] = met
    for j, name in enumerate(b.subjects):
        sel = np.array([subj[i] == name for i in r], dtype=bool)
        sch[f"out_{name}"] = np.bincount(frm[sel], minlength=n)
        sch[f"in_{name}"] = np.bincount(to[sel], minlength=n)
    sch["backbone_per_100_before"] = np.round(bb100[0], 3)
    sch["backbone_per_100_after"] = np.round(bb100[1], 3)
    sch["above_qualification_per_100_before"] = np.round(aq100[0], 3)
    sch["above_qualification_per_100_after"] = np.round(aq100[1], 3)

    shortfalls = _shortfalls(b, sol, because="not enough possible moves")
    send = b.role == "sending"
    movers_out = int(out_dir.sum())
    bb_out = int((bb & out_dir).sum())
    elig_send = int(b.eligible_count[send].sum())
    commute = moves["commute_s"].to_numpy(np.float64)
    groups_met = int(sum(1 for g in range(len(prob.quota_movers)) if sol.short_movers[g] == 0 and sol.short_backbone[g] == 0))
    metrics: dict[str, Any] = {
        "teachers": len(t),
        "eligible_teachers": int(eligibility["eligible"].sum()),
        "eligible_at_sending_schools": elig_send,
        "sending_schools": int(send.sum()),
        "receiving_schools": int((b.role == "receiving").sum()),
        "movers": len(moves),
        "movers_out": movers_out,
        "movers_return": int(len(moves) - movers_out),
        "rotation_share": (movers_out / elig_send) if elig_send else None,
        "backbone_movers_out": bb_out,
        "backbone_share_of_movers": (bb_out / movers_out) if movers_out else None,
        "quota_scope": opts.quota_scope,
        "quotas": len(prob.quota_movers),
        "quotas_met": groups_met,
        "quota_shortfall_movers": int(sol.short_movers.sum()),
        "quota_shortfall_backbone": int(sol.short_backbone.sum()),
        "same_community_share": float(moves["same_community"].mean()) if len(moves) and (b.community >= 0).any() else None,
        "commute_mean_s": float(commute.mean()) if len(commute) else None,
        "commute_median_s": float(np.median(commute)) if len(commute) else None,
        "commute_p90_s": float(np.percentile(commute, 90)) if len(commute) else None,
        "commute_max_s": int(commute.max()) if len(commute) else None,
        "objective": sol.objective,
        "bound": sol.bound,
        "lp_bound": sol.lp_bound,
        "gap": sol.gap,
        "status": sol.status,
        "solve_s": sol.solve_s,
        "candidate_moves": len(prob.arc_unit),
        "units": len(prob.unit_school),
    }
    logger.info(
        "rotation: %d movers out of %d eligible at sending schools, %d returns, gap %.4f",
        movers_out,
        elig_send,
        metrics["movers_return"],
        sol.gap,
    )
    return RotationPlan(
        moves=moves,
        schools=sch,
        eligibility=eligibility,
        metrics=MappingProxyType(metrics),
        status=sol.status,
        objective=sol.objective,
        bound=sol.bound,
        gap=sol.gap,
        shortfalls=shortfalls,
    )


def apply_moves(teachers: pd.DataFrame, moves: pd.DataFrame) -> pd.DataFrame:
    """The teachers table after rotation: each mover's ``school_id`` set to ``to_school``."""
    out = teachers.copy()
    dest = dict(zip(moves["teacher_id"].astype(str), moves["to_school"].astype(str)))
    ids = out["teacher_id"].astype(str)
    out["school_id"] = [dest.get(tid, sid) for tid, sid in zip(ids, out["school_id"].astype(str))]
    return out


def balance_change(schools: pd.DataFrame, teachers: pd.DataFrame, moves: pd.DataFrame) -> pd.DataFrame:
    """CVs of the balance indicators before and after the moves, by the balance code.

    Returns
    -------
    pandas.DataFrame
        :func:`planning.balance.indicators.compare_balance` of the county before and after.
    """
    from planning.balance.indicators import compare_balance, evaluate_balance  # noqa: PLC0415 - only the stage needs it

    return compare_balance(evaluate_balance(schools, teachers), evaluate_balance(schools, apply_moves(teachers, moves)))
