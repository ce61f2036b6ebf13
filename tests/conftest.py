"""Shared test settings.

Hypothesis runs derandomized by default, so CI sees the same examples every
run and a failure reproduces; ``HYPOTHESIS_PROFILE=thorough`` draws random
examples (500 where a test does not set its own ``max_examples``) to hunt for bugs.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import settings

from geo.errors import Shortfall
from maps.shortfalls import ZH, render

settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True)
settings.register_profile("thorough", max_examples=500, deadline=None, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


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
