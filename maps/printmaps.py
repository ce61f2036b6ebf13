"""Print maps: one static map per stage (per level for zones) as PNG and PDF, A4 or A3 landscape.

Each map has a title, a legend, a scale bar, a north arrow and school labels; Chinese text is set in
Noto Sans CJK SC, shipped by the ``noto-cjk-sans-otc`` package (a pinned dependency), so the maps
render the same on a machine without any system CJK font. Maps are drawn in the run's metric CRS
(UTM), where a scale bar is true and grid north is within a degree or two of true north.

Pure: returns bytes, writes nothing. Same run, same settings, same library versions → byte-identical
files (no creation date in the PDF, fixed PNG metadata, no random ids).
"""

from __future__ import annotations

import io
import logging
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import geopandas as gpd
import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib import font_manager
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, Rectangle

from geo.text import visible
from maps.common import ReportParams, school_names, stage_frame, stage_layer
from maps.labels import Language
from maps.layers import PALETTE, STRENGTH_COLOURS, UNKNOWN_COLOUR, as_ids, level_name, points_of
from maps.stages import zones as zones_stage
from maps.stages.zones import zone_colours
from planning.app.stage import RunResult

logger = logging.getLogger(__name__)

Paper = Literal["A4", "A3"]
#: Paper sizes in millimetres, landscape (width, height) (GB/T 148 = ISO 216).
PAPER_MM: Mapping[str, tuple[float, float]] = {"A4": (297.0, 210.0), "A3": (420.0, 297.0)}
#: Raster resolution of the PNG (the PDF is vector): 200 dpi prints sharply and keeps A4 under ~1 MB.
PNG_DPI = 200
#: Font families: Noto Sans CJK SC (the ``noto-cjk-sans-otc`` package) first, DejaVu Sans for Latin fallbacks.
CJK_FAMILY = "Noto Sans CJK SC"
#: Rotation arrows: teachers sent out (交流轮岗) and teachers coming back the other way (跟岗交流).
ROTATION_COLOUR = "#d95f02"
EXCHANGE_COLOUR = "#1b9e77"
_FOLDER = "print"
#: Label background: a light box instead of a stroked halo (path effects draw text as paths, 4× slower).
_HALO: Mapping[str, object] = {"boxstyle": "square,pad=0.08", "facecolor": "white", "edgecolor": "none", "alpha": 0.75}

_TEXT: Mapping[str, tuple[str, str]] = {
    "zones": ("{level}划片范围示意图", "{level} catchment zones"),
    "communities": ("学校共同体示意图", "School communities"),
    "rotation": ("教师交流轮岗示意图", "Teacher rotation"),
    "balance": ("学校办学强弱分布图", "School strength"),
    "legend": ("图例", "Legend"),
    "county": ("县界", "County boundary"),
    "township": ("乡镇界", "Township boundary"),
    "roads": ("道路", "Roads"),
    "zone": ("学校片区（颜色区分学校）", "School zone (one colour per school)"),
    "over": ("超出学位的片区", "Zone over capacity"),
    "school": ("学校（大小表示学位数）", "School (size shows seats)"),
    "other_school": ("其他学校", "Other school"),
    "lead": ("牵头学校", "Lead school"),
    "member": ("成员学校", "Member school"),
    "link": ("共同体连线（颜色区分共同体）", "Group link (one colour per group)"),
    "sent": ("交流轮岗（派出校 → 接收校）", "Rotation (sending → receiving)"),
    "back": ("跟岗交流（接收校 → 派出校）", "Exchange (receiving → sending)"),
    "strong": ("强校", "Strong"),
    "middle": ("中等", "Middle"),
    "weak": ("薄弱校", "Weak"),
    "unknown": ("未评估", "Not assessed"),
    "north": ("北", "N"),
    "note": ("比例尺与指北针按 {crs} 投影；未标注名称的学校见文件中的表格。",
             "Scale and north in {crs}; unlabelled schools are listed in the document's tables."),
}


def _t(key: str, lang: Language, **fmt: object) -> str:
    zh, en = _TEXT[key]
    text = zh if lang == "zh" else en
    return text.format(**fmt) if fmt else text


