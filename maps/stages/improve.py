"""The improve stage in the report and on the map: the achievement plan (达标提升方案) — which schools get
what, why (the standards they fail today and meet after), its cost by measure, and each 优质均衡 CV before and
after. On the map, a circle at each school that gets measures, its size by cost, its tooltip the measures.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import folium
import pandas as pd
import shapely

from maps import charts
from maps.common import KeyPoints, MapContext, MapLayer, ReportParams, StageRenderer, stage_frame, stage_mapping, stage_path, stage_sheets
from maps.i18n import indicator_name
from maps.labels import Language, t
from maps.layers import add_layer, as_ids, esc, school_xy
from maps.legend import legend_of
from maps.tables import bullets, figures_table, heading, is_num, pick, table_html, text
from planning.app.stage import RunResult

STAGE = "improve"
#: Files of the improve stage read here, relative to its output folder.
MEASURES = "measures.csv"
SCHOOLS_IMPROVE = "schools_improve.csv"
METRICS = "metrics.json"

HEADING = ("达标提升方案", "Achievement plan (reaching 优质均衡)")
#: Colour of the measures on the map.
COLOUR = "#2e7d32"

#: Each measure: (Chinese, English) name and unit.
RESOURCES: Mapping[str, tuple[str, str, str, str]] = {
    "floor_area_m2": ("新建教学及辅助用房", "teaching and auxiliary floor area", "平方米", "m²"),
    "sports_area_m2": ("新建体育运动场地", "sports ground", "平方米", "m²"),
    "equipment_yuan": ("购置教学仪器设备", "teaching equipment", "元", "yuan"),
    "multimedia_rooms": ("建设网络多媒体教室", "networked multimedia classrooms", "间", "rooms"),
    "pe_art_teachers": ("补充体育艺术教师", "PE and art teachers hired", "人", "teachers"),
    "above_qualification_teachers": ("补充高于规定学历教师", "teachers above the required qualification hired", "人", "teachers"),
    "backbone_teachers": ("培养县级以上骨干教师", "backbone teachers trained", "人", "teachers"),
}

_TEXT: Mapping[str, tuple[str, str]] = {
    "kp_cost": (
        "达标提升方案共需投入 {cost} 万元（可证明的最低投入不少于 {bound} 万元，差距 {gap}），其中{parts}。",
        "The achievement plan costs {cost} 10k yuan (no plan can cost less than {bound} 10k yuan: gap {gap}): {parts}.",
    ),
    "kp_pass": ("实施后{levels}优质均衡各项差异系数全部达标，{n} 所学校达到“7 项指标至少 6 项达标、其余不低于 85%”的要求。",
                "After it, {levels}: every 优质均衡 CV within its threshold; {n} schools meet 6 of 7 standards (the 7th at ≥ 85%)."),
    "kp_fail": ("实施后仍未达标：{levels}（{n} 项目标受场地、编制、培养名额或预算所限未能达到，逐项见“未达成的政策目标”）。",
                "Still short after it: {levels} ({n} target(s) the sites, posts, training places or budget leave out of reach: "
                "see the targets not met)."),
    "kp_greedy": ("逐校补齐的做法需 {greedy} 万元，本方案节省 {saved} 万元。",
                  "Fixing school by school would cost {greedy} 10k yuan; this plan saves {saved} 10k yuan."),
    "kp_budget": (
        "预算上限 {budget} 万元低于全部达标所需的 {full} 万元：方案在预算内先使尽可能多的差异系数达标，再按学生数使尽可能多的学校达标；"
        "仍有 {cv} 项差异系数、{parts} 个学校（学段）未达标，全部达标尚需追加 {extra} 万元（见“未达成的政策目标”）。",
        "The budget ceiling of {budget} 10k yuan is below the {full} 10k yuan that meeting every target costs: within it the plan meets "
        "the most CVs first, then brings the most pupils' schools to standard; {cv} CV(s) and {parts} school part(s) are left, and "
        "meeting everything needs {extra} 10k yuan more (see the targets not met).",
    ),
    "by_resource": ("各类措施投入", "Cost by measure"),
    "by_year": ("分年度投入", "Cost by year"),
    "year_n": ("第 {y} 年", "Year {y}"),
    "measure": ("措施", "Measure"),
    "quantity": ("数量", "Quantity"),
    "cost": ("投入（万元）", "Cost (10k yuan)"),
    "cv": ("差异系数实施前后", "CV before and after the plan"),
    "indicator": ("指标", "Indicator"),
    "level": ("学段", "Level"),
    "threshold": ("标准", "Threshold"),
    "before": ("实施前", "Before"),
    "after": ("实施后", "After"),
    "schools": ("各校提升措施", "Measures school by school"),
    "school": ("学校", "School"),
    "measures": ("措施", "Measures"),
    "why": ("达标指标数（前 → 后）", "Standards met (before → after)"),
    "years": ("年度", "Year(s)"),
    "rotation_note": ("（实施前已计入本年度交流轮岗。）", "(Before = after this year's teacher rotation.)"),
    "bound": ("最低投入下界（元）", "Lower bound on the cost (yuan)"),
    "layer": ("达标提升措施", "Achievement measures"),
    "layer_size": ("圆圈大小 = 投入", "circle size = cost"),
}


def label(key: str, lang: Language, **fmt: object) -> str:
    return text(_TEXT, key, lang, **fmt)


def wan(yuan: object) -> str:
    return f"{float(yuan) / 1e4:,.0f}" if is_num(yuan) else "–"  # type: ignore[arg-type]


def resource_name(key: str, lang: Language) -> str:
    r = RESOURCES.get(key)
    return key if r is None else (r[0] if lang == "zh" else r[1])


def quantity_text(key: str, q: float, lang: Language) -> str:
    r = RESOURCES.get(key)
    unit = "" if r is None else (r[2] if lang == "zh" else r[3])
    return f"{q:,.0f} {unit}".strip()


def measures_by_school(measures: pd.DataFrame, lang: Language) -> pd.DataFrame:
    """One row per school: its measures in words, cost in 10k yuan, years (display headers)."""
    m = measures.assign(school_id=as_ids(measures["school_id"]), resource=as_ids(measures["resource"]))
    rows = []
    for (sid, name), part in m.groupby(["school_id", "name"], sort=True):
        per = part.groupby("resource", sort=True)["quantity"].sum()
        words = ("；" if lang == "zh" else "; ").join(f"{resource_name(r, lang)} {quantity_text(r, float(q), lang)}" for r, q in per.items())
        years = sorted({int(y) for y in part["year"]})
        rows.append((sid, name, words, float(part["cost_yuan"].sum()), "、".join(map(str, years))))
    out = pd.DataFrame(rows, columns=["school_id", "name", "measures", "cost", "years"])
    out = out.sort_values("cost", ascending=False, kind="stable")
    return pd.DataFrame({
        label("school", lang): out["name"].to_numpy(), label("measures", lang): out["measures"].to_numpy(),
        label("cost", lang): [wan(c) for c in out["cost"]], label("years", lang): out["years"].to_numpy(),
    })


def cv_frame(metrics: Mapping[str, object], lang: Language) -> pd.DataFrame:
    """Each level's 优质均衡 CVs before and after the plan, with the threshold (display headers)."""
    cv = metrics.get("cv")
    rows = []
    if isinstance(cv, Mapping):
        for lv in ("primary", "junior"):
            per = cv.get(lv)
            if not isinstance(per, Mapping):
                continue
            for ind, v in per.items():
                if isinstance(v, Mapping):
                    rows.append((t(lv, lang), indicator_name(str(ind), lang), v.get("threshold"), v.get("before"), v.get("after")))
    cols = [label(k, lang) for k in ("level", "indicator", "threshold", "before", "after")]
    frame = pd.DataFrame(rows, columns=cols)
    for c in cols[2:]:
        frame[c] = [round(float(x), 3) if is_num(x) else None for x in frame[c]]
    return frame


