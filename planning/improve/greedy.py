"""Constructive plans: the bureau's by-hand baseline and the repair that makes any plan pass the CV tests.

:func:`fix_schools` is "the cheapest fix per school until its standards are met": each part
is brought to 85 % of every standard and to 100 % of all but the one whose last 15 % costs
most. :func:`repair_cv` then adds, one unit at a time, the unit that lowers a failing CV the
most per yuan, until every CV test passes. Together they are :func:`greedy_plan`, the
benchmark's baseline and the exact model's first incumbent.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from planning.improve.problem import CvGroup, ImproveProblem, SchoolRules, cv_groups, school_rules

#: Most single-unit steps of :func:`repair_cv` (a guard; a county needs far fewer).
MAX_REPAIR_STEPS = 200_000


@dataclass(frozen=True)
class GreedyPlan:
    """A constructive plan.

    Attributes
    ----------
    units
        ``(n_vars,)`` units of each decision.
    cost
        Total cost, yuan.
    schools_units
        Units after the per-school fix alone (before the CV repair), and its ``schools_cost``.
    passes
        Every rule and CV test passes (verified exactly); ``False`` when a cap stopped it.
    """

    units: NDArray[np.int64]
    cost: int
    schools_units: NDArray[np.int64]
    schools_cost: int
    passes: bool


def room(prob: ImproveProblem, u: NDArray[np.int64]) -> NDArray[np.int64]:
    """Units each decision may still take: its bound, and every side row with a positive coefficient."""
    out = (prob.var_ub - u).astype(np.int64)
    if prob.side.shape[0]:
        coo = prob.side.tocoo()
        slack = prob.side_rhs - prob.side @ u
        pos = coo.data > 0
        lim = np.floor(slack[coo.row[pos]] / coo.data[pos] + 1e-9).astype(np.int64)
        np.minimum.at(out, coo.col[pos], lim)
    return np.maximum(out, 0)


def _cheapest(cols: NDArray[np.int64], prob: ImproveProblem, free: NDArray[np.int64]) -> int:
    """The cheapest of ``cols`` with room ``free`` left (-1 when none)."""
    open_ = cols[free[cols] > 0]
    if len(open_) == 0:
        return -1
    return int(open_[np.argmin(prob.var_cost[open_])])


def _raise_row(prob: ImproveProblem, rules: SchoolRules, r: int, target: int, u: NDArray[np.int64]) -> bool:
    """Add units to row ``r``'s cheapest decisions until its units reach ``target``; ``False`` if capped (side limits kept)."""
    cols = rules.cols[r]
    short = target - int(u[cols].sum())
    while short > 0:
        free = room(prob, u)
        j = _cheapest(cols, prob, free)
        if j < 0:
            return False
        add = min(short, int(free[j]))
        u[j] += add
        short -= add
    return True


def fix_schools(prob: ImproveProblem, rules: SchoolRules | None = None) -> tuple[NDArray[np.int64], bool]:
    """Cheapest fix per part: every standard to 85 %, all but the costliest last step to 100 %.

    Returns
    -------
    units, ok
        Units of each decision (respecting ``var_ub``) and whether every part's rule is met.
    """
    rules = rules or school_rules(prob)
    u = np.zeros(prob.n_vars, dtype=np.int64)
    ok = True
    # rows with one decision first: a shared decision (a PE hire that also counts as qualified)
    # is then bought for its own row before the row it also serves
    order = sorted(range(len(rules.part)), key=lambda r: (len(rules.cols[r]), int(rules.part[r]), int(rules.indicator[r])))
    for part in np.unique(rules.part):
        rows = [r for r in order if rules.part[r] == part]
        # the standard left at 85 %: the one whose last 15 % costs most (and any that cannot reach 100 %)
        extra = [
            (rules.need100[r] - rules.need85[r]) * (prob.var_cost[rules.cols[r]].min() if len(rules.cols[r]) else 0)
            if rules.cap[r] >= rules.need100[r]
            else np.inf
            for r in rows
        ]
        n_exempt = int(rules.exempt[part])
        exempt = set(np.argsort(-np.asarray(extra, dtype=np.float64), kind="stable")[:n_exempt].tolist())
        for pos, r in enumerate(rows):
            target = rules.need85[r] if pos in exempt else rules.need100[r]
            ok &= _raise_row(prob, rules, r, int(target), u)
    return u, ok


