"""The layout model (布局规划): which schools to keep, expand, shrink, merge or close, where to build.

Arrays in (:class:`LayoutProblem`), a :class:`LayoutPlan` out. Children are counted per unit in
three groups, grades 1–3, 4–6 (primary) and 7–9 (junior), for the target year.

Formulation (CP-SAT, one worker, deterministic time limit):

- ``open_s`` (bool): the school or candidate site runs; fixed to 1 for ``keep`` schools, for
  teaching points that are some unit's only school for grades 1–3 within the day limit, and for the
  schools the merge rules keep (township and county-seat schools, schools of 100 pupils or more:
  :mod:`planning.layout.options`).
- ``cls_sl`` (int): classes of level ``l`` at ``s``; ``min_classes·open ≤ cls ≤ max_classes·open``
  for the levels ``s`` teaches (teaching points: at least 1, grades 1–3 only).
- ``x_igs`` (bool): group ``g`` of unit ``i`` goes to ``s`` (one school per unit and group). A pair
  is allowed when ``s`` teaches the level and the trip is within the day limit, or — grades 4–9
  only — ``s`` boards and the trip is within the boarding limit (then the children board). With
  ``merge_rule = "up"``, ``x_igs ≤ open_t`` where ``t`` is the group's school today and ``s`` does not
  rank above it (a higher kind, or the same kind and at least as many pupils; never a teaching point):
  the children of a closed school go up, never into a smaller school or a teaching point.
- Capacity in whole classes: ``Σ children·x ≤ class_size_l·cls_sl``; size:
  ``Σ children·x ≤ max pupils (nine-year when s teaches both levels)``.
- ``new_sl ≥ cls_sl − classes_now_sl`` (classes built).

Objective, yuan: construction per new class and per new site, plus ``horizon_years`` × the yearly
costs: per open school, per class, and per child of each pair (school bus beyond ``bus_from_s``,
boarding allowance and care, travel time valued per hour).

Children no school of their level may take at all (no road to one) are left out and listed; a level
with fewer places than children gets schools above the class and size limits, in proportion, listed
(:attr:`LayoutPlan.shortfalls`); ``beyond_limits = "error"`` stops instead.

CP-SAT (one worker, a deterministic work budget) searches twice: a quarter of the budget without a hint (when that
finds no plan, again on up to half until its first plan cheaper than the warm start), then hinted with the warm start on
the work left (:data:`UNHINTED_SHARE`: an unhinted single worker finds one plan and stalls, a hinted one either stays
at its hint or improves to the end of its budget). Both plans and the warm start's are polished and the cheapest is
kept (:func:`_cheapest`). When CP-SAT finds no layout within its budget, the plan is the warm start's
(:mod:`planning.layout.greedy`, feasible under the same rules) with status ``WARM_START`` and a
lower bound from the relaxation below (every group at its cheapest allowed school, the classes the
county's children fill at least, the schools that must stay open) or CP-SAT's, whichever is higher.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import NDArray
from ortools.sat.python import cp_model

from geo.errors import InfeasibleError, Shortfall, SolverError, figures
from planning.layout.greedy import WarmStart, drop, evaluate, settle
from planning.layout.options import BOARDING_WEEKS_YEAR, SCHOOL_DAYS_YEAR, LayoutOptions
from planning.layout.problem import (
    GROUP_LEVEL,
    GROUPS,
    LEVELS,
    NEAREST_SCHOOLS,
    NEW_SITE_YUAN,
    OBJ_UNIT_YUAN,
    TIER_POINT,
    TIER_TOWN,
    LayoutProblem,
    min_classes,
    pupils_today,
    tiers,
)
from planning.layout.worth import WHY_EXPAND, check_sites
from planning.limits import SolveLimits

__all__ = ["GROUPS", "GROUP_LEVEL", "LEVELS", "LayoutPlan", "LayoutProblem", "SchoolDecision", "plan_layout"]

Decision = Literal["keep", "expand", "shrink", "close", "merge", "new", "not built"]
_DEFAULT = LayoutOptions()


@dataclass(frozen=True)
class SchoolDecision:
    """What the plan does with one school or site."""

    school: int
    decision: Decision
    classes_before: tuple[int, int]
    classes_after: tuple[int, int]
    merged_into: int | None
    construction_yuan: float
    reason: str


@dataclass(frozen=True)
class LayoutPlan:
    """A layout plan.

    Attributes
    ----------
    open
        ``(S,)`` bool: runs in the plan.
    classes
        ``(S, 2)`` classes per level.
    assign
        ``(n, 3)`` school of each unit and group (−1 where the group has no children).
    boarder, bus
        ``(n, 3)`` bool: the group boards; the group rides a school bus (day pupils).
    beyond
        ``(n, 3)`` bool: no school was within the limits, the group goes to the nearest (``beyond_limits``).
    today
        ``(n, 3)`` today's school of each group (``current``, else the nearest allowed existing one; −1: none).
    decisions
        One per school or site.
    costs
        Yuan by kind: ``construction`` (one-off) and yearly ``schools``, ``classes``, ``bus``,
        ``boarding``, ``travel``.
    objective, bound, gap, status
        Total cost over the horizon (yuan), a lower bound, their relative gap, CP-SAT's status.
    unserved
        ``(n, 3)`` bool: children no school of their level may take (no road to one): left out of the plan
        (``assign`` −1) and listed in ``shortfalls``.
    shortfalls
        Policy targets the plan meets only in part (``beyond_limits = "nearest"``): children left out, levels short of
        places (then schools are planned above the class and size limits).
    """

    open: NDArray[np.bool_]
    classes: NDArray[np.int64]
    assign: NDArray[np.int64]
    boarder: NDArray[np.bool_]
    bus: NDArray[np.bool_]
    beyond: NDArray[np.bool_]
    today: NDArray[np.int64]
    decisions: tuple[SchoolDecision, ...]
    costs: dict[str, float]
    objective: float
    bound: float
    gap: float
    status: str
    unserved: NDArray[np.bool_] | None = None
    shortfalls: tuple[Shortfall, ...] = ()


def allowed_pairs(prob: LayoutProblem, options: LayoutOptions = _DEFAULT) -> tuple[NDArray[np.bool_], NDArray[np.bool_]]:
    """``(n, 3, S)`` masks: the pair is allowed; the children would board there."""
    t = prob.travel_s
    day = t <= options.day_max_s
    board = (t <= options.boarding_max_s) & prob.boarding[None, :] & ~day
    ok = np.zeros((*prob.children.shape, len(prob.existing)), dtype=bool)
    boards = np.zeros_like(ok)
    for g, lvl in enumerate(GROUP_LEVEL):
        teaches = prob.levels[:, lvl] & (~prob.teaching_point if g > 0 else True)
        ok[:, g] = teaches[None, :] & (day | board if g > 0 else day)
        boards[:, g] = ok[:, g] & board if g > 0 else False
    return ok, boards


def nearest_beyond(prob: LayoutProblem, ok: NDArray[np.bool_]) -> NDArray[np.bool_]:
    """``(n, 3)`` groups with children and no allowed school of today (a candidate site within the limits may
    never be built) that have a reachable school of their level today.

    With ``beyond_limits = "nearest"`` each such group is allowed its nearest school of the level
    (a day pupil beyond the limit), set in ``ok`` by the caller.
    """
    out = np.zeros(prob.children.shape, dtype=bool)
    for g, lvl in enumerate(GROUP_LEVEL):
        teaches = prob.levels[:, lvl] & (~prob.teaching_point if g > 0 else True) & prob.existing
        reach = np.isfinite(np.where(teaches[None, :], prob.travel_s, np.inf)).any(axis=1)
        out[:, g] = (prob.children[:, g] > 0) & ~(ok[:, g] & prob.existing[None, :]).any(axis=1) & reach
    return out


def _allow_nearest(prob: LayoutProblem, ok: NDArray[np.bool_], boards: NDArray[np.bool_], beyond: NDArray[np.bool_]) -> None:
    """Allow each group ``beyond`` the limits its nearest school of the level today and — grades 4–9 — its nearest boarding
    school, where it boards (both beyond the limits: the plan does not make their trip longer than it must be)."""
    for i, g in zip(*np.nonzero(beyond)):
        lvl = GROUP_LEVEL[g]
        teaches = prob.levels[:, lvl] & (~prob.teaching_point if g > 0 else True) & prob.existing
        ok[i, g, int(np.argmin(np.where(teaches, prob.travel_s[i], np.inf)))] = True
        hall = np.where(teaches & prob.boarding, prob.travel_s[i], np.inf)
        if g > 0 and np.isfinite(hall.min()):
            s = int(np.argmin(hall))
            ok[i, g, s] = boards[i, g, s] = True


def _nearest_only(prob: LayoutProblem, ok: NDArray[np.bool_], now: NDArray[np.int64]) -> NDArray[np.bool_]:
    """``ok`` restricted to each group's :data:`NEAREST_SCHOOLS` nearest allowed schools of today, its as many nearest
    candidate sites, and today's school (so that the sites add choices, never take one away)."""
    keep = np.zeros_like(ok)
    k = min(NEAREST_SCHOOLS, ok.shape[2])
    for part in (prob.existing, ~prob.existing):
        t = np.where(ok & part[None, None, :], prob.travel_s[:, None, :], np.inf)
        near = np.argsort(t, axis=2, kind="stable")[:, :, :k]
        pick = np.zeros_like(ok)
        np.put_along_axis(pick, near, True, 2)
        keep |= pick & part[None, None, :]
    i, g = np.nonzero(now >= 0)
    keep[i, g, now[i, g]] = True
    return keep & ok


