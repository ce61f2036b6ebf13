"""Why the plan does what it does with each school: the reason a planner signs, built from the plan's own figures.

The hearing (听证, 国办发〔2012〕48号) asks of every school why it closes, stays or changes. :func:`explain` answers
per school and site of a :class:`~planning.layout.model.LayoutPlan` with a :class:`Reason` — clauses, each a key
and its figures — and :func:`reason_text` writes it in Chinese or English with the schools' names and the plan year:

- **merge**: pupils today and in the plan year, the receiving school, the longest one-way trip of the children moved,
  how many ride a school bus and how many board, the children sent elsewhere, and what the merger saves over the
  horizon against keeping the school with its own children, all else equal: its running cost, its classes (teachers)
  and any class it would have to build, less the classes the receiving schools add and the children's buses,
  boarding and travel time (the costs of :mod:`planning.layout.options`).
- **close**: no child counts it as their school in the plan year; its running cost and minimum classes saved.
- **keep / shrink / expand**: the rule that keeps it (the bureau, a teaching point remote children need, a township or
  county-seat school, a school of ``close_below_pupils`` or more), else why the plan does not merge it: children with no
  other school within the limits, keeping it costs less than sending its children to their cheapest other school,
  or the quarter of schools that may close (``max_close_share``) is used up; then the children of the plan year and
  the classes before and after.
- **new / not built**: the figures of :mod:`planning.layout.worth`, or the children who live within the day limit of
  a site not built and go to today's schools.

Pure: arrays in, reasons out; nothing here changes a plan.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from planning.layout.model import WHY_BUREAU, WHY_LARGE, WHY_POINT, WHY_TOWN, LayoutPlan, allowed_pairs, close_limit, merge_pairs, pair_year_yuan
from planning.layout.options import LayoutOptions
from planning.layout.problem import GROUP_LEVEL, LayoutProblem, min_classes, pupils_today
from planning.layout.worth import WHY_NEW_CHEAPER, WHY_NEW_NEEDED

Language = Literal["zh", "en"]
Figure = int | str
Clause = tuple[str, tuple[tuple[str, Figure], ...]]


@dataclass(frozen=True)
class Reason:
    """The reason of one school or site: clauses in order, each a key of :data:`TEXT` and its figures (money in yuan;
    ``into``: the index of the receiving school)."""

    clauses: tuple[Clause, ...]

    def keys(self) -> tuple[str, ...]:
        """The clauses' keys."""
        return tuple(k for k, _ in self.clauses)

    def figures(self, key: str) -> dict[str, Figure]:
        """The figures of the first clause ``key`` (empty when there is none)."""
        return next((dict(f) for k, f in self.clauses if k == key), {})


