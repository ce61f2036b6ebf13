"""Validation and normalisation of in-memory input layers (pure: no file access).

:func:`validate_inputs` takes the layers as read (alias headers allowed, values
as strings or numbers), checks everything, and returns canonical
:class:`geo.model.Inputs`:

- ids as strings (``1001.0`` read by a spreadsheet becomes ``"1001"``), counts as
  ``int64``, amounts as ``float64``, booleans as ``bool``, enumerations in their
  canonical spelling (Chinese values such as 小学, 城区, 语文, 高级, 男 accepted);
- school capacity from ``classes × 45/50`` seats where no capacity is given, 0
  at a level a school does not teach, missing ``enrolled_*`` as 0;
- every geometry in one metric CRS (the local UTM zone of the schools,
  :func:`geo.crs.metric_crs_for`), and the teachers' ``home_lon``/``home_lat``
  (WGS84 degrees) projected into added columns ``home_x``/``home_y`` (metres).

Every problem of every layer is collected before one :class:`InputError` is
raised; each names the layer (file), the id or row, the column and what is
wrong. Recoverable oddities (a block slightly outside the boundary, a school with
zero capacity at a level it teaches, missing optional counts taken as 0) are
reported with :class:`InputWarning`.
"""

from __future__ import annotations

import difflib
import logging
import math
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely

from geo.crs import utm_crs_for
from geo.errors import InputError, Problem
from geo.model import (
    BACKBONE_COUNTED,
    BACKBONE_VALUE_LEVELS,
    BLOCKS,
    LAYERS,
    LEVELS,
    SCHOOLS,
    SUBJECT_ALIASES,
    TEACHERS,
    VALUE_ALIASES,
    Column,
    Inputs,
    LayerSpec,
    SchoolLevel,
)
from geo.policy import TEACHER_AGE_MAX, TEACHER_AGE_MIN, class_size
from geo.text import CONTROL_CHARACTERS, control_codes, visible, without_controls

log = logging.getLogger(__name__)

#: Blocks farther than this outside the boundary are errors; closer ones warn.
FAR_OUTSIDE_BOUNDARY_M: Final = 5_000
#: Below this distance a block counts as on the boundary (digitising noise).
OUTSIDE_TOLERANCE_M: Final = 1.0
#: Rough extent of China used to catch swapped or foreign coordinates (degrees).
CHINA_LON: Final = (73.0, 135.0)
CHINA_LAT: Final = (18.0, 54.0)
#: Teacher ages outside this range are input errors (the ``age`` column's limits, :mod:`geo.policy`).
TEACHER_AGE_RANGE: Final = (TEACHER_AGE_MIN, TEACHER_AGE_MAX)
#: At most this many rows are named per kind of problem and column; the rest are counted.
MAX_ROWS_PER_PROBLEM: Final = 20

#: Files whose rows a user counts in a spreadsheet or text editor, header = row 1 (CSV and Excel layers).
SPREADSHEET_SUFFIXES: Final = (".csv", ".txt", ".tsv", ".xlsx", ".xlsm")
#: Where :func:`rename_aliases` keeps the user's headers (canonical → as given) on a frame's ``attrs``.
HEADERS_ATTR: Final = "schoolplan_headers"
#: An unknown header this close (:func:`difflib.get_close_matches` ratio) to a known one is taken as its misspelling.
CLOSE_HEADER_CUTOFF: Final = 0.6
#: ... unless a column the layer has is nearer by more than this (then it is the user's own column).
CLOSE_HEADER_MARGIN: Final = 0.05

#: Shapefile (dBASE) field names are cut to this many characters.
SHAPEFILE_FIELD_LEN: Final = 10
#: Headers accepted for point coordinates in tables (CSV/Excel), lower-cased.
_SHEET_MARK: Final = " (sheet "
LON_ALIASES: Final = ("lon", "lng", "long", "longitude", "经度", "东经", "x")
LAT_ALIASES: Final = ("lat", "latitude", "纬度", "北纬", "y")

_TRUE: Final = frozenset({"true", "t", "yes", "y", "1", "1.0", "是", "有", "√", "✓"})
_FALSE: Final = frozenset({"false", "f", "no", "n", "0", "0.0", "否", "无", "×", "✗"})
_ONEWAY_REVERSE: Final = frozenset({"-1", "-1.0", "reverse"})
_GEOM_TYPES: Final = {
    "point": ("Point",),
    "point_or_polygon": ("Point", "Polygon", "MultiPolygon"),
    "line": ("LineString", "MultiLineString"),
    "polygon": ("Polygon", "MultiPolygon"),
}
_GEOM_WORDS: Final = {
    "point": "points",
    "point_or_polygon": "points or polygons",
    "line": "lines",
    "polygon": "polygons",
}


class InputWarning(UserWarning):
    """A recoverable oddity in the input (the value used instead is stated)."""


class InputNote(InputWarning):
    """A remark on the input that needs no action: columns the planner does not use, kept as they are."""


def _warn(message: str) -> None:
    warnings.warn(message, InputWarning, stacklevel=3)


@contextmanager
def deferred_warnings(stacklevel: int) -> Iterator[None]:
    """Hold back the warnings raised inside until it is known that no error follows.

    Warnings are noise next to an :class:`InputError` (and, where warnings are
    errors, would hide it), so they are recorded and re-emitted, pointing at the
    caller, only when the block finishes without an exception.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    for w in caught:
        warnings.warn(w.message, w.category, stacklevel=stacklevel + 3)


# --- small helpers ----------------------------------------------------------------


def _is_missing(v: Any) -> bool:
    if v is None or v is pd.NA or v is pd.NaT:
        return True
    if isinstance(v, float | np.floating):
        return math.isnan(v)
    if isinstance(v, str):
        return v.strip() == ""
    return False


def _short(v: Any) -> str:
    text = repr(v) if isinstance(v, str) else str(v)
    return text if len(text) <= 40 else text[:37] + "..."


def _text(v: Any) -> str:
    """A cell as trimmed text (integral floats lose their ``.0``)."""
    if isinstance(v, bool | np.bool_):
        return str(bool(v))
    if isinstance(v, float | np.floating) and math.isfinite(v) and float(v).is_integer():
        return str(int(v))
    if isinstance(v, int | np.integer):
        return str(int(v))
    return str(v).strip()


def parse_number(v: Any) -> tuple[float, str | None]:
    """One cell as a float: ``(value, None)``, or ``(NaN, reason)`` if not a number, ``(NaN, None)`` if blank."""
    if _is_missing(v):
        return math.nan, None
    if isinstance(v, bool | np.bool_):
        return math.nan, "not a number"
    if isinstance(v, int | float | np.integer | np.floating):
        f = float(v)
    elif isinstance(v, str):
        s = v.strip().replace(",", "").replace("，", "").replace("\u3000", "")
        try:
            f = float(s)
        except ValueError:
            return math.nan, "not a number"
    else:
        return math.nan, "not a number"
    if not math.isfinite(f):
        return math.nan, "not a finite number"
    return f, None


def sheet_label(path: str | Path, sheet: str) -> str:
    """How messages name a layer read from one sheet of a workbook: ``data.xlsx (sheet 教师)``."""
    return f"{path}{_SHEET_MARK}{sheet})"


def is_spreadsheet(label: str) -> bool:
    """Whether a layer label names a CSV or Excel file (or a sheet of one), whose rows a user counts with the header as row 1."""
    return label.split(_SHEET_MARK, maxsplit=1)[0].lower().endswith(SPREADSHEET_SUFFIXES)


def user_headers(df: pd.DataFrame) -> dict[str, str]:
    """Canonical column → the header the user's file gives it, as :func:`rename_aliases` recorded it."""
    return dict(df.attrs.get(HEADERS_ATTR, {}))


