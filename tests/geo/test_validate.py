"""The validation matrix: each kind of bad input gives a message naming layer, row, column and what is wrong."""

from __future__ import annotations

import importlib.util
import warnings
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import pytest
from geopandas.testing import assert_geodataframe_equal
from shapely.geometry import LineString, Point, Polygon, box

from geo.errors import InputError
from geo.io import load_inputs
from geo.model import SCHOOLS
from geo.validate import InputNote, InputWarning, rename_aliases, validate_inputs

# A toy county near Qingjian (110.1°E, 37.1°N), WGS84.
LON0, LAT0 = 110.10, 37.10
UTM49N = 32649


def schools(**columns: Any) -> gpd.GeoDataFrame:
    data: dict[str, Any] = {
        "school_id": ["S1", "S2", "S3"],
        "name": ["城关小学", "城关中学", "乡九年制"],
        "level": ["primary", "junior", "nine_year"],
        "area_type": ["urban", "urban", "rural"],
        "capacity_primary": [900, None, 270],
        "capacity_junior": [None, 1000, 150],
        "enrolled_primary": [800, None, 200],
        "enrolled_junior": [None, 900, 100],
    }
    data.update(columns)
    geometry = data.pop("geometry", [Point(LON0, LAT0), Point(LON0 + 0.01, LAT0), Point(LON0 + 0.1, LAT0 + 0.05)])
    return gpd.GeoDataFrame(data, geometry=geometry, crs=4326)


def blocks(**columns: Any) -> gpd.GeoDataFrame:
    data: dict[str, Any] = {
        "block_id": ["B1", "B2"],
        "students_primary": [120, 40],
        "students_junior": [60, 20],
        "current_primary": ["S1", "S3"],
        "current_junior": ["S2", "S3"],
    }
    data.update(columns)
    geometry = data.pop(
        "geometry", [Point(LON0 + 0.002, LAT0 + 0.001), box(LON0 + 0.09, LAT0 + 0.04, LON0 + 0.095, LAT0 + 0.045)]
    )
    return gpd.GeoDataFrame(data, geometry=geometry, crs=4326)


def teachers(**columns: Any) -> pd.DataFrame:
    data: dict[str, Any] = {
        "teacher_id": ["T1", "T2"],
        "school_id": ["S1", "S3"],
        "subject": ["math", "语文"],
        "backbone": [True, "否"],
        "above_qualification": ["是", 0],
        "title": ["senior", "中级"],
        "years_at_school": [8, "3"],
        "age": [45, 29],
        "sex": ["F", "男"],
    }
    data.update(columns)
    return pd.DataFrame(data)


def county() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"name": ["清涧县"]}, geometry=[box(LON0 - 0.05, LAT0 - 0.05, LON0 + 0.2, LAT0 + 0.15)], crs=4326)


def problems_of(excinfo: pytest.ExceptionInfo[InputError]) -> list[str]:
    return [str(p) for p in excinfo.value.problems]


# --- what valid input becomes -----------------------------------------------------------------


def test_valid_layers_become_canonical_and_metric() -> None:
    inp = validate_inputs(schools(), blocks(), teachers(), boundary=county(), sources={"schools": "schools.gpkg"})
    assert inp.metric_crs.to_epsg() == UTM49N
    for frame in (inp.schools, inp.blocks, inp.boundary):
        assert frame.crs.to_epsg() == UTM49N
    s = inp.schools
    assert s["school_id"].tolist() == ["S1", "S2", "S3"]
    assert str(s["school_id"].dtype) == "str"
    # 0 seats and pupils at the level a school does not teach
    assert s["capacity_primary"].tolist() == [900, 0, 270]
    assert s["capacity_junior"].tolist() == [0, 1000, 150]
    assert s["enrolled_primary"].tolist() == [800, 0, 200]
    assert s["capacity_primary"].dtype == np.int64 and s["enrolled_junior"].dtype == np.int64
    t = inp.teachers
    assert t["subject"].tolist() == ["math", "chinese"]
    assert t["backbone"].tolist() == [True, False] and t["backbone"].dtype == bool
    assert t["above_qualification"].tolist() == [True, False]
    assert t["title"].tolist() == ["senior", "intermediate"]
    assert t["sex"].tolist() == ["F", "M"]
    assert t["years_at_school"].tolist() == [8, 3] and t["years_at_school"].dtype == np.int64
    assert inp.sources == {"schools": "schools.gpkg", "blocks": "given", "teachers": "given", "boundary": "given"}
    # metric: 0.01° of longitude at 37.1°N is about 888 m
    d = s.geometry.iloc[0].distance(s.geometry.iloc[1])
    assert d == pytest.approx(888, rel=0.01)


