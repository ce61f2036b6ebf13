"""Reading input layers from files: the only module of :mod:`geo` that touches the disk.

Supported formats: GeoPackage, GeoJSON, Shapefile (also zipped) and FlatGeobuf
through pyogrio; CSV (UTF-8 with or without BOM, UTF-16 with BOM, then GB18030
— a superset of GBK and GB2312 — tried in turn, see :func:`read_text`; comma,
tab, semicolon or bar separated) and Excel ``.xlsx`` through openpyxl. Tables
carry point coordinates in ``lon``/``lat`` columns (经度/纬度 and the other
:data:`geo.validate.LON_ALIASES` accepted), in the CRS the caller declares; when
none is declared :func:`load_inputs` reads them as WGS84 and warns, naming the
layer. Coordinates implausible for China in their CRS (degrees read as metres or
the reverse) are refused before anything is computed.

:func:`read_layer` renames accepted headers to the canonical names and builds
geometries but does not check values; :func:`load_inputs` reads every layer and
validates them together with :func:`geo.validate.validate_inputs`, raising one
:class:`~geo.errors.InputError` with every problem of every file.
"""

from __future__ import annotations

import codecs
import csv
import dataclasses
import io
import logging
import warnings
import zipfile
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Final, Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pyproj
import shapely

from geo.crs import implausible_coordinates, parse_crs, points_to_wgs84, to_wgs84
from geo.errors import InputError, Problem
from geo.model import LAYERS, Inputs, LayerSpec
from geo.validate import (
    LAT_ALIASES,
    LON_ALIASES,
    InputNote,
    InputWarning,
    accepted_headers,
    deferred_warnings,
    numeric_values,
    rename_aliases,
    sheet_label,
    validate_frames,
    validate_table,
)

log = logging.getLogger(__name__)

#: Text encodings tried for CSV files, in order.
CSV_ENCODINGS: Final = ("utf-8-sig", "gb18030")
#: Separators a CSV file may use.
CSV_SEPARATORS: Final = ",\t;|"
_ZIP_MAGIC: Final = b"PK\x03\x04"  # .xlsx, .zip
_SQLITE_MAGIC: Final = b"SQLite format 3\x00"  # .gpkg
_OLE_MAGIC: Final = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # .xls, .doc
_SNIFF_BYTES: Final = 8192  # many NUL bytes in the first 8 KB mark a binary file ...
_MAX_STRAY_NULS: Final = 2  # ... more than this (one or two are stray control characters in a name)
_CONTROL_BYTES: Final = (*range(9), *range(14, 32))  # C0 controls other than tab, newlines, VT, FF
_VECTOR: Final = (".gpkg", ".geojson", ".json", ".shp", ".zip", ".fgb")
_TABLE: Final = (".csv", ".txt", ".tsv")
_EXCEL: Final = (".xlsx", ".xlsm")
_ORDER: Final = ("schools", "blocks", "teachers", "boundary", "roads")  # roads last: OSM is cut to the others
#: A sheet whose name holds this word is instructions, never a layer (the template's 说明, 道路说明).
INSTRUCTIONS_WORD: Final = "说明"
#: ``DataFrame.attrs`` key of the sheet a layer was read from, when its workbook has several.
SHEET_ATTR: Final = "schoolplan_sheet"
#: Margin around the study area when reading part of an OSM extract (degrees, ≈ 5-10 km).
OSM_MARGIN_DEG: Final = 0.05

#: Headers accepted in plain tables that are not input layers (lower-cased → canonical).
TABLE_ALIASES: Final[Mapping[str, Mapping[str, str]]] = {
    "groups": {
        "学校代码": "school_id",
        "学校编号": "school_id",
        "集团编号": "group_id",
        "集团": "group_id",
        "共同体": "group_id",
        "共同体编号": "group_id",
        "角色": "role",
        "group": "group_id",
    },
    "staffing_targets": {
        "学校代码": "school_id",
        "学校编号": "school_id",
        "学科": "subject",
        "任教学科": "subject",
        "编制数": "target",
        "核定编制": "target",
        "目标人数": "target",
    },
}

FileKind = Literal["vector", "table", "excel", "osm"]
#: Where the CRS of a layer's coordinates came from, for messages.
CrsSource = Literal["declared", "file", "assumed"]


def file_kind(path: str | Path) -> FileKind | None:
    """What reader a file needs, from its name (``None`` if not supported)."""
    name = Path(path).name.lower()
    if name.endswith(".pbf"):
        return "osm"
    suffix = Path(name).suffix
    if suffix in _VECTOR:
        return "vector"
    if suffix in _TABLE:
        return "table"
    if suffix in _EXCEL:
        return "excel"
    return None


