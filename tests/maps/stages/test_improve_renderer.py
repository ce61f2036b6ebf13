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
    doc = Document(io.BytesIO(improve_document(run, ReportParams(), maps=()) or b""))
    text = "\n".join(p.text for p in doc.paragraphs)
    assert "尽可能提升" in text and f"仍有 {len(m['shortfalls'])} 项目标未能达到" in text
    assert "尚需追加" in text
    header, *rows = [[c.text for c in r.cells] for r in doc.tables[-1].rows]
    assert header == ["序号", "事项", "缺口", "原因及所需条件"]
    assert [r[1] for r in rows] == [s["where"] for s in m["shortfalls"]]
    cv = [[c.text for c in r.cells] for r in doc.tables[-2].rows][1:]
    assert all(len(r[3].split(".")[1]) == 3 and len(r[4].split(".")[1]) == 3 for r in cv)  # 0.49989 is "0.500", not "0.5"
