"""Export files other offices open: KML/KMZ, GeoJSON in GCJ-02, Shapefile and GeoPackage in CGCS2000.

``[report] exports = [...]`` (:data:`planning.app.settings.EXPORT_FORMATS`) asks for them; the session
adds them to the run's files under ``exports/`` and the writer writes them. Pure: every function here
turns frames into bytes (the Shapefile and GeoPackage drivers of GDAL write into a private temporary
folder that is read back and removed; nothing is written to the output folder here).

Two layers are exported, with the same short field names in every format (a Shapefile field name
holds at most 10 bytes):

- ``schools`` (points): ``school_id, name, level, level_name, township, seats, seats_pri, seats_jun,
  pupils, boarding``;
- ``zones_<level>`` (polygons, one per school, when the zones stage ran): ``school_id, name, level,
  level_name, students, seats, util``.

========================= ============================================ ==================================
format                    file(s) under ``exports/``                   for
========================= ============================================ ==================================
``kml``                   ``plan.kml``                                 奥维互动地图, Google Earth (WGS84)
``kmz``                   ``plan.kmz`` (``doc.kml`` zipped)            the same, smaller
``geojson_gcj02``         ``gcj02/<layer>.geojson``                    Amap (高德) JS API, coordinates GCJ-02
``shp_cgcs2000``          ``plan_cgcs2000_shp.zip`` (``<layer>.shp``…) 自然资源 departments, EPSG:4490, UTF-8
``gpkg_cgcs2000``         ``plan_cgcs2000.gpkg`` (one table per layer) the same, one file
========================= ============================================ ==================================

Every file is deterministic: features sorted by ``school_id``, coordinates rounded to 1e-7° (≈ 1 cm),
zip entries dated 1980-01-01, the DBF header and GeoPackage timestamps fixed.
"""

from __future__ import annotations

import io
import json
import math
import tempfile
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final
from xml.sax.saxutils import escape, quoteattr

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely

from geo.crs import wgs84_to_gcj02
from geo.model import LEVELS
from geo.text import visible
from planning.app.settings import ExportFormat
from planning.app.stage import RunResult
from planning.app.writer import FIXED_TIMESTAMP

#: Folder of the export files in the run folder.
EXPORT_DIR: Final = "exports"
KML_FILE: Final = f"{EXPORT_DIR}/plan.kml"
KMZ_FILE: Final = f"{EXPORT_DIR}/plan.kmz"
GEOJSON_DIR: Final = f"{EXPORT_DIR}/gcj02"
SHP_FILE: Final = f"{EXPORT_DIR}/plan_cgcs2000_shp.zip"
GPKG_FILE: Final = f"{EXPORT_DIR}/plan_cgcs2000.gpkg"
CGCS2000: Final = "EPSG:4490"
WGS84: Final = "EPSG:4326"
#: Decimal places of exported degrees: 1e-7° is about 1 cm.
DECIMALS: Final = 7
#: Layer names: the schools and one zones layer per level.
SCHOOLS_LAYER: Final = "schools"
ZONES_LAYERS: Final = {level: f"zones_{level}" for level in LEVELS}
#: Zones file of the zones stage, per level.
_ZONES_FILE = "{level}/zones.gpkg"
#: Zip entries carry this date (the earliest a zip can hold), so reruns give the same bytes.
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)

_LEVEL_NAMES: Final = {
    "zh": {"primary": "小学", "junior": "初中", "nine_year": "九年一贯制"},
    "en": {"primary": "primary", "junior": "junior", "nine_year": "nine-year"},
}
#: Field → (Chinese, English) display name (KML ``displayName``).
_FIELD_NAMES: Final = {
    "school_id": ("学校代码", "school code"),
    "name": ("学校名称", "school"),
    "level": ("学段代码", "level code"),
    "level_name": ("学段", "level"),
    "township": ("乡镇", "township"),
    "seats": ("学位数", "seats"),
    "seats_pri": ("小学学位", "primary seats"),
    "seats_jun": ("初中学位", "junior seats"),
    "pupils": ("在校生数", "pupils enrolled"),
    "boarding": ("寄宿制", "boarding"),
    "students": ("片区学生数", "students in zone"),
    "util": ("学位使用率", "seat use"),
}
_WORDS: Final = {
    "zh": {"schools": "学校", "zones": "{level}片区", "seats": "学位", "pupils": "在校生", "students": "片区学生",
           "util": "使用率", "plan": "学校与片区"},
    "en": {"schools": "Schools", "zones": "{level} zones", "seats": "seats", "pupils": "enrolled", "students": "students",
           "util": "seat use", "plan": "schools and zones"},
}
#: KML colours (aabbggrr) of zone fills, cycled by zone; schools by level.
_ZONE_COLOURS: Final = ("1f77b4", "ff7f0e", "2ca02c", "d62728", "9467bd", "8c564b", "e377c2", "17becf")
_SCHOOL_COLOURS: Final = {"primary": "1f77b4", "junior": "d62728", "nine_year": "9467bd"}


