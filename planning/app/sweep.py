"""Sweep files: many counties and many scenario variants, each run an ordinary scenario run.

A sweep file (TOML) names where the runs start and what varies::

    base = "scenario.toml"          # the scenario every run starts from
    counties = ["610830", "61"]     # built-in demo counties: a code, a name, or a 2-digit province
                                    # (4-digit city) code for every county of it; or
    # scenarios = ["a/scenario.toml", "b/scenario.toml"]   # one run per scenario file
    scale = 1.0                     # demo counties: their size (as `schoolplan demo --scale`)
    seed = 20260901                 # demo counties: the seed they are generated from

    [set]                           # the same for every run: dotted scenario keys → a value
    "solver.time_limit_s" = 10

    [grid]                          # run the product of these: dotted scenario keys → lists of values
    "zones.max_moved" = [300, 1000, 3000]
    "rotation.backbone_share" = [0.2, 0.3]

(Top-level keys come before the ``[set]`` and ``[grid]`` tables, as TOML requires.) With
``counties`` and no ``base``, a county runs the demo's own scenario (every stage), exactly as
``schoolplan demo --county CODE --scale S --seed N`` does. Relative paths are relative to the
sweep file.

The runs are counties (or scenario files, or the base alone) × the grid's points. Each has a
readable, stable id (``610830``, ``zones.max_moved=300,rotation.backbone_share=0.2``, or both joined
by a comma) and a scenario of its own, written into its run folder as ``inputs/scenario.toml``
(paths made absolute), so ``schoolplan run DIR/runs/<id>/inputs/scenario.toml`` repeats it alone.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
import tomllib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from geo.demo import DEMO_SEED, MAX_SCALE
from geo.errors import InputError, Problem
from geo.io import read_text
from geo.model import LAYERS
from planning.app.scenario import scenario_from_dict
from planning.app.settings import Scenario, SolverSection, problems_from
from planning.limits import DEFAULT_WORKERS

#: Shortest-path worker processes in ``[network] workers`` when a scenario does not set it.
DEFAULT_NETWORK_WORKERS = 2

__all__ = [
    "DemoMaker",
    "RunSpec",
    "SweepFile",
    "SweepPlan",
    "load_sweep",
    "run_scenario_data",
]


@dataclass(frozen=True)
class DemoMaker:
    """How a built-in demo county is made: the command line's demo functions, handed in.

    Attributes
    ----------
    scenario
        ``(seed, time_limit_s, workers) -> dict``: the demo's scenario (every stage), as
        :func:`planning.app.cli.demo_scenario_dict`.
    inputs
        ``(county=, scale=, seed=, solver=) -> (county, files)``: the generated county and its input
        files with ``scenario.toml``, as :func:`planning.app.cli.demo_inputs`.
    """

    scenario: Callable[[int, float, int], dict[str, Any]]
    inputs: Callable[..., tuple[Any, dict[str, Any]]]


class SweepFile(BaseModel):
    """The keys of a sweep file, validated (unknown keys rejected)."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    base: Path | None = Field(None, description="scenario every run starts from")
    counties: list[str] = Field(default_factory=list, description="built-in demo counties: codes, names, or province/city codes")
    scenarios: list[Path] = Field(default_factory=list, description="scenario files, one run each")
    scale: float = Field(1.0, gt=0, le=MAX_SCALE, description="size of the demo counties")
    seed: int = Field(DEMO_SEED, ge=0, lt=2**31, description="seed the demo counties are generated from")
    fixed: dict[str, Any] = Field(default_factory=dict, alias="set", description="dotted scenario keys → one value for every run")
    grid: dict[str, list[Any]] = Field(default_factory=dict, description="dotted scenario keys → values; their product is run")

    @field_validator("grid")
    @classmethod
    def _non_empty(cls, grid: dict[str, list[Any]]) -> dict[str, list[Any]]:
        empty = [k for k, v in grid.items() if not v]
        if empty:
            msg = f"each key needs at least one value; empty: {', '.join(empty)}"
            raise ValueError(msg)
        return grid

    @model_validator(mode="after")
    def _one_source(self) -> SweepFile:
        if self.counties and self.scenarios:
            msg = "give counties or scenarios, not both"
            raise ValueError(msg)
        if self.scenarios and self.base is not None:
            msg = "give base or scenarios, not both (each scenario file is the base of its runs)"
            raise ValueError(msg)
        if not (self.counties or self.scenarios or self.base is not None):
            msg = "name what to run: base (with a [grid]), counties or scenarios"
            raise ValueError(msg)
        return self


