"""The projection and layout sections of the report, from real stage outputs on a small inline county."""

from __future__ import annotations

from maps.common import ReportParams
from maps.stages import layout, projection
from planning.app.stage import RunResult
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
