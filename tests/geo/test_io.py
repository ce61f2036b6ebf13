"""Reading layers from files: formats, encodings, declared CRSs, and file-level problems."""

from __future__ import annotations

import warnings
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyproj
import pytest
from shapely.geometry import Point, box

from geo.crs import wgs84_to_bd09, wgs84_to_gcj02
from geo.errors import InputError
from geo.io import alias_table_markdown, choose_sheet, file_kind, load_inputs, read_layer, read_table
from geo.validate import InputNote, InputWarning

LON0, LAT0 = 110.10, 37.10
SCHOOLS_CSV = (
    "学校代码,学校名称,学段,城乡类型,小学班级数,初中学位数,小学在校生数,初中在校生数,经度,纬度\n"
    "S1,城关小学,小学,城区,20,,850,,110.10,37.10\n"
    "S2,城关中学,初中,城区,,1000,,900,110.11,37.10\n"
    "S3,下廿里铺九年制学校,九年一贯制,乡村,6,150,200,100,110.20,37.15\n"
)
BLOCKS_CSV = (
    "编号,名称,小学适龄人数,初中适龄人数,对口小学,对口初中,lon,lat\n"
    "B1,北关社区,120,60,S1,S2,110.102,37.101\n"
    "B2,李家塔村,40,20,S3,S3,110.19,37.14\n"
)
TEACHERS_CSV = (
    "教师编号,学校代码,任教学科,骨干教师,学历达标以上,职称,本校任教年限,年龄,性别\n"
    "T1,S1,语文,是,是,高级,8,45,女\n"
    "T2,S3,数学,否,是,中级,3,29,男\n"
)


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def schools_gdf() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {
            "school_id": ["S1", "S2"],
            "name": ["a", "b"],
            "level": ["primary", "junior"],
            "area_type": ["urban", "town"],
            "capacity_primary": [900, 0],
            "capacity_junior": [0, 800],
        },
        geometry=[Point(LON0, LAT0), Point(LON0 + 0.01, LAT0)],
        crs=4326,
    )


# --- tables ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk", "gb18030"])
def test_csv_encodings(tmp_path: Path, encoding: str) -> None:
    gdf = read_layer(write(tmp_path / "s.csv", SCHOOLS_CSV, encoding), "schools")
    assert gdf["name"].tolist()[2] == "下廿里铺九年制学校"
    assert gdf["school_id"].tolist() == ["S1", "S2", "S3"]
    assert gdf.crs.to_epsg() == 4326
    assert gdf.geometry.iloc[0].coords[0] == pytest.approx((LON0, LAT0))
    assert "lon" not in gdf.columns and "经度" not in gdf.columns


def test_csv_headers_renamed_but_values_not_checked(tmp_path: Path) -> None:
    gdf = read_layer(write(tmp_path / "s.csv", SCHOOLS_CSV), "schools")
    assert {"level", "area_type", "classes_primary", "capacity_junior"} <= set(gdf.columns)
    assert gdf["level"].tolist() == ["小学", "初中", "九年一贯制"]  # converted by validation, not here


@pytest.mark.parametrize("sep", ["\t", ";"])
def test_csv_other_separators(tmp_path: Path, sep: str) -> None:
    gdf = read_layer(write(tmp_path / "s.csv", SCHOOLS_CSV.replace(",", sep)), "schools")
    assert len(gdf) == 3 and "school_id" in gdf.columns


def test_excel_sheet_named_like_the_layer(tmp_path: Path) -> None:
    path = tmp_path / "data.xlsx"
    frame = pd.read_csv(write(tmp_path / "s.csv", SCHOOLS_CSV), dtype=str)
    with pd.ExcelWriter(path, engine="openpyxl") as xl:
        pd.DataFrame({"note": ["cover sheet"]}).to_excel(xl, sheet_name="说明", index=False)
        frame.to_excel(xl, sheet_name="schools", index=False)
    with pytest.warns(InputNote, match="the schools layer is read from sheet 'schools'"):
        gdf = read_layer(path, "schools")
    assert gdf["school_id"].tolist() == ["S1", "S2", "S3"]
    assert gdf.geometry.iloc[2].coords[0] == pytest.approx((110.20, 37.15))


