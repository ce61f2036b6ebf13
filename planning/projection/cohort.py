"""Cohort-survival projection of children by single year of age, per residential unit.

State: ``P[t, i, a]``, children of age ``a`` (0–14) living in unit ``i`` on the school-year
date of year ``t``. One year on, in this order:

1. **Ageing and survival**: ``P[t+1, i, a+1] = s · P[t, i, a]`` (``s`` = ``survival_child``);
   the 14-year-olds leave compulsory school age.
2. **Rural shift** (optional): a share ``rural_shift`` of each rural unit's children of every
   age moves to the receiving units, spread by their children of that age (their total when
   they have none): the county total is unchanged.
3. **Net migration** (optional): every unit's children times ``1 + net_migration``.
4. **Births**: the county's births of year ``t+1`` times ``survival_infant`` are the county's
   age-0 children, placed on the units by their share of the children aged
   0..``entry_share_years``−1 (after steps 1–3).

Constrained to county totals: the age-0 total of every projected year equals the county births
series (times infant survival) and each later age follows its cohort exactly, whatever the
migration between units. Levels: primary = ages 6–11, junior = ages 12–14 (六三学制).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from geo.errors import InputError, Problem
from planning.projection.options import JUNIOR_AGES, N_AGES, PRIMARY_AGES, SCENARIO_GROWTH, ProjectionOptions

_DEFAULT = ProjectionOptions()


@dataclass(frozen=True)
class Projection:
    """Children by year, unit and single year of age (expected values, not rounded).

    Attributes
    ----------
    years
        ``(T+1,)`` calendar years, the base year first.
    ages
        ``(T+1, n_units, 15)`` children aged 0–14.
    births
        ``(T+1,)`` county births used for each year (the base year's as given).
    """

    years: NDArray[np.int64]
    ages: NDArray[np.float64]
    births: NDArray[np.float64]

    @property
    def primary(self) -> NDArray[np.float64]:
        """``(T+1, n_units)`` children of primary age (6–11)."""
        return self.ages[:, :, PRIMARY_AGES[0] : PRIMARY_AGES[1] + 1].sum(axis=2)

    @property
    def junior(self) -> NDArray[np.float64]:
        """``(T+1, n_units)`` children of junior age (12–14)."""
        return self.ages[:, :, JUNIOR_AGES[0] : JUNIOR_AGES[1] + 1].sum(axis=2)


def births_series(history: Mapping[int, float], base_year: int, horizon: int, scenario: str = "mid") -> NDArray[np.float64]:
    """County births for ``base_year .. base_year + horizon``: the series where given, else the scenario.

    Years after the last given one grow from it by :data:`~planning.projection.options.SCENARIO_GROWTH`
    a year. Raises :class:`InputError` when no year up to the last needed one is given.

    Example
    -------
    >>> births_series({2023: 1000.0}, 2023, 2, "low").round(1).tolist()
    [1000.0, 970.0, 940.9]
    """
    years = range(base_year, base_year + horizon + 1)
    known = {int(y): float(v) for y, v in history.items() if y <= base_year + horizon}
    if not known:
        raise InputError([Problem("births", f"no births given for any year up to {base_year + horizon}", column="births")])
    last = max(known)
    growth = SCENARIO_GROWTH[scenario]
    ky = np.array(sorted(known), dtype=float)
    kv = np.array([known[int(y)] for y in ky])
    # between given years: linear; before the first: the first; after the last: the scenario
    return np.array([known[last] * (1 + growth) ** (y - last) if y > last else float(np.interp(y, ky, kv)) for y in years])


def ages_from_total(total: ArrayLike, age_share: ArrayLike) -> NDArray[np.float64]:
    """``(n, 15)`` children by age from each unit's total (ages 0–14) and the county's age shares."""
    share = np.asarray(age_share, dtype=float)
    if share.shape != (N_AGES,) or share.min() < 0 or share.sum() <= 0:
        raise InputError([Problem("age structure", f"needs {N_AGES} shares ≥ 0 (ages 0–14) with a positive sum", column="age_share")])
    return np.outer(np.asarray(total, dtype=float), share / share.sum())


def _nearest(years: list[int], year: int) -> int:
    """The given year nearest to ``year`` (the earlier one on a tie)."""
    return min(years, key=lambda y: (abs(y - year), y))


def county_age_share(births: Mapping[int, float], base_year: int, options: ProjectionOptions = _DEFAULT) -> NDArray[np.float64]:
    """The county's age structure in ``base_year`` from its births: cohort ``a`` ∝ births of ``base_year − a``, survived.

    A year missing from the series takes the nearest given year's births.
    """
    known = sorted(births)
    if not known:
        raise InputError([Problem("births", "no births given", column="births")])
    b = np.array([float(births[_nearest(known, base_year - a)]) for a in range(N_AGES)])
    surv = options.survival_infant * options.survival_child ** np.arange(N_AGES)
    share = b * surv
    if share.sum() <= 0:  # no births at all: every age alike
        return np.full(N_AGES, 1.0 / N_AGES)
    return share / share.sum()


def ages_from_grades(grades: ArrayLike, births: Mapping[int, float], base_year: int, options: ProjectionOptions = _DEFAULT) -> NDArray[np.float64]:
    """``(n, 15)`` from children by grade 1–9 (ages 6–14); ages 0–5 from the county births, placed like grade 1."""
    g = np.asarray(grades, dtype=float)
    problems: list[Problem] = []
    if g.ndim != 2 or g.shape[1] != 9:
        problems.append(Problem("children", f"children by grade need 9 columns (grades 1–9), got shape {g.shape}", column="grade"))
    elif g[:, 0].sum() <= 0:
        problems.append(Problem("children", "no child in grade 1 anywhere: ages 0–5 cannot be placed", column="grade_1"))
    if problems:
        raise InputError(problems)
    out = np.zeros((g.shape[0], N_AGES))
    out[:, PRIMARY_AGES[0] :] = g
    share = county_age_share(births, base_year, options)
    # each unit's young cohorts: its grade 1 scaled as the county's births scale the cohorts
    out[:, : PRIMARY_AGES[0]] = g[:, [0]] * (share[: PRIMARY_AGES[0]] / share[PRIMARY_AGES[0]])[None, :]
    return out


def _shift(ages: NDArray[np.float64], rural: NDArray[np.bool_], receiving: NDArray[np.bool_], share: float) -> NDArray[np.float64]:
    """Move ``share`` of the rural units' children to the receiving units, age by age."""
    if share <= 0 or not rural.any() or not receiving.any():
        return ages
    out = ages.copy()
    moved = share * ages[rural].sum(axis=0)  # (15,)
    out[rural] *= 1 - share
    weight = ages[receiving]
    col = weight.sum(axis=0)
    total = ages[receiving].sum(axis=1)
    spread = np.where(col > 0, weight / np.where(col > 0, col, 1.0), (total / max(total.sum(), 1e-12))[:, None])
    if total.sum() <= 0:
        spread = np.full(weight.shape, 1.0 / receiving.sum())
    out[receiving] += spread * moved[None, :]
    return out


def _step(
    ages: NDArray[np.float64], births: float, rural: NDArray[np.bool_], receiving: NDArray[np.bool_], options: ProjectionOptions
) -> NDArray[np.float64]:
    """One year on (module docstring, steps 1–4)."""
    new = np.zeros_like(ages)
    new[:, 1:] = options.survival_child * ages[:, :-1]
    new = _shift(new, rural, receiving, options.rural_shift) * (1 + options.net_migration)
    young = new[:, 1 : 1 + options.entry_share_years].sum(axis=1)
    if young.sum() <= 0:
        young = new.sum(axis=1)
    place = young / young.sum() if young.sum() > 0 else np.full(len(young), 1.0 / max(len(young), 1))
    new[:, 0] = births * options.survival_infant * place
    return new


def _check(ages: NDArray[np.float64], n: int, rural: ArrayLike | None, receiving: ArrayLike | None) -> tuple[NDArray[np.bool_], NDArray[np.bool_]]:
    problems: list[Problem] = []
    if ages.ndim != 2 or ages.shape[1] != N_AGES:
        problems.append(Problem("children", f"children by age need {N_AGES} columns (ages 0–14), got shape {ages.shape}", column="age"))
    elif not np.all(np.isfinite(ages)) or ages.min() < 0:
        problems.append(Problem("children", "children by age must be finite and ≥ 0", column="age"))
    masks = []
    for name, mask in (("rural", rural), ("receiving", receiving)):
        arr = np.zeros(n, dtype=bool) if mask is None else np.asarray(mask, dtype=bool)
        if arr.shape != (n,):
            problems.append(Problem("units", f"mask has shape {arr.shape}, expected ({n},)", column=name))
        masks.append(arr)
    if problems:
        raise InputError(problems)
    return masks[0], masks[1]


def project(
    ages: ArrayLike,
    births: Mapping[int, float],
    base_year: int,
    *,
    rural: ArrayLike | None = None,
    receiving: ArrayLike | None = None,
    options: ProjectionOptions = _DEFAULT,
) -> Projection:
    """Project children by unit and age from ``base_year`` for ``options.horizon_years`` years.

    Parameters
    ----------
    ages
        ``(n_units, 15)`` children aged 0–14 in each unit in the base year
        (:func:`ages_from_total` and :func:`ages_from_grades` build it from other data).
    births
        County births by calendar year: history and, optionally, a future series; years after
        the series follow ``options.scenario``.
    base_year
        Year of ``ages``.
    rural, receiving
        ``(n_units,)`` masks of the units children leave and those they move to under ``rural_shift``.
    options
        Survival, migration and scenario settings.

    Returns
    -------
    Projection
        Years ``base_year .. base_year + horizon`` (the base year as given).

    Example
    -------
    >>> p = project([[10.0] * 15], {2024: 10.0}, 2024, options=ProjectionOptions(horizon_years=1, survival_infant=1, survival_child=1))
    >>> p.primary.tolist()
    [[60.0], [60.0]]
    """
    a0 = np.asarray(ages, dtype=float)
    n = a0.shape[0] if a0.ndim >= 1 else 0
    rmask, cmask = _check(a0, n, rural, receiving)
    h = options.horizon_years
    b = births_series(births, base_year, h, options.scenario)
    out = np.zeros((h + 1, *a0.shape))
    out[0] = a0
    for k in range(1, h + 1):
        out[k] = _step(out[k - 1], float(b[k]), rmask, cmask, options)
    return Projection(np.arange(base_year, base_year + h + 1, dtype=np.int64), out, b)
