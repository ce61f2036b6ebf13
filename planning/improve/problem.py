"""The achievement-plan problem on plain arrays (:class:`ImproveProblem`) and its exact CV algebra.

Shared by the formulation (:mod:`planning.improve.model`), the constructive plan
(:mod:`planning.improve.greedy`) and the table door (:mod:`planning.improve.plan`).

The CV in resource terms
------------------------
For one level and one indicator, part ``i`` (a school, or one level of a nine-year school) has
``Pᵢ`` pupils and ``rᵢ`` of the resource (m², yuan, rooms or teachers); its value is
``xᵢ = s·rᵢ/Pᵢ`` (``s`` = 1 or 100). With ``T = Σ rᵢ`` and ``P = Σ Pᵢ`` the official
enrolment-weighted CV satisfies ``CV² = P·Σ rᵢ²/Pᵢ / T² − 1``, so (the scale ``s`` cancels)::

    CV ≤ τ   ⇔   f(r) = Σ rᵢ²/Pᵢ − (1 + τ²)·T²/P ≤ 0
             ⇔   g(r) = sqrt(Σ rᵢ²/Pᵢ) − sqrt((1 + τ²)/P) · Σ rᵢ ≤ 0     (T ≥ 0)

``g`` is convex and positively homogeneous (a second-order cone), so its tangent at any point
``r⁰``, ``Σᵢ (r⁰ᵢ/Pᵢ − c·N⁰)·rᵢ ≤ 0`` with ``N⁰ = sqrt(Σ r⁰ᵢ²/Pᵢ)``, ``c = sqrt((1+τ²)/P)``, holds
for every plan that passes: :func:`cv_cut` is a valid outer-approximation cut, and a model made
of such cuts is a relaxation whose optimum is a lower bound.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

#: Number of 优质均衡 indicators (and measures, one per indicator).
N_INDICATORS = 7
#: A plan passes a CV test only with this much room below the threshold, so that the balance code,
#: which recomputes the values from the amended tables, agrees to the last bit.
CV_MARGIN = 1e-9
#: Relative tolerance of "meets the standard", as the balance code compares (4.2 = 42 × 100 / 1000).
STANDARD_RTOL = 1e-9


@dataclass(frozen=True)
class ImproveProblem:
    """The model on plain arrays.

    Attributes
    ----------
    part_level
        ``(n_parts,)`` level index of each counted part (0 primary, 1 junior).
    part_school
        ``(n_parts,)`` school index of each part (both parts of a nine-year school share it).
    pupils
        ``(n_parts,)`` pupils ``Pᵢ`` (> 0).
    resource
        ``(n_parts, 7)`` amount of each indicator's resource today (teachers, m², yuan, rooms),
        rotation already counted; NaN where the indicator is not computable.
    need
        ``(n_parts, 7)`` amount that meets the part's standard (``standard × Pᵢ / s``).
    cv_max
        ``(n_levels,)`` CV threshold of each level.
    var_resource, var_school
        ``(n_vars,)`` measure (0..6, the indicator it raises) and school of each decision.
    var_cost
        ``(n_vars,)`` cost of one unit, whole yuan.
    var_ub
        ``(n_vars,)`` most units of each decision.
    gain
        ``(n_parts·7, n_vars)`` sparse: amount of resource row ``i·7 + k`` one unit adds. In one
        row every non-zero is equal (a unit of any of its decisions adds the same amount).
    side, side_rhs, side_label
        Other limits ``side · u ≤ side_rhs`` (hires per school, backbone candidates, the
        yearly training limit, the budget), each with a label that names it.
    min_met, seventh_share
        Each part meets at least ``min_met`` standards and the others at ≥ ``seventh_share``.
    """

    part_level: NDArray[np.int64]
    part_school: NDArray[np.int64]
    pupils: NDArray[np.float64]
    resource: NDArray[np.float64]
    need: NDArray[np.float64]
    cv_max: NDArray[np.float64]
    var_resource: NDArray[np.int64]
    var_school: NDArray[np.int64]
    var_cost: NDArray[np.int64]
    var_ub: NDArray[np.int64]
    gain: sp.csr_matrix
    side: sp.csr_matrix = field(default_factory=lambda: sp.csr_matrix((0, 0)))
    side_rhs: NDArray[np.float64] = field(default_factory=lambda: np.zeros(0))
    side_label: tuple[str, ...] = ()
    min_met: int = 6
    seventh_share: float = 0.85

    @property
    def n_parts(self) -> int:
        """Counted parts."""
        return len(self.pupils)

    @property
    def n_vars(self) -> int:
        """Decisions (units of one measure at one school or part)."""
        return len(self.var_cost)

    def groups(self) -> list[tuple[int, int]]:
        """The (level, indicator) CV tests: every level with parts, every computable indicator."""
        out = []
        for lv in range(len(self.cv_max)):
            sel = self.part_level == lv
            if not sel.any():
                continue
            out += [(lv, k) for k in range(N_INDICATORS) if np.isfinite(self.resource[sel, k]).all()]
        return out

    def amounts(self, u: NDArray[Any]) -> NDArray[np.float64]:
        """``(n_parts, 7)`` resource amounts after ``u`` units of each decision."""
        return self.resource + (self.gain @ np.asarray(u, dtype=np.float64)).reshape(self.n_parts, N_INDICATORS)


def cv_of(r: NDArray[np.float64], pupils: NDArray[np.float64]) -> float:
    """Official weighted CV of amounts ``r`` at parts of ``pupils`` (the scale cancels); NaN if no resource."""
    total = float(r.sum())
    if total <= 0:
        return float("nan")
    big_p = float(pupils.sum())
    x = r / pupils
    mean = total / big_p
    return float(np.sqrt(np.dot(pupils / big_p, (x - mean) ** 2)) / mean)


def cv_violation(r: NDArray[np.float64], pupils: NDArray[np.float64], tau: float) -> float:
    """``f(r)`` scaled by ``P/T²`` (= CV² − τ², ≤ 0 when the test passes); ``inf`` without resource."""
    total = float(r.sum())
    if total <= 0:
        return float("inf")
    return float(pupils.sum() * np.dot(r, r / pupils) / total**2 - 1.0 - tau * tau)


def cv_cut(r0: NDArray[np.float64], pupils: NDArray[np.float64], tau: float) -> NDArray[np.float64]:
    """Coefficients ``a`` of a supporting cut ``a · r ≤ 0`` of the CV test, taken toward ``r0``.

    When ``r0`` fails the test, the cut touches the cone at ``r*``, the point where the line from
    the equal point (every part at the county mean, CV 0, the same total) to ``r0`` crosses it:
    along that line the total stays ``T⁰`` and ``CV`` grows linearly, so ``r* = r̄ + (τ / CV⁰)(r⁰ − r̄)``
    (an extended supporting hyperplane, tighter than the tangent at ``r0`` itself). Scaled so
    that ``max |a| = 1``; valid for every ``r`` that passes (see the module docstring).
    """
    total = float(r0.sum())
    big_p = float(pupils.sum())
    point = r0
    cv0 = cv_of(r0, pupils) if total > 0 else float("nan")
    if np.isfinite(cv0) and cv0 > tau:
        even = pupils * total / big_p
        point = even + (tau / cv0) * (r0 - even)
    c = np.sqrt((1.0 + tau * tau) / big_p)
    norm = float(np.sqrt(np.dot(point, point / pupils)))
    a = point / pupils - c * norm
    top = float(np.abs(a).max())
    return a / top if top > 0 else a


def water_fill(r0: NDArray[np.float64], pupils: NDArray[np.float64], tau: float) -> NDArray[np.float64]:
    """The least raise of ``r0`` that passes the test when every unit of resource costs the same.

    With the same cost per unit of resource at every part, the cheapest way to bring the CV down
    to ``tau`` raises the lowest values to a common level ``h`` (water-filling):
    ``rᵢ = max(r⁰ᵢ, h·Pᵢ)`` with the least ``h`` that passes (the CV falls as ``h`` rises). A cut
    there supports the cone where the relaxation's optimum tends to lie.
    """
    x = r0 / pupils
    if not np.isfinite(cv_of(r0, pupils)) or cv_of(r0, pupils) <= tau:
        return r0
    lo, hi = 0.0, float(x.max())
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        if cv_of(np.maximum(r0, mid * pupils), pupils) <= tau:
            hi = mid
        else:
            lo = mid
    return np.maximum(r0, hi * pupils)


@dataclass(frozen=True)
class SchoolRules:
    """The per-school rule ("≥ 6 of 7 standards, the 7th at ≥ 85 %") in whole units, one row per (part, indicator).

    Attributes
    ----------
    part, indicator
        ``(n_rows,)`` the part and indicator of each row (only rows with a shortfall today).
    units
        ``(n_rows,)`` amount one unit of any of the row's decisions adds.
    need85, need100
        ``(n_rows,)`` units (summed over the row's decisions) that bring the part to 85 % and
        to 100 % of its standard.
    cols
        The row's decisions (column indices).
    cap
        ``(n_rows,)`` most units the row's decisions can give together.
    exempt
        ``(n_parts,)`` standards each part may leave at ≥ 85 % (7 − ``min_met`` − not computable).
    """

    part: NDArray[np.int64]
    indicator: NDArray[np.int64]
    units: NDArray[np.float64]
    need85: NDArray[np.int64]
    need100: NDArray[np.int64]
    cols: tuple[NDArray[np.int64], ...]
    cap: NDArray[np.int64]
    exempt: NDArray[np.int64]


def _units_needed(target: float, have: float, unit: float) -> int:
    """Whole units of ``unit`` that bring ``have`` to ``target`` (0 when already there)."""
    if have >= target:
        return 0
    if unit <= 0:
        return np.iinfo(np.int64).max // 4
    return int(np.ceil((target - have) / unit - 1e-9))


def school_rules(prob: ImproveProblem) -> SchoolRules:
    """The per-school rule of ``prob`` in whole units (see :class:`SchoolRules`)."""
    gain = prob.gain.tocsr()
    rows: list[tuple[int, int, float, int, int, NDArray[np.int64], int]] = []
    for i in range(prob.n_parts):
        for k in range(N_INDICATORS):
            have, need = float(prob.resource[i, k]), float(prob.need[i, k])
            if not np.isfinite(have):
                continue
            # "meets" with a hair of room below the balance code's tolerance, so both agree
            t100 = need * (1 - STANDARD_RTOL / 10)
            t85 = need * prob.seventh_share * (1 - STANDARD_RTOL / 10)
            if have >= t100:
                continue
            row = gain.getrow(i * N_INDICATORS + k)
            cols, vals = row.indices.astype(np.int64), row.data
            cols, vals = cols[vals > 0], vals[vals > 0]
            unit = float(vals[0]) if len(vals) else 0.0
            if len(vals) and not np.allclose(vals, unit, rtol=1e-12, atol=0):
                msg = f"part {i}, indicator {k}: decisions add unequal amounts {vals}"
                raise ValueError(msg)
            cap = int(prob.var_ub[cols].sum()) if len(cols) else 0
            rows.append((i, k, unit, _units_needed(t85, have, unit), _units_needed(t100, have, unit), cols, cap))
    missing = (~np.isfinite(prob.resource)).sum(axis=1)
    exempt = np.maximum(0, N_INDICATORS - prob.min_met - missing).astype(np.int64)
    return SchoolRules(
        part=np.array([r[0] for r in rows], dtype=np.int64),
        indicator=np.array([r[1] for r in rows], dtype=np.int64),
        units=np.array([r[2] for r in rows], dtype=np.float64),
        need85=np.array([r[3] for r in rows], dtype=np.int64),
        need100=np.array([r[4] for r in rows], dtype=np.int64),
        cols=tuple(r[5] for r in rows),
        cap=np.array([r[6] for r in rows], dtype=np.int64),
        exempt=exempt,
    )


@dataclass(frozen=True)
class CvGroup:
    """One CV test (a level and an indicator) on the decisions.

    ``r = base + gain @ u`` are the amounts of the counted parts ``parts`` (``pupils``) of the
    level; the test is ``cv_of(r, pupils) ≤ tau``.
    """

    level: int
    indicator: int
    parts: NDArray[np.int64]
    pupils: NDArray[np.float64]
    base: NDArray[np.float64]
    gain: sp.csr_matrix
    tau: float

    @cached_property
    def coo(self) -> sp.coo_matrix:
        """The gain in coordinate form (part row, decision column, amount), built once."""
        return self.gain.tocoo()

    @cached_property
    def touches(self) -> NDArray[np.bool_]:
        """``(n_vars,)`` the decisions that move this test's amounts."""
        return np.diff(self.gain.tocsc().indptr) > 0

    def amounts(self, u: NDArray[Any]) -> NDArray[np.float64]:
        """Amounts of the group's parts after ``u``."""
        return self.base + self.gain @ np.asarray(u, dtype=np.float64)

    def cv(self, u: NDArray[Any]) -> float:
        """CV after ``u``."""
        return cv_of(self.amounts(u), self.pupils)

    def passes(self, u: NDArray[Any]) -> bool:
        """The CV after ``u`` is within ``tau`` with :data:`CV_MARGIN` to spare."""
        cv = self.cv(u)
        return bool(np.isfinite(cv) and cv <= self.tau - CV_MARGIN)

    def aggregated_cuts(self, u: NDArray[Any], most: int = 4) -> list[tuple[NDArray[np.float64], float]]:
        """Cuts of the test on parts merged into two classes, where the plan ``u`` fails it.

        Merging parts into classes (pooling their resource and pupils) can only lower the CV, so
        "the merged CV ≤ τ" is implied by the test: a valid relaxation, and in two dimensions its
        cuts are tight at once. Classes tried: each of the ``most`` highest-value parts against the
        rest (a plan that piles units on one part), and the best-provided parts against the others,
        split where the merged CV is highest.
        """
        r = self.amounts(u)
        p = self.pupils
        total, big_p = float(r.sum()), float(p.sum())
        if total <= 0 or len(r) < 2:
            return []
        order = np.argsort(-(r / p), kind="stable")
        splits: list[NDArray[np.bool_]] = []
        for i in order[:most]:
            top = np.zeros(len(r), dtype=bool)
            top[i] = True
            splits.append(top)
        cum_r, cum_p = np.cumsum(r[order])[:-1], np.cumsum(p[order])[:-1]
        with np.errstate(divide="ignore", invalid="ignore"):
            merged = (cum_r**2 / cum_p + (total - cum_r) ** 2 / (big_p - cum_p)) * big_p / total**2 - 1
        best = int(np.nanargmax(merged))
        top = np.zeros(len(r), dtype=bool)
        top[order[: best + 1]] = True
        splits.append(top)
        out = []
        for top in splits:
            two_r = np.array([r[top].sum(), r[~top].sum()])
            two_p = np.array([p[top].sum(), p[~top].sum()])
            if cv_of(two_r, two_p) <= self.tau:
                continue
            a2 = cv_cut(two_r, two_p, self.tau)
            a = np.where(top, a2[0], a2[1])
            out.append((np.asarray(self.gain.T @ a).ravel(), -float(a @ self.base)))
        return out

    def cut(self, u: NDArray[Any], *, fill: bool = False) -> tuple[NDArray[np.float64], float]:
        """Cut toward the plan ``u`` on the decisions: ``(coef, rhs)`` with ``coef · u ≤ rhs`` for every passing plan.

        ``fill``: at the water-filling point above ``u``'s amounts (:func:`water_fill`) instead.
        """
        r = self.amounts(u)
        a = cv_cut(water_fill(r, self.pupils, self.tau) if fill else r, self.pupils, self.tau)
        return np.asarray(self.gain.T @ a).ravel(), -float(a @ self.base)


def cv_groups(prob: ImproveProblem) -> list[CvGroup]:
    """The CV tests of ``prob``, as :class:`CvGroup` (level order, then indicator order)."""
    gain = prob.gain.tocsr()
    out = []
    for lv, k in prob.groups():
        parts = np.flatnonzero(prob.part_level == lv)
        rows = parts * N_INDICATORS + k
        out.append(
            CvGroup(
                level=lv,
                indicator=k,
                parts=parts,
                pupils=prob.pupils[parts].astype(np.float64),
                base=prob.resource[parts, k].astype(np.float64),
                gain=gain[rows],
                tau=float(prob.cv_max[lv]),
            )
        )
    return out
