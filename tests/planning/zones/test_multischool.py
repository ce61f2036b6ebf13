"""Multi-school zones: candidate enumeration and a hand-solved grouping."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from planning.zones.multischool import connected_groups, multischool_core, strong_schools


def path_adjacency(n: int) -> np.ndarray:
    a = np.zeros((n, n), bool)
    for i in range(n - 1):
        a[i, i + 1] = a[i + 1, i] = True
    return a


def test_connected_groups_of_a_path() -> None:
    groups = connected_groups(path_adjacency(4), 3)
    assert groups == [(0,), (0, 1), (0, 1, 2), (1,), (1, 2), (1, 2, 3), (2,), (2, 3), (3,)]


def test_strong_schools_spread_over_pairs() -> None:
    # Path A-B-C-D, strong A and D, equal seats. Pairs (A,B),(C,D) each hold a strong school.
    # Zone travel T[j,k] = 100 own, 200 to a neighbour, 300 two apart, 400 three apart (per zone).
    T = np.array([[100, 200, 300, 400], [200, 100, 200, 300], [300, 200, 100, 200], [400, 300, 200, 100]], float)
    groups, objective, bound, extra, status = multischool_core(
        np.array(list("ABCD")), np.array([10] * 4), np.array([10] * 4), np.array([True, False, False, True]),
        T, path_adjacency(4),
    )
    # each pair: 2 zones × (½·100 + ½·200) − 2·100 = 100 extra; two pairs = 200
    assert sorted(groups) == [(0, 1), (2, 3)]
    assert extra == pytest.approx(200)
    assert status == "OPTIMAL" and objective == bound


def test_strength_falls_back_to_quality_score() -> None:
    schools = pd.DataFrame({"school_id": list("abc"), "quality_score": [50.0, 90.0, 70.0], "capacity_primary": [1, 1, 1]})
    strong, source = strong_schools(schools, None)
    assert strong.tolist() == [False, True, False]
    assert "quality_score" in source or "strength index" in source