def key_points(run: RunResult, params: ReportParams) -> KeyPoints:
    """The plan's cost and bound, what it buys, whether each level passes after it, what it saves against school-by-school fixing."""
    lang = params.language
    m = stage_mapping(run, STAGE, METRICS)
    if m is None:
        return KeyPoints()
    by = m.get("cost_by_resource_yuan") if isinstance(m.get("cost_by_resource_yuan"), Mapping) else {}
    sep = "、" if lang == "zh" else "; "
    parts = sep.join(f"{resource_name(str(r), lang)} {wan(v)} 万元" if lang == "zh" else f"{resource_name(str(r), lang)} {wan(v)}"
                     for r, v in by.items() if is_num(v) and float(v) > 0)  # type: ignore[union-attr]
    gap = m.get("gap")
    points = [label("kp_cost", lang, cost=wan(m.get("total_cost_yuan")), bound=wan(m.get("bound_yuan")),
                 gap=f"{float(gap):.2%}" if is_num(gap) else "–", parts=parts or "–")]  # type: ignore[arg-type]
    passes = m.get("passes") if isinstance(m.get("passes"), Mapping) else {}
    ok = [t(lv, lang) for lv, v in passes.items() if v]  # type: ignore[union-attr]
    bad = [t(lv, lang) for lv, v in passes.items() if not v]  # type: ignore[union-attr]
    sch = stage_frame(run, STAGE, SCHOOLS_IMPROVE)
    n = int(sch["meets_after"].astype(str).str.lower().isin(["true", "1"]).sum()) if sch is not None and "meets_after" in sch else 0
    if ok:
        points.append(label("kp_pass", lang, levels="、".join(ok) if lang == "zh" else ", ".join(ok), n=n))
    if bad:
        n_short = len(m["shortfalls"]) if isinstance(m.get("shortfalls"), list) else 0
        points.append(label("kp_fail", lang, levels="、".join(bad) if lang == "zh" else ", ".join(bad), n=n_short))
    budget = m.get("budget")
    if isinstance(budget, Mapping):
        points.append(label("kp_budget", lang, budget=wan(budget.get("budget_yuan")), full=wan(budget.get("full_cost_yuan")),
                            cv=budget.get("cv_tests_left"), parts=budget.get("school_parts_left"), extra=wan(budget.get("extra_needed_yuan"))))
    greedy, cost = m.get("greedy_cost_yuan"), m.get("total_cost_yuan")
    if not isinstance(budget, Mapping) and is_num(greedy) and is_num(cost) and float(greedy) > float(cost):  # type: ignore[arg-type]
        points.append(label("kp_greedy", lang, greedy=wan(greedy), saved=wan(float(greedy) - float(cost))))  # type: ignore[arg-type]
    return KeyPoints(tuple(points))