def test_capacity_from_classes_times_class_size() -> None:
    s = schools(capacity_primary=[None, None, None], capacity_junior=[None, None, 100], classes_primary=[20, None, 6], classes_junior=[None, 24, 3])
    out = validate_inputs(s).schools
    assert out["capacity_primary"].tolist() == [20 * 45, 0, 6 * 45]
    assert out["capacity_junior"].tolist() == [0, 24 * 50, 100]  # a given capacity wins over classes


def test_missing_enrolled_columns_become_zero() -> None:
    s = schools().drop(columns=["enrolled_primary", "enrolled_junior"])
    out = validate_inputs(s).schools
    assert out["enrolled_primary"].tolist() == [0, 0, 0]
    assert out["enrolled_junior"].tolist() == [0, 0, 0]


def test_chinese_headers_and_values_are_accepted() -> None:
    s = schools().rename(columns={"school_id": "学校代码", "name": " 学校名称 ", "level": "学段", "area_type": "城乡类型"})
    s["学段"] = ["小学", "初中", "九年一贯制"]
    s["城乡类型"] = ["城区", "镇区", "农村"]
    out = validate_inputs(s).schools
    assert out["level"].tolist() == ["primary", "junior", "nine_year"]
    assert out["area_type"].tolist() == ["urban", "town", "rural"]
    assert list(out.columns[:4]) == ["school_id", "name", "level", "area_type"]


def test_spreadsheet_float_ids_become_clean_strings() -> None:
    s = schools(school_id=[1001.0, 1002.0, 1003.0])
    b = blocks(current_primary=[1001.0, 1003.0], current_junior=["1002", "1003"])
    inp = validate_inputs(s, b)
    assert inp.schools["school_id"].tolist() == ["1001", "1002", "1003"]
    assert inp.blocks["current_primary"].tolist() == ["1001", "1003"]


def test_validation_is_idempotent() -> None:
    first = validate_inputs(schools(), blocks(), teachers(), boundary=county())
    again = validate_inputs(first.schools, first.blocks, first.teachers, boundary=first.boundary, metric_crs=first.metric_crs)
    assert_geodataframe_equal(first.schools, again.schools)
    assert_geodataframe_equal(first.blocks, again.blocks)
    pd.testing.assert_frame_equal(first.teachers, again.teachers)


def test_teacher_homes_get_metric_columns() -> None:
    t = teachers(home_lon=[LON0, None], home_lat=[LAT0, None])
    out = validate_inputs(schools(), teachers=t).teachers
    x, y = pyproj.Transformer.from_crs(4326, UTM49N, always_xy=True).transform(LON0, LAT0)
    assert out["home_x"].iloc[0] == pytest.approx(x) and out["home_y"].iloc[0] == pytest.approx(y)
    assert np.isnan(out["home_x"].iloc[1])


def test_table_with_lon_lat_columns_is_taken_as_wgs84_points() -> None:
    s = pd.DataFrame(schools().drop(columns="geometry"))
    s["经度"] = [LON0, LON0 + 0.01, LON0 + 0.1]
    s["纬度"] = [LAT0, LAT0, LAT0 + 0.05]
    out = validate_inputs(s).schools
    assert out.crs.to_epsg() == UTM49N
    assert out.geometry.iloc[0].x == pytest.approx(
        pyproj.Transformer.from_crs(4326, UTM49N, always_xy=True).transform(LON0, LAT0)[0]
    )


def test_no_blocks_gives_an_empty_canonical_layer() -> None:
    inp = validate_inputs(schools())
    assert len(inp.blocks) == 0
    assert {"block_id", "students_primary", "students_junior"} <= set(inp.blocks.columns)
    assert inp.blocks.crs == inp.metric_crs


def test_osm_reverse_oneway_reverses_the_line() -> None:
    roads = gpd.GeoDataFrame(
        {"highway": ["primary", "residential"], "oneway": ["-1", "no"], "speed_kmh": [60, None]},
        geometry=[LineString([(LON0, LAT0), (LON0 + 0.01, LAT0)]), LineString([(LON0, LAT0), (LON0, LAT0 + 0.01)])],
        crs=4326,
    )
    out = validate_inputs(schools(), roads=roads).roads
    assert out["oneway"].tolist() == [True, False]
    first = out.geometry.iloc[0].coords
    assert first[0][0] > first[1][0]  # now drawn east → west
    assert np.isnan(out["speed_kmh"].iloc[1])