@dataclass(frozen=True)
class RunSpec:
    """One run of a sweep: where it starts and what it changes.

    Attributes
    ----------
    run_id
        Folder name under ``runs/``: readable and stable (county code, scenario name, grid point).
    county, county_name
        The built-in demo county (6-digit code and name), or empty.
    scenario
        The scenario file the run starts from (the base or one of ``scenarios``), or ``None`` for a
        demo county's own scenario.
    scenario_sha
        Checksum of that file's bytes when the sweep was planned.
    grid
        The grid point: dotted key → value, in the sweep file's order.
    fixed
        ``[set]``: dotted key → value, for every run.
    scale, seed
        Size and seed of the demo county.
    threads
        Solver threads (``[solver] workers``, ``[network] workers`` at most this), set by the engine.
    """

    run_id: str
    county: str = ""
    county_name: str = ""
    scenario: Path | None = None
    scenario_sha: str = ""
    grid: tuple[tuple[str, Any], ...] = ()
    fixed: tuple[tuple[str, Any], ...] = ()
    scale: float = 1.0
    seed: int = DEMO_SEED
    threads: int = DEFAULT_WORKERS

    @property
    def key(self) -> str:
        """Fingerprint of everything the run's outputs depend on (a resumed sweep reruns a run whose key changed)."""
        data = {
            "county": self.county, "scenario": str(self.scenario or ""), "sha": self.scenario_sha,
            "grid": self.grid, "set": self.fixed, "scale": self.scale, "seed": self.seed, "threads": self.threads,
        }
        return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode("utf-8")).hexdigest()[:16]


@dataclass(frozen=True)
class SweepPlan:
    """A sweep file's runs, in order.

    Attributes
    ----------
    path
        The sweep file.
    runs
        The runs: counties (or scenario files, or the base) × grid points.
    grid_keys
        The grid's dotted keys, in order (a column each in the summary).
    files
        Every file the sweep reads (the sweep file, the base, the scenario files): none may be an output.
    """

    path: Path
    runs: tuple[RunSpec, ...]
    grid_keys: tuple[str, ...] = ()
    files: tuple[Path, ...] = field(default_factory=tuple)

    @property
    def counties(self) -> bool:
        """Whether the runs are built-in demo counties (the summary then maps them)."""
        return any(r.county for r in self.runs)

    def with_threads(self, threads: int) -> SweepPlan:
        """The plan with ``threads`` solver threads per run."""
        return replace(self, runs=tuple(replace(r, threads=threads) for r in self.runs))


# --------------------------------------------------------------------------- reading


def _read_toml(path: Path, what: str) -> dict[str, Any]:
    try:
        text, _ = read_text(path)
    except InputError as err:
        reasons = [q.message.removeprefix("cannot read the file: ") for q in err.problems]
        raise InputError([Problem(layer=str(path), message=f"cannot read {what}: {r}") for r in reasons]) from err
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise InputError([Problem(layer=str(path), message=f"not valid TOML: {err}")]) from err


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _counties(entries: Sequence[str], where: str) -> tuple[list[tuple[str, str]], list[Problem]]:
    """``(code, name)`` of each county named: a code or name, or every county of a 2-digit province (4-digit city) code."""
    from geo.boundaries import list_counties, resolve_county  # noqa: PLC0415 - reads the outlines package

    found: dict[str, str] = {}
    problems: list[Problem] = []
    for entry in entries:
        text = str(entry).strip()
        if text.isdigit() and len(text) in (2, 4):
            table = list_counties()
            hits = table[table["code"].str.startswith(text)]
            if hits.empty:
                problems.append(Problem(where, f"no county in the installed outlines has a code starting {text}", column="counties"))
            found.update({c: n for c, n in zip(hits["code"], hits["name"]) if c not in found})
            continue
        try:
            code, name = resolve_county(text)
        except InputError as err:
            problems += [Problem(where, p.message, column="counties") for p in err.problems]
            continue
        found.setdefault(code, name)
    return list(found.items()), problems