def day_first(ok: NDArray[np.bool_], boards: NDArray[np.bool_], forced: NDArray[np.bool_], beyond: NDArray[np.bool_]) -> NDArray[np.bool_]:
    """``(n, 3, S)`` boarding pairs the plan forbids (``day_pupils_first``): the group has a school within the day limit
    that surely stays open (``forced``), so the way is not long and it does not board (国办发〔2018〕27号)."""
    day_school = (ok & ~boards & forced[None, None, :]).any(axis=2) & ~beyond
    return boards & ok & day_school[:, :, None]


def _needed_points(prob: LayoutProblem, ok: NDArray[np.bool_]) -> NDArray[np.bool_]:
    """Teaching points that are the only school within the day limit for some unit's grades 1–3."""
    need = np.zeros(len(prob.existing), dtype=bool)
    only = ok[:, 0].sum(axis=1) == 1
    for i in np.flatnonzero(only & (prob.children[:, 0] > 0)):
        s = int(np.flatnonzero(ok[i, 0])[0])
        need[s] |= bool(prob.teaching_point[s])
    return need


def receivers(prob: LayoutProblem, options: LayoutOptions = _DEFAULT) -> NDArray[np.bool_]:
    """``(S, S)``: children of school ``s`` (row) may move to ``t`` (column) under ``merge_rule``.

    ``up``: ``t`` is ``s``, a candidate site, or a school that is not a teaching point and ranks above
    ``s`` (:func:`~planning.layout.problem.tiers`) or alike with at least as many pupils today.
    """
    n_s = len(prob.existing)
    if options.merge_rule == "any":
        return np.ones((n_s, n_s), dtype=bool)
    tier = tiers(prob)
    size = pupils_today(prob, (options.class_size_primary, options.class_size_junior))
    up = (tier[None, :] > tier[:, None]) | ((tier[None, :] == tier[:, None]) & (size[None, :] >= size[:, None]))
    return (up & (tier[None, :] != TIER_POINT)) | ~prob.existing[None, :] | np.eye(n_s, dtype=bool)