# --- the validation matrix: errors ---------------------------------------------------------------


def test_missing_required_column_lists_accepted_headers() -> None:
    with pytest.raises(InputError, match=r"schools\.csv, column 'level': missing required column 'level' \(accepted headers: level, 学段"):
        validate_inputs(schools().drop(columns="level"), sources={"schools": "schools.csv"})


def test_missing_required_column_suggests_a_close_header() -> None:
    s = schools().rename(columns={"school_id": "学校代号"})
    with pytest.raises(InputError, match=r"missing required column 'school_id' .*; is '学校代号' meant to be it\?"):
        validate_inputs(s)
    s = schools().rename(columns={"area_type": "areatype"})
    with pytest.raises(InputError, match=r"missing required column 'area_type' .*; is 'areatype' meant to be it\?"):
        validate_inputs(s)


def test_duplicate_ids_are_listed() -> None:
    s = schools(school_id=["S1", "S1", "S3"])
    with pytest.raises(InputError, match=r"column 'school_id': duplicate ids: S1 \(×2\)"):
        validate_inputs(s)


def test_negative_count() -> None:
    with pytest.raises(InputError, match=r"blocks, block_id B2, column 'students_primary': negative value -4; must be ≥ 0"):
        validate_inputs(schools(), blocks(students_primary=[10, -4]))


def test_non_integer_count() -> None:
    with pytest.raises(InputError, match=r"block_id B1, column 'students_junior': not a whole number: 2.5"):
        validate_inputs(schools(), blocks(students_junior=[2.5, 3]))


def test_non_numeric_count() -> None:
    with pytest.raises(InputError, match=r"school_id S1, column 'capacity_primary': not a number: 'many'"):
        validate_inputs(schools(capacity_primary=["many", None, 10]))


def test_missing_required_value() -> None:
    with pytest.raises(InputError, match=r"teacher_id T2, column 'age': missing value"):
        validate_inputs(schools(), teachers=teachers(age=[40, None]))


def test_empty_id() -> None:
    with pytest.raises(InputError, match=r"schools, row 2, column 'school_id': empty id"):
        validate_inputs(schools(school_id=["S1", " ", "S3"]))


def test_bad_enum_lists_valid_values() -> None:
    with pytest.raises(InputError, match=r"school_id S2, column 'level': unknown value 'high'; valid values: primary, junior, nine_year \(or"):
        validate_inputs(schools(level=["primary", "high", "nine_year"]))


def test_bad_subject_lists_valid_values() -> None:
    with pytest.raises(InputError, match=r"teacher_id T1, column 'subject': unknown value 'dance'; valid values: chinese, math"):
        validate_inputs(schools(), teachers=teachers(subject=["dance", "math"]))


def test_bad_boolean() -> None:
    with pytest.raises(InputError, match=r"teacher_id T2, column 'backbone': not a yes/no value: 'maybe'"):
        validate_inputs(schools(), teachers=teachers(backbone=[True, "maybe"]))


def test_empty_geometry() -> None:
    s = schools(geometry=[Point(LON0, LAT0), Point(), None])
    with pytest.raises(InputError) as excinfo:
        validate_inputs(s)
    assert problems_of(excinfo) == [
        "schools, school_id S2, column 'geometry': empty or missing geometry",
        "schools, school_id S3, column 'geometry': empty or missing geometry",
    ]


def test_invalid_geometry_names_the_reason() -> None:
    bowtie = Polygon([(LON0, LAT0), (LON0 + 0.01, LAT0 + 0.01), (LON0 + 0.01, LAT0), (LON0, LAT0 + 0.01)])
    b = blocks(geometry=[Point(LON0, LAT0), bowtie])
    with pytest.raises(InputError, match=r"blocks, block_id B2, column 'geometry': invalid geometry \(Self-intersection"):
        validate_inputs(schools(), b)


def test_wrong_geometry_type() -> None:
    s = schools(geometry=[Point(LON0, LAT0), LineString([(LON0, LAT0), (LON0 + 0.01, LAT0)]), Point(LON0, LAT0)])
    with pytest.raises(InputError, match=r"school_id S2, column 'geometry': wrong geometry type LineString; schools must be points"):
        validate_inputs(s)


