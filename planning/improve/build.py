"""Tables → arrays: the schools layer and teachers table as an :class:`~planning.improve.problem.ImproveProblem`.

Parts (a school, or one level of a nine-year school) come from the balance code
(:func:`planning.balance.indicators.school_indicators`), so the amounts, the split of a nine-year
school and the exclusions (teaching points under 50 pupils, special schools) are the
inspectors'. Decisions: one per allowed facility measure and school (a nine-year school's
facilities serve both levels, split by pupil share as the balance code splits them), one per
allowed teacher measure and part (a hire teaches one level).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from numpy.typing import NDArray

from geo.errors import InputError, Problem, missing_columns
from geo.model import LEVELS
from planning.balance.indicators import QUALITY_INDICATORS, school_indicators
from planning.balance.options import BalanceOptions
from planning.improve.costs import RESOURCES, TEACHER_RESOURCES
from planning.improve.options import ImproveOptions
from planning.improve.problem import N_INDICATORS, ImproveProblem

#: Column of the parts table holding each indicator's resource amount, in indicator order.
AMOUNT_COLUMNS: tuple[str, ...] = (
    "n_above_qualification",
    "n_backbone",
    "n_pe_art",
    "floor_area_m2",
    "sports_area_m2",
    "equipment_yuan",
    "multimedia_rooms",
)
#: Value = amount × scale / pupils, per indicator (per 100 pupils for teachers and rooms).
SCALE = np.array([100.0, 100.0, 100.0, 1.0, 1.0, 1.0, 100.0])
#: Columns of a teacher-deltas table (rotation already planned), besides ``school_id`` and ``level``.
DELTA_COLUMNS: tuple[str, ...] = ("n_above_qualification", "n_backbone", "n_pe_art", "n_teachers")


@dataclass(frozen=True)
class BuiltProblem:
    """The arrays and the ids behind them.

    Attributes
    ----------
    prob
        The problem.
    parts
        Counted parts (``school_id, level, pupils, name`` and the amounts), in problem order.
    school_ids, school_names
        Schools in problem order (``var_school`` indexes them).
    var_part
        ``(n_vars,)`` the part of a teacher decision (-1 for a facility decision).
    unit_quantity
        ``(n_vars,)`` quantity one unit adds (m², yuan, rooms, teachers).
    excluded
        Parts left out (teaching points under 50 pupils, special schools), with the reason.
    """

    prob: ImproveProblem
    parts: pd.DataFrame
    school_ids: tuple[str, ...]
    school_names: tuple[str, ...]
    var_part: NDArray[np.int64]
    unit_quantity: NDArray[np.float64]
    excluded: pd.DataFrame


def _apply_deltas(parts: pd.DataFrame, deltas: pd.DataFrame | None) -> pd.DataFrame:
    """Amounts after the teacher deltas (rotation already planned)."""
    if deltas is None or deltas.empty:
        return parts
    problems = missing_columns(deltas.columns, ("school_id", "level"), "teacher_deltas")
    if problems:
        raise InputError(problems)
    d = deltas.assign(school_id=deltas["school_id"].astype(str), level=deltas["level"].astype(str))
    d = d.groupby(["school_id", "level"])[[c for c in DELTA_COLUMNS if c in d.columns]].sum()
    idx = pd.MultiIndex.from_arrays([parts["school_id"], parts["level"]])
    out = parts.copy()
    for col in d.columns:
        out[col] = out[col].to_numpy(np.float64) + d[col].reindex(idx).fillna(0.0).to_numpy()
    return out


def _upper_bound(target: NDArray[np.float64], have: NDArray[np.float64], per_unit: NDArray[np.float64]) -> NDArray[np.int64]:
    """Units that bring ``have`` to ``target`` (at least 0)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        u = np.where(per_unit > 0, np.ceil((target - have) / np.where(per_unit > 0, per_unit, 1) - 1e-9), 0)
    return np.maximum(np.nan_to_num(u, nan=0.0), 0).astype(np.int64)


def _site_cap(schools: pd.DataFrame, options: ImproveOptions) -> Mapping[str, float]:
    """School → most sports ground (m²) its site allows, where ``site_area_m2`` is known."""
    if "site_area_m2" not in schools.columns:
        return {}
    site = pd.to_numeric(schools["site_area_m2"], errors="coerce").to_numpy(np.float64)
    ids = schools["school_id"].astype(str).to_numpy()
    return {sid: options.sports_site_share * s for sid, s in zip(ids, site) if np.isfinite(s)}


