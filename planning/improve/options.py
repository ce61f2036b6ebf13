"""Settings of the achievement plan: :class:`ImproveOptions` (units, costs, caps, budget, phasing).

Every default is written once, in :mod:`planning.improve.costs` (with its source or the
assumption behind it); the ``improve`` stage's parameters inherit these fields, so a scenario's
``[improve]`` table sets them by the same flat names::

    [improve]
    teacher_yuan_per_year = 80000
    backbone_per_year = 30
    budget_yuan = 50_000_000
"""

from __future__ import annotations

import math
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from planning.improve import costs

ResourceName = Literal[
    "above_qualification_teachers",
    "backbone_teachers",
    "pe_art_teachers",
    "floor_area_m2",
    "sports_area_m2",
    "equipment_yuan",
    "multimedia_rooms",
]
#: Most yuan any cost or budget may be (10¹³: far above any county's budget, small enough that
#: costs in whole yuan stay exact in 64-bit integers).
MAX_YUAN = 1e13


class ImproveOptions(BaseModel):
    """Units, costs and limits of an achievement plan (达标提升方案).

    Attributes
    ----------
    floor_module_m2, floor_yuan_per_m2
        Floor area is built in modules of this many m², at this cost per m².
    sports_module_m2, sports_yuan_per_m2
        Sports ground is laid in modules of this many m², at this cost per m².
    sports_site_share
        With a ``site_area_m2`` column, a school's sports ground after the plan is at most this
        share of its site (never less than it has today).
    equipment_lot_yuan
        Equipment is bought in lots of this many yuan (at face value).
    multimedia_room_yuan
        Cost of one networked multimedia classroom.
    teacher_yuan_per_year, salary_years
        A hire costs ``teacher_yuan_per_year × salary_years``.
    backbone_yuan
        Cost of training and designating one backbone teacher.
    backbone_per_year
        Most backbone teachers the county can train a year (``None``: no limit); over the plan
        at most ``backbone_per_year × years``.
    max_hires_per_school
        Most teachers (both kinds of hire together) one school may be given (``None``: no cap).
    pe_art_hires_above_qualification
        A PE or art hire also holds the required qualification and counts for both indicators.
    resources
        The measures the bureau allows (default: all seven).
    years
        The plan is phased over years ``1..years``.
    budget_yuan
        Ceiling on the total cost (``None``: none). Below the least cost that passes, the plan
        brings the most indicators, then the most schools, to standard within it.
    budget_per_year_yuan
        Ceiling on each year's spending (``None``: none); the total is then at most
        ``years ×`` this as well.
    relative_gap
        The solve stops once its plan is proven within this relative gap of the bound.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    floor_module_m2: float = Field(costs.FLOOR_MODULE_M2, gt=0, le=10_000, description="floor area module, m²")
    floor_yuan_per_m2: float = Field(costs.FLOOR_YUAN_PER_M2, ge=0, le=1e6, description="building cost, yuan per m²")
    sports_module_m2: float = Field(costs.SPORTS_MODULE_M2, gt=0, le=100_000, description="sports ground module, m²")
    sports_yuan_per_m2: float = Field(costs.SPORTS_YUAN_PER_M2, ge=0, le=1e6, description="sports ground cost, yuan per m²")
    sports_site_share: float = Field(costs.SPORTS_SITE_SHARE, gt=0, le=1, description="most share of the site the sports ground may take")
    equipment_lot_yuan: float = Field(costs.EQUIPMENT_LOT_YUAN, ge=1, le=1e9, description="equipment is bought in lots of this many yuan")
    multimedia_room_yuan: float = Field(costs.MULTIMEDIA_ROOM_YUAN, ge=0, le=1e9, description="cost of one multimedia classroom, yuan")
    teacher_yuan_per_year: float = Field(costs.TEACHER_YUAN_PER_YEAR, ge=0, le=1e8, description="a teacher's yearly cost, yuan")
    salary_years: int = Field(costs.SALARY_YEARS, ge=1, le=50, description="years of pay counted for a hire")
    backbone_yuan: float = Field(costs.BACKBONE_YUAN, ge=0, le=1e8, description="training one backbone teacher, yuan")
    backbone_per_year: int | None = Field(None, ge=0, le=1_000_000, description="most backbone teachers trained a year")
    max_hires_per_school: int | None = Field(None, ge=0, le=10_000, description="most hires one school may be given")
    pe_art_hires_above_qualification: bool = Field(False, description="a PE or art hire also counts as above the required qualification")
    resources: tuple[ResourceName, ...] = Field(costs.RESOURCES, min_length=1, description="the measures the bureau allows")  # type: ignore[arg-type]
    years: int = Field(costs.YEARS, ge=1, le=20, description="years the plan is phased over")
    budget_yuan: float | None = Field(None, ge=0, le=MAX_YUAN, description="ceiling on the total cost, yuan")
    budget_per_year_yuan: float | None = Field(None, ge=0, le=MAX_YUAN, description="ceiling on each year's cost, yuan")
    relative_gap: float = Field(0.005, ge=0, le=1, description="stop once within this relative gap of the bound")

    @model_validator(mode="after")
    def _whole_costs(self) -> ImproveOptions:
        for name in costs.RESOURCES:
            if self.unit_cost(name) > MAX_YUAN:
                msg = f"one unit of {name} would cost {self.unit_cost(name):,.0f} yuan, more than {MAX_YUAN:,.0f}"
                raise ValueError(msg)
        return self

    def unit_quantity(self, resource: str) -> float:
        """Quantity of ``resource`` in one unit the bureau buys (m², yuan, rooms or teachers)."""
        return {
            "floor_area_m2": self.floor_module_m2,
            "sports_area_m2": self.sports_module_m2,
            "equipment_yuan": self.equipment_lot_yuan,
        }.get(resource, 1.0)

    def unit_cost(self, resource: str) -> int:
        """Cost of one unit of ``resource`` in whole yuan (rounded to the nearest yuan)."""
        hire = self.teacher_yuan_per_year * self.salary_years
        cost = {
            "above_qualification_teachers": hire,
            "backbone_teachers": self.backbone_yuan,
            "pe_art_teachers": hire,
            "floor_area_m2": self.floor_module_m2 * self.floor_yuan_per_m2,
            "sports_area_m2": self.sports_module_m2 * self.sports_yuan_per_m2,
            "equipment_yuan": self.equipment_lot_yuan,
            "multimedia_rooms": self.multimedia_room_yuan,
        }[resource]
        return math.floor(cost + 0.5)

    def total_budget(self) -> float | None:
        """Ceiling on the plan's total cost: the lower of ``budget_yuan`` and ``years × budget_per_year_yuan``."""
        caps = [c for c in (self.budget_yuan, None if self.budget_per_year_yuan is None else self.years * self.budget_per_year_yuan) if c is not None]
        return min(caps) if caps else None


DEFAULT_OPTIONS = ImproveOptions()
