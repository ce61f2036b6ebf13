"""How the layout's CP-SAT work is split between the unhinted and the hinted search (:func:`planning.layout.model._search`):
a quarter unhinted, the rest hinted with the warm start; when the quarter finds no plan, the unhinted search runs again on
up to half the work until its first plan cheaper than the warm start, and the hinted search gets what is left."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from ortools.sat.python import cp_model

from planning.layout import model
from planning.limits import SolveLimits

WARM = (np.array([True]), np.zeros((1, 2), dtype=np.int64), np.zeros((1, 3), dtype=np.int64))


class _Fake:
    """A solve's outcome as :func:`planning.layout.model._search` reads it."""

    def __init__(self, objective: float, bound: float, work: float) -> None:
        self.objective_value, self.best_objective_bound, self.deterministic_time = objective, bound, work


def _run(monkeypatch, outcomes, warm_total=1e9):  # type: ignore[no-untyped-def]
    """``_search`` on a 2-second budget with faked solves; the calls made (solve share, stop limit; hint)."""
    calls: list[tuple] = []
    it = iter(outcomes)

    def solve(v, limits, share=1.0, stop=None):  # type: ignore[no-untyped-def]
        calls.append(("solve", round(share, 6), None if stop is None else stop.limit))
        return next(it)

    monkeypatch.setattr(model, "_solve", solve)
    monkeypatch.setattr(model, "_hint", lambda v, warm, prob: calls.append(("hint",)))
    got = model._search(None, SolveLimits(time_limit_s=2.0), None, (WARM, warm_total))  # type: ignore[arg-type]
    return got, calls


