"""Contiguity of catchment zones on the block adjacency graph: pure functions on arrays.

A zone is whole when every one of its blocks reaches the school's own block
(its *root*) through blocks of the zone and *connectors*. Connectors are the
blocks that belong to no zone because no school can take them (beyond the
travel cap, or outside every township school's reach, with or without
students): they are in no zone, so a zone that touches its other part through
them is still one zone with a gap no school serves. Blocks with no students
but a school in reach are ordinary members (they are drawn in a zone); they
cost nothing, so the repair moves them freely to whichever bordering zone keeps
the zones whole.

Every function takes the plan as ``school`` (school index of each block, −1
for none), the symmetric ``(n, n)`` adjacency and the ``connector`` mask.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp
from numpy.typing import NDArray
from scipy.sparse.csgraph import connected_components


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
) -> list[tuple[int, NDArray[np.int64]]]:
    """Pieces of zones not attached to their school's root block.

    Two blocks of a zone are in one piece when a path joins them through blocks
    of the zone and connectors. A piece is attached when it holds the root, or
    borders it, or reaches it through connectors (a root that is a connector).
    Computed in one pass: each group of connectors is copied once per zone
    touching it, and the copies join only that zone's blocks.

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

    Returns
    -------
    list of (school, blocks)
        Detached pieces (blocks sorted), sorted by school then first block.
    """
    n = len(school)
    coo = adjacency.tocoo()
    r, c = coo.row.astype(np.int64), coo.col.astype(np.int64)
    same = (school[r] == school[c]) & (school[r] >= 0)
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
    _, label = connected_components(g, directed=False)

    attached: set[tuple[int, int]] = set()
    for j, rt in enumerate(roots.tolist()):
        if rt < 0:
            continue
        if school[rt] == j:
            attached.add((j, int(label[rt])))
        if connector[rt]:
            k = int(np.searchsorted(keys, int(group[rt]) * m + j))
            attached.add((j, int(label[n + k])))
        near = adjacency.indices[adjacency.indptr[rt] : adjacency.indptr[rt + 1]]
        for b in near[school[near] == j].tolist():
            attached.add((j, int(label[b])))
    out: list[tuple[int, NDArray[np.int64]]] = []
    assigned = np.flatnonzero(school >= 0)
    if not len(assigned):
        return out
    frame = pd.DataFrame({"school": school[assigned], "label": label[assigned], "block": assigned})
    for (j, lab), blocks in frame.groupby(["school", "label"], sort=True)["block"]:
        j = int(j)
        if roots[j] < 0 or (j, int(lab)) in attached:
            continue
        out.append((j, np.sort(blocks.to_numpy(np.int64))))
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


def _unit_cost(
    start: NDArray[np.int64], dest: NDArray[np.int64], cost: NDArray[np.int64], i: int, k: int
) -> int | None:
    """Cost per student of block ``i`` at school ``k`` (``None``: out of reach)."""
    lo, hi = int(start[i]), int(start[i + 1])
    hit = np.flatnonzero(dest[lo:hi] == k)
    return int(cost[lo + hit[0]]) if len(hit) else None


def _one_piece(blocks: NDArray[np.int64], adjacency: sp.csr_array) -> bool:
    """Whether the blocks form one piece of the adjacency graph on their own."""
    if len(blocks) <= 1:
        return True
    sub = adjacency[blocks][:, blocks]
    return connected_components(sub, directed=False)[0] == 1


def _exits(
    k: int,
    short: int,
    school: NDArray[np.int64],
    adjacency: sp.csr_array,
    roots: NDArray[np.int64],
    detached: NDArray[np.bool_],
    demand: NDArray[np.int64],
    start: NDArray[np.int64],
    dest: NDArray[np.int64],
    cost: NDArray[np.int64],
) -> list[tuple[int, int, int]]:
    """Single moves out of zone ``k`` freeing at least ``short`` seats: ``(extra cost, block, to)``, cheapest first."""
    mine = np.flatnonzero((school == k) & ~detached)
    edge = mine[(demand[mine] >= short) & (mine != roots[k])]
    out = []
    for b in edge.tolist():
        around = adjacency.indices[adjacency.indptr[b] : adjacency.indptr[b + 1]]
        around = around[~detached[around] & (school[around] >= 0) & (school[around] != k)]
        if not len(around):
            continue
        own = _unit_cost(start, dest, cost, b, k)
        if own is None:
            continue
        for l in np.unique(school[around]).tolist():
            to = _unit_cost(start, dest, cost, b, l)
            if to is not None:
                out.append((int(demand[b]) * (to - own), b, l))
    return sorted(out)


def swap_in(
    piece: NDArray[np.int64],
    school: NDArray[np.int64],
    *,
    adjacency: sp.csr_array,
    roots: NDArray[np.int64],
    detached: NDArray[np.bool_],
    demand: NDArray[np.int64],
    room: NDArray[np.int64],
    start: NDArray[np.int64],
    dest: NDArray[np.int64],
    cost: NDArray[np.int64],
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
    demand
        Students per block.
    room
        Free seats per school (negative: over capacity).
    start, dest, cost
        Reachable pairs sorted by block: first pair of each block, school and
        unit cost of each pair.
    width
        Second links tried per zone (cheapest first).

    Returns
    -------
    list of (blocks, school) or None
        The moves, in order (the piece first); ``None`` when no chain is found.
    """
    j = int(school[piece[0]])
    need = int(demand[piece].sum())
    nb = np.unique(neighbours(adjacency, piece))
    nb = nb[~np.isin(nb, piece) & ~detached[nb] & (school[nb] >= 0)]
    args = (school, adjacency, roots, detached, demand, start, dest, cost)

    def whole_without(zone: int, out: int, add: NDArray[np.int64]) -> bool:
        mine = np.flatnonzero((school == zone) & ~detached)
        return _one_piece(np.union1d(mine[mine != out], add), adjacency)

    best: tuple[int, list[tuple[NDArray[np.int64], int]]] | None = None
    for k in np.unique(school[nb]).tolist():
        if k == j:
            continue
        here = [_unit_cost(start, dest, cost, i, j) for i in piece.tolist()]
        there = [_unit_cost(start, dest, cost, i, k) for i in piece.tolist()]
        if any(t is None for t in there):
            continue
        pairs = zip(piece.tolist(), there, here, strict=True)
        delta = sum(int(demand[i]) * (int(t) - int(h or 0)) for i, t, h in pairs)
        if best is not None and delta >= best[0]:
            continue
        short = need - int(room[k])
        if short <= 0:
            best = (delta, [(piece, k)])
            continue
        tried = 0
        for extra, b, l in _exits(k, short, *args):
            total = delta + extra
            if best is not None and total >= best[0]:
                break
            free = int(room[l]) + (need if l == j else 0)
            if int(demand[b]) <= free:
                if whole_without(k, b, piece):
                    best = (total, [(piece, k), (np.array([b]), l)])
                    break
                continue
            if tried >= width or l == j:
                continue
            tried += 1
            if not whole_without(k, b, piece):
                continue
            for extra2, b2, m in _exits(l, int(demand[b]) - free, *args):
                if best is not None and total + extra2 >= best[0]:
                    break
                if m in (k, j) or b2 == b or int(demand[b2]) > int(room[m]):
                    continue
                if whole_without(l, b2, np.array([b])):
                    best = (total + extra2, [(piece, k), (np.array([b]), l), (np.array([b2]), m)])
                    break
    return None if best is None else best[1]