class _Vars:
    """Decisions as they are made: resource, school, part, cost, bound, unit quantity and gain entries."""

    def __init__(self) -> None:
        self.resource: list[int] = []
        self.school: list[int] = []
        self.part: list[int] = []
        self.cost: list[int] = []
        self.ub: list[int] = []
        self.qty: list[float] = []
        self.rows: list[int] = []
        self.cols: list[int] = []
        self.vals: list[float] = []

    def add(self, k: int, school: int, part: int, *, cost: int, ub: int, qty: float, gains: list[tuple[Any, float]]) -> int:
        j = len(self.cost)
        self.resource.append(k)
        self.school.append(school)
        self.part.append(part)
        self.cost.append(cost)
        self.ub.append(max(int(ub), 0))
        self.qty.append(qty)
        for row, val in gains:
            self.rows.append(row)
            self.cols.append(j)
            self.vals.append(val)
        return j


def _add_decisions(counted: pd.DataFrame, school_of: NDArray[np.int64], target: NDArray[np.float64], options: ImproveOptions,
                   site_cap: Mapping[str, float]) -> _Vars:
    """One decision per allowed teacher measure and part, one per allowed facility measure and school."""
    v = _Vars()
    amount = counted[list(AMOUNT_COLUMNS)].to_numpy(np.float64)
    share = counted["share"].to_numpy(np.float64)
    pupils = counted["pupils"].to_numpy(np.float64)
    ids = counted["school_id"].to_numpy()
    for k, res in enumerate(RESOURCES):
        if res not in options.resources:
            continue
        qty, cost = options.unit_quantity(res), options.unit_cost(res)
        want = target[:, k] * pupils / SCALE[k]
        if res in TEACHER_RESOURCES:
            for i in np.flatnonzero(np.isfinite(amount[:, k])):
                gains = [(i * N_INDICATORS + k, 1.0)]
                if res == "pe_art_teachers" and options.pe_art_hires_above_qualification and np.isfinite(amount[i, 0]):
                    gains.append((i * N_INDICATORS, 1.0))
                ub = int(_upper_bound(want[i : i + 1], amount[i : i + 1, k], np.ones(1))[0])
                if options.max_hires_per_school is not None and res != "backbone_teachers":
                    ub = min(ub, options.max_hires_per_school)
                v.add(k, int(school_of[i]), int(i), cost=cost, ub=ub, qty=qty, gains=gains)
            continue
        for s in np.unique(school_of):
            mine = np.flatnonzero((school_of == s) & np.isfinite(amount[:, k]))
            if len(mine) == 0:
                continue
            ub = int(_upper_bound(want[mine], amount[mine, k], qty * share[mine]).max())
            cap = site_cap.get(str(ids[mine[0]])) if res == "sports_area_m2" else None
            if cap is not None:
                have = float(amount[mine, k].sum())  # the school's sports ground (the parts' shares add up to it)
                ub = min(ub, max(0, int(np.floor((cap - have) / qty + 1e-9))))
            v.add(k, int(s), -1, cost=cost, ub=ub, qty=qty, gains=[(int(i) * N_INDICATORS + k, qty * share[i]) for i in mine])
    return v


def _side_rows(
    v: _Vars, counted: pd.DataFrame, n_schools: int, options: ImproveOptions
) -> tuple[sp.csr_matrix, NDArray[np.float64], tuple[str, ...]]:
    """Hires per school, backbone candidates per part, the training limit over the plan."""
    res = np.array(v.resource, dtype=np.int64)
    part = np.array(v.part, dtype=np.int64)
    school = np.array(v.school, dtype=np.int64)
    hire = np.isin(res, [RESOURCES.index("above_qualification_teachers"), RESOURCES.index("pe_art_teachers")])
    bb = res == RESOURCES.index("backbone_teachers")
    rows: list[dict[int, float]] = []
    rhs: list[float] = []
    labels: list[str] = []
    if options.max_hires_per_school is not None:
        for s in range(n_schools):
            js = np.flatnonzero(hire & (school == s))
            if len(js):
                rows.append(dict.fromkeys(js.tolist(), 1.0))
                rhs.append(float(options.max_hires_per_school))
                labels.append(f"hires:{s}")
    free = (counted["n_teachers"] - counted["n_backbone"]).to_numpy(np.float64)
    for j in np.flatnonzero(bb):
        i = part[j]
        row = {int(j): 1.0}
        for h in np.flatnonzero(hire & (part == i)):
            row[int(h)] = -1.0
        rows.append(row)
        rhs.append(float(np.floor(max(free[i], 0.0) + 1e-9)))
        labels.append(f"backbone_candidates:{i}")
    if options.backbone_per_year is not None and bb.any():
        rows.append(dict.fromkeys(np.flatnonzero(bb).tolist(), 1.0))
        rhs.append(float(options.backbone_per_year * options.years))
        labels.append("backbone_per_year")
    n_vars = len(v.cost)
    r_idx = [r for r, row in enumerate(rows) for _ in row]
    c_idx = [c for row in rows for c in row]
    vals = [x for row in rows for x in row.values()]
    side = sp.csr_matrix((vals, (r_idx, c_idx)), shape=(len(rows), n_vars))
    return side, np.array(rhs, dtype=np.float64), tuple(labels)