@dataclass
class _Layer:
    """Problems and warnings of one layer; row labels computed only when a row is named.

    A row is named as the user finds it: by its id where the layer has one, and in a CSV or Excel
    file also by its row there (the header is row 1, so the first record is row 2); a column by
    the user's own header (kept by :func:`rename_aliases`) as well as its canonical name.
    """

    spec: LayerSpec
    label: str
    problems: list[Problem]
    source: pd.DataFrame | None = None
    _rows: list[str | int] | None = field(default=None, repr=False)
    #: Canonical column → the unknown header that looks like its misspelling, for the messages that need that column.
    misspelt: dict[str, str] = field(default_factory=dict, repr=False)

    @property
    def rows(self) -> list[str | int]:
        if self._rows is None:
            self._rows = _row_labels(self.source, self.spec, is_spreadsheet(self.label)) if self.source is not None else []
        return self._rows

    def header(self, column: str | None) -> str | None:
        """The user's header of ``column``, when the source records one."""
        if column is None or self.source is None:
            return None
        return user_headers(self.source).get(column)

    def column_text(self, column: str) -> str:
        """``column '年龄' (age)``, or ``column 'age'`` when the user's header is the canonical name."""
        header = self.header(column)
        return f"column '{header}' ({column})" if header is not None and header != column else f"column '{column}'"

    def add(self, message: str, *, row: str | int | None = None, column: str | None = None) -> None:
        self.problems.append(Problem(layer=self.label, message=message, row=row, column=column, header=self.header(column)))

    def add_rows(self, positions: np.ndarray | list[int], column: str | None, describe: Callable[[int], str]) -> None:
        """One problem per row (at most :data:`MAX_ROWS_PER_PROBLEM`, then a count)."""
        positions = [int(p) for p in positions]
        if not positions:
            return
        rows = self.rows
        first = 2 if is_spreadsheet(self.label) else 1
        for p in positions[:MAX_ROWS_PER_PROBLEM]:
            self.add(describe(p), row=rows[p] if p < len(rows) else p + first, column=column)
        rest = len(positions) - MAX_ROWS_PER_PROBLEM
        if rest > 0:
            self.add(f"... and {rest} more rows with the same kind of problem", column=column)

    def names(self, positions: np.ndarray | list[int]) -> str:
        """Row labels of ``positions`` for a warning, shortened: ids where readable, else row numbers."""
        first = 2 if is_spreadsheet(self.label) else 1
        ids = self.source[self.spec.id_column].tolist() if self.source is not None and self.spec.id_column in self.source else None
        labels = []
        for p in positions[:MAX_ROWS_PER_PROBLEM]:
            v = None if ids is None else ids[int(p)]
            labels.append(f"row {int(p) + first}" if v is None or _is_missing(v) else f"{self.spec.id_column} {_text(v)}")
        more = len(positions) - len(labels)
        return ", ".join(labels) + (f" and {more} more" if more > 0 else "")


def _row_labels(df: pd.DataFrame, spec: LayerSpec, spreadsheet: bool = False) -> list[str | int]:
    """Each row's label in messages.

    ``"school_id S01"`` where the id is readable, else the 1-based row number; in a CSV or Excel
    file (``spreadsheet``) the row number there, header being row 1, and the id after it:
    ``"row 7 (school_id S01)"``.
    """
    n = len(df)
    first = 2 if spreadsheet else 1
    if spec.id_column is None or spec.id_column not in df.columns:
        return list(range(first, n + first))
    out: list[str | int] = []
    for i, v in enumerate(df[spec.id_column].tolist()):
        if _is_missing(v):
            out.append(i + first)
        else:
            out.append(f"row {i + first} ({spec.id_column} {_text(v)})" if spreadsheet else f"{spec.id_column} {_text(v)}")
    return out


def accepted_headers(column: Column) -> str:
    """The headers accepted for a column, for messages and the README table."""
    return ", ".join([column.name, *column.aliases])


def _shapefile_name(raw: str, spec: LayerSpec) -> str | None:
    """The canonical column a Shapefile header cut to 10 characters stands for, if one."""
    if len(raw) != SHAPEFILE_FIELD_LEN:
        return None
    hits = [c.name for c in spec.columns if len(c.name) > SHAPEFILE_FIELD_LEN and c.name[:SHAPEFILE_FIELD_LEN] == raw.lower()]
    return hits[0] if len(hits) == 1 else None


def rename_aliases(df: pd.DataFrame, spec: LayerSpec, *, layer: str) -> tuple[pd.DataFrame, list[Problem]]:
    """Rename accepted headers to canonical names (case-insensitive, trimmed).

    A header cut to 10 characters by the Shapefile format (``capacity_p``) is
    recognised when it stands for one canonical column. Headers ``lon``/``lat`` and their aliases (经度/纬度 ...) become ``lon``/``lat``
    for layers with geometry. Two headers meaning the same column is a problem.

    Parameters
    ----------
    df
        The layer as read.
    spec
        Its layer specification.
    layer
        Name used in problems (the file path).

    Returns
    -------
    tuple
        The renamed frame (a shallow copy) and the problems found. The frame's ``attrs`` keep
        the user's header of each column (:func:`user_headers`), for messages, also when the
        frame is renamed again.
    """
    given = user_headers(df)
    lookup = spec.aliases()
    if spec.geometry != "none" and not isinstance(df, gpd.GeoDataFrame):
        lookup.update(dict.fromkeys(LON_ALIASES, "lon"))
        lookup.update(dict.fromkeys(LAT_ALIASES, "lat"))
    geometry_name = df.geometry.name if isinstance(df, gpd.GeoDataFrame) else None
    mapping: dict[Any, str] = {}
    seen: dict[str, str] = {}
    problems: list[Problem] = []
    for col in df.columns:
        if col == geometry_name:
            continue
        raw = str(col).replace("\ufeff", "").replace("\u3000", " ").strip()
        canonical = lookup.get(raw.lower()) or _shapefile_name(raw, spec) or raw
        if canonical in seen:
            msg = f"headers '{seen[canonical]}' and '{raw}' both mean '{canonical}'; keep one"
            problems.append(Problem(layer=layer, message=msg, column=canonical))
            continue
        seen[canonical] = raw
        mapping[col] = canonical
    keep = [c for c in df.columns if c in mapping or c == geometry_name]
    out = df[keep].rename(columns=mapping)
    out.attrs[HEADERS_ATTR] = {canonical: given.get(raw, raw) for canonical, raw in seen.items()}
    return out, problems


# --- column conversion ---------------------------------------------------------------


def _as_text(s: pd.Series) -> pd.Series:
    """Cells as trimmed text (``str`` dtype), NaN where missing or blank.

    Vectorised for text and integer columns; mixed columns go cell by cell
    (integral floats such as spreadsheet ids ``1001.0`` become ``"1001"``).
    """
    if isinstance(s.dtype, pd.StringDtype):
        t = s.str.strip()
        return t.mask(t.eq(""))
    if pd.api.types.is_bool_dtype(s.dtype) and not s.isna().any():
        return s.astype(bool).map({True: "True", False: "False"}).astype("str")
    if pd.api.types.is_integer_dtype(s.dtype) and not s.isna().any():
        return s.astype(np.int64).astype("str")
    return pd.Series([None if _is_missing(v) else _text(v) for v in s.tolist()], index=s.index, dtype="str")


