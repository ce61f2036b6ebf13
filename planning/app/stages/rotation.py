"""The ``rotation`` stage: this year's teacher rotation plan (交流轮岗).

Reads the schools and teachers, classifies schools with the run's one strength
index (:func:`planning.app.stages.balance.strength`; sending = urban or strong,
receiving = rural or weak), takes communities from the ``communities`` stage
(or a ``groups`` file) and staffing targets from a ``staffing_targets`` file
(both read and validated with the inputs), computes commutes from home
(``home_x/home_y``) or between schools, and calls
:func:`planning.rotation.model.plan_rotation`. Writes ``moves.csv``,
``schools_rotation.csv`` and ``metrics.json`` (with the balance CVs before and
after, computed by :mod:`planning.balance.indicators`).
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Annotated, Any, Literal

import geopandas as gpd
import pandas as pd
from pydantic import Field

from geo.errors import InputError, Problem
from geo.model import GROUPS, STAFFING_TARGETS
from geo.policy import (
    RETIREMENT_AGE_FEMALE,
    RETIREMENT_AGE_MALE,
    ROTATION_BACKBONE_MIN_SHARE,
    ROTATION_EXCLUDE_YEARS_TO_RETIREMENT,
    ROTATION_MAX_AGE_FEMALE,
    ROTATION_MAX_AGE_MALE,
    ROTATION_MAX_COMMUTE_S,
    ROTATION_MIN_SHARE,
    ROTATION_MIN_YEARS_AT_SCHOOL,
)
from geo.travel import TravelMatrix
from planning.app.stage import Command, Context, LayerFile, Stage, StageOutput, StageParams
from planning.app.stages.balance import strength
from planning.communities.groups import CommunityPlan
from planning.rotation.model import DEFAULT_MAX_SHARE, EligibilityRules, RotationOptions, RotationPlan, balance_change, plan_rotation

logger = logging.getLogger(__name__)

#: Columns of ``moves.csv``, in order.
MOVES_COLUMNS = ("teacher_id", "from_school", "to_school", "subject", "backbone", "commute_s", "reason")


class RotationParams(StageParams):
    """``[rotation]`` table of a scenario."""

    # eligibility
    min_years_at_school: int = Field(ROTATION_MIN_YEARS_AT_SCHOOL, ge=0, le=60)
    age_caps: bool = False
    max_age_male: int = Field(ROTATION_MAX_AGE_MALE, ge=18, le=80)
    max_age_female: int = Field(ROTATION_MAX_AGE_FEMALE, ge=18, le=80)
    years_to_retirement: int = Field(ROTATION_EXCLUDE_YEARS_TO_RETIREMENT, ge=0, le=40)
    retirement_age_male: int = Field(RETIREMENT_AGE_MALE, ge=40, le=80)
    retirement_age_female: int = Field(RETIREMENT_AGE_FEMALE, ge=40, le=80)
    honour_exemptions: bool = True
    # quotas and staffing
    min_share: float = Field(ROTATION_MIN_SHARE, ge=0, le=1)
    max_share: float | None = Field(DEFAULT_MAX_SHARE, ge=0, le=1)
    backbone_share: float = Field(ROTATION_BACKBONE_MIN_SHARE, ge=0, le=1)
    quota_scope: Literal["school", "county"] = "school"
    staffing: Literal["exchange", "tolerance"] = "exchange"
    staffing_tolerance: int = Field(1, ge=0, le=100)
    staffing_targets: Annotated[Path | None, LayerFile(STAFFING_TARGETS)] = Field(
        None, description="CSV/Excel: school_id, subject, target (县管校聘)"
    )
    relax_quotas: bool = False
    # direction and distance
    mode: Literal["walk", "bike", "drive", "bus"] = "drive"
    max_commute_s: int = Field(ROTATION_MAX_COMMUTE_S, gt=0, le=6 * 3600)
    sending_area_types: tuple[str, ...] = ("urban",)
    sending_strength: tuple[str, ...] = ("strong",)
    receiving_area_types: tuple[str, ...] = ("rural",)
    receiving_strength: tuple[str, ...] = ("weak",)
    return_moves: bool = True
    allow_other_schools: bool = False
    max_destinations: int = Field(20, ge=1, le=1000)
    groups: Annotated[Path | None, LayerFile(GROUPS)] = Field(None, description="communities file (school_id, group_id) when the stage did not run")
    use_communities: bool = True
    # objective
    gap_weight: float = Field(100_000.0, ge=0)
    commute_weight_per_min: float = Field(1.0, ge=0)
    move_penalty: float = Field(20.0, ge=0)
    outside_community_penalty: float = Field(30.0, ge=0)
    # solver (time limit and workers from [solver] unless set here)
    relative_gap: float = Field(1e-3, ge=0, le=1)
    deterministic_time_s: float | None = Field(None, gt=0, le=86_400)

    def options(self, targets: pd.DataFrame | None) -> RotationOptions:
        """The model options these parameters stand for."""
        return RotationOptions(
            eligibility=EligibilityRules(
                min_years_at_school=self.min_years_at_school,
                age_caps=self.age_caps,
                max_age_male=self.max_age_male,
                max_age_female=self.max_age_female,
                years_to_retirement=self.years_to_retirement,
                retirement_age_male=self.retirement_age_male,
                retirement_age_female=self.retirement_age_female,
                honour_exemptions=self.honour_exemptions,
            ),
            min_share=self.min_share,
            max_share=self.max_share,
            backbone_share=self.backbone_share,
            quota_scope=self.quota_scope,
            staffing=self.staffing,
            staffing_tolerance=self.staffing_tolerance,
            staffing_targets=targets,
            max_commute_s=self.max_commute_s,
            sending_area_types=tuple(self.sending_area_types),
            sending_strength=tuple(self.sending_strength),
            receiving_area_types=tuple(self.receiving_area_types),
            receiving_strength=tuple(self.receiving_strength),
            return_moves=self.return_moves,
            allow_other_schools=self.allow_other_schools,
            max_destinations=self.max_destinations,
            relax_quotas=self.relax_quotas,
            gap_weight=self.gap_weight,
            commute_weight_per_min=self.commute_weight_per_min,
            move_penalty=self.move_penalty,
            outside_community_penalty=self.outside_community_penalty,
        )


def _targets(ctx: Context, params: RotationParams) -> pd.DataFrame | None:
    """The staffing targets file as validated with the inputs (school_id, subject, target), or ``None``."""
    targets = ctx.table(params, "staffing_targets")
    if targets is None:
        return None
    return targets[["school_id", "subject", "target"]].reset_index(drop=True)


def _groups(ctx: Context, params: RotationParams) -> pd.DataFrame | None:
    """Communities: the ``communities`` stage's when it ran, else the ``groups`` file, else none."""
    if not params.use_communities:
        return None
    plan = ctx.result(CommunityPlan)
    if plan is not None:
        return plan.groups
    return ctx.table(params, "groups")


