"""The network stage in the report's appendix: the road network's size, its road classes with their speeds
(only the classes present in the data) and how far schools and residential units lie from a road."""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from maps.common import ReportParams, StageRenderer, stage_mapping
from maps.i18n import road_class_name, value_name
from maps.labels import Language
from maps.tables import esc, is_num, pick, table_html, text
from planning.app.stage import RunResult

STAGE = "network"
#: File of the network stage read here, relative to its output folder.
SUMMARY = "summary.json"

HEADING = ("道路网络", "Road network")

_TEXT: Mapping[str, tuple[str, str]] = {
    "length": ("道路总长（公里）", "Road length (km)"),
    "edges": ("路段数", "Road segments"),
    "components": ("互不连通的路网部分", "Disconnected parts"),
    "modes": ("各学段出行方式", "Travel mode per level"),
    "class": ("道路等级", "Road class"),
    "segments": ("路段数", "Segments"),
    "speed": ("{mode}速度（公里/小时）", "{mode} speed (km/h)"),
    "snap": ("到最近道路的距离（米）", "Distance to the nearest road (m)"),
    "layer": ("对象", "Features"),
    "mean": ("平均", "Mean"),
    "p95": ("95% 不超过", "95th percentile"),
    "max": ("最大", "Max"),
    "blocks": ("居住区", "Residential units"),
    "schools": ("学校", "Schools"),
}


def _t(key: str, lang: Language, **fmt: object) -> str:
    return text(_TEXT, key, lang, **fmt)


def _classes(summary: Mapping[str, object], lang: Language) -> pd.DataFrame:
    """One row per road class present in the data: its segments and its speed for each travel mode."""
    counts = summary.get("edges_by_class")
    speeds = summary.get("speed_table_kmh")
    if not isinstance(counts, Mapping) or not counts:
        return pd.DataFrame()
    speeds = speeds if isinstance(speeds, Mapping) else {}
    modes = sorted({m for c in counts if isinstance(speeds.get(c), Mapping) for m in speeds[c]})
    rows = []
    for cls, n in sorted(counts.items(), key=lambda kv: (-int(kv[1]), kv[0])):
        row: dict[str, object] = {_t("class", lang): road_class_name(cls, lang), _t("segments", lang): n}
        per = speeds.get(cls) if isinstance(speeds.get(cls), Mapping) else {}
        for m in modes:
            v = per.get(m)
            row[_t("speed", lang, mode=value_name(m, lang))] = "–" if v is None else v
        rows.append(row)
    return pd.DataFrame(rows)


def appendix(run: RunResult, params: ReportParams) -> str:
    """The network's size, its road classes and speeds, distances to the nearest road; ``""`` without a summary."""
    lang = params.language
    summary = stage_mapping(run, STAGE, SUMMARY)
    if summary is None:
        return ""
    rows = []
    if is_num(summary.get("length_km")):
        rows.append((_t("length", lang), f"{float(summary['length_km']):,.1f}"))  # type: ignore[arg-type]
    rows += [(_t(key, lang), f"{int(summary[key]):,}") for key in ("edges", "components") if is_num(summary.get(key))]  # type: ignore[call-overload]
    modes = summary.get("modes")
    if isinstance(modes, Mapping):
        rows.append((_t("modes", lang), "；".join(f"{value_name(lv, lang)}：{value_name(m, lang)}" for lv, m in modes.items())))
    body = "".join(f"<tr><th>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in rows)
    out = f"<h3>{esc(pick(HEADING, lang))}</h3><table>{body}</table>"
    classes = _classes(summary, lang)
    if not classes.empty:
        out += table_html(classes, lang=lang)
    snap = summary.get("snapping")
    if isinstance(snap, Mapping):
        srows = [
            {_t("layer", lang): f"{_t(layer, lang)}（{value_name(mode, lang)}）" if lang == "zh" else f"{_t(layer, lang)} ({value_name(mode, lang)})",
             _t("mean", lang): v.get("mean_m"), _t("p95", lang): v.get("p95_m"), _t("max", lang): v.get("max_m")}
            for mode, layers in sorted(snap.items()) if isinstance(layers, Mapping)
            for layer, v in sorted(layers.items()) if isinstance(v, Mapping) and layer in ("blocks", "schools")
        ]
        if srows:
            out += f"<p><b>{_t('snap', lang)}</b></p>" + table_html(pd.DataFrame(srows), lang=lang)
    return out


RENDERER = StageRenderer(stage=STAGE, heading=HEADING, appendix=appendix)
