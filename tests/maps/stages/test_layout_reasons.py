"""The hearing evidence in what a bureau circulates: decisions.csv gives every row a reason from the plan's figures, the
report's trips line has no clause without children, and its rules are the run's own options, not the defaults."""

from __future__ import annotations

import io
import re

from docx import Document

from maps.common import ReportParams
from maps.documents import documents
from maps.stages import layout
from planning.app.stage import RunResult
from planning.app.stages import layout as layout_stage
from planning.app.stages.layout import LayoutParams
from tests.planning.app.test_stage_projection_layout import context


def _run(lp: LayoutParams) -> RunResult:
    ctx = context(layout=lp)
    ctx.outputs["layout"] = layout_stage.STAGE.run(ctx, lp)
    return RunResult(scenario=ctx.scenario, inputs=ctx.inputs, outputs=ctx.outputs)


def _plain(html: str) -> str:
    return re.sub(r"<[^>]+>", "\n", html)


def test_every_decision_row_has_a_chinese_reason_and_a_merge_names_its_school_and_minutes() -> None:
    dec = _run(LayoutParams()).outputs["layout"].files["decisions.csv"].set_index("school_id")
    assert dec.loc["V", "decision"] == "merge"
    merge = r"在校 40 人，按现有生源 \d+ 人，并入县一小（单程最远 \d+ 分钟，\d+ 人乘校车，\d+ 人寄宿），与保留相比 10 年节省 [\d,.]+ 万元.*"
    assert re.fullmatch(merge, dec.loc["V", "reason"])
    assert (dec["reason"].str.len() > 0).all()
    assert dec.loc["A", "reason"] == "在校 500 人，按现有生源 546 人，扩建 1 个班，班级 12 → 13"
    assert dec.loc["J", "reason"] == "在校 276 人，按现有生源 276 人，乡镇或县城学校，按规则保留，班级 9 → 6"


def test_the_trips_line_leaves_out_a_clause_without_children() -> None:
    # the county's only boarders are beyond the limits: no "寄宿生 0 分钟" (nor "boarders 0 min")
    r = _run(LayoutParams())
    assert r.outputs["layout"].metrics["longest_boarder_min"] == 0 and r.outputs["layout"].metrics["boarders"] > 0
    zh, en = (_plain(layout.section(r, ReportParams(language=lang))) for lang in ("zh", "en"))  # type: ignore[arg-type]
    assert "最远单程：一至三年级走读" in zh and "寄宿生 0" not in zh and " 0 分钟" not in zh
    assert "boarders 0 min" not in en
    # no merger either (the bureau keeps the village school): no clause for children of merged schools
    kept = _plain(layout.section(_run(LayoutParams(keep=["V"])), ReportParams(language="zh")))
    assert "被撤并学校的学生" not in kept and "撤并 0% 的学校（上限 25%）" in kept


def test_the_rules_are_the_runs_own_options() -> None:
    lp = LayoutParams(close_below_pupils=60, day_max_s=40 * 60.0, boarding_max_s=50 * 60.0, merge_rule="any", close_town_and_urban=True,
                      max_close_share=0.5)
    r = _run(lp)
    zh = _plain(layout.section(r, ReportParams(language="zh")))
    assert ("撤并规则：可并入政策时限内的任何学校；乡镇和县城学校也可撤并；在校生 60 人及以上的学校保留；一至三年级走读单程不超过 40 分钟，"
            "寄宿生单程不超过 50 分钟") in zh
    assert "100 人" not in zh and "上限 50%" in zh and "本方案按 40 分钟规划" in zh
    en = _plain(layout.section(r, ReportParams(language="en")))
    assert "schools of 60+ pupils stay; grades 1–3 travel ≤ 40 min by day, boarders travel ≤ 50 min" in en
    doc = Document(io.BytesIO(documents(r, ReportParams(language="zh"), maps=())["documents/layout.docx"]))
    text = "\n".join(p.text for p in doc.paragraphs)
    assert "在校生 60 人及以上的学校保留" in text and "不超过 40 分钟" in text and "100 人" not in text


def test_layout_docx_gives_each_merged_schools_reason() -> None:
    r = _run(LayoutParams())
    doc = Document(io.BytesIO(documents(r, ReportParams(language="zh"), maps=())["documents/layout.docx"]))
    assert "三、撤并理由" in [p.text for p in doc.paragraphs]
    why = [[c.text for c in row.cells] for row in doc.tables[1].rows]
    assert why[0] == ["序号", "学校", "决定", "说明"] and why[1][1:3] == ["王村小学", "撤并"]
    assert why[1][3].startswith("在校 40 人，按现有生源") and "并入县一小（单程最远" in why[1][3]


def test_the_children_line_says_every_child_is_within_the_limits_when_none_is_beyond() -> None:
    beyond = _plain(layout.section(_run(LayoutParams()), ReportParams(language="zh")))
    assert re.search(r"[1-9][\d,]* 名儿童在政策距离内无校可上", beyond)
    # limits of four hours: every child has a school within them, so no "0 名儿童 … 无校可上" clause
    r = _run(LayoutParams(day_max_s=4 * 3600.0, boarding_max_s=4 * 3600.0))
    assert not any(int(v) for v in dict(r.outputs["layout"].metrics.get("beyond_limits_children", {})).values())
    within = _plain(layout.section(r, ReportParams(language="zh")))
    assert "每名儿童都在政策距离内有校可上" in within and "无校可上" not in within