def merge_pairs(prob: LayoutProblem, now: NDArray[np.int64], options: LayoutOptions = _DEFAULT) -> NDArray[np.bool_]:
    """``(n, 3, S)``: the group may go to the school even if its school of today closes (:func:`receivers`);
    elsewhere only while today's school stays open (a zone change, not a merger)."""
    out = np.ones((*prob.children.shape, len(prob.existing)), dtype=bool)
    i, g = np.nonzero(now >= 0)
    out[i, g] = receivers(prob, options)[now[i, g]]
    return out


#: Why the rules keep a school open (the report translates these).
WHY_BUREAU = "kept by the bureau"
WHY_POINT = "teaching point: the only school within the day limit for some children of grades 1-3"
WHY_TOWN = "township or county-seat school: kept (close_town_and_urban = false)"
WHY_LARGE = "not a small school (close_below_pupils): kept"


def _kept(prob: LayoutProblem, ok: NDArray[np.bool_], options: LayoutOptions) -> dict[int, str]:
    """Schools that stay open whatever the cost, and why (the first reason that applies)."""
    tier = tiers(prob)
    size = pupils_today(prob, (options.class_size_primary, options.class_size_junior))
    rules = (
        (prob.keep, WHY_BUREAU),
        (_needed_points(prob, ok), WHY_POINT),
        (prob.existing & (tier >= TIER_TOWN) & (not options.close_town_and_urban), WHY_TOWN),
        (prob.existing & (size >= options.close_below_pupils), WHY_LARGE),
    )
    why: dict[int, str] = {}
    for mask, reason in rules:
        for s in np.flatnonzero(mask):
            why.setdefault(int(s), reason)
    return why


def _unreached(prob: LayoutProblem, ok: NDArray[np.bool_], options: LayoutOptions) -> tuple[NDArray[np.bool_], list[Shortfall]]:
    """``(n, 3)`` groups with children no school may take, and one shortfall per group saying why."""
    mask = (prob.children > 0) & ~ok.any(axis=2)
    short: list[Shortfall] = []
    for i, g in zip(*np.nonzero(mask)):
        t = prob.travel_s[i][prob.levels[:, GROUP_LEVEL[g]] & (~prob.teaching_point if g > 0 else True)]
        reached = bool(len(t) and np.isfinite(t.min()))
        near = f"nearest school for them {t.min() / 60:.0f} min away" if reached else "no school for them reachable"
        limit = "day limit" if g == 0 else "day and boarding limits"
        unit = prob.unit_ids[int(i)] if prob.unit_ids is not None else int(i)
        near_figure = {"near_min": float(t.min()) / 60} if reached else {"near": "unreachable"}
        short.append(Shortfall(f"{prob.unit(int(i))}, {GROUPS[g]}", int(prob.children[i, g]), "children",
                               f"no school within the {limit} ({near})", "layout.beyond_limits",
                               figures(unit=str(unit), group=GROUPS[g], limit="day" if g == 0 else "day_boarding", **near_figure)))
    return mask, short


def _short_places(prob: LayoutProblem, options: LayoutOptions) -> tuple[NDArray[np.float64], list[Shortfall]]:
    """``(2,)`` children per place of each level where the county's schools hold fewer places than children (else 1),
    and a shortfall per such level."""
    ratio = np.ones(2)
    short: list[Shortfall] = []
    for lvl, name in enumerate(LEVELS):
        need = int(prob.children[:, [g for g in range(3) if GROUP_LEVEL[g] == lvl]].sum())
        seats = int((prob.max_classes[:, lvl] * prob.levels[:, lvl]).sum()) * options.class_size(lvl)
        if need > seats:
            ratio[lvl] = need / max(seats, 1)
            short.append(Shortfall(f"county, {name}", need - seats, "places", f"{need:,} children, at most {seats:,} places",
                                   "layout.county_places", figures(level=name, need=need, seats=seats)))
    return ratio, short


#: What the plan does with a level short of places (``beyond_limits = "nearest"``), appended to its shortfall.
OVER_LIMITS = "schools planned above the class and school-size limits by this share"
#: What the plan does with children no school may take (``beyond_limits = "nearest"``), appended to their shortfall.
UNSERVED = "not placed by the plan: no road to a school of their level within the search"


