"""The stage protocol: how a capability plugs into the scenario runner.

A stage is pure computation: it reads the validated inputs, its validated
parameters and the results of earlier stages from a :class:`Context`, and
returns a :class:`StageOutput` holding what it made *in memory*. Only the runner
writes files (:mod:`planning.app.runner`), atomically, choosing the format from the
file name:

========== ======================================== ==========================
suffix     payload                                  written as
========== ======================================== ==========================
``.csv``   ``pandas.DataFrame``                     UTF-8 CSV, no index
``.gpkg``  ``geopandas.GeoDataFrame``               GeoPackage, in the frame's CRS
``.json``  JSON-able ``dict``/``list``              sorted keys, 2-space indent
``.xlsx``  ``dict[str, DataFrame]`` (sheet → table) Excel workbook
other      ``str`` or ``bytes``                     as is (UTF-8 for ``str``)
========== ======================================== ==========================

To add a stage: write ``planning/stages/<name>.py`` defining ``STAGE = Stage(...)``
and list the module in :data:`planning.app.stages.STAGE_MODULES`.

Canonical file names (what renderers and users rely on):

- ``network``: ``summary.json`` (mode, speeds, nodes, edges, components)
- ``zones``: per level ``primary/assignment.csv``, ``primary/zones.gpkg``,
  ``primary/metrics.json``, ``primary/multischool.csv``,
  ``primary/multischool_zones.gpkg``; and ``feeder.csv`` (primary → junior)
- ``balance``: ``balance.csv``, ``schools_balance.csv``
- ``communities``: ``groups.csv``, ``group_metrics.csv``, ``pairs.csv``, ``metrics.json``
- ``rotation``: ``moves.csv``, ``schools_rotation.csv``, ``metrics.json``

Renderers (maps, report) are found through the ``schoolplan.renderers`` entry
point, so :mod:`planning` never imports :mod:`maps`; each is a :class:`Renderer`
whose ``render(run, params)`` returns files like a stage does, written at the
top of the output folder.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
from pydantic import BaseModel, ConfigDict

from geo.model import Inputs
from geo.travel import TravelMatrix

if TYPE_CHECKING:
    from planning.app.scenario import Scenario

logger = logging.getLogger(__name__)

#: What a stage may return as one file's content; see the module docstring.
Payload = Any


class StageParams(BaseModel):
    """Base of every stage's parameter model: frozen, unknown keys rejected."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    enabled: bool = True


@dataclass(frozen=True)
class StageOutput:
    """What a stage made.

    Attributes
    ----------
    files
        Relative path → payload, written by the runner under the stage's folder.
    result
        The stage's result object(s) (frozen dataclasses such as ``ZonePlan``),
        for later stages and the renderers.
    summary
        A few lines for the terminal: what was decided, with key figures.
    metrics
        Key figures for the manifest and the report (JSON-able).
    """

    files: Mapping[str, Payload]
    result: Any = None
    summary: str = ""
    metrics: Mapping[str, Any] = field(default_factory=dict)


@dataclass
class Context:
    """What a stage sees: the scenario, the inputs and earlier stages' outputs.

    Created by the runner, one per run. Travel matrices are computed once per
    (origins, destinations, mode, cutoff) and cached here.
    """

    scenario: Scenario
    inputs: Inputs
    outputs: dict[str, StageOutput] = field(default_factory=dict)
    step: Callable[[str], None] = lambda text: logger.info(text)
    _travel_cache: dict[tuple[Any, ...], TravelMatrix] = field(default_factory=dict, repr=False)
    _network: Any = field(default=None, repr=False)

    @property
    def seed(self) -> int:
        """The scenario's random seed."""
        return self.scenario.seed

    def rng(self, salt: int = 0) -> np.random.Generator:
        """A generator seeded from the scenario seed (and a per-use salt)."""
        return np.random.default_rng([self.scenario.seed, salt])

    def result(self, stage: str) -> Any:
        """Result object of an earlier stage, or ``None`` if it did not run."""
        out = self.outputs.get(stage)
        return None if out is None else out.result

    @property
    def network(self) -> Any:
        """The routable road network, built once from ``inputs.roads`` (``None`` without roads)."""
        if self._network is None and self.inputs.roads is not None and len(self.inputs.roads):
            from geo.network import build_network  # noqa: PLC0415 - built only when asked

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
            Distinguishes subsets of the same layers in the cache (e.g. ``"primary"``).
        """
        from geo.travel import travel_matrix  # noqa: PLC0415

        cache_key = (origin_id, dest_id, mode, cutoff_s, key, len(origins), len(destinations))
        if cache_key not in self._travel_cache:
            self.step(f"travel times {origin_id} × {dest_id} ({mode}{', ' + key if key else ''})")
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
class Stage:
    """A runnable capability.

    Attributes
    ----------
    name
        Stage name; also the scenario table (``[zones]``) and the output folder.
    params
        Pydantic model (subclass of :class:`StageParams`) of the table.
    run
        ``run(ctx, params) -> StageOutput``; pure, writes nothing.
    needs
        Input layers required (``schools``, ``blocks``, ``teachers``).
    description
        One line for ``--help`` and the manifest.
    """

    name: str
    params: type[StageParams]
    run: Callable[[Context, Any], StageOutput]
    needs: tuple[str, ...] = ("schools",)
    description: str = ""


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
    """

    scenario: Scenario
    inputs: Inputs
    outputs: Mapping[str, StageOutput]
    timings_s: Mapping[str, float] = field(default_factory=dict)
    network: Any = None


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
