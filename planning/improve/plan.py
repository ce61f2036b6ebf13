"""The table-level door of the achievement plan (``planning.improve.from_frames``).

:func:`plan_improvement` builds the arrays (:func:`~planning.improve.build.build_problem`), solves
them (:func:`~planning.improve.model.solve_improve_core`), turns the units into named measures
phased over the plan's years, applies them to the tables (:func:`apply_measures`) and verifies the
county after the plan with the balance code itself (:func:`planning.balance.indicators.evaluate_balance`).
Parts whose rule the caps make impossible, a budget below the least cost and CV tests the caps
leave out of reach are :class:`~geo.errors.Shortfall`\\ s of the plan, each saying what it would take.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd

from geo.errors import Shortfall, figures
from geo.model import LEVELS
from planning.balance.indicators import QUALITY_INDICATORS, BalanceReport, evaluate_balance
from planning.balance.options import BalanceOptions
from planning.improve.build import BuiltProblem, build_problem
from planning.improve.costs import RESOURCES
from planning.improve.greedy import GreedyPlan, rule_ok
from planning.improve.model import ImproveSolution, Status, solve_improve_core
from planning.improve.options import DEFAULT_OPTIONS, ImproveOptions
from planning.improve.phasing import overspent, overtrained, phase_years
from planning.improve.problem import school_rules
from planning.improve.shortfalls import budget_shortfalls, cv_shortfall, gap_shortfall, unmet_records
from planning.limits import SolveLimits

logger = logging.getLogger(__name__)

#: Columns of the measures table, in order.
MEASURE_COLUMNS: tuple[str, ...] = ("school_id", "name", "resource", "quantity", "cost_yuan", "year")
#: Teacher id prefix of the hires :func:`apply_measures` adds.
HIRE_PREFIX = "NEW"


@dataclass(frozen=True)
class ImprovePlan:
    """An achievement plan (达标提升方案).

    Attributes
    ----------
    measures
        One row per school, measure and year: ``school_id, name, resource, quantity`` (m², yuan,
        rooms or teachers), ``cost_yuan, year``; sorted by school, resource, year.
    cv
        Per level and indicator: ``level, indicator, threshold, cv_before, cv_after, passes_before,
        passes_after`` — computed by the balance code on the tables before and after the plan.
    schools
        Per counted part: ``school_id, name, level, standards_met_before, standards_met_after,
        meets_before, meets_after, cost_yuan``.
    metrics
        Key figures (JSON-able).
    status, cost, bound, gap
        ``OPTIMAL`` or ``FEASIBLE``; total cost, proven lower bound (yuan), relative gap.
    greedy
        The baseline plan of the same run.
    shortfalls
        What the plan cannot reach, and what it would take.
    """

    measures: pd.DataFrame
    cv: pd.DataFrame
    schools: pd.DataFrame
    metrics: Mapping[str, Any]
    status: Status
    cost: float
    bound: float
    gap: float
    greedy: GreedyPlan
    shortfalls: tuple[Shortfall, ...] = ()


def _priority(built: BuiltProblem, units: np.ndarray) -> list[tuple[int, float, str]]:
    """Per school, the phasing order key: (meets the rule today, −pupils per yuan of its measures, code)."""
    prob = built.prob
    rules = school_rules(prob)
    zero = np.zeros(prob.n_vars, dtype=np.int64)
    n = len(built.school_ids)
    ok = np.ones(n, dtype=bool)
    for part in np.unique(rules.part):
        ok[prob.part_school[part]] &= rule_ok(rules, zero, int(part))
    pupils = np.bincount(prob.part_school, weights=prob.pupils, minlength=n)
    spend = np.bincount(prob.var_school, weights=prob.var_cost * units, minlength=n)
    return [(int(ok[s]), -float(pupils[s] / spend[s]) if spend[s] > 0 else 0.0, built.school_ids[s]) for s in range(n)]


def measures_table(built: BuiltProblem, units: np.ndarray, options: ImproveOptions) -> pd.DataFrame:
    """The units as named measures, phased over the years (see :class:`ImprovePlan`)."""
    prob = built.prob
    js = np.flatnonzero(units > 0)
    rows = pd.DataFrame(
        {
            "var": np.repeat(js, units[js]),
        }
    )
    rows["school_id"] = [built.school_ids[prob.var_school[j]] for j in rows["var"]]
    rows["name"] = [built.school_names[prob.var_school[j]] for j in rows["var"]]
    rows["resource"] = [RESOURCES[prob.var_resource[j]] for j in rows["var"]]
    rows["level"] = [str(built.parts["level"].iloc[built.var_part[j]]) if built.var_part[j] >= 0 else "" for j in rows["var"]]
    rows["quantity"] = built.unit_quantity[rows["var"].to_numpy()]
    rows["cost_yuan"] = prob.var_cost[rows["var"].to_numpy()].astype(np.int64)
    school = prob.var_school[rows["var"].to_numpy()].astype(np.int64)
    rows["year"] = phase_years(school, rows["cost_yuan"].to_numpy(np.int64), (rows["resource"] == "backbone_teachers").to_numpy(),
                               _priority(built, units), options=options)
    out = rows.groupby(["school_id", "name", "resource", "level", "year"], as_index=False, sort=True)[["quantity", "cost_yuan"]].sum()
    out["quantity"] = out["quantity"].round(6)
    return out[[*MEASURE_COLUMNS[:3], "level", "quantity", "cost_yuan", "year"]].reset_index(drop=True)


_FACILITY_COLUMNS = ("floor_area_m2", "sports_area_m2", "equipment_yuan", "multimedia_rooms")


def apply_measures(
    schools: pd.DataFrame, teachers: pd.DataFrame | None, measures: pd.DataFrame, *, options: ImproveOptions = DEFAULT_OPTIONS
) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """The schools layer and teachers table after the measures (inputs are not modified).

    Facilities are added to the school's columns; each hire is a new teacher (``NEW-<school>-<n>``,
    subject ``pe`` for a PE/art hire and ``unspecified`` otherwise — the plan does not choose it,
    title ``junior``, the level of the part it was hired for); a backbone designation marks a
    teacher of that school and level who is not one yet (qualified and senior first), or a hire.
    """
    s = schools.copy()
    ids = s["school_id"].astype(str)
    for col in _FACILITY_COLUMNS:
        add = measures.loc[measures["resource"] == col].groupby("school_id")["quantity"].sum()
        if len(add):
            s[col] = pd.to_numeric(s[col], errors="coerce").to_numpy(np.float64) + ids.map(add).fillna(0.0).to_numpy()
    if teachers is None:
        return s, None
    t = teachers.copy()
    t["school_id"] = t["school_id"].astype(str)
    hires: list[dict[str, Any]] = []
    for res, subject, qualified in (
        ("pe_art_teachers", "pe", options.pe_art_hires_above_qualification),
        ("above_qualification_teachers", "unspecified", True),
    ):
        rows = measures[measures["resource"] == res]
        for sid, lv, qty in zip(rows["school_id"], rows["level"], rows["quantity"]):
            for _ in range(round(qty)):
                hires.append({"teacher_id": f"{HIRE_PREFIX}-{sid}-{len(hires) + 1:04d}", "school_id": sid, "subject": subject,
                              "backbone": False, "above_qualification": qualified, "title": "junior", "level": lv or None})
    if hires:
        t = pd.concat([t, pd.DataFrame(hires)], ignore_index=True)
    level = t["level"].astype(object) if "level" in t.columns else pd.Series(None, index=t.index, dtype=object)
    rank = t["above_qualification"].fillna(False).astype(int) * 2 + t["title"].isin(["senior", "intermediate"]).astype(int)
    bb = t["backbone"].fillna(False).astype(bool).to_numpy().copy()
    school_level = dict(zip(ids, s["level"].astype(str)))
    rows = measures[measures["resource"] == "backbone_teachers"]
    for sid, lv, qty in zip(rows["school_id"], rows["level"], rows["quantity"]):
        here = (t["school_id"] == sid).to_numpy() & ~bb
        if school_level.get(sid) == "nine_year":
            here &= (level == lv).to_numpy()
        pick = t.index[here][np.argsort(-rank[here].to_numpy(), kind="stable")][: round(qty)]
        bb[t.index.get_indexer(pick)] = True
    t["backbone"] = bb
    return s, t


def _cv_table(before: BalanceReport, after: BalanceReport) -> pd.DataFrame:
    keys = ["level", "indicator"]
    b = before.indicators[before.indicators["kind"] == "quality"][[*keys, "threshold", "cv", "passes"]]
    a = after.indicators[after.indicators["kind"] == "quality"][[*keys, "cv", "passes"]]
    out = b.rename(columns={"cv": "cv_before", "passes": "passes_before"}).merge(
        a.rename(columns={"cv": "cv_after", "passes": "passes_after"}), on=keys, how="left"
    )
    return out[[*keys, "threshold", "cv_before", "cv_after", "passes_before", "passes_after"]].reset_index(drop=True)


def _school_table(before: BalanceReport, after: BalanceReport, built: BuiltProblem, measures: pd.DataFrame) -> pd.DataFrame:
    keys = ["school_id", "level"]
    b = before.schools[~before.schools["excluded"]][[*keys, "standards_met", "meets_quality"]]
    a = after.schools[~after.schools["excluded"]][[*keys, "standards_met", "meets_quality"]]
    out = b.merge(a, on=keys, suffixes=("_before", "_after"))
    out = out.rename(columns={"meets_quality_before": "meets_before", "meets_quality_after": "meets_after"})
    out["name"] = out["school_id"].map(dict(zip(built.school_ids, built.school_names))).fillna(out["school_id"])
    cost = measures.groupby("school_id")["cost_yuan"].sum()
    out["cost_yuan"] = out["school_id"].map(cost).fillna(0).astype(np.int64)
    cols = ["school_id", "name", "level", "standards_met_before", "standards_met_after", "meets_before", "meets_after", "cost_yuan"]
    return out[cols].sort_values(keys, kind="stable").reset_index(drop=True)


def _verify(sol: ImproveSolution, built: BuiltProblem, cv: pd.DataFrame, schools: pd.DataFrame) -> None:
    """Every CV test and school the plan does not list as short passes by the balance code, or it is a bug.

    The model checked every plan exactly; the balance code, recomputing from the amended tables,
    disagreeing is a bug, not a result.
    """
    short_cv = {(LEVELS[c.level], QUALITY_INDICATORS[c.indicator]) for c in sol.cv_short}
    short_parts = {g.part for g in sol.gaps}
    if sol.budget is not None:
        short_cv |= {(LEVELS[lv], QUALITY_INDICATORS[k]) for lv, k, _ in sol.budget.cv_left}
        short_parts |= {p for p, _ in sol.budget.parts_left}
    keys = {(str(built.parts.iloc[p]["school_id"]), str(built.parts.iloc[p]["level"])) for p in short_parts}
    bad = [f"{r.level} {r.indicator} CV {r.cv_after:.6f}" for r in cv.itertuples()
           if not r.passes_after and np.isfinite(r.cv_after) and (r.level, r.indicator) not in short_cv]
    bad += [f"school {r.school_id} ({r.level})" for r in schools.itertuples() if not r.meets_after and (r.school_id, r.level) not in keys]
    if bad:
        msg = f"improve: the balance evaluation fails {', '.join(bad[:5])} after the plan (a bug; please report it)"
        raise RuntimeError(msg)


def _training_years(measures: pd.DataFrame, options: ImproveOptions, unmet: list[dict[str, object]], shortfalls: list[Shortfall]) -> None:
    """Name each year the phasing trains more backbone teachers in than ``backbone_per_year`` (appended in place)."""
    bb = measures["resource"] == "backbone_teachers"
    for y, over in overtrained(measures.loc[bb, "year"].to_numpy(np.int64), measures.loc[bb, "quantity"].to_numpy(np.int64), options):
        unmet.append({"kind": "training_year", "year": int(y), "over": int(over)})
        shortfalls.append(Shortfall(f"year {y}", int(over), "backbone teachers",
                                    f"{over} backbone teacher(s) above backbone_per_year ({options.backbone_per_year}) in year {y}: "
                                    "earlier years' money ran out before their training places; raise budget_per_year_yuan or years",
                                    "improve.training_year", figures(year=int(y), over=int(over), per_year=options.backbone_per_year or 0)))


def plan_improvement(
    schools: pd.DataFrame,
    teachers: pd.DataFrame | None,
    *,
    teacher_deltas: pd.DataFrame | None = None,
    options: ImproveOptions = DEFAULT_OPTIONS,
    balance_options: BalanceOptions | None = None,
    limits: SolveLimits | None = None,
) -> ImprovePlan:
    """The least-cost achievement plan of a county (see the module docstring).

    Parameters
    ----------
    schools, teachers
        Schools layer and teachers table (after any rotation already planned: pass the rotated
        table, or the deltas); an optional ``site_area_m2`` column caps the sports ground.
    teacher_deltas
        Rotation already planned as per-part teacher changes (see :func:`~planning.improve.build.build_problem`);
        the verification then runs on the tables as given, so prefer the rotated teachers table.
    options, balance_options, limits
        Units, costs and limits; thresholds and standards; work budget.

    Returns
    -------
    ImprovePlan

    Raises
    ------
    InputError
        Bad tables (as the balance evaluation).
    InfeasibleError
        The CV tests cannot be met within the caps, or the training limit is too low.
    """
    bal = balance_options or BalanceOptions()
    built = build_problem(schools, teachers, teacher_deltas=teacher_deltas, options=options, balance_options=bal)
    sol: ImproveSolution = solve_improve_core(built.prob, limits=limits, relative_gap=options.relative_gap, budget=options.total_budget())
    measures = measures_table(built, sol.units, options)
    after_s, after_t = apply_measures(schools, teachers, measures, options=options)
    before, after = evaluate_balance(schools, teachers, options=bal), evaluate_balance(after_s, after_t, options=bal)
    cv = _cv_table(before, after)
    shortfalls = [gap_shortfall(g, built, options) for g in sol.gaps] + [cv_shortfall(c, built) for c in sol.cv_short]
    _verify(sol, built, cv, _school_table(before, after, built, measures))
    if sol.budget is not None:
        shortfalls += budget_shortfalls(sol.budget, built, cv, sol.cost, len(cv))
    unmet = unmet_records(sol.gaps, sol.cv_short, sol.budget, built, options)
    for y, over in overspent(measures["year"].to_numpy(np.int64), measures["cost_yuan"].to_numpy(np.int64), options):
        unmet.append({"kind": "year", "year": int(y), "over_yuan": float(over)})
        shortfalls.append(Shortfall(f"year {y}", int(np.ceil(over)), "yuan",
                                    f"the measures that fit no earlier year cost {over:,.0f} yuan above budget_per_year_yuan in the last year"
                                    if y == options.years else f"whole units do not split: {over:,.0f} yuan above budget_per_year_yuan",
                                    "improve.year_last" if y == options.years else "improve.year_split", figures(year=int(y), over=float(over))))
    _training_years(measures, options, unmet, shortfalls)
    by_resource = measures.groupby("resource")["cost_yuan"].sum()
    metrics = {
        "total_cost_yuan": int(sol.cost),
        "bound_yuan": float(sol.bound),
        "gap": float(sol.gap),
        "status": sol.status,
        "lp_bound_yuan": float(sol.lp_bound),
        "greedy_cost_yuan": int(sol.greedy.cost),
        "greedy_schools_cost_yuan": int(sol.greedy.schools_cost),
        "cost_by_resource_yuan": {r: int(by_resource.get(r, 0)) for r in RESOURCES},
        "cost_by_year_yuan": {str(y): int(c) for y, c in measures.groupby("year")["cost_yuan"].sum().items()},
        "passes": {lv: bool(after.quality_passes.get(lv, False)) for lv in LEVELS if lv in after.quality_passes},
        "passes_before": {lv: bool(before.quality_passes.get(lv, False)) for lv in LEVELS if lv in before.quality_passes},
        "cv": {
            lv: {str(r.indicator): {"before": float(r.cv_before), "after": float(r.cv_after), "threshold": float(r.threshold)}
                 for r in cv[cv["level"] == lv].itertuples()}
            for lv in LEVELS if (cv["level"] == lv).any()
        },
        "schools_excluded": len(built.excluded),
        "unmet": unmet,
        "budget": None if sol.budget is None else {
            "budget_yuan": float(sol.budget.budget),
            "full_cost_yuan": int(sol.budget.full_cost),
            "extra_needed_yuan": int(np.ceil(sol.budget.full_cost - sol.budget.budget)),
            "cv_tests_left": len(sol.budget.cv_left),
            "school_parts_left": len(sol.budget.parts_left),
        },
        "rounds": sol.rounds,
        "cuts": sol.cuts,
        "solve_s": round(sol.solve_s, 3),
    }
    return ImprovePlan(
        measures=measures,
        cv=cv,
        schools=_school_table(before, after, built, measures),
        metrics=MappingProxyType(metrics),
        status=sol.status,
        cost=float(sol.cost),
        bound=float(sol.bound),
        gap=float(sol.gap),
        greedy=sol.greedy,
        shortfalls=tuple(shortfalls),
    )