def _serve_as_far_as_possible(prob: LayoutProblem, ok: NDArray[np.bool_], options: LayoutOptions
                              ) -> tuple[LayoutProblem, LayoutOptions, NDArray[np.bool_], tuple[Shortfall, ...]]:
    """The problem the model solves, its options, the groups left unplaced and the shortfalls.

    Children no school may take are left out of the plan (listed); a level short of places gets
    proportionally more classes and a larger school-size limit (listed). With ``beyond_limits =
    "error"`` either raises :class:`~geo.errors.InfeasibleError` naming every shortfall.
    """
    unserved, short = _unreached(prob, ok, options)
    kept = dataclasses.replace(prob, children=np.where(unserved, 0, prob.children).astype(np.int64))
    ratio, places = _short_places(kept, options)
    if options.beyond_limits == "error" and (short or places):
        raise InfeasibleError(
            "no layout can serve every child within the policy limits",
            short + places,
            "add a candidate site (or a boarding school for grades 4-9) near these units, raise max_classes, or the travel limits",
        )
    short = [dataclasses.replace(s, detail=f"{s.detail}; {UNSERVED}", figures=figures(**s.values, then="unplaced")) for s in short]
    if places:
        top = np.ceil(prob.max_classes * ratio[None, :]).astype(np.int64)
        kept = dataclasses.replace(kept, max_classes=top)
        grow = float(ratio.max())
        options = options.model_copy(update={"max_pupils_school": math.ceil(options.max_pupils_school * grow),
                                             "max_pupils_nine_year": math.ceil(options.max_pupils_nine_year * grow)})
        places = [dataclasses.replace(s, detail=f"{s.detail}; {OVER_LIMITS} ({ratio[k] - 1:.0%})",
                                      figures=figures(**s.values, over_share=float(ratio[k] - 1)))
                  for k, s in zip(np.flatnonzero(ratio > 1), places)]
    return kept, options, unserved, tuple(short + places)


@dataclass
class _Vars:
    model: cp_model.CpModel
    open: list[cp_model.IntVar]
    cls: dict[tuple[int, int], cp_model.IntVar]
    new: dict[tuple[int, int], cp_model.IntVar]
    x: dict[tuple[int, int, int], cp_model.IntVar]


def _yuan(v: float) -> int:
    return round(v / OBJ_UNIT_YUAN)


def close_limit(prob: LayoutProblem, options: LayoutOptions = _DEFAULT) -> int:
    """Most of today's schools the plan may close (``max_close_share``, rounded down)."""
    return math.floor(options.max_close_share * int(prob.existing.sum()) + 1e-9)


def _build(prob: LayoutProblem, ok: NDArray[np.bool_], cost: NDArray[np.float64], forced: NDArray[np.bool_], options: LayoutOptions,
           rule: tuple[NDArray[np.bool_], NDArray[np.int64]]) -> _Vars:
    """The CP-SAT model of the module docstring; ``rule`` is :func:`merge_pairs` and today's school of each group."""
    m = cp_model.CpModel()
    n_s = len(prob.existing)
    h = options.horizon_years
    opened = [m.new_bool_var(f"open{s}") for s in range(n_s)]
    v = _Vars(m, opened, {}, {}, {})
    lows = min_classes(prob, (options.min_classes_primary, options.min_classes_junior))
    obj: list[object] = []
    for s in range(n_s):
        if forced[s]:
            m.add(opened[s] == 1)
        obj.append(_yuan(h * options.school_yuan_year + (0.0 if prob.existing[s] else NEW_SITE_YUAN)) * opened[s])
        both = bool(prob.levels[s].all())
        size = options.max_pupils_nine_year if both else options.max_pupils_school
        pupils: list[object] = []
        for lvl in range(2):
            if not prob.levels[s, lvl]:
                continue
            top = int(prob.max_classes[s, lvl])
            low = int(lows[s, lvl])
            c = m.new_int_var(0, top, f"cls{s}_{lvl}")
            new = m.new_int_var(0, top, f"new{s}_{lvl}")
            m.add(c >= low * opened[s])
            m.add(c <= top * opened[s])
            m.add(new >= c - int(prob.classes_now[s, lvl]))
            v.cls[s, lvl], v.new[s, lvl] = c, new
            obj += [_yuan(h * options.class_yuan_year(lvl)) * c, _yuan(options.construction_yuan_per_class) * new]
            load = [int(prob.children[i, g]) * v.x.setdefault((int(i), int(g), s), m.new_bool_var(f"x{i}_{g}_{s}"))
                    for i, g in zip(*np.nonzero(ok[:, :, s] & (prob.children > 0))) if GROUP_LEVEL[g] == lvl]
            m.add(sum(load) <= options.class_size(lvl) * c)
            pupils += load
        m.add(sum(pupils) <= size * opened[s])  # type: ignore[arg-type]
    for i, g in zip(*np.nonzero(prob.children > 0)):
        m.add_exactly_one([v.x[int(i), int(g), int(s)] for s in np.flatnonzero(ok[i, g])])
    closable = [opened[s] for s in np.flatnonzero(prob.existing & ~forced)]
    most = close_limit(prob, options)
    if len(closable) > most:
        m.add(sum(closable) >= len(closable) - most)
    up, now = rule
    for (i, g, s), var in v.x.items():
        if not up[i, g, s]:
            m.add_implication(var, opened[int(now[i, g])])
    obj += [_yuan(h * cost[i, g, s]) * var for (i, g, s), var in v.x.items()]
    m.minimize(sum(obj))  # type: ignore[arg-type]
    return v