def _problem(path: Path | str, message: str, column: str | None = None) -> InputError:
    return InputError([Problem(layer=str(path), message=message, column=column)])


def _check_file(p: Path) -> FileKind:
    if not p.exists():
        raise _problem(p, "file not found")
    if p.is_dir():
        raise _problem(p, "is a folder, not a file")
    kind = file_kind(p)
    if kind is None:
        hint = " (old Excel .xls: save it as .xlsx)" if p.suffix.lower() == ".xls" else ""
        raise _problem(
            p,
            f"unsupported file type '{p.suffix}'{hint}; use GeoPackage (.gpkg), GeoJSON, Shapefile, CSV, Excel .xlsx "
            "or, for roads, OpenStreetMap .osm.pbf",
        )
    return kind


# --- tables -------------------------------------------------------------------------------


def _binary_kind(raw: bytes) -> str | None:
    """What a file that is not text looks like (``None`` when it may be text)."""
    if raw.startswith(_ZIP_MAGIC):
        return "an Excel workbook or a zip archive, not text (an .xlsx renamed?): give it its real extension"
    if raw.startswith(_OLE_MAGIC):
        return "an old Excel .xls workbook (or another Office file), not text: save it as .xlsx or CSV"
    if raw.startswith(_SQLITE_MAGIC):
        return "a GeoPackage or SQLite database, not text: give it its real extension (.gpkg)"
    head = raw[:_SNIFF_BYTES]
    # a stray NUL or bell pasted into a name is a control character (removed at load, with a warning); many
    # NULs, or control bytes making up more than a few percent of the text, are a binary file
    controls = sum(head.count(bytes([c])) for c in _CONTROL_BYTES)
    if head.count(b"\x00") > _MAX_STRAY_NULS or (controls > _MAX_STRAY_NULS and controls * 20 > len(head)):
        return "a binary file, not text"
    return None


def read_text(path: str | Path) -> tuple[str, str]:
    """Read a text file (CSV, TOML) in the encodings Chinese users' tools save.

    UTF-8 (a byte-order mark is dropped), UTF-16 with a byte-order mark (Excel's
    "Unicode text"), then GB18030, a superset of GBK and GB2312 (Excel's "CSV"
    and Notepad's "ANSI" on Chinese Windows).

    Parameters
    ----------
    path
        The file.

    Returns
    -------
    tuple[str, str]
        The text and the encoding it was read in: ``utf-8``, ``utf-16`` or ``gb18030``.

    Raises
    ------
    InputError
        The file is missing, a folder or unreadable (permissions), is binary
        (a workbook, a database, NUL bytes), or is in none of these encodings;
        the message names the file.
    """
    p = Path(path)
    try:
        raw = p.read_bytes()
    except IsADirectoryError as err:
        raise _problem(p, "is a folder, not a file") from err
    except FileNotFoundError as err:
        raise _problem(p, "file not found") from err
    except OSError as err:  # PermissionError and the like
        raise _problem(p, f"cannot read the file: {err.strerror or err}") from err
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return raw.decode("utf-16"), "utf-16"
        except UnicodeDecodeError as err:
            raise _problem(p, "starts like UTF-16 text but cannot be decoded; save it as UTF-8") from err
    binary = _binary_kind(raw)
    if binary is not None:
        raise _problem(p, f"is {binary}")
    for enc in CSV_ENCODINGS:
        try:
            return raw.decode(enc), "utf-8" if enc.startswith("utf-8") else enc
        except UnicodeDecodeError:
            continue
    raise _problem(p, f"cannot decode the text; save it as UTF-8 (tried {', '.join(CSV_ENCODINGS)})")


def _read_csv(p: Path) -> pd.DataFrame:
    text, encoding = read_text(p)
    if encoding != "utf-8":
        log.info("%s: read as %s text", p, encoding.upper())
    if not text.strip():
        raise _problem(p, "the file is empty")
    head = "\n".join(text.splitlines()[:20])
    try:
        sep = csv.Sniffer().sniff(head, delimiters=CSV_SEPARATORS).delimiter
    except csv.Error:
        sep = ","
    try:
        return pd.read_csv(io.StringIO(text), sep=sep, dtype=str, skipinitialspace=True)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as err:
        raise _problem(p, f"cannot read the CSV: {err}") from err


