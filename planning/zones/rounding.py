"""Whole-block rounding of the zoning relaxation: seat prices, ejection chains, local search.

The transportation relaxation of single-school zoning (a min-cost flow, see
:mod:`planning.zones.relaxation`) fills every binding school exactly and splits a few
blocks between schools. Blocks are indivisible, so a whole-block plan must
leave a few seats empty at some binding schools and move a few blocks off their
relaxation school. Against the relaxation's bound, a plan's extra cost is

    Σ_i d_i · rc_i  +  Σ_j u_j · empty_j

where ``u_j`` is the relaxation's seat price at school ``j`` (its dual: the
cost of making room for one more student there), ``rc_i`` the reduced cost
of block ``i``'s school (zero at its relaxation school) and ``empty_j`` the
seats left empty at ``j``. Both terms are kept small here, on plain arrays and
in integer students:

1. **Seat prices** (:func:`seat_prices`): shortest paths in the school graph
   of the relaxation's residual network (Bellman–Ford, ``m + 1`` nodes).
2. **Ejection chains** (:func:`ejection_repair`): after rounding each split
   block to the school taking most of it, a school above capacity passes whole
   blocks to the next school on the cheapest path to a school with empty seats
   (arc ``j → k``: the cheapest travel increase per student of a block of
   ``j`` that can reach ``k``, priced with ``u``). Each school on the path
   chooses the blocks it passes on by a small min-cost cover knapsack: cover
   its excess, paying travel, the price of the seats they take downstream and
   the price of the seats left empty behind.
3. **Local search** (:func:`local_search`): shifts (a block to a school with
   room, when travel falls) and swaps (two blocks of two schools exchanged,
   when both fit and travel falls), until no move improves the plan; and
   (:func:`chain_improve`) a block brought back to a cheaper full school,
   room made there by a chain, kept when travel falls.

With block adjacency (zones asked to be contiguous), blocks move only into a
zone they border and never cut their own zone (:func:`may_move`, checked block
by block when several move at once), so a plan of whole zones stays whole.
Only when no such chain can take a school's excess does the repair allow any
move; the contiguity pass (:mod:`planning.zones.contiguity`) mends what those scatter.

Everything is deterministic: candidates are ordered by cost, then by index.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray
from scipy.sparse.csgraph import NegativeCycleError, dijkstra, shortest_path

logger = logging.getLogger(__name__)

#: Candidate blocks per arc considered when a school passes on its excess.
CHAIN_CANDIDATES = 24
#: Rounds of rebuilding the school graph in the ejection-chain repair.
MAX_CHAIN_ROUNDS = 60
#: Of those, rounds of moves that keep zones whole (under contiguity) before any move
#: is allowed: the rest are left for that, so the repair still fits the seats.
MAX_WHOLE_ROUNDS = 40
#: Rounds without less excess after which the chain repair stops (or drops the bordering rule).
STALL_ROUNDS = 3
#: Candidate blocks per school and direction in the swap neighbourhood.
SWAP_CANDIDATES = 12
#: Passes of the local search (each pass tries every shift, then every swap).
MAX_SEARCH_PASSES = 20
#: Added to every arc of the school graph, in seconds per student, so that
#: shorter chains win ties (and csgraph keeps zero-cost arcs).
ARC_EPSILON = 1e-3


class PairTable(Protocol):
    """Reachable (block, school) pairs sorted by block, then cost (see :class:`planning.zones.instance.Instance`)."""

    @property
    def origin(self) -> NDArray[np.int64]:
        """Block of each pair."""

    @property
    def dest(self) -> NDArray[np.int64]:
        """School of each pair."""

    @property
    def cost(self) -> NDArray[np.int64]:
        """Cost per student of each pair."""

    @property
    def start(self) -> NDArray[np.int64]:
        """First pair of each block (``n + 1`` entries)."""

    @property
    def demand(self) -> NDArray[np.int64]:
        """Students of each block."""


@dataclass(frozen=True)
class RoundingStats:
    """What the rounding did, for the plan's details.

    Attributes
    ----------
    chain_rounds
        Rounds of the ejection-chain repair.
    chain_moves
        Blocks passed on along chains.
    kept_whole
        Whether every move kept the zones whole (with adjacency: no chain had
        to fall back to other moves).
    """

    chain_rounds: int = 0
    chain_moves: int = 0
    kept_whole: bool = True


@dataclass(frozen=True)
class LocalPairs:
    """A pair table cut down to each block's cheapest schools (same block and school indices)."""

    origin: NDArray[np.int64]
    dest: NDArray[np.int64]
    cost: NDArray[np.int64]
    start: NDArray[np.int64]
    demand: NDArray[np.int64]


