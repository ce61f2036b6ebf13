"""Window solves with connectivity enforced exactly: every zone a window touches comes out in one piece.

The contiguity pass (:mod:`planning.zones.contiguity`) hands detached pieces
over whole by short chains of boundary moves; what is left is joined here
(:func:`connect_pieces`). A *window* is a set of free blocks around a detached
piece: first the blocks a few hops around it in the zones it borders and its
own, then those zones whole, then a ring of zones further out (the room a full
zone needs is made further out). Every other block is fixed. Once the zones
are whole, :func:`improve_whole` re-solves each school's zone with the zones
it borders under the same connectivity while travel falls.

Model (on top of the repair model of :func:`planning.zones.repair.solve_sub`:
``x_ij`` for each free block and candidate school, seats, stability cap,
travel). Per zone ``j``, a *node* is a free block that may take ``j``, a
group of fixed blocks of ``j`` cut off from its school by the window (it must
be reached again), or a group of connector blocks (blocks no school takes,
which join the zones they touch) next to a free block; the *anchor* is the
fixed part of ``j`` attached to its school's own block. Connectivity is a
rooted tree per zone (distance layers): every reached node of ``j`` chooses
exactly one reached neighbour in ``j`` as its parent (``Σ_u p_uvj = r_vj``,
``p_uvj ≤ r_uj``) at a lower layer (``p_uvj ⇒ h_vj ≥ h_uj + 1``; the anchor
is layer 0). When joining pieces, a node of ``j`` may stay unreached
(``x_ij = r_ij + w_ij``) at a penalty above any block's travel, so the plan
itself (pieces and all) is a complete, feasible hint, and the search joins
what it can and then lowers the travel; when improving, every node is reached
(``r_ij = x_ij``). Either way no new piece appears: no lazy cuts, no second
solve.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray
from ortools.sat.python import cp_model

from planning.zones.instance import BlockGraph, Instance, pair_index, students_at
from planning.zones.pieces import Walls, connector_components, detached_pieces, neighbours, pairs_to, piece_border
from planning.zones.repair import Cut, ModelCharge, Repair, SubModel, WorkBudget, solve_sub
from planning.zones.rounding import PairTable, RoundingStats, chain_improve, ejection_repair, local_search, may_move, seat_prices

logger = logging.getLogger(__name__)

#: Rings of zones around a detached piece a window may reach (the zones it borders are ring 0).
CONNECT_RINGS = 3
#: Hops around a piece of its first, smallest window.
CONNECT_BAND_HOPS = 3
#: Most free blocks in one window (a larger ring is cut to the blocks nearest the piece).
CONNECT_MAX_BLOCKS = 600
#: CP-SAT deterministic time of a window, per free block and at most.
CONNECT_TIME_PER_BLOCK = 0.012
CONNECT_MAX_TIME = 2.0
#: How a window is charged: CP-SAT's deterministic time on these models (rooted trees, full LP) runs about
#: 3–6 times slower than on the repair models; loading the model and building its trees in Python cost per
#: variable and constraint (fitted to process CPU time per window on the demo counties 150223, 610116, 530102,
#: 610830 and the suite's town 3,000 × 80 at slack 1.01: 0.73–1.36 units per CPU second, county by county).
WINDOW_CHARGE = ModelCharge(time_factor=3.75, per_variable=4e-5, per_constraint=2e-5)

#: A node of a zone's connection graph: ("b", block), ("c", cut-off group), ("h", connector group) or the anchor.
Node = tuple[str, int]
ANCHOR: Node = ("a", 0)


@dataclass(frozen=True)
class Frame:
    """The block graph of one plan's contiguity pass.

    Attributes
    ----------
    adjacency
        Symmetric block adjacency.
    roots
        Root block of each school (−1: none).
    connector
        Blocks no school can take (they join the zones they touch).
    group
        Connector group of each connector block (−1 elsewhere).
    """

    adjacency: sp.csr_array
    roots: NDArray[np.int64]
    connector: NDArray[np.bool_]
    group: NDArray[np.int64] = field(repr=False)
    budget: WorkBudget | None = field(default=None, repr=False, compare=False)
    _last: dict[bytes, list[tuple[int, NDArray[np.int64]]]] = field(default_factory=dict, repr=False, compare=False)
    walls: Walls | None = field(default=None, repr=False, compare=False)

    @classmethod
    def of(
        cls, adjacency: sp.csr_array, roots: NDArray[np.int64], connector: NDArray[np.bool_], budget: WorkBudget | None = None,
        walls: Walls | None = None,
    ) -> Frame:
        """The frame with its connector groups; the work of finding pieces is charged to ``budget``.

        With ``walls``, the windows leave alone the pieces no zone can hold whole (:class:`Walls`).
        """
        return cls(adjacency, roots, connector, connector_components(adjacency, connector), budget, walls=walls)

    def hopeless(self, piece: NDArray[np.int64]) -> bool:
        """Whether the piece holds a block no zone can hold whole (never, without walls); the search is charged."""
        if self.walls is None:
            return False
        done = self.walls.searches()
        found = self.walls.walled_off(piece) is not None
        if self.budget is not None:
            self.walls.charge(self.budget, done)
        return found

    def near(self, i: int) -> NDArray[np.int64]:
        """Neighbours of block ``i``."""
        a = self.adjacency
        return a.indices[a.indptr[i] : a.indptr[i + 1]].astype(np.int64)

    def pieces(self, school: NDArray[np.int64]) -> list[tuple[int, NDArray[np.int64]]]:
        """Detached pieces of the plan (those of the plan asked last are kept: asked again, they cost nothing)."""
        key = np.ascontiguousarray(school, np.int64).tobytes()
        got = self._last.get(key)
        if got is None:
            got = detached_pieces(school, self.adjacency, self.roots, self.connector, group=self.group)
            if self.budget is not None:
                self.budget.add_pieces(len(school), self.adjacency.nnz)
            self._last.clear()
            self._last[key] = got
        return [(j, pc.copy()) for j, pc in got]


@dataclass
class _ZoneGraph:
    """One zone's nodes and undirected edges inside a window."""

    edges: set[tuple[Node, Node]] = field(default_factory=set)
    nodes: set[Node] = field(default_factory=set)

    def link(self, u: Node, v: Node) -> None:
        if u == v:
            return
        self.nodes.update((u, v))
        self.edges.add((u, v) if u < v else (v, u))


def _cut_off(f: Frame, school: NDArray[np.int64], free: NDArray[np.int64], before: set[int]) -> NDArray[np.int64]:
    """Group of each fixed block cut off from its school by freeing ``free`` (−1: attached, free, or detached before)."""
    fixed = school.copy()
    fixed[free] = -1
    out = np.full(len(school), -1, np.int64)
    for c, (_, blocks) in enumerate(f.pieces(fixed)):
        keep = blocks[[int(b) not in before for b in blocks.tolist()]]
        out[keep] = c
    return out


def zone_graphs(
    f: Frame, school: NDArray[np.int64], free: NDArray[np.int64], pairs: set[tuple[int, int]], before: set[int]
) -> dict[int, _ZoneGraph]:
    """Connection graph of each zone a free block may take (see the module docstring).

    ``pairs``: the ``(block, school)`` variables of the model; ``before``: blocks
    detached before the window (not asked to be reached again).
    """
    is_free = np.zeros(len(school), bool)
    is_free[free] = True
    comp = _cut_off(f, school, free, before)
    root_group = {j: int(f.group[r]) for j, r in enumerate(f.roots.tolist()) if r >= 0 and f.connector[r]}
    graphs: dict[int, _ZoneGraph] = {}

    def node_of(b: int, j: int) -> Node | None:
        if is_free[b]:
            return ("b", b) if (b, j) in pairs else None
        if f.connector[b]:
            g = int(f.group[b])
            return ANCHOR if root_group.get(j) == g else ("h", g)
        if school[b] != j or b in before:
            return None
        return ("c", int(comp[b])) if comp[b] >= 0 else ANCHOR

    hubs: dict[int, set[int]] = {}
    for i, j in sorted(pairs):
        zg = graphs.setdefault(j, _ZoneGraph())
        zg.nodes.add(("b", i))
        for b in f.near(i).tolist():
            v = node_of(b, j)
            if v is not None:
                zg.link(("b", i), v)
                if v[0] == "h":
                    hubs.setdefault(j, set()).add(v[1])
    # a connector group next to a free block joins whatever fixed part of the zone it touches
    for j, groups in sorted(hubs.items()):
        for g in sorted(groups):
            members = np.flatnonzero(f.group == g)
            for b in np.unique(neighbours(f.adjacency, members)).tolist():
                if not is_free[b] and not f.connector[b]:
                    v = node_of(b, j)
                    if v is not None:
                        graphs[j].link(("h", g), v)
    return graphs


