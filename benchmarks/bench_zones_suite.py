"""Broad benchmark of optimal single-school zones on instances unlike the project's generator.

Families (blocks × schools, capacity slack = seats / students):

- ``uniform``: blocks and schools uniform in a square;
- ``town``: one dense town (70 % of the blocks) and sparse villages around it;
- ``valley``: a long thin valley (10 : 1), population thinning along it;
- ``twotowns``: two towns 12 km apart and sparse countryside.

Outside ``uniform``, schools stand where people live (sampled from the blocks,
weighted by students). Capacities follow the nearest-school load (half of it,
half the mean, ±20 % noise) scaled to the slack. Travel is the straight line ×
1.3 at 4.5 km/h, cut to each block's ``K_NEAREST`` = 20 nearest schools (every
method gets the same pairs; no travel cap).

Also: instances given as a cost matrix with demands and capacities
(``--orlib FILE``; Beasley OR-Library ``cap*`` or Holmberg layout, see
:func:`read_matrix_instance`), solved with every facility open.

Peers in the same run, on the same pairs:

- the optimum: HiGHS through ``scipy.optimize.milp`` (``--prove-time`` seconds,
  cached in ``benchmarks/instances/zones_optima.json`` keyed by family, size,
  slack and seed; where HiGHS stops before proving, its best solution and
  bound are kept and the gap is taken to the bound); ``--prove-solver scip``
  runs SCIP (OR-Tools) instead and merges its run into the cached reference
  (the highest bound and the cheapest plan of all runs, each run listed);
  ``--fixed-prove`` instead runs HiGHS (or CP-SAT hinted with our plan) on
  the model reduced-cost fixing leaves below our own plan (a sound bound and
  plan of the whole problem, :func:`fixed_optimum`) and merges it the same way;
- plain CP-SAT (one Boolean per pair, exactly-one and capacity constraints)
  given the same wall time as our longer run, ``--peer-workers`` workers;
- the project's previous method: :func:`planning.zones.from_arrays` with
  ``anytime=False`` (relaxation, priced chains, local search; no improvement phase).

Our method runs with ``time_limit_s`` = 15 and 60 (``--limits``); on a loaded
machine the clock stops it before its work budget (WALL CAP in the cell), and
``--budget-only`` gives the plans of the work budget alone (the clock lifted):
what a quiet machine returns, the same on every run.
With ``--contiguity`` the 60 s run also makes every zone one piece (Voronoi
cells of the blocks as their adjacency; with ``--budget-only`` the clock
lifted too) and reports its gap to the optimum without contiguity and the
pieces left.

Usage::

    python benchmarks/bench_zones_suite.py --quick           # 4 small instances, short limits
    python benchmarks/bench_zones_suite.py                   # 1,000-6,000 blocks, every family and slack
    python benchmarks/bench_zones_suite.py --sizes 20000x300 --slacks 1.01 --limits 60
    python benchmarks/bench_zones_suite.py --orlib cap41.txt --orlib-format beasley
    python benchmarks/bench_zones_suite.py --families town --sizes 1000x40 --slacks 1.01 --fixed-prove 1500 --fixed-from 48
    python benchmarks/bench_zones_suite.py --families town --sizes 1000x40 --slacks 1.01 --lagrange-prove 100  # zones_proof.py
    python benchmarks/bench_zones_suite.py --families uniform --sizes 1000x40 --slacks 1.06 --lagrange-prove 600 --lagrange-cuts --lagrange-rounds 3
    python benchmarks/bench_zones_suite.py --families valley --sizes 1000x40 --slacks 1.01 --lagrange-prove 300 --proof-rounds 2 --proof-mip scip
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_zones
import zones_proof
from bench_zones import K_NEAREST, nearest_matrix

from geo.travel import TravelMatrix
from planning.zones import BlockGraph, Reach, SolveLimits, ZoneOptions, from_arrays

NO_CAP = Reach(max_travel_s=None)
FAMILIES = ("uniform", "town", "valley", "twotowns")
SLACKS = (1.01, 1.03, 1.06, 1.15, 1.40)
SIZES = ((1_000, 40), (3_000, 80), (6_000, 150))
CACHE = Path(__file__).resolve().parent / "instances" / "zones_optima.json"


@dataclass(frozen=True)
class Case:
    """One benchmark instance on arrays (``bxy``/``sxy``: coordinates, ``None`` for matrix instances)."""

    name: str
    travel: TravelMatrix
    demand: np.ndarray
    capacity: np.ndarray
    bxy: np.ndarray | None = None
    sxy: np.ndarray | None = None


# --- generated families ------------------------------------------------------------------


def _blob(rng: np.random.Generator, n: int, centre: tuple[float, float], sd: float) -> np.ndarray:
    return rng.normal(centre, sd, (n, 2))


def _layout(family: str, n: int, rng: np.random.Generator) -> np.ndarray:
    """Block coordinates of ``family`` (metres); ≈150 m between blocks where they are dense."""
    side = math.sqrt(n) * 150.0
    if family == "uniform":
        return rng.uniform(0, side, (n, 2))
    if family == "town":
        n_town = int(0.7 * n)
        town = _blob(rng, n_town, (side, side), side * 0.12)
        villages = rng.uniform(0, 2 * side, (max(n // 60, 4), 2))
        which = rng.integers(0, len(villages), n - n_town)
        return np.vstack([town, villages[which] + rng.normal(0, side * 0.03, (n - n_town, 2))])
    if family == "valley":
        length, width = side * 3.2, side * 0.32
        x = length * rng.power(0.6, n)  # denser at the valley's mouth
        y = width * (0.5 + 0.35 * np.sin(x / length * 6.0)) + rng.normal(0, width * 0.12, n)
        return np.column_stack([x, y])
    if family == "twotowns":
        n_rural = int(0.15 * n)
        n_a = int(0.55 * (n - n_rural))
        a = _blob(rng, n_a, (0.0, 0.0), side * 0.10)
        b = _blob(rng, n - n_rural - n_a, (12_000.0, 2_000.0), side * 0.08)
        rural = rng.uniform((-side * 0.6, -side * 0.6), (12_000 + side * 0.6, 2_000 + side * 0.6), (n_rural, 2))
        return np.vstack([a, b, rural])
    raise ValueError(f"unknown family {family!r}; one of {', '.join(FAMILIES)}")


def generate(family: str, n: int, m: int, slack: float, seed: int = 1) -> Case:
    """One instance of ``family`` with ``n`` blocks, ``m`` schools and seats = ``slack`` × students."""
    from scipy.spatial import cKDTree

    rng = np.random.default_rng([seed, FAMILIES.index(family), n, m])
    bxy = _layout(family, n, rng)
    demand = rng.integers(0, 40, n).astype(np.int64)
    if family == "uniform":
        sxy = rng.uniform(bxy.min(0), bxy.max(0), (m, 2))
    else:
        w = (demand + 1) / (demand + 1).sum()
        sxy = bxy[rng.choice(n, m, replace=False, p=w)] + rng.normal(0, 40.0, (m, 2))
    dist, idx = cKDTree(sxy).query(bxy, k=min(K_NEAREST, m))
    nearest_load = np.bincount(idx[:, 0], weights=demand, minlength=m)
    raw = (0.5 * nearest_load + 0.5 * nearest_load.mean()) * rng.uniform(0.8, 1.2, m)
    total = int(demand.sum())
    cap = np.floor(raw / raw.sum() * total * slack).astype(np.int64)
    short = math.ceil(total * slack) - int(cap.sum())
    cap[np.argsort(-raw)[: max(short, 0)]] += 1
    tm = nearest_matrix(dist, idx, m)
    return Case(f"{family}-{n}x{m}-{slack:.2f}-s{seed}", tm, demand, cap, bxy, sxy)


# --- instances given as a cost matrix ----------------------------------------------------


def read_matrix_instance(path: Path, *, layout: str = "beasley") -> Case:
    """Read a capacitated facility-location instance given as counts, capacities, demands and costs.

    ``beasley`` (OR-Library ``cap*``): ``m n``; ``m`` lines ``capacity fixed_cost``;
    then per customer its demand followed by its ``m`` costs. ``holmberg``:
    ``m n``; ``m`` lines ``capacity fixed_cost``; ``n`` demands; then the
    ``m × n`` cost matrix, one facility after the other. Costs are those of
    serving the customer's whole demand (both test sets define them so); the
    solver works on the cost per student ``round(cost × 100 / demand)``
    (hundredths, so rounding moves a cost by < 0.5 %), and every method, HiGHS
    included, is scored on those rounded costs. Fixed costs are ignored: every
    facility is open. ``benchmarks/instances/sample_beasley.txt`` is a made-up
    3 × 6 instance in the Beasley layout, to check the reader.
    Blocks are customers, schools are facilities; all pairs are reachable.
    """
    tokens = path.read_text().split()
    vals = [float(t) for t in tokens]
    m, n = int(vals[0]), int(vals[1])
    pos = 2
    cap = np.array([vals[pos + 2 * j] for j in range(m)])
    pos += 2 * m
    if layout == "beasley":
        demand = np.zeros(n)
        cost = np.zeros((n, m))
        for i in range(n):
            demand[i] = vals[pos]
            cost[i] = vals[pos + 1 : pos + 1 + m]
            pos += 1 + m
    elif layout == "holmberg":
        demand = np.array(vals[pos : pos + n])
        pos += n
        cost = np.array(vals[pos : pos + m * n]).reshape(m, n).T
    else:
        raise ValueError(f"unknown layout {layout!r}; beasley or holmberg")
    demand_i = np.rint(demand).astype(np.int64)
    cap_i = np.floor(cap).astype(np.int64)
    per = np.rint(cost * 100.0 / np.maximum(demand_i, 1)[:, None]).astype(np.int64)
    o = np.repeat(np.arange(n), m)
    d = np.tile(np.arange(m), n)
    order = np.lexsort((d, per.ravel(), o))
    tm = TravelMatrix(
        origin_ids=np.array([f"c{i:05d}" for i in range(n)]),
        dest_ids=np.array([f"f{j:04d}" for j in range(m)]),
        origin=o[order].astype(np.int32),
        dest=d[order].astype(np.int32),
        time_s=per.ravel()[order].astype(np.int64),
        dist_m=per.ravel()[order].astype(np.int64),
        mode="matrix",
    )
    return Case(f"{path.stem} ({layout})", tm, demand_i, cap_i)


# --- the optimum (HiGHS), cached ---------------------------------------------------------


def objective_of(case: Case, school: np.ndarray) -> float:
    """Σ students × travel of a plan (block → school index)."""
    tm, d = case.travel, case.demand
    t = {(int(i), int(j)): int(c) for i, j, c in zip(tm.origin, tm.dest, tm.time_s, strict=True)}
    return float(sum(int(d[i]) * t[i, int(j)] for i, j in enumerate(school) if d[i] > 0 and j >= 0))


def highs_optimum(case: Case, time_limit: float) -> dict[str, float | bool | str]:
    """Solve the instance as a MIP with HiGHS: objective, dual bound, whether proven."""
    import scipy.sparse as sp
    from scipy.optimize import Bounds, LinearConstraint, milp

    tm, d, cap = case.travel, case.demand, case.capacity
    keep = d[tm.origin] > 0
    o, j, t = tm.origin[keep], tm.dest[keep], tm.time_s[keep].astype(float)
    k = len(o)
    blocks = np.unique(o)
    row = np.searchsorted(blocks, o)
    a_eq = sp.csr_array((np.ones(k), (row, np.arange(k))), shape=(len(blocks), k))
    a_cap = sp.csr_array((d[o].astype(float), (j, np.arange(k))), shape=(len(cap), k))
    t0 = time.perf_counter()
    res = milp(
        c=d[o] * t,
        integrality=np.ones(k),
        bounds=Bounds(0, 1),
        constraints=[LinearConstraint(a_eq, 1, 1), LinearConstraint(a_cap, -np.inf, cap.astype(float))],
        options={"time_limit": time_limit, "mip_rel_gap": 1e-7, "disp": False},
    )
    out: dict[str, float | bool | str] = {"seconds": round(time.perf_counter() - t0, 1), "status": str(res.message)}
    got = getattr(res, "mip_dual_bound", None)
    bound = math.nan if got is None else float(got)  # None: HiGHS stopped before it had a bound
    if res.x is None:
        return {**out, "objective": math.nan, "bound": bound, "proven": False}
    return {**out, "objective": float(res.fun), "bound": bound, "proven": res.status == 0}


def scip_optimum(case: Case, time_limit: float, hint: np.ndarray | None = None) -> dict[str, float | bool | str]:
    """Solve the instance as a MIP with SCIP (OR-Tools' ``pywraplp``, one thread), hinted with ``hint`` when given."""
    import ortools
    from ortools.linear_solver import pywraplp

    tm, d, cap = case.travel, case.demand, case.capacity
    keep = d[tm.origin] > 0
    o, j, t = tm.origin[keep].tolist(), tm.dest[keep].tolist(), tm.time_s[keep].tolist()
    s = pywraplp.Solver.CreateSolver("SCIP")
    s.SetNumThreads(1)
    x = [s.BoolVar("") for _ in o]
    rows: dict[int, list] = {}
    seats: dict[int, list] = {}
    for v, i, jj in zip(x, o, j, strict=True):
        rows.setdefault(i, []).append(v)
        seats.setdefault(jj, []).append(int(d[i]) * v)
    for v in rows.values():
        s.Add(sum(v) == 1)
    for jj, terms in seats.items():
        s.Add(sum(terms) <= int(cap[jj]))
    obj = s.Objective()
    for v, i, c in zip(x, o, t, strict=True):
        obj.SetCoefficient(v, int(d[i]) * int(c))
    obj.SetMinimization()
    if hint is not None:
        s.SetHint(x, [float(hint[i] == jj) for i, jj in zip(o, j, strict=True)])
    s.SetTimeLimit(int(time_limit * 1000))
    s.SetSolverSpecificParametersAsString("limits/gap = 1e-7\n")
    t0 = time.perf_counter()
    status = s.Solve()
    found = status in (pywraplp.Solver.OPTIMAL, pywraplp.Solver.FEASIBLE)
    return {
        "seconds": round(time.perf_counter() - t0, 1),
        "status": f"SCIP (OR-Tools {ortools.__version__}) status {status}" + (" hinted with our plan" if hint is not None else ""),
        "objective": obj.Value() if found else math.nan,
        "bound": obj.BestBound(),
        "proven": status == pywraplp.Solver.OPTIMAL,
    }


def lp_reduced_costs(case: Case) -> tuple[float, np.ndarray, np.ndarray]:
    """The transportation relaxation with HiGHS: its value, and each reachable pair (with students) and its reduced cost.

    ``rc_k = d_i t_ij + d_i π_j − λ_i ≥ 0`` with the relaxation's duals (``λ_i`` per
    block, ``π_j ≥ 0`` per seat): every plan ``x`` costs at least ``value + Σ_k rc_k x_k``.
    """
    import scipy.sparse as sp
    from scipy.optimize import linprog

    tm, d, cap = case.travel, case.demand, case.capacity
    pairs = np.flatnonzero(d[tm.origin] > 0)
    o, j = tm.origin[pairs], tm.dest[pairs]
    cost = d[o] * tm.time_s[pairs].astype(float)
    blocks = np.unique(o)
    row = np.searchsorted(blocks, o)
    k = len(pairs)
    a_eq = sp.csr_array((np.ones(k), (row, np.arange(k))), shape=(len(blocks), k))
    a_cap = sp.csr_array((d[o].astype(float), (j, np.arange(k))), shape=(len(cap), k))
    res = linprog(cost, A_ub=a_cap, b_ub=cap.astype(float), A_eq=a_eq, b_eq=np.ones(len(blocks)), bounds=(0, None), method="highs")
    lam = res.eqlin.marginals
    pi = -res.ineqlin.marginals
    rc = cost + d[o] * pi[j] - lam[row]
    return float(res.fun), pairs, np.maximum(rc, 0.0)


def fixed_optimum(case: Case, plan: np.ndarray, time_limit: float) -> dict:
    """HiGHS on the model reduced-cost fixing leaves for plans no dearer than ``plan``: a sound bound and plan.

    With the relaxation's value ``z`` and reduced costs ``rc`` (:func:`lp_reduced_costs`),
    a plan costing at most ``UB`` (``plan``'s cost) uses no pair with ``rc > UB − z``;
    so the optimum is ``min(UB, optimum over the pairs left)``, and the bound
    ``min(UB, HiGHS's bound there)`` is a bound of the whole problem.
    """
    import scipy.sparse as sp
    from scipy.optimize import Bounds, LinearConstraint, milp

    tm, d, cap = case.travel, case.demand, case.capacity
    upper = objective_of(case, plan)
    z, pairs, rc = lp_reduced_costs(case)
    keep = pairs[rc <= upper - z + 1e-6 * upper]
    o, j = tm.origin[keep], tm.dest[keep]
    blocks = np.unique(tm.origin[pairs])
    k = len(keep)
    a_eq = sp.csr_array((np.ones(k), (np.searchsorted(blocks, o), np.arange(k))), shape=(len(blocks), k))
    a_cap = sp.csr_array((d[o].astype(float), (j, np.arange(k))), shape=(len(cap), k))
    t0 = time.perf_counter()
    res = milp(c=d[o] * tm.time_s[keep].astype(float), integrality=np.ones(k), bounds=Bounds(0, 1),
               constraints=[LinearConstraint(a_eq, 1, 1), LinearConstraint(a_cap, -np.inf, cap.astype(float))],
               options={"time_limit": time_limit, "mip_rel_gap": 1e-7, "disp": False})
    found = float(res.fun) if res.x is not None else math.inf
    bound = float(getattr(res, "mip_dual_bound", math.nan))
    bound = upper if res.status == 2 else min(upper, bound)  # infeasible: no plan cheaper than UB
    return {"seconds": round(time.perf_counter() - t0, 1),
            "status": f"HiGHS on the reduced-cost-fixed model ({k:,} of {len(pairs):,} pairs; LP {z:,.0f}; "
                      f"UB {upper:,.0f} from our plan): {res.message}",
            "objective": min(upper, found), "bound": bound, "proven": res.status == 0 or bound >= min(upper, found) - 0.5,
            "limit": time_limit}


def fixed_cpsat(case: Case, plan: np.ndarray, det_time: float, workers: int) -> dict:
    """CP-SAT hinted with ``plan`` on the reduced-cost-fixed model (see :func:`fixed_optimum`), its subsolvers
    interleaved deterministically on one thread (``interleave_search``, ``workers`` of them: LNS included)."""
    from ortools.sat.python import cp_model

    tm, d, cap = case.travel, case.demand, case.capacity
    upper = objective_of(case, plan)
    z, pairs, rc = lp_reduced_costs(case)
    keep = pairs[rc <= upper - z + 1e-6 * upper]
    model = cp_model.CpModel()
    xs = [model.new_bool_var("") for _ in keep]
    rows: dict[int, list] = {}
    seats: dict[int, list] = {}
    obj = []
    for v, k in zip(xs, keep.tolist(), strict=True):
        i, j = int(tm.origin[k]), int(tm.dest[k])
        rows.setdefault(i, []).append(v)
        seats.setdefault(j, []).append(int(d[i]) * v)
        obj.append(int(d[i]) * int(tm.time_s[k]) * v)
        model.add_hint(v, bool(plan[i] == j))
    for lits in rows.values():
        model.add_exactly_one(lits)
    for j, terms in seats.items():
        model.add(sum(terms) <= int(cap[j]))
    model.minimize(sum(obj))
    solver = cp_model.CpSolver()
    prm = solver.parameters
    prm.num_workers, prm.interleave_search, prm.random_seed = workers, True, 0
    prm.max_deterministic_time = det_time
    t0 = time.perf_counter()
    status = solver.solve(model)
    found = solver.objective_value if status in (cp_model.OPTIMAL, cp_model.FEASIBLE) else math.inf
    bound = min(upper, solver.best_objective_bound)
    return {"seconds": round(time.perf_counter() - t0, 1),
            "status": f"CP-SAT interleaved ({workers} subsolvers, one thread, deterministic time {det_time:g}) hinted with"
                      f" our plan on the reduced-cost-fixed model ({len(keep):,} of {len(pairs):,} pairs; UB {upper:,.0f}):"
                      f" {solver.status_name(status)}",
            "objective": min(upper, found), "bound": bound, "proven": bound >= min(upper, found) - 0.5, "limit": det_time}


def merge_reference(old: dict | None, run: dict) -> dict:
    """The best of the cached reference and a new MIP ``run``: highest bound, cheapest plan, every run listed."""
    runs = [*(old or {}).get("runs", [{k: v for k, v in (old or {}).items() if k != "runs"}] if old else []), run]
    bounds = [r["bound"] for r in runs if not math.isnan(r["bound"])]
    plans = [r["objective"] for r in runs if not math.isnan(r["objective"])]
    best = {"bound": max(bounds, default=math.nan), "objective": min(plans, default=math.nan)}
    proven = any(r["proven"] for r in runs) or (bool(plans) and bool(bounds) and best["bound"] >= best["objective"] - 0.5)
    status = run["status"] if len(runs) == 1 else f"best bound and plan of the {len(runs)} runs listed"
    return {**run, **best, "status": status, "proven": proven, "limit": max(r.get("limit", 0) for r in runs), "runs": runs}


def optimum(case: Case, time_limit: float, cache: dict, solver: str = "highs") -> dict:
    """The cached reference of ``case``: computed and merged into the cache when missing or run with less time.

    The reference keeps the highest proven bound and the cheapest plan of every
    MIP run (HiGHS, SCIP), each run listed under ``runs`` with its solver and time.
    """
    got = cache.get(case.name)
    done = [r for r in (got or {}).get("runs", [got] if got else []) if solver.lower() in str(r.get("status", "")).lower()]
    if got is not None and (got["proven"] or any(r.get("limit", 0) >= time_limit for r in done)):
        return got
    run = highs_optimum(case, time_limit) if solver == "highs" else scip_optimum(case, time_limit)
    got = merge_reference(got, {**run, "limit": time_limit})
    cache[case.name] = got
    CACHE.parent.mkdir(parents=True, exist_ok=True)
    CACHE.write_text(json.dumps(cache, indent=1, sort_keys=True) + "\n")
    return got


# --- peers -------------------------------------------------------------------------------


def plain_cpsat(case: Case, time_s: float, workers: int) -> tuple[float, float]:
    """Plain CP-SAT model (``bench_zones.plain_cpsat``) given ``time_s`` wall seconds: objective (nan: none) and its bound."""
    value, bound, _, _ = bench_zones.plain_cpsat(case.travel, case.demand, case.capacity, time_s, workers)
    return value, bound


def ours(case: Case, limit: float, *, anytime: bool = True, graph: BlockGraph | None = None, budget_only: bool = False) -> dict:
    """Our plan with ``time_limit_s = limit``: objective (on the case's own costs), bound, seconds, details.

    ``budget_only``: the work budget of ``limit`` with the clock lifted (a 1-hour cap), i.e. the plan a
    machine fast enough for the budget returns (a quiet 2-core one), whatever the load here.
    """
    from planning.zones import options as zone_options

    opts = ZoneOptions(anytime=anytime, contiguity=graph is not None)
    rate = zone_options.WORK_PER_SECOND
    run_limit = 3600.0 if budget_only else limit
    zone_options.WORK_PER_SECOND = rate * limit / run_limit
    t0, c0 = time.perf_counter(), time.process_time()
    try:
        plan = from_arrays(case.travel, case.demand, case.capacity, reach=NO_CAP, graph=graph, options=opts,
                           limits=SolveLimits(time_limit_s=run_limit, seed=0))
    finally:
        zone_options.WORK_PER_SECOND = rate
    secs, cpu = time.perf_counter() - t0, time.process_time() - c0
    over = int(plan.overflow["over_by"].sum()) if len(plan.overflow) else 0
    return {"objective": plan.objective_s, "bound": plan.bound_s, "seconds": secs, "cpu": cpu, "over": over,
            "work": float(plan.details.get("work_units", 0.0)),
            "contiguous": plan.contiguous, "pieces": len(plan.enclaves), "plan": plan, "wall_stops": plan.wall_stops}


def adjacency_of(case: Case) -> BlockGraph:
    """Voronoi cells of the blocks as their adjacency; each school's own block the cell it stands in."""
    import shapely

    from geo.adjacency import point_adjacency, voronoi_cells
    from planning.zones import school_roots

    assert case.bxy is not None and case.sxy is not None
    cells = voronoi_cells(case.bxy)
    return BlockGraph(point_adjacency(case.bxy, cells), school_roots(cells, shapely.points(case.sxy)))


# --- the table ---------------------------------------------------------------------------


def _gap(value: float, ref: float) -> str:
    if math.isnan(value) or math.isnan(ref) or ref <= 0:
        return "—"
    return f"{(value - ref) / ref:+.3%}"


def _reference(best: dict, runs: object) -> tuple[float, str]:
    """The gap's reference: the proven optimum, else the highest proven bound — the MIP's or our own (every run's
    bound is a valid lower bound too; HiGHS may stop before it has one on the larger instances)."""
    if best["proven"]:
        return best["objective"], "opt"
    ours_bound = max((r["bound"] for r in runs), default=math.nan)  # type: ignore[attr-defined]
    mip = best["bound"]
    if math.isnan(mip) or (not math.isnan(ours_bound) and ours_bound > mip):
        return ours_bound, "our bound"
    return mip, "bound"


def run_case(case: Case, args: argparse.Namespace, cache: dict) -> list[str]:
    """One row of the table: optimum, previous method, ours at each limit, plain CP-SAT, contiguity."""
    best = optimum(case, args.prove_time, cache, args.prove_solver)
    prev = ours(case, max(args.limits), anytime=False)
    runs = {lim: ours(case, lim, budget_only=args.budget_only) for lim in sorted(args.limits)}
    ref, tag = _reference(best, runs.values())
    cells = [f"{ref:,.0f} ({tag})", _gap(best["objective"], ref), f"{_gap(prev['objective'], ref)} {prev['seconds']:.0f}s"]
    for i, (_lim, r) in enumerate(runs.items()):
        own_gap = (r["objective"] - r["bound"]) / r["objective"]
        worse = any(o["objective"] < r["objective"] for o in list(runs.values())[:i])  # a shorter limit's plan was better
        cells.append(f"{_gap(r['objective'], ref)} {r['seconds']:.0f}s cpu {r['cpu']:.0f}s {r['work']:.1f}u (own {own_gap:.2%})"
                     + (f" OVER {r['over']}" if r["over"] else "")
                     + (" WALL CAP" if r["wall_stops"] else "")
                     + (" WORSE THAN A SHORTER LIMIT" if worse else ""))
    if not args.no_peer:
        val, _ = plain_cpsat(case, max(args.limits), args.peer_workers)
        cells.append(_gap(val, ref) if not math.isnan(val) else "no plan")
    if args.contiguity and case.bxy is not None:
        c = ours(case, max(args.limits), graph=adjacency_of(case), budget_only=args.budget_only)
        whole = "whole" if c["contiguous"] else f"{c['pieces']} pieces"
        cells.append(f"{_gap(c['objective'], ref)} {whole} {c['seconds']:.0f}s cpu {c['cpu']:.0f}s {c['work']:.1f}u"
                     + (" WALL CAP" if c["wall_stops"] else ""))
    return cells


def fixed_references(cases: list[Case], args: argparse.Namespace, cache: dict) -> int:
    """``--fixed-prove``: a sound reference from HiGHS on the reduced-cost-fixed model of each case, merged into the cache."""
    from planning.zones import options as zone_options

    for case in cases:
        limit = args.fixed_from / zone_options.WORK_PER_SECOND  # the time limit whose budget is --fixed-from units
        r = ours(case, limit, budget_only=True)
        if args.fixed_solver == "highs":
            run = fixed_optimum(case, r["plan"].block_school, args.fixed_prove)
        else:  # --fixed-prove is CP-SAT's deterministic time then
            run = fixed_cpsat(case, r["plan"].block_school, args.fixed_prove, workers=8)
        run["status"] += f" (our plan: {args.fixed_from:g} units, clock lifted)"
        cache[case.name] = merge_reference(cache.get(case.name), run)
        CACHE.write_text(json.dumps(cache, indent=1, sort_keys=True) + "\n")
        ref = cache[case.name]
        print(f"{case.name}: ours {r['objective']:,.0f}; fixed HiGHS plan {run['objective']:,.0f} bound {run['bound']:,.0f}"
              f" in {run['seconds']:.0f}s; reference plan {ref['objective']:,.0f} bound {ref['bound']:,.0f};"
              f" ours to best plan {_gap(r['objective'], ref['objective'])}, to best bound {_gap(r['objective'], ref['bound'])}"
              f"\n  {run['status']}", flush=True)
    return 0


def lagrange_proof(case: Case, upper: int, time_limit: float, *, cuts: bool = False, rounds: int = 1,
                   solver: str = "highs", log: bool = False) -> dict:
    """:func:`zones_proof.prove` on ``case`` against a known plan costing ``upper``: a run for :func:`merge_reference`.

    ``solver`` ``"scip"``: :func:`zones_proof.prove_rounds` instead (SCIP on each round's model, no cuts).
    """
    tm = case.travel
    gap = zones_proof.gap_of(tm.origin, tm.dest, tm.time_s, case.demand, case.capacity)
    if solver != "highs":
        return zones_proof.prove_rounds(gap, upper, time_limit, rounds, log=log, solver=solver)
    return zones_proof.prove(gap, upper, time_limit, cuts=cuts, rounds=rounds, log=log)


def lagrange_references(cases: list[Case], args: argparse.Namespace, cache: dict) -> int:
    """``--lagrange-prove``: the knapsack Lagrangian bound, fixing and HiGHS on what is left (:mod:`zones_proof`), against
    the cheaper of our plan given ``--lagrange-from`` units (clock lifted) and the cached best plan; merged into the cache."""
    from planning.zones import options as zone_options

    for case in cases:
        r = ours(case, args.lagrange_from / zone_options.WORK_PER_SECOND, budget_only=True)
        cached = cache.get(case.name, {}).get("objective", math.nan)
        mine = round(r["objective"])  # plans cost whole student-seconds; HiGHS's objective may carry float noise
        upper = min(mine, round(cached)) if not math.isnan(cached) else mine
        run = lagrange_proof(case, upper, args.lagrange_prove, cuts=args.lagrange_cuts, rounds=args.lagrange_rounds,
                             solver=args.proof_mip, log=args.log)
        source = "our plan" if upper == mine else "the cached best plan"
        run["status"] += (f" (UB from {source}; our plan: {args.lagrange_from:g} units, clock lifted,"
                          f" {r['objective']:,.0f}, {r['cpu']:.0f} CPU s)")
        old = cache.get(case.name)
        cache[case.name] = merge_reference(old, run)
        CACHE.write_text(json.dumps(cache, indent=1, sort_keys=True) + "\n")
        ref = cache[case.name]
        print(f"{case.name}: old bound {(old or {}).get('bound', math.nan):,.0f} plan {(old or {}).get('objective', math.nan):,.0f};"
              f" Lagrangian {run['lagrange']:,.0f} (LP {run['lp']:,.0f}); proof bound {run['bound']:,.0f} plan {run['objective']:,.0f}"
              f" in {run['seconds']:.0f} s ({run['cpu']:.0f} CPU s); reference bound {ref['bound']:,.0f} plan {ref['objective']:,.0f}"
              f" {'PROVEN' if ref['proven'] else 'open'} ({_gap(ref['objective'], ref['bound'])});"
              f" ours@{args.lagrange_from:g}u {_gap(r['objective'], ref['bound'])}\n  {run['status']}", flush=True)
    return 0


def _cases(args: argparse.Namespace) -> list[Case]:
    if args.orlib:
        return [read_matrix_instance(Path(f), layout=args.orlib_format) for f in args.orlib]
    sizes = [tuple(int(v) for v in s.split("x")) for s in args.sizes]
    return [generate(f, n, m, s, seed) for f in args.families for n, m in sizes for s in args.slacks for seed in args.seeds]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="1,000 × 40, two families, slack 1.01 and 1.06, limits 5 and 15 s")
    ap.add_argument("--families", nargs="+", default=list(FAMILIES), choices=FAMILIES)
    ap.add_argument("--sizes", nargs="+", default=[f"{n}x{m}" for n, m in SIZES])
    ap.add_argument("--slacks", nargs="+", type=float, default=list(SLACKS))
    ap.add_argument("--seeds", nargs="+", type=int, default=[1])
    ap.add_argument("--limits", nargs="+", type=float, default=[15.0, 60.0], help="our time_limit_s values")
    ap.add_argument("--prove-time", type=float, default=300.0, help="HiGHS time per instance (cached)")
    ap.add_argument("--prove-solver", default="highs", choices=("highs", "scip"),
                    help="MIP solver of the reference (its run is merged with the cached ones: best bound, best plan)")
    ap.add_argument("--peer-workers", type=int, default=1)
    ap.add_argument("--no-peer", action="store_true", help="skip plain CP-SAT")
    ap.add_argument("--budget-only", action="store_true",
                    help="our runs with the work budget of each limit and the clock lifted: a quiet machine's plans")
    ap.add_argument("--contiguity", action="store_true", help="also the longest limit with contiguity")
    ap.add_argument("--fixed-prove", type=float, default=0.0, metavar="SECONDS",
                    help="instead of the table: HiGHS for SECONDS on the model reduced-cost fixing leaves below our plan"
                         " given --fixed-from units (clock lifted), merged into the cached reference")
    ap.add_argument("--fixed-solver", default="highs", choices=("highs", "cpsat"),
                    help="--fixed-prove with HiGHS (SECONDS of wall time) or CP-SAT hinted with our plan, 8 subsolvers"
                         " interleaved on one thread (SECONDS of deterministic time)")
    ap.add_argument("--fixed-from", type=float, default=48.0, metavar="UNITS", help="work units of the plan --fixed-prove starts from")
    ap.add_argument("--lagrange-prove", type=float, default=0.0, metavar="SECONDS",
                    help="instead of the table: the knapsack Lagrangian bound to convergence, Lagrangian fixing against the"
                         " best known plan and HiGHS for SECONDS on the pairs left (zones_proof.py), merged into the cache")
    ap.add_argument("--lagrange-from", type=float, default=24.0, metavar="UNITS",
                    help="work units of our plan whose cost (or the cached best plan's, if cheaper) --lagrange-prove fixes against")
    ap.add_argument("--lagrange-cuts", action="store_true",
                    help="--lagrange-prove adds each school's Lagrangian cut (its knapsack's value at the bound's multipliers)"
                         " to HiGHS's model, so its LP starts at the knapsack bound")
    ap.add_argument("--lagrange-rounds", "--proof-rounds", dest="lagrange_rounds", type=int, default=1, metavar="N",
                    help="--lagrange-prove runs the MIP up to N times, fixing again against each cheaper plan it finds"
                         " (stopping gap under one student-second)")
    ap.add_argument("--proof-mip", default="highs", choices=("highs", "scip"),
                    help="--lagrange-prove's MIP on the pairs fixing leaves: HiGHS or SCIP (OR-Tools, one thread)")
    ap.add_argument("--log", action="store_true", help="--lagrange-prove prints the bound's progress")
    ap.add_argument("--orlib", nargs="+", help="instance files given as a cost matrix (instead of generated ones)")
    ap.add_argument("--orlib-format", default="beasley", choices=("beasley", "holmberg"))
    args = ap.parse_args(argv)
    if args.quick:
        args.families, args.sizes, args.slacks, args.limits = ["uniform", "town"], ["1000x40"], [1.01, 1.06], [5.0, 15.0]
        args.prove_time = min(args.prove_time, 60.0)
    cache = json.loads(CACHE.read_text()) if CACHE.exists() else {}
    if args.fixed_prove:
        return fixed_references(_cases(args), args, cache)
    if args.lagrange_prove:
        return lagrange_references(_cases(args), args, cache)
    head = ["instance", "optimum", "best MIP plan", f"previous@{max(args.limits):.0f}s"]
    head += [f"ours@{lim:.0f}s" for lim in sorted(args.limits)]
    head += [] if args.no_peer else [f"plain CP-SAT@{max(args.limits):.0f}s"]
    head += ["contiguity"] if args.contiguity else []
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for case in _cases(args):
        print("| " + " | ".join([case.name, *run_case(case, args, cache)]) + " |", flush=True)
    print("\ngaps: (plan − optimum) / optimum, or to HiGHS's bound where it did not prove the optimum"
          " (best MIP plan: the cheapest plan of the cached HiGHS and SCIP runs);"
          " 'own': (plan − our bound) / plan; cpu: process CPU seconds of the run; u: work units spent;"
          " WALL CAP: the clock, not the work budget, stopped our search (that cell may differ run to run);"
          " WORSE THAN A SHORTER LIMIT: the target 'a longer limit is never worse' missed."
          " Times are wall seconds on a shared 2-core machine.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
