"""Back-test of the projection: project from year ``t − k`` with that year's data, compare with year ``t``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from geo.errors import InputError, Problem
from planning.projection.cohort import project
from planning.projection.options import JUNIOR_AGES, N_AGES, PRIMARY_AGES, ProjectionOptions


@dataclass(frozen=True)
class BacktestError:
    """Errors of a projection against what was observed ``k`` years later.

    Attributes
    ----------
    years
        ``k``, the years projected.
    county_primary, county_junior
        Relative error of the county total, ``(projected − observed) / observed``.
    unit_primary, unit_junior
        Weighted absolute percentage error over units: ``Σ|projected − observed| / Σ observed``.
    """

    years: int
    county_primary: float
    county_junior: float
    unit_primary: float
    unit_junior: float


def _level(ages: NDArray[np.float64], span: tuple[int, int]) -> NDArray[np.float64]:
    return ages[:, span[0] : span[1] + 1].sum(axis=1)


def backtest(
    past: ArrayLike,
    observed: ArrayLike,
    births: Mapping[int, float],
    past_year: int,
    years: int,
    *,
    rural: ArrayLike | None = None,
    receiving: ArrayLike | None = None,
    options: ProjectionOptions | None = None,
) -> BacktestError:
    """Project ``past`` (children by unit and age in ``past_year``) ``years`` years on and compare with ``observed``.

    ``births`` should hold the births actually recorded up to ``past_year + years`` (the back-test
    measures the cohort method, not the births forecast); ``options.horizon_years`` is set to ``years``.
    """
    obs = np.asarray(observed, dtype=float)
    p0 = np.asarray(past, dtype=float)
    if obs.shape != p0.shape or obs.ndim != 2 or obs.shape[1] != N_AGES:
        raise InputError([Problem("children", f"past {p0.shape} and observed {obs.shape} must both be (units, {N_AGES})", column="age")])
    opts = (options or ProjectionOptions()).model_copy(update={"horizon_years": years})
    got = project(p0, births, past_year, rural=rural, receiving=receiving, options=opts).ages[-1]
    out = []
    for span in (PRIMARY_AGES, JUNIOR_AGES):
        pr, ob = _level(got, span), _level(obs, span)
        out.append(float((pr.sum() - ob.sum()) / max(ob.sum(), 1e-12)))
        out.append(float(np.abs(pr - ob).sum() / max(ob.sum(), 1e-12)))
    return BacktestError(years, out[0], out[2], out[1], out[3])
