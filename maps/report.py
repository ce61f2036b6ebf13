"""``report.html`` (what the plan does, with tables and inline SVG charts) and ``report.xlsx``.

The report reads whatever stages the run produced and skips what is absent;
a table lacking an expected column is shown with what it has, and the gap is
noted. No script and no external resource: the page opens anywhere.
"""

from __future__ import annotations

import html
import logging
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from maps import charts
from maps.charts import short_label
from maps.labels import Language, t
from maps.layers import _ids, rotation_flows
from maps.render import ReportParams, school_names, stage_file
from planning.app.stage import RunResult

logger = logging.getLogger(__name__)

#: Rows shown per table in the HTML (the Excel workbook and CSV files hold all).
MAX_HTML_ROWS = 200
#: A stage's one-line summary is cut here (display units); its files hold the detail.
MAX_SUMMARY_CHARS = 600
#: Tables longer than this start folded.
FOLD_ROWS = 15
#: Bars in a per-school chart (the highest values; the table lists every school).
MAX_CHART_BARS = 30

#: Display names of figures the stages report (key → (Chinese, English)); others show their key.
FIGURE_NAMES: Mapping[str, tuple[str, str]] = {
    "status": ("求解状态", "Solver status"),
    "objective": ("目标值", "Objective"),
    "bound": ("下界", "Bound"),
    "gap": ("最优间隙", "Gap"),
    "moved": ("调整学校的学生数", "Students changing school"),
    "moved_share": ("调整学校的学生比例", "Share changing school"),
    "mean_travel_s": ("平均到校时间", "Mean travel time"),
    "p95_travel_s": ("95% 学生到校时间不超过", "95th percentile travel time"),
    "max_travel_s": ("最长到校时间", "Longest travel time"),
    "mean_travel_m": ("平均到校距离", "Mean travel distance"),
    "utilization": ("学位使用率", "Utilization"),
    "unserved": ("未覆盖学生", "Unserved students"),
    "share_within_standard": ("服务半径内学生比例", "Share within service standard"),
    "equity": ("教育公平", "Equity"),
    "nearest": ("就近分配", "Nearest school"),
    "quota": ("交流指标", "Quota"),
    "movers": ("交流人数", "Teachers moving"),
    "backbone_share": ("骨干教师占比", "Backbone share"),
    "groups": ("共同体数", "Communities"),
    "cv_before": ("交流前差异系数", "CV before"),
    "cv_after": ("交流后差异系数", "CV after"),
    "teachers": ("教师数", "Teachers"),
    "eligible_teachers": ("符合交流条件的教师", "Eligible teachers"),
    "eligible_at_sending_schools": ("派出校符合条件的教师", "Eligible at sending schools"),
    "sending_schools": ("派出学校数", "Sending schools"),
    "receiving_schools": ("接收学校数", "Receiving schools"),
    "movers_out": ("派出交流教师", "Teachers sent out"),
    "movers_return": ("交流期满返回", "Returning teachers"),
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
    "lp_bound": ("线性松弛下界", "LP bound"),
    "solve_s": ("求解用时", "Solve time"),
    "members": ("成员校数", "Members"),
    "pairs": ("结对数", "Pairs"),
    "shortfalls": ("缺口", "Shortfalls"),
    "plan": ("优化方案", "Plan"),
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
    "method": ("方法", "Method"),
    "contiguous": ("片区连续", "Contiguous zones"),
    "detached_pieces": ("飞地数", "Detached pieces"),
    "solve_time_s": ("求解用时", "Solve time"),
    "max_travel_s": ("最长允许到校时间", "Longest allowed travel"),
    "travel_mode": ("出行方式", "Travel mode"),
    "adjacency": ("相邻判定", "Adjacency"),
    "level": ("学段", "Level"),
    "primary": ("小学", "Primary"),
    "junior": ("初中", "Junior"),
}

#: Keys ending in ``_s`` that are computing time (shown in seconds, not minutes).
_WALL_CLOCK = ("solve_s", "solve_time_s", "wall_s", "time_limit_s")

