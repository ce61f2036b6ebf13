"""School strength index: which schools are strong, middle or weak.

The index measures a school against the 优质均衡 standards, not only against
its neighbours, so that "strong" means the same thing in a rich and a poor
county:

1. For each of the 7 优质均衡 indicators the school's value is divided by its
   standard (教督〔2017〕6号, level-specific) and capped at
   :data:`RATIO_CAP` (1 = exactly at standard; the cap keeps one lavish
   sports ground from hiding a shortage of teachers).
2. Optionally an outcome the bureau has (``quality_score``, the
   quality-monitoring score) enters as the school's score divided by the
   pupil-weighted county mean, capped the same way (1 = county average).
3. ``strength`` is the weighted mean of these components (default: each
   resource weighs 1 and the outcome, when present, weighs as much as the
   resources used together, so results and resources count half each). A component that cannot
   be computed for any school (no teachers table, no column) is left out for
   all; a school missing one value is averaged over its other components.
4. Nine-year schools: components are computed per level part (against that
   level's standard) and averaged weighted by pupils.
5. Classes: ``strong`` when strength ≥ ``strong_at``, ``weak`` when below
   ``weak_below``, else ``middle``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field, model_validator

from geo.errors import InputError, Problem
from geo.model import LEVELS
from geo.policy import QUALITY_STANDARDS
from planning.balance.indicators import QUALITY_INDICATORS, school_indicators

logger = logging.getLogger(__name__)

#: Component values (value / standard) are capped here.
RATIO_CAP = 1.5
#: Default class thresholds on the index: strong at ≥ 110% of standard on average, weak below 90%.
DEFAULT_STRONG_AT = 1.1
DEFAULT_WEAK_BELOW = 0.9
#: Default weight of the outcome component when every resource is computable (it is
#: always the sum of the resource weights in use unless ``weights`` sets it).
DEFAULT_OUTCOME_WEIGHT = float(len(QUALITY_INDICATORS))
#: Name of the outcome component in ``weights`` and in the output (``c_outcome``).
OUTCOME = "outcome"


class StrengthOptions(BaseModel):
    """How the strength index is computed (``[balance.strength]`` / ``[communities.strength]``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    weights: dict[str, float] = Field(
        default_factory=dict, description="component → weight (优质均衡 indicator names and 'outcome')"
    )
    outcome_column: str | None = Field("quality_score", description="schools column with an outcome score, or none")
    strong_at: float = Field(DEFAULT_STRONG_AT, ge=0, description="strong when the index is at least this")
    weak_below: float = Field(DEFAULT_WEAK_BELOW, ge=0, description="weak when the index is below this")

    @model_validator(mode="after")
    def _order(self) -> StrengthOptions:
        if self.weak_below > self.strong_at:
            msg = f"weak_below ({self.weak_below}) must be ≤ strong_at ({self.strong_at})"
            raise ValueError(msg)
        return self

    def compute(self, schools: pd.DataFrame, teachers: pd.DataFrame | None) -> pd.DataFrame:
        """The strength frame of these schools (:func:`strength_index` with these options)."""
        return strength_index(schools, teachers, options=self)


def strength_index(
    schools: pd.DataFrame,
    teachers: pd.DataFrame | None,
    *,
    options: StrengthOptions | None = None,
    standards: Mapping[str, Mapping[str, float]] = QUALITY_STANDARDS,
) -> pd.DataFrame:
    """Strength index and class of every school.

    Parameters
    ----------
    schools
        Schools layer with canonical columns (see :func:`planning.balance.indicators.school_indicators`).
    teachers
        Teachers table, or ``None`` (teacher components left out).
    options
        ``weights``: component → weight, keys among the 7 优质均衡 indicator names
        and ``"outcome"``; unlisted components keep their default weight (1 per
        resource; for the outcome the sum of the resource weights in use). A
        weight of 0 drops a component. ``outcome_column``: schools column with an
        outcome score (higher is better), or ``None``; ignored when the column is
        absent or empty. ``strong_at``, ``weak_below``: class thresholds on the
        index (``weak_below`` ≤ ``strong_at``). Default :class:`StrengthOptions`.
    standards
        优质均衡 standards, level → indicator → value (default :data:`geo.policy.QUALITY_STANDARDS`;
        pass :attr:`planning.balance.BalanceOptions.quality_standards` to follow a scenario's).

    Returns
    -------
    pandas.DataFrame
        Indexed by ``school_id`` (sorted): ``level`` (of the school),
        ``area_type`` (when given), ``pupils``, ``strength``, ``strength_class``
        (``strong`` | ``middle`` | ``weak``; a school with no component at all is
        ``middle`` with NaN strength) and the components ``c_<indicator>`` and
        ``c_outcome`` (NaN where not used).

    Raises
    ------
    InputError
        Unknown or negative weights, thresholds in the wrong order, a
        non-numeric outcome column, or bad schools/teachers input.
    """
    opts = options or StrengthOptions()
    w, outcome = _check(schools, opts)
    cols = [f"c_{n}" for n in QUALITY_INDICATORS]
    per_school = _resource_components(schools, teachers, standards, cols)

    ids = schools["school_id"].astype(str).to_numpy()
    total = schools["enrolled_primary"].to_numpy(np.float64) + schools["enrolled_junior"].to_numpy(np.float64)
    out = pd.DataFrame({"level": schools["level"].astype(str).to_numpy(), "pupils": total.astype(np.int64)}, index=ids)
    if "area_type" in schools.columns:
        out["area_type"] = schools["area_type"].astype(str).to_numpy()
    out.index.name = "school_id"
    out = out.sort_index()
    for c in cols:
        out[c] = per_school[c].to_numpy()
    out["c_outcome"] = np.nan
    if outcome is not None:
        out["c_outcome"] = _outcome_component(out, pd.Series(outcome.to_numpy(np.float64), index=ids).sort_index(), opts.outcome_column)

    all_cols = [*cols, "c_outcome"]
    strength = _combine(out[all_cols].to_numpy(np.float64), w, outcome_given=OUTCOME in opts.weights)
    out["strength"] = strength
    cls = np.where(strength >= opts.strong_at, "strong", np.where(strength < opts.weak_below, "weak", "middle"))
    out["strength_class"] = pd.array(cls, dtype="str")
    front = ["level", *(["area_type"] if "area_type" in out.columns else []), "pupils", "strength", "strength_class"]
    return out[[*front, *all_cols]]


def _check(schools: pd.DataFrame, opts: StrengthOptions) -> tuple[dict[str, float], pd.Series | None]:
    """(component → weight, outcome scores or ``None``), every problem collected before raising."""
    problems: list[Problem] = []
    names = (*QUALITY_INDICATORS, OUTCOME)
    w = dict.fromkeys(QUALITY_INDICATORS, 1.0) | {OUTCOME: DEFAULT_OUTCOME_WEIGHT}
    for key, val in opts.weights.items():
        if key not in names:
            problems.append(Problem("strength", f"unknown component; valid: {', '.join(names)}", column=f"weights.{key}"))
        elif not np.isfinite(val) or val < 0:
            problems.append(Problem("strength", f"weight must be ≥ 0, got {val}", column=f"weights.{key}"))
        else:
            w[key] = float(val)
    if not opts.weak_below <= opts.strong_at:
        problems.append(Problem("strength", f"weak_below ({opts.weak_below}) must be ≤ strong_at ({opts.strong_at})"))
    outcome = None
    column = opts.outcome_column
    if column is not None and column in schools.columns:
        outcome = pd.to_numeric(schools[column], errors="coerce")
        bad = outcome.isna() & schools[column].notna()
        problems += [
            Problem("schools", "outcome score is not a number", row=sid, column=column)
            for sid in schools["school_id"].astype(str)[bad.to_numpy()]
        ]
        if outcome.notna().sum() == 0:
            outcome = None
    if problems:
        raise InputError(problems)
    return w, outcome


def _resource_components(
    schools: pd.DataFrame, teachers: pd.DataFrame | None, standards: Mapping[str, Mapping[str, float]], cols: list[str]
) -> pd.DataFrame:
    """Value / standard of each resource, capped, per school (sorted ids); nine-year parts pupil-weighted."""
    parts = school_indicators(schools, teachers)
    parts = parts[parts["pupils"] > 0]
    comp = pd.DataFrame({"school_id": parts["school_id"].to_numpy(), "pupils": parts["pupils"].to_numpy(np.float64)})
    for name in QUALITY_INDICATORS:
        std = parts["level"].map({lv: standards[lv][name] for lv in LEVELS}).to_numpy(np.float64)
        comp[f"c_{name}"] = np.minimum(parts[name].to_numpy(np.float64) / std, RATIO_CAP)
    # pupil-weighted mean of the parts of each school (nine-year schools have two)
    vals = comp[cols].to_numpy()
    wts = np.where(np.isfinite(vals), comp["pupils"].to_numpy()[:, None], 0.0)
    num = pd.DataFrame(np.nan_to_num(vals) * wts, columns=cols).groupby(comp["school_id"].to_numpy()).sum()
    den = pd.DataFrame(wts, columns=cols).groupby(comp["school_id"].to_numpy()).sum()
    return (num / den.where(den > 0)).reindex(sorted(schools["school_id"].astype(str)))


def _outcome_component(out: pd.DataFrame, score: pd.Series, column: str | None) -> NDArray[np.float64] | float:
    """Outcome score / pupil-weighted county mean, capped; NaN (left out) without a positive mean."""
    have = score.notna().to_numpy() & (out["pupils"].to_numpy() > 0)
    p = out["pupils"].to_numpy(np.float64)[have]
    mean = float(np.dot(p, score.to_numpy()[have]) / p.sum()) if p.sum() > 0 else float("nan")
    if np.isfinite(mean) and mean > 0:
        return np.minimum(score.to_numpy() / mean, RATIO_CAP)
    logger.info("outcome column %r has no positive pupil-weighted mean; left out", column)
    return np.nan


def _combine(comp_vals: NDArray[np.float64], w: Mapping[str, float], *, outcome_given: bool) -> NDArray[np.float64]:
    """Weighted mean of each school's components (columns: the 7 resources, then the outcome)."""
    names = (*QUALITY_INDICATORS, OUTCOME)
    used = np.array([w[n] for n in names]) * np.isfinite(comp_vals).any(axis=0)
    if not outcome_given:
        # as much as the resources actually used (or alone when every resource weighs 0)
        used[-1] = (used[:-1].sum() or DEFAULT_OUTCOME_WEIGHT) if used[-1] > 0 else 0.0
    dropped = [n for n, u, ww in zip(names, used, (w[n] for n in names)) if u == 0 and ww > 0]
    if dropped:
        logger.info("strength components not computable, left out: %s", ", ".join(dropped))
    wmat = np.where(np.isfinite(comp_vals), used[None, :], 0.0)
    wsum = wmat.sum(axis=1)
    return np.where(wsum > 0, (np.nan_to_num(comp_vals) * wmat).sum(axis=1) / np.where(wsum > 0, wsum, 1), np.nan)
