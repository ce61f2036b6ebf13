"""Export files (``[report] exports``): read back with xml.etree, json and pyogrio; same inputs, same bytes."""

from __future__ import annotations

import io
import json
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pyproj
import pytest
import shapely

from geo.errors import InputError
from geo.model import Inputs
from geo.network import NetworkSettings
from planning.app import cli
from planning.app import session as session_mod
from planning.app import stages as registry
from planning.app.exports import (
    GEOJSON_DIR,
    GPKG_FILE,
    KML_FILE,
    KMZ_FILE,
    SHP_FILE,
    export_files,
    export_layers,
    export_paths,
)
from planning.app.runner import run_scenario
from planning.app.scenario import InputsSection, Scenario, SolverSection, scenario_from_dict
from planning.app.session import planned_files, validate_report_settings
from planning.app.settings import EXPORT_FORMATS
from planning.app.stage import Context, RunResult, Stage, StageOutput, StageParams

KML_NS = {"k": "http://www.opengis.net/kml/2.2"}
METRIC = pyproj.CRS.from_epsg(32650)  # UTM 50N: Beijing
# The published reference pair of wandergis/coordtransform (as in tests/geo/test_crs.py): WGS84 → GCJ-02.
REF_WGS84 = (116.404, 39.915)
REF_GCJ02 = (116.41024449916938, 39.91640428150164)
NAMES = ["东城区第一小学", "和平里中学", "育才学校 <&> \"九年\""]


def _schools() -> gpd.GeoDataFrame:
    wgs = gpd.GeoDataFrame(
        {
            "school_id": ["s3", "s1", "s2"],  # not in id order: the exports sort
            "name": [NAMES[2], NAMES[0], NAMES[1]],
            "level": ["nine_year", "primary", "junior"],
            "township": ["和平里街道", "东华门街道", None],
            "capacity_primary": [540, 1080, 0],
            "capacity_junior": [300, 0, 900],
            "enrolled_primary": [500, 1100, 0],
            "enrolled_junior": [250, 0, 800],
            "boarding": pd.array([True, False, None], dtype="boolean"),  # a missing flag is no
        },
        geometry=[shapely.Point(116.42, 39.95), shapely.Point(*REF_WGS84), shapely.Point(116.41, 39.94)],
        crs="EPSG:4326",
    )
    return wgs.to_crs(METRIC)


def _zones() -> dict[str, gpd.GeoDataFrame]:
    box1 = shapely.box(116.39, 39.90, 116.41, 39.93).difference(shapely.box(116.395, 39.905, 116.40, 39.91))  # with a hole
    box3 = shapely.MultiPolygon([shapely.box(116.41, 39.94, 116.43, 39.96), shapely.box(116.44, 39.94, 116.45, 39.95)])
    primary = gpd.GeoDataFrame(
        {"school_id": ["s1", "s3"], "name": [NAMES[0], NAMES[2]], "students": [1076, 480], "capacity_seats": [1080, 540],
         "utilization": [1076 / 1080, 480 / 540]},
        geometry=[box1, box3], crs="EPSG:4326",
    ).to_crs(METRIC)
    junior = gpd.GeoDataFrame(
        {"school_id": ["s2"], "name": [NAMES[1]], "students": [820], "capacity_seats": [900], "utilization": [820 / 900]},
        geometry=[shapely.box(116.39, 39.93, 116.45, 39.96)], crs="EPSG:4326",
    ).to_crs(METRIC)
    return {"primary/zones.gpkg": primary, "junior/zones.gpkg": junior}


def make_run(*, language: str = "zh", zones: bool = True) -> RunResult:
    scenario = Scenario(
        name="测试区 2026", seed=1, inputs=InputsSection(schools="s.gpkg"), solver=SolverSection(),
        network=NetworkSettings(), stages={}, report={"language": language},
    )
    inputs = Inputs(schools=_schools(), blocks=None, teachers=None, roads=None, boundary=None, metric_crs=METRIC)
    outputs = {"zones": StageOutput(files=dict(_zones()))} if zones else {}
    return RunResult(scenario=scenario, inputs=inputs, outputs=outputs)


@pytest.fixture(scope="module")
def files() -> dict[str, bytes]:
    return export_files(make_run(), EXPORT_FORMATS)


# --------------------------------------------------------------------------- settings


