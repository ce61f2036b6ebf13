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


def _grid(seats: list[int], points: list[tuple[float, float]]) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame, TravelMatrix]:
    """6 × 4 grid of 300 m blocks, 15 pupils each (360 in all); schools at the points given."""
    cells = [(c, r) for r in range(4) for c in range(6)]
    blocks = gpd.GeoDataFrame(
        {"block_id": [f"k{c}{r}" for c, r in cells], "students_junior": [15] * 24},
        geometry=[shapely.box(c * 300, r * 300, (c + 1) * 300, (r + 1) * 300) for c, r in cells], crs=CRS,
    )
    schools = gpd.GeoDataFrame(
        {"school_id": [f"j{k}" for k in range(len(seats))], "name": ["中"] * len(seats), "capacity_junior": seats},
        geometry=[shapely.Point(*xy) for xy in points], crs=CRS,
    )
    centre = blocks.geometry.centroid
    travel = straight_line_matrix(
        blocks["block_id"].to_numpy(), np.c_[centre.x, centre.y], schools["school_id"].to_numpy(), np.asarray(points, float)
    )
    return blocks, schools, travel


def _zones(blocks: gpd.GeoDataFrame, schools: gpd.GeoDataFrame, travel: TravelMatrix) -> object:
    adj = block_adjacency(blocks)
    return from_frames(
        blocks, schools, travel, level="junior", cells=adj.cells, adjacency=adj.matrix, options=ZoneOptions()
    ).plan


def test_issue14_case2_colocated_schools_zoned_as_one_site() -> None:
    # Three schools on one point are interchangeable: zoned as one site (seats added) and the
    # site's zone split, with no search among their equal plans (it took seconds of CP-SAT
    # windows and could leave zones in pieces). The travel is that of one school of 390 seats.
    plan = _zones(*_grid([130, 130, 130], [(450, 450)] * 3))
    one = _zones(*_grid([390], [(450, 450)]))
    assert plan.details["sites"] == 1  # type: ignore[attr-defined]
    assert plan.details["contiguity_rounds"] == 0  # type: ignore[attr-defined]
    assert plan.contiguous is True and not plan.enclaves  # type: ignore[attr-defined]
    assert plan.travel_total_s == one.travel_total_s  # type: ignore[attr-defined]
    assert plan.status == "OPTIMAL"  # type: ignore[attr-defined]
    load = plan.school_load  # type: ignore[attr-defined]
    assert load["students"].tolist() == [120, 120, 120] and plan.overflow.empty  # type: ignore[attr-defined]
    # each school's part touches the site's block (k11) or holds it
    a = plan.assignment.set_index("block_id")["school_id"]  # type: ignore[attr-defined]
    ring = {"k11", "k01", "k21", "k10", "k12", "k00", "k02", "k20", "k22"}
    assert {a[b] for b in ring} == {"j0", "j1", "j2"}
    # the same plan again
    again = _zones(*_grid([130, 130, 130], [(450, 450)] * 3))
    assert again.assignment.equals(plan.assignment)  # type: ignore[attr-defined]


def test_colocated_schools_with_other_boarding_or_travel_are_not_one_site() -> None:
    from planning.zones.sites import find_sites

    blocks, _, travel = _grid([130, 130, 130], [(450, 450)] * 3)
    graph = BlockGraph(block_adjacency(blocks).matrix, np.array([7, 7, 7], np.int64))
    sites = find_sites(travel, Reach(), graph)
    assert sites is not None and [m.tolist() for m in sites.members] == [[0, 1, 2]]
    # a boarding school on the same point is not interchangeable with day schools
    boards = Reach(boarding_reach_s=7200, school_boards=np.array([False, True, False]))
    sites = find_sites(travel, boards, graph)
    assert sites is not None and [m.tolist() for m in sites.members] == [[0, 2], [1]]
    # one block's travel differs (another snap to the roads): not twins
    odd = TravelMatrix(
        origin_ids=travel.origin_ids, dest_ids=travel.dest_ids, origin=travel.origin, dest=travel.dest,
        time_s=np.where(travel.dest == 2, travel.time_s + 1, travel.time_s).astype(np.int32), dist_m=travel.dist_m,
        mode=travel.mode,
    )
    sites = find_sites(odd, Reach(), graph)
    assert sites is not None and [m.tolist() for m in sites.members] == [[0, 1], [2]]
    # schools on other blocks: no site at all
    assert find_sites(travel, Reach(), BlockGraph(graph.adjacency, np.array([7, 8, 9], np.int64))) is None
