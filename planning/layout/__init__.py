"""School layout (学校布局规划): where to build, expand, merge or keep schools.

The array-level core is :func:`locate`, single-source capacitated facility location with
existing sites and a cap on open sites::

    from planning.layout import locate

    r = locate(cost, demand, capacity, open_cost, existing=mask, max_open=12, time_limit_s=10)
    r.open, r.assign, r.objective, r.bound, r.gap, r.status

The layout model on top (:func:`plan_layout`, settings in :class:`LayoutOptions`) decides per
school keep / expand / shrink / merge / close and which candidate sites to build, under the
travel, boarding, class and school-size rules, at least cost in yuan over the horizon.

Modules: :mod:`~planning.layout.model` (the layout model), :mod:`~planning.layout.options`
(its limits and costs), :mod:`~planning.layout.locate` (the core and its checks), :mod:`~planning.layout.lagrange`
(the lower bound), :mod:`~planning.layout.heuristic` (plans and local search),
:mod:`~planning.layout.cpsat` (the CP-SAT model), :mod:`~planning.layout.fixing` (reduced-cost fixing: what a plan cheaper
than a known one may use; the benchmark's proofs).
"""

from planning.layout.locate import LocateResult, locate
from planning.layout.model import GROUPS, LayoutPlan, LayoutProblem, SchoolDecision, plan_layout
from planning.layout.options import LayoutOptions

__all__ = ["GROUPS", "LayoutOptions", "LayoutPlan", "LayoutProblem", "LocateResult", "SchoolDecision", "locate", "plan_layout"]