@dataclass(frozen=True)
class PrintMap:
    """One print map.

    Attributes
    ----------
    key
        File stem, e.g. ``zones-primary``; the files are ``print/<key>.png`` and ``print/<key>.pdf``.
    stage
        The stage it shows.
    title
        Its title, as printed on it.
    png, pdf
        The map as PNG (``PNG_DPI``) and as vector PDF.
    """

    key: str
    stage: str
    title: str
    png: bytes
    pdf: bytes


# --------------------------------------------------------------------------- font and figure


def cjk_font() -> str:
    """Register the bundled Noto Sans CJK SC with matplotlib (once) and return its family name."""
    from noto_cjk_sans_otc import FONT_PATH  # noqa: PLC0415 - the font package is only needed for print maps

    path = str(FONT_PATH)
    if not any(entry.fname == path for entry in font_manager.fontManager.ttflist):
        font_manager.fontManager.addfont(path)
    return CJK_FAMILY


def _rc() -> dict[str, object]:
    return {
        "font.family": [cjk_font(), "DejaVu Sans"],
        "axes.unicode_minus": False,
        "svg.hashsalt": "schoolplan",
        "pdf.fonttype": 3,  # outlines subset into the PDF: CFF-based CJK fonts cannot be embedded as Type 42
        "path.simplify": True,
    }


def _figure(paper: Paper) -> tuple[Figure, Axes]:
    w_mm, h_mm = PAPER_MM[paper]
    fig = Figure(figsize=(w_mm / 25.4, h_mm / 25.4))
    FigureCanvasAgg(fig)
    ax = fig.add_axes((0.02, 0.05, 0.72, 0.85))
    ax.set_axis_off()
    return fig, ax


def _save(fig: Figure) -> tuple[bytes, bytes]:
    png, pdf = io.BytesIO(), io.BytesIO()
    fig.savefig(png, format="png", dpi=PNG_DPI, metadata={"Software": "schoolplan"})
    fig.savefig(pdf, format="pdf", metadata={"Creator": "schoolplan", "Producer": "schoolplan", "CreationDate": None})
    return png.getvalue(), pdf.getvalue()


# --------------------------------------------------------------------------- map furniture


def _metric(layer: gpd.GeoDataFrame | None, crs: object) -> gpd.GeoDataFrame | None:
    if layer is None or layer.empty:
        return None
    return layer if layer.crs is None or layer.crs == crs else layer.to_crs(crs)


def _base(ax: Axes, run: RunResult) -> tuple[float, float, float, float]:
    """Roads and boundaries; returns the map extent (x0, y0, x1, y1) in metres."""
    crs = run.inputs.metric_crs
    roads = _metric(run.inputs.roads, crs)
    if roads is not None:
        major = roads["highway"].astype(str).isin(["motorway", "trunk", "primary", "secondary"]) if "highway" in roads else None
        roads.plot(ax=ax, color="#b9b9b9", linewidth=0.3, zorder=2)
        if major is not None and bool(major.any()):
            roads[major.to_numpy()].plot(ax=ax, color="#8a8a8a", linewidth=0.9, zorder=2)
    boundary = _metric(run.inputs.boundary, crs)
    extent_src = None
    if boundary is not None:
        kind = boundary["kind"].astype(str) if "kind" in boundary else pd.Series("county", index=boundary.index)
        county = boundary[(kind == "county").to_numpy()]
        towns = boundary[(kind != "county").to_numpy()]
        if not towns.empty:
            towns.boundary.plot(ax=ax, color="#555555", linewidth=0.6, linestyle=(0, (4, 2)), zorder=4)
        if not county.empty:
            county.boundary.plot(ax=ax, color="#222222", linewidth=1.6, zorder=4)
            extent_src = county
        else:
            extent_src = boundary
    if extent_src is None:
        for layer in (run.inputs.blocks, run.inputs.schools):
            extent_src = _metric(layer, crs)
            if extent_src is not None:
                break
    if extent_src is None:
        return (0.0, 0.0, 1.0, 1.0)
    x0, y0, x1, y1 = (float(v) for v in extent_src.total_bounds)
    _fit(ax, x0, y0, x1, y1)
    return (x0, y0, x1, y1)


