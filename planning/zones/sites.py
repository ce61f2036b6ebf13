"""Schools on one site: co-located schools of a level are zoned as one site, then the site's zone is split.

Schools that share their own block and reach every block in the same time
(several schools on one campus, or schools geocoded to one point) are
interchangeable for travel: any plan can swap their blocks at no cost. The
relaxation then splits their pupils among them at random, zones fall apart
into pieces that all have to touch the one shared block, and the contiguity
pass searches the many equal plans at length (seconds on a toy instance, a
minute on a county, zones still in pieces). So the zoning solve sees one
*site* per group of such *twins* (:func:`find_sites`): their seats added, one
own block, the travel of one of them (:func:`merge`). The site's zone is then
split among its schools (:func:`split`): each school gets a first block (the
site's block, or one bordering it), and the zone is zoned again among the
site's schools with travel counted in hops from those blocks, so each part is
whole, touches the site's block and fits its seats, keeping today's school
where that costs little. The travel of the plan is the sites' plan's, and so
is the bound: a plan of sites is never dearer than the plan of schools it
stands for (moves within a site are free there), so its bound holds for the
schools too.
"""

from __future__ import annotations

import dataclasses
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from geo.travel import TravelMatrix
from planning.zones.instance import BlockGraph, Instance, Reach


@dataclass(frozen=True)
class Sites:
    """Schools grouped into sites.

    Attributes
    ----------
    site
        Site of each school.
    members
        Schools of each site, ascending; the first stands for the site.
    """

    site: NDArray[np.int64]
    members: tuple[NDArray[np.int64], ...]

    @property
    def leaders(self) -> NDArray[np.int64]:
        """The school standing for each site (its first)."""
        return np.array([int(k[0]) for k in self.members], np.int64)


def _column_keys(travel: TravelMatrix, schools: NDArray[np.int64]) -> dict[int, bytes]:
    """A key per school equal for schools reaching the same blocks in the same time and distance."""
    order = np.lexsort((travel.origin, travel.dest))
    dest = travel.dest[order]
    start = np.searchsorted(dest, np.arange(len(travel.dest_ids) + 1))
    keys = {}
    for j in schools.tolist():
        sl = order[start[j] : start[j + 1]]
        keys[j] = np.r_[travel.origin[sl], travel.time_s[sl], travel.dist_m[sl]].astype(np.int64).tobytes()
    return keys


def find_sites(travel: TravelMatrix, reach: Reach, graph: BlockGraph) -> Sites | None:
    """Groups of twin schools: one root block, the same travel to every block, boarding and township.

    Returns
    -------
    Sites or None
        ``None`` when no two schools are twins.
    """
    roots = np.asarray(graph.roots, np.int64)
    m = len(roots)
    counts = np.bincount(roots[roots >= 0], minlength=1)
    shared = np.flatnonzero((roots >= 0) & (counts[np.maximum(roots, 0)] > 1))
    if not len(shared):
        return None
    columns = _column_keys(travel, shared)
    boards = np.zeros(m, bool) if reach.school_boards is None else np.asarray(reach.school_boards, bool)
    township = np.full(m, "", object) if reach.school_township is None else np.asarray(reach.school_township, object)
    site = np.arange(m, dtype=np.int64)
    first: dict[tuple[int, bool, str, bytes], int] = {}
    for j in shared.tolist():
        key = (int(roots[j]), bool(boards[j]), str(township[j]), columns[j])
        site[j] = first.setdefault(key, j)
    if (site == np.arange(m)).all():
        return None
    _, site = np.unique(site, return_inverse=True)
    members = tuple(np.flatnonzero(site == s) for s in range(int(site.max()) + 1))
    return Sites(site=site.astype(np.int64), members=members)


@dataclass(frozen=True)
class SiteInstance:
    """The zoning inputs with one school per site."""

    travel: TravelMatrix
    capacity: NDArray[np.int64]
    current: NDArray[np.int64] | None
    reach: Reach
    graph: BlockGraph


def merge(
    sites: Sites,
    travel: TravelMatrix,
    capacity: NDArray[np.int64],
    current: NDArray[np.integer] | None,
    reach: Reach,
    graph: BlockGraph,
) -> SiteInstance:
    """The inputs with each site as one school: its leader's travel and root, its members' seats added.

    A block's current school becomes its site (a closed or other school, one
    past the last, stays one past the last site).
    """
    lead = sites.leaders
    merged = travel.reindex(travel.origin_ids, np.asarray(travel.dest_ids)[lead])
    seats = np.bincount(sites.site, weights=np.asarray(capacity, np.int64), minlength=len(lead)).astype(np.int64)
    cur = None
    if current is not None:
        to_site = np.r_[sites.site, len(lead)]
        c = np.asarray(current, np.int64)
        cur = np.where(c >= 0, to_site[np.maximum(c, 0)], c)
    site_reach = dataclasses.replace(
        reach,
        school_boards=None if reach.school_boards is None else np.asarray(reach.school_boards, bool)[lead],
        school_township=None if reach.school_township is None else np.asarray(reach.school_township, object)[lead],
    )
    return SiteInstance(merged, seats, cur, site_reach, BlockGraph(graph.adjacency, np.asarray(graph.roots)[lead]))