def _tree_hint(zg: _ZoneGraph, inside: set[Node]) -> tuple[dict[Node, Node], dict[Node, int]]:
    """Parent and layer of each node of ``inside`` reached from the anchor (breadth first)."""
    adj: dict[Node, list[Node]] = {}
    for u, v in sorted(zg.edges):
        adj.setdefault(u, []).append(v)
        adj.setdefault(v, []).append(u)
    parent: dict[Node, Node] = {}
    layer = {ANCHOR: 0}
    queue = deque([ANCHOR])
    while queue:
        u = queue.popleft()
        for v in adj.get(u, []):
            if v not in layer and (v in inside or v[0] == "h"):
                layer[v], parent[v] = layer[u] + 1, u
                queue.append(v)
    return parent, layer


def add_trees(sm: SubModel, graphs: dict[int, _ZoneGraph], hint: NDArray[np.int64], *, penalty: int | None) -> None:
    """Rooted-tree connectivity of every zone graph, hinted with the trees of ``hint`` (in place).

    With a ``penalty``, a node of a zone may stay unreached (*detached*) at that
    price in the objective, so the plan given is always a complete, feasible
    hint and the solve only joins pieces; a detached node is no one's parent.
    Without, every node of a zone is reached (the hint must be whole).
    """
    model = sm.model
    for j, zg in sorted(graphs.items()):
        rooted: dict[Node, cp_model.IntVar] = {}
        lost: dict[Node, cp_model.IntVar] = {}
        for v in sorted(zg.nodes - {ANCHOR}):
            if penalty is None and v[0] == "b":
                rooted[v] = sm.x[v[1], j]
                continue
            rooted[v] = model.new_bool_var(f"r{v[0]}{v[1]}_{j}")
            if penalty is None and v[0] == "c":
                model.add(rooted[v] == 1)
            elif v[0] != "h" and penalty is not None:
                lost[v] = model.new_bool_var(f"w{v[0]}{v[1]}_{j}")
                model.add(rooted[v] + lost[v] == (sm.x[v[1], j] if v[0] == "b" else 1))
                sm.objective.append(penalty * lost[v])
        inside = {v for v in rooted if v[0] == "c" or (v[0] == "b" and hint[v[1]] == j)}
        parent, layer = _tree_hint(zg, inside)
        level = {v: model.new_int_var(1, max(len(rooted), 1), f"l{v[0]}{v[1]}_{j}") for v in rooted}
        into: dict[Node, list[cp_model.IntVar]] = {v: [] for v in rooted}
        for a, b in sorted(zg.edges):
            for u, v in ((a, b), (b, a)):
                if v == ANCHOR:
                    continue
                arc = model.new_bool_var(f"p{u}{v}_{j}")
                into[v].append(arc)
                model.add_hint(arc, parent.get(v) == u)
                if u != ANCHOR:
                    model.add_implication(arc, rooted[u])
                    model.add(level[v] >= level[u] + 1).only_enforce_if(arc)
        # every variable hinted: CP-SAT takes a complete, feasible hint at once
        for v, arcs in into.items():
            model.add(sum(arcs) == rooted[v])
            if v[0] != "b" or penalty is not None:
                model.add_hint(rooted[v], v in layer)
            model.add_hint(level[v], layer.get(v, 1))
            if v in lost:
                model.add_hint(lost[v], v in inside and v not in layer)


def _zone_rings(f: Frame, school: NDArray[np.int64], piece: NDArray[np.int64], rings: int) -> list[NDArray[np.int64]]:
    """Zones around a piece, ring by ring: its own and those it borders, then their neighbours, and so on."""
    coo = f.adjacency.tocoo()
    sr, sc = school[coo.row], school[coo.col]
    hit = (sr >= 0) & (sc >= 0) & (sr != sc)
    m = int(school.max(initial=0)) + 1
    zadj = sp.csr_array((np.ones(int(hit.sum()), bool), (sr[hit], sc[hit])), shape=(m, m))
    border = piece_border(piece, f.adjacency, f.connector)
    ring = np.unique(np.r_[school[border], school[piece[:1]]])
    ring = ring[ring >= 0]
    out = [ring]
    seen = ring
    for _ in range(rings):
        nxt = np.setdiff1d(np.unique(neighbours(zadj, seen)), seen)
        if not len(nxt):
            break
        seen = np.union1d(seen, nxt)
        out.append(seen)
    return out


def _free_blocks(
    f: Frame, school: NDArray[np.int64], zones: NDArray[np.int64], piece: NDArray[np.int64], movable: NDArray[np.bool_],
    detached: NDArray[np.bool_], *, hops: int = 1 << 30,
) -> NDArray[np.int64]:
    """The window: movable blocks of ``zones`` nearest the piece (at most :data:`CONNECT_MAX_BLOCKS`, within
    ``hops``) and the pieces they touch."""
    inside = np.isin(school, zones)
    inside[piece] = True
    # nearest first: breadth-first hops from the piece through the zones' blocks (roots too: they are passed, not freed)
    order: list[int] = []
    seen = np.zeros(len(school), bool)
    seen[piece] = True
    front = np.asarray(piece, np.int64)
    while len(front) and len(order) < CONNECT_MAX_BLOCKS and hops >= 0:
        hops -= 1
        order.extend(front.tolist())
        nb = np.unique(neighbours(f.adjacency, front))
        nb = nb[inside[nb] & ~seen[nb]]
        seen[nb] = True
        front = nb
    free = np.unique(np.asarray(order, np.int64))
    free = free[movable[free]][:CONNECT_MAX_BLOCKS]
    # detached pieces the window touches come in whole (they need not be reached as they are)
    around = np.unique(neighbours(f.adjacency, free))
    hit = around[detached[around]]
    if len(hit):
        free = np.union1d(free, hit)
    return free


def detach_penalty(p: PairTable) -> int:
    """Objective penalty of a block left detached: more than any block's travel, so joining always pays."""
    return int(np.max(p.cost, initial=0)) * int(np.max(p.demand, initial=0)) + 1


def solve_window(
    r: Repair, f: Frame, school: NDArray[np.int64], free: NDArray[np.int64], *, detached: NDArray[np.bool_],
    hops: int = 2, joining: bool = True, per_block: float = CONNECT_TIME_PER_BLOCK,
) -> tuple[NDArray[np.int64], int, int] | None:
    """Re-solve the ``free`` blocks with every zone they touch kept whole: the plan, its missing seats and CP-SAT's status.

    ``None`` when CP-SAT found no plan.

    Each block may take its own school or that of a zone within ``hops`` of it.
    ``joining``: detached pieces may stay so at a price (the solve joins what it
    can); else the plan must be whole and stays so. ``detached``: blocks in a
    detached piece of the plan (those outside the window stay as they are).
    """
    hint = school
    extra: dict[int, set[int]] = {}
    for i in free.tolist():
        near = f.near(i)
        if hops > 1:
            near = np.union1d(near, neighbours(f.adjacency, near))
        extra[i] = {int(k) for k in np.unique(hint[near]).tolist() if k >= 0}
    before = set(np.flatnonzero(detached).tolist()) - set(free.tolist())
    det = min(per_block * len(free), CONNECT_MAX_TIME)

    def extend(sm: SubModel) -> None:
        graphs = zone_graphs(f, hint, free, set(sm.x), before)
        add_trees(sm, graphs, hint, penalty=detach_penalty(r.p) if joining else None)

        logger.debug("window: %d free blocks, %d zones, %d variables", len(free), len(graphs), len(sm.model.proto.variables))

    got = solve_sub(r, hint, free, cuts=[], deterministic_time=det, schools=extra, extend=extend, how=WINDOW_CHARGE)
    if got is None or got[1] not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return None
    return got[0], got[2], got[1]


