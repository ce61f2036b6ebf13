"""Projection identities (cohorts age a year a year, county totals follow the births), inputs and back-tests."""

from __future__ import annotations

import numpy as np
import pytest

from geo.errors import InputError
from planning.projection import (
    ProjectionOptions,
    ages_from_grades,
    ages_from_total,
    backtest,
    births_series,
    county_age_share,
    project,
)

BIRTHS = {2016: 1786.0, 2017: 1723.0, 2018: 1523.0, 2019: 1465.0, 2020: 1200.0, 2021: 1062.0, 2022: 956.0, 2023: 902.0}


def county(n: int = 12, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    ages = rng.integers(0, 60, (n, 15)).astype(float)
    rural = np.zeros(n, dtype=bool)
    rural[n // 3 :] = True
    return ages, rural, ~rural


def test_cohorts_age_one_year_a_year_without_migration() -> None:
    ages, _, _ = county()
    o = ProjectionOptions(horizon_years=5, survival_child=0.999)
    p = project(ages, BIRTHS, 2023, options=o)
    for k in range(1, 6):
        np.testing.assert_allclose(p.ages[k, :, 1:], 0.999 * p.ages[k - 1, :, :-1])


def test_county_totals_follow_births_and_cohorts_with_migration() -> None:
    ages, rural, recv = county()
    o = ProjectionOptions(horizon_years=8, rural_shift=0.05, net_migration=-0.01, scenario="low")
    p = project(ages, BIRTHS, 2023, rural=rural, receiving=recv, options=o)
    tot = p.ages.sum(axis=1)  # (years, ages)
    expected_births = births_series(BIRTHS, 2023, 8, "low")
    np.testing.assert_allclose(tot[1:, 0], expected_births[1:] * o.survival_infant)
    factor = o.survival_child * (1 + o.net_migration)
    np.testing.assert_allclose(tot[1:, 1:], factor * tot[:-1, :-1])
    # the rural units lose children to the receiving ones
    assert p.ages[-1][rural, 8:].sum() < ages[rural, :7].sum() * factor**8


def test_rural_shift_moves_children_but_keeps_the_total() -> None:
    ages, rural, recv = county()
    still = project(ages, BIRTHS, 2023, options=ProjectionOptions(horizon_years=3))
    moved = project(ages, BIRTHS, 2023, rural=rural, receiving=recv, options=ProjectionOptions(horizon_years=3, rural_shift=0.1))
    np.testing.assert_allclose(still.ages.sum(axis=1), moved.ages.sum(axis=1))
    assert moved.primary[-1][recv].sum() > still.primary[-1][recv].sum()


def test_levels_are_ages_6_to_11_and_12_to_14() -> None:
    ages = np.zeros((1, 15))
    ages[0, 5], ages[0, 11], ages[0, 14] = 10, 20, 30
    p = project(ages, {2023: 0.0}, 2023, options=ProjectionOptions(horizon_years=1, survival_child=1.0))
    assert p.primary[0].tolist() == [20.0] and p.junior[0].tolist() == [30.0]
    assert p.primary[1].tolist() == [10.0] and p.junior[1].tolist() == [20.0]


def test_scenarios_continue_the_last_given_year() -> None:
    assert births_series({2020: 100.0, 2022: 80.0}, 2020, 4, "high").round(2).tolist() == [100.0, 90.0, 80.0, 81.6, 83.23]
    assert births_series({2020: 100.0}, 2020, 2, "mid").tolist() == [100.0, 100.0, 100.0]
    with pytest.raises(InputError, match="no births given for any year up to 2022"):
        births_series({2030: 1.0}, 2020, 2)


def test_inputs_by_total_and_by_grade() -> None:
    share = county_age_share(BIRTHS, 2023)
    assert share.sum() == pytest.approx(1.0)
    assert share[0] < share[7]  # born 2023 vs born 2016
    by_total = ages_from_total([100.0, 50.0], share)
    np.testing.assert_allclose(by_total.sum(axis=1), [100.0, 50.0])
    grades = np.arange(1, 19, dtype=float).reshape(2, 9)
    by_grade = ages_from_grades(grades, BIRTHS, 2023)
    np.testing.assert_array_equal(by_grade[:, 6:], grades)
    np.testing.assert_allclose(by_grade[:, 0] / by_grade[:, 6], share[0] / share[6])


def test_bad_inputs_are_reported() -> None:
    with pytest.raises(InputError, match="15 columns"):
        project(np.ones((2, 14)), BIRTHS, 2023)
    with pytest.raises(InputError, match=r"\(units, 15\)"):
        backtest(np.ones((2, 15)), np.ones((3, 15)), BIRTHS, 2020, 3)
    with pytest.raises(InputError, match="mask has shape"):
        project(np.ones((2, 15)), BIRTHS, 2023, rural=[True])


def simulate(
    ages: np.ndarray, births: dict[int, float], year: int, years: int, rural: np.ndarray, recv: np.ndarray, noise: float, seed: int
) -> np.ndarray:
    """The 'observed' county: the model's process with random unit-level departures (an independent stepper)."""
    rng = np.random.default_rng(seed)
    cur = ages.copy()
    for k in range(1, years + 1):
        new = np.zeros_like(cur)
        new[:, 1:] = cur[:, :-1] * 0.9995 * (1 + noise * rng.standard_normal(cur[:, :-1].shape))
        moved = 0.03 * new[rural].sum(axis=0)
        new[rural] *= 0.97
        new[recv] += moved * new[recv] / np.maximum(new[recv].sum(axis=0), 1e-12)
        young = new[:, 1:4].sum(axis=1)
        new[:, 0] = births[year + k] * 0.995 * young / young.sum()
        cur = new
    return cur


def test_backtest_is_exact_on_the_model_process_and_small_with_noise() -> None:
    ages, rural, recv = county(30, seed=4)
    births = {2015 + k: 1500.0 - 60 * k for k in range(10)}
    opts = ProjectionOptions(rural_shift=0.03)
    exact = simulate(ages, births, 2015, 5, rural, recv, 0.0, 1)
    err = backtest(ages, exact, births, 2015, 5, rural=rural, receiving=recv, options=opts)
    assert abs(err.county_primary) < 1e-9 and err.unit_primary < 1e-9 and err.unit_junior < 1e-9
    noisy = simulate(ages, births, 2015, 5, rural, recv, 0.05, 2)
    err = backtest(ages, noisy, births, 2015, 5, rural=rural, receiving=recv, options=opts)
    assert abs(err.county_primary) < 0.05 and 0 < err.unit_primary < 0.10
    # leaving migration out of the model shows up as a larger unit-level error, not a county one
    plain = backtest(ages, noisy, births, 2015, 5, rural=rural, receiving=recv)
    assert plain.unit_primary > err.unit_primary and abs(plain.county_primary) < 0.05
