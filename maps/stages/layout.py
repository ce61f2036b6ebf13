"""The layout stage in the report: the decisions, each merger explained (which children go where, how far,
boarding or by bus — the evidence a hearing 听证 needs), and the costs by kind."""

from __future__ import annotations

import re
from collections.abc import Mapping

import folium
import geopandas as gpd
import pandas as pd
import shapely

from geo.policy import DAY_MAX_ONE_WAY_S
from maps.common import MapContext, MapLayer, ReportParams, StageRenderer, school_names, stage_frame, stage_mapping, stage_path, stage_sheets
from maps.i18n import display_table
from maps.labels import Language
from maps.layers import add_layer, as_ids, school_xy
from maps.legend import Item, legend_of
from maps.money import yuan
from maps.stages.rotation import _arc, _arrowhead
from maps.tables import bullets, esc, heading, table_html, text
from planning.app import stage as app_stage
from planning.app.stage import RunResult
from planning.layout import GROUPS, LayoutOptions
from planning.layout.worth import WHY_EXPAND, WHY_NEW_CHEAPER, WHY_NEW_NEEDED

STAGE = "layout"
#: Files of the layout stage read here, relative to its output folder.
DECISIONS = "decisions.csv"
ASSIGNMENT = "assignment.csv"
COSTS = "costs.csv"
METRICS = "metrics.json"

HEADING = ("学校布局规划", "School layout")

