"""Targets the caps or the budget leave out of reach: the best-effort plan and its shortfalls.

The project's rule: a plan that cannot meet a policy target meets it as far as possible and
lists each shortfall; only ``strict`` stops the run. Here that means, in this lexicographic order:

1. **As many targets met as possible.** The targets are the per-school rules (a part meets 6 of
   its 7 standards, the 7th at ≥ 85 %) and the CV tests (a level and an indicator). A part whose
   rule the caps make impossible (a site too small, the cap on hires, the training limit:
   :func:`~planning.improve.diagnose.diagnose`) still meets every standard it can reach in full;
   a CV test the caps leave out of reach does not hold up the others.
2. **The smallest remaining excesses.** Such a part's blocked standards are raised as far as the
   caps allow (:func:`relax_rules`); an unreachable CV is brought down to the lowest value the caps
   allow (:func:`lowest_cvs`, a descent on the CV, which is pseudoconvex — a ratio of a convex
   norm to the positive total — so the descent's end is the least CV up to the size of one unit).
3. **The least cost** of a plan that does both (the exact model with those relaxed targets).

With a budget ceiling below that least cost (:func:`choose_cvs`, :func:`choose_parts`): first
the most CV tests (each one counts the same; a county passes a level only with all seven), the
cheapest first, which maximises their number when their costs add up; then the most pupils in
schools brought to standard, by an exact knapsack on each part's extra cost from the CV plan;
then the least cost of the chosen targets. What is left is stated: each CV test and school not
brought to standard with what it would cost, and the money the whole plan would need more.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray
from scipy.optimize import Bounds, LinearConstraint, milp

from planning.improve.diagnose import TRAINING_LIMIT, Gap
from planning.improve.greedy import room
from planning.improve.highs import quiet_stdout
from planning.improve.problem import CV_MARGIN, CvGroup, ImproveProblem, SchoolRules, water_fill

#: Most steps of the CV descent (a guard: each step moves one decision to its best amount).
MAX_DESCENT = 20_000
#: Index of the backbone-teacher indicator (the one the yearly training limit caps).
BACKBONE = 1


@dataclass(frozen=True)
class CvShort:
    """A CV test the caps leave out of reach.

    Attributes
    ----------
    level, indicator, tau
        The test and its threshold.
    reached
        The lowest CV the caps allow (what the plan reaches).
    beyond
        ``(part, amount)``: resource beyond the caps at each part that the least raise passing the
        test would need (m², yuan, rooms or teachers), largest first.
    """

    level: int
    indicator: int
    tau: float
    reached: float
    beyond: tuple[tuple[int, float], ...]


@dataclass(frozen=True)
class BudgetChoice:
    """What a budget below the least cost buys, and what it leaves.

    Attributes
    ----------
    budget
        The ceiling, yuan.
    full_cost
        Least cost of the plan that meets every target the caps allow (yuan).
    cv_left
        ``(level, indicator, cost alone)`` of each CV test left failing.
    parts_left
        ``(part, extra cost)`` of each part left below the per-school rule.
    """

    budget: float
    full_cost: int
    cv_left: tuple[tuple[int, int, int], ...]
    parts_left: tuple[tuple[int, int], ...]


def relax_rules(prob: ImproveProblem, rules: SchoolRules, gaps: list[Gap]) -> tuple[SchoolRules, list[Gap]]:
    """The per-school rule as far as the caps allow (step 1 and 2 of the module docstring).

    A training limit below what the rule needs is shared out part by part, the parts needing
    the fewest trainings first (the most schools within the limit; more pupils first on ties); the
    others get none and become gaps of kind :data:`~planning.improve.diagnose.TRAINING_LIMIT`. Every
    gap part must then meet each standard in full where the caps allow and reach its cap elsewhere.
    """
    cap = rules.cap.copy()
    out = [g for g in gaps if g.kind != TRAINING_LIMIT]
    if len(out) < len(gaps):
        row = prob.side_label.index("backbone_per_year")
        left = float(prob.side_rhs[row])
        done = {g.part for g in out}
        # a part already short for other reasons takes its backbone teachers in full (to its cap); the others to 85 %
        want = {r: int(min(rules.cap[r], rules.need100[r])) if int(rules.part[r]) in done else int(rules.need85[r])
                for r in range(len(rules.part)) if rules.indicator[r] == BACKBONE}
        for r in sorted((r for r in want if want[r] > 0), key=lambda r: (want[r], -float(prob.pupils[rules.part[r]]), int(rules.part[r]))):
            if want[r] <= left:
                left -= want[r]
                continue
            i = int(rules.part[r])
            cap[r] = 0
            if i in done:
                continue
            share = float(prob.resource[i, BACKBONE] / prob.need[i, BACKBONE]) if prob.need[i, BACKBONE] > 0 else 1.0
            out.append(Gap(TRAINING_LIMIT, i, (BACKBONE,), (share,), (int(rules.need85[r]),)))
    weak = np.isin(rules.part, [g.part for g in out])
    need = np.where(weak, np.minimum(cap, rules.need100), rules.need85)
    need100 = np.where(weak, need, rules.need100)
    relaxed = SchoolRules(
        part=rules.part, indicator=rules.indicator, units=rules.units, need85=need.astype(np.int64),
        need100=need100.astype(np.int64), cols=rules.cols, cap=cap, exempt=rules.exempt,
    )
    return relaxed, sorted(out, key=lambda g: (g.part, g.kind))


def _line_best(r_i: NDArray[Any], p_i: NDArray[Any], e: NDArray[Any], *, s: float, t: float, big_p: float, top: NDArray[Any]) -> NDArray[np.float64]:
    """Per entry, the whole number of units in ``[1, top]`` that minimises the CV along it (from the stationary point)."""
    a, b, c = s, 2 * r_i * e / p_i, e * e / p_i
    den = 2 * c * t - b * e
    with np.errstate(divide="ignore", invalid="ignore"):
        star = np.where(den > 0, (2 * e * a - b * t) / den, np.inf)
    lo = np.clip(np.floor(star), 1, top)
    hi = np.clip(np.ceil(star), 1, top)

    def cv2(k: NDArray[Any]) -> NDArray[Any]:
        return big_p * (a + b * k + c * k * k) / (t + e * k) ** 2 - 1

    return np.where(cv2(lo) <= cv2(hi), lo, hi)


def _descend(prob: ImproveProblem, g: CvGroup, u: NDArray[np.int64]) -> None:
    """Lower ``g``'s CV one decision at a time (each to its best amount) until it passes or nothing lowers it; ``u`` in place."""
    cols, part, e = g.coo.col, g.coo.row, g.coo.data
    p, big_p = g.pupils, float(g.pupils.sum())
    for _ in range(MAX_DESCENT):
        if g.passes(u) or len(cols) == 0:
            return
        top = room(prob, u)[cols]
        r = g.amounts(u)
        s, t = float(np.dot(r, r / p)), float(r.sum())
        if t <= 0:  # no resource anywhere: the cheapest unit first
            ok = np.flatnonzero(top > 0)
            if len(ok) == 0:
                return
            u[cols[ok[np.argmin(prob.var_cost[cols[ok]])]]] += 1
            continue
        k = _line_best(r[part], p[part], e, s=s, t=t, big_p=big_p, top=np.maximum(top, 1))
        cv2 = big_p * (s + (2 * r[part] * e * k + e * e * k * k) / p[part]) / (t + e * k) ** 2 - 1
        cv2 = np.where(top > 0, cv2, np.inf)
        best = int(np.argmin(cv2))
        if not cv2[best] < big_p * s / t**2 - 1 - 1e-13:
            return
        j, step = int(cols[best]), int(k[best])
        # the fewest units of that step that pass, when some do (no more than the test needs)
        lo, hi = 0, step
        u[j] += step
        if g.passes(u):
            while hi - lo > 1:
                mid = (lo + hi) // 2
                u[j] += mid - step
                passed = g.passes(u)
                u[j] -= mid - step
                lo, hi = (lo, mid) if passed else (mid, hi)
            u[j] += hi - step


