"""Plausibility on generated counties: strong schools and leads are schools a bureau would name.

On the demo (清涧县 at several scales, 环县) and on generated counties of other shapes (a wide
county, a county with two towns): no school under 100 pupils and no teaching point is strong,
leads or partners a weak school; every lead is urban or town; communities always return a plan
(shortfalls listed, not a stop). Travel is by straight line at 30 km/h here (the stage uses roads).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import shapely

from geo.demo import DemoCounty, build_demo, generate_county
from geo.travel import straight_line_matrix
from planning.balance import StrengthOptions
from planning.communities import CommunityOptions, SolveLimits, from_frames

LIMITS = SolveLimits(time_limit_s=2.0, workers=1, seed=1)


def wide_county() -> DemoCounty:
    """A county 1.6° wide and 0.25° high (≈ 140 × 28 km): a long valley."""
    return generate_county(shapely.box(108.0, 37.0, 109.6, 37.25), code="000002", name="长川县", seed=5)


def two_town_county() -> DemoCounty:
    """Two lobes joined by a neck, each with its own centre."""
    outline = shapely.union(shapely.box(110.0, 36.0, 110.4, 36.3), shapely.box(110.6, 36.0, 111.0, 36.3))
    outline = shapely.union(outline, shapely.box(110.4, 36.12, 110.6, 36.18))
    return generate_county(outline, code="000003", name="双城县", seed=6, scale=0.7)


CASES = {
    "qingjian-1": lambda: build_demo("610830"),
    "qingjian-1.5": lambda: build_demo("610830", scale=1.5),
    "qingjian-3": lambda: build_demo("610830", scale=3),
    "huanxian": lambda: build_demo("621022"),
    "wide": wide_county,
    "two-towns": two_town_county,
}


@pytest.mark.parametrize("central", [False, True], ids=["default", "central"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_strong_schools_and_leads_are_schools_that_can_lead(case: str, central: bool) -> None:
    demo = CASES[case]()
    schools, teachers = demo.inputs.schools, demo.inputs.teachers
    strength = StrengthOptions().compute(schools, teachers)
    strong = strength[strength["strength_class"] == "strong"]
    assert len(strong) > 0, "a county without a single strong school"
    assert (strong["pupils"] >= 100).all() and not strong["teaching_point"].any() and strong["complete"].all()
    assert set(strong["area_type"]) <= {"urban", "town"}

    ids = schools["school_id"].astype(str).to_numpy()
    xy = np.column_stack([schools.geometry.x, schools.geometry.y])
    travel = straight_line_matrix(ids, xy, ids, xy, speed_kmh=30, cutoff_s=3 * 3600, mode="drive")
    opts = CommunityOptions(allow_unassigned=True, central_schools=central)
    plan = from_frames(schools, strength, travel, options=opts, limits=LIMITS)

    leads = pd.Index(plan.groups.loc[plan.groups["role"] == "lead", "school_id"].unique())
    partners = pd.Index(plan.pairs["strong_id"].unique())
    for who in (leads, partners):
        info = strength.loc[who]
        assert (info["pupils"] >= 100).all(), info[info["pupils"] < 100]
        assert not info["teaching_point"].any()
        assert info["complete"].all()
    assert set(strength.loc[leads, "area_type"]) <= {"urban", "town"}
    assert set(strength.loc[partners, "strength_class"]) == {"strong"} or partners.empty
    # every school that must join is in a group or listed as a shortfall with its reason
    must = strength.index[(strength["strength_class"] == "weak") | (strength["area_type"] == "rural")]
    placed = set(plan.groups["school_id"]) | set(plan.unassigned.loc[plan.unassigned["plan"] == "group", "school_id"])
    assert set(must) <= placed
    left = plan.unassigned[plan.unassigned["plan"] == "group"]
    assert len(plan.shortfalls) >= len(left) and all(r for r in left["reason"])
    if central:
        assert plan.metrics["primary"]["central_groups"] > 0
    else:
        # a lead that is not strong (the strong ones within reach are full) is said, group by group
        lead_rows = plan.groups.loc[plan.groups["role"] == "lead", ["level", "school_id"]].drop_duplicates()
        weak_leads = [r for r in lead_rows.itertuples() if strength.loc[r.school_id, "strength_class"] != "strong"]
        said = [s for s in plan.shortfalls if s.unit == "strong lead"]
        assert len(said) == len(weak_leads)
