"""Map layers: each ``add_*`` draws one kind of result onto a folium map and returns it.

Every layer is a :class:`folium.FeatureGroup` (so the layer control can switch
it) holding one :class:`VectorLayer`: a compact GeoJSON drawn by Leaflet's core
(``L.geoJSON`` with circle markers for points), per-feature style overrides and
a tooltip. Geometries are simplified in the metric CRS, reprojected to WGS84
(only :mod:`maps` does this), optionally shifted for tiles in GCJ-02 (Amap),
and rounded to :data:`COORD_DECIMALS` decimals (about 1 m) so that a county
map stays a few MB. Layers read their tables defensively: a missing optional
column is skipped with a log note, never a crash.
"""

from __future__ import annotations

import html
import json
import logging
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import folium
import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import shapely
from branca.element import MacroElement
from folium.template import Template

from maps.labels import Language, t
from maps.legend import legend_of

logger = logging.getLogger(__name__)

#: Decimals kept in longitude/latitude: 1e-5° ≈ 1.1 m, finer than any display needs.
COORD_DECIMALS = 5

#: Qualitative palette for zones and groups (ColorBrewer Set1/Dark2/Paired mix,
#: chosen to stay readable under 0.45 fill opacity); neighbours get different colours.
PALETTE: tuple[str, ...] = (
    "#1f78b4", "#33a02c", "#ff7f00", "#6a3d9a", "#b15928", "#e7298a",
    "#66a61e", "#1b9e77", "#a6761d", "#7570b3", "#e6ab02", "#17becf",
)

#: Marker colour of each strength class (schools_balance.csv ``strength_class``).
STRENGTH_COLOURS: Mapping[str, str] = {"strong": "#1a9641", "middle": "#fdae61", "weak": "#d7191c"}
UNKNOWN_COLOUR = "#8c8c8c"
OVER_CAPACITY_COLOUR = "#e31a1c"
UNSERVED_COLOUR = "#e31a1c"
ROTATION_COLOUR = "#d95f02"
#: Largest rotation arrowhead, degrees of latitude (≈ 500 m): long arcs keep small arrows.
ARROW_MAX_DEG = 0.0045

#: Line width (px) of each OSM road class; unlisted classes get the last width.
ROAD_WIDTHS: Mapping[str, float] = {
    "motorway": 3.5, "trunk": 3.0, "primary": 2.6, "secondary": 2.0, "tertiary": 1.6,
}
MINOR_ROAD_WIDTH = 0.8

Shift = Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


@dataclass(frozen=True)
class Display:
    """How geometries are prepared for display.

    Attributes
    ----------
    language
        ``zh`` or ``en``.
    tolerance_m
        Douglas–Peucker tolerance in metres applied before reprojection.
    shift
        ``shift(lon, lat) -> (lon, lat)`` applied after reprojection to WGS84,
        e.g. WGS84 → GCJ-02 for Amap tiles; ``None`` for none.
    """

    language: Language = "zh"
    tolerance_m: float = 10.0
    shift: Shift | None = None


class VectorLayer(MacroElement):
    """GeoJSON features drawn by Leaflet's core with compact per-feature styles.

    Feature properties: ``c`` colour (stroke and fill unless ``f``), ``f`` fill
    colour, ``w`` stroke width, ``r`` circle radius, ``s`` other style keys,
    ``t`` tooltip HTML (already escaped).
    """

    _template = Template(
        """
{% macro script(this, kwargs) %}
var {{ this.get_name() }} = L.geoJSON({{ this.data }}, {
  style: function (f) { return spStyle({{ this.base }}, f.properties); },
  pointToLayer: function (f, ll) { return L.circleMarker(ll, spStyle({{ this.base }}, f.properties)); },
  onEachFeature: function (f, l) { if (f.properties.t) { l.bindTooltip(f.properties.t, {sticky: true}); } }
}).addTo({{ this._parent.get_name() }});
{% endmacro %}
"""
    )

    def __init__(self, features: list[dict[str, Any]], *, base: Mapping[str, Any]) -> None:
        super().__init__()
        self._name = "VectorLayer"
        collection = {"type": "FeatureCollection", "features": features}
        self.data = _js_json(collection)
        self.base = _js_json(dict(base))


class StyleHelper(MacroElement):
    """Defines ``spStyle(base, props)``, shared by every :class:`VectorLayer`."""

    _template = Template(
        """
{% macro header(this, kwargs) %}
<script>
function spStyle(base, p) {
  var s = Object.assign({}, base, p.s || {});
  if (p.c) { s.color = p.c; if (!p.f) { s.fillColor = p.c; } }
  if (p.f) { s.fillColor = p.f; }
  if (p.w != null) { s.weight = p.w; }
  if (p.r != null) { s.radius = p.r; }
  return s;
}
</script>
{% endmacro %}
"""
    )

    def __init__(self) -> None:
        super().__init__()
        self._name = "StyleHelper"