def _home_travel(ctx: Context, params: RotationParams, schools: gpd.GeoDataFrame) -> TravelMatrix | None:
    t = ctx.inputs.teachers
    if t is None or "home_x" not in t.columns or "home_y" not in t.columns:
        return None
    x = pd.to_numeric(t["home_x"], errors="coerce")
    y = pd.to_numeric(t["home_y"], errors="coerce")
    known = (x.notna() & y.notna()).to_numpy()
    if not known.any():
        return None
    homes = gpd.GeoDataFrame(
        {"teacher_id": t["teacher_id"].astype(str).to_numpy()[known]},
        geometry=gpd.points_from_xy(x[known], y[known]),
        crs=schools.crs,
    )
    return ctx.travel(
        homes, schools, origin_id="teacher_id", dest_id="school_id", mode=params.mode,
        cutoff_s=params.max_commute_s, key="rotation homes",
    )


def _cv_tables(cmp: pd.DataFrame) -> tuple[dict[str, dict[str, float | None]], dict[str, dict[str, float | None]]]:
    """``{level: {indicator: cv}}`` before and after (NaN → None), each indicator once."""
    before: dict[str, dict[str, float | None]] = {}
    after: dict[str, dict[str, float | None]] = {}
    for lv, ind, b, a in zip(cmp["level"], cmp["indicator"], cmp["cv_before"], cmp["cv_after"]):
        before.setdefault(str(lv), {}).setdefault(str(ind), None if pd.isna(b) else round(float(b), 6))
        after.setdefault(str(lv), {}).setdefault(str(ind), None if pd.isna(a) else round(float(a), 6))
    return before, after


