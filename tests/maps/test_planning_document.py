"""report.html as a planning document and report.xlsx as bureau tables, read back from the demo county.

The expected figures are read from the run's own output files (metrics.json, CSV), independently of the
renderers, and looked for in the text a planner sees.
"""

from __future__ import annotations

import html
import json
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from maps.common import ReportParams
from maps.report import build_report, report_tables
from planning.app.stage import RunResult

#: Internal names a planner must never read in the document (field names, OSM classes absent from the data).
BLACKLIST = (
    "level_mode", "rural_mode", "travel_modes", "unserved_students", "pair_gap", "strength_std", "strength_spread",
    "max_travel_s", "elevator", "bridleway", "busway", "_per_100", "_per_pupil", "basic_composite", "school_id",
    "objective_s", "bound_s", "stability_weight", "edges_by_class", "speed_table_kmh", "FEASIBLE, gap",
)


def visible_text(page: str) -> str:
    """What a reader sees: no style, no markup, entities decoded."""
    body = re.sub(r"<style>.*?</style>", "", page, flags=re.S)
    body = re.sub(r"<title>.*?</title>", "", body, flags=re.S)
    return html.unescape(re.sub(r"<[^>]+>", " ", body))


def section(page: str, anchor: str) -> str:
    """The text of the section ``<h2 id="anchor">`` up to the next ``<h2``."""
    start = page.index(f'<h2 id="{anchor}">')
    end = page.find("<h2", start + 5)
    return visible_text(page[start : end if end > 0 else None])


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo county run end to end (3 s per solve, one worker), as ``make demo`` does."""
    out = tmp_path_factory.mktemp("demo") / "run"
    cmd = [sys.executable, "-m", "planning.app.cli", "demo", "--out", str(out), "--quiet", "--time-limit", "3", "--workers", "1"]
    subprocess.run(cmd, check=True, capture_output=True, timeout=600)
    return out


@pytest.mark.slow
def test_key_points_carry_the_demo_figures(demo: Path) -> None:
    page = (demo / "report.html").read_text(encoding="utf-8")
    points = section(page, "keypoints")
    names = dict(pd.read_csv(demo / "balance" / "schools_balance.csv", dtype=str)[["school_id", "name"]].itertuples(index=False))
    for level, word in (("primary", "小学"), ("junior", "初中")):
        metrics = json.loads((demo / "zones" / level / "metrics.json").read_text(encoding="utf-8"))
        fixed = [o for o in metrics["nearest"]["overflow"] if o["school_id"] not in {a["school_id"] for a in metrics["plan"]["overflow"]}]
        assert fixed, "the demo's nearest-school baseline overfills schools"
        for o in fixed:  # each school over capacity today, by name, with its excess
            assert f"{names[o['school_id']]}（超 {o['over_by']} 人）" in points
        assert f"{word}：与现行片区相比，{metrics['moved_vs_nearest']['plan']:,} 名学生调整就读学校" in points
        mean = metrics["plan"]["travel"]["mean_travel_s"] / 60
        assert f"{word}：平均到校时间 {mean:.1f} 分钟" in points
    rotation = json.loads((demo / "rotation" / "metrics.json").read_text(encoding="utf-8"))
    assert f"派出 {rotation['movers_out']} 名" in points and f"交流指标完成 {rotation['quotas_met']} / {rotation['quotas']} 项" in points
    before, after = rotation["cv_before"]["primary"]["basic_composite"], rotation["cv_after"]["primary"]["basic_composite"]
    assert f"基本均衡综合差异系数（8 项指标差异系数平均值） {before:.3f} → {after:.3f}" in points
    balance = pd.read_csv(demo / "balance" / "balance.csv")
    composite = balance[(balance["level"] == "primary") & (balance["indicator"] == "basic_composite")]["cv"].iloc[0]
    assert f"小学基本均衡：综合差异系数 {composite:.3f}" in points
    communities = json.loads((demo / "communities" / "metrics.json").read_text(encoding="utf-8"))
    longest = communities["primary"]["max_travel_s"] / 60  # the longest lead-to-member drive, in minutes, said as such
    assert f"小学：组建 {communities['primary']['groups']} 个学校共同体" in points and f"牵头校到成员校车程最长 {longest:.0f} 分钟" in points
    assert "全部" in points and "都有对口学校" in points  # units served
    assert "6108300" not in points  # names, not codes


@pytest.mark.slow
def test_the_document_speaks_plainly(demo: Path) -> None:
    page = (demo / "report.html").read_text(encoding="utf-8")
    text = visible_text(page)
    leaked = [w for w in BLACKLIST if w in text]
    assert leaked == []
    assert not re.search(r"学位使用率 · \d", text)  # a school named by its code
    assert "最长允许到校时间 3," not in text  # the longest lead–member drive, in seconds, mislabelled
    assert "生均教学及辅助用房面积" in text and "每百名学生拥有县级及以上骨干教师数" in text
    appendix = section(page, "appendix")
    assert "最优间隙" in appendix and "下界" in appendix and "村道" in appendix  # solver figures and the road classes present
    summary = json.loads((demo / "network" / "summary.json").read_text(encoding="utf-8"))
    rows = len(re.findall(r"<tr>", page[page.index("道路等级</th>") : page.index("到最近道路的距离")]))
    assert rows == len(summary["edges_by_class"])  # one row per class in the data, not the whole speed table
    for name in ("清涧县第一小学", "清涧县第一中学"):
        assert name in section(page, "zones") and name in section(page, "communities")


@pytest.mark.slow
def test_workbook_has_chinese_headers_names_and_a_readable_summary(demo: Path) -> None:
    book = openpyxl.load_workbook(demo / "report.xlsx", read_only=True)
    summary = list(book["概要"].iter_rows(values_only=True))
    assert summary[0] == ("部分", "项目", "内容") and len(summary) < 80
    assert not any("{" in str(c) for row in summary for c in row)  # no JSON
    for sheet in book.worksheets:
        header = next(sheet.iter_rows(max_row=1, values_only=True))
        english = [h for h in header if re.fullmatch(r"[a-z_]+", str(h))]
        assert english == [], (sheet.title, english)
    moves = list(book["交流名单"].iter_rows(values_only=True))
    assert moves[0][:6] == ("教师编号", "姓名", "派出学校代码", "派出学校", "接收学校代码", "接收学校")
    assert all(r[3] and r[5] for r in moves[1:])  # every school code has its name beside it
    assert {r[6] for r in moves[1:]} <= {"语文", "数学", "英语", "科学", "体育", "音乐", "美术", "道德与法治", "信息技术", "物理",
                                           "化学", "生物", "历史", "地理", "其他"}


@pytest.mark.parametrize(("lang", "title", "points", "other"), [("zh", "方案说明", "本方案要点", "What the plan decides"),
                                                                ("en", "Planning document", "What the plan decides", "本方案要点")])
def test_language_switch(make_run: Callable[..., RunResult], lang: str, title: str, points: str, other: str) -> None:
    run = make_run()
    page = build_report(run, ReportParams(language=lang))
    assert f"· {title}</title>" in page and f'<h2 id="keypoints">{points}</h2>' in page and other not in page
    keypoints = section(page, "keypoints")
    assert "南关小学" in keypoints  # still over capacity in the toy plan: a warning naming the school
    assert ("⚠" in keypoints) and ("仍有 1 所学校超出学位" if lang == "zh" else "1 school(s) remain over capacity") in keypoints
    sheets = report_tables(run, ReportParams(language=lang))
    assert list(sheets["概要" if lang == "zh" else "summary"].columns) == (["部分", "项目", "内容"] if lang == "zh" else ["Part", "Item", "Content"])
    zones = sheets["小学片区" if lang == "zh" else "primary zones"]
    assert list(zones.columns)[:2] == (["学校代码", "学校名称"] if lang == "zh" else ["School code", "School"])


def test_worse_cv_is_a_warning_in_the_key_points(make_run: Callable[..., RunResult]) -> None:
    run = make_run(stages=("rotation",))
    metrics = dict(run.outputs["rotation"].files["metrics.json"])  # type: ignore[call-overload]
    metrics["cv_after"] = {"primary": {"backbone_per_100": 0.60}}
    run.outputs["rotation"].files["metrics.json"] = metrics  # type: ignore[index]
    keypoints = section(build_report(run, ReportParams()), "keypoints")
    assert "⚠ 注意：交流后以下差异系数变差：小学 每百名学生拥有县级及以上骨干教师数 0.450 → 0.600" in keypoints


@pytest.mark.slow
def test_projection_and_layout_sections_carry_the_demo_figures(demo: Path) -> None:
    # issue 17's "the report shows the projected enrolment by year and the layout decisions", read back against the
    # stage files (the same demo run as above: no extra solve)
    page = (demo / "report.html").read_text(encoding="utf-8")
    proj = " ".join(section(page, "projection").split())
    county = pd.read_csv(demo / "projection" / "county.csv", encoding="utf-8-sig")
    assert county["year"].tolist() == list(range(2024, 2035))
    for row in county.itertuples():
        assert f"{row.year} {round(row.births):,} {row.primary:,} {row.junior:,}" in proj
    assert "假设序列，不是本县统计数据" in proj  # the demo's births are an assumption, and the report says so
    rate = (county["births"].iloc[-1] / county["births"].iloc[0]) ** (1 / (len(county) - 1)) - 1
    assert f"2024–2034 年平均每年 {rate:+.1%}" in proj
    lay = " ".join(section(page, "layout").split())
    m = json.loads((demo / "layout" / "metrics.json").read_text(encoding="utf-8"))
    labels = {"keep": "保留", "shrink": "缩减班级", "merge": "撤并", "expand": "扩建", "not built": "不建", "new": "新建", "close": "停办"}
    listed = lay[lay.index("2034 年布局：") + 9 : lay.index("。")].split("，")
    assert sorted(listed) == sorted(f"{labels[k]} {v}" for k, v in m["decisions"].items())
    dec = pd.read_csv(demo / "layout" / "decisions.csv", encoding="utf-8-sig", dtype={"school_id": str, "merged_into": str})
    names = dict(zip(dec["school_id"], dec["name"]))
    merged = dec[dec["decision"] == "merge"]
    assert len(merged) == m["decisions"]["merge"] > 0
    for row in merged.itertuples():  # each merger explained, by name, into the school the decisions name
        assert f"{row.name}撤并入{names[row.merged_into]}：" in lay
    assert f"寄宿 {m['boarders']:,} 人，乘校车 {m['bus_riders']:,} 人" in lay
