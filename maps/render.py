"""The ``report`` renderer: the run's map(s), ``report.html`` and ``report.xlsx``.

Registered through the ``schoolplan.renderers`` entry point as
``maps = "maps.render:RENDERER"``; the scenario's ``[report]`` table is
validated by :class:`ReportParams`. Pure: returns payloads, writes nothing.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Mapping
from typing import Any, Literal

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
from branca.element import Figure
from pydantic import BaseModel, ConfigDict, Field, model_validator

from geo.errors import InputError, Problem
from maps import layers as ly
from maps.assets import external_references, fix_ids, make_offline
from maps.labels import t
from maps.legend import MetricScale, legend_of
from planning.app.stage import Renderer, RunResult

logger = logging.getLogger(__name__)

#: Stages that get their own map when ``map_per_stage`` is on, with the layers each shows.
STAGE_MAPS: Mapping[str, tuple[str, ...]] = {
    "zones": ("zones", "isochrones", "multischool", "blocks", "schools"),
    "balance": ("schools",),
    "communities": ("groups", "schools"),
    "rotation": ("rotation", "schools"),
}
ALL_LAYERS: tuple[str, ...] = ("zones", "isochrones", "multischool", "blocks", "groups", "rotation", "schools")

_TILES = {
    "osm": dict(
        tiles="https://tile.openstreetmap.org/{z}/{x}/{y}.png",
        attr="© OpenStreetMap contributors",
        name="OpenStreetMap",
        max_zoom=19,
    ),
    "amap": dict(
        tiles="https://webrd0{s}.is.autonavi.com/appmaptile?lang=zh_cn&size=1&scale=1&style=8&x={x}&y={y}&z={z}",
        attr="© 高德地图 AutoNavi",
        name="高德地图 Amap",
        subdomains="1234",
        max_zoom=18,
    ),
}
_TIANDITU = "https://t{s}.tianditu.gov.cn/{layer}_w/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0&LAYER={layer}&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles&TILEMATRIX={z}&TILEROW={y}&TILECOL={x}&tk="
_UUID = re.compile(r"_[0-9a-f]{32}\b")


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

    @model_validator(mode="after")
    def _check(self) -> ReportParams:
        if self.tiles == "tianditu" and not self.tianditu_key.strip():
            msg = "tiles = 'tianditu' needs tianditu_key (the tk token of your Tianditu account)"
            raise ValueError(msg)
        if any(m <= 0 for m in self.isochrone_minutes) or len(set(self.isochrone_minutes)) != len(self.isochrone_minutes):
            msg = "isochrone_minutes must be distinct positive minutes"
            raise ValueError(msg)
        return self


def stage_file(run: RunResult, stage: str, rel: str) -> Any:
    """Payload ``rel`` of ``stage`` in the run, or ``None`` when the stage or file is absent."""
    out = run.outputs.get(stage)
    if out is None:
        return None
    return out.files.get(rel)


def _frame(obj: Any) -> pd.DataFrame | None:
    return obj if isinstance(obj, pd.DataFrame) else None


def _layer(run: RunResult, stage: str, rel: str) -> gpd.GeoDataFrame | None:
    """A GeoDataFrame output; one without a CRS is taken to be in the run's metric CRS."""
    obj = stage_file(run, stage, rel)
    if not isinstance(obj, gpd.GeoDataFrame):
        return None
    if obj.crs is None:
        logger.warning("%s/%s has no CRS: taken to be in %s", stage, rel, run.inputs.metric_crs)
        obj = obj.set_crs(run.inputs.metric_crs)
    return obj


