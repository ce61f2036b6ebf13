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
    """

    max_travel_s: float | NDArray[np.floating] | None = RURAL_MAX_ONE_WAY_S
    block_township: NDArray[np.object_] | None = None
    school_township: NDArray[np.object_] | None = None


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
    max_travel_s = reach.max_travel_s
    limit = np.full(n, np.inf) if max_travel_s is None else np.broadcast_to(np.asarray(max_travel_s, float), (n,))
    keep = (t <= limit[o]) & (c[j] > 0)
    reachable = np.zeros(n, bool)
    reachable[o[keep]] = True
    if reach.block_township is not None and reach.school_township is not None:
        bg = np.asarray(reach.block_township, dtype=object)
        sg = np.asarray(reach.school_township, dtype=object)
        known = pd.notna(bg[o]) & pd.notna(sg[j]) & (bg[o] != "") & (sg[j] != "")
        keep &= ~known | (bg[o] == sg[j])
    served = np.zeros(n, bool)
    served[o[keep]] = True
    reason = np.full(n, "", dtype=object)
    for i in np.flatnonzero(~served):
        lim = limit[i]
        text = "∞" if not np.isfinite(lim) else f"{lim / 60:g}"
        reason[i] = (REASON_TOWNSHIP if reachable[i] else REASON_NO_SCHOOL).format(limit=text)
    o, j, t, dist = o[keep], j[keep], t[keep], dist[keep]
    moved = (cur[o] >= 0) & (j != cur[o])
    cost = t + np.int64(stability_weight_s) * moved
    # sort by block, then cost, then school (travel matrices usually come sorted: skip the sort then)
    in_order = len(o) < 2 or bool(
        np.all((o[1:] > o[:-1]) | ((o[1:] == o[:-1]) & ((cost[1:] > cost[:-1]) | ((cost[1:] == cost[:-1]) & (j[1:] > j[:-1])))))
    )
    if not in_order:
        order = np.lexsort((j, cost, o))
        o, j, t, dist, cost, moved = o[order], j[order], t[order], dist[order], cost[order], moved[order]
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
        start=start,
        reason=reason,
    )


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
