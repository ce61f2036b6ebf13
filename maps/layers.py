"""Map layers: what every layer is made of, and the layers drawn from the inputs (boundaries, roads, schools).

Each ``add_*`` draws one kind of layer onto a folium map and returns it; the layers of a stage's results
are in that stage's renderer module (:mod:`maps.stages`).

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

import json
import logging
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from branca.element import MacroElement
from folium.template import Template
from scipy.spatial import cKDTree

from geo.adjacency import voronoi_cells
from geo.text import html_text
from maps.labels import Language, t
from maps.legend import Item, legend_of

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

#: Line width (px) of each OSM road class; unlisted classes get the last width.
ROAD_WIDTHS: Mapping[str, float] = {
    "motorway": 3.5, "trunk": 3.0, "primary": 2.6, "secondary": 2.0, "tertiary": 1.6,
}
MINOR_ROAD_WIDTH = 0.8

#: Ground metres per pixel at zoom 0 on the equator (Web Mercator, 256-px tiles).
WEB_MERCATOR_M_PER_PX = 156_543.034
#: Pixels wanted between neighbouring school labels (a name of 5–6 characters is about 70 px wide).
LABEL_SPACING_PX = 80.0
#: School labels appear from a zoom within this range: never on a whole-province view, always in a street view.
LABEL_ZOOM_RANGE = (8.0, 16.0)

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


#: Chinese labels, 10 m simplification, no shift.
DEFAULT_DISPLAY = Display()


class VectorLayer(MacroElement):
    """GeoJSON features drawn by Leaflet's core with compact per-feature styles.

    Feature properties: ``c`` colour (stroke and fill unless ``f``), ``f`` fill
    colour, ``w`` stroke width, ``r`` circle radius, ``s`` other style keys,
    ``t`` tooltip HTML (already escaped), ``l`` label HTML of a point (already escaped): a permanent
    tooltip above it, in the same switchable layer, shown from the zoom :class:`LabelZoom` sets.
    """

    _template = Template(
        """
{% macro script(this, kwargs) %}
var {{ this.get_name() }} = L.geoJSON({{ this.data }}, {
  style: function (f) { return spStyle({{ this.base }}, f.properties); },
  pointToLayer: function (f, ll) {
    if (f.properties.l) {
      L.tooltip({permanent: true, direction: 'top', className: 'sp-label', interactive: false,
                 offset: [0, -(f.properties.r || 4)]}).setLatLng(ll).setContent(f.properties.l).addTo({{ this._parent.get_name() }});
    }
    return L.circleMarker(ll, spStyle({{ this.base }}, f.properties));
  },
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


class LabelZoom(MacroElement):
    """Shows point labels (``sp-label`` tooltips) from zoom ``min_zoom`` on, hides them below it."""

    _template = Template(
        """
{% macro header(this, kwargs) %}
<style>
.leaflet-tooltip.sp-label { background: rgba(255,255,255,0.85); border: none; border-radius: 3px; box-shadow: none;
  padding: 0 3px; color: #1a1a1a; font: 11px/1.3 "Microsoft YaHei","PingFang SC","Noto Sans CJK SC",sans-serif; }
.leaflet-tooltip.sp-label::before { display: none; }
.sp-labels-off .leaflet-tooltip.sp-label { display: none; }
</style>
{% endmacro %}
{% macro script(this, kwargs) %}
(function () {
  var map = {{ this._parent.get_name() }};
  function update() { map.getContainer().classList.toggle('sp-labels-off', map.getZoom() < {{ this.min_zoom }}); }
  map.on('zoomend', update);
  update();
})();
{% endmacro %}
"""
    )

    def __init__(self, min_zoom: float) -> None:
        super().__init__()
        self._name = "LabelZoom"
        self.min_zoom = min_zoom


def label_zoom(points: gpd.GeoSeries, *, label_px: float = LABEL_SPACING_PX) -> float:
    """The zoom from which point labels rarely collide: the closest quarter of the points are ``label_px`` apart.

    Uses the lower quartile of the distance from each point to its nearest neighbour (in the layer's
    metric CRS) and Web Mercator's ground resolution at the points' mean latitude, rounded up to a
    half zoom level and kept within :data:`LABEL_ZOOM_RANGE`.
    """
    lo, hi = LABEL_ZOOM_RANGE
    xy = shapely.get_coordinates(points.to_numpy())
    if len(xy) < 2 or points.crs is None or not points.crs.is_projected:
        return lo
    dist, _ = cKDTree(xy).query(xy, k=2)
    near = dist[:, 1]
    spacing_m = float(np.quantile(near[near > 0], 0.25)) if (near > 0).any() else 0.0
    if spacing_m <= 0:
        return hi
    lat = float(np.mean(shapely.get_coordinates(points.to_crs(4326).to_numpy())[:, 1]))
    metres_per_px_z0 = WEB_MERCATOR_M_PER_PX * math.cos(math.radians(lat))
    zoom = math.log2(metres_per_px_z0 * label_px / spacing_m)
    return float(min(max(math.ceil(zoom * 2) / 2, lo), hi))


def _js_json(obj: Any) -> str:
    """JSON safe to embed in a ``<script>`` (no ``</`` sequence), compact."""
    text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return text.replace("</", "<\\/")


def esc(value: Any) -> str:
    """Escape a value for tooltip HTML, control and bidirectional characters dropped (:func:`geo.text.html_text`)."""
    return html_text(value)


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


def add_layer(
    m: folium.Map,
    name: str,
    geoms: Iterable[Any],
    props: Iterable[Mapping[str, Any]],
    *,
    base: Mapping[str, Any],
    show: bool = True,
) -> folium.FeatureGroup | None:
    """Add one switchable layer of features (``geoms`` with per-feature ``props``) drawn with style ``base``.

    Returns the layer, or ``None`` (nothing added) when there is no feature to draw.
    """
    features = [f for f in (_feature(g, p) for g, p in zip(geoms, props, strict=True)) if f is not None]
    if not features:
        logger.info("layer %s: nothing to draw", name)
        return None
    _ensure_helper(m)
    group = folium.FeatureGroup(name=name, show=show)
    group.add_child(VectorLayer(features, base=base))
    m.add_child(group)
    return group


def as_float(frame: pd.DataFrame, column: str) -> pd.Series | None:
    """A column as float64 with NaN for missing or non-numeric values (nullable ``Int64`` included)."""
    if column not in frame.columns:
        return None
    return pd.to_numeric(frame[column], errors="coerce").astype("float64")


def as_ids(series: pd.Series) -> pd.Series:
    """Ids as plain strings, missing as ``""``."""
    values = series.to_numpy(dtype=object)
    out = ["" if v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v)) else str(v).strip() for v in values]
    return pd.Series(out, index=series.index, dtype=object)