def test_unknown_school_referenced_from_blocks() -> None:
    with pytest.raises(InputError, match=r"blocks, block_id B2, column 'current_primary': unknown school id 'S9' \(not a code or name in schools\)"):
        validate_inputs(schools(), blocks(current_primary=["S1", "S9"]))


def test_block_current_school_must_teach_the_level() -> None:
    with pytest.raises(InputError, match=r"block_id B1, column 'current_primary': school 'S2' does not teach primary"):
        validate_inputs(schools(), blocks(current_primary=["S2", "S3"]))


def test_unknown_school_referenced_from_teachers() -> None:
    with pytest.raises(InputError, match=r"teachers, teacher_id T2, column 'school_id': unknown school id 'X7'"):
        validate_inputs(schools(), teachers=teachers(school_id=["S1", "X7"]))


def test_missing_crs() -> None:
    s = schools().set_crs(None, allow_override=True)
    with pytest.raises(InputError, match=r"schools\.shp: no coordinate system \(CRS\).*declare it for this layer"):
        validate_inputs(s, sources={"schools": "schools.shp"})


def test_swapped_lon_lat() -> None:
    s = schools(geometry=[Point(LON0, LAT0), Point(LAT0, LON0 + 0.01), Point(LON0, LAT0)])
    with pytest.raises(InputError, match=r"school_id S2, column 'geometry': coordinates look like swapped lon/lat \(lon=37.100000, lat=110.110000\)"):
        validate_inputs(s)


def test_coordinates_outside_china() -> None:
    s = schools(geometry=[Point(LON0, LAT0), Point(LON0, LAT0), Point(2.35, 48.85)])
    with pytest.raises(
        InputError, match=r"school_id S3, column 'geometry': outside China \(lon=2.350000, lat=48.850000; expected lon 73–135, lat 18–54\)"
    ):
        validate_inputs(s)


def test_swapped_teacher_home() -> None:
    t = teachers(home_lon=[LAT0, LON0], home_lat=[LON0, LAT0])
    with pytest.raises(InputError, match=r"teacher_id T1, column 'home_lon': coordinates look like swapped"):
        validate_inputs(schools(), teachers=t)


def test_block_far_outside_boundary_is_an_error() -> None:
    b = blocks(geometry=[Point(LON0 + 0.002, LAT0), Point(LON0 + 0.4, LAT0)])  # ~17.7 km east of the box
    with pytest.raises(InputError, match=r"block_id B2, column 'geometry': 1[0-9]\.\d km outside the boundary \(more than 5 km\)"):
        validate_inputs(schools(), b, boundary=county())


def test_block_slightly_outside_boundary_is_a_warning() -> None:
    b = blocks(geometry=[Point(LON0 + 0.002, LAT0), Point(LON0 + 0.21, LAT0)])  # ~890 m east of the box
    with pytest.warns(InputWarning, match=r"1 blocks lie slightly outside the boundary \(up to 8\d\d m\): block_id B2"):
        inp = validate_inputs(schools(), b, boundary=county())
    assert len(inp.blocks) == 2


def test_empty_layer() -> None:
    with pytest.raises(InputError, match=r"blocks\.gpkg: the layer is empty \(no rows\)"):
        validate_inputs(schools(), blocks().iloc[:0], sources={"blocks": "blocks.gpkg"})


def test_missing_schools_layer() -> None:
    with pytest.raises(InputError, match="the schools layer is required"):
        validate_inputs(None)  # type: ignore[arg-type]


def test_not_a_table() -> None:
    with pytest.raises(InputError, match="expected a table \\(DataFrame\\), got list"):
        validate_inputs([1, 2])  # type: ignore[arg-type]


def test_no_capacity_for_a_taught_level() -> None:
    s = schools(capacity_primary=[None, None, 270])
    with pytest.raises(
        InputError,
        match=r"school_id S1, column 'capacity_primary': no capacity for a school that teaches primary: "
        r"give capacity_primary \(seats\) or classes_primary",
    ):
        validate_inputs(s)


def test_two_headers_for_one_column() -> None:
    s = schools()
    s["学校代码"] = s["school_id"]
    with pytest.raises(InputError, match=r"column 'school_id': headers 'school_id' and '学校代码' both mean 'school_id'; keep one"):
        validate_inputs(s)