def _fit(ax: Axes, x0: float, y0: float, x1: float, y1: float) -> None:
    """Show the extent with a margin at one metre per metre, widening it to the axes' own shape."""
    fig = ax.get_figure()
    assert fig is not None
    w_in, h_in = fig.get_size_inches()
    pos = ax.get_position()
    box_ratio = (pos.height * h_in) / max(pos.width * w_in, 1e-9)
    pad = 0.03 * max(x1 - x0, y1 - y0, 1.0)
    x0, y0, x1, y1 = x0 - pad, y0 - pad, x1 + pad, y1 + pad
    w, h = x1 - x0, y1 - y0
    if h / w > box_ratio:  # taller than the box: widen
        extra = (h / box_ratio - w) / 2
        x0, x1 = x0 - extra, x1 + extra
    else:
        extra = (w * box_ratio - h) / 2
        y0, y1 = y0 - extra, y1 + extra
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_aspect("equal", adjustable="box")


def _nice_length(span_m: float) -> float:
    """A round length (1, 2 or 5 × 10^k metres) near a fifth of ``span_m``."""
    target = max(span_m / 5.0, 1.0)
    power = 10.0 ** math.floor(math.log10(target))
    return max(f * power for f in (1.0, 2.0, 5.0) if f * power <= target)


def _scale_bar(ax: Axes, lang: Language) -> None:
    x0, x1 = ax.get_xlim()
    y0, y1 = ax.get_ylim()
    length = _nice_length(x1 - x0)
    bx, by = x0 + 0.04 * (x1 - x0), y0 + 0.04 * (y1 - y0)
    h = 0.008 * (y1 - y0)
    for k in range(4):
        ax.add_patch(Rectangle((bx + k * length / 4, by), length / 4, h, facecolor="black" if k % 2 == 0 else "white",
                               edgecolor="black", linewidth=0.6, zorder=20))
    unit, div = ("km", 1000.0) if length >= 1000 else ("m", 1.0)
    for frac in (0.0, 0.5, 1.0):
        value = length * frac / div
        text = f"{value:g}" + (f" {unit}" if frac == 1.0 else "")
        ax.text(bx + frac * length, by + 1.8 * h, text, ha="center", va="bottom", fontsize=7, zorder=20, bbox=_HALO)
    ax.text(bx, by - 1.2 * h, "比例尺" if lang == "zh" else "Scale", ha="left", va="top", fontsize=6.5, zorder=20)


def _north_arrow(ax: Axes, lang: Language) -> None:
    ax.annotate("", xy=(0.95, 0.97), xytext=(0.95, 0.88), xycoords="axes fraction",
                arrowprops={"arrowstyle": "-|>,head_width=0.5,head_length=1.0", "color": "black", "linewidth": 1.6}, zorder=20)
    ax.text(0.95, 0.86, _t("north", lang), transform=ax.transAxes, ha="center", va="top", fontsize=10, zorder=20)


def _frame(fig: Figure, ax: Axes, *, title: str, subtitle: str, handles: Sequence[object], lang: Language, crs_name: str) -> None:
    fig.text(0.02, 0.95, title, ha="left", va="center", fontsize=16)
    if subtitle:
        fig.text(0.02, 0.915, subtitle, ha="left", va="center", fontsize=9, color="#444444")
    fig.legend(handles=list(handles), loc="upper left", bbox_to_anchor=(0.76, 0.9), title=_t("legend", lang),
               fontsize=8, title_fontsize=9, frameon=True, borderpad=0.8, labelspacing=0.8, alignment="left")
    fig.text(0.76, 0.05, _t("note", lang, crs=crs_name), ha="left", va="bottom", fontsize=6.5, color="#555555", wrap=True)
    ax.add_patch(Rectangle((0, 0), 1, 1, transform=ax.transAxes, fill=False, edgecolor="#333333", linewidth=0.8, zorder=30))
    _scale_bar(ax, lang)
    _north_arrow(ax, lang)


def _base_handles(lang: Language) -> list[object]:
    return [
        Line2D([], [], color="#222222", linewidth=1.6, label=_t("county", lang)),
        Line2D([], [], color="#555555", linewidth=0.6, linestyle=(0, (4, 2)), label=_t("township", lang)),
        Line2D([], [], color="#8a8a8a", linewidth=0.9, label=_t("roads", lang)),
    ]


#: Where a label may sit, tried in turn: upper right, upper left, lower right, lower left of its point (points, alignment).
_LABEL_SPOTS: tuple[tuple[float, float, str, str], ...] = (
    (3, 3, "left", "bottom"), (-3, 3, "right", "bottom"), (3, -3, "left", "top"), (-3, -3, "right", "top"),
)


