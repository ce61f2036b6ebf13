"""report.html and report.xlsx: sections for the stages present, figures, charts, links."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest

from maps.assets import external_references
from maps.charts import bar_chart, paired_bar_chart, short_label
from maps.render import ReportParams
from maps.report import build_report, report_tables
from maps.tables import flatten, fmt_value, table_html
from planning.app.stage import RunResult, StageOutput


def test_flatten_nested_sorted() -> None:
    assert flatten({"b": 1, "a": {"y": 2, "x": {"z": 3}}}) == {"a.x.z": 3, "a.y": 2, "b": 1}


@pytest.mark.parametrize(
    ("key", "value", "text"),
    [
        ("mean_travel_s", 540.0, "9.0 分钟"),
        ("share_within_standard", 0.8125, "81.2%"),
        ("utilization.max", 1.35, "135.0%"),
        ("gap", 0.0037, "0.4%"),
        ("moved", 1234, "1,234"),
        ("objective", 123456.0, "123,456"),
        ("cv", 0.31234, "0.312"),
        ("passes", True, "✓"),
        ("cv", float("nan"), "–"),
        ("status", "OPTIMAL", "OPTIMAL"),
    ],
)
def test_fmt_value(key: str, value: object, text: str) -> None:
    assert fmt_value(key, value) == text


def test_table_html_escapes_truncates_and_flags() -> None:
    frame = pd.DataFrame({"name": ["<b>x</b>", "y", "z"], "cv": [0.1, 0.7, np.nan]})
    out = table_html(frame, lang="en", file="balance/balance.csv", bad_rows=[False, True, False], max_rows=2)
    assert "&lt;b&gt;x&lt;/b&gt;" in out
    assert out.count('<tr class="bad">') == 1
    assert "First 2 of 3 rows; full table in balance/balance.csv" in out


def test_bar_chart_marks_bars_beyond_their_limit() -> None:
    svg = bar_chart(["a", "b"], [0.3, 0.6], title="CV", limits=[0.5, 0.5])
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    assert svg.count('fill="#e15759"') == 1  # only b exceeds 0.5
    assert svg.count("<line") == 2
    assert bar_chart([], [], title="x") == ""


def test_paired_bar_chart_has_both_series() -> None:
    svg = paired_bar_chart(["t"], [9.0], [8.3], title="travel", names=("opt", "near"))
    assert "opt" in svg and "near" in svg and ">9.0<" in svg and ">8.3<" in svg


def test_report_sections_and_figures(make_run: Callable[..., RunResult]) -> None:
    page = build_report(make_run(), ReportParams(), maps=["map.html", "maps/zones.html"])
    assert page.startswith("<!DOCTYPE html>") and '<html lang="zh-CN">' in page
    for section in ("summary", "zones", "balance", "communities", "rotation", "files"):
        assert f'id="{section}"' in page
    assert "<title>测试县 · 方案说明</title>" in page
    # optimal vs nearest, side by side
    assert "到校出行 · 平均到校时间</td><td class=\"num\">9.0 分钟</td><td class=\"num\">8.3 分钟" in page
    assert "调整学校的学生数</td><td class=\"num\">12</td><td class=\"num\">0" in page
    assert "教育公平 · 留守儿童 · 平均到校时间</td><td class=\"num\">10.2 分钟</td><td class=\"num\">9.7 分钟" in page
    assert "S07" not in page  # per-school utilization stays in the JSON and the per-school table
    assert "<td>超出学位的学校</td><td class=\"num\">1</td><td class=\"num\">0</td>" in page  # schools over capacity, counted
    assert "最长允许到校时间</th><td>30.0 分钟" in page
    # over-capacity school and failing indicator flagged
    assert page.count('<tr class="bad">') == 2
    assert "城关一小</td><td>西镇小学</td><td class=\"num\">2</td><td class=\"num\">1</td><td>语文、数学" in page
    assert page.count("<svg") == 4  # travel, utilization, CV vs threshold, CV before/after
    assert "小学 · 每百名学生拥有县级及以上骨干教师数" in page
    assert "骨干教师占交流人数比例</td><td class=\"num\">50.0%" in page
    assert "平均通勤时间</td><td class=\"num\">14.2 分钟" in page
    appendix = page[page.index('<h2 id="appendix">') :]
    assert "求解用时</td><td class=\"num\">0.4 s" in appendix and "最优间隙</td><td class=\"num\">0.4%" in appendix
    assert external_references(page) == []
    assert "<script" not in page


def test_report_links_use_stage_folders(make_run: Callable[..., RunResult]) -> None:
    page = build_report(make_run(), ReportParams(), maps=["map.html"])
    for path in ("map.html", "zones/primary/assignment.csv", "zones/primary/zones.gpkg", "balance/balance.csv",
                 "communities/groups.csv", "rotation/moves.csv", "report.xlsx"):
        assert f'<a href="{path}">' in page


def test_report_with_no_stage(make_run: Callable[..., RunResult]) -> None:
    page = build_report(make_run(stages=()), ReportParams(language="en"))
    assert "This run has no stage results." in page
    assert 'id="zones"' not in page and 'id="rotation"' not in page


def test_report_notes_missing_columns(make_run: Callable[..., RunResult]) -> None:
    run = make_run(stages=("rotation",))
    moves = run.outputs["rotation"].files["moves.csv"]
    run.outputs["rotation"].files["moves.csv"] = moves.drop(columns=["subject", "backbone"])  # type: ignore[index]
    page = build_report(run, ReportParams(language="en"))
    assert "Table lacks columns: subject, backbone" in page
    assert "Teacher rotation" in page


def test_report_tables_sheets(make_run: Callable[..., RunResult]) -> None:
    sheets = report_tables(make_run(), ReportParams())
    assert list(sheets) == [
        "概要", "小学片区", "小学分配", "小学多校划片", "均衡指标", "学校均衡", "共同体", "共同体指标", "结对",
        "交流名单", "学校交流", "交流流向",
    ]
    summary = sheets["概要"]
    assert list(summary.columns) == ["部分", "项目", "内容"] and len(summary) < 40  # a readable table, no JSON dump
    assert ["概况", "学校", "4 所（小学 4）"] in summary.to_numpy().tolist()
    assert any("南关小学（超 30 人）" in c for c in summary["内容"])
    assert list(sheets["小学片区"].columns) == ["学校代码", "学校名称", "学生数", "学位数", "学位使用率"]
    assert sheets["交流流向"]["教师"].tolist() == [2, 1, 1]


def test_report_tables_in_english(make_run: Callable[..., RunResult]) -> None:
    sheets = report_tables(make_run(stages=("balance",)), ReportParams(language="en"))
    assert list(sheets) == ["summary", "balance", "schools balance"]


def test_utilization_chart_keeps_the_highest_schools(make_run: Callable[..., RunResult]) -> None:
    run = make_run(stages=("zones",))
    zones = run.outputs["zones"].files["primary/zones.gpkg"]
    many = pd.concat([zones] * 10, ignore_index=True)  # 40 schools
    many["school_id"] = [f"S{k:02d}" for k in range(40)]
    many["name"] = [f"学校{k:02d}" for k in range(40)]
    many["utilization"] = np.arange(40) / 20.0
    run.outputs["zones"].files["primary/zones.gpkg"] = many  # type: ignore[index]
    page = build_report(run, ReportParams())
    svg = page[page.index("各校学位使用率"):]
    assert "学校39" in svg and "学校10" in svg and "学校09</text>" not in svg  # 30 highest: 10..39
    assert "仅显示使用率最高的 30 所（共 40 所）" in page


def test_short_label_counts_cjk_double() -> None:
    assert short_label("95th percentile travel time") == "95th percentile travel time"
    assert short_label("一二三四五六七八九十一二三四五六七") == "一二三四五六七八九十一二三四五六…"
    assert short_label("x" * 40) == "x" * 32 + "…"


def test_missing_values_show_empty() -> None:
    frame = pd.DataFrame({"block_id": ["B1"], "travel_s": pd.array([None], dtype="Int64"), "school_id": [None]})
    out = table_html(frame, lang="zh")
    assert "&lt;NA&gt;" not in out and "None" not in out


def test_flat_zone_metrics_are_read_too(make_run: Callable[..., RunResult]) -> None:
    run = make_run(stages=("zones",))
    run.outputs["zones"].files["primary/metrics.json"] = {  # type: ignore[index]
        "mean_travel_s": 600.0, "status": "OPTIMAL", "nearest": {"mean_travel_s": 540.0},
    }
    page = build_report(run, ReportParams(language="en"))
    assert "Mean travel time</td><td class=\"num\">10.0 min</td><td class=\"num\">9.0 min" in page
    assert "Solver status</td><td class=\"num\">OPTIMAL (proven)" in page[page.index('id="appendix"'):]


def test_long_tables_start_folded() -> None:
    frame = pd.DataFrame({"school_id": [f"S{k:02d}" for k in range(20)], "utilization": [1.2] + [0.5] * 19})
    out = table_html(frame, lang="zh", bad_rows=[True] + [False] * 19)
    assert out.startswith("<details><summary>展开表格（20 行） · 1 行需关注</summary>")
    assert table_html(frame.head(5), lang="zh").startswith('<div class="tw">')


def test_comparison_puts_travel_first_and_console_summaries_stay_out(make_run: Callable[..., RunResult]) -> None:
    run = make_run(stages=("zones",))
    zones = run.outputs["zones"]
    long = StageOutput(files=zones.files, summary="primary: 4 schools; " + "warning text " * 200)
    page = build_report(RunResult(scenario=run.scenario, inputs=run.inputs, outputs={"zones": long}), ReportParams())
    compare = page[page.index("优化方案与就近分配对比"):]
    assert compare.index("到校出行 · 平均到校时间") < compare.index("调整学校的学生数") < compare.index("教育公平")
    assert "warning text" not in page  # the console's summary lines are not the document's


def test_road_classes_are_not_translated_as_levels() -> None:
    from maps.tables import figure_name

    assert figure_name("edges_by_class.primary", "zh") == "edges_by_class · primary"
    assert figure_name("modes.primary", "zh").endswith("小学")
