"""Chinese coordinate systems (GCJ-02, BD-09), declared CRS names and the metric CRS."""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import pyproj
import pytest
from fast_geocn import coord as fast_coord
from shapely.geometry import LineString, Point, Polygon

from geo.crs import (
    bd09_to_gcj02,
    bd09_to_wgs84,
    gcj02_to_bd09,
    gcj02_to_wgs84,
    implausible_coordinates,
    metric_crs_for,
    out_of_china,
    parse_crs,
    points_to_wgs84,
    to_wgs84,
    utm_crs_for,
    wgs84_to_bd09,
    wgs84_to_gcj02,
)
from geo.errors import InputError

# Reference values published with wandergis/coordtransform (README and test/app.js),
# the implementation most Chinese GIS code copies; the same numbers appear in
# hutool's CoordinateUtilTest and coordtransform-rs. Input point: 116.404, 39.915.
REF_POINT = (116.404, 39.915)
REF_WGS84_TO_GCJ02 = (116.41024449916938, 39.91640428150164)
REF_GCJ02_TO_BD09 = (116.41036949371029, 39.92133699351021)
REF_BD09_TO_GCJ02 = (116.39762729119315, 39.90865673957631)
#: coordtransform's gcj02_to_wgs84 is the one-step approximation g − offset(g);
#: our iterated inverse must lie within a metre of it (its error is ~0.5-1 m).
REF_GCJ02_TO_WGS84_ONE_STEP = (116.39775550083061, 39.91359571849836)


