"""What the achievement plan leaves short, as :class:`~geo.errors.Shortfall`\\ s that say where and what it would take.

Three sources (see :mod:`planning.improve.targets`): a part whose rule the caps make impossible
(:func:`gap_shortfall`), a CV test the caps leave out of reach (:func:`cv_shortfall`) and a budget
below the least cost (:func:`budget_shortfalls`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from geo.errors import Figure, Shortfall, figures
from geo.model import LEVELS
from planning.balance.indicators import QUALITY_INDICATORS
from planning.improve.build import BuiltProblem
from planning.improve.costs import RESOURCES
from planning.improve.diagnose import BELOW_85, COUPLED, TRAINING_LIMIT, Gap
from planning.improve.options import ImproveOptions
from planning.improve.targets import BudgetChoice, CvShort

#: The unit a shortfall of each measure is counted in.
UNIT = {
    "above_qualification_teachers": "teachers above the required qualification",
    "backbone_teachers": "backbone teachers",
    "pe_art_teachers": "PE and art teachers",
    "floor_area_m2": "m² of floor area",
    "sports_area_m2": "m² of sports ground",
    "equipment_yuan": "yuan of equipment",
    "multimedia_rooms": "multimedia classrooms",
}
#: Why a measure is capped.
WHY = {
    "sports_area_m2": "the site is too small (site_area_m2 × sports_site_share)",
    "backbone_teachers": "too few teachers to train",
    "above_qualification_teachers": "the cap on hires per school",
    "pe_art_teachers": "the cap on hires per school",
}


#: A side limit that binds at a :data:`~planning.improve.diagnose.COUPLED` gap: (words, key of :data:`WHY` in the report).
LIMIT_WHY = {
    "hires": ("the cap on hires per school (max_hires_per_school {hires}) is shared by these standards", "hires_cap"),
    "backbone_candidates": ("too few teachers to train as backbone teachers", "teachers_to_train"),
    "backbone_per_year": ("the training limit (backbone_per_year {per_year} × {years} years)", "training_limit"),
}


def _coupled_why(gap: Gap, options: ImproveOptions) -> str:
    words = [LIMIT_WHY[k][0] for k in gap.limits if k in LIMIT_WHY] or ["the caps together"]
    return "; ".join(words).format(hires=options.max_hires_per_school, per_year=options.backbone_per_year, years=options.years)


def _where(built: BuiltProblem, part: int) -> str:
    row = built.parts.iloc[part]
    return f"{row['name']} ({row['school_id']}, {row['level']})"


def _given(value: int | None) -> Figure:
    """A setting as a figure: empty when it is not set."""
    return "" if value is None else int(value)


def _part(built: BuiltProblem, part: int) -> dict[str, Figure]:
    """The figures naming a part: the school's name and id and the level."""
    row = built.parts.iloc[part]
    return {"name": str(row["name"]), "school_id": str(row["school_id"]), "level": str(row["level"])}


#: The code (:mod:`maps.shortfalls`) of each reason in :data:`WHY` and :data:`LIMIT_WHY`.
WHY_CODE = {"sports_area_m2": "site", "backbone_teachers": "teachers_to_train",
            "above_qualification_teachers": "hires_cap", "pe_art_teachers": "hires_cap"}
LIMIT_CODE = {"hires": "hires", "backbone_candidates": "teachers_to_train", "backbone_per_year": "backbone_per_year"}


def _why_codes(gap: Gap, res: str, allowed: bool) -> tuple[str, ...]:
    """The codes of the reason :func:`gap_shortfall` gives for one standard (the same branches, in words there)."""
    if not allowed:
        return ("not_allowed",)
    if gap.kind == COUPLED:
        return tuple(LIMIT_CODE[k] for k in gap.limits if k in LIMIT_WHY) or ("caps_together",)
    if gap.kind == TRAINING_LIMIT:
        return ("training_limit",)
    return (WHY_CODE.get(res, "caps"),)