def _labels(ax: Axes, points: Sequence[tuple[float, float, str]], *, fontsize: float = 6.0) -> int:
    """Label points in the order given, each at the first of :data:`_LABEL_SPOTS` that stays on the map and clear of the
    labels placed before it; a label with no such spot is left out.

    Returns the number of labels placed.
    """
    fig = ax.get_figure()
    assert fig is not None
    renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]
    axes_box = ax.get_window_extent(renderer)
    placed: list[object] = []
    for x, y, name in points:
        for dx, dy, ha, va in _LABEL_SPOTS:
            text = ax.annotate(visible(name), (x, y), xytext=(dx, dy), textcoords="offset points", ha=ha, va=va, fontsize=fontsize,
                               zorder=15, bbox=_HALO)
            box = text.get_window_extent(renderer).expanded(1.05, 1.15)
            inside = axes_box.contains(box.x0, box.y0) and axes_box.contains(box.x1, box.y1)
            if inside and not any(box.overlaps(other) for other in placed):
                placed.append(box)
                break
            text.remove()
    return len(placed)


# --------------------------------------------------------------------------- stage maps


def _school_points(run: RunResult) -> pd.DataFrame:
    """school_id, name, x, y (metric CRS) and level of every school."""
    schools = _metric(run.inputs.schools, run.inputs.metric_crs)
    if schools is None:
        return pd.DataFrame(columns=["school_id", "name", "x", "y", "level"])
    pts = points_of(schools)
    names = school_names(run)
    ids = as_ids(schools["school_id"])
    return pd.DataFrame({
        "school_id": ids.to_numpy(), "name": [names.get(i, i) for i in ids], "x": pts.x.to_numpy(), "y": pts.y.to_numpy(),
        "level": schools["level"].astype(str).to_numpy() if "level" in schools else "",
    })


def _draw_zones(fig: Figure, ax: Axes, run: RunResult, level: str, lang: Language) -> list[object]:
    zones = _metric(stage_layer(run, zones_stage.STAGE, zones_stage.ZONES.format(level=level)), run.inputs.metric_crs)
    if zones is None:
        return []
    colours = zone_colours(zones)
    ids = as_ids(zones["school_id"])
    zones.plot(ax=ax, color=[colours.get(i, UNKNOWN_COLOUR) for i in ids], alpha=0.55, edgecolor="white", linewidth=0.5, zorder=1)
    util = zones["utilization"].astype(float) if "utilization" in zones else pd.Series(0.0, index=zones.index)
    over = zones[(util > 1.0 + 1e-9).to_numpy()]
    if not over.empty:
        over.boundary.plot(ax=ax, color="#e31a1c", linewidth=1.4, zorder=5)
    pts = _school_points(run)
    seats = dict(zip(ids, zones["capacity_seats"].astype(float) if "capacity_seats" in zones else np.ones(len(zones)), strict=True))
    mine = pts[pts["school_id"].isin(set(ids))].copy()
    mine["seats"] = [seats.get(i, 0.0) for i in mine["school_id"]]
    size = 8 + 60 * np.sqrt(mine["seats"].to_numpy() / max(float(mine["seats"].max()), 1.0)) if not mine.empty else []
    ax.scatter(mine["x"], mine["y"], s=size, c="white", edgecolors="black", linewidths=0.8, zorder=10)
    mine = mine.sort_values(["seats", "school_id"], ascending=[False, True], kind="stable")
    _labels(ax, list(zip(mine["x"], mine["y"], mine["name"], strict=True)))
    return [
        Patch(facecolor=PALETTE[0], alpha=0.55, edgecolor="white", label=_t("zone", lang)),
        Patch(facecolor="none", edgecolor="#e31a1c", linewidth=1.4, label=_t("over", lang)),
        Line2D([], [], marker="o", linestyle="", markerfacecolor="white", markeredgecolor="black", markersize=6, label=_t("school", lang)),
    ]