CSS = """
body { font: 14px/1.5 "Microsoft YaHei","PingFang SC","Noto Sans CJK SC","Helvetica Neue",Arial,sans-serif;
  color: #222; max-width: 1100px; margin: 0 auto; padding: 16px 24px 48px; background: #fff; }
h1 { font-size: 24px; border-bottom: 3px solid #4e79a7; padding-bottom: 6px; }
h2 { font-size: 19px; margin-top: 32px; border-left: 5px solid #4e79a7; padding-left: 8px; }
h3 { font-size: 15px; margin-top: 20px; }
table { border-collapse: collapse; margin: 8px 0 12px; font-size: 13px; }
th, td { border: 1px solid #d0d4da; padding: 3px 8px; text-align: left; vertical-align: top; }
th { background: #eef1f5; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.bad td { background: #fdecea; }
.note { color: #666; font-size: 12px; }
.ok { color: #1a7f37; font-weight: bold; } .fail { color: #c62828; font-weight: bold; }
@media print { nav { display: none; } details > .tw { display: block; } h2 { break-before: auto; } figure, table { break-inside: avoid; } }
nav a { margin-right: 12px; } .tw { overflow-x: auto; max-width: 100%; }
details { margin: 6px 0 12px; } summary { cursor: pointer; color: #1f5f9f; } figure { margin: 8px 0; } .files li { font-family: monospace; }
"""

_TEXT: Mapping[str, tuple[str, str]] = {
    "report": ("规划报告", "Planning report"),
    "summary": ("概况", "Summary"),
    "scenario": ("方案", "Scenario"),
    "seed": ("随机种子", "Seed"),
    "stages_run": ("已运行的环节", "Stages run"),
    "inputs": ("输入数据", "Inputs"),
    "schools": ("学校", "Schools"),
    "blocks": ("居住区（小区/村）", "Residential units"),
    "teachers": ("教师", "Teachers"),
    "children": ("{level}适龄儿童", "{level}-age children"),
    "zones": ("划片招生", "Catchment zones"),
    "compare": ("优化方案与就近分配对比", "Optimal plan vs nearest school"),
    "figure": ("指标", "Figure"),
    "optimal": ("优化方案", "Optimal"),
    "nearest": ("就近分配", "Nearest"),
    "other_figures": ("其他指标", "Other figures"),
    "per_school": ("各校学位", "Seats per school"),
    "util_chart": ("{level}各校学位使用率（竖线 = 100%）", "{level} utilization per school (tick = 100%)"),
    "travel_chart": ("{level}到校时间（分钟）", "{level} travel time (minutes)"),
    "unserved": ("未覆盖居住区", "Unserved units"),
    "feeder": ("小升初对口直升", "Primary → junior feeder"),
    "balance": ("均衡发展指标", "Balance indicators"),
    "cv_chart": ("{level}差异系数与标准（竖线 = 标准，红色 = 未达标）", "{level} coefficient of variation vs threshold (tick; red = fails)"),
    "before_after": ("交流轮岗前后差异系数", "CV before and after rotation"),
    "before": ("交流前", "Before"),
    "after": ("交流后", "After"),
    "communities": ("学校共同体（集团化办学）", "School communities"),
    "lead": ("牵头校", "Lead school"),
    "members": ("成员校", "Members"),
    "group": ("共同体", "Community"),
    "rotation": ("教师交流轮岗", "Teacher rotation"),
    "flows": ("交流流向", "Flows"),
    "from": ("派出学校", "From"),
    "to": ("接收学校", "To"),
    "backbone": ("骨干教师", "Backbone"),
    "subjects": ("学科", "Subjects"),
    "network": ("道路网络", "Road network"),
    "files": ("地图与数据文件", "Maps and data files"),
    "maps": ("地图", "Maps"),
    "truncated": ("仅显示前 {n} 行（共 {total} 行），完整表格见 {file}", "First {n} of {total} rows; full table in {file}"),
    "missing_cols": ("表格缺少列：{cols}", "Table lacks columns: {cols}"),
    "none_ran": ("本次运行没有规划环节的结果。", "This run has no stage results."),
    "passes": ("达标", "passes"),
    "fails": ("未达标", "fails"),
    "minutes": ("分钟", "min"),
    "tables": ("表格", "Tables"),
    "show_rows": ("展开表格（{n} 行）", "Show table ({n} rows)"),
    "flagged": ("{n} 行需关注", "{n} flagged"),
    "top_bars": ("仅显示使用率最高的 {n} 所（共 {total} 所）", "The {n} highest of {total} schools"),
}


def _t(key: str, lang: Language, **fmt: Any) -> str:
    pair = _TEXT[key]
    text = pair[0] if lang == "zh" else pair[1]
    return text.format(**fmt) if fmt else text