def _sheet_words(layer: str) -> tuple[str, ...]:
    """Sheet names that hold ``layer`` (lower-case): its name and the Chinese ones of its spec."""
    from geo.model import TABLE_LAYERS  # noqa: PLC0415

    spec = LAYERS.get(layer) or TABLE_LAYERS.get(layer)
    return (layer.lower(), *(w.lower() for w in (spec.sheets if spec is not None else ())))


def _sheet_matches(sheet: str, words: tuple[str, ...]) -> bool:
    """Whether a sheet name names a layer: exactly one of ``words``, or one of two characters or more in it."""
    name = sheet.strip().lower()
    if name in words:
        return True
    return INSTRUCTIONS_WORD not in name and any(len(w) >= 2 and w in name for w in words)


def choose_sheet(sheets: list[str], layer: str, *, empty: Collection[str] = ()) -> tuple[str | None, str]:
    """The sheet of a workbook that holds ``layer``, and why (for the note), or ``None`` and what is wrong.

    A sheet named after the layer (``学校``/``schools``, ``居住区``/``小区``/``blocks``,
    ``教师``/``teachers`` ...; :attr:`geo.model.LayerSpec.sheets`) is read; a workbook of one sheet is read
    whatever its name; otherwise the first sheet that names no other layer and is no instructions sheet
    (``说明``) nor empty (``empty``: Excel's blank Sheet2, Sheet3), unless that is ambiguous.
    """
    words = _sheet_words(layer)
    exact = [s for s in sheets if s.strip().lower() in words]
    hits = exact or [s for s in sheets if _sheet_matches(s, words)]
    if len(hits) == 1:
        return hits[0], f"sheet '{hits[0]}'"
    if len(hits) > 1:
        return None, f"several sheets may hold the {layer} layer ({', '.join(hits)}); rename all but one"
    if len(sheets) == 1:
        return sheets[0], f"its only sheet '{sheets[0]}'"
    others = [w for name in (*LAYERS, "groups", "staffing_targets") if name != layer for w in _sheet_words(name)]
    free = [s for s in sheets if s not in empty and INSTRUCTIONS_WORD not in s and not _sheet_matches(s, tuple(others))]
    if len(free) == 1:
        return free[0], f"sheet '{free[0]}' (no sheet is named {' or '.join(dict.fromkeys(words[:2]))})"
    names = ", ".join(f"'{s}'" for s in sheets)
    return None, f"no sheet holds the {layer} layer (sheets: {names}); name its sheet '{words[1] if len(words) > 1 else layer}' or '{layer}'"


def _read_excel(p: Path, layer: str) -> pd.DataFrame:
    try:
        with pd.ExcelFile(p, engine="openpyxl") as book:
            names = [str(n) for n in book.sheet_names]
            chosen, why = choose_sheet(names, layer)
            if chosen is None or "no sheet is named" in why:  # a guess: leave out Excel's blank sheets
                blank = [n for n in names if pd.read_excel(book, sheet_name=n, dtype=str).dropna(how="all").empty]
                chosen, why = choose_sheet(names, layer, empty=blank)
            frame = pd.read_excel(book, sheet_name=chosen, dtype=str) if chosen is not None else None
    except (zipfile.BadZipFile, ValueError, KeyError, OSError) as err:
        raise _problem(p, f"cannot read the Excel file: {err}") from err
    except Exception as err:  # openpyxl raises its own error types for broken workbooks
        raise _problem(p, f"cannot read the Excel file: {type(err).__name__}: {err}") from err
    if not names:
        raise _problem(p, "the workbook has no sheets")
    if chosen is None or frame is None:
        raise _problem(p, why)
    if len(names) > 1:  # a guess (no sheet named after the layer) is a warning, a named sheet a note
        category = InputWarning if "no sheet is named" in why else InputNote
        warnings.warn(f"{p}: the {layer} layer is read from {why}", category, stacklevel=2)
        frame.attrs[SHEET_ATTR] = chosen  # messages name the sheet as well as the file
    return frame


def _read_any_table(p: Path, kind: FileKind, layer: str) -> pd.DataFrame:
    if kind == "table":
        return _read_csv(p)
    if kind == "excel":
        return _read_excel(p, layer)
    msg = "must be a table (CSV or Excel .xlsx)"
    raise _problem(p, msg)