#: Pieces the smallest windows left are handed over by ejection chains before the wider windows.
CHAIN_AFTER_FIRST = True
#: Then every piece left is handed over by :func:`chain_and_polish` (whatever it adds), before the wider windows.
POLISH_AFTER_FIRST = True
#: Bordering zones a detached piece is handed to by :func:`chain_pieces` (cheapest first).
CHAIN_TARGETS = 2
#: After the chains, shifts, swaps and chain moves keeping zones whole (kept when fewer blocks are detached).
LOCAL_JOIN = True
#: Wall seconds per pair of the instance a hand-over by chains or a pass of shifts and swaps may take on a
#: loaded machine (about 1e-5 quiet): neither is started with less time than that left before the deadline.
LOCAL_WALL_S_PER_PAIR = 2e-5
#: A hand-over by chains is kept when it adds at most this many times its price at the seat prices to the travel.
CHAIN_COST_FACTOR = 3.0
#: Work charged for one hand-over by ejection chains (numpy and Python, outside CP-SAT's time): per pair of the
#: instance and round of chains (each round rebuilds the graph of moves), and per block moved (each move checks
#: that zones stay whole). Measured in CPU seconds on the counties of :data:`WINDOW_CHARGE` (9e-8 and 2.5e-4), then
#: lowered by the 22 % less CPU the same hand-overs took once rounding's border table and may_move got cheaper.
CHAIN_WORK_PER_PAIR = 7e-8
CHAIN_WORK_PER_MOVE = 2e-4
#: Moves after which a hand-over by :func:`chain_pieces` that still does not fit the seats is given up. On the
#: zones suite's town 6,000 x 150 at slack 1.01 the median hand-over made 180 moves, a tenth over 1,900, and the
#: hand-overs over 100 moves held 99 % of the moves charged: in piece order they spent the whole 24-unit budget
#: and 77 pieces were left (48 with this cap, the plan 0.4 % cheaper; the other rows of the suite unchanged or better).
CHAIN_MAX_MOVES = 200
#: Work charged per pair of the instance for a pass of shifts, swaps and chain moves keeping zones whole.
LOCAL_WORK_PER_PAIR = 1.2e-5


def _charge_chains(r: Repair, stats: RoundingStats) -> None:
    """Charge one hand-over by ejection chains to the work budget (see :data:`CHAIN_WORK_PER_PAIR`)."""
    r.budget.add(CHAIN_WORK_PER_PAIR * len(r.p.origin) * max(stats.chain_rounds, 1) + CHAIN_WORK_PER_MOVE * stats.chain_moves)


def _prices(r: Repair) -> NDArray[np.float64]:
    """Seat price of each school (the relaxation's; 0 without its flow)."""
    p = r.p
    return np.zeros(len(p.capacity)) if r.flow is None else seat_prices(p, r.flow, p.capacity)


def chain_pieces(r: Repair, f: Frame, school: NDArray[np.int64]) -> tuple[NDArray[np.int64], int]:
    """Hand each detached piece whole to a bordering zone and pass the seats it takes on along ejection chains.

    The piece goes to the bordering zone cheapest at the seat prices (then the
    next); the school's excess is passed on by
    :func:`planning.zones.rounding.ejection_repair` with moves that keep whole
    zones whole (a block joins a zone it borders and never cuts its own), as
    far as it takes (the room is often several zones away at tight capacity).
    Kept when every school fits its seats (or, when it is already above, its
    load) and fewer blocks are detached. A chain is given up when it finds no
    move keeping zones whole (its plan was never kept) or has made
    :data:`CHAIN_MAX_MOVES` moves without fitting the seats.
    Seats hard and no stability cap only.
    Then (:data:`LOCAL_JOIN`) shifts, swaps and chain moves that keep zones
    whole, kept when fewer blocks are detached. No CP-SAT: its work is charged
    by rounds of chains, pairs and moves, and it stops once the work budget is
    spent (never past the deadline). Returns the plan and the pieces the
    chains joined.
    """
    p = r.p
    if r.overflow_penalty_s is not None or r.max_moved is not None:
        return school, 0
    prices = _prices(r)
    pinned = np.zeros(len(school), bool)
    pinned[[b for b in r.roots.values() if b >= 0]] = True
    joined = 0
    # seats: the plan's own load where it is above capacity (no school is to take more than it has)
    seats = np.maximum(p.capacity, students_at(p, school))
    for j, piece in f.pieces(school):
        if r.budget.exhausted():
            break  # charged by deterministic counts: the work budget stops it, like the windows
        if r.budget.wall_left() <= LOCAL_WALL_S_PER_PAIR * len(p.origin):
            r.budget.wall_stops += 1  # never run past the deadline
            break
        if not np.all(school[piece] == j):
            continue
        left = _detached_blocks(f, school)
        border = piece_border(piece, f.adjacency, f.connector)
        need = int(p.demand[piece].sum())
        offers = []
        for k in sorted(set(school[border].tolist()) - {-1, j}):
            pair = pairs_to(p, piece, k)
            if (pair >= 0).all():
                offers.append((float((p.cost[pair] * p.demand[piece]).sum()) + float(prices[k]) * need, k))
        here = _plan_cost(p, school, None)
        own = float((p.cost[pairs_to(p, piece, j)] * p.demand[piece]).sum()) + float(prices[j]) * need
        for offer, k in sorted(offers)[:CHAIN_TARGETS]:
            trial = school.copy()
            trial[piece] = k
            trial, stats = ejection_repair(p, trial, seats, prices, adjacency=f.adjacency, pinned=pinned, whole_only=True,
                                           max_moves=CHAIN_MAX_MOVES)
            _charge_chains(r, stats)
            # moves that kept zones whole only, and at most CHAIN_COST_FACTOR times what the seat prices say it costs
            dear = _plan_cost(p, trial, None) - here > CHAIN_COST_FACTOR * max(offer - own, 0.0) + need
            if stats.kept_whole and not dear and (students_at(p, trial) <= seats).all() and _detached_blocks(f, trial) < left:
                school, joined = trial, joined + 1
                break
    if LOCAL_JOIN and f.pieces(school):
        # shifts and swaps keeping zones whole often join a piece too (a block of it moves to the zone around it)
        school = _local_whole(r, f, school, movable_blocks(p, BlockGraph(f.adjacency, f.roots)), joining=True)
    logger.debug("chains: %d pieces joined, work %.2f", joined, r.budget.spent)
    return school, joined


#: Passes of :func:`chain_and_polish` over the pieces left (each pass tries every piece once).
POLISH_PASSES = 3
#: Most blocks a hand-over by :func:`chain_and_polish` may move (longer chains wander and cost much travel).
POLISH_MAX_MOVED = 80
#: Most free blocks of the window that polishes a hand-over (the blocks it moved and their neighbours).
POLISH_MAX_BLOCKS = 120
#: Hops around a block of a polishing window within which the zones it may join lie (2: a block the chain
#: moved may go back to the zone it left, which no longer borders it).
POLISH_HOPS = 2


def chain_and_polish(
    r: Repair, f: Frame, school: NDArray[np.int64], movable: NDArray[np.bool_], *, max_added: float | None = None,
    max_moved: int = 0,
) -> tuple[NDArray[np.int64], int]:
    """Join each detached piece by the cheapest hand-over along ejection chains, then polish it with an exact window.

    Unlike :func:`chain_pieces` every bordering zone is tried and the cheapest
    hand-over that keeps zones whole, fits the seats, moves at most
    ``max_moved`` blocks (0: :data:`POLISH_MAX_MOVED`) and leaves fewer blocks detached is taken,
    up to ``max_added`` times the plan's mean travel per student for each of
    the piece's students (``None``: whatever it adds; a whole plan is the aim).
    The window that follows
    (the blocks the chain moved and their neighbours, every zone kept whole,
    :func:`solve_window` from the chain's plan as a complete hint) takes back
    most of what the chain added. A piece too large for any single bordering
    zone still goes: its school gains the piece's seats, so the chain often ends
    there. Seats hard, every school within them, and no stability cap only. The chains (no CP-SAT)
    are charged by rounds, pairs and moves; chains and windows stop once the
    work budget is spent (never past the deadline). Returns the plan and the
    pieces joined.
    """
    p = r.p
    if r.overflow_penalty_s is not None or r.max_moved is not None or (students_at(p, school) > p.capacity).any():
        return school, 0  # not in the capacity fallback (a plan above the seats): the windows mend its pieces
    prices, joined = _prices(r), 0
    pinned = ~movable & (school >= 0)
    for _ in range(POLISH_PASSES):
        found = 0
        for j, piece in f.pieces(school):
            if r.budget.exhausted():
                return school, joined + found  # the pieces this pass joined count too
            if r.budget.wall_left() <= LOCAL_WALL_S_PER_PAIR * len(p.origin):
                r.budget.wall_stops += 1
                return school, joined + found
            if not np.all(school[piece] == j):
                continue  # an earlier hand-over of this pass moved it
            cap = None if max_added is None else max_added * _plan_cost(p, school, None) / max(int(p.demand.sum()), 1)
            added = None if cap is None else cap * int(p.demand[piece].sum())
            got = _cheapest_hand_over(r, f, school, piece, prices, pinned=pinned, added=added, moved=max_moved or POLISH_MAX_MOVED)
            if got is None:
                continue
            school = _polish(r, f, school, got, movable)
            found += 1
        joined += found
        if not found or not f.pieces(school):
            break
    logger.debug("chain and polish: %d pieces joined, work %.2f", joined, r.budget.spent)
    return school, joined