def _value_text(value: Any) -> str:
    """A grid value as it appears in a run id: ``300``, ``0.2``, ``true``, ``a+b`` for a list."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return "+".join(_value_text(v) for v in value) or "none"
    if isinstance(value, Mapping):
        return "+".join(f"{k}-{_value_text(v)}" for k, v in value.items()) or "none"
    return str(value)


def _safe(text: str) -> str:
    """``text`` with what a folder name should not hold (``/``, spaces, quotes) as ``_``."""
    return re.sub(r"[^\w.=+,\-]", "_", text)


def grid_points(grid: Mapping[str, Sequence[Any]]) -> list[tuple[tuple[str, Any], ...]]:
    """The product of the grid's values, the first key varying slowest; ``[()]`` for no grid."""
    keys = list(grid)
    return [tuple(zip(keys, values)) for values in itertools.product(*(grid[k] for k in keys))]


def run_id(source: str, point: Iterable[tuple[str, Any]]) -> str:
    """``610830``, ``zones.max_moved=300,rotation.backbone_share=0.2``, or both joined by a comma."""
    parts = ([source] if source else []) + [f"{k}={_value_text(v)}" for k, v in point]
    return _safe(",".join(parts)) or "base"


def _scenario_names(paths: Sequence[Path], root: Path) -> list[str]:
    """A short name per scenario file: its stem, or its path (``a_scenario``) where stems repeat."""
    stems = [p.stem for p in paths]
    if len(set(stems)) == len(stems):
        return stems
    names = []
    for p in paths:
        try:
            rel = p.relative_to(root)
        except ValueError:
            rel = Path(*p.parts[1:])
        names.append(str(rel.with_suffix("")).replace("/", "_"))
    return names


def load_sweep(path: str | Path, demo: DemoMaker | None = None) -> SweepPlan:
    """Read a sweep file and check every run's scenario, all problems at once.

    Parameters
    ----------
    path
        The sweep file (TOML).
    demo
        How demo counties are made; needed to check the runs of ``counties`` without ``base``.

    Raises
    ------
    InputError
        The file is missing or not TOML, a key is unknown or wrong, a county unknown, a scenario
        file unreadable, or a run's scenario (base with ``[set]`` and its grid point) is not valid.
    """
    path = Path(path).resolve()
    where = str(path)
    raw = _read_toml(path, "sweep file")
    try:
        sweep = SweepFile.model_validate(raw)
    except ValidationError as err:
        raise InputError(problems_from(err, where)) from err
    root = path.parent
    problems: list[Problem] = []
    sources, files = _sources(sweep, root, where, problems)
    runs = [
        RunSpec(
            run_id=run_id(name, point), county=county, county_name=county_name, scenario=scenario,
            scenario_sha=_sha(scenario) if scenario is not None and scenario.is_file() else "",
            grid=point, fixed=tuple(sweep.fixed.items()), scale=sweep.scale, seed=sweep.seed,
        )
        for name, county, county_name, scenario in sources
        for point in grid_points(sweep.grid)
    ]
    plan = SweepPlan(path=path, runs=tuple(runs), grid_keys=tuple(sweep.grid), files=(path, *files))
    if not problems:
        problems += check_runs(plan, demo)
    if problems:
        raise InputError(problems)
    return plan


def _sources(
    sweep: SweepFile, root: Path, where: str, problems: list[Problem]
) -> tuple[list[tuple[str, str, str, Path | None]], list[Path]]:
    """``(name, county code, county name, scenario file)`` of each run source, and the scenario files read."""
    base = None if sweep.base is None else (root / sweep.base).resolve()
    scenario_files = [(root / p).resolve() for p in sweep.scenarios]
    problems += [
        Problem(where, f"scenario file {p} not found", column="scenarios" if p != base else "base")
        for p in ([base] if base is not None else []) + scenario_files
        if not p.is_file()
    ]
    if sweep.counties:
        counties, county_problems = _counties(sweep.counties, where)
        problems += county_problems
        return [(code, code, name, base) for code, name in counties], [base] if base is not None else []
    if scenario_files:
        names = _scenario_names(scenario_files, root)
        return [(n, "", "", p) for n, p in zip(names, scenario_files)], scenario_files
    return [("", "", "", base)], [base] if base is not None else []


