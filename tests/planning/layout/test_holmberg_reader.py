"""The benchmark's reader of Holmberg et al.'s plain-text format, on a hand-written sample file."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from planning.layout import locate

BENCH = Path(__file__).resolve().parents[3] / "benchmarks"


@pytest.fixture
def bench(load_benchmark: Callable[[str], ModuleType]) -> ModuleType:
    return load_benchmark("bench_layout")


def test_reads_the_sample_site_major(bench: ModuleType) -> None:
    inst = bench.read_holmberg(BENCH / "instances" / "holmberg_sample.txt")
    assert inst.capacity.tolist() == [5, 5, 10] and inst.open_cost.tolist() == [1, 1, 10]
    assert inst.demand.tolist() == [3, 3, 2, 2]
    # one row per site in the file; customers × sites in memory
    assert inst.cost.tolist() == [[0, 9, 5], [1, 9, 5], [9, 0, 5], [9, 1, 5]]
    # the toy solved by hand in test_locate: optimum 18
    assert locate(inst.cost, inst.demand, inst.capacity, inst.open_cost).objective == 18.0


def test_write_then_read_round_trips(tmp_path: Path, bench: ModuleType) -> None:
    b = bench
    inst = b.generate(5, 12, 2.0, 3)
    b.write_holmberg(inst, tmp_path / "x.txt")
    back = b.read_holmberg(tmp_path / "x.txt")
    for a, c in ((inst.cost, back.cost), (inst.demand, back.demand), (inst.capacity, back.capacity), (inst.open_cost, back.open_cost)):
        np.testing.assert_array_equal(a, c)


def test_a_short_file_is_refused(tmp_path: Path, bench: ModuleType) -> None:
    (tmp_path / "bad.txt").write_text("2 2\n1 1\n1 1\n1 1\n1 2 3\n", encoding="utf-8")
    with pytest.raises(ValueError, match="expected 12 numbers for 2 sites × 2 customers, found 11"):
        bench.read_holmberg(tmp_path / "bad.txt")
