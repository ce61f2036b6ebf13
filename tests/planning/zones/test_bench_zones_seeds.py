"""Generator seeds in bench_zones_contiguity.py: ``family:NxM:slack[:seed]`` and each seed's reference."""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType

import pytest


@pytest.fixture
def bench(load_benchmark: Callable[[str], ModuleType]) -> ModuleType:
    return load_benchmark("bench_zones_contiguity")


def test_an_instance_names_its_seed_or_takes_seed_1(bench: ModuleType) -> None:
    assert bench.parse_spec("town:1000x40:1.01") == ("town", 1000, 40, 1.01, 1)
    assert bench.parse_spec("twotowns:3000x80:1.06:3") == ("twotowns", 3000, 80, 1.06, 3)
    with pytest.raises(ValueError, match="family:NxM:slack"):
        bench.parse_spec("town:1000x40:1.01:2:5")


def test_seed_1_takes_the_suites_reference_and_other_seeds_their_own(bench: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    # a cached reference is read, never recomputed: HiGHS would fail the test if called
    monkeypatch.setattr(bench.suite, "highs_optimum", lambda *a, **k: pytest.fail("HiGHS run for a cached reference"))
    case1, case2 = bench.suite.generate("uniform", 30, 3, 1.1), bench.suite.generate("uniform", 30, 3, 1.1, 2)
    cache, seeds = {case1.name: {"bound": 1.0}}, {case2.name: {"bound": 2.0}, case1.name: {"bound": 3.0}}
    assert bench.reference(case1, 1, cache, seeds) == {"bound": 1.0}
    assert bench.reference(case2, 2, cache, seeds) == {"bound": 2.0}
