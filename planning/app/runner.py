"""The scenario runner: loads inputs, runs the enabled stages, renders, writes.

:func:`run_scenario` is what ``schoolplan run`` and the stage commands call: a
:class:`~planning.app.session.Session` runs the stages and
:mod:`planning.app.writer` writes their files, the maps and report and
``manifest.json``, atomically and byte-identically for the same inputs and seed.
The output folder is checked and locked before any computing, and the files are
moved into it whole at the end (:class:`~planning.app.outdir.RunFolder`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager, nullcontext, suppress
from dataclasses import dataclass
from pathlib import Path

from geo.errors import InfeasibleError, SolverError
from geo.model import Inputs
from planning.app.outdir import RunFolder
from planning.app.session import Session, input_files, planned_files, validate_report_settings
from planning.app.settings import Scenario
from planning.app.stage import RunResult, StageFailure

StepCallback = Callable[[str], None]

__all__ = ["RunSummary", "StepCallback", "run_scenario"]


@dataclass(frozen=True)
class RunSummary:
    """What a run wrote, for the CLI to print."""

    run: RunResult
    out_dir: Path
    written: tuple[Path, ...]
    summaries: Mapping[str, str]

    @property
    def failed(self) -> StageFailure | None:
        """The stage that stopped the run (its outputs and the later stages' are missing), or ``None``."""
        return self.run.failed


def run_scenario(
    scenario: Scenario,
    out_dir: str | Path | RunFolder,
    *,
    inputs: Inputs | None = None,
    flat: bool = False,
    render: bool = True,
    step: StepCallback | None = None,
) -> RunSummary:
    """Run every enabled stage of a scenario and write its outputs.

    Parameters
    ----------
    scenario
        Validated scenario.
    out_dir
        Output folder (created). Each stage writes under ``out_dir/<stage>/``,
        renderers and ``manifest.json`` at the top. It is checked and locked
        before any computing; the files go into a temporary folder beside it and
        are moved in whole at the end, so a run that fails or is interrupted
        leaves it as it was. Or a run folder already open (the demo writes its
        inputs into it first).
    inputs
        Already validated inputs; read from the scenario's files when ``None``.
    flat
        Write stage files directly in ``out_dir`` (single-stage CLI commands).
    render
        Run the renderers (maps, report) after the stages.
    step
        Called with a short text whenever a long step starts (progress display).

    Returns
    -------
    RunSummary
        Its :attr:`~RunSummary.failed` is set when a stage could not make a plan
        (:class:`~geo.errors.InfeasibleError`, e.g. a ``strict`` stage with a target it cannot meet, or
        :class:`~geo.errors.SolverError`): the run stops there, but every finished stage's files, the
        maps, the report (which explains the failure) and the manifest (which says which stages
        finished) are still written.

    Raises
    ------
    InputError
        Bad input files or settings (every problem listed); an output folder that cannot be
        written, that another run is writing to, or that holds an input or a file of the user's
        where the run writes an output (nothing computed, nothing written).
    """
    opened: AbstractContextManager[RunFolder]
    if isinstance(out_dir, RunFolder):
        folder, opened = out_dir, nullcontext(out_dir)
    else:
        folder = RunFolder(out_dir, planned=planned_files(scenario, flat=flat), inputs=input_files(scenario))
        opened = folder  # checked and locked here, before any computing
    with opened:
        if render:
            validate_report_settings(scenario)  # fail on bad [report] before any long work
        session = Session(scenario, inputs=inputs, step=step)
        with suppress(InfeasibleError, SolverError):  # recorded in session.failed: written with what finished, below
            session.run_all()
        written = session.write(folder, flat=flat, render=render)
    summaries = {name: out.summary for name, out in session.outputs.items() if out.summary}
    return RunSummary(run=session.result(), out_dir=folder.out_dir, written=tuple(written), summaries=summaries)
