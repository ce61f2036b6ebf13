"""A proof for the zones suite's tight rows: the knapsack Lagrangian bound run to convergence, fixing, then a MIP.

Single-school zoning with hard seats is a generalized assignment problem:

``min Σ_ij c_ij x_ij``  s.t.  ``Σ_j x_ij = 1`` per block ``i`` (with students),
``Σ_i d_i x_ij ≤ s_j`` per school ``j``, ``x ∈ {0, 1}``, ``c_ij = d_i t_ij``.

Relaxing the assignment rows with prices ``λ_i`` leaves one 0/1 knapsack per school:

``L(λ) = Σ_i λ_i + Σ_j K_j(λ)``,  ``K_j(λ) = min { Σ_i (c_ij − λ_i) x_ij : Σ_i d_i x_ij ≤ s_j }``,

a lower bound of the optimum for every ``λ`` (the knapsack-hull bound at its best ``λ``,
usually well above the transportation LP where seats are tight). Here:

1. :func:`lagrange_bound` maximises ``L`` by Polyak subgradient steps towards a known plan's
   cost, the step halved when the bound stalls, from the transportation LP's duals. ``λ`` is
   rounded to whole 1/:data:`SCALE` student-seconds before each evaluation and every knapsack is
   solved exactly by dynamic programming in ``int64`` (costs scaled by :data:`SCALE`), so each
   ``L`` is exact at the ``λ`` used; plans cost whole student-seconds, so ``⌈L⌉`` is reported.
2. :func:`fixing` then bounds, per pair, every plan that uses it (``x_ij = 1``) and every plan
   that does not (``x_ij = 0``): only school ``j``'s knapsack changes, solved exactly with that
   item forced in or out (prefix and suffix tables). Costs are whole, so a plan cheaper than the
   known one ``UB`` costs at most ``UB − 1``: a pair whose forced-in bound exceeds that is dropped,
   and a block whose pair's forced-out bound exceeds it keeps that pair alone.
3. :func:`prove` gives HiGHS (``scipy.optimize.milp``) the pairs left. Every plan cheaper than
   ``UB`` lies in that model, so ``min(UB, its bound)`` — and ``L`` — are bounds of the whole
   problem, and its plans are plans of the whole problem. :func:`prove_rounds` repeats fixing and the
   MIP (HiGHS, or SCIP with :func:`mip_scip`) against each cheaper plan found.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

#: Polyak steps at most (town 1,000 × 40 at 1.01: the bound still rose 0.01 % per 100 steps at 600).
MAX_STEPS = 1500
#: Steps without a better bound after which the step size halves (30: at 10 the town 1,000 × 40 bound at
#: 1.01 was 8,248,607 after 300 steps, with 30 8,253,581 after 600), its first factor (the product's
#: ``planning.zones.lagrange.THETA0``) and the smallest.
STALL_STEPS = 30
THETA0 = 0.25
MIN_THETA = 1e-4
#: Steps between progress lines with ``log``.
LOG_STEPS = 100
#: Multipliers are whole multiples of 1 / SCALE student-second (costs scaled up by it in the knapsacks,
#: exact in int64); 16: the rounding moved the town 1,000 × 40 bound by < 1 at 1.01.
SCALE = 16
#: HiGHS's stopping gap in :func:`prove` and :func:`prove_rounds`, in student-seconds (as a share of the plan): under 1, so that
#: its "optimal" is a proof on whole costs (1e-7 of a 56,000,000 plan is 5.6).
PROOF_GAP = 0.5
#: "Infinite" cost in the int64 tables (far above any plan's cost, far below int64's overflow).
BIG = np.int64(2**61)


@dataclass(frozen=True)
class Gap:
    """The instance as a generalized assignment problem, one entry per reachable pair with students.

    Attributes
    ----------
    row
        The pair's block as a row index ``0 … rows − 1``.
    school
        The pair's school.
    cost
        ``d_i t_ij``, whole student-seconds.
    weight
        ``d_i``, the block's students.
    capacity
        Seats per school.
    pair
        The pair's index in the travel matrix.
    rows
        Blocks with students (the assignment rows).
    """

    row: NDArray[np.int64]
    school: NDArray[np.int64]
    cost: NDArray[np.int64]
    weight: NDArray[np.int64]
    capacity: NDArray[np.int64]
    pair: NDArray[np.int64]
    rows: int

    def subset(self, keep: NDArray[np.bool_]) -> Gap:
        """The same rows and schools with the pairs ``keep`` only."""
        return Gap(self.row[keep], self.school[keep], self.cost[keep], self.weight[keep], self.capacity, self.pair[keep], self.rows)

    def by_school(self) -> list[NDArray[np.int64]]:
        """Pair indices of each school, in pair order."""
        order = np.argsort(self.school, kind="stable")
        cuts = np.searchsorted(self.school[order], np.arange(len(self.capacity) + 1))
        return [order[cuts[j] : cuts[j + 1]] for j in range(len(self.capacity))]


@dataclass(frozen=True)
class LagrangeResult:
    """The best bound found, its (whole) multipliers, the steps taken and the CPU seconds spent."""

    bound: int
    lam: NDArray[np.int64]
    steps: int
    cpu: float
    lp: float


def gap_of(origin: NDArray[np.int64], dest: NDArray[np.int64], time_s: NDArray[np.int64],
           demand: NDArray[np.int64], capacity: NDArray[np.int64]) -> Gap:
    """The pairs of a travel matrix (``origin``, ``dest``, ``time_s``) whose block has students, as a :class:`Gap`."""
    pairs = np.flatnonzero(demand[origin] > 0)
    o = origin[pairs]
    blocks = np.unique(o)
    w = demand[o].astype(np.int64)
    return Gap(np.searchsorted(blocks, o).astype(np.int64), dest[pairs].astype(np.int64),
               w * time_s[pairs].astype(np.int64), w, capacity.astype(np.int64), pairs.astype(np.int64), len(blocks))


def _knapsack(weight: NDArray[np.int64], cost: NDArray[np.int64], seats: int) -> tuple[int, NDArray[np.bool_]]:
    """Cheapest 0/1 choice of items within ``seats`` (exact ``int64`` DP; only ``cost < 0`` items can help)."""
    best = np.zeros(seats + 1, np.int64)
    took = np.zeros((len(weight), seats + 1), bool)
    for k, (w, c) in enumerate(zip(weight.tolist(), cost.tolist(), strict=True)):
        if w > seats or c >= 0:
            continue
        cand = best[: seats + 1 - w] + c
        better = cand < best[w:]
        best[w:] = np.where(better, cand, best[w:])
        took[k, w:] = better
    take = np.zeros(len(weight), bool)
    room = seats
    for k in range(len(weight) - 1, -1, -1):
        if took[k, room]:
            take[k] = True
            room -= int(weight[k])
    return int(best[seats]), take


def evaluate(g: Gap, lam: NDArray[np.int64], schools: list[NDArray[np.int64]]) -> tuple[int, NDArray[np.int64], NDArray[np.int64]]:
    """``SCALE × L(λ)`` exactly (``λ`` in 1/:data:`SCALE` units), each school's ``SCALE × K_j`` and each row's
    subgradient ``1 − Σ_j x_ij``."""
    red = g.cost * SCALE - lam[g.row]
    used = np.zeros(g.rows, np.int64)
    values = np.zeros(len(g.capacity), np.int64)
    for j, pairs in enumerate(schools):
        items = pairs[red[pairs] < 0]
        if len(items):
            values[j], take = _knapsack(g.weight[items], red[items], int(g.capacity[j]))
            np.add.at(used, g.row[items[take]], 1)
    return int(lam.sum()) + int(values.sum()), values, 1 - used


def _scaled(lam: NDArray[np.float64]) -> NDArray[np.int64]:
    """Multipliers in student-seconds rounded to whole 1/:data:`SCALE` units."""
    return np.floor(lam * SCALE + 0.5).astype(np.int64)


def _whole(scaled: int) -> int:
    """A bound ``SCALE × L`` as a bound on plans' whole costs: ``⌈L⌉``."""
    return -((-scaled) // SCALE)


def lp_start(g: Gap) -> tuple[float, NDArray[np.float64]]:
    """The transportation LP's value (``inf``: infeasible) and the prices ``λ_i = min_j (c_ij + d_i π_j)`` from its seat duals ``π``."""
    import scipy.sparse as sp
    from scipy.optimize import linprog

    k = len(g.row)
    a_eq = sp.csr_array((np.ones(k), (g.row, np.arange(k))), shape=(g.rows, k))
    a_cap = sp.csr_array((g.weight.astype(float), (g.school, np.arange(k))), shape=(len(g.capacity), k))
    res = linprog(g.cost.astype(float), A_ub=a_cap, b_ub=g.capacity.astype(float), A_eq=a_eq,
                  b_eq=np.ones(g.rows), bounds=(0, None), method="highs")
    if res.status != 0:  # infeasible (a reduced model): no plan at all
        return math.inf, np.zeros(g.rows)
    pi = -res.ineqlin.marginals
    lam = np.full(g.rows, np.inf)
    np.minimum.at(lam, g.row, g.cost + g.weight * pi[g.school])
    return float(res.fun), lam


def lagrange_bound(g: Gap, upper: int, *, max_steps: int = MAX_STEPS, log: bool = False) -> LagrangeResult:
    """Maximise ``L(λ)`` from the LP's prices by Polyak steps ``λ += θ (UB − L) g / ‖g‖²`` towards ``upper``.

    ``θ`` starts at :data:`THETA0` and halves after :data:`STALL_STEPS` steps without a better
    bound; the search stops below :data:`MIN_THETA`, after ``max_steps``, when the bound reaches
    ``upper`` or the subgradient is zero (the knapsacks' choice is then a plan, and optimal).
    """
    c0 = time.process_time()
    lp, lam_f = lp_start(g)
    if math.isinf(lp) or len(np.unique(g.row)) < g.rows:  # no plan: every bound holds
        return LagrangeResult(upper, _scaled(lam_f), 0, time.process_time() - c0, lp)
    schools = g.by_school()
    best, best_lam, theta, stall, steps = -(2**62), _scaled(lam_f), THETA0, 0, 0
    while steps < max_steps and theta >= MIN_THETA:
        lam = _scaled(lam_f)
        value, _, sub = evaluate(g, lam, schools)
        steps += 1
        if value > best:
            best, best_lam, stall = value, lam, 0
        else:
            stall += 1
            if stall >= STALL_STEPS:
                theta, stall = theta / 2, 0
        if log and steps % LOG_STEPS == 0:
            print(f"  step {steps}: L {value / SCALE:,.0f} best {best / SCALE:,.0f} theta {theta:.4g}"
                  f" cpu {time.process_time() - c0:.0f}s", flush=True)
        norm = float((sub * sub).sum())
        if _whole(best) >= upper or norm == 0.0:
            break
        lam_f = lam_f + theta * max(upper - value / SCALE, 1.0) / norm * sub
    return LagrangeResult(_whole(best), best_lam, steps, time.process_time() - c0, lp)


def _tables(weight: NDArray[np.int64], cost: NDArray[np.int64], seats: int) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Prefix and suffix knapsack tables: ``F[k, c]`` (``B[k, c]``) the cheapest choice of items before (from) ``k`` within ``c``."""
    n = len(weight)
    f = np.zeros((n + 1, seats + 1), np.int64)
    b = np.zeros((n + 1, seats + 1), np.int64)
    for k in range(n):
        f[k + 1] = f[k]
        w, c = int(weight[k]), int(cost[k])
        if w <= seats and c < 0:
            f[k + 1, w:] = np.minimum(f[k, w:], f[k, : seats + 1 - w] + c)
    for k in range(n - 1, -1, -1):
        b[k] = b[k + 1]
        w, c = int(weight[k]), int(cost[k])
        if w <= seats and c < 0:
            b[k, w:] = np.minimum(b[k + 1, w:], b[k + 1, : seats + 1 - w] + c)
    return f, b


def forced(weight: NDArray[np.int64], cost: NDArray[np.int64], seats: int) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Each item's knapsack value with that item forced in (``BIG`` if it does not fit) and forced out."""
    f, b = _tables(weight, cost, seats)
    into = np.full(len(weight), BIG, np.int64)
    out = np.empty(len(weight), np.int64)
    for k in range(len(weight)):
        out[k] = int((f[k] + b[k + 1][::-1]).min())
        room = seats - int(weight[k])
        if room >= 0:
            into[k] = int(cost[k]) + int((f[k, : room + 1] + b[k + 1, room::-1]).min())
    return into, out


def fixing(g: Gap, lam: NDArray[np.int64], upper: int) -> NDArray[np.bool_]:
    """The pairs a plan costing less than ``upper`` may use, by the forced knapsacks at ``λ`` (see the module docstring)."""
    schools = g.by_school()
    value, kv, _ = evaluate(g, lam, schools)
    red = g.cost * SCALE - lam[g.row]
    cut = (upper - 1) * SCALE  # a plan cheaper than ``upper`` costs at most ``upper − 1``
    keep = np.ones(len(g.row), bool)
    must = np.zeros(len(g.row), bool)
    for j, pairs in enumerate(schools):
        if not len(pairs):
            continue
        into, out = forced(g.weight[pairs], red[pairs], int(g.capacity[j]))
        rest = value - int(kv[j])
        keep[pairs] = rest + into <= cut
        must[pairs] = rest + out > cut
    pinned = np.zeros(g.rows, bool)
    pinned[g.row[must]] = True
    keep &= ~pinned[g.row] | must
    return keep


def school_cuts(g: Gap, lam: NDArray[np.int64]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """The Lagrangian cut of each school at ``λ``: ``Σ_i (c_ij − λ_i) x_ij ≥ K_j(λ)``, as a coefficient per pair and a side per school.

    Valid for every plan on the pairs of ``g``: a plan's blocks at school ``j`` are a choice within its
    seats, which costs at least the knapsack's best. The cuts summed with the assignment rows give
    ``Σ c x ≥ L(λ)``, so the LP with them is at least the Lagrangian bound (the transportation LP
    alone is 0.05–0.23 % under it on the tight rows). Exact in float64: integers in 1/:data:`SCALE`
    units, under 2^53, divided by a power of two.
    """
    _, kv, _ = evaluate(g, lam, g.by_school())
    return (g.cost * SCALE - lam[g.row]) / SCALE, kv / SCALE


def mip(g: Gap, keep: NDArray[np.bool_], time_limit: float, rel_gap: float = 1e-7, *,
        cuts: list[NDArray[np.int64]] | None = None) -> tuple[float, float, int, str]:
    """HiGHS on the pairs ``keep``: best plan's cost (``inf``: none), dual bound (``inf``: infeasible), status, message.

    HiGHS stops at the relative gap ``rel_gap`` (status 0): below ``1 / plan`` that is a proof on whole costs.
    ``cuts``: multipliers whose :func:`school_cuts` (on the pairs ``keep``) are added to the model.
    """
    import scipy.sparse as sp
    from scipy.optimize import Bounds, LinearConstraint, milp

    idx = np.flatnonzero(keep)
    k = len(idx)
    rows_left = np.unique(g.row[idx])
    if len(rows_left) < g.rows:
        return math.inf, math.inf, 2, "a block has no pair left: no plan cheaper than UB"
    sub = g.subset(keep)
    a_eq = sp.csr_array((np.ones(k), (sub.row, np.arange(k))), shape=(g.rows, k))
    a_cap = sp.csr_array((sub.weight.astype(float), (sub.school, np.arange(k))), shape=(len(g.capacity), k))
    rows = [LinearConstraint(a_eq, 1, 1), LinearConstraint(a_cap, -np.inf, g.capacity.astype(float))]
    for lam in cuts or []:
        coef, side = school_cuts(sub, lam)
        rows.append(LinearConstraint(sp.csr_array((coef, (sub.school, np.arange(k))), shape=(len(g.capacity), k)), side, np.inf))
    res = milp(c=sub.cost.astype(float), integrality=np.ones(k), bounds=Bounds(0, 1), constraints=rows,
               options={"time_limit": time_limit, "mip_rel_gap": rel_gap, "disp": False})
    found = float(res.fun) if res.x is not None else math.inf
    got = getattr(res, "mip_dual_bound", None)  # None: stopped on time without a plan (scipy then drops the bound)
    bound = math.inf if res.status == 2 else (math.nan if got is None else float(got))
    return found, bound, int(res.status), str(res.message)


def _round(g: Gap, lam: NDArray[np.int64], upper: int, time_limit: float, cuts: bool) -> tuple[float, float, int, str, int]:
    """Fixing against ``upper`` at ``λ`` and HiGHS on the pairs left (with the :func:`school_cuts` at ``λ`` if ``cuts``):
    its plan, its bound, status, message and the pairs kept."""
    keep = fixing(g, lam, upper)
    sub = g.subset(keep)
    if len(np.unique(sub.row)) < sub.rows:
        return math.inf, math.inf, 2, "no plan cheaper than UB is left", len(sub.row)
    found, mbound, status, msg = mip(sub, np.ones(len(sub.row), bool), time_limit, rel_gap=PROOF_GAP / max(upper, 1),
                                     cuts=[lam] if cuts else None)
    return found, mbound, status, msg, len(sub.row)


def prove(g: Gap, upper: int, time_limit: float, *, max_steps: int = MAX_STEPS, cuts: bool = False, rounds: int = 1,
          log: bool = False) -> dict:
    """Steps 1–3 of the module docstring against a known plan costing ``upper``: a run for the cache (bound, plan, status).

    Fixing once at the bound's ``λ`` is enough: a second bound on the pairs left followed the same
    steps to the same value and kept every pair (uniform 1,000 × 40 at 1.01: 7,430,473 both times,
    6,594 pairs; at 1.03 the second bound was lower, 7,269,158 against 7,269,201).

    Parameters
    ----------
    g
        The instance.
    upper
        A known plan's cost.
    time_limit
        HiGHS's wall seconds per round.
    max_steps
        Subgradient steps at most.
    cuts
        Add the :func:`school_cuts` at the bound's ``λ`` to HiGHS's model.
    rounds
        HiGHS runs at most: while one finds a plan cheaper than the last ``UB`` without proving it,
        fixing again against that plan (fewer pairs) and solving again. Each round's model holds every
        plan cheaper than its ``UB``, so ``min(UB, its bound)`` is a bound of the whole problem.
    log
        Print the bound's progress.

    Returns
    -------
    dict
        A run for the cache: ``objective``, ``bound``, ``proven``, ``status`` (what ran), ``cpu``, ...
    """
    c0, t0 = time.process_time(), time.perf_counter()
    lag = lagrange_bound(g, upper, max_steps=max_steps, log=log)
    objective, bound = float(upper), float(min(upper, lag.bound))
    lagrange, status, notes, kept = bound, 2, [], 0
    for _ in range(rounds):
        if bound >= objective - 0.5:
            break
        ub = round(objective)
        found, mbound, status, msg, kept = _round(g, lag.lam, ub, time_limit, cuts)
        objective = min(objective, found)
        bound = max(bound, min(float(ub), mbound if not math.isnan(mbound) else -math.inf))
        notes.append(f"against UB {ub:,} kept {kept:,} of {len(g.row):,} pairs, then HiGHS {time_limit:g} s"
                     f"{' with the school cuts' if cuts else ''}: {msg}, its bound {mbound:,.0f}, its plan {found:,.0f}")
        if status in {0, 2} or found >= ub:  # proven, or nothing cheaper to fix against
            break
    cpu = time.process_time() - c0
    text = (f"Lagrangian knapsack bound {lag.bound:,} (LP {lag.lp:,.0f}; {lag.steps} subgradient steps, {lag.cpu:.0f} CPU s),"
            f" fixing {'; again '.join(notes) or 'not needed'}; {cpu:.0f} CPU s in all")
    return {"seconds": round(time.perf_counter() - t0, 1), "cpu": round(cpu, 1), "status": text,
            "objective": objective, "bound": bound, "lagrange": lagrange, "lp": lag.lp,
            "kept": kept, "pairs": len(g.row),
            "proven": status in {0, 2} or bound >= objective - 0.5, "limit": time_limit}


def mip_scip(g: Gap, time_limit: float, rel_gap: float = 1e-7) -> tuple[float, float, int, str]:
    """SCIP (OR-Tools ``pywraplp``, one thread) on every pair of ``g``: as :func:`mip` (status 0 optimal, 2 infeasible, 1 else)."""
    from ortools.linear_solver import pywraplp

    s = pywraplp.Solver.CreateSolver("SCIP")
    s.SetNumThreads(1)
    x = [s.BoolVar("") for _ in range(len(g.row))]
    for idx in np.split(np.argsort(g.row, kind="stable"), np.flatnonzero(np.diff(np.sort(g.row))) + 1):
        s.Add(sum(x[k] for k in idx.tolist()) == 1)
    for j, idx in enumerate(g.by_school()):
        if len(idx):
            s.Add(sum(int(g.weight[k]) * x[k] for k in idx.tolist()) <= int(g.capacity[j]))
    obj = s.Objective()
    for v, c in zip(x, g.cost.tolist(), strict=True):
        obj.SetCoefficient(v, c)
    obj.SetMinimization()
    s.SetTimeLimit(int(time_limit * 1000))
    s.SetSolverSpecificParametersAsString(f"limits/gap = {rel_gap:.3g}\n")
    code = s.Solve()
    if code == pywraplp.Solver.INFEASIBLE:
        return math.inf, math.inf, 2, "SCIP: infeasible"
    found = obj.Value() if code in (pywraplp.Solver.OPTIMAL, pywraplp.Solver.FEASIBLE) else math.inf
    return found, obj.BestBound(), 0 if code == pywraplp.Solver.OPTIMAL else 1, f"SCIP status {code}"


def _round_bound(upper: int, mbound: float, status: int) -> float:
    """The whole problem's bound from a MIP run on a model that holds every plan cheaper than ``upper``.

    Every plan cheaper than ``upper`` costs at least the run's dual bound (``inf`` when the model is
    infeasible, ``status`` 2); any other plan costs at least ``upper``.
    """
    if status == 2:
        return float(upper)
    return min(float(upper), mbound) if not math.isnan(mbound) else -math.inf


def prove_rounds(g: Gap, upper: int, time_limit: float, rounds: int, *, max_steps: int = MAX_STEPS,
                 log: bool = False, solver: str = "highs") -> dict:
    """:func:`prove`, then fixing again against each cheaper plan HiGHS finds, up to ``rounds`` HiGHS runs in all.

    Parameters
    ----------
    g
        The instance.
    upper
        The cost of a known plan (whole student-seconds).
    time_limit
        HiGHS's seconds (wall time) per round.
    rounds
        HiGHS runs at most; a round that finds no plan cheaper than the last one ends the loop.
    max_steps, log
        As in :func:`lagrange_bound`.
    solver
        ``"highs"`` (:func:`mip`) or ``"scip"`` (:func:`mip_scip`) on each round's model.

    Returns
    -------
    dict
        A run for the cache, as :func:`prove`'s, with ``rounds``: per round the UB fixed against, the
        pairs kept, HiGHS's plan and bound and the bound of the whole problem it gives.

    Notes
    -----
    The multipliers stay those of the converged bound; only the cut-off ``UB − 1`` falls, so each round's
    model is a subset of the one before. Round ``r``'s model holds every plan cheaper than its ``UB_r``, so
    ``min(UB_r, its dual bound)`` bounds the whole problem (:func:`_round_bound`); the best over the rounds
    is kept. Costs are whole, so a bound above ``plan − 1`` proves the plan optimal.
    """
    c0, t0 = time.process_time(), time.perf_counter()
    lag = lagrange_bound(g, upper, max_steps=max_steps, log=log)
    best, bound, done, texts = upper, float(min(upper, lag.bound)), [], []
    while len(done) < rounds and bound <= best - 1:
        keep = fixing(g, lag.lam, best)
        sub = g.subset(keep)
        if len(np.unique(sub.row)) < sub.rows:
            found, mbound, status, msg = math.inf, math.inf, 2, "a block has no pair left"
        elif solver == "scip":
            found, mbound, status, msg = mip_scip(sub, time_limit, rel_gap=PROOF_GAP / best)
        else:
            found, mbound, status, msg = mip(sub, np.ones(len(sub.row), bool), time_limit, rel_gap=PROOF_GAP / best)
        bound = max(bound, _round_bound(best, mbound, status))
        done.append({"upper": best, "kept": len(sub.row), "found": found, "bound": mbound, "status": status})
        texts.append(f"UB {best:,}: {len(sub.row):,} pairs, {msg}, plan {found:,.0f}, bound {mbound:,.0f}")
        if log:
            print(f"  round {len(done)}: {texts[-1]}", flush=True)
        if math.isinf(found) or round(found) >= best:
            break
        best = round(found)
    cpu = time.process_time() - c0
    text = (f"Lagrangian knapsack bound {lag.bound:,} (LP {lag.lp:,.0f}; {lag.steps} subgradient steps, {lag.cpu:.0f} CPU s),"
            f" then fixing and {'SCIP' if solver == 'scip' else 'HiGHS'} {time_limit:g} s per round,"
            f" again against each cheaper plan found ({len(done)} rounds: "
            + "; ".join(texts) + f"); {cpu:.0f} CPU s in all")
    return {"seconds": round(time.perf_counter() - t0, 1), "cpu": round(cpu, 1), "status": text,
            "objective": float(best), "bound": bound, "lagrange": float(min(upper, lag.bound)), "lp": lag.lp,
            "kept": done[-1]["kept"] if done else 0, "pairs": len(g.row), "rounds": done,
            "proven": bound > best - 1, "limit": time_limit}