def metres(lon1: np.ndarray, lat1: np.ndarray, lon2: np.ndarray, lat2: np.ndarray) -> np.ndarray:
    """Great-circle distance in metres (haversine, R = 6371008.8 m)."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dp, dl = p2 - p1, np.radians(np.asarray(lon2) - np.asarray(lon1))
    a = np.sin(dp / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return 2 * 6371008.8 * np.arcsin(np.sqrt(a))


def test_forward_transforms_match_published_reference_values() -> None:
    assert wgs84_to_gcj02(*REF_POINT) == pytest.approx(REF_WGS84_TO_GCJ02, abs=1e-12)
    assert gcj02_to_bd09(*REF_POINT) == pytest.approx(REF_GCJ02_TO_BD09, abs=1e-12)
    assert bd09_to_gcj02(*REF_POINT) == pytest.approx(REF_BD09_TO_GCJ02, abs=2e-6)  # published inverse is approximate


def test_gcj02_inverse_is_within_a_metre_of_the_published_one_step_inverse() -> None:
    lon, lat = gcj02_to_wgs84(*REF_POINT)
    assert metres(lon, lat, *REF_GCJ02_TO_WGS84_ONE_STEP) < 1.0
    # and it is the exact inverse: forward of it gives the GCJ-02 point back
    back = wgs84_to_gcj02(lon, lat)
    assert back == pytest.approx(REF_POINT, abs=1e-9)


def test_gcj02_agrees_with_fast_geocn_independent_implementation() -> None:
    rng = np.random.default_rng(3)
    lon = rng.uniform(75, 134, 50)
    lat = rng.uniform(19, 53, 50)
    gx, gy = wgs84_to_gcj02(lon, lat)
    for i in range(50):
        ex, ey = fast_coord.wgs84_to_gcj02(float(lon[i]), float(lat[i]))
        assert (gx[i], gy[i]) == pytest.approx((ex, ey), abs=1e-12)


def test_roundtrips_over_a_grid_across_china_are_below_half_a_millimetre() -> None:
    lon, lat = np.meshgrid(np.linspace(73.5, 134.9, 60), np.linspace(18.2, 53.5, 40))
    lon, lat = lon.ravel(), lat.ravel()
    gx, gy = wgs84_to_gcj02(lon, lat)
    assert metres(lon, lat, gx, gy).min() > 1.0  # the shift is real everywhere in China
    wx, wy = gcj02_to_wgs84(gx, gy)
    assert metres(lon, lat, wx, wy).max() < 5e-4
    bx, by = wgs84_to_bd09(lon, lat)
    wx, wy = bd09_to_wgs84(bx, by)
    assert metres(lon, lat, wx, wy).max() < 5e-4
    cx, cy = bd09_to_gcj02(*gcj02_to_bd09(gx, gy))
    assert metres(gx, gy, cx, cy).max() < 5e-4


def test_shift_in_beijing_is_the_known_few_hundred_metres() -> None:
    # GCJ-02 is known to shift Beijing by roughly 500-700 m (mostly eastwards)
    lon, lat = wgs84_to_gcj02(116.397128, 39.916527)
    assert 400 < metres(116.397128, 39.916527, lon, lat) < 800
    assert lon > 116.397128


@pytest.mark.parametrize(("lon", "lat"), [(2.3522, 48.8566), (-74.006, 40.7128), (139.69, 35.69), (151.2, -33.87)])
def test_outside_china_the_gcj02_transform_is_the_identity(lon: float, lat: float) -> None:
    assert bool(out_of_china(lon, lat))
    assert wgs84_to_gcj02(lon, lat) == (lon, lat)
    assert gcj02_to_wgs84(lon, lat) == (lon, lat)


def test_vectorised_calls_keep_shape_and_pass_nan_through() -> None:
    lon = np.array([[116.4, np.nan], [2.35, 110.0]])
    lat = np.array([[39.9, 30.0], [48.85, np.nan]])
    gx, gy = wgs84_to_gcj02(lon, lat)
    assert gx.shape == (2, 2)
    assert np.isnan(gx[0, 1]) and np.isnan(gy[1, 1])
    assert gx[1, 0] == 2.35
    wx, _ = gcj02_to_wgs84(gx, gy)
    assert wx[0, 0] == pytest.approx(116.4, abs=1e-9)
    assert isinstance(wgs84_to_gcj02(116.4, 39.9)[0], float)


@pytest.mark.parametrize(
    ("name", "expected"),
    [("wgs84", 4326), ("WGS-84", 4326), ("cgcs2000", 4490), ("EPSG:4547", 4547), ("4326", 4326), (" Cgcs2000 ", 4490)],
)
def test_parse_crs_names(name: str, expected: int) -> None:
    crs = parse_crs(name)
    assert isinstance(crs, pyproj.CRS)
    assert crs.to_epsg() == expected


@pytest.mark.parametrize(("name", "expected"), [("gcj02", "gcj02"), ("GCJ-02", "gcj02"), ("amap", "gcj02"), ("BD09", "bd09"), ("baidu", "bd09")])
def test_parse_crs_shifted_systems(name: str, expected: str) -> None:
    assert parse_crs(name) == expected


def test_parse_crs_unknown_lists_valid_names() -> None:
    with pytest.raises(InputError, match=r"unknown coordinate system 'mars'.*wgs84, cgcs2000.*gcj02.*bd09"):
        parse_crs("mars")


def test_to_wgs84_converts_every_vertex_of_gcj02_geometries() -> None:
    wgs = [(110.2, 37.1), (110.25, 37.15), (110.3, 37.1)]
    gcj = [wgs84_to_gcj02(x, y) for x, y in wgs]
    gdf = gpd.GeoDataFrame(
        {"k": [1, 2, 3]},
        geometry=[Point(gcj[0]), LineString(gcj), Polygon(gcj)],
        crs=4326,
    )
    out = to_wgs84(gdf, "gcj02")
    assert out.crs.to_epsg() == 4326
    assert out.geometry.iloc[0].coords[0] == pytest.approx(wgs[0], abs=1e-9)
    assert np.allclose(np.asarray(out.geometry.iloc[1].coords), wgs, atol=1e-9)
    assert np.allclose(np.asarray(out.geometry.iloc[2].exterior.coords)[:3], wgs, atol=1e-9)
    # the input is not modified
    assert gdf.geometry.iloc[0].coords[0] == pytest.approx(gcj[0])


def test_to_wgs84_bd09_and_projected_declarations() -> None:
    bd = wgs84_to_bd09(110.2, 37.1)
    out = to_wgs84(gpd.GeoDataFrame(geometry=[Point(bd)]), "bd09")
    assert out.geometry.iloc[0].coords[0] == pytest.approx((110.2, 37.1), abs=1e-9)
    utm = pyproj.Transformer.from_crs(4326, 32649, always_xy=True).transform(110.2, 37.1)
    out = to_wgs84(gpd.GeoDataFrame(geometry=[Point(utm)]), "EPSG:32649")
    assert out.geometry.iloc[0].coords[0] == pytest.approx((110.2, 37.1), abs=1e-9)


def test_to_wgs84_refuses_gcj02_for_projected_layer() -> None:
    gdf = gpd.GeoDataFrame(geometry=[Point(400000, 4100000)], crs=32649)
    with pytest.raises(InputError, match="declared gcj02 but the layer is stored in the projected CRS"):
        to_wgs84(gdf, "gcj02")


def test_points_to_wgs84_for_each_kind_of_declaration() -> None:
    gx, gy = wgs84_to_gcj02(np.array([110.2]), np.array([37.1]))
    lon, lat = points_to_wgs84(gx, gy, "gcj02")
    assert (lon[0], lat[0]) == pytest.approx((110.2, 37.1), abs=1e-9)
    lon, lat = points_to_wgs84(np.array([110.2]), np.array([37.1]), "cgcs2000")
    assert (lon[0], lat[0]) == pytest.approx((110.2, 37.1), abs=1e-6)


def test_metric_crs_for_picks_the_local_utm_zone() -> None:
    # Qingjian county (Yulin, Shaanxi) lies near 110.1°E 37.1°N: UTM zone 49N
    gdf = gpd.GeoDataFrame(geometry=[Point(109.9, 36.9), Point(110.5, 37.3)], crs=4326)
    assert metric_crs_for(gdf).to_epsg() == 32649
    assert metric_crs_for(gdf.to_crs(3857)).to_epsg() == 32649
    assert utm_crs_for(116.4, 39.9).to_epsg() == 32650
    assert utm_crs_for(151.2, -33.9).to_epsg() == 32756


def test_metric_crs_for_without_crs_or_geometry() -> None:
    with pytest.raises(InputError, match="without a CRS"):
        metric_crs_for(gpd.GeoDataFrame(geometry=[Point(110, 37)]))
    with pytest.raises(InputError, match="no geometry"):
        metric_crs_for(gpd.GeoDataFrame(geometry=[None], crs=4326))


def test_metric_distances_are_metres_not_degrees() -> None:
    a, b = (110.0, 37.0), (110.0, 37.01)  # 0.01° of latitude ≈ 1110 m
    gdf = gpd.GeoDataFrame(geometry=[Point(a), Point(b)], crs=4326)
    m = gdf.to_crs(metric_crs_for(gdf))
    d = m.geometry.iloc[0].distance(m.geometry.iloc[1])
    _, _, geodesic = pyproj.Geod(ellps="WGS84").inv(a[0], a[1], b[0], b[1])
    assert d == pytest.approx(geodesic, rel=1e-3)  # UTM scale error near the zone centre is < 0.1%
    assert math.isclose(d, 1110, rel_tol=0.01)


# --- issue 14: CRSs that make the data implausible for China ----------------------------------------


def test_issue14_case14_earth_centred_and_vertical_crs_are_refused() -> None:
    with pytest.raises(InputError, match=r"EPSG:4978 \(WGS 84\) is an earth-centred \(geocentric X, Y, Z\) coordinate system"):
        parse_crs("EPSG:4978")
    with pytest.raises(InputError, match=r"EPSG:5773 \(EGM96 height\) is a vertical coordinate system, not one of map coordinates"):
        parse_crs("5773")
    assert parse_crs("EPSG:4326+5773").is_geographic  # a compound CRS with lon/lat is fine


def test_issue14_case14_degrees_read_as_metres_and_the_reverse() -> None:
    lon, lat = np.array([108.1, 110.5, 109.0]), np.array([36.8, 37.6, 37.0])
    msg = implausible_coordinates(lon, lat, pyproj.CRS.from_epsg(3857))
    assert msg is not None and msg.startswith(
        "x between 108.1 and 110.5, y between 36.8 and 37.6 look like longitude/latitude degrees, "
        "but EPSG:3857 (WGS 84 / Pseudo-Mercator) is in metres"
    )
    assert implausible_coordinates(lon, lat, pyproj.CRS.from_epsg(4326)) is None
    assert implausible_coordinates(lon, lat, "gcj02") is None
    x, y = np.array([448662.1, 466458.0]), np.array([4115253.0, 4138532.4])
    assert implausible_coordinates(x, y, pyproj.CRS.from_epsg(32649)) is None
    for crs, name in ((pyproj.CRS.from_epsg(4490), "EPSG:4490"), ("bd09", "BD-09")):
        msg = implausible_coordinates(x, y, crs)
        assert msg is not None and "x between 448662 and 466458, y between 4115253 and 4138532 look like metres" in msg and name in msg
    assert "earth-centred" in (implausible_coordinates(x, y, pyproj.CRS.from_epsg(4978)) or "")


def test_implausible_coordinates_needs_most_points_in_the_wrong_unit() -> None:
    wgs84 = pyproj.CRS.from_epsg(4326)
    # one row of three in metres is a bad row (validation reports it), not a wrong CRS
    assert implausible_coordinates([110.1, 110.2, 448662.0], [37.1, 37.2, 4115253.0], wgs84) is None
    assert implausible_coordinates([110.1, 448662.0], [37.1, 4115253.0], wgs84) is not None  # half: refused
    assert implausible_coordinates([np.nan], [np.nan], wgs84) is None  # nothing to judge
    assert implausible_coordinates([], [], pyproj.CRS.from_epsg(3857)) is None
