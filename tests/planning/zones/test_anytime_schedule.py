"""The anytime phase's schedule: fixed steps in a fixed order, so a longer limit is never worse."""

from __future__ import annotations

import pytest

from planning.zones import Reach, SolveLimits, ZoneOptions, ZonePlan, from_arrays
from tests.planning.zones.test_anytime import _random_instance

NO_CAP = Reach(max_travel_s=None)


def _run(units: float, monkeypatch: pytest.MonkeyPatch) -> ZonePlan:
    """A plan given ``units`` of work, the clock lifted (a 10-minute limit) and no gap tolerance to stop it."""
    from planning.zones import options as options_module

    monkeypatch.setattr(options_module, "WORK_PER_SECOND", units / 600)
    tm, demand, seats = _random_instance(1, n=160, m=8, slack=1.01)
    return from_arrays(
        tm, demand, seats, reach=NO_CAP, options=ZoneOptions(gap_tolerance=0.0), limits=SolveLimits(time_limit_s=600, seed=0)
    )


def test_a_larger_budget_is_never_worse(monkeypatch: pytest.MonkeyPatch) -> None:
    plans = [_run(units, monkeypatch) for units in (0.7, 1.2, 2.0)]
    assert all(p.wall_stops == 0 for p in plans)  # the budget, not the clock, stopped every run
    objectives = [p.objective_s for p in plans]
    assert objectives == sorted(objectives, reverse=True)
    assert objectives[-1] < objectives[0]  # and where the gap is open, more work finds a better plan
    assert [p.bound_s for p in plans] == sorted(p.bound_s for p in plans)
    # the smaller budget's run is a prefix of the larger's: the same steps, then more
    windows = [int(p.details["windows"]) for p in plans]
    assert windows == sorted(windows)
    assert all(float(p.details["work_units"]) <= units for p, units in zip(plans, (0.7, 1.2, 2.0), strict=True))
