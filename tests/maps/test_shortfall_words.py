"""Shortfalls worded in the report's language: the catalogue against the code, the report, the CSV."""

from __future__ import annotations

import dataclasses
import io
import json
import re
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from docx import Document

from geo.errors import Shortfall, figures
from maps.common import ReportParams
from maps.documents import documents
from maps.report import build_report, report_tables
from maps.shortfalls import ITEMS, WORDS, ZH, fill, render
from planning.app.stage import RunResult, StageFailure, shortfalls_table
from planning.app.stages.zones import STAGE, ZonesParams
from planning.improve import ImproveOptions, from_frames
from planning.improve.plan import _training_years
from planning.rotation.plan import _because_figures
from tests.maps.stages.test_layout_renderer import run as layout_run
from tests.planning.app.test_stage_zones import SCHOOLS, context
from tests.planning.improve.test_improve_plan import LIMITS, county

ROOT = Path(__file__).resolve().parents[2]
KIND = re.compile(r"\"((?:zones|layout|communities|rotation|improve)\.[a-z_0-9]+)\"")
ZH_PARAMS = ReportParams(language="zh")
#: ASCII words a Chinese shortfall may hold: the scenario settings it tells the planner to change.
SETTINGS = re.compile(r"\b[a-z]+(?:_[a-z0-9]+)+\b|\[improve\] resources|\byears\b")


def test_every_catalogue_entry_is_a_kind_a_stage_gives() -> None:
    """No dead entry; the other way round (every kind a stage builds has Chinese, and its figures fill the template) is
    checked on every shortfall any test builds (tests/conftest.py)."""
    given = {k for path in (ROOT / "planning").rglob("*.py") for k in KIND.findall(path.read_text(encoding="utf-8"))}
    assert set(ZH) - given == set()
    templates = "".join(["".join(t) for t in ZH.values()] + list(WORDS.values()))
    used_items = set(re.findall(r":each:([a-z_.]+)\}", templates))
    assert used_items == set(ITEMS)


def _english_words(text: str) -> list[str]:
    """ASCII words of 3+ letters left in ``text`` once ids, numbers and the settings' names are taken out."""
    return re.findall(r"[A-Za-z]{3,}", SETTINGS.sub("", text))


OVER = Shortfall(
    "primary school 5301020028 严家庄小学", 273, "seats",
    "270 seats, 543 students zoned there (primary: no whole-block plan found that fits every school)", "zones.over_capacity",
    figures(level="primary", school_id="5301020028", name="严家庄小学", seats=270, students=543, over=273, why="fallback"),
)
BEYOND = Shortfall(
    "unit 150223-017, grades 1-3", 12, "children",
    "no school within the day limit (nearest school for them 48 min away); not placed by the plan: no road ...", "layout.beyond_limits",
    figures(unit="150223-017", group="grades 1-3", limit="day", near_min=47.6, then="unplaced"),
)


def test_a_shortfall_reads_as_a_planner_writes_it() -> None:
    assert render(OVER, "zh") == (
        "小学 5301020028 严家庄小学", "个学位",
        "学位 270 个，划入 543 名学生，超出 273 名（未求得不超学位的整块划片方案，改为尽量少超额）",
    )
    assert render(BEYOND, "zh") == (
        "居住区 150223-017，1–3 年级", "名儿童",
        "走读时限内无学校（最近的学校 48 分钟）；方案未予安置：搜索范围内没有道路通往该学段学校",
    )
    unreachable = dataclasses.replace(BEYOND, figures=figures(unit="7", group="grades 4-6", limit="day_boarding", near="unreachable"))
    assert render(unreachable, "zh")[2] == "走读和寄宿时限内无学校（最近的学校不可达）"  # the optional parts left out
    assert render(OVER, "en") == (OVER.where, "seats", OVER.detail)  # English is the stage's own text


