"""Benchmark of ``schoolplan sweep``: demo counties one after another vs on a local Dask cluster.

Target (issue 19): 12 demo counties (scale 1) on a 2-core machine in ≤ 0.6 × the sequential wall
time, memory per worker reported; the cost per run and the scheduler's overhead per task measured,
and from them a projection of a province (107 counties × 3 scenarios) on 8 machines × 16 cores.

The peer, measured in the same run on the same counties: the same runs one after another in this
process (:func:`planning.app.sweep_task.execute_run`, what ``schoolplan demo`` does per county),
with 2 solver threads (all the cores, as a user running them one by one would). The sweep runs them
on a ``LocalCluster`` of one worker process per core, 1 solver thread each (workers × threads ≤
cores). The counties are spread over 陕西 (every 9th code from 610102), the default demo seed.

On a machine shared with other sessions the cores this process gets are not the machine's: the
script first measures the **parallel capacity** it is given (a CPU-bound loop in 1 process and in
one process per core at once: capacity = cores × t₁ / t_n, 2.0 on a free 2-core machine), which
bounds the speed-up any engine could show, and reports each run's CPU time, which does not depend
on the load: with free cores the sweep's wall is about its start plus Σ CPU ÷ cores.

Run::

    .venv/bin/python benchmarks/bench_sweep.py            # 12 counties, scale 1 (several minutes)
    .venv/bin/python benchmarks/bench_sweep.py --quick    # 3 counties, scale 0.3
"""

from __future__ import annotations

import argparse
import math
import statistics
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from planning.app import cli
from planning.app.sweep import DemoMaker, RunSpec
from planning.app.sweep_engine import SweepOptions, machine_cores, run_sweep
from planning.app.sweep_task import execute_run

DEMO = DemoMaker(scenario=cli.demo_scenario_dict, inputs=cli.demo_inputs)
NOOP_TASKS = 200
PROVINCE_RUNS = 107 * 3
CLUSTER_MACHINES, CLUSTER_CORES = 8, 16


def _counties(n: int) -> list[str]:
    from geo.boundaries import list_counties

    codes = [c for c in list_counties()["code"] if c.startswith("61")]
    step = max(1, len(codes) // n)
    return codes[::step][:n]


def _sweep_file(folder: Path, counties: list[str], scale: float, time_limit: float) -> Path:
    path = folder / "sweep.toml"
    listed = ", ".join(f'"{c}"' for c in counties)
    path.write_text(f'counties = [{listed}]\nscale = {scale}\n[set]\n"solver.time_limit_s" = {time_limit}\n', encoding="utf-8")
    return path


def _spin(n: int) -> float:
    t0 = time.perf_counter()
    x = 0
    for i in range(n):
        x += i
    return time.perf_counter() - t0


def capacity(cores: int, n: int = 20_000_000) -> float:
    """Cores this process tree gets now: ``cores × t₁ / t_cores`` for a CPU-bound loop (``cores`` on a free machine)."""
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(cores) as pool:
        list(pool.map(_spin, [1000] * cores))  # start the processes
        one = pool.submit(_spin, n).result()
        t0 = time.perf_counter()
        list(pool.map(_spin, [n] * cores))
        together = time.perf_counter() - t0
    return cores * one / together


def sequential(counties: list[str], scale: float, time_limit: float, out: Path) -> tuple[float, list[float], list[float]]:
    """Wall time of the runs one after another in this process (2 solver threads), and each run's wall and CPU time."""
    t0 = time.perf_counter()
    walls, cpus = [], []
    for code in counties:
        spec = RunSpec(code, county=code, scale=scale, fixed=(("solver.time_limit_s", time_limit),), threads=machine_cores())
        outcome = execute_run(spec, str(out), DEMO)
        if outcome.status != "ok":  # recorded, not fatal: the sweep records it too, and the timing still counts
            print(f"  sequential run {code}: {outcome.status}: {outcome.message.splitlines()[0] if outcome.message else ''}")
        walls.append(outcome.wall_s)
        cpus.append(outcome.cpu_s)
    return time.perf_counter() - t0, walls, cpus


def scheduler_overhead(workers: int) -> tuple[float, float]:
    """``(start_s, overhead per task in ms)``: a local cluster's start, and NOOP_TASKS empty tasks' wall / count."""
    import logging

    from distributed import Client, LocalCluster

    t0 = time.perf_counter()
    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0", silence_logs=logging.ERROR) as cluster:
        start = time.perf_counter() - t0
        with Client(cluster) as client:
            client.gather(client.map(abs, range(10)))  # warm
            t1 = time.perf_counter()
            client.gather(client.map(abs, range(-NOOP_TASKS, 0)))
            per_task = (time.perf_counter() - t1) / NOOP_TASKS
    return start, per_task * 1000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="3 counties at scale 0.3")
    ap.add_argument("--counties", type=int, default=None, help="how many counties (default 12, quick 3)")
    ap.add_argument("--scale", type=float, default=None, help="demo scale (default 1, quick 0.3)")
    ap.add_argument("--time-limit", type=float, default=5.0, help="solver time limit per model, deterministic s (default 5)")
    args = ap.parse_args()
    n = args.counties or (3 if args.quick else 12)
    scale = args.scale or (0.3 if args.quick else 1.0)
    counties = _counties(n)
    cores = machine_cores()
    print(f"{n} demo counties of 陕西 (scale {scale:g}, time limit {args.time_limit:g} s) on {cores} cores: {', '.join(counties)}")
    print("Timings on a machine shared with other sessions: expect 2-4x a quiet machine, and noise between the two runs.")
    before = capacity(cores)
    print(f"parallel capacity given to this process tree now: {before:.2f} of {cores} cores")
    with tempfile.TemporaryDirectory(prefix="bench-sweep-") as tmp:
        root = Path(tmp)
        seq_wall, seq_runs, seq_cpu = sequential(counties, scale, args.time_limit, root / "sequential")
        print(f"sequential ({cores} solver threads, one process): {seq_wall:8.1f} s  ({seq_wall / n:.1f} s per run)")
        plan_file = _sweep_file(root, counties, scale, args.time_limit)
        from planning.app.sweep import load_sweep

        t0 = time.perf_counter()
        result = run_sweep(load_sweep(plan_file, DEMO), root / "sweep", options=SweepOptions(workers=cores), demo=DEMO)
        sweep_wall = time.perf_counter() - t0
    failed = {rid: o for rid, o in result.outcomes.items() if o.status != "ok"}
    print(f"runs: {n - len(failed)} ok, {len(failed)} not ok" + "".join(
        f"\n  sweep run {rid}: {o.status}: {o.message.splitlines()[0] if o.message else ''}" for rid, o in sorted(failed.items())))
    after = capacity(cores)
    print(f"parallel capacity after: {after:.2f} of {cores} cores")
    _report(result, (seq_wall, seq_runs, seq_cpu), sweep_wall, n, (before + after) / 2)