def lowest_cvs(prob: ImproveProblem, groups: list[CvGroup], start: NDArray[np.int64]) -> tuple[list[CvGroup], list[CvShort], NDArray[np.int64]]:
    """The CV tests the caps leave out of reach, each brought to the lowest CV they allow (see the module docstring).

    From ``start`` (a plan meeting the per-school rule), each failing test in turn is lowered by
    :func:`_descend`, which only adds units (the rule stays met). Returns the tests with each
    unreachable one's threshold raised to what the plan reaches, the shortfalls, and the plan.
    """
    u = np.asarray(start, dtype=np.int64).copy()
    for g in groups:
        _descend(prob, g, u)
    out, short = [], []
    for g in groups:
        if g.passes(u):
            out.append(g)
            continue
        reached = g.cv(u)
        if np.isfinite(reached):  # (no resource anywhere and none to add: the CV is undefined, the test left out)
            out.append(replace(g, tau=reached + 2 * CV_MARGIN))
        short.append(CvShort(g.level, g.indicator, g.tau, reached, beyond_caps(prob, g, u)))
    return out, short, u


def beyond_caps(prob: ImproveProblem, g: CvGroup, u: NDArray[np.int64]) -> tuple[tuple[int, float], ...]:
    """Resource beyond the caps, part by part, that the least raise passing ``g`` from ``u`` needs (largest first)."""
    r = g.amounts(u)
    need = water_fill(r, g.pupils, g.tau) - r
    coo = g.gain.tocoo()
    can = np.zeros(len(r))
    np.add.at(can, coo.row, coo.data * room(prob, u)[coo.col])
    over = need - can
    idx = [int(i) for i in np.argsort(-over, kind="stable") if over[i] > 1e-9]
    return tuple((int(g.parts[i]), float(over[i])) for i in idx)