def fmt_pct(x: float) -> str:
    """A share as a whole percentage (``–`` when missing)."""
    return "–" if x is None or not math.isfinite(x) else f"{100 * x:.0f}%"


def fmt_int(x: Any) -> str:
    """A count grouped by thousands (``–`` when missing)."""
    try:
        v = float(x)
    except (TypeError, ValueError):
        return "–"
    return "–" if not math.isfinite(v) else f"{v:,.0f}"


def points_of(gdf: gpd.GeoDataFrame) -> gpd.GeoSeries:
    """Points for a layer of points or polygons (a point inside each polygon)."""
    geo = gdf.geometry
    if (geo.geom_type == "Point").all():
        return geo
    return geo.representative_point()


def school_xy(schools: gpd.GeoDataFrame, display: Display) -> dict[str, tuple[float, float]]:
    """school_id → (lon, lat) on the map."""
    pts = display_geometries(points_of(schools), display, simplify=False)
    return {sid: (float(p.x), float(p.y)) for sid, p in zip(as_ids(schools["school_id"]), pts, strict=True) if p is not None and not p.is_empty}


def level_name(level: str, language: Language) -> str:
    """Chinese or English name of a school level."""
    return t(level, language)


# --------------------------------------------------------------------------- base layers


def add_boundaries(m: folium.Map, boundary: gpd.GeoDataFrame, *, display: Display = DEFAULT_DISPLAY) -> folium.Map:
    """County outline (thick) and township boundaries (thin, dashed), one switchable layer.

    Rows with a non-empty ``township`` are townships; the others are the county.
    """
    lang = display.language
    if boundary is None or boundary.empty:
        return m
    town = as_ids(boundary["township"]) if "township" in boundary.columns else pd.Series("", index=boundary.index)
    order = np.argsort((town == "").to_numpy(), kind="stable")  # townships first, county outline on top
    boundary, town = boundary.iloc[order], town.iloc[order]
    names = as_ids(boundary["name"]) if "name" in boundary.columns else pd.Series("", index=boundary.index)
    # outlines as lines: a polygon would catch the pointer over its whole area
    # (Leaflet's canvas hit test ignores fill: false) and hide the zones' tooltips
    geoms = shapely.boundary(display_geometries(boundary, display))
    props = []
    for is_town, tw, nm in zip((town != "").to_numpy(), town, names, strict=True):
        if is_town:
            props.append({"c": "#555555", "w": 1.2, "s": {"dashArray": "5 4"}, "t": esc(tw)})
        else:
            props.append({"c": "#222222", "w": 3, "t": esc(nm) if nm else None})
    add_layer(m, t("boundary", lang), geoms, props, base={"fill": False, "opacity": 0.9})
    legend_of(m).section(
        t("boundary", lang),
        [("line", "#222222", t("county", lang), 3), ("dash", "#555555", t("township", lang), 1.2)],
    )
    return m


