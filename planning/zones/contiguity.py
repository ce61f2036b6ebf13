"""Contiguity of catchment zones on the block adjacency graph: detached pieces and the pass that mends them.

A zone is whole when every one of its blocks reaches the school's own block
(its *root*) through blocks of the zone and *connectors*. Connectors are the
blocks that belong to no zone because no school can take them (beyond the
travel cap, or outside every township school's reach, with or without
students): they are in no zone, so a zone that touches its other part through
them is still one zone with a gap no school serves. Blocks with no students
but a school in reach are ordinary members (they are drawn in a zone); they
cost nothing, so the repair moves them freely to whichever bordering zone keeps
the zones whole.

Every graph function takes the plan as ``school`` (school index of each block,
−1 for none), the symmetric ``(n, n)`` adjacency and the ``connector`` mask.
The contiguity pass at the end (:func:`make_contiguous`) mends a plan whose
zones fell apart: roots sent home, pieces handed over whole
(:func:`attach_greedily`, :func:`swap_in`), the rest re-solved with CP-SAT in
windows that keep every zone whole (:mod:`planning.zones.connect`). The graph
functions live in :mod:`planning.zones.pieces` (re-exported here).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray
from ortools.sat.python import cp_model
from scipy.sparse.csgraph import connected_components

from planning.zones.connect import Frame, chain_and_polish, chain_pieces, connect_pieces, movable_blocks
from planning.zones.instance import BlockGraph, Instance, students_at
from planning.zones.pieces import Walls, attach_pieces, connector_components, detached_pieces, neighbours, pairs_to, piece_border
from planning.zones.repair import Cut, Repair, WorkBudget, solve_sub
from planning.zones.rounding import PairTable

logger = logging.getLogger(__name__)

#: Schools named when a block no zone can hold whole could be taken by several (the rest are counted).
WALLED_SCHOOLS_SHOWN = 5

__all__ = [
    "Walls", "attach_greedily", "band", "connector_components", "detached_pieces", "frontier", "make_contiguous",
    "neighbour_rule", "neighbours", "piece_border", "swap_in", "why_detached",
]


def band(
    seeds: NDArray[np.int64], adjacency: sp.csr_array, passable: NDArray[np.bool_], *, min_blocks: int, max_hops: int
) -> NDArray[np.int64]:
    """The seeds and the passable blocks within a few hops of them: a local window to re-solve.

    Grows hop by hop (through passable blocks only) until it holds at least
    ``min_blocks`` blocks or ``max_hops`` hops are taken.

    Parameters
    ----------
    seeds
        Blocks at the centre.
    adjacency
        Symmetric block adjacency.
    passable
        Blocks the window may hold and grow through (e.g. blocks with a school in reach).
    min_blocks
        Stop growing at this size.
    max_hops
        Stop growing after this many hops.

    Returns
    -------
    numpy.ndarray
        Sorted block indices (seeds included even when not passable).
    """
    inside = np.zeros(len(passable), bool)
    seeds = np.unique(np.asarray(seeds, np.int64))
    inside[seeds] = True
    front = seeds
    for _ in range(max_hops):
        if int(inside.sum()) >= min_blocks or not len(front):
            break
        nb = np.unique(neighbours(adjacency, front))
        nb = nb[passable[nb] & ~inside[nb]]
        inside[nb] = True
        front = nb
    return np.flatnonzero(inside)


def neighbour_rule(
    free: NDArray[np.int64],
    school: NDArray[np.int64],
    candidates: list[NDArray[np.int64]],
    adjacency: sp.csr_array,
    roots: NDArray[np.int64],
) -> list[tuple[int, NDArray[np.int64], NDArray[np.int64]]]:
    """Cuts keeping every re-solved block next to its zone: ``(school, [block], neighbours)``.

    "Block ``i`` may belong to school ``j`` only if one of its neighbours
    does", for every free block and every school it may take, except a
    school's own root block. It holds in every plan of whole zones (a zone of
    two blocks or more gives each block a neighbour in it), so it cuts off no
    connected plan, and it stops a window solve from leaving single-block
    enclaves behind. A school that neither holds a block of the window nor
    touches it gets the cut with no neighbours: the block may not take it.

    Parameters
    ----------
    free
        Blocks being re-solved.
    school
        Current school of each block (fixed outside ``free``).
    candidates
        Schools each free block may take, aligned with ``free``.
    adjacency
        Symmetric block adjacency.
    roots
        Root block of each school (−1: none).

    Returns
    -------
    list of (school, piece, border)
    """
    out = []
    free = np.asarray(free, np.int64)
    around = np.union1d(free, neighbours(adjacency, free))
    near = set(school[around][school[around] >= 0].tolist())
    near |= {j for j, r in enumerate(roots.tolist()) if r >= 0 and r in set(free.tolist())}
    is_root_of = {int(r): j for j, r in enumerate(roots.tolist()) if r >= 0}
    none = np.empty(0, np.int64)
    for i, cand in zip(free.tolist(), candidates, strict=True):
        nb = adjacency.indices[adjacency.indptr[i] : adjacency.indptr[i + 1]].astype(np.int64)
        for j in np.unique(cand).tolist():
            if is_root_of.get(i) == j:
                continue
            out.append((int(j), np.array([i], np.int64), nb if j in near else none))
    return out


def frontier(school: NDArray[np.int64], adjacency: sp.csr_array, zones: NDArray[np.int64]) -> NDArray[np.int64]:
    """Blocks of the given zones that border another of them: where they can trade blocks.

    Parameters
    ----------
    school
        School index of each block (−1: in no zone).
    adjacency
        Symmetric block adjacency.
    zones
        Schools whose common borders are wanted.

    Returns
    -------
    numpy.ndarray
        Sorted block indices.
    """
    member = np.zeros(int(max(school.max(initial=-1), np.max(zones, initial=-1))) + 2, bool)
    member[np.asarray(zones, np.int64)] = True
    coo = adjacency.tocoo()
    r, c = coo.row, coo.col
    sr, sc = school[r], school[c]
    hit = member[sr] & member[sc] & (sr != sc) & (sr >= 0) & (sc >= 0)
    return np.unique(r[hit]).astype(np.int64)


def _unit_cost(pairs: PairTable, i: int, k: int) -> int | None:
    """Cost per student of block ``i`` at school ``k`` (``None``: out of reach)."""
    lo, hi = int(pairs.start[i]), int(pairs.start[i + 1])
    hit = np.flatnonzero(pairs.dest[lo:hi] == k)
    return int(pairs.cost[lo + hit[0]]) if len(hit) else None


def _one_piece(blocks: NDArray[np.int64], adjacency: sp.csr_array) -> bool:
    """Whether the blocks form one piece of the adjacency graph on their own."""
    if len(blocks) <= 1:
        return True
    sub = adjacency[blocks][:, blocks]
    return connected_components(sub, directed=False)[0] == 1


@dataclass(frozen=True)
class _Swap:
    """What one search for a chain handing a detached piece over shares."""

    school: NDArray[np.int64]
    adjacency: sp.csr_array
    roots: NDArray[np.int64]
    detached: NDArray[np.bool_]
    room: NDArray[np.int64]
    pairs: PairTable
    width: int


#: A chain found: its extra travel and its moves (blocks, school), the piece first.
_Chain = tuple[int, list[tuple[NDArray[np.int64], int]]]


def _exits(z: _Swap, k: int, short: int) -> list[tuple[int, int, int]]:
    """Single moves out of zone ``k`` freeing at least ``short`` seats: ``(extra cost, block, to)``, cheapest first."""
    school, detached, demand = z.school, z.detached, z.pairs.demand
    mine = np.flatnonzero((school == k) & ~detached)
    edge = mine[(demand[mine] >= short) & (mine != z.roots[k])]
    out = []
    for b in edge.tolist():
        around = z.adjacency.indices[z.adjacency.indptr[b] : z.adjacency.indptr[b + 1]]
        around = around[~detached[around] & (school[around] >= 0) & (school[around] != k)]
        if not len(around):
            continue
        own = _unit_cost(z.pairs, b, k)
        if own is None:
            continue
        for other in np.unique(school[around]).tolist():
            to = _unit_cost(z.pairs, b, other)
            if to is not None:
                out.append((int(demand[b]) * (to - own), b, other))
    return sorted(out)


def _whole_without(z: _Swap, zone: int, out: int, add: NDArray[np.int64]) -> bool:
    """Whether ``zone`` stays one piece when block ``out`` leaves and the blocks ``add`` join."""
    mine = np.flatnonzero((z.school == zone) & ~z.detached)
    return _one_piece(np.union1d(mine[mine != out], add), z.adjacency)


def _hand_over_cost(pairs: PairTable, piece: NDArray[np.int64], j: int, k: int) -> int | None:
    """Travel change of moving the piece from school ``j`` to ``k`` (``None``: a block cannot reach ``k``)."""
    delta = 0
    for i in piece.tolist():
        there = _unit_cost(pairs, i, k)
        if there is None:
            return None
        delta += int(pairs.demand[i]) * (there - (_unit_cost(pairs, i, j) or 0))
    return delta


def _room_chain(z: _Swap, piece: NDArray[np.int64], k: int, delta: int, best: _Chain | None) -> _Chain | None:
    """Cheapest chain of one or two edge-block moves making room in zone ``k`` for the piece, if it beats ``best``."""
    demand, room = z.pairs.demand, z.room
    j = int(z.school[piece[0]])
    need = int(demand[piece].sum())
    tried = 0
    for extra, b, second in _exits(z, k, need - int(room[k])):
        total = delta + extra
        if best is not None and total >= best[0]:
            break
        free = int(room[second]) + (need if second == j else 0)
        if int(demand[b]) <= free:
            if _whole_without(z, k, b, piece):
                return (total, [(piece, k), (np.array([b]), second)])
            continue
        if tried >= z.width or second == j:
            continue
        tried += 1
        if not _whole_without(z, k, b, piece):
            continue
        for extra2, b2, third in _exits(z, second, int(demand[b]) - free):
            if best is not None and total + extra2 >= best[0]:
                break
            if third in (k, j) or b2 == b or int(demand[b2]) > int(room[third]):
                continue
            if _whole_without(z, second, b2, np.array([b])):
                best = (total + extra2, [(piece, k), (np.array([b]), second), (np.array([b2]), third)])
                break
    return best


def swap_in(
    piece: NDArray[np.int64],
    school: NDArray[np.int64],
    *,
    adjacency: sp.csr_array,
    roots: NDArray[np.int64],
    detached: NDArray[np.bool_],
    room: NDArray[np.int64],
    pairs: PairTable,
    width: int = 8,
) -> list[tuple[NDArray[np.int64], int]] | None:
    """Cheapest way to hand a detached piece to a bordering zone, making room there by a short chain.

    The piece (of zone ``j``) goes whole to a zone ``k`` it borders at an
    attached block. When ``k`` has too few free seats, an edge block ``b`` of
    ``k`` goes to a zone ``l`` it borders at an attached block; when ``l`` is
    short too, an edge block of ``l`` goes on to a third zone with room (``j``
    itself gains the piece's seats). Only chains keeping ``k`` and ``l`` one
    piece each are kept, so the plan loses the piece and gains no other.

    Parameters
    ----------
    piece
        Blocks of the detached piece.
    school
        School index of each block.
    adjacency
        Symmetric block adjacency.
    roots
        Root block of each school.
    detached
        Blocks in a detached piece (of any zone).
    room
        Free seats per school (negative: over capacity).
    pairs
        Reachable pairs sorted by block (unit cost of each) and students per block.
    width
        Second links tried per zone (cheapest first).

    Returns
    -------
    list of (blocks, school) or None
        The moves, in order (the piece first); ``None`` when no chain is found.
    """
    z = _Swap(school, adjacency, roots, detached, room, pairs, width)
    j = int(school[piece[0]])
    need = int(pairs.demand[piece].sum())
    nb = np.unique(neighbours(adjacency, piece))
    nb = nb[~np.isin(nb, piece) & ~detached[nb] & (school[nb] >= 0)]
    best: _Chain | None = None
    for k in np.unique(school[nb]).tolist():
        if k == j:
            continue
        delta = _hand_over_cost(pairs, piece, j, k)
        if delta is None or (best is not None and delta >= best[0]):
            continue
        if need - int(room[k]) <= 0:
            best = (delta, [(piece, k)])
            continue
        best = _room_chain(z, piece, k, delta, best)
    return None if best is None else best[1]


# --- the contiguity pass ------------------------------------------------------------

#: Above this many detached pieces, hand pieces to bordering zones (greedily, then by chains of moves) before the windows.
GREEDY_ATTACH_ABOVE = 20
#: Passes handing detached pieces to bordering zones (making room by one move) before the windows.
CONTIGUITY_SWAP_PASSES = 4
#: Contiguity windows: blocks around a detached piece re-solved at once (to start with;
#: four times more when the window cannot take the change), how often it grows,
#: how many hops deep it reaches, and CP-SAT deterministic time per window.
CONTIGUITY_WINDOW_BLOCKS = 20
CONTIGUITY_WINDOW_GROWTHS = 2
#: Hops from the piece within which zones trade blocks, per growth of the window.
CONTIGUITY_WINDOW_HOPS = 5
CONTIGUITY_WINDOW_TIME = 0.05
CONTIGUITY_WINDOW_MAX_TIME = 0.3
#: Solves of one window with the lazy cuts of the pieces it left detached.
CONTIGUITY_WINDOW_RESOLVES = 5
#: Hand pieces over by ejection chains before the windows (:func:`planning.zones.connect.chain_pieces`).
CHAIN_PIECES = True
#: Then hand each piece left to the cheapest bordering zone by chains and polish it by an exact window
#: (:func:`planning.zones.connect.chain_and_polish`), before the windows around the pieces.
POLISH_PIECES = True
#: Travel such a hand-over may add (before the windows), per student of the piece, in multiples of the plan's
#: mean travel per student; after the smallest windows, :func:`planning.zones.connect.connect_pieces` hands
#: over what is left whatever it adds.
POLISH_MAX_ADDED = 0.5
#: Most blocks such a hand-over may move before the windows (long chains wander and cost much travel).
POLISH_MAX_MOVED = 20
#: Then the pieces left are handed over whatever it adds, still before the windows.
POLISH_ANY_BEFORE_WINDOWS = True
#: Windows of the contiguity pass (per pass) before plan.py stops repeating it.
MAX_CONTIGUITY_ROUNDS = 30
#: Rounds of :func:`attach_greedily` (a round moves the pieces that border an attached block).
ATTACH_ROUNDS = 3


@dataclass
class Pace:
    """The rate a contiguity pass joins pieces at, to stop one that cannot join them all within its budget.

    Used where a whole plan is already in hand (the restarted rounding's pass,
    :func:`planning.zones.plan._keep_better`): a plan it leaves with pieces is
    never kept, so the units it would go on spending are lost to the whole
    plan's improvement. After each step (chains, polish) the pass is
    *behind* when the units it spent per piece joined so far, times the pieces
    left, exceed the budget left: on town 3,000 x 80 at slack 1.01 the chains
    joined 11 of 26 pieces in 2.34 units, 15 left would take 3.19 of the 2.41
    left, and the polish then spent 3.16 units to leave 12 (the kept restarts
    joined theirs at 0.1 unit per piece with 5-6 units to spare). Before any
    piece is joined there is no rate: never behind.

    Attributes
    ----------
    budget
        The work budget the pass spends (its ``limit`` capped to the pass's share).
    spent
        Units spent when the pass began.
    pieces
        Detached pieces when its steps began (``None``: not yet counted).
    """

    budget: WorkBudget
    spent: float
    pieces: int | None = None

    def behind(self, left: int) -> bool:
        """Whether ``left`` pieces cannot be joined in the budget left at the pace so far (counts the start first)."""
        if self.pieces is None:
            self.pieces = left
        joined = self.pieces - left
        if left == 0 or joined <= 0:
            return False
        return (self.budget.spent - self.spent) / joined * left > self.budget.remaining()


def _behind(pace: Pace | None, frame: Frame, school: NDArray[np.int64]) -> bool:
    """Whether a paced pass is behind (:meth:`Pace.behind`) with the pieces ``school`` leaves; never without a pace."""
    return pace is not None and pace.behind(len(frame.pieces(school)))


def attach_greedily(
    p: Instance,
    school: NDArray[np.int64],
    graph: BlockGraph,
    overflow_penalty_s: int | None,
    *,
    only_empty: bool = False,
    seat_prices: NDArray[np.float64] | None = None,
    pairs: PairTable | None = None,
) -> NDArray[np.int64]:
    """Hand each detached piece whole to the cheapest bordering zone with room for it (:func:`attach_pieces`).

    With ``only_empty``, only pieces without students move
    (free of cost and of seats). With ``seat_prices``, room is not asked for
    and the cost counts the seats taken at their price (the rounding makes up
    the seats). ``pairs`` restricts the schools a block may take (default: every
    pair of ``p``).
    """
    table: PairTable = p if pairs is None else pairs

    def cheapest(piece: NDArray[np.int64], j: int, targets: list[int], load: NDArray[np.int64]) -> int:
        best, best_cost = -1, math.inf
        need = int(p.demand[piece].sum())
        for k in targets:
            if overflow_penalty_s is None and seat_prices is None and load[k] + need > p.capacity[k]:
                continue
            pair = pairs_to(table, piece, k)
            if (pair < 0).any():
                continue
            cost = float((table.cost[pair] * p.demand[piece]).sum())
            if overflow_penalty_s is not None and seat_prices is None:  # the overflow it adds, at its penalty
                cost += overflow_penalty_s * float(max(load[k] + need - p.capacity[k], 0) - max(load[k] - p.capacity[k], 0))
            if seat_prices is not None:
                cost += float(seat_prices[k]) * need
            if cost < best_cost:
                best, best_cost = k, cost
        return best

    return attach_pieces(p, school, graph, cheapest, rounds=ATTACH_ROUNDS, only_empty=only_empty)[0]


@dataclass(frozen=True)
class _Mend:
    """What the contiguity pass of one plan shares."""

    r: Repair
    adjacency: sp.csr_array
    roots: NDArray[np.int64]
    has: NDArray[np.bool_]  # blocks some school can take
    connector: NDArray[np.bool_]  # the others
    cuts: list[Cut]  # kept for later windows (and grown by them)
    group: NDArray[np.int64] = field(init=False, repr=False)  # connector groups, found once

    def __post_init__(self) -> None:
        object.__setattr__(self, "group", connector_components(self.adjacency, self.connector))

    def pieces(self, school: NDArray[np.int64]) -> list[tuple[int, NDArray[np.int64]]]:
        """Detached pieces of the plan (their work charged)."""
        self.r.budget.add_pieces(len(school), self.adjacency.nnz)
        return detached_pieces(school, self.adjacency, self.roots, self.connector, group=self.group)

    def pieces_of(self, school: NDArray[np.int64], zones: NDArray[np.int64]) -> list[tuple[int, NDArray[np.int64]]]:
        """Detached pieces of the given zones (their work charged)."""
        self.r.budget.add_pieces(len(school), self.adjacency.nnz)
        return detached_pieces(np.where(np.isin(school, zones), school, -1), self.adjacency, self.roots, self.connector, group=self.group)


def _window_hint(mm: _Mend, seeds: NDArray[np.int64], school: NDArray[np.int64], border: NDArray[np.int64], target: int) -> NDArray[np.int64]:
    """The plan with the seeds handed to ``target`` or the cheapest zone they border and can reach.

    So CP-SAT starts from a plan meeting every cut (seats may overflow; it repairs those).
    """
    p = mm.r.p
    hint = school.copy()
    best = None
    for k in sorted(set(school[border][school[border] >= 0].tolist()) - set(school[seeds].tolist())):
        pair = pairs_to(p, seeds, k)
        if (pair >= 0).all():
            cost = int((p.cost[pair] * p.demand[seeds]).sum())
            if best is None or cost < best[0]:
                best = (cost, k)
    if target >= 0:
        hint[seeds] = target
    elif best is not None:
        hint[seeds] = best[1]
    return hint


def _window_blocks(
    mm: _Mend, seeds: NDArray[np.int64], school: NDArray[np.int64], zones: NDArray[np.int64], *, growth: int, whole: tuple[int, ...]
) -> NDArray[np.int64]:
    """Blocks of a window: the seeds and their neighbours, ``whole`` zones, and where the zones around them meet.

    A piece handed to a full zone needs that zone to give blocks to another one;
    each growth reaches the meeting places of the zones further out.
    """
    n = len(school)
    free = band(seeds, mm.adjacency, mm.has, min_blocks=CONTIGUITY_WINDOW_BLOCKS, max_hops=2)
    if whole:
        free = np.union1d(free, np.flatnonzero(np.isin(school, whole)))
    reach = band(seeds, mm.adjacency, mm.has, min_blocks=n, max_hops=CONTIGUITY_WINDOW_HOPS * (growth + 1))
    free = np.union1d(free, np.intersect1d(frontier(school, mm.adjacency, zones), reach))
    return free[mm.has[free]]


def _resolve(
    mm: _Mend,
    school: NDArray[np.int64],
    hint: NDArray[np.int64],
    free: NDArray[np.int64],
    *,
    seeds: NDArray[np.int64],
    zones: NDArray[np.int64],
    growth: int,
) -> NDArray[np.int64] | None:
    """Re-solve one window from ``hint``, with lazy cuts for the pieces it leaves; the new plan or ``None``.

    The plan is taken when it left no new piece and no more pieces than before
    with the seeds attached, or, after every re-solve, fewer pieces than before.
    """
    p, r, cuts = mm.r.p, mm.r, mm.cuts
    old = {(j, tuple(pc.tolist())) for j, pc in mm.pieces_of(school, zones)}
    in_free = np.zeros(len(school), bool)
    in_free[free] = True
    cand = [p.dest[p.start[i] : p.start[i + 1]] for i in free.tolist()]
    rule = [Cut(j, pc, bd) for j, pc, bd in neighbour_rule(free, school, cand, mm.adjacency, mm.roots)]
    det = min(CONTIGUITY_WINDOW_TIME * len(free) / CONTIGUITY_WINDOW_BLOCKS, CONTIGUITY_WINDOW_MAX_TIME * (1 + growth))
    for _ in range(CONTIGUITY_WINDOW_RESOLVES):
        local = rule + [cut for cut in cuts if in_free[cut.piece].any()]
        got = solve_sub(r, hint, free, cuts=local, deterministic_time=det)
        if got is None or got[2] > 0 or got[1] not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            return None
        # lazy cuts: a piece the window made is cut off and the window solved again
        left = mm.pieces_of(got[0], np.union1d(zones, got[0][free]))
        new = [(j, pc) for j, pc in left if (j, tuple(pc.tolist())) not in old]
        logger.debug(
            "contiguity window: %d blocks, %d zones, status %d, %d pieces before, %d after, %d new",
            len(free), len(zones), got[1], len(old), len(left), len(new),
        )
        fixed = not any(np.isin(seeds, pc).any() for _, pc in left)
        if not new and len(left) <= len(old) and fixed:
            return got[0]
        cuts.extend(Cut(j, pc, piece_border(pc, mm.adjacency, mm.connector)) for j, pc in new)
        if r.budget.exhausted():
            return None
    # every re-solve left new pieces: keep the plan if it has fewer pieces than before (the next round goes on)
    return got[0] if got is not None and len(left) < len(old) else None


def _window(
    mm: _Mend, seeds: NDArray[np.int64], school: NDArray[np.int64], *, level: int = 0, target: int = -1,
    whole: tuple[int, ...] = (),
) -> tuple[NDArray[np.int64], NDArray[np.int64], bool]:
    """Re-solve a window around ``seeds``; ``level`` starts it larger, ``whole`` zones are freed whole.

    Returns the plan, the window's blocks and whether the window changed the plan.
    """
    border = piece_border(seeds, mm.adjacency, mm.connector)
    hint = _window_hint(mm, seeds, school, border, target)
    zones = np.union1d(np.union1d(school[border][school[border] >= 0], school[seeds]), np.asarray(whole, np.int64))
    zones = zones[zones >= 0]
    for growth in range(level, level + CONTIGUITY_WINDOW_GROWTHS):
        free = _window_blocks(mm, seeds, school, zones, growth=growth, whole=whole)
        got = _resolve(mm, school, hint, free, seeds=seeds, zones=zones, growth=growth)
        if got is not None:
            return got, free, True
        if mm.r.budget.exhausted():
            break
        zones = np.unique(np.r_[school[free], school[neighbours(mm.adjacency, free)]])
        zones = zones[zones >= 0]
    return school, free, False


def _swap_pieces(mm: _Mend, school: NDArray[np.int64]) -> int:
    """Hand pieces to bordering zones, one block out of the receiving zone when it is full (in place)."""
    p = mm.r.p
    swapped = 0
    for _ in range(CONTIGUITY_SWAP_PASSES):
        pieces = mm.pieces(school)
        detached = np.zeros(len(school), bool)
        for _, piece in pieces:
            detached[piece] = True
        room = p.capacity - students_at(p, school)  # overflow allowed or not: no hand-over adds to it (windows weigh that)
        moved = 0
        for _, piece in pieces:
            got = swap_in(piece, school, adjacency=mm.adjacency, roots=mm.roots, detached=detached, room=room, pairs=p)
            if got is None:
                continue
            for blocks, to in got:
                frm = int(school[blocks[0]])
                students = int(p.demand[blocks].sum())
                school[blocks] = to
                room[to] -= students
                room[frm] += students
            detached[piece] = False
            moved += 1
        swapped += moved
        if not moved:
            break
    return swapped


def _roots_home(mm: _Mend, school: NDArray[np.int64], details: dict[str, float | int | str]) -> NDArray[np.int64]:
    """Send each root block home: the zone elsewhere is freed whole with the zone holding its root."""
    root_map = mm.r.roots
    wrong_root = [r for j, r in sorted(root_map.items()) if school[r] != j and mm.has[r]]
    for j, r in sorted(root_map.items()):
        if r in wrong_root and school[r] != j:
            school, _, _ = _window(mm, np.array([r], np.int64), school, target=j, whole=(j, int(school[r])))
    details["wrong_roots"] = len(wrong_root)
    return school


def make_contiguous(
    r: Repair,
    school: NDArray[np.int64],
    graph: BlockGraph,
    cuts: list[Cut],
    details: dict[str, float | int | str],
    walls: Walls | None = None,
    *,
    pace: Pace | None = None,
) -> tuple[NDArray[np.int64], int, list[tuple[int, NDArray[np.int64]]]]:
    """Make every zone one piece: roots home, empty pieces handed over, then window solves.

    Blocks no school can take are connectors. A root block in another zone is
    sent home in a window freeing both zones (under contiguity cuts, kept in
    ``cuts``); many pieces are first handed greedily to bordering zones with
    room; then each piece goes whole to a bordering zone, room made by a chain
    of up to two boundary moves (:func:`swap_in`); what is left is re-solved
    with connectivity enforced exactly in windows growing around each piece
    (:func:`planning.zones.connect.connect_pieces`) until no piece is detached
    or the work budget is spent. Returns the windows solved as the rounds.

    Parameters
    ----------
    r
        The repair shared with the integer repair (its roots: each school's own block).
    school
        The plan.
    graph
        Block adjacency and each school's root block.
    cuts
        Contiguity cuts so far (grown in place).
    details
        Solver figures, filled in place.
    walls
        Blocks no zone can hold whole, found as asked (:class:`Walls`): the
        windows leave their pieces alone.
    pace
        With it, the pass stops after a step that leaves it :meth:`Pace.behind`
        (no further step, no window).

    Returns
    -------
    tuple
        The plan, the rounds taken and the pieces still detached.
    """
    p = r.p
    has = ~p.connector
    mm = _Mend(r, graph.adjacency, graph.roots, has, ~has, cuts)
    school = np.where(has, school, -1)
    school = _roots_home(mm, school, details)
    # pieces without students move free of cost and seats
    school = attach_greedily(p, school, graph, r.overflow_penalty_s, only_empty=True)
    pieces = mm.pieces(school)
    if len(pieces) > GREEDY_ATTACH_ABOVE and r.max_moved is None:
        # many pieces: attach them greedily first, the windows handle the rest
        school = attach_greedily(p, school, graph, r.overflow_penalty_s)
        details["greedy_attached"] = len(pieces)
    if r.max_moved is None:
        # cheap chains of moves first (no solver), the exact windows take the rest
        details["swapped_pieces"] = int(details.get("swapped_pieces", 0)) + _swap_pieces(mm, school)  # in place
    frame = Frame.of(graph.adjacency, graph.roots, ~has, r.budget, walls=walls)
    behind = _behind(pace, frame, school)
    if CHAIN_PIECES and not behind:
        school, chained = chain_pieces(r, frame, school)
        details["chained_pieces"] = int(details.get("chained_pieces", 0)) + chained
        behind = _behind(pace, frame, school)
    if POLISH_PIECES and not behind and frame.pieces(school):
        school, polished = chain_and_polish(r, frame, school, movable_blocks(p, graph), max_added=POLISH_MAX_ADDED,
                                             max_moved=POLISH_MAX_MOVED)
        details["polished_pieces"] = int(details.get("polished_pieces", 0)) + polished
        behind = _behind(pace, frame, school)
        if POLISH_ANY_BEFORE_WINDOWS and not behind and frame.pieces(school):
            school, polished = chain_and_polish(r, frame, school, movable_blocks(p, graph))
            details["polished_pieces"] = int(details.get("polished_pieces", 0)) + polished
            behind = _behind(pace, frame, school)
    if behind:
        details["mend_behind_pace"] = len(frame.pieces(school))
        return school, 0, mm.pieces(school)
    school, joined = connect_pieces(r, frame, school, movable_blocks(p, graph))
    details["connect_windows"] = int(details.get("connect_windows", 0)) + joined.windows
    details["chained_pieces"] = int(details.get("chained_pieces", 0)) + joined.chained
    return school, joined.windows, mm.pieces(school)


def no_whole_plan(p: Instance, graph: BlockGraph, j: int, piece: NDArray[np.int64]) -> bool:
    """Whether no plan of whole zones can exist: a block of school ``j``'s detached piece is walled off (:func:`walled_off`)."""
    return Walls(p, graph).walled_off(piece) is not None


def why_detached(
    p: Instance, school: NDArray[np.int64], j: int, piece: NDArray[np.int64], graph: BlockGraph, *, seats_hard: bool = True
) -> str:
    """Why the detached ``piece`` of school ``j``'s zone is still apart, in words a planner can act on.

    - Proven (:meth:`Walls.walled_off`): a block of the piece is walled off from the
      own block of every school that can take it by blocks that school cannot
      take, so no plan of whole zones exists with these travel limits.
    - No bordering zone's school is within reach of every block of the piece.
    - Bordering zones can take it but have too few free seats: room must be
      made further out by a chain of moves (a longer time limit may find it, or
      more seats).
    - Otherwise the time limit ran out first.
    """
    adjacency, connector = graph.adjacency, p.connector
    name = p.school_ids[j]
    where = f"{len(piece)} block{'s' if len(piece) != 1 else ''} of school {name}'s zone"
    border = piece_border(piece, adjacency, connector)
    others = sorted({int(k) for k in school[border].tolist() if k >= 0 and k != j})
    walled = Walls(p, graph).walled_off(piece)
    if walled is not None:
        return f"{where}: {_walled_words(p, walled, j, others)}, so no plan of whole zones exists"
    if not others:
        return f"{where}: no other zone borders it, and the blocks joining it to its school are in reach of no school"
    reach = [k for k in others if (pairs_to(p, piece, k) >= 0).all()]
    if not reach:
        names = ", ".join(str(p.school_ids[k]) for k in others)
        return (
            f"{where}: the schools bordering it ({names}) are beyond its travel limit, and no redrawing of the zones "
            "around it was found within the time limit; raise time_limit_s"
        )
    need = int(p.demand[piece].sum())
    free = p.capacity - students_at(p, school)
    best = max(reach, key=lambda k: (int(free[k]), -k))
    if seats_hard and need > int(free[best]):
        return (
            f"{where}: its {need} student{'s' if need != 1 else ''} do{'' if need != 1 else 'es'} not fit the free "
            f"seats of the zones bordering it (at most {max(int(free[best]), 0)}, at school {p.school_ids[best]}), "
            f"{_most_of_zone(p, school, j, need)}and no chain of moves making room further out was found within the time limit; "
            "raise time_limit_s or add seats"
        )
    return f"{where}: the time limit ran out before it was joined to a bordering zone; raise time_limit_s"


def _walled_words(p: Instance, b: int, j: int, others: list[int]) -> str:
    """Why block ``b`` of school ``j``'s detached piece fits no whole zone, for :func:`why_detached`."""
    name = p.school_ids[j]
    schools = p.dest[p.start[b] : p.start[b + 1]].tolist()
    if schools == [j]:
        around = f"the schools bordering it ({', '.join(str(p.school_ids[k]) for k in others)}) are beyond its travel limit, " if others else ""
        return (
            f"{around}only school {name} can take it, and every way to {name}'s own block crosses "
            f"blocks {name} cannot take (beyond its travel limit, or another school's own block)"
        )
    shown = ", ".join(str(p.school_ids[k]) for k in schools[:WALLED_SCHOOLS_SHOWN])
    more = f" and {len(schools) - WALLED_SCHOOLS_SHOWN} more" if len(schools) > WALLED_SCHOOLS_SHOWN else ""
    return (
        f"block {p.block_ids[b]} can be taken only by schools {shown}{more}, and every way from it to their own "
        "blocks crosses blocks they cannot take (beyond their travel limit, or another school's own block)"
    )


def _most_of_zone(p: Instance, school: NDArray[np.int64], j: int, need: int) -> str:
    """A clause when the piece holds most of the zone's students (the zone is to be redrawn around its school), else ``""``."""
    total = int(p.demand[school == j].sum())
    if 2 * need <= total:
        return ""
    return (f"the piece holds {need} of the zone's {total} students (the zone is to be redrawn around "
            f"school {p.school_ids[j]}'s own block), ")