def numeric_values(s: pd.Series) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(values, missing, not_finite)`` of a column; values NaN where not a number.

    Text is trimmed and thousands separators (``1,200``) removed; booleans are not numbers.
    """
    if pd.api.types.is_numeric_dtype(s.dtype) and not pd.api.types.is_bool_dtype(s.dtype):
        raw = s.to_numpy(dtype=np.float64, na_value=np.nan)
        missing = np.isnan(raw)
        not_finite = ~missing & ~np.isfinite(raw)
        return np.where(not_finite, np.nan, raw), missing, not_finite
    text = _as_text(s)
    missing = text.isna().to_numpy()
    cleaned = text.str.replace(r"[,，\u3000\s]", "", regex=True)
    num = pd.to_numeric(cleaned, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    if pd.api.types.is_bool_dtype(s.dtype) or s.dtype == object:
        is_bool = np.array([isinstance(v, bool | np.bool_) for v in s.tolist()], dtype=bool)
        num = np.where(is_bool, np.nan, num)
    not_finite = np.isinf(num)
    return np.where(not_finite, np.nan, num), missing, not_finite


def _without_controls(lay: _Layer, text: pd.Series, name: str) -> pd.Series:
    """Text cells without control characters (``\\x0b``, ``\\x07``, ``\\x00`` pasted from Word), with a warning naming the rows.

    Removed rather than refused: they are invisible, never meant, and would break the Excel and
    GeoPackage outputs (a NUL ends a GeoPackage text).
    """
    found = text.str.contains(CONTROL_CHARACTERS, regex=True, na=False).to_numpy(dtype=bool)
    if not found.any():
        return text
    positions = np.flatnonzero(found)
    codes = dict.fromkeys(code for v in text.iloc[positions] for code in control_codes(v))
    _warn(f"{lay.label}, column '{name}': invisible control characters ({', '.join(codes)}) removed "
          f"in {len(positions)} rows ({visible(lay.names(positions))})")
    return text.map(lambda v: without_controls(v) if isinstance(v, str) else v).astype(text.dtype)


def _convert_id(lay: _Layer, s: pd.Series, name: str, *, required: bool) -> pd.Series:
    out = _without_controls(lay, _as_text(s), name).rename(name)
    if required:
        lay.add_rows(np.flatnonzero(out.isna().to_numpy()), name, lambda p: "empty id")
    return out


def _convert_str(lay: _Layer, s: pd.Series, name: str, *, required: bool) -> pd.Series:
    out = _without_controls(lay, _as_text(s), name).rename(name)
    if required:
        lay.add_rows(np.flatnonzero(out.isna().to_numpy()), name, lambda p: "empty value")
    return out


def _convert_number(lay: _Layer, s: pd.Series, col: Column, *, fill: float | None) -> pd.Series:
    """Counts (``int``) and amounts (``float``): numeric, non-negative, whole for counts.

    ``fill`` replaces missing values (with a warning) when the column is optional.
    """
    name = col.name
    arr, missing_mask, not_finite = numeric_values(s)
    vals = s.tolist()
    lay.add_rows(np.flatnonzero(not_finite), name, lambda p: f"not a finite number: {_short(vals[p])}")
    not_number = ~missing_mask & ~not_finite & np.isnan(arr)
    lay.add_rows(np.flatnonzero(not_number), name, lambda p: f"not a number: {_short(vals[p])}")
    signed = name in ("home_lon", "home_lat")
    neg = np.flatnonzero(np.nan_to_num(arr, nan=0.0) < 0) if not signed else np.array([], dtype=int)
    lay.add_rows(neg, name, lambda p: f"negative value {_short(vals[p])}; must be ≥ 0")
    if col.kind == "int":
        frac = np.flatnonzero(np.isfinite(arr) & (arr >= 0) & (arr != np.floor(arr)))
        lay.add_rows(frac, name, lambda p: f"not a whole number: {_short(vals[p])}")
        if col.limits is None:
            too_big = np.flatnonzero(np.isfinite(arr) & (np.abs(arr) > 2**53))
            lay.add_rows(too_big, name, lambda p: f"implausibly large: {_short(vals[p])}")
    if col.limits is not None:
        _check_limits(lay, arr, col, vals)
    missing = np.flatnonzero(missing_mask)
    if len(missing):
        if col.required:
            lay.add_rows(missing, name, lambda p: "missing value")
        elif fill is not None:
            _warn(f"{lay.label}, {lay.column_text(name)}: missing in {len(missing)} rows ({lay.names(missing)}); taken as {fill:g}")
    if col.kind == "int":
        safe = np.where(np.isfinite(arr) & (np.abs(arr) <= 2**53), arr, 0.0)
        if fill is not None:
            safe = np.where(np.isnan(arr), fill, safe)
        return pd.Series(np.round(safe).astype(np.int64), index=s.index, name=name)
    if fill is not None:
        arr = np.where(np.isnan(arr), fill, arr)
    return pd.Series(arr, index=s.index, name=name)


def _check_limits(lay: _Layer, arr: np.ndarray, col: Column, vals: list[Any]) -> None:
    """Values outside the column's plausible range (:attr:`Column.limits`) are problems (negatives are reported apart)."""
    assert col.limits is not None
    lo, hi = col.limits
    why = f": {col.why_limits}" if col.why_limits else ""
    finite = np.isfinite(arr)
    small = np.flatnonzero(finite & (arr >= 0) & (arr < lo))
    lay.add_rows(small, col.name, lambda p: f"implausibly small: {_short(vals[p])} (less than {lo:,g}{why})")
    large = np.flatnonzero(finite & (arr > hi))
    lay.add_rows(large, col.name, lambda p: f"implausibly large: {_short(vals[p])} (more than {hi:,g}{why})")


def _convert_bool(lay: _Layer, s: pd.Series, col: Column) -> tuple[pd.Series, np.ndarray]:
    """Booleans from True/False, 1/0, yes/no, 是/否 ...; also flags OSM ``oneway=-1``."""
    if pd.api.types.is_bool_dtype(s.dtype) and not s.isna().any():
        return pd.Series(s.to_numpy(dtype=bool), index=s.index, name=col.name), np.zeros(len(s), dtype=bool)
    key = _as_text(s).str.lower()
    missing = key.isna().to_numpy()
    true = key.isin(list(_TRUE)).to_numpy()
    false = key.isin(list(_FALSE)).to_numpy()
    reverse = key.isin(list(_ONEWAY_REVERSE)).to_numpy() if col.name == "oneway" else np.zeros(len(s), dtype=bool)
    vals = s.tolist()
    bad = np.flatnonzero(~missing & ~true & ~false & ~reverse)
    levels = ", 县级骨干/市级骨干/省级骨干/校级骨干" if col.name == "backbone" else ""
    lay.add_rows(bad, col.name, lambda p: f"not a yes/no value: {_short(vals[p])} (use true/false, 1/0, yes/no or 是/否{levels})")
    if col.required:
        lay.add_rows(np.flatnonzero(missing), col.name, lambda p: "missing value (true/false)")
    return pd.Series(true | reverse, index=s.index, name=col.name), reverse


def _enum_lookup(col: Column) -> dict[str, str]:
    lookup = {c.lower(): c for c in col.choices}
    if col.name == "subject":
        lookup.update({k.lower(): v for k, v in SUBJECT_ALIASES.items()})
    elif col.name in VALUE_ALIASES:
        lookup.update({k.lower(): v for k, v in VALUE_ALIASES[col.name].items() if v in col.choices})
    return lookup


def _convert_enum(lay: _Layer, s: pd.Series, col: Column) -> pd.Series:
    lookup = _enum_lookup(col)
    text = _as_text(s)
    out = text.str.lower().map(lookup)
    missing = text.isna().to_numpy()
    bad = np.flatnonzero(~missing & out.isna().to_numpy())
    vals = s.tolist()
    chinese = sorted({k for k in lookup if not k.isascii()})
    valid = ", ".join(col.choices) + (f" (or {', '.join(chinese)})" if chinese else "")
    lay.add_rows(bad, col.name, lambda p: f"unknown value {_short(vals[p])}; valid values: {valid}")
    if col.required:
        lay.add_rows(np.flatnonzero(missing), col.name, lambda p: f"missing value; valid values: {valid}")
    return pd.Series(out.to_numpy(dtype=object), index=s.index, dtype="str", name=col.name)


# --- geometry ----------------------------------------------------------------------------


