"""Settings of the rotation model: :class:`RotationOptions` (rules and weights) and :class:`SolveLimits`.

Every default is written here once (national rules from :mod:`geo.policy`); the ``rotation``
stage's parameters inherit these fields, so a scenario's ``[rotation]`` table and the
``schoolplan rotate`` flags set them by the same flat names.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from geo.model import AreaName, StrengthName
from geo.policy import ROTATION_BACKBONE_MIN_SHARE, ROTATION_MAX_COMMUTE_S, ROTATION_MAX_LOSS_SHARE, ROTATION_MIN_SHARE
from planning.limits import SolveLimits
from planning.rotation.eligibility import EligibilityRules

#: Default cap on the share of a school's eligible teachers that rotate in one year. Not a
#: national rule (which sets only the 10% floor): local practice rotates 10-20% a year so
#: that schools stay stable; counties change it with ``max_share``.
DEFAULT_MAX_SHARE = 0.20
#: Largest objective weight, points: 10,000 times the default gap weight. The objective is
#: solved as an LP (GLOP) and in integers (× OBJ_SCALE, CP-SAT): an infinite weight cannot be
#: converted at all, and one of 1e15 stops GLOP (status ABNORMAL) on any county. Within the bound
#: an extreme mix (commute 1e6 points a minute beside a gap weight of 1e8) can still stop it:
#: a solver failure (exit 4) that names GLOP, not a crash.
MAX_WEIGHT_POINTS = 1e9


class RotationOptions(EligibilityRules):
    """Settings of a rotation plan; defaults are the national rules (教师〔2014〕4号).

    The eligibility rules are inherited from :class:`EligibilityRules`, so an options object
    is also the ``rules`` of :func:`~planning.rotation.rotation_eligibility`.

    Attributes
    ----------
    min_share
        Sending schools rotate at least this share of their eligible teachers
        (rounded up).
    max_share
        A school sends out at most this share of its eligible teachers (rounded
        down, never below its quota); ``None`` for no cap. Without a cap the
        balance objective would move every teacher whose move narrows the gap.
        When not given it is :data:`DEFAULT_MAX_SHARE`, or ``min_share`` when that
        is larger; given, it must be at least ``min_share``.
    backbone_share
        Backbone teachers are at least this share of a sending school's movers
        (applied in whole percent; Gansu: 0.30).
    quota_scope
        ``school``: each sending school meets both quotas; ``county``: the
        sending schools together do.
    staffing
        ``exchange``: per school and subject, teachers in = teachers out;
        ``tolerance``: the count after rotation stays within
        ``staffing_tolerance`` of the county's target (the staffing targets
        table, or today's count), never worse than today, and a school never
        loses its only teacher of a subject.
    staffing_tolerance
        Allowed distance from the target in ``tolerance`` mode.
    max_loss_share
        No school, sending or receiving, loses more than this share of its
        teachers in one year (rounded down: a school of fewer than
        ``1/max_loss_share`` teachers sends none). Teaching points never send and
        no school sends its only teacher of a subject.
    never_worse
        For each level, no balance CV the plan targets (backbone and
        above-qualification teachers per 100 pupils) nor the other teacher
        indicators of the 基本均衡 composite rises (see :mod:`planning.rotation.guard`);
        a quota that cannot be met without it is a shortfall.
    relax_quotas
        ``None`` (default): quotas that cannot be met are shortfalls of the plan
        unless the stage is strict; ``true``: always shortfalls; ``false``: always
        raise :class:`~geo.errors.InfeasibleError`.
    language
        Language of each move's reason (``zh``: Chinese, subjects by their Chinese
        names); ``None``: the report's (``[report] language``, Chinese by default)
        in a run, English in the library.
    max_commute_min
        Longest commute to the new school in minutes (from home when known, else
        from the current school); :attr:`max_commute_s` in whole seconds. The key
        ``max_commute_s`` (seconds) of earlier scenarios is still read.
    sending_area_types, sending_strength
        A school sends when its ``area_type`` (``urban``, ``town``, ``rural``) or its
        strength class (``strong``, ``middle``, ``weak``) is listed.
    receiving_area_types, receiving_strength
        A school that does not send receives when its ``area_type`` or strength
        class is listed. Default: rural and town schools (乡村学校 in 教师〔2014〕4号
        count township schools too; without them a county whose junior schools are
        all in towns would plan no junior rotation at all).
    return_moves
        Teachers of receiving schools may move to sending schools (the exchange
        half that keeps staffing whole).
    allow_other_schools
        Sending schools may also send to (and receive from) schools that are
        neither sending nor receiving.
    max_destinations
        Candidate destinations per group of teachers: the nearest ones, same
        community first. Larger is a larger model.
    gap_weight
        Points per unit of the L1 spread surrogate (see :mod:`planning.rotation.model`).
    commute_weight_per_min
        Points per minute of one-way commute per mover.
    move_penalty
        Points per move (fewer moves when the gap allows).
    outside_community_penalty
        Points per move between schools of different communities (when known).
    relative_gap
        CP-SAT stops once the plan is proven within this relative gap of the bound.
    """

    # quotas and staffing
    min_share: float = Field(ROTATION_MIN_SHARE, ge=0, le=1, description="sending schools rotate at least this share of eligible teachers")
    max_share: float | None = Field(DEFAULT_MAX_SHARE, ge=0, le=1, description="a school sends out at most this share of eligible teachers")
    backbone_share: float = Field(ROTATION_BACKBONE_MIN_SHARE, ge=0, le=1, description="backbone teachers are at least this share of movers")
    quota_scope: Literal["school", "county"] = Field("school", description="quotas met by each sending school or by them together")
    staffing: Literal["exchange", "tolerance"] = Field(
        "exchange", description="exchange: in = out per school and subject; tolerance: near the target count"
    )
    staffing_tolerance: int = Field(1, ge=0, le=100, description="allowed distance from the target count in tolerance mode")
    max_loss_share: float = Field(
        ROTATION_MAX_LOSS_SHARE, ge=0, le=1, description="no school loses more than this share of its teachers in a year"
    )
    never_worse: bool = Field(True, description="no targeted balance CV may rise, per level (a constraint of the model)")
    language: Literal["zh", "en"] | None = Field(None, description="language of the reasons; none: the report's")
    relax_quotas: bool | None = Field(
        None, description="quotas that cannot be met: shortfalls (true), stop (false), or stop only when strict (none)"
    )
    # direction and distance
    max_commute_min: float = Field(
        ROTATION_MAX_COMMUTE_S / 60, gt=0, le=6 * 60,
        description="longest commute to the new school, minutes (from home when known, else from the current school)",
    )
    sending_area_types: tuple[AreaName, ...] = Field(("urban",), description="area types of sending schools")
    sending_strength: tuple[StrengthName, ...] = Field(("strong",), description="strength classes of sending schools")
    receiving_area_types: tuple[AreaName, ...] = Field(
        ("rural", "town"), description="area types of receiving schools (乡村学校: township and village schools)"
    )
    receiving_strength: tuple[StrengthName, ...] = Field(("weak",), description="strength classes of receiving schools")
    return_moves: bool = Field(True, description="teachers of receiving schools may move to sending schools")
    allow_other_schools: bool = Field(False, description="sending schools also exchange with schools neither sending nor receiving")
    max_destinations: int = Field(20, ge=1, le=1000, description="candidate destinations per group of teachers")
    # objective
    gap_weight: float = Field(
        100_000.0, ge=0, le=MAX_WEIGHT_POINTS, description="points per unit of the spread of the indicators between schools"
    )
    commute_weight_per_min: float = Field(1.0, ge=0, le=MAX_WEIGHT_POINTS, description="points per minute of commute per mover")
    move_penalty: float = Field(20.0, ge=0, le=MAX_WEIGHT_POINTS, description="points per move")
    outside_community_penalty: float = Field(
        30.0, ge=0, le=MAX_WEIGHT_POINTS, description="points per move out of the school's community"
    )
    # solver
    relative_gap: float = Field(1e-3, ge=0, le=1, description="stop once within this relative gap of the bound")

    @model_validator(mode="before")
    @classmethod
    def _commute_seconds(cls, data: Any) -> Any:
        """``max_commute_s`` (seconds, the key of earlier scenarios) read as ``max_commute_min``."""
        if not isinstance(data, dict) or "max_commute_s" not in data:
            return data
        data = dict(data)
        seconds = data.pop("max_commute_s")
        if "max_commute_min" in data:
            raise ValueError("give max_commute_min (minutes) or the older max_commute_s (seconds), not both")
        if isinstance(seconds, bool) or not isinstance(seconds, int | float) or not seconds > 0:
            msg = f"max_commute_s (seconds; now max_commute_min, minutes) must be a number > 0, got {seconds!r}"
            raise ValueError(msg)
        return {**data, "max_commute_min": seconds / 60}

    @property
    def max_commute_s(self) -> int:
        """:attr:`max_commute_min` in whole seconds."""
        return round(self.max_commute_min * 60)

    @model_validator(mode="before")
    @classmethod
    def _default_max_share(cls, data: Any) -> Any:
        """``max_share`` not given: :data:`DEFAULT_MAX_SHARE`, raised to ``min_share`` (a local rule of 30% keeps working)."""
        if isinstance(data, dict) and "max_share" not in data and isinstance(data.get("min_share"), int | float):
            return {**data, "max_share": max(DEFAULT_MAX_SHARE, float(data["min_share"]))}
        return data

    @model_validator(mode="after")
    def _share_order(self) -> RotationOptions:
        if self.max_share is not None and self.min_share > self.max_share:
            msg = (
                f"min_share ({self.min_share:g}) must be ≤ max_share ({self.max_share:g}): sending schools cannot "
                "rotate at least the one share and at most the other"
            )
            raise ValueError(msg)
        return self


#: The national rules, national weights and default limits.
DEFAULT_OPTIONS = RotationOptions()
DEFAULT_LIMITS = SolveLimits()
