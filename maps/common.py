"""What every renderer of :mod:`maps` shares: the ``[report]`` settings, the one way to read a stage's
output, and the declaration a stage renderer makes (:class:`StageRenderer`).

Imported by :mod:`maps.render`, :mod:`maps.report` and every module of :mod:`maps.stages`; it imports
none of them, so the renderers form no import cycle.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import folium
import geopandas as gpd
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, model_validator

from maps.layers import Display, as_ids
from planning.app.stage import RunResult

logger = logging.getLogger(__name__)


class ReportParams(BaseModel):
    """Settings of the maps and the report (scenario table ``[report]``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    language: Literal["zh", "en"] = Field("zh", description="labels in Chinese (zh) or English (en)")
    tiles: Literal["none", "osm", "amap", "tianditu"] = Field(
        "none", description="background tiles: none (offline vector base), osm, amap (GCJ-02, geometries shifted) or tianditu"
    )
    tianditu_key: str = Field("", description="Tianditu API key (tk), needed with tiles = 'tianditu'")
    map_per_stage: bool = Field(False, description="also write maps/<stage>.html for every stage that ran")
    isochrones: bool = Field(False, description="draw bands of travel time to the assigned school")
    isochrone_minutes: tuple[int, ...] = Field((10, 20, 30), min_length=1, description="band limits, minutes")
    simplify_m: float = Field(10.0, ge=0, le=500, description="display simplification tolerance, metres")
    blocks_layer: bool = Field(True, description="draw residential units coloured by their school (hidden at start)")
    title: str = Field("", description="title of map and report (default: the scenario name)")
    documents: bool = Field(True, description="also write print maps (print/*.png, *.pdf) and Word documents (documents/*.docx)")
    paper: Literal["A4", "A3"] = Field("A4", description="paper of the print maps, landscape: A4 or A3")

    @model_validator(mode="after")
    def _check(self) -> ReportParams:
        if self.tiles == "tianditu" and not self.tianditu_key.strip():
            msg = "tiles = 'tianditu' needs tianditu_key (the tk token of your Tianditu account)"
            raise ValueError(msg)
        if any(m <= 0 for m in self.isochrone_minutes) or len(set(self.isochrone_minutes)) != len(self.isochrone_minutes):
            msg = "isochrone_minutes must be distinct positive minutes"
            raise ValueError(msg)
        return self


# --------------------------------------------------------------------------- reading a stage's output


def stage_file(run: RunResult, stage: str, rel: str) -> Any:
    """Payload ``rel`` of ``stage`` in the run, or ``None`` when the stage or file is absent.

    The one accessor of stage outputs: every renderer reads through it (or the typed helpers below),
    naming the file by a constant at the top of its stage module.
    """
    out = run.outputs.get(stage)
    if out is None:
        return None
    return out.files.get(rel)


def stage_frame(run: RunResult, stage: str, rel: str) -> pd.DataFrame | None:
    """A table output (``DataFrame``, a ``GeoDataFrame`` included), or ``None``."""
    obj = stage_file(run, stage, rel)
    return obj if isinstance(obj, pd.DataFrame) else None


def stage_sheets(
    run: RunResult, stage: str, files: Sequence[tuple[str, str, str]], *, zh: bool
) -> dict[str, pd.DataFrame]:
    """Excel sheets of a stage's tables: ``(file, Chinese name, English name)`` → sheet name → table, those present."""
    sheets: dict[str, pd.DataFrame] = {}
    for rel, zh_name, en_name in files:
        frame = stage_frame(run, stage, rel)
        if frame is not None:
            sheets[zh_name if zh else en_name] = frame.reset_index(drop=True)
    return sheets


def stage_mapping(run: RunResult, stage: str, rel: str) -> Mapping[str, Any] | None:
    """A JSON output (a mapping), or ``None``."""
    obj = stage_file(run, stage, rel)
    return obj if isinstance(obj, Mapping) else None


def stage_layer(run: RunResult, stage: str, rel: str) -> gpd.GeoDataFrame | None:
    """A GeoDataFrame output; one without a CRS is taken to be in the run's metric CRS."""
    obj = stage_file(run, stage, rel)
    if not isinstance(obj, gpd.GeoDataFrame):
        return None
    if obj.crs is None:
        logger.warning("%s/%s has no CRS: taken to be in %s", stage, rel, run.inputs.metric_crs)
        obj = obj.set_crs(run.inputs.metric_crs)
    return obj


def stage_path(stage: str, rel: str) -> str:
    """Where the runner writes output ``rel`` of ``stage``, relative to the run folder (links, notes)."""
    return f"{stage}/{rel}"


def school_names(run: RunResult) -> dict[str, str]:
    """school_id → name from the inputs."""
    s = run.inputs.schools
    if s is None or s.empty or "name" not in s.columns:
        return {}
    return dict(zip(as_ids(s["school_id"]), as_ids(s["name"]), strict=True))


# --------------------------------------------------------------------------- what a stage renderer declares


@dataclass(frozen=True)
class MapContext:
    """What every map layer is drawn with, built once per map.

    Attributes
    ----------
    run
        The run being drawn.
    params
        Report settings.
    display
        How geometries are prepared (language, simplification, GCJ-02 shift).
    names
        school_id → school name.
    prepared
        Stage name → what that stage renderer's ``prepare`` made for its layers (e.g. zone colours),
        computed once before any layer is drawn.
    """

    run: RunResult
    params: ReportParams
    display: Display
    names: Mapping[str, str]
    prepared: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class MapLayer:
    """One kind of layer on the map.

    Attributes
    ----------
    key
        The name a map's layer selection uses (``zones``, ``blocks``...).
    order
        Draw order across all renderers (lower first): later layers lie on top, and the layer control
        and the legend list layers in this order.
    draw
        ``draw(m, ctx)`` adds the layer (for every level, if it has levels); draws nothing when the
        run lacks its data.
    always
        Drawn on every map whatever the selection (roads, boundaries).
    """

    key: str
    order: int
    draw: Callable[[folium.Map, MapContext], None]
    always: bool = False


@dataclass(frozen=True)
class KeyPoints:
    """What a stage's plan decides, in plain sentences, for the report's opening (本方案要点).

    Attributes
    ----------
    points
        What the plan achieves, with its figures (schools no longer over capacity, children moved ...).
    warnings
        Where the plan makes something worse than today or leaves a target unmet.
    """

    points: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class StageRenderer:
    """Everything the maps and the report show of one stage, declared in the stage's renderer module.

    Attributes
    ----------
    stage
        The stage's name (its key in :attr:`RunResult.outputs`, its output folder, its report anchor).
    heading
        (Chinese, English) heading of its report section and its navigation entry.
    layers
        The map layers it adds.
    map_layers
        Layer keys of its own map ``maps/<stage>.html`` (any renderer's keys); empty: no map of its own.
    prepare
        ``prepare(run) -> data`` shared by its layers (in :attr:`MapContext.prepared` under ``stage``).
    section
        ``section(run, params) -> html`` of the report, ``""`` when there is nothing to show.
    tables
        ``tables(run, params) -> {sheet name: table}`` of the Excel workbook.
    labels
        Map label texts (key → (Chinese, English)) merged into :data:`maps.labels.TEXT` at import.
    figure_names
        Display names of the figures its JSON outputs hold, merged into :data:`maps.tables.FIGURE_NAMES`.
    key_points
        ``key_points(run, params) -> KeyPoints`` for the report's opening (本方案要点).
    appendix
        ``appendix(run, params) -> html`` of the technical appendix (solver status, bound, gap ...), ``""`` for none.
    """

    stage: str
    heading: tuple[str, str]
    layers: tuple[MapLayer, ...] = ()
    map_layers: tuple[str, ...] = ()
    prepare: Callable[[RunResult], Any] | None = None
    section: Callable[[RunResult, ReportParams], str] | None = None
    tables: Callable[[RunResult, ReportParams], dict[str, pd.DataFrame]] | None = None
    labels: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    figure_names: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    key_points: Callable[[RunResult, ReportParams], KeyPoints] | None = None
    appendix: Callable[[RunResult, ReportParams], str] | None = None
