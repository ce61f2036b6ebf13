"""Tables → the array-level :class:`~planning.rotation.model.RotationProblem`.

:func:`build_problem` takes validated schools and teachers and works out, in this order: each
school's role (sending, receiving, other) and community; staffing now and its bounds after
rotation (exchange, or within a tolerance of the county targets); the quota groups with their
mover and backbone quotas and move caps; *units* of interchangeable eligible teachers; the
candidate moves (nearest destinations within the commute cap, same community first) with their
integer costs; and the quotas no plan can meet, so that they are explained before solving.
The :class:`BuiltProblem` keeps what turns the flows back into teachers.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.sparse as sp
from numpy.typing import NDArray

from geo.errors import InputError, Problem, Shortfall, figures, missing_columns
from geo.model import SchoolLevel
from geo.travel import TravelMatrix
from planning.balance.indicators import INTERMEDIATE_OR_HIGHER, school_indicators
from planning.rotation.guard import CvGuard, build_guard
from planning.rotation.options import RotationOptions
from planning.rotation.problem import DEV_SCALE, OBJ_SCALE, PERCENT, RotationProblem


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


def _teacher_level(teachers: pd.DataFrame, school_level: pd.Series) -> NDArray[np.object_]:
    """Level each teacher teaches: ``level`` column, else the school's level (``None`` at nine-year schools)."""
    lv = school_level.reindex(teachers["school_id"].astype(str).to_numpy()).astype(str).to_numpy().astype(object)
    lv = np.where(lv == SchoolLevel.NINE_YEAR.value, None, lv)
    if "level" in teachers.columns:
        own = teachers["level"].astype(object).to_numpy()
        known = np.isin(own.astype(str), ["primary", "junior"])
        lv = np.where(known, own, lv)
    return lv


def fmt_min(seconds: float) -> str:
    """Seconds as whole minutes, for reasons and messages."""
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
    teaching_point: NDArray[np.bool_]


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
        teaching_point=(
            schools["teaching_point"].fillna(False).astype(bool).to_numpy()
            if "teaching_point" in schools.columns
            else np.zeros(len(ids), dtype=bool)
        ),
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
    titled: NDArray[np.bool_]  # intermediate or higher title
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
        titled=(t["title"].isin(INTERMEDIATE_OR_HIGHER).to_numpy() if "title" in t.columns else np.zeros(len(t), dtype=bool)),
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
    move_cap: NDArray[np.int64]


def _move_cap(sending: NDArray[np.bool_], elig_count: NDArray[np.int64], group: NDArray[np.int64], quota: NDArray[np.int64],
              options: RotationOptions, loss_cap: NDArray[np.int64]) -> NDArray[np.int64]:
    """Most teachers each school sends.

    A sending school: ``⌊max_share · eligible⌋``, raised to what the quotas need; every school:
    at most ``loss_cap`` (``⌊max_loss_share · teachers⌋``), which wins over the quotas (a quota
    it stops is a shortfall).
    """
    if options.max_share is None:
        return loss_cap.copy()
    move_cap = np.where(sending, np.floor(options.max_share * elig_count + 1e-9), loss_cap).astype(np.int64)
    if options.quota_scope == "school":
        own = group >= 0
        move_cap[own] = np.maximum(move_cap[own], quota[group[own]])
        return np.minimum(move_cap, loss_cap)
    # the county quota must stay reachable: caps of sending schools sum to at least it
    send_idx = np.flatnonzero(sending)
    short = int(quota[0]) - int(move_cap[send_idx].sum()) if len(quota) else 0
    for i in send_idx[np.argsort(-elig_count[send_idx], kind="stable")]:
        if short <= 0:
            break
        add = min(short, int(elig_count[i] - move_cap[i]))
        move_cap[i] += add
        short -= add
    return np.minimum(move_cap, loss_cap)


def _quotas(sch: _Schools, tch: _Teachers, options: RotationOptions) -> _Quotas:
    n = len(sch.ids)
    teachers = np.bincount(tch.school, minlength=n)
    loss_cap = np.floor(options.max_loss_share * teachers + 1e-9).astype(np.int64)
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
        move_cap=_move_cap(sending, elig_count, quota_group, quota, options, loss_cap),
    )


def _parts(schools: pd.DataFrame, teachers: pd.DataFrame) -> pd.DataFrame:
    """School parts and their teacher counts as the balance evaluation counts them (title ``junior`` when not given)."""
    t = teachers if "title" in teachers.columns else teachers.assign(title="junior")
    return school_indicators(schools, t)


def _guard(parts: pd.DataFrame, sch: _Schools, unit_keys: list[_UnitKey], arc_unit: NDArray[np.int64],
           arc_dest: NDArray[np.int64]) -> CvGuard:
    """The never-worse rows of the candidate moves (:mod:`planning.rotation.guard`)."""
    flags = np.array([[k[3], k[4], k[5], True] for k in unit_keys], dtype=bool).reshape(-1, 4)
    unit_school = np.array([k[0] for k in unit_keys], dtype=np.int64)
    level = np.array([k[2] for k in unit_keys], dtype=object)
    return build_guard(parts, sch.ids, arc_src=unit_school[arc_unit], arc_dst=arc_dest, arc_level=level[arc_unit], arc_flags=flags[arc_unit])