def _metrics_json(plan: RotationPlan, cv_before: dict[str, Any], cv_after: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in plan.metrics.items():
        if isinstance(v, float) and not math.isfinite(v):
            v = None
        out[k] = round(v, 6) if isinstance(v, float) else v
    out["cv_before"] = cv_before
    out["cv_after"] = cv_after
    out["shortfalls"] = [{"where": s.where, "short_by": s.short_by, "unit": s.unit, "detail": s.detail} for s in plan.shortfalls]
    return out


def run(ctx: Context, params: RotationParams) -> StageOutput:
    """Plan the rotation and return its files (see the module docstring)."""
    schools = ctx.inputs.schools
    teachers = ctx.inputs.teachers
    if teachers is None:
        raise InputError([Problem("teachers", "the rotation stage needs a teachers table")])
    ctx.step("rotation: eligibility, quotas and candidate moves")
    school_travel = ctx.travel(
        schools, schools, origin_id="school_id", dest_id="school_id", mode=params.mode,
        cutoff_s=params.max_commute_s, key="rotation",
    )
    home_travel = _home_travel(ctx, params, schools)
    solver = ctx.scenario.solver
    ctx.step("rotation: solving (GLOP bound, CP-SAT warm start)")
    plan = plan_rotation(
        schools,
        teachers,
        options=params.options(_targets(ctx, params)),
        school_travel=school_travel,
        home_travel=home_travel,
        strength=strength(ctx),
        groups=_groups(ctx, params),
        deterministic_time_s=params.deterministic_time_s or solver.time_limit_s,
        workers=solver.workers,
        seed=ctx.seed,
        relative_gap=params.relative_gap,
    )
    cmp = balance_change(schools, teachers, plan.moves)
    cv_before, cv_after = _cv_tables(cmp)
    metrics = _metrics_json(plan, cv_before, cv_after)
    # Wall-clock time would make reruns differ: it goes to the manifest, not metrics.json.
    solve_s = metrics.pop("solve_s", None)
    moves = plan.moves[list(MOVES_COLUMNS)].reset_index(drop=True)
    m = plan.metrics
    share = m["rotation_share"]
    bshare = m["backbone_share_of_movers"]
    summary = (
        f"{m['movers_out']} teachers rotate out of {m['eligible_at_sending_schools']} eligible at "
        f"{m['sending_schools']} sending schools ({'n/a' if share is None else f'{share:.0%}'}), "
        f"backbone {'n/a' if bshare is None else f'{bshare:.0%}'} of movers; {m['movers_return']} exchange returns; "
        f"quotas met {m['quotas_met']}/{m['quotas']}; gap {plan.gap:.2%}"
    )
    return StageOutput(
        files={"moves.csv": moves, "schools_rotation.csv": plan.schools, "metrics.json": metrics},
        result=plan,
        summary=summary,
        metrics={
            **{k: metrics[k] for k in ("movers", "movers_out", "rotation_share", "backbone_share_of_movers", "quotas_met", "gap")},
            "solve_s": solve_s,
        },
    )


STAGE = Stage(
    name="rotation",
    params=RotationParams,
    run=run,
    result_type=RotationPlan,
    files=("moves.csv", "schools_rotation.csv", "metrics.json"),
    needs=("schools", "teachers"),
    description="teacher rotation plan (交流轮岗): quotas, staffing kept whole, a reason per move",
    command=Command("rotate", "teacher rotation plan (交流轮岗) meeting the quotas"),
    # The 优质均衡 evaluation counts rotation county-wide; per-school quotas are
    # infeasible for small rural schools with no eligible backbone teacher.
    demo={"quota_scope": "county"},
)
