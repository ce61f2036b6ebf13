"""Isochrones: the reached stretch of road, buffered, per school and time."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely

from geo.isochrones import isochrones
from geo.network import build_network

CRS = "EPSG:32649"


def roads(lines, **cols) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(cols, geometry=[shapely.LineString(c) for c in lines], crs=CRS)


def test_walk_isochrone_covers_the_reachable_stretch_only():
    # Straight road; school on it at x = 1000. 5 min at 4.5 km/h = 375 m each way.
    net = build_network(roads([[(0, 0), (1000, 0), (2000, 0)]]))
    iso = isochrones(net, ["s"], np.array([[1000.0, 0.0]]), minutes=[5], mode="walk", buffer_m=20)
    poly = iso.geometry.iloc[0]
    assert iso[["school_id", "minutes", "mode"]].values.tolist() == [["s", 5, "walk"]]
    assert poly.contains(shapely.Point(1370, 0)) and poly.contains(shapely.Point(630, 10))
    assert not poly.contains(shapely.Point(1400, 0)) and not poly.contains(shapely.Point(600, 0))
    # 750 m of road × 40 m band + the round ends ≈ 0.0313 km².
    assert iso["area_km2"].iloc[0] == pytest.approx((750 * 40 + np.pi * 20**2) / 1e6, rel=0.02)


def test_drive_isochrone_follows_one_way_streets():
    # One-way eastbound street; the school at its east end is reached only from the west.
    net = build_network(roads([[(0, 0), (5000, 0)], [(5000, 0), (10000, 0)]], highway=["residential"] * 2, oneway=[True, True]))
    iso = isochrones(net, ["s"], np.array([[5000.0, 0.0]]), minutes=[2], mode="drive", buffer_m=10)
    poly = iso.geometry.iloc[0]  # 2 min at 30 km/h = 1000 m
    assert poly.contains(shapely.Point(4100, 0))
    assert not poly.contains(shapely.Point(5500, 0))


def test_times_are_sorted_and_nested_and_empty_when_too_far():
    net = build_network(roads([[(0, 0), (3000, 0)]]))
    iso = isochrones(net, ["b", "a"], np.array([[1500, 0], [1500, 900]]), minutes=[15, 5], mode="walk")
    assert iso[["school_id", "minutes"]].values.tolist() == [["a", 5], ["a", 15], ["b", 5], ["b", 15]]
    assert iso.geometry.iloc[0].is_empty  # 900 m off the road: more than 5 minutes' walk
    assert iso.geometry.iloc[3].contains(iso.geometry.iloc[2])
    with pytest.raises(ValueError, match="must be positive"):
        isochrones(net, ["a"], np.array([[0, 0]]), minutes=[0])