def _js_json(obj: Any) -> str:
    """JSON safe to embed in a ``<script>`` (no ``</`` sequence), compact."""
    text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return text.replace("</", "<\\/")


def esc(value: Any) -> str:
    """Escape a value for tooltip HTML."""
    return html.escape(str(value), quote=True)


def _ensure_helper(m: folium.Map) -> None:
    if "sp_style_helper" not in m._children:
        m.add_child(StyleHelper(), name="sp_style_helper")


def display_geometries(gdf: gpd.GeoSeries | gpd.GeoDataFrame, display: Display, *, simplify: bool = True) -> np.ndarray:
    """Geometries simplified (metric CRS), in WGS84, shifted if asked, rounded.

    Parameters
    ----------
    gdf
        Layer in a projected metric CRS (or already geographic: then only rounded).
    display
        Display settings.
    simplify
        Apply ``display.tolerance_m`` (lines and polygons only matter; points are kept).

    Returns
    -------
    numpy.ndarray
        Shapely geometries in EPSG:4326 with coordinates rounded to :data:`COORD_DECIMALS`.
    """
    geo = gdf.geometry if isinstance(gdf, gpd.GeoDataFrame) else gdf
    if geo.crs is None:
        msg = "layer has no CRS: cannot place it on the map"
        raise ValueError(msg)
    if simplify and display.tolerance_m > 0 and geo.crs.is_projected:
        geo = geo.simplify(display.tolerance_m, preserve_topology=True)
    geoms = geo.to_crs(4326).to_numpy()
    shift = display.shift

    def transform(xy: np.ndarray) -> np.ndarray:
        if shift is not None:
            lon, lat = shift(xy[:, 0].copy(), xy[:, 1].copy())
            xy = np.column_stack([np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)])
        return np.round(xy, COORD_DECIMALS)

    return shapely.transform(geoms, transform)


def _feature(geom: Any, props: Mapping[str, Any]) -> dict[str, Any] | None:
    if geom is None or shapely.is_empty(geom):
        return None
    properties = {k: v for k, v in props.items() if v is not None}
    return {"type": "Feature", "geometry": shapely.geometry.mapping(geom), "properties": properties}


def _add_layer(
    m: folium.Map,
    name: str,
    geoms: Iterable[Any],
    props: Iterable[Mapping[str, Any]],
    *,
    base: Mapping[str, Any],
    show: bool = True,
) -> folium.FeatureGroup | None:
    features = [f for f in (_feature(g, p) for g, p in zip(geoms, props, strict=True)) if f is not None]
    if not features:
        logger.info("layer %s: nothing to draw", name)
        return None
    _ensure_helper(m)
    group = folium.FeatureGroup(name=name, show=show)
    group.add_child(VectorLayer(features, base=base))
    m.add_child(group)
    return group


def _num(frame: pd.DataFrame, column: str) -> pd.Series | None:
    """A column as float64 with NaN for missing or non-numeric values (nullable ``Int64`` included)."""
    if column not in frame.columns:
        return None
    return pd.to_numeric(frame[column], errors="coerce").astype("float64")


def _ids(series: pd.Series) -> pd.Series:
    """Ids as plain strings, missing as ``""``."""
    values = series.to_numpy(dtype=object)
    out = ["" if v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v)) else str(v).strip() for v in values]
    return pd.Series(out, index=series.index, dtype=object)


def _pct(x: float) -> str:
    return "–" if x is None or not math.isfinite(x) else f"{100 * x:.0f}%"


def level_name(level: str, language: Language) -> str:
    """Chinese or English name of a school level."""
    return t(level, language)


# --------------------------------------------------------------------------- base layers


def add_boundaries(m: folium.Map, boundary: gpd.GeoDataFrame, *, display: Display = Display()) -> folium.Map:
    """County outline (thick) and township boundaries (thin, dashed), one switchable layer.

    Rows with a non-empty ``township`` are townships; the others are the county.
    """
    lang = display.language
    if boundary is None or boundary.empty:
        return m
    town = _ids(boundary["township"]) if "township" in boundary.columns else pd.Series("", index=boundary.index)
    order = np.argsort((town == "").to_numpy(), kind="stable")  # townships first, county outline on top
    boundary, town = boundary.iloc[order], town.iloc[order]
    names = _ids(boundary["name"]) if "name" in boundary.columns else pd.Series("", index=boundary.index)
    # outlines as lines: a polygon would catch the pointer over its whole area
    # (Leaflet's canvas hit test ignores fill: false) and hide the zones' tooltips
    geoms = shapely.boundary(display_geometries(boundary, display))
    props = []
    for is_town, tw, nm in zip((town != "").to_numpy(), town, names, strict=True):
        if is_town:
            props.append({"c": "#555555", "w": 1.2, "s": {"dashArray": "5 4"}, "t": esc(tw)})
        else:
            props.append({"c": "#222222", "w": 3, "t": esc(nm) if nm else None})
    _add_layer(m, t("boundary", lang), geoms, props, base={"fill": False, "opacity": 0.9})
    legend_of(m).section(
        t("boundary", lang),
        [("line", "#222222", t("county", lang), 3), ("dash", "#555555", t("township", lang), 1.2)],
    )
    return m


