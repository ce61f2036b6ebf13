"""Running a sweep on Dask: a local cluster by default, an existing one when given its address.

Without a scheduler address the engine starts a ``distributed.LocalCluster`` of worker
*processes* (the solvers hold the GIL, so threads would not overlap), one task slot each, as many
as the machine's cores (or ``workers``). With ``scheduler="tcp://host:8786"`` it connects to a
running ``dask scheduler`` and its ``dask worker`` processes, which must reach the inputs and the
output folder at the same paths (a shared filesystem). Each run's solvers get
``threads = min over machines of cores // task slots`` threads (at least 1, and never more than its
scenario asks), so workers × threads ≤ cores; the run's own ``inputs/scenario.toml`` records it.

Runs are independent tasks (:func:`planning.app.sweep_task.execute_run`); a failing run is recorded
and the others go on. The sweep's own files (``summary.csv``, ``summary.html``, ``sweep.json``,
``manifest.json``) go through a :class:`~planning.app.outdir.RunFolder` on ``DIR``, which also keeps
a second sweep out of it. **Resume**: a run whose folder is complete (its manifest and every file it
lists, checksums matching) and whose fingerprint (:attr:`RunSpec.key`) ``sweep.json`` recorded is
not run again. **Ctrl-C**: the futures are cancelled, the cluster is closed (its processes end), the
unfinished run folders are cleaned up (their output folders untouched) and the summary of the runs
that finished is written before :class:`KeyboardInterrupt` goes on to the command line.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import threading
import time
import warnings
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from geo.errors import InputError, Problem
from planning.app.outdir import LOCK_NAME, RunFolder
from planning.app.sweep import DemoMaker, RunSpec, SweepPlan
from planning.app.sweep_summary import summary_files
from planning.app.sweep_task import RunOutcome, complete_run, execute_run, manifest_status
from planning.app.writer import MANIFEST, sha256_file

logger = logging.getLogger(__name__)

#: The sweep's own files in ``DIR``.
SWEEP_STATE = "sweep.json"
SWEEP_FILES = ("summary.csv", "summary.html", SWEEP_STATE, MANIFEST)
#: Seconds the cluster has to close on Ctrl-C before its processes are killed.
CLOSE_TIMEOUT_S = 10

__all__ = ["SWEEP_FILES", "SweepOptions", "SweepResult", "machine_cores", "run_sweep", "threads_per_run"]


@dataclass(frozen=True)
class SweepOptions:
    """How a sweep runs.

    Attributes
    ----------
    scheduler
        Address of a running Dask scheduler (``tcp://host:8786``); ``None`` starts a local cluster.
    workers
        Worker processes of the local cluster; ``None``: one per core.
    connect_timeout_s
        How long to try reaching the scheduler.
    """

    scheduler: str | None = None
    workers: int | None = None
    connect_timeout_s: float = 30.0


@dataclass(frozen=True)
class SweepResult:
    """What a sweep did.

    Attributes
    ----------
    plan
        The runs, with their solver threads.
    outcomes
        Run id → outcome, in plan order (runs not finished when interrupted are missing).
    written
        The sweep's own files written in ``DIR``.
    workers, threads
        Task slots of the cluster and solver threads per run.
    wall_s
        Wall time of the whole sweep; ``start_s`` of it went to starting the cluster.
    interrupted
        Stopped by Ctrl-C.
    """

    plan: SweepPlan
    outcomes: Mapping[str, RunOutcome]
    written: tuple[Path, ...] = ()
    workers: int = 0
    threads: int = 1
    wall_s: float = 0.0
    start_s: float = 0.0
    interrupted: bool = False
    counts: Mapping[str, int] = field(default_factory=dict)


def machine_cores() -> int:
    """Cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def threads_per_run(workers: Mapping[str, Mapping[str, Any]], cores: Mapping[str, int]) -> int:
    """Solver threads per run so that on every machine, task slots × threads ≤ cores.

    Parameters
    ----------
    workers
        The scheduler's workers: address → ``{"host": ..., "nthreads": task slots}``.
    cores
        Worker address → cores of its machine.

    Example
    -------
    >>> threads_per_run({"a": {"host": "m1", "nthreads": 1}, "b": {"host": "m1", "nthreads": 1}}, {"a": 8, "b": 8})
    4
    """
    slots: Counter[str] = Counter()
    machine: dict[str, int] = {}
    for address, info in workers.items():
        host = str(info.get("host", address))
        slots[host] += int(info.get("nthreads", 1))
        machine[host] = int(cores.get(address, 1))
    return max(1, min((machine[h] // max(1, n) for h, n in slots.items()), default=1))


# --------------------------------------------------------------------------- the cluster


@contextlib.contextmanager
def _sigint_ignored() -> Iterator[None]:
    """SIGINT ignored (in the main thread): worker processes started meanwhile inherit it, so a Ctrl-C
    at the terminal reaches only this process, which stops them in order."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


@contextlib.contextmanager
def _own_interrupts() -> Iterator[None]:
    """Keep the command line's interrupt guard out: on Ctrl-C the sweep closes its cluster itself,
    which takes longer than the guard's grace before it ends the process."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.set_wakeup_fd(-1)
    try:
        yield
    finally:
        signal.set_wakeup_fd(previous)


@contextlib.contextmanager
def _client(options: SweepOptions) -> Iterator[Any]:
    """A Dask client on a new local cluster or on the scheduler given; closed (cluster too) on the way out."""
    import dask  # noqa: PLC0415 - only sweeps need Dask
    from distributed import Client, LocalCluster  # noqa: PLC0415

    cluster = None
    quiet = logging.getLogger("distributed")
    level = quiet.level
    quiet.setLevel(logging.ERROR)  # the scheduler's and nannies' INFO lines; a run's own problems are in its outcome
    # not daemonic: a run with more than one thread may start the shortest-path worker processes ([network] workers)
    with dask.config.set({"distributed.worker.daemon": False}):
        if options.scheduler is None:
            n = options.workers or machine_cores()
            with _sigint_ignored():
                cluster = LocalCluster(
                    n_workers=n, threads_per_worker=1, processes=True, dashboard_address=":0",
                    silence_logs=logging.CRITICAL,  # a worker closed by Ctrl-C mid-run logs errors; a run's are in its outcome
                )
            client = Client(cluster)
        else:
            try:
                client = Client(options.scheduler, timeout=f"{options.connect_timeout_s}s")
            except (OSError, ValueError) as err:
                msg = f"cannot reach the Dask scheduler {options.scheduler!r}: {err} (start it with `dask scheduler`, see README)"
                raise InputError([Problem("command line", msg, column="--scheduler")]) from err
    try:
        yield client
    finally:
        with _sigint_ignored():
            client.close(timeout=CLOSE_TIMEOUT_S)
            if cluster is not None:
                cluster.close(timeout=CLOSE_TIMEOUT_S)
        quiet.setLevel(level)


def _cluster_threads(client: Any) -> tuple[int, int]:
    """``(task slots, solver threads per run)`` of the cluster the client is on."""
    info = client.scheduler_info(n_workers=-1)["workers"]
    cores = client.run(machine_cores)
    slots = sum(int(w.get("nthreads", 1)) for w in info.values())
    return slots, threads_per_run(info, cores)


# --------------------------------------------------------------------------- resume


def _previous_keys(out_dir: Path) -> dict[str, dict[str, Any]]:
    """Run id → what the previous sweep into ``out_dir`` recorded (``sweep.json``), or empty."""
    try:
        data = json.loads((out_dir / SWEEP_STATE).read_bytes())
    except (OSError, ValueError):
        return {}
    runs = data.get("runs") if isinstance(data, dict) else None
    return {k: v for k, v in runs.items() if isinstance(v, dict)} if isinstance(runs, dict) else {}


def _finished_before(spec: RunSpec, runs_dir: Path, previous: Mapping[str, Mapping[str, Any]]) -> RunOutcome | None:
    """The outcome of a run an earlier sweep finished with the same fingerprint, or ``None``."""
    before = previous.get(spec.run_id, {})
    if before.get("key") != spec.key:
        return None
    data = complete_run(runs_dir / spec.run_id)
    if data is None:
        return None
    status, message = manifest_status(data)
    return RunOutcome(
        spec.run_id, status, message, wall_s=float(before.get("wall_s", 0.0)),
        peak_rss_mb=float(before.get("peak_rss_mb", 0.0)), worker=str(before.get("worker", "")), skipped=True,
    )


def _manifest_sha(run_dir: Path) -> str | None:
    path = run_dir / MANIFEST
    return sha256_file(path) if path.is_file() else None


def _written_meanwhile(
    todo: list[RunSpec], runs_dir: Path, before: Mapping[str, str | None], known: Mapping[str, RunOutcome]
) -> dict[str, RunOutcome]:
    """Runs this sweep finished whose outcome had not reached it when Ctrl-C came: a complete folder with a new manifest."""
    found = {}
    for spec in todo:
        run_dir = runs_dir / spec.run_id
        if spec.run_id in known or _manifest_sha(run_dir) == before.get(spec.run_id):
            continue
        data = complete_run(run_dir)
        if data is not None:
            status, message = manifest_status(data)
            found[spec.run_id] = RunOutcome(spec.run_id, status, message)
    return found


def _clean_unfinished(runs_dir: Path) -> None:
    """Remove the temporary folders and locks that runs stopped with Ctrl-C left beside their folders."""
    for lock in sorted(runs_dir.glob(f".*.{LOCK_NAME}")):
        name = lock.name[1 : -len(f".{LOCK_NAME}")]
        with warnings.catch_warnings(), contextlib.suppress(Exception):
            warnings.simplefilter("ignore")  # "an earlier run stopped before it finished": that is the point
            with RunFolder(runs_dir / name):
                pass  # opening takes the dead run's lock over and removes its files; leaving removes ours


# --------------------------------------------------------------------------- the sweep


def _state(result: SweepResult, options: SweepOptions) -> dict[str, Any]:
    """``sweep.json``: each run's fingerprint and outcome, for a resumed sweep and for the benchmark."""
    keys = {r.run_id: r.key for r in result.plan.runs}
    return {
        "sweep": str(result.plan.path),
        "scheduler": options.scheduler or "local",
        "workers": result.workers,
        "threads_per_run": result.threads,
        "interrupted": result.interrupted,
        "runs": {
            rid: {
                "key": keys[rid], "status": o.status, "exit_code": o.exit_code, "message": o.message, "wall_s": o.wall_s,
                "cpu_s": o.cpu_s, "peak_rss_mb": o.peak_rss_mb, "worker": o.worker, "skipped": o.skipped, "warnings": list(o.warnings),
            }
            for rid, o in result.outcomes.items()
        },
    }


def _size(spec: RunSpec) -> int:
    """How long a run is expected to take, as a Dask priority: the largest demo counties start first, so
    that no long run is left for the end while the other workers wait (a county's size follows its area)."""
    if not spec.county:
        return 0
    from geo.boundaries import county_outline  # noqa: PLC0415

    try:
        return round(county_outline(spec.county).area * 1000)  # square degrees: only the order counts
    except InputError:
        return 0


def _execute(
    client: Any, todo: list[RunSpec], runs_dir: Path, demo: DemoMaker | None, on_done: Callable[[RunOutcome], None]
) -> dict[str, RunOutcome]:
    """Submit every run and collect the outcomes as they come; a worker that dies fails its run only."""
    from distributed import as_completed  # noqa: PLC0415

    futures = {
        client.submit(execute_run, spec, str(runs_dir), demo, key=f"run-{spec.run_id}-{spec.key}", retries=0, priority=_size(spec)): spec
        for spec in todo
    }
    done: dict[str, RunOutcome] = {}
    try:
        for future in as_completed(futures):
            spec = futures[future]
            try:
                outcome = future.result()
            except Exception as err:
                outcome = RunOutcome(spec.run_id, "error", f"the worker running it failed: {type(err).__name__}: {err}")
            done[spec.run_id] = outcome
            on_done(outcome)
    except BaseException:
        client.cancel(list(futures), force=True)
        raise
    return done


def run_sweep(
    plan: SweepPlan,
    out_dir: str | Path,
    *,
    options: SweepOptions = SweepOptions(),
    demo: DemoMaker | None = None,
    on_start: Callable[[SweepResult], None] | None = None,
    on_done: Callable[[RunOutcome], None] | None = None,
) -> SweepResult:
    """Run every run of a sweep on Dask and write ``DIR/runs/<run-id>/`` and the summary.

    Parameters
    ----------
    plan
        The runs (:func:`planning.app.sweep.load_sweep`).
    out_dir
        ``DIR``: each run goes to ``DIR/runs/<run-id>/`` (whole or untouched), the summary to ``DIR``.
    options
        Scheduler address or local workers.
    demo
        How demo counties are made (runs of ``counties``).
    on_start
        Called once the cluster is up: the result so far (workers, threads, the runs skipped).
    on_done
        Called with each run's outcome as it finishes (progress).

    Returns
    -------
    SweepResult
        Every run's outcome (after Ctrl-C, ``sweep.json`` records the runs finished and ``interrupted``).

    Raises
    ------
    InputError
        ``DIR`` cannot be written or another sweep is writing to it.
    KeyboardInterrupt
        Ctrl-C: the cluster is stopped, the finished runs are kept and summarized; the message says so.
    """
    out_dir = Path(out_dir)
    t0 = time.perf_counter()
    with RunFolder(out_dir, planned=SWEEP_FILES, inputs=plan.files) as top, _own_interrupts():
        runs_dir = out_dir / "runs"
        previous = _previous_keys(out_dir)
        outcomes: dict[str, RunOutcome] = {}
        result = SweepResult(plan=plan, outcomes=outcomes)
        todo: list[RunSpec] = []
        shas: dict[str, str | None] = {}  # each run's manifest before this sweep ran it
        try:
            with _client(options) as client:
                runs_dir.mkdir(parents=True, exist_ok=True)  # here, not by each worker (they would race making it)
                slots, threads = _cluster_threads(client)
                plan = plan.with_threads(threads)
                for spec in plan.runs:
                    if (before := _finished_before(spec, runs_dir, previous)) is not None:
                        outcomes[spec.run_id] = before
                result = SweepResult(plan=plan, outcomes=outcomes, workers=slots, threads=threads, start_s=time.perf_counter() - t0)
                if on_start is not None:
                    on_start(result)
                todo = [s for s in plan.runs if s.run_id not in outcomes]
                shas = {s.run_id: _manifest_sha(runs_dir / s.run_id) for s in todo}

                def collect(outcome: RunOutcome) -> None:
                    outcomes[outcome.run_id] = outcome
                    if on_done is not None:
                        on_done(outcome)

                _execute(client, todo, runs_dir, demo, collect)
        except KeyboardInterrupt:
            _clean_unfinished(runs_dir)
            outcomes.update(_written_meanwhile(todo, runs_dir, shas, outcomes))
            result = _finish(top, result, outcomes, t0, options, interrupted=True)
            msg = (
                f"{sum(not o.skipped for o in result.outcomes.values())} run(s) finished and kept, "
                f"{len(plan.runs) - len(result.outcomes)} stopped (their folders untouched); "
                f"summary written to {out_dir}; run the same command again to resume"
            )
            raise KeyboardInterrupt(msg) from None
        return _finish(top, result, outcomes, t0, options, interrupted=False)


def _finish(
    top: RunFolder, result: SweepResult, outcomes: Mapping[str, RunOutcome], t0: float, options: SweepOptions, *, interrupted: bool
) -> SweepResult:
    """Write the summary and ``sweep.json`` of the runs finished (in plan order) and move them into ``DIR``."""
    plan = result.plan
    ordered = {r.run_id: outcomes[r.run_id] for r in plan.runs if r.run_id in outcomes}
    counts: Counter[str] = Counter(o.status for o in ordered.values())
    result = SweepResult(
        plan=plan, outcomes=ordered, workers=result.workers, threads=result.threads, start_s=result.start_s,
        wall_s=round(time.perf_counter() - t0, 3), interrupted=interrupted, counts=dict(counts),
    )
    runs_dir = top.out_dir / "runs"
    files: dict[str, Any] = {**summary_files(plan, ordered, runs_dir), SWEEP_STATE: _state(result, options)}
    with _sigint_ignored():
        top.write(files)
        outputs = {p.relative_to(top.staging).as_posix(): sha256_file(p) for p in top.outputs}
        top.write({MANIFEST: {"schoolplan": _version(), "sweep": str(plan.path), "outputs": outputs, "kept": {}}})
        written = top.commit()
    return replace(result, written=tuple(written))


def _version() -> str:
    from importlib import metadata  # noqa: PLC0415

    try:
        return metadata.version("schoolplan")
    except metadata.PackageNotFoundError:  # pragma: no cover - not installed
        return "unknown"