def local_pairs(p: PairTable, keep: NDArray[np.bool_]) -> LocalPairs:
    """The pairs of ``p`` where ``keep`` holds, still sorted by block then cost."""
    idx = np.flatnonzero(keep)
    origin = p.origin[idx]
    start = np.searchsorted(origin, np.arange(len(p.demand) + 1))
    return LocalPairs(origin=origin, dest=p.dest[idx], cost=p.cost[idx], start=start, demand=p.demand)


def round_flow(p: PairTable, flow: NDArray[np.int64]) -> tuple[NDArray[np.int64], NDArray[np.bool_]]:
    """School of each block (largest flow; cheapest pair for zero-student blocks) and split flags."""
    n = len(p.demand)
    school = np.full(n, -1, np.int64)
    has = p.start[1:] > p.start[:-1]
    school[has] = p.dest[p.start[:-1][has]]  # cheapest pair (pairs sorted by cost)
    pos = flow > 0
    npos = np.bincount(p.origin[pos], minlength=n)
    # largest flow per block: sort positive pairs by (block, -flow) and take the first
    idx = np.flatnonzero(pos)
    if len(idx):
        idx = idx[np.lexsort((-flow[idx], p.origin[idx]))]
        first = np.ones(len(idx), bool)
        first[1:] = p.origin[idx][1:] != p.origin[idx][:-1]
        school[p.origin[idx[first]]] = p.dest[idx[first]]
    return school, npos > 1


def own_cost(p: PairTable, school: NDArray[np.int64]) -> NDArray[np.float64]:
    """Per-student cost of each block at its school (``inf`` where the pair does not exist)."""
    n = len(p.demand)
    out = np.full(n, np.inf)
    mine = p.dest == school[p.origin]
    out[p.origin[mine]] = p.cost[mine]
    return out


def loads(p: PairTable, school: NDArray[np.int64], m: int) -> NDArray[np.int64]:
    """Students placed at each of ``m`` schools."""
    ok = (school >= 0) & (p.demand > 0)
    return np.bincount(school[ok], weights=p.demand[ok], minlength=m).astype(np.int64)


def seat_prices(
    p: PairTable, pair_flow: NDArray[np.int64], capacity: NDArray[np.int64]
) -> NDArray[np.float64]:
    """Seat price of each school from an optimal flow of the relaxation (its dual).

    ``u_j`` is the cost of making room for one more student at ``j``: the
    shortest path from ``j`` to a school with empty seats, where a student of
    block ``i`` (with flow at ``j``) moving to school ``k`` costs
    ``t_ik − t_ij``. Schools with empty seats cost 0.

    Parameters
    ----------
    p
        Pair table.
    pair_flow
        Optimal flow on each pair.
    capacity
        Seats of each school (the capacities the flow was solved with).

    Returns
    -------
    numpy.ndarray
        ``u`` per school, ≥ 0 (a school with no path to empty seats gets the
        largest finite price).
    """
    m = len(capacity)
    pos = np.flatnonzero(pair_flow > 0)
    load = np.bincount(p.dest[pos], weights=pair_flow[pos], minlength=m)
    # arcs j → k for every pair (i, k) of a block i with flow at j, cost t_ik − t_ij
    blocks = p.origin[pos]
    counts = p.start[blocks + 1] - p.start[blocks]
    rep = np.repeat(np.arange(len(pos)), counts)
    pair = np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts) + np.repeat(p.start[blocks], counts)
    src = p.dest[pos][rep]
    dst = p.dest[pair]
    w = (p.cost[pair] - p.cost[pos][rep]).astype(float)
    keep = src != dst
    src, dst, w = src[keep], dst[keep], w[keep]
    slack = np.flatnonzero(load < capacity)
    src = np.concatenate([src, slack])
    dst = np.concatenate([dst, np.full(len(slack), m)])
    w = np.concatenate([w, np.zeros(len(slack))])
    # cheapest arc per (src, dst); reversed so that one search from the sink gives every u_j
    order = np.lexsort((w, dst, src))
    src, dst, w = src[order], dst[order], w[order]
    first = np.ones(len(src), bool)
    first[1:] = (src[1:] != src[:-1]) | (dst[1:] != dst[:-1])
    src, dst, w = src[first], dst[first], w[first]
    w = np.where(w == 0, 1e-9, w)  # csgraph drops explicit zeros
    graph = sp.csr_array((w, (dst, src)), shape=(m + 1, m + 1))
    try:
        dist = shortest_path(graph, method="BF", directed=True, indices=m)
    except NegativeCycleError:  # not an optimal flow: no prices
        return np.zeros(m)
    u = dist[:m]
    finite = np.isfinite(u)
    top = float(u[finite].max(initial=0.0))
    return np.maximum(np.where(finite, u, top), 0.0)