def add_roads(m: folium.Map, roads: gpd.GeoDataFrame, *, display: Display = Display()) -> folium.Map:
    """Road network, line width by road class (``highway``), grey, no tooltip (size)."""
    lang = display.language
    if roads is None or roads.empty:
        return m
    cls = _ids(roads["highway"]) if "highway" in roads.columns else pd.Series("", index=roads.index)
    widths = cls.map(lambda c: ROAD_WIDTHS.get(c.replace("_link", ""), MINOR_ROAD_WIDTH)).to_numpy()
    order = np.argsort(widths, kind="stable")  # major roads drawn last, on top
    geoms = display_geometries(roads.iloc[order], display)
    props = [{"w": float(w)} for w in widths[order]]
    _add_layer(m, t("roads", lang), geoms, props, base={"color": "#9e9e9e", "opacity": 0.9, "interactive": False})
    legend_of(m).section(
        t("roads", lang),
        [("line", "#9e9e9e", t("major_roads", lang), 2.8), ("line", "#9e9e9e", t("roads_legend", lang), MINOR_ROAD_WIDTH)],
    )
    return m


# --------------------------------------------------------------------------- zones


def zone_colours(zones: gpd.GeoDataFrame, *, id_column: str = "school_id") -> dict[str, str]:
    """A palette colour per zone such that touching zones differ (greedy graph colouring).

    Deterministic: zones are visited by id and colours assigned by
    :func:`networkx.greedy_color` with the ``largest_first`` strategy.
    """
    if zones.empty:
        return {}
    frame = zones.sort_values(id_column, kind="stable").reset_index(drop=True)
    ids = _ids(frame[id_column]).to_list()
    graph = nx.Graph()
    graph.add_nodes_from(ids)
    geoms = frame.geometry.to_numpy()
    tree = shapely.STRtree(geoms)
    left, right = tree.query(geoms, predicate="intersects")
    graph.add_edges_from((ids[a], ids[b]) for a, b in zip(left, right, strict=True) if a < b)
    colouring = nx.greedy_color(graph, strategy="largest_first")
    return {sid: PALETTE[colouring[sid] % len(PALETTE)] for sid in ids}


def add_zones(
    m: folium.Map,
    zones: gpd.GeoDataFrame,
    *,
    level: str,
    colours: Mapping[str, str] | None = None,
    display: Display = Display(),
    show: bool = True,
) -> folium.Map:
    """Catchment zones coloured by school; over-capacity zones get a thick red outline.

    ``zones`` has ``school_id`` and optionally ``name``, ``students``,
    ``capacity_seats``, ``utilization`` (the ``zones.gpkg`` of the zones stage).
    """
    lang = display.language
    if zones is None or zones.empty or "school_id" not in zones.columns:
        if zones is not None and not zones.empty:
            logger.warning("zones (%s): no school_id column, layer skipped", level)
        return m
    colours = dict(colours or zone_colours(zones))
    zones = zones.sort_values("school_id", kind="stable")
    if "utilization" in zones.columns:  # over-capacity zones last, so no neighbour covers their red outline
        over_first = pd.to_numeric(zones["utilization"], errors="coerce").gt(1.0 + 1e-9).to_numpy()
        zones = zones.iloc[np.argsort(over_first, kind="stable")]
    ids = _ids(zones["school_id"])
    names = _ids(zones["name"]) if "name" in zones.columns else ids
    students = _num(zones, "students")
    seats = _num(zones, "capacity_seats")
    util = _num(zones, "utilization")
    if util is None and students is not None and seats is not None:
        util = students / seats.where(seats > 0)
    geoms = display_geometries(zones, display)
    props = []
    for k, sid in enumerate(ids):
        u = float(util.iloc[k]) if util is not None else float("nan")
        over = math.isfinite(u) and u > 1.0 + 1e-9
        lines = [f"<b>{esc(names.iloc[k])}</b> ({esc(sid)})"]
        if students is not None and seats is not None:
            lines.append(f"{t('students', lang)} {_int(students.iloc[k])} / {t('capacity', lang)} {_int(seats.iloc[k])}")
        if util is not None:
            lines.append(f"{t('utilization', lang)} {_pct(u)}" + (" ⚠" if over else ""))
        p: dict[str, Any] = {"f": colours.get(sid, PALETTE[k % len(PALETTE)]), "t": "<br>".join(lines)}
        if over:
            p.update({"c": OVER_CAPACITY_COLOUR, "w": 4})
        props.append(p)
    name = t("zones", lang, level=level_name(level, lang))
    _add_layer(
        m, name, geoms, props, show=show,
        base={"color": "#ffffff", "weight": 1.5, "opacity": 1, "fillOpacity": 0.4},
    )
    legend_of(m).section(
        name,
        [("fill", PALETTE[0], t("zone_colour", lang), 1), ("outline", OVER_CAPACITY_COLOUR, t("over_capacity", lang), 4)],
    )
    return m