def test_excel_sheets_found_by_chinese_names_and_named_in_a_note(tmp_path: Path) -> None:
    """A workbook of 学校 and 教师: each layer from its own sheet, and the note says which (issue 15)."""
    path = tmp_path / "data.xlsx"
    schools = pd.read_csv(write(tmp_path / "s.csv", SCHOOLS_CSV), dtype=str)
    teachers = pd.DataFrame({"教师编号": ["T1"], "所在学校": ["S1"]})
    with pd.ExcelWriter(path, engine="openpyxl") as xl:
        schools.to_excel(xl, sheet_name="学校", index=False)
        teachers.to_excel(xl, sheet_name="教师", index=False)
    with pytest.warns(InputNote, match="teachers layer is read from sheet '教师'"):
        assert read_layer(path, "teachers")["teacher_id"].tolist() == ["T1"]
    with pytest.warns(InputNote, match="schools layer is read from sheet '学校'"):
        assert read_layer(path, "schools")["school_id"].tolist() == ["S1", "S2", "S3"]
    with pytest.raises(InputError, match=r"no sheet holds the blocks layer .*'学校', '教师'.*name its sheet '居住区'"):
        read_layer(path, "blocks")


@pytest.mark.parametrize(
    ("sheets", "layer", "chosen"),
    [
        (["说明", "学校", "居住区", "教师", "道路说明"], "blocks", "居住区"),
        (["学校信息表", "教师信息表"], "teachers", "教师信息表"),
        (["小区"], "schools", "小区"),  # a workbook of one sheet is read whatever its name
        (["Sheet1", "Sheet2", "Sheet3"], "schools", "Sheet1"),  # Excel's blank sheets are no candidates
        (["学校", "小区", "居住区"], "blocks", None),  # two sheets may hold it: ambiguous
    ],
)
def test_choose_sheet(sheets: list[str], layer: str, chosen: str | None) -> None:
    assert choose_sheet(sheets, layer, empty=("Sheet2", "Sheet3"))[0] == chosen


def test_excel_numbers_become_clean_ids_after_validation(tmp_path: Path) -> None:
    path = tmp_path / "s.xlsx"
    df = pd.read_csv(write(tmp_path / "s.csv", SCHOOLS_CSV), dtype=str)
    df["学校代码"] = [101, 102, 103]
    df.to_excel(path, index=False)
    inp = load_inputs({"schools": path}, crs="wgs84")
    assert inp.schools["school_id"].tolist() == ["101", "102", "103"]


def test_csv_in_gcj02_is_converted_to_wgs84(tmp_path: Path) -> None:
    gx, gy = wgs84_to_gcj02(LON0, LAT0)
    text = f"school_id,name,level,area_type,capacity_primary,lon,lat\nS1,a,primary,urban,900,{gx!r},{gy!r}\n"
    gdf = read_layer(write(tmp_path / "s.csv", text), "schools", crs="gcj02")
    assert gdf.crs.to_epsg() == 4326
    assert gdf.geometry.iloc[0].coords[0] == pytest.approx((LON0, LAT0), abs=1e-9)


def test_csv_in_projected_crs_keeps_the_declared_crs(tmp_path: Path) -> None:
    x, y = pyproj.Transformer.from_crs(4326, 4547, always_xy=True).transform(LON0, LAT0)
    text = f"school_id,name,level,area_type,capacity_primary,x,y\nS1,a,primary,urban,900,{x},{y}\n"
    gdf = read_layer(write(tmp_path / "s.csv", text), "schools", crs="EPSG:4547")
    assert gdf.crs.to_epsg() == 4547