def _schools_table(run: RunResult, lang: Language) -> pd.DataFrame | None:
    """Measures per school with the standards it meets before → after (why it gets them)."""
    measures = stage_frame(run, STAGE, MEASURES)
    if measures is None or measures.empty:
        return None
    table = measures_by_school(measures, lang)
    sch = stage_frame(run, STAGE, SCHOOLS_IMPROVE)
    if sch is not None and {"name", "standards_met_before", "standards_met_after"} <= set(sch.columns):
        why = sch.groupby("name", sort=False).apply(
            lambda p: "；".join(f"{int(b)} → {int(a)}" for b, a in zip(p["standards_met_before"], p["standards_met_after"])),
            include_groups=False,
        )
        table.insert(2, label("why", lang), table[label("school", lang)].map(why).fillna(""))
    return table


def section(run: RunResult, params: ReportParams) -> str:
    """Key points, cost by measure, CVs before and after (table and chart), each school's measures and why."""
    lang = params.language
    m = stage_mapping(run, STAGE, METRICS)
    if m is None:
        return ""
    parts = [heading(STAGE, HEADING, lang), bullets(key_points(run, params).points)]
    measures = stage_frame(run, STAGE, MEASURES)
    if measures is not None and not measures.empty:
        per = measures.assign(resource=as_ids(measures["resource"])).groupby("resource", sort=False)[["quantity", "cost_yuan"]].sum()
        per = per.reindex([r for r in RESOURCES if r in per.index])
        table = pd.DataFrame({
            label("measure", lang): [resource_name(r, lang) for r in per.index],
            label("quantity", lang): [quantity_text(r, float(q), lang) for r, q in per["quantity"].items()],
            label("cost", lang): [wan(c) for c in per["cost_yuan"]],
        })
        parts.append(f"<h3>{label('by_resource', lang)}</h3>" + table_html(table, lang=lang, file=stage_path(STAGE, MEASURES)))
        years = measures.groupby("year", sort=True)["cost_yuan"].sum()
        by_year = pd.DataFrame({label("years", lang): [label("year_n", lang, y=int(y)) for y in years.index],
                                label("cost", lang): [wan(c) for c in years]})
        parts.append(f"<h3>{label('by_year', lang)}</h3>" + table_html(by_year, lang=lang))
    cv = cv_frame(m, lang)
    if not cv.empty:
        cols = list(cv.columns)
        bad = [bool(is_num(b) and is_num(th) and b > th) for b, th in zip(cv[cols[3]], cv[cols[2]])]
        # fixed decimals: 0.49989 shown as "0.5" would read as exactly at the threshold
        shown = cv.assign(**{c: [f"{x:.{2 if c == cols[2] else 3}f}" if is_num(x) else "–" for x in cv[c]] for c in cols[2:]})
        parts.append(f"<h3>{label('cv', lang)}</h3><p>{label('rotation_note', lang)}</p>" + table_html(shown, lang=lang, bad_rows=bad))
        parts.append("<figure>" + charts.paired_bar_chart(
            [f"{a} · {b}" for a, b in zip(cv[cols[0]], cv[cols[1]])], cv[cols[3]].to_list(), cv[cols[4]].to_list(),
            title=label("cv", lang), names=(label("before", lang), label("after", lang)),
        ) + "</figure>")
    schools = _schools_table(run, lang)
    if schools is not None:
        parts.append(f"<h3>{label('schools', lang)}</h3>" + table_html(schools, lang=lang, file=stage_path(STAGE, MEASURES)))
    return "".join(parts)


