"""Settings of the layout model: :class:`LayoutOptions`, every policy limit, merge rule and default cost written once.

Policy limits come from :mod:`geo.policy` (国办发〔2018〕27号, GB 50099-2011): grades 1–3 are day
pupils within 30 minutes one way; older pupils are day pupils within the same 30 minutes or board.

**Merge rules** (国办发〔2012〕48号: no blind closures; what a bureau signs). Each is an option:

- ``boarding_max_s`` 60 min: the plan sends no boarder farther than an hour one way (a weekly trip a
  family or the school bus makes); today's boarding schools may take boarders from farther (the zones
  stage allows 2 h), but a layout plan does not create such trips.
- ``merge_rule = "up"``: the children of a school go only to a school of a higher kind (teaching point <
  village school < township school < county-seat school or a new site) or of the same kind with at least
  as many pupils today — never into a teaching point, never from a larger school into a smaller one.
  The same rule bounds every child's move, merged or not; ``"any"`` lifts it.
- ``close_town_and_urban = false``: township schools (central schools, town junior and nine-year
  schools, the boarding schools of 27号) and county-seat schools stay open, however few pupils they keep.
- ``close_below_pupils`` 100: only schools with fewer pupils today may close — the 乡村小规模学校 of
  27号; a larger village school is a school a village keeps.
- ``max_close_share`` 0.25: at most a quarter of today's schools close in the plan period (the
  cheapest-to-lose ones by the costs below): 48号 asks for a steady pace, each closure with its
  parents' consultation and hearing, and a county's bureau holds a few hearings a year.
- Every child of a closed school is placed within the limits (48号: the receiving school must be in
  reach): a merger needs an allowed school for every group it moves; children beyond every limit
  today keep their nearest school, so that school cannot close.

**Costs** are in yuan and are assumptions a scenario overrides (provinces differ); each default and its basis:

- ``construction_yuan_per_class`` 1,200,000: about 400 m² of building per class (a 24-class
  primary school of ~10,000 m², 建标 109-2008 scale) at ~3,000 yuan/m².
- ``school_yuan_year`` 150,000: running a school besides its teachers — the public funds of a small
  rural school (公用经费 ~650 yuan primary / ~850 junior per pupil, a school under 100 pupils funded as
  100: ~65,000) plus winter heating, upkeep and a guard (~85,000).
- ``class_yuan_year`` primary 240,000, junior 300,000: the teachers a class needs (rural staffing
  1:19 primary, 1:13.5 junior → ~2.4 and ~3.7 teachers) at ~100,000 / ~80,000 yuan a year with
  social insurance; the posts of a closed school move with its children (县管校聘), so this is
  saved only as the receiving schools need fewer new posts over the horizon.
- ``bus_yuan_per_child_year`` 4,000: a free school-bus seat (校车): a 19-seat bus with its driver,
  fuel, insurance and depreciation at ~150,000 a year carrying ~35 children; day pupils beyond ``bus_from_s``.
- ``boarding_yuan_primary`` / ``_junior`` 1,000 / 1,250: the living allowance per boarder (两免一补),
  paid here for every boarder (an upper bound of what the county pays), plus
  ``boarding_care_yuan_per_child_year`` 2,500: a house parent (生活老师, ~1 per 40 boarders at
  ~60,000) and the dormitory place (~8 m² at 3,000 yuan/m² over 25 years, heating, upkeep).
- ``travel_yuan_per_hour`` 15: a child's hour on the road, at a rural worker's hourly income
  (~120 yuan a day); grades 1–3 travel with an adult (``escort_factor_lower`` 2). Day pupils travel
  twice a school day (190 days), boarders twice a week (38 weeks).

With these defaults closing a teaching point of 15 pupils saves ~0.4 M yuan a year and costs its
children ~0.1 M in buses and time, so the rules above, not the costs, set how many schools close:
small schools with a larger one in reach close up to ``max_close_share``; township and county-seat
schools, and schools of 100 pupils or more, stay.

The objective adds the one-off construction to ``horizon_years`` times the yearly costs.
"""

from __future__ import annotations

from typing import Final, Literal

from pydantic import BaseModel, ConfigDict, Field

from geo.policy import (
    BOARDING_ALLOWANCE_YUAN,
    CLASS_SIZE_JUNIOR,
    CLASS_SIZE_PRIMARY,
    DAY_MAX_ONE_WAY_S,
    MAX_PUPILS_NINE_YEAR_SCHOOL,
    MAX_PUPILS_SINGLE_LEVEL_SCHOOL,
    SMALL_RURAL_SCHOOL_PUPILS,
)

#: Teaching days and boarding weeks a school year (义务教育课程方案: 35 teaching weeks + review and exams).
SCHOOL_DAYS_YEAR: Final = 190
BOARDING_WEEKS_YEAR: Final = 38
#: Longest one-way trip of a boarder the plan creates (module docstring).
PLAN_BOARDING_MAX_S: Final = 60 * 60
#: Schools with fewer pupils may close (乡村小规模学校, 国办发〔2018〕27号).
SMALL_SCHOOL_PUPILS: Final = SMALL_RURAL_SCHOOL_PUPILS