def current_schools(prob: LayoutProblem, ok: NDArray[np.bool_]) -> NDArray[np.int64]:
    """Today's school of each unit and group: ``prob.current``, else the nearest allowed existing school (−1: none)."""
    if prob.current is not None:
        return np.asarray(prob.current, dtype=np.int64)
    t = np.where(ok & prob.existing[None, None, :], prob.travel_s[:, None, :], np.inf)
    out = np.argmin(t, axis=2)
    return np.where(np.isfinite(t.min(axis=2)), out, -1).astype(np.int64)


def _hint(v: _Vars, warm: tuple[NDArray[np.bool_], NDArray[np.int64], NDArray[np.int64]], prob: LayoutProblem) -> None:
    """The warm start's plan (:func:`planning.layout.greedy.drop`) as CP-SAT's hint: open schools, each group's school, classes."""
    opened, at, classes = warm
    for s, var in enumerate(v.open):
        v.model.add_hint(var, bool(opened[s]))
    for (s, lvl), var in v.cls.items():
        c = min(int(classes[s, lvl]), int(prob.max_classes[s, lvl]))
        v.model.add_hint(var, c)
        v.model.add_hint(v.new[s, lvl], max(c - int(prob.classes_now[s, lvl]), 0))
    for (i, g, s), var in v.x.items():
        v.model.add_hint(var, int(at[i, g]) == s)


_Plan = tuple[NDArray[np.bool_], NDArray[np.int64], NDArray[np.int64]]


def _warm(w: WarmStart, forced: NDArray[np.bool_], options: LayoutOptions) -> tuple[float, _Plan]:
    """The warm start's total (``inf`` when it found no plan) and plan: open schools, each group's school, classes.

    The cheaper of two greedy runs, from every school and site open and from today's schools alone (from all open, the
    small schools closed first may leave their children only a site, which then cannot go)."""
    best = (math.inf, np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), np.ones(len(w.prob.existing), dtype=bool))
    for start in (None, w.prob.existing) if (~w.prob.existing).any() else (None,):
        opened = drop(w, forced, options, close_limit(w.prob, options), start=start)
        total, at, classes = evaluate(w, opened, options)
        if total < best[0]:
            best = (total, at, classes, opened)
    total, at, classes, opened = best
    if not math.isfinite(total):
        _, at, classes = evaluate(w, opened, options)
    assign = np.where(w.prob.children > 0, at, -1).astype(np.int64)
    return total, (opened, classes, assign)


def _polish(w: WarmStart, forced: NDArray[np.bool_], found: tuple[_Plan, dict[str, float], float], parts: tuple[NDArray[np.float64], ...],
            options: LayoutOptions) -> tuple[_Plan, dict[str, float], float]:
    """CP-SAT's plan (or the warm start's) unless a cheaper one follows from its open schools: each group to its
    cheapest allowed open school, then schools and sites closed while the total falls
    (:func:`~planning.layout.greedy.drop`); or its own assignment with groups moved into seats already paid for
    (:func:`~planning.layout.greedy.settle`). A short time limit can leave CP-SAT with children boarding at a new site an
    hour away while their school at home has room, or small schools paying for empty minimum classes."""
    plan, _, total = found
    opened = drop(w, forced, options, close_limit(w.prob, options), start=plan[0])
    val, at, classes = settle(w, opened, options)
    own, own_at, own_classes = settle(w, plan[0], options, at=plan[2])  # CP-SAT's own plan, its groups moved into seats paid for
    if own < val:
        opened, val, at, classes = plan[0], own, own_at, own_classes
    if not val < total - 1.0:
        return found
    better = (opened, classes, np.where(w.prob.children > 0, at, -1).astype(np.int64))
    new_costs = _costs(w.prob, better, parts, options)
    new_total = new_costs["construction"] + options.horizon_years * sum(v for k, v in new_costs.items() if k != "construction")
    return (better, new_costs, new_total) if new_total < total - 1.0 else found


def _worth_building(w: WarmStart, found: tuple[_Plan, dict[str, float], float], parts: tuple[NDArray[np.float64], ...],
                    options: LayoutOptions) -> tuple[_Plan, dict[str, float], float, dict[int, str]]:
    """``found`` with each new site that does not pay for itself closed (:func:`~planning.layout.worth.check_sites`), and
    the reason of each site built: for how many children, and what the plan would cost without it."""
    plan, costs, total = found
    if not (plan[0] & ~w.prob.existing).any():
        return plan, costs, total, {}
    val, opened, at, classes, why = check_sites(w, plan[0], plan[2], options)
    if val < total - 1.0:
        plan = (opened, classes, np.where(w.prob.children > 0, at, -1).astype(np.int64))
        costs = _costs(w.prob, plan, parts, options)
        total = costs["construction"] + options.horizon_years * sum(v for k, v in costs.items() if k != "construction")
    return plan, costs, total, why


def _cheapest(w: WarmStart, forced: NDArray[np.bool_], plans: list[tuple[_Plan, str]], parts: tuple[NDArray[np.float64], ...],
              options: LayoutOptions) -> tuple[_Plan, dict[str, float], float, str]:
    """The cheapest of ``plans`` (CP-SAT's, the cheaper first, then the warm start's) once each is polished
    (:func:`_polish`; an optimal plan as it is), the earlier on a tie: a plan a little dearer in CP-SAT's terms can
    polish into the cheaper one (610830 at ``--time-limit 3``: the unhinted plan, 1,249 M yuan, where the hinted one
    polishes into the warm start's 1,261 M), and the warm start's is never beaten by a dearer one."""
    done = []
    for found, status in plans:
        costs = _costs(w.prob, found, parts, options)
        total = costs["construction"] + options.horizon_years * sum(val for k, val in costs.items() if k != "construction")
        polished = (found, costs, total) if status == "OPTIMAL" else _polish(w, forced, (found, costs, total), parts, options)
        done.append((*polished, status))
    best = done[0]
    for got in done[1:]:
        if got[2] < best[2] - 1.0:
            best = got
    return best