def test_exports_setting_is_validated_and_kept_out_of_the_renderers_table() -> None:
    s = scenario_from_dict({"inputs": {"schools": "s.gpkg"}, "report": {"exports": ["kmz", "kml", "kmz"], "language": "en"}})
    assert s.exports == ("kml", "kmz")  # each once, in the canonical order
    assert dict(s.report) == {"language": "en"}
    assert s.to_dict()["report"] == {"language": "en", "exports": ["kml", "kmz"]}  # the manifest shows it
    assert scenario_from_dict({"inputs": {"schools": "s.gpkg"}, "report": {"exports": "kmz"}}).exports == ("kmz",)
    validate_report_settings(scenario_from_dict({"inputs": {"schools": "s.gpkg"}, "report": {"exports": ["kml"]}}))
    with pytest.raises(InputError, match=r"report\.exports\.1.*'kml', 'kmz', 'geojson_gcj02', 'shp_cgcs2000' or 'gpkg_cgcs2000'"):
        scenario_from_dict({"inputs": {"schools": "s.gpkg"}, "report": {"exports": ["kml", "shp"]}})


def test_planned_files_name_the_exports() -> None:
    s = scenario_from_dict({"inputs": {"schools": "s.gpkg"}, "report": {"exports": list(EXPORT_FORMATS)}})
    planned = planned_files(s)
    assert {KML_FILE, KMZ_FILE, SHP_FILE, GPKG_FILE, f"{GEOJSON_DIR}/schools.geojson"} <= set(planned)
    assert not any(p.startswith("exports/") for p in planned_files(scenario_from_dict({"inputs": {"schools": "s.gpkg"}})))


def test_every_file_written_is_a_planned_one(files: dict[str, bytes]) -> None:
    assert set(files) == set(export_paths(EXPORT_FORMATS))
    assert export_files(make_run(), ()) == {}


# --------------------------------------------------------------------------- KML / KMZ


def _placemarks(root: ET.Element, folder: str) -> list[ET.Element]:
    for f in root.iterfind(".//k:Folder", KML_NS):
        if f.findtext("k:name", namespaces=KML_NS) == folder:
            return f.findall("k:Placemark", KML_NS)
    raise AssertionError(f"no folder {folder}")


def _data(mark: ET.Element) -> dict[str, str]:
    return {d.get("name"): d.findtext("k:value", namespaces=KML_NS) or "" for d in mark.iterfind(".//k:Data", KML_NS)}


def test_kml_has_zones_as_polygons_named_by_school_and_schools_as_placemarks(files: dict[str, bytes]) -> None:
    root = ET.fromstring(files[KML_FILE])
    folders = [f.findtext("k:name", namespaces=KML_NS) for f in root.iterfind(".//k:Folder", KML_NS)]
    assert folders == ["小学片区", "初中片区", "学校"]
    assert root.findtext("k:Document/k:name", namespaces=KML_NS) == "测试区 2026 · 学校与片区"
    schools = _placemarks(root, "学校")
    assert [m.findtext("k:name", namespaces=KML_NS) for m in schools] == NAMES  # Chinese intact, sorted by id, escaped
    first = _data(schools[0])
    assert first["school_id"] == "s1" and first["level_name"] == "小学" and first["seats"] == "1080" and first["pupils"] == "1100"
    assert schools[0].findtext("k:description", namespaces=KML_NS) == "小学 · 学位 1,080 · 在校生 1,100"
    assert _data(schools[2])["level_name"] == "九年一贯制" and _data(schools[2])["seats"] == "840"
    lon, lat = map(float, schools[0].findtext(".//k:Point/k:coordinates", namespaces=KML_NS).split(","))
    assert (lon, lat) == pytest.approx(REF_WGS84, abs=1e-7)  # WGS84, back from the metric CRS

    zones = _placemarks(root, "小学片区")
    assert [m.findtext("k:name", namespaces=KML_NS) for m in zones] == [NAMES[0], NAMES[2]]
    assert _data(zones[0])["students"] == "1076" and _data(zones[0])["util"] == "0.996"
    assert zones[0].findtext("k:description", namespaces=KML_NS) == "小学 · 片区学生 1,076 · 学位 1,080 · 使用率 99.6%"
    assert "name" not in _data(zones[0])  # the placemark's name: a second one would clash in GDAL's KML reader
    hole = zones[0].findall(".//k:innerBoundaryIs", KML_NS)
    assert len(hole) == 1
    assert len(zones[1].findall("k:MultiGeometry/k:Polygon", KML_NS)) == 2
    ring = zones[0].findtext(".//k:outerBoundaryIs/k:LinearRing/k:coordinates", namespaces=KML_NS)
    xy = np.array([[float(v) for v in pair.split(",")] for pair in ring.split()])
    assert xy.min(axis=0) == pytest.approx([116.39, 39.90], abs=1e-7)
    assert xy.max(axis=0) == pytest.approx([116.41, 39.93], abs=1e-7)