def border_keys(adjacency: sp.csr_array, school: NDArray[np.int64], m: int) -> NDArray[np.int64]:
    """Sorted keys ``i·m + k`` of every block ``i`` bordering a block of zone ``k``."""
    n = len(school)
    rows = np.repeat(np.arange(n, dtype=np.int64), np.diff(adjacency.indptr))
    zone = school[adjacency.indices]
    ok = zone >= 0
    return np.unique(rows[ok] * np.int64(m) + zone[ok])


def borders(keys: NDArray[np.int64], blocks: NDArray[np.int64], dest: NDArray[np.int64], m: int) -> NDArray[np.bool_]:
    """Whether each block borders the zone of its ``dest`` school (see :func:`border_keys`)."""
    want = blocks.astype(np.int64) * np.int64(m) + dest
    if not len(keys):
        return np.zeros(len(want), bool)
    pos = np.minimum(np.searchsorted(keys, want), len(keys) - 1)
    return keys[pos] == want


def bordering(
    adjacency: sp.csr_array, school: NDArray[np.int64], blocks: NDArray[np.int64], dest: NDArray[np.int64], m: int
) -> NDArray[np.bool_]:
    """Whether each block borders the zone of its ``dest`` school, as :func:`borders` of :func:`border_keys`.

    A table of blocks × zones marked from the adjacency instead of sorted keys:
    no sort and no search per pair (the chains ask it for every pair of the
    instance, each round).
    """
    n = len(school)
    mark = np.zeros(n * m, bool)
    zone = school[adjacency.indices]
    ok = zone >= 0
    mark[np.repeat(np.arange(n, dtype=np.int64), np.diff(adjacency.indptr))[ok] * np.int64(m) + zone[ok]] = True
    return mark[blocks.astype(np.int64) * np.int64(m) + dest]


def neighbour_lists(adjacency: sp.csr_array) -> list[list[int]]:
    """Each block's neighbours as Python lists (quick to walk one block at a time)."""
    ptr, ind = adjacency.indptr.tolist(), adjacency.indices.tolist()
    return [ind[ptr[i] : ptr[i + 1]] for i in range(len(ptr) - 1)]


def may_move(adjacency: sp.csr_array | list[list[int]], school: NDArray[np.int64], i: int, to: int) -> bool:
    """Whether block ``i`` can join zone ``to`` without scattering a zone.

    It must border zone ``to``, and leaving must not cut its own zone: its
    neighbours in that zone stay connected through that zone's blocks within
    two steps of ``i`` (a local, conservative test: a zone joined only by a
    long way round counts as cut). A plan of whole zones stays whole after
    such a move. ``adjacency`` is the block adjacency or its
    :func:`neighbour_lists` (faster when called many times). Called hundreds of
    thousands of times by the chains: the blocks two steps away are looked at
    only when the neighbours in ``i``'s zone do not touch one another.
    """
    nbrs = adjacency if isinstance(adjacency, list) else neighbour_lists(adjacency)
    nb = nbrs[i]
    zone = school[nb].tolist()
    if to not in zone:
        return False
    own = int(school[i])
    same = [k for k, z in zip(nb, zone, strict=True) if z == own]
    if len(same) <= 1:
        return True
    # first among those neighbours alone: they mostly touch one another (an arc around i), then the search is done
    seen, stack = {same[0]}, [same[0]]
    _reach(nbrs, set(same), seen, stack)
    if len(seen) == len(same):
        return True
    ring = [v for k in same for v in nbrs[k]]
    near = set(same)
    near.update(v for v, z in zip(ring, school[ring].tolist(), strict=True) if z == own and v != i)
    stack = list(seen)
    _reach(nbrs, near, seen, stack)
    return all(k in seen for k in same)


def _reach(nbrs: list[list[int]], within: set[int], seen: set[int], stack: list[int]) -> None:
    """Add to ``seen`` every block of ``within`` reachable through ``within`` from the blocks on ``stack``."""
    while stack:
        for v in nbrs[stack.pop()]:
            if v in within and v not in seen:
                seen.add(v)
                stack.append(v)


