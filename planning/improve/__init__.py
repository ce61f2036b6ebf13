"""Reaching 优质均衡: the least-cost set of measures that makes a county pass (达标提升方案).

What to build, buy and staff where so that, per level, each of the 7 优质均衡 indicator CVs
is within its threshold (computed exactly, the official enrolment-weighted way) and every
school meets at least 6 of the 7 standards with the 7th at ≥ 85 %, at the lowest cost. Two doors:

``from_arrays`` (an :class:`ImproveProblem` of counts, amounts and costs in, an
:class:`ImproveSolution` of whole units out)::

    from planning.improve import from_arrays
    sol = from_arrays(prob, limits=SolveLimits(time_limit_s=10))
    sol.units, sol.cost, sol.bound, sol.gap

``from_frames`` (the schools layer and teachers table in, an :class:`ImprovePlan` out)::

    from planning.improve import ImproveOptions, from_frames
    plan = from_frames(schools, teachers, options=ImproveOptions(backbone_per_year=30))
    plan.measures    # school_id, name, resource, quantity, cost_yuan, year
    plan.cv          # each CV before and after, by the balance code

Modules: :mod:`~planning.improve.costs` (default units and costs with their sources),
:mod:`~planning.improve.options` (settings), :mod:`~planning.improve.problem` (arrays and the exact
CV algebra), :mod:`~planning.improve.greedy` (the baseline and the CV repair),
:mod:`~planning.improve.model` (the exact method), :mod:`~planning.improve.build` (tables → arrays),
:mod:`~planning.improve.targets` (targets out of reach and budgets below the least cost: the best-effort
order), :mod:`~planning.improve.shortfalls` (what is left, and what it would take),
:mod:`~planning.improve.phasing` (measures over the years), :mod:`~planning.improve.coupled` (limits several
standards share, met together), :mod:`~planning.improve.highs` (HiGHS without its debug print).
"""

from planning.improve.model import ImproveSolution
from planning.improve.model import solve_improve_core as from_arrays
from planning.improve.options import ImproveOptions
from planning.improve.plan import ImprovePlan, apply_measures
from planning.improve.plan import plan_improvement as from_frames
from planning.improve.problem import ImproveProblem

__all__ = ["ImproveOptions", "ImprovePlan", "ImproveProblem", "ImproveSolution", "apply_measures", "from_arrays", "from_frames"]