def add_roads(m: folium.Map, roads: gpd.GeoDataFrame, *, display: Display = DEFAULT_DISPLAY) -> folium.Map:
    """Road network, line width by road class (``highway``), grey, no tooltip (size)."""
    lang = display.language
    if roads is None or roads.empty:
        return m
    cls = as_ids(roads["highway"]) if "highway" in roads.columns else pd.Series("", index=roads.index)
    widths = cls.map(lambda c: ROAD_WIDTHS.get(c.replace("_link", ""), MINOR_ROAD_WIDTH)).to_numpy()
    order = np.argsort(widths, kind="stable")  # major roads drawn last, on top
    geoms = display_geometries(roads.iloc[order], display)
    props = [{"w": float(w)} for w in widths[order]]
    add_layer(m, t("roads", lang), geoms, props, base={"color": "#9e9e9e", "opacity": 0.9, "interactive": False})
    legend_of(m).section(
        t("roads", lang),
        [("line", "#9e9e9e", t("major_roads", lang), 2.8), ("line", "#9e9e9e", t("roads_legend", lang), MINOR_ROAD_WIDTH)],
    )
    return m

def _column_sum(frame: pd.DataFrame, columns: Sequence[str]) -> pd.Series:
    """The sum of the numeric ``columns`` present, missing values as 0."""
    total = pd.Series(0.0, index=frame.index)
    for c in columns:
        v = as_float(frame, c)
        if v is not None:
            total = total + v.fillna(0)
    return total


def _strength(balance: pd.DataFrame | None, ids: pd.Series) -> tuple[pd.Series, pd.Series | None]:
    """Strength class (``""`` when unknown) and strength score of each school, indexed by id."""
    cls = pd.Series("", index=ids.to_numpy())
    strength = None
    if balance is not None and "school_id" in balance.columns:
        b = balance.drop_duplicates("school_id").set_index(as_ids(balance.drop_duplicates("school_id")["school_id"]))
        if "strength_class" in b.columns:
            cls = as_ids(b["strength_class"]).reindex(ids.to_numpy()).fillna("")
        else:
            logger.info("schools_balance has no strength_class column: schools drawn grey")
        if "strength" in b.columns:
            strength = pd.to_numeric(b["strength"], errors="coerce").reindex(ids.to_numpy())
    return cls, strength


def _roles(groups: pd.DataFrame | None, lang: Language) -> dict[str, str]:
    """school_id → its community and role (``G1 牵头校``)."""
    if groups is None or not {"school_id", "group_id"} <= set(groups.columns):
        return {}
    g = groups.assign(school_id=as_ids(groups["school_id"]), group_id=as_ids(groups["group_id"]))
    rl = as_ids(g["role"]) if "role" in g.columns else pd.Series("", index=g.index)
    return {s: f"{gid} {t(r, lang) if r else ''}".strip() for s, gid, r in zip(g["school_id"], g["group_id"], rl, strict=True)}


def _shared_labels(points: np.ndarray, names: Sequence[str]) -> list[str | None]:
    """Label HTML per school: schools at one place (a primary and a junior school sharing a site) get one
    label listing their names, on the first of them; the others none."""
    first: dict[tuple[float, float], int] = {}
    out: list[str | None] = [None] * len(names)
    for k, p in enumerate(points):
        if p is None or shapely.is_empty(p):
            continue
        key = (round(float(p.x), COORD_DECIMALS), round(float(p.y), COORD_DECIMALS))
        if key in first:
            out[first[key]] = f"{out[first[key]]}<br>{esc(names[k])}"
        else:
            first[key] = k
            out[k] = esc(names[k])
    return out


