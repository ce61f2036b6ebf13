"""Contiguity column of ``bench_zones_suite.py`` alone, with the figures that explain it.

Runs our method with contiguity (Voronoi adjacency of the blocks, as
``bench_zones_suite.py --contiguity``) on suite instances and prints, per
instance: the plan's gap to the cached reference without contiguity
(``benchmarks/instances/zones_optima.json``; run ``bench_zones_suite.py``
first to fill it) and to the MIP solver's plan cached with it (a plan
without contiguity), the pieces left, the pieces joined by
:func:`planning.zones.connect.chain_and_polish`, wall seconds, and the work units the
joining and the whole run took. ``--no-wall`` lifts the wall-clock deadline
so that the deterministic work budget alone stops the run (the same plan on
any machine; use it on a loaded machine, where the clock would cut the run
short and the figures would depend on the load).

Usage::

    python benchmarks/bench_zones_contiguity.py town:1000x40:1.01 uniform:3000x80:1.01 --no-wall
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_zones_suite as suite

import planning.zones.plan as zone_plan


def run(spec: str, limit: float, cache: dict) -> str:
    """One instance ``family:NxM:slack``: a row of the table."""
    family, size, slack = spec.split(":")
    n, m = (int(v) for v in size.split("x"))
    case = suite.generate(family, n, m, float(slack))
    ref = cache.get(case.name, {}).get("bound", float("nan"))
    mip = cache.get(case.name, {}).get("objective", float("nan"))
    graph = suite.adjacency_of(case)
    t0 = time.perf_counter()
    got = suite.ours(case, limit, graph=graph)
    d = got["plan"].details
    whole = "whole" if got["contiguous"] else f"{got['pieces']} pieces"
    polished = d.get("polished_pieces", 0)
    for why in got["plan"].enclave_reasons:
        print(f"<!-- {case.name}: {why} -->", file=sys.stderr)
    return (f"| {case.name} | {suite._gap(got['objective'], ref)} | {suite._gap(got['objective'], mip)} | {whole} "
            f"| {polished} | {time.perf_counter() - t0:.0f} s "
            f"| {d.get('first_plan_work_units')} | {d.get('work_units')} | {got['wall_stops']} "
            f"| {got['objective']:.0f} | {got['over']} |")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("instances", nargs="+", help="family:NxM:slack, e.g. town:1000x40:1.01")
    ap.add_argument("--limit", type=float, default=60.0, help="time_limit_s")
    ap.add_argument("--no-wall", action="store_true", help="the work budget alone stops the run (no wall deadline)")
    args = ap.parse_args(argv)
    if args.no_wall:
        zone_plan._deadline = lambda t0, limits: float("inf")  # type: ignore[assignment]
    cache = json.loads(suite.CACHE.read_text()) if suite.CACHE.exists() else {}
    print("| instance | contiguity vs reference | vs MIP plan | pieces | joined by chain and polish | wall "
          "| work units, first plan | work units | wall stops | objective | students over capacity |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for spec in args.instances:
        print(run(spec, args.limit, cache), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