#: Share of CP-SAT's work the unhinted search gets first, when there is a warm start; the search hinted with the warm
#: start gets the rest. One deterministic worker without a hint finds one plan and stalls (at the demo default budget
#: the same plan at a quarter, half and all of the work, its only one: 610116 4,451 M yuan, 530102 1,901 M); the hinted
#: search either stays at its hint throughout (610116: 4,597 M at a quarter and at all of the work) or keeps improving
#: to the end of its work (530102: 1,946 M at a quarter, 1,894 M at half, 1,879 M at three quarters). Re-hinting a
#: search with its own best plan stays at that plan (530102: 1,894 M again), so the hinted search runs in one piece.
UNHINTED_SHARE = 0.25

#: When the unhinted search found no plan in its share, it runs again (the same search, deterministic) on at most this
#: share of the work, stopped at its first plan cheaper than the warm start (:class:`_FirstBelow`), and the hinted search
#: gets what is left: a smaller budget may need that long for the unhinted plan (610116 at ``--time-limit 10``: none at
#: a quarter, 4,451 M at half).
UNHINTED_MAX = 0.5


class _FirstBelow(cp_model.CpSolverSolutionCallback):
    """Stops the search at its first plan whose objective is below ``limit`` (model units). One worker calls it in the
    search's own order, so where it stops is deterministic."""

    def __init__(self, limit: float) -> None:
        super().__init__()
        self.limit = limit

    def on_solution_callback(self) -> None:
        """Stop once a plan is below the limit."""
        if self.objective_value < self.limit:
            self.stop_search()


_Solve = tuple[cp_model.CpSolver, str]


def _search(v: _Vars, limits: SolveLimits, prob: LayoutProblem, warm: tuple[_Plan, float] | None) -> tuple[list[_Solve], float]:
    """CP-SAT without a hint on :data:`UNHINTED_SHARE` of the work (when that finds no plan, again on up to
    :data:`UNHINTED_MAX` until its first plan cheaper than the warm start), then hinted with the warm start ``warm``
    (plan, total in yuan) on the work left: the solves with a plan, the cheaper first (the unhinted one on a tie), or
    the last solve alone when none has one; and the higher of the two bounds (model units). Without ``warm``, one
    unhinted solve on the whole work."""
    if warm is None:
        solver, status = _solve(v, limits)
        return [(solver, status)], solver.best_objective_bound
    (opened, classes, assign), total = warm
    first, left = _solve(v, limits, UNHINTED_SHARE), 1.0 - UNHINTED_SHARE
    if first[1] == "UNKNOWN":  # no plan yet: a longer go, up to its first plan that beats the warm start
        first = _solve(v, limits, UNHINTED_MAX, _FirstBelow(total / OBJ_UNIT_YUAN))
        left = _left(first[0].deterministic_time, limits.time_limit_s)
    if first[1] == "OPTIMAL":
        return [first], first[0].best_objective_bound
    _hint(v, (opened, assign, classes), prob)
    second = _solve(v, limits, left)
    found = sorted((got for got in (first, second) if got[1] in ("OPTIMAL", "FEASIBLE")), key=lambda got: got[0].objective_value)
    return found or [second], max(first[0].best_objective_bound, second[0].best_objective_bound)


def _left(used: float, budget: float) -> float:
    """Share of the work ``budget`` (deterministic seconds) left after the unhinted search's first share and its second
    go's ``used``: at least ``1 − UNHINTED_SHARE − UNHINTED_MAX`` (a search may overrun its limit a little)."""
    return max(1.0 - UNHINTED_SHARE - UNHINTED_MAX, 1.0 - UNHINTED_SHARE - used / budget)


def _solve(v: _Vars, limits: SolveLimits, share: float = 1.0, stop: cp_model.CpSolverSolutionCallback | None = None) -> tuple[cp_model.CpSolver, str]:
    """CP-SAT on ``share`` of the work budget, stopped early by ``stop`` if given; the wall-clock safeguard stays the
    whole budget's (a loaded machine must not stop a part of the search sooner than it would the whole)."""
    solver = cp_model.CpSolver()
    p = solver.parameters
    p.random_seed = int(limits.seed)
    p.num_workers = 1  # deterministic by construction
    p.max_deterministic_time = share * float(limits.time_limit_s)
    p.max_time_in_seconds = 10.0 * float(limits.time_limit_s) + 10.0  # safeguard; the deterministic limit stops first
    p.catch_sigint_signal = False
    status = solver.solve(v.model, stop)
    if status == cp_model.INFEASIBLE:
        raise InfeasibleError(
            "no layout fits the class and school-size limits with every child placed",
            hint="raise max_classes of schools near the crowded units, add candidate sites, or allow boarding",
        )
    return solver, solver.status_name(status)