def _cheapest_hand_over(
    r: Repair, f: Frame, school: NDArray[np.int64], piece: NDArray[np.int64], prices: NDArray[np.float64], *,
    pinned: NDArray[np.bool_], added: float | None, moved: int,
) -> NDArray[np.int64] | None:
    """The cheapest plan handing ``piece`` whole to a bordering zone with seats passed on by ejection chains, adding at
    most ``added`` to the travel (``None``: none found)."""
    p = r.p
    j = int(school[piece[0]])
    left = _detached_blocks(f, school)
    seats = np.maximum(p.capacity, students_at(p, school))
    border = piece_border(piece, f.adjacency, f.connector)
    here = _plan_cost(p, school, None)
    best: tuple[int, NDArray[np.int64]] | None = None
    moves = [(piece, k) for k in sorted(set(school[border].tolist()) - {-1, j}) if (pairs_to(p, piece, k) >= 0).all()]
    moves += [(np.array([b], np.int64), j) for b in _bridges(r, f, school, piece, border, pinned)]
    for blocks, k in moves:
        trial = school.copy()
        trial[blocks] = k
        trial, stats = ejection_repair(p, trial, seats, prices, adjacency=f.adjacency, pinned=pinned, whole_only=True)
        _charge_chains(r, stats)
        if not stats.kept_whole or int((trial != school).sum()) > moved:
            continue
        if (students_at(p, trial) <= seats).all() and _detached_blocks(f, trial) < left:
            cost = _plan_cost(p, trial, None)
            if (best is None or cost < best[0]) and (added is None or cost - here <= added):
                best = (cost, trial)
    return None if best is None else best[1]


#: Blocks tried as a bridge joining a piece to the rest of its zone (cheapest first).
BRIDGE_CANDIDATES = 6


def _bridges(
    r: Repair, f: Frame, school: NDArray[np.int64], piece: NDArray[np.int64], border: NDArray[np.int64], pinned: NDArray[np.bool_]
) -> list[int]:
    """Blocks of other zones bordering both ``piece`` and the attached part of its zone that may join it (cheapest first).

    Such a block joins the piece to its zone; it leaves its own zone whole
    (:func:`planning.zones.rounding.may_move`), and the chains then pass on the
    seats it takes. A large piece one block away from its school's part (the
    zone cut in two by one block of another) is joined so, not handed over.
    """
    p = r.p
    j = int(school[piece[0]])
    attached = school == j
    for k, pc in f.pieces(school):
        if k == j:
            attached[pc] = False
    out = []
    for b in border.tolist():
        if school[b] < 0 or school[b] == j or pinned[b] or not attached[f.near(b)].any():
            continue
        pair = pairs_to(p, np.array([b], np.int64), j)[0]
        if pair >= 0 and may_move(f.adjacency, school, b, j):
            out.append((int(p.cost[pair]) * int(p.demand[b]), b))
    return [b for _, b in sorted(out)[:BRIDGE_CANDIDATES]]


def _polish(
    r: Repair, f: Frame, before: NDArray[np.int64], trial: NDArray[np.int64], movable: NDArray[np.bool_]
) -> NDArray[np.int64]:
    """``trial`` re-solved link by link of its chain: per pair of zones it moved blocks between, those blocks and
    their neighbours in the two zones (at most :data:`POLISH_MAX_BLOCKS`), every zone kept whole; each window kept
    when it lowers the travel."""
    p = r.p
    changed = np.flatnonzero(trial != before)
    start = _plan_cost(p, trial, None)
    links = sorted({(min(a, b), max(a, b)) for a, b in zip(before[changed].tolist(), trial[changed].tolist(), strict=True)})
    for a, b in links:
        if r.budget.exhausted():
            break
        detached = np.zeros(len(trial), bool)
        for _, pc in f.pieces(trial):
            detached[pc] = True
        ok = np.isin(trial, [a, b]) & movable & ~detached
        moved = changed[np.isin(before[changed], [a, b]) & np.isin(trial[changed], [a, b]) & ok[changed]]
        # the blocks moved first, then their neighbours, up to the window's size
        around = np.setdiff1d(np.unique(neighbours(f.adjacency, moved)), moved)
        free = np.sort(np.r_[moved, around[ok[around]]][:POLISH_MAX_BLOCKS])
        if len(free) < 2:
            continue
        got = solve_window(r, f, trial, free, detached=detached, hops=POLISH_HOPS, joining=False, per_block=IMPROVE_TIME_PER_BLOCK)
        whole = got is not None and got[1] == 0 and _detached_blocks(f, got[0]) <= int(detached.sum())
        if whole and got is not None and _plan_cost(p, got[0], None) < _plan_cost(p, trial, None):
            trial = got[0]
    logger.debug("polish: %d moved, %d links, travel %+d by the chain, %+d after the windows, work %.2f",
                 len(changed), len(links), start - _plan_cost(p, before, None), _plan_cost(p, trial, None) - _plan_cost(p, before, None),
                 r.budget.spent)
    return trial


def _detached_blocks(f: Frame, school: NDArray[np.int64]) -> int:
    """Blocks in detached pieces."""
    return sum(len(pc) for _, pc in f.pieces(school))


@dataclass
class Joined:
    """What :func:`connect_pieces` did: windows solved, and the pieces no window joined, with their widest window.

    ``proven`` maps a piece (school, its first block) left detached to the
    zones of a window CP-SAT solved to optimality without joining it: no plan
    changing only those zones' blocks joins it within the seats.
    """

    windows: int = 0
    chained: int = 0
    proven: dict[tuple[int, int], NDArray[np.int64]] = field(default_factory=dict)


def connect_pieces(r: Repair, f: Frame, school: NDArray[np.int64], movable: NDArray[np.bool_]) -> tuple[NDArray[np.int64], Joined]:
    """Join every detached piece it can with window solves: each piece in the zones around it, then a ring wider.

    Every piece gets its smallest window before any gets a wider one, so the
    easy ones are joined first; a window is taken when it leaves fewer blocks
    detached with every seat kept.
    """
    out = Joined()
    # level 0: the blocks a few hops around the piece in the zones it borders; level k: ring k − 1 of zones
    for level in range(CONNECT_RINGS + 2):
        ring = max(level - 1, 0)
        tried: set[tuple[int, int]] = set()
        while not r.budget.exhausted():
            pieces = [(j, pc) for j, pc in f.pieces(school) if (j, int(pc[0])) not in tried and not f.hopeless(pc)]
            if not pieces:
                break
            j, piece = pieces[0]
            tried.add((j, int(piece[0])))
            rings = _zone_rings(f, school, piece, ring)
            if len(rings) <= ring:
                continue  # no wider ring of zones around this piece
            hops = CONNECT_BAND_HOPS if level == 0 else 1 << 30
            school = _join(r, f, school, piece, rings[ring], movable=movable, out=out, hops=hops)
        if r.budget.exhausted() or not f.pieces(school):
            break
        if level == 0 and CHAIN_AFTER_FIRST:
            # what the smallest windows left: hand over by ejection chains (cheap) before the wider windows
            school, chained = chain_pieces(r, f, school)
            out.chained += chained
            if POLISH_AFTER_FIRST and f.pieces(school):
                # whatever a hand-over adds: the wider windows rarely join the large pieces left
                school, polished = chain_and_polish(r, f, school, movable)
                out.chained += polished
    return school, out


