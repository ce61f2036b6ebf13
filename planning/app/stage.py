"""The stage protocol: how a capability plugs into the scenario runner.

A stage is pure computation: it reads the validated inputs, its validated
parameters and the results of earlier stages from a :class:`Context`, and
returns a :class:`StageOutput` holding what it made *in memory*. Only the writer
(:mod:`planning.app.writer`) writes files, atomically, choosing the format from
the file name:

========== ======================================== ==========================
suffix     payload                                  written as
========== ======================================== ==========================
``.csv``   ``pandas.DataFrame``                     UTF-8 CSV, no index
``.gpkg``  ``geopandas.GeoDataFrame``               GeoPackage, in the frame's CRS
``.json``  JSON-able ``dict``/``list``              sorted keys, 2-space indent
``.xlsx``  ``dict[str, DataFrame]`` (sheet → table) Excel workbook
other      ``str`` or ``bytes``                     as is (UTF-8 for ``str``)
========== ======================================== ==========================

A :class:`Stage` declares everything the application layer needs to know about
it, in one place: its parameter model (the scenario table and the command-line
flags), the type of its result, the names of the files it may write (the
canonical names renderers and users rely on, ``{level}`` standing for
``primary`` or ``junior``), its command-line command and the input layers it
needs. To add a stage: write ``planning/app/stages/<name>.py`` defining
``STAGE = Stage(...)`` and name the module in
:data:`planning.app.stages.STAGE_MODULES`; the scenario loader, the session,
the runner and the command line need no change.

Later stages ask for an earlier result by its type, ``ctx.result(BalanceResult)``
(``None`` when that stage did not run). A parameter naming a table file is
annotated with :class:`LayerFile`; the session loads and validates such files
with the inputs, and stages get the frames from :meth:`Context.table`.

Renderers (maps, report) are found through the ``schoolplan.renderers`` entry
point, so :mod:`planning` never imports :mod:`maps`; each is a :class:`Renderer`
whose ``render(run, params)`` returns files like a stage does, written at the
top of the output folder.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import NoneType
from typing import Any, Final, Literal, TypeVar

import geopandas as gpd
import numpy as np
import pandas as pd
from pydantic import BaseModel

from geo.errors import InfeasibleError, Shortfall, SolverError
from geo.io import load_table
from geo.model import LEVELS, Inputs, LayerSpec
from geo.network import RoadNetwork, build_network
from geo.travel import TravelMatrix, travel_matrix
from planning.app.settings import Scenario, StageParams

logger = logging.getLogger(__name__)

#: Written by the session for every stage that lists shortfalls; no stage declares it itself.
SHORTFALLS_FILE = "shortfalls.csv"

#: What a stage may return as one file's content; see the module docstring.
Payload = Any
#: A result type asked for by :meth:`Context.result` and :meth:`RunResult.result`.
R = TypeVar("R")
T = TypeVar("T")
#: Where a loaded table file is kept: (resolved path, layer name).
TableKey = tuple[Path, str]

__all__ = [
    "Command",
    "Context",
    "LayerFile",
    "Payload",
    "Renderer",
    "RunResult",
    "Stage",
    "StageFailure",
    "StageOutput",
    "StageParams",
    "layer_files",
    "table_files",
]


@dataclass(frozen=True)
class LayerFile:
    """Marks a stage parameter as naming a table file of layer ``spec``.

    Used as ``Annotated[Path | None, LayerFile(GROUPS)]``: the session reads
    and validates the file with the inputs (every problem at once, naming the
    file, the row and the column), and the stage gets the frame from
    :meth:`Context.table` instead of reading the file.
    """

    spec: LayerSpec


def layer_files(params: type[BaseModel]) -> dict[str, LayerSpec]:
    """Parameter name → layer spec of every :class:`LayerFile` field of a parameter model."""
    out = {}
    for name, info in params.model_fields.items():
        marks = [m for m in info.metadata if isinstance(m, LayerFile)]
        if marks:
            out[name] = marks[0].spec
    return out


def table_files(scenario: Scenario, stages: Mapping[str, StageParams] | None = None) -> dict[TableKey, LayerSpec]:
    """Every table file the stages' parameters name, resolved against the scenario file.

    Parameters
    ----------
    scenario
        The scenario (its file locates relative paths).
    stages
        Stage name → parameters; the scenario's enabled stages by default.
    """
    out: dict[TableKey, LayerSpec] = {}
    for params in (scenario.stages if stages is None else stages).values():
        for name, spec in layer_files(type(params)).items():
            path = getattr(params, name)
            if path is not None:
                out[(scenario.resolve(Path(path)), spec.name)] = spec
    return out


@dataclass(frozen=True)
class StageOutput:
    """What a stage made.

    Attributes
    ----------
    files
        Relative path → payload, written under the stage's folder; every name
        is one the stage declares in :attr:`Stage.files`.
    result
        The stage's result object, an instance of its :attr:`Stage.result_type`
        (or ``None``), for later stages and the renderers.
    summary
        A few lines for the terminal: what was decided, with key figures.
    metrics
        Key figures for the manifest and the report (JSON-able).
    shortfalls
        Each policy target the plan could not meet, with its numbers (a stage not asked to be
        ``strict`` plans as far as possible and lists them here); written as ``shortfalls.csv``.
    """

    files: Mapping[str, Payload]
    result: Any = None
    summary: str = ""
    metrics: Mapping[str, Any] = field(default_factory=dict)
    shortfalls: tuple[Shortfall, ...] = ()


def _plain(value: Any) -> Any:
    """Figures as JSON values: a tuple of ``(name, figure)`` pairs (:func:`geo.errors.figures`) as an object, other tuples as lists."""
    if isinstance(value, tuple):
        if value and all(isinstance(v, tuple) and len(v) == 2 and isinstance(v[0], str) for v in value):
            return {k: _plain(v) for k, v in value}
        return [_plain(v) for v in value]
    return value


def shortfalls_table(shortfalls: Iterable[Shortfall]) -> pd.DataFrame:
    """One row per shortfall: ``where, short_by, unit, detail`` in English, then ``kind`` and ``figures``.

    ``kind`` names the sentence and ``figures`` (JSON, keys sorted) holds the numbers and names it is made of,
    from which the report words the shortfall in its own language (:mod:`maps.shortfalls`); both are empty
    for a shortfall a stage gives as text only.
    """
    rows = [{"where": s.where, "short_by": s.short_by, "unit": s.unit, "detail": s.detail, "kind": s.kind,
             "figures": json.dumps(_plain(s.figures), ensure_ascii=False, sort_keys=True) if s.figures else ""} for s in shortfalls]
    return pd.DataFrame(rows, columns=["where", "short_by", "unit", "detail", "kind", "figures"])


@dataclass(frozen=True)
class StageFailure:
    """A stage that stopped the run: which, why, and what it could not meet.

    The session records it when a stage raises :class:`~geo.errors.InfeasibleError` (a ``strict``
    stage, or a plan no setting can make) or :class:`~geo.errors.SolverError`; the stages before it
    finished and are written with the maps and the report, which explain the failure.

    Attributes
    ----------
    stage
        The stage that failed.
    kind
        ``"infeasible"`` (exit 3) or ``"solver"`` (a real solver failure, exit 4).
    message
        What cannot be done (the error's summary).
    shortfalls
        Each target it could not meet, with its numbers.
    hint
        What the planner can change.
    not_run
        The enabled stages after it, which did not run.
    """

    stage: str
    kind: Literal["infeasible", "solver"]
    message: str
    shortfalls: tuple[Shortfall, ...] = ()
    hint: str = ""
    not_run: tuple[str, ...] = ()

    @classmethod
    def from_error(cls, stage: str, err: InfeasibleError | SolverError, *, not_run: Iterable[str] = ()) -> StageFailure:
        """The failure of ``stage`` that raised ``err``."""
        if isinstance(err, InfeasibleError):
            return cls(stage, "infeasible", err.summary, tuple(err.shortfalls), err.hint, tuple(not_run))
        return cls(stage, "solver", str(err), (), "", tuple(not_run))

    def to_dict(self) -> dict[str, Any]:
        """Plain data for the manifest."""
        return {
            "stage": self.stage,
            "kind": self.kind,
            "message": self.message,
            "shortfalls": [str(s) for s in self.shortfalls],
            "hint": self.hint,
            "not_run": list(self.not_run),
        }

    def __str__(self) -> str:
        lines = [f"stage {self.stage!r}: {self.message}", *(f"  - {s}" for s in self.shortfalls)]
        if self.hint:
            lines.append(f"Hint: {self.hint}")
        if self.not_run:
            lines.append(f"Not run after it: {', '.join(self.not_run)}")
        return "\n".join(lines)


def _find(outputs: Iterable[StageOutput], kind: type[R]) -> R | None:
    for out in outputs:
        if isinstance(out.result, kind):
            return out.result
    return None


#: How progress lines name what a travel matrix links (id column → plural noun) and how people travel.
_TRAVEL_WORDS: Final = {
    "block_id": ("residential unit", "residential units"),
    "school_id": ("school", "schools"),
    "teacher_id": ("teacher's home", "teachers' homes"),
}
_MODE_WORDS: Final = {"walk": "on foot", "bike": "by bicycle", "drive": "by car", "bus": "by school bus"}


def travel_step(n_origins: int, origin_id: str, n_destinations: int, dest_id: str, mode: str) -> str:
    """The progress line of a travel matrix in plain words: ``travel times from 306 residential units to 39 schools on foot``."""
    origins = _TRAVEL_WORDS.get(origin_id, (origin_id, origin_id))[n_origins != 1]
    destinations = _TRAVEL_WORDS.get(dest_id, (dest_id, dest_id))[n_destinations != 1]
    return f"travel times from {n_origins:,} {origins} to {n_destinations:,} {destinations} {_MODE_WORDS.get(mode, f'({mode})')}"


def _ids_digest(frame: pd.DataFrame, id_column: str) -> str:
    """Digest of a layer's ids in order: tells apart subsets of equal length."""
    ids = frame[id_column].astype(str).to_numpy()
    return hashlib.sha256("\x1f".join(ids).encode("utf-8")).hexdigest()


@dataclass
class Context:
    """What a stage sees: the scenario, the inputs, the table files and earlier stages' outputs.

    Created by the session, one per run. Travel matrices are computed once per
    (origin ids, destination ids, mode, cutoff), the road network once, and
    values stages share (:meth:`shared`) once; all are cached here.
    """

    scenario: Scenario
    inputs: Inputs
    outputs: dict[str, StageOutput] = field(default_factory=dict)
    step: Callable[[str], None] = logger.info
    tables: dict[TableKey, pd.DataFrame] = field(default_factory=dict, repr=False)
    _travel_cache: dict[tuple[Any, ...], TravelMatrix] = field(default_factory=dict, repr=False)
    _shared: dict[str, Any] = field(default_factory=dict, repr=False)
    _network: RoadNetwork | None = field(default=None, repr=False)

    @property
    def seed(self) -> int:
        """The scenario's random seed."""
        return self.scenario.seed

    def rng(self, salt: int = 0) -> np.random.Generator:
        """A generator seeded from the scenario seed (and a per-use salt)."""
        return np.random.default_rng([self.scenario.seed, salt])

    def result(self, kind: type[R]) -> R | None:
        """The result of the earlier stage whose result type is ``kind``, or ``None`` if it did not run.

        Example: ``ctx.result(BalanceResult)``.
        """
        return _find(self.outputs.values(), kind)

    def shared(self, key: str, make: Callable[[], T]) -> T:
        """A value several stages use, made by ``make`` the first time it is asked for in this run."""
        if key not in self._shared:
            self._shared[key] = make()
        return self._shared[key]

    def table(self, params: StageParams, name: str) -> pd.DataFrame | None:
        """The validated table of the file that parameter ``name`` names, or ``None`` when none is given.

        The session loads the scenario's table files with the inputs; a file
        given only later (a parameter override) is loaded and validated here.

        Raises
        ------
        InputError
            The file cannot be read, or its values are wrong (every problem listed).
        """
        path = getattr(params, name)
        if path is None:
            return None
        spec = layer_files(type(params))[name]
        key = (self.scenario.resolve(Path(path)), spec.name)
        if key not in self.tables:
            self.tables[key] = load_table(key[0], spec, schools=self.inputs.schools)
        return self.tables[key]

    @property
    def network(self) -> RoadNetwork | None:
        """The routable road network, built once from ``inputs.roads`` (``None`` without roads)."""
        if self._network is None and self.inputs.roads is not None and len(self.inputs.roads):
            params = self.scenario.network
            self.step("building the road network")
            self._network = build_network(self.inputs.roads, **params.network_kwargs())
        return self._network

    def travel(
        self,
        origins: gpd.GeoDataFrame,
        destinations: gpd.GeoDataFrame,
        *,
        origin_id: str,
        dest_id: str,
        mode: str,
        cutoff_s: float | None = None,
        key: str = "",
    ) -> TravelMatrix:
        """Travel matrix origins × destinations by road (straight line × detour without roads).

        Cached on the origin and destination ids (in order), the mode and the
        cutoff: asking again for the same pairs reuses the matrix.

        Parameters
        ----------
        origins, destinations
            Layers in the metric CRS (points or polygons; polygons use a point inside).
        origin_id, dest_id
            Their id columns.
        mode
            ``walk``, ``bike``, ``drive`` or ``bus``.
        cutoff_s
            Pairs slower than this are left out as unreachable.
        key
            What the matrix is for (e.g. ``"zones-primary"``), for the reader of the code (the progress
            line says it in plain words, :func:`travel_step`).
        """
        cache_key = (
            origin_id, _ids_digest(origins, origin_id), dest_id, _ids_digest(destinations, dest_id), mode, cutoff_s,
        )  # fmt: skip
        if cache_key not in self._travel_cache:
            self.step(travel_step(len(origins), origin_id, len(destinations), dest_id, mode))
            self._travel_cache[cache_key] = travel_matrix(
                origins,
                destinations,
                origin_id=origin_id,
                dest_id=dest_id,
                network=self.network,
                mode=mode,
                cutoff_s=cutoff_s,
                options=self.scenario.network,  # the [network] table is the travel options
            )
        return self._travel_cache[cache_key]


@dataclass(frozen=True)
class Command:
    """How a stage appears on the command line (``schoolplan <name> ...``).

    Attributes
    ----------
    name
        The command (``rotate`` for the ``rotation`` stage).
    help
        One line for ``schoolplan --help``.
    aliases
        Friendlier flag → parameter: ``{"--level": "levels"}`` sets a list
        parameter to one value, ``{"--groups": "fixed_groups"}`` is another
        name for a file parameter.
    """

    name: str
    help: str
    aliases: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Stage:
    """A runnable capability, declared in one place.

    Attributes
    ----------
    name
        Stage name; also the scenario table (``[zones]``) and the output folder.
    params
        Pydantic model (subclass of :class:`StageParams`) of the table; one
        command-line flag per scalar field.
    run
        ``run(ctx, params) -> StageOutput``; pure, writes nothing.
    result_type
        Type of :attr:`StageOutput.result` (the result may also be ``None``);
        later stages and renderers look the result up by it.
    files
        Names of the files the stage may write, relative to its folder;
        ``{level}`` stands for ``primary`` or ``junior``.
    needs
        Input layers required (``schools``, ``blocks``, ``teachers``).
    description
        One line for the manifest and the command's ``--help``.
    command
        Its command-line command, or ``None`` when it has none (``network``
        takes its settings from the scenario's ``[network]`` table).
    demo
        Settings of its table in the demo's scenario file, besides ``enabled``.
    """

    name: str
    params: type[StageParams]
    run: Callable[[Context, Any], StageOutput]
    result_type: type[Any] = NoneType
    files: tuple[str, ...] = ()
    needs: tuple[str, ...] = ("schools",)
    description: str = ""
    command: Command | None = None
    demo: Mapping[str, Any] = field(default_factory=dict)

    def declares(self, rel: str) -> bool:
        """Whether ``rel`` is one of the file names the stage declares."""
        levels = "|".join(re.escape(lv) for lv in LEVELS)
        return any(re.fullmatch(re.escape(name).replace(r"\{level\}", f"(?:{levels})"), rel) for name in self.files)

    def check(self, out: StageOutput) -> StageOutput:
        """``out`` when it holds what the stage declares.

        Raises
        ------
        TypeError
            A result of another type than :attr:`result_type`, or a file not in :attr:`files`.
        """
        if out.result is not None and not isinstance(out.result, self.result_type):
            msg = f"stage {self.name!r} returned a {type(out.result).__name__}, not its result type {self.result_type.__name__}"
            raise TypeError(msg)
        undeclared = sorted(rel for rel in out.files if not self.declares(rel))
        if undeclared:
            msg = f"stage {self.name!r} made files it does not declare: {', '.join(undeclared)}"
            raise TypeError(msg)
        return out


@dataclass(frozen=True)
class RunResult:
    """Everything a run made, handed to renderers.

    Attributes
    ----------
    scenario
        The validated scenario.
    inputs
        Validated inputs (metric CRS).
    outputs
        Stage name → its output, in run order.
    timings_s
        Stage name → wall time in seconds.
    network
        The road network used, or ``None`` (straight-line travel).
    failed
        The stage that stopped the run, or ``None`` when every enabled stage finished.
    """

    scenario: Scenario
    inputs: Inputs
    outputs: Mapping[str, StageOutput]
    timings_s: Mapping[str, float] = field(default_factory=dict)
    network: RoadNetwork | None = None
    failed: StageFailure | None = None

    def result(self, kind: type[R]) -> R | None:
        """The result of the stage whose result type is ``kind``, or ``None`` if it did not run."""
        return _find(self.outputs.values(), kind)


@dataclass(frozen=True)
class Renderer:
    """Something that turns a run into files (maps, report), registered by entry point.

    Attributes
    ----------
    name
        Renderer name; the scenario's ``[report]`` table is validated by ``params``.
    params
        Pydantic model of its settings.
    render
        ``render(run, params) -> Mapping[path, payload]``; pure, writes nothing.
    """

    name: str
    params: type[BaseModel]
    render: Callable[[RunResult, Any], Mapping[str, Payload]]