def add_schools(
    m: folium.Map,
    schools: gpd.GeoDataFrame,
    *,
    balance: pd.DataFrame | None = None,
    groups: pd.DataFrame | None = None,
    display: Display = DEFAULT_DISPLAY,
    labels: bool = True,
) -> folium.Map:
    """Schools as circles sized by enrolment and coloured by strength class, named by labels at closer zooms.

    ``balance`` is ``schools_balance.csv`` (``school_id``, ``strength``,
    ``strength_class``); without it every school is grey ("not assessed"). With ``labels``, each
    school's name stands above it from the zoom of :func:`label_zoom` on.
    """
    lang = display.language
    if schools is None or schools.empty:
        return m
    schools = schools.sort_values("school_id", kind="stable")
    ids = as_ids(schools["school_id"])
    enrolled = _column_sum(schools, ("enrolled_primary", "enrolled_junior"))
    seats = _column_sum(schools, ("capacity_primary", "capacity_junior"))
    cls, strength = _strength(balance, ids)
    role = _roles(groups, lang)
    top = max(float(enrolled.max()), 1.0)
    radius = 4.0 + 10.0 * np.sqrt(enrolled.to_numpy(dtype=float) / top)
    names = as_ids(schools["name"]) if "name" in schools.columns else ids
    levels = as_ids(schools["level"]) if "level" in schools.columns else pd.Series("", index=schools.index)
    areas = as_ids(schools["area_type"]) if "area_type" in schools.columns else pd.Series("", index=schools.index)
    geoms = display_geometries(points_of(schools), display, simplify=False)
    label = _shared_labels(geoms, names.to_list()) if labels else [None] * len(ids)
    props = []
    for k, sid in enumerate(ids):
        c = cls.iloc[k]
        lines = [f"<b>{esc(names.iloc[k])}</b> ({esc(sid)})"]
        kinds = (levels.iloc[k], areas.iloc[k])
        lines.append(" · ".join(esc(t(x, lang)) for x in kinds if x))
        lines.append(f"{t('enrolled', lang)} {fmt_int(enrolled.iloc[k])} / {t('capacity', lang)} {fmt_int(seats.iloc[k])}"
                     + (f" ({fmt_pct(enrolled.iloc[k] / seats.iloc[k])})" if seats.iloc[k] > 0 else ""))
        if c:
            s = f"{t('strength', lang)} {esc(t(c, lang))}"
            if strength is not None and math.isfinite(float(strength.iloc[k])):
                s += f" ({float(strength.iloc[k]):.2f})"
            lines.append(s)
        if sid in role:
            lines.append(f"{t('group', lang)} {esc(role[sid])}")
        props.append({"f": STRENGTH_COLOURS.get(c, UNKNOWN_COLOUR), "r": round(float(radius[k]), 1), "t": "<br>".join(x for x in lines if x),
                      "l": label[k]})
    name = t("schools", lang)
    add_layer(m, name, geoms, props, base={"color": "#ffffff", "weight": 1.5, "fillOpacity": 0.95})
    if labels and "sp_label_zoom" not in m._children:
        m.add_child(LabelZoom(label_zoom(points_of(schools))), name="sp_label_zoom")
    present = [c for c in ("strong", "middle", "weak") if (cls == c).any()]
    items: list[Item] = [("dot", STRENGTH_COLOURS[c], t(c, lang), 6) for c in present]
    if (~cls.isin(list(STRENGTH_COLOURS))).any():
        items.append(("dot", UNKNOWN_COLOUR, t("unknown", lang), 6))
    items.append(("text", "", t("marker_size", lang), 0))
    legend_of(m).section(name, items)
    return m


# --------------------------------------------------------------------------- today's zones

#: Outline of today's zones: dark blue, dashed, so it reads over the proposed zones' white borders.
CURRENT_ZONE_COLOUR = "#08306b"


