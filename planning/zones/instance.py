"""The arrays one zoning solve works on: reachable (block, school) pairs, demand, seats.

:func:`prepare` checks the counts, drops the pairs a block may not use (beyond
its travel cap, to a school without seats, across townships when zones keep to
townships), says why each block left without a pair is unserved, and sorts the
pairs by block, then cost, then school. The helpers below measure a plan
(``school``: school index of each block, −1 for none) against the instance.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp
from numpy.typing import NDArray

from geo.errors import InputError, Problem
from geo.policy import RURAL_MAX_ONE_WAY_S
from geo.travel import TravelMatrix
from planning.zones.rounding import loads

REASON_NO_SCHOOL = "no school within {limit} min: needs boarding or a school bus"
REASON_TOWNSHIP = "no school of its township within {limit} min: needs boarding or a school bus"
#: Unserved with boarding schools considered (primary: grades 1–3 are day pupils, 4–6 may board).
REASON_NO_BOARDING_PRIMARY = (
    "no school within {limit} min for grades 1-3 (day pupils) and no boarding school within {reach} min "
    "for grades 4-6: needs a teaching point nearer home"
)
REASON_NO_BOARDING = (
    "no school within {limit} min and no boarding school within {reach} min: needs a boarding school nearer home"
)


@dataclass(frozen=True)
class Reach:
    """Which schools each block may go to.

    Attributes
    ----------
    max_travel_s
        Longest acceptable travel, scalar or per block (``None``: no cap);
        blocks with no school in reach are unserved with a reason (boarding or
        school bus).
    block_township, school_township
        Township of each block and school: zones stay within townships (blocks
        or schools with no township are unrestricted). Both or neither.
    boarding_reach_s, school_boards
        Boarding: a school with ``school_boards`` takes pupils from beyond
        ``max_travel_s`` up to ``boarding_reach_s`` (scalar or per block);
        ``None`` (either): no boarding.
    board_only_if_no_day_school
        Primary: a block may use a boarding school beyond its day limit only
        when no school is within it (grades 1–3 do not board, 国办发〔2018〕27号).
    lower_grades_share
        Share of a block's students in grades 1–3: those of a block at a boarding
        school beyond its day limit are counted as young boarders (a shortfall of the rule).
    """

    max_travel_s: float | NDArray[np.floating] | None = RURAL_MAX_ONE_WAY_S
    block_township: NDArray[np.object_] | None = None
    school_township: NDArray[np.object_] | None = None
    boarding_reach_s: float | NDArray[np.floating] | None = None
    school_boards: NDArray[np.bool_] | None = None
    board_only_if_no_day_school: bool = False
    lower_grades_share: float = 0.0


@dataclass(frozen=True)
class BlockGraph:
    """Block adjacency and each school's own block: with it every optimal zone is made one piece.

    Attributes
    ----------
    adjacency
        Symmetric ``(n, n)`` block adjacency.
    roots
        Block index of each school's own block (−1: none), one per school.
    """

    adjacency: sp.csr_array
    roots: NDArray[np.int64]


@dataclass(frozen=True)
class Instance:
    """Arrays of one zoning instance after filtering the pairs (a :class:`planning.zones.rounding.PairTable`)."""

    block_ids: NDArray[np.str_]
    school_ids: NDArray[np.str_]
    demand: NDArray[np.int64]
    capacity: NDArray[np.int64]
    current: NDArray[np.int64]
    origin: NDArray[np.int64]  # pair → block, sorted by block then cost
    dest: NDArray[np.int64]
    time_s: NDArray[np.int64]
    dist_m: NDArray[np.int64]
    cost: NDArray[np.int64]  # per student: travel + stability penalty
    moved: NDArray[np.bool_]  # pair changes the block's current school
    boards: NDArray[np.bool_]  # pair beyond the block's day limit (a boarding school)
    start: NDArray[np.int64]  # first pair of each block (len n + 1)
    reason: NDArray[np.object_]  # unserved reason per block ("" when served)

    @property
    def connector(self) -> NDArray[np.bool_]:
        """Blocks no school can take: in no zone, they join the zones they touch (see :mod:`planning.zones.contiguity`)."""
        return self.start[1:] == self.start[:-1]


def _as_int_array(values: Sequence[int] | NDArray[np.integer], n: int, name: str) -> NDArray[np.int64]:
    arr = np.asarray(values)
    if arr.shape != (n,):
        msg = f"{name} must have length {n}, got shape {arr.shape}"
        raise InputError([Problem(layer="zones", column=name, message=msg)])
    if not np.issubdtype(arr.dtype, np.integer) and (not np.all(np.isfinite(arr)) or not np.all(arr == np.round(arr))):
        raise InputError([Problem(layer="zones", column=name, message="must hold whole numbers")])
    arr = arr.astype(np.int64)
    if (arr < 0).any():
        bad = int(np.flatnonzero(arr < 0)[0])
        raise InputError([Problem(layer="zones", column=name, row=bad + 1, message="must not be negative")])
    return arr


def prepare(
    travel: TravelMatrix,
    demand: Sequence[int] | NDArray[np.integer],
    capacity_seats: Sequence[int] | NDArray[np.integer],
    *,
    reach: Reach,
    current: NDArray[np.integer] | None,
    stability_weight_s: int,
) -> Instance:
    """The instance of a travel matrix: checked counts, the pairs each block may use, sorted.

    Parameters
    ----------
    travel
        Blocks × schools travel matrix.
    demand, capacity_seats
        Students of each block and seats of each school, in the matrix's order.
    reach
        Travel cap and townships.
    current
        Index of each block's current school (−1 unknown).
    stability_weight_s
        Penalty per student whose school changes, added to the cost of such pairs.

    Returns
    -------
    Instance
    """
    n, m = travel.shape
    d = _as_int_array(demand, n, "demand")
    c = _as_int_array(capacity_seats, m, "capacity_seats")
    cur = np.full(n, -1, np.int64) if current is None else np.asarray(current, dtype=np.int64)
    if cur.shape != (n,):
        raise InputError([Problem(layer="zones", column="current", message=f"must have length {n}")])
    o = travel.origin.astype(np.int64)
    j = travel.dest.astype(np.int64)
    t = travel.time_s.astype(np.int64)
    dist = travel.dist_m.astype(np.int64)
    limit = _per_block(reach.max_travel_s, n)
    keep = (t <= limit[o]) & (c[j] > 0)
    township = np.ones(len(o), bool)
    if reach.block_township is not None and reach.school_township is not None:
        bg = np.asarray(reach.block_township, dtype=object)
        sg = np.asarray(reach.school_township, dtype=object)
        known = pd.notna(bg[o]) & pd.notna(sg[j]) & (bg[o] != "") & (sg[j] != "")
        township = ~known | (bg[o] == sg[j])
    reachable = np.zeros(n, bool)
    reachable[o[keep]] = True
    keep &= township
    boards = _boarding_pairs(reach, (o, j, t), c, keep & township, limit)
    keep |= boards & township
    served = np.zeros(n, bool)
    served[o[keep]] = True
    reason = _reasons(reach, limit, served, reachable, n)
    o, j, t, dist, boards = o[keep], j[keep], t[keep], dist[keep], boards[keep]
    moved = (cur[o] >= 0) & (j != cur[o])
    cost = t + np.int64(stability_weight_s) * moved
    # sort by block, then cost, then school (travel matrices usually come sorted: skip the sort then)
    in_order = len(o) < 2 or bool(
        np.all((o[1:] > o[:-1]) | ((o[1:] == o[:-1]) & ((cost[1:] > cost[:-1]) | ((cost[1:] == cost[:-1]) & (j[1:] > j[:-1])))))
    )
    if not in_order:
        order = np.lexsort((j, cost, o))
        o, j, t, dist, cost = o[order], j[order], t[order], dist[order], cost[order]
        moved, boards = moved[order], boards[order]
    start = np.searchsorted(o, np.arange(n + 1))
    return Instance(
        block_ids=np.asarray(travel.origin_ids, dtype=str),
        school_ids=np.asarray(travel.dest_ids, dtype=str),
        demand=d,
        capacity=c,
        current=cur,
        origin=o,
        dest=j,
        time_s=t,
        dist_m=dist,
        cost=cost,
        moved=moved,
        boards=boards,
        start=start,
        reason=reason,
    )


def _per_block(value: float | NDArray[np.floating] | None, n: int) -> NDArray[np.float64]:
    """A scalar or per-block limit as one float per block (``None``: no limit)."""
    if value is None:
        return np.full(n, np.inf)
    return np.broadcast_to(np.asarray(value, float), (n,)).astype(float)


def _boarding_pairs(
    reach: Reach,
    pairs: tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64]],
    c: NDArray[np.int64],
    day: NDArray[np.bool_],
    limit: NDArray[np.float64],
) -> NDArray[np.bool_]:
    """Pairs (block, school, seconds) beyond the block's day limit to a boarding school within the boarding reach."""
    o, j, t = pairs
    if reach.boarding_reach_s is None or reach.school_boards is None:
        return np.zeros(len(o), bool)
    n = len(limit)
    far = _per_block(reach.boarding_reach_s, n)
    boards = np.asarray(reach.school_boards, bool)[j] & (t > limit[o]) & (t <= far[o]) & (c[j] > 0)
    if reach.board_only_if_no_day_school:
        has_day = np.zeros(n, bool)
        has_day[o[day]] = True
        boards &= ~has_day[o]
    return boards


