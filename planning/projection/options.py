"""Settings of the school-age projection: :class:`ProjectionOptions`, every default written once.

Assumptions (a scenario overrides each):

- Ages and levels follow 六三学制 with entry at 6 (Compulsory Education Law, art. 11): primary
  ages 6–11 (grades 1–6), junior ages 12–14 (grades 7–9), so children aged 0–5 are the future
  entrants. The projection counts children by age on the school-year date; enrolment by level is
  the children of those ages (no repeaters, no early or late entry).
- Survival: children die at rates near China's (under-5 mortality 6.2 ‰ in 2023, National Health
  Commission; far lower after age 5), so 0.995 in the first year of life and 0.9995 a year after.
- Future births by scenario when no series is given: ``mid`` holds the last observed births,
  ``low`` lowers them 3 % a year and ``high`` raises them 2 % a year (China's births fell from
  17.86 M in 2016 to 9.02 M in 2023, about −9 % a year, and stood at 9.54 M in 2024; a plan
  commonly tests both a continued fall and a recovery).
- Migration: each year a share ``rural_shift`` of the children of rural units moves to the
  receiving units (county seat and towns), spread by their children; ``net_migration`` a year
  changes every unit's children (negative: the county loses children). Both default to 0.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

#: Single years of age the projection follows: 0..14.
N_AGES = 15
#: First and last age of each level (entry at 6, 六三学制).
PRIMARY_AGES = (6, 11)
JUNIOR_AGES = (12, 14)
#: Yearly growth of births by scenario when no future series is given.
SCENARIO_GROWTH = {"low": -0.03, "mid": 0.0, "high": 0.02}

Scenario = Literal["low", "mid", "high"]


class ProjectionOptions(BaseModel):
    """Settings of a projection; every field has a documented default (module docstring).

    Attributes
    ----------
    horizon_years
        Years projected after the base year (t+1 .. t+horizon).
    scenario
        Births scenario used for the years the births series does not cover.
    survival_infant
        Share of a birth cohort alive at the next school-year date.
    survival_child
        Share of children aged 1–14 alive a year later.
    rural_shift
        Yearly share of rural units' children who move to the receiving units.
    net_migration
        Yearly change of every unit's children by migration in and out of the county.
    entry_share_years
        Years of age (0 .. k−1) whose distribution over units places each new birth cohort.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    horizon_years: int = Field(10, ge=1, le=30, description="years projected after the base year")
    scenario: Scenario = Field("mid", description="births after the last given year: low (-3 %/year), mid (flat) or high (+2 %/year)")
    survival_infant: float = Field(0.995, gt=0.5, le=1.0, description="share of a birth cohort alive at the next school-year date")
    survival_child: float = Field(0.9995, gt=0.5, le=1.0, description="share of children aged 1-14 alive a year later")
    rural_shift: float = Field(0.0, ge=0.0, le=0.5, description="yearly share of rural units' children who move to the county seat and towns")
    net_migration: float = Field(0.0, ge=-0.5, le=0.5, description="yearly change of every unit's children by migration in and out of the county")
    entry_share_years: int = Field(3, ge=1, le=6, description="youngest years of age whose spread over units places each new birth cohort")


__all__ = ["JUNIOR_AGES", "N_AGES", "PRIMARY_AGES", "SCENARIO_GROWTH", "ProjectionOptions", "Scenario"]
