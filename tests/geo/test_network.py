"""Road network building: noding, joining, components, one-way, speeds, snapping."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from geo.errors import InputError
from geo.network import (
    DEFAULT_DETOUR_FACTOR,
    DEFAULT_MAX_SNAP_M,
    NetworkSettings,
    TravelOptions,
    build_network,
    resolve_speed_table,
)
from geo.policy import SCHOOL_BUS_MAX_KMH, WALK_SPEED_KMH

CRS = "EPSG:32649"


def roads(lines: list[list[tuple[float, float]]], **cols: list) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(cols, geometry=[shapely.LineString(c) for c in lines], crs=CRS)


def test_lines_split_at_shared_vertices_into_edges():
    # A cross whose two lines share the vertex (100, 0): 4 edges, 5 nodes.
    net = build_network(roads([[(0, 0), (100, 0), (200, 0)], [(100, -100), (100, 0), (100, 100)]]))
    assert net.n_nodes == 5
    assert net.n_edges == 4
    assert sorted(net.length_m.tolist()) == [100.0, 100.0, 100.0, 100.0]
    centre = int(np.flatnonzero((net.node_xy == [100, 0]).all(axis=1))[0])
    assert np.bincount(np.r_[net.edge_u, net.edge_v])[centre] == 4


def test_crossing_without_shared_vertex_is_a_bridge_and_the_smaller_piece_is_reported():
    # The second line crosses the first at (50, 0) without a vertex there: an overpass.
    net = build_network(roads([[(0, 0), (100, 0), (200, 0)], [(50, -30), (50, 30)]]))
    assert net.n_edges == 1  # (100, 0) is used by one line only: not a node
    assert net.length_m.sum() == pytest.approx(200)
    r = net.report
    assert (r.components, r.components_dropped, r.edges_dropped) == (2, 1, 1)
    assert r.length_dropped_m == pytest.approx(60)
    assert net.summary()["length_dropped_km"] == 0.06


def test_endpoints_within_tolerance_are_joined_and_beyond_are_not():
    lines = [[(0, 0), (100, 0)], [(100.6, 0.3), (100.6, 100)]]
    joined = build_network(roads(lines), join_tolerance_m=1.0)
    assert joined.report.components == 1
    assert joined.report.endpoints_joined == 1
    apart = build_network(roads(lines), join_tolerance_m=0.5)
    assert apart.report.components == 2
    # Undershoot onto another line's interior vertex joins too (T junction).
    t = build_network(roads([[(0, 0), (50, 0), (100, 0)], [(50, 0.8), (50, 80)]]))
    assert t.report.components == 1 and t.n_edges == 3


def test_oneway_is_honoured_for_drive_and_bus_not_walk_or_bike():
    net = build_network(roads([[(0, 0), (300, 0)]], highway=["residential"], oneway=[True]))
    u, v = int(net.edge_u[0]), int(net.edge_v[0])
    assert net.node_xy[u].tolist() == [0, 0]
    for mode in ("drive", "bus"):
        g = net.graphs[mode].time_s
        assert g[u, v] > 0 and g[v, u] == 0
    for mode in ("walk", "bike"):
        g = net.graphs[mode].time_s
        assert g[u, v] > 0 and g[v, u] == g[u, v]
    # 300 m at 4.5 km/h = 240 s; by car at 30 km/h = 36 s.
    assert net.graphs["walk"].time_s[u, v] == pytest.approx(240)
    assert net.graphs["drive"].time_s[u, v] == pytest.approx(36)


def test_speed_table_classes_override_and_bus_cap():
    net = build_network(
        roads(
            [[(0, 0), (1000, 0)], [(1000, 0), (2000, 0)], [(2000, 0), (3000, 0)], [(3000, 0), (4000, 0)]],
            highway=["motorway", "trunk", "国道", None],
            speed_kmh=[np.nan, 100.0, np.nan, 20.0],
        )
    )
    by_x = np.argsort(net.node_xy[net.edge_u, 0])
    walk, drive, bus = (net.speed_kmh[m][by_x] for m in ("walk", "drive", "bus"))
    assert np.isnan(walk[0]) and walk[1:].tolist() == [4.5, 4.5, 4.5]  # no walking on motorways
    assert drive.tolist() == [100.0, 100.0, 80.0, 20.0]  # speed_kmh overrides the trunk's 80
    assert bus.tolist() == [60.0, 60.0, 60.0, 20.0]  # bus ≤ 60 km/h, and ≤ the posted speed
    assert net.highway[by_x].tolist() == ["motorway", "trunk", "trunk", "unclassified"]
    assert all(v <= SCHOOL_BUS_MAX_KMH for row in net.speed_table.values() if row["bus"] for v in [row["bus"]])
    assert net.graphs["walk"].uniform_speed_ms is not None  # one walking speed everywhere
    assert net.graphs["drive"].uniform_speed_ms is None


def test_unknown_and_non_routable_classes_are_counted():
    net = build_network(
        roads([[(0, 0), (100, 0)], [(100, 0), (200, 0)], [(200, 0), (300, 0)]], highway=["residential", "alley", "construction"])
    )
    assert net.report.unknown_classes == {"alley": 1}
    assert net.report.lines_not_routable == 1
    assert net.n_edges == 2


def test_speed_table_overrides_and_bad_modes():
    table = resolve_speed_table({"track": {"drive": 0, "walk": 3.0}, "residential": {"bus": 90}})
    assert table["track"]["drive"] is None and table["track"]["walk"] == 3.0
    assert table["residential"]["bus"] == SCHOOL_BUS_MAX_KMH
    with pytest.raises(InputError, match=r"unknown mode.*'boat'"):
        resolve_speed_table({"track": {"boat": 5}})


def test_snap_to_edge_interior():
    net = build_network(roads([[(0, 0), (400, 0)], [(400, 0), (400, 400)]]))
    snap = net.snap(np.array([[100, 30], [500, 300], [-50, 0]]), mode="walk")
    first = net.edge_geometry[snap.edge[0]]
    assert snap.offset_m.tolist() == pytest.approx([30, 100, 50])
    np.testing.assert_allclose(snap.point_xy, [[100, 0], [400, 300], [0, 0]], atol=1e-9)
    # Fraction measured from the edge's u end.
    u0 = net.node_xy[net.edge_u[snap.edge[0]]]
    assert snap.frac[0] == pytest.approx(np.hypot(*(u0 - [100, 0])) / first.length)


def test_snap_skips_edges_the_mode_cannot_use():
    net = build_network(roads([[(0, 0), (1000, 0)], [(1000, 0), (1000, 1000)]], highway=["motorway", "residential"]))
    walk = net.snap(np.array([[500, 10]]), mode="walk")
    drive = net.snap(np.array([[500, 10]]), mode="drive")
    assert net.highway[walk.edge[0]] == "residential"
    assert net.highway[drive.edge[0]] == "motorway"


def test_frames_for_people():
    net = build_network(roads([[(0, 0), (100, 0), (200, 0)], [(100, 0), (100, 50)]]))
    edges, nodes = net.edges_frame(), net.nodes_frame()
    assert len(edges) == 3 and {"u", "v", "highway", "length_m", "walk_kmh", "drive_kmh"} <= set(edges.columns)
    assert edges.crs == net.crs and len(nodes) == 4
    assert sorted(nodes["degree"].tolist()) == [1, 1, 1, 3]


def test_bad_layers_raise_input_error_listing_every_problem():
    geo = gpd.GeoDataFrame(geometry=[shapely.LineString([(0, 0), (1, 1)]), shapely.Point(0, 0)], crs="EPSG:4326")
    with pytest.raises(InputError, match=r"(?s)projected metric CRS.*row 2.*must be a line, got Point"):
        build_network(geo)
    empty = roads([[(0, 0), (1, 0)]], highway=["proposed"])
    with pytest.raises(InputError, match="no routable road lines"):
        build_network(empty)


def test_settings_feed_both_calls():
    s = NetworkSettings(walk_speed_kmh=4.0, speed_table={"track": {"bus": 20}}, max_snap_m=500)
    assert s.network_kwargs() == {"walk_speed_kmh": 4.0, "speed_table": {"track": {"bus": 20}}, "join_tolerance_m": 1.0}
    assert isinstance(s, TravelOptions)  # the settings are the options of travel_matrix
    assert s.max_snap_m == 500 and s.walk_speed_kmh == 4.0
    assert s.mode_for("junior") == "walk"
    with pytest.raises(ValueError, match="between 0 and 200"):
        NetworkSettings(speed_table={"track": {"bus": -1}})
    with pytest.raises(ValueError, match="between 1 and 180"):
        NetworkSettings(isochrone_minutes=[0])


def test_travel_options_defaults_and_bounds():
    opts = TravelOptions()
    assert (opts.detour_factor, opts.walk_speed_kmh, opts.max_snap_m, opts.workers) == (
        DEFAULT_DETOUR_FACTOR, WALK_SPEED_KMH, DEFAULT_MAX_SNAP_M, 1
    )
    # A scenario's [network] table inherits the travel defaults; its runs search in two processes.
    s = NetworkSettings()
    assert (s.detour_factor, s.walk_speed_kmh, s.max_snap_m, s.workers) == (DEFAULT_DETOUR_FACTOR, WALK_SPEED_KMH, DEFAULT_MAX_SNAP_M, 2)
    for bad in ({"detour_factor": 0.9}, {"walk_speed_kmh": 0}, {"max_snap_m": 0}, {"workers": 0}):
        with pytest.raises(ValueError, match=next(iter(bad))):
            TravelOptions(**bad)
    with pytest.raises(ValueError, match="Extra inputs are not permitted"):
        TravelOptions(mode_primary="walk")
    with pytest.raises(ValueError, match="frozen"):
        opts.workers = 2  # type: ignore[misc]  # assigning to a frozen model is what is tested


segment = st.tuples(st.integers(0, 6), st.integers(0, 6), st.integers(0, 6), st.integers(0, 6)).filter(
    lambda s: (s[0], s[1]) != (s[2], s[3])
)


@settings(max_examples=40, deadline=None)
@given(st.lists(segment, min_size=1, max_size=12))
def test_length_is_conserved_whatever_the_lines(segs):
    """Every input metre ends up in a kept edge or in the dropped total; edges match their geometry."""
    layer = roads([[(a * 100, b * 100), (c * 100, d * 100)] for a, b, c, d in segs])
    net = build_network(layer, join_tolerance_m=0)
    total = layer.length.sum()
    assert net.length_m.sum() + net.report.length_dropped_m == pytest.approx(total)
    assert shapely.length(net.edge_geometry) == pytest.approx(net.length_m)
    starts = shapely.get_coordinates(shapely.get_point(net.edge_geometry, 0))
    assert starts == pytest.approx(net.node_xy[net.edge_u])
    assert net.report.components >= 1