def _e(v: Any) -> str:
    return html.escape(str(v), quote=True)


#: Metrics whose sub-keys are data values (road classes), shown as they are.
_VERBATIM_CHILDREN = frozenset({"edges_by_class", "speed_table_kmh"})


def figure_name(key: str, lang: Language) -> str:
    """Display name of a metric key; each part of a nested key (``a.b``) translated when known."""
    names = []
    parts = key.split(".")
    for i, part in enumerate(parts):
        # Children of data-keyed tables are data (road class "primary" is not 小学).
        pair = None if i and parts[i - 1] in _VERBATIM_CHILDREN else FIGURE_NAMES.get(part)
        names.append(part if pair is None else (pair[0] if lang == "zh" else pair[1]))
    return " · ".join(names)


def fmt_value(key: str, v: Any, lang: Language = "zh") -> str:
    """A figure for display: seconds also in minutes, shares in %, big numbers grouped."""
    if v is None:
        return "–"
    if isinstance(v, (bool, np.bool_)):
        return "✓" if v else "✗"
    if isinstance(v, (int, np.integer)):
        return f"{int(v):,}"
    if isinstance(v, (float, np.floating)):
        x = float(v)
        if not math.isfinite(x):
            return "–"
        last = key.rsplit(".", 1)[-1]
        if last in _WALL_CLOCK:
            return f"{x:.1f} s"
        if last.endswith("_s"):
            return f"{x / 60:.1f} {_t('minutes', lang)}"
        if "share" in last or "utilization" in key or last in ("gap", "moved_share"):
            return f"{100 * x:.1f}%"
        if abs(x) >= 1000:
            return f"{x:,.0f}"
        return f"{x:.3g}"
    if isinstance(v, (list, tuple)):
        return ", ".join(str(x) for x in v)
    return str(v)


def flatten(obj: Any, prefix: str = "", *, max_items: int | None = None) -> dict[str, Any]:
    """Nested dicts to ``{"a.b": value}``, keys sorted.

    A mapping with more than ``max_items`` entries (a per-school table such as
    ``utilization``) is left out: it belongs in a table, not a list of figures.
    """
    out: dict[str, Any] = {}
    if isinstance(obj, Mapping):
        if max_items is not None and prefix and len(obj) > max_items:
            return out
        for k in sorted(obj, key=str):
            out.update(flatten(obj[k], f"{prefix}{k}.", max_items=max_items))
        return out
    out[prefix[:-1]] = obj
    return out


def _missing_value(v: Any) -> bool:
    """``None``, NaN, ``pd.NA`` or ``NaT``."""
    if v is None or v is pd.NA or v is pd.NaT:
        return True
    return isinstance(v, (float, np.floating)) and math.isnan(v)


def _is_num(v: Any) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, (bool, np.bool_))


def table_html(
    frame: pd.DataFrame,
    *,
    lang: Language,
    file: str = "",
    bad_rows: Sequence[bool] | None = None,
    max_rows: int = MAX_HTML_ROWS,
) -> str:
    """An HTML table (escaped; numbers right-aligned), at most ``max_rows`` rows."""
    if isinstance(frame, gpd.GeoDataFrame):
        frame = pd.DataFrame(frame.drop(columns=frame.geometry.name))
    total = len(frame)
    shown = frame.head(max_rows)
    head = "".join(f"<th>{_e(c)}</th>" for c in shown.columns)
    rows = []
    for k, row in enumerate(shown.itertuples(index=False)):
        cls = ' class="bad"' if bad_rows is not None and k < len(bad_rows) and bad_rows[k] else ""
        cells = []
        for col, v in zip(shown.columns, row, strict=True):
            if _is_num(v):
                cells.append(f'<td class="num">{_e(fmt_value(str(col), v, lang))}</td>')
            else:
                cells.append(f"<td>{_e('' if _missing_value(v) else fmt_value(str(col), v, lang))}</td>")
        rows.append(f"<tr{cls}>{''.join(cells)}</tr>")
    note = ""
    if total > max_rows:
        note = f'<p class="note">{_e(_t("truncated", lang, n=max_rows, total=total, file=file))}</p>'
    table = f'<div class="tw"><table><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table></div>{note}'
    if total > FOLD_ROWS:  # long tables start folded (no script: <details>)
        flagged = sum(1 for b in (bad_rows or [])[: len(shown)] if b)
        extra = f" · {_t('flagged', lang, n=flagged)}" if flagged else ""
        return f"<details><summary>{_e(_t('show_rows', lang, n=total))}{_e(extra)}</summary>{table}</details>"
    return table


