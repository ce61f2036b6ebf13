"""Scenario files (TOML): inputs, seed, solver settings and one table per stage.

A scenario is validated on load; unknown keys, wrong types and impossible
values are all reported at once as an :class:`~geo.errors.InputError` naming
the file and the key. Example::

    name = "清涧县 2026"
    seed = 20260901

    [inputs]
    schools = "schools.gpkg"
    blocks = "blocks.gpkg"
    teachers = "teachers.csv"
    roads = "roads.gpkg"
    boundary = "boundary.gpkg"
    crs = "wgs84"               # CRS of CSV/Excel layers (files that carry none)

    [solver]
    time_limit_s = 30
    workers = 2

    [zones]
    levels = ["primary", "junior"]

A stage runs when its table is present (and ``enabled`` is not false). The
tables allowed are those of the stages in :data:`planning.app.stages.STAGES`;
``[inputs]`` has one key per layer of :data:`geo.model.LAYERS`. The validated
objects live in :mod:`planning.app.settings`.
"""

from __future__ import annotations

import dataclasses
import tomllib
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from geo.errors import InputError, Problem
from geo.io import read_text
from geo.validate import InputWarning
from planning.app import stages as registry
from planning.app.settings import (
    RESERVED,
    ExportSettings,
    InputFiles,
    InputsSection,
    Scenario,
    SolverSection,
    StageParams,
    TopLevel,
    problems_from,
    split_report,
)

#: How the encodings :func:`geo.io.read_text` reports are named to users.
_ENCODING_NAMES = {"gb18030": "GBK/GB18030", "utf-16": "UTF-16"}

__all__ = [
    "RESERVED",
    "InputsSection",
    "Scenario",
    "SolverSection",
    "StageParams",
    "load_scenario",
    "problems_from",
    "scenario_from_dict",
]


def _resolve_paths(params: StageParams, base_dir: Path) -> StageParams:
    """Make a stage's relative file parameters (``Path`` fields) relative to the scenario file."""
    update = {
        name: base_dir / value
        for name in type(params).model_fields
        if isinstance(value := getattr(params, name), Path) and not value.is_absolute()
    }
    return params.model_copy(update=update) if update else params


def _resolve_inputs(inputs: InputFiles, base_dir: Path) -> InputFiles:
    """The input files with relative paths made relative to ``base_dir``."""
    resolved = {k: (base_dir / v if v is not None and not Path(v).is_absolute() else v) for k, v in inputs.paths().items()}
    return inputs.model_copy(update=resolved)


def _stage_params(
    tables: Mapping[str, Any], source: str, base_dir: Path | None, problems: list[Problem]
) -> dict[str, StageParams]:
    """Validated parameters of the enabled stages, in run order; problems appended to ``problems``."""
    stages: dict[str, StageParams] = {}
    known = registry.STAGES
    for key in tables:
        if key not in known:
            valid = ", ".join([*RESERVED, *known])
            problems.append(Problem(layer=source, column=key, message=f"unknown table or key; valid: {valid}"))
    for name, stage in known.items():  # registry order is run order
        if name in RESERVED:
            # A stage named like a reserved table (network) takes its settings from
            # that table and always runs: it only reports what the others use.
            stages[name] = stage.params()
            continue
        if name not in tables:
            continue
        table = tables[name]
        if not isinstance(table, Mapping):
            problems.append(Problem(layer=source, column=name, message="must be a table ([name])"))
            continue
        try:
            params = stage.params.model_validate(table)
        except ValidationError as err:
            problems += problems_from(err, source, prefix=name)
            continue
        if params.enabled:
            stages[name] = _resolve_paths(params, base_dir) if base_dir is not None else params
    return stages


def _missing_layers(inputs: InputFiles, stages: Mapping[str, StageParams], source: str) -> list[Problem]:
    """A problem per input layer an enabled stage needs and ``[inputs]`` does not give."""
    given = {k for k, v in inputs.paths().items() if v is not None}
    return [
        Problem(layer=source, column=f"inputs.{layer}", message=f"stage '{name}' needs the {layer} layer")
        for name in stages
        for layer in registry.STAGES[name].needs
        if layer not in given
    ]


def scenario_from_dict(
    data: Mapping[str, Any], *, base_dir: Path | None = None, source: str = "scenario"
) -> Scenario:
    """Validate a scenario given as a mapping (the parsed TOML).

    Parameters
    ----------
    data
        Parsed scenario.
    base_dir
        Folder relative input paths are resolved against.
    source
        Name used in messages (the file name).

    Raises
    ------
    InputError
        Listing every unknown key, wrong type and impossible value.
    """
    problems: list[Problem] = []
    top: TopLevel | None = None
    try:
        top = TopLevel.model_validate({k: v for k, v in data.items() if k in RESERVED})
    except ValidationError as err:
        problems += problems_from(err, source)
    stages = _stage_params({k: v for k, v in data.items() if k not in RESERVED}, source, base_dir, problems)
    report: dict[str, Any] = {}
    exports = ExportSettings()
    if top is not None:
        problems += _missing_layers(top.inputs, stages, source)
        try:
            report, exports = split_report(top.report)
        except ValidationError as err:
            problems += problems_from(err, source, prefix="report")
    if problems:
        raise InputError(problems)
    assert top is not None
    return Scenario(
        name=top.name,
        seed=top.seed,
        inputs=top.inputs if base_dir is None else _resolve_inputs(top.inputs, base_dir),
        solver=top.solver,
        network=top.network,
        stages=stages,
        report=report,
        exports=exports.exports,
    )


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario TOML file.

    The file is read as UTF-8 (a byte-order mark is dropped); a file saved in
    GBK/GB18030 (Notepad's "ANSI" on Chinese Windows) or UTF-16 is read too,
    with an :class:`~geo.validate.InputWarning` asking to save it as UTF-8.

    Raises
    ------
    InputError
        When the file is missing, unreadable, binary or in an unknown encoding,
        is not valid TOML, or any setting is wrong.
    """
    path = Path(path)
    try:
        text, encoding = read_text(path)
    except InputError as err:
        reasons = [q.message.removeprefix("cannot read the file: ") for q in err.problems]
        raise InputError([Problem(layer=str(path), message=f"cannot read scenario file: {r}") for r in reasons]) from err
    if encoding != "utf-8":
        warnings.warn(
            f"{path}: read as {_ENCODING_NAMES.get(encoding, encoding)} text; TOML files are UTF-8, so other tools may "
            "not read it: save it as UTF-8 (Notepad: Save as, Encoding UTF-8)",
            InputWarning,
            stacklevel=2,
        )
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise InputError([Problem(layer=str(path), message=f"not valid TOML: {err}")]) from err
    scenario = scenario_from_dict(data, base_dir=path.resolve().parent, source=str(path))
    return dataclasses.replace(scenario, path=path.resolve())
