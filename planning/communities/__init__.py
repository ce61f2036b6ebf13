"""Strong–weak school communities: "1+N" groups (集团化办学, 城乡学校共同体) and one-to-one pairing (结对帮扶).

Two models, each with two doors:

- Groups (CP-SAT; :mod:`planning.communities.groups`). :func:`from_arrays` takes
  ids, strength, travel seconds and a role per school (``lead``, ``must``,
  ``may``, ``out``) and returns a :class:`GroupSolution`; :func:`from_frames`
  takes the schools layer, the strength frame and a travel matrix, chooses leads
  and roles per level, solves and pairs, and returns a :class:`CommunityPlan`::

      from planning import communities
      plan = communities.from_frames(schools, strength, travel, options=communities.CommunityOptions(max_members=3))
      sol = communities.from_arrays(["L", "a", "b"], [1.2, 0.6, 0.7], time_s, ["lead", "must", "must"])

- Pairing (min-cost flow; :mod:`planning.communities.pairing`).
  :func:`pairs_from_arrays` takes a weak × strong travel array and returns a
  :class:`PairingSolution`; :func:`pairs_from_frames` pairs every weak school of
  a county with a strong school of its level (:class:`PairPlan`).

Every setting is a field of :class:`CommunityOptions` (``[communities]`` in a
scenario); CP-SAT's limits come as :class:`SolveLimits`.
"""

from planning.communities.groups import CommunityPlan, GroupMarks, GroupSolution
from planning.communities.groups import form_communities as from_frames
from planning.communities.groups import solve_groups as from_arrays
from planning.communities.options import CommunityOptions, SolveLimits
from planning.communities.pairing import PairingSolution, PairPlan
from planning.communities.pairing import form_pairs as pairs_from_frames
from planning.communities.pairing import pair_schools as pairs_from_arrays

__all__ = [
    "CommunityOptions",
    "CommunityPlan",
    "GroupMarks",
    "GroupSolution",
    "PairPlan",
    "PairingSolution",
    "SolveLimits",
    "from_arrays",
    "from_frames",
    "pairs_from_arrays",
    "pairs_from_frames",
]
