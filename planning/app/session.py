"""A planning session: the Python API for scenario scripts.

Load a scenario (or build one in code), run stages one at a time with
parameter overrides, inspect results as GeoDataFrames/DataFrames, write.
The CLI and :func:`planning.app.runner.run_scenario` use the same object.

Example
-------
>>> from planning.app.session import Session
>>> s = Session.from_file("out/demo/inputs/scenario.toml")      # doctest: +SKIP
>>> zones = s.run("zones", levels=["primary"], max_moved=500)    # doctest: +SKIP
>>> zones.files["primary/assignment.csv"].head()                 # doctest: +SKIP
>>> s.table("balance", "balance.csv")                            # doctest: +SKIP
>>> s.write("out/my-plan")                                       # doctest: +SKIP
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import pandas as pd
from pydantic import ValidationError

from geo.errors import InfeasibleError, InputError, Problem, SolverError
from geo.io import load_inputs, load_table
from geo.model import LEVELS, Inputs
from planning.app import stages as registry
from planning.app.exports import export_files, export_paths
from planning.app.outdir import RunFolder
from planning.app.scenario import load_scenario
from planning.app.settings import Scenario, StageParams, problems_from
from planning.app.stage import (
    SHORTFALLS_FILE,
    Context,
    Renderer,
    RunResult,
    StageFailure,
    StageOutput,
    TableKey,
    layer_files,
    shortfalls_table,
    table_files,
)
from planning.app.writer import MANIFEST, manifest

RENDERER_GROUP = "schoolplan.renderers"


# --------------------------------------------------------------------------- loading


@dataclass(frozen=True)
class ScenarioData:
    """A scenario's validated data: the input layers and the table files its stages name.

    Attributes
    ----------
    inputs
        The input layers (metric CRS).
    tables
        (resolved path, layer name) → validated table, for :meth:`Context.table`.
    """

    inputs: Inputs
    tables: Mapping[TableKey, pd.DataFrame] = field(default_factory=dict)


def load_tables(
    scenario: Scenario, schools: pd.DataFrame | None, stages: Mapping[str, StageParams] | None = None
) -> tuple[dict[TableKey, pd.DataFrame], list[Problem]]:
    """Read and validate every table file the stages name; ``(tables, problems)`` of all of them.

    Parameters
    ----------
    scenario
        The scenario (its file locates relative paths).
    schools
        The schools layer, to check references (a school may be named where its name is unique);
        ``None`` when it could not be read.
    stages
        Stage name → parameters; the scenario's enabled stages by default.
    """
    tables: dict[TableKey, pd.DataFrame] = {}
    problems: list[Problem] = []
    for key, spec in table_files(scenario, stages).items():
        try:
            tables[key] = load_table(key[0], spec, schools=schools)
        except InputError as err:
            problems += err.problems
    return tables, problems


def load_scenario_data(scenario: Scenario) -> ScenarioData:
    """Read and validate the scenario's input layers and table files together.

    Raises
    ------
    InputError
        With every problem of every file: input layers and the tables stages name alike.
    """
    problems: list[Problem] = []
    inputs: Inputs | None = None
    paths = {k: v for k, v in scenario.inputs.paths().items() if v is not None}
    try:
        inputs = load_inputs(paths, crs=scenario.inputs.crs, layer_crs=scenario.inputs.layer_crs)
    except InputError as err:
        problems += err.problems
    tables, table_problems = load_tables(scenario, None if inputs is None else inputs.schools)
    problems += table_problems
    if problems or inputs is None:
        raise InputError(problems)
    return ScenarioData(inputs=inputs, tables=tables)


def input_files(scenario: Scenario) -> list[Path]:
    """Every file a run of the scenario reads: the scenario file, the input layers and the table files."""
    named = [scenario.path, *scenario.inputs.paths().values(), *(path for path, _ in table_files(scenario))]
    return [Path(p) for p in named if p is not None]


def planned_files(scenario: Scenario, *, flat: bool = False) -> list[str]:
    """Every file a run of the scenario may write, known before it runs (relative to the output folder).

    Each enabled stage's declared files (``{level}`` once per level) and ``shortfalls.csv``, under
    the stage's folder unless ``flat``, the export files (``[report] exports``) and ``manifest.json``.
    The renderers' files are known only once they render.
    """
    out = {MANIFEST, *export_paths(scenario.exports)}
    for name in scenario.stages:
        prefix = "" if flat else f"{name}/"
        for file in (*registry.STAGES[name].files, SHORTFALLS_FILE):
            out.update(prefix + file.replace("{level}", level) for level in LEVELS)
    return sorted(out)


# --------------------------------------------------------------------------- renderers


def renderers() -> dict[str, Renderer]:
    """Renderers registered under the ``schoolplan.renderers`` entry point (maps, report)."""
    found: dict[str, Renderer] = {}
    for ep in sorted(metadata.entry_points(group=RENDERER_GROUP), key=lambda e: e.name):
        renderer = ep.load()
        found[renderer.name] = renderer
    return found


def validate_report_settings(scenario: Scenario) -> dict[str, Any]:
    """Validate ``[report]`` against the installed renderers' parameter models."""
    settings: dict[str, Any] = {}
    problems: list[Problem] = []
    source = str(scenario.path) if scenario.path else "scenario"
    for name, renderer in renderers().items():
        try:
            settings[name] = renderer.params.model_validate(dict(scenario.report))
        except ValidationError as err:
            problems += problems_from(err, source, prefix="report")
    if problems:
        raise InputError(problems)
    return settings


