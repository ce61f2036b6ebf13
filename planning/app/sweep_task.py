"""One run of a sweep, as a worker runs it: an ordinary scenario run into ``DIR/runs/<run-id>/``.

:func:`execute_run` is what the engine sends to a Dask worker. It makes the run's scenario (and,
for a demo county, generates the county), writes the inputs and the outputs through a
:class:`~planning.app.outdir.RunFolder` (whole or untouched), and returns a :class:`RunOutcome`
instead of raising: a run that fails is recorded with its exit kind and message, and the sweep
goes on. :func:`complete_run` tells a finished run folder from a missing or damaged one (resume).
"""

from __future__ import annotations

import json
import logging
import os
import resource
import socket
import time
import tomllib
import traceback
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import tomli_w

from geo.errors import InfeasibleError, InputError, SolverError
from planning.app.outdir import RunFolder
from planning.app.runner import run_scenario
from planning.app.scenario import load_scenario, scenario_from_dict
from planning.app.session import planned_files
from planning.app.settings import SolverSection
from planning.app.sweep import DemoMaker, RunSpec, run_scenario_data
from planning.app.writer import MANIFEST, sha256_file

#: What became of a run, and the exit code ``schoolplan run`` would have given it.
Status = Literal["ok", "input", "infeasible", "solver", "error"]
EXIT_CODES: dict[str, int] = {"ok": 0, "input": 2, "infeasible": 3, "solver": 4, "error": 4}
#: The run's own scenario, beside its generated inputs (as ``schoolplan demo`` writes it).
SCENARIO_FILE = "inputs/scenario.toml"

__all__ = ["EXIT_CODES", "SCENARIO_FILE", "RunOutcome", "complete_run", "execute_run", "manifest_status"]


@dataclass(frozen=True)
class RunOutcome:
    """What became of one run.

    Attributes
    ----------
    run_id
        The run.
    status
        ``ok`` (every stage made a plan), ``infeasible`` / ``solver`` (a stage could not: the run
        folder is written and explains it, exit 3 / 4), ``input`` (bad input: nothing written, exit 2)
        or ``error`` (an unexpected failure or a worker that died: nothing written).
    message
        Why, when not ``ok`` (the first lines).
    wall_s
        Wall time of the run on its worker, seconds.
    cpu_s
        CPU time of the run's process (all its threads) over the run, seconds.
    peak_rss_mb
        Peak resident memory of the worker process so far, MB.
    worker
        ``host:pid`` of the worker process.
    warnings
        Warnings the run raised (input notes, a lock taken over).
    skipped
        Complete from an earlier sweep, not run again.
    """

    run_id: str
    status: Status
    message: str = ""
    wall_s: float = 0.0
    cpu_s: float = 0.0
    peak_rss_mb: float = 0.0
    worker: str = ""
    warnings: tuple[str, ...] = ()
    skipped: bool = False

    @property
    def exit_code(self) -> int:
        """The exit code of the same run on its own (0, 2, 3, 4)."""
        return EXIT_CODES[self.status]