def _join(
    r: Repair, f: Frame, school: NDArray[np.int64], piece: NDArray[np.int64], zones: NDArray[np.int64], *,
    movable: NDArray[np.bool_], out: Joined, hops: int,
) -> NDArray[np.int64]:
    """One window around ``piece`` over ``zones``: the plan with it joined, or the plan unchanged."""
    detached = np.zeros(len(school), bool)
    for _, pc in f.pieces(school):
        detached[pc] = True
    free = _free_blocks(f, school, zones, piece, movable, detached, hops=hops)
    got = solve_window(r, f, school, free, detached=detached)
    out.windows += 1
    joined = got is not None and got[1] == 0 and _detached_blocks(f, got[0]) < int(detached.sum())
    logger.debug("connect: piece of %d blocks, %d zones, %d free, joined %s, status %s, missing %s, work %.2f",
                 len(piece), len(zones), len(free), joined, got and got[2], got and got[1], r.budget.spent)
    key = (int(school[piece[0]]), int(piece[0]))
    if joined and got is not None:
        out.proven.pop(key, None)
        return got[0]
    if got is not None and got[2] == cp_model.OPTIMAL:
        out.proven[key] = zones
    return school


#: Share of the work budget the improvement of whole zones may spend (the anytime phase gets the rest).
IMPROVE_SHARE = 0.9
#: CP-SAT deterministic time of an improvement window per free block (at most :data:`CONNECT_MAX_TIME`).
IMPROVE_TIME_PER_BLOCK = 0.012
#: Most CP-SAT deterministic time of one improvement window (2.0, :data:`CONNECT_MAX_TIME`, before: on the
#: zones suite's town 1,000 x 40 at slack 1.01 three windows of 8–9 zones ran to that limit and spent 5–8
#: of its 24 work units each). With :data:`IMPROVE_PAIRS`, 24 units, 0.5 against 2.0: two towns
#: 1,000 x 40 at 1.06 +0.92 % against +1.12 % above the bound, town 1.03 +1.98 % against +2.24 %.
IMPROVE_MAX_TIME = 0.5
#: Hops around a free block within which the zones it may join lie (1: the zones it borders).
IMPROVE_HOPS = 1
#: Hops from a border between two zones of a group within which its blocks are free.
IMPROVE_BAND_HOPS = 1
#: The same for a window over more than two zones (a seed and the zones it borders, a chain): 0, the blocks on a
#: seam only. At 1 hop such windows of 6–10 zones and 100–230 free blocks cost about 2 units each, most running to
#: :data:`IMPROVE_MAX_TIME` (town 1,000 x 40 at 1.01: 19 of them took 19.1 of the 24 units and bought 58,000
#: student-seconds, the 60 pair windows 41,500 for 1.7 units; 13 of 40 seeds reached). On seams alone they hold
#: about a third fewer blocks and still mostly run to the limit (15 took 17.1 units, 9 improved against 8; 12 seeds
#: reached). 24 units, gap to the reference, 1 hop / 0 hops (with :data:`IMPROVE_LOCAL_CHANGED`): town 1,000 x 40
#: at 1.01 +3.289 % / +2.615 %, 1.03 +1.461 % / +1.493 %, 1.06 +0.320 % / +0.238 %, 1.15 +0.200 % / +0.204 %;
#: two towns 1.01 +1.914 % / +2.037 %, 1.03 +1.642 % / +1.595 %, 1.06 +0.854 % / +0.894 %; valley 1.01 +0.681 % /
#: +0.680 %; town 3,000 x 80 at 1.01 +2.542 % / +2.349 %; uniform 1.01 +0.459 % / +0.501 %, 1.03 +0.308 % /
#: +0.161 %, 1.06 +0.118 % / +0.110 %; uniform 3,000 x 80 at 1.06 +0.187 % / +0.139 %; uniform / town 6,000 x 150
#: at 1.01 +0.890 % / +0.871 %, +0.659 % / +0.717 %. Town 1.01's gain is mostly not the windows' (they end at
#: 8,528,162 against 8,530,399): at 1 hop its last window ran 1.7 units past :data:`IMPROVE_SHARE`, and the anytime
#: phase's 2 units took 53,000 off the plan the seams left. The search is chaotic at 24 units.
IMPROVE_WIDE_BAND_HOPS = 0


def zone_neighbours(f: Frame, school: NDArray[np.int64], m: int) -> sp.csr_array:
    """Zone adjacency: schools whose zones touch."""
    coo = f.adjacency.tocoo()
    sr, sc = school[coo.row], school[coo.col]
    hit = (sr >= 0) & (sc >= 0) & (sr != sc)
    return sp.csr_array((np.ones(int(hit.sum()), bool), (sr[hit], sc[hit])), shape=(m, m))


def _group_window(
    f: Frame, school: NDArray[np.int64], zones: NDArray[np.int64], movable: NDArray[np.bool_], *, hops: int = IMPROVE_BAND_HOPS
) -> NDArray[np.int64]:
    """Movable blocks of ``zones`` within ``hops`` of a border between two of them."""
    inside = np.isin(school, zones) & movable
    coo = f.adjacency.tocoo()
    sr, sc = school[coo.row], school[coo.col]
    seam = inside[coo.row] & np.isin(sc, zones) & (sr != sc)
    front = np.unique(coo.row[seam]).astype(np.int64)
    seen = np.zeros(len(school), bool)
    seen[front] = True
    for _ in range(hops):
        nb = np.unique(neighbours(f.adjacency, front))
        nb = nb[inside[nb] & ~seen[nb]]
        seen[nb] = True
        front = nb
    return np.flatnonzero(seen)[: CONNECT_MAX_BLOCKS]


#: Improvement windows seeded at the zones with the largest reduced cost first (else in school order).
IMPROVE_BY_REGRET = True


def _zone_order(r: Repair, school: NDArray[np.int64]) -> list[int]:
    """Schools by the reduced cost their zones carry at the seat prices, largest first: where the plan departs most."""
    p = r.p
    n, m = len(school), len(p.capacity)
    red = (p.cost + _prices(r)[p.dest]) * p.demand[p.origin]
    cheapest = np.full(n, np.inf)
    np.minimum.at(cheapest, p.origin, red)
    own = pair_index(p, np.arange(n), school)
    ok = own >= 0
    regret = np.bincount(school[ok], weights=red[own[ok]] - cheapest[ok], minlength=m)
    return np.lexsort((np.arange(m), -regret)).tolist()


#: After a seed's window over the zones it borders finds nothing, its *chain* window (:func:`_price_chain`) is
#: solved when it reaches zones that window did not hold: at tight capacity a cheaper whole plan often needs
#: boundary shifts passed along several zones towards free seats, which no group of neighbours holds.
IMPROVE_CHAINS = True
#: Most zones of a chain window (the seed included).
IMPROVE_CHAIN_ZONES = 6


def _price_chain(zadj: sp.csr_array, prices: NDArray[np.float64], room: NDArray[np.bool_], seed: int) -> NDArray[np.int64]:
    """The seed and a chain of zones down the seat prices: from the last zone taken, the bordering one with the
    lowest seat price (ties: lower index), until a zone with free seats or :data:`IMPROVE_CHAIN_ZONES` zones."""
    chain = [seed]
    last = seed
    while len(chain) < IMPROVE_CHAIN_ZONES and (last == seed or not room[last]):
        near = [k for k in zadj.indices[zadj.indptr[last] : zadj.indptr[last + 1]].tolist() if k not in chain]
        if not near:
            break
        last = min(near, key=lambda k: (prices[k], k))
        chain.append(last)
    return np.asarray(chain, np.int64)


#: After a seed's window over the zones it borders and its price chain find nothing, a window over the seed, the
#: bordering zone its dearest block would save most in (travel × students) and the fewest zones from there to a
#: zone with a free seat (:func:`_regret_chain`). On the zones suite's whole plans a few such blocks carry most of
#: the price over the non-contiguous plan: town 1,000 x 40 at 1.01 (24 units), four blocks 65,000–95,000
#: student-seconds each (of 243,000 in all), each bordering a nearer zone that is full and none cutting its own
#: zone. 24 units, gap to the reference: town 1.01 +3.443 % before, +3.207 % with these windows; uniform 1.01
#: +0.580 %, +0.487 %; town 1.03 and two towns 1.03 the same (+1.786 %, +1.693 %).
IMPROVE_REGRET_CHAINS = True