#: The solver's figures shown in the technical appendix.
_TECHNICAL = ("status", "total_cost_yuan", "bound_yuan", "gap", "lp_bound_yuan", "greedy_cost_yuan", "rounds", "cuts")


def appendix(run: RunResult, params: ReportParams) -> str:
    """The solver's figures: status, cost, bound, gap, LP bound, the greedy baseline."""
    m = stage_mapping(run, STAGE, METRICS)
    figures = {k: m[k] for k in _TECHNICAL if k in m} if m is not None else {}
    return f"<h3>{esc(pick(HEADING, params.language))}</h3>" + figures_table(figures, params.language) if figures else ""


#: Headers of the workbook sheets: column → (Chinese, English).
_SHEET_HEADERS: Mapping[str, tuple[str, str]] = {
    "school_id": ("学校代码", "School code"),
    "name": ("学校名称", "School"),
    "level": ("学段", "Level"),
    "resource": ("措施", "Measure"),
    "quantity": ("数量", "Quantity"),
    "cost_yuan": ("投入（元）", "Cost (yuan)"),
    "year": ("实施年度", "Year"),
    "standards_met_before": ("实施前达标指标数", "Standards met before"),
    "standards_met_after": ("实施后达标指标数", "Standards met after"),
    "meets_before": ("实施前达到优质均衡学校要求", "Meets the school rule before"),
    "meets_after": ("实施后达到优质均衡学校要求", "Meets the school rule after"),
}


