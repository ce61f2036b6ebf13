"""The table-level door of the rotation model (``planning.rotation.from_frames``).

:func:`plan_rotation` validates the schools and teachers, classifies schools (sending =
urban or strong; receiving = weak or rural), builds units of interchangeable teachers and
candidate moves from a travel matrix, calls :func:`~planning.rotation.model.solve_rotation_core`,
turns the flows into named moves with a reason each, and returns a frozen :class:`RotationPlan`.
:func:`apply_moves` and :func:`balance_change` show the county after the plan.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from numpy.typing import NDArray

from geo.errors import InfeasibleError, InputError, Problem, Shortfall, missing_columns
from geo.model import SchoolLevel
from geo.travel import TravelMatrix
from planning.rotation.eligibility import _validate_teachers, rotation_eligibility
from planning.rotation.model import DEV_SCALE, OBJ_SCALE, PERCENT, CoreSolution, RotationProblem, Status, solve_rotation_core
from planning.rotation.options import DEFAULT_LIMITS, DEFAULT_OPTIONS, RotationOptions, SolveLimits

logger = logging.getLogger(__name__)


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
        :func:`~planning.rotation.rotation_eligibility` output.
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


# --------------------------------------------------------------------------- checks and lookups

_SCHOOL_REQUIRED = ("school_id", "name", "level", "area_type", "enrolled_primary", "enrolled_junior")

#: What to change when a quota cannot be met.
_HINT = (
    "lower min_share or backbone_share, raise max_commute_s, allow_other_schools, use staffing='tolerance', "
    "or set relax_quotas=true to get a plan with the shortfall reported"
)


def _validate_schools(schools: pd.DataFrame) -> None:
    problems = missing_columns(schools, _SCHOOL_REQUIRED, "schools")
    if problems:
        raise InputError(problems)
    ids = schools["school_id"].astype(str)
    problems += [Problem("schools", "school_id is not unique", row=sid, column="school_id") for sid in sorted(set(ids[ids.duplicated()]))]
    for col in ("enrolled_primary", "enrolled_junior"):
        vals = pd.to_numeric(schools[col], errors="coerce")
        problems += [Problem("schools", "must be a whole number ≥ 0", row=sid, column=col) for sid in ids[(vals.isna() | (vals < 0)).to_numpy()]]
    levels = {v.value for v in SchoolLevel}
    problems += [
        Problem("schools", f"level {lv!r} is not one of {sorted(levels)}", row=sid, column="level")
        for sid, lv in zip(ids, schools["level"])
        if lv not in levels
    ]
    if problems:
        raise InputError(problems)


def _school_roles(
    schools: pd.DataFrame, strength: pd.DataFrame | None, options: RotationOptions
) -> tuple[NDArray[np.str_], NDArray[np.object_]]:
    """Role of each school and its strength class (``None`` when unknown)."""
    area = schools["area_type"].astype(str).to_numpy()
    cls = np.full(len(schools), None, dtype=object)
    if strength is not None:
        s = strength if "school_id" not in strength.columns else strength.set_index("school_id")
        s = s[~s.index.duplicated()]
        cls = s["strength_class"].reindex(schools["school_id"].astype(str).to_numpy()).astype(object).to_numpy(copy=True)
        cls[np.asarray(pd.isna(cls), dtype=bool)] = None
    send = np.isin(area, options.sending_area_types) | np.isin(cls.astype(str), options.sending_strength)
    recv = ~send & (np.isin(area, options.receiving_area_types) | np.isin(cls.astype(str), options.receiving_strength))
    role = np.where(send, "sending", np.where(recv, "receiving", "other"))
    return role, cls


def _community(schools: pd.DataFrame, groups: pd.DataFrame | None) -> NDArray[np.int64]:
    """Community index of each school (``-1`` when in none)."""
    out = np.full(len(schools), -1, dtype=np.int64)
    if groups is None or len(groups) == 0:
        return out
    problems = missing_columns(groups.columns, ("school_id", "group_id"), "groups")
    if problems:
        raise InputError(problems)
    g = groups.drop_duplicates("school_id").set_index(groups.drop_duplicates("school_id")["school_id"].astype(str))
    codes = {gid: i for i, gid in enumerate(sorted(g["group_id"].astype(str).unique()))}
    gid = g["group_id"].astype(str).reindex(schools["school_id"].astype(str).to_numpy())
    return np.array([codes.get(v, -1) if isinstance(v, str) else -1 for v in gid], dtype=np.int64)


def _default_travel(schools: pd.DataFrame, cutoff_s: float) -> TravelMatrix:
    """School-to-school drive times along the straight line × detour (no road network)."""
    from geo.travel import STRAIGHT_LINE_SPEED_KMH, representative_xy, straight_line_matrix  # noqa: PLC0415 - only without a travel matrix

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


# --------------------------------------------------------------------------- tables → arrays


@dataclass(frozen=True)
class _Schools:
    """The schools sorted by ``school_id``, with what the model needs of them."""

    ids: NDArray[np.str_]
    pos: Mapping[str, int]
    names: NDArray[np.str_]
    role: NDArray[np.str_]
    strength_class: NDArray[np.object_]
    community: NDArray[np.int64]
    pupils: NDArray[np.int64]
    level: pd.Series  # by school_id


def _schools_arrays(
    schools: pd.DataFrame, strength: pd.DataFrame | None, groups: pd.DataFrame | None, options: RotationOptions
) -> _Schools:
    schools = schools.sort_values("school_id", key=lambda s: s.astype(str), ignore_index=True)
    ids = schools["school_id"].astype(str).to_numpy()
    role, cls = _school_roles(schools, strength, options)
    return _Schools(
        ids=ids,
        pos={sid: i for i, sid in enumerate(ids)},
        names=schools["name"].astype(str).to_numpy(),
        role=role,
        strength_class=cls,
        community=_community(schools, groups),
        pupils=(
            pd.to_numeric(schools["enrolled_primary"]).to_numpy(np.int64)
            + pd.to_numeric(schools["enrolled_junior"]).to_numpy(np.int64)
        ),
        level=pd.Series(schools["level"].astype(str).to_numpy(), index=ids),
    )


@dataclass(frozen=True)
class _Teachers:
    """The teachers in table order: school and subject indices, flags, eligibility."""

    ids: NDArray[np.str_]
    school: NDArray[np.int64]
    subjects: tuple[str, ...]
    subject: NDArray[np.int64]
    backbone: NDArray[np.bool_]
    qualified: NDArray[np.bool_]
    level: NDArray[np.object_]
    eligible: NDArray[np.bool_]
    years: NDArray[np.int64]


def _teachers_arrays(teachers: pd.DataFrame, sch: _Schools, eligibility: pd.DataFrame) -> _Teachers:
    t = teachers.reset_index(drop=True)
    subjects = tuple(sorted(t["subject"].astype(str).unique()))
    spos = {s: i for i, s in enumerate(subjects)}
    elig_map = dict(zip(eligibility["teacher_id"], eligibility["eligible"]))
    return _Teachers(
        ids=t["teacher_id"].astype(str).to_numpy(),
        school=np.array([sch.pos[s] for s in t["school_id"].astype(str)], dtype=np.int64),
        subjects=subjects,
        subject=np.array([spos[s] for s in t["subject"].astype(str)], dtype=np.int64),
        backbone=t["backbone"].astype(bool).to_numpy(),
        qualified=t["above_qualification"].astype(bool).to_numpy(),
        level=_teacher_level(t, sch.level),
        eligible=np.array([bool(elig_map[str(x)]) for x in t["teacher_id"]], dtype=bool),
        years=pd.to_numeric(t["years_at_school"]).to_numpy(np.int64),
    )


def _staffing_target(targets: pd.DataFrame | None, sch: _Schools, tch: _Teachers, staff_now: NDArray[np.int64]) -> NDArray[np.int64]:
    """County target staffing per (school, subject): the targets table over today's counts."""
    target = staff_now.copy()
    if targets is None:
        return target
    problems = missing_columns(targets, ("school_id", "subject", "target"), "staffing_targets")
    if problems:
        raise InputError(problems)
    spos = {s: i for i, s in enumerate(tch.subjects)}
    for r, (sid, subj, val) in enumerate(zip(targets["school_id"].astype(str), targets["subject"].astype(str), targets["target"]), start=1):
        if sid not in sch.pos:
            problems.append(Problem("staffing_targets", f"school_id {sid!r} not found", row=r, column="school_id"))
        elif subj not in spos:
            problems.append(Problem("staffing_targets", f"no teacher of subject {subj!r} in the county", row=r, column="subject"))
        elif pd.isna(val) or int(val) < 0:
            problems.append(Problem("staffing_targets", "target must be a whole number ≥ 0", row=r, column="target"))
        else:
            target[sch.pos[sid], spos[subj]] = int(val)
    if problems:
        raise InputError(problems)
    return target