def _figures_table(figures: Mapping[str, Any], lang: Language) -> str:
    if not figures:
        return ""
    rows = []
    for k, v in figures.items():
        if isinstance(v, (list, tuple)) and v and all(isinstance(x, Mapping) for x in v):
            cell = table_html(pd.DataFrame(list(v)), lang=lang, max_rows=50)  # e.g. shortfalls
            rows.append(f"<tr><td>{_e(figure_name(k, lang))}</td><td>{cell}</td></tr>")
        else:
            rows.append(f"<tr><td>{_e(figure_name(k, lang))}</td><td class=\"num\">{_e(fmt_value(k, v, lang))}</td></tr>")
    rows = "".join(rows)
    return f"<table><thead><tr><th>{_t('figure', lang)}</th><th></th></tr></thead><tbody>{rows}</tbody></table>"


def _missing(frame: pd.DataFrame, cols: Iterable[str], lang: Language) -> str:
    lacking = [c for c in cols if c not in frame.columns]
    if not lacking:
        return ""
    return f'<p class="note">{_e(_t("missing_cols", lang, cols=", ".join(lacking)))}</p>'


def _frame(obj: Any) -> pd.DataFrame | None:
    return obj if isinstance(obj, pd.DataFrame) else None


def _levels(run: RunResult) -> list[str]:
    out = run.outputs.get("zones")
    if out is None:
        return []
    return [lv for lv in ("primary", "junior") if any(k.startswith(f"{lv}/") for k in out.files)]


# --------------------------------------------------------------------------- sections


def _summary(run: RunResult, lang: Language) -> str:
    inputs = run.inputs
    rows = [(_t("scenario", lang), run.scenario.name), (_t("seed", lang), run.scenario.seed)]
    rows.append((_t("stages_run", lang), ", ".join(run.outputs) or "–"))
    s = inputs.schools
    if s is not None:
        by_level = s["level"].astype(str).value_counts().sort_index() if "level" in s.columns else pd.Series(dtype=int)
        detail = ", ".join(f"{t(k, lang)} {v}" for k, v in by_level.items())
        rows.append((_t("schools", lang), f"{len(s)} ({detail})" if detail else len(s)))
    b = inputs.blocks
    if b is not None:
        rows.append((_t("blocks", lang), f"{len(b):,}"))
        for lv in ("primary", "junior"):
            col = f"students_{lv}"
            if col in b.columns:
                rows.append((_t("children", lang, level=t(lv, lang)), f"{int(pd.to_numeric(b[col], errors='coerce').fillna(0).sum()):,}"))
    if inputs.teachers is not None:
        rows.append((_t("teachers", lang), f"{len(inputs.teachers):,}"))
    body = "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in rows)
    out = f"<h2 id=\"summary\">{_t('summary', lang)}</h2><table>{body}</table>"
    lines = [
        f"<li><b>{_e(name)}</b>: {_e(short_label(' '.join(o.summary.split()), width=MAX_SUMMARY_CHARS))}</li>"
        for name, o in run.outputs.items() if o.summary
    ]
    if lines:
        out += f"<ul>{''.join(lines)}</ul>"
    return out


