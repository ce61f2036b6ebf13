"""Coordinate systems used by Chinese planners' data, and the metric CRS for a region.

Supported declared CRSs: ``wgs84`` (EPSG:4326), ``cgcs2000`` (EPSG:4490),
``gcj02`` (Amap, Tencent) and ``bd09`` (Baidu), or any EPSG/PROJ string pyproj
understands. GCJ-02 and BD-09 are not PROJ datums: they are converted to WGS84
with the published transforms (see :func:`gcj02_to_wgs84`).
"""

from __future__ import annotations

import pyproj


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