_DECISION: Mapping[str, tuple[str, str]] = {
    "keep": ("保留", "keep"), "expand": ("扩建", "expand"), "shrink": ("缩减班级", "shrink"), "merge": ("撤并", "merge"),
    "close": ("停办", "close"), "new": ("新建", "new"), "not built": ("不建", "not built"),
}  # fmt: skip
_COST: Mapping[str, tuple[str, str]] = {
    "construction": ("新建校舍（一次性）", "construction (one-off)"), "schools": ("学校运行", "running schools"),
    "classes": ("班级（教师）", "classes (teachers)"), "bus": ("校车", "school buses"),
    "boarding": ("寄宿（生活补助、生活管理与宿舍）", "boarding (allowances, care and dormitory)"), "travel": ("上学路途时间", "travel time"),
}  # fmt: skip
_TEXT: Mapping[str, tuple[str, str]] = {
    "decisions": ("{year} 年布局：{list}。", "Layout for {year}: {list}."),
    "decisions_today": ("按现状生源的布局：{list}。", "Layout for today's children: {list}."),
    "children": ("寄宿 {b:,} 人，乘校车 {bus:,} 人；{beyond:,} 名儿童在政策距离内无校可上，安排到最近的学校。",
                 "{b:,} children board, {bus:,} ride a school bus; {beyond:,} have no school within the policy limits and go to the nearest."),
    "children_within": ("寄宿 {b:,} 人，乘校车 {bus:,} 人；每名儿童都在政策距离内有校可上。",
                        "{b:,} children board, {bus:,} ride a school bus; every child has a school within the policy limits."),
    "cost": ("{h} 年总费用 {total}（其中新建、扩建校舍 {built}），下界 {bound}。",
             "Cost over {h} years {total} (construction {built}), lower bound {bound}."),
    "mergers": ("撤并与停办说明", "Each merger and closure"),
    "merge_line": ("{school}撤并入{into}：{n:,} 名儿童（{units} 个居住区），{dests}；寄宿 {b:,} 人，乘校车 {bus:,} 人。",
                   "{school} merges into {into}: {n:,} children from {units} units, {dests}; {b:,} board, {bus:,} by school bus."),
    "dest": ("{n:,} 人到{into}（最远 {far:.0f} 分钟）", "{n:,} to {into} (at most {far:.0f} min away)"),
    "new_sites": ("新建学校与候选校址", "New schools and candidate sites"),
    "new_line": ("{school}：新建 {cp} 个小学班、{cj} 个初中班，接收 {n:,} 名儿童（{units} 个居住区，最远 {far:.0f} 分钟），"
                 "建设费用 {cost}。",
                 "{school}: built with {cp} primary and {cj} junior classes for {n:,} children from {units} units (at most {far:.0f} min "
                 "away); construction {cost}."),
    "not_built": ("候选校址未新建：{sites}（扩建现有学校或就近安排更省）。",
                  "Candidate sites not built: {sites} (expanding today's schools or placing the children nearby costs less)."),
    "unserved": ("{n:,} 名儿童到不了任何本学段学校（路网不通或超出搜索范围），本方案未安排，列入未达标清单（{file}）。",
                 "{n:,} children have no road to any school of their level (a road network apart, or beyond the search); the plan "
                 "does not place them and lists them as shortfalls ({file})."),
    "close_line": ("{school}停办：规划年份没有儿童以它为现就读学校。", "{school} closes: no child counts it as their school today in the plan year."),
    "table": ("各校决定", "Decision per school"),
    "costs": ("费用构成（元）", "Costs by kind (yuan)"),
    "kind": ("类别", "Kind"),
    "per_year": ("每年", "Per year"),
    "total": ("规划期合计", "Over the horizon"),
    "trips": ("最远单程：{list}。", "Longest one-way trips: {list}."),
    "trip_board": ("寄宿生 {v:.0f} 分钟", "boarders {v:.0f} min"),
    "trip_day": ("一至三年级走读 {v:.0f} 分钟", "grades 1–3 by day {v:.0f} min"),
    "trip_merged": ("被撤并学校的学生 {v:.0f} 分钟", "children of a merged school {v:.0f} min"),
    "closed": ("撤并 {closed:.0%} 的学校（上限 {cap:.0%}）。", "{closed:.0%} of the schools close (at most {cap:.0%})."),
    "rules": ("撤并规则：{merge}；{town}；{size}；一至三年级走读单程不超过 {day:.0f} 分钟，寄宿生单程不超过 {board:.0f} 分钟；"
              "撤并一所学校，须使其学生仍在政策时限内有校可上（国办发〔2012〕48号）。",
              "Merge rules: {merge}; {town}; {size}; grades 1–3 travel ≤ {day:.0f} min by day, boarders travel ≤ {board:.0f} min; a "
              "school closes only where its children keep a school within the limits (国办发〔2012〕48号)."),
    "rule_up": ("只并入更高类型或同类中规模不小于本校的学校，不并入教学点",
                "a school merges only into a school of a higher kind, or of its kind and at least its size, never into a teaching point"),
    "rule_any": ("可并入政策时限内的任何学校", "a school may merge into any school within the limits"),
    "rule_town_kept": ("乡镇和县城学校保留", "township and county-seat schools stay"),
    "rule_town_open": ("乡镇和县城学校也可撤并", "township and county-seat schools may close too"),
    "rule_size": ("在校生 {n:,} 人及以上的学校保留", "schools of {n:,}+ pupils stay"),
    "rule_none": ("现有学校一律保留（不撤并）", "no school closes"),
    "hearing": ("撤并农村学校须听取家长意见并举行听证（国办发〔2012〕48号）；"
                "一至三年级不寄宿、单程不超过 {policy:.0f} 分钟（国办发〔2018〕27号）{own}。",
                "Closing a rural school needs the parents' consultation and a hearing (国办发〔2012〕48号); grades 1–3 do not board and "
                "travel ≤ {policy:.0f} minutes (国办发〔2018〕27号){own}."),
    "hearing_own": ("，本方案按 {day:.0f} 分钟规划", "; this plan allows {day:.0f} minutes"),
}


def _t(key: str, lang: Language, **fmt: object) -> str:
    return text(_TEXT, key, lang, **fmt)


def run_options(run: RunResult) -> LayoutOptions:
    """The layout options the run was made with (its ``[layout]`` settings; the defaults where the stage has none)."""
    got = run.scenario.stages.get(STAGE)
    return got if isinstance(got, LayoutOptions) else LayoutOptions()