def _staffing_bounds(
    staff_now: NDArray[np.int64], target: NDArray[np.int64], options: RotationOptions
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Least and most teachers per (school, subject) after rotation."""
    if options.staffing == "exchange":
        return staff_now.copy(), staff_now.copy()
    tol = int(options.staffing_tolerance)
    lo = np.minimum(np.maximum(target - tol, 0), staff_now)
    hi = np.maximum(target + tol, staff_now)
    lo = np.where(staff_now >= 1, np.maximum(lo, 1), lo)
    return lo, hi


@dataclass(frozen=True)
class _Quotas:
    """Quota groups (each sending school, or the county's sending schools together)."""

    group: NDArray[np.int64]  # (n_schools,) group of each school, -1 without a quota
    movers: NDArray[np.int64]  # (n_groups,)
    names: tuple[str, ...]
    backbone_percent: int
    backbone_required: NDArray[np.int64]
    eligible: NDArray[np.int64]  # (n_schools,) eligible teachers
    move_cap: NDArray[np.int64] | None


def _move_cap(sending: NDArray[np.bool_], elig_count: NDArray[np.int64], group: NDArray[np.int64], quota: NDArray[np.int64],
              options: RotationOptions) -> NDArray[np.int64] | None:
    """Most teachers each sending school sends (``-1`` elsewhere); never below what the quotas need."""
    if options.max_share is None:
        return None
    move_cap = np.where(sending, np.floor(options.max_share * elig_count + 1e-9), -1).astype(np.int64)
    if options.quota_scope == "school":
        own = group >= 0
        move_cap[own] = np.maximum(move_cap[own], quota[group[own]])
        return move_cap
    # the county quota must stay reachable: caps of sending schools sum to at least it
    send_idx = np.flatnonzero(sending)
    short = int(quota[0]) - int(move_cap[send_idx].sum()) if len(quota) else 0
    for i in send_idx[np.argsort(-elig_count[send_idx], kind="stable")]:
        if short <= 0:
            break
        add = min(short, int(elig_count[i] - move_cap[i]))
        move_cap[i] += add
        short -= add
    return move_cap


def _quotas(sch: _Schools, tch: _Teachers, options: RotationOptions) -> _Quotas:
    n = len(sch.ids)
    sending = sch.role == "sending"
    elig_count = np.zeros(n, dtype=np.int64)
    np.add.at(elig_count, tch.school, tch.eligible.astype(np.int64))
    pct = round(options.backbone_share * PERCENT)
    quota_group = np.full(n, -1, dtype=np.int64)
    if options.quota_scope == "school":
        send_idx = np.flatnonzero(sending)
        quota_group[send_idx] = np.arange(len(send_idx))
        quota = np.array([math.ceil(options.min_share * elig_count[i] - 1e-9) for i in send_idx], dtype=np.int64)
        group_names = tuple(str(sch.names[i]) for i in send_idx)
    else:
        quota_group[sending] = 0
        quota = np.array([math.ceil(options.min_share * int(elig_count[sending].sum()) - 1e-9)], dtype=np.int64)
        group_names = ("the sending schools together",)
    return _Quotas(
        group=quota_group,
        movers=quota,
        names=group_names,
        backbone_percent=pct,
        backbone_required=np.array([math.ceil(pct * q / PERCENT - 1e-9) for q in quota], dtype=np.int64),
        eligible=elig_count,
        move_cap=_move_cap(sending, elig_count, quota_group, quota, options),
    )


def _allowed_destinations(role: NDArray[np.str_], options: RotationOptions) -> dict[str, NDArray[np.bool_]]:
    """Which schools a school of each role may send to."""
    allowed: dict[str, set[str]] = {"sending": {"receiving"}, "receiving": set(), "other": set()}
    if options.return_moves:
        allowed["receiving"].add("sending")
    if options.allow_other_schools:
        allowed["sending"].add("other")
        allowed["other"].add("sending")
    return {r: np.isin(role, sorted(allowed[r])) for r in allowed}


_UnitKey = tuple[int, int, str, bool, bool, str]  # school, subject, level, backbone, qualified, home (teacher id or "")


def _units(tch: _Teachers, movable: NDArray[np.bool_], homes: Mapping[str, int]) -> tuple[list[_UnitKey], tuple[tuple[int, ...], ...]]:
    """Units of interchangeable eligible teachers (sorted keys) and their teacher rows, in the order they move."""
    keys: dict[_UnitKey, list[int]] = {}
    for i in np.flatnonzero(tch.eligible & movable):
        home = tch.ids[i] if tch.ids[i] in homes else ""
        key = (int(tch.school[i]), int(tch.subject[i]), str(tch.level[i]), bool(tch.backbone[i]), bool(tch.qualified[i]), home)
        keys.setdefault(key, []).append(int(i))
    unit_keys = sorted(keys)
    # longest-serving teachers move first, then by id: a rule planners can explain
    return unit_keys, tuple(tuple(sorted(keys[k], key=lambda i: (-tch.years[i], tch.ids[i]))) for k in unit_keys)


@dataclass
class _Destinations:
    """Candidate destinations (nearest first, same community first) and their times.

    Computed per (school, subject, level, home): units differing only in backbone or
    qualification share them.
    """

    sch: _Schools
    teaches: NDArray[np.bool_]  # (school, subject)
    allowed: Mapping[str, NDArray[np.bool_]]
    school_time: NDArray[np.float64]  # (n, n) seconds, inf where unreachable
    home_rows: Mapping[str, int]
    home_csr: sp.csr_matrix | None  # (homes, schools) seconds + 1
    options: RotationOptions
    cache: dict[tuple[int, int, str, str], tuple[NDArray[np.int64], NDArray[np.float64]]] = field(default_factory=dict)

    def of(self, s: int, j: int, lv: str, home: str) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
        ck = (s, j, lv, home)
        if ck not in self.cache:
            self.cache[ck] = self._compute(s, j, lv, home)
        return self.cache[ck]

    def _compute(self, s: int, j: int, lv: str, home: str) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
        if home and self.home_csr is not None:
            row = np.asarray(self.home_csr[self.home_rows[home]].toarray()).ravel()
            times = np.where(row > 0, row - 1.0, np.inf)
        else:
            times = self.school_time[s]
        ok = self.allowed[self.sch.role[s]] & self.teaches[:, j] & (times <= self.options.max_commute_s)
        if lv in ("primary", "junior"):
            level = self.sch.level.to_numpy()
            ok &= (level == lv) | (level == SchoolLevel.NINE_YEAR.value)
        ok[s] = False
        d = np.flatnonzero(ok)
        comm = self.sch.community
        outside = (comm[d] != comm[s]) | (comm[s] < 0) if (comm >= 0).any() else np.zeros(len(d), bool)
        order = np.lexsort((d, times[d], outside))[: self.options.max_destinations]
        return d[order], times[d[order]]


def _home_times(home_travel: TravelMatrix | None, sch: _Schools) -> tuple[dict[str, int], sp.csr_matrix | None]:
    """Row of each teacher with a known home, and home → school seconds + 1 (0: unreachable)."""
    if home_travel is None:
        return {}, None
    home_rows = {tid: i for i, tid in enumerate(home_travel.origin_ids)}
    by_school = home_travel.reindex(home_travel.origin_ids, sch.ids)
    home_csr = sp.csr_matrix(
        (by_school.time_s.astype(np.float64) + 1.0, (by_school.origin, by_school.dest)),
        shape=(len(home_travel.origin_ids), len(sch.ids)),
    )
    return home_rows, home_csr


def _arcs(unit_keys: list[_UnitKey], dest: _Destinations) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64]]:
    """Candidate moves: unit, destination school, time in whole seconds."""
    arc_u: list[NDArray[np.int64]] = []
    arc_d: list[NDArray[np.int64]] = []
    arc_t: list[NDArray[np.float64]] = []
    for u, (s, j, lv, _bb, _aq, home) in enumerate(unit_keys):
        dd, tt = dest.of(s, j, lv, home)
        arc_u.append(np.full(len(dd), u, dtype=np.int64))
        arc_d.append(dd)
        arc_t.append(tt)
    arc_unit = np.concatenate(arc_u) if arc_u else np.empty(0, np.int64)
    arc_dest = np.concatenate(arc_d) if arc_d else np.empty(0, np.int64)
    arc_time = np.rint(np.concatenate(arc_t)).astype(np.int64) if arc_t else np.empty(0, np.int64)
    return arc_unit, arc_dest, arc_time


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