def _arc_table(
    p: PairTable,
    school: NDArray[np.int64],
    mine: NDArray[np.float64],
    m: int,
    adjacency: sp.csr_array | None = None,
    pinned: NDArray[np.bool_] | None = None,
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.float64], NDArray[np.int64]]:
    """Moves of whole blocks off their school, grouped by arc (j, k), cheapest per student first.

    With the moves sorted by (j, k, delta, block), returns the arc keys
    ``j·m + k`` of the groups, their first position (len + 1 entries), the
    per-student delta of each move and its block. With ``adjacency``, a block
    may only move to a zone it borders (so moves do not scatter zones). A block
    at a school the table has no pair for (``mine`` infinite: a plan made on a
    larger table) does not move: its delta is unknown here.
    """
    j = school[p.origin]
    ok = (j >= 0) & (p.dest != j) & (p.demand[p.origin] > 0) & np.isfinite(mine[p.origin])
    if pinned is not None:
        ok &= ~pinned[p.origin]
    if adjacency is not None:
        q = np.flatnonzero(ok)
        ok[q] = bordering(adjacency, school, p.origin[q], p.dest[q], m)
    q = np.flatnonzero(ok)
    if not len(q):  # no block can move (one zone, or every block pinned): no arcs
        return np.zeros(0, np.int64), np.zeros(1, np.int64), np.zeros(0, float), np.zeros(0, np.int64)
    delta = p.cost[q] - mine[p.origin[q]]
    # two stable sorts (q is in block order): by delta, then by arc — as a lexsort, much faster
    order = np.argsort(delta, kind="stable")
    key = j[q][order] * np.int64(m) + p.dest[q][order]
    order = order[np.argsort(key, kind="stable")]
    q, delta = q[order], delta[order]
    key = school[p.origin[q]] * np.int64(m) + p.dest[q]
    brk = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
    return key[brk], np.r_[brk, len(q)], delta.astype(float), p.origin[q]


def _cover(
    sizes: NDArray[np.int64], weights: NDArray[np.float64], need: int, room: int = 0
) -> NDArray[np.int64]:
    """Cheapest subset of items whose sizes sum to at least ``need`` (indices).

    A subset summing to at most ``room`` (it fits where it goes) is preferred
    when one exists; all items when none covers ``need``.
    """
    total = int(sizes.sum())
    if total <= need:
        return np.arange(len(sizes))
    cap = need + max(int(sizes.max()), room)
    best = np.full(cap + 1, np.inf)
    best[0] = 0.0
    take = np.zeros((len(sizes), cap + 1), bool)
    for k, (s, w) in enumerate(zip(sizes.tolist(), weights.tolist(), strict=True)):
        if s == 0:
            continue
        cand = best[: cap + 1 - s] + w  # each item at most once: from the sums before it
        better = cand < best[s:]
        take[k, s:] = better
        np.copyto(best[s:], cand, where=better)
    window = best[need : room + 1]
    if not np.isfinite(window).any():
        window = best[need:]
    reach = np.flatnonzero(np.isfinite(window))
    if not len(reach):
        return np.arange(len(sizes))
    target = need + int(reach[np.argmin(window[reach])])
    chosen = []
    for k in range(len(sizes) - 1, -1, -1):
        if take[k, target]:
            chosen.append(k)
            target -= int(sizes[k])
    return np.asarray(sorted(chosen), np.int64)


