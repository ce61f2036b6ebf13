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
    assert "王村小学撤并入县一小" in zh and "撤并说明" in zh
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
    assert "Longest one-way trips: boarders" in en and "25% of the schools close (at most 25%)" in en
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
