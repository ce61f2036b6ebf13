"""The ``report`` renderer: the run's map(s), ``report.html`` and ``report.xlsx``.

Registered through the ``schoolplan.renderers`` entry point as
``maps = "maps.render:RENDERER"``; the scenario's ``[report]`` table is
validated by :class:`ReportParams`. Pure: returns payloads, writes nothing.

A map is the base map (tiles, title, scale, legend) plus the layers of :data:`maps.stages.LAYERS`
drawn in their order; what a stage shows is declared in its module of :mod:`maps.stages`. The
combined ``map.html`` is for a meeting: it opens on the zones and the schools, coloured by the layout
decisions when the layout stage ran (:func:`overview_shown`), every other layer listed in the layer control but off; its first view keeps
the layer list and the legend off the county (:class:`maps.layout.FitView`).
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Collection, Mapping
from typing import Any

import folium
import geopandas as gpd
import numpy as np
from branca.element import Figure

from geo.errors import InputError, Problem
from geo.text import html_text
from maps import layers as ly
from maps.assets import external_references, fix_ids, make_offline
from maps.common import MapContext, ReportParams, school_names
from maps.documents import print_documents
from maps.labels import t
from maps.layout import FitView, MapTitle
from maps.legend import MetricScale, legend_of
from maps.report import build_report, report_tables
from maps.stages import LAYERS, STAGES
from planning.app.stage import Renderer, RunResult

__all__ = ["ALL_LAYERS", "OVERVIEW_INSTEAD", "OVERVIEW_SHOWN", "RENDERER", "STAGE_MAPS", "ReportParams", "build_map", "overview_shown", "render_run"]

logger = logging.getLogger(__name__)

#: Stages that get their own map when ``map_per_stage`` is on, with the layers each shows.
STAGE_MAPS: Mapping[str, tuple[str, ...]] = {s.stage: s.map_layers for s in STAGES if s.map_layers}
#: (Chinese, English) name of each stage, in the title of its own map.
_STAGE_HEADINGS: Mapping[str, tuple[str, str]] = {s.stage: s.heading for s in STAGES}
#: The layers a map can select (roads and boundaries are always drawn), in draw order.
ALL_LAYERS: tuple[str, ...] = tuple(layer.key for layer in LAYERS if not layer.always)
#: Layers that may be on when the combined map opens (each still keeps its own parts hidden, e.g. the
#: junior zones beside the primary ones, the served residential units); unserved units stay visible
#: as a warning. The layout decisions (drawn only when the layout stage ran) are on: a planner who ran
#: it opens the map to see them (:func:`overview_shown`). Roads, communities, rotation, today's zones,
#: multi-school zones and travel bands start off.
OVERVIEW_SHOWN: frozenset[str] = frozenset({"zones", "blocks", "boundaries", "schools", "layout"})
#: Layers that start off in the overview when the first one of the pair is drawn: the layout layer draws every school
#: coloured by its decision, and the schools coloured by strength under it would clash (red: merged, and weak).
OVERVIEW_INSTEAD: Mapping[str, str] = {"layout": "schools"}


def overview_shown(run: RunResult) -> frozenset[str]:
    """The layers on when ``map.html`` opens: :data:`OVERVIEW_SHOWN`, less those :data:`OVERVIEW_INSTEAD` replaces."""
    drawn = {layer.key for s in STAGES if s.stage in run.outputs for layer in s.layers}
    return OVERVIEW_SHOWN - {off for on, off in OVERVIEW_INSTEAD.items() if on in drawn}

_TILES: Mapping[str, dict[str, Any]] = {
    "osm": {
        "tiles": "https://tile.openstreetmap.org/{z}/{x}/{y}.png",
        "attr": "© OpenStreetMap contributors",
        "name": "OpenStreetMap",
        "max_zoom": 19,
    },
    "amap": {
        "tiles": "https://webrd0{s}.is.autonavi.com/appmaptile?lang=zh_cn&size=1&scale=1&style=8&x={x}&y={y}&z={z}",
        "attr": "© 高德地图 AutoNavi",
        "name": "高德地图 Amap",
        "subdomains": "1234",
        "max_zoom": 18,
    },
}
_TIANDITU = "https://t{s}.tianditu.gov.cn/{layer}_w/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0&LAYER={layer}&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles&TILEMATRIX={z}&TILEROW={y}&TILECOL={x}&tk="
_UUID = re.compile(r"_[0-9a-f]{32}\b")


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
    figure = Figure(title=html_text(title))  # branca puts the title into <title> as it is
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
    m.add_child(MapTitle(title), name="sp_title")
    legend_of(m, title=t("legend", params.language))
    return m


def _draw_layers(m: folium.Map, ctx: MapContext, layers: Collection[str], shown: Collection[str] | None) -> None:
    """Draw the selected layers in order; those not in ``shown`` (when given) start off, still listed."""
    for layer in LAYERS:
        if not (layer.always or layer.key in layers):
            continue
        before = set(m._children)
        layer.draw(m, ctx)
        if shown is not None and layer.key not in shown:
            for name in set(m._children) - before:
                child = m._children[name]
                if isinstance(child, folium.FeatureGroup):
                    child.show = False


def _controls(m: folium.Map, run: RunResult, params: ReportParams, display: ly.Display) -> None:
    """The layer control, then the first view fitted to the county clear of every box (once they all exist)."""
    control = folium.LayerControl(collapsed=False, position="topright")
    control.add_to(m)
    bounds = _bounds(run, display)
    if bounds is not None:
        m.add_child(FitView(bounds, control=control, layers_title=t("layers", params.language)), name="sp_fit")


def build_map(
    run: RunResult,
    params: ReportParams,
    *,
    layers: tuple[str, ...] = ALL_LAYERS,
    title: str | None = None,
    shown: Collection[str] | None = None,
) -> str:
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
        Title on the map and of the page (default: the report title or scenario name and "school planning map").
    shown
        Layer keys that may be on at start (the others are listed but off); ``None``: each layer decides.

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
    display = _display(params)
    title = title or f"{params.title or run.scenario.name} · {t('map_title', params.language)}"
    m = _base_map(run, params, display, title)
    prepared = {s.stage: s.prepare(run) for s in STAGES if s.prepare is not None}
    ctx = MapContext(run=run, params=params, display=display, names=school_names(run), prepared=prepared)
    _draw_layers(m, ctx, layers, shown)
    _controls(m, run, params, display)
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
    """The renderer: ``map.html``, ``report.html``, ``report.xlsx``, print maps, Word documents and, if asked, ``maps/<stage>.html``."""
    files: dict[str, Any] = {"map.html": build_map(run, params, shown=overview_shown(run))}
    stage_maps = []
    if params.map_per_stage:
        for stage, layers in STAGE_MAPS.items():
            if stage in run.outputs:
                zh, en = _STAGE_HEADINGS[stage]
                name = f"{params.title or run.scenario.name} · {zh if params.language == 'zh' else en}"
                files[f"maps/{stage}.html"] = build_map(run, params, layers=layers, title=name)
                stage_maps.append(f"maps/{stage}.html")
    files["report.html"] = build_report(run, params, maps=["map.html", *stage_maps])
    files["report.xlsx"] = report_tables(run, params)
    files.update(print_documents(run, params))  # print/*.png|pdf, documents/*.docx
    return files


RENDERER = Renderer(name="report", params=ReportParams, render=render_run)