def test_kmz_is_the_kml_zipped_as_doc_kml_without_timestamps(files: dict[str, bytes]) -> None:
    with zipfile.ZipFile(io.BytesIO(files[KMZ_FILE])) as z:
        assert z.namelist() == ["doc.kml"]
        assert z.read("doc.kml") == files[KML_FILE]
        assert z.getinfo("doc.kml").date_time == (1980, 1, 1, 0, 0, 0)


def test_kml_in_english_and_without_zones() -> None:
    out = export_files(make_run(language="en", zones=False), ("kml",))
    root = ET.fromstring(out[KML_FILE])
    assert [f.findtext("k:name", namespaces=KML_NS) for f in root.iterfind(".//k:Folder", KML_NS)] == ["Schools"]
    assert _data(_placemarks(root, "Schools")[2])["level_name"] == "nine-year"


# --------------------------------------------------------------------------- GeoJSON in GCJ-02


def test_geojson_is_shifted_to_gcj02_at_the_published_reference_point(files: dict[str, bytes]) -> None:
    doc = json.loads(files[f"{GEOJSON_DIR}/schools.geojson"])
    assert doc["type"] == "FeatureCollection" and doc["coordinate_system"] == "GCJ-02" and "crs" not in doc
    first = doc["features"][0]
    assert first["properties"]["name"] == NAMES[0] and first["properties"]["level"] == "primary"
    lon, lat = first["geometry"]["coordinates"]
    assert (lon, lat) == pytest.approx(REF_GCJ02, abs=2e-7)  # the published value, not our own formula
    # the shift is the few hundred metres Amap users see, eastwards and northwards
    geod = pyproj.Geod(ellps="WGS84")
    _, _, dist = geod.inv(*REF_WGS84, lon, lat)
    assert 500 < dist < 700


def test_geojson_zones_wind_counter_clockwise_and_keep_their_hole(files: dict[str, bytes]) -> None:
    frame = gpd.read_file(io.BytesIO(files[f"{GEOJSON_DIR}/zones_primary.geojson"]), engine="pyogrio")
    assert list(frame["name"]) == [NAMES[0], NAMES[2]]
    poly = frame.geometry.iloc[0]
    assert len(poly.interiors) == 1 and poly.exterior.is_ccw
    assert frame.geometry.iloc[1].geom_type == "MultiPolygon"
    # shifted by GCJ-02: the western edge is east of 116.39 by the local offset (≈ 0.006°)
    assert 116.395 < poly.bounds[0] < 116.398


# --------------------------------------------------------------------------- Shapefile and GeoPackage in CGCS2000


def test_shapefile_zip_has_utf8_cpg_cgcs2000_and_chinese_attributes(files: dict[str, bytes], tmp_path: Path) -> None:
    with zipfile.ZipFile(io.BytesIO(files[SHP_FILE])) as z:
        names = z.namelist()
        assert all(i.date_time == (1980, 1, 1, 0, 0, 0) for i in z.infolist())
        z.extractall(tmp_path)
    for layer in ("schools", "zones_primary", "zones_junior"):
        assert {f"{layer}.{ext}" for ext in ("shp", "shx", "dbf", "prj", "cpg")} <= set(names)
    assert (tmp_path / "schools.cpg").read_text() == "UTF-8"
    assert pyproj.CRS(pyogrio.read_info(tmp_path / "schools.shp")["crs"]).to_epsg() == 4490
    schools = pyogrio.read_dataframe(tmp_path / "schools.shp")
    assert list(schools["name"]) == NAMES
    assert list(schools["township"].fillna("")) == ["东华门街道", "", "和平里街道"]  # DBF keeps no empty text
    assert list(schools["seats"]) == [1080, 900, 840]
    assert list(schools["boarding"]) == [0, 0, 1]
    zones = pyogrio.read_dataframe(tmp_path / "zones_primary.shp")
    assert list(zones["name"]) == [NAMES[0], NAMES[2]] and list(zones["level_name"]) == ["小学", "小学"]
    x, y = schools.geometry.iloc[0].x, schools.geometry.iloc[0].y
    assert (x, y) == pytest.approx(REF_WGS84, abs=1e-6)  # CGCS2000 is within a metre of WGS84


