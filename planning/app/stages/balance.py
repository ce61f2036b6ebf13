"""Stage ``balance``: 基本均衡 and 优质均衡 evaluation plus the school strength index.

Needs the schools layer; the teachers table is optional (without it the
teacher indicators are reported as not computable). Thresholds and standards
are :class:`~planning.balance.BalanceOptions` (``[balance] quality_cv_max``,
``basic_cv_mean_max``, ``[balance.quality_standards.<level>]``); the strength
index is set in ``[balance.strength]``. Files:

- ``balance.csv``: ``level, indicator, county_value, cv, threshold, passes, kind``
  (+ ``n_schools, n_missing, note``), one row per level × indicator × kind and
  a ``basic_composite`` row per level (mean of the 8 基本均衡 CVs).
- ``schools_balance.csv``: per school and level: pupils, exclusion, each
  indicator, its share of the standard and whether met, ``standards_met``,
  ``meets_quality``, ``strength``, ``strength_class``, ``class_source`` (bureau or
  computed) and ``not_strong_because``.

Result: :class:`BalanceResult` (``report`` and ``strength``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from planning.app.settings import Scenario
from planning.app.stage import Command, Context, Stage, StageOutput, StageParams
from planning.balance import QUALITY_INDICATORS, BalanceOptions, BalanceReport, StrengthOptions, from_frames


class BalanceParams(StageParams, BalanceOptions):
    """Parameters of the ``balance`` stage: :class:`~planning.balance.BalanceOptions` and the strength index."""

    strength: StrengthOptions = StrengthOptions()


@dataclass(frozen=True)
class BalanceResult:
    """What the ``balance`` stage leaves for later stages.

    Attributes
    ----------
    report
        The county's :class:`~planning.balance.indicators.BalanceReport`.
    strength
        :func:`~planning.balance.strength.strength_index` frame (indexed by ``school_id``).
    """

    report: BalanceReport
    strength: pd.DataFrame

    @property
    def indicators(self) -> pd.DataFrame:
        """``report.indicators``."""
        return self.report.indicators

    @property
    def schools(self) -> pd.DataFrame:
        """``report.schools``."""
        return self.report.schools


def _fmt(x: float) -> str:
    return "n/a" if not np.isfinite(x) else f"{x:.3f}"


def run(ctx: Context, params: BalanceParams) -> StageOutput:
    """Evaluate balance and strength; see the module docstring."""
    schools, teachers = ctx.inputs.schools, ctx.inputs.teachers
    ctx.step("balance indicators and their coefficients of variation (差异系数)")
    report = from_frames(schools, teachers, options=params)
    strength = params.strength.compute(schools, teachers, standards=params.quality_standards)

    ind = report.indicators
    table = ind[["level", "indicator", "county_value", "cv", "threshold", "passes", "kind", "n_schools", "n_missing", "note"]]
    per_school = report.schools.drop(columns=["school_level"])
    if "name" in schools.columns:
        names = pd.Series(schools["name"].astype(str).to_numpy(), index=schools["school_id"].astype(str).to_numpy())
        per_school.insert(1, "name", names.reindex(per_school["school_id"]).to_numpy())
    per_school["strength"] = strength["strength"].reindex(per_school["school_id"]).to_numpy()
    for col in ("strength_class", "class_source", "not_strong_because"):
        per_school[col] = strength[col].reindex(per_school["school_id"]).to_numpy()

    lines: list[str] = []
    metrics: dict[str, Any] = {"not_computable": list(report.not_computable)}
    for lv, comp in report.basic_composite.items():
        q = ind[(ind["level"] == lv) & (ind["kind"] == "quality")]
        failing = q[~q["passes"].fillna(False).astype(bool)]  # NA (no school counted) is not a pass
        counted = report.schools[(report.schools["level"] == lv) & ~report.schools["excluded"]]
        meeting = int(counted["meets_quality"].fillna(False).sum())
        metrics[lv] = {
            "quality_cvs_passing": int(len(q) - len(failing)),
            "quality_passes": bool(report.quality_passes[lv]),
            "schools_counted": len(counted),
            "schools_meeting_quality": meeting,
            "basic_composite": None if not np.isfinite(comp) else float(comp),
            "basic_passes": bool(report.basic_passes[lv]),
        }
        fails = ", ".join(f"{r.indicator} {_fmt(r.cv)} > {r.threshold:.2f}" for r in failing.itertuples())
        lines.append(
            f"{lv}: 优质均衡 CVs {len(q) - len(failing)}/{len(QUALITY_INDICATORS)} within threshold"
            + (f" (not: {fails})" if fails else "")
            + f"; {meeting}/{len(counted)} schools meet ≥ 6 of 7 standards; "
            + f"基本均衡 composite {_fmt(comp)} ({'passes' if report.basic_passes[lv] else 'fails'})"
        )
    counts = strength["strength_class"].value_counts()
    metrics["strength_classes"] = {c: int(counts.get(c, 0)) for c in ("strong", "middle", "weak")}
    lines.append("strength: " + ", ".join(f"{v} {k}" for k, v in metrics["strength_classes"].items()))
    strong = strength.index[strength["strength_class"] == "strong"]
    if len(strong) and "name" in schools.columns:
        name = dict(zip(schools["school_id"].astype(str), schools["name"].astype(str)))
        lines.append("strong: " + "、".join(name.get(str(sid), str(sid)) for sid in strong))
    by_bureau = int((strength["class_source"] == "bureau").sum())
    if by_bureau:
        lines.append(f"{by_bureau} class(es) from the bureau's own strength_class column")
    if report.not_computable:
        lines.append("not computable (input missing): " + ", ".join(report.not_computable))
    return StageOutput(
        files={"balance.csv": table.reset_index(drop=True), "schools_balance.csv": per_school.reset_index(drop=True)},
        result=BalanceResult(report=report, strength=strength),
        summary="\n".join(lines),
        metrics=metrics,
    )


def strength_settings(scenario: Scenario) -> StrengthOptions:
    """The scenario's strength settings: those of the first enabled stage, in run order, that has them.

    That is ``[balance.strength]`` when the balance stage is enabled, else
    ``[communities.strength]`` when given, else the defaults.
    """
    for params in scenario.stages.values():
        settings = getattr(params, "strength", None)
        if isinstance(settings, StrengthOptions):
            return settings
    return StrengthOptions()


def strength(ctx: Context) -> pd.DataFrame:
    """The school strength frame, one per run, for every stage that classifies schools.

    The balance stage's (:attr:`BalanceResult.strength`) when it ran; otherwise
    computed once from :func:`strength_settings` and shared by the stages that ask.
    """
    earlier = ctx.result(BalanceResult)
    if earlier is not None:
        return earlier.strength
    settings = strength_settings(ctx.scenario)
    return ctx.shared("strength", lambda: settings.compute(ctx.inputs.schools, ctx.inputs.teachers))


STAGE = Stage(
    name="balance",
    params=BalanceParams,
    run=run,
    result_type=BalanceResult,
    files=("balance.csv", "schools_balance.csv"),
    needs=("schools",),
    description="基本均衡 / 优质均衡 evaluation (official weighted CVs) and the school strength index",
    command=Command("balance", "balance indicators (基本/优质均衡) and their coefficients of variation"),
)
