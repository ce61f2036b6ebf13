"""Which blocks border which: the graph catchment zones must stay connected in.

Polygon blocks are neighbours when they share a stretch of border (a single
touching corner is not enough). Point blocks get the polygons they stand for —
their Voronoi cells clipped to the county boundary — and are neighbours when
those clipped cells share a border, which is the Delaunay neighbourhood minus
the links that cross outside the county (across a bay, a concave border).

The result is a symmetric ``scipy.sparse.csr_array`` of shape ``(n, n)``, in
the row order of the input, plus the polygon of each block (the block itself or
its clipped cell) for drawing zones.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import scipy.sparse as sp
import shapely
from numpy.typing import NDArray
from scipy.spatial import Delaunay, QhullError, cKDTree

logger = logging.getLogger(__name__)

#: Two cells must share at least this much border (m) to count as neighbours:
#: guards against floating-point slivers where cells meet at a corner.
MIN_SHARED_BORDER_M = 1e-6


@dataclass(frozen=True)
class Adjacency:
    """Block neighbourhood graph and the polygon each block stands for.

    Attributes
    ----------
    matrix
        Symmetric boolean ``(n, n)`` CSR array; ``matrix[i, j]`` when blocks
        ``i`` and ``j`` share a border. Row order is the input order.
    cells
        ``(n,)`` object array of polygons: the block polygon, or the Voronoi
        cell of a point block clipped to the boundary.
    method
        ``"shared border"`` or ``"clipped voronoi"``.
    """

    matrix: sp.csr_array
    cells: NDArray[np.object_]
    method: str

    def neighbours(self, i: int) -> NDArray[np.int32]:
        """Indices of the blocks bordering block ``i``."""
        return self.matrix.indices[self.matrix.indptr[i] : self.matrix.indptr[i + 1]]


def _symmetric(n: int, a: NDArray[np.int64], b: NDArray[np.int64]) -> sp.csr_array:
    keep = a != b
    a, b = a[keep], b[keep]
    rows = np.concatenate([a, b])
    cols = np.concatenate([b, a])
    m = sp.coo_array((np.ones(len(rows), dtype=bool), (rows, cols)), shape=(n, n)).tocsr()
    m.sum_duplicates()
    m.data[:] = True
    m.sort_indices()
    return m


def polygon_adjacency(
    polygons: NDArray[np.object_], *, min_shared_m: float = MIN_SHARED_BORDER_M
) -> sp.csr_array:
    """Neighbours among polygons: pairs sharing more than ``min_shared_m`` of border.

    Candidate pairs come from an ``STRtree`` query; the shared length is the
    length of the (vectorized) intersection, so corner touches are dropped and
    overlapping polygons count as neighbours.

    Parameters
    ----------
    polygons
        Polygons or multipolygons in a metric CRS.
    min_shared_m
        Shortest shared border that makes two polygons neighbours.

    Returns
    -------
    scipy.sparse.csr_array
        Symmetric boolean adjacency in input order.
    """
    geoms = np.asarray(polygons, dtype=object)
    n = len(geoms)
    if n < 2:
        return sp.csr_array((n, n), dtype=bool)
    tree = shapely.STRtree(geoms)
    left, right = tree.query(geoms, predicate="intersects")
    keep = left < right
    left, right = left[keep], right[keep]
    if len(left):
        shared = shapely.length(shapely.intersection(geoms[left], geoms[right]))
        ok = shared > min_shared_m
        left, right = left[ok], right[ok]
    return _symmetric(n, left.astype(np.int64), right.astype(np.int64))


def _clip_region(xy: NDArray[np.float64], boundary: shapely.Geometry | None, pad_m: float) -> shapely.Geometry:
    points = shapely.points(xy)
    if boundary is None or boundary.is_empty:
        return shapely.buffer(shapely.convex_hull(shapely.multipoints(xy)), pad_m)
    outside = ~shapely.covers(boundary, points)
    if outside.any():
        logger.debug("%d block points lie outside the boundary; padding the clip region", int(outside.sum()))
        return shapely.union_all([boundary, *shapely.buffer(points[outside], pad_m)])
    return boundary


def voronoi_cells(
    xy: NDArray[np.float64], *, boundary: shapely.Geometry | None = None, pad_m: float | None = None
) -> NDArray[np.object_]:
    """Voronoi cell of each point, clipped to ``boundary``.

    Points at the same location share one cell.

    Parameters
    ----------
    xy
        ``(n, 2)`` coordinates in metres.
    boundary
        County outline; ``None`` clips to the convex hull buffered by ``pad_m``.
    pad_m
        Padding around the hull (and around points outside the boundary);
        defaults to the median nearest-neighbour distance (500 m with < 2 points).

    Returns
    -------
    numpy.ndarray
        ``(n,)`` object array of polygons in input order.
    """
    xy = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
    n = len(xy)
    if n == 0:
        return np.empty(0, dtype=object)
    uniq, inverse = np.unique(xy, axis=0, return_inverse=True)
    inverse = inverse.reshape(-1)
    if pad_m is None:
        pad_m = 500.0
        if len(uniq) >= 2:
            d, _ = cKDTree(uniq).query(uniq, k=2)
            pad_m = float(max(np.median(d[:, 1]), 1.0))
    region = _clip_region(uniq, boundary, pad_m)
    if len(uniq) == 1:
        cells = np.array([region], dtype=object)
    else:
        parts = shapely.get_parts(
            shapely.voronoi_polygons(shapely.multipoints(uniq), extend_to=region, ordered=True)
        )
        cells = shapely.intersection(parts, region)
    return cells[inverse]


def _delaunay_edges(xy: NDArray[np.float64]) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    n = len(xy)
    if n < 2:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    try:
        if n < 3:
            raise QhullError("too few points")
        indptr, indices = Delaunay(xy).vertex_neighbor_vertices
        a = np.repeat(np.arange(n), np.diff(indptr))
        return a.astype(np.int64), indices.astype(np.int64)
    except QhullError:
        # Collinear (or 2) points: neighbours are consecutive along the line.
        centred = xy - xy.mean(axis=0)
        axis = np.linalg.svd(centred, full_matrices=False)[2][0]
        order = np.argsort(centred @ axis, kind="stable")
        return order[:-1].astype(np.int64), order[1:].astype(np.int64)


def point_adjacency(
    xy: NDArray[np.float64], cells: NDArray[np.object_], *, min_shared_m: float = MIN_SHARED_BORDER_M
) -> sp.csr_array:
    """Neighbours among points: Delaunay links whose clipped cells share a border.

    Points at the same location are neighbours of each other and share their
    cell's neighbours.

    Parameters
    ----------
    xy
        ``(n, 2)`` coordinates in metres.
    cells
        Clipped Voronoi cells from :func:`voronoi_cells`.
    min_shared_m
        Shortest shared border that makes two cells neighbours.
    """
    xy = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
    n = len(xy)
    if n < 2:
        return sp.csr_array((n, n), dtype=bool)
    uniq, first, inverse = np.unique(xy, axis=0, return_index=True, return_inverse=True)
    inverse = inverse.reshape(-1)
    a, b = _delaunay_edges(uniq)
    keep = a < b
    a, b = a[keep], b[keep]
    if len(a):
        ucells = np.asarray(cells, dtype=object)[first]
        shared = shapely.length(shapely.intersection(ucells[a], ucells[b]))
        ok = shared > min_shared_m
        a, b = a[ok], b[ok]
    # Expand unique-point edges to every original point at those locations.
    members = sp.csr_array((np.ones(n, dtype=bool), (inverse, np.arange(n))), shape=(len(uniq), n))
    uadj = _symmetric(len(uniq), a, b).astype(np.int8)
    same = sp.eye_array(len(uniq), dtype=np.int8, format="csr")
    full = (members.T.astype(np.int8) @ (uadj + same) @ members.astype(np.int8)).tocoo()
    return _symmetric(n, full.row.astype(np.int64), full.col.astype(np.int64))


def block_adjacency(blocks: gpd.GeoDataFrame, *, boundary: gpd.GeoDataFrame | None = None) -> Adjacency:
    """Adjacency of blocks, polygons by shared border, points by clipped Voronoi cells.

    Parameters
    ----------
    blocks
        Blocks in a metric CRS, all polygons or all points (a mix is treated as
        points at a point inside each polygon, with a warning).
    boundary
        County (and township) polygons used to clip point cells; ``None`` clips
        to the padded convex hull of the points.

    Returns
    -------
    Adjacency
    """
    geoms = blocks.geometry.to_numpy()
    kinds = shapely.get_type_id(geoms)
    polygonal = np.isin(kinds, (3, 6))  # Polygon, MultiPolygon
    if len(geoms) and polygonal.all():
        return Adjacency(polygon_adjacency(geoms), np.asarray(geoms, dtype=object), "shared border")
    if polygonal.any():
        warnings.warn(
            "blocks mix points and polygons; using a point inside each polygon and Voronoi cells",
            stacklevel=2,
        )
    xy = shapely.get_coordinates(shapely.point_on_surface(geoms)).reshape(-1, 2)
    clip = None
    if boundary is not None and len(boundary):
        clip = shapely.union_all(boundary.geometry.to_numpy())
    cells = voronoi_cells(xy, boundary=clip)
    return Adjacency(point_adjacency(xy, cells), cells, "clipped voronoi")