def read_table(path: str | Path, *, layer: str) -> pd.DataFrame:
    """Read a plain CSV or Excel table, with trimmed and canonical headers.

    Values are left as read (strings); the caller checks them.

    Parameters
    ----------
    path
        ``.csv`` (UTF-8 or GBK/GB18030) or ``.xlsx`` file.
    layer
        What the table holds, naming it in messages and choosing the header
        aliases: an input layer (``teachers`` ...) or ``groups`` (学校代码 →
        ``school_id``, 集团编号 → ``group_id``, 角色 → ``role``).

    Returns
    -------
    pandas.DataFrame

    Raises
    ------
    InputError
        Missing, unreadable or empty file, or two headers meaning one column.
    """
    p = Path(path)
    kind = _check_file(p)
    df = _read_any_table(p, kind, layer)
    if layer in LAYERS:
        spec = LAYERS[layer]
        out, problems = rename_aliases(df, LayerSpec(spec.name, spec.columns, "none", spec.id_column), layer=str(p))
        if problems:
            raise InputError(problems)
        return out
    aliases = {k.lower(): v for k, v in TABLE_ALIASES.get(layer, {}).items()}
    names = [str(c).replace("\ufeff", "").strip() for c in df.columns]
    canonical = [aliases.get(n.lower(), n) for n in names]
    dup = sorted({c for c in canonical if canonical.count(c) > 1})
    if dup:
        raise InputError([Problem(layer=str(p), message="two headers mean the same column", column=c) for c in dup])
    return df.set_axis(canonical, axis=1)


def _check_units(p: Path, x: np.ndarray, y: np.ndarray, crs: str | pyproj.CRS, source: CrsSource) -> None:
    """An :class:`InputError` naming the file when its coordinates cannot be in ``crs`` (see :func:`implausible_coordinates`)."""
    wrong = implausible_coordinates(x, y, crs)
    if wrong is None:
        return
    how = {
        "declared": "",
        "file": " (the CRS the file declares; declare the right one for this layer: scenario [inputs] layer_crs or --layer-crs)",
        "assumed": " (no CRS was declared, so WGS84 was assumed; declare it: scenario [inputs] crs or --crs)",
    }[source]
    raise InputError([Problem(layer=str(p), message=wrong + how, column="crs")])


def _points_from_table(p: Path, df: pd.DataFrame, declared: str | pyproj.CRS, source: CrsSource) -> gpd.GeoDataFrame:
    if "lon" not in df.columns or "lat" not in df.columns:
        missing = [c for c in ("lon", "lat") if c not in df.columns]
        raise InputError(
            [
                Problem(
                    layer=str(p),
                    message="missing coordinate column; accepted headers: "
                    + ", ".join(LON_ALIASES if c == "lon" else LAT_ALIASES),
                    column=c,
                )
                for c in missing
            ]
        )
    x = numeric_values(df["lon"])[0]
    y = numeric_values(df["lat"])[0]
    _check_units(p, x, y, declared, source)
    ok = np.isfinite(x) & np.isfinite(y)
    geoms = np.full(len(df), None, dtype=object)
    geoms[ok] = shapely.points(x[ok], y[ok])
    attrs = df.drop(columns=["lon", "lat"])
    if isinstance(declared, str):  # gcj02 / bd09: lon/lat shifted, convert to WGS84
        gdf = gpd.GeoDataFrame(attrs, geometry=gpd.GeoSeries(geoms, index=df.index), crs=4326)
        return to_wgs84(gdf, declared)
    return gpd.GeoDataFrame(attrs, geometry=gpd.GeoSeries(geoms, index=df.index), crs=declared)


def _home_to_wgs84(p: Path, df: pd.DataFrame, declared: str | pyproj.CRS, source: CrsSource) -> pd.DataFrame:
    """Teachers' ``home_lon``/``home_lat`` from the declared CRS to WGS84 degrees."""
    if "home_lon" not in df.columns or "home_lat" not in df.columns:
        return df
    x = numeric_values(df["home_lon"])[0]
    y = numeric_values(df["home_lat"])[0]
    _check_units(p, x, y, declared, source)
    if isinstance(declared, pyproj.CRS) and declared.equals(pyproj.CRS.from_epsg(4326)):
        return df
    ok = np.isfinite(x) & np.isfinite(y)
    if not ok.any():
        return df
    lon, lat = points_to_wgs84(x[ok], y[ok], declared)
    out = df.copy()
    for col, vals in (("home_lon", lon), ("home_lat", lat)):
        new = out[col].astype(object).to_numpy(copy=True)
        new[ok] = vals
        out[col] = new
    return out


# --- spatial files ------------------------------------------------------------------------


