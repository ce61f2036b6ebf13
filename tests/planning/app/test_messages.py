"""Input problems in Chinese: the frame (file, sheet, Excel row, the user's header) and the usual messages (issue 15)."""

from __future__ import annotations

from pathlib import Path

import pytest

from geo.errors import Problem
from planning.app.messages import message_zh, problem_text, scenario_language


@pytest.mark.parametrize(
    ("english", "chinese"),
    [
        ("missing value", "缺少值"),
        ("empty id", "编号为空"),
        ("not a yes/no value: '也许' (use true/false, 1/0, yes/no or 是/否)", "不是“是/否”：'也许'（请填 是/否、1/0、true/false）"),
        ("negative value -3; must be ≥ 0", "负数 -3；不能小于 0"),
        (
            "not a yes/no value: '高' (use true/false, 1/0, yes/no or 是/否, 县级骨干/市级骨干/省级骨干/校级骨干)",
            "无法识别的值 '高'（请填 县级骨干/市级骨干/省级骨干/校级骨干 或 是/否）",
        ),
        ("implausibly small: '12' (less than 18: teachers are 18–70 years old)", "数值过小：'12'（小于 18）"),
        ("school 'S2' does not teach primary (level junior)", "学校 'S2' 没有小学学段（学段 junior）"),
        ("duplicate ids: S1 (rows 2, 3); ids must be unique", "编号重复：S1 (rows 2, 3)；编号必须唯一"),
        ("unknown value 'x'; valid values: M, F (or 女, 男)", "无法识别的值 'x'；可填：女、男"),
        ("a message without a pattern", "a message without a pattern"),
    ],
)
def test_message_zh(english: str, chinese: str) -> None:
    assert message_zh(english) == chinese


def test_problem_text_names_file_sheet_row_and_the_users_header() -> None:
    p = Problem("data.xlsx (sheet 学校)", "missing value", row="row 7 (school_id S6)", column="level", header="学段")
    assert problem_text(p, "zh") == "data.xlsx（工作表 学校），第 7 行（学校代码 S6），“学段”列：缺少值"
    assert problem_text(p, "en") == str(p) == "data.xlsx (sheet 学校), row 7 (school_id S6), column '学段' (level): missing value"
    assert problem_text(Problem("s.gpkg", "empty id", row=4, column="school_id"), "zh") == "s.gpkg，第 4 行，“school_id”列：编号为空"


def test_scenario_language(tmp_path: Path) -> None:
    (tmp_path / "a.toml").write_text('[report]\nlanguage = "zh"\n', encoding="utf-8")
    (tmp_path / "b.toml").write_text('name = "x"\n', encoding="utf-8")
    (tmp_path / "c.toml").write_text("not toml [", encoding="utf-8")
    assert scenario_language(tmp_path / "a.toml") == "zh"
    assert scenario_language(tmp_path / "b.toml") is None
    assert scenario_language(tmp_path / "c.toml") is None
    assert scenario_language(tmp_path / "missing.toml") is None


def test_notes_of_loading_in_chinese() -> None:
    from planning.app.messages import warning_zh

    assert warning_zh("in.xlsx: the teachers layer is read from sheet '教师'") == "in.xlsx：教师数据读自工作表“教师”"
    assert warning_zh("in.xlsx: the schools layer is read from sheet 'Sheet1' (no sheet is named schools or 学校)") == (
        "in.xlsx：学校数据读自工作表“Sheet1”（没有以该图层命名的工作表，请核对）"
    )
    note = (
        "in.xlsx (sheet 教师), column '所在学校' (school_id): 12 row(s) name their school instead of giving its code; "
        "each name belongs to one school and was replaced by its code"
    )
    assert warning_zh(note) == "in.xlsx（工作表 教师），“所在学校”列：12 行填写的是学校名称，已换成该名称唯一对应的学校代码"
    assert warning_zh("something else") == "something else"
