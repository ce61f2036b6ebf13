"""China's births by year and their scaling to a county, the projection's default births series.

National births (出生人口), millions, 2010–2024: :data:`geo.policy.NATIONAL_BIRTHS_M` (NBS communiqués).
A county without its own series gets the national one scaled so that the cohorts now of primary
age (6–11) match the county's primary-age children: an assumption (the county's births follow
the national trend) that a scenario replaces with the county's own series (``[projection] births``).
"""

from __future__ import annotations

from geo.policy import NATIONAL_BIRTHS_M
from planning.projection.options import PRIMARY_AGES, ProjectionOptions

__all__ = ["NATIONAL_BIRTHS_M", "scaled_births"]


def scaled_births(primary_children: float, base_year: int, options: ProjectionOptions | None = None) -> dict[int, float]:
    """The national series scaled to a county with ``primary_children`` aged 6–11 in ``base_year``.

    Example
    -------
    >>> b = scaled_births(6_000, 2024)
    >>> round(b[2016]), round(b[2023])
    (1080, 545)
    """
    o = options or ProjectionOptions()
    first = min(NATIONAL_BIRTHS_M)
    cohorts = 0.0
    for age in range(PRIMARY_AGES[0], PRIMARY_AGES[1] + 1):
        year = max(base_year - age, first)
        cohorts += NATIONAL_BIRTHS_M.get(year, NATIONAL_BIRTHS_M[max(NATIONAL_BIRTHS_M)]) * o.survival_infant * o.survival_child ** (age - 1)
    scale = primary_children / cohorts if cohorts > 0 else 0.0
    return {y: v * scale for y, v in NATIONAL_BIRTHS_M.items()}