def _read_vector(p: Path, layer: str) -> pd.DataFrame:
    try:
        layers = pyogrio.list_layers(p)
    except Exception as err:  # pyogrio/GDAL raise DataSourceError and others for broken files
        raise _problem(p, f"cannot open: {err}") from err
    names = [str(n) for n in layers[:, 0]] if len(layers) else []
    if not names:
        raise _problem(p, "the file holds no layer")
    chosen = next((n for n in names if n.lower() == layer.lower()), None)
    if chosen is None:
        if len(names) > 1:
            raise _problem(p, f"holds several layers ({', '.join(names)}) and none is called '{layer}'")
        chosen = names[0]
    try:
        with warnings.catch_warnings():
            # GDAL warns about e.g. a missing .prj; the missing CRS is reported by validation
            warnings.simplefilter("ignore", RuntimeWarning)
            # A Shapefile without a .cpg is read by GDAL as ISO-8859-1, which garbles
            # Chinese text: try UTF-8, then GB18030 (GBK), as for CSV files.
            no_cpg = p.suffix.lower() == ".shp" and not p.with_suffix(".cpg").exists() and not p.with_suffix(".CPG").exists()
            try:
                df = pyogrio.read_dataframe(p, layer=chosen, encoding="utf-8" if no_cpg else None)
            except UnicodeDecodeError:
                df = pyogrio.read_dataframe(p, layer=chosen, encoding="gb18030")
    except Exception as err:  # GDAL errors on corrupt content
        raise _problem(p, f"cannot read layer '{chosen}': {err}") from err
    return df


def _read_osm(p: Path, layer: str, bounding_box: tuple[float, float, float, float] | None) -> gpd.GeoDataFrame:
    if layer != "roads":
        raise _problem(p, f"an OpenStreetMap .osm.pbf file can only give roads, not {layer}")
    try:
        from geo.osm import read_osm_roads  # noqa: PLC0415 (optional heavy reader)
    except ImportError as err:
        raise _problem(p, "reading .osm.pbf files is not available in this installation") from err
    return read_osm_roads(p, bounding_box=bounding_box)


def read_layer(
    path: str | Path,
    layer: str,
    *,
    crs: str | None = None,
    default_crs: str | None = None,
    bounding_box: tuple[float, float, float, float] | None = None,
) -> gpd.GeoDataFrame | pd.DataFrame:
    """Read one input layer from a file, with canonical headers and a geometry.

    Parameters
    ----------
    path
        GeoPackage, GeoJSON, Shapefile (or zipped Shapefile), FlatGeobuf, CSV,
        Excel ``.xlsx``, or for roads an OpenStreetMap ``.osm.pbf``. A file with
        several layers (or an Excel workbook with several sheets) gives the one
        named like ``layer``.
    layer
        ``schools``, ``blocks``, ``teachers``, ``roads`` or ``boundary``.
    crs
        The CRS the coordinates are in: ``wgs84``, ``cgcs2000``, ``gcj02``,
        ``bd09``, ``EPSG:n`` or a pyproj string. For CSV/Excel it is the CRS of
        the ``lon``/``lat`` (and teachers' ``home_lon``/``home_lat``) columns.
        For spatial files it overrides the file's own CRS (needed for
        GCJ-02/BD-09 data, which files store as plain lon/lat).
    default_crs
        The CRS when ``crs`` is not given: of CSV/Excel coordinates, and of a
        spatial file that declares none (a file's own CRS wins over it). With
        neither, CSV/Excel coordinates are read as WGS84.
    bounding_box
        ``(min_lon, min_lat, max_lon, max_lat)`` in WGS84: read only this part
        of an ``.osm.pbf`` extract (ignored for other formats).

    Returns
    -------
    geopandas.GeoDataFrame or pandas.DataFrame
        A GeoDataFrame for spatial layers (in the declared CRS, or WGS84 for
        GCJ-02/BD-09 input), a DataFrame for teachers (home coordinates in WGS84).
        Values are not checked: they may be strings.

    Raises
    ------
    InputError
        Unknown layer or CRS name, missing, unreadable or unsupported file,
        missing coordinate columns, two headers meaning one column, or
        coordinates implausible for China in their CRS (degrees read as
        metres or the reverse, see :func:`geo.crs.implausible_coordinates`).
    """
    p = Path(path)
    if layer not in LAYERS:
        raise _problem(p, f"unknown layer '{layer}'; layers are {', '.join(LAYERS)}")
    spec = LAYERS[layer]
    kind = _check_file(p)
    try:
        declared = parse_crs(crs) if crs is not None else None
        fallback = parse_crs(default_crs) if default_crs is not None else None
    except InputError as err:
        raise InputError([Problem(layer=str(p), message=q.message, column="crs") for q in err.problems]) from err

    if kind == "osm":
        df: pd.DataFrame = _read_osm(p, layer, bounding_box)
    elif kind == "vector":
        df = _read_vector(p, layer)
    else:
        df = _read_any_table(p, kind, layer)

    if kind in ("table", "excel") or spec.geometry == "none":
        given = declared if declared is not None else fallback
        source: CrsSource = "assumed" if given is None else "declared"
        table_crs = given if given is not None else pyproj.CRS.from_epsg(4326)
        if spec.geometry == "none":
            if isinstance(df, gpd.GeoDataFrame):
                df = pd.DataFrame(df.drop(columns=df.geometry.name))
            return _home_to_wgs84(p, _renamed(p, df, spec), table_crs, source)
        if spec.geometry in ("line", "polygon"):
            raise _problem(p, f"{layer} must be a spatial file (GeoPackage, GeoJSON, Shapefile); tables can only hold points")
        return _points_from_table(p, _renamed(p, df, spec), table_crs, source)

    if not isinstance(df, gpd.GeoDataFrame):
        raise _problem(p, f"has no geometry; {layer} must be spatial")
    return _spatial_in_crs(p, _renamed(p, df, spec), declared if declared is not None or df.crs is not None else fallback)


