"""Stage ``projection``: children of school age per residential unit for the next years (学龄人口预测).

Needs the blocks (and, for the per-school table, the schools) layer. Each unit's children by
single year of age are its ``age_0`` … ``age_14`` columns when the layer has them all (the demo
writes them), else its ``students_primary`` and ``students_junior`` split by the
county's age structure (cohort ``a`` ∝ births of ``base_year − a``), its children aged 0–5 in
proportion to its primary-age children; then :func:`planning.projection.project` ages them year
by year, with the county's births (``births``: the county's series, its own figures or — ``births_basis`` — an
assumption such as the demo's; not given, China's births scaled to the county, :mod:`planning.projection.births`) and, with ``rural_shift``, a
yearly move of children from rural units (``area_type`` rural) to urban and town ones.

Files: ``units.csv`` (``block_id, year, primary, junior``), ``schools.csv`` (``school_id, year,
primary, junior``: each unit's children sent to today's school — ``current_primary`` /
``current_junior``, else the nearest school of the level in straight line), ``county.csv``
(``year, births, primary, junior``). Counts are rounded to whole children in the files; the
result keeps the expected values. Result: :class:`ProjectionResult`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from pydantic import Field

from geo.errors import InputError, Problem
from planning.app.stage import Command, Context, Payload, Stage, StageOutput, StageParams
from planning.projection import BacktestError, Projection, ProjectionOptions, backtest, county_age_share, project
from planning.projection.births import scaled_births
from planning.projection.options import JUNIOR_AGES, N_AGES, PRIMARY_AGES

#: The blocks layer's children by single year of age, read when every one is there.
AGE_COLUMNS = tuple(f"age_{a}" for a in range(N_AGES))

#: Year the inputs describe when the scenario does not say.
DEFAULT_BASE_YEAR = 2024


class ProjectionParams(StageParams, ProjectionOptions):
    """Parameters of the ``projection`` stage: :class:`~planning.projection.ProjectionOptions` and the stage's own."""

    base_year: int = Field(DEFAULT_BASE_YEAR, ge=1990, le=2100, description="year of the children counts in the blocks layer")
    births: dict[int, float] | None = Field(
        None, description="the county's births by year (history and any future series); not given: China's births scaled to the county"
    )
    births_basis: Literal["county data", "assumption"] = Field(
        "county data",
        description="what the births series is: the county's own figures, or an assumption (the demo's: China's births scaled to "
        "the county, falling faster with its rural share); the report says which",
    )
    backtest_years: int = Field(0, ge=0, le=10, description="back-test: project from this many years ago and compare (0: off)")


@dataclass(frozen=True)
class ProjectionResult:
    """What the ``projection`` stage leaves for the layout stage.

    Attributes
    ----------
    block_ids
        Units in the order of the arrays.
    projection
        The :class:`~planning.projection.Projection` (years × units × ages).
    births_source
        ``county`` (the scenario's series, the county's own figures), ``assumed`` (the scenario's series, an assumption:
        ``births_basis``) or ``national, scaled``.
    """

    block_ids: NDArray[np.str_]
    projection: Projection
    births_source: str

    def children(self, year: int) -> NDArray[np.float64]:
        """``(units, 3)`` expected children in grades 1–3, 4–6 and 7–9 (ages 6–8, 9–11, 12–14) in ``year``."""
        k = int(np.clip(year - int(self.projection.years[0]), 0, len(self.projection.years) - 1))
        a = self.projection.ages[k]
        return np.stack([a[:, 6:9].sum(axis=1), a[:, 9:12].sum(axis=1), a[:, 12:15].sum(axis=1)], axis=1)


def unit_ages(primary: NDArray[np.float64], junior: NDArray[np.float64], share: NDArray[np.float64]) -> NDArray[np.float64]:
    """``(n, 15)`` children by age from each unit's primary- and junior-age totals and the county's age shares."""
    p0, p1 = PRIMARY_AGES
    j0, j1 = JUNIOR_AGES
    pri = share[p0 : p1 + 1].sum()
    out = np.zeros((len(primary), len(share)))
    out[:, p0 : p1 + 1] = primary[:, None] * share[None, p0 : p1 + 1] / pri
    out[:, j0 : j1 + 1] = junior[:, None] * share[None, j0 : j1 + 1] / share[j0 : j1 + 1].sum()
    out[:, :p0] = primary[:, None] * share[None, :p0] / pri
    return out


