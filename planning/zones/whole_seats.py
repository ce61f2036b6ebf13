"""Capacity repair that keeps zones whole: cheapest paths of bordering-block moves, exact in block sizes.

Under contiguity the rounding starts from whole zones and fits the seats with
ejection chains that keep them whole (:func:`planning.zones.rounding.ejection_repair`).
At tight capacity (slack 1.01 in the zones suite's town, two-town and valley
families) those chains stall with schools still above their seats: a chain
hands a school's whole excess on at once (a knapsack cover of it), so it
overfills the next full zone by more than that zone can pass on, and its
blocks go round among full zones, adding much travel (town 1,000 x 40: from
2 % below the relaxation's bound to 19 % above it, 169 students still over).
The rounding then started again from the relaxation's partition with any moves
and left the contiguity pass hundreds of pieces. :func:`fit_whole` fits the
seats of the whole zones instead, one *path* at a time:

- a path moves block ``i_1`` (or two blocks) of an over-full zone ``s`` into a
  zone ``k_1`` it borders, a block (or two) of ``k_1`` into ``k_2``, …, and the
  last into a zone ``t`` with room for them. Each block borders the zone it
  joins and its leaving does not cut its own zone
  (:func:`planning.zones.rounding.may_move`, checked move by move as the path
  is applied), so whole zones stay whole;
- no zone on the way ends above its seats by more than before: ``k_l`` passes
  on at least what it takes less its free seats (``d_{l+1} ≥ d_l − room``), so
  every path lowers the students over capacity by at least one and none rises;
- the path is the cheapest in travel added (a label-setting search over
  *(zone, students it must pass on)*: a label of a zone with fewer to pass on
  found no dearer dominates), from every over-full zone at once.

Whole zones that still hold detached pieces (the relaxation's zones, torn
on the blocks, whose pieces the rounding's candidate pairs could not hand
over) first hand each piece whole to a bordering zone whose school can take
all of it (:func:`glue_pieces`, seats ignored, the fewest students over
first); the paths then fit the seats (two towns 1,000 x 40 at 1.01: 4 pieces,
854 students; the restart from the relaxation's partition left 2 pieces).

Paths are found until every school fits or none is left; the work (moves
listed and looked at, checks that a move keeps zones whole) is charged to the
budget and the repair stops when its share is spent. Deterministic: ties
broken by travel, zone, block and school index.
"""

from __future__ import annotations

import heapq
import logging
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from planning.zones.instance import BlockGraph, Instance, students_at
from planning.zones.pieces import attach_pieces, pairs_to
from planning.zones.repair import Repair
from planning.zones.rounding import may_move, neighbour_lists

logger = logging.getLogger(__name__)

#: Share of the work budget left that the repair may spend (the contiguity pass and the anytime phase get the rest).
BUDGET_SHARE = 0.5
#: Work charged per step (a move listed or looked at, a check that a move keeps zones whole): numpy and Python,
#: fitted to process CPU seconds on the zones suite's town 3,000 x 80 and 6,000 x 150 at slack 1.01 (1.4-1.5 CPU
#: seconds per 1e6 steps at load 5-7).
WORK_PER_STEP = 3e-6
#: Blocks of a zone bordering another (the cheapest to move) whose pairs may join it together in one step of a
#: path (a full zone often passes on what it takes only with two blocks).
PAIR_BLOCKS = 8
#: Students over capacity in the whole zones, per seat to spare in the plan, above which the repair is not tried
#: (the rounding starts again at once, with the whole budget). On the zones suite at slack 1.01 the ratio is
#: 1.0-2.5 where the paths fit the seats (town 1,000 x 40 to 6,000 x 150, valley and two towns 1,000 x 40) and 14.7
#: on valley 3,000 x 80, where they stop 2,963 students over after 3 work units (8,604 at the start): the zones
#: along a valley cannot pass its far end's students on to the seats at its mouth.
MAX_EXCESS_PER_SPARE_SEAT = 5.0
#: Added to every move's travel (student-seconds) so that of two paths adding the same travel the shorter wins.
MOVE_EPSILON = 1