def _table_points(lay: _Layer, df: pd.DataFrame) -> gpd.GeoDataFrame | None:
    """Points from ``lon``/``lat`` columns of a plain table, taken as WGS84."""
    if "lon" not in df.columns or "lat" not in df.columns:
        lay.add(
            "no geometry: give a spatial file (GeoPackage, GeoJSON, Shapefile) or lon/lat columns "
            f"(accepted headers: {', '.join(LON_ALIASES)} / {', '.join(LAT_ALIASES)})"
        )
        return None
    lon = df["lon"].tolist()
    lat = df["lat"].tolist()
    px = [parse_number(v) for v in lon]
    py = [parse_number(v) for v in lat]
    _add_bad_coordinates(lay, "lon", px, lon)
    _add_bad_coordinates(lay, "lat", py, lat)
    x = np.array([p[0] for p in px], dtype=np.float64)
    y = np.array([p[0] for p in py], dtype=np.float64)
    ok = np.isfinite(x) & np.isfinite(y)
    geoms = np.full(len(df), None, dtype=object)
    geoms[ok] = shapely.points(x[ok], y[ok])
    return gpd.GeoDataFrame(df, geometry=gpd.GeoSeries(geoms, index=df.index), crs=4326)


def _add_bad_coordinates(lay: _Layer, name: str, parsed: list[tuple[float, str | None]], vals: list[Any]) -> None:
    bad = [i for i, p in enumerate(parsed) if p[1] is not None]
    lay.add_rows(bad, name, lambda p: f"coordinate {parsed[p][1]}: {_short(vals[p])}")


@dataclass
class _Geo:
    """Positions of a layer's usable geometries and their WGS84 representative points."""

    label: str
    ok: np.ndarray  # bool per row
    lon: np.ndarray
    lat: np.ndarray
    layer: _Layer


def _check_geometry(lay: _Layer, gdf: gpd.GeoDataFrame) -> _Geo | None:
    spec = lay.spec
    if gdf.crs is None:
        lay.add(
            "no coordinate system (CRS): the file does not say which one its coordinates are in; "
            "declare it for this layer (scenario [inputs] layer_crs, or --crs), e.g. wgs84, cgcs2000, gcj02, bd09, EPSG:4547"
        )
    geoms = np.asarray(gdf.geometry.array, dtype=object)
    n = len(geoms)
    missing = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    lay.add_rows(np.flatnonzero(missing), "geometry", lambda p: "empty or missing geometry")
    types = shapely.get_type_id(geoms)
    names = np.array(["Point", "LineString", "LinearRing", "Polygon", "MultiPoint", "MultiLineString", "MultiPolygon", "GeometryCollection"])
    type_names = np.where(types >= 0, names[np.clip(types, 0, 7)], "")
    allowed = _GEOM_TYPES[spec.geometry]
    wrong = ~missing & ~np.isin(type_names, allowed)
    lay.add_rows(
        np.flatnonzero(wrong),
        "geometry",
        lambda p: f"wrong geometry type {type_names[p]}; {spec.name} must be {_GEOM_WORDS[spec.geometry]}",
    )
    finite = np.ones(n, dtype=bool)
    if n:
        coords = shapely.get_coordinates(geoms)
        counts = shapely.get_num_coordinates(geoms)
        if len(coords):
            bad_coord = ~np.isfinite(coords).all(axis=1)
            owner = np.repeat(np.arange(n), counts)
            finite[np.unique(owner[bad_coord])] = False
    lay.add_rows(np.flatnonzero(~missing & ~finite), "geometry", lambda p: "coordinates are not finite numbers")
    check = ~missing & ~wrong & finite
    valid = np.ones(n, dtype=bool)
    valid[check] = shapely.is_valid(geoms[check])
    reasons = np.full(n, "", dtype=object)
    if (~valid).any():
        reasons[~valid] = shapely.is_valid_reason(geoms[~valid])
    lay.add_rows(
        np.flatnonzero(~valid),
        "geometry",
        lambda p: f"invalid geometry ({reasons[p]}); repair it, e.g. QGIS 'Fix geometries'",
    )
    ok = check & valid
    lon = np.full(n, np.nan)
    lat = np.full(n, np.nan)
    if gdf.crs is not None and ok.any():
        rep = shapely.point_on_surface(geoms[ok])
        rx, ry = shapely.get_x(rep), shapely.get_y(rep)
        crs = pyproj.CRS(gdf.crs)
        if crs.is_geographic and crs.equals(pyproj.CRS.from_epsg(4326)):
            lon[ok], lat[ok] = rx, ry
        else:
            tr = pyproj.Transformer.from_crs(crs, 4326, always_xy=True)
            lon[ok], lat[ok] = tr.transform(rx, ry)
    return _Geo(label=lay.label, ok=ok & np.isfinite(lon), lon=lon, lat=lat, layer=lay)