def _draw_communities(fig: Figure, ax: Axes, run: RunResult, lang: Language) -> list[object]:
    from maps.stages import communities as cstage  # noqa: PLC0415

    groups = stage_frame(run, cstage.STAGE, cstage.GROUPS)
    if groups is None or groups.empty:
        return []
    pts = _school_points(run)
    ax.scatter(pts["x"], pts["y"], s=6, c="#bbbbbb", zorder=8)
    xy = dict(zip(pts["school_id"], zip(pts["x"], pts["y"], strict=True), strict=True))
    label = dict(zip(pts["school_id"], pts["name"], strict=True))
    order = sorted(as_ids(groups["group_id"]).unique())
    colour = {g: PALETTE[k % len(PALETTE)] for k, g in enumerate(order)}
    lead_ids = set(as_ids(groups["lead_id"]))
    gid, sid, lid = as_ids(groups["group_id"]), as_ids(groups["school_id"]), as_ids(groups["lead_id"])
    for g, s, lead in zip(gid, sid, lid, strict=True):
        if s != lead and s in xy and lead in xy:
            ax.plot([xy[lead][0], xy[s][0]], [xy[lead][1], xy[s][1]], color=colour[g], linewidth=1.2, zorder=6)
            ax.scatter([xy[s][0]], [xy[s][1]], s=22, c=colour[g], edgecolors="black", linewidths=0.5, zorder=10)
    leads = sorted(i for i in lead_ids if i in xy)
    ax.scatter([xy[i][0] for i in leads], [xy[i][1] for i in leads], s=90, marker="*", c="gold", edgecolors="black", linewidths=0.6, zorder=11)
    members = sorted(i for i in set(sid) - lead_ids if i in xy)
    _labels(ax, [(*xy[i], label[i]) for i in (*leads, *members)])
    return [
        Line2D([], [], marker="*", linestyle="", markerfacecolor="gold", markeredgecolor="black", markersize=10, label=_t("lead", lang)),
        Line2D([], [], marker="o", linestyle="", markerfacecolor=PALETTE[0], markeredgecolor="black", markersize=5, label=_t("member", lang)),
        Line2D([], [], color=PALETTE[0], linewidth=1.2, label=_t("link", lang)),
        Line2D([], [], marker="o", linestyle="", markerfacecolor="#bbbbbb", markeredgecolor="none", markersize=3, label=_t("other_school", lang)),
    ]


def _draw_rotation(fig: Figure, ax: Axes, run: RunResult, lang: Language) -> list[object]:
    from maps.stages import rotation as rstage  # noqa: PLC0415

    moves = stage_frame(run, rstage.STAGE, rstage.MOVES)
    if moves is None or moves.empty:
        return []
    pts = _school_points(run)
    ax.scatter(pts["x"], pts["y"], s=6, c="#bbbbbb", zorder=8)
    xy = dict(zip(pts["school_id"], zip(pts["x"], pts["y"], strict=True), strict=True))
    pts = pts.set_index("school_id")
    direction = moves["direction"].astype(str) if "direction" in moves else pd.Series("rotation", index=moves.index)
    pairs = pd.DataFrame({"a": as_ids(moves["from_school"]), "b": as_ids(moves["to_school"]), "d": direction.to_numpy()})
    counts = pairs.groupby(["a", "b", "d"], sort=True).size()
    for (a, b, d), n in counts.items():
        if a not in xy or b not in xy:
            continue
        colour = EXCHANGE_COLOUR if d == "exchange" else ROTATION_COLOUR
        rad = 0.2  # one bend for both: a pair's two directions (A→B, B→A) then bow to opposite sides
        ax.annotate("", xy=xy[b], xytext=xy[a], zorder=9,
                    arrowprops={"arrowstyle": "-|>,head_width=0.25,head_length=0.5", "color": colour, "linewidth": 0.8 + 0.6 * n,
                                "connectionstyle": f"arc3,rad={rad}", "shrinkA": 3, "shrinkB": 3})
    involved = sorted(set(pairs["a"]) | set(pairs["b"]))
    sel = pts.loc[[i for i in involved if i in pts.index]]
    ax.scatter(sel["x"], sel["y"], s=20, c="white", edgecolors="black", linewidths=0.7, zorder=10)
    sent = pairs["a"].value_counts()
    sel = sel.assign(n=[int(sent.get(i, 0)) for i in sel.index]).sort_values("n", ascending=False, kind="stable")
    _labels(ax, list(zip(sel["x"], sel["y"], sel["name"], strict=True)))
    return [
        Line2D([], [], color=ROTATION_COLOUR, linewidth=1.6, label=_t("sent", lang)),
        Line2D([], [], color=EXCHANGE_COLOUR, linewidth=1.6, label=_t("back", lang)),
        Line2D([], [], marker="o", linestyle="", markerfacecolor="white", markeredgecolor="black", markersize=5,
               label=_t("school", lang).split("（")[0]),
    ]


