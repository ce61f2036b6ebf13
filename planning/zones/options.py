"""Settings of the zone models: :class:`ZoneOptions` (the ``[zones]`` model keys) and :class:`SolveLimits`.

:class:`ZoneOptions` holds every tunable of single-school zoning with its default
written once; the stage's ``[zones]`` parameters inherit it, so each field is a
scenario key and a command-line flag of the same name. :class:`SolveLimits` is
what the scenario's ``[solver]`` table and seed give a solve.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from geo.policy import RURAL_MAX_ONE_WAY_S
from planning.limits import SolveLimits

Level = Literal["primary", "junior"]
Method = Literal["nearest", "optimal"]

#: Default overflow penalty, seconds per overflow student: an overfilled seat
#: costs as much as two hours of extra travel, so overflow is a last resort.
DEFAULT_OVERFLOW_PENALTY_S = 7_200


class ZoneOptions(BaseModel):
    """How single-school zones are planned.

    Attributes
    ----------
    method
        ``optimal`` (capacitated, proven gap) or ``nearest`` (baseline only).
    contiguity
        Make every zone one connected piece of the block adjacency graph;
        blocks no school can take join the zones they touch.
    max_moved
        Cap on students whose school changes against ``current_<level>``.
    stability_weight
        Penalty per student whose school changes, in seconds of travel.
    max_travel_s
        Longest acceptable one-way travel per level (default 30 minutes,
        国办发〔2018〕27号); farther blocks are reported as needing boarding or a bus.
    allow_overflow, overflow_penalty
        Allow schools above capacity at this penalty (seconds per student)
        instead of stopping with an explanation.
    within_township
        Keep every zone inside its school's township.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    method: Method = Field(
        "optimal", description="optimal: capacity-feasible zones with a proven gap; nearest: nearest-school baseline only"
    )
    contiguity: bool = Field(True, description="make every zone one connected piece of neighbouring blocks")
    max_moved: int | None = Field(
        None, ge=0, description="at most this many students may change school against current_<level>"
    )
    stability_weight: float = Field(
        0.0, ge=0, description="penalty per student whose school changes against current_<level>, in seconds of travel"
    )
    max_travel_s: dict[Level, float] = Field(
        default_factory=dict,
        description="longest one-way travel per level in seconds, by the block's mode (default 1800: 30 minutes)",
    )
    allow_overflow: bool = Field(
        False, description="allow schools above capacity (大班额 risk, reported) instead of stopping with an explanation"
    )
    overflow_penalty: float = Field(
        float(DEFAULT_OVERFLOW_PENALTY_S), gt=0, description="cost of one student above capacity, in seconds of travel"
    )
    within_township: bool = Field(False, description="keep every zone inside its school's township")

    def travel_limit_s(self, level: Level) -> float:
        """Longest acceptable one-way travel of ``level``, in seconds."""
        return float(self.max_travel_s.get(level, RURAL_MAX_ONE_WAY_S))

    @property
    def stability_weight_s(self) -> int:
        """:attr:`stability_weight` in whole seconds."""
        return round(self.stability_weight)

    @property
    def overflow_penalty_s(self) -> int | None:
        """:attr:`overflow_penalty` in whole seconds when overflow is allowed, else ``None`` (capacity is hard)."""
        return round(self.overflow_penalty) if self.allow_overflow else None


#: Options with every default: what the model does when nothing is set.
DEFAULT_OPTIONS = ZoneOptions()


#: Limits of a solve given none (a scenario's ``[solver]`` table and seed give its own).
DEFAULT_LIMITS = SolveLimits()