def _zones(run: RunResult, lang: Language) -> str:
    parts = [f"<h2 id=\"zones\">{_t('zones', lang)}</h2>"]
    for lv in _levels(run):
        lvn = t(lv, lang)
        parts.append(f"<h3>{_e(lvn)}</h3>")
        metrics = stage_file(run, "zones", f"{lv}/metrics.json")
        if isinstance(metrics, Mapping):
            parts.append(_zone_figures(metrics, lang, lvn))
        zones = stage_file(run, "zones", f"{lv}/zones.gpkg")
        if isinstance(zones, pd.DataFrame) and not zones.empty:
            z = pd.DataFrame(zones.drop(columns=zones.geometry.name)) if isinstance(zones, gpd.GeoDataFrame) else zones
            z = z.sort_values("school_id", kind="stable") if "school_id" in z.columns else z
            if "name" in z.columns:  # name beside the id
                z = z[[c for c in ("school_id", "name") if c in z.columns] + [c for c in z.columns if c not in ("school_id", "name")]]
            parts.append(f"<p><b>{_t('per_school', lang)}</b></p>")
            parts.append(_missing(z, ("school_id", "students", "capacity_seats", "utilization"), lang))
            util = pd.to_numeric(z["utilization"], errors="coerce").astype("float64") if "utilization" in z.columns else None
            bad = (util > 1.0 + 1e-9).to_list() if util is not None else None
            parts.append(table_html(z, lang=lang, file=f"zones/{lv}/zones.gpkg", bad_rows=bad))
            if util is not None:
                labels = (_ids(z["name"]) if "name" in z.columns else _ids(z["school_id"])).to_numpy()
                order = np.argsort(-util.fillna(-1.0).to_numpy(), kind="stable")[:MAX_CHART_BARS]
                note = ""
                if len(z) > MAX_CHART_BARS:
                    note = f'<figcaption class="note">{_e(_t("top_bars", lang, n=MAX_CHART_BARS, total=len(z)))}</figcaption>'
                parts.append("<figure>" + charts.bar_chart(
                    labels[order].tolist(), util.to_numpy()[order].tolist(), title=_t("util_chart", lang, level=lvn),
                    limits=[1.0] * len(order), unit="%",
                ) + note + "</figure>")
        assignment = _frame(stage_file(run, "zones", f"{lv}/assignment.csv"))
        if assignment is not None and "school_id" in assignment.columns:
            un = assignment[_ids(assignment["school_id"]) == ""]
            if len(un):
                parts.append(f"<p><b>{_t('unserved', lang)}</b> ({len(un)})</p>" + table_html(un, lang=lang, file=f"zones/{lv}/assignment.csv", max_rows=50))
    feeder = _frame(stage_file(run, "zones", "feeder.csv"))
    if feeder is not None and not feeder.empty:
        parts.append(f"<h3>{_t('feeder', lang)}</h3>" + table_html(feeder, lang=lang, file="zones/feeder.csv"))
    return "".join(parts)


#: Nested figure tables with more entries than this are per-item detail (left to the JSON file).
MAX_FIGURE_ITEMS = 12
_PER_STUDENT_TIME = re.compile(r"^(mean|median|p\d\d|max)_")


#: Order of the optimal-vs-nearest rows: what a planner reads first (prefixes), the rest after.
_FIGURE_ORDER = (
    "travel.", "moved_students", "overflow_students", "unserved_blocks", "status", "objective_s", "bound_s", "gap",
    "equity.",
)


def _figure_order(key: str) -> tuple[int, str]:
    for rank, prefix in enumerate(_FIGURE_ORDER):
        if key == prefix or (prefix.endswith(".") and key.startswith(prefix)):
            return rank, key
    return len(_FIGURE_ORDER), key


def _zone_figures(metrics: Mapping[str, Any], lang: Language, level_name: str) -> str:
    """Optimal plan vs nearest school side by side, a travel chart, then the other figures.

    The zones stage writes ``{"plan": {...}, "nearest": {...}, ...}``; a flat
    ``metrics.json`` (plan figures at the top) is read too.
    """
    nearest = metrics.get("nearest") if isinstance(metrics.get("nearest"), Mapping) else {}
    if isinstance(metrics.get("plan"), Mapping):
        plan = metrics["plan"]
        top = {k: v for k, v in metrics.items() if k not in ("plan", "nearest")}
    else:
        plan = {k: v for k, v in metrics.items() if k != "nearest"}
        top = {}
    flat_opt = flatten(plan, max_items=MAX_FIGURE_ITEMS)
    flat_near = flatten(nearest, max_items=MAX_FIGURE_ITEMS)
    shared = sorted(
        (k for k in flat_opt if k in flat_near and not isinstance(flat_opt[k], (list, tuple))), key=_figure_order,
    )
    parts = []
    if shared:
        rows = "".join(
            f"<tr><td>{_e(figure_name(k, lang))}</td><td class=\"num\">{_e(fmt_value(k, flat_opt[k], lang))}</td>"
            f"<td class=\"num\">{_e(fmt_value(k, flat_near[k], lang))}</td></tr>"
            for k in shared
        )
        parts.append(
            f"<p><b>{_t('compare', lang)}</b></p><table><thead><tr><th>{_t('figure', lang)}</th>"
            f"<th>{_t('optimal', lang)}</th><th>{_t('nearest', lang)}</th></tr></thead><tbody>{rows}</tbody></table>"
        )
        travel = [
            k for k in shared
            if k.endswith("_s") and _PER_STUDENT_TIME.match(k.rsplit(".", 1)[-1])
            and _is_num(flat_opt[k]) and _is_num(flat_near[k])
        ]
        if travel:
            parts.append("<figure>" + charts.paired_bar_chart(
                [figure_name(k, lang) for k in travel],
                [flat_opt[k] / 60 for k in travel], [flat_near[k] / 60 for k in travel],
                title=_t("travel_chart", lang, level=level_name), names=(_t("optimal", lang), _t("nearest", lang)),
            ) + "</figure>")
    rest = {k: v for k, v in flat_opt.items() if k not in shared}
    rest.update(flatten(top, max_items=MAX_FIGURE_ITEMS))
    if rest:
        parts.append(f"<p><b>{_t('other_figures', lang)}</b></p>" + _figures_table(rest, lang))
    return "".join(parts)