class _Collect(logging.Handler):
    """Keeps the text of each warning logged (a run's log lines, kept with its outcome)."""

    def __init__(self) -> None:
        super().__init__(level=logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(f"{record.name}: {record.getMessage()}")


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


def _first_lines(text: str, n: int = 6) -> str:
    lines = text.strip().splitlines()
    return "\n".join(lines[:n] + ([f"… ({len(lines) - n} more lines)"] if len(lines) > n else []))


def _files(spec: RunSpec, demo: DemoMaker | None) -> dict[str, Any]:
    """The run's input files: a demo county's generated layers, and its ``scenario.toml`` (as TOML text)."""
    files: dict[str, Any] = {}
    demo_scenario = None
    if spec.county:
        if demo is None:
            msg = "a demo county run needs the demo generator"
            raise ValueError(msg)
        solver = SolverSection(workers=spec.threads)
        _, files = demo.inputs(county=spec.county, scale=spec.scale, seed=spec.seed, solver=solver)
        demo_scenario = tomllib.loads(files["scenario.toml"])
    data = run_scenario_data(spec, demo_scenario)
    text = tomli_w.dumps(data)
    if spec.scenario is None and text == tomli_w.dumps(demo_scenario or {}):
        text = files["scenario.toml"]  # unchanged: the demo's own bytes
    files["scenario.toml"] = text
    return files


def _run(spec: RunSpec, run_dir: Path, demo: DemoMaker | None) -> RunOutcome:
    """Write the run's inputs and run it; the outcome of a run that made (or explained) its plan."""
    files = _files(spec, demo)
    scenario = scenario_from_dict(tomllib.loads(files["scenario.toml"]), base_dir=run_dir / "inputs")
    planned = [*(f"inputs/{name}" for name in files), *planned_files(scenario)]
    with RunFolder(run_dir, planned=planned) as folder:
        folder.write({f"inputs/{name}": payload for name, payload in files.items()}, keep=True)
        summary = run_scenario(load_scenario(folder.staging / SCENARIO_FILE), folder)
    failed = summary.failed
    if failed is None:
        return RunOutcome(spec.run_id, "ok")
    return RunOutcome(spec.run_id, failed.kind, _first_lines(str(failed)))


def execute_run(spec: RunSpec, runs_dir: str, demo: DemoMaker | None = None) -> RunOutcome:
    """Run one sweep run into ``runs_dir/<run_id>/``; never raises for a failing run.

    Parameters
    ----------
    spec
        The run.
    runs_dir
        The sweep's ``runs/`` folder (a path the worker reaches).
    demo
        How demo counties are made (for ``spec.county``).

    Returns
    -------
    RunOutcome
        ``ok``, or the failure's kind and message; with the wall time and the worker's peak memory.
    """
    t0, c0 = time.perf_counter(), time.process_time()
    logged = _Collect()
    root = logging.getLogger()
    root.addHandler(logged)  # the run's log warnings go into its outcome, not onto the worker's console
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            outcome = _run(spec, Path(runs_dir) / spec.run_id, demo)
        except InputError as err:
            outcome = RunOutcome(spec.run_id, "input", _first_lines("\n".join(str(p) for p in err.problems)))
        except (InfeasibleError, SolverError) as err:  # raised before the stages ran (a check of the whole run)
            kind: Status = "infeasible" if isinstance(err, InfeasibleError) else "solver"
            outcome = RunOutcome(spec.run_id, kind, _first_lines(str(err)))
        except Exception as err:
            where = traceback.extract_tb(err.__traceback__)[-1]
            text = f"{type(err).__name__}: {err} (at {Path(where.filename).name}:{where.lineno})"
            outcome = RunOutcome(spec.run_id, "error", _first_lines(text))
        finally:
            root.removeHandler(logged)
    seen = tuple(dict.fromkeys([*(str(w.message) for w in caught), *logged.messages]))
    return RunOutcome(
        outcome.run_id, outcome.status, outcome.message, wall_s=round(time.perf_counter() - t0, 3),
        cpu_s=round(time.process_time() - c0, 3), peak_rss_mb=round(_peak_rss_mb(), 1), worker=f"{socket.gethostname()}:{os.getpid()}", warnings=seen,
    )


# --------------------------------------------------------------------------- finished runs


def read_manifest(run_dir: Path) -> dict[str, Any] | None:
    """The run folder's ``manifest.json``, or ``None`` when missing or not a schoolplan manifest."""
    try:
        data = json.loads((run_dir / MANIFEST).read_bytes())
    except (OSError, ValueError):
        return None
    ok = isinstance(data, dict) and "schoolplan" in data and isinstance(data.get("outputs"), dict)
    return data if ok else None


def complete_run(run_dir: Path) -> dict[str, Any] | None:
    """The manifest of a finished run folder, or ``None`` when it is missing or damaged.

    Finished: ``manifest.json`` is there, and every file it lists (outputs, the kept inputs) and
    every input it read is there with the checksum it recorded.
    """
    data = read_manifest(run_dir)
    if data is None:
        return None
    listed = {**data.get("outputs", {}), **(data.get("kept") or {})}
    for rel, sha in listed.items():
        path = run_dir / rel
        if not path.is_file() or sha256_file(path) != sha:
            return None
    for entry in (data.get("inputs") or {}).values():
        path = Path(str(entry.get("path", "")))
        if not path.is_file() or sha256_file(path) != entry.get("sha256"):
            return None
    return data


def manifest_status(data: dict[str, Any]) -> tuple[Status, str]:
    """``(status, message)`` of a finished run from its manifest: ``ok`` or the failed stage's kind."""
    failed = data.get("failed")
    if not failed:
        return "ok", ""
    kind = failed.get("kind")
    status: Status = kind if kind in ("infeasible", "solver") else "error"
    return status, _first_lines(f"stage {failed.get('stage')!r}: {failed.get('message', '')}")