def test_every_problem_of_every_layer_at_once() -> None:
    s = schools(level=["primary", "high", "nine_year"])
    b = blocks(students_primary=[-1, 3], current_junior=["S2", "S0"])
    t = teachers(sex=["F", "X"])
    with pytest.raises(InputError) as excinfo:
        validate_inputs(s, b, t, sources={"schools": "s.csv", "blocks": "b.gpkg", "teachers": "t.xlsx"})
    text = str(excinfo.value)
    assert text.startswith("4 problems found in the input:")
    for part in (
        "s.csv, row 3 (school_id S2), column 'level'",  # CSV/Excel: the row there (header = row 1) and the id
        "b.gpkg, block_id B1, column 'students_primary'",
        "t.xlsx, row 3 (teacher_id T2), column 'sex'",
        "b.gpkg, block_id B2, column 'current_junior'",
    ):
        assert part in text


def test_many_bad_rows_are_capped_with_a_count() -> None:
    n = 30
    b = gpd.GeoDataFrame(
        {"block_id": [f"B{i}" for i in range(n)], "students_primary": [-1] * n, "students_junior": [0] * n},
        geometry=[Point(LON0, LAT0)] * n,
        crs=4326,
    )
    with pytest.raises(InputError, match=r"\.\.\. and 10 more rows with the same kind of problem") as excinfo:
        validate_inputs(schools(), b)
    assert len(excinfo.value.problems) == 21


# --- the validation matrix: warnings -------------------------------------------------------------


def test_zero_capacity_at_a_taught_level_warns() -> None:
    with pytest.warns(InputWarning, match=r"column 'capacity_junior': 1 schools teaching junior have zero capacity \(school_id S3\)") as record:
        out = validate_inputs(schools(capacity_junior=[None, 1000, 0])).schools
    assert out["capacity_junior"].tolist() == [0, 1000, 0]
    assert record[0].filename == __file__  # the warning points at the caller


def test_seats_for_a_level_not_taught_warn_and_become_zero() -> None:
    with pytest.warns(InputWarning, match=r"1 schools that do not teach junior have seats for it \(school_id S1\); set to 0"):
        out = validate_inputs(schools(capacity_junior=[300, 1000, 150])).schools
    assert out["capacity_junior"].tolist() == [0, 1000, 150]


def test_missing_optional_counts_warn_and_become_zero() -> None:
    with pytest.warns(InputWarning, match=r"column 'left_behind': missing in 1 rows \(block_id B2\); taken as 0"):
        out = validate_inputs(schools(), blocks(left_behind=[3, None])).blocks
    assert out["left_behind"].tolist() == [3, 0]


def test_issue14_case16_teacher_ages_outside_18_to_70_are_input_errors() -> None:
    with pytest.raises(InputError) as excinfo:
        validate_inputs(schools(), teachers=teachers(age=[45, 7], years_at_school=[8, 300]))
    assert problems_of(excinfo) == [
        "teachers, teacher_id T2, column 'years_at_school': implausibly large: 300 (more than 52: longer than a whole teaching career)",
        "teachers, teacher_id T2, column 'age': implausibly small: 7 (less than 18: teachers are 18–70 years old)",
    ]


def test_issue14_case16_age_error_names_the_file_the_row_there_and_the_users_header(tmp_path: Path) -> None:
    # 25 teachers aged 200 in a CSV whose age header is 年龄: one line per row up to 20, then a count
    (tmp_path / "schools.csv").write_text(
        "学校代码,学校名称,学段,城乡类型,小学学位数,经度,纬度\nS1,城关小学,小学,城区,900,110.10,37.10\n", encoding="utf-8"
    )
    rows = [f"T{i},S1,数学,否,是,中级,3,{45 if i == 1 else 200},男" for i in range(1, 27)]
    (tmp_path / "teachers.csv").write_text(
        "教师编号,学校代码,任教学科,骨干教师,学历达标以上,职称,本校任教年限,年龄,性别\n" + "\n".join(rows) + "\n", encoding="utf-8"
    )
    with pytest.raises(InputError) as excinfo:
        load_inputs({"schools": tmp_path / "schools.csv", "teachers": tmp_path / "teachers.csv"})
    found = problems_of(excinfo)
    assert len(found) == 21
    # T2 is on line 3 of the file (the header is line 1)
    assert found[0] == (
        f"{tmp_path / 'teachers.csv'}, row 3 (teacher_id T2), column '年龄' (age): "
        "implausibly large: '200' (more than 70: teachers are 18–70 years old)"
    )
    assert found[-1] == f"{tmp_path / 'teachers.csv'}, column '年龄' (age): ... and 5 more rows with the same kind of problem"


