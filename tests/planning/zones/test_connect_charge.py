"""The work charge of the contiguity pass (planning.zones.connect, repair.WorkBudget): deterministic counts."""

from __future__ import annotations

import numpy as np
import pytest
from ortools.sat.python import cp_model

from planning.zones.connect import WINDOW_CHARGE, Frame, chain_pieces, solve_window
from planning.zones.repair import DEFAULT_CHARGE, WORK_PER_PIECE_ELEMENT, WORK_PER_VARIABLE, ModelCharge, WorkBudget
from tests.planning.zones.test_connect import line


def test_the_default_charge_is_deterministic_time_plus_a_charge_per_variable() -> None:
    # the charge of the windows without contiguity is unchanged: det. time + WORK_PER_VARIABLE per variable
    model = cp_model.CpModel()
    xs = [model.new_bool_var(f"x{i}") for i in range(7)]
    model.add_exactly_one(xs)
    assert DEFAULT_CHARGE.building(model) == pytest.approx(7 * WORK_PER_VARIABLE)
    how = ModelCharge(time_factor=2.0, per_variable=0.0, per_constraint=0.5)
    assert how.building(model) == pytest.approx(0.5)


def test_a_call_gets_the_deterministic_time_its_charge_leaves_in_the_budget() -> None:
    model = cp_model.CpModel()
    model.new_bool_var("x")
    budget = WorkBudget(1.0)
    solver = cp_model.CpSolver()
    budget.limit_call(solver.parameters, 5.0, model, ModelCharge(time_factor=4.0, per_variable=0.2))
    assert solver.parameters.max_deterministic_time == pytest.approx((1.0 - 0.2) / 4.0)
    budget.limit_call(solver.parameters, 5.0, model)
    assert solver.parameters.max_deterministic_time == pytest.approx(1.0 - WORK_PER_VARIABLE)


def test_pieces_are_charged_per_block_and_edge_once_per_plan() -> None:
    r, g = line([0, 4, 8], 9, [3, 3, 3])
    f = Frame.of(g.adjacency, g.roots, r.p.connector, r.budget)
    school = np.array([0, 0, 1, 1, 1, 0, 2, 2, 2])
    first = f.pieces(school)
    per_call = WORK_PER_PIECE_ELEMENT * (9 + g.adjacency.nnz)
    assert r.budget.spent == pytest.approx(per_call)
    first[0][1][0] = 99  # the caller's copy: the pieces kept are not changed
    assert [(j, pc.tolist()) for j, pc in f.pieces(school)] == [(0, [5])]
    assert r.budget.spent == pytest.approx(per_call)  # the same plan again: no work
    school[5] = 1
    assert f.pieces(school) == []
    assert r.budget.spent == pytest.approx(2 * per_call)


def test_a_window_is_charged_its_deterministic_time_scaled_and_its_model() -> None:
    r, g = line([0, 4, 8], 9, [3, 3, 3])
    f = Frame.of(g.adjacency, g.roots, r.p.connector)
    school = np.array([0, 0, 1, 1, 1, 0, 2, 2, 2])
    detached = np.zeros(9, bool)
    detached[5] = True
    got = solve_window(r, f, school, np.arange(1, 8), detached=detached)
    assert got is not None and got[1] == 0
    assert WINDOW_CHARGE.time_factor > 1 and WINDOW_CHARGE.per_constraint > 0
    # at least the building charge of a model with a tree per zone (a few dozen variables and constraints)
    assert r.budget.spent > 30 * (WINDOW_CHARGE.per_variable + WINDOW_CHARGE.per_constraint)


def test_the_chains_stop_once_the_work_budget_is_spent() -> None:
    # the three-zone chain of test_connect: joined with budget left, untouched once it is spent
    r, g = line([0, 4, 8, 12], 13, [4, 4, 3, 2])
    f = Frame.of(g.adjacency, g.roots, r.p.connector)
    school = np.array([0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 0, 3, 3])
    r.budget.spent = r.budget.limit
    got, joined = chain_pieces(r, f, school)
    assert joined == 0 and got.tolist() == school.tolist()
    r.budget.spent = 0.0
    got, joined = chain_pieces(r, f, school)
    assert joined == 1 and f.pieces(got) == [] and 0 < r.budget.spent < 0.1