class _SchoolGraph:
    """Whole-block moves between schools, grouped by arc, with a search for chains.

    Built from one plan; later moves are honoured by skipping blocks that have
    left the school an arc starts at (blocks that arrived are not offered
    until the graph is rebuilt).
    """

    def __init__(
        self,
        p: PairTable,
        school: NDArray[np.int64],
        prices: NDArray[np.float64],
        m: int,
        *,
        adjacency: sp.csr_array | None = None,
        pinned: NDArray[np.bool_] | None = None,
        nbrs: list[list[int]] | None = None,
    ) -> None:
        self.p, self.m, self.prices, self.adjacency = p, m, prices, adjacency
        self.nbrs: list[list[int]] | None = None
        if adjacency is not None:
            self.nbrs = nbrs if nbrs is not None else neighbour_lists(adjacency)
        mine = own_cost(p, school)
        keys, self.first, self.delta, self.blk = _arc_table(p, school, mine, m, adjacency, pinned)
        src, dst = keys // m, keys % m
        w = np.maximum(self.delta[self.first[:-1]] + prices[dst] - prices[src], 0.0) + ARC_EPSILON
        self.graph = sp.csr_array((w, (dst, src)), shape=(m, m))  # reversed: search from the schools with room
        # forward arcs of each school, to try the next hops in order of chain cost
        self.out_start = np.searchsorted(src, np.arange(m + 1))
        self.out_dst, self.out_w = dst, w
        self.arc_of = dict(zip(keys.tolist(), range(len(keys)), strict=True))
        #: school each block last left along a chain (−1 none): never sent back there, so chains cannot cycle
        self.left = np.full(len(school), -1, np.int64)

    def push(
        self,
        school: NDArray[np.int64],
        load: NDArray[np.int64],
        capacity: NDArray[np.int64],
        start: int,
    ) -> list[tuple[int, int]]:
        """Pass ``start``'s excess along the cheapest chain to a school with room; returns (block, old school) moves.

        ``school`` and ``load`` are updated in place.
        """
        p, prices = self.p, self.prices
        need = int(load[start] - capacity[start])
        undo: list[tuple[int, int]] = []
        if need <= 0:
            return undo
        # the chain ends at a school with room for what it carries (any room if none has)
        sinks = np.flatnonzero(capacity - load >= need)
        if not len(sinks):
            sinks = np.flatnonzero(load < capacity)
        if not len(sinks):
            return undo
        dist = dijkstra(self.graph, directed=True, indices=sinks, min_only=True)
        cur, visited = start, {start}
        while load[cur] > capacity[cur]:
            hop = self._next_hop(school, cur, dist, visited)
            if hop is None:
                break
            to, cand, dl = hop
            need = int(load[cur] - capacity[cur])
            sizes = p.demand[cand]
            room = int(max(capacity[to] - load[to], 0))
            pick = cand[_cover(sizes, sizes * (dl + prices[to] + prices[cur]), need, room)]
            if self.nbrs is not None and len(pick) > 1:
                # checked one after the other: two blocks that may each leave alone
                # can cut their zone when they leave together
                ok = []
                for i in pick.tolist():
                    if may_move(self.nbrs, school, i, to):
                        school[i] = to
                        ok.append(i)
                school[ok] = cur
                pick = np.asarray(ok, np.int64)
            undo += [(int(i), cur) for i in pick.tolist()]
            school[pick] = to
            self.left[pick] = cur
            moved = int(p.demand[pick].sum())
            load[cur] -= moved
            load[to] += moved
            visited.add(to)
            cur = to
        return undo

    def _next_hop(
        self, school: NDArray[np.int64], cur: int, dist: NDArray[np.float64], visited: set[int]
    ) -> tuple[int, NDArray[np.int64], NDArray[np.float64]] | None:
        """Cheapest next school toward room that has blocks to take: (school, candidate blocks, deltas).

        Blocks are never sent back to the school they last left (so chains
        cannot cycle), unless no school can be reached otherwise. With
        adjacency, only blocks whose move keeps the zones whole are taken
        (:func:`may_move`); the caller drops the adjacency when no such chain
        is left.
        """
        lo, hi = int(self.out_start[cur]), int(self.out_start[cur + 1])
        targets = self.out_dst[lo:hi]
        score = self.out_w[lo:hi] + dist[targets]
        order = np.lexsort((targets, score))
        for tabu in (True, False):
            for k in order.tolist():
                to = int(targets[k])
                if not np.isfinite(score[k]) or to in visited:
                    continue
                a = self.arc_of[cur * self.m + to]
                first, last = int(self.first[a]), int(self.first[a + 1])
                cand = self.blk[first:last]
                here = school[cand] == cur
                if tabu:
                    here &= self.left[cand] != to
                idx = np.flatnonzero(here)
                if self.nbrs is not None:
                    ok: list[int] = []
                    for c in idx[: 4 * CHAIN_CANDIDATES].tolist():
                        if may_move(self.nbrs, school, int(cand[c]), to):
                            ok.append(c)
                            if len(ok) == CHAIN_CANDIDATES:
                                break
                    idx = np.asarray(ok, np.int64)
                if len(idx):
                    idx = idx[:CHAIN_CANDIDATES]
                    return to, cand[idx], self.delta[first:last][idx]
        return None