def test_geopackage_holds_every_layer_in_epsg_4490(files: dict[str, bytes], tmp_path: Path) -> None:
    path = tmp_path / "plan.gpkg"
    path.write_bytes(files[GPKG_FILE])
    assert [row[0] for row in pyogrio.list_layers(path)] == ["schools", "zones_primary", "zones_junior"]
    for layer in ("schools", "zones_primary"):
        assert pyogrio.read_info(path, layer=layer)["crs"] == "EPSG:4490"
    zones = pyogrio.read_dataframe(path, layer="zones_primary")
    assert list(zones["name"]) == [NAMES[0], NAMES[2]]
    assert zones["util"].tolist() == pytest.approx([0.996, 0.889])


# --------------------------------------------------------------------------- determinism


def test_same_run_gives_byte_identical_files(files: dict[str, bytes]) -> None:
    again = export_files(make_run(), EXPORT_FORMATS)
    assert again == files
    other = export_files(make_run(language="en"), EXPORT_FORMATS)
    assert other[KML_FILE] != files[KML_FILE]  # the comparison can fail


def test_layers_sorted_by_school_id_whatever_the_input_order() -> None:
    run = make_run()
    shuffled = run.inputs.schools.iloc[[2, 0, 1]]
    inputs = Inputs(schools=shuffled, blocks=None, teachers=None, roads=None, boundary=None, metric_crs=METRIC)
    other = RunResult(scenario=run.scenario, inputs=inputs, outputs=run.outputs)
    assert export_files(other, EXPORT_FORMATS) == export_files(run, EXPORT_FORMATS)
    assert list(export_layers(other).layers["schools"]["school_id"]) == ["s1", "s2", "s3"]


def _zones_stage(ctx: Context, params: StageParams) -> StageOutput:
    return StageOutput(files=dict(_zones()))


def test_a_run_writes_the_exports_identically_into_two_folders(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry, "STAGES", {"zones": Stage("zones", StageParams, _zones_stage, files=("{level}/zones.gpkg",))})
    monkeypatch.setattr(session_mod, "renderers", dict)
    inputs = Inputs(schools=_schools(), blocks=None, teachers=None, roads=None, boundary=None, metric_crs=METRIC)
    scenario = scenario_from_dict(
        {"name": "测试区", "inputs": {"schools": "s.gpkg"}, "zones": {}, "report": {"exports": list(EXPORT_FORMATS)}}
    )
    digests = []
    for name in ("a", "b"):
        summary = run_scenario(scenario, tmp_path / name, inputs=inputs, render=False)
        manifest = json.loads((tmp_path / name / "manifest.json").read_text())
        outputs = {k: v for k, v in manifest["outputs"].items() if k.startswith("exports/")}
        assert set(outputs) == set(export_paths(EXPORT_FORMATS))
        assert all((tmp_path / name / rel).is_file() for rel in outputs)
        assert "exports" in summary.run.timings_s
        digests.append(outputs)
    assert digests[0] == digests[1]


def test_run_flag_overrides_the_scenario_exports(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(registry, "STAGES", {})
    (tmp_path / "schools.csv").write_text(
        "学校代码,学校名称,学段,城乡类型,小学学位数,经度,纬度\ns1,东城区第一小学,小学,城区,1080,116.404,39.915\n", encoding="utf-8"
    )
    scenario = tmp_path / "s.toml"
    scenario.write_text('[inputs]\nschools = "schools.csv"\ncrs = "wgs84"\n[report]\nexports = ["gpkg_cgcs2000"]\n', encoding="utf-8")
    assert cli.main(["run", str(scenario), "--out", str(tmp_path / "a"), "--no-report", "--quiet", "--exports", "kml,kmz"]) == 0
    assert sorted(p.name for p in (tmp_path / "a" / "exports").iterdir()) == ["plan.kml", "plan.kmz"]
    root = ET.fromstring((tmp_path / "a" / KML_FILE).read_bytes())
    assert [m.findtext("k:name", namespaces=KML_NS) for m in root.iterfind(".//k:Placemark", KML_NS)] == ["东城区第一小学"]
    assert cli.main(["run", str(scenario), "--out", str(tmp_path / "b"), "--no-report", "--quiet", "--exports", "none"]) == 0
    assert not (tmp_path / "b" / "exports").exists()
    assert cli.main(["run", str(scenario), "--out", str(tmp_path / "c"), "--no-report", "--quiet"]) == 0
    assert [p.name for p in (tmp_path / "c" / "exports").iterdir()] == ["plan_cgcs2000.gpkg"]
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["run", str(scenario), "--exports", "kml,shp"])
    assert exit_info.value.code == 2
    assert "unknown format shp; valid: kml, kmz, geojson_gcj02, shp_cgcs2000, gpkg_cgcs2000 or none" in capsys.readouterr().err
