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
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
from pydantic import ValidationError

from geo.errors import InputError
from geo.model import Inputs
from planning.app.scenario import Scenario, _problems_from, load_scenario
from planning.app.stage import Context, RunResult, StageOutput


class Session:
    """Inputs loaded once, stages run on demand, results kept for later stages.

    Parameters
    ----------
    scenario
        Validated scenario.
    inputs
        Validated inputs; read from the scenario's files when ``None``.
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
            from planning.app.runner import load_scenario_inputs  # noqa: PLC0415

            self._step("loading and validating inputs")
            t0 = time.perf_counter()
            inputs = load_scenario_inputs(scenario)
            self.timings_s["load"] = round(time.perf_counter() - t0, 3)
        self.context = Context(scenario=scenario, inputs=inputs, step=self._step)

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
            Unknown stage, or invalid parameter values.
        """
        from planning.app.stages import STAGES  # noqa: PLC0415

        if stage not in STAGES:
            raise InputError(f"unknown stage {stage!r}; valid: {', '.join(STAGES)}")
        spec = STAGES[stage]
        base = self.scenario.stages.get(stage)
        values = {**(base.model_dump() if base is not None else {}), **overrides}
        try:
            params = spec.params.model_validate(values)
        except ValidationError as err:
            raise InputError(_problems_from(err, "parameters", prefix=stage)) from err
        self._step(f"stage {stage}")
        t0 = time.perf_counter()
        out = spec.run(self.context, params)
        self.timings_s[stage] = round(time.perf_counter() - t0, 3)
        self.context.outputs[stage] = out
        return out

    def run_all(self) -> dict[str, StageOutput]:
        """Run every stage the scenario enables, in order."""
        for name in self.scenario.stages:
            self.run(name)
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
        )

    def write(self, out_dir: str | Path, *, flat: bool = False, render: bool = True) -> list[Path]:
        """Write every stage's files (and maps/report) under ``out_dir``, plus ``manifest.json``."""
        from planning.app.runner import write_session  # noqa: PLC0415

        return write_session(self, Path(out_dir), flat=flat, render=render)