def _in_china(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    return (lon >= CHINA_LON[0]) & (lon <= CHINA_LON[1]) & (lat >= CHINA_LAT[0]) & (lat <= CHINA_LAT[1])


def _check_china(parts: list[tuple[_Layer, str, np.ndarray, np.ndarray, np.ndarray]]) -> None:
    """Flag coordinates outside China, or that look like swapped lon/lat, when the data is Chinese.

    The data is taken as Chinese when any usable coordinate lies in China's
    extent, either way round; otherwise a single warning says the checks were skipped.
    """
    chinese = False
    for _, _, ok, lon, lat in parts:
        if ok.any() and (_in_china(lon[ok], lat[ok]).any() or _in_china(lat[ok], lon[ok]).any()):
            chinese = True
            break
    if not chinese:
        if any(ok.any() for _, _, ok, _, _ in parts):
            _warn("the data lies outside China; the checks for Chinese coordinates were skipped")
        return
    for lay, column, ok, lon, lat in parts:
        _flag_outside_china(lay, column, ok, lon, lat)


def _flag_outside_china(lay: _Layer, column: str, ok: np.ndarray, lon: np.ndarray, lat: np.ndarray) -> None:
    """Problems for usable coordinates that look swapped, then for those outside China."""
    box = f"lon {CHINA_LON[0]:g}–{CHINA_LON[1]:g}, lat {CHINA_LAT[0]:g}–{CHINA_LAT[1]:g}"
    inside = _in_china(lon, lat)
    swapped = ~inside & _in_china(lat, lon)
    sw = np.flatnonzero(ok & swapped)
    lay.add_rows(
        sw,
        column,
        lambda p: f"coordinates look like swapped lon/lat (lon={lon[p]:.6f}, lat={lat[p]:.6f}); "
        "put longitude (73–135 in China) in lon and latitude in lat",
    )
    out = np.flatnonzero(ok & ~inside & ~swapped)
    lay.add_rows(
        out,
        column,
        lambda p: f"outside China (lon={lon[p]:.6f}, lat={lat[p]:.6f}; expected {box}); "
        "check the coordinates and the declared CRS",
    )


# --- layers --------------------------------------------------------------------------------


@dataclass
class _Result:
    frame: pd.DataFrame | None
    geo: _Geo | None = None
    reverse: np.ndarray | None = None


def _close_header(col: Column, headers: list[str]) -> str | None:
    """An unrecognised header that looks like a misspelling of ``col`` or one of its aliases."""
    for name in (col.name, *col.aliases):
        hit = difflib.get_close_matches(name.lower(), [h.lower() for h in headers], n=1, cutoff=0.6)
        if hit:
            return next(h for h in headers if h.lower() == hit[0])
    return None


def _validate_layer(df: Any, spec: LayerSpec, label: str, problems: list[Problem]) -> _Result:
    """Canonical columns and dtypes of one layer; problems appended to ``problems``."""
    lay = _Layer(spec=spec, label=label, problems=problems)
    df = _open_layer(lay, df)
    if df is None:
        return _Result(None)
    data, reverse = _convert_columns(lay, df)
    frame = _canonical_frame(spec, df, data)
    if spec is TEACHERS:
        _check_teachers(lay, frame)
    geo = None
    if spec.geometry != "none":
        gdf = _with_geometry(lay, df, frame, reverse)
        if gdf is None:
            return _Result(None)
        geo = _check_geometry(lay, gdf)
        frame = gdf
    elif isinstance(frame, gpd.GeoDataFrame):  # pragma: no cover - frame is built as a DataFrame
        frame = pd.DataFrame(frame.drop(columns=frame.geometry.name))
    if spec.id_column and spec.id_column in frame.columns:
        _check_duplicates(lay, frame[spec.id_column])
    return _Result(frame, geo=geo)


def _open_layer(lay: _Layer, df: Any) -> pd.DataFrame | None:
    """The layer with canonical headers and a fresh index; ``None`` when it is not a table or is empty.

    Reports headers that clash, and required columns that are missing (naming a close header).
    """
    spec = lay.spec
    if not isinstance(df, pd.DataFrame):
        lay.add(f"expected a table (DataFrame), got {type(df).__name__}")
        return None
    df, renames = rename_aliases(df, spec, layer=lay.label)
    lay.problems.extend(renames)
    df = df.reset_index(drop=True)
    if len(df) == 0:
        lay.add("the layer is empty (no rows)")
        return None
    lay.source = df
    known = {c.name for c in spec.columns} | ({"lon", "lat"} if spec.geometry != "none" else set())
    unknown = [str(c) for c in df.columns if c not in known and not (isinstance(df, gpd.GeoDataFrame) and c == df.geometry.name)]
    missing_required = False
    for col in spec.columns:
        if col.required and col.name not in df.columns:
            msg = f"missing required column '{col.name}' (accepted headers: {accepted_headers(col)})"
            close = _close_header(col, unknown)
            if close is not None:
                msg += f"; is '{close}' meant to be it?"
            lay.add(msg, column=col.name)
            missing_required = True
    if not missing_required:  # else the error names the close header, and warnings are not shown
        _report_unknown_columns(lay, [c for c in unknown if c not in spec.passthrough], set(map(str, df.columns)))
    return df


def _closest_known(header: str, spec: LayerSpec, present: set[str]) -> list[tuple[str, Column]]:
    """The accepted headers ``header`` most resembles (at most two columns) that the layer lacks, with their columns.

    Empty when it resembles none, or clearly most resembles a column the layer has (``name_en``
    beside ``name``): then it is the user's own column, not a misspelling. Two when it is about as
    near to two (``班级数``: ``小学班级数`` or ``初中班级数``).
    """
    key = header.strip().lower()
    scored: dict[str, tuple[float, str]] = {}  # column → (best ratio, its header)
    for col in spec.columns:
        for h in (col.name, *col.aliases):
            ratio = difflib.SequenceMatcher(None, key, h.lower()).ratio()
            if ratio >= CLOSE_HEADER_CUTOFF and ratio > scored.get(col.name, (0.0, ""))[0]:
                scored[col.name] = (ratio, h)
    best_present = max((r for c, (r, _) in scored.items() if c in present), default=0.0)
    absent = sorted(
        ((r, h, c) for c, (r, h) in scored.items() if c not in present and r >= best_present - CLOSE_HEADER_MARGIN),
        key=lambda t: (-t[0], t[2]),
    )
    # a second suggestion only when about as near as the first
    return [(h, spec.column(c)) for r, h, c in absent[:2] if r >= absent[0][0] - CLOSE_HEADER_MARGIN]


def _suggestion(header: str, col: Column) -> str:
    """``'enrolled_primary' (primary pupils enrolled; accepted headers: ...)`` for a warning."""
    what = col.description if header == col.name else f"{col.name}: {col.description}"
    also = f"; accepted headers: {accepted_headers(col)}" if col.aliases else ""
    return f"'{header}' ({what}{also})"


def _report_unknown_columns(lay: _Layer, unknown: list[str], present: set[str]) -> None:
    """A warning per unknown column that looks like a misspelt known header; one note listing the others.

    A misspelt header (``enroled_primary``) would leave its column silently unused (every school
    0 pupils), so it warns, suggesting the header it resembles and the accepted ones. Columns that
    resemble no header the layer lacks are the user's own (备注 ...): a single mild note lists them.
    """
    own: list[str] = []
    warned = 0
    for header in unknown:
        close = _closest_known(header, lay.spec, present)
        if not close:
            own.append(header)
            continue
        warned += 1
        for _, col in close:
            lay.misspelt.setdefault(col.name, header)
        if warned <= MAX_ROWS_PER_PROBLEM:
            lacks = " or ".join(f"'{col.name}'" for _, col in close)
            _warn(
                f"{lay.label}, column '{header}': not a known column, so it is not read and the layer has no "
                f"{lacks}; did you mean {' or '.join(_suggestion(h, col) for h, col in close)}? Rename the header to use it."
            )
    if warned > MAX_ROWS_PER_PROBLEM:
        _warn(f"{lay.label}: ... and {warned - MAX_ROWS_PER_PROBLEM} more columns that look like misspelt headers")
    if own:
        shown = ", ".join(own[:MAX_ROWS_PER_PROBLEM]) + (f" and {len(own) - MAX_ROWS_PER_PROBLEM} more" if len(own) > MAX_ROWS_PER_PROBLEM else "")
        warnings.warn(
            f"{lay.label}: {len(own)} column{'s' if len(own) != 1 else ''} not used by the planner, kept as "
            f"{'they are' if len(own) != 1 else 'it is'}: {shown}",
            InputNote,
            stacklevel=3,
        )


def _convert_columns(lay: _Layer, df: pd.DataFrame) -> tuple[dict[str, Any], np.ndarray | None]:
    """Each canonical column converted to its kind; and the lines an OSM ``oneway=-1`` reverses, if any."""
    spec = lay.spec
    data: dict[str, Any] = {}
    reverse = None
    for col in spec.columns:
        if col.name not in df.columns:
            continue
        s = df[col.name]
        if col.kind == "id":
            data[col.name] = _convert_id(lay, s, col.name, required=True)
        elif col.kind == "str":
            ref = col.name in ("current_primary", "current_junior") or (spec is TEACHERS and col.name == "school_id")
            conv = _convert_id if ref else _convert_str
            data[col.name] = conv(lay, s, col.name, required=col.required)
        elif col.kind in ("int", "float"):
            fill = None if col.required or col.kind == "float" else 0.0
            per_level = spec is SCHOOLS and col.name.startswith(("capacity_", "classes_", "enrolled_"))
            if per_level:
                fill = None  # resolved with the school's level below
            data[col.name] = _convert_number(lay, s, col, fill=fill)
            if per_level:
                data[col.name + "__missing"] = numeric_values(s)[1]
        elif col.kind == "bool":
            if spec is TEACHERS and col.name == "backbone":
                s, derived = _backbone_levels(s)
                if derived.notna().any():
                    data["backbone_level"] = derived
            data[col.name], rev = _convert_bool(lay, s, col)
            if rev.any():
                reverse = rev
        elif col.kind == "enum":
            converted = _convert_enum(lay, s, col)
            derived = data.get(col.name)
            data[col.name] = converted if derived is None else converted.where(converted.notna(), derived)

    if spec is SCHOOLS and spec.id_column in data and "level" in data:
        _resolve_capacity(lay, data)
    for name in [k for k in data if k.endswith("__missing")]:
        del data[name]
    return data, reverse


def _backbone_levels(s: pd.Series) -> tuple[pd.Series, pd.Series]:
    """A ``backbone`` column that names levels (县级骨干 ...) as yes/no, and the levels (``backbone_level``).

    County level or above (:data:`geo.model.BACKBONE_COUNTED`) is a backbone teacher, 校级骨干 is not;
    other values are left for the yes/no conversion, their level missing.
    """
    text = _as_text(s)
    level = text.map(BACKBONE_VALUE_LEVELS)
    named = level.notna().to_numpy()
    if not named.any():
        return s, pd.Series(None, index=s.index, dtype=object)
    yes_no = np.where(level.isin(BACKBONE_COUNTED).to_numpy(), "yes", "no")
    out = pd.Series(np.where(named, yes_no, s.to_numpy(dtype=object)), index=s.index, name=s.name)
    return out, pd.Series(level.to_numpy(dtype=object), index=s.index, dtype=object)


def _canonical_frame(spec: LayerSpec, df: pd.DataFrame, data: dict[str, Any]) -> pd.DataFrame:
    """Canonical columns in spec order (then those the conversion added), then the extra columns as given."""
    canonical = [c.name for c in spec.columns]
    extras = [c for c in df.columns if c not in canonical and (not isinstance(df, gpd.GeoDataFrame) or c != df.geometry.name)]
    cols = {name: data[name] for name in canonical if name in data}
    # canonical columns added by the conversion (capacity, enrolled) in spec order
    cols.update({k: v for k, v in data.items() if k not in cols})
    frame = pd.DataFrame(cols, index=df.index)
    for c in extras:
        frame[c] = df[c].to_numpy()
    frame.attrs[HEADERS_ATTR] = user_headers(df)
    return frame


def _check_teachers(lay: _Layer, frame: pd.DataFrame) -> None:
    """Home coordinates given in pairs (ages outside :data:`TEACHER_AGE_RANGE` are the ``age`` column's limits)."""
    if {"home_lon", "home_lat"} & set(frame.columns):
        _check_home_pair(lay, frame)


def _with_geometry(lay: _Layer, df: pd.DataFrame, frame: pd.DataFrame, reverse: np.ndarray | None) -> gpd.GeoDataFrame | None:
    """The canonical frame with the layer's geometry (or the points of its lon/lat); ``None`` when it has none."""
    if isinstance(df, gpd.GeoDataFrame):
        gdf = gpd.GeoDataFrame(frame, geometry=df.geometry.to_numpy(), crs=df.crs)
    else:
        points = _table_points(lay, df)
        if points is None:
            return None
        gdf = gpd.GeoDataFrame(frame, geometry=points.geometry.to_numpy(), crs=points.crs)
    if reverse is not None:
        geoms = np.asarray(gdf.geometry.array, dtype=object)
        geoms[reverse] = shapely.reverse(geoms[reverse])
        gdf = gdf.set_geometry(gpd.GeoSeries(geoms, index=gdf.index, crs=gdf.crs))
    return gdf


def _check_duplicates(lay: _Layer, ids: pd.Series) -> None:
    counts = ids.dropna().value_counts()
    dup = counts[counts > 1].sort_index()
    if len(dup):
        listed = ", ".join(f"{k} (×{v})" for k, v in list(dup.items())[:MAX_ROWS_PER_PROBLEM])
        more = f" and {len(dup) - MAX_ROWS_PER_PROBLEM} more" if len(dup) > MAX_ROWS_PER_PROBLEM else ""
        lay.add(f"duplicate ids: {listed}{more}; ids must be unique", column=ids.name)


def _resolve_capacity(lay: _Layer, data: dict[str, Any]) -> None:
    """Seats per level: capacity, else classes × class size; 0 where the level is not taught."""
    for lv in LEVELS:
        _resolve_level(lay, data, lv)


def _resolve_level(lay: _Layer, data: dict[str, Any], lv: str) -> None:
    """:func:`_resolve_capacity` for one level."""
    level = data["level"]
    n = len(level)
    teaches = ((level == lv) | (level == SchoolLevel.NINE_YEAR.value)).fillna(False).to_numpy(dtype=bool)
    known_level = level.notna().to_numpy()
    cap_col, cls_col, enr_col = f"capacity_{lv}", f"classes_{lv}", f"enrolled_{lv}"
    cap = data[cap_col].to_numpy() if cap_col in data else np.zeros(n, dtype=np.int64)
    cap_missing = data.get(cap_col + "__missing", np.ones(n, dtype=bool))
    cls = data[cls_col].to_numpy() if cls_col in data else np.zeros(n, dtype=np.int64)
    cls_missing = data.get(cls_col + "__missing", np.ones(n, dtype=bool))
    seats = np.where(cap_missing, cls * class_size(lv), cap).astype(np.int64)
    unknown = teaches & cap_missing & cls_missing
    close = [lay.misspelt[c] for c in (cap_col, cls_col) if c in lay.misspelt]
    hint = f"; is '{close[0]}' meant to be it?" if close else ""
    lay.add_rows(
        np.flatnonzero(unknown),
        cap_col,
        lambda p: f"no capacity for a school that teaches {lv}: give {cap_col} (seats) or {cls_col} (classes × {class_size(lv)}){hint}",
    )
    extra = known_level & ~teaches & (seats > 0)
    if extra.any():
        _warn(
            f"{lay.label}, {lay.column_text(cap_col)}: {int(extra.sum())} schools that do not teach {lv} have seats for it "
            f"({lay.names(np.flatnonzero(extra))}); set to 0"
        )
    zero = teaches & ~unknown & (seats == 0)
    if zero.any():
        _warn(
            f"{lay.label}, {lay.column_text(cap_col)}: {int(zero.sum())} schools teaching {lv} have zero capacity "
            f"({lay.names(np.flatnonzero(zero))})"
        )
    seats = np.where(teaches, seats, 0)
    data[cap_col] = pd.Series(seats.astype(np.int64), index=level.index, name=cap_col)
    if cls_col in data:
        data[cls_col] = pd.Series(np.where(teaches, cls, 0).astype(np.int64), index=level.index, name=cls_col)
    enrolled = data[enr_col].to_numpy() if enr_col in data else np.zeros(n, dtype=np.int64)
    enr_missing = data.get(enr_col + "__missing", np.zeros(n, dtype=bool)) & teaches
    if enr_col in data and enr_missing.any():
        _warn(
            f"{lay.label}, {lay.column_text(enr_col)}: missing for {int(enr_missing.sum())} schools teaching {lv} "
            f"({lay.names(np.flatnonzero(enr_missing))}); taken as 0"
        )
    stray = known_level & ~teaches & (enrolled > 0)
    if stray.any():
        _warn(
            f"{lay.label}, {lay.column_text(enr_col)}: {int(stray.sum())} schools that do not teach {lv} have pupils "
            f"enrolled in it ({lay.names(np.flatnonzero(stray))}); set to 0"
        )
    data[enr_col] = pd.Series(np.where(teaches, enrolled, 0).astype(np.int64), index=level.index, name=enr_col)


def _check_home_pair(lay: _Layer, frame: pd.DataFrame) -> None:
    if "home_lon" not in frame.columns or "home_lat" not in frame.columns:
        lay.add("home_lon and home_lat must be given together", column="home_lon" if "home_lat" in frame.columns else "home_lat")
        return
    lon = frame["home_lon"].to_numpy(dtype=np.float64)
    lat = frame["home_lat"].to_numpy(dtype=np.float64)
    half = np.flatnonzero(np.isnan(lon) != np.isnan(lat))
    lay.add_rows(half, "home_lon", lambda p: "only one of home_lon/home_lat is given")


def _empty_blocks(crs: pyproj.CRS) -> gpd.GeoDataFrame:
    data: dict[str, pd.Series] = {}
    for col in BLOCKS.columns:
        if col.required:
            dtype = "str" if col.kind in ("id", "str") else np.int64
            data[col.name] = pd.Series([], dtype=dtype)
    return gpd.GeoDataFrame(data, geometry=gpd.GeoSeries([], crs=crs), crs=crs)


# --- cross-layer checks ---------------------------------------------------------------------


def _check_references(
    schools: pd.DataFrame, layers: dict[str, _Result], labels: Mapping[str, str], problems: list[Problem]
) -> None:
    """School ids used by blocks (``current_*``) and teachers must exist (and teach the level).

    A school may be named instead of coded where no other school has that name (``现对口小学`` filled
    with names): the name is replaced by the school's code, with a note; a name two schools share is a
    problem asking for the code.
    """
    ids = schools["school_id"]
    level = pd.Series(schools["level"].to_numpy(dtype=object), index=ids.to_numpy(dtype=object))
    level = level[~level.index.duplicated()]
    known = ids.dropna()
    blocks = layers.get("blocks")
    if blocks is not None and blocks.frame is not None:
        lay = _Layer(BLOCKS, labels["blocks"], problems, blocks.frame)
        for lv in LEVELS:
            if f"current_{lv}" in blocks.frame.columns:
                ref = _codes_for_names(lay, f"current_{lv}", schools)
                _check_current(lay, ref, lv, known, level)
    teachers = layers.get("teachers")
    if teachers is not None and teachers.frame is not None and "school_id" in teachers.frame.columns:
        lay = _Layer(TEACHERS, labels["teachers"], problems, teachers.frame)
        ref = _codes_for_names(lay, "school_id", schools)
        vals = ref.tolist()
        unknown = np.flatnonzero(ref.notna().to_numpy() & ~ref.isin(known).to_numpy())
        lay.add_rows(unknown, "school_id", lambda p: f"unknown school id {vals[p]!r} (not a code or name in schools)")


def _codes_for_names(lay: _Layer, column: str, schools: pd.DataFrame) -> pd.Series:
    """``column`` of ``lay``'s frame with school names replaced by their codes (the frame is updated in place).

    Values that are codes stay; a value that is the name of exactly one school becomes its code
    (noted once per column); a name shared by several schools is a problem naming their codes.
    """
    frame = lay.source
    assert frame is not None
    ref = frame[column]
    if "name" not in schools.columns:
        return ref
    codes = set(schools["school_id"].dropna())
    names = schools.dropna(subset=["school_id", "name"]).groupby(schools["name"].astype(str).str.strip())["school_id"]
    by_name = names.agg(list).to_dict()
    given = ref.notna().to_numpy() & ~ref.isin(codes).to_numpy()
    text = ref.astype(object).where(ref.isna(), ref.astype(str).str.strip())
    hits = given & text.map(lambda v: len(by_name.get(v, ())) == 1).to_numpy(dtype=bool)
    shared = given & text.map(lambda v: len(by_name.get(v, ())) > 1).to_numpy(dtype=bool)
    vals = ref.tolist()
    lay.add_rows(
        np.flatnonzero(shared), column,
        lambda p: f"school name {vals[p]!r} is shared by schools {', '.join(map(str, by_name[text.iloc[p]]))}: give the school code",
    )
    checked = ref.mask(shared)  # a shared name is reported once, not again as an unknown code
    if not hits.any():
        return checked
    out = ref.copy()
    out[hits] = [by_name[v][0] for v in text[hits]]
    frame[column] = out
    checked = out.mask(shared)
    warnings.warn(
        f"{lay.label}, {lay.column_text(column)}: {int(hits.sum())} row(s) name their school instead of giving its code; "
        "each name belongs to one school and was replaced by its code",
        InputNote,
        stacklevel=2,
    )
    return checked


def _check_current(lay: _Layer, ref: pd.Series, lv: str, known: pd.Series, level: pd.Series) -> None:
    """A block's ``current_<lv>`` school must exist and teach the level."""
    col = f"current_{lv}"
    vals = ref.tolist()
    given = ref.notna().to_numpy()
    found = ref.isin(known).to_numpy()
    lay.add_rows(np.flatnonzero(given & ~found), col, lambda p: f"unknown school id {vals[p]!r} (not a code or name in schools)")
    their = ref.map(level).to_numpy(dtype=object)
    teaches = np.array([v in (lv, "nine_year") for v in their], dtype=bool)
    has_level = np.array([isinstance(v, str) for v in their], dtype=bool)
    wrong = np.flatnonzero(given & found & has_level & ~teaches)
    lay.add_rows(wrong, col, lambda p: f"school {vals[p]!r} does not teach {lv} (level {their[p]})")


def _check_boundary(
    frames: Mapping[str, tuple[gpd.GeoDataFrame, np.ndarray]],
    boundary: gpd.GeoDataFrame,
    labels: Mapping[str, str],
    problems: list[Problem],
) -> None:
    """Blocks far outside the boundary are errors, slightly outside a warning; far schools warn."""
    geoms = np.asarray(boundary.geometry.array, dtype=object)
    geoms = geoms[~(shapely.is_missing(geoms) | shapely.is_empty(geoms))]
    if len(geoms) == 0:
        return
    area = shapely.union_all(geoms)
    shapely.prepare(area)
    for name, (frame, usable) in frames.items():
        if len(frame) == 0:
            continue
        _check_outside(_Layer(LAYERS[name], labels[name], problems, frame), name, frame, usable, area)


def _check_outside(lay: _Layer, name: str, frame: gpd.GeoDataFrame, usable: np.ndarray, area: Any) -> None:
    """Blocks far outside ``area`` are problems, slightly outside a warning; schools far outside warn."""
    g = np.asarray(frame.geometry.array, dtype=object)
    dist = np.zeros(len(g))
    dist[usable] = shapely.distance(area, shapely.point_on_surface(g[usable]))
    far = np.flatnonzero(dist > FAR_OUTSIDE_BOUNDARY_M)
    near = np.flatnonzero((dist > OUTSIDE_TOLERANCE_M) & (dist <= FAR_OUTSIDE_BOUNDARY_M))
    if name == "blocks":
        lay.add_rows(
            far,
            "geometry",
            lambda p: f"{dist[p] / 1000:.1f} km outside the boundary (more than {FAR_OUTSIDE_BOUNDARY_M / 1000:g} km): "
            "wrong coordinates or CRS?",
        )
        if len(near):
            _warn(
                f"{lay.label}: {len(near)} blocks lie slightly outside the boundary "
                f"(up to {dist[near].max():.0f} m): {lay.names(near)}"
            )
    elif len(far):
        _warn(
            f"{lay.label}: {len(far)} schools lie more than {FAR_OUTSIDE_BOUNDARY_M / 1000:g} km outside the "
            f"boundary: {lay.names(far)}"
        )

def _home_xy(teachers: pd.DataFrame, crs: pyproj.CRS) -> pd.DataFrame:
    lon = teachers["home_lon"].to_numpy(dtype=np.float64)
    lat = teachers["home_lat"].to_numpy(dtype=np.float64)
    tr = pyproj.Transformer.from_crs(4326, crs, always_xy=True)
    x, y = tr.transform(lon, lat)
    out = teachers.copy()
    out["home_x"] = np.where(np.isfinite(lon) & np.isfinite(lat), x, np.nan)
    out["home_y"] = np.where(np.isfinite(lon) & np.isfinite(lat), y, np.nan)
    return out


def _choose_metric_crs(geos: list[_Geo]) -> pyproj.CRS | None:
    for g in geos:
        if g.ok.any():
            lon, lat = g.lon[g.ok], g.lat[g.ok]
            return utm_crs_for((lon.min() + lon.max()) / 2.0, (lat.min() + lat.max()) / 2.0)
    return None


# --- public -----------------------------------------------------------------------------------


def validate_inputs(
    schools: pd.DataFrame,
    blocks: pd.DataFrame | None = None,
    teachers: pd.DataFrame | None = None,
    roads: pd.DataFrame | None = None,
    boundary: pd.DataFrame | None = None,
    *,
    sources: Mapping[str, str] | None = None,
    metric_crs: pyproj.CRS | None = None,
) -> Inputs:
    """Check the layers together and return them in canonical form.

    Parameters
    ----------
    schools
        Schools as points (a GeoDataFrame, or a table with ``lon``/``lat``
        columns in WGS84). Headers may be any accepted alias.
    blocks
        Residential blocks (points or polygons); ``None`` gives an empty layer.
    teachers
        Teachers table; ``home_lon``/``home_lat`` are WGS84 degrees
        (:func:`geo.io.read_layer` converts other declared CRSs).
    roads
        Road lines. An OSM ``oneway`` of ``-1`` reverses the line and sets ``oneway``.
    boundary
        County (and township) polygons.
    sources
        Layer name → file it came from, used to name the layer in messages and
        kept in :attr:`Inputs.sources`.
    metric_crs
        Projected CRS to use; by default the UTM zone of the schools.

    Returns
    -------
    Inputs
        Every layer canonical and in ``metric_crs``.

    Raises
    ------
    InputError
        With every problem of every layer.

    Warns
    -----
    InputWarning
        Recoverable oddities: blocks slightly outside the boundary, zero capacity
        at a level a school teaches, missing optional counts taken as 0, seats or
        pupils at a level a school does not teach, data outside China.
    """
    given = {"schools": schools, "blocks": blocks, "teachers": teachers, "roads": roads, "boundary": boundary}
    with deferred_warnings(stacklevel=1):
        inputs = validate_frames(given, sources=sources, metric_crs=metric_crs)
    return inputs


def validate_frames(
    frames: Mapping[str, pd.DataFrame | None],
    *,
    sources: Mapping[str, str] | None = None,
    metric_crs: pyproj.CRS | None = None,
    prior_problems: Sequence[Problem] = (),
) -> Inputs:
    """:func:`validate_inputs` for a mapping of layers, adding earlier problems.

    Used by :func:`geo.io.load_inputs` so that files that could not be read and
    bad values in the others are reported in one :class:`InputError`.
    Warnings are emitted as they are found (wrap in :func:`deferred_warnings`).
    A missing schools layer is a problem unless ``prior_problems`` already say why.
    """
    problems: list[Problem] = list(prior_problems)
    srcs = dict(sources or {})
    labels = {k: srcs.get(k, k) for k in LAYERS}
    problems.extend(
        Problem(layer=labels.get(name, name), message=f"unknown layer '{name}'; layers are {', '.join(LAYERS)}")
        for name in frames
        if name not in LAYERS
    )
    if frames.get("schools") is None and not prior_problems:
        problems.append(Problem(layer=labels["schools"], message="the schools layer is required"))
    results: dict[str, _Result] = {}
    for name in LAYERS:
        df = frames.get(name)
        if df is not None:
            results[name] = _validate_layer(df, LAYERS[name], labels[name], problems)
    return _finish(results, labels, srcs, problems, metric_crs)


def _finish(
    results: dict[str, _Result],
    labels: Mapping[str, str],
    sources: Mapping[str, str],
    problems: list[Problem],
    metric_crs: pyproj.CRS | None,
) -> Inputs:
    sch = results.get("schools")
    if sch is not None and sch.frame is not None and {"school_id", "level"} <= set(sch.frame.columns):
        _check_references(sch.frame, results, labels, problems)
    geos = [r.geo for r in results.values() if r.geo is not None]
    parts = [(g.layer, "geometry", g.ok, g.lon, g.lat) for g in geos]
    tea = results.get("teachers")
    if tea is not None and tea.frame is not None and {"home_lon", "home_lat"} <= set(tea.frame.columns):
        lon = tea.frame["home_lon"].to_numpy(dtype=np.float64)
        lat = tea.frame["home_lat"].to_numpy(dtype=np.float64)
        lay = _Layer(TEACHERS, labels["teachers"], problems, tea.frame)
        parts.append((lay, "home_lon", np.isfinite(lon) & np.isfinite(lat), lon, lat))
    _check_china(parts)

    ordered = [results[k].geo for k in ("schools", "blocks", "boundary", "roads") if k in results and results[k].geo]
    crs = metric_crs if metric_crs is not None else _choose_metric_crs([g for g in ordered if g is not None])
    projected: dict[str, Any] = {}
    if crs is not None:
        for name, res in results.items():
            if res.frame is None:
                continue
            if isinstance(res.frame, gpd.GeoDataFrame):
                if res.frame.crs is None:
                    continue
                projected[name] = res.frame.to_crs(crs)
            else:
                projected[name] = res.frame
        if "teachers" in projected and {"home_lon", "home_lat"} <= set(projected["teachers"].columns):
            projected["teachers"] = _home_xy(projected["teachers"], crs)
        bnd = projected.get("boundary")
        bnd_geo = results["boundary"].geo if bnd is not None else None
        if bnd is not None and bnd_geo is not None and bnd_geo.ok.all():
            frames: dict[str, tuple[gpd.GeoDataFrame, np.ndarray]] = {}
            for k in ("blocks", "schools"):
                k_geo = results[k].geo if k in projected else None
                if k_geo is not None:
                    frames[k] = (projected[k], k_geo.ok)
            _check_boundary(frames, bnd, labels, problems)
    elif not problems:
        problems.append(Problem(layer=labels["schools"], message="no usable geometry to locate the data"))

    if problems:
        raise InputError(problems)
    assert crs is not None
    out_sources = {k: sources.get(k, "given") for k in results}
    log.info(
        "validated %s; metric CRS %s",
        ", ".join(f"{len(r.frame)} {k}" for k, r in results.items() if r.frame is not None),
        crs.name,
    )
    return Inputs(
        schools=projected["schools"],
        blocks=projected.get("blocks", _empty_blocks(crs)),
        teachers=projected.get("teachers"),
        roads=projected.get("roads"),
        boundary=projected.get("boundary"),
        metric_crs=crs,
        sources=out_sources,
    )



def validate_table(
    df: pd.DataFrame, spec: LayerSpec, label: str, *, school_ids: pd.Series | None = None, schools: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Check and convert a plain table of a :data:`geo.model.TABLE_LAYERS` layer (groups, staffing targets).

    Headers are renamed and values converted by the column kinds of ``spec``, as for the input
    layers; with ``school_ids``, a ``school_id`` not among them is a problem too.

    Parameters
    ----------
    df
        The table as read.
    spec
        The layer it holds (e.g. :data:`geo.model.GROUPS`).
    label
        How problems name it (the file path).
    school_ids
        The schools layer's ids.
    schools
        The schools layer (``school_id`` and ``name``), instead of ``school_ids``: a school may then
        be named instead of coded where no other school has that name.

    Returns
    -------
    pandas.DataFrame
        Canonical columns first, then any other columns as read.

    Raises
    ------
    InputError
        With every problem of the table, each naming ``label``, the row (1 = first data row) and the column.
    """
    problems: list[Problem] = []
    frame = _validate_layer(df, spec, label, problems).frame
    if schools is not None:
        school_ids = schools["school_id"]
    if frame is not None and school_ids is not None and "school_id" in frame.columns:
        lay = _Layer(spec, label, problems, frame)
        ref = _codes_for_names(lay, "school_id", schools) if schools is not None else frame["school_id"]
        vals = ref.tolist()
        unknown = np.flatnonzero(ref.notna().to_numpy() & ~ref.isin(set(school_ids)).to_numpy())
        lay.add_rows(unknown, "school_id", lambda i: f"unknown school id {vals[i]!r} (not in schools)")
    if problems or frame is None:
        raise InputError(problems)
    return frame

__all__ = [
    "CHINA_LAT",
    "CHINA_LON",
    "FAR_OUTSIDE_BOUNDARY_M",
    "LAT_ALIASES",
    "LON_ALIASES",
    "InputNote",
    "InputWarning",
    "accepted_headers",
    "deferred_warnings",
    "numeric_values",
    "parse_number",
    "rename_aliases",
    "validate_frames",
    "validate_inputs",
    "validate_table",
]