def rules_text(options: LayoutOptions, lang: Language) -> str:
    """The merge rules and travel limits of the run, as its options set them."""
    size = _t("rule_size", lang, n=options.close_below_pupils) if options.close_below_pupils > 0 else _t("rule_none", lang)
    return _t("rules", lang, merge=_t("rule_up" if options.merge_rule == "up" else "rule_any", lang),
              town=_t("rule_town_open" if options.close_town_and_urban else "rule_town_kept", lang), size=size,
              day=options.day_max_s / 60, board=options.boarding_max_s / 60)


def hearing_text(options: LayoutOptions, lang: Language) -> str:
    """The hearing and the 27号 limit, with the run's own day limit where it differs."""
    policy = DAY_MAX_ONE_WAY_S / 60
    own = _t("hearing_own", lang, day=options.day_max_s / 60) if round(options.day_max_s) != DAY_MAX_ONE_WAY_S else ""
    return _t("hearing", lang, policy=policy, own=own)


def trips_text(m: Mapping[str, object], asg: pd.DataFrame, dec: pd.DataFrame, lang: Language, cap: float) -> str:
    """The longest one-way trips, a clause only for the children there are (boarders, grades 1–3 by day, children of
    merged schools, within the limits), and the share of schools that close."""
    within = asg[~asg["beyond_limit"].astype(bool)] if "beyond_limit" in asg.columns else asg
    merged = set(dec.loc[dec["decision"].isin(["merge", "close"]), "school_id"].astype(str))
    has = {
        "trip_board": int(within.loc[within["boarder"].astype(bool), "children"].sum()),
        "trip_day": int(within.loc[(within["grades"] == GROUPS[0]) & ~within["boarder"].astype(bool), "children"].sum()),
        "trip_merged": int(within.loc[within["today_school_id"].astype(str).isin(merged), "children"].sum()),
    }
    keys = {"trip_board": "longest_boarder_min", "trip_day": "longest_day_grades_1_3_min", "trip_merged": "longest_merged_child_min"}
    parts = [_t(k, lang, v=float(m.get(keys[k], 0) or 0)) for k, n in has.items() if n > 0]  # type: ignore[arg-type]
    closed = _t("closed", lang, closed=float(m.get("closed_share", 0) or 0), cap=cap)  # type: ignore[arg-type]
    if not parts:
        return closed
    return _t("trips", lang, list=("，" if lang == "zh" else ", ").join(parts)) + ("" if lang == "zh" else " ") + closed


def _new_sites(dec: pd.DataFrame, asg: pd.DataFrame, names: Mapping[str, str], lang: Language) -> list[str]:
    """One sentence per new school (who goes there, how far, what it costs) and one for the candidate sites not built."""
    lines = []
    for row in dec[dec["decision"] == "new"].itertuples():
        mine = asg[asg["school_id"].astype(str) == str(row.school_id)]
        name = names.get(str(row.school_id), str(getattr(row, "name", row.school_id)))
        lines.append(_t(
            "new_line", lang, school=name, cp=int(row.classes_primary_after), cj=int(row.classes_junior_after), n=int(mine["children"].sum()),
            units=mine["block_id"].nunique(), far=float(mine["travel_min"].max()) if len(mine) else 0.0,
            cost=yuan(float(row.construction_yuan), lang),
        ))  # fmt: skip
    idle = dec[dec["decision"] == "not built"]
    if len(idle):
        sep = "、" if lang == "zh" else ", "
        lines.append(_t("not_built", lang, sites=sep.join(str(getattr(r, "name", r.school_id)) for r in idle.itertuples())))
    return lines


