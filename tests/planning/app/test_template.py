"""``schoolplan template``: the workbook a bureau fills in loads as written, and filled with a county runs end to end (issue 15)."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import openpyxl
import pandas as pd
import pytest

from geo.crs import wgs84_to_gcj02
from geo.demo import build_demo
from geo.model import SUBJECT_ALIASES
from planning.app.cli import main
from planning.app.runner import run_scenario
from planning.app.scenario import load_scenario
from planning.app.session import load_scenario_data
from planning.app.template import EXAMPLE, SCENARIO, SHEETS, WORKBOOK, template_columns, template_scenario, template_workbook
from planning.app.writer import write_files

pytestmark = pytest.mark.filterwarnings("ignore::geo.validate.InputWarning")


def test_template_command_writes_the_workbook_and_it_validates_as_written(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "county"
    assert main(["template", "--out", str(out)]) == 0
    wb = openpyxl.load_workbook(out / WORKBOOK)
    assert wb.sheetnames == ["说明", "学校", "居住区", "教师", "道路说明"]
    teachers = wb["教师"]
    headers = [c.value for c in teachers[1]]
    assert headers[:4] == ["教师编号", "姓名", "所在学校", "任教学科"]
    assert [c.value for c in teachers[2]][:4] == ["T00001", "张三", "示例小学", "数学"]
    assert teachers.cell(1, 1).comment is not None and "必填" in teachers.cell(1, 1).comment.text
    lists = {str(dv.sqref).split(":")[0]: dv.formula1 for dv in teachers.data_validations.dataValidation}
    title_col = openpyxl.utils.get_column_letter(headers.index("职称") + 1)
    assert lists[f"{title_col}2"] == '"未定级,三级教师,二级教师,一级教师,高级教师,正高级教师"'
    school_col = openpyxl.utils.get_column_letter(headers.index("所在学校") + 1)
    assert lists[f"{school_col}2"].startswith("'学校'!$B$2")  # the school names of the 学校 sheet
    level_list = next(dv.formula1 for dv in wb["学校"].data_validations.dataValidation if str(dv.sqref).startswith("C2"))
    assert level_list == '"小学,初中,九年一贯制"'
    # loading it unchanged works: the example rows are valid
    assert main(["validate", str(out / SCENARIO)]) == 0
    assert "schools 1, blocks 1, teachers 1" in capsys.readouterr().out
    # a second template into the same folder does not overwrite the user's filled workbook
    assert main(["template", "--out", str(out)]) == 2
    assert "already exists" in capsys.readouterr().err


def test_template_lists_hold_values_the_loader_accepts() -> None:
    accepted = set(SUBJECT_ALIASES)
    for layer in SHEETS:
        for col in template_columns(layer):
            if col.name == "subject":
                assert set(col.choices) <= accepted
                assert {"综合实践", "心理健康", "劳动", "书法"} <= set(col.choices)
        assert set(EXAMPLE[layer]) <= {c.name for c in template_columns(layer)}


def test_template_bytes_are_deterministic(tmp_path: Path) -> None:
    write_files(tmp_path / "a", {WORKBOOK: template_workbook()})
    write_files(tmp_path / "b", {WORKBOOK: template_workbook()})
    assert (tmp_path / "a" / WORKBOOK).read_bytes() == (tmp_path / "b" / WORKBOOK).read_bytes()


# --- the demo county typed into the template as a bureau would ----------------------------------

_ZH = {
    "level": {"primary": "小学", "junior": "初中", "nine_year": "九年一贯制"},
    "area_type": {"urban": "城区", "town": "镇区", "rural": "乡村"},
    "title": {"junior": "二级教师", "intermediate": "一级教师", "senior": "高级教师"},
    "sex": {"M": "男", "F": "女"},
}
_SUBJECT_ZH = {canon: zh for zh, canon in reversed(list(SUBJECT_ALIASES.items()))}


def _gcj(points: gpd.GeoSeries) -> tuple[np.ndarray, np.ndarray]:
    wgs = points.to_crs(4326)
    return wgs84_to_gcj02(wgs.x.to_numpy(), wgs.y.to_numpy())


def _as_bureau(frame: pd.DataFrame, names: dict[str, str]) -> list[dict[str, Any]]:
    """Rows with Chinese values, GCJ-02 coordinates and school names instead of codes."""
    df = pd.DataFrame(frame.drop(columns="geometry", errors="ignore")).copy()
    if isinstance(frame, gpd.GeoDataFrame):
        df["lon"], df["lat"] = _gcj(frame.geometry.representative_point())
    for col, mapping in _ZH.items():
        if col in df.columns:
            df[col] = df[col].map(lambda v, m=mapping: m.get(v, v))
    if "subject" in df.columns:
        df["subject"] = df["subject"].map(_SUBJECT_ZH)
        df["backbone"] = np.where(df["backbone"], "县级骨干", "否")
        lon, lat = wgs84_to_gcj02(df["home_lon"].to_numpy(float), df["home_lat"].to_numpy(float))
        df["home_lon"], df["home_lat"] = lon, lat
    for col in ["school_id"] if "teacher_id" in df.columns else ["current_primary", "current_junior"]:
        if names:
            df[col] = df[col].map(lambda v: names.get(v, v))
    return [{k: v for k, v in r.items() if not (isinstance(v, float) and np.isnan(v))} for r in df.to_dict("records")]


def test_a_template_filled_with_the_demo_county_runs_end_to_end(tmp_path: Path) -> None:
    demo = build_demo("610830", scale=0.3, seed=7)
    inp = demo.inputs
    names = dict(zip(inp.schools["school_id"], inp.schools["name"], strict=True))
    assert inp.teachers is not None and inp.roads is not None
    rows = {
        "schools": _as_bureau(inp.schools, {}),
        "blocks": _as_bureau(inp.blocks, names),
        "teachers": _as_bureau(inp.teachers.drop(columns=["home_x", "home_y"], errors="ignore"), names),
    }
    files = {WORKBOOK: template_workbook(rows), "roads.gpkg": inp.roads.to_crs(4326)}
    scenario = template_scenario().replace('# roads = "roads.gpkg"', 'roads = "roads.gpkg"')
    files[SCENARIO] = scenario.replace("time_limit_s = 30", "time_limit_s = 2\nworkers = 1")
    write_files(tmp_path / "in", files)
    book = pd.read_excel(io.BytesIO(files[WORKBOOK]), sheet_name="教师", dtype=str)
    assert {"姓名", "任教学科", "职称", "骨干教师", "所在学校"} <= set(book.columns)
    assert book["所在学校"].isin(inp.schools["name"]).all()  # names, not codes

    scenario_file = load_scenario(tmp_path / "in" / SCENARIO)
    loaded_inputs = load_scenario_data(scenario_file).inputs
    # GCJ-02 read back to the demo's own positions (within a metre), names back to codes
    back = loaded_inputs.schools.set_index("school_id").geometry.to_crs(inp.schools.crs)
    assert back.distance(inp.schools.set_index("school_id").geometry.loc[back.index]).max() < 1.0
    assert loaded_inputs.teachers is not None
    assert loaded_inputs.teachers["school_id"].tolist() == inp.teachers["school_id"].tolist()
    assert loaded_inputs.blocks["current_primary"].tolist() == inp.blocks["current_primary"].tolist()

    summary = run_scenario(scenario_file, tmp_path / "out", render=False)
    assert summary.failed is None
    loaded = summary.run.outputs
    assert set(loaded) >= {"zones", "balance", "communities", "rotation"}
    moves = pd.read_csv(tmp_path / "out" / "rotation" / "moves.csv", dtype=str)
    assert len(moves) > 0
    teacher_names = set(inp.teachers["name"])
    assert moves.filter(like="name").apply(lambda c: c.isin(teacher_names)).any().any()  # 姓名 carried to the roster


# --- messages in the bureau's words -----------------------------------------------------------------


def test_errors_in_a_filled_template_are_in_chinese_naming_sheet_excel_row_and_header(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = [{**EXAMPLE["teachers"], "teacher_id": f"T{i:05d}"} for i in range(1, 100)]
    rows[89] = {**rows[89], "subject": "数学课", "age": 130}  # the 90th teacher: Excel's row 91
    rows[9] = {**rows[9], "school_id": "没有这所学校"}
    write_files(tmp_path, {WORKBOOK: template_workbook({"teachers": rows}), SCENARIO: template_scenario()})
    assert main(["validate", str(tmp_path / SCENARIO)]) == 2  # the scenario says [report] language = "zh"
    err = capsys.readouterr().err
    assert "错误： 输入数据有 3 个问题：" in err
    assert f"{tmp_path / WORKBOOK}（工作表 教师），第 91 行（教师编号 T00090），“任教学科”列：无法识别的值 '数学课'；可填：书法、" in err
    assert "第 91 行（教师编号 T00090），“年龄”列：数值过大：'130'（超过 70）" in err
    assert "第 11 行（教师编号 T00010），“所在学校”列：找不到学校 '没有这所学校'（既不是学校代码，也不是学校名称）" in err
    assert main(["validate", str(tmp_path / SCENARIO), "--lang", "en"]) == 2
    err = capsys.readouterr().err
    assert f"{tmp_path / WORKBOOK} (sheet 教师), row 91 (teacher_id T00090), column '任教学科' (subject): unknown value '数学课'" in err
