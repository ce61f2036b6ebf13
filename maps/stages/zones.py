"""The zones stage on the maps and in the report: catchment zones, travel-time bands, multi-school
zones and residential units per level; the plan against the nearest school; the zones' tables.

Reads the zones stage's outputs named below, for each level that has them (``primary``, ``junior``).
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import folium
import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import shapely

from maps import charts
from maps.common import (
    KeyPoints,
    MapContext,
    MapLayer,
    ReportParams,
    StageRenderer,
    school_names,
    stage_frame,
    stage_layer,
    stage_mapping,
    stage_path,
)
from maps.i18n import display_table, value_name
from maps.labels import Language, t
from maps.layers import (
    DEFAULT_DISPLAY,
    PALETTE,
    UNKNOWN_COLOUR,
    Display,
    add_current_zones,
    add_layer,
    as_float,
    as_ids,
    current_zones,
    display_geometries,
    esc,
    fmt_int,
    fmt_pct,
    level_name,
    points_of,
)
from maps.legend import Item, legend_of
from maps.tables import TEXT as TABLE_TEXT
from maps.tables import (
    bullets,
    figure_name,
    figures_table,
    flatten,
    fmt_value,
    heading,
    is_num,
    missing_note,
    pick,
    table_html,
    text,
    without_geometry,
)
from planning.app.stage import RunResult

logger = logging.getLogger(__name__)

STAGE = "zones"
#: School levels, in the order they are drawn and reported; a level is present when the stage wrote files under it.
LEVELS = ("primary", "junior")
#: Files of the zones stage read here (``{level}``: ``primary`` or ``junior``), relative to its output folder.
ZONES = "{level}/zones.gpkg"
ASSIGNMENT = "{level}/assignment.csv"
METRICS = "{level}/metrics.json"
MULTISCHOOL = "{level}/multischool.csv"
MULTISCHOOL_ZONES = "{level}/multischool_zones.gpkg"
FEEDER = "feeder.csv"

OVER_CAPACITY_COLOUR = "#e31a1c"
UNSERVED_COLOUR = "#e31a1c"
#: Colours of travel-time bands, nearest first (sequential, light to dark).
BAND_COLOURS: tuple[str, ...] = ("#c7e9c0", "#74c476", "#fd8d3c", "#d94801")

#: Bars in a per-school chart (the highest values; the table lists every school).
MAX_CHART_BARS = 30
#: Nested figure tables with more entries than this are per-item detail (left to the JSON file).
MAX_FIGURE_ITEMS = 12
_PER_STUDENT_TIME = re.compile(r"^(mean|median|p\d\d|max)_")

HEADING = ("划片招生", "Catchment zones")

#: Map labels (key → (Chinese, English)).
LABELS: Mapping[str, tuple[str, str]] = {
    "zones": ("{level}片区", "{level} zones"),
    "blocks": ("{level}居住区（按学校着色）", "{level} residential units (by school)"),
    "unserved": ("{level}未覆盖居住区", "{level} unserved units"),
    "multischool": ("{level}多校划片", "{level} multi-school zones"),
    "isochrones": ("{level}到校通行时间", "{level} travel time to school"),
    "school": ("学校", "School"),
    "students": ("学生", "Students"),
    "utilization": ("学位使用率", "Utilization"),
    "over_capacity": ("超出学位（红色粗边）", "Over capacity (thick red outline)"),
    "zone_colour": ("填充色区分学校片区", "Fill colour tells zones apart"),
    "travel": ("到校时间", "Travel"),
    "minutes": ("分钟", "min"),
    "blocks_legend": ("颜色与所属学校片区相同", "Same colour as the school's zone"),
    "unserved_legend": ("没有可达学校或未分配的居住区", "Units with no reachable school or not assigned"),
    "multizone": ("多校划片片区", "Multi-school zone"),
    "expected_intake": ("预计招生", "Expected intake"),
    "within": ("≤ {m} 分钟", "≤ {m} min"),
    "beyond": ("> {m} 分钟", "> {m} min"),
}

#: Names of the figures in ``metrics.json``.
FIGURE_NAMES: Mapping[str, tuple[str, str]] = {
    "moved": ("调整学校的学生数", "Students changing school"),
    "moved_share": ("调整学校的学生比例", "Share changing school"),
    "mean_travel_s": ("平均到校时间", "Mean travel time"),
    "p95_travel_s": ("95% 学生到校时间不超过", "95th percentile travel time"),
    "mean_travel_m": ("平均到校距离", "Mean travel distance"),
    "utilization": ("学位使用率", "Utilization"),
    "unserved": ("未覆盖学生", "Unserved students"),
    "share_within_standard": ("服务半径内学生比例", "Share within service standard"),
    "equity": ("教育公平", "Equity"),
    "nearest": ("就近分配", "Nearest school"),
    "travel": ("到校出行", "Travel"),
    "students": ("学生数", "Students"),
    "left_behind": ("留守儿童", "Left-behind children"),
    "migrant": ("随迁子女", "Migrant children"),
    "disabled": ("残疾儿童", "Disabled children"),
    "low_income": ("困难家庭子女", "Low-income children"),
    "moved_students": ("调整学校的学生数", "Students changing school"),
    "overflow_students": ("超出学位的学生", "Students over capacity"),
    "overflow": ("超出学位的学校", "Schools over capacity"),
    "unserved_blocks": ("未覆盖居住区", "Unserved units"),
    "travel_total_s": ("总出行时间", "Total travel time"),
    "objective_s": ("目标值（总出行时间）", "Objective (total travel)"),
    "bound_s": ("下界（总出行时间）", "Bound (total travel)"),
    "contiguous": ("片区连续", "Contiguous zones"),
    "detached_pieces": ("飞地数", "Detached pieces"),
    # the travel limit the zones were planned with (also the key of a plan's longest trip)
    "max_travel_s": ("最长允许到校时间", "Longest allowed travel"),
    "travel_mode": ("出行方式", "Travel mode"),
    "adjacency": ("相邻判定", "Adjacency"),
}

#: Report texts.
_TEXT: Mapping[str, tuple[str, str]] = {
    "compare": ("优化方案与就近分配对比", "Optimal plan vs nearest school"),
    "optimal": ("优化方案", "Optimal"),
    "nearest": ("就近分配", "Nearest"),
    "other_figures": ("其他指标", "Other figures"),
    "per_school": ("各校学位", "Seats per school"),
    "util_chart": ("{level}各校学位使用率（竖线 = 100%）", "{level} utilization per school (tick = 100%)"),
    "travel_chart": ("{level}到校时间（分钟）", "{level} travel time (minutes)"),
    "unserved": ("未覆盖居住区", "Unserved units"),
    "feeder": ("小升初对口直升", "Primary → junior feeder"),
    "top_bars": ("仅显示使用率最高的 {n} 所（共 {total} 所）", "The {n} highest of {total} schools"),
    "boarding": ("寄宿生与学校调整", "Boarders and moved students"),
    "boarders": ("寄宿生", "Boarders"),
    "young_boarders": ("其中1–3年级（政策上不寄宿）", "of them grades 1–3 (by policy day pupils)"),
    "allowance": ("生活补助（两免一补，元/年，按全部寄宿生计）", "Living allowance (两免一补, yuan/year, all boarders)"),
    "moved_vs": ("调整学校的学生（对照现行片区）", "Students changing school (against today's zones)"),
    "per_school_boarders": ("各校寄宿生", "Boarders per school"),
    "school": ("学校", "School"),
    "over_by": ("{school}（超 {n} 人）", "{school} ({n} over)"),
    "kp_fixed": (
        "{level}：若按就近分配，有 {n} 所学校超出学位——{list}；本方案重新划片后这些学校不再超员。",
        "{level}: with every child at the nearest school, {n} school(s) would be over capacity — {list}; "
        "the proposed zones bring them within their seats.",
    ),
    "kp_no_over": ("{level}：本方案中没有学校超出学位。", "{level}: no school is over capacity under the plan."),
    "kp_still_over": (
        "{level}：仍有 {n} 所学校超出学位——{list}，需增加学位或调整片区。",
        "{level}: {n} school(s) remain over capacity — {list}; they need more seats or other zones.",
    ),
    "kp_moved": (
        "{level}：与现行片区相比，{n} 名学生调整就读学校（若完全按就近分配则为 {nearest} 名）。",
        "{level}: {n} pupils change school against today's zones ({nearest} if every child went to the nearest school).",
    ),
    "kp_new": (
        "{n} 个目前没有对口学校的居住区（{kids} 名儿童）在本方案中有了对口学校。",
        "{n} residential units with no school today ({kids} children) get one under the plan.",
    ),
    "kp_all_served": (
        "{level}：全部 {n} 个有适龄儿童的居住区在允许的到校时间内都有对口学校。",
        "{level}: every one of the {n} residential units with children has a school within the allowed travel time.",
    ),
    "kp_unserved": (
        "{level}：{n} 个居住区在允许的到校时间内没有可达学校，需要校车、寄宿或新设教学点。",
        "{level}: {n} residential units have no school within the allowed travel time; they need a bus, boarding or a teaching point.",
    ),
    "kp_travel": (
        "{level}：平均到校时间 {mean} 分钟，{share} 的学生在服务半径内。",
        "{level}: mean travel time {mean} min; {share} of pupils live within the service radius.",
    ),
    "kp_longer": (
        "{level}：为使各校学位够用，平均到校时间由就近分配的 {nearest} 分钟增至 {plan} 分钟。",
        "{level}: to fit pupils into the seats, mean travel time rises from {nearest} min (nearest school) to {plan} min.",
    ),
    "kp_young": (
        "{level}：{n} 名1–3年级学生因附近没有学校需要寄宿（政策上1–3年级原则上不寄宿），建议保留或新设教学点、开通校车。",
        "{level}: {n} pupils of grades 1–3 must board for want of a school nearby (by policy they do not board): "
        "keep or open a teaching point, or run a school bus.",
    ),
    "conditions": ("规划条件", "Planning rules"),
    "mode": ("出行方式", "Travel mode"),
    "rural_by": ("；乡村居住区：{mode}", "; rural units: {mode}"),
    "max_travel": ("最长允许到校时间", "Longest allowed travel time"),
    "boarding_reach": ("寄宿生最长到校时间", "Longest travel time for boarders"),
    "min": ("分钟", "min"),
    "units": ("居住区数", "Residential units"),
    "pupils": ("学生数", "Pupils"),
    "mean_travel": ("平均到校时间（分钟）", "Mean travel (min)"),
    "unserved_pupils": ("未覆盖学生", "Unserved pupils"),
}


def _t(key: str, lang: Language, **fmt: Any) -> str:
    return text(_TEXT, key, lang, **fmt)


def levels(run: RunResult) -> list[str]:
    """The levels the zones stage wrote files for, in :data:`LEVELS` order."""
    out = run.outputs.get(STAGE)
    if out is None:
        return []
    return [lv for lv in LEVELS if any(k.startswith(f"{lv}/") for k in out.files)]


def _file(template: str, level: str) -> str:
    return template.format(level=level)


# --------------------------------------------------------------------------- map layers


@dataclass(frozen=True)
class BlockOptions:
    """Which parts of the residential-unit layers :func:`add_blocks` draws, and which are on at start.

    Attributes
    ----------
    show
        Served units' layer on at start.
    draw_served
        Draw served units at all (unserved ones are always drawn).
    show_unserved
        Unserved units' layer on at start.
    """

    show: bool = False
    draw_served: bool = True
    show_unserved: bool = True


def zone_colours(zones: gpd.GeoDataFrame, *, id_column: str = "school_id") -> dict[str, str]:
    """A palette colour per zone such that touching zones differ (greedy graph colouring).

    Deterministic: zones are visited by id and colours assigned by
    :func:`networkx.greedy_color` with the ``largest_first`` strategy.
    """
    if zones.empty:
        return {}
    frame = zones.sort_values(id_column, kind="stable").reset_index(drop=True)
    ids = as_ids(frame[id_column]).to_list()
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
    display: Display = DEFAULT_DISPLAY,
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
    ids = as_ids(zones["school_id"])
    names = as_ids(zones["name"]) if "name" in zones.columns else ids
    students = as_float(zones, "students")
    seats = as_float(zones, "capacity_seats")
    util = as_float(zones, "utilization")
    if util is None and students is not None and seats is not None:
        util = students / seats.where(seats > 0)
    geoms = display_geometries(zones, display)
    props = []
    for k, sid in enumerate(ids):
        u = float(util.iloc[k]) if util is not None else float("nan")
        over = math.isfinite(u) and u > 1.0 + 1e-9
        lines = [f"<b>{esc(names.iloc[k])}</b> ({esc(sid)})"]
        if students is not None and seats is not None:
            lines.append(f"{t('students', lang)} {fmt_int(students.iloc[k])} / {t('capacity', lang)} {fmt_int(seats.iloc[k])}")
        if util is not None:
            lines.append(f"{t('utilization', lang)} {fmt_pct(u)}" + (" ⚠" if over else ""))
        p: dict[str, Any] = {"f": colours.get(sid, PALETTE[k % len(PALETTE)]), "t": "<br>".join(lines)}
        if over:
            p.update({"c": OVER_CAPACITY_COLOUR, "w": 4})
        props.append(p)
    name = t("zones", lang, level=level_name(level, lang))
    add_layer(
        m, name, geoms, props, show=show,
        base={"color": "#ffffff", "weight": 1.5, "opacity": 1, "fillOpacity": 0.4},
    )
    legend_of(m).section(
        name,
        [("fill", PALETTE[0], t("zone_colour", lang), 1), ("outline", OVER_CAPACITY_COLOUR, t("over_capacity", lang), 4)],
    )
    return m


def add_blocks(
    m: folium.Map,
    blocks: gpd.GeoDataFrame,
    assignment: pd.DataFrame,
    *,
    level: str,
    colours: Mapping[str, str],
    school_names: Mapping[str, str] | None = None,
    display: Display = DEFAULT_DISPLAY,
    options: BlockOptions = BlockOptions(),
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
    options
        Which parts are drawn and which are on at start.

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
    bid = as_ids(blocks["block_id"])
    students = as_float(blocks, col)
    students = students.fillna(0) if students is not None else pd.Series(0, index=blocks.index)
    a = assignment.copy()
    a["block_id"] = as_ids(a["block_id"])
    a = a.drop_duplicates("block_id", keep="first").set_index("block_id")
    sid = as_ids(a["school_id"]).reindex(bid.to_numpy()).fillna("") if "school_id" in a.columns else pd.Series("", index=bid.to_numpy())
    travel = as_float(a, "travel_s")
    travel = travel.reindex(bid.to_numpy()) if travel is not None else None
    reason = as_ids(a["reason"]).reindex(bid.to_numpy()).fillna("") if "reason" in a.columns else None
    names = (as_ids(blocks["name"]) if "name" in blocks.columns else bid).to_list()
    pts = display_geometries(points_of(blocks), display, simplify=False)
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
    if options.draw_served:
        name = t("blocks", lang, level=lv)
        group = add_layer(
            m, name, served_g, served_p, show=options.show,
            base={"radius": 3, "weight": 0.5, "color": "#333333", "fillOpacity": 0.85},
        )
        if group is not None:
            legend_of(m).section(name, [("dot", PALETTE[0], t("blocks_legend", lang), 3)])
    if un_g:
        name = t("unserved", lang, level=lv)
        # a red ring, so unserved units never read as (filled red) weak schools
        add_layer(
            m, name, un_g, un_p, show=options.show_unserved,
            base={"radius": 4.5, "weight": 2.5, "color": UNSERVED_COLOUR, "fillColor": "#ffffff", "fillOpacity": 0.9},
        )
        legend_of(m).section(name, [("ring", UNSERVED_COLOUR, t("unserved_legend", lang), 4.5)])
    return m, len(un_g)


def add_multischool(
    m: folium.Map,
    multizones: gpd.GeoDataFrame,
    members: pd.DataFrame | None,
    *,
    level: str,
    school_names: Mapping[str, str] | None = None,
    display: Display = DEFAULT_DISPLAY,
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
    mids = as_ids(multizones["multizone_id"])
    listing: dict[str, list[str]] = {}
    if members is not None and {"school_id", "multizone_id"} <= set(members.columns):
        mm = members.assign(school_id=as_ids(members["school_id"]), multizone_id=as_ids(members["multizone_id"]))
        mm = mm.sort_values(["multizone_id", "school_id"], kind="stable")
        intake = as_float(mm, "expected_intake")
        strong = mm["strong"].astype(str).str.lower().isin(["true", "1", "yes"]) if "strong" in mm.columns else None
        for k, (s, z) in enumerate(zip(mm["school_id"], mm["multizone_id"], strict=True)):
            item = esc(school_names.get(s, s))
            if strong is not None and bool(strong.iloc[k]):
                item = f"<b>{item}</b> ★"
            if intake is not None and math.isfinite(float(intake.iloc[k])):
                item += f" · {t('expected_intake', lang)} {fmt_int(intake.iloc[k])}"
            listing.setdefault(z, []).append(item)
    geoms = display_geometries(multizones, display)
    props = [{"t": f"<b>{t('multizone', lang)} {esc(z)}</b><br>" + "<br>".join(listing.get(z, []))} for z in mids]
    name = t("multischool", lang, level=level_name(level, lang))
    add_layer(m, name, geoms, props, show=show,
               base={"color": "#6a3d9a", "weight": 3, "dashArray": "8 5", "fillColor": "#6a3d9a", "fillOpacity": 0.08})
    legend_of(m).section(name, [("dash", "#6a3d9a", t("multizone", lang), 3)])
    return m


def add_isochrones(
    m: folium.Map,
    blocks: gpd.GeoDataFrame,
    assignment: pd.DataFrame,
    *,
    level: str,
    minutes: Sequence[int] = (10, 20, 30),
    radius_m: float = 250.0,
    display: Display = DEFAULT_DISPLAY,
    show: bool = False,
) -> folium.Map:
    """Travel-time bands: where children's trip to their assigned school takes ≤ 10, ≤ 20 … minutes.

    Each block goes to the first band its ``travel_s`` fits in; a band's area is
    the union of its blocks (polygons as they are, points buffered by ``radius_m``).
    """
    lang = display.language
    if blocks is None or blocks.empty or not {"block_id", "travel_s"} <= set(assignment.columns):
        return m
    a = assignment.assign(block_id=as_ids(assignment["block_id"])).drop_duplicates("block_id").set_index("block_id")
    travel = pd.to_numeric(a["travel_s"], errors="coerce").astype("float64").reindex(as_ids(blocks["block_id"]).to_numpy()).to_numpy(dtype=float)
    bounds = sorted(int(x) for x in minutes)
    geo = blocks.geometry
    geo = geo.where(geo.geom_type.isin(["Polygon", "MultiPolygon"]), geo.buffer(radius_m))
    geoms, props = [], []
    items: list[Item] = []
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
    add_layer(m, name, geoms, props, show=show, base={"stroke": False, "fillOpacity": 0.55})
    if items:
        legend_of(m).section(name, items)
    return m

@dataclass(frozen=True)
class _Prepared:
    """Each level's zones (the layer as read) and their colours, shared by the zones and blocks layers."""

    zones: Mapping[str, gpd.GeoDataFrame]
    colours: Mapping[str, Mapping[str, str]]


