"""The improve stage's report section and Word document with shortfalls (a budget below the least cost), read back."""

from __future__ import annotations

import dataclasses
import io
from collections.abc import Callable

from docx import Document

from maps.common import ReportParams
from maps.documents import improve_document
from maps.stages import improve as istage
from planning.app.stage import RunResult, StageOutput
from planning.app.stages.improve import STAGE, ImproveParams
from tests.planning.app.test_stage_improve import context


def _run(make_run: Callable[..., RunResult], out: StageOutput) -> RunResult:
    run = make_run()
    return dataclasses.replace(run, outputs={**run.outputs, "improve": out})


def test_budget_shortfalls_in_the_section_and_the_document(make_run: Callable[..., RunResult]) -> None:
    params = ImproveParams(budget_yuan=1_000_000)
    out = STAGE.run(context(params), params)
    run = _run(make_run, out)
    m = out.files["metrics.json"]
    html = istage.section(run, ReportParams())
    assert "预算上限 100 万元低于全部达标所需的" in html
    assert f"尚需追加 {m['budget']['extra_needed_yuan'] / 1e4:,.0f} 万元" in html
    assert "逐校补齐" not in html  # no saving claimed against a plan the budget does not buy
    assert "分年度投入" in html and "第 1 年" in html
    assert "<td class=\"num\">0.50</td>" in html or ">0.50<" in html  # thresholds with two decimals
    assert f"实施后仍未达标：小学（{len(m['shortfalls'])} 项目标" in html
    doc = Document(io.BytesIO(improve_document(run, ReportParams(), maps=()) or b""))
    text = "\n".join(p.text for p in doc.paragraphs)
    assert "尽可能提升" in text and f"仍有 {len(m['shortfalls'])} 项目标未能达到" in text
    assert "尚需追加" in text
    header, *rows = [[c.text for c in r.cells] for r in doc.tables[-1].rows]
    assert header == ["序号", "事项", "原因及所需条件"]
    # one row per target left, worded in Chinese: the schools the budget leaves, each with the money it would take
    left = [u for u in m["unmet"] if u["kind"] == "budget_school"]
    assert len(rows) == len(m["unmet"]) and left
    assert all("预算内未达标，达标约需追加" in r[2] for r in rows if r[1].endswith("（小学）"))
    cv = [[c.text for c in r.cells] for r in doc.tables[-2].rows][1:]
    assert all(len(r[3].split(".")[1]) == 3 and len(r[4].split(".")[1]) == 3 for r in cv)  # 0.49989 is "0.500", not "0.5"


def test_site_too_small_worded_for_the_bureau() -> None:
    # 王村小学 (600 pupils) has 5 m² of sports ground a pupil and a full site: 85 % of 7.5 needs 3,825 m², 825 more
    # (9 modules of 100 m²: 900 m²), a site 1,800 m² larger at a half share
    ctx = context(ImproveParams())
    schools = ctx.inputs.schools.copy()
    schools.loc[schools["school_id"] == "C", ["sports_area_m2", "site_area_m2"]] = [3000.0, 6000.0]
    ctx.inputs = ctx.inputs.__class__(**{**ctx.inputs.__dict__, "schools": schools})
    m = STAGE.run(ctx, ImproveParams()).files["metrics.json"]
    (row,) = istage.unmet_rows(m, "zh")
    assert row[0] == "王村小学（小学）"
    assert row[1] == ("生均体育运动场馆面积最多只能达到标准的 67%（校园用地不足），尚差 900 平方米，需增加校园用地约 1,800 平方米"
                      "或与周边共享运动场地；其余指标本方案均已补齐。")


def test_year_over_the_training_limit_worded() -> None:
    rows = istage.unmet_rows({"unmet": [{"kind": "training_year", "year": 2, "over": 1}]}, "zh")
    assert rows == [("第 2 年", "第 2 年培养骨干教师超出年度名额 1 人（此前年度资金不足）。")]