class LayoutOptions(BaseModel):
    """Policy limits and costs of a layout plan (module docstring for the sources of the defaults).

    Attributes
    ----------
    day_max_s
        Longest one-way trip of a day pupil; grades 1–3 never board, so for them it is a hard limit.
    boarding_max_s
        Longest one-way trip of a boarder (older pupils at boarding schools only).
    merge_rule
        ``up``: children move only to a school of a higher kind, or of the same kind and at least as
        large (never into a teaching point); ``any``: to any school.
    close_town_and_urban
        Township and county-seat schools may close (default: they stay open).
    close_below_pupils
        Only schools with fewer pupils today may close (0: none may close; a large number: any).
    max_close_share
        Most of today's schools that may close (merged or closed), as a share of them (rounded down).
    bus_from_s
        Day pupils whose trip is longer than this ride a school bus (and pay its cost).
    class_size_primary, class_size_junior
        Pupils per class (capacity comes in whole classes).
    max_pupils_school, max_pupils_nine_year
        School size limits: one level; a school teaching both (nine-year).
    min_classes_primary, min_classes_junior
        Classes an open complete school keeps at least (one per grade); an incomplete school no more
        than it has today; a teaching point one.
    horizon_years
        Years the yearly costs are counted for against the one-off construction.
    escort_factor_lower
        Travel time of grades 1–3 counts this many times (a child and the adult who takes them).
    day_pupils_first
        Grades 4–9 board only where the way is long: a group with a school within the day limit that the rules keep
        open (``keep``, township and county-seat schools, schools of ``close_below_pupils`` or more) goes there by day
        (国办发〔2018〕27号). Without it, boarding (allowance and care) can cost less than a school-bus seat, and the
        plan would send children to board an hour away from a school near home.
    beyond_limits
        Children with no school within the limits (as today's roads stand): ``nearest`` sends them to the
        nearest school of their level, counted as beyond the limit; ``error``: no plan
        (:class:`~geo.errors.InfeasibleError` naming them).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    day_max_s: float = Field(
        float(DAY_MAX_ONE_WAY_S), gt=0, description="longest one-way trip of a day pupil, seconds (grades 1-3 never board: a hard limit for them)"
    )
    boarding_max_s: float = Field(
        float(PLAN_BOARDING_MAX_S), gt=0, description="longest one-way trip of a boarder (grades 4-9, boarding schools only), seconds"
    )
    merge_rule: Literal["up", "any"] = Field(
        "up",
        description="up: children move only to a school of a higher kind, or of its kind and at least its size "
        "(never into a teaching point); any: to any school",
    )
    close_town_and_urban: bool = Field(False, description="township and county-seat schools may close")
    close_below_pupils: int = Field(SMALL_SCHOOL_PUPILS, ge=0, description="only schools with fewer pupils today may close (0: none)")
    max_close_share: float = Field(0.25, ge=0, le=1, description="most of today's schools that may close or merge, as a share of them")
    bus_from_s: float = Field(15 * 60.0, ge=0, description="day pupils with a longer one-way trip ride a school bus, seconds")
    class_size_primary: int = Field(CLASS_SIZE_PRIMARY, ge=1, le=100, description="pupils per primary class (capacity in whole classes)")
    class_size_junior: int = Field(CLASS_SIZE_JUNIOR, ge=1, le=100, description="pupils per junior class (capacity in whole classes)")
    max_pupils_school: int = Field(MAX_PUPILS_SINGLE_LEVEL_SCHOOL, ge=1, description="most pupils of a primary or junior school")
    max_pupils_nine_year: int = Field(MAX_PUPILS_NINE_YEAR_SCHOOL, ge=1, description="most pupils of a nine-year school")
    min_classes_primary: int = Field(
        6, ge=1, description="fewest primary classes of an open complete school (an incomplete one keeps at most today's)"
    )
    min_classes_junior: int = Field(3, ge=1, description="fewest junior classes of an open complete school")
    horizon_years: int = Field(10, ge=1, le=30, description="years the yearly costs count against the one-off construction")
    beyond_limits: Literal["nearest", "error"] = Field(
        "nearest", description="children with no school within the limits: nearest (go to the nearest, counted) or error (no plan)"
    )
    day_pupils_first: bool = Field(True, description="grades 4-9 with a school kept open within the day limit go by day, not as boarders")
    construction_yuan_per_class: float = Field(1_200_000.0, ge=0, description="construction per new class, yuan")
    school_yuan_year: float = Field(150_000.0, ge=0, description="yearly running cost of a school besides its teachers, yuan")
    class_yuan_year_primary: float = Field(240_000.0, ge=0, description="yearly cost of a primary class (its teachers), yuan")
    class_yuan_year_junior: float = Field(300_000.0, ge=0, description="yearly cost of a junior class (its teachers), yuan")
    bus_yuan_per_child_year: float = Field(4_000.0, ge=0, description="yearly cost of a school-bus seat, yuan")
    boarding_yuan_primary: float = Field(
        float(BOARDING_ALLOWANCE_YUAN["primary"]), ge=0, description="yearly living allowance per primary boarder, yuan"
    )
    boarding_yuan_junior: float = Field(
        float(BOARDING_ALLOWANCE_YUAN["junior"]), ge=0, description="yearly living allowance per junior boarder, yuan"
    )
    boarding_care_yuan_per_child_year: float = Field(
        2_500.0, ge=0, description="yearly care and dormitory cost per boarder (house parent, dormitory place), yuan"
    )
    travel_yuan_per_hour: float = Field(15.0, ge=0, description="value of a child's hour on the road, yuan")
    escort_factor_lower: float = Field(2.0, ge=0, description="travel time of grades 1-3 counts this many times (the adult who takes them)")

    def class_size(self, level: int) -> int:
        """Class size of level 0 (primary) or 1 (junior)."""
        return self.class_size_primary if level == 0 else self.class_size_junior

    def class_yuan_year(self, level: int) -> float:
        """Yearly cost of a class of level 0 (primary) or 1 (junior)."""
        return self.class_yuan_year_primary if level == 0 else self.class_yuan_year_junior


__all__ = ["BOARDING_WEEKS_YEAR", "PLAN_BOARDING_MAX_S", "SCHOOL_DAYS_YEAR", "SMALL_SCHOOL_PUPILS", "LayoutOptions"]
