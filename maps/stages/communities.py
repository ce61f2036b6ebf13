"""The communities stage on the map and in the report: lines from each community's lead school to its
members; the communities' figures and member lists; their tables.

The schools layer of :mod:`maps.stages.inputs` also reads :data:`GROUPS` (a school's community in its tooltip).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

import folium
import geopandas as gpd
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
from maps.i18n import display_table
from maps.labels import Language, t
from maps.layers import DEFAULT_DISPLAY, PALETTE, Display, add_layer, as_ids, esc, school_xy
from maps.legend import legend_of
from maps.shortfalls import shortfall_frame
from maps.tables import bullets, figures_table, heading, is_num, pick, table_html, text
from planning.app import stage as stage_api  # the session writes shortfalls.csv (no stage declares it)
from planning.app.stage import RunResult

logger = logging.getLogger(__name__)

STAGE = "communities"
#: Files of the communities stage read here, relative to its output folder.
GROUPS = "groups.csv"
GROUP_METRICS = "group_metrics.csv"
PAIRS = "pairs.csv"
METRICS = "metrics.json"

HEADING = ("学校共同体（集团化办学）", "School communities")

#: Map labels (key → (Chinese, English)).
LABELS: Mapping[str, tuple[str, str]] = {
    "groups": ("学校共同体", "School communities"),
    "groups_legend": ("线段连接牵头校与成员校，颜色区分共同体", "Lines join lead and member schools; colour tells groups apart"),
}

#: Names of the figures in ``metrics.json``.
FIGURE_NAMES: Mapping[str, tuple[str, str]] = {
    "groups": ("共同体数", "Communities"),
    "members": ("成员校数", "Members"),
    "pairs": ("结对数", "Pairs"),
}

#: Report texts.
_TEXT: Mapping[str, tuple[str, str]] = {
    "lead": ("牵头校", "Lead school"),
    "members": ("成员校", "Members"),
    "group": ("共同体", "Community"),
    "level": ("学段", "Level"),
    "list": ("共同体名单", "Communities and their schools"),
    "per_group": ("各共同体情况", "Each community"),
    "pairs": ("结对帮扶", "One-to-one pairs (结对帮扶)"),
    "kp_groups": (
        "{level}：组建 {n} 个学校共同体，由强校牵头带动 {members} 所成员校；牵头校到成员校车程最长 {longest} 分钟。",
        "{level}: {n} school communities, strong schools leading {members} member schools; "
        "the longest lead-to-member drive is {longest} min.",
    ),
    "kp_pairs": ("{level}：{n} 对强校与薄弱校结对帮扶。", "{level}: {n} strong–weak school pairs (结对帮扶)."),
    "kp_short": (
        "{n} 项共同体目标未能满足（多为薄弱校附近的共同体已满、未能纳入），逐项列于“学校共同体”一节及 communities/shortfalls.csv。",
        "{n} community targets are not met (mostly weak schools whose nearby communities are full); each is listed in the "
        "communities section and in communities/shortfalls.csv.",
    ),
    "shortfalls": (
        "以下目标未能完全满足（规划已尽量满足，逐项列出缺口及原因）：",
        "These targets could not be met in full (the plan meets them as far as possible; each shortfall and why):",
    ),
}


def _t(key: str, lang: Language, **fmt: object) -> str:
    return text(_TEXT, key, lang, **fmt)


# --------------------------------------------------------------------------- map layer


def add_groups(
    m: folium.Map,
    schools: gpd.GeoDataFrame,
    groups: pd.DataFrame,
    *,
    school_names: Mapping[str, str] | None = None,
    display: Display = DEFAULT_DISPLAY,
    show: bool = True,
) -> folium.Map:
    """School communities: a line from each group's lead school to every member, coloured by group.

    ``groups`` is ``groups.csv`` (``school_id``, ``group_id``, ``role`` lead|member).
    """
    lang = display.language
    if groups is None or groups.empty or not {"school_id", "group_id"} <= set(groups.columns):
        return m
    school_names = school_names or {}
    xy = school_xy(schools, display)
    g = groups.assign(school_id=as_ids(groups["school_id"]), group_id=as_ids(groups["group_id"]))
    g["role"] = as_ids(groups["role"]) if "role" in groups.columns else ""
    g["level"] = as_ids(groups["level"]) if "level" in groups.columns else ""  # group ids may repeat across levels
    geoms, props = [], []
    for k, ((lv, gid), rows) in enumerate(sorted(g.groupby(["level", "group_id"], sort=True), key=lambda kv: kv[0])):
        colour = PALETTE[k % len(PALETTE)]
        leads = rows.loc[rows["role"] == "lead", "school_id"].to_list()
        members = sorted(rows.loc[rows["role"] != "lead", "school_id"].to_list())
        if not leads:
            logger.warning("community %s has no lead school: drawn without links", gid)
            continue
        lead = leads[0]
        level_text = f" · {esc(t(lv, lang))}" if lv else ""
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
    add_layer(m, name, geoms, props, show=show, base={"weight": 3, "opacity": 0.85})
    legend_of(m).section(name, [("line", PALETTE[0], t("groups_legend", lang), 3)])
    return m

def _draw_groups(m: folium.Map, ctx: MapContext) -> None:
    groups = stage_frame(ctx.run, STAGE, GROUPS)
    if groups is not None:
        add_groups(m, ctx.run.inputs.schools, groups, school_names=ctx.names, display=ctx.display)


# --------------------------------------------------------------------------- report


def _members_table(groups: pd.DataFrame, names: Mapping[str, str], lang: Language) -> pd.DataFrame:
    """One row per community: its level, id, lead school and members, by name."""
    g = groups.assign(school_id=as_ids(groups["school_id"]), group_id=as_ids(groups["group_id"]))
    g["level"] = as_ids(groups["level"]) if "level" in groups.columns else ""
    role = as_ids(groups["role"]) if "role" in groups.columns else pd.Series("", index=groups.index)
    rows = []
    for (lv, gid), idx in sorted(g.groupby(["level", "group_id"]).groups.items()):
        sids = g.loc[idx, "school_id"]
        leads = [names.get(s, s) for s in sids[role.loc[idx] == "lead"]]
        members = sorted(names.get(s, s) for s in sids[role.loc[idx] != "lead"])
        row = {_t("group", lang): gid, _t("lead", lang): "、".join(leads), _t("members", lang): "、".join(members)}
        rows.append({_t("level", lang): t(lv, lang), **row} if lv else row)
    return pd.DataFrame(rows)


def _levels(metrics: Mapping[str, object]) -> list[tuple[str, Mapping[str, object]]]:
    return [(lv, v) for lv in ("primary", "junior") if isinstance(v := metrics.get(lv), Mapping)]


def key_points(run: RunResult, params: ReportParams) -> KeyPoints:
    """Per level: communities formed, members, pairs, longest lead-to-member drive; schools left without one."""
    lang = params.language
    metrics = stage_mapping(run, STAGE, METRICS)
    if metrics is None:
        return KeyPoints()
    points, warnings = [], []
    for lv, m in _levels(metrics):
        if is_num(m.get("groups")) and m["groups"]:
            longest = f"{float(m['max_travel_s']) / 60:.0f}" if is_num(m.get("max_travel_s")) else "–"
            points.append(_t("kp_groups", lang, level=t(lv, lang), n=m["groups"], members=m.get("members", 0), longest=longest))
        if is_num(m.get("pairs")) and m["pairs"]:
            points.append(_t("kp_pairs", lang, level=t(lv, lang), n=m["pairs"]))
    output = run.outputs.get(STAGE)
    if output is not None and output.shortfalls:
        warnings.append(_t("kp_short", lang, n=len(output.shortfalls)))
    return KeyPoints(tuple(points), tuple(warnings))


def section(run: RunResult, params: ReportParams) -> str:
    """What the communities are in words, each community's lead and members, their figures, the pairs."""
    lang = params.language
    if STAGE not in run.outputs:
        return ""
    kp = key_points(run, params)
    parts = [heading(STAGE, HEADING, lang), bullets(kp.points, kp.warnings)]
    names = school_names(run)
    groups = stage_frame(run, STAGE, GROUPS)
    if groups is not None and {"school_id", "group_id"} <= set(groups.columns):
        parts.append(f"<h3>{_t('list', lang)}</h3>")
        parts.append(table_html(_members_table(groups, names, lang), lang=lang, file=stage_path(STAGE, GROUPS)))
    gm = stage_frame(run, STAGE, GROUP_METRICS)
    if gm is not None and not gm.empty:
        shown = display_table(gm, lang, names=names, columns=(
            "level", "group_id", "lead_id", "members", "rural_members", "weak_members", "max_travel_s", "mean_strength"))
        parts.append(f"<h3>{_t('per_group', lang)}</h3>" + table_html(shown, lang=lang, file=stage_path(STAGE, GROUP_METRICS)))
    pairs = stage_frame(run, STAGE, PAIRS)
    if pairs is not None and not pairs.empty:
        shown = display_table(pairs, lang, names=names, columns=("level", "weak_id", "strong_id", "time_s"))
        parts.append(f"<h3>{_t('pairs', lang)}</h3>" + table_html(shown, lang=lang, file=stage_path(STAGE, PAIRS)))
    short = _shortfalls(run, lang)
    if not short.empty:
        parts.append(f"<p>{esc(_t('shortfalls', lang))}</p>")
        parts.append(table_html(display_table(short, lang), lang=lang, file=stage_path(STAGE, stage_api.SHORTFALLS_FILE)))
    return "".join(parts)