def _kml_colour(rgb: str, alpha: str) -> str:
    """KML's ``aabbggrr`` from ``rrggbb`` and an alpha byte."""
    return f"{alpha}{rgb[4:6]}{rgb[2:4]}{rgb[0:2]}"


# --------------------------------------------------------------------------- the layers


@dataclass(frozen=True)
class ExportLayers:
    """What the exports hold, in WGS84, features sorted by ``school_id``.

    Attributes
    ----------
    title
        The plan's title (``[report] title`` or the scenario name).
    language
        ``"zh"`` or ``"en"`` (``[report] language``): level names and KML labels.
    layers
        Layer name (``schools``, ``zones_primary``, ``zones_junior``) → frame, those present, in that order.
    """

    title: str
    language: str
    layers: Mapping[str, gpd.GeoDataFrame]


def _text(series: pd.Series) -> pd.Series:
    """Texts without control characters, missing as ``""``."""
    out = ["" if v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v)) else visible(str(v)).strip() for v in series]
    return pd.Series(out, index=series.index, dtype=object)


def _count(frame: pd.DataFrame, column: str) -> pd.Series:
    """A count column as int64, 0 where absent or missing."""
    if column not in frame.columns:
        return pd.Series(0, index=frame.index, dtype=np.int64)
    return pd.to_numeric(frame[column], errors="coerce").fillna(0).round().astype(np.int64)


def _flag(frame: pd.DataFrame, column: str) -> pd.Series:
    """A yes/no column as 1/0 (int64), 0 where absent or missing."""
    values = frame[column].to_numpy(dtype=object) if column in frame.columns else np.zeros(len(frame), dtype=object)
    return pd.Series([1 if v is True or v is np.True_ else 0 for v in values], index=frame.index, dtype=np.int64)


def _schools_layer(schools: gpd.GeoDataFrame, names: Mapping[str, str]) -> gpd.GeoDataFrame:
    """The schools as exported: ids, names, level, seats and pupils, in WGS84."""
    ids = _text(schools["school_id"])
    level = _text(schools["level"])
    seats_pri, seats_jun = _count(schools, "capacity_primary"), _count(schools, "capacity_junior")
    frame = gpd.GeoDataFrame(
        {
            "school_id": ids,
            "name": _text(schools["name"]).where(lambda s: s != "", ids) if "name" in schools.columns else ids,
            "level": level,
            "level_name": level.map(names).fillna(level),
            "township": _text(schools["township"]) if "township" in schools.columns else "",
            "seats": seats_pri + seats_jun,
            "seats_pri": seats_pri,
            "seats_jun": seats_jun,
            "pupils": _count(schools, "enrolled_primary") + _count(schools, "enrolled_junior"),
            "boarding": _flag(schools, "boarding"),
        },
        geometry=schools.geometry.values,
        crs=schools.crs,
    )
    return _sorted_wgs84(frame)


def _zones_layer(zones: gpd.GeoDataFrame, level: str, names: Mapping[str, str], school_names: Mapping[str, str]) -> gpd.GeoDataFrame:
    """One level's zones as exported: the school, its students and seats, in WGS84."""
    ids = _text(zones["school_id"])
    given = _text(zones["name"]) if "name" in zones.columns else pd.Series("", index=zones.index, dtype=object)
    name = given.where(given != "", ids.map(school_names).fillna(ids))
    students, seats = _count(zones, "students"), _count(zones, "capacity_seats")
    util = np.where(seats > 0, np.round(students / seats.where(seats > 0, 1), 3), np.nan)
    frame = gpd.GeoDataFrame(
        {
            "school_id": ids,
            "name": name,
            "level": level,
            "level_name": names.get(level, level),
            "students": students,
            "seats": seats,
            "util": util.astype(np.float64),
        },
        geometry=zones.geometry.values,
        crs=zones.crs,
    )
    return _sorted_wgs84(frame)