#: Each clause in Chinese and English. ``{yr}`` is the plan year ("2034 年" / "in 2034"), ``{money}`` yuan in words.
TEXT: Mapping[str, tuple[str, str]] = {
    "pupils": ("在校 {pupils:,} 人", "{pupils:,} pupils today"),
    "planned": ("{yr}预计 {kids:,} 人", "{kids:,} expected {yr}"),
    "planned_today": ("按现有生源 {kids:,} 人", "{kids:,} planned (today's children)"),
    "merge": ("并入{into}（单程最远 {far} 分钟，{bus:,} 人乘校车，{board:,} 人寄宿）",
              "merges into {into} (at most {far} min one way, {bus:,} by school bus, {board:,} board)"),
    "merge_part": ("并入{into}（{n:,} 人，单程最远 {far} 分钟）", "merges into {into} ({n:,} children, at most {far} min one way)"),
    "merge_rest": ("另 {rest:,} 人到其他 {others} 所学校（单程最远 {far} 分钟）",
                   "{rest:,} more go to {others} other schools (at most {far} min)"),
    "moved": ("共 {bus:,} 人乘校车，{board:,} 人寄宿", "{bus:,} by school bus and {board:,} boarding in all"),
    "saves": ("与保留相比 {h} 年节省 {money}（运行与教师费用，扣除校车、寄宿和路途）",
              "saves {money} over {h} years against keeping it (running and teachers, less buses, boarding and travel)"),
    "costs_more": ("与保留相比 {h} 年多支出 {money}", "costs {money} more over {h} years than keeping it"),
    "close": ("{yr}没有儿童以它为现就读学校，停办，{h} 年节省运行与教师费用 {money}",
              "no child counts it as their school {yr}: closes, saving {money} of running and teachers over {h} years"),
    "bureau": ("教育局确定保留", "kept by the bureau"),
    "point": ("教学点：部分一至三年级儿童走读 {day} 分钟内唯一的学校，保留",
              "teaching point: the only school within {day} min for some children of grades 1-3, kept"),
    "town": ("乡镇或县城学校，按规则保留", "township or county-seat school: kept by the rules"),
    "large": ("在校生不少于 {below:,} 人，按规则保留", "{below:,} pupils or more today: kept by the rules"),
    "remote": ("按政策时限和撤并规则，{n:,} 名儿童没有其他可去的学校，保留",
               "{n:,} children have no other school within the limits and the merge rules: kept"),
    "cheaper": ("保留比撤并 {h} 年省 {money}（撤并后 {bus:,} 人须乘校车，{board:,} 人须寄宿）",
                "keeping it costs {money} less over {h} years than merging ({bus:,} would ride a bus, {board:,} board)"),
    "cap": ("撤并 {h} 年可省 {money}，但本期撤并已达上限（已撤并 {closed} 所，上限 {share}%），保留",
            "merging would save {money} over {h} years, but the plan's closures are at their cap ({closed} schools, at most {share}%): kept"),
    "not_merged": ("按费用估算撤并 {h} 年可省 {money}，本方案未撤并（可在后续调整中研究）",
                   "merging would save about {money} over {h} years by the plan's costs; the plan keeps it (worth a look)"),
    "classes": ("班级 {a} → {b}", "classes {a} → {b}"),
    "classes_both": ("小学班级 {a} → {b}，初中班级 {c} → {d}", "primary classes {a} → {b}, junior {c} → {d}"),
    "expand": ("扩建 {k} 个班", "{k} classes added"),
    "new_cheaper": ("新建，接收 {n:,} 名儿童：不建则 {h} 年总费用多 {money}",
                    "new school for {n:,} children: without it the plan costs {money} more over {h} years"),
    "new_needed": ("新建，接收 {n:,} 名儿童：政策时限内的现有学校容纳不下他们",
                   "new school for {n:,} children: the schools within the limits have no room for them"),
    "not_built": ("候选校址，不建：走读 {day} 分钟内的 {n:,} 名儿童由现有学校接收",
                  "candidate site, not built: the {n:,} children within {day} min go to today's schools"),
}
#: How the clauses join.
JOIN: Mapping[str, str] = {"zh": "，", "en": "; "}


def money_text(amount: float, lang: Language) -> str:
    """Yuan in words a reason uses: 亿元 / 万元 (three significant figures), or M yuan."""
    a = abs(amount)
    if lang == "en":
        return f"{amount / 1e6:,.2f} M yuan" if a >= 1e5 else f"{amount:,.0f} yuan"
    for scale, unit in ((1e8, "亿元"), (1e4, "万元")):
        if a >= scale:
            v = amount / scale
            return f"{v:,.{0 if abs(v) >= 100 else 1 if abs(v) >= 10 else 2}f} {unit}"
    return f"{amount:,.0f} 元"