def _spatial_in_crs(p: Path, df: gpd.GeoDataFrame, declared: str | pyproj.CRS | None) -> gpd.GeoDataFrame:
    """A spatial layer in ``declared`` (its own CRS when ``None``), converted to WGS84 when declared; units checked."""
    coords = shapely.get_coordinates(np.asarray(df.geometry.array, dtype=object))
    if declared is None:
        if df.crs is not None:
            _check_units(p, coords[:, 0], coords[:, 1], pyproj.CRS(df.crs), "file")
        return df
    if isinstance(declared, pyproj.CRS) and df.crs is not None and not pyproj.CRS(df.crs).equals(declared):
        warnings.warn(
            f"{p}: the file says its CRS is {df.crs.name} but {declared.name} was declared; using the declared CRS",
            InputWarning,
            stacklevel=3,
        )
    if not (isinstance(declared, str) and df.crs is not None and not df.crs.is_geographic):
        _check_units(p, coords[:, 0], coords[:, 1], declared, "declared")  # else to_wgs84 says gcj02/bd09 need lon/lat
    if isinstance(declared, str) or df.crs is not None:
        try:
            return to_wgs84(df, declared)
        except InputError as err:
            raise InputError([Problem(layer=str(p), message=q.message, column="crs") for q in err.problems]) from err
    return df.set_crs(declared)


def _renamed(p: Path, df: pd.DataFrame, spec: LayerSpec) -> pd.DataFrame:
    """``df`` with canonical headers; an :class:`InputError` when two headers mean one column."""
    df, problems = rename_aliases(df, spec, layer=str(p))
    if problems:
        raise InputError(problems)
    return df


