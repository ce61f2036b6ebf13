"""A sweep's summary: one row per run (``summary.csv``) and a page of comparison charts (``summary.html``).

The figures of a run are read from its ``manifest.json`` (``stage_metrics``), so a run finished
by an earlier sweep is summarized like one just run, and a row equals what the run reports alone:
children moved against today's zones, mean travel and children unserved per level, the 基本均衡 /
优质均衡 results (CVs passing of the 7 优质均衡 indicators) per level, teachers rotated and
rotation quotas met, the boarding allowance, and ``cost_yuan`` of any stage that reports one.

For a sweep of counties the page maps the province(s): each county coloured by its 均衡 status
(优质均衡, 基本均衡 or neither, from the balance stage), the counties outside the sweep grey. The
charts are SVG drawn with matplotlib (text kept as text, no timestamp), so the page is the same
bytes for the same runs and opens offline.
"""

from __future__ import annotations

import html
import io
import math
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, cast

import pandas as pd

from geo.model import LEVELS
from planning.app.sweep import SweepPlan
from planning.app.sweep_task import RunOutcome, read_manifest

#: 均衡 status of a county (from the balance stage), its colour on the map and in the table.
BALANCE_STATUS = {
    "优质均衡": "#1a9850",
    "基本均衡": "#91cf60",
    "未达基本均衡": "#fc8d59",
    "无结果": "#bdbdbd",  # no balance result: the stage did not run or the run failed
}
OUTSIDE_COLOUR = "#eeeeee"
STATUS_COLOUR = {"ok": "#1a9850", "infeasible": "#fdae61", "solver": "#d73027", "input": "#d73027", "error": "#d73027"}
#: Families for chart text (kept as text in the SVG: the browser picks the first it has).
_FONTS = ["Noto Sans CJK SC", "Microsoft YaHei", "PingFang SC", "WenQuanYi Micro Hei", "DejaVu Sans"]
#: Most runs labelled on a bar chart; beyond it the bars stay and the labels go.
MAX_LABELLED = 60

__all__ = ["BALANCE_STATUS", "balance_status", "headline", "summary_files", "summary_table"]


# --------------------------------------------------------------------------- figures


def _level_figures(metrics: Mapping[str, Any], level: str) -> dict[str, Any]:
    zones = (metrics.get("zones") or {}).get(level) or {}
    balance = (metrics.get("balance") or {}).get(level) or {}
    return {
        f"moved_{level}": zones.get("moved_students"),
        f"mean_travel_{level}_s": zones.get("mean_travel_s"),
        f"unserved_{level}": zones.get("unserved_students"),
        f"boarding_allowance_{level}_yuan": zones.get("boarding_allowance_yuan"),
        f"basic_balance_{level}": balance.get("basic_passes"),
        f"quality_cvs_passing_{level}": balance.get("quality_cvs_passing"),
        f"quality_balance_{level}": balance.get("quality_passes"),
    }


def headline(metrics: Mapping[str, Any]) -> dict[str, Any]:
    """The headline figures of one run from its manifest's ``stage_metrics`` (``None`` where a stage did not run)."""
    out: dict[str, Any] = {}
    for level in LEVELS:
        out.update(_level_figures(metrics, level))
    moved = [out[f"moved_{level}"] for level in LEVELS if out[f"moved_{level}"] is not None]
    out["moved_total"] = sum(moved) if moved else None
    rotation = metrics.get("rotation") or {}
    out["rotation_movers"] = rotation.get("movers")
    out["rotation_quotas_met"] = rotation.get("quotas_met")
    for stage, figures in sorted(metrics.items()):
        if isinstance(figures, Mapping) and isinstance(figures.get("cost_yuan"), int | float):
            out[f"{stage}_cost_yuan"] = figures["cost_yuan"]
    out["balance_status"] = balance_status(metrics)
    return out


def balance_status(metrics: Mapping[str, Any]) -> str:
    """优质均衡 when every level passes it, else 基本均衡 when every level passes that, else 未达基本均衡; 无结果 without a balance result."""
    balance = metrics.get("balance") or {}
    levels = [balance[level] for level in LEVELS if isinstance(balance.get(level), Mapping)]
    if not levels:
        return "无结果"
    if all(b.get("quality_passes") for b in levels):
        return "优质均衡"
    if all(b.get("basic_passes") for b in levels):
        return "基本均衡"
    return "未达基本均衡"


def summary_table(plan: SweepPlan, outcomes: Mapping[str, RunOutcome], runs_dir: Path) -> pd.DataFrame:
    """One row per run of the plan (in its order): what it is, how it ended and its headline figures."""
    rows = []
    for spec in plan.runs:
        outcome = outcomes.get(spec.run_id)
        row: dict[str, Any] = {
            "run_id": spec.run_id,
            "county_code": spec.county,
            "county_name": spec.county_name,
            "scenario": "" if spec.scenario is None else str(spec.scenario),
            **{key: _cell(value) for key, value in spec.grid},
            "status": "not run" if outcome is None else outcome.status,
            "exit_code": None if outcome is None else outcome.exit_code,
            "message": "" if outcome is None else outcome.message.replace("\n", " | "),
        }
        manifest = read_manifest(runs_dir / spec.run_id) if outcome is not None and outcome.status in ("ok", "infeasible", "solver") else None
        row.update(headline((manifest or {}).get("stage_metrics") or {}))
        rows.append(row)
    table = pd.DataFrame(rows)
    if not plan.counties:
        table = table.drop(columns=["county_code", "county_name"])
    if all(s.scenario is None for s in plan.runs):
        table = table.drop(columns=["scenario"])
    return table.astype({c: "Int64" for c in table.columns if _whole(table[c])})