def _cv_change(run: RunResult) -> pd.DataFrame | None:
    metrics = stage_file(run, "rotation", "metrics.json")
    if not isinstance(metrics, Mapping):
        return None
    before, after = metrics.get("cv_before"), metrics.get("cv_after")
    if not isinstance(before, Mapping) or not isinstance(after, Mapping):
        return None
    b, a = flatten(before), flatten(after)
    keys = [k for k in b if k in a and _is_num(b[k]) and _is_num(a[k])]
    return pd.DataFrame({"indicator": keys, "before": [b[k] for k in keys], "after": [a[k] for k in keys]})


def _level_label(key: str, lang: Language) -> str:
    """``primary.books_per_pupil`` → ``小学 · books_per_pupil``."""
    head, _, rest = key.partition(".")
    return f"{t(head, lang)} · {rest}" if rest and head in ("primary", "junior") else key


def _balance(run: RunResult, lang: Language) -> str:
    parts = [f"<h2 id=\"balance\">{_t('balance', lang)}</h2>"]
    bal = _frame(stage_file(run, "balance", "balance.csv"))
    if bal is not None and not bal.empty:
        parts.append(_missing(bal, ("level", "indicator", "cv", "threshold", "passes"), lang))
        passes = bal["passes"].astype(str).str.lower().isin(["true", "1"]) if "passes" in bal.columns else None
        parts.append(table_html(bal, lang=lang, file="balance/balance.csv", bad_rows=None if passes is None else (~passes).to_list()))
        if {"indicator", "cv"} <= set(bal.columns):
            groups = bal.groupby(bal["level"].astype(str), sort=True) if "level" in bal.columns else [("", bal)]
            for lv, rows in groups:
                lim = pd.to_numeric(rows["threshold"], errors="coerce").astype("float64").to_list() if "threshold" in rows.columns else None
                parts.append("<figure>" + charts.bar_chart(
                    _ids(rows["indicator"]).to_list(), pd.to_numeric(rows["cv"], errors="coerce").astype("float64").to_list(),
                    title=_t("cv_chart", lang, level=t(lv, lang) if lv else ""), limits=lim,
                ) + "</figure>")
    sb = _frame(stage_file(run, "balance", "schools_balance.csv"))
    if sb is not None and not sb.empty:
        names = school_names(run)
        sb = sb.copy()
        if "school_id" in sb.columns and "name" not in sb.columns:
            sb.insert(1, "name", _ids(sb["school_id"]).map(names).fillna(""))
        parts.append(table_html(sb, lang=lang, file="balance/schools_balance.csv"))
    change = _cv_change(run)
    if change is not None and not change.empty:
        change["indicator"] = [_level_label(k, lang) for k in change["indicator"]]
        parts.append(f"<h3>{_t('before_after', lang)}</h3>" + table_html(change, lang=lang))
        parts.append("<figure>" + charts.paired_bar_chart(
            change["indicator"].to_list(), change["before"].to_list(), change["after"].to_list(),
            title=_t("before_after", lang), names=(_t("before", lang), _t("after", lang)),
        ) + "</figure>")
    return "".join(parts) if len(parts) > 1 else ""


