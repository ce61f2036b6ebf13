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
from geo.travel import TravelMatrix
from planning.app.stage import Command, Context, LayerFile, Stage, StageOutput, StageParams
from planning.app.stages.balance import strength
from planning.communities import CommunityPlan
from planning.rotation import RotationOptions, RotationPlan, SolveLimits, balance_change, from_frames

logger = logging.getLogger(__name__)

#: Columns of ``moves.csv``, in order (``name`` only when the teachers table has names).
MOVES_COLUMNS = ("teacher_id", "name", "from_school", "to_school", "subject", "backbone", "direction", "commute_s", "reason")


class RotationParams(StageParams, RotationOptions):
    """``[rotation]`` table of a scenario.

    The model's settings are inherited from :class:`~planning.rotation.RotationOptions` (so the
    keys stay flat and the defaults are written once); here only what the stage alone reads:
    files, the travel mode, whether to use communities, the CP-SAT time limit.
    """

    staffing_targets: Annotated[Path | None, LayerFile(STAFFING_TARGETS)] = Field(
        None, description="CSV/Excel: school_id, subject, target (县管校聘)"
    )
    mode: Literal["walk", "bike", "drive", "bus"] = Field("drive", description="travel mode of the commutes")
    groups: Annotated[Path | None, LayerFile(GROUPS)] = Field(
        None, description="communities file (school_id, group_id) when the stage did not run"
    )
    use_communities: bool = Field(True, description="prefer moves within a community (from the communities stage or groups)")
    # solver: time limit and workers from [solver] unless set here
    deterministic_time_s: float | None = Field(
        None, gt=0, le=86_400, description="CP-SAT deterministic time limit, seconds; none: the [solver] time limit"
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
        value = None if isinstance(v, float) and not math.isfinite(v) else v
        out[k] = round(value, 6) if isinstance(value, float) else value
    out["cv_before"] = cv_before
    out["cv_after"] = cv_after
    out["shortfalls"] = [{"where": s.where, "short_by": s.short_by, "unit": s.unit, "detail": s.detail} for s in plan.shortfalls]
    return out


#: The CVs the never-worse rule holds (the indicators the objective names and the composite).
GUARDED_CVS = ("backbone_per_100", "above_qualification_per_100", "intermediate_title_per_100", "teachers_per_100", "basic_composite")


def _check_never_worse(cmp: pd.DataFrame, params: RotationOptions) -> None:
    """The post-condition, by the balance evaluation itself: no guarded CV rose (else a bug: stop)."""
    if not params.never_worse:
        return
    rose = cmp[cmp["indicator"].isin(GUARDED_CVS) & (cmp["change"] > 1e-9)]
    if len(rose):
        worse = ", ".join(f"{r.level} {r.indicator} {r.cv_before:.4f} → {r.cv_after:.4f}" for r in rose.itertuples())
        msg = f"rotation: the plan raises {worse} although never_worse is on (a bug; please report it)"
        raise RuntimeError(msg)


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
    ctx.step("rotation: choosing the moves (a lower bound first, then the best plan within the time limit)")
    targets = _targets(ctx, params)
    # strict: a quota that cannot be met stops the run, unless relax_quotas says otherwise
    relax = (not params.strict) if params.relax_quotas is None else params.relax_quotas
    report_language = "en" if str(ctx.scenario.report.get("language", "zh")) == "en" else "zh"
    options = params.model_copy(update={"relax_quotas": relax, "language": params.language or report_language})
    plan = from_frames(
        schools,
        teachers,
        options=options,
        limits=SolveLimits(time_limit_s=params.deterministic_time_s or solver.time_limit_s, workers=solver.workers, seed=ctx.seed),
        school_travel=school_travel,
        home_travel=home_travel,
        strength=strength(ctx),
        groups=_groups(ctx, params),
        staffing_targets=targets,
    )
    cmp = balance_change(schools, teachers, plan.moves)
    cv_before, cv_after = _cv_tables(cmp)
    _check_never_worse(cmp, options)
    metrics = _metrics_json(plan, cv_before, cv_after)
    # Wall-clock time would make reruns differ: it goes to the manifest, not metrics.json.
    solve_s = metrics.pop("solve_s", None)
    moves = plan.moves[[c for c in MOVES_COLUMNS if c in plan.moves.columns]].reset_index(drop=True)
    m = plan.metrics
    share = m["rotation_share"]
    bshare = m["backbone_share_of_movers"]
    summary = (
        f"{m['movers_out']} teachers rotate out of {m['eligible_at_sending_schools']} eligible at "
        f"{m['sending_schools']} sending schools ({'n/a' if share is None else f'{share:.0%}'}), "
        f"backbone {'n/a' if bshare is None else f'{bshare:.0%}'} of movers; {m['movers_exchange']} go the other way (跟岗交流); "
        f"quotas met {m['quotas_met']}/{m['quotas']}; gap {plan.gap:.2%}"
    )
    return StageOutput(
        files={"moves.csv": moves, "schools_rotation.csv": plan.schools, "eligibility.csv": plan.eligibility, "metrics.json": metrics},
        result=plan,
        shortfalls=plan.shortfalls,
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
    files=("moves.csv", "schools_rotation.csv", "eligibility.csv", "metrics.json"),
    needs=("schools", "teachers"),
    description="teacher rotation plan (交流轮岗): quotas, staffing kept whole, a reason per move",
    command=Command("rotate", "teacher rotation plan (交流轮岗) meeting the quotas"),
    # The 优质均衡 evaluation counts rotation county-wide; per-school quotas are
    # infeasible for small rural schools with no eligible backbone teacher.
    demo={"quota_scope": "county"},
)