def test_a_kind_the_catalogue_does_not_know_stays_english() -> None:
    plain = Shortfall("county", 5, "seats", "five seats short")
    assert render(plain, "zh") == ("county", "个学位", "five seats short")
    odd = dataclasses.replace(plain, kind="test.unknown", figures=figures(n=5))
    assert render(odd, "zh") == ("county", "个学位", "five seats short")


def test_lists_and_phrases_are_filled_with_the_figures() -> None:
    item = figures(indicator="sports_area_per_pupil", share=0.74, why=("site",), amount=900.0, unit="m² of sports ground", site=1800.0,
                   per_year=30, years=5, hires="")
    gap = Shortfall("严家庄小学 (5301020028, primary)", 900, "m² of sports ground", "below 85 % ...", "improve.gap",
                    figures(name="严家庄小学", school_id="5301020028", level="primary", cause="below_85", standards=(item,)))
    where, unit, detail = render(gap, "zh")
    assert where == "严家庄小学（5301020028，小学）" and unit == "m² 体育运动场馆"
    assert detail == ("有指标达不到标准的 85%：生均体育运动场馆面积至多达到标准的 74%"
                      "（受校园面积所限：运动场至多为 site_area_m2 × sports_site_share），"
                      "还需超出上限 900 m² 体育运动场馆（即场地再扩大 1,800 m²，或在校外共用运动场）；其余标准均已达到")
    assert fill("{why:list}", {"why": ("training_limit", "hires"), "per_year": 30, "years": 5, "hires": 4}) == (
        "培训名额（每年 30 名 × 5 年）已用于需求较少的学校、各项标准共用每校新聘上限（max_hires_per_school 4）")


@pytest.fixture(scope="module")
def zone_shortfalls() -> tuple[Shortfall, ...]:
    """The shortfalls the zones stage itself lists for a toy county with too few seats (tests/planning/app/test_stage_zones.py)."""
    p = ZonesParams(levels=["primary"], multischool=False, feeder=False)
    out = STAGE.run(context(p, SCHOOLS.assign(capacity_primary=[100, 100, 100, 0])), p)
    assert out.shortfalls and all(s.kind == "zones.over_capacity" for s in out.shortfalls)
    return out.shortfalls


def test_chinese_report_has_no_english_sentence_in_its_shortfalls(
    make_run: Callable[..., RunResult], zone_shortfalls: tuple[Shortfall, ...]
) -> None:
    run = make_run()
    outputs = dict(run.outputs)
    outputs["zones"] = dataclasses.replace(outputs["zones"], shortfalls=(*zone_shortfalls, OVER, BEYOND))
    page = build_report(dataclasses.replace(run, outputs=outputs), ZH_PARAMS)
    block = page[page.index('<h2 id="shortfalls">') :]
    block = block[: block.index("<h2", 5)]
    cells = re.findall(r"<td[^>]*>([^<]*)</td>", block)
    assert len(cells) == 4 * (len(zone_shortfalls) + 2)
    assert [c for c in cells if _english_words(c)] == []
    assert "学位 100 个，划入" in block
    sheet = report_tables(dataclasses.replace(run, outputs=outputs), ZH_PARAMS)["未达成目标"]
    assert not [c for c in sheet.astype(str).to_numpy().ravel() if _english_words(c)]


def test_csv_keeps_the_english_and_adds_kind_and_figures(zone_shortfalls: tuple[Shortfall, ...]) -> None:
    table = shortfalls_table((*zone_shortfalls, Shortfall("county", 5, "seats", "five seats short")))
    assert list(table.columns) == ["where", "short_by", "unit", "detail", "kind", "figures"]
    first = zone_shortfalls[0]
    row = table.iloc[0]
    assert (row["where"], row["detail"], row["kind"]) == (first.where, first.detail, "zones.over_capacity")
    back = json.loads(row["figures"])
    assert back == first.values and back["seats"] == 100
    assert table.iloc[-1][["kind", "figures"]].tolist() == ["", ""]
    nested = shortfalls_table([Shortfall("居住区", 5, "students", "...", "zones.own_blocks", figures(
        students=5, max_moved=0, blocks=(figures(block_id="B1", school_id="S1"),)))])
    assert json.loads(nested["figures"][0]) == {"students": 5, "max_moved": 0, "blocks": [{"block_id": "B1", "school_id": "S1"}]}
    assert pd.isna(table["short_by"]).sum() == 0



