"""The projection and layout sections of the report, from real stage outputs on a small inline county."""

from __future__ import annotations

from pathlib import Path

import folium

from maps.common import MapContext, ReportParams, school_names
from maps.layers import Display
from maps.stages import layout, projection
from planning.app.stage import RunResult, StageOutput
from planning.app.stages import layout as layout_stage
from planning.app.stages import projection as projection_stage
from planning.app.stages.layout import LayoutParams
from planning.app.stages.projection import ProjectionParams
from tests.planning.app.test_stage_projection_layout import context


def run() -> RunResult:
    pp, lp = ProjectionParams(horizon_years=5), LayoutParams()
    ctx = context(projection=pp, layout=lp)
    ctx.outputs["projection"] = projection_stage.STAGE.run(ctx, pp)
    ctx.outputs["layout"] = layout_stage.STAGE.run(ctx, lp)
    return RunResult(scenario=ctx.scenario, inputs=ctx.inputs, outputs=ctx.outputs)


def test_projection_section_shows_enrolment_by_year() -> None:
    r = run()
    zh = projection.section(r, ReportParams(language="zh"))
    assert "学龄人口预测" in zh and "<svg" in zh and ">2029<" in zh and "2,029" not in zh
    assert "按全国出生人口" in zh and "中方案" in zh
    en = projection.section(r, ReportParams(language="en"))
    assert "Primary-age children go from 552 in 2024" in en
    assert set(projection.tables(r, ReportParams(language="en"))) == {"projection county", "projection schools", "projection units"}


def test_layout_section_explains_each_merger() -> None:
    r = run()
    en = layout.section(r, ReportParams(language="en"))
    assert "Layout for 2029" in en and "merge 1" in en
    # the village school's children: who goes where, how far, boarding or bus
    assert "王村小学 merges into 县一小" in en and "by school bus" in en
    assert "a hearing" in en
    zh = layout.section(r, ReportParams(language="zh"))
    assert "王村小学撤并入县一小" in zh and "撤并与停办说明" in zh
    assert layout.section(RunResult(scenario=r.scenario, inputs=r.inputs, outputs={}), ReportParams()) == ""


def test_projection_section_reports_the_back_test() -> None:
    pp = ProjectionParams(horizon_years=5, backtest_years=3)
    ctx = context(projection=pp)
    ctx.outputs["projection"] = projection_stage.STAGE.run(ctx, pp)
    r = RunResult(scenario=ctx.scenario, inputs=ctx.inputs, outputs=ctx.outputs)
    en = projection.section(r, ReportParams(language="en"))
    assert "Back-test: projected 3 years from a back-cast of 2021 to 2024" in en and "projection/backtest.csv" in en
    assert "回测" in projection.section(r, ReportParams(language="zh"))


def test_layout_section_states_the_trips_and_the_rules() -> None:
    en = layout.section(run(), ReportParams(language="en"))
    # every boarder of this county is beyond the limits: no "boarders 0 min" clause (test_layout_reasons.py)
    assert "Longest one-way trips: grades 1–3 by day 8 min" in en and "25% of the schools close (at most 25%)" in en
    assert "never into a teaching point" in en and "boarders travel ≤ 60 min" in en


