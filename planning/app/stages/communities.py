"""Stage ``communities``: "1+N" school groups (集团化办学) and one-to-one pairing (结对帮扶).

Needs the schools layer (teachers optional, for the strength index). Strength
is the run's one strength frame (:func:`planning.app.stages.balance.strength`):
the ``balance`` stage's when it ran, else computed once from
``[balance.strength]``, or ``[communities.strength]`` when the balance stage is
not enabled, or the defaults. Existing groups to keep (``fixed_groups``) are
read and validated with the inputs (:data:`geo.model.GROUPS`). Travel lead →
member is by ``mode`` (default car) on the road network when there is one,
searched to 3 × the cap so that a school without a lead in reach is told of the
nearest one beyond it.

Not ``strict``, the stage plans as far as possible (the model's
``allow_unassigned``): schools left out, groups short of members and weak
schools without a partner are the output's shortfalls (``shortfalls.csv``);
``strict`` stops with :class:`~geo.errors.InfeasibleError` instead.

Files: ``groups.csv`` (``school_id, group_id, role`` lead|member, then level,
lead, travel, strength), ``group_metrics.csv`` (members, travel, strength per
group), ``pairs.csv`` (weak school, strong partner, travel), ``metrics.json``
(objective, bound, gap, status per level; the solve time, which varies from run
to run, is in the summary and the manifest's timings so that files stay
byte-identical) and, when some school
could not be placed, ``unassigned.csv``. Result: :class:`~planning.communities.CommunityPlan`.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Annotated, Any, Literal

import pandas as pd
from pydantic import Field

from geo.errors import InputError, missing_columns
from geo.model import GROUPS
from planning.app.stage import Command, Context, LayerFile, Stage, StageOutput, StageParams
from planning.app.stages.balance import strength, strength_settings
from planning.balance import StrengthOptions
from planning.communities import CommunityOptions, CommunityPlan, SolveLimits, from_frames

#: Travel is searched up to this multiple of the cap: a school with no lead within the cap is told of the nearest beyond.
SEARCH_BEYOND_CAP = 3


class CommunitiesParams(StageParams, CommunityOptions):
    """Parameters of the ``communities`` stage: :class:`~planning.communities.CommunityOptions` and the stage's own."""

    mode: Literal["drive", "bus", "bike", "walk"] = Field("drive", description="travel mode lead → member")
    fixed_groups: Annotated[Path | None, LayerFile(GROUPS)] = Field(
        None, description="existing groups to keep: school_id, group_id, role (+ level)"
    )
    strength: StrengthOptions | None = None


def _strength(ctx: Context, params: CommunitiesParams) -> pd.DataFrame:
    """The run's strength frame; ``[communities.strength]`` is its source only when no balance stage is enabled."""
    if params.strength is not None and params.strength != strength_settings(ctx.scenario):
        warnings.warn(
            "[communities.strength] is not used: every stage shares one strength index, set in [balance.strength]",
            UserWarning,
            stacklevel=3,
        )
    return strength(ctx)


def run(ctx: Context, params: CommunitiesParams) -> StageOutput:
    """Form groups and pairs; see the module docstring."""
    schools = ctx.inputs.schools
    problems = missing_columns(schools.columns, ["area_type"], "schools")
    if problems:
        raise InputError(problems)
    strength = _strength(ctx, params)
    # beyond the cap too, so that a school without a lead in reach is offered the nearest one
    cutoff_s = SEARCH_BEYOND_CAP * params.max_travel_s
    travel = ctx.travel(schools, schools, origin_id="school_id", dest_id="school_id", mode=params.mode, cutoff_s=cutoff_s)
    ctx.step("forming school communities")
    solver = ctx.scenario.solver
    # not strict: plan as far as possible, each school left out and each short group listed as a shortfall
    options = params if params.strict or params.allow_unassigned else params.model_copy(update={"allow_unassigned": True})
    plan = from_frames(
        schools,
        strength,
        travel,
        options=options,
        fixed_groups=ctx.table(params, "fixed_groups"),
        limits=SolveLimits(time_limit_s=solver.time_limit_s, workers=solver.workers, seed=ctx.seed),
    )
    files: dict[str, Any] = {
        "groups.csv": plan.groups,
        "group_metrics.csv": plan.group_metrics,
        "pairs.csv": plan.pairs,
        # solve time varies run to run: it goes to the summary, not into a file (outputs stay byte-identical)
        "metrics.json": {
            **{lv: {k: v for k, v in m.items() if k != "solve_s"} for lv, m in plan.metrics.items()},
            "travel_mode": travel.mode,
        },
    }
    if len(plan.unassigned):
        files["unassigned.csv"] = plan.unassigned
    lines = []
    for lv, m in plan.metrics.items():
        lines.append(
            f"{lv}: {m['groups']} groups, {m['members']} members, travel {m['total_travel_s'] / 60:.0f} min in all"
            f" (max {m['max_travel_s'] / 60:.0f}), group mean strength spread {m['strength_spread']:.3f},"
            f" {m['groups_without_rural']} without a rural member; gap {m['gap']:.2%} ({m['status']});"
            f" {m['pairs']} pairs" + (f" ({m['pair_note']})" if m["pair_note"] else "")
        )
    if len(plan.unassigned):
        lines.append(f"{len(plan.unassigned)} school placement(s) left out: see unassigned.csv")
    if plan.shortfalls:
        lines.append(f"{len(plan.shortfalls)} shortfall(s) (see shortfalls.csv), e.g.:")
        lines += [f"  - {sf}" for sf in plan.shortfalls[:5]]
    return StageOutput(
        files=files, result=plan, summary="\n".join(lines), metrics=dict(plan.metrics), shortfalls=plan.shortfalls
    )


STAGE = Stage(
    name="communities",
    params=CommunitiesParams,
    run=run,
    result_type=CommunityPlan,
    files=("groups.csv", "group_metrics.csv", "pairs.csv", "metrics.json", "unassigned.csv"),
    needs=("schools",),
    description="strong–weak school communities (1+N groups, CP-SAT) and one-to-one pairing (min-cost flow)",
    command=Command(
        "communities",
        "strong–weak school communities (集团化办学) and one-to-one pairing (结对帮扶)",
        aliases={"--groups": "fixed_groups"},
    ),
)