def _communities(run: RunResult, lang: Language) -> str:
    if "communities" not in run.outputs:
        return ""
    parts = [f"<h2 id=\"communities\">{_t('communities', lang)}</h2>"]
    metrics = stage_file(run, "communities", "metrics.json")
    if isinstance(metrics, Mapping):
        parts.append(_figures_table(flatten(metrics), lang))
    groups = _frame(stage_file(run, "communities", "groups.csv"))
    if groups is not None and {"school_id", "group_id"} <= set(groups.columns):
        names = school_names(run)
        g = groups.assign(school_id=_ids(groups["school_id"]), group_id=_ids(groups["group_id"]))
        g["level"] = _ids(groups["level"]) if "level" in groups.columns else ""
        role = _ids(groups["role"]) if "role" in groups.columns else pd.Series("", index=groups.index)
        rows = []
        for (lv, gid), idx in sorted(g.groupby(["level", "group_id"]).groups.items()):
            sids = g.loc[idx, "school_id"]
            leads = [names.get(s, s) for s in sids[role.loc[idx] == "lead"]]
            members = sorted(names.get(s, s) for s in sids[role.loc[idx] != "lead"])
            row = {_t("group", lang): gid, _t("lead", lang): "、".join(leads), _t("members", lang): "、".join(members)}
            rows.append({"level": t(lv, lang), **row} if lv else row)
        parts.append(table_html(pd.DataFrame(rows), lang=lang, file="communities/groups.csv"))
    gm = _frame(stage_file(run, "communities", "group_metrics.csv"))
    if gm is not None and not gm.empty:
        parts.append(table_html(gm, lang=lang, file="communities/group_metrics.csv"))
    return "".join(parts)


def _rotation(run: RunResult, lang: Language) -> str:
    if "rotation" not in run.outputs:
        return ""
    parts = [f"<h2 id=\"rotation\">{_t('rotation', lang)}</h2>"]
    metrics = stage_file(run, "rotation", "metrics.json")
    if isinstance(metrics, Mapping):
        parts.append(_figures_table(flatten({k: v for k, v in metrics.items() if k not in ("cv_before", "cv_after")}), lang))
    moves = _frame(stage_file(run, "rotation", "moves.csv"))
    if moves is not None:
        parts.append(_missing(moves, ("teacher_id", "from_school", "to_school", "subject", "backbone"), lang))
        flows = _flows_table(run, moves, lang)
        if not flows.empty:
            parts.append(f"<h3>{_t('flows', lang)}</h3>" + table_html(flows, lang=lang, file="rotation/moves.csv"))
    sr = _frame(stage_file(run, "rotation", "schools_rotation.csv"))
    if sr is not None and not sr.empty:
        parts.append(table_html(sr, lang=lang, file="rotation/schools_rotation.csv"))
    return "".join(parts)


def _flows_table(run: RunResult, moves: pd.DataFrame, lang: Language) -> pd.DataFrame:
    flows = rotation_flows(moves)
    names = school_names(run)
    return pd.DataFrame({
        _t("from", lang): [names.get(s, s) for s in flows["from_school"]],
        _t("to", lang): [names.get(s, s) for s in flows["to_school"]],
        _t("teachers", lang): flows["teachers"].astype(np.int64).to_numpy(),
        _t("backbone", lang): flows["backbone"].astype(np.int64).to_numpy(),
        _t("subjects", lang): flows["subjects"].to_numpy(),
    })


def _network(run: RunResult, lang: Language) -> str:
    summary = stage_file(run, "network", "summary.json")
    if not isinstance(summary, Mapping):
        return ""
    return f"<h2 id=\"network\">{_t('network', lang)}</h2>" + _figures_table(flatten(summary), lang)


def _files(run: RunResult, lang: Language, maps: Sequence[str]) -> str:
    items = [f'<li><a href="{_e(p)}">{_e(p)}</a></li>' for p in maps]
    for stage, out in run.outputs.items():
        for rel in sorted(out.files):
            path = f"{stage}/{rel}"
            items.append(f'<li><a href="{_e(path)}">{_e(path)}</a></li>')
    items.append('<li><a href="report.xlsx">report.xlsx</a></li>')
    return f"<h2 id=\"files\">{_t('files', lang)}</h2><ul class=\"files\">{''.join(items)}</ul>"