def test_map_layer_draws_new_sites_kept_and_merged_schools(tmp_path: Path) -> None:
    f = tmp_path / "sites.csv"
    f.write_text("site_id,name,level,lon,lat\nN1,新区小学,primary,111.0,36.1\n", encoding="utf-8")
    lp = LayoutParams(candidates=f)
    ctx = context(layout=lp)
    ctx.outputs["layout"] = layout_stage.STAGE.run(ctx, lp)
    dec = ctx.outputs["layout"].files["decisions.csv"].copy()
    dec.loc[dec["school_id"] == "N1", "decision"] = "new"  # drawn whatever the plan decided for the site
    ctx.outputs["layout"] = StageOutput(files={**ctx.outputs["layout"].files, "decisions.csv": dec}, metrics=ctx.outputs["layout"].metrics)
    r = RunResult(scenario=ctx.scenario, inputs=ctx.inputs, outputs=ctx.outputs)
    m = folium.Map()
    layout._draw_layout(m, MapContext(run=r, params=ReportParams(language="en"), display=Display(language="en"), names=school_names(r)))
    html = m.get_root().render()
    assert "新区小学" in html and "new" in html and layout.DECISION_COLOURS["new"] in html
    assert "111.0" in html and "36.1" in html  # the site drawn at its own lon/lat
    assert "new school (candidate site)" in html
    # a site the plan does not build: an open ring, in the legend too
    dec.loc[dec["school_id"] == "N1", "decision"] = "not built"
    ctx.outputs["layout"] = StageOutput(files={**ctx.outputs["layout"].files, "decisions.csv": dec}, metrics=ctx.outputs["layout"].metrics)
    r = RunResult(scenario=ctx.scenario, inputs=ctx.inputs, outputs=ctx.outputs)
    m = folium.Map()
    layout._draw_layout(m, MapContext(run=r, params=ReportParams(language="en"), display=Display(language="en"), names=school_names(r)))
    html = m.get_root().render()
    assert "新区小学" in html and "candidate site, not built" in html


def test_projection_section_says_whose_births_series_it_is() -> None:
    cases = (("county data", "用户提供的本县数据", "the county&#x27;s own figures"),
             ("assumption", "假设序列，不是本县统计数据", "an assumed series given in the scenario, not the county&#x27;s figures"))
    for basis, zh_text, en_text in cases:
        pp = ProjectionParams(horizon_years=3, births={2010 + k: 300.0 for k in range(15)}, births_basis=basis)  # type: ignore[arg-type]
        ctx = context(projection=pp)
        ctx.outputs["projection"] = projection_stage.STAGE.run(ctx, pp)
        r = RunResult(scenario=ctx.scenario, inputs=ctx.inputs, outputs=ctx.outputs)
        zh, en = (projection.section(r, ReportParams(language=lang)) for lang in ("zh", "en"))
        assert zh_text in zh and en_text in en and "本县数据" not in zh.replace("用户提供的本县数据", "")
        assert "demo county" not in en  # the demo's own derivation only in a demo run


def test_layout_section_explains_new_schools_and_sites_not_built(tmp_path: Path) -> None:
    f = tmp_path / "sites.csv"
    f.write_text("site_id,name,level,lon,lat\nN1,新区小学,primary,111.0,36.1\nN2,北区小学,primary,111.2,36.2\n", encoding="utf-8")
    lp = LayoutParams(candidates=f)
    ctx = context(layout=lp)
    ctx.outputs["layout"] = layout_stage.STAGE.run(ctx, lp)
    out = ctx.outputs["layout"]
    dec = out.files["decisions.csv"].copy()
    asg = out.files["assignment.csv"].copy()
    dec.loc[dec["school_id"] == "N1", ["decision", "classes_primary_after", "construction_yuan"]] = ["new", 12, 17_400_000]
    dec.loc[dec["school_id"] == "N2", "decision"] = "not built"
    asg.loc[asg["block_id"] == "u1", "school_id"] = "N1"
    metrics = {**out.metrics, "unserved_children": 18}
    files = {**out.files, "decisions.csv": dec, "assignment.csv": asg, "metrics.json": metrics}
    ctx.outputs["layout"] = StageOutput(files=files, metrics=metrics)
    r = RunResult(scenario=ctx.scenario, inputs=ctx.inputs, outputs=ctx.outputs)
    en = layout.section(r, ReportParams(language="en"))
    assert "Layout for today&#x27;s children" in en  # no projection: not "Layout for 0"
    assert "New schools and candidate sites" in en and "新区小学: built with 12 primary and 0 junior classes for 450 children from 1 units" in en
    assert "construction 17.4 M yuan" in en and "Candidate sites not built: 北区小学" in en
    assert "18 children have no road to any school of their level" in en and "layout/shortfalls.csv" in en
    zh = layout.section(r, ReportParams(language="zh"))
    assert "建设费用 1,740 万元" in zh and "候选校址未新建：北区小学" in zh