def _best_step(group: CvGroup, r: NDArray[np.float64], u: NDArray[np.int64], prob: ImproveProblem) -> int:
    """The decision whose next unit lowers ``f`` of ``group`` the most per yuan (-1: none lowers it)."""
    g = group.coo
    if g.nnz == 0:
        return -1
    free = room(prob, u)  # side limits kept (hires per school, backbone candidates, the training limit)
    p = group.pupils
    big_p = float(p.sum())
    c = 1.0 + group.tau**2
    total = float(r.sum())
    if total <= 0:  # no resource anywhere (the CV is undefined): the cheapest unit first
        cols = np.unique(g.col)
        cols = cols[free[cols] > 0]
        return int(cols[np.argmin(prob.var_cost[cols])]) if len(cols) else -1
    e = g.data
    ri, pi = r[g.row], p[g.row]
    df = e * (2 * ri / pi - 2 * c * total / big_p) + e * e * (1 / pi - c / big_p)
    # a decision may reach several parts of the group (never in practice: one part per level)
    delta = np.zeros(prob.n_vars)
    np.add.at(delta, g.col, df)
    cols = np.unique(g.col)
    cols = cols[(free[cols] > 0) & (delta[cols] < 0)]
    if len(cols) == 0:
        return -1
    score = delta[cols] / np.maximum(prob.var_cost[cols], 1)
    return int(cols[np.argmin(score)])


def repair_cv(prob: ImproveProblem, units: NDArray[np.int64], groups: list[CvGroup] | None = None) -> tuple[NDArray[np.int64], bool]:
    """Add units until every CV test passes, the unit that lowers a failing CV most per yuan first.

    Units are only added, so the per-school rule stays met. Returns the units and whether every
    test passes (``False`` when the caps leave no unit that lowers a failing CV).
    """
    groups = cv_groups(prob) if groups is None else groups
    u = np.asarray(units, dtype=np.int64).copy()
    steps = 0
    while steps < MAX_REPAIR_STEPS:
        failing = [g for g in groups if not g.passes(u)]
        if not failing:
            return u, True
        # the test furthest from its threshold first, until it passes (a facility unit at a
        # nine-year school also moves the other level's test: the outer loop checks them all again)
        worst = max(failing, key=lambda g: (g.cv(u) - g.tau) / g.tau)
        while not worst.passes(u) and steps < MAX_REPAIR_STEPS:
            j = _best_step(worst, worst.amounts(u), u, prob)
            if j < 0:
                return u, False
            u[j] += 1
            steps += 1
    return u, False


def greedy_plan(prob: ImproveProblem, rules: SchoolRules | None = None, groups: list[CvGroup] | None = None) -> GreedyPlan:
    """The per-school fix followed by the CV repair of ``groups`` (default: every test; see the module docstring)."""
    rules = school_rules(prob) if rules is None else rules
    first, ok = fix_schools(prob, rules)
    u, cv_ok = repair_cv(prob, first, groups)
    side_ok = bool((prob.side @ u <= prob.side_rhs + 1e-9).all()) if prob.side.shape[0] else True
    return GreedyPlan(
        units=u,
        cost=int(prob.var_cost @ u),
        schools_units=first,
        schools_cost=int(prob.var_cost @ first),
        passes=bool(ok and cv_ok and side_ok),
    )


def rule_ok(rules: SchoolRules, u: NDArray[np.int64], part: int) -> bool:
    """Part ``part``'s rule holds under ``u``."""
    mine = np.flatnonzero(rules.part == part)
    have = np.array([int(u[rules.cols[r]].sum()) for r in mine], dtype=np.int64)
    if (have < rules.need85[mine]).any():
        return False
    return int((have < rules.need100[mine]).sum()) <= int(rules.exempt[part])


def drop_units(prob: ImproveProblem, units: NDArray[np.int64], rules: SchoolRules, groups: list[CvGroup]) -> NDArray[np.int64]:
    """Take back units the plan does not need, costliest decision first, while every rule and CV test still holds."""
    u = np.asarray(units, dtype=np.int64).copy()
    has_gain = np.diff(prob.gain.tocsc().indptr) > 0
    rows_of: dict[int, list[int]] = {}
    for r in range(len(rules.part)):
        for j in rules.cols[r]:
            rows_of.setdefault(int(j), []).append(r)
    touches = np.array([g.touches for g in groups], dtype=bool).reshape(len(groups), prob.n_vars)
    touched = [np.flatnonzero(touches[:, j]).tolist() for j in range(prob.n_vars)]
    for j in np.argsort(-prob.var_cost * (u > 0), kind="stable"):
        if u[j] == 0 or not has_gain[j]:
            continue
        parts = {int(rules.part[r]) for r in rows_of.get(int(j), [])}
        while u[j] > 0:
            u[j] -= 1
            if all(rule_ok(rules, u, p) for p in parts) and all(groups[gi].passes(u) for gi in touched[j]):
                continue
            u[j] += 1
            break
    return u