def reason_text(reason: Reason, lang: Language, *, names: Sequence[str], year: int) -> str:
    """``reason`` in ``lang``: schools by ``names`` (index → name), ``{yr}`` the plan year (0: today's children)."""
    pick = 0 if lang == "zh" else 1
    yr = (f"{year} 年" if lang == "zh" else f"in {year}") if year else ("现状" if lang == "zh" else "today")
    out = []
    for name, figs in reason.clauses:
        f: dict[str, object] = dict(figs)
        if "money" in f:
            f["money"] = money_text(float(f["money"]), lang)  # type: ignore[arg-type]
        if "into" in f:
            f["into"] = names[int(f["into"])]  # type: ignore[call-overload]
        key = "planned_today" if name == "planned" and not year else name
        out.append(TEXT[key][pick].format(yr=yr, **f))
    return JOIN[lang].join(out)


@dataclass(frozen=True)
class _Evidence:
    """What every reason reads, computed once: the plan, each pair's yearly yuan, allowed pairs, loads and classes."""

    prob: LayoutProblem
    plan: LayoutPlan
    options: LayoutOptions
    pair: NDArray[np.float64]  # (n, 3, S) yearly yuan of a group at a school (bus, boarding, travel)
    ok: NDArray[np.bool_]  # (n, 3, S) allowed within the limits
    up: NDArray[np.bool_]  # (n, 3, S) allowed even when today's school closes
    load: NDArray[np.float64]  # (S, 2) pupils per school and level in the plan
    low: NDArray[np.int64]  # (S, 2) fewest classes of an open school
    kids: NDArray[np.int64]  # (n, 3) children placed by the plan (0 where not placed)


def _evidence(prob: LayoutProblem, plan: LayoutPlan, options: LayoutOptions) -> _Evidence:
    ok, boards = allowed_pairs(prob, options)
    placed = plan.assign >= 0
    i, g = np.nonzero(placed)
    boards[i, g, plan.assign[placed]] = plan.boarder[placed]  # the plan's own (a group beyond the limits may board)
    kids = np.where(placed, prob.children, 0).astype(np.int64)
    load = np.zeros((len(prob.existing), 2))
    for grp, lvl in enumerate(GROUP_LEVEL):
        np.add.at(load[:, lvl], np.maximum(plan.assign[:, grp], 0), kids[:, grp])
    low = min_classes(prob, (options.min_classes_primary, options.min_classes_junior))
    return _Evidence(prob, plan, options, pair_year_yuan(prob, boards, options), ok, merge_pairs(prob, plan.today, options), load, low, kids)


def _need(ev: _Evidence, s: int, lvl: int, pupils: float) -> int:
    """Classes school ``s`` needs for ``pupils`` of level ``lvl`` when open: whole classes, at least its minimum."""
    if not ev.prob.levels[s, lvl]:
        return 0
    return max(math.ceil(pupils / ev.options.class_size(lvl) - 1e-9), int(ev.low[s, lvl]))


def _classes_yuan(ev: _Evidence, s: int, lvl: int, before: int, after: int) -> float:
    """Over the horizon: the teachers of ``after − before`` classes at ``s``, and the classes to build beyond today's."""
    o, now = ev.options, int(ev.prob.classes_now[s, lvl])
    built = max(after - now, 0) - max(before - now, 0)
    return o.horizon_years * o.class_yuan_year(lvl) * (after - before) + o.construction_yuan_per_class * built


def _move_cost(ev: _Evidence, groups: NDArray[np.int64], dest: NDArray[np.int64], home: int) -> float:
    """Over the horizon, what sending ``groups`` (rows ``i, g``) to ``dest`` costs beyond keeping ``home`` open with these
    groups as its only pupils: the classes the destinations add and the pairs' yearly yuan, less the running cost of
    ``home`` and the classes it would need (teachers, and building beyond today's)."""
    o, h = ev.options, ev.options.horizon_years
    i, g = groups[:, 0], groups[:, 1]
    k = ev.kids[i, g].astype(float)
    home_pair = np.where(np.isfinite(ev.pair[i, g, home]), ev.pair[i, g, home], 0.0)
    total = h * float((ev.pair[i, g, dest] - home_pair).sum())
    lvls = np.array(GROUP_LEVEL)[g]
    there = ev.plan.assign[i, g] == dest  # already at the destination in the plan (a merger), else still at home
    for lvl in (0, 1):
        mine = lvls == lvl
        for r in np.unique(dest[mine]):
            to_r = mine & (dest == r)
            base = float(ev.load[r, lvl] - k[to_r & there].sum())
            total += _classes_yuan(ev, int(r), lvl, _need(ev, int(r), lvl, base), _need(ev, int(r), lvl, base + float(k[to_r].sum())))
        total -= _classes_yuan(ev, home, lvl, 0, _need(ev, home, lvl, float(k[mine].sum())))
    return total - h * o.school_yuan_year