def _prepare(run: RunResult) -> _Prepared:
    zones, colours = {}, {}
    for lv in levels(run):
        layer = stage_layer(run, STAGE, _file(ZONES, lv))
        if layer is not None and not layer.empty and "school_id" in layer.columns:
            zones[lv] = layer
            colours[lv] = zone_colours(layer)
    return _Prepared(zones=zones, colours=colours)


def _draw_zones(m: folium.Map, ctx: MapContext) -> None:
    prepared: _Prepared = ctx.prepared[STAGE]
    for k, lv in enumerate(levels(ctx.run)):
        if lv in prepared.zones:
            add_zones(m, prepared.zones[lv], level=lv, colours=prepared.colours[lv], display=ctx.display, show=k == 0)


def _draw_current_zones(m: folium.Map, ctx: MapContext) -> None:
    """Today's zones of each planned level (``current_<level>`` of the blocks), hidden at start, coloured as the plan's."""
    prepared: _Prepared = ctx.prepared[STAGE]
    inputs = ctx.run.inputs
    for lv in levels(ctx.run):
        today = current_zones(inputs.blocks, inputs.schools, inputs.boundary, level=lv)
        if today is not None:
            colours = {**zone_colours(today), **prepared.colours.get(lv, {})}
            add_current_zones(m, today, level=lv, colours=colours, display=ctx.display, show=False)


