"""Isochrones: the area from which a school is reached within T minutes.

The reach is computed on the road network exactly like the travel matrices
(snapped school, the same mode graph, times *to* the school so one-way streets
count the way children travel). The reached part of every edge, including the
partial stretch at the frontier, is buffered by ``buffer_m`` to stand for the
short walk between a home and its road, and the pieces are merged into one
polygon per school and time.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import geopandas as gpd
import numpy as np
import shapely
import shapely.ops
from numpy.typing import NDArray
from scipy.sparse.csgraph import dijkstra

from geo.network import RoadNetwork
from geo.policy import WALK_SPEED_KMH
from geo.travel import dest_side_graph, open_backwards

logger = logging.getLogger(__name__)

#: Default half-width (m) of the band around reached roads.
DEFAULT_BUFFER_M = 50.0


def isochrones(
    network: RoadNetwork,
    school_ids: Sequence[str],
    school_xy: NDArray[np.float64],
    *,
    minutes: Sequence[int],
    mode: str = "walk",
    walk_speed_kmh: float = WALK_SPEED_KMH,
    buffer_m: float = DEFAULT_BUFFER_M,
) -> gpd.GeoDataFrame:
    """Polygons of the area within each time of each school.

    Parameters
    ----------
    network
        Road network.
    school_ids
        Ids of the schools.
    school_xy
        ``(n, 2)`` school coordinates (m) in the network's CRS.
    minutes
        Travel times (minutes) to draw.
    mode
        Travel mode.
    walk_speed_kmh
        Speed of the school's own off-network leg.
    buffer_m
        Half-width of the band drawn around reached roads.

    Returns
    -------
    geopandas.GeoDataFrame
        ``school_id``, ``minutes``, ``mode``, ``area_km2`` and the polygon;
        sorted by school id then minutes. A school whose off-network leg alone
        exceeds a time gets an empty geometry.
    """
    ids = np.asarray(school_ids, dtype=str)
    xy = np.asarray(school_xy, dtype=np.float64).reshape(-1, 2)
    mins = sorted({int(m) for m in minutes})
    if any(m <= 0 for m in mins):
        msg = f"isochrone minutes must be positive, got {mins}"
        raise ValueError(msg)
    rows: list[tuple[str, int, object]] = []
    if len(ids) == 0 or not mins:
        return _frame(rows, mode, network)
    snap = network.snap(xy, mode=mode)
    gt, _, _ = dest_side_graph(network, mode, snap.edge, snap.frac)
    n = network.n_nodes
    edge_t = network.edge_time_s(mode)
    usable = np.flatnonzero(network.usable(mode))
    back = open_backwards(network, mode)[usable]
    u, v = network.edge_u[usable], network.edge_v[usable]
    te, geoms = edge_t[usable], network.edge_geometry[usable]
    limit = max(mins) * 60.0
    times = dijkstra(gt, directed=True, indices=np.arange(len(ids)) + n, limit=limit)
    for k, sid in enumerate(ids):
        t_node = times[k, :n]
        own_s = snap.offset_m[k] / (walk_speed_kmh / 3.6)
        e_k, f_k = snap.edge[k], snap.frac[k]
        for m in mins:
            budget = m * 60.0 - own_s
            if budget < 0:
                rows.append((sid, m, shapely.Polygon()))
                continue
            # Along u → v a point at x reaches the school via v if (1-x)·t + T(v) ≤ budget,
            # and via u (two-way edges) if x·t + T(u) ≤ budget.
            from_v = np.clip(1 - (budget - t_node[v]) / te, 0, 1)  # reached for x ≥ from_v
            to_u = np.where(back, np.clip((budget - t_node[u]) / te, 0, 1), 0)  # reached for x ≤ to_u
            reach_v = np.isfinite(t_node[v]) & (t_node[v] <= budget)
            reach_u = back & np.isfinite(t_node[u]) & (t_node[u] <= budget)
            pieces = []
            whole = (reach_v & (from_v <= 0)) | (reach_u & (to_u >= 1)) | (reach_u & reach_v & (to_u >= from_v))
            pieces.extend(geoms[whole])
            pieces.extend(shapely.ops.substring(geoms[i], from_v[i], 1, normalized=True) for i in np.flatnonzero(~whole & reach_v))
            pieces.extend(shapely.ops.substring(geoms[i], 0, to_u[i], normalized=True) for i in np.flatnonzero(~whole & reach_u))
            # The school's own edge: reachable directly along it within the budget.
            pos = int(np.searchsorted(usable, e_k))
            reach = budget / edge_t[e_k]
            hi = min(1.0, f_k + reach) if back[pos] else f_k  # points past the school need v → u
            pieces.append(shapely.ops.substring(network.edge_geometry[e_k], max(0.0, f_k - reach), hi, normalized=True))
            pieces.append(shapely.Point(snap.point_xy[k]))
            band = shapely.union_all(shapely.buffer(np.asarray(pieces, dtype=object), buffer_m, quad_segs=4))
            rows.append((sid, m, band))
    return _frame(rows, mode, network)


def _frame(rows: list[tuple[str, int, object]], mode: str, network: RoadNetwork) -> gpd.GeoDataFrame:
    geom = [r[2] for r in rows]
    out = gpd.GeoDataFrame(
        {
            "school_id": [r[0] for r in rows],
            "minutes": np.asarray([r[1] for r in rows], dtype=np.int64),
            "mode": [mode] * len(rows),
        },
        geometry=geom,
        crs=network.crs,
    )
    out["area_km2"] = np.round(shapely.area(np.asarray(geom, dtype=object)) / 1e6, 4) if rows else np.zeros(0)
    return out.sort_values(["school_id", "minutes"], kind="stable").reset_index(drop=True)
