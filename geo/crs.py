"""Coordinate systems used by Chinese planners' data, and the metric CRS for a region.

Supported declared CRSs: ``wgs84`` (EPSG:4326), ``cgcs2000`` (EPSG:4490),
``gcj02`` (Amap, Tencent) and ``bd09`` (Baidu), or any EPSG/PROJ string pyproj
understands. GCJ-02 and BD-09 are not PROJ datums: they are converted to WGS84
with the published transforms (see :func:`gcj02_to_wgs84`).

The GCJ-02 offset is the widely published reconstruction on the Krasovsky
ellipsoid (``a = 6378245.0``, ``ee = 0.00669342162296594323``), applied only
inside the rectangle of the standard ``out_of_china`` rule (lon 72.004–137.8347,
lat 0.8293–55.8271); outside it GCJ-02 equals WGS84. BD-09 is Baidu's further
rotation–scaling of GCJ-02 with ``x_pi = π·3000/180``; like the common open
implementations it is applied everywhere. Forward transforms are exact formulas;
the inverses (GCJ-02 → WGS84, BD-09 → GCJ-02) are solved by fixed-point iteration
on the forward formula to better than 1e-9° (≈ 0.1 mm), far inside the 0.5 m
asked of them.
"""

from __future__ import annotations

import logging
import math
from typing import Any, Final

import geopandas as gpd
import numpy as np
import pyproj
import shapely

from geo.errors import InputError, Problem

log = logging.getLogger(__name__)

_A: Final = 6378245.0  # semi-major axis of the Krasovsky 1940 ellipsoid used by GCJ-02
_EE: Final = 0.00669342162296594323  # its first eccentricity squared
_X_PI: Final = math.pi * 3000.0 / 180.0  # Baidu's BD-09 constant
_BD_DLON: Final = 0.0065  # BD-09 false easting, degrees
_BD_DLAT: Final = 0.006  # BD-09 false northing, degrees
#: Rectangle of the standard ``out_of_china`` rule (outside it GCJ-02 is WGS84).
_CHINA_RULE_LON: Final = (72.004, 137.8347)
_CHINA_RULE_LAT: Final = (0.8293, 55.8271)
#: Fixed-point iterations stop when the forward image is this close (degrees).
_INVERSE_TOL_DEG: Final = 1e-10
_INVERSE_MAX_ITER: Final = 30

#: Names accepted for a declared CRS (case-insensitive), besides any pyproj string.
CRS_NAMES: Final = {
    "wgs84": "EPSG:4326",
    "wgs-84": "EPSG:4326",
    "wgs 84": "EPSG:4326",
    "gps": "EPSG:4326",
    "cgcs2000": "EPSG:4490",
    "cgcs-2000": "EPSG:4490",
    "china2000": "EPSG:4490",
    "gcj02": "gcj02",
    "gcj-02": "gcj02",
    "gcj": "gcj02",
    "amap": "gcj02",
    "gaode": "gcj02",
    "tencent": "gcj02",
    "火星坐标": "gcj02",
    "bd09": "bd09",
    "bd-09": "bd09",
    "bd09ll": "bd09",
    "baidu": "bd09",
}
#: The non-PROJ systems, converted with the published formulas.
SHIFTED_CRS: Final = ("gcj02", "bd09")


