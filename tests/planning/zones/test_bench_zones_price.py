"""The benchmark's lower bound of the best contiguous plan (separator cuts), on a path of five blocks."""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType

import numpy as np
import pytest
import scipy.sparse as sp

from geo.travel import TravelMatrix
from planning.zones import BlockGraph

# Blocks 0-1-2-3-4 on a path, one student each; school A stands in block 0 (2 seats), B in block 4 (3 seats).
# Travel A: 0 10 1 10 10, B: 10 1 10 1 0. Without contiguity A takes {0, 2} and B {1, 3, 4}: 1 + 2 = 3, and B's
# block 1 is cut off. Whole zones split the path once; A holds at most 2 blocks and B at most 3, so A = {0, 1},
# B = {2, 3, 4}: 10 + 10 + 1 + 0 = 21.
TIME_A = [0, 10, 1, 10, 10]
TIME_B = [10, 1, 10, 1, 0]
CONTIGUOUS_OPTIMUM = 21.0


@pytest.fixture
def bench(load_benchmark: Callable[[str], ModuleType]) -> ModuleType:
    return load_benchmark("bench_zones_contiguity")


def path_case(mod: ModuleType, seats: tuple[int, int] = (2, 3)):
    n = 5
    origin = np.repeat(np.arange(n), 2).astype(np.int32)
    dest = np.tile([0, 1], n).astype(np.int32)
    time_s = np.array([t for pair in zip(TIME_A, TIME_B, strict=True) for t in pair], np.int32)
    tm = TravelMatrix(origin_ids=np.array([f"b{i}" for i in range(n)]), dest_ids=np.array(["A", "B"]), origin=origin,
                      dest=dest, time_s=time_s, dist_m=time_s, mode="straight")
    edges = np.array([[0, 1], [1, 2], [2, 3], [3, 4]])
    adj = sp.coo_array((np.ones(8), (np.r_[edges[:, 0], edges[:, 1]], np.r_[edges[:, 1], edges[:, 0]])), shape=(n, n))
    case = mod.suite.Case("path", tm, np.ones(n, np.int64), np.array(seats, np.int64))
    return case, BlockGraph(sp.csr_array(adj), np.array([0, 4], np.int64))


def test_the_bound_is_the_contiguous_optimum_not_the_plain_one(bench: ModuleType) -> None:
    case, graph = path_case(bench)
    got = bench.price_bound(case, graph, None, 30.0)
    assert got["bound"] == CONTIGUOUS_OPTIMUM and got["objective"] == CONTIGUOUS_OPTIMUM
    assert got["plan"].tolist() == [0, 0, 1, 1, 1] and got["status"] == "proven"


def test_from_a_whole_plan_the_fixed_pairs_give_the_same_bound(bench: ModuleType) -> None:
    case, graph = path_case(bench)
    got = bench.price_bound(case, graph, np.array([0, 0, 1, 1, 1]), 30.0)
    assert got["bound"] == CONTIGUOUS_OPTIMUM and got["upper"] == CONTIGUOUS_OPTIMUM


def test_the_separator_is_the_minimal_one(bench: ModuleType) -> None:
    # B's block 1 alone: it borders 0 and 2, but only 2 lies on a path to B's own block 4
    case, graph = path_case(bench)
    pm, _ = bench._price_model(case, graph, None)
    assert bench._separator(pm, 1, {1}) == [2]


def test_no_whole_plan_within_the_seats(bench: ModuleType) -> None:
    # A 1 seat, B 4: only A = {0}, B = {1, 2, 3, 4} fits, 0 + 1 + 10 + 1 + 0; A 1 seat, B 3: 4 seats for 5 students
    case, graph = path_case(bench, (1, 4))
    assert bench.price_bound(case, graph, None, 30.0)["bound"] == 12
    case, graph = path_case(bench, (1, 3))
    assert bench.price_bound(case, graph, None, 30.0)["status"].startswith("infeasible")


def test_each_block_alone_needs_a_neighbour_of_its_zone(bench: ModuleType) -> None:
    # B's blocks 0-2 (3 is beside B's own block 4): 0 needs 1, 1 needs 2 (0 is a dead end), 2 needs 1 or 3 (1 is
    # no dead end: 0 lies beyond it); A's the mirror
    case, graph = path_case(bench)
    pm, _ = bench._price_model(case, graph, None)
    got = {(int(pm.origin[i]), int(pm.dest[i])): sorted(int(pm.origin[k]) for k in sep) for i, sep in bench._block_cuts(pm)}
    assert got == {(2, 1): [1, 3], (1, 1): [2], (0, 1): [1], (2, 0): [1, 3], (3, 0): [2], (4, 0): [3]}


def test_the_cache_keeps_the_price_runs_and_their_bound(bench: ModuleType) -> None:
    price = {"bound": 21.0, "objective": 21.0, "plan": np.array([0, 0, 1, 1, 1]), "status": "proven"}
    entry = bench.merge_price(None, price, 3.0)
    assert (entry["objective"], entry["bound"], entry["proven"], entry["plan"]) == (21.0, 21.0, True, "0,0,1,1,1")
    # a later CP-SAT run (--prove-contiguous) with a weaker bound keeps both
    later = bench.merge_contiguous(entry, {"objective": 22.0, "bound": 5.0, "plan": [0, 1, 1, 1, 1]}, 3.0)
    assert later["bound"] == 21.0 and later["objective"] == 21.0 and later["price"] == entry["price"]
