"""Settings of the zone models: :class:`ZoneOptions` (the ``[zones]`` model keys) and :class:`SolveLimits`.

:class:`ZoneOptions` holds every tunable of single-school zoning with its default
written once; the stage's ``[zones]`` parameters inherit it, so each field is a
scenario key and a command-line flag of the same name. :class:`SolveLimits` is
what the scenario's ``[solver]`` table and seed give a solve.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from geo.policy import (
    BOARDING_ALLOWANCE_YUAN,
    BOARDING_MAX_ONE_WAY_S,
    DAY_MAX_ONE_WAY_S,
    PRIMARY_LOWER_GRADES_SHARE,
)
from planning.limits import SolveLimits

Level = Literal["primary", "junior"]
Method = Literal["nearest", "optimal"]

#: Default overflow penalty, seconds per overflow student: an overfilled seat
#: costs as much as two hours of extra travel, so overflow is a last resort.
DEFAULT_OVERFLOW_PENALTY_S = 7_200
#: Default stability weight, seconds of one-way travel a moved student is worth:
#: a plan that moves a child to another school than today's must save that
#: child two minutes a day. Small against travel (on the demo it costs 0.2% of
#: mean travel) but it breaks the many near-ties of travel in favour of today's
#: zones (zones stay stable: DOMAIN.md §1), so the optimal zones move fewer
#: children than the nearest-school baseline.
DEFAULT_STABILITY_WEIGHT_S = 120
#: Default proven gap at which the anytime phase stops: 0.05 % of the objective,
#: about one second of travel per child on a 30-minute average.
DEFAULT_GAP_TOLERANCE = 0.0005
#: Largest stability weight or overflow penalty, seconds per student: one day of one child's
#: travel, longer than any one-way trip a plan gives, so a larger weight would only outweigh
#: travel more than it already does. Whole seconds × pupils must stay far within the int64
#: costs of the min-cost flow and CP-SAT: 1e300 overflowed them, and infinity cannot be converted.
MAX_WEIGHT_S = 86_400


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
    stability_weight_min
        Penalty per student whose school changes, in minutes of travel
        (default 2: a move must save the child two minutes); :attr:`stability_weight`
        in seconds. The key ``stability_weight`` (seconds) of earlier scenarios is
        still read, as is ``overflow_penalty`` for ``overflow_penalty_min``.
    max_travel_min, max_travel_s
        Longest one-way travel of a day pupil: ``max_travel_min`` in minutes for
        every level (the command line's ``--max-travel-min``), ``max_travel_s``
        per level in seconds (a scenario table ``{ junior = 2700 }``), which wins
        for the levels it names (default 30 minutes, 国办发〔2018〕27号: grades 1–3
        do not board and travel ≤ 30 minutes).
    boarding, boarding_reach_s
        Boarding schools (the schools' ``boarding`` column) take grades 4–6
        and junior pupils living beyond the day limit, up to
        ``boarding_reach_s`` (default 2 hours one way, a weekly trip). A
        primary block goes to a boarding school only when no school is within
        its day limit; its grades 1–3 pupils then board too and are listed as
        a shortfall of the 30-minute rule.
    lower_grades_share
        Share of primary pupils in grades 1–3 (blocks give pupils per level).
    allowance_yuan
        Living allowance per boarder-year (两免一补), per level.
    allow_overflow, overflow_penalty
        Allow schools above capacity at this penalty (seconds per student)
        instead of stopping with an explanation.
    within_township
        Keep every zone inside its school's township.
    anytime
        Spend what is left of the time limit after the first plan improving
        it (CP-SAT over groups of neighbouring zones) and proving it (CP-SAT
        over the pairs the relaxation's reduced costs leave possible); off: the
        first plan only (relaxation, priced chains, local search).
    gap_tolerance
        Stop improving once the proven gap is at most this share of the
        objective (default 0.05 %).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    method: Method = Field(
        "optimal", description="optimal: capacity-feasible zones with a proven gap; nearest: nearest-school baseline only"
    )
    contiguity: bool = Field(True, description="make every zone one connected piece of neighbouring blocks")
    max_moved: int | None = Field(
        None, ge=0, description="at most this many students per level may change school against current_<level> (default: no limit)"
    )
    stability_weight_min: float = Field(
        DEFAULT_STABILITY_WEIGHT_S / 60, ge=0, le=MAX_WEIGHT_S / 60,
        description="penalty per student whose school changes against current_<level>, in minutes of travel "
        "(default 2: a move must save the child two minutes)",
    )
    max_travel_min: float | None = Field(
        None, gt=0, le=24 * 60,
        description="longest one-way trip to school of a day pupil, in minutes, at every level (default 30, "
        "国办发〔2018〕27号; a scenario's max_travel_s sets it per level, in seconds)",
    )
    max_travel_s: dict[Level, float] = Field(
        default_factory=dict,
        description="longest one-way travel of a day pupil per level in seconds, by the block's mode "
        "(default 1800: 30 minutes; grades 1-3 never board)",
    )
    boarding: bool = Field(
        True, description="boarding schools (寄宿制) take grades 4-6 and junior pupils living beyond the day limit"
    )
    boarding_reach_s: dict[Level, float] = Field(
        default_factory=dict,
        description="farthest one-way travel to a boarding school per level in seconds (default 7200: a weekly trip)",
    )
    lower_grades_share: float = Field(
        PRIMARY_LOWER_GRADES_SHARE, ge=0, le=1, description="share of primary pupils in grades 1-3 (day pupils only)"
    )
    allowance_yuan: dict[Level, float] = Field(
        default_factory=dict,
        description="living allowance per boarder-year per level, yuan (两免一补; default 1000 primary, 1250 junior)",
    )
    allow_overflow: bool = Field(
        False, description="allow schools above capacity (大班额 risk, reported) instead of stopping with an explanation"
    )
    overflow_penalty_min: float = Field(
        DEFAULT_OVERFLOW_PENALTY_S / 60, gt=0, le=MAX_WEIGHT_S / 60,
        description="cost of one student above capacity, in minutes of travel (default 120)",
    )

    @model_validator(mode="before")
    @classmethod
    def _seconds_keys(cls, data: Any) -> Any:
        """``stability_weight`` and ``overflow_penalty`` in seconds (the keys of earlier scenarios) read as minutes."""
        if not isinstance(data, dict):
            return data
        data = dict(data)
        for old in ("stability_weight", "overflow_penalty"):
            if old not in data:
                continue
            seconds = data.pop(old)
            if f"{old}_min" in data:
                msg = f"give {old}_min (minutes) or the older {old} (seconds), not both"
                raise ValueError(msg)
            if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds < 0 or (old == "overflow_penalty" and seconds == 0):
                msg = f"{old} (seconds; now {old}_min, minutes) must be a number {'> 0' if old == 'overflow_penalty' else '≥ 0'}, got {seconds!r}"
                raise ValueError(msg)
            if seconds > MAX_WEIGHT_S:
                msg = f"{old}: Input should be less than or equal to {MAX_WEIGHT_S:,} (seconds; now {old}_min, minutes ≤ {MAX_WEIGHT_S // 60:,})"
                raise ValueError(msg)
            data[f"{old}_min"] = seconds / 60
        return data
    within_township: bool = Field(False, description="keep every zone inside its school's township")
    anytime: bool = Field(
        True, description="spend the rest of the time limit improving and proving the first plan (off: first plan only)"
    )
    gap_tolerance: float = Field(
        DEFAULT_GAP_TOLERANCE, ge=0, le=1, description="stop improving once the proven gap is at most this share"
    )

    def travel_limit_s(self, level: Level) -> float:
        """Longest acceptable one-way travel of ``level``, in seconds."""
        if level in self.max_travel_s:
            return float(self.max_travel_s[level])
        return DAY_MAX_ONE_WAY_S if self.max_travel_min is None else self.max_travel_min * 60

    def boarding_limit_s(self, level: Level) -> float | None:
        """Farthest one-way travel to a boarding school of ``level`` (``None``: boarding off)."""
        if not self.boarding:
            return None
        return max(float(self.boarding_reach_s.get(level, BOARDING_MAX_ONE_WAY_S)), self.travel_limit_s(level))

    def allowance(self, level: Level) -> float:
        """Living allowance per boarder-year of ``level``, yuan."""
        return float(self.allowance_yuan.get(level, BOARDING_ALLOWANCE_YUAN[level]))

    @property
    def stability_weight(self) -> float:
        """:attr:`stability_weight_min` in seconds of travel."""
        return self.stability_weight_min * 60

    @property
    def overflow_penalty(self) -> float:
        """:attr:`overflow_penalty_min` in seconds of travel."""
        return self.overflow_penalty_min * 60

    @property
    def stability_weight_s(self) -> int:
        """:attr:`stability_weight` in whole seconds."""
        return round(self.stability_weight)

    @property
    def overflow_penalty_s(self) -> int | None:
        """:attr:`overflow_penalty` in whole seconds when overflow is allowed, else ``None`` (capacity is hard)."""
        return round(self.overflow_penalty) if self.allow_overflow else None


#: Deterministic work (CP-SAT deterministic seconds, ≈ CPU seconds of one core) per
#: second of the user's ``time_limit_s``. Measured with process CPU time on the project's
#: machine: a work unit of the anytime phase (windows, knapsack bound, proof, with the
#: Python around them) costs 1.01-1.06 CPU seconds, so 0.4 units per second is about
#: 0.42 CPU seconds per second: a solve that does not close its gap works for about
#: 40 % of its time limit on a quiet machine. That leaves a margin of 2.4x for other
#: work on the machine (a second solve beside it, a test suite on two cores, a browser)
#: before the hard wall-clock cap (``time_limit_s``) stops a search first; 0.8 (85 % of
#: the limit) was tried and made same-input runs differ as soon as two runs shared the
#: cores (the sweep's workers beside another process). The work budget is what keeps the
#: plan reproducible (same inputs and seed, same plan); when the clock stops a search
#: the plan says so (``ZonePlan.wall_stops`` and ``details["wall_cap"]`` in
#: ``metrics.json``). The first plan's own work is charged too
#: (``planning.zones.anytime.FIRST_PLAN_WORK_PER_PAIR``).
WORK_PER_SECOND = 0.4


def work_budget(limits: SolveLimits, most: float | None = None) -> float:
    """Deterministic work budget of a solve given ``limits`` (at most ``most``)."""
    work = WORK_PER_SECOND * limits.time_limit_s
    return work if most is None else min(work, most)


#: Options with every default: what the model does when nothing is set.
DEFAULT_OPTIONS = ZoneOptions()


#: Limits of a solve given none (a scenario's ``[solver]`` table and seed give its own).
DEFAULT_LIMITS = SolveLimits()