def _costs(
    sch: _Schools, arc_src: NDArray[np.int64], arc_dest: NDArray[np.int64], arc_time: NDArray[np.int64], indicator: NDArray[np.int64],
    options: RotationOptions,
) -> tuple[NDArray[np.int64], NDArray[np.bool_], NDArray[np.int64]]:
    """Integer cost of each arc, whether it leaves its community, and the deviation weight per indicator."""
    comm = sch.community
    has_comm = bool((comm >= 0).any())
    outside = (comm[arc_src] != comm[arc_dest]) | (comm[arc_dest] < 0) if has_comm else np.zeros(len(arc_src), bool)
    cost = np.rint(
        OBJ_SCALE
        * (
            options.commute_weight_per_min * arc_time / 60.0
            + options.move_penalty
            + options.outside_community_penalty * outside
        )
    ).astype(np.int64)
    totals = indicator.sum(axis=0)
    dev_weight = np.array(
        [max(1, round(OBJ_SCALE * options.gap_weight / (DEV_SCALE * tot))) if tot > 0 else 0 for tot in totals], dtype=np.int64
    )
    return cost, outside, dev_weight


def _build(
    schools: pd.DataFrame,
    teachers: pd.DataFrame,
    eligibility: pd.DataFrame,
    *,
    school_travel: TravelMatrix,
    home_travel: TravelMatrix | None,
    strength: pd.DataFrame | None,
    groups: pd.DataFrame | None,
    staffing_targets: pd.DataFrame | None,
    options: RotationOptions,
) -> _Built:
    """The core problem of validated tables: roles, staffing bounds, quotas, units, arcs, costs."""
    sch = _schools_arrays(schools, strength, groups, options)
    tch = _teachers_arrays(teachers, sch, eligibility)
    n, ns = len(sch.ids), len(tch.subjects)
    staff_now = np.zeros((n, ns), dtype=np.int64)
    np.add.at(staff_now, (tch.school, tch.subject), 1)
    indicator = np.zeros((n, 2), dtype=np.int64)
    np.add.at(indicator[:, 0], tch.school, tch.backbone.astype(np.int64))
    np.add.at(indicator[:, 1], tch.school, tch.qualified.astype(np.int64))
    target = _staffing_target(staffing_targets, sch, tch, staff_now)
    lo, hi = _staffing_bounds(staff_now, target, options)
    quotas = _quotas(sch, tch, options)
    allowed = _allowed_destinations(sch.role, options)
    home_rows, home_csr = _home_times(home_travel, sch)
    movable_role = np.array([bool(allowed[sch.role[s]].any()) for s in tch.school])
    unit_keys, unit_teachers = _units(tch, movable_role, home_rows)
    school_time = school_travel.reindex(sch.ids).dense("time_s")
    np.fill_diagonal(school_time, 0.0)
    dest = _Destinations(sch, (staff_now > 0) | (target > 0), allowed, school_time, home_rows, home_csr, options)
    arc_unit, arc_dest, arc_time = _arcs(unit_keys, dest)
    unit_school = np.array([k[0] for k in unit_keys], dtype=np.int64)
    cost, outside, dev_weight = _costs(sch, unit_school[arc_unit], arc_dest, arc_time, indicator, options)
    prob = RotationProblem(
        n_schools=n,
        n_subjects=ns,
        pupils=sch.pupils,
        indicator_count=indicator,
        staff_now=staff_now,
        staff_lo=lo,
        staff_hi=hi,
        quota_group=quotas.group,
        quota_movers=quotas.movers,
        backbone_percent=quotas.backbone_percent,
        unit_school=unit_school,
        unit_subject=np.array([k[1] for k in unit_keys], dtype=np.int64),
        unit_count=np.array([len(v) for v in unit_teachers], dtype=np.int64),
        unit_backbone=np.array([k[3] for k in unit_keys], dtype=bool),
        unit_qualified=np.array([k[4] for k in unit_keys], dtype=bool),
        arc_unit=arc_unit,
        arc_dest=arc_dest,
        arc_cost=cost,
        dev_weight=dev_weight,
        relax_quotas=options.relax_quotas,
        move_cap=quotas.move_cap,
    )
    return _Built(
        prob=prob,
        school_ids=sch.ids,
        names=sch.names,
        role=sch.role,
        strength_class=sch.strength_class,
        community=sch.community,
        subjects=tch.subjects,
        eligible_count=quotas.eligible,
        unit_teachers=unit_teachers,
        arc_time_s=arc_time,
        arc_outside=outside,
        group_names=quotas.names,
        backbone_required=quotas.backbone_required,
        precheck=_precheck(prob, quotas, tch.subjects, options),
    )