def appendix(run: RunResult, params: ReportParams) -> str:
    """Per level, the solver's figures: status, objective, bound, gap."""
    lang = params.language
    metrics = stage_mapping(run, STAGE, METRICS)
    if metrics is None:
        return ""
    parts = []
    for lv, m in _levels(metrics):
        figures = {k: m[k] for k in ("status", "objective", "bound", "gap", "pair_gap") if k in m}
        if figures:
            parts.append(f"<h3>{esc(pick(HEADING, lang))} · {esc(t(lv, lang))}</h3>" + figures_table(figures, lang))
    return "".join(parts)


def tables(run: RunResult, params: ReportParams) -> dict[str, pd.DataFrame]:
    """Communities, their figures and the strong–weak pairs (sheet name → table, display headers)."""
    lang = params.language
    zh = lang == "zh"
    names = school_names(run)
    files = ((GROUPS, "共同体", "groups"), (GROUP_METRICS, "共同体指标", "group metrics"), (PAIRS, "结对", "pairs"))
    # travel_s of groups.csv is the drive from the lead school, not a pupil's way to school
    sheets = {k: display_table(v.rename(columns={"travel_s": "time_s"}), lang, names=names)
              for k, v in stage_sheets(run, STAGE, files, zh=zh).items()}
    short = _shortfalls(run, lang)
    if not short.empty:
        sheets["共同体缺口" if zh else "community shortfalls"] = display_table(short, lang)
    return sheets


def _shortfalls(run: RunResult, lang: Language) -> pd.DataFrame:
    """The stage's shortfalls (``where, short_by, unit, detail``) in the language, empty when it met every target."""
    output = run.outputs.get(STAGE)
    return shortfall_frame(output.shortfalls if output is not None else (), lang)


RENDERER = StageRenderer(
    stage=STAGE,
    heading=HEADING,
    layers=(MapLayer("groups", 70, _draw_groups),),
    map_layers=("groups", "schools"),
    section=section,
    tables=tables,
    labels=LABELS,
    figure_names=FIGURE_NAMES,
    key_points=key_points,
    appendix=appendix,
)