def test_improve_years_over_their_ceilings_are_worded_in_chinese() -> None:
    """Kinds no stage test builds: a measure too large for any year before the last, and a year training too many."""
    schools, teachers = county(1, floor_area_m2=300.0)  # 90 m² of floor area, 270,000 yuan, in one piece
    plan = from_frames(schools, teachers, options=ImproveOptions(years=3, budget_per_year_yuan=100_000), limits=LIMITS)
    last = [s for s in plan.shortfalls if s.kind == "improve.year_last"]
    assert [render(s, "zh") for s in last] == [("第 3 年", "元", "无法排入更早年份的措施在最后一年超出年度预算（budget_per_year_yuan）170,000 元")]
    measures = pd.DataFrame({"resource": ["backbone_teachers"] * 2, "year": [1, 2], "quantity": [1, 4], "cost_yuan": [0, 0]})
    made: list[Shortfall] = []
    _training_years(measures, ImproveOptions(years=2, backbone_per_year=2), [], made)
    assert [render(s, "zh")[::2] for s in made] == [
        ("第 2 年", "2 名骨干教师超出每年培训名额（backbone_per_year 2）：前几年资金不足，未用足其培训名额；可提高 budget_per_year_yuan 或 years"),
    ]


def test_the_failure_section_words_the_stopping_stage_s_shortfalls_in_chinese(make_run: Callable[..., RunResult]) -> None:
    failed = StageFailure("layout", "infeasible", "no layout can serve every child within the policy limits", (BEYOND,), "add a site")
    page = build_report(dataclasses.replace(make_run(stages=("zones",)), failed=failed), ZH_PARAMS)
    failure = page[page.index('<h2 id="failed">') : page.index('<h2 id="summary">')]
    assert "<td>居住区 150223-017，1–3 年级</td>" in failure and "走读时限内无学校（最近的学校 48 分钟）" in failure
    assert "nearest school" not in failure


def test_the_layout_document_words_its_shortfalls_in_its_language() -> None:
    r = layout_run()
    r.outputs["layout"] = dataclasses.replace(r.outputs["layout"], shortfalls=(BEYOND,))
    rows = {lang: [[c.text for c in row.cells] for t in Document(io.BytesIO(documents(r, ReportParams(language=lang), maps=())[
        "documents/layout.docx"])).tables for row in t.rows] for lang in ("zh", "en")}
    assert ["1", "居住区 150223-017，1–3 年级", "12名儿童", render(BEYOND, "zh")[2]] in rows["zh"]
    assert ["1", BEYOND.where, "12 children", BEYOND.detail] in rows["en"]


def test_a_quota_the_never_worse_rule_leaves_short_names_the_cvs_it_keeps() -> None:
    because = ("meeting the quota in full (short by 7 movers, 0 backbone instead) would raise primary backbone_per_100 (quality) CV "
               "from 1.0066 to 1.0556; the plan never makes a targeted CV worse (never_worse)")
    s = Shortfall("the sending schools together", 9, "movers", f"rotation quota 15, 6 met: {because}", "rotation.quota",
                  figures(group="the sending schools together", quota=15, met=6, **_because_figures(because)))
    assert render(s, "zh")[::2] == ("全部派出校合计", "交流轮岗定额 15 名，完成 6 名：全额完成定额（不受此规则约束时仍差 7 名交流教师、0 名骨干教师）"
                                    "会使目标差异系数变大：小学·每百名学生拥有县级及以上骨干教师数（优质均衡）差异系数由 1.0066 升至 1.0556；"
                                    "方案不使任何目标差异系数变差（never_worse）")
