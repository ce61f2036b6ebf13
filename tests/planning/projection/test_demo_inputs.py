"""The demo's inputs for the projection: children by single year of age and the county's births, and the back-test."""

from __future__ import annotations

import numpy as np
import pytest

from geo.demo import AGE_COLUMNS, DEMO_BASE_YEAR, block_ages, build_demo, county_births
from planning.app.stages.projection import backcast
from planning.projection import ProjectionOptions, backtest, project


@pytest.fixture(scope="module")
def demo():  # type: ignore[no-untyped-def]
    return build_demo(scale=0.3)


def test_demo_ages_match_each_units_counts_and_the_births(demo) -> None:  # type: ignore[no-untyped-def]
    b = demo.inputs.blocks
    ages = b[list(AGE_COLUMNS)].to_numpy()
    assert (ages >= 0).all()
    assert (ages[:, 6:12].sum(axis=1) == b["students_primary"]).all() and (ages[:, 12:].sum(axis=1) == b["students_junior"]).all()
    births = demo.births
    assert min(births) == 2010 and max(births) == 2035 and births[2016] > 1.8 * births[2023]
    # the county's cohorts aged 0-5 are its births of those years (survived), within rounding
    cohort = np.array([births[DEMO_BASE_YEAR - a] for a in range(6)]) * 0.995
    assert ages[:, :6].sum(axis=0) == pytest.approx(cohort, rel=0.06)
    # young families live in the seat and the towns: fewer under-6s per primary-age child in villages
    rural = (b["area_type"] == "rural").to_numpy()
    ratio = ages[:, :6].sum(axis=1) / np.maximum(ages[:, 6:12].sum(axis=1), 1)
    assert ages[rural, :6].sum() / ages[rural, 6:12].sum() < ages[~rural, :6].sum() / ages[~rural, 6:12].sum()
    assert np.isfinite(ratio).all()


def test_demo_is_deterministic_and_the_births_scale_to_the_primary_children() -> None:
    b = county_births(6_000.0, 0.5)
    again = county_births(6_000.0, 0.5)
    assert b == again and b[2024] < b[2023] * 1.06
    ages = block_ages(np.array([60, 7, 0]), np.array([30, 2, 1]), np.array(["urban", "rural", "town"]), b)
    assert ages[:, 6:12].sum(axis=1).tolist() == [60, 7, 0] and ages[:, 12:].sum(axis=1).tolist() == [30, 2, 1]


def test_back_test_of_the_cohort_method_on_a_back_cast_is_exact_without_migration() -> None:
    rng = np.random.default_rng(4)
    births = county_births(3_000.0, 0.3)
    ages = block_ages(rng.integers(0, 200, 40), rng.integers(0, 100, 40), rng.choice(["urban", "town", "rural"], 40), births).astype(float)
    o = ProjectionOptions()
    past = backcast(ages, births, 2024, 4, o)
    # ageing the back-cast 4 years gives today's children aged 4-14 exactly
    again = project(past, births, 2020, options=o.model_copy(update={"horizon_years": 4})).ages[-1]
    assert again[:, 4:] == pytest.approx(ages[:, 4:])
    err = backtest(past, ages, births, 2020, 4, options=o)
    assert abs(err.county_primary) < 0.01 and abs(err.county_junior) < 1e-9
    # a rural shift the back-cast did not undo shows as unit error, not county error
    rural = np.arange(40) < 20
    moved = backtest(past, ages, births, 2020, 4, rural=rural, receiving=~rural, options=o.model_copy(update={"rural_shift": 0.05}))
    assert moved.unit_primary > err.unit_primary + 0.05 and abs(moved.county_primary - err.county_primary) < 1e-9


def test_demo_candidate_sites_sit_in_the_seats_new_districts_and_the_largest_towns(demo) -> None:  # type: ignore[no-untyped-def]
    import geopandas as gpd

    from planning.app.stages.layout import CANDIDATES

    sites = demo.candidate_sites
    assert sites is not None and list(sites.columns) == [c.name for c in CANDIDATES.columns]
    assert sites["site_id"].is_unique and not set(sites["site_id"]) & set(demo.inputs.schools["school_id"])
    assert sites["level"].tolist() == ["nine_year", "primary", "nine_year", "nine_year"]
    assert sites["boarding"].tolist() == [False, False, True, True] and all("（选址）" in n for n in sites["name"])
    # inside the county, each near homes: the seat's sites by urban units, the towns' by town units
    pts = gpd.GeoSeries(gpd.points_from_xy(sites["lon"], sites["lat"]), crs=4326).to_crs(demo.inputs.metric_crs)
    blocks = demo.inputs.blocks
    near = blocks.iloc[[int(blocks.distance(p).idxmin()) for p in pts]]["area_type"].tolist()
    assert near == ["urban", "urban", "town", "town"]
    again = build_demo(scale=0.3).candidate_sites
    assert again is not None and again.equals(sites)
