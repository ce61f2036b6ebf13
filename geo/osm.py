"""Road lines from an OpenStreetMap ``.osm.pbf`` extract (read with pyrosm).

:func:`read_osm_roads` returns the canonical roads layer
(``highway``, ``speed_kmh``, ``oneway``, ``name``) in a metric CRS, ready for
:func:`geo.network.build_network`. OSM ways connect exactly where they share a
node, so build OSM networks with ``join_tolerance_m=0``.

Extracts for a county can be cut from the Geofabrik China extract with
``osmium extract -b lon1,lat1,lon2,lat2`` (or pass ``bounding_box`` here).
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely

from geo.errors import InputError, Problem

logger = logging.getLogger(__name__)

#: Kilometres per hour in one mile per hour.
_MPH_KMH = 1.609344

#: Implicit OSM ``maxspeed`` values (country:zone) for China, km/h.
_IMPLICIT_MAXSPEED = {"cn:urban": 50.0, "cn:rural": 70.0, "cn:motorway": 120.0, "walk": 5.0, "living_street": 15.0}

NetworkType = Literal["all", "walking", "cycling", "driving", "driving+service"]


def parse_maxspeed(values: pd.Series) -> pd.Series:
    """OSM ``maxspeed`` tags as km/h floats (``NaN`` where unknown).

    Accepts ``"50"``, ``"50 km/h"``, ``"30 mph"``, ``"CN:urban"``, and
    ``"40;60"`` (the lowest is kept); ``"none"``, ``"signals"`` and the like give ``NaN``.

    Parameters
    ----------
    values
        Raw tag values.

    Returns
    -------
    pandas.Series
    """

    def one(v: object) -> float:
        if not isinstance(v, str):
            return float(v) if isinstance(v, (int, float)) and not math.isnan(v) and v > 0 else np.nan
        best = np.nan
        for raw in re.split(r"[;|]", v.strip().lower()):
            part = raw.strip()
            if part in _IMPLICIT_MAXSPEED:
                kmh = _IMPLICIT_MAXSPEED[part]
            else:
                m = re.fullmatch(r"(\d+(?:\.\d+)?)\s*(km/h|kmh|kph|mph)?", part)
                if m is None:
                    continue
                kmh = float(m.group(1)) * (_MPH_KMH if m.group(2) == "mph" else 1.0)
            if kmh > 0 and not kmh >= best:
                best = kmh
        return best

    return pd.Series([one(v) for v in values.tolist()], index=values.index, dtype="float64")


def _oneway(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """(one-way, reversed) flags from ``oneway`` and ``junction`` tags."""
    n = len(frame)
    raw = frame["oneway"] if "oneway" in frame.columns else pd.Series([None] * n, index=frame.index)
    text = pd.Series([str(v).strip().lower() if isinstance(v, str) else "" for v in raw.tolist()], dtype=object)
    reverse = (text == "-1").to_numpy()
    oneway = text.isin(["yes", "true", "1", "-1"]).to_numpy()
    if "junction" in frame.columns:
        junction = pd.Series([str(v).lower() if isinstance(v, str) else "" for v in frame["junction"].tolist()])
        implied = junction.isin(["roundabout", "circular"]).to_numpy() & ~text.isin(["no", "false", "0"]).to_numpy()
        oneway = oneway | implied
    return oneway, reverse


def read_osm_roads(
    path: str | Path,
    *,
    network_type: NetworkType = "all",
    bounding_box: Sequence[float] | None = None,
    crs: pyproj.CRS | str | None = None,
) -> gpd.GeoDataFrame:
    """Read the road lines of an ``.osm.pbf`` extract as the canonical roads layer.

    Parameters
    ----------
    path
        The ``.osm.pbf`` file.
    network_type
        pyrosm network filter; ``all`` keeps footways and paths children walk.
    bounding_box
        ``(min_lon, min_lat, max_lon, max_lat)`` to read only part of the file.
    crs
        Metric CRS of the result; by default the local UTM zone.

    Returns
    -------
    geopandas.GeoDataFrame
        Lines with ``osm_id``, ``highway``, ``speed_kmh`` (from ``maxspeed``),
        ``oneway`` (lines tagged ``oneway=-1`` are reversed), ``name``.

    Raises
    ------
    InputError
        When the file is missing, unreadable or holds no roads.
    """
    import pyrosm  # noqa: PLC0415 - optional heavy import, only for OSM input

    path = Path(path)
    if not path.is_file():
        raise InputError([Problem(str(path), "OSM extract not found")])
    try:
        osm = pyrosm.OSM(str(path), bounding_box=list(bounding_box) if bounding_box is not None else None)
        ways = osm.get_network(network_type=network_type)
    except Exception as err:  # pyrosm raises bare exceptions on bad files
        msg = f"could not read the OSM extract: {err}"
        raise InputError([Problem(str(path), msg)]) from err
    if ways is None or len(ways) == 0:
        raise InputError([Problem(str(path), "no roads in the OSM extract (or in the bounding box)")])
    ways = ways.reset_index(drop=True)
    oneway, reverse = _oneway(ways)
    geom = ways.geometry.values
    if reverse.any():
        geom = geom.copy()
        geom[reverse] = shapely.reverse(geom[reverse])
    out = gpd.GeoDataFrame(
        {
            "osm_id": ways["id"].astype("int64").to_numpy() if "id" in ways.columns else np.arange(len(ways)),
            "highway": ways["highway"].astype(str).str.lower().to_numpy(),
            "speed_kmh": parse_maxspeed(ways["maxspeed"]).to_numpy() if "maxspeed" in ways.columns else np.nan,
            "oneway": oneway,
            "name": ways["name"].to_numpy() if "name" in ways.columns else None,
        },
        geometry=gpd.GeoSeries(geom, crs=ways.crs or "EPSG:4326").values,
    )
    target = pyproj.CRS.from_user_input(crs) if crs is not None else out.estimate_utm_crs()
    out = out.to_crs(target).sort_values("osm_id", kind="stable").reset_index(drop=True)
    logger.info("read %d OSM ways from %s", len(out), path.name)
    return out
