"""The table-level door of the rotation model (``planning.rotation.from_frames``).

:func:`plan_rotation` validates the schools and teachers, says who may rotate, builds the
array-level problem (:func:`~planning.rotation.build.build_problem`: roles, staffing bounds,
quotas, units of interchangeable teachers, candidate moves from a travel matrix), calls
:func:`~planning.rotation.model.solve_rotation_core`, explains quotas that cannot be met, turns
the flows into named moves with a reason each, and returns a frozen :class:`RotationPlan`.
:func:`apply_moves` and :func:`balance_change` show the county after the plan.
"""

from __future__ import annotations

import dataclasses
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from geo.errors import Figure, InfeasibleError, InputError, Problem, Shortfall, figures, missing_columns
from geo.model import SchoolLevel
from geo.travel import STRAIGHT_LINE_SPEED_KMH, TravelMatrix, representative_xy, straight_line_matrix
from planning.rotation.build import BuiltProblem, build_problem
from planning.rotation.eligibility import rotation_eligibility, validate_teachers
from planning.rotation.guard import cv_after
from planning.rotation.model import CoreSolution, solve_rotation_core
from planning.rotation.options import DEFAULT_LIMITS, DEFAULT_OPTIONS, RotationOptions, SolveLimits
from planning.rotation.problem import RotationProblem, Status
from planning.rotation.reasons import Language, join, say, subject_name

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


# --------------------------------------------------------------------------- checks

_SCHOOL_REQUIRED = ("school_id", "name", "level", "area_type", "enrolled_primary", "enrolled_junior")