def _gcj_shift() -> ly.Shift:
    from geo import crs  # noqa: PLC0415

    fn = getattr(crs, "wgs84_to_gcj02", None)
    if fn is None:
        raise InputError([Problem("report", "tiles = 'amap' needs geo.crs.wgs84_to_gcj02, missing in this installation", column="tiles")])

    def shift(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        out = fn(np.asarray(lon, dtype=float), np.asarray(lat, dtype=float))
        return np.asarray(out[0], dtype=float), np.asarray(out[1], dtype=float)

    return shift


def _display(params: ReportParams) -> ly.Display:
    shift = _gcj_shift() if params.tiles == "amap" else None
    return ly.Display(language=params.language, tolerance_m=params.simplify_m, shift=shift)


def _bounds(run: RunResult, display: ly.Display) -> list[list[float]] | None:
    inputs = run.inputs
    for layer in (inputs.boundary, inputs.blocks, inputs.schools):
        if layer is not None and not layer.empty:
            geoms = ly.display_geometries(gpd.GeoSeries(layer.geometry.envelope, crs=layer.crs), display, simplify=False)
            x0, y0, x1, y1 = gpd.GeoSeries(geoms).total_bounds
            if np.isfinite([x0, y0, x1, y1]).all():
                return [[float(y0), float(x0)], [float(y1), float(x1)]]
    return None


def _base_map(run: RunResult, params: ReportParams, display: ly.Display, title: str) -> folium.Map:
    figure = Figure(title=title)
    online = params.tiles != "none"
    m = folium.Map(
        tiles=None, prefer_canvas=True, control_scale=False, zoom_start=10, location=[0, 0],
        zoom_snap=0.25, zoom_delta=0.5,  # fit the county snugly, zoom in half steps
    )
    figure.add_child(m)
    m.add_child(MetricScale(), name="sp_scale")
    if params.tiles in _TILES:
        folium.TileLayer(**_TILES[params.tiles]).add_to(m)
    elif params.tiles == "tianditu":
        key = params.tianditu_key.strip()
        folium.TileLayer(tiles=_TIANDITU.format(layer="vec", s="{s}", x="{x}", y="{y}", z="{z}") + key,
                         attr="© 天地图 Tianditu", name="天地图 Tianditu", subdomains="01234567", max_zoom=18).add_to(m)
        folium.TileLayer(tiles=_TIANDITU.format(layer="cva", s="{s}", x="{x}", y="{y}", z="{z}") + key,
                         attr="© 天地图 Tianditu", name="天地图注记", subdomains="01234567", overlay=True,
                         control=False, max_zoom=18).add_to(m)
    if not online:
        figure.header.add_child(folium.Element("<style>html body .leaflet-container { background: #f6f4ef; }</style>"), name="sp_background")
    bounds = _bounds(run, display)
    if bounds is not None:
        m.fit_bounds(bounds, padding=(10, 10))
    legend_of(m, title=t("legend", params.language))
    return m


def school_names(run: RunResult) -> dict[str, str]:
    """school_id → name from the inputs."""
    s = run.inputs.schools
    if s is None or s.empty or "name" not in s.columns:
        return {}
    return dict(zip(ly._ids(s["school_id"]), ly._ids(s["name"]), strict=True))


def _levels(run: RunResult) -> list[str]:
    out = run.outputs.get("zones")
    if out is None:
        return []
    return [lv for lv in ("primary", "junior") if any(k.startswith(f"{lv}/") for k in out.files)]


def build_map(run: RunResult, params: ReportParams, *, layers: tuple[str, ...] = ALL_LAYERS, title: str | None = None) -> str:
    """The interactive map of a run as one self-contained HTML page.

    Parameters
    ----------
    run
        What the run made; stages absent from it are simply not drawn.
    params
        Report settings.
    layers
        Which result layers to draw (boundaries and roads are always drawn).
    title
        Page title (default: the scenario name and "school planning map").

    Returns
    -------
    str
        HTML with Leaflet inlined; byte-identical for the same run and settings.

    Raises
    ------
    RuntimeError
        If the page would fetch anything from another host while offline (a bug).
    """
    t0 = time.perf_counter()
    lang = params.language
    display = _display(params)
    title = title or f"{params.title or run.scenario.name} · {t('map_title', lang)}"
    m = _base_map(run, params, display, title)
    names = school_names(run)
    inputs = run.inputs
    balance = _frame(stage_file(run, "balance", "schools_balance.csv"))
    groups = _frame(stage_file(run, "communities", "groups.csv"))
    levels = _levels(run)
    colours: dict[str, dict[str, str]] = {}
    for k, lv in enumerate(levels):
        zones = _layer(run, "zones", f"{lv}/zones.gpkg")
        if zones is not None and not zones.empty and "school_id" in zones.columns:
            colours[lv] = ly.zone_colours(zones)
            if "zones" in layers:
                ly.add_zones(m, zones, level=lv, colours=colours[lv], display=display, show=k == 0)
    for lv in levels:
        assignment = _frame(stage_file(run, "zones", f"{lv}/assignment.csv"))
        if "isochrones" in layers and params.isochrones and assignment is not None:
            ly.add_isochrones(m, inputs.blocks, assignment, level=lv, minutes=params.isochrone_minutes, display=display)
    for lv in levels:
        if "multischool" in layers:
            mz = _layer(run, "zones", f"{lv}/multischool_zones.gpkg")
            if mz is not None:
                ly.add_multischool(m, mz, _frame(stage_file(run, "zones", f"{lv}/multischool.csv")), level=lv,
                                   school_names=names, display=display)
    ly.add_roads(m, inputs.roads, display=display)
    ly.add_boundaries(m, inputs.boundary, display=display)
    for k, lv in enumerate(levels):
        assignment = _frame(stage_file(run, "zones", f"{lv}/assignment.csv"))
        if "blocks" in layers and assignment is not None and inputs.blocks is not None:
            ly.add_blocks(m, inputs.blocks, assignment, level=lv, colours=colours.get(lv, {}), school_names=names,
                          display=display, show=False, draw_served=params.blocks_layer, show_unserved=k == 0)
    if "groups" in layers and groups is not None:
        ly.add_groups(m, inputs.schools, groups, school_names=names, display=display)
    moves = _frame(stage_file(run, "rotation", "moves.csv"))
    if "rotation" in layers and moves is not None:
        ly.add_rotation(m, inputs.schools, moves, school_names=names, display=display)
    if "schools" in layers:
        ly.add_schools(m, inputs.schools, balance=balance, groups=groups, display=display)
    folium.LayerControl(collapsed=False, position="topright").add_to(m)
    make_offline(m)
    fix_ids(m.get_root())
    page = m.get_root().render()
    leftover = _UUID.findall(page)
    if leftover:  # pragma: no cover - a folium element created its own random id
        msg = f"map has {len(leftover)} random element ids left; determinism broken"
        raise RuntimeError(msg)
    if params.tiles == "none":
        refs = external_references(page)
        if refs:  # pragma: no cover - guarded by tests
            msg = f"offline map would fetch: {', '.join(refs)}"
            raise RuntimeError(msg)
    logger.info("map %s: %.1f MB in %.2f s", title, len(page.encode("utf-8")) / 1e6, time.perf_counter() - t0)
    return page


def render_run(run: RunResult, params: ReportParams) -> dict[str, Any]:
    """The renderer: ``map.html``, ``report.html``, ``report.xlsx`` and, if asked, ``maps/<stage>.html``."""
    from maps.report import build_report, report_tables  # noqa: PLC0415

    files: dict[str, Any] = {"map.html": build_map(run, params)}
    stage_maps = []
    if params.map_per_stage:
        for stage, layers in STAGE_MAPS.items():
            if stage in run.outputs:
                name = f"{params.title or run.scenario.name} · {stage}"
                files[f"maps/{stage}.html"] = build_map(run, params, layers=layers, title=name)
                stage_maps.append(f"maps/{stage}.html")
    files["report.html"] = build_report(run, params, maps=["map.html", *stage_maps])
    files["report.xlsx"] = report_tables(run, params)
    return files


RENDERER = Renderer(name="report", params=ReportParams, render=render_run)