def _today_school(ctx: Context, level: str) -> NDArray[np.int64]:
    """Index into the schools layer of each unit's school of ``level`` today (−1: none)."""
    schools, blocks = ctx.inputs.schools, ctx.inputs.blocks
    teaches = schools["level"].astype(str).isin([level, "nine_year"]).to_numpy()
    ids = schools["school_id"].astype(str).to_numpy()
    out = np.full(len(blocks), -1, dtype=np.int64)
    if teaches.any():
        bx, by = blocks.geometry.representative_point().x.to_numpy(), blocks.geometry.representative_point().y.to_numpy()
        sx, sy = schools.geometry.x.to_numpy(), schools.geometry.y.to_numpy()
        d = np.hypot(bx[:, None] - sx[None, :], by[:, None] - sy[None, :])
        out = np.argmin(np.where(teaches[None, :], d, np.inf), axis=1)
    col = f"current_{level}"
    if col in blocks.columns:
        by_id = {v: k for k, v in enumerate(ids)}
        by_name = {str(n): k for k, n in enumerate(schools["name"].astype(str))}
        for r, v in enumerate(blocks[col].tolist()):
            if isinstance(v, str) and v:
                out[r] = by_id.get(v, by_name.get(v, out[r]))
    return out


def _frames(ctx: Context, res: ProjectionResult) -> dict[str, pd.DataFrame]:
    p = res.projection
    years = p.years
    n = len(res.block_ids)
    prim, jun = np.rint(p.primary).astype(np.int64), np.rint(p.junior).astype(np.int64)
    units = pd.DataFrame({
        "block_id": np.tile(res.block_ids, len(years)), "year": np.repeat(years, n),
        "primary": prim.ravel(), "junior": jun.ravel(),
    })  # fmt: skip
    ids = ctx.inputs.schools["school_id"].astype(str).to_numpy()
    rows = []
    for level, arr in (("primary", p.primary), ("junior", p.junior)):
        at = _today_school(ctx, level)
        for k, year in enumerate(years):
            load = np.bincount(at[at >= 0], weights=arr[k][at >= 0], minlength=len(ids))
            rows.append(pd.DataFrame({"school_id": ids, "year": year, "level": level, "children": np.rint(load).astype(np.int64)}))
    per_school = pd.concat(rows).pivot_table(index=["school_id", "year"], columns="level", values="children", aggfunc="sum").reset_index()
    per_school.columns.name = None
    county = pd.DataFrame({"year": years, "births": np.rint(p.births).astype(np.int64), "primary": prim.sum(axis=1), "junior": jun.sum(axis=1)})
    return {"units.csv": units, "schools.csv": per_school[["school_id", "year", "primary", "junior"]], "county.csv": county}


def _ages(blocks: pd.DataFrame, births: dict[int, float], params: ProjectionParams, options: ProjectionOptions) -> tuple[NDArray[np.float64], str]:
    """``(n, 15)`` children by age in the base year and where they come from."""
    if all(c in blocks.columns for c in AGE_COLUMNS):
        ages = blocks[list(AGE_COLUMNS)].apply(pd.to_numeric, errors="coerce").fillna(0).to_numpy(dtype=float)
        return np.maximum(ages, 0.0), "by age"
    share = county_age_share(births, params.base_year, options)
    primary = blocks["students_primary"].to_numpy(dtype=float)
    junior = blocks["students_junior"].to_numpy(dtype=float)
    return unit_ages(primary, junior, share), "by level, split by the county's births"


def backcast(ages: NDArray[np.float64], births: dict[int, float], base_year: int, years: int, options: ProjectionOptions) -> NDArray[np.float64]:
    """``(n, 15)`` the units' children ``years`` years before ``base_year``: today's, ``years`` younger with survival undone;
    the cohorts since aged out are the county's births of their year, survived, placed like today's 14-year-olds."""
    k = years
    past = np.zeros_like(ages)
    past[:, : N_AGES - k] = ages[:, k:] / options.survival_child**k
    oldest = ages[:, -1] / max(float(ages[:, -1].sum()), 1e-12)
    known = sorted(births)
    for a in range(N_AGES - k, N_AGES):
        year = base_year - k - a
        b = float(births[min(known, key=lambda y: (abs(y - year), y))])
        past[:, a] = oldest * b * options.survival_infant * options.survival_child ** (a - 1)
    return past