def gap_shortfall(gap: Gap, built: BuiltProblem, options: ImproveOptions) -> Shortfall:
    """A part the caps keep below the per-school rule: each blocked standard, how far it gets, what it would take."""
    allowed = set(built.prob.var_resource.tolist())
    what, amounts, items = [], [], []
    for k, share, short in zip(gap.indicators, gap.reachable_share, gap.short_units):
        res = RESOURCES[k]
        why = WHY.get(res, "the caps")
        if gap.kind == TRAINING_LIMIT:
            why = f"the training limit (backbone_per_year {options.backbone_per_year} × {options.years} years) goes to schools that need fewer"
        if gap.kind == COUPLED:
            why = _coupled_why(gap, options)
        if k not in allowed:
            why = "the measure is not allowed ([improve] resources)"
        amount = short * options.unit_quantity(res)
        amounts.append(amount)
        more = f"{amount:,.0f} {UNIT[res]} beyond the cap"
        if res == "sports_area_m2":
            more += f" (a site {amount / options.sports_site_share:,.0f} m² larger, or a ground shared off site)"
        what.append(f"{QUALITY_INDICATORS[k]} reaches at most {share:.0%} of its standard ({why}); it would take {more}")
        items.append(figures(
            indicator=QUALITY_INDICATORS[k], share=float(share), why=_why_codes(gap, res, k in allowed), amount=float(amount), unit=UNIT[res],
            site=float(amount / options.sports_site_share) if res == "sports_area_m2" else "",
            per_year=_given(options.backbone_per_year), years=int(options.years), hires=_given(options.max_hires_per_school),
        ))
    kind = "below 85 % of a standard" if gap.kind in (BELOW_85, TRAINING_LIMIT) else "more than one standard below 100 %"
    if gap.kind == COUPLED:
        kind = "its standards cannot all be met together within limits they share"
    detail = f"{kind}: " + "; ".join(what) + "; every other standard is met in full"
    cause = "coupled" if gap.kind == COUPLED else "below_85" if gap.kind in (BELOW_85, TRAINING_LIMIT) else "several"
    figs = figures(**_part(built, gap.part), cause=cause, standards=tuple(items))
    if len(amounts) == 1:
        return Shortfall(_where(built, gap.part), int(np.ceil(amounts[0] - 1e-9)), UNIT[RESOURCES[gap.indicators[0]]], detail, "improve.gap", figs)
    return Shortfall(_where(built, gap.part), int(sum(gap.short_units)), "units", detail, "improve.gap", figs)


def cv_shortfall(short: CvShort, built: BuiltProblem) -> Shortfall:
    """A CV test the caps leave out of reach: the lowest CV they allow and the resource beyond them it would take, school by school."""
    res = RESOURCES[short.indicator]
    total = sum(a for _, a in short.beyond)
    at = ", ".join(f"{built.parts.iloc[p]['name']} {a:,.0f}" for p, a in short.beyond[:5]) + (" …" if len(short.beyond) > 5 else "")
    test = {"level": LEVELS[short.level], "indicator": QUALITY_INDICATORS[short.indicator]}
    if not np.isfinite(short.reached):
        return Shortfall(f"{LEVELS[short.level]} {QUALITY_INDICATORS[short.indicator]} CV", 0, UNIT[res],
                         f"no school has any and the caps allow none ({WHY.get(res, 'the caps')}): the CV is undefined",
                         "improve.cv_undefined", figures(**test, why=WHY_CODE.get(res, "caps")))
    why = "the training limit, or too few teachers to train" if res == "backbone_teachers" else WHY.get(res, "the caps")
    detail = (f"CV {short.reached:.3f} at best within the caps ({why}), threshold {short.tau:g}; "
              f"it would take about {total:,.0f} {UNIT[res]} beyond the caps at {len(short.beyond)} school(s): {at}")
    beyond = tuple(figures(name=str(built.parts.iloc[p]["name"]), amount=float(a)) for p, a in short.beyond[:5])
    figs = figures(**test, cv=float(short.reached), tau=float(short.tau), total=float(total), unit=UNIT[res], n=len(short.beyond),
                   beyond=beyond, more="…" if len(short.beyond) > 5 else "",
                   why="training_or_teachers" if res == "backbone_teachers" else WHY_CODE.get(res, "caps"))
    return Shortfall(f"{LEVELS[short.level]} {QUALITY_INDICATORS[short.indicator]} CV", int(np.ceil(total - 1e-9)), UNIT[res], detail,
                     "improve.cv_short", figs)