def _precheck(prob: RotationProblem, quotas: _Quotas, subjects: tuple[str, ...], options: RotationOptions) -> tuple[Shortfall, ...]:
    """Quotas that cannot be met whatever the plan, with the reason (checked before solving)."""
    has_arc = np.zeros(len(prob.unit_school), dtype=bool)
    has_arc[prob.arc_unit] = True
    # exchange: a teacher can only leave if some teacher of the subject can come back
    can_return = set(zip(prob.arc_dest.tolist(), prob.unit_subject[prob.arc_unit].tolist()))
    no_return: dict[int, set[str]] = {}
    movable = has_arc.copy()
    if options.staffing == "exchange":
        for u in np.flatnonzero(has_arc):
            s, j = int(prob.unit_school[u]), int(prob.unit_subject[u])
            if (s, j) not in can_return:
                movable[u] = False
                no_return.setdefault(s, set()).add(subjects[j])
    g_of_unit = prob.quota_group[prob.unit_school]
    out: list[Shortfall] = []
    cap = _fmt_min(options.max_commute_s)
    for g in range(len(prob.quota_movers)):
        in_g = g_of_unit == g
        members = np.flatnonzero(prob.quota_group == g)
        eligible = int(quotas.eligible[members].sum())
        n_units = int(prob.unit_count[in_g].sum())
        n_reach = int(prob.unit_count[in_g & has_arc].sum())
        n_move = int(prob.unit_count[in_g & movable].sum())
        bb_elig = int(prob.unit_count[in_g & prob.unit_backbone].sum())
        bb_move = int(prob.unit_count[in_g & movable & prob.unit_backbone].sum())
        q, b = int(prob.quota_movers[g]), int(quotas.backbone_required[g])
        where = quotas.names[g]
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