def _merge(ev: _Evidence, s: int, into: int) -> list[Clause]:
    """The clauses of a merged school: where its children go, how far, bus and boarding, what the merger saves."""
    p = ev.plan
    groups = np.argwhere((p.today == s) & (p.assign >= 0) & (ev.kids > 0))
    i, g = groups[:, 0], groups[:, 1]
    dest = p.assign[i, g]
    k = ev.kids[i, g]
    trip = np.nan_to_num(ev.prob.travel_s[i, dest] / 60, posinf=0.0)
    far = lambda m: round(float(trip[m].max())) if m.any() else 0  # noqa: E731
    main, bus, board = dest == into, int(k[p.bus[i, g]].sum()), int(k[p.boarder[i, g]].sum())
    if main.all():  # one receiving school: a single clause
        out: list[Clause] = [("merge", (("into", into), ("far", far(main)), ("bus", bus), ("board", board)))]
    else:
        out = [("merge_part", (("into", into), ("n", int(k[main].sum())), ("far", far(main)))),
               ("merge_rest", (("rest", int(k[~main].sum())), ("others", len(set(dest[~main].tolist()))), ("far", far(~main)))),
               ("moved", (("bus", bus), ("board", board)))]
    saved = -_move_cost(ev, groups, dest, s)
    out.append(("saves" if saved >= 0 else "costs_more", (("h", ev.options.horizon_years), ("money", round(abs(saved))))))
    return out


def _why_not_merged(ev: _Evidence, s: int) -> list[Clause]:
    """Why a school no rule keeps stays open: children with nowhere else to go, keeping it is cheaper, the closing cap."""
    p, h = ev.plan, ev.options.horizon_years
    groups = np.argwhere((p.assign == s) & (ev.kids > 0))
    if not len(groups):
        return []
    i, g = groups[:, 0], groups[:, 1]
    stays = (p.today[i, g] >= 0) & (p.today[i, g] != s) & p.open[np.maximum(p.today[i, g], 0)]
    other = ev.ok[i, g] & p.open[None, :] & (ev.up[i, g] | stays[:, None])
    other[:, s] = False
    lost = ~other.any(axis=1)
    if lost.any():
        return [("remote", (("n", int(ev.kids[i[lost], g[lost]].sum())),))]
    dest = np.argmin(np.where(other, ev.pair[i, g], np.inf), axis=1)
    saved = -_move_cost(ev, groups, dest, s)
    k = ev.kids[i, g]
    pb = ev.prob.travel_s[i, dest] > ev.options.bus_from_s
    board = ev.prob.boarding[dest] & (ev.prob.travel_s[i, dest] > ev.options.day_max_s)
    if saved <= 0:
        figs = (("h", h), ("money", round(-saved)), ("bus", int(k[pb & ~board].sum())), ("board", int(k[board].sum())))
        return [("cheaper", figs)]
    closed = int((ev.prob.existing & ~p.open).sum())
    if closed >= close_limit(ev.prob, ev.options):
        share = round(100 * ev.options.max_close_share)
        return [("cap", (("h", h), ("money", round(saved)), ("closed", closed), ("share", share)))]
    return [("not_merged", (("h", h), ("money", round(saved))))]


_RULES = {WHY_BUREAU: "bureau", WHY_POINT: "point", WHY_TOWN: "town", WHY_LARGE: "large"}


