"""The projection stage in the report: children of school age in the county by year (primary and junior),
and where the births series comes from."""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from maps import charts
from maps.common import ReportParams, StageRenderer, school_names, stage_frame, stage_path, stage_sheets
from maps.labels import Language
from maps.stages.layout import sheet
from maps.tables import bullets, heading, pick, table_html, text
from planning.app.stage import RunResult

STAGE = "projection"
#: Files of the projection stage read here, relative to its output folder.
COUNTY = "county.csv"
UNITS = "units.csv"
SCHOOLS = "schools.csv"
BACKTEST = "backtest.csv"

HEADING = ("学龄人口预测", "School-age projection")

#: The projection's ``births_source`` → the sentence that says where the births come from.
_BIRTHS: Mapping[str, str] = {"county": "county", "assumed": "assumed", "national, scaled": "national"}
_SCENARIO: Mapping[str, tuple[str, str]] = {"low": ("低", "low"), "mid": ("中", "mid"), "high": ("高", "high")}
_TEXT: Mapping[str, tuple[str, str]] = {
    "chart": ("全县学龄人口（人）", "Children of school age in the county"),
    "primary": ("小学（6–11 岁）", "Primary (ages 6–11)"),
    "junior": ("初中（12–14 岁）", "Junior (ages 12–14)"),
    "year": ("年份", "Year"),
    "births": ("出生人口", "Births"),
    "national": (
        "出生人口按全国出生人口（国家统计局，2016 年 1786 万、2023 年 902 万、2024 年 954 万）按本县小学适龄人口折算；之后按{scenario}方案。",
        "Births: China's (National Bureau of Statistics: 17.86 M in 2016, 9.02 M in 2023, 9.54 M in 2024) scaled to the county's primary-age "
        "children; later years follow the {scenario} scenario.",
    ),
    "county": ("出生人口采用用户提供的本县数据（场景文件 [projection] births）；之后按{scenario}方案。",
               "Births: the county's own figures, as given in the scenario ([projection] births); later years follow the {scenario} scenario."),
    "assumed": (
        "出生人口为场景文件给出的假设序列，不是本县统计数据{demo}；请以本县出生数据替换（[projection] births，births_basis = \"county data\"）。",
        "Births: an assumed series given in the scenario, not the county's figures{demo}; replace it with the county's own births "
        "([projection] births, births_basis = \"county data\").",
    ),
    "demo": ("（演示县：全国出生人口按本县小学适龄人口折算，乡村儿童比例越高下降越快；{y0}–{y1} 年平均每年 {rate:+.1%}）",
             " (the demo county's: China's births scaled to its primary-age children, falling faster the larger its rural share; "
             "{rate:+.1%} a year on average {y0}–{y1})"),
    "trend": ("小学适龄人口由 {y0} 年的 {p0:,} 人变为 {y1} 年的 {p1:,} 人（{chg:+.0%}），初中由 {j0:,} 人变为 {j1:,} 人（{jchg:+.0%}）。",
              "Primary-age children go from {p0:,} in {y0} to {p1:,} in {y1} ({chg:+.0%}); junior from {j0:,} to {j1:,} ({jchg:+.0%})."),
    "backtest": (
        "回测：从 {y0} 年的回推数据预测 {k} 年至 {y1} 年，与现状相比，全县小学 {cp:+.1%}、初中 {cj:+.1%}；"
        "各居住区加权绝对误差小学 {up:.1%}、初中 {uj:.1%}"
        "（回推数据由现状年龄结构倒推，检验的是方法——出生分配与乡村人口迁移——而非数据；见 {file}）。",
        "Back-test: projected {k} years from a back-cast of {y0} to {y1} and compared with today: county primary {cp:+.1%}, junior {cj:+.1%}; "
        "units off by {up:.1%} (primary) and {uj:.1%} (junior), weighted (the back-cast is today's ages made younger, so this tests the "
        "method — placing births, the rural shift — not the data; {file}).",
    ),
    "per_school": ("按现行学区，各校每年生源见 {file}。", "Each school's children under today's zones, by year: {file}."),
}