def _cell(value: Any) -> Any:
    return "+".join(map(str, value)) if isinstance(value, list | tuple) else value


def _whole(column: pd.Series) -> bool:
    """A column of whole numbers with gaps (kept whole in the CSV, not 12.0)."""
    values = column.dropna()
    return (
        column.isna().any() and len(values) > 0
        and all(isinstance(v, int | float) and not isinstance(v, bool) and float(v).is_integer() for v in values)
    )


# --------------------------------------------------------------------------- charts


def _rc() -> dict[str, Any]:
    """matplotlib settings: a CJK font (the bundled Noto Sans CJK SC first), text kept as text, fixed ids."""
    from matplotlib import font_manager  # noqa: PLC0415
    from noto_cjk_sans_otc import FONT_PATH  # noqa: PLC0415 - the bundled CJK font (as the print maps use)

    if not any(entry.fname == str(FONT_PATH) for entry in font_manager.fontManager.ttflist):
        font_manager.fontManager.addfont(str(FONT_PATH))
    installed = {entry.name for entry in font_manager.fontManager.ttflist}
    fonts = [f for f in _FONTS if f in installed] or ["DejaVu Sans"]
    return {"font.family": fonts, "svg.fonttype": "none", "svg.hashsalt": "schoolplan", "axes.unicode_minus": False, "font.size": 9}


def _svg(fig: Any) -> str:
    import matplotlib.pyplot as plt  # noqa: PLC0415

    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None, "Creator": None})
    plt.close(fig)
    text = buf.getvalue()
    return text[text.index("<svg") :]


def _bars(table: pd.DataFrame, title: str, columns: Sequence[str], labels: Sequence[str], unit: float = 1.0) -> str | None:
    """A horizontal bar chart of ``columns`` (grouped) per run, or ``None`` when no run has them."""
    import matplotlib.pyplot as plt  # noqa: PLC0415
    import numpy as np  # noqa: PLC0415

    have = [c for c in columns if c in table and table[c].notna().any()]
    if not any((pd.to_numeric(table[c], errors="coerce").fillna(0) != 0).any() for c in have):
        return None  # no run has the figure, or every run has 0: nothing to compare
    n = len(table)
    fig, ax = plt.subplots(figsize=(7.0, 1.0 + 0.22 * n * max(1, len(have)) ** 0.5))
    height = 0.8 / len(have)
    y = np.arange(n)
    for k, column in enumerate(have):
        values = pd.to_numeric(table[column], errors="coerce").astype(float).to_numpy() / unit
        ax.barh(y + k * height, np.nan_to_num(values), height=height, label=labels[columns.index(column)])
    ax.set_yticks(y + height * (len(have) - 1) / 2)
    ax.set_yticklabels(_run_labels(table) if n <= MAX_LABELLED else [""] * n)
    ax.invert_yaxis()
    ax.set_title(title)
    ax.set_xlim(left=0)
    ax.grid(axis="x", alpha=0.3)
    if len(columns) > 1:
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.08), ncol=len(have), fontsize=8, frameon=False)
    return _svg(fig)


def _run_labels(table: pd.DataFrame) -> list[str]:
    if "county_name" in table:
        return [f"{name} {rid}" if name else rid for name, rid in zip(table["county_name"], table["run_id"])]
    return list(table["run_id"])


def _charts(table: pd.DataFrame) -> list[str]:
    """The comparison charts: children moved, travel, unserved, 优质均衡 CVs passing, rotation."""
    levels = list(LEVELS)
    names = {"primary": "小学 primary", "junior": "初中 junior"}
    specs = [
        ("调整学校的学生 Children moved against today's zones", [f"moved_{lv}" for lv in levels], 1.0),
        ("平均上学时间 Mean travel (min)", [f"mean_travel_{lv}_s" for lv in levels], 60.0),
        ("无法就学的学生 Children unserved", [f"unserved_{lv}" for lv in levels], 1.0),
        ("优质均衡达标的差异系数 CVs passing (of 7)", [f"quality_cvs_passing_{lv}" for lv in levels], 1.0),
    ]
    out = []
    for title, columns, unit in specs:
        svg = _bars(table, title, columns, [names[lv] for lv in levels], unit)
        if svg is not None:
            out.append(svg)
    rotation = _bars(table, "交流轮岗 Teachers rotated", ["rotation_movers"], ["movers"])
    if rotation is not None:
        out.append(rotation)
    return out