def _border_moves(
    r: Repair, f: Frame, school: NDArray[np.int64], j: int, movable: NDArray[np.bool_]
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64]]:
    """Every move of a movable block of zone ``j`` with students into a zone it borders: the block, the zone, and
    the travel × students it saves (negative: dearer)."""
    p = r.p
    coo = f.adjacency.tocoo()
    row, col = coo.row.astype(np.int64), coo.col.astype(np.int64)
    hit = movable[row] & (school[row] == j) & (school[col] >= 0) & (school[col] != j) & (p.demand[row] > 0)
    row, to = row[hit], school[col[hit]]
    there, own = pair_index(p, row, to), pair_index(p, row, school[row])
    ok = (there >= 0) & (own >= 0)
    row, to = row[ok], to[ok]
    return row, to, (p.cost[own[ok]] - p.cost[there[ok]]) * p.demand[row]


def _dearest_move(r: Repair, f: Frame, school: NDArray[np.int64], j: int, movable: NDArray[np.bool_]) -> tuple[int, int] | None:
    """The movable block of zone ``j`` and the bordering zone it saves most travel × students in (``None``: no saving)."""
    row, to, save = _border_moves(r, f, school, j, movable)
    if not len(row):
        return None
    best = np.lexsort((to, row, -save))[0]  # largest saving; ties: lower block, then lower zone
    return (int(row[best]), int(to[best])) if save[best] > 0 else None


def _regret_chain(
    r: Repair, f: Frame, school: NDArray[np.int64], zadj: sp.csr_array, j: int, movable: NDArray[np.bool_]
) -> NDArray[np.int64]:
    """Zone ``j``, the zone ``k`` its dearest block would join (:func:`_dearest_move`) and the fewest zones from ``k``
    to one with a free seat (breadth first, lower index first; at most :data:`IMPROVE_CHAIN_ZONES` zones in all).
    Only ``j`` when no block saves by moving."""
    move = _dearest_move(r, f, school, j, movable)
    if move is None:
        return np.array([j], np.int64)
    k = move[1]
    room = students_at(r.p, school) < r.p.capacity
    came = {k: -1}
    queue, end = deque([k]), k
    while queue and not room[end]:
        u = queue.popleft()
        for v in zadj.indices[zadj.indptr[u] : zadj.indptr[u + 1]].tolist():
            if v != j and v not in came:
                came[v] = u
                queue.append(v)
                if room[v]:
                    end = v
                    break
    path = [end] if room[end] else [k]
    while came[path[-1]] >= 0:
        path.append(came[path[-1]])
    return np.asarray([j, *reversed(path)][:IMPROVE_CHAIN_ZONES], np.int64)


@dataclass
class _Whole:
    """The search of :func:`improve_whole` so far."""

    school: NDArray[np.int64]
    best: int
    windows: int = 0
    improved: int = 0
    version: NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, np.int64))  # changes of each zone
    tried: dict[tuple[int, int], tuple[int, int]] = field(default_factory=dict)  # pair -> versions when solved
    local_at: float = 0.0  # work spent when the moves keeping zones whole last ran
    local_on: NDArray[np.int64] | None = None  # the plan they left when they last ran


def _whole_window(
    r: Repair, f: Frame, st: _Whole, zones: NDArray[np.int64], movable: NDArray[np.bool_],
    cost: Callable[[NDArray[np.int64]], int], *, capped: bool = True,
) -> bool:
    """One window over ``zones`` (blocks near their seams) with exact connectivity, at most :data:`IMPROVE_MAX_TIME`
    (``capped``, else :data:`CONNECT_MAX_TIME`); kept when cheaper, whole as before."""
    detached = np.zeros(len(st.school), bool)
    for _, pc in f.pieces(st.school):
        detached[pc] = True  # pieces left stay as they are (no window moves them)
    before = int(detached.sum())
    hops = IMPROVE_BAND_HOPS if len(zones) <= 2 else IMPROVE_WIDE_BAND_HOPS
    free = _group_window(f, st.school, zones, movable & ~detached, hops=hops)
    if len(free) < 2:
        return False
    per_block = min(IMPROVE_TIME_PER_BLOCK, IMPROVE_MAX_TIME / len(free)) if capped else IMPROVE_TIME_PER_BLOCK
    got = solve_window(r, f, st.school, free, detached=detached, hops=IMPROVE_HOPS, joining=False, per_block=per_block)
    st.windows += 1
    if got is None or got[1] > 0:
        return False
    value = cost(got[0])
    logger.debug("improve: zone %d, %d zones, %d free, status %d, %d -> %d, work %.2f",
                 int(zones[0]), len(zones), len(free), got[2], st.best, value, r.budget.spent)
    if value < st.best and _detached_blocks(f, got[0]) <= before:
        st.school, st.best = got[0], value
        st.improved += 1
        return True
    return False


#: Windows over two bordering zones, each seed's before its window over all the zones it borders (small models
#: CP-SAT mostly solves to optimality at once; a pair is solved again only when one of its zones changed since).
#: On the zones suite's 1,000 x 40 given 24 work units (gap to the bound; before: windows over all neighbours
#: only, at most 2.0 deterministic seconds each): town 1.01 +3.97 % before, +4.01 % with the pairs; town 1.03
#: +2.05 %, +1.98 %; two towns 1.06 +1.11 %, +0.92 %. Measured and dropped: every seed's pairs pass after pass
#: before any larger window (+3.52 %, +2.26 %, +2.02 %: the budget goes on pairs before the window of the seed
#: with the largest reduced cost is solved), and a seed's larger window only when its pairs found nothing
#: (town 1.01 +4.03 %).
IMPROVE_PAIRS = True


def _pair_windows(
    r: Repair, f: Frame, st: _Whole, j: int, movable: NDArray[np.bool_], cost: Callable[[NDArray[np.int64]], int]
) -> bool:
    """Windows over zone ``j`` and each zone it borders, each pair again only when one of its zones changed since
    it was last solved (:attr:`_Whole.tried`); whether one found a cheaper plan."""
    m = len(r.p.capacity)
    zadj = zone_neighbours(f, st.school, m)
    found = False
    for k in zadj.indices[zadj.indptr[j] : zadj.indptr[j + 1]].tolist():
        if r.budget.exhausted(IMPROVE_SHARE):
            break
        key = (min(j, k), max(j, k))
        if st.tried.get(key) == (int(st.version[key[0]]), int(st.version[key[1]])):
            continue
        before = st.school
        if _whole_window(r, f, st, np.array(key, np.int64), movable, cost):
            found = True
            moved = before != st.school
            st.version[np.unique(np.r_[before[moved], st.school[moved]])] += 1
        st.tried[key] = (int(st.version[key[0]]), int(st.version[key[1]]))
    return found


#: Work budget from which :func:`improve_whole` solves the windows over pairs and the chain windows, each window
#: at most :data:`IMPROVE_MAX_TIME`; below it, only each zone with all it borders, as before. The many small
#: windows carry Python work no window charge counts (about 20 % more CPU per unit on the zones suite): on a
#: short limit (the demo counties at 4 s, 1.6 units, two runs sharing two cores) the clock then stopped the
#: search before its budget and the plan depended on the load.
IMPROVE_MIN_WORK = 8.0


def _improve_whole_before(
    r: Repair, f: Frame, st: _Whole, movable: NDArray[np.bool_], cost: Callable[[NDArray[np.int64]], int]
) -> tuple[NDArray[np.int64], int, int]:
    """:func:`improve_whole` with windows over a zone and all it borders only (at most :data:`CONNECT_MAX_TIME`)."""
    m = len(r.p.capacity)
    while True:
        found = 0
        for j in _zone_order(r, st.school) if IMPROVE_BY_REGRET else range(m):
            if r.budget.exhausted(IMPROVE_SHARE):
                return st.school, st.windows, st.improved
            zadj = zone_neighbours(f, st.school, m)
            zones = np.r_[j, zadj.indices[zadj.indptr[j] : zadj.indptr[j + 1]]]
            found += _whole_window(r, f, st, zones, movable, cost, capped=False)
        if not found:
            return st.school, st.windows, st.improved