def test_layout_document_lists_each_merged_schools_children_for_the_hearing() -> None:
    import io

    from docx import Document

    from maps.documents import documents

    r = run()
    files = documents(r, ReportParams(language="zh"), maps=())
    doc = Document(io.BytesIO(files["documents/layout.docx"]))
    text = "\n".join(p.text for p in doc.paragraphs)
    assert "义务教育学校布局调整方案" in text and "一、基本情况" in text and "二、撤并学校学生安置" in text
    assert "预计小学适龄儿童由 2024 年的 552 人" in text and "按 2029 年的适龄儿童规划" in text and "国办发〔2012〕48号" in text
    moves = [[c.text for c in row.cells] for row in doc.tables[0].rows]
    assert moves[0][:3] == ["序号", "撤并学校", "接收学校"] and moves[1][1:3] == ["王村小学", "县一小"]
    assert int(moves[1][3]) > 0 and float(moves[1][5]) > 0  # children and their longest trip
    en = Document(io.BytesIO(documents(r, ReportParams(language="en"), maps=())["documents/layout.docx"]))
    assert "Where the children of merged schools go" in "\n".join(p.text for p in en.paragraphs)


def _with_new_school(construction: float) -> RunResult:
    """The run with its construction cost set to ``construction`` yuan and site-like reason on its first school."""
    from planning.layout.worth import WHY_NEW_CHEAPER

    r = run()
    out = r.outputs["layout"]
    dec = out.files["decisions.csv"].copy()
    dec.loc[0, "reason"] = WHY_NEW_CHEAPER.format(n=22, more=4_200_000, years=10)
    metrics = {**out.metrics, "costs_yuan": {**out.metrics["costs_yuan"], "construction": construction}, "objective_yuan": 1_120_900_000}
    r.outputs["layout"] = StageOutput(files={**out.files, "decisions.csv": dec, "metrics.json": metrics}, metrics=metrics)
    return r


def test_money_never_rounds_to_zero_in_the_report_and_the_document() -> None:
    import io

    from docx import Document

    from maps.documents import documents

    r = _with_new_school(1_200_000)
    zh = layout.section(r, ReportParams(language="zh"))
    assert "总费用 11.2 亿元（其中新建、扩建校舍 120 万元）" in zh and "0.0 亿元" not in zh
    en = layout.section(r, ReportParams(language="en"))
    assert "Cost over 10 years 1.12 billion yuan (construction 1.20 M yuan)" in en
    text = "\n".join(p.text for p in Document(io.BytesIO(documents(r, ReportParams(language="zh"), maps=())["documents/layout.docx"])).paragraphs)
    assert "总费用 11.2 亿元，其中新建、扩建校舍 120 万元" in text


def test_a_new_schools_reason_is_translated_with_its_figures() -> None:
    r = _with_new_school(1_200_000)
    assert "新建，接收 22 名儿童：不建则规划期 10 年总费用多 420 万元" in layout.section(r, ReportParams(language="zh"))
    assert "new school for 22 children: without it the plan costs 4.20 M yuan more over 10 years" in layout.section(
        r, ReportParams(language="en"))
    from planning.layout.worth import WHY_EXPAND

    assert layout.reason_text(WHY_EXPAND.format(k=17, n=1980, now=1059), "zh") == "扩建 17 个班，规划在校生 1,980 人（现有 1,059 人）"
    assert layout.reason_text("kept by the bureau", "zh") == "教育局确定保留"


def test_the_overview_map_opens_with_the_layout_decisions_on() -> None:
    import re

    from maps.render import OVERVIEW_SHOWN, overview_shown, render_run

    r = run()
    assert overview_shown(r) == OVERVIEW_SHOWN - {"schools"}  # schools coloured by decision, not by strength (red twice)
    assert "schools" in overview_shown(RunResult(scenario=r.scenario, inputs=r.inputs, outputs={}))
    page = render_run(r, ReportParams())["map.html"]
    hidden = {name: re.search(rf'<div class="sp-sec" data-layer="{name}"( style="display:none")?>', page)
              for name in ("学校布局", "学校（按办学强弱着色）")}
    assert all(hidden.values())
    assert hidden["学校布局"].group(1) is None  # type: ignore[union-attr]  # its legend shows: the layer is on
    assert hidden["学校（按办学强弱着色）"].group(1) is not None  # type: ignore[union-attr]  # listed, off