def build_report(run: RunResult, params: ReportParams, *, maps: Sequence[str] = ("map.html",)) -> str:
    """The planning report as one self-contained HTML page (no script, inline SVG charts).

    Parameters
    ----------
    run
        What the run made.
    params
        Report settings (language, title).
    maps
        Relative paths of the maps written beside the report, linked at the top.

    Returns
    -------
    str
        HTML; byte-identical for the same run and settings.
    """
    lang = params.language
    title = f"{params.title or run.scenario.name} · {_t('report', lang)}"
    sections = [
        _summary(run, lang), _zones(run, lang) if _levels(run) else "", _balance(run, lang),
        _communities(run, lang), _rotation(run, lang), _network(run, lang),
    ]
    body = "".join(sections)
    if not run.outputs:
        body += f"<p>{_t('none_ran', lang)}</p>"
    nav_ids = [("summary", "summary"), ("zones", "zones"), ("balance", "balance"), ("communities", "communities"),
               ("rotation", "rotation"), ("network", "network"), ("files", "files")]
    nav = " ".join(f'<a href="#{i}">{_t(k, lang)}</a>' for i, k in nav_ids if f'id="{i}"' in body or i == "files")
    map_links = " ".join(f'<a href="{_e(p)}">{_e(p)}</a>' for p in maps)
    return (
        f'<!DOCTYPE html>\n<html lang="{"zh-CN" if lang == "zh" else "en"}">\n<head>\n<meta charset="utf-8">\n'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">\n<title>{_e(title)}</title>\n'
        f"<style>{CSS}</style>\n</head>\n<body>\n<h1>{_e(title)}</h1>\n"
        f"<nav>{nav}</nav>\n<p>{_t('maps', lang)}: {map_links}</p>\n{body}\n{_files(run, lang, maps)}\n</body>\n</html>\n"
    )


def report_tables(run: RunResult, params: ReportParams) -> dict[str, pd.DataFrame]:
    """The Excel workbook: sheet name → table (the runner writes it deterministically)."""
    lang = params.language
    zh = lang == "zh"
    sheets: dict[str, pd.DataFrame] = {}
    figures = []
    for stage, out in run.outputs.items():
        for rel, payload in sorted(out.files.items()):
            if rel.endswith(".json") and isinstance(payload, Mapping):
                for k, v in flatten(payload).items():
                    figures.append({"stage": stage, "file": rel, "figure": k, "name": figure_name(k, lang),
                                    "value": v if _is_num(v) or isinstance(v, (str, bool)) or v is None else str(v)})
    sheets["概要" if zh else "summary"] = pd.DataFrame(figures, columns=["stage", "file", "figure", "name", "value"])
    for lv in _levels(run):
        lvn = t(lv, lang)
        zones = stage_file(run, "zones", f"{lv}/zones.gpkg")
        if isinstance(zones, pd.DataFrame):
            z = pd.DataFrame(zones.drop(columns=zones.geometry.name)) if isinstance(zones, gpd.GeoDataFrame) else zones
            sheets[f"{lvn}片区" if zh else f"{lv} zones"] = z.reset_index(drop=True)
        a = _frame(stage_file(run, "zones", f"{lv}/assignment.csv"))
        if a is not None:
            sheets[f"{lvn}分配" if zh else f"{lv} assignment"] = a.reset_index(drop=True)
        ms = _frame(stage_file(run, "zones", f"{lv}/multischool.csv"))
        if ms is not None:
            sheets[f"{lvn}多校划片" if zh else f"{lv} multischool"] = ms.reset_index(drop=True)
    for stage, rel, zh_name, en_name in (
        ("zones", "feeder.csv", "对口直升", "feeder"),
        ("balance", "balance.csv", "均衡指标", "balance"),
        ("balance", "schools_balance.csv", "学校均衡", "schools balance"),
        ("communities", "groups.csv", "共同体", "groups"),
        ("communities", "group_metrics.csv", "共同体指标", "group metrics"),
        ("communities", "pairs.csv", "结对", "pairs"),
        ("rotation", "moves.csv", "交流名单", "moves"),
        ("rotation", "schools_rotation.csv", "学校交流", "schools rotation"),
    ):
        frame = _frame(stage_file(run, stage, rel))
        if frame is not None:
            sheets[zh_name if zh else en_name] = frame.reset_index(drop=True)
    moves = _frame(stage_file(run, "rotation", "moves.csv"))
    if moves is not None:
        sheets["交流流向" if zh else "flows"] = _flows_table(run, moves, lang)
    return sheets
