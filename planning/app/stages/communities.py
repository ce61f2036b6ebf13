"""Stage ``communities``: "1+N" school groups (集团化办学) and one-to-one pairing (结对帮扶).

Needs the schools layer (teachers optional, for the strength index). Strength
is the run's one strength frame (:func:`planning.app.stages.balance.strength`):
the ``balance`` stage's when it ran, else computed once from
``[balance.strength]``, or ``[communities.strength]`` when the balance stage is
not enabled, or the defaults. Existing groups to keep (``fixed_groups``) are
read and validated with the inputs (:data:`geo.model.GROUPS`). Travel lead →
member is by ``mode`` (default car) on the road network when there is one.

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
from pydantic import Field, model_validator

from geo.errors import InputError, Problem
from geo.model import GROUPS
from geo.policy import GROUP_MAX_MEMBERS, GROUP_MAX_TRAVEL_S, GROUP_MIN_MEMBERS
from planning.app.stage import Command, Context, LayerFile, Stage, StageOutput, StageParams
from planning.app.stages.balance import StrengthParams, strength, strength_settings
from planning.communities.groups import DEFAULT_RURAL_PENALTY_S, DEFAULT_STRENGTH_WEIGHT_S, CommunityPlan, form_communities


class CommunitiesParams(StageParams):
    """Parameters of the ``communities`` stage."""

    levels: Literal["by_level", "mixed"] = Field("by_level", description="group within a level, or across levels")
    lead_mode: Literal["strongest", "optimize", "given"] = Field(
        "strongest", description="leads: the strongest schools, chosen by the solver among the strongest, or given"
    )
    lead_ids: list[str] = Field(default_factory=list, description="leads when lead_mode = 'given'")
    lead_area_types: list[Literal["urban", "town", "rural"]] | None = Field(
        None, description="only these area types may lead (default any)"
    )
    n_groups: int | None = Field(None, ge=1, description="groups per level (default: enough for every school that must join)")
    min_members: int = Field(GROUP_MIN_MEMBERS, ge=0, description="members per group besides the lead, at least")
    max_members: int = Field(GROUP_MAX_MEMBERS, ge=1, description="members per group besides the lead, at most")
    max_travel_min: float = Field(GROUP_MAX_TRAVEL_S / 60, gt=0, description="lead → member travel cap, minutes")
    mode: Literal["drive", "bus", "bike", "walk"] = Field("drive", description="travel mode lead → member")
    assign_rural: bool = Field(True, description="every rural school joins a group, not only weak ones")
    middle: Literal["exclude", "optional", "include"] = Field(
        "optional", description="middle-strength non-rural schools: left out, may join (to fill groups) or must join"
    )
    strength_weight_min: float = Field(
        DEFAULT_STRENGTH_WEIGHT_S / 60, ge=0, description="minutes of travel one unit of group strength deviation is worth"
    )
    rural_penalty_min: float = Field(
        DEFAULT_RURAL_PENALTY_S / 60, ge=0, description="minutes of travel a group without a rural member costs"
    )
    fixed_groups: Annotated[Path | None, LayerFile(GROUPS)] = Field(None, description="existing groups to keep: school_id, group_id, role (+ level)")
    pair_k: int | None = Field(None, ge=0, description="weak schools per strong partner in one-to-one pairing; none = smallest that pairs all, 0 = off")
    allow_unassigned: bool = Field(False, description="leave unplaceable schools out (listed) instead of failing")
    strength: StrengthParams | None = None

    @model_validator(mode="after")
    def _sizes(self) -> CommunitiesParams:
        if self.min_members > self.max_members:
            msg = f"min_members ({self.min_members}) must be ≤ max_members ({self.max_members})"
            raise ValueError(msg)
        if self.lead_mode == "given" and not self.lead_ids:
            raise ValueError("lead_mode 'given' needs lead_ids")
        return self


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
    if "area_type" not in schools.columns:
        raise InputError([Problem("schools", "required column is missing", column="area_type")])
    strength = _strength(ctx, params)
    cap_s = params.max_travel_min * 60
    travel = ctx.travel(schools, schools, origin_id="school_id", dest_id="school_id", mode=params.mode, cutoff_s=cap_s)
    ctx.step("forming school communities")
    plan = form_communities(
        schools,
        strength,
        travel,
        levels=params.levels,
        lead_mode=params.lead_mode,
        lead_ids=params.lead_ids,
        lead_area_types=params.lead_area_types,
        n_groups=params.n_groups,
        assign_rural=params.assign_rural,
        middle=params.middle,
        min_members=params.min_members,
        max_members=params.max_members,
        max_travel_s=cap_s,
        strength_weight_s=params.strength_weight_min * 60,
        rural_penalty_s=params.rural_penalty_min * 60,
        fixed_groups=ctx.table(params, "fixed_groups"),
        pair_k=params.pair_k,
        allow_unassigned=params.allow_unassigned,
        time_limit_s=ctx.scenario.solver.time_limit_s,
        workers=ctx.scenario.solver.workers,
        seed=ctx.seed,
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
    return StageOutput(files=files, result=plan, summary="\n".join(lines), metrics=dict(plan.metrics))


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