def test_teacher_homes_in_bd09_become_wgs84(tmp_path: Path) -> None:
    bx, by = wgs84_to_bd09(LON0, LAT0)
    text = TEACHERS_CSV.replace("性别\n", "性别,住址经度,住址纬度\n").replace("女\n", f"女,{bx!r},{by!r}\n").replace("男\n", "男,,\n")
    df = read_layer(write(tmp_path / "t.csv", text), "teachers", crs="bd09")
    assert isinstance(df, pd.DataFrame) and not isinstance(df, gpd.GeoDataFrame)
    assert float(df["home_lon"].iloc[0]) == pytest.approx(LON0, abs=1e-9)
    assert float(df["home_lat"].iloc[0]) == pytest.approx(LAT0, abs=1e-9)


def test_missing_coordinate_columns(tmp_path: Path) -> None:
    text = "school_id,name,level,area_type\nS1,a,primary,urban\n"
    with pytest.raises(InputError, match=r"s\.csv, column 'lon': missing coordinate column; accepted headers: lon, lng.*经度"):
        read_layer(write(tmp_path / "s.csv", text), "schools")


def test_roads_cannot_come_from_a_table(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="roads must be a spatial file"):
        read_layer(write(tmp_path / "r.csv", "highway,lon,lat\nprimary,110,37\n"), "roads")


def test_read_table_groups_aliases(tmp_path: Path) -> None:
    df = read_table(write(tmp_path / "g.csv", " 学校代码 ,集团编号,角色\nS1,G1,lead\nS2,G1,member\n"), layer="groups")
    assert list(df.columns) == ["school_id", "group_id", "role"]
    assert df["school_id"].tolist() == ["S1", "S2"]


def test_read_table_staffing_targets_aliases(tmp_path: Path) -> None:
    df = read_table(write(tmp_path / "t.csv", "学校代码,学科,编制数\nS1,语文,4\n", "gbk"), layer="staffing_targets")
    assert list(df.columns) == ["school_id", "subject", "target"]


def test_read_table_duplicate_headers(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"g\.csv, column 'school_id': two headers mean the same column"):
        read_table(write(tmp_path / "g.csv", "school_id,学校代码\nS1,S1\n"), layer="groups")


def test_read_table_of_an_input_layer(tmp_path: Path) -> None:
    df = read_table(write(tmp_path / "t.csv", TEACHERS_CSV), layer="teachers")
    assert {"teacher_id", "school_id", "subject"} <= set(df.columns)


# --- spatial files ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("suffix", "driver"), [(".gpkg", "GPKG"), (".geojson", "GeoJSON"), (".shp", "ESRI Shapefile")])
def test_spatial_formats(tmp_path: Path, suffix: str, driver: str) -> None:
    path = tmp_path / f"schools{suffix}"
    with warnings.catch_warnings():
        # writing a Shapefile warns that long names are cut (that is what is tested)
        warnings.simplefilter("ignore")
        schools_gdf().rename(columns={"school_id": "学校代码", "level": "学段"}).to_file(path, driver=driver, encoding="gbk")
    gdf = read_layer(path, "schools")
    # Shapefile cuts capacity_primary to capacity_p: recognised and restored
    assert {"school_id", "level", "capacity_primary", "capacity_junior"} <= set(gdf.columns)
    assert gdf.crs.to_epsg() == 4326
    assert gdf.geometry.iloc[1].coords[0] == pytest.approx((LON0 + 0.01, LAT0))