def _report(result: object, seq: tuple[float, list[float], list[float]], sweep_wall: float, n: int, given: float) -> None:
    from planning.app.sweep_engine import SweepResult

    assert isinstance(result, SweepResult)
    seq_wall, seq_runs, seq_cpu = seq
    runs = [o.wall_s for o in result.outcomes.values()]
    cpus = [o.cpu_s for o in result.outcomes.values()]
    peak: dict[str, float] = defaultdict(float)
    for o in result.outcomes.values():
        peak[o.worker] = max(peak[o.worker], o.peak_rss_mb)
    ratio = sweep_wall / seq_wall
    print(f"sweep ({result.workers} workers x {result.threads} thread): {sweep_wall:8.1f} s  "
          f"(cluster start {result.start_s:.1f} s)  ratio {ratio:.2f} (target <= 0.60: {'met' if ratio <= 0.6 else 'NOT met'})")
    print(f"cost per run: sequential mean {statistics.mean(seq_runs):.1f} s (max {max(seq_runs):.1f}); "
          f"in the sweep mean {statistics.mean(runs):.1f} s (max {max(runs):.1f}), two runs sharing the cores")
    print(f"CPU time per run: sequential mean {statistics.mean(seq_cpu):.1f} s, in the sweep {statistics.mean(cpus):.1f} s; "
          f"the speed-up the machine allowed ~{given:.2f}x, the sweep's {seq_wall / sweep_wall:.2f}x")
    free = result.start_s + max(sum(cpus) / result.workers, *cpus)
    low, high = sum(seq_cpu) / 2, sum(seq_cpu)  # a sequential run uses 1 to 2 cores
    print(f"with {result.workers} free cores (from CPU times): sweep ~ start + max(sum CPU / workers, longest run) = {free:.0f} s; "
          f"sequential between sum CPU / 2 and sum CPU = {low:.0f}-{high:.0f} s; ratio ~ {free / high:.2f}-{free / low:.2f}")
    print("peak memory per worker process: " + ", ".join(f"{w.split(':')[-1]} {mb:.0f} MB" for w, mb in sorted(peak.items())))
    start, per_task_ms = scheduler_overhead(result.workers)
    busy = sum(runs) / result.workers
    print(f"scheduler: a {result.workers}-worker LocalCluster starts in {start:.1f} s; {NOOP_TASKS} empty tasks: {per_task_ms:.1f} ms per task; "
          f"in this sweep, wall - (sum of run walls / workers) = {sweep_wall - busy:.1f} s ({(sweep_wall - busy) / n:.2f} s per run, start included)")
    _projection(statistics.mean(cpus), max(cpus), max(peak.values()), per_task_ms, start)


def _projection(mean_run_s: float, max_run_s: float, peak_mb: float, per_task_ms: float, start_s: float) -> None:
    """107 counties × 3 scenarios on 8 machines × 16 cores, 1 solver thread per run, from the figures measured.

    A run on a core of its own takes about its CPU time (one solver thread), so the run costs are the
    CPU times measured here (the wall times on this shared machine are inflated by the other sessions).
    """
    slots = CLUSTER_MACHINES * CLUSTER_CORES
    waves = math.ceil(PROVINCE_RUNS / slots)
    work = PROVINCE_RUNS * mean_run_s / slots
    makespan = max(work, max_run_s) + max_run_s * (waves > 1) * 0.5  # the last wave is partly empty: half a run of tail
    overhead = PROVINCE_RUNS * per_task_ms / 1000
    print(
        f"projection: {PROVINCE_RUNS} runs (107 counties x 3 scenarios) on {CLUSTER_MACHINES} x {CLUSTER_CORES} cores = {slots} task slots, "
        f"1 solver thread each: {waves} waves; work {work:.0f} s + tail ~{makespan - work:.0f} s + scheduler {overhead:.1f} s "
        f"+ start ~{start_s:.0f} s = ~{(makespan + overhead + start_s) / 60:.1f} min "
        f"(sequentially on one machine: {PROVINCE_RUNS * mean_run_s / 3600:.1f} h at this run cost); "
        f"memory {CLUSTER_CORES} x {peak_mb:.0f} MB = {CLUSTER_CORES * peak_mb / 1024:.1f} GB per machine"
    )


if __name__ == "__main__":
    main()
