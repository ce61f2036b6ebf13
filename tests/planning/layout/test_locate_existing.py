"""``locate``'s ``existing`` and ``max_open`` together: an existing site is free to keep and saves its ``open_cost`` when
closed, and ``max_open`` counts every open site, existing or new (the plain problem less Σ existing costs)."""

from __future__ import annotations

import numpy as np
import pytest

from planning.layout import locate
from tests.planning.layout.test_locate import assert_valid, mip_optimum, random_instance


def test_max_open_counts_existing_sites_hand_solved() -> None:
    # both sites exist: kept, each unit at its own (0); with max_open = 1 one closes, saving 1, its unit travels 10: 9
    cost = [[0, 10], [10, 0]]
    assert locate(cost, [1, 1], [2, 2], [1, 1], existing=[True, True]).objective == 0.0
    r = locate(cost, [1, 1], [2, 2], [1, 1], existing=[True, True], max_open=1)
    assert r.open.sum() == 1 and r.objective == 9.0
    # an existing site and a new one, max_open = 1: keeping site 0 costs 10 for unit 1; switching to site 1 costs 10 for
    # unit 0, 4 to open and saves 1 by closing site 0 (13): site 0 stays
    r = locate(cost, [1, 1], [2, 2], [1, 4], existing=[True, False], max_open=1)
    assert r.open.tolist() == [True, False] and r.objective == 10.0


@pytest.mark.parametrize(("n", "m", "seed", "p"), [(25, 6, 22, 2), (20, 6, 23, 2)])
def test_existing_and_max_open_match_the_mip_optimum(n: int, m: int, seed: int, p: int) -> None:
    cost, demand, cap, f = random_instance(n, m, seed, ratio=3.0)  # room for fewer sites: the cap binds
    existing = np.arange(m) % 2 == 0
    r = locate(cost, demand, cap, f, existing=existing, max_open=p, time_limit_s=5.0)
    assert_valid(r, cost, demand, cap, f, existing)
    assert r.open.sum() <= p
    # the plain problem (every open site pays) less the existing sites' costs
    assert r.objective == pytest.approx(mip_optimum(cost, demand, cap, f, max_open=p) - f[existing].sum())
    # and the cap binds: without it the optimum opens more sites and costs less
    free = locate(cost, demand, cap, f, existing=existing, time_limit_s=5.0)
    assert free.open.sum() > p and free.objective < r.objective