@pytest.mark.parametrize("encoding", ["gbk", "utf-8"])
def test_shapefile_without_cpg_keeps_chinese_text(tmp_path: Path, encoding: str) -> None:
    path = tmp_path / "s.shp"
    gdf = schools_gdf().rename(columns={"level": "学段"})
    gdf["学段"] = ["小学", "初中"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # long names cut by the Shapefile format
        gdf.to_file(path, encoding=encoding)
    path.with_suffix(".cpg").unlink()
    out = read_layer(path, "schools")
    assert out["level"].tolist() == ["小学", "初中"]


def test_geopackage_with_several_layers_gives_the_named_one(tmp_path: Path) -> None:
    path = tmp_path / "all.gpkg"
    schools_gdf().to_file(path, layer="schools")
    gpd.GeoDataFrame({"name": ["县"]}, geometry=[box(110, 37, 110.3, 37.3)], crs=4326).to_file(path, layer="boundary")
    assert read_layer(path, "boundary")["name"].tolist() == ["县"]
    with pytest.raises(InputError, match=r"holds several layers \(.*\) and none is called 'blocks'"):
        read_layer(path, "blocks")


def test_geojson_declared_gcj02_is_shifted(tmp_path: Path) -> None:
    gx, gy = wgs84_to_gcj02(LON0, LAT0)
    path = tmp_path / "s.geojson"
    gdf = schools_gdf().iloc[:1].copy()
    gdf["geometry"] = [Point(gx, gy)]
    gdf.to_file(path, driver="GeoJSON")
    out = read_layer(path, "schools", crs="gcj02")
    assert out.geometry.iloc[0].coords[0] == pytest.approx((LON0, LAT0), abs=1e-9)


def test_shapefile_without_prj_is_a_missing_crs(tmp_path: Path) -> None:
    path = tmp_path / "schools.shp"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # long names cut by the Shapefile format
        schools_gdf().to_file(path)
    path.with_suffix(".prj").unlink()
    with pytest.raises(InputError, match=r"schools\.shp: no coordinate system \(CRS\)"):
        load_inputs({"schools": path})
    # declaring it fixes it
    inp = load_inputs({"schools": path}, layer_crs={"schools": "wgs84"})
    assert inp.metric_crs.to_epsg() == 32649


def test_declared_crs_disagreeing_with_the_file_warns(tmp_path: Path) -> None:
    path = tmp_path / "s.gpkg"
    schools_gdf().to_file(path)
    with pytest.warns(InputWarning, match="the file says its CRS is WGS 84 but China Geodetic Coordinate System 2000 was declared"):
        read_layer(path, "schools", crs="cgcs2000")


# --- file-level problems --------------------------------------------------------------------------------


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"nope\.gpkg: file not found"):
        read_layer(tmp_path / "nope.gpkg", "schools")


def test_unreadable_file(tmp_path: Path) -> None:
    path = write(tmp_path / "broken.gpkg", "this is not a geopackage")
    with pytest.raises(InputError, match=r"broken\.gpkg: cannot open"):
        read_layer(path, "schools")


def test_unreadable_excel(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"bad\.xlsx: cannot read the Excel file"):
        read_layer(write(tmp_path / "bad.xlsx", "plain text"), "schools")


def test_empty_csv_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"empty\.csv: the file is empty"):
        read_layer(write(tmp_path / "empty.csv", ""), "schools")


def test_csv_with_header_only_is_an_empty_layer(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"s\.csv: the layer is empty \(no rows\)"):
        load_inputs({"schools": write(tmp_path / "s.csv", SCHOOLS_CSV.splitlines()[0] + "\n")})


def test_unsupported_file_type(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"old Excel \.xls: save it as \.xlsx"):
        read_layer(write(tmp_path / "s.xls", "x"), "schools")


def test_unknown_layer_name(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="unknown layer 'pupils'; layers are schools, blocks"):
        read_layer(write(tmp_path / "s.csv", SCHOOLS_CSV), "pupils")


def test_unknown_crs_name(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"s\.csv, column 'crs': unknown coordinate system 'mars'"):
        read_layer(write(tmp_path / "s.csv", SCHOOLS_CSV), "schools", crs="mars")
    with pytest.raises(InputError, match=r"layer_crs\.blocks: unknown coordinate system 'gcj2'"):
        load_inputs({"schools": tmp_path / "s.csv"}, layer_crs={"blocks": "gcj2"})


def test_file_not_valid_utf8_nor_gbk(tmp_path: Path) -> None:
    path = tmp_path / "s.csv"
    path.write_bytes(b"school_id\n\xff\xfe\xfa\xfb\x80\n")
    with pytest.raises(InputError, match="cannot decode the text; save it as UTF-8"):
        read_layer(path, "schools")


# --- load_inputs ------------------------------------------------------------------------------------