def block_cells(blocks: gpd.GeoDataFrame, boundary: gpd.GeoDataFrame | None) -> gpd.GeoSeries:
    """The area each block stands for: its polygon, or the Voronoi cell of its point clipped to the county.

    The same cells the zones stage dissolves into zones (:func:`geo.adjacency.voronoi_cells` with the
    boundary's union as clip), so today's zones and the proposed ones share their borders.
    """
    geo = blocks.geometry
    if len(geo) and geo.geom_type.isin(["Polygon", "MultiPolygon"]).all():
        return geo
    xy = shapely.get_coordinates(shapely.point_on_surface(geo.to_numpy())).reshape(-1, 2)
    clip = None
    if boundary is not None and len(boundary):
        clip = shapely.union_all(boundary.to_crs(blocks.crs).geometry.to_numpy())
    return gpd.GeoSeries(voronoi_cells(xy, boundary=clip), index=blocks.index, crs=blocks.crs)


def current_zones(
    blocks: gpd.GeoDataFrame, schools: gpd.GeoDataFrame, boundary: gpd.GeoDataFrame | None, *, level: str
) -> gpd.GeoDataFrame | None:
    """Today's zones of a level: the blocks' cells dissolved by ``current_<level>`` (the inputs' assignment).

    Returns
    -------
    geopandas.GeoDataFrame or None
        ``school_id``, ``name``, ``students`` (``students_<level>`` of its blocks), ``capacity_seats``
        (``capacity_<level>``, NaN when unknown), ``geometry``, sorted by id; ``None`` when no block names a school.
    """
    col = f"current_{level}"
    if blocks is None or blocks.empty or col not in blocks.columns:
        return None
    current = as_ids(blocks[col])
    if not (current != "").any():
        return None
    cells = block_cells(blocks, boundary)
    students = as_float(blocks, f"students_{level}")
    students = students.fillna(0) if students is not None else pd.Series(0.0, index=blocks.index)
    ids = sorted(set(current) - {""})
    geoms = [shapely.union_all(cells[current == sid].to_numpy()) for sid in ids]
    names: dict[str, str] = {}
    seats: dict[str, float] = {}
    if schools is not None and not schools.empty:
        sids = as_ids(schools["school_id"])
        if "name" in schools.columns:
            names = dict(zip(sids, as_ids(schools["name"]), strict=True))
        cap = as_float(schools, f"capacity_{level}")
        if cap is not None:
            seats = dict(zip(sids, cap, strict=True))
    return gpd.GeoDataFrame(
        {
            "school_id": ids,
            "name": [names.get(s, s) for s in ids],
            "students": [float(students[current == s].sum()) for s in ids],
            "capacity_seats": [seats.get(s, math.nan) for s in ids],
        },
        geometry=geoms,
        crs=blocks.crs,
    )


def add_current_zones(
    m: folium.Map,
    zones: gpd.GeoDataFrame,
    *,
    level: str,
    colours: Mapping[str, str],
    display: Display = DEFAULT_DISPLAY,
    show: bool = False,
) -> folium.Map:
    """Today's zones (from :func:`current_zones`): a dashed dark-blue outline over a light fill in the school's colour.

    Coloured like the school's proposed zone (``colours``), so switching between the two layers shows
    which units change school; hidden at start.
    """
    lang = display.language
    if zones is None or zones.empty:
        return m
    geoms = display_geometries(zones, display)
    students, seats = zones["students"].to_numpy(dtype=float), zones["capacity_seats"].to_numpy(dtype=float)
    props = []
    for k, (sid, nm) in enumerate(zip(as_ids(zones["school_id"]), as_ids(zones["name"]), strict=True)):
        tip = f"<b>{t('current_zone', lang)} · {esc(nm)}</b> ({esc(sid)})<br>{t('students', lang)} {fmt_int(students[k])}"
        if math.isfinite(seats[k]):
            tip += f" / {t('capacity', lang)} {fmt_int(seats[k])}" + (f" ({fmt_pct(students[k] / seats[k])})" if seats[k] > 0 else "")
        props.append({"f": colours.get(sid, UNKNOWN_COLOUR), "t": tip})
    name = t("current_zones", lang, level=level_name(level, lang))
    add_layer(m, name, geoms, props, show=show, base={
        "color": CURRENT_ZONE_COLOUR, "weight": 2.5, "opacity": 0.95, "dashArray": "7 5", "fillOpacity": 0.18,
    })
    legend_of(m).section(name, [("dash", CURRENT_ZONE_COLOUR, t("current_zones_legend", lang), 2.5)])
    return m
