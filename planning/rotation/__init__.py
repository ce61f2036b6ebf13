"""Teacher and principal rotation (校长教师交流轮岗, 教师〔2014〕4号): a yearly plan.

Who may rotate (:func:`rotation_eligibility`, rules in :class:`EligibilityRules`), then an
optimization that meets every school's quotas (at least ``min_share`` of its eligible
teachers, ``backbone_share`` of them backbone teachers), keeps staffing whole per subject,
narrows the gap between schools on backbone and above-qualification teachers per pupil and
keeps commutes short, with a stated reason per move. Two doors:

``from_frames`` (tables in, a :class:`RotationPlan` out)::

    from planning.rotation import RotationOptions, SolveLimits, from_frames

    plan = from_frames(schools, teachers, school_travel=travel,
                       options=RotationOptions(quota_scope="county"), limits=SolveLimits(workers=1))
    plan.moves          # teacher_id, from_school, to_school, ..., reason

``from_arrays`` (a :class:`RotationProblem` of ids, integer counts and seconds in, a
:class:`CoreSolution` of integer flows out)::

    from planning.rotation import RotationProblem, from_arrays

    sol = from_arrays(RotationProblem(...), limits=SolveLimits(time_limit_s=10))
    sol.flow, sol.objective, sol.bound, sol.gap

Modules: :mod:`~planning.rotation.eligibility` (who may rotate), :mod:`~planning.rotation.options`
(settings), :mod:`~planning.rotation.model` (the formulation and its solve),
:mod:`~planning.rotation.build` (tables → arrays) and :mod:`~planning.rotation.plan` (the table door,
reasons, the county after the plan).
"""

from planning.rotation.eligibility import EligibilityRules, rotation_eligibility
from planning.rotation.model import CoreSolution
from planning.rotation.model import solve_rotation_core as from_arrays
from planning.rotation.options import RotationOptions, SolveLimits
from planning.rotation.plan import RotationPlan, apply_moves, balance_change
from planning.rotation.plan import plan_rotation as from_frames
from planning.rotation.problem import RotationProblem

__all__ = [
    "CoreSolution",
    "EligibilityRules",
    "RotationOptions",
    "RotationPlan",
    "RotationProblem",
    "SolveLimits",
    "apply_moves",
    "balance_change",
    "from_arrays",
    "from_frames",
    "rotation_eligibility",
]