def test_load_inputs_reads_and_validates_every_layer(tmp_path: Path) -> None:
    boundary = tmp_path / "boundary.geojson"
    gpd.GeoDataFrame({"名称": ["清涧县"]}, geometry=[box(110.0, 37.0, 110.3, 37.3)], crs=4326).to_file(boundary)
    paths = {
        "schools": write(tmp_path / "schools.csv", SCHOOLS_CSV, "gbk"),
        "blocks": write(tmp_path / "blocks.csv", BLOCKS_CSV),
        "teachers": write(tmp_path / "teachers.csv", TEACHERS_CSV, "utf-8-sig"),
        "roads": None,
        "boundary": boundary,
    }
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        inp = load_inputs(paths, crs="wgs84")
    assert inp.metric_crs.to_epsg() == 32649
    assert inp.schools["level"].tolist() == ["primary", "junior", "nine_year"]
    assert inp.schools["capacity_primary"].tolist() == [900, 0, 270]
    assert inp.blocks["current_primary"].tolist() == ["S1", "S3"]
    assert inp.teachers["subject"].tolist() == ["chinese", "math"]
    assert inp.boundary["name"].tolist() == ["清涧县"]
    assert inp.roads is None
    assert inp.sources["schools"] == str(paths["schools"])


def test_load_inputs_reports_all_files_at_once(tmp_path: Path) -> None:
    paths = {
        "schools": write(tmp_path / "schools.csv", SCHOOLS_CSV.replace("S2,城关中学,初中", "S2,城关中学,高中")),
        "blocks": tmp_path / "missing.gpkg",
        "teachers": write(tmp_path / "teachers.csv", TEACHERS_CSV.replace("T2,S3", "T2,S8")),
    }
    with pytest.raises(InputError) as excinfo:
        load_inputs(paths)
    text = str(excinfo.value)
    assert "missing.gpkg: file not found" in text
    # the row as the user sees it in the file (header = row 1) and the user's own header
    assert "schools.csv, row 3 (school_id S2), column '学段' (level): unknown value '高中'" in text
    assert "teachers.csv, row 3 (teacher_id T2), column '学校代码' (school_id): unknown school id 'S8'" in text


def test_load_inputs_without_schools(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="the schools layer is required"):
        load_inputs({"blocks": write(tmp_path / "b.csv", BLOCKS_CSV)})


def test_load_inputs_unknown_layer_key(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="unknown layer 'pupils'"):
        load_inputs({"schools": write(tmp_path / "s.csv", SCHOOLS_CSV), "pupils": tmp_path / "p.csv"})


def test_load_inputs_scenario_crs_applies_to_tables_only(tmp_path: Path) -> None:
    gx, gy = wgs84_to_gcj02(LON0 + 0.01, LAT0)
    gpkg = tmp_path / "schools.gpkg"
    schools_gdf().to_file(gpkg)  # true WGS84 in a file that says so
    blocks = write(tmp_path / "b.csv", f"block_id,students_primary,students_junior,lon,lat\nB1,10,5,{gx!r},{gy!r}\n")
    inp = load_inputs({"schools": gpkg, "blocks": blocks}, crs="gcj02")
    # the block sits exactly on school S2 once converted; the GeoPackage was not shifted
    assert inp.blocks.geometry.iloc[0].distance(inp.schools.geometry.iloc[1]) < 0.01


def test_load_inputs_warnings_only_when_no_error(tmp_path: Path) -> None:
    text = SCHOOLS_CSV.replace("S3,下廿里铺九年制学校,九年一贯制,乡村,6,150", "S3,下廿里铺九年制学校,九年一贯制,乡村,6,0")
    with pytest.warns(InputWarning, match="1 schools teaching junior have zero capacity") as record:
        load_inputs({"schools": write(tmp_path / "s.csv", text)}, crs="wgs84")
    assert record[0].filename == __file__
    bad = text.replace("S1,城关小学,小学", "S1,城关小学,大学")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(InputError, match="unknown value '大学'"):
            load_inputs({"schools": write(tmp_path / "s2.csv", bad)}, crs="wgs84")


def test_file_kind() -> None:
    assert file_kind("a/b.osm.pbf") == "osm"
    assert file_kind("x.GPKG") == "vector"
    assert file_kind("x.csv") == "table"
    assert file_kind("x.xlsx") == "excel"
    assert file_kind("x.doc") is None