def test_issue14_case16_implausibly_large_counts_are_input_errors() -> None:
    s = schools(capacity_primary=[100_000_000_000, None, 270], classes_junior=[None, 5000, None])
    b = blocks(students_primary=[100_000_000, 40], left_behind=[0, 200_000])
    with pytest.raises(InputError) as excinfo:
        validate_inputs(s, b)
    found = problems_of(excinfo)
    assert (
        "schools, school_id S1, column 'capacity_primary': implausibly large: 100000000000.0 "
        "(more than 20,000: no school has more pupils or seats at one level)"
    ) in found
    assert (
        "schools, school_id S2, column 'classes_junior': implausibly large: 5000.0 (more than 444: no school has more classes of one level)"
    ) in found
    assert (
        "blocks, block_id B1, column 'students_primary': implausibly large: 100000000 "
        "(more than 100,000: no residential unit has more children of one level)"
    ) in found
    assert any(p.startswith("blocks, block_id B2, column 'left_behind': implausibly large: 200000") for p in found)
    # the largest plausible values load
    validate_inputs(schools(capacity_primary=[20_000, None, 270]), blocks(students_primary=[100_000, 40]))


# --- unknown columns: a misspelt header warns, the user's own columns get a note --------------------


def test_issue14_case15_misspelt_header_warns_with_the_closest_known_header() -> None:
    s = schools().rename(columns={"enrolled_primary": "enroled_primary"})
    with pytest.warns(InputWarning) as record:
        out = validate_inputs(s).schools
    (w,) = [str(r.message) for r in record]
    assert w == (
        "schools, column 'enroled_primary': not a known column, so it is not read and the layer has no 'enrolled_primary'; "
        "did you mean 'enrolled_primary' (primary pupils enrolled; accepted headers: enrolled_primary, 小学在校生数, 小学学生数)? "
        "Rename the header to use it."
    )
    assert "enroled_primary" in out.columns  # kept as given
    # a misspelt Chinese header: the accepted Chinese header it resembles, and the column it stands for
    s = schools().rename(columns={"enrolled_primary": "小学在校人数"})
    with pytest.warns(InputWarning, match=r"column '小学在校人数': .* did you mean '小学在校生数' \(enrolled_primary: primary pupils enrolled;"):
        validate_inputs(s)


def test_issue14_case15_a_misspelt_header_is_named_in_the_error_it_causes() -> None:
    # warnings are not shown beside errors: the error itself points at the header
    with pytest.raises(InputError, match=r"give capacity_primary \(seats\) or classes_primary \(classes × 45\); is 'capacity' meant to be it\?"):
        validate_inputs(schools().rename(columns={"capacity_primary": "capacity"}))


def test_issue14_case15_the_users_own_columns_get_one_note() -> None:
    # name_en is nearest to name, which the layer has: the user's own column, not a misspelling
    s = schools(备注=["", "新校区", ""], 联系电话=["1", "2", "3"], name_en=["No. 1", "No. 2", "No. 3"])
    b = blocks(population=[3000, 800])  # a column schoolplan's own demo writes: no remark
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = validate_inputs(s, b)
    assert [(w.category, str(w.message)) for w in caught] == [
        (InputNote, "schools: 3 columns not used by the planner, kept as they are: 备注, 联系电话, name_en")
    ]
    assert out.schools["备注"].tolist()[1] == "新校区"


def test_data_outside_china_only_warns() -> None:
    s = schools(geometry=[Point(24.94, 60.17), Point(24.95, 60.17), Point(24.96, 60.18)])  # Helsinki
    with pytest.warns(InputWarning, match="outside China; the checks for Chinese coordinates were skipped"):
        inp = validate_inputs(s)
    assert inp.metric_crs.to_epsg() == 32635


def test_clean_input_emits_no_warning() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        validate_inputs(schools(), blocks(), teachers(), boundary=county())


def test_rename_aliases_maps_case_insensitively() -> None:
    df = pd.DataFrame({" School_ID ": ["a"], "学校名称": ["x"], "extra": [1]})
    out, problems = rename_aliases(df, SCHOOLS, layer="s")
    assert list(out.columns) == ["school_id", "name", "extra"]
    assert problems == []