def _draw_balance(fig: Figure, ax: Axes, run: RunResult, lang: Language) -> list[object]:
    table = stage_frame(run, "balance", "schools_balance.csv")
    if table is None or table.empty or "strength_class" not in table:
        return []
    pts = _school_points(run)
    cls = dict(zip(as_ids(table["school_id"]), table["strength_class"].astype(str), strict=False))
    pts = pts.assign(cls=[cls.get(i, "unknown") for i in pts["school_id"]])
    for key in ("weak", "middle", "strong", "unknown"):
        sel = pts[pts["cls"] == key]
        ax.scatter(sel["x"], sel["y"], s=28, c=STRENGTH_COLOURS.get(key, UNKNOWN_COLOUR), edgecolors="black", linewidths=0.5, zorder=10)
    rank = {"strong": 0, "weak": 1, "middle": 2, "unknown": 3}
    pts = pts.assign(r=[rank.get(c, 3) for c in pts["cls"]]).sort_values(["r", "school_id"], kind="stable")
    _labels(ax, list(zip(pts["x"], pts["y"], pts["name"], strict=True)))
    return [
        Line2D([], [], marker="o", linestyle="", markerfacecolor=STRENGTH_COLOURS.get(k, UNKNOWN_COLOUR), markeredgecolor="black",
               markersize=6, label=_t(k, lang))
        for k in ("strong", "middle", "weak", "unknown")
    ]


Drawer = Callable[[Figure, Axes, RunResult, Language], list[object]]


def _specs(run: RunResult, lang: Language) -> list[tuple[str, str, str, Drawer]]:
    """(key, stage, title, drawer) of every map this run has data for, in report order."""
    specs: list[tuple[str, str, str, Drawer]] = []
    for level in zones_stage.levels(run):
        def draw(fig: Figure, ax: Axes, run: RunResult, lang: Language, level: str = level) -> list[object]:
            return _draw_zones(fig, ax, run, level, lang)
        specs.append((f"zones-{level}", "zones", _t("zones", lang, level=level_name(level, lang)), draw))
    for stage, drawer in (("balance", _draw_balance), ("communities", _draw_communities), ("rotation", _draw_rotation)):
        if stage in run.outputs:
            specs.append((stage, stage, _t(stage, lang), drawer))
    return specs


def print_maps(run: RunResult, params: ReportParams, *, paper: Paper = "A4") -> list[PrintMap]:
    """Every stage's print map, in report order (zones per level, balance, communities, rotation).

    Parameters
    ----------
    run
        What the run made; a stage without output gets no map.
    params
        Report settings (language, title).
    paper
        ``A4`` or ``A3``, landscape.

    Returns
    -------
    list of PrintMap
        Deterministic PNG and PDF bytes per map.
    """
    lang: Language = params.language
    crs_name = str(getattr(run.inputs.metric_crs, "name", run.inputs.metric_crs))
    out: list[PrintMap] = []
    with mpl.rc_context(_rc()):
        for key, stage, title, drawer in _specs(run, lang):
            t0 = time.perf_counter()
            fig, ax = _figure(paper)
            _base(ax, run)
            handles = drawer(fig, ax, run, lang)
            if not handles:
                continue
            full = visible(f"{params.title or run.scenario.name} · {title}")  # no control or bidi characters: no glyph
            _frame(fig, ax, title=full, subtitle="", handles=[*handles, *_base_handles(lang)], lang=lang, crs_name=crs_name)
            png, pdf = _save(fig)
            out.append(PrintMap(key=key, stage=stage, title=full, png=png, pdf=pdf))
            logger.info("print map %s: PNG %.0f kB, PDF %.0f kB in %.2f s", key, len(png) / 1e3, len(pdf) / 1e3, time.perf_counter() - t0)
    return out


def print_files(maps: Sequence[PrintMap]) -> dict[str, bytes]:
    """``print/<key>.png`` and ``print/<key>.pdf`` of each map."""
    files: dict[str, bytes] = {}
    for m in maps:
        files[f"{_FOLDER}/{m.key}.png"] = m.png
        files[f"{_FOLDER}/{m.key}.pdf"] = m.pdf
    return files