@contextmanager
def _timed(timings: dict[str, float], name: str) -> Iterator[None]:
    t0 = time.perf_counter()
    try:
        yield
    finally:
        timings[name] = round(time.perf_counter() - t0, 3)


# --------------------------------------------------------------------------- session


class Session:
    """Inputs loaded once, stages run on demand, results kept for later stages.

    Parameters
    ----------
    scenario
        Validated scenario.
    inputs
        Validated inputs; read from the scenario's files when ``None``. The
        table files the stages name are read and validated with them.
    step
        Called with a short text when a long step starts (progress display).
    """

    def __init__(
        self, scenario: Scenario, *, inputs: Inputs | None = None, step: Callable[[str], None] | None = None
    ) -> None:
        self.scenario = scenario
        self.timings_s: dict[str, float] = {}
        self._step = step or (lambda text: None)
        if inputs is None:
            self._step("loading and validating inputs")
            with _timed(self.timings_s, "load"):
                data = load_scenario_data(scenario)
        else:
            tables, problems = load_tables(scenario, inputs.schools) if table_files(scenario) else ({}, [])
            if problems:
                raise InputError(problems)
            data = ScenarioData(inputs=inputs, tables=tables)
        self.context = Context(scenario=scenario, inputs=data.inputs, step=self._step, tables=dict(data.tables))
        #: The stage that stopped :meth:`run_all`, or ``None``; written and reported with the finished stages.
        self.failed: StageFailure | None = None

    @classmethod
    def from_file(cls, path: str | Path, **kwargs: Any) -> Session:
        """Session on a scenario TOML file."""
        return cls(load_scenario(path), **kwargs)

    @property
    def inputs(self) -> Inputs:
        """The validated inputs (metric CRS)."""
        return self.context.inputs

    @property
    def outputs(self) -> dict[str, StageOutput]:
        """Stage name → output, for the stages run so far."""
        return self.context.outputs

    def run(self, stage: str, **overrides: Any) -> StageOutput:
        """Run one stage with the scenario's parameters, updated by ``overrides``.

        Raises
        ------
        InputError
            Unknown stage, invalid parameter values, or a bad table file named in an override.
        """
        stages = registry.STAGES
        if stage not in stages:
            raise InputError(f"unknown stage {stage!r}; valid: {', '.join(stages)}")
        spec = stages[stage]
        base = self.scenario.stages.get(stage)
        values = {**(base.model_dump() if base is not None else {}), **overrides}
        try:
            params = spec.params.model_validate(values)
        except ValidationError as err:
            raise InputError(problems_from(err, "parameters", prefix=stage)) from err
        if any(key not in self.context.tables for key in table_files(self.scenario, {stage: params})):
            # a table file named in an override: read and checked before the stage starts, every problem at once
            tables, problems = load_tables(self.scenario, self.inputs.schools, {stage: params})
            if problems:
                raise InputError(problems)
            self.context.tables.update(tables)
        self._step(f"stage {stage}")
        with _timed(self.timings_s, stage):  # timed when it fails too: the manifest shows how long it tried
            out = spec.check(spec.run(self.context, params))
        self.context.outputs[stage] = out
        return out

    def run_all(self) -> dict[str, StageOutput]:
        """Run every stage the scenario enables, in order.

        Raises
        ------
        InfeasibleError, SolverError
            A stage cannot make a plan; :attr:`failed` records which and why, and the stages before it
            keep their outputs, so :meth:`write` still writes them with the maps and the report.
        """
        self.failed = None
        names = list(self.scenario.stages)
        for i, name in enumerate(names):
            try:
                self.run(name)
            except (InfeasibleError, SolverError) as err:
                self.failed = StageFailure.from_error(name, err, not_run=names[i + 1 :])
                raise
        return self.outputs

    def table(self, stage: str, file: str) -> pd.DataFrame:
        """One output table of a stage run in this session (e.g. ``"primary/assignment.csv"``)."""
        try:
            return self.outputs[stage].files[file]
        except KeyError:
            have = {k: sorted(v.files) for k, v in self.outputs.items()}
            msg = f"no table {file!r} from stage {stage!r}; have {have}"
            raise KeyError(msg) from None

    def result(self) -> RunResult:
        """Everything run so far, as handed to the renderers."""
        return RunResult(
            scenario=self.scenario,
            inputs=self.inputs,
            outputs=dict(self.outputs),
            timings_s=dict(self.timings_s),
            network=self.context._network,
            failed=self.failed,
        )

    def write(self, out_dir: str | Path | RunFolder, *, flat: bool = False, render: bool = True) -> list[Path]:
        """Write every stage's files (and maps/report) under ``out_dir``, plus ``manifest.json``.

        The files go into a temporary folder beside ``out_dir`` and are moved in whole at the end
        (:class:`~planning.app.outdir.RunFolder`): an error or Ctrl-C on the way leaves ``out_dir`` as
        it was, and files in it that no run wrote are never overwritten or removed.

        Parameters
        ----------
        out_dir
            Output folder (created); each stage writes under ``out_dir/<stage>/``. Or a run folder
            opened (checked and locked) before the run, as :func:`~planning.app.runner.run_scenario` does.
        flat
            Write stage files directly in ``out_dir`` (single-stage commands).
        render
            Run the renderers (maps, report) and write what they return at the top.

        Returns
        -------
        list[pathlib.Path]
            The files written, in ``out_dir``, sorted.

        Raises
        ------
        InputError
            ``out_dir`` cannot be written, another run holds it, or a file to write there is an input
            of the run or a file of the user's (nothing is written).
        """
        files = self._files(flat=flat, render=render)
        if isinstance(out_dir, RunFolder):
            return self._write_into(out_dir, files)
        with RunFolder(out_dir, planned=[*files, MANIFEST], inputs=input_files(self.scenario)) as folder:
            return self._write_into(folder, files)

    def _files(self, *, flat: bool, render: bool) -> dict[str, Any]:
        """Relative path → payload of every file to write: the stages', their shortfalls, the exports, the renderers'."""
        files: dict[str, Any] = {}
        for name, output in self.outputs.items():
            prefix = "" if flat else f"{name}/"
            files.update({f"{prefix}{rel}": payload for rel, payload in output.files.items()})
            if output.shortfalls:
                files[f"{prefix}{SHORTFALLS_FILE}"] = shortfalls_table(output.shortfalls)
        if self.failed is not None and self.failed.shortfalls:  # what the failed stage could not meet
            prefix = "" if flat else f"{self.failed.stage}/"
            files[f"{prefix}{SHORTFALLS_FILE}"] = shortfalls_table(self.failed.shortfalls)
        if self.scenario.exports:  # [report] exports: written with or without the maps and report
            self._step("writing exports (" + ", ".join(self.scenario.exports) + ")")
            with _timed(self.timings_s, "exports"):
                files.update(export_files(self.result(), self.scenario.exports))
        if render:
            settings = validate_report_settings(self.scenario)
            run = self.result()
            for name, renderer in renderers().items():
                self._step(f"rendering {name}")
                with _timed(self.timings_s, f"render:{name}"):
                    files.update(renderer.render(run, settings[name]))
        return files

    def _write_into(self, folder: RunFolder, files: dict[str, Any]) -> list[Path]:
        """Write ``files`` and the manifest into the run folder and move them into the output folder."""
        self._step("writing outputs")
        folder.write(files)
        stage_metrics = {name: dict(out.metrics) for name, out in self.outputs.items() if out.metrics}
        content = manifest(
            self.scenario, folder.staging, folder.outputs, self.timings_s, stage_metrics,
            tables=self._table_paths(), status={**self._status(), "input_warnings": list(getattr(self.inputs, "notes", ()))},
            kept=folder.kept(),
        )
        folder.write({MANIFEST: folder.relocate(content)})
        return folder.commit()

    def _status(self) -> dict[str, Any]:
        """Each enabled stage's state (``finished``, ``failed``, ``not run``) and the failure, for the manifest."""
        failed = self.failed
        stages = {
            name: "finished" if name in self.outputs else "failed" if failed is not None and name == failed.stage else "not run"
            for name in self.scenario.stages
        }
        return {"stages": stages, "failed": None if failed is None else failed.to_dict()}

    def _table_paths(self) -> dict[str, Path]:
        """``"<stage>.<parameter>"`` → resolved path of each table file the scenario's stages name."""
        return {
            f"{stage}.{name}": self.scenario.resolve(Path(getattr(params, name)))
            for stage, params in self.scenario.stages.items()
            for name in layer_files(type(params))
            if getattr(params, name) is not None
        }
