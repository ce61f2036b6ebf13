"""Benchmark of optimal single-school zones against a plain CP-SAT model and spopt's PMedian.

Generated instances (blocks × schools): 2,000 × 60, 20,000 × 300, 200,000 × 1,000.
Blocks and schools are uniform in a square (≈150 m between blocks), 0–39
students per block, equal capacities with 10% spare seats in all. Travel is the
straight line × 1.3 at 4.5 km/h, restricted to each block's ``K_NEAREST`` = 20
nearest schools (the bound is the bound of that sparse problem; every method
gets the same candidates).

Ours is the first plan (``anytime=False``: relaxation, priced chains, local
search), the speed of the fast path; what the rest of a time limit adds, against
proven optima on other instance families, is measured by ``bench_zones_suite.py``.

Peers on the same instance, in the same run:

- plain CP-SAT: one Boolean per (block, candidate school), exactly-one and
  capacity constraints, ``--peer-time`` seconds on the same number of workers
  (default: ten times our time, at least 10 s — so a worse objective from the
  peer means we are more than 10× faster at a better objective);
- PySAL ``spopt`` capacitated ``PMedian`` (p = number of schools, CBC via
  pulp), capped at ``--peer-time`` seconds; run only on the smallest instance
  (its dense p-median model on 20,000 × 300 has 6 million variables and does
  not build in reasonable time).

Usage::

    python benchmarks/bench_zones.py            # all three instances
    python benchmarks/bench_zones.py --quick    # 2,000 × 60 only, short limits
    python benchmarks/bench_zones.py --contiguity  # also the 20,000-block instance with contiguity
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from geo.travel import TravelMatrix
from planning.zones import BlockGraph, Reach, SolveLimits, ZoneOptions, from_arrays

FIRST_PLAN = ZoneOptions(anytime=False)

K_NEAREST = 20
#: Every candidate pair counts, however far (the instances are cut to the nearest schools instead).
NO_CAP = Reach(max_travel_s=None)
WALK_MS = 4.5 / 3.6
DETOUR = 1.3


def instance(n: int, m: int, seed: int = 1) -> tuple[TravelMatrix, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    from scipy.spatial import cKDTree

    rng = np.random.default_rng(seed)
    side = np.sqrt(n) * 150.0
    bxy = rng.uniform(0, side, (n, 2))
    sxy = rng.uniform(0, side, (m, 2))
    demand = rng.integers(0, 40, n)
    cap = np.full(m, int(np.ceil(demand.sum() * 1.1 / m)))
    dist, idx = cKDTree(sxy).query(bxy, k=min(K_NEAREST, m))
    return nearest_matrix(dist, idx, m), demand, cap, bxy, sxy


def nearest_matrix(dist: np.ndarray, idx: np.ndarray, m: int) -> TravelMatrix:
    """Walking times to each block's nearest schools (``dist``, ``idx`` of a k-nearest query): straight line × ``DETOUR``."""
    n = len(dist)
    dm = dist.ravel() * DETOUR
    return TravelMatrix(
        origin_ids=np.array([f"b{i:06d}" for i in range(n)]),
        dest_ids=np.array([f"s{j:04d}" for j in range(m)]),
        origin=np.repeat(np.arange(n), idx.shape[1]).astype(np.int32),
        dest=idx.ravel().astype(np.int32),
        time_s=np.rint(dm / WALK_MS).astype(np.int32),
        dist_m=np.rint(dm).astype(np.int32),
        mode="straight",
    )


def plain_cpsat(tm: TravelMatrix, demand: np.ndarray, cap: np.ndarray, time_s: float, workers: int) -> tuple[float, float, str, float]:
    from ortools.sat.python import cp_model

    t0 = time.perf_counter()
    model = cp_model.CpModel()
    n, m = tm.shape
    keep = demand[tm.origin] > 0
    o, d, t = tm.origin[keep], tm.dest[keep], tm.time_s[keep]
    xs = [model.new_bool_var("") for _ in range(len(o))]
    by_block: list[list] = [[] for _ in range(n)]
    by_school: list[list] = [[] for _ in range(m)]
    obj = []
    for k, (i, j, c) in enumerate(zip(o.tolist(), d.tolist(), t.tolist(), strict=True)):
        by_block[i].append(xs[k])
        by_school[j].append(int(demand[i]) * xs[k])
        obj.append(int(demand[i]) * c * xs[k])
    for lits in by_block:
        if lits:
            model.add_exactly_one(lits)
    for j in range(m):
        model.add(sum(by_school[j]) <= int(cap[j]))
    model.minimize(sum(obj))
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = time_s
    solver.parameters.num_workers = workers
    status = solver.solve(model)
    name = solver.status_name(status)
    value = solver.objective_value if status in (cp_model.OPTIMAL, cp_model.FEASIBLE) else float("nan")
    return value, solver.best_objective_bound, name, time.perf_counter() - t0