def ejection_repair(
    p: PairTable,
    school: NDArray[np.int64],
    capacity: NDArray[np.int64],
    prices: NDArray[np.float64],
    *,
    adjacency: sp.csr_array | None = None,
    pinned: NDArray[np.bool_] | None = None,
    whole_only: bool = False,
    max_moves: int | None = None,
) -> tuple[NDArray[np.int64], RoundingStats]:
    """Bring every school within capacity by passing whole blocks along chains.

    Parameters
    ----------
    p
        Pair table.
    school
        School of each block (−1 none); schools may be above capacity.
    capacity
        Seats of each school.
    prices
        Seat price of each school (:func:`seat_prices`).
    adjacency
        Block adjacency: when given, a block only moves to a zone it borders
        and never cuts its own zone (:func:`may_move`), so whole zones stay
        whole. Other moves are used only when no such chain can take the
        excess.
    pinned
        Blocks that never move (each school's own block, under contiguity).
    whole_only
        With ``adjacency``: stop when no chain keeping zones whole is left
        instead of allowing other moves (for callers that discard a plan not
        kept whole: the rounds of other moves would be work spent for nothing).
    max_moves
        Stop after the round in which this many moves are made (``None``: no
        such stop; for callers that want short chains only).

    Returns
    -------
    school
        The repaired plan (still above capacity somewhere when no chain could
        take the excess; the caller checks).
    stats
        Chain rounds and moves.
    """
    m = len(capacity)
    school = school.copy()
    load = loads(p, school, m)
    rounds = moves = 0
    left: NDArray[np.int64] | None = None
    adj = adjacency
    nbrs = None if adjacency is None else neighbour_lists(adjacency)
    last_over, stalled = int(np.maximum(load - capacity, 0).sum()), 0
    while (load > capacity).any() and (load < capacity).any() and rounds < MAX_CHAIN_ROUNDS:
        rounds += 1
        graph = _SchoolGraph(p, school, prices, m, adjacency=adj, pinned=pinned, nbrs=nbrs)
        if left is not None:
            graph.left = left
        left = graph.left
        excess = load - capacity
        done = 0
        for s in np.lexsort((np.arange(m), -excess))[: int((excess > 0).sum())].tolist():
            done += len(graph.push(school, load, capacity, s))
        moves += done
        over = int(np.maximum(load - capacity, 0).sum())
        stalled = stalled + 1 if over >= last_over else 0
        last_over = over
        if max_moves is not None and moves >= max_moves:
            break  # a longer chain is not wanted (the caller checks the seats)
        if not done or stalled >= STALL_ROUNDS or (adj is not None and rounds >= MAX_WHOLE_ROUNDS):
            if adj is None or whole_only:
                break
            adj, stalled = None, 0  # no bordering chain is left: allow any move
            logger.debug("ejection chains: %d students above capacity left by moves keeping zones whole", over)
    logger.debug("ejection chains: %d rounds, %d moves, %d students above capacity left",
                 rounds, moves, int(np.maximum(load - capacity, 0).sum()))
    return school, RoundingStats(chain_rounds=rounds, chain_moves=moves, kept_whole=adj is not None or adjacency is None)


def chain_improve(
    p: PairTable,
    school: NDArray[np.int64],
    capacity: NDArray[np.int64],
    prices: NDArray[np.float64],
    *,
    adjacency: sp.csr_array | None = None,
    pinned: NDArray[np.bool_] | None = None,
    max_passes: int = 2,
) -> tuple[NDArray[np.int64], int, NDArray[np.bool_]]:
    """Bring blocks back to cheaper full schools, making room by a chain; keep what saves travel.

    For each block not at its cheapest school in seat-price terms (largest
    reduced cost first), move it there and pass the school's excess on along
    the cheapest chain (often ending at the school the block left); the moves
    are kept only when total travel falls.

    Parameters
    ----------
    p
        Pair table.
    school
        A plan within capacity.
    capacity
        Seats of each school.
    prices
        Seat price of each school.
    adjacency
        Block adjacency: when given, a block only moves to a zone it borders
        and never cuts its own zone (:func:`may_move`), so whole zones stay whole.
    pinned
        Blocks that never move (each school's own block, under contiguity).
    max_passes
        Passes over the candidates (the school graph is rebuilt each pass).

    Returns
    -------
    school, kept, touched
        The improved plan, the number of chain moves kept and the schools they changed.
    """
    m = len(capacity)
    n = len(school)
    school = school.copy()
    load = loads(p, school, m)
    kept = 0
    touched = np.zeros(m, bool)
    nbrs = None if adjacency is None else neighbour_lists(adjacency)
    for _ in range(max_passes):
        graph = _SchoolGraph(p, school, prices, m, adjacency=adjacency, pinned=pinned, nbrs=nbrs)
        mine = own_cost(p, school)
        red = p.cost + prices[p.dest]
        best = np.full(n, np.inf)
        np.minimum.at(best, p.origin, red)
        act = np.flatnonzero((school >= 0) & (p.demand > 0) & np.isfinite(mine))
        rc = np.zeros(n)
        rc[act] = (mine[act] + prices[school[act]] - best[act]) * p.demand[act]
        cand = np.flatnonzero((rc > 0.5) & (True if pinned is None else ~pinned))
        cand = cand[np.lexsort((cand, -rc[cand]))]
        # each candidate's target: its cheapest school in seat-price terms
        is_best = red == best[p.origin]
        target = np.full(n, -1, np.int64)
        first_best = np.flatnonzero(is_best)[::-1]  # pairs sorted by block, cost: keep the first per block
        target[p.origin[first_best]] = p.dest[first_best]
        gained = 0
        for i in cand.tolist():
            j, k = int(target[i]), int(school[i])
            if j < 0 or j == k:
                continue
            if nbrs is not None and not may_move(nbrs, school, i, j):
                continue
            d = int(p.demand[i])
            undo = [(i, k)]
            school[i] = j
            load[k] -= d
            load[j] += d
            undo += graph.push(school, load, capacity, j)
            if load[j] > capacity[j] or (load > capacity).any():
                _undo(p, school, load, undo)
                continue
            if _moves_delta(p, undo, school) < 0:
                gained += 1
                for b, old in undo:
                    touched[[old, school[b]]] = True
            else:
                _undo(p, school, load, undo)
        kept += gained
        if not gained:
            break
    return school, kept, touched