def _int(x: Any) -> str:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return "–"
    return "–" if not math.isfinite(v) else f"{v:,.0f}"


def _points(gdf: gpd.GeoDataFrame) -> gpd.GeoSeries:
    """Points for a layer of points or polygons (a point inside each polygon)."""
    geo = gdf.geometry
    if (geo.geom_type == "Point").all():
        return geo
    return geo.representative_point()


def add_blocks(
    m: folium.Map,
    blocks: gpd.GeoDataFrame,
    assignment: pd.DataFrame,
    *,
    level: str,
    colours: Mapping[str, str],
    school_names: Mapping[str, str] | None = None,
    display: Display = Display(),
    show: bool = False,
    draw_served: bool = True,
    show_unserved: bool = True,
) -> tuple[folium.Map, int]:
    """Residential units as dots coloured by their assigned school; unserved ones as a red layer.

    Parameters
    ----------
    blocks
        Input blocks (``block_id``, ``students_<level>``, optional ``name``).
    assignment
        ``assignment.csv`` of the level: ``block_id``, ``school_id``, ``travel_s``, ``reason``.
    level
        ``primary`` or ``junior``.

    Returns
    -------
    tuple[folium.Map, int]
        The map and the number of unserved units with children of the level.
    """
    lang = display.language
    if blocks is None or blocks.empty or "block_id" not in assignment.columns:
        return m, 0
    school_names = school_names or {}
    col = f"students_{level}"
    blocks = blocks.sort_values("block_id", kind="stable")
    bid = _ids(blocks["block_id"])
    students = _num(blocks, col)
    students = students.fillna(0) if students is not None else pd.Series(0, index=blocks.index)
    a = assignment.copy()
    a["block_id"] = _ids(a["block_id"])
    a = a.drop_duplicates("block_id", keep="first").set_index("block_id")
    sid = _ids(a["school_id"]).reindex(bid.to_numpy()).fillna("") if "school_id" in a.columns else pd.Series("", index=bid.to_numpy())
    travel = _num(a, "travel_s")
    travel = travel.reindex(bid.to_numpy()) if travel is not None else None
    reason = _ids(a["reason"]).reindex(bid.to_numpy()).fillna("") if "reason" in a.columns else None
    names = (_ids(blocks["name"]) if "name" in blocks.columns else bid).to_list()
    pts = display_geometries(_points(blocks), display, simplify=False)
    # plain lists: positional pandas access in a 10,000-row loop costs seconds
    sid_l, bid_l, n_l = sid.to_list(), bid.to_list(), students.astype(np.int64).to_list()
    travel_l = travel.to_numpy(dtype=float).tolist() if travel is not None else [math.nan] * len(bid_l)
    reason_l = reason.to_list() if reason is not None else [""] * len(bid_l)
    w_students, w_school, w_min = t("students", lang), t("school", lang), t("minutes", lang)
    served_p, served_g, un_p, un_g = [], [], [], []
    for k, s in enumerate(sid_l):
        n = n_l[k]
        tip = f"{esc(names[k])} ({esc(bid_l[k])})<br>{w_students} {n}"
        if s:
            tip += f"<br>{w_school} {esc(school_names.get(s, s))}"
            if math.isfinite(travel_l[k]):
                tip += f" · {travel_l[k] / 60:.0f} {w_min}"
            served_p.append({"c": colours.get(s, UNKNOWN_COLOUR), "t": tip})
            served_g.append(pts[k])
        elif n > 0:
            if reason_l[k]:
                tip += f"<br>{esc(reason_l[k])}"
            un_p.append({"t": tip})
            un_g.append(pts[k])
    lv = level_name(level, lang)
    if draw_served:
        name = t("blocks", lang, level=lv)
        group = _add_layer(
            m, name, served_g, served_p, show=show,
            base={"radius": 3, "weight": 0.5, "color": "#333333", "fillOpacity": 0.85},
        )
        if group is not None:
            legend_of(m).section(name, [("dot", PALETTE[0], t("blocks_legend", lang), 3)])
    if un_g:
        name = t("unserved", lang, level=lv)
        # a red ring, so unserved units never read as (filled red) weak schools
        _add_layer(
            m, name, un_g, un_p, show=show_unserved,
            base={"radius": 4.5, "weight": 2.5, "color": UNSERVED_COLOUR, "fillColor": "#ffffff", "fillOpacity": 0.9},
        )
        legend_of(m).section(name, [("ring", UNSERVED_COLOUR, t("unserved_legend", lang), 4.5)])
    return m, len(un_g)


