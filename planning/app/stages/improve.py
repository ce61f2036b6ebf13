"""The ``improve`` stage: the achievement plan (达标提升方案) — what to build, buy and staff where.

Reads the schools layer and the teachers table; when the ``rotation`` stage ran, its moves count
as given (the plan starts from the teachers after rotation). Thresholds and standards are the
``[balance]`` table's (:class:`~planning.balance.BalanceOptions`), units, costs, caps, budget and
phasing the ``[improve]`` table's (:class:`~planning.improve.ImproveOptions`). Calls
:func:`planning.improve.from_frames`, which verifies the county after the plan with the balance
code. Files:

- ``measures.csv``: ``school_id, name, resource, quantity, cost_yuan, year``.
- ``schools_improve.csv``: per school part: standards met before and after, the per-school rule
  before and after, cost.
- ``metrics.json``: total cost, the proven bound and the gap, the greedy baseline's cost, cost
  by resource, and per level each 优质均衡 CV before and after with its threshold.

Shortfalls (a site too small, a cap on hiring, a budget below the least cost) are listed and the
run goes on; with ``strict`` they stop it (exit 3).
"""

from __future__ import annotations

import math
from typing import Any

from geo.errors import InfeasibleError, InputError, Problem
from planning.app.stage import Command, Context, Stage, StageOutput, StageParams
from planning.balance import BalanceOptions
from planning.improve import ImproveOptions, ImprovePlan, from_frames
from planning.improve.plan import MEASURE_COLUMNS
from planning.limits import SolveLimits
from planning.rotation import RotationPlan, apply_moves

#: The resources in Chinese, for the summary.
RESOURCE_ZH = {
    "floor_area_m2": "教学及辅助用房",
    "sports_area_m2": "体育运动场馆",
    "equipment_yuan": "教学仪器设备",
    "multimedia_rooms": "网络多媒体教室",
    "pe_art_teachers": "体育艺术教师",
    "above_qualification_teachers": "高于规定学历教师",
    "backbone_teachers": "骨干教师培养",
}


class ImproveParams(StageParams, ImproveOptions):
    """``[improve]`` table of a scenario: :class:`~planning.improve.ImproveOptions` (time limit, workers and seed from ``[solver]``)."""


def _balance_options(ctx: Context) -> BalanceOptions:
    """The ``[balance]`` thresholds and standards when the balance stage is configured, else the national ones."""
    params = ctx.scenario.stages.get("balance")
    if isinstance(params, BalanceOptions):
        return BalanceOptions(
            quality_cv_max=dict(params.quality_cv_max),
            basic_cv_mean_max=dict(params.basic_cv_mean_max),
            quality_standards={lv: dict(s) for lv, s in params.quality_standards.items()},
        )
    return BalanceOptions()


def _clean(value: Any) -> Any:
    """JSON-able: NaN and infinities as ``None``, floats rounded to 6 decimals."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, float):
        return None if not math.isfinite(value) else round(value, 6)
    return value


def _summary(plan: ImprovePlan) -> str:
    m = plan.metrics
    by = m["cost_by_resource_yuan"]
    spent = "、".join(f"{RESOURCE_ZH[r]} {v / 1e4:,.0f} 万元" for r, v in by.items() if v)
    fails = [f"{lv} {ind} {v['before']:.3f} → {v['after']:.3f}" for lv, d in m["cv"].items() for ind, v in d.items() if v["before"] > v["threshold"]]
    passes = ", ".join(f"{lv} {'passes' if ok else 'fails'}" for lv, ok in m["passes"].items())
    return (
        f"achievement plan {plan.cost / 1e4:,.0f} 万元 (bound {plan.bound / 1e4:,.0f} 万元, gap {plan.gap:.2%}; "
        f"greedy baseline {m['greedy_cost_yuan'] / 1e4:,.0f} 万元): {spent or 'nothing needed'}\n"
        f"after the plan: {passes}" + (f"; CVs brought down: {'; '.join(fails)}" if fails else "")
    )


def run(ctx: Context, params: ImproveParams) -> StageOutput:
    """Plan the measures; see the module docstring."""
    schools, teachers = ctx.inputs.schools, ctx.inputs.teachers
    if teachers is None:
        raise InputError([Problem("teachers", "the improve stage needs a teachers table (4 of the 7 优质均衡 indicators count teachers)")])
    rotation = ctx.result(RotationPlan)
    if rotation is not None and len(rotation.moves):
        teachers = apply_moves(teachers, rotation.moves, schools)
    ctx.step("improve: the least-cost measures that bring every school and CV to standard (a bound first)")
    solver = ctx.scenario.solver
    options = ImproveOptions(**params.model_dump(include=set(ImproveOptions.model_fields)))
    plan = from_frames(
        schools,
        teachers,
        options=options,
        balance_options=_balance_options(ctx),
        limits=SolveLimits(time_limit_s=solver.time_limit_s, workers=solver.workers, seed=ctx.seed),
    )
    if params.strict and plan.shortfalls:
        raise InfeasibleError("the achievement plan cannot bring every school and CV to standard", list(plan.shortfalls))
    metrics = _clean(dict(plan.metrics))
    solve_s = metrics.pop("solve_s", None)  # wall-clock: to the manifest, not metrics.json
    metrics["shortfalls"] = [{"where": s.where, "short_by": s.short_by, "unit": s.unit, "detail": s.detail} for s in plan.shortfalls]
    measures = plan.measures[list(MEASURE_COLUMNS)].reset_index(drop=True)
    return StageOutput(
        files={"measures.csv": measures, "schools_improve.csv": plan.schools, "metrics.json": metrics},
        result=plan,
        shortfalls=plan.shortfalls,
        summary=_summary(plan),
        metrics={"total_cost_yuan": metrics["total_cost_yuan"], "gap": metrics["gap"], "passes": metrics["passes"], "solve_s": solve_s},
    )


STAGE = Stage(
    name="improve",
    params=ImproveParams,
    run=run,
    result_type=ImprovePlan,
    files=("measures.csv", "schools_improve.csv", "metrics.json"),
    needs=("schools", "teachers"),
    description="achievement plan (达标提升方案): the least-cost measures that make the county pass 优质均衡",
    command=Command("improve", "least-cost measures to reach 优质均衡 (达标提升方案)"),
)
