"""Phasing the achievement plan: hand-solved years under a yearly budget and a yearly training limit."""

from __future__ import annotations

import numpy as np

from planning.improve import ImproveOptions
from planning.improve.phasing import overspent, overtrained, phase_years


def test_earliest_years_fix_the_most_pupils_per_yuan():
    # A 40,000 for 100 pupils, B 20,000 for 300, C 30,000 for 100, D 10,000 for 900 but D meets the rule today.
    # Order: B (15 pupils per 1,000 yuan), C (3.3), A (2.5), then D. With 50,000 a year: B and C in year 1,
    # A in year 2 and D (10,000 more) with it; in list order A would have taken year 1.
    school = np.array([0, 1, 2, 3])
    cost = np.array([40_000, 20_000, 30_000, 10_000])
    priority = [(0, -100 / 40_000, "A"), (0, -300 / 20_000, "B"), (0, -100 / 30_000, "C"), (1, -900 / 10_000, "D")]
    year = phase_years(school, cost, np.zeros(4, dtype=bool), priority, options=ImproveOptions(years=2, budget_per_year_yuan=50_000))
    assert year.tolist() == [2, 1, 1, 2]
    assert overspent(year, cost, ImproveOptions(years=2, budget_per_year_yuan=50_000)) == []


def test_training_limit_a_year_and_overspend_named():
    # three backbone trainings at one school, one a year; a 100,000 hire with 60,000 a year fits no year: the last
    # year takes it and is named as 40,000 + 20,000 over its ceiling
    school = np.zeros(4, dtype=np.int64)
    cost = np.array([20_000, 20_000, 20_000, 100_000])
    backbone = np.array([True, True, True, False])
    opts = ImproveOptions(years=3, budget_per_year_yuan=60_000, backbone_per_year=1)
    year = phase_years(school, cost, backbone, [(0, -1.0, "A")], options=opts)
    assert year.tolist() == [1, 2, 3, 3]
    assert overspent(year, cost, opts) == [(3, 60_000.0)]


def test_year_over_the_training_limit_named():
    # two trainings (20,000 each), one a year over 2 years, but 10,000 a year: year 1 can pay for neither, so the
    # last year takes both, one above backbone_per_year (and 30,000 above its money)
    school = np.zeros(2, dtype=np.int64)
    cost = np.array([20_000, 20_000])
    opts = ImproveOptions(years=2, budget_per_year_yuan=10_000, backbone_per_year=1)
    year = phase_years(school, cost, np.ones(2, dtype=bool), [(0, -1.0, "A")], options=opts)
    assert year.tolist() == [2, 2]
    assert overtrained(year, np.ones(2, dtype=np.int64), opts) == [(2, 1)]
    assert overtrained(year, np.ones(2, dtype=np.int64), ImproveOptions(years=2)) == []
