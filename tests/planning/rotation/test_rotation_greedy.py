"""The greedy start of the rotation model: a plan that keeps every rule of the model, by hand and on generated counties."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from planning.rotation import RotationOptions, SolveLimits, balance_change, from_frames, rotation_eligibility
from planning.rotation.build import BuiltProblem, build_problem
from planning.rotation.greedy import greedy_flow
from planning.rotation.guard import cv_after
from planning.rotation.model import build_rotation_model, solve_mip
from tests.planning.rotation.test_rotation import staff, travel
from tests.planning.rotation.test_rotation_never_worse import generated_county, schools_of


def built(schools: pd.DataFrame, teachers: pd.DataFrame, tm: object, options: RotationOptions) -> BuiltProblem:
    b = build_problem(schools, teachers, rotation_eligibility(teachers, rules=options), school_travel=tm,  # type: ignore[arg-type]
                      home_travel=None, strength=None, groups=None, staffing_targets=None, options=options)
    return replace(b, prob=replace(b.prob, relax_quotas=True))


def accepted_by_the_model(b: BuiltProblem, flow: np.ndarray) -> bool:
    """The model with the arcs fixed at the flow has a solution (every row kept)."""
    m = build_rotation_model(b.prob)
    lb, ub = m.lb.copy(), m.ub.copy()
    lb[: m.n_arcs] = ub[: m.n_arcs] = flow
    status, *_ = solve_mip(replace(m, lb=lb, ub=ub), hint=None, lower_bound=None, limits=SolveLimits(time_limit_s=10, workers=1),
                           relative_gap=0.0)
    return status in ("OPTIMAL", "FEASIBLE")


def test_greedy_exchanges_backbone_teachers_toward_the_weak_school_by_hand() -> None:
    # A (urban, 100 pupils): 5 math teachers of whom 2 backbone, 5 chinese; B (rural, 400 pupils): 5 + 5, no backbone.
    # Quota ⌈10% of 10⌉ = 1, cap 20% = 2. Each exchange of a backbone math teacher of A for a math teacher of B
    # lowers the backbone deviation: the greedy plan makes both (backbone CV 2 → 0.5, see test_rotation_never_worse).
    schools = schools_of([("A", "县一小", "urban", 100, False), ("B", "李家塔小学", "rural", 400, False)])
    teachers = pd.DataFrame(staff("A", "math", 5, backbone=2) + staff("A", "chinese", 5) + staff("B", "math", 5) + staff("B", "chinese", 5))
    b = built(schools, teachers, travel({("A", "B"): 20}, ["A", "B"]), RotationOptions())
    flow = greedy_flow(b.prob)
    p = b.prob
    out = flow[p.unit_school[p.arc_unit] == 0]
    back = flow[p.unit_school[p.arc_unit] == 1]
    assert out.sum() == 2 and back.sum() == 2
    assert (flow * p.unit_backbone[p.arc_unit]).sum() == 2  # both backbone teachers of A go, none come back
    assert accepted_by_the_model(b, flow)
    assert b.prob.guard is not None and b.parts is not None
    after = cv_after(b.prob.guard, flow, b.parts)
    assert (after <= b.prob.guard.cv_before + 1e-12).all()


def test_greedy_moves_nobody_when_every_move_would_raise_a_cv() -> None:
    # B already has the backbone teachers, and more per pupil than A: every exchange would concentrate them at A
    schools = schools_of([("A", "县一小", "urban", 100, False), ("B", "李家塔小学", "rural", 400, False)])
    teachers = pd.DataFrame(staff("A", "math", 5) + staff("A", "chinese", 5) + staff("B", "math", 5, backbone=5) + staff("B", "chinese", 5))
    b = built(schools, teachers, travel({("A", "B"): 20}, ["A", "B"]), RotationOptions(backbone_share=0.0))
    flow = greedy_flow(b.prob)
    assert b.prob.guard is not None and b.parts is not None
    assert (cv_after(b.prob.guard, flow, b.parts) <= b.prob.guard.cv_before + 1e-12).all()
    assert accepted_by_the_model(b, flow)


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("staffing", ["exchange", "tolerance"])
def test_greedy_plan_keeps_every_rule_on_generated_counties(seed: int, staffing: str) -> None:
    schools, teachers, tm = generated_county(seed)
    options = RotationOptions(min_share=0.3, staffing=staffing)  # type: ignore[arg-type]
    b = built(schools, teachers, tm, options)
    flow = greedy_flow(b.prob)
    assert accepted_by_the_model(b, flow)
    assert b.prob.guard is not None and b.parts is not None
    assert (cv_after(b.prob.guard, flow, b.parts) <= b.prob.guard.cv_before + 1e-9).all()
    # no unit moves more teachers than it has, no school sends more than its cap
    moved = np.bincount(b.prob.arc_unit, weights=flow, minlength=len(b.prob.unit_count))
    assert (moved <= b.prob.unit_count).all()


def test_the_plan_is_never_worse_than_the_greedy_start() -> None:
    schools, teachers, tm = generated_county(3)
    options = RotationOptions(min_share=0.3)
    b = built(schools, teachers, tm, options)
    start = greedy_flow(b.prob)
    plan = from_frames(schools, teachers, school_travel=tm, options=options,  # type: ignore[arg-type]
                       limits=SolveLimits(time_limit_s=0.01, workers=1))
    # even with almost no search time the plan moves at least the greedy start's teachers out of the sending school
    assert len(plan.moves) >= int(start.sum()) or plan.metrics["quotas_met"] == plan.metrics["quotas"]
    cmp = balance_change(schools, teachers, plan.moves)
    assert (cmp["change"].fillna(0)[cmp["indicator"].isin(["backbone_per_100", "above_qualification_per_100"])] <= 1e-9).all()