def _mergers(dec: pd.DataFrame, asg: pd.DataFrame, names: Mapping[str, str], lang: Language) -> list[str]:
    """One sentence per merged school: how many of its children go to each school, how far, boarding or by bus; one
    per closed school."""
    lines = []
    moved = moved_children(dec, asg, names)
    sep = "、" if lang == "zh" else ", "
    for row in dec[dec["decision"] == "merge"].itertuples():
        school = names.get(str(row.school_id), str(row.school_id))
        mine = moved[moved["school_id"] == str(row.school_id)].sort_values("children", ascending=False, kind="stable")
        if mine.empty:
            continue
        into = names.get(str(row.merged_into), str(row.merged_into))
        dests = sep.join(_t("dest", lang, n=int(r.children), into=r.into, far=float(r.far_min)) for r in mine.itertuples())
        units = int(asg.loc[asg["today_school_id"].astype(str) == str(row.school_id), "block_id"].nunique())
        lines.append(_t("merge_line", lang, school=school, into=into, n=int(mine["children"].sum()), units=units,
                        dests=dests, b=int(mine["boarders"].sum()), bus=int(mine["bus"].sum())))
    lines += [_t("close_line", lang, school=names.get(str(r.school_id), str(r.school_id))) for r in dec[dec["decision"] == "close"].itertuples()]
    return lines


def moved_children(dec: pd.DataFrame, asg: pd.DataFrame, names: Mapping[str, str]) -> pd.DataFrame:
    """One row per merged school and receiving school: ``school_id, school, into, children, units, far_min, boarders, bus``
    (the children of the merged school going there, their longest one-way trip, how many board, how many ride a bus)."""
    rows = []
    for row in dec[dec["decision"] == "merge"].itertuples():
        mine = asg[asg["today_school_id"].astype(str) == str(row.school_id)]
        for into, part in mine.groupby(mine["school_id"].astype(str), sort=False):
            rows.append({
                "school_id": str(row.school_id), "school": names.get(str(row.school_id), str(row.school_id)), "into": names.get(str(into), str(into)),
                "children": int(part["children"].sum()), "units": part["block_id"].nunique(), "far_min": float(part["travel_min"].max()),
                "boarders": int(part.loc[part["boarder"].astype(bool), "children"].sum()),
                "bus": int(part.loc[part["bus"].astype(bool), "children"].sum()),
            })  # fmt: skip
    return pd.DataFrame(rows, columns=["school_id", "school", "into", "children", "units", "far_min", "boarders", "bus"])