def test_alias_table_markdown_documents_every_column() -> None:
    text = alias_table_markdown()
    assert "### schools (points)" in text and "### teachers (table, no geometry)" in text
    assert "| `school_id` | yes | text id | `school_id`, `学校代码`" in text
    assert "`经度`" in text and "语文 → `chinese`" in text
    assert "| `level` | yes | one of `primary` \\| `junior` \\| `nine_year`" in text


def test_osm_extract_can_only_give_roads(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"an OpenStreetMap \.osm\.pbf file can only give roads, not schools"):
        read_layer(write(tmp_path / "x.osm.pbf", "x"), "schools")


def test_osm_roads_are_read_around_the_study_area(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import geo.osm

    seen: dict[str, object] = {}

    def fake(path: Path, *, bounding_box: tuple[float, float, float, float] | None = None) -> gpd.GeoDataFrame:
        seen["box"] = bounding_box
        from shapely.geometry import LineString

        return gpd.GeoDataFrame(
            {"highway": ["primary"], "oneway": [False], "speed_kmh": [60.0]},
            geometry=[LineString([(LON0, LAT0), (LON0 + 0.01, LAT0)])],
            crs=4326,
        ).to_crs(32649)

    monkeypatch.setattr(geo.osm, "read_osm_roads", fake)
    pbf = write(tmp_path / "shaanxi.osm.pbf", "stub, never parsed")
    inp = load_inputs({"schools": write(tmp_path / "s.csv", SCHOOLS_CSV), "roads": pbf}, crs="wgs84")
    # schools span 110.10-110.20 E, 37.10-37.15 N; 0.05° margin
    assert seen["box"] == pytest.approx((110.05, 37.05, 110.25, 37.20))
    assert inp.roads["highway"].tolist() == ["primary"]
    assert inp.roads.crs == inp.metric_crs


# --- issue 14: unreadable files, encodings, undeclared and implausible CRSs ------------------------


def test_issue14_case5_unreadable_csv_is_an_input_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path / "schools.csv", SCHOOLS_CSV)
    real = Path.read_bytes

    def denied(self: Path) -> bytes:  # what chmod 000 gives a user who is not root
        if self.name == "schools.csv":
            raise PermissionError(13, "Permission denied", str(self))
        return real(self)

    monkeypatch.setattr(Path, "read_bytes", denied)
    with pytest.raises(InputError, match=r"schools\.csv: cannot read the file: Permission denied"):
        read_layer(path, "schools")
    with pytest.raises(InputError, match=r"schools\.csv: cannot read the file: Permission denied"):
        load_inputs({"schools": path}, crs="wgs84")
    with pytest.raises(InputError, match=r"schools\.csv: cannot read the file: Permission denied"):
        read_table(path, layer="groups")  # tables named by stages are read alike


def test_csv_that_is_really_a_workbook_or_binary(tmp_path: Path) -> None:
    xlsx = tmp_path / "real.xlsx"
    pd.read_csv(write(tmp_path / "s.csv", SCHOOLS_CSV), dtype=str).to_excel(xlsx, index=False)
    renamed = tmp_path / "schools.csv"
    renamed.write_bytes(xlsx.read_bytes())
    with pytest.raises(InputError, match=r"schools\.csv: is an Excel workbook or a zip archive, not text"):
        read_layer(renamed, "schools")
    gpkg = tmp_path / "g.gpkg"
    schools_gdf().to_file(gpkg)
    renamed.write_bytes(gpkg.read_bytes())
    with pytest.raises(InputError, match=r"schools\.csv: is a GeoPackage or SQLite database, not text"):
        read_layer(renamed, "schools")
    renamed.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(600))
    with pytest.raises(InputError, match=r"schools\.csv: is an old Excel \.xls workbook .*save it as \.xlsx or CSV"):
        read_layer(renamed, "schools")
    renamed.write_bytes(b"school_id,lon,lat\x00\x00\x00\nS1,110,37\n")
    with pytest.raises(InputError, match=r"schools\.csv: is a binary file, not text"):
        read_layer(renamed, "schools")


