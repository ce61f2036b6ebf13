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


def _events(monkeypatch: pytest.MonkeyPatch, units: float) -> list[str]:
    """The anytime phase's steps in order, given ``units`` of work: ``knapsack``, ``regret <seed>``, ``window``, ``proof``
    (a window inside a regret window is not listed apart)."""
    from planning.zones import anytime

    events: list[str] = []
    depth = [0]

    def logged(name: str, label: object) -> None:
        real = getattr(anytime, name)

        def step(*args: object, **kwargs: object) -> object:
            if depth[0] == 0:
                events.append(label(args) if callable(label) else str(label))
            depth[0] += 1
            try:
                return real(*args, **kwargs)
            finally:
                depth[0] -= 1

        monkeypatch.setattr(anytime, name, step)

    logged("_knapsack_bound", "knapsack")
    logged("_try_regret", lambda args: f"regret {args[4]}")
    logged("_try_window", "window")
    logged("_prove", "proof")
    _run(units, monkeypatch)
    return [e for i, e in enumerate(events) if e != "knapsack" or "knapsack" not in events[:i]]


def test_the_windows_come_before_the_knapsack_bound_when_the_gap_is_large(monkeypatch: pytest.MonkeyPatch) -> None:
    from planning.zones import anytime

    monkeypatch.setattr(anytime, "REGRET_SWEEPS", 0)
    monkeypatch.setattr(anytime, "KNAPSACK_FIRST_GAP", 1.0)  # every gap small: the bound first
    assert _events(monkeypatch, 1.2)[0] == "knapsack"
    monkeypatch.setattr(anytime, "KNAPSACK_FIRST_GAP", 0.0)  # every gap large: windows, the bound at the proof's turn
    events = _events(monkeypatch, 1.2)
    assert events[0] != "knapsack" and "knapsack" not in events  # the proof's turn (PROOF_AFTER) is beyond 1.2 units
    monkeypatch.setattr(anytime, "PROOF_AFTER", 0.5)
    events = _events(monkeypatch, 2.0)
    at = events.index("knapsack")
    assert at > 0 and events[at + 1] == "proof" and set(events[:at]) <= {"window"} | {e for e in events if "regret" in e}


def test_regret_windows_sweep_every_seed_first_when_the_gap_is_large(monkeypatch: pytest.MonkeyPatch) -> None:
    from planning.zones import anytime

    monkeypatch.setattr(anytime, "KNAPSACK_FIRST_GAP", 1.0)
    monkeypatch.setattr(anytime, "REGRET_FIRST_GAP", 0.0)  # every gap large: one sweep of regret windows first
    events = [e for e in _events(monkeypatch, 2.0) if e != "knapsack"]
    seeds = 8  # schools of the instance of _run
    assert all(e.startswith("regret") for e in events[:seeds])
    assert len(set(events[:seeds])) == seeds  # each seed once
    assert "window" in events[seeds:]  # then the compact windows
    monkeypatch.setattr(anytime, "REGRET_FIRST_GAP", 1.0)  # every gap small: each seed's regret window, then its compact one
    events = [e for e in _events(monkeypatch, 2.0) if e != "knapsack"]
    assert "window" in events[:seeds]


def test_a_proof_that_would_end_past_its_point_is_skipped_and_the_windows_go_on(monkeypatch: pytest.MonkeyPatch) -> None:
    from planning.zones import anytime

    monkeypatch.setattr(anytime, "PROOF_AFTER", 0.5)
    monkeypatch.setattr(anytime, "PROOF_END", 0.5)  # any proof would end later
    plan = _run(2.0, monkeypatch)
    assert plan.details["proof_status"] == "" and int(plan.details["proof_pairs"]) > 0  # its turn came; it did not run
    assert float(plan.details["work_units"]) > 1.5  # the windows spent the rest
    monkeypatch.setattr(anytime, "PROOF_END", 100.0)
    assert _run(2.0, monkeypatch).details["proof_status"] in ("OPTIMAL", "FEASIBLE")  # the same proof, allowed, runs