#: The layout model's reasons (planning.layout.model), in the report's language.
_REASON: Mapping[str, tuple[str, str]] = {
    "kept by the bureau": ("教育局确定保留", "kept by the bureau"),
    "teaching point: the only school within the day limit for some children of grades 1-3": (
        "教学点：部分一至三年级儿童走读时限内唯一的学校，保留",
        "teaching point: the only school within the day limit for some children of grades 1-3",
    ),
    "township or county-seat school: kept (close_town_and_urban = false)": (
        "乡镇或县城学校，保留", "township or county-seat school: kept",
    ),
    "not a small school (close_below_pupils): kept": (
        "非乡村小规模学校（在校生 100 人及以上），保留", "not a small school (100 pupils or more today): kept",
    ),
}
#: The reasons with figures (a new school, an expansion: planning.layout.worth): pattern, Chinese, English.
_REASONS_WITH_FIGURES: tuple[tuple[re.Pattern[str], str, str], ...] = tuple(
    (re.compile(re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>-?\\d+)", re.escape(why))), zh, en)
    for why, zh, en in (
        (WHY_NEW_CHEAPER, "新建，接收 {n:,} 名儿童：不建则规划期 {years} 年总费用多 {more}",
         "new school for {n:,} children: without it the plan costs {more} more over {years} years"),
        (WHY_NEW_NEEDED, "新建，接收 {n:,} 名儿童：政策时限内的学校容纳不下他们",
         "new school for {n:,} children: the schools within the limits have no room for them"),
        (WHY_EXPAND, "扩建 {k} 个班，规划在校生 {n:,} 人（现有 {now:,} 人）", "expanded by {k} classes for {n:,} pupils planned ({now:,} today)"),
    )
)


def reason_text(reason: str, lang: Language) -> str:
    """A decision's reason (``decisions.csv``) in the report's language, money in its unit (:func:`maps.money.yuan`)."""
    pick = 0 if lang == "zh" else 1
    for pattern, zh, en in _REASONS_WITH_FIGURES:
        hit = pattern.fullmatch(reason)
        if hit:
            got: dict[str, object] = {k: int(v) for k, v in hit.groupdict().items()}
            if "more" in got:
                got["more"] = yuan(float(got["more"]), lang)  # type: ignore[arg-type]
            return (zh if pick == 0 else en).format(**got)
    return _REASON.get(reason, (reason, reason))[pick]


_COLUMNS: Mapping[str, tuple[str, str]] = {
    "name": ("学校", "School"), "decision": ("决定", "Decision"),
    "classes_primary_before": ("小学班数（现）", "Primary classes now"), "classes_primary_after": ("小学班数（规划）", "Primary classes planned"),
    "classes_junior_before": ("初中班数（现）", "Junior classes now"), "classes_junior_after": ("初中班数（规划）", "Junior classes planned"),
    "merged_into": ("并入", "Merged into"), "year": ("年份", "Year"), "construction_yuan": ("新建费用（元）", "Construction (yuan)"),
    "reason": ("说明", "Note"),
}  # fmt: skip


def _decision_table(dec: pd.DataFrame, names: Mapping[str, str], lang: Language) -> pd.DataFrame:
    """The decisions by school name, changes first, with display headers."""
    pick = 0 if lang == "zh" else 1
    shown = dec.copy()
    shown["name"] = [names.get(str(s), str(n)) for s, n in zip(shown["school_id"], shown.get("name", shown["school_id"]))]
    shown["decision"] = [_DECISION.get(str(d), (str(d), str(d)))[pick] for d in shown["decision"]]
    shown["year"] = shown["year"].astype(str)
    shown["reason"] = [reason_text(r, lang) if isinstance(r, str) else "" for r in shown["reason"]]
    shown["merged_into"] = [names.get(str(x), "") if isinstance(x, str) and x else "" for x in shown["merged_into"]]
    changed = shown["decision"] != _DECISION["keep"][pick]
    shown = pd.concat([shown[changed], shown[~changed]])
    cols = [c for c in _COLUMNS if c in shown.columns]
    return shown[cols].rename(columns={c: _COLUMNS[c][pick] for c in cols})


def section(run: RunResult, params: ReportParams) -> str:
    """Decisions, each merger explained, and the costs."""
    lang = params.language
    dec, asg, costs = (stage_frame(run, STAGE, f) for f in (DECISIONS, ASSIGNMENT, COSTS))
    m = stage_mapping(run, STAGE, METRICS)
    if dec is None or asg is None or costs is None or m is None:
        return ""
    pick = 0 if lang == "zh" else 1
    counts = "，".join if lang == "zh" else ", ".join
    listed = counts(f"{_DECISION[k][pick]} {v}" for k, v in dict(m.get("decisions", {})).items())
    c = dict(m.get("costs_yuan", {}))
    options = run_options(run)
    h = options.horizon_years
    beyond = sum(int(v) for v in dict(m.get("beyond_limits_children", {})).values())
    short = stage_path(STAGE, app_stage.SHORTFALLS_FILE)
    points = [
        _t("decisions" if m.get("year") else "decisions_today", lang, year=m.get("year"), list=listed),
        _t("children" if beyond else "children_within", lang, b=int(m.get("boarders", 0)), bus=int(m.get("bus_riders", 0)), beyond=beyond),
        *([_t("unserved", lang, n=int(m["unserved_children"]), file=short)] if m.get("unserved_children") else []),
        _t("cost", lang, h=h, total=yuan(float(m.get("objective_yuan", 0)), lang), built=yuan(float(c.get("construction", 0)), lang),
           bound=yuan(float(m.get("bound_yuan", 0)), lang)),
        trips_text(m, asg, dec, lang, options.max_close_share),
        rules_text(options, lang),
        hearing_text(options, lang),
    ]
    names = school_names(run)
    parts = [heading(STAGE, HEADING, lang), bullets(points)]
    merges = _mergers(dec, asg, names, lang)
    if merges:
        parts.append(f"<h3>{_t('mergers', lang)}</h3>" + bullets(merges))
    built = _new_sites(dec, asg, names, lang)
    if built:
        parts.append(f"<h3>{_t('new_sites', lang)}</h3>" + bullets(built))
    shown = _decision_table(dec, names, lang)
    parts.append(f"<h3>{_t('table', lang)}</h3>" + table_html(shown, lang=lang, file=stage_path(STAGE, DECISIONS)))
    kinds = pd.DataFrame({
        _t("kind", lang): [_COST.get(str(k), (str(k), str(k)))[pick] for k in costs["kind"]],
        _t("per_year", lang): costs["yuan_per_year"], _t("total", lang): costs["yuan_total"],
    })  # fmt: skip
    parts.append(f"<h3>{_t('costs', lang)}</h3>" + table_html(kinds, lang=lang, file=stage_path(STAGE, COSTS)))
    return "".join(parts)


#: Colour of each decision on the map.
DECISION_COLOURS: Mapping[str, str] = {
    "keep": "#9e9e9e", "expand": "#1a9850", "shrink": "#fdae61", "merge": "#d73027", "close": "#000000", "new": "#2166ac",
}  # fmt: skip
LABELS: Mapping[str, tuple[str, str]] = {
    "layout": ("学校布局", "School layout"),
    "layout_arrow": ("箭头：撤并学校 → 接收学校", "Arrows: merged school → receiving school"),
    "new_site": ("新建学校（候选校址）", "new school (candidate site)"),
    "site_not_built": ("候选校址（不建）", "candidate site, not built"),
}


def _site_xy(dec: pd.DataFrame, ctx: MapContext) -> dict[str, tuple[float, float]]:
    """Candidate sites of the plan (rows of ``decisions.csv`` that are not schools) → map position, from its lon/lat."""
    if not {"lon", "lat"} <= set(dec.columns):
        return {}
    known = set(as_ids(ctx.run.inputs.schools["school_id"]))
    sites = dec[~as_ids(dec["school_id"]).isin(known)].dropna(subset=["lon", "lat"])
    if sites.empty:
        return {}
    frame = gpd.GeoDataFrame({"school_id": as_ids(sites["school_id"]).to_numpy()},
                             geometry=gpd.points_from_xy(sites["lon"], sites["lat"]), crs="EPSG:4326")
    return school_xy(frame, ctx.display)


def _draw_layout(m: folium.Map, ctx: MapContext) -> None:
    """Schools coloured by decision, an arrow from each merged school to the school taking most of its children."""
    dec = stage_frame(ctx.run, STAGE, DECISIONS)
    if dec is None or dec.empty:
        return
    lang = ctx.display.language
    pick = 0 if lang == "zh" else 1
    xy = school_xy(ctx.run.inputs.schools, ctx.display) | _site_xy(dec, ctx)
    geoms: list[shapely.Geometry] = []
    props: list[dict[str, object]] = []
    for row in dec.itertuples():
        sid, kind = str(row.school_id), str(row.decision)
        if sid not in xy:
            continue
        own = str(getattr(row, "name", sid))  # a candidate site's name is only in decisions.csv
        tip = (f"<b>{esc(ctx.names.get(sid, own))}</b>: {esc(_DECISION.get(kind, (kind, kind))[pick])}<br>"
               f"{row.classes_primary_before}+{row.classes_junior_before} → {row.classes_primary_after}+{row.classes_junior_after}")
        into = as_ids(pd.Series([row.merged_into])).iloc[0]
        if kind == "merge" and into in xy:
            tip += f" → {esc(ctx.names.get(into, into))}"
            geoms += [_arc(xy[sid], xy[into], bend=0.12), _arrowhead(xy[sid], xy[into], bend=0.12)]
            props += [{"c": DECISION_COLOURS["merge"], "w": 2.0, "t": tip}, {"c": DECISION_COLOURS["merge"], "w": 1, "t": tip}]
        geoms.append(shapely.Point(xy[sid]))
        if kind == "not built":  # a candidate site the plan does not build: an open ring
            props.append({"c": DECISION_COLOURS["new"], "f": "#ffffff", "r": 7, "w": 2.5, "t": tip})
        else:
            props.append({"f": DECISION_COLOURS.get(kind, "#777777"), "r": 9 if kind == "new" else 6, "t": tip})
    name = LABELS["layout"][pick]
    if add_layer(m, name, geoms, props, base={"color": "#ffffff", "weight": 1.5, "fillOpacity": 0.95, "opacity": 0.85}) is not None:
        present = [k for k in DECISION_COLOURS if (dec["decision"] == k).any()]
        items: list[Item] = [("dot", DECISION_COLOURS[k], LABELS["new_site"][pick] if k == "new" else _DECISION[k][pick], 9 if k == "new" else 6)
                             for k in present]
        arrow: list[Item] = [("line", DECISION_COLOURS["merge"], LABELS["layout_arrow"][pick], 2.0)] if "merge" in present else []
        if (dec["decision"] == "not built").any():
            items.append(("ring", DECISION_COLOURS["new"], LABELS["site_not_built"][pick], 7))
        legend_of(m).section(name, [*items, *arrow])


#: Headers of the layout files' own columns in the workbook (the shared ones come from :func:`maps.i18n.display_table`).
SHEET_COLUMNS: Mapping[str, tuple[str, str]] = {
    **_COLUMNS, "grades": ("年级", "Grades"), "children": ("儿童数", "Children"), "today_school_id": ("现就读学校代码", "School today"),
    "travel_min": ("单程（分钟）", "One way (min)"), "boarder": ("寄宿", "Boards"), "bus": ("乘校车", "School bus"),
    "beyond_limit": ("超出政策距离", "Beyond the limit"), "kind": ("类别", "Kind"), "yuan_per_year": ("每年（元）", "Per year (yuan)"),
    "yuan_total": ("规划期合计（元）", "Over the horizon (yuan)"), "lon": ("经度", "Longitude"), "lat": ("纬度", "Latitude"),
}  # fmt: skip


def sheet(frame: pd.DataFrame, lang: Language, names: Mapping[str, str], own: Mapping[str, tuple[str, str]]) -> pd.DataFrame:
    """A stage table for the workbook: school names beside codes, display headers."""
    pick = 0 if lang == "zh" else 1
    mine = {c: own[c][pick] for c in frame.columns if c in own and c != "name"}  # "name" beside school_id: display_table's
    return display_table(frame.rename(columns=mine), lang, names=names)


def tables(run: RunResult, params: ReportParams) -> dict[str, pd.DataFrame]:
    """Decisions, assignment and costs (sheet name → table)."""
    files = ((DECISIONS, "布局决定", "layout decisions"), (ASSIGNMENT, "布局分配", "layout assignment"), (COSTS, "布局费用", "layout costs"))
    names = school_names(run)
    pick = 0 if params.language == "zh" else 1
    sheets = stage_sheets(run, STAGE, files, zh=params.language == "zh")
    for frame in sheets.values():
        if "decision" in frame.columns:
            frame["decision"] = [_DECISION.get(str(d), (str(d), str(d)))[pick] for d in frame["decision"]]
        if "kind" in frame.columns:
            frame["kind"] = [_COST.get(str(k), (str(k), str(k)))[pick] for k in frame["kind"]]
    return {k: sheet(v, params.language, names, SHEET_COLUMNS) for k, v in sheets.items()}


RENDERER = StageRenderer(
    stage=STAGE, heading=HEADING, section=section, tables=tables,
    layers=(MapLayer("layout", 86, _draw_layout),), map_layers=("layout",),
)