#: Seconds of travel per hop of block adjacency in the split of a site's zone: each
#: school's part is the blocks nearest (in hops) to its first block, as zones are
#: nearest to their schools.
HOP_S = 60

#: The zoning solve a split uses: ``(travel, demand, seats, current, graph)`` → school of each block.
SplitSolve = Callable[
    [TravelMatrix, NDArray[np.int64], NDArray[np.int64], NDArray[np.int64], BlockGraph], NDArray[np.int64]
]


def split(
    p: Instance, site_school: NDArray[np.int64], sites: Sites, graph: BlockGraph, solve: SplitSolve
) -> NDArray[np.int64]:
    """School of each block from its site: each site's zone split among its schools.

    Each school of a site gets a first block: the site's own block for one
    (today's school there, else the largest), a block bordering it for each
    other (today's school there, else the one farthest from those taken, the
    largest school first). The site's zone is then zoned among the site's
    schools by ``solve`` with these first blocks as the schools' own blocks
    and travel counted in hops from them (:data:`HOP_S`): whole parts, each
    holding a block that borders the site's block, within seats, today's
    school kept where that costs little.

    Parameters
    ----------
    p
        The instance of the schools (not of the sites).
    site_school
        Site of each block (−1: none).
    sites
        The sites.
    graph
        Block adjacency and each school's root block.
    solve
        The zoning solve of a site's zone (contiguous, capacity as the caller's options say).

    Returns
    -------
    numpy.ndarray
        School of each block (−1: none).
    """
    lead = sites.leaders
    school = np.where(site_school >= 0, lead[np.maximum(site_school, 0)], -1)
    for s, members in enumerate(sites.members):
        blocks = np.flatnonzero(site_school == s)
        if len(members) > 1 and len(blocks):
            school[blocks] = _split_site(p, blocks, members, graph, solve)
    return school


def _hops(ptr: NDArray[np.int32], idx: NDArray[np.int32], root: int, zone: set[int]) -> dict[int, int]:
    """Hops from ``root`` to each block of the zone it reaches through zone blocks."""
    hops, queue = {root: 0}, deque([root])
    while queue:
        b = queue.popleft()
        for v in idx[ptr[b] : ptr[b + 1]].tolist():
            if v in zone and v not in hops:
                hops[v] = hops[b] + 1
                queue.append(v)
    return hops


def _first_blocks(p: Instance, members: NDArray[np.int64], zone: set[int], graph: BlockGraph) -> dict[int, int]:
    """School → its first block: the site's block, or one bordering it (see :func:`split`)."""
    ptr, idx = graph.adjacency.indptr, graph.adjacency.indices
    root = int(graph.roots[members[0]])
    ring = sorted({int(v) for v in idx[ptr[root] : ptr[root + 1]].tolist()} & zone)
    order = sorted((int(k) for k in members), key=lambda k: (-int(p.capacity[k]), k))
    first: dict[int, int] = {}
    if root in zone:
        today = int(p.current[root])
        first[today if today in order else order[0]] = root
    far = {v: _hops(ptr, idx, v, zone) for v in ring}
    for k in order:
        free = [v for v in ring if v not in first.values()]
        if k in first or not free:
            continue

        def rank(v: int, k: int = k) -> tuple[bool, int, int]:
            gap = min((far[v].get(t, len(zone)) for t in first.values() if t != root), default=0)
            return (int(p.current[v]) == k, gap, -v)

        first[k] = max(free, key=rank)
    return first


def _split_site(
    p: Instance, blocks: NDArray[np.int64], members: NDArray[np.int64], graph: BlockGraph, solve: SplitSolve
) -> NDArray[np.int64]:
    """School of each block of one site's zone (``blocks``, ascending), zoned among the site's schools."""
    ptr, idx = graph.adjacency.indptr, graph.adjacency.indices
    zone = set(blocks.tolist())
    first = _first_blocks(p, members, zone, graph)
    local = {int(b): i for i, b in enumerate(blocks.tolist())}
    origin, dest, hops = [], [], []
    for j, k in enumerate(members.tolist()):
        if k in first:
            reach = _hops(ptr, idx, first[k], zone)
            origin.append(np.arange(len(blocks)))
            dest.append(np.full(len(blocks), j))
            hops.append(np.array([reach.get(int(b), len(blocks)) for b in blocks.tolist()]))
    o, d, h = np.concatenate(origin), np.concatenate(dest), np.concatenate(hops)
    order = np.lexsort((d, o))
    time_s = (h[order] * HOP_S).astype(np.int32)
    travel = TravelMatrix(
        origin_ids=p.block_ids[blocks], dest_ids=p.school_ids[members], origin=o[order].astype(np.int32),
        dest=d[order].astype(np.int32), time_s=time_s, dist_m=time_s, mode="hops",
    )
    where = {int(k): j for j, k in enumerate(members.tolist())}
    current = np.array([where.get(int(c), -1) for c in p.current[blocks].tolist()], np.int64)
    sub = graph.adjacency[blocks][:, blocks]
    roots = np.array([local[first[int(k)]] if int(k) in first else -1 for k in members], np.int64)
    got = solve(travel, p.demand[blocks], p.capacity[members], current, BlockGraph(sp.csr_array(sub), roots))
    return np.where(got >= 0, members[np.maximum(got, 0)], members[0])