def utm_crs_for(lon: float, lat: float) -> pyproj.CRS:
    """The WGS84 / UTM zone CRS (metres) containing ``(lon, lat)``.

    Example
    -------
    >>> utm_crs_for(110.1, 37.1).to_epsg()
    32649
    """
    zone = int((lon + 180.0) // 6.0) + 1
    zone = min(max(zone, 1), 60)
    epsg = (32600 if lat >= 0 else 32700) + zone
    return pyproj.CRS.from_epsg(epsg)


# --- the published GCJ-02 / BD-09 formulas ----------------------------------------


def _arrays(lon: Any, lat: Any) -> tuple[np.ndarray, np.ndarray, bool]:
    x = np.asarray(lon, dtype=np.float64)
    y = np.asarray(lat, dtype=np.float64)
    scalar = x.ndim == 0 and y.ndim == 0
    x, y = np.broadcast_arrays(x, y)
    return x.astype(np.float64, copy=True), y.astype(np.float64, copy=True), scalar


def _out(x: np.ndarray, y: np.ndarray, scalar: bool) -> tuple[Any, Any]:
    if scalar:
        return float(x), float(y)
    return x, y


def out_of_china(lon: Any, lat: Any) -> np.ndarray:
    """Whether points lie outside the rectangle where GCJ-02 differs from WGS84.

    This is the standard ``out_of_china`` rule of the open GCJ-02
    implementations (lon 72.004–137.8347, lat 0.8293–55.8271), not a border test.
    """
    x, y, _ = _arrays(lon, lat)
    return (
        (x < _CHINA_RULE_LON[0]) | (x > _CHINA_RULE_LON[1]) | (y < _CHINA_RULE_LAT[0]) | (y > _CHINA_RULE_LAT[1])
    )


def _transform_lat(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    ret = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * np.sqrt(np.abs(x))
    ret += (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
    ret += (20.0 * np.sin(y * np.pi) + 40.0 * np.sin(y / 3.0 * np.pi)) * 2.0 / 3.0
    ret += (160.0 * np.sin(y / 12.0 * np.pi) + 320.0 * np.sin(y * np.pi / 30.0)) * 2.0 / 3.0
    return ret


def _transform_lon(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    ret = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * np.sqrt(np.abs(x))
    ret += (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
    ret += (20.0 * np.sin(x * np.pi) + 40.0 * np.sin(x / 3.0 * np.pi)) * 2.0 / 3.0
    ret += (150.0 * np.sin(x / 12.0 * np.pi) + 300.0 * np.sin(x / 30.0 * np.pi)) * 2.0 / 3.0
    return ret


def _gcj_offset(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """GCJ-02 minus WGS84 at WGS84 point ``(lon, lat)``, degrees (0 outside China)."""
    dlat = _transform_lat(lon - 105.0, lat - 35.0)
    dlon = _transform_lon(lon - 105.0, lat - 35.0)
    radlat = lat / 180.0 * np.pi
    magic = 1.0 - _EE * np.sin(radlat) ** 2
    sqrtmagic = np.sqrt(magic)
    dlat = (dlat * 180.0) / ((_A * (1.0 - _EE)) / (magic * sqrtmagic) * np.pi)
    dlon = (dlon * 180.0) / (_A / sqrtmagic * np.cos(radlat) * np.pi)
    outside = out_of_china(lon, lat)
    return np.where(outside, 0.0, dlon), np.where(outside, 0.0, dlat)


def _finite(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return np.isfinite(x) & np.isfinite(y)


def wgs84_to_gcj02(lon: Any, lat: Any) -> tuple[Any, Any]:
    """WGS84 → GCJ-02 (Amap, Tencent), the published forward formula.

    Parameters
    ----------
    lon, lat
        Degrees; scalars or arrays of one shape. NaN passes through.

    Returns
    -------
    tuple
        ``(lon, lat)`` in GCJ-02, floats for scalar input, else arrays. Points
        outside China (standard ``out_of_china`` rule) are returned unchanged.

    Example
    -------
    >>> lon, lat = wgs84_to_gcj02(116.397128, 39.916527)
    >>> round(lon - 116.397128, 4), round(lat - 39.916527, 4)
    (0.0062, 0.0014)
    """
    x, y, scalar = _arrays(lon, lat)
    ok = _finite(x, y)
    dlon, dlat = _gcj_offset(np.where(ok, x, 0.0), np.where(ok, y, 0.0))
    return _out(x + np.where(ok, dlon, 0.0), y + np.where(ok, dlat, 0.0), scalar)


def gcj02_to_wgs84(lon: Any, lat: Any) -> tuple[Any, Any]:
    """GCJ-02 → WGS84 by fixed-point iteration on the forward formula.

    Starting from the GCJ-02 point, ``w ← w + (g − gcj(w))`` is repeated until the
    forward image of every point is within 1e-10° of its GCJ-02 coordinates (a
    few iterations; the offset's derivative is tiny so the map contracts fast).

    Parameters
    ----------
    lon, lat
        GCJ-02 degrees; scalars or arrays of one shape.

    Returns
    -------
    tuple
        ``(lon, lat)`` in WGS84; identity outside China.
    """
    gx, gy, scalar = _arrays(lon, lat)
    ok = _finite(gx, gy)
    gx0, gy0 = np.where(ok, gx, 0.0), np.where(ok, gy, 0.0)
    wx, wy = gx0.copy(), gy0.copy()
    for _ in range(_INVERSE_MAX_ITER):
        dlon, dlat = _gcj_offset(wx, wy)
        ex, ey = gx0 - (wx + dlon), gy0 - (wy + dlat)
        wx += ex
        wy += ey
        if max(np.max(np.abs(ex), initial=0.0), np.max(np.abs(ey), initial=0.0)) < _INVERSE_TOL_DEG:
            break
    # the out_of_china rule is applied to the given GCJ-02 point, as published
    outside = out_of_china(gx0, gy0)
    wx = np.where(outside, gx0, wx)
    wy = np.where(outside, gy0, wy)
    return _out(np.where(ok, wx, gx), np.where(ok, wy, gy), scalar)


def gcj02_to_bd09(lon: Any, lat: Any) -> tuple[Any, Any]:
    """GCJ-02 → BD-09 (Baidu), Baidu's published forward formula.

    Parameters
    ----------
    lon, lat
        GCJ-02 degrees; scalars or arrays of one shape.

    Returns
    -------
    tuple
        ``(lon, lat)`` in BD-09.
    """
    x, y, scalar = _arrays(lon, lat)
    z = np.sqrt(x * x + y * y) + 0.00002 * np.sin(y * _X_PI)
    theta = np.arctan2(y, x) + 0.000003 * np.cos(x * _X_PI)
    return _out(z * np.cos(theta) + _BD_DLON, z * np.sin(theta) + _BD_DLAT, scalar)


def bd09_to_gcj02(lon: Any, lat: Any) -> tuple[Any, Any]:
    """BD-09 → GCJ-02: Baidu's published inverse, refined by fixed-point iteration.

    The published closed-form inverse is only approximate (errors of a few
    centimetres); it is used as the start and refined with ``g ← g + (b − bd(g))``
    until the forward image is within 1e-10° of the BD-09 point.

    Parameters
    ----------
    lon, lat
        BD-09 degrees; scalars or arrays of one shape.

    Returns
    -------
    tuple
        ``(lon, lat)`` in GCJ-02.
    """
    bx, by, scalar = _arrays(lon, lat)
    x, y = bx - _BD_DLON, by - _BD_DLAT
    z = np.sqrt(x * x + y * y) - 0.00002 * np.sin(y * _X_PI)
    theta = np.arctan2(y, x) - 0.000003 * np.cos(x * _X_PI)
    gx, gy = z * np.cos(theta), z * np.sin(theta)
    ok = _finite(bx, by)
    for _ in range(_INVERSE_MAX_ITER):
        fx, fy = gcj02_to_bd09(gx, gy)
        ex, ey = np.where(ok, bx - fx, 0.0), np.where(ok, by - fy, 0.0)
        gx, gy = gx + ex, gy + ey
        if max(np.max(np.abs(ex), initial=0.0), np.max(np.abs(ey), initial=0.0)) < _INVERSE_TOL_DEG:
            break
    return _out(gx, gy, scalar)


def bd09_to_wgs84(lon: Any, lat: Any) -> tuple[Any, Any]:
    """BD-09 → WGS84 (via GCJ-02)."""
    return gcj02_to_wgs84(*bd09_to_gcj02(lon, lat))


def wgs84_to_bd09(lon: Any, lat: Any) -> tuple[Any, Any]:
    """WGS84 → BD-09 (via GCJ-02)."""
    return gcj02_to_bd09(*wgs84_to_gcj02(lon, lat))


# --- declared CRSs and GeoDataFrames -------------------------------------------------


def crs_names_help() -> str:
    """The accepted CRS names, for messages and help texts."""
    return "wgs84, cgcs2000 (EPSG:4490), gcj02 (Amap/Tencent), bd09 (Baidu), or an EPSG code such as EPSG:4547"


def parse_crs(name: str) -> str | pyproj.CRS:
    """Read a declared CRS name.

    Parameters
    ----------
    name
        ``wgs84``, ``cgcs2000``, ``gcj02``, ``bd09`` (and the synonyms in
        :data:`CRS_NAMES`, case-insensitive), or anything pyproj accepts
        (``EPSG:4547``, ``4326``, a PROJ or WKT string).

    Returns
    -------
    str or pyproj.CRS
        ``"gcj02"`` or ``"bd09"`` for the shifted systems, else the CRS.

    Raises
    ------
    InputError
        If the name is not understood; the message lists the valid names.
    """
    text = str(name).strip()
    key = text.lower()
    if key in CRS_NAMES:
        value = CRS_NAMES[key]
        return value if value in SHIFTED_CRS else pyproj.CRS.from_user_input(value)
    try:
        crs = pyproj.CRS.from_user_input(int(text) if text.isdigit() else text)
    except (pyproj.exceptions.CRSError, TypeError, ValueError) as err:
        msg = f"unknown coordinate system {text!r}; use {crs_names_help()}"
        raise InputError([Problem(layer="crs", message=msg)]) from err
    wrong = not_a_map_crs(crs)
    if wrong is not None:
        raise InputError([Problem(layer="crs", message=wrong)])
    return crs


def crs_label(crs: str | pyproj.CRS) -> str:
    """A CRS as users name it: ``EPSG:3857 (WGS 84 / Pseudo-Mercator)``, ``GCJ-02``, ``BD-09``."""
    if isinstance(crs, str):
        return {"gcj02": "GCJ-02", "bd09": "BD-09"}.get(crs, crs)
    code = crs.to_epsg()
    return f"EPSG:{code} ({crs.name})" if code is not None else crs.name


def not_a_map_crs(crs: pyproj.CRS) -> str | None:
    """Why ``crs`` cannot hold map coordinates (x/y or lon/lat), or ``None`` when it can.

    An earth-centred (geocentric X/Y/Z) CRS, a vertical CRS (heights) or any
    other kind that is neither geographic nor projected is refused: the planner
    reads two horizontal coordinates.
    """
    if crs.is_geographic or crs.is_projected:
        return None
    kind = crs.type_name.removesuffix(" CRS").lower()
    what = "an earth-centred (geocentric X, Y, Z)" if crs.is_geocentric else ("an " if kind[:1] in "aeiou" else "a ") + kind
    return (
        f"{crs_label(crs)} is {what} coordinate system, not one of map coordinates; "
        f"declare the one the longitude/latitude or x/y are in: {crs_names_help()}"
    )


#: Share of the points that must look like the wrong unit before a whole layer is refused
#: (fewer are single bad rows, reported by validation row by row).
WRONG_UNIT_SHARE: Final = 0.5


def _span(v: np.ndarray) -> str:
    def fmt(x: float) -> str:
        return f"{x:.0f}" if abs(x) >= 1000 else f"{x:.3f}".rstrip("0").rstrip(".")

    return f"between {fmt(float(v.min()))} and {fmt(float(v.max()))}"


def implausible_coordinates(x: Any, y: Any, crs: str | pyproj.CRS) -> str | None:
    """Why coordinates cannot be in ``crs`` for data in China, or ``None`` when they can.

    Caught before anything is computed: degrees read as metres (a projected CRS
    whose x/y fall inside China's longitude/latitude rectangle: the layer would
    shrink to a few dozen metres), metres read as degrees (a geographic CRS,
    GCJ-02 or BD-09 with values beyond ±180/±90), and a CRS that is not one of
    map coordinates (geocentric, vertical). A layer is refused when at least
    :data:`WRONG_UNIT_SHARE` of its points look like the wrong unit.

    Parameters
    ----------
    x, y
        The coordinates as given (longitude/latitude or easting/northing).
    crs
        The CRS they are declared in (:func:`parse_crs`'s result).

    Returns
    -------
    str or None
        The problem in plain words (the ranges seen and the CRS's unit).

    Example
    -------
    >>> implausible_coordinates([108.1, 110.5], [36.8, 37.6], pyproj.CRS.from_epsg(3857))[:63]
    'x between 108.1 and 110.5, y between 36.8 and 37.6 look like lo'
    """
    if isinstance(crs, pyproj.CRS) and (wrong := not_a_map_crs(crs)) is not None:
        return wrong
    xs = np.asarray(x, dtype=np.float64).ravel()
    ys = np.asarray(y, dtype=np.float64).ravel()
    ok = np.isfinite(xs) & np.isfinite(ys)
    xs, ys = xs[ok], ys[ok]
    if len(xs) == 0:
        return None
    seen = f"x {_span(xs)}, y {_span(ys)}"
    if isinstance(crs, str) or crs.is_geographic:
        metres = (np.abs(xs) > 180.0) | (np.abs(ys) > 90.0)
        if metres.mean() >= WRONG_UNIT_SHARE:
            return (
                f"{seen} look like metres, but {crs_label(crs)} is in degrees (longitude -180 to 180, "
                "latitude -90 to 90); declare the projected CRS the x/y are in (e.g. EPSG:4547, EPSG:32649)"
            )
        return None
    degrees = ~out_of_china(xs, ys)
    if degrees.mean() >= WRONG_UNIT_SHARE:
        return (
            f"{seen} look like longitude/latitude degrees, but {crs_label(crs)} is in metres; "
            "declare the CRS of the longitude/latitude: wgs84, cgcs2000, gcj02 (Amap/Tencent) or bd09 (Baidu)"
        )
    return None


def _shift_geometries(geoms: np.ndarray, func: Any) -> np.ndarray:
    """Apply a lon/lat array transform to every coordinate of shapely geometries."""

    def move(coords: np.ndarray) -> np.ndarray:
        x, y = func(coords[:, 0], coords[:, 1])
        return np.column_stack([x, y])

    return shapely.transform(geoms, move)


def to_wgs84(gdf: gpd.GeoDataFrame, declared: str | pyproj.CRS) -> gpd.GeoDataFrame:
    """Reproject a layer whose coordinates are in ``declared`` to WGS84 (EPSG:4326).

    Parameters
    ----------
    gdf
        The layer. Its own ``crs`` is ignored when ``declared`` is ``gcj02`` or
        ``bd09`` (files carry those as plain lon/lat); otherwise ``declared`` is
        what the coordinates are in and replaces a missing or different ``crs``.
    declared
        ``wgs84``, ``cgcs2000``, ``gcj02``, ``bd09``, ``EPSG:n`` or any pyproj
        string (see :func:`parse_crs`).

    Returns
    -------
    geopandas.GeoDataFrame
        A copy in EPSG:4326.

    Raises
    ------
    InputError
        If ``declared`` is unknown, or ``gcj02``/``bd09`` is declared for a layer
        stored in a projected CRS.
    """
    crs = parse_crs(declared) if isinstance(declared, str) else declared
    wgs84 = pyproj.CRS.from_epsg(4326)
    if isinstance(crs, str):
        if gdf.crs is not None and not gdf.crs.is_geographic:
            msg = f"declared {crs} but the layer is stored in the projected CRS {gdf.crs.name}; {crs} data are lon/lat"
            raise InputError([Problem(layer="crs", message=msg)])
        func = gcj02_to_wgs84 if crs == "gcj02" else bd09_to_wgs84
        out = gdf.copy()
        out[out.geometry.name] = gpd.GeoSeries(
            _shift_geometries(np.asarray(gdf.geometry.array, dtype=object), func), index=gdf.index
        )
        return out.set_crs(wgs84, allow_override=True)
    if gdf.crs is not None and not pyproj.CRS(gdf.crs).equals(crs):
        log.debug("layer CRS %s replaced by the declared %s", gdf.crs.name, crs.name)
    return gdf.set_crs(crs, allow_override=True).to_crs(wgs84)


def points_to_wgs84(lon: Any, lat: Any, declared: str | pyproj.CRS) -> tuple[np.ndarray, np.ndarray]:
    """Convert coordinate arrays in ``declared`` (lon/lat or projected x/y) to WGS84 lon/lat."""
    crs = parse_crs(declared) if isinstance(declared, str) else declared
    x = np.asarray(lon, dtype=np.float64)
    y = np.asarray(lat, dtype=np.float64)
    if crs == "gcj02":
        return gcj02_to_wgs84(x, y)
    if crs == "bd09":
        return bd09_to_wgs84(x, y)
    assert isinstance(crs, pyproj.CRS)
    tr = pyproj.Transformer.from_crs(crs, 4326, always_xy=True)
    ox, oy = tr.transform(x, y)
    return np.asarray(ox, dtype=np.float64), np.asarray(oy, dtype=np.float64)


def metric_crs_for(gdf: gpd.GeoDataFrame) -> pyproj.CRS:
    """The local UTM zone (metres) of the centre of the data's WGS84 bounds.

    Parameters
    ----------
    gdf
        A layer with a CRS and at least one non-empty geometry.

    Returns
    -------
    pyproj.CRS
        WGS84 / UTM zone CRS.

    Raises
    ------
    InputError
        If the layer has no CRS or no geometry to locate it.
    """
    if gdf.crs is None:
        raise InputError([Problem(layer="crs", message="cannot choose a metric CRS for a layer without a CRS")])
    geo = gdf.geometry
    geo = geo[~(geo.isna() | geo.is_empty)]
    if len(geo) == 0:
        raise InputError([Problem(layer="crs", message="cannot choose a metric CRS: no geometry to locate the data")])
    minx, miny, maxx, maxy = geo.to_crs(4326).total_bounds
    if not np.all(np.isfinite([minx, miny, maxx, maxy])):
        raise InputError([Problem(layer="crs", message="cannot choose a metric CRS: coordinates are not finite")])
    return utm_crs_for((minx + maxx) / 2.0, (miny + maxy) / 2.0)