def _draw_isochrones(m: folium.Map, ctx: MapContext) -> None:
    if not ctx.params.isochrones:
        return
    for lv in levels(ctx.run):
        assignment = stage_frame(ctx.run, STAGE, _file(ASSIGNMENT, lv))
        if assignment is not None:
            add_isochrones(m, ctx.run.inputs.blocks, assignment, level=lv, minutes=ctx.params.isochrone_minutes, display=ctx.display)


def _draw_multischool(m: folium.Map, ctx: MapContext) -> None:
    for lv in levels(ctx.run):
        mz = stage_layer(ctx.run, STAGE, _file(MULTISCHOOL_ZONES, lv))
        if mz is not None:
            members = stage_frame(ctx.run, STAGE, _file(MULTISCHOOL, lv))
            add_multischool(m, mz, members, level=lv, school_names=ctx.names, display=ctx.display)


def _draw_blocks(m: folium.Map, ctx: MapContext) -> None:
    prepared: _Prepared = ctx.prepared[STAGE]
    blocks = ctx.run.inputs.blocks
    for k, lv in enumerate(levels(ctx.run)):
        assignment = stage_frame(ctx.run, STAGE, _file(ASSIGNMENT, lv))
        if assignment is not None and blocks is not None:
            options = BlockOptions(show=False, draw_served=ctx.params.blocks_layer, show_unserved=k == 0)
            add_blocks(m, blocks, assignment, level=lv, colours=prepared.colours.get(lv, {}), school_names=ctx.names,
                       display=ctx.display, options=options)