def _extract(v: _Vars, solver: cp_model.CpSolver, shape: tuple[int, ...]) -> tuple[NDArray[np.bool_], NDArray[np.int64], NDArray[np.int64]]:
    """CP-SAT's plan: open schools, classes, each group's school."""
    opened = np.array([solver.boolean_value(o) for o in v.open], dtype=bool)
    classes = np.zeros((len(opened), 2), dtype=np.int64)
    for (s, lvl), var in v.cls.items():
        classes[s, lvl] = solver.value(var)
    assign = np.full(shape, -1, dtype=np.int64)
    for (i, g, s), var in v.x.items():
        if solver.boolean_value(var):
            assign[i, g] = s
    return opened, classes, assign


def relaxed_bound(prob: LayoutProblem, ok: NDArray[np.bool_], pair_total: NDArray[np.float64], forced: NDArray[np.bool_],
                  options: LayoutOptions) -> float:
    """A lower bound on the total: each group at its cheapest allowed school, the classes the county's children of each
    level fill at least (whole classes), and the running cost of the schools that must stay open."""
    kids = prob.children > 0
    pairs = float(np.where(kids, np.where(ok, pair_total, np.inf).min(axis=2), 0.0).sum())
    h = options.horizon_years
    classes = 0.0
    for lvl in range(2):
        n = prob.children[:, [g for g in range(3) if GROUP_LEVEL[g] == lvl]].sum()
        classes += math.ceil(n / options.class_size(lvl)) * options.class_yuan_year(lvl)
    return pairs + h * (classes + options.school_yuan_year * float((forced & prob.existing).sum()))


def _costs(prob: LayoutProblem, plan: tuple[NDArray[np.bool_], NDArray[np.int64], NDArray[np.int64]], cost_parts: tuple[NDArray[np.float64], ...],
           options: LayoutOptions) -> dict[str, float]:
    """Yuan by kind: one-off construction, and the yearly costs."""
    opened, classes, assign = plan
    bus_y, board_y, travel_y = cost_parts
    new = np.maximum(classes - prob.classes_now, 0)
    pick = assign >= 0
    i, g = np.nonzero(pick)
    s = assign[pick]
    return {
        "construction": float((new.sum(axis=0) * options.construction_yuan_per_class).sum() + NEW_SITE_YUAN * (opened & ~prob.existing).sum()),
        "schools": float(options.school_yuan_year * opened.sum()),
        "classes": float(classes[:, 0].sum() * options.class_yuan_year_primary + classes[:, 1].sum() * options.class_yuan_year_junior),
        "bus": float(bus_y[i, g, s].sum()),
        "boarding": float(board_y[i, g, s].sum()),
        "travel": float(travel_y[i, g, s].sum()),
    }


def _cost_parts(prob: LayoutProblem, boards: NDArray[np.bool_], options: LayoutOptions) -> tuple[NDArray[np.float64], ...]:
    """``(n, 3, S)`` yearly yuan per pair split into bus, boarding and travel."""
    t = np.where(np.isfinite(prob.travel_s), prob.travel_s, 0.0)[:, None, :]
    kids = prob.children[:, :, None].astype(float)
    allowance = np.array([options.boarding_yuan_primary, options.boarding_yuan_primary, options.boarding_yuan_junior])[None, :, None]
    bus = np.where(~boards & (t > options.bus_from_s), options.bus_yuan_per_child_year, 0.0) * kids
    board = np.where(boards, allowance + options.boarding_care_yuan_per_child_year, 0.0) * kids
    hours = np.where(boards, 2 * t / 3600 * BOARDING_WEEKS_YEAR, 2 * t / 3600 * SCHOOL_DAYS_YEAR)
    escort = np.array([options.escort_factor_lower, 1.0, 1.0])[None, :, None]
    return bus, board, options.travel_yuan_per_hour * hours * kids * escort


def pair_year_yuan(prob: LayoutProblem, boards: NDArray[np.bool_], options: LayoutOptions = _DEFAULT) -> NDArray[np.float64]:
    """``(n, 3, S)`` yearly yuan of each unit's group at each school (bus, boarding and travel, as in the objective) when
    ``boards`` says where the group boards (:mod:`planning.layout.reasons` weighs a merger with it)."""
    bus, board, travel = _cost_parts(prob, boards, options)
    return bus + board + travel


def _decide(prob: LayoutProblem, s: int, plan: tuple[NDArray[np.bool_], NDArray[np.int64], NDArray[np.int64]], now: NDArray[np.int64],
            why: dict[int, str], options: LayoutOptions) -> SchoolDecision:
    """The decision on school ``s`` and its reason."""
    opened, classes, assign = plan
    before = (int(prob.classes_now[s, 0]), int(prob.classes_now[s, 1]))
    after = (int(classes[s, 0]), int(classes[s, 1]))
    built = float(np.maximum(classes[s] - prob.classes_now[s], 0).sum() * options.construction_yuan_per_class)
    into = None
    if not prob.existing[s]:
        kind: Decision = "new" if opened[s] else "not built"
        built += NEW_SITE_YUAN if opened[s] else 0.0
    elif opened[s]:
        kind = "expand" if sum(after) > sum(before) else "shrink" if sum(after) < sum(before) else "keep"
    else:
        moved = assign[(now == s) & (assign >= 0)]
        kind = "merge" if len(moved) else "close"
        if len(moved):
            weights = np.bincount(moved, weights=prob.children[now == s][assign[now == s] >= 0], minlength=len(opened))
            into = int(np.argmax(weights))
    reason = why.get(s, "")
    if kind == "expand":  # why it grows says more than why it stays open
        size = (options.class_size_primary, options.class_size_junior)
        reason = WHY_EXPAND.format(k=sum(after) - sum(before), n=int(prob.children[assign == s].sum()), now=int(pupils_today(prob, size)[s]))
    return SchoolDecision(s, kind, before, after, into, built, reason)