#: Work the windows of :func:`improve_whole` spend (at least, and at least what a pass of them costs,
#: :data:`LOCAL_WORK_PER_PAIR`) before shifts, swaps and chain moves keeping zones whole (:func:`_local_whole`) run
#: again on their plan: those moves pass seats along chains of zones longer than any window holds, and each window
#: that moves a seam opens new ones. 24 units, gap to the reference, without and with: town 1,000 x 40 at 1.01
#: +3.207 % / +3.289 %, 1.03 +1.786 % / +1.461 %; two towns 1.01 +2.847 % / +2.313 %, 1.03 +1.693 % / +1.642 %,
#: 1.06 +0.916 % / +0.876 %; town 3,000 x 80 at 1.01 +2.813 % / +2.616 %; uniform 1.01 +0.487 % / +0.459 %; valley
#: 1.01 +0.680 % / +0.681 %; uniform 1.06 and town 1.15 the same. Every 1 / 3 units instead: town 1.01 +2.884 % /
#: +3.055 %, two towns 1.01 +2.313 % / +2.475 %, town 3,000 x 80 +2.616 % / +2.125 %, uniform 1.01 +0.415 % /
#: +0.548 %, but town 1.03 +2.813 % / +2.812 % (the search is chaotic: which seeds 24 units reach decides much).
IMPROVE_LOCAL_EVERY = 2.0
#: The moves keeping zones whole run again only when a window has changed the plan since they last ran (on the
#: same plan they find the same moves; each run costs :data:`LOCAL_WORK_PER_PAIR` per pair, 0.24 units on the
#: 1,000 x 40 rows; on town 1,000 x 40 at 1.01, 1 of its 8 runs was on such a plan). 24 units, gap to the reference,
#: without and with: two towns 1,000 x 40 at 1.06 +0.876 % / +0.854 %, town 1,000 x 40 at 1.06 +0.356 % /
#: +0.320 %, the 11 other rows of round 32's measure the same.
IMPROVE_LOCAL_CHANGED = True


def _local_again(
    r: Repair, f: Frame, st: _Whole, movable: NDArray[np.bool_], cost: Callable[[NDArray[np.int64]], int]
) -> bool:
    """Shifts, swaps and chain moves keeping zones whole (:func:`_local_whole`) on the windows' plan, kept when
    cheaper; whether they were. Not run on the plan they left when they last ran (:data:`IMPROVE_LOCAL_CHANGED`)."""
    if IMPROVE_LOCAL_CHANGED and st.local_on is not None and np.array_equal(st.local_on, st.school):
        return False  # no window has changed the plan since: they would find what they found then
    got = _local_whole(r, f, st.school, movable)
    st.local_at = r.budget.spent
    value = cost(got)
    cheaper = value < st.best
    if cheaper:
        st.school, st.best = got, value
    st.local_on = st.school
    return cheaper


def _seed_windows(
    r: Repair, f: Frame, st: _Whole, j: int, movable: NDArray[np.bool_], cost: Callable[[NDArray[np.int64]], int], *,
    prices: NDArray[np.float64],
) -> bool:
    """Seed ``j``'s windows in turn until one finds a cheaper plan: ``j`` with every zone it borders, then its
    price chain (:data:`IMPROVE_CHAINS`) and its aimed chain (:data:`IMPROVE_REGRET_CHAINS`), each chain only when
    it holds a zone the windows before did not."""
    zadj = zone_neighbours(f, st.school, len(r.p.capacity))
    zones = np.r_[j, zadj.indices[zadj.indptr[j] : zadj.indptr[j + 1]]]
    if _whole_window(r, f, st, zones, movable, cost):
        return True
    room = students_at(r.p, st.school) < r.p.capacity
    chains: list[Callable[[], NDArray[np.int64]]] = []
    if IMPROVE_CHAINS:
        chains.append(lambda: _price_chain(zadj, prices, room, j))
    if IMPROVE_REGRET_CHAINS:
        chains.append(lambda: _regret_chain(r, f, st.school, zadj, j, movable))
    tried = [zones]
    for make in chains:
        if r.budget.exhausted(IMPROVE_SHARE):
            return False
        chain = make()
        if not np.setdiff1d(chain, zones).size or any(np.array_equal(chain, t) for t in tried):
            continue
        tried.append(chain)
        if _whole_window(r, f, st, chain, movable, cost):
            return True
    return False


#: Before any window with exact connectivity, passes of *cheap* windows (:func:`_cheap_pass`): each seed with
#: every zone it borders, in the order of :func:`_zone_order`, re-solved without the rooted trees (the plain
#: path's window model with the neighbour rule's cuts), each kept only when no zone comes out in pieces. At most
#: this many passes (a pass that finds nothing ends them; 0: none). The rooted-tree windows cost about a unit each
#: and reach ~13 of 40 seeds in 24 units; a pass of 40 cheap windows costs 2-5 units. Measured on the zones
#: suite's town 1,000 x 40 at 1.01 / 1.03, two towns at 1.01 / 1.03 / 1.06 and valley at 1.01, generator seeds
#: 1-3 (14 runs whose first plan leaves room for the windows), 24 units: the sum of the gaps to the reference
#: falls by 3.80 points with one pass (at :data:`CHEAP_MAX_TIME` 0.1; 3 runs worse); two passes (at 0.3) +2.09
#: points against one on the 5 runs measured (every one worse): the cheap windows' greedy moves then take the
#: budget the exact windows buy more with.
CHEAP_PASSES = 1
#: Most of the work budget one pass of cheap windows may spend (the seeds it does not reach wait for the windows
#: with connectivity). A pass costs 2-5 units on the 1,000 x 40 rows (below the cap) but 10-12 of the 24 on town
#: 3,000 x 80 at 1.01 (80 seeds), which left the exact windows 8-25 windows: seeds 1-3, gap to the reference,
#: main / no cap / 0.25: +2.346 / +2.807 / +2.479 %, +0.832 / +0.926 / +0.875 %, +0.798 / +0.912 / +0.806 %;
#: uniform 3,000 x 80 at 1.06 seeds 1-2 +0.139 / +0.116 / +0.121 %, +0.294 / +0.217 / +0.196 %.
CHEAP_MAX_SHARE = 0.25
#: Hops from a seam within which a cheap window's blocks are free.
CHEAP_BAND_HOPS = 1
#: CP-SAT deterministic time of a cheap window per free block (the plain path's
#: :data:`planning.zones.anytime.WINDOW_TIME_PER_BLOCK`), and at most. Against 0.1, on the 14 runs above: 0.3
#: +3.21 points (the pass costs 5-8 units instead of 3-5), 0.05 +2.57 points on the 8 runs measured (5 worse).
CHEAP_TIME_PER_BLOCK = 0.002
CHEAP_MAX_TIME = 0.1


def _cheap_window(
    r: Repair, f: Frame, st: _Whole, zones: NDArray[np.int64], movable: NDArray[np.bool_],
    cost: Callable[[NDArray[np.int64]], int],
) -> bool:
    """One window over ``zones`` (blocks near their seams) with no connectivity model: each free block may take its
    own school or a zone of ``zones`` it borders, and a school only when a neighbour holds it (the neighbour rule's
    cuts); kept when cheaper, within the seats and with no more blocks detached. A result that leaves a zone in
    pieces is repaired once: the blocks it detaches go back to their schools (:func:`_undetach`)."""
    detached = np.zeros(len(st.school), bool)
    for _, pc in f.pieces(st.school):
        detached[pc] = True
    before = int(detached.sum())
    free = _group_window(f, st.school, zones, movable & ~detached, hops=CHEAP_BAND_HOPS)
    if len(free) < 2:
        return False
    inside = set(zones.tolist())
    extra = {i: {int(k) for k in st.school[f.near(i)].tolist() if int(k) in inside} for i in free.tolist()}
    # the neighbour rule (planning.zones.contiguity.neighbour_rule; no root is free): a block takes a school only
    # when a neighbour does
    cuts = [Cut(j, np.array([i], np.int64), f.near(i)) for i in free.tolist() for j in sorted(extra[i] | {int(st.school[i])})]
    det = min(CHEAP_TIME_PER_BLOCK * len(free), CHEAP_MAX_TIME)
    got = solve_sub(r, st.school, free, cuts=cuts, deterministic_time=det, schools=extra)
    st.windows += 1
    if got is None or got[2] > 0 or got[1] not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return False
    new = got[0]
    if _detached_blocks(f, new) > before:
        new = _undetach(f, st.school, new)
    seats = np.maximum(r.p.capacity, students_at(r.p, st.school))
    value = cost(new)
    logger.debug("cheap: zone %d, %d zones, %d free, %d -> %d, work %.2f", int(zones[0]), len(zones), len(free), st.best,
                 value, r.budget.spent)
    if value < st.best and (students_at(r.p, new) <= seats).all() and _detached_blocks(f, new) <= before:
        st.school, st.best = new, value
        st.improved += 1
        return True
    return False