# --------------------------------------------------------------------------- report

#: Figures of a plan shown side by side with the nearest-school baseline, in this order (others go to the appendix).
_COMPARED = (
    "travel.mean_travel_s", "travel.p95_travel_s", "travel.share_within_standard",
    "mean_travel_s", "p95_travel_s", "share_within_standard", "moved_students",  # a flat metrics.json
    "overflow_students", "unserved_blocks", "detached_pieces",
)
#: Technical figures of a plan, shown in the appendix.
_TECHNICAL = ("method", "status", "objective_s", "bound_s", "gap", "travel_total_s", "details.repair_status", "details.lp_bound_s")


def _plan_and_nearest(metrics: Mapping[str, Any]) -> tuple[Mapping[str, Any], Mapping[str, Any]]:
    """The plan's and the nearest-school baseline's figures (a flat ``metrics.json`` is the plan itself)."""
    nearest = metrics.get("nearest") if isinstance(metrics.get("nearest"), Mapping) else {}
    plan = metrics["plan"] if isinstance(metrics.get("plan"), Mapping) else {k: v for k, v in metrics.items() if k != "nearest"}
    return plan, nearest


def _overflow(figures: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    over = figures.get("overflow")
    return [o for o in over if isinstance(o, Mapping)] if isinstance(over, list) else []


def _minutes(v: Any) -> str:
    return "–" if not is_num(v) else f"{float(v) / 60:.1f}"


def _newly_served(run: RunResult, assignment: pd.DataFrame | None, level: str) -> tuple[int, int]:
    """Residential units (and their children) with no school today (``current_<level>`` empty) that the plan serves."""
    blocks = run.inputs.blocks
    col = f"current_{level}"
    if blocks is None or assignment is None or col not in blocks.columns or not {"block_id", "school_id"} <= set(assignment.columns):
        return 0, 0
    today = as_ids(blocks[col]).to_numpy()
    served = set(as_ids(assignment.loc[as_ids(assignment["school_id"]) != "", "block_id"]))
    students = as_float(blocks, f"students_{level}")
    mask = (today == "") & as_ids(blocks["block_id"]).isin(served).to_numpy()
    kids = int(students.fillna(0).to_numpy()[mask].sum()) if students is not None else 0
    return int(mask.sum()), kids


def _level_points(run: RunResult, level: str, lang: Language) -> tuple[list[str], list[str]]:
    """Sentences on one level's plan: over-capacity schools fixed, children moved, units served, travel; and warnings."""
    metrics = stage_mapping(run, STAGE, _file(METRICS, level))
    if metrics is None:
        return [], []
    names = school_names(run)
    lvn = t(level, lang)
    plan, nearest = _plan_and_nearest(metrics)
    points, warnings = [], []
    before, after = _overflow(nearest), _overflow(plan)
    fixed = [o for o in before if str(o.get("school_id")) not in {str(a.get("school_id")) for a in after}]
    if fixed:
        listed = ("、" if lang == "zh" else ", ").join(
            _t("over_by", lang, school=names.get(str(o.get("school_id")), str(o.get("school_id"))), n=int(o.get("over_by", 0)))
            for o in fixed
        )
        points.append(_t("kp_fixed", lang, level=lvn, n=len(fixed), list=listed))
    if not after:
        points.append(_t("kp_no_over", lang, level=lvn))
    else:
        listed = ("、" if lang == "zh" else ", ").join(
            _t("over_by", lang, school=names.get(str(o.get("school_id")), str(o.get("school_id"))), n=int(o.get("over_by", 0)))
            for o in after
        )
        warnings.append(_t("kp_still_over", lang, level=lvn, n=len(after), list=listed))
    mv = metrics.get("moved_vs_nearest")
    if isinstance(mv, Mapping) and is_num(mv.get("plan")):
        points.append(_t("kp_moved", lang, level=lvn, n=f"{int(mv['plan']):,}", nearest=f"{int(mv.get('nearest') or 0):,}"))
    assignment = stage_frame(run, STAGE, _file(ASSIGNMENT, level))
    n_new, kids = _newly_served(run, assignment, level)
    if n_new:
        points.append(_t("kp_new", lang, n=n_new, kids=f"{kids:,}"))
    unserved = plan.get("unserved_blocks")
    if is_num(unserved) and unserved > 0:
        warnings.append(_t("kp_unserved", lang, level=lvn, n=int(unserved)))
    elif is_num(unserved) and assignment is not None:
        points.append(_t("kp_all_served", lang, level=lvn, n=f"{len(assignment):,}"))
    travel, near_travel = plan.get("travel"), nearest.get("travel")
    if isinstance(travel, Mapping) and is_num(travel.get("mean_travel_s")):
        share = travel.get("share_within_standard")
        points.append(_t("kp_travel", lang, level=lvn, mean=_minutes(travel["mean_travel_s"]),
                         share=f"{100 * float(share):.0f}%" if is_num(share) else "–"))
        if isinstance(near_travel, Mapping) and is_num(near_travel.get("mean_travel_s")):
            more = float(travel["mean_travel_s"]) - float(near_travel["mean_travel_s"])
            if more > 6:  # more than 0.1 minute: the price of seats, said plainly
                warnings.append(_t("kp_longer", lang, level=lvn, plan=_minutes(travel["mean_travel_s"]),
                                   nearest=_minutes(near_travel["mean_travel_s"])))
    b = metrics.get("boarding")
    if isinstance(b, Mapping) and is_num(b.get("young_boarders")) and b["young_boarders"] > 0:
        warnings.append(_t("kp_young", lang, level=lvn, n=int(b["young_boarders"])))
    return points, warnings


def key_points(run: RunResult, params: ReportParams) -> KeyPoints:
    """What the zones decide, level by level, for the report's opening."""
    points: list[str] = []
    warnings: list[str] = []
    for lv in levels(run):
        p, w = _level_points(run, lv, params.language)
        points += p
        warnings += w
    return KeyPoints(tuple(points), tuple(warnings))


def section(run: RunResult, params: ReportParams) -> str:
    """Per level: what the plan does in words, plan vs nearest school, planning conditions, seats per school,
    boarders, unserved units; then the feeder."""
    lang = params.language
    if not levels(run):
        return ""
    names = school_names(run)
    parts = [heading(STAGE, HEADING, lang)]
    for lv in levels(run):
        lvn = t(lv, lang)
        parts.append(f"<h3>{esc(lvn)}</h3>")
        points, warnings = _level_points(run, lv, lang)
        parts.append(bullets(points, warnings))
        metrics = stage_mapping(run, STAGE, _file(METRICS, lv))
        if metrics is not None:
            parts.append(_zone_figures(metrics, lang, lvn))
            parts.append(_conditions(metrics, lang))
            parts.append(_boarding(metrics, lang, names))
        zones = stage_frame(run, STAGE, _file(ZONES, lv))
        if zones is not None and not zones.empty:
            parts.append(_per_school(zones, lang, lv))
        assignment = stage_frame(run, STAGE, _file(ASSIGNMENT, lv))
        if assignment is not None and "school_id" in assignment.columns:
            un = assignment[as_ids(assignment["school_id"]) == ""]
            if len(un):
                file = stage_path(STAGE, _file(ASSIGNMENT, lv))
                parts.append(f"<p><b>{_t('unserved', lang)}</b> ({len(un)})</p>"
                             + table_html(_with_block_names(run, un, lang), lang=lang, file=file, max_rows=50))
    feeder = stage_frame(run, STAGE, FEEDER)
    if feeder is not None and not feeder.empty:
        shown = display_table(feeder, lang, names=names, columns=(
            "primary_school_id", "junior_school_id", "graduates", "travel_s", "travel_mode"))
        parts.append(f"<h3>{_t('feeder', lang)}</h3>" + table_html(shown, lang=lang, file=stage_path(STAGE, FEEDER)))
    return "".join(parts)


def _with_block_names(run: RunResult, assignment: pd.DataFrame, lang: Language) -> pd.DataFrame:
    """An assignment table with each unit's name beside its code, in display headers."""
    a = assignment.copy()
    blocks = run.inputs.blocks
    if blocks is not None and "name" in blocks.columns and "block_id" in a.columns:
        bn = dict(zip(as_ids(blocks["block_id"]), as_ids(blocks["name"]), strict=True))
        a.insert(a.columns.get_loc("block_id") + 1, "block_name", [bn.get(b, "") for b in as_ids(a["block_id"])])
    return display_table(a, lang, names=school_names(run))


def _conditions(metrics: Mapping[str, Any], lang: Language) -> str:
    """The rules the zones were planned with: travel mode, the longest allowed trip, boarders' reach, per mode."""
    rows = []
    mode, rural = metrics.get("level_mode"), metrics.get("rural_mode")
    if isinstance(mode, str):
        text_ = str(value_name(mode, lang))
        if isinstance(rural, str) and rural != mode:
            text_ += _t("rural_by", lang, mode=value_name(rural, lang))
        rows.append((_t("mode", lang), text_))
    if is_num(metrics.get("max_travel_s")):
        rows.append((_t("max_travel", lang), f"{_minutes(metrics['max_travel_s'])} {_t('min', lang)}"))
    if is_num(metrics.get("boarding_reach_s")):
        rows.append((_t("boarding_reach", lang), f"{_minutes(metrics['boarding_reach_s'])} {_t('min', lang)}"))
    body = "".join(f"<tr><th>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in rows)
    out = f"<p><b>{_t('conditions', lang)}</b></p><table>{body}</table>" if rows else ""
    modes = metrics.get("travel_modes")
    if isinstance(modes, Mapping) and modes:
        frame = pd.DataFrame([
            {_t("mode", lang): value_name(m, lang), _t("units", lang): v.get("blocks"), _t("pupils", lang): v.get("students"),
             _t("mean_travel", lang): round(float(v["mean_travel_s"]) / 60, 1) if is_num(v.get("mean_travel_s")) else None,
             _t("unserved_pupils", lang): v.get("unserved_students")}
            for m, v in sorted(modes.items()) if isinstance(v, Mapping)
        ])
        out += table_html(frame, lang=lang)
    return out


def _boarding(metrics: Mapping[str, Any], lang: Language, names: Mapping[str, str] | None = None) -> str:
    """Boarders (plan and baseline), their allowance, moved students against the baseline, boarders per school."""
    b = metrics.get("boarding")
    mv = metrics.get("moved_vs_nearest")
    if not isinstance(b, Mapping) or not isinstance(mv, Mapping):
        return ""

    def num(v: Any) -> str:
        return "–" if v is None else f"{v:,.0f}"

    rows = [
        ("boarders", num(b.get("boarders")), num(b.get("nearest_boarders"))),
        ("young_boarders", num(b.get("young_boarders")), ""),
        ("allowance", num(b.get("allowance_yuan")), ""),
        ("moved_vs", num(mv.get("plan")), num(mv.get("nearest"))),
    ]
    body = "".join(
        f"<tr><td>{_t(k, lang)}</td><td class=\"num\">{esc(a)}</td><td class=\"num\">{esc(n)}</td></tr>" for k, a, n in rows
    )
    out = (
        f"<p><b>{_t('boarding', lang)}</b></p><table><thead><tr><th>{text(TABLE_TEXT, 'figure', lang)}</th>"
        f"<th>{_t('optimal', lang)}</th><th>{_t('nearest', lang)}</th></tr></thead><tbody>{body}</tbody></table>"
    )
    per = b.get("by_school")
    if isinstance(per, Mapping) and per:
        table = pd.DataFrame(
            [{"school_id": k, **v} for k, v in sorted(per.items())],
            columns=["school_id", "boarders", "young_boarders", "allowance_yuan"],
        )
        out += f"<p><b>{_t('per_school_boarders', lang)}</b></p>" + table_html(
            display_table(table, lang, names=names), lang=lang,
            file=stage_path(STAGE, _file(METRICS, str(metrics.get("level", "")))),
        )
    return out


def _per_school(zones: pd.DataFrame, lang: Language, level: str) -> str:
    """Seats per school (over-capacity rows flagged) and a chart of the highest utilizations."""
    lvn = t(level, lang)
    z = without_geometry(zones)
    z = z.sort_values("school_id", kind="stable") if "school_id" in z.columns else z
    parts = [f"<p><b>{_t('per_school', lang)}</b></p>"]
    parts.append(missing_note(z, ("school_id", "students", "capacity_seats", "utilization"), lang))
    util = pd.to_numeric(z["utilization"], errors="coerce").astype("float64") if "utilization" in z.columns else None
    bad = (util > 1.0 + 1e-9).to_list() if util is not None else None
    shown = display_table(z, lang, columns=("school_id", "name", "students", "capacity_seats", "utilization"))
    parts.append(table_html(shown, lang=lang, file=stage_path(STAGE, _file(ZONES, level)), bad_rows=bad))
    if util is not None:
        labels = (as_ids(z["name"]) if "name" in z.columns else as_ids(z["school_id"])).to_numpy()
        order = np.argsort(-util.fillna(-1.0).to_numpy(), kind="stable")[:MAX_CHART_BARS]
        note = ""
        if len(z) > MAX_CHART_BARS:
            note = f'<figcaption class="note">{esc(_t("top_bars", lang, n=MAX_CHART_BARS, total=len(z)))}</figcaption>'
        parts.append("<figure>" + charts.bar_chart(
            labels[order].tolist(), util.to_numpy()[order].tolist(), title=_t("util_chart", lang, level=lvn),
            limits=[1.0] * len(order), unit="%",
        ) + note + "</figure>")
    return "".join(parts)


def _zone_figures(metrics: Mapping[str, Any], lang: Language, level_name: str) -> str:
    """Optimal plan vs nearest school side by side (the figures a planner weighs), and a travel chart.

    Equity figures (left-behind, migrant, disabled, low-income children) follow the county's; technical
    figures (solver status, bound, gap) are in the appendix.
    """
    plan, nearest = _plan_and_nearest(metrics)
    flat_opt = flatten(plan, max_items=MAX_FIGURE_ITEMS)
    flat_near = flatten(nearest, max_items=MAX_FIGURE_ITEMS)
    equity = sorted(k for k in flat_opt if k.startswith("equity.") and k.endswith(("mean_travel_s", "share_within_standard")))
    shared = [k for k in (*_COMPARED, *equity) if k in flat_opt and k in flat_near]
    over = (len(_overflow(plan)), len(_overflow(nearest)))
    if not shared:
        return ""
    return _comparison(flat_opt, flat_near, shared, lang, level_name, over=over)


def _comparison(
    flat_opt: Mapping[str, Any], flat_near: Mapping[str, Any], shared: Sequence[str], lang: Language, level_name: str,
    *, over: tuple[int, int] | None = None,
) -> str:
    """The figures both the plan and the nearest-school baseline have, side by side, and a travel chart."""
    rows = [
        f"<tr><td>{esc(figure_name(k, lang))}</td><td class=\"num\">{esc(fmt_value(k, flat_opt[k], lang))}</td>"
        f"<td class=\"num\">{esc(fmt_value(k, flat_near[k], lang))}</td></tr>"
        for k in shared
    ]
    if over is not None:
        rows.insert(min(5, len(rows)), f"<tr><td>{esc(figure_name('overflow', lang))}</td>"
                                       f"<td class=\"num\">{over[0]}</td><td class=\"num\">{over[1]}</td></tr>")
    out = (
        f"<p><b>{_t('compare', lang)}</b></p><table><thead><tr><th>{text(TABLE_TEXT, 'figure', lang)}</th>"
        f"<th>{_t('optimal', lang)}</th><th>{_t('nearest', lang)}</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )
    travel = [
        k for k in shared
        if k.endswith("_s") and _PER_STUDENT_TIME.match(k.rsplit(".", 1)[-1]) and not k.startswith("equity.")
        and is_num(flat_opt[k]) and is_num(flat_near[k])
    ]
    if travel:
        out += "<figure>" + charts.paired_bar_chart(
            [figure_name(k, lang) for k in travel],
            [flat_opt[k] / 60 for k in travel], [flat_near[k] / 60 for k in travel],
            title=_t("travel_chart", lang, level=level_name), names=(_t("optimal", lang), _t("nearest", lang)),
        ) + "</figure>"
    return out


def appendix(run: RunResult, params: ReportParams) -> str:
    """Per level, the solver's figures for the plan: method, status, objective, bound, gap."""
    lang = params.language
    parts = []
    for lv in levels(run):
        metrics = stage_mapping(run, STAGE, _file(METRICS, lv))
        if metrics is None:
            continue
        plan, _ = _plan_and_nearest(metrics)
        flat = flatten(plan, max_items=MAX_FIGURE_ITEMS)
        figures = {k: flat[k] for k in _TECHNICAL if k in flat}
        if figures:
            parts.append(f"<h3>{esc(pick(HEADING, lang))} · {esc(t(lv, lang))}</h3>" + figures_table(figures, lang))
    return "".join(parts)


def tables(run: RunResult, params: ReportParams) -> dict[str, pd.DataFrame]:
    """Per level: zones, assignment, multi-school zones; then the feeder (sheet name → table, display headers)."""
    lang = params.language
    zh = lang == "zh"
    names = school_names(run)
    sheets: dict[str, pd.DataFrame] = {}
    for lv in levels(run):
        lvn = t(lv, lang)
        zones = stage_frame(run, STAGE, _file(ZONES, lv))
        if zones is not None:
            sheets[f"{lvn}片区" if zh else f"{lv} zones"] = display_table(zones, lang, names=names)
        a = stage_frame(run, STAGE, _file(ASSIGNMENT, lv))
        if a is not None:
            sheets[f"{lvn}分配" if zh else f"{lv} assignment"] = _with_block_names(run, a, lang)
        ms = stage_frame(run, STAGE, _file(MULTISCHOOL, lv))
        if ms is not None:
            sheets[f"{lvn}多校划片" if zh else f"{lv} multischool"] = display_table(ms, lang, names=names)
    feeder = stage_frame(run, STAGE, FEEDER)
    if feeder is not None:
        sheets["对口直升" if zh else "feeder"] = display_table(feeder, lang, names=names)
    return sheets


RENDERER = StageRenderer(
    stage=STAGE,
    heading=HEADING,
    layers=(
        MapLayer("zones", 10, _draw_zones),
        MapLayer("current_zones", 12, _draw_current_zones),
        MapLayer("isochrones", 20, _draw_isochrones),
        MapLayer("multischool", 30, _draw_multischool),
        MapLayer("blocks", 60, _draw_blocks),
    ),
    map_layers=("zones", "current_zones", "isochrones", "multischool", "blocks", "schools"),
    prepare=_prepare,
    section=section,
    tables=tables,
    labels=LABELS,
    figure_names=FIGURE_NAMES,
    key_points=key_points,
    appendix=appendix,
)