def add_schools(
    m: folium.Map,
    schools: gpd.GeoDataFrame,
    *,
    balance: pd.DataFrame | None = None,
    groups: pd.DataFrame | None = None,
    display: Display = Display(),
) -> folium.Map:
    """Schools as circles sized by enrolment and coloured by strength class.

    ``balance`` is ``schools_balance.csv`` (``school_id``, ``strength``,
    ``strength_class``); without it every school is grey ("not assessed").
    """
    lang = display.language
    if schools is None or schools.empty:
        return m
    schools = schools.sort_values("school_id", kind="stable")
    ids = _ids(schools["school_id"])
    enrolled = pd.Series(0.0, index=schools.index)
    for c in ("enrolled_primary", "enrolled_junior"):
        v = _num(schools, c)
        if v is not None:
            enrolled = enrolled + v.fillna(0)
    seats = pd.Series(0.0, index=schools.index)
    for c in ("capacity_primary", "capacity_junior"):
        v = _num(schools, c)
        if v is not None:
            seats = seats + v.fillna(0)
    cls = pd.Series("", index=ids.to_numpy())
    strength = None
    if balance is not None and "school_id" in balance.columns:
        b = balance.drop_duplicates("school_id").set_index(_ids(balance.drop_duplicates("school_id")["school_id"]))
        if "strength_class" in b.columns:
            cls = _ids(b["strength_class"]).reindex(ids.to_numpy()).fillna("")
        else:
            logger.info("schools_balance has no strength_class column: schools drawn grey")
        if "strength" in b.columns:
            strength = pd.to_numeric(b["strength"], errors="coerce").reindex(ids.to_numpy())
    role = {}
    if groups is not None and {"school_id", "group_id"} <= set(groups.columns):
        g = groups.assign(school_id=_ids(groups["school_id"]), group_id=_ids(groups["group_id"]))
        rl = _ids(g["role"]) if "role" in g.columns else pd.Series("", index=g.index)
        role = {s: f"{gid} {t(r, lang) if r else ''}".strip() for s, gid, r in zip(g["school_id"], g["group_id"], rl, strict=True)}
    top = max(float(enrolled.max()), 1.0)
    radius = 4.0 + 10.0 * np.sqrt(enrolled.to_numpy(dtype=float) / top)
    names = _ids(schools["name"]) if "name" in schools.columns else ids
    levels = _ids(schools["level"]) if "level" in schools.columns else pd.Series("", index=schools.index)
    areas = _ids(schools["area_type"]) if "area_type" in schools.columns else pd.Series("", index=schools.index)
    geoms = display_geometries(_points(schools), display, simplify=False)
    props = []
    for k, sid in enumerate(ids):
        c = cls.iloc[k]
        lines = [f"<b>{esc(names.iloc[k])}</b> ({esc(sid)})"]
        kinds = (levels.iloc[k], areas.iloc[k])
        lines.append(" · ".join(t(x, lang) for x in kinds if x))
        lines.append(f"{t('enrolled', lang)} {_int(enrolled.iloc[k])} / {t('capacity', lang)} {_int(seats.iloc[k])}"
                     + (f" ({_pct(enrolled.iloc[k] / seats.iloc[k])})" if seats.iloc[k] > 0 else ""))
        if c:
            s = f"{t('strength', lang)} {esc(t(c, lang))}"
            if strength is not None and math.isfinite(float(strength.iloc[k])):
                s += f" ({float(strength.iloc[k]):.2f})"
            lines.append(s)
        if sid in role:
            lines.append(f"{t('group', lang)} {esc(role[sid])}")
        props.append({"f": STRENGTH_COLOURS.get(c, UNKNOWN_COLOUR), "r": round(float(radius[k]), 1), "t": "<br>".join(x for x in lines if x)})
    name = t("schools", lang)
    _add_layer(m, name, geoms, props, base={"color": "#ffffff", "weight": 1.5, "fillOpacity": 0.95})
    present = [c for c in ("strong", "middle", "weak") if (cls == c).any()]
    items = [("dot", STRENGTH_COLOURS[c], t(c, lang), 6) for c in present]
    if (~cls.isin(list(STRENGTH_COLOURS))).any():
        items.append(("dot", UNKNOWN_COLOUR, t("unknown", lang), 6))
    items.append(("text", "", t("marker_size", lang), 0))
    legend_of(m).section(name, items)
    return m


