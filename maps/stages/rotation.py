"""The rotation stage on the map and in the report: arcs from sending to receiving school; the
stage's figures, the flows between schools and each school's balance of teachers; their tables.

The balance section also reads :data:`METRICS` (the coefficients of variation before and after rotation).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from maps.common import (
    KeyPoints,
    MapContext,
    MapLayer,
    ReportParams,
    StageRenderer,
    school_names,
    stage_frame,
    stage_mapping,
    stage_path,
    stage_sheets,
)
from maps.i18n import display_table, indicator_name, subject_counts
from maps.labels import Language, t
from maps.layers import COORD_DECIMALS, DEFAULT_DISPLAY, Display, add_layer, as_ids, esc, school_xy
from maps.legend import Item, Swatch, legend_of
from maps.tables import bullets, figures_table, heading, is_num, missing_note, pick, table_html, text
from planning.app.stage import RunResult

logger = logging.getLogger(__name__)

STAGE = "rotation"
#: Files of the rotation stage read here, relative to its output folder.
MOVES = "moves.csv"
SCHOOLS_ROTATION = "schools_rotation.csv"
ELIGIBILITY = "eligibility.csv"
METRICS = "metrics.json"

ROTATION_COLOUR = "#d95f02"
#: Colour of the return half of an exchange (跟岗: from the receiving school back to the sending one), dashed.
RETURN_COLOUR = "#5e3c99"
#: Bend of the return arcs (the outgoing ones bend 0.18): a return along the same pair and way stays apart.
RETURN_BEND = 0.3
#: Largest rotation arrowhead, degrees of latitude (≈ 500 m): long arcs keep small arrows.
ARROW_MAX_DEG = 0.0045

HEADING = ("教师交流轮岗", "Teacher rotation")

#: Map labels (key → (Chinese, English)).
LABELS: Mapping[str, tuple[str, str]] = {
    "rotation": ("教师交流轮岗", "Teacher rotation"),
    "teachers": ("教师", "Teachers"),
    "backbone": ("骨干教师", "Backbone teachers"),
    "subjects": ("学科", "Subjects"),
    "rotation_legend": ("弧线由派出校指向接收校（箭头），线宽表示人数", "Arcs run from sending to receiving school (arrow); width shows teachers"),
    "rotation_out": ("派出交流：派出校 → 接收校", "Rotation: sending → receiving school"),
    "rotation_return": ("跟岗交流：接收校 → 派出校（虚线）", "Exchange: receiving → sending school (dashed)"),
    "rotation_width": ("箭头指向去向学校，线宽表示人数", "Arrows point to the destination; width shows teachers"),
    "from": ("派出", "From"),
    "to": ("接收", "To"),
}

#: Names of the figures in ``metrics.json``.
FIGURE_NAMES: Mapping[str, tuple[str, str]] = {
    "quota": ("交流指标", "Quota"),
    "movers": ("交流人数", "Teachers moving"),
    "backbone_share": ("骨干教师占比", "Backbone share"),
    "cv_before": ("交流前差异系数", "CV before"),
    "cv_after": ("交流后差异系数", "CV after"),
    "teachers": ("教师数", "Teachers"),
    "eligible_teachers": ("符合交流条件的教师", "Eligible teachers"),
    "eligible_at_sending_schools": ("派出校符合条件的教师", "Eligible at sending schools"),
    "sending_schools": ("派出学校数", "Sending schools"),
    "receiving_schools": ("接收学校数", "Receiving schools"),
    "movers_out": ("派出交流教师", "Teachers sent out"),
    "movers_exchange": ("跟岗交流（接收校到派出校）", "Exchange (跟岗) teachers to sending schools"),
    "rotation_share": ("交流比例", "Rotation share"),
    "backbone_movers_out": ("派出骨干教师", "Backbone teachers sent"),
    "backbone_share_of_movers": ("骨干教师占交流人数比例", "Backbone share of movers"),
    "quota_scope": ("指标口径", "Quota scope"),
    "quotas": ("交流指标数", "Quotas"),
    "quotas_met": ("完成的交流指标", "Quotas met"),
    "quota_shortfall_movers": ("交流人数缺口", "Movers short"),
    "quota_shortfall_backbone": ("骨干教师缺口", "Backbone short"),
    "same_community_share": ("共同体内交流比例", "Moves within a community"),
    "commute_mean_s": ("平均通勤时间", "Mean commute"),
    "commute_median_s": ("通勤时间中位数", "Median commute"),
    "commute_p90_s": ("90% 通勤时间不超过", "90th percentile commute"),
    "commute_max_s": ("最长通勤时间", "Longest commute"),
    "shortfalls": ("缺口", "Shortfalls"),
}

#: Report texts.
_TEXT: Mapping[str, tuple[str, str]] = {
    "flows": ("交流流向", "Flows"),
    "from": ("派出学校", "From"),
    "to": ("接收学校", "To"),
    "teachers": ("教师", "Teachers"),
    "backbone": ("骨干教师", "Backbone"),
    "subjects": ("学科", "Subjects"),
    "cv_table": ("交流前后差异系数（按学段）", "CV before and after rotation, per level"),
    "level": ("学段", "Level"),
    "indicator": ("指标", "Indicator"),
    "before": ("交流前", "Before"),
    "after": ("交流后", "After"),
    "change": ("变化", "Change"),
    "verdict": ("结论", "Verdict"),
    "worse": ("变差", "worse"),
    "better": ("改善", "better"),
    "same": ("不变", "unchanged"),
    "none_worse": ("交流后没有任何目标差异系数变差。", "No targeted CV is worse after rotation."),
    "some_worse": ("注意：交流后以下差异系数变差：", "Warning: the plan makes these CVs worse: "),
    "primary": ("小学", "primary"),
    "junior": ("初中", "junior"),
    "per_school": ("各校派出与接收", "Each school's teachers sent and received"),
    "kp_moves": (
        "交流轮岗：派出校 {eligible} 名符合条件的教师中派出 {out} 名（{share}，政策要求不低于 10%），其中骨干教师 {bb} 名"
        "（占 {bb_share}，要求不低于 20%）；另有 {exchange} 名教师从接收校到派出校跟岗交流。",
        "Rotation: {out} of the {eligible} eligible teachers at sending schools move ({share}; policy ≥ 10%), {bb} of them "
        "backbone teachers ({bb_share}; policy ≥ 20%); {exchange} teachers go the other way to learn (跟岗).",
    ),
    "kp_quotas": ("交流指标完成 {met} / {n} 项。", "{met} of {n} rotation quotas met."),
    "kp_cv": ("{level}交流前后差异系数：{list}。", "{level} CVs before → after rotation: {list}."),
    "kp_commute": ("交流教师平均通勤 {mean} 分钟，最长 {longest} 分钟。", "Movers' mean commute {mean} min, longest {longest} min."),
}

#: The CVs the rotation targets (the objective's indicators) and those it keeps from rising, in report order.
CV_ROWS = ("backbone_per_100", "above_qualification_per_100", "intermediate_title_per_100", "teachers_per_100", "basic_composite")


def cv_table(metrics: Mapping[str, object], lang: Language) -> tuple[pd.DataFrame, list[str]]:
    """Per level, each targeted CV before and after (by the balance evaluation) and whether it got worse.

    Returns the table (display headers) and the rows that got worse, as text.
    """
    before, after = metrics.get("cv_before"), metrics.get("cv_after")
    rows: list[list[object]] = []
    worse: list[str] = []
    if not isinstance(before, Mapping) or not isinstance(after, Mapping):
        return pd.DataFrame(), worse
    for level in ("primary", "junior"):
        b_lv, a_lv = before.get(level), after.get(level)
        if not isinstance(b_lv, Mapping) or not isinstance(a_lv, Mapping):
            continue
        for ind in CV_ROWS:
            b, a = b_lv.get(ind), a_lv.get(ind)
            if b is None or a is None:
                continue
            change = float(a) - float(b)
            verdict = "worse" if change > 1e-9 else "better" if change < -1e-9 else "same"
            if verdict == "worse":
                worse.append(f"{_t(level, lang)} {indicator_name(ind, lang)} {float(b):.3f} → {float(a):.3f}")
            rows.append([_t(level, lang), indicator_name(ind, lang), round(float(b), 4), round(float(a), 4), round(change, 4), _t(verdict, lang)])
    cols = [_t(k, lang) for k in ("level", "indicator", "before", "after", "change", "verdict")]
    return pd.DataFrame(rows, columns=cols), worse


def _t(key: str, lang: Language, **fmt: object) -> str:
    return text(_TEXT, key, lang, **fmt)


# --------------------------------------------------------------------------- map layer


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
    mv = moves.assign(from_school=as_ids(moves["from_school"]), to_school=as_ids(moves["to_school"]))
    mv = mv[(mv["from_school"] != "") & (mv["to_school"] != "")]
    bb = mv["backbone"].astype(str).str.lower().isin(["true", "1", "yes"]) if "backbone" in mv.columns else pd.Series(False, index=mv.index)
    subj = as_ids(mv["subject"]) if "subject" in mv.columns else pd.Series("", index=mv.index)
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
    display: Display = DEFAULT_DISPLAY,
    show: bool = True,
) -> folium.Map:
    """Teacher rotation flows: an arc from sending to receiving school, width by teachers, one colour per direction.

    ``moves`` is ``moves.csv`` (``teacher_id``, ``from_school``, ``to_school``,
    ``subject``, ``backbone``, ``direction``, ...). Outgoing moves (``direction`` ``rotation``, or no
    such column) are solid orange arcs; the return half of an exchange (``exchange``: a teacher of the
    receiving school going to the sending one) is a dashed purple arc. An arrowhead on each arc points
    to the school the teachers go to.
    """
    lang = display.language
    if moves is None or moves.empty:
        return m
    direction = as_ids(moves["direction"]) if "direction" in moves.columns else pd.Series("", index=moves.index)
    returning = (direction == "exchange").to_numpy()
    school_names = school_names or {}
    xy = school_xy(schools, display)
    geoms: list[shapely.Geometry] = []
    props: list[dict[str, object]] = []
    items: list[Item] = []
    kinds: tuple[tuple[np.ndarray, str, float, str, Swatch], ...] = (
        (~returning, ROTATION_COLOUR, 0.18, "rotation_out", "line"),
        (returning, RETURN_COLOUR, RETURN_BEND, "rotation_return", "dash"),
    )
    for part, colour, bend, key, swatch in kinds:
        arcs, heads = _flow_arcs(rotation_flows(moves[part]), xy, school_names, lang, bend=bend)
        if not arcs:
            continue
        style: dict[str, object] = {"c": colour} if swatch == "line" else {"c": colour, "s": {"dashArray": "7 5"}}
        geoms += [g for g, _ in arcs] + [g for g, _ in heads]
        props += [{**p, **style} for _, p in arcs] + [{**p, "c": colour} for _, p in heads]
        items.append((swatch, colour, t(key, lang), 3.0))
    name = t("rotation", lang)
    group = add_layer(m, name, geoms, props, show=show, base={"opacity": 0.85, "fillOpacity": 1})
    if group is not None:
        legend_of(m).section(name, [*items, ("text", "", t("rotation_width", lang), 0)])
    return m


def _flow_arcs(
    flows: pd.DataFrame, xy: Mapping[str, tuple[float, float]], names: Mapping[str, str], lang: Language, *, bend: float
) -> tuple[list[tuple[shapely.Geometry, dict[str, object]]], list[tuple[shapely.Geometry, dict[str, object]]]]:
    """The arcs and arrowheads of ``flows`` (from :func:`rotation_flows`) with their width and tooltip."""
    arcs, heads = [], []
    for f, to, n, bb, subjects in flows.itertuples(index=False):
        if f not in xy or to not in xy:
            logger.warning("rotation %s → %s: school not on the map, flow skipped", f, to)
            continue
        tip = (f"{t('from', lang)} {esc(names.get(f, f))} → {t('to', lang)} {esc(names.get(to, to))}<br>"
               f"{t('teachers', lang)} {n} · {t('backbone', lang)} {bb}<br>{t('subjects', lang)}: {esc(subjects)}")
        arcs.append((_arc(xy[f], xy[to], bend=bend), {"w": round(1.5 + 2.0 * math.sqrt(n), 1), "t": tip}))
        heads.append((_arrowhead(xy[f], xy[to], bend=bend), {"w": 1, "t": tip}))
    return arcs, heads

def _draw_rotation(m: folium.Map, ctx: MapContext) -> None:
    moves = stage_frame(ctx.run, STAGE, MOVES)
    if moves is not None:
        add_rotation(m, ctx.run.inputs.schools, moves, school_names=ctx.names, display=ctx.display)


# --------------------------------------------------------------------------- report


def flows_table(run: RunResult, moves: pd.DataFrame, lang: Language) -> pd.DataFrame:
    """Teachers moving between each pair of schools, by school name, with display headers."""
    flows = rotation_flows(moves)
    names = school_names(run)
    return pd.DataFrame({
        _t("from", lang): [names.get(s, s) for s in flows["from_school"]],
        _t("to", lang): [names.get(s, s) for s in flows["to_school"]],
        _t("teachers", lang): flows["teachers"].astype(np.int64).to_numpy(),
        _t("backbone", lang): flows["backbone"].astype(np.int64).to_numpy(),
        _t("subjects", lang): [subject_counts(s, lang) for s in flows["subjects"]],
    })


#: Figures of ``metrics.json`` shown in the section, in this order; the solver's go to the appendix.
_FIGURES = (
    "teachers", "eligible_teachers", "eligible_at_sending_schools", "sending_schools", "receiving_schools", "movers_out",
    "movers_exchange", "rotation_share", "backbone_movers_out", "backbone_share_of_movers", "quotas", "quotas_met",
    "quota_shortfall_movers", "quota_shortfall_backbone", "same_community_share",
    "commute_mean_s", "commute_median_s", "commute_p90_s", "commute_max_s",
)
_TECHNICAL = ("status", "objective", "bound", "lp_bound", "gap", "candidate_moves", "units", "solve_s")
#: Columns of each school's rotation in the report (the workbook has them all).
_SCHOOL_COLUMNS = (
    "school_id", "name", "role", "strength_class", "pupils", "eligible", "quota_movers", "quota_backbone",
    "out", "backbone_out", "in", "backbone_in", "short_movers", "short_backbone",
)


def _pct(v: object) -> str:
    return f"{100 * float(v):.1f}%" if is_num(v) else "–"  # type: ignore[arg-type]


def key_points(run: RunResult, params: ReportParams) -> KeyPoints:
    """Teachers sent and received, the quotas, the CVs before and after, the commute; CVs made worse as warnings."""
    lang = params.language
    m = stage_mapping(run, STAGE, METRICS)
    if m is None:
        return KeyPoints()
    eligible = m.get("eligible_at_sending_schools", m.get("eligible_teachers"))
    points = [_t("kp_moves", lang, out=m.get("movers_out", 0), share=_pct(m.get("rotation_share")),
                 eligible=eligible if is_num(eligible) else "–", bb=m.get("backbone_movers_out", 0),
                 bb_share=_pct(m.get("backbone_share_of_movers")), exchange=m.get("movers_exchange", 0))]
    warnings = []
    if is_num(m.get("quotas")) and m["quotas"]:
        met = m.get("quotas_met", 0)
        (points if met == m["quotas"] else warnings).append(_t("kp_quotas", lang, met=met, n=m["quotas"]))
    before, after = m.get("cv_before"), m.get("cv_after")
    if isinstance(before, Mapping) and isinstance(after, Mapping):
        for lv in ("primary", "junior"):
            b, a = before.get(lv), after.get(lv)
            if isinstance(b, Mapping) and isinstance(a, Mapping):
                changes = [f"{indicator_name(k, lang)} {float(b[k]):.3f} → {float(a[k]):.3f}"
                           for k in ("basic_composite", "backbone_per_100") if is_num(b.get(k)) and is_num(a.get(k))]
                if changes:
                    points.append(_t("kp_cv", lang, level=_t(lv, lang), list=("；" if lang == "zh" else "; ").join(changes)))
    if is_num(m.get("commute_mean_s")) and is_num(m.get("commute_max_s")):
        points.append(_t("kp_commute", lang, mean=f"{float(m['commute_mean_s']) / 60:.0f}", longest=f"{float(m['commute_max_s']) / 60:.0f}"))
    worse = cv_table(m, lang)[1]
    if worse:
        warnings.append(_t("some_worse", lang) + ("；" if lang == "zh" else "; ").join(worse))
    return KeyPoints(tuple(points), tuple(warnings))


def section(run: RunResult, params: ReportParams) -> str:
    """What the rotation does in words, its figures, the CVs before and after, the flows, each school's movers."""
    lang = params.language
    if STAGE not in run.outputs:
        return ""
    kp = key_points(run, params)
    parts = [heading(STAGE, HEADING, lang), bullets(kp.points, kp.warnings)]
    metrics = stage_mapping(run, STAGE, METRICS)
    if metrics is not None:
        parts.append(figures_table({k: metrics[k] for k in _FIGURES if k in metrics}, lang))
        cvs, worse = cv_table(metrics, lang)
        if not cvs.empty:
            verdict = _t("some_worse", lang) + ("；" if lang == "zh" else "; ").join(worse) if worse else _t("none_worse", lang)
            parts.append(f"<h3>{_t('cv_table', lang)}</h3><p><strong>{esc(verdict)}</strong></p>" + table_html(cvs, lang=lang))
    moves = stage_frame(run, STAGE, MOVES)
    if moves is not None:
        parts.append(missing_note(moves, ("teacher_id", "from_school", "to_school", "subject", "backbone"), lang))
        flows = flows_table(run, moves, lang)
        if not flows.empty:
            parts.append(f"<h3>{_t('flows', lang)}</h3>" + table_html(flows, lang=lang, file=stage_path(STAGE, MOVES)))
    sr = stage_frame(run, STAGE, SCHOOLS_ROTATION)
    if sr is not None and not sr.empty:
        parts.append(f"<h3>{_t('per_school', lang)}</h3>")
        parts.append(table_html(display_table(sr, lang, columns=_SCHOOL_COLUMNS), lang=lang, file=stage_path(STAGE, SCHOOLS_ROTATION)))
    return "".join(parts)