def _pattern(template: str) -> re.Pattern[str]:
    return re.compile(re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>-?\\d+)", re.escape(template)))


_NEW = ((_pattern(WHY_NEW_CHEAPER), "new_cheaper"), (_pattern(WHY_NEW_NEEDED), "new_needed"))


def _site(ev: _Evidence, s: int, rule: str) -> list[Clause]:
    """A candidate site: built (its reason from :mod:`planning.layout.worth`) or not (the children near it)."""
    for pattern, key in _NEW:
        hit = pattern.fullmatch(rule)
        if hit:
            f = {k: int(v) for k, v in hit.groupdict().items()}
            figs: list[tuple[str, Figure]] = [("n", f["n"])]
            if "more" in f:
                figs += [("h", f["years"]), ("money", f["more"])]
            return [(key, tuple(figs))]
    if ev.plan.open[s]:
        return []
    day = ev.prob.travel_s[:, s] <= ev.options.day_max_s
    lvl_groups = [g for g in range(3) if ev.prob.levels[s, GROUP_LEVEL[g]]]
    n = int(ev.kids[day][:, lvl_groups].sum()) if lvl_groups else 0
    return [("not_built", (("n", n), ("day", round(ev.options.day_max_s / 60))))]


def _school(ev: _Evidence, s: int) -> Reason:
    """The reason of school or site ``s`` (module docstring)."""
    prob, p, d = ev.prob, ev.plan, ev.plan.decisions[s]
    if not prob.existing[s]:
        return Reason(tuple(_site(ev, s, d.reason)))
    pupils = int(pupils_today(prob, (ev.options.class_size_primary, ev.options.class_size_junior))[s])
    out: list[Clause] = [("pupils", (("pupils", pupils),))]
    h = ev.options.horizon_years
    if d.decision == "close":
        cost = h * (ev.options.school_yuan_year + sum(ev.options.class_yuan_year(lvl) * _need(ev, s, lvl, 0.0) for lvl in (0, 1)))
        return Reason((*out, ("close", (("h", h), ("money", round(cost))))))
    if d.decision == "merge":
        planned = int(ev.kids[p.today == s].sum())
        return Reason((*out, ("planned", (("kids", planned),)), *_merge(ev, s, int(d.merged_into if d.merged_into is not None else 0))))
    out.append(("planned", (("kids", int(ev.kids[p.assign == s].sum())),)))
    rule = _RULES.get(d.reason)
    if rule == "point":
        out.append(("point", (("day", round(ev.options.day_max_s / 60)),)))
    elif rule == "large":
        out.append(("large", (("below", ev.options.close_below_pupils),)))
    elif rule:
        out.append((rule, ()))
    elif d.decision != "expand":
        out += _why_not_merged(ev, s)
    if d.decision == "expand":
        out.append(("expand", (("k", sum(d.classes_after) - sum(d.classes_before)),)))
    if d.decision != "keep":
        (a, c), (b, e) = d.classes_before, d.classes_after
        both = bool(prob.levels[s].all())
        out.append(("classes_both", (("a", a), ("b", b), ("c", c), ("d", e))) if both else ("classes", (("a", a + c), ("b", b + e))))
    return Reason(tuple(out))


def explain(prob: LayoutProblem, plan: LayoutPlan, options: LayoutOptions) -> tuple[Reason, ...]:
    """The reason of every school and site of ``plan`` (module docstring), in the order of ``plan.decisions``.

    Parameters
    ----------
    prob
        The instance the plan was made for.
    plan
        :func:`~planning.layout.model.plan_layout`'s plan.
    options
        The options it was made with.

    Returns
    -------
    tuple of Reason
        One per school and site; write them with :func:`reason_text`.
    """
    ev = _evidence(prob, plan, options)
    return tuple(_school(ev, s) for s in range(len(plan.decisions)))


__all__ = ["JOIN", "TEXT", "Reason", "explain", "money_text", "reason_text"]