def _sorted_wgs84(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Sorted by ``school_id``, empty geometries dropped, in WGS84 rounded to :data:`DECIMALS`."""
    frame = frame[~(frame.geometry.isna() | frame.geometry.is_empty)]
    frame = frame.sort_values("school_id", kind="stable").reset_index(drop=True)
    out = frame.to_crs(WGS84)
    return out.set_geometry(shapely.transform(out.geometry.values, _rounded))


def _rounded(xy: np.ndarray) -> np.ndarray:
    """Coordinates rounded to :data:`DECIMALS` places (the nearest float to each decimal, so JSON stays short)."""
    return np.round(xy, DECIMALS)


def export_layers(run: RunResult) -> ExportLayers:
    """The schools and, when the zones stage ran, each level's zones, as the exports hold them."""
    report = run.scenario.report
    language = "en" if report.get("language") == "en" else "zh"
    title = str(report.get("title") or "") or run.scenario.name
    names = _LEVEL_NAMES[language]
    layers: dict[str, gpd.GeoDataFrame] = {}
    schools = run.inputs.schools
    layers[SCHOOLS_LAYER] = _schools_layer(schools, names)
    school_names = dict(zip(layers[SCHOOLS_LAYER]["school_id"], layers[SCHOOLS_LAYER]["name"], strict=True))
    zones_out = run.outputs.get("zones")
    for level in LEVELS:
        zones = None if zones_out is None else zones_out.files.get(_ZONES_FILE.format(level=level))
        if isinstance(zones, gpd.GeoDataFrame) and not zones.empty:
            if zones.crs is None:
                zones = zones.set_crs(run.inputs.metric_crs)
            layers[ZONES_LAYERS[level]] = _zones_layer(zones, level, names, school_names)
    return ExportLayers(title=title, language=language, layers=layers)


# --------------------------------------------------------------------------- KML / KMZ


def _kml_coords(coords: Any) -> str:
    return " ".join(f"{x:.{DECIMALS}f},{y:.{DECIMALS}f}" for x, y in np.asarray(coords)[:, :2])


def _kml_polygon(poly: shapely.Polygon) -> str:
    inner = "".join(
        f"<innerBoundaryIs><LinearRing><coordinates>{_kml_coords(r.coords)}</coordinates></LinearRing></innerBoundaryIs>"
        for r in poly.interiors
    )
    outer = f"<outerBoundaryIs><LinearRing><coordinates>{_kml_coords(poly.exterior.coords)}</coordinates></LinearRing></outerBoundaryIs>"
    return f"<Polygon>{outer}{inner}</Polygon>"


def _kml_geometry(geom: shapely.Geometry) -> str:
    """A point, polygon or multipolygon as KML (a multipolygon as ``MultiGeometry``)."""
    if isinstance(geom, shapely.Point):
        return f"<Point><coordinates>{geom.x:.{DECIMALS}f},{geom.y:.{DECIMALS}f}</coordinates></Point>"
    if isinstance(geom, shapely.Polygon):
        return _kml_polygon(geom)
    if isinstance(geom, shapely.MultiPolygon):
        return "<MultiGeometry>" + "".join(_kml_polygon(p) for p in geom.geoms) + "</MultiGeometry>"
    if isinstance(geom, shapely.GeometryCollection):
        return "<MultiGeometry>" + "".join(_kml_geometry(g) for g in geom.geoms) + "</MultiGeometry>"
    msg = f"cannot export a {geom.geom_type} to KML"
    raise TypeError(msg)


def _plain(value: Any) -> Any:
    """A numpy scalar as a Python one, NaN as ``None``."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _extended_data(row: Mapping[str, Any], zh: bool) -> str:
    """``<ExtendedData>``: every field but the name (the placemark's own) with its display name (shown in the balloon)."""
    parts = []
    for key, value in row.items():
        if key == "name":
            continue
        shown = _FIELD_NAMES.get(key, (key, key))[0 if zh else 1]
        text = "" if (v := _plain(value)) is None else str(v)
        parts.append(f"<Data name={quoteattr(key)}><displayName>{escape(shown)}</displayName><value>{escape(text)}</value></Data>")
    return "<ExtendedData>" + "".join(parts) + "</ExtendedData>"


def _school_description(row: Mapping[str, Any], words: Mapping[str, str]) -> str:
    return f"{row['level_name']} · {words['seats']} {int(row['seats']):,} · {words['pupils']} {int(row['pupils']):,}"


def _zone_description(row: Mapping[str, Any], words: Mapping[str, str]) -> str:
    util = _plain(row["util"])
    share = "–" if util is None else f"{100 * util:.1f}%"
    return f"{row['level_name']} · {words['students']} {int(row['students']):,} · {words['seats']} {int(row['seats']):,} · {words['util']} {share}"


def _kml_folder(
    name: str, frame: gpd.GeoDataFrame, style: Callable[[int, Mapping[str, Any]], str], describe: Callable[[Mapping[str, Any]], str], zh: bool
) -> str:
    """One ``<Folder>`` of placemarks, one per feature, named by the school."""
    marks = []
    for i, (row, geom) in enumerate(zip(frame.drop(columns=frame.geometry.name).to_dict("records"), frame.geometry.values, strict=True)):
        marks.append(
            f"<Placemark><name>{escape(str(row['name']))}</name><description>{escape(describe(row))}</description>"
            f"<styleUrl>#{style(i, row)}</styleUrl>{_extended_data(row, zh)}{_kml_geometry(geom)}</Placemark>"
        )
    return f"<Folder><name>{escape(name)}</name>" + "\n".join(marks) + "</Folder>"


def _kml_styles() -> str:
    schools = "".join(
        f'<Style id="school_{level}"><IconStyle><color>{_kml_colour(rgb, "ff")}</color><scale>0.9</scale></IconStyle>'
        "<LabelStyle><scale>0.8</scale></LabelStyle></Style>"
        for level, rgb in _SCHOOL_COLOURS.items()
    )
    zones = "".join(
        f'<Style id="zone{i}"><LineStyle><color>{_kml_colour(rgb, "ff")}</color><width>1.5</width></LineStyle>'
        f"<PolyStyle><color>{_kml_colour(rgb, '4d')}</color></PolyStyle></Style>"
        for i, rgb in enumerate(_ZONE_COLOURS)
    )
    return schools + zones


def kml_text(layers: ExportLayers) -> str:
    """The KML document: styles, a folder of zones per level (polygons named by their school) and the schools.

    Coordinates are WGS84 longitude, latitude (KML's only system); texts are UTF-8, escaped.
    """
    zh = layers.language == "zh"
    words = _WORDS[layers.language]
    folders = []
    for level, layer in ZONES_LAYERS.items():
        if layer in layers.layers:
            name = words["zones"].format(level=_LEVEL_NAMES[layers.language][level])
            folders.append(
                _kml_folder(name, layers.layers[layer], lambda i, row: f"zone{i % len(_ZONE_COLOURS)}",
                            lambda row: _zone_description(row, words), zh)
            )
    schools = layers.layers[SCHOOLS_LAYER]
    folders.append(
        _kml_folder(words["schools"], schools, lambda i, row: f"school_{row['level'] if row['level'] in _SCHOOL_COLOURS else 'primary'}",
                    lambda row: _school_description(row, words), zh)
    )
    title = f"{visible(layers.title)} · {words['plan']}"
    body = "\n".join(folders)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<kml xmlns="http://www.opengis.net/kml/2.2">\n'
        f"<Document><name>{escape(title)}</name>{_kml_styles()}\n{body}\n</Document>\n</kml>\n"
    )


def zip_bytes(entries: Mapping[str, bytes]) -> bytes:
    """A zip of ``name → bytes``, entries in name order, dated 1980-01-01, mode 0644: the same bytes every run."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(entries):
            info = zipfile.ZipInfo(name, date_time=_ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, entries[name])
    return buf.getvalue()


def kmz_bytes(kml: str) -> bytes:
    """KMZ: the KML zipped as ``doc.kml`` (the name Google Earth and 奥维 look for)."""
    return zip_bytes({"doc.kml": kml.encode("utf-8")})


# --------------------------------------------------------------------------- GeoJSON in GCJ-02


def _to_gcj02(xy: np.ndarray) -> np.ndarray:
    lon, lat = wgs84_to_gcj02(xy[:, 0], xy[:, 1])
    return np.round(np.column_stack([lon, lat]), DECIMALS)


def geojson_gcj02_bytes(frame: gpd.GeoDataFrame, name: str) -> bytes:
    """A FeatureCollection with coordinates shifted from WGS84 to GCJ-02 (Amap, Tencent), compact UTF-8 JSON.

    Polygons wind counter-clockwise outside (RFC 7946). The file carries no ``crs`` member (RFC 7946
    has none); ``"coordinate_system": "GCJ-02"`` says what the numbers are, as tools that read GeoJSON
    take them for WGS84.
    """
    geoms = shapely.orient_polygons(shapely.transform(frame.geometry.values, _to_gcj02), exterior_cw=False)
    features = [
        {
            "type": "Feature",
            "properties": {k: _plain(v) for k, v in row.items()},
            "geometry": json.loads(shapely.to_geojson(geom)),
        }
        for row, geom in zip(frame.drop(columns=frame.geometry.name).to_dict("records"), geoms, strict=True)
    ]
    collection = {"type": "FeatureCollection", "name": name, "coordinate_system": "GCJ-02", "features": features}
    return (json.dumps(collection, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")


# --------------------------------------------------------------------------- Shapefile and GeoPackage in CGCS2000


def _gdal_files(layers: ExportLayers, write: Callable[[Path, str, gpd.GeoDataFrame], None]) -> dict[str, bytes]:
    """Write each layer in CGCS2000 with ``write(folder, layer, frame)`` into a temporary folder; its files' bytes."""
    stamp = FIXED_TIMESTAMP.strftime("%Y-%m-%dT%H:%M:%S.000Z")
    pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": stamp})
    try:
        with tempfile.TemporaryDirectory(prefix="schoolplan-export-") as tmp:
            folder = Path(tmp)
            for layer, frame in layers.layers.items():
                write(folder, layer, frame.to_crs(CGCS2000))
            return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}
    finally:
        pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": None})