def test_a_window_solved_from_the_same_plan_is_not_solved_again(monkeypatch: pytest.MonkeyPatch) -> None:
    import itertools

    import numpy as np

    from planning.zones import anytime
    from planning.zones.instance import prepare
    from planning.zones.repair import Repair, WorkBudget
    from tests.planning.zones.test_anytime import TOY_DEMAND, TOY_SEATS, TOY_TIME, matrix

    p = prepare(matrix(TOY_TIME), TOY_DEMAND, TOY_SEATS, reach=NO_CAP, current=None, stability_weight_s=0)
    fits = [np.array(a) for a in itertools.product(range(3), repeat=7) if (anytime.students_at(p, np.array(a)) <= p.capacity).all()]
    best = min(fits, key=lambda a: anytime.plan_cost(p, a, None))  # the optimum (5,400): no window improves it
    solves: list[int] = []
    real = anytime.solve_sub
    monkeypatch.setattr(anytime, "solve_sub", lambda *a, **k: solves.append(1) or real(*a, **k))
    r = Repair(p, None, {}, None, None, 0, WorkBudget(10.0))
    st = anytime._State(best.copy(), anytime.plan_cost(p, best, None), 0.0)
    every = np.arange(7)
    assert not anytime._try_window(r, st, every, np.arange(3), None, 0.2)
    assert not anytime._try_window(r, st, every, np.arange(3), None, 0.2)
    assert len(solves) == 1 and st.windows == 1  # the second is the same model from the same plan: not solved
    assert not anytime._try_window(r, st, every[:5], np.arange(3), None, 0.2)
    assert len(solves) == 2  # other blocks: another model
    st.cost += 1  # as if another plan had been kept since
    anytime._try_window(r, st, every, np.arange(3), None, 0.2)
    assert len(solves) == 3


def test_the_regret_sweep_stops_once_it_no_longer_pays(monkeypatch: pytest.MonkeyPatch) -> None:
    from planning.zones import anytime

    monkeypatch.setattr(anytime, "REGRET_SPAN", 1.0)
    monkeypatch.setattr(anytime, "REGRET_MIN_YIELD", 3.0)
    # 10 schools, bound 500: over 1 unit from cost 1,000 to 880 it bought 120 >= 3 x 1.0 x 380 / 10 = 114
    assert anytime._sweep_pays([(0.0, 1000), (0.5, 900), (1.0, 880)], 500.0, 10)
    # 0.2 units more for 10: 130 over the 1.2 units since its start < 3 x 1.2 x 370 / 10 = 133.2
    assert not anytime._sweep_pays([(0.0, 1000), (0.5, 900), (1.0, 880), (1.2, 870)], 500.0, 10)
    assert anytime._sweep_pays([(0.0, 1000), (0.5, 1000)], 500.0, 10)  # not yet REGRET_SPAN spent: it goes on
    # on the instance of _run: a sweep that must buy more than it can stops after REGRET_SPAN; the compact windows follow
    monkeypatch.setattr(anytime, "KNAPSACK_FIRST_GAP", 1.0)
    monkeypatch.setattr(anytime, "REGRET_FIRST_GAP", 0.0)
    monkeypatch.setattr(anytime, "REGRET_SPAN", 0.01)
    monkeypatch.setattr(anytime, "REGRET_MIN_YIELD", 1e9)
    monkeypatch.setattr(anytime, "WINDOW_SCHOOLS", 3)  # small windows: most seeds' worst block belongs outside theirs
    events = [e for e in _events(monkeypatch, 2.0) if e != "knapsack"]
    seeds = 8  # schools of the instance of _run
    assert events[0].startswith("regret") and "window" in events[:seeds]


def test_windows_are_smaller_in_the_first_units(monkeypatch: pytest.MonkeyPatch) -> None:
    from planning.zones import anytime

    sizes: list[int] = []
    real = anytime._window
    monkeypatch.setattr(anytime, "_window", lambda comp, seed, size: sizes.append(size) or real(comp, seed, size))
    monkeypatch.setattr(anytime, "KNAPSACK_FIRST_GAP", 1.0)
    _run(2.0, monkeypatch)
    assert sizes and sizes[0] == anytime.WINDOW_FIRST_SCHOOLS < anytime.WINDOW_SCHOOLS  # 2 units: all below WINDOW_FIRST_UNITS
    sizes.clear()
    monkeypatch.setattr(anytime, "WINDOW_FIRST_UNITS", 0.0)  # as if past them: the usual size from the start
    _run(2.0, monkeypatch)
    assert sizes[0] == anytime.WINDOW_SCHOOLS and min(sizes) >= anytime.WINDOW_SCHOOLS