# --------------------------------------------------------------------------- the door


def plan_rotation(
    schools: pd.DataFrame,
    teachers: pd.DataFrame,
    *,
    options: RotationOptions = DEFAULT_OPTIONS,
    limits: SolveLimits = DEFAULT_LIMITS,
    school_travel: TravelMatrix | None = None,
    home_travel: TravelMatrix | None = None,
    strength: pd.DataFrame | None = None,
    groups: pd.DataFrame | None = None,
    staffing_targets: pd.DataFrame | None = None,
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
    limits
        CP-SAT time limit, workers and seed (see :func:`~planning.rotation.model.solve_rotation_core`).
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
    staffing_targets
        County target staffing (县管校聘): ``school_id, subject, target``, used with
        ``options.staffing="tolerance"``; ``None``: today's counts.

    Returns
    -------
    RotationPlan

    Raises
    ------
    InputError
        Bad tables (every problem listed).
    InfeasibleError
        A quota cannot be met (which school, which quota, why), unless
        ``options.relax_quotas``.
    SolverError
        The solver stopped without a plan.
    """
    _validate_schools(schools)
    _validate_teachers(teachers, set(schools["school_id"].astype(str)))
    eligibility = rotation_eligibility(teachers, rules=options)
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
        staffing_targets=staffing_targets,
        options=options,
    )
    sol = _solve_or_explain(b, options, limits)
    return _plan_from(b, sol, teachers, eligibility, options)


def _solve_or_explain(b: _Built, options: RotationOptions, limits: SolveLimits) -> CoreSolution:
    """Solve the core; when a quota cannot be met, raise with which one and why (unless relaxed)."""
    if b.precheck and not options.relax_quotas:
        raise InfeasibleError(f"{len(b.precheck)} rotation quota(s) cannot be met", shortfalls=list(b.precheck), hint=_HINT)
    try:
        return solve_rotation_core(b.prob, options=options, limits=limits)
    except InfeasibleError:
        if options.relax_quotas:
            raise
        # explain: the relaxed model says which quotas fall short and by how much
        rsol = solve_rotation_core(replace(b.prob, relax_quotas=True), options=options, limits=limits)
        short = _shortfalls(b, rsol, because="staffing balance per subject and the commute cap leave too few possible moves")
        raise InfeasibleError(f"{len(short)} rotation quota(s) cannot be met", shortfalls=list(short), hint=_HINT) from None


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


# --------------------------------------------------------------------------- flows → plan


@dataclass(frozen=True)
class _Moves:
    """The moving teachers, in the order the flows hand them out (unit, then destination)."""

    row: NDArray[np.int64]  # teacher row in the table
    frm: NDArray[np.int64]
    to: NDArray[np.int64]
    time_s: NDArray[np.int64]
    outside: NDArray[np.bool_]  # leaves its community
    backbone: NDArray[np.bool_]
    qualified: NDArray[np.bool_]
    out: NDArray[np.bool_]  # from a sending school (else the exchange's return half)


@dataclass(frozen=True)
class _TableView:
    """Teacher ids and subjects in table order."""

    ids: NDArray[np.str_]
    subjects: NDArray[np.str_]


def _per_100(count: NDArray[np.int64], pupils: NDArray[np.int64]) -> NDArray[np.float64]:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(pupils > 0, 100.0 * count / np.where(pupils > 0, pupils, 1), np.nan)


def _moves_of(b: _Built, sol: CoreSolution, t: pd.DataFrame) -> _Moves:
    """Flows → teachers: each unit hands out its teachers in order, arcs in destination order."""
    prob = b.prob
    used = np.zeros(len(b.unit_teachers), dtype=np.int64)
    rows: list[tuple[int, int, int, int, bool]] = []  # teacher row, from, to, time, outside
    for a in np.lexsort((b.school_ids[prob.arc_dest], prob.arc_unit)):
        f = int(sol.flow[a])
        if f <= 0:
            continue
        u = int(prob.arc_unit[a])
        rows.extend(
            (i, int(prob.unit_school[u]), int(prob.arc_dest[a]), int(b.arc_time_s[a]), bool(b.arc_outside[a]))
            for i in b.unit_teachers[u][used[u] : used[u] + f]
        )
        used[u] += f
    r = np.array([x[0] for x in rows], dtype=np.int64)
    frm = np.array([x[1] for x in rows], dtype=np.int64)
    return _Moves(
        row=r,
        frm=frm,
        to=np.array([x[2] for x in rows], dtype=np.int64),
        time_s=np.array([x[3] for x in rows], dtype=np.int64),
        outside=np.array([x[4] for x in rows], dtype=bool),
        backbone=t["backbone"].astype(bool).to_numpy()[r] if len(r) else np.zeros(0, bool),
        qualified=t["above_qualification"].astype(bool).to_numpy()[r] if len(r) else np.zeros(0, bool),
        out=b.role[frm] == "sending" if len(r) else np.zeros(0, bool),
    )


#: Per school, an indicator per 100 pupils before and after the moves.
_Per100 = tuple[NDArray[np.float64], NDArray[np.float64]]


def _indicators(prob: RotationProblem, mv: _Moves) -> tuple[_Per100, _Per100]:
    """Backbone and above-qualification teachers per 100 pupils, before and after."""
    before = prob.indicator_count.copy()
    after = before.copy()
    for k, flag in enumerate((mv.backbone, mv.qualified)):
        np.add.at(after[:, k], mv.to[flag], 1)
        np.add.at(after[:, k], mv.frm[flag], -1)
    bb100 = (_per_100(before[:, 0], prob.pupils), _per_100(after[:, 0], prob.pupils))
    aq100 = (_per_100(before[:, 1], prob.pupils), _per_100(after[:, 1], prob.pupils))
    return bb100, aq100


def _out_reason(b: _Built, mv: _Moves, m: int, subj: NDArray[np.str_], *, counts: tuple[int, int, int],
                per100: tuple[_Per100, _Per100], options: RotationOptions) -> list[str]:
    """Why move ``m`` leaves a sending school: which quota it fills (``counts``: group, movers, backbone movers so far)."""
    s, d = int(mv.frm[m]), int(mv.to[m])
    g, n_out, n_bb = counts
    q, bq = int(b.prob.quota_movers[g]), int(b.backbone_required[g])
    who = b.group_names[g] if options.quota_scope == "school" else "the county's sending schools"
    parts: list[str] = []
    if mv.backbone[m] and n_bb <= bq:
        parts.append(f"backbone quota of {who} ({n_bb} of {bq})")
    elif n_out <= q:
        parts.append(f"rotation quota of {who} ({n_out} of {q})")
    else:
        parts.append(f"move from {b.names[s]} beyond its quota that narrows the gap between schools")
    raised = False
    for flag, (v0, v1), what in ((mv.backbone[m], per100[0], "backbone"), (mv.qualified[m], per100[1], "above-qualification")):
        if flag and v1[d] > v0[d]:
            parts.append(f"raises {what} teachers per 100 pupils at {b.names[d]} from {v0[d]:.1f} to {v1[d]:.1f}")
            raised = True
    if not raised:
        parts.append(f"brings a {subj[mv.row[m]]} teacher from {b.names[s]} to {b.names[d]}")
    return parts


def _reasons(b: _Built, mv: _Moves, t: _TableView, per100: tuple[_Per100, _Per100], options: RotationOptions) -> list[str]:
    """A plain reason for each move: the quota it fills or the exchange it completes, and the commute."""
    order = np.lexsort((t.ids[mv.row], ~mv.backbone)) if len(mv.row) else np.zeros(0, np.int64)
    g_out = np.zeros(max(len(b.prob.quota_movers), 1), dtype=np.int64)
    g_bb = np.zeros_like(g_out)
    has_comm = bool((b.community >= 0).any())
    reasons = [""] * len(mv.row)
    for m in order:
        s, d = int(mv.frm[m]), int(mv.to[m])
        subject = t.subjects[mv.row[m]]
        if mv.out[m]:
            g = int(b.prob.quota_group[s])
            g_out[g] += 1
            if mv.backbone[m]:
                g_bb[g] += 1
            parts = _out_reason(b, mv, m, t.subjects, counts=(g, int(g_out[g]), int(g_bb[g])), per100=per100, options=options)
        else:
            parts = [f"exchange: keeps {subject} staffing of {b.names[d]} whole for the {subject} teacher(s) it sends out"]
            if b.role[s] != "sending":
                parts.append(f"gains experience at {b.names[d]}")
        same = not mv.outside[m]
        parts.append(f"commute {_fmt_min(int(mv.time_s[m]))}" + (", within the same community" if same and has_comm else ""))
        reasons[m] = "; ".join(parts)
    return reasons


def _moves_frame(b: _Built, mv: _Moves, t: _TableView, reasons: list[str]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "teacher_id": pd.array(t.ids[mv.row], dtype="str"),
            "from_school": pd.array(b.school_ids[mv.frm], dtype="str"),
            "to_school": pd.array(b.school_ids[mv.to], dtype="str"),
            "subject": pd.array(t.subjects[mv.row], dtype="str"),
            "backbone": mv.backbone.astype(bool),
            "above_qualification": mv.qualified.astype(bool),
            "commute_s": mv.time_s,
            "same_community": ~mv.outside,
            "direction": pd.array(np.where(mv.out, "out", "return"), dtype="str"),
            "reason": pd.array(reasons, dtype="str"),
        }
    ).sort_values("teacher_id", ignore_index=True)


def _quota_columns(b: _Built, sol: CoreSolution, options: RotationOptions) -> dict[str, Any]:
    """Per school: quotas, shortfalls and whether both quotas were met (only with per-school quotas)."""
    prob = b.prob
    n = prob.n_schools
    quota_school = np.zeros(n, dtype=np.int64)
    bq_school = np.zeros(n, dtype=np.int64)
    short_m = np.zeros(n, dtype=np.int64)
    short_b = np.zeros(n, dtype=np.int64)
    met = pd.array([pd.NA] * n, dtype="boolean")
    if options.quota_scope == "school":
        has_q = prob.quota_group >= 0
        quota_school[has_q] = prob.quota_movers[prob.quota_group[has_q]]
        bq_school[has_q] = b.backbone_required[prob.quota_group[has_q]]
        for i in np.flatnonzero(has_q):
            g = prob.quota_group[i]
            short_m[i], short_b[i] = sol.short_movers[g], sol.short_backbone[g]
            met[i] = bool(short_m[i] == 0 and short_b[i] == 0)
    return {"quota_movers": quota_school, "quota_backbone": bq_school, "short_movers": short_m, "short_backbone": short_b, "quota_met": met}


def _schools_frame(b: _Built, sol: CoreSolution, mv: _Moves, t: _TableView, per100: tuple[_Per100, _Per100],
                   options: RotationOptions) -> pd.DataFrame:
    """One row per school: role, quotas and what was met, out/in per subject, the indicators before and after."""
    n = b.prob.n_schools
    q = _quota_columns(b, sol, options)
    sch = pd.DataFrame(
        {
            "school_id": pd.array(b.school_ids, dtype="str"),
            "name": pd.array(b.names, dtype="str"),
            "role": pd.array(b.role, dtype="str"),
            "strength_class": pd.array([c if c is not None else pd.NA for c in b.strength_class], dtype="str"),
            "pupils": b.prob.pupils,
            "eligible": b.eligible_count,
            "quota_movers": q["quota_movers"],
            "quota_backbone": q["quota_backbone"],
            "out": np.bincount(mv.frm, minlength=n),
            "backbone_out": np.bincount(mv.frm[mv.backbone], minlength=n),
            "in": np.bincount(mv.to, minlength=n),
            "backbone_in": np.bincount(mv.to[mv.backbone], minlength=n),
        }
    )
    for col in ("short_movers", "short_backbone", "quota_met"):
        sch[col] = q[col]
    moved_subject = t.subjects[mv.row]
    for name in b.subjects:
        sel = np.array([s == name for s in moved_subject], dtype=bool)
        sch[f"out_{name}"] = np.bincount(mv.frm[sel], minlength=n)
        sch[f"in_{name}"] = np.bincount(mv.to[sel], minlength=n)
    (bb0, bb1), (aq0, aq1) = per100
    sch["backbone_per_100_before"] = np.round(bb0, 3)
    sch["backbone_per_100_after"] = np.round(bb1, 3)
    sch["above_qualification_per_100_before"] = np.round(aq0, 3)
    sch["above_qualification_per_100_after"] = np.round(aq1, 3)
    return sch


def _metrics(b: _Built, sol: CoreSolution, moves: pd.DataFrame, mv: _Moves, eligibility: pd.DataFrame,
             options: RotationOptions) -> dict[str, Any]:
    """Key figures of the plan (JSON-able)."""
    prob = b.prob
    send = b.role == "sending"
    movers_out = int(mv.out.sum())
    bb_out = int((mv.backbone & mv.out).sum())
    elig_send = int(b.eligible_count[send].sum())
    commute = moves["commute_s"].to_numpy(np.float64)
    groups_met = sum(1 for g in range(len(prob.quota_movers)) if sol.short_movers[g] == 0 and sol.short_backbone[g] == 0)
    return {
        "teachers": len(eligibility),
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
        "quota_scope": options.quota_scope,
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


def _plan_from(b: _Built, sol: CoreSolution, teachers: pd.DataFrame, eligibility: pd.DataFrame, options: RotationOptions) -> RotationPlan:
    """The plan of a core solution: moves with reasons, the schools table, key figures."""
    t = teachers.reset_index(drop=True)
    view = _TableView(ids=t["teacher_id"].astype(str).to_numpy(), subjects=t["subject"].astype(str).to_numpy())
    mv = _moves_of(b, sol, t)
    per100 = _indicators(b.prob, mv)
    moves = _moves_frame(b, mv, view, _reasons(b, mv, view, per100, options))
    metrics = _metrics(b, sol, moves, mv, eligibility, options)
    logger.info(
        "rotation: %d movers out of %d eligible at sending schools, %d returns, gap %.4f",
        metrics["movers_out"],
        metrics["eligible_at_sending_schools"],
        metrics["movers_return"],
        sol.gap,
    )
    return RotationPlan(
        moves=moves,
        schools=_schools_frame(b, sol, mv, view, per100, options),
        eligibility=eligibility,
        metrics=MappingProxyType(metrics),
        status=sol.status,
        objective=sol.objective,
        bound=sol.bound,
        gap=sol.gap,
        shortfalls=_shortfalls(b, sol, because="not enough possible moves"),
    )


# --------------------------------------------------------------------------- after the plan


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
