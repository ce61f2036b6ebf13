"""The zones stage's console line says which zone stays in pieces and why (issue 16)."""

from __future__ import annotations

import dataclasses
from types import SimpleNamespace
from typing import Any, cast

import numpy as np
import scipy.sparse as sp

from geo.travel import TravelMatrix
from planning.app.stages.zones import _pieces_note
from planning.zones import BlockGraph, Reach, from_arrays


def _enclave_plan() -> Any:
    # b0 (s0's own) - b1 - b2 (s1's own) - b3: b3 borders only s1's zone, but s1 is beyond the
    # 30-minute limit, so b3 goes to s0, apart from s0's zone
    t = np.array([[60, 900], [300, 300], [900, 60], [900, 3000]])
    tm = TravelMatrix(
        origin_ids=np.array([f"b{i}" for i in range(4)]),
        dest_ids=np.array(["s0", "s1"]),
        origin=np.repeat(np.arange(4), 2).astype(np.int32),
        dest=np.tile(np.arange(2), 4).astype(np.int32),
        time_s=t.ravel().astype(np.int32),
        dist_m=t.ravel().astype(np.int32),
        mode="walk",
    )
    i = np.arange(3)
    a = sp.coo_array((np.ones(3), (i, i + 1)), shape=(4, 4))
    graph = BlockGraph(sp.csr_array(a + a.T), np.array([0, 2]))
    return from_arrays(tm, [5, 5, 5, 5], [20, 20], reach=Reach(max_travel_s=1800), graph=graph)


def test_the_console_names_the_detached_zone_and_why() -> None:
    plan = _enclave_plan()
    note = _pieces_note(cast(Any, SimpleNamespace(plan=plan)))
    assert note.startswith("; 1 detached zone piece: 1 block of school s0's zone")
    assert "(s1) are beyond its travel limit, only school s0 can take it" in note
    assert note.endswith("another school's own block), so no plan of whole zones exists")


def test_the_console_says_when_the_clock_stopped_the_search() -> None:
    plan = dataclasses.replace(_enclave_plan(), enclaves=(), enclave_reasons=(), wall_stops=2)
    note = _pieces_note(cast(Any, SimpleNamespace(plan=plan)))
    assert note == "; the time limit stopped the search before its work budget (a faster machine may give a better plan)"