def _undetach(f: Frame, old: NDArray[np.int64], new: NDArray[np.int64]) -> NDArray[np.int64]:
    """``new`` with the blocks of its detached pieces that ``old`` had elsewhere given back their school in ``old``."""
    out = new.copy()
    for _, pc in f.pieces(new):
        back = pc[old[pc] != new[pc]]
        out[back] = old[back]
    return out


def _cheap_pass(
    r: Repair, f: Frame, st: _Whole, movable: NDArray[np.bool_], cost: Callable[[NDArray[np.int64]], int]
) -> int:
    """One cheap window (:func:`_cheap_window`) per seed, each seed with every zone it borders, in the order of
    :func:`_zone_order`, until :data:`CHEAP_MAX_SHARE` of the budget is spent; how many found a cheaper plan."""
    m = len(r.p.capacity)
    found = 0
    stop = min(IMPROVE_SHARE, r.budget.spent / r.budget.limit + CHEAP_MAX_SHARE)
    zadj = zone_neighbours(f, st.school, m)
    for j in _zone_order(r, st.school):
        if r.budget.exhausted(stop):
            break
        before = st.school
        if _cheap_window(r, f, st, np.r_[j, zadj.indices[zadj.indptr[j] : zadj.indptr[j + 1]]], movable, cost):
            found += 1
            moved = before != st.school
            st.version[np.unique(np.r_[before[moved], st.school[moved]])] += 1
            zadj = zone_neighbours(f, st.school, m)  # the zones' borders moved with the plan
    return found


def improve_whole(
    r: Repair, f: Frame, school: NDArray[np.int64], movable: NDArray[np.bool_], cost: Callable[[NDArray[np.int64]], int]
) -> tuple[NDArray[np.int64], int, int]:
    """Large-neighbourhood search keeping whole zones whole: each school's zone and the zones it borders re-solved.

    Pieces still detached stay as they are (no window frees them).

    Each window is solved with connectivity enforced (:func:`solve_window`)
    from the plan (a whole, fitting plan is a complete hint) and taken when
    cheaper with no more detached blocks and no seat missing. First one pass of
    cheap windows (:data:`CHEAP_PASSES`, :func:`_cheap_pass`: no connectivity
    model, a result with a new piece repaired or dropped), so that every seed
    is reached once; then windows over two bordering zones (:data:`IMPROVE_PAIRS`), then each zone with
    all it borders; when such a window finds nothing, the seed's chain window
    (:data:`IMPROVE_CHAINS`) and then its aimed chain window
    (:data:`IMPROVE_REGRET_CHAINS`) are tried (:func:`_seed_windows`). Between
    seeds, once the windows have spent :data:`IMPROVE_LOCAL_EVERY`, shifts, swaps
    and chain moves keeping zones whole run on their plan (:func:`_local_again`). Passes over the schools repeat until one
    finds nothing or :data:`IMPROVE_SHARE` of the budget is spent.

    Returns the plan, the windows solved and those that improved it.
    """
    m = len(r.p.capacity)
    st = _Whole(school, cost(school), version=np.zeros(m, np.int64))
    prices = _prices(r)
    if r.budget.limit < IMPROVE_MIN_WORK:
        return _improve_whole_before(r, f, st, movable, cost)
    for _ in range(CHEAP_PASSES):
        if not _cheap_pass(r, f, st, movable, cost):
            break
    st.local_at = r.budget.spent
    while True:
        found = 0
        for j in _zone_order(r, st.school) if IMPROVE_BY_REGRET else range(m):
            if r.budget.exhausted(IMPROVE_SHARE):
                return st.school, st.windows, st.improved
            if IMPROVE_PAIRS and _pair_windows(r, f, st, j, movable, cost):
                found += 1
            if r.budget.exhausted(IMPROVE_SHARE):
                return st.school, st.windows, st.improved
            found += _seed_windows(r, f, st, j, movable, cost, prices=prices)
            if IMPROVE_LOCAL_EVERY and r.budget.spent >= st.local_at + max(IMPROVE_LOCAL_EVERY, LOCAL_WORK_PER_PAIR * len(r.p.origin)):
                found += _local_again(r, f, st, movable, cost)
        if not found:
            return st.school, st.windows, st.improved


def improve_plan(
    r: Repair, school: NDArray[np.int64], graph: BlockGraph, details: dict[str, float | int | str]
) -> NDArray[np.int64]:
    """:func:`improve_whole` on a plan of whole zones (figures into ``details``: its objective before, windows, improvements)."""
    p = r.p
    f = Frame.of(graph.adjacency, graph.roots, p.connector, r.budget)
    details["whole_start_objective_s"] = _plan_cost(p, school, r.overflow_penalty_s)
    if LOCAL_FIRST:
        school = _local_whole(r, f, school, movable_blocks(p, graph))
        details["whole_local_objective_s"] = _plan_cost(p, school, r.overflow_penalty_s)
    school, windows, improved = improve_whole(r, f, school, movable_blocks(p, graph), lambda s: _plan_cost(p, s, r.overflow_penalty_s))
    details.update({"whole_windows": windows, "whole_improvements": improved})
    return school


#: Shifts, swaps and chain moves keeping zones whole before the windows of :func:`improve_plan`.
LOCAL_FIRST = True


def _local_whole(
    r: Repair, f: Frame, school: NDArray[np.int64], movable: NDArray[np.bool_], *, joining: bool = False
) -> NDArray[np.int64]:
    """Shifts, swaps and chain moves that keep whole zones whole (no CP-SAT) while travel falls; seats hard only.

    Kept when cheaper with no more blocks detached, or (``joining``) with fewer.
    """
    p = r.p
    if r.overflow_penalty_s is not None or r.max_moved is not None or r.budget.wall_left() <= LOCAL_WALL_S_PER_PAIR * len(p.origin):
        return school  # not started when it could run past the deadline
    if r.budget.exhausted(1.0 if joining else IMPROVE_SHARE):
        return school
    seats = np.maximum(p.capacity, students_at(p, school))
    before, left = _plan_cost(p, school, None), _detached_blocks(f, school)
    got, _, _ = local_search(p, school, seats, adjacency=f.adjacency, movable=movable)
    got, _, _ = chain_improve(p, got, seats, _prices(r), adjacency=f.adjacency, pinned=~movable & (school >= 0), max_passes=2)
    got, _, _ = local_search(p, got, seats, adjacency=f.adjacency, movable=movable)
    r.budget.add(LOCAL_WORK_PER_PAIR * len(p.origin))
    after = _plan_cost(p, got, None)
    logger.debug("local whole: %d -> %d, detached %d -> %d", before, after, left, _detached_blocks(f, got))
    now = _detached_blocks(f, got)
    return got if (after < before and now <= left) or (joining and now < left) else school


def movable_blocks(p: Instance, graph: BlockGraph) -> NDArray[np.bool_]:
    """Blocks a window may re-assign: a school can take them and none is a school's own block."""
    movable = ~p.connector
    movable[graph.roots[graph.roots >= 0]] = False
    return movable


def _plan_cost(p: Instance, school: NDArray[np.int64], penalty: int | None) -> int:
    """Objective of a plan: Σ students × (travel + stability penalty), plus overflow at ``penalty`` when allowed."""
    pair = pair_index(p, np.arange(len(school)), school)
    ok = (pair >= 0) & (p.demand > 0)
    cost = int((p.cost[pair[ok]] * p.demand[ok]).sum())
    if penalty is not None:
        cost += penalty * int(np.maximum(students_at(p, school) - p.capacity, 0).sum())
    return cost
