"""Options of the school-community models ("1+N" groups and one-to-one pairing) and their solver limits.

:class:`CommunityOptions` holds every setting a scenario gives in ``[communities]``
(times in minutes there, as in the TOML; the models read them in seconds through
:attr:`~CommunityOptions.max_travel_s` and friends). :class:`SolveLimits` holds
what comes from the scenario's ``[solver]``.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from geo.model import AreaName
from geo.policy import GROUP_MAX_MEMBERS, GROUP_MAX_TRAVEL_S, GROUP_MIN_MEMBERS, SMALL_RURAL_SCHOOL_PUPILS
from planning.limits import SolveLimits

#: Default cost of one unit of size-weighted strength deviation, in seconds of travel.
DEFAULT_STRENGTH_WEIGHT_S = 600.0
#: Default cost of a group without a rural member, in seconds of travel.
DEFAULT_RURAL_PENALTY_S = 3600.0
#: CP-SAT stops once the solution is proven within this relative gap of its bound.
DEFAULT_GAP_LIMIT = 0.01
#: Each school may join one of its this-many nearest candidate leads (fixed groups excepted).
DEFAULT_NEAREST_LEADS = 10

#: Area types that may lead by default: a community is led from the county seat or a township seat.
DEFAULT_LEAD_AREA_TYPES: tuple[AreaName, ...] = ("urban", "town")
LevelMode = Literal["by_level", "mixed"]
LeadMode = Literal["strongest", "optimize", "given"]
MiddleMode = Literal["exclude", "optional", "include"]


class CommunityOptions(BaseModel):
    """How school communities are formed (``[communities]``); see :mod:`planning.communities`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    levels: LevelMode = Field("by_level", description="group within a level, or across levels")
    lead_mode: LeadMode = Field(
        "strongest", description="leads: the strongest schools, chosen by the solver among the strongest, or given"
    )
    lead_ids: list[str] = Field(default_factory=list, description="leads when lead_mode = 'given'")
    lead_area_types: list[AreaName] | None = Field(
        default_factory=lambda: list(DEFAULT_LEAD_AREA_TYPES), description="only these area types lead or partner a weak school (none = any)"
    )
    lead_min_pupils: int = Field(
        SMALL_RURAL_SCHOOL_PUPILS, ge=0,
        description="schools with fewer pupils never lead or partner (乡村小规模学校 < 100); nor do teaching points or incomplete schools",
    )
    central_schools: bool = Field(
        False, description="中心校+村小: each township's central school leads its township's village schools and teaching points"
    )
    n_groups: int | None = Field(None, ge=1, description="groups per level (default: enough for every school that must join)")
    min_members: int = Field(GROUP_MIN_MEMBERS, ge=0, description="members per group besides the lead, at least")
    max_members: int = Field(GROUP_MAX_MEMBERS, ge=1, description="members per group besides the lead, at most")
    max_travel_min: float = Field(GROUP_MAX_TRAVEL_S / 60, gt=0, description="lead → member travel cap, minutes")
    assign_rural: bool = Field(True, description="every rural school joins a group, not only weak ones")
    middle: MiddleMode = Field(
        "optional", description="middle-strength non-rural schools: left out, may join (to fill groups) or must join"
    )
    strength_weight_min: float = Field(
        DEFAULT_STRENGTH_WEIGHT_S / 60, ge=0, description="minutes of travel one unit of group strength deviation is worth"
    )
    rural_penalty_min: float = Field(
        DEFAULT_RURAL_PENALTY_S / 60, ge=0, description="minutes of travel a group without a rural member costs"
    )
    pair_k: int | None = Field(
        None, ge=0, description="weak schools per strong partner in one-to-one pairing; none = smallest that pairs all, 0 = off"
    )
    allow_unassigned: bool = Field(
        False,
        description="model door: leave unplaceable schools out and groups short (listed) instead of failing; "
        "the stage plans so unless strict",
    )

    @model_validator(mode="after")
    def _sizes(self) -> CommunityOptions:
        if self.min_members > self.max_members:
            msg = f"min_members ({self.min_members}) must be ≤ max_members ({self.max_members})"
            raise ValueError(msg)
        if self.lead_mode == "given" and not self.lead_ids:
            raise ValueError("lead_mode 'given' needs lead_ids")
        return self

    @property
    def max_travel_s(self) -> float:
        """Lead → member (and pair) travel cap in seconds."""
        return self.max_travel_min * 60

    @property
    def strength_weight_s(self) -> float:
        """Seconds of travel one unit of size-weighted strength deviation is worth."""
        return self.strength_weight_min * 60

    @property
    def rural_penalty_s(self) -> float:
        """Seconds of travel a group without a rural member costs."""
        return self.rural_penalty_min * 60


#: Limits when the model is called without any: a shorter budget than a scenario's default, and one
#: CP-SAT worker (more workers would make the plan depend on thread timing; see :mod:`planning.communities.groups`).
DEFAULT_LIMITS = SolveLimits(time_limit_s=10.0, workers=1)
