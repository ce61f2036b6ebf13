"""``schoolplan sweep``: the command's console side (a progress bar over runs, what failed, the exit code).

The exit code is the worst of the runs': 0 when every run made its plan, else 2, 3 or 4 as
``schoolplan run`` gives for that run (an unexpected failure or a worker that died counts as 4);
every run's status and message are in ``DIR/summary.csv``.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from planning.app.sweep import DemoMaker, load_sweep
from planning.app.sweep_engine import SweepOptions, SweepResult, run_sweep
from planning.app.sweep_task import RunOutcome

#: Failed runs listed on the console; the rest are in summary.csv.
MAX_FAILURES_SHOWN = 10

__all__ = ["sweep_command"]


class _RunProgress:
    """A bar over runs on a terminal (a line per run above it); a line per run otherwise; nothing with ``quiet``."""

    def __init__(self, console: Any, quiet: bool, scheduler: str | None) -> None:
        self.console = console
        self.quiet = quiet
        self.where = "a local cluster" if scheduler is None else f"the cluster at {scheduler}"
        self.bar: Any = None
        self.task: Any = None
        self.t0 = time.perf_counter()

    def start(self, result: SweepResult) -> None:
        total, skipped = len(result.plan.runs), len(result.outcomes)
        if not self.quiet:
            self.console.print(
                f"{total} runs on {self.where}: {result.workers} task slot(s), {result.threads} solver thread(s) per run"
                + (f"; {skipped} finished before, skipped" if skipped else ""),
                markup=False,
            )
        if not self.quiet and self.console.is_terminal:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn  # noqa: PLC0415

            self.bar = Progress(
                TextColumn("sweep"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), TextColumn("left"),
                TimeRemainingColumn(), console=self.console, transient=True,
            )
            self.bar.start()
            self.task = self.bar.add_task("runs", total=total, completed=skipped)

    def done(self, outcome: RunOutcome) -> None:
        if self.quiet:
            return
        mark = "ok" if outcome.status == "ok" else f"{outcome.status} (exit {outcome.exit_code})"
        first = outcome.message.splitlines()[0] if outcome.message else ""
        line = f"[{time.perf_counter() - self.t0:7.1f}s] {outcome.run_id}: {mark} in {outcome.wall_s:.1f} s" + (f" — {first}" if first else "")
        self.console.print(line, markup=False)
        if self.bar is not None:
            self.bar.advance(self.task)

    def stop(self) -> None:
        if self.bar is not None:
            self.bar.stop()
            self.bar = None


def _report(console: Any, result: SweepResult, out_dir: Path) -> int:
    """Counts by status, the failed runs, where the summary is; the exit code (the worst run's)."""
    outcomes = list(result.outcomes.values())
    counts = ", ".join(f"{n} {s}" for s, n in sorted(result.counts.items()))
    skipped = sum(o.skipped for o in outcomes)
    console.print(
        f"Sweep finished in {result.wall_s:.1f} s: {len(outcomes)} runs ({counts})" + (f", {skipped} kept from before" if skipped else "") + ".",
        markup=False,
    )
    failed = [o for o in outcomes if o.status != "ok"]
    for o in failed[:MAX_FAILURES_SHOWN]:
        first = o.message.splitlines()[0] if o.message else ""
        console.print(f"  {o.run_id}: {o.status} (exit {o.exit_code}) {first}", markup=False)
    if len(failed) > MAX_FAILURES_SHOWN:
        console.print(f"  … and {len(failed) - MAX_FAILURES_SHOWN} more (summary.csv lists them all)", markup=False)
    console.print(f"Runs in {out_dir / 'runs'}/; summary in {out_dir / 'summary.csv'} and {out_dir / 'summary.html'}.", markup=False)
    return max((o.exit_code for o in outcomes), default=0)


def sweep_command(args: Any, *, demo: DemoMaker, console: Any) -> int:
    """Run ``schoolplan sweep SWEEP.toml --out DIR [--scheduler ADDRESS] [--workers N]``.

    Raises
    ------
    InputError
        A bad sweep file or run scenario (nothing run), or ``DIR`` cannot be written.
    KeyboardInterrupt
        Ctrl-C, once the cluster is stopped and the finished runs are summarized (the message says so).
    """
    plan = load_sweep(args.sweep, demo)
    out_dir = Path(args.out)
    progress = _RunProgress(console, args.quiet, args.scheduler)
    try:
        result = run_sweep(
            plan, out_dir, options=SweepOptions(scheduler=args.scheduler, workers=args.workers), demo=demo,
            on_start=progress.start, on_done=progress.done,
        )
    finally:
        progress.stop()
    return _report(console, result, out_dir)