def add_multischool(
    m: folium.Map,
    multizones: gpd.GeoDataFrame,
    members: pd.DataFrame | None,
    *,
    level: str,
    school_names: Mapping[str, str] | None = None,
    display: Display = Display(),
    show: bool = False,
) -> folium.Map:
    """Multi-school zones (多校划片) as dashed purple outlines, tooltip listing their schools.

    ``multizones`` (``multischool_zones.gpkg``) has ``multizone_id``; ``members``
    (``multischool.csv``) has ``school_id``, ``multizone_id``, ``expected_intake``, ``strong``.
    """
    lang = display.language
    if multizones is None or multizones.empty or "multizone_id" not in multizones.columns:
        return m
    school_names = school_names or {}
    multizones = multizones.sort_values("multizone_id", kind="stable")
    mids = _ids(multizones["multizone_id"])
    listing: dict[str, list[str]] = {}
    if members is not None and {"school_id", "multizone_id"} <= set(members.columns):
        mm = members.assign(school_id=_ids(members["school_id"]), multizone_id=_ids(members["multizone_id"]))
        mm = mm.sort_values(["multizone_id", "school_id"], kind="stable")
        intake = _num(mm, "expected_intake")
        strong = mm["strong"].astype(str).str.lower().isin(["true", "1", "yes"]) if "strong" in mm.columns else None
        for k, (s, z) in enumerate(zip(mm["school_id"], mm["multizone_id"], strict=True)):
            item = esc(school_names.get(s, s))
            if strong is not None and bool(strong.iloc[k]):
                item = f"<b>{item}</b> ★"
            if intake is not None and math.isfinite(float(intake.iloc[k])):
                item += f" · {t('expected_intake', lang)} {_int(intake.iloc[k])}"
            listing.setdefault(z, []).append(item)
    geoms = display_geometries(multizones, display)
    props = [{"t": f"<b>{t('multizone', lang)} {esc(z)}</b><br>" + "<br>".join(listing.get(z, []))} for z in mids]
    name = t("multischool", lang, level=level_name(level, lang))
    _add_layer(m, name, geoms, props, show=show,
               base={"color": "#6a3d9a", "weight": 3, "dashArray": "8 5", "fillColor": "#6a3d9a", "fillOpacity": 0.08})
    legend_of(m).section(name, [("dash", "#6a3d9a", t("multizone", lang), 3)])
    return m


def _school_xy(schools: gpd.GeoDataFrame, display: Display) -> dict[str, tuple[float, float]]:
    pts = display_geometries(_points(schools), display, simplify=False)
    return {sid: (float(p.x), float(p.y)) for sid, p in zip(_ids(schools["school_id"]), pts, strict=True) if p is not None and not p.is_empty}


def add_groups(
    m: folium.Map,
    schools: gpd.GeoDataFrame,
    groups: pd.DataFrame,
    *,
    school_names: Mapping[str, str] | None = None,
    display: Display = Display(),
    show: bool = True,
) -> folium.Map:
    """School communities: a line from each group's lead school to every member, coloured by group.

    ``groups`` is ``groups.csv`` (``school_id``, ``group_id``, ``role`` lead|member).
    """
    lang = display.language
    if groups is None or groups.empty or not {"school_id", "group_id"} <= set(groups.columns):
        return m
    school_names = school_names or {}
    xy = _school_xy(schools, display)
    g = groups.assign(school_id=_ids(groups["school_id"]), group_id=_ids(groups["group_id"]))
    g["role"] = _ids(groups["role"]) if "role" in groups.columns else ""
    g["level"] = _ids(groups["level"]) if "level" in groups.columns else ""  # group ids may repeat across levels
    geoms, props = [], []
    for k, ((lv, gid), rows) in enumerate(sorted(g.groupby(["level", "group_id"], sort=True), key=lambda kv: kv[0])):
        colour = PALETTE[k % len(PALETTE)]
        leads = rows.loc[rows["role"] == "lead", "school_id"].to_list()
        members = sorted(rows.loc[rows["role"] != "lead", "school_id"].to_list())
        if not leads:
            logger.warning("community %s has no lead school: drawn without links", gid)
            continue
        lead = leads[0]
        level_text = f" · {t(lv, lang)}" if lv else ""
        member_text = "、".join(esc(school_names.get(s, s)) for s in members)
        tip_head = (
            f"<b>{t('group', lang)} {esc(gid)}{level_text}</b><br>"
            f"{t('lead', lang)}: {esc(school_names.get(lead, lead))}<br>{t('member', lang)}: {member_text}"
        )
        for s in members:
            if lead in xy and s in xy:
                geoms.append(shapely.LineString([xy[lead], xy[s]]))
                props.append({"c": colour, "t": tip_head})
    name = t("groups", lang)
    _add_layer(m, name, geoms, props, show=show, base={"weight": 3, "opacity": 0.85})
    legend_of(m).section(name, [("line", PALETTE[0], t("groups_legend", lang), 3)])
    return m