def choose_cvs(costs: list[int], budget: float) -> list[int]:
    """Indices of the CV tests to meet: the cheapest first while their costs fit (the most tests when costs add up)."""
    chosen, spent = [], 0
    for i in sorted(range(len(costs)), key=lambda i: (costs[i], i)):
        if spent + costs[i] <= budget:
            chosen.append(i)
            spent += costs[i]
    return sorted(chosen)


def choose_parts(pupils: NDArray[np.float64], costs: NDArray[np.int64], budget: float) -> NDArray[np.bool_]:
    """The parts to bring to standard: most pupils whose extra costs fit in ``budget`` (0/1 knapsack, HiGHS)."""
    n = len(costs)
    if n == 0:
        return np.zeros(0, dtype=bool)
    if costs.sum() <= budget:
        return np.ones(n, dtype=bool)
    a = sp.csr_matrix(costs.astype(np.float64).reshape(1, -1))
    # ties toward fewer yuan: a part's pupils count a hair less the more it costs
    value = pupils - 1e-9 * costs / max(float(costs.max()), 1.0)
    with quiet_stdout():
        res = milp(-value, constraints=LinearConstraint(a, -np.inf, float(budget)), integrality=np.ones(n), bounds=Bounds(0, 1))
    if res.x is None:
        return costs <= 0
    return np.asarray(np.rint(res.x), dtype=bool)


def part_fix(prob: ImproveProblem, rules: SchoolRules, u: NDArray[np.int64], part: int) -> NDArray[np.int64]:
    """Units to add to ``u`` so that ``part`` meets its rule: each standard to its floor, the cheapest to 100 % (greedy)."""
    add = np.zeros(prob.n_vars, dtype=np.int64)
    mine = np.flatnonzero(rules.part == part)
    have = np.array([int(u[rules.cols[r]].sum()) for r in mine], dtype=np.int64)
    extra = []
    for n, r in enumerate(mine):
        price = int(prob.var_cost[rules.cols[r]].min()) if len(rules.cols[r]) else 0
        extra.append(max(0, int(rules.need100[r]) - max(have[n], int(rules.need85[r]))) * price if rules.cap[r] >= rules.need100[r] else np.inf)
    n_exempt = int(rules.exempt[part]) if len(rules.exempt) > part else 0
    exempt = set(np.argsort(-np.asarray(extra, dtype=np.float64), kind="stable")[:n_exempt].tolist())
    for n, r in enumerate(mine):
        target = int(rules.need85[r] if n in exempt else rules.need100[r])
        short = target - have[n]
        cols = rules.cols[r]
        for j in cols[np.argsort(prob.var_cost[cols], kind="stable")]:
            if short <= 0:
                break
            take = min(short, int(prob.var_ub[j] - u[j] - add[j]))
            add[j] += max(take, 0)
            short -= max(take, 0)
    return add


def rules_of(rules: SchoolRules, parts: set[int]) -> SchoolRules:
    """``rules`` restricted to ``parts``."""
    keep = np.flatnonzero(np.isin(rules.part, list(parts)))
    return SchoolRules(
        part=rules.part[keep], indicator=rules.indicator[keep], units=rules.units[keep], need85=rules.need85[keep],
        need100=rules.need100[keep], cols=tuple(rules.cols[r] for r in keep), cap=rules.cap[keep], exempt=rules.exempt,
    )


__all__ = ["BudgetChoice", "CvShort", "beyond_caps", "choose_cvs", "choose_parts", "lowest_cvs", "part_fix", "relax_rules", "room", "rules_of"]