_Prepared = tuple[LayoutProblem, LayoutOptions, NDArray[np.bool_], NDArray[np.bool_], NDArray[np.bool_], NDArray[np.int64]]


def _prepare(prob: LayoutProblem, options: LayoutOptions) -> tuple[_Prepared, NDArray[np.bool_], tuple[Shortfall, ...]]:
    """The problem and options solved (:func:`_serve_as_far_as_possible`), allowed pairs (limits, nearest beyond them, merge
    rule, nearest schools), boarding pairs, groups beyond, today's schools; the groups left unplaced and the shortfalls."""
    ok, boards = allowed_pairs(prob, options)
    beyond = nearest_beyond(prob, ok) if options.beyond_limits == "nearest" else np.zeros(prob.children.shape, dtype=bool)
    _allow_nearest(prob, ok, boards, beyond)
    prob, options, unserved, short = _serve_as_far_as_possible(prob, ok, options)
    now = current_schools(prob, ok)
    return (prob, options, _nearest_only(prob, ok, now), boards, beyond, now), unserved, short


def plan_layout(prob: LayoutProblem, *, options: LayoutOptions = _DEFAULT, limits: SolveLimits | None = None) -> LayoutPlan:
    """Solve the layout model (module docstring) for one target year.

    Raises
    ------
    InfeasibleError
        With ``beyond_limits = "error"``: children no school may take within the travel limits, or a level
        short of places (said before solving; otherwise the plan lists them in ``shortfalls``); in any
        mode, no layout within the class and size limits.
    SolverError
        No layout found within the time limit, and no warm start either.
    """
    limits = limits or SolveLimits()
    (prob, options, ok, boards, beyond, now), unserved, short = _prepare(prob, options)
    why = _kept(prob, ok, options)
    forced = np.isin(np.arange(len(prob.existing)), list(why))
    if options.day_pupils_first:
        ok = ok & ~day_first(ok, boards, forced, beyond)
    parts = _cost_parts(prob, boards, options)
    pair_year = parts[0] + parts[1] + parts[2]
    up = merge_pairs(prob, now, options)
    w = WarmStart(prob, ok, options.horizon_years * pair_year, up, now)
    warm_total, warm = _warm(w, forced, options)
    v = _build(prob, ok, pair_year, forced, options, (up, now))
    solves, cp_best = _search(v, limits, prob, (warm, warm_total) if math.isfinite(warm_total) else None)
    lower = relaxed_bound(prob, ok, w.pair_total, forced, options)
    slack = 0.5 * OBJ_UNIT_YUAN * (len(v.x) + 3 * len(v.open))  # rounding of each term to whole units
    cp_bound = cp_best * OBJ_UNIT_YUAN - slack
    plans = [(_extract(v, solver, prob.children.shape), st) for solver, st in solves if st in ("OPTIMAL", "FEASIBLE")]
    if math.isfinite(warm_total) and not (plans and plans[0][1] == "OPTIMAL"):
        plans.append((warm, "WARM_START"))
    if not plans:
        raise SolverError(f"CP-SAT stopped with status {solves[-1][1]} and no layout, and the warm start found none; raise the time limit")
    plan, costs, total, status = _cheapest(w, forced, plans[:1] if plans[0][1] == "OPTIMAL" else plans, parts, options)
    plan, costs, total, built = _worth_building(w, (plan, costs, total), parts, options)
    why = why | built
    bound = min(total, max(lower, cp_bound if math.isfinite(cp_bound) else -math.inf))
    done = _finish(prob, plan, (now, boards, beyond), why, (costs, total, bound, status), options)
    return dataclasses.replace(done, unserved=unserved, shortfalls=short)


def _finish(prob: LayoutProblem, plan: tuple[NDArray[np.bool_], NDArray[np.int64], NDArray[np.int64]],
            state: tuple[NDArray[np.int64], NDArray[np.bool_], NDArray[np.bool_]], why: dict[int, str],
            result: tuple[dict[str, float], float, float, str], options: LayoutOptions) -> LayoutPlan:
    """The :class:`LayoutPlan` of ``plan``: boarders, bus riders, decisions, gap."""
    opened, classes, assign = plan
    now, boards, beyond = state
    costs, total, bound, status = result
    pick = assign >= 0
    boarder = np.zeros_like(pick)
    boarder[pick] = boards[(*np.nonzero(pick), assign[pick])]
    trip = prob.travel_s[np.arange(len(assign))[:, None], np.maximum(assign, 0)]
    bus = pick & ~boarder & (trip > options.bus_from_s)
    far = np.where(boarder, trip > options.boarding_max_s, trip > options.day_max_s)  # a built site may bring them within
    decisions = tuple(_decide(prob, s, plan, now, why, options) for s in range(len(opened)))
    gap = 0.0 if status == "OPTIMAL" else (total - bound) / max(abs(total), 1.0)
    return LayoutPlan(opened, classes, assign, boarder, bus, beyond & pick & far, now, decisions, costs, total, bound, gap, status)