def _t(key: str, lang: Language, **fmt: object) -> str:
    return text(_TEXT, key, lang, **fmt)


def _demo_births(county: pd.DataFrame, lang: Language) -> str:
    """How the demo county's births were made, with their mean yearly change over the projected years (the demo's
    series falls by the national assumption and its rural drift together: ``geo.demo.county_births``)."""
    first, last = float(county["births"].iloc[0]), float(county["births"].iloc[-1])
    span = len(county) - 1
    rate = (last / first) ** (1 / span) - 1 if span > 0 and first > 0 else 0.0
    return _t("demo", lang, y0=int(county["year"].iloc[0]), y1=int(county["year"].iloc[-1]), rate=rate)


def section(run: RunResult, params: ReportParams) -> str:
    """Projected enrolment by year: a chart, the table and the births' source."""
    lang = params.language
    county = stage_frame(run, STAGE, COUNTY)
    if county is None or county.empty:
        return ""
    out = run.outputs.get(STAGE)
    metrics = out.metrics if out is not None else {}
    first, last = county.iloc[0], county.iloc[-1]
    scenario = pick(_SCENARIO[str(getattr(run.scenario.stages.get(STAGE), "scenario", "mid"))], lang)
    points = [
        _t("trend", lang, y0=int(first["year"]), y1=int(last["year"]), p0=int(first["primary"]), p1=int(last["primary"]),
           j0=int(first["junior"]), j1=int(last["junior"]), chg=int(last["primary"]) / max(int(first["primary"]), 1) - 1,
           jchg=int(last["junior"]) / max(int(first["junior"]), 1) - 1),
        _t(_BIRTHS.get(str(metrics.get("births_source")), "national"), lang, scenario=scenario,
           demo=_demo_births(county, lang) if run.scenario.name.startswith("demo") else ""),
        _t("per_school", lang, file=stage_path(STAGE, SCHOOLS)),
    ]
    back = stage_frame(run, STAGE, BACKTEST)
    if back is not None and len(back) == 2:
        row = back.set_index("level")
        k, y1 = int(row["years"].iloc[0]), int(first["year"])
        points.append(_t("backtest", lang, k=k, y0=y1 - k, y1=y1, cp=float(row.loc["primary", "county_error"]),
                         cj=float(row.loc["junior", "county_error"]), up=float(row.loc["primary", "unit_error"]),
                         uj=float(row.loc["junior", "unit_error"]), file=stage_path(STAGE, BACKTEST)))
    chart = charts.paired_bar_chart(
        [str(y) for y in county["year"]], county["primary"].tolist(), county["junior"].tolist(),
        title=_t("chart", lang), names=(_t("primary", lang), _t("junior", lang)),
    )
    shown = pd.DataFrame({
        _t("year", lang): county["year"].astype(str), _t("births", lang): county["births"],
        _t("primary", lang): county["primary"], _t("junior", lang): county["junior"],
    })  # fmt: skip
    table = table_html(shown, lang=lang, file=stage_path(STAGE, COUNTY))
    return heading(STAGE, HEADING, lang) + bullets(points) + f"<figure>{chart}</figure>" + table


#: Headers of the projection files' columns in the workbook.
SHEET_COLUMNS: Mapping[str, tuple[str, str]] = {
    "year": ("年份", "Year"), "births": ("出生人口", "Births"), "primary": ("小学适龄儿童", "Primary-age children"),
    "junior": ("初中适龄儿童", "Junior-age children"),
}  # fmt: skip


def tables(run: RunResult, params: ReportParams) -> dict[str, pd.DataFrame]:
    """The county by year, units and schools by year (sheet name → table)."""
    zh = params.language == "zh"
    files = (
        (COUNTY, "学龄人口预测", "projection county"), (SCHOOLS, "各校生源预测", "projection schools"), (UNITS, "各居住区预测", "projection units"),
    )
    names = school_names(run)
    return {k: sheet(v, params.language, names, SHEET_COLUMNS) for k, v in stage_sheets(run, STAGE, files, zh=zh).items()}


RENDERER = StageRenderer(stage=STAGE, heading=HEADING, section=section, tables=tables)