def budget_shortfalls(choice: BudgetChoice, built: BuiltProblem, cv: pd.DataFrame, cost: int, n_cv: int) -> list[Shortfall]:
    """The budget, each CV test and each school it leaves short, with the money each would take."""
    n_parts = len(np.unique(built.prob.part_school)) if built.prob.n_parts else 0
    out = [Shortfall(
        "budget", int(np.ceil(choice.full_cost - choice.budget)), "yuan",
        f"the plan meeting every target costs {choice.full_cost:,} yuan, above the ceiling of {choice.budget:,.0f}; within it "
        f"({cost:,} yuan) {n_cv - len(choice.cv_left)} of {n_cv} CV tests pass and {len(choice.parts_left)} school part(s) stay below "
        f"the per-school rule (of {built.prob.n_parts} parts at {n_parts} schools)",
        "improve.budget", figures(full=int(choice.full_cost), budget=float(choice.budget), cost=int(cost), passed=n_cv - len(choice.cv_left),
                                  n_cv=int(n_cv), left=len(choice.parts_left), parts=int(built.prob.n_parts), schools=int(n_parts)),
    )]
    after = cv.set_index(["level", "indicator"])["cv_after"] if len(cv) else pd.Series(dtype=float)
    for lv, k, alone in choice.cv_left:
        key = (LEVELS[lv], QUALITY_INDICATORS[k])
        value = f"CV {float(after[key]):.3f} after the plan, " if key in after.index else ""
        out.append(Shortfall(f"{LEVELS[lv]} {QUALITY_INDICATORS[k]} CV", int(alone), "yuan",
                             f"{value}left above its threshold for the budget; meeting it alone would cost {alone:,} yuan",
                             "improve.budget_cv", figures(level=LEVELS[lv], indicator=QUALITY_INDICATORS[k], alone=int(alone),
                                                          cv=float(after[key]) if key in after.index else "")))
    for part, extra in choice.parts_left:
        out.append(Shortfall(_where(built, part), int(extra), "yuan",
                             f"left below the per-school rule for the budget; bringing it to standard would cost about {extra:,} yuan more",
                             "improve.budget_part", figures(**_part(built, part), extra=int(extra))))
    return out


def _why_key(res: str, gap: Gap, allowed: bool) -> str:
    gap_kind = gap.kind
    if not allowed:
        return "not_allowed"
    if gap_kind == COUPLED:
        return next((LIMIT_WHY[k][1] for k in gap.limits if k in LIMIT_WHY), "caps")
    if gap_kind == TRAINING_LIMIT:
        return "training_limit"
    return {"sports_area_m2": "site", "backbone_teachers": "teachers_to_train"}.get(res, "hires_cap" if "teachers" in res else "caps")


def unmet_records(sol_gaps: tuple[Gap, ...], cv_short: tuple[CvShort, ...], choice: BudgetChoice | None, built: BuiltProblem,
                  options: ImproveOptions) -> list[dict[str, object]]:
    """The shortfalls as plain records (for ``metrics.json`` and the Word document, which words them in the report language)."""
    allowed = set(built.prob.var_resource.tolist())
    out: list[dict[str, object]] = []
    for g in sol_gaps:
        row = built.parts.iloc[g.part]
        items: list[dict[str, object]] = []
        site = 0.0
        for k, share, short in zip(g.indicators, g.reachable_share, g.short_units):
            res = RESOURCES[k]
            amount = float(short * options.unit_quantity(res))
            site += amount / options.sports_site_share if res == "sports_area_m2" else 0.0
            items.append({"indicator": QUALITY_INDICATORS[k], "reached_share": float(share), "resource": res, "amount": amount,
                          "why": _why_key(res, g, k in allowed)})
        out.append({"kind": "school", "school_id": str(row["school_id"]), "name": str(row["name"]), "level": str(row["level"]),
                    "items": items, "site_m2": site})
    out.extend(
        {"kind": "cv", "level": LEVELS[c.level], "indicator": QUALITY_INDICATORS[c.indicator], "resource": RESOURCES[c.indicator],
         "threshold": c.tau, "reached": float(c.reached) if np.isfinite(c.reached) else None,
         "amount": float(sum(a for _, a in c.beyond)), "schools": [str(built.parts.iloc[p]["name"]) for p, _ in c.beyond]}
        for c in cv_short
    )
    if choice is not None:
        out += [{"kind": "budget_cv", "level": LEVELS[lv], "indicator": QUALITY_INDICATORS[k], "cost_yuan": int(cost)}
                for lv, k, cost in choice.cv_left]
        out += [{"kind": "budget_school", "name": str(built.parts.iloc[p]["name"]), "level": str(built.parts.iloc[p]["level"]),
                 "cost_yuan": int(cost)} for p, cost in choice.parts_left]
    return out
