"""Catchment zones (划片招生): single-school zones, multi-school zones and primary → junior feeders.

Single-school zones give every residential block one school so that students
travel least, no school is above capacity, few students change school (when
asked) and every zone is one connected piece; the plan comes with a proven
bound and gap and with the nearest-school baseline beside it (the model and the
method: :mod:`planning.zones.plan`). Two doors:

>>> from planning.zones import ZoneOptions, from_arrays, from_frames, Reach  # doctest: +SKIP
>>> plan = from_arrays(travel, demand, seats, reach=Reach(max_travel_s=1800),
...                    options=ZoneOptions(max_moved=500))            # doctest: +SKIP
>>> level = from_frames(blocks, schools, travel, level="primary", cells=cells,
...                     adjacency=adjacency, options=ZoneOptions())    # doctest: +SKIP

``from_arrays`` takes a blocks × schools :class:`geo.travel.TravelMatrix`,
students per block and seats per school (integers) and returns a
:class:`ZonePlan`; ``nearest_from_arrays`` gives the baseline alone.
``from_frames`` takes the blocks and schools layers of one level, builds the
arrays and returns :class:`LevelZones` (the plan, the baseline, one polygon per
zone, figures). Multi-school zones (多校划片, :func:`plan_multischool`) and the
feeder map (对口直升, :func:`plan_feeder`) start from the plans.
"""

from planning.zones.feeder import FeederPlan, plan_feeder
from planning.zones.frames import LevelZones, from_frames, school_roots
from planning.zones.instance import REASON_NO_SCHOOL, REASON_TOWNSHIP, BlockGraph, Reach
from planning.zones.multischool import MultiSchoolPlan, plan_multischool
from planning.zones.options import Level, Method, SolveLimits, ZoneOptions
from planning.zones.plan import ZonePlan
from planning.zones.plan import nearest_zones as nearest_from_arrays
from planning.zones.plan import optimal_zones as from_arrays

__all__ = [
    "REASON_NO_SCHOOL",
    "REASON_TOWNSHIP",
    "BlockGraph",
    "FeederPlan",
    "Level",
    "LevelZones",
    "Method",
    "MultiSchoolPlan",
    "Reach",
    "SolveLimits",
    "ZoneOptions",
    "ZonePlan",
    "from_arrays",
    "from_frames",
    "nearest_from_arrays",
    "plan_feeder",
    "plan_multischool",
    "school_roots",
]