#: What to change when a quota cannot be met.
_HINT = (
    "lower min_share or backbone_share, raise max_commute_min, allow_other_schools, use staffing='tolerance', "
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


def _default_travel(schools: pd.DataFrame, cutoff_s: float) -> TravelMatrix:
    """School-to-school drive times along the straight line × detour (no road network)."""
    if "geometry" not in schools.columns:
        raise InputError([Problem("schools", "needs point geometries or a travel matrix to compute commutes", column="geometry")])
    ids = schools["school_id"].astype(str).to_numpy()
    xy = representative_xy(schools)
    return straight_line_matrix(
        ids, xy, ids, xy, speed_kmh=STRAIGHT_LINE_SPEED_KMH["drive"], cutoff_s=cutoff_s, mode="drive (straight line)"
    )


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
        A quota cannot be met (which school, which quota, why) and
        ``options.relax_quotas`` is false (the stage sets it so when strict).
    SolverError
        The solver stopped without a plan.
    """
    _validate_schools(schools)
    validate_teachers(teachers, set(schools["school_id"].astype(str)))
    eligibility = rotation_eligibility(teachers, rules=options)
    if school_travel is None:
        school_travel = _default_travel(schools, options.max_commute_s)
    b = build_problem(
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
    relaxed = options.relax_quotas is not False
    sol = _solve_or_explain(b, options, limits, relaxed=relaxed)
    language: Language = options.language or "en"
    return _plan_from(b, sol, teachers, eligibility, options, language=language, explain=_guard_cost(b, sol, options, limits))


def _solve_or_explain(b: BuiltProblem, options: RotationOptions, limits: SolveLimits, *, relaxed: bool) -> CoreSolution:
    """Solve the core; when a quota cannot be met and the run is not relaxed, raise with which one and why."""
    if relaxed:
        return solve_rotation_core(replace(b.prob, relax_quotas=True), options=options, limits=limits)
    if b.precheck:
        raise InfeasibleError(f"{len(b.precheck)} rotation quota(s) cannot be met", shortfalls=list(b.precheck), hint=_HINT)
    try:
        return solve_rotation_core(b.prob, options=options, limits=limits)
    except InfeasibleError:
        # explain: the relaxed model says which quotas fall short and by how much
        rsol = solve_rotation_core(replace(b.prob, relax_quotas=True), options=options, limits=limits)
        explain = _guard_cost(b, rsol, options, limits)
        short = _shortfalls(b, rsol, because=explain or _BECAUSE)
        raise InfeasibleError(f"{len(short)} rotation quota(s) cannot be met", shortfalls=list(short), hint=_HINT) from None


#: Why a quota falls short when neither the precheck nor the never-worse rule explains it.
_BECAUSE = "staffing kept whole per subject, the loss caps and the commute cap leave too few possible moves"


def _guard_cost(b: BuiltProblem, sol: CoreSolution, options: RotationOptions, limits: SolveLimits) -> str:
    """When quotas fall short and the never-worse rule is on: what meeting more of them would cost.

    Solves the relaxed model without the rule; if that plan has smaller shortfalls, says which
    CVs it raises and from what to what (the reason the rule stopped those moves). Empty otherwise.
    """
    if b.prob.guard is None or b.parts is None or (sol.short_movers.sum() + sol.short_backbone.sum()) == 0:
        return ""
    free = solve_rotation_core(replace(b.prob, relax_quotas=True, guard=None), options=options, limits=limits)
    if free.short_movers.sum() * 2 + free.short_backbone.sum() >= sol.short_movers.sum() * 2 + sol.short_backbone.sum():
        return ""
    after = cv_after(b.prob.guard, free.flow, b.parts)
    worse = [
        f"{lv} {ind} ({kind}) CV from {b.prob.guard.cv_before[g]:.4f} to {after[g]:.4f}"
        for g, (lv, ind, kind) in enumerate(b.prob.guard.names)
        if np.isfinite(after[g]) and after[g] > b.prob.guard.cv_before[g] + 1e-12
    ]
    if not worse:
        return ""
    text = (
        f"meeting the quota in full (short by {int(free.short_movers.sum())} movers, {int(free.short_backbone.sum())} backbone "
        f"instead) would raise " + ", ".join(worse) + "; the plan never makes a targeted CV worse (never_worse)"
    )
    if sol.gap > UNPROVEN_GAP:
        # the search stopped far from the bound: part of the shortfall may be the solver's, not the rule's
        text += (
            f"; the solver stopped {sol.gap:.0%} from its bound, so a plan that meets more of the quota without "
            "raising a CV may exist (raise time_limit_s)"
        )
    return text


#: A plan this far (relative gap) from its bound is not good evidence that the never-worse rule, rather
#: than the search, left a quota short; the shortfall then says so.
UNPROVEN_GAP = 0.05


def _because_figures(because: str) -> dict[str, Figure]:
    """The figures of why quotas fall short: the staffing rules (:data:`_BECAUSE`), or the never-worse rule with what
    the plan without it would leave short and the CVs it would raise (read back from :func:`_guard_cost`'s words)."""
    if because == _BECAUSE:
        return {"because": "staffing"}
    out: dict[str, Figure] = {"because": "never_worse"}
    free = re.match(r"meeting the quota in full \(short by (\d+) movers, (\d+) backbone instead\) would raise (.*?); the plan never", because)
    if free:
        out.update(free_movers=int(free[1]), free_backbone=int(free[2]), worse=tuple(
            figures(level=lv, indicator=ind, cv_kind=kind, before=before, after=after)
            for lv, ind, kind, before, after in re.findall(r"(\S+) (\S+) \((\w+)\) CV from ([\d.]+) to ([\d.]+)", free[3])))
    gap = re.search(r"the solver stopped (\d+)% from its bound", because)
    if gap:
        out["gap"] = int(gap[1])
    return out


def _shortfalls(b: BuiltProblem, sol: CoreSolution, *, because: str) -> tuple[Shortfall, ...]:
    out: list[Shortfall] = []
    pre = {(s.where, s.unit): s for s in b.precheck}
    why = _because_figures(because)

    def short(name: str, unit: str, kind: str, quota: int, by: int) -> Shortfall:
        before = pre.get((name, unit))
        if before is not None:  # the precheck's reason, with this plan's figure
            return dataclasses.replace(before, short_by=by)
        text = f"{'rotation' if unit == 'movers' else 'backbone'} quota {quota}, {quota - by} met: {because}"
        return Shortfall(name, by, unit, text, kind, figures(group=name, quota=quota, met=quota - by, **why))

    for g, name in enumerate(b.group_names):
        q, bq = int(b.prob.quota_movers[g]), int(b.backbone_required[g])
        if sol.short_movers[g] > 0:
            out.append(short(name, "movers", "rotation.quota", q, int(sol.short_movers[g])))
        if sol.short_backbone[g] > 0:
            out.append(short(name, "backbone movers", "rotation.backbone_quota", bq, int(sol.short_backbone[g])))
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
    names: NDArray[np.str_] | None = None  # 姓名, when the input has them


def _per_100(count: NDArray[np.int64], pupils: NDArray[np.int64]) -> NDArray[np.float64]:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(pupils > 0, 100.0 * count / np.where(pupils > 0, pupils, 1), np.nan)


def _moves_of(b: BuiltProblem, sol: CoreSolution, t: pd.DataFrame) -> _Moves:
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


def _out_reason(b: BuiltProblem, mv: _Moves, m: int, subject: str, *, counts: tuple[int, int, int],
                per100: tuple[_Per100, _Per100], options: RotationOptions, language: Language) -> list[str]:
    """Why move ``m`` leaves a sending school: which quota it fills (``counts``: group, movers, backbone movers so far)."""
    s, d = int(mv.frm[m]), int(mv.to[m])
    g, n_out, n_bb = counts
    q, bq = int(b.prob.quota_movers[g]), int(b.backbone_required[g])
    who = b.group_names[g] if options.quota_scope == "school" else say("county", language)
    parts: list[str] = [say("rotation", language)]
    if mv.backbone[m] and n_bb <= bq:
        parts.append(say("backbone_quota", language, who=who, n=n_bb, q=bq))
    elif n_out <= q:
        parts.append(say("quota", language, who=who, n=n_out, q=q))
    else:
        parts.append(say("beyond", language, src=b.names[s]))
    raised = False
    for flag, (v0, v1), what in ((mv.backbone[m], per100[0], "backbone"), (mv.qualified[m], per100[1], "above")):
        if flag and v1[d] > v0[d]:
            parts.append(say("raises", language, dst=b.names[d], what=say(what, language), v0=v0[d], v1=v1[d]))
            raised = True
    if not raised:
        parts.append(say("brings", language, subject=subject, src=b.names[s], dst=b.names[d]))
    return parts


def _reasons(b: BuiltProblem, mv: _Moves, t: _TableView, per100: tuple[_Per100, _Per100], options: RotationOptions,
             language: Language) -> list[str]:
    """A plain reason for each move: what it is (rotation or exchange), the quota it fills, and the commute."""
    order = np.lexsort((t.ids[mv.row], ~mv.backbone)) if len(mv.row) else np.zeros(0, np.int64)
    g_out = np.zeros(max(len(b.prob.quota_movers), 1), dtype=np.int64)
    g_bb = np.zeros_like(g_out)
    has_comm = bool((b.community >= 0).any())
    reasons = [""] * len(mv.row)
    for m in order:
        s, d = int(mv.frm[m]), int(mv.to[m])
        subject = subject_name(str(t.subjects[mv.row[m]]), language)
        if mv.out[m]:
            g = int(b.prob.quota_group[s])
            g_out[g] += 1
            if mv.backbone[m]:
                g_bb[g] += 1
            parts = _out_reason(b, mv, m, subject, counts=(g, int(g_out[g]), int(g_bb[g])), per100=per100, options=options,
                                language=language)
        else:
            parts = [say("exchange", language), say("learns", language, subject=subject, src=b.names[s], dst=b.names[d])]
        same = not mv.outside[m]
        parts.append(say("commute", language, min=f"{mv.time_s[m] / 60:.0f}") + (say("same_community", language) if same and has_comm else ""))
        reasons[m] = join(parts, language)
    return reasons


def _moves_frame(b: BuiltProblem, mv: _Moves, t: _TableView, reasons: list[str]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "teacher_id": pd.array(t.ids[mv.row], dtype="str"),
            **({} if t.names is None else {"name": pd.array(t.names[mv.row], dtype="str")}),
            "from_school": pd.array(b.school_ids[mv.frm], dtype="str"),
            "to_school": pd.array(b.school_ids[mv.to], dtype="str"),
            "subject": pd.array(t.subjects[mv.row], dtype="str"),
            "backbone": mv.backbone.astype(bool),
            "above_qualification": mv.qualified.astype(bool),
            "commute_s": mv.time_s,
            "same_community": ~mv.outside,
            "direction": pd.array(np.where(mv.out, "rotation", "exchange"), dtype="str"),
            "reason": pd.array(reasons, dtype="str"),
        }
    ).sort_values("teacher_id", ignore_index=True)


def _quota_columns(b: BuiltProblem, sol: CoreSolution, options: RotationOptions) -> dict[str, Any]:
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


def _schools_frame(b: BuiltProblem, sol: CoreSolution, mv: _Moves, t: _TableView, per100: tuple[_Per100, _Per100],
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


def _metrics(b: BuiltProblem, sol: CoreSolution, moves: pd.DataFrame, mv: _Moves, eligibility: pd.DataFrame,
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
        "movers_exchange": int(len(moves) - movers_out),
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


def _plan_from(b: BuiltProblem, sol: CoreSolution, teachers: pd.DataFrame, eligibility: pd.DataFrame, options: RotationOptions, *,
               language: Language, explain: str) -> RotationPlan:
    """The plan of a core solution: moves with reasons, the schools table, key figures."""
    t = teachers.reset_index(drop=True)
    view = _TableView(
        ids=t["teacher_id"].astype(str).to_numpy(),
        subjects=t["subject"].astype(str).to_numpy(),
        names=t["name"].astype(object).where(t["name"].notna(), "").astype(str).to_numpy() if "name" in t.columns else None,
    )
    mv = _moves_of(b, sol, t)
    per100 = _indicators(b.prob, mv)
    moves = _moves_frame(b, mv, view, _reasons(b, mv, view, per100, options, language))
    metrics = _metrics(b, sol, moves, mv, eligibility, options)
    metrics.update(_guard_metrics(b, sol))
    logger.info(
        "rotation: %d movers out of %d eligible at sending schools, %d exchange moves back, gap %.4f",
        metrics["movers_out"],
        metrics["eligible_at_sending_schools"],
        metrics["movers_exchange"],
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
        shortfalls=_shortfalls(b, sol, because=explain or _BECAUSE),
    )


def _guard_metrics(b: BuiltProblem, sol: CoreSolution) -> dict[str, Any]:
    """The guarded CVs before and after (``never_worse``: level → indicator (kind) → CV) and any that rose."""
    if b.prob.guard is None or b.parts is None:
        return {}
    g = b.prob.guard
    after = cv_after(g, sol.flow, b.parts)
    table: dict[str, dict[str, dict[str, float | None]]] = {}
    worse: list[str] = []
    for i, (lv, ind, kind) in enumerate(g.names):
        v0 = float(g.cv_before[i]) if np.isfinite(g.cv_before[i]) else None
        v1 = float(after[i]) if np.isfinite(after[i]) else None
        table.setdefault(lv, {})[f"{ind} ({kind})"] = {"before": v0, "after": v1}
        if v0 is not None and v1 is not None and v1 > v0 + 1e-9:
            worse.append(f"{lv} {ind} ({kind})")
    return {"never_worse": table, "never_worse_violated": worse}


# --------------------------------------------------------------------------- after the plan


def apply_moves(teachers: pd.DataFrame, moves: pd.DataFrame, schools: pd.DataFrame | None = None) -> pd.DataFrame:
    """The teachers table after rotation: each mover's ``school_id`` set to ``to_school``.

    With ``schools``, a mover without a ``level`` gets the level of the school it leaves (it
    teaches that level at its new school; a nine-year school then counts it there, not by pupil share).
    """
    out = teachers.copy()
    dest = dict(zip(moves["teacher_id"].astype(str), moves["to_school"].astype(str)))
    ids = out["teacher_id"].astype(str)
    if schools is not None:
        # a mover keeps the level it taught: set it, so a nine-year school counts it at that level
        level = pd.Series(schools["level"].astype(str).to_numpy(), index=schools["school_id"].astype(str).to_numpy())
        own = out["level"].astype(object) if "level" in out.columns else pd.Series(None, index=out.index, dtype=object)
        was = level.reindex(out["school_id"].astype(str).to_numpy()).to_numpy()
        moving = ids.isin(dest.keys()).to_numpy()
        known = own.isin(["primary", "junior"]).to_numpy()
        fill = moving & ~known & np.isin(was, ["primary", "junior"])
        out["level"] = np.where(fill, was, own.to_numpy())
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

    return compare_balance(evaluate_balance(schools, teachers), evaluate_balance(schools, apply_moves(teachers, moves, schools)))