def spopt_pmedian(tm: TravelMatrix, demand: np.ndarray, cap: np.ndarray, time_s: float) -> tuple[float, str, float]:
    import pulp
    from spopt.locate import PMedian

    t0 = time.perf_counter()
    n, m = tm.shape
    cost = np.full((n, m), 10**7, dtype=float)  # pairs outside the candidates: prohibitive
    cost[tm.origin, tm.dest] = tm.time_s
    keep = demand > 0
    model = PMedian.from_cost_matrix(
        cost[keep], demand[keep].astype(float), p_facilities=m, facility_capacities=cap.astype(float), name="bench"
    )
    try:
        model.solve(pulp.PULP_CBC_CMD(msg=False, timeLimit=time_s))
    except RuntimeError as err:  # spopt raises when CBC stops without a solution
        return float("nan"), f"no solution in {time_s:.0f} s ({err.__class__.__name__})", time.perf_counter() - t0
    status = pulp.LpStatus[model.problem.status]
    value = pulp.value(model.problem.objective)
    return (float("nan") if value is None else float(value)), status, time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="2,000 × 60 only, short limits")
    ap.add_argument("--time-limit", type=float, default=60.0, help="our time limit per instance (s)")
    ap.add_argument("--peer-time", type=float, default=None, help="peer time cap (s); default: our time ×10 (min 10)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--contiguity", action="store_true", help="also solve 20,000 × 300 with contiguity")
    args = ap.parse_args(argv)
    sizes = [(2_000, 60)] if args.quick else [(2_000, 60), (20_000, 300), (200_000, 1_000)]
    print(f"{'instance':>16} {'method':>14} {'time_s':>8} {'objective':>14} {'bound':>14} {'gap':>8} status")
    for n, m in sizes:
        tm, demand, cap, bxy, _ = instance(n, m)
        t0 = time.perf_counter()
        plan = from_arrays(
            tm, demand, cap, reach=NO_CAP, options=FIRST_PLAN, limits=SolveLimits(time_limit_s=args.time_limit, seed=0)
        )
        ours = time.perf_counter() - t0
        label = f"{n}x{m}"
        print(f"{label:>16} {'schoolplan':>14} {ours:8.2f} {plan.objective_s:14.0f} {plan.bound_s:14.0f} {plan.gap:8.3%} {plan.status}")
        peer_time = args.peer_time if args.peer_time is not None else max(10.0 * ours, 10.0)
        if n <= 20_000:
            val, bound, status, pt = plain_cpsat(tm, demand, cap, peer_time, args.workers)
            ratio = pt / ours
            gap = (val - plan.bound_s) / val if not math.isnan(val) else math.nan
            print(f"{label:>16} {'plain CP-SAT':>14} {pt:8.2f} {val:14.0f} {bound:14.0f} {gap:8.3%} {status} (×{ratio:.1f} our time)")
        else:
            print(f"{label:>16} {'plain CP-SAT':>14} skipped: {len(tm.origin):,} Booleans do not build in the budget")
        if n <= 2_000:
            val, status, pt = spopt_pmedian(tm, demand, cap, peer_time)
            gap = (val - plan.bound_s) / val if not math.isnan(val) else math.nan
            print(f"{label:>16} {'spopt PMedian':>14} {pt:8.2f} {val:14.0f} {'':>14} {gap:8.3%} {status} (×{pt / ours:.1f} our time)")
        else:
            print(f"{label:>16} {'spopt PMedian':>14} skipped: dense {n}×{m} model too large for CBC via pulp")
        if args.contiguity and n == 20_000:
            from geo.adjacency import point_adjacency, voronoi_cells

            t0 = time.perf_counter()
            cells = voronoi_cells(bxy)
            adj = point_adjacency(bxy, cells)
            import shapely

            from planning.zones import school_roots

            roots = school_roots(cells, shapely.points(instance(n, m)[4]))
            t1 = time.perf_counter()
            cplan = from_arrays(
                tm, demand, cap, reach=NO_CAP, graph=BlockGraph(adj, roots), options=FIRST_PLAN,
                limits=SolveLimits(time_limit_s=args.time_limit),
            )
            t2 = time.perf_counter()
            print(
                f"{label:>16} {'+contiguity':>14} {t2 - t1:8.2f} {cplan.objective_s:14.0f} {cplan.bound_s:14.0f} "
                f"{cplan.gap:8.3%} contiguous={cplan.contiguous} detached={len(cplan.enclaves)} (adjacency {t1 - t0:.1f} s)"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