# --------------------------------------------------------------------------- a run's scenario


def _set_dotted(data: dict[str, Any], key: str, value: Any) -> None:
    """``data["zones"]["max_moved"] = value`` for ``key = "zones.max_moved"`` (tables made as needed)."""
    *tables, last = key.split(".")
    node = data
    for name in tables:
        child = node.get(name)
        if not isinstance(child, dict):
            child = {}
            node[name] = child
        node = child
    node[last] = value


def demo_inputs_table() -> dict[str, Any]:
    """``[inputs]`` of a demo county's scenario: its files beside ``scenario.toml`` (as ``schoolplan demo`` writes them)."""
    return {**{layer: f"{layer}.csv" if LAYERS[layer].geometry == "none" else f"{layer}.gpkg" for layer in LAYERS}, "crs": "wgs84"}


def _absolute(data: dict[str, Any], scenario: Scenario, *, inputs: bool) -> None:
    """Relative file paths of the scenario (``[inputs]`` when ``inputs``, stages' table files) made absolute in ``data``."""
    if inputs:
        for layer, p in scenario.inputs.paths().items():
            if p is not None:
                data["inputs"][layer] = str(p)
    for stage, params in scenario.stages.items():
        for name in type(params).model_fields:
            value = getattr(params, name)
            if isinstance(value, Path) and isinstance(data.get(stage), dict) and name in data[stage]:
                data[stage][name] = str(value)


def run_scenario_data(spec: RunSpec, demo_scenario: Mapping[str, Any] | None = None, *, source: str = "") -> dict[str, Any]:
    """The scenario of one run, as the TOML it is written as (paths absolute).

    The base (or the run's scenario file, or the demo county's own scenario ``demo_scenario``),
    with a demo county's generated inputs in ``[inputs]``, ``[set]`` and the grid point applied,
    and ``[solver] workers`` and ``[network] workers`` at most ``spec.threads``.

    Raises
    ------
    InputError
        The result is not a valid scenario (every problem, naming ``source``).
    """
    source = source or f"run {spec.run_id}"
    if spec.scenario is not None:
        data = _read_toml(spec.scenario, "scenario file")
        base_dir = spec.scenario.parent
    else:
        data = json.loads(json.dumps(dict(demo_scenario or {})))  # a deep copy of plain data
        base_dir = None
    if spec.county:
        data["inputs"] = demo_inputs_table()
    for key, value in (*spec.fixed, *spec.grid):
        _set_dotted(data, key, value)
    for table, default in (("solver", DEFAULT_WORKERS), ("network", DEFAULT_NETWORK_WORKERS)):
        current = data.get(table)
        have = current.get("workers", default) if isinstance(current, dict) else default
        if isinstance(have, int) and have > spec.threads:
            _set_dotted(data, f"{table}.workers", spec.threads)
    scenario = scenario_from_dict(data, base_dir=base_dir, source=source)
    if base_dir is not None:
        _absolute(data, scenario, inputs=not spec.county)
    return data


def check_runs(plan: SweepPlan, demo: DemoMaker | None) -> list[Problem]:
    """Every problem of every run's scenario, each told once (with the first run that has it)."""
    seen: dict[tuple[str | None, str], Problem] = {}
    template: dict[str, Any] | None = None
    for spec in plan.runs:
        if spec.scenario is None and spec.county:
            if demo is None:
                msg = "counties without base need the demo's scenario (run through `schoolplan sweep`)"
                raise ValueError(msg)
            template = template or demo.scenario(spec.seed, SolverSection().time_limit_s, DEFAULT_WORKERS)
        try:
            run_scenario_data(spec, template, source=f"{plan.path} (run {spec.run_id})")
        except InputError as err:
            for p in err.problems:
                seen.setdefault((p.column, p.message), p)
    return list(seen.values())