def _pair_cost(p: PairTable, i: int, j: int) -> int:
    """Per-student cost of block ``i`` at school ``j`` (the pair must exist)."""
    lo, hi = int(p.start[i]), int(p.start[i + 1])
    return int(p.cost[lo + int(np.flatnonzero(p.dest[lo:hi] == j)[0])])


def _moves_delta(p: PairTable, moves: list[tuple[int, int]], school: NDArray[np.int64]) -> int:
    """Travel change of a sequence of (block, old school) moves, now applied to ``school``."""
    origin: dict[int, int] = {}
    for i, old in moves:
        origin.setdefault(i, old)
    return sum(
        int(p.demand[i]) * (_pair_cost(p, i, int(school[i])) - _pair_cost(p, i, old))
        for i, old in origin.items()
    )


def _undo(p: PairTable, school: NDArray[np.int64], load: NDArray[np.int64], undo: list[tuple[int, int]]) -> None:
    for i, old in reversed(undo):
        d = int(p.demand[i])
        load[school[i]] -= d
        load[old] += d
        school[i] = old


def local_search(
    p: PairTable,
    school: NDArray[np.int64],
    capacity: NDArray[np.int64],
    *,
    movable: NDArray[np.bool_] | None = None,
    dirty: NDArray[np.bool_] | None = None,
    adjacency: sp.csr_array | None = None,
    max_passes: int = MAX_SEARCH_PASSES,
) -> tuple[NDArray[np.int64], int, int]:
    """Improve a capacity-feasible plan by shifts and swaps until none saves travel.

    Parameters
    ----------
    p
        Pair table.
    school
        A plan within capacity (−1: block unassigned, left alone).
    capacity
        Seats of each school.
    movable
        Blocks the search may move (default: every assigned block with students).
    dirty
        Schools whose swaps are worth searching (default: all); later passes
        search only the schools the previous pass changed.
    adjacency
        Block adjacency: when given, a block only moves to a zone it borders
        and never cuts its own zone (:func:`may_move`), so whole zones stay whole.
    max_passes
        Passes over the shift and swap neighbourhoods.

    Returns
    -------
    school, shifts, swaps
        The improved plan and the number of moves of each kind applied.
    """
    m = len(capacity)
    school = school.copy()
    can = (school >= 0) & (p.demand > 0)
    if movable is not None:
        can &= movable
    n_shift = n_swap = 0
    search = _Search(p, capacity, can, adjacency, None if adjacency is None else neighbour_lists(adjacency))
    # schools whose blocks changed in the last pass: only their arcs are searched again
    dirty = np.ones(m, bool) if dirty is None else dirty.copy()
    for _ in range(max_passes):
        changed_at = np.zeros(m, bool)
        load = loads(p, school, m)
        changed = _shifts(search, school, load, changed_at)
        n_shift += changed
        swapped = _swaps(search, school, load, dirty, changed_at)
        n_swap += swapped
        changed += swapped
        dirty = changed_at
        if not changed:
            break
    return school, n_shift, n_swap


@dataclass(frozen=True)
class _Search:
    """What the passes of one local search share."""

    p: PairTable
    capacity: NDArray[np.int64]
    can: NDArray[np.bool_]  # blocks the search may move
    adjacency: sp.csr_array | None
    nbrs: list[list[int]] | None