def tables(run: RunResult, params: ReportParams) -> dict[str, pd.DataFrame]:
    """The measures and each school's standards before and after (sheet name → table, display headers)."""
    lang = params.language
    zh = lang == "zh"
    files = ((MEASURES, "达标提升措施", "measures"), (SCHOOLS_IMPROVE, "学校达标情况", "schools improve"))
    out = {}
    for sheet, frame in stage_sheets(run, STAGE, files, zh=zh).items():
        shown = frame.copy()
        if "resource" in shown.columns:
            shown["resource"] = [resource_name(r, lang) for r in as_ids(shown["resource"])]
        if "level" in shown.columns:
            shown["level"] = [t(str(lv), lang) if str(lv) in ("primary", "junior") else lv for lv in shown["level"]]
        out[sheet] = shown.rename(columns={k: pick(v, lang) for k, v in _SHEET_HEADERS.items()})
    return out


def _draw_improve(m: folium.Map, ctx: MapContext) -> None:
    """A circle around each school that gets measures: area by cost, tooltip listing them."""
    measures = stage_frame(ctx.run, STAGE, MEASURES)
    schools = ctx.run.inputs.schools
    if measures is None or measures.empty or schools is None:
        return
    lang = ctx.display.language
    xy = school_xy(schools, ctx.display)
    table = measures.assign(school_id=as_ids(measures["school_id"]), resource=as_ids(measures["resource"]))
    top = float(table.groupby("school_id")["cost_yuan"].sum().max())
    geoms, props = [], []
    for sid, part in table.groupby("school_id", sort=True):
        if sid not in xy:
            continue
        cost = float(part["cost_yuan"].sum())
        per = part.groupby("resource", sort=True)["quantity"].sum()
        lines = "<br>".join(f"{esc(resource_name(r, lang))} {esc(quantity_text(r, float(q), lang))}" for r, q in per.items())
        x, y = xy[sid]
        geoms.append(shapely.Point(x, y))
        tip = f"<b>{esc(ctx.names.get(sid, sid))}</b><br>{lines}<br>{label('cost', lang)} {wan(cost)}"
        # a circle marker (pixels) around the school's dot, its area by cost
        props.append({"c": COLOUR, "r": round(9 + 21 * math.sqrt(cost / top), 1) if top > 0 else 9, "t": tip})
    name = label("layer", lang)
    group = add_layer(m, name, geoms, props, base={"weight": 1.5, "opacity": 0.9, "fillOpacity": 0.35})
    if group is not None:
        legend_of(m).section(name, [("fill", COLOUR, name, 10.0), ("text", "", label("layer_size", lang), 0)])


RENDERER = StageRenderer(
    stage=STAGE,
    heading=HEADING,
    layers=(MapLayer("improve", 85, _draw_improve),),
    map_layers=("improve", "schools"),
    section=section,
    tables=tables,
    key_points=key_points,
    appendix=appendix,
)