def build_problem(
    schools: pd.DataFrame,
    teachers: pd.DataFrame | None,
    *,
    teacher_deltas: pd.DataFrame | None = None,
    options: ImproveOptions,
    balance_options: BalanceOptions,
) -> BuiltProblem:
    """The achievement-plan problem of a county (see the module docstring).

    Parameters
    ----------
    schools, teachers
        Schools layer and teachers table, canonical columns (as the balance evaluation reads them);
        an optional ``site_area_m2`` column caps the sports ground.
    teacher_deltas
        Teachers each part gains (+) or loses (−) from rotation already planned: ``school_id, level``
        and any of ``n_above_qualification, n_backbone, n_pe_art, n_teachers``.
    options, balance_options
        Units, costs and limits; thresholds and standards.

    Returns
    -------
    BuiltProblem
    """
    parts = _apply_deltas(school_indicators(schools, teachers), teacher_deltas)
    names = dict(zip(schools["school_id"].astype(str), schools["name"].astype(str))) if "name" in schools else {}
    parts["name"] = parts["school_id"].map(names).fillna(parts["school_id"])
    excluded = parts.loc[parts["excluded"] & (parts["pupils"] > 0), ["school_id", "name", "level", "pupils", "exclusion_reason"]]
    counted = parts[~parts["excluded"]].reset_index(drop=True)
    level = counted["level"].map({lv: n for n, lv in enumerate(LEVELS)}).to_numpy(np.int64)
    pupils = counted["pupils"].to_numpy(np.float64)
    amount = counted[list(AMOUNT_COLUMNS)].to_numpy(np.float64)
    std = np.array([[balance_options.quality_standards[LEVELS[lv]][name] for name in QUALITY_INDICATORS] for lv in level]).reshape(-1, N_INDICATORS)
    value = amount * SCALE / pupils[:, None] if len(pupils) else amount
    best = np.full((len(LEVELS), N_INDICATORS), 0.0)
    for lv in np.unique(level):
        with np.errstate(all="ignore"):
            best[lv] = np.nan_to_num(np.nanmax(np.where(np.isfinite(value[level == lv]), value[level == lv], -np.inf), axis=0), nan=0.0, neginf=0.0)
    # a school is never raised above the level's best-provided school (more adds cost and spread)
    target = np.maximum(std, best[level]) if len(level) else std
    school_ids = tuple(sorted(set(counted["school_id"])))
    school_of = counted["school_id"].map({s: n for n, s in enumerate(school_ids)}).to_numpy(np.int64)
    v = _add_decisions(counted, school_of, target, options, _site_cap(schools, options))
    side, rhs, labels = _side_rows(v, counted, len(school_ids), options)
    n_vars = len(v.cost)
    prob = ImproveProblem(
        part_level=level,
        part_school=school_of,
        pupils=pupils,
        resource=amount,
        need=std * pupils[:, None] / SCALE,
        cv_max=np.array([balance_options.quality_cv_max[lv] for lv in LEVELS], dtype=np.float64),
        var_resource=np.array(v.resource, dtype=np.int64),
        var_school=np.array(v.school, dtype=np.int64),
        var_cost=np.array(v.cost, dtype=np.int64),
        var_ub=np.array(v.ub, dtype=np.int64),
        gain=sp.csr_matrix((v.vals, (v.rows, v.cols)), shape=(len(pupils) * N_INDICATORS, n_vars)),
        side=side,
        side_rhs=rhs,
        side_label=labels,
    )
    school_names = tuple(names.get(s, s) for s in school_ids)
    return BuiltProblem(
        prob=prob,
        parts=counted,
        school_ids=school_ids,
        school_names=school_names,
        var_part=np.array(v.part, dtype=np.int64),
        unit_quantity=np.array(v.qty, dtype=np.float64),
        excluded=excluded.reset_index(drop=True),
    )


def check_deltas(deltas: pd.DataFrame) -> list[Problem]:
    """Problems of a teacher-deltas table (unknown level, non-numeric counts)."""
    problems = missing_columns(deltas.columns, ("school_id", "level"), "teacher_deltas")
    if "level" in deltas.columns:
        for n, lv in enumerate(deltas["level"].astype(str), start=1):
            if lv not in LEVELS:
                problems.append(Problem("teacher_deltas", f"level {lv!r} is not one of {', '.join(LEVELS)}", row=n, column="level"))
    return problems