def load_inputs(
    paths: Mapping[str, str | Path | None],
    *,
    crs: str | None = None,
    layer_crs: Mapping[str, str] | None = None,
) -> Inputs:
    """Read every given layer and validate them together.

    Parameters
    ----------
    paths
        Layer name (``schools``, ``blocks``, ``teachers``, ``roads``,
        ``boundary``) → file; ``None`` entries are skipped. Schools are required.
    crs
        CRS of the coordinates in CSV/Excel layers and in spatial files that
        declare none (a spatial file's own CRS wins). When not given, CSV/Excel
        coordinates are read as WGS84 with an :class:`~geo.validate.InputWarning`
        naming each layer (Amap/Tencent data are GCJ-02, Baidu's BD-09: read as
        WGS84 they sit 0.5-1.3 km off).
    layer_crs
        Per-layer override, for tables and spatial files alike (e.g.
        ``{"blocks": "gcj02"}`` for a GeoJSON exported from Amap).

    Returns
    -------
    Inputs
        Canonical layers in the local UTM CRS, with ``sources`` naming the files
        and ``notes`` the warnings raised while loading.

    Raises
    ------
    InputError
        With every problem of every file: unreadable files and bad values alike,
        and coordinates implausible for China in their CRS.
    """
    overrides = dict(layer_crs or {})
    problems: list[Problem] = [
        Problem(layer=str(paths[name]), message=f"unknown layer '{name}'; layers are {', '.join(LAYERS)}")
        for name in sorted(set(paths) - set(LAYERS))
    ]
    problems.extend(
        Problem(layer="layer_crs", message=f"unknown layer '{name}'; layers are {', '.join(LAYERS)}")
        for name in sorted(set(overrides) - set(LAYERS))
    )
    names = {**({} if crs is None else {"crs": crs}), **{f"layer_crs.{k}": v for k, v in sorted(overrides.items())}}
    for key, value in names.items():
        try:
            parse_crs(value)
        except InputError as err:
            problems.extend(Problem(layer=key, message=q.message) for q in err.problems)
    if paths.get("schools") is None:
        problems.append(Problem(layer="schools", message="the schools layer is required (no file given)"))
    if problems and any(q.layer == "crs" or q.layer.startswith("layer_crs") for q in problems):
        raise InputError(problems)

    with deferred_warnings(stacklevel=1):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            inputs = _read_and_validate(paths, crs, overrides, problems)
        for w in caught:  # passed on to deferred_warnings, which shows them unless an error followed
            warnings.warn(w.message, w.category, stacklevel=1)
    notes = tuple(str(w.message) for w in caught if issubclass(w.category, InputWarning))
    return dataclasses.replace(inputs, notes=notes)


def _assumed_wgs84_warning(layers: Mapping[str, str]) -> str:
    """The warning for CSV/Excel layers read as WGS84 because no CRS was declared."""
    items = [f"{name} ({path})" for name, path in layers.items()]
    named = items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]
    return (
        f"no coordinate system (CRS) declared for {named}: the coordinates are read as WGS84 longitude/latitude (GPS). "
        'Coordinates from Amap or Tencent are GCJ-02 (declare crs = "gcj02"), from Baidu BD-09 (crs = "bd09"): '
        "read as WGS84 they sit 0.5-1.3 km off. Declare the CRS in the scenario's inputs (crs, or layer_crs per layer) "
        'or with --crs; crs = "wgs84" confirms WGS84 and silences this warning.'
    )


def _has_coordinates(frame: pd.DataFrame) -> bool:
    """Whether a layer read from a table holds coordinates (points, or teachers' home lon/lat)."""
    if isinstance(frame, gpd.GeoDataFrame):
        return True
    return "home_lon" in frame.columns and bool(pd.to_numeric(frame["home_lon"], errors="coerce").notna().any())


def _read_and_validate(
    paths: Mapping[str, str | Path | None], crs: str | None, overrides: Mapping[str, str], problems: list[Problem]
) -> Inputs:
    frames: dict[str, pd.DataFrame] = {}
    labels: dict[str, str] = {}
    assumed: dict[str, str] = {}
    for name in _ORDER:
        path = paths.get(name)
        if path is None:
            continue
        box = _study_area(frames) if name == "roads" and file_kind(path) == "osm" else None
        labels[name] = str(path)
        declared = overrides.get(name)
        try:
            frames[name] = read_layer(path, name, crs=declared, default_crs=crs, bounding_box=box)
        except InputError as err:
            problems.extend(err.problems)
            continue
        sheet = frames[name].attrs.get(SHEET_ATTR)
        if sheet is not None:
            labels[name] = sheet_label(path, sheet)
        tabular = file_kind(path) in ("table", "excel") or LAYERS[name].geometry == "none"
        if declared is None and crs is None and tabular and _has_coordinates(frames[name]):
            assumed[name] = str(path)
    if assumed:
        warnings.warn(_assumed_wgs84_warning(assumed), InputWarning, stacklevel=2)
    return validate_frames(frames, sources=labels, prior_problems=problems)


def _study_area(frames: Mapping[str, pd.DataFrame]) -> tuple[float, float, float, float] | None:
    """WGS84 box around the boundary (else schools and blocks), with a margin, to cut OSM extracts."""
    order = ("boundary",) if "boundary" in frames else ("schools", "blocks")
    boxes = []
    for name in order:
        df = frames.get(name)
        if not isinstance(df, gpd.GeoDataFrame) or df.crs is None:
            continue
        geoms = df.geometry[~(df.geometry.isna() | df.geometry.is_empty)]
        if len(geoms):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # invalid input is reported by validation
                bounds = geoms.to_crs(4326).total_bounds
            if np.all(np.isfinite(bounds)):
                boxes.append(bounds)
    if not boxes:
        return None
    b = np.vstack(boxes)
    m = OSM_MARGIN_DEG
    return (float(b[:, 0].min() - m), float(b[:, 1].min() - m), float(b[:, 2].max() + m), float(b[:, 3].max() + m))