def _write_shapefile(folder: Path, layer: str, frame: gpd.GeoDataFrame) -> None:
    # .cpg "UTF-8" so that ArcGIS and QGIS read Chinese names; the DBF header's date fixed, not today's
    frame.to_file(
        folder / f"{layer}.shp", driver="ESRI Shapefile", engine="pyogrio", encoding="UTF-8",
        layer_options={"DBF_DATE_LAST_UPDATE": FIXED_TIMESTAMP.strftime("%Y-%m-%d")},
    )


def shapefile_zip_bytes(layers: ExportLayers) -> bytes:
    """A zip of one Shapefile per layer (``.shp .shx .dbf .prj .cpg``), CGCS2000, attributes UTF-8."""
    return zip_bytes(_gdal_files(layers, _write_shapefile))


def _write_gpkg_layer(folder: Path, layer: str, frame: gpd.GeoDataFrame) -> None:
    frame.to_file(folder / "plan.gpkg", layer=layer, driver="GPKG", engine="pyogrio", promote_to_multi=layer != SCHOOLS_LAYER)


def gpkg_bytes(layers: ExportLayers) -> bytes:
    """One GeoPackage with a table per layer, CGCS2000 (EPSG:4490)."""
    return _gdal_files(layers, _write_gpkg_layer)["plan.gpkg"]