#: Why a school cannot reach a standard (``why`` of an unmet record): (Chinese, English).
_WHY: Mapping[str, tuple[str, str]] = {
    "site": ("校园用地不足", "the site is too small"),
    "hires_cap": ("受每校补充教师上限限制", "the cap on hires per school"),
    "training": ("骨干教师年度培养名额不足", "the yearly training limit"),
    "training_limit": ("骨干教师年度培养名额不足", "the yearly training limit"),
    "teachers_to_train": ("可培养的教师不足", "too few teachers to train"),
    "not_allowed": ("该措施未列入方案", "the measure is not allowed"),
    "caps": ("受限制条件约束", "the caps"),
}
_UNMET: Mapping[str, tuple[str, str]] = {
    "school": ("{ind}最多只能达到标准的 {share}（{why}），尚差 {qty}{site}；其余指标本方案均已补齐。",
               "{ind} reaches at most {share} of its standard ({why}); {qty} short{site}; every other standard is met in full."),
    "site": ("，需增加校园用地约 {m2} 平方米或与周边共享运动场地", "; a site about {m2} m² larger, or a ground shared off site"),
    "cv": ("差异系数在现有限制下最低为 {reached}（标准 {tau}），需在限制之外增加约 {qty}，涉及 {n} 所学校：{schools}。",
           "CV at best {reached} within the caps (threshold {tau}); about {qty} beyond the caps at {n} school(s): {schools}."),
    "cv_none": ("各校均无此项资源且无法补充，差异系数无法计算。", "no school has any and none can be added: the CV is undefined."),
    "budget_cv": ("预算内未安排，单独达标约需 {cost} 万元。", "left for the budget; meeting it alone costs about {cost} 10k yuan."),
    "budget_school": ("预算内未达标，达标约需追加 {cost} 万元。", "left below standard for the budget; about {cost} 10k yuan more."),
    "year": ("第 {y} 年投入超出年度预算 {cost} 万元（整数单位无法拆分）。", "Year {y} is {cost} 10k yuan over the yearly budget (whole units)."),
    "training_year": ("第 {y} 年培养骨干教师超出年度名额 {n} 人（此前年度资金不足）。",
                      "Year {y} trains {n} backbone teacher(s) above the yearly limit (earlier years' money ran out)."),
}


def unmet_rows(metrics: Mapping[str, object], lang: Language) -> list[tuple[str, str]]:
    """Each target not met, worded in the report language: (where, why and what it would take)."""
    recs = metrics.get("unmet")
    if not isinstance(recs, list):
        return []
    rows = []
    for r in recs:
        if not isinstance(r, Mapping):
            continue
        kind, lv = r.get("kind"), str(r.get("level", ""))
        level = t(lv, lang) if lv in ("primary", "junior") else lv
        if kind == "school":
            for it in r.get("items") or []:
                site = text(_UNMET, "site", lang, m2=f"{float(r.get('site_m2') or 0):,.0f}") if it.get("why") == "site" else ""
                qty = quantity_text(str(it.get("resource")), float(it.get("amount", 0)), lang)
                rows.append((f"{r.get('name')}（{level}）", text(
                    _UNMET, "school", lang, ind=indicator_name(str(it.get("indicator")), lang), share=f"{float(it.get('reached_share', 0)):.0%}",
                    why=pick(_WHY.get(str(it.get("why")), _WHY["caps"]), lang), qty=qty, site=site)))
        elif kind == "cv":
            where = f"{level}{indicator_name(str(r.get('indicator')), lang)}"
            if r.get("reached") is None:
                rows.append((where, text(_UNMET, "cv_none", lang)))
                continue
            names = [str(n) for n in r.get("schools") or []]
            rows.append((where, text(_UNMET, "cv", lang, reached=f"{float(r['reached']):.3f}", tau=f"{float(r.get('threshold', 0)):.2f}",
                                     qty=quantity_text(str(r.get("resource")), float(r.get("amount", 0)), lang), n=len(names),
                                     schools="、".join(names[:5]) + ("等" if len(names) > 5 else ""))))
        elif kind == "budget_cv":
            rows.append((f"{level}{indicator_name(str(r.get('indicator')), lang)}", text(_UNMET, "budget_cv", lang, cost=wan(r.get("cost_yuan")))))
        elif kind == "budget_school":
            rows.append((f"{r.get('name')}（{level}）", text(_UNMET, "budget_school", lang, cost=wan(r.get("cost_yuan")))))
        elif kind == "year":
            rows.append((text(_TEXT, "year_n", lang, y=r.get("year")), text(_UNMET, "year", lang, y=r.get("year"), cost=wan(r.get("over_yuan")))))
        elif kind == "training_year":
            rows.append((text(_TEXT, "year_n", lang, y=r.get("year")), text(_UNMET, "training_year", lang, y=r.get("year"), n=r.get("over"))))
    return rows