def _arc(a: tuple[float, float], b: tuple[float, float], *, bend: float = 0.18, n: int = 16) -> shapely.LineString:
    """Quadratic Bézier from ``a`` to ``b`` bending to the right of travel (A→B and B→A stay apart)."""
    (x0, y0), (x1, y1) = a, b
    k = math.cos(math.radians((y0 + y1) / 2)) or 1.0  # bend in a locally isotropic frame
    x0, x1 = x0 * k, x1 * k
    mx, my = (x0 + x1) / 2, (y0 + y1) / 2
    dx, dy = x1 - x0, y1 - y0
    cx, cy = mx + bend * dy, my - bend * dx
    s = np.linspace(0.0, 1.0, n)
    x = ((1 - s) ** 2 * x0 + 2 * (1 - s) * s * cx + s**2 * x1) / k
    y = (1 - s) ** 2 * y0 + 2 * (1 - s) * s * cy + s**2 * y1
    return shapely.LineString(np.round(np.column_stack([x, y]), COORD_DECIMALS))


def _arrowhead(a: tuple[float, float], b: tuple[float, float], *, bend: float = 0.18, at: float = 0.75) -> shapely.Polygon:
    """A small triangle on the arc of :func:`_arc` at parameter ``at``, pointing towards ``b``.

    Sized from the chord (5 %, at most :data:`ARROW_MAX_DEG`) and drawn in a locally equal-area frame (longitudes
    scaled by cos φ), so it is not squashed at Chinese latitudes.
    """
    (x0, y0), (x1, y1) = a, b
    k = math.cos(math.radians((y0 + y1) / 2)) or 1.0
    x0, x1 = x0 * k, x1 * k
    mx, my = (x0 + x1) / 2, (y0 + y1) / 2
    cx, cy = mx + bend * (y1 - y0), my - bend * (x1 - x0)
    s = at
    px = (1 - s) ** 2 * x0 + 2 * (1 - s) * s * cx + s**2 * x1
    py = (1 - s) ** 2 * y0 + 2 * (1 - s) * s * cy + s**2 * y1
    tx = 2 * (1 - s) * (cx - x0) + 2 * s * (x1 - cx)
    ty = 2 * (1 - s) * (cy - y0) + 2 * s * (y1 - cy)
    norm = math.hypot(tx, ty) or 1.0
    tx, ty = tx / norm, ty / norm
    size = min(0.05 * math.hypot(x1 - x0, y1 - y0), ARROW_MAX_DEG)
    tip = (px + tx * size, py + ty * size)
    left = (px - tx * size * 0.2 - ty * size * 0.55, py - ty * size * 0.2 + tx * size * 0.55)
    right = (px - tx * size * 0.2 + ty * size * 0.55, py - ty * size * 0.2 - tx * size * 0.55)
    pts = np.array([tip, left, right, tip])
    pts[:, 0] /= k
    return shapely.Polygon(np.round(pts, COORD_DECIMALS + 1))


def rotation_flows(moves: pd.DataFrame) -> pd.DataFrame:
    """Teachers moving between each pair of schools: count, backbone count, subjects.

    Returns
    -------
    pandas.DataFrame
        ``from_school``, ``to_school``, ``teachers``, ``backbone``, ``subjects``
        (e.g. ``"math×2, chinese"``), sorted by the two ids.
    """
    cols = ["from_school", "to_school", "teachers", "backbone", "subjects"]
    if moves is None or moves.empty or not {"from_school", "to_school"} <= set(moves.columns):
        return pd.DataFrame(columns=cols)
    mv = moves.assign(from_school=_ids(moves["from_school"]), to_school=_ids(moves["to_school"]))
    mv = mv[(mv["from_school"] != "") & (mv["to_school"] != "")]
    bb = mv["backbone"].astype(str).str.lower().isin(["true", "1", "yes"]) if "backbone" in mv.columns else pd.Series(False, index=mv.index)
    subj = _ids(mv["subject"]) if "subject" in mv.columns else pd.Series("", index=mv.index)
    rows = []
    for (f, to), idx in mv.groupby(["from_school", "to_school"], sort=True).groups.items():
        counts = subj.loc[idx].value_counts()
        counts = sorted(((-int(c), s) for s, c in counts.items() if s))
        text = ", ".join(s if -c == 1 else f"{s}×{-c}" for c, s in counts)
        rows.append((f, to, len(idx), int(bb.loc[idx].sum()), text))
    return pd.DataFrame(rows, columns=cols)