def _movable(sch: _Schools, tch: _Teachers, allowed: Mapping[str, NDArray[np.bool_]]) -> NDArray[np.bool_]:
    """Teachers who may be sent: their school's role sends somewhere, it is not a teaching point, and their
    level is known (a nine-year school's teacher without one would be split between its levels by the
    balance evaluation).

    A school never loses its only teacher of a subject through the staffing bounds: in ``exchange`` mode
    the teacher it sends is replaced by one of the same subject, in ``tolerance`` mode the bound is ≥ 1.
    """
    role_sends = np.array([bool(allowed[r].any()) for r in sch.role])
    known_level = np.isin(tch.level.astype(str), ["primary", "junior"])
    return role_sends[tch.school] & ~sch.teaching_point[tch.school] & known_level


def _allowed_destinations(role: NDArray[np.str_], options: RotationOptions) -> dict[str, NDArray[np.bool_]]:
    """Which schools a school of each role may send to."""
    allowed: dict[str, set[str]] = {"sending": {"receiving"}, "receiving": set(), "other": set()}
    if options.return_moves:
        allowed["receiving"].add("sending")
    if options.allow_other_schools:
        allowed["sending"].add("other")
        allowed["other"].add("sending")
    return {r: np.isin(role, sorted(allowed[r])) for r in allowed}


_UnitKey = tuple[int, int, str, bool, bool, bool, str]  # school, subject, level, backbone, qualified, titled, home (teacher id or "")


def _units(tch: _Teachers, movable: NDArray[np.bool_], homes: Mapping[str, int]) -> tuple[list[_UnitKey], tuple[tuple[int, ...], ...]]:
    """Units of interchangeable eligible teachers (sorted keys) and their teacher rows, in the order they move."""
    keys: dict[_UnitKey, list[int]] = {}
    for i in np.flatnonzero(tch.eligible & movable):
        home = tch.ids[i] if tch.ids[i] in homes else ""
        key = (int(tch.school[i]), int(tch.subject[i]), str(tch.level[i]), bool(tch.backbone[i]), bool(tch.qualified[i]),
               bool(tch.titled[i]), home)
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
    for u, (s, j, lv, _bb, _aq, _ti, home) in enumerate(unit_keys):
        dd, tt = dest.of(s, j, lv, home)
        arc_u.append(np.full(len(dd), u, dtype=np.int64))
        arc_d.append(dd)
        arc_t.append(tt)
    arc_unit = np.concatenate(arc_u) if arc_u else np.empty(0, np.int64)
    arc_dest = np.concatenate(arc_d) if arc_d else np.empty(0, np.int64)
    arc_time = np.rint(np.concatenate(arc_t)).astype(np.int64) if arc_t else np.empty(0, np.int64)
    return arc_unit, arc_dest, arc_time


@dataclass(frozen=True)
class BuiltProblem:
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
    parts: pd.DataFrame | None = None  # school parts before rotation, as the balance counts them (with the guard)


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


def build_problem(
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
) -> BuiltProblem:
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
    unit_keys, unit_teachers = _units(tch, _movable(sch, tch, allowed), home_rows)
    school_time = school_travel.reindex(sch.ids).dense("time_s")
    np.fill_diagonal(school_time, 0.0)
    dest = _Destinations(sch, (staff_now > 0) | (target > 0), allowed, school_time, home_rows, home_csr, options)
    arc_unit, arc_dest, arc_time = _arcs(unit_keys, dest)
    unit_school = np.array([k[0] for k in unit_keys], dtype=np.int64)
    cost, outside, dev_weight = _costs(sch, unit_school[arc_unit], arc_dest, arc_time, indicator, options)
    parts = _parts(schools, teachers) if options.never_worse else None
    guard = _guard(parts, sch, unit_keys, arc_unit, arc_dest) if parts is not None else None
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
        relax_quotas=options.relax_quotas is not False,
        move_cap=quotas.move_cap,
        guard=guard,
    )
    return BuiltProblem(
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
        parts=parts,
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
    cap = fmt_min(options.max_commute_s)
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
        cap_min = options.max_commute_s / 60
        if n_move < q:
            why = [f"{eligible} eligible teachers, quota {q}"]
            if n_reach < n_units:
                why.append(f"{n_units - n_reach} have no receiving school within {cap} that teaches their subject and level")
            lost = sorted(set().union(*(no_return.get(int(s), set()) for s in members)))
            if lost:
                why.append("no receiving school within the commute cap can send back a teacher of " + ", ".join(lost))
            out.append(Shortfall(where, q - n_move, "movers", "rotation quota: " + "; ".join(why), "rotation.precheck_quota",
                                 figures(group=where, eligible=eligible, quota=q, no_reach=n_units - n_reach if n_reach < n_units else "",
                                         cap_min=cap_min, lost=tuple(lost))))
        if bb_move < b:
            if bb_elig == 0:
                detail = f"backbone quota: needs {b} backbone movers but has no eligible backbone teacher"
            else:
                detail = f"backbone quota: needs {b} backbone movers; {bb_elig} eligible backbone teachers, {bb_move} can move within {cap}"
            out.append(Shortfall(where, b - bb_move, "backbone movers", detail,
                                 "rotation.precheck_backbone_none" if bb_elig == 0 else "rotation.precheck_backbone",
                                 figures(group=where, quota=b, eligible=bb_elig, can=bb_move, cap_min=cap_min)))
    return tuple(out)
