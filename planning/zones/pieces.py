"""Pieces of zones on the block adjacency graph: which blocks of a zone are cut off from its school.

A zone is whole when every one of its blocks reaches the school's own block
(its *root*) through blocks of the zone and *connectors* (blocks no school can
take: they join the zones they touch). Every function takes the plan as
``school`` (school index of each block, −1 for none), the symmetric ``(n, n)``
adjacency and the ``connector`` mask.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray
from scipy.sparse.csgraph import connected_components

from planning.zones.instance import BlockGraph, Instance, students_at
from planning.zones.repair import WorkBudget
from planning.zones.rounding import PairTable


def neighbours(adjacency: sp.csr_array, blocks: NDArray[np.int64]) -> NDArray[np.int64]:
    """Blocks adjacent to any of ``blocks`` (with repeats).

    Parameters
    ----------
    adjacency
        Symmetric block adjacency.
    blocks
        Block indices.

    Returns
    -------
    numpy.ndarray
        Indices of their neighbours, one per edge.
    """
    ptr, idx = adjacency.indptr, adjacency.indices
    if not len(blocks):
        return np.empty(0, np.int64)
    lo, hi = ptr[blocks], ptr[blocks + 1]
    counts = hi - lo
    take = np.repeat(lo - np.cumsum(np.r_[0, counts[:-1]]), counts) + np.arange(int(counts.sum()))
    return idx[take].astype(np.int64)


def connector_components(adjacency: sp.csr_array, connector: NDArray[np.bool_]) -> NDArray[np.int64]:
    """Label of each connector block's connected group of connectors (−1 for other blocks).

    Parameters
    ----------
    adjacency
        Symmetric block adjacency.
    connector
        Blocks in no zone that join the zones they touch.

    Returns
    -------
    numpy.ndarray
        ``(n,)`` labels ``0 … k−1`` on connectors, −1 elsewhere.
    """
    n = len(connector)
    coo = adjacency.tocoo()
    keep = connector[coo.row] & connector[coo.col]
    g = sp.coo_array((np.ones(int(keep.sum()), bool), (coo.row[keep], coo.col[keep])), shape=(n, n))
    _, label = connected_components(g, directed=False)
    out = np.full(n, -1, np.int64)
    if connector.any():
        _, out[connector] = np.unique(label[connector], return_inverse=True)
    return out


def detached_pieces(
    school: NDArray[np.int64],
    adjacency: sp.csr_array,
    roots: NDArray[np.int64],
    connector: NDArray[np.bool_],
    *,
    group: NDArray[np.int64] | None = None,
) -> list[tuple[int, NDArray[np.int64]]]:
    """Pieces of zones not attached to their school's root block.

    Two blocks of a zone are in one piece when a path joins them through blocks
    of the zone and connectors. A piece is attached when it holds the root, or
    borders it, or reaches it through connectors (a root that is a connector).
    Computed in one pass: each group of connectors is copied once per zone
    touching it, and the copies join only that zone's blocks (so each connected
    component of that graph lies in one zone).

    Parameters
    ----------
    school
        School index of each block (−1: in no zone).
    adjacency
        Symmetric block adjacency.
    roots
        Root block of each school (−1: none; that school's pieces are not checked).
    connector
        Blocks in no zone that join the zones they touch (``school`` is −1 there).
    group
        :func:`connector_components` of ``adjacency`` and ``connector`` when known (computed otherwise).

    Returns
    -------
    list of (school, blocks)
        Detached pieces (blocks sorted), sorted by school then first block.
    """
    n = len(school)
    coo = adjacency.tocoo()
    r, c = coo.row.astype(np.int64), coo.col.astype(np.int64)
    same = (school[r] == school[c]) & (school[r] >= 0)
    if group is None:
        group = connector_components(adjacency, connector)
    hub = (school[r] >= 0) & connector[c]
    # one node per (connector group, zone) touching it
    m = np.int64(max(int(school.max(initial=-1)) + 1, 1))
    key = group[c[hub]] * m + school[r[hub]]
    root_hubs = [(int(group[rt]) * m + j) for j, rt in enumerate(roots.tolist()) if rt >= 0 and connector[rt]]
    keys, hub_node = np.unique(np.r_[key, np.asarray(root_hubs, np.int64)], return_inverse=True)
    hub_node = hub_node[: len(key)]
    rows = np.r_[r[same], r[hub]]
    cols = np.r_[c[same], n + hub_node]
    size = n + len(keys)
    g = sp.coo_array((np.ones(len(rows), bool), (rows, cols)), shape=(size, size))
    count, label = connected_components(g, directed=False)

    attached = np.zeros(count, bool)
    for j, rt in enumerate(roots.tolist()):
        if rt < 0:
            continue
        if school[rt] == j:
            attached[label[rt]] = True
        if connector[rt]:
            k = int(np.searchsorted(keys, int(group[rt]) * m + j))
            attached[label[n + k]] = True
        near = adjacency.indices[adjacency.indptr[rt] : adjacency.indptr[rt + 1]]
        attached[label[near[school[near] == j]]] = True
    assigned = np.flatnonzero(school >= 0)
    lost = assigned[(roots[school[assigned]] >= 0) & ~attached[label[assigned]]]
    if not len(lost):
        return []
    # a component lies in one zone: its blocks, in block order, are one piece
    lost = lost[np.argsort(label[lost], kind="stable")]
    cut = np.flatnonzero(np.diff(label[lost])) + 1
    out = [(int(school[blocks[0]]), blocks.astype(np.int64)) for blocks in np.split(lost, cut)]
    return sorted(out, key=lambda t: (t[0], int(t[1][0])))


def piece_border(
    piece: NDArray[np.int64], adjacency: sp.csr_array, connector: NDArray[np.bool_]
) -> NDArray[np.int64]:
    """Blocks one of which the zone must hold for ``piece`` to reach anything else.

    The piece grows through the connectors it touches (they join it to whatever
    they touch); its border is every non-connector block next to that region.

    Parameters
    ----------
    piece
        Blocks of one piece.
    adjacency
        Symmetric block adjacency.
    connector
        Blocks in no zone that join the zones they touch.

    Returns
    -------
    numpy.ndarray
        Sorted block indices, none in ``piece`` and none a connector.
    """
    piece = np.asarray(piece, np.int64)
    region = piece
    nb = np.unique(neighbours(adjacency, piece))
    touched = nb[connector[nb]]
    if len(touched):
        # every connector reachable from the piece through connectors
        group = connector_components(adjacency, connector)
        reach = np.flatnonzero(np.isin(group, np.unique(group[touched])))
        region = np.union1d(piece, reach)
        nb = np.unique(neighbours(adjacency, region))
    nb = np.setdiff1d(nb, region)
    return nb[~connector[nb]]


def pairs_to(p: PairTable, blocks: NDArray[np.int64], school: int) -> NDArray[np.int64]:
    """Pair index of each of a few blocks with one school, −1 where out of reach."""
    out = np.full(len(blocks), -1, np.int64)
    for k, i in enumerate(blocks.tolist()):
        hit = np.flatnonzero(p.dest[p.start[i] : p.start[i + 1]] == school)
        if len(hit):
            out[k] = p.start[i] + hit[0]
    return out


#: Chooses the zone a detached piece goes to: ``(piece, its zone, bordering zones in index order, loads)`` to a zone,
#: or −1 to leave the piece where it is.
PieceTarget = Callable[[NDArray[np.int64], int, list[int], NDArray[np.int64]], int]


def attach_pieces(
    p: Instance, school: NDArray[np.int64], graph: BlockGraph, choose: PieceTarget, *, rounds: int | None,
    only_empty: bool = False,
) -> tuple[NDArray[np.int64], int, int, int]:
    """Hand detached pieces whole to bordering zones, round after round, until a round moves none (or ``rounds``).

    Moving a detached piece into a zone it borders (at a block of an attached
    piece, or through connectors) disconnects nothing, so every move removes a
    piece; pieces bordering only other pieces wait for a later round. ``choose``
    picks each piece's zone; with ``only_empty``, only pieces without students
    move. Returns the plan, the pieces moved, the searches for pieces made (the
    work) and the students in the pieces the last round left detached.
    """
    school = school.copy()
    moved_total = searches = 0
    pieces: list[tuple[int, NDArray[np.int64]]] = []
    detached = np.zeros(len(school), bool)
    moved = True
    while moved and (rounds is None or searches < rounds):
        pieces = detached_pieces(school, graph.adjacency, graph.roots, p.connector)
        searches += 1
        if only_empty:
            pieces = [(j, piece) for j, piece in pieces if not p.demand[piece].any()]
        detached = np.zeros(len(school), bool)
        for _, piece in pieces:
            detached[piece] = True
        load = students_at(p, school)
        moved = False
        for j, piece in pieces:
            border = piece_border(piece, graph.adjacency, p.connector)
            k = choose(piece, j, sorted({int(k) for k in school[border[~detached[border]]].tolist() if k >= 0 and k != j}), load)
            if k >= 0:
                need = int(p.demand[piece].sum())
                school[piece] = k
                load[k] += need
                load[j] -= need
                detached[piece] = False
                moved, moved_total = True, moved_total + 1
    return school, moved_total, searches, sum(int(p.demand[pc].sum()) for _, pc in pieces if detached[pc].all())


class Walls:
    """Which blocks no zone can hold whole, school by school as asked (each school's search done once).

    Proof: every block a school can take belongs to the zone of one such
    school, and a whole zone joins it to that school's own block through
    blocks of the zone (each in the school's reach, none another school's own
    block) or connectors. A block with no such path to any school it can take
    fits in no plan of whole zones, with these travel limits: it stays a
    detached piece whatever the time limit, and the contiguity pass stops
    trying to join it.

    Parameters
    ----------
    p
        The instance (pairs, connectors).
    graph
        Block adjacency and each school's own block.
    """

    def __init__(self, p: Instance, graph: BlockGraph) -> None:
        self.p, self.graph = p, graph
        self._joined: dict[int, NDArray[np.bool_] | None] = {}
        self._pieces: dict[bytes, int | None] = {}  # the answer depends on the blocks alone, not on the plan

    def searches(self) -> int:
        """Schools searched so far (the work done: about one search for pieces each)."""
        return len(self._joined)

    def charge(self, budget: WorkBudget, done: int) -> int:
        """Charge the searches made since ``done`` were counted to ``budget``; the count now."""
        now = self.searches()
        for _ in range(now - done):
            budget.add_pieces(len(self.p.demand), self.graph.adjacency.nnz)
        return now

    def joined(self, k: int) -> NDArray[np.bool_] | None:
        """Blocks joined to school ``k``'s own block through blocks ``k`` can take or connectors (``None``: no own block)."""
        if k not in self._joined:
            self._joined[k] = _joined_to_root(self.p, self.graph, k)
        return self._joined[k]

    def walled_off(self, piece: NDArray[np.int64]) -> int | None:
        """The first block of ``piece`` no zone can hold whole, or ``None``."""
        key = np.ascontiguousarray(piece, np.int64).tobytes()
        if key not in self._pieces:
            self._pieces[key] = self._first_walled(piece)
        return self._pieces[key]

    def _first_walled(self, piece: NDArray[np.int64]) -> int | None:
        p = self.p
        for b in piece[~p.connector[piece]].tolist():
            schools = p.dest[p.start[b] : p.start[b + 1]].tolist()
            if schools and all(self._walls(int(k), b) for k in schools):
                return int(b)
        return None

    def _walls(self, k: int, b: int) -> bool:
        joined = self.joined(k)
        return joined is not None and not joined[b]


def _joined_to_root(p: Instance, graph: BlockGraph, k: int) -> NDArray[np.bool_] | None:
    """Blocks joined to school ``k``'s own block through blocks ``k`` can take or connectors (``None``: no own block).

    Another school's own block is never passable: it belongs to that school's zone.
    """
    root = int(graph.roots[k]) if k < len(graph.roots) else -1
    if root < 0:
        return None
    passable = p.connector.copy()
    passable[p.origin[p.dest == k]] = True
    others = graph.roots[(graph.roots >= 0) & (np.arange(len(graph.roots)) != k)]
    passable[others] = False
    passable[root] = True
    idx = np.flatnonzero(passable)
    _, labels = connected_components(graph.adjacency[idx][:, idx], directed=False)
    joined = np.zeros(len(p.demand), bool)
    joined[idx[labels == labels[np.searchsorted(idx, root)]]] = True
    return joined