# --- documentation ------------------------------------------------------------------------


def alias_table_markdown() -> str:
    """The input schema as Markdown: per layer, canonical columns and accepted headers.

    The README's table is generated from this one source.
    """
    kinds = {
        "id": "text id",
        "str": "text",
        "int": "count ≥ 0",
        "float": "number ≥ 0",
        "bool": "yes/no",
        "enum": "one of",
    }
    geometry = {
        "point": "points",
        "point_or_polygon": "points or polygons",
        "line": "lines",
        "polygon": "polygons",
        "none": "table, no geometry",
    }
    lines: list[str] = []
    for spec in LAYERS.values():
        lines.append(f"### {spec.name} ({geometry[spec.geometry]})")
        lines.append("")
        lines.append("| column | required | type | accepted headers | meaning |")
        lines.append("|---|---|---|---|---|")
        for col in spec.columns:
            kind = kinds[col.kind]
            if col.limits is not None:  # the plausible range (geo.policy): outside it a value is an input error
                kind = f"{kind.split(' ')[0]} {col.limits[0]:,g}–{col.limits[1]:,g}"
            if col.kind == "enum":
                kind += " " + " \\| ".join(f"`{c}`" for c in col.choices)
            if col.name in ("home_lon", "home_lat"):
                kind = "degrees"
            headers = ", ".join(f"`{h}`" for h in accepted_headers(col).split(", "))
            lines.append(f"| `{col.name}` | {'yes' if col.required else ''} | {kind} | {headers} | {col.description} |")
        if spec.geometry in ("point", "point_or_polygon"):
            lon = ", ".join(f"`{a}`" for a in LON_ALIASES)
            lat = ", ".join(f"`{a}`" for a in LAT_ALIASES)
            lines.append(f"| `lon` / `lat` | CSV/Excel | degrees (or x/y of the declared CRS) | {lon} / {lat} | point position |")
        lines.append("")
        if spec.name == "schools":
            lines.append(
                "Every school needs `capacity_<level>` or `classes_<level>` for each level it teaches "
                "(a nine-year school teaches both); seats at a level it does not teach are set to 0, "
                "and a missing `enrolled_<level>` counts as 0."
            )
            lines.append("")
    from geo.model import SUBJECT_ALIASES, VALUE_ALIASES  # noqa: PLC0415

    lines.append("### Accepted Chinese values")
    lines.append("")
    lines.append("| column | value → canonical |")
    lines.append("|---|---|")
    for column, mapping in VALUE_ALIASES.items():
        lines.append(f"| `{column}` | " + ", ".join(f"{k} → `{v}`" for k, v in mapping.items()) + " |")
    lines.append("| `subject` | " + ", ".join(f"{k} → `{v}`" for k, v in SUBJECT_ALIASES.items()) + " |")
    lines.append("| yes/no columns | true/false, 1/0, yes/no, y/n, 是/否, 有/无 |")
    lines.append("")
    return "\n".join(lines)


__all__ = ["alias_table_markdown", "file_kind", "load_inputs", "load_table", "read_layer", "read_table", "read_text"]


# --- table files named in a scenario --------------------------------------------------------


def load_table(
    path: str | Path, spec: LayerSpec, *, school_ids: pd.Series | None = None, schools: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Read and validate a plain table of a :data:`geo.model.TABLE_LAYERS` layer (groups, staffing targets).

    Headers are renamed as for the input layers; values are checked and
    converted by the column kinds of ``spec`` (:func:`geo.validate.validate_inputs`'s rules).

    Parameters
    ----------
    path
        ``.csv`` (UTF-8 or GBK/GB18030) or ``.xlsx`` file.
    spec
        The layer it holds (e.g. :data:`geo.model.GROUPS`).
    school_ids
        The schools layer's ids: a ``school_id`` not among them is a problem.
    schools
        The schools layer, instead of ``school_ids``: a school's name is accepted for its code
        where no other school has that name.

    Returns
    -------
    pandas.DataFrame
        Canonical columns first, then any other columns as read.

    Raises
    ------
    InputError
        With every problem of the file, each naming the file, the row (1 = first data row) and the column.
    """
    p = Path(path)
    df = _read_any_table(p, _check_file(p), spec.name)
    return validate_table(df, spec, str(p), school_ids=school_ids, schools=schools)