def appendix(run: RunResult, params: ReportParams) -> str:
    """The solver's figures: status, objective, bound, gap."""
    m = stage_mapping(run, STAGE, METRICS)
    figures = {k: m[k] for k in _TECHNICAL if k in m} if m is not None else {}
    return f"<h3>{esc(pick(HEADING, params.language))}</h3>" + figures_table(figures, params.language) if figures else ""


def tables(run: RunResult, params: ReportParams) -> dict[str, pd.DataFrame]:
    """Movers, each school's movers and the flows between schools (sheet name → table, display headers)."""
    lang = params.language
    zh = lang == "zh"
    names = school_names(run)
    files = ((MOVES, "交流名单", "moves"), (SCHOOLS_ROTATION, "学校交流", "schools rotation"), (ELIGIBILITY, "交流资格", "eligibility"))
    sheets = {}
    for sheet, frame in stage_sheets(run, STAGE, files, zh=zh).items():
        is_roster = "teacher_id" in frame.columns and "name" in frame.columns  # a teacher's name, not a school's
        sheets[sheet] = display_table(frame.rename(columns={"name": "teacher_name"}) if is_roster else frame, lang, names=names)
    moves = stage_frame(run, STAGE, MOVES)
    if moves is not None:
        sheets["交流流向" if zh else "flows"] = flows_table(run, moves, lang)
    return sheets


RENDERER = StageRenderer(
    stage=STAGE,
    heading=HEADING,
    layers=(MapLayer("rotation", 80, _draw_rotation),),
    map_layers=("rotation", "schools"),
    section=section,
    tables=tables,
    labels=LABELS,
    figure_names=FIGURE_NAMES,
    key_points=key_points,
    appendix=appendix,
)