@pytest.mark.skipif(importlib.util.find_spec("geo.demo") is None, reason="geo.demo (the demo county generator) is not written yet")
def test_demo_inputs_are_accepted_unchanged() -> None:
    from geo.demo import build_demo

    demo = build_demo().inputs
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", InputWarning)
        out = validate_inputs(
            demo.schools, demo.blocks, demo.teachers, demo.roads, demo.boundary, metric_crs=demo.metric_crs
        )
    assert out.metric_crs == demo.metric_crs
    assert_geodataframe_equal(out.schools, demo.schools, check_like=True)
    assert_geodataframe_equal(out.blocks, demo.blocks, check_like=True)
    added = [c for c in ("home_x", "home_y") if c not in demo.teachers.columns]
    pd.testing.assert_frame_equal(out.teachers.drop(columns=added), demo.teachers, check_like=True)
    assert {"home_x", "home_y"} <= set(out.teachers.columns)


# --- issue 15: the official vocabulary and school names where codes are expected ------------------


def test_official_titles_subjects_and_backbone_levels_are_accepted() -> None:
    tea = teachers(
        teacher_id=["T1", "T2", "T3", "T4", "T5", "T6"],
        school_id=["S1", "S3", "S1", "S3", "S1", "S3"],
        subject=["综合实践", "心理健康", "劳动", "书法", "信息科技", "数学"],
        backbone=["县级骨干", "市级骨干", "省级骨干", "校级骨干", "否", "是"],
        above_qualification=["是"] * 6,
        title=["二级教师", "一级教师", "高级教师", "正高级教师", "未定级", "三级教师"],
        years_at_school=[8] * 6,
        age=[40] * 6,
        sex=["女", "男"] * 3,
    )
    inp = validate_inputs(schools(), blocks(), tea)
    t = inp.teachers
    assert t is not None
    assert t["subject"].tolist() == ["practice", "psychology", "labour", "calligraphy", "it", "math"]
    assert t["title"].tolist() == ["junior", "intermediate", "senior", "senior", "junior", "junior"]
    # county level or above is a backbone teacher (教督〔2017〕6号); 校级骨干 is not; the level is kept
    assert t["backbone"].tolist() == [True, True, True, False, False, True]
    assert t["backbone_level"].tolist()[:4] == ["county", "city", "province", "school"]
    assert pd.isna(t["backbone_level"].iloc[4]) and pd.isna(t["backbone_level"].iloc[5])


def test_school_names_accepted_where_codes_are_expected_when_unique() -> None:
    blk = blocks(current_primary=["城关小学", "S3"], current_junior=["城关中学", "乡九年制"])
    tea = teachers(school_id=["城关小学", "乡九年制"])
    with pytest.warns(InputNote, match="name their school instead of giving its code"):
        inp = validate_inputs(schools(), blk, tea)
    assert inp.blocks["current_primary"].tolist() == ["S1", "S3"]
    assert inp.blocks["current_junior"].tolist() == ["S2", "S3"]
    assert inp.teachers is not None and inp.teachers["school_id"].tolist() == ["S1", "S3"]


def test_a_school_name_two_schools_share_asks_for_the_code() -> None:
    sch = schools(name=["城关小学", "城关中学", "城关小学"])
    with pytest.raises(InputError, match="school name '城关小学' is shared by schools S1, S3: give the school code") as exc:
        validate_inputs(sch, blocks(current_primary=["城关小学", "S3"]), teachers())
    assert len(problems_of(exc)) == 1


def test_a_groups_table_may_name_its_schools() -> None:
    from geo.model import GROUPS
    from geo.validate import validate_table

    table = pd.DataFrame({"学校代码": ["城关小学", "S3", "城关中学"], "集团编号": ["G1", "G1", "G2"], "角色": ["lead", "member", "lead"]})
    with pytest.warns(InputNote, match="2 row"):
        out = validate_table(table, GROUPS, "groups.csv", schools=schools())
    assert out["school_id"].tolist() == ["S1", "S3", "S2"]
    with pytest.raises(InputError, match=r"groups.csv, row 2, column '学校代码' \(school_id\): unknown school id '城关小学' \(not in schools\)"):
        validate_table(table, GROUPS, "groups.csv", school_ids=pd.Series(["S1", "S2", "S3"]))
