"""Shared test settings.

Hypothesis runs derandomized by default, so CI sees the same examples every
run and a failure reproduces; ``HYPOTHESIS_PROFILE=thorough`` draws random
examples (500 where a test does not set its own ``max_examples``) to hunt for bugs.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from hypothesis import settings

from geo.errors import Shortfall
from maps.shortfalls import ZH, render

settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True)
settings.register_profile("thorough", max_examples=500, deadline=None, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture(scope="session")
def load_benchmark() -> Callable[[str], ModuleType]:
    """Load a script of ``benchmarks/`` (not a package) as a module, once per session.

    The module is registered in :data:`sys.modules` under its file name, so dataclasses and
    pickling inside it see their own module, and a benchmark importing a sibling (as
    ``bench_zones_suite`` imports ``zones_proof``) finds it on the benchmarks' path.
    """
    if str(BENCHMARKS) not in sys.path:
        sys.path.insert(0, str(BENCHMARKS))

    def load(name: str) -> ModuleType:
        if name in sys.modules:
            return sys.modules[name]
        spec = importlib.util.spec_from_file_location(name, BENCHMARKS / f"{name}.py")
        assert spec is not None and spec.loader is not None
        mod = importlib.util.module_from_spec(spec)
        sys.modules[name] = mod
        spec.loader.exec_module(mod)
        return mod

    return load


@pytest.fixture(autouse=True)
def _shortfalls_worded_in_chinese(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every shortfall a test makes a stage build is worded in Chinese from its kind and figures.

    The report (:mod:`maps.shortfalls`) fills the kind's template with the figures the stage gives; a
    figure the template names and the stage does not give, or a kind the catalogue lacks, fails the
    test that built it, so the stages' own tests check the catalogue against the code.
    """
    made: list[Shortfall] = []
    init = Shortfall.__init__

    def record(self: Shortfall, *args: Any, **kwargs: Any) -> None:
        init(self, *args, **kwargs)
        made.append(self)

    monkeypatch.setattr(Shortfall, "__init__", record)
    yield
    for s in made:
        if not s.kind or s.kind.startswith("test."):  # a test's own kind, made up to check the fallback
            continue
        assert s.kind in ZH, f"shortfall kind {s.kind!r} has no Chinese in maps.shortfalls.ZH"
        words = " ".join(render(s, "zh"))
        assert not set("{}⟦⟧") & set(words), f"{s.kind}: template left unfilled: {words}"
