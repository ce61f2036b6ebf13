"""The never-worse rule: no targeted balance CV rises after rotation, as linear rows of the model.

For one level and one indicator, over the school parts that count (as
:func:`planning.balance.indicators.school_indicators` decides: teaching points and special
schools left out as the official method does), with ``Bᵢ`` the teachers counted at part ``i``,
``Pᵢ`` its pupils, ``B = ΣBᵢ``, ``P = ΣPᵢ`` and ``S = Σ Bᵢ²/Pᵢ``, the official enrolment-weighted
CV satisfies ``CV² = P·S/B² − 1``. Rotation changes ``Bᵢ`` by whole teachers; so

    CV after ≤ CV before  ⇔  S' ≤ S·(B'/B)²  ⇐  S' − S ≤ (2S/B)·(B' − B)

(since ``(B'/B)² ≥ 1 + 2(B'−B)/B``; with ``B' = B``, i.e. no teacher of the indicator
leaving or entering the counted parts, the two are the same). ``S`` is a sum of convex
functions of integers, ``Bᵢ²/Pᵢ``: each is written exactly as unit segments
``Bᵢ = B⁰ᵢ + Σ uᵢₜ − Σ dᵢₜ`` (``0 ≤ u, d ≤ 1``) whose slopes increase, so the cheapest filling
is the true value and any other filling is larger. The row

    Σᵢ Σₜ (slope(uᵢₜ) − 2S/B)·uᵢₜ + Σᵢ Σₜ (2S/B − slope(dᵢₜ))·dᵢₜ ≤ 0

is therefore *sufficient* for the CV not to rise, exact when the count total stays, and met by
the empty plan. Its coefficients are scaled to integers and rounded *up* (the row only gets
stricter), so CP-SAT checks it exactly.

Guarded: per level, backbone and above-qualification teachers per 100 pupils (the
indicators the objective names; 优质均衡 and, for above-qualification, 基本均衡 counting),
and the two other teacher indicators of the 基本均衡 composite (teachers and
intermediate-title teachers per 100 pupils), so that the composite cannot rise either.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp
from numpy.typing import NDArray

#: (indicator, count column of :func:`school_indicators`, flag index, which exclusion applies).
#: Flag index: 0 backbone, 1 above qualification, 2 intermediate or higher title, 3 every teacher.
GUARDED: tuple[tuple[str, str, int, str], ...] = (
    ("backbone_per_100", "n_backbone", 0, "excluded"),
    ("above_qualification_per_100", "n_above_qualification", 1, "excluded"),
    ("above_qualification_per_100", "n_above_qualification", 1, "excluded_basic"),
    ("intermediate_title_per_100", "n_intermediate_title", 2, "excluded_basic"),
    ("teachers_per_100", "n_teachers", 3, "excluded_basic"),
)
#: The indicators the objective narrows (the report states these first).
TARGETED: tuple[str, ...] = ("backbone_per_100", "above_qualification_per_100")
#: Most unit segments per part and direction: a school's count of one indicator at one level
#: changes by at most this many teachers, net, in a year (a restriction: with the loss cap of one
#: teacher in five a year it binds only at large schools; keeps the model small — 20 segments
#: made the demo's CP-SAT solve 3× slower for the same plan).
MAX_SEGMENTS = 4
#: Guard rows are scaled so that the largest coefficient is about this, then rounded up.
GUARD_SCALE = 1e4


@dataclass(frozen=True)
class CvGuard:
    """Never-worse rows on arrays (see the module docstring).

    Attributes
    ----------
    names
        ``(level, indicator, kind)`` of each guard (``kind``: ``quality`` or ``basic``).
    part_guard
        ``(n_rows,)`` guard of each guarded school part.
    part_pupils, part_count
        ``(n_rows,)`` pupils ``Pᵢ`` and count ``B⁰ᵢ`` of each part.
    coef
        ``(n_rows, n_arcs)`` change of the part's count per teacher on each arc.
    slope
        ``(n_guards,)`` ``2S/B`` of each guard.
    cv_before
        ``(n_guards,)`` the official CV before rotation.
    """

    names: tuple[tuple[str, str, str], ...]
    part_guard: NDArray[np.int64]
    part_pupils: NDArray[np.float64]
    part_count: NDArray[np.float64]
    coef: sp.csr_matrix
    slope: NDArray[np.float64]
    cv_before: NDArray[np.float64]


def official_cv(count: NDArray[np.float64], pupils: NDArray[np.float64]) -> float:
    """``sqrt(Σ (Pᵢ/P)(Xᵢ − X̄)²)/X̄`` with ``Xᵢ = Bᵢ/Pᵢ`` (NaN when ``ΣB = 0``)."""
    b, p = float(count.sum()), float(pupils.sum())
    if b <= 0 or p <= 0:
        return float("nan")
    s = float((count**2 / pupils).sum())
    return float(np.sqrt(max(p * s / b**2 - 1.0, 0.0)))


def build_guard(
    parts: pd.DataFrame,
    school_ids: NDArray[np.str_],
    *,
    arc_src: NDArray[np.int64],
    arc_dst: NDArray[np.int64],
    arc_level: NDArray[np.object_],
    arc_flags: NDArray[np.bool_],
) -> CvGuard:
    """Guard rows of the arcs.

    Parameters
    ----------
    parts
        :func:`planning.balance.indicators.school_indicators` of the county before rotation.
    school_ids
        School of each index used by the arcs.
    arc_src, arc_dst, arc_level
        Each arc's origin and destination school and the level its teacher teaches
        (``primary`` or ``junior``; the teacher keeps it at the new school).
    arc_flags
        ``(n_arcs, 4)`` the teacher's flags (backbone, above qualification,
        intermediate title, 1).
    """
    n_arcs = len(arc_src)
    names: list[tuple[str, str, str]] = []
    rows_g: list[int] = []
    rows_p: list[float] = []
    rows_b: list[float] = []
    ent_r: list[NDArray[np.int64]] = []
    ent_c: list[NDArray[np.int64]] = []
    ent_v: list[NDArray[np.float64]] = []
    slopes: list[float] = []
    cvs: list[float] = []
    for level in ("primary", "junior"):
        sub = parts[parts["level"] == level]
        for ind, col, k, excl in GUARDED:
            counted = sub[~sub[excl].astype(bool)]
            count = counted[col].to_numpy(np.float64)
            pupils = counted["pupils"].to_numpy(np.float64)
            if len(counted) == 0 or count.sum() <= 0:
                continue
            g = len(names)
            names.append((level, ind, "quality" if excl == "excluded" else "basic"))
            slopes.append(2.0 * float((count**2 / pupils).sum()) / float(count.sum()))
            cvs.append(official_cv(count, pupils))
            pos = {sid: i for i, sid in enumerate(counted["school_id"].astype(str))}
            part_of_school = np.array([pos.get(str(s), -1) for s in school_ids], dtype=np.int64)
            sel = arc_flags[:, k] & (arc_level == level)
            row0 = len(rows_g)
            touched = np.unique(np.concatenate([part_of_school[arc_src[sel]], part_of_school[arc_dst[sel]]]))
            touched = touched[touched >= 0]
            local = np.full(len(counted), -1, dtype=np.int64)
            local[touched] = np.arange(len(touched))
            rows_g += [g] * len(touched)
            rows_p += pupils[touched].tolist()
            rows_b += count[touched].tolist()
            for ends, sign in ((arc_src, -1.0), (arc_dst, 1.0)):
                p = part_of_school[ends]
                ok = sel & (p >= 0)
                ent_r.append(row0 + local[p[ok]])
                ent_c.append(np.flatnonzero(ok))
                ent_v.append(np.full(int(ok.sum()), sign))
    n_rows = len(rows_g)
    coef = sp.csr_matrix(
        (np.concatenate(ent_v) if ent_v else np.zeros(0), (np.concatenate(ent_r) if ent_r else np.zeros(0, np.int64),
                                                          np.concatenate(ent_c) if ent_c else np.zeros(0, np.int64))),
        shape=(n_rows, n_arcs),
    )
    coef.sum_duplicates()
    return CvGuard(
        names=tuple(names),
        part_guard=np.array(rows_g, dtype=np.int64),
        part_pupils=np.array(rows_p, dtype=np.float64),
        part_count=np.array(rows_b, dtype=np.float64),
        coef=coef,
        slope=np.array(slopes, dtype=np.float64),
        cv_before=np.array(cvs, dtype=np.float64),
    )


@dataclass(frozen=True)
class GuardColumns:
    """The segment columns and rows of a guard, ready to append to the model's matrix.

    ``link`` rows: ``coef·x − Σu + Σd = 0`` per part; ``guard`` rows: ``cost·(u, d) ≤ 0`` per guard.
    """

    n_cols: int
    ub: NDArray[np.float64]
    link_seg: sp.csr_matrix  # (n_parts, n_cols)
    guard_seg: sp.csr_matrix  # (n_guards, n_cols)


@dataclass(frozen=True)
class Segments:
    """The unit segments of every guarded part and their guard-row costs (scaled, rounded up).

    Segment ``j`` belongs to part ``part[j]`` and guard ``guard[j]``; ``up[j]`` when it adds a
    teacher (``u``), else it removes one (``d``); ``step[j]`` is ``t`` (1 for the first teacher).
    """

    part: NDArray[np.int64]
    guard: NDArray[np.int64]
    up: NDArray[np.bool_]
    step: NDArray[np.int64]
    cost: NDArray[np.float64]

    def cumulative(self, n_parts: int) -> NDArray[np.float64]:
        """``(n_parts, 2·MAX_SEGMENTS + 1)`` guard-row cost of a net change ``δ`` of a part's count at
        column ``δ + MAX_SEGMENTS`` (the cheapest filling: ``δ`` up or ``−δ`` down segments); ``inf``
        where the part has no such segments."""
        width = 2 * MAX_SEGMENTS + 1
        table = np.full((n_parts, width), np.inf)
        table[:, MAX_SEGMENTS] = 0.0
        for up, sign in ((True, 1), (False, -1)):
            sel = self.up == up
            order = np.lexsort((self.step[sel], self.part[sel]))
            part, step, cost = self.part[sel][order], self.step[sel][order], self.cost[sel][order]
            # segments of a part are consecutive steps 1..n: running sums restart at each part
            csum = np.cumsum(cost)
            start = np.r_[0, np.flatnonzero(np.diff(part)) + 1]
            base = np.repeat(csum[start] - cost[start], np.diff(np.r_[start, len(part)]))
            table[part, MAX_SEGMENTS + sign * step] = csum - base
        return table


def segments(guard: CvGuard, arc_ub: NDArray[np.float64]) -> Segments:
    """Unit segments of each part, up to what its arcs can bring or take, with their scaled costs."""
    pos_in = np.asarray(guard.coef.maximum(0) @ arc_ub).ravel()
    pos_out = np.asarray((-guard.coef).maximum(0) @ arc_ub).ravel()
    part: list[int] = []
    costs: list[float] = []
    ups: list[bool] = []
    steps: list[int] = []
    for r in range(len(guard.part_guard)):
        b0, p, g = guard.part_count[r], guard.part_pupils[r], int(guard.part_guard[r])
        n_up = int(min(np.ceil(pos_in[r] - 1e-9), MAX_SEGMENTS))
        n_down = int(min(np.floor(b0 + 1e-9), np.ceil(pos_out[r] - 1e-9), MAX_SEGMENTS))
        for t in range(1, n_up + 1):
            costs.append((2 * b0 + 2 * t - 1) / p - guard.slope[g])
            part.append(r)
            ups.append(True)
            steps.append(t)
        for t in range(1, n_down + 1):
            costs.append(guard.slope[g] - (2 * b0 - 2 * t + 1) / p)
            part.append(r)
            ups.append(False)
            steps.append(t)
    part_arr = np.array(part, dtype=np.int64)
    g_arr = guard.part_guard[part_arr] if len(part_arr) else np.zeros(0, dtype=np.int64)
    cost = np.array(costs, dtype=np.float64)
    scaled = np.zeros(len(cost))
    for g in range(len(guard.names)):
        sel = g_arr == g
        if sel.any():
            top = float(np.abs(cost[sel]).max())
            scale = GUARD_SCALE / top if top > 0 else 1.0
            # round up: the row only gets stricter, and the empty plan still meets it
            scaled[sel] = np.ceil(cost[sel] * scale - 1e-9)
    return Segments(part=part_arr, guard=g_arr, up=np.array(ups, dtype=bool), step=np.array(steps, dtype=np.int64), cost=scaled)


def guard_columns(guard: CvGuard, arc_ub: NDArray[np.float64]) -> GuardColumns:
    """The segment columns (see :func:`segments`) and the guard rows over them."""
    seg = segments(guard, arc_ub)
    n = len(seg.cost)
    signs = np.where(seg.up, -1.0, 1.0)
    link = sp.csr_matrix((signs, (seg.part, np.arange(n))), shape=(len(guard.part_guard), n))
    rows = sp.csr_matrix((seg.cost, (seg.guard, np.arange(n))), shape=(len(guard.names), n))
    return GuardColumns(n_cols=n, ub=np.ones(n), link_seg=link, guard_seg=rows)


def cv_after(guard: CvGuard, flow: NDArray[np.int64], parts: pd.DataFrame) -> NDArray[np.float64]:
    """The official CV of each guard after the flows (every counted part, not only the touched ones)."""
    delta = np.asarray(guard.coef @ flow.astype(np.float64)).ravel()
    out = np.full(len(guard.names), np.nan)
    for g, (level, ind, kind) in enumerate(guard.names):
        col = {"backbone_per_100": "n_backbone", "above_qualification_per_100": "n_above_qualification",
               "intermediate_title_per_100": "n_intermediate_title", "teachers_per_100": "n_teachers"}[ind]
        sub = parts[(parts["level"] == level) & ~parts["excluded" if kind == "quality" else "excluded_basic"].astype(bool)]
        count = sub[col].to_numpy(np.float64).copy()
        pupils = sub["pupils"].to_numpy(np.float64)
        # rows of this guard are its touched parts in counted order
        rows = np.flatnonzero(guard.part_guard == g)
        b_touched = guard.part_count[rows] + delta[rows]
        total = count.sum() - guard.part_count[rows].sum() + b_touched.sum()
        s = (count**2 / pupils).sum() - (guard.part_count[rows] ** 2 / guard.part_pupils[rows]).sum() + (b_touched**2 / guard.part_pupils[rows]).sum()
        p = pupils.sum()
        out[g] = float(np.sqrt(max(p * s / total**2 - 1.0, 0.0))) if total > 0 else float("nan")
    return out