def test_csv_folder_and_empty_file(tmp_path: Path) -> None:
    (tmp_path / "dir.csv").mkdir()
    with pytest.raises(InputError, match=r"dir\.csv: is a folder, not a file"):
        read_layer(tmp_path / "dir.csv", "schools")
    with pytest.raises(InputError, match=r"blank\.csv: the file is empty"):
        read_layer(write(tmp_path / "blank.csv", "\ufeff \n\n"), "schools")


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk", "gb18030", "utf-16"])
def test_csv_encodings_chinese_tools_save(tmp_path: Path, encoding: str) -> None:
    """UTF-8 with or without BOM, GBK/GB18030 (Excel "CSV"), UTF-16 with BOM (Excel "Unicode text", tab-separated)."""
    text = SCHOOLS_CSV.replace(",", "\t") if encoding == "utf-16" else SCHOOLS_CSV
    gdf = read_layer(write(tmp_path / "s.csv", text, encoding), "schools", crs="wgs84")
    assert gdf["name"].tolist() == ["城关小学", "城关中学", "下廿里铺九年制学校"]


def test_issue14_case14_table_without_declared_crs_warns_naming_the_layer(tmp_path: Path) -> None:
    paths = {"schools": write(tmp_path / "schools.csv", SCHOOLS_CSV), "blocks": write(tmp_path / "blocks.csv", BLOCKS_CSV)}
    with pytest.warns(InputWarning) as record:
        inp = load_inputs(paths)
    crs_warnings = [str(w.message) for w in record if "no coordinate system (CRS) declared" in str(w.message)]
    assert len(crs_warnings) == 1
    text = crs_warnings[0]
    assert f"schools ({paths['schools']}) and blocks ({paths['blocks']})" in text
    assert "read as WGS84 longitude/latitude" in text and 'crs = "gcj02"' in text and 'crs = "bd09"' in text
    assert text in inp.notes  # kept for the run manifest and the report
    # the coordinates were read as WGS84, as the warning says
    assert inp.schools.to_crs(4326).geometry.iloc[0].coords[0] == pytest.approx((LON0, LAT0))


def test_declared_crs_silences_the_warning(tmp_path: Path) -> None:
    paths = {"schools": write(tmp_path / "schools.csv", SCHOOLS_CSV), "teachers": write(tmp_path / "t.csv", TEACHERS_CSV)}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert load_inputs(paths, crs="wgs84").notes == ()
        assert load_inputs(paths, layer_crs={"schools": "gcj02"}).notes == ()  # teachers have no home coordinates


def test_issue14_case14_teachers_home_coordinates_without_crs_warn(tmp_path: Path) -> None:
    teachers = TEACHERS_CSV.replace("性别\n", "性别,home_lon,home_lat\n").replace(",女\n", ",女,110.1,37.1\n").replace(",男\n", ",男,,\n")
    paths = {"schools": write(tmp_path / "s.csv", SCHOOLS_CSV), "teachers": write(tmp_path / "t.csv", teachers)}
    with pytest.warns(InputWarning, match=r"declared for teachers \(.*t\.csv\)"):
        load_inputs(paths, layer_crs={"schools": "wgs84"})


def test_issue14_case14_degrees_in_a_metric_crs_are_refused(tmp_path: Path) -> None:
    path = write(tmp_path / "s.csv", SCHOOLS_CSV)
    with pytest.raises(InputError) as excinfo:
        load_inputs({"schools": path, "blocks": write(tmp_path / "b.csv", BLOCKS_CSV)}, crs="EPSG:3857")
    text = str(excinfo.value)
    assert (
        "s.csv, column 'crs': x between 110.1 and 110.2, y between 37.1 and 37.15 look like longitude/latitude degrees, "
        "but EPSG:3857 (WGS 84 / Pseudo-Mercator) is in metres"
    ) in text
    assert "b.csv, column 'crs': x between 110.102 and 110.19" in text  # every layer at once
    assert "outside China" not in text


