"""Block × school travel matrices: the cost data every model stands on.

A :class:`TravelMatrix` is a sparse list of reachable (origin, destination)
pairs with integer travel time (s) and distance (m). A pair that is not listed
is unreachable (or beyond the cutoff): never silently zero.
"""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
from numpy.typing import NDArray

from geo.policy import WALK_SPEED_KMH

#: Straight-line distance × this factor approximates road distance when no roads are given.
DEFAULT_DETOUR_FACTOR = 1.3


@dataclass(frozen=True)
class TravelMatrix:
    """Reachable origin–destination pairs with travel time and distance.

    Attributes
    ----------
    origin_ids, dest_ids
        Ids of origins (blocks) and destinations (schools), as strings.
    origin, dest
        ``int32`` indices into ``origin_ids``/``dest_ids`` of each reachable
        pair, sorted by origin then destination.
    time_s, dist_m
        ``int32`` travel time in seconds and distance in metres of each pair.
    mode
        Travel mode (``walk``, ``bike``, ``drive``, ``bus``, ``straight``).
    """

    origin_ids: NDArray[np.str_]
    dest_ids: NDArray[np.str_]
    origin: NDArray[np.int32]
    dest: NDArray[np.int32]
    time_s: NDArray[np.int32]
    dist_m: NDArray[np.int32]
    mode: str

    @property
    def shape(self) -> tuple[int, int]:
        """(number of origins, number of destinations)."""
        return (len(self.origin_ids), len(self.dest_ids))

    @property
    def n_pairs(self) -> int:
        """Number of reachable pairs."""
        return len(self.origin)

    def dense(self, what: str = "time_s", fill: float = np.inf) -> NDArray[np.float64]:
        """Dense ``(n_origins, n_dests)`` array of ``time_s`` or ``dist_m``; ``fill`` where unreachable."""
        out = np.full(self.shape, fill, dtype=np.float64)
        out[self.origin, self.dest] = getattr(self, what)
        return out

    def to_frame(self) -> pd.DataFrame:
        """One row per reachable pair: ``origin_id, dest_id, time_s, dist_m``."""
        return pd.DataFrame(
            {
                "origin_id": self.origin_ids[self.origin],
                "dest_id": self.dest_ids[self.dest],
                "time_s": self.time_s,
                "dist_m": self.dist_m,
            }
        )


def straight_line_matrix(
    origin_ids: NDArray[np.str_],
    origin_xy: NDArray[np.float64],
    dest_ids: NDArray[np.str_],
    dest_xy: NDArray[np.float64],
    *,
    speed_kmh: float = WALK_SPEED_KMH,
    detour_factor: float = DEFAULT_DETOUR_FACTOR,
    cutoff_s: float | None = None,
    mode: str = "straight",
) -> TravelMatrix:
    """Travel matrix from straight-line distances in a metric CRS.

    Parameters
    ----------
    origin_ids, dest_ids
        Ids of origins and destinations.
    origin_xy, dest_xy
        ``(n, 2)`` coordinates in metres.
    speed_kmh
        Travel speed along the detoured line.
    detour_factor
        Road distance ≈ straight-line distance × this factor.
    cutoff_s
        Pairs slower than this are left out (unreachable); ``None`` keeps all.
    mode
        Label stored on the result.

    Returns
    -------
    TravelMatrix
    """
    if speed_kmh <= 0 or detour_factor < 1:
        msg = f"speed_kmh must be > 0 and detour_factor ≥ 1, got {speed_kmh}, {detour_factor}"
        raise ValueError(msg)
    origin_xy = np.asarray(origin_xy, dtype=np.float64).reshape(-1, 2)
    dest_xy = np.asarray(dest_xy, dtype=np.float64).reshape(-1, 2)
    speed_ms = speed_kmh / 3.6
    origins, dests, dists = [], [], []
    # Chunk over origins so memory stays ~ chunk × n_dests.
    chunk = max(1, 2_000_000 // max(len(dest_xy), 1))
    for start in range(0, len(origin_xy), chunk):
        block = origin_xy[start : start + chunk]
        d = np.hypot(block[:, None, 0] - dest_xy[None, :, 0], block[:, None, 1] - dest_xy[None, :, 1])
        d *= detour_factor
        if cutoff_s is not None:
            keep = d / speed_ms <= cutoff_s
        else:
            keep = np.ones_like(d, dtype=bool)
        i, j = np.nonzero(keep)
        origins.append(i + start)
        dests.append(j)
        dists.append(d[i, j])
    o = np.concatenate(origins) if origins else np.empty(0, np.int64)
    j = np.concatenate(dests) if dests else np.empty(0, np.int64)
    dist = np.concatenate(dists) if dists else np.empty(0)
    return TravelMatrix(
        origin_ids=np.asarray(origin_ids, dtype=str),
        dest_ids=np.asarray(dest_ids, dtype=str),
        origin=o.astype(np.int32),
        dest=j.astype(np.int32),
        time_s=np.rint(dist / speed_ms).astype(np.int32),
        dist_m=np.rint(dist).astype(np.int32),
        mode=mode,
    )


#: Straight-line speeds by mode when no road network is given (km/h).
STRAIGHT_LINE_SPEED_KMH = {"walk": WALK_SPEED_KMH, "bike": 12.0, "drive": 30.0, "bus": 25.0}


def representative_xy(gdf: gpd.GeoDataFrame) -> NDArray[np.float64]:
    """``(n, 2)`` coordinates of each feature: the point, or a point inside the polygon."""
    import shapely  # noqa: PLC0415

    geom = gdf.geometry.values
    pts = shapely.point_on_surface(geom)
    return shapely.get_coordinates(pts).reshape(-1, 2)


def travel_matrix(
    origins: gpd.GeoDataFrame,
    destinations: gpd.GeoDataFrame,
    *,
    origin_id: str,
    dest_id: str,
    network: object | None = None,
    mode: str = "walk",
    cutoff_s: float | None = None,
    detour_factor: float = DEFAULT_DETOUR_FACTOR,
    walk_speed_kmh: float = WALK_SPEED_KMH,
) -> TravelMatrix:
    """Travel matrix between two layers in the same metric CRS.

    With a road ``network`` travel is along roads; without one, along the
    straight line × ``detour_factor`` at the mode's speed.

    Parameters
    ----------
    origins, destinations
        Layers in a projected metric CRS.
    origin_id, dest_id
        Id columns.
    network
        Road network from :func:`geo.network.build_network`, or ``None``.
    mode
        ``walk``, ``bike``, ``drive`` or ``bus``.
    cutoff_s
        Pairs slower than this are unreachable (left out).
    detour_factor, walk_speed_kmh
        Straight-line settings.
    """
    if network is not None:
        raise NotImplementedError("road-network travel times land with the road-network issue")
    speeds = {**STRAIGHT_LINE_SPEED_KMH, "walk": walk_speed_kmh}
    if mode not in speeds:
        msg = f"unknown mode {mode!r}; expected one of {sorted(speeds)}"
        raise ValueError(msg)
    return straight_line_matrix(
        origins[origin_id].astype(str).to_numpy(),
        representative_xy(origins),
        destinations[dest_id].astype(str).to_numpy(),
        representative_xy(destinations),
        speed_kmh=speeds[mode],
        detour_factor=detour_factor,
        cutoff_s=cutoff_s,
        mode=f"{mode} (straight line × {detour_factor:g})",
    )