def province_map(table: pd.DataFrame) -> str | None:
    """The province(s) of the counties swept, each county coloured by its 均衡 status (first run of each county)."""
    if "county_code" not in table or not table["county_code"].astype(bool).any():
        return None
    import matplotlib.pyplot as plt  # noqa: PLC0415
    import shapely  # noqa: PLC0415
    from matplotlib.patches import Patch  # noqa: PLC0415

    from geo.boundaries import county_outline, list_counties  # noqa: PLC0415

    first = table.drop_duplicates("county_code").set_index("county_code")
    provinces = sorted({str(c)[:2] for c in first.index})
    counties = list_counties()
    codes = [c for c in counties["code"] if c[:2] in provinces]
    fig, ax = plt.subplots(figsize=(7.0, 7.0))
    lat = []
    for code in codes:
        geom = shapely.simplify(county_outline(code), 0.004)
        colour = BALANCE_STATUS.get(str(first.loc[code, "balance_status"]), OUTSIDE_COLOUR) if code in first.index else OUTSIDE_COLOUR
        for poly in getattr(geom, "geoms", [geom]):
            if poly.geom_type != "Polygon":
                continue
            x, y = poly.exterior.xy
            ax.fill(x, y, facecolor=colour, edgecolor="white", linewidth=0.4)
        lat.append(geom.centroid.y)
        if code in first.index and len(first) <= MAX_LABELLED // 2:
            p = geom.representative_point()
            ax.annotate(str(first.loc[code, "county_name"]), (p.x, p.y), ha="center", va="center", fontsize=6)
    ax.set_aspect(1.0 / math.cos(math.radians(sum(lat) / max(1, len(lat)))))
    ax.set_axis_off()
    handles = [Patch(facecolor=c, label=s) for s, c in BALANCE_STATUS.items()] + [Patch(facecolor=OUTSIDE_COLOUR, label="不在本批 not swept")]
    ax.legend(handles=handles, loc="lower left", fontsize=8, frameon=False)
    names = sorted(set(counties.loc[counties["code"].str[:2].isin(provinces), "province"]))
    ax.set_title(f"{'、'.join(n for n in names if n)} 各县义务教育均衡状态 (balance status by county)")
    return _svg(fig)


# --------------------------------------------------------------------------- the page


_CSS = """
body { font: 14px/1.5 "Microsoft YaHei","PingFang SC","Noto Sans CJK SC","Helvetica Neue",Arial,sans-serif; margin: 24px; color: #1a1a1a; }
table { border-collapse: collapse; font-size: 12px; } th, td { border: 1px solid #ccc; padding: 2px 6px; text-align: right; }
th { background: #f3f3f3; } td.t { text-align: left; } .charts svg { max-width: 100%; height: auto; margin: 8px 0; }
.status { display: inline-block; width: 10px; height: 10px; margin-right: 4px; }
"""


def _html_table(table: pd.DataFrame) -> str:
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in table.columns)
    body = []
    for row in table.itertuples(index=False):
        cells = []
        for column, value in zip(table.columns, row):
            text = "" if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA else value
            if isinstance(text, float):
                text = f"{text:,.1f}"
            style = ""
            if column == "status":
                style = f'<span class="status" style="background:{STATUS_COLOUR.get(str(value), "#999")}"></span>'
            cls = ' class="t"' if isinstance(value, str) else ""
            cells.append(f"<td{cls}>{style}{html.escape(str(text))}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def summary_html(plan: SweepPlan, table: pd.DataFrame) -> str:
    """The page: counts by status, the province map (county sweeps), the comparison charts, the table."""
    import matplotlib as mpl  # noqa: PLC0415

    mpl.use("Agg")
    counts = table["status"].value_counts()
    line = ", ".join(f"{n} {s}" for s, n in counts.items())
    with mpl.rc_context(cast(Any, _rc())), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Glyph .* missing from font")  # a machine without any CJK font
        figures = [svg for svg in (province_map(table), *_charts(table)) if svg is not None]
    parts = [
        "<!DOCTYPE html>",
        '<html lang="zh-CN"><head><meta charset="utf-8">',
        f"<title>方案比较 Sweep summary: {html.escape(plan.path.name)}</title><style>{_CSS}</style></head><body>",
        f"<h1>方案比较 Sweep summary — {html.escape(plan.path.name)}</h1>",
        f"<p>{len(table)} runs: {html.escape(line)}. Each run's plan, maps and report are in <code>runs/&lt;run id&gt;/</code>; "
        "the figures below are in <code>summary.csv</code>.</p>",
        '<div class="charts">',
        *figures,
        "</div>",
        "<h2>Runs</h2>",
        _html_table(table),
        "</body></html>",
    ]
    return "\n".join(parts) + "\n"


def summary_files(plan: SweepPlan, outcomes: Mapping[str, RunOutcome], runs_dir: Path) -> dict[str, Any]:
    """``summary.csv`` and ``summary.html`` of the runs finished (file name → payload)."""
    table = summary_table(plan, outcomes, runs_dir)
    return {"summary.csv": table, "summary.html": summary_html(plan, table)}