# --------------------------------------------------------------------------- the files


def export_paths(formats: tuple[ExportFormat, ...]) -> list[str]:
    """Every file the formats may write, relative to the run folder (known before the run)."""
    geojson = [f"{GEOJSON_DIR}/{layer}.geojson" for layer in (SCHOOLS_LAYER, *ZONES_LAYERS.values())]
    paths: dict[str, list[str]] = {
        "kml": [KML_FILE], "kmz": [KMZ_FILE], "geojson_gcj02": geojson, "shp_cgcs2000": [SHP_FILE], "gpkg_cgcs2000": [GPKG_FILE],
    }
    return [p for f in formats for p in paths[f]]


def export_files(run: RunResult, formats: tuple[ExportFormat, ...]) -> dict[str, bytes]:
    """Relative path → bytes of each export file the formats ask for (none when ``formats`` is empty)."""
    if not formats:
        return {}
    layers = export_layers(run)
    files: dict[str, bytes] = {}
    if "kml" in formats or "kmz" in formats:
        kml = kml_text(layers)
        if "kml" in formats:
            files[KML_FILE] = kml.encode("utf-8")
        if "kmz" in formats:
            files[KMZ_FILE] = kmz_bytes(kml)
    if "geojson_gcj02" in formats:
        for layer, frame in layers.layers.items():
            files[f"{GEOJSON_DIR}/{layer}.geojson"] = geojson_gcj02_bytes(frame, layer)
    if "shp_cgcs2000" in formats:
        files[SHP_FILE] = shapefile_zip_bytes(layers)
    if "gpkg_cgcs2000" in formats:
        files[GPKG_FILE] = gpkg_bytes(layers)
    return files