def test_a_quarter_unhinted_then_the_rest_hinted_and_the_cheaper_kept(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    (solves, bound), calls = _run(monkeypatch, [(_Fake(100.0, 70.0, 0.5), "FEASIBLE"), (_Fake(90.0, 80.0, 1.5), "FEASIBLE")])
    assert calls == [("solve", model.UNHINTED_SHARE, None), ("hint",), ("solve", 1.0 - model.UNHINTED_SHARE, None)]
    assert [(s.objective_value, st) for s, st in solves] == [(90.0, "FEASIBLE"), (100.0, "FEASIBLE")] and bound == 80.0


def test_the_unhinted_plan_wins_a_tie(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    (solves, bound), _ = _run(monkeypatch, [(_Fake(90.0, 70.0, 0.5), "FEASIBLE"), (_Fake(90.0, 60.0, 1.5), "FEASIBLE")])
    assert [s.deterministic_time for s, _ in solves] == [0.5, 1.5] and bound == 70.0
    # a solve without a plan is left out; with none at all, the last solve alone
    (solves, _), _ = _run(monkeypatch, [(_Fake(95.0, 70.0, 0.5), "FEASIBLE"), (_Fake(math.inf, 60.0, 1.5), "UNKNOWN")])
    assert [s.objective_value for s, _ in solves] == [95.0]
    outcomes = [(_Fake(math.inf, 1.0, 0.5), "UNKNOWN"), (_Fake(math.inf, 2.0, 1.0), "UNKNOWN"), (_Fake(math.inf, 3.0, 0.5), "UNKNOWN")]
    (solves, bound), _ = _run(monkeypatch, outcomes)
    assert [(s.deterministic_time, st) for s, st in solves] == [(0.5, "UNKNOWN")] and bound == 3.0


def test_no_plan_in_the_quarter_gives_the_unhinted_search_a_second_go_and_the_hinted_one_the_rest(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    # the second go stopped at its first plan below the warm start after 0.6 of the 2 s: the hinted search gets
    # 2 − 0.5 (the quarter) − 0.6 = 0.9 s
    outcomes = [(_Fake(math.inf, 50.0, 0.5), "UNKNOWN"), (_Fake(100.0, 70.0, 0.6), "FEASIBLE"), (_Fake(90.0, 80.0, 0.9), "FEASIBLE")]
    (solves, bound), calls = _run(monkeypatch, outcomes, warm_total=2e9)
    assert calls == [("solve", model.UNHINTED_SHARE, None), ("solve", model.UNHINTED_MAX, 2e9 / model.OBJ_UNIT_YUAN), ("hint",),
                     ("solve", 0.45, None)]
    assert [s.objective_value for s, _ in solves] == [90.0, 100.0] and bound == 80.0


def test_no_hinted_search_after_a_proof_and_one_search_without_a_warm_start(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    (solves, _), calls = _run(monkeypatch, [(_Fake(90.0, 90.0, 0.1), "OPTIMAL")])
    assert [st for _, st in solves] == ["OPTIMAL"] and calls == [("solve", model.UNHINTED_SHARE, None)]
    seen: list[float] = []
    monkeypatch.setattr(model, "_solve", lambda v, limits, share=1.0, stop=None: (seen.append(share), (_Fake(95.0, 75.0, 2.0), "FEASIBLE"))[1])
    assert model._search(None, SolveLimits(time_limit_s=2.0), None, None)[1] == 75.0  # type: ignore[arg-type]
    assert seen == [1.0]


def _model() -> cp_model.CpModel:
    """Minimise the sum of 12 integers in 0..9 with pairwise different neighbours: many plans, the first rarely the best."""
    m = cp_model.CpModel()
    xs = [m.new_int_var(0, 9, f"x{i}") for i in range(12)]
    for a, b in itertools.pairwise(xs):
        m.add(a != b)
    m.add(sum(xs) >= 20)
    m.minimize(sum((i % 5 + 1) * x for i, x in enumerate(xs)))
    return m


class _Counting(model._FirstBelow):
    def __init__(self, limit: float) -> None:
        super().__init__(limit)
        self.plans: list[float] = []

    def on_solution_callback(self) -> None:
        self.plans.append(self.objective_value)
        super().on_solution_callback()


@pytest.mark.parametrize("limit", [math.inf, -math.inf])
def test_first_below_stops_at_the_first_plan_under_its_limit(limit: float) -> None:
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = 1
    solver.parameters.max_deterministic_time = 5.0
    stop = _Counting(limit)
    status = solver.solve(_model(), stop)
    if limit == math.inf:  # every plan is below: the search ends at its first
        assert len(stop.plans) == 1 and solver.objective_value == stop.plans[0]
    else:  # none is: the search runs to its proof
        assert status == cp_model.OPTIMAL and solver.objective_value == stop.plans[-1]


def test_left_is_the_budget_less_both_unhinted_goes() -> None:
    assert model._left(0.5, 2.0) == pytest.approx(0.5)
    assert model._left(1.1, 2.0) == pytest.approx(1.0 - model.UNHINTED_SHARE - model.UNHINTED_MAX)


def test_the_cheapest_plan_once_polished_is_kept_the_earlier_on_a_tie(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    # plans are named by their construction cost (CP-SAT's order) and polish into the totals below: the hinted plan (100,
    # polishes into 95) loses to the unhinted one (110, polishes into 80); the warm start (120 -> 80) ties and loses
    polished = {100.0: 95.0, 110.0: 80.0, 120.0: 80.0}
    monkeypatch.setattr(model, "_costs", lambda prob, plan, parts, options: {"construction": plan})
    monkeypatch.setattr(model, "_polish", lambda w, forced, found, parts, options: (found[0], found[1], polished[found[2]]))

    class _W:
        prob = None

    plans = [(100.0, "FEASIBLE"), (110.0, "FEASIBLE"), (120.0, "WARM_START")]
    got = model._cheapest(_W(), None, plans, (), model._DEFAULT)  # type: ignore[arg-type]
    assert (got[0], got[2], got[3]) == (110.0, 80.0, "FEASIBLE")
    # the warm start when it is the cheaper; an optimal plan as it is (not polished)
    assert model._cheapest(_W(), None, [(100.0, "FEASIBLE"), (110.0, "WARM_START")], (), model._DEFAULT)[3] == "WARM_START"  # type: ignore[arg-type]
    assert model._cheapest(_W(), None, [(100.0, "OPTIMAL")], (), model._DEFAULT)[2] == 100.0  # type: ignore[arg-type]
