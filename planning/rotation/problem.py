"""The rotation problem on plain arrays (:class:`RotationProblem`) and the units its model counts in.

Shared by the formulation and its solve (:mod:`planning.rotation.model`) and the constructive
start (:mod:`planning.rotation.greedy`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from planning.rotation.guard import CvGuard

#: Deviations are counted in hundredths of a teacher: fair shares ``Pᵢ·β`` are fractional.
DEV_SCALE = 100
#: Objective points are multiplied by this and rounded to integers for CP-SAT
#: (0.01 point resolution: a commute second costs 1/60 point).
OBJ_SCALE = 100
#: A missing mover (or backbone mover) when quotas are relaxed costs this many times the
#: most one mover and its exchange partner can change the rest of the objective.
SHORTFALL_FACTOR = 4
#: Backbone share is applied in whole percent (``100·backbone_out ≥ R·out``).
PERCENT = 100

INDICATORS: tuple[str, ...] = ("backbone", "above_qualification")

Status = Literal["OPTIMAL", "FEASIBLE"]


@dataclass(frozen=True)
class RotationProblem:
    """The model on plain arrays (see the module docstring for the formulation).

    Attributes
    ----------
    n_schools, n_subjects
        Schools are ``0..n_schools-1``, subjects ``0..n_subjects-1``.
    pupils
        ``(n_schools,)`` pupils of each school (weights of the balance indicators).
    indicator_count
        ``(n_schools, 2)`` teachers now at each school who are backbone /
        above the required qualification.
    staff_now, staff_lo, staff_hi
        ``(n_schools, n_subjects)`` teachers of each subject now and the bounds
        after rotation.
    quota_group
        ``(n_schools,)`` quota group of each school (a sending school's own index
        per school, 0 for the county), ``-1`` for schools without a quota.
    quota_movers
        ``(n_groups,)`` movers each quota group must send out.
    backbone_percent
        ``R``: backbone movers ≥ ``R``% of a group's movers.
    unit_school, unit_subject, unit_count, unit_backbone, unit_qualified
        Units of interchangeable eligible teachers.
    arc_unit, arc_dest, arc_cost
        Candidate moves: unit → destination school, integer cost per teacher in
        :data:`OBJ_SCALE` × points (commute, per-move and community penalties).
    dev_weight
        ``(2,)`` integer cost per hundredth of a teacher of deviation, per indicator.
    relax_quotas
        Add shortfall variables instead of hard quotas.
    move_cap
        ``(n_schools,)`` most teachers a school may send out (``-1``: no cap), or ``None``.
    guard
        The never-worse rows (:mod:`planning.rotation.guard`): no targeted CV rises; ``None``: off.
    """

    n_schools: int
    n_subjects: int
    pupils: NDArray[np.int64]
    indicator_count: NDArray[np.int64]
    staff_now: NDArray[np.int64]
    staff_lo: NDArray[np.int64]
    staff_hi: NDArray[np.int64]
    quota_group: NDArray[np.int64]
    quota_movers: NDArray[np.int64]
    backbone_percent: int
    unit_school: NDArray[np.int64]
    unit_subject: NDArray[np.int64]
    unit_count: NDArray[np.int64]
    unit_backbone: NDArray[np.bool_]
    unit_qualified: NDArray[np.bool_]
    arc_unit: NDArray[np.int64]
    arc_dest: NDArray[np.int64]
    arc_cost: NDArray[np.int64]
    dev_weight: NDArray[np.int64]
    relax_quotas: bool = False
    move_cap: NDArray[np.int64] | None = None
    guard: CvGuard | None = None


def shortfall_penalty(prob: RotationProblem) -> float:
    """Cost (scaled points) of one missing backbone mover; a missing mover costs twice this.

    :data:`SHORTFALL_FACTOR` times the most one mover and its exchange partner can change the rest
    of the objective, so that shortfalls are as small as they can be.
    """
    per_mover = 2 * (2 * DEV_SCALE * int(prob.dev_weight.sum()) + (int(prob.arc_cost.max()) if len(prob.arc_cost) else 0))
    return float(SHORTFALL_FACTOR * max(per_mover, OBJ_SCALE))


def fair_share(prob: RotationProblem, k: int) -> NDArray[np.float64]:
    """``Tᵢ``: each school's fair share of indicator ``k`` in hundredths of a teacher, rounded."""
    total_pupils = float(prob.pupils.sum())
    total_k = float(prob.indicator_count[:, k].sum())
    if total_pupils > 0:
        return np.rint(DEV_SCALE * prob.pupils * total_k / total_pupils)
    return np.zeros(prob.n_schools)
