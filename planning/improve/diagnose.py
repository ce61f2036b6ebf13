"""Why a county cannot be brought to standard: which part, which standard, and what it would take.

:func:`diagnose` reads the per-school rule in whole units (:func:`~planning.improve.problem.school_rules`)
against the caps on the decisions (site area for the sports ground, hires per school, the
measures the bureau allows) and the side limits (the yearly training limit), before any solve.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from planning.improve.problem import ImproveProblem, SchoolRules

#: Kinds of gap.
BELOW_85 = "below_85"  # a standard cannot reach 85 % of its value
TOO_MANY_UNMET = "too_many_unmet"  # more standards than allowed cannot reach 100 %
TRAINING_LIMIT = "training_limit"  # the yearly training limit is below the backbone teachers needed
COUPLED = "coupled"  # each standard is reachable alone, not all together within shared limits (planning.improve.coupled)


@dataclass(frozen=True)
class Gap:
    """One reason the rule cannot be met.

    Attributes
    ----------
    kind
        :data:`BELOW_85`, :data:`TOO_MANY_UNMET`, :data:`TRAINING_LIMIT` or :data:`COUPLED`.
    part
        Part index (-1 for the county).
    indicators
        Indicators concerned.
    reachable_share
        Highest share of the standard the caps allow (per indicator, same order).
    short_units
        Units beyond the caps it would take (per indicator): at least 85 % for :data:`BELOW_85`,
        100 % for :data:`TOO_MANY_UNMET` (the cheapest of the blocked standards beyond the allowance),
        the backbone teachers beyond the limit for :data:`TRAINING_LIMIT`, to 100 % for :data:`COUPLED`.
    limits
        For :data:`COUPLED`: the kinds of side limit that bind together (``hires``, ``backbone_candidates``,
        ``backbone_per_year``).
    """

    kind: str
    part: int
    indicators: tuple[int, ...]
    reachable_share: tuple[float, ...]
    short_units: tuple[int, ...]
    limits: tuple[str, ...] = ()


def _reachable(prob: ImproveProblem, rules: SchoolRules, r: int | np.integer) -> float:
    i, k = int(rules.part[r]), int(rules.indicator[r])
    need = float(prob.need[i, k])
    return (float(prob.resource[i, k]) + rules.units[r] * rules.cap[r]) / need if need > 0 else 1.0


def diagnose(prob: ImproveProblem, rules: SchoolRules) -> list[Gap]:
    """Every part whose rule the caps make impossible, and a training limit below what the rule needs."""
    gaps: list[Gap] = []
    for part in np.unique(rules.part):
        mine = np.flatnonzero(rules.part == part)
        low = [r for r in mine if rules.need85[r] > rules.cap[r]]
        if low:
            gaps.append(
                Gap(
                    BELOW_85,
                    int(part),
                    tuple(int(rules.indicator[r]) for r in low),
                    tuple(_reachable(prob, rules, r) for r in low),
                    tuple(int(rules.need85[r] - rules.cap[r]) for r in low),
                )
            )
            continue
        blocked = [r for r in mine if rules.need100[r] > rules.cap[r]]
        if len(blocked) > rules.exempt[part]:
            gaps.append(
                Gap(
                    TOO_MANY_UNMET,
                    int(part),
                    tuple(int(rules.indicator[r]) for r in blocked),
                    tuple(_reachable(prob, rules, r) for r in blocked),
                    tuple(int(rules.need100[r] - rules.cap[r]) for r in blocked),
                )
            )
    if "backbone_per_year" in prob.side_label:
        row = prob.side_label.index("backbone_per_year")
        limit = float(prob.side_rhs[row])
        bb = [r for r in range(len(rules.part)) if rules.indicator[r] == 1]
        least = int(sum(int(rules.need85[r]) for r in bb))
        if least > limit:
            gaps.append(Gap(TRAINING_LIMIT, -1, (1,), (limit / least if least else 1.0,), (int(least - limit),)))
    return gaps
