"""School-age projection (学龄人口预测): children by unit, year and age, and so by level.

A cohort-survival model at unit level constrained to the county's births (:mod:`~planning.projection.cohort`),
its back-test (:mod:`~planning.projection.backtest`) and settings (:mod:`~planning.projection.options`)::

    from planning.projection import ProjectionOptions, project

    p = project(ages, {2016: 1786.0, 2023: 902.0}, 2024, rural=is_rural, receiving=is_town,
                options=ProjectionOptions(scenario="low", rural_shift=0.02))
    p.primary[k], p.junior[k]        # (units,) children of primary / junior age in year p.years[k]
"""

from planning.projection.backtest import BacktestError, backtest
from planning.projection.cohort import Projection, ages_from_grades, ages_from_total, births_series, county_age_share, project
from planning.projection.options import ProjectionOptions

__all__ = [
    "BacktestError",
    "Projection",
    "ProjectionOptions",
    "ages_from_grades",
    "ages_from_total",
    "backtest",
    "births_series",
    "county_age_share",
    "project",
]