def add_rotation(
    m: folium.Map,
    schools: gpd.GeoDataFrame,
    moves: pd.DataFrame,
    *,
    school_names: Mapping[str, str] | None = None,
    display: Display = Display(),
    show: bool = True,
) -> folium.Map:
    """Teacher rotation flows: an arc from sending to receiving school, width by teachers.

    ``moves`` is ``moves.csv`` (``teacher_id``, ``from_school``, ``to_school``,
    ``subject``, ``backbone``, ...). An arrowhead on each arc points to the receiving school.
    """
    lang = display.language
    flows = rotation_flows(moves)
    if flows.empty:
        return m
    school_names = school_names or {}
    xy = _school_xy(schools, display)
    geoms, props, heads, head_props = [], [], [], []
    for f, to, n, bb, subjects in flows.itertuples(index=False):
        if f not in xy or to not in xy:
            logger.warning("rotation %s → %s: school not on the map, flow skipped", f, to)
            continue
        tip = (f"{t('from', lang)} {esc(school_names.get(f, f))} → {t('to', lang)} {esc(school_names.get(to, to))}<br>"
               f"{t('teachers', lang)} {n} · {t('backbone', lang)} {bb}<br>{t('subjects', lang)}: {esc(subjects)}")
        geoms.append(_arc(xy[f], xy[to]))
        props.append({"w": round(1.5 + 2.0 * math.sqrt(n), 1), "t": tip})
        heads.append(_arrowhead(xy[f], xy[to]))
        head_props.append({"w": 1, "t": tip})
    name = t("rotation", lang)
    group = _add_layer(m, name, geoms + heads, props + head_props, show=show,
                       base={"color": ROTATION_COLOUR, "opacity": 0.85, "fillColor": ROTATION_COLOUR, "fillOpacity": 1})
    if group is not None:
        legend_of(m).section(name, [("line", ROTATION_COLOUR, t("rotation_legend", lang), 3)])
    return m


#: Colours of travel-time bands, nearest first (sequential, light to dark).
BAND_COLOURS: tuple[str, ...] = ("#c7e9c0", "#74c476", "#fd8d3c", "#d94801")


def add_isochrones(
    m: folium.Map,
    blocks: gpd.GeoDataFrame,
    assignment: pd.DataFrame,
    *,
    level: str,
    minutes: Sequence[int] = (10, 20, 30),
    radius_m: float = 250.0,
    display: Display = Display(),
    show: bool = False,
) -> folium.Map:
    """Travel-time bands: where children's trip to their assigned school takes ≤ 10, ≤ 20 … minutes.

    Each block goes to the first band its ``travel_s`` fits in; a band's area is
    the union of its blocks (polygons as they are, points buffered by ``radius_m``).
    """
    lang = display.language
    if blocks is None or blocks.empty or not {"block_id", "travel_s"} <= set(assignment.columns):
        return m
    a = assignment.assign(block_id=_ids(assignment["block_id"])).drop_duplicates("block_id").set_index("block_id")
    travel = _num(a, "travel_s").reindex(_ids(blocks["block_id"]).to_numpy()).to_numpy(dtype=float)
    bounds = sorted(int(x) for x in minutes)
    geo = blocks.geometry
    geo = geo.where(geo.geom_type.isin(["Polygon", "MultiPolygon"]), geo.buffer(radius_m))
    geoms, props, items = [], [], []
    for k in range(len(bounds) + 1):
        lo = bounds[k - 1] * 60 if k > 0 else -1
        hi = bounds[k] * 60 if k < len(bounds) else np.inf
        mask = np.isfinite(travel) & (travel > lo) & (travel <= hi)
        if not mask.any():
            continue
        label = t("within", lang, m=bounds[k]) if k < len(bounds) else t("beyond", lang, m=bounds[-1])
        colour = BAND_COLOURS[min(k, len(BAND_COLOURS) - 1)]
        band = gpd.GeoSeries([shapely.union_all(geo.to_numpy()[mask])], crs=blocks.crs)
        geoms.append(display_geometries(band, display)[0])
        props.append({"f": colour, "t": esc(label)})
        items.append(("fill", colour, label, 1))
    name = t("isochrones", lang, level=level_name(level, lang))
    _add_layer(m, name, geoms, props, show=show, base={"stroke": False, "fillOpacity": 0.55})
    if items:
        legend_of(m).section(name, items)
    return m
