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

A stage runs when its table is present (and ``enabled`` is not false).
"""

from __future__ import annotations

import dataclasses
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from geo.errors import InputError, Problem
from geo.network import NetworkSettings
from planning.app.stage import StageParams

#: Top-level keys that are not stage tables.
RESERVED = ("name", "seed", "inputs", "solver", "network", "report")


class InputsSection(BaseModel):
    """Input files, relative to the scenario file."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    schools: Path
    blocks: Path | None = None
    teachers: Path | None = None
    roads: Path | None = None
    boundary: Path | None = None
    crs: str = Field("wgs84", description="CRS of CSV/Excel layers: wgs84, cgcs2000, gcj02, bd09 or EPSG:n")
    layer_crs: dict[str, str] = Field(default_factory=dict, description="per-layer CRS override")

    def paths(self) -> dict[str, Path | None]:
        """Layer name → path (``None`` where not given)."""
        return {k: getattr(self, k) for k in ("schools", "blocks", "teachers", "roads", "boundary")}


class SolverSection(BaseModel):
    """Limits shared by every optimization stage."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    time_limit_s: float = Field(30.0, gt=0, le=86_400)
    workers: int = Field(2, ge=1, le=64)


class TopLevel(BaseModel):
    """Keys at the top of a scenario file."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = "scenario"
    seed: int = Field(0, ge=0, lt=2**31)
    inputs: InputsSection
    solver: SolverSection = SolverSection()
    network: NetworkSettings = NetworkSettings()
    report: dict[str, Any] = Field(default_factory=dict)


@dataclass(frozen=True)
class Scenario:
    """A validated scenario.

    Attributes
    ----------
    name, seed, inputs, solver, network
        As in the file (paths made absolute).
    stages
        Stage name → validated parameters, in run order, enabled stages only.
    report
        Raw ``[report]`` table, validated by the renderer that uses it.
    path
        The file it was read from, or ``None`` when built in code.
    """

    name: str
    seed: int
    inputs: InputsSection
    solver: SolverSection
    network: NetworkSettings
    stages: Mapping[str, StageParams]
    report: Mapping[str, Any] = field(default_factory=dict)
    path: Path | None = None

    def to_dict(self) -> dict[str, Any]:
        """Resolved settings as plain data (for the manifest)."""
        return {
            "name": self.name,
            "seed": self.seed,
            "inputs": self.inputs.model_dump(mode="json"),
            "solver": self.solver.model_dump(mode="json"),
            "network": self.network.model_dump(mode="json"),
            "stages": {k: v.model_dump(mode="json") for k, v in self.stages.items()},
            "report": dict(self.report),
        }


def _problems_from(err: ValidationError, layer: str, prefix: str = "") -> list[Problem]:
    out = []
    for e in err.errors():
        key = ".".join(str(p) for p in (prefix, *e["loc"]) if p != "")
        msg = e["msg"]
        if e["type"] == "extra_forbidden":
            msg = "unknown key"
        elif e["type"] == "missing":
            msg = "required key is missing"
        out.append(Problem(layer=layer, column=key or None, message=msg))
    return out


def _resolve_paths(params: StageParams, base_dir: Path) -> StageParams:
    """Make a stage's relative file parameters (``Path`` fields) relative to the scenario file."""
    update = {
        name: base_dir / value
        for name in type(params).model_fields
        if isinstance(value := getattr(params, name), Path) and not value.is_absolute()
    }
    return params.model_copy(update=update) if update else params


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
    from planning.app.stages import STAGES  # noqa: PLC0415 - registry imports stage modules

    problems: list[Problem] = []
    top_data = {k: v for k, v in data.items() if k in RESERVED}
    stage_tables = {k: v for k, v in data.items() if k not in RESERVED}
    top: TopLevel | None = None
    try:
        top = TopLevel.model_validate(top_data)
    except ValidationError as err:
        problems += _problems_from(err, source)

    stages: dict[str, StageParams] = {}
    for key in stage_tables:
        if key not in STAGES:
            valid = ", ".join([*RESERVED, *STAGES])
            problems.append(Problem(layer=source, column=key, message=f"unknown table or key; valid: {valid}"))
    for name, stage in STAGES.items():  # registry order is run order
        if name in RESERVED:
            # A stage named like a reserved table (network) takes its settings from
            # that table and always runs: it only reports what the others use.
            stages[name] = stage.params()
            continue
        if name not in stage_tables:
            continue
        table = stage_tables[name]
        if not isinstance(table, Mapping):
            problems.append(Problem(layer=source, column=name, message="must be a table ([name])"))
            continue
        try:
            params = stage.params.model_validate(table)
        except ValidationError as err:
            problems += _problems_from(err, source, prefix=name)
            continue
        if params.enabled:
            stages[name] = _resolve_paths(params, base_dir) if base_dir is not None else params

    if top is not None:
        given = {k for k, v in top.inputs.paths().items() if v is not None}
        for name in stages:
            for layer in STAGES[name].needs:
                if layer not in given:
                    problems.append(
                        Problem(layer=source, column=f"inputs.{layer}", message=f"stage '{name}' needs the {layer} layer")
                    )
    if problems:
        raise InputError(problems)
    assert top is not None
    inputs = top.inputs
    if base_dir is not None:
        resolved = {
            k: (base_dir / v if v is not None and not Path(v).is_absolute() else v) for k, v in inputs.paths().items()
        }
        inputs = inputs.model_copy(update=resolved)
    return Scenario(
        name=top.name,
        seed=top.seed,
        inputs=inputs,
        solver=top.solver,
        network=top.network,
        stages=stages,
        report=top.report,
    )


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario TOML file.

    Raises
    ------
    InputError
        When the file is missing, is not valid TOML, or any setting is wrong.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise InputError([Problem(layer=str(path), message=f"cannot read scenario file: {err.strerror}")]) from err
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise InputError([Problem(layer=str(path), message=f"not valid TOML: {err}")]) from err
    scenario = scenario_from_dict(data, base_dir=path.resolve().parent, source=str(path))
    return dataclasses.replace(scenario, path=path.resolve())