def _minutes_text(seconds: float) -> str:
    return "∞" if not np.isfinite(seconds) else f"{seconds / 60:g}"


def _reasons(
    reach: Reach, limit: NDArray[np.float64], served: NDArray[np.bool_], reachable: NDArray[np.bool_], n: int
) -> NDArray[np.object_]:
    """Why each block no school can take is unserved ("" for the others)."""
    reason = np.full(n, "", dtype=object)
    boarding = reach.boarding_reach_s is not None and reach.school_boards is not None
    far = _per_block(reach.boarding_reach_s, n)
    for i in np.flatnonzero(~served):
        text = _minutes_text(limit[i])
        if reachable[i]:
            reason[i] = REASON_TOWNSHIP.format(limit=text)
        elif boarding:
            template = REASON_NO_BOARDING_PRIMARY if reach.board_only_if_no_day_school else REASON_NO_BOARDING
            reason[i] = template.format(limit=text, reach=_minutes_text(far[i]))
        else:
            reason[i] = REASON_NO_SCHOOL.format(limit=text)
    return reason


def pair_index(p: Instance, blocks: NDArray[np.int64], schools: NDArray[np.int64]) -> NDArray[np.int64]:
    """Pair index of each (block, school), −1 where not reachable."""
    m = np.int64(len(p.capacity))
    key = p.origin * m + p.dest
    order = np.argsort(key, kind="stable")
    want = blocks.astype(np.int64) * m + np.maximum(schools, 0)
    pos = np.searchsorted(key[order], want)
    pos = np.minimum(pos, max(len(order) - 1, 0))
    out = np.full(len(blocks), -1, np.int64)
    if len(order):
        hit = (key[order][pos] == want) & (schools >= 0)
        out[hit] = order[pos[hit]]
    return out


def students_at(p: Instance, school: NDArray[np.int64]) -> NDArray[np.int64]:
    """Students placed at each school."""
    return loads(p, school, len(p.capacity))


def students_moved(p: Instance, school: NDArray[np.int64]) -> int:
    """Students whose school changes against their current one."""
    return int(p.demand[(p.current >= 0) & (school >= 0) & (school != p.current) & (p.demand > 0)].sum())


def excess(p: Instance, school: NDArray[np.int64], max_moved: int | None, overflow_penalty_s: int | None) -> int:
    """How far a plan is from the hard rules: students above capacity (when not allowed) and above the cap."""
    out = 0
    if overflow_penalty_s is None:
        out += int(np.maximum(students_at(p, school) - p.capacity, 0).sum())
    if max_moved is not None:
        out += max(students_moved(p, school) - max_moved, 0)
    return out