@dataclass
class _State:
    """The plan being repaired: schools, loads, and the moves a search may use."""

    p: Instance
    nbrs: list[list[int]]
    school: NDArray[np.int64]
    movable: NDArray[np.bool_]
    roots: NDArray[np.int64]
    load: NDArray[np.int64] = field(init=False)
    key: NDArray[np.int64] = field(init=False, repr=False)
    order: NDArray[np.int64] = field(init=False, repr=False)
    work: int = 0
    stamp: NDArray[np.int64] = field(init=False, repr=False)
    valid: dict[tuple[int, int, int], tuple[tuple[int, int], bool]] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        p = self.p
        self.load = students_at(p, self.school)
        self.stamp = np.zeros(len(self.school), np.int64)
        m = np.int64(len(p.capacity))
        key = p.origin * m + p.dest
        self.order = np.argsort(key, kind="stable")
        self.key = key[self.order]

    def pairs(self, blocks: NDArray[np.int64], schools: NDArray[np.int64]) -> NDArray[np.int64]:
        """Pair index of each (block, school), −1 where not reachable."""
        want = blocks * np.int64(len(self.p.capacity)) + schools
        pos = np.minimum(np.searchsorted(self.key, want), max(len(self.key) - 1, 0))
        hit = self.key[pos] == want
        return np.where(hit, self.order[pos], -1)

    def may(self, i: int, to: int) -> bool:
        """Whether block ``i`` may join zone ``to`` keeping zones whole (:func:`planning.zones.rounding.may_move`).

        A block touching its school's own block when that block lies in another
        zone (two schools in one block) never leaves: it may be what joins its
        zone to the school, which the local test does not see.
        """
        j = int(self.school[i])
        root = int(self.roots[j])
        if root >= 0 and self.school[root] != j and root in self.nbrs[i]:
            return False
        return may_move(self.nbrs, self.school, i, to)

    def move(self, i: int, to: int) -> None:
        d = int(self.p.demand[i])
        self.load[self.school[i]] -= d
        self.load[to] += d
        self.school[i] = to
        near = {i, *self.nbrs[i]}
        for b in self.nbrs[i]:
            near.update(self.nbrs[b])
        self.stamp[list(near)] += 1  # what may_move looks at around these blocks has changed


@dataclass(frozen=True)
class _Moves:
    """Bordering moves out of each zone, by students: block (and a second block, −1 none), school they join,
    students, travel added."""

    start: NDArray[np.int64]
    block: NDArray[np.int64]
    second: NDArray[np.int64]
    to: NDArray[np.int64]
    students: NDArray[np.int64]
    added: NDArray[np.int64]


_TRIU = {t: np.triu_indices(t, 1) for t in range(2, PAIR_BLOCKS + 1)}


def _single_moves(s: _State, row: NDArray[np.int64], col: NDArray[np.int64]) -> tuple[NDArray[np.int64], ...]:
    """Every move of a movable block with students into a zone it borders and can reach: zone, block, school,
    students, travel added (sorted by zone, school, travel added, block)."""
    p, school = s.p, s.school
    m = np.int64(len(p.capacity))
    ok = s.movable[row] & (school[col] >= 0) & (school[row] != school[col])
    pair = np.unique(row[ok] * m + school[col[ok]])
    i, k = pair // m, pair % m
    to_pair, own = s.pairs(i, k), s.pairs(i, school[i])
    ok = (to_pair >= 0) & (own >= 0)
    i, k, to_pair, own = i[ok], k[ok], to_pair[ok], own[ok]
    added = (p.cost[to_pair] - p.cost[own]) * p.demand[i]
    frm = school[i]
    order = np.lexsort((i, added, k, frm))
    return frm[order], i[order], k[order], p.demand[i][order], added[order]


def _moves(s: _State, row: NDArray[np.int64], col: NDArray[np.int64]) -> _Moves:
    """The single moves and the pairs of blocks of a zone joining the same zone (the :data:`PAIR_BLOCKS` cheapest
    of each), grouped by the zone they leave, fewest students first."""
    frm, i, k, d, added = _single_moves(s, row, col)
    m = len(s.p.capacity)
    parts = [(frm, i, np.full(len(i), -1, np.int64), k, d, added)]
    cut = np.flatnonzero(np.r_[True, (frm[1:] != frm[:-1]) | (k[1:] != k[:-1])]) if len(i) else np.zeros(0, np.int64)
    ends = np.r_[cut[1:], len(i)] if len(i) else cut
    for a, b in zip(cut.tolist(), ends.tolist(), strict=True):
        top = min(b - a, PAIR_BLOCKS)
        if top < 2:
            continue
        u, v = _TRIU[top]
        u, v = u + a, v + a
        parts.append((frm[u], i[u], i[v], k[u], d[u] + d[v], added[u] + added[v]))
    cols = [np.concatenate(c) for c in zip(*parts, strict=True)]
    frm, i, i2, k, d, added = cols
    order = np.lexsort((i2, k, i, d, frm))
    frm = frm[order]
    s.work += len(order)
    return _Moves(np.searchsorted(frm, np.arange(m + 1)), i[order], i2[order], k[order], d[order], added[order])