def _backtest(ages: NDArray[np.float64], births: dict[int, float], params: ProjectionParams, masks: tuple[NDArray[np.bool_], NDArray[np.bool_]],
              options: ProjectionOptions) -> BacktestError:
    k = params.backtest_years
    past = backcast(ages, births, params.base_year, k, options)
    return backtest(past, ages, births, params.base_year - k, k, rural=masks[0], receiving=masks[1], options=options)


def run(ctx: Context, params: ProjectionParams) -> StageOutput:
    """Project the children of school age; see the module docstring."""
    blocks = ctx.inputs.blocks
    options = ProjectionOptions(**{k: getattr(params, k) for k in ProjectionOptions.model_fields})
    if params.births is not None:
        births, source = dict(params.births), "county" if params.births_basis == "county data" else "assumed"
    else:
        births, source = scaled_births(float(blocks["students_primary"].to_numpy(dtype=float).sum()), params.base_year, options), "national, scaled"
    if not any(y <= params.base_year for y in births):
        raise InputError([Problem("scenario.toml", f"births must include {params.base_year} or an earlier year", column="projection.births")])
    ctx.step(f"projection: {len(blocks)} units, {params.base_year}–{params.base_year + params.horizon_years}, births {source}")
    ages, ages_source = _ages(blocks, births, params, options)
    area = blocks["area_type"].astype(str).to_numpy() if "area_type" in blocks.columns else np.full(len(blocks), "")
    masks = (area == "rural", np.isin(area, ["urban", "town"]))
    proj = project(ages, births, params.base_year, rural=masks[0], receiving=masks[1], options=options)
    res = ProjectionResult(blocks["block_id"].astype(str).to_numpy(), proj, source)
    frames = _frames(ctx, res)
    county = frames["county.csv"]
    files: dict[str, Payload] = dict(frames)
    first, last = county.iloc[0], county.iloc[-1]
    peak = county.loc[county["primary"].idxmax()]
    lines = [
        f"births {source}; children {ages_source}; {int(first['year'])}: {int(first['primary']):,} primary, {int(first['junior']):,} junior → "
        f"{int(last['year'])}: {int(last['primary']):,} primary, {int(last['junior']):,} junior",
        f"primary peaks in {int(peak['year'])} ({int(peak['primary']):,})",
    ]
    if params.rural_shift > 0:
        lines.append(f"rural shift {params.rural_shift:.1%} a year of rural units' children to urban and town units")
    metrics: dict[str, object] = {
        "births_source": source, "ages_source": ages_source, "years": [int(y) for y in proj.years],
        "primary": county["primary"].tolist(), "junior": county["junior"].tolist(),
    }  # fmt: skip
    if params.backtest_years > 0:
        err = _backtest(ages, births, params, masks, options)
        files["backtest.csv"] = pd.DataFrame({
            "years": err.years, "level": ["primary", "junior"], "county_error": [round(err.county_primary, 4), round(err.county_junior, 4)],
            "unit_error": [round(err.unit_primary, 4), round(err.unit_junior, 4)],
        })  # fmt: skip
        metrics["backtest"] = {"years": err.years, "county_primary": err.county_primary, "county_junior": err.county_junior,
                               "unit_primary": err.unit_primary, "unit_junior": err.unit_junior}
        lines.append(f"back-test over {err.years} years: county {err.county_primary:+.1%} primary, {err.county_junior:+.1%} junior; "
                     f"units {err.unit_primary:.1%} and {err.unit_junior:.1%} off (weighted)")
    return StageOutput(files=files, result=res, summary="\n".join(lines), metrics=metrics)


STAGE = Stage(
    name="projection",
    params=ProjectionParams,
    run=run,
    result_type=ProjectionResult,
    files=("units.csv", "schools.csv", "county.csv", "backtest.csv"),
    needs=("schools", "blocks"),
    description="school-age projection (学龄人口预测): children by unit and year, cohort survival on the county's births",
    command=Command("project", "project the children of school age per unit for the next years"),
    demo={"rural_shift": 0.02, "backtest_years": 5},
)