def _shifts(s: _Search, school: NDArray[np.int64], load: NDArray[np.int64], changed_at: NDArray[np.bool_]) -> int:
    """Shifts: a block to a school with room, best saving first, each block once per pass (in place)."""
    p, capacity, nbrs = s.p, s.capacity, s.nbrs
    m = len(capacity)
    mine = own_cost(p, school)
    j = school[p.origin]
    # blocks without students gain nothing (and one on a pair outside the table, own cost inf, would give inf x 0)
    demand = p.demand[p.origin]
    gain = np.zeros(len(demand))
    some = demand > 0
    gain[some] = (mine[p.origin[some]] - p.cost[some]) * demand[some]
    ok = s.can[p.origin] & (p.dest != j) & (gain > 0) & (p.demand[p.origin] <= capacity[p.dest] - load[p.dest])
    q = np.flatnonzero(ok)
    if s.adjacency is not None:
        q = q[bordering(s.adjacency, school, p.origin[q], p.dest[q], m)]
    q = q[np.lexsort((q, -gain[q]))]
    done = np.zeros(len(school), bool)
    changed = 0
    for k in q.tolist():
        i, to = int(p.origin[k]), int(p.dest[k])
        d = int(p.demand[i])
        if done[i] or load[to] + d > capacity[to]:
            continue
        if nbrs is not None and not may_move(nbrs, school, i, to):
            continue
        load[school[i]] -= d
        load[to] += d
        changed_at[[school[i], to]] = True
        school[i] = to
        done[i] = True
        changed += 1
    return changed


def _swaps(
    s: _Search,
    school: NDArray[np.int64],
    load: NDArray[np.int64],
    dirty: NDArray[np.bool_],
    changed_at: NDArray[np.bool_],
) -> int:
    """Swaps between the two schools of an arc: best pair per arc, where either school changed (in place)."""
    p, m = s.p, len(s.capacity)
    mine = own_cost(p, school)
    keys, first, delta, blk = _arc_table(p, school, mine, m, s.adjacency)
    here = s.can[blk]
    arcs = {int(k): (int(first[a]), int(first[a + 1])) for a, k in enumerate(keys.tolist())}
    swapped = 0
    for key in sorted(arcs):
        a, b = divmod(key, m)
        if a > b or (b * m + a) not in arcs or not (dirty[a] or dirty[b] or changed_at[a] or changed_at[b]):
            continue
        lo, hi = arcs[key]
        lo2, hi2 = arcs[b * m + a]
        x = blk[lo:hi][here[lo:hi]][:SWAP_CANDIDATES]
        dx = delta[lo:hi][here[lo:hi]][:SWAP_CANDIDATES]
        y = blk[lo2:hi2][here[lo2:hi2]][:SWAP_CANDIDATES]
        dy = delta[lo2:hi2][here[lo2:hi2]][:SWAP_CANDIDATES]
        if _swap(s, school, load, (a, x, dx), (b, y, dy)):
            changed_at[[a, b]] = True
            swapped += 1
    return swapped


def _swap(
    s: _Search,
    school: NDArray[np.int64],
    load: NDArray[np.int64],
    one: tuple[int, NDArray[np.int64], NDArray[np.float64]],
    two: tuple[int, NDArray[np.int64], NDArray[np.float64]],
) -> bool:
    """Swap the best pair of a block of school ``a`` and one of ``b`` when both fit and travel falls (in place)."""
    (a, x, dx), (b, y, dy) = one, two
    p, capacity, nbrs = s.p, s.capacity, s.nbrs
    if not len(x) or not len(y):
        return False
    live_x = school[x] == a
    live_y = school[y] == b
    if not live_x.any() or not live_y.any():
        return False
    x, dx, y, dy = x[live_x], dx[live_x], y[live_y], dy[live_y]
    sx, sy = p.demand[x][:, None], p.demand[y][None, :]
    cost = sx * dx[:, None] + sy * dy[None, :]  # travel change of the swap
    fit = (load[a] - sx + sy <= capacity[a]) & (load[b] - sy + sx <= capacity[b])
    cost = np.where(fit, cost, np.inf)
    flat = int(np.argmin(cost))
    r, c = divmod(flat, cost.shape[1])
    if not cost[r, c] < 0:
        return False
    i1, i2 = int(x[r]), int(y[c])
    if nbrs is not None:
        # one move after the other: each block may be the other's only link to its new zone
        if not may_move(nbrs, school, i1, b):
            return False
        school[i1] = b
        if not may_move(nbrs, school, i2, a):
            school[i1] = a
            return False
    d1, d2 = int(p.demand[i1]), int(p.demand[i2])
    school[i1], school[i2] = b, a
    load[a] += d2 - d1
    load[b] += d1 - d2
    return True
