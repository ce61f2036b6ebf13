"""Settings of the layout model: :class:`LayoutOptions`, every policy limit and default cost written once.

Policy limits come from :mod:`geo.policy` (国办发〔2018〕27号, GB 50099-2011). Costs are in yuan
and are assumptions a scenario overrides (provinces differ); each default and its basis:

- ``construction_yuan_per_class`` 1,200,000: about 400 m² of building per class (a 24-class
  primary school of ~10,000 m², 建标 109-2008 scale) at ~3,000 yuan/m².
- ``school_yuan_year`` 200,000: running a school besides its teachers a year — the public
  funds per pupil (公用经费, ~650 yuan primary / ~850 junior, a small school funded as 100 pupils)
  plus heating, maintenance and non-teaching staff of a small rural school.
- ``class_yuan_year`` primary 240,000, junior 300,000: the teachers a class needs (rural ratio
  1:19 primary, 1:13.5 junior → ~2.4 and ~3.7 teachers) at ~100,000 / ~80,000 yuan a year.
- ``bus_yuan_per_child_year`` 3,000: a free school-bus seat (校车), day pupils beyond ``bus_from_s``.
- ``boarding_yuan_per_child_year`` primary 1,000, junior 1,250: the living allowance per boarder
  (两免一补), paid here for every boarder (an upper bound of what the county pays).
- ``travel_yuan_per_hour`` 10: a child's (and escort's) hour on the road, valued at about a rural
  worker's hourly income; day pupils travel twice a school day (190 days), boarders twice a week
  (38 weeks).

The objective adds the one-off construction to ``horizon_years`` times the yearly costs.
"""

from __future__ import annotations

from typing import Final, Literal

from pydantic import BaseModel, ConfigDict, Field

from geo.policy import (
    BOARDING_ALLOWANCE_YUAN,
    BOARDING_MAX_ONE_WAY_S,
    CLASS_SIZE_JUNIOR,
    CLASS_SIZE_PRIMARY,
    DAY_MAX_ONE_WAY_S,
    MAX_PUPILS_NINE_YEAR_SCHOOL,
    MAX_PUPILS_SINGLE_LEVEL_SCHOOL,
)

#: Teaching days and boarding weeks a school year (义务教育课程方案: 35 teaching weeks + review and exams).
SCHOOL_DAYS_YEAR: Final = 190
BOARDING_WEEKS_YEAR: Final = 38


class LayoutOptions(BaseModel):
    """Policy limits and costs of a layout plan (module docstring for the sources of the defaults).

    Attributes
    ----------
    day_max_s
        Longest one-way trip of a day pupil; grades 1–3 never board, so for them it is a hard limit.
    boarding_max_s
        Longest one-way trip of a boarder (older pupils at boarding schools only).
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
    beyond_limits
        Children with no school within the limits (as today's roads stand): ``nearest`` sends them to the
        nearest school of their level, counted as beyond the limit; ``error``: no plan
        (:class:`~geo.errors.InfeasibleError` naming them).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    day_max_s: float = Field(float(DAY_MAX_ONE_WAY_S), gt=0)
    boarding_max_s: float = Field(float(BOARDING_MAX_ONE_WAY_S), gt=0)
    bus_from_s: float = Field(15 * 60.0, ge=0)
    class_size_primary: int = Field(CLASS_SIZE_PRIMARY, ge=1, le=100)
    class_size_junior: int = Field(CLASS_SIZE_JUNIOR, ge=1, le=100)
    max_pupils_school: int = Field(MAX_PUPILS_SINGLE_LEVEL_SCHOOL, ge=1)
    max_pupils_nine_year: int = Field(MAX_PUPILS_NINE_YEAR_SCHOOL, ge=1)
    min_classes_primary: int = Field(6, ge=1)
    min_classes_junior: int = Field(3, ge=1)
    horizon_years: int = Field(10, ge=1, le=30)
    beyond_limits: Literal["nearest", "error"] = "nearest"
    construction_yuan_per_class: float = Field(1_200_000.0, ge=0)
    school_yuan_year: float = Field(200_000.0, ge=0)
    class_yuan_year_primary: float = Field(240_000.0, ge=0)
    class_yuan_year_junior: float = Field(300_000.0, ge=0)
    bus_yuan_per_child_year: float = Field(3_000.0, ge=0)
    boarding_yuan_primary: float = Field(float(BOARDING_ALLOWANCE_YUAN["primary"]), ge=0)
    boarding_yuan_junior: float = Field(float(BOARDING_ALLOWANCE_YUAN["junior"]), ge=0)
    travel_yuan_per_hour: float = Field(10.0, ge=0)

    def class_size(self, level: int) -> int:
        """Class size of level 0 (primary) or 1 (junior)."""
        return self.class_size_primary if level == 0 else self.class_size_junior

    def class_yuan_year(self, level: int) -> float:
        """Yearly cost of a class of level 0 (primary) or 1 (junior)."""
        return self.class_yuan_year_primary if level == 0 else self.class_yuan_year_junior


__all__ = ["BOARDING_WEEKS_YEAR", "SCHOOL_DAYS_YEAR", "LayoutOptions"]
