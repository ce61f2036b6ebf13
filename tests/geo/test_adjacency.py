"""Block adjacency: shared borders for polygons, clipped Voronoi neighbours for points."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely

from geo.adjacency import block_adjacency, point_adjacency, polygon_adjacency, voronoi_cells

GRID = np.array([shapely.box(x, y, x + 1, y + 1) for y in range(3) for x in range(3)], dtype=object)


def test_polygons_share_borders_not_corners() -> None:
    m = polygon_adjacency(GRID).toarray()
    assert (m == m.T).all()
    assert m[4].sum() == 4  # centre: rook neighbours only
    assert not m[0, 4]  # diagonal corner touch is not a border
    assert m[0, 1] and m[0, 3]


def test_point_grid_neighbours_are_rook() -> None:
    xy = np.array([[x, y] for y in range(3) for x in range(3)], float)
    cells = voronoi_cells(xy)
    assert all(c.contains(shapely.Point(p)) for c, p in zip(cells, xy, strict=True))
    m = point_adjacency(xy, cells).toarray()
    assert m.sum(axis=1).tolist() == [2, 3, 2, 3, 4, 3, 2, 3, 2]


def test_cells_clipped_to_boundary_drop_links_across_a_gap() -> None:
    # Two villages on either side of a bay: the boundary is a U, so their cells do not meet.
    boundary = shapely.Polygon([(0, 0), (30, 0), (30, 10), (20, 10), (20, 2), (10, 2), (10, 10), (0, 10)])
    xy = np.array([[5.0, 8.0], [25.0, 8.0], [15.0, 1.0]])
    cells = voronoi_cells(xy, boundary=boundary)
    assert shapely.union_all(cells).area == pytest.approx(boundary.area)
    m = point_adjacency(xy, cells).toarray()
    assert not m[0, 1]
    assert m[0, 2] and m[1, 2]


def test_duplicate_and_collinear_points() -> None:
    xy = np.array([[0.0, 0.0], [1.0, 0.0], [1.0, 0.0], [2.0, 0.0]])
    m = point_adjacency(xy, voronoi_cells(xy)).toarray()
    assert m[1, 2] and m[0, 1] and m[0, 2] and m[2, 3]
    assert not m[0, 3]


def test_block_adjacency_dispatches_on_geometry() -> None:
    polys = gpd.GeoDataFrame({"block_id": list("abcdefghi")}, geometry=list(GRID), crs=32649)
    adj = block_adjacency(polys)
    assert adj.method == "shared border" and adj.neighbours(4).tolist() == [1, 3, 5, 7]
    pts = gpd.GeoDataFrame({"block_id": ["a", "b"]}, geometry=[shapely.Point(0, 0), shapely.Point(10, 0)], crs=32649)
    adj = block_adjacency(pts)
    assert adj.method == "clipped voronoi" and adj.matrix.toarray()[0, 1]
    mixed = gpd.GeoDataFrame({"block_id": ["a", "b"]}, geometry=[shapely.Point(0, 0), shapely.box(5, 0, 6, 1)], crs=32649)
    with pytest.warns(UserWarning, match="mix points and polygons"):
        block_adjacency(mixed)
