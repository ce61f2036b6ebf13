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

from maps.common import MapContext, MapLayer, ReportParams, StageRenderer, school_names, stage_frame, stage_mapping, stage_path, stage_sheets
from maps.labels import Language, t
from maps.layers import DEFAULT_DISPLAY, PALETTE, Display, add_layer, as_ids, esc, school_xy
from maps.legend import legend_of
from maps.tables import figures_table, flatten, heading, table_html, text
from planning.app import stage as stage_api  # the session writes shortfalls.csv (no stage declares it)
from planning.app.stage import RunResult, shortfalls_table

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
    "shortfalls": (
        "以下目标未能完全满足（规划已尽量满足，逐项列出缺口及原因）：",
        "These targets could not be met in full (the plan meets them as far as possible; each shortfall and why):",
    ),
}


def _t(key: str, lang: Language) -> str:
    return text(_TEXT, key, lang)


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
        rows.append({"level": t(lv, lang), **row} if lv else row)
    return pd.DataFrame(rows)


def section(run: RunResult, params: ReportParams) -> str:
    """The stage's figures, each community's lead and members, the per-community figures."""
    lang = params.language
    if STAGE not in run.outputs:
        return ""
    parts = [heading(STAGE, HEADING, lang)]
    metrics = stage_mapping(run, STAGE, METRICS)
    if metrics is not None:
        parts.append(figures_table(flatten(metrics), lang))
    groups = stage_frame(run, STAGE, GROUPS)
    if groups is not None and {"school_id", "group_id"} <= set(groups.columns):
        parts.append(table_html(_members_table(groups, school_names(run), lang), lang=lang, file=stage_path(STAGE, GROUPS)))
    gm = stage_frame(run, STAGE, GROUP_METRICS)
    if gm is not None and not gm.empty:
        parts.append(table_html(gm, lang=lang, file=stage_path(STAGE, GROUP_METRICS)))
    short = _shortfalls(run)
    if not short.empty:
        parts.append(f"<p>{esc(_t('shortfalls', lang))}</p>")
        parts.append(table_html(short, lang=lang, file=stage_path(STAGE, stage_api.SHORTFALLS_FILE)))
    return "".join(parts)


def tables(run: RunResult, params: ReportParams) -> dict[str, pd.DataFrame]:
    """Communities, their figures and the strong–weak pairs (sheet name → table)."""
    zh = params.language == "zh"
    files = ((GROUPS, "共同体", "groups"), (GROUP_METRICS, "共同体指标", "group metrics"), (PAIRS, "结对", "pairs"))
    sheets = stage_sheets(run, STAGE, files, zh=zh)
    short = _shortfalls(run)
    if not short.empty:
        sheets["共同体缺口" if zh else "community shortfalls"] = short
    return sheets


def _shortfalls(run: RunResult) -> pd.DataFrame:
    """The stage's shortfalls (``where, short_by, unit, detail``), empty when it met every target."""
    output = run.outputs.get(STAGE)
    return shortfalls_table(output.shortfalls if output is not None else ())


RENDERER = StageRenderer(
    stage=STAGE,
    heading=HEADING,
    layers=(MapLayer("groups", 70, _draw_groups),),
    map_layers=("groups", "schools"),
    section=section,
    tables=tables,
    labels=LABELS,
    figure_names=FIGURE_NAMES,
)
