"""Caps that bind together: the per-school rule as far as the side limits allow all at once.

:func:`~planning.improve.diagnose.diagnose` reads each standard against its own caps. Some caps are
shared: the cap on hires per school is one number for PE/art and above-qualification hires (and for
both parts of a nine-year school), backbone teachers can only be trained from teachers the part has
(hires add candidates), and the training limit is one number for the county. Each standard may then
be reachable on its own and not together with the others.

:func:`meet_jointly` checks a plan that meets every rule without breaking a limit (the per-school fix);
where there is none it solves one small integer model (HiGHS), lexicographically:

1. the most parts meeting their rule (binary ``meet[p]``: ``Σ u ≥ need85 · meet``, ``Σ u ≥ need100 · z``,
   ``Σ z ≥ must · meet``, as in :func:`~planning.improve.model.build_form`);
2. then the largest shares of their standards reached at the others (``y[r] ≤ Σ u``, ``y[r] ≤ need100``,
   each counting ``1 / need100``), every side limit kept.

A part left short becomes a :data:`COUPLED` gap and must reach, standard by standard, what the model
reached there (all achievable together: the model's plan is a witness). The exact least-cost model then
never meets an infeasible set of targets from the rules.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray
from scipy.optimize import Bounds, LinearConstraint, milp

from planning.improve.diagnose import COUPLED, Gap
from planning.improve.greedy import drop_units, fix_schools, rule_ok
from planning.improve.highs import quiet_stdout
from planning.improve.problem import ImproveProblem, SchoolRules

#: Time limit of the joint model, seconds (a few hundred parts solve in well under a second).
JOINT_TIME_S = 60.0


def side_ok(prob: ImproveProblem, u: NDArray[np.int64]) -> bool:
    """``u`` keeps every side limit."""
    return bool((prob.side @ u <= prob.side_rhs + 1e-9).all()) if prob.side.shape[0] else True


def _model(prob: ImproveProblem, rules: SchoolRules) -> tuple[sp.csr_matrix, NDArray[np.float64], NDArray[np.float64], NDArray[np.float64],
                                                             NDArray[np.float64], NDArray[np.float64], list[int]]:
    """Rows, bounds and objective over ``x = [u, meet, z, y]`` (see the module docstring)."""
    n_u, n_r = prob.n_vars, len(rules.part)
    parts = [int(p) for p in np.unique(rules.part)]
    meet_of = {p: n_u + n for n, p in enumerate(parts)}
    z_rows = [r for r in range(n_r) if rules.need100[r] > rules.need85[r] and rules.cap[r] >= rules.need100[r]]
    z_of = {r: n_u + len(parts) + n for n, r in enumerate(z_rows)}
    y0 = n_u + len(parts) + len(z_rows)
    n = y0 + n_r
    rows: list[tuple[list[int], list[float], float, float]] = []
    for r in range(n_r):
        cols = rules.cols[r].tolist()
        ones = [1.0] * len(cols)
        rows.append(([*cols, meet_of[int(rules.part[r])]], [*ones, -float(rules.need85[r])], 0.0, np.inf))
        rows.append(([*cols, y0 + r], [*ones, -1.0], 0.0, np.inf))
        if r in z_of:
            rows.append(([*cols, z_of[r]], [*ones, -float(rules.need100[r])], 0.0, np.inf))
    for p in parts:
        mine = np.flatnonzero(rules.part == p)
        never = int(sum(1 for r in mine if rules.need100[r] > rules.cap[r]))
        choice = [z_of[int(r)] for r in mine if int(r) in z_of]
        must = len(choice) - max(0, int(rules.exempt[p]) - never)
        if choice and must > 0:
            rows.append(([*choice, meet_of[p]], [1.0] * len(choice) + [-float(must)], 0.0, np.inf))
    side = prob.side.tocsr()
    for s in range(side.shape[0]):
        row = side.getrow(s)
        rows.append((row.indices.tolist(), row.data.tolist(), -np.inf, float(prob.side_rhs[s])))
    indptr = np.cumsum([0] + [len(c) for c, _, _, _ in rows])
    a = sp.csr_matrix((np.concatenate([v for _, v, _, _ in rows]), np.concatenate([c for c, _, _, _ in rows]), indptr), shape=(len(rows), n))
    lo, hi = np.array([r[2] for r in rows]), np.array([r[3] for r in rows])
    ub = np.concatenate([prob.var_ub.astype(np.float64), np.ones(len(parts) + len(z_rows)), rules.need100.astype(np.float64)])
    # a part met counts more than every share together (lexicographic); shares as parts of their standard
    cost = np.zeros(n)
    cost[n_u : n_u + len(parts)] = -(n_r + 1.0)
    cost[y0:] = -1.0 / np.maximum(rules.need100, 1)
    return a, lo, hi, ub, cost, np.concatenate([np.ones(n_u + len(parts) + len(z_rows)), np.zeros(n_r)]), parts


def _binding(prob: ImproveProblem, u: NDArray[np.int64], cols: NDArray[np.int64]) -> tuple[str, ...]:
    """Labels of the side limits with no room left that touch ``cols`` (a positive coefficient)."""
    if not prob.side.shape[0]:
        return ()
    side = prob.side.tocsc()[:, cols].tocsr()
    slack = prob.side_rhs - prob.side @ u
    full = [s for s in range(side.shape[0]) if slack[s] < 1 - 1e-9 and (side.getrow(s).data > 0).any()]
    return tuple(sorted({prob.side_label[s].split(":")[0] for s in full}))


def meet_jointly(prob: ImproveProblem, rules: SchoolRules) -> tuple[SchoolRules, list[Gap], NDArray[np.int64]]:
    """The rules as far as the caps allow together, the parts left short, and a plan meeting them (see the module docstring).

    Returns
    -------
    rules, gaps, witness
        ``rules`` with each short part's targets lowered to what it can reach; a :data:`COUPLED` gap per
        such part; units meeting the returned rules within every cap and side limit.
    """
    start, ok = fix_schools(prob, rules)
    if ok and side_ok(prob, start):
        return rules, [], start
    a, lo, hi, ub, cost, integer, parts = _model(prob, rules)
    with quiet_stdout():
        res = milp(cost, constraints=LinearConstraint(a, lo, hi), integrality=integer, bounds=Bounds(0, ub),
                   options={"time_limit": JOINT_TIME_S, "mip_rel_gap": 1e-6})
    # (without a solution, a zero plan: it keeps every limit; this cannot happen short of a solver failure)
    u = np.zeros(prob.n_vars, dtype=np.int64) if res.x is None else np.rint(res.x[: prob.n_vars]).astype(np.int64)
    need85, need100 = rules.need85.copy(), rules.need100.copy()
    gaps = []
    for p in parts:
        if rule_ok(rules, u, p):
            continue
        mine = np.flatnonzero(rules.part == p)
        got = np.array([min(int(u[rules.cols[r]].sum()), int(rules.need100[r])) for r in mine], dtype=np.int64)
        need85[mine] = got
        need100[mine] = got
        low = [n for n, r in enumerate(mine) if got[n] < rules.need100[r]]
        share = tuple(float((prob.resource[p, rules.indicator[mine[n]]] + rules.units[mine[n]] * got[n]) / prob.need[p, rules.indicator[mine[n]]])
                      for n in low)
        cols = np.unique(np.concatenate([rules.cols[r] for r in mine]))
        gaps.append(Gap(COUPLED, p, tuple(int(rules.indicator[mine[n]]) for n in low), share,
                        tuple(int(rules.need100[mine[n]] - got[n]) for n in low), _binding(prob, u, cols)))
    out = SchoolRules(part=rules.part, indicator=rules.indicator, units=rules.units, need85=need85, need100=need100,
                      cols=rules.cols, cap=rules.cap, exempt=rules.exempt)
    # the model has no costs: units no target needs are taken back (unless that breaks a side limit: a hire frees a candidate)
    lean = drop_units(prob, u, out, [])
    return out, gaps, lean if side_ok(prob, lean) else u


__all__ = ["meet_jointly", "side_ok"]