def _valid(s: _State, i: int, i2: int, to: int) -> bool:
    """Whether the move keeps zones whole on the current plan (the second block checked once the first has moved).

    Remembered until a block within two steps of either block changes zone (what
    :func:`planning.zones.rounding.may_move` looks at).
    """
    key = (i, i2, to)
    stamp = (int(s.stamp[i]), -1 if i2 < 0 else int(s.stamp[i2]))
    got = s.valid.get(key)
    if got is not None and got[0] == stamp:
        return got[1]
    s.work += 1
    ok = s.may(i, to)
    if ok and i2 >= 0:
        frm = int(s.school[i])
        s.school[i] = to
        ok = s.may(i2, to)
        s.school[i] = frm
    s.valid[key] = (stamp, ok)
    return ok


def _paths(s: _State, mv: _Moves, banned: set[tuple[int, int, int]]) -> list[list[tuple[int, int, int]]]:
    """Cheapest paths of moves from over-full zones to room, no two through the same zone (see the module docstring).

    Each path is its moves ``(block, second block or −1, school)``. The first is
    the cheapest; the search then goes on for more among the zones no path found
    so far passes through (their loads are as the search saw them), so one search
    serves many paths. A label is pushed for every move and checked
    (:func:`_valid`) only when it is taken from the heap.
    """
    cap, load = s.p.capacity, s.load
    room = np.maximum(cap - load, 0)
    # label: (travel added, sequence, zone, students it must pass on); parents by sequence
    heap: list[tuple[int, int, int, int]] = []
    parent: list[tuple[int, int, int, int]] = []  # (label it came from, block, second block, school)
    zone_of: list[int] = []
    for j in np.flatnonzero(load > cap).tolist():
        parent.append((-1, -1, -1, -1))
        zone_of.append(j)
        heap.append((0, len(parent) - 1, j, 1))
    heapq.heapify(heap)
    best = np.full(len(cap), np.iinfo(np.int64).max, np.int64)  # least students to pass on expanded, per zone
    taken: set[int] = set()  # zones of the paths found
    found: list[list[tuple[int, int, int]]] = []
    while heap:
        cost, lab, k, need = heapq.heappop(heap)
        if need >= best[k] or k in taken:
            continue
        _, i, i2, _ = parent[lab]
        if i >= 0 and ((i, i2, k) in banned or not _valid(s, i, i2, k)):
            continue
        zones, q = [], lab
        while q >= 0:
            zones.append(zone_of[q])
            q = parent[q][0]
        if taken.intersection(zones):
            continue
        if need <= 0:  # k has room for what it takes: the path ends here
            out = []
            while parent[lab][0] >= 0:
                out.append(parent[lab][1:])
                lab = parent[lab][0]
            found.append(out[::-1])
            taken.update(zones)
            continue
        best[k] = need
        lo, hi = int(mv.start[k]), int(mv.start[k + 1])
        first = lo + int(np.searchsorted(mv.students[lo:hi], need))
        s.work += hi - first
        for e in range(first, hi):
            to = int(mv.to[e])
            if to in zones or to in taken:
                continue
            parent.append((lab, int(mv.block[e]), int(mv.second[e]), to))
            zone_of.append(to)
            left = int(mv.students[e]) - int(room[to])
            heapq.heappush(heap, (cost + max(int(mv.added[e]), 0) + MOVE_EPSILON, len(parent) - 1, to, left))
    return found


def _apply(s: _State, path: list[tuple[int, int, int]], banned: set[tuple[int, int, int]]) -> bool:
    """Apply ``path`` move by move while each keeps the zones whole; else undo it and ban the move that failed."""
    done: list[tuple[int, int]] = []
    for i, i2, to in path:
        for b in (i, i2):
            if b < 0:
                continue
            if not s.may(b, to):
                banned.add((i, i2, to))
                for c, frm in reversed(done):
                    s.move(c, frm)
                return False
            done.append((b, int(s.school[b])))
            s.move(b, to)
    return True


