"""Issue 14, zones on degenerate inputs: every unit out of reach (case 1), schools on one point (case 2)."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pyproj
import pytest
import scipy.sparse as sp
import shapely

from geo.adjacency import block_adjacency
from geo.travel import TravelMatrix, straight_line_matrix
from planning.zones import BlockGraph, Reach, ZoneOptions, from_arrays, from_frames, nearest_from_arrays

CRS = pyproj.CRS.from_epsg(32649)
DAY_S = 1800


def _one_pair(time_s: int) -> TravelMatrix:
    """One block, one school, ``time_s`` apart."""
    one = np.zeros(1, np.int32)
    return TravelMatrix(
        origin_ids=np.array(["B1"]), dest_ids=np.array(["S1"]), origin=one, dest=one,
        time_s=np.array([time_s], np.int32), dist_m=np.array([time_s], np.int32), mode="test",
    )


def _no_pairs() -> TravelMatrix:
    """One block, one school, no pair (the travel cutoff dropped it)."""
    none = np.zeros(0, np.int32)
    return TravelMatrix(
        origin_ids=np.array(["B1"]), dest_ids=np.array(["S1"]), origin=none, dest=none, time_s=none, dist_m=none,
        mode="test",
    )


def _assert_all_unserved(plan: object) -> None:
    a = plan.assignment  # type: ignore[attr-defined]
    assert a["block_id"].tolist() == ["B1"]
    assert a["school_id"].tolist() == [""]
    assert a["travel_s"].isna().all() and a["travel_m"].isna().all()
    assert a["reason"].iloc[0] == "no school within 30 min: needs boarding or a school bus"
    assert plan.unserved.to_dict("records") == [  # type: ignore[attr-defined]
        {"block_id": "B1", "students": 120, "reason": "no school within 30 min: needs boarding or a school bus"}
    ]
    load = plan.school_load  # type: ignore[attr-defined]
    assert load["students"].tolist() == [0] and load["capacity_seats"].tolist() == [900]
    assert plan.overflow.empty  # type: ignore[attr-defined]
    assert plan.travel_total_s == 0  # type: ignore[attr-defined]


@pytest.mark.parametrize("travel", [_one_pair(3 * DAY_S), _no_pairs()], ids=["beyond-cap", "no-pair"])
@pytest.mark.parametrize("method", ["optimal", "nearest"])
@pytest.mark.parametrize("contiguity", [True, False])
def test_issue14_case1_every_unit_out_of_reach_arrays(travel: TravelMatrix, method: str, contiguity: bool) -> None:
    graph = BlockGraph(sp.csr_array((1, 1), dtype=bool), np.array([0], np.int64))
    options = ZoneOptions(method=method, contiguity=contiguity)  # type: ignore[arg-type]
    plan = from_arrays(travel, [120], [900], reach=Reach(max_travel_s=DAY_S), graph=graph, options=options)
    _assert_all_unserved(plan)
    assert plan.method == method
    _assert_all_unserved(nearest_from_arrays(travel, [120], [900], reach=Reach(max_travel_s=DAY_S)))


@pytest.mark.parametrize("method", ["optimal", "nearest"])
@pytest.mark.parametrize("contiguity", [True, False])
def test_issue14_case1_one_block_53_km_away_frames(method: str, contiguity: bool) -> None:
    # the issue's input: one school, one block 53 km away (beyond any travel cutoff)
    blocks = gpd.GeoDataFrame(
        {"block_id": ["B1"], "students_primary": [120]}, geometry=[shapely.Point(53_000, 0)], crs=CRS
    )
    schools = gpd.GeoDataFrame(
        {"school_id": ["S1"], "name": ["一小"], "capacity_primary": [900]}, geometry=[shapely.Point(0, 0)], crs=CRS
    )
    travel = straight_line_matrix(
        np.array(["B1"]), np.array([[53_000.0, 0.0]]), np.array(["S1"]), np.array([[0.0, 0.0]]), cutoff_s=2 * DAY_S
    )
    assert travel.origin.size == 0  # the cutoff leaves no pair at all
    adj = block_adjacency(blocks)
    lz = from_frames(
        blocks, schools, travel, level="primary", cells=adj.cells, adjacency=adj.matrix,
        options=ZoneOptions(method=method, contiguity=contiguity),  # type: ignore[arg-type]
    )
    _assert_all_unserved(lz.plan)
    assert lz.zones.empty  # no school has a zone
    assert lz.metrics["plan"]["unserved_blocks"] == 1  # type: ignore[index]
    assert lz.metrics["plan"]["travel"]["mean_travel_s"] is None  # type: ignore[index]


def _row(demand: list[int], seats: list[int]) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame, TravelMatrix]:
    """Square blocks in a row, 500 m wide; every school on the first block's centre."""
    n, m = len(demand), len(seats)
    blocks = gpd.GeoDataFrame(
        {"block_id": [f"b{i}" for i in range(n)], "students_junior": demand},
        geometry=[shapely.box(i * 500, 0, (i + 1) * 500, 500) for i in range(n)], crs=CRS,
    )
    schools = gpd.GeoDataFrame(
        {"school_id": [f"j{k}" for k in range(m)], "name": [f"{k}中" for k in range(m)], "capacity_junior": seats},
        geometry=[shapely.Point(250, 250)] * m, crs=CRS,
    )
    centre = blocks.geometry.centroid
    travel = straight_line_matrix(
        blocks["block_id"].to_numpy(), np.c_[centre.x, centre.y], schools["school_id"].to_numpy(), np.full((m, 2), 250.0)
    )
    return blocks, schools, travel


@pytest.mark.parametrize(
    ("demand", "seats"),
    [([20, 20, 20], [50, 50, 50]), ([40], [30, 30, 30]), ([40, 20], [50, 50, 50]), ([40, 40, 40], [30, 30, 30])],
)
def test_issue14_case2_schools_on_one_point_rounding(demand: list[int], seats: list[int]) -> None:
    # three junior schools at one coordinate: a school over its seats whose zone borders no other
    # zone gave the chains no move at all (IndexError in rounding._arc_table)
    blocks, schools, travel = _row(demand, seats)
    adj = block_adjacency(blocks)
    lz = from_frames(blocks, schools, travel, level="junior", cells=adj.cells, adjacency=adj.matrix, options=ZoneOptions())
    plan = lz.plan
    assert (plan.assignment["school_id"] != "").all()
    assert plan.school_load["students"].sum() == sum(demand)
    if sum(demand) <= sum(seats) and max(demand) <= max(seats) and len(demand) > 1:
        assert plan.overflow.empty
    assert plan.bound_s <= plan.objective_s