def test_issue14_case14_metres_read_as_degrees_are_refused(tmp_path: Path) -> None:
    text = (
        "school_id,name,level,area_type,capacity_primary,x,y\n"
        "S1,a,primary,urban,900,448662.1,4115253.0\nS2,b,primary,urban,900,450100.5,4116000.2\n"
    )
    path = write(tmp_path / "s.csv", text)
    with pytest.raises(InputError, match=r"x between 448662 and 450100, y between 4115253 and 4116000 look like metres, "
                       r"but EPSG:4326 \(WGS 84\) is in degrees.*no CRS was declared, so WGS84 was assumed"):
        load_inputs({"schools": path})
    with pytest.raises(InputError, match=r"look like metres, but GCJ-02 is in degrees"):
        load_inputs({"schools": path}, crs="gcj02")
    inp = load_inputs({"schools": path}, crs="EPSG:32649")  # declared right: read
    assert inp.schools.geometry.iloc[0].coords[0] == pytest.approx((448662.1, 4115253.0), abs=1e-3)


def test_issue14_case14_a_spatial_file_whose_crs_contradicts_its_coordinates(tmp_path: Path) -> None:
    path = tmp_path / "s.gpkg"
    schools_gdf().to_crs(32649).set_crs(4326, allow_override=True).to_file(path)  # metres labelled WGS84
    with pytest.raises(InputError, match=r"s\.gpkg, column 'crs': x between .* look like metres, but EPSG:4326 \(WGS 84\) "
                       r"is in degrees .*\(the CRS the file declares; declare the right one for this layer"):
        load_inputs({"schools": path})
    with pytest.warns(InputWarning, match="the file says its CRS is WGS 84 but WGS 84 / UTM zone 49N was declared"):
        inp = load_inputs({"schools": path}, layer_crs={"schools": "EPSG:32649"})
    assert inp.schools.to_crs(4326).geometry.iloc[0].coords[0] == pytest.approx((LON0, LAT0))


def test_a_few_bad_rows_are_left_to_row_validation(tmp_path: Path) -> None:
    bad = SCHOOLS_CSV.replace("110.20,37.15", "448662,4115253")  # one school of three in metres
    with pytest.raises(InputError, match=r"s\.csv, row 4 \(school_id S3\), column .geometry.: outside China") as excinfo:
        load_inputs({"schools": write(tmp_path / "s.csv", bad)}, crs="wgs84")
    assert "look like metres" not in str(excinfo.value)


def test_issue14_case17_scenario_crs_applies_to_spatial_files_without_one(tmp_path: Path) -> None:
    shp = tmp_path / "schools.shp"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # long names cut by the Shapefile format
        schools_gdf().to_file(shp)
    shp.with_suffix(".prj").unlink()
    gpkg = tmp_path / "blocks.gpkg"
    blocks = gpd.GeoDataFrame({"block_id": ["B1"], "students_primary": [10], "students_junior": [5]}, geometry=[Point(LON0, LAT0)])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pyogrio warns that the file will have no CRS: that is the point
        blocks.to_file(gpkg)
    assert gpd.read_file(gpkg).crs is None
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        inp = load_inputs({"schools": shp, "blocks": gpkg}, crs="wgs84")
    assert inp.metric_crs.to_epsg() == 32649
    assert inp.blocks.geometry.iloc[0].distance(inp.schools.geometry.iloc[0]) < 0.01
    # GCJ-02 declared for the whole scenario shifts a file without a CRS too
    shifted = load_inputs({"schools": shp, "blocks": gpkg}, crs="gcj02")
    assert 100 < shifted.blocks.geometry.iloc[0].distance(inp.blocks.geometry.iloc[0]) < 1500


def test_issue14_case17_a_files_own_crs_wins_over_the_scenario_crs(tmp_path: Path) -> None:
    gpkg = tmp_path / "schools.gpkg"
    schools_gdf().to_crs(32649).to_file(gpkg)  # UTM metres, and the file says so
    inp = load_inputs({"schools": gpkg}, crs="wgs84")  # wgs84 is for CSV/Excel and files without a CRS
    assert inp.schools.to_crs(4326).geometry.iloc[0].coords[0] == pytest.approx((LON0, LAT0))