def glue_pieces(p: Instance, school: NDArray[np.int64], graph: BlockGraph) -> tuple[NDArray[np.int64], int, int, int]:
    """Hand each detached piece whole to a bordering zone whose school can take all of it, seats ignored.

    The zone chosen adds the fewest students over capacity, then the least
    travel (then the lowest school index); rounds run until none moves a piece
    (:func:`planning.zones.pieces.attach_pieces`, whose figures it returns: the
    plan, whole where every piece found a zone, the pieces moved, the searches
    made and the students left in detached pieces).
    """

    def fewest_over(piece: NDArray[np.int64], j: int, targets: list[int], load: NDArray[np.int64]) -> int:
        best: tuple[int, int, int] | None = None
        need = int(p.demand[piece].sum())
        for k in targets:
            pair = pairs_to(p, piece, k)
            if (pair < 0).any():
                continue
            added = max(int(load[k]) + need - int(p.capacity[k]), 0) - max(int(load[k]) - int(p.capacity[k]), 0)
            key = (added, int((p.cost[pair] * p.demand[piece]).sum()), k)
            best = key if best is None or key < best else best
        return -1 if best is None else best[2]

    return attach_pieces(p, school, graph, fewest_over, rounds=None)


def fit_whole(
    r: Repair, school: NDArray[np.int64], graph: BlockGraph, *, pinned: NDArray[np.bool_], details: dict[str, float | int | str]
) -> NDArray[np.int64]:
    """Bring the schools of a plan of whole zones within their seats by paths of moves that keep zones whole.

    See the module docstring. ``pinned``: blocks that never move (each
    school's own block). Returns the repaired plan: every school within its
    seats, or the students over capacity fewer than before (the caller checks).
    Seats hard and no stability cap only (otherwise ``school`` is returned as
    it is).
    """
    p = r.p
    if r.overflow_penalty_s is not None or r.max_moved is not None:
        return school
    load = students_at(p, school)
    before = int(np.maximum(load - p.capacity, 0).sum())
    spare = int(p.capacity.sum()) - int(load.sum())
    if before > MAX_EXCESS_PER_SPARE_SEAT * max(spare, 1):
        details["whole_seats_over"] = f"{before} -> not tried ({spare} seats to spare)"
        return school
    whole, glued, searches, held = glue_pieces(p, school, graph)
    for _ in range(searches):
        r.budget.add_pieces(len(school), graph.adjacency.nnz)
    if held:
        # the paths keep whole zones whole but join no piece: the contiguity pass must still mend a piece no
        # bordering zone can take whole
        details["whole_seats_over"] = f"{before} -> not tried ({held} students in detached pieces)"
        return school
    if glued:
        # pieces handed whole to bordering zones first (two towns 1,000 x 40 at 1.01: its whole zones held 4 pieces,
        # 854 students; the relaxation's partition the rounding started again from left 2 pieces to the end)
        over = int(np.maximum(students_at(p, whole) - p.capacity, 0).sum())
        details["whole_seats_glued"] = f"{glued} piece{'s' if glued != 1 else ''}, {over} students over"
    school = whole
    s = _State(p, neighbour_lists(graph.adjacency), school.copy(), ~pinned & (school >= 0) & (p.demand > 0), graph.roots)
    coo = graph.adjacency.tocoo()
    row, col = coo.row.astype(np.int64), coo.col.astype(np.int64)
    limit = r.budget.spent + BUDGET_SHARE * r.budget.remaining()
    paths = fails = 0
    banned: set[tuple[int, int, int]] = set()
    charged = 0
    while (s.load > p.capacity).any():
        r.budget.add(WORK_PER_STEP * (s.work - charged))
        charged = s.work
        if r.budget.spent >= limit or r.budget.exhausted():
            break
        found = _paths(s, _moves(s, row, col), banned)
        if not found:
            break
        for path in found:
            if _apply(s, path, banned):
                paths += 1
            else:
                fails += 1
    r.budget.add(WORK_PER_STEP * (s.work - charged))
    after = int(np.maximum(s.load - p.capacity, 0).sum())
    logger.debug("whole seats: %d -> %d students over, %d paths, %d undone, work %.2f", before, after, paths, fails, r.budget.spent)
    details.update({"whole_seats_paths": paths, "whole_seats_over": f"{before} -> {after}"})
    return s.school
